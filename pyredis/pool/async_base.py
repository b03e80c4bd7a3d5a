"""AsyncBasePool: the asyncio twin of BasePool.

Plain Python, except ``execute``'s fast path (``_protocol.SharedDispatch``):
in one event loop the bookkeeping below runs between awaits, so it is atomic
without a lock.  State:

* ``_free``    idle clients, most recently released last (acquire takes the
               last one);  ``_since`` their release times (only with
               ``max_idle_time``);
* ``_used``    clients handed out (leases: one task each);
* ``_shared``  clients serving ordinary commands of any number of tasks at
               once (``execute``; their connections pipeline); the current
               one is the dispatcher's ``client``;
* ``_retired`` clients in use when ``close_on_err`` reset the pool: still
               counted, closed when they come back;
* ``_open``    every client the pool answers for (free + used + shared +
               retired + being connected + being closed); ``_open < pool_size`` is the
               only capacity test, so there are never more than ``pool_size``.
* ``_waiters`` futures of tasks waiting in ``acquire``, oldest first.  A
               released client (or a freed slot) is handed straight to the
               oldest waiter, so a newcomer cannot overtake it.
"""
import asyncio
import inspect
from time import monotonic

from pyredis._twins import import_twin
from pyredis.connection.dedicated import ORDINARY, STATEFUL, command_kind
from pyredis.exceptions import PyRedisError
from pyredis.pool._core_py import (
    PoolState,
    _check_pool_size,
    _check_seconds,
    _reset_for_failover,
)
from pyredis.pool.settings import ClientSettings

__all__ = ["AsyncBasePool"]

_protocol = import_twin("pyredis.connection", "_protocol")

# A shared client takes new commands while fewer than this many replies are
# due on it; past that the pool spreads them over another connection (while
# it has room).  One connection pipelines dozens of tasks at less CPU per
# command than several would.
SHARED_DEPTH = 64

# What a waiter receives instead of a client: a slot reserved for it (it
# connects a new client), nothing (timeout, or the pool was closed), or a
# call to look again (a shared client appeared: ordinary commands use it,
# leases take it out of sharing).
_SLOT = object()
_NOTHING = None
_RETRY = object()


def _expire(waiter):
    if not waiter.done():
        waiter.set_result(_NOTHING)


async def _quietly(closing):
    try:
        await closing
    except Exception:  # nobody awaits a background close: a failure is no news
        pass


async def _close_client(client):
    result = client.close()
    if inspect.isawaitable(result):
        await result


