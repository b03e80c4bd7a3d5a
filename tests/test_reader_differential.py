"""Differential test of the Reader: random RESP2/RESP3 streams, cut at random points.

Hypothesis builds values together with their wire form and the reply the
Reader contract promises (the *model*). Each twin must produce the model
exactly; hiredis must too, for the values it handles the same way (no big
numbers, blob errors or attributes, nesting <= 7, no newline in simple
strings, no repeated map keys, valid UTF-8 when decoding). Corrupted streams must make both twins
deliver the same replies and fail at the same call with the same message.
"""
import math
import os
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyredis.exceptions import ProtocolError, ReplyError

try:
    import hiredis
except ImportError:
    hiredis = None

# PYREDIS_HYPOTHESIS_EXAMPLES=5000 for a longer hunt; the default keeps the suite fast.
SETTINGS = settings(max_examples=int(os.environ.get("PYREDIS_HYPOTHESIS_EXAMPLES", "200")),
                    deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
CRLF = b"\r\n"
NONE_YET = object()
HIREDIS_MAX_DEPTH = 7


@dataclass(frozen=True)
class Value:
    wire: bytes
    model: object        # the expected reply, in normalize()'s form
    hiredis_ok: bool     # hiredis returns the same for it
    depth: int = 0       # aggregate nesting levels


def normalize(value):
    """Comparable form across implementations (their error classes differ)."""
    if isinstance(value, BaseException):
        return ("error", value.args[0])
    if type(value).__name__ == "PushNotification":
        return ("push", tuple(normalize(v) for v in value))
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, dict):
        return {normalize(k): normalize(v) for k, v in value.items()}
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


def decoded(model):
    """The model once decoding with UTF-8 (raw_fallback=True: raw bytes if invalid)."""
    if isinstance(model, bytes):
        try:
            return model.decode("utf-8")
        except UnicodeDecodeError:
            return model
    if isinstance(model, list):
        return [decoded(v) for v in model]
    if isinstance(model, dict):
        return {decoded(k): decoded(v) for k, v in model.items()}
    if isinstance(model, tuple) and model[0] == "push":
        return ("push", tuple(decoded(v) for v in model[1]))
    return model  # errors, numbers, None, bools


def all_utf8(model):
    if isinstance(model, bytes):
        try:
            model.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True
    if isinstance(model, list):
        return all(all_utf8(v) for v in model)
    if isinstance(model, dict):
        return all(all_utf8(k) and all_utf8(v) for k, v in model.items())
    if isinstance(model, tuple) and model[0] == "push":
        return all(all_utf8(v) for v in model[1])
    return True


# -- strategies ------------------------------------------------------------------

line_bytes = st.binary(max_size=12).filter(lambda b: b"\r" not in b)
payloads = st.one_of(
    st.binary(max_size=24),
    st.sampled_from([b"", b"\r\n", b"a\r\nb", b"\r", b"\n", b"x\r", b"\r\n\r\n", b"caf\xc3\xa9", b"\xff"]),
    st.binary(min_size=1000, max_size=1100),
)


def _simple(s):
    return Value(b"+" + s + CRLF, s, b"\n" not in s)


def _error(msg):
    return Value(b"-" + msg.encode() + CRLF, ("error", msg), True)


def _integer(n):
    return Value(b":%d\r\n" % n, n, -2 ** 63 <= n < 2 ** 63)


def _bulk(p):
    return Value(b"$%d\r\n%s\r\n" % (len(p), p), p, True)


def _double(x):
    text = b"nan" if math.isnan(x) else repr(x).encode()
    return Value(b"," + text + CRLF, "nan" if math.isnan(x) else x, True)


def _verbatim(p):
    return Value(b"=%d\r\ntxt:%s\r\n" % (len(p) + 4, p), p, True)


def _blob_error(p):
    return Value(b"!%d\r\n%s\r\n" % (len(p), p), ("error", p.decode("utf-8", "replace")), False)


scalar_keys = st.one_of(line_bytes.map(_simple), payloads.map(_bulk),
                        st.integers(-10 ** 6, 10 ** 6).map(_integer))

