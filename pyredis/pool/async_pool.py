"""AsyncPool: an AsyncBasePool of AsyncClients to one server (TCP, TLS or unix socket)."""
import ssl as _ssl

from pyredis import commands
from pyredis.client.async_client import AsyncClient
from pyredis.exceptions import PyRedisError
from pyredis.pool.async_base import AsyncBasePool


class AsyncPool(
    AsyncBasePool,
    commands.Connection,
    commands.Geo,
    commands.Hash,
    commands.HyperLogLog,
    commands.Key,
    commands.List,
    commands.Publish,
    commands.Scripting,
    commands.Set,
    commands.SSet,
    commands.String,
):
    """Pool of :class:`~pyredis.AsyncClient` connections to one server, for one
    event loop; command methods return coroutines (``await pool.get("k")``).

    ``ssl=True`` uses ``ssl.create_default_context()``; ``ssl_context`` gives
    your own.  Either is made once and shared by every pooled connection.
    Other keyword arguments go to :class:`~pyredis.pool.AsyncBasePool`.
    Transactions need one connection: ``async with pool.lease() as client:``.
    """

    _cluster = False

    def __init__(self, host=None, port=6379, unix_sock=None, ssl=False, ssl_context=None,
                 **basepool_kwargs):
        if bool(host) == bool(unix_sock):
            raise PyRedisError("Exactly one of host or unix_sock must be given")
        if (ssl or ssl_context is not None) and not host:
            raise PyRedisError("TLS (ssl/ssl_context) needs a host, not a unix socket")
        super().__init__(**basepool_kwargs)
        self._host = host
        self._port = port
        self._unix_sock = unix_sock
        self._ssl = bool(ssl)
        self._ssl_context = ssl_context

    @property
    def host(self):
        return self._host

    @property
    def port(self):
        return self._port

    @property
    def unix_sock(self):
        return self._unix_sock

    @property
    def ssl(self):
        """True when connections use TLS."""
        return self._ssl or self._ssl_context is not None

    @property
    def ssl_context(self):
        return self._ssl_context

    def _connect(self):
        context = self._ssl_context
        if context is None and self._ssl:
            # Built on first use (it reads the system CA store), then shared.
            context = self._ssl_context = _ssl.create_default_context()
        return AsyncClient(
            host=self._host,
            port=self._port,
            unix_sock=self._unix_sock,
            database=self.database,
            password=self.password,
            encoding=self.encoding,
            conn_timeout=self.conn_timeout,
            read_timeout=self.read_timeout,
            username=self.username,
            ssl_context=context,
        )
