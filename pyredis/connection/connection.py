"""Connection: one socket to one Redis server.

This module is the bottom of the standalone data path::

    Client.execute -> Connection.execute = _io.Requester: pack, check, send, recv/feed/gets

Rules it keeps:

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
* Bytes nobody asked for are never taken for a reply (see the Connection
  docstring): RESP3 push frames go to ``push_handler``; anything else closes
  the connection.

Names upstream looked up on the ``pyredis.connection`` package when
connecting - ``socket`` and ``Reader`` - are looked up there at that moment
too, so that tests can replace them.
"""
import logging
import os
import select
import socket as _socket
import ssl
import struct
import sys
import weakref
from functools import partial

import pyredis.connection as _package
from pyredis.exceptions import ProtocolError, PyRedisConnError, ReplyError
from pyredis._twins import import_twin
from pyredis.connection.errors import (
    closed_while_idle,
    connect_failed,
    gone,
    read_timeout,
    unexpected_data,
    write_failed,
)
from pyredis.connection.settings import (
    CLOSED_PROPERTY,
    NOT_ENOUGH,
    ConnectionSettings,
    deliver_push,
    handshake_ok,
)
from pyredis.protocol import PushNotification, Reader, pack_args

# The request path: compiled (on the descriptor, GIL released) or pure.
_io = import_twin("pyredis.connection", "_io")

# recv_into() target; one per connection, allocated at connect time.
READ_BUFFER_SIZE = 64 * 1024

# On Linux a plain (non-TLS) socket is kept in blocking mode and the read
# timeout is enforced by the kernel (SO_RCVTIMEO / SO_SNDTIMEO).  With a
# Python-level timeout every recv/send is preceded by a poll() syscall; this
# halves the syscalls per command.  A kernel timeout surfaces as EAGAIN
# (BlockingIOError).  Elsewhere, and for TLS, sock.settimeout() is used.
KERNEL_TIMEOUTS = sys.platform.startswith("linux")

_TIMEOUT_ERRORS = (_socket.timeout, BlockingIOError)

# Failures connecting can raise on bad settings or an unreachable server.
_CONNECT_ERRORS = (OSError, OverflowError, ValueError, TypeError)

# A non-blocking read that found nothing (plain socket / TLS).
_NOTHING_NOW = (BlockingIOError, ssl.SSLWantReadError)

_log = logging.getLogger("pyredis")

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


