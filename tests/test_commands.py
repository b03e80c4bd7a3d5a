"""Every command mixin method against a real redis-server, through a Client and
through a Pool (transactions: Client only; subscriber commands: PubSubClient).

Each test declares the methods it exercises with ``@uses(...)``; the
declaration is checked while the test runs (a declared method the test never
calls fails it), and ``test_every_method_is_exercised`` fails when a public
method of any mixin in ``pyredis.commands`` is declared by no test.
"""
import asyncio
import contextlib
import decimal
import functools
import inspect
import threading
import time

import pytest

from pyredis import Client, Pool, PubSubClient, commands
from pyredis.exceptions import ArgumentError, ReplyError
from servers import RedisServer

MIXINS = [getattr(commands, name) for name in commands.__all__ if name != "BaseCommand"]
HOOKS = {"write"}  # Subscribe's abstract hook (PubSubClient implements it), not a command

EXERCISED = set()


def public_methods(mixin):
    return {name for name, value in vars(mixin).items()
            if not name.startswith("_") and callable(value) and name not in HOOKS}


def defining_mixin(name):
    for mixin in MIXINS:
        if name in public_methods(mixin):
            return mixin
    raise LookupError("no mixin defines %r" % name)


@contextlib.contextmanager
def recording(names, called):
    """Wrap the named mixin methods so that a call adds its name to ``called``."""
    saved = []
    try:
        for name in names:
            mixin = defining_mixin(name)
            original = vars(mixin)[name]

            def spy(self, *args, _name=name, _original=original, **kwargs):
                called.add(_name)
                return _original(self, *args, **kwargs)

            saved.append((mixin, name, original))
            setattr(mixin, name, spy)
        yield
    finally:
        for mixin, name, original in reversed(saved):
            setattr(mixin, name, original)


def uses(*names):
    """Declare (and check at run time) the mixin methods a test exercises."""
    EXERCISED.update(names)

    def decorate(test):
        @functools.wraps(test)
        def run(*args, **kwargs):
            called = set()
            with recording(names, called):
                test(*args, **kwargs)
            assert sorted(set(names) - called) == [], "declared in @uses but never called"

        return run

    return decorate


@pytest.fixture(params=["client", "pool"])
def r(request, redis):
    """The command target: a Client, or a Pool (each command leases a client)."""
    if request.param == "client":
        target = Client(host=redis.host, port=redis.port)
    else:
        target = Pool(host=redis.host, port=redis.port, pool_size=2)
    yield target
    target.close()


@pytest.fixture
def client(redis):
    with Client(host=redis.host, port=redis.port) as c:
        yield c


@pytest.fixture
def other_client(redis):
    """A second connection to the same server (to publish, to interfere)."""
    with Client(host=redis.host, port=redis.port) as c:
        yield c


@pytest.fixture(scope="module")
def second_server():
    """Another redis-server (with a password), the target of MIGRATE."""
    with RedisServer(password="pw", unix=False) as server:
        yield server


@uses("echo", "ping")
def test_connection(r):
    assert r.ping() == b"PONG"
    assert r.ping("hi") == b"PONG"  # as upstream: a shard key (cluster mode), never sent
    assert r.ping(shard_key="hi", sock="ignored_1") == b"PONG"
    assert r.echo("x\r\ny") == b"x\r\ny"
    assert r.echo(b"\x00\xff") == b"\x00\xff"


@uses("append", "bitcount", "bitfield", "bitop", "bitpos", "decr", "decrby", "get", "getbit",
      "getrange", "getset", "incr", "incrby", "incrbyfloat", "mget", "mset", "msetnx", "psetex",
      "set", "setbit", "setex", "setnx", "setrange", "strlen")
