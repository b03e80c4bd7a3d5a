# cython: language_level=3, boundscheck=False, wraparound=False
# cython: binding=False, embedsignature=True, embedsignature.format=clinic
"""Compiled socket I/O: the send/receive loops of ``Connection``.

Twin of ``_io_py`` (same functions, same exceptions).  With a file
descriptor (``fd >= 0``: a plain TCP or unix socket in blocking mode whose
timeouts the kernel enforces, see connection.py) this calls send()/recv() on
it directly with the GIL released, skipping the socket module's per-call
work; errors come out as the same OSError subclasses the socket module
raises (EAGAIN after SO_RCVTIMEO/SO_SNDTIMEO: BlockingIOError).  Without one
(TLS, or a Python-level timeout) it uses the socket object's methods.
"""
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_GET_SIZE

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
    static Py_ssize_t pyredis_send_nowait(int fd, const char *p, Py_ssize_t n) {
        return (Py_ssize_t)send(fd, p, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    static Py_ssize_t pyredis_recv(int fd, char *p, Py_ssize_t n) { errno = ENOSYS; return -1; }
    #else
    #include <sys/types.h>
    #include <sys/socket.h>
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
    #endif
    static int pyredis_errno(void) { return errno; }
    static const int PYREDIS_EINTR = EINTR;
    """
    Py_ssize_t pyredis_send(int fd, const char* p, Py_ssize_t n) nogil
    Py_ssize_t pyredis_send_nowait(int fd, const char* p, Py_ssize_t n) nogil
    Py_ssize_t pyredis_recv(int fd, char* p, Py_ssize_t n) nogil
    int pyredis_errno() nogil
    const int PYREDIS_EINTR

__all__ = ["send_all", "read_reply", "read_replies", "Requester"]

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


cpdef read_reply(sock, int fd, feed, gets, bytearray buf, bint buffered=True):
    """The next complete reply, parsed by a reader's bound ``feed``/``gets``
    (bound once per connection: no method lookup per call).
    ``buffered=False``: the reader is known to hold nothing complete (a
    command was just sent), so receive first."""
    cdef Py_ssize_t n
    reply = gets() if buffered else False
    while reply is False:
        n = _recv(sock, fd, buf)
        if n == 0:
            raise PyRedisConnClosed(_CLOSED_MESSAGE)
        feed(buf, 0, n)
        reply = gets()
    return reply


def read_replies(sock, int fd, feed, gets, bytearray buf, Py_ssize_t count, append):
    """``count`` complete replies, each passed to ``append``."""
    cdef Py_ssize_t n
    while count > 0:
        reply = gets()
        if reply is False:
            n = _recv(sock, fd, buf)
            if n == 0:
                raise PyRedisConnClosed(_CLOSED_MESSAGE)
            feed(buf, 0, n)
        else:
            append(reply)
            count -= 1


cdef class Requester:
    """One connection's request path, bound as its ``execute``: pack a
    command, send it, read its reply, raise an error reply.

    The Connection keeps everything else: it connects (``attach``), closes
    (``detach``) and maps failures (``_write_failed`` / ``_read_failed``).
    It holds its Connection strongly (``Connection(...).execute(...)`` must
    work): the pair is a reference cycle, so a connection dropped without
    ``close()`` is closed by the cycle collector rather than at once.
    """
    cdef object _owner            # the Connection
    cdef object _pack, _reply_error
    cdef object _sock, _feed, _gets
    cdef bytearray _buf
    cdef int _fd

    def __init__(self, owner, pack, reply_error):
        self._owner = owner
        self._pack = pack
        self._reply_error = reply_error
        self._fd = -1

    def attach(self, sock, int fd, feed, gets, bytearray buf):
        self._sock = sock
        self._fd = fd
        self._feed = feed
        self._gets = gets
        self._buf = buf

    def detach(self):
        self._fd = -1
        self._sock = self._feed = self._gets = self._buf = None

    def __call__(self, *args):
        data = self._pack(args)  # bad arguments raise here, before any I/O
        if self._sock is None:
            self._owner._connect()  # attaches, or raises
        sock = self._sock
        try:
            send_all(sock, self._fd, data)
        except BaseException as exc:
            err = self._owner._write_failed(exc)
            if err is None:
                raise
            raise err from exc
        try:
            reply = read_reply(sock, self._fd, self._feed, self._gets, self._buf, False)
        except BaseException as exc:
            err = self._owner._read_failed(exc, True)
            if err is None:
                raise
            raise err from exc
        if type(reply) is self._reply_error:
            raise reply
        return reply
