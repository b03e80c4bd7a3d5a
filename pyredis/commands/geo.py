"""Geospatial commands."""
from pyredis.commands._methods import keyed
from pyredis.commands.base import BaseCommand

__all__ = ["Geo"]


class Geo(BaseCommand):
    geoadd = keyed("geoadd", b"GEOADD",
                   "key longitude latitude member [longitude latitude member ...]")
    geodist = keyed("geodist", b"GEODIST", "key member1 member2 [M|KM|FT|MI]")
    geohash = keyed("geohash", b"GEOHASH", "key member [member ...]")
    geopos = keyed("geopos", b"GEOPOS", "key member [member ...]")
    georadius = keyed("georadius", b"GEORADIUS",
                      "key longitude latitude radius M|KM|FT|MI [option ...]")
    georadiusbymember = keyed("georadiusbymember", b"GEORADIUSBYMEMBER",
                              "key member radius M|KM|FT|MI [option ...]")
