"""AsyncHashClient and AsyncHashPool against three real redis-servers (the
fixtures of test_hash.py): data placement, routing, bulk mode, dead buckets,
concurrent tasks."""
import asyncio
import inspect

import pytest

import pyredis
from async_support import async_test_asyncio_only as async_test  # topology tests: one loop
from pyredis import AsyncHashClient, AsyncHashPool, HashClient
from pyredis.client import async_hash as async_hash_module
from pyredis.exceptions import (
    PyRedisBulkError,
    PyRedisConnError,
    PyRedisConnReadTimeout,
    PyRedisError,
    ReplyError,
)
from servers import free_port
from test_hash import (  # noqa: F401  (servers, ring, victim are fixtures)
    GONE,
    PLACEMENT,
    bucket,
    key_in,
    keys_on,
    name,
    pairs,
    restart,
    ring,
    servers,
    victim,
)


def count_writes(client):
    """Count the writes of every bucket connection (one per send_packed call)."""
    counts = [0] * len(client._conns)
    for index in range(len(client._conns)):
        conn = client._connection(index)
        send = conn.send_packed

        async def counting(data, count=0, out=None, index=index, send=send):
            counts[index] += 1
            return await send(data, count, out)

        conn.send_packed = counting
    return counts


# -- exports and construction ----------------------------------------------------
def test_exported_names():
    assert pyredis.AsyncHashClient is pyredis.client.AsyncHashClient is AsyncHashClient
    assert pyredis.AsyncHashPool is pyredis.pool.AsyncHashPool is AsyncHashPool
    assert pyredis.pool.AsyncHashClient is AsyncHashClient
    assert {"AsyncHashClient", "AsyncHashPool"} <= set(pyredis.__all__)
    assert "AsyncHashClient" in pyredis.client.__all__
    assert "AsyncHashPool" in pyredis.pool.__all__
    assert AsyncHashClient._cluster is True and AsyncHashPool._cluster is True


def test_mixin_matrix():
    from pyredis import commands

    everything = {getattr(commands, n) for n in commands.__all__} - {commands.Subscribe}
    assert set(AsyncHashClient.__mro__) >= everything
    assert set(AsyncHashPool.__mro__) >= everything - {commands.Transaction, commands.BaseCommand}
    assert commands.Transaction not in AsyncHashPool.__mro__


def test_bad_bucket_lists(ring):
    for bad in ([], None, [("127.0.0.1",)], [42]):
        with pytest.raises(PyRedisError):
            AsyncHashClient(bad)
        with pytest.raises(PyRedisError):
            AsyncHashPool(bad)
    with pytest.raises(TypeError):
        AsyncHashClient(pairs(ring), bogus=1)


# -- data placement --------------------------------------------------------------
@async_test
async def test_keys_land_where_the_sync_client_puts_them(ring):
    keys = [key for key, _ in PLACEMENT] + ["key:%d" % i for i in range(150)]
    tags = dict(PLACEMENT)
    async with AsyncHashClient(pairs(ring)) as client:
        for key in keys:
            assert await client.set(key, key) == b"OK"
        expected = [set(), set(), set()]
        for key in keys:
            expected[bucket(tags.get(key, key.encode()))].add(key.encode())
        assert all(len(found) > 5 for found in expected)
        assert [keys_on(server) for server in ring] == expected
        assert b"blarg" in expected[2]  # upstream: slot 5534, bucket 2 of 3
        with HashClient(pairs(ring)) as sync:  # the sync twin reads them back
            for key in keys:
                assert sync.get(key) == key.encode()
        for key in keys:
            assert await client.get(key) == key.encode()


@async_test
async def test_order_of_buckets_and_shared_connections(ring):
    async with AsyncHashClient(pairs([ring[2], ring[0], ring[0]])) as client:
        await client.set("blarg", 1)  # bucket index 2 of this order: ring[0]
        assert len([conn for conn in client._conns if conn is not None]) == 1
    assert keys_on(ring[0]) == {b"blarg"}


@async_test
async def test_settings_reach_every_bucket(ring):
    async with AsyncHashClient(pairs(ring), database=3, encoding="utf-8") as client:
        for i in range(20):
            await client.set("db%d" % i, "v%d" % i)
        assert await client.get("db7") == "v7"
    assert all(keys_on(server) == set() for server in ring)
    assert set().union(*(keys_on(server, database=3) for server in ring)) == {
        b"db%d" % i for i in range(20)}


