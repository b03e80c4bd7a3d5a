"""SentinelClient and SentinelPool against a real Sentinel setup (sentinel_servers.py):
a primary, one replica and three sentinels, shared by the module.

The failover test changes which server is the master; every other test asks
the topology which one is which, so the order of the tests does not matter.
"""
import os
import threading

import pytest

import pyredis
from pyredis import (
    PyRedisConnError,
    ReplyError,
    SentinelClient,
    SentinelPool,
    get_by_url,
)
from pyredis.pool import sentinel as sentinel_pool_module

from fakeserver import FakeRedis
from sentinel_servers import (
    NAME,
    SentinelServer,
    SentinelTopology,
    query,
    query_many,
    wait_for,
)
from servers import RedisServer, free_port


@pytest.fixture(scope="module")
def topology():
    try:
        setup = SentinelTopology().start()
    except RuntimeError as exc:  # a missing binary fails the run, never skips it
        pytest.fail(str(exc), pytrace=False)
    yield setup
    setup.stop()


@pytest.fixture
def spare_sentinel():
    """A sentinel monitoring nothing, for a test to stop."""
    server = SentinelServer().start()
    yield server
    server.stop()


def dead_address():
    return ("127.0.0.1", free_port())  # nothing listens there


def make_pool(topology, **kwargs):
    kwargs.setdefault("pool_size", 4)
    return SentinelPool(topology.addresses, NAME, **kwargs)


def leased_port(pool):
    with pool.lease() as client:
        client.ping()
        return client._conn.port


# -- fakes for the failures a real sentinel does not produce on demand ----------
def hang(peer):
    peer.read_command()
    peer.read_command()  # never answers; returns when the client goes away


def close_at_once(peer):
    peer.read_command()
    peer.close()


def reset_at_once(peer):
    peer.read_command()
    peer.reset()


def garbage(peer):
    peer.read_command()
    peer.send(b"?what\r\n")
    peer.read_command()


# -- SentinelClient: reply shapes ------------------------------------------------
def test_get_master_shape(topology):
    master = SentinelClient(topology.addresses).get_master(NAME)
    assert master[b"name"] == NAME.encode()
    assert master[b"ip"] == b"127.0.0.1"
    assert int(master[b"port"]) == topology.master().port
    assert master[b"flags"] == b"master"
    assert int(master[b"num-slaves"]) == 1


def test_get_masters_shape(topology):
    with SentinelClient(topology.addresses) as sentinel:
        masters = sentinel.get_masters()
    assert [m[b"name"] for m in masters] == [NAME.encode()]
    assert int(masters[0][b"port"]) == topology.master().port


def test_get_slaves_and_replicas_shape(topology):
    sentinel = SentinelClient(topology.addresses)
    for replicas in (sentinel.get_slaves(NAME), sentinel.get_replicas(NAME)):
        assert len(replicas) == 1
        replica = replicas[0]
        assert (replica[b"ip"], int(replica[b"port"])) == (b"127.0.0.1", topology.replica().port)
        assert replica[b"flags"] == b"slave"
        assert replica[b"master-link-status"] == b"ok"
    sentinel.close()


def test_unknown_master_is_an_answer_not_a_failure(topology):
    sentinel = SentinelClient(topology.addresses)
    with pytest.raises(ReplyError, match="No such master"):
        sentinel.get_master("nosuchmaster")
    assert list(sentinel.sentinels) == topology.addresses  # did not move on
    assert sentinel.get_master(NAME)[b"name"] == NAME.encode()


def test_sentinels_deque_close_and_next_sentinel(topology):
    sentinel = SentinelClient(topology.addresses)
    assert list(sentinel.sentinels) == topology.addresses
    assert sentinel.execute(b"PING") == b"PONG"
    sentinel.next_sentinel()
    assert list(sentinel.sentinels) == topology.addresses[1:] + topology.addresses[:1]
    sentinel.close()
    sentinel.close()  # idempotent
    assert sentinel.execute(b"PING") == b"PONG"  # a new connection after close()


def test_sentinels_as_host_port_strings(topology):
    (host, port), rest = topology.addresses[0], topology.addresses[1:]
    sentinel = SentinelClient(["%s:%d" % (host, port)] + rest)
    assert list(sentinel.sentinels) == topology.addresses
    assert sentinel.get_master(NAME)[b"name"] == NAME.encode()
    with pytest.raises(pyredis.PyRedisError, match="host:port"):
        SentinelClient(["nocolon"])


