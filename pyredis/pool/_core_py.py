"""Pure-Python pool core: the free/used bookkeeping behind ``BasePool``.

Twin of the compiled ``_core`` (same names, behaviour and messages); this one
guards its state with a ``threading.Lock``, the compiled one with a native
mutex.  ``BasePool`` (pool/base.py) is a thin subclass adding the connection
settings; subclasses of it supply ``_connect()``.

State, all guarded by the lock:

* ``_free``    idle clients, most recently released last (acquire takes the
               last one: LIFO keeps a few connections warm, lets the rest age
               out through ``max_idle_time``);
* ``_since``   release times of ``_free``, in step with it (kept only when
               ``max_idle_time`` is set; ascending, so stale ones are a prefix);
* ``_used``    clients handed out;
* ``_retired`` clients that were in use when ``close_on_err`` reset the pool:
               still counted, closed when they come back;
* ``_open``    every client the pool answers for: free + used + retired +
               being connected + being closed.  ``open < pool_size`` is the
               only capacity test, so there are never more than ``pool_size``.

Slow work (``_connect()``, ``client.close()``) always runs outside the lock; the
slots it concerns stay counted in ``_open`` meanwhile.  Threads waiting for a
client (``acquire(timeout)`` / ``pool_timeout``) each park on a private lock
queued in ``_waiters``; whoever frees a slot or a client wakes the oldest.  A
woken thread that leaves without using its wake-up (an error, an interrupt)
passes it on to the next waiter.

The lock is only ever taken by ``with`` statements, never released and taken
again inside one: an exception raised asynchronously (KeyboardInterrupt from a
signal handler) can land between any two bytecodes, and ``with`` on a native
lock leaves no bytecode between taking it and the code that releases it.  A
caller's lock of another type is driven through its own ``acquire()`` and
``release()`` by a small adapter (``_ExplicitLock``); only there, inside the
adapter, can such an exception still come between the two.

After ``os.fork()`` the child's pools forget every client of the parent
without closing anything (the parent still uses those sockets) and get a new
lock (one held by another thread at fork time would never be released).

Free threading: a pool core is made to be shared by any number of threads;
the lock guards all of its state with or without the GIL.  A lease
(``pool.lease()``) is per-thread.
"""
import os
import threading
import weakref
from _thread import allocate_lock
from collections import deque
from operator import index
from time import monotonic

from pyredis.connection.errors import CommandNotSent
from pyredis.exceptions import PyRedisError

__all__ = ["PoolCore"]

_TIMEOUT_MAX = threading.TIMEOUT_MAX

# Locks whose ``with`` runs no bytecode between acquiring and the guarded block.
_NATIVE_LOCKS = (type(threading.Lock()), type(threading.RLock()))

# Every live pool core of this twin, for the fork handler (weak: no leak).
_POOLS = weakref.WeakSet()


def _forget_parent_clients():
    for pool in list(_POOLS):
        pool._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_parent_clients)


def _reset_for_failover(pool):
    """``close_on_err`` and a client came back closed: the server behind the
    pool probably changed (failover).  Returns the idle clients, to close; the
    busy ones are retired (closed when they come back).  A rare path, shared
    with AsyncBasePool (the compiled core has its own)."""
    to_close = pool._free[:]
    del pool._free[:]
    del pool._since[:]
    pool._retired.update(pool._used)
    pool._used.clear()
    return to_close


def _exhausted(size):
    return PyRedisError("Max connections %d exhausted" % size)


def _check_pool_size(value):
    size = index(value)
    if size < 1:
        raise ValueError("pool_size must be >= 1, not %d" % size)
    return size


def _check_seconds(name, value):
    if value is None:
        return None
    seconds = float(value)
    if not seconds >= 0:  # also rejects nan
        raise ValueError("%s must be None or a number of seconds >= 0, not %r" % (name, value))
    return seconds


class PoolState:
    """The state both this core and AsyncBasePool keep (see the module
    docstring), and its read-only views.  The compiled core has its own."""

    __slots__ = ()

    def _reset_state(self):
        self._free = []
        self._since = []
        self._used = set()
        self._retired = set()
        self._open = 0
        self._waiters = deque()

    @property
    def pool_timeout(self):
        return self._pool_timeout

    @property
    def max_idle_time(self):
        return self._max_idle_time

    @property
    def close_on_err(self):
        """True: a client that comes back closed makes the pool drop all others."""
        return self._close_on_err

    @property
    def _pool_free(self):
        """Snapshot of the idle clients (read-only; upstream exposed its set)."""
        return frozenset(self._free)

    @property
    def _pool_used(self):
        """Snapshot of the clients in use (read-only; upstream exposed its set)."""
        return frozenset(self._used) | self._retired

    def _connect(self):
        raise NotImplementedError("pool subclasses implement _connect()")


