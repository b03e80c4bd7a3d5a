"""HashPool: a BasePool of HashClients (static client-side sharding)."""
from pyredis import commands
from pyredis.client.hash import HashClient, parse_buckets
from pyredis.pool.base import BasePool

__all__ = ["HashPool"]


class HashPool(
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
    socket paths); checked here, so a bad list fails at construction.  Other
    keyword arguments go to :class:`~pyredis.pool.base.BasePool`.  Commands
    route as on HashClient (``shard_key=`` / ``sock=``); ``publish`` raises
    ``NotImplementedError``; transactions need a leased client
    (``with pool.lease() as client``).

    A client whose bucket connection failed is closed as a whole (see
    HashClient), so the pool drops it when it comes back and the next command
    gets a fresh client with fresh connections.
    """

    _cluster = True

    def __init__(self, buckets, **basepool_kwargs):
        parse_buckets(buckets)
        super().__init__(**basepool_kwargs)
        self._buckets = buckets

    @property
    def buckets(self):
        return self._buckets

    def _connect(self):
        return HashClient(
            self._buckets,
            database=self.database,
            password=self.password,
            encoding=self.encoding,
            conn_timeout=self.conn_timeout,
            read_timeout=self.read_timeout,
            username=self.username,
        )