# -- SentinelClient: failing sentinels are skipped ------------------------------------
def test_dead_sentinel_is_skipped(topology):
    dead = dead_address()
    sentinel = SentinelClient([dead] + topology.addresses)
    assert sentinel.get_master(NAME)[b"name"] == NAME.encode()
    assert sentinel.sentinels[0] == topology.addresses[0]  # moved past the dead one
    assert sentinel.sentinels[-1] == dead


@pytest.mark.parametrize("script", [hang, close_at_once, reset_at_once, garbage])
def test_failing_sentinel_is_skipped(topology, script):
    with FakeRedis(script) as fake:
        sentinel = SentinelClient([(fake.host, fake.port)] + topology.addresses,
                                  read_timeout=0.2)
        assert sentinel.get_master(NAME)[b"name"] == NAME.encode()
        assert fake.accepted == 1
        assert sentinel.sentinels[0] == topology.addresses[0]
        sentinel.close()


def test_sentinel_that_dies_while_in_use_is_dropped(topology, spare_sentinel):
    sentinel = SentinelClient([(spare_sentinel.host, spare_sentinel.port)] + topology.addresses)
    assert sentinel.get_masters() == []  # the spare monitors nothing
    spare_sentinel.kill()
    # Upstream kept the dead connection: "Connection Gone" on every later call.
    assert [m[b"name"] for m in sentinel.get_masters()] == [NAME.encode()]
    assert [m[b"name"] for m in sentinel.get_masters()] == [NAME.encode()]


def test_sentinel_older_than_redis_5(topology):
    # Such a sentinel knows SENTINEL SLAVES only: the client falls back, once.
    seen = []

    def old_sentinel(peer):
        while True:
            args = peer.read_command()
            seen.append(args[1].upper())
            if args[1].upper() == b"REPLICAS":
                peer.send(b"-ERR Unknown sentinel subcommand 'replicas'\r\n")
            else:
                peer.send(b"*1\r\n*4\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n"
                          b"$4\r\nport\r\n$4\r\n6380\r\n")

    with FakeRedis(old_sentinel) as fake:
        sentinel = SentinelClient([(fake.host, fake.port)])
        expected = [{b"ip": b"127.0.0.1", b"port": b"6380"}]
        assert sentinel.get_slaves(NAME) == expected
        assert sentinel.get_replicas(NAME) == expected
        sentinel.close()
    assert seen == [b"REPLICAS", b"SLAVES", b"SLAVES"]


def test_no_sentinel_answers():
    dead = [dead_address(), dead_address()]
    sentinel = SentinelClient(dead)
    with pytest.raises(PyRedisConnError, match="Could not connect to any sentinel") as info:
        sentinel.get_masters()
    entries = str(info.value).split("sentinel: ", 1)[1].split("; ")
    assert [entry.split(": ")[0] for entry in entries] == ["%s:%d" % a for a in dead]
    with pytest.raises(PyRedisConnError, match="no sentinels given"):
        SentinelClient([]).get_masters()


def test_sentinel_password(topology):
    # Its own name for the master, so that the module's sentinels do not
    # count it as one of theirs.
    guarded = SentinelServer(topology.master().port, quorum=1, name="guarded",
                             password="s3cret").start()
    try:
        where = [(guarded.host, guarded.port)]
        assert SentinelClient(where, password="s3cret").get_master("guarded")[b"name"] == b"guarded"
        with pytest.raises(ReplyError, match="NOAUTH"):
            SentinelClient(where).get_master("guarded")
    finally:
        guarded.stop()


# -- SentinelPool ------------------------------------------------------------------------
def test_pool_settings(topology):
    pool = make_pool(topology, slave_ok=True, retries=5)
    assert (pool.name, pool.slave_ok, pool.retries, pool.close_on_err) == (NAME, True, 5, True)
    assert list(pool.sentinels) == topology.addresses
    assert isinstance(pyredis.get_by_url("sentinel://127.0.0.1:1?name=x"), SentinelPool)
    pool.close()


