"""AsyncBasePool bookkeeping with stand-in clients (no server needed): acquire,
waiting, release rules, pool_size, close, lease, cancellation, the caller's lock.
(The real-server side is in test_async.py and test_async_faults.py.)"""
import asyncio
import threading

import pytest

from async_support import async_test
from pyredis import AsyncPool
from pyredis.exceptions import PyRedisError
from pyredis.pool import AsyncBasePool


class FakeClient:
    def __init__(self, n):
        self.n = n
        self.closed = False
        self.close_calls = 0

    async def execute(self, *args, **kwargs):
        if args and args[0] == "FAIL":
            raise RuntimeError("boom")
        await asyncio.sleep(0)
        return (self.n, args, kwargs)

    async def close(self):
        self.close_calls += 1
        self.closed = True

    def __repr__(self):
        return "<FakeClient %d>" % self.n


class FakePool(AsyncBasePool):
    """Makes FakeClients; ``connect_delay`` makes ``_connect`` a slow coroutine."""

    def __init__(self, connect_delay=None, **kwargs):
        super().__init__(**kwargs)
        self.made = []
        self.connect_delay = connect_delay
        self.fail_next = False
        self.lock_held_in_connect = []

    def _connect(self):
        if self._lock is not None:
            self.lock_held_in_connect.append(self._lock.locked())
        if self.fail_next:
            self.fail_next = False
            raise OSError("cannot connect")
        client = FakeClient(len(self.made))
        self.made.append(client)
        if self.connect_delay is None:
            return client

        async def slow():
            await asyncio.sleep(self.connect_delay)
            return client

        return slow()


class FailoverPool(FakePool):
    _close_on_err = True


def state(pool):
    return len(pool._pool_free), len(pool._pool_used), pool._open


# -- constructor and settings ----------------------------------------------------------
def test_constructor_and_read_only_properties():
    pool = FakePool(database=3, password="pw", encoding="utf-8", conn_timeout=1,
                    read_timeout=4, pool_size=5, username="u", pool_timeout=2,
                    max_idle_time=30)
    assert (pool.database, pool.password, pool.encoding, pool.conn_timeout, pool.read_timeout,
            pool.pool_size, pool.username, pool.pool_timeout, pool.max_idle_time,
            pool.close_on_err) == (3, "pw", "utf-8", 1, 4, 5, "u", 2.0, 30.0, False)
    assert FailoverPool().close_on_err is True
    for name in ("database", "password", "encoding", "conn_timeout", "read_timeout",
                 "username", "close_on_err", "pool_timeout", "max_idle_time"):
        with pytest.raises(AttributeError):
            setattr(pool, name, 1)
    defaults = FakePool()
    assert (defaults.database, defaults.pool_size, defaults.conn_timeout,
            defaults.read_timeout) == (0, 16, 2, 2)
    with pytest.raises(ValueError):
        FakePool(pool_size=0)
    with pytest.raises(ValueError):
        FakePool(pool_timeout=-1)
    with pytest.raises(NotImplementedError):
        AsyncBasePool()._connect()
    with pytest.raises(PyRedisError):
        AsyncPool()  # neither host nor unix_sock


# -- acquire / release ------------------------------------------------------------------
@async_test
async def test_acquire_release_reuse_and_exhaustion():
    pool = FakePool(pool_size=2)
    a = await pool.acquire()
    b = await pool.acquire()
    assert a is not b and state(pool) == (0, 2, 2)
    with pytest.raises(PyRedisError, match="Max connections 2 exhausted"):
        await pool.acquire()  # no timeout: at once, as upstream
    await pool.release(a)
    await pool.release(b)
    assert state(pool) == (2, 0, 2)
    assert await pool.acquire() is b  # the most recently released first
    assert pool.made == [a, b]


@async_test
async def test_connect_may_return_a_coroutine_and_runs_outside_the_lock():
    pool = FakePool(pool_size=3, connect_delay=0.05, lock=asyncio.Lock())
    idle = await pool.acquire()
    connecting = [asyncio.ensure_future(pool.acquire()) for _ in range(2)]
    await asyncio.sleep(0)
    assert pool._open == 3 and len(pool.made) == 3  # two more slots reserved, connecting
    await pool.release(idle)
    # While two clients are being connected, the idle one is leased at once.
    assert await pool.acquire() is idle
    assert not any(task.done() for task in connecting)
    clients = await asyncio.gather(*connecting)
    assert len(set(clients)) == 2 and pool.lock_held_in_connect == [False] * 3
    assert state(pool) == (0, 3, 3)


