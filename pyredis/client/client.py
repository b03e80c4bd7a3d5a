"""Client: one connection, every command mixin except Subscribe, bulk mode."""
from pyredis import commands
from pyredis.connection.connection import Connection
from pyredis.exceptions import PyRedisError
from pyredis.protocol import pack_command

# In bulk mode, buffered commands are written out (replies still unread)
# once they exceed this many bytes, so a large bulk_size or large values
# cannot pile up unbounded memory before the first write.
BULK_WRITE_LIMIT = 1 << 20


class Client(
    commands.BaseCommand,
    commands.Connection,
    commands.Geo,
    commands.Hash,
    commands.HyperLogLog,
    commands.Key,
    commands.List,
    commands.Publish,
    commands.Scripting,
    commands.Set,
    commands.SSet,
    commands.String,
    commands.Transaction,
):
    """A single connection to a Redis server (not thread-safe; pools lease it).

    All keyword arguments go to :class:`~pyredis.connection.Connection`.
    """

    _cluster = False

    def __init__(self, **kwargs):
        self._conn = Connection(**kwargs)
        self._bulk = False
        self._bulk_size = 0
        self._bulk_results = None
        self._bulk_buf = None  # packed commands not yet written
        self._bulk_pending = 0  # commands whose replies are not read yet
        self._bind_fast_path()

    def _bind_fast_path(self):
        # Outside bulk mode ``client.execute`` is the connection's own execute:
        # one Python call less per command.  A subclass that overrides execute
        # keeps its override.
        if type(self).execute is Client.execute:
            self.execute = self._conn.execute

    @property
    def closed(self):
        return self._conn.closed

    def close(self):
        self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # -- commands ------------------------------------------------------------
    def execute(self, *args):
        """Run one command and return its reply (None in bulk mode)."""
        if not self._bulk:
            return self._conn.execute(*args)
        # Bulk mode: pack now (a bad argument raises here and nothing is
        # queued), write when the batch is full.
        buf = self._bulk_buf
        buf += pack_command(args)
        pending = self._bulk_pending + 1
        self._bulk_pending = pending
        if pending == self._bulk_size:
            self._bulk_flush()
        elif len(buf) >= BULK_WRITE_LIMIT:
            self._bulk_write()
        return None

    # -- bulk mode -----------------------------------------------------------
    @property
    def bulk(self):
        return self._bulk

    def bulk_start(self, bulk_size=5000, keep_results=True):
        """Buffer commands; every ``bulk_size`` commands, write them at once and read the replies.

        ``bulk_size`` 0, None or negative: replies are only read by bulk_stop().
        """
        if self._bulk:
            raise PyRedisError("Already in bulk mode")
        self._bulk_size = bulk_size if bulk_size and bulk_size > 0 else 0
        self._bulk_results = [] if keep_results else None
        self._bulk_buf = bytearray()
        self._bulk_pending = 0
        self._bulk = True
        self.__dict__.pop("execute", None)  # the class method handles bulk mode

    def bulk_stop(self):
        """Flush and leave bulk mode.

        Returns every reply since bulk_start in command order (error replies as
        exception instances), or None when keep_results was False.
        """
        if not self._bulk:
            raise PyRedisError("Not in bulk mode")
        self._bulk_flush()
        self._bulk = False
        results = self._bulk_results
        self._bulk_results = None
        self._bulk_buf = None
        self._bind_fast_path()
        return results

    def _bulk_write(self):
        """Send what is buffered (one sendall); replies stay pending."""
        buf = self._bulk_buf
        if buf:
            self._bulk_buf = bytearray()
            self._conn._send(buf)

    def _bulk_flush(self):
        """Write what is buffered and read every pending reply (one read loop)."""
        pending = self._bulk_pending
        self._bulk_pending = 0
        try:
            self._bulk_write()
            if pending:
                results = self._bulk_results
                self._conn.read_replies(pending, _DISCARD if results is None else results)
        except BaseException:
            # The connection is closed by now: nothing buffered can be sent.
            self._bulk_buf = bytearray()
            raise


class _DiscardList:
    """A write-only sink for replies nobody keeps (keep_results=False)."""

    __slots__ = ()

    @staticmethod
    def append(_reply):
        pass


_DISCARD = _DiscardList()
