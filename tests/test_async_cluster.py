"""asyncio Redis Cluster: AsyncClusterMap, AsyncClusterClient, AsyncClusterPool
against the real six-node cluster that test_cluster.py uses (one per run:
tests/cluster_servers.py).

Tests that move slots put them back (``restore_slot``); every test starts from
empty primaries.
"""
import asyncio
import contextlib
import threading
import time
import uuid

import pytest

import pyredis.async_helper
import pyredis.helper
from async_support import async_test_asyncio_only as async_test  # topology tests: one loop
from pyredis import (
    AsyncClusterClient,
    AsyncClusterPool,
    ClusterClient,
    ClusterPool,
    commands,
    get_by_url,
)
from pyredis.async_helper import AsyncClusterMap
from pyredis.exceptions import (
    PyRedisConnClosed,
    PyRedisConnError,
    PyRedisConnReadTimeout,
    PyRedisError,
    ReplyError,
)
from pyredis.client import cluster_routing
from pyredis.client.cluster_routing import CLUSTERDOWN_DELAYS, parse_redirect
from pyredis.connection import AsyncConnection
from pyredis.helper import REFRESH_TIMEOUT, ClusterMap, slot_from_key
from cluster_servers import (  # noqa: F401  (the fixtures test_cluster.py uses too)
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


# -- no server --------------------------------------------------------------------------
def test_exports():
    import pyredis
    import pyredis.client
    import pyredis.pool

    assert {"AsyncClusterClient", "AsyncClusterPool"} <= set(pyredis.__all__)
    assert pyredis.client.AsyncClusterMap is pyredis.pool.AsyncClusterMap is AsyncClusterMap
    assert pyredis.pool.AsyncClusterPool is AsyncClusterPool


def test_same_mixins_as_the_sync_twins():
    for sync, async_ in [(ClusterClient, AsyncClusterClient), (ClusterPool, AsyncClusterPool)]:
        mixins = [name for name in commands.__all__ if name != "BaseCommand"]
        assert [m for m in mixins if issubclass(async_, getattr(commands, m))] == \
            [m for m in mixins if issubclass(sync, getattr(commands, m))]
        assert async_._cluster is True
    assert not issubclass(AsyncClusterPool, (commands.Publish, commands.Transaction))


@async_test
async def test_client_arguments():
    with pytest.raises(PyRedisError, match="seeds or cluster_map"):
        AsyncClusterClient()
    cluster_map = AsyncClusterMap([("h", 1)])
    with pytest.raises(PyRedisError, match="seeds or cluster_map"):
        AsyncClusterClient(seeds=[("h", 1)], cluster_map=cluster_map)
    with pytest.raises(TypeError, match="AsyncClusterMap"):
        AsyncClusterClient(cluster_map=ClusterMap([("h", 1)]))  # a sync map cannot be awaited
    client = AsyncClusterClient(cluster_map=cluster_map)
    with pytest.raises(PyRedisError, match="shard_key or sock"):
        await client.execute(b"PING")
    with pytest.raises(PyRedisError, match="shard_key or sock"):
        await client.execute(b"GET", "k", shard_key="k", sock="h_1")
    with pytest.raises(PyRedisError, match="needs a command"):
        await client.execute(sock="h_1")
    with pytest.raises(IndexError):
        client.get()  # key commands without a key fail at call time, as in sync mode


def test_map_id_is_a_uuid_and_refresh_timeout_a_checked_setting():
    cluster_map = AsyncClusterMap([("h", 1)])
    assert isinstance(cluster_map.id, uuid.UUID)
    assert cluster_map.refresh_timeout == REFRESH_TIMEOUT
    for bad, error in [("1", TypeError), (None, TypeError), (0, ValueError)]:
        with pytest.raises(error, match="refresh_timeout"):
            AsyncClusterMap([("h", 1)], refresh_timeout=bad)
    with pytest.raises(ValueError, match="refresh_timeout"):
        AsyncClusterClient(cluster_map=cluster_map, refresh_timeout=1)
    client = AsyncClusterClient(seeds=[("h", 1)], refresh_timeout=0.3)
    assert client.cluster_map.refresh_timeout == 0.3
    pool = AsyncClusterPool(seeds=[("h", 1)], refresh_timeout=0.3)
    assert pool.cluster_map.refresh_timeout == 0.3


def test_pool_does_no_io_until_used():
    pool = AsyncClusterPool(seeds=[("no-such-host.invalid", 1)], username="u", password="p")
    assert isinstance(pool.cluster_map, AsyncClusterMap)
    assert pool.cluster_map.hosts() == set()
    client = pool._connect()
    assert isinstance(client, AsyncClusterClient)
    assert (client.username, client.password) == ("u", "p")  # upstream dropped username
    assert client.cluster_map is pool.cluster_map


@async_test
async def test_map_fails_when_no_node_answers():
    cluster_map = AsyncClusterMap([dead_address(), dead_address()], conn_timeout=0.5)
    with pytest.raises(PyRedisError, match="Could not get cluster info"):
        await cluster_map.update(cluster_map.id)
    with pytest.raises(KeyError):
        cluster_map.get_slot("k")


@pytest.mark.parametrize("message, parsed", [
    ("MOVED 3999 127.0.0.1:6381", ("MOVED", 3999, ("127.0.0.1", 6381))),
    ("ASK 1 ::1:7000", ("ASK", 1, ("::1", 7000))),
    ("MOVED 5 :7001", ("MOVED", 5, ("", 7001))),  # "" = the node asked
    ("MOVED x h:1", None),
    ("ERR MOVED 1 h:2", None),
    ("TRYAGAIN Multiple keys request during rehashing of slot", None),
])
def test_parse_redirect(message, parsed):
    assert parse_redirect(ReplyError(message)) == parsed


# -- the map ---------------------------------------------------------------------------
@async_test
async def test_map_matches_the_cluster(cluster, seeds):
    cluster_map = AsyncClusterMap(seeds)
    first = cluster_map.id
    assert await cluster_map.update(first) != first
    assert cluster_map.hosts() == {node.name for node in cluster.primaries()}
    assert cluster_map.hosts(slave=True) == {node.name for node in cluster.replicas()}
    assert cluster_map.nodes() == {node.addr for node in cluster.nodes}
    for key in ["a", "b", "{user}1", "x" * 50]:
        primary = cluster.owner_of_key(key)
        assert cluster_map.get_slot(key) == primary.name
        assert cluster_map.get_slot(key, slave=True) == cluster.replica_of(primary).name
    current = cluster_map.id
    assert await cluster_map.update(first) == current  # stale id: no fetch


@async_test
async def test_map_concurrent_refreshes_share_one_fetch(cluster, seeds, monkeypatch):
    cluster_map = AsyncClusterMap([dead_address()] + seeds, conn_timeout=0.5)
    fetches = []
    fetch = cluster_map._fetch

    async def counted(current):
        fetches.append(current)
        return await fetch(current)

    monkeypatch.setattr(cluster_map, "_fetch", counted)
    before = cluster_map.id
    ids = await asyncio.gather(*(cluster_map.update(before) for _ in range(10)))
    assert len(fetches) == 1
    assert len(set(ids)) == 1 and ids[0] != before
    assert len(cluster_map.hosts()) == 3


@async_test
async def test_map_with_a_given_lock(cluster, seeds):
    lock = asyncio.Lock()
    cluster_map = AsyncClusterMap(seeds, lock=lock)
    assert await cluster_map.update() != await cluster_map.update()
    assert not lock.locked()
    assert len(cluster_map.hosts()) == 3
    with pytest.raises(TypeError, match="async with"):  # it would block the event loop
        AsyncClusterMap(seeds, lock=threading.Lock())


@async_test
async def test_map_asks_the_node_that_answered_last_and_failed_nodes_last(cluster, monkeypatch):
    asked = record_fetches(monkeypatch, pyredis.async_helper, AsyncConnection)
    dead, seed = dead_address(), cluster.replicas()[0]
    cluster_map = AsyncClusterMap([dead, seed.addr], refresh_timeout=0.3)
    await cluster_map.update()
    assert asked == [dead, seed.addr]
    assert cluster_map.seeds == [seed.addr, dead]  # the failed seed went to the back
    with hung(seed):
        del asked[:]
        await cluster_map.update()
        assert asked[:2] == [seed.addr, dead] and len(asked) == 3
        other = asked[2]
        del asked[:]
        await cluster_map.update()
        assert asked == [other]  # the last to answer, not a seed: asked first
    cluster.wait_replicas_listed()


@async_test
async def test_map_authenticates(cluster, seeds):
    await AsyncClusterMap(seeds, username="full", password="pw").update()
    with pytest.raises(PyRedisError, match="NOPERM|permission"):
        await AsyncClusterMap(seeds, username="nocluster", password="pw").update()
    with pytest.raises(PyRedisError, match="WRONGPASS|invalid"):
        await AsyncClusterMap(seeds, username="full", password="wrong").update()


@pytest.mark.parametrize("slave_ok", [False, True])
@async_test
async def test_ipv6_cluster_without_replicas(lone_node_v6, slave_ok):
    name = "::1_%d" % lone_node_v6.port
    async with AsyncClusterClient(seeds=[("::1", lone_node_v6.port)], slave_ok=slave_ok) as client:
        assert await client.set("v6", "six") == b"OK"
        assert await client.get("v6") == b"six"
        assert client.cluster_map.hosts() == client.cluster_map.hosts(slave=True) == {name}
        assert await client.ping(sock="[::1]:%d" % lone_node_v6.port) == b"PONG"
        assert await client.delete("v6") == 1


# -- routing -----------------------------------------------------------------------------
@async_test
async def test_keys_go_to_the_primary_serving_their_slot(cluster, seeds):
    async with AsyncClusterClient(seeds=seeds) as client:
        keys = ["key:%d" % i for i in range(40)]
        for i, key in enumerate(keys):
            assert await client.set(key, i) == b"OK"
        used = set()
        for i, key in enumerate(keys):
            owner = cluster.owner_of_key(key)
            assert owner.call("GET", key) == str(i).encode()
            used.add(owner.name)
            assert await client.get(key) == str(i).encode()
        assert used == {node.name for node in cluster.primaries()}
        assert set(client._conns) == {node.addr for node in cluster.primaries()}
        assert await client.set(0, "zero") == b"OK"  # falsy keys are keys
        assert await client.set("", "empty") == b"OK"
        assert cluster.owner_of_key("0").call("GET", "0") == b"zero"
        assert await client.get("") == b"empty"


@async_test
async def test_hash_tags_and_explicit_commands(cluster, seeds):
    async with AsyncClusterClient(seeds=seeds, encoding="utf-8") as client:
        keys = ["{user:1}:name", "{user:1}:mail"]
        assert len({slot_from_key(key) for key in keys}) == 1
        assert await client.mset(keys[0], "a", keys[1], "b") == "OK"
        assert await client.mget(*keys) == ["a", "b"]
        owner = cluster.owner_of_key("user:1")
        assert [owner.call("GET", key) for key in keys] == [b"a", b"b"]
        with pytest.raises(ReplyError, match="CROSSSLOT"):
            await client.mget("a", "b", "c", "d")
        for node in cluster.nodes:
            assert await client.ping(sock=node.name) == "PONG"
            assert await client.echo("hi", sock=node.addr) == "hi"
        assert sorted(await client.keys("*", sock=owner.name)) == sorted(keys)
        assert await client.execute(b"CLUSTER", b"MYID", sock=owner.name) == owner.id
        wrong = other_primary(cluster, owner)
        with pytest.raises(ReplyError, match="MOVED.*explicitly set socket"):
            await client.execute(b"GET", keys[0], sock=wrong.name)
        # a transaction on one node (the client to itself)
        assert await client.multi(shard_key="{t}") == "OK"
        assert await client.set("{t}a", 1) == "QUEUED"
        assert await client.incr("{t}a") == "QUEUED"
        assert await client.execute(b"EXEC", shard_key="{t}") == ["OK", 2]


@async_test
async def test_concurrent_tasks_share_one_client(cluster, seeds):
    # 150 tasks over three nodes: each gets its own reply, whatever the interleaving.
    async with AsyncClusterClient(seeds=seeds) as client:
        keys = ["task:%d" % i for i in range(150)]
        await asyncio.gather(*(client.set(key, key) for key in keys))

        async def check(key):
            for _ in range(5):
                assert await client.get(key) == key.encode()
                assert await client.incr(key + ":n") >= 1
            return key

        assert await asyncio.gather(*(check(key) for key in keys)) == keys
        assert len(client._conns) == 3
        for key in keys[:10]:
            assert cluster.owner_of_key(key + ":n").call("GET", key + ":n") == b"5"


# -- redirections ----------------------------------------------------------------------
@async_test
async def test_moved_after_a_slot_moves(cluster, seeds):
    key = "moving"
    slot = cluster.slot(key)
    home = cluster.owner(slot)
    target = other_primary(cluster, home)
    client = AsyncClusterClient(seeds=seeds)
    stale = AsyncClusterMap(seeds)
    try:
        await client.set(key, "v")
        await stale.update()
        cluster.move_slot(slot, home, target)
        stale_client = AsyncClusterClient(cluster_map=stale)
        assert await stale_client.ping(sock=home.name) == b"PONG"  # connected to home
        with pytest.raises(PyRedisError, match="giving up"):  # one attempt: MOVED not followed
            await stale_client.execute(b"GET", key, shard_key=key, retries=1)
        assert await stale_client.execute(b"GET", key, shard_key=key, retries=2) == b"v"
        await stale_client.close()
        home.call("CONFIG", "RESETSTAT")
        assert await client.get(key) == b"v"  # MOVED from the old owner, followed
        assert b"errorstat_MOVED:count=1" in home.call("INFO", "errorstats")
        assert client.cluster_map.get_slot(key) == target.name
        assert await client.set(key, "w") == b"OK"
        assert target.call("GET", key) == b"w"
    finally:
        await client.close()
        restore_slot(cluster, slot, home)


@async_test
async def test_a_redirection_inside_multi_is_raised_not_followed(cluster, seeds):
    key = "{atxmove}k"
    slot = cluster.slot(key)
    home = cluster.owner(slot)
    target = other_primary(cluster, home)
    client = AsyncClusterClient(seeds=seeds)
    try:
        await client.set(key, "before")
        other = next(k for k in ("o%d" % i for i in range(5000))
                     if cluster.owner(cluster.slot(k)) is home)
        await client.set(other, "other-value")
        cluster.move_slot(slot, home, target)  # the client's map is stale now
        assert await client.multi(shard_key=key) == b"OK"  # on the old owner
        with pytest.raises(ReplyError, match="MOVED"):
            await client.set(key, "in-transaction")  # not run on the new owner
        assert target.call("GET", key) == b"before"
        with pytest.raises(ReplyError):
            await client.exec(shard_key=key)
        assert await client.get(other) == b"other-value"  # not QUEUED
        assert await client.set(key, "after") == b"OK" and target.call("GET", key) == b"after"
    finally:
        await client.close()
        restore_slot(cluster, slot, home)


@async_test
async def test_moved_from_a_lagging_node_still_points_the_slot(cluster, seeds, monkeypatch):
    key = "lagging"
    slot = cluster.slot(key)
    home = cluster.owner(slot)
    target = other_primary(cluster, home)
    client = AsyncClusterClient(seeds=seeds)
    try:
        await client.set(key, "v")
        cluster_map = client.cluster_map
        old_reply = home.call("CLUSTER", "SLOTS")
        cluster.move_slot(slot, home, target)

        async def lagging(current):
            return old_reply, home.addr

        monkeypatch.setattr(cluster_map, "_fetch", lagging)
        assert await client.get(key) == b"v"
        assert cluster_map.get_slot(key) == target.name
    finally:
        await client.close()
        restore_slot(cluster, slot, home)


@async_test
async def test_ask_during_a_migration(cluster, seeds):
    slot = cluster.slot("{mig}")
    home = cluster.owner(slot)
    target = other_primary(cluster, home)
    client = AsyncClusterClient(seeds=seeds)
    try:
        await client.set("{mig}moved", "m")
        await client.set("{mig}stays", "s")
        cluster.begin_migration(slot, home, target)
        home.call("MIGRATE", target.host, target.port, "", 0, 5000, "KEYS", "{mig}moved")
        before = client.cluster_map.id
        target.call("CONFIG", "RESETSTAT")
        assert await client.get("{mig}moved") == b"m"       # ASK -> ASKING, GET on target
        assert command_calls(target, "asking") == 1
        assert await client.get("{mig}stays") == b"s"
        assert await client.set("{mig}new", "n") == b"OK"   # missing on the source: ASK
        assert target.call("GET", "{mig}new", asking=True) == b"n"
        assert client.cluster_map.id == before              # ASK leaves the map alone
        with pytest.raises(ReplyError, match="TRYAGAIN"):  # retried, then raised
            await client.mget("{mig}moved", "{mig}stays")
        # explicit asking= on the importing node
        with pytest.raises(ReplyError, match="MOVED"):
            await client.execute(b"SET", "{mig}x", 1, sock=target.name)
        assert await client.execute(b"SET", "{mig}x", 1, sock=target.name, asking=True) == b"OK"
        cluster.migrate_keys(slot, home, target)
        cluster.finish_migration(slot, target)
        assert await client.mget("{mig}moved", "{mig}stays", "{mig}new") == [b"m", b"s", b"n"]
    finally:
        await client.close()
        restore_slot(cluster, slot, home)


# -- replicas ---------------------------------------------------------------------------
@async_test
async def test_slave_ok_reads_from_replicas_and_writes_to_primaries(cluster, seeds):
    key = "replicated"
    primary = cluster.owner_of_key(key)
    replica = cluster.replica_of(primary)
    async with AsyncClusterClient(seeds=seeds, slave_ok=True) as client:
        for node in (primary, replica):
            node.call("CONFIG", "RESETSTAT")
        assert await client.set(key, "v") == b"OK"
        primary.call("WAIT", 1, 2000)
        assert await client.get(key) == b"v"
        assert command_calls(primary, "set") == 1
        assert command_calls(primary, "get") == 0
        assert command_calls(replica, "get") == 1
        assert b"errorstat_MOVED" not in replica.call("INFO", "errorstats")


@async_test
async def test_a_write_sent_to_a_replica_follows_its_moved(cluster, seeds, monkeypatch):
    # Were a write taken for a read, the replica's MOVED (to the primary the map
    # already names) is followed without refreshing the map.
    monkeypatch.setattr("pyredis.client.cluster_routing.READ_COMMANDS", frozenset([b"INCR"]))
    key = "bounce"
    primary = cluster.owner_of_key(key)
    replica = cluster.replica_of(primary)
    async with AsyncClusterClient(seeds=seeds, slave_ok=True) as client:
        before = await client.cluster_map.update()
        replica.call("CONFIG", "RESETSTAT")
        assert await client.incr(key) == 1
        assert b"errorstat_MOVED:count=1" in replica.call("INFO", "errorstats")
        assert client.cluster_map.id == before
        assert primary.call("GET", key) == b"1"


# -- failures ---------------------------------------------------------------------------
@async_test
async def test_killed_connection_raises_then_recovers(cluster, seeds):
    async with AsyncClusterClient(seeds=seeds) as client:
        await client.set("victim", "v")
        owner = cluster.owner_of_key("victim")
        assert owner.call("CLIENT", "KILL", "TYPE", "normal") >= 1
        conn = client._conns[owner.addr]
        for _ in range(200):  # until the loop has seen the connection end
            if conn.closed:
                break
            await asyncio.sleep(0.01)
        assert conn.closed
        # A connection the server ended while idle is replaced before use.
        assert await client.get("victim") == b"v"
        assert client._conns[owner.addr] is not conn
        assert not client.closed
        # A connection killed while a command waits for its reply: raised, dropped.
        blocked = asyncio.ensure_future(client.blpop("{victim}list", 5))
        await asyncio.sleep(0.1)
        cluster.owner_of_key("{victim}list").call("CLIENT", "KILL", "TYPE", "normal")
        with pytest.raises((PyRedisConnClosed, PyRedisConnError)):
            await blocked
        assert cluster.owner_of_key("{victim}list").addr not in client._conns
        assert await client.lpush("{victim}list", "x") == 1


@async_test
async def test_cancelled_command_leaves_no_stray_reply(cluster, seeds):
    async with AsyncClusterClient(seeds=seeds) as client:
        await client.set("{cancel}str", "v")
        owner = cluster.owner_of_key("{cancel}")
        conn = client._conns[owner.addr]
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(client.blpop("{cancel}list", 5), 0.2)
        assert conn.closed  # its reply was still due: the connection is gone
        assert await client.get("{cancel}str") == b"v"  # on a new connection
        assert client._conns[owner.addr] is not conn


@async_test
async def test_read_timeout_drops_the_node_connection(cluster, seeds, monkeypatch):
    monkeypatch.setattr(pyredis.helper, "FAILURE_REFRESH_INTERVAL", 0)  # refresh at once
    owner = cluster.owner_of_key("{blocked}")
    async with AsyncClusterClient(seeds=seeds, read_timeout=0.2) as client:
        await client.set("{blocked}str", "v")
        assert owner.addr in client._conns
        before = client.cluster_map.id
        with pytest.raises(PyRedisConnReadTimeout):
            await client.blpop("{blocked}", 5)
        assert owner.addr not in client._conns
        assert client.cluster_map.id != before  # the map was refreshed
        assert await client.get("{blocked}str") == b"v"


@async_test
async def test_unreachable_node_is_retried_after_a_refresh(cluster, seeds):
    async with AsyncClusterClient(seeds=seeds) as client:
        await client.set("redirected", "v")
        slot = cluster.slot("redirected")
        client.cluster_map.moved(slot, dead_address())  # as if the node had gone
        assert await client.get("redirected") == b"v"
        assert client.cluster_map.get_slot("redirected") == cluster.owner(slot).name


@async_test
async def test_tasks_racing_to_an_unreachable_node_are_all_retried(cluster, seeds):
    # Several tasks find the same new (dead) node connection: none of them has
    # sent anything when its connect fails, so every one is retried.
    async with AsyncClusterClient(seeds=seeds) as client:
        await client.set("{race}", "v")
        client.cluster_map.moved(cluster.slot("{race}"), dead_address())
        assert await asyncio.gather(*(client.get("{race}") for _ in range(5))) == [b"v"] * 5


# -- availability under faults -----------------------------------------------------------
class AsyncLoad:
    """``tasks`` tasks calling ``await command(worker, i)`` (``i`` = 1, 2, ...)
    from the start of the ``async with`` block to its end; each call is logged
    in ``log`` as ``(start, end, exception or None)``."""

    def __init__(self, command, tasks=8):
        self.command = command
        self.tasks = tasks
        self.log = []
        self._stop = asyncio.Event()
        self._running = []

    async def _work(self, worker):
        command, log, i = self.command, self.log, 0
        while not self._stop.is_set():
            i += 1
            start = time.monotonic()
            try:
                await command(worker, i)
                error = None
            except Exception as exc:  # logged: the test looks at them
                error = exc
            log.append((start, time.monotonic(), error))

    async def __aenter__(self):
        self._running = [asyncio.ensure_future(self._work(n)) for n in range(self.tasks)]
        return self

    async def __aexit__(self, *exc_info):
        self._stop.set()
        await asyncio.gather(*self._running)


@async_test
async def test_pool_with_a_hung_seed_waits_one_refresh_timeout_at_most(cluster, monkeypatch):
    asked = record_fetches(monkeypatch, pyredis.async_helper, AsyncConnection)
    seed = cluster.replicas()[0]
    refresh_timeout = 0.3
    pool = AsyncClusterPool(seeds=[seed.addr, cluster.nodes[0].addr], pool_size=4,
                            pool_timeout=30, read_timeout=5, refresh_timeout=refresh_timeout)
    try:
        with hung(seed):
            async with AsyncLoad(
                    lambda worker, i: pool.set("hung:%d:%d" % (worker, i % 50), i)) as load:
                for _ in range(3):  # every client loses its connections: each refreshes the map
                    await asyncio.sleep(0.4)
                    for node in cluster.primaries():
                        node.call("CLIENT", "KILL", "TYPE", "normal")
                await asyncio.sleep(0.3)
    finally:
        await pool.close()
        cluster.wait_replicas_listed()
    assert all(isinstance(error, (PyRedisConnError, PyRedisConnClosed))
               for _, _, error in load.log if error is not None)
    assert asked.count(seed.addr) == 1
    assert len(asked) <= 2 + 3 * 3
    assert len(load.log) > 100
    assert max(end - start for start, end, _ in load.log) < refresh_timeout + 2.5


@contextlib.asynccontextmanager
async def refresh_under_way(cluster_map, monkeypatch):
    """A refresh of ``cluster_map`` in another task, held in its fetch until
    the block ends."""
    started, release = asyncio.Event(), asyncio.Event()
    fetch = cluster_map._fetch

    async def slow_fetch(current):
        started.set()
        await release.wait()
        return await fetch(current)

    monkeypatch.setattr(cluster_map, "_fetch", slow_fetch)
    refresh = asyncio.ensure_future(cluster_map.update())
    try:
        await asyncio.wait_for(started.wait(), 10)
        yield refresh
    finally:
        release.set()
        await refresh


@async_test
async def test_client_goes_on_with_the_current_table_while_a_refresh_is_under_way(
        cluster, seeds, monkeypatch):
    key = "nowait"
    slot = cluster.slot(key)
    home = cluster.owner(slot)
    target = other_primary(cluster, home)
    client = AsyncClusterClient(seeds=seeds)
    try:
        await client.set(key, "v")
        cluster.move_slot(slot, home, target)
        async with refresh_under_way(client.cluster_map, monkeypatch) as refresh:
            # The MOVED reply is followed without waiting for the refresh.
            assert await asyncio.wait_for(client.get(key), 10) == b"v"
            assert not refresh.done()
        assert client.cluster_map.get_slot(key) == target.name
    finally:
        await client.close()
        restore_slot(cluster, slot, home)


@async_test
async def test_a_node_that_failed_is_not_used_before_a_refresh_under_way_ends(
        cluster, seeds, monkeypatch):
    monkeypatch.setattr(pyredis.helper, "FAILURE_REFRESH_INTERVAL", 0)
    key = "suspect"
    slot = cluster.slot(key)
    home = cluster.owner(slot)
    target = other_primary(cluster, home)
    client = AsyncClusterClient(seeds=seeds)
    try:
        await client.set(key, "v")
        blocked = asyncio.ensure_future(client.blpop("{suspect}list", 5))
        await asyncio.sleep(0.1)
        home.call("CLIENT", "KILL", "TYPE", "normal")
        with pytest.raises((PyRedisConnClosed, PyRedisConnError)):
            await blocked  # the node failed under a command
        cluster.move_slot(slot, home, target)
        home.call("CONFIG", "RESETSTAT")
        async with refresh_under_way(client.cluster_map, monkeypatch):
            reader = asyncio.ensure_future(client.get(key))
            await asyncio.sleep(0.2)
        assert await asyncio.wait_for(reader, 10) == b"v"
        assert error_count(home, "MOVED") == 0  # not sent to the old node
    finally:
        await client.close()
        restore_slot(cluster, slot, home)


@async_test
async def test_clusterdown_is_retried_a_little_then_raised(lone_node):
    key = "down"
    other_slot = (slot_from_key(key) + 1) % 16384
    async with AsyncClusterClient(seeds=[lone_node.addr]) as client:
        assert await client.set(key, "v") == b"OK"
        with unassigned(lone_node, other_slot):
            lone_node.call("CONFIG", "RESETSTAT")
            with pytest.raises(ReplyError, match="CLUSTERDOWN"):
                await client.get(key)
            assert error_count(lone_node, "CLUSTERDOWN") == 1 + len(CLUSTERDOWN_DELAYS)
            assert await client.multi(shard_key=key) == b"OK"
            with pytest.raises(ReplyError, match="CLUSTERDOWN"):
                await client.get(key)  # inside MULTI: raised at once
            assert error_count(lone_node, "CLUSTERDOWN") == 2 + len(CLUSTERDOWN_DELAYS)
            assert await client.execute(b"DISCARD", shard_key=key) == b"OK"


@async_test
async def test_clusterdown_ends_while_the_command_waits(lone_node, monkeypatch):
    monkeypatch.setattr(cluster_routing, "CLUSTERDOWN_DELAYS", (0.05,) * 200)  # a long outage
    key = "down-then-up"
    other_slot = (slot_from_key(key) + 1) % 16384
    async with AsyncClusterClient(seeds=[lone_node.addr]) as client:
        assert await client.set(key, "v") == b"OK"
        with unassigned(lone_node, other_slot):
            lone_node.call("CONFIG", "RESETSTAT")
            reader = asyncio.ensure_future(client.get(key))
            deadline = time.monotonic() + 10
            while error_count(lone_node, "CLUSTERDOWN") < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            lone_node.call("CLUSTER", "ADDSLOTS", other_slot)
            assert await asyncio.wait_for(reader, 15) == b"v"


@async_test
async def test_failover_errors_stop_at_the_promotion(failover_cluster):
    cluster = failover_cluster
    cluster.roles()
    victim = cluster.primaries()[0]
    survivors = [node for node in cluster.nodes if node is not victim]
    pool = AsyncClusterPool(seeds=[victim.addr, survivors[0].addr], pool_size=4,
                            pool_timeout=30)
    try:
        assert await pool.set("warm", 1) == b"OK"
        for node in survivors:
            node.call("CONFIG", "RESETSTAT")
        async with AsyncLoad(
                lambda worker, i: pool.set("fo:%d:%d" % (worker, i % 100), i)) as load:
            await asyncio.sleep(0.3)
            killed_at, promoted_at = await asyncio.get_running_loop().run_in_executor(
                None, kill_and_wait_for_promotion, cluster, victim)
            await asyncio.sleep(1.5)
        ended_at = time.monotonic()
        fetches = sum(command_calls(node, "cluster|slots") for node in survivors)
        assert await pool.set("after", 1) == b"OK"
    finally:
        await pool.close()
    check_failover(load.log, killed_at, promoted_at, ended_at, fetches)


class UpstreamStyleMap:
    """Nothing but pyredis 1.0's AsyncClusterMap interface, around a real map."""

    def __init__(self, inner):
        self.inner = inner
        self.updates = 0

    @property
    def id(self):
        return self.inner.id

    async def update(self, map_id):
        self.updates += 1
        return await self.inner.update(map_id)

    def get_slot(self, shard_key, slave=None):
        return self.inner.get_slot(shard_key, slave)

    def hosts(self, slave=None):
        return self.inner.hosts(slave)


@async_test
async def test_client_takes_any_object_with_clustermap_methods(cluster, seeds, monkeypatch):
    duck = UpstreamStyleMap(AsyncClusterMap(seeds))
    key = "duck"
    slot = cluster.slot(key)
    home = cluster.owner(slot)
    target = other_primary(cluster, home)
    try:
        async with AsyncClusterClient(cluster_map=duck) as client:
            assert client.cluster_map is duck
            for i in range(30):
                assert await client.set("duck:%d" % i, i) == b"OK"
                assert cluster.owner_of_key("duck:%d" % i).call("GET", "duck:%d" % i) == b"%d" % i
            assert duck.updates == 1
            assert await client.set(key, "v") == b"OK"
            old_reply = home.call("CLUSTER", "SLOTS")
            cluster.move_slot(slot, home, target)

            async def lagging(current):
                return old_reply, home.addr

            monkeypatch.setattr(duck.inner, "_fetch", lagging)
            assert await client.get(key) == b"v"
            assert await client.set(key, "w") == b"OK" and target.call("GET", key) == b"w"
            assert duck.updates == 2
    finally:
        restore_slot(cluster, slot, home)
    with pytest.raises(TypeError, match="hosts"):
        AsyncClusterClient(cluster_map=object())


@async_test
async def test_close(cluster, seeds):
    client = AsyncClusterClient(seeds=seeds)
    async with client:
        await client.set("a", 1)
        await client.set("b", 2)
        conns = list(client._conns.values())
        assert conns and not client.closed
    assert client.closed
    assert all(conn.closed for conn in conns)
    with pytest.raises(PyRedisConnError, match="Gone"):
        await client.get("a")
    await client.close()  # idempotent


@async_test
async def test_client_from_seeds_authenticates(cluster, seeds):
    async with AsyncClusterClient(seeds=seeds, username="full", password="pw") as client:
        assert await client.set("authed", 1) == b"OK"
        for node in cluster.primaries():
            assert await client.execute(b"ACL", b"WHOAMI", sock=node.name) == b"full"


# -- the pool ---------------------------------------------------------------------------
@async_test
async def test_pool_with_20_tasks(cluster, seeds):
    async with AsyncClusterPool(seeds=seeds, pool_size=4, pool_timeout=5) as pool:
        keys = ["counter:%d" % i for i in range(12)]

        async def work():
            for _ in range(10):
                for key in keys:
                    await pool.incr(key)

        await asyncio.gather(*(work() for _ in range(20)))
        for key in keys:
            assert cluster.owner_of_key(key).call("GET", key) == b"200"
            assert await pool.get(key) == b"200"
        assert len(pool._pool_free) <= 4
        clients = pool._pool_free
        assert all(client.cluster_map is pool.cluster_map for client in clients)
    assert all(client.closed for client in clients)


@async_test
async def test_pool_username_shrink_and_unknown_release(cluster, seeds):
    pool = AsyncClusterPool(seeds=seeds, username="full", password="pw", pool_size=3)
    clients = [await pool.acquire() for _ in range(3)]
    for client in clients:
        assert await client.execute(b"ACL", b"WHOAMI", shard_key="x") == b"full"
        await pool.release(client)
    pool.pool_size = 1
    await asyncio.gather(*pool._tasks)  # surplus idle clients are closed in a task
    assert sum(client.closed for client in clients) == 2
    stranger = AsyncClusterClient(cluster_map=pool.cluster_map)
    await pool.release(stranger)  # unknown: closed
    assert stranger.closed
    assert await pool.execute(b"ACL", b"WHOAMI", sock=cluster.nodes[0].name) == b"full"
    await pool.close()


@async_test
async def test_get_by_url(cluster, seeds):
    hosts = ",".join("%s:%d" % seed for seed in seeds)
    pool = get_by_url("cluster://%s?slave_ok=true&pool_size=3" % hosts, async_client=True)
    assert isinstance(pool, AsyncClusterPool)
    assert pool.slave_ok and pool.pool_size == 3
    try:
        assert await pool.set("from-url", 1) == b"OK"
        cluster.owner_of_key("from-url").call("WAIT", 1, 2000)
        assert await pool.get("from-url") == b"1"
    finally:
        await pool.close()
    pool = get_by_url("cluster://full:pw@%s?pool_size=2" % hosts, async_client=True)
    try:
        assert await pool.execute(b"ACL", b"WHOAMI", shard_key="any") == b"full"
    finally:
        await pool.close()


@async_test
async def test_command_families_in_cluster_mode(cluster, seeds):
    async with AsyncClusterPool(seeds=seeds, pool_size=2) as pool:
        assert await pool.set("str", "abc") == b"OK"
        assert await pool.hset("hash", "f", "v") == 1
        assert await pool.rpush("list", 1, 2) == 2
        assert await pool.sadd("set", "a") == 1
        assert await pool.zadd("zset", 1, "m") == 1
        assert await pool.pfadd("hll", "a") == 1
        assert await pool.object("ENCODING", "str") in (b"raw", b"embstr")
        assert await pool.expireat("str", 4102444800) == 1
        for key, kind in [("str", b"string"), ("hash", b"hash"), ("list", b"list"),
                          ("set", b"set"), ("zset", b"zset"), ("hll", b"string")]:
            assert cluster.owner_of_key(key).call("TYPE", key) == kind
        with pytest.raises(NotImplementedError):
            pool.migrate("h", 1, "k", 0, 1)
