"""Redis Cluster: ClusterMap, ClusterClient, ClusterPool against a real six-node
cluster (three primaries, three replicas; tests/cluster_servers.py).

Tests that move slots put them back (``restore_slot``), and every test starts
from empty primaries.
"""
import contextlib
import os
import threading
import time
import uuid

import pytest

import pyredis.client
import pyredis.helper
from pyredis import ClusterClient, ClusterPool, get_by_url
from pyredis.client import cluster_routing
from pyredis.client.cluster_routing import CLUSTERDOWN_DELAYS
from pyredis.connection import Connection
from pyredis.exceptions import (
    PyRedisConnClosed,
    PyRedisConnError,
    PyRedisConnReadTimeout,
    PyRedisError,
    ReplyError,
)
from pyredis.helper import (
    REFRESH_TIMEOUT,
    ClusterMap,
    _build_table,
    node_address,
    node_name,
    slot_from_key,
)
from cluster_servers import (  # noqa: F401  (fixtures shared with test_async_cluster)
    Load,
    check_failover,
    cluster,
    cluster_servers,
    command_calls,
    dead_address,
    error_count,
    failover_cluster,
    hung,
    kill_and_wait_for_promotion,
    lone_node,
    lone_node_v6,
    other_primary,
    record_fetches,
    restore_slot,
    seeds,
    unassigned,
)


@pytest.fixture
def client(seeds):
    with ClusterClient(seeds=seeds) as client:
        yield client


# -- node names and addresses (no server) ----------------------------------------------
@pytest.mark.parametrize("node, address", [
    ("127.0.0.1_7000", ("127.0.0.1", 7000)),
    ("my_host_7000", ("my_host", 7000)),      # upstream split at the first "_"
    ("::1_7000", ("::1", 7000)),
    ("[::1]:7000", ("::1", 7000)),
    ("my_host:7000", ("my_host", 7000)),
    (("h", 1), ("h", 1)),
    (["h", "2"], ("h", 2)),
    ((b"h", 3), ("h", 3)),
])
def test_node_address(node, address):
    assert node_address(node) == address
    assert node_address(node_name(address)) == address


@pytest.mark.parametrize("node", ["host", "_7000", "h_x", "fe80::1:7000", ("h",), 7000, None])
def test_bad_node_address(node):
    with pytest.raises(PyRedisError):
        node_address(node)


def node(host, port, node_id=b"id"):
    return [host, port, node_id, []]


def test_table_range_without_replicas_reads_from_its_primary():
    table = _build_table([[0, 99, node(b"a", 1)],
                          [100, 16383, node(b"b", 2), node(b"c", 3)]], ("seed", 9))
    assert table.slots[0] == (("a", 1), ("a", 1))
    assert table.slots[99] == (("a", 1), ("a", 1))
    assert table.slots[100] == (("b", 2), ("c", 3))
    assert table.nodes == {("a", 1), ("b", 2), ("c", 3)}


def test_table_hosts_with_underscores_ipv6_empty_and_unknown():
    table = _build_table([[0, 9, node(b"my_host", 1), node(b"?", 5)],
                          [10, 19, node(b"", 2), node(b"::1", 3)],
                          [20, 29, node(b"?", 4)]], ("seed", 9))
    assert table.slots[0] == (("my_host", 1), ("my_host", 1))  # "?" replica skipped
    assert table.slots[10] == (("seed", 2), ("::1", 3))         # "" = the node asked
    assert table.slots[20] is None                              # unknown primary
    assert table.slots[30] is None                              # not in the reply


def test_map_without_replicas_via_public_api(monkeypatch):
    cluster_map = ClusterMap([("seed", 1)])
    reply = [[0, 16383, node(b"my_host", 7000)]]
    monkeypatch.setattr(cluster_map, "_fetch", lambda current: (reply, ("seed", 1)))
    old = cluster_map.id
    assert cluster_map.update(old) != old
    assert cluster_map.get_slot("k") == "my_host_7000"
    assert cluster_map.get_slot("k", slave=True) == "my_host_7000"
    assert cluster_map.hosts() == cluster_map.hosts(slave=True) == {"my_host_7000"}


def test_map_starts_empty_and_does_no_io():
    cluster_map = ClusterMap([("no-such-host.invalid", 1)])
    with pytest.raises(KeyError):
        cluster_map.get_slot("k")
    assert cluster_map.hosts() == set()
    # someone refreshed since the id we pass: nothing is fetched
    assert cluster_map.update("an older id") == cluster_map.id


def test_map_needs_a_seed():
    with pytest.raises(PyRedisError, match="seed"):
        ClusterMap([])


def test_map_fails_when_no_node_answers():
    cluster_map = ClusterMap([dead_address(), dead_address()], conn_timeout=0.5)
    with pytest.raises(PyRedisError, match="Could not get cluster info"):
        cluster_map.update(cluster_map.id)


