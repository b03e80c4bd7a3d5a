# cython: language_level=3, boundscheck=False, wraparound=False
# cython: embedsignature=True
"""Compiled asyncio protocol of AsyncConnection: pipelining and reply matching.

Twin of ``_protocol_py`` - read its module docstring for the rules; this
file follows it line for line.  Every field is a C field, the waiter kinds
are told apart by C type checks, and the command path (``Request`` ->
``ConnectionRequester`` -> ``CommandProtocol.request``, and the pool's
``SharedDispatch``) runs no Python frame: the only Python-level calls are to
the writer, the Reader, the Future and the event loop.

Free threading: module state is constants only.  Every object here belongs
to one event loop and is used from that loop's thread, as asyncio's own
transports and futures are; threads each running a loop need one connection
or pool per loop.  Misuse (a loop in another thread, a callback run through
``call_soon_threadsafe`` racing user code) gives exceptions or replies out
of step, never freed memory: every method and attribute accessor that reads
or writes an object field runs in a critical section on its object (a
per-object lock on free-threaded builds, nothing with the GIL), so no two
threads store into one field at once (a store drops the old value's
reference).  A section is suspended where the thread calls into Python or
blocks; values read before then are held by local references, so only the
method's atomicity is lost there, as under the GIL.  ``_Batch`` and
``_Read`` are reached only through a protocol's waiters, under its section.
C scalar fields (``open``, ``starting`` ...) are stored whole.  Object
attributes that only this module sets are read-only from Python here.
"""
cimport cython
from cpython.object cimport PyObject_Call

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

cdef object _NOT_ENOUGH = NOT_ENOUGH

IDLE_LIMIT = 1 << 20
UNREAD_LIMIT = 4 << 20
WRITE_NOW = 256 << 10
cdef Py_ssize_t _IDLE_LIMIT = IDLE_LIMIT
cdef Py_ssize_t _UNREAD_LIMIT = UNREAD_LIMIT
cdef Py_ssize_t _WRITE_NOW = WRITE_NOW
cdef double _SLACK = 1e-3

CLOSED_BY_SERVER = "Connection closed by the server"

cdef object _Future = Future
cdef object _pack = pack_args
cdef object _monotonic = monotonic
cdef object _PushNotification = PushNotification
cdef dict _KINDS = KIND_CACHE
cdef int _BLOCKING = BLOCKING
cdef int _ORDINARY = ORDINARY
cdef tuple _NO_ARGS = ()


cdef object _fresh(object exc):
    try:
        return type(exc)(*exc.args)
    except Exception:
        return exc


cdef inline void _fail(object future, object exc) except *:
    if future is not None and not future.done():
        future.set_exception(_fresh(exc))


# Calls on other objects made inside a critical section go through these:
# the section is suspended wherever such a call runs Python code anyway, and
# Cython warns that it cannot usefully protect the attribute lookup.  Callers
# pass local references read under the section.
cdef inline bint _done(object future) except -1:
    return future.done()


cdef inline int _resolve(object future, object value) except -1:
    if future is not None and not future.done():
        future.set_result(value)
    return 0


cdef inline int _reject(object future, object exc) except -1:
    if not future.done():
        future.set_exception(exc)
    return 0


cdef inline int _write_to(object transport, object data) except -1:
    transport.write(data)
    return 0


cdef inline int _reading(object transport, bint on) except -1:
    if on:
        transport.resume_reading()
    else:
        transport.pause_reading()
    return 0


cdef inline Py_ssize_t _unread(object reader) except -1:
    return reader.len()


cdef inline bint _has_data(object reader) except -1:
    return reader.has_data()


cdef inline object _popleft(object waiters):
    return waiters.popleft()


cdef inline object _call_later(object loop, double delay, object callback):
    return loop.call_later(delay, callback)


@cython.final
cdef class _Batch:
    cdef Py_ssize_t count
    cdef object out
    cdef object future

    def __cinit__(self, Py_ssize_t count, object out, object future):
        self.count = count
        self.out = out
        self.future = future


@cython.final
cdef class _Read:
    cdef object future
    cdef bint poll, clean
    cdef Py_ssize_t received

    def __cinit__(self, object future, bint poll, bint clean, Py_ssize_t received):
        self.future = future
        self.poll = poll
        self.clean = clean
        self.received = received


