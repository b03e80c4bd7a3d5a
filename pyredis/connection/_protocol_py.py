"""The asyncio protocol of AsyncConnection: pipelining and reply matching.

Pure-Python twin of the compiled ``_protocol`` (same names, behaviour and
messages).  One ``CommandProtocol`` per connection, mixed into
``asyncio.Protocol`` by async_connection.py.

* ``request(args)`` packs a command, queues its bytes and a waiter and
  returns the waiter (a Future).  Everything queued in one turn of the event
  loop goes out in one ``transport.write`` (``_flush``, scheduled once).
* ``data_received`` feeds the Reader; each complete reply resolves the
  oldest waiter.  Waiters, oldest first, one per reply due:

  - a Future (``request``): an error reply is set as its exception.  A
    cancelled one still owns its reply, which is read and dropped: the
    connection stays in step for everyone else.
  - a ``_Batch`` (``request_many``/``send_many``: bulk flushes, the
    handshake): ``count`` replies appended to ``out``, error replies too.
  - a ``_Read`` (``next_reply``, AsyncConnection.read): whatever reply comes
    next, push frames included.  It owns no reply: a cancelled one is skipped.

* RESP3 push frames reach ``push_handler`` (or are dropped), never a
  command's waiter; an exception the handler raises is logged.
* Request mode (the default): bytes arriving while no reply is due are
  unsolicited - pushes go to the handler, anything else (or more than
  ``IDLE_LIMIT`` bytes of an unfinished frame) gives the connection up, which
  also stops reading from it.  Stream mode (``write``/``next_reply`` used:
  PubSub, upstream-style write-then-read): replies nobody waits for stay
  buffered for the next read; reading pauses past ``UNREAD_LIMIT`` bytes.
* Read timeout, per connection: while any reply is due, ``read_timeout``
  seconds without a byte received fail every waiter with
  ``PyRedisConnReadTimeout`` and close the connection.  A poll
  (``next_reply(poll=True)``) alone at the head with nothing of a reply
  received ends by itself, the connection kept (PubSub ``get()``).
* The stream ends (EOF, reset, protocol error, ``abort``, ``close``): every
  waiter fails at once - a fresh exception each - and later requests raise.
* Writes: ``paused`` follows the transport's high-water mark; callers wait
  on ``drain_waiter()`` before queueing more.  Past ``WRITE_NOW`` queued
  bytes the queue is written at once, so that flow control applies even to
  a writer that never yields.

``Request`` makes ``execute`` lazy (nothing is queued until it is awaited or
run as a task, as with a coroutine); ``ConnectionRequester`` is
AsyncConnection's ``execute``; ``SharedDispatch`` is an AsyncBasePool's.

Free threading: every object here belongs to one event loop and is used
from that loop's thread, as asyncio's own transports and futures are;
threads each running a loop need one connection or pool per loop.  Misuse
(a loop in another thread, a callback run through ``call_soon_threadsafe``
racing user code) gives exceptions or replies out of step, never freed
memory: here the interpreter guards every attribute store, the compiled
twin takes critical sections for it.
"""
from asyncio import Future
from collections import deque
from time import monotonic

from pyredis.connection.dedicated import BLOCKING, KIND_CACHE, ORDINARY, command_kind
from pyredis.connection.errors import gone, read_timeout, stream_lost, unsolicited, write_failed
from pyredis.connection.settings import NOT_ENOUGH, deliver_push
from pyredis.exceptions import PyRedisConnClosed, PyRedisConnError
from pyredis.protocol import Reader, pack_args
from pyredis.protocol._types import PushNotification

__all__ = ["CommandProtocol", "Request", "ConnectionRequester", "SharedDispatch",
           "NOT_ENOUGH", "IDLE_LIMIT", "UNREAD_LIMIT", "WRITE_NOW"]

