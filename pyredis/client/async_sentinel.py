"""AsyncSentinelClient: the asyncio twin of SentinelClient."""
from pyredis.client.sentinel import (
    CONNECTION_FAILURES,
    SentinelSettings,
    _failure,
    no_sentinel_answered,
)
import pyredis.client
from pyredis.exceptions import ReplyError
from pyredis.helper import dict_from_list

__all__ = ["AsyncSentinelClient"]


class AsyncSentinelClient(SentinelSettings):
    """A connection to one of several Sentinels, for ``SENTINEL ...`` queries,
    for asyncio: ``execute``, ``get_master``, ``get_masters``,
    ``get_replicas`` (alias ``get_slaves``), ``close`` and ``next_sentinel``
    are coroutines.

    Same constructor and behaviour as :class:`~pyredis.SentinelClient` (the
    sentinel list and reply handling are shared): a sentinel that fails -
    refuses the connection, times out, hangs up, sends garbage - is skipped
    and the command goes to the next one, each tried at most once per call;
    an error reply is an answer and is raised.  Tasks may share a client: a
    failing sentinel is skipped once, not once per task.  Where this differs
    from pyredis 1.0: as SentinelClient, plus ``async with``.
    """

    # Looked up when a connection is made, in pyredis.client, as upstream did.
    _connection_class = property(lambda self: pyredis.client.AsyncConnection)

    # -- connection ------------------------------------------------------------
    async def execute(self, *args):
        """Send one command to the current sentinel, moving on while sentinels fail."""
        failures = []
        for _ in range(len(self._sentinels)):
            conn = self._current()
            try:
                return await conn.execute(*args)
            except CONNECTION_FAILURES as exc:
                failures.append(_failure(conn, exc))
                if self._drop(conn):
                    await conn.close()
        raise no_sentinel_answered(failures)

    async def close(self):
        """Close the connection to the current sentinel (the next call opens a new one)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    async def next_sentinel(self):
        """Close, and make the next sentinel in the list the current one."""
        await self.close()
        self._sentinels.rotate(-1)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        await self.close()

    # -- queries ---------------------------------------------------------------
    async def get_master(self, name):
        """``SENTINEL MASTER name`` as a dict (``b"ip"``, ``b"port"``, ``b"flags"``...)."""
        return dict_from_list(await self.execute(b"SENTINEL", b"MASTER", name))

    async def get_masters(self):
        """``SENTINEL MASTERS``: one dict per monitored master."""
        return [dict_from_list(item) for item in await self.execute(b"SENTINEL", b"MASTERS")]

    async def get_replicas(self, name):
        """The replicas of master ``name`` as sentinel sees them: one dict each."""
        try:
            items = await self.execute(b"SENTINEL", self._replicas_cmd, name)
        except ReplyError as exc:
            if not self._fall_back(exc):
                raise
            items = await self.execute(b"SENTINEL", self._replicas_cmd, name)
        return [dict_from_list(item) for item in items]

    get_slaves = get_replicas
