"""ClusterPool: a BasePool of ClusterClients sharing one ClusterMap."""
from pyredis import commands
from pyredis._describe import endpoints
from pyredis.client.cluster import ClusterClient
from pyredis.helper import REFRESH_TIMEOUT, ClusterMap
from pyredis.pool.base import BasePool

__all__ = ["ClusterPool"]


class ClusterPoolSettings:
    """What ClusterPool and AsyncClusterPool share: the constructor, the map
    every client of the pool uses, and ``_connect()``.  Subclasses set
    ``_map_class`` and ``_client_class`` and derive from a base pool."""

    _map_class = None
    _client_class = None

    def __init__(self, seeds, slave_ok=False, password=None, username=None, *,
                 refresh_timeout=REFRESH_TIMEOUT, **basepool_kwargs):
        super().__init__(password=password, username=username, **basepool_kwargs)
        self._slave_ok = bool(slave_ok)
        self._map = self._map_class(
            seeds=seeds, password=password, username=username,
            conn_timeout=self.conn_timeout, read_timeout=self.read_timeout,
            refresh_timeout=refresh_timeout)

    @property
    def slave_ok(self):
        return self._slave_ok

    @property
    def cluster_map(self):
        return self._map

    def _describe_target(self):
        return ("seeds=%s" % (endpoints(self._map.seeds),),)

    def _connect(self):
        return self._client_class(
            database=self.database,
            password=self.password,
            encoding=self.encoding,
            slave_ok=self._slave_ok,
            conn_timeout=self.conn_timeout,
            read_timeout=self.read_timeout,
            cluster_map=self._map,
            username=self.username,
        )


class ClusterPool(
    ClusterPoolSettings,
    BasePool,
    *commands.CLUSTER_POOL_MIXINS,
):
    """Thread-safe pool of :class:`~pyredis.ClusterClient` s for one Redis Cluster.

    ``seeds``: ``(host, port)`` pairs to ask for the slot map (nothing is
    fetched before the first command).  Every pooled client shares one
    :class:`~pyredis.helper.ClusterMap` (``cluster_map``), so a refresh
    made by one is seen by all.  ``slave_ok``: read-only commands go to
    replicas (see ClusterClient).  ``refresh_timeout`` (keyword-only, new,
    default 1 s): how long a map refresh waits for one node (see
    ClusterMap).  Other keyword arguments go to
    :class:`~pyredis.pool.base.BasePool`.

    Fixed from pyredis 1.0: ``username`` reaches the node connections and the
    map (upstream dropped it); shrinking the pool and releasing an unknown
    client work (ClusterClient now has ``close()``).  Faults are handled as
    ClusterClient and ClusterMap describe (CLUSTERDOWN retried briefly, a
    hung seed asked once, refreshes paced after failures).
    """

    _cluster = True
    _map_class = ClusterMap
    _client_class = ClusterClient
