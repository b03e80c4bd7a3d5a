"""Reader (RESP parser): every behaviour against both twins, hiredis as the reference.

``reader`` tests take the ``twin`` fixture; where hiredis is the behavioural
reference the same input also goes through ``hiredis.Reader`` and the results
are compared. Deliberate differences from hiredis are tested as such (see the
``*_unlike_hiredis`` tests): byte-exact bulk framing checks, RESP3 big numbers
as int, blob errors, attributes dropped, sets as lists, decode fallback.
"""
import array
import gc
import math
import os
import socket
import subprocess
import sys
import tracemalloc

import pytest

import pyredis
from pyredis.exceptions import ProtocolError, ReplyError
from pyredis.protocol import _types
from pyredis.protocol._types import DEFAULT_MAXBUF, MAX_BULK_LEN, PushNotification
from servers import RedisServer, pack

try:
    import hiredis
except ImportError:  # the comparisons need it; the twin tests do not
    hiredis = None

needs_hiredis = pytest.mark.skipif(hiredis is None, reason="hiredis is not installed")

MISSING = object()  # notEnoughData for tests that must tell "#f" from "no reply"


@pytest.fixture
def mod(twin):
    return twin.load("pyredis.protocol._reader")


@pytest.fixture
def Reader(mod):
    return mod.Reader


def replies(reader, data=b"", sentinel=False):
    """Feed ``data``; return every complete reply."""
    if data:
        reader.feed(data)
    out = []
    while True:
        reply = reader.gets()
        if reply is sentinel:
            return out
        out.append(reply)


def parse(Reader, data, **kwargs):
    kwargs.setdefault("notEnoughData", MISSING)
    return replies(Reader(**kwargs), data, MISSING)


def normalize(value):
    """Comparable form across implementations (their error classes differ)."""
    if isinstance(value, BaseException):
        return ("error", type(value).__name__.replace("hiredis.", ""), value.args)
    if type(value).__name__ == "PushNotification":
        return ("push", [normalize(v) for v in value])
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items()}
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


def parse_hiredis(data, **kwargs):
    kwargs.setdefault("notEnoughData", MISSING)
    kwargs.setdefault("replyError", ReplyError)
    kwargs.setdefault("protocolError", ProtocolError)
    return replies(hiredis.Reader(**kwargs), data, MISSING)


# -- the twins are one product -------------------------------------------------

def test_compiled_twin_is_a_compiled_module(twin, mod):
    if twin.compiled:
        assert mod.__file__.endswith((".so", ".pyd")), mod.__file__
        assert mod.Reader.__module__ == "pyredis.protocol._reader"
    else:
        assert mod.Reader.__module__ == "pyredis.protocol._reader_py"


@pytest.mark.c_extension
def test_both_twins_have_the_same_public_methods():
    from pyredis.protocol import _reader, _reader_py

    def public(cls):
        return {name for name in dir(cls) if not name.startswith("_")}

    assert public(_reader.Reader) == public(_reader_py.Reader) == {
        "feed", "gets", "set_encoding", "setmaxbuf", "getmaxbuf", "len", "has_data"}


# -- construction --------------------------------------------------------------

def test_defaults(Reader):
    r = Reader()
    r.feed(b"-ERR x\r\n+OK\r\n")
    err = r.gets()
    assert type(err) is ReplyError and err.args == ("ERR x",)
    assert r.gets() == b"OK"
    assert r.gets() is False
    assert r.getmaxbuf() == DEFAULT_MAXBUF


def test_positional_arguments_follow_upstreams_order(Reader):
    # pyredis 1.0's Reader(encoding, protocolError, replyError), then hiredis' others.
    r = Reader("utf-8", KeyError, ValueError, "strict", MISSING)
    r.feed(b"$2\r\nhi\r\n-bad\r\n")
    assert r.gets() == "hi"
    assert type(r.gets()) is ValueError
    assert r.gets() is MISSING
    r.feed(b"@")
    with pytest.raises(KeyError):
        r.gets()


def test_factories_may_be_callables(Reader):
    made = []

    def reply_error(message):
        made.append(message)
        return LookupError("wrapped: " + message)

    r = Reader(replyError=reply_error, protocolError=lambda m: OSError(7, m))
    r.feed(b"-WRONGTYPE no\r\n")
    err = r.gets()
    assert type(err) is LookupError and err.args == ("wrapped: WRONGTYPE no",)
    assert made == ["WRONGTYPE no"]
    r.feed(b"?\r\n")
    with pytest.raises(OSError) as info:
        r.gets()
    assert info.value.errno == 7


@pytest.mark.parametrize("arg", ["protocolError", "replyError"])
@pytest.mark.parametrize("bad", ["wrong", 1, None, ProtocolError("instance")])
def test_non_callable_factories_are_rejected(Reader, arg, bad):
    with pytest.raises(TypeError, match=arg):
        Reader(**{arg: bad})


@needs_hiredis
@pytest.mark.parametrize("bad", ["wrong", 1])
def test_hiredis_rejects_the_same_factories(bad):
    with pytest.raises(TypeError):
        hiredis.Reader(replyError=bad)


def test_unknown_keyword_is_a_type_error(Reader):
    with pytest.raises(TypeError):
        Reader(foo=1)


def test_unknown_codec_names_fail_at_construction_like_hiredis(Reader):
    with pytest.raises(LookupError):
        Reader(encoding="no-such-codec")
    with pytest.raises(LookupError):
        Reader(encoding="utf-8", errors="no-such-handler")
    with pytest.raises(TypeError, match="^encoding must be a str or None, not 'bytes'$"):
        Reader(encoding=b"utf-8")
    with pytest.raises(TypeError, match="^errors must be a str or None, not 'int'$"):
        Reader(encoding="utf-8", errors=1)
    if hiredis is not None:
        with pytest.raises(LookupError):
            hiredis.Reader(encoding="no-such-codec")


def test_subclass_with_its_own_init(Reader):
    class Tagged(Reader):
        def __init__(self, tag, **kwargs):
            super().__init__(**kwargs)
            self.tag = tag

    r = Tagged("t1", encoding="utf-8")
    r.feed(b"+hi\r\n")
    assert (r.tag, r.gets()) == ("t1", "hi")
    assert isinstance(r, Reader)


def test_subclass_that_skips_init_still_parses(Reader):
    class Lazy(Reader):
        def __init__(self):
            pass

    r = Lazy()
    r.feed(b"*2\r\n:1\r\n-e\r\n")
    reply = r.gets()
    assert reply[0] == 1 and type(reply[1]) is ReplyError
    assert r.gets() is False


def test_subclass_that_skips_init_has_the_default_line_limit(Reader):
    class Lazy(Reader):
        def __init__(self):
            pass

    limit = _types.DEFAULT_MAX_LINE_LENGTH
    r = Lazy()
    r.feed(b"+" + b"x" * limit + b"\r\n")
    assert len(r.gets()) == limit
    r.feed(b"+" + b"x" * (limit + 1) + b"\r\n")
    with pytest.raises(ProtocolError, match="longer than %d bytes" % limit):
        r.gets()


# -- feed ----------------------------------------------------------------------

@pytest.mark.parametrize("wrap", [
    bytes, bytearray, memoryview,
    lambda b: memoryview(b"xx" + b + b"yy")[2:-2],
    lambda b: array.array("B", b),
], ids=["bytes", "bytearray", "memoryview", "memoryview-slice", "array"])
def test_feed_accepts_contiguous_buffers(Reader, wrap):
    r = Reader()
    r.feed(wrap(b"$5\r\nhe\r\nl\r\n*1\r\n:7\r\n"))
    assert replies(r) == [b"he\r\nl", [7]]


def test_feed_copies_mutable_data(Reader):
    data = bytearray(b"+abc\r\n")
    r = Reader()
    r.feed(data)
    data[1:4] = b"xyz"
    assert r.gets() == b"abc"


@pytest.mark.parametrize("bad", ["+ok\r\n", 7, None, object(), [b"+ok\r\n"]])
def test_feed_rejects_non_buffers(Reader, bad):
    with pytest.raises(TypeError):
        Reader().feed(bad)


def test_feed_rejects_non_contiguous_buffers(Reader):
    with pytest.raises(TypeError, match="^%s$" % _types.MSG_NOT_CONTIGUOUS):
        Reader().feed(memoryview(b"+ok\r\n+ok\r\n")[::2])


@pytest.mark.parametrize("args", [(6,), (0, 6), (-1,), (0, -2), (5, 1), (2, 4)])
def test_feed_offset_and_length_out_of_range(Reader, args):
    r = Reader()
    with pytest.raises(ValueError):
        r.feed(b"+ok\r\n", *args)
    with pytest.raises(ValueError):
        r.feed(bytearray(b"+ok\r\n"), *args)
    assert r.len() == 0 and r.gets() is False
    if hiredis is not None:
        with pytest.raises(ValueError):
            hiredis.Reader().feed(b"+ok\r\n", *args)


