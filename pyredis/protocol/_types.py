"""Types and limits shared by both Reader twins."""
from operator import index

# Redis' own proto-max-bulk-len default: a longer bulk length is a protocol error.
MAX_BULK_LEN = 512 * 1024 * 1024

# Default for setmaxbuf(): an idle buffer larger than this is released.
DEFAULT_MAXBUF = 64 * 1024

# Reader(max_depth=): aggregates nested deeper are a protocol error. hiredis'
# own limit; real replies stay far below it (a Lua table or a JSON document
# as RESP is tens of levels), and it bounds the parser's stack.
DEFAULT_MAX_DEPTH = 1024

# Reader(max_line_length=): bytes between the type byte and the '\r\n' of a
# one-line reply (+ - : _ # , (). A line is buffered whole before it is parsed,
# so this bounds what one line may hold; Redis' simple strings, errors and
# integers are short (a script's error_reply carries its message), and 64 MiB
# is far above any of them while an eighth of the largest bulk string.
DEFAULT_MAX_LINE_LENGTH = 64 * 1024 * 1024


def check_limit(name, value):
    """A Reader limit: an int >= 1 (TypeError / ValueError otherwise)."""
    value = index(value)
    if value < 1:
        raise ValueError(MSG_LIMIT % (name, value))
    return value


class PushNotification(list):
    """A RESP3 push message (``>``): a list, told apart from ordinary replies."""

    __slots__ = ()

    def __repr__(self):
        return "PushNotification(%s)" % list.__repr__(self)


# --- Reader error messages, shared by both twins so they cannot drift apart. ---
# ProtocolError texts ("%r" of a bytes excerpt of at most EXCERPT_LEN bytes).
EXCERPT_LEN = 40
MSG_UNKNOWN_TYPE = "Protocol error: unknown reply type byte %r"
MSG_NO_LF = "Protocol error: '\\r' not followed by '\\n' in a %r line"
MSG_BAD_LENGTH = "Protocol error: bad %s length %r"
MSG_LENGTH_RANGE = "Protocol error: %s length %r out of range"
MSG_NO_CRLF_AFTER_BULK = "Protocol error: %s payload of %d bytes not followed by '\\r\\n'"
MSG_BAD_VALUE = "Protocol error: bad %s value %r"
MSG_VERBATIM_PREFIX = "Protocol error: verbatim string %r lacks its 'xxx:' format prefix"
MSG_DEPTH = "Protocol error: aggregates nested deeper than %d levels"
MSG_LINE_TOO_LONG = "Protocol error: %s line longer than %d bytes"
# Type byte -> name, for one-line replies.
LINE_NAMES = {
    ord("+"): "simple string", ord("-"): "simple error", ord(":"): "integer", ord("_"): "null",
    ord("#"): "boolean", ord(","): "double", ord("("): "big number",
}
# Longest length line accepted (sign + digits); a longer one is out of range.
MAX_LENGTH_DIGITS = 18
# A length line still unterminated after this many bytes is rejected at once.
MAX_LENGTH_LINE = 20

# feed() argument errors (TypeError / ValueError).
MSG_NOT_BUFFER = "a bytes-like object is required, not %r"
MSG_NOT_CONTIGUOUS = "a C-contiguous bytes-like object is required"
MSG_OFFSET_RANGE = "offset %d out of range for %d bytes of data"
MSG_LENGTH_ARG_RANGE = "length %d out of range for %d bytes of data at offset %d"
MSG_NOT_CALLABLE = "%s must be an exception class or a callable returning an exception, not %r"
MSG_MAXBUF = "maxbuf must be >= 0 (0 = never release), not %d"
MSG_LIMIT = "%s must be >= 1, not %d"
