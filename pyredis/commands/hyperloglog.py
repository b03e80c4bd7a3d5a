"""HyperLogLog commands."""
from pyredis.commands._methods import keyed
from pyredis.commands.base import BaseCommand

__all__ = ["HyperLogLog"]


class HyperLogLog(BaseCommand):
    pfadd = keyed("pfadd", b"PFADD", "key [element ...]")
    pfcount = keyed("pfcount", b"PFCOUNT", "key [key ...]")
    pfmerge = keyed("pfmerge", b"PFMERGE", "destkey sourcekey [sourcekey ...]")
