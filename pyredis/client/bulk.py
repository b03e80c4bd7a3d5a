"""Bulk-mode bookkeeping shared by Client, AsyncClient, HashClient and
AsyncHashClient (no I/O here: buffering, writing and reading stay with each
client, whose ``bulk`` property says whether it is in bulk mode)."""
from pyredis.exceptions import PyRedisBulkError, PyRedisError

__all__ = ["BulkBookkeeping", "_DISCARD", "bulk_failed"]


class BulkBookkeeping:
    """The checks and state of ``bulk_start`` / ``bulk_stop``: the batch size
    (``_bulk_size``, 0: replies read only by ``bulk_stop``), the replies kept
    (``_bulk_results``, None with ``keep_results=False``) and the first
    failure that lost replies (``_bulk_failure``).

    What ``bulk_stop()`` does (``_bulk_stop`` for the sync clients):

    * a flush that fails - automatic (the batch is full: ``execute`` raises
      the failure itself, and the client stays in bulk mode) or bulk_stop's
      own - or a write of buffered commands that fails (over the byte
      limit) is recorded with ``_bulk_failed``; the replies read before it
      stay in ``_bulk_results``, in command order (a hash client keeps the
      longest run of commands whose replies were all read);
    * ``bulk_stop()`` flushes only if nothing failed yet, leaves bulk mode
      (``bulk`` False, buffers dropped) whatever happens, then answers with
      ``_bulk_take_results``: every reply (None with ``keep_results=False``);
      or, if a failure was recorded, ``bulk_failed()``'s PyRedisBulkError
      chained to the first failure, with the replies read before it (none
      with ``keep_results=False``); an interrupt of its own flush that is not
      an ``Exception`` (KeyboardInterrupt, asyncio's CancelledError) is
      re-raised as itself.
    """

    __slots__ = ()
    _bulk_failure = None

    def _bulk_begin(self, bulk_size, keep_results):
        """bulk_start's checks and state; the caller then sets up its buffers."""
        if self.bulk:
            raise PyRedisError("Already in bulk mode")
        self._bulk_size = bulk_size if bulk_size and bulk_size > 0 else 0
        self._bulk_results = [] if keep_results else None
        self._bulk_failure = None

    def _bulk_check(self):
        """bulk_stop's check, before its flush."""
        if not self.bulk:
            raise PyRedisError("Not in bulk mode")

    def _bulk_stop(self):
        """bulk_stop() of a sync client, whose ``_bulk_flush()`` and
        ``_bulk_leave()`` (drop the buffers) are its own."""
        self._bulk_check()
        error = None
        if self._bulk_failure is None:
            try:
                self._bulk_flush()
            except BaseException as exc:  # noqa: B902 - answered below
                self._bulk_failed(exc)
                error = exc
        self._bulk_leave()
        return self._bulk_take_results(error)

    def _bulk_failed(self, failure):
        """A flush or a write failed: replies of the batch are lost (the
        first failure is the one bulk_stop reports)."""
        if self._bulk_failure is None:
            self._bulk_failure = failure

    def _bulk_take_results(self, error=None):
        """What bulk_stop returns or raises once out of bulk mode; ``error``
        is what its own flush raised (recorded), or None."""
        results, failure = self._bulk_results, self._bulk_failure
        self._bulk_results = self._bulk_failure = None
        if error is not None and not isinstance(error, Exception):
            raise error
        if failure is None:
            return results
        raise bulk_failed(results, failure) from failure


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
