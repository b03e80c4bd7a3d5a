"""Writer (to_bytes, writer, pack_command, pack_commands): both twins, hiredis as a reference.

Decisions checked here: bool packs as ``True``/``False`` (str(), like upstream's
to_bytes; hiredis refuses bools); floats as ``repr``; a memoryview contributes
its raw bytes whatever its format or layout; ``to_bytes`` keeps upstream's
narrow ValueError contract.
"""
import array
import decimal
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyredis.protocol import Reader

try:
    import hiredis
except ImportError:
    hiredis = None

needs_hiredis = pytest.mark.skipif(hiredis is None, reason="hiredis is not installed")


@pytest.fixture
def w(twin):
    return twin.load("pyredis.protocol._writer")


def resp(*payloads):
    """The expected RESP array for already-encoded payloads."""
    return b"*%d\r\n" % len(payloads) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in payloads)


# -- exact bytes per argument type ------------------------------------------------
@pytest.mark.parametrize("arg, payload", [
    ("GET", b"GET"),
    ("", b""),
    ("h\u00e9llo \u2603 \U0001f600", "h\u00e9llo \u2603 \U0001f600".encode()),
    (b"\x00\r\n\xff", b"\x00\r\n\xff"),
    (b"", b""),
    (bytearray(b"ba\r\n"), b"ba\r\n"),
    (memoryview(b"view"), b"view"),
    (memoryview(b"0123456789")[2:8:2], b"246"),                    # non-contiguous
    (memoryview(array.array("i", [1, 2])), array.array("i", [1, 2]).tobytes()),  # multi-byte items
    (0, b"0"),
    (-17, b"-17"),
    (2 ** 63 - 1, b"9223372036854775807"),
    (-2 ** 63, b"-9223372036854775808"),
    (10 ** 40, b"1" + b"0" * 40),
    (-(10 ** 40), b"-1" + b"0" * 40),
    (True, b"True"),
    (False, b"False"),
    (1.5, b"1.5"),
    (0.1, b"0.1"),
    (1e20, b"1e+20"),
    (-0.0, b"-0.0"),
    (float("inf"), b"inf"),
    (float("-inf"), b"-inf"),
    (float("nan"), b"nan"),
    (1 / 3, repr(1 / 3).encode()),
])
def test_argument_payloads(w, arg, payload):
    assert w.writer("CMD", arg) == resp(b"CMD", payload)
    assert w.pack_command(("CMD", arg)) == resp(b"CMD", payload)
    assert w.pack_command(["CMD", arg]) == resp(b"CMD", payload)


def test_no_arguments(w):
    assert w.writer() == b"*0\r\n"
    assert w.pack_command(()) == b"*0\r\n"
    assert w.pack_commands([]) == b""


def test_returns_bytes(w):
    assert type(w.writer("PING")) is bytes
    assert type(w.pack_command(("PING",))) is bytes


class MyStr(str):
    def encode(self, *args, **kwargs):  # never called: the str's own text is packed
        raise AssertionError("encode() of a subclass must not be used")


class MyBytes(bytes):
    pass


class MyInt(int):
    def __str__(self):
        return "seven"


class MyFloat(float):
    pass


@pytest.mark.parametrize("arg, payload", [
    (MyStr("sub"), b"sub"),
    (MyBytes(b"sub"), b"sub"),
    (MyInt(7), b"seven"),   # str() of a subclass, as to_bytes does
    (MyFloat(2.5), b"2.5"),
], ids=["str", "bytes", "int", "float"])
def test_subclasses(w, arg, payload):
    assert w.writer(arg) == resp(payload)


def test_many_arguments_take_the_heap_path(w):
    args = ["MSET"] + ["k%d" % i for i in range(1000)]
    assert w.pack_command(tuple(args)) == resp(*[a.encode() for a in args])


def test_large_payload(w):
    big = b"x" * (3 * 1024 * 1024)
    assert w.writer("SET", "k", big) == resp(b"SET", b"k", big)


# -- errors --------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [None, {}, [1], (1,), object(), decimal.Decimal("1.5"), 1j, {1}])
def test_bad_argument_type(w, bad):
    with pytest.raises(TypeError) as info:
        w.writer("SET", "k", bad)
    message = str(info.value)
    assert type(bad).__name__ in message and "argument 2" in message


def test_bad_argument_in_first_position(w):
    with pytest.raises(TypeError, match="argument 0"):
        w.pack_command((None,))


def test_lone_surrogate_is_refused(w):
    with pytest.raises(UnicodeEncodeError):
        w.writer("SET", "k", "\udcff")


@pytest.mark.parametrize("bad", [b"GET", "GET", 5, None, iter([("GET",)])])
def test_pack_command_needs_a_tuple_or_list(w, bad):
    with pytest.raises(TypeError, match="tuple or list"):
        w.pack_command(bad)


def test_pack_commands_concatenates_in_order(w):
    commands = [("SET", "a", 1), ["GET", b"a"], ("MSET", "x", 1.5, "y", bytearray(b"z"))]
    assert w.pack_commands(commands) == b"".join(w.pack_command(c) for c in commands)
    assert w.pack_commands(iter(commands)) == w.pack_commands(commands)


