"""Cluster availability under faults, on real six-node clusters started here.

    python bench/cluster_faults.py                        # every scenario, pyredis
    python bench/cluster_faults.py --impl redis-py        # the same with redis-py
    python bench/cluster_faults.py --scenarios hung-seed --seconds 3

hung-seed
    8 threads share a ClusterPool while one slot is resharded back and forth
    (each move answers MOVED / ASK, and a MOVED asks for a map refresh).
    Throughput is measured with every node answering, then with the first
    seed (a replica) stopped by SIGSTOP: it accepts connections and never
    answers.  Rounds alternate, each with a new pool; printed: how long its
    first command took (the first map fetch), then, under load: ops/s, the
    hung/normal ratio of the medians, the longest single command, and the
    CLUSTER SLOTS fetches answered.

kill, debug-sleep
    8 threads write through a ClusterPool whose first seed is a primary.
    That primary is killed (SIGKILL), or frozen by ``DEBUG SLEEP``, in a
    cluster of its own with failover on, and its replica takes over.
    Printed: when the replica was promoted (the cluster's own outage), the
    errors, and how long after the promotion the last one ended (the error
    window), and the CLUSTER SLOTS fetches meanwhile.

Wall-clock figures from a shared machine: compare runs made side by side.
"""
import argparse
import os
import signal
import statistics
import sys
import threading
import time
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, ROOT)

from cluster_servers import Cluster, Load, command_calls, promoted  # noqa: E402

THREADS = 8
MOVING = "{moving}"  # the hash tag of the slot that is resharded


# -- the clients under test ------------------------------------------------------------
def pyredis_pool(seeds, refresh_timeout):
    from pyredis import ClusterPool

    options = {} if refresh_timeout is None else {"refresh_timeout": refresh_timeout}
    try:
        return ClusterPool(seeds=seeds, pool_size=THREADS, pool_timeout=60, **options)
    except TypeError:  # a pyredis without that setting
        return ClusterPool(seeds=seeds, pool_size=THREADS, pool_timeout=60)


def redis_py_pool(seeds, refresh_timeout):
    from redis.cluster import ClusterNode, RedisCluster

    return RedisCluster(startup_nodes=[ClusterNode(host, port) for host, port in seeds],
                        socket_timeout=2, socket_connect_timeout=2)


IMPLS = {"pyredis": pyredis_pool, "redis-py": redis_py_pool}


# -- load ------------------------------------------------------------------------------------
def load(client, moving_share=0):
    """THREADS threads calling ``client.set`` (one call in ``moving_share``
    on a key of the resharded slot) for as long as the ``with`` block runs."""

    def command(worker, i):
        if moving_share and i % moving_share == 0:
            client.set("%s%d" % (MOVING, i % 100), i)
        else:
            client.set("k:%d:%d" % (worker, i % 1000), i)

    return Load(command, threads=THREADS)


def slots_fetches(nodes):
    return sum(command_calls(node, "cluster|slots") for node in nodes)


def reset_stats(nodes):
    for node in nodes:
        node.call("CONFIG", "RESETSTAT")


# -- hung seed -----------------------------------------------------------------------------
def move_slot(cluster, slot, source, target):
    """Reshard ``slot`` (keys included), telling the primaries only: the
    stopped replica could not answer."""
    cluster.begin_migration(slot, source, target)
    cluster.migrate_keys(slot, source, target)
    for node in [target] + [p for p in cluster.primaries() if p is not target]:
        node.call("CLUSTER", "SETSLOT", slot, "NODE", target.id)


def hung_seed(impl, seconds, rounds, refresh_timeout):
    rows = {"normal": [], "hung": []}
    with Cluster() as cluster:
        cluster.roles()
        seed = cluster.replicas()[0]
        alive = [node for node in cluster.nodes if node is not seed]
        slot = cluster.slot(MOVING)
        homes = [cluster.owner(slot)]
        homes.append(next(p for p in cluster.primaries() if p is not homes[0]))
        for _ in range(rounds):
            for state in ("normal", "hung"):
                rows[state].append(_hung_seed_round(
                    impl, cluster, seed, alive, slot, homes, seconds, refresh_timeout,
                    hung=state == "hung"))
                cluster.wait_replicas_listed()  # the stopped replica is back in CLUSTER SLOTS
    print("\nhung-seed: %s, %d threads, %d s per round, a slot resharded every 0.3 s"
          % (impl, THREADS, seconds))
    print("%-7s %10s %10s %12s %8s %14s" % ("", "first (s)", "ops/s", "longest (s)", "errors",
                                             "CLUSTER SLOTS answered"))
    for state in ("normal", "hung"):
        for first, ops, longest, errors, fetches in rows[state]:
            print("%-7s %10.2f %10.0f %12.2f %8d %14d"
                  % (state, first, ops, longest, errors, fetches))
    normal = statistics.median(row[1] for row in rows["normal"])
    hung = statistics.median(row[1] for row in rows["hung"])
    print("throughput with the first seed hung / normal (medians): %.0f %%"
          % (100.0 * hung / normal))


