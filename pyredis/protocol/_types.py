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
