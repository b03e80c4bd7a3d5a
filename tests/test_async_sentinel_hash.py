"""AsyncSentinelHashPool against a real Sentinel setup: test_sentinel_hash's
two-master topology (m1 and m2, each a primary with one replica, three
sentinels watching both), one per module.

The failover test changes which server is m1's master; every other test asks
the topology which one is which, so the order of the tests does not matter.
"""
import asyncio
import inspect

import pytest

import pyredis
from async_support import async_test_asyncio_only as async_test  # topology tests: one loop
from pyredis import (
    AsyncSentinelHashPool,
    PyRedisConnClosed,
    PyRedisConnError,
    PyRedisError,
    ReplyError,
    SentinelHashPool,
    commands,
    get_by_url,
)
from pyredis.helper import slot_from_key
from pyredis.exceptions import PyRedisBulkError
from pyredis.pool import sentinel as sentinel_pool_module
from pyredis.pool.sentinel_hash import BucketSources, SentinelHashPoolSettings
from sentinel_servers import query, query_many, wait_for
from servers import free_port
from test_sentinel_hash import BUCKETS, key_in, topology  # noqa: F401  (topology: a fixture)

# What a command on a server that went away (or was demoted) raises.
FAILURES = (PyRedisConnError, PyRedisConnClosed, ReplyError)


@pytest.fixture(autouse=True)
def short_retry_delay(monkeypatch):
    monkeypatch.setattr(sentinel_pool_module, "RETRY_DELAY", 0.01)


def make_pool(topology, **kwargs):
    kwargs.setdefault("pool_size", 4)
    return AsyncSentinelHashPool(topology.addresses, BUCKETS, **kwargs)


async def leased_ports(pool):
    """The port of each bucket's server, in bucket order, as a new or idle client has them."""
    async with pool.lease() as client:
        return [client._targets[client._route[b]]["port"] for b in range(len(BUCKETS))]


def count_queries(pool, method="get_master"):
    """The master names sentinel is asked about from now on, in order."""
    sentinel = pool._locators[0].sentinel
    asked = []
    original = getattr(sentinel, method)

    async def counting(name):
        asked.append(name)
        return await original(name)

    setattr(sentinel, method, counting)
    return asked


async def wait_closed(client):
    for _ in range(200):  # a hang-up arrives as an event on the loop
        if client.closed:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the client never saw its connection closed")


# -- construction ----------------------------------------------------------------------
@async_test
async def test_names_settings_and_shared_pieces(topology):
    assert pyredis.AsyncSentinelHashPool is pyredis.pool.AsyncSentinelHashPool
    assert "AsyncSentinelHashPool" in pyredis.__all__
    assert "AsyncSentinelHashPool" in pyredis.pool.__all__
    assert inspect.iscoroutinefunction(AsyncSentinelHashPool._connect)
    assert inspect.iscoroutinefunction(AsyncSentinelHashPool.close)
    # Mixins as HashPool: no Transaction, no Subscribe.
    mro = AsyncSentinelHashPool.__mro__
    assert commands.Transaction not in mro and commands.Subscribe not in mro
    assert commands.String in mro and commands.Publish in mro
    # One place for what the sync and asyncio pools share.
    assert SentinelHashPoolSettings in mro and SentinelHashPoolSettings in SentinelHashPool.__mro__
    pool = make_pool(topology, slave_ok=True, retries=5)
    assert (pool.buckets, pool.slave_ok, pool.retries) == (BUCKETS, True, 5)
    assert (pool.close_on_err, pool._cluster) == (True, True)
    assert list(pool.sentinels) == topology.addresses
    # One locator per name, sharing one sentinel client and one lock.
    first, second = pool._locators
    assert first.sentinel is second.sentinel and first._lock is second._lock
    async with pool.lease() as client:
        assert isinstance(client, BucketSources)
    await pool.close()


@pytest.mark.parametrize("buckets", ["m1,m2", "m1", [], None])
def test_buckets_must_be_a_list_of_names(buckets):
    # Upstream iterated a string per character.
    with pytest.raises(PyRedisError, match="non-empty list of master names"):
        AsyncSentinelHashPool([("127.0.0.1", 1)], buckets)


# -- placement -----------------------------------------------------------------------------
@async_test
async def test_each_key_lives_on_the_master_of_its_bucket(topology):
    masters = [topology.master(name) for name in BUCKETS]
    keys = ["ash:place:%d" % n for n in range(24)]
    assert {slot_from_key(key) % 2 for key in keys} == {0, 1}
    async with make_pool(topology, pool_timeout=10) as pool:
        assert await asyncio.gather(*(pool.set(key, key) for key in keys)) == [b"OK"] * 24
        assert await leased_ports(pool) == [m.port for m in masters]
        for key in keys:
            bucket = slot_from_key(key) % 2
            assert query(masters[bucket].port, "GET", key) == key.encode()
            assert query(masters[1 - bucket].port, "GET", key) is None
            assert await pool.get(key) == key.encode()
        # Bucket names for sock= are the servers' "host_port".
        assert await pool.ping(sock="127.0.0.1_%d" % masters[1].port) == b"PONG"
        async with pool.lease() as client:
            assert isinstance(client._targets[0]["host"], str)  # upstream: bytes
            # A leased client does transactions (within one bucket).
            counter = key_in(1, "ash:txn")
            assert await client.multi(shard_key=counter) == b"OK"
            assert await client.incr(counter) == b"QUEUED"
            assert await client.exec(shard_key=counter) == [1]
        assert query(masters[1].port, "GET", counter) == b"1"


