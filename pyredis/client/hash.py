"""HashClient: static client-side sharding over independent Redis servers."""
from binascii import crc_hqx

from pyredis import commands
from pyredis._describe import database, describe, endpoints
from pyredis.client.bulk import _DISCARD, BulkBookkeeping
from pyredis.client.client import BULK_WRITE_LIMIT
from pyredis.connection.connection import Connection
from pyredis.connection.settings import check_client_settings, check_port, check_tls
from pyredis.exceptions import PyRedisConnError, PyRedisError
from pyredis.helper import SLOTS, ring_slot_from_key
from pyredis.protocol import CommandBuffer

__all__ = ["HashClient", "BucketRouting", "in_command_order", "parse_buckets"]


def parse_buckets(buckets, tls=False):
    """``buckets`` -> ``(names, targets)``: one bucket name per bucket, in order,
    and ``{name: connection target kwargs}`` (one entry per distinct name).

    A bucket is a ``(host, port)`` pair (name ``"host_port"``) or a unix
    socket path given as a str (name: the path itself, refused with ``tls``).
    """
    names = []
    targets = {}
    for bucket in buckets or ():
        if isinstance(bucket, str):
            if tls:
                raise PyRedisError("TLS (ssl/ssl_context) needs (host, port) buckets, "
                                   "not unix socket %r" % (bucket,))
            name, target = bucket, {"unix_sock": bucket}
        else:
            try:
                host, port = bucket
            except (TypeError, ValueError):
                raise PyRedisError("A bucket is a (host, port) pair or a unix socket path, "
                                   "not %r" % (bucket,)) from None
            check_port(port)
            name, target = "%s_%s" % (host, port), {"host": host, "port": port}
        names.append(name)
        targets.setdefault(name, target)
    if not names:
        raise PyRedisError("HashClient needs at least one bucket")
    return names, targets


class BucketRouting(BulkBookkeeping):
    """The I/O-free half of a hash client, shared by HashClient and
    AsyncHashClient: the constructor (the bucket list, the connection
    settings, one connection slot per distinct bucket, bulk mode off),
    entering bulk mode, and which slot serves a command."""

    __slots__ = ()
    _connection_class = None  # each client's own

    def __init__(self, buckets, database=None, password=None, encoding=None, conn_timeout=2,
                 read_timeout=2, username=None, ssl=False, ssl_context=None, push_handler=None):
        # Connections are made on first use: check their settings now.
        check_tls(ssl, ssl_context)
        check_client_settings(database, password, encoding, conn_timeout, read_timeout,
                              username)
        names, targets = parse_buckets(buckets, tls=ssl or ssl_context is not None)
        self._buckets = buckets
        # The connection keyword arguments of every bucket connection.
        self._settings = {
            "database": database,
            "password": password,
            "encoding": encoding,
            "conn_timeout": conn_timeout,
            "read_timeout": read_timeout,
            "username": username,
            "ssl": ssl,
            "ssl_context": ssl_context,
            "push_handler": push_handler,
        }
        # Distinct buckets get indices 0..k-1: ``_route[bucket index]`` is the
        # index into ``_conns`` (connections, None until first used).
        self._index = {}
        for name in names:
            self._index.setdefault(name, len(self._index))
        self._route = [self._index[name] for name in names]
        self._targets = [targets[name] for name in self._index]
        self._conns = [None] * len(self._index)
        self._count = len(names)
        # A plain attribute: pools read it on every release.  Each bucket
        # connection sets it when it closes (its ``_owner`` is this client).
        self.closed = False
        self._order = None  # bulk mode: the connection index of each buffered command
        self._buffers = None
        self._bulk_size = 0
        self._bulk_results = None

    @property
    def buckets(self):
        return self._buckets

    def __repr__(self):
        return describe(self, "buckets=%s" % (endpoints(self._buckets),),
                        database(self._settings["database"]), "closed" if self.closed else "")

    def _connection(self, index):
        """Bucket connection ``index``, made (not connected) on first use; a
        closed client makes none (closed is for good)."""
        conn = self._conns[index]
        if conn is None:
            if self.closed:
                raise PyRedisConnError("Connection Gone")
            conn = self._connection_class(**self._targets[index], **self._settings)
            conn._owner = self
            self._conns[index] = conn
        return conn

    def _mark_closed(self):
        """Closing, for good: ``closed`` set, nothing buffered can be sent any more."""
        self.closed = True
        if self._buffers is not None:
            self._order = []
            self._buffers = [None] * len(self._conns)

    # -- bulk mode (buffers and flushing: each client's own) ------------------
    @property
    def bulk(self):
        return self._order is not None

    def bulk_start(self, bulk_size=5000, keep_results=True):
        """Buffer commands; every ``bulk_size`` commands (all buckets together),
        write each bucket's batch at once and read the replies.

        ``bulk_size`` 0, None or negative: replies are only read by bulk_stop().
        """
        self._bulk_begin(bulk_size, keep_results)
        self._buffers = [None] * len(self._conns)
        self._order = []

    def _conn_index(self, shard_key, sock):
        """Index into ``_conns`` of the bucket of ``shard_key``, or of bucket ``sock``."""
        if shard_key and not sock:
            if type(shard_key) is str and "{" not in shard_key:
                # The common case first: no hash tag, so the whole key is
                # hashed (the rule lives in helper.ring_slot_from_key).
                return self._route[crc_hqx(shard_key.encode(), 0) % SLOTS % self._count]
            return self._route[ring_slot_from_key(shard_key) % self._count]
        if shard_key:
            raise PyRedisError("Give either shard_key or sock, not both")
        if sock:
            try:
                return self._index[sock]
            except KeyError:
                raise KeyError("Unknown bucket %r (known: %s)"
                               % (sock, ", ".join(self._index))) from None
        raise PyRedisError("Either shard_key or sock must be given")