cdef class CommandProtocol:
    """Per-connection pipelining state (see ``_protocol_py``)."""

    # Object fields are read and written under a critical section on self
    # (the properties below too); C scalars are stored whole, so the public
    # ones keep Cython's plain accessors.  The decorator form may let a section
    # lapse while a def method's return value is built (cython/cython#7324):
    # harmless, the object returned is a local reference by then.
    cdef object _loop, _transport, _reader, _waiters, _lost, _done, _push_handler
    cdef object _feed, _gets
    cdef public Py_ssize_t starting
    cdef list _out
    cdef Py_ssize_t _out_bytes
    cdef bint _flush_due
    cdef public bint open
    cdef bint _ready
    cdef public bint paused
    cdef list _drain, _idle_waiters
    cdef public bint stream
    cdef object _on_end
    cdef object _timeout
    cdef double _timeout_s
    cdef object _timer
    cdef double _progress
    cdef public Py_ssize_t received
    cdef Py_ssize_t _idle_bytes
    cdef bint _reading
    cdef object _flush_cb, _timer_cb
    cdef dict _future_kw  # {"loop": loop}, made once: no dict per Future

    def __init__(self, read_timeout, push_handler, on_end):
        flush_cb = self._flush
        timer_cb = self._on_timer
        with cython.critical_section(self):
            self._loop = None
            self._transport = None
            self._reader = None
            self._feed = None
            self._gets = None
            self._waiters = deque()
            self.starting = 0
            self._out = []
            self._out_bytes = 0
            self._flush_due = False
            self.open = False
            self._ready = False
            self.paused = False
            self._drain = []
            self._idle_waiters = []
            self._lost = None
            self._done = None
            self.stream = False
            self._push_handler = push_handler
            self._on_end = on_end
            self._timeout = read_timeout
            self._timeout_s = read_timeout if read_timeout is not None else 0.0
            self._timer = None
            self._progress = 0.0
            self.received = 0
            self._idle_bytes = 0
            self._reading = True
            self._flush_cb = flush_cb
            self._timer_cb = timer_cb

    @property
    def loop(self):
        with cython.critical_section(self):
            return self._loop

    @property
    def transport(self):
        with cython.critical_section(self):
            return self._transport

    @transport.setter
    def transport(self, transport):
        with cython.critical_section(self):
            self._transport = transport

    @property
    def reader(self):
        with cython.critical_section(self):
            return self._reader

    @property
    def waiters(self):
        with cython.critical_section(self):
            return self._waiters

    @property
    def lost(self):
        with cython.critical_section(self):
            return self._lost

    @property
    def done(self):
        with cython.critical_section(self):
            return self._done

    @property
    def push_handler(self):
        with cython.critical_section(self):
            return self._push_handler

    def prepare(self, loop, encoding):
        """Before connecting: the event loop and a fresh Reader."""
        if encoding:
            reader = Reader(encoding=encoding, notEnoughData=_NOT_ENOUGH, raw_fallback=True)
        else:
            reader = Reader(notEnoughData=_NOT_ENOUGH)
        feed = reader.feed
        gets = reader.gets
        with cython.critical_section(self):
            self._loop = loop
            self._future_kw = {"loop": loop}
            self._reader = reader
            self._feed = feed
            self._gets = gets

    @cython.critical_section
    def set_ready(self):
        """The handshake is done: requests of any task may queue now."""
        self._ready = True
        self.open = self._lost is None and not self.paused

    def forget(self):
        """In a forked child: drop everything without touching the transport."""
        with cython.critical_section(self):
            if self._lost is None:
                self._lost = gone()
            self.open = False
            self._transport = None
            self._timer = None
            waiters = self._waiters
            del self._out[:]
            self._drop_reader()
        waiters.clear()

    # -- asyncio.Protocol ------------------------------------------------------
    def connection_made(self, transport):
        done = self.loop.create_future()
        with cython.critical_section(self):
            self._transport = transport
            self._done = done

    @cython.critical_section
    def connection_lost(self, exc):
        if exc is None:
            self._end(PyRedisConnClosed(CLOSED_BY_SERVER), None)
        else:
            self._end(PyRedisConnError("Connection lost: %s" % (exc,)), None)
        self._transport = None
        self.paused = False
        self._wake_drain()
        done = self._done
        _resolve(done, None)

    @cython.critical_section
    def eof_received(self):
        self._end(PyRedisConnClosed(CLOSED_BY_SERVER), None)
        return False

    @cython.critical_section
    def pause_writing(self):
        self.paused = True
        self.open = False

    @cython.critical_section
    def resume_writing(self):
        self.paused = False
        self.open = self._ready and self._lost is None
        self._wake_drain()

    @cython.critical_section
    def data_received(self, data):
        if self._lost is not None:
            return
        self.received += 1
        if len(self._waiters):
            self._feed(data)
            if self._timeout is not None:
                self._progress = _monotonic()
            self._deliver()
        elif self.stream:
            self._feed(data)
            reader = self._reader
            if self._reading and _unread(reader) > _UNREAD_LIMIT:
                self._reading = False
                transport = self._transport
                _reading(transport, False)
        else:
            self._idle_bytes += len(data)
            self._feed(data)
            self._drain_idle()

    # -- queueing ----------------------------------------------------------------
    @cython.critical_section
    cpdef object request(self, tuple args):
        """Queue one command; the Future of its reply (an error reply: its exception)."""
        cdef object data = _pack(args)
        if self._lost is not None:
            raise _fresh(self._lost)
        future = PyObject_Call(_Future, _NO_ARGS, self._future_kw)
        self._queue(future, data)
        return future

    @cython.critical_section
    def request_many(self, data, Py_ssize_t count, out):
        """Queue packed ``data`` holding ``count`` commands; a Future set to
        ``out`` (a new list if None) once their replies are appended to it."""
        if self._lost is not None:
            raise _fresh(self._lost)
        if out is None:
            out = []
        future = _Future(loop=self._loop)
        if count > 0:
            self._queue(_Batch(count, out, future), data)
        else:
            self._write(data)
            _resolve(future, out)
        return future

    @cython.critical_section
    def send_many(self, data, Py_ssize_t count, out):
        """Queue packed ``data`` holding ``count`` commands whose replies are
        appended to ``out`` as they come; nobody waits for them here."""
        if self._lost is not None:
            raise _fresh(self._lost)
        if count > 0:
            self._queue(_Batch(count, out, None), data)
        else:
            self._write(data)

    @cython.critical_section
    def write(self, data):
        """Queue packed commands whose replies only ``next_reply`` takes (stream mode)."""
        if self._lost is not None:
            raise _fresh(self._lost)
        self.stream = True
        self._write(data)

    @cython.critical_section
    def next_reply(self, bint poll):
        """A Future of the next reply to arrive, push frames included (stream mode)."""
        cdef bint clean
        self.stream = True
        future = _Future(loop=self._loop)
        reader = self._reader
        clean = reader is None or not _has_data(reader)
        if not len(self._waiters):
            gets = self._gets
            try:
                reply = _NOT_ENOUGH if gets is None else gets()
            except Exception as exc:
                self.abort(exc)
                _reject(future, _fresh(exc))
                return future
            if reply is not _NOT_ENOUGH:
                _resolve(future, reply)
                if not self._reading and _unread(reader) <= _UNREAD_LIMIT:
                    self._reading = True
                    transport = self._transport
                    _reading(transport, True)
                return future
            if self._lost is not None:
                self._drop_reader()
                _reject(future, _fresh(self._lost))
                return future
        self._queue(_Read(future, poll, clean, self.received), None)
        if not self._reading:
            self._reading = True
            transport = self._transport
            _reading(transport, True)
        return future

    @cython.critical_section
    def when_idle(self):
        """A Future set once no reply is due and no request is on its way in
        (None if that is so now)."""
        if (not len(self._waiters) and not self.starting) or self._lost is not None:
            return None
        future = _Future(loop=self._loop)
        self._idle_waiters.append(future)
        return future

    @cython.critical_section
    def drain_waiter(self):
        """A Future set when the transport takes writes again (or the stream ends)."""
        future = _Future(loop=self._loop)
        self._drain.append(future)
        return future

    cdef int _queue(self, object waiter, object data) except -1:
        waiters = self._waiters
        if not len(waiters):
            self._idle_bytes = 0
            self._progress = _monotonic()
            if self._timer is None and self._timeout is not None:
                self._timer = self._loop.call_later(self._timeout_s, self._timer_cb)
            waiters.append(waiter)
            if self.stream and self._reader.has_data():
                self._deliver()
        else:
            waiters.append(waiter)
        if data is not None:
            self._write(data)
        return 0

    cdef int _write(self, object data) except -1:
        self._out.append(data)
        self._out_bytes += len(data)
        if self._out_bytes >= _WRITE_NOW:
            self._flush()
        elif not self._flush_due:
            self._flush_due = True
            self._loop.call_soon(self._flush_cb)
        return 0

    @cython.critical_section
    cpdef _flush(self):
        cdef list out = self._out
        self._flush_due = False
        self._out_bytes = 0
        if not out or self._lost is not None:
            return
        data = out[0] if len(out) == 1 else b"".join(out)
        del out[:]
        transport = self._transport
        try:
            _write_to(transport, data)
        except Exception as exc:
            self.abort(write_failed(exc))

    # -- replies -------------------------------------------------------------------
    cdef int _deliver(self) except -1:
        waiters = self._waiters
        gets = self._gets
        cdef object head, reply, future
        cdef _Batch batch
        while len(waiters):
            head = waiters[0]
            if type(head) is _Read and (<_Read>head).future.done():
                waiters.popleft()
                continue
            try:
                reply = gets()
            except Exception as exc:
                self.abort(exc, stream_lost(exc))
                return 0
            if reply is _NOT_ENOUGH:
                return 0
            if type(reply) is _PushNotification and type(head) is not _Read:
                self._push(reply)
                continue
            if type(head) is _Batch:
                batch = <_Batch>head
                batch.out.append(reply)
                batch.count -= 1
                if batch.count:
                    continue
                waiters.popleft()
                future = batch.future
                if future is not None and not future.done():
                    future.set_result(batch.out)
                continue
            waiters.popleft()
            if type(head) is _Read:
                (<_Read>head).future.set_result(reply)
            elif not head.done():
                if isinstance(reply, Exception):
                    head.set_exception(reply)
                else:
                    head.set_result(reply)
        if self._idle_waiters and not self.starting:
            self._wake_idle()
        if not self.stream:
            self._drain_idle()
        return 0

    cdef int _drain_idle(self) except -1:
        gets = self._gets
        while True:
            try:
                reply = gets()
            except Exception as exc:
                self.abort(exc)
                return 0
            if reply is _NOT_ENOUGH:
                break
            if type(reply) is _PushNotification:
                self._push(reply)
                continue
            self.abort(unsolicited())
            return 0
        if self._idle_bytes > _IDLE_LIMIT:
            self.abort(unsolicited())
        return 0

    cdef int _push(self, object reply) except -1:
        deliver_push(self._push_handler, reply)
        return 0

    # -- read timeout ------------------------------------------------------------
    @cython.critical_section
    def _on_timer(self):
        cdef double left
        cdef _Read head
        self._timer = None
        waiters = self._waiters
        if not len(waiters) or self._lost is not None:
            return
        loop = self._loop
        callback = self._timer_cb
        left = self._progress + self._timeout_s - _monotonic()
        if left > _SLACK:
            self._timer = _call_later(loop, left, callback)
            return
        first = waiters[0]
        if type(first) is _Read:
            head = <_Read>first
            future = head.future
            if _done(future) or (head.poll and head.clean and head.received == self.received):
                _popleft(waiters)
                _reject(future, read_timeout())
                if len(waiters):
                    self._progress = _monotonic()
                    self._timer = _call_later(loop, self._timeout_s, callback)
                return
        self.abort(read_timeout())

    # -- the end ---------------------------------------------------------------------
    cpdef abort(self, exc, rest=None):
        """Give the connection up: every waiter fails with (a copy of) ``exc``
        (``rest`` for all but the first)."""
        with cython.critical_section(self):
            transport = self._transport
            self._end(exc, rest)
        if transport is not None:
            transport.abort()

    def close(self):
        """Our own close: queued writes still go out, then the transport closes;
        every waiter fails with ``Connection Gone``."""
        with cython.critical_section(self):
            if self._out and self._lost is None:
                self._flush()
            transport = self._transport
            self._end(gone(), None)
            self._drop_reader()
        if transport is not None:
            transport.close()

    # The three below run under the caller's section.
    cdef int _end(self, exc, rest) except -1:
        """The stream is over: every waiter fails with ``exc`` (``rest``, if
        given, for all but the first), later requests raise ``exc``."""
        if self._lost is not None:
            return 0
        self._lost = exc
        self.open = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        del self._out[:]
        self._out_bytes = 0
        waiters = self._waiters
        while len(waiters):
            waiter = waiters.popleft()
            if type(waiter) is _Batch:
                waiter = (<_Batch>waiter).future
            elif type(waiter) is _Read:
                waiter = (<_Read>waiter).future
            _fail(waiter, exc)
            if rest is not None:
                exc = rest
        if not self.stream:
            self._drop_reader()
        self._wake_idle()
        self._wake_drain()
        self._on_end()
        return 0

    cdef int _drop_reader(self) except -1:
        self._reader = None
        self._feed = self._gets = None
        return 0

    cdef int _wake_drain(self) except -1:
        waiters, self._drain = self._drain, []
        for future in waiters:
            _resolve(future, None)
        return 0

    @cython.critical_section
    cpdef _wake_idle(self):
        waiters, self._idle_waiters = self._idle_waiters, []
        for future in waiters:
            _resolve(future, None)


