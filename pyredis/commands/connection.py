"""Connection commands (ECHO, PING)."""
from pyredis.commands._build import explicit

__all__ = ["Connection"]


class Connection:
    echo = explicit("echo", b"ECHO")
    ping = explicit("ping", b"PING")
