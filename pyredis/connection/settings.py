"""Connection settings shared by Connection and AsyncConnection (no I/O here):
the constructor's checks and attributes, the TLS context and the handshake.

The checks below also run wherever settings are stored for connections made
later (pools, cluster and hash clients, cluster maps, sentinel clients), so
that a bad setting fails at construction with a ValueError or TypeError,
never at the first command as a misleading connection error:

* ``host`` / ``unix_sock``: exactly one (PyRedisError, as upstream); TLS
  needs a host.  ``port`` (with a host): an int from 1 to 65535.
* ``conn_timeout`` / ``read_timeout``: None (no limit: block, as upstream's
  sockets do) or a number of seconds > 0 and at most ``MAX_SECONDS``
  (nan, inf, 0 and negative numbers are refused; 0 would make the socket
  non-blocking and fail at random).
* ``database``: None or an int >= 0.  ``encoding``: None, "" (no decoding)
  or the name of a codec.  ``username`` / ``password``: None, str, bytes or
  int.  ``ssl``: a bool (or 0/1).  ``ssl_context``: None or an
  ``ssl.SSLContext``.
"""
import codecs
import numbers
import ssl as _ssl

from pyredis._describe import database, describe, endpoint
from pyredis.exceptions import PyRedisError

__all__ = ["ConnectionSettings", "MAX_SECONDS", "check_target", "check_client_settings",
           "check_tls", "check_port", "check_seconds", "check_credential"]

# The longest timeout (about 68 years): what a 32-bit time_t, and so every
# socket timeout on every platform, can hold.  None means no limit.
MAX_SECONDS = 2 ** 31 - 1


def _type_name(value):
    return type(value).__name__


def check_target(host, port, unix_sock, ssl, ssl_context):
    """Refuse settings no connection could be made with (also used by pools,
    so that a bad pool fails at construction, not at its first command)."""
    check_tls(ssl, ssl_context)
    if bool(host) == bool(unix_sock):
        raise PyRedisError("Exactly one of host or unix_sock must be given")
    if host:
        check_port(port)
    elif ssl or ssl_context is not None:
        raise PyRedisError("TLS (ssl/ssl_context) needs a host, not a unix socket")


def check_tls(ssl, ssl_context):
    if not isinstance(ssl, int) or ssl not in (0, 1):
        raise TypeError("ssl must be True or False, not %r" % (ssl,))
    if ssl_context is not None and not isinstance(ssl_context, _ssl.SSLContext):
        raise TypeError("ssl_context must be an ssl.SSLContext or None, not %s"
                        % _type_name(ssl_context))


def check_port(port):
    if isinstance(port, bool) or not isinstance(port, numbers.Integral):
        raise TypeError("port must be an int, not %s" % _type_name(port))
    if not 0 < port < 65536:
        raise ValueError("port must be from 1 to 65535, not %d" % port)


def check_seconds(name, value):
    """A connect or read timeout: None, or seconds in (0, MAX_SECONDS]."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError("%s must be a number of seconds or None, not %s"
                        % (name, _type_name(value)))
    if not 0 < value <= MAX_SECONDS:  # nan fails every comparison
        raise ValueError("%s must be more than 0 and at most %d seconds (None: no limit), "
                         "not %r" % (name, MAX_SECONDS, value))


def check_credential(name, value):
    """``username`` / ``password``; the value itself never appears in the error."""
    if value is not None and (isinstance(value, bool)
                              or not isinstance(value, (str, bytes, bytearray, int))):
        raise TypeError("%s must be a str or bytes, not %s" % (name, _type_name(value)))


def check_client_settings(database=None, password=None, encoding=None, conn_timeout=None,
                          read_timeout=None, username=None):
    """The settings every connection of a client or pool gets."""
    if database is not None:
        if isinstance(database, bool) or not isinstance(database, numbers.Integral):
            raise TypeError("database must be an int or None, not %s" % _type_name(database))
        if database < 0:
            raise ValueError("database must be >= 0, not %d" % database)
    check_credential("username", username)
    check_credential("password", password)
    if encoding:
        if not isinstance(encoding, str):
            raise TypeError("encoding must be the name of a codec, not %s" % _type_name(encoding))
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValueError("unknown encoding: %r" % (encoding,)) from None
    check_seconds("conn_timeout", conn_timeout)
    check_seconds("read_timeout", read_timeout)


class ConnectionSettings:
    """The constructor of both connection classes: checks the settings (the
    rules are in the module docstring) and stores them, then
    ``_init_state()`` (each class's own, I/O-free) sets up the rest.  No I/O
    happens here; the connection is opened on first use."""

    __slots__ = ()
    _push_handler = None

    def __init__(self, host=None, port=6379, unix_sock=None, database=None, password=None,
                 encoding=None, conn_timeout=2, read_only=False, read_timeout=2,
                 sentinel=False, username=None, ssl=False, ssl_context=None, push_handler=None):
        check_target(host, port, unix_sock, ssl, ssl_context)
        check_client_settings(database, password, encoding, conn_timeout, read_timeout, username)
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
        if push_handler is not None:  # (sync connections with none keep their dict as it was)
            self._push_handler = push_handler
        self._closed = False
        self._init_state()  # also sets ``_owner``, told ``closed = True`` when it closes

    def _init_state(self):
        raise NotImplementedError("connection classes implement _init_state()")

    def _tls_context(self):
        """The context to wrap a new connection in (None: no TLS); ``ssl=True``
        makes a default one on first use."""
        if self._ssl_context is None and self._ssl:
            self._ssl_context = _ssl.create_default_context()
        return self._ssl_context

    def _handshake_commands(self):
        """AUTH, SELECT and READONLY as the settings ask (sent in one write).

        A username without a password sends ``AUTH <username> ""`` (upstream
        sent no AUTH, so the connection ran as ``default``): a ``nopass`` user
        gets in as itself, any other gets WRONGPASS at connect."""
        cmds = []
        if self.username:
            cmds.append((b"AUTH", self.username, self.password or b""))
        elif self.password:
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
