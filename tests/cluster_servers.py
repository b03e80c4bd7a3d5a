"""A real Redis Cluster for the test suite: six redis-server processes on free
loopback ports (three primaries, three replicas), joined with
``redis-cli --cluster create``.

Like servers.py, the helpers here speak raw RESP (a small parser below) so
that the fixture does not depend on the code under test.
"""
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from servers import RedisServer, free_port, pack

NODES = 6
# Nodes gossip at least every NODE_TIMEOUT/2, which bounds how long the
# start-up waits for every node to list the replicas (5 s default: ~3 s more).
# In the shared cluster replicas never fail over (see start()), so a node
# stalled on a busy machine cannot change the roles tests rely on; failover
# tests start a cluster of their own (``Cluster(failover=True)``).
NODE_TIMEOUT_MS = 2000


def cli_binary():
    path = os.environ.get("PYREDIS_TEST_REDIS_CLI") or shutil.which("redis-cli")
    if not path:
        raise RuntimeError("redis-cli not found: install it (apt-get install redis-tools) "
                           "or set PYREDIS_TEST_REDIS_CLI")
    return path


# -- raw RESP ----------------------------------------------------------------------
def _read_reply(f):
    line = f.readline()
    if not line:
        raise ConnectionError("server closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest
    if kind == b"-":
        return RespError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_read_reply(f) for _ in range(n)]
    raise ValueError("unexpected RESP line %r" % line)


class RespError(Exception):
    pass


class Node:
    """One cluster node: its server, its id and its role (refreshed by ``Cluster.roles``)."""

    def __init__(self, server):
        self.server = server
        self.host = server.host
        self.port = server.port
        self.id = None
        self.primary_id = None  # None for a primary

    @property
    def name(self):
        return "%s_%s" % (self.host, self.port)

    @property
    def addr(self):
        return (self.host, self.port)

    def call(self, *args, asking=False):
        """Run one command on a fresh connection; error replies are raised."""
        with socket.create_connection((self.host, self.port), timeout=5) as s:
            payload = pack(*args)
            if asking:
                payload = pack("ASKING") + payload
            s.sendall(payload)
            f = s.makefile("rb")
            replies = [_read_reply(f) for _ in range(2 if asking else 1)]
        for reply in replies:
            if isinstance(reply, RespError):
                raise reply
        return replies[-1]

    def __repr__(self):
        return "<Node %s %s>" % (self.name, "replica" if self.primary_id else "primary")


