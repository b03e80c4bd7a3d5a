"""asyncio throughput: 50 tasks doing GET through a pool of 8 connections,
pyredis (the twins this process chose: run once as is, once with
PYREDIS_NO_EXTENSIONS=1) vs redis.asyncio (BlockingConnectionPool of 8), on
asyncio's loop and on uvloop's, against a redis-server started here.

Each round is ``ROUND`` commands (time per round / ROUND = one command).
bench/run.py's asyncio rows compare compiled, pure, redis.asyncio and
``redis-benchmark -c 50`` side by side, with CPU per command.

    pytest bench/test_bench_async.py --benchmark-only --benchmark-group-by=param:loop_kind
"""
import asyncio
import os
import sys
from itertools import repeat

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
from servers import RedisServer  # noqa: E402

import pyredis  # noqa: E402

TASKS = 50
POOL = 8
ROUND = 5000
KEY = "bench:key"


@pytest.fixture(scope="module")
def redis_port():
    server = RedisServer(unix=False).start()
    yield server.port
    server.stop()


def _new_loop(kind):
    if kind == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def _pyredis(port):
    pool = pyredis.AsyncPool(host="127.0.0.1", port=port, pool_size=POOL)
    return pool.get, pool.close


def _redis_asyncio(port):
    aioredis = pytest.importorskip("redis.asyncio")
    cpool = aioredis.BlockingConnectionPool(host="127.0.0.1", port=port, max_connections=POOL)
    return aioredis.Redis(connection_pool=cpool).get, cpool.disconnect


@pytest.mark.parametrize("loop_kind", ["asyncio", "uvloop"])
@pytest.mark.parametrize("client", ["pyredis-" + pyredis.IMPLEMENTATION, "redis.asyncio"])
def test_async_get_50_tasks(benchmark, redis_port, loop_kind, client):
    loop = _new_loop(loop_kind)
    make = _pyredis if client.startswith("pyredis") else _redis_asyncio
    get, close = loop.run_until_complete(_made(make, redis_port))

    async def task(count):
        for _ in repeat(None, count):
            await get(KEY)

    async def one_round():
        await asyncio.gather(*[task(ROUND // TASKS) for _ in range(TASKS)])

    def run():
        loop.run_until_complete(one_round())

    try:
        run()  # warm-up: connections made
        assert loop.run_until_complete(get(KEY)) == b"xxx"
        benchmark.group = "asyncio GET, %d tasks, pool of %d (%s)" % (TASKS, POOL, loop_kind)
        benchmark.extra_info["commands"] = ROUND
        benchmark.pedantic(run, rounds=10, warmup_rounds=1)
    finally:
        loop.run_until_complete(close())
        loop.close()


async def _made(make, port):
    get, close = make(port)
    setter = pyredis.AsyncClient(host="127.0.0.1", port=port)
    await setter.set(KEY, b"xxx")
    await setter.close()
    return get, close
