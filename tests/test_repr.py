"""repr() of every client and pool: where it connects and which database, never a password.

Nothing here connects except the last tests: the classes make their
connections on first use, so a repr is checked on objects built with
unreachable addresses (loopback ports nothing listens on).
"""
import asyncio

import pytest

import pyredis
from pyredis.connection.async_connection import AsyncConnection
from pyredis.connection.connection import Connection

SECRET = "s3cr3t-never-shown"
HOST = "127.0.0.1"
SEEDS = [(HOST, 7001), (HOST, 7002)]
SENTINELS = [(HOST, 26379), (HOST, 26380)]
BUCKETS = [(HOST, 7101), "/tmp/pyredis-bucket.sock"]

# class name -> (constructor kwargs, words the repr must contain)
CASES = {
    "Client": ({"host": HOST, "port": 7000, "database": 3}, [HOST + ":7000", "db=3", "idle"]),
    "PubSubClient": ({"unix_sock": "/tmp/r.sock"}, ["unix:/tmp/r.sock", "db=0"]),
    "HashClient": ({"buckets": BUCKETS, "database": 2},
                   ["buckets=127.0.0.1:7101,unix:/tmp/pyredis-bucket.sock", "db=2"]),
    "ClusterClient": ({"seeds": SEEDS}, ["seeds=127.0.0.1:7001,127.0.0.1:7002", "db=0"]),
    "SentinelClient": ({"sentinels": SENTINELS}, ["sentinels=127.0.0.1:26379,127.0.0.1:26380"]),
    "Pool": ({"host": HOST, "port": 7000, "database": 5, "pool_size": 4},
             [HOST + ":7000", "db=5", "pool_size=4"]),
    "HashPool": ({"buckets": BUCKETS}, ["buckets=127.0.0.1:7101,unix:", "db=0", "pool_size=16"]),
    "ClusterPool": ({"seeds": SEEDS}, ["seeds=127.0.0.1:7001,127.0.0.1:7002", "pool_size=16"]),
    "SentinelPool": ({"sentinels": SENTINELS, "name": "mymaster", "database": 1,
                      "sentinel_password": SECRET + "-sentinel"},
                     ["master='mymaster'", "sentinels=127.0.0.1:26379,", "db=1"]),
    "SentinelHashPool": ({"sentinels": SENTINELS, "buckets": ["a", "b"], "slave_ok": True},
                         ["replicas_of=['a', 'b']", "sentinels=127.0.0.1:26379,", "db=0"]),
}
CLUSTER_LIKE = {"ClusterClient", "ClusterPool"}  # no username without a password there


def _build(name, kwargs):
    kwargs = dict(kwargs, password=SECRET)
    if name not in {"SentinelClient"} | CLUSTER_LIKE:
        kwargs["username"] = "alice"
    return getattr(pyredis, name)(**kwargs)


def _check(obj, name, words):
    text = repr(obj)
    assert text.startswith("<%s " % name) and text.endswith(">"), text
    for word in words:
        assert word in text, (word, text)
    assert SECRET not in text and "password" not in text, text


@pytest.mark.parametrize("name", sorted(CASES))
def test_sync_repr(name):
    kwargs, words = CASES[name]
    obj = _build(name, kwargs)
    try:
        _check(obj, name, words)
    finally:
        obj.close()


@pytest.mark.parametrize("name", sorted(CASES))
def test_async_repr(name):
    kwargs, words = CASES[name]
    async_name = "Async" + name

    async def check():
        obj = _build(async_name, kwargs)
        try:
            _check(obj, async_name, [w for w in words if w != "idle"])
        finally:
            await obj.close()

    asyncio.run(check())


def test_tls_and_ipv6_pools():
    pool = pyredis.Pool(host="::1", port=7000, ssl=True, password=SECRET)
    _check(pool, "Pool", ["[::1]:7000", "tls", "db=0"])
    pool.close()


def test_connection_repr():
    for conn in (Connection(host=HOST, port=7000, database=4, password=SECRET),
                 AsyncConnection(host=HOST, port=7000, database=4, password=SECRET)):
        _check(conn, type(conn).__name__, [HOST + ":7000", "db=4", "idle"])


def test_client_repr_follows_the_connection_state(redis_auth_server):
    client = pyredis.Client(host=HOST, port=redis_auth_server.port, password="secret")
    try:
        assert repr(client).endswith(" idle>")
        assert client.ping() == b"PONG"
        assert repr(client).endswith(" connected>")
        assert "secret" not in repr(client)
    finally:
        client.close()
    assert repr(client).endswith(" closed>")