class AsyncBasePool(PoolState, ClientSettings):
    """Pool of asyncio clients for one event loop; subclasses implement ``_connect()``.

    ``_connect()`` returns a new client that has not connected yet (or a
    coroutine giving one); the client needs ``execute(*args, **kwargs)``
    (a coroutine), ``close()`` (a coroutine, or plain) and a ``closed``
    attribute.  Command methods of subclasses return the coroutine of
    ``execute`` (``await pool.get("k")``).

    Settings (read-only properties): ``database``, ``password``, ``encoding``,
    ``conn_timeout``, ``read_timeout``, ``username``, ``close_on_err``,
    ``pool_timeout``, ``max_idle_time``; ``pool_size`` read/write.

    Behaviour, and where it differs from pyredis 1.0:

    * ``await execute(*args)`` (and every command method): an ordinary
      command runs on a *shared* client - one connection serves any number
      of tasks at once, their commands pipelined (see AsyncConnection) - so
      more tasks than ``pool_size`` do not exhaust the pool.  A shared
      client takes commands until ``SHARED_DEPTH`` (64) replies are due on
      it; then the pool adds another while it has room.  Blocking commands
      (BLPOP, XREAD BLOCK, WAIT...) run on a leased client of their own,
      given back afterwards; commands that change a connection's state
      (MULTI/EXEC, WATCH, SUBSCRIBE, SELECT, AUTH, CLIENT REPLY...) run on a
      leased client that is then closed (it no longer matches the pool's
      settings: keep such state with ``lease()``).  The lists, and what
      happens to commands not in them, are in
      ``pyredis.connection.dedicated``.  A shared client that failed is
      dropped and replaced for the next command.
    * ``await acquire(timeout=None)`` hands out the most recently released
      idle client; with none idle and fewer than ``pool_size`` open it reserves
      a slot and calls ``_connect()`` *outside* the lock (upstream held its
      lock across Sentinel discovery); with no room, a shared client is taken
      out of sharing and handed over once the replies due on it are in.
      When all are leased it raises
      ``PyRedisError("Max connections <n> exhausted")`` at once, as upstream,
      unless ``timeout`` (or the pool's ``pool_timeout``) lets it wait, first
      come first served, for a release.  Cancelling a waiting task loses
      nothing (a client handed to it meanwhile goes back).
    * ``await release(client)``: a closed client is dropped (with
      ``close_on_err`` every idle client is closed too, and the clients in use
      are closed when they come back - upstream forgot them, so the pool could
      exceed its size); a client over the size, or released after
      ``close()``, is closed; an unknown one is closed.
    * Cancellation: a task cancelled (or timed out) while waiting for a reply
      costs nobody else anything: its reply is read and dropped.  A
      cancelled blocking command closes its leased connection, which is
      dropped: the server never pops an element for a caller who is gone.
    * ``pool_size = n`` (synchronous): surplus idle clients are closed in a
      task when a loop is running, else by the pool's next ``acquire``,
      ``release`` or ``close``; surplus clients in use when released.
    * An idle client whose ``closed`` turned True (AsyncConnection sets it as
      soon as the server closes or resets an idle connection) is dropped by
      ``acquire`` instead of being handed out to fail.
    * ``max_idle_time`` (seconds, default None = never): an idle client unused
      for longer is closed instead of reused.
    * ``await close()``, ``async with pool:`` (closes on exit) and
      ``async with pool.lease() as client:`` are new.  ``close()`` closes
      the idle and the shared clients at once (commands still waiting on a
      shared one fail with ``PyRedisConnError``).
    * ``lock``: upstream took an ``asyncio.Lock`` around every state change.
      Nothing here needs one (see the module docstring); an object passed in
      (an ``asyncio.Lock``, or anything with ``acquire()``/``release()``,
      ``acquire`` possibly a coroutine) is still held around the state changes
      of ``acquire``, ``release`` and ``close``, never across I/O.
    * ``push_handler`` (keyword-only): given to every client the pool makes,
      which calls it with each RESP3 push frame (AsyncPool, AsyncHashPool;
      the cluster and Sentinel pools refuse it at construction for now).
    * ``_pool_free`` / ``_pool_used`` / ``_pool_shared`` are read-only
      snapshots (frozensets).
    * ``execute`` is bound per instance to the compiled dispatcher; a
      subclass overriding ``execute``, or ``mock.patch.object`` on the
      class's ``execute`` before the pool is made, is honoured.
    * The client settings (and a subclass's host, port, TLS settings) are
      checked as an AsyncConnection checks them (ValueError / TypeError, see
      pyredis/connection/settings.py): a bad pool fails at construction.
    * Not thread-safe: use a pool from its event loop's thread only.
    """

    _close_on_err = False  # Sentinel pools set this to True
    _takes_push_handler = True  # its clients take push_handler (passed on to each connection)

    def __init__(self, database=0, password=None, encoding=None, conn_timeout=2,
                 read_timeout=2, pool_size=16, lock=None, username=None, *,
                 pool_timeout=None, max_idle_time=None, push_handler=None):
        if push_handler is not None:
            if not callable(push_handler):
                raise TypeError("push_handler must be a callable or None, not %r"
                                % (type(push_handler).__name__,))
            if not self._takes_push_handler:
                raise TypeError("%s does not take a push_handler" % type(self).__name__)
            self._push_handler = push_handler
        self._pool_size = _check_pool_size(pool_size)
        self._pool_timeout = _check_seconds("pool_timeout", pool_timeout)
        self._max_idle_time = _check_seconds("max_idle_time", max_idle_time)
        self._lock = lock
        self._set_client_settings(database, password, encoding, conn_timeout, read_timeout,
                                  username)
        self._reset_state()
        self._closed = False
        self._to_close = []  # taken out of the pool, to close at the next chance
        self._tasks = set()  # background close tasks (kept referenced until done)
        self._shared = []
        self._dispatch = _protocol.SharedDispatch(self, SHARED_DEPTH)
        if type(self).execute is _EXECUTE:
            self.execute = self._dispatch

    @property
    def _pool_shared(self):
        """Snapshot of the shared clients (read-only)."""
        return frozenset(self._shared)

    # -- settings (the others: PoolState and ClientSettings) --------------------
    @property
    def pool_size(self):
        return self._pool_size

    @pool_size.setter
    def pool_size(self, value):
        size = _check_pool_size(value)
        self._pool_size = size
        free = self._free
        surplus = []
        while free and self._open - len(surplus) > size:
            surplus.append(free.pop(0))  # the coldest first
            if self._since:
                self._since.pop(0)
        self._to_close.extend(surplus)  # still counted in _open until closed
        self._hand_out_slots()  # a bigger pool may have room for waiters
        if surplus:
            self._close_in_background()

    # -- the optional caller's lock ------------------------------------------
    async def _lock_acquire(self):
        result = self._lock.acquire()
        if inspect.isawaitable(result):
            await result

    # -- acquire ---------------------------------------------------------------
    async def acquire(self, timeout=None):
        """Lease a client: an idle one if any, else a new one while the pool has
        room, else wait up to ``timeout`` (default ``pool_timeout``) seconds for
        one to be released; then ``PyRedisError("Max connections <n> exhausted")``."""
        if self._lock is None:
            free = self._free
            if free and self._max_idle_time is None and not self._to_close:
                conn = free[-1]
                if not conn.closed:  # the hot path
                    free.pop()
                    self._used.add(conn)
                    return conn
        while True:
            got = await self._take_locked()
            if self._to_close:
                self._close_in_background()
            if got is _NOTHING and self._shared:
                got = await self._unshare()
            if got is _NOTHING:
                got = await self._wait(timeout)
            if got is not _RETRY:
                break
        if got is _SLOT:
            return await self._connect_reserved()
        return got

    async def _take_locked(self):
        """_take(), under the caller's lock if the pool has one."""
        if self._lock is None:
            return self._take()
        await self._lock_acquire()
        try:
            return self._take()
        finally:
            self._lock.release()

    def _take(self):
        """A client, a reserved slot, or nothing (pool full)."""
        if self._closed:
            raise PyRedisError("Pool is closed")
        if self._max_idle_time is not None:
            self._take_stale()
        free = self._free
        while free:
            conn = free.pop()
            if self._since:
                self._since.pop()
            if conn.closed:  # the server hung up while it was idle: its slot is free now
                self._open -= 1
                self._spawn(_close_client(conn))
                continue
            self._used.add(conn)
            return conn
        if self._open < self._pool_size:
            self._open += 1
            return _SLOT
        return _NOTHING

    def _take_stale(self):
        """Drop idle clients released more than max_idle_time ago.

        Their slots are free at once (the caller may need one: a pool of one
        whose client went stale must not report itself exhausted); they are
        closed in the background.
        """
        since = self._since
        limit = monotonic() - self._max_idle_time
        count = 0
        for released in since:
            if released >= limit:
                break
            count += 1
        if count:
            stale = self._free[:count]
            del self._free[:count]
            del since[:count]
            self._open -= count
            for conn in stale:
                self._spawn(_close_client(conn))

    async def _wait(self, timeout):
        wait = self._pool_timeout if timeout is None else timeout
        if wait is None or not wait > 0:  # also nan
            raise PyRedisError("Max connections %d exhausted" % self._pool_size)
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_later(wait, _expire, waiter)
        handed = False
        try:
            got = await waiter
            handed = got is not _NOTHING  # a hand-out dequeues the waiter first
        except BaseException:  # cancelled: give back what was handed to us meanwhile
            if waiter.done() and not waiter.cancelled():
                self._give_back(waiter.result())
            raise
        finally:
            timer.cancel()
            if not handed:  # timed out or cancelled: most likely still queued
                try:
                    # (deque.remove's miss formats the future's repr: costly,
                    # hence not tried after a hand-out, the common case)
                    self._waiters.remove(waiter)
                except ValueError:
                    pass  # dequeued already
        if got is _NOTHING:
            if self._closed:
                raise PyRedisError("Pool is closed")
            raise PyRedisError("Max connections %d exhausted" % self._pool_size)
        return got

    def _give_back(self, got):
        """Undo a hand-out to a waiter that is gone."""
        if got is _SLOT:
            self._slots_freed(1)
        elif got is not _NOTHING and got is not _RETRY:  # a client: released as if used
            to_close = self._release_now(got, got.closed)
            if to_close:
                self._to_close.extend(to_close)
                self._close_in_background()

    async def _connect_reserved(self):
        try:
            conn = self._connect()
            if inspect.isawaitable(conn):
                conn = await conn
        except BaseException:
            self._slots_freed(1)
            raise
        if self._closed:
            await self._discard([conn])
            raise PyRedisError("Pool is closed")
        self._used.add(conn)
        return conn

    # -- release -----------------------------------------------------------------
    async def release(self, conn):
        """Give a client back; a closed one is dropped, an unknown one closed."""
        closed = conn.closed
        if self._lock is None:
            to_close = self._release_now(conn, closed)
        else:
            await self._lock_acquire()
            try:
                to_close = self._release_now(conn, closed)
            finally:
                self._lock.release()
        if to_close is None:
            await _close_client(conn)  # not ours: close it, nothing else
        elif to_close:
            await self._discard(to_close)
        if self._to_close:
            self._close_in_background()

    async def _drop(self, conn):
        """Take a leased client out of the pool and close it, freeing its slot:
        the release of an open client the pool cannot keep (no close_on_err
        reset, which is for clients a failure closed)."""
        if self._lock is None:
            ours = self._take_out(conn)
        else:
            await self._lock_acquire()
            try:
                ours = self._take_out(conn)
            finally:
                self._lock.release()
        if ours:
            await self._discard([conn])
        else:
            await _close_client(conn)

    def _take_out(self, conn):
        for clients in (self._used, self._retired):
            if conn in clients:
                clients.remove(conn)
                return True
        return False

    def _release_now(self, conn, closed):
        """Bookkeeping of a release: the clients to close (counted in _open until
        closed), or None for a client the pool does not know."""
        used = self._used
        if conn not in used:
            if conn in self._retired:
                self._retired.remove(conn)
                return [conn]
            return None
        used.remove(conn)
        if not closed:
            if self._closed or self._open > self._pool_size:
                return [conn]
            if not self._hand_to_waiter(conn):
                self._free.append(conn)
                if self._max_idle_time is not None:
                    self._since.append(monotonic())
            return []
        self._slots_freed(1)
        if not self._close_on_err:
            return []
        to_close = _reset_for_failover(self) + self._shared
        self._shared = []
        self._dispatch.client = self._dispatch.proto = None
        return to_close

    def _hand_to_waiter(self, conn):
        """Give an open client straight to the oldest waiter (True if one took it)."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                self._used.add(conn)
                waiter.set_result(conn)
                return True
        return False

    def _slots_freed(self, count):
        self._open -= count
        self._hand_out_slots()

    def _hand_out_slots(self):
        """Give the room the pool has to waiters (each then connects a client)."""
        waiters = self._waiters
        while waiters and self._open < self._pool_size and not self._closed:
            waiter = waiters.popleft()
            if not waiter.done():
                self._open += 1
                waiter.set_result(_SLOT)

    async def execute(self, *args, **kwargs):
        """Run one command: ordinary ones on a shared client, the others on a
        leased one (see the class docstring)."""
        return await self._execute_routed(args, kwargs)

    async def _execute_routed(self, args, kwargs):
        kind = command_kind(args)
        if kind == ORDINARY:
            client = await self._shared_client()
            return await client.execute(*args, **kwargs)
        conn = await self.acquire()
        try:
            reply = await conn.execute(*args, **kwargs)
        except BaseException:
            await self.release(conn)  # a closed one is dropped
            raise
        if kind == STATEFUL:
            await self._drop(conn)  # its state is no longer the pool's
        else:
            await self.release(conn)
        return reply

    # -- shared clients ------------------------------------------------------------
    async def _shared_client(self):
        """The client for an ordinary command: the least loaded shared one, or
        another (idle, or new while there is room) when all are busy."""
        while True:
            if self._closed:
                raise PyRedisError("Pool is closed")
            best = self._least_loaded()
            if best is not None and _load(best) < SHARED_DEPTH:
                return self._use_shared(best)
            got = await self._take_locked()
            if got is _NOTHING:
                if best is not None:
                    return self._use_shared(best)
                got = await self._wait(None)  # every client is leased
                if got is _RETRY:
                    continue
            if got is _SLOT:
                got = await self._connect_reserved()
            if got.closed or got not in self._used:  # lost meanwhile (pool closed...)
                await self.release(got)
                continue
            self._used.remove(got)
            self._shared.append(got)
            self._retry_waiters()
            return self._use_shared(got)

    def _retry_waiters(self):
        """Tasks waited because every client was leased; now one is shared:
        they look again (ordinary commands share it, leases take it over)."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(_RETRY)

    def _least_loaded(self):
        """The open shared client with the fewest replies due (None: none).
        Closed ones are dropped on the way (their slots freed)."""
        shared = self._shared
        best = None
        least = None
        for client in list(shared):
            if client.closed:
                self._unshare_closed(client)
                continue
            load = _load(client)
            if least is None or load < least:
                best, least = client, load
        if best is not None and self._open > self._pool_size and least == 0 and len(shared) > 1:
            # The pool shrank: an idle shared client over the size goes.
            shared.remove(best)
            self._to_close.append(best)
            self._close_in_background()
            return self._least_loaded()
        return best

    def _unshare_closed(self, client):
        self._shared.remove(client)
        if self._dispatch.client is client:
            self._dispatch.client = self._dispatch.proto = None
        self._spawn(_close_client(client))
        self._slots_freed(1)
        if self._close_on_err:  # the server behind the pool probably changed
            to_close = _reset_for_failover(self) + self._shared
            self._shared = []
            self._dispatch.client = self._dispatch.proto = None
            self._to_close.extend(to_close)
            self._close_in_background()

    def _use_shared(self, client):
        dispatch = self._dispatch
        if dispatch.client is not client:
            proto = getattr(client, "_pipeline", None)
            dispatch.proto = proto if isinstance(proto, _protocol.CommandProtocol) else None
            dispatch.client = client
        return client

    async def _unshare(self):
        """A lease when the pool has no room: the least loaded shared client,
        taken out of sharing, once the replies due on it are in."""
        client = self._least_loaded()
        if client is None:
            return _NOTHING
        self._shared.remove(client)
        if self._dispatch.client is client:
            self._dispatch.client = self._dispatch.proto = None
        self._used.add(client)
        proto = getattr(client, "_pipeline", None)
        idle = proto.when_idle() if isinstance(proto, _protocol.CommandProtocol) else None
        if idle is not None:
            try:
                await idle
            except BaseException:  # cancelled: still busy, so shared again
                if client in self._used and not client.closed and not self._closed:
                    self._used.remove(client)
                    self._shared.append(client)
                else:
                    await self.release(client)
                raise
        return client

    # -- closing clients ---------------------------------------------------------
    async def _discard(self, clients):
        """Close clients taken out of the pool, then free their slots.

        Every client is closed even if one ``close()`` raises; the first error
        is raised afterwards.  The slots are freed even if this is cancelled.
        """
        error = None
        try:
            for client in clients:
                try:
                    await _close_client(client)
                except Exception as exc:  # noqa: B902 - re-raised below
                    if error is None:
                        error = exc
        finally:
            self._slots_freed(len(clients))
        if error is not None:
            raise error

    def _close_in_background(self):
        """Close what is in _to_close in a task (when a loop is running)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop: closed by the next acquire/release/close
        clients, self._to_close = self._to_close, []
        self._spawn(self._discard(clients), loop)

    def _spawn(self, closing, loop=None):
        """Run a closing coroutine in a task that ``close()`` waits for."""
        if loop is None:
            loop = asyncio.get_running_loop()
        task = loop.create_task(_quietly(closing))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- lifetime ---------------------------------------------------------------
    async def close(self):
        """Close the idle clients and refuse new leases.  Clients in use are
        closed when they are released.  Idempotent."""
        if self._lock is not None:
            await self._lock_acquire()
            try:
                idle = self._close_now()
            finally:
                self._lock.release()
        else:
            idle = self._close_now()
        tasks = list(self._tasks)
        await self._discard(idle)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _close_now(self):
        self._closed = True
        idle = self._free + self._to_close + self._shared
        self._shared = []
        self._dispatch.client = self._dispatch.proto = None
        self._free = []
        self._since = []
        self._to_close = []
        waiters = self._waiters
        while waiters:  # they raise "Pool is closed"
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(_NOTHING)
        return idle

    def lease(self, timeout=None):
        """``async with pool.lease() as client:`` - acquire, then always release."""
        return _Lease(self, timeout)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        await self.close()


def _load(client):
    """Replies due on a shared client (0 for a client without a pipeline)."""
    proto = getattr(client, "_pipeline", None)
    if isinstance(proto, _protocol.CommandProtocol):
        return len(proto.waiters) + proto.starting
    return 0


# The real execute, to tell it from an override or a mock.patch of the class's.
_EXECUTE = AsyncBasePool.execute


class _Lease:
    __slots__ = ("_pool", "_timeout", "_conn")

    def __init__(self, pool, timeout):
        self._pool = pool
        self._timeout = timeout
        self._conn = None

    async def __aenter__(self):
        self._conn = await self._pool.acquire(self._timeout)
        return self._conn

    async def __aexit__(self, exc_type, exc, tb):
        conn, self._conn = self._conn, None
        if exc_type is None or conn.closed:
            await self._pool.release(conn)
        else:  # the body failed: the client may be in MULTI, in bulk mode, watching keys
            await self._pool._drop(conn)
