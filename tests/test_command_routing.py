"""Every command method: the wire name, the arguments, and the routing keywords
sent in standalone and in cluster mode (a recording fake ``execute``).

Table-driven: a method not named in the tables below is expected to send its
own name upper-cased and, in cluster mode, to route by ``args[0]``.
"""
import asyncio
import inspect

import pytest

from pyredis import commands

# method -> how it is routed in cluster mode: an int is the position of the
# shard key; "explicit" passes the caller's shard_key=/sock=; ("or explicit", n)
# routes by args[n] unless shard_key=/sock= are given; "standalone" refuses
# cluster mode (NotImplementedError).
KEY0 = 0
OR_EXPLICIT = "or explicit"
ROUTING = {
    "bitop": 1,     # args[0] is the operation, args[1] the destination key
    # args[0] is the subcommand (fixed: upstream sent DEL in cluster mode)
    "object": (OR_EXPLICIT, 1),
    "wait": (OR_EXPLICIT, 0),  # upstream's key: numreplicas
    "echo": "explicit", "ping": "explicit", "keys": "explicit", "scan": "explicit",
    "randomkey": "explicit", "eval": "explicit", "evalsha": "explicit",
    "script_debug": "explicit", "script_exists": "explicit", "script_flush": "explicit",
    "script_kill": "explicit", "script_load": "explicit", "discard": "explicit",
    "exec": "explicit", "multi": "explicit", "unwatch": "explicit",
    "publish": "standalone", "migrate": "standalone",
}
# method -> wire words, where they are not the method name upper-cased.
WIRE = {
    "delete": (b"DEL",), "sunoinstore": (b"SUNIONSTORE",),
    "zremrangebyscrore": (b"ZREMRANGEBYSCORE",),
    "script_debug": (b"SCRIPT", b"DEBUG"), "script_exists": (b"SCRIPT", b"EXISTS"),
    "script_flush": (b"SCRIPT", b"FLUSH"), "script_kill": (b"SCRIPT", b"KILL"),
    "script_load": (b"SCRIPT", b"LOAD"),
}
# upstream's misspelt names -> the correctly spelt method they are
ALIASES = {"sunoinstore": "sunionstore", "zremrangebyscrore": "zremrangebyscore"}
# Methods that take no command arguments, only the routing keywords (upstream's ping).
NO_ARGUMENTS = {"ping"}

# Every mixin whose methods go through execute (Subscribe writes: tested below).
MIXINS = [getattr(commands, name) for name in commands.__all__
          if name not in ("BaseCommand", "Subscribe")]


def methods(mixin):
    return sorted(name for name, value in vars(mixin).items()
                  if not name.startswith("_") and callable(value))


ALL = [(mixin, name) for mixin in MIXINS for name in methods(mixin)]
NAMES = {name for _, name in ALL}
IDS = ["%s.%s" % (mixin.__name__, name) for mixin, name in ALL]


def recorder(mixin, cluster, reply="reply"):
    class Recorder(mixin):
        _cluster = cluster

        def __init__(self):
            self.calls = []

        def execute(self, *args, **kwargs):
            self.calls.append((args, kwargs))
            return reply

    return Recorder()


def wire(name):
    return WIRE.get(name, (name.upper().encode(),))


def test_tables_name_real_methods():
    assert sorted((set(ROUTING) | set(WIRE) | set(ALIASES) | set(ALIASES.values())) - NAMES) == []


ARGUMENT_METHODS = [(m, n) for m, n in ALL if n not in NO_ARGUMENTS]


@pytest.mark.parametrize("mixin, name", ARGUMENT_METHODS,
                         ids=["%s.%s" % (m.__name__, n) for m, n in ARGUMENT_METHODS])
def test_standalone_mode_sends_name_and_args_only(mixin, name):
    obj = recorder(mixin, cluster=False)
    assert getattr(obj, name)("a", b"b", 3) == "reply"
    assert getattr(obj, name)() == "reply"  # no argument check of ours: the server answers
    assert obj.calls == [(wire(name) + ("a", b"b", 3), {}), (wire(name), {})]