def test_strings(r):
    assert r.set("s", "hello") == b"OK"
    assert r.append("s", " world") == 11
    assert r.get("s") == b"hello world"
    assert r.getrange("s", 0, 4) == b"hello"
    assert r.setrange("s", 6, "there") == 11
    assert r.strlen("s") == 11
    assert r.getset("s", "new") == b"hello there"
    assert r.setnx("s", "x") == 0 and r.setnx("s2", "x") == 1
    assert r.mset("a", 1, "b", 2) == b"OK"
    assert r.msetnx("a", 5, "c", 3) == 0
    assert r.mget("a", "b", "c") == [b"1", b"2", None]
    assert r.incr("n") == 1 and r.incrby("n", 10) == 11
    assert r.decr("n") == 10 and r.decrby("n", 4) == 6
    assert r.incrbyfloat("n", "0.5") == b"6.5"
    assert r.setex("ex", 100, "v") == b"OK" and 0 < r.ttl("ex") <= 100
    assert r.psetex("pex", 100000, "v") == b"OK" and 0 < r.pttl("pex") <= 100000
    assert r.setbit("bits", 7, 1) == 0
    assert r.getbit("bits", 7) == 1
    assert r.bitcount("bits") == 1
    assert r.bitpos("bits", 1) == 7
    assert r.set("other", b"\xff") == b"OK"
    assert r.bitop("AND", "dest", "bits", "other") == 1
    assert r.get("dest") == b"\x01"
    assert r.bitfield("bf", "SET", "u8", 0, 200, "GET", "u8", 0) == [0, 200]


@uses("hdel", "hexists", "hget", "hgetall", "hincrby", "hincrbyfloat", "hkeys", "hlen",
      "hmget", "hmset", "hset", "hsetnx", "hstrlen", "hvals", "hscan")
def test_hashes(r):
    assert r.hset("h", "f1", "v1", "f2", "v2") == 2
    assert r.hmset("h", "f3", "v3") == b"OK"
    assert r.hsetnx("h", "f1", "x") == 0
    assert r.hget("h", "f1") == b"v1"
    assert r.hmget("h", "f1", "nope") == [b"v1", None]
    assert r.hexists("h", "f2") == 1 and r.hexists("h", "nope") == 0
    assert r.hlen("h") == 3 and r.hstrlen("h", "f3") == 2
    assert sorted(r.hkeys("h")) == [b"f1", b"f2", b"f3"]
    assert sorted(r.hvals("h")) == [b"v1", b"v2", b"v3"]
    assert r.hgetall("h") == [b"f1", b"v1", b"f2", b"v2", b"f3", b"v3"]
    assert r.hincrby("h", "n", 5) == 5 and r.hincrbyfloat("h", "n", "1.5") == b"6.5"
    cursor, items = r.hscan("h", 0, "MATCH", "f*")
    assert cursor == b"0" and items == [b"f1", b"v1", b"f2", b"v2", b"f3", b"v3"]
    assert r.hdel("h", "f1", "f2", "nope") == 2


@uses("blpop", "brpop", "brpoplpush", "lindex", "linsert", "llen", "lpop", "lpush", "lpushx",
      "lrange", "lrem", "lset", "ltrim", "rpop", "rpoplpush", "rpush", "rpushx")
def test_lists(r):
    assert r.rpush("l", "b", "c") == 2 and r.lpush("l", "a") == 3
    assert r.lpushx("l", "0") == 4 and r.rpushx("l", "d") == 5 and r.lpushx("none", "x") == 0
    assert r.lrange("l", 0, -1) == [b"0", b"a", b"b", b"c", b"d"]
    assert r.linsert("l", "BEFORE", "c", "bb") == 6
    assert r.lindex("l", 3) == b"bb" and r.llen("l") == 6
    assert r.lset("l", 0, "zero") == b"OK"
    assert r.lrem("l", 0, "bb") == 1
    assert r.ltrim("l", 0, 3) == b"OK"
    assert r.lrange("l", 0, -1) == [b"zero", b"a", b"b", b"c"]
    assert r.lpop("l") == b"zero" and r.rpop("l") == b"c"
    assert r.rpoplpush("l", "l2") == b"b"
    # blocking pops with data present answer at once ...
    assert r.blpop("l", "l2", 1) == [b"l", b"a"]
    assert r.brpop("l", "l2", 1) == [b"l2", b"b"]
    # ... and time out (a short server-side timeout) with nothing to pop
    assert r.blpop("l", "l2", 0.1) is None
    assert r.brpop("l", "l2", 0.1) is None
    assert r.brpoplpush("src", "dst", 0.1) is None
    assert r.rpush("src", "x", "y") == 2
    assert r.brpoplpush("src", "dst", 1) == b"y"  # BRPOPLPUSH (upstream sent BRPOPPUSH)
    assert r.lrange("src", 0, -1) == [b"x"] and r.lrange("dst", 0, -1) == [b"y"]


