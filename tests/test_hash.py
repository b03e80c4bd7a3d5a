"""HashClient and HashPool against three real redis-servers: data placement,
routing, bulk mode, dead buckets, threads."""
import subprocess
import threading
from binascii import crc_hqx

import pytest

import pyredis
from fakeserver import FakeRedis, serve
from servers import RedisServer, free_port
from pyredis import Client, HashClient, HashPool
from pyredis.exceptions import (
    ProtocolError,
    PyRedisBulkError,
    PyRedisConnClosed,
    PyRedisConnError,
    PyRedisConnReadTimeout,
    PyRedisError,
    ReplyError,
)

# A bucket server going away: EOF or reset, depending on timing.
GONE = (PyRedisConnClosed, PyRedisConnError)


def start_server():
    try:
        return RedisServer().start()
    except RuntimeError as exc:  # a missing server fails the run, never skips it
        pytest.fail(str(exc), pytrace=False)


def restart(server):
    """Start a killed server again on the same port (its data is gone)."""
    server.proc = subprocess.Popen(server._argv(), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.STDOUT, cwd=server.dir)
    server._wait_ready()


@pytest.fixture(scope="module")
def servers():
    started = []
    try:
        for _ in range(3):
            started.append(start_server())
        yield started
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def ring(servers):
    """The three servers, emptied before the test."""
    for server in servers:
        server.flushall()
    return servers


@pytest.fixture
def victim():
    """A server of its own, for tests that kill it."""
    server = start_server()
    yield server
    server.stop()


def pairs(servers):
    return [(server.host, server.port) for server in servers]


def name(server):
    return "%s_%s" % (server.host, server.port)


@pytest.fixture
def client(ring):
    c = HashClient(pairs(ring))
    yield c
    c.close()


def keys_on(server, database=None):
    with Client(host=server.host, port=server.port, database=database) as c:
        return set(c.keys("*"))


def bucket(tag, count=3):
    """Reference placement, computed here: CRC16/XMODEM of the tag, mod 16384, mod count."""
    return crc_hqx(tag, 0) % 16384 % count


def key_in(index, prefix="k", count=3):
    """Some key (without hash tag) that lives on bucket ``index``."""
    for i in range(1000):
        key = "%s%d" % (prefix, i)
        if bucket(key.encode(), count) == index:
            return key
    raise AssertionError("no key found")


# -- exports and construction ----------------------------------------------------
def test_exported_names():
    assert pyredis.HashClient is pyredis.client.HashClient is HashClient
    assert pyredis.HashPool is pyredis.pool.HashPool is HashPool
    assert pyredis.pool.HashClient is HashClient
    assert {"HashClient", "HashPool"} <= set(pyredis.__all__)
    assert "HashClient" in pyredis.client.__all__
    assert "HashPool" in pyredis.pool.__all__
    assert HashClient._cluster is True and HashPool._cluster is True


def test_bad_bucket_lists(ring):
    for bad in ([], None, [("127.0.0.1",)], [("127.0.0.1", 1, 2)], [42]):
        with pytest.raises(PyRedisError):
            HashClient(bad)
        with pytest.raises(PyRedisError):
            HashPool(bad)
    with pytest.raises(TypeError):
        HashClient(pairs(ring), bogus=1)


def test_no_io_before_the_first_command():
    port = free_port()  # nothing listens there
    c = HashClient([("127.0.0.1", port)])
    assert c.closed is False
    assert c.buckets == [("127.0.0.1", port)]
    with pytest.raises(PyRedisConnError):
        c.ping(sock="127.0.0.1_%d" % port)
    assert c.closed is True


