"""Connection settings: checked when a class that makes connections is built
(never at the first command), and AUTH with a user name but no password,
against a real server with ACL users."""
import math
import ssl
from fractions import Fraction

import pytest

from async_support import async_test
from pyredis import (
    AsyncClient,
    AsyncClusterClient,
    AsyncClusterPool,
    AsyncHashClient,
    AsyncHashPool,
    AsyncPool,
    AsyncPubSubClient,
    AsyncSentinelClient,
    AsyncSentinelHashPool,
    AsyncSentinelPool,
    Client,
    ClusterClient,
    ClusterPool,
    HashClient,
    HashPool,
    Pool,
    PubSubClient,
    SentinelClient,
    SentinelHashPool,
    SentinelPool,
    get_by_url,
)
from pyredis.client import AsyncClusterMap, AsyncConnection, ClusterMap, Connection
from pyredis.connection.settings import MAX_SECONDS
from pyredis.exceptions import PyRedisError, ReplyError
from servers import RedisServer

HOST = "127.0.0.1"
NODE = (HOST, 1)

# How to build each class with its required arguments (nothing connects).
BUILDERS = {
    "Connection": lambda **kw: Connection(host=HOST, **kw),
    "AsyncConnection": lambda **kw: AsyncConnection(host=HOST, **kw),
    "Client": lambda **kw: Client(host=HOST, **kw),
    "AsyncClient": lambda **kw: AsyncClient(host=HOST, **kw),
    "PubSubClient": lambda **kw: PubSubClient(host=HOST, **kw),
    "AsyncPubSubClient": lambda **kw: AsyncPubSubClient(host=HOST, **kw),
    "Pool": lambda **kw: Pool(host=HOST, **kw),
    "AsyncPool": lambda **kw: AsyncPool(host=HOST, **kw),
    "HashClient": lambda **kw: HashClient([NODE], **kw),
    "AsyncHashClient": lambda **kw: AsyncHashClient([NODE], **kw),
    "HashPool": lambda **kw: HashPool([NODE], **kw),
    "AsyncHashPool": lambda **kw: AsyncHashPool([NODE], **kw),
    "ClusterClient": lambda **kw: ClusterClient(seeds=[NODE], **kw),
    "AsyncClusterClient": lambda **kw: AsyncClusterClient(seeds=[NODE], **kw),
    "ClusterPool": lambda **kw: ClusterPool(seeds=[NODE], **kw),
    "AsyncClusterPool": lambda **kw: AsyncClusterPool(seeds=[NODE], **kw),
    "SentinelPool": lambda **kw: SentinelPool([NODE], "m", **kw),
    "AsyncSentinelPool": lambda **kw: AsyncSentinelPool([NODE], "m", **kw),
    "SentinelHashPool": lambda **kw: SentinelHashPool([NODE], ["m"], **kw),
    "AsyncSentinelHashPool": lambda **kw: AsyncSentinelHashPool([NODE], ["m"], **kw),
    "SentinelClient": lambda **kw: SentinelClient([NODE], **kw),
    "AsyncSentinelClient": lambda **kw: AsyncSentinelClient([NODE], **kw),
    "ClusterMap": lambda **kw: ClusterMap([NODE], **kw),
    "AsyncClusterMap": lambda **kw: AsyncClusterMap([NODE], **kw),
}
EVERY = sorted(BUILDERS)
# The classes whose connections select a database and decode replies.
CLIENT_SETTINGS = [name for name in EVERY if not name.endswith(("SentinelClient", "ClusterMap"))]
# ... that take a port, and ssl / ssl_context.
WITH_PORT = [name for name in EVERY if name.replace("Async", "") in (
    "Connection", "Client", "PubSubClient", "Pool")]
WITH_TLS = WITH_PORT + [name for name in EVERY if name.replace("Async", "") in (
    "HashClient", "HashPool")]

BAD_TIMEOUTS = [
    (math.nan, ValueError), (math.inf, ValueError), (-math.inf, ValueError),
    (-1, ValueError), (0, ValueError), (0.0, ValueError), (MAX_SECONDS + 1, ValueError),
    ("2", TypeError), (True, TypeError), (b"1", TypeError),
]
BAD = {
    "database": [(-1, ValueError), ("1", TypeError), (True, TypeError), (1.0, TypeError)],
    "encoding": [("no-such-codec", ValueError), (b"utf-8", TypeError)],
    "port": [(0, ValueError), (65536, ValueError), (-1, ValueError), ("6379", TypeError),
             (True, TypeError), (6379.0, TypeError)],
    "ssl": [("false", TypeError), (2, TypeError), (None, TypeError)],
    "ssl_context": [("ctx", TypeError), (True, TypeError)],
}


def bad_settings(name):
    """``(key, value, exception)`` for every bad setting ``name`` takes."""
    for key in ("conn_timeout", "read_timeout"):
        for value, error in BAD_TIMEOUTS:
            yield key, value, error
    for key in ("password", "username"):
        for value in ([b"pw"], object(), True, 1.5):
            yield key, value, TypeError
    for key, members in (("database", CLIENT_SETTINGS), ("encoding", CLIENT_SETTINGS),
                         ("port", WITH_PORT), ("ssl", WITH_TLS), ("ssl_context", WITH_TLS)):
        if name in members:
            for value, error in BAD[key]:
                yield key, value, error