def in_command_order(order, replies):
    """Bulk mode: ``replies[i]`` holds connection i's replies in the order sent
    (None: none read); ``order`` the connection index of each command.
    Returns the replies in command order; after a failed read, those of the
    commands before the first one whose reply is missing."""
    nexts = [iter(r or ()).__next__ for r in replies]
    out = []
    try:
        for index in order:
            out.append(nexts[index]())
    except StopIteration:
        pass
    return out


class HashClient(
    BucketRouting,
    *commands.CLIENT_MIXINS,
):
    """Static sharding: each key lives on bucket ``slot % len(buckets)``.

    The slot is pyredis 1.0's (``helper.ring_slot_from_key``), so data
    written by pyredis 1.0 is found where it put it: its hash-tag rule
    differs from Redis Cluster's for keys such as ``{}abc`` and ``}{x}``.

    ``buckets`` is an ordered list; the order decides where data lives, so
    every client of the same data must use the same list.  A bucket is a
    ``(host, port)`` pair, named ``"host_port"``, or (new) a unix socket path
    given as a str, named by the path.  Buckets with the same name share one
    connection.  Each bucket's :class:`~pyredis.connection.Connection` is made
    on its first command.  Not thread-safe: one client per thread, or a
    :class:`~pyredis.pool.HashPool`.

    ``execute(*args, shard_key=None, sock=None)``: exactly one of them truthy
    (else ``PyRedisError``); ``shard_key`` is a key whose bucket runs the
    command, ``sock`` a bucket name (unknown: ``KeyError``).  Command methods
    route key commands by their key; commands without one (``ping``,
    ``keys``, ``eval``, ``multi``...) take ``shard_key=`` or ``sock=``.
    ``publish`` raises ``NotImplementedError``.  Multi-key commands go where
    their first key says, whatever the other keys' buckets.

    Where this differs from pyredis 1.0:

    * Any failure that closes a bucket connection - ``PyRedisConnError``,
      ``PyRedisConnReadTimeout``, ``PyRedisConnClosed``, ``ProtocolError``,
      even an interrupt in the middle of a reply - closes the whole client
      and sets ``closed``, so a pool drops it instead of handing out a client
      holding a dead bucket (upstream did this for ``PyRedisConnError`` only).
      A server going away shows as ``PyRedisConnClosed`` (it closed the
      socket) or ``PyRedisConnError`` (reset, refused); a server that stops
      answering, as ``PyRedisConnReadTimeout``.  An error reply
      (``ReplyError``) closes nothing.  A closed client is closed for good:
      every command raises ``PyRedisConnError``.
    * Bulk mode buffers commands per bucket and writes each bucket's batch
      with one ``sendall`` per flush (upstream: one per command), then reads
      the replies bucket by bucket; results still come in command order.  A
      failure during a flush closes the client (the unread replies of the
      other buckets would be out of step).  A ``bulk_stop()`` that cannot
      return every reply of the batch (a flush failed, its own or an
      automatic one) raises ``PyRedisBulkError`` chained to the failure,
      with the replies read before it in ``.replies``, and leaves bulk mode
      (upstream raised the connection error and stayed in bulk mode).
    * An empty bucket list raises ``PyRedisError`` at construction.  The
      connection settings and the bucket ports are checked there too
      (ValueError / TypeError, see pyredis/connection/settings.py), not when
      a bucket is first used.
    * ``close()``, ``with client:``.
    * TLS: ``ssl=True`` (a default context per bucket connection) or
      ``ssl_context=`` (shared by all), for every bucket.
    """

    _cluster = True
    _connection_class = Connection

    # -- connections ---------------------------------------------------------
    def close(self):
        """Close every bucket connection, for good.  Idempotent."""
        self._mark_closed()
        for conn in self._conns:
            if conn is not None:
                conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # -- commands ------------------------------------------------------------
    def execute(self, *args, shard_key=None, sock=None):
        """Run one command on the bucket of ``shard_key`` or on bucket ``sock``.

        Returns the reply (an error reply is raised), or None in bulk mode.
        """
        index = self._conn_index(shard_key, sock)
        order = self._order
        if order is None:
            conn = self._conns[index]
            if conn is None:
                conn = self._connection(index)
            try:
                return conn.execute(*args)
            except BaseException:
                if conn.closed:  # that bucket is gone: so is the client
                    self.close()
                raise
        # Bulk mode: packed now (a bad argument raises here and nothing is
        # queued), written when the batch is full.
        buffer = self._buffers[index]
        if buffer is None:  # (not ``or``: an empty buffer is falsy)
            buffer = self._bulk_buffer(index)
        buffer.add(*args)
        order.append(index)
        if len(order) == self._bulk_size:
            self._bulk_flush()
        return None

    # -- bulk mode -----------------------------------------------------------
    def bulk_stop(self):
        """Flush and leave bulk mode.

        Returns every reply since bulk_start in command order (error replies as
        exception instances), or None when keep_results was False.  If a flush
        failed (this one, or an automatic one earlier), raises PyRedisBulkError
        chained to that failure, with the replies read before it in
        ``.replies`` (those of the commands before the first one whose reply
        was lost, whatever its bucket).  Either way the client leaves bulk
        mode (details: client.bulk.BulkBookkeeping).
        """
        return self._bulk_stop()

    def _bulk_leave(self):
        self._order = self._buffers = None  # also breaks buffer -> callback -> client cycles

    def _bulk_buffer(self, index):
        """The command buffer of bucket connection ``index``, made on first use."""
        if self.closed:
            raise PyRedisConnError("Connection Gone")
        self._connection(index)
        buffer = self._buffers[index] = CommandBuffer(
            0, BULK_WRITE_LIMIT, lambda: self._bulk_write(index))
        return buffer

    def _bulk_write(self, index):
        """Send bucket ``index``'s buffered commands (one sendall); replies stay pending."""
        data = self._buffers[index].take()
        if data:
            try:
                self._conns[index]._send(data)
            except BaseException as exc:
                self.close()
                self._bulk_failed(exc)
                raise

    def _bulk_flush(self):
        """Write every bucket's buffered commands, then read all pending replies."""
        order = self._order
        if not order:
            return
        self._order = []
        buffers = self._buffers
        results = self._bulk_results
        try:
            used = [index for index, buffer in enumerate(buffers)
                    if buffer is not None and buffer.pending]
            for index in used:  # all written first: the servers work in parallel
                self._bulk_write(index)
            if results is None:
                for index in used:
                    pending = buffers[index].pending
                    buffers[index].pending = 0
                    self._conns[index].read_replies(pending, _DISCARD)
            elif len(used) == 1:  # straight into the results (in command order)
                buffers[used[0]].pending = 0
                self._conns[used[0]].read_replies(len(order), results)
            else:
                replies = [None] * len(buffers)
                try:
                    for index in used:
                        pending = buffers[index].pending
                        buffers[index].pending = 0
                        replies[index] = []
                        self._conns[index].read_replies(pending, replies[index])
                finally:  # after a failure too: the replies read before it
                    results.extend(in_command_order(order, replies))
        except BaseException as exc:
            # Replies of this batch may be left unread on any bucket: none of
            # the connections is in step any more.
            self.close()
            self._bulk_failed(exc)
            raise