# -- data placement --------------------------------------------------------------
PLACEMENT = [
    # key, what picks its slot: pyredis 1.0's rule (docs/design/contract.md,
    # HashClient: placement must match upstream's, quirks included), which differs from the Redis Cluster
    # spec for empty or "reversed" tags
    ("blarg", b"blarg"),
    ("{user1000}.following", b"user1000"),
    ("{user1000}.followers", b"user1000"),
    ("foo{}{bar}", b""),
    ("foo{{bar}}zap", b"{bar"),
    ("foo{bar}{zap}", b"bar"),
    ("{}abc", b""),
    ("}{x}", b""),
    ("{}:session:9", b""),
    ("user:}{42}", b""),
    ("{abc", b"{abc"),
    ("ab}c", b"ab}c"),
    ("tag{k0}x", b"k0"),
    ("tag{k1}y", b"k1"),
    ("tag{k2}z", b"k2"),
    ("ключ", "ключ".encode()),
    ("ü{ä}x", "ä".encode()),
]


def test_blarg_lives_on_the_third_bucket(client, ring):
    # upstream: slot_from_key("blarg") == 5534, 5534 % 3 == 2
    assert bucket(b"blarg") == 2
    client.set("blarg", "v")
    assert [keys_on(server) for server in ring] == [set(), set(), {b"blarg"}]


def test_keys_land_where_slot_mod_buckets_says(client, ring):
    keys = [key for key, _ in PLACEMENT] + ["key:%d" % i for i in range(150)]
    tags = dict(PLACEMENT)
    for key in keys:
        client.set(key, key)
    expected = [set(), set(), set()]
    for key in keys:
        expected[bucket(tags.get(key, key.encode()))].add(key.encode())
    assert all(len(found) > 5 for found in expected)
    assert [keys_on(server) for server in ring] == expected
    for key in keys:
        assert client.get(key) == key.encode()


def test_bytes_and_int_keys(client, ring):
    client.set(b"\xff\x00raw", 1)
    client.set(12345, 2)
    client.set(b"a{bc}d", 3)
    client.set(bytearray(b"ba"), 4)
    assert b"\xff\x00raw" in keys_on(ring[bucket(b"\xff\x00raw")])
    assert b"12345" in keys_on(ring[bucket(b"12345")])
    assert b"a{bc}d" in keys_on(ring[bucket(b"bc")])
    assert b"ba" in keys_on(ring[bucket(b"ba")])


def test_order_of_buckets_is_the_placement(ring):
    reordered = [ring[2], ring[0], ring[1]]
    with HashClient(pairs(reordered)) as c:
        c.set("blarg", 1)
    assert keys_on(ring[1]) == {b"blarg"}  # bucket index 2 of the new order


def test_two_bucket_ring(ring):
    with HashClient(pairs(ring[:2])) as c:
        for i in range(40):
            c.set("two:%d" % i, i)
    for index in (0, 1):
        assert keys_on(ring[index]) == {("two:%d" % i).encode() for i in range(40)
                                        if bucket(b"two:%d" % i, 2) == index}
    assert keys_on(ring[2]) == set()


def test_unix_socket_buckets_place_keys_like_tcp(ring):
    with HashClient([server.unix_sock for server in ring]) as c:
        for i in range(30):
            c.set("u%d" % i, i)
        assert c.ping(sock=ring[1].unix_sock) == b"PONG"
        assert c._conns[1].unix_sock == ring[1].unix_sock
    for index, server in enumerate(ring):
        assert keys_on(server) == {b"u%d" % i for i in range(30) if bucket(b"u%d" % i) == index}


def test_repeated_bucket_shares_one_connection(ring):
    with HashClient(pairs([ring[0], ring[0], ring[1]])) as c:
        for i in range(30):
            c.set("d%d" % i, i)
        assert len([conn for conn in c._conns if conn is not None]) == 2
    assert keys_on(ring[0]) == {b"d%d" % i for i in range(30) if bucket(b"d%d" % i) < 2}
    assert keys_on(ring[1]) == {b"d%d" % i for i in range(30) if bucket(b"d%d" % i) == 2}


def test_connection_settings_reach_every_bucket(ring):
    with HashClient(pairs(ring), database=3, encoding="utf-8") as c:
        for i in range(20):
            c.set("db%d" % i, "v%d" % i)
        assert c.get("db7") == "v7"
    assert all(keys_on(server) == set() for server in ring)
    assert set().union(*(keys_on(server, database=3) for server in ring)) == {
        b"db%d" % i for i in range(20)}


