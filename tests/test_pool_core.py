"""Pool core (acquire/release bookkeeping) and BasePool: both twins.

Behaviour tests use fake clients, so every rule can be checked exactly and
counted; tests/test_pool.py covers Pool against a real redis-server, and the
fork test at the end uses one too.
"""
import inspect
import os
import threading
import time

import pytest

from pyredis.exceptions import PyRedisError


class FakeClient:
    """Counts what the pool does to it; ``execute`` can be told to fail."""

    def __init__(self, number):
        self.number = number
        self.closed = False
        self.close_calls = 0
        self.holders = 0

    def close(self):
        self.close_calls += 1
        self.closed = True

    def execute(self, *args, **kwargs):
        if args and args[0] == "FAIL":
            raise RuntimeError("command failed")
        if args and args[0] == "BREAK":
            self.closed = True
            raise RuntimeError("connection broke")
        return (self.number, args, kwargs)

    def __repr__(self):
        return "<FakeClient %d>" % self.number


@pytest.fixture
def core(twin):
    return twin.load("pyredis.pool._core")


def make_pool(core, pool_size=4, lock=None, close_on_err=False, connect_delay=0.0, **kwargs):
    class FakePool(core.PoolCore):
        _close_on_err = close_on_err

        def __init__(self):
            super().__init__(pool_size, lock, **kwargs)
            self.made = []
            self.fail_next_connect = False

        def _connect(self):
            if connect_delay:
                time.sleep(connect_delay)
            if self.fail_next_connect:
                self.fail_next_connect = False
                raise OSError("cannot connect")
            client = FakeClient(len(self.made))
            self.made.append(client)
            return client

    return FakePool()


# -- acquire / release -------------------------------------------------------------------
def test_acquire_creates_then_reuses_lifo(core):
    pool = make_pool(core)
    a, b = pool.acquire(), pool.acquire()
    assert (a.number, b.number) == (0, 1)
    assert pool._pool_used == {a, b} and pool._pool_free == set()
    pool.release(a)
    pool.release(b)
    assert pool._pool_free == {a, b}
    assert pool.acquire() is b  # the most recently released: warm
    assert pool.acquire() is a
    assert len(pool.made) == 2


def test_exhaustion_raises_at_once_by_default(core):
    pool = make_pool(core, pool_size=2)
    pool.acquire(), pool.acquire()
    started = time.monotonic()
    with pytest.raises(PyRedisError, match="Max connections 2 exhausted"):
        pool.acquire()
    assert time.monotonic() - started < 1.0
    assert len(pool.made) == 2


@pytest.mark.parametrize("how", ["argument", "pool_timeout"])
def test_waiting_acquire_gets_a_released_client(core, how):
    pool = make_pool(core, pool_size=1, **({"pool_timeout": 10} if how == "pool_timeout" else {}))
    held = pool.acquire()
    threading.Timer(0.2, pool.release, (held,)).start()
    got = pool.acquire(timeout=10) if how == "argument" else pool.acquire()
    assert got is held


def test_waiting_acquire_times_out(core):
    pool = make_pool(core, pool_size=1, pool_timeout=30)
    pool.acquire()
    started = time.monotonic()
    with pytest.raises(PyRedisError, match="Max connections 1 exhausted"):
        pool.acquire(timeout=0.2)
    assert 0.15 < time.monotonic() - started < 5


def test_waiter_is_woken_when_a_closed_client_frees_its_slot(core):
    pool = make_pool(core, pool_size=1)
    held = pool.acquire()
    held.closed = True
    threading.Timer(0.2, pool.release, (held,)).start()
    fresh = pool.acquire(timeout=10)
    assert fresh is not held and fresh.number == 1


def test_connect_runs_outside_the_lock(core):
    pool = make_pool(core, pool_size=3, connect_delay=0.5)
    warm = pool.acquire()  # 0.5 s: made before the clock starts
    slow = threading.Thread(target=pool.acquire)  # nothing free: it will _connect
    slow.start()
    time.sleep(0.1)  # the thread is now inside its 0.5 s _connect
    started = time.monotonic()
    pool.release(warm)  # would wait for the lock if _connect held it
    assert pool.acquire() is warm
    assert time.monotonic() - started < 0.3
    slow.join()


def test_failed_connect_frees_its_slot(core):
    pool = make_pool(core, pool_size=1)
    pool.fail_next_connect = True
    with pytest.raises(OSError):
        pool.acquire()
    assert pool.acquire().number == 0  # the slot came back


# -- release rules -------------------------------------------------------------------------
def test_release_of_an_unknown_client_closes_it(core):
    pool = make_pool(core)
    stranger = FakeClient(99)
    pool.release(stranger)
    assert stranger.closed and stranger not in pool._pool_free