IDLE_LIMIT = 1 << 20     # request mode: bytes of an unfinished unsolicited frame tolerated
UNREAD_LIMIT = 4 << 20   # stream mode: unread bytes buffered before reading pauses
WRITE_NOW = 256 << 10    # queued bytes written at once, not at the end of the turn
_SLACK = 1e-3            # timers fire up to the clock's resolution early

CLOSED_BY_SERVER = "Connection closed by the server"


def _fresh(exc):
    """A new instance per waiter: one exception raised in many tasks would
    collect every task's traceback."""
    try:
        return type(exc)(*exc.args)
    except Exception:
        return exc


def _fail(future, exc):
    if future is not None and not future.done():
        future.set_exception(_fresh(exc))


class _Batch:
    __slots__ = ("count", "out", "future")

    def __init__(self, count, out, future):
        self.count = count
        self.out = out
        self.future = future


class _Read:
    __slots__ = ("future", "poll", "clean", "received")

    def __init__(self, future, poll, clean, received):
        self.future = future
        self.poll = poll          # a timeout ends this read alone (if clean)
        self.clean = clean        # nothing of a reply was buffered when it began
        self.received = received  # chunks received when it began


class CommandProtocol:
    """Per-connection pipelining state (see the module docstring)."""

    def __init__(self, read_timeout, push_handler, on_end):
        self.loop = None
        self.transport = None
        self.reader = None
        self._feed = None
        self._gets = None
        self.waiters = deque()
        self.starting = 0      # requests on their way in (waiting for the connect)
        self._out = []
        self._out_bytes = 0
        self._flush_due = False
        self.open = False      # handshake done, writable, not lost: requests may queue
        self._ready = False
        self.paused = False
        self._drain = []
        self._idle_waiters = []
        self.lost = None       # why the stream ended (None: usable)
        self.done = None       # future set once the transport is gone
        self.stream = False
        self.push_handler = push_handler
        self._on_end = on_end  # called once, when the stream ends
        self._timeout = read_timeout
        self._timer = None
        self._progress = 0.0   # monotonic time of the last byte (or first wait)
        self.received = 0      # chunks received
        self._idle_bytes = 0
        self._reading = True

    def prepare(self, loop, encoding):
        """Before connecting: the event loop and a fresh Reader."""
        if encoding:
            reader = Reader(encoding=encoding, notEnoughData=NOT_ENOUGH, raw_fallback=True)
        else:
            reader = Reader(notEnoughData=NOT_ENOUGH)
        self.loop = loop
        self.reader = reader
        self._feed = reader.feed
        self._gets = reader.gets

    def set_ready(self):
        """The handshake is done: requests of any task may queue now."""
        self._ready = True
        self.open = self.lost is None and not self.paused

    def forget(self):
        """In a forked child: drop everything without touching the transport
        (the parent still uses it)."""
        if self.lost is None:
            self.lost = gone()
        self.open = False
        self.transport = None
        self._timer = None
        self.waiters.clear()
        del self._out[:]
        self._drop_reader()

    # -- asyncio.Protocol ------------------------------------------------------
    def connection_made(self, transport):
        self.transport = transport
        self.done = self.loop.create_future()

    def connection_lost(self, exc):
        if exc is None:
            self._end(PyRedisConnClosed(CLOSED_BY_SERVER))
        else:
            self._end(PyRedisConnError("Connection lost: %s" % (exc,)))
        self.transport = None
        self.paused = False
        self._wake_drain()
        done = self.done
        if done is not None and not done.done():
            done.set_result(None)

    def eof_received(self):
        self._end(PyRedisConnClosed(CLOSED_BY_SERVER))
        return False  # let the transport close itself

    def pause_writing(self):
        self.paused = True
        self.open = False

    def resume_writing(self):
        self.paused = False
        self.open = self._ready and self.lost is None
        self._wake_drain()

    def data_received(self, data):
        if self.lost is not None:
            return
        self.received += 1
        if self.waiters:
            self._feed(data)
            if self._timeout is not None:
                self._progress = monotonic()
            self._deliver()
        elif self.stream:
            self._feed(data)
            if self._reading and self.reader.len() > UNREAD_LIMIT:
                self._reading = False
                self.transport.pause_reading()
        else:
            self._idle_bytes += len(data)
            self._feed(data)
            self._drain_idle()

    # -- queueing ----------------------------------------------------------------
    def request(self, args):
        """Queue one command; the Future of its reply (an error reply: its exception)."""
        data = pack_args(args)  # a bad argument raises here: nothing queued
        if self.lost is not None:
            raise _fresh(self.lost)
        future = Future(loop=self.loop)
        self._queue(future, data)
        return future

    def request_many(self, data, count, out):
        """Queue packed ``data`` holding ``count`` commands; a Future set to
        ``out`` (a new list if None) once their replies are appended to it."""
        if self.lost is not None:
            raise _fresh(self.lost)
        if out is None:
            out = []
        future = Future(loop=self.loop)
        if count > 0:
            self._queue(_Batch(count, out, future), data)
        else:
            self._write(data)
            future.set_result(out)
        return future

    def send_many(self, data, count, out):
        """Queue packed ``data`` holding ``count`` commands whose replies are
        appended to ``out`` as they come; nobody waits for them here."""
        if self.lost is not None:
            raise _fresh(self.lost)
        if count > 0:
            self._queue(_Batch(count, out, None), data)
        else:
            self._write(data)

    def write(self, data):
        """Queue packed commands whose replies only ``next_reply`` takes (stream mode)."""
        if self.lost is not None:
            raise _fresh(self.lost)
        self.stream = True
        self._write(data)

    def next_reply(self, poll):
        """A Future of the next reply to arrive, push frames included (stream mode)."""
        self.stream = True
        future = Future(loop=self.loop)
        # Clean: no byte of a reply buffered (checked before gets(), which may
        # take the start of a nested reply in without has_data() saying so).
        clean = self.reader is None or not self.reader.has_data()
        if not self.waiters:  # nobody ahead: it may be buffered already
            gets = self._gets
            try:
                reply = NOT_ENOUGH if gets is None else gets()
            except Exception as exc:
                self.abort(exc)
                future.set_exception(_fresh(exc))
                return future
            if reply is not NOT_ENOUGH:
                future.set_result(reply)
                if not self._reading and self.reader.len() <= UNREAD_LIMIT:
                    self._reading = True
                    self.transport.resume_reading()
                return future
            if self.lost is not None:  # nothing left to read
                self._drop_reader()
                future.set_exception(_fresh(self.lost))
                return future
        self._queue(_Read(future, poll, clean, self.received), None)
        if not self._reading:
            self._reading = True
            self.transport.resume_reading()
        return future

    def when_idle(self):
        """A Future set once no reply is due and no request is on its way in
        (None if that is so now)."""
        if (not self.waiters and not self.starting) or self.lost is not None:
            return None
        future = Future(loop=self.loop)
        self._idle_waiters.append(future)
        return future

    def drain_waiter(self):
        """A Future set when the transport takes writes again (or the stream ends)."""
        future = Future(loop=self.loop)
        self._drain.append(future)
        return future

    def _queue(self, waiter, data):
        waiters = self.waiters
        if not waiters:
            self._idle_bytes = 0
            self._progress = monotonic()
            if self._timer is None and self._timeout is not None:
                self._timer = self.loop.call_later(self._timeout, self._on_timer)
            waiters.append(waiter)
            if self.stream and self.reader.has_data():
                self._deliver()  # replies buffered before anyone waited
        else:
            waiters.append(waiter)
        if data is not None:
            self._write(data)

    def _write(self, data):
        self._out.append(data)
        self._out_bytes += len(data)
        if self._out_bytes >= WRITE_NOW:
            # A writer that never yields must meet the transport's flow
            # control (pause_writing) now, not after queueing without bound.
            self._flush()
        elif not self._flush_due:
            self._flush_due = True
            self.loop.call_soon(self._flush)

    def _flush(self):
        self._flush_due = False
        self._out_bytes = 0
        out = self._out
        if not out or self.lost is not None:
            return
        data = out[0] if len(out) == 1 else b"".join(out)
        del out[:]
        try:
            self.transport.write(data)
        except Exception as exc:  # part of the batch may be out: the stream is unusable
            self.abort(write_failed(exc))

    # -- replies -------------------------------------------------------------------
    def _deliver(self):
        waiters = self.waiters
        gets = self._gets
        while waiters:
            head = waiters[0]
            if type(head) is _Read and head.future.done():
                waiters.popleft()  # a cancelled read owns no reply
                continue
            try:
                reply = gets()
            except Exception as exc:  # malformed: the head's reply, and the stream, are lost
                self.abort(exc, stream_lost(exc))
                return
            if reply is NOT_ENOUGH:
                return
            if type(reply) is PushNotification and type(head) is not _Read:
                self._push(reply)
                continue
            if type(head) is _Batch:
                head.out.append(reply)
                head.count -= 1
                if head.count:
                    continue
                waiters.popleft()
                future = head.future
                if future is not None and not future.done():
                    future.set_result(head.out)
                continue
            waiters.popleft()
            if type(head) is _Read:
                head.future.set_result(reply)
            elif not head.done():  # else cancelled: its reply is dropped here
                if isinstance(reply, Exception):
                    head.set_exception(reply)
                else:
                    head.set_result(reply)
        if self._idle_waiters and not self.starting:
            self._wake_idle()
        if not self.stream:
            self._drain_idle()  # bytes after the last reply due

    def _drain_idle(self):
        """Request mode, no reply due: route push frames, give up on anything else."""
        gets = self._gets
        while True:
            try:
                reply = gets()
            except Exception as exc:
                self.abort(exc)
                return
            if reply is NOT_ENOUGH:
                break
            if type(reply) is PushNotification:
                self._push(reply)
                continue
            self.abort(unsolicited())
            return
        if self._idle_bytes > IDLE_LIMIT:
            self.abort(unsolicited())

    def _push(self, reply):
        deliver_push(self.push_handler, reply)

    # -- read timeout ------------------------------------------------------------
    def _on_timer(self):
        self._timer = None
        waiters = self.waiters
        if not waiters or self.lost is not None:
            return
        left = self._progress + self._timeout - monotonic()
        if left > _SLACK:
            self._timer = self.loop.call_later(left, self._on_timer)
            return
        head = waiters[0]
        if type(head) is _Read and (head.future.done() or (
                head.poll and head.clean and head.received == self.received)):
            # A poll that saw nothing of a message (or a cancelled read):
            # only it ends; the stream is still in step.
            waiters.popleft()
            if not head.future.done():
                head.future.set_exception(read_timeout())
            if waiters:
                self._progress = monotonic()
                self._timer = self.loop.call_later(self._timeout, self._on_timer)
            return
        self.abort(read_timeout())

    # -- the end ---------------------------------------------------------------------
    def abort(self, exc, rest=None):
        """Give the connection up: every waiter fails with (a copy of) ``exc``
        (``rest`` for all but the first)."""
        transport = self.transport
        self._end(exc, rest)
        if transport is not None:
            transport.abort()

    def close(self):
        """Our own close: queued writes still go out, then the transport closes;
        every waiter fails with ``Connection Gone``."""
        if self._out and self.lost is None:
            self._flush()
        transport = self.transport
        self._end(gone())
        self._drop_reader()
        if transport is not None:
            transport.close()

    def _end(self, exc, rest=None):
        """The stream is over: every waiter fails with ``exc`` (``rest``, if
        given, for all but the first), later requests raise ``exc``."""
        if self.lost is not None:
            return
        self.lost = exc
        self.open = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        del self._out[:]
        self._out_bytes = 0
        waiters = self.waiters
        while waiters:
            waiter = waiters.popleft()
            if type(waiter) is _Batch or type(waiter) is _Read:
                waiter = waiter.future
            _fail(waiter, exc)
            if rest is not None:  # the first waiter got exc itself
                exc = rest
        if not self.stream:
            self._drop_reader()
        self._wake_idle()
        self._wake_drain()
        self._on_end()

    def _drop_reader(self):
        self.reader = None
        self._feed = self._gets = None

    def _wake_drain(self):
        waiters, self._drain = self._drain, []
        for future in waiters:
            if not future.done():
                future.set_result(None)

    def _wake_idle(self):
        waiters, self._idle_waiters = self._idle_waiters, []
        for future in waiters:
            if not future.done():
                future.set_result(None)