@uses("blpop", "brpoplpush")
def test_blocking_pops_are_woken_by_a_push(client, other_client):
    pushes = [threading.Timer(0.2, other_client.rpush, ("q", "job")),
              threading.Timer(0.4, other_client.rpush, ("src", "job2"))]
    for timer in pushes:
        timer.start()
    try:
        assert client.blpop("q", 5) == [b"q", b"job"]
        assert client.brpoplpush("src", "dst", 5) == b"job2"
    finally:
        for timer in pushes:
            timer.join()
    assert client.lrange("dst", 0, -1) == [b"job2"]


@uses("sadd", "scard", "sdiff", "sdiffstore", "sinter", "sinterstore", "sismember", "smembers",
      "smove", "spop", "srandmember", "srem", "sunion", "sunionstore", "sunoinstore", "sscan")
def test_sets(r):
    assert r.sadd("s1", "a", "b", "c") == 3 and r.sadd("s2", "b", "c", "d") == 3
    assert r.scard("s1") == 3 and r.sismember("s1", "a") == 1 and r.sismember("s1", "z") == 0
    assert sorted(r.smembers("s1")) == [b"a", b"b", b"c"]
    assert r.sdiff("s1", "s2") == [b"a"]
    assert sorted(r.sinter("s1", "s2")) == [b"b", b"c"]
    assert sorted(r.sunion("s1", "s2")) == [b"a", b"b", b"c", b"d"]
    assert r.sdiffstore("d", "s1", "s2") == 1 and r.smembers("d") == [b"a"]
    assert r.sinterstore("i", "s1", "s2") == 2
    assert r.sunionstore("u", "s1", "s2") == 4
    assert r.sunoinstore("u2", "s1") == 3  # upstream's spelling: SUNIONSTORE too
    assert sorted(r.smembers("u2")) == [b"a", b"b", b"c"]
    assert r.smove("s1", "s2", "a") == 1
    assert r.srem("s2", "a", "nope") == 1
    assert r.srandmember("s1") in (b"b", b"c")
    assert r.spop("s1") in (b"b", b"c") and r.scard("s1") == 1
    cursor, members = r.sscan("u", 0)
    assert cursor == b"0" and sorted(members) == [b"a", b"b", b"c", b"d"]


@uses("zadd", "zcard", "zcount", "zincrby", "zinterstore", "zlexcount", "zrange", "zrangebylex",
      "zrangebyscore", "zrank", "zrem", "zremrangebylex", "zremrangebyrank",
      "zremrangebyscore", "zremrangebyscrore", "zrevrange", "zrevrangebylex",
      "zrevrangebyscore", "zrevrank", "zscore", "zunionstore", "zscan")