# -- routing -----------------------------------------------------------------------
def test_execute_by_shard_key_and_by_sock(client, ring):
    key = key_in(1)
    assert client.execute("SET", key, "v", shard_key=key) == b"OK"
    assert client.execute("GET", key, sock=name(ring[1])) == b"v"
    assert client.execute("GET", key, sock=name(ring[0])) is None
    # the shard key alone picks the bucket, whatever the command's key
    assert client.execute("SET", "elsewhere", "x", shard_key=key) == b"OK"
    assert keys_on(ring[1]) == {key.encode(), b"elsewhere"}


@pytest.mark.parametrize("kwargs", [{}, {"shard_key": None}, {"shard_key": ""},
                                    {"shard_key": b""}, {"shard_key": 0}, {"sock": ""},
                                    {"shard_key": "k", "sock": "x_1"}])
def test_exactly_one_of_shard_key_and_sock(client, ring, kwargs):
    with pytest.raises(PyRedisError):
        client.execute("PING", **kwargs)
    assert client.closed is False


def test_unknown_bucket_name(client):
    with pytest.raises(KeyError):
        client.execute("PING", sock="127.0.0.1_1")
    with pytest.raises(KeyError):
        client.ping(sock="nope")
    assert client.closed is False


def test_key_commands_route_by_their_key(client, ring):
    assert client.set("blarg", "x") == b"OK"
    assert client.hset("h{blarg}", "f", "1") == 1
    assert client.rpush("l{blarg}", "a", "b") == 2
    assert client.sadd("s{blarg}", "m") == 1
    assert client.zadd("z{blarg}", 1, "m") == 1
    assert client.incr("n{blarg}") == 1
    assert client.pfadd("p{blarg}", "a") == 1
    # bitop routes by its destination (args[1])
    assert client.bitop("AND", "dest{blarg}", "blarg") == 1
    assert keys_on(ring[2]) == {b"blarg", b"h{blarg}", b"l{blarg}", b"s{blarg}", b"z{blarg}",
                                b"n{blarg}", b"p{blarg}", b"dest{blarg}"}
    assert client.hgetall("h{blarg}") == [b"f", b"1"]
    assert client.lrange("l{blarg}", 0, -1) == [b"a", b"b"]
    assert client.delete("blarg") == 1
    assert client.exists("blarg") == 0


def test_explicit_commands_take_sock_or_shard_key(client, ring):
    for server in ring:
        assert client.ping(sock=name(server)) == b"PONG"
    assert client.ping(shard_key="blarg") == b"PONG"
    assert client.echo("hi", sock=name(ring[0])) == b"hi"
    for i in range(20):
        client.set("e%d" % i, i)
    for index, server in enumerate(ring):
        expected = {b"e%d" % i for i in range(20) if bucket(b"e%d" % i) == index}
        assert set(client.keys("*", sock=name(server))) == expected
        cursor, found = client.scan(0, "COUNT", 100, sock=name(server))
        assert set(found) == expected
    assert client.keys("*", shard_key="blarg") == client.keys("*", sock=name(ring[2]))
    assert client.eval("return redis.call('GET', KEYS[1])", 1, "e3",
                       shard_key="e3") == b"3"


def test_errors_before_any_io(client):
    with pytest.raises(NotImplementedError):
        client.publish("channel", "message")
    with pytest.raises(IndexError):
        client.get()
    assert client.closed is False


def test_transaction_on_one_bucket(client, ring):
    assert client.multi(shard_key="{t}") == b"OK"
    assert client.set("{t}a", 1) == b"QUEUED"
    assert client.incr("{t}b") == b"QUEUED"
    assert client.exec(shard_key="{t}") == [b"OK", 1]
    assert keys_on(ring[bucket(b"t")]) == {b"{t}a", b"{t}b"}


