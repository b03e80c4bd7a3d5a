"""SentinelPool: a BasePool of Clients to the master (or a replica) that Sentinel names.

The pieces:

* ``SentinelPool`` - the pool and its command mixins; ``_connect()`` asks the
  locator for an address and opens a client to it;
* ``_Locator`` - remembers the address(es) Sentinel gave, asks again when told
  to forget them, and serialises the queries (the pool connects outside its
  lock, so several threads may want an address at once);
* ``_NodeClient`` - a Client that tells the locator to forget its server when
  the connection fails or a demoted master refuses a write.

The I/O-free parts - ``SentinelPoolSettings`` (settings and properties),
``AddressMemory`` (the locator's memory), ``master_address``,
``usable_replicas``, ``demoted`` (reply handling) - are shared with the
asyncio twin, ``pyredis.pool.async_sentinel``.

The locator is shared by the pool and its clients; neither holds the other,
so no reference cycle goes through the compiled pool core.
"""
import os
import threading
import time
import weakref
from random import choice

from pyredis import commands
from pyredis._describe import endpoints
from pyredis.client.client import Client
from pyredis.client.sentinel import CONNECTION_FAILURES, SentinelClient
from pyredis.exceptions import PyRedisBulkError, PyRedisConnError, PyRedisError, ReplyError
from pyredis.pool.base import BasePool

__all__ = ["SentinelPool", "SentinelPoolSettings", "AddressMemory", "master_address",
           "usable_replicas", "unknown_master", "demoted"]

# Replica flags (SENTINEL REPLICAS) that make a replica unusable.
DOWN_FLAGS = frozenset((b"s_down", b"o_down", b"disconnected"))

# Pause before connection attempt n (n >= 1) is RETRY_DELAY * n seconds.
RETRY_DELAY = 0.1

# Live locators, so that a forked child gets fresh locks (one held by
# another thread at fork time would never be released there).
_LOCATORS = weakref.WeakSet()


def _new_locks_after_fork():
    fresh = {}  # locators that shared a lock (one sentinel client) still do
    for locator in list(_LOCATORS):
        locator._lock = fresh.setdefault(id(locator._lock), threading.Lock())


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_locks_after_fork)


class AddressMemory:
    """The I/O-free half of a locator, shared by the sync and asyncio pools:
    the address(es) Sentinel gave for master ``name`` (with ``slave_ok``, its
    usable replicas), until a client reports one of them failed."""

    def __init__(self, sentinel, name, slave_ok):
        self.sentinel = sentinel
        self._name = name
        self._slave_ok = slave_ok
        self._nodes = None  # [(host, port)]: the master, or the usable replicas

    def _pick(self):
        """A remembered address, or None when there is none left."""
        nodes = self._nodes
        if not nodes:
            return None
        return choice(nodes) if self._slave_ok else nodes[0]

    def _query(self):
        """The sentinel client's method that finds the address(es), and its argument."""
        if self._slave_ok:
            return self.sentinel.get_replicas, self._name
        return self.sentinel.get_master, self._name

    def _learn(self, reply):
        """Remember the address(es) in ``reply`` (the answer to ``_query()``)."""
        if self._slave_ok:
            self._nodes = usable_replicas(self._name, reply)
        else:
            self._nodes = [master_address(reply)]

    def _drop(self, address):
        nodes = self._nodes
        if nodes and address in nodes:
            self._nodes = [node for node in nodes if node != address] or None


class _Locator(AddressMemory):
    """Where the pool's clients should connect: remembered until a client says
    otherwise.  Sentinel queries are serialised by a lock; locators that query
    the same ``sentinel`` client (SentinelHashPool: one per bucket) share it."""

    def __init__(self, sentinel, name, slave_ok, lock=None):
        super().__init__(sentinel, name, slave_ok)
        self._lock = threading.Lock() if lock is None else lock
        _LOCATORS.add(self)

    def node(self):
        """An address to connect to (asks Sentinel if none is remembered)."""
        address = self._pick()
        if address is None:
            with self._lock:
                address = self._pick()
                if address is None:  # nobody else asked meanwhile
                    method, name = self._query()
                    try:
                        reply = method(name)
                    except ReplyError as exc:
                        error = unknown_master(name, exc)
                        if error is None:
                            raise
                        raise error from exc
                    self._learn(reply)
                    address = self._pick()
        return address

    def forget(self, address):
        """A client of ``address`` failed: do not hand that address out again
        (once nothing is left, the next ``node()`` asks Sentinel)."""
        with self._lock:
            self._drop(address)

    def close(self):
        with self._lock:
            self.sentinel.close()


