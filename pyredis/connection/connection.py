"""Connection: one socket to one Redis server, and the RESP read loop.

This module is the bottom of the standalone data path::

    Client.execute -> Connection.execute -> pack_args, then _io: send, recv/feed/gets

Rules it keeps (DESIGN.md, "Reliability rules"):

* A connection is connected lazily, on first use, and never reconnects: once
  closed (by ``close()`` or by any failure) every use raises
  ``PyRedisConnError("Connection Gone")``.
* Any failure between sending a command and having its whole reply (timeout,
  reset, EOF, protocol error, even KeyboardInterrupt) closes the connection,
  so a pool never gets back a socket with unread bytes on it.  The one
  exception is ``read(close_on_timeout=False)`` timing out while nothing of a
  reply is buffered: that is PubSub polling, and the stream is still in sync.
* Any failure while writing closes the connection (part of a command may have
  been sent) and raises ``PyRedisConnError``.
"""
import os
import socket
import struct
import sys
import weakref

from pyredis.exceptions import (
    ProtocolError,
    PyRedisConnClosed,
    PyRedisConnError,
    PyRedisConnReadTimeout,
    PyRedisError,
    ReplyError,
)
from pyredis._twins import import_twin
from pyredis.connection.errors import connect_failed, gone, read_timeout, write_failed
from pyredis.connection.settings import ConnectionSettings
from pyredis.protocol import Reader, pack_args

# send/receive loops: compiled (on the descriptor, GIL released) or pure
_io = import_twin("pyredis.connection", "_io")
send_all = _io.send_all
read_reply = _io.read_reply

# recv_into() target; one per connection, allocated at connect time.
READ_BUFFER_SIZE = 64 * 1024

# On Linux a plain (non-TLS) socket is kept in blocking mode and the read
# timeout is enforced by the kernel (SO_RCVTIMEO / SO_SNDTIMEO).  With a
# Python-level timeout every recv/send is preceded by a poll() syscall; this
# halves the syscalls per command.  A kernel timeout surfaces as EAGAIN
# (BlockingIOError).  Elsewhere, and for TLS, sock.settimeout() is used.
KERNEL_TIMEOUTS = sys.platform.startswith("linux")

_TIMEOUT_ERRORS = (socket.timeout, BlockingIOError)

# Live connections, so that a forked child can drop the sockets it inherited
# (it must never talk on the parent's streams).
_LIVE = weakref.WeakSet()


def _drop_inherited_connections():
    for conn in list(_LIVE):
        try:
            conn.close()
        except Exception:  # never break os.fork() over a cleanup
            pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_inherited_connections)


def _timeval(seconds):
    whole = int(seconds)
    micros = int((seconds - whole) * 1e6)
    if not whole and not micros:
        micros = 1  # a zero timeval would mean "block forever"
    return struct.pack("ll", whole, micros)