class Cluster:
    """Six cluster-enabled redis-servers, joined into one cluster.

    ``failover``: replicas take over a primary that fails (off by default:
    the roles stay put however slow the machine).
    """

    def __init__(self, extra=(), failover=False, node_timeout_ms=NODE_TIMEOUT_MS):
        self.extra = list(extra)
        self.failover = failover
        self.node_timeout_ms = node_timeout_ms
        self.nodes = []

    def start(self):
        try:
            for _ in range(NODES):
                server = RedisServer(unix=False)
                server.extra = [
                    "--cluster-enabled", "yes",
                    "--cluster-config-file", os.path.join(server.dir, "nodes.conf"),
                    "--cluster-node-timeout", str(self.node_timeout_ms),
                    # replicas sync at once (the default waits 5 s for more replicas)
                    "--repl-diskless-sync-delay", "0",
                    "--cluster-replica-no-failover", "no" if self.failover else "yes",
                ] + self.extra
                server.start()
                self.nodes.append(Node(server))
            self._create()
            self.wait_ok()
            self.wait_roles()
            self.wait_replicas_listed()
        except BaseException:
            self.stop()
            raise
        return self

    def _create(self):
        argv = [cli_binary(), "--cluster", "create"]
        argv += ["%s:%d" % node.addr for node in self.nodes]
        argv += ["--cluster-replicas", "1", "--cluster-yes"]
        done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=60)
        if done.returncode != 0:
            raise RuntimeError("redis-cli --cluster create failed:\n%s"
                               % done.stdout.decode("utf-8", "replace"))

    def wait_ok(self, timeout=30.0):
        """Until CLUSTER INFO says cluster_state:ok and all slots are assigned on every node."""
        deadline = time.monotonic() + timeout
        pending = list(self.nodes)
        while pending:
            node = pending[0]
            info = node.call("CLUSTER", "INFO")
            if b"cluster_state:ok" in info and b"cluster_slots_assigned:16384" in info:
                pending.pop(0)
                continue
            if time.monotonic() > deadline:
                raise RuntimeError("cluster not ok on %s:\n%s" % (node.name, info.decode()))
            time.sleep(0.05)

    def roles(self):
        """Read ids and primary/replica roles from CLUSTER NODES (they may change)."""
        by_port = {node.port: node for node in self.nodes}
        for line in self.nodes[0].call("CLUSTER", "NODES").decode().splitlines():
            fields = line.split()
            port = int(fields[1].split("@")[0].rsplit(":", 1)[1])
            node = by_port[port]
            node.id = fields[0]
            node.primary_id = None if fields[3] == "-" else fields[3]
        return self.nodes

    def wait_roles(self, timeout=30.0):
        """Until every primary has a replica in CLUSTER NODES and every replica is in
        sync with its primary (so tests may read from replicas)."""
        deadline = time.monotonic() + timeout
        while True:
            self.roles()
            if len(self.primaries()) == 3 and all(
                    self.replica_of(p) is not None for p in self.primaries()) and all(
                    b"master_link_status:up" in node.call("INFO", "replication")
                    for node in self.replicas()):
                return
            if time.monotonic() > deadline:
                raise RuntimeError("roles did not settle: %r" % self.nodes)
            time.sleep(0.05)

    def wait_replicas_listed(self, timeout=30.0):
        """Until CLUSTER SLOTS lists one replica per range on every node.

        A node lists a replica only once gossip reports a non-zero replication
        offset for it, which a fresh primary reaches only when it first sends
        something (a write, or the PING every repl-ping-replica-period): write.
        """
        for node in self.primaries():
            node.call("FLUSHALL")  # replicated, and needs no key of this node's slots
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            while not all(len(entry) == 4 for entry in node.call("CLUSTER", "SLOTS")):
                if time.monotonic() > deadline:
                    raise RuntimeError("replicas not listed by %r" % node)
                time.sleep(0.02)

    # -- topology ---------------------------------------------------------------
    def primaries(self):
        return [node for node in self.nodes if node.primary_id is None]

    def replicas(self):
        return [node for node in self.nodes if node.primary_id is not None]

    def replica_of(self, primary):
        for node in self.nodes:
            if node.primary_id == primary.id:
                return node
        return None

    def by_id(self, node_id):
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def slot(self, key):
        return self.nodes[0].call("CLUSTER", "KEYSLOT", key)

    def owner(self, slot, node=None):
        """The primary serving ``slot`` as ``node`` (default: the first) sees it."""
        for start, end, primary, *_ in (node or self.nodes[0]).call("CLUSTER", "SLOTS"):
            if start <= slot <= end:
                return self.by_port(primary[1])
        raise KeyError(slot)

    def by_port(self, port):
        for node in self.nodes:
            if node.port == port:
                return node
        raise KeyError(port)

    def owner_of_key(self, key):
        return self.owner(self.slot(key))

    # -- resharding ---------------------------------------------------------------
    def begin_migration(self, slot, source, target):
        """Slot in IMPORTING state on ``target``, MIGRATING on ``source``."""
        target.call("CLUSTER", "SETSLOT", slot, "IMPORTING", source.id)
        source.call("CLUSTER", "SETSLOT", slot, "MIGRATING", target.id)

    def migrate_keys(self, slot, source, target):
        """Move every key of ``slot`` from ``source`` to ``target`` (MIGRATE)."""
        while True:
            keys = source.call("CLUSTER", "GETKEYSINSLOT", slot, 100)
            if not keys:
                return
            source.call("MIGRATE", target.host, target.port, "", 0, 5000, "KEYS", *keys)

    def finish_migration(self, slot, target):
        """Assign ``slot`` to ``target`` on every primary, then wait until all nodes agree."""
        target.call("CLUSTER", "SETSLOT", slot, "NODE", target.id)
        for node in self.primaries():
            if node is not target:
                node.call("CLUSTER", "SETSLOT", slot, "NODE", target.id)
        self.wait_owner(slot, target)

    def move_slot(self, slot, source, target):
        """A whole resharding of one slot, keys included."""
        self.begin_migration(slot, source, target)
        self.migrate_keys(slot, source, target)
        self.finish_migration(slot, target)

    def wait_owner(self, slot, target, timeout=20.0):
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            while self.owner(slot, node) is not target:
                if time.monotonic() > deadline:
                    raise RuntimeError("slot %d not owned by %r on %r" % (slot, target, node))
                time.sleep(0.02)

    def flushall(self):
        """Empty every primary, and wait until its replica is empty too (tests read replicas)."""
        for node in self.primaries():
            node.call("FLUSHALL")
        for node in self.primaries():
            node.call("WAIT", 1, 2000)

    def stop(self):
        for node in self.nodes:
            node.server.stop()
        self.nodes = []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def ipv6_loopback_works():
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