leaves = st.one_of(
    line_bytes.map(_simple),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=12).map(_error),
    st.integers(-2 ** 63, 2 ** 63 - 1).map(_integer),
    st.integers().map(_integer),
    payloads.map(_bulk),
    st.just(Value(b"$-1\r\n", None, True)),
    st.just(Value(b"*-1\r\n", None, True)),
    st.just(Value(b"_\r\n", None, True)),
    st.booleans().map(lambda b: Value(b"#t\r\n" if b else b"#f\r\n", b, True)),
    st.floats(allow_nan=True, allow_infinity=True).map(_double),
    st.integers().map(lambda n: Value(b"(%d\r\n" % n, n, False)),
    payloads.map(_verbatim),
    payloads.map(_blob_error),
)


def _sequence(header, items, model, hiredis_ok=True):
    wire = header + b"".join(v.wire for v in items)
    depth = 1 + max((v.depth for v in items), default=0)
    return Value(wire, model, hiredis_ok and all(v.hiredis_ok for v in items), depth)


def _array(items):
    return _sequence(b"*%d\r\n" % len(items), items, [v.model for v in items])


def _set(items):
    return _sequence(b"~%d\r\n" % len(items), items, [v.model for v in items])


def _push(items):
    return _sequence(b">%d\r\n" % len(items), items, ("push", tuple(v.model for v in items)))


def _map(pairs):
    flat = [v for pair in pairs for v in pair]
    model = {}
    for key, value in pairs:
        model[key.model] = value.model  # a repeated key: the last one wins
    unique = len(model) == len(pairs)  # hiredis keeps the first one
    return _sequence(b"%%%d\r\n" % len(pairs), flat, model, hiredis_ok=unique)


def _attributed(args):
    pairs, value = args
    flat = [v for pair in pairs for v in pair]
    attribute = _sequence(b"|%d\r\n" % len(pairs), flat, None, hiredis_ok=False)
    return Value(attribute.wire + value.wire, value.model, False, max(attribute.depth, value.depth))


def _containers(children):
    pairs = st.lists(st.tuples(scalar_keys, children), max_size=4)
    return st.one_of(
        st.lists(children, max_size=6).map(_array),
        st.lists(children, max_size=4).map(_set),
        st.lists(children, max_size=4).map(_push),
        pairs.map(_map),
        st.tuples(pairs, children).map(_attributed),
    )


# Arrays of 8+ bulk strings, and arrays of arrays of short bulks: the shapes the
# Readers' fast paths take (with payloads that look like RESP lines or hold CRLF).
short_payloads = st.one_of(st.binary(max_size=3), st.sampled_from([b"$2", b"*1", b":1", b"\r\n", b"a\r\nb"]))
bulk_arrays = st.one_of(
    st.lists(short_payloads.map(_bulk), min_size=8, max_size=20).map(_array),
    st.lists(st.lists(short_payloads.map(_bulk), max_size=4).map(_array), min_size=1, max_size=10).map(_array),
)
values = st.one_of(st.recursive(leaves, _containers, max_leaves=30), bulk_arrays)
streams = st.lists(values, min_size=1, max_size=6)


def _pieces(data, stream):
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=10).map(lambda c: sorted(set(c))))
    bounds = [0] + cuts + [len(stream)]
    return [stream[a:b] for a, b in zip(bounds, bounds[1:])]


def _run(reader, pieces, sizes=False):
    """Feed each piece and drain; the events (replies and errors raised in place
    of one, then maybe a protocol error).
    ``sizes``: also record len() and has_data() after each piece."""
    events = []
    for piece in pieces:
        reader.feed(piece)
        if sizes:
            events.append(("len", reader.len(), reader.has_data()))
        while True:
            try:
                reply = reader.gets()
            except (UnicodeDecodeError, TypeError) as exc:  # in place of one reply
                events.append((type(exc).__name__, str(exc)))
                continue
            except ValueError as exc:  # the protocolError of these tests
                events.append((type(exc).__name__, str(exc)))
                return events
            if reply is NONE_YET:
                break
            events.append(normalize(reply))
    return events


