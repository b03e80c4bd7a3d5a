"""AsyncSentinelClient and AsyncSentinelPool against a real Sentinel setup
(sentinel_servers.py: a primary, one replica, three sentinels), shared by the
module.

The failover test changes which server is the master; every other test asks
the topology which one is which, so the order of the tests does not matter.
"""
import asyncio
import inspect

import pytest

import pyredis
from async_support import async_test_asyncio_only as async_test  # topology tests: one loop
from pyredis import (
    AsyncSentinelClient,
    AsyncSentinelPool,
    PyRedisConnClosed,
    PyRedisConnError,
    PyRedisError,
    ReplyError,
    get_by_url,
)
from pyredis.exceptions import PyRedisBulkError
from pyredis.pool import async_sentinel as async_sentinel_module
from fakeserver import FakeRedis
from sentinel_servers import NAME, SentinelServer, query, query_many, wait_for
from test_sentinel import (  # noqa: F401  (topology, spare_sentinel are fixtures)
    close_at_once,
    dead_address,
    garbage,
    hang,
    reset_at_once,
    spare_sentinel,
    topology,
)

# What a command on a server that went away (or was demoted) raises.
FAILURES = (PyRedisConnError, PyRedisConnClosed, ReplyError)


def make_pool(topology, **kwargs):
    kwargs.setdefault("pool_size", 4)
    return AsyncSentinelPool(topology.addresses, NAME, **kwargs)


async def leased_port(pool):
    async with pool.lease() as client:
        await client.ping()
        return client._conn.port


def count_master_queries(pool):
    sentinel = pool._locator.sentinel
    asked = []
    original = sentinel.get_master

    async def counting(name):
        asked.append(name)
        return await original(name)

    sentinel.get_master = counting
    return asked


@pytest.fixture(autouse=True)
def short_retry_delay(monkeypatch):
    monkeypatch.setattr(async_sentinel_module, "RETRY_DELAY", 0.01)


# -- names -------------------------------------------------------------------------
def test_exported_names_and_coroutines():
    assert pyredis.AsyncSentinelClient is pyredis.client.AsyncSentinelClient
    assert pyredis.AsyncSentinelPool is pyredis.pool.AsyncSentinelPool
    assert pyredis.pool.AsyncSentinelClient is AsyncSentinelClient
    assert {"AsyncSentinelClient", "AsyncSentinelPool"} <= set(pyredis.__all__)
    for method in ("execute", "get_master", "get_masters", "get_slaves", "get_replicas",
                   "close", "next_sentinel"):
        assert inspect.iscoroutinefunction(getattr(AsyncSentinelClient, method)), method
    assert inspect.iscoroutinefunction(AsyncSentinelPool._connect)
    from pyredis import commands

    assert commands.Transaction not in AsyncSentinelPool.__mro__
    assert commands.String in AsyncSentinelPool.__mro__
    assert AsyncSentinelPool._cluster is False


# -- AsyncSentinelClient ---------------------------------------------------------------
@async_test
async def test_client_reply_shapes(topology):
    async with AsyncSentinelClient(topology.addresses) as sentinel:
        master = await sentinel.get_master(NAME)
        assert (master[b"name"], master[b"ip"]) == (NAME.encode(), b"127.0.0.1")
        assert int(master[b"port"]) == topology.master().port
        masters = await sentinel.get_masters()
        assert [m[b"name"] for m in masters] == [NAME.encode()]
        for replicas in (await sentinel.get_slaves(NAME), await sentinel.get_replicas(NAME)):
            assert [int(r[b"port"]) for r in replicas] == [topology.replica().port]
        with pytest.raises(ReplyError, match="No such master"):
            await sentinel.get_master("nosuchmaster")
        assert list(sentinel.sentinels) == topology.addresses  # an answer: did not move on
        await sentinel.next_sentinel()
        assert list(sentinel.sentinels) == topology.addresses[1:] + topology.addresses[:1]
        assert await sentinel.execute(b"PING") == b"PONG"


