"""Exception hierarchy (docs/design/contract.md, "Exceptions").

ReplyError and ProtocolError are always our own classes under PyRedisError,
whether or not hiredis is installed (upstream swapped in hiredis' classes,
which made ``except`` clauses depend on the environment).

ArgumentError is ours too: upstream refused a bad command argument with
ValueError, hiredis with TypeError, and one class deriving from both keeps
either ``except`` clause working.  It is importable from here and from
``pyredis`` but, like PyRedisURLError upstream, not in ``__all__``.
"""

__all__ = [
    "PyRedisError",
    "PyRedisConnError",
    "PyRedisConnReadTimeout",
    "PyRedisConnClosed",
    "PyRedisURLError",
    "ProtocolError",
    "ReplyError",
]


class PyRedisError(Exception):
    """Base class of every error pyredis raises on purpose."""


class PyRedisURLError(PyRedisError):
    """get_by_url(): bad scheme, host list or options."""


class PyRedisConnError(PyRedisError):
    """Connect failure, reset, broken pipe, or use after close."""


class PyRedisConnReadTimeout(PyRedisError):
    """No reply within read_timeout (deliberately not a PyRedisConnError)."""


class PyRedisConnClosed(PyRedisError):
    """The peer closed the connection while we were reading."""


class ReplyError(PyRedisError):
    """The server answered with an error reply ("-ERR ...")."""


class ProtocolError(PyRedisError):
    """The byte stream is not valid RESP."""


class ArgumentError(TypeError, ValueError):
    """A command argument of a type that cannot be sent (None, Decimal, list...).

    Raised by the command writer (``writer``, ``pack_command``, ``to_bytes``,
    bulk mode) before anything is sent; the message names the type.  Not a
    PyRedisError: it is a programming error, not a Redis failure.
    """


class PyRedisBulkError(PyRedisError):
    """``bulk_stop()`` could not return every reply of the batch.

    Chained (``__cause__``) to the failure; ``replies`` holds the replies read
    before it, in command order.  The client has left bulk mode.
    """

    def __init__(self, message, replies=()):
        super().__init__(message)
        self.replies = list(replies)
