# cython: language_level=3, boundscheck=False, wraparound=False
# cython: binding=False, embedsignature=True, embedsignature.format=clinic
"""Compiled socket I/O: the request path of ``Connection``.

Twin of ``_io_py`` (same names, same behaviour, same exceptions; the rules
both keep are in its ``Requester`` docstring).  With a file
descriptor (``fd >= 0``: a plain TCP or unix socket in blocking mode whose
timeouts the kernel enforces, see connection.py) this calls send()/recv() on
it directly with the GIL released, skipping the socket module's per-call
work; errors come out as the same OSError subclasses the socket module
raises (EAGAIN after SO_RCVTIMEO/SO_SNDTIMEO: BlockingIOError).  Without one
(TLS, or a Python-level timeout) it uses the socket object's methods.

Free threading: ``send_all`` keeps nothing between calls.  A Requester, like
its Connection, is per-thread (a pool leases a connection to one thread at a
time); the module has no mutable state.  Misuse stays memory-safe: every
method runs in a critical section on the Requester (a per-object lock on
free-threaded builds, nothing with the GIL), so its fields change only
between another thread's steps, as under the GIL.  The section is suspended
while a thread waits in send()/recv() with the GIL released, exactly where
the GIL let other threads in before: the bytes being sent and the receive
buffer are held by local references meanwhile (and never resized), so a
``close()`` from another thread then ends in an exception (an OSError, or
a TypeError on the fields it cleared), never on a dangling pointer.  Two threads sharing one connection can get each other's
replies; a connection is not to be shared.
"""
cimport cython
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_GET_SIZE

from pyredis.connection.settings import deliver_push
from pyredis.exceptions import PyRedisConnClosed

cdef extern from "Python.h":
    int PyErr_CheckSignals() except -1

cdef extern from *:
    """
    #include <errno.h>
    #if defined(_WIN32)
    /* Windows never gets a descriptor (connection.py passes -1 there). */
    static Py_ssize_t pyredis_send(int fd, const char *p, Py_ssize_t n) { errno = ENOSYS; return -1; }
    static Py_ssize_t pyredis_send_nowait(int fd, const char *p, Py_ssize_t n) { errno = ENOSYS; return -1; }
    static Py_ssize_t pyredis_recv(int fd, char *p, Py_ssize_t n) { errno = ENOSYS; return -1; }
    static int pyredis_readable(int fd) { return 0; }
    #else
    #include <sys/types.h>
    #include <sys/socket.h>
    #include <poll.h>
    #ifndef MSG_NOSIGNAL
    #define MSG_NOSIGNAL 0  /* macOS: Python ignores SIGPIPE anyway */
    #endif
    static Py_ssize_t pyredis_send(int fd, const char *p, Py_ssize_t n) {
        return (Py_ssize_t)send(fd, p, (size_t)n, MSG_NOSIGNAL);
    }
    static Py_ssize_t pyredis_send_nowait(int fd, const char *p, Py_ssize_t n) {
        return (Py_ssize_t)send(fd, p, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    static Py_ssize_t pyredis_recv(int fd, char *p, Py_ssize_t n) {
        return (Py_ssize_t)recv(fd, p, (size_t)n, 0);
    }
    /* Data, the end of the stream or an error waits to be read: nonzero
       (poll failing says so too: the caller then looks closer). */
    static int pyredis_readable(int fd) {
        struct pollfd p;
        p.fd = fd;
        p.events = POLLIN;
        p.revents = 0;
        return poll(&p, 1, 0) != 0;
    }
    #endif
    static int pyredis_errno(void) { return errno; }
    static const int PYREDIS_EINTR = EINTR;
    """
    Py_ssize_t pyredis_send(int fd, const char* p, Py_ssize_t n) nogil
    Py_ssize_t pyredis_send_nowait(int fd, const char* p, Py_ssize_t n) nogil
    Py_ssize_t pyredis_recv(int fd, char* p, Py_ssize_t n) nogil
    int pyredis_readable(int fd) nogil
    int pyredis_errno() nogil
    const int PYREDIS_EINTR

__all__ = ["send_all", "Requester"]

_CLOSED_MESSAGE = "Connection closed by the server"


cdef int _raise_errno(int err) except -1:
    # OSError(errno, ...) is created as the matching subclass
    # (ConnectionResetError, BrokenPipeError, BlockingIOError...).
    import os
    raise OSError(err, os.strerror(err))


cdef inline Py_ssize_t _recv(object sock, int fd, bytearray buf) except -1:
    """One receive into ``buf``: the byte count (0 at EOF)."""
    cdef Py_ssize_t n
    cdef int err = 0
    cdef char* p = PyByteArray_AS_STRING(buf)
    cdef Py_ssize_t size = PyByteArray_GET_SIZE(buf)
    if fd < 0:
        return sock.recv_into(buf)
    while True:
        with nogil:
            n = pyredis_recv(fd, p, size)
            if n < 0:
                err = pyredis_errno()
        if n >= 0:
            return n
        if err != PYREDIS_EINTR:
            _raise_errno(err)
        PyErr_CheckSignals()  # a signal handler's exception (KeyboardInterrupt) wins