class SentinelPoolSettings:
    """What SentinelPool and AsyncSentinelPool share: settings, properties, the
    locator, the clients' connection settings and the final error.  Subclasses
    set ``_locator_class`` and ``_sentinel_class``."""

    __slots__ = ()

    def __init__(self, sentinels, name, slave_ok=False, retries=3, sentinel_password=None,
                 sentinel_username=None, **basepool_kwargs):
        super().__init__(**basepool_kwargs)
        self._name = name
        self._slave_ok = bool(slave_ok)
        self._retries = retries
        self._locator = self._locator_class(
            self._sentinel_class(sentinels=sentinels, password=sentinel_password,
                                 username=sentinel_username),
            name, self._slave_ok)

    @property
    def slave_ok(self):
        return self._slave_ok

    @property
    def name(self):
        return self._name

    @property
    def retries(self):
        return self._retries

    @property
    def sentinels(self):
        """The sentinel client's deque of ``(host, port)``."""
        return self._locator.sentinel.sentinels

    def _attempts(self):
        return max(1, self._retries or 0)

    def _describe_target(self):
        return ("%s=%r" % ("replicas_of" if self._slave_ok else "master", self._name),
                "sentinels=%s" % (endpoints(self.sentinels),))

    def _client_kwargs(self, address):
        return {"host": address[0], "port": address[1], "database": self.database,
                "password": self.password, "encoding": self.encoding,
                "conn_timeout": self.conn_timeout, "read_timeout": self.read_timeout,
                "username": self.username}

    def _gave_up(self, attempts, error):
        return PyRedisConnError(
            "Could not connect to Redis (%s %r) after %d attempt(s): %s"
            % ("a replica of" if self._slave_ok else "master", self._name, attempts, error))