def test_client_arguments():
    with pytest.raises(PyRedisError, match="seeds or cluster_map"):
        ClusterClient()
    cluster_map = ClusterMap([("h", 1)])
    with pytest.raises(PyRedisError, match="seeds or cluster_map"):
        ClusterClient(seeds=[("h", 1)], cluster_map=cluster_map)
    client = ClusterClient(cluster_map=cluster_map)
    with pytest.raises(PyRedisError, match="shard_key or sock"):
        client.execute(b"PING")
    with pytest.raises(PyRedisError, match="shard_key or sock"):
        client.execute(b"GET", "k", shard_key="k", sock="h_1")
    with pytest.raises(PyRedisError, match="port"):
        client.execute(b"PING", sock="nonsense")
    with pytest.raises(PyRedisError, match="needs a command"):
        client.execute(sock="h_1")


def test_map_id_is_a_uuid_and_refresh_timeout_a_checked_setting():
    cluster_map = ClusterMap([("h", 1)])
    assert isinstance(cluster_map.id, uuid.UUID)
    assert cluster_map.refresh_timeout == REFRESH_TIMEOUT
    for bad, error in [("1", TypeError), (True, TypeError), (None, TypeError),
                       (0, ValueError), (-1.5, ValueError), (float("nan"), ValueError)]:
        with pytest.raises(error, match="refresh_timeout"):
            ClusterMap([("h", 1)], refresh_timeout=bad)
    with pytest.raises(ValueError, match="refresh_timeout"):
        ClusterClient(cluster_map=cluster_map, refresh_timeout=1)  # the map's setting
    assert ClusterClient(seeds=[("h", 1)], refresh_timeout=0.3).cluster_map.refresh_timeout == 0.3
    assert ClusterPool(seeds=[("h", 1)], refresh_timeout=0.3).cluster_map.refresh_timeout == 0.3
    # it bounds the timeouts of the connections that fetch CLUSTER SLOTS
    kwargs = ClusterMap([("h", 1)], conn_timeout=5, read_timeout=0.2,
                        refresh_timeout=0.5)._connection_kwargs()
    assert (kwargs["conn_timeout"], kwargs["read_timeout"]) == (0.5, 0.2)
    kwargs = ClusterMap([("h", 1)], conn_timeout=None, read_timeout=None)._connection_kwargs()
    assert (kwargs["conn_timeout"], kwargs["read_timeout"]) == (REFRESH_TIMEOUT,) * 2


def test_moved_does_not_wait_for_a_refresh_under_way():
    cluster_map = ClusterMap([("h", 1)])
    cluster_map._lock.acquire()  # as a refresh under way holds it
    try:
        thread = threading.Thread(target=cluster_map.moved, args=(5, ("h", 2)))
        thread.start()
        thread.join(10)
        assert not thread.is_alive()  # upstream's lock made it wait
        assert cluster_map.slot_nodes(5) == (("h", 2), ("h", 2))
    finally:
        cluster_map._lock.release()


def test_pool_does_no_io_until_used():
    pool = ClusterPool(seeds=[("no-such-host.invalid", 1)], username="u", password="p")
    assert pool.cluster_map.hosts() == set()
    client = pool._connect()
    assert (client.username, client.password) == ("u", "p")  # upstream dropped username
    assert client.cluster_map is pool.cluster_map


# -- the map against the cluster ----------------------------------------------------------
def test_map_matches_the_cluster(cluster, seeds):
    cluster_map = ClusterMap(seeds)
    first = cluster_map.id
    assert cluster_map.update(first) != first
    assert cluster_map.hosts() == {node.name for node in cluster.primaries()}
    assert cluster_map.hosts(slave=True) == {node.name for node in cluster.replicas()}
    assert cluster_map.nodes() == {node.addr for node in cluster.nodes}
    for key in ["a", "b", "c", "{user}1", "x" * 50]:
        primary = cluster.owner_of_key(key)
        assert cluster_map.get_slot(key) == primary.name
        assert cluster_map.get_slot(key, slave=True) == cluster.replica_of(primary).name
    # a stale id does not fetch again
    current = cluster_map.id
    assert cluster_map.update(first) == current


def test_map_seed_forms_and_a_dead_seed(cluster):
    live = cluster.nodes[2]
    cluster_map = ClusterMap([dead_address(), "%s:%d" % live.addr, list(live.addr)],
                             conn_timeout=0.5)
    cluster_map.update()
    assert len(cluster_map.hosts()) == 3
    assert ClusterMap(live.addr).seeds == ClusterMap("%s:%d" % live.addr).seeds == [live.addr]


def test_map_falls_back_to_known_nodes(cluster, seeds):
    cluster_map = ClusterMap(seeds)
    cluster_map.update()
    cluster_map._seeds.clear()
    cluster_map._seeds.append(dead_address())  # every seed gone
    before = cluster_map.id
    assert cluster_map.update(before) != before
    assert len(cluster_map.hosts()) == 3