@pytest.mark.parametrize("name", EVERY)
def test_bad_settings_fail_at_construction(name):
    for key, value, error in bad_settings(name):
        with pytest.raises(error) as info:
            BUILDERS[name](**{key: value})
        assert not isinstance(info.value, PyRedisError), (key, value)
        assert key in str(info.value)
        if key in ("password", "username"):
            assert repr(value) not in str(info.value)  # a secret is never shown


@pytest.mark.parametrize("name", EVERY)
def test_good_settings_are_kept(name):
    for timeout in (None, 0.001, 1, 2.5, Fraction(1, 2), MAX_SECONDS):
        BUILDERS[name](conn_timeout=timeout, read_timeout=timeout)
    BUILDERS[name](password=b"pw", username="u")
    BUILDERS[name](password=1234)  # upstream packed ints as their digits
    if name in CLIENT_SETTINGS:
        for database in (None, 0, 15):
            BUILDERS[name](database=database, encoding="utf-8")
        BUILDERS[name](encoding="")  # falsy: no decoding, as upstream
    if name in WITH_PORT:
        for port in (1, 6379, 65535):
            BUILDERS[name](port=port)
    if name in WITH_TLS:
        BUILDERS[name](ssl=1, ssl_context=ssl.create_default_context())


def test_settings_that_connections_made_later_get_are_kept():
    conn = Connection(host=HOST, conn_timeout=None, read_timeout=None, database=3, port=7000)
    assert (conn._conn_timeout, conn._read_timeout, conn.database, conn.port) == (
        None, None, 3, 7000)
    pool = Pool(host=HOST, conn_timeout=None, read_timeout=0.25)
    assert (pool.conn_timeout, pool.read_timeout) == (None, 0.25)


def test_a_unix_socket_ignores_the_port():
    assert Connection(unix_sock="/tmp/x.sock", port="ignored").unix_sock == "/tmp/x.sock"
    Pool(unix_sock="/tmp/x.sock", port=None)


def test_bucket_ports_are_checked():
    with pytest.raises(ValueError, match="port"):
        HashClient([NODE, (HOST, 70000)])
    with pytest.raises(TypeError, match="port"):
        HashPool([(HOST, "6379")])


def test_the_handshake_of_a_user_without_password():
    conn = Connection(host=HOST, username="u")
    assert conn._handshake_commands() == [(b"AUTH", "u", b"")]
    conn = Connection(host=HOST, username="u", password="")
    assert conn._handshake_commands() == [(b"AUTH", "u", b"")]
    conn = Connection(host=HOST, username="u", password="p", database=2)
    assert conn._handshake_commands() == [(b"AUTH", "u", "p"), (b"SELECT", 2)]
    assert Connection(host=HOST, password="p")._handshake_commands() == [(b"AUTH", "p")]
    assert Connection(host=HOST, username="", password="")._handshake_commands() == []


# -- a real server with ACL users ------------------------------------------------
# The default user is open (no password, every command), as on a default
# install: a client that skips AUTH runs with full rights.
USERS = [
    "--user", "limited", "on", "nopass", "~*", "&*", "+@all", "-cluster",
    "--user", "locked", "on", ">pw", "~*", "&*", "+@all",
]


@pytest.fixture(scope="module")
def acl():
    server = RedisServer(extra=USERS)
    try:
        server.start()
    except RuntimeError as exc:  # a missing server fails the run, never skips it
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


def whoami(obj, **kwargs):
    return obj.execute("ACL", "WHOAMI", **kwargs)


def test_a_user_without_password_is_that_user(acl):
    for where in ({"host": acl.host, "port": acl.port}, {"unix_sock": acl.unix_sock}):
        with Client(username="limited", **where) as client:
            assert whoami(client) == b"limited"
        conn = Connection(username="limited", **where)
        assert whoami(conn) == b"limited"
        conn.close()
        with Pool(username="limited", **where) as pool:
            assert whoami(pool) == b"limited"
            assert pool.get("k") is None


def test_no_timeout_means_no_limit(acl):
    for where in ({"host": acl.host, "port": acl.port}, {"unix_sock": acl.unix_sock}):
        with Client(conn_timeout=None, read_timeout=None, **where) as client:
            assert client.execute("PING") == b"PONG"


@async_test
async def test_async_no_timeout_means_no_limit(acl):
    for where in ({"host": acl.host, "port": acl.port}, {"unix_sock": acl.unix_sock}):
        async with AsyncClient(conn_timeout=None, read_timeout=None, **where) as client:
            assert await client.execute("PING") == b"PONG"


def test_a_user_whose_password_is_required_fails_at_connect(acl):
    client = Client(host=acl.host, port=acl.port, username="locked")
    with pytest.raises(ReplyError, match="WRONGPASS"):
        client.execute("PING")
    assert client.closed
    with Pool(host=acl.host, port=acl.port, username="locked") as pool:
        with pytest.raises(ReplyError, match="WRONGPASS"):
            pool.get("k")
    with Pool(host=acl.host, port=acl.port, username="locked", password="pw") as pool:
        assert whoami(pool) == b"locked"


