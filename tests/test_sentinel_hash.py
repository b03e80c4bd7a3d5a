"""SentinelHashPool against a real Sentinel setup (sentinel_servers.py): two
master names, m1 and m2, each a primary with one replica, and three sentinels
watching both, shared by the module.

The failover test changes which server is m1's master; every other test asks
the topology which one is which, so the order of the tests does not matter.
"""
import os
import threading

import pytest

import pyredis
from pyredis import (
    PyRedisConnClosed,
    PyRedisConnError,
    PyRedisError,
    ReplyError,
    SentinelHashPool,
    SentinelPool,
    get_by_url,
)
from pyredis.helper import slot_from_key
from pyredis.pool import sentinel as sentinel_pool_module

from sentinel_servers import SentinelTopology, query, query_many, wait_for
from servers import free_port

BUCKETS = ["m1", "m2"]


@pytest.fixture(scope="module")
def topology():
    try:
        setup = SentinelTopology(names=BUCKETS).start()
    except RuntimeError as exc:  # a missing binary fails the run, never skips it
        pytest.fail(str(exc), pytrace=False)
    yield setup
    setup.stop()


def make_pool(topology, **kwargs):
    kwargs.setdefault("pool_size", 4)
    return SentinelHashPool(topology.addresses, BUCKETS, **kwargs)


def key_in(bucket, prefix="sh"):
    """A key that the hash sends to bucket index ``bucket`` (of two)."""
    return next(key for key in ("%s:%d" % (prefix, n) for n in range(100))
                if slot_from_key(key) % 2 == bucket)


def leased_ports(pool):
    """The port of each bucket's server, in bucket order, as a new or idle client has them."""
    with pool.lease() as client:
        return [client._targets[client._route[b]]["port"] for b in range(len(BUCKETS))]


def count_queries(pool, method="get_master"):
    """The master names sentinel is asked about from now on, in order."""
    sentinel = pool._locators[0].sentinel
    asked = []
    original = getattr(sentinel, method)
    setattr(sentinel, method, lambda name: asked.append(name) or original(name))
    return asked


# -- construction --------------------------------------------------------------------
def test_settings_and_exports(topology):
    pool = make_pool(topology, slave_ok=True, retries=5)
    assert (pool.buckets, pool.slave_ok, pool.retries) == (BUCKETS, True, 5)
    assert (pool.close_on_err, pool._cluster) == (True, True)
    assert list(pool.sentinels) == topology.addresses
    assert "SentinelHashPool" in pyredis.__all__
    assert pyredis.pool.SentinelHashPool is SentinelHashPool
    pool.close()


@pytest.mark.parametrize("buckets", ["m1,m2", "m1", [], None])
def test_buckets_must_be_a_list_of_names(buckets):
    # Upstream iterated a string per character.
    with pytest.raises(PyRedisError, match="non-empty list of master names"):
        SentinelHashPool([("127.0.0.1", 1)], buckets)


# -- placement -----------------------------------------------------------------------
def test_each_key_lives_on_the_master_of_its_bucket(topology):
    masters = [topology.master(name) for name in BUCKETS]
    keys = ["sh:place:%d" % n for n in range(24)]
    with make_pool(topology) as pool:
        for key in keys:
            assert pool.set(key, key) == b"OK"
        assert leased_ports(pool) == [m.port for m in masters]
        for key in keys:
            bucket = slot_from_key(key) % 2
            assert query(masters[bucket].port, "GET", key) == key.encode()
            assert query(masters[1 - bucket].port, "GET", key) is None
            assert pool.get(key) == key.encode()
        assert {slot_from_key(key) % 2 for key in keys} == {0, 1}
        # Bucket names for sock= are the servers' "host_port".
        assert pool.ping(sock="127.0.0.1_%d" % masters[1].port) == b"PONG"
        with pool.lease() as client:
            assert isinstance(client._targets[0]["host"], str)  # upstream: bytes


