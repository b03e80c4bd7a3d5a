"""Client against a real redis-server: commands, transactions, bulk mode."""
import pytest

from pyredis import Client
from pyredis import client as client_module
from pyredis.connection import Connection
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


# -- RESP3 ---------------------------------------------------------------------------
FALSE_SCRIPT = "redis.setresp(3); return false"


def test_resp3_false_in_bulk_mode(redis):
    c = Client(host=redis.host, port=redis.port, read_timeout=None)
    c.execute("HELLO", 3)
    assert c.eval(FALSE_SCRIPT, 0) is False
    c.bulk_start(bulk_size=2)
    c.eval(FALSE_SCRIPT, 0)
    c.ping()  # a full batch: flushed here
    c.eval(FALSE_SCRIPT, 0)
    assert c.bulk_stop() == [False, b"PONG", False]


def test_push_handler_goes_to_the_connection(redis):
    c = Client(host=redis.host, port=redis.port, push_handler=print)
    assert c._conn.push_handler is print


# -- closed ------------------------------------------------------------------------------
def closed_owners(redis):
    from pyredis import ClusterClient, HashClient, PubSubClient
    from pyredis.connection import Connection

    return [Client(host=redis.host, port=redis.port),
            PubSubClient(host=redis.host, port=redis.port),
            HashClient(buckets=[(redis.host, redis.port)]),
            ClusterClient(seeds=[(redis.host, redis.port)]),
            Connection(host=redis.host, port=redis.port)]


def test_closed_is_a_read_only_property(redis):
    import inspect

    for obj in closed_owners(redis):
        assert isinstance(inspect.getattr_static(obj, "closed"), property)
        assert obj.closed is False
        with pytest.raises(AttributeError):
            obj.closed = True
        assert obj.closed is False
        obj.close()
        assert obj.closed is True


def test_closed_follows_the_connection(redis):
    c = Client(host=redis.host, port=redis.port)
    c.ping()
    c._conn.close()  # as a failure does
    assert c.closed is True


def test_pool_drops_a_client_whose_closed_says_so(redis):
    from pyredis import Pool

    class Flagged(Client):
        @property
        def closed(self):  # not the stock property: the pool must ask it
            return self.flag

    class FlaggedPool(Pool):
        def _connect(self):
            return Flagged(host=self.host, port=self.port)

    pool = FlaggedPool(host=redis.host, port=redis.port, pool_size=2)
    client = pool.acquire()
    assert type(client) is Flagged
    client.flag = False
    pool.release(client)
    assert pool._pool_free == {client}
    client = pool.acquire()
    client.flag = True
    pool.release(client)
    assert pool._pool_free == frozenset() and client not in pool._pool_used


# -- mocking as upstream allowed it ----------------------------------------------------
def test_patched_client_execute_is_called(redis):
    from unittest import mock

    with mock.patch.object(Client, "execute", return_value=b"mocked") as execute:
        c = Client(host=redis.host, port=redis.port)
        assert c.get("k") == b"mocked"
        c.bulk_start()
        c.set("k", "v")
        c.bulk_stop()
    execute.assert_has_calls([mock.call(b"GET", "k"), mock.call(b"SET", "k", "v")])
    assert Client(host=redis.host, port=redis.port).get("k") is None  # the real one again


def test_patched_client_execute_reaches_pooled_clients(redis):
    from unittest import mock
    from pyredis import Pool

    pool = Pool(host=redis.host, port=redis.port)
    with mock.patch.object(Client, "execute", return_value=b"mocked") as execute:
        assert pool.get("k") == b"mocked"
    execute.assert_called_once_with(b"GET", "k")


def test_patched_client_execute_with_autospec(redis):
    from unittest import mock

    with mock.patch.object(Client, "execute", autospec=True, return_value=7) as execute:
        c = Client(host=redis.host, port=redis.port)
        assert c.incr("n") == 7
    execute.assert_called_once_with(c, b"INCR", "n")


def test_patched_connection_class(redis):
    from unittest import mock

    with mock.patch("pyredis.client.Connection") as connection:
        conn = connection.return_value
        conn.read.return_value = b"v"
        c = Client(host="somewhere", port=1234, database=2)
        connection.assert_called_once_with(host="somewhere", port=1234, database=2)
        assert c.get("k") == b"v"
        conn.write.assert_called_once_with(b"GET", "k")
        conn.read.side_effect = [b"OK", b"OK", 1]
        c.bulk_start(bulk_size=2)
        c.set("a", 1)
        c.set("b", 2)  # the batch is full: its replies are read
        assert conn.read.call_count == 3
        c.incr("n")
        assert c.bulk_stop() == [b"OK", b"OK", 1]
        assert conn.write.call_args_list[1:] == [mock.call(b"SET", "a", 1),
                                                  mock.call(b"SET", "b", 2),
                                                  mock.call(b"INCR", "n")]
        assert conn.read.call_args_list[1:] == [mock.call(raise_on_result_err=False)] * 3
        assert c.closed is False
        c.close()
        conn.close.assert_called_once_with()
        assert c.closed is True


def test_patched_connection_class_for_pubsub():
    from unittest import mock
    from pyredis import PubSubClient

    with mock.patch("pyredis.client.Connection") as connection:
        conn = connection.return_value
        conn.read.return_value = [b"subscribe", b"ch", 1]
        s = PubSubClient(host="h")
        s.subscribe("ch")
        assert s.get() == [b"subscribe", b"ch", 1]
    conn.write.assert_called_once_with(b"SUBSCRIBE", "ch")
    conn.read.assert_called_once_with(close_on_timeout=False)


