"""AsyncPool: an AsyncBasePool of AsyncClients to one server (TCP, TLS or unix socket)."""
from pyredis import commands
from pyredis.client import AsyncClient
from pyredis.pool.async_base import AsyncBasePool
from pyredis.pool.settings import ServerPoolSettings


class AsyncPool(
    AsyncBasePool,
    ServerPoolSettings,
    *commands.POOL_MIXINS,
):
    """Pool of :class:`~pyredis.AsyncClient` connections to one server, for one
    event loop; command methods return awaitables (``await pool.get("k")``).

    Ordinary commands of any number of tasks share pipelined connections
    (see :class:`~pyredis.pool.AsyncBasePool`): more tasks than
    ``pool_size`` do not exhaust the pool; blocking and state-changing
    commands get a connection of their own.  ``ssl=True`` uses
    ``ssl.create_default_context()``; ``ssl_context`` gives your own.  Either
    is made once and shared by every pooled connection.  Other keyword
    arguments go to :class:`~pyredis.pool.AsyncBasePool`.  Transactions need
    one connection: ``async with pool.lease() as client:``.  New clients are
    ``AsyncClient`` as this module sees it when they are made (as upstream:
    ``mock.patch("pyredis.pool.async_pool.AsyncClient")`` works).
    """

    _cluster = False
    # Looked up when a client is made, where upstream did (mock.patch works).
    _client_class = property(lambda self: AsyncClient)

    def __init__(self, host=None, port=6379, unix_sock=None, ssl=False, ssl_context=None,
                 **basepool_kwargs):
        self._set_target(host, port, unix_sock, ssl, ssl_context)
        super().__init__(**basepool_kwargs)

    _connect = ServerPoolSettings._connect  # (the base pool's would come first)
