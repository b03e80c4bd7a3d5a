"""Clients: one connection each (pools lease them)."""
from pyredis.client.client import Client
from pyredis.client.hash import HashClient
from pyredis.client.pubsub import PubSubClient
from pyredis.connection import Connection
from pyredis.helper import dict_from_list

__all__ = ["Client", "HashClient", "PubSubClient", "Connection", "dict_from_list"]
