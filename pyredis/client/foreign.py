"""A client's view of a connection object that is not pyredis' own.

Upstream's clients look ``pyredis.client.Connection`` up when they are made,
and tests put doubles there (``mock.patch("pyredis.client.Connection")``).
Such an object is driven with upstream's calls - ``write(*args)`` per
command, ``read()`` per reply - under the names our clients use.
"""

__all__ = ["UpstreamCalls"]


class UpstreamCalls:
    """What Client uses of a connection (``execute``, a bulk buffer,
    ``_send``, ``read_replies``, ``_finish``, ``close``) done with upstream's
    calls."""

    __slots__ = ("_conn",)

    def __init__(self, conn):
        self._conn = conn

    def execute(self, *args):
        self._conn.write(*args)
        return self._conn.read()

    def bulk_buffer(self, size, on_full):
        return _WriteThrough(self._conn.write, size, on_full)

    def _send(self, data):
        pass  # _WriteThrough.take() hands over nothing: each command went out when added

    def read_replies(self, count, out):
        read = self._conn.read
        for _ in range(count):
            out.append(read(raise_on_result_err=False))

    def _finish(self):
        pass  # nothing to check: the stream is the double's

    def close(self):
        self._conn.close()


class _WriteThrough:
    """Bulk mode as upstream had it: each command written when it is added, its
    reply read at the flush (``on_full`` once ``size`` are pending)."""

    __slots__ = ("_write", "_size", "_on_full", "pending")

    def __init__(self, write, size, on_full):
        self._write = write
        self._size = size
        self._on_full = on_full
        self.pending = 0

    def add(self, *args):
        self._write(*args)
        self.pending += 1
        if self.pending == self._size:
            self._on_full()

    def take(self):
        return b""
