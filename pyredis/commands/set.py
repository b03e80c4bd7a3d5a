"""Set commands.  ``sunoinstore`` is upstream's spelling, kept; ``sunionstore`` is the same method."""
from pyredis.commands._methods import keyed

__all__ = ["Set"]


class Set:
    sadd = keyed("sadd", b"SADD")
    scard = keyed("scard", b"SCARD")
    sdiff = keyed("sdiff", b"SDIFF")
    sdiffstore = keyed("sdiffstore", b"SDIFFSTORE")
    sinter = keyed("sinter", b"SINTER")
    sinterstore = keyed("sinterstore", b"SINTERSTORE")
    sismember = keyed("sismember", b"SISMEMBER")
    smembers = keyed("smembers", b"SMEMBERS")
    smove = keyed("smove", b"SMOVE")
    spop = keyed("spop", b"SPOP")
    srandmember = keyed("srandmember", b"SRANDMEMBER")
    srem = keyed("srem", b"SREM")
    sunion = keyed("sunion", b"SUNION")
    sunionstore = keyed("sunionstore", b"SUNIONSTORE")
    sunoinstore = sunionstore
    sscan = keyed("sscan", b"SSCAN")