def _kind(args):
    """The command's kind (see pyredis.connection.dedicated): one dict lookup
    for the names callers use, the full rule otherwise."""
    if args:
        name = args[0]
        if type(name) is bytes or type(name) is str:
            kind = KIND_CACHE.get(name)
            if kind is not None and kind >= 0:
                return kind
    return command_kind(args)


class Request:
    """What ``execute(*args)`` returns: awaitable, and a coroutine for
    ``asyncio.create_task``/``ensure_future``.  Nothing is queued until it is
    first awaited (or its task first runs), as with a coroutine."""

    __slots__ = ("_target", "_args", "_it")

    def __init__(self, target, args):
        self._target = target
        self._args = args
        self._it = None

    def __await__(self):
        if self._it is not None:
            raise RuntimeError("cannot reuse an already awaited request")
        it = self._it = self._target._start(self._args)
        return it

    def send(self, value):
        it = self._it
        if it is None:
            it = self.__await__()
        return it.send(value)

    def throw(self, typ, val=None, tb=None):
        it = self._it
        if it is None:  # thrown in before it started: nothing was queued
            self._it = _STOPPED
            if val is None:
                raise typ
            raise val
        if val is None and tb is None:
            return it.throw(typ)
        return it.throw(typ, val, tb)

    def close(self):
        it = self._it
        self._it = _STOPPED
        close = getattr(it, "close", None)
        if close is not None:
            close()


