"""The failures Connection and AsyncConnection raise, worded in one place so
that the twins say the same thing (users and tests match on these texts)."""
from pyredis.exceptions import PyRedisConnError, PyRedisConnReadTimeout

__all__ = ["gone", "connect_failed", "write_failed", "read_timeout", "unsolicited", "stream_lost"]


def gone():
    """Any use of a closed connection (they never reconnect)."""
    return PyRedisConnError("Connection Gone")


def connect_failed(target, reason):
    return PyRedisConnError("Failed to connect to %s: %s" % (target, reason))


def write_failed(reason):
    """Part of a command may be on the wire: the connection is closed."""
    return PyRedisConnError("Write failed: %s" % (reason,))


def read_timeout():
    return PyRedisConnReadTimeout("Timeout while reading from the server")


def unsolicited():
    """Bytes nobody asked for arrived (asyncio): the connection is given up."""
    return PyRedisConnError("Unsolicited data from the server: connection closed")


def stream_lost(exc):
    """A pipelined reply queued behind one whose parsing failed."""
    return PyRedisConnError("Connection lost: an earlier reply failed (%s)" % (exc,))
