"""SentinelHashPool: a BasePool of HashClients whose buckets are Sentinel master names.

Built from SentinelPool's pieces (pool/sentinel.py): one ``_Locator`` per
bucket name, all asking the same SentinelClient under one shared lock, and
``_BucketsClient``, a HashClient that tells the locator of a failed (or
demoted) bucket to forget that bucket's address.

The I/O-free parts - ``SentinelHashPoolSettings`` (settings, properties, the
locators, the clients' settings, the final error) and ``BucketSources``
(which locator and address serve each bucket connection) - are shared with
the asyncio twin, ``pyredis.pool.async_sentinel_hash``.
"""
import threading
import time

from pyredis import commands
from pyredis._describe import endpoints
from pyredis.client.hash import HashClient
from pyredis.client.sentinel import CONNECTION_FAILURES, SentinelClient
from pyredis.exceptions import PyRedisBulkError, PyRedisConnError, PyRedisError, ReplyError
from pyredis.pool import sentinel as _sentinel
from pyredis.pool.base import BasePool

__all__ = ["SentinelHashPool", "SentinelHashPoolSettings", "BucketSources"]


class SentinelHashPoolSettings:
    """What SentinelHashPool and AsyncSentinelHashPool share: settings,
    properties, one locator per bucket name (one sentinel client and one lock
    for all), the clients' settings and the final error.  Subclasses set
    ``_locator_class``, ``_sentinel_class`` and ``_lock_class``."""

    __slots__ = ()

    def __init__(self, sentinels, buckets, slave_ok=False, retries=3, sentinel_password=None,
                 sentinel_username=None, **basepool_kwargs):
        if isinstance(buckets, (str, bytes)) or not buckets:
            raise PyRedisError("buckets must be a non-empty list of master names, not %r"
                               % (buckets,))
        super().__init__(**basepool_kwargs)
        self._buckets = buckets
        self._slave_ok = bool(slave_ok)
        self._retries = retries
        sentinel = self._sentinel_class(sentinels=sentinels, password=sentinel_password,
                                        username=sentinel_username)
        lock = self._lock_class()  # one sentinel connection: one query at a time
        self._locators = [self._locator_class(sentinel, name, self._slave_ok, lock)
                          for name in buckets]

    @property
    def slave_ok(self):
        return self._slave_ok

    @property
    def buckets(self):
        return self._buckets

    @property
    def retries(self):
        return self._retries

    @property
    def sentinels(self):
        """The sentinel client's deque of ``(host, port)``."""
        return self._locators[0].sentinel.sentinels

    def _attempts(self):
        return max(1, self._retries or 0)

    def _describe_target(self):
        return ("%s=%r" % ("replicas_of" if self._slave_ok else "masters", list(self._buckets)),
                "sentinels=%s" % (endpoints(self.sentinels),))

    def _client_kwargs(self):
        return {"database": self.database, "password": self.password,
                "encoding": self.encoding, "conn_timeout": self.conn_timeout,
                "read_timeout": self.read_timeout, "username": self.username}

    def _gave_up(self, attempts, error):
        return PyRedisConnError(
            "Could not connect to Redis (%s %s) after %d attempt(s): %s"
            % ("replicas of" if self._slave_ok else "masters",
               ", ".join(map(repr, self._buckets)), attempts, error))


class BucketSources:
    """The I/O-free half of a pooled hash client, shared by the sync and
    asyncio twins: per bucket connection, the (locator, address) of the
    bucket names it serves (two names may resolve to one server), and which
    of them to forget after a failure.  Mixed into a hash client (it reads
    ``_conns``, ``_route``, ``_order`` and ``_conn_index``)."""

    __slots__ = ()

    def _init_sources(self, locators, addresses, master):
        self._master = master  # True: a -READONLY reply means a demoted master
        self._sources = [[] for _ in self._conns]
        for bucket, (locator, address) in enumerate(zip(locators, addresses)):
            self._sources[self._route[bucket]].append((locator, address))

    def _forget_index(self, index):
        for locator, address in self._sources[index]:
            locator.forget(address)

    def _forget_all(self):
        for index in range(len(self._sources)):
            self._forget_index(index)

    def _forget(self, shard_key, sock):
        """A command for ``shard_key`` / ``sock`` failed: forget its bucket's server."""
        if self._order is not None:  # bulk mode: a flush may have failed on any bucket
            self._forget_all()
        else:
            self._forget_index(self._conn_index(shard_key, sock))

    def _refused(self, exc):
        """True if the reply error ``exc`` says this bucket is no master any more."""
        return self._master and _sentinel.demoted(exc)


