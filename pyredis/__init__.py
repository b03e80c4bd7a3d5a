"""pyredis: a Redis client with compiled hot paths and pure-Python twins.

``pyredis.IMPLEMENTATION`` says which twins are active: ``"compiled"`` or
``"pure"`` (``PYREDIS_NO_EXTENSIONS=1`` at import forces the pure ones);
``pyredis.COMPILED`` is the same as a bool.  ``pyredis.__version__`` is new
(upstream had none); ``python -m pyredis`` reports the version and each
compiled module's state.
"""
from pyredis import protocol  # noqa: F401  (chooses the protocol twins)
from pyredis.client import (
    Client,
    ClusterClient,
    HashClient,
    PubSubClient,
    SentinelClient,
)
from pyredis.exceptions import (
    ArgumentError,  # noqa: F401  (importable, not in __all__)
    ProtocolError,
    PyRedisConnClosed,
    PyRedisConnError,
    PyRedisConnReadTimeout,
    PyRedisError,
    PyRedisBulkError,  # noqa: F401  (importable, not in __all__)
    PyRedisURLError,  # noqa: F401  (importable, not in __all__, as upstream)
    ReplyError,
)
from pyredis.pool import (  # chooses the pool-core twin
    ClusterPool,
    HashPool,
    Pool,
    SentinelHashPool,
    SentinelPool,
)
from pyredis.url import get_by_url
from pyredis._lazy import lazy_getattr
from pyredis._twins import all_compiled
from pyredis._version import __version__  # noqa: F401  (new: upstream had none)

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

# The asyncio classes and modules are imported on first use (see pyredis._lazy).
__getattr__ = lazy_getattr(globals(), {
    "AsyncClient": "pyredis.client.async_client",
    "AsyncClusterClient": "pyredis.client.async_cluster",
    "AsyncHashClient": "pyredis.client.async_hash",
    "AsyncPubSubClient": "pyredis.client.async_pubsub",
    "AsyncSentinelClient": "pyredis.client.async_sentinel",
    "AsyncPool": "pyredis.pool.async_pool",
    "AsyncClusterPool": "pyredis.pool.async_cluster",
    "AsyncHashPool": "pyredis.pool.async_hash",
    "AsyncSentinelPool": "pyredis.pool.async_sentinel",
    "AsyncSentinelHashPool": "pyredis.pool.async_sentinel_hash",
}, submodules=("async_helper",))
