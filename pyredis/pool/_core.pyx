# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled pool core: the free/used bookkeeping behind ``BasePool``.

Twin of ``_core_py`` - read its module docstring for the state and the rules;
this file follows it line for line with two differences:

* the lock is a native mutex (pthread, or an SRW lock on Windows), not a
  ``threading.Lock`` (which costs more than the rest of an acquire+release
  pair).  It is only ever held across a few set/list operations that run no
  Python code, and is taken with trylock first: a thread that has to block
  releases the GIL while it does, so the GIL and the mutex cannot deadlock.
* release times for ``max_idle_time`` come from the C monotonic clock.
* the idle clients are a C array (a stack of owned references, oldest at 0)
  instead of a list: a list that empties and refills frees and reallocates
  its storage every time, which cost a third of an acquire+release pair.
  The array is not seen by the cycle collector; clients do not refer back to
  their pool, so no cycle runs through it.

``acquire``/``release``/``execute`` are C methods; the fast paths touch only C
fields, a list and a set.

Between taking the lock and the ``try`` whose ``finally`` releases it there is
no Python code, so no exception can come between (a signal handler's
KeyboardInterrupt is raised only while Python code runs).  A caller's lock is
taken by calling its ``acquire()``; when that raises (an interrupted wait) the
lock is not held and nothing releases it: no region that releases the lock on
its way out ever releases it and takes it again inside.

