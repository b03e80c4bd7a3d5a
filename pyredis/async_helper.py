"""AsyncClusterMap: the asyncio twin of :class:`pyredis.helper.ClusterMap`."""
import asyncio

from pyredis.connection import AsyncConnection
from pyredis.exceptions import PyRedisError
from pyredis.helper import REFRESH_TIMEOUT, ClusterMapBase, _build_table

__all__ = ["AsyncClusterMap"]


class AsyncClusterMap(ClusterMapBase):
    """Which node serves each of the 16384 slots, for asyncio cluster clients.

    Same constructor (``refresh_timeout`` included), lookups and fixes as
    :class:`~pyredis.helper.ClusterMap` (see there), the same order of nodes
    asked and the same pace of refreshes after failures; ``update()`` is a
    coroutine, ``get_slot``, ``hosts``, ``slot_nodes``, ``nodes`` and
    ``moved`` are synchronous (they only swap or read the table, which is
    atomic within the event loop).  ``id`` is a ``uuid.UUID``.

    ``lock``: held (``async with lock``) across a refresh, so that
    concurrent tasks needing one wait for a single ``CLUSTER SLOTS`` fetch
    (cluster clients that can go on with the current table do not wait);
    by default an ``asyncio.Lock`` made on first use.  A lock that cannot be
    used with ``async with`` (a ``threading.Lock`` would block the event
    loop) is refused with TypeError.  Use a map from one event loop.
    """

    def __init__(self, seeds, password=None, lock=None, username=None, *,
                 conn_timeout=2, read_timeout=2, refresh_timeout=REFRESH_TIMEOUT):
        if lock is not None and not hasattr(lock, "__aenter__"):
            raise TypeError("AsyncClusterMap needs a lock usable with 'async with' "
                            "(an asyncio.Lock), not %r" % (lock,))
        super().__init__(seeds, password, lock, username, conn_timeout=conn_timeout,
                         read_timeout=read_timeout, refresh_timeout=refresh_timeout)

    async def update(self, map_id=None):
        """Fetch ``CLUSTER SLOTS`` and swap in a new table; return its id.

        ``map_id``: the id the caller last saw; if the table changed since,
        nothing is fetched.  None forces a fetch."""
        lock = self._lock
        if lock is None:
            lock = self._lock = asyncio.Lock()
        async with lock:
            current = self._table
            if map_id is not None and map_id != current.id:
                return current.id
            with self._refreshing():
                reply, asked = await self._fetch(current)
            self._table = _build_table(reply, asked)
            return self._table.id

    async def _update_unless_busy(self, map_id):
        """``await update(map_id)``, unless a refresh is under way: then the
        current id at once (the caller goes on with the current table)."""
        if self._fetching:
            return self._table.id
        return await self.update(map_id)

    def moved(self, slot, node):
        """Point ``slot`` at ``node`` (from a MOVED reply); returns the new id."""
        return self._point(slot, node)

    async def _fetch(self, current):
        """``CLUSTER SLOTS`` from the first node that answers (see
        ``_fetch_steps``); returns (reply, address asked)."""
        steps = self._fetch_steps(current)
        kwargs = self._connection_kwargs()
        try:
            address = next(steps)
            while True:
                conn = AsyncConnection(host=address[0], port=address[1], **kwargs)
                error = None
                try:
                    reply = await conn.execute(b"CLUSTER", b"SLOTS")
                except PyRedisError as exc:
                    error = exc
                finally:
                    await conn.close()
                address = steps.send(reply) if error is None else steps.throw(error)
        except StopIteration as done:
            return done.value
