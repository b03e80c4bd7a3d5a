"""Sorted-set commands.  ``zremrangebyscrore`` is upstream's spelling, kept;
``zremrangebyscore`` is the same method."""
from pyredis.commands._methods import keyed

__all__ = ["SSet"]


class SSet:
    zadd = keyed("zadd", b"ZADD")
    zcard = keyed("zcard", b"ZCARD")
    zcount = keyed("zcount", b"ZCOUNT")
    zincrby = keyed("zincrby", b"ZINCRBY")
    zinterstore = keyed("zinterstore", b"ZINTERSTORE")
    zlexcount = keyed("zlexcount", b"ZLEXCOUNT")
    zrange = keyed("zrange", b"ZRANGE")
    zrangebylex = keyed("zrangebylex", b"ZRANGEBYLEX")
    zrangebyscore = keyed("zrangebyscore", b"ZRANGEBYSCORE")
    zrank = keyed("zrank", b"ZRANK")
    zrem = keyed("zrem", b"ZREM")
    zremrangebylex = keyed("zremrangebylex", b"ZREMRANGEBYLEX")
    zremrangebyrank = keyed("zremrangebyrank", b"ZREMRANGEBYRANK")
    zremrangebyscore = keyed("zremrangebyscore", b"ZREMRANGEBYSCORE")
    zremrangebyscrore = zremrangebyscore
    zrevrange = keyed("zrevrange", b"ZREVRANGE")
    zrevrangebylex = keyed("zrevrangebylex", b"ZREVRANGEBYLEX")
    zrevrangebyscore = keyed("zrevrangebyscore", b"ZREVRANGEBYSCORE")
    zrevrank = keyed("zrevrank", b"ZREVRANK")
    zscore = keyed("zscore", b"ZSCORE")
    zunionstore = keyed("zunionstore", b"ZUNIONSTORE")
    zscan = keyed("zscan", b"ZSCAN")
