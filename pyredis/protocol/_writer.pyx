# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
# cython: binding=False, embedsignature=True, embedsignature.format=clinic
"""Compiled RESP writer: ``to_bytes``, ``writer``, ``pack_args``, ``pack_command``,
``pack_commands``, ``CommandBuffer``.

Twin of ``_writer_py`` (see its docstring for the two sets of argument rules):
same names, same bytes, same errors.

How a command is packed, chosen for speed and safety:

1. *Resolve*: every argument becomes a ``Piece`` (pointer + length). Exact
   bytes and ASCII str point at the object's own data; exact ints are printed
   into the piece's inline digit buffer; anything that needs a temporary (a
   non-ASCII str, an int/float subclass, a non-contiguous memoryview) is
   converted here and kept alive in a list. This is the only step that may run
   Python code (a subclass' ``__str__``).
2. The output ``bytes`` is allocated at its exact final size.
3. *Copy*: pieces are written out. Mutable arguments (bytearray, contiguous
   memoryview) are read only now, through a buffer export, so neither Python
   code run in step 1 or 2 nor another thread can leave a dangling pointer;
   if one changed size meanwhile, RuntimeError.

Free threading: the packing functions keep their state on the C stack or in
a ``_Batch`` of their own, and the module has no mutable state: they are
safe to call from any number of threads, also with the same arguments (a
bytearray resized by another thread meanwhile gives RuntimeError or, in
that thread, BufferError). A ``CommandBuffer`` is per-thread (one client's
bulk batch); misuse stays memory-safe: ``add()`` files a command and
``take()`` empties the buffer each in a critical section on it (a
per-object lock on free-threaded builds, nothing with the GIL), so each
command lands whole in one batch or the next.
"""
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytearray cimport PyByteArray_GET_SIZE
from cpython.bytes cimport (
    PyBytes_AS_STRING, PyBytes_Check, PyBytes_CheckExact, PyBytes_FromStringAndSize, PyBytes_GET_SIZE,
)
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_Check, PyFloat_CheckExact
from cpython.long cimport PyLong_Check, PyLong_CheckExact
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.object cimport PyObject_Str
from cpython.ref cimport PyObject, Py_DECREF, Py_INCREF
from cpython.tuple cimport PyTuple_Check, PyTuple_CheckExact, PyTuple_GET_ITEM, PyTuple_GET_SIZE
from cpython.unicode cimport PyUnicode_AsUTF8String, PyUnicode_Check
from libc.string cimport memcpy, strlen

cimport cython

from pyredis.exceptions import ArgumentError

cdef extern from "Python.h":
    bint PyBool_Check(object o)
    bint PyByteArray_Check(object o)
    bint PyMemoryView_Check(object o)
    bint PyUnicode_IS_ASCII(object o)
    void* PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    long long PyLong_AsLongLongAndOverflow(object o, int* overflow) except? -1
    char* PyOS_double_to_string(double val, char format_code, int precision, int flags, int* ptype) except NULL
    int Py_DTSF_ADD_DOT_0
    bint PyList_Check(object o)

__all__ = ["to_bytes", "writer", "pack_args", "pack_command", "pack_commands", "CommandBuffer"]

cdef enum:
    STACK_PIECES = 16     # commands up to this many arguments need no heap array
    DIGITS = 32           # longest int64 (20 chars) or float repr (24) fits

cdef enum PieceKind:
    STABLE = 0       # data/size valid until the end (immutable owner kept alive)
    BYTEARRAY = 1    # read at copy time
    MEMORYVIEW = 2   # contiguous: buffer taken at copy time
    HEADER = 3       # the "*<argc>" line of a command; size = argc

ctypedef struct Piece:
    const char* data
    Py_ssize_t size
    PieceKind kind
    PyObject* source      # borrowed: the argument (its tuple is kept alive by the caller)
    PyObject* owned       # a temporary holding the data (new reference), or NULL
    char digits[DIGITS]   # inline storage for printed ints and floats

cdef str _EXPECTED = "expected str, bytes, bytearray, memoryview, int or float"
cdef str _EXPECTED_STRICT = "pack_command takes str, bytes, int, float or memoryview, as hiredis does"


def to_bytes(value):
    """upstream's conversion: bytes unchanged, str -> UTF-8, int/float (bool
    included) -> ``str(value)`` encoded, anything else -> ArgumentError."""
    if PyBytes_Check(value):
        return value
    if PyUnicode_Check(value):
        return PyUnicode_AsUTF8String(value)
    if PyLong_Check(value) or PyFloat_Check(value):
        return PyUnicode_AsUTF8String(PyObject_Str(value))
    raise ArgumentError("Cannot convert %s to bytes: %r" % (type(value).__name__, value))