@pytest.mark.parametrize("cluster", [False, True])
def test_ping_takes_only_routing_keywords_as_upstream(cluster):
    """``ping(shard_key=None, sock=None)``: ``ping("x")`` is a shard key, never sent."""
    obj = recorder(commands.Connection, cluster=cluster)
    assert obj.ping("x") == "reply"
    obj.ping(None, "host_1")
    obj.ping(sock="host_2")
    obj.ping()
    if cluster:
        assert obj.calls == [((b"PING",), {"shard_key": "x", "sock": None}),
                             ((b"PING",), {"shard_key": None, "sock": "host_1"}),
                             ((b"PING",), {"shard_key": None, "sock": "host_2"}),
                             ((b"PING",), {"shard_key": None, "sock": None})]
    else:
        assert obj.calls == [((b"PING",), {})] * 4
    with pytest.raises(TypeError):
        obj.ping("x", "host_1", "extra")


@pytest.mark.parametrize("mixin, name", ALL, ids=IDS)
def test_cluster_mode_routing(mixin, name):
    obj = recorder(mixin, cluster=True)
    method = getattr(obj, name)
    how = ROUTING.get(name, KEY0)
    if how == "standalone":
        with pytest.raises(NotImplementedError, match=wire(name)[0].decode()):
            method("a")
        assert obj.calls == []
    elif how == "explicit":
        if name in NO_ARGUMENTS:
            return  # test_ping_takes_only_routing_keywords_as_upstream
        assert method("a", shard_key="k", sock="host_1") == "reply"
        method("b")
        method(sock="host_2")
        assert obj.calls == [(wire(name) + ("a",), {"shard_key": "k", "sock": "host_1"}),
                             (wire(name) + ("b",), {"shard_key": None, "sock": None}),
                             (wire(name), {"shard_key": None, "sock": "host_2"})]
    elif isinstance(how, tuple):
        position = how[1]
        assert method("a", "b", "c") == "reply"
        method("a", shard_key="k")
        method("a", "b", sock="host_1")
        assert obj.calls == [
            (wire(name) + ("a", "b", "c"), {"shard_key": ("a", "b", "c")[position]}),
            (wire(name) + ("a",), {"shard_key": "k", "sock": None}),
            (wire(name) + ("a", "b"), {"shard_key": None, "sock": "host_1"})]
        with pytest.raises(IndexError, match=wire(name)[0].decode()):
            method(*["x"] * position)  # one argument short of the key, no keywords
        assert len(obj.calls) == 3
    else:
        assert method("a", "b", "c") == "reply"
        assert obj.calls == [(wire(name) + ("a", "b", "c"), {"shard_key": ("a", "b", "c")[how]})]
        with pytest.raises(IndexError, match=wire(name)[0].decode()):
            method(*["x"] * how)  # one argument short of the key
        assert len(obj.calls) == 1  # nothing sent
        with pytest.raises(TypeError):
            method("a", "b", shard_key="other")  # keyed commands take no routing keywords


@pytest.mark.parametrize("name", sorted(n for n, how in ROUTING.items()
                                         if how == "explicit" or isinstance(how, tuple)))
def test_explicit_keywords_are_ignored_in_standalone_mode(name):
    mixin = next(m for m, n in ALL if n == name)
    obj = recorder(mixin, cluster=False)
    args = () if name in NO_ARGUMENTS else ("a",)
    getattr(obj, name)(*args, shard_key="k", sock="h_1")
    assert obj.calls == [(wire(name) + args, {})]


def test_missing_key_messages_say_which_argument():
    obj = recorder(commands.String, cluster=True)
    with pytest.raises(IndexError, match=r"BITOP .*at least 2 arguments.*args\[1\]"):
        obj.bitop("AND")
    with pytest.raises(IndexError, match="GET in cluster mode needs a key"):
        obj.get()


@pytest.mark.parametrize("alias, name", sorted(ALIASES.items()))
def test_misspelt_names_are_aliases(alias, name):
    mixin = next(m for m, n in ALL if n == name)
    assert getattr(mixin, alias) is getattr(mixin, name)
    assert getattr(mixin, name).__name__ == name