@async_test
async def test_dead_sentinel_is_skipped(topology):
    dead = dead_address()
    async with AsyncSentinelClient([dead] + topology.addresses) as sentinel:
        assert (await sentinel.get_master(NAME))[b"name"] == NAME.encode()
        assert sentinel.sentinels[0] == topology.addresses[0]
        assert sentinel.sentinels[-1] == dead


@pytest.mark.parametrize("script", [hang, close_at_once, reset_at_once, garbage])
@async_test
async def test_failing_sentinel_is_skipped(topology, script):
    with FakeRedis(script) as fake:
        sentinel = AsyncSentinelClient([(fake.host, fake.port)] + topology.addresses,
                                       read_timeout=0.2)
        assert (await sentinel.get_master(NAME))[b"name"] == NAME.encode()
        assert fake.accepted == 1
        assert sentinel.sentinels[0] == topology.addresses[0]
        await sentinel.close()


@async_test
async def test_tasks_sharing_a_client_skip_a_dead_sentinel_once(topology):
    dead = dead_address()
    sentinel = AsyncSentinelClient([dead] + topology.addresses)
    masters = await asyncio.gather(*(sentinel.get_master(NAME) for _ in range(3)))
    assert all(int(m[b"port"]) == topology.master().port for m in masters)
    # All three met the dead one; the list moved on once, not three times.
    assert list(sentinel.sentinels) == topology.addresses + [dead]
    await sentinel.close()


@async_test
async def test_sentinel_that_dies_while_in_use_is_dropped(topology, spare_sentinel):
    sentinel = AsyncSentinelClient([(spare_sentinel.host, spare_sentinel.port)]
                                   + topology.addresses)
    assert await sentinel.get_masters() == []  # the spare monitors nothing
    spare_sentinel.kill()
    assert [m[b"name"] for m in await sentinel.get_masters()] == [NAME.encode()]
    await sentinel.close()


@async_test
async def test_host_port_strings_and_sentinel_password(topology):
    (host, port), rest = topology.addresses[0], topology.addresses[1:]
    async with AsyncSentinelClient(["%s:%d" % (host, port)] + rest) as sentinel:
        assert list(sentinel.sentinels) == topology.addresses
        assert (await sentinel.get_master(NAME))[b"name"] == NAME.encode()
    # Its own name for the master, so that the module's sentinels do not count it.
    guarded = SentinelServer(topology.master().port, quorum=1, name="guarded",
                             password="s3cret").start()
    try:
        where = [(guarded.host, guarded.port)]
        with pytest.raises(ReplyError, match="NOAUTH"):
            await AsyncSentinelClient(where).get_master("guarded")
        async with AsyncSentinelPool(where, "guarded", sentinel_password="s3cret") as pool:
            assert await pool.ping() == b"PONG"
            assert await leased_port(pool) == topology.master().port
    finally:
        guarded.stop()


@async_test
async def test_no_sentinel_answers():
    with pytest.raises(PyRedisConnError, match="Could not connect to any sentinel"):
        await AsyncSentinelClient([dead_address(), dead_address()]).get_masters()
    with pytest.raises(PyRedisConnError, match="no sentinels given"):
        await AsyncSentinelClient([]).get_masters()


# -- AsyncSentinelPool --------------------------------------------------------------------
@async_test
async def test_pool_commands_run_on_the_master(topology):
    master = topology.master()
    async with make_pool(topology, slave_ok=False, retries=5) as pool:
        assert (pool.name, pool.slave_ok, pool.retries, pool.close_on_err) == (
            NAME, False, 5, True)
        assert list(pool.sentinels) == topology.addresses
        assert await pool.set("asp:key", "v1") == b"OK"
        assert await pool.get("asp:key") == b"v1"
        assert query(master.port, "GET", "asp:key") == b"v1"
        async with pool.lease() as client:
            assert (client._conn.host, client._conn.port) == ("127.0.0.1", master.port)
            assert isinstance(client._conn.host, str)
            assert await client.multi() == b"OK"  # a leased client does transactions
            assert await client.incr("asp:n") == b"QUEUED"
            assert await client.exec() == [1]


