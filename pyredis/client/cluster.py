"""ClusterClient: one connection per Redis Cluster node, commands routed by hash slot."""
import time

from pyredis import commands
from pyredis.client.cluster_routing import (
    CLOSE,
    CONNECT,
    PLAN_ERRORS,
    READ_COMMANDS,  # noqa: F401  (imported from here before)
    SEND,
    UPDATE,
    ClusterRouting,
    asking_commands,
    asking_reply,
)
from pyredis.connection.connection import Connection
from pyredis.helper import ClusterMap

__all__ = ["ClusterClient"]


class ClusterClient(
    ClusterRouting,
    *commands.CLUSTER_CLIENT_MIXINS,
):
    """A client of a Redis Cluster: one lazily opened connection per node.

    Give ``seeds`` (``(host, port)`` pairs) or a shared ``cluster_map``
    (a :class:`~pyredis.helper.ClusterMap`, or any object with its methods
    ``id``, ``update(map_id)``, ``get_slot(shard_key, slave)`` and
    ``hosts(slave)``, as upstream; one that cannot work here, such as an
    asyncio map, raises TypeError), not both.  ``refresh_timeout``
    (keyword-only, new) goes to the map built from ``seeds`` (default 1 s,
    see ClusterMap); with ``cluster_map`` it is the map's own setting, and
    giving it here raises ValueError.  The other arguments are
    those of every node :class:`~pyredis.connection.Connection`.  Commands go
    to the node serving their key's slot (``shard_key=``) or to a node named
    with ``sock=`` (``"host_port"`` or ``(host, port)``).  Not thread-safe:
    use one per thread, or a :class:`~pyredis.ClusterPool`.

    Behaviour, and where it differs from pyredis 1.0:

    * ``MOVED``: the command is retried on the node the reply names, the map
      is refreshed (one ``CLUSTER SLOTS`` shared by every client of the map)
      and that slot is pointed at the new node even if the refresh lags
      behind.  Upstream ignored the address and only refreshed.
    * ``ASK``: ``ASKING`` and the command are sent as two commands (one round
      trip) to the node named, without touching the map.  Upstream glued
      them into one command, which Redis rejects.
    * ``TRYAGAIN`` (multi-key command during a migration) is retried after a
      short pause.  Redirections and retries together make at most
      ``retries`` attempts (default 3); then ``PyRedisError("Slot moved too
      often or wrong shard_key, giving up")`` (for TRYAGAIN: the reply error).
    * ``MOVED`` for a command sent with ``sock=`` is raised as a ReplyError
      (the caller chose the node), as upstream.
    * Connection failures (``PyRedisConnError``, ``PyRedisConnReadTimeout``
      and, new, ``PyRedisConnClosed``) drop that node's connection, refresh
      the map, and are raised: the command may have run, so it is not
      repeated.  The next command opens a new connection.  Only a failure to
      *connect* (nothing was sent) is retried, once the map is refreshed.
    * ``CLUSTERDOWN`` (nothing ran: a failover under way, say) is retried
      after pauses of 0.05, 0.1, 0.2 and 0.4 s (``CLUSTERDOWN_DELAYS``, not
      counted in ``retries``), then raised; inside MULTI it is raised at
      once (the refusal spoilt the transaction).  Upstream raised it at once.
    * Map refreshes never hold a command up longer than needed: while one is
      under way, a client that can go on with the current table does
      (after ``MOVED`` it uses the node named; after a failure it raises at
      once); after failures (connection lost, CLUSTERDOWN) the map is
      fetched at most every 0.25 s, not once per failed command.  A command
      for a node whose connection failed lately (and that has not answered
      since) waits for a refresh under way, since a failover may be in it.
      Upstream refreshed after every failure and every client waited for
      each refresh.
    * ``slave_ok=True`` sends read-only commands (``READ_COMMANDS``) to the
      replica the map chose for the slot, and everything else to the primary
      (upstream sent writes to replicas too, where they fail); between MULTI
      and EXEC/DISCARD everything goes to primaries.  Replica reads may lag
      behind writes (replication is asynchronous).  A range without replicas
      is read from its primary.
    * A ``shard_key`` is given when it is not None (upstream tested truth, so
      keys ``0`` and ``""`` could not be used); a slot no node serves, even
      after a refresh, raises ``PyRedisError``.
    * A client built from ``seeds`` passes ``password`` / ``username`` (and
      the timeouts) to its map, so an authenticated cluster works without a
      pool (upstream fetched ``CLUSTER SLOTS`` without AUTH).
    * The node connections' settings are checked at construction
      (ValueError / TypeError, see pyredis/connection/settings.py), not when
      a node is first used.
    * New: ``close()`` (closes every node connection; later commands raise
      ``PyRedisConnError("Connection Gone")``), ``with client:``, and the
      ``closed`` attribute is True after ``close()`` (upstream: always False).
      A node connection that dies does not close the client.
    * Inside MULTI (on that node connection) a ``MOVED`` / ``ASK`` /
      ``TRYAGAIN`` is raised, not followed: the command was refused, not
      queued, and run elsewhere it would run outside the transaction.  The
      connection is closed, which ends the transaction on the server, so no
      later command joins it; EXEC then fails and the caller retries the
      whole transaction.  (Upstream followed the redirection: the command
      ran at once on the new node and the old node's connection stayed in
      MULTI, answering QUEUED to later commands.)

    Routing, redirections and retries are decided in
    ``pyredis.client.cluster_routing``, shared with AsyncClusterClient.
    """

    _map_class = ClusterMap

    def execute(self, *args, shard_key=None, sock=None, asking=False, retries=3):
        """Run one command on the node serving ``shard_key``, or on node ``sock``.

        ``asking``: send ASKING first (the command targets a slot being
        imported by that node).  ``retries``: most attempts, redirections
        included.
        """
        conn = self._direct(args, shard_key, sock, asking)
        if conn is None:
            plan = self._plan(args, shard_key, sock, asking, retries)
        else:  # the common case, without a plan
            try:
                reply = conn.execute(*args)
            except PLAN_ERRORS as exc:
                plan = self._plan(args, shard_key, sock, asking, retries,
                                  ((conn.host, conn.port), conn, exc))
            else:
                self._note_sent(conn, args[0])
                return reply
        return self._run(plan, args)

    def _run(self, plan, args):
        """Carry out the steps of a plan (see cluster_routing); its result."""
        try:
            step = next(plan)
            while True:
                op = step[0]
                try:
                    if op is SEND:
                        conn = step[1]
                        if step[2]:
                            value = asking_reply(conn.execute_many(asking_commands(args), 2))
                        else:
                            value = conn.execute(*args)
                    elif op is CONNECT:
                        value = self._connection_for(step[1], Connection)
                        # Connect now, so that a failure here is known to have sent nothing.
                        value._connect()
                    elif op is UPDATE:
                        cluster_map = self._map
                        update = cluster_map.update if step[2] else cluster_map._update_unless_busy
                        value = update(step[1])
                    elif op is CLOSE:
                        value = None
                        for conn in step[1]:
                            conn.close()
                    else:  # SLEEP
                        value = time.sleep(step[1])
                except Exception as exc:  # the plan decides what it means
                    step = plan.throw(exc)
                else:
                    step = plan.send(value)
        except StopIteration as done:
            return done.value

    def close(self):
        """Close every node connection; the client cannot be used again.  Idempotent."""
        for conn in self._close_all():
            conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