@pytest.mark.parametrize("mixin, name", ALL, ids=IDS)
def test_methods_have_their_names_and_docs(mixin, name):
    """First line: the usual call; then what is sent and how cluster mode routes it."""
    function = vars(mixin)[name]
    real_name = ALIASES.get(name, name)
    assert function.__name__ == real_name
    call, blank, sent, blank2, routing = function.__doc__.split("\n", 4)
    assert blank == blank2 == ""
    assert call.startswith(real_name + "(") and call.endswith(")")
    assert sent.startswith("Sends ``%s" % b" ".join(wire(name)).decode()) and sent.endswith("``.")
    how = ROUTING.get(name, KEY0)
    keywords = call.endswith("shard_key=None, sock=None)")
    if how == "standalone":
        assert routing == "Not in cluster mode: raises NotImplementedError there." and not keywords
    elif how == "explicit":
        assert routing.startswith("In cluster mode: sent to the node serving ``shard_key``")
        assert keywords
    elif isinstance(how, tuple):
        word = sent[len("Sends ``"):-len("``.")].split()[how[1] + 1]
        assert routing.startswith("In cluster mode: routed by ``%s`` (argument %d), or by "
                                  "``shard_key``/``sock``" % (word, how[1]))
        assert keywords
    else:
        word = sent[len("Sends ``"):-len("``.")].split()[how + 1]
        assert routing == "In cluster mode: routed by ``%s`` (argument %d); IndexError without " \
                          "it." % (word, how)
        assert not keywords


@pytest.mark.parametrize("method, doc", [
    (commands.String.get, "get(key)\n\nSends ``GET key``.\n\n"
                          "In cluster mode: routed by ``key`` (argument 0); IndexError without it."),
    (commands.String.bitop, "bitop(operation, destkey, key, ...)\n\n"
                            "Sends ``BITOP operation destkey key [key ...]``.\n\n"
                            "In cluster mode: routed by ``destkey`` (argument 1); IndexError "
                            "without it."),
    (commands.List.blpop, "blpop(key, ..., timeout)\n\nSends ``BLPOP key [key ...] timeout``.\n\n"
                          "In cluster mode: routed by ``key`` (argument 0); IndexError without it."),
    (commands.Scripting.script_load, "script_load(script, shard_key=None, sock=None)\n\n"
                                     "Sends ``SCRIPT LOAD script``.\n\n"
                                     "In cluster mode: sent to the node serving ``shard_key`` "
                                     "(any key) or to node\n``sock`` (``\"host_port\"``); outside "
                                     "cluster mode both are ignored."),
    (commands.Connection.ping, "ping(shard_key=None, sock=None)\n\nSends ``PING``.\n\n"
                               "In cluster mode: sent to the node serving ``shard_key`` (any key) "
                               "or to node\n``sock`` (``\"host_port\"``); outside cluster mode "
                               "both are ignored."),
    (commands.Key.object, "object(subcommand, key, shard_key=None, sock=None)\n\n"
                          "Sends ``OBJECT subcommand key``.\n\n"
                          "In cluster mode: routed by ``key`` (argument 1), or by "
                          "``shard_key``/``sock``\nwhen given; outside cluster mode both are "
                          "ignored."),
    (commands.Publish.publish, "publish(channel, message)\n\nSends ``PUBLISH channel message``."
                               "\n\nNot in cluster mode: raises NotImplementedError there."),
    (commands.Subscribe.unsubscribe, "unsubscribe(...)\n\nSends ``UNSUBSCRIBE [channel ...]``.\n\n"
                                     "No reply is read here: the confirmations, then the "
                                     "messages, come from\n``get()``."),
    (commands.SSet.zadd, "zadd(key, ..., score, member, ...)\n\n"
                         "Sends ``ZADD key [NX|XX] [CH] [INCR] score member [score member ...]``."
                         "\n\nIn cluster mode: routed by ``key`` (argument 0); IndexError "
                         "without it."),
], ids=lambda value: getattr(value, "__name__", ""))
def test_docstring_examples(method, doc):
    assert method.__doc__ == doc


