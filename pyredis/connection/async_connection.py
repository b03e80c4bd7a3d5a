"""AsyncConnection: one asyncio connection to one Redis server.

The asyncio twin of :class:`~pyredis.connection.Connection`, built on the same
protocol layer: every command is packed by ``pack_args`` and sent with one
transport write; every byte received is fed, as the transport delivers it
(up to 256 KiB per chunk, not upstream's 1500 bytes), into the same
``Reader`` the sync connection uses.

Rules it keeps (DESIGN.md, "Reliability rules"):

* Connected lazily, on first use; never reconnects.  Once closed (by
  ``close()`` or by any failure) every use raises
  ``PyRedisConnError("Connection Gone")``.
* A reply is never left half-read on an open connection: a read timeout, a
  reset, EOF, a protocol error, *and a task cancelled* (``CancelledError``,
  ``asyncio.wait_for`` timing out) between sending a command and having its
  whole reply close the connection, so a pool never gets back a connection
  with a stray reply on it.  The one exception is
  ``read(close_on_timeout=False)`` timing out with nothing of a reply
  buffered: that is PubSub polling, and the stream is still in sync.
* Concurrent tasks: ``execute`` (write + read of one command), ``read``,
  ``read_replies`` and ``execute_many`` hold a per-connection
  ``asyncio.Lock``, so tasks sharing a connection are served one at a time,
  in arrival order, and each gets its own reply.  (Upstream had no lock:
  replies went to whichever task read first.)  ``write`` alone takes the lock
  only to connect, so a PubSub subscriber can send while another task waits
  in ``read``.

A connection belongs to the event loop it first connected in.
"""
import asyncio
import os
import weakref

from pyredis.exceptions import (
    PyRedisConnClosed,
    PyRedisConnError,
    PyRedisConnReadTimeout,
    ReplyError,
)
from pyredis.connection.errors import connect_failed, gone, read_timeout, write_failed
from pyredis.connection.settings import ConnectionSettings
from pyredis.protocol import Reader, pack_args

__all__ = ["AsyncConnection"]

# Connect timeouts: TimeoutError is an OSError from 3.11 on; before, asyncio
# raised its own class.
_CONNECT_ERRORS = (OSError, asyncio.TimeoutError, OverflowError, ValueError, TypeError)

_CLOSED_MESSAGE = "Connection closed by the server"


# A deadline this close (seconds) counts as reached: timers fire up to the
# loop's clock resolution early.
_DEADLINE_SLACK = 1e-3


class _ReplyStream(asyncio.Protocol):
    """Feeds every chunk the transport receives into the connection's Reader
    and wakes the task waiting for data; records why the stream ended."""

    def __init__(self, feed, on_end):
        self.feed = feed
        self.on_end = on_end  # called once when the server ends the stream
        self.transport = None
        self.waiter = None  # future of the task waiting for more data
        self.lost = None  # the exception a reader gets once the stream has ended
        self.paused = False  # write buffer over its high-water mark
        self.drain_waiters = []  # writers waiting for resume_writing
        self.closed = None  # future: set by connection_lost
        self.received = 0  # chunks received so far
        # Read timeout: one timer per connection, re-armed lazily.  Each wait
        # just moves ``deadline``; the timer, when it fires, either expires the
        # wait or re-arms for the new deadline (a TimerHandle per command
        # would cost more than the rest of the read path).
        self.deadline = 0.0
        self.timer = None

    def connection_made(self, transport):
        self.transport = transport
        self.closed = asyncio.get_running_loop().create_future()

    def data_received(self, data):
        self.received += 1
        self.feed(data)
        self._wake()

    def eof_received(self):
        if self.lost is None:
            self.lost = PyRedisConnClosed(_CLOSED_MESSAGE)
            self.on_end()
        self._wake()
        return False  # let the transport close itself

    def wait_for_data(self, loop, timeout):
        """A future set to False when data (or the end) arrives, True when
        ``timeout`` seconds pass first (None: never)."""
        waiter = self.waiter = loop.create_future()
        if timeout is not None:
            self.deadline = loop.time() + timeout
            if self.timer is None:
                self.timer = loop.call_at(self.deadline, self._check_deadline, loop)
        return waiter

    def _check_deadline(self, loop):
        self.timer = None
        waiter = self.waiter
        if waiter is None or waiter.done():
            return  # nobody waiting: stay disarmed until the next wait
        if loop.time() + _DEADLINE_SLACK >= self.deadline:
            self.waiter = None
            waiter.set_result(True)
        else:
            self.timer = loop.call_at(self.deadline, self._check_deadline, loop)

    def connection_lost(self, exc):
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.lost is None:
            self.lost = (PyRedisConnClosed(_CLOSED_MESSAGE) if exc is None
                         else PyRedisConnError("Connection lost: %s" % (exc,)))
            self.on_end()
        self._wake()
        self.paused = False
        self._wake_drain()
        if self.closed is not None and not self.closed.done():
            self.closed.set_result(None)

    def pause_writing(self):
        self.paused = True

    def resume_writing(self):
        self.paused = False
        self._wake_drain()

    def _wake(self):
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(False)

    def _wake_drain(self):
        waiters, self.drain_waiters = self.drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


