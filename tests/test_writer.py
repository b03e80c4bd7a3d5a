"""Writer (to_bytes, writer, pack_args, pack_command, pack_commands, CommandBuffer):
both twins, hiredis as a reference.

Decisions checked here: ``writer``/``pack_args`` (what clients send) pack a
bool as ``True``/``False`` (str(), like upstream's to_bytes), while
``pack_command`` takes hiredis' types and refuses bools; floats as ``repr``; a
memoryview contributes its raw bytes whatever its format or layout;
``to_bytes`` keeps upstream's narrow contract.  Every refused argument is an
``ArgumentError``: a TypeError (hiredis) and a ValueError (upstream).
"""
import array
import decimal
import enum

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyredis.exceptions import ArgumentError
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
# Taken by writer, pack_args and pack_command alike.
PAYLOADS = [
    ("GET", b"GET"),
    ("", b""),
    ("h\u00e9llo \u2603 \U0001f600", "h\u00e9llo \u2603 \U0001f600".encode()),
    (b"\x00\r\n\xff", b"\x00\r\n\xff"),
    (b"", b""),
    (memoryview(b"view"), b"view"),
    (memoryview(b"0123456789")[2:8:2], b"246"),                    # non-contiguous
    (memoryview(array.array("i", [1, 2])), array.array("i", [1, 2]).tobytes()),  # multi-byte items
    (0, b"0"),
    (-17, b"-17"),
    (2 ** 63 - 1, b"9223372036854775807"),
    (-2 ** 63, b"-9223372036854775808"),
    (10 ** 40, b"1" + b"0" * 40),
    (-(10 ** 40), b"-1" + b"0" * 40),
    (1.5, b"1.5"),
    (0.1, b"0.1"),
    (1e20, b"1e+20"),
    (-0.0, b"-0.0"),
    (float("inf"), b"inf"),
    (float("-inf"), b"-inf"),
    (float("nan"), b"nan"),
    (1 / 3, repr(1 / 3).encode()),
]
# Taken by writer and pack_args (upstream's to_bytes types and bytes-likes), not by
# pack_command (hiredis refuses them).
WRITER_ONLY_PAYLOADS = [
    (True, b"True"),
    (False, b"False"),
    (bytearray(b"ba\r\n"), b"ba\r\n"),
]


@pytest.mark.parametrize("arg, payload", PAYLOADS + WRITER_ONLY_PAYLOADS)
def test_argument_payloads(w, arg, payload):
    assert w.writer("CMD", arg) == resp(b"CMD", payload)
    assert w.pack_args(("CMD", arg)) == resp(b"CMD", payload)
    assert w.pack_args(["CMD", arg]) == resp(b"CMD", payload)


@pytest.mark.parametrize("arg, payload", PAYLOADS)
def test_pack_command_payloads(w, arg, payload):
    assert w.pack_command(("CMD", arg)) == resp(b"CMD", payload)
    assert w.pack_command(["CMD", arg]) == resp(b"CMD", payload)
    assert w.pack_commands([("CMD", arg)]) == resp(b"CMD", payload)


def test_module_names(w):
    assert sorted(w.__all__) == ["CommandBuffer", "pack_args", "pack_command", "pack_commands",
                                 "to_bytes", "writer"]
    assert all(callable(getattr(w, name)) for name in w.__all__)


def test_no_arguments(w):
    assert w.writer() == b"*0\r\n"
    assert w.pack_args(()) == b"*0\r\n"
    assert w.pack_command(()) == b"*0\r\n"
    assert w.pack_command([]) == b"*0\r\n"
    assert w.pack_commands([]) == b""


def test_returns_bytes(w):
    assert type(w.writer("PING")) is bytes
    assert type(w.pack_args(("PING",))) is bytes
    assert type(w.pack_command(("PING",))) is bytes
    assert type(w.pack_commands([("PING",)])) is bytes


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
    assert w.pack_args([arg]) == resp(payload)


def test_pack_command_takes_str_bytes_and_float_subclasses(w):
    assert w.pack_command((MyStr("s"), MyBytes(b"b"), MyFloat(2.5))) == resp(b"s", b"b", b"2.5")


def test_many_arguments_take_the_heap_path(w):
    args = ["MSET"] + ["k%d" % i for i in range(1000)]
    expected = resp(*[a.encode() for a in args])
    assert w.pack_command(tuple(args)) == expected
    assert w.pack_args(tuple(args)) == expected
    assert w.writer(*args) == expected
    assert w.pack_commands([args, args[:3]]) == expected + resp(b"MSET", b"k0", b"k1")