def test_map_asks_the_node_that_answered_last_and_failed_nodes_last(cluster, monkeypatch):
    asked = record_fetches(monkeypatch, pyredis.helper, Connection)
    dead, seed = dead_address(), cluster.replicas()[0]
    cluster_map = ClusterMap([dead, seed.addr], refresh_timeout=0.3)
    cluster_map.update()
    assert asked == [dead, seed.addr]
    assert cluster_map.seeds == [seed.addr, dead]  # the failed seed went to the back
    with hung(seed):  # a node that accepts connections but never answers
        del asked[:]
        cluster_map.update()
        # asked first (it answered last), then the seeds, then the other nodes
        assert asked[:2] == [seed.addr, dead] and len(asked) == 3
        other = asked[2]
        del asked[:]
        cluster_map.update()
        assert asked == [other]  # the last to answer, not a seed: asked first
    cluster.wait_replicas_listed()
    del asked[:]
    cluster_map.update()
    assert asked == [other]


def test_map_authenticates(cluster, seeds):
    ClusterMap(seeds, username="full", password="pw").update()
    with pytest.raises(PyRedisError, match="NOPERM|permission"):
        ClusterMap(seeds, username="nocluster", password="pw").update()  # credentials used
    with pytest.raises(PyRedisError, match="WRONGPASS|invalid"):
        ClusterMap(seeds, username="full", password="wrong").update()


def test_map_readers_never_see_a_partial_table(cluster, seeds):
    cluster_map = ClusterMap(seeds)
    cluster_map.update()
    primaries = {node.name for node in cluster.primaries()}
    errors = []
    stop = threading.Event()

    def read():
        try:
            i = 0
            while not stop.is_set():
                i += 1
                assert cluster_map.get_slot("key%d" % i) in primaries
                assert cluster_map.hosts() == primaries
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(15):
            cluster_map.update()
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert errors == []


@pytest.mark.parametrize("slave_ok", [False, True])
def test_ipv6_cluster_without_replicas(lone_node_v6, slave_ok):
    # Upstream: IndexError on the replica-less range, and "::1_port" names broke.
    name = "::1_%d" % lone_node_v6.port
    with ClusterClient(seeds=[("::1", lone_node_v6.port)], slave_ok=slave_ok) as client:
        assert client.set("v6", "six") == b"OK"
        assert client.get("v6") == b"six"
        assert client.cluster_map.hosts() == client.cluster_map.hosts(slave=True) == {name}
        assert client.cluster_map.get_slot("v6", slave=True) == name
        assert client.ping(sock=name) == b"PONG"
        assert client.ping(sock="[::1]:%d" % lone_node_v6.port) == b"PONG"
        assert client.delete("v6") == 1


# -- routing ------------------------------------------------------------------------------
def test_keys_go_to_the_primary_serving_their_slot(cluster, client):
    keys = ["key:%d" % i for i in range(60)]
    for i, key in enumerate(keys):
        assert client.set(key, i) == b"OK"
    used = set()
    for i, key in enumerate(keys):
        owner = cluster.owner_of_key(key)
        assert owner.call("GET", key) == str(i).encode()
        used.add(owner.name)
        assert client.get(key) == str(i).encode()
    assert used == {node.name for node in cluster.primaries()}
    assert set(client._conns) == {node.addr for node in cluster.primaries()}


def test_key_zero_and_empty_key(cluster, client):
    assert client.set(0, "zero") == b"OK"
    assert client.set("", "empty") == b"OK"
    assert cluster.owner_of_key("0").call("GET", "0") == b"zero"
    assert client.get("") == b"empty"


def test_hash_tags(cluster, client):
    keys = ["{user:1}:name", "{user:1}:mail", "{user:1}:age"]
    assert len({slot_from_key(key) for key in keys}) == 1
    assert client.mset(keys[0], "a", keys[1], "b", keys[2], 3) == b"OK"
    assert client.mget(*keys) == [b"a", b"b", b"3"]
    owner = cluster.owner_of_key("user:1")
    assert [owner.call("GET", key) for key in keys] == [b"a", b"b", b"3"]
    assert client.sadd("{s}1", "x", "y") == 2
    assert client.sadd("{s}2", "y", "z") == 2
    assert client.sunoinstore("{s}3", "{s}1", "{s}2") == 3
    with pytest.raises(ReplyError, match="CROSSSLOT"):
        client.mget("a", "b", "c", "d")


def test_explicit_commands(cluster, client):
    for node in cluster.nodes:
        assert client.ping(sock=node.name) == b"PONG"
        assert client.echo("hi", sock=node.addr) == b"hi"
    client.set("alpha", 1)
    owner = cluster.owner_of_key("alpha")
    assert client.keys("*", shard_key="alpha") == [b"alpha"]
    for primary in cluster.primaries():
        expected = [b"alpha"] if primary is owner else []
        assert client.keys("*", sock=primary.name) == expected
    assert client.execute(b"CLUSTER", b"MYID", sock=owner.name) == owner.id.encode()
    sha = client.script_load("return 7", shard_key="alpha")
    assert client.evalsha(sha, 0, shard_key="alpha") == 7


