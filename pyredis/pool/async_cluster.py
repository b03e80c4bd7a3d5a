"""AsyncClusterPool: an AsyncBasePool of AsyncClusterClients sharing one AsyncClusterMap."""
import pyredis.pool
from pyredis import commands
from pyredis.pool.async_base import AsyncBasePool
from pyredis.pool.cluster import ClusterPoolSettings

__all__ = ["AsyncClusterPool"]


class AsyncClusterPool(
    ClusterPoolSettings,
    AsyncBasePool,
    *commands.CLUSTER_POOL_MIXINS,
):
    """Pool of :class:`~pyredis.AsyncClusterClient` s for one Redis Cluster and one
    event loop; command methods return coroutines (``await pool.get("k")``).

    Same arguments and properties as :class:`~pyredis.ClusterPool`: every
    pooled client shares one :class:`~pyredis.async_helper.AsyncClusterMap`
    (``cluster_map``), ``slave_ok`` sends read-only commands to replicas,
    other keyword arguments go to :class:`~pyredis.pool.AsyncBasePool`.
    Fixed from pyredis 1.0 as ClusterPool: ``username`` reaches the clients
    and the map; shrinking and releasing unknown clients work.
    """

    _cluster = True
    _takes_push_handler = False
    # Looked up when used, in pyredis.pool, as upstream did (mock.patch works).
    _map_class = property(lambda self: pyredis.pool.AsyncClusterMap)
    _client_class = property(lambda self: pyredis.pool.AsyncClusterClient)
