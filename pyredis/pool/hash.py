"""HashPool: a BasePool of HashClients (static client-side sharding)."""
import ssl as _ssl

from pyredis import commands
from pyredis.client.hash import HashClient, parse_buckets
from pyredis.pool.base import BasePool

__all__ = ["HashPool", "HashPoolSettings"]


class HashPoolSettings:
    """What HashPool and AsyncHashPool share: the bucket list and TLS settings,
    and the client each new pooled connection is (``_client_class``)."""

    __slots__ = ()
    _client_class = HashClient

    def __init__(self, buckets, ssl=False, ssl_context=None, **basepool_kwargs):
        parse_buckets(buckets, tls=ssl or ssl_context is not None)
        super().__init__(**basepool_kwargs)
        self._buckets = buckets
        self._ssl = bool(ssl)
        self._ssl_context = ssl_context

    @property
    def buckets(self):
        return self._buckets

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
        return self._client_class(
            self._buckets,
            database=self.database,
            password=self.password,
            encoding=self.encoding,
            conn_timeout=self.conn_timeout,
            read_timeout=self.read_timeout,
            username=self.username,
            ssl_context=context,
        )


class HashPool(
    HashPoolSettings,
    BasePool,
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
    """Thread-safe pool of :class:`~pyredis.HashClient` over the same ``buckets``.

    ``buckets``: as for HashClient (ordered ``(host, port)`` pairs, or unix
    socket paths); checked here, so a bad list fails at construction.
    ``ssl=True`` uses ``ssl.create_default_context()``, ``ssl_context`` your
    own; either is made once and shared by every bucket connection.  Other
    keyword arguments go to :class:`~pyredis.pool.base.BasePool`.  Commands
    route as on HashClient (``shard_key=`` / ``sock=``); ``publish`` raises
    ``NotImplementedError``; transactions need a leased client
    (``with pool.lease() as client``).

    A client whose bucket connection failed is closed as a whole (see
    HashClient), so the pool drops it when it comes back and the next command
    gets a fresh client with fresh connections.
    """

    _cluster = True