_STOPPED = iter(())


class ConnectionRequester:
    """AsyncConnection's ``execute``: a ``Request``, started on the pipelined
    connection when it is open and writable, else by the connection's
    ``_execute_slow`` (connect first, wait for the transport, or raise)."""

    __slots__ = ("conn", "proto")

    def __init__(self, conn, proto):
        self.conn = conn
        self.proto = proto

    def __call__(self, *args):
        return Request(self, args)

    def _start(self, args):
        if self.proto.open:
            return iter(self._queue(args))
        return self.conn._execute_slow(args).__await__()

    def _queue(self, args):
        """Queue the command on the open connection; the Future of its reply."""
        future = self.proto.request(args)
        if _kind(args) == BLOCKING:
            future.add_done_callback(self.conn._cancel_closes)
        return future


class SharedDispatch:
    """An AsyncBasePool's ``execute``: an ordinary command goes straight to the
    pool's current shared client while it is open and has fewer than
    ``depth`` replies due; anything else to the pool's ``_execute_routed``."""

    __slots__ = ("pool", "client", "proto", "depth")

    def __init__(self, pool, depth):
        self.pool = pool
        self.client = None   # the shared client new ordinary commands go to
        self.proto = None    # its CommandProtocol (None: a client without one)
        self.depth = depth

    def __call__(self, *args, **kwargs):
        client = self.client
        if client is not None and args:
            name = args[0]
            if (type(name) is bytes or type(name) is str) and KIND_CACHE.get(name) == ORDINARY:
                proto = self.proto
                if proto is None:
                    if not client.closed:
                        return client.execute(*args, **kwargs)
                elif proto.lost is None and len(proto.waiters) < self.depth:
                    return client.execute(*args, **kwargs)
        return self.pool._execute_routed(args, kwargs)
