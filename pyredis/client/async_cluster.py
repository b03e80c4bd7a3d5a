"""AsyncClusterClient: the asyncio twin of ClusterClient (one connection per node)."""
import asyncio

import pyredis.client
from pyredis import commands
from pyredis.client.cluster_routing import (
    CLOSE,
    CONNECT,
    PLAN_ERRORS,
    SEND,
    UPDATE,
    ClusterRouting,
    asking_commands,
    asking_reply,
)

__all__ = ["AsyncClusterClient"]


class AsyncClusterClient(
    ClusterRouting,
    *commands.CLUSTER_CLIENT_MIXINS,
):
    """A Redis Cluster client for asyncio: one lazily opened
    :class:`~pyredis.connection.AsyncConnection` per node; command methods
    return coroutines (``await client.get("k")``).

    Same arguments as :class:`~pyredis.ClusterClient` (``refresh_timeout``
    included), with an :class:`~pyredis.async_helper.AsyncClusterMap` as
    ``cluster_map`` (or any object with its methods, ``update`` a coroutine
    function; a sync ClusterMap raises TypeError); same routing and the same
    fixes (it runs the same plan, see ``pyredis.client.cluster_routing``):
    ``MOVED`` followed to the node named and the map refreshed, ``ASK``
    answered with a separate ``ASKING``, ``TRYAGAIN`` retried,
    ``CLUSTERDOWN`` retried for up to 0.75 s, a failed node connection
    dropped and the map refreshed (at most every 0.25 s after failures, and
    without waiting for a refresh under way), connect failures retried,
    ``slave_ok`` for read-only commands only, ``shard_key`` 0 and ``""``
    usable, credentials used for the map.

    Differences from pyredis 1.0's AsyncClusterClient, besides those:
    ``await close()`` and ``async with client:`` (upstream had no close);
    concurrent tasks may share one client: each node connection pipelines
    their commands and matches the replies in order, so every task gets its
    own reply (upstream interleaved them), and a cancelled task's reply is
    read and dropped.  ``AsyncClusterMap`` and ``AsyncConnection`` are
    looked up in ``pyredis.client`` when used, as upstream did.
    Transactions (MULTI ... EXEC) need the client to themselves.  Use a
    client from one event loop.
    """

    # Looked up when used, in pyredis.client, as upstream did (mock.patch works).
    _map_class = property(lambda self: pyredis.client.AsyncClusterMap)

    async def execute(self, *args, shard_key=None, sock=None, asking=False, retries=3):
        """Run one command on the node serving ``shard_key``, or on node ``sock``.

        ``asking``: send ASKING first.  ``retries``: most attempts,
        redirections included.
        """
        conn = self._direct(args, shard_key, sock, asking)
        if conn is None:
            plan = self._plan(args, shard_key, sock, asking, retries)
        else:  # the common case, without a plan
            try:
                reply = await conn.execute(*args)
            except PLAN_ERRORS as exc:
                plan = self._plan(args, shard_key, sock, asking, retries,
                                  ((conn.host, conn.port), conn, exc))
            else:
                self._note_sent(conn, args[0])
                return reply
        return await self._run(plan, args)

    async def _run(self, plan, args):
        """Carry out the steps of a plan (see cluster_routing); its result."""
        try:
            step = next(plan)
            while True:
                op = step[0]
                try:
                    if op is SEND:
                        conn = step[1]
                        if step[2]:
                            value = asking_reply(
                                await conn.execute_many(asking_commands(args), 2))
                        else:
                            value = await conn.execute(*args)
                    elif op is CONNECT:
                        value = self._connection_for(step[1], pyredis.client.AsyncConnection)
                        # Connect now, so that a failure here is known to have sent nothing.
                        await value._ensure_connected()
                    elif op is UPDATE:
                        cluster_map = self._map
                        update = cluster_map.update if step[2] else cluster_map._update_unless_busy
                        value = await update(step[1])
                    elif op is CLOSE:
                        value = None
                        for conn in step[1]:
                            await conn.close()
                    else:  # SLEEP
                        value = await asyncio.sleep(step[1])
                except Exception as exc:  # the plan decides what it means
                    step = plan.throw(exc)
                else:
                    step = plan.send(value)
        except StopIteration as done:
            return done.value

    @staticmethod
    def _connected(conn):
        return conn._connected()

    async def close(self):
        """Close every node connection; the client cannot be used again.  Idempotent."""
        conns = self._close_all()
        if conns:
            await asyncio.gather(*(conn.close() for conn in conns), return_exceptions=True)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        await self.close()
