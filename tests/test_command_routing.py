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
# shard key; "explicit" passes the caller's shard_key=/sock=; "standalone"
# refuses cluster mode (NotImplementedError).
KEY0 = 0
ROUTING = {
    "bitop": 1,     # args[0] is the operation, args[1] the destination key
    "object": 1,    # args[0] is the subcommand (fixed: upstream sent DEL in cluster mode)
    "echo": "explicit", "ping": "explicit", "keys": "explicit", "scan": "explicit",
    "randomkey": "explicit", "wait": "explicit", "eval": "explicit", "evalsha": "explicit",
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


@pytest.mark.parametrize("mixin, name", ALL, ids=IDS)
def test_standalone_mode_sends_name_and_args_only(mixin, name):
    obj = recorder(mixin, cluster=False)
    assert getattr(obj, name)("a", b"b", 3) == "reply"
    assert getattr(obj, name)() == "reply"  # no argument check of ours: the server answers
    assert obj.calls == [(wire(name) + ("a", b"b", 3), {}), (wire(name), {})]


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
        assert method("a", shard_key="k", sock="host_1") == "reply"
        method("b")
        method(sock="host_2")
        assert obj.calls == [(wire(name) + ("a",), {"shard_key": "k", "sock": "host_1"}),
                             (wire(name) + ("b",), {"shard_key": None, "sock": None}),
                             (wire(name), {"shard_key": None, "sock": "host_2"})]
    else:
        assert method("a", "b", "c") == "reply"
        assert obj.calls == [(wire(name) + ("a", "b", "c"), {"shard_key": ("a", "b", "c")[how]})]
        with pytest.raises(IndexError, match=wire(name)[0].decode()):
            method(*["x"] * how)  # one argument short of the key
        assert len(obj.calls) == 1  # nothing sent
        with pytest.raises(TypeError):
            method("a", "b", shard_key="other")  # keyed commands take no routing keywords


@pytest.mark.parametrize("name", sorted(n for n, how in ROUTING.items() if how == "explicit"))
def test_explicit_keywords_are_ignored_in_standalone_mode(name):
    mixin = next(m for m, n in ALL if n == name)
    obj = recorder(mixin, cluster=False)
    getattr(obj, name)("a", shard_key="k", sock="h_1")
    assert obj.calls == [(wire(name) + ("a",), {})]


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
    function = vars(mixin)[name]
    assert function.__name__ == ALIASES.get(name, name)
    assert b" ".join(wire(name)).decode() in function.__doc__


def test_fixed_from_upstream():
    assert commands.List.brpoplpush.__name__ == "brpoplpush"
    obj = recorder(commands.List, cluster=False)
    obj.brpoplpush("src", "dst", 0)
    assert obj.calls == [((b"BRPOPLPUSH", "src", "dst", 0), {})]  # upstream: BRPOPPUSH
    obj = recorder(commands.Key, cluster=True)
    obj.object("ENCODING", "k")  # upstream: DEL (data loss)
    obj.expireat("k", 100)       # upstream: bare EXPIREAT without args or shard key
    obj.wait(1, 0, shard_key="k")  # upstream: routed by numreplicas
    assert obj.calls == [((b"OBJECT", "ENCODING", "k"), {"shard_key": "k"}),
                         ((b"EXPIREAT", "k", 100), {"shard_key": "k"}),
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
