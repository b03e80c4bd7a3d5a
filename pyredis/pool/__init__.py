"""Pools of clients (thread-safe; each command runs on a leased client)."""
from random import shuffle  # noqa: F401  (upstream exposes it here)

from pyredis.client import Client, ClusterClient, ClusterMap, HashClient, PubSubClient  # noqa: F401
from pyredis.pool.base import BasePool
from pyredis.pool.hash import HashPool
from pyredis.pool.pool import Pool
from pyredis.pool.cluster import ClusterPool

__all__ = ["BasePool", "Pool", "ClusterPool", "HashPool"]
