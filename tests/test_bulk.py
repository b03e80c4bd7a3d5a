"""bulk_stop() after a failed flush, Client and HashClient, against a real
redis-server whose connection dies in the middle of a batch.

The batch itself carries ``CLIENT KILL ID <own id> SKIPME no``: the server
answers it, closes that connection and never runs the commands queued after
it, so exactly the replies before the kill (and the kill's own) are readable.
"""
import signal

import pytest

from pyredis import Client, HashClient
from pyredis import client as client_module
from pyredis.exceptions import (
    PyRedisBulkError,
    PyRedisConnClosed,
    PyRedisConnError,
    PyRedisError,
)

GONE = (PyRedisConnClosed, PyRedisConnError)  # EOF or reset, depending on timing


def kill_command(conn_id):
    return ("CLIENT", "KILL", "ID", conn_id, "SKIPME", "no")


@pytest.fixture
def client(redis):
    c = Client(host=redis.host, port=redis.port)
    yield c
    c.close()


def exists(redis, key):
    return redis.command("EXISTS", key) == b":1"


# -- Client --------------------------------------------------------------------------------------
@pytest.mark.parametrize("keep_results", [True, False])
def test_bulk_stop_raises_when_the_batch_lost_replies(client, redis, keep_results):
    me = client.execute("CLIENT", "ID")
    client.bulk_start(bulk_size=0, keep_results=keep_results)
    for i in range(100):
        client.set("a%d" % i, i)
    client.execute(*kill_command(me))
    for i in range(100):
        client.set("b%d" % i, i)
    with pytest.raises(PyRedisBulkError) as info:
        client.bulk_stop()
    error = info.value
    assert isinstance(error, PyRedisError) and isinstance(error.__cause__, GONE)
    assert str(error).startswith("bulk_stop() could not read every reply: ")
    # 101 of 201: the SETs before the kill and the kill's own reply (none kept
    # with keep_results=False).
    assert error.replies == ([b"OK"] * 100 + [1] if keep_results else [])
    # Out of bulk mode, for good: a second bulk_stop() has no batch to report
    # (it used to return the 101 replies as if the batch had succeeded).
    assert client.bulk is False and client.closed
    with pytest.raises(PyRedisError, match="^Not in bulk mode$"):
        client.bulk_stop()
    assert exists(redis, "a99") and not exists(redis, "b0")


def test_bulk_stop_after_a_failed_automatic_flush(client):
    me = client.execute("CLIENT", "ID")
    client.bulk_start(bulk_size=50)
    for i in range(60):  # the first batch of 50 is flushed and read
        client.set("a%d" % i, i)
    client.execute(*kill_command(me))  # command 61
    with pytest.raises(GONE) as failed:
        for i in range(39):  # the 100th command flushes the second batch
            client.set("b%d" % i, i)
    assert client.bulk is True  # as upstream: in bulk mode until bulk_stop()
    with pytest.raises(PyRedisConnError, match="Connection Gone"):
        for i in range(50):  # the next batch cannot go anywhere
            client.set("c%d" % i, i)
    with pytest.raises(PyRedisBulkError) as info:
        client.bulk_stop()
    assert info.value.__cause__ is failed.value  # the first failure, not the later one
    assert info.value.replies == [b"OK"] * 60 + [1]
    assert client.bulk is False


def test_a_failed_write_before_the_flush_is_reported_too(client, monkeypatch):
    monkeypatch.setattr(client_module.client, "BULK_WRITE_LIMIT", 100)
    client.bulk_start(bulk_size=0)
    client.set("a", "1")
    client.close()
    with pytest.raises(PyRedisConnError):
        client.set("b", "x" * 200)  # over the byte limit: written at once, and fails
    with pytest.raises(PyRedisBulkError) as info:
        client.bulk_stop()
    assert info.value.replies == [] and isinstance(info.value.__cause__, PyRedisConnError)
    assert client.bulk is False


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="no setitimer")
def test_an_interrupted_bulk_stop_raises_the_interrupt_and_leaves_bulk_mode(client):
    class Interrupt(BaseException):
        pass

    def interrupt(signum, frame):
        raise Interrupt

    client.bulk_start()
    client.set("k", "1")
    client.blpop("empty", 5)  # bulk_stop waits for this reply
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(Interrupt):
            client.bulk_stop()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert client.bulk is False and client.closed
    with pytest.raises(PyRedisError, match="^Not in bulk mode$"):
        client.bulk_stop()


