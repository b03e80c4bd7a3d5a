"""RESP protocol layer: Reader (parser), writer / pack_command, to_bytes.

``pack_args`` is the packer every client sends through (``writer``'s argument
types, upstream's); ``pack_command`` takes ``hiredis.pack_command``'s.

The compiled or the pure-Python twin of each module is chosen once, here.
"""
from pyredis._twins import import_twin
from pyredis.exceptions import ProtocolError, ReplyError
from pyredis.protocol._compat import (  # noqa: F401  (pyredis 1.0's other names)
    SYM_CRLF, SYM_EMPTY, TYPE_ARRAY, TYPE_BULK, TYPE_ERROR, TYPE_INT, TYPE_SIMPLE, is_exception,
)
from pyredis.protocol._types import PushNotification

_reader = import_twin(__name__, "_reader")
_writer = import_twin(__name__, "_writer")

Reader = _reader.Reader
ReplyParser = Reader  # pyredis 1.0's internal parser class: the name only, see _compat
writer = _writer.writer
pack_args = _writer.pack_args
pack_command = _writer.pack_command
CommandBuffer = _writer.CommandBuffer
to_bytes = _writer.to_bytes

__all__ = ["to_bytes", "Reader", "writer"]
