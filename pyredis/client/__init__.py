"""Clients: one connection each (pools lease them)."""
from pyredis.client.async_client import AsyncClient
from pyredis.client.async_cluster import AsyncClusterClient
from pyredis.client.async_hash import AsyncHashClient
from pyredis.client.async_pubsub import AsyncPubSubClient
from pyredis.client.async_sentinel import AsyncSentinelClient
from pyredis.client.client import Client
from pyredis.client.cluster import ClusterClient
from pyredis.client.hash import HashClient
from pyredis.client.pubsub import PubSubClient
from pyredis.client.sentinel import SentinelClient
from pyredis.connection import AsyncConnection, Connection
from pyredis.async_helper import AsyncClusterMap
from pyredis.helper import ClusterMap, dict_from_list

__all__ = ["Client", "ClusterClient", "HashClient", "PubSubClient", "SentinelClient",
           "AsyncClient", "AsyncClusterClient", "AsyncHashClient", "AsyncPubSubClient",
           "AsyncSentinelClient", "Connection", "AsyncConnection",
           "dict_from_list", "ClusterMap", "AsyncClusterMap"]