# -- routing -----------------------------------------------------------------------
@async_test
async def test_execute_by_shard_key_and_by_sock(ring):
    async with AsyncHashClient(pairs(ring)) as client:
        key = key_in(1)
        assert await client.execute("SET", key, "v", shard_key=key) == b"OK"
        assert await client.execute("GET", key, sock=name(ring[1])) == b"v"
        assert await client.execute("GET", key, sock=name(ring[0])) is None
        for server in ring:
            assert await client.ping(sock=name(server)) == b"PONG"
        assert await client.keys("*", sock=name(ring[1])) == [key.encode()]
        assert await client.multi(shard_key="{t}") == b"OK"
        assert await client.incr("{t}n") == b"QUEUED"
        assert await client.exec(shard_key="{t}") == [1]
        for kwargs in ({}, {"shard_key": ""}, {"shard_key": 0}, {"sock": ""},
                       {"shard_key": "k", "sock": name(ring[0])}):
            with pytest.raises(PyRedisError):
                await client.execute("PING", **kwargs)
        with pytest.raises(KeyError):
            await client.ping(sock="nope")
        with pytest.raises(NotImplementedError):  # at call time, as the sync twin
            client.publish("channel", "message")
        with pytest.raises(IndexError):
            client.get()
        assert client.closed is False
    assert keys_on(ring[bucket(b"t")]) >= {b"{t}n"}


@async_test
async def test_reply_error_closes_nothing(ring):
    async with AsyncHashClient(pairs(ring)) as client:
        await client.set("s", "x")
        with pytest.raises(ReplyError, match="WRONGTYPE"):
            await client.lpush("s", "y")
        assert client.closed is False
        assert await client.get("s") == b"x"


@async_test
async def test_close_is_permanent_and_idempotent(ring):
    client = AsyncHashClient(pairs(ring))
    await client.set(key_in(0), 1)
    await client.close()
    await client.close()
    assert client.closed is True
    for index in range(3):  # a used bucket and never-used ones alike
        with pytest.raises(PyRedisConnError):
            await client.get(key_in(index))


@async_test
async def test_tasks_sharing_one_client_get_their_own_replies(ring):
    async with AsyncHashClient(pairs(ring)) as client:
        async def work(n):
            for i in range(20):
                key = "shared%d:%d" % (n, i)
                assert await client.set(key, key) == b"OK"
                assert await client.get(key) == key.encode()

        await asyncio.gather(*(work(n) for n in range(20)))
        assert client.closed is False
    assert sum(len(keys_on(server)) for server in ring) == 400


# -- bulk mode -----------------------------------------------------------------------
@async_test
async def test_bulk_results_in_command_order(ring):
    async with AsyncHashClient(pairs(ring)) as client:
        assert client.bulk_start() is None  # synchronous, as upstream
        assert client.bulk is True
        assert not inspect.iscoroutinefunction(AsyncHashClient.bulk_start)
        for i in range(60):
            assert await client.set("b%d" % i, i) is None
        for i in range(60):
            await client.get("b%d" % i)
        await client.lpush("b0", "x")  # WRONGTYPE: a result, not raised
        results = await client.bulk_stop()
        assert client.bulk is False
        assert results[:120] == [b"OK"] * 60 + [b"%d" % i for i in range(60)]
        assert isinstance(results[120], ReplyError) and len(results) == 121
        assert client.closed is False
    for index, server in enumerate(ring):
        assert keys_on(server) == {b"b%d" % i for i in range(60) if bucket(b"b%d" % i) == index}


@async_test
async def test_bulk_one_write_per_bucket_per_flush(ring):
    async with AsyncHashClient(pairs(ring)) as client:
        counts = count_writes(client)
        client.bulk_start(bulk_size=30)
        for i in range(30):
            await client.set("w%d" % i, i)
        assert {bucket(b"w%d" % i) for i in range(30)} == {0, 1, 2}
        assert counts == [1, 1, 1]  # one auto flush
        assert len(set().union(*(keys_on(server) for server in ring))) == 30
        for i in range(10):
            await client.get("w%d" % i)
        assert counts == [1, 1, 1]  # buffered, not written
        results = await client.bulk_stop()
        used = {bucket(b"w%d" % i) for i in range(10)}
        assert counts == [2 if i in used else 1 for i in range(3)]
        assert results == [b"OK"] * 30 + [b"%d" % i for i in range(10)]


@async_test
async def test_bulk_without_results_and_without_auto_flush(ring):
    async with AsyncHashClient(pairs(ring)) as client:
        client.bulk_start(bulk_size=0, keep_results=False)
        for i in range(20):
            await client.set("n%d" % i, i)
        assert all(keys_on(server) == set() for server in ring)
        assert await client.bulk_stop() is None
        assert await client.get("n3") == b"3"


