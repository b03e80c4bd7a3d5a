"""AsyncClient: one pipelined asyncio connection, every command mixin except Subscribe."""
import sys

from pyredis import commands
from pyredis.client.bulk import _DISCARD, BulkBookkeeping, bulk_failed
from pyredis.client.client import BULK_WRITE_LIMIT
from pyredis.connection import AsyncConnection  # looked up here at __init__, as upstream
from pyredis.protocol import CommandBuffer

__all__ = ["AsyncClient"]


class AsyncClient(
    BulkBookkeeping,
    *commands.CLIENT_MIXINS,
):
    """A single asyncio connection to a Redis server; command methods return
    awaitables (``await client.get("k")``).

    All keyword arguments go to :class:`~pyredis.connection.AsyncConnection`.

    Where this differs from pyredis 1.0:

    * Tasks may share one client: their commands are pipelined on its one
      connection (those issued in one turn of the event loop go out in one
      write) and each task gets its own reply (upstream interleaved replies
      between tasks).  A task cancelled while waiting has its reply read and
      dropped; the others are unaffected - except that cancelling a blocking
      command (BLPOP, XREAD BLOCK...) closes the connection.  A blocking
      command holds up every reply queued behind it, and transactions
      (MULTI ... EXEC) need the connection to themselves: lease a client
      from a pool for those (``async with pool.lease() as c``).
    * Like upstream, a client never reconnects: once its connection has
      failed or was closed, ``closed`` is True and every command raises
      ``PyRedisConnError``.  Pools replace such clients.
    * Command methods return an awaitable that is also a coroutine
      (``asyncio.create_task(client.get("k"))`` works); nothing is sent
      until it is awaited or its task runs.
    * ``closed`` is a read-only property.
    * Bulk mode (upstream's docs promised it, its code had none):
      ``bulk_start(bulk_size=5000, keep_results=True)`` (synchronous), then
      each ``await client.set(...)`` only buffers the command; every
      ``bulk_size`` commands the batch is written at once and its replies
      read; ``await client.bulk_stop()`` flushes and returns every reply in
      command order (error replies as exception instances), or None with
      ``keep_results=False``.  A ``bulk_stop()`` that cannot return every
      reply raises ``PyRedisBulkError`` (``.replies``: those read before the
      failure) and leaves bulk mode.  Bulk mode is for one task at a time.
    """

    _cluster = False

    def __init__(self, **kwargs):
        self._conn = AsyncConnection(**kwargs)
        # The connection's pipelining protocol, for pools that share this client.
        self._pipeline = getattr(self._conn, "_proto", None)
        self._bulk_size = 0
        self._bulk_results = None
        self._buffer = None  # a CommandBuffer while in bulk mode
        self._bulk_due = 0   # commands buffered or sent since the last full flush
        self._bulk_tail = None  # the future of the last batch sent in bulk mode
        self._bulk_error = None  # why an automatic flush failed (replies were lost)
        self._bind_fast_path()

    def _bind_fast_path(self):
        # ``client.execute`` is the connection's execute (normal mode) or the
        # bulk-mode adder: no coroutine frame of ours in between.  Not while
        # execute is overridden, or patched on the class (mock.patch.object).
        if type(self).execute is _EXECUTE:
            self.execute = self._conn.execute if self._buffer is None else self._bulk_add

    @property
    def closed(self):
        """True once the connection is closed (by close(), a failure or the server)."""
        return self._conn.closed

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
        self._bulk_due = 0
        self._bulk_error = None
        self._bind_fast_path()

    async def bulk_stop(self):
        """Flush and leave bulk mode; return the replies since bulk_start (or None).

        Raises ``PyRedisBulkError`` (chained to the failure, ``.replies`` the
        replies read before it) when not every reply could be read.
        """
        self._bulk_check()
        results = self._bulk_results
        try:
            await self._bulk_flush()
            if self._bulk_error is not None:  # an earlier flush lost replies
                raise self._bulk_error
        except Exception as exc:
            self._bulk_end()
            raise bulk_failed(results, exc) from exc
        except BaseException:
            self._bulk_end()
            raise
        self._bulk_end()
        return results

    def _bulk_end(self):
        self._buffer = None
        self._bulk_tail = None
        self._bulk_take_results()
        self._bind_fast_path()

    async def _bulk_add(self, *args):
        buffer = self._buffer
        buffer.add(*args)  # packed now: a bad argument raises and queues nothing
        self._bulk_due += 1
        if self._bulk_due == self._bulk_size:
            await self._bulk_flush()
        elif len(buffer) >= BULK_WRITE_LIMIT:
            await self._bulk_send()  # bounded memory: send what is packed
        return None

    async def _bulk_send(self):
        """Send the buffered commands; their replies are collected as they come."""
        buffer = self._buffer
        count = buffer.pending
        buffer.pending = 0
        data = buffer.take()
        if count:
            results = self._bulk_results
            self._bulk_tail = await self._conn.send_packed(
                data, count, _DISCARD if results is None else results)

    async def _bulk_flush(self):
        """Send what is buffered, then wait for every reply due."""
        self._bulk_due = 0
        try:
            await self._bulk_send()
            tail, self._bulk_tail = self._bulk_tail, None
            if tail is not None:
                await tail
        except Exception as exc:
            self._bulk_error = exc
            raise


_EXECUTE = AsyncClient.execute