def test_moved_from_an_explicit_socket_is_raised(cluster, client):
    client.set("beta", 1)
    wrong = other_primary(cluster, cluster.owner_of_key("beta"))
    with pytest.raises(ReplyError, match="MOVED.*explicitly set socket"):
        client.execute(b"GET", "beta", sock=wrong.name)


def test_transaction_on_one_node(cluster, client):
    assert client.multi(shard_key="{t}") == b"OK"
    assert client.set("{t}a", 1) == b"QUEUED"
    assert client.incr("{t}a") == b"QUEUED"
    assert client.execute(b"EXEC", shard_key="{t}") == [b"OK", 2]


# -- redirections -------------------------------------------------------------------------
def test_moved_after_a_slot_moves(cluster, seeds):
    key = "moving"
    slot = cluster.slot(key)
    home = cluster.owner(slot)
    target = other_primary(cluster, home)
    client = ClusterClient(seeds=seeds)
    stale = ClusterMap(seeds)
    try:
        client.set(key, "v")
        stale.update()
        cluster.move_slot(slot, home, target)
        assert target.call("GET", key) == b"v"
        # one attempt only: the MOVED cannot be followed
        with pytest.raises(PyRedisError, match="giving up"):
            ClusterClient(cluster_map=stale).execute(b"GET", key, shard_key=key, retries=1)
        # the client still routes to the old owner, which answers MOVED
        assert client.get(key) == b"v"
        assert client.cluster_map.get_slot(key) == target.name
        assert client.set(key, "w") == b"OK"
        assert target.call("GET", key) == b"w"
    finally:
        client.close()
        restore_slot(cluster, slot, home)


def test_a_redirection_inside_multi_is_raised_not_followed(cluster, seeds):
    key = "{txmove}k"
    slot = cluster.slot(key)
    home = cluster.owner(slot)
    target = other_primary(cluster, home)
    client = ClusterClient(seeds=seeds)
    try:
        client.set(key, "before")
        # A key on the old owner, to look at that node's connection afterwards.
        other = next(k for k in ("o%d" % i for i in range(5000))
                     if cluster.owner(cluster.slot(k)) is home)
        client.set(other, "other-value")
        cluster.move_slot(slot, home, target)  # the client's map is stale now
        assert client.multi(shard_key=key) == b"OK"  # on the old owner
        with pytest.raises(ReplyError, match="MOVED"):
            client.set(key, "in-transaction")  # refused there; not run on the new owner
        assert target.call("GET", key) == b"before"
        with pytest.raises(ReplyError):
            client.exec(shard_key=key)  # no transaction is open any more
        # The old owner's connection was closed, so no later command joins the
        # abandoned transaction (upstream: they answered QUEUED).
        assert client.get(other) == b"other-value"
        assert client.set(key, "after") == b"OK" and target.call("GET", key) == b"after"
    finally:
        client.close()
        restore_slot(cluster, slot, home)


def test_moved_from_a_lagging_node_still_points_the_slot(cluster, seeds, monkeypatch):
    # The refresh answers with the old layout: the MOVED reply's address wins.
    key = "lagging"
    slot = cluster.slot(key)
    home = cluster.owner(slot)
    target = other_primary(cluster, home)
    client = ClusterClient(seeds=seeds)
    try:
        client.set(key, "v")
        cluster_map = client.cluster_map
        old_reply = home.call("CLUSTER", "SLOTS")
        cluster.move_slot(slot, home, target)
        monkeypatch.setattr(cluster_map, "_fetch", lambda current: (old_reply, home.addr))
        assert client.get(key) == b"v"
        assert cluster_map.get_slot(key) == target.name
    finally:
        client.close()
        restore_slot(cluster, slot, home)


def test_ask_during_a_migration(cluster, client):
    slot = cluster.slot("{mig}")
    home = cluster.owner(slot)
    target = other_primary(cluster, home)
    try:
        client.set("{mig}moved", "m")
        client.set("{mig}stays", "s")
        cluster.begin_migration(slot, home, target)
        home.call("MIGRATE", target.host, target.port, "", 0, 5000, "KEYS", "{mig}moved")
        before = client.cluster_map.id
        assert client.get("{mig}moved") == b"m"       # ASK -> ASKING + GET on target
        assert client.get("{mig}stays") == b"s"       # still on the source
        assert client.set("{mig}new", "n") == b"OK"   # missing on the source: ASK
        assert target.call("GET", "{mig}new", asking=True) == b"n"
        assert client.cluster_map.id == before        # ASK leaves the map alone
        assert client.cluster_map.get_slot("{mig}") == home.name
        # half of the keys moved: the source answers TRYAGAIN (retried, then raised)
        with pytest.raises(ReplyError, match="TRYAGAIN"):
            client.mget("{mig}moved", "{mig}stays")
        cluster.migrate_keys(slot, home, target)
        cluster.finish_migration(slot, target)
        assert client.mget("{mig}moved", "{mig}stays", "{mig}new") == [b"m", b"s", b"n"]
    finally:
        restore_slot(cluster, slot, home)


