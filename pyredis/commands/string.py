"""String and bitmap commands.  ``bitop`` routes by its destination key
(``args[1]``; ``args[0]`` is the operation)."""
from pyredis.commands._methods import keyed
from pyredis.commands.base import BaseCommand

__all__ = ["String"]


class String(BaseCommand):
    append = keyed("append", b"APPEND", "key value")
    bitcount = keyed("bitcount", b"BITCOUNT", "key [start end]")
    bitfield = keyed("bitfield", b"BITFIELD", "key [GET|SET|INCRBY type offset [value] ...]")
    bitop = keyed("bitop", b"BITOP", "operation destkey key [key ...]", key_position=1)
    bitpos = keyed("bitpos", b"BITPOS", "key bit [start [end]]")
    decr = keyed("decr", b"DECR", "key")
    decrby = keyed("decrby", b"DECRBY", "key decrement")
    get = keyed("get", b"GET", "key")
    getbit = keyed("getbit", b"GETBIT", "key offset")
    getrange = keyed("getrange", b"GETRANGE", "key start end")
    getset = keyed("getset", b"GETSET", "key value")
    incr = keyed("incr", b"INCR", "key")
    incrby = keyed("incrby", b"INCRBY", "key increment")
    incrbyfloat = keyed("incrbyfloat", b"INCRBYFLOAT", "key increment")
    mget = keyed("mget", b"MGET", "key [key ...]")
    mset = keyed("mset", b"MSET", "key value [key value ...]")
    msetnx = keyed("msetnx", b"MSETNX", "key value [key value ...]")
    psetex = keyed("psetex", b"PSETEX", "key milliseconds value")
    set = keyed("set", b"SET", "key value [EX seconds|PX milliseconds] [NX|XX]")
    setbit = keyed("setbit", b"SETBIT", "key offset value")
    setex = keyed("setex", b"SETEX", "key seconds value")
    setnx = keyed("setnx", b"SETNX", "key value")
    setrange = keyed("setrange", b"SETRANGE", "key offset value")
    strlen = keyed("strlen", b"STRLEN", "key")
