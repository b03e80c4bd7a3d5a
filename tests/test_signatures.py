"""Every public signature of pyredis 1.0, checked against ours.

The tables below are pyredis 1.0's public API as its source defines it: the
functions of its public modules, and for each public class its constructor and
public methods (inherited ones included, as a caller sees them), its
properties, and the command mixins it is built from.

For each upstream parameter ours must have one with the same name, kind and
default, in the same order.  Parameters we add must come after upstream's
(before a trailing ``**kwargs``) and have defaults.  ``async`` marks a
coroutine function.  Compiled methods show ``self`` as positional-only; it is
never passed by name, so that is not counted as a difference.
"""
import importlib
import inspect
import types

import pytest

from pyredis.exceptions import ProtocolError, ReplyError

# -- pyredis 1.0 ---------------------------------------------------------------------
FUNCTIONS = {
    "pyredis.get_by_url": "(url, async_client=False)",
    "pyredis.helper.dict_from_list": "(source)",
    "pyredis.helper.slot_from_key": "(key)",
    "pyredis.helper.tag_from_key": "(key)",
    "pyredis.protocol.to_bytes": "(value)",
    "pyredis.protocol.writer": "(*args)",
}

_CONNECTION = ("(self, host=None, port=6379, unix_sock=None, database=None, password=None, "
               "encoding=None, conn_timeout=2, read_only=False, read_timeout=2, sentinel=False, "
               "username=None)")
_CLUSTER_CLIENT = ("(self, seeds=None, database=0, password=None, encoding=None, slave_ok=False, "
                   "conn_timeout=2, read_timeout=2, cluster_map=None, username=None)")
_HASH_CLIENT = ("(self, buckets, database=None, password=None, encoding=None, conn_timeout=2, "
                "read_timeout=2, username=None)")
_SENTINEL_CLIENT = "(self, sentinels, password=None, username=None)"
_BASE_POOL = ("(self, database=0, password=None, encoding=None, conn_timeout=2, read_timeout=2, "
              "pool_size=16, lock=None, username=None)")
_CLUSTER_POOL = "(self, seeds, slave_ok=False, password=None, username=None, **kwargs)"
_HASH_POOL = "(self, buckets, **kwargs)"
_POOL = "(self, host=None, port=6379, unix_sock=None, **kwargs)"
_SENTINEL_POOL = ("(self, sentinels, name, slave_ok=False, retries=3, sentinel_password=None, "
                  "sentinel_username=None, **kwargs)")
_SENTINEL_HASH_POOL = ("(self, sentinels, buckets, slave_ok=False, retries=3, "
                       "sentinel_password=None, sentinel_username=None, **kwargs)")
_CLUSTER_MAP = "(self, seeds, password=None, lock=None, username=None)"


def _pool(init, prefix=""):
    return {"__init__": init, "acquire": prefix + "(self)",
            "execute": prefix + "(self, *args, **kwargs)", "release": prefix + "(self, conn)"}