def test_reply_error_closes_nothing(client):
    client.set("s", "x")
    with pytest.raises(ReplyError):
        client.lpush("s", "y")
    assert client.closed is False
    assert client.get("s") == b"x"
    with pytest.raises(TypeError):  # a bad argument, before any I/O
        client.set("s", None)
    assert client.closed is False
    assert client.get("s") == b"x"


def test_close_is_permanent_and_idempotent(ring):
    c = HashClient(pairs(ring))
    c.set(key_in(0), 1)
    with c:
        assert c.closed is False
    assert c.closed is True
    c.close()
    assert c.closed is True
    for index in range(3):  # a used bucket and never-used ones alike
        with pytest.raises(PyRedisConnError):
            c.get(key_in(index))
    with pytest.raises(PyRedisConnError):
        c.ping(sock=name(ring[2]))


# -- bulk mode -----------------------------------------------------------------------
class CountingSocket:
    """Wraps a connected socket and counts sendall calls."""

    def __init__(self, sock):
        self.sock = sock
        self.sendalls = 0

    def sendall(self, data):
        self.sendalls += 1
        return self.sock.sendall(data)

    def __getattr__(self, attr):
        return getattr(self.sock, attr)


def count_writes(client, ring):
    """Connect every bucket, then count its writes."""
    counters = []
    for index, server in enumerate(ring):
        client.ping(sock=name(server))
        conn = client._conns[index]
        counters.append(CountingSocket(conn._sock))
        conn._sock = counters[-1]
        conn._fd = -1  # make the compiled _io use the (wrapped) socket object
    return counters


def test_bulk_results_in_command_order(client, ring):
    assert client.bulk is False
    client.bulk_start()
    assert client.bulk is True
    expected = []
    for i in range(60):
        assert client.set("b%d" % i, i) is None
        expected.append(b"OK")
    for i in range(60):
        client.get("b%d" % i)
        expected.append(b"%d" % i)
    results = client.bulk_stop()
    assert client.bulk is False
    assert results == expected
    for index, server in enumerate(ring):
        assert keys_on(server) == {b"b%d" % i for i in range(60) if bucket(b"b%d" % i) == index}


def test_bulk_error_replies_are_results(client, ring):
    client.set("s", "x")
    client.bulk_start()
    client.get("s")
    client.lpush("s", "y")  # WRONGTYPE
    client.incr("other")
    client.execute("NOSUCHCOMMAND", sock=name(ring[0]))
    client.get("s")
    results = client.bulk_stop()
    assert results[0] == b"x" and results[2] == 1 and results[4] == b"x"
    assert isinstance(results[1], ReplyError) and "WRONGTYPE" in str(results[1])
    assert isinstance(results[3], ReplyError)
    assert client.closed is False
    assert client.get("s") == b"x"


def test_bulk_one_write_per_bucket_per_flush(client, ring):
    counters = count_writes(client, ring)
    client.bulk_start(bulk_size=30)
    for i in range(30):
        client.set("w%d" % i, i)
    used = {bucket(b"w%d" % i) for i in range(30)}
    assert used == {0, 1, 2}
    assert [c.sendalls for c in counters] == [1, 1, 1]  # one auto flush
    for i in range(10):
        client.get("w%d" % i)
    assert [c.sendalls for c in counters] == [1, 1, 1]  # buffered, not written
    results = client.bulk_stop()
    used = {bucket(b"w%d" % i) for i in range(10)}
    assert [c.sendalls for c in counters] == [2 if i in used else 1 for i in range(3)]
    assert results == [b"OK"] * 30 + [b"%d" % i for i in range(10)]


def test_bulk_auto_flush_writes_every_bulk_size(client, ring):
    client.bulk_start(bulk_size=7)
    for i in range(10):
        client.set("f%d" % i, i)
    on_servers = set().union(*(keys_on(server) for server in ring))
    assert on_servers == {b"f%d" % i for i in range(7)}  # the last 3 are still buffered
    assert client.bulk_stop() == [b"OK"] * 10
    assert len(set().union(*(keys_on(server) for server in ring))) == 10


