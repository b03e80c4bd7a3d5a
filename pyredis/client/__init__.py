"""Clients: one connection each (pools lease them)."""
from pyredis.client.client import Client
from pyredis.client.pubsub import PubSubClient
from pyredis.client.sentinel import SentinelClient
from pyredis.connection import Connection
from pyredis.helper import dict_from_list

__all__ = ["Client", "PubSubClient", "Connection", "dict_from_list"]
__all__ += ["SentinelClient"]
