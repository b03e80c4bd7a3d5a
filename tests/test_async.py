"""AsyncConnection, AsyncClient, AsyncPubSubClient and AsyncPool against real redis-servers:
handshake, unix sockets, TLS, bulk mode, transactions, PubSub polling, get_by_url."""
import asyncio
import os
import select
import signal
import ssl

import pytest

from async_support import async_test
from pyredis import (
    AsyncClient,
    AsyncPool,
    AsyncPubSubClient,
    Client,
    PyRedisConnError,
    PyRedisConnReadTimeout,
    PyRedisError,
    ReplyError,
    get_by_url,
)
from pyredis.connection import AsyncConnection


def where(server, kind):
    return ({"host": server.host, "port": server.port} if kind == "tcp"
            else {"unix_sock": server.unix_sock})


# -- connection and client ----------------------------------------------------------
@pytest.mark.parametrize("kind", ["tcp", "unix"])
@async_test
async def test_connection_round_trip(redis, kind):
    conn = AsyncConnection(**where(redis, kind))
    assert repr(conn).endswith("idle>")
    assert await conn.execute("SET", "k", "v") == b"OK"
    assert await conn.execute("GET", "k") == b"v"
    await conn.write("PING")
    await conn.write("ECHO", "x")
    assert await conn.read() == b"PONG" and await conn.read() == b"x"
    await conn.write("HGET", "k", "f")  # wrong type
    with pytest.raises(ReplyError, match="WRONGTYPE"):
        await conn.read()
    await conn.write("HGET", "k", "f")
    assert isinstance(await conn.read(raise_on_result_err=False), ReplyError)
    await conn.close()
    assert conn.closed and repr(conn).endswith("closed>")
    with pytest.raises(PyRedisConnError, match="Connection Gone"):
        await conn.execute("PING")  # closing is permanent
    await conn.close()  # idempotent


def test_constructor_checks_and_no_io():
    with pytest.raises(PyRedisError):
        AsyncConnection()
    with pytest.raises(PyRedisError):
        AsyncConnection(host="h", unix_sock="/s")
    with pytest.raises(PyRedisError, match="TLS"):
        AsyncConnection(unix_sock="/s", ssl=True)
    with pytest.raises(TypeError):
        AsyncClient(host="h", nonsense=1)
    AsyncClient(host="no-such-host.invalid")  # nothing happens before the first command


@async_test
async def test_bad_argument_raises_before_any_io(redis):
    c = AsyncClient(host=redis.host, port=redis.port)
    with pytest.raises(TypeError):
        await c.set("k", None)
    assert await c.ping() == b"PONG"  # nothing half-sent
    await c.close()


@async_test
async def test_connect_failure(redis):
    c = AsyncClient(host=redis.host, port=1, conn_timeout=1)
    with pytest.raises(PyRedisConnError, match="Failed to connect"):
        await c.ping()
    assert c.closed
    u = AsyncClient(unix_sock=redis.unix_sock + ".missing")
    with pytest.raises(PyRedisConnError, match="missing"):
        await u.ping()


@async_test
async def test_auth_password_user_and_database(redis_auth_server):
    srv = redis_auth_server
    srv.command("FLUSHALL")
    c = AsyncClient(host=srv.host, port=srv.port, password="secret", database=2)
    assert await c.set("where", "db2") == b"OK"
    alice = AsyncClient(host=srv.host, port=srv.port, username="alice", password="wonderland",
                        database=2)
    assert await alice.get("where") == b"db2"  # same database, other user
    anonymous = AsyncClient(host=srv.host, port=srv.port)
    with pytest.raises(ReplyError, match="NOAUTH"):
        await anonymous.get("where")
    wrong = AsyncClient(host=srv.host, port=srv.port, password="nope")
    with pytest.raises(ReplyError):
        await wrong.ping()
    assert wrong.closed  # a failed handshake closes
    bad_db = AsyncClient(host=srv.host, port=srv.port, password="secret", database=999)
    with pytest.raises(ReplyError, match="DB index"):
        await bad_db.ping()
    assert bad_db.closed
    for client in (c, alice, anonymous):
        await client.close()


