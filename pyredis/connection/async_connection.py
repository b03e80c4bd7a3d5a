"""AsyncConnection: one asyncio connection to one Redis server, pipelined.

The asyncio twin of :class:`~pyredis.connection.Connection`.  Its protocol,
``_protocol.CommandProtocol`` (compiled, or the pure twin), does the work:
the commands tasks issue within one turn of the event loop go out in one
transport write, and the replies are matched to their waiters in order, so
any number of tasks may share one connection, each getting its own reply.

Rules it keeps (docs/design/reliability.md, for asyncio):

* Connected lazily, on first use (AUTH/SELECT/READONLY in one round trip);
  never reconnects.  Once closed - by ``close()``, or by any failure of the
  stream - every use raises ``PyRedisConnError("Connection Gone")``; pools
  replace a closed connection, a lone AsyncClient stays closed (as upstream).
* A task cancelled while its reply is due does not harm the others: its
  reply is read and dropped.  Except for blocking commands (BLPOP, XREAD
  BLOCK, WAIT...; see ``pyredis.connection.dedicated``): cancelling one closes
  the connection, or the server would still pop the element for nobody.
* A failure of the stream (reset, EOF, a protocol error, no byte for
  ``read_timeout`` while replies are due) fails every waiting task at once
  and closes the connection; no task ever gets another's reply.
* Bytes arriving while no reply is due (other than RESP3 pushes, which go to
  ``push_handler``) close the connection and stop reading from it.
* Commands are sent once: nothing is ever re-sent.
* ``write``/``read`` are upstream's raw primitives: ``write`` sends a command
  whose reply only ``read`` takes; they switch the connection to stream mode
  (PubSub), where replies nobody asked for stay buffered for ``read``.

A connection belongs to the event loop it first connected in.
"""
import asyncio
import os
import weakref

from pyredis._twins import import_twin
from pyredis.connection.errors import connect_failed, gone
from pyredis.connection.settings import ConnectionSettings
from pyredis.exceptions import ReplyError
from pyredis.protocol import pack_args

_protocol = import_twin("pyredis.connection", "_protocol")

__all__ = ["AsyncConnection"]

# Connect timeouts: TimeoutError is an OSError from 3.11 on; before, asyncio
# raised its own class.
_CONNECT_ERRORS = (OSError, asyncio.TimeoutError, OverflowError, ValueError, TypeError)


