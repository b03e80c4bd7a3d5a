"""Clients: one connection each (pools lease them)."""
from pyredis.client.client import Client
from pyredis.client.pubsub import PubSubClient
from pyredis.client.async_client import AsyncClient
from pyredis.client.async_pubsub import AsyncPubSubClient
from pyredis.connection import AsyncConnection, Connection
from pyredis.helper import dict_from_list

__all__ = ["Client", "PubSubClient", "Connection", "dict_from_list",
           "AsyncClient", "AsyncPubSubClient", "AsyncConnection"]
