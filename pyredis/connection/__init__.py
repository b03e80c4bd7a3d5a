"""Connections to a Redis server."""
import socket  # noqa: F401  (upstream exposes the stdlib module here)

from pyredis.connection.connection import Connection
from pyredis.connection.async_connection import AsyncConnection
from pyredis.protocol import Reader, writer

__all__ = ["Connection", "AsyncConnection", "socket", "writer", "Reader"]
