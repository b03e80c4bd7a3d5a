"""Faults in the middle of a reply: the documented exception, a closed connection,
and the next command on the pool gets its own reply (never a stale one)."""
import signal
import socket
import threading
import time

import pytest

from fakeserver import FakeRedis, StrayAfterReply, answer, serve
from servers import RedisServer
from pyredis import Client, Pool
from pyredis.exceptions import (
    ProtocolError,
    PyRedisConnClosed,
    PyRedisConnError,
    PyRedisConnReadTimeout,
)

HALF_BULK = b"$10\r\nhello"  # a 10-byte bulk string, 5 bytes short


def half_then(ending):
    """Script: answer the first command with half a bulk, then ``ending(peer)``."""
    def script(peer):
        peer.read_command()
        peer.send(HALF_BULK)
        time.sleep(0.05)  # let the client consume the half reply first
        ending(peer)
    return script


def one_pool(fake, **kwargs):
    return Pool(host=fake.host, port=fake.port, pool_size=1, **kwargs)


def assert_pool_recovers(pool):
    assert pool.echo("fresh") == b"fresh"
    assert pool.echo("again") == b"again"


# -- cut replies -------------------------------------------------------------------
def test_server_closes_mid_reply():
    with FakeRedis(half_then(lambda peer: peer.close()), serve) as fake:
        pool = one_pool(fake)
        with pytest.raises(PyRedisConnClosed):
            pool.echo("first")
        assert_pool_recovers(pool)
        assert fake.accepted == 2


def test_socket_reset_mid_reply():
    with FakeRedis(half_then(lambda peer: peer.reset()), serve) as fake:
        client = Client(host=fake.host, port=fake.port)
        with pytest.raises(PyRedisConnError):
            client.echo("first")
        assert client.closed
        pool = one_pool(fake)
        assert_pool_recovers(pool)


def test_protocol_error_mid_stream():
    def garbage(peer):
        peer.read_command()
        peer.send(b"*3\r\n:1\r\n:2\r\n")
        peer.send(b"%not-a-count\r\n")  # a map header whose length is no number
        serve(peer)  # would answer later commands on this (poisoned) stream

    with FakeRedis(garbage, serve) as fake:
        pool = one_pool(fake)
        with pytest.raises(ProtocolError):
            pool.echo("first")
        assert_pool_recovers(pool)
        assert fake.accepted == 2  # the poisoned connection was not reused


def test_reply_slower_than_read_timeout(redis):
    pool = Pool(host=redis.host, port=redis.port, pool_size=1, read_timeout=0.2)
    with pytest.raises(PyRedisConnReadTimeout):
        pool.blpop("empty", 1)
    time.sleep(1.2)  # the BLPOP's own nil reply has arrived on the dead socket by now
    assert pool.echo("mine") == b"mine"
    pool.rpush("empty", "x")
    assert pool.lrange("empty", 0, -1) == [b"x"]


def test_fake_server_slower_than_read_timeout():
    def slow(peer):
        args = peer.read_command()
        time.sleep(0.6)
        peer.send(answer(args))  # the stale reply
        serve(peer)

    with FakeRedis(slow, serve) as fake:
        pool = one_pool(fake, read_timeout=0.2)
        with pytest.raises(PyRedisConnReadTimeout):
            pool.echo("stale")
        time.sleep(0.5)
        assert pool.echo("mine") == b"mine"


class Interrupted(BaseException):
    """Stands for KeyboardInterrupt arriving while a reply is half read."""


def test_interrupt_mid_reply_closes():
    def stall(peer):
        peer.read_command()
        peer.send(HALF_BULK)
        time.sleep(1)
        peer.send(b"56789\r\n")  # the rest of the reply, too late
        serve(peer)

    def interrupt(signum, frame):
        raise Interrupted

    with FakeRedis(stall, serve) as fake:
        pool = one_pool(fake)
        previous = signal.signal(signal.SIGALRM, interrupt)
        try:
            signal.setitimer(signal.ITIMER_REAL, 0.3)
            with pytest.raises(Interrupted):
                pool.echo("first")
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        time.sleep(0.9)
        assert_pool_recovers(pool)
        assert fake.accepted == 2


# -- bulk flushes ------------------------------------------------------------------
@pytest.mark.parametrize("ending, error", [("close", PyRedisConnClosed),
                                           ("reset", PyRedisConnError)])
def test_dropped_during_a_bulk_flush(ending, error):
    def two_of_three(peer):
        for _ in range(3):
            peer.read_command()
        peer.send(b"+OK\r\n+OK\r\n")
        time.sleep(0.05)
        if ending == "close":
            peer.close()
        else:
            peer.reset()

    with FakeRedis(two_of_three, serve) as fake:
        client = Client(host=fake.host, port=fake.port)
        client.bulk_start(bulk_size=3)
        client.set("a", "1")
        client.set("b", "2")
        with pytest.raises(error):
            client.set("c", "3")
        assert client.closed


