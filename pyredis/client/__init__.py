"""Clients: one connection each (pools lease them)."""
from pyredis.client.client import Client
from pyredis.client.pubsub import PubSubClient
from pyredis.connection import Connection

__all__ = ["Client", "PubSubClient", "Connection"]
