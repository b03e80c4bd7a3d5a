"""Pipelined, multiplexed asyncio connections: reply matching, cancellation,
failures mid-burst, unsolicited data, push frames, backpressure, read timeouts,
bulk failures, and what tests of user code patch.

The protocol itself (``_protocol`` / ``_protocol_py``) is driven with a fake
transport for both twins (``twin``); everything else runs against real
redis-servers (and ``fakeserver`` for misbehaviour), once per event loop kind.
"""
import asyncio
import gc
import logging
import random
import socket
import threading
import time
from unittest import mock

import pytest

import pyredis
from async_support import async_test, run_on
from fakeserver import FakeRedis, answer, serve
from servers import RedisServer
from pyredis import AsyncClient, AsyncPool, AsyncPubSubClient
from pyredis.connection import AsyncConnection
from pyredis.connection.dedicated import BLOCKING, ORDINARY, STATEFUL, command_kind
from pyredis.exceptions import (
    ProtocolError,
    PyRedisBulkError,
    PyRedisConnClosed,
    PyRedisConnError,
    PyRedisConnReadTimeout,
    ReplyError,
)
from pyredis.protocol import PushNotification

LOST = (PyRedisConnError, PyRedisConnClosed)
BIG = 10 * 1024 * 1024


# -- the protocol twins, on a fake transport ---------------------------------------
class FakeTransport:
    def __init__(self):
        self.written = []
        self.closed = self.aborted = self.paused_reading = False

    def write(self, data):
        self.written.append(bytes(data))

    def abort(self):
        self.aborted = True

    def close(self):
        self.closed = True

    def pause_reading(self):
        self.paused_reading = True

    def resume_reading(self):
        self.paused_reading = False

    def get_write_buffer_size(self):
        return 0


def make_protocol(twin, read_timeout=None, push_handler=None):
    module = twin.load("pyredis.connection._protocol")
    ended = []
    proto = module.CommandProtocol(read_timeout, push_handler, lambda: ended.append(True))
    proto.prepare(asyncio.get_running_loop(), None)
    transport = FakeTransport()
    proto.connection_made(transport)
    proto.set_ready()
    return proto, transport, ended


def feed_in_pieces(proto, data, seed):
    rng = random.Random(seed)
    pos = 0
    while pos < len(data):
        step = rng.choice((1, 7, 100, 4096, 1 << 20))
        proto.data_received(data[pos:pos + step])
        pos += step


@pytest.mark.parametrize("seed", [None, 1, 2])
@async_test
async def test_a_burst_with_an_error_a_huge_bulk_a_nil_and_a_push(twin, seed):
    pushes = []
    proto, transport, _ = make_protocol(twin, push_handler=pushes.append)
    big = b"x" * BIG
    futures = [proto.request((b"GET", b"k%d" % i)) for i in range(5)]
    batch = proto.request_many(b"", 2, None)
    await asyncio.sleep(0)  # the flush: one write for the whole turn
    assert len(transport.written) == 1 and transport.written[0].count(b"GET") == 5
    stream = (b"+first\r\n" + b"-ERR boom\r\n" + b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"
              + b"$%d\r\n" % BIG + big + b"\r\n" + b"$-1\r\n" + b"#f\r\n"
              + b"-ERR in a batch\r\n" + b":7\r\n")
    if seed is None:
        proto.data_received(stream)
    else:
        feed_in_pieces(proto, stream, seed)
    assert futures[0].result() == b"first"
    with pytest.raises(ReplyError, match="boom"):
        futures[1].result()
    assert futures[2].result() == big
    assert futures[3].result() is None
    assert futures[4].result() is False  # RESP3 #f is a value, never "not enough data"
    error, seven = batch.result()
    assert isinstance(error, ReplyError) and seven == 7  # a batch returns its errors
    assert pushes == [[b"invalidate", [b"k"]]] and type(pushes[0]) is PushNotification
    assert not proto.waiters and proto.lost is None


@async_test
async def test_a_cancelled_waiter_has_its_reply_read_and_dropped(twin):
    proto, transport, _ = make_protocol(twin)
    first, second, third = (proto.request((b"ECHO", b"%d" % i)) for i in range(3))
    second.cancel()
    proto.data_received(b"$1\r\n0\r\n$1\r\n1\r\n$1")
    proto.data_received(b"\r\n2\r\n")
    assert first.result() == b"0" and third.result() == b"2"
    assert proto.lost is None and not proto.waiters


