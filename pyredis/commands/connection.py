"""Connection commands (ECHO, PING)."""
from pyredis.commands._methods import explicit

__all__ = ["Connection"]


class Connection:
    echo = explicit("echo", b"ECHO")
    ping = explicit("ping", b"PING")