cdef inline Py_ssize_t _ndigits(Py_ssize_t n) noexcept nogil:
    """Decimal digits of a length (n >= 0)."""
    cdef Py_ssize_t count = 1
    while n >= 10:
        n //= 10
        count += 1
    return count


cdef inline char* _put_length(char* out, char marker, Py_ssize_t n) noexcept nogil:
    """Write ``<marker><n>\\r\\n`` and return the position after it."""
    cdef Py_ssize_t width = _ndigits(n)
    cdef char* p
    out[0] = marker
    p = out + width
    while True:
        p[0] = <char>(48 + n % 10)
        n //= 10
        if n == 0:
            break
        p -= 1
    out += width + 1
    out[0] = 13
    out[1] = 10
    return out + 2


cdef inline Py_ssize_t _print_int(char* buf, long long value) noexcept nogil:
    """Decimal text of ``value`` into ``buf``; returns its length."""
    cdef char tmp[24]
    cdef Py_ssize_t n = 0, i = 0
    cdef unsigned long long u
    if value < 0:
        buf[0] = 45  # '-'
        i = 1
        u = <unsigned long long>(-(value + 1)) + 1   # no overflow for LLONG_MIN
    else:
        u = <unsigned long long>value
    while True:
        tmp[n] = <char>(48 + u % 10)
        u //= 10
        n += 1
        if u == 0:
            break
    while n > 0:
        n -= 1
        buf[i] = tmp[n]
        i += 1
    return i


cdef inline int _own(Piece* piece, object tmp) except -1:
    """The piece's data live in ``tmp`` (a bytes object) until the command is written."""
    Py_INCREF(tmp)
    piece.owned = <PyObject*>tmp
    piece.data = PyBytes_AS_STRING(tmp)
    piece.size = PyBytes_GET_SIZE(tmp)
    return 0


cdef int _resolve(Piece* piece, object arg, Py_ssize_t position, bint strict) except -1:
    """Fill ``piece`` for one argument (step 1; may run Python code for subclasses).

    ``strict``: pack_command's types (no bytearray, no int subclass such as bool)."""
    cdef int overflow = 0
    cdef long long small
    cdef char* text
    cdef Py_ssize_t length
    piece.kind = STABLE
    piece.source = <PyObject*>arg
    piece.owned = NULL
    if PyBytes_CheckExact(arg):
        piece.data = PyBytes_AS_STRING(arg)
        piece.size = PyBytes_GET_SIZE(arg)
        return 0
    if PyUnicode_Check(arg):
        if PyUnicode_IS_ASCII(arg):
            piece.data = <const char*>PyUnicode_DATA(arg)
            piece.size = PyUnicode_GET_LENGTH(arg)
            return 0
        return _own(piece, PyUnicode_AsUTF8String(arg))   # strict: lone surrogates raise
    if PyLong_CheckExact(arg):
        small = PyLong_AsLongLongAndOverflow(arg, &overflow)
        if not overflow:
            piece.size = _print_int(piece.digits, small)
            piece.data = piece.digits
            return 0
    elif PyFloat_CheckExact(arg):
        # Exactly what float.__repr__ (and so str()) prints.
        text = PyOS_double_to_string(PyFloat_AS_DOUBLE(arg), b'r', 0, Py_DTSF_ADD_DOT_0, NULL)
        length = strlen(text)
        if length <= DIGITS:
            memcpy(piece.digits, text, length)
            PyMem_Free(text)
            piece.data = piece.digits
            piece.size = length
            return 0
        PyMem_Free(text)   # not reachable for a double; str() below is the reference anyway
    if PyBytes_Check(arg):
        piece.data = PyBytes_AS_STRING(arg)
        piece.size = PyBytes_GET_SIZE(arg)
        return 0
    if PyByteArray_Check(arg) and not strict:
        piece.kind = BYTEARRAY
        piece.data = NULL
        return 0
    if PyMemoryView_Check(arg):
        if arg.c_contiguous:
            piece.kind = MEMORYVIEW
            piece.data = NULL
            return 0
        return _own(piece, arg.tobytes())
    if PyFloat_Check(arg) or PyLong_CheckExact(arg) or (PyLong_Check(arg) and not strict):
        return _own(piece, PyUnicode_AsUTF8String(PyObject_Str(arg)))
    raise ArgumentError("Invalid type %s for command argument %d: %s"
                        % (type(arg).__name__, position, _EXPECTED_STRICT if strict else _EXPECTED))


