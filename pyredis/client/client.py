"""Client: one connection, every command mixin except Subscribe, bulk mode."""
from pyredis import commands
from pyredis.client.bulk import _DISCARD, BulkBookkeeping
from pyredis.connection.connection import Connection
from pyredis.protocol import CommandBuffer

# In bulk mode, buffered commands are written out (replies still unread)
# once they exceed this many bytes, so a large bulk_size or large values
# cannot pile up unbounded memory before the first write.
BULK_WRITE_LIMIT = 1 << 20


class Client(
    BulkBookkeeping,
    *commands.CLIENT_MIXINS,
):
    """A single connection to a Redis server (not thread-safe; pools lease it).

    All keyword arguments go to :class:`~pyredis.connection.Connection`.
    ``repr()`` shows the target, database and connection state, never the
    password (upstream: Python's default repr).

    Where bulk mode differs from pyredis 1.0: a ``bulk_stop()`` that cannot
    return every reply of the batch (a flush failed, its own or an automatic
    one) raises ``PyRedisBulkError`` chained to the failure, with the replies
    read before it in ``.replies``, and leaves bulk mode (upstream raised the
    connection error and stayed in bulk mode).
    """

    _cluster = False

    def __init__(self, **kwargs):
        self._conn = Connection(**kwargs)
        # A plain attribute the connection sets when it closes (pools read it
        # on every release: see Connection.closed).
        self.closed = False
        self._conn._owner = self
        self._bulk_size = 0
        self._bulk_results = None
        self._buffer = None  # a CommandBuffer while in bulk mode
        self._bind_fast_path()

    def _bind_fast_path(self):
        # ``client.execute`` is bound straight to the connection's execute
        # (normal mode) or to the buffer's add (bulk mode): no Python frame of
        # ours per command.  A subclass that overrides execute keeps its
        # override, which reaches the same place through Client.execute.
        if type(self).execute is Client.execute:
            buffer = self._buffer
            self.execute = self._conn.execute if buffer is None else buffer.add


    def close(self):
        self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # -- commands ------------------------------------------------------------
    def execute(self, *args):
        """Run one command and return its reply (None in bulk mode)."""
        buffer = self._buffer
        if buffer is None:
            return self._conn.execute(*args)
        # Bulk mode: packed now (a bad argument raises here and nothing is
        # queued), written when the batch is full.
        buffer.add(*args)
        return None

    # -- bulk mode -----------------------------------------------------------
    @property
    def bulk(self):
        return self._buffer is not None

    def bulk_start(self, bulk_size=5000, keep_results=True):
        """Buffer commands; every ``bulk_size`` commands, write them at once and read the replies.

        ``bulk_size`` 0, None or negative: replies are only read by bulk_stop().
        """
        self._bulk_begin(bulk_size, keep_results)
        self._buffer = CommandBuffer(self._bulk_size, BULK_WRITE_LIMIT, self._bulk_on_full)
        self._bind_fast_path()

    def bulk_stop(self):
        """Flush and leave bulk mode.

        Returns every reply since bulk_start in command order (error replies as
        exception instances), or None when keep_results was False.  If a flush
        failed (this one, or an automatic one earlier), raises PyRedisBulkError
        chained to that failure, with the replies read before it in
        ``.replies``.  Either way the client leaves bulk mode (details:
        client.bulk.BulkBookkeeping).
        """
        return self._bulk_stop()

    def _bulk_leave(self):
        self._buffer = None  # also breaks the buffer -> bound method -> client cycle
        self._bind_fast_path()

    def _bulk_on_full(self):
        """Called by the buffer: a whole batch (flush) or too many bytes (write only)."""
        if self._buffer.pending == self._bulk_size:
            self._bulk_flush()
        else:
            self._bulk_write()

    def _bulk_write(self):
        """Send what is buffered (one sendall); replies stay pending."""
        data = self._buffer.take()
        if data:
            try:
                self._conn._send(data)
            except BaseException as exc:
                self._bulk_failed(exc)
                raise

    def _bulk_flush(self):
        """Write what is buffered and read every pending reply (one read loop)."""
        buffer = self._buffer
        pending = buffer.pending
        buffer.pending = 0
        try:
            self._bulk_write()
            if pending:
                results = self._bulk_results
                self._conn.read_replies(pending, _DISCARD if results is None else results)
        except BaseException as exc:
            # The connection is closed by now: nothing buffered can be sent.
            # The replies read before the failure stay in the results.
            buffer.take()
            self._bulk_failed(exc)
            raise
