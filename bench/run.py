"""End-to-end benchmark: pyredis (compiled and pure) vs redis-py vs redis-benchmark.

Starts its own redis-server on a free loopback port, says what it will
compare, measures every implementation against that server in one run
(reporting progress per scenario on stderr), and prints one table with ratios,
the spread across rounds, and one line per performance target of pyredis.

    python bench/run.py              # full run (about a minute on 2 idle cores)
    python bench/run.py --quick      # smaller counts, one round
    python bench/run.py --json out.json --scenarios get,bulk
    python bench/run.py --plot bench.png   # also a bar chart (needs matplotlib)

Each Python implementation runs in its own worker subprocess (this same file,
``--worker IMPL``): pyredis picks its compiled or pure twins once, at import,
from ``PYREDIS_NO_EXTENSIONS``, so the two flavours cannot share a process;
and a fresh process per implementation keeps one library's imports and threads
from taxing another's figures.  Rounds are interleaved (every implementation
runs once per round, in rotating order); ops per second is the best of the
rounds, so a burst of noise from a neighbour hurts one sample, not one row,
and CPU per op is pooled over the rounds (see ``summarise``).

Client CPU is ``getrusage(RUSAGE_SELF)`` of the worker (all its threads),
divided by the operations; redis-benchmark's is ``RUSAGE_CHILDREN`` around its
run (so it includes its start-up, a small bias against it).

Micro-benchmarks (parser rows, writer, pool pair under a profiler-free loop)
live in the pytest-benchmark suites: ``python -m pytest bench/ --benchmark-only``.
"""
import argparse
import fnmatch
import json
import os
import platform
import resource
import select
import shutil
import subprocess
import sys
import threading
import time
from itertools import repeat

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HOST = "127.0.0.1"
# Same shape as redis-benchmark's default GET/SET: a short key, a 3-byte value.
KEY = "bench:key"
VALUE = b"xxx"
BATCH = 1000          # bulk mode / pipeline size
THREADS = 8           # threads sharing one pool of THREADS connections
TASKS = 50            # asyncio tasks sharing one async pool of THREADS connections
WORKER_TIMEOUT = 300  # seconds one request to a worker may take before it is killed

IMPLS = ("pyredis-c", "pyredis-py", "redis-py")
IMPL_LABELS = {
    "pyredis-c": "pyredis compiled",
    "pyredis-py": "pyredis pure",
    "redis-py": "redis-py",
    "redis-benchmark": "redis-benchmark (C)",
}

# scenario id -> (table title, implementations compared, redis-benchmark argv or None)
SCENARIOS = {
    "get": ("GET, 1 thread, Pool", IMPLS, ["-c", "1", "-t", "get", "-P", "1"]),
    "set": ("SET, 1 thread, Pool", IMPLS, ["-c", "1", "-t", "set", "-P", "1"]),
    "bulk": ("SET, bulk/pipeline of %d" % BATCH, IMPLS,
             ["-c", "1", "-t", "set", "-P", str(BATCH)]),
    "threads": ("GET, %d threads, pool of %d" % (THREADS, THREADS), IMPLS,
                ["-c", str(THREADS), "-t", "get", "-P", "1"]),
    "pair": ("pool acquire+release pair", IMPLS, None),
}

# asyncio scenarios: id -> (tasks, event loop, value size for a mixed GET/SET
# load or None for GET of VALUE).  Python clients use a pool of THREADS
# connections (redis.asyncio: BlockingConnectionPool of THREADS); the C
# reference is ``redis-benchmark -c <tasks>`` without pipelining.
ASYNC = {
    "async": (TASKS, "asyncio", None),
    "async-uvloop": (TASKS, "uvloop", None),
    "async-1": (1, "asyncio", None),
    "async-10": (10, "asyncio", None),
    "async-500": (500, "asyncio", None),
    "async-mixed-100": (TASKS, "asyncio", 100),
    "async-mixed-10k": (TASKS, "asyncio", 10 * 1024),
}