def test_asking_keyword(cluster, client):
    slot = cluster.slot("{ask}")
    home = cluster.owner(slot)
    target = other_primary(cluster, home)
    try:
        cluster.begin_migration(slot, home, target)
        with pytest.raises(ReplyError, match="MOVED"):
            client.execute(b"SET", "{ask}k", 1, sock=target.name)
        assert client.execute(b"SET", "{ask}k", 1, sock=target.name, asking=True) == b"OK"
        assert target.call("GET", "{ask}k", asking=True) == b"1"
    finally:
        restore_slot(cluster, slot, home)


# -- replicas -----------------------------------------------------------------------------
def test_slave_ok_reads_from_replicas_and_writes_to_primaries(cluster, seeds):
    key = "replicated"
    primary = cluster.owner_of_key(key)
    replica = cluster.replica_of(primary)
    with ClusterClient(seeds=seeds, slave_ok=True) as client:
        assert client.slave_ok
        for node in (primary, replica):
            node.call("CONFIG", "RESETSTAT")
        assert client.set(key, "v") == b"OK"
        primary.call("WAIT", 1, 2000)
        assert client.get(key) == b"v"
        assert command_calls(primary, "set") == 1
        assert command_calls(primary, "get") == 0
        assert command_calls(replica, "get") == 1
        assert b"errorstat_MOVED" not in replica.call("INFO", "errorstats")  # no bounce
        # a transaction stays on the primary, reads included
        assert client.multi(shard_key=key) == b"OK"
        assert client.get(key) == b"QUEUED"
        assert client.execute(b"EXEC", shard_key=key) == [b"v"]
        assert command_calls(replica, "get") == 1
        assert client.get(key) == b"v"
        assert command_calls(replica, "get") == 2


def test_a_write_sent_to_a_replica_follows_its_moved(cluster, seeds, monkeypatch):
    # Were a write taken for a read, the replica's MOVED (to the primary the map
    # already names) is followed without refreshing the map.
    monkeypatch.setattr("pyredis.client.cluster_routing.READ_COMMANDS", frozenset([b"INCR"]))
    key = "bounce"
    primary = cluster.owner_of_key(key)
    replica = cluster.replica_of(primary)
    with ClusterClient(seeds=seeds, slave_ok=True) as client:
        before = client.cluster_map.update()
        replica.call("CONFIG", "RESETSTAT")
        assert client.incr(key) == 1
        assert b"errorstat_MOVED:count=1" in replica.call("INFO", "errorstats")
        assert client.cluster_map.id == before
        assert primary.call("GET", key) == b"1"


# -- failures -----------------------------------------------------------------------------
def test_killed_connection_raises_then_recovers(cluster, client):
    client.set("victim", "v")
    owner = cluster.owner_of_key("victim")
    assert owner.call("CLIENT", "KILL", "TYPE", "normal") >= 1
    with pytest.raises((PyRedisConnClosed, PyRedisConnError)):
        client.get("victim")
    assert not client.closed
    assert client.get("victim") == b"v"


def test_read_timeout_drops_the_node_connection(cluster, seeds):
    owner = cluster.owner_of_key("{blocked}")
    with ClusterClient(seeds=seeds, read_timeout=0.2) as client:
        client.set("{blocked}str", "v")
        assert owner.addr in client._conns
        with pytest.raises(PyRedisConnReadTimeout):
            client.blpop("{blocked}", 5)
        assert owner.addr not in client._conns
        assert client.get("{blocked}str") == b"v"
        assert client.lpush("{blocked}", "x") == 1


def test_unreachable_node_is_retried_after_a_refresh(cluster, client):
    client.set("redirected", "v")
    slot = cluster.slot("redirected")
    client.cluster_map.moved(slot, dead_address())  # as if the node had gone
    assert client.get("redirected") == b"v"
    assert client.cluster_map.get_slot("redirected") == cluster.owner(slot).name