def test_bulk_mode_works_again_after_a_failure(redis):
    client = Client(host=redis.host, port=redis.port)
    client.bulk_start()
    client.close()
    client.set("k", "1")
    with pytest.raises(PyRedisBulkError):
        client.bulk_stop()
    fresh = Client(host=redis.host, port=redis.port)
    fresh.bulk_start()
    fresh.set("k", "1")
    assert fresh.bulk_stop() == [b"OK"]
    fresh.close()


# -- HashClient: a failure in one bucket ---------------------------------------------------------
@pytest.fixture
def ring(redis):
    """Two buckets on one server (TCP and unix socket): two connections, so
    one of them can be killed while the other lives."""
    c = HashClient([(redis.host, redis.port), redis.unix_sock])
    c.tcp, c.unix = "%s_%s" % (redis.host, redis.port), redis.unix_sock
    c.victim = c.execute("CLIENT", "ID", sock=c.unix)
    c.ping(sock=c.tcp)
    yield c
    c.close()


def run_on(ring, sock, count, prefix="k"):
    for i in range(count):
        ring.execute("SET", "%s%d" % (prefix, i), i, sock=sock)


@pytest.mark.parametrize("keep_results", [True, False])
def test_hash_bulk_stop_raises_when_one_bucket_failed(ring, keep_results):
    ring.bulk_start(bulk_size=0, keep_results=keep_results)
    run_on(ring, ring.tcp, 3)
    run_on(ring, ring.unix, 3)
    ring.execute(*kill_command(ring.victim), sock=ring.unix)
    run_on(ring, ring.unix, 3, "later")  # the first reply lost
    run_on(ring, ring.tcp, 3, "later")  # read, but after a lost one
    with pytest.raises(PyRedisBulkError) as info:
        ring.bulk_stop()
    assert isinstance(info.value.__cause__, GONE)
    # The replies of the commands before the first one whose reply was lost.
    assert info.value.replies == ([b"OK"] * 6 + [1] if keep_results else [])
    assert ring.bulk is False and ring.closed  # a failed bucket closes the whole client
    with pytest.raises(PyRedisError, match="^Not in bulk mode$"):
        ring.bulk_stop()


def test_hash_bulk_stop_after_a_failure_in_a_one_bucket_batch(ring):
    ring.bulk_start(bulk_size=0)
    run_on(ring, ring.unix, 3)
    ring.execute(*kill_command(ring.victim), sock=ring.unix)
    run_on(ring, ring.unix, 3, "later")
    with pytest.raises(PyRedisBulkError) as info:
        ring.bulk_stop()
    assert info.value.replies == [b"OK"] * 3 + [1]


def test_hash_bulk_stop_after_a_failed_automatic_flush(ring):
    ring.bulk_start(bulk_size=8)  # all buckets together
    run_on(ring, ring.tcp, 4)
    run_on(ring, ring.unix, 4)  # the first batch: flushed and read
    run_on(ring, ring.tcp, 2, "second")
    ring.execute(*kill_command(ring.victim), sock=ring.unix)
    with pytest.raises(GONE) as failed:
        run_on(ring, ring.unix, 1, "lost")
        run_on(ring, ring.tcp, 4, "third")  # the 16th command flushes
    assert ring.closed and ring.bulk is True
    with pytest.raises(PyRedisBulkError) as info:
        ring.bulk_stop()
    assert info.value.__cause__ is failed.value
    assert info.value.replies == [b"OK"] * 8 + [b"OK", b"OK", 1]
    assert ring.bulk is False
