"""Every command mixin method against a real redis-server, through a Client and
through a Pool; ``test_every_method_is_exercised`` keeps this list complete."""
import inspect
import threading
import time

import pytest

from pyredis import Client, Pool, PubSubClient, commands
from pyredis.exceptions import ReplyError
from servers import RedisServer

EXERCISED = set()


def uses(*names):
    """Record which mixin methods a test exercises (checked for completeness below)."""
    EXERCISED.update(names)
    return lambda test: test


@pytest.fixture(params=["client", "pool"])
def r(request, redis):
    if request.param == "client":
        target = Client(host=redis.host, port=redis.port)
    else:
        target = Pool(host=redis.host, port=redis.port, pool_size=2)
    yield target
    target.close()


@pytest.fixture
def client(redis):
    c = Client(host=redis.host, port=redis.port)
    yield c
    c.close()


@uses("echo", "ping")
def test_connection(r):
    assert r.ping() == b"PONG"
    assert r.ping("hi") == b"hi"
    assert r.echo("x\r\ny") == b"x\r\ny"


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
    assert r.hexists("h", "f2") == 1
    assert r.hlen("h") == 3 and r.hstrlen("h", "f3") == 2
    assert sorted(r.hkeys("h")) == [b"f1", b"f2", b"f3"]
    assert sorted(r.hvals("h")) == [b"v1", b"v2", b"v3"]
    assert r.hgetall("h") == [b"f1", b"v1", b"f2", b"v2", b"f3", b"v3"]
    assert r.hincrby("h", "n", 5) == 5 and r.hincrbyfloat("h", "n", "1.5") == b"6.5"
    cursor, items = r.hscan("h", 0, "MATCH", "f*")
    assert cursor == b"0" and len(items) == 6
    assert r.hdel("h", "f1", "f2") == 2


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
    assert r.lpop("l") == b"zero" and r.rpop("l") == b"c"
    assert r.rpoplpush("l", "l2") == b"b"
    assert r.blpop("l", "l2", 1) == [b"l", b"a"]
    assert r.brpop("l", "l2", 1) == [b"l2", b"b"]
    assert r.brpop("l", "l2", 0.1) is None
    r.rpush("src", "x")
    assert r.brpoplpush("src", "dst", 1) == b"x"
    assert r.lrange("dst", 0, -1) == [b"x"]


@uses("sadd", "scard", "sdiff", "sdiffstore", "sinter", "sinterstore", "sismember", "smembers",
      "smove", "spop", "srandmember", "srem", "sunion", "sunionstore", "sunoinstore", "sscan")
def test_sets(r):
    assert r.sadd("s1", "a", "b", "c") == 3 and r.sadd("s2", "b", "c", "d") == 3
    assert r.scard("s1") == 3 and r.sismember("s1", "a") == 1
    assert sorted(r.smembers("s1")) == [b"a", b"b", b"c"]
    assert r.sdiff("s1", "s2") == [b"a"]
    assert sorted(r.sinter("s1", "s2")) == [b"b", b"c"]
    assert sorted(r.sunion("s1", "s2")) == [b"a", b"b", b"c", b"d"]
    assert r.sdiffstore("d", "s1", "s2") == 1
    assert r.sinterstore("i", "s1", "s2") == 2
    assert r.sunionstore("u", "s1", "s2") == 4
    assert r.sunoinstore("u2", "s1") == 3
    assert r.smove("s1", "s2", "a") == 1
    assert r.srem("s2", "a") == 1
    assert r.srandmember("s1") in (b"b", b"c")
    assert r.spop("s1") in (b"b", b"c")
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
    assert r.zscore("z", "a") == b"11"
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
    assert r.zadd("z2", 1, "b", 5, "x") == 2
    assert r.zinterstore("zi", 2, "z", "z2") == 1
    assert r.zunionstore("zu", 2, "z", "z2") == 4
    assert r.zremrangebyscore("zu", 0, 3) == 2
    assert r.zremrangebyscrore("zu", 5, 5) == 1
    assert r.zrem("z", "a", "nope") == 1
    cursor, items = r.zscan("z", 0)
    assert cursor == b"0" and items == [b"b", b"2", b"c", b"3"]


@uses("pfadd", "pfcount", "pfmerge")
def test_hyperloglog(r):
    assert r.pfadd("h1", "a", "b", "c") == 1
    assert r.pfadd("h2", "c", "d") == 1
    assert r.pfcount("h1") == 3
    assert r.pfmerge("h3", "h1", "h2") == b"OK"
    assert r.pfcount("h3") == 4


@uses("geoadd", "geodist", "geohash", "geopos", "georadius", "georadiusbymember")
def test_geo(r):
    assert r.geoadd("g", 13.361389, 38.115556, "Palermo", 15.087269, 37.502669, "Catania") == 2
    assert 166274 < float(r.geodist("g", "Palermo", "Catania")) < 166275
    assert r.geohash("g", "Palermo") == [b"sqc8b49rny0"]
    (lon, lat), = r.geopos("g", "Palermo")
    assert abs(float(lon) - 13.361389) < 1e-4 and abs(float(lat) - 38.115556) < 1e-4
    assert r.georadius("g", 15, 37, 200, "km") == [b"Palermo", b"Catania"]
    assert r.georadiusbymember("g", "Palermo", 100, "km") == [b"Palermo"]


