"""Transaction commands (on a Client, or a client leased from a pool)."""
from pyredis.commands._methods import explicit, keyed
from pyredis.commands.base import BaseCommand

__all__ = ["Transaction"]


class Transaction(BaseCommand):
    discard = explicit("discard", b"DISCARD")
    exec = explicit("exec", b"EXEC")
    multi = explicit("multi", b"MULTI")
    unwatch = explicit("unwatch", b"UNWATCH")
    watch = keyed("watch", b"WATCH", "key [key ...]")