@async_test
async def test_bulk_large_batches_are_written_before_the_flush(ring, monkeypatch):
    monkeypatch.setattr(async_hash_module, "BULK_WRITE_LIMIT", 1000)
    async with AsyncHashClient(pairs(ring)) as client:
        counts = count_writes(client)
        client.bulk_start(bulk_size=0)
        keys = ["big{%s}%d" % (key_in(0), i) for i in range(5)]
        for key in keys:
            await client.set(key, "x" * 600)
        assert counts == [2, 0, 0]  # every second command, replies still unread
        assert await client.bulk_stop() == [b"OK"] * 5
        assert counts == [3, 0, 0]


@async_test
async def test_bulk_mode_state_errors(ring):
    async with AsyncHashClient(pairs(ring)) as client:
        with pytest.raises(PyRedisError, match="Not in bulk mode"):
            await client.bulk_stop()
        client.bulk_start()
        with pytest.raises(PyRedisError, match="Already in bulk mode"):
            client.bulk_start()
        await client.set("a", 1)
        with pytest.raises(TypeError):
            await client.set("b", None)  # queues nothing
        with pytest.raises(PyRedisError):
            await client.execute("PING")
        await client.get("a")
        assert await client.bulk_stop() == [b"OK", b"1"]
        await client.close()
        client.bulk_start()
        with pytest.raises(PyRedisConnError):  # closed: nothing can be queued
            await client.set("a", 1)
        assert await client.bulk_stop() == []


# -- dead buckets ------------------------------------------------------------------------
@async_test
async def test_killed_bucket_closes_the_whole_client(ring, victim):
    client = AsyncHashClient(pairs([ring[0], ring[1], victim]))
    dead, alive = key_in(2), key_in(0)
    await client.set(dead, 1)
    await client.set(alive, 1)
    victim.kill()
    with pytest.raises(GONE):
        await client.get(dead)
    assert client.closed is True
    assert all(conn.closed for conn in client._conns if conn is not None)
    with pytest.raises(PyRedisConnError):  # closed for good, healthy buckets too
        await client.get(alive)
    restart(victim)
    with pytest.raises(PyRedisConnError):
        await client.get(dead)
    await client.close()


@async_test
async def test_idle_bucket_hung_up_closes_the_client(ring):
    client = AsyncHashClient(pairs(ring))
    await client.set(key_in(0), 1)
    client_id = await client.execute("CLIENT", "ID", sock=name(ring[1]))
    with HashClient(pairs(ring)) as other:
        assert other.execute("CLIENT", "KILL", "ID", client_id, sock=name(ring[1])) == 1
    for _ in range(100):  # the hang-up arrives as an event on the loop
        if client.closed:
            break
        await asyncio.sleep(0.01)
    assert client.closed is True
    with pytest.raises(PyRedisConnError):  # not only bucket 1: the client
        await client.get(key_in(0))
    await client.close()


@async_test
async def test_bucket_down_at_connect_and_read_timeout(ring):
    client = AsyncHashClient(pairs(ring[:2]) + [("127.0.0.1", free_port())])
    assert await client.set(key_in(0), 1) == b"OK"
    with pytest.raises(PyRedisConnError):
        await client.get(key_in(2))
    assert client.closed is True and client._conns[0].closed is True
    client = AsyncHashClient(pairs(ring), read_timeout=0.2)
    await client.set(key_in(0), 1)
    with pytest.raises(PyRedisConnReadTimeout):
        await client.blpop("{%s}empty" % key_in(1), 2)
    assert client.closed is True and client._conns[0].closed is True
    await client.close()


@async_test
async def test_cancelled_command_closes_the_client(ring):
    client = AsyncHashClient(pairs(ring))
    await client.ping(sock=name(ring[0]))
    task = asyncio.ensure_future(client.blpop("{%s}empty" % key_in(1), 5))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert client.closed is True  # its reply is still due: no connection is in step
    assert client._conns[0].closed is True
    await client.close()


@async_test
async def test_killed_bucket_during_bulk_flush(ring, victim):
    client = AsyncHashClient(pairs([ring[0], ring[1], victim]))
    await client.ping(sock=name(victim))
    client.bulk_start(bulk_size=6)
    for i in range(6):
        await client.set("k%d" % i, i)
    victim.kill()
    with pytest.raises(GONE):
        for i in range(6, 30):  # the next flush meets the dead bucket
            await client.set("k%d" % i, i)
    assert client.closed is True
    assert client.bulk is True  # as Client: left in bulk mode after a failed flush
    with pytest.raises(PyRedisBulkError) as failed:
        await client.bulk_stop()
    assert isinstance(failed.value.__cause__, GONE)
    # The batch before the failure, then what the live buckets answered of the
    # failed one before the first missing reply, in command order.
    replies = failed.value.replies
    assert replies[:6] == [b"OK"] * 6 and set(replies) == {b"OK"} and len(replies) < 12
    assert client.bulk is False
    await client.close()


