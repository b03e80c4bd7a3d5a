"""AsyncClient: one asyncio connection, every command mixin except Subscribe."""
import sys

from pyredis import commands
from pyredis.client.bulk import _DISCARD, BulkBookkeeping
from pyredis.client.client import BULK_WRITE_LIMIT
from pyredis.connection.async_connection import AsyncConnection
from pyredis.protocol import CommandBuffer


class AsyncClient(
    BulkBookkeeping,
    *commands.CLIENT_MIXINS,
):
    """A single asyncio connection to a Redis server; command methods return
    coroutines (``await client.get("k")``).

    All keyword arguments go to :class:`~pyredis.connection.AsyncConnection`.

    Sharing one client between concurrent tasks is safe: commands are served
    one at a time, in the order the tasks asked, and each task gets its own
    reply (upstream interleaved replies between tasks).  They do not overlap
    on the wire, so use an :class:`~pyredis.AsyncPool` for concurrency; and a
    task cancelled while waiting for its reply closes the connection (its
    reply is still due), after which every user of the client gets
    ``PyRedisConnError``.  Transactions (MULTI ... EXEC) need the client to
    themselves: lease it from a pool (``async with pool.lease() as c``).

    Bulk mode (new: upstream's docs promised it, its code had none):
    ``bulk_start(bulk_size=5000, keep_results=True)`` (synchronous), then each
    ``await client.set(...)`` only buffers the command, every ``bulk_size``
    commands the batch is written at once and its replies read, and
    ``await client.bulk_stop()`` flushes and returns every reply in command
    order (error replies as exception instances), or None with
    ``keep_results=False``.  Bulk mode is for one task at a time.
    """

    _cluster = False

    def __init__(self, **kwargs):
        self._conn = AsyncConnection(**kwargs)
        self.closed = False  # kept in step by the connection (see Connection.closed)
        self._conn._owner = self
        self._bulk_size = 0
        self._bulk_results = None
        self._buffer = None  # a CommandBuffer while in bulk mode
        self._bind_fast_path()

    def _bind_fast_path(self):
        # ``client.execute`` is the connection's execute (normal mode) or the
        # bulk-mode adder: no coroutine frame of ours in between.
        if type(self).execute is AsyncClient.execute:
            self.execute = self._conn.execute if self._buffer is None else self._bulk_add

    async def close(self):
        await self._conn.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        await self.close()

    # -- commands ------------------------------------------------------------
    async def execute(self, *args):
        """Run one command and return its reply (None in bulk mode)."""
        if self._buffer is None:
            return await self._conn.execute(*args)
        return await self._bulk_add(*args)

    # -- bulk mode -----------------------------------------------------------
    @property
    def bulk(self):
        return self._buffer is not None

    def bulk_start(self, bulk_size=5000, keep_results=True):
        """Buffer commands; every ``bulk_size`` commands, write them at once and read the replies.

        ``bulk_size`` 0, None or negative: replies are only read by bulk_stop().
        """
        self._bulk_begin(bulk_size, keep_results)
        # The buffer never calls back: flushing needs an await, done in _bulk_add.
        self._buffer = CommandBuffer(0, sys.maxsize, None)
        self._bind_fast_path()

    async def bulk_stop(self):
        """Flush and leave bulk mode; return the replies since bulk_start (or None)."""
        self._bulk_check()
        await self._bulk_flush()
        self._buffer = None
        results = self._bulk_take_results()
        self._bind_fast_path()
        return results

    async def _bulk_add(self, *args):
        buffer = self._buffer
        buffer.add(*args)  # packed now: a bad argument raises and queues nothing
        if buffer.pending == self._bulk_size:
            await self._bulk_flush()
        elif len(buffer) >= BULK_WRITE_LIMIT:
            # Bounded memory: send what is packed; the replies stay pending.
            await self._conn.send_packed(buffer.take())
        return None

    async def _bulk_flush(self):
        buffer = self._buffer
        pending = buffer.pending
        buffer.pending = 0
        data = buffer.take()
        if not pending and not data:
            return
        results = self._bulk_results
        await self._conn.execute_many(data, pending, _DISCARD if results is None else results)