@async_test
async def test_a_failure_mid_burst_fails_every_waiter(twin):
    proto, transport, ended = make_protocol(twin)
    futures = [proto.request((b"ECHO", b"%d" % i)) for i in range(4)]
    proto.data_received(b"$1\r\n0\r\n$1\r\n1\r\n$5\r\nab")
    proto.connection_lost(ConnectionResetError("reset by peer"))
    assert [f.result() for f in futures[:2]] == [b"0", b"1"]
    errors = [f.exception() for f in futures[2:]]
    assert all(isinstance(e, PyRedisConnError) for e in errors)
    assert errors[0] is not errors[1]  # a fresh exception per waiter
    assert ended == [True] and proto.reader is None  # the half reply is not kept
    with pytest.raises(PyRedisConnError):
        proto.request((b"PING",))


@async_test
async def test_a_protocol_error_fails_the_head_with_it_and_the_rest_lost(twin):
    proto, transport, _ = make_protocol(twin)
    first, second = proto.request((b"PING",)), proto.request((b"PING",))
    proto.data_received(b"%not-a-count\r\n")
    assert isinstance(first.exception(), ProtocolError)
    assert isinstance(second.exception(), PyRedisConnError)
    assert transport.aborted


@pytest.mark.parametrize("data", [b"+OK\r\n", b"$268435456\r\n" + b"x" * (2 << 20)])
@async_test
async def test_unsolicited_data_gives_the_connection_up(twin, data):
    proto, transport, ended = make_protocol(twin)
    feed_in_pieces(proto, data, 3)  # nothing was asked
    assert transport.aborted and ended == [True] and proto.reader is None
    assert isinstance(proto.lost, PyRedisConnError)


@async_test
async def test_pushes_on_an_idle_connection_go_to_the_handler(twin, caplog):
    def handler(push):
        seen.append(push)
        raise RuntimeError("handler bug")

    seen = []
    proto, transport, _ = make_protocol(twin, push_handler=handler)
    with caplog.at_level(logging.ERROR, logger="pyredis"):
        proto.data_received(b">2\r\n$10\r\ninvalidate\r\n_\r\n>1\r\n$1\r\n")
        proto.data_received(b"a\r\n")
    assert seen == [[b"invalidate", None], [b"a"]]
    assert "handler bug" in caplog.text  # logged with its traceback, push dropped
    future = proto.request((b"PING",))
    proto.data_received(b"+PONG\r\n")
    assert future.result() == b"PONG" and proto.lost is None


@async_test
async def test_read_timeout_fails_every_waiter_and_a_lone_poll_survives(twin):
    proto, transport, _ = make_protocol(twin, read_timeout=0.05)
    futures = [proto.request((b"PING",)), proto.request((b"PING",))]
    proto.data_received(b"+PONG\r\n")
    await asyncio.sleep(0.2)
    assert futures[0].result() == b"PONG"
    assert isinstance(futures[1].exception(), PyRedisConnReadTimeout)
    assert transport.aborted

    proto, transport, _ = make_protocol(twin, read_timeout=0.05)
    poll = proto.next_reply(True)
    await asyncio.sleep(0.2)
    assert isinstance(poll.exception(), PyRedisConnReadTimeout)
    assert not transport.aborted and proto.lost is None  # nothing of a message came
    poll = proto.next_reply(True)
    proto.data_received(b"*1\r\n$3\r\nmsg\r\n")
    assert poll.result() == [b"msg"]


@async_test
async def test_stream_mode_buffers_replies_and_pauses_reading(twin):
    proto, transport, _ = make_protocol(twin)
    proto.write(b"*1\r\n$4\r\nPING\r\n")
    message = b"*1\r\n$%d\r\n%s\r\n" % (1 << 20, b"m" * (1 << 20))
    for _ in range(6):
        proto.data_received(message)
    assert transport.paused_reading  # nobody reads: reading stops past the limit
    first = proto.next_reply(False)
    assert first.result() == [b"m" * (1 << 20)]  # buffered: answered at once
    assert transport.paused_reading  # 5 MiB still unread
    for _ in range(2):
        assert proto.next_reply(False).result() == [b"m" * (1 << 20)]
    assert not transport.paused_reading  # back under the limit: reading again


