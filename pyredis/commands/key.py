"""Generic key commands.

Fixed from upstream: ``object`` sends OBJECT in cluster mode too (upstream sent
DEL, deleting the key) and, without ``shard_key``/``sock``, routes by its key
(``args[1]``, after the subcommand); ``expireat`` works in cluster mode;
``wait`` routes by ``args[0]`` as upstream (it has no key) unless given
``shard_key``/``sock``.
"""
from pyredis.commands._methods import explicit, keyed, keyed_or_explicit, standalone_only
from pyredis.commands.base import BaseCommand

__all__ = ["Key"]


class Key(BaseCommand):
    delete = keyed("delete", b"DEL", "key [key ...]")
    dump = keyed("dump", b"DUMP", "key")
    exists = keyed("exists", b"EXISTS", "key [key ...]")
    expire = keyed("expire", b"EXPIRE", "key seconds")
    expireat = keyed("expireat", b"EXPIREAT", "key timestamp")
    migrate = standalone_only("migrate", b"MIGRATE", "host port key db timeout [COPY] [REPLACE]")
    move = keyed("move", b"MOVE", "key db")
    object = keyed_or_explicit("object", b"OBJECT", "subcommand key", 1)
    persist = keyed("persist", b"PERSIST", "key")
    pexpire = keyed("pexpire", b"PEXPIRE", "key milliseconds")
    pexpireat = keyed("pexpireat", b"PEXPIREAT", "key timestamp_ms")
    pttl = keyed("pttl", b"PTTL", "key")
    rename = keyed("rename", b"RENAME", "key newkey")
    renamenx = keyed("renamenx", b"RENAMENX", "key newkey")
    restore = keyed("restore", b"RESTORE", "key ttl serialized [REPLACE]")
    sort = keyed("sort", b"SORT", "key [option ...]")
    ttl = keyed("ttl", b"TTL", "key")
    type = keyed("type", b"TYPE", "key")
    keys = explicit("keys", b"KEYS", "pattern")
    scan = explicit("scan", b"SCAN", "cursor [MATCH pattern] [COUNT count]")
    randomkey = explicit("randomkey", b"RANDOMKEY")
    wait = keyed_or_explicit("wait", b"WAIT", "numreplicas timeout", 0)