@pytest.mark.parametrize("mixin, name", ALL, ids=IDS)
def test_signatures_stay_upstreams(mixin, name):
    """``*args`` where upstream had ``*args``; the routing keywords where it had them."""
    import inspect

    params = str(inspect.signature(vars(mixin)[name]))
    how = ROUTING.get(name, KEY0)
    if name in NO_ARGUMENTS:
        assert params == "(self, shard_key=None, sock=None)"
    elif how == "explicit" or isinstance(how, tuple):
        assert params == "(self, *args, shard_key=None, sock=None)"
    else:
        assert params == "(self, *args)"


def test_a_usage_without_the_key_is_refused_when_the_class_is_built():
    from pyredis.commands import _methods

    with pytest.raises(ValueError, match="no key at argument 1"):
        _methods.keyed("get", b"GET", "key", key_position=1)
    with pytest.raises(ValueError, match="no key at argument 0"):
        _methods.keyed_or_explicit("wait", b"WAIT", "[numreplicas]", 0)


def test_fixed_from_upstream():
    assert commands.List.brpoplpush.__name__ == "brpoplpush"
    obj = recorder(commands.List, cluster=False)
    obj.brpoplpush("src", "dst", 0)
    assert obj.calls == [((b"BRPOPLPUSH", "src", "dst", 0), {})]  # upstream: BRPOPPUSH
    obj = recorder(commands.Key, cluster=True)
    obj.object("ENCODING", "k")  # upstream: DEL (data loss), and only with shard_key/sock
    obj.object("ENCODING", "k", shard_key="other")  # upstream: DEL routed by "other"
    obj.expireat("k", 100)       # upstream: bare EXPIREAT without args or shard key
    obj.wait(1, 0)               # as upstream: routed by numreplicas
    obj.wait(1, 0, shard_key="k")  # upstream: no keywords
    assert obj.calls == [((b"OBJECT", "ENCODING", "k"), {"shard_key": "k"}),
                         ((b"OBJECT", "ENCODING", "k"), {"shard_key": "other", "sock": None}),
                         ((b"EXPIREAT", "k", 100), {"shard_key": "k"}),
                         ((b"WAIT", 1, 0), {"shard_key": 1}),
                         ((b"WAIT", 1, 0), {"shard_key": "k", "sock": None})]


@pytest.mark.parametrize("cluster", [False, True])
def test_async_execute_is_returned_unawaited(cluster):
    """Async classes reuse the mixins: a method returns execute's coroutine."""
    class AsyncRecorder(commands.String, commands.Connection):
        _cluster = cluster

        async def execute(self, *args, **kwargs):
            return args, kwargs

    obj = AsyncRecorder()
    pending = obj.get("k")
    assert inspect.iscoroutine(pending)
    routing = {"shard_key": "k"} if cluster else {}
    assert asyncio.run(pending) == ((b"GET", "k"), routing)
    routing = {"shard_key": None, "sock": "h_1"} if cluster else {}
    assert asyncio.run(obj.ping(sock="h_1")) == ((b"PING",), routing)
    if cluster:
        with pytest.raises(IndexError):  # at call time, not when awaited
            obj.get()


@pytest.mark.parametrize("mixin", MIXINS, ids=lambda m: m.__name__)
def test_a_class_built_from_one_mixin_runs_through_its_own_execute(mixin):
    """As upstream: a mixin is a BaseCommand, so it brings ``_cluster`` and ``execute``."""
    class Rec(mixin):
        def execute(self, *args, **kwargs):
            return "executed", args, kwargs

    name = methods(mixin)[0]
    assert getattr(Rec(), name)("k", 1) == ("executed", wire(name) + ("k", 1), {})
    with pytest.raises(NotImplementedError):
        getattr(mixin(), name)("k")  # BaseCommand.execute

    class WithInit(mixin):
        def __init__(self):
            super().__init__()  # upstream's mixins had an __init__ taking no argument
            self.calls = []

        def execute(self, *args, **kwargs):
            self.calls.append(args)

    obj = WithInit()
    getattr(obj, name)("k")
    assert obj.calls == [wire(name) + ("k",)] and obj._cluster is False