def test_command_kinds():
    assert command_kind((b"GET", "k")) == ORDINARY
    assert command_kind(("blpop", "q", 0)) == BLOCKING
    assert command_kind((b"XREAD", b"COUNT", 1, b"STREAMS", b"s", b"0")) == ORDINARY
    assert command_kind(("xread", "block", 0, "streams", "s", "$")) == BLOCKING
    assert command_kind(("MULTI",)) == command_kind((bytearray(b"select"), 1)) == STATEFUL
    assert command_kind((b"CLIENT", b"LIST")) == ORDINARY
    assert command_kind((b"client", b"reply", b"off")) == STATEFUL
    assert command_kind((b"FT.SEARCH", b"idx", b"*")) == ORDINARY  # unknown: shared
    assert command_kind(()) == ORDINARY


# -- real servers -----------------------------------------------------------------
class CountingTransport:
    """A transport that counts the writes it passes on."""

    def __init__(self, transport):
        self._transport = transport
        self.writes = 0

    def write(self, data):
        self.writes += 1
        self._transport.write(data)

    def __getattr__(self, name):
        return getattr(self._transport, name)


@pytest.fixture(scope="module")
def own_server():
    with RedisServer(unix=False) as server:
        yield server


@async_test
async def test_one_connection_serves_many_tasks_in_one_write(redis):
    c = AsyncClient(host=redis.host, port=redis.port)
    assert await c.ping() == b"PONG"
    proto = c._conn._proto
    counting = CountingTransport(proto.transport)
    proto.transport = counting
    replies = await asyncio.gather(*[c.echo("task%d" % i) for i in range(200)])
    assert replies == [b"task%d" % i for i in range(200)]
    assert counting.writes == 1  # issued in one turn of the loop: one write
    await c.close()


@async_test
async def test_more_tasks_than_pool_size_never_exhaust_the_pool(redis):
    pool = AsyncPool(host=redis.host, port=redis.port, pool_size=2)  # no pool_timeout

    async def work(i):
        assert await pool.set("m%d" % i, i) == b"OK"
        assert await pool.get("m%d" % i) == b"%d" % i

    await asyncio.gather(*[work(i) for i in range(300)])
    # 300 tasks, 2 connections (a second one once 64 replies were due on the first).
    assert pool._open == len(pool._pool_shared) == 2
    await pool.close()


@async_test
async def test_a_lone_client_and_a_pool_after_the_server_kills_the_connection(redis):
    c = AsyncClient(host=redis.host, port=redis.port)
    pool = AsyncPool(host=redis.host, port=redis.port, pool_size=2)
    killer = AsyncClient(host=redis.host, port=redis.port)
    assert await c.ping() == await pool.ping() == b"PONG"
    (shared,) = pool._pool_shared
    for target, echo in ((c, c.echo), (shared, pool.echo)):
        target_id = await target.execute("CLIENT", "ID")
        # A blocked command holds every reply queued behind it on the connection.
        waiting = [asyncio.ensure_future(target.execute("BLPOP", "never", 5))]
        waiting += [asyncio.ensure_future(echo("e%d" % i)) for i in range(5)]
        await asyncio.sleep(0.05)
        assert await killer.execute("CLIENT", "KILL", "ID", target_id) == 1
        results = await asyncio.gather(*waiting, return_exceptions=True)
        assert all(isinstance(result, LOST) for result in results), results
        assert target.closed
    with pytest.raises(PyRedisConnError, match="Connection Gone"):
        await c.ping()  # a lone client never reconnects (as upstream)
    assert await pool.ping() == b"PONG"  # a pool replaces the connection
    assert shared not in pool._pool_shared
    await asyncio.gather(pool.close(), killer.close())


@async_test
async def test_a_reset_mid_burst_fails_the_rest_and_the_pool_reconnects():
    def half_a_burst(peer):
        for _ in range(5):
            peer.read_command()
        for i in range(2):
            peer.send(b"$2\r\nr%d\r\n" % i)
        peer.send(b"$2\r\nr")
        time.sleep(0.05)
        peer.reset()

    with FakeRedis(half_a_burst, serve) as fake:
        pool = AsyncPool(host=fake.host, port=fake.port, pool_size=1)
        results = await asyncio.gather(*[pool.echo("x%d" % i) for i in range(5)],
                                       return_exceptions=True)
        assert results[:2] == [b"r0", b"r1"]
        assert all(isinstance(r, LOST) for r in results[2:]), results
        assert await pool.echo("fresh") == b"fresh"
        assert fake.accepted == 2
        await pool.close()


