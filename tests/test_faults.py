"""Faults in the middle of a reply: the documented exception, a closed connection,
and the next command on the pool gets its own reply (never a stale one)."""
import signal
import socket
import threading
import time

import pytest

from fakeserver import FakeRedis, answer, serve
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
def test_reset_during_bulk_flush():
    def two_then_reset(peer):
        peer.read_command()
        peer.read_command()
        peer.send(b"+OK\r\n")
        time.sleep(0.05)
        peer.reset()

    with FakeRedis(two_then_reset, serve) as fake:
        client = Client(host=fake.host, port=fake.port)
        client.bulk_start(bulk_size=3)
        client.set("a", "1")
        client.set("b", "2")
        with pytest.raises(PyRedisConnError):
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
    reset_done = threading.Event()

    def reset(peer):
        peer.reset()
        reset_done.set()

    with FakeRedis(reset) as fake:
        client = Client(host=fake.host, port=fake.port)
        client._conn._connect()
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