def test_pack_commands_rejects_the_whole_batch(w):
    with pytest.raises(TypeError):
        w.pack_commands([("SET", "a", 1), ("SET", "b", None)])
    with pytest.raises(TypeError, match="tuple or list"):
        w.pack_commands([("PING",), "PING"])


def test_bytearray_resized_by_a_subclass_str(w):
    """A conversion that runs Python code cannot make the writer read freed memory."""
    data = bytearray(b"abc")

    class Grows(int):
        def __str__(self):
            data.extend(b"x" * 10000)
            return "1"

    try:
        out = w.writer("SET", data, Grows(1))
    except RuntimeError:
        return  # refusing is fine too
    assert out in (resp(b"SET", b"abc", b"1"), resp(b"SET", bytes(data), b"1"))


# -- to_bytes (upstream's helper) --------------------------------------------------------
@pytest.mark.parametrize("value, expected", [
    (b"raw", b"raw"),
    (MyBytes(b"raw"), b"raw"),
    ("t\u00e9xt", "t\u00e9xt".encode()),
    (12, b"12"),
    (True, b"True"),
    (0.815, b"0.815"),
    (1e20, b"1e+20"),
    (float("nan"), b"nan"),
])
def test_to_bytes(w, value, expected):
    assert w.to_bytes(value) == expected


def test_to_bytes_returns_bytes_unchanged(w):
    value = b"same object"
    assert w.to_bytes(value) is value


@pytest.mark.parametrize("value", [None, bytearray(b"x"), memoryview(b"x"), decimal.Decimal(1), [1]])
def test_to_bytes_refuses_other_types(w, value):
    with pytest.raises(ValueError, match=type(value).__name__):
        w.to_bytes(value)


# -- references ------------------------------------------------------------------------
@needs_hiredis
@pytest.mark.parametrize("args", [
    ("GET", "key"),
    ("SET", "k", b"\x00\xff", 12, -3, 1.25, 1e20),
    ("HSET", "h\u00e9", "\U0001f600", 10 ** 30),
    (),
])
def test_same_bytes_as_hiredis(w, args):
    assert w.pack_command(args) == hiredis.pack_command(args)


@pytest.mark.c_extension
def test_the_twins_agree():
    import pyredis.protocol._writer as compiled
    import pyredis.protocol._writer_py as pure
    args = ("SET", "k\u00e9", b"v", bytearray(b"ba"), memoryview(b"mv"), 1, -2, 2.5, True, 10 ** 25)
    assert compiled.pack_command(args) == pure.pack_command(args)


scalars = st.one_of(
    st.text(max_size=40),
    st.binary(max_size=40),
    st.binary(max_size=40).map(bytearray),
    st.binary(max_size=40).map(memoryview),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(commands=st.lists(st.lists(scalars, max_size=12).map(tuple), min_size=1, max_size=5))
def test_property_twins_agree_and_round_trip(commands):
    import pyredis.protocol._writer_py as pure
    try:
        import pyredis.protocol._writer as compiled
    except ImportError:  # a pure-only install (run with --no-c-extensions)
        compiled = pure
    packed = compiled.pack_commands(commands)
    assert packed == pure.pack_commands(commands)
    reader = Reader()
    reader.feed(packed)
    for args in commands:
        expected = [pure.to_bytes(a) if isinstance(a, (str, int, float, bytes)) else bytes(a)
                    for a in args]
        assert reader.gets() == expected
    assert reader.gets() is False
    if hiredis is not None:
        plain = [c for c in commands
                 if all(isinstance(a, (str, bytes, int, float)) and not isinstance(a, bool)
                        for a in c)]
        for args in plain:
            assert hiredis.pack_command(args) == compiled.pack_command(args)


# -- CommandBuffer (bulk mode) -------------------------------------------------------------
def test_command_buffer_packs_in_order_and_calls_on_full(w):
    calls = []
    buf = w.CommandBuffer(3, 1 << 20, lambda: calls.append((buf.pending, len(buf))))
    buf.add("SET", "a", 1)
    buf.add("GET", "a")
    assert calls == [] and buf.pending == 2
    buf.add("PING")
    assert calls == [(3, len(w.pack_commands([("SET", "a", 1), ("GET", "a"), ("PING",)])))]
    assert buf.take() == w.pack_commands([("SET", "a", 1), ("GET", "a"), ("PING",)])
    assert buf.take() == b"" and len(buf) == 0 and buf.pending == 3  # the owner resets pending
    buf.pending = 0
    assert buf.pending == 0


def test_command_buffer_byte_limit_and_never_flush(w):
    calls = []
    buf = w.CommandBuffer(0, 100, lambda: calls.append(buf.take()))
    for _ in range(10):
        buf.add("SET", "k", b"v" * 30)
    assert len(calls) == 5 and all(len(chunk) >= 100 for chunk in calls)
    assert buf.pending == 10  # 0: never a full batch


def test_command_buffer_bad_argument_adds_nothing(w):
    buf = w.CommandBuffer(0, 1 << 20, lambda: None)
    buf.add("PING")
    with pytest.raises(TypeError):
        buf.add("SET", "k", None)
    assert buf.pending == 1 and buf.take() == w.writer("PING")
