"""Connections to a Redis server."""
import socket  # noqa: F401  (upstream exposes the stdlib module here)

from pyredis.connection.connection import Connection
from pyredis.protocol import Reader, writer

__all__ = ["Connection", "socket", "writer", "Reader"]
