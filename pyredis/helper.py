"""Cluster helpers: pairs to dict, hash tags, hash slots, the slot map.

``tag_from_key`` follows the Redis Cluster specification (and the server's
``keyHashSlot``), fixing upstream: the tag is what stands between the first
``{`` and the first ``}`` *after it*, when that is at least one byte; otherwise
the whole key is hashed.  Upstream paired the first ``{`` with the first ``}``
anywhere and returned ``b""`` for an empty or reversed pair, so ``{}abc``
(server: the whole key) and ``}{x}`` (server: ``x``) went to slot 0.
"""
import contextlib
import os
import random
import threading
import time
import uuid
import weakref
from binascii import crc_hqx
from collections import deque

from pyredis.connection import Connection
from pyredis.connection.settings import check_client_settings, check_seconds
from pyredis.exceptions import PyRedisError
from pyredis.protocol import to_bytes

__all__ = ["dict_from_list", "tag_from_key", "slot_from_key", "ClusterMap"]

SLOTS = 16384


def dict_from_list(source):
    """``[k1, v1, k2, v2, ...]`` (as HGETALL/CONFIG GET reply) -> ``{k1: v1, k2: v2}``.

    A trailing unpaired item is ignored; a repeated key keeps its last value."""
    it = iter(source)
    return dict(zip(it, it))


def tag_from_key(key):
    """The part of ``key`` that picks its slot (bytes).

    Takes every key type the command writer sends: str, bytes, int, float and
    also bytearray / memoryview (which ``to_bytes`` refuses, as upstream's)."""
    if not isinstance(key, bytes):
        key = bytes(key) if isinstance(key, (bytearray, memoryview)) else to_bytes(key)
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            return key[start + 1:end]
    return key


def slot_from_key(key):
    """The cluster hash slot of ``key``: CRC16 (XMODEM) of its tag, mod 16384."""
    # tag_from_key inlined: cluster clients call this for every command.
    if type(key) is not bytes:
        key = str.encode(key, "utf-8") if type(key) is str else tag_from_key(key)
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            key = key[start + 1:end]
    return crc_hqx(key, 0) & (SLOTS - 1)


def ring_slot_from_key(key):
    """The slot that picks a hash-ring bucket (HashClient): pyredis 1.0's rule.

    Data placement must match what pyredis 1.0 wrote, so its hash-tag rule
    stays here, quirks included: with a ``{`` and a ``}`` anywhere in the
    key, the tag is what lies between the first ``{`` and the first ``}``,
    which may be empty (``{}abc``, ``}{x}`` -> ``b""``).  The Redis Cluster
    rule (``slot_from_key``) differs only for keys like those.
    """
    if type(key) is not bytes:
        key = str.encode(key, "utf-8") if type(key) is str else tag_from_key(key)
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}")
        if end >= 0:
            key = key[start + 1:end]  # b"" when the "}" comes first
    return crc_hqx(key, 0) & (SLOTS - 1)


# -- node addresses --------------------------------------------------------------
def node_name(address):
    """``(host, port)`` -> ``"host_port"``, the node name the API shows."""
    return "%s_%s" % address


def node_address(node):
    """A node as the API takes it -> ``(host, port)``.

    ``node`` is a name ``"host_port"`` (split at the *last* ``_``, so hosts
    with ``_`` and IPv6 addresses work), a ``(host, port)`` pair, or a
    ``"host:port"`` / ``"[ipv6]:port"`` string.
    """
    if isinstance(node, (tuple, list)):
        if len(node) != 2:
            raise PyRedisError("a node is (host, port), not %r" % (node,))
        host, port = node
    elif isinstance(node, (str, bytes)):
        text = node.decode("utf-8") if isinstance(node, bytes) else node
        if text.startswith("["):  # [ipv6]:port
            host, _, port = text[1:].partition("]:")
        else:
            sep = "_" if text.rfind("_") > text.rfind(":") else ":"
            host, _, port = text.rpartition(sep)
            if sep == ":" and ":" in host:
                raise PyRedisError("write IPv6 nodes as [addr]:port or addr_port, not %r" % text)
    else:
        raise PyRedisError("a node is (host, port) or \"host_port\", not %r" % (node,))
    if isinstance(host, bytes):
        host = host.decode("utf-8")
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise PyRedisError("bad port in node %r" % (node,)) from None
    if not host:
        raise PyRedisError("no host in node %r" % (node,))
    return host, port