# -- availability under faults -------------------------------------------------------------
def test_pool_with_a_hung_seed_waits_one_refresh_timeout_at_most(cluster, monkeypatch):
    # Upstream asked the hung seed first on every refresh, for read_timeout
    # each time, with every thread needing the map waiting on its lock.
    asked = record_fetches(monkeypatch, pyredis.helper, Connection)
    seed = cluster.replicas()[0]
    refresh_timeout = 0.3
    pool = ClusterPool(seeds=[seed.addr, cluster.nodes[0].addr], pool_size=4, pool_timeout=30,
                       read_timeout=5, refresh_timeout=refresh_timeout)
    try:
        with hung(seed):
            with Load(lambda worker, i: pool.set("hung:%d:%d" % (worker, i % 50), i)) as load:
                for _ in range(3):  # every client loses its connections: each refreshes the map
                    time.sleep(0.4)
                    for node in cluster.primaries():
                        node.call("CLIENT", "KILL", "TYPE", "normal")
                time.sleep(0.3)
    finally:
        pool.close()
        cluster.wait_replicas_listed()
    # A killed connection is raised (the command may have run); nothing else fails.
    assert all(isinstance(error, (PyRedisConnError, PyRedisConnClosed))
               for _, _, error in load.log if error is not None)
    assert asked.count(seed.addr) == 1  # then moved back: the map never waits for it again
    assert len(asked) <= 2 + 3 * 3  # the first refresh, and one per failure (and some slack)
    assert len(load.log) > 100
    # No command waited much longer than one refresh timeout (5 s each upstream).
    assert max(end - start for start, end, _ in load.log) < refresh_timeout + 2.5


@contextlib.contextmanager
def refresh_under_way(cluster_map, monkeypatch):
    """A refresh of ``cluster_map`` in another thread, held in its fetch
    until the block ends."""
    started, release = threading.Event(), threading.Event()
    fetch = cluster_map._fetch

    def slow_fetch(current):
        started.set()
        release.wait(30)
        return fetch(current)

    monkeypatch.setattr(cluster_map, "_fetch", slow_fetch)
    refresh = threading.Thread(target=cluster_map.update)
    refresh.start()
    try:
        assert started.wait(10)
        yield
    finally:
        release.set()
        refresh.join(30)


def in_thread(call):
    """Start ``call()`` in a thread; returns the thread and the list its result goes to."""
    result = []
    thread = threading.Thread(target=lambda: result.append(call()))
    thread.start()
    return thread, result


def test_client_goes_on_with_the_current_table_while_a_refresh_is_under_way(
        cluster, seeds, monkeypatch):
    key = "nowait"
    slot = cluster.slot(key)
    home = cluster.owner(slot)
    target = other_primary(cluster, home)
    client = ClusterClient(seeds=seeds)
    try:
        client.set(key, "v")
        cluster.move_slot(slot, home, target)
        with refresh_under_way(client.cluster_map, monkeypatch):
            reader, result = in_thread(lambda: client.get(key))
            reader.join(10)
            # The MOVED reply was followed without waiting for the refresh.
            assert result == [b"v"]
        assert client.cluster_map.get_slot(key) == target.name
    finally:
        client.close()
        restore_slot(cluster, slot, home)


def test_a_node_that_failed_is_not_used_before_a_refresh_under_way_ends(
        cluster, seeds, monkeypatch):
    # Its replacement (a failover, here a resharding) may be in that refresh;
    # were the node hung, each command sent to it would wait for a read timeout.
    monkeypatch.setattr(pyredis.helper, "FAILURE_REFRESH_INTERVAL", 0)
    key = "suspect"
    slot = cluster.slot(key)
    home = cluster.owner(slot)
    target = other_primary(cluster, home)
    client = ClusterClient(seeds=seeds)
    try:
        client.set(key, "v")
        home.call("CLIENT", "KILL", "TYPE", "normal")
        with pytest.raises((PyRedisConnClosed, PyRedisConnError)):
            client.get(key)
        cluster.move_slot(slot, home, target)
        home.call("CONFIG", "RESETSTAT")
        with refresh_under_way(client.cluster_map, monkeypatch):
            reader, result = in_thread(lambda: client.get(key))
            reader.join(0.2)
        reader.join(10)
        assert result == [b"v"]
        assert error_count(home, "MOVED") == 0  # not sent to the old node
    finally:
        client.close()
        restore_slot(cluster, slot, home)


def test_clusterdown_is_retried_a_little_then_raised(lone_node):
    key = "down"
    other_slot = (slot_from_key(key) + 1) % 16384
    with ClusterClient(seeds=[lone_node.addr]) as client:
        assert client.set(key, "v") == b"OK"
        with unassigned(lone_node, other_slot):  # the cluster is down
            lone_node.call("CONFIG", "RESETSTAT")
            with pytest.raises(ReplyError, match="CLUSTERDOWN"):
                client.get(key)
            # nothing ran, so it was sent again after each pause (upstream: once)
            assert error_count(lone_node, "CLUSTERDOWN") == 1 + len(CLUSTERDOWN_DELAYS)
            # inside MULTI the refusal spoils the transaction: raised at once
            assert client.multi(shard_key=key) == b"OK"
            with pytest.raises(ReplyError, match="CLUSTERDOWN"):
                client.get(key)
            assert error_count(lone_node, "CLUSTERDOWN") == 2 + len(CLUSTERDOWN_DELAYS)
            assert client.execute(b"DISCARD", shard_key=key) == b"OK"


