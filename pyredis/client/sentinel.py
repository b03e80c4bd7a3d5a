"""SentinelClient: queries a list of Redis Sentinels, moving on when one fails."""
from collections import deque

from pyredis._describe import describe, endpoints
from pyredis.connection.connection import Connection
from pyredis.connection.settings import check_client_settings
from pyredis.exceptions import (
    ProtocolError,
    PyRedisConnClosed,
    PyRedisConnError,
    PyRedisConnReadTimeout,
    PyRedisError,
    ReplyError,
)
from pyredis.helper import dict_from_list

__all__ = ["SentinelClient", "SentinelSettings", "no_sentinel_answered"]

# Failures after which a connection is unusable (it has closed itself): the
# server is gone, hung or talking nonsense, so another one should be asked.
CONNECTION_FAILURES = (PyRedisConnError, PyRedisConnReadTimeout, PyRedisConnClosed, ProtocolError)


class SentinelSettings:
    """The I/O-free half of a sentinel client, shared by SentinelClient and
    AsyncSentinelClient: the sentinel list, the connection to its head, and
    the name of the replicas query."""

    _connection_class = Connection

    def __init__(self, sentinels, password=None, username=None, *, conn_timeout=0.1,
                 read_timeout=2):
        check_client_settings(password=password, username=username,
                              conn_timeout=conn_timeout, read_timeout=read_timeout)
        self._sentinels = deque(_address(entry) for entry in sentinels)
        self._password = password
        self._username = username
        self._conn_timeout = conn_timeout
        self._read_timeout = read_timeout
        self._conn = None
        self._replicas_cmd = b"REPLICAS"

    @property
    def sentinels(self):
        """The deque of ``(host, port)``; its head is the sentinel in use."""
        return self._sentinels

    def __repr__(self):
        return describe(self, "sentinels=%s" % (endpoints(self._sentinels),))

    def _current(self):
        """The connection to the sentinel at the head of the list (made if needed)."""
        conn = self._conn
        if conn is None or conn.closed:
            host, port = self._sentinels[0]
            conn = self._conn = self._connection_class(
                host=host, port=port, conn_timeout=self._conn_timeout,
                read_timeout=self._read_timeout, sentinel=True,
                password=self._password, username=self._username)
        return conn

    def _drop(self, conn):
        """``conn`` failed: if it is still the current one, forget it and make
        the next sentinel current.  True if it was (the caller closes it)."""
        if self._conn is not conn:
            return False  # another caller already moved on
        self._conn = None
        self._sentinels.rotate(-1)
        return True

    def _fall_back(self, exc):
        """True if ``exc`` (a reply to SENTINEL REPLICAS) means the sentinel
        predates Redis 5 and knows only SENTINEL SLAVES (used from now on)."""
        if self._replicas_cmd != b"REPLICAS" or "unknown" not in str(exc).lower():
            return False
        self._replicas_cmd = b"SLAVES"
        return True


def _failure(conn, exc):
    return "%s:%s: %s" % (conn.host, conn.port, exc)


def no_sentinel_answered(failures):
    """The error when every sentinel failed (``failures``: one line per sentinel)."""
    return PyRedisConnError("Could not connect to any sentinel: %s"
                            % ("; ".join(failures) or "no sentinels given"))


class SentinelClient(SentinelSettings):
    """A connection to one of several Sentinels, for ``SENTINEL ...`` queries.

    ``sentinels`` is a list of ``(host, port)`` pairs, kept as a deque of
    tuples (the ``sentinels`` property) whose head is the sentinel in use.  Replies are
    bytes; the ``get_*`` methods turn Sentinel's flat field lists into dicts
    keyed by bytes (``b"ip"``, ``b"port"``, ``b"flags"``...).  Not thread-safe
    (SentinelPool serialises its queries).

    Where this differs from pyredis 1.0:

    * A sentinel that fails - refuses the connection, times out (connecting
      or reading), closes it, resets it, or sends garbage - is dropped at once
      and the command is sent to the next one; each sentinel is tried at most
      once per call, then ``PyRedisConnError("Could not connect to any
      sentinel: ...")`` lists what each one did.  Upstream kept a dead
      connection, so every later call failed with "Connection Gone" until
      ``close()``/``next_sentinel()``, and a PING that timed out escaped as
      ``PyRedisConnReadTimeout``.
    * No PING when a sentinel is picked: the command itself is the probe (one
      round trip less).  A server error reply (``-ERR No such master...``, a
      failed AUTH) is raised and does not move on: it is an answer, not a
      failure of that sentinel.
    * A sentinel may also be given as a ``"host:port"`` string (upstream's
      docstrings showed that form; its code needed pairs).
    * ``conn_timeout`` (upstream's fixed 0.1 s) and ``read_timeout`` (2 s)
      can be set; they, ``password`` and ``username`` are checked at
      construction (ValueError / TypeError, see pyredis/connection/settings.py).
    * ``get_replicas()`` sends ``SENTINEL REPLICAS`` (Redis >= 5) and falls
      back to ``SENTINEL SLAVES`` on older servers; ``get_slaves()`` is the
      same method under upstream's name.  ``with SentinelClient(...) as s:``
      closes on exit.
    """

    # -- connection ------------------------------------------------------------
    def execute(self, *args):
        """Send one command to the current sentinel, moving on while sentinels fail."""
        failures = []
        for _ in range(len(self._sentinels)):
            conn = self._current()
            try:
                return conn.execute(*args)
            except CONNECTION_FAILURES as exc:
                failures.append(_failure(conn, exc))
                if self._drop(conn):
                    conn.close()
        raise no_sentinel_answered(failures)

    def close(self):
        """Close the connection to the current sentinel (the next call opens a new one)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def next_sentinel(self):
        """Close, and make the next sentinel in the list the current one."""
        self.close()
        self._sentinels.rotate(-1)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # -- queries ---------------------------------------------------------------
    def get_master(self, name):
        """``SENTINEL MASTER name`` as a dict (``b"ip"``, ``b"port"``, ``b"flags"``...)."""
        return dict_from_list(self.execute(b"SENTINEL", b"MASTER", name))

    def get_masters(self):
        """``SENTINEL MASTERS``: one dict per monitored master."""
        return [dict_from_list(item) for item in self.execute(b"SENTINEL", b"MASTERS")]

    def get_replicas(self, name):
        """The replicas of master ``name`` as sentinel sees them: one dict each."""
        try:
            items = self.execute(b"SENTINEL", self._replicas_cmd, name)
        except ReplyError as exc:
            if not self._fall_back(exc):
                raise
            items = self.execute(b"SENTINEL", self._replicas_cmd, name)
        return [dict_from_list(item) for item in items]

    get_slaves = get_replicas


def _address(entry):
    """``(host, port)`` from a pair or a ``"host:port"`` string."""
    if isinstance(entry, str):
        host, _, port = entry.rpartition(":")
        if not host or not port.isdigit():
            raise PyRedisError("sentinel %r is not of the form host:port" % entry)
        return host.strip("[]"), int(port)
    host, port = entry
    return host, port