@async_test
async def test_connect_failure_frees_the_slot():
    pool = FakePool(pool_size=1)
    pool.fail_next = True
    with pytest.raises(OSError):
        await pool.acquire()
    assert state(pool) == (0, 0, 0)
    assert isinstance(await pool.acquire(), FakeClient)


@async_test
async def test_waiting_is_first_come_first_served():
    pool = FakePool(pool_size=1, pool_timeout=5)
    held = await pool.acquire()
    order = []

    async def waiter(name):
        client = await pool.acquire()
        order.append(name)
        await pool.release(client)

    tasks = [asyncio.ensure_future(waiter(i)) for i in range(5)]
    await asyncio.sleep(0.01)
    assert len(pool._waiters) == 5
    await pool.release(held)
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4] and pool.made == [held]


@async_test
async def test_wait_timeout():
    pool = FakePool(pool_size=1)
    await pool.acquire()
    with pytest.raises(PyRedisError, match="exhausted"):
        await pool.acquire(timeout=0.02)
    assert not pool._waiters
    with pytest.raises(PyRedisError, match="exhausted"):
        await pool.acquire(timeout=0)


@async_test
async def test_a_freed_slot_goes_to_a_waiter():
    pool = FakePool(pool_size=1, pool_timeout=5)
    held = await pool.acquire()
    waiting = asyncio.ensure_future(pool.acquire())
    await asyncio.sleep(0)
    held.closed = True
    await pool.release(held)  # dropped: its slot is handed on
    fresh = await waiting
    assert fresh is pool.made[1] and state(pool) == (0, 1, 1)


@async_test
async def test_cancelled_waiter_loses_nothing():
    pool = FakePool(pool_size=1, pool_timeout=5)
    held = await pool.acquire()
    waiting = asyncio.ensure_future(pool.acquire())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert not pool._waiters
    await pool.release(held)
    assert state(pool) == (1, 0, 1)
    # Handed a client, then cancelled before running: the client comes back.
    held = await pool.acquire()
    first = asyncio.ensure_future(pool.acquire())
    second = asyncio.ensure_future(pool.acquire())
    await asyncio.sleep(0)
    await pool.release(held)  # handed to ``first``...
    first.cancel()  # ...which never gets to run
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await second is held  # passed on, not lost
    await pool.release(held)
    assert state(pool) == (1, 0, 1) and not held.closed


@async_test
async def test_release_rules():
    pool = FakePool(pool_size=2)
    a, b = await pool.acquire(), await pool.acquire()
    a.closed = True
    await pool.release(a)  # closed: dropped, not closed again
    assert state(pool) == (0, 1, 1) and a.close_calls == 0
    stranger = FakeClient(99)
    await pool.release(stranger)  # unknown: closed, nothing else
    assert stranger.close_calls == 1 and state(pool) == (0, 1, 1)
    c = await pool.acquire()
    pool.pool_size = 1  # shrink while both are in use
    await pool.release(b)  # over the size: closed
    assert b.closed and state(pool) == (0, 1, 1)
    await pool.release(c)
    assert not c.closed and state(pool) == (1, 0, 1)


@async_test
async def test_close_on_err_drops_idle_and_retires_busy_clients():
    pool = FailoverPool(pool_size=4)
    a, b, c, d = [await pool.acquire() for _ in range(4)]
    await pool.release(d)
    a.closed = True
    await pool.release(a)
    assert d.closed  # idle: closed at once
    assert state(pool) == (0, 2, 2)  # b and c retired, still counted
    new = await pool.acquire()
    assert new not in (b, c) and state(pool) == (0, 3, 3)
    await pool.release(b)
    await pool.release(c)
    assert b.closed and c.closed and state(pool) == (0, 1, 1)
    await pool.release(new)
    assert state(pool) == (1, 0, 1)