@async_test
async def test_slave_ok_reads_on_the_replica(topology):
    master, replica = topology.master(), topology.replica()
    assert query_many(master.port, ("SET", "asp:repl", "yes"), ("WAIT", 1, 5000)) == [b"OK", 1]
    async with make_pool(topology, slave_ok=True) as pool:
        assert await pool.get("asp:repl") == b"yes"
        assert await leased_port(pool) == replica.port
        with pytest.raises(ReplyError, match="READONLY"):
            await pool.set("asp:repl", "no")  # expected on a replica pool
        assert await pool.get("asp:repl") == b"yes"


@async_test
async def test_tasks_share_one_discovery(topology):
    async with make_pool(topology, pool_size=8, pool_timeout=10) as pool:
        asked = count_master_queries(pool)

        async def work(n):
            for i in range(20):
                assert await pool.set("asp:task:%d" % n, i) == b"OK"

        await asyncio.gather(*(work(n) for n in range(20)))
        assert asked == [NAME]
        assert len(pool._pool_free) <= 8
    assert query(topology.master().port, "GET", "asp:task:19") == b"19"


@async_test
async def test_sentinel_is_asked_again_only_after_a_failure(topology):
    master = topology.master()
    async with make_pool(topology, pool_size=4) as pool:
        asked = count_master_queries(pool)
        clients = [await pool.acquire() for _ in range(3)]
        assert asked == [NAME]
        victim = clients[0]
        client_id = await victim.execute(b"CLIENT", b"ID")
        assert query(master.port, "CLIENT", "KILL", "ID", client_id) == 1
        with pytest.raises((PyRedisConnError, PyRedisConnClosed)):
            await victim.ping()
        for client in clients:
            await pool.release(client)
        assert await pool.ping() == b"PONG"
        assert asked == [NAME, NAME]


@async_test
async def test_idle_connection_hung_up_makes_the_pool_ask_again(topology):
    master = topology.master()
    async with make_pool(topology, pool_size=2) as pool:
        asked = count_master_queries(pool)
        async with pool.lease() as client:
            client_id = await client.execute(b"CLIENT", b"ID")
        (idle,) = pool._pool_free
        assert query(master.port, "CLIENT", "KILL", "ID", client_id) == 1
        for _ in range(100):  # the hang-up arrives as an event on the loop
            if idle.closed:
                break
            await asyncio.sleep(0.01)
        assert idle.closed is True
        assert pool._locator._nodes is None  # forgotten without a failed command
        assert await pool.ping() == b"PONG"
        assert asked == [NAME, NAME]
        await pool.release(await pool.acquire())
        await pool.close()
        assert asked == [NAME, NAME]  # our own close forgets nothing
        assert pool._locator._nodes == [("127.0.0.1", master.port)]


@async_test
async def test_failed_bulk_flush_makes_the_pool_ask_again(topology):
    master = topology.master()
    async with make_pool(topology, pool_size=2) as pool:
        asked = count_master_queries(pool)
        async with pool.lease() as client:
            client_id = await client.execute(b"CLIENT", b"ID")
            client.bulk_start()
            await client.set("asp:bulk", 1)
            assert query(master.port, "CLIENT", "KILL", "ID", client_id) == 1
            with pytest.raises(PyRedisBulkError) as failed:
                await client.bulk_stop()
            assert isinstance(failed.value.__cause__, (PyRedisConnError, PyRedisConnClosed))
        assert await pool.ping() == b"PONG"
        assert asked == [NAME, NAME]


@async_test
async def test_readonly_reply_makes_the_pool_rediscover(topology):
    master, replica = topology.master(), topology.replica()
    async with make_pool(topology, pool_size=1) as pool:
        pool._locator._nodes = [("127.0.0.1", replica.port)]  # as after an unseen demotion
        with pytest.raises(ReplyError, match="READONLY"):
            await pool.set("asp:ro", "1")
        assert await pool.set("asp:ro", "2") == b"OK"
        assert query(master.port, "GET", "asp:ro") == b"2"
        assert await leased_port(pool) == master.port