def _async_title(tasks, loop, size):
    what = "GET" if size is None else "GET/SET of %s values" % (
        "%d B" % size if size < 1024 else "%d KiB" % (size // 1024))
    return "%s, %d %s task%s, pool of %d" % (what, tasks, loop, "" if tasks == 1 else "s",
                                             THREADS)


for _sid, (_tasks, _loop, _size) in ASYNC.items():
    SCENARIOS[_sid] = (_async_title(_tasks, _loop, _size), IMPLS,
                       ["-c", str(_tasks), "-P", "1"]
                       + (["-t", "get"] if _size is None else ["-t", "set,get", "-d", str(_size)]))

# pyredis' performance targets.  The 8-thread one is "twice the pure-Python
# pyredis this project started from", which is not installable here: on these
# machines it did about 21k ops/s where redis-py did 9k, hence 2 x 21/9 = 4.7x
# redis-py.
USER_US_TARGET = 5.0
WALL_VS_C_TARGET = 0.90
BULK_US_TARGET = 1.0
THREADS_VS_REDISPY_TARGET = 2 * 21.0 / 9.0
# asyncio, 50 tasks: against redis.asyncio in the same run, ops/s and CPU
# (user + system) per command; against redis-benchmark -c 50 (C, no
# pipelining), ops/s; compiled against the pure twins, ops/s.
ASYNC_VS_REDISPY_TARGET = 4.0
ASYNC_VS_C_TARGET = 1.0
ASYNC_VS_PURE_TARGET = 1.5
# Compiled pair <= 110 ns (a straightforward pure-Python pool is ~500 ns; our
# pure twin is faster than that, so a ratio to it is reported, not targeted).
PAIR_NS_TARGET = 110.0
# A pair costs ~100 ns: many more of them per sample than commands, so that a
# sample lasts tens of milliseconds and the CPU clock's granularity is noise.
PAIR_OPS_FACTOR = 20
# A load average (1 minute) above this share of the CPUs before the run: other
# processes compete for the CPU and the figures are noisy and low.
BUSY_LOAD_PER_CPU = 0.5
# A figure whose rounds spread more than this is mostly noise.
NOISY_SPREAD = 0.20
# What each implementation is, in plain words (the plan and the chart say it).
IMPL_ROLES = {
    "pyredis-c": "this package, compiled twins",
    "pyredis-py": "this package, pure-Python twins (what a pip install without a compiler gets)",
    "redis-py": "the most used Python client, for reference",
    "redis-benchmark": "Redis' own C load generator: what a C client reaches on the same connections",
}


# ---------------------------------------------------------------------------
# worker side: one implementation, driven by JSON lines on stdin
# ---------------------------------------------------------------------------

class PyredisImpl:
    """Adapter over the pyredis API (its clients and pools)."""

    def __init__(self, compiled):
        import pyredis

        self.mod = pyredis
        active = bool(getattr(pyredis, "COMPILED", False))
        if active != compiled:
            raise RuntimeError(
                "pyredis.COMPILED is %s in the %s worker (extensions %s)"
                % (active, "compiled" if compiled else "pure",
                   "not built in place? run tools/bootstrap.sh" if compiled else "not disabled")
            )
        for name in ("Pool", "Client"):
            if not hasattr(pyredis, name):
                raise RuntimeError("pyredis has no %s yet" % name)

    def info(self):
        return {
            "version": "%s, %s twins" % (self.mod.__version__, self.mod.IMPLEMENTATION),
            "compiled": bool(self.mod.COMPILED),
            "file": getattr(self.mod, "__file__", "?"),
            "note": "",
        }

    def pool(self, port, size=None):
        if size is None:
            return self.mod.Pool(host=HOST, port=port)
        return self.mod.Pool(host=HOST, port=port, pool_size=size)

    def close_pool(self, pool):
        pool.close()

    def pair(self, port):
        pool = self.pool(port, 4)
        return pool.acquire, pool.release, lambda: self.close_pool(pool)

    def async_pool(self, port, size):
        """(its GET, its SET, a coroutine function closing it); tasks wait for a client."""
        pool = self.mod.AsyncPool(host=HOST, port=port, pool_size=size, pool_timeout=WORKER_TIMEOUT)
        return pool.get, pool.set, pool.close

    def bulk(self, port):
        client = self.mod.Client(host=HOST, port=port)
        set_, start, stop = client.set, client.bulk_start, client.bulk_stop

        def batch():
            start(bulk_size=BATCH, keep_results=True)
            for _ in repeat(None, BATCH):
                set_(KEY, VALUE)
            return stop()

        return batch, client.close


class RedisPyImpl:
    """redis-py: redis.Redis over its ConnectionPool, pipeline for bulk."""

    def __init__(self):
        import redis

        self.redis = redis

    def info(self):
        try:
            from redis.utils import HIREDIS_AVAILABLE
        except ImportError:
            HIREDIS_AVAILABLE = False
        return {
            "version": self.redis.__version__,
            "compiled": None,
            "file": self.redis.__file__,
            "note": "hiredis parser" if HIREDIS_AVAILABLE else "pure-Python parser",
        }

    def pool(self, port, size=None):
        kwargs = {} if size is None else {"max_connections": size}
        cpool = self.redis.ConnectionPool(host=HOST, port=port, **kwargs)
        return self.redis.Redis(connection_pool=cpool)

    def close_pool(self, client):
        client.connection_pool.disconnect()

    def async_pool(self, port, size):
        from redis import asyncio as aioredis

        cpool = aioredis.BlockingConnectionPool(host=HOST, port=port, max_connections=size,
                                                timeout=WORKER_TIMEOUT)
        client = aioredis.Redis(connection_pool=cpool)
        return client.get, client.set, cpool.disconnect

    def pair(self, port):
        cpool = self.redis.ConnectionPool(host=HOST, port=port, max_connections=4)
        try:
            cpool.release(cpool.get_connection())
            acquire = cpool.get_connection
        except TypeError:  # redis-py < 5.1 wants a command name
            def acquire():
                return cpool.get_connection("GET")
        return acquire, cpool.release, cpool.disconnect

    def bulk(self, port):
        client = self.redis.Redis(host=HOST, port=port)

        def batch():
            pipe = client.pipeline(transaction=False)
            set_ = pipe.set
            for _ in repeat(None, BATCH):
                set_(KEY, VALUE)
            return pipe.execute()

        return batch, client.close


def _make_impl(name):
    if name == "pyredis-c":
        return PyredisImpl(compiled=True)
    if name == "pyredis-py":
        return PyredisImpl(compiled=False)
    if name == "redis-py":
        return RedisPyImpl()
    raise ValueError("unknown implementation %r" % name)


def _timed(body, ops):
    """Run body() once; return its cost per operation."""
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    body()
    t1 = time.perf_counter()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "ops": ops,
        "wall_s": t1 - t0,
        "user_s": r1.ru_utime - r0.ru_utime,
        "sys_s": r1.ru_stime - r0.ru_stime,
    }


def _check(got, want, what):
    if got != want:
        raise AssertionError("%s returned %r, expected %r" % (what, got, want))


def run_one_thread(impl, port, ops, command):
    client = impl.pool(port)
    try:
        client.set(KEY, VALUE)
        call = client.get if command == "get" else client.set
        args = (KEY,) if command == "get" else (KEY, VALUE)
        if command == "get":
            _check(call(*args), VALUE, "GET")

        def loop(n):
            for _ in repeat(None, n):
                call(*args)

        loop(max(200, ops // 10))  # warm-up: connection made, caches hot
        return _timed(lambda: loop(ops), ops)
    finally:
        impl.close_pool(client)


def run_bulk(impl, port, ops):
    batch, close = impl.bulk(port)
    try:
        replies = batch()  # warm-up, and proof that bulk mode returns one reply per command
        _check(len(replies), BATCH, "bulk batch reply count")
        batches = max(1, ops // BATCH)

        def loop():
            for _ in repeat(None, batches):
                batch()

        return _timed(loop, batches * BATCH)
    finally:
        close()


def run_threads(impl, port, ops):
    shared = impl.pool(port, THREADS)
    errors = []
    try:
        shared.set(KEY, VALUE)

        def one_pass(per_thread):
            gate = threading.Barrier(THREADS + 1)

            def worker():
                get = shared.get
                try:
                    gate.wait()
                    for _ in repeat(None, per_thread):
                        get(KEY)
                except BaseException as exc:  # reported by the main thread
                    errors.append(exc)

            threads = [threading.Thread(target=worker) for _ in range(THREADS)]
            for t in threads:
                t.start()

            def body():
                gate.wait()
                for t in threads:
                    t.join()

            return body

        one_pass(max(20, ops // THREADS // 10))()  # warm-up: all connections made
        per_thread = max(1, ops // THREADS)
        result = _timed(one_pass(per_thread), per_thread * THREADS)
        if errors:
            raise errors[0]
        return result
    finally:
        impl.close_pool(shared)


def run_async(impl, port, ops, tasks, loop_kind, size):
    """``tasks`` asyncio tasks through one async pool of THREADS connections:
    GET of VALUE, or (``size``) a 50/50 mix of SET and GET of ``size``-byte
    values, each task on keys of its own."""
    import asyncio

    value = VALUE if size is None else b"v" * size
    setter = impl.pool(port)
    setter.set(KEY, VALUE)
    impl.close_pool(setter)

    async def main():
        get, set_, close = impl.async_pool(port, THREADS)
        try:
            if size is None:
                async def task(n, key):
                    for _ in repeat(None, n):
                        await get(KEY)
            else:
                async def task(n, key):
                    for _ in repeat(None, n // 2):
                        await set_(key, value)
                        await get(key)

            async def one_pass(per_task):
                await asyncio.gather(*[task(per_task, "bench:%d" % i) for i in range(tasks)])

            await one_pass(max(2, ops // tasks // 10))  # warm-up: all connections made
            _check(await get(KEY), VALUE, "async GET")
            if size is not None:
                _check(await get("bench:0"), value, "async GET of a SET value")
            per_task = max(2, ops // tasks)
            r0 = resource.getrusage(resource.RUSAGE_SELF)
            t0 = time.perf_counter()
            await one_pass(per_task)
            t1 = time.perf_counter()
            r1 = resource.getrusage(resource.RUSAGE_SELF)
            done = per_task * tasks if size is None else per_task // 2 * 2 * tasks
            return {"ops": done, "wall_s": t1 - t0,
                    "user_s": r1.ru_utime - r0.ru_utime, "sys_s": r1.ru_stime - r0.ru_stime}
        finally:
            await close()

    if loop_kind == "uvloop":
        import uvloop

        loop = uvloop.new_event_loop()
        try:
            return loop.run_until_complete(main())
        finally:
            loop.close()
    return asyncio.run(main())


def run_pair(impl, port, ops):
    acquire, release, close = impl.pair(port)
    try:
        def loop(n):
            for _ in repeat(None, n):
                release(acquire())

        loop(max(200, ops // 10))
        return _timed(lambda: loop(ops), ops)
    finally:
        close()


RUNNERS = {
    "get": lambda impl, port, ops: run_one_thread(impl, port, ops, "get"),
    "set": lambda impl, port, ops: run_one_thread(impl, port, ops, "set"),
    "bulk": run_bulk,
    "threads": run_threads,
    "pair": run_pair,
}
for _sid, _spec in ASYNC.items():
    RUNNERS[_sid] = (lambda spec: lambda impl, port, ops: run_async(impl, port, ops, *spec))(_spec)
# Loops over operations iterate itertools.repeat (as timeit does), not range:
# range makes an int object per step, ~10 ns that would be charged to every
# implementation's per-operation figure.


def worker_main(name, use_tree):
    # The JSON channel is a private copy of stdout; stray prints go to stderr.
    channel = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    if use_tree:
        sys.path.insert(0, ROOT)

    def answer(obj):
        channel.write(json.dumps(obj) + "\n")
        channel.flush()

    try:
        impl = _make_impl(name)
        answer({"ok": True, "info": impl.info()})
    except Exception as exc:
        answer({"ok": False, "error": "%s: %s" % (type(exc).__name__, exc)})
        return
    for line in sys.stdin:
        req = json.loads(line)
        try:
            answer({"ok": True, "result": RUNNERS[req["scenario"]](impl, req["port"], req["ops"])})
        except Exception as exc:
            answer({"ok": False, "error": "%s: %s" % (type(exc).__name__, exc)})


# ---------------------------------------------------------------------------
# orchestrator side
# ---------------------------------------------------------------------------

class Worker:
    """A worker subprocess for one implementation."""

    def __init__(self, name, use_tree):
        env = dict(os.environ)
        env.pop("PYREDIS_NO_EXTENSIONS", None)
        if name == "pyredis-py":
            env["PYREDIS_NO_EXTENSIONS"] = "1"
        argv = [sys.executable, os.path.abspath(__file__), "--worker", name]
        if not use_tree:
            argv.append("--installed")
        self.name = name
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
            universal_newlines=True, bufsize=1,
        )
        hello = self._read()
        self.info = hello.get("info")
        self.error = None if hello["ok"] else hello["error"]

    def _read(self):
        ready, _, _ = select.select([self.proc.stdout], [], [], WORKER_TIMEOUT)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.close()
            return {"ok": False, "error": "worker died or timed out"}
        return json.loads(line)

    def run(self, scenario, port, ops):
        if self.proc.poll() is not None:
            return {"ok": False, "error": self.error or "worker exited"}
        self.proc.stdin.write(json.dumps({"scenario": scenario, "port": port, "ops": ops}) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def redis_benchmark(port, ops, args):
    """One redis-benchmark run: its ops/s (from --csv) and its CPU per op."""
    exe = os.environ.get("PYREDIS_BENCH_REDIS_BENCHMARK", "redis-benchmark")
    argv = [exe, "-h", HOST, "-p", str(port), "-n", str(ops), "--csv"] + args
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=WORKER_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"ok": False, "error": str(exc)}
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    rates = []
    for line in proc.stdout.splitlines():
        cells = [c.strip('"') for c in line.split(",")]
        if len(cells) > 1 and cells[0] in ("GET", "SET"):
            rates.append(float(cells[1]))
    if proc.returncode != 0 or not rates or not all(rates):
        return {"ok": False, "error": "redis-benchmark failed: %s" % (proc.stderr.strip()[-200:],)}
    # -t set,get runs ops of each, one test after the other.
    return {"ok": True, "result": {
        "ops": ops * len(rates), "wall_s": sum(ops / rps for rps in rates),
        "user_s": r1.ru_utime - r0.ru_utime, "sys_s": r1.ru_stime - r0.ru_stime,
    }}


def summarise(samples):
    """CPU per op pooled over the rounds; ops per second the best round's;
    the spread of each across the rounds.

    CPU is not a best-of: the kernel splits a process's CPU time into user
    and system by sampling at each timer tick (CONFIG_TICK_CPU_ACCOUNTING,
    250 Hz here), so the user share of one sample is a count of a few dozen
    ticks, and the least of three such counts is biased low.  Pooling the
    rounds counts more ticks and has no such bias.
    """
    ok = [s for s in samples if s["ok"]]
    if not ok:
        return {"error": samples[-1]["error"] if samples else "not run"}
    per = [s["result"] for s in ok]
    ops = sum(r["ops"] for r in per)
    return {
        "user_us": sum(r["user_s"] for r in per) / ops * 1e6,
        "sys_us": sum(r["sys_s"] for r in per) / ops * 1e6,
        "ops_s": max(r["ops"] / r["wall_s"] for r in per if r["wall_s"] > 0),
        "user_spread": spread([r["user_s"] / r["ops"] for r in per]),
        "wall_spread": spread([r["wall_s"] / r["ops"] for r in per]),
        "rounds": per,
    }


def spread(costs):
    """How much more the costliest round cost than the cheapest, as a fraction
    of the cheapest (0.25: the slowest round took 25 % longer per op); None
    with fewer than two rounds (or a round too short for the clock)."""
    if len(costs) < 2 or min(costs) <= 0:
        return None
    return (max(costs) - min(costs)) / min(costs)


def _ratio(num, den):
    return num / den if num and den else None


def build_rows(results, scenario_ids):
    rows = []
    for sid in scenario_ids:
        title = SCENARIOS[sid][0]
        by_impl = results[sid]
        ref = by_impl.get("redis-py", {})
        pure = by_impl.get("pyredis-py", {})
        for impl, res in by_impl.items():
            row = {"scenario": sid, "title": title, "impl": impl}
            row.update({k: v for k, v in res.items() if k != "rounds"})
            if "error" not in res:
                row["vs_redis_py"] = (_ratio(ref.get("user_us"), res["user_us"]),
                                      _ratio(res["ops_s"], ref.get("ops_s")))
                row["vs_pure"] = (_ratio(pure.get("user_us"), res["user_us"]),
                                  _ratio(res["ops_s"], pure.get("ops_s")))
            rows.append(row)
    return rows


def check_targets(results):
    """[(what is compared, in plain words, with the figure and the target;
    passed, or None when not measurable)], all about pyredis compiled."""
    out = []

    def get(sid, impl, key):
        return results.get(sid, {}).get(impl, {}).get(key)

    for sid in ("get", "set"):
        if sid not in results:
            continue
        name = sid.upper()
        us = get(sid, "pyredis-c", "user_us")
        out.append(("%s through a Pool, 1 thread: client CPU (user) per command is %s us;"
                    " target: at most %g us" % (name, _fmt(us), USER_US_TARGET),
                    None if us is None else us <= USER_US_TARGET))
        share = _ratio(get(sid, "pyredis-c", "ops_s"), get(sid, "redis-benchmark", "ops_s"))
        out.append(("%s through a Pool, 1 thread: commands per second are %s of what"
                    " redis-benchmark (C) does on one connection; target: at least %d%%"
                    % (name, "n/a" if share is None else "%.0f%%" % (share * 100),
                       WALL_VS_C_TARGET * 100),
                    None if share is None else share >= WALL_VS_C_TARGET))
    if "bulk" in results:
        us = get("bulk", "pyredis-c", "user_us")
        out.append(("bulk mode, %d SETs per batch: client CPU (user) per command is %s us;"
                    " target: at most %g us" % (BATCH, _fmt(us), BULK_US_TARGET),
                    None if us is None else us <= BULK_US_TARGET))
    if "threads" in results:
        x = _ratio(get("threads", "pyredis-c", "ops_s"), get("threads", "redis-py", "ops_s"))
        out.append(("GET from %d threads sharing a pool: %s the commands per second of"
                    " redis-py; target: at least %.1fx (twice the pure-Python pyredis this"
                    " project started from)"
                    % (THREADS, "n/a" if x is None else "%.1fx" % x, THREADS_VS_REDISPY_TARGET),
                    None if x is None else x >= THREADS_VS_REDISPY_TARGET))
    if "async" in results:
        def cpu(impl):
            user, sys_ = get("async", impl, "user_us"), get("async", impl, "sys_us")
            return None if user is None or sys_ is None else user + sys_

        title = "GET from %d asyncio tasks sharing a pool of %d" % (TASKS, THREADS)
        x = _ratio(get("async", "pyredis-c", "ops_s"), get("async", "redis-py", "ops_s"))
        out.append(("%s: %s the commands per second of redis.asyncio; target: at least %gx"
                    % (title, "n/a" if x is None else "%.1fx" % x, ASYNC_VS_REDISPY_TARGET),
                    None if x is None else x >= ASYNC_VS_REDISPY_TARGET))
        x = _ratio(cpu("redis-py"), cpu("pyredis-c"))
        out.append(("%s: client CPU (user + system) per command is 1/%s of redis.asyncio's;"
                    " target: at most 1/%g"
                    % (title, "n/a" if x is None else "%.1f" % x, ASYNC_VS_REDISPY_TARGET),
                    None if x is None else x >= ASYNC_VS_REDISPY_TARGET))
        x = _ratio(get("async", "pyredis-c", "ops_s"), get("async", "redis-benchmark", "ops_s"))
        out.append(("%s: %s the commands per second of redis-benchmark (C) with %d"
                    " connections, no pipelining; target: at least %gx"
                    % (title, "n/a" if x is None else "%.2fx" % x, TASKS, ASYNC_VS_C_TARGET),
                    None if x is None else x >= ASYNC_VS_C_TARGET))
        x = _ratio(get("async", "pyredis-c", "ops_s"), get("async", "pyredis-py", "ops_s"))
        out.append(("%s: the compiled twins do %s the commands per second of the pure ones;"
                    " target: at least %gx"
                    % (title, "n/a" if x is None else "%.2fx" % x, ASYNC_VS_PURE_TARGET),
                    None if x is None else x >= ASYNC_VS_PURE_TARGET))
    if "pair" in results:
        # A pair is pure CPU in one thread: the best round's wall time per
        # pair is its cost with the least interference from neighbours
        # (pooled CPU time also counts time the host took the vCPU away).
        ops_s = get("pair", "pyredis-c", "ops_s")
        ns = 1e9 / ops_s if ops_s else None
        out.append(("taking a connection from the pool and giving it back costs %s ns;"
                    " target: at most %g ns"
                    % ("n/a" if ns is None else "%.0f" % ns, PAIR_NS_TARGET),
                    None if ns is None else ns <= PAIR_NS_TARGET))
    return out


def _fmt(us):
    if us is None:
        return "n/a"
    if us < 1:
        return "%.3f" % us
    if us < 10:
        return "%.2f" % us
    return "%.1f" % us


def _fmt_pair(pair):
    if not pair or pair[0] is None and pair[1] is None:
        return "-"
    cpu, wall = pair
    return "%s / %s" % ("-" if cpu is None else "%.2fx" % cpu,
                        "-" if wall is None else "%.2fx" % wall)


def _fmt_spread(value):
    return "-" if value is None else "%.0f%%" % (value * 100)


def busy_warning(meta):
    """A warning line when the load average before the run says the machine
    was busy, else None."""
    load1 = meta["load_before"][0]
    if load1 <= BUSY_LOAD_PER_CPU * meta["cpus"]:
        return None
    return ("WARNING: this machine is busy (load average %.2f over the minute before the run,"
            " on %d CPUs): other processes take CPU time from the client, the server and"
            " redis-benchmark, so the figures are low and noisy. Compare ratios within one"
            " run, watch the spread column, and rerun on an idle machine."
            % (load1, meta["cpus"]))


def render_plan(meta, labels, scenario_ids, impls, quick):
    """What this run will compare, printed before it starts."""
    lines = ["pyredis end-to-end benchmark: %d scenario(s) x %d implementation(s), %d round(s)"
             " of %s operations each%s"
             % (len(scenario_ids), len(impls), meta["rounds"], "{:,}".format(meta["ops"]),
                " (--quick)" if quick else "")]
    lines.append("server:   %s (started for this run, stopped at its end)" % meta["server"])
    lines.append("machine:  Python %s on %s, %d CPUs, load average %s"
                 % (meta["python"], meta["platform"], meta["cpus"], meta["loadavg"]))
    lines.append("compared:")
    for impl in impls:
        lines.append("  %-20s %s" % (IMPL_LABELS.get(impl, impl), IMPL_ROLES.get(impl, "")))
        if labels.get(impl):
            lines.append("  %-20s   %s" % ("", labels[impl]))
    lines.append("scenarios:")
    for sid in scenario_ids:
        title, _, rb_args = SCENARIOS[sid]
        rb = (", redis-benchmark %s" % " ".join(rb_args)) if rb_args else ""
        lines.append("  %-8s %s%s" % (sid, title, rb))
    warning = busy_warning(meta)
    if warning:
        lines.append(warning)
    return "\n".join(lines)


def render(meta, rows, targets, labels):
    lines = []
    lines.append("pyredis end-to-end benchmark: %s, %d ops x %d rounds (ops/s: best round;"
                 " CPU: pooled over the rounds)" % (meta["server"], meta["ops"], meta["rounds"]))
    lines.append("Python %s on %s, %d CPUs, load average %s before the run"
                 % (meta["python"], meta["platform"], meta["cpus"], meta["loadavg"]))
    for impl, text in labels.items():
        lines.append("  %-20s %s" % (IMPL_LABELS.get(impl, impl), text))
    lines.append("")
    header = ("implementation", "user us/op", "spread", "sys us/op", "ops/s", "spread",
              "vs redis-py cpu/wall", "vs pure cpu/wall")
    table = []
    for row in rows:
        name = IMPL_LABELS.get(row["impl"], row["impl"])
        if "error" in row:
            table.append((row["title"], ("  " + name, "error: " + row["error"][:90])))
            continue
        table.append((row["title"], (
            "  " + name, _fmt(row["user_us"]), _fmt_spread(row.get("user_spread")),
            _fmt(row["sys_us"]), "{:,.0f}".format(row["ops_s"]),
            _fmt_spread(row.get("wall_spread")),
            "-" if row["impl"] == "redis-py" else _fmt_pair(row.get("vs_redis_py")),
            "-" if row["impl"] == "pyredis-py" else _fmt_pair(row.get("vs_pure")),
        )))
    sized = [cells for _, cells in table if len(cells) == len(header)] + [header]
    widths = [max(len(r[i]) for r in sized) for i in range(len(header))]

    def fmt_line(cells):
        if len(cells) != len(header):  # an error row: the message runs on
            return "  ".join([cells[0].ljust(widths[0])] + list(cells[1:]))
        return "  ".join([cells[0].ljust(widths[0])]
                         + [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:])])

    lines.append(fmt_line(header))
    lines.append("-" * len(fmt_line(header)))
    previous = None
    for title, cells in table:
        if title != previous:
            if previous is not None:
                lines.append("")
            lines.append(title)
        previous = title
        lines.append(fmt_line(cells))
    lines.append("")
    lines.append("cpu/wall: how many times less client CPU per operation, then how many times"
                 " more operations per second, than redis-py / than pyredis pure (>1x: this"
                 " row is better)")
    if meta["rounds"] > 1:
        lines.append("spread: how much longer per operation the slowest of the %d rounds took"
                     " than the fastest; over %d%% means that figure is mostly noise"
                     % (meta["rounds"], NOISY_SPREAD * 100))
    else:
        lines.append("spread: needs two rounds or more (this run had one); figures from one"
                     " round can be far off")
    noisy = []
    for row in rows:
        if (row["impl"].startswith("pyredis") and row["title"] not in noisy
                and max(row.get("wall_spread") or 0, row.get("user_spread") or 0) > NOISY_SPREAD):
            noisy.append(row["title"])
    if noisy:
        lines.append("noisy (spread over %d%%): %s" % (NOISY_SPREAD * 100, "; ".join(noisy)))
    warning = busy_warning(meta)
    if warning:
        lines.append(warning)
    lines.append("")
    lines.append("targets of pyredis compiled:")
    for description, ok in targets:
        mark = {True: "pass", False: "MISS", None: "n/a "}[ok]
        lines.append("  %s  %s" % (mark, description))
    passed = sum(1 for _, ok in targets if ok)
    missing = sum(1 for _, ok in targets if ok is None)
    verdict = "targets: %d of %d met" % (passed, len(targets))
    if missing:
        verdict += " (%d not measured)" % missing
    lines.append(verdict)
    return "\n".join(lines)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small counts, one round (about 10 s)")
    p.add_argument("-n", "--ops", type=int, help="operations per measurement (default 20000; 3000 with --quick)")
    p.add_argument("--rounds", type=int, help="interleaved rounds: best ops/s kept, CPU pooled (default 3; 1 with --quick)")
    p.add_argument("--scenarios", default=",".join(SCENARIOS),
                   help="comma-separated subset (or patterns: async*) of: %s"
                   % ", ".join(SCENARIOS))
    p.add_argument("--impls", default=",".join(IMPLS) + ",redis-benchmark",
                   help="comma-separated subset of: %s, redis-benchmark" % ", ".join(IMPLS))
    p.add_argument("--json", metavar="PATH", help="also write every figure (all rounds) as JSON")
    p.add_argument("--plot", metavar="PATH",
                   help="also draw the comparison as a PNG bar chart (needs matplotlib)")
    p.add_argument("--installed", action="store_true",
                   help="benchmark the pyredis found on sys.path, not the source tree's in-place build")
    p.add_argument("--strict", action="store_true", help="exit 3 when a target is missed")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.ops = args.ops or (3000 if args.quick else 20000)
    args.rounds = args.rounds or (1 if args.quick else 3)
    # Entries may be patterns: "async*" is every asyncio scenario.
    args.scenarios = [sid for pattern in args.scenarios.split(",") if pattern
                      for sid in (fnmatch.filter(SCENARIOS, pattern) or [pattern])]
    args.impls = [s for s in args.impls.split(",") if s]
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    unknown += [s for s in args.impls if s not in IMPLS + ("redis-benchmark",)]
    if unknown:
        p.error("unknown scenario/implementation: %s" % ", ".join(unknown))
    if args.plot and not args.worker:
        try:
            import matplotlib  # noqa: F401  (found out now, not after the run)
        except ImportError:
            p.error("--plot needs matplotlib: pip install matplotlib (or pip install .[bench])")
    return args


def _progress(text):
    print(text, file=sys.stderr, flush=True)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.worker:
        worker_main(args.worker, use_tree=not args.installed)
        return 0

    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from servers import RedisServer, server_binary

    started = time.monotonic()
    load_before = os.getloadavg()
    server = RedisServer(unix=False).start()
    workers = {}
    try:
        version = subprocess.run([server_binary(), "--version"],
                                 stdout=subprocess.PIPE, universal_newlines=True).stdout.split()
        server_name = "redis-server %s" % next((w[2:] for w in version if w.startswith("v=")), "?")
        meta = {
            "server": "%s on %s:%d" % (server_name, HOST, server.port),
            "python": platform.python_version(),
            "platform": platform.platform(terse=True),
            "cpus": os.cpu_count() or 1,
            "loadavg": "%.2f %.2f %.2f" % load_before,
            "load_before": list(load_before),
            "ops": args.ops,
            "rounds": args.rounds,
        }
        _progress("starting one worker process per Python implementation ...")
        labels = {}
        for name in IMPLS:
            if name not in args.impls:
                continue
            w = workers[name] = Worker(name, use_tree=not args.installed)
            if w.error:
                labels[name] = "UNAVAILABLE: " + w.error
            else:
                info = w.info
                labels[name] = "%s %s%s  (%s)" % (
                    "pyredis" if name.startswith("pyredis") else "redis",
                    info["version"], ", " + info["note"] if info["note"] else "", info["file"])
        if "redis-benchmark" in args.impls:
            exe = os.environ.get("PYREDIS_BENCH_REDIS_BENCHMARK", "redis-benchmark")
            labels["redis-benchmark"] = shutil.which(exe) or "%s: NOT FOUND" % exe
        _progress(render_plan(meta, labels, args.scenarios, args.impls, args.quick))
        _progress("")
        samples = {sid: {} for sid in args.scenarios}
        for rnd in range(args.rounds):
            round_started = time.monotonic()
            for sid in args.scenarios:
                scenario_started = time.monotonic()
                impls = [i for i in SCENARIOS[sid][1] if i in workers]
                shift = rnd % len(impls) if impls else 0
                for name in impls[shift:] + impls[:shift]:
                    ops = args.ops * (PAIR_OPS_FACTOR if sid == "pair" else 1)
                    sample = workers[name].run(sid, server.port, ops)
                    if not sample["ok"]:
                        _progress("  %s failed: %s" % (IMPL_LABELS[name], sample["error"]))
                    samples[sid].setdefault(name, []).append(sample)
                rb_args = SCENARIOS[sid][2]
                if rb_args and "redis-benchmark" in args.impls:
                    samples[sid].setdefault("redis-benchmark", []).append(
                        redis_benchmark(server.port, args.ops * (5 if sid == "bulk" else 1), rb_args))
                _progress("round %d/%d  %-34s %5.1f s" % (
                    rnd + 1, args.rounds, SCENARIOS[sid][0], time.monotonic() - scenario_started))
            took = time.monotonic() - round_started
            left = args.rounds - rnd - 1
            _progress("round %d/%d done in %.0f s%s" % (
                rnd + 1, args.rounds, took, "; about %.0f s to go" % (took * left) if left else ""))
    finally:
        for w in workers.values():
            w.close()
        server.stop()

    results = {sid: {impl: summarise(s) for impl, s in per.items()} for sid, per in samples.items()}
    rows = build_rows(results, args.scenarios)
    targets = check_targets(results)
    meta["elapsed_s"] = round(time.monotonic() - started, 1)
    print(render(meta, rows, targets, labels))
    print("(%.0f s)" % meta["elapsed_s"])
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "implementations": labels, "results": results,
                       "targets": [{"target": d, "passed": ok} for d, ok in targets]},
                      f, indent=2)
    if args.plot:
        from plot import plot_comparison

        plot_comparison(args.plot, meta, results,
                        [(sid, SCENARIOS[sid][0]) for sid in args.scenarios])
        print("chart: %s" % args.plot)
    if any(w.error for name, w in workers.items() if name.startswith("pyredis")):
        return 1
    if args.strict and any(ok is False for _, ok in targets):
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
