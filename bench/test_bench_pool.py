"""Pool acquire+release pair: compiled core vs pure twin vs redis-py, one run.

Each round is ``LOOPS`` pairs (time per round / LOOPS = one pair).  The
pyredis pools hand out fake clients (no I/O: only the bookkeeping is timed);
redis-py's ``get_connection`` checks its socket on every checkout, so it runs
against a real redis-server started here.

    pytest bench/test_bench_pool.py --benchmark-only
"""
import importlib
import os
import sys
import threading
from itertools import repeat

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
from servers import RedisServer  # noqa: E402

LOOPS = 10000


class _Client:
    closed = False

    def close(self):
        pass


def _pyredis_pool(module, lock=None):
    core = importlib.import_module(module)

    class BenchPool(core.PoolCore):
        def _connect(self):
            return _Client()

    return BenchPool(4, lock)


def _pairs(acquire, release):
    for _ in repeat(None, LOOPS):  # no int object per step, as in timeit
        release(acquire())


@pytest.fixture(scope="module")
def redis_port():
    server = RedisServer(unix=False).start()
    yield server.port
    server.stop()


@pytest.mark.parametrize("impl", ["compiled", "pure", "compiled+threading.Lock"])
def test_pair_pyredis(benchmark, impl):
    module = "pyredis.pool._core" + ("_py" if impl == "pure" else "")
    pool = _pyredis_pool(module, threading.Lock() if "Lock" in impl else None)
    benchmark.group = "acquire+release"
    benchmark.extra_info["pairs"] = LOOPS
    benchmark.pedantic(_pairs, (pool.acquire, pool.release), rounds=20, warmup_rounds=2)
    assert len(pool._pool_free) == 1


def test_pair_redis_py(benchmark, redis_port):
    redis = pytest.importorskip("redis")
    pool = redis.ConnectionPool(host="127.0.0.1", port=redis_port, max_connections=4)
    get = pool.get_connection  # redis-py >= 5.3: no command name (deprecated)
    benchmark.group = "acquire+release"
    benchmark.extra_info["pairs"] = LOOPS
    benchmark.pedantic(_pairs, (get, pool.release), rounds=5, warmup_rounds=1)
    pool.disconnect()