def test_slave_ok_reads_from_the_replicas(topology):
    keys = [key_in(0, "sh:ro"), key_in(1, "sh:ro")]
    for bucket, name in enumerate(BUCKETS):
        assert query_many(topology.master(name).port, ("SET", keys[bucket], name),
                          ("WAIT", 1, 5000)) == [b"OK", 1]
    with make_pool(topology, slave_ok=True) as pool:
        assert [pool.get(key) for key in keys] == [b"m1", b"m2"]
        assert leased_ports(pool) == [topology.replica(name).port for name in BUCKETS]
        with pytest.raises(ReplyError, match="READONLY"):
            pool.set(keys[0], "x")  # expected on replicas: nothing rediscovered
        assert pool.get(keys[0]) == b"m1"


# -- when sentinel is asked ------------------------------------------------------------
def test_sentinel_is_asked_once_per_name_not_per_connection(topology):
    with make_pool(topology) as pool:
        asked = count_queries(pool)
        clients = [pool.acquire() for _ in range(3)]
        for client in clients:
            client.ping(shard_key=key_in(0))
            client.ping(shard_key=key_in(1))
            pool.release(client)
        assert asked == BUCKETS


def test_a_failed_bucket_is_asked_again_alone(topology):
    with make_pool(topology, pool_size=2) as pool:
        asked = count_queries(pool)
        key = key_in(1)
        with pool.lease() as client:
            client_id = client.execute(b"CLIENT", b"ID", shard_key=key)
            assert query(topology.master("m2").port, "CLIENT", "KILL", "ID", client_id) == 1
            with pytest.raises((PyRedisConnError, PyRedisConnClosed)):
                client.get(key)
            assert client.closed  # the whole client: the pool drops it
        assert pool.set(key, "again") == b"OK"
        assert asked == ["m1", "m2", "m2"]
        assert query(topology.master("m2").port, "GET", key) == b"again"


def test_a_failed_bulk_flush_makes_every_bucket_asked_again(topology):
    with make_pool(topology, pool_size=2) as pool:
        asked = count_queries(pool)
        with pool.lease() as client:
            client_id = client.execute(b"CLIENT", b"ID", shard_key=key_in(0))
            client.bulk_start()
            client.set(key_in(0), 1)
            client.set(key_in(1), 1)
            assert query(topology.master("m1").port, "CLIENT", "KILL", "ID", client_id) == 1
            with pytest.raises(pyredis.PyRedisBulkError) as failed:
                client.bulk_stop()
            assert isinstance(failed.value.__cause__, (PyRedisConnError, PyRedisConnClosed))
        assert pool.ping(shard_key=key_in(1)) == b"PONG"
        assert asked == BUCKETS + BUCKETS


def test_readonly_reply_makes_that_bucket_rediscover(topology):
    with make_pool(topology, pool_size=1) as pool:
        asked = count_queries(pool)
        # The pool believes m1's master is its replica (a demotion not yet
        # noticed): a write there is refused once, then goes to the master.
        pool._locators[0]._nodes = [("127.0.0.1", topology.replica("m1").port)]
        key = key_in(0)
        with pytest.raises(ReplyError, match="READONLY"):
            pool.set(key, "1")
        assert pool.set(key, "2") == b"OK"
        assert query(topology.master("m1").port, "GET", key) == b"2"
        assert asked == ["m2", "m1"]  # m2's address was kept


def test_threads_share_one_discovery_per_name(topology):
    pool = make_pool(topology, pool_size=8)
    asked = count_queries(pool)
    errors = []
    start = threading.Barrier(8)

    def work(n):
        try:
            start.wait()
            for i in range(20):
                assert pool.set("sh:thread:%d" % n, i) == b"OK"
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(asked) == BUCKETS
    key = "sh:thread:7"
    assert query(topology.master(BUCKETS[slot_from_key(key) % 2]).port, "GET", key) == b"19"
    pool.close()