@async_test
async def test_read_only_sends_readonly(redis):
    # A standalone server refuses READONLY (cluster only): proof that it was sent.
    c = AsyncClient(host=redis.host, port=redis.port, read_only=True)
    with pytest.raises(ReplyError, match="cluster"):
        await c.ping()
    assert c.closed
    sentinel_mode = AsyncClient(host=redis.host, port=redis.port, read_only=True, database=1,
                                sentinel=True)
    assert await sentinel_mode.ping() == b"PONG"  # sentinel=True: no SELECT, no READONLY
    await sentinel_mode.close()


@async_test
async def test_encoding_and_large_values(redis):
    c = AsyncClient(unix_sock=redis.unix_sock, encoding="utf-8")
    await c.set("u", "grüße")
    assert await c.get("u") == "grüße"
    raw = AsyncClient(host=redis.host, port=redis.port)
    value = bytes(range(256)) * 16384  # 4 MiB, many transport chunks
    await raw.set("big", value)
    assert await raw.get("big") == value
    assert await raw.lrange("nothing", 0, -1) == []
    await c.close()
    await raw.close()


@async_test
async def test_bulk_mode(redis):
    c = AsyncClient(host=redis.host, port=redis.port)
    assert not c.bulk
    c.bulk_start(bulk_size=10)
    with pytest.raises(PyRedisError, match="Already in bulk mode"):
        c.bulk_start()
    for i in range(25):
        assert await c.set("k%d" % i, i) is None
    await c.hget("k0", "f")  # an error reply is kept, not raised
    assert redis.command("GET", "k19") == b"$2"  # two full batches were sent
    results = await c.bulk_stop()
    assert results[:25] == [b"OK"] * 25 and isinstance(results[25], ReplyError)
    assert not c.bulk
    with pytest.raises(PyRedisError, match="Not in bulk mode"):
        await c.bulk_stop()
    c.bulk_start(bulk_size=0, keep_results=False)
    big = b"x" * 300000
    for i in range(8):  # over the write limit: written before bulk_stop
        await c.set("big%d" % i, big)
    assert await c.bulk_stop() is None
    assert await c.strlen("big7") == len(big)
    await c.close()


@async_test
async def test_tasks_sharing_one_client_each_get_their_own_reply(redis):
    c = AsyncClient(host=redis.host, port=redis.port)

    async def echo(i):
        for _ in range(5):
            assert await c.echo(str(i)) == str(i).encode()
            await asyncio.sleep(0)
        return i

    assert await asyncio.gather(*[echo(i) for i in range(100)]) == list(range(100))
    await c.close()


@async_test
async def test_transaction_on_a_leased_client(redis):
    async with AsyncPool(host=redis.host, port=redis.port, pool_size=2) as pool:
        async with pool.lease() as c:
            assert isinstance(c, AsyncClient)
            assert await c.multi() == b"OK"
            assert await c.incr("t") == b"QUEUED"
            assert await pool.set("t", 10) == b"OK"  # another connection, not queued
            assert await c.incr("t") == b"QUEUED"
            assert await c.exec() == [11, 12]
        assert c in pool._pool_free and len(pool._pool_free) == 1
        assert len(pool._pool_shared) == 1  # pool.set ran on a shared client
    assert c.closed and pool._open == 0


