"""Connection commands (ECHO, PING)."""
from pyredis.commands._methods import explicit
from pyredis.commands.base import BaseCommand

__all__ = ["Connection"]


class Connection(BaseCommand):
    echo = explicit("echo", b"ECHO", "message")
    ping = explicit("ping", b"PING", arguments=False)