def test_bulk_single_bucket_batch(client, ring):
    client.bulk_start(bulk_size=5)
    for i in range(12):
        client.rpush("{one}list", i)
    assert client.bulk_stop() == list(range(1, 13))
    assert keys_on(ring[bucket(b"one")]) == {b"{one}list"}


def test_bulk_without_results(client, ring):
    client.bulk_start(bulk_size=4, keep_results=False)
    for i in range(9):
        client.set("n%d" % i, i)
    client.lpush("n0", "x")  # an error reply, discarded
    assert client.bulk_stop() is None
    assert client.mget("n3") == [b"3"]
    assert len(set().union(*(keys_on(server) for server in ring))) == 9


@pytest.mark.parametrize("size", [0, None, -1])
def test_bulk_size_zero_never_flushes_early(client, ring, size):
    client.bulk_start(bulk_size=size)
    for i in range(20):
        client.set("z%d" % i, i)
    assert all(keys_on(server) == set() for server in ring)
    assert client.bulk_stop() == [b"OK"] * 20


def test_bulk_mode_state_errors(client):
    with pytest.raises(PyRedisError, match="Not in bulk mode"):
        client.bulk_stop()
    client.bulk_start()
    with pytest.raises(PyRedisError, match="Already in bulk mode"):
        client.bulk_start()
    assert client.bulk_stop() == []
    client.bulk_start()
    client.set("again", 1)
    assert client.bulk_stop() == [b"OK"]


def test_bulk_bad_argument_queues_nothing(client):
    client.bulk_start()
    client.set("a", 1)
    with pytest.raises(TypeError):
        client.set("b", None)
    with pytest.raises(PyRedisError):
        client.execute("PING")
    client.get("a")
    assert client.bulk_stop() == [b"OK", b"1"]
    assert client.closed is False


def test_bulk_commands_on_a_closed_client(client):
    client.close()
    client.bulk_start()
    with pytest.raises(PyRedisConnError):
        client.set("a", 1)
    assert client.bulk_stop() == []


# -- dead buckets ------------------------------------------------------------------------
def test_killed_bucket_closes_the_whole_client(ring, victim):
    c = HashClient(pairs([ring[0], ring[1], victim]))
    dead, alive = key_in(2), key_in(0)
    c.set(dead, 1)
    c.set(alive, 1)
    victim.kill()
    with pytest.raises(GONE):
        c.get(dead)
    assert c.closed is True
    assert all(conn.closed for conn in c._conns if conn is not None)
    with pytest.raises(PyRedisConnError):  # closed for good, healthy buckets too
        c.get(alive)
    restart(victim)
    with pytest.raises(PyRedisConnError):
        c.get(dead)


def test_bucket_down_at_connect_closes_the_client(ring):
    port = free_port()
    c = HashClient(pairs(ring[:2]) + [("127.0.0.1", port)])
    assert c.set(key_in(0), 1) == b"OK"
    with pytest.raises(PyRedisConnError):
        c.get(key_in(2))
    assert c.closed is True
    assert c._conns[0].closed is True


def test_read_timeout_closes_the_client(ring):
    c = HashClient(pairs(ring), read_timeout=0.2)
    c.set(key_in(0), 1)
    with pytest.raises(PyRedisConnReadTimeout):
        c.blpop("{%s}empty" % key_in(1), 2)
    assert c.closed is True
    assert c._conns[0].closed is True


def test_protocol_error_closes_the_client(ring):
    def garbage(peer):
        peer.read_command()
        peer.send(b"%not-a-count\r\n")
        serve(peer)

    with FakeRedis(garbage, serve) as fake:
        c = HashClient(pairs(ring[:1]) + [(fake.host, fake.port)])
        fake_name = "%s_%s" % (fake.host, fake.port)
        assert c.ping(sock=name(ring[0])) == b"PONG"
        with pytest.raises(ProtocolError):
            c.echo("x", sock=fake_name)
        assert c.closed is True
        with pytest.raises(PyRedisConnError):
            c.ping(sock=name(ring[0]))
        # a pool gets a fresh client whose fake connection is a new, sane one
        pool = HashPool(pairs(ring[:1]) + [(fake.host, fake.port)], pool_size=1)
        assert pool.echo("y", sock=fake_name) == b"y"