cdef inline int _kind(tuple args) except -2:
    """The command's kind: one dict lookup for the names callers use."""
    cdef object name, kind
    if len(args):
        name = args[0]
        if type(name) is bytes or type(name) is str:
            kind = _KINDS.get(name)
            if kind is not None and <int>kind >= 0:
                return <int>kind
    return command_kind(args)


cdef object _STOPPED = iter(())


cdef class _Target:
    """What a Request starts on (a connection's requester)."""

    cdef object _start_c(self, tuple args):
        raise NotImplementedError


@cython.final
cdef class Request:
    """What ``execute(*args)`` returns: awaitable, and a coroutine for
    ``asyncio.create_task``/``ensure_future``.  Nothing is queued until it is
    first awaited (or its task first runs), as with a coroutine."""

    cdef _Target _target
    cdef tuple _args
    cdef object _it

    def __cinit__(self, _Target target, tuple args):
        self._target = target
        self._args = args
        self._it = None

    @cython.critical_section
    def __await__(self):
        if self._it is not None:
            raise RuntimeError("cannot reuse an already awaited request")
        it = self._it = self._target._start_c(self._args)
        return it

    def send(self, value):
        with cython.critical_section(self):
            it = self._it
            if it is None:
                it = self._it = self._target._start_c(self._args)
        return it.send(value)

    def throw(self, typ, val=None, tb=None):
        with cython.critical_section(self):
            it = self._it
            if it is None:
                self._it = _STOPPED
        if it is None:
            if val is None:
                raise typ
            raise val
        if val is None and tb is None:
            return it.throw(typ)
        return it.throw(typ, val, tb)

    @cython.critical_section
    def close(self):
        it = self._it
        self._it = _STOPPED
        close = getattr(it, "close", None)
        if close is not None:
            close()


