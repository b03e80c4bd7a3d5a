"""Generic key commands.

Fixed from upstream: ``object`` sends OBJECT in cluster mode too (upstream sent
DEL, deleting the key) and routes by its key (``args[1]``, after the
subcommand); ``expireat`` works in cluster mode; ``wait`` has no key, so it
takes ``shard_key``/``sock`` like the other keyless commands.
"""
from pyredis.commands._methods import explicit, keyed, standalone_only

__all__ = ["Key"]


class Key:
    delete = keyed("delete", b"DEL")
    dump = keyed("dump", b"DUMP")
    exists = keyed("exists", b"EXISTS")
    expire = keyed("expire", b"EXPIRE")
    expireat = keyed("expireat", b"EXPIREAT")
    migrate = standalone_only("migrate", b"MIGRATE")
    move = keyed("move", b"MOVE")
    object = keyed("object", b"OBJECT", key_position=1,
                   doc="Redis OBJECT <subcommand> <key>; in cluster mode routed by the key.")
    persist = keyed("persist", b"PERSIST")
    pexpire = keyed("pexpire", b"PEXPIRE")
    pexpireat = keyed("pexpireat", b"PEXPIREAT")
    pttl = keyed("pttl", b"PTTL")
    rename = keyed("rename", b"RENAME")
    renamenx = keyed("renamenx", b"RENAMENX")
    restore = keyed("restore", b"RESTORE")
    sort = keyed("sort", b"SORT")
    ttl = keyed("ttl", b"TTL")
    type = keyed("type", b"TYPE")
    keys = explicit("keys", b"KEYS")
    scan = explicit("scan", b"SCAN")
    randomkey = explicit("randomkey", b"RANDOMKEY")
    wait = explicit("wait", b"WAIT")