def test_release_of_a_closed_client_drops_it(core):
    pool = make_pool(core, pool_size=2)
    a, b = pool.acquire(), pool.acquire()
    pool.release(b)
    a.close()
    pool.release(a)
    assert pool._pool_free == {b} and pool._pool_used == set()
    assert not b.closed
    assert pool.acquire() is b and pool.acquire().number == 2  # a's slot is free again


def test_close_on_err_closes_idle_and_retires_busy(core):
    pool = make_pool(core, pool_size=3, close_on_err=True)
    assert pool.close_on_err is True
    a, b, c = pool.acquire(), pool.acquire(), pool.acquire()
    pool.release(c)
    a.close()
    pool.release(a)
    assert c.closed and pool._pool_free == set()  # idle ones closed
    assert not b.closed
    pool.release(b)  # in use during the reset: closed when it comes back
    assert b.closed and pool._pool_free == set() and pool._pool_used == set()
    fresh = [pool.acquire() for _ in range(3)]  # every slot is usable again
    assert all(f.number >= 3 for f in fresh)


def test_over_size_clients_are_closed_on_release(core):
    pool = make_pool(core, pool_size=3)
    clients = [pool.acquire() for _ in range(3)]
    pool.pool_size = 1
    for client in clients:
        pool.release(client)
    assert [c.closed for c in clients] == [True, True, False]
    assert pool._pool_free == {clients[2]}


def test_pool_size_setter_closes_surplus_idle_clients(core):
    pool = make_pool(core, pool_size=4)
    clients = [pool.acquire() for _ in range(4)]
    for client in clients:
        pool.release(client)
    pool.pool_size = 2
    assert pool.pool_size == 2
    assert sum(c.closed for c in clients) == 2
    assert len(pool._pool_free) == 2
    assert all(not c.closed for c in pool._pool_free)


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-1, ValueError), (1.5, TypeError),
                                        ("2", TypeError), (None, TypeError)])
def test_pool_size_is_validated(core, bad, error):
    pool = make_pool(core)
    with pytest.raises(error):
        pool.pool_size = bad
    with pytest.raises(error):
        make_pool(core, pool_size=bad)
    assert pool.pool_size == 4


@pytest.mark.parametrize("name", ["pool_timeout", "max_idle_time"])
@pytest.mark.parametrize("bad", [-1, float("nan"), "x"])
def test_seconds_settings_are_validated(core, name, bad):
    with pytest.raises((ValueError, TypeError)):
        make_pool(core, **{name: bad})


def test_max_idle_time_replaces_stale_clients(core):
    pool = make_pool(core, max_idle_time=0.2)
    assert pool.max_idle_time == 0.2
    old = pool.acquire()
    pool.release(old)
    assert pool.acquire() is old  # still fresh
    pool.release(old)
    time.sleep(0.35)
    fresh = pool.acquire()
    assert fresh is not old and old.closed


# -- user lock --------------------------------------------------------------------------------
class CountingLock:
    def __init__(self):
        self._lock = threading.Lock()
        self.acquires = self.releases = 0

    def acquire(self, *args):
        self.acquires += 1
        return self._lock.acquire(*args)

    def release(self):
        self.releases += 1
        self._lock.release()


def test_a_caller_supplied_lock_is_used(core):
    lock = CountingLock()
    pool = make_pool(core, lock=lock)
    client = pool.acquire()
    pool.release(client)
    pool.execute("PING")
    assert lock.acquires >= 4 and lock.acquires == lock.releases
    assert not lock._lock.locked()


# -- execute, lease, close ----------------------------------------------------------------------
def test_execute_passes_arguments_and_releases(core):
    pool = make_pool(core)
    assert pool.execute("GET", "k", shard_key="k") == (0, ("GET", "k"), {"shard_key": "k"})
    assert len(pool._pool_free) == 1 and pool._pool_used == set()


def test_execute_releases_when_the_command_fails(core):
    pool = make_pool(core)
    with pytest.raises(RuntimeError):
        pool.execute("FAIL")
    assert len(pool._pool_free) == 1
    with pytest.raises(RuntimeError):
        pool.execute("BREAK")  # the client closed itself: dropped, not reused
    assert pool._pool_free == set() and pool._pool_used == set()
    assert pool.execute("PING")[0] == 1


def test_lease_context_manager(core):
    pool = make_pool(core)
    with pool.lease() as client:
        assert pool._pool_used == {client}
    assert pool._pool_free == {client}
    with pytest.raises(KeyError):
        with pool.lease() as again:
            raise KeyError("boom")
    assert again is client and pool._pool_used == set()


def test_close_and_context_manager(core):
    with make_pool(core) as pool:
        busy, idle = pool.acquire(), pool.acquire()
        pool.release(idle)
    assert idle.closed and not busy.closed
    with pytest.raises(PyRedisError, match="closed"):
        pool.acquire()
    pool.release(busy)  # released after close(): closed
    assert busy.closed
    pool.close()  # idempotent


