"""pyredis: a Redis client with compiled hot paths and pure-Python twins.

``pyredis.IMPLEMENTATION`` says which twins are active: ``"compiled"`` or
``"pure"`` (``PYREDIS_NO_EXTENSIONS=1`` at import forces the pure ones);
``pyredis.COMPILED`` is the same as a bool.
"""
from pyredis import protocol  # noqa: F401  (chooses the protocol twins)
from pyredis.client import (
    AsyncClient,
    AsyncClusterClient,
    AsyncHashClient,
    AsyncPubSubClient,
    AsyncSentinelClient,
    Client,
    ClusterClient,
    HashClient,
    PubSubClient,
    SentinelClient,
)
from pyredis.exceptions import (
    ProtocolError,
    PyRedisConnClosed,
    PyRedisConnError,
    PyRedisConnReadTimeout,
    PyRedisError,
    PyRedisURLError,  # noqa: F401  (importable, not in __all__, as upstream)
    ReplyError,
)
from pyredis.pool import (  # chooses the pool-core twin
    AsyncClusterPool,
    AsyncHashPool,
    AsyncPool,
    AsyncSentinelHashPool,
    AsyncSentinelPool,
    ClusterPool,
    HashPool,
    Pool,
    SentinelHashPool,
    SentinelPool,
)
from pyredis.url import get_by_url
from pyredis._twins import all_compiled

# Evaluated after every twin has been chosen (protocol and pool core above).
COMPILED = all_compiled()
IMPLEMENTATION = "compiled" if COMPILED else "pure"

__all__ = [
    "get_by_url",
    "Client",
    "HashClient",
    "PubSubClient",
    "SentinelClient",
    "Pool",
    "HashPool",
    "ClusterClient",
    "ClusterPool",
    "SentinelPool",
    "SentinelHashPool",
    "AsyncClient",
    "AsyncPubSubClient",
    "AsyncPool",
    "AsyncHashClient",
    "AsyncHashPool",
    "AsyncSentinelClient",
    "AsyncSentinelPool",
    "AsyncClusterClient",
    "AsyncClusterPool",
    "AsyncSentinelHashPool",
    "PyRedisError",
    "PyRedisConnError",
    "PyRedisConnReadTimeout",
    "PyRedisConnClosed",
    "ProtocolError",
    "ReplyError",
]