cdef inline void _release_owned(Piece* pieces, Py_ssize_t count) noexcept:
    cdef Py_ssize_t i
    for i in range(count):
        if pieces[i].owned != NULL:
            Py_DECREF(<object>pieces[i].owned)
            pieces[i].owned = NULL


cdef int _measure_mutable(Piece* piece) except -1:
    """Size of a bytearray/memoryview piece, read after every conversion ran."""
    cdef Py_buffer view
    cdef object arg = <object>piece.source
    if piece.kind == BYTEARRAY:
        piece.size = PyByteArray_GET_SIZE(arg)
    else:
        PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE)
        piece.size = view.len
        PyBuffer_Release(&view)
    return 0


cdef int _copy_mutable(Piece* piece, char* out) except -1:
    # Through a buffer export, a bytearray too: while it is held, another
    # thread's resize fails (BufferError) instead of moving the bytes away.
    cdef Py_buffer view
    PyObject_GetBuffer(<object>piece.source, &view, PyBUF_SIMPLE)
    try:
        if view.len != piece.size:
            raise RuntimeError("a %s argument changed size while the command was packed"
                               % ("bytearray" if piece.kind == BYTEARRAY else "memoryview"))
        memcpy(out, view.buf, piece.size)
    finally:
        PyBuffer_Release(&view)
    return 0


cdef bytes _write(Piece* pieces, Py_ssize_t count):
    """Steps 2 and 3: size, allocate once, copy."""
    cdef Py_ssize_t i, total = 0
    cdef Piece* piece
    cdef bytes out
    cdef char* p
    for i in range(count):
        piece = &pieces[i]
        if piece.kind == HEADER:
            total += _ndigits(piece.size) + 3
            continue
        if piece.kind != STABLE:
            _measure_mutable(piece)
        total += _ndigits(piece.size) + 5 + piece.size
    out = PyBytes_FromStringAndSize(NULL, total)
    p = PyBytes_AS_STRING(out)
    for i in range(count):
        piece = &pieces[i]
        if piece.kind == HEADER:
            p = _put_length(p, 42, piece.size)       # '*'
            continue
        p = _put_length(p, 36, piece.size)           # '$'
        if piece.kind == STABLE:
            memcpy(p, piece.data, piece.size)
        else:
            _copy_mutable(piece, p)
        p += piece.size
        p[0] = 13
        p[1] = 10
        p += 2
    return out


cdef class _Batch:
    """The pieces of one or more commands on their way into one output buffer.

    Commands are kept as tuples (a list is copied first: a subclass' __str__
    run while resolving must not be able to free the items already resolved).
    """
    cdef Piece stack[STACK_PIECES]
    cdef Piece* pieces
    cdef Py_ssize_t count, capacity
    cdef list commands
    cdef bint strict

    def __cinit__(self, bint strict):
        self.pieces = self.stack
        self.capacity = STACK_PIECES
        self.commands = []
        self.strict = strict

    def __dealloc__(self):
        _release_owned(self.pieces, self.count)
        if self.pieces != self.stack:
            PyMem_Free(self.pieces)

    cdef int _reserve(self, Py_ssize_t extra) except -1:
        cdef Py_ssize_t need = self.count + extra
        cdef Py_ssize_t capacity = self.capacity
        cdef Py_ssize_t i
        cdef Piece* grown
        if need <= capacity:
            return 0
        while capacity < need:
            capacity *= 2
        grown = <Piece*>PyMem_Malloc(capacity * sizeof(Piece))
        if grown == NULL:
            raise MemoryError()
        memcpy(grown, self.pieces, self.count * sizeof(Piece))
        for i in range(self.count):   # data in a piece's own digit buffer follow the move
            if self.pieces[i].data == self.pieces[i].digits:
                grown[i].data = grown[i].digits
        if self.pieces != self.stack:
            PyMem_Free(self.pieces)
        self.pieces = grown
        self.capacity = capacity
        return 0

    cdef int add(self, object args) except -1:
        cdef Py_ssize_t argc, i
        cdef tuple items
        if PyTuple_Check(args):
            items = <tuple>args
        elif PyList_Check(args):
            items = tuple(args)
        else:
            raise ArgumentError("A command must be a tuple or list of arguments, not %s"
                                % type(args).__name__)
        self.commands.append(items)
        argc = PyTuple_GET_SIZE(items)
        self._reserve(argc + 1)
        self.pieces[self.count].kind = HEADER
        self.pieces[self.count].size = argc
        self.pieces[self.count].data = NULL
        self.pieces[self.count].owned = NULL
        self.count += 1
        for i in range(argc):
            self.pieces[self.count].owned = NULL
            self.count += 1   # counted first: its owned reference is released on error too
            _resolve(&self.pieces[self.count - 1], <object>PyTuple_GET_ITEM(items, i), i,
                     self.strict)
        return 0

    cdef bytes finish(self):
        return _write(self.pieces, self.count)


