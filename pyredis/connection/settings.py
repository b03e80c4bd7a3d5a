"""Connection settings shared by Connection and AsyncConnection (no I/O here):
the constructor's checks and attributes, the TLS context and the handshake."""
import ssl as _ssl

from pyredis._describe import database, describe, endpoint
from pyredis.exceptions import PyRedisError

__all__ = ["ConnectionSettings", "check_target"]


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
        if push_handler is not None and not callable(push_handler):
            raise TypeError("push_handler must be a callable or None, not %r"
                            % (type(push_handler).__name__,))
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
        self._push_handler = push_handler
        self._closed = False
        self._owner = None  # told ``closed = True`` when the connection closes
        self._init_state()

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