class _Stream(_protocol.CommandProtocol, asyncio.Protocol):
    """The pipelining protocol as an ``asyncio.Protocol``."""

    __slots__ = ()


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
    unix socket.  Same constructor as :class:`~pyredis.connection.Connection`
    (plus ``push_handler``, a callable given each RESP3 push frame).

    ``await execute(*args)`` returns the reply (an error reply is raised);
    tasks may share the connection: their commands are pipelined (see the
    module docstring).  ``execute(...)`` returns an awaitable that is also a
    coroutine for ``asyncio.create_task``; nothing is sent until it is
    awaited or its task runs.

    Differences from upstream: pipelining and reply matching (upstream had
    no lock: concurrent tasks read each other's replies); a cancelled task's
    reply is read and dropped instead of left on the stream; read timeouts
    are per connection (no byte for ``read_timeout`` while any reply is due
    fails every waiting task and closes the connection; a ``read()`` poll
    with ``close_on_timeout=False`` that saw nothing of a reply just ends);
    AUTH/SELECT/READONLY in one round trip under ``read_timeout`` (no 0.1 s
    SELECT timeout); ``SELECT 0`` is not sent; TLS (``ssl=True`` or
    ``ssl_context=``); ``closed`` is a read-only property that turns True as
    soon as the server closes or resets the connection, even while idle.
    """

    def _init_state(self):
        self._proto = _Stream(self._read_timeout, self._push_handler, self._ended)
        self._connecting = None  # the task opening the connection, awaited by every caller
        self._on_hangup = None  # called when the server (not we) ends the connection
        self._requester = _protocol.ConnectionRequester(self, self._proto)
        if type(self).execute is _EXECUTE:
            # The hot path: ``conn.execute`` is the compiled requester, no
            # Python frame of ours (unless execute is overridden or patched).
            self.execute = self._requester

    @property
    def closed(self):
        """True once closed, by ``close()``, a failure, or the server."""
        return self._closed

    # -- connecting --------------------------------------------------------
    async def _connect(self):
        """Open the transport, authenticate, select (one task per connection)."""
        if self._closed:
            raise gone()
        loop = asyncio.get_running_loop()
        proto = self._proto
        proto.prepare(loop, self._encoding)  # an unknown encoding fails here
        handshake = self._handshake_commands()
        handshake_data = b"".join([pack_args(cmd) for cmd in handshake])

        def factory():
            return proto

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
            await asyncio.wait_for(opening, self._conn_timeout)
        except _CONNECT_ERRORS as exc:
            self._close_now()
            reason = str(exc) or type(exc).__name__
            raise connect_failed(target, reason) from exc
        _LIVE.add(self)
        if self._closed:  # closed by another task while we were connecting
            self._close_now()
            raise gone()
        try:
            if handshake:
                # One round trip for AUTH + SELECT + READONLY, before anyone else's.
                replies = await proto.request_many(handshake_data, len(handshake), None)
                for reply in replies:
                    if isinstance(reply, ReplyError):
                        raise reply
        except BaseException:
            self._close_now()
            raise
        proto.set_ready()

    async def _ready(self):
        """The protocol, connected and writable; raises if closed."""
        proto = self._proto
        while not proto.open:
            if self._closed:
                raise gone()
            connecting = self._connecting
            if connecting is None and proto.transport is None:
                # In a task of its own: a caller cancelled meanwhile must not
                # cancel the connect (and so close the connection) for the others.
                connecting = self._connecting = asyncio.ensure_future(self._connect())
                connecting.add_done_callback(self._connected_or_not)
            if connecting is not None:
                await asyncio.shield(connecting)
            elif proto.paused:  # flow control: wait until the transport takes more
                await proto.drain_waiter()
        return proto

    def _connected_or_not(self, task):
        self._connecting = None
        if not task.cancelled():
            task.exception()  # retrieved: the callers awaiting it raise it

    async def _ensure_connected(self):
        await self._ready()

    # -- closing -----------------------------------------------------------
    def _ended(self):
        """Called by the protocol when the stream ends, for whatever reason."""
        hook = self._on_hangup if not self._closed else None
        owner = self._owner
        if owner is not None:  # (told before _closed is set: see the hash clients)
            owner.closed = True
        self._closed = True
        _LIVE.discard(self)
        if hook is not None:
            hook()

    def _cancel_closes(self, future):
        """A blocking command's waiter: cancelled, the connection goes (the
        server would still pop the element or entry, for nobody)."""
        if future.cancelled():
            self._close_now()

    def _forget(self):
        """In a forked child: closed for good, the parent's transport left
        alone.  Closing it would unregister its socket from the event loop's
        epoll instance, which the child shares with the parent; dropped, the
        child's copy of the socket is closed when the transport is collected."""
        self._closed = True
        if self._owner is not None:
            self._owner.closed = True
        self._proto.forget()

    def _close_now(self):
        """Mark closed and drop the transport (no waiting).  Idempotent."""
        self._closed = True
        try:
            self._proto.close()
        except RuntimeError:  # its event loop is already closed
            pass

    async def close(self):
        """Close for good, then wait (up to conn_timeout) until the transport is gone."""
        self._close_now()
        done = self._proto.done
        if done is None or done.done():
            return
        if done.get_loop() is not asyncio.get_running_loop():
            return  # closed from another loop: nothing of ours to wait for
        try:
            await asyncio.wait_for(asyncio.shield(done), self._conn_timeout)
        except (asyncio.TimeoutError, OSError, RuntimeError):
            pass  # closing is best effort; the connection is marked closed anyway

    # -- commands ------------------------------------------------------------
    async def execute(self, *args):
        """Send one command and return its reply; an error reply is raised.

        Instances bind ``execute`` to the compiled requester; this method is
        for subclasses and class-level calls.
        """
        return await self._requester(*args)

    async def _execute_slow(self, args):
        """execute() when the connection is not open and writable yet."""
        pack_args(args)  # a bad argument raises here, before any I/O
        proto = self._proto
        proto.starting += 1  # counted as load: a pool must not lease this connection away
        try:
            await self._ready()
            future = self._requester._queue(args)
        finally:
            proto.starting -= 1
            if not proto.starting and not proto.waiters:
                proto._wake_idle()
        return await future

    async def execute_many(self, data, count, out=None):
        """Send pre-packed ``data`` holding ``count`` commands (one write); read
        their replies (error replies returned, not raised).

        Appends to ``out`` when given (None is returned), else returns a new list.
        """
        proto = await self._ready()
        result = await proto.request_many(data, count, out)
        return result if out is None else None

    async def send_packed(self, data, count=0, out=None):
        """Send pre-packed ``data`` holding ``count`` commands; their replies are
        appended to ``out`` as they arrive.  Returns a future set (to ``out``)
        once they all have; with ``count`` 0 the replies are left for read()."""
        proto = await self._ready()
        if count:
            return proto.request_many(data, count, out)
        proto.write(data)
        return None

    async def write(self, *args):
        """Send one command; its reply is left for read() (stream mode, as PubSub)."""
        data = pack_args(args)
        proto = await self._ready()
        proto.write(data)

    async def read(self, close_on_timeout=True, raise_on_result_err=True):
        """Return the next reply, push frames included (raising an error reply
        if ``raise_on_result_err``).  ``close_on_timeout=False``: a timeout that
        saw nothing of a reply keeps the connection (polling)."""
        proto = self._proto
        if not (proto.stream and proto.reader is not None):
            proto = await self._ready()
        reply = await proto.next_reply(not close_on_timeout)
        if raise_on_result_err and isinstance(reply, Exception):
            raise reply
        return reply

    # -- context manager ---------------------------------------------------
    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        await self.close()

    def _connected(self):
        return self._proto.transport is not None


# The real execute, to tell it from an override or a mock.patch of the class's.
_EXECUTE = AsyncConnection.execute