def test_sorted_sets(r):
    assert r.zadd("z", 1, "a", 2, "b", 3, "c") == 3
    assert r.zcard("z") == 3 and r.zcount("z", 2, 3) == 2
    assert r.zincrby("z", 10, "a") == b"11"
    assert r.zscore("z", "a") == b"11" and r.zscore("z", "nope") is None
    assert r.zrange("z", 0, -1) == [b"b", b"c", b"a"]
    assert r.zrevrange("z", 0, 0, "WITHSCORES") == [b"a", b"11"]
    assert r.zrangebyscore("z", 2, 3) == [b"b", b"c"]
    assert r.zrevrangebyscore("z", 3, 2) == [b"c", b"b"]
    assert r.zrank("z", "a") == 2 and r.zrevrank("z", "a") == 0
    assert r.zadd("lex", 0, "a", 0, "b", 0, "c", 0, "d") == 4
    assert r.zlexcount("lex", "[b", "[c") == 2
    assert r.zrangebylex("lex", "-", "[b") == [b"a", b"b"]
    assert r.zrevrangebylex("lex", "(c", "-") == [b"b", b"a"]
    assert r.zremrangebylex("lex", "[a", "[a") == 1
    assert r.zremrangebyrank("lex", 0, 0) == 1
    assert r.zrange("lex", 0, -1) == [b"c", b"d"]
    assert r.zadd("z2", 1, "b", 5, "x") == 2
    assert r.zinterstore("zi", 2, "z", "z2") == 1
    assert r.zrange("zi", 0, -1, "WITHSCORES") == [b"b", b"3"]
    assert r.zunionstore("zu", 2, "z", "z2") == 4
    assert r.zremrangebyscore("zu", 0, 3) == 2
    assert r.zremrangebyscrore("zu", 5, 5) == 1  # upstream's spelling: ZREMRANGEBYSCORE too
    assert r.zrange("zu", 0, -1) == [b"a"]
    assert r.zrem("z", "a", "nope") == 1
    cursor, items = r.zscan("z", 0)
    assert cursor == b"0" and items == [b"b", b"2", b"c", b"3"]


@uses("pfadd", "pfcount", "pfmerge")
def test_hyperloglog(r):
    assert r.pfadd("h1", "a", "b", "c") == 1
    assert r.pfadd("h1", "a") == 0
    assert r.pfadd("h2", "c", "d") == 1
    assert r.pfcount("h1") == 3 and r.pfcount("h1", "h2") == 4
    assert r.pfmerge("h3", "h1", "h2") == b"OK"
    assert r.pfcount("h3") == 4


@uses("geoadd", "geodist", "geohash", "geopos", "georadius", "georadiusbymember")
def test_geo(r):
    assert r.geoadd("g", 13.361389, 38.115556, "Palermo", 15.087269, 37.502669, "Catania") == 2
    assert 166274 < float(r.geodist("g", "Palermo", "Catania")) < 166275
    assert 166.27 < float(r.geodist("g", "Palermo", "Catania", "km")) < 166.28
    assert r.geohash("g", "Palermo", "Catania") == [b"sqc8b49rny0", b"sqdtr74hyu0"]
    (lon, lat), missing = r.geopos("g", "Palermo", "nowhere")
    assert abs(float(lon) - 13.361389) < 1e-4 and abs(float(lat) - 38.115556) < 1e-4
    assert missing is None
    assert r.georadius("g", 15, 37, 200, "km", "ASC") == [b"Catania", b"Palermo"]
    assert r.georadius("g", 15, 37, 100, "km") == [b"Catania"]
    assert r.georadiusbymember("g", "Palermo", 100, "km") == [b"Palermo"]


@uses("delete", "dump", "exists", "expire", "expireat", "keys", "object", "persist", "pexpire",
      "pexpireat", "pttl", "randomkey", "rename", "renamenx", "restore", "scan", "sort", "ttl",
      "type", "wait")
