"""Client against a real redis-server: commands, transactions, bulk mode."""
import pytest

from pyredis import Client
from pyredis import client as client_module
from pyredis.exceptions import PyRedisConnError, PyRedisError, ReplyError


@pytest.fixture(params=["tcp", "unix"])
def client(request, redis):
    if request.param == "tcp":
        c = Client(host=redis.host, port=redis.port)
    else:
        c = Client(unix_sock=redis.unix_sock)
    yield c
    c.close()


class CountingSocket:
    """Wraps a connected socket and counts sendall calls."""

    def __init__(self, sock):
        self.sock = sock
        self.sendalls = 0

    def sendall(self, data):
        self.sendalls += 1
        return self.sock.sendall(data)

    def __getattr__(self, name):
        return getattr(self.sock, name)


def count_writes(client):
    client.ping()  # connect first
    wrapped = CountingSocket(client._conn._sock)
    client._conn._sock = wrapped
    client._conn._fd = -1  # make the compiled _io use the (wrapped) socket object
    return wrapped


# -- basics --------------------------------------------------------------------
def test_commands_through_mixins(client):
    assert client.ping() == b"PONG"
    assert client.set("k", "v") == b"OK"
    assert client.get("k") == b"v"
    assert client.execute("STRLEN", "k") == 1
    assert client.incr("n") == 1
    assert client.rpush("l", "a", "b") == 2
    assert client.lrange("l", 0, -1) == [b"a", b"b"]


def test_kwargs_go_to_the_connection(redis):
    c = Client(host=redis.host, port=redis.port, database=3, encoding="utf-8")
    c.set("k", "v")
    assert c.get("k") == "v"
    assert Client(host=redis.host, port=redis.port, database=0).get("k") is None


def test_unknown_kwarg_and_positional_args_are_refused(redis):
    with pytest.raises(TypeError):
        Client(host=redis.host, port=redis.port, bogus=1)
    with pytest.raises(TypeError):
        Client(redis.host, redis.port)


def test_reply_error_raised(client):
    client.set("s", "x")
    with pytest.raises(ReplyError):
        client.lpush("s", "y")
    assert client.get("s") == b"x"


def test_close_and_closed(client):
    assert client.closed is False
    client.ping()
    client.close()
    assert client.closed is True
    with pytest.raises(PyRedisConnError):
        client.ping()


def test_context_manager(redis):
    with Client(host=redis.host, port=redis.port) as c:
        assert c.ping() == b"PONG"
    assert c.closed


def test_client_is_exported_where_upstream_has_it():
    assert client_module.Client is Client
    assert Client._cluster is False


# -- transactions ----------------------------------------------------------------
def test_multi_exec(client):
    assert client.multi() == b"OK"
    assert client.set("a", "1") == b"QUEUED"
    assert client.incr("a") == b"QUEUED"
    assert client.exec() == [b"OK", 2]
    assert client.get("a") == b"2"


def test_discard(client):
    client.multi()
    client.set("a", "1")
    assert client.discard() == b"OK"
    assert client.get("a") is None


def test_watch_conflict_aborts(client, redis):
    client.set("w", "0")
    assert client.watch("w") == b"OK"
    redis.command("SET", "w", "changed")  # another client touches the key
    client.multi()
    client.set("w", "mine")
    assert client.exec() is None
    assert client.get("w") == b"changed"


def test_error_inside_transaction_is_an_element(client):
    client.set("s", "x")
    client.multi()
    client.lpush("s", "y")
    client.incr("n")
    result = client.exec()
    assert isinstance(result[0], ReplyError)
    assert result[1] == 1


# -- bulk mode -------------------------------------------------------------------
def test_bulk_returns_replies_in_order(client):
    client.bulk_start()
    assert client.bulk is True
    assert client.set("a", "1") is None
    assert client.incr("a") is None
    assert client.get("a") is None
    assert client.execute("NOSUCHCOMMAND") is None
    assert client.get("missing") is None
    results = client.bulk_stop()
    assert client.bulk is False
    assert results[:3] == [b"OK", 2, b"2"]
    assert isinstance(results[3], ReplyError)
    assert results[4] is None
    assert client.get("a") == b"2"  # back to normal mode