cpdef send_all(sock, int fd, data):
    """Send all of ``data`` (bytes)."""
    cdef const char* p
    cdef Py_ssize_t left, n
    cdef int err = 0
    if fd < 0 or not PyBytes_CheckExact(data):
        sock.sendall(data)
        return
    p = PyBytes_AS_STRING(data)
    left = PyBytes_GET_SIZE(data)
    # First without releasing the GIL: a command almost always fits in the
    # socket buffer at once, and dropping and retaking the GIL costs more
    # than the send.  Whatever is left goes through the blocking loop below.
    n = pyredis_send_nowait(fd, p, left)
    if n > 0:
        p += n
        left -= n
    while left > 0:
        with nogil:
            n = pyredis_send(fd, p, left)
            if n < 0:
                err = pyredis_errno()
        if n >= 0:
            p += n
            left -= n
        elif err == PYREDIS_EINTR:
            PyErr_CheckSignals()
        else:
            _raise_errno(err)


cdef class Requester:
    """One connection's request path, bound as its ``execute`` (see
    ``_io_py.Requester`` for the rules).

    It holds its Connection strongly (``Connection(...).execute(...)`` must
    work): the pair is a reference cycle, so a connection dropped without
    ``close()`` is closed by the cycle collector rather than at once.
    """
    cdef object _owner            # the Connection
    cdef object _pack, _reply_error, _push_type, _none
    cdef object _sock, _feed, _gets, _has_data, _probe, _handler
    cdef bytearray _buf
    cdef int _fd
    cdef public int idle

    def __init__(self, owner, pack, reply_error, push_type, not_enough):
        self._owner = owner
        self._pack = pack
        self._reply_error = reply_error
        self._push_type = push_type
        self._none = not_enough
        self.detach()

    def attach(self, sock, int fd, reader, bytearray buf, probe, handler):
        feed, gets, has_data = reader.feed, reader.gets, reader.has_data
        with cython.critical_section(self):
            self._sock = sock
            self._fd = fd
            self._feed = feed
            self._gets = gets
            self._has_data = has_data
            self._buf = buf
            self._probe = probe
            self._handler = handler
            self.idle = 0

    @cython.critical_section
    def detach(self):
        self._fd = -1
        self._sock = self._feed = self._gets = self._has_data = self._buf = None
        self._probe = self._handler = None
        self.idle = 0

    @cython.critical_section
    def __call__(self, *args):
        data = self._pack(args)  # bad arguments raise here, before any I/O
        self._ready()
        try:
            send_all(self._sock, self._fd, data)
        except BaseException as exc:
            self._write_failed(exc)
            raise
        try:
            reply = self._next(False)
        except BaseException as exc:
            self._read_failed(exc, True)
            raise
        self._finish()
        if type(reply) is self._reply_error:
            raise reply
        return reply

    @cython.critical_section
    def ready(self):
        self._ready()

    @cython.critical_section
    def finish(self):
        self._finish()

    @cython.critical_section
    def read(self, bint polling=False):
        cdef bint keep = polling and not self._has_data()
        none = self._none
        try:
            reply = self._gets()
            while reply is none:
                reply = self._receive()
                keep = False
        except BaseException as exc:
            self._read_failed(exc, not keep)
            raise
        return reply

    @cython.critical_section
    def read_replies(self, Py_ssize_t count, append):
        try:
            while count > 0:
                append(self._next(True))
                count -= 1
        except BaseException as exc:
            self._read_failed(exc, True)
            raise

    # The Connection's handlers, called through these (not inline in the
    # methods) to keep its attribute lookups out of their critical sections:
    # the Connection guards its own attributes.
    @cython.final
    cdef inline int _write_failed(self, exc) except -1:
        self._owner._write_failed(exc)
        return 0

    @cython.final
    cdef inline int _read_failed(self, exc, bint close) except -1:
        self._owner._read_failed(exc, close)
        return 0

    @cython.final
    cdef inline int _ready(self) except -1:
        if self._sock is None:
            self._owner._connect()  # attaches, or raises
        if self.idle and (self.idle == 2 or self._readable()):
            self._owner._unsolicited()  # raises unless it was all pushes
        self.idle = 0
        return 0

    @cython.final
    cdef inline int _finish(self) except -1:
        self.idle = 1
        if self._has_data():
            self._owner._leftover()
        return 0

    @cython.final
    cdef inline bint _readable(self) except -1:
        if self._fd >= 0:
            return pyredis_readable(self._fd)
        probe = self._probe
        return probe is not None and probe()

    @cython.final
    cdef object _next(self, bint buffered):
        none = self._none
        reply = self._gets() if buffered else none
        while True:
            while reply is none:
                reply = self._receive()
            if type(reply) is not self._push_type:
                return reply
            deliver_push(self._handler, reply)
            reply = self._gets()

    @cython.final
    cdef inline object _receive(self):
        cdef Py_ssize_t n = _recv(self._sock, self._fd, self._buf)
        if n == 0:
            raise PyRedisConnClosed(_CLOSED_MESSAGE)
        self._feed(self._buf, 0, n)
        return self._gets()
