"""HyperLogLog commands."""
from pyredis.commands._methods import keyed

__all__ = ["HyperLogLog"]


class HyperLogLog:
    pfadd = keyed("pfadd", b"PFADD")
    pfcount = keyed("pfcount", b"PFCOUNT")
    pfmerge = keyed("pfmerge", b"PFMERGE")