CLASSES = {
    "pyredis.async_helper.AsyncClusterMap": {
        "__init__": _CLUSTER_MAP, "get_slot": "(self, shard_key, slave=None)",
        "hosts": "(self, slave=None)", "update": "async (self, map_id)"},
    "pyredis.client.async_client.AsyncClient": {
        "__init__": "(self, **kwargs)", "close": "async (self)", "execute": "async (self, *args)"},
    "pyredis.client.async_cluster.AsyncClusterClient": {
        "__init__": _CLUSTER_CLIENT,
        "execute": "async (self, *args, shard_key=None, sock=None, asking=False, retries=3)"},
    "pyredis.client.async_hash.AsyncHashClient": {
        "__init__": _HASH_CLIENT, "bulk_start": "(self, bulk_size=5000, keep_results=True)",
        "bulk_stop": "async (self)", "close": "async (self)",
        "execute": "async (self, *args, shard_key=None, sock=None)"},
    "pyredis.client.async_pubsub.AsyncPubSubClient": {
        "__init__": "(self, **kwargs)", "close": "async (self)", "get": "async (self)",
        "write": "async (self, *args)"},
    "pyredis.client.async_sentinel.AsyncSentinelClient": {
        "__init__": _SENTINEL_CLIENT, "close": "async (self)", "execute": "async (self, *args)",
        "get_master": "async (self, name)", "get_masters": "async (self)",
        "get_slaves": "async (self, name)", "next_sentinel": "async (self)"},
    "pyredis.client.client.Client": {
        "__init__": "(self, **kwargs)", "bulk_start": "(self, bulk_size=5000, keep_results=True)",
        "bulk_stop": "(self)", "close": "(self)", "execute": "(self, *args)"},
    "pyredis.client.cluster.ClusterClient": {
        "__init__": _CLUSTER_CLIENT,
        "execute": "(self, *args, shard_key=None, sock=None, asking=False, retries=3)"},
    "pyredis.client.hash.HashClient": {
        "__init__": _HASH_CLIENT, "bulk_start": "(self, bulk_size=5000, keep_results=True)",
        "bulk_stop": "(self)", "close": "(self)",
        "execute": "(self, *args, shard_key=None, sock=None)"},
    "pyredis.client.pubsub.PubSubClient": {
        "__init__": "(self, **kwargs)", "close": "(self)", "get": "(self)",
        "write": "(self, *args)"},
    "pyredis.client.sentinel.SentinelClient": {
        "__init__": _SENTINEL_CLIENT, "close": "(self)", "execute": "(self, *args)",
        "get_master": "(self, name)", "get_masters": "(self)", "get_slaves": "(self, name)",
        "next_sentinel": "(self)"},
    "pyredis.connection.async_connection.AsyncConnection": {
        "__init__": _CONNECTION, "close": "async (self)",
        "read": "async (self, close_on_timeout=True, raise_on_result_err=True)",
        "write": "async (self, *args)"},
    "pyredis.connection.connection.Connection": {
        "__init__": _CONNECTION, "close": "(self)",
        "read": "(self, close_on_timeout=True, raise_on_result_err=True)",
        "write": "(self, *args)"},
    "pyredis.helper.ClusterMap": {
        "__init__": _CLUSTER_MAP, "get_slot": "(self, shard_key, slave=None)",
        "hosts": "(self, slave=None)", "update": "(self, map_id)"},
    "pyredis.pool.async_base.AsyncBasePool": _pool(_BASE_POOL, "async "),
    "pyredis.pool.async_cluster.AsyncClusterPool": _pool(_CLUSTER_POOL, "async "),
    "pyredis.pool.async_hash.AsyncHashPool": _pool(_HASH_POOL, "async "),
    "pyredis.pool.async_pool.AsyncPool": _pool(_POOL, "async "),
    "pyredis.pool.async_sentinel.AsyncSentinelPool": _pool(_SENTINEL_POOL, "async "),
    "pyredis.pool.async_sentinel_hash.AsyncSentinelHashPool": _pool(_SENTINEL_HASH_POOL, "async "),
    "pyredis.pool.base.BasePool": _pool(_BASE_POOL),
    "pyredis.pool.cluster.ClusterPool": _pool(_CLUSTER_POOL),
    "pyredis.pool.hash.HashPool": _pool(_HASH_POOL),
    "pyredis.pool.pool.Pool": _pool(_POOL),
    "pyredis.pool.sentinel.SentinelPool": _pool(_SENTINEL_POOL),
    "pyredis.pool.sentinel_hash.SentinelHashPool": _pool(_SENTINEL_HASH_POOL),
    "pyredis.protocol.Reader": {
        "__init__": "(self, encoding=None, protocolError=ProtocolError, replyError=ReplyError)",
        "feed": "(self, data, offset=None, length=None)", "gets": "(self)"},
}

_ARGS = "(self, *args)"
_ROUTED = "(self, *args, shard_key=None, sock=None)"


def _mixin(args="", routed="", **others):
    """A command mixin: BaseCommand's two methods, then its commands."""
    table = {"__init__": "(self)", "execute": "(self, *args, **kwargs)"}
    table.update({name: _ARGS for name in args.split()})
    table.update({name: _ROUTED for name in routed.split()})
    table.update(others)
    return table