# -- the slot table ----------------------------------------------------------------
# How long a refresh waits for one node, to connect and for each reply
# (seconds), unless the map's own conn_timeout / read_timeout are shorter.
REFRESH_TIMEOUT = 1.0

# After a failure (a node unreachable, a connection lost, CLUSTERDOWN) the
# map is fetched again at most this often: during a failover every command
# to the dead node fails, and each would otherwise ask for CLUSTER SLOTS.
FAILURE_REFRESH_INTERVAL = 0.25


class _Table:
    """One immutable snapshot of the cluster's layout.

    ``slots[s]`` is ``(primary, reader)`` for slot ``s`` (addresses; ``reader``
    is the replica chosen for reads, or the primary when the range has no
    replica), or None while no node serves it; ``entries`` the distinct
    pairs.  ``nodes`` is every address named (primaries and all replicas).
    """

    __slots__ = ("id", "slots", "nodes", "entries")

    def __init__(self, slots, nodes):
        self.id = uuid.uuid4()
        self.slots = slots
        self.nodes = nodes
        self.entries = frozenset(entry for entry in set(slots) if entry is not None)

    def node(self, slot, key, read):
        """The primary serving ``slot`` (the key ``key``'s), or with ``read``
        its reader; None while no node serves it."""
        entry = self.slots[slot]
        return None if entry is None else entry[1 if read else 0]


_EMPTY_SLOTS = (None,) * SLOTS

# Every sync map, so that a forked child resets their locks and flags: a lock
# held (or a refresh under way) in another thread of the parent at fork time
# would never be released in the child.  Maps with a lock of their own get a
# fresh one; a lock given by the caller is the caller's business.
_SYNC_MAPS = weakref.WeakSet()


def _reset_maps_after_fork():
    for cluster_map in list(_SYNC_MAPS):
        cluster_map._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_maps_after_fork)


def _refresh_seconds(value):
    """``refresh_timeout``: seconds, as a connection timeout, but never None
    (a refresh must not hang on a node that accepts and never answers)."""
    if value is None:
        raise TypeError("refresh_timeout must be a number of seconds, not None")
    check_seconds("refresh_timeout", value)
    return value


def _capped(timeout, limit):
    return limit if timeout is None else min(timeout, limit)