@async_test
async def test_cancelling_one_task_mid_reply_costs_the_others_nothing(redis):
    c = AsyncClient(host=redis.host, port=redis.port)
    big = b"v" * BIG
    await c.set("big", big)
    slow = asyncio.ensure_future(c.get("big"))
    others = [asyncio.ensure_future(c.echo("o%d" % i)) for i in range(20)]
    proto = c._conn._proto
    for _ in range(500):  # until part of the big reply is in
        await asyncio.sleep(0.001)
        if proto.reader is not None and proto.reader.len():
            break
    slow.cancel()
    for other in others[::3]:
        other.cancel()
    results = await asyncio.gather(*others, return_exceptions=True)
    for i, result in enumerate(results):
        assert result == b"o%d" % i or (i % 3 == 0 and isinstance(result, asyncio.CancelledError))
    assert not c.closed and await c.echo("after") == b"after"
    assert await c.get("big") == big
    await c.close()


@async_test
async def test_500_tasks_with_cancellations_and_client_kills(own_server):
    """Every reply checked against its own key: 0 wrong, 0 lost acknowledged
    writes, 0 duplicate executions."""
    own_server.flushall()
    pool = AsyncPool(host=own_server.host, port=own_server.port, pool_size=8, pool_timeout=10)
    killer = AsyncClient(host=own_server.host, port=own_server.port)
    rng = random.Random(500)
    acked = {}     # counter key -> INCRs acknowledged
    unknown = {}   # counter key -> INCRs that failed or were cancelled (ran or not)
    seen = {}      # counter key -> values INCR returned (never twice the same)
    values = {}    # string key -> the values it may hold now
    # string key -> values of SETs that failed or were cancelled: they may
    # still run, even after a later SET of the same task was acknowledged on
    # another connection (as with any client: no order between connections).
    maybe = {}
    stats = {"ok": 0, "cancelled": 0, "lost": 0, "wrong": 0, "kills": 0}
    done = asyncio.Event()

    async def kill_now_and_then():
        mine = await killer.execute("CLIENT", "ID")
        while not done.is_set():
            await asyncio.sleep(rng.uniform(0.005, 0.03))
            listing = await killer.execute("CLIENT", "LIST", "TYPE", "normal")
            ids = [int(line.split(b" ")[0][3:]) for line in listing.splitlines()]
            ids = [i for i in ids if i != mine]
            if ids:  # one connection of the pool, at random
                stats["kills"] += await killer.execute("CLIENT", "KILL", "ID", rng.choice(ids))

    async def guarded(coro, timeout):
        try:
            if timeout is None:
                return True, await coro
            return True, await asyncio.wait_for(coro, timeout)
        except asyncio.TimeoutError:
            stats["cancelled"] += 1
        except LOST:
            stats["lost"] += 1
        return False, None

    async def worker(n):
        counter, key = "c%d" % n, "s%d" % n
        acked[counter] = unknown[counter] = 0
        seen[counter] = []
        values[key] = {None}
        maybe[key] = set()
        step = 0
        while step < 12 or stats["kills"] < 5:  # until connections were killed under load
            step += 1
            timeout = rng.choice((None, None, None, 0.0001, 0.001, 0.005))
            roll = rng.random()
            if roll < 0.4:
                ok, value = await guarded(pool.incr(counter), timeout)
                if ok:
                    acked[counter] += 1
                    seen[counter].append(value)
                else:
                    unknown[counter] += 1
            elif roll < 0.7:
                token = b"%d:%d" % (n, step)
                ok, reply = await guarded(pool.set(key, token), timeout)
                if ok:
                    assert reply == b"OK"
                    values[key] = {token} | maybe[key]
                else:  # it may or may not have run, or run later
                    maybe[key].add(token)
                    values[key].add(token)
            else:
                ok, value = await guarded(pool.get(key), timeout)
                if ok:
                    if value not in values[key]:
                        stats["wrong"] += 1
                    stats["ok"] += 1

    killing = asyncio.ensure_future(kill_now_and_then())
    await asyncio.gather(*[worker(n) for n in range(500)])
    done.set()
    await killing
    assert stats["wrong"] == 0
    assert stats["kills"] >= 5 and stats["lost"] and stats["cancelled"] and stats["ok"]
    exact = 0
    for counter in acked:
        final = int(await pool.get(counter) or 0)
        assert acked[counter] <= final <= acked[counter] + unknown[counter], counter
        assert len(set(seen[counter])) == len(seen[counter])  # never ran twice
        exact += not unknown[counter]
        if not unknown[counter]:
            assert final == acked[counter]
    assert exact  # some counters saw no failure at all: exact to the acknowledged count
    for key, possible in values.items():
        assert await pool.get(key) in possible
    assert pool._open <= 8 and not pool._pool_used and not pool._waiters
    await pool.close()
    await killer.close()