MIXINS = {
    "pyredis.commands.base.BaseCommand": _mixin(),
    "pyredis.commands.connection.Connection": _mixin(
        routed="echo", ping="(self, shard_key=None, sock=None)"),
    "pyredis.commands.geo.Geo": _mixin(
        "geoadd geodist geohash geopos georadius georadiusbymember"),
    "pyredis.commands.hash.Hash": _mixin(
        "hdel hexists hget hgetall hincrby hincrbyfloat hkeys hlen hmget hmset hscan hset hsetnx "
        "hstrlen hvals"),
    "pyredis.commands.hyperloglog.HyperLogLog": _mixin("pfadd pfcount pfmerge"),
    "pyredis.commands.key.Key": _mixin(
        "delete dump exists expire expireat migrate move persist pexpire pexpireat pttl rename "
        "renamenx restore sort ttl type wait", routed="keys object randomkey scan"),
    "pyredis.commands.list.List": _mixin(
        "blpop brpop brpoplpush lindex linsert llen lpop lpush lpushx lrange lrem lset ltrim rpop "
        "rpoplpush rpush rpushx"),
    "pyredis.commands.publish.Publish": _mixin("publish"),
    "pyredis.commands.scripting.Scripting": _mixin(
        routed="eval evalsha script_debug script_exists script_flush script_kill script_load"),
    "pyredis.commands.set.Set": _mixin(
        "sadd scard sdiff sdiffstore sinter sinterstore sismember smembers smove spop "
        "srandmember srem sscan sunion sunoinstore"),
    "pyredis.commands.sset.SSet": _mixin(
        "zadd zcard zcount zincrby zinterstore zlexcount zrange zrangebylex zrangebyscore zrank "
        "zrem zremrangebylex zremrangebyrank zremrangebyscrore zrevrange zrevrangebylex "
        "zrevrangebyscore zrevrank zscan zscore zunionstore"),
    "pyredis.commands.string.String": _mixin(
        "append bitcount bitfield bitop bitpos decr decrby get getbit getrange getset incr incrby "
        "incrbyfloat mget mset msetnx psetex set setbit setex setnx setrange strlen"),
    "pyredis.commands.subscribe.Subscribe": {
        name: _ARGS for name in "psubscribe punsubscribe subscribe unsubscribe write".split()},
    "pyredis.commands.transaction.Transaction": _mixin(
        "watch", routed="discard exec multi unwatch"),
}

_POOL_PROPERTIES = "close_on_err conn_timeout database encoding password pool_size read_timeout " \
                   "username"
PROPERTIES = {
    "pyredis.async_helper.AsyncClusterMap": "id",
    "pyredis.client.async_client.AsyncClient": "closed",
    "pyredis.client.async_cluster.AsyncClusterClient": "closed",
    "pyredis.client.async_hash.AsyncHashClient": "bulk closed",
    "pyredis.client.async_pubsub.AsyncPubSubClient": "closed",
    "pyredis.client.async_sentinel.AsyncSentinelClient": "sentinels",
    "pyredis.client.client.Client": "bulk closed",
    "pyredis.client.cluster.ClusterClient": "closed",
    "pyredis.client.hash.HashClient": "bulk closed",
    "pyredis.client.pubsub.PubSubClient": "closed",
    "pyredis.client.sentinel.SentinelClient": "sentinels",
    "pyredis.connection.async_connection.AsyncConnection": "closed",
    "pyredis.connection.connection.Connection": "closed",
    "pyredis.helper.ClusterMap": "id",
}
for _path, _extra in [("base.BasePool", ""), ("async_base.AsyncBasePool", ""),
                      ("pool.Pool", "host port unix_sock"),
                      ("async_pool.AsyncPool", "host port unix_sock"),
                      ("cluster.ClusterPool", "slave_ok"),
                      ("async_cluster.AsyncClusterPool", "slave_ok"),
                      ("hash.HashPool", "buckets"), ("async_hash.AsyncHashPool", "buckets"),
                      ("sentinel.SentinelPool", "name retries sentinels slave_ok"),
                      ("async_sentinel.AsyncSentinelPool", "name retries sentinels slave_ok"),
                      ("sentinel_hash.SentinelHashPool", "buckets retries sentinels slave_ok"),
                      ("async_sentinel_hash.AsyncSentinelHashPool",
                       "buckets retries sentinels slave_ok")]:
    PROPERTIES["pyredis.pool." + _path] = _POOL_PROPERTIES + " " + _extra