@async_test
async def test_pool_size_setter_in_a_running_loop():
    pool = FakePool(pool_size=4)
    clients = [await pool.acquire() for _ in range(4)]
    for client in clients:
        await pool.release(client)
    pool.pool_size = 1  # synchronous; the surplus is closed in a task
    await asyncio.sleep(0.01)
    assert [c.closed for c in clients] == [True, True, True, False]  # coldest first
    assert state(pool) == (1, 0, 1)
    with pytest.raises(ValueError):
        pool.pool_size = 0
    held = await pool.acquire()
    waiting = asyncio.ensure_future(pool.acquire(timeout=5))
    await asyncio.sleep(0)
    pool.pool_size = 2  # room for the waiter
    assert (await waiting) is not held and state(pool) == (0, 2, 2)


def test_pool_size_setter_without_a_loop():
    pool = FakePool(pool_size=3)

    async def fill():
        clients = [await pool.acquire() for _ in range(3)]
        for client in clients:
            await pool.release(client)
        return clients

    clients = asyncio.run(fill())
    pool.pool_size = 1  # no running loop: nothing can be awaited now
    assert [c.closed for c in clients] == [False] * 3 and pool._open == 3
    assert len(pool._pool_free) == 1

    async def use():
        client = await pool.acquire()
        await asyncio.sleep(0.01)
        return client

    assert asyncio.run(use()) is clients[2]
    assert [c.closed for c in clients] == [True, True, False] and pool._open == 1


@async_test
async def test_max_idle_time():
    pool = FakePool(pool_size=2, max_idle_time=0.05)
    a = await pool.acquire()
    await pool.release(a)
    assert await pool.acquire() is a  # fresh enough
    await pool.release(a)
    await asyncio.sleep(0.1)
    b = await pool.acquire()
    assert b is not a
    await asyncio.sleep(0.01)
    assert a.closed and state(pool) == (0, 1, 1)


@async_test
async def test_a_stale_client_frees_its_slot_at_once():
    # Pool of one: the stale client's slot serves the next acquire (it was
    # counted until closed in the background, and acquire said "exhausted").
    pool = FakePool(pool_size=1, max_idle_time=0.05)
    a = await pool.acquire()
    await pool.release(a)
    await asyncio.sleep(0.1)
    b = await pool.acquire()
    assert b is not a
    await asyncio.sleep(0.01)
    assert a.closed and state(pool) == (0, 1, 1)


# -- execute, lease, close -------------------------------------------------------------
@async_test
async def test_execute_shares_a_client_for_ordinary_commands():
    pool = FakePool(pool_size=1)
    assert await pool.execute("GET", "k", shard_key="k") == (0, ("GET", "k"), {"shard_key": "k"})
    with pytest.raises(RuntimeError):
        await pool.execute("FAIL")
    # Tasks beyond pool_size share it: no "Max connections exhausted".
    replies = await asyncio.gather(*[pool.execute("ECHO", i) for i in range(10)])
    assert replies == [(0, ("ECHO", i), {}) for i in range(10)]
    assert state(pool) == (0, 0, 1) and len(pool._pool_shared) == 1 and len(pool.made) == 1


@async_test
async def test_dedicated_commands_run_on_a_lease():
    pool = FakePool(pool_size=2)
    assert await pool.execute("BLPOP", "q", 0) == (0, ("BLPOP", "q", 0), {})
    assert state(pool) == (1, 0, 1)  # given back
    assert await pool.execute(b"select", 1) == (0, (b"select", 1), {})
    assert state(pool) == (0, 0, 0) and pool.made[0].closed  # its state is not the pool's
    with pytest.raises(RuntimeError):
        await pool.execute("FAIL")
    assert await pool.execute("xread", "BLOCK", 0, "STREAMS", "s", "$") == (
        2, ("xread", "BLOCK", 0, "STREAMS", "s", "$"), {})  # the shared one is busy: a new lease
    assert state(pool) == (1, 0, 2) and len(pool._pool_shared) == 1