def test_keys(r):
    assert r.randomkey() is None
    assert r.set("k", "v") == b"OK"
    assert r.exists("k", "nope") == 1 and r.type("k") == b"string"
    assert r.keys("k*") == [b"k"] and r.randomkey() == b"k"
    assert r.scan(0, "MATCH", "k") == [b"0", [b"k"]]
    assert r.object("ENCODING", "k") == b"embstr"  # OBJECT (upstream sent DEL in cluster mode)
    assert r.get("k") == b"v"
    assert r.expire("k", 100) == 1 and 0 < r.ttl("k") <= 100
    assert r.persist("k") == 1 and r.ttl("k") == -1
    assert r.pexpire("k", 100000) == 1 and 0 < r.pttl("k") <= 100000
    assert r.expireat("k", int(time.time()) + 100) == 1 and 0 < r.ttl("k") <= 101
    assert r.expireat("k", int(time.time()) - 10) == 1 and r.exists("k") == 0  # in the past
    assert r.set("k", "v") == b"OK"
    assert r.pexpireat("k", int(time.time() * 1000) + 100000) == 1 and 0 < r.pttl("k") <= 100000
    dumped = r.dump("k")
    assert isinstance(dumped, bytes) and r.dump("nope") is None
    assert r.restore("copy", 0, dumped) == b"OK" and r.get("copy") == b"v"
    with pytest.raises(ReplyError, match="BUSYKEY"):
        r.restore("copy", 0, dumped)
    assert r.rename("copy", "copy2") == b"OK"
    assert r.renamenx("copy2", "k") == 0 and r.renamenx("copy2", "copy3") == 1
    r.rpush("nums", 3, 1, 2)
    assert r.type("nums") == b"list"
    assert r.sort("nums") == [b"1", b"2", b"3"]
    assert r.sort("nums", "DESC", "LIMIT", 0, 1) == [b"3"]
    assert r.sort("nums", "STORE", "sorted") == 3 and r.lrange("sorted", 0, -1) == [b"1", b"2", b"3"]
    assert r.delete("k", "nums", "nope") == 2
    assert r.wait(0, 0) == 0  # no replicas attached


@uses("move")
def test_move_between_databases(r, redis):
    assert r.set("mv", "v") == b"OK"
    assert r.move("mv", 3) == 1 and r.get("mv") is None
    assert r.move("mv", 3) == 0  # nothing left to move
    with Client(host=redis.host, port=redis.port, database=3) as db3:
        assert db3.get("mv") == b"v"


@uses("migrate")
def test_migrate_to_a_second_server(r, second_server):
    assert r.set("mk", "mv") == b"OK"
    reply = r.migrate(second_server.host, second_server.port, "mk", 0, 5000, "AUTH", "pw")
    assert reply == b"OK" and r.get("mk") is None
    assert r.migrate(second_server.host, second_server.port, "mk", 0, 5000,
                     "AUTH", "pw") == b"NOKEY"
    with Client(host=second_server.host, port=second_server.port, password="pw") as other:
        assert other.get("mk") == b"mv"
        assert other.delete("mk") == 1


@uses("eval", "evalsha", "script_debug", "script_exists", "script_flush", "script_kill",
      "script_load")
def test_scripting(r):
    assert r.eval("return {KEYS[1], ARGV[1]}", 1, "key", "arg") == [b"key", b"arg"]
    sha = r.script_load("return 42")
    assert sha == b"1fa00e76656cc152ad327c13fe365858fd7be306"
    assert r.evalsha(sha, 0) == 42
    assert r.script_exists(sha, "0" * 40) == [1, 0]
    assert r.script_flush() == b"OK"
    assert r.script_exists(sha) == [0]
    with pytest.raises(ReplyError, match="NOSCRIPT"):
        r.evalsha(sha, 0)
    with pytest.raises(ReplyError, match="NOTBUSY"):
        r.script_kill()  # no script running
    # SCRIPT DEBUG: only "NO" (leave debug mode) is harmless outside redis-cli.
    assert r.script_debug("NO") == b"OK"


@uses("publish")
def test_publish(r, redis):
    with PubSubClient(host=redis.host, port=redis.port) as sub:
        assert r.publish("news", "nobody") == 0
        sub.subscribe("news")
        assert sub.get() == [b"subscribe", b"news", 1]
        assert r.publish("news", "hello") == 1
        assert sub.get() == [b"message", b"news", b"hello"]


@uses("subscribe", "psubscribe", "unsubscribe", "punsubscribe")
def test_subscribe_family(client, redis):
    with PubSubClient(host=redis.host, port=redis.port) as sub:
        assert sub.subscribe("a", "b") is None  # write only: confirmations come from get()
        assert sub.psubscribe("p*") is None
        assert [sub.get() for _ in range(3)] == [[b"subscribe", b"a", 1],
                                                [b"subscribe", b"b", 2],
                                                [b"psubscribe", b"p*", 3]]
        assert client.publish("pq", "1") == 1
        assert sub.get() == [b"pmessage", b"p*", b"pq", b"1"]
        assert client.publish("b", "2") == 1
        assert sub.get() == [b"message", b"b", b"2"]
        assert sub.unsubscribe("a") is None
        assert sub.punsubscribe() is None  # no argument: every pattern
        assert [sub.get() for _ in range(2)] == [[b"unsubscribe", b"a", 2],
                                                [b"punsubscribe", b"p*", 1]]
        sub.unsubscribe()
        assert sub.get() == [b"unsubscribe", b"b", 0]
        assert client.publish("b", "3") == 0