def _hung_seed_round(impl, cluster, seed, alive, slot, homes, seconds, refresh_timeout, hung):
    reset_stats(cluster.nodes)
    if hung:
        os.kill(seed.server.proc.pid, signal.SIGSTOP)
    client = IMPLS[impl]([seed.addr, alive[0].addr], refresh_timeout)
    moves = 0
    try:
        start = time.monotonic()
        client.set("warm", 1)  # the first map fetch
        first = time.monotonic() - start
        start = time.monotonic()
        with load(client, moving_share=10) as running:
            while time.monotonic() - start < seconds:
                time.sleep(0.3)
                move_slot(cluster, slot, homes[moves % 2], homes[(moves + 1) % 2])
                moves += 1
        elapsed = time.monotonic() - start
        done = running.log
    finally:
        if hung:
            os.kill(seed.server.proc.pid, signal.SIGCONT)
        client.close()
    if moves % 2:  # home again, so that every round starts alike
        move_slot(cluster, slot, homes[1], homes[0])
    return (first, len(done) / elapsed, max(end - begin for begin, end, _ in done),
            sum(1 for entry in done if entry[2] is not None),
            slots_fetches(alive if hung else cluster.nodes))  # those answered


# -- failover ------------------------------------------------------------------------------
def failover(impl, how, refresh_timeout):
    extra = ["--enable-debug-command", "yes"] if how == "debug-sleep" else []
    with Cluster(extra=extra, failover=True) as cluster:
        cluster.roles()
        victim = cluster.primaries()[0]
        replica = cluster.replica_of(victim)
        survivors = [node for node in cluster.nodes if node is not victim]
        client = IMPLS[impl]([victim.addr, survivors[0].addr], refresh_timeout)
        try:
            client.set("warm", 1)
            reset_stats(survivors)
            with load(client) as running:
                time.sleep(0.5)
                struck_at = time.monotonic()
                if how == "kill":
                    victim.server.kill()
                else:  # frozen for longer than the failover takes
                    threading.Thread(target=_debug_sleep, args=(victim, 10), daemon=True).start()
                while not promoted(replica):
                    time.sleep(0.01)
                promoted_at = time.monotonic()
                time.sleep(3)
            fetches = slots_fetches(survivors)
        finally:
            client.close()
        if how != "kill":
            victim.server.kill()  # do not wait for it to wake up
    log = running.log
    errors = [entry for entry in log if entry[2] is not None]
    kinds = Counter(type(entry[2]).__name__ for entry in errors)
    print("\n%s: %s, %d threads, the first seed's primary %s"
          % (how, impl, THREADS, "killed" if how == "kill" else "frozen by DEBUG SLEEP"))
    print("  replica promoted after      %6.2f s (the cluster's own outage)"
          % (promoted_at - struck_at))
    print("  commands                    %6d" % len(log))
    print("  errors                      %6d  %s"
          % (len(errors), ", ".join("%s %d" % item for item in kinds.most_common())))
    if errors:
        print("  outage: last error ends     %6.2f s after the fault"
              % (max(entry[1] for entry in errors) - struck_at))
        print("  error window after promotion %5.2f s (target <= 1 s)"
              % max(0.0, max(entry[1] for entry in errors) - promoted_at))
        print("  errors of commands started after the promotion: %d"
              % sum(1 for entry in errors if entry[0] > promoted_at))
    print("  longest command             %6.2f s"
          % max(end - begin for begin, end, _ in log))
    print("  CLUSTER SLOTS fetches       %6d" % fetches)


def _debug_sleep(node, seconds):
    try:
        node.call("DEBUG", "SLEEP", seconds)
    except Exception:  # the node may be killed before it answers
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--impl", choices=sorted(IMPLS), default="pyredis")
    parser.add_argument("--scenarios", default="hung-seed,kill,debug-sleep")
    parser.add_argument("--seconds", type=float, default=4.0, help="per hung-seed round")
    parser.add_argument("--rounds", type=int, default=2, help="hung-seed rounds per state")
    parser.add_argument("--refresh-timeout", type=float, default=None,
                        help="pyredis' refresh_timeout (default: its own default)")
    args = parser.parse_args()
    if args.impl == "pyredis":
        import pyredis

        print("pyredis %s from %s" % (pyredis.IMPLEMENTATION, os.path.dirname(pyredis.__file__)))
    for scenario in args.scenarios.split(","):
        if scenario == "hung-seed":
            hung_seed(args.impl, args.seconds, args.rounds, args.refresh_timeout)
        elif scenario in ("kill", "debug-sleep"):
            failover(args.impl, scenario, args.refresh_timeout)
        else:
            parser.error("unknown scenario %r" % scenario)


if __name__ == "__main__":
    main()
