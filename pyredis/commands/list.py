"""List commands.  Fixed from upstream: ``brpoplpush`` sends BRPOPLPUSH
(upstream sent the unknown BRPOPPUSH)."""
from pyredis.commands._methods import keyed

__all__ = ["List"]


class List:
    blpop = keyed("blpop", b"BLPOP")
    brpop = keyed("brpop", b"BRPOP")
    brpoplpush = keyed("brpoplpush", b"BRPOPLPUSH")
    lindex = keyed("lindex", b"LINDEX")
    linsert = keyed("linsert", b"LINSERT")
    llen = keyed("llen", b"LLEN")
    lpop = keyed("lpop", b"LPOP")
    lpush = keyed("lpush", b"LPUSH")
    lpushx = keyed("lpushx", b"LPUSHX")
    lrange = keyed("lrange", b"LRANGE")
    lrem = keyed("lrem", b"LREM")
    lset = keyed("lset", b"LSET")
    ltrim = keyed("ltrim", b"LTRIM")
    rpop = keyed("rpop", b"RPOP")
    rpoplpush = keyed("rpoplpush", b"RPOPLPUSH")
    rpush = keyed("rpush", b"RPUSH")
    rpushx = keyed("rpushx", b"RPUSHX")