def test_many_arguments_with_a_bad_one(w):
    args = ("MSET",) + tuple("k%d" % i for i in range(40)) + (None,)
    with pytest.raises(ArgumentError, match="NoneType for command argument 41"):
        w.pack_args(args)
    with pytest.raises(ArgumentError, match="NoneType for command argument 41"):
        w.writer(*args)
    with pytest.raises(ArgumentError, match="bool for command argument 41"):
        w.pack_command(args[:-1] + (True,))


def test_large_payload(w):
    big = b"x" * (3 * 1024 * 1024)
    assert w.writer("SET", "k", big) == resp(b"SET", b"k", big)


# -- errors --------------------------------------------------------------------------
BAD = [None, {}, {"a": 1}, [1], (1,), object(), decimal.Decimal("1.5"), 1j, {1}]
BAD_IDS = ["None", "empty-dict", "dict", "list", "tuple", "object", "Decimal", "complex", "set"]


def refusals(w):
    """Every way of packing one command ``("SET", "k", bad)``, as callables of ``bad``."""
    return {
        "writer": lambda bad: w.writer("SET", "k", bad),
        "pack_args": lambda bad: w.pack_args(("SET", "k", bad)),
        "pack_args(list)": lambda bad: w.pack_args(["SET", "k", bad]),
        "pack_command": lambda bad: w.pack_command(("SET", "k", bad)),
        "pack_command(list)": lambda bad: w.pack_command(["SET", "k", bad]),
        "pack_commands": lambda bad: w.pack_commands([("PING",), ("SET", "k", bad)]),
        "CommandBuffer.add": lambda bad: w.CommandBuffer(0, 1 << 20, None).add("SET", "k", bad),
    }


@pytest.mark.parametrize("bad", BAD, ids=BAD_IDS)
def test_bad_argument_type(w, bad):
    for how, pack in refusals(w).items():
        with pytest.raises(ArgumentError) as info:
            pack(bad)
        assert isinstance(info.value, TypeError) and isinstance(info.value, ValueError), how
        message = str(info.value)
        assert "Invalid type %s for command argument 2: " % type(bad).__name__ in message, how
        expected = "pack_command takes" if how.startswith("pack_command") else "expected"
        assert expected in message, how


def test_bad_argument_in_first_position(w):
    with pytest.raises(ArgumentError, match="argument 0"):
        w.pack_command((None,))
    with pytest.raises(ArgumentError, match="argument 0"):
        w.pack_args((None,))


class Number(enum.IntEnum):
    ONE = 1


@pytest.mark.parametrize("arg", [True, False, Number.ONE, MyInt(7), bytearray(b"x")],
                         ids=["True", "False", "IntEnum", "int-subclass", "bytearray"])
def test_pack_command_refuses_what_hiredis_refuses(w, arg):
    for pack in (w.pack_command, lambda c: w.pack_commands([c])):
        with pytest.raises(ArgumentError, match="Invalid type %s for command argument 2: "
                           "pack_command takes str, bytes, int, float or memoryview"
                           % type(arg).__name__):
            pack(("HSET", "foo", arg))
    assert w.writer("HSET", "foo", arg) == w.pack_args(["HSET", "foo", arg])  # writer: str()


def test_lone_surrogate_is_refused(w):
    with pytest.raises(UnicodeEncodeError):
        w.writer("SET", "k", "\udcff")


@pytest.mark.parametrize("bad", [b"GET", "GET", 5, None, iter([("GET",)])])
def test_pack_command_needs_a_tuple_or_list(w, bad):
    for pack in (w.pack_command, w.pack_args, lambda c: w.pack_commands([c])):
        with pytest.raises(ArgumentError, match="A command must be a tuple or list of "
                           "arguments, not %s" % type(bad).__name__):
            pack(bad)


def test_pack_commands_concatenates_in_order(w):
    commands = [("SET", "a", 1), ["GET", b"a"], ("MSET", "x", 1.5, "y", memoryview(b"z"))]
    assert w.pack_commands(commands) == b"".join(w.pack_command(c) for c in commands)
    assert w.pack_commands(iter(commands)) == w.pack_commands(commands)


def test_pack_commands_rejects_the_whole_batch(w):
    with pytest.raises(ArgumentError):
        w.pack_commands([("SET", "a", 1), ("SET", "b", None)])
    with pytest.raises(ArgumentError, match="tuple or list"):
        w.pack_commands([("PING",), "PING"])