# -- writes --------------------------------------------------------------------------
def test_write_timeout_closes():
    def never_read(peer):
        time.sleep(3)

    with FakeRedis(never_read) as fake:
        client = Client(host=fake.host, port=fake.port, read_timeout=0.2)
        with pytest.raises(PyRedisConnError):
            client.set("k", b"x" * (64 * 1024 * 1024))
        assert client.closed


def test_write_to_a_reset_socket():
    connected, reset_done = threading.Event(), threading.Event()

    def reset(peer):
        connected.wait(5)  # a reset before _connect() returned would fail it instead
        peer.reset()
        reset_done.set()

    with FakeRedis(reset) as fake:
        client = Client(host=fake.host, port=fake.port)
        client._conn._connect()
        connected.set()
        assert reset_done.wait(5)  # a fixed sleep was not always enough on a loaded machine
        time.sleep(0.05)  # the RST crosses loopback
        with pytest.raises(PyRedisConnError):
            client.set("k", b"x" * (1024 * 1024))
        assert client.closed


# -- a real server that dies ----------------------------------------------------------
def test_real_server_killed():
    server = RedisServer().start()
    try:
        pool = Pool(host=server.host, port=server.port, pool_size=2)
        client = Client(host=server.host, port=server.port)
        assert pool.set("k", "v") == b"OK" and client.ping() == b"PONG"
        server.kill()
        with pytest.raises((PyRedisConnError, PyRedisConnClosed)):
            client.ping()
        assert client.closed
        for _ in range(3):  # each attempt fails cleanly; nothing hangs
            with pytest.raises((PyRedisConnError, PyRedisConnClosed)):
                pool.get("k")
    finally:
        server.stop()


def test_real_server_killed_during_a_blocking_reply():
    server = RedisServer().start()
    try:
        client = Client(host=server.host, port=server.port, read_timeout=5)
        client.ping()
        killer = threading.Timer(0.3, server.kill)
        killer.start()
        with pytest.raises((PyRedisConnError, PyRedisConnClosed)):
            client.blpop("nothing", 4)
        killer.join()
        assert client.closed
    finally:
        server.stop()


def test_fake_server_errors_are_none():
    # Guards the fakes themselves: a broken script would make the tests above vacuous.
    with FakeRedis(serve) as fake:
        with socket.create_connection((fake.host, fake.port)) as s:
            s.sendall(b"*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n")
            assert s.recv(100) == b"$2\r\nhi\r\n"
        assert fake.errors == []