def single_node_cluster():
    """One cluster-enabled node serving every slot, with no replica, listening
    on 127.0.0.1 (and ::1 where the machine has IPv6).  It never met another
    node, so CLUSTER SLOTS gives its address as "" (meaning: the host you
    asked)."""
    server = RedisServer(unix=False)
    server.extra = [
        "--cluster-enabled", "yes",
        "--cluster-config-file", os.path.join(server.dir, "nodes.conf"),
        "--bind", "127.0.0.1", *(["::1"] if ipv6_loopback_works() else []),
    ]
    server.start()
    try:
        node = Node(server)
        node.call("CLUSTER", "ADDSLOTS", *range(16384))  # ADDSLOTSRANGE needs Redis 7
        wait_state(node, b"ok")
    except BaseException:
        server.stop()
        raise
    return node


def wait_state(node, state, timeout=30.0):
    """Until ``node``'s CLUSTER INFO says ``cluster_state:<state>``."""
    deadline = time.monotonic() + timeout
    while b"cluster_state:" + state not in node.call("CLUSTER", "INFO"):
        if time.monotonic() > deadline:
            raise RuntimeError("cluster state of %r is not %s" % (node, state.decode()))
        time.sleep(0.01)


@contextlib.contextmanager
def unassigned(node, slot):
    """``slot`` unassigned on a one-node cluster, so that the node answers
    CLUSTERDOWN (full coverage is required); assigned again afterwards."""
    node.call("CLUSTER", "DELSLOTS", slot)
    try:
        wait_state(node, b"fail")
        yield
    finally:
        with contextlib.suppress(RespError):  # already given back by the test
            node.call("CLUSTER", "ADDSLOTS", slot)
        wait_state(node, b"ok")


@contextlib.contextmanager
def hung(node):
    """The node's process stopped (SIGSTOP): its kernel still accepts
    connections, but nothing is ever answered.  Continued afterwards."""
    pid = node.server.proc.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        yield node
    finally:
        os.kill(pid, signal.SIGCONT)


def promoted(replica):
    """True once ``replica`` sees itself as a primary (after a failover)."""
    for line in replica.call("CLUSTER", "NODES").decode().splitlines():
        flags = line.split()[2].split(",")
        if "myself" in flags:
            return "master" in flags
    return False


# -- pytest fixtures shared by test_cluster.py and test_async_cluster.py ---------------
class Shared:
    """One server set per process, however many test modules use it.

    pytest gives a fixture imported into two modules one instance per module,
    so each module's session fixture ``acquire()`` s this and ``release()`` s
    it: the first starts the servers, the last one done stops them.
    """

    def __init__(self, start, stop):
        self._start = start
        self._stop = stop
        self._value = None
        self._users = 0

    def acquire(self):
        if self._users == 0:
            try:
                self._value = self._start()
            except RuntimeError as exc:  # a missing binary fails the run, never skips it
                pytest.fail(str(exc), pytrace=False)
        self._users += 1
        return self._value

    def release(self):
        self._users -= 1
        if self._users == 0:
            value, self._value = self._value, None
            self._stop(value)


def _start_cluster():
    cluster = Cluster().start()
    try:
        for node in cluster.nodes:
            node.call("ACL", "SETUSER", "full", "on", ">pw", "~*", "&*", "+@all")
            node.call("ACL", "SETUSER", "nocluster", "on", ">pw", "~*", "&*", "+@all",
                      "-cluster")
    except BaseException:
        cluster.stop()
        raise
    return cluster


_CLUSTER = Shared(_start_cluster, Cluster.stop)
_LONE_NODE = Shared(single_node_cluster, lambda node: node.server.stop())


@pytest.fixture(scope="session")
def cluster_servers():
    """The six-node cluster, with two ACL users on every node: ``full`` (all
    commands) and ``nocluster`` (all but CLUSTER), both with password ``pw``."""
    yield _CLUSTER.acquire()
    _CLUSTER.release()


@pytest.fixture(scope="session")
def lone_node():
    """A one-node cluster without replicas, on 127.0.0.1 (and ::1)."""
    yield _LONE_NODE.acquire()
    _LONE_NODE.release()


@pytest.fixture
def lone_node_v6(lone_node):
    """The one-node cluster, for tests that reach it on ::1."""
    if not ipv6_loopback_works():
        pytest.skip("no IPv6 loopback on this machine")
    return lone_node


