"""A real Sentinel setup for the tests: a primary, one replica, three sentinels
(or several primary/replica pairs, one per master name, watched by the same
sentinels).

Everything listens on free loopback ports and is stopped by whoever started
it.  Sentinel's timers are shortened with ``SENTINEL DEBUG`` (Redis >= 7.0)
so that discovery and a forced failover take about a second, not tens.
Like servers.py, this speaks raw RESP and does not use the code under test.
"""
import os
import socket
import time

from servers import RedisServer, pack

NAME = "mymaster"

# SENTINEL DEBUG settings (milliseconds): INFO five times a second instead of
# every 10 s, hello messages every second instead of 2 s; a 2 s TILT at worst
# if the machine stalls.  The hello period stays well above a second on
# purpose: Sentinel turns a replica it sees claiming to be master back into a
# replica after 4 hello periods, and during a failover it polls the promoted
# replica only once a second - shorter, and a sentinel that has not heard of
# the failover yet undoes it.
DEBUG_PERIODS = ("info-period", 200, "publish-period", 1000, "ping-period", 200,
                 "tilt-period", 2000)

# Full syncs start at once (Redis 7 waits 5 s for more replicas by default);
# both servers take them, as either may be the master after a failover.
DATA_SERVER_ARGS = ["--repl-diskless-sync-delay", "0"]


# -- raw RESP ------------------------------------------------------------------
def _read_reply(f):
    line = f.readline()
    if not line:
        raise ConnectionError("connection closed")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest
    if kind == b"-":
        return RuntimeError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        if size < 0:
            return None
        data = f.read(size + 2)
        return data[:-2]
    if kind == b"*":
        count = int(rest)
        return None if count < 0 else [_read_reply(f) for _ in range(count)]
    raise ValueError("unexpected reply line %r" % line)


def query(port, *args, timeout=2):
    """Send one command to 127.0.0.1:port; return its reply (an error reply is
    returned as a RuntimeError instance, not raised)."""
    return query_many(port, args, timeout=timeout)[0]


def query_many(port, *commands, timeout=5):
    """Send several commands on one connection (WAIT needs the writes' own
    connection); return their replies."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"".join(pack(*args) for args in commands))
        with s.makefile("rb") as f:
            return [_read_reply(f) for _ in commands]


def as_dict(items):
    it = iter(items)
    return dict(zip(it, it))


def info(port, section):
    """INFO <section> as a dict of str."""
    text = query(port, "INFO", section).decode()
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def wait_for(check, what, timeout=20.0):
    """Poll ``check()`` until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except (OSError, ValueError, TypeError, KeyError, IndexError):
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise RuntimeError("timed out waiting for " + what)
        time.sleep(0.05)


# -- processes -------------------------------------------------------------------
class SentinelServer(RedisServer):
    """One ``redis-server --sentinel`` process monitoring ``master_port`` as
    ``name`` (or nothing), or every ``(name, port)`` of ``monitors``;
    ``password`` is the sentinel's own requirepass."""

    def __init__(self, master_port=None, quorum=2, name=NAME, password=None, monitors=None):
        super().__init__(unix=False, password=password)
        self.master_port = master_port
        self.quorum = quorum
        self.name = name
        if monitors is None:
            monitors = [] if master_port is None else [(name, master_port)]
        self.monitors = list(monitors)
        self.conf = os.path.join(self.dir, "sentinel.conf")

    def _argv(self):
        lines = []
        for name, master_port in self.monitors:
            lines += [
                "sentinel monitor %s 127.0.0.1 %d %d" % (name, master_port, self.quorum),
                "sentinel down-after-milliseconds %s 1000" % name,
                "sentinel failover-timeout %s 5000" % name,
                "sentinel parallel-syncs %s 1" % name,
            ]
        # Sentinel rewrites its config file: a fresh one on every (re)start.
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        argv = super()._argv()
        return [argv[0], self.conf, "--sentinel"] + argv[1:]

    def start(self, attempts=5):
        super().start(attempts)
        self.command("SENTINEL", "DEBUG", *DEBUG_PERIODS)
        return self


