"""RESP parse throughput: compiled Reader vs pure twin vs hiredis vs pyredis
1.0's own pure-Python parser ("upstream"), one run.

Each round parses one corpus with a fresh reader: feed every piece, then call
gets() until it has no reply. All corpora but the last are fed in 64 KiB
pieces, the last is the 1 KiB-bulk stream as a single 5 MiB piece (hiredis
compacts its buffer per reply there, upstream copies it: both quadratic).

    pytest bench/test_bench_reader.py --benchmark-only --benchmark-group-by=param:corpus

``extra_info["bytes"]`` holds the corpus size: MB/s = bytes / mean time.

Upstream's parser is python_redis 1.0's ``pyredis/protocol.py``, which cannot
be installed next to this package (same import name). It is read, at bench
time only, from ``$PYREDIS_UPSTREAM`` (default ``~/.cache/pyredis-bench``): a
directory holding ``pyredis/protocol.py`` (e.g. ``git show
1.0.0:pyredis/protocol.py`` of upstream's repository) or a
``python_redis-1.0.0`` wheel or sdist (``pip download python_redis==1.0.0
--no-deps -d DIR``), and run as a module of its own. Without it those rows
are skipped.
"""
import glob
import importlib
import os
import tarfile
import types
import zipfile

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


UPSTREAM = os.environ.get("PYREDIS_UPSTREAM", os.path.expanduser("~/.cache/pyredis-bench"))


def _upstream_source():
    """python_redis 1.0's pyredis/protocol.py from UPSTREAM, or None."""
    plain = os.path.join(UPSTREAM, "pyredis", "protocol.py")
    if os.path.isfile(plain):
        with open(plain) as f:
            return f.read()
    for path in sorted(glob.glob(os.path.join(UPSTREAM, "python_redis-1.0.0[-.]*"))):
        if path.endswith(".whl"):
            with zipfile.ZipFile(path) as wheel:
                return wheel.read("pyredis/protocol.py").decode()
        if path.endswith(".tar.gz"):
            with tarfile.open(path) as sdist:
                for member in sdist.getmembers():
                    if member.name.endswith("/pyredis/protocol.py"):
                        return sdist.extractfile(member).read().decode()
    return None


def _upstream_reader_class():
    source = _upstream_source()
    if source is None:
        pytest.skip("upstream's parser not found: put python_redis 1.0.0's pyredis/protocol.py (or its "
                    "wheel / sdist) in $PYREDIS_UPSTREAM (default ~/.cache/pyredis-bench)")
    module = types.ModuleType("python_redis_1_0_protocol")
    exec(compile(source, "python_redis-1.0.0/pyredis/protocol.py", "exec"), module.__dict__)
    return module.Reader


def _reader_class(impl):
    if impl == "hiredis":
        return pytest.importorskip("hiredis").Reader
    if impl == "upstream":
        return _upstream_reader_class()
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


@pytest.mark.parametrize("impl", ["compiled", "pure", "hiredis", "upstream"])
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