@pytest.mark.parametrize("args, expected", [
    ((2,), [b"ok"]),                # offset: to the end
    ((2, 5), [b"ok"]),              # offset + length
    ((2, 4), []),                   # a partial reply stays buffered
    ((0, 0), []),                   # length 0: nothing
    ((10,), []),                    # offset == len: nothing
    ((2, -1), [b"ok"]),             # -1: to the end
], ids=["offset", "offset-length", "partial", "zero-length", "at-end", "minus-one"])
def test_feed_offset_and_length(Reader, args, expected):
    data = b"xx+ok\r\n+no"
    for kind in (bytes, bytearray, memoryview):
        r = Reader()
        r.feed(kind(data), *args)
        assert replies(r) == expected
        if hiredis is not None:
            h = hiredis.Reader()
            h.feed(kind(data), *args)
            assert replies(h) == expected


def test_feed_offset_and_length_none_mean_the_defaults(Reader):
    r = Reader()
    r.feed(b"+ok\r\n", None, None)
    r.feed(b"+ok\r\n", 0, -1)  # hiredis' defaults
    r.feed(bytearray(b"+ok\r\n"), None, None)
    r.feed(b"x+ok\r\n", 1)
    r.feed(b"+ok\r\nx", None, 5)
    assert replies(r) == [b"ok"] * 5


def test_feed_defaults_are_upstreams(Reader):
    import inspect

    parameters = list(inspect.signature(Reader.feed).parameters.values())[1:]
    assert [(p.name, p.default) for p in parameters] == [
        ("data", inspect.Parameter.empty), ("offset", None), ("length", None)]


def test_feed_keywords(Reader):
    r = Reader()
    r.feed(data=b"--+ok\r\n", offset=2, length=5)
    assert r.gets() == b"ok"


def test_feed_offsets_must_be_integers(Reader):
    with pytest.raises(TypeError):
        Reader().feed(b"+ok\r\n", "1")
    with pytest.raises(TypeError):
        Reader().feed(b"+ok\r\n", 0, 1.5)


# -- gets, len, has_data, maxbuf ----------------------------------------------------

def test_incomplete_reply_waits_and_is_repeatable(Reader):
    r = Reader()
    r.feed(b"*2\r\n$3\r\nfo")
    assert r.gets() is False
    assert r.gets() is False
    r.feed(b"o\r\n:4")
    assert r.gets() is False
    r.feed(b"2\r\n")
    assert r.gets() == [b"foo", 42]
    assert r.gets() is False


def test_not_enough_data_sentinel_tells_false_apart(Reader):
    r = Reader(notEnoughData=MISSING)
    assert r.gets() is MISSING
    r.feed(b"#f\r\n#t\r\n")
    assert r.gets() is False
    assert r.gets() is True
    assert r.gets() is MISSING
    r = Reader(notEnoughData=None)
    assert r.gets() is None


def test_len_and_has_data(Reader):
    r = Reader()
    assert (r.len(), r.has_data()) == (0, False)
    r.feed(b"+OK\r\n$10\r\npart")
    assert (r.len(), r.has_data()) == (14, True)
    assert r.gets() == b"OK"
    assert (r.len(), r.has_data()) == (9, True)
    assert r.gets() is False
    assert r.len() == 9
    r.feed(b"ial456\r\n")
    assert r.len() == 17
    assert r.gets() == b"partial456"
    assert (r.len(), r.has_data()) == (0, False)


def test_len_counts_fed_but_unparsed_data(Reader):
    r = Reader()
    r.feed(b"+a\r\n" * 100)
    for left in range(99, -1, -1):
        assert r.gets() == b"a"
        assert r.len() == 4 * left


def test_maxbuf(Reader):
    r = Reader()
    r.setmaxbuf(0)
    assert r.getmaxbuf() == 0
    r.setmaxbuf(1 << 20)
    assert r.getmaxbuf() == 1 << 20
    with pytest.raises(ValueError):
        r.setmaxbuf(-1)
    with pytest.raises(TypeError):
        r.setmaxbuf("10")
    r.setmaxbuf(1 << 100)  # "never", in practice
    assert r.getmaxbuf() == sys.maxsize


def test_setmaxbuf_none_restores_the_default_like_hiredis(Reader):
    r = Reader()
    assert r.getmaxbuf() == DEFAULT_MAXBUF
    r.setmaxbuf(10)
    r.setmaxbuf(None)
    assert r.getmaxbuf() == DEFAULT_MAXBUF
    if hiredis is not None:
        h = hiredis.Reader()
        default = h.getmaxbuf()
        h.setmaxbuf(10)
        h.setmaxbuf(None)
        assert h.getmaxbuf() == default


def _traced_after_consuming(Reader, maxbuf, size):
    r = Reader()
    r.setmaxbuf(maxbuf)
    tracemalloc.start()
    try:
        r.feed(b"$%d\r\n" % size + b"x" * size + b"\r\n")
        reply = r.gets()
        assert len(reply) == size
        del reply
        gc.collect()
        return tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()


def test_idle_buffer_above_maxbuf_is_released(Reader):
    assert _traced_after_consuming(Reader, 64 * 1024, 4 << 20) < 256 * 1024


def test_idle_buffer_is_released_after_several_replies(Reader):
    r = Reader()
    r.setmaxbuf(16 * 1024)
    bulk = b"$60000\r\n" + b"x" * 60000 + b"\r\n"
    r.feed(bulk)
    assert len(r.gets()) == 60000  # a size seen before
    tracemalloc.start()
    try:
        r.feed(b"+a\r\n" + bulk)
        assert r.gets() == b"a"
        assert len(r.gets()) == 60000
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert kept < 16 * 1024


def test_maxbuf_zero_keeps_the_compiled_buffer(twin, Reader):
    kept = _traced_after_consuming(Reader, 0, 4 << 20)
    if twin.compiled:
        assert kept >= 4 << 20
    else:  # the pure twin always drops its consumed window (documented)
        assert kept < 256 * 1024


def test_reader_keeps_working_after_its_buffer_was_released(Reader):
    r = Reader()
    r.setmaxbuf(16)
    for i in range(3):
        r.feed(b"$100\r\n" + b"%d" % i * 100 + b"\r\n")
        assert r.gets() == b"%d" % i * 100
        assert r.gets() is False


# -- RESP2 ---------------------------------------------------------------------

RESP2_CASES = [
    (b"+OK\r\n", [b"OK"]),
    (b"+\r\n", [b""]),
    (b":0\r\n:-42\r\n:9223372036854775807\r\n", [0, -42, 2 ** 63 - 1]),
    (b"$3\r\nabc\r\n$0\r\n\r\n$-1\r\n", [b"abc", b"", None]),
    (b"*0\r\n*-1\r\n", [[], None]),
    (b"*3\r\n:1\r\n*2\r\n$1\r\na\r\n*0\r\n$-1\r\n", [[1, [b"a", []], None]]),
    (b"*2\r\n*1\r\n+x\r\n*1\r\n*1\r\n:5\r\n", [[[b"x"], [[5]]]]),
]


@pytest.mark.parametrize("data, expected", RESP2_CASES)
def test_resp2(Reader, data, expected):
    assert parse(Reader, data) == expected
    if hiredis is not None:
        assert parse_hiredis(data) == expected


def test_big_integers(Reader):
    big = 12345678901234567890123456789
    assert parse(Reader, b":%d\r\n:-%d\r\n" % (big, big)) == [big, -big]


@pytest.mark.parametrize("payload", [
    b"line\n", b"line\r", b"line\r\n", b"\r\n", b"\r\n\r\n", b"\n\r", b"\r", b"$3\r\nabc",
    bytes(range(256)), b"x" * 70000, b"ends with cr\r",
])
def test_bulk_payloads_are_byte_exact(Reader, payload):
    data = b"$%d\r\n%s\r\n" % (len(payload), payload)
    assert parse(Reader, data + b"*2\r\n" + data + data) == [payload, [payload, payload]]


def test_errors_are_returned_not_raised(Reader):
    got = parse(Reader, b"-ERR unknown command\r\n*3\r\n:1\r\n-WRONGTYPE x\r\n*1\r\n-inner\r\n")
    assert type(got[0]) is ReplyError and got[0].args == ("ERR unknown command",)
    assert got[1][0] == 1
    assert type(got[1][1]) is ReplyError and got[1][1].args == ("WRONGTYPE x",)
    assert type(got[1][2][0]) is ReplyError and got[1][2][0].args == ("inner",)


def test_error_messages_are_decoded_as_utf8_with_replacement(Reader):
    (err,) = parse(Reader, b"-ERR caf\xc3\xa9 \xff\r\n")
    assert err.args == ("ERR caf\u00e9 \ufffd",)
    if hiredis is not None:
        assert parse_hiredis(b"-ERR caf\xc3\xa9 \xff\r\n")[0].args == err.args


# -- RESP3 ---------------------------------------------------------------------