def test_bulk_writes_once_per_batch(client):
    sock = count_writes(client)
    client.bulk_start(bulk_size=100)
    for i in range(250):
        client.set("k%d" % i, i)
    assert sock.sendalls == 2  # two full batches went out, 50 commands wait
    results = client.bulk_stop()
    assert sock.sendalls == 3
    assert results == [b"OK"] * 250
    assert client.get("k249") == b"249"


def test_bulk_auto_flush_reads_replies(client, redis):
    client.bulk_start(bulk_size=3)
    client.set("x", "1")
    client.set("y", "2")
    assert redis.command("EXISTS", "x") == b":0"  # still buffered
    client.set("z", "3")  # third command: the batch is written and read
    assert redis.command("EXISTS", "x", "y", "z") == b":3"
    client.incr("x")
    assert client.bulk_stop() == [b"OK", b"OK", b"OK", 2]


@pytest.mark.parametrize("bulk_size", [0, None, -1])
def test_bulk_without_auto_flush(client, redis, bulk_size):
    sock = count_writes(client)
    client.bulk_start(bulk_size=bulk_size)
    for i in range(20):
        client.set("k%d" % i, i)
    assert sock.sendalls == 0
    assert redis.command("DBSIZE") == b":0"
    assert client.bulk_stop() == [b"OK"] * 20
    assert sock.sendalls == 1


def test_bulk_without_keeping_results(client):
    client.bulk_start(bulk_size=2, keep_results=False)
    for i in range(5):
        client.incr("n")
    assert client.bulk_stop() is None
    assert client.get("n") == b"5"


def test_bulk_mode_state_errors(client):
    with pytest.raises(PyRedisError, match="Not in bulk mode"):
        client.bulk_stop()
    client.bulk_start()
    with pytest.raises(PyRedisError, match="Already in bulk mode"):
        client.bulk_start()
    assert client.bulk_stop() == []


def test_bulk_bad_argument_raises_at_the_call_and_loses_nothing(client):
    client.bulk_start()
    client.set("a", "1")
    with pytest.raises((TypeError, ValueError)):
        client.set("b", None)
    client.set("c", "3")
    assert client.bulk_stop() == [b"OK", b"OK"]
    assert client.execute("MGET", "a", "b", "c") == [b"1", None, b"3"]


def test_bulk_large_batches_are_written_in_chunks(client, monkeypatch):
    # A huge bulk_size must not hold everything in memory before writing.
    monkeypatch.setattr(client_module.client, "BULK_WRITE_LIMIT", 1000)
    sock = count_writes(client)
    client.bulk_start(bulk_size=0)
    value = "x" * 400
    for i in range(10):
        client.set("k%d" % i, value)
    assert sock.sendalls >= 3
    assert client.bulk_stop() == [b"OK"] * 10
    assert client.get("k9") == value.encode()


def test_bulk_transaction(client):
    client.bulk_start()
    client.multi()
    client.set("t", "1")
    client.incr("t")
    client.exec()
    assert client.bulk_stop() == [b"OK", b"QUEUED", b"QUEUED", [b"OK", 2]]


def test_bulk_flush_failure_propagates_and_closes(redis):
    c = Client(host=redis.host, port=redis.port, read_timeout=0.3)
    c.bulk_start(bulk_size=2)
    c.set("a", "1")
    with pytest.raises(PyRedisError):
        c.blpop("empty", 2)  # second command: flush times out waiting for BLPOP
    assert c.closed
    assert c.bulk is True  # as upstream: the state stays in bulk mode
    c.set("b", "2")
    with pytest.raises(PyRedisConnError, match="Connection Gone"):
        c.set("c", "3")  # the next batch cannot be written on a closed connection


def test_subclass_override_of_execute_is_honoured(redis):
    seen = []

    class Logged(Client):
        def execute(self, *args):
            seen.append(args[0])
            return super().execute(*args)

    c = Logged(host=redis.host, port=redis.port)
    c.set("k", "v")
    c.bulk_start()
    c.get("k")
    assert c.bulk_stop() == [b"v"]
    c.get("k")
    assert seen == [b"SET", b"GET", b"GET"]
