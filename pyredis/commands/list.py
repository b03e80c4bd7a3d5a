"""List commands.  Fixed from upstream: ``brpoplpush`` sends BRPOPLPUSH
(upstream sent the unknown BRPOPPUSH)."""
from pyredis.commands._methods import keyed
from pyredis.commands.base import BaseCommand

__all__ = ["List"]


class List(BaseCommand):
    blpop = keyed("blpop", b"BLPOP", "key [key ...] timeout")
    brpop = keyed("brpop", b"BRPOP", "key [key ...] timeout")
    brpoplpush = keyed("brpoplpush", b"BRPOPLPUSH", "source destination timeout")
    lindex = keyed("lindex", b"LINDEX", "key index")
    linsert = keyed("linsert", b"LINSERT", "key BEFORE|AFTER pivot element")
    llen = keyed("llen", b"LLEN", "key")
    lpop = keyed("lpop", b"LPOP", "key")
    lpush = keyed("lpush", b"LPUSH", "key element [element ...]")
    lpushx = keyed("lpushx", b"LPUSHX", "key element [element ...]")
    lrange = keyed("lrange", b"LRANGE", "key start stop")
    lrem = keyed("lrem", b"LREM", "key count element")
    lset = keyed("lset", b"LSET", "key index element")
    ltrim = keyed("ltrim", b"LTRIM", "key start stop")
    rpop = keyed("rpop", b"RPOP", "key")
    rpoplpush = keyed("rpoplpush", b"RPOPLPUSH", "source destination")
    rpush = keyed("rpush", b"RPUSH", "key element [element ...]")
    rpushx = keyed("rpushx", b"RPUSHX", "key element [element ...]")
