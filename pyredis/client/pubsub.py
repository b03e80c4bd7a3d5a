"""PubSubClient: one connection in subscriber mode."""
from pyredis import commands
from pyredis.connection.connection import Connection


class PubSubClient(commands.Subscribe):
    """Subscribe with ``subscribe``/``psubscribe``, then poll messages with ``get()``.

    All keyword arguments go to :class:`~pyredis.connection.Connection`.
    Not thread-safe.
    """

    _cluster = False

    def __init__(self, **kwargs):
        self._conn = Connection(**kwargs)
        # A plain attribute the connection sets when it closes (pools read it
        # on every release: see Connection.closed).
        self.closed = False
        self._conn._owner = self


    def close(self):
        self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def write(self, *args):
        """Send one command (subscribe, unsubscribe, ping...); its confirmation comes from get()."""
        self._conn.write(*args)

    def get(self):
        """Return the next message.

        Raises PyRedisConnReadTimeout after read_timeout with no message; the
        connection stays open then (unless a message was half received), so
        callers can poll.
        """
        return self._conn.read(close_on_timeout=False)