@async_test
async def test_pushes_inside_a_burst_reach_the_handler(redis):
    pushes = []
    c = AsyncClient(host=redis.host, port=redis.port, push_handler=pushes.append)
    assert isinstance(await c.execute("HELLO", 3), dict)
    assert await c.execute("CLIENT", "TRACKING", "ON") == b"OK"
    await c.set("t", "0")
    assert await c.get("t") == b"0"  # tracked now
    big = b"b" * BIG
    # Our own SET of a tracked key makes the server push an invalidation in
    # the middle of the burst's replies; errors, a huge bulk and a nil too.
    replies = await asyncio.gather(
        c.get("t"), c.set("t", "1"), c.execute("NOPE"), c.set("big", big), c.get("big"),
        c.get("missing"), c.echo("last"), return_exceptions=True)
    assert replies[:2] == [b"0", b"OK"]
    assert isinstance(replies[2], ReplyError)
    assert replies[3:] == [b"OK", big, None, b"last"]
    await asyncio.sleep(0.05)
    assert [b"invalidate", [b"t"]] in pushes
    assert not c.closed
    await c.close()


@async_test
async def test_unsolicited_data_on_an_idle_pooled_connection():
    def junk_after_a_while(peer):
        peer.send(answer(peer.read_command()))
        time.sleep(0.1)
        try:
            peer.send(b"+SURPRISE\r\n" + b"$%d\r\n" % (64 << 20) + b"x" * (16 << 20))
        except OSError:
            pass  # the client gave up reading: what we wanted
        time.sleep(0.2)

    with FakeRedis(junk_after_a_while, serve) as fake:
        pool = AsyncPool(host=fake.host, port=fake.port, pool_size=1)
        assert await pool.ping() == b"PONG"
        (client,) = pool._pool_shared
        for _ in range(500):  # the junk comes after 0.1 s
            if client.closed:
                break
            await asyncio.sleep(0.01)
        assert client.closed and client._conn._proto.reader is None
        assert await pool.echo("next") == b"next"  # on a new connection
        assert fake.accepted == 2
        await pool.close()


@async_test
async def test_a_closed_connection_drops_its_reader_and_half_reply():
    def half_a_big_reply(peer):
        peer.read_command()
        peer.send(b"$%d\r\n" % (64 << 20) + b"y" * (8 << 20))
        time.sleep(0.5)

    with FakeRedis(half_a_big_reply) as fake:
        c = AsyncClient(host=fake.host, port=fake.port)
        pending = asyncio.ensure_future(c.echo("x"))
        proto = c._conn._proto
        for _ in range(200):
            await asyncio.sleep(0.01)
            if proto.reader is not None and proto.reader.len() >= 8 << 20:
                break
        await c.close()
        assert proto.reader is None and c.closed
        with pytest.raises(PyRedisConnError):
            await pending


def test_writer_faster_than_the_server_is_held_back():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    release = threading.Event()

    def lazy_server():
        peer, _ = listener.accept()
        release.wait(10)  # reads nothing until told
        peer.settimeout(5)
        try:
            while peer.recv(1 << 20):
                pass
        except OSError:
            pass
        peer.close()

    threading.Thread(target=lazy_server, daemon=True).start()

    async def main():
        c = AsyncPubSubClient(host="127.0.0.1", port=port)
        chunk = b"z" * (1 << 20)
        sent = 0

        async def flood():
            nonlocal sent
            for _ in range(200):
                await c.write(b"PUBLISH", b"ch", chunk)
                sent += 1

        task = asyncio.ensure_future(flood())
        await asyncio.sleep(0.5)
        buffered = c._conn._proto.transport.get_write_buffer_size()
        assert not task.done() and sent < 50  # held back, not 200 MiB in memory
        assert buffered < 16 << 20
        release.set()
        await asyncio.wait_for(task, 30)
        await c.close()

    try:
        asyncio.run(main())
    finally:
        release.set()
        listener.close()