class Shrinks(float):
    """A float whose str() empties the command list it is in (from index 1 on)."""

    command = None

    def __str__(self):
        del self.command[1:]
        return "2.5"


class Grows(float):
    def __str__(self):
        self.command.extend(["x"] * 20)
        return "2.5"


@pytest.mark.parametrize("kind", [Shrinks, Grows])
def test_a_list_changed_while_packing_is_packed_as_it_was(w, kind):
    """A frame's ``*<n>`` header and its arguments always agree: the list is read once."""
    packers = {"pack_command": w.pack_command, "pack_args": w.pack_args,
               "pack_commands": lambda command: w.pack_commands([command])}
    for name, pack in packers.items():
        command = ["SET", "k", kind(2.5), "tail"]
        kind.command = command
        assert pack(command) == resp(b"SET", b"k", b"2.5", b"tail"), name
        assert len(command) != 4  # it did change


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
    with pytest.raises(ArgumentError, match="Cannot convert %s to bytes" % type(value).__name__):
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


# One argument of each kind, for the differential test below.
DIFFERENTIAL = [
    "text", "", "h\u00e9 \U0001f600", MyStr("sub"), "\udcff",
    b"raw\r\n", b"", MyBytes(b"sub"),
    0, -17, 2 ** 63 - 1, -2 ** 63, 2 ** 64, -(10 ** 30),
    1.5, -0.0, 1e20, 1e-7, float("inf"), float("nan"), MyFloat(2.5),
    True, False, Number.ONE, MyInt(7),
    memoryview(b"view"), memoryview(array.array("i", [1, 2])),
    bytearray(b"ba"), None, decimal.Decimal("1.5"), [1], (1,), {"a": 1}, {1}, object(), 1j,
]


def _outcome(pack, args):
    """What packing ``args`` gives: the bytes, or the class of refusal."""
    try:
        return pack(args)
    except UnicodeEncodeError:
        return UnicodeEncodeError
    except TypeError:
        return TypeError


@needs_hiredis
@pytest.mark.parametrize("arg", DIFFERENTIAL, ids=lambda arg: type(arg).__name__)
def test_pack_command_against_hiredis(w, arg):
    """Same bytes for what hiredis takes; refused (ArgumentError, a TypeError) what it refuses."""
    args = ("SET", "k", arg)
    ours = _outcome(w.pack_command, args)
    assert ours == _outcome(hiredis.pack_command, args)
    if ours is TypeError:
        with pytest.raises(ArgumentError):
            w.pack_command(args)


@needs_hiredis
def test_pack_command_takes_more_than_hiredis_in_two_places(w):
    # A list as the command:
    assert w.pack_command(["GET", "k"]) == hiredis.pack_command(("GET", "k"))
    with pytest.raises(TypeError):
        hiredis.pack_command(["GET", "k"])
    # A non-contiguous memoryview contributes what it shows (hiredis: its underlying bytes).
    view = memoryview(b"0123456789")[2:8:2]
    assert w.pack_command(("SET", view)) == resp(b"SET", b"246")


@pytest.mark.c_extension
def test_the_twins_agree():
    import pyredis.protocol._writer as compiled
    import pyredis.protocol._writer_py as pure
    args = ("SET", "k\u00e9", b"v", bytearray(b"ba"), memoryview(b"mv"), 1, -2, 2.5, True, 10 ** 25)
    assert compiled.pack_args(args) == pure.pack_args(args) == compiled.writer(*args)
    strict = tuple(a for a in args if type(a) not in (bytearray, bool))
    assert compiled.pack_command(strict) == pure.pack_command(strict)


@pytest.mark.c_extension
@pytest.mark.parametrize("bad", [None, True, bytearray(b"x"), MyInt(7), "\udcff"],
                         ids=["None", "bool", "bytearray", "int-subclass", "surrogate"])
def test_the_twins_refuse_alike(bad):
    import pyredis.protocol._writer as compiled
    import pyredis.protocol._writer_py as pure
    for name in ("pack_command", "pack_args"):
        errors = []
        for twin in (compiled, pure):
            try:
                getattr(twin, name)(("SET", "k", bad))
                errors.append(None)
            except Exception as exc:  # noqa: BLE001  (comparing what each twin raises)
                errors.append((type(exc), str(exc)))
        assert errors[0] == errors[1], name


