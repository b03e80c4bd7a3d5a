"""Set commands.  ``sunoinstore`` is upstream's spelling, kept; ``sunionstore`` is the
same method."""
from pyredis.commands._methods import keyed
from pyredis.commands.base import BaseCommand

__all__ = ["Set"]


class Set(BaseCommand):
    sadd = keyed("sadd", b"SADD", "key member [member ...]")
    scard = keyed("scard", b"SCARD", "key")
    sdiff = keyed("sdiff", b"SDIFF", "key [key ...]")
    sdiffstore = keyed("sdiffstore", b"SDIFFSTORE", "destination key [key ...]")
    sinter = keyed("sinter", b"SINTER", "key [key ...]")
    sinterstore = keyed("sinterstore", b"SINTERSTORE", "destination key [key ...]")
    sismember = keyed("sismember", b"SISMEMBER", "key member")
    smembers = keyed("smembers", b"SMEMBERS", "key")
    smove = keyed("smove", b"SMOVE", "source destination member")
    spop = keyed("spop", b"SPOP", "key [count]")
    srandmember = keyed("srandmember", b"SRANDMEMBER", "key [count]")
    srem = keyed("srem", b"SREM", "key member [member ...]")
    sunion = keyed("sunion", b"SUNION", "key [key ...]")
    sunionstore = keyed("sunionstore", b"SUNIONSTORE", "destination key [key ...]")
    sunoinstore = sunionstore
    sscan = keyed("sscan", b"SSCAN", "key cursor [MATCH pattern] [COUNT count]")