def test_pool_commands_run_on_the_master(topology):
    master = topology.master()
    with make_pool(topology) as pool:
        assert pool.set("sp:key", "v1") == b"OK"
        assert pool.get("sp:key") == b"v1"
        assert query(master.port, "GET", "sp:key") == b"v1"
        with pool.lease() as client:
            host = client._conn.host
            assert (host, client._conn.port) == ("127.0.0.1", master.port)
            assert isinstance(host, str)  # upstream passed bytes


def test_slave_ok_reads_on_the_replica(topology):
    master, replica = topology.master(), topology.replica()
    assert query_many(master.port, ("SET", "sp:replicated", "yes"), ("WAIT", 1, 5000)) == [b"OK", 1]
    with make_pool(topology, slave_ok=True) as pool:
        assert pool.get("sp:replicated") == b"yes"
        assert leased_port(pool) == replica.port
        with pytest.raises(ReplyError, match="READONLY"):
            pool.set("sp:replicated", "no")  # expected on a replica pool: nothing rediscovered
        assert pool.get("sp:replicated") == b"yes"


def count_master_queries(pool):
    sentinel = pool._locator.sentinel
    asked = []
    original = sentinel.get_master
    sentinel.get_master = lambda name: asked.append(name) or original(name)
    return asked


def test_sentinel_is_asked_again_only_after_a_failure(topology):
    master = topology.master()
    with make_pool(topology, pool_size=4) as pool:
        asked = count_master_queries(pool)
        clients = [pool.acquire() for _ in range(3)]  # three new connections
        assert asked == [NAME]
        for client in clients:
            client.ping()
        # The server drops one connection: its next command fails, and the
        # next new connection asks sentinel again.
        victim = clients[0]
        assert query(master.port, "CLIENT", "KILL", "ID", victim.execute(b"CLIENT", b"ID")) == 1
        with pytest.raises((PyRedisConnError, pyredis.PyRedisConnClosed)):
            victim.ping()
        for client in clients:
            pool.release(client)
        assert pool.ping() == b"PONG"
        assert asked == [NAME, NAME]


def test_failed_bulk_flush_makes_the_pool_ask_again(topology):
    master = topology.master()
    with make_pool(topology, pool_size=2) as pool:
        asked = count_master_queries(pool)
        with pool.lease() as client:
            client_id = client.execute(b"CLIENT", b"ID")
            client.bulk_start()
            client.set("sp:bulk", 1)
            assert query(master.port, "CLIENT", "KILL", "ID", client_id) == 1
            with pytest.raises(pyredis.PyRedisBulkError) as failed:
                client.bulk_stop()
            assert isinstance(failed.value.__cause__, (PyRedisConnError, pyredis.PyRedisConnClosed))
        assert pool.ping() == b"PONG"
        assert asked == [NAME, NAME]


def test_threads_share_one_discovery(topology):
    pool = make_pool(topology, pool_size=8)
    asked = count_master_queries(pool)
    errors = []
    start = threading.Barrier(8)

    def work(n):
        try:
            start.wait()
            for i in range(20):
                assert pool.set("sp:thread:%d" % n, i) == b"OK"
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert asked == [NAME]
    assert query(topology.master().port, "GET", "sp:thread:7") == b"19"
    pool.close()


def test_readonly_reply_makes_the_pool_rediscover(topology):
    master, replica = topology.master(), topology.replica()
    with make_pool(topology, pool_size=1) as pool:
        # The pool believes the master is the replica (as after a demotion it
        # has not noticed): a write is refused once, then goes to the master.
        pool._locator._nodes = [("127.0.0.1", replica.port)]
        with pytest.raises(ReplyError, match="READONLY"):
            pool.set("sp:ro", "1")
        assert pool.set("sp:ro", "2") == b"OK"
        assert query(master.port, "GET", "sp:ro") == b"2"
        assert leased_port(pool) == master.port


def test_stale_address_costs_a_retry_not_a_command(topology):
    with make_pool(topology, pool_size=1, retries=2) as pool:
        pool._locator._nodes = [dead_address()]
        assert pool.ping() == b"PONG"
        assert leased_port(pool) == topology.master().port


def test_pool_skips_a_dead_sentinel(topology):
    with SentinelPool([dead_address()] + topology.addresses, NAME) as pool:
        assert pool.ping() == b"PONG"


