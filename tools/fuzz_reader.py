"""Fuzz ``Reader.feed`` / ``gets`` of both twins with hostile callbacks.

    python tools/fuzz_reader.py --seconds 60            # atheris when installed
    python tools/fuzz_reader.py --seconds 60 --random   # seeded random streams

Each input chooses a codec, which callbacks misbehave and how the stream is
cut. The callbacks (a codec error handler, the ``replyError`` and
``protocolError`` factories, and optionally a ``gc`` callback fired by
allocations) call ``feed()`` on the reader that is parsing - each feed is
larger than anything fed before, so a buffer that can move, moves - and some
of them raise. Memory errors in the compiled twin are for AddressSanitizer to
report (``tools/asan.sh`` runs this under it). Both twins parse every input;
unless the ``gc`` callback ran (its timing depends on each implementation's
allocations), their replies, errors and final ``len()`` must be equal.

atheris' coverage feedback comes from the pure twin (instrumented at import);
the compiled twin shares its structure. Under a preloaded libasan, atheris
gets no coverage at all: use ``--random`` there (``tools/asan.sh`` does).
"""
import argparse
import codecs
import gc
import math
import os
import random
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

try:
    import atheris
except ImportError:
    atheris = None

if atheris is not None:
    with atheris.instrument_imports(include=["pyredis.protocol._reader_py"]):
        from pyredis.protocol import _reader_py
else:
    from pyredis.protocol import _reader_py
from pyredis.exceptions import ProtocolError, ReplyError  # noqa: E402
from pyredis.protocol import _reader  # noqa: E402

TOKENS = [
    b"\r\n", b"+OK", b"-ERR x", b"-Raise", b":1", b":-99", b":" + b"9" * 30, b"$3\r\nabc", b"$0\r\n",
    b"$-1", b"*2", b"*-1", b"*0", b"*9", b"%1", b"%2", b"~1", b">2", b"|1", b"=7\r\ntxt:abc",
    b"!3\r\nerr", b"_", b"#t", b"#f", b",1.5", b",inf", b",e", b"(123", b"\xff", b"\xc3\xa9", b"\r",
    b"\n", b"$2\r\nab", b"*1\r\n" * 8,
]
GROW_STEP = 1 << 16
CODECS = [(None, None), ("utf-8", None), ("utf-8", "strict"), ("ascii", "fuzz-hostile"),
          ("utf-8", "fuzz-hostile"), ("latin-1", None), ("utf-8", "replace"), ("utf-16", "fuzz-hostile")]
NONE_YET = object()
MAX_GETS = 200


class Hostile:
    """The callbacks of one run; ``mode`` bits pick which ones misbehave
    (and, for ``run``, gets(False) and small limits)."""

    current = None  # the codec error handler is global: it finds its run here

    def __init__(self, mode):
        self.mode = mode
        self.reader = None
        self.budget = 3          # feeds per run
        self.raises = 2          # RuntimeErrors per run
        self.grow = GROW_STEP

    def feed(self):
        if self.budget:
            self.budget -= 1
            self.grow *= 2
            self.reader.feed(b"$%d\r\n%s\r\n+fed\r\n" % (self.grow, b"g" * self.grow))

    def codec_error(self, exc):
        self.feed()
        if self.mode & 1:
            raise exc
        return ("?", exc.end)

    def reply_error(self, message):
        if self.mode & 2:
            self.feed()
        if self.mode & 4 and message.startswith("R") and self.raises:
            self.raises -= 1
            raise RuntimeError("replyError raised")
        return ReplyError(message)

    def protocol_error(self, message):
        if self.mode & 8:
            self.feed()
        return ProtocolError(message)

    def on_gc(self, phase, info):
        if phase == "start":
            self.feed()


codecs.register_error("fuzz-hostile", lambda exc: Hostile.current.codec_error(exc))