@cython.final
cdef class ConnectionRequester(_Target):
    """AsyncConnection's ``execute``: a ``Request``, started on the pipelined
    connection when it is open and writable, else by the connection's
    ``_execute_slow`` (connect first, wait for the transport, or raise)."""

    cdef object _conn
    cdef CommandProtocol _proto

    @cython.critical_section
    def __init__(self, conn, CommandProtocol proto):
        self._conn = conn
        self._proto = proto

    @property
    def conn(self):
        with cython.critical_section(self):
            return self._conn

    @property
    def proto(self):
        with cython.critical_section(self):
            return self._proto

    def __call__(self, *args):
        return Request(self, args)

    def _start(self, tuple args):
        return self._start_c(args)

    cdef object _start_c(self, tuple args):
        with cython.critical_section(self):
            if self._proto.open:
                return iter(self._queue(args))
            conn = self._conn
        return conn._execute_slow(args).__await__()

    cpdef object _queue(self, tuple args):
        """Queue the command on the open connection; the Future of its reply."""
        with cython.critical_section(self):
            future = self._proto.request(args)
            if _kind(args) != _BLOCKING:
                return future
            conn = self._conn
        future.add_done_callback(conn._cancel_closes)
        return future


@cython.final
cdef class SharedDispatch:
    """An AsyncBasePool's ``execute``: an ordinary command goes straight to the
    pool's current shared client while it is open and has fewer than
    ``depth`` replies due; anything else to the pool's ``_execute_routed``."""

    cdef object _pool
    cdef object _client
    cdef CommandProtocol _proto
    cdef public Py_ssize_t depth

    @cython.critical_section
    def __init__(self, pool, Py_ssize_t depth):
        self._pool = pool
        self._client = None
        self._proto = None
        self.depth = depth

    @property
    def pool(self):
        with cython.critical_section(self):
            return self._pool

    @property
    def client(self):
        with cython.critical_section(self):
            return self._client

    @client.setter
    def client(self, client):
        with cython.critical_section(self):
            self._client = client

    @property
    def proto(self):
        with cython.critical_section(self):
            return self._proto

    @proto.setter
    def proto(self, CommandProtocol proto):
        with cython.critical_section(self):
            self._proto = proto

    def __call__(self, *args, **kwargs):
        cdef object client, pool, name
        cdef CommandProtocol proto
        cdef bint room
        with cython.critical_section(self):
            client = self._client
            proto = self._proto
            pool = self._pool
        if client is not None and len(args):
            name = args[0]
            if (type(name) is bytes or type(name) is str) and _KINDS.get(name) == _ORDINARY:
                if proto is None:
                    if not client.closed:
                        return client.execute(*args, **kwargs)
                else:
                    with cython.critical_section(proto):
                        room = proto._lost is None and len(proto._waiters) < self.depth
                    if room:
                        execute = client.execute
                        if not kwargs and type(execute) is ConnectionRequester:
                            return Request(<ConnectionRequester>execute, args)
                        return execute(*args, **kwargs)
        return pool._execute_routed(args, kwargs)