class SentinelPool(
    SentinelPoolSettings,
    BasePool,
    *commands.POOL_MIXINS,
):
    """Thread-safe pool of :class:`~pyredis.Client` connections to the master
    named ``name`` (or, with ``slave_ok``, to its replicas), found through the
    Sentinels ``sentinels`` (a list of ``(host, port)``).

    ``sentinel_password`` / ``sentinel_username`` authenticate to the
    sentinels; the other keyword arguments (``password``, ``database``,
    ``pool_size``...) go to :class:`~pyredis.pool.base.BasePool` and the
    clients.  ``close_on_err`` is True: a client that comes back closed makes
    the pool close its idle clients (they probably point at a dead master).

    Where this differs from pyredis 1.0:

    * Sentinel is not asked for every new connection.  The pool remembers the
      master's address (with ``slave_ok``: the list of usable replicas, one
      picked at random per connection) and asks again only after a client
      saw its server fail - connection refused, reset, closed, a read
      timeout, a protocol error - or, on a master pool, a ``-READONLY`` reply
      (a demoted master).  Such a client closes itself, the error is raised
      to the caller, the pool closes its idle clients (``close_on_err``), and
      the next connection goes to the address Sentinel gives then.  So once
      Sentinel names the new master, the pool reaches it after at most one
      failed command per client in use.  (Until Sentinel demotes it, the old
      master still accepts writes; no client can tell.)  Replies read by a
      bulk flush are not inspected for ``READONLY``.
    * ``retries`` counts attempts per new connection, and now works: an
      attempt fails when no sentinel answers, when no replica is usable, or
      when the server Sentinel named refuses the connection (the client
      connects at once, in ``_connect()``); the next attempt, after a short
      pause, asks Sentinel again.  Then ``PyRedisConnError("Could not connect
      to Redis ...")`` says why.  Upstream's loop never retried.  (0 or
      None: one attempt.)
    * Replicas flagged ``s_down``, ``o_down`` or ``disconnected`` are skipped;
      no usable replica is a ``PyRedisConnError`` (upstream: ``IndexError``).
    * A master name the sentinel does not know raises ``PyRedisError("Sentinel
      knows no master named ...")`` (upstream: the bare ``ReplyError``).
    * Hosts are passed to the clients as ``str`` (upstream: bytes).
    * ``close()`` also closes the connection to the sentinel.  Sentinel
      queries are serialised by a lock of the pool's (new in a forked child).
    """

    _cluster = False
    _close_on_err = True
    _locator_class = _Locator
    _sentinel_class = SentinelClient

    def _connect(self):
        locator = self._locator
        attempts = self._attempts()
        error = None
        for attempt in range(attempts):
            if attempt:
                time.sleep(RETRY_DELAY * attempt)
            try:
                address = locator.node()
            except PyRedisConnError as exc:  # no sentinel answered / no usable replica
                error = exc
                continue
            client = _NodeClient(locator, address, not self._slave_ok,
                                 **self._client_kwargs(address))
            try:
                # Connect now (socket + AUTH/SELECT, nothing more than the first
                # command would do) so that a stale address costs a retry here,
                # not the caller's command.
                client._conn._connect()
            except CONNECTION_FAILURES as exc:
                locator.forget(address)
                error = exc
                continue
            return client
        raise self._gave_up(attempts, error) from error

    def close(self):
        """Close the idle clients (busy ones when released) and the sentinel connection."""
        try:
            super().close()
        finally:
            self._locator.close()


# Reply handling, shared with any other pool that asks Sentinel.
def master_address(master):
    """``(host, port)`` from a ``SENTINEL MASTER`` dict (host as str)."""
    return _host(master[b"ip"]), int(master[b"port"])


def usable_replicas(name, replicas):
    """``[(host, port)]`` of the replicas (``SENTINEL REPLICAS`` dicts) not
    flagged down; ``PyRedisConnError`` when there is none."""
    usable = [(_host(r[b"ip"]), int(r[b"port"])) for r in replicas
              if not DOWN_FLAGS.intersection(r.get(b"flags", b"").split(b","))]
    if not usable:
        raise PyRedisConnError("No usable replica of %r: sentinel reports %d replica(s), none up"
                               % (name, len(replicas)))
    return usable


def unknown_master(name, exc):
    """The error to raise when Sentinel's ``exc`` says it knows no master
    ``name`` (retrying cannot help, so not a PyRedisConnError), else None."""
    if "no such master" in str(exc).lower():
        return PyRedisError("Sentinel knows no master named %r (%s)" % (name, exc))
    return None


def demoted(exc):
    """True if ``exc`` (a reply error) says the server is no longer a master."""
    return str(exc).startswith("READONLY")


def _host(value):
    return value.decode("utf-8") if isinstance(value, bytes) else value


class _NodeClient(Client):
    """A pooled Client that reports a failed (or demoted) server to the locator.

    Costs one Python frame per command over a plain Client: the price of
    noticing ``-READONLY`` on every path (pool commands and leased clients).
    """

    def __init__(self, locator, address, master, **kwargs):
        super().__init__(**kwargs)
        self._locator = locator
        self._address = address
        self._master = master

    def execute(self, *args):
        try:
            return Client.execute(self, *args)
        except ReplyError as exc:
            if self._master and demoted(exc):
                # A demoted master: this connection is useless for writes.
                self.close()
                self._locator.forget(self._address)
            raise
        except CONNECTION_FAILURES:
            self._locator.forget(self._address)
            raise

    def bulk_stop(self):
        try:
            return Client.bulk_stop(self)
        except PyRedisBulkError as exc:
            if isinstance(exc.__cause__, CONNECTION_FAILURES):
                self._locator.forget(self._address)
            raise