def _probe_for(sock):
    """A callable without arguments, true when bytes (or the end of the
    stream) wait on ``sock``: a poll that does not wait, and for TLS first the
    bytes its SSL object has decrypted already."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        probe = partial(poller.poll, 0)
    else:  # Windows: no poll()
        def probe():
            return select.select([sock], [], [], 0)[0]
    pending = getattr(sock, "pending", None)
    if pending is None:
        return probe
    return lambda: pending() or probe()


class _ForeignSocket:
    """Upstream's calls (``sendall``, ``recv``) on a socket that is not a
    stdlib one - a test double put in ``pyredis.connection.socket``'s place -
    under the names the request path uses."""

    __slots__ = ("_sock",)

    def __init__(self, sock):
        self._sock = sock

    def sendall(self, data):
        self._sock.sendall(data)

    def recv_into(self, buf):
        data = self._sock.recv(len(buf))
        buf[:len(data)] = data
        return len(data)

    def close(self):
        self._sock.close()


class Connection(ConnectionSettings):
    """One connection to a Redis server, over TCP (optionally TLS) or a unix socket.

    ``Connection(host=None, port=6379, unix_sock=None, database=None,
    password=None, encoding=None, conn_timeout=2, read_only=False,
    read_timeout=2, sentinel=False, username=None, ssl=False,
    ssl_context=None, push_handler=None)``.  No I/O happens in the
    constructor; the socket is opened on first use.

    Where it differs from pyredis 1.0:

    * ``push_handler`` (new): a callable that gets every RESP3 push frame
      (``PushNotification``: invalidations of ``CLIENT TRACKING``, and the
      like) read on a command path - ``execute``, ``read_replies``,
      ``execute_many``, the connect handshake.  Push frames are never a
      command's reply; without a handler they are dropped.  It runs inside
      the read, so it must not use this connection; an exception it raises
      is logged (logger ``pyredis``) and the push dropped.  ``read()``
      returns every frame as it comes, pushes included (PubSub's messages).
    * Bytes nobody asked for are never taken for a reply.  Before a command
      is sent on a connection with no reply outstanding, one check that does
      not wait (a ``poll``) looks for data: pushes there go to the handler;
      anything else - another reply, a greeting, the server having hung up
      - closes the connection and raises ``CommandNotSent`` (a
      ``PyRedisConnError``: nothing was sent; a pool retries the command
      once on another connection).  After the last reply asked for
      (``execute``, ``execute_many``, a bulk flush), a complete frame other
      than a push left in the reader closes the connection once that reply
      is returned (logged as a warning); the start of a frame is kept and
      judged before the next send, once it is complete (waiting for it up
      to ``read_timeout``).  (Data still in flight when the check runs
      cannot be told from the reply that follows it.)
    * The handshake (AUTH, SELECT, READONLY) accepts ``+OK`` or an error as
      each reply: a frame that is neither (a greeting) is not counted, and
      the handshake then fails with the first error reply (``WRONGPASS``...)
      or, if there was none, with ``CommandNotSent``.
    * RESP3 ``#f`` is returned as ``False`` (upstream waited for more data).
    * ``execute``, ``read_replies`` and ``execute_many`` are new; see the
      module docstring for failures.

    ``pyredis.connection.socket`` and ``pyredis.connection.Reader`` are looked
    up when connecting, as upstream did.  A Reader put there needs
    ``hiredis.Reader``'s interface (``feed(data, offset, length)``,
    ``gets()``, ``has_data()``, ``len()`` and ``notEnoughData=``); a socket
    module put there that hands out other than stdlib sockets is used
    through ``sendall()`` and ``recv()`` only, without the idle check.
    """

    closed = CLOSED_PROPERTY

    def _init_state(self):
        self._sock = None
        self._fd = -1  # the socket's descriptor when _io may use it directly
        self._reader = None
        self._buf = None
        self._requester = _io.Requester(self, pack_args, ReplyError, PushNotification,
                                        NOT_ENOUGH)
        if type(self).execute is _EXECUTE:
            # The hot path: ``conn.execute`` (and so Client.execute) is the
            # requester itself, with no Python frame of ours.  Not when the
            # class's execute is overridden (a subclass, a mock).
            self.execute = self._requester

    # -- connecting --------------------------------------------------------
    def _connect(self):
        """Open the socket, authenticate, select; return the socket."""
        if self._closed:
            raise gone()
        # Everything that can fail on bad settings (an unknown encoding, an
        # unpackable password) fails before a socket exists.
        reader = self._new_reader()
        handshake = self._handshake_commands()
        handshake_data = b"".join([pack_args(cmd) for cmd in handshake])
        sock = self._open_socket()
        self._sock = sock
        self._reader = reader
        _LIVE.add(self)
        self._buf = bytearray(READ_BUFFER_SIZE)
        probe = _probe_for(sock) if isinstance(sock, _socket.socket) else None
        self._requester.attach(sock, self._fd, reader, self._buf, probe, self._push_handler)
        if handshake:
            # One round trip for AUTH + SELECT + READONLY.
            self._send(handshake_data)
            self._handshake_replies(len(handshake))
        self._finish()
        if self._closed:  # something other than pushes followed the replies
            raise unexpected_data("data after the handshake replies")
        return sock

    def _new_reader(self):
        reader_class = _package.Reader  # looked up now, as upstream did
        if not self._encoding:
            return reader_class(notEnoughData=NOT_ENOUGH)
        if reader_class is Reader:
            # A string that does not decode comes back as bytes, as upstream's
            # reader returned it (another Reader put there decides for itself).
            return reader_class(encoding=self._encoding, notEnoughData=NOT_ENOUGH,
                                raw_fallback=True)
        return reader_class(encoding=self._encoding, notEnoughData=NOT_ENOUGH)

    def _handshake_replies(self, count):
        """Read the handshake's ``count`` replies; raise the first error reply,
        or ``CommandNotSent`` if a frame that was no reply came among them."""
        error = None
        strays = []
        while count:
            reply = self.read_replies(1)[0]
            if isinstance(reply, ReplyError):
                error = error or reply
                count -= 1
            elif handshake_ok(reply):
                count -= 1
            else:  # a greeting or another frame nobody asked for
                strays.append(reply)
        if error is not None:
            self.close()
            raise error
        if strays:
            self.close()
            raise unexpected_data(repr(strays[0]))

    def _open_socket(self):
        """The connected socket (TLS-wrapped, timeouts set); closed again on any failure."""
        socket_module = _package.socket  # looked up now, as upstream did
        timeout = self._conn_timeout
        tls = self._ssl or self._ssl_context is not None
        target = self.unix_sock or "%s:%s" % (self.host, self.port)
        sock = None
        try:
            if self.unix_sock:
                sock = socket_module.socket(family=socket_module.AF_UNIX,
                                            type=socket_module.SOCK_STREAM)
                sock.settimeout(timeout)
                sock.connect(self.unix_sock)
            else:
                sock = socket_module.create_connection(address=(self.host, self.port),
                                                       timeout=timeout)
                sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
                if tls:
                    sock = self._tls_context().wrap_socket(sock, server_hostname=self.host)
            direct = self._apply_read_timeout(sock, tls)
        except BaseException as exc:
            if sock is not None:
                sock.close()  # (a failed TLS wrap leaves the plain socket open)
            self.close()
            if isinstance(exc, _CONNECT_ERRORS):
                raise connect_failed(target, exc) from exc
            raise
        if not isinstance(sock, _socket.socket):
            return _ForeignSocket(sock)
        # A blocking plain stdlib socket: _io may send/receive on its descriptor.
        self._fd = sock.fileno() if direct and type(sock) is _socket.socket else -1
        return sock

    def _apply_read_timeout(self, sock, tls):
        """Set the read timeout; True when the socket is left in blocking mode
        (kernel timeouts, or none) so that its descriptor can be used directly."""
        timeout = self._read_timeout
        if KERNEL_TIMEOUTS and not tls and timeout is not None and 0 < timeout < 2 ** 31:
            sock.settimeout(None)
            tv = _timeval(timeout)
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_RCVTIMEO, tv)
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_SNDTIMEO, tv)
            return True
        sock.settimeout(timeout)
        return timeout is None and not tls and KERNEL_TIMEOUTS

    # -- closing -----------------------------------------------------------
    def close(self):
        """Close the socket for good.  Idempotent."""
        self._closed = True
        owner = self._owner
        if owner is not None:
            owner._closed = True
        self._fd = -1  # first: the number may be reused once the socket is closed
        sock = self._sock
        self._sock = None
        self._reader = None
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
        """Send pre-packed ``data`` (after the idle check, see the class docstring)."""
        self._requester.ready()
        try:
            _io.send_all(self._sock, self._fd, data)
        except BaseException as exc:
            self._write_failed(exc)
            raise

    def _write_failed(self, exc):
        """Part of a command may be on the wire: the stream is unusable.  Close,
        then raise the error to report (or return: ``exc`` propagates)."""
        self.close()
        if isinstance(exc, Exception):
            raise write_failed(exc) from exc

    # -- reading -----------------------------------------------------------
    def execute(self, *args):
        """Send one command and return its reply; an error reply is raised.

        Done by the ``_io.Requester`` (compiled or pure): one pack, the idle
        check, one send, then receive/feed/gets until the reply is complete.
        Assumes no reply is outstanding.  Instances bind ``execute`` to the
        requester itself.
        """
        return self._requester(*args)

    def read(self, close_on_timeout=True, raise_on_result_err=True):
        """Return the next frame, push frames included (raising it if it is an
        error reply and raise_on_result_err)."""
        if self._sock is None:
            self._connect()
        reply = self._requester.read(not close_on_timeout)
        if raise_on_result_err and isinstance(reply, Exception):
            raise reply
        return reply

    def read_replies(self, count, out=None):
        """Read ``count`` replies in one loop; error replies are returned, not
        raised, push frames go to the push handler.

        Appends to ``out`` when given (None is returned), else returns a new list.
        """
        result = [] if out is None else out
        if self._sock is None:
            self._connect()
        self._requester.read_replies(count, result.append)
        return result if out is None else None

    def execute_many(self, data, count, out=None):
        """Send pre-packed ``data`` holding ``count`` commands; read their replies.

        One sendall and one read loop for the whole batch (bulk mode).  Like
        ``execute``, assumes no reply is outstanding before, and checks what
        follows the last reply.
        """
        self._send(data)
        result = self.read_replies(count, out)
        self._finish()
        return result

    def _finish(self):
        """Every reply asked for has been read (a bulk flush, ``execute_many``):
        the connection is idle again, and what the reader still holds is
        checked as after ``execute``."""
        self._requester.finish()

    def _read_failed(self, exc, close):
        """Map a failure inside a read loop: raise the error to report, or return
        (``exc`` propagates).  Closes the connection unless ``close`` is false and
        this is a timeout (PubSub polling with nothing of a frame received).
        """
        if isinstance(exc, _TIMEOUT_ERRORS):
            if close:
                self.close()
            raise read_timeout() from exc
        self.close()
        if isinstance(exc, OSError):
            raise PyRedisConnError("Connection lost while reading: %s" % (exc,)) from exc

    # -- bytes nobody asked for ----------------------------------------------
    def _unsolicited(self):
        """Before a send on a connection with no reply outstanding, data is
        there (or the reader holds the start of a frame): push frames go to
        the handler; anything else closes the connection and raises
        ``CommandNotSent``.  A frame that has begun is waited for (up to the
        read timeout: the server sends a frame in one go) to tell which it is.
        """
        reader = self._reader
        while True:
            stray = self._stray()
            if stray is not None:
                self.close()
                raise unexpected_data(stray)
            incomplete = reader.has_data()
            try:
                n = self._receive_more(incomplete)
            except _TIMEOUT_ERRORS as exc:
                self.close()
                raise unexpected_data("an incomplete frame") from exc
            except OSError as exc:
                self.close()
                raise closed_while_idle(exc) from exc
            if n is None:
                return  # nothing more, nothing incomplete
            if not n:
                self.close()
                raise closed_while_idle("end of stream")

    def _receive_more(self, wait):
        """Receive into the reader: the byte count (0 at the end of the stream),
        or, without ``wait``, None when nothing is there now."""
        sock = self._sock
        buf = self._buf
        if wait:
            n = sock.recv_into(buf)
        elif not isinstance(sock, _socket.socket):
            return None  # a test double: nothing to look at without waiting
        else:
            timeout = sock.gettimeout()
            sock.settimeout(0)
            try:
                n = sock.recv_into(buf)
            except _NOTHING_NOW:
                return None
            finally:
                sock.settimeout(timeout)
        if n:
            self._reader.feed(buf, 0, n)
        return n

    def _leftover(self):
        """After the last reply asked for, the reader holds more: push frames go
        to the handler; another frame closes the connection (the reply is still
        returned to its caller).  The start of a frame is kept, and looked at
        again before the next send (``idle`` 2)."""
        stray = self._stray()
        if stray is not None:
            _log.warning("Closing the connection to %s: after the reply, data nobody asked "
                         "for: %.80s", self.unix_sock or "%s:%s" % (self.host, self.port), stray)
            self.close()
        elif self._reader.has_data():
            self._requester.idle = 2

    def _stray(self):
        """Take the complete frames out of the reader: pushes go to the handler;
        return a description of the first frame that is not a push (None if
        there is none)."""
        reader = self._reader
        handler = self._push_handler
        while True:
            try:
                frame = reader.gets()
            except ProtocolError as exc:
                return "unparsable data (%s)" % (exc,)
            if frame is NOT_ENOUGH:
                return None
            if type(frame) is not PushNotification:
                return repr(frame)
            deliver_push(handler, frame)

    # -- context manager ---------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _connected(self):
        return self._sock is not None


_EXECUTE = Connection.execute  # the real one: instances bind the requester only if it is in place