@uses("multi", "exec", "discard", "watch", "unwatch")
def test_transactions(client, other_client):
    assert client.multi() == b"OK"
    assert client.set("t", 1) == b"QUEUED"
    assert client.incr("t") == b"QUEUED"
    assert client.exec() == [b"OK", 2]
    assert client.multi() == b"OK"
    assert client.set("t", 100) == b"QUEUED"
    assert client.discard() == b"OK" and client.get("t") == b"2"
    assert client.watch("t") == b"OK" and client.unwatch() == b"OK"
    assert client.watch("t", "t2") == b"OK"
    other_client.set("t", "changed")
    client.multi()
    client.set("t", "mine")
    assert client.exec() is None  # a watched key changed: aborted
    assert client.get("t") == b"changed"


BAD_ARGUMENTS = [None, decimal.Decimal("1.5"), [1], (1,), {"a": 1}, object(), 1j]
BAD_IDS = ["None", "Decimal", "list", "tuple", "dict", "object", "complex"]


@pytest.mark.parametrize("bad", BAD_ARGUMENTS, ids=BAD_IDS)
def test_a_bad_argument_raises_argument_error_and_nothing_is_sent(r, bad):
    """Upstream raised ValueError, hiredis TypeError: ArgumentError is both."""
    r.set("k", "before")
    connection = r.execute("CLIENT", "ID")
    with pytest.raises(ArgumentError, match="Invalid type %s for command argument 2"
                       % type(bad).__name__) as info:
        r.set("k", bad)
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)
    try:
        r.rpush("list", "a", bad)
    except ValueError:
        pass
    try:
        r.hset("h", "f", bad)
    except TypeError:
        pass
    assert r.get("k") == b"before" and r.exists("list", "h") == 0  # nothing sent, in step
    assert r.execute("CLIENT", "ID") == connection  # the same connection, still in use


def test_bools_are_sent_as_upstream_sent_them(r):
    """Clients keep upstream's ``str(value)`` for bools (only pack_command refuses them)."""
    assert r.set("b", True) == b"OK" and r.get("b") == b"True"
    assert r.hset("h", "f", False) == 1 and r.hget("h", "f") == b"False"


def test_a_bad_argument_in_bulk_mode_adds_nothing(client):
    client.bulk_start(bulk_size=10)
    client.set("a", 1)
    with pytest.raises(ArgumentError, match="Invalid type NoneType"):
        client.set("b", None)
    client.set("c", 3)
    assert client.bulk_stop() == [b"OK", b"OK"]
    assert client.mget("a", "b", "c") == [b"1", None, b"3"]


def test_a_bad_argument_through_an_async_client(redis):
    from pyredis import AsyncClient

    async def run():
        client = AsyncClient(host=redis.host, port=redis.port)
        try:
            await client.set("k", "before")
            for bad in BAD_ARGUMENTS:
                with pytest.raises(ArgumentError, match=type(bad).__name__):
                    await client.set("k", bad)
            assert await client.get("k") == b"before"
            assert await client.set("k", True) == b"OK" and await client.get("k") == b"True"
        finally:
            await client.close()

    asyncio.run(run())


def test_pool_has_no_transactions():
    # A transaction needs one connection: lease a Client from the pool for it.
    assert not hasattr(Pool, "multi") and not hasattr(Pool, "watch")


def test_every_method_is_exercised():
    public = set().union(*(public_methods(mixin) for mixin in MIXINS))
    assert sorted(public - EXERCISED) == []
    assert sorted(EXERCISED - public) == []  # no stale names in @uses