def test_close_wakes_waiters(core):
    pool = make_pool(core, pool_size=1)
    pool.acquire()
    errors = []

    def wait():
        try:
            pool.acquire(timeout=30)
        except PyRedisError as exc:
            errors.append(exc)

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.2)
    pool.close()
    waiter.join(10)
    assert not waiter.is_alive() and "closed" in str(errors[0])


def test_pool_views_are_snapshots(core):
    pool = make_pool(core)
    client = pool.acquire()
    used = pool._pool_used
    pool.release(client)
    assert used == {client} and pool._pool_used == set()
    with pytest.raises(AttributeError):
        pool._pool_free.add(client)


# -- threads ------------------------------------------------------------------------------------
def test_sixteen_threads_never_share_a_client(core):
    size, threads, rounds = 5, 16, 400
    pool = make_pool(core, pool_size=size, pool_timeout=30)
    guard = threading.Lock()
    state = {"open_max": 0, "violations": 0, "leases": 0}

    def worker():
        for i in range(rounds):
            client = pool.acquire()
            with guard:
                client.holders += 1
                if client.holders != 1:
                    state["violations"] += 1
                opened = sum(1 for c in pool.made if not c.closed)
                state["open_max"] = max(state["open_max"], opened)
                state["leases"] += 1
            if i % 97 == 0:
                time.sleep(0)  # let others in while holding
            with guard:
                client.holders -= 1
            if i % 151 == 0:
                client.close()  # some come back broken: dropped, replaced
            pool.release(client)

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert state["violations"] == 0
    assert state["leases"] == threads * rounds
    assert state["open_max"] <= size
    open_clients = [c for c in pool.made if not c.closed]
    assert set(open_clients) == pool._pool_free and pool._pool_used == set()
    assert len(open_clients) <= size


# -- BasePool: the documented class -----------------------------------------------------------
def test_basepool_signature_and_properties():
    from pyredis.pool import BasePool

    params = inspect.signature(BasePool.__init__).parameters
    assert list(params)[1:9] == ["database", "password", "encoding", "conn_timeout",
                                 "read_timeout", "pool_size", "lock", "username"]
    assert [params[n].default for n in list(params)[1:9]] == [0, None, None, 2, 2, 16, None, None]
    pool = BasePool(3, "pw", "utf-8", 5, 6, 7, None, "me", pool_timeout=1.5, max_idle_time=60)
    assert (pool.database, pool.password, pool.encoding, pool.conn_timeout, pool.read_timeout,
            pool.pool_size, pool.username) == (3, "pw", "utf-8", 5, 6, 7, "me")
    assert (pool.pool_timeout, pool.max_idle_time, pool.close_on_err) == (1.5, 60, False)
    for name in ("database", "password", "encoding", "conn_timeout", "read_timeout",
                 "username", "close_on_err"):
        with pytest.raises(AttributeError):
            setattr(pool, name, 1)
    with pytest.raises(NotImplementedError):
        pool.acquire()


def test_basepool_uses_the_active_twin():
    import pyredis
    from pyredis.pool import BasePool

    module = BasePool.__mro__[1].__module__
    assert module == ("pyredis.pool._core" if pyredis.COMPILED else "pyredis.pool._core_py")


# -- fork ----------------------------------------------------------------------------------------
needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork")


def _in_child(check):
    """Run ``check()`` in a forked child; return what it wrote (or its error)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read_end)
            result = repr(check())
        except BaseException as exc:
            result = "error: %r" % (exc,)
        os.write(write_end, result.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        out = pipe.read()
    os.waitpid(pid, 0)
    return out


@needs_fork
def test_child_forgets_the_parents_clients(core):
    pool = make_pool(core, pool_size=2)
    busy, idle = pool.acquire(), pool.acquire()
    pool.release(idle)

    def check():
        forgotten = pool._pool_free == set() and pool._pool_used == set()
        fresh = pool.acquire()
        return (forgotten, idle.close_calls, busy.close_calls, fresh.number)

    assert _in_child(check) == repr((True, 0, 0, 2))
    assert pool._pool_free == {idle} and pool._pool_used == {busy}  # parent unchanged
    assert not idle.closed


@needs_fork
def test_fork_with_a_real_server(redis):
    from pyredis import Pool

    pool = Pool(host=redis.host, port=redis.port, pool_size=2)
    pool.set("who", "parent")
    parent_client = pool.acquire()
    parent_id = parent_client.execute("CLIENT", "ID")
    pool.release(parent_client)

    def check():
        child_id = pool.execute("CLIENT", "ID")
        pool.set("who", "child")
        return child_id != parent_id

    assert _in_child(check) == "True"
    assert pool.get("who") == b"child"
    with pool.lease() as client:
        assert client is parent_client and client.execute("CLIENT", "ID") == parent_id
    pool.close()
