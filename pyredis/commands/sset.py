"""Sorted-set commands.  ``zremrangebyscrore`` is upstream's spelling, kept;
``zremrangebyscore`` is the same method."""
from pyredis.commands._methods import keyed
from pyredis.commands.base import BaseCommand

__all__ = ["SSet"]


class SSet(BaseCommand):
    zadd = keyed("zadd", b"ZADD", "key [NX|XX] [CH] [INCR] score member [score member ...]")
    zcard = keyed("zcard", b"ZCARD", "key")
    zcount = keyed("zcount", b"ZCOUNT", "key min max")
    zincrby = keyed("zincrby", b"ZINCRBY", "key increment member")
    zinterstore = keyed("zinterstore", b"ZINTERSTORE",
                        "destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE op]")
    zlexcount = keyed("zlexcount", b"ZLEXCOUNT", "key min max")
    zrange = keyed("zrange", b"ZRANGE", "key start stop [WITHSCORES]")
    zrangebylex = keyed("zrangebylex", b"ZRANGEBYLEX", "key min max [LIMIT offset count]")
    zrangebyscore = keyed("zrangebyscore", b"ZRANGEBYSCORE",
                          "key min max [WITHSCORES] [LIMIT offset count]")
    zrank = keyed("zrank", b"ZRANK", "key member")
    zrem = keyed("zrem", b"ZREM", "key member [member ...]")
    zremrangebylex = keyed("zremrangebylex", b"ZREMRANGEBYLEX", "key min max")
    zremrangebyrank = keyed("zremrangebyrank", b"ZREMRANGEBYRANK", "key start stop")
    zremrangebyscore = keyed("zremrangebyscore", b"ZREMRANGEBYSCORE", "key min max")
    zremrangebyscrore = zremrangebyscore
    zrevrange = keyed("zrevrange", b"ZREVRANGE", "key start stop [WITHSCORES]")
    zrevrangebylex = keyed("zrevrangebylex", b"ZREVRANGEBYLEX", "key max min [LIMIT offset count]")
    zrevrangebyscore = keyed("zrevrangebyscore", b"ZREVRANGEBYSCORE",
                             "key max min [WITHSCORES] [LIMIT offset count]")
    zrevrank = keyed("zrevrank", b"ZREVRANK", "key member")
    zscore = keyed("zscore", b"ZSCORE", "key member")
    zunionstore = keyed("zunionstore", b"ZUNIONSTORE",
                        "destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE op]")
    zscan = keyed("zscan", b"ZSCAN", "key cursor [MATCH pattern] [COUNT count]")
