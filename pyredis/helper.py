"""Cluster helpers: pairs to dict, hash tags, hash slots (API.md section 4).

``tag_from_key`` follows the Redis Cluster specification (and the server's
``keyHashSlot``), fixing upstream: the tag is what stands between the first
``{`` and the first ``}`` *after it*, when that is at least one byte; otherwise
the whole key is hashed.  Upstream paired the first ``{`` with the first ``}``
anywhere and returned ``b""`` for an empty or reversed pair, so ``{}abc``
(server: the whole key) and ``}{x}`` (server: ``x``) went to slot 0.
"""
import os
import random
import threading
import uuid
import weakref
from binascii import crc_hqx
from collections import deque

from pyredis.connection import Connection
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
class _Table:
    """One immutable snapshot of the cluster's layout.

    ``slots[s]`` is ``(primary, reader)`` for slot ``s`` (addresses; ``reader``
    is the replica chosen for reads, or the primary when the range has no
    replica), or None while no node serves it; ``entries`` the distinct
    pairs.  ``nodes`` is every address named (primaries and all replicas).
    """

    __slots__ = ("id", "slots", "nodes", "entries")

    def __init__(self, slots, nodes):
        self.id = str(uuid.uuid4())
        self.slots = slots
        self.nodes = nodes
        self.entries = frozenset(entry for entry in set(slots) if entry is not None)


_EMPTY_SLOTS = (None,) * SLOTS

# Maps using their own lock: a forked child gets a fresh one (a lock held by
# another thread of the parent at fork time would never be released).
_OWN_LOCK_MAPS = weakref.WeakSet()


def _new_locks_after_fork():
    for cluster_map in list(_OWN_LOCK_MAPS):
        cluster_map._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_locks_after_fork)


class ClusterMapBase:
    """The I/O-free half of :class:`ClusterMap` and
    :class:`~pyredis.async_helper.AsyncClusterMap`: seeds, the current table
    and the lookups; subclasses add ``update()`` and ``_fetch()`` (sync or
    async) and the default lock."""

    def __init__(self, seeds, password=None, lock=None, username=None, *,
                 conn_timeout=2, read_timeout=2):
        if isinstance(seeds, (str, bytes)) or (
                isinstance(seeds, tuple) and len(seeds) == 2 and isinstance(seeds[1], int)):
            seeds = [seeds]  # one seed given bare
        self._seeds = deque(node_address(seed) for seed in seeds)
        if not self._seeds:
            raise PyRedisError("%s needs at least one seed (host, port)" % type(self).__name__)
        self._password = password
        self._username = username
        self._conn_timeout = conn_timeout
        self._read_timeout = read_timeout
        self._lock = lock
        # The whole state, replaced (never modified) by update() and moved().
        self._table = _Table(_EMPTY_SLOTS, frozenset())

    @property
    def id(self):
        """Changes whenever the table does (clients compare it to notice)."""
        return self._table.id

    @property
    def seeds(self):
        return list(self._seeds)

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

    # -- changing (the I/O-free parts) -----------------------------------------------
    def _point(self, slot, node):
        """Swap in a table where ``slot`` is served by ``node`` alone; return its id."""
        address = node_address(node)
        current = self._table
        slots = list(current.slots)
        slots[slot] = (address, address)
        self._table = _Table(tuple(slots), current.nodes | {address})
        return self._table.id

    def _fetch_steps(self, current):
        """Whom to ask for ``CLUSTER SLOTS``, in order: the seeds, then every
        other known node.  A generator: yields an address, is sent that node's
        reply (or thrown its PyRedisError); returns (reply, address asked)."""
        candidates = list(self._seeds)
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
                    return reply, address
                last = PyRedisError("%s serves no slots" % node_name(address))
            tried.append(node_name(address))
        raise PyRedisError("Could not get cluster info from any seed or node (%s): %s"
                           % (", ".join(tried), last))

    def _connection_kwargs(self):
        """For the connections that fetch ``CLUSTER SLOTS``."""
        return dict(password=self._password, username=self._username,
                    conn_timeout=self._conn_timeout, read_timeout=self._read_timeout)


class ClusterMap(ClusterMapBase):
    """Which node serves each of the 16384 slots; shared by cluster clients and pools.

    ``seeds``: ``(host, port)`` pairs (lists and ``"host:port"`` strings are
    accepted too) asked for ``CLUSTER SLOTS``, with ``password`` /
    ``username`` (for AUTH) and ``conn_timeout`` / ``read_timeout``.  ``lock``
    (anything with ``acquire()``/``release()``, default a ``threading.Lock``)
    serialises refreshes only.  The table starts empty; ``update()`` fills it.

    Where this differs from pyredis 1.0:

    * A range without replicas works: its reads go to the primary (upstream
      raised IndexError, so clusters without replicas were unusable).
    * Readers never lock and never see a half-written table: ``update()``
      builds a new table and swaps it in with one assignment.  Slots missing
      from the new ``CLUSTER SLOTS`` reply are cleared (upstream kept them).
    * When no seed answers, ``update()`` also asks every node of the current
      table, so a cluster whose seeds all left stays reachable.
    * Nodes are ``(host, port)`` inside; ``"host_port"`` names appear only
      where the API shows them (``get_slot``, ``hosts``) and are split at the
      last ``_`` (hosts with ``_`` work; IPv6 addresses work too).  An empty
      address in ``CLUSTER SLOTS`` means the host that answered; ``"?"``
      (unknown endpoint) is skipped.
    * One replica is chosen at random per slot range for reads (not per slot).
    * Fork-safe: a child process gets a fresh default lock.
    * New: ``moved(slot, node)`` points one slot at a node (MOVED replies);
      ``slot_nodes(slot)``, ``nodes()``, ``seeds``.
    """

    def __init__(self, seeds, password=None, lock=None, username=None, *,
                 conn_timeout=2, read_timeout=2):
        super().__init__(seeds, password, lock, username,
                         conn_timeout=conn_timeout, read_timeout=read_timeout)
        if lock is None:
            self._lock = threading.Lock()
            _OWN_LOCK_MAPS.add(self)

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
            reply, asked = self._fetch(current)
            self._table = _build_table(reply, asked)
            return self._table.id
        finally:
            lock.release()

    def moved(self, slot, node):
        """Point ``slot`` at ``node`` (from a MOVED reply); reads go there too.
        Returns the new id."""
        lock = self._lock
        lock.acquire()
        try:
            return self._point(slot, node)
        finally:
            lock.release()

    def _fetch(self, current):
        """``CLUSTER SLOTS`` from the first seed that answers, else from any
        known node; returns (reply, address asked)."""
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