def _make_reader(cls, encoding=None, errors=None, **options):
    return cls(protocolError=ValueError, replyError=ReplyError, encoding=encoding, errors=errors,
               notEnoughData=NONE_YET, **options)


# -- tests -------------------------------------------------------------------------

@SETTINGS
@given(stream=streams, data=st.data(), encoding=st.sampled_from([None, "utf-8"]))
def test_twin_matches_the_model(twin, stream, data, encoding):
    Reader = twin.load("pyredis.protocol._reader").Reader
    wire = b"".join(v.wire for v in stream)
    model = [v.model if encoding is None else decoded(v.model) for v in stream]
    assert _run(_make_reader(Reader, encoding, raw_fallback=True), _pieces(data, wire)) == model


@pytest.mark.skipif(hiredis is None, reason="hiredis is not installed")
@SETTINGS
@given(stream=streams, data=st.data(), encoding=st.sampled_from([None, "utf-8"]))
def test_hiredis_matches_the_model(stream, data, encoding):
    stream = [v for v in stream if v.hiredis_ok and v.depth <= HIREDIS_MAX_DEPTH
              and (encoding is None or all_utf8(v.model))]
    wire = b"".join(v.wire for v in stream)
    model = [v.model if encoding is None else decoded(v.model) for v in stream]
    assert _run(_make_reader(hiredis.Reader, encoding), _pieces(data, wire)) == model


def _corrupt(data, wire):
    """Overwrite, insert or delete a few bytes, favouring RESP's special bytes."""
    special = st.sampled_from(b"\r\n$*:+-%~>|!=_#,(0123456789x")
    wire = bytearray(wire)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(wire)))
        action = data.draw(st.sampled_from(["set", "insert", "delete"]))
        byte = data.draw(st.one_of(special, st.integers(0, 255)))
        if action == "insert" or at == len(wire):
            wire.insert(at, byte)
        elif action == "set":
            wire[at] = byte
        else:
            del wire[at]
    return bytes(wire)


LIMITS = st.sampled_from([{}, {"max_depth": 1}, {"max_depth": 2}, {"max_line_length": 3},
                          {"max_depth": 3, "max_line_length": 10}])


@pytest.mark.c_extension
@SETTINGS
@given(stream=streams, data=st.data(),
       codec=st.sampled_from([(None, None), ("utf-8", None), ("utf-8", "strict"), ("latin-1", None)]),
       limits=LIMITS, raw_fallback=st.booleans())
def test_twins_agree_on_corrupted_streams(stream, data, codec, limits, raw_fallback):
    """Same replies, then the same error (a UnicodeDecodeError counts) at the same call."""
    from pyredis.protocol import _reader, _reader_py

    wire = _corrupt(data, b"".join(v.wire for v in stream))
    pieces = _pieces(data, wire)
    compiled = _run(_make_reader(_reader.Reader, *codec, raw_fallback=raw_fallback, **limits),
                    pieces, sizes=True)
    pure = _run(_make_reader(_reader_py.Reader, *codec, raw_fallback=raw_fallback, **limits),
                pieces, sizes=True)
    assert compiled == pure


@pytest.mark.c_extension
@SETTINGS
@given(stream=streams, data=st.data(), limits=LIMITS)
def test_twins_agree_on_limits(stream, data, limits):
    """Valid streams against small limits: the same replies and the same error."""
    from pyredis.protocol import _reader, _reader_py

    pieces = _pieces(data, b"".join(v.wire for v in stream))
    compiled = _run(_make_reader(_reader.Reader, **limits), pieces, sizes=True)
    pure = _run(_make_reader(_reader_py.Reader, **limits), pieces, sizes=True)
    assert compiled == pure


def test_model_sanity():
    """The strategies' own building blocks produce what the Reader returns."""
    from pyredis.protocol import _reader_py

    sample = _map([(_bulk(b"k"), _array([_integer(1), _error("E")]))])
    assert sample.wire == b"%1\r\n$1\r\nk\r\n*2\r\n:1\r\n-E\r\n"
    assert _run(_make_reader(_reader_py.Reader), [sample.wire]) == [{b"k": [1, ("error", "E")]}]
    assert ProtocolError is not ValueError  # these tests raise ValueError on purpose
