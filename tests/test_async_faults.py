"""Faults and concurrency for the asyncio classes: a reply slower than read_timeout,
a server closing or resetting mid-reply, a task cancelled while waiting for its reply,
50 tasks sharing a pool of 4.  After each fault the next command on the pool gets
its own reply, never a stale one."""
import asyncio
import random
import socket
import threading
import time

import pytest

from async_support import async_test
from fakeserver import FakeRedis, answer, serve
from servers import RedisServer
from pyredis import AsyncClient, AsyncPool, AsyncPubSubClient
from pyredis.exceptions import (
    ProtocolError,
    PyRedisConnClosed,
    PyRedisConnError,
    PyRedisConnReadTimeout,
)

HALF_BULK = b"$10\r\nhello"  # a 10-byte bulk string, 5 bytes short


def half_then(ending, pause=0.05):
    """Script: answer the first command with half a bulk, then ``ending(peer)``."""
    def script(peer):
        peer.read_command()
        peer.send(HALF_BULK)
        time.sleep(pause)  # let the client take in the half reply first
        ending(peer)
    return script


def one_pool(fake, **kwargs):
    return AsyncPool(host=fake.host, port=fake.port, pool_size=1, **kwargs)


async def assert_pool_recovers(pool):
    assert await pool.echo("fresh") == b"fresh"
    assert await pool.echo("again") == b"again"
    assert pool._open == 1 and not pool._pool_used


async def eventually(condition, timeout=5):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in %ss" % timeout
        await asyncio.sleep(0.01)


# -- cut replies -------------------------------------------------------------------
@async_test
async def test_server_closes_mid_reply():
    with FakeRedis(half_then(lambda peer: peer.close()), serve) as fake:
        pool = one_pool(fake)
        with pytest.raises(PyRedisConnClosed):
            await pool.echo("first")
        await assert_pool_recovers(pool)
        assert fake.accepted == 2
        await pool.close()


@async_test
async def test_socket_reset_mid_reply():
    with FakeRedis(half_then(lambda peer: peer.reset()), serve) as fake:
        client = AsyncClient(host=fake.host, port=fake.port)
        with pytest.raises((PyRedisConnError, PyRedisConnClosed)):
            await client.echo("first")
        assert client.closed
        pool = one_pool(fake)
        await assert_pool_recovers(pool)
        await pool.close()


@async_test
async def test_protocol_error_mid_stream():
    def garbage(peer):
        peer.read_command()
        peer.send(b"*3\r\n:1\r\n:2\r\n")
        peer.send(b"%not-a-count\r\n")
        serve(peer)  # would answer later commands on this (poisoned) stream

    with FakeRedis(garbage, serve) as fake:
        pool = one_pool(fake)
        with pytest.raises(ProtocolError):
            await pool.echo("first")
        await assert_pool_recovers(pool)
        assert fake.accepted == 2  # the poisoned connection was not reused
        await pool.close()


