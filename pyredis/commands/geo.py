"""Geospatial commands."""
from pyredis.commands._methods import keyed

__all__ = ["Geo"]


class Geo:
    geoadd = keyed("geoadd", b"GEOADD")
    geodist = keyed("geodist", b"GEODIST")
    geohash = keyed("geohash", b"GEOHASH")
    geopos = keyed("geopos", b"GEOPOS")
    georadius = keyed("georadius", b"GEORADIUS")
    georadiusbymember = keyed("georadiusbymember", b"GEORADIUSBYMEMBER")