def test_retries_then_a_clear_error(monkeypatch):
    monkeypatch.setattr(sentinel_pool_module, "RETRY_DELAY", 0.01)
    pool = SentinelPool([dead_address()], NAME, retries=3)
    with pytest.raises(PyRedisConnError, match=r"after 3 attempt\(s\): Could not connect to any"):
        pool.ping()


def test_down_replicas_are_filtered(topology, monkeypatch):
    # Flags as Sentinel reports them; a real replica would take seconds to be
    # marked down, so these are fed to the pool directly.
    port = topology.replica().port
    reports = [
        {b"ip": b"127.0.0.1", b"port": b"1", b"flags": b"s_down,slave"},
        {b"ip": b"127.0.0.1", b"port": b"2", b"flags": b"slave,disconnected"},
        {b"ip": b"127.0.0.1", b"port": b"3", b"flags": b"o_down,s_down,slave"},
        {b"ip": b"127.0.0.1", b"port": str(port).encode(), b"flags": b"slave"},
    ]
    monkeypatch.setattr(sentinel_pool_module, "RETRY_DELAY", 0.01)
    with make_pool(topology, slave_ok=True, pool_size=8) as pool:
        pool._locator.sentinel.get_replicas = lambda name: reports
        assert {leased_port(pool) for _ in range(4)} == {port}
        assert pool._locator._nodes == [("127.0.0.1", port)]
    with make_pool(topology, slave_ok=True, retries=2) as pool:
        pool._locator.sentinel.get_replicas = lambda name: reports[:3]
        with pytest.raises(PyRedisConnError, match="No usable replica of 'mymaster'"):
            pool.get("x")


def test_no_replica_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(sentinel_pool_module, "RETRY_DELAY", 0.01)
    lonely = RedisServer(unix=False).start()
    watcher = SentinelServer(lonely.port, quorum=1, name="lonely").start()
    try:
        pool = SentinelPool([(watcher.host, watcher.port)], "lonely", slave_ok=True, retries=2)
        with pytest.raises(PyRedisConnError, match="No usable replica of 'lonely'"):
            pool.get("x")  # upstream: IndexError
        master_pool = SentinelPool([(watcher.host, watcher.port)], "lonely")
        assert master_pool.ping() == b"PONG"
        master_pool.close()
    finally:
        watcher.stop()
        lonely.stop()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork")
def test_forked_child_uses_its_own_connections(topology):
    with make_pool(topology) as pool:
        assert pool.set("sp:fork", "parent") == b"OK"  # sentinel and master connections open
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 1
            try:
                if pool.set("sp:fork", "child") == b"OK":
                    code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert pool.get("sp:fork") == b"child"  # the parent's connection still in sync


# -- get_by_url ----------------------------------------------------------------------------
def test_get_by_url(topology):
    hosts = ",".join("%s:%d" % address for address in topology.addresses)
    pool = get_by_url("sentinel://%s?name=%s&pool_size=2" % (hosts, NAME))
    assert isinstance(pool, SentinelPool) and pool.pool_size == 2
    assert pool.set("sp:url", "u") == b"OK"
    assert leased_port(pool) == topology.master().port
    pool.close()
    replica_pool = get_by_url("sentinel://%s?name=%s&slave_ok=true" % (hosts, NAME))
    assert leased_port(replica_pool) == topology.replica().port
    replica_pool.close()


# -- failover (changes the topology; the tests above do not depend on the order) ---------------
def test_failover_reaches_the_new_master_after_at_most_one_failure(topology):
    with make_pool(topology, pool_size=1) as pool:
        assert pool.set("sp:before", "1") == b"OK"
        old, new = topology.failover()
        assert old.port != new.port
        failures = []
        for attempt in range(3):
            try:
                assert pool.set("sp:after", attempt) == b"OK"
                break
            except (PyRedisConnError, pyredis.PyRedisConnClosed, ReplyError) as exc:
                failures.append(exc)
        assert len(failures) <= 1, failures
        assert query(new.port, "GET", "sp:after") is not None
        assert leased_port(pool) == new.port
        # The demoted master now replicates from the new one.
        wait_for(lambda: query(old.port, "GET", "sp:after") is not None, "replication")