@pytest.mark.parametrize("state", ["multi", "bulk"])
@async_test
async def test_a_lease_whose_body_fails_never_hands_its_client_on(redis, state):
    async with AsyncPool(host=redis.host, port=redis.port, pool_size=1) as pool:
        await pool.set("k", "old")
        with pytest.raises(KeyError):
            async with pool.lease() as client:
                if state == "multi":
                    await client.multi()
                    await client.set("k", "lost")
                else:
                    client.bulk_start()
                    await client.set("k", "lost")
                raise KeyError("the caller's own bug")
        assert client.closed
        assert await pool.get("k") == b"old"  # not b"QUEUED", not None
        assert await pool.set("k", "new") == b"OK" and await pool.get("k") == b"new"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork")
def test_a_forked_child_never_uses_the_parents_connections(redis):
    loop = asyncio.new_event_loop()
    pool = AsyncPool(host=redis.host, port=redis.port, pool_size=2)
    try:
        parent_id = loop.run_until_complete(pool.execute("CLIENT", "ID"))  # now idle
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child: never return into pytest
            try:
                os.close(read_end)
                try:
                    child_loop = asyncio.new_event_loop()
                    child_id = child_loop.run_until_complete(pool.execute("CLIENT", "ID"))
                    result = repr(child_id != parent_id)
                except BaseException as exc:
                    result = "error: %r" % (exc,)
                os.write(write_end, result.encode())
            finally:
                os._exit(0)
        os.close(write_end)
        try:
            ready, _, _ = select.select([read_end], [], [], 10)
            result = os.read(read_end, 4096).decode() if ready else "no answer"
        finally:
            os.close(read_end)
            if not ready:
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        assert result == "True"  # a connection of its own
        # The parent's connection is intact and answers its own command.
        assert loop.run_until_complete(pool.execute("CLIENT", "ID")) == parent_id
    finally:
        loop.run_until_complete(pool.close())
        loop.close()


# -- PubSub -------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["tcp", "unix"])
@async_test
async def test_pubsub_subscribe_publish_get_with_polling(redis, kind):
    sub = AsyncPubSubClient(read_timeout=0.2, **where(redis, kind))
    pub = AsyncClient(host=redis.host, port=redis.port)
    assert await sub.subscribe("/ch") is None
    assert await sub.get() == [b"subscribe", b"/ch", 1]
    with pytest.raises(PyRedisConnReadTimeout):
        await sub.get()
    assert not sub.closed  # polling keeps the connection
    assert await pub.publish("/ch", "hello") == 1
    assert await sub.get() == [b"message", b"/ch", b"hello"]
    for i in range(20):
        await pub.publish("/ch", i)
    assert [(await sub.get())[2] for _ in range(20)] == [str(i).encode() for i in range(20)]
    await sub.close()
    await pub.close()


@async_test
async def test_pubsub_write_while_another_task_waits(redis):
    sub = AsyncPubSubClient(host=redis.host, port=redis.port, read_timeout=2)
    await sub.subscribe("a")
    assert await sub.get() == [b"subscribe", b"a", 1]
    waiting = asyncio.ensure_future(sub.get())
    await asyncio.sleep(0.05)
    await sub.subscribe("b")  # not blocked by the pending get()
    assert await waiting == [b"subscribe", b"b", 2]
    await sub.close()


@async_test
async def test_pubsub_url(redis):
    sub = get_by_url("pubsub://%s:%d?read_timeout=0.2" % (redis.host, redis.port),
                     async_client=True)
    assert isinstance(sub, AsyncPubSubClient)
    await sub.subscribe("u")
    assert await sub.get() == [b"subscribe", b"u", 1]
    await sub.close()