# class -> the command mixins it is built from
_ALL = "Connection Geo Hash HyperLogLog Key List Publish Scripting Set SSet String Transaction"
_NO_PUBLISH = _ALL.replace("Publish ", "")
_NO_TRANSACTION = _ALL.replace(" Transaction", "")
_NO_BOTH = _NO_PUBLISH.replace(" Transaction", "")
BUILT_FROM = {
    "pyredis.client.client.Client": _ALL,
    "pyredis.client.async_client.AsyncClient": _ALL,
    "pyredis.client.hash.HashClient": _ALL,
    "pyredis.client.async_hash.AsyncHashClient": _ALL,
    "pyredis.client.cluster.ClusterClient": _NO_PUBLISH,
    "pyredis.client.async_cluster.AsyncClusterClient": _NO_PUBLISH,
    "pyredis.client.pubsub.PubSubClient": "Subscribe",
    "pyredis.client.async_pubsub.AsyncPubSubClient": "Subscribe",
    "pyredis.client.sentinel.SentinelClient": "",
    "pyredis.client.async_sentinel.AsyncSentinelClient": "",
    "pyredis.pool.pool.Pool": _NO_TRANSACTION,
    "pyredis.pool.async_pool.AsyncPool": _NO_TRANSACTION,
    "pyredis.pool.hash.HashPool": _NO_TRANSACTION,
    "pyredis.pool.async_hash.AsyncHashPool": _NO_TRANSACTION,
    "pyredis.pool.sentinel.SentinelPool": _NO_TRANSACTION,
    "pyredis.pool.async_sentinel.AsyncSentinelPool": _NO_TRANSACTION,
    "pyredis.pool.sentinel_hash.SentinelHashPool": _NO_TRANSACTION,
    "pyredis.pool.async_sentinel_hash.AsyncSentinelHashPool": _NO_TRANSACTION,
    "pyredis.pool.cluster.ClusterPool": _NO_BOTH,
    "pyredis.pool.async_cluster.AsyncClusterPool": _NO_BOTH,
}

# -- differences owned by other work, to be removed when it lands ----------------------
PENDING = {
    "pyredis.helper.ClusterMap.update": "ClusterMap work: map_id has no default upstream",
    "pyredis.async_helper.AsyncClusterMap.update": "ClusterMap work: map_id has no default "
                                                   "upstream",
}
PENDING_PROPERTIES = {"closed": "D5 work: closed becomes a read-only property of the class"}
# Classes where that work has landed (the asyncio rewrite).
PROPERTIES_DONE = {
    "pyredis.connection.async_connection.AsyncConnection": {"closed"},
    "pyredis.client.async_client.AsyncClient": {"closed"},
    "pyredis.client.async_pubsub.AsyncPubSubClient": {"closed"},
}


def _pending(path, name):
    return name in PENDING_PROPERTIES and name not in PROPERTIES_DONE.get(path, ())


# -- the check ---------------------------------------------------------------------------
def _load(path):
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _upstream(text):
    is_async = text.startswith("async ")
    namespace = {"ProtocolError": ProtocolError, "ReplyError": ReplyError}
    exec("def f%s: pass" % (text[len("async "):] if is_async else text), namespace)
    return is_async, inspect.signature(namespace["f"])


def _same_default(ours, theirs):
    return ours is theirs or (type(ours) is type(theirs) and ours == theirs)


def differences(text, function, method=True):
    """How ``function``'s signature departs from upstream's ``text`` (empty: none)."""
    is_async, expected = _upstream(text)
    out = []
    if inspect.iscoroutinefunction(function) != is_async:
        out.append("upstream's is %sa coroutine function" % ("" if is_async else "not "))
    try:
        actual = inspect.signature(function)
    except (TypeError, ValueError) as exc:
        return out + ["no signature: %s" % exc]
    theirs = list(expected.parameters.values())
    ours = list(actual.parameters.values())
    if method and ours and ours[0].name == "self" and ours[0].kind is ours[0].POSITIONAL_ONLY:
        ours[0] = ours[0].replace(kind=ours[0].POSITIONAL_OR_KEYWORD)
    if theirs and theirs[-1].kind is theirs[-1].VAR_KEYWORD:
        if not ours or ours[-1].kind is not ours[-1].VAR_KEYWORD:
            return out + ["upstream's **%s is missing from %s" % (theirs[-1].name, actual)]
        theirs, ours = theirs[:-1], ours[:-1]
    for index, param in enumerate(theirs):
        if index >= len(ours):
            out.append("missing %s" % param)
            continue
        mine = ours[index]
        if (mine.name, mine.kind) != (param.name, param.kind) or not _same_default(
                mine.default, param.default):
            out.append("parameter %d: upstream %s (%s), ours %s (%s)"
                       % (index, param, param.kind.description, mine, mine.kind.description))
    for mine in ours[len(theirs):]:
        if mine.default is mine.empty:
            out.append("added without a default: %s" % mine)
    return out and ["upstream %s, ours %s" % (text, actual)] + out


