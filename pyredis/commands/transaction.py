"""Transaction commands (on a Client, or a client leased from a pool)."""
from pyredis.commands._methods import explicit, keyed

__all__ = ["Transaction"]


class Transaction:
    discard = explicit("discard", b"DISCARD")
    exec = explicit("exec", b"EXEC")
    multi = explicit("multi", b"MULTI")
    unwatch = explicit("unwatch", b"UNWATCH")
    watch = keyed("watch", b"WATCH")
