"""PubSubClient: one connection in subscriber mode."""
import pyredis.client as _package
from pyredis import commands
from pyredis.connection.settings import CLOSED_PROPERTY


class PubSubClient(commands.Subscribe):
    """Subscribe with ``subscribe``/``psubscribe``, then poll messages with ``get()``.

    All keyword arguments go to :class:`~pyredis.connection.Connection`.
    Not thread-safe.

    Where it differs from pyredis 1.0: in RESP3 (after ``HELLO 3``) messages
    are push frames, and ``get()`` returns them like any other frame (a
    ``push_handler`` only sees pushes that arrive during the connect
    handshake); RESP3 ``#f`` is returned as ``False``; a timeout with half a
    message received closes the connection.  ``pyredis.client.Connection``
    is looked up at construction,
    as upstream did; ``closed`` turns True when the connection closes, or,
    for a connection object that is not ours (a test double), on ``close()``.
    """

    _cluster = False
    closed = CLOSED_PROPERTY

    def __init__(self, **kwargs):
        self._conn = _package.Connection(**kwargs)  # looked up now, as upstream did
        # ``_closed``, read by ``closed``: the connection sets it when it closes.
        self._closed = False
        self._conn._owner = self

    def close(self):
        self._conn.close()
        self._closed = True

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