Free threading: a PoolCore is made to be shared by any number of threads.
Every read or write of the idle array, the sets, the waiter list, the
counters and the cached client type happens with the mutex held (the
settings' getters read one C number each), and the mutex is a real lock
with or without the GIL: a thread that must wait for it waits with its
thread state detached, so it holds nothing another thread needs.  The pool
never calls Python code with the mutex held.  A lease (``pool.lease()``) is
per-thread: two threads sharing one can leak a client or fail on exit,
nothing worse (its one field changes in a critical section).  The fork handler's list of pools is a WeakSet, safe to share.
"""
cimport cython

import os
import threading
import weakref
from _thread import allocate_lock
from operator import index

from cpython.mem cimport PyMem_RawFree, PyMem_RawMalloc, PyMem_RawRealloc
from cpython.ref cimport PyObject, Py_DECREF, Py_INCREF
from libc.string cimport memmove
from cpython.set cimport PySet_Add, PySet_Contains, PySet_Discard

from pyredis.connection.errors import CommandNotSent
from pyredis.connection.settings import CLOSED_PROPERTY
from pyredis.exceptions import PyRedisError

cdef extern from *:
    """
    #if defined(_WIN32)
    #include <windows.h>
    typedef SRWLOCK pyredis_mutex;
    static int pyredis_mutex_init(pyredis_mutex *m) { InitializeSRWLock(m); return 0; }
    static int pyredis_mutex_trylock(pyredis_mutex *m) { return TryAcquireSRWLockExclusive(m) ? 0 : 1; }
    static void pyredis_mutex_lock(pyredis_mutex *m) { AcquireSRWLockExclusive(m); }
    static void pyredis_mutex_unlock(pyredis_mutex *m) { ReleaseSRWLockExclusive(m); }
    static void pyredis_mutex_destroy(pyredis_mutex *m) { (void)m; }
    static double pyredis_monotonic(void) { return (double)GetTickCount64() / 1000.0; }
    #else
    #include <pthread.h>
    #include <time.h>
    typedef pthread_mutex_t pyredis_mutex;
    static int pyredis_mutex_init(pyredis_mutex *m) { return pthread_mutex_init(m, NULL); }
    static int pyredis_mutex_trylock(pyredis_mutex *m) { return pthread_mutex_trylock(m); }
    static void pyredis_mutex_lock(pyredis_mutex *m) { pthread_mutex_lock(m); }
    static void pyredis_mutex_unlock(pyredis_mutex *m) { pthread_mutex_unlock(m); }
    static void pyredis_mutex_destroy(pyredis_mutex *m) { pthread_mutex_destroy(m); }
    static double pyredis_monotonic(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    }
    #endif
    """
    ctypedef struct pyredis_mutex:
        pass
    int pyredis_mutex_init(pyredis_mutex* m) nogil
    int pyredis_mutex_trylock(pyredis_mutex* m) nogil
    void pyredis_mutex_lock(pyredis_mutex* m) nogil
    void pyredis_mutex_unlock(pyredis_mutex* m) nogil
    void pyredis_mutex_destroy(pyredis_mutex* m) nogil
    double pyredis_monotonic() nogil

__all__ = ["PoolCore"]

cdef double _TIMEOUT_MAX = threading.TIMEOUT_MAX

# Every live pool core of this twin, for the fork handler (weak: no leak).
_POOLS = weakref.WeakSet()


def _forget_parent_clients():
    for pool in list(_POOLS):
        (<PoolCore>pool)._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_parent_clients)


cdef object _exhausted(Py_ssize_t size):
    return PyRedisError("Max connections %d exhausted" % size)


cdef Py_ssize_t _check_pool_size(object value) except -1:
    cdef object size = index(value)
    if size < 1:
        raise ValueError("pool_size must be >= 1, not %d" % size)
    return size


cdef double _check_seconds(str name, object value) except? -2.0:
    """Seconds >= 0, or -1.0 for None."""
    if value is None:
        return -1.0
    seconds = float(value)
    if not seconds >= 0:  # also rejects nan
        raise ValueError("%s must be None or a number of seconds >= 0, not %r" % (name, value))
    return seconds


cdef pyredis_mutex* _new_mutex() except NULL:
    cdef pyredis_mutex* mutex = <pyredis_mutex*>PyMem_RawMalloc(sizeof(pyredis_mutex))
    if mutex == NULL:
        raise MemoryError()
    if pyredis_mutex_init(mutex) != 0:
        PyMem_RawFree(mutex)
        raise OSError("cannot initialise the pool mutex")
    return mutex


cdef inline object _seconds_or_none(double value):
    return None if value < 0 else value


cdef class PoolCore:
    """Thread-safe, fork-safe set of reusable clients (see ``_core_py``).

    ``pool_size``: most clients open at once.  ``lock``: an object with
    ``acquire()``/``release()`` to use instead of the built-in lock (slower).
    ``pool_timeout``: seconds ``acquire()`` waits for a client when all are in
    use (None: raise at once).  ``max_idle_time``: an idle client older than
    this many seconds is closed instead of reused (None: never).
    """

    cdef pyredis_mutex* _mutex
    cdef object _user_lock        # the caller's lock object, or None
    cdef PyObject** _idle          # idle clients, owned references, oldest first
    cdef double* _idle_since       # their release times (kept with max_idle_time)
    cdef Py_ssize_t _nidle, _idle_cap
    cdef set _used
    cdef set _retired
    cdef list _waiters            # parked threads' private locks, oldest first (a typed
                                  # list: its emptiness test is one C read on the fast path)
    cdef Py_ssize_t _open
    cdef Py_ssize_t _pool_size
    cdef double _pool_timeout     # -1: None
    cdef double _max_idle_time    # -1: None
    cdef bint _closed
    cdef object _flag_type        # a client class whose ``closed`` is CLOSED_PROPERTY
    cdef object __weakref__

    _close_on_err = False

    def __cinit__(self, *args, **kwargs):
        self._mutex = _new_mutex()
        self._pool_size = 16
        self._pool_timeout = -1.0
        self._max_idle_time = -1.0
        self._reset_state()

    def __init__(self, pool_size=16, lock=None, *, pool_timeout=None, max_idle_time=None):
        self._pool_size = _check_pool_size(pool_size)
        self._pool_timeout = _check_seconds("pool_timeout", pool_timeout)
        self._max_idle_time = _check_seconds("max_idle_time", max_idle_time)
        self._user_lock = lock
        self._closed = False
        _POOLS.add(self)

    def __dealloc__(self):
        self._idle_clear()
        PyMem_RawFree(self._idle)
        PyMem_RawFree(self._idle_since)
        if self._mutex != NULL:
            pyredis_mutex_destroy(self._mutex)
            PyMem_RawFree(self._mutex)
            self._mutex = NULL

    cdef int _reset_state(self) except -1:
        self._idle_clear()  # drops the references; closes nothing
        self._used = set()
        self._retired = set()
        self._open = 0
        self._waiters = []
        return 0

    @cython.final
    cdef int _after_fork_in_child(self) except -1:
        # Drop, never close: the parent owns those connections.  The old mutex
        # may be held by a thread that does not exist here: leak it, take a new
        # one.  A caller's own lock object is left alone.
        self._mutex = _new_mutex()
        self._reset_state()
        return 0

    # -- the lock ----------------------------------------------------------------
    @cython.final
    cdef inline int _lock(self) except -1:
        cdef pyredis_mutex* mutex
        if self._user_lock is None:
            mutex = self._mutex
            if pyredis_mutex_trylock(mutex) != 0:
                with nogil:
                    pyredis_mutex_lock(mutex)
        else:
            self._user_lock.acquire()
        return 0

    @cython.final
    cdef inline int _unlock(self) except -1:
        if self._user_lock is None:
            pyredis_mutex_unlock(self._mutex)
        else:
            self._user_lock.release()
        return 0

    # -- settings ------------------------------------------------------------
    @property
    def pool_size(self):
        return self._pool_size

    @pool_size.setter
    def pool_size(self, value):
        cdef Py_ssize_t size = _check_pool_size(value)
        cdef list surplus = None
        self._lock()
        try:
            self._pool_size = size
            if self._open > size:
                surplus = self._idle_take(self._open - size)  # the coldest first
            self._wake(len(self._waiters))  # a bigger pool may have room for them
        finally:
            self._unlock()
        self._discard(surplus)  # in-use surplus is trimmed on release

    @property
    def pool_timeout(self):
        return _seconds_or_none(self._pool_timeout)

    @property
    def max_idle_time(self):
        return _seconds_or_none(self._max_idle_time)

    @property
    def close_on_err(self):
        """True: a client that comes back closed makes the pool drop all others."""
        return self._close_on_err

    @property
    def _pool_free(self):
        """Snapshot of the idle clients (read-only; upstream exposed its set)."""
        cdef list idle
        self._lock()
        try:
            idle = [<object>self._idle[i] for i in range(self._nidle)]
        finally:
            self._unlock()
        return frozenset(idle)

    @property
    def _pool_used(self):
        """Snapshot of the clients in use (read-only; upstream exposed its set)."""
        self._lock()
        try:
            return frozenset(self._used) | self._retired
        finally:
            self._unlock()

    def _connect(self):
        raise NotImplementedError("pool subclasses implement _connect()")

    # -- hot path ------------------------------------------------------------
    # Plain method descriptors (binding=False), not Cython function objects.
    # Measured per acquire+release pair on CPython 3.11 with real clients,
    # side by side, both call forms: bound methods kept in variables
    # (``rel(acq())``, as hot loops and benchmarks do) are then builtins
    # called directly, 84 ns against 112 ns; looked up on a Python subclass's
    # instance (``pool.release(pool.acquire())``), where CPython does not
    # specialise a descriptor call and checks the subclass's type, 116 ns
    # against 113 ns.  For execute (*args, **kwargs) the function object is
    # called through tp_call and copies the argument tuple once more (~30 ns).
    @cython.binding(False)
    @cython.embedsignature.format("clinic")  # keeps inspect.signature working
    def acquire(self, timeout=None):
        """Lease a client: an idle one if any, else a new one while the pool has
        room, else wait up to ``timeout`` (default ``pool_timeout``) seconds for
        one to be released; then ``PyRedisError("Max connections <n> exhausted")``."""
        return self._acquire(timeout)

    @cython.binding(False)
    @cython.embedsignature.format("clinic")
    def release(self, conn):
        """Give a client back; a closed one is dropped, an unknown one closed."""
        self._release(conn)

    @cython.binding(False)
    @cython.embedsignature.format("clinic")
    def execute(self, *args, **kwargs):
        """Run one command on a leased client and give the client back; once
        more, on the client handed out next, if the first failed before
        sending anything (``CommandNotSent``)."""
        conn = self._acquire(None)
        try:
            if kwargs:
                return conn.execute(*args, **kwargs)
            return conn.execute(*args)  # no keyword dict to build: the common case
        except CommandNotSent:
            pass  # that connection held data nobody asked for, or had been hung up on
        finally:
            self._release(conn)
        conn = self._acquire(None)
        try:
            return conn.execute(*args, **kwargs)
        finally:
            self._release(conn)

    @cython.final
    cdef object _acquire(self, object timeout):
        cdef object conn
        self._lock()
        if self._nidle and self._max_idle_time < 0:
            try:
                conn = self._idle_pop()
                PySet_Add(self._used, conn)
            except BaseException:
                self._unlock()
                raise
            self._unlock()
            return conn
        self._unlock()
        return self._acquire_slow(timeout)

    @cython.final
    cdef int _release(self, object conn) except -1:
        cdef bint closed
        cdef list to_close
        # Outside the lock: ``closed`` may be a property doing work.  Our
        # clients' is CLOSED_PROPERTY, a read of ``_closed``: done here directly
        # for the last class seen to have it (a property call costs more than
        # the rest of the release).
        if type(conn) is self._flag_type:
            closed = conn._closed
        else:
            closed = self._closed_of(conn)
        self._lock()
        try:
            if (not closed and self._open <= self._pool_size and not self._closed
                    and PySet_Discard(self._used, conn) == 1):
                self._idle_push(conn)
                if self._waiters:
                    self._waiters.pop(0).release()
                return 0
            to_close = self._release_locked(conn, closed)
        finally:
            self._unlock()
        if to_close is None:
            conn.close()  # not ours: close it, nothing else
        else:
            self._discard(to_close)
        return 0

    @cython.final
    cdef bint _closed_of(self, object conn) except -1:
        if getattr(type(conn), "closed", None) is CLOSED_PROPERTY:
            self._lock()  # two threads replacing it at once would both drop the old one
            self._flag_type = type(conn)
            self._unlock()
        return conn.closed

    # -- slow paths ---------------------------------------------------------------
    @cython.final
    cdef object _acquire_slow(self, object timeout):
        """acquire() when no idle client can be taken at once: close stale
        clients, reserve a slot for a new client, or wait.  Each round decides
        under the lock and does its slow part (closing, waiting) outside it."""
        cdef double deadline = -1.0, wait, remaining = 0.0
        cdef list stale
        cdef object waiter = None  # our place in _waiters; once woken, kept until used
        try:
            while True:
                stale = None
                self._lock()
                try:
                    if waiter is not None and self._unqueue(waiter):
                        waiter = None  # it timed out: no wake-up to pass on
                    if self._closed:
                        raise PyRedisError("Pool is closed")
                    if self._max_idle_time >= 0:
                        stale = self._take_stale()
                    if not stale:
                        if self._nidle:
                            conn = self._idle_pop()
                            self._used.add(conn)
                            return conn
                        if self._open < self._pool_size:
                            self._open += 1  # reserve the slot; connect outside the lock
                            break
                        if deadline < 0:
                            if timeout is not None:
                                wait = timeout
                            elif self._pool_timeout >= 0:
                                wait = self._pool_timeout
                            else:
                                wait = 0.0
                            if not wait > 0:  # also nan
                                raise _exhausted(self._pool_size)
                            deadline = pyredis_monotonic() + min(wait, _TIMEOUT_MAX)
                        remaining = deadline - pyredis_monotonic()
                        if remaining <= 0:
                            raise _exhausted(self._pool_size)
                        waiter = allocate_lock()
                        waiter.acquire()
                        self._waiters.append(waiter)
                finally:
                    self._unlock()
                if stale:
                    self._discard(stale)  # then look again
                else:
                    waiter.acquire(True, remaining)  # until woken or timed out
        except BaseException:
            if waiter is not None:
                self._leave(waiter)
            raise
        return self._connect_reserved()

    @cython.final
    cdef list _take_stale(self):
        """Pop the idle clients released more than max_idle_time ago (lock held)."""
        cdef Py_ssize_t count = 0
        cdef double limit = pyredis_monotonic() - self._max_idle_time
        while count < self._nidle and self._idle_since[count] < limit:
            count += 1
        if not count:
            return None
        return self._idle_take(count)

    @cython.final
    cdef bint _unqueue(self, object waiter) except -1:
        """Remove a waiter that timed out (lock held); False if it was woken meanwhile."""
        try:
            self._waiters.remove(waiter)
        except ValueError:
            return False
        return True

    @cython.final
    cdef int _leave(self, object waiter) except -1:
        """An acquirer gives up (error, timeout, interrupt) with ``waiter``
        queued or woken: a wake-up it got, for a client or a slot it will not
        take, goes to the next waiter."""
        self._lock()
        try:
            if not self._unqueue(waiter):
                self._wake(1)
        finally:
            self._unlock()
        return 0

    @cython.final
    cdef object _connect_reserved(self):
        """Make the client of a slot acquire reserved (lock NOT held)."""
        cdef bint closed
        try:
            conn = self._connect()
        except BaseException:
            self._give_back_slots(1)
            raise
        self._lock()
        try:
            closed = self._closed
            if not closed:
                self._used.add(conn)
        finally:
            self._unlock()
        if closed:
            self._discard([conn])
            raise PyRedisError("Pool is closed")
        return conn

    @cython.final
    cdef int _drop(self, object conn) except -1:
        """Take a leased client out of the pool and close it, freeing its slot:
        the release of an open client the pool cannot keep (no close_on_err
        reset, which is for clients a failure closed)."""
        cdef list to_close
        self._lock()
        try:
            to_close = self._release_locked(conn, False)
        finally:
            self._unlock()
        if to_close is None:
            conn.close()
        else:
            self._discard(to_close)
        return 0

    @cython.final
    cdef list _release_locked(self, object conn, bint closed):
        """The rare release cases (lock held): the clients to close once it is
        released, or None for a client the pool does not know."""
        if PySet_Discard(self._used, conn) != 1:
            if PySet_Contains(self._retired, conn):
                self._retired.remove(conn)
                return [conn]  # stays counted until closed
            return None
        if not closed:  # open, but the pool is closed or over its size
            return [conn]
        self._open -= 1
        self._wake(1)
        if not self.close_on_err:
            return []
        # The server behind the pool probably changed (failover): close the
        # idle clients, retire the busy ones (closed when they come back).
        to_close = self._idle_take(self._nidle)
        self._retired.update(self._used)
        self._used.clear()
        return to_close

    # -- the idle stack (lock held, except in __dealloc__/__cinit__) ---------------
    @cython.final
    cdef inline int _idle_push(self, object conn) except -1:
        if self._nidle == self._idle_cap:
            self._idle_grow()
        Py_INCREF(conn)
        self._idle[self._nidle] = <PyObject*>conn
        if self._max_idle_time >= 0:
            self._idle_since[self._nidle] = pyredis_monotonic()
        self._nidle += 1
        return 0

    @cython.final
    cdef inline object _idle_pop(self):
        """The most recently released client (the caller checked _nidle)."""
        self._nidle -= 1
        conn = <object>self._idle[self._nidle]
        Py_DECREF(conn)  # the stack's reference: `conn` holds its own
        return conn

    @cython.final
    cdef int _idle_grow(self) except -1:
        cdef Py_ssize_t cap = self._idle_cap * 2 if self._idle_cap else 8
        cdef void* idle = PyMem_RawRealloc(self._idle, cap * sizeof(PyObject*))
        if idle == NULL:
            raise MemoryError()
        self._idle = <PyObject**>idle
        cdef void* since = PyMem_RawRealloc(self._idle_since, cap * sizeof(double))
        if since == NULL:
            raise MemoryError()
        self._idle_since = <double*>since
        self._idle_cap = cap
        return 0

    @cython.final
    cdef list _idle_take(self, Py_ssize_t count):
        """Remove the ``count`` oldest idle clients (at most all) and return them."""
        cdef list taken = []
        cdef Py_ssize_t i
        if count > self._nidle:
            count = self._nidle
        for i in range(count):
            taken.append(<object>self._idle[i])
        for i in range(count):  # only once the list holds them
            Py_DECREF(<object>self._idle[i])
        self._nidle -= count
        memmove(self._idle, self._idle + count, self._nidle * sizeof(PyObject*))
        memmove(self._idle_since, self._idle_since + count, self._nidle * sizeof(double))
        return taken

    @cython.final
    cdef int _idle_clear(self) except -1:
        """Forget every idle client without closing it."""
        cdef Py_ssize_t n = self._nidle
        self._nidle = 0
        while n:
            n -= 1
            Py_DECREF(<object>self._idle[n])
        return 0

    # -- helpers ----------------------------------------------------------------
    @cython.final
    cdef int _wake(self, Py_ssize_t count) except -1:
        """Wake up to ``count`` waiting acquirers (lock held)."""
        cdef list waiters = self._waiters
        while count > 0 and waiters:
            waiters.pop(0).release()
            count -= 1
        return 0

    @cython.final
    cdef int _give_back_slots(self, Py_ssize_t count) except -1:
        self._lock()
        self._open -= count
        try:
            self._wake(count)
        finally:
            self._unlock()
        return 0

    @cython.final
    cdef int _discard(self, list clients) except -1:
        """Close clients taken out of the pool (lock NOT held), then free their slots.

        Every client is closed even if one ``close()`` raises; the first error
        is raised afterwards.
        """
        if not clients:
            return 0
        error = None
        for client in clients:
            try:
                client.close()
            except BaseException as exc:
                if error is None:
                    error = exc
        self._give_back_slots(len(clients))
        if error is not None:
            raise error
        return 0

    # -- lifetime -----------------------------------------------------------------
    def close(self):
        """Close the idle clients and refuse new leases.  Clients in use are
        closed when they are released.  Idempotent."""
        self._lock()
        try:
            self._closed = True
            idle = self._idle_take(self._nidle)
            self._wake(len(self._waiters))  # they raise "Pool is closed"
        finally:
            self._unlock()
        self._discard(idle)

    def lease(self, timeout=None):
        """``with pool.lease() as client:`` - acquire, then always release."""
        return _Lease(self, timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


cdef class _Lease:
    cdef PoolCore _pool
    cdef object _timeout
    cdef object _conn

    def __init__(self, PoolCore pool, timeout):
        self._pool = pool
        self._timeout = timeout

    def __enter__(self):
        conn = self._pool._acquire(self._timeout)
        with cython.critical_section(self):
            self._conn = conn
        return conn

    def __exit__(self, exc_type, exc, tb):
        with cython.critical_section(self):
            conn = self._conn
            self._conn = None
        if exc_type is None or conn.closed:
            self._pool._release(conn)
        else:  # the body failed: the client may be in MULTI, in bulk mode, watching keys
            self._pool._drop(conn)