# -- pool -----------------------------------------------------------------------------
@async_test
async def test_pool_basics_and_url(redis):
    pool = get_by_url("redis://%s:%d/3?pool_size=3&read_timeout=1.5" % (redis.host, redis.port),
                      async_client=True)
    assert isinstance(pool, AsyncPool)
    assert (pool.host, pool.port, pool.database, pool.pool_size, pool.read_timeout) == \
        (redis.host, redis.port, 3, 3, 1.5)
    assert await pool.set("p", 1) == b"OK"
    with Client(host=redis.host, port=redis.port, database=3) as db3:
        assert db3.get("p") == b"1"
    with pytest.raises(ReplyError):
        await pool.hget("p", "f")
    # Both ran on one shared client, which an error reply does not harm.
    assert len(pool._pool_shared) == 1 and not pool._pool_used and not pool._pool_free
    await pool.close()
    with pytest.raises(PyRedisError, match="closed"):
        await pool.get("p")
    unix = get_by_url("unix://%s?pool_size=2" % redis.unix_sock, async_client=True)
    assert unix.unix_sock == redis.unix_sock and await unix.ping() == b"PONG"
    await unix.close()


# -- TLS -----------------------------------------------------------------------------
@pytest.fixture
def tls(redis_tls_server):
    redis_tls_server.flushall()
    return redis_tls_server


@pytest.fixture
def trusting_context(tls):
    context = ssl.create_default_context()
    tls.ca.configure_trust(context)
    return context


@async_test
async def test_client_over_tls(tls, trusting_context):
    c = AsyncClient(host=tls.host, port=tls.tls_port, ssl_context=trusting_context)
    value = bytes(range(256)) * 8192
    assert await c.set("big", value) == b"OK"
    assert await c.get("big") == value
    transport = c._conn._proto.transport
    assert transport.get_extra_info("ssl_object").version().startswith("TLS")
    await c.close()
    assert tls.command("STRLEN", "big") == b":%d" % len(value)


@async_test
async def test_tls_default_context_rejects_an_unknown_ca(tls):
    c = AsyncClient(host=tls.host, port=tls.tls_port, ssl=True)
    with pytest.raises(PyRedisConnError, match="certificate"):
        await c.ping()
    assert c.closed


@async_test
async def test_pool_and_pubsub_over_tls(tls, trusting_context):
    pool = get_by_url("rediss://%s:%d?ssl_ca_certs=%s&pool_size=2"
                      % (tls.host, tls.tls_port, tls.ca_file), async_client=True)
    assert pool.ssl
    sub = AsyncPubSubClient(host=tls.host, port=tls.tls_port, ssl_context=trusting_context,
                            read_timeout=0.2)
    await sub.subscribe("tls")
    assert await sub.get() == [b"subscribe", b"tls", 1]
    with pytest.raises(PyRedisConnReadTimeout):
        await sub.get()
    assert await pool.publish("tls", "hi") == 1
    assert await sub.get() == [b"message", b"tls", b"hi"]
    await sub.close()
    await pool.close()


@async_test
async def test_pool_skips_a_connection_the_server_closed_while_idle(redis):
    pool = AsyncPool(host=redis.host, port=redis.port, pool_size=2)
    async with pool.lease() as first:
        async with pool.lease() as second:
            await first.ping()
            await second.ping()
    killer = AsyncClient(host=redis.host, port=redis.port)
    assert await killer.execute("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes") == 2
    for _ in range(100):  # the loop learns of the hang-ups
        if first.closed and second.closed:
            break
        await asyncio.sleep(0.01)
    assert first.closed and second.closed
    assert await pool.echo("fresh") == b"fresh"  # not "Write failed" on a dead client
    assert pool._open == 1 and first not in pool._pool_free
    await pool.close()
    await killer.close()


@async_test
async def test_large_replies_are_read_in_large_chunks(redis):
    # Upstream read 1500 bytes at a time: 700 reads for this reply.
    c = AsyncClient(host=redis.host, port=redis.port)
    await c.set("big", b"x" * (1 << 20))
    before = c._conn._proto.received
    assert len(await c.get("big")) == 1 << 20
    assert c._conn._proto.received - before < 200
    await c.close()


def test_close_from_another_loop(redis):
    c = AsyncClient(host=redis.host, port=redis.port)
    asyncio.run(c.ping())
    asyncio.run(c.close())  # its own loop is gone: still closes, without hanging
    assert c.closed
