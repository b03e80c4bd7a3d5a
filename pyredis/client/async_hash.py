"""AsyncHashClient: the asyncio twin of HashClient (static client-side sharding)."""
import sys

from pyredis import commands
from pyredis.client.bulk import _DISCARD, bulk_failed
from pyredis.client.client import BULK_WRITE_LIMIT
from pyredis.client.hash import BucketRouting, in_command_order
import pyredis.client
from pyredis.exceptions import PyRedisConnError
from pyredis.protocol import CommandBuffer

__all__ = ["AsyncHashClient"]


class AsyncHashClient(
    BucketRouting,
    *commands.CLIENT_MIXINS,
):
    """Static sharding over independent servers, for asyncio: each key lives on
    bucket ``slot_from_key(key) % len(buckets)``, exactly as with
    :class:`~pyredis.HashClient` (same buckets, same placement; the routing
    code is shared).  Command methods return coroutines
    (``await client.get("k")``); ``execute``, ``bulk_stop`` and ``close`` are
    coroutines, ``bulk_start`` is synchronous (as upstream).

    Each bucket has one :class:`~pyredis.connection.AsyncConnection`
    (looked up as ``pyredis.client.AsyncConnection``, as upstream), made on
    its first command.  Tasks may share a client: each bucket connection
    pipelines their commands and every task gets its own reply; a task
    cancelled while waiting has its reply read and dropped.

    Where this differs from pyredis 1.0 (as HashClient):

    * Any failure that closes a bucket connection (``PyRedisConnError``,
      ``PyRedisConnReadTimeout``, ``PyRedisConnClosed``, ``ProtocolError``, a
      blocking command cancelled while waiting) closes the whole client,
      for good: ``closed`` turns True and every later command raises
      ``PyRedisConnError``, so a pool drops it.  ``closed`` also turns True
      as soon as a server closes an idle bucket connection.  An error reply
      closes nothing.
    * Bulk mode buffers commands per bucket and writes each bucket's batch at
      once per flush, all buckets before any reply is read; results come in
      command order.  A failed flush closes the client; that batch's replies
      are lost and the client stays in bulk mode until ``bulk_stop()``, which
      then raises ``PyRedisBulkError`` (``.replies``: those read before the
      failure, in command order) and leaves bulk mode.
    * An empty bucket list raises ``PyRedisError``; unix socket buckets
      (a path as a str); TLS (``ssl=True`` or ``ssl_context=``);
      ``async with client:``.
    """

    _cluster = True
    _tails = None    # bulk mode: per bucket, the future of its last batch sent
    _replies = None  # bulk mode: per bucket, the replies of this flush so far
    _bulk_error = None  # why a flush failed (its replies were lost)
    # Looked up when a connection is made, in pyredis.client, as upstream did.
    _connection_class = property(lambda self: pyredis.client.AsyncConnection)

    # -- connections ---------------------------------------------------------
    def _close_now(self):
        """Close every bucket connection without waiting (safe in any except block)."""
        self._mark_closed()
        for conn in self._conns:
            if conn is not None:
                conn._close_now()

    async def close(self):
        """Close every bucket connection, for good.  Idempotent."""
        self._close_now()
        for conn in self._conns:
            if conn is not None:
                await conn.close()  # waits until the transport is gone

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        await self.close()

    # -- commands ------------------------------------------------------------
    async def execute(self, *args, shard_key=None, sock=None):
        """Run one command on the bucket of ``shard_key`` or on bucket ``sock``.

        Returns the reply (an error reply is raised), or None in bulk mode.
        """
        index = self._conn_index(shard_key, sock)
        if self.closed:
            # Also when only one bucket's server hung up: closed means all of it.
            self._close_now()
            raise PyRedisConnError("Connection Gone")
        order = self._order
        if order is None:
            conn = self._conns[index]
            if conn is None:
                conn = self._connection(index)
            try:
                return await conn.execute(*args)
            except BaseException:
                if conn.closed:  # that bucket is gone: so is the client
                    self._close_now()
                raise
        # Bulk mode: packed now (a bad argument raises here and nothing is
        # queued), written when the batch is full.
        buffer = self._buffers[index]
        if buffer is None:
            self._connection(index)
            # Never calls back: writing needs an await, done below.
            buffer = self._buffers[index] = CommandBuffer(0, sys.maxsize, None)
        buffer.add(*args)
        order.append(index)
        if len(order) == self._bulk_size:
            await self._bulk_flush()
        elif len(buffer) >= BULK_WRITE_LIMIT:
            # Bounded memory: send what is packed; the replies stay pending.
            await self._bulk_write(index)
        return None

    # -- bulk mode -----------------------------------------------------------
    async def bulk_stop(self):
        """Flush and leave bulk mode.

        Returns every reply since bulk_start in command order (error replies as
        exception instances), or None when keep_results was False.  Raises
        ``PyRedisBulkError`` (chained to the failure; ``.replies``: the
        replies read before it, in command order) when not every reply could
        be read.  Either way the client leaves bulk mode.
        """
        self._bulk_check()
        try:
            await self._bulk_flush()
            if self._bulk_error is not None:  # an earlier flush lost replies
                raise self._bulk_error
        except Exception as exc:
            raise bulk_failed(self._bulk_leave(), exc) from exc
        except BaseException:
            self._bulk_leave()
            raise
        return self._bulk_leave()

    def _bulk_leave(self):
        self._order = self._buffers = self._tails = self._replies = None
        self._bulk_error = None
        return self._bulk_take_results()

    async def _bulk_write(self, index):
        """Send bucket ``index``'s buffered commands (one write); their replies
        are collected, per bucket, as they come."""
        buffer = self._buffers[index]
        count = buffer.pending
        buffer.pending = 0
        data = buffer.take()
        if not count:
            return
        if self._tails is None:
            self._tails = [None] * len(self._conns)
            self._replies = [[] for _ in self._conns]
        sink = self._replies[index] if self._bulk_results is not None else _DISCARD
        try:
            self._tails[index] = await self._conns[index].send_packed(data, count, sink)
        except BaseException:
            self._close_now()
            raise

    async def _bulk_flush(self):
        """Write every bucket's buffered commands, then wait for every reply."""
        order = self._order
        if not order:
            return
        self._order = []
        buffers = self._buffers
        try:
            for index, buffer in enumerate(buffers):  # all written first: the
                if buffer is not None and buffer.pending:  # servers work in parallel
                    await self._bulk_write(index)
            for tail in self._tails or ():
                if tail is not None:
                    await tail
        except BaseException as exc:
            # Replies of this batch may be left unread on any bucket: none of
            # the connections is in step any more.
            if isinstance(exc, Exception):
                self._bulk_error = exc
            self._close_now()
            if self._replies is not None and self._bulk_results is not None:
                self._bulk_results.extend(_read_so_far(order, self._replies))
            raise
        finally:
            replies = self._replies
            self._tails = self._replies = None
        if self._bulk_results is not None:
            self._bulk_results.extend(in_command_order(order, replies))


def _read_so_far(order, replies):
    """The replies of a failed flush that came in before the first missing
    one, in command order."""
    nexts = [iter(r).__next__ for r in replies]
    out = []
    for index in order:
        try:
            out.append(nexts[index]())
        except StopIteration:
            break
    return out