# Connected connections, so that a forked child can forget the ones it
# inherited (it must never talk on the parent's streams).
_LIVE = weakref.WeakSet()


def _forget_inherited_connections():
    for conn in list(_LIVE):
        conn._forget()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_inherited_connections)


class AsyncConnection(ConnectionSettings):
    """One asyncio connection to a Redis server, over TCP (optionally TLS) or a
    unix socket.  Same constructor as :class:`~pyredis.connection.Connection`.

    Differences from upstream: settings are checked at construction and a
    username without a password sends ``AUTH <username> ""``, as for
    Connection (see ConnectionSettings); AUTH/SELECT/READONLY go out in one write and
    their replies are read under ``read_timeout`` (no 0.1 s SELECT timeout);
    ``SELECT 0`` is not sent (a new connection is on database 0); TLS
    (``ssl=True`` or ``ssl_context=``); cancellation-safe reads and a
    per-connection lock (see the module docstring); ``closed`` turns True as
    soon as the server closes or resets the connection, even while idle
    (pools then skip it; the sync twin only learns of it on the next use).
    """

    def _init_state(self):
        self._loop = None
        self._proto = None  # the _ReplyStream once connected
        self._transport = None
        self._reader = None
        self._gets = None
        self._lock = None  # asyncio.Lock, made in the loop that first uses it

    # -- connecting --------------------------------------------------------
    def _get_lock(self):
        lock = self._lock
        if lock is None:
            lock = self._lock = asyncio.Lock()
        return lock

    async def _connect(self):
        """Open the transport, authenticate, select (called with the lock held)."""
        if self._closed:
            raise gone()
        reader = Reader(encoding=self._encoding) if self._encoding else Reader()
        handshake = self._handshake_commands()
        handshake_data = b"".join([pack_args(cmd) for cmd in handshake])
        loop = asyncio.get_running_loop()

        def factory():
            return _ReplyStream(reader.feed, self._ended)

        if self.unix_sock:
            target = self.unix_sock
            opening = loop.create_unix_connection(factory, path=self.unix_sock)
        else:
            target = "%s:%s" % (self.host, self.port)
            host = self.host
            if isinstance(host, (bytes, bytearray)):  # Sentinel replies give bytes
                host = host.decode("ascii")
            context = self._tls_context()
            opening = loop.create_connection(
                factory, host, self.port, ssl=context,
                server_hostname=host if context is not None else None)
        try:
            transport, proto = await asyncio.wait_for(opening, self._conn_timeout)
        except _CONNECT_ERRORS as exc:
            self._close_now()
            reason = str(exc) or type(exc).__name__
            raise connect_failed(target, reason) from exc
        self._loop = loop
        self._transport = transport
        self._proto = proto
        _LIVE.add(self)
        self._reader = reader
        self._gets = reader.gets
        if self._closed:  # closed by another task while we were connecting
            self._close_now()
            raise gone()
        if handshake:
            # One round trip for AUTH + SELECT + READONLY.
            self._send_now(handshake_data)
            try:
                replies = await self._read_many(len(handshake))
            except BaseException:
                self._close_now()
                raise
            for reply in replies:
                if isinstance(reply, ReplyError):
                    self._close_now()
                    raise reply

    # -- closing -----------------------------------------------------------
    def _ended(self):
        """The server closed or reset the stream.  ``closed`` turns True at once
        (so a pool skips this connection even while it is idle); whatever is
        still buffered can be read, then reading raises as the sync twin does."""
        self.closed = True
        owner = self._owner
        if owner is not None:
            owner.closed = True

    def _forget(self):
        """In a forked child: closed for good, the parent's transport left
        alone.  Closing it would unregister its socket from the event loop's
        epoll instance, which the child shares with the parent; dropped, the
        child's copy of the socket is closed when the transport is collected."""
        self._closed = self.closed = True
        if self._owner is not None:
            self._owner.closed = True
        self._transport = self._proto = None
        self._reader = self._gets = None

    def _close_now(self):
        """Mark closed and drop the transport (no waiting).  Idempotent."""
        self._closed = self.closed = True
        owner = self._owner
        if owner is not None:
            owner.closed = True
        transport = self._transport
        self._transport = None
        self._reader = self._gets = None
        if transport is not None:
            try:
                transport.close()
            except RuntimeError:  # its event loop is already closed
                pass

    async def close(self):
        """Close for good, then wait (up to conn_timeout) until the transport is gone."""
        proto = self._proto
        self._close_now()
        if proto is None or proto.closed is None or proto.closed.done():
            return
        if proto.closed.get_loop() is not asyncio.get_running_loop():
            return  # closed from another loop: nothing of ours to wait for
        try:
            await asyncio.wait_for(asyncio.shield(proto.closed), self._conn_timeout)
        except (asyncio.TimeoutError, OSError, RuntimeError):
            pass  # closing is best effort; the connection is marked closed anyway

    # -- writing -----------------------------------------------------------
    def _send_now(self, data):
        transport = self._transport
        if transport is None or self._proto.lost is not None or transport.is_closing():
            lost = self._proto.lost if self._proto is not None else None
            self._close_now()
            raise write_failed(lost or "Connection Gone")
        transport.write(data)

    async def _ensure_connected(self):
        if self._transport is None:
            async with self._get_lock():
                if self._transport is None:
                    await self._connect()

    async def write(self, *args):
        """Send one command; do not read its reply."""
        await self.send_packed(pack_args(args))

    async def send_packed(self, data):
        """Send already packed command bytes (one write); do not read the replies."""
        if self._transport is None:
            await self._ensure_connected()
        self._send_now(data)
        proto = self._proto
        if proto.paused:  # flow control: wait until the kernel takes more
            # One future per writer: a cancelled writer cancels only its own.
            waiter = self._loop.create_future()
            proto.drain_waiters.append(waiter)
            await waiter
            if proto.lost is not None:
                self._close_now()
                raise write_failed(proto.lost)

    # -- reading -----------------------------------------------------------
    async def _read_one(self):
        """The next complete reply (timeouts per wait for data, as recv() in the sync twin)."""
        gets = self._gets
        reply = gets()
        if reply is not False:
            return reply
        proto = self._proto
        loop = self._loop
        timeout = self._read_timeout
        while True:
            lost = proto.lost
            if lost is not None:
                raise type(lost)(*lost.args)  # a fresh instance per raise
            waiter = proto.wait_for_data(loop, timeout)
            try:
                timed_out = await waiter
            finally:
                proto.waiter = None
            if timed_out:
                raise read_timeout()
            reply = gets()
            if reply is not False:
                return reply

    async def _read_many(self, count, out=None):
        result = [] if out is None else out
        append = result.append
        for _ in range(count):
            append(await self._read_one())
        return result

    async def execute(self, *args):
        """Send one command and return its reply; an error reply is raised."""
        data = pack_args(args)  # bad arguments raise here, before any I/O
        async with self._get_lock():
            if self._transport is None:
                await self._connect()
            self._send_now(data)
            try:
                reply = await self._read_one()
            except BaseException:  # incl. CancelledError: the reply is still due
                self._close_now()
                raise
        if isinstance(reply, Exception):
            raise reply
        return reply

    async def read(self, close_on_timeout=True, raise_on_result_err=True):
        """Return the next reply (raising it if it is an error reply and raise_on_result_err)."""
        async with self._get_lock():
            if self._transport is None:
                await self._connect()
            proto = self._proto
            # A poll may time out harmlessly only if no byte of a reply came in:
            # none buffered at the start (no reply is half parsed between
            # reads) and none received since.  (``has_data()`` alone cannot
            # tell once gets() has consumed the start of a nested reply.)
            received = proto.received
            idle = not self._reader.has_data()
            try:
                reply = await self._read_one()
            except BaseException as exc:
                if not (isinstance(exc, PyRedisConnReadTimeout) and not close_on_timeout
                        and idle and proto.received == received):
                    self._close_now()
                raise
        if raise_on_result_err and isinstance(reply, Exception):
            raise reply
        return reply

    async def read_replies(self, count, out=None):
        """Read ``count`` replies; error replies are returned, not raised.

        Appends to ``out`` when given (None is returned), else returns a new list.
        """
        async with self._get_lock():
            if self._transport is None:
                await self._connect()
            try:
                result = await self._read_many(count, out)
            except BaseException:
                self._close_now()
                raise
        return result if out is None else None

    async def execute_many(self, data, count, out=None):
        """Send pre-packed ``data`` holding ``count`` commands (one write); read their replies."""
        async with self._get_lock():
            if self._transport is None:
                await self._connect()
            self._send_now(data)
            try:
                result = await self._read_many(count, out)
            except BaseException:
                self._close_now()
                raise
        return result if out is None else None

    # -- context manager ---------------------------------------------------
    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        await self.close()

    def _connected(self):
        return self._transport is not None