@async_test
async def test_poll_timeout_with_half_a_message_closes():
    def half_message(peer):
        peer.read_command()
        peer.send(b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n")
        peer.send(b"*3\r\n$7\r\nmessage\r\n")  # and the rest never comes
        time.sleep(1)

    with FakeRedis(half_message) as fake:
        sub = AsyncPubSubClient(host=fake.host, port=fake.port, read_timeout=0.2)
        await sub.subscribe("a")
        assert await sub.get() == [b"subscribe", b"a", 1]
        with pytest.raises(PyRedisConnReadTimeout):
            await sub.get()
        assert sub.closed  # out of sync: never polled again


# -- slow replies ---------------------------------------------------------------------
@async_test
async def test_reply_slower_than_read_timeout(redis):
    pool = AsyncPool(host=redis.host, port=redis.port, pool_size=1, read_timeout=0.2)
    with pytest.raises(PyRedisConnReadTimeout):
        await pool.blpop("empty", 1)
    assert not pool._pool_free  # the timed-out client was dropped
    assert await pool.echo("mine") == b"mine"
    assert await pool.rpush("empty", "x") == 1
    await asyncio.sleep(0.05)
    assert await pool.lrange("empty", 0, -1) == [b"x"]  # the abandoned BLPOP took nothing
    await pool.close()


@async_test
async def test_fake_server_slower_than_read_timeout():
    def slow(peer):
        args = peer.read_command()
        time.sleep(0.5)
        peer.send(answer(args))  # the stale reply
        serve(peer)

    with FakeRedis(slow, serve) as fake:
        pool = one_pool(fake, read_timeout=0.2)
        with pytest.raises(PyRedisConnReadTimeout):
            await pool.echo("stale")
        await asyncio.sleep(0.4)
        assert await pool.echo("mine") == b"mine"
        await pool.close()


# -- cancellation -----------------------------------------------------------------------
@async_test
async def test_task_cancelled_mid_reply_costs_the_others_nothing():
    def slow_half(peer):
        peer.read_command()
        peer.send(HALF_BULK)
        time.sleep(0.3)
        peer.send(b"world\r\n")  # the rest of the first reply, after the cancel
        serve(peer)

    with FakeRedis(slow_half) as fake:
        pool = one_pool(fake)
        task = asyncio.ensure_future(pool.echo("first"))
        await asyncio.sleep(0.01)
        shared = next(iter(pool._pool_shared))
        await eventually(lambda: shared._conn._proto.reader.has_data())  # half a reply is in
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not shared.closed
        # Queued behind the cancelled one on the same connection: its reply is
        # read and dropped, this one gets its own.
        assert await pool.echo("second") == b"second"
        await assert_pool_recovers(pool)
        assert fake.accepted == 1
        await pool.close()


@pytest.mark.parametrize("how", ["cancel", "wait_for"])
@async_test
async def test_cancelled_blocking_command_leaves_no_stale_reply(redis, how):
    pool = AsyncPool(host=redis.host, port=redis.port, pool_size=1)
    assert await pool.ping() == b"PONG"  # connected: the BLPOP goes out at once
    pending = asyncio.ensure_future(pool.blpop("q", 5))
    await asyncio.sleep(0.05)
    if how == "cancel":
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending
    else:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(pending, 0.01)
    assert pool._open == 0  # dropped, not returned to the free list
    # Had the connection been reused, the push would feed the abandoned BLPOP and
    # its reply would be read as the answer to the next command.
    assert await pool.rpush("q", "job") == 1
    await asyncio.sleep(0.05)
    assert await pool.lrange("q", 0, -1) == [b"job"]
    await pool.close()


@async_test
async def test_cancel_on_a_shared_client_fails_the_others_cleanly(redis):
    c = AsyncClient(host=redis.host, port=redis.port)
    assert await c.ping() == b"PONG"
    blocked = asyncio.ensure_future(c.blpop("q", 5))
    await asyncio.sleep(0.05)
    queued = [asyncio.ensure_future(c.echo(str(i))) for i in range(3)]
    await asyncio.sleep(0.01)
    blocked.cancel()
    results = await asyncio.gather(blocked, *queued, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    # Never someone else's reply: the connection is gone for everybody.
    assert all(isinstance(r, PyRedisConnError) for r in results[1:]), results
    assert c.closed


@async_test
async def test_cancel_before_sending_keeps_the_connection(redis):
    c = AsyncClient(host=redis.host, port=redis.port)
    assert await c.ping() == b"PONG"
    first = asyncio.ensure_future(c.blpop("q", 0.2))
    await asyncio.sleep(0.01)
    second = asyncio.ensure_future(c.echo("never sent"))
    await asyncio.sleep(0.01)
    second.cancel()  # still waiting for the connection's lock: nothing was written
    assert await first is None
    assert not c.closed
    assert await c.echo("mine") == b"mine"
    await c.close()


# -- many tasks ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def own_server():
    """A server of our own: its client count is ours alone."""
    with RedisServer(unix=False) as server:
        yield server


async def connected_clients(probe):
    info = await probe.execute("CLIENT", "LIST")
    return len(info.splitlines()) - 1  # minus the probe itself


@async_test
async def test_50_tasks_share_a_pool_of_4(own_server):
    own_server.flushall()
    pool = AsyncPool(host=own_server.host, port=own_server.port, pool_size=4, pool_timeout=10)
    probe = AsyncClient(host=own_server.host, port=own_server.port)
    holders = set()
    peak = {"holders": 0, "server": 0}

    async def worker(i):
        for j in range(10):
            async with pool.lease() as c:
                assert c not in holders  # never two holders
                holders.add(c)
                peak["holders"] = max(peak["holders"], len(holders))
                assert pool._open <= 4
                assert await c.incr("w%d" % i) == j + 1
                if j % 3 == 0:
                    peak["server"] = max(peak["server"], await connected_clients(probe))
                await asyncio.sleep(0)
                holders.discard(c)
            assert await pool.echo("%d-%d" % (i, j)) == b"%d-%d" % (i, j)

    await asyncio.gather(*[worker(i) for i in range(50)])
    assert peak["holders"] == 4 and 1 <= peak["server"] <= 4
    assert len(pool._pool_free) + len(pool._pool_shared) == pool._open <= 4
    assert not pool._pool_used and not pool._waiters
    assert await connected_clients(probe) == pool._open
    await pool.close()
    assert pool._open == 0
    await asyncio.sleep(0.05)
    assert await connected_clients(probe) == 0  # nothing leaked
    await probe.close()


@async_test
async def test_50_tasks_with_cancellations_and_timeouts(own_server):
    own_server.flushall()
    pool = AsyncPool(host=own_server.host, port=own_server.port, pool_size=4, pool_timeout=10,
                     read_timeout=0.3)
    probe = AsyncClient(host=own_server.host, port=own_server.port)
    rng = random.Random(7)
    outcomes = {"ok": 0, "cancelled": 0, "timeout": 0}

    async def worker(i):
        for j in range(6):
            roll = rng.random()
            token = "%d-%d" % (i, j)
            if roll < 0.2:  # abandoned while the server holds the reply back
                # (on a stalled loop the read timeout may fire first: also fine)
                with pytest.raises((asyncio.TimeoutError, PyRedisConnReadTimeout)):
                    await asyncio.wait_for(pool.blpop("never", 1), rng.uniform(0, 0.02))
                outcomes["cancelled"] += 1
            elif roll < 0.22:  # slower than read_timeout
                with pytest.raises(PyRedisConnReadTimeout):
                    await pool.blpop("never", 1)
                outcomes["timeout"] += 1
            else:  # must get its own reply, whatever happened before on the pool
                assert await pool.echo(token) == token.encode()
                outcomes["ok"] += 1
            assert pool._open <= 4

    await asyncio.gather(*[worker(i) for i in range(50)])
    assert outcomes["cancelled"] and outcomes["timeout"] and outcomes["ok"]
    assert not pool._pool_used and not pool._waiters
    assert pool._open == len(pool._pool_free) + len(pool._pool_shared)
    for i in range(8):  # every connection left answers its own commands
        assert await pool.echo("after%d" % i) == b"after%d" % i
    assert await pool.rpush("never", "x") == 1
    await asyncio.sleep(0.05)
    assert await pool.llen("never") == 1  # no abandoned BLPOP survived
    await asyncio.sleep(0.05)
    assert await connected_clients(probe) == pool._open
    await pool.close()
    await probe.close()


@async_test
async def test_read_timeout_counts_from_each_wait(redis):
    # One timer per connection is re-armed lazily: a wait that starts late must
    # get its whole read_timeout, not what was left of an earlier one.
    c = AsyncClient(host=redis.host, port=redis.port, read_timeout=1.0)
    assert await c.ping() == b"PONG"  # the first wait arms the timer
    await asyncio.sleep(0.6)
    assert await c.blpop("q", 0.5) is None  # answered after the first wait's deadline
    assert not c.closed
    with pytest.raises(PyRedisConnReadTimeout):
        await c.blpop("q", 3)  # and a wait that does outlast read_timeout still ends
    assert c.closed


def test_two_writers_waiting_on_a_full_socket_both_resume():
    # Flow control: a second writer waiting for resume_writing used to replace
    # the first one's future, which then waited forever.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def slow_reader():
        peer, _ = listener.accept()
        time.sleep(0.5)  # reads nothing yet: the client's write buffer fills up
        while peer.recv(1 << 20):
            pass
        peer.close()

    reader = threading.Thread(target=slow_reader, daemon=True)
    reader.start()

    async def main():
        client = AsyncPubSubClient(host="127.0.0.1", port=port)
        big = b"x" * (8 << 20)
        first = asyncio.ensure_future(client.write(b"PUBLISH", b"ch", big))
        await asyncio.sleep(0.1)
        second = asyncio.ensure_future(client.write(b"PUBLISH", b"ch", big))
        done, pending = await asyncio.wait({first, second}, timeout=10)
        for task in pending:
            task.cancel()
        await client.close()
        return len(done)

    try:
        assert asyncio.run(main()) == 2
    finally:
        listener.close()
