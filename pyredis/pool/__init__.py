"""Pools of clients (thread-safe; each command runs on a leased client)."""
from random import shuffle  # noqa: F401  (upstream exposes it here)

from pyredis.client import (  # noqa: F401  (upstream re-exports the clients here)
    AsyncClient,
    AsyncClusterClient,
    AsyncClusterMap,
    AsyncHashClient,
    AsyncPubSubClient,
    AsyncSentinelClient,
    Client,
    ClusterClient,
    ClusterMap,
    HashClient,
    PubSubClient,
    SentinelClient,
)
from pyredis.pool.async_base import AsyncBasePool
from pyredis.pool.async_cluster import AsyncClusterPool
from pyredis.pool.async_hash import AsyncHashPool
from pyredis.pool.async_pool import AsyncPool
from pyredis.pool.async_sentinel import AsyncSentinelPool
from pyredis.pool.async_sentinel_hash import AsyncSentinelHashPool
from pyredis.pool.base import BasePool
from pyredis.pool.cluster import ClusterPool
from pyredis.pool.hash import HashPool
from pyredis.pool.pool import Pool
from pyredis.pool.sentinel import SentinelPool
from pyredis.pool.sentinel_hash import SentinelHashPool

__all__ = ["BasePool", "Pool", "ClusterPool", "HashPool", "SentinelPool", "SentinelHashPool",
           "AsyncBasePool", "AsyncPool", "AsyncClusterPool", "AsyncHashPool", "AsyncSentinelPool",
           "AsyncSentinelHashPool"]