class SentinelHashPool(
    SentinelHashPoolSettings,
    BasePool,
    *commands.POOL_MIXINS,
):
    """Thread-safe pool of :class:`~pyredis.HashClient` whose buckets are the
    masters (or, with ``slave_ok``, replicas) that the Sentinels ``sentinels``
    (a list of ``(host, port)``) name for the master names ``buckets``.

    ``buckets`` is an ordered list of master names: a key lives on the master
    of ``buckets[slot_from_key(key) % len(buckets)]``, so every client of the
    same data must list the same names in the same order.  Commands route as
    on HashClient (``shard_key=`` / ``sock=``, the bucket names being
    ``"host_port"`` of the servers); ``publish`` raises
    ``NotImplementedError``; transactions need a leased client.
    ``sentinel_password`` / ``sentinel_username`` authenticate to the
    sentinels; other keyword arguments go to
    :class:`~pyredis.pool.base.BasePool` and the clients.  ``close_on_err`` is
    True: a client that comes back closed makes the pool close its idle
    clients.

    Where this differs from pyredis 1.0 (as SentinelPool does):

    * Sentinel is not asked for every new connection.  The pool remembers
      each bucket's address (with ``slave_ok``: its usable replicas, one
      picked at random per new client and bucket) and asks again for a bucket
      only after a client saw that bucket's server fail - connection refused,
      reset, closed, a read timeout, a protocol error - or, without
      ``slave_ok``, answer ``-READONLY`` (a demoted master).  That closes the
      whole client (see HashClient), the error is raised to the caller, the
      pool drops the client, and the next client gets the address Sentinel
      gives then: once Sentinel names the new master, the pool reaches it
      after at most one failed command per client in use.  A failure during a
      bulk flush makes the pool ask again for every bucket (which one failed
      is not known); bulk replies are not inspected for ``READONLY``.
    * Bucket connections are opened on first use, as on HashClient: while one
      master is down, commands for the other buckets still work.
    * ``retries`` counts attempts to resolve the buckets for a new client,
      and now works: an attempt fails when no sentinel answers or a bucket has
      no usable replica; the next attempt, after a short pause, asks again.
      Then ``PyRedisConnError("Could not connect to Redis ...")`` says why.
      (0 or None: one attempt.)
    * A name the sentinel does not know raises ``PyRedisError("Sentinel knows
      no master named ...")``, not retried.  Replicas flagged down are
      skipped; no usable replica is a ``PyRedisConnError`` (upstream:
      ``IndexError``).  Hosts are passed as ``str``.
    * ``buckets`` must be a non-empty list of names (a bare string, which
      upstream iterated per character, raises ``PyRedisError``).
    * ``close()`` also closes the connection to the sentinel.
    """

    _cluster = True
    _close_on_err = True
    _locator_class = _sentinel._Locator
    _sentinel_class = SentinelClient
    _lock_class = threading.Lock

    def _connect(self):
        attempts = self._attempts()
        error = None
        for attempt in range(attempts):
            if attempt:
                time.sleep(_sentinel.RETRY_DELAY * attempt)
            try:
                addresses = [locator.node() for locator in self._locators]
            except PyRedisConnError as exc:  # no sentinel answered / no usable replica
                error = exc
                continue
            return _BucketsClient(self._locators, not self._slave_ok, addresses,
                                  **self._client_kwargs())
        raise self._gave_up(attempts, error) from error

    def close(self):
        """Close the idle clients (busy ones when released) and the sentinel connection."""
        try:
            super().close()
        finally:
            self._locators[0].close()


class _BucketsClient(BucketSources, HashClient):
    """A pooled HashClient that reports a failed (or demoted) bucket server to
    that bucket's locator.  One Python frame per command over a HashClient."""

    def __init__(self, locators, master, addresses, **kwargs):
        super().__init__(addresses, **kwargs)
        self._init_sources(locators, addresses, master)

    def execute(self, *args, shard_key=None, sock=None):
        try:
            return HashClient.execute(self, *args, shard_key=shard_key, sock=sock)
        except ReplyError as exc:
            if self._refused(exc):
                # A demoted master: this client is useless for writes there.
                self.close()
                self._forget(shard_key, sock)
            raise
        except CONNECTION_FAILURES:
            self._forget(shard_key, sock)
            raise

    def bulk_stop(self):
        try:
            return HashClient.bulk_stop(self)
        except PyRedisBulkError as exc:
            if isinstance(exc.__cause__, CONNECTION_FAILURES):
                self._forget_all()
            raise
