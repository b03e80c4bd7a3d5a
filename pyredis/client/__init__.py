"""Clients: one connection each (pools lease them)."""
from pyredis.client.client import Client
from pyredis.client.cluster import ClusterClient
from pyredis.client.hash import HashClient
from pyredis.client.pubsub import PubSubClient
from pyredis.client.sentinel import SentinelClient
from pyredis.connection import Connection
from pyredis.helper import ClusterMap, dict_from_list

__all__ = ["Client", "ClusterClient", "HashClient", "PubSubClient", "SentinelClient",
           "Connection", "dict_from_list", "ClusterMap"]
