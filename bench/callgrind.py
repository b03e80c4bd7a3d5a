"""User-space instructions per operation, counted by callgrind (deterministic).

Wall-clock figures on a shared machine swing by 2x between runs; instruction
counts do not.  Each scenario runs twice under ``valgrind --tool=callgrind``,
with N and 2N operations after the same set-up, and the difference of the
two totals divided by N is the cost of one operation (start-up, imports and
set-up cancel out).  Kernel time (the syscalls themselves) is not counted.

    python bench/callgrind.py                 # every scenario, compiled twins
    python bench/callgrind.py --pure          # the pure twins
    python bench/callgrind.py --scenarios get -n 2000

Scenarios: ``get`` (Pool.get of a 3-byte value), ``set`` (Pool.set),
``bulk`` (Client bulk mode, 1000 SETs per batch: per command), ``pair``
(pool acquire+release, no I/O), ``async`` / ``async-uvloop`` (50 asyncio
tasks doing GET through an AsyncPool of 8, per command; user space only, so
the event loop's own Python code counts, the kernel's work does not).  A redis-server is started on a free loopback
port for the run (tests/servers.py).

``get`` and ``set`` include the two checks every command makes for bytes
nobody asked for (see Connection): a ``poll()`` with no wait before sending,
and ``Reader.has_data()`` after the reply.  Together they cost 130
user-space instructions per Pool.get (2.2 %; measured by building
connection/_io without them: 5867 against 5997 in the ``get`` loop alone),
plus the ``poll()`` syscall itself, which callgrind does not count: three
syscalls per command instead of two.
"""
import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# Run inside valgrind: set up, then ``n`` operations.  Warm-up first, so the
# first-call costs (connect, lazy imports, caches) fall in the set-up.
_WORKER = r"""
import sys
sys.path.insert(0, %(root)r)
import pyredis
assert pyredis.COMPILED == %(compiled)r, pyredis.IMPLEMENTATION
scenario, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
pool = pyredis.Pool(host="127.0.0.1", port=port, pool_size=4)
pool.set("bench:key", b"xxx")
if scenario == "get":
    op, arg = pool.get, "bench:key"
    for _ in range(200):
        op(arg)
    for _ in range(n):
        op(arg)
elif scenario == "set":
    op = pool.set
    for _ in range(200):
        op("bench:key", b"xxx")
    for _ in range(n):
        op("bench:key", b"xxx")
elif scenario == "bulk":
    client = pyredis.Client(host="127.0.0.1", port=port)
    client.bulk_start(bulk_size=1000, keep_results=False)
    for _ in range(1000):
        client.set("bench:key", b"xxx")
    for _ in range(n):
        client.set("bench:key", b"xxx")
    client.bulk_stop()
elif scenario == "pair":
    acquire, release = pool.acquire, pool.release
    release(acquire())
    for _ in range(n):
        release(acquire())
elif scenario == "async1":  # one task alone: nothing to batch, one round trip per GET
    import asyncio

    async def main():
        apool = pyredis.AsyncPool(host="127.0.0.1", port=port, pool_size=8)
        get = apool.get
        for _ in range(100):
            await get("bench:key")
        for _ in range(n):
            await get("bench:key")
        await apool.close()

    asyncio.run(main())
elif scenario.startswith("async"):  # async / async-uvloop: 50 tasks, AsyncPool of 8, GET
    import asyncio
    if scenario == "async-uvloop":
        import uvloop
        uvloop.install()

    async def main():
        apool = pyredis.AsyncPool(host="127.0.0.1", port=port, pool_size=8)
        get = apool.get

        async def task(count):
            for _ in range(count):
                await get("bench:key")

        await asyncio.gather(*[task(20) for _ in range(50)])
        await asyncio.gather(*[task(n // 50) for _ in range(50)])
        await apool.close()

    asyncio.run(main())
pool.close()
"""

SCENARIOS = {"get": 2000, "set": 2000, "bulk": 10000, "pair": 20000, "async": 5000,
             "async-uvloop": 5000, "async1": 2000}


def instructions(python, script, scenario, port, n, env):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
             python, "-c", script, scenario, str(port), str(n)],
            check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(out) as f:
            for line in f:
                if line.startswith("summary:") or line.startswith("totals:"):
                    return int(line.split()[1])
    raise RuntimeError("no totals in callgrind output")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pure", action="store_true", help="measure the pure-Python twins")
    p.add_argument("--scenarios", default=",".join(SCENARIOS))
    p.add_argument("-n", type=int, help="operations in the shorter run (default per scenario)")
    args = p.parse_args(argv)

    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from servers import RedisServer

    env = dict(os.environ)
    env.pop("PYREDIS_NO_EXTENSIONS", None)
    env["PYTHONHASHSEED"] = "0"  # hash randomisation moves the counts by a few per cent
    if args.pure:
        env["PYREDIS_NO_EXTENSIONS"] = "1"
    script = _WORKER % {"root": ROOT, "compiled": not args.pure}
    server = RedisServer(unix=False).start()
    try:
        print("callgrind instructions per operation (%s twins, Python %s)"
              % ("pure" if args.pure else "compiled", sys.version.split()[0]))
        for scenario in args.scenarios.split(","):
            n = args.n or SCENARIOS[scenario]
            small = instructions(sys.executable, script, scenario, server.port, n, env)
            large = instructions(sys.executable, script, scenario, server.port, 2 * n, env)
            print("  %-5s %8.0f" % (scenario, (large - small) / n), flush=True)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
