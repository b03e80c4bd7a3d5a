"""Types and limits shared by both Reader twins."""

# Redis' own proto-max-bulk-len default: a longer bulk length is a protocol error.
MAX_BULK_LEN = 512 * 1024 * 1024

# Default for setmaxbuf(): an idle buffer larger than this is released.
DEFAULT_MAXBUF = 64 * 1024


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
MSG_UNHASHABLE_KEY = "Protocol error: map key of type %s is not hashable"
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