class ClusterMapBase:
    """The I/O-free half of :class:`ClusterMap` and
    :class:`~pyredis.async_helper.AsyncClusterMap`: seeds, the current table,
    the lookups, whom a refresh asks and in what order, and how soon after a
    failure it may run again; subclasses add ``update()`` and ``_fetch()``
    (sync or async) and the default lock."""

    def __init__(self, seeds, password=None, lock=None, username=None, *,
                 conn_timeout=2, read_timeout=2, refresh_timeout=REFRESH_TIMEOUT):
        if isinstance(seeds, (str, bytes)) or (
                isinstance(seeds, tuple) and len(seeds) == 2 and isinstance(seeds[1], int)):
            seeds = [seeds]  # one seed given bare
        self._seeds = deque(node_address(seed) for seed in seeds)
        if not self._seeds:
            raise PyRedisError("%s needs at least one seed (host, port)" % type(self).__name__)
        check_client_settings(password=password, username=username,
                              conn_timeout=conn_timeout, read_timeout=read_timeout)
        self._password = password
        self._username = username
        self._conn_timeout = conn_timeout
        self._read_timeout = read_timeout
        self._refresh_timeout = _refresh_seconds(refresh_timeout)
        self._lock = lock
        # The whole state, replaced (never modified) by update() and moved().
        self._table = _Table(_EMPTY_SLOTS, frozenset())
        self._last_answered = None  # the node whose CLUSTER SLOTS we use: asked first
        self._fetching = False  # a refresh is under way (it holds the lock)
        self._fetched_at = None  # time.monotonic() when the last refresh ended
        # Nodes whose connections failed and that have not answered since
        # (kept by the clients; a dict, as its single operations are atomic).
        self._suspects = {}

    @property
    def id(self):
        """A ``uuid.UUID`` that changes whenever the table does (clients
        compare it to notice)."""
        return self._table.id

    @property
    def seeds(self):
        """The seeds, in the order the next refresh tries them."""
        return list(self._seeds)

    @property
    def refresh_timeout(self):
        return self._refresh_timeout

    # -- reading (no lock) --------------------------------------------------
    def slot_nodes(self, slot):
        """``(primary, reader)`` addresses serving ``slot``; KeyError if none."""
        entry = self._table.slots[slot]
        if entry is None:
            raise KeyError(slot)
        return entry

    def get_slot(self, shard_key, slave=None):
        """``"host_port"`` of the primary serving ``shard_key`` (its chosen replica
        with ``slave``); KeyError while no node serves the key's slot."""
        return node_name(self.slot_nodes(slot_from_key(shard_key))[1 if slave else 0])

    def hosts(self, slave=None):
        """Names of the primaries (with ``slave``: of the replicas chosen for reads)."""
        which = 1 if slave else 0
        return {node_name(entry[which]) for entry in self._table.entries}

    def nodes(self):
        """Every node address the table names, primaries and replicas."""
        return self._table.nodes

    def __repr__(self):
        return "<%s seeds=%s %d primaries>" % (
            type(self).__name__, ",".join(map(node_name, self._seeds)), len(self.hosts()))

    # -- refreshing (the I/O-free parts) ---------------------------------------------
    def _holdoff(self):
        """Seconds before a refresh asked for because of a failure may fetch
        (0: now).  Clients wait this long, or skip the refresh."""
        fetched = self._fetched_at
        if fetched is None:
            return 0.0
        return max(0.0, fetched + FAILURE_REFRESH_INTERVAL - time.monotonic())

    @contextlib.contextmanager
    def _refreshing(self):
        """Around a fetch (with the lock held): marks it under way, then notes when it ended."""
        self._fetching = True
        try:
            yield
        finally:
            self._fetching = False
            self._fetched_at = time.monotonic()

    def _point(self, slot, node):
        """Swap in a table where ``slot`` is served by ``node`` alone; return its id."""
        address = node_address(node)
        current = self._table
        slots = list(current.slots)
        slots[slot] = (address, address)
        self._table = _Table(tuple(slots), current.nodes | {address})
        return self._table.id

    def _fetch_steps(self, current):
        """Whom to ask for ``CLUSTER SLOTS``, in order: the node that answered
        last, the seeds, then every other known node.  A node that fails is
        demoted (a seed goes to the back of the seeds).  A generator: yields
        an address, is sent that node's reply (or thrown its PyRedisError);
        returns (reply, address asked)."""
        candidates = [] if self._last_answered is None else [self._last_answered]
        candidates += [seed for seed in self._seeds if seed not in candidates]
        candidates += [node for node in sorted(current.nodes) if node not in candidates]
        tried = []
        last = None
        for address in candidates:
            try:
                reply = yield address
            except PyRedisError as exc:
                last = exc
            else:
                if reply:
                    self._last_answered = address
                    return reply, address
                last = PyRedisError("%s serves no slots" % node_name(address))
            self._demote(address)
            tried.append(node_name(address))
        raise PyRedisError("Could not get cluster info from any seed or node (%s): %s"
                           % (", ".join(tried), last))

    def _demote(self, address):
        if self._last_answered == address:
            self._last_answered = None
        if address in self._seeds:
            self._seeds.remove(address)
            self._seeds.append(address)

    def _connection_kwargs(self):
        """For the connections that fetch ``CLUSTER SLOTS``: the refresh
        timeout bounds every wait."""
        limit = self._refresh_timeout
        return dict(password=self._password, username=self._username,
                    conn_timeout=_capped(self._conn_timeout, limit),
                    read_timeout=_capped(self._read_timeout, limit))