class SentinelTopology:
    """Per master name (``names``, default ``mymaster`` alone) a primary and one
    replica, and ``count`` sentinels watching them all.

    ``servers`` are all the data servers, ``groups[name]`` the two of a name;
    which one is the master changes with ``failover()``, so ask ``master()`` /
    ``replica()`` (of ``name``).
    """

    name = NAME

    def __init__(self, count=3, names=(NAME,)):
        self.count = count
        self.names = tuple(names)
        self.groups = {}
        self.servers = []
        self.sentinels = []

    def start(self):
        try:
            monitors = []
            for name in self.names:
                primary = RedisServer(unix=False, extra=DATA_SERVER_ARGS).start()
                self.servers.append(primary)
                replica = RedisServer(unix=False, extra=DATA_SERVER_ARGS + [
                    "--replicaof", "127.0.0.1", str(primary.port)]).start()
                self.servers.append(replica)
                self.groups[name] = [primary, replica]
                monitors.append((name, primary.port))
            for name in self.names:
                replica = self.groups[name][1]
                wait_for(lambda: info(replica.port, "replication").get(
                    "master_link_status") == "up", "the replica to sync")
            for _ in range(self.count):
                self.sentinels.append(SentinelServer(monitors=monitors).start())
            self.wait_settled()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        for server in self.sentinels + self.servers:
            server.stop()
        self.sentinels = []
        self.servers = []
        self.groups = {}

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- views -------------------------------------------------------------
    @property
    def addresses(self):
        """The sentinels as ``[(host, port)]``."""
        return [(s.host, s.port) for s in self.sentinels]

    def master_port(self, sentinel=None, name=NAME):
        sentinel = sentinel or self.sentinels[0]
        return int(query(sentinel.port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)[1])

    def master(self, name=NAME):
        port = self.master_port(name=name)
        return next(s for s in self.groups[name] if s.port == port)

    def replica(self, name=NAME):
        port = self.master_port(name=name)
        return next(s for s in self.groups[name] if s.port != port)

    def wait_settled(self, timeout=20.0):
        """Until, for every name, every sentinel agrees on the master, sees the
        other sentinels and the replica up, and the replica's link to the master
        is up."""
        def settled():
            return all(settled_name(name) for name in self.names)

        def settled_name(name):
            servers = self.groups[name]
            ports = set()
            for sentinel in self.sentinels:
                master = as_dict(query(sentinel.port, "SENTINEL", "MASTER", name))
                if b"failover_in_progress" in master[b"flags"].split(b","):
                    return False
                if int(master[b"num-other-sentinels"]) != self.count - 1:
                    return False
                replicas = [as_dict(r) for r in query(sentinel.port, "SENTINEL", "REPLICAS",
                                                      name)]
                up = [r for r in replicas if r[b"flags"] == b"slave"
                      and r[b"master-link-status"] == b"ok"]
                if len(up) != len(servers) - 1:
                    return False
                ports.add(int(master[b"port"]))
            if len(ports) != 1:
                return False
            master_port = ports.pop()
            for server in servers:
                role = info(server.port, "replication")
                if server.port == master_port:
                    if role.get("role") != "master":
                        return False
                elif role.get("role") != "slave" or role.get("master_link_status") != "up":
                    return False
            return True

        try:
            wait_for(settled, "the sentinel setup to settle", timeout)
        except RuntimeError as exc:
            raise RuntimeError("%s\n%s" % (exc, self.logs())) from None

    def logs(self):
        """The tail of every process' log, for a failure message."""
        return "\n".join("==== %s %d\n%s" % (type(s).__name__, s.port, s.log())
                         for s in self.servers + self.sentinels)

    def failover(self, timeout=20.0, name=NAME):
        """Force a failover of ``name`` and wait until the old master serves as
        a replica; return ``(old master, new master)``."""
        old = self.master(name)

        def started():
            reply = query(self.sentinels[0].port, "SENTINEL", "FAILOVER", name)
            return not isinstance(reply, Exception)  # NOGOODSLAVE / INPROG: again

        wait_for(started, "SENTINEL FAILOVER to be accepted", timeout)
        wait_for(lambda: all(self.master_port(s, name) != old.port for s in self.sentinels),
                 "every sentinel to switch master", timeout)
        self.wait_settled(timeout)
        return old, self.master(name)


__all__ = ["NAME", "SentinelServer", "SentinelTopology", "query", "query_many", "info",
           "wait_for"]