@async_test
async def test_slave_ok_reads_from_the_replicas(topology):
    keys = [key_in(0, "ash:ro"), key_in(1, "ash:ro")]
    for bucket, name in enumerate(BUCKETS):
        assert query_many(topology.master(name).port, ("SET", keys[bucket], name),
                          ("WAIT", 1, 5000)) == [b"OK", 1]
    async with make_pool(topology, slave_ok=True) as pool:
        asked = count_queries(pool, "get_replicas")
        assert [await pool.get(key) for key in keys] == [b"m1", b"m2"]
        assert await leased_ports(pool) == [topology.replica(name).port for name in BUCKETS]
        with pytest.raises(ReplyError, match="READONLY"):
            await pool.set(keys[0], "x")  # expected on replicas: nothing rediscovered
        assert await pool.get(keys[0]) == b"m1"
        assert asked == BUCKETS


# -- when sentinel is asked ------------------------------------------------------------------
@async_test
async def test_tasks_share_one_discovery_per_name(topology):
    async with make_pool(topology, pool_size=8, pool_timeout=10) as pool:
        asked = count_queries(pool)

        async def work(n):
            for i in range(20):
                assert await pool.set("ash:task:%d" % n, i) == b"OK"

        await asyncio.gather(*(work(n) for n in range(20)))
        assert sorted(asked) == BUCKETS
        assert len(pool._pool_free) <= 8
    key = "ash:task:19"
    assert query(topology.master(BUCKETS[slot_from_key(key) % 2]).port, "GET", key) == b"19"


@async_test
async def test_a_killed_connection_makes_only_its_bucket_asked_again(topology):
    async with make_pool(topology, pool_size=2) as pool:
        asked = count_queries(pool)
        key = key_in(1, "ash:kill")
        async with pool.lease() as client:
            client_id = await client.execute(b"CLIENT", b"ID", shard_key=key)
            assert await client.ping(shard_key=key_in(0)) == b"PONG"
            assert query(topology.master("m2").port, "CLIENT", "KILL", "ID", client_id) == 1
            with pytest.raises((PyRedisConnError, PyRedisConnClosed)):
                await client.get(key)
            assert client.closed  # the whole client: the pool drops it
        assert pool._locators[0]._nodes is not None  # m1's address is kept
        assert await pool.set(key, "again") == b"OK"
        assert asked == ["m1", "m2", "m2"]
        assert query(topology.master("m2").port, "GET", key) == b"again"


@async_test
async def test_an_idle_connection_hung_up_makes_its_bucket_asked_again(topology):
    async with make_pool(topology, pool_size=2) as pool:
        asked = count_queries(pool)
        async with pool.lease() as client:
            client_id = await client.execute(b"CLIENT", b"ID", shard_key=key_in(0))
        (idle,) = pool._pool_free
        assert query(topology.master("m1").port, "CLIENT", "KILL", "ID", client_id) == 1
        await wait_closed(idle)
        # Forgotten without a failed command; m2's address is kept.
        assert pool._locators[0]._nodes is None
        assert pool._locators[1]._nodes == [("127.0.0.1", topology.master("m2").port)]
        assert await pool.ping(shard_key=key_in(0)) == b"PONG"
        assert asked == BUCKETS + ["m1"]
        await pool.close()
        assert asked == BUCKETS + ["m1"]  # our own close forgets nothing
        assert pool._locators[0]._nodes == [("127.0.0.1", topology.master("m1").port)]


@async_test
async def test_a_failed_bulk_flush_makes_every_bucket_asked_again(topology):
    async with make_pool(topology, pool_size=2) as pool:
        asked = count_queries(pool)
        async with pool.lease() as client:
            client_id = await client.execute(b"CLIENT", b"ID", shard_key=key_in(0))
            client.bulk_start()
            await client.set(key_in(0, "ash:bulk"), 1)
            await client.set(key_in(1, "ash:bulk"), 1)
            assert query(topology.master("m1").port, "CLIENT", "KILL", "ID", client_id) == 1
            with pytest.raises(PyRedisBulkError) as failed:
                await client.bulk_stop()
            assert isinstance(failed.value.__cause__, (PyRedisConnError, PyRedisConnClosed))
        assert await pool.ping(shard_key=key_in(1)) == b"PONG"
        assert sorted(asked) == sorted(BUCKETS + BUCKETS)


