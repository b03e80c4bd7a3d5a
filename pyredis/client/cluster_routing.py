"""What a Redis Cluster client decides, without doing any I/O.

:class:`ClusterRouting` is the shared half of
:class:`~pyredis.client.cluster.ClusterClient` and
:class:`~pyredis.client.async_cluster.AsyncClusterClient`: which node a
command goes to, what a ``MOVED`` / ``ASK`` / ``TRYAGAIN`` / ``CLUSTERDOWN``
reply or a connection failure leads to, how many attempts are left, and when
the map is refreshed.  Each command is run by a *plan*: a generator that
yields the I/O it needs as steps and is sent (or thrown) their outcome.  The
two clients only carry the steps out, one with blocking calls, the other with
``await``:

======================  ==========================================  ==============
step                    what the driver does                        sent back
======================  ==========================================  ==============
``(CONNECT, address)``  open (or reuse) the node connection         the connection
``(SEND, conn, ask)``   run the command (``ASKING`` first if ask)   the reply
``(UPDATE, id, wait)``  ``cluster_map.update(id)`` (``wait``) or    ignored
                        ``cluster_map._update_unless_busy(id)``
``(CLOSE, conns)``      close those connections                     ignored
``(SLEEP, seconds)``    pause                                       ignored
======================  ==========================================  ==============

Any exception of a step is thrown into the plan, which handles it or lets it
propagate; the command's reply is the plan's return value.  The common case
(a keyed command to a connected node, the map unchanged) skips the plan:
``_direct`` names the connection, and only if that command fails does a plan
take over, with the failure as its first attempt.
"""
import inspect
import weakref

from pyredis._describe import database, describe, endpoints
from pyredis.connection.settings import check_client_settings
from pyredis.exceptions import (
    PyRedisConnClosed,
    PyRedisConnError,
    PyRedisConnReadTimeout,
    PyRedisError,
    ReplyError,
)
from pyredis.helper import ClusterMapBase, ForeignMap, node_address, node_name, slot_from_key
from pyredis.protocol import pack_args

__all__ = ["ClusterRouting", "READ_COMMANDS", "TRYAGAIN_DELAY", "CLUSTERDOWN_DELAYS",
           "parse_redirect"]

CONNECT, SEND, UPDATE, CLOSE, SLEEP = "connect", "send", "update", "close", "sleep"

# A node connection that failed in any of these ways has closed itself.
CONN_ERRORS = (PyRedisConnError, PyRedisConnReadTimeout, PyRedisConnClosed)

# A command sent straight (ClusterRouting._direct) failing so hands over to the plan.
PLAN_ERRORS = (ReplyError,) + CONN_ERRORS

# Pause before retrying a TRYAGAIN (multi-key command while its slot migrates).
TRYAGAIN_DELAY = 0.05

# Pauses before retrying a command refused with CLUSTERDOWN (nothing ran; a
# failover under way, say): 0.75 s in all, then the error is raised.
CLUSTERDOWN_DELAYS = (0.05, 0.1, 0.2, 0.4)

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


# Commands that open (True) or end (False) a transaction on a connection.
TRANSACTION_WORDS = {word: opens
                     for name, opens in (("MULTI", True), ("EXEC", False), ("DISCARD", False))
                     for word in (name, name.lower(), name.encode(), name.lower().encode())}


def parse_redirect(exc):
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


def asking_commands(args):
    """``ASKING`` and the command, packed for one write (two replies)."""
    return pack_args((b"ASKING",)) + pack_args(args)


def asking_reply(replies):
    """The command's reply out of the two replies of :func:`asking_commands`."""
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies[1]