def _cases():
    """(group, ident, path, name, upstream text, is a method): every signature to check."""
    for path, text in FUNCTIONS.items():
        yield path.rpartition(".")[0], path, path, None, text, False
    for path, methods in list(CLASSES.items()) + list(MIXINS.items()):
        for name, text in methods.items():
            yield path, "%s.%s" % (path, name), path, name, text, True
    for path, mixins in BUILT_FROM.items():
        for mixin in mixins.split():
            mixin_path = next(p for p in MIXINS if p.endswith("." + mixin))
            for name, text in MIXINS[mixin_path].items():
                if name not in CLASSES[path] and name != "__init__":  # else the class' own
                    yield path + " commands", "%s.%s" % (path, name), path, name, text, True


def _compiled_init(cls):
    """A compiled class' ``__init__`` shows ``(*args, **kwargs)``: its real
    signature is the class' own (the first docstring line, for ``inspect``)."""
    signature = inspect.signature(cls)
    self = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)

    def init(*args, **kwargs):
        pass
    init.__signature__ = signature.replace(parameters=[self, *signature.parameters.values()])
    return init


def _check(path, name, text, method):
    function = _load(path) if name is None else getattr(_load(path), name, None)
    if function is None:
        return ["missing"]
    if name == "__init__" and isinstance(function, types.WrapperDescriptorType):
        function = _compiled_init(_load(path))
    return differences(text, function, method)


GROUPS = {}
for _group, _ident, *_case in _cases():
    if _ident not in PENDING:
        GROUPS.setdefault(_group, {})[_ident] = _case


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_signatures_as_upstream(group):
    found = {ident: _check(*case) for ident, case in GROUPS[group].items()}
    assert {ident: problems for ident, problems in found.items() if problems} == {}


@pytest.mark.parametrize("ident", [
    pytest.param(ident, id=ident, marks=pytest.mark.xfail(strict=True, reason=reason))
    for ident, reason in sorted(PENDING.items())])
def test_pending_signature(ident):
    """Differences other work is removing: each must still fail until it lands."""
    case = next(case for _, i, *case in _cases() if i == ident)
    assert _check(*case) == []


def _is_property(path, name):
    """A property upstream is a data descriptor on our class too (not an instance attribute)."""
    try:
        return inspect.isdatadescriptor(inspect.getattr_static(_load(path), name))
    except AttributeError:
        return False


@pytest.mark.parametrize("path", sorted(PROPERTIES))
def test_properties_as_upstream(path):
    names = [n for n in PROPERTIES[path].split() if not _pending(path, n)]
    assert [name for name in names if not _is_property(path, name)] == []


@pytest.mark.parametrize("path, name", [
    pytest.param(path, name, id="%s.%s" % (path, name),
                 marks=pytest.mark.xfail(strict=True, reason=PENDING_PROPERTIES[name]))
    for path, names in sorted(PROPERTIES.items()) for name in names.split()
    if _pending(path, name)])
def test_pending_property(path, name):
    assert _is_property(path, name)


@pytest.mark.parametrize("path", sorted(BUILT_FROM))
def test_built_from_upstreams_mixins(path):
    from pyredis import commands

    cls = _load(path)
    every = {getattr(commands, name) for name in commands.__all__} - {commands.BaseCommand}
    expected = {getattr(commands, name) for name in BUILT_FROM[path].split()}
    assert set(cls.__mro__) & every == expected
    assert issubclass(cls, commands.BaseCommand) is bool(expected - {commands.Subscribe})


def test_the_check_finds_differences():
    """The rules above, on made-up signatures (so a passing run means something)."""
    def plain(self, a, b=1, *args, c=None, **kwargs):
        pass

    text = "(self, a, b=1, *args, c=None, **kwargs)"
    assert differences(text, plain) == []

    def renamed(self, x, b=1, *args, c=None, **kwargs):
        pass

    def new_default(self, a, b=2, *args, c=None, **kwargs):
        pass

    def reordered(self, b=1, a=None, *args, c=None, **kwargs):
        pass

    def added_required(self, a, b=1, *args, c=None, d, **kwargs):
        pass

    def added_optional(self, a, b=1, *args, c=None, d=None, **kwargs):
        pass

    def no_kwargs(self, a, b=1, *args, c=None):
        pass

    def float_default(self, a, b=1.0, *args, c=None, **kwargs):
        pass

    async def coroutine(self, a, b=1, *args, c=None, **kwargs):
        pass

    for function in (renamed, new_default, reordered, added_required, no_kwargs, float_default,
                     coroutine):
        assert differences(text, function) != [], function.__name__
    assert differences(text, added_optional) == []
    assert differences("async " + text, coroutine) == []
    assert differences("async " + text, plain) != []
