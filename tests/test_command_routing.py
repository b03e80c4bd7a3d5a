"""Every command method: the wire name, the arguments, and the routing keywords
sent in standalone and in cluster mode (a recording fake ``execute``)."""
import inspect

import pytest

from pyredis import commands

# method -> how it is routed: an int is the position of the shard key;
# "explicit" takes shard_key=/sock=; "standalone" refuses cluster mode.
KEY0 = 0
SPECIAL = {
    "bitop": 1, "object": 1,
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
MIXINS = [commands.Connection, commands.Geo, commands.Hash, commands.HyperLogLog, commands.Key,
          commands.List, commands.Publish, commands.Scripting, commands.Set, commands.SSet,
          commands.String, commands.Transaction]


def methods(mixin):
    return sorted(name for name, value in vars(mixin).items()
                  if not name.startswith("_") and inspect.isfunction(value))


ALL = [(mixin, name) for mixin in MIXINS for name in methods(mixin)]


def recorder(mixin, cluster):
    class Recorder(mixin):
        _cluster = cluster

        def __init__(self):
            self.calls = []

        def execute(self, *args, **kwargs):
            self.calls.append((args, kwargs))
            return "reply"

    return Recorder()


def wire(name):
    return WIRE.get(name, (name.upper().encode(),))


@pytest.mark.parametrize("mixin, name", ALL, ids=[n for _, n in ALL])
def test_standalone_mode_sends_name_and_args_only(mixin, name):
    obj = recorder(mixin, cluster=False)
    assert getattr(obj, name)("a", b"b", 3) == "reply"
    assert obj.calls == [(wire(name) + ("a", b"b", 3), {})]


@pytest.mark.parametrize("mixin, name", ALL, ids=[n for _, n in ALL])
def test_cluster_mode_routing(mixin, name):
    obj = recorder(mixin, cluster=True)
    method = getattr(obj, name)
    how = SPECIAL.get(name, KEY0)
    if how == "standalone":
        with pytest.raises(NotImplementedError):
            method("a")
        assert obj.calls == []
    elif how == "explicit":
        method("a", shard_key="k", sock="host_1")
        method("b")
        assert obj.calls == [(wire(name) + ("a",), {"shard_key": "k", "sock": "host_1"}),
                             (wire(name) + ("b",), {"shard_key": None, "sock": None})]
    else:
        method("a", "b", "c")
        assert obj.calls == [(wire(name) + ("a", "b", "c"), {"shard_key": ("a", "b", "c")[how]})]
        with pytest.raises(IndexError, match=wire(name)[0].decode()):
            method(*["x"] * how)  # one argument short of the key


def test_explicit_keywords_are_ignored_in_standalone_mode():
    obj = recorder(commands.Connection, cluster=False)
    obj.ping(shard_key="k", sock="h_1")
    assert obj.calls == [((b"PING",), {})]


def test_misspelt_names_are_aliases():
    assert commands.Set.sunoinstore is commands.Set.sunionstore
    assert commands.SSet.zremrangebyscrore is commands.SSet.zremrangebyscore


def test_fixed_wire_names():
    assert wire("brpoplpush") == (b"BRPOPLPUSH",)
    obj = recorder(commands.Key, cluster=True)
    obj.object("ENCODING", "k")
    obj.expireat("k", 100)
    assert obj.calls == [((b"OBJECT", "ENCODING", "k"), {"shard_key": "k"}),
                         ((b"EXPIREAT", "k", 100), {"shard_key": "k"})]


def test_methods_have_their_names():
    assert commands.String.get.__name__ == "get" and "GET" in commands.String.get.__doc__


def test_base_and_subscribe_need_an_implementation():
    with pytest.raises(NotImplementedError):
        commands.BaseCommand().execute(b"PING")

    class Sub(commands.Subscribe):
        pass

    with pytest.raises(NotImplementedError):
        Sub().subscribe("ch")


def test_subscribe_commands_only_write():
    class Sub(commands.Subscribe):
        def __init__(self):
            self.written = []

        def write(self, *args):
            self.written.append(args)

    sub = Sub()
    for name in ("subscribe", "psubscribe", "unsubscribe", "punsubscribe"):
        getattr(sub, name)("a", "b")
    assert sub.written == [(b"SUBSCRIBE", "a", "b"), (b"PSUBSCRIBE", "a", "b"),
                           (b"UNSUBSCRIBE", "a", "b"), (b"PUNSUBSCRIBE", "a", "b")]


def test_mixin_matrix():
    from pyredis import Client, Pool, PubSubClient

    everything = set(MIXINS)
    assert set(Client.__mro__) >= everything and commands.Subscribe not in Client.__mro__
    assert set(Pool.__mro__) >= everything - {commands.Transaction}
    assert commands.Transaction not in Pool.__mro__ and commands.Subscribe not in Pool.__mro__
    assert set(PubSubClient.__mro__) & everything == set()
