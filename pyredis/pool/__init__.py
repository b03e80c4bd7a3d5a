"""Pools of clients (thread-safe; each command runs on a leased client)."""
from random import shuffle  # noqa: F401  (upstream exposes it here)

from pyredis.client import (  # noqa: F401  (upstream re-exports the clients here)
    Client,
    ClusterClient,
    ClusterMap,
    HashClient,
    PubSubClient,
    SentinelClient,
)
from pyredis._lazy import lazy_getattr
from pyredis.pool.base import BasePool
from pyredis.pool.cluster import ClusterPool
from pyredis.pool.hash import HashPool
from pyredis.pool.pool import Pool
from pyredis.pool.sentinel import SentinelPool
from pyredis.pool.sentinel_hash import SentinelHashPool

# As upstream's: the pools, ``shuffle``, and the clients and maps they use.
__all__ = ["BasePool", "AsyncBasePool", "Pool", "AsyncPool", "ClusterPool", "AsyncClusterPool",
           "HashPool", "AsyncHashPool", "SentinelPool", "AsyncSentinelPool", "SentinelHashPool",
           "AsyncSentinelHashPool", "shuffle", "Client", "AsyncClient", "ClusterClient",
           "AsyncClusterClient", "HashClient", "AsyncHashClient", "SentinelClient",
           "AsyncSentinelClient", "ClusterMap", "AsyncClusterMap"]

# The asyncio classes and modules are imported on first use (see pyredis._lazy).
__getattr__ = lazy_getattr(globals(), {
    "AsyncBasePool": "pyredis.pool.async_base",
    "AsyncPool": "pyredis.pool.async_pool",
    "AsyncClusterPool": "pyredis.pool.async_cluster",
    "AsyncHashPool": "pyredis.pool.async_hash",
    "AsyncSentinelPool": "pyredis.pool.async_sentinel",
    "AsyncSentinelHashPool": "pyredis.pool.async_sentinel_hash",
    "AsyncClient": "pyredis.client.async_client",
    "AsyncClusterClient": "pyredis.client.async_cluster",
    "AsyncHashClient": "pyredis.client.async_hash",
    "AsyncPubSubClient": "pyredis.client.async_pubsub",
    "AsyncSentinelClient": "pyredis.client.async_sentinel",
    "AsyncClusterMap": "pyredis.async_helper",
}, submodules=("async_base", "async_pool", "async_cluster", "async_hash", "async_sentinel",
               "async_sentinel_hash"))
