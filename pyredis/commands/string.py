"""String and bitmap commands.  ``bitop`` routes by its destination key
(``args[1]``; ``args[0]`` is the operation)."""
from pyredis.commands._methods import keyed

__all__ = ["String"]


class String:
    append = keyed("append", b"APPEND")
    bitcount = keyed("bitcount", b"BITCOUNT")
    bitfield = keyed("bitfield", b"BITFIELD")
    bitop = keyed("bitop", b"BITOP", key_position=1)
    bitpos = keyed("bitpos", b"BITPOS")
    decr = keyed("decr", b"DECR")
    decrby = keyed("decrby", b"DECRBY")
    get = keyed("get", b"GET")
    getbit = keyed("getbit", b"GETBIT")
    getrange = keyed("getrange", b"GETRANGE")
    getset = keyed("getset", b"GETSET")
    incr = keyed("incr", b"INCR")
    incrby = keyed("incrby", b"INCRBY")
    incrbyfloat = keyed("incrbyfloat", b"INCRBYFLOAT")
    mget = keyed("mget", b"MGET")
    mset = keyed("mset", b"MSET")
    msetnx = keyed("msetnx", b"MSETNX")
    psetex = keyed("psetex", b"PSETEX")
    set = keyed("set", b"SET")
    setbit = keyed("setbit", b"SETBIT")
    setex = keyed("setex", b"SETEX")
    setnx = keyed("setnx", b"SETNX")
    setrange = keyed("setrange", b"SETRANGE")
    strlen = keyed("strlen", b"STRLEN")