scalars = st.one_of(
    st.text(max_size=40),
    st.binary(max_size=40),
    st.binary(max_size=40).map(bytearray),
    st.binary(max_size=40).map(memoryview),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
)


def _hiredis_types(command):
    return all(type(a) in (str, bytes, int, float, memoryview) for a in command)


@settings(max_examples=300, deadline=None)
@given(commands=st.lists(st.lists(scalars, max_size=12).map(tuple), min_size=1, max_size=5))
def test_property_twins_agree_and_round_trip(commands):
    import pyredis.protocol._writer_py as pure
    try:
        import pyredis.protocol._writer as compiled
    except ImportError:  # a pure-only install (run with --no-c-extensions)
        compiled = pure
    packed = b"".join(compiled.pack_args(c) for c in commands)
    assert packed == b"".join(pure.pack_args(c) for c in commands)
    reader = Reader()
    reader.feed(packed)
    for args in commands:
        expected = [pure.to_bytes(a) if isinstance(a, (str, int, float, bytes)) else bytes(a)
                    for a in args]
        assert reader.gets() == expected
    assert reader.gets() is False
    strict = [c for c in commands if _hiredis_types(c)]
    assert compiled.pack_commands(strict) == pure.pack_commands(strict) == b"".join(
        compiled.pack_args(c) for c in strict)
    if hiredis is not None:
        for args in strict:
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
    with pytest.raises(ArgumentError):
        buf.add("SET", "k", None)
    assert buf.pending == 1 and len(buf) == len(w.writer("PING"))
    assert buf.take() == w.writer("PING")


def test_command_buffer_has_no_other_attributes(w):
    buf = w.CommandBuffer(0, 1 << 20, None)
    with pytest.raises(AttributeError):
        buf.chunks = []  # a typo in the owner fails loudly in both twins
    buf.pending = 5  # the one attribute its owner sets
    assert buf.pending == 5


def test_command_buffer_takes_what_writer_takes(w):
    buf = w.CommandBuffer(0, 1 << 20, None)
    buf.add("SET", "k", True, bytearray(b"ba"), memoryview(b"mv"), 2.5, MyInt(7))
    assert buf.take() == w.writer("SET", "k", True, bytearray(b"ba"), memoryview(b"mv"), 2.5, MyInt(7))


SET_10 = ("SET", "k", b"v" * 10)
SET_10_SIZE = 37  # bytes packed


@pytest.mark.parametrize("limit, full_after", [
    (SET_10_SIZE + 1, 2),          # one command packs to one byte under the limit: not full
    (SET_10_SIZE, 1),              # exactly at the limit: full
    (SET_10_SIZE - 1, 1),          # one byte over: full
    (2 * SET_10_SIZE + 1, 3),      # two commands one byte under, the third goes over
    (2 * SET_10_SIZE, 2),          # two commands exactly at the limit
], ids=["under", "at", "over", "two-under", "two-at"])
def test_command_buffer_byte_limit_boundaries(w, limit, full_after):
    assert len(w.writer(*SET_10)) == SET_10_SIZE
    calls = []
    buf = w.CommandBuffer(0, limit, lambda: calls.append((buf.pending, len(buf))))
    for _ in range(full_after - 1):
        buf.add(*SET_10)
    assert calls == []
    buf.add(*SET_10)
    assert calls == [(full_after, SET_10_SIZE * full_after)]


@pytest.mark.parametrize("flush_every", [1, 2, 3])
def test_command_buffer_count_boundaries(w, flush_every):
    calls = []
    buf = w.CommandBuffer(flush_every, 1 << 20, lambda: calls.append(buf.pending))
    for count in range(1, flush_every):
        buf.add("PING")
        assert calls == [] and buf.pending == count
    buf.add("PING")
    assert calls == [flush_every]
    assert buf.take() == w.writer("PING") * flush_every and len(buf) == 0


def test_command_buffer_size_counts_every_add_and_resets_on_take(w):
    buf = w.CommandBuffer(0, 1 << 20, None)
    assert len(buf) == 0 and buf.pending == 0
    buf.add(*SET_10)
    buf.add("PING")
    assert len(buf) == SET_10_SIZE + len(w.writer("PING"))
    assert buf.take() == w.writer(*SET_10) + w.writer("PING")
    assert len(buf) == 0 and buf.take() == b""
    buf.add("PING")  # a taken buffer packs on from empty
    assert len(buf) == len(w.writer("PING")) and buf.pending == 3