def normalize(value):
    if isinstance(value, BaseException):
        return ("error", type(value).__name__, value.args)
    if isinstance(value, list):
        return (type(value).__name__, [normalize(v) for v in value])
    if isinstance(value, dict):
        return sorted((repr(normalize(k)), normalize(v)) for k, v in value.items())
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


def run(Reader, mode, codec, pieces, collect):
    hostile = Hostile.current = Hostile(mode)
    limits = {}
    if mode & 32:
        limits["max_depth"] = 2
    if mode & 64:
        limits["max_line_length"] = 6
    reader = Reader(protocolError=hostile.protocol_error, replyError=hostile.reply_error,
                    encoding=codec[0], errors=codec[1], notEnoughData=NONE_YET,
                    raw_fallback=bool(mode & 128), **limits)
    hostile.reader = reader
    events = []
    if collect:
        gc.set_threshold(3)
        gc.callbacks.append(hostile.on_gc)
    try:
        for piece in pieces:
            reader.feed(piece)
            for _ in range(MAX_GETS):
                try:
                    reply = reader.gets(not mode & 16)
                except ProtocolError as exc:
                    events.append(("ProtocolError", str(exc)))
                    return events
                except (UnicodeError, RuntimeError, TypeError) as exc:
                    events.append((type(exc).__name__, str(exc)))
                    continue
                if reply is NONE_YET:
                    break
                events.append(normalize(reply))
        events.append(("len", reader.len(), reader.has_data()))
        return events
    finally:
        if collect:
            gc.callbacks.remove(hostile.on_gc)
            gc.set_threshold(700, 10, 10)


def one_input(data):
    """``data``: 2 bytes of choices, 1 byte of cut count, 2 bytes per cut, then the stream."""
    if len(data) < 3:
        return
    mode, choice, ncuts = data[0], data[1], data[2] % 9
    cuts, stream = data[3:3 + 2 * ncuts], data[3 + 2 * ncuts:]
    bounds = sorted({int.from_bytes(cuts[i:i + 2], "little") % (len(stream) + 1)
                     for i in range(0, len(cuts) - 1, 2)})
    bounds = [0] + bounds + [len(stream)]
    pieces = [stream[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]
    codec = CODECS[choice % len(CODECS)]
    collect = bool(choice & 0x80)
    compiled = run(_reader.Reader, mode, codec, pieces, collect)
    pure = run(_reader_py.Reader, mode, codec, pieces, collect)
    if not collect and compiled != pure:
        raise AssertionError("twins differ on %r:\ncompiled %r\npure     %r" % (data, compiled, pure))


def random_input(rng):
    stream = b"".join(rng.choice(TOKENS) if rng.random() < 0.8 else bytes([rng.randrange(256)])
                      for _ in range(rng.randrange(1, 60)))
    ncuts = rng.randrange(9)
    head = bytes([rng.randrange(256), rng.randrange(256), ncuts])
    return head + bytes(rng.randrange(256) for _ in range(2 * ncuts)) + stream


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--random", action="store_true", help="seeded random streams, even with atheris")
    args = parser.parse_args()
    if atheris is not None and not args.random:
        workdir = tempfile.mkdtemp(prefix="fuzz_reader.")
        dictionary = os.path.join(workdir, "resp.dict")
        with open(dictionary, "w") as f:
            for token in TOKENS:
                f.write('"%s"\n' % "".join("\\x%02x" % b for b in token))
        atheris.Setup([sys.argv[0], "-max_total_time=%d" % args.seconds, "-dict=" + dictionary,
                       "-seed=%d" % args.seed, "-rss_limit_mb=8192", "-timeout=60",
                       "-artifact_prefix=" + workdir + "/", "-print_final_stats=1"], one_input)
        atheris.Fuzz()  # exits the process when the time is up
        return
    rng = random.Random(args.seed)
    deadline = time.monotonic() + args.seconds
    runs = 0
    while time.monotonic() < deadline:
        one_input(random_input(rng))
        runs += 1
    print("fuzz_reader: %d random inputs in %d s, no difference between the twins" % (runs, args.seconds))


if __name__ == "__main__":
    main()