class ClusterMap(ClusterMapBase):
    """Which node serves each of the 16384 slots; shared by cluster clients and pools.

    ``seeds``: ``(host, port)`` pairs (lists and ``"host:port"`` strings are
    accepted too) asked for ``CLUSTER SLOTS``, with ``password`` /
    ``username`` (for AUTH).  ``lock`` (anything with
    ``acquire()``/``release()``, default a ``threading.Lock``) is held by the
    one refresh under way.  The table starts empty; ``update()`` fills it.
    ``id`` is a ``uuid.UUID``, new with every table.

    Keyword-only settings (new): ``refresh_timeout`` (default 1 s) bounds
    how long a refresh waits for one node, to connect and for each reply;
    ``conn_timeout`` / ``read_timeout`` (default 2 s) apply when shorter.

    Where this differs from pyredis 1.0:

    * A range without replicas works: its reads go to the primary (upstream
      raised IndexError, so clusters without replicas were unusable).
    * Readers never lock and never see a half-written table: ``update()``
      builds a new table and swaps it in with one assignment.  Slots missing
      from the new ``CLUSTER SLOTS`` reply are cleared (upstream kept them).
    * A refresh asks first the node that answered the last one, then the
      seeds, then every other node of the current table (so a cluster whose
      seeds all left stays reachable); a node that fails to answer within
      ``refresh_timeout`` is asked last from then on (a failed seed moves to
      the back of ``seeds``).  Upstream asked the seeds in their given order
      with the connection's 2 s timeouts, so one hung seed cost every refresh
      2 s.
    * Cluster clients refresh without waiting when another refresh is under
      way (they keep using the current table), and after a failure at most
      once every 0.25 s (``FAILURE_REFRESH_INTERVAL``).  ``update()`` itself
      waits for a refresh under way and then returns its id, as upstream.
    * Nodes are ``(host, port)`` inside; ``"host_port"`` names appear only
      where the API shows them (``get_slot``, ``hosts``) and are split at the
      last ``_`` (hosts with ``_`` work; IPv6 addresses work too).  An empty
      address in ``CLUSTER SLOTS`` means the host that answered; ``"?"``
      (unknown endpoint) is skipped.
    * One replica is chosen at random per slot range for reads (not per slot).
    * Fork-safe: a child process gets a fresh default lock.
    * ``password``, ``username`` and the timeouts are checked at construction
      (ValueError / TypeError, see pyredis/connection/settings.py).
    * New: ``moved(slot, node)`` points one slot at a node (MOVED replies);
      ``slot_nodes(slot)``, ``nodes()``, ``seeds``, ``refresh_timeout``.
    """

    def __init__(self, seeds, password=None, lock=None, username=None, *,
                 conn_timeout=2, read_timeout=2, refresh_timeout=REFRESH_TIMEOUT):
        super().__init__(seeds, password, lock, username, conn_timeout=conn_timeout,
                         read_timeout=read_timeout, refresh_timeout=refresh_timeout)
        self._own_lock = lock is None
        if lock is None:
            self._lock = threading.Lock()
        # Makes moved()'s read-modify-write of the table atomic with a swap.
        self._swap_lock = threading.Lock()
        _SYNC_MAPS.add(self)

    def _after_fork(self):
        if self._own_lock:
            self._lock = threading.Lock()
        self._swap_lock = threading.Lock()
        self._fetching = False

    def update(self, map_id=None):
        """Fetch ``CLUSTER SLOTS`` and swap in a new table; return its id.

        ``map_id`` is the id the caller last saw: if the table has changed
        since, someone else refreshed it and nothing is fetched (concurrent
        callers wait for one fetch).  None forces a fetch.
        """
        lock = self._lock
        lock.acquire()
        try:
            current = self._table
            if map_id is not None and map_id != current.id:
                return current.id
            with self._refreshing():
                reply, asked = self._fetch(current)
            table = _build_table(reply, asked)
            with self._swap_lock:
                self._table = table
            return table.id
        finally:
            lock.release()

    def _update_unless_busy(self, map_id):
        """``update(map_id)``, unless a refresh is under way: then the current
        id at once (the caller goes on with the current table)."""
        if self._fetching:
            return self._table.id
        return self.update(map_id)

    def moved(self, slot, node):
        """Point ``slot`` at ``node`` (from a MOVED reply); reads go there too.
        Returns the new id.  Never waits for a refresh under way."""
        with self._swap_lock:
            return self._point(slot, node)

    def _fetch(self, current):
        """``CLUSTER SLOTS`` from the first node that answers (see
        ``_fetch_steps``); returns (reply, address asked)."""
        steps = self._fetch_steps(current)
        kwargs = self._connection_kwargs()
        try:
            address = next(steps)
            while True:
                conn = Connection(host=address[0], port=address[1], **kwargs)
                error = None
                try:
                    reply = conn.execute(b"CLUSTER", b"SLOTS")
                except PyRedisError as exc:
                    error = exc
                finally:
                    conn.close()
                address = steps.send(reply) if error is None else steps.throw(error)
        except StopIteration as done:
            return done.value


