"""AsyncSentinelHashPool: the asyncio twin of SentinelHashPool.

Built from the same pieces: the pool's settings, locators and final error
(``SentinelHashPoolSettings``) and the pooled client's bucket bookkeeping
(``BucketSources``) come from ``pyredis.pool.sentinel_hash``; the locators
are AsyncSentinelPool's (``_AsyncLocator``, one per bucket name, sharing one
AsyncSentinelClient and one ``LoopLock``).  ``_AsyncBucketsClient`` is an
AsyncHashClient that tells the locator of a failed (or demoted) bucket to
forget that bucket's address.
"""
import asyncio

import pyredis.pool
from pyredis import commands
from pyredis.client.async_hash import AsyncHashClient
from pyredis.client.sentinel import CONNECTION_FAILURES
from pyredis.exceptions import PyRedisBulkError, PyRedisConnError, ReplyError
from pyredis.pool import sentinel as _sentinel
from pyredis.pool.async_base import AsyncBasePool
from pyredis.pool.async_sentinel import LoopLock, _AsyncLocator
from pyredis.pool.sentinel_hash import BucketSources, SentinelHashPoolSettings

__all__ = ["AsyncSentinelHashPool"]


class AsyncSentinelHashPool(
    SentinelHashPoolSettings,
    AsyncBasePool,
    *commands.POOL_MIXINS,
):
    """Pool of :class:`~pyredis.AsyncHashClient` whose buckets are the masters
    (or, with ``slave_ok``, replicas) that the Sentinels ``sentinels`` name
    for the master names ``buckets``, for one event loop; command methods
    return coroutines (``await pool.get("k")``).

    Same constructor, properties (``buckets``, ``slave_ok``, ``retries``,
    ``sentinels``, ``close_on_err`` True), routing (a key lives on the master
    of ``buckets[slot_from_key(key) % len(buckets)]``; ``shard_key=`` /
    ``sock=``, bucket names being the servers' ``"host_port"``) and behaviour
    as :class:`~pyredis.SentinelHashPool`, and the same differences from
    pyredis 1.0: Sentinel is asked once per name, not per connection, and
    again for a bucket only after a client saw that bucket's server fail or,
    without ``slave_ok``, answer ``-READONLY`` (a failed bulk flush: every
    bucket); ``retries`` works (each attempt asks again, after a short
    pause); replicas flagged down are skipped and no usable replica is a
    ``PyRedisConnError``; an unknown master name is a ``PyRedisError``
    ("Sentinel knows no master named ..."), not retried; ``buckets`` must be
    a non-empty list (upstream iterated a string per character); hosts are
    str; bucket connections open on first use.  ``await pool.close()`` also
    closes the sentinel connection.  Transactions need a leased client
    (``async with pool.lease() as client``); ``publish`` raises
    ``NotImplementedError``.

    One more than SentinelHashPool, as AsyncSentinelPool: a server hanging up
    a bucket connection, even an idle one (Sentinel makes a demoted master
    drop its clients), makes the pool ask Sentinel again for that bucket
    before the next new client.
    """

    _cluster = True
    _close_on_err = True
    _client_class = AsyncHashClient
    _client_lookup = True  # pyredis.pool.AsyncHashClient at each connect, as upstream
    _locator_class = _AsyncLocator
    # Looked up when the pool is made, in pyredis.pool, as upstream did.
    _sentinel_class = property(lambda self: pyredis.pool.AsyncSentinelClient)
    _lock_class = LoopLock

    async def _connect(self):
        attempts = self._attempts()
        error = None
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(_sentinel.RETRY_DELAY * attempt)
            try:
                addresses = [await locator.node() for locator in self._locators]
            except PyRedisConnError as exc:  # no sentinel answered / no usable replica
                error = exc
                continue
            factory = self._client_factory()
            if factory is not AsyncHashClient:  # a test double in its place
                return factory(buckets=addresses, **self._client_kwargs())
            return _AsyncBucketsClient(self._locators, not self._slave_ok, addresses,
                                       **self._client_kwargs())
        raise self._gave_up(attempts, error) from error

    async def close(self):
        """Close the idle clients (busy ones when released) and the sentinel connection."""
        try:
            await super().close()
        finally:
            await self._locators[0].close()


class _BucketWatch:
    """Owner of one bucket connection of an ``_AsyncBucketsClient``: passes the
    connection's ``closed`` on to the client and, when the server hung up
    (not a close of ours), makes that bucket's locator(s) forget it - even
    while the client sits idle in the pool."""

    __slots__ = ("_client", "_index")

    def __init__(self, client, index):
        self._client = client
        self._index = index

    @property
    def closed(self):
        return self._client.closed

    @closed.setter
    def closed(self, value):
        client = self._client
        # Our own closes mark the connection _closed before telling its owner.
        if value and not client._conns[self._index]._closed:
            client._forget_index(self._index)
        client.closed = value


class _AsyncBucketsClient(BucketSources, AsyncHashClient):
    """A pooled AsyncHashClient that reports a failed (or demoted) bucket
    server to that bucket's locator."""

    def __init__(self, locators, master, addresses, **kwargs):
        super().__init__(addresses, **kwargs)
        self._init_sources(locators, addresses, master)

    def _connection(self, index):
        conn = self._conns[index]
        if conn is None:
            conn = AsyncHashClient._connection(self, index)
            conn._owner = _BucketWatch(self, index)
        return conn

    async def execute(self, *args, shard_key=None, sock=None):
        try:
            return await AsyncHashClient.execute(self, *args, shard_key=shard_key, sock=sock)
        except ReplyError as exc:
            if self._refused(exc):
                # A demoted master: this client is useless for writes there.
                self._close_now()
                self._forget(shard_key, sock)
            raise
        except CONNECTION_FAILURES:
            self._forget(shard_key, sock)
            raise

    async def bulk_stop(self):
        try:
            return await AsyncHashClient.bulk_stop(self)
        except PyRedisBulkError as exc:
            if isinstance(exc.__cause__, CONNECTION_FAILURES):
                self._forget_all()
            raise
