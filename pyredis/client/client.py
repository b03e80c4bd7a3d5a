"""Client: one connection, every command mixin except Subscribe, bulk mode."""
import pyredis.client as _package
from pyredis import commands
from pyredis.client.bulk import _DISCARD, BulkBookkeeping
from pyredis.client.foreign import UpstreamCalls
from pyredis.connection.connection import Connection
from pyredis.connection.settings import CLOSED_PROPERTY
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

    All keyword arguments go to :class:`~pyredis.connection.Connection`
    (``push_handler`` included: RESP3 push frames, such as the invalidations
    of ``CLIENT TRACKING``, go there and are never a command's reply).

    Where it differs from pyredis 1.0:

    * A command never gets a reply that is not its own: push frames go to
      ``push_handler`` (or are dropped), and a connection holding bytes
      nobody asked for is closed (see Connection).  RESP3 ``#f`` is
      ``False``, returned like any value.
    * A failure in the middle of a reply closes the connection (``closed``
      turns True); it never reconnects.
    * With ``encoding`` set, status replies (``OK``, ``QUEUED``, ``PONG``)
      are ``str``, as upstream's were with hiredis installed.
    * Bulk mode buffers the commands and writes each batch with one
      ``sendall`` (at ``bulk_size`` commands or ``bulk_stop()``; past 1 MiB
      of buffered commands early, to bound memory) and reads its replies in
      one loop (upstream sent every command at once); bulk payloads are
      returned byte-exact.  A ``bulk_stop()`` that cannot return every
      reply of the batch (a flush failed, its own or an automatic one)
      raises ``PyRedisBulkError`` chained to the failure, with the replies
      read before it in ``.replies``, and leaves bulk mode (upstream raised
      the connection error and stayed in bulk mode).
    * ``with client:`` closes the client.
    * ``repr()`` shows the target, database and connection state, never the
      password (upstream: Python's default repr).
    * ``execute`` is bound per instance to the connection's request path
      (or, in bulk mode, to the batch buffer) when the class's ``execute`` is
      the real one at construction, ``bulk_start`` or ``bulk_stop``; patch
      ``Client.execute`` before making the clients you want it to reach.
      ``pyredis.client.Connection`` is looked up at construction, as
      upstream did; a connection object that is not ours (a test double) is
      driven with upstream's calls, ``write()`` per command and ``read()``
      per reply, and ``closed`` then turns True on ``close()``.
    """

    _cluster = False
    closed = CLOSED_PROPERTY

    def __init__(self, **kwargs):
        conn = _package.Connection(**kwargs)  # looked up now, as upstream did
        # ``_closed``, read by ``closed``: the connection sets it when it closes.
        self._closed = False
        conn._owner = self
        self._conn = conn if isinstance(conn, Connection) else UpstreamCalls(conn)
        self._bulk_size = 0
        self._bulk_results = None
        self._buffer = None  # a CommandBuffer while in bulk mode
        self._bind_fast_path()

    def _bind_fast_path(self):
        # ``client.execute`` is bound straight to the connection's execute
        # (normal mode) or to the buffer's add (bulk mode): no Python frame of
        # ours per command.  A subclass that overrides execute (or a patched
        # Client.execute) is called instead, and reaches the same place
        # through Client.execute.
        if type(self).execute is _EXECUTE:
            buffer = self._buffer
            self.execute = self._conn.execute if buffer is None else buffer.add
        else:
            self.__dict__.pop("execute", None)

    def close(self):
        self._conn.close()
        self._closed = True

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
        conn = self._conn
        if isinstance(conn, UpstreamCalls):
            self._buffer = conn.bulk_buffer(self._bulk_size, self._bulk_on_full)
        else:
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
        """Write what is buffered and read every pending reply (one read loop);
        then what follows the last reply is checked (see Connection)."""
        buffer = self._buffer
        pending = buffer.pending
        buffer.pending = 0
        try:
            self._bulk_write()
            if pending:
                results = self._bulk_results
                self._conn.read_replies(pending, _DISCARD if results is None else results)
                self._conn._finish()
        except BaseException as exc:
            # The connection is closed by now: nothing buffered can be sent.
            # The replies read before the failure stay in the results.
            buffer.take()
            self._bulk_failed(exc)
            raise


_EXECUTE = Client.execute  # the real one: instances bind the fast path only if it is in place