@async_test
async def test_async_user_without_password(acl):
    for where in ({"host": acl.host, "port": acl.port}, {"unix_sock": acl.unix_sock}):
        async with AsyncClient(username="limited", **where) as client:
            assert await whoami(client) == b"limited"
        async with AsyncPool(username="limited", **where) as pool:
            assert await whoami(pool) == b"limited"
    client = AsyncClient(host=acl.host, port=acl.port, username="locked")
    with pytest.raises(ReplyError, match="WRONGPASS"):
        await client.execute("PING")
    assert client.closed
    async with AsyncPool(host=acl.host, port=acl.port, username="locked") as pool:
        with pytest.raises(ReplyError, match="WRONGPASS"):
            await pool.get("k")


def test_urls_with_a_user_and_no_password(acl):
    tcp = "%s:%d" % (acl.host, acl.port)
    for url in ("redis://limited@%s" % tcp, "redis://limited:@%s/0" % tcp,
                "unix://limited@%s" % acl.unix_sock):
        with get_by_url(url) as pool:
            assert whoami(pool) == b"limited"
    with get_by_url("redis://locked@%s" % tcp) as pool:
        with pytest.raises(ReplyError, match="WRONGPASS"):
            pool.get("k")
    sub = get_by_url("pubsub://limited@%s" % tcp)
    sub.write("ACL", "WHOAMI")
    assert sub.get() == b"limited"
    sub.close()


@async_test
async def test_async_urls_with_a_user_and_no_password(acl):
    async with get_by_url("redis://limited@%s:%d" % (acl.host, acl.port),
                          async_client=True) as pool:
        assert await whoami(pool) == b"limited"
    async with get_by_url("unix://locked@%s" % acl.unix_sock, async_client=True) as pool:
        with pytest.raises(ReplyError, match="WRONGPASS"):
            await pool.get("k")


def test_hash_buckets_pass_the_user_on(acl):
    buckets = [(acl.host, acl.port), acl.unix_sock]
    with HashClient(buckets, username="limited") as client:
        for name in ("%s_%d" % buckets[0], acl.unix_sock):
            assert whoami(client, sock=name) == b"limited"
    with HashPool(buckets, username="limited") as pool:
        assert whoami(pool, sock=acl.unix_sock) == b"limited"


@async_test
async def test_async_hash_buckets_pass_the_user_on(acl):
    buckets = [(acl.host, acl.port), acl.unix_sock]
    async with AsyncHashClient(buckets, username="limited") as client:
        assert await whoami(client, sock="%s_%d" % buckets[0]) == b"limited"
    async with AsyncHashPool(buckets, username="limited") as pool:
        assert await whoami(pool, sock=acl.unix_sock) == b"limited"


# ``limited`` may not run CLUSTER: the slot map fetch is refused (NOPERM)
# only when it authenticates as that user.
def test_cluster_slot_map_connections_pass_the_user_on(acl):
    seeds = [(acl.host, acl.port)]
    with pytest.raises(PyRedisError, match="NOPERM"):
        ClusterMap(seeds, username="limited").update()
    with pytest.raises(PyRedisError, match="NOPERM"):
        ClusterClient(seeds=seeds, username="limited").get("k")
    with pytest.raises(PyRedisError, match="NOPERM"):
        get_by_url("cluster://limited@%s:%d" % seeds[0]).get("k")


@async_test
async def test_async_cluster_slot_map_connections_pass_the_user_on(acl):
    seeds = [(acl.host, acl.port)]
    with pytest.raises(PyRedisError, match="NOPERM"):
        await AsyncClusterMap(seeds, username="limited").update()
    with pytest.raises(PyRedisError, match="NOPERM"):
        await AsyncClusterPool(seeds=seeds, username="limited").get("k")


# The ACL server stands in for a sentinel: the user name reaches it when
# ACL WHOAMI says so, or when ``locked`` is refused before SENTINEL is tried.
def test_sentinel_connections_pass_the_user_on(acl):
    sentinels = [(acl.host, acl.port)]
    with SentinelClient(sentinels, username="limited") as sentinel:
        assert whoami(sentinel) == b"limited"
    for pool in (SentinelPool(sentinels, "m", sentinel_username="locked"),
                 SentinelHashPool(sentinels, ["m"], sentinel_username="locked")):
        with pytest.raises(PyRedisError, match="WRONGPASS"):
            pool.get("k")
        pool.close()


@async_test
async def test_async_sentinel_connections_pass_the_user_on(acl):
    sentinels = [(acl.host, acl.port)]
    async with AsyncSentinelClient(sentinels, username="limited") as sentinel:
        assert await whoami(sentinel) == b"limited"
    for pool in (AsyncSentinelPool(sentinels, "m", sentinel_username="locked"),
                 AsyncSentinelHashPool(sentinels, ["m"], sentinel_username="locked")):
        with pytest.raises(PyRedisError, match="WRONGPASS"):
            await pool.get("k")
        await pool.close()