class ClusterRouting:
    """Routing state and decisions shared by the sync and asyncio cluster clients.

    Subclasses set ``_map_class`` and implement ``execute`` by driving
    ``_plan`` (see the module docstring).
    """

    _cluster = True
    _map_class = None

    def __init__(self, seeds=None, database=0, password=None, encoding=None, slave_ok=False,
                 conn_timeout=2, read_timeout=2, cluster_map=None, username=None, *,
                 refresh_timeout=None):
        if bool(seeds) == bool(cluster_map):
            raise PyRedisError("Exactly one of seeds or cluster_map must be given")
        # Node connections are made on first use: check their settings now.
        check_client_settings(database, password, encoding, conn_timeout, read_timeout,
                              username)
        if cluster_map is None:
            options = {} if refresh_timeout is None else {"refresh_timeout": refresh_timeout}
            cluster_map = self._map_class(seeds, password=password, username=username,
                                          conn_timeout=conn_timeout, read_timeout=read_timeout,
                                          **options)
            self._map = cluster_map
        elif refresh_timeout is not None:
            raise ValueError("refresh_timeout is a setting of the cluster map: "
                             "give it to %s, not to a client given that map"
                             % self._map_class.__name__)
        elif isinstance(cluster_map, ClusterMapBase):
            if not isinstance(cluster_map, self._map_class):
                raise TypeError("%s takes a map of class %s, not %s" % (
                    type(self).__name__, self._map_class.__name__, type(cluster_map).__name__))
            self._map = cluster_map
        else:  # any object with ClusterMap's methods, as upstream
            if (inspect.iscoroutinefunction(getattr(cluster_map, "update", None))
                    and not inspect.iscoroutinefunction(self._map_class.update)):
                raise TypeError("%s cannot await the update() of %r"
                                % (type(self).__name__, cluster_map))
            self._map = ForeignMap(cluster_map)
        self._given_map = cluster_map
        self._foreign_map = self._map is not cluster_map
        self._slave_ok = bool(slave_ok)
        self._conn_kwargs = dict(
            conn_timeout=conn_timeout, read_timeout=read_timeout, read_only=bool(slave_ok),
            encoding=encoding, password=password, database=database, username=username)
        self._conns = {}  # (host, port) -> connection
        self._table = None  # the map's table our connections were last checked against
        self._in_multi = False
        # Node connections inside MULTI: a redirection there is not followed.
        self._transactions = weakref.WeakSet()
        # A plain attribute (pools read it on every release).
        self.closed = False

    @property
    def cluster_map(self):
        return self._given_map

    @property
    def slave_ok(self):
        return self._slave_ok

    @property
    def password(self):
        return self._conn_kwargs["password"]

    @property
    def username(self):
        return self._conn_kwargs["username"]

    def __repr__(self):
        state = "closed" if self.closed else "%d node connections" % len(self._conns)
        return describe(self, "seeds=%s" % (endpoints(self._map.seeds),),
                        database(self._conn_kwargs["database"]), state)

    # -- one command ----------------------------------------------------------------------
    def _direct(self, args, shard_key, sock, asking):
        """The connection a command can go straight to, without a plan: a keyed
        command to a primary, the map (one of ours) unchanged since we last
        looked, the node connected.  None otherwise (the plan decides).  If
        that command fails, the plan takes over with
        ``sent=(address, conn, exception)``."""
        if (sock is not None or shard_key is None or asking or self._slave_ok or not args
                or self._foreign_map):
            return None
        table = self._map._table
        if table is not self._table or self.closed:
            return None
        entry = table.slots[slot_from_key(shard_key)]
        if entry is None:
            return None
        conn = self._conns.get(entry[0])
        if conn is None or conn.closed or not self._connected(conn):
            return None
        return conn

    def _plan(self, args, shard_key, sock, asking, retries, sent=None):
        """The steps of one command (a generator; see the module docstring).

        ``sent``: ``(address, conn, exception)`` of a first attempt made
        without the plan (see ``_direct``), to be handled as if the plan had
        made it.

        A command is sent again only when it cannot have run: after a
        redirection (``MOVED``, ``ASK``), ``TRYAGAIN`` or ``CLUSTERDOWN``, or
        when connecting failed.  ``retries`` bounds the attempts of the
        first three kinds together; ``CLUSTERDOWN`` has its own pauses
        (``CLUSTERDOWN_DELAYS``).
        """
        if self.closed:
            raise PyRedisConnError("Connection Gone")
        if not args:  # Redis ignores an empty command: we would wait for no reply
            raise PyRedisError("execute() needs a command")
        table = yield from self._latest()
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
        cluster_down = 0  # CLUSTERDOWN replies so far
        last = None
        failure = None
        if sent is not None:
            address, conn, failure = sent
        while True:
            attempt += 1
            if failure is None:
                if address is None:
                    table, address = yield from self._lookup(table, slot, shard_key, read)
                conn = self._conns.get(address)
                if conn is None or conn.closed or not self._connected(conn):
                    try:
                        conn = yield (CONNECT, address)
                    except CONN_ERRORS:
                        # Nothing was sent: once the map is fresh, try again (a failover, say).
                        self._map._suspects[address] = True
                        if attempt >= retries:
                            raise
                        table = yield from self._refresh_after_failure(table, True, pause=True)
                        if sock is None:
                            address = None
                        continue
            try:
                if failure is not None:  # the first attempt, made by _direct
                    exc, failure = failure, None
                    raise exc
                reply = yield (SEND, conn, asking)
            except ReplyError as exc:
                in_transaction = conn in self._transactions  # before EXEC ends it
                self._note_sent(conn, args[0])
                redirect = parse_redirect(exc)
                message = str(exc)
                if in_transaction and (redirect is not None or message.startswith("TRYAGAIN")):
                    # Refused, not queued: run elsewhere (or later) it would run
                    # outside the transaction.  Closing the connection ends the
                    # transaction; the caller sees the redirection.
                    self._transactions.discard(conn)
                    yield from self._drop(address, conn)
                    raise exc
                if redirect is None:
                    if message.startswith("CLUSTERDOWN"):
                        # Refused, so nothing ran (inside MULTI it spoilt the
                        # transaction: raised).  Wait a little for the cluster.
                        if in_transaction or cluster_down >= len(CLUSTERDOWN_DELAYS):
                            raise
                        table = yield from self._refresh_after_failure(table, False)
                        yield (SLEEP, CLUSTERDOWN_DELAYS[cluster_down])
                        cluster_down += 1
                        attempt -= 1  # not a redirection: its own budget
                        continue
                    if attempt < retries and message.startswith("TRYAGAIN"):
                        yield (SLEEP, TRYAGAIN_DELAY)
                        continue
                    raise
                kind, moved_slot, target = redirect
                if not target[0]:  # "MOVED 3999 :6380": same host as the one asked
                    target = (address[0], target[1])
                if kind == "MOVED":
                    if sock is not None:
                        raise ReplyError("%s (explicitly set socket %s, not following it)"
                                         % (exc, node_name(address))) from None
                    table = yield from self._moved(table, moved_slot, shard_key, target)
                    asking = False
                else:
                    asking = True
                address = target
                last = exc
            except CONN_ERRORS:
                # The command may have run: drop the connection, refresh, raise.
                self._map._suspects[address] = True
                self._transactions.discard(conn)
                yield from self._drop(address, conn)
                yield from self._refresh_after_failure(table, False)
                raise
            else:
                self._note_sent(conn, args[0])
                self._map._suspects.pop(address, None)
                return reply
            if attempt >= retries:
                raise PyRedisError("Slot moved too often or wrong shard_key, giving up: %s"
                                   % last)

    def _note_sent(self, conn, command):
        """Keep ``_transactions`` in step with a command ``conn`` answered."""
        try:
            opens = TRANSACTION_WORDS.get(command)
        except TypeError:  # an unhashable command name (bytearray...): no transaction word
            return
        if opens is not None:
            if opens:
                self._transactions.add(conn)
            else:
                self._transactions.discard(conn)

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

    # -- the map -------------------------------------------------------------------------
    def _lookup(self, table, slot, key, read):
        """``(table, address)``: the node for ``key`` (slot ``slot``), after a
        refresh if ``table`` has none, or if that node failed lately and is
        not known to be back (a failover may have replaced it: its commands
        would wait for a read timeout each, and only new failures would
        refresh the map)."""
        address = table.node(slot, key, read)
        if address is None:
            if self._map._holdoff() == 0 or not table.nodes:  # else fresh: no node serves it
                table = yield from self._refresh(table, wait=True, quiet=False)
                address = table.node(slot, key, read)
            if address is None:
                raise PyRedisError("No node serves slot %d (is the cluster down?)" % slot)
        elif address in self._map._suspects:
            table = yield from self._refresh_after_failure(table, True)
            address = table.node(slot, key, read) or address
        return table, address

    def _refresh(self, table, wait=False, quiet=True):
        """Refresh the map unless someone did since ``table``; return the map's table.

        ``wait``: if a refresh is under way, wait for it (else go on with the
        current table).  ``quiet``: a failed refresh is ignored (the caller
        has an error of its own to report, or an address to try).
        """
        try:
            yield (UPDATE, table.id, wait)
        except PyRedisError:
            if not quiet:
                raise
        return (yield from self._latest())

    def _refresh_after_failure(self, table, wait, pause=False):
        """Refresh after a failure, at most once per ``FAILURE_REFRESH_INTERVAL``.

        ``wait``: wait for a refresh under way (else go on with the current
        table).  ``pause``: when a refresh is not yet due, sleep until it is
        (the caller needs a fresher table than ``table``), else skip it.
        """
        delay = self._map._holdoff()
        if delay > 0:
            if not pause:
                return (yield from self._latest())
            yield (SLEEP, delay)
        return (yield from self._refresh(table, wait))

    def _latest(self):
        """The map's current table, its connections checked (``_adopt``)."""
        table = self._map._table
        if table is not self._table:
            yield from self._adopt(table)
        return table

    def _moved(self, table, slot, key, target):
        """MOVED: refresh the map, and make sure ``slot`` (``key``'s) points at ``target``."""
        if table.node(slot, key, False) == target:
            return table  # the map agrees: we asked a replica, or it was refreshed
        table = yield from self._refresh(table)
        if table.node(slot, key, False) != target:
            # The node that answered the refresh has not heard of the move yet
            # (or a refresh is under way).
            self._map.moved(slot, target)
            table = self._map._table
        return table

    # -- node connections ------------------------------------------------------------------
    @staticmethod
    def _connected(conn):
        """False for a connection another task is still connecting (we connect
        too, so that its failure is known to have sent nothing)."""
        return True  # sync: a kept connection is connected, or closed after failing to

    def _connection_for(self, address, connection_class):
        """The open connection to ``address``, or a new one (kept; not connected yet)."""
        conn = self._conns.get(address)
        if conn is None or conn.closed:
            conn = self._conns[address] = connection_class(
                host=address[0], port=address[1], **self._conn_kwargs)
        return conn

    def _drop(self, address, conn):
        # Another task may have replaced the connection meanwhile: keep that one.
        if self._conns.get(address) is conn:
            del self._conns[address]
        yield (CLOSE, [conn])

    def _adopt(self, table):
        """Close connections to nodes the new table no longer names."""
        self._table = table
        if table.nodes:
            stale = [address for address in self._conns if address not in table.nodes]
            if stale:
                yield (CLOSE, [self._conns.pop(address) for address in stale])

    def _close_all(self):
        """Mark closed; the connections to close."""
        self.closed = True
        conns = list(self._conns.values())
        self._conns.clear()
        return conns