cdef bytes _pack_tuple(tuple args, bint strict):
    """The hot path: one command given as a tuple, pieces on the C stack."""
    cdef Piece pieces[STACK_PIECES + 1]
    cdef Py_ssize_t argc = PyTuple_GET_SIZE(args)
    cdef Py_ssize_t i, resolved = 0
    cdef _Batch batch
    if argc > STACK_PIECES:
        batch = _Batch(strict)
        batch.add(args)
        return batch.finish()
    pieces[0].kind = HEADER
    pieces[0].size = argc
    pieces[0].data = NULL
    pieces[0].owned = NULL
    try:
        for i in range(argc):
            resolved = i + 2
            pieces[i + 1].owned = NULL
            _resolve(&pieces[i + 1], <object>PyTuple_GET_ITEM(args, i), i, strict)
        return _write(pieces, argc + 1)
    finally:
        _release_owned(pieces, resolved)


def writer(*args):
    """Pack the arguments as one RESP command: ``writer("SET", "k", 1)``."""
    return _pack_tuple(args, False)


cdef bytes _pack_sequence(object args, bint strict):
    """A command given as a list or a tuple subclass (or not a command: refused)."""
    cdef _Batch batch = _Batch(strict)
    batch.add(args)
    return batch.finish()


def pack_args(args):
    """``writer(*args)`` for arguments given as one tuple or list (what clients send)."""
    if PyTuple_CheckExact(args):
        return _pack_tuple(<tuple>args, False)
    return _pack_sequence(args, False)


def pack_command(args):
    """Pack one command given as a tuple or list, with ``hiredis.pack_command``'s
    argument types: an ``ArgumentError`` for a ``bool`` or another int subclass
    (``writer`` would send ``str(value)``, ``True``) and for a ``bytearray``.

    Unlike hiredis, a list is taken too, and a non-contiguous memoryview
    contributes the bytes it shows (hiredis copies its underlying buffer)."""
    if PyTuple_CheckExact(args):
        return _pack_tuple(<tuple>args, True)
    return _pack_sequence(args, True)


def pack_commands(commands):
    """Pack an iterable of commands (tuples or lists) into one buffer, in order,
    with ``pack_command``'s argument types.

    Nothing is returned on error: the whole batch is rejected.
    """
    cdef _Batch batch = _Batch(True)
    for args in commands:
        batch.add(args)
    return batch.finish()


cdef class CommandBuffer:
    """Commands packed back to back, for bulk mode, with ``writer``'s argument
    types (see ``_writer_py``).

    Packed commands are kept as a list of bytes and joined once by ``take()``:
    one allocation per command (the packed bytes) and none of the copying a
    growing buffer would do.
    """
    cdef list _chunks
    cdef Py_ssize_t _size
    cdef public Py_ssize_t pending
    cdef Py_ssize_t _flush_every, _byte_limit
    cdef object _on_full

    @cython.critical_section
    def __init__(self, Py_ssize_t flush_every, Py_ssize_t byte_limit, on_full):
        self._chunks = []
        self._size = 0
        self.pending = 0
        self._flush_every = flush_every
        self._byte_limit = byte_limit
        self._on_full = on_full

    def add(self, *args):
        cdef bytes data = _pack_tuple(args, False)
        cdef object on_full = None
        with cython.critical_section(self):
            self._chunks.append(data)
            self._size += PyBytes_GET_SIZE(data)
            self.pending += 1
            if self.pending == self._flush_every or self._size >= self._byte_limit:
                on_full = self._on_full
        if on_full is not None:
            on_full()

    @cython.critical_section
    def take(self):
        """Everything packed so far (bytes); the buffer is empty afterwards."""
        data = b"".join(self._chunks)
        self._chunks = []
        self._size = 0
        return data

    def __len__(self):
        """Packed bytes not yet taken."""
        return self._size
