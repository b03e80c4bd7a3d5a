"""AsyncPubSubClient: one asyncio connection in subscriber mode."""
from pyredis import commands
from pyredis.connection.async_connection import AsyncConnection


class AsyncPubSubClient(commands.Subscribe):
    """Subscribe with ``await subscribe(...)``/``psubscribe``, then poll messages
    with ``await get()``.

    All keyword arguments go to :class:`~pyredis.connection.AsyncConnection`.
    A task may ``subscribe`` while another waits in ``get()``; two tasks
    calling ``get()`` are served one after the other.
    """

    _cluster = False

    def __init__(self, **kwargs):
        self._conn = AsyncConnection(**kwargs)
        self.closed = False  # kept in step by the connection (see Connection.closed)
        self._conn._owner = self

    async def close(self):
        await self._conn.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        await self.close()

    async def write(self, *args):
        """Send one command (subscribe, unsubscribe, ping...); its confirmation comes from get()."""
        await self._conn.write(*args)

    async def get(self):
        """Return the next message.

        Raises PyRedisConnReadTimeout after read_timeout with no message; the
        connection stays open then (unless a message was half received), so
        callers can poll.
        """
        return await self._conn.read(close_on_timeout=False)