class Connection(ConnectionSettings):
    """One connection to a Redis server, over TCP (optionally TLS) or a unix socket.

    No I/O happens in the constructor (ConnectionSettings); the socket is
    opened on first use.  Where this differs from pyredis 1.0 (see
    ConnectionSettings): the settings are checked at construction
    (ValueError / TypeError; upstream failed at the first command), and a
    username without a password sends ``AUTH <username> ""`` (upstream sent
    no AUTH, so the connection ran as ``default``).
    """

    def _init_state(self):
        # ``closed`` is a plain attribute, here and on the client that owns this
        # connection (``_owner``): pools read it on every release, and a dict
        # slot costs a third of a property call.  Closing keeps both in step.
        self.closed = False
        self._owner = None
        self._sock = None
        self._fd = -1  # the socket's descriptor when _io may use it directly
        self._reader = None
        self._feed = self._gets = None  # the reader's bound methods, for _io
        self._buf = None
        self._requester = _io.Requester(self, pack_args, ReplyError)
        if type(self).execute is Connection.execute:
            # The hot path: ``conn.execute`` (and so Client.execute) is the
            # requester itself, with no Python frame of ours.
            self.execute = self._requester

    # -- connecting --------------------------------------------------------
    def _connect(self):
        """Open the socket, authenticate, select; return the socket."""
        if self._closed:
            raise gone()
        # Everything that can fail on bad settings (an unknown encoding, an
        # unpackable password) fails before a socket exists.
        reader = Reader(encoding=self._encoding, raw_fallback=True) if self._encoding else Reader()
        handshake = self._handshake_commands()
        handshake_data = b"".join([pack_args(cmd) for cmd in handshake])
        sock = self._open_socket()
        self._sock = sock
        self._reader = reader
        self._feed = reader.feed
        self._gets = reader.gets
        _LIVE.add(self)
        self._buf = bytearray(READ_BUFFER_SIZE)
        self._requester.attach(sock, self._fd, self._feed, self._gets, self._buf)
        if handshake:
            # One round trip for AUTH + SELECT + READONLY.
            self._send(handshake_data)
            for reply in self.read_replies(len(handshake)):
                if isinstance(reply, ReplyError):
                    self.close()
                    raise reply
        return sock

    def _open_socket(self):
        timeout = self._conn_timeout
        tls = self._ssl or self._ssl_context is not None
        sock = None
        try:
            if self.unix_sock:
                target = self.unix_sock
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(timeout)
                sock.connect(self.unix_sock)
            else:
                target = "%s:%s" % (self.host, self.port)
                sock = socket.create_connection((self.host, self.port), timeout=timeout)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if tls:
                    sock = self._wrap_tls(sock)
            direct = self._apply_read_timeout(sock, tls)
        except (OSError, OverflowError, ValueError, TypeError) as exc:
            if sock is not None:
                sock.close()
            self.close()
            raise connect_failed(target, exc) from exc
        # A blocking plain socket: _io may send/receive on its descriptor.
        self._fd = sock.fileno() if direct else -1
        return sock

    def _wrap_tls(self, sock):
        context = self._tls_context()
        host = self.host
        if isinstance(host, (bytes, bytearray)):
            host = host.decode("ascii")
        try:
            return context.wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise

    def _apply_read_timeout(self, sock, tls):
        """Set the read timeout; True when the socket is left in blocking mode
        (kernel timeouts, or none) so that its descriptor can be used directly."""
        timeout = self._read_timeout
        if KERNEL_TIMEOUTS and not tls and timeout is not None and 0 < timeout < 2 ** 31:
            sock.settimeout(None)
            tv = _timeval(timeout)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
            return True
        sock.settimeout(timeout)
        return timeout is None and not tls and KERNEL_TIMEOUTS

    # -- closing -----------------------------------------------------------
    def close(self):
        """Close the socket for good.  Idempotent."""
        self._closed = self.closed = True
        owner = self._owner
        if owner is not None:
            owner.closed = True
        self._fd = -1  # first: the number may be reused once the socket is closed
        sock = self._sock
        self._sock = None
        self._reader = None
        self._feed = self._gets = None
        self._buf = None
        self._requester.detach()
        if sock is not None:
            _LIVE.discard(self)
            try:
                sock.close()
            except OSError:
                pass

    # -- writing -----------------------------------------------------------
    def write(self, *args):
        """Send one command; do not read its reply."""
        self._send(pack_args(args))

    def _send(self, data):
        sock = self._sock
        if sock is None:
            sock = self._connect()
        try:
            send_all(sock, self._fd, data)
        except BaseException as exc:
            err = self._write_failed(exc)
            if err is None:
                raise
            raise err from exc

    def _write_failed(self, exc):
        """Part of a command may be on the wire: the stream is unusable.  Close;
        return the exception to raise (None: re-raise ``exc``)."""
        self.close()
        if isinstance(exc, Exception):
            return write_failed(exc)
        return None

    # -- reading -----------------------------------------------------------
    def execute(self, *args):
        """Send one command and return its reply; an error reply is raised.

        Done by the ``_io.Requester`` (compiled or pure): one pack, one send,
        then receive/feed/gets until the reply is complete.  Assumes no reply
        is outstanding.  Instances bind ``execute`` to the requester itself.
        """
        return self._requester(*args)

    def read(self, close_on_timeout=True, raise_on_result_err=True):
        """Return the next reply (raising it if it is an error reply and raise_on_result_err)."""
        sock = self._sock
        if sock is None:
            sock = self._connect()
        # Polling: a timeout keeps the connection only if no byte of a reply
        # reached the reader - none unparsed when this read starts (the
        # parser may turn them into a half-built reply, which has_data()
        # does not report afterwards) and none received during it.
        watch = None if close_on_timeout else _FeedWatch(self._feed, self._reply_pending())
        try:
            reply = read_reply(sock, self._fd, watch or self._feed, self._gets, self._buf)
        except BaseException as exc:
            err = self._read_failed(exc, close_on_timeout or watch.seen)
            if err is None:
                raise
            raise err from exc
        if raise_on_result_err and isinstance(reply, Exception):
            raise reply
        return reply

    def read_replies(self, count, out=None):
        """Read ``count`` replies in one loop; error replies are returned, not raised.

        Appends to ``out`` when given (None is returned), else returns a new list.
        """
        result = [] if out is None else out
        sock = self._sock
        if sock is None:
            sock = self._connect()
        try:
            _io.read_replies(sock, self._fd, self._feed, self._gets, self._buf, count,
                             result.append)
        except BaseException as exc:
            err = self._read_failed(exc, True)
            if err is None:
                raise
            raise err from exc
        return result if out is None else None

    def execute_many(self, data, count, out=None):
        """Send pre-packed ``data`` holding ``count`` commands; read their replies.

        One sendall and one read loop for the whole batch (bulk mode).
        """
        self._send(data)
        return self.read_replies(count, out)

    def _read_failed(self, exc, close_on_timeout):
        """Map a failure inside a read loop; return the exception to raise (None: re-raise).

        Closes the connection unless this is a timeout the caller wants to survive
        and the reader holds nothing of a partial reply.
        """
        if isinstance(exc, _TIMEOUT_ERRORS):
            if close_on_timeout or self._reply_pending():
                self.close()
            return read_timeout()
        self.close()
        if isinstance(exc, (PyRedisError, ProtocolError)):
            return None
        if isinstance(exc, OSError):
            return PyRedisConnError("Connection lost while reading: %s" % (exc,))
        return None

    def _reply_pending(self):
        """Unparsed bytes in the reader (a partial reply, for all we know)."""
        reader = self._reader
        if reader is None:
            return False
        has_data = getattr(reader, "has_data", None)
        if has_data is not None:
            return bool(has_data())
        return True  # cannot tell: assume the worst

    # -- context manager ---------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _connected(self):
        return self._sock is not None


class _FeedWatch:
    """A reader's feed that remembers whether it was given any bytes."""

    __slots__ = ("_feed", "seen")

    def __init__(self, feed, seen):
        self._feed = feed
        self.seen = seen

    def __call__(self, data, offset=0, length=-1):
        self.seen = True
        self._feed(data, offset, length)
