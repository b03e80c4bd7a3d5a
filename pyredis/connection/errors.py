"""The failures Connection and AsyncConnection raise, worded in one place so
that the twins say the same thing (users and tests match on these texts)."""
from pyredis.exceptions import PyRedisConnError, PyRedisConnReadTimeout

__all__ = ["CommandNotSent", "gone", "connect_failed", "write_failed", "read_timeout",
           "unexpected_data", "closed_while_idle", "unsolicited", "stream_lost"]

# Longest excerpt of stray data quoted in an error message.
_EXCERPT = 80


class CommandNotSent(PyRedisConnError):
    """The connection failed before the command was written (it found data
    nobody asked for, or that the server had hung up, while it sat idle): the
    command did not run, so it can be retried on another connection, as pools
    do once."""


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


def unexpected_data(what):
    """Data nobody asked for was found before a command was sent (``what``
    describes it: a frame's repr, or the reason it could not be read)."""
    what = str(what)
    if len(what) > _EXCERPT:
        what = what[:_EXCERPT] + "..."
    return CommandNotSent("Unexpected data from the server, the connection is closed "
                          "and the command was not sent: %s" % (what,))


def closed_while_idle(reason):
    """The server ended the stream (or reset it) while no command was outstanding."""
    return CommandNotSent("The server closed the connection while it was idle; the command "
                          "was not sent: %s" % (reason,))


def unsolicited():
    """Bytes nobody asked for arrived (asyncio): the connection is given up."""
    return PyRedisConnError("Unsolicited data from the server: connection closed")


def stream_lost(exc):
    """A pipelined reply queued behind one whose parsing failed."""
    return PyRedisConnError("Connection lost: an earlier reply failed (%s)" % (exc,))