@uses("delete", "dump", "exists", "expire", "expireat", "keys", "move", "object", "persist",
      "pexpire", "pexpireat", "pttl", "randomkey", "rename", "renamenx", "restore", "scan", "sort",
      "ttl", "type", "wait")
def test_keys(r, redis):
    assert r.randomkey() is None
    r.set("k", "v")
    assert r.exists("k", "nope") == 1 and r.type("k") == b"string"
    assert r.keys("k*") == [b"k"] and r.randomkey() == b"k"
    assert r.scan(0, "MATCH", "k") == [b"0", [b"k"]]
    assert r.object("ENCODING", "k") == b"embstr"
    assert r.expire("k", 100) == 1 and 0 < r.ttl("k") <= 100
    assert r.persist("k") == 1 and r.ttl("k") == -1
    assert r.pexpire("k", 100000) == 1 and 0 < r.pttl("k") <= 100000
    assert r.expireat("k", int(time.time()) + 100) == 1 and 0 < r.ttl("k") <= 101
    assert r.pexpireat("k", int(time.time() * 1000) + 100000) == 1
    dumped = r.dump("k")
    assert r.restore("copy", 0, dumped) == b"OK" and r.get("copy") == b"v"
    assert r.rename("copy", "copy2") == b"OK"
    assert r.renamenx("copy2", "k") == 0
    r.rpush("nums", 3, 1, 2)
    assert r.sort("nums") == [b"1", b"2", b"3"]
    assert r.sort("nums", "DESC", "LIMIT", 0, 1) == [b"3"]
    assert r.move("copy2", 3) == 1
    assert Client(host=redis.host, port=redis.port, database=3).get("copy2") == b"v"
    assert r.delete("k", "nums", "nope") == 2
    assert r.wait(0, 0) == 0  # no replicas


@uses("migrate")
def test_migrate(r):
    with RedisServer(unix=False) as other:
        r.set("mk", "mv")
        assert r.migrate(other.host, other.port, "mk", 0, 5000) == b"OK"
        assert r.get("mk") is None
        assert Client(host=other.host, port=other.port).get("mk") == b"mv"


@uses("eval", "evalsha", "script_debug", "script_exists", "script_flush", "script_kill",
      "script_load")
def test_scripting(r):
    assert r.eval("return {KEYS[1], ARGV[1]}", 1, "key", "arg") == [b"key", b"arg"]
    sha = r.script_load("return 42")
    assert r.evalsha(sha, 0) == 42
    assert r.script_exists(sha, "0" * 40) == [1, 0]
    assert r.script_flush() == b"OK"
    assert r.script_exists(sha) == [0]
    with pytest.raises(ReplyError, match="NOTBUSY"):
        r.script_kill()
    assert r.script_debug("NO") == b"OK"


@uses("publish")
def test_publish(r, redis):
    sub = PubSubClient(host=redis.host, port=redis.port)
    sub.subscribe("news")
    assert sub.get() == [b"subscribe", b"news", 1]
    assert r.publish("news", "hello") == 1
    assert sub.get() == [b"message", b"news", b"hello"]
    sub.close()


@uses("subscribe", "psubscribe", "unsubscribe", "punsubscribe")
def test_subscribe_family(client, redis):
    sub = PubSubClient(host=redis.host, port=redis.port)
    assert sub.subscribe("a", "b") is None  # write only: confirmations come from get()
    sub.psubscribe("p*")
    assert [sub.get() for _ in range(3)] == [[b"subscribe", b"a", 1], [b"subscribe", b"b", 2],
                                            [b"psubscribe", b"p*", 3]]
    client.publish("pq", "1")
    assert sub.get() == [b"pmessage", b"p*", b"pq", b"1"]
    sub.unsubscribe("a")
    sub.punsubscribe("p*")
    assert [sub.get() for _ in range(2)] == [[b"unsubscribe", b"a", 2], [b"punsubscribe", b"p*", 1]]
    sub.close()


@uses("multi", "exec", "discard", "watch", "unwatch")
def test_transactions(client, redis):
    assert client.multi() == b"OK"
    assert client.set("t", 1) == b"QUEUED"
    assert client.incr("t") == b"QUEUED"
    assert client.exec() == [b"OK", 2]
    client.multi()
    client.set("t", 100)
    assert client.discard() == b"OK" and client.get("t") == b"2"
    assert client.watch("t") == b"OK" and client.unwatch() == b"OK"
    client.watch("t")
    Client(host=redis.host, port=redis.port).set("t", "changed")
    client.multi()
    client.set("t", "mine")
    assert client.exec() is None  # the watched key changed: aborted
    assert client.get("t") == b"changed"


def test_blocking_pop_is_woken_by_a_push(client, redis):
    pusher = Client(host=redis.host, port=redis.port)
    threading.Timer(0.2, pusher.rpush, ("q", "job")).start()
    assert client.blpop("q", 5) == [b"q", b"job"]


def test_every_method_is_exercised():
    public = set()
    for mixin in (commands.Connection, commands.Geo, commands.Hash, commands.HyperLogLog,
                  commands.Key, commands.List, commands.Publish, commands.Scripting,
                  commands.Set, commands.SSet, commands.String, commands.Subscribe,
                  commands.Transaction):
        public.update(name for name, value in vars(mixin).items()
                      if not name.startswith("_") and inspect.isfunction(value))
    public.discard("write")  # Subscribe's abstract hook, not a command
    assert sorted(public - EXERCISED) == []
