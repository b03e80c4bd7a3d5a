"""ClusterClient: one connection per Redis Cluster node, commands routed by hash slot."""
import time

from pyredis import commands
from pyredis.connection.connection import Connection
from pyredis.exceptions import (
    PyRedisConnClosed,
    PyRedisConnError,
    PyRedisConnReadTimeout,
    PyRedisError,
    ReplyError,
)
from pyredis.helper import ClusterMap, node_address, node_name, slot_from_key
from pyredis.protocol import pack_command

__all__ = ["ClusterClient"]

# A node connection that failed in any of these ways has closed itself.
_CONN_ERRORS = (PyRedisConnError, PyRedisConnReadTimeout, PyRedisConnClosed)

# Pause before retrying a TRYAGAIN (multi-key command while its slot migrates).
TRYAGAIN_DELAY = 0.05

# Commands that only read: with slave_ok they go to a replica.  Anything not
# listed (writes, and commands this table does not know) goes to the primary.
READ_COMMANDS = frozenset(name.encode() for name in """
    BITCOUNT BITFIELD_RO BITPOS DBSIZE DUMP ECHO EXISTS GEODIST GEOHASH GEOPOS
    GEORADIUS_RO GEORADIUSBYMEMBER_RO GEOSEARCH GET GETBIT GETRANGE HEXISTS HGET
    HGETALL HKEYS HLEN HMGET HRANDFIELD HSCAN HSTRLEN HVALS KEYS LINDEX LLEN LPOS
    LRANGE MGET OBJECT PFCOUNT PING PTTL RANDOMKEY SCAN SCARD SDIFF SINTER SINTERCARD
    SISMEMBER SMEMBERS SMISMEMBER SORT_RO SRANDMEMBER SSCAN STRLEN SUBSTR SUNION TTL
    TYPE ZCARD ZCOUNT ZDIFF ZINTER ZINTERCARD ZLEXCOUNT ZMSCORE ZRANDMEMBER ZRANGE
    ZRANGEBYLEX ZRANGEBYSCORE ZRANK ZREVRANGE ZREVRANGEBYLEX ZREVRANGEBYSCORE
    ZREVRANK ZSCAN ZSCORE ZUNION
""".split())


def _redirect(exc):
    """``MOVED 3999 host:port`` / ``ASK ...`` -> (kind, slot, (host, port)); else None."""
    message = str(exc)
    if not (message.startswith("MOVED ") or message.startswith("ASK ")):
        return None
    try:
        kind, slot, where = message.split(" ", 2)
        host, _, port = where.rpartition(":")
        return kind, int(slot), (host, int(port))
    except ValueError:
        return None


