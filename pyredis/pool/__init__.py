"""Pools of clients (thread-safe; each command runs on a leased client)."""
from random import shuffle  # noqa: F401  (upstream exposes it here)

from pyredis.client import Client, PubSubClient  # noqa: F401
from pyredis.client import AsyncClient, AsyncPubSubClient  # noqa: F401
from pyredis.pool.base import BasePool
from pyredis.pool.pool import Pool
from pyredis.pool.async_base import AsyncBasePool
from pyredis.pool.async_pool import AsyncPool

__all__ = ["BasePool", "Pool", "AsyncBasePool", "AsyncPool"]
