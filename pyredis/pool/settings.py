"""Pool settings shared by the sync and asyncio pools (no I/O here).

* ``ClientSettings``: what every pool hands to the clients it creates
  (``database``, ``password``, ``encoding``, ``conn_timeout``,
  ``read_timeout``, ``username``), read by BasePool and AsyncBasePool.
* ``TLSSettings``: ``ssl`` / ``ssl_context``, and the one default context
  every pooled connection shares.
* ``ServerPoolSettings``: the target checks and properties, and
  ``_connect()``, of Pool and AsyncPool (one server, TCP, TLS or unix socket).

They touch only construction and ``_connect()``: nothing here runs on a
command's path.  They are listed *after* the base pool in a pool's bases (a
command method of the compiled core, called on a pool, checks the pool's type
by walking its MRO up to the core: each class in front costs on every command),
so a pool that takes ``__init__`` or ``_connect`` from here names it in its
own body.
"""
import ssl as _ssl

from pyredis._describe import database, describe, endpoint
from pyredis.connection.settings import check_client_settings, check_target, check_tls

__all__ = ["ClientSettings", "TLSSettings", "ServerPoolSettings"]


class ClientSettings:
    """The client settings of a pool, as read-only properties; checked as a
    connection checks them (pyredis/connection/settings.py), so a bad pool
    fails at construction, not at its first command."""

    __slots__ = ()
    _push_handler = None  # set by pools that take one

    def _set_client_settings(self, database, password, encoding, conn_timeout, read_timeout,
                             username):
        check_client_settings(database, password, encoding, conn_timeout, read_timeout,
                              username)
        self._database = database
        self._password = password
        self._encoding = encoding
        self._conn_timeout = conn_timeout
        self._read_timeout = read_timeout
        self._username = username

    @property
    def database(self):
        return self._database

    @property
    def password(self):
        return self._password

    @property
    def encoding(self):
        return self._encoding

    @property
    def conn_timeout(self):
        return self._conn_timeout

    @property
    def read_timeout(self):
        return self._read_timeout

    @property
    def username(self):
        return self._username

    def __repr__(self):
        """Every pool's: what it connects to (each kind of pool's
        ``_describe_target()``: a tuple of words), database and size."""
        target = getattr(self, "_describe_target", tuple)()
        return describe(self, *target, database(self.database), "pool_size=%s" % (self.pool_size,))

    def _client_kwargs(self):
        """The keyword arguments every new pooled client gets from these settings."""
        kwargs = {
            "database": self.database,
            "password": self.password,
            "encoding": self.encoding,
            "conn_timeout": self.conn_timeout,
            "read_timeout": self.read_timeout,
            "username": self.username,
        }
        if self._push_handler is not None:
            kwargs["push_handler"] = self._push_handler
        return kwargs


class TLSSettings:
    """``ssl=True`` (a default context, made once and shared by every pooled
    connection) or ``ssl_context`` (your own)."""

    __slots__ = ()

    def _set_tls(self, ssl, ssl_context):
        check_tls(ssl, ssl_context)
        self._ssl = bool(ssl)
        self._ssl_context = ssl_context

    @property
    def ssl(self):
        """True when connections use TLS."""
        return self._ssl or self._ssl_context is not None

    @property
    def ssl_context(self):
        return self._ssl_context

    def _tls_word(self):
        return "tls" if self.ssl else ""

    def _tls_context(self):
        """The context for a new connection (None: no TLS)."""
        context = self._ssl_context
        if context is None and self._ssl:
            # Built on first use (it reads the system CA store), then shared.
            context = self._ssl_context = _ssl.create_default_context()
        return context


class ServerPoolSettings(TLSSettings):
    """What Pool and AsyncPool share: the target settings (one of ``host`` or
    ``unix_sock``; TLS needs a host), their properties and ``_connect()``,
    which makes a ``_client_class`` (set by each pool)."""

    __slots__ = ()
    _client_class = None

    def _set_target(self, host, port, unix_sock, ssl, ssl_context):
        check_target(host, port, unix_sock, ssl, ssl_context)
        self._host = host
        self._port = port
        self._unix_sock = unix_sock
        self._set_tls(ssl, ssl_context)

    @property
    def host(self):
        return self._host

    @property
    def port(self):
        return self._port

    @property
    def unix_sock(self):
        return self._unix_sock

    def _describe_target(self):
        return endpoint(self._host, self._port, self._unix_sock), self._tls_word()

    def _connect(self):
        return self._client_class(
            host=self._host,
            port=self._port,
            unix_sock=self._unix_sock,
            ssl_context=self._tls_context(),
            **self._client_kwargs(),
        )
