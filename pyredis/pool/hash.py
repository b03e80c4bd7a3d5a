"""HashPool: a BasePool of HashClients (static client-side sharding)."""
from pyredis import commands
from pyredis._describe import endpoints
from pyredis.client.hash import HashClient, parse_buckets
from pyredis.pool.base import BasePool
from pyredis.pool.settings import TLSSettings

__all__ = ["HashPool", "HashPoolSettings"]


class HashPoolSettings:
    """What HashPool and AsyncHashPool share: the bucket list and TLS settings,
    and the client each new pooled connection is (``_client_class``).  The
    pools also list TLSSettings, after their base pool (see pool/settings.py)."""

    __slots__ = ()
    _client_class = HashClient

    def __init__(self, buckets, ssl=False, ssl_context=None, **basepool_kwargs):
        parse_buckets(buckets, tls=ssl or ssl_context is not None)
        super().__init__(**basepool_kwargs)
        self._buckets = buckets
        self._set_tls(ssl, ssl_context)

    @property
    def buckets(self):
        return self._buckets

    def _describe_target(self):
        return "buckets=%s" % (endpoints(self._buckets),), self._tls_word()

    def _connect(self):
        return self._client_class(
            self._buckets, ssl_context=self._tls_context(), **self._client_kwargs())


class HashPool(
    HashPoolSettings,
    BasePool,
    TLSSettings,
    *commands.POOL_MIXINS,
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
