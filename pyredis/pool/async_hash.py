"""AsyncHashPool: an AsyncBasePool of AsyncHashClients (static client-side sharding)."""
import pyredis.pool
from pyredis import commands
from pyredis.pool.async_base import AsyncBasePool
from pyredis.pool.hash import HashPoolSettings
from pyredis.pool.settings import TLSSettings

__all__ = ["AsyncHashPool"]


class AsyncHashPool(
    HashPoolSettings,
    AsyncBasePool,
    TLSSettings,
    *commands.POOL_MIXINS,
):
    """Pool of :class:`~pyredis.AsyncHashClient` over the same ``buckets``, for
    one event loop; command methods return coroutines (``await pool.get("k")``).

    Same constructor, properties and routing as :class:`~pyredis.HashPool`
    (``buckets``, ``ssl``, ``ssl_context``; other keyword arguments go to
    :class:`~pyredis.pool.AsyncBasePool`).  ``publish`` raises
    ``NotImplementedError``; transactions need a leased client
    (``async with pool.lease() as client``).  A client whose bucket failed is
    closed as a whole, so the pool drops it and the next command gets a fresh
    one.
    """

    _cluster = True
    # Looked up when a client is made, in pyredis.pool, as upstream did.
    _client_class = property(lambda self: pyredis.pool.AsyncHashClient)
