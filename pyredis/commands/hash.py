"""Hash commands."""
from pyredis.commands._methods import keyed
from pyredis.commands.base import BaseCommand

__all__ = ["Hash"]


class Hash(BaseCommand):
    hdel = keyed("hdel", b"HDEL", "key field [field ...]")
    hexists = keyed("hexists", b"HEXISTS", "key field")
    hget = keyed("hget", b"HGET", "key field")
    hgetall = keyed("hgetall", b"HGETALL", "key")
    hincrby = keyed("hincrby", b"HINCRBY", "key field increment")
    hincrbyfloat = keyed("hincrbyfloat", b"HINCRBYFLOAT", "key field increment")
    hkeys = keyed("hkeys", b"HKEYS", "key")
    hlen = keyed("hlen", b"HLEN", "key")
    hmget = keyed("hmget", b"HMGET", "key field [field ...]")
    hmset = keyed("hmset", b"HMSET", "key field value [field value ...]")
    hset = keyed("hset", b"HSET", "key field value [field value ...]")
    hsetnx = keyed("hsetnx", b"HSETNX", "key field value")
    hstrlen = keyed("hstrlen", b"HSTRLEN", "key field")
    hvals = keyed("hvals", b"HVALS", "key")
    hscan = keyed("hscan", b"HSCAN", "key cursor [MATCH pattern] [COUNT count]")
