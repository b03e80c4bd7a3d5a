"""Clients: one connection each (pools lease them)."""
from pyredis.client.client import Client
from pyredis.client.cluster import ClusterClient
from pyredis.client.hash import HashClient
from pyredis.client.pubsub import PubSubClient
from pyredis.client.sentinel import SentinelClient
from pyredis._lazy import lazy_getattr
from pyredis.connection import Connection
from pyredis.helper import ClusterMap, dict_from_list

__all__ = ["Client", "ClusterClient", "HashClient", "PubSubClient", "SentinelClient",
           "AsyncClient", "AsyncClusterClient", "AsyncHashClient", "AsyncPubSubClient",
           "AsyncSentinelClient", "Connection", "AsyncConnection",
           "dict_from_list", "ClusterMap", "AsyncClusterMap"]

# The asyncio classes and modules are imported on first use (see pyredis._lazy).
__getattr__ = lazy_getattr(globals(), {
    "AsyncClient": "pyredis.client.async_client",
    "AsyncClusterClient": "pyredis.client.async_cluster",
    "AsyncHashClient": "pyredis.client.async_hash",
    "AsyncPubSubClient": "pyredis.client.async_pubsub",
    "AsyncSentinelClient": "pyredis.client.async_sentinel",
    "AsyncConnection": "pyredis.connection.async_connection",
    "AsyncClusterMap": "pyredis.async_helper",
}, submodules=("async_client", "async_cluster", "async_hash", "async_pubsub", "async_sentinel"))