def test_clusterdown_ends_while_the_command_waits(lone_node, monkeypatch):
    monkeypatch.setattr(cluster_routing, "CLUSTERDOWN_DELAYS", (0.05,) * 200)  # a long outage
    key = "down-then-up"
    other_slot = (slot_from_key(key) + 1) % 16384
    with ClusterClient(seeds=[lone_node.addr]) as client:
        assert client.set(key, "v") == b"OK"
        with unassigned(lone_node, other_slot):
            lone_node.call("CONFIG", "RESETSTAT")
            reader, result = in_thread(lambda: client.get(key))
            deadline = time.monotonic() + 10
            while error_count(lone_node, "CLUSTERDOWN") < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            lone_node.call("CLUSTER", "ADDSLOTS", other_slot)  # the cluster is back
            reader.join(15)
            assert result == [b"v"]


def test_failover_errors_stop_at_the_promotion(failover_cluster):
    cluster = failover_cluster
    cluster.roles()
    victim = cluster.primaries()[0]
    survivors = [node for node in cluster.nodes if node is not victim]
    # The first seed is the primary that dies (and the node that answered last).
    pool = ClusterPool(seeds=[victim.addr, survivors[0].addr], pool_size=4, pool_timeout=30)
    try:
        assert pool.set("warm", 1) == b"OK"
        for node in survivors:
            node.call("CONFIG", "RESETSTAT")
        with Load(lambda worker, i: pool.set("fo:%d:%d" % (worker, i % 100), i)) as load:
            time.sleep(0.3)
            killed_at, promoted_at = kill_and_wait_for_promotion(cluster, victim)
            time.sleep(1.5)
        ended_at = time.monotonic()
        fetches = sum(command_calls(node, "cluster|slots") for node in survivors)
        assert pool.set("after", 1) == b"OK"
    finally:
        pool.close()
    check_failover(load.log, killed_at, promoted_at, ended_at, fetches)


def test_client_takes_any_object_with_clustermap_methods(cluster, seeds, monkeypatch):
    duck = UpstreamStyleMap(ClusterMap(seeds))
    key = "duck"
    slot = cluster.slot(key)
    home = cluster.owner(slot)
    target = other_primary(cluster, home)
    try:
        with ClusterClient(cluster_map=duck) as client:
            assert client.cluster_map is duck
            for i in range(30):
                assert client.set("duck:%d" % i, i) == b"OK"
                assert cluster.owner_of_key("duck:%d" % i).call("GET", "duck:%d" % i) == b"%d" % i
            assert duck.updates == 1
            assert client.set(key, "v") == b"OK"
            old_reply = home.call("CLUSTER", "SLOTS")
            cluster.move_slot(slot, home, target)
            # a refresh that lags behind: the MOVED reply's node is used all the same
            monkeypatch.setattr(duck.inner, "_fetch", lambda current: (old_reply, home.addr))
            assert client.get(key) == b"v"
            assert client.set(key, "w") == b"OK" and target.call("GET", key) == b"w"
            assert duck.updates == 2
        with ClusterClient(cluster_map=duck, slave_ok=True) as client:
            assert client.get("duck:1") in (b"1", None)  # a replica may lag
            assert set(client._conns) <= {node.addr for node in cluster.replicas()}
    finally:
        restore_slot(cluster, slot, home)
    with pytest.raises(TypeError, match="get_slot"):
        ClusterClient(cluster_map=object())
    with pytest.raises(TypeError, match="ClusterMap"):
        ClusterClient(cluster_map=pyredis.client.AsyncClusterMap(seeds))
    with pytest.raises(TypeError, match="await"):  # an asyncio map of someone else's
        ClusterClient(cluster_map=AsyncUpstreamStyleMap(ClusterMap(seeds)))


class UpstreamStyleMap:
    """Nothing but pyredis 1.0's ClusterMap interface, around a real map."""

    def __init__(self, inner):
        self.inner = inner
        self.updates = 0

    @property
    def id(self):
        return self.inner.id

    def update(self, map_id):
        self.updates += 1
        return self.inner.update(map_id)

    def get_slot(self, shard_key, slave=None):
        return self.inner.get_slot(shard_key, slave)

    def hosts(self, slave=None):
        return self.inner.hosts(slave)


class AsyncUpstreamStyleMap(UpstreamStyleMap):
    async def update(self, map_id):
        return self.inner.update(map_id)


def test_close(cluster, seeds):
    client = ClusterClient(seeds=seeds)
    with client:
        client.set("a", 1)
        client.set("b", 2)
        conns = list(client._conns.values())
        assert conns and not client.closed
    assert client.closed
    assert all(conn.closed for conn in conns)
    with pytest.raises(PyRedisConnError, match="Gone"):
        client.get("a")
    client.close()  # idempotent


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_refreshes_and_reconnects(cluster, seeds):
    client = ClusterClient(seeds=seeds)
    client.set("forked", "parent")
    lock = client.cluster_map._lock
    lock.acquire()  # as if another thread were refreshing the map at fork time
    try:
        pid = os.fork()
        if pid == 0:  # child: must neither deadlock nor use the parent's sockets
            code = 1
            try:
                client.cluster_map.update()
                code = 0 if client.get("forked") == b"parent" else 2
            finally:
                os._exit(code)
    finally:
        lock.release()
    deadline = time.monotonic() + 20
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the child hung")
        time.sleep(0.01)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert client.get("forked") == b"parent"  # the parent's connections still work
    client.close()