class _ForeignTable:
    """What clients see of a map that is not one of ours, for one of its ids:
    lookups go through its ``get_slot`` (by key), plus the slots pointed
    elsewhere by MOVED replies since."""

    __slots__ = ("id", "nodes", "_map", "_pointed")

    def __init__(self, cluster_map, map_id, pointed, nodes=None):
        self.id = map_id
        self._map = cluster_map
        self._pointed = pointed
        if nodes is None:
            nodes = frozenset(node_address(name) for slave in (False, True)
                              for name in cluster_map.hosts(slave=slave))
        self.nodes = nodes

    def node(self, slot, key, read):
        address = self._pointed.get(slot)
        if address is not None:
            return address
        try:
            return node_address(self._map.get_slot(shard_key=key, slave=read))
        except KeyError:
            return None

    def pointing(self, slot, address):
        """The same view with ``slot`` served by ``address``."""
        pointed = dict(self._pointed)
        pointed[slot] = address
        return _ForeignTable(self._map, self.id, pointed, self.nodes | {address})


class ForeignMap:
    """Lets a cluster client use any object with pyredis 1.0's ClusterMap
    methods (``id``, ``update(map_id)``, ``get_slot(shard_key, slave)``,
    ``hosts(slave)``) as its map.  ``update`` is called as the object
    defines it (a coroutine function for an asyncio client); slots that
    MOVED replies point elsewhere are kept here until its ``id`` changes."""

    def __init__(self, cluster_map):
        missing = [name for name in ("id", "update", "get_slot", "hosts")
                   if not hasattr(cluster_map, name)]
        if missing:
            raise TypeError("a cluster map needs ClusterMap's %s, which %r lacks"
                            % (", ".join(missing), cluster_map))
        self.wrapped = cluster_map
        self._view = None
        self._fetched_at = None
        self._suspects = {}

    @property
    def _table(self):
        map_id = self.wrapped.id
        view = self._view
        if view is None or view.id != map_id:
            view = self._view = _ForeignTable(self.wrapped, map_id, {})
        return view

    def update(self, map_id=None):
        self._fetched_at = time.monotonic()
        return self.wrapped.update(map_id)

    _update_unless_busy = update
    _holdoff = ClusterMapBase._holdoff

    def moved(self, slot, node):
        view = self._table.pointing(slot, node_address(node))
        self._view = view
        return view.id


def _reply_address(entry, asked):
    """A node entry of CLUSTER SLOTS (``[host, port, id, ...]``) -> address, or None."""
    host, port = entry[0], entry[1]
    if isinstance(host, bytes):
        host = host.decode("utf-8")
    if not host:  # "same host as the node that answered"
        host = asked[0]
    elif host == "?":  # endpoint unknown to that node
        return None
    return host, int(port)


def _build_table(reply, asked):
    slots = [None] * SLOTS
    nodes = set()
    for item in reply:
        start, end, primary = item[0], item[1], _reply_address(item[2], asked)
        if primary is None:
            continue
        replicas = [address for address in (_reply_address(r, asked) for r in item[3:])
                    if address is not None]
        nodes.add(primary)
        nodes.update(replicas)
        entry = (primary, random.choice(replicas) if replicas else primary)
        slots[start:end + 1] = [entry] * (end + 1 - start)
    return _Table(tuple(slots), frozenset(nodes))