@async_test
async def test_stale_address_costs_a_retry_not_a_command(topology):
    async with make_pool(topology, pool_size=1, retries=2) as pool:
        pool._locator._nodes = [dead_address()]
        assert await pool.ping() == b"PONG"
        assert await leased_port(pool) == topology.master().port


@async_test
async def test_pool_skips_a_dead_sentinel(topology):
    async with AsyncSentinelPool([dead_address()] + topology.addresses, NAME) as pool:
        assert await pool.ping() == b"PONG"


@async_test
async def test_unknown_master_name_is_a_clear_error(topology):
    pool = AsyncSentinelPool(topology.addresses, "nosuch")
    with pytest.raises(PyRedisError, match="Sentinel knows no master named 'nosuch'") as info:
        await pool.ping()  # upstream: the bare ReplyError
    assert not isinstance(info.value, PyRedisConnError)  # not retried: it cannot help
    await pool.close()


@async_test
async def test_retries_then_a_clear_error():
    pool = AsyncSentinelPool([dead_address()], NAME, retries=3)
    with pytest.raises(PyRedisConnError, match=r"after 3 attempt\(s\): Could not connect to any"):
        await pool.ping()
    await pool.close()


@async_test
async def test_down_replicas_are_filtered(topology):
    port = topology.replica().port
    reports = [
        {b"ip": b"127.0.0.1", b"port": b"1", b"flags": b"s_down,slave"},
        {b"ip": b"127.0.0.1", b"port": b"2", b"flags": b"slave,disconnected"},
        {b"ip": b"127.0.0.1", b"port": b"3", b"flags": b"o_down,s_down,slave"},
        {b"ip": b"127.0.0.1", b"port": str(port).encode(), b"flags": b"slave"},
    ]

    def reporting(found):
        async def get_replicas(name):
            return found
        return get_replicas

    async with make_pool(topology, slave_ok=True, pool_size=8) as pool:
        pool._locator.sentinel.get_replicas = reporting(reports)
        assert {await leased_port(pool) for _ in range(4)} == {port}
        assert pool._locator._nodes == [("127.0.0.1", port)]
    async with make_pool(topology, slave_ok=True, retries=2) as pool:
        pool._locator.sentinel.get_replicas = reporting(reports[:3])
        with pytest.raises(PyRedisConnError, match="No usable replica of 'mymaster'"):
            await pool.get("x")


# -- get_by_url ---------------------------------------------------------------------------
@async_test
async def test_get_by_url(topology):
    hosts = ",".join("%s:%d" % address for address in topology.addresses)
    pool = get_by_url("sentinel://%s?name=%s&pool_size=2" % (hosts, NAME), async_client=True)
    assert isinstance(pool, AsyncSentinelPool) and pool.pool_size == 2
    assert await pool.set("asp:url", "u") == b"OK"
    assert await leased_port(pool) == topology.master().port
    await pool.close()
    replica_pool = get_by_url("sentinel://%s?name=%s&slave_ok=true" % (hosts, NAME),
                              async_client=True)
    assert replica_pool.slave_ok is True
    assert await leased_port(replica_pool) == topology.replica().port
    await replica_pool.close()


# -- failover (changes the topology; the tests above do not depend on the order) ---------
@async_test
async def test_failover_reaches_the_new_master_after_at_most_one_failure(topology):
    async with make_pool(topology, pool_size=2) as pool:
        # Two clients in the pool, both connected to the old master.
        first, second = await pool.acquire(), await pool.acquire()
        await first.ping()
        await second.ping()
        await pool.release(first)
        await pool.release(second)
        assert await pool.set("asp:before", "1") == b"OK"
        loop = asyncio.get_running_loop()
        old, new = await loop.run_in_executor(None, topology.failover)
        assert old.port != new.port
        failures = []
        for attempt in range(4):
            try:
                assert await pool.set("asp:after", attempt) == b"OK"
            except FAILURES as exc:
                failures.append(exc)
        assert len(failures) <= 1, failures
        assert query(new.port, "GET", "asp:after") == b"3"
        assert await leased_port(pool) == new.port
        wait_for(lambda: query(old.port, "GET", "asp:after") == b"3", "replication")