# -- errors ------------------------------------------------------------------------------
def test_unknown_master_name_is_a_clear_error(topology):
    pool = SentinelHashPool(topology.addresses, ["m1", "nosuch"])
    with pytest.raises(PyRedisError, match="Sentinel knows no master named 'nosuch'") as info:
        pool.ping(shard_key="k")
    assert not isinstance(info.value, PyRedisConnError)  # not retried: it cannot help
    pool.close()


def test_sentinel_pool_unknown_name_is_the_same_clear_error(topology):
    pool = SentinelPool(topology.addresses, "nosuch")
    with pytest.raises(PyRedisError, match="Sentinel knows no master named 'nosuch'"):
        pool.ping()  # upstream: the bare ReplyError
    pool.close()


def test_no_sentinel_answers_after_the_retries(monkeypatch):
    monkeypatch.setattr(sentinel_pool_module, "RETRY_DELAY", 0.01)
    pool = SentinelHashPool([("127.0.0.1", free_port())], BUCKETS, retries=2)
    with pytest.raises(PyRedisConnError,
                       match=r"masters 'm1', 'm2'\) after 2 attempt\(s\): Could not connect"):
        pool.ping(shard_key="k")


def test_no_usable_replica_is_a_clear_error(topology, monkeypatch):
    monkeypatch.setattr(sentinel_pool_module, "RETRY_DELAY", 0.01)
    with make_pool(topology, slave_ok=True, retries=1) as pool:
        sentinel = pool._locators[0].sentinel
        original = sentinel.get_replicas
        sentinel.get_replicas = lambda name: [
            {**r, b"flags": b"s_down,slave"} if name == "m2" else r
            for r in original(name)]
        with pytest.raises(PyRedisConnError, match="No usable replica of 'm2'"):
            pool.get("k")  # upstream: IndexError


# -- get_by_url ----------------------------------------------------------------------------
def test_get_by_url_with_buckets(topology):
    hosts = ",".join("%s:%d" % address for address in topology.addresses)
    pool = get_by_url("sentinel://%s?buckets=m1,m2&pool_size=2" % hosts)
    assert isinstance(pool, SentinelHashPool) and pool.buckets == BUCKETS
    key = key_in(1, "sh:url")
    assert pool.set(key, "u") == b"OK"
    assert query(topology.master("m2").port, "GET", key) == b"u"
    pool.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork")
def test_forked_child_keeps_one_lock_for_the_shared_sentinel(topology):
    with make_pool(topology) as pool:
        assert pool.set(key_in(0, "sh:fork"), "parent") == b"OK"
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 1
            try:
                first, second = pool._locators
                if first._lock is second._lock and not first._lock.locked():
                    pool._locators[0]._nodes = None  # ask sentinel again, in the child
                    if pool.set(key_in(0, "sh:fork"), "child") == b"OK":
                        code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert pool.get(key_in(0, "sh:fork")) == b"child"


# -- failover (changes the topology; the tests above do not depend on the order) ---------------
def test_failover_of_one_master_costs_at_most_one_command(topology):
    key, other = key_in(0, "sh:fo"), key_in(1, "sh:fo")
    with make_pool(topology, pool_size=1) as pool:
        assert pool.set(key, "before") == b"OK"
        assert pool.set(other, "before") == b"OK"
        old, new = topology.failover(name="m1")
        assert old.port != new.port
        failures = []
        for attempt in range(3):
            try:
                assert pool.set(key, attempt) == b"OK"
                break
            except (PyRedisConnError, PyRedisConnClosed, ReplyError) as exc:
                failures.append(exc)
        assert len(failures) <= 1, failures
        assert query(new.port, "GET", key) is not None
        assert leased_ports(pool) == [new.port, topology.master("m2").port]
        assert pool.get(other) == b"before"  # m2 untouched
        wait_for(lambda: query(old.port, "GET", key) is not None, "replication")
