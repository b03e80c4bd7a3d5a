"""Pool against a real redis-server."""
import threading

import pytest

from pyredis import Client, Pool
from pyredis.exceptions import PyRedisConnReadTimeout, PyRedisError, ReplyError


@pytest.fixture(params=["tcp", "unix"])
def pool(request, redis):
    if request.param == "tcp":
        p = Pool(host=redis.host, port=redis.port, pool_size=4)
    else:
        p = Pool(unix_sock=redis.unix_sock, pool_size=4)
    yield p
    p.close()


def test_commands(pool):
    assert pool.ping() == b"PONG"
    assert pool.set("k", "v") == b"OK"
    assert pool.get("k") == b"v"
    assert pool.execute("STRLEN", "k") == 1
    assert pool.publish("nobody", "x") == 0


def test_reply_error_and_the_client_goes_back(pool):
    pool.set("s", "x")
    with pytest.raises(ReplyError):
        pool.lpush("s", "y")
    assert pool.get("s") == b"x"


@pytest.mark.parametrize("kwargs", [{}, {"host": "h", "unix_sock": "/s"}])
def test_exactly_one_of_host_or_unix_sock(kwargs):
    with pytest.raises(PyRedisError):
        Pool(**kwargs)


def test_properties_and_the_clients_it_makes(redis):
    p = Pool(host=redis.host, port=redis.port, database=2, password=None, encoding="utf-8",
             conn_timeout=3, read_timeout=4, username=None, pool_size=2)
    assert (p.host, p.port, p.unix_sock) == (redis.host, redis.port, None)
    client = p._connect()
    assert isinstance(client, Client)
    conn = client._conn
    assert (conn.host, conn.port, conn.database) == (redis.host, redis.port, 2)
    assert (conn._conn_timeout, conn._read_timeout, conn._encoding) == (3, 4, "utf-8")
    assert client.closed is False and conn._sock is None  # no I/O yet
    p.set("k", "v")
    assert p.get("k") == "v"
    assert Client(host=redis.host, port=redis.port, database=2).get("k") == b"v"
    assert Client(host=redis.host, port=redis.port).get("k") is None


def test_database_option(redis):
    p = Pool(host=redis.host, port=redis.port, database=6)
    p.set("in6", "1")
    assert Pool(host=redis.host, port=redis.port).get("in6") is None
    assert Pool(unix_sock=redis.unix_sock, database=6).get("in6") == b"1"


def test_auth(redis_auth_server):
    srv = redis_auth_server
    assert Pool(host=srv.host, port=srv.port, password="secret").ping() == b"PONG"
    p = Pool(host=srv.host, port=srv.port, username="alice", password="wonderland")
    assert p.execute("ACL", "WHOAMI") == b"alice"
    with pytest.raises(ReplyError):
        Pool(host=srv.host, port=srv.port, password="wrong").ping()


def test_transaction_on_a_leased_client(pool):
    client = pool.acquire()
    try:
        client.multi()
        client.set("t", "1")
        client.incr("t")
        assert client.exec() == [b"OK", 2]
    finally:
        pool.release(client)
    assert pool.get("t") == b"2"
    assert not hasattr(Pool, "multi")


@pytest.mark.parametrize("state", ["multi", "bulk"])
def test_a_lease_whose_body_fails_never_hands_its_client_on(redis, state):
    pool = Pool(host=redis.host, port=redis.port, pool_size=1)
    pool.set("k", "old")
    with pytest.raises(KeyError):
        with pool.lease() as client:
            if state == "multi":
                client.multi()
            else:
                client.bulk_start()
            client.set("k", "lost")
            raise KeyError("the caller's own bug")
    assert client.closed
    assert pool.get("k") == b"old"  # not b"QUEUED", not None
    assert pool.set("k", "new") == b"OK" and pool.get("k") == b"new"
    pool.close()


def test_threads_share_the_pool(pool):
    errors = []

    def worker(n):
        try:
            for i in range(200):
                key = "t%d:%d" % (n, i)
                pool.set(key, key)
                if pool.get(key) != key.encode():
                    errors.append(key)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert pool.execute("DBSIZE") == 800


def test_timed_out_client_is_not_reused(redis):
    p = Pool(host=redis.host, port=redis.port, read_timeout=0.2, pool_size=1)
    with pytest.raises(PyRedisConnReadTimeout):
        p.blpop("empty", 1)
    p.rpush("empty", "late")  # the old BLPOP would have taken this
    assert p.lrange("empty", 0, -1) == [b"late"]


def test_mixins():
    assert Pool._cluster is False
    for name in ("get", "set", "hget", "sadd", "zadd", "pfadd", "geoadd", "eval", "publish",
                 "echo"):
        assert hasattr(Pool, name), name
    for name in ("multi", "exec", "subscribe"):
        assert not hasattr(Pool, name), name
