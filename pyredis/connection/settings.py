"""Connection settings shared by Connection and AsyncConnection (no I/O here):
the constructor's checks and attributes, the TLS context, the handshake, and
what both do with push frames and ``closed``."""
import logging
import ssl as _ssl
from operator import attrgetter

from pyredis._describe import database, describe, endpoint
from pyredis.exceptions import PyRedisError

__all__ = ["ConnectionSettings", "check_target", "check_push_handler", "deliver_push",
           "handshake_ok", "CLOSED_PROPERTY", "NOT_ENOUGH"]

_log = logging.getLogger("pyredis")


class _NotEnoughData:
    """The Reader's ``notEnoughData``: RESP3 ``#f`` is ``False``, a value, so
    "no complete reply yet" needs a marker of its own."""

    __slots__ = ()

    def __repr__(self):
        return "<not enough data>"


NOT_ENOUGH = _NotEnoughData()

# ``closed`` of the connection and client classes: read-only, backed by
# ``_closed``.  One shared object, so that the pool core can recognise it and
# read ``_closed`` directly (``client.closed`` is read on every release).
CLOSED_PROPERTY = property(
    attrgetter("_closed"), doc="True once closed, for good (nothing reconnects).  Read-only.")


def check_push_handler(handler):
    """``push_handler`` is a callable or None (refused at construction)."""
    if handler is not None and not callable(handler):
        raise TypeError("push_handler must be a callable or None, not %s"
                        % type(handler).__name__)
    return handler


def deliver_push(handler, push):
    """Hand a RESP3 push frame to ``handler`` (None: the push is dropped).

    Runs inside the read path, between the frames of a reply stream: an
    exception the handler raises is logged (logger ``pyredis``, with its
    traceback) and the push dropped, so it never reaches the caller whose
    reply is being read and never desynchronises the stream.  (BaseExceptions
    such as KeyboardInterrupt propagate, and close the connection as any
    interruption mid-reply does.)
    """
    if handler is not None:
        try:
            handler(push)
        except Exception:
            _log.exception("push_handler %r raised on %r; the push was dropped", handler, push)


def handshake_ok(reply):
    """True for the ``+OK`` Redis answers AUTH, SELECT and READONLY with (bytes,
    or str with an encoding)."""
    return reply == b"OK" or reply == "OK"


def check_target(host, unix_sock, tls):
    """Refuse settings no connection could be made with (also used by pools,
    so that a bad pool fails at construction, not at its first command)."""
    if bool(host) == bool(unix_sock):
        raise PyRedisError("Exactly one of host or unix_sock must be given")
    if tls and not host:
        raise PyRedisError("TLS (ssl/ssl_context) needs a host, not a unix socket")


class ConnectionSettings:
    """The constructor of both connection classes: checks and stores the
    settings, then ``_init_state()`` (each class's own, I/O-free) sets up the
    rest.  No I/O happens here; the connection is opened on first use."""

    __slots__ = ()

    def __init__(self, host=None, port=6379, unix_sock=None, database=None, password=None,
                 encoding=None, conn_timeout=2, read_only=False, read_timeout=2,
                 sentinel=False, username=None, ssl=False, ssl_context=None, push_handler=None):
        check_target(host, unix_sock, ssl or ssl_context is not None)
        self._push_handler = check_push_handler(push_handler)
        self.host = host
        self.port = port
        self.unix_sock = unix_sock
        self.database = database
        self.password = password
        self.username = username
        self._encoding = encoding
        self._conn_timeout = conn_timeout
        self._read_timeout = read_timeout
        self._read_only = read_only
        self._sentinel = sentinel
        self._ssl = bool(ssl)
        self._ssl_context = ssl_context
        self._closed = False
        # The client that owns this connection, told when it closes (so that
        # its own ``closed`` need not ask the connection).
        self._owner = None
        self._init_state()

    # ``closed``: Connection's is CLOSED_PROPERTY; this default serves a class
    # that keeps ``closed`` as a plain attribute it sets when closing.
    closed = False

    @property
    def push_handler(self):
        """The callable RESP3 push frames go to (None: they are dropped)."""
        return self._push_handler

    def _init_state(self):
        raise NotImplementedError("connection classes implement _init_state()")

    def _tls_context(self):
        """The context to wrap a new connection in (None: no TLS); ``ssl=True``
        makes a default one on first use."""
        if self._ssl_context is None and self._ssl:
            self._ssl_context = _ssl.create_default_context()
        return self._ssl_context

    def _handshake_commands(self):
        """AUTH, SELECT and READONLY as the settings ask (sent in one write)."""
        cmds = []
        if self.password:
            if self.username:
                cmds.append((b"AUTH", self.username, self.password))
            else:
                cmds.append((b"AUTH", self.password))
        if not self._sentinel:
            # A new connection starts on database 0: SELECT 0 would be a no-op.
            if self.database is not None and self.database != 0:
                cmds.append((b"SELECT", self.database))
            if self._read_only:
                cmds.append((b"READONLY",))
        return cmds

    def _describe(self):
        """Where, which database, and the state (also the repr of the client that owns it)."""
        state = "closed" if self._closed else ("connected" if self._connected() else "idle")
        return "%s %s %s" % (endpoint(self.host, self.port, self.unix_sock),
                             database(self.database), state)

    def __repr__(self):
        return describe(self, self._describe())
