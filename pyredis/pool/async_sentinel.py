"""AsyncSentinelPool: the asyncio twin of SentinelPool.

Built from the same pieces (``pyredis.pool.sentinel`` holds the shared,
I/O-free ones): ``AsyncSentinelPool`` (settings, properties and the final
error from ``SentinelPoolSettings``), ``_AsyncLocator`` (the memory of
``AddressMemory``, queries serialised by a ``LoopLock``) and
``_AsyncNodeClient`` (an AsyncClient that reports a failed or demoted server).
"""
import asyncio

import pyredis.pool
from pyredis import commands
from pyredis.client.async_client import AsyncClient
from pyredis.client.sentinel import CONNECTION_FAILURES
from pyredis.exceptions import PyRedisBulkError, PyRedisConnError, ReplyError
from pyredis.pool.async_base import AsyncBasePool
from pyredis.pool.sentinel import (
    RETRY_DELAY,
    AddressMemory,
    SentinelPoolSettings,
    demoted,
    unknown_master,
)

__all__ = ["AsyncSentinelPool", "LoopLock"]


class LoopLock:
    """``async with lock:`` - an ``asyncio.Lock`` made in the loop that first
    needs it (on Python 3.9 a Lock binds to the loop current when it is made,
    and a pool may be built before its loop runs)."""

    __slots__ = ("_lock",)

    def __init__(self):
        self._lock = None

    async def __aenter__(self):
        lock = self._lock
        if lock is None:
            lock = self._lock = asyncio.Lock()
        await lock.acquire()

    async def __aexit__(self, *exc_info):
        self._lock.release()


class _AsyncLocator(AddressMemory):
    """Where the pool's clients should connect, for one event loop.  Sentinel
    queries are serialised by a ``LoopLock``; locators that query the same
    ``sentinel`` client (AsyncSentinelHashPool: one per bucket) share it."""

    def __init__(self, sentinel, name, slave_ok, lock=None):
        super().__init__(sentinel, name, slave_ok)
        self._lock = LoopLock() if lock is None else lock

    async def node(self):
        """An address to connect to (asks Sentinel if none is remembered)."""
        address = self._pick()
        if address is None:
            async with self._lock:
                address = self._pick()
                if address is None:  # no other task asked meanwhile
                    method, name = self._query()
                    try:
                        reply = await method(name)
                    except ReplyError as exc:
                        error = unknown_master(name, exc)
                        if error is None:
                            raise
                        raise error from exc
                    self._learn(reply)
                    address = self._pick()
        return address

    def forget(self, address):
        """A client of ``address`` failed: do not hand that address out again."""
        self._drop(address)  # no await: atomic within the loop

    async def close(self):
        async with self._lock:
            await self.sentinel.close()


class AsyncSentinelPool(
    SentinelPoolSettings,
    AsyncBasePool,
    *commands.POOL_MIXINS,
):
    """Pool of :class:`~pyredis.AsyncClient` connections to the master named
    ``name`` (or, with ``slave_ok``, to its replicas), found through the
    Sentinels ``sentinels``, for one event loop; command methods return
    coroutines (``await pool.get("k")``).

    Same constructor, properties (``name``, ``slave_ok``, ``retries``,
    ``sentinels``, ``close_on_err`` True) and behaviour as
    :class:`~pyredis.SentinelPool`, and the same differences from pyredis 1.0:
    Sentinel is asked again only after a client saw its server fail or, on a
    master pool, answer ``-READONLY`` (so after a failover the pool reaches
    the new master after at most one failed command per client in use);
    failing sentinels are skipped; ``retries`` works (each attempt asks
    Sentinel again, after a short pause, and a new client connects at once,
    in ``_connect()``, so a stale address costs an attempt, not a command);
    replicas flagged down are skipped and no usable replica is a
    ``PyRedisConnError``; hosts are str.  ``await pool.close()`` also closes
    the sentinel connection.

    One more than SentinelPool: a server hanging up a pooled connection, even
    an idle one (Sentinel makes a demoted master drop its clients), makes the
    pool ask Sentinel again before the next new connection, so after a
    failover the first command usually goes straight to the new master.  Transactions need a leased client
    (``async with pool.lease() as client``).
    """

    _cluster = False
    _close_on_err = True
    _client_class = AsyncClient
    _client_lookup = True  # pyredis.pool.AsyncClient at each connect, as upstream
    _locator_class = _AsyncLocator
    # Looked up when the pool is made, in pyredis.pool, as upstream did.
    _sentinel_class = property(lambda self: pyredis.pool.AsyncSentinelClient)

    async def _connect(self):
        locator = self._locator
        attempts = self._attempts()
        error = None
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(RETRY_DELAY * attempt)
            try:
                address = await locator.node()
            except PyRedisConnError as exc:  # no sentinel answered / no usable replica
                error = exc
                continue
            factory = self._client_factory()
            if factory is not AsyncClient:  # a test double in its place
                return factory(**self._client_kwargs(address))
            client = _AsyncNodeClient(locator, address, not self._slave_ok,
                                      **self._client_kwargs(address))
            try:
                await client._conn._ensure_connected()
            except CONNECTION_FAILURES as exc:
                locator.forget(address)
                error = exc
                continue
            return client
        raise self._gave_up(attempts, error) from error

    async def close(self):
        """Close the idle clients (busy ones when released) and the sentinel connection."""
        try:
            await super().close()
        finally:
            await self._locator.close()


class _AsyncNodeClient(AsyncClient):
    """A pooled AsyncClient that reports a failed (or demoted) server to the locator."""

    def __init__(self, locator, address, master, **kwargs):
        self._locator = locator
        self._address = address
        self._master = master
        super().__init__(**kwargs)
        # The server hung up, possibly while the client sat idle in the pool -
        # as Sentinel makes a demoted master do: forget that server now rather
        # than after a failed command.
        self._conn._on_hangup = self._hung_up

    def _hung_up(self):
        self._locator.forget(self._address)

    async def execute(self, *args):
        try:
            return await AsyncClient.execute(self, *args)
        except ReplyError as exc:
            if self._master and demoted(exc):
                # A demoted master: this connection is useless for writes.
                self._conn._close_now()
                self._locator.forget(self._address)
            raise
        except CONNECTION_FAILURES:
            self._locator.forget(self._address)
            raise

    async def bulk_stop(self):
        try:
            return await AsyncClient.bulk_stop(self)
        except PyRedisBulkError as exc:
            if isinstance(exc.__cause__, CONNECTION_FAILURES):
                self._locator.forget(self._address)
            raise