def test_killed_bucket_during_bulk_flush(ring, victim):
    c = HashClient(pairs([ring[0], ring[1], victim]))
    c.ping(sock=name(victim))
    c.bulk_start(bulk_size=6)
    for i in range(6):
        c.set("k%d" % i, i)
    victim.kill()
    with pytest.raises(GONE):
        for i in range(6, 30):  # the next flush meets the dead bucket
            c.set("k%d" % i, i)
    assert c.closed is True
    assert c.bulk is True  # as Client: left in bulk mode after a failed flush
    with pytest.raises(PyRedisBulkError) as info:
        c.bulk_stop()  # never the replies read so far as if all had succeeded
    assert isinstance(info.value.__cause__, GONE) and c.bulk is False
    replies = info.value.replies  # the batch before the failure, and what was read of the next
    assert 6 <= len(replies) < 12 and replies == [b"OK"] * len(replies)


def test_pool_drops_a_client_with_a_dead_bucket(ring, victim):
    pool = HashPool(pairs([ring[0], ring[1], victim]), pool_size=2)
    dead, alive = key_in(2), key_in(0)
    assert pool.set(dead, 1) == b"OK"
    assert pool.set(alive, 1) == b"OK"
    first = pool._pool_free
    assert len(first) == 1
    victim.kill()
    with pytest.raises(GONE):
        pool.get(dead)
    assert pool._pool_free == frozenset()  # dropped, not kept for the next caller
    assert next(iter(first)).closed is True
    assert pool.get(alive) == b"1"  # a fresh client, other bucket
    with pytest.raises(PyRedisConnError):  # refused while the server is down
        pool.get(dead)
    restart(victim)
    assert pool.get(dead) is None  # back, empty
    assert pool.set(dead, 2) == b"OK"
    assert pool.get(dead) == b"2"
    assert all(not client.closed for client in pool._pool_free)


def test_pool_timeout_drops_the_client(ring):
    pool = HashPool(pairs(ring), pool_size=1, read_timeout=0.2)
    with pytest.raises(PyRedisConnReadTimeout):
        pool.blpop("empty", 2)
    assert pool._pool_free == frozenset()
    assert pool.ping(sock=name(ring[0])) == b"PONG"


def test_pool_reply_error_keeps_the_client(ring):
    pool = HashPool(pairs(ring), pool_size=1)
    pool.set("s", "x")
    client = next(iter(pool._pool_free))
    with pytest.raises(ReplyError):
        pool.lpush("s", "y")
    assert pool._pool_free == frozenset([client])


# -- HashPool --------------------------------------------------------------------------
def test_pool_settings_and_routing(ring):
    with HashPool(pairs(ring), database=2, encoding="utf-8", pool_size=3, read_timeout=1.5) as pool:
        assert pool.buckets == pairs(ring)
        assert pool.pool_size == 3 and pool.database == 2
        assert pool.set("blarg", "v") == "OK"
        assert pool.get("blarg") == "v"
        assert pool.execute("GET", "blarg", shard_key="blarg") == "v"
        assert pool.keys("*", sock=name(ring[2])) == ["blarg"]
        assert pool.ping(shard_key="x") == "PONG"
        with pytest.raises(NotImplementedError):
            pool.publish("c", "m")
        with pytest.raises(PyRedisError):
            pool.execute("PING")
        with pytest.raises(KeyError):
            pool.ping(sock="nope")
        client = next(iter(pool._pool_free))
        assert isinstance(client, HashClient)
        assert client._conns[2]._read_timeout == 1.5
        assert not hasattr(pool, "multi")  # transactions need a leased client
        with pool.lease() as leased:
            assert leased is client
            leased.multi(shard_key="{t}")
            leased.set("{t}a", 1)
            assert leased.exec(shard_key="{t}") == ["OK"]
    assert client.closed is True  # closing the pool closed its idle client
    assert keys_on(ring[2], database=2) == {b"blarg"}
    assert keys_on(ring[bucket(b"t")], database=2) >= {b"{t}a"}