# -- a failed reply is let go of at once ------------------------------------------------
@pytest.mark.parametrize("ending", ["close", "reset", "stall"])
def test_half_received_reply_is_released_at_once(ending):
    # The cycle collector is off: nothing may depend on it.  Memory is measured
    # with tracemalloc while the caller still holds the exception, and after.
    import gc
    import tracemalloc

    size = 8 * 1024 * 1024
    chunk = 256 * 1024

    def big_then(peer):
        peer.send(answer(peer.read_command()))
        peer.read_command()
        peer.send(b"$%d\r\n" % (4 * size))
        for _ in range(size // chunk):
            peer.send(b"x" * chunk)
        time.sleep(0.2)
        if ending == "close":
            peer.close()
        elif ending == "reset":
            peer.reset()
        else:
            time.sleep(1)  # the client's read timeout (0.5 s) expires first

    with FakeRedis(big_then) as fake:
        client = Client(host=fake.host, port=fake.port, read_timeout=0.5)
        client.ping()  # connected before measuring
        gc.collect()
        gc.disable()
        tracemalloc.start()
        try:
            try:
                client.get("big")
            except (PyRedisConnClosed, PyRedisConnError, PyRedisConnReadTimeout) as exc:
                error = exc
            else:
                raise AssertionError("the reply cannot be complete")
            while_held = tracemalloc.get_traced_memory()[0]
            del error
            after = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
            gc.enable()
        assert client.closed
    assert while_held < size // 4, while_held
    assert after < size // 4, after


# -- bytes nobody asked for, through a pool -----------------------------------------------
def readable(sock, timeout=5):
    import select

    return bool(select.select([sock], [], [], timeout)[0])


def idle_clients(pool):
    return list(pool._pool_free)


def test_extra_reply_never_reaches_the_next_command():
    def extra(peer):
        peer.send(answer(peer.read_command()) + b"+EXTRA\r\n")
        serve(peer)

    with FakeRedis(extra, serve) as fake:
        pool = one_pool(fake)
        assert pool.echo("first") == b"first"
        assert pool.echo("second") == b"second"
        assert pool.echo("third") == b"third"
        assert fake.accepted == 2


def test_extra_reply_while_idle_makes_the_pool_retry_unsent():
    script = StrayAfterReply(b"+EXTRA\r\n")
    with FakeRedis(script, serve) as fake:
        pool = one_pool(fake)
        assert pool.echo("first") == b"first"
        script.go.set()
        assert readable(idle_clients(pool)[0]._conn._sock)
        assert pool.echo("second") == b"second"  # retried on a new connection
        assert fake.accepted == 2
    assert script.seen == []  # never sent on the first one


def test_connection_killed_while_idle_is_retried(redis):
    pool = Pool(host=redis.host, port=redis.port, pool_size=1)
    pool.set("k", "v")
    first = pool.execute("CLIENT", "ID")
    redis.command("CLIENT", "KILL", "ID", first)
    assert readable(idle_clients(pool)[0]._conn._sock)
    assert pool.get("k") == b"v"  # no error: nothing had been sent on the dead one
    assert pool.execute("CLIENT", "ID") != first


def test_pool_retries_once_only():
    from pyredis.connection.errors import CommandNotSent

    def greeting(peer):
        peer.send(b"+Welcome\r\n")
        serve(peer)

    with FakeRedis(greeting) as fake:
        pool = Pool(host=fake.host, port=fake.port, pool_size=2)
        leased = [pool.acquire(), pool.acquire()]
        for client in leased:
            client._conn._connect()
            assert readable(client._conn._sock)
        for client in leased:
            pool.release(client)
        with pytest.raises(CommandNotSent, match="Welcome"):
            pool.echo("x")
        assert fake.accepted == 2  # the first try and one retry


def test_a_leased_client_is_not_retried():
    from pyredis.connection.errors import CommandNotSent

    def greeting(peer):
        peer.send(b"+Welcome\r\n")
        serve(peer)

    with FakeRedis(greeting) as fake:
        pool = one_pool(fake)
        with pool.lease() as client:
            client._conn._connect()
            assert readable(client._conn._sock)
            with pytest.raises(CommandNotSent):
                client.echo("x")
        assert fake.accepted == 1


def test_client_tracking_does_not_shift_replies(redis):
    # The issue as seen on a real Redis 7: a pooled connection with tracking on,
    # a key it read changed by another client; every later reply was the
    # previous command's, for ever.
    for pushes in ([], None):
        redis.flushall()
        pool = Pool(host=redis.host, port=redis.port, pool_size=1,
                    push_handler=None if pushes is None else pushes.append)
        other = Client(host=redis.host, port=redis.port)
        other.mset("ka", "va", "kb", "vb", "kc", "vc")
        with pool.lease() as client:
            client.execute("HELLO", 3)
            assert client.execute("CLIENT", "TRACKING", "ON") == b"OK"
            assert client.get("ka") == b"va"
            tracked = client.execute("CLIENT", "ID")
        other.set("ka", "new")
        assert readable(idle_clients(pool)[0]._conn._sock)  # the invalidation is there
        assert pool.get("kb") == b"vb"
        assert pool.get("kc") == b"vc"
        assert pool.get("ka") == b"new"
        assert pool.execute("CLIENT", "ID") == tracked  # the same connection, still in step
        if pushes is not None:
            assert pushes == [[b"invalidate", [b"ka"]]]
        other.close()
        pool.close()


def test_client_side_cache_gets_the_invalidated_keys(redis):
    cache = {}

    def invalidate(push):
        if push[0] == b"invalidate":
            for key in push[1] or ():
                cache.pop(key, None)

    client = Client(host=redis.host, port=redis.port, push_handler=invalidate)
    client.execute("HELLO", 3)
    client.execute("CLIENT", "TRACKING", "ON")
    client.mset("a", "1", "b", "2", "c", "3")
    for key in (b"a", b"b", b"c"):
        cache[key] = client.get(key)
    redis.command("SET", "b", "changed")
    redis.command("DEL", "c")
    for _ in range(50):  # until both invalidations have come in (a bounded wait)
        readable(client._conn._sock, 0.1)
        assert client.ping() == b"PONG"
        if len(cache) == 1:
            break
    assert cache == {b"a": b"1"}


# -- pushes in bulk mode ---------------------------------------------------------------------
def test_pushes_during_bulk_mode():
    push = b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"

    def batch(peer):
        for _ in range(3):
            peer.read_command()
        peer.send(push + b"+OK\r\n" + push + b":1\r\n" + push)
        time.sleep(0.05)
        peer.send(b"$1\r\n1\r\n" + push)
        serve(peer)

    with FakeRedis(batch) as fake:
        pushes = []
        client = Client(host=fake.host, port=fake.port, push_handler=pushes.append)
        client.bulk_start(bulk_size=3)
        client.set("k", "1")
        client.incr("n")
        client.get("k")
        assert client.bulk_stop() == [b"OK", 1, b"1"]
        assert len(pushes) == 4
        assert client.ping() == b"PONG"
        assert fake.accepted == 1


def test_extra_reply_after_a_bulk_batch_closes():
    def batch(peer):
        peer.read_command()
        peer.read_command()
        peer.send(b"+OK\r\n+OK\r\n+EXTRA\r\n")
        serve(peer)

    with FakeRedis(batch) as fake:
        client = Client(host=fake.host, port=fake.port)
        client.bulk_start()
        client.set("a", "1")
        client.set("b", "2")
        assert client.bulk_stop() == [b"OK", b"OK"]
        assert client.closed