@async_test
async def test_a_failed_bulk_flush_raises_a_bulk_error_with_the_replies_read():
    def answers_three_then_resets(peer):
        for _ in range(5):
            peer.read_command()
        peer.send(b"+OK\r\n+OK\r\n-ERR third\r\n")
        time.sleep(0.05)
        peer.reset()

    with FakeRedis(answers_three_then_resets) as fake:
        c = AsyncClient(host=fake.host, port=fake.port)
        c.bulk_start(bulk_size=0)
        for i in range(5):
            await c.set("k%d" % i, i)
        with pytest.raises(PyRedisBulkError) as failed:
            await c.bulk_stop()
        replies = failed.value.replies
        assert replies[:2] == [b"OK", b"OK"] and isinstance(replies[2], ReplyError)
        assert len(replies) == 3
        assert isinstance(failed.value.__cause__, LOST)
        assert c.bulk is False


@async_test
async def test_a_failed_automatic_flush_raises_then_bulk_stop_reports_it():
    def resets_after_reading(peer):
        peer.read_command()
        peer.reset()

    with FakeRedis(resets_after_reading) as fake:
        c = AsyncClient(host=fake.host, port=fake.port)
        c.bulk_start(bulk_size=2)
        await c.set("a", 1)
        with pytest.raises(LOST):
            await c.set("b", 2)  # the batch is full: the flush fails
        assert c.bulk is True  # until bulk_stop, as upstream
        with pytest.raises(PyRedisBulkError) as failed:
            await c.bulk_stop()
        assert failed.value.replies == [] and c.bulk is False


@async_test
async def test_a_cancelled_blocking_command_closes_only_its_lease(redis):
    pool = AsyncPool(host=redis.host, port=redis.port, pool_size=3)
    shared = [asyncio.ensure_future(pool.echo("s%d" % i)) for i in range(30)]
    blocked = asyncio.ensure_future(pool.blpop("q", 5))
    await asyncio.sleep(0.05)
    blocked.cancel()
    assert await asyncio.gather(*shared) == [b"s%d" % i for i in range(30)]
    assert await pool.rpush("q", "job") == 1
    await asyncio.sleep(0.05)
    assert await pool.lrange("q", 0, -1) == [b"job"]  # the abandoned BLPOP took nothing
    await pool.close()


@async_test
async def test_create_task_and_lazy_requests(redis):
    c = AsyncClient(host=redis.host, port=redis.port)
    request = c.set("lazy", "1")
    await asyncio.sleep(0.01)
    assert await c.get("lazy") is None  # nothing was sent before it was awaited
    assert await asyncio.create_task(request) == b"OK"
    with pytest.raises(RuntimeError):
        await request  # awaited once, like a coroutine
    task = asyncio.ensure_future(c.get("lazy"))
    assert await task == b"1"
    await c.close()


# -- what user tests patch --------------------------------------------------------
@async_test
async def test_patching_execute_on_the_class(redis):
    with mock.patch.object(AsyncClient, "execute", new_callable=mock.AsyncMock) as patched:
        patched.return_value = b"mocked"
        c = AsyncClient(host=redis.host, port=redis.port)
        assert await c.get("k") == b"mocked"
        patched.assert_awaited_once_with(b"GET", "k")
    with mock.patch.object(AsyncPool, "execute", new_callable=mock.AsyncMock) as patched:
        patched.return_value = b"pool-mocked"
        pool = AsyncPool(host=redis.host, port=redis.port)
        assert await pool.get("k") == b"pool-mocked"
    c = AsyncClient(host=redis.host, port=redis.port)
    assert await c.get("k") is None  # unpatched: the fast path again
    await c.close()


