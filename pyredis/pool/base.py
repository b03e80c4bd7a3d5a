"""BasePool: the pool class every pyredis pool derives from (API.md section 5).

A thin shim over the pool core (``_core``, compiled, or its twin ``_core_py``):
``acquire``, ``release``, ``execute``, ``close``, ``lease`` and the
``pool_size`` property are the core's own methods, so a command run through a
pool costs no extra Python layer.  This class adds the connection settings
(pool/settings.py ClientSettings, shared with AsyncBasePool) that subclasses
hand to the clients they create in ``_connect()``.
"""
from pyredis._twins import import_twin
from pyredis.pool.settings import ClientSettings

_core = import_twin("pyredis.pool", "_core")

__all__ = ["BasePool"]


class BasePool(_core.PoolCore, ClientSettings):
    """Thread-safe, fork-safe pool of clients; subclasses implement ``_connect()``.

    ``_connect()`` returns a new client that has not connected yet (it connects
    on its first command); the client needs ``execute(*args, **kwargs)``,
    ``close()`` and a ``closed`` attribute.

    Settings (read-only properties): ``database``, ``password``, ``encoding``,
    ``conn_timeout``, ``read_timeout``, ``username`` - for the clients;
    ``pool_timeout``, ``max_idle_time`` - for the pool (see below).
    ``pool_size`` can be changed at any time: surplus idle clients are closed
    at once, surplus clients in use when they are released.

    Behaviour, and where it differs from pyredis 1.0:

    * ``acquire(timeout=None)`` hands out the most recently released idle
      client; with none idle and fewer than ``pool_size`` open it creates one,
      calling ``_connect()`` outside the pool's lock (upstream held the lock,
      blocking every thread during Sentinel discovery).  When all are in use
      it raises ``PyRedisError("Max connections <n> exhausted")`` at once, as
      upstream does, unless a ``timeout`` (or the pool's ``pool_timeout``)
      allows it to wait for a release.
    * ``max_idle_time`` (seconds, default None = never): an idle client unused
      for longer is closed instead of reused (servers and firewalls drop idle
      connections).
    * ``release(client)``: a closed client is dropped (with ``close_on_err``,
      as in Sentinel pools, every idle client is closed too, and the clients in
      use are closed when they come back - upstream forgot them, so the pool
      could exceed its size); a client over the size, or released after
      ``close()``, is closed; an unknown one is closed.
    * ``close()``, ``with pool:`` (closes on exit) and
      ``with pool.lease() as client:`` are new.  A lease whose body raises
      closes its client instead of returning it (it may be inside MULTI, in
      bulk mode or watching keys), without ``close_on_err``'s reset.
    * ``lock``: upstream defaulted to a ``threading.Lock``; by default the core
      now uses a native mutex.  An object passed here (anything with
      ``acquire()``/``release()``) is used instead, at some cost in speed.
    * After ``os.fork()`` the child's pool is empty: it opens its own
      connections and never touches the parent's.
    * ``_pool_free`` / ``_pool_used`` are read-only snapshots (frozensets).
    * ``pool_size`` must be an int >= 1; ``pool_timeout`` and ``max_idle_time``
      None or seconds >= 0.  The client settings (and a subclass's host,
      port, TLS settings) are checked as a Connection checks them (ValueError
      / TypeError, see pyredis/connection/settings.py): a bad pool fails at
      construction, not at its first command.
    * ``repr()`` names the pool's target, database and size (never the
      password), e.g. ``<Pool 127.0.0.1:6379 db=0 pool_size=16>``.
    """

    _close_on_err = False  # Sentinel pools set this to True

    def __init__(self, database=0, password=None, encoding=None, conn_timeout=2,
                 read_timeout=2, pool_size=16, lock=None, username=None, *,
                 pool_timeout=None, max_idle_time=None):
        super().__init__(pool_size, lock, pool_timeout=pool_timeout, max_idle_time=max_idle_time)
        self._set_client_settings(database, password, encoding, conn_timeout, read_timeout,
                                  username)

    def _connect(self):
        raise NotImplementedError("pool subclasses implement _connect()")