def test_connection_subclass_in_connection_s_place_keeps_the_fast_path(redis, monkeypatch):
    import pyredis.client
    from pyredis.connection import Connection

    made = []

    class Recording(Connection):
        def __init__(self, **kwargs):
            made.append(kwargs)
            super().__init__(**kwargs)

    monkeypatch.setattr(pyredis.client, "Connection", Recording)
    c = Client(host=redis.host, port=redis.port)
    assert made == [{"host": redis.host, "port": redis.port}]
    assert c.ping() == b"PONG"
    assert c.execute == c._conn._requester  # still the fast path


def test_pool_looks_its_client_class_up_when_connecting(redis):
    from unittest import mock
    from pyredis import Pool

    pool = Pool(host=redis.host, port=redis.port, database=1)  # made before the patch
    with mock.patch("pyredis.pool.Client") as client_class:
        client_class.return_value.execute.return_value = b"v"
        assert pool.get("k") == b"v"
    client_class.assert_called_once_with(
        host=redis.host, port=redis.port, unix_sock=None, database=1, password=None,
        encoding=None, conn_timeout=2, read_timeout=2, username=None)
    client_class.return_value.execute.assert_called_once_with(b"GET", "k")


def test_hash_pool_looks_its_client_class_up_when_connecting():
    from unittest import mock
    from pyredis import HashPool

    pool = HashPool(buckets=[("h1", 1), ("h2", 2)], password="pw")
    with mock.patch("pyredis.pool.HashClient") as client_class:
        client_class.return_value.execute.return_value = b"v"
        assert pool.get("k") == b"v"
    client_class.assert_called_once_with(
        buckets=[("h1", 1), ("h2", 2)], database=0, password="pw", encoding=None,
        conn_timeout=2, read_timeout=2, username=None)
    client_class.return_value.execute.assert_called_once_with(b"GET", "k", shard_key="k")


def test_cluster_pool_looks_its_client_class_up_when_connecting():
    from unittest import mock
    from pyredis import ClusterPool

    pool = ClusterPool(seeds=[("h1", 1)], slave_ok=True)
    with mock.patch("pyredis.pool.ClusterClient") as client_class:
        client_class.return_value.execute.return_value = b"v"
        assert pool.get("k") == b"v"
    client_class.assert_called_once_with(
        database=0, password=None, encoding=None, slave_ok=True, conn_timeout=2,
        read_timeout=2, cluster_map=pool.cluster_map, username=None)


def test_sentinel_pools_look_their_client_class_up_when_connecting(redis):
    from unittest import mock
    from pyredis import SentinelHashPool, SentinelPool

    pool = SentinelPool(sentinels=[("s", 1)], name="mymaster")
    pool._locator.node = lambda: (redis.host, redis.port)  # no sentinel in this test
    with mock.patch("pyredis.pool.Client") as client_class:
        client_class.return_value.execute.return_value = b"v"
        assert pool.get("k") == b"v"
    client_class.assert_called_once_with(
        host=redis.host, port=redis.port, database=0, password=None, encoding=None,
        conn_timeout=2, read_timeout=2, username=None)

    hash_pool = SentinelHashPool(sentinels=[("s", 1)], buckets=["m1"])
    for locator in hash_pool._locators:
        locator.node = lambda: (redis.host, redis.port)
    with mock.patch("pyredis.pool.HashClient") as client_class:
        client_class.return_value.execute.return_value = b"v"
        assert hash_pool.get("k") == b"v"
    assert client_class.call_args.kwargs["buckets"] == [(redis.host, redis.port)]


# -- push_handler through every sync pool and client ---------------------------------------
def test_push_handler_reaches_every_pooled_connection(redis):
    from pyredis import ClusterPool, HashPool, Pool, SentinelHashPool, SentinelPool

    def handler(push):
        pass

    pool = Pool(host=redis.host, port=redis.port, push_handler=handler)
    assert pool.push_handler is handler
    with pool.lease() as client:
        assert client._conn.push_handler is handler

    hash_pool = HashPool(buckets=[(redis.host, redis.port)], push_handler=handler)
    with hash_pool.lease() as client:
        client.ping(sock="%s_%s" % (redis.host, redis.port))
        assert client._conns[0].push_handler is handler

    cluster_pool = ClusterPool(seeds=[(redis.host, redis.port)], push_handler=handler)
    client = cluster_pool._connect()
    assert client._conn_kwargs["push_handler"] is handler

    sentinel_pool = SentinelPool(sentinels=[("s", 1)], name="m", push_handler=handler)
    sentinel_pool._locator.node = lambda: (redis.host, redis.port)
    with sentinel_pool.lease() as client:
        assert client._conn.push_handler is handler

    sentinel_hash_pool = SentinelHashPool(sentinels=[("s", 1)], buckets=["m1"],
                                          push_handler=handler)
    for locator in sentinel_hash_pool._locators:
        locator.node = lambda: (redis.host, redis.port)
    with sentinel_hash_pool.lease() as client:
        assert client._connection(0).push_handler is handler


def test_push_handler_reaches_hash_and_cluster_client_connections(redis):
    from pyredis import ClusterClient, HashClient

    def handler(push):
        pass

    client = HashClient(buckets=[(redis.host, redis.port)], push_handler=handler)
    assert client._connection(0).push_handler is handler
    cluster = ClusterClient(seeds=[(redis.host, redis.port)], push_handler=handler)
    assert cluster._connection_for((redis.host, redis.port), Connection).push_handler is handler


def test_push_handler_of_a_pool_must_be_callable():
    from pyredis import Pool

    with pytest.raises(TypeError, match="push_handler must be a callable or None"):
        Pool(host="h", push_handler="not callable")


def test_get_by_url_has_no_push_handler(redis):
    from pyredis import get_by_url

    pool = get_by_url("redis://%s:%s" % (redis.host, redis.port))
    assert pool.push_handler is None
