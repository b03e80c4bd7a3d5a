"""Pure-Python RESP writer: ``to_bytes``, ``writer``, ``pack_args``, ``pack_command``,
``pack_commands``, ``CommandBuffer``.

Twin of the compiled ``_writer``: same names, same bytes, same errors.

A command is packed as one RESP array of bulk strings::

    *<argc>\\r\\n  then per argument  $<len>\\r\\n<payload>\\r\\n

Two sets of argument rules:

* ``writer`` and ``pack_args`` (what every client sends through) and
  ``CommandBuffer``: upstream's ``to_bytes`` types, that is ``bytes``, ``str``
  (strict UTF-8), ``int`` (``bool`` included) and ``float`` as ``str(value)``,
  plus ``bytearray`` and ``memoryview`` (a memoryview contributes its raw
  bytes, whatever its format or layout).
* ``pack_command`` and ``pack_commands``: ``hiredis.pack_command``'s types,
  that is ``bytes``, ``str``, ``int`` (not ``bool`` or another int subclass),
  ``float`` and ``memoryview``.

Anything else is an ``ArgumentError`` (a TypeError and a ValueError) naming
the type and the argument position (0 = the command name), raised before any
output exists.

Free threading: the packing functions are safe to call from any number of
threads.  A ``CommandBuffer`` is per-thread (one client's bulk batch): two
threads sharing one may lose or repeat commands, nothing worse.
"""
from pyredis.exceptions import ArgumentError

__all__ = ["to_bytes", "writer", "pack_args", "pack_command", "pack_commands", "CommandBuffer"]

_EXPECTED = "expected str, bytes, bytearray, memoryview, int or float"
_EXPECTED_STRICT = "pack_command takes str, bytes, int, float or memoryview, as hiredis does"


def to_bytes(value):
    """upstream's conversion: bytes unchanged, str -> UTF-8, int/float (bool
    included) -> ``str(value)`` encoded, anything else -> ArgumentError."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return str.encode(value, "utf-8")  # str.encode: a subclass' encode() is not called
    if isinstance(value, (int, float)):
        return str.encode(str(value), "utf-8")
    raise ArgumentError("Cannot convert %s to bytes: %r" % (type(value).__name__, value))


def _payload(arg, position, strict):
    """One argument as a bytes-like payload (the slow path: not exact bytes/str/int)."""
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, str):
        return str.encode(arg, "utf-8")
    if isinstance(arg, memoryview):
        return arg.tobytes()
    if isinstance(arg, float):
        return str.encode(str(arg), "utf-8")
    if not strict:
        if isinstance(arg, bytearray):
            # A snapshot: a later argument's __str__ could resize it after its
            # length header is written, and the frame would lie.
            return bytes(arg)
        if isinstance(arg, int):
            return str.encode(str(arg), "utf-8")
    raise ArgumentError("Invalid type %s for command argument %d: %s"
                        % (type(arg).__name__, position, _EXPECTED_STRICT if strict else _EXPECTED))


def _pack(args, out, strict=False):
    """Append the RESP array for the tuple ``args`` to the list ``out``."""
    append = out.append
    append(b"*%d\r\n" % len(args))
    position = 0
    for arg in args:
        kind = type(arg)
        if kind is str:
            arg = arg.encode()
        elif kind is int:
            arg = b"%d" % arg
        elif kind is not bytes:
            arg = _payload(arg, position, strict)
        append(b"$%d\r\n" % len(arg))
        append(arg)
        append(b"\r\n")
        position += 1


def _command(args):
    """One command's arguments as a tuple.  A list is copied first: an
    argument's ``__str__`` could change the list after its length is written."""
    if isinstance(args, tuple):
        return args
    if isinstance(args, list):
        return tuple(args)
    raise ArgumentError("A command must be a tuple or list of arguments, not %s"
                        % type(args).__name__)


def writer(*args):
    """Pack the arguments as one RESP command: ``writer("SET", "k", 1)``."""
    out = []
    _pack(args, out)
    return b"".join(out)


def pack_args(args):
    """``writer(*args)`` for arguments given as one tuple or list (what clients send)."""
    out = []
    _pack(_command(args), out)
    return b"".join(out)


def pack_command(args):
    """Pack one command given as a tuple or list, with ``hiredis.pack_command``'s
    argument types: an ``ArgumentError`` for a ``bool`` or another int subclass
    (``writer`` would send ``str(value)``, ``True``) and for a ``bytearray``.

    Unlike hiredis, a list is taken too, and a non-contiguous memoryview
    contributes the bytes it shows (hiredis copies its underlying buffer)."""
    out = []
    _pack(_command(args), out, True)
    return b"".join(out)


def pack_commands(commands):
    """Pack an iterable of commands (tuples or lists) into one buffer, in order,
    with ``pack_command``'s argument types.

    Nothing is returned on error: the whole batch is rejected.
    """
    out = []
    for args in commands:
        _pack(_command(args), out, True)
    return b"".join(out)


class CommandBuffer:
    """Commands packed back to back, for bulk mode (``writer``'s argument types).

    ``add(*args)`` packs one command onto the end (a bad argument raises and
    adds nothing) and counts it in ``pending``.  When ``pending`` reaches
    ``flush_every`` (0: never) or the packed bytes reach ``byte_limit``,
    ``on_full()`` is called; it is expected to ``take()`` the bytes (and, for
    a full batch, read ``pending`` replies and reset it to 0).
    """

    __slots__ = ("_chunks", "_size", "pending", "_flush_every", "_byte_limit", "_on_full")

    def __init__(self, flush_every, byte_limit, on_full):
        self._chunks = []
        self._size = 0
        self.pending = 0
        self._flush_every = flush_every
        self._byte_limit = byte_limit
        self._on_full = on_full

    def add(self, *args):
        out = []
        _pack(args, out)
        data = b"".join(out)
        self._chunks.append(data)
        self._size += len(data)
        self.pending += 1
        if self.pending == self._flush_every or self._size >= self._byte_limit:
            self._on_full()

    def take(self):
        """Everything packed so far (bytes); the buffer is empty afterwards."""
        data = b"".join(self._chunks)
        self._chunks = []
        self._size = 0
        return data

    def __len__(self):
        """Packed bytes not yet taken."""
        return self._size