class _ExplicitLock:
    """A caller's lock object in ``with`` statements, through its own
    ``acquire()``/``release()`` (any object with those two methods works)."""

    __slots__ = ("_lock",)

    def __init__(self, lock):
        self._lock = lock

    def __enter__(self):
        self._lock.acquire()

    def __exit__(self, *exc_info):
        self._lock.release()


def _guard(lock):
    """The pool's lock, ready for ``with``: its own, or the caller's ``lock``."""
    if lock is None:
        return threading.Lock()
    if type(lock) in _NATIVE_LOCKS:
        return lock
    return _ExplicitLock(lock)


class PoolCore(PoolState):
    """Thread-safe, fork-safe set of reusable clients (see the module docstring).

    ``pool_size``: most clients open at once.  ``lock``: an object with
    ``acquire()``/``release()`` to use instead of the built-in lock (slower).
    ``pool_timeout``: seconds ``acquire()`` waits for a client when all are in
    use (None: raise at once).  ``max_idle_time``: an idle client older than
    this many seconds is closed instead of reused (None: never).
    """

    _close_on_err = False

    def __init__(self, pool_size=16, lock=None, *, pool_timeout=None, max_idle_time=None):
        self._pool_size = _check_pool_size(pool_size)
        self._pool_timeout = _check_seconds("pool_timeout", pool_timeout)
        self._max_idle_time = _check_seconds("max_idle_time", max_idle_time)
        self._user_lock = lock
        self._lock = _guard(lock)
        self._reset_state()
        self._closed = False
        _POOLS.add(self)

    def _after_fork_in_child(self):
        # Drop, never close: the parent owns those connections.  A caller's own
        # lock object is left alone (we cannot know what else it guards).
        if self._user_lock is None:
            self._lock = threading.Lock()
        self._reset_state()

    # -- settings ------------------------------------------------------------
    @property
    def pool_size(self):
        return self._pool_size

    @pool_size.setter
    def pool_size(self, value):
        size = _check_pool_size(value)
        surplus = []
        with self._lock:
            self._pool_size = size
            free = self._free
            while free and self._open - len(surplus) > size:
                surplus.append(free.pop(0))  # the coldest first
                if self._since:
                    self._since.pop(0)
            self._wake(len(self._waiters))  # a bigger pool may have room for them
        self._discard(surplus)  # in-use surplus is trimmed on release

    # -- hot path ------------------------------------------------------------
    def acquire(self, timeout=None):
        """Lease a client: an idle one if any, else a new one while the pool has
        room, else wait up to ``timeout`` (default ``pool_timeout``) seconds for
        one to be released; then ``PyRedisError("Max connections <n> exhausted")``."""
        with self._lock:
            free = self._free
            if free and self._max_idle_time is None:
                conn = free.pop()
                self._used.add(conn)
                return conn
        return self._acquire_slow(timeout)

    def release(self, conn):
        """Give a client back; a closed one is dropped, an unknown one closed."""
        closed = conn.closed  # outside the lock: it may be a property doing work
        with self._lock:
            used = self._used
            if not closed and self._open <= self._pool_size and not self._closed and conn in used:
                used.remove(conn)
                self._free.append(conn)
                if self._max_idle_time is not None:
                    self._since.append(monotonic())
                if self._waiters:
                    self._waiters.popleft().release()
                return
            to_close = self._release_locked(conn, closed)
        if to_close is None:
            conn.close()  # not ours: close it, nothing else
        else:
            self._discard(to_close)

    def execute(self, *args, **kwargs):
        """Run one command on a leased client and give the client back; once
        more, on the client handed out next, if the first failed before
        sending anything (``CommandNotSent``)."""
        conn = PoolCore.acquire(self)
        try:
            return conn.execute(*args, **kwargs)
        except CommandNotSent:
            pass  # that connection held data nobody asked for, or had been hung up on
        finally:
            PoolCore.release(self, conn)
        conn = PoolCore.acquire(self)
        try:
            return conn.execute(*args, **kwargs)
        finally:
            PoolCore.release(self, conn)

    # -- slow paths ---------------------------------------------------------------
    def _acquire_slow(self, timeout):
        """acquire() when no idle client can be taken at once: close stale
        clients, reserve a slot for a new client, or wait.  Each round decides
        under the lock and does its slow part (closing, waiting) outside it."""
        deadline = None
        waiter = None  # our place in _waiters; once woken, kept until the wake-up is used
        try:
            while True:
                stale = None
                with self._lock:
                    if waiter is not None and self._unqueue(waiter):
                        waiter = None  # it timed out: no wake-up to pass on
                    if self._closed:
                        raise PyRedisError("Pool is closed")
                    if self._max_idle_time is not None:
                        stale = self._take_stale()
                    if not stale:
                        free = self._free
                        if free:
                            conn = free.pop()
                            if self._since:
                                self._since.pop()
                            self._used.add(conn)
                            return conn
                        if self._open < self._pool_size:
                            self._open += 1  # reserve the slot; connect outside the lock
                            break
                        if deadline is None:
                            wait = self._pool_timeout if timeout is None else timeout
                            if wait is None or not wait > 0:  # also nan
                                raise _exhausted(self._pool_size)
                            deadline = monotonic() + min(wait, _TIMEOUT_MAX)
                        remaining = deadline - monotonic()
                        if remaining <= 0:
                            raise _exhausted(self._pool_size)
                        waiter = allocate_lock()
                        waiter.acquire()
                        self._waiters.append(waiter)
                if stale:
                    self._discard(stale)  # then look again
                else:
                    waiter.acquire(True, remaining)  # until woken or timed out
        except BaseException:
            if waiter is not None:
                self._leave(waiter)
            raise
        return self._connect_reserved()

    def _take_stale(self):
        """Pop the idle clients released more than max_idle_time ago (lock held)."""
        since = self._since
        if not since:
            return None
        limit = monotonic() - self._max_idle_time
        count = 0
        for released in since:
            if released >= limit:
                break
            count += 1
        if not count:
            return None
        stale = self._free[:count]
        del self._free[:count]
        del since[:count]
        return stale

    def _unqueue(self, waiter):
        """Remove a waiter that timed out (lock held); False if it was woken meanwhile."""
        try:
            self._waiters.remove(waiter)
        except ValueError:
            return False
        return True

    def _leave(self, waiter):
        """An acquirer gives up (error, timeout, interrupt) with ``waiter``
        queued or woken: a wake-up it got, for a client or a slot it will not
        take, goes to the next waiter."""
        with self._lock:
            if not self._unqueue(waiter):
                self._wake(1)

    def _connect_reserved(self):
        """Make the client of a slot acquire reserved (lock NOT held)."""
        try:
            conn = self._connect()
        except BaseException:
            self._give_back_slots(1)
            raise
        with self._lock:
            if not self._closed:
                self._used.add(conn)
                return conn
        self._discard([conn])
        raise PyRedisError("Pool is closed")

    def _drop(self, conn):
        """Take a leased client out of the pool and close it, freeing its slot:
        the release of an open client the pool cannot keep (no close_on_err
        reset, which is for clients a failure closed)."""
        with self._lock:
            to_close = self._release_locked(conn, False)
        if to_close is None:
            conn.close()
        else:
            self._discard(to_close)

    def _release_locked(self, conn, closed):
        """The rare release cases (lock held): the clients to close once it is
        released, or None for a client the pool does not know."""
        used = self._used
        if conn not in used:
            if conn in self._retired:
                self._retired.remove(conn)
                return [conn]  # stays counted until closed
            return None
        used.remove(conn)
        if not closed:  # open, but the pool is closed or over its size
            return [conn]
        self._open -= 1
        self._wake(1)
        if not self.close_on_err:
            return []
        return _reset_for_failover(self)

    # -- helpers ----------------------------------------------------------------
    def _wake(self, count):
        """Wake up to ``count`` waiting acquirers (lock held)."""
        waiters = self._waiters
        while count > 0 and waiters:
            waiters.popleft().release()
            count -= 1

    def _give_back_slots(self, count):
        with self._lock:
            self._open -= count
            self._wake(count)

    def _discard(self, clients):
        """Close clients taken out of the pool (lock NOT held), then free their slots.

        Every client is closed even if one ``close()`` raises; the first error
        is raised afterwards.
        """
        if not clients:
            return
        error = None
        for client in clients:
            try:
                client.close()
            except BaseException as exc:  # noqa: B902 - re-raised below
                if error is None:
                    error = exc
        self._give_back_slots(len(clients))
        if error is not None:
            raise error

    # -- lifetime -----------------------------------------------------------------
    def close(self):
        """Close the idle clients and refuse new leases.  Clients in use are
        closed when they are released.  Idempotent."""
        with self._lock:
            self._closed = True
            idle = self._free[:]
            del self._free[:]
            del self._since[:]
            self._wake(len(self._waiters))  # they raise "Pool is closed"
        self._discard(idle)

    def lease(self, timeout=None):
        """``with pool.lease() as client:`` - acquire, then always release."""
        return _Lease(self, timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class _Lease:
    __slots__ = ("_pool", "_timeout", "_conn")

    def __init__(self, pool, timeout):
        self._pool = pool
        self._timeout = timeout
        self._conn = None

    def __enter__(self):
        self._conn = PoolCore.acquire(self._pool, self._timeout)
        return self._conn

    def __exit__(self, exc_type, exc, tb):
        conn, self._conn = self._conn, None
        if exc_type is None or conn.closed:
            PoolCore.release(self._pool, conn)
        else:  # the body failed: the client may be in MULTI, in bulk mode, watching keys
            self._pool._drop(conn)
