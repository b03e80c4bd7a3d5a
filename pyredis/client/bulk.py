"""Bulk-mode bookkeeping shared by Client, AsyncClient, HashClient and
AsyncHashClient (no I/O here: buffering, writing and reading stay with each
client, whose ``bulk`` property says whether it is in bulk mode)."""
from pyredis.exceptions import PyRedisBulkError, PyRedisError

__all__ = ["BulkBookkeeping", "_DISCARD", "bulk_failed"]


class BulkBookkeeping:
    """The checks and state of ``bulk_start`` / ``bulk_stop``: the batch size
    (``_bulk_size``, 0: replies read only by ``bulk_stop``) and the replies
    kept (``_bulk_results``, None with ``keep_results=False``)."""

    __slots__ = ()

    def _bulk_begin(self, bulk_size, keep_results):
        """bulk_start's checks and state; the caller then sets up its buffers."""
        if self.bulk:
            raise PyRedisError("Already in bulk mode")
        self._bulk_size = bulk_size if bulk_size and bulk_size > 0 else 0
        self._bulk_results = [] if keep_results else None

    def _bulk_check(self):
        """bulk_stop's check, before its flush."""
        if not self.bulk:
            raise PyRedisError("Not in bulk mode")

    def _bulk_take_results(self):
        """What bulk_stop returns: every reply since bulk_start (or None)."""
        results = self._bulk_results
        self._bulk_results = None
        return results


def bulk_failed(replies, cause):
    """The PyRedisBulkError of a bulk_stop() that failed with ``cause``;
    ``replies`` are those read before it (None: keep_results=False)."""
    return PyRedisBulkError("bulk_stop() could not read every reply: %s" % (cause,),
                            replies or ())


class _DiscardList:
    """A write-only sink for replies nobody keeps (keep_results=False)."""

    __slots__ = ()

    @staticmethod
    def append(_reply):
        pass


_DISCARD = _DiscardList()