def test_pool_under_threads(ring):
    pool = HashPool(pairs(ring), pool_size=3, pool_timeout=10)
    errors = []
    clients = set()

    def work(n):
        try:
            for i in range(150):
                key = "t%d:%d" % (n, i)
                pool.set(key, i)
                assert pool.get(key) == b"%d" % i
                pool.incr("counter{%d}" % (i % 3))
            with pool.lease() as client:
                clients.add(client)
                client.bulk_start()
                for i in range(50):
                    client.get("t%d:%d" % (n, i))
                assert client.bulk_stop() == [b"%d" % i for i in range(50)]
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(clients) <= 3
    assert sum(int(pool.get("counter{%d}" % j)) for j in range(3)) == 6 * 150
    for index, server in enumerate(ring):
        assert {k for k in keys_on(server) if k.startswith(b"t")} == {
            b"t%d:%d" % (n, i) for n in range(6) for i in range(150)
            if bucket(b"t%d:%d" % (n, i)) == index}
    pool.close()


def test_mixin_matrix():
    from pyredis import commands

    everything = {getattr(commands, n) for n in commands.__all__} - {commands.Subscribe}
    assert set(HashClient.__mro__) >= everything
    assert set(HashPool.__mro__) >= everything - {commands.Transaction, commands.BaseCommand}
    assert commands.Transaction not in HashPool.__mro__
    assert commands.Subscribe not in HashClient.__mro__ + HashPool.__mro__


def test_bulk_large_batches_are_written_before_the_flush(client, ring, monkeypatch):
    from pyredis.client import hash as hash_module

    monkeypatch.setattr(hash_module, "BULK_WRITE_LIMIT", 1000)
    counters = count_writes(client, ring)
    client.bulk_start(bulk_size=0)
    value = "x" * 600
    keys = ["big{%s}%d" % (key_in(0), i) for i in range(5)]
    for key in keys:
        client.set(key, value)
    client.get(key_in(1))
    # bucket 0 wrote every second command (over 1000 bytes), replies still unread
    assert [c.sendalls for c in counters] == [2, 0, 0]
    assert keys_on(ring[0]) == set(k.encode() for k in keys[:4])
    assert client.bulk_stop() == [b"OK"] * 5 + [None]
    assert [c.sendalls for c in counters] == [3, 1, 0]
    assert client.get(keys[4]) == value.encode()


# -- TLS ---------------------------------------------------------------------------------
def test_tls_buckets(ring, redis_tls_server):
    import ssl

    tls = redis_tls_server
    tls.flushall()
    context = ssl.create_default_context()
    tls.ca.configure_trust(context)
    buckets = [(ring[0].host, ring[0].port), (tls.host, tls.tls_port)]
    with pytest.raises(PyRedisError):
        HashClient(buckets + [ring[1].unix_sock], ssl_context=context)
    with pytest.raises(PyRedisError):
        HashPool([ring[1].unix_sock], ssl=True)
    with HashClient([(tls.host, tls.tls_port)], ssl_context=context) as c:
        assert c.set("k", "v") == b"OK"
        assert isinstance(c._conns[0]._sock, ssl.SSLSocket)
    pool = HashPool([(tls.host, tls.tls_port)], ssl=True)
    assert pool.ssl is True and pool.ssl_context is None  # nothing built before first use
    first, second = pool._connect(), pool._connect()
    assert first._settings["ssl_context"] is second._settings["ssl_context"] is pool.ssl_context
    with pytest.raises(PyRedisConnError):  # the default context does not trust the test CA
        pool.ping(sock="%s_%s" % (tls.host, tls.tls_port))
    with HashPool([(tls.host, tls.tls_port)], ssl_context=context) as pool:
        assert pool.get("k") == b"v"
