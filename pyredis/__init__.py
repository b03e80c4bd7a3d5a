"""pyredis: a Redis client with compiled hot paths and pure-Python twins.

(Skeleton: the connection/client/pool helper fills in the public names.)
"""
from pyredis import protocol  # noqa: F401  (imports the twins)
from pyredis._twins import all_compiled
from pyredis.exceptions import *  # noqa: F401,F403

COMPILED = all_compiled()