# -- AsyncHashPool ---------------------------------------------------------------------
@async_test
async def test_pool_settings_and_routing(ring):
    async with AsyncHashPool(pairs(ring), database=2, encoding="utf-8", pool_size=3,
                             read_timeout=1.5) as pool:
        assert pool.buckets == pairs(ring)
        assert (pool.pool_size, pool.database, pool.ssl) == (3, 2, False)
        assert await pool.set("blarg", "v") == "OK"
        assert await pool.get("blarg") == "v"
        assert await pool.execute("GET", "blarg", shard_key="blarg") == "v"
        assert await pool.keys("*", sock=name(ring[2])) == ["blarg"]
        with pytest.raises(NotImplementedError):
            pool.publish("c", "m")
        with pytest.raises(PyRedisError):
            await pool.execute("PING")
        (client,) = pool._pool_shared  # every command so far shared one client
        assert isinstance(client, AsyncHashClient)
        assert client._conns[2]._read_timeout == 1.5
        assert not hasattr(pool, "multi")  # transactions need a leased client
        async with pool.lease() as leased:
            assert leased is not client and isinstance(leased, AsyncHashClient)
            await leased.multi(shard_key="{t}")
            await leased.set("{t}a", 1)
            assert await leased.exec(shard_key="{t}") == ["OK"]
    assert client.closed is True  # closing the pool closed its shared client
    assert keys_on(ring[2], database=2) == {b"blarg"}


@async_test
async def test_pool_drops_a_client_with_a_dead_bucket(ring, victim):
    pool = AsyncHashPool(pairs([ring[0], ring[1], victim]), pool_size=2)
    dead, alive = key_in(2), key_in(0)
    assert await pool.set(dead, 1) == b"OK"
    (first,) = pool._pool_shared
    victim.kill()
    with pytest.raises(GONE):
        await pool.get(dead)
    assert first.closed is True
    assert await pool.set(alive, 1) == b"OK"  # a fresh client, other bucket
    assert first not in pool._pool_shared and not pool._pool_free  # dropped
    restart(victim)
    assert await pool.get(dead) is None  # back, empty
    await pool.close()


@async_test
async def test_pool_with_20_tasks(ring):
    pool = AsyncHashPool(pairs(ring), pool_size=4, pool_timeout=10)
    leased = set()

    async def work(n):
        for i in range(30):
            key = "t%d:%d" % (n, i)
            assert await pool.set(key, i) == b"OK"
            assert await pool.get(key) == b"%d" % i
            await pool.incr("counter{%d}" % (i % 3))
        async with pool.lease() as client:
            leased.add(client)
            client.bulk_start()
            for i in range(30):
                await client.get("t%d:%d" % (n, i))
            assert await client.bulk_stop() == [b"%d" % i for i in range(30)]

    await asyncio.gather(*(work(n) for n in range(20)))
    assert len(leased) <= 4
    assert len(pool._pool_free) <= 4
    total = 0
    for j in range(3):
        total += int(await pool.get("counter{%d}" % j))
    assert total == 20 * 30
    for index, server in enumerate(ring):
        assert {k for k in keys_on(server) if k.startswith(b"t")} == {
            b"t%d:%d" % (n, i) for n in range(20) for i in range(30)
            if bucket(b"t%d:%d" % (n, i)) == index}
    await pool.close()


# -- TLS ---------------------------------------------------------------------------------
@async_test
async def test_tls_buckets(ring, redis_tls_server):
    import ssl

    tls = redis_tls_server
    tls.flushall()
    context = ssl.create_default_context()
    tls.ca.configure_trust(context)
    tls_name = "%s_%s" % (tls.host, tls.tls_port)
    with pytest.raises(PyRedisError):  # TLS needs (host, port) buckets
        AsyncHashClient([(tls.host, tls.tls_port), ring[1].unix_sock], ssl_context=context)
    async with AsyncHashClient([(tls.host, tls.tls_port)], ssl_context=context) as client:
        assert await client.set("k", "v") == b"OK"
        assert client._conns[0]._proto.transport.get_extra_info("ssl_object") is not None
    pool = AsyncHashPool([(tls.host, tls.tls_port)], ssl=True)
    assert pool.ssl is True and pool.ssl_context is None  # nothing built before first use
    with pytest.raises(PyRedisConnError):  # the default context does not trust the test CA
        await pool.ping(sock=tls_name)
    assert pool.ssl_context is not None
    await pool.close()
    async with AsyncHashPool([(tls.host, tls.tls_port)], ssl_context=context) as pool:
        assert await pool.get("k") == b"v"
