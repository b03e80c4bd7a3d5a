"""Pool: a BasePool of Clients to one standalone server (TCP, TLS or unix socket)."""
from pyredis import commands
from pyredis.client.client import Client
from pyredis.pool.base import BasePool
from pyredis.pool.settings import ServerPoolSettings


class Pool(
    BasePool,
    ServerPoolSettings,
    *commands.POOL_MIXINS,
):
    """Thread-safe pool of :class:`~pyredis.Client` connections to one server.

    ``ssl=True`` uses ``ssl.create_default_context()``; ``ssl_context`` gives
    your own.  Either is made once and shared by every pooled connection.
    Other keyword arguments go to :class:`~pyredis.pool.base.BasePool`.
    """

    _cluster = False
    _client_class = Client

    def __init__(self, host=None, port=6379, unix_sock=None, ssl=False, ssl_context=None,
                 **basepool_kwargs):
        self._set_target(host, port, unix_sock, ssl, ssl_context)
        super().__init__(**basepool_kwargs)

    _connect = ServerPoolSettings._connect  # (the base pool's would come first)
