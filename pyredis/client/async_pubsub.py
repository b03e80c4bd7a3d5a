"""AsyncPubSubClient: one asyncio connection in subscriber mode."""
import pyredis.client
from pyredis import commands

__all__ = ["AsyncPubSubClient"]


class AsyncPubSubClient(commands.Subscribe):
    """Subscribe with ``await subscribe(...)``/``psubscribe``, then poll messages
    with ``await get()``.

    All keyword arguments go to :class:`~pyredis.connection.AsyncConnection`
    (looked up as ``pyredis.client.AsyncConnection`` when the client is made,
    as upstream).  A task may ``subscribe`` while another waits in ``get()``;
    tasks calling ``get()`` together each get the next message, in the order
    they asked; a cancelled ``get()`` takes no message with it.  ``closed``
    is a read-only property.  Messages nobody reads yet stay buffered; past a
    few MiB of them the connection stops reading until ``get()`` is called.
    """

    _cluster = False

    def __init__(self, **kwargs):
        self._conn = pyredis.client.AsyncConnection(**kwargs)

    @property
    def closed(self):
        return self._conn.closed

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