def test_every_mixin_but_subscribe_is_a_base_command():
    assert all(issubclass(mixin, commands.BaseCommand) for mixin in MIXINS)
    assert all(mixin.__bases__ == (commands.BaseCommand,) for mixin in MIXINS)
    assert not issubclass(commands.Subscribe, commands.BaseCommand)


# Upstream's PubSubClient (Subscribe only) and SentinelClient (no mixin) are not BaseCommands.
NOT_BASE_COMMANDS = {"PubSubClient", "AsyncPubSubClient", "SentinelClient", "AsyncSentinelClient"}


@pytest.mark.parametrize("name", ["Client", "AsyncClient", "ClusterClient", "AsyncClusterClient",
                                  "HashClient", "AsyncHashClient", "PubSubClient",
                                  "AsyncPubSubClient", "SentinelClient", "AsyncSentinelClient",
                                  "Pool", "AsyncPool", "ClusterPool", "AsyncClusterPool",
                                  "HashPool", "AsyncHashPool", "SentinelPool", "AsyncSentinelPool",
                                  "SentinelHashPool", "AsyncSentinelHashPool"])
def test_clients_and_pools_are_base_commands_as_upstream(name):
    import pyredis

    cls = getattr(pyredis, name)
    assert issubclass(cls, commands.BaseCommand) is (name not in NOT_BASE_COMMANDS)
    if name not in NOT_BASE_COMMANDS:
        # The class' own execute, not BaseCommand's, is what the mixin methods reach.
        assert cls.execute is not commands.BaseCommand.execute


def test_a_pool_instance_is_a_base_command():
    import pyredis

    pool = pyredis.Pool(host="127.0.0.1", port=1)  # nothing is connected before a command
    try:
        assert isinstance(pool, commands.BaseCommand) and isinstance(pool, commands.String)
    finally:
        pool.close()


def test_base_and_subscribe_need_an_implementation():
    with pytest.raises(NotImplementedError):
        commands.BaseCommand().execute(b"PING")

    class Sub(commands.Subscribe):
        pass

    with pytest.raises(NotImplementedError):
        Sub().subscribe("ch")
    with pytest.raises(NotImplementedError):
        Sub().write(b"PING")


@pytest.mark.parametrize("cluster", [False, True])
def test_subscribe_commands_only_write(cluster):
    class Sub(commands.Subscribe):
        _cluster = cluster

        def __init__(self):
            self.written = []

        def write(self, *args):
            self.written.append(args)

    sub = Sub()
    names = sorted(n for n, v in vars(commands.Subscribe).items()
                   if not n.startswith("_") and callable(v) and n != "write")
    assert names == ["psubscribe", "punsubscribe", "subscribe", "unsubscribe"]
    for name in names:
        assert getattr(sub, name)("a", "b") is None
    getattr(sub, "unsubscribe")()
    assert sub.written == [(name.upper().encode(), "a", "b") for name in names] + [
        (b"UNSUBSCRIBE",)]


def test_mixin_matrix():
    from pyredis import Client, Pool, PubSubClient

    everything = set(MIXINS)
    assert set(Client.__mro__) >= everything and commands.Subscribe not in Client.__mro__
    assert set(Pool.__mro__) >= everything - {commands.Transaction}
    assert commands.Transaction not in Pool.__mro__ and commands.Subscribe not in Pool.__mro__
    assert set(PubSubClient.__mro__) & everything == set()
    assert commands.Subscribe in PubSubClient.__mro__
    assert not (Client._cluster or Pool._cluster or PubSubClient._cluster)


def test_build_twins_share_one_source():
    """commands/_build.pyx is _build_py.py compiled: one source, kept identical."""
    import pathlib

    folder = pathlib.Path(commands.__file__).parent
    compiled = (folder / "_build.pyx").read_text().split("\n", 1)[1]
    assert compiled == (folder / "_build_py.py").read_text()