@pytest.fixture
def failover_cluster():
    """A six-node cluster of its own whose replicas take over a failed
    primary (node timeout 1 s), for tests that kill a node."""
    try:
        cluster = Cluster(failover=True, node_timeout_ms=1000).start()
    except RuntimeError as exc:  # a missing binary fails the run, never skips it
        pytest.fail(str(exc), pytrace=False)
    yield cluster
    cluster.stop()


@pytest.fixture
def cluster(cluster_servers):
    """The cluster with empty primaries (and replicas in sync)."""
    cluster_servers.flushall()
    return cluster_servers


@pytest.fixture
def seeds(cluster):
    return [cluster.nodes[0].addr, cluster.nodes[1].addr]


def restore_slot(cluster, slot, home):
    """Put ``slot`` back on ``home`` whatever state a test left it in
    (its keys are test data: they are dropped)."""
    for node in cluster.primaries():
        node.call("CLUSTER", "SETSLOT", slot, "STABLE")
    cluster.flushall()
    owner = cluster.owner(slot)
    if owner is not home:
        cluster.move_slot(slot, owner, home)
    cluster.wait_owner(slot, home)


def other_primary(cluster, node):
    return next(p for p in cluster.primaries() if p is not node)


def dead_address():
    return ("127.0.0.1", free_port())


def error_count(node, prefix):
    """How many ``prefix`` error replies (``CLUSTERDOWN``...) ``node`` sent since
    its last CONFIG RESETSTAT."""
    for line in node.call("INFO", "errorstats").decode().splitlines():
        if line.startswith("errorstat_%s:" % prefix):
            return int(line.split("count=")[1].split(",")[0])
    return 0


def record_fetches(monkeypatch, module, connection_class):
    """Make the map module ``module`` (``pyredis.helper`` ...) open its
    connections through a subclass of ``connection_class`` that notes each
    node it is made for; returns that list of ``(host, port)``."""
    asked = []

    class Recording(connection_class):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            asked.append((self.host, self.port))

    monkeypatch.setattr(module, connection_class.__name__, Recording)
    return asked


class Load:
    """``threads`` threads calling ``command(worker, i)`` (``i`` = 1, 2, ...)
    from the start of the ``with`` block to its end; each call is logged in
    ``log`` as ``(start, end, exception or None)`` (``time.monotonic()``)."""

    def __init__(self, command, threads=4):
        import threading  # only the tests under load need threads here

        self.command = command
        self.log = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._work, args=(n,)) for n in range(threads)]

    def _work(self, worker):
        command, log, i = self.command, self.log, 0
        while not self._stop.is_set():
            i += 1
            start = time.monotonic()
            try:
                command(worker, i)
                error = None
            except Exception as exc:  # logged: the caller looks at them
                error = exc
            log.append((start, time.monotonic(), error))

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        for thread in self._threads:
            thread.join()


def kill_and_wait_for_promotion(cluster, victim, timeout=30.0):
    """SIGKILL ``victim`` (a primary) and wait until its replica has taken
    over; returns (killed_at, promoted_at) as ``time.monotonic()`` values."""
    replica = cluster.replica_of(victim)
    killed_at = time.monotonic()
    victim.server.kill()
    while not promoted(replica):
        if time.monotonic() > killed_at + timeout:
            raise RuntimeError("%r was not promoted" % replica)
        time.sleep(0.01)
    return killed_at, time.monotonic()


def check_failover(log, killed_at, promoted_at, ended_at, fetches):
    """What a failover test expects of the ``(start, end, error)`` log of
    commands run while a primary was killed (``killed_at``), its replica
    promoted (``promoted_at``) and a while after (``ended_at``), and of the
    ``CLUSTER SLOTS`` fetches the survivors answered meanwhile."""
    failed = [(start, error) for start, _, error in log if error is not None]
    assert failed  # the dead primary's slots could not be served for a while
    # No command started after the promotion was seen failed (upstream: CLUSTERDOWN
    # raised at once, and refreshes that lagged behind).
    assert [error for start, error in failed if start > promoted_at] == []
    assert any(start > promoted_at for start, _, _ in log)
    # Refreshes after failures are paced (upstream: one per failed command).
    assert fetches <= 10 + 8 * (ended_at - killed_at)


def command_calls(node, command):
    """How often ``node`` ran ``command`` since its last CONFIG RESETSTAT."""
    for line in node.call("INFO", "commandstats").decode().splitlines():
        if line.startswith("cmdstat_%s:" % command):
            return int(line.split("calls=")[1].split(",")[0])
    return 0
