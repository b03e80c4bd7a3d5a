"""Command packing: compiled writer vs pure twin vs hiredis.pack_command, one run.

Each round packs ``LOOPS`` commands of one shape (time per round / LOOPS =
time per command); the "batch" row packs 1000 commands in one
``pack_commands`` call (hiredis has no batch call: a loop of pack_command).

    pytest bench/test_bench_writer.py --benchmark-only --benchmark-group-by=param:shape
"""
import importlib

import pytest

LOOPS = 1000

SHAPES = {
    "get": ("GET", "key:000123"),
    "set100": ("SET", "key:000123", b"v" * 100),
    "mset20": ("MSET",) + tuple(x for i in range(6) for x in ("k%d" % i, b"value", i * 1000))
              + ("k6",),
}
BATCH = [("SET", "key:%06d" % i, b"v" * 16) for i in range(LOOPS)]


def _pack_function(impl):
    if impl == "hiredis":
        return pytest.importorskip("hiredis").pack_command
    return importlib.import_module("pyredis.protocol._writer" + ("" if impl == "compiled" else "_py")).pack_command


def _loop(pack, args):
    for _ in range(LOOPS):
        pack(args)


@pytest.mark.parametrize("impl", ["compiled", "pure", "hiredis"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_pack_command(benchmark, shape, impl):
    pack = _pack_function(impl)
    args = SHAPES[shape]
    benchmark.group = shape
    benchmark.extra_info["commands"] = LOOPS
    benchmark.pedantic(_loop, (pack, args), rounds=20, warmup_rounds=2)
    assert pack(args).startswith(b"*%d\r\n" % len(args))


def _batch_with(impl):
    if impl == "hiredis":
        pack = pytest.importorskip("hiredis").pack_command
        return lambda commands: b"".join([pack(c) for c in commands])
    module = importlib.import_module("pyredis.protocol._writer" + ("" if impl == "compiled" else "_py"))
    return module.pack_commands


@pytest.mark.parametrize("impl", ["compiled", "pure", "hiredis"])
def test_pack_batch(benchmark, impl):
    pack_batch = _batch_with(impl)
    benchmark.group = "batch1000"
    benchmark.extra_info["commands"] = LOOPS
    out = benchmark.pedantic(pack_batch, (BATCH,), rounds=20, warmup_rounds=2)
    assert out.count(b"*3\r\n") == LOOPS