class ClusterClient(
    commands.BaseCommand,
    commands.Connection,
    commands.Geo,
    commands.Hash,
    commands.HyperLogLog,
    commands.Key,
    commands.List,
    commands.Scripting,
    commands.Set,
    commands.SSet,
    commands.String,
    commands.Transaction,
):
    """A client of a Redis Cluster: one lazily opened connection per node.

    Give ``seeds`` (``(host, port)`` pairs) or a shared ``cluster_map``
    (:class:`~pyredis.helper.ClusterMap`), not both.  The other arguments are
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
      *connect* (nothing was sent) is retried, after the refresh.
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
    * New: ``close()`` (closes every node connection; later commands raise
      ``PyRedisConnError("Connection Gone")``), ``with client:``, and the
      ``closed`` attribute is True after ``close()`` (upstream: always False).
      A node connection that dies does not close the client.
    """

    _cluster = True

    def __init__(self, seeds=None, database=0, password=None, encoding=None, slave_ok=False,
                 conn_timeout=2, read_timeout=2, cluster_map=None, username=None):
        if bool(seeds) == bool(cluster_map):
            raise PyRedisError("Exactly one of seeds or cluster_map must be given")
        if cluster_map is None:
            cluster_map = ClusterMap(seeds, password=password, username=username,
                                     conn_timeout=conn_timeout, read_timeout=read_timeout)
        self._map = cluster_map
        self._slave_ok = bool(slave_ok)
        self._conn_kwargs = dict(
            conn_timeout=conn_timeout, read_timeout=read_timeout, read_only=bool(slave_ok),
            encoding=encoding, password=password, database=database, username=username)
        self._conns = {}  # (host, port) -> Connection
        self._table = None  # the map's table our connections were last checked against
        self._in_multi = False
        # A plain attribute (pools read it on every release).
        self.closed = False

    @property
    def cluster_map(self):
        return self._map

    @property
    def slave_ok(self):
        return self._slave_ok

    @property
    def password(self):
        return self._conn_kwargs["password"]

    @property
    def username(self):
        return self._conn_kwargs["username"]

    # -- commands --------------------------------------------------------------------
    def execute(self, *args, shard_key=None, sock=None, asking=False, retries=3):
        """Run one command on the node serving ``shard_key``, or on node ``sock``.

        ``asking``: send ASKING first (the command targets a slot being
        imported by that node).  ``retries``: most attempts, redirections
        included.
        """
        if self.closed:
            raise PyRedisConnError("Connection Gone")
        if not args:  # Redis ignores an empty command: we would wait for no reply
            raise PyRedisError("execute() needs a command")
        table = self._map._table
        if table is not self._table:
            self._adopt(table)
        read = self._slave_ok and self._is_read(args[0])
        if sock is None:
            if shard_key is None:
                raise PyRedisError("Exactly one of shard_key or sock must be given")
            address = None
            slot = slot_from_key(shard_key)
        elif shard_key is None:
            address = node_address(sock)
            slot = None
        else:
            raise PyRedisError("Exactly one of shard_key or sock must be given")
        attempt = 0
        last = None
        while True:
            attempt += 1
            if address is None:
                entry = table.slots[slot]
                if entry is None:
                    table, entry = self._refresh_for(table, slot)
                address = entry[1] if read else entry[0]
            conn = self._conns.get(address)
            if conn is None or conn.closed:
                try:
                    conn = self._connect(address)
                except _CONN_ERRORS:
                    # Nothing was sent: refresh and try again (a failover, say).
                    if attempt >= retries:
                        raise
                    table = self._refresh(table)
                    if sock is None:
                        address = None
                    continue
            try:
                if asking:
                    return self._asking(conn, args)
                return conn.execute(*args)
            except ReplyError as exc:
                redirect = _redirect(exc)
                if redirect is None:
                    if attempt < retries and str(exc).startswith("TRYAGAIN"):
                        time.sleep(TRYAGAIN_DELAY)
                        continue
                    raise
                kind, moved_slot, target = redirect
                if not target[0]:  # "MOVED 3999 :6380": same host as the one asked
                    target = (address[0], target[1])
                if kind == "MOVED":
                    if sock is not None:
                        raise ReplyError("%s (explicitly set socket %s, not following it)"
                                         % (exc, node_name(address))) from None
                    table = self._moved(table, moved_slot, target)
                    asking = False
                else:
                    asking = True
                address = target
                last = exc
            except _CONN_ERRORS:
                self._drop(address)
                self._refresh(table)
                raise
            if attempt >= retries:
                raise PyRedisError("Slot moved too often or wrong shard_key, giving up: %s"
                                   % last)

    def _is_read(self, command):
        """True when ``command`` may go to a replica; also tracks MULTI ... EXEC."""
        if isinstance(command, str):
            command = command.encode()
        command = bytes(command).upper()
        if command == b"MULTI":
            self._in_multi = True
        elif command == b"EXEC" or command == b"DISCARD":
            self._in_multi = False
            return False
        return not self._in_multi and command in READ_COMMANDS

    @staticmethod
    def _asking(conn, args):
        replies = conn.execute_many(pack_command((b"ASKING",)) + pack_command(args), 2)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies[1]

    # -- routing ----------------------------------------------------------------------
    def _refresh_for(self, table, slot):
        """No node serves ``slot`` in ``table``: refresh; return (table, entry)."""
        table = self._refresh(table, quiet=False)
        entry = table.slots[slot]
        if entry is None:
            raise PyRedisError("No node serves slot %d (is the cluster down?)" % slot)
        return table, entry

    def _refresh(self, table, quiet=True):
        """Refresh the map unless someone did since ``table``; return the map's table.

        ``quiet``: a failed refresh is ignored (the caller has an error of its own
        to report, or an address to try).
        """
        cluster_map = self._map
        try:
            cluster_map.update(table.id)
        except PyRedisError:
            if not quiet:
                raise
        table = cluster_map._table
        if table is not self._table:
            self._adopt(table)
        return table

    def _moved(self, table, slot, target):
        """MOVED: refresh the map, and make sure ``slot`` points at ``target``."""
        entry = table.slots[slot]
        if entry is not None and entry[0] == target:
            return table  # the map agrees: we asked a replica, or it was refreshed
        table = self._refresh(table)
        entry = table.slots[slot]
        if entry is None or entry[0] != target:
            # The node that answered the refresh has not heard of the move yet.
            self._map.moved(slot, target)
            table = self._map._table
        return table

    # -- node connections ---------------------------------------------------------------
    def _connect(self, address):
        conn = Connection(host=address[0], port=address[1], **self._conn_kwargs)
        # Connect now, so that a failure here is known to have sent nothing.
        conn._connect()
        self._conns[address] = conn
        return conn

    def _drop(self, address):
        conn = self._conns.pop(address, None)
        if conn is not None:
            conn.close()

    def _adopt(self, table):
        """Close connections to nodes the new table no longer names."""
        self._table = table
        if table.nodes:
            for address in [a for a in self._conns if a not in table.nodes]:
                self._drop(address)

    # -- closing ------------------------------------------------------------------------
    def close(self):
        """Close every node connection; the client cannot be used again.  Idempotent."""
        self.closed = True
        conns = list(self._conns.values())
        self._conns.clear()
        for conn in conns:
            conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __repr__(self):
        state = "closed" if self.closed else "%d node connections" % len(self._conns)
        return "<%s %s>" % (type(self).__name__, state)
