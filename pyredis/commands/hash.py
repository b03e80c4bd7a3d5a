"""Hash commands."""
from pyredis.commands._methods import keyed

__all__ = ["Hash"]


class Hash:
    hdel = keyed("hdel", b"HDEL")
    hexists = keyed("hexists", b"HEXISTS")
    hget = keyed("hget", b"HGET")
    hgetall = keyed("hgetall", b"HGETALL")
    hincrby = keyed("hincrby", b"HINCRBY")
    hincrbyfloat = keyed("hincrbyfloat", b"HINCRBYFLOAT")
    hkeys = keyed("hkeys", b"HKEYS")
    hlen = keyed("hlen", b"HLEN")
    hmget = keyed("hmget", b"HMGET")
    hmset = keyed("hmset", b"HMSET")
    hset = keyed("hset", b"HSET")
    hsetnx = keyed("hsetnx", b"HSETNX")
    hstrlen = keyed("hstrlen", b"HSTRLEN")
    hvals = keyed("hvals", b"HVALS")
    hscan = keyed("hscan", b"HSCAN")