RESP3_CASES = [
    (b"_\r\n", [None]),
    (b"#t\r\n#f\r\n", [True, False]),
    (b",1.5\r\n,-2\r\n,inf\r\n,-inf\r\n,1e3\r\n,.5\r\n,INF\r\n", [1.5, -2.0, math.inf, -math.inf, 1000.0, 0.5, math.inf]),
    (b",nan\r\n", ["nan"]),
    (b"=15\r\ntxt:Some string\r\n=4\r\nmkd:\r\n", [b"Some string", b""]),
    (b"%2\r\n+a\r\n:1\r\n$1\r\nb\r\n*1\r\n:2\r\n", [{b"a": 1, b"b": [2]}]),
    (b"%0\r\n%-1\r\n", [{}, None]),
    (b"~3\r\n:1\r\n:2\r\n:1\r\n~0\r\n", [[1, 2, 1], []]),
    (b"*2\r\n%1\r\n:1\r\n~1\r\n_\r\n_\r\n", [[{1: [None]}, None]]),
    (b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n", [("push", [b"message", b"ch", b"hi"])]),
    (b">0\r\n", [("push", [])]),
    (b"*1\r\n>1\r\n:1\r\n", [[("push", [1])]]),
    # a map header as long as the next line, inside an array of arrays
    (b"%2\r\n:1\r\n:2\r\n:3\r\n:4\r\n*1\r\n*1\r\n%2\r\n:1\r\n:2\r\n:3\r\n:4\r\n",
     [{1: 2, 3: 4}, [[{1: 2, 3: 4}]]]),
]


@pytest.mark.parametrize("data, expected", RESP3_CASES)
def test_resp3(Reader, data, expected):
    assert [normalize(v) for v in parse(Reader, data)] == expected
    if hiredis is not None:
        assert [normalize(v) for v in parse_hiredis(data)] == expected


def test_doubles_accept_infinity_spelled_out(Reader):
    data = b",INFINITY\r\n,-Infinity\r\n,infinity\r\n"
    assert parse(Reader, data) == [math.inf, -math.inf, math.inf]


def test_push_is_a_push_notification(Reader):
    (push,) = parse(Reader, b">2\r\n+invalidate\r\n*1\r\n+k\r\n")
    assert type(push) is PushNotification and isinstance(push, list)
    assert push == [b"invalidate", [b"k"]]


def test_big_numbers_are_ints_unlike_hiredis(Reader):
    data = b"(3492890328409238509324850943850943825024385\r\n(-7\r\n"
    assert parse(Reader, data) == [3492890328409238509324850943850943825024385, -7]


def test_blob_errors_are_reply_errors_unlike_hiredis(Reader):
    got = parse(Reader, b"!22\r\nSYNTAX invalid\r\nsyntax\r\n*1\r\n!3\r\nERR\r\n")
    assert type(got[0]) is ReplyError and got[0].args == ("SYNTAX invalid\r\nsyntax",)
    assert type(got[1][0]) is ReplyError and got[1][0].args == ("ERR",)


def test_sets_are_lists_so_unhashable_members_work(Reader):
    assert parse(Reader, b"~2\r\n*1\r\n:1\r\n%1\r\n:1\r\n:2\r\n") == [[[1], {1: 2}]]


def test_map_duplicate_keys_last_wins(Reader):
    assert parse(Reader, b"%2\r\n+k\r\n:1\r\n+k\r\n:2\r\n") == [{b"k": 2}]


UNHASHABLE_KEYS = [
    (b"%1\r\n*1\r\n:1\r\n:2\r\n", []),
    (b"%2\r\n:1\r\n:1\r\n%0\r\n:2\r\n", {}),
    (b"*1\r\n%1\r\n~0\r\n:2\r\n", []),
    (b"%1\r\n>1\r\n:1\r\n:2\r\n", PushNotification()),
    (b"*2\r\n%1\r\n*0\r\n:1\r\n%1\r\n%0\r\n:2\r\n", []),  # the first one
    (b"|1\r\n%1\r\n*0\r\n:1\r\n:2\r\n+v\r\n", []),         # in a dropped attribute
]


def _hash_error(key):
    with pytest.raises(TypeError) as info:
        hash(key)
    return str(info.value)


@pytest.mark.parametrize("data, key", UNHASHABLE_KEYS)
def test_unhashable_map_key_raises_type_error_like_hiredis(Reader, data, key):
    r = Reader()
    r.feed(data + b"+next\r\n")
    with pytest.raises(TypeError) as info:
        r.gets()
    assert type(info.value) is TypeError and str(info.value) == _hash_error(key)
    assert r.gets() == b"next"  # the whole reply was consumed: the stream is in sync
    assert r.gets() is False


@needs_hiredis
@pytest.mark.parametrize("data, key", UNHASHABLE_KEYS[:3])
def test_hiredis_raises_the_same_type_error(Reader, data, key):
    raised = []
    for reader in (Reader(), hiredis.Reader()):
        reader.feed(data)
        with pytest.raises(TypeError) as info:
            reader.gets()
        raised.append((type(info.value), str(info.value)))
    assert raised[0] == raised[1]


def test_unhashable_map_key_waits_for_the_whole_reply(Reader):
    r = Reader()
    r.feed(b"*2\r\n%2\r\n*0\r\n:1\r\n")
    assert r.gets() is False  # raised once the reply is complete, in both twins
    r.feed(b":2\r\n:3\r\n")
    assert r.gets() is False
    r.feed(b":4\r\n")
    with pytest.raises(TypeError):
        r.gets()
    assert not r.has_data()


def test_first_failure_of_a_reply_is_raised(Reader):
    r = Reader(encoding="utf-8")
    r.feed(b"*2\r\n%1\r\n*0\r\n:1\r\n$1\r\n\xff\r\n*2\r\n$1\r\n\xff\r\n%1\r\n*0\r\n:1\r\n")
    with pytest.raises(TypeError):
        r.gets()
    with pytest.raises(UnicodeDecodeError):
        r.gets()
    assert r.gets() is False


@pytest.mark.parametrize("data, expected", [
    (b"|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*2\r\n:2\r\n:3\r\n", [[2, 3]]),
    (b"*3\r\n:1\r\n|1\r\n+ttl\r\n:3600\r\n:2\r\n:3\r\n", [[1, 2, 3]]),
    (b"|0\r\n+after\r\n", [b"after"]),
    (b"|1\r\n+a\r\n+b\r\n|1\r\n+c\r\n+d\r\n+reply\r\n", [b"reply"]),
    (b"|1\r\n+a\r\n|1\r\n+b\r\n+c\r\n+d\r\n+reply\r\n", [b"reply"]),  # an attributed value
    (b"%1\r\n|1\r\n+a\r\n+b\r\n+k\r\n+v\r\n", [{b"k": b"v"}]),
    (b"|1\r\n+a\r\n+b\r\n>1\r\n+p\r\n", [PushNotification([b"p"])]),
])
def test_attributes_are_dropped_unlike_hiredis(Reader, data, expected):
    assert parse(Reader, data) == expected


def test_attribute_then_incomplete_reply_waits(Reader):
    r = Reader()
    r.feed(b"|1\r\n+a\r\n+b\r\n")
    assert r.gets() is False
    r.feed(b":1\r\n")
    assert r.gets() == 1


# -- encoding ------------------------------------------------------------------------

def test_encoding_decodes_strings_like_hiredis(Reader):
    data = (b"+caf\xc3\xa9\r\n$2\r\nhi\r\n=8\r\ntxt:ol\xc3\xa9\r\n-err\r\n:5\r\n"
            b"*2\r\n$1\r\na\r\n%1\r\n+k\r\n+v\r\n")
    expected = ["caf\u00e9", "hi", "ol\u00e9", ("error", "ReplyError", ("err",)), 5, ["a", {"k": "v"}]]
    assert [normalize(v) for v in parse(Reader, data, encoding="utf-8")] == expected
    if hiredis is not None:
        assert [normalize(v) for v in parse_hiredis(data, encoding="utf-8")] == expected


def test_other_encodings(Reader):
    assert parse(Reader, b"$2\r\n\xe9\xe8\r\n", encoding="latin-1") == ["\u00e9\u00e8"]
    assert parse(Reader, b"+\xff\xfe\r\n", encoding="utf-16-le") == ["\ufeff"]


def test_gets_false_returns_bytes(Reader):
    r = Reader(encoding="utf-8")
    r.feed(b"$2\r\nhi\r\n*1\r\n+ok\r\n$2\r\nhi\r\n")
    assert r.gets(False) == b"hi"
    assert r.gets(shouldDecode=False) == [b"ok"]
    assert r.gets() == "hi"
    if hiredis is not None:
        h = hiredis.Reader(encoding="utf-8")
        h.feed(b"$2\r\nhi\r\n")
        assert h.gets(False) == b"hi"


@pytest.mark.parametrize("errors", [None, "strict"])
def test_strict_decoding_is_the_default_like_hiredis(Reader, errors):
    data = b"*3\r\n$2\r\n\xff\xfe\r\n+ok\r\n+\xc3\r\n$2\r\nok\r\n"
    raised = []
    for reader in (Reader(encoding="utf-8", errors=errors),) + (
            (hiredis.Reader(encoding="utf-8", errors=errors),) if hiredis else ()):
        reader.feed(data)
        with pytest.raises(UnicodeDecodeError) as info:
            reader.gets()
        raised.append((info.value.object, info.value.start, info.value.reason))
        assert reader.gets() == "ok"  # the whole reply was consumed
    assert raised[0] == (b"\xff\xfe", 0, "invalid start byte")
    assert len(set(raised)) == 1


def _reraise(exc):
    raise exc


@pytest.mark.parametrize("errors", [None, "strict", "test-reader-reraise"])
def test_raw_fallback_returns_undecodable_strings_as_bytes(Reader, errors):
    import codecs

    codecs.register_error("test-reader-reraise", _reraise)
    r = Reader(encoding="utf-8", errors=errors, raw_fallback=True)
    r.feed(b"*3\r\n$2\r\n\xff\xfe\r\n+ok\r\n+\xc3\r\n$2\r\nok\r\n=6\r\ntxt:\xff\xfe\r\n")
    assert r.gets() == [b"\xff\xfe", "ok", b"\xc3"]
    assert r.gets() == "ok"
    assert r.gets() == b"\xff\xfe"


def test_raw_fallback_keeps_other_handlers(Reader):
    r = Reader(encoding="utf-8", errors="replace", raw_fallback=True)
    r.feed(b"$2\r\nA\xff\r\n")
    assert r.gets() == "A\ufffd"


def test_raw_fallback_keeps_unhashable_keys_an_error(Reader):
    r = Reader(encoding="utf-8", raw_fallback=True)
    r.feed(b"%1\r\n*0\r\n$1\r\n\xff\r\n")
    with pytest.raises(TypeError):
        r.gets()


def test_connections_keep_the_raw_fallback(redis):
    """pyredis' connections return undecodable bulk strings as bytes (pyredis
    1.0's behaviour without hiredis), sync and asyncio."""
    import asyncio

    from pyredis.connection import AsyncConnection, Connection

    conn = Connection(host=redis.host, port=redis.port, encoding="utf-8")
    try:
        conn.execute("SET", "k", b"\xff\xfe")
        assert conn.execute("GET", "k") == b"\xff\xfe"
        assert conn.execute("ECHO", "ok") == "ok"
    finally:
        conn.close()

    async def run():
        aconn = AsyncConnection(host=redis.host, port=redis.port, encoding="utf-8")
        try:
            return [await aconn.execute("GET", "k"), await aconn.execute("ECHO", "ok")]
        finally:
            await aconn.close()

    assert asyncio.run(run()) == [b"\xff\xfe", "ok"]


def test_errors_argument_is_applied(Reader):
    r = Reader(encoding="utf-8", errors="replace")
    r.feed(b"$2\r\nA\xff\r\n")
    assert r.gets() == "A\ufffd"
    r.set_encoding("utf-8", "surrogateescape")
    r.feed(b"+\xff\r\n")
    assert r.gets() == "\udcff"


def test_explicit_strict_raises_after_consuming_the_whole_reply(Reader):
    r = Reader(encoding="utf-8", errors="strict")
    r.feed(b"*3\r\n$1\r\n\xff\r\n$1\r\n\xfe\r\n:1\r\n+next\r\n")
    with pytest.raises(UnicodeDecodeError) as info:
        r.gets()
    assert info.value.object == b"\xff"  # the first failure
    assert r.gets() == "next"  # the stream stayed in sync
    assert r.gets() is False


def test_set_encoding_switches_mid_stream(Reader):
    r = Reader()
    r.feed(b"+a\r\n+b\r\n+c\r\n")
    assert r.gets() == b"a"
    r.set_encoding("utf-8")
    assert r.gets() == "b"
    r.set_encoding(None)
    assert r.gets() == b"c"
    with pytest.raises(LookupError):
        r.set_encoding("no-such-codec")
    with pytest.raises(LookupError):
        r.set_encoding(errors="no-such-handler")


# -- protocol errors -------------------------------------------------------------

BAD_STREAMS = [
    (b"@foo\r\n", "unknown reply type"),
    (b"@", "unknown reply type"),                 # known bad before the line ends
    (b"\r\n", "unknown reply type"),
    (b"\r\nab\rc\r\n", "not followed by '\\\\n' in a b'\\\\r' line"),  # '\r' is the type byte
    (b"$-2\r\n", "bad bulk string length"),
    (b"$abc\r\n", "bad bulk string length"),
    (b"$\r\n", "bad bulk string length"),
    (b"$ 3\r\nabc\r\n", "bad bulk string length"),
    (b"$+3\r\nabc\r\n", "bad bulk string length"),
    (b"$%d\r\n" % (MAX_BULK_LEN + 1), "out of range"),
    (b"$1234567890123456789\r\n", "out of range"),
    (b"$" + b"9" * 25, "out of range"),             # never terminated
    (b"*" + b"1" * 21 + b"x", "bad array length"),
    (b"*-2\r\n", "bad array length"),
    (b"*1x\r\n", "bad array length"),
    (b"%-5\r\n", "bad map length"),
    (b"|-1\r\n", "bad attribute length"),
    (b":12a\r\n", "bad integer value"),
    (b":\r\n", "bad integer value"),
    (b": 1\r\n", "bad integer value"),
    (b":1_000\r\n", "bad integer value"),
    (b":+1\r\n", "bad integer value"),
    (b"$3\r\nabcXY", "not followed by"),
    (b"$3\r\nabc\rX", "not followed by"),
    (b"*1\r\n$1\r\nab\r\n", "not followed by"),
    (b"+O\rK\r\n", "not followed by '\\\\n'"),
    (b"+OK\rX", "not followed by '\\\\n'"),
    (b":1\r2\r\n", "not followed by '\\\\n'"),
    (b"#x\r\n", "bad boolean"),
    (b"#\r\n", "bad boolean"),
    (b"_x\r\n", "bad null"),
    (b",abc\r\n", "bad double"),
    (b",1.5x\r\n", "bad double"),
    (b",1_0\r\n", "bad double"),
    (b",\r\n", "bad double"),
    (b"(1.5\r\n", "bad big number"),
    (b"(\r\n", "bad big number"),
    (b"=2\r\nab\r\n", "verbatim"),
    (b"=5\r\ntxtxx\r\n", "verbatim"),
    (b"*2\r\n:1\r\n?\r\n", "unknown reply type"),
    (b"\r\n+OK\r\n", "unknown reply type byte b'\\\\r'"),  # its line ends at the next '\r\n'
    (b"\r\n+OK\r", "unknown reply type byte b'\\\\r'"),    # may end there
    (b"\r\n+O\rK", "not followed by '\\\\n' in a b'\\\\r' line"),
    (b":\r1\r\n", "not followed by '\\\\n' in a b':' line"),
    (b"-a\rb\r\n", "not followed by '\\\\n' in a b'-' line"),
    (b"$3\r\nab\r\n+OK\r\n", "bulk string payload of 3 bytes not followed by"),  # not 'ab'
]


@pytest.mark.parametrize("data, message", BAD_STREAMS)
def test_protocol_errors(Reader, data, message):
    r = Reader()
    r.feed(data)
    with pytest.raises(ProtocolError, match=message):
        r.gets()
    # the reader stays failed, whatever comes next
    r.feed(b"+OK\r\n")
    with pytest.raises(ProtocolError, match=message):
        r.gets()


@pytest.mark.c_extension
@pytest.mark.parametrize("data, message", BAD_STREAMS)
def test_protocol_error_messages_are_identical_in_both_twins(data, message):
    from pyredis.protocol import _reader, _reader_py

    got = []
    for module in (_reader, _reader_py):
        r = module.Reader(protocolError=lambda m: ValueError(m))
        r.feed(data)
        with pytest.raises(ValueError) as info:
            r.gets()
        got.append(str(info.value))
    assert got[0] == got[1]


@needs_hiredis
@pytest.mark.parametrize("data", [
    b"@foo\r\n", b"$-2\r\n", b"$abc\r\n", b"*-2\r\n", b":12a\r\n", b"+O\rK\r\n", b"#x\r\n",
    b"_x\r\n", b",abc\r\n", b"=2\r\nab\r\n",
])
def test_hiredis_rejects_the_same_streams(data):
    h = hiredis.Reader()
    h.feed(data)
    with pytest.raises(hiredis.ProtocolError):
        h.gets()


def test_an_unterminated_line_is_checked_with_the_bytes_fed_after_it(Reader):
    r = Reader()
    r.feed(b"+x\r\nab\r")
    assert r.gets() == b"x"
    r.feed(b"$")
    with pytest.raises(ProtocolError, match="not followed by '\\\\n' in a b'a' line"):
        r.gets()


@pytest.mark.parametrize("bad, kwargs", [
    (b"+x\ry\r\n", {}), (b"-x\ry\r\n", {}), (b": 5\r\n", {}), (b":+5\r\n", {}),
    (b":1_0\r\n", {}), (b"+abcd\r\n", {"max_line_length": 3}),
    (b":1234\r\n", {"max_line_length": 3}), (b"\x00x\r\n", {}), (b"\x001\r\n", {}),
])
@pytest.mark.parametrize("before, after", [
    (b"+a\r\n", b"+b\r\n+c\r\n"),           # a top-level reply with replies after it
    (b"*3\r\n", b":1\r\n:2\r\n"),            # an array's first elements
    (b"*2\r\n*1\r\n", b":2\r\n"),            # an array inside an array
])
def test_bad_lines_are_rejected_wherever_they_come(Reader, bad, kwargs, before, after):
    r = Reader(**kwargs)
    top_level = before == b"+a\r\n"
    assert len(replies(r, before + b":0\r\n" + after)) == (4 if top_level else 1)  # same headers
    r.feed(before + bad + after)
    if top_level:
        assert r.gets() == b"a"
    with pytest.raises(ProtocolError):
        r.gets()


def test_bulk_length_limit_is_inclusive(Reader):
    r = Reader(notEnoughData=MISSING)
    r.feed(b"$%d\r\n" % MAX_BULK_LEN)
    assert r.gets() is MISSING  # waits for the payload


def test_missing_crlf_after_bulk_is_an_error_unlike_hiredis(Reader):
    r = Reader()
    r.feed(b"$3\r\nabcXX:1\r\n")
    with pytest.raises(ProtocolError):
        r.gets()


def test_protocol_error_class_and_factory(Reader):
    class MyError(Exception):
        pass

    r = Reader(protocolError=MyError)
    r.feed(b"!x\r\n")
    with pytest.raises(MyError, match="bad blob error length"):
        r.gets()
    r = Reader(protocolError=lambda m: MyError("wrapped " + m))
    r.feed(b"^")
    with pytest.raises(MyError, match="^wrapped Protocol error"):
        r.gets()


def test_replies_before_the_error_are_delivered(Reader):
    r = Reader()
    r.feed(b"+a\r\n:1\r\n@bad\r\n")
    assert r.gets() == b"a"
    assert r.gets() == 1
    with pytest.raises(ProtocolError):
        r.gets()


def _peak_while(callback):
    tracemalloc.start()
    try:
        callback()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("header", [
    b"*2000000000\r\n", b"$500000000\r\n", b"%1000000000\r\n", b"~999999999999999999\r\n",
    b">2000000000\r\n", b"*2000000000\r\n*2000000000\r\n*2000000000\r\n",
    b"=500000000\r\n", b"*1000\r\n" * 1000,
])
def test_claimed_sizes_allocate_nothing_before_the_data(Reader, header):
    r = Reader()

    def run():
        r.feed(header + b"$5\r\nabc")
        assert r.gets() is False

    assert _peak_while(run) < 4 << 20


def _depth(value):
    depth = 0
    while isinstance(value, (list, dict)):
        value = value[0] if isinstance(value, list) else next(iter(value.values()))
        depth += 1
    return depth, value


@pytest.mark.parametrize("opener", [b"*1\r\n", b"~1\r\n", b">1\r\n", b"%1\r\n:0\r\n"])
def test_ten_thousand_nested_levels_parse_without_recursion(Reader, opener):
    r = Reader(max_depth=10000)
    r.feed(opener * 10000 + b":1\r\n" + b"+after\r\n")
    assert _depth(r.gets()) == (10000, 1)
    assert r.gets() == b"after"


def test_deep_nesting_fed_in_pieces(Reader):
    data = b"*2\r\n" * 5000 + b":1\r\n" + b"$1\r\nx\r\n" * 5000
    r = Reader(max_depth=5000)
    for i in range(0, len(data), 777):
        r.feed(data[i:i + 777])
        if i + 777 < len(data):
            assert r.gets() is False
    depth, leaf = _depth(r.gets())
    assert (depth, leaf) == (5000, 1)



# -- limits: nesting depth, line length ----------------------------------------------

def test_limit_defaults():
    assert _types.DEFAULT_MAX_DEPTH == 1024
    assert _types.DEFAULT_MAX_LINE_LENGTH == 64 * 1024 * 1024


@pytest.mark.parametrize("innermost, ok", [(b":1\r\n", True), (b"*0\r\n", False), (b"*-1\r\n", False)])
def test_default_max_depth_is_hiredis_limit(Reader, innermost, ok):
    data = b"*1\r\n" * 1024 + innermost
    r = Reader()
    r.feed(data)
    if ok:
        assert _depth(r.gets())[0] == 1024
    else:
        with pytest.raises(ProtocolError, match="^Protocol error: aggregates nested deeper than 1024 levels$"):
            r.gets()
    if hiredis is not None:
        h = hiredis.Reader()
        h.feed(data)
        if ok:
            assert _depth(h.gets())[0] == 1024
        else:
            with pytest.raises(hiredis.ProtocolError, match="nesting depth"):
                h.gets()


@pytest.mark.parametrize("data, ok", [
    (b"*1\r\n*1\r\n*1\r\n:1\r\n", True),
    (b"*1\r\n*1\r\n*1\r\n*0\r\n", False),
    (b"*1\r\n*1\r\n*1\r\n*-1\r\n", False),
    (b"%1\r\n:1\r\n~1\r\n>1\r\n:1\r\n", True),
    (b"%1\r\n:1\r\n~1\r\n>1\r\n%0\r\n", False),
    (b"*1\r\n*1\r\n|1\r\n+a\r\n+b\r\n:1\r\n", True),       # a dropped attribute still nests
    (b"*1\r\n*1\r\n*1\r\n|1\r\n+a\r\n+b\r\n:1\r\n", False),
    (b"*2\r\n*2\r\n*2\r\n:1\r\n:2\r\n:3\r\n:4\r\n", True),  # arrays of simple elements
    (b"*2\r\n*2\r\n*2\r\n*1\r\n:1\r\n:2\r\n:3\r\n:4\r\n", False),
    (b"*3\r\n" + b"*9\r\n" + b"$1\r\nx\r\n" * 9 + b":2\r\n:3\r\n", True),
])
def test_max_depth(Reader, data, ok):
    for cut in range(1, len(data) + 1):
        r = Reader(max_depth=3, notEnoughData=MISSING)
        r.feed(data[:cut])
        if ok:
            got = replies(r, data[cut:], MISSING)
            assert got and got == parse(Reader, data, max_depth=10), cut
        else:
            with pytest.raises(ProtocolError, match="^Protocol error: aggregates nested deeper than 3 levels$"):
                replies(r, data[cut:], MISSING)


def test_max_depth_stops_a_hostile_stream_early(Reader):
    """32 MiB of '*1' once cost ~1 GB; now the 1025th header fails."""
    piece = b"*1\r\n" * (64 * 1024 // 4)
    r = Reader()

    def run():
        r.feed(piece)
        with pytest.raises(ProtocolError, match="nested deeper"):
            r.gets()

    assert _peak_while(run) < 2 << 20


@pytest.mark.parametrize("kwargs, error", [
    ({"max_depth": 0}, ValueError("max_depth must be >= 1, not 0")),
    ({"max_depth": -5}, ValueError("max_depth must be >= 1, not -5")),
    ({"max_line_length": 0}, ValueError("max_line_length must be >= 1, not 0")),
    ({"max_depth": 2.0}, TypeError("'float' object cannot be interpreted as an integer")),
    ({"max_line_length": "9"}, TypeError("'str' object cannot be interpreted as an integer")),
])
def test_limits_are_checked_at_construction(Reader, kwargs, error):
    with pytest.raises(type(error)) as info:
        Reader(**kwargs)
    assert str(info.value) == str(error)


def test_limits_are_keyword_only(Reader):
    with pytest.raises(TypeError):
        Reader(None, ProtocolError, ReplyError, None, False, 5)
    r = Reader(max_depth=2 ** 80, max_line_length=2 ** 80)  # clamped, not an overflow
    assert parse(Reader, b"*1\r\n*1\r\n:1\r\n", max_depth=2 ** 80) == [[[1]]]
    del r


LINE_TYPES = [(b"+", "simple string", b"x"), (b"-", "simple error", b"x"), (b":", "integer", b"7"),
              (b"(", "big number", b"7"), (b",", "double", b"1"), (b"#", "boolean", b"t"),
              (b"_", "null", b"x")]


@pytest.mark.parametrize("type_byte, name, filler", LINE_TYPES)
def test_max_line_length_unterminated(Reader, type_byte, name, filler):
    r = Reader(max_line_length=100, notEnoughData=MISSING)
    r.feed(type_byte + filler * 60)
    assert r.gets() is MISSING
    r.feed(filler * 40 + b"\r")  # 100 bytes and a '\r': may still be a line
    assert r.gets() is MISSING
    r = Reader(max_line_length=100, notEnoughData=MISSING)
    r.feed(type_byte + filler * 60)
    assert r.gets() is MISSING
    r.feed(filler * 41)
    message = "^Protocol error: %s line longer than 100 bytes$" % name
    with pytest.raises(ProtocolError, match=message):
        r.gets()
    with pytest.raises(ProtocolError, match=message):
        r.gets()  # the reader stays failed


@pytest.mark.parametrize("type_byte, name, filler", LINE_TYPES)
def test_max_line_length_complete_lines(Reader, type_byte, name, filler):
    """The limit does not depend on how the line arrives."""
    ok = type_byte + filler * 100 + b"\r\n"
    too_long = type_byte + filler * 101 + b"\r\n"
    if type_byte not in b"_#":  # those two are bad values at any length above 1
        assert len(parse(Reader, ok + b"+next\r\n", max_line_length=100)) == 2
    for cut in (len(too_long), 50, 101):
        r = Reader(max_line_length=100, notEnoughData=MISSING)
        with pytest.raises(ProtocolError, match="^Protocol error: %s line longer than 100 bytes$" % name):
            replies(r, too_long[:cut], MISSING)
            replies(r, too_long[cut:], MISSING)


def test_max_line_length_is_not_for_bulk_strings_or_stray_cr(Reader):
    assert parse(Reader, b"$20\r\n" + b"b" * 20 + b"\r\n", max_line_length=5) == [b"b" * 20]
    assert parse(Reader, b"*1\r\n$20\r\n" + b"b" * 20 + b"\r\n", max_line_length=5) == [[b"b" * 20]]
    with pytest.raises(ProtocolError, match="not followed by"):
        parse(Reader, b"+" + b"x" * 20 + b"\rx\r\n", max_line_length=5)


def test_default_max_line_length(Reader):
    limit = _types.DEFAULT_MAX_LINE_LENGTH
    r = Reader(notEnoughData=MISSING)
    r.feed(b"-" + b"e" * limit)
    assert r.gets() is MISSING
    r.feed(b"e")
    with pytest.raises(ProtocolError, match="simple error line longer than %d bytes" % limit):
        r.gets()


@pytest.mark.parametrize("type_byte", [b"+", b"-"])
def test_unterminated_line_is_searched_once(Reader, type_byte):
    """Each fed byte of a line is searched for its end once, not once per feed
    (a deterministic count kept for this test; no timing)."""
    piece = b"x" * 1024
    pieces = 2048  # a 2 MiB line
    r = Reader(notEnoughData=MISSING)
    r.feed(type_byte)
    for _ in range(pieces):
        r.feed(piece)
        assert r.gets() is MISSING
    assert r._scanned <= 2 * len(piece) * pieces  # searching from the line start: ~2 GiB
    r.feed(b"\r\n+after\r\n")
    reply = r.gets()
    assert (reply if type_byte == b"+" else reply.args[0].encode()) == piece * pieces
    assert r.gets() == b"after"


def test_unterminated_line_fed_in_three_pieces_after_a_reply(Reader):
    r = Reader(notEnoughData=MISSING)
    r.feed(b"+A\r\n+OK")
    assert r.gets() == b"A"
    assert r.gets() is MISSING
    r.feed(b"more")
    assert r.gets() is MISSING
    r.feed(b"\r\n")
    assert r.gets() == b"OKmore"


def test_waiting_for_a_payload_does_not_look_at_it_again(Reader):
    """A gets() with too few new bytes to finish the payload does constant work,
    however much of it is buffered (a deterministic count of the calls made)."""
    r = Reader(notEnoughData=MISSING)
    r.feed(b"$%d\r\n" % (4 * 2000 + 10) + b"ab\r\n" * 2000)
    assert r.gets() is MISSING
    for _ in range(3):
        r.feed(b"x")
        events = []
        sys.setprofile(lambda frame, event, arg: events.append(event))
        try:
            reply = r.gets()
        finally:
            sys.setprofile(None)
        assert reply is MISSING
        assert len(events) < 50


def test_unterminated_line_cut_before_a_bad_cr(Reader):
    r = Reader(notEnoughData=MISSING)
    r.feed(b"+x\r\n+ab\rc")
    assert r.gets() == b"x"
    r.feed(b"d")
    with pytest.raises(ProtocolError, match="not followed by"):
        r.gets()


# -- streams cut anywhere ----------------------------------------------------------

MIXED = (
    b"+OK\r\n-ERR e\r\n:-12\r\n$5\r\nab\r\nc\r\n$-1\r\n*3\r\n$0\r\n\r\n*0\r\n:3\r\n"
    b"_\r\n#t\r\n,2.5\r\n(12345678901234567890\r\n=8\r\ntxt:a\r\nb\r\n"
    b"%1\r\n+k\r\n~2\r\n:1\r\n:2\r\n>2\r\n+m\r\n!3\r\nE\r\n\r\n|1\r\n+a\r\n+b\r\n+z\r\n"
    b"*10\r\n" + b"$3\r\nabc\r\n" * 10
)


def _mixed_expected(Reader):
    return [normalize(v) for v in parse(Reader, MIXED)]


def test_mixed_stream_content(Reader):
    assert _mixed_expected(Reader) == [
        b"OK", ("error", "ReplyError", ("ERR e",)), -12, b"ab\r\nc", None, [b"", [], 3],
        None, True, 2.5, 12345678901234567890, b"a\r\nb",
        {b"k": [1, 2]}, ("push", [b"m", ("error", "ReplyError", ("E\r\n",))]), b"z",
        [b"abc"] * 10,
    ]


def test_stream_cut_at_every_point(Reader):
    expected = _mixed_expected(Reader)
    for cut in range(1, len(MIXED)):
        r = Reader(notEnoughData=MISSING)
        got = replies(r, MIXED[:cut], MISSING)
        got += replies(r, MIXED[cut:], MISSING)
        assert [normalize(v) for v in got] == expected, cut


def test_stream_fed_byte_by_byte(Reader):
    r = Reader(notEnoughData=MISSING)
    got = []
    for i in range(len(MIXED)):
        got += replies(r, MIXED[i:i + 1], MISSING)
    assert [normalize(v) for v in got] == _mixed_expected(Reader)
    assert r.len() == 0 and not r.has_data()


def test_feeding_without_draining_in_between(Reader):
    r = Reader()
    for _ in range(50):
        r.feed(b"*2\r\n$3\r\nabc\r\n:1\r\n+x")
        r.feed(b"\r\n")
    assert replies(r) == [[b"abc", 1], b"x"] * 50


# -- the fast paths for arrays of bulk strings ---------------------------------------
# Arrays of bulk strings (and of other short elements) skip the general loop in
# both twins. Whether they do depends on state: the element count, the bytes
# already buffered, the pure twin's cache of length lines seen before. Each test
# runs from a fresh Reader, after other traffic, and with that cache empty.

def _bulk(payload):
    return b"$%d\r\n%s\r\n" % (len(payload), payload)


# Payloads that are short, look like RESP lines, hold '\r\n' or cross 1 KiB.
FAST_PATH_PAYLOADS = [b"ab", b"$2", b"*1", b":1", b"+O", b"-E", b"", b"\r\n", b"\n\r", b"a\r\nb",
                      b"x" * 1023, b"y" * 1024]
AFTER = (b"+OK\r\n:1\r\n" + _bulk(b"ab") + b"*2\r\n" + _bulk(b"c") + _bulk(b"d"),
         [b"OK", 1, b"ab", [b"c", b"d"]])


def _fast_path_cases():
    """(wire, model) pairs, each followed by more replies in the same buffer."""
    cases = []
    for size in (8, 9, 12, 16, 100):
        for payload in FAST_PATH_PAYLOADS:
            items = [payload if i % 3 == 0 else b"%02d" % i for i in range(size)]
            cases.append((b"*%d\r\n" % size + b"".join(map(_bulk, items)), items))
        items = [b"%02d" % i for i in range(size)]
        cases.append((b"~%d\r\n" % size + b"".join(map(_bulk, items)), items))
    nested = [[b"a", b"b"], [b"cd", b"ef", b"gh"], [b"12"] * 9, [], [b"x"]]
    wire = b"*%d\r\n" % len(nested) + b"".join(
        b"*%d\r\n" % len(sub) + b"".join(map(_bulk, sub)) for sub in nested)
    cases.append((wire, nested))
    cases.append((b"*3\r\n*2\r\n:1\r\n+s\r\n*2\r\n$2\r\nab\r\n:-2\r\n:3\r\n", [[1, b"s"], [b"ab", -2], 3]))
    cases.append((b"*9\r\n" + _bulk(b"ab") * 7 + b"*2\r\n" + _bulk(b"c") + _bulk(b"d") + _bulk(b"ef"),
                  [b"ab"] * 7 + [[b"c", b"d"], b"ef"]))
    cases.append((b"*8\r\n" + _bulk(b"ab") * 7 + b"$-1\r\n", [b"ab"] * 7 + [None]))
    return cases


FAST_PATH_CASES = _fast_path_cases()
WARM_UP = (b"*20\r\n" + b"".join(_bulk(b"%02d" % i) for i in range(20)) + b"*2\r\n*2\r\n:1\r\n:2\r\n+x\r\n"
           + b"*100\r\n" + _bulk(b"pp") * 100 + b"+done\r\n")


@pytest.fixture(params=["fresh", "after traffic", "empty length cache"])
def fast_path_reader(request, Reader):
    """A Reader (notEnoughData=MISSING) in each state the fast paths depend on."""
    from pyredis.protocol import _reader_py

    saved = dict(_reader_py._LENGTH_CACHE)
    if request.param == "empty length cache":
        _reader_py._LENGTH_CACHE.clear()
    r = Reader(notEnoughData=MISSING)
    if request.param == "after traffic":
        # half an array first, so the rest arrives in a later feed
        cut = WARM_UP.index(b"*100") + 300
        assert len(replies(r, WARM_UP[:cut], MISSING)) == 2
        assert len(replies(r, WARM_UP[cut:], MISSING)) == 2
    yield r
    _reader_py._LENGTH_CACHE.clear()
    _reader_py._LENGTH_CACHE.update(saved)


@pytest.mark.parametrize("case", range(len(FAST_PATH_CASES)))
def test_bulk_array_followed_by_more_replies(fast_path_reader, case):
    wire, model = FAST_PATH_CASES[case]
    assert replies(fast_path_reader, wire + AFTER[0], MISSING) == [model] + AFTER[1]
    assert not fast_path_reader.has_data()


def test_nested_array_ending_in_an_unterminated_payload(Reader):
    r = Reader(notEnoughData=MISSING)
    assert replies(r, b"*2\r\n*1\r\n$3\r\nfoo\r\n:1\r\n", MISSING) == [[[b"foo"], 1]]  # whole
    r.feed(b"*2\r\n*1\r\n$3\r\nfoo")
    assert r.gets() is MISSING
    r.feed(b"\r\n:1\r\n")
    assert r.gets() == [[b"foo"], 1]


def test_bulk_payloads_holding_crlf_after_other_replies(Reader):
    data = b"$2\r\nab\r\n+a\r\n$2\r\n\r\n\r\n$4\r\n\r\n\r\n\r\n$2\r\nab\r\n+b\r\n+c\r\n"
    expected = [b"ab", b"a", b"\r\n", b"\r\n\r\n", b"ab", b"b", b"c"]
    assert parse(Reader, data) == expected
    if hiredis is not None:
        assert parse_hiredis(data) == expected


@pytest.mark.parametrize("case", range(len(FAST_PATH_CASES)))
def test_bulk_array_decoded(Reader, case):
    wire, model = FAST_PATH_CASES[case]

    def text(value):
        if isinstance(value, list):
            return [text(v) for v in value]
        return value.decode() if isinstance(value, bytes) else value

    assert parse(Reader, wire + AFTER[0], encoding="utf-8") == text([model] + AFTER[1])


def test_bulk_arrays_pipelined(fast_path_reader):
    """Bulk-mode traffic: many arrays back to back in one buffer."""
    wire = b"".join(w + AFTER[0] for w, _ in FAST_PATH_CASES)
    expected = [r for _, m in FAST_PATH_CASES for r in [m] + AFTER[1]]
    assert replies(fast_path_reader, wire, MISSING) == expected


def test_bulk_arrays_cut_everywhere(fast_path_reader):
    wire = b"".join(w for w, _ in FAST_PATH_CASES[:3]) + FAST_PATH_CASES[-4][0] + AFTER[0]
    expected = [m for _, m in FAST_PATH_CASES[:3]] + [FAST_PATH_CASES[-4][1]] + AFTER[1]
    r = fast_path_reader
    for cut in range(1, len(wire), 7):
        got = replies(r, wire[:cut], MISSING) + replies(r, wire[cut:], MISSING)
        assert got == expected, cut


def test_bulk_array_elements_arriving_one_feed_at_a_time(fast_path_reader):
    items = [b"%02d" % i for i in range(12)]
    r = fast_path_reader
    r.feed(b"*12\r\n")
    for item in items:
        assert r.gets() is MISSING
        r.feed(_bulk(item))
    assert replies(r, AFTER[0], MISSING) == [items] + AFTER[1]

# -- user code running inside gets() ----------------------------------------------

def test_failing_reply_error_factory_leaves_a_consistent_reader(Reader):
    calls = []

    def flaky(message):
        calls.append(message)
        if len(calls) == 1:
            raise RuntimeError("factory failed")
        return ReplyError(message)

    r = Reader(replyError=flaky)
    r.feed(b"*3\r\n:1\r\n-e\r\n:3\r\n")
    with pytest.raises(RuntimeError, match="factory failed"):
        r.gets()
    reply = r.gets()  # retried from where it stopped: nothing lost or doubled
    assert reply[0] == 1 and reply[1].args == ("e",) and reply[2] == 3


def _flaky_handler(*outcomes):
    """A codec error handler that raises ``outcomes`` in turn (None: the
    exception being handled), then replaces."""
    pending = list(outcomes)

    def handler(exc):
        if pending:
            raise pending.pop(0) or exc
        return "?", exc.end

    return handler


def test_failing_codec_error_handler_leaves_a_consistent_reader(Reader):
    import codecs

    codecs.register_error("test-reader-flaky", _flaky_handler(RuntimeError("handler failed")))
    r = Reader(encoding="utf-8", errors="test-reader-flaky")
    r.feed(b"*3\r\n+\xff\r\n+b\r\n+c\r\n+d\r\n+e\r\n")
    with pytest.raises(RuntimeError, match="handler failed"):
        r.gets()
    assert r.gets(False) == [b"\xff", b"b", b"c"]  # retried: still inside the array
    assert r.gets(False) == b"d"
    assert r.gets() == "e"


def test_failing_codec_error_handler_keeps_an_earlier_decode_error(Reader):
    import codecs

    codecs.register_error("test-reader-flaky-2", _flaky_handler(None, RuntimeError("handler failed")))
    r = Reader(encoding="utf-8", errors="test-reader-flaky-2")
    # the attribute's key fails to decode; then the handler fails on the reply
    r.feed(b"|1\r\n+\xff\r\n:1\r\n+\xff\r\n+x\r\n+y\r\n+z\r\n")
    with pytest.raises(RuntimeError, match="handler failed"):
        r.gets()
    with pytest.raises(UnicodeDecodeError):  # raised in place of the reply
        r.gets(False)
    assert r.gets(False) == b"x"


def test_gets_cannot_be_reentered(Reader):
    seen = []

    def reentrant(message):
        try:
            r.gets()
        except RuntimeError as exc:
            seen.append(str(exc))
        r.feed(b"+fed-inside\r\n")  # feeding is allowed
        return ReplyError(message)

    r = Reader(replyError=reentrant)
    r.feed(b"*2\r\n-e\r\n:2\r\n")
    reply = r.gets()
    assert reply[0].args == ("e",) and reply[1] == 2
    assert r.gets() == b"fed-inside"
    assert seen and "again" in seen[0]



# Python code that runs inside gets() and calls feed(): the buffer it grows must
# not move under the parser. Each scenario runs in a child process whose glibc
# mmaps every block above 64 KiB, so a moved buffer's old pages are unmapped and
# any later read or write of them crashes the child instead of passing silently.
HOSTILE_PRELUDE = r"""
import codecs, gc, sys
from pyredis.exceptions import ProtocolError, ReplyError
from %s import Reader

PAD = b"$102400\r\n" + b"p" * 102400 + b"\r\n"   # the buffer starts above 64 KiB

def grow():
    for size in (1 << 20, 2 << 20, 4 << 20):     # each feed outgrows the last buffer
        r.feed(b"$%%d\r\n%%s\r\n" %% (size, b"g" * size))
    r.feed(b"+fed\r\n")

def grow_then_raise(exc):
    grow()
    raise exc

codecs.register_error("grow-then-raise", grow_then_raise)

armed = False
def on_gc(phase, info):
    global armed
    if armed and phase == "start":
        armed = False
        grow()

def drain(collecting=False):
    global armed
    if collecting:
        gc.set_threshold(1)  # every allocation may collect, and so run on_gc
        gc.callbacks.append(on_gc)
        armed = True
    while True:
        try:
            reply = r.gets()
        except (UnicodeDecodeError, ProtocolError) as exc:
            print(type(exc).__name__, exc)
            if isinstance(exc, ProtocolError):
                return
            continue
        if reply is False:
            return
        big = isinstance(reply, (bytes, str)) and len(reply) > 8
        print(type(reply).__name__, len(reply) if big else getattr(reply, "args", reply))
"""

UTF8_ERROR = "UnicodeDecodeError 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"
HOSTILE_SCENARIOS = {
    "codec handler, bulk": (
        'r = Reader(encoding="utf-8", errors="grow-then-raise"); r.feed(b"$3\\r\\n\\xff\\xfe\\xfd\\r\\n" + PAD)',
        [UTF8_ERROR, "str 102400", "str 1048576", "str 2097152", "str 4194304", "str fed"]),
    "codec handler, simple string": (
        'r = Reader(encoding="utf-8", errors="grow-then-raise"); r.feed(b"+\\xff\\r\\n" + PAD)',
        [UTF8_ERROR, "str 102400", "str 1048576", "str 2097152", "str 4194304", "str fed"]),
    "codec handler, verbatim": (
        'r = Reader(encoding="latin-1", errors="grow-then-raise"); r.set_encoding("ascii", "grow-then-raise");'
        ' r.feed(b"=7\\r\\ntxt:\\xff\\xfe\\xfd\\r\\n" + PAD)',
        ["UnicodeDecodeError 'ascii' codec can't decode byte 0xff in position 0: ordinal not in range(128)",
         "str 102400", "str 1048576", "str 2097152", "str 4194304", "str fed"]),
    "garbage collection while raising a decode error": (
        'r = Reader(encoding="utf-8", errors="strict"); r.feed(b"$3\\r\\n\\xff\\xfe\\xfd\\r\\n" + PAD)',
        [UTF8_ERROR, "str 102400", "str 1048576", "str 2097152", "str 4194304", "str fed"]),
    "garbage collection in an integer too long for int()": (
        'r = Reader(); r.feed(b":" + b"7" * 5000 + b"\\r\\n" + PAD)',
        ["ProtocolError Protocol error: bad integer value %r" % (b"7" * 40)]),
    "garbage collection in a bad double": (
        'r = Reader(); r.feed(b",e\\r\\n" + PAD)',
        ["ProtocolError Protocol error: bad double value b'e'"]),
    "replyError factory": (
        'r = Reader(replyError=lambda m: (grow(), ReplyError(m))[1]); r.feed(b"-ERR x\\r\\n" + PAD)',
        ["ReplyError ('ERR x',)", "bytes 102400", "bytes 1048576", "bytes 2097152", "bytes 4194304",
         "bytes b'fed'"]),
}


@pytest.mark.parametrize("scenario", list(HOSTILE_SCENARIOS))
def test_python_code_feeding_inside_gets_cannot_move_the_buffer(twin, scenario):
    setup, expected = HOSTILE_SCENARIOS[scenario]
    module = "pyredis.protocol._reader" + ("" if twin.compiled else "_py")
    code = HOSTILE_PRELUDE % module + setup + "\ndrain(%r)\n" % scenario.startswith("garbage")
    root = os.path.dirname(os.path.dirname(os.path.abspath(pyredis.__file__)))
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536",
               PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=120)
    out = done.stdout.decode("utf-8", "replace")
    assert done.returncode == 0, out
    assert out.splitlines() == expected


def test_len_counts_bytes_fed_inside_gets(Reader):
    def feeding(message):
        r.feed(b"+fed\r\n")
        return ReplyError(message)

    r = Reader(replyError=feeding)
    r.feed(b"*2\r\n-e\r\n:1\r\n")
    assert r.gets()[1] == 1
    assert (r.len(), r.has_data()) == (6, True)
    assert (r.gets(), r.len(), r.has_data()) == (b"fed", 0, False)


def test_reply_completed_by_bytes_fed_inside_gets(Reader):
    def feeding(message):
        r.feed(b":2\r\n")
        return ReplyError(message)

    r = Reader(replyError=feeding)
    r.feed(b"*2\r\n-e\r\n")
    reply = r.gets()
    assert reply[0].args == ("e",) and reply[1] == 2


def test_set_encoding_inside_gets_applies_to_later_values(Reader):
    def switching(message):
        r.set_encoding(None)
        return ReplyError(message)

    r = Reader(encoding="utf-8", replyError=switching)
    r.feed(b"*3\r\n$1\r\na\r\n-e\r\n$1\r\nb\r\n")
    assert r.gets()[::2] == ["a", b"b"]

# -- pyredis 1.0's other names in pyredis.protocol -------------------------------

def test_upstream_protocol_names():
    from pyredis import protocol

    assert (protocol.SYM_CRLF, protocol.SYM_EMPTY) == (b"\r\n", b"")
    assert (protocol.TYPE_SIMPLE, protocol.TYPE_ERROR, protocol.TYPE_INT, protocol.TYPE_BULK,
            protocol.TYPE_ARRAY) == (b"+", b"-", b":", b"$", b"*")
    assert protocol.ReplyParser is protocol.Reader
    assert protocol.__all__ == ["to_bytes", "Reader", "writer"]


class _Custom(Exception):
    pass


@pytest.mark.parametrize("inst, classinfo", [
    (ValueError, Exception), (ReplyError, Exception), (_Custom, _Custom),
    (lambda message: _Custom(message), Exception), (KeyError, (KeyError, ValueError)),
])
def test_is_exception_accepts(inst, classinfo):
    from pyredis.protocol import is_exception

    assert is_exception(inst, classinfo) is True


@pytest.mark.parametrize("inst", ["wrong", None, KeyError, lambda: _Custom(), lambda message: 5])
def test_is_exception_rejects_with_type_error(inst):
    from pyredis.protocol import is_exception

    with pytest.raises(TypeError) as info:
        is_exception(inst, ValueError)
    assert str(info.value) == "%s is not a subclass of %s" % (inst, ValueError)


def test_is_exception_lets_other_errors_of_the_probe_through():
    from pyredis.protocol import is_exception

    with pytest.raises(ValueError, match="invalid literal"):  # int("test"), as upstream
        is_exception(int, Exception)

# -- against a real server -----------------------------------------------------------

@pytest.fixture(scope="module")
def debug_server():
    """A server allowing DEBUG PROTOCOL (RESP3 samples of every type)."""
    try:
        server = RedisServer(extra=("--enable-debug-command", "yes"), unix=False).start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


def _exchange(server, commands, count, Reader, **kwargs):
    """Send ``commands`` and parse ``count`` replies in small recv() pieces."""
    reader = Reader(notEnoughData=MISSING, **kwargs)
    out = []
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(b"".join(pack(*c) for c in commands))
        while len(out) < count:
            reply = reader.gets()
            if reply is MISSING:
                chunk = sock.recv(1000)
                assert chunk, "server closed"
                reader.feed(chunk)
            else:
                out.append(reply)
    return out


def test_real_server_resp2(redis, Reader):
    value = b"bin\r\n\x00\xff" * 500
    commands = [("SET", "k", value), ("GET", "k"), ("GET", "missing"), ("INCRBY", "n", -7),
                ("RPUSH", "l", *range(300)), ("LRANGE", "l", 0, -1), ("LRANGE", "nolist", 0, -1),
                ("HSET", "h", "f", "v"), ("HGETALL", "h"), ("GET", "h"), ("NOSUCHCOMMAND",),
                ("EVAL", "return {1, {2, {3}}, redis.error_reply('E1')}", 0)]
    got = _exchange(redis, commands, len(commands), Reader)
    assert got[:6] == [b"OK", value, None, -7, 300, [b"%d" % i for i in range(300)]]
    assert got[6:9] == [[], 1, [b"f", b"v"]]
    assert type(got[9]) is ReplyError and got[9].args[0].startswith("WRONGTYPE")
    assert type(got[10]) is ReplyError and "unknown command" in got[10].args[0]
    assert got[11][:2] == [1, [2, [3]]] and got[11][2].args[0].endswith("E1")
    if hiredis is not None:
        redis.flushall()
        assert [normalize(v) for v in got] == [
            normalize(v) for v in _exchange(redis, commands, len(commands), hiredis.Reader,
                                            replyError=ReplyError)]


def test_real_server_resp3_types(debug_server, Reader):
    kinds = ["string", "integer", "double", "bignum", "null", "array", "set", "map",
             "attrib", "push", "verbatim", "true", "false"]
    commands = [("HELLO", 3)] + [("DEBUG", "PROTOCOL", kind) for kind in kinds]
    # "push" sends the push message and then its reply
    got = _exchange(debug_server, commands, len(commands) + 1, Reader)
    hello, got = got[0], dict(zip(kinds[:9], got[1:10]))
    assert hello[b"proto"] == 3
    assert got["string"] == b"Hello World"
    assert got["integer"] == 12345
    assert got["double"] == pytest.approx(3.141)
    assert got["bignum"] == 1234567999999999999999999999999999999
    assert got["null"] is None
    assert got["array"] == [0, 1, 2]
    assert sorted(got["set"]) == [0, 1, 2]
    assert got["map"] == {0: False, 1: True, 2: False}
    assert got["attrib"] == b"Some real reply following the attribute"


def test_real_server_push_verbatim_booleans(debug_server, Reader):
    commands = [("HELLO", 3), ("DEBUG", "PROTOCOL", "push"), ("DEBUG", "PROTOCOL", "verbatim"),
                ("DEBUG", "PROTOCOL", "true"), ("DEBUG", "PROTOCOL", "false")]
    got = _exchange(debug_server, commands, 6, Reader, encoding="utf-8")
    assert type(got[1]) is PushNotification and got[1] == ["server-cpu-usage", 42]
    assert got[2] == "Some real reply following the push reply"
    assert got[3] == "This is a verbatim\nstring"
    assert got[4:] == [True, False]


def test_real_server_subscribe_pushes(debug_server, Reader):
    got = _exchange(debug_server, [("HELLO", 3), ("SUBSCRIBE", "ch")], 2, Reader)
    assert type(got[1]) is PushNotification and got[1] == [b"subscribe", b"ch", 1]


def test_types_table_matches_the_spec():
    assert MAX_BULK_LEN == 512 * 1024 * 1024
    assert _types.MAX_LENGTH_DIGITS == 18
