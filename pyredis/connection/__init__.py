"""Connections to a Redis server."""
import socket  # noqa: F401  (upstream exposes the stdlib module here)

from pyredis.connection.connection import Connection
from pyredis._lazy import lazy_getattr
from pyredis.protocol import Reader, writer

__all__ = ["Connection", "AsyncConnection", "socket", "writer", "Reader"]

# The asyncio classes and modules are imported on first use (see pyredis._lazy).
__getattr__ = lazy_getattr(globals(), {
    "AsyncConnection": "pyredis.connection.async_connection",
}, submodules=("async_connection",))