@async_test
async def test_lease_and_close():
    async with FakePool(pool_size=2, pool_timeout=5) as pool:
        with pytest.raises(KeyError):
            async with pool.lease() as client:
                assert state(pool) == (0, 1, 1)
                raise KeyError("the body failed")
        # The client may be mid-transaction or in bulk mode: closed, not kept.
        assert client.closed and state(pool) == (0, 0, 0)
        busy = await pool.acquire()
        other = await pool.acquire()
        waiting = asyncio.ensure_future(pool.acquire())
        await asyncio.sleep(0)
        await pool.release(other)  # to the waiter
        got = await waiting
        assert got is other
        await pool.release(got)
    assert other.closed and not busy.closed  # idle closed at exit; busy still in use
    with pytest.raises(PyRedisError, match="Pool is closed"):
        await pool.acquire()
    await pool.release(busy)
    assert busy.closed and state(pool) == (0, 0, 0)
    await pool.close()  # idempotent


@async_test
async def test_close_wakes_waiters():
    pool = FakePool(pool_size=1)
    await pool.acquire()
    waiting = asyncio.ensure_future(pool.acquire(timeout=5))
    await asyncio.sleep(0)
    await pool.close()
    with pytest.raises(PyRedisError, match="Pool is closed"):
        await waiting


@async_test
async def test_close_while_connecting():
    pool = FakePool(pool_size=1, connect_delay=0.02)
    connecting = asyncio.ensure_future(pool.acquire())
    await asyncio.sleep(0)
    await pool.close()
    with pytest.raises(PyRedisError, match="Pool is closed"):
        await connecting
    assert pool.made[0].closed and pool._open == 0


# -- the caller's lock ------------------------------------------------------------------
class RecordingLock:
    """A synchronous lock (acquire/release), as upstream accepted any lock object."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acquired = 0

    def acquire(self):
        self.acquired += 1
        return self.lock.acquire()

    def release(self):
        self.lock.release()

    def locked(self):
        return self.lock.locked()


@pytest.mark.parametrize("make_lock", [asyncio.Lock, RecordingLock])
@async_test
async def test_a_lock_passed_in_is_used(make_lock):
    lock = make_lock()
    pool = FakePool(pool_size=2, lock=lock)
    client = await pool.acquire()
    await pool.release(client)
    assert await pool.execute("PING") == (0, ("PING",), {})
    await pool.close()
    assert not lock.locked() and pool.lock_held_in_connect == [False]
    if isinstance(lock, RecordingLock):
        assert lock.acquired == 4  # acquire, release, taking a shared client, close


# -- many tasks -------------------------------------------------------------------------
@async_test
async def test_many_tasks_never_share_a_client_nor_exceed_the_size():
    pool = FakePool(pool_size=4, pool_timeout=10, connect_delay=0.001)
    holders = set()
    peak = 0

    async def worker(i):
        nonlocal peak
        for j in range(20):
            try:
                async with pool.lease() as client:
                    assert client not in holders
                    holders.add(client)
                    peak = max(peak, len(holders))
                    assert pool._open <= 4
                    if (i + j) % 7 == 0:
                        client.closed = True  # as after a failed command
                    await asyncio.sleep(0)
                    holders.discard(client)
            except asyncio.TimeoutError:
                pass

    async def impatient(i):
        for _ in range(10):
            try:
                await asyncio.wait_for(pool.execute("PING"), 0.0005 * (i % 3))
            except asyncio.TimeoutError:
                pass

    await asyncio.gather(*[worker(i) for i in range(50)], *[impatient(i) for i in range(10)])
    assert peak == 4
    assert not pool._pool_used and not pool._waiters
    assert pool._open == len(pool._pool_free) <= 4
    opened = [c for c in pool.made if not c.closed]
    assert sorted(opened, key=id) == sorted(pool._pool_free, key=id)  # nothing leaked


@async_test
async def test_acquire_skips_idle_clients_that_closed():
    pool = FakePool(pool_size=2)
    a, b = await pool.acquire(), await pool.acquire()
    await pool.release(a)
    await pool.release(b)
    b.closed = True  # as AsyncConnection does when the server hangs up an idle connection
    got = await pool.acquire()
    assert got is a and state(pool) == (0, 1, 1)
    a.closed = True
    fresh = await pool.acquire()  # a is in use (dropped on release): b's slot is the free one
    assert fresh is pool.made[2] and state(pool) == (0, 2, 2)
    await pool.close()
    assert b.close_calls == 1  # closed in the background, waited for by close()