def test_patching_the_classes_upstream_looked_up():
    with mock.patch("pyredis.client.AsyncConnection") as conn_class:
        conn_class.return_value.read = mock.AsyncMock(return_value=b"message")
        sub = AsyncPubSubClient(host="127.0.0.1")
        assert run_on("asyncio", sub.get()) == b"message"
        conn_class.return_value.read.assert_awaited_once_with(close_on_timeout=False)
        hashed = pyredis.AsyncHashClient([("127.0.0.1", 1)])
        assert hashed._connection(0) is conn_class.return_value
    with mock.patch("pyredis.client.async_client.AsyncConnection") as conn_class:
        assert AsyncClient(host="127.0.0.1")._conn is conn_class.return_value
    with mock.patch("pyredis.pool.async_pool.AsyncClient") as client_class:
        assert AsyncPool(host="127.0.0.1")._connect() is client_class.return_value
    with mock.patch("pyredis.pool.AsyncHashClient") as client_class:
        pool = pyredis.AsyncHashPool([("127.0.0.1", 1)])
        assert pool._connect() is client_class.return_value
    with mock.patch("pyredis.pool.AsyncClusterMap") as map_class, \
            mock.patch("pyredis.pool.AsyncClusterClient") as client_class:
        pool = pyredis.AsyncClusterPool([("127.0.0.1", 1)])
        assert pool._map is map_class.return_value
        assert pool._connect() is client_class.return_value
    with mock.patch("pyredis.pool.AsyncSentinelClient") as sentinel_class:
        pool = pyredis.AsyncSentinelPool([("127.0.0.1", 1)], "mymaster")
        sentinel_class.assert_called_once()
        del pool

    async def node():
        return ("127.0.0.1", 1)

    with mock.patch("pyredis.pool.AsyncSentinelClient"), \
            mock.patch("pyredis.pool.AsyncClient") as client_class:
        pool = pyredis.AsyncSentinelPool([("127.0.0.1", 1)], "mymaster")
        pool._locator.node = node
        assert run_on("asyncio", pool._connect()) is client_class.return_value
        assert client_class.call_args.kwargs["host"] == "127.0.0.1"
    with mock.patch("pyredis.pool.AsyncSentinelClient"), \
            mock.patch("pyredis.pool.AsyncHashClient") as client_class:
        pool = pyredis.AsyncSentinelHashPool([("127.0.0.1", 1)], ["m1"])
        for locator in pool._locators:
            locator.node = node
        assert run_on("asyncio", pool._connect()) is client_class.return_value
        assert client_class.call_args.kwargs["buckets"] == [("127.0.0.1", 1)]
    with mock.patch("pyredis.client.AsyncClusterMap") as map_class:
        client = pyredis.AsyncClusterClient(seeds=[("127.0.0.1", 1)])
        assert client._map is map_class.return_value


@pytest.mark.parametrize("make", [
    lambda: AsyncConnection(host="127.0.0.1"),
    lambda: AsyncClient(host="127.0.0.1"),
    lambda: AsyncPubSubClient(host="127.0.0.1"),
])
def test_closed_is_read_only(make):
    target = make()
    assert target.closed is False
    with pytest.raises(AttributeError):
        target.closed = True
    assert target.closed is False


def test_push_handler_must_be_callable():
    with pytest.raises(TypeError, match="push_handler"):
        AsyncConnection(host="127.0.0.1", push_handler=42)


def test_no_reference_cycle_keeps_a_closed_client_alive(redis):
    async def main():
        c = AsyncClient(host=redis.host, port=redis.port)
        await c.ping()
        await c.close()
        return c._conn._proto

    proto = run_on("asyncio", main())
    gc.collect()
    assert proto.reader is None and proto.lost is not None


def test_pools_pass_push_handler_to_their_connections(redis):
    def handler(push):
        pass

    pool = AsyncPool(host="127.0.0.1", push_handler=handler)
    assert pool._connect()._conn._push_handler is handler
    hashed = pyredis.AsyncHashPool([("127.0.0.1", 1)], push_handler=handler)
    assert hashed._connect()._connection(0)._push_handler is handler
    with pytest.raises(TypeError, match="push_handler"):
        AsyncPool(host="127.0.0.1", push_handler="not callable")
    with mock.patch("pyredis.pool.AsyncClusterMap"):
        cluster = pyredis.AsyncClusterPool([("127.0.0.1", 1)], push_handler=handler)
    assert cluster._connect()._conn_kwargs["push_handler"] is handler

    async def node():
        return (redis.host, redis.port)

    async def sentinel_clients():
        sentinel = pyredis.AsyncSentinelPool([("127.0.0.1", 1)], "m", push_handler=handler)
        sentinel._locator.node = node
        sentinel_hash = pyredis.AsyncSentinelHashPool([("127.0.0.1", 1)], ["m1"],
                                                      push_handler=handler)
        for locator in sentinel_hash._locators:
            locator.node = node
        clients = await sentinel._connect(), await sentinel_hash._connect()
        assert clients[0]._conn._push_handler is handler
        assert clients[1]._connection(0)._push_handler is handler
        await sentinel.close()
        await sentinel_hash.close()

    asyncio.run(sentinel_clients())
