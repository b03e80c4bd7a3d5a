"""RESP parse throughput: compiled Reader vs pure twin vs hiredis, one run.

Each round parses one corpus with a fresh reader: feed every piece, then call
gets() until it has no reply. Corpora follow DESIGN.md's table; all but the
last are fed in 64 KiB pieces, the last is the 1 KiB-bulk stream as a single
5 MiB piece (hiredis compacts its buffer per reply there: quadratic).

    pytest bench/test_bench_reader.py --benchmark-only --benchmark-group-by=param:corpus

``extra_info["bytes"]`` holds the corpus size: MB/s = bytes / mean time.
"""
import importlib

import pytest

PIECE = 64 * 1024


def _bulk(payload):
    return b"$%d\r\n%s\r\n" % (len(payload), payload)


def _cluster_slots_entry(i):
    node = lambda n: (b"*3\r\n" + _bulk(b"10.0.%d.%d" % (n % 250, i % 250))  # noqa: E731
                      + b":%d\r\n" % (7000 + n) + _bulk(b"%040x" % (i * 2 + n)))
    return b"*4\r\n:%d\r\n:%d\r\n%s%s" % (i * 3, i * 3 + 2, node(0), node(1))


def _corpora():
    """name -> (stream, number of replies)."""
    bulk1k = b"".join(_bulk(b"%04d" % i + b"x" * 1020) for i in range(5000))
    array100 = b"*100\r\n" + b"".join(_bulk(b"item-%05d" % i) for i in range(100))
    return {
        "status": (b"+OK\r\n" * 20000, 20000),
        "int": (b"".join(b":%d\r\n" % (i * 7919) for i in range(20000)), 20000),
        "bulk16": (b"".join(_bulk(b"value-%010d" % i) for i in range(20000)), 20000),
        "bulk1k": (bulk1k, 5000),
        "array100": (array100 * 500, 500),
        "nested": (b"".join(_cluster_slots_entry(i) for i in range(5000)), 5000),
        "bulk1k-one-feed": (bulk1k, 5000),
    }


CORPORA = _corpora()


def _pieces(name, stream):
    if name.endswith("one-feed"):
        return [stream]
    return [stream[i:i + PIECE] for i in range(0, len(stream), PIECE)]


def _reader_class(impl):
    if impl == "hiredis":
        return pytest.importorskip("hiredis").Reader
    module = "pyredis.protocol._reader" + ("" if impl == "compiled" else "_py")
    return importlib.import_module(module).Reader


def _parse_all(reader_class, pieces):
    reader = reader_class()
    feed = reader.feed
    gets = reader.gets
    replies = 0
    for piece in pieces:
        feed(piece)
        reply = gets()
        while reply is not False:
            replies += 1
            reply = gets()
    return replies


@pytest.mark.parametrize("impl", ["compiled", "pure", "hiredis"])
@pytest.mark.parametrize("corpus", list(CORPORA))
def test_parse(benchmark, corpus, impl):
    stream, expected = CORPORA[corpus]
    pieces = _pieces(corpus, stream)
    reader_class = _reader_class(impl)
    benchmark.group = corpus
    benchmark.extra_info["bytes"] = len(stream)
    benchmark.extra_info["pieces"] = len(pieces)
    replies = benchmark.pedantic(_parse_all, (reader_class, pieces), rounds=5, warmup_rounds=1)
    assert replies == expected