def test_client_from_seeds_authenticates(cluster, seeds):
    with ClusterClient(seeds=seeds, username="full", password="pw") as client:
        assert client.set("authed", 1) == b"OK"
        for node in cluster.primaries():
            assert client.execute(b"ACL", b"WHOAMI", sock=node.name) == b"full"


# -- the pool -----------------------------------------------------------------------------
def test_pool_under_threads(cluster, seeds):
    pool = ClusterPool(seeds=seeds, pool_size=4, pool_timeout=5)
    keys = ["counter:%d" % i for i in range(12)]
    errors = []

    def work():
        try:
            for _ in range(25):
                for key in keys:
                    pool.incr(key)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for key in keys:
        assert cluster.owner_of_key(key).call("GET", key) == b"100"
        assert pool.get(key) == b"100"
    assert len(pool._pool_free) <= 4
    pool.close()


def test_pool_username_shrink_and_unknown_release(cluster, seeds):
    pool = ClusterPool(seeds=seeds, username="full", password="pw", pool_size=3)
    clients = [pool.acquire() for _ in range(3)]
    for client in clients:
        assert client.execute(b"ACL", b"WHOAMI", shard_key="x") == b"full"
        pool.release(client)
    pool.pool_size = 1  # upstream: AttributeError (no close())
    assert sum(client.closed for client in clients) == 2
    stranger = ClusterClient(cluster_map=pool.cluster_map)
    pool.release(stranger)  # unknown: closed
    assert stranger.closed
    assert pool.execute(b"ACL", b"WHOAMI", sock=cluster.nodes[0].name) == b"full"
    pool.close()


def test_get_by_url(cluster, seeds):
    url = "cluster://%s?slave_ok=true&pool_size=3&refresh_timeout=0.5" % ",".join(
        "%s:%d" % seed for seed in seeds)
    pool = get_by_url(url)
    assert isinstance(pool, ClusterPool)
    assert pool.slave_ok and pool.pool_size == 3
    assert pool.cluster_map.refresh_timeout == 0.5
    assert pool.set("from-url", 1) == b"OK"
    cluster.owner_of_key("from-url").call("WAIT", 1, 2000)
    assert pool.get("from-url") == b"1"
    pool.close()


def test_command_families_in_cluster_mode(cluster, seeds):
    """One or two commands of every keyed mixin, through a pool, landing on the
    key's primary; ``object`` and ``expireat`` work (upstream: DEL / broken)."""
    pool = ClusterPool(seeds=seeds, pool_size=2)
    try:
        assert pool.set("str", "abc") == b"OK"
        assert pool.append("str", "d") == 4
        assert pool.hset("hash", "f", "v") == 1
        assert pool.hgetall("hash") == [b"f", b"v"]
        assert pool.rpush("list", 1, 2, 3) == 3
        assert pool.lrange("list", 0, -1) == [b"1", b"2", b"3"]
        assert pool.sadd("set", "a") == 1
        assert pool.zadd("zset", 1, "m") == 1
        assert pool.zremrangebyscrore("zset", 0, 5) == 1
        assert pool.pfadd("hll", "a", "b") == 1
        assert pool.pfcount("hll") == 2
        assert pool.geoadd("geo", 13.361389, 38.115556, "Palermo") == 1
        assert pool.object("ENCODING", "str") in (b"raw", b"embstr")
        assert pool.get("str") == b"abcd"                       # OBJECT did not delete it
        assert pool.expireat("str", 4102444800) == 1
        assert 0 < pool.ttl("str")
        assert pool.bitop("AND", "{str}dest", "{str}a", "{str}b") == 0
        for key, kind in [("str", b"string"), ("hash", b"hash"), ("list", b"list"),
                          ("set", b"set"), ("geo", b"zset"), ("hll", b"string")]:
            assert cluster.owner_of_key(key).call("TYPE", key) == kind
        with pytest.raises(NotImplementedError):
            pool.migrate("h", 1, "k", 0, 1)
    finally:
        pool.close()


def test_get_by_url_with_credentials(cluster, seeds):
    hosts = ",".join("%s:%d" % seed for seed in seeds)
    pool = get_by_url("cluster://full:pw@%s?pool_size=2" % hosts)
    try:
        assert (pool.username, pool.password) == ("full", "pw")
        assert pool.execute(b"ACL", b"WHOAMI", shard_key="any") == b"full"
    finally:
        pool.close()
    with pytest.raises(PyRedisError, match="NOPERM|permission"):
        get_by_url("cluster://nocluster:pw@%s" % hosts).get("k")  # the map fetch uses them