@async_test
async def test_readonly_reply_makes_that_bucket_rediscover(topology):
    async with make_pool(topology, pool_size=1) as pool:
        asked = count_queries(pool)
        # The pool believes m1's master is its replica (a demotion not yet
        # noticed): a write there is refused once, then goes to the master.
        pool._locators[0]._nodes = [("127.0.0.1", topology.replica("m1").port)]
        key = key_in(0, "ash:ro")
        with pytest.raises(ReplyError, match="READONLY"):
            await pool.set(key, "1")
        assert await pool.set(key, "2") == b"OK"
        assert query(topology.master("m1").port, "GET", key) == b"2"
        assert asked == ["m2", "m1"]  # m2's address was kept
        assert await leased_ports(pool) == [topology.master(name).port for name in BUCKETS]


# -- errors and retries ------------------------------------------------------------------------
@async_test
async def test_unknown_master_name_is_a_clear_error(topology):
    pool = AsyncSentinelHashPool(topology.addresses, ["m1", "nosuch"], retries=3)
    asked = count_queries(pool)
    with pytest.raises(PyRedisError, match="Sentinel knows no master named 'nosuch'") as info:
        await pool.ping(shard_key="k")
    assert not isinstance(info.value, PyRedisConnError)
    assert asked == ["m1", "nosuch"]  # not retried: it cannot help
    await pool.close()


@async_test
async def test_no_sentinel_answers_after_the_retries():
    pool = AsyncSentinelHashPool([("127.0.0.1", free_port())], BUCKETS, retries=2)
    with pytest.raises(PyRedisConnError,
                       match=r"masters 'm1', 'm2'\) after 2 attempt\(s\): Could not connect"):
        await pool.ping(shard_key="k")
    await pool.close()


@async_test
async def test_retries_ask_again_after_a_failed_attempt(topology):
    # The first answer for m2 lists no usable replica; the retry gets a real one.
    async with make_pool(topology, slave_ok=True, retries=2) as pool:
        sentinel = pool._locators[0].sentinel
        original = sentinel.get_replicas
        asked = []

        async def flaky(name):
            asked.append(name)
            replicas = await original(name)
            if asked.count("m2") == 1 and name == "m2":
                return [{**r, b"flags": b"s_down,slave"} for r in replicas]
            return replicas

        sentinel.get_replicas = flaky
        assert await pool.ping(shard_key=key_in(1)) == b"PONG"
        assert asked == ["m1", "m2", "m2"]  # m1's answer was kept across the attempts
        assert await leased_ports(pool) == [topology.replica(name).port for name in BUCKETS]


@async_test
async def test_no_usable_replica_is_a_clear_error(topology):
    async with make_pool(topology, slave_ok=True, retries=2) as pool:
        sentinel = pool._locators[0].sentinel
        original = sentinel.get_replicas

        async def all_down_for_m2(name):
            replicas = await original(name)
            if name == "m2":
                return [{**r, b"flags": b"s_down,slave"} for r in replicas]
            return replicas

        sentinel.get_replicas = all_down_for_m2
        with pytest.raises(PyRedisConnError,
                           match=r"after 2 attempt\(s\): No usable replica of 'm2'"):
            await pool.get("k")  # upstream: IndexError


# -- get_by_url -------------------------------------------------------------------------------
@async_test
async def test_get_by_url_with_buckets(topology):
    hosts = ",".join("%s:%d" % address for address in topology.addresses)
    pool = get_by_url("sentinel://%s?buckets=m1,m2&pool_size=2" % hosts, async_client=True)
    assert isinstance(pool, AsyncSentinelHashPool)
    assert (pool.buckets, pool.pool_size, pool.slave_ok) == (BUCKETS, 2, False)
    key = key_in(1, "ash:url")
    assert await pool.set(key, "u") == b"OK"
    assert query(topology.master("m2").port, "GET", key) == b"u"
    await pool.close()
    replicas = get_by_url("sentinel://%s?buckets=m1,m2&slave_ok=true" % hosts, async_client=True)
    assert replicas.slave_ok is True
    assert await leased_ports(replicas) == [topology.replica(name).port for name in BUCKETS]
    await replicas.close()


# -- failover (changes the topology; the tests above do not depend on the order) ---------------
@async_test
async def test_failover_of_one_master_costs_at_most_one_command(topology):
    key, other = key_in(0, "ash:fo"), key_in(1, "ash:fo")
    async with make_pool(topology, pool_size=2) as pool:
        asked = count_queries(pool)
        assert await pool.set(key, "before") == b"OK"
        assert await pool.set(other, "before") == b"OK"
        loop = asyncio.get_running_loop()
        old, new = await loop.run_in_executor(None, lambda: topology.failover(name="m1"))
        assert old.port != new.port
        failures = []
        for attempt in range(4):
            try:
                assert await pool.set(key, attempt) == b"OK"
            except FAILURES as exc:
                failures.append(exc)
        assert len(failures) <= 1, failures
        assert query(new.port, "GET", key) == b"3"
        assert await leased_ports(pool) == [new.port, topology.master("m2").port]
        assert await pool.get(other) == b"before"  # m2 untouched
        assert asked.count("m2") == 1  # and never asked about again
        wait_for(lambda: query(old.port, "GET", key) == b"3", "replication")
