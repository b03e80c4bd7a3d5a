# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
# cython: binding=False, embedsignature=True, embedsignature.format=clinic
"""Compiled RESP2/RESP3 parser: ``Reader``, with ``hiredis.Reader``'s interface.

The pure-Python twin is ``_reader_py``; both follow the contract in
``Reader.__doc__`` and share their error texts (``_types``).

Layout, chosen for speed:

* One growable C buffer with read/write positions. Consumed bytes are only
  moved when the move costs no more than the bytes already consumed (or the
  buffer is empty), so feeding and parsing stay linear however the input is
  cut - one 5 MiB feed included.
* The buffer never moves or shrinks while ``gets()`` runs. The parser keeps
  raw pointers into it across calls into Python (codec error handlers, the
  ``replyError`` / ``protocolError`` factories, a key's ``__hash__``, and any
  allocation, which may run the garbage collector and so finalizers and
  ``gc.callbacks``); such code may call ``feed()``. ``feed()`` during a parse
  copies its bytes aside (``_held``), and the parser moves them into the
  buffer only where it holds no pointer: when it runs out of input, and when
  ``gets()`` returns. That costs one test per ``feed()`` and nothing per
  reply, unlike re-deriving every pointer after every call into Python.
* Pending aggregates live on an explicit C stack of ``Frame`` structs: no
  recursion; ``max_depth`` bounds it. A list whose elements may already be buffered is
  allocated at its final size; otherwise it grows as elements arrive, so a
  hostile ``*2000000000`` costs nothing until the data is there.
* Values are built straight from the buffer (``PyBytes_FromStringAndSize``,
  a hand-rolled integer parse), with no Python-level call per element.

Free threading: a Reader is per-thread (it belongs to one connection, as
hiredis' does); the module has no mutable state. Misuse stays memory-safe:
every method that touches the buffer, the frame stack or the settings runs
in a critical section on the Reader (a per-object lock on free-threaded
builds, nothing with the GIL). CPython suspends such a section only where
the thread blocks - in the parse, at calls into Python code, where the GIL
could switch threads too - and ``gets()`` keeps ``_parsing`` set across
those points: a ``feed()`` from another thread is held aside like one from
inside the parse, a second ``gets()`` raises RuntimeError. Two threads
feeding and parsing one Reader get mixed-up replies or exceptions, never a
freed or out-of-bounds buffer.
"""
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_CheckBuffer, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.float cimport PyFloat_FromDouble
from cpython.list cimport PyList_New
from cpython.long cimport PyLong_FromLongLong, PyLong_FromString
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.number cimport PyNumber_Index
from cpython.ref cimport PyObject, Py_INCREF, Py_XDECREF
from cpython.unicode cimport PyUnicode_Decode, PyUnicode_DecodeUTF8
from libc.string cimport memchr, memcpy, memmove

cimport cython

import codecs

from pyredis.exceptions import ProtocolError, ReplyError
from pyredis.protocol import _types
from pyredis.protocol._types import PushNotification

cdef extern from "Python.h":
    Py_ssize_t PyNumber_AsSsize_t(object o, void* exc) except? -1
    const Py_ssize_t PY_SSIZE_T_MAX
    # Borrowed-pointer forms: no reference-count traffic in the element loop.
    void _list_set_item "PyList_SET_ITEM"(PyObject* lst, Py_ssize_t i, PyObject* item)
    int _list_append "PyList_Append"(PyObject* lst, PyObject* item) except -1
    int _dict_store "PyDict_SetItem"(PyObject* d, PyObject* key, PyObject* value) except -1
    double PyOS_string_to_double(const char* s, char** endptr, PyObject* overflow_exception) except? -1.0

__all__ = ["Reader"]

cdef Py_ssize_t MAX_BULK_LEN = _types.MAX_BULK_LEN
cdef Py_ssize_t MAX_LENGTH_DIGITS = _types.MAX_LENGTH_DIGITS
cdef Py_ssize_t MAX_LENGTH_LINE = _types.MAX_LENGTH_LINE
cdef Py_ssize_t EXCERPT_LEN = _types.EXCERPT_LEN
cdef Py_ssize_t MIN_CAPACITY = 4096
cdef dict _LINE_NAMES = _types.LINE_NAMES

cdef enum Kind:
    K_ARRAY = 0
    K_SET = 1
    K_PUSH = 2
    K_MAP = 3
    K_ATTR = 4

ctypedef struct Frame:
    PyObject* container   # list, PushNotification or dict (owned); NULL for an attribute
    PyObject* key         # map: the key waiting for its value (owned), else NULL
    PyObject* key_error   # map: the exception its first bad key raised (owned), else NULL
    Py_ssize_t size       # elements expected (2 per map entry)
    Py_ssize_t filled
    Kind kind
    bint prealloc         # list allocated at full size: fill by index

cdef object _INCOMPLETE = object()   # _parse(): no complete reply yet
cdef object _SKIP = object()         # a finished attribute: nothing to deliver

cdef dict _LENGTH_NAMES = {
    ord("$"): "bulk string", ord("="): "verbatim string", ord("!"): "blob error",
    ord("*"): "array", ord("%"): "map", ord("~"): "set", ord(">"): "push", ord("|"): "attribute",
}


cdef inline bint _is_known_type(char t) noexcept nogil:
    return t in b"+-:$*_#,(=%~>!|" and t != 0


cdef inline bint _is_length_type(char t) noexcept nogil:
    return t in b"$=!*%~>|" and t != 0


cdef inline bint _is_line_type(char t) noexcept nogil:
    return t in b"+-:_#,(" and t != 0


cdef inline bint _all_digits(const char* p, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    if n == 0:
        return False
    for i in range(n):
        if <unsigned char>(p[i] - 48) > 9:
            return False
    return True


cdef inline int _parse_length(const char* p, Py_ssize_t n, Py_ssize_t* out) noexcept nogil:
    """``-1`` or up to 18 digits -> 0 and ``*out``; anything else -> -1."""
    cdef Py_ssize_t v = 0, i
    cdef unsigned char d
    if n == 2 and p[0] == b'-' and p[1] == b'1':
        out[0] = -1
        return 0
    if n == 0 or n > MAX_LENGTH_DIGITS:
        return -1
    for i in range(n):
        d = <unsigned char>(p[i] - 48)
        if d > 9:
            return -1
        v = v * 10 + d
    out[0] = v
    return 0


cdef inline int _parse_small_int(const char* p, Py_ssize_t n, long long* out) noexcept nogil:
    """``-?[0-9]{1,18}`` -> 0 and ``*out``; anything else -> -1 (maybe just long)."""
    cdef long long v = 0
    cdef bint negative = n > 0 and p[0] == b'-'
    cdef Py_ssize_t i = 1 if negative else 0
    cdef unsigned char d
    if n - i == 0 or n - i > 18:
        return -1
    while i < n:
        d = <unsigned char>(p[i] - 48)
        if d > 9:
            return -1
        v = v * 10 + d
        i += 1
    out[0] = -v if negative else v
    return 0


cdef inline bint _double_chars(const char* p, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    if n == 0:
        return False
    for i in range(n):
        if not (p[i] in b"0123456789+-.eEinfatyINFATY" and p[i] != 0):
            return False
    return True


cdef inline bytes _excerpt(const char* p, Py_ssize_t n):
    return PyBytes_FromStringAndSize(p, n if n < EXCERPT_LEN else EXCERPT_LEN)


cdef int _check_codec(object encoding, object errors) except -1:
    if encoding is not None:
        if not isinstance(encoding, str):
            raise TypeError("encoding must be a str or None, not %r" % type(encoding).__name__)
        codecs.lookup(encoding)
    if errors is not None:
        if not isinstance(errors, str):
            raise TypeError("errors must be a str or None, not %r" % type(errors).__name__)
        codecs.lookup_error(errors)
    return 0


cdef object _check_factory(str name, object value):
    if not callable(value):
        raise TypeError(_types.MSG_NOT_CALLABLE % (name, value))
    return value


def _init_signature():
    """The constructor's parameters, as the pure twin's ``__init__`` has them."""
    import inspect
    P = inspect.Parameter
    plain = [("encoding", None), ("protocolError", ProtocolError), ("replyError", ReplyError),
             ("errors", None), ("notEnoughData", False)]
    keyword = [("max_depth", _types.DEFAULT_MAX_DEPTH),
               ("max_line_length", _types.DEFAULT_MAX_LINE_LENGTH), ("raw_fallback", False)]
    return inspect.Signature(
        [P(name, P.POSITIONAL_OR_KEYWORD, default=value) for name, value in plain]
        + [P(name, P.KEYWORD_ONLY, default=value) for name, value in keyword])


cdef class Reader:
    """Incremental RESP2/RESP3 parser with ``hiredis.Reader``'s interface.

    ``Reader(encoding=None, protocolError=ProtocolError, replyError=ReplyError,
    errors=None, notEnoughData=False, *, max_depth=1024, max_line_length=64 MiB,
    raw_fallback=False)``: pyredis 1.0's parameter order (``encoding`` first);
    hiredis' starts with ``protocolError``, so pass those by keyword.

    * ``feed(data, offset=None, length=None)`` appends ``data[offset:][:length]``
      (hiredis' ``0`` and ``-1`` mean the same; ``length=0`` feeds nothing, where
      pyredis 1.0's own reader took 0 for "not given"); ``gets()`` returns the
      next complete reply, or ``notEnoughData`` (``False``) while none is
      complete. Partial input stays buffered. Note that RESP3 ``#f`` is also
      ``False``: pass another ``notEnoughData`` to tell them apart.
    * Reply errors (``-msg``, ``!len``) are *returned* as ``replyError(msg)``
      instances, nested ones too; ``msg`` is decoded as UTF-8 (``replace``).
    * Malformed input (an empty ``:`` line, a bad length, an unknown type
      byte: pyredis 1.0's own reader returned a wrong value or waited)
      *raises* ``protocolError(msg)``. The reader then stays
      failed: every later ``gets()`` raises again (its connection must go).
    * Replies: ``+`` bytes, ``:`` / ``(`` int, ``$`` / ``=`` bytes (verbatim
      without its ``xxx:`` prefix; ``-1`` length -> ``None``), ``*`` / ``~``
      list (sets stay lists: elements may be unhashable, order is kept),
      ``%`` dict (later duplicate keys win), ``>`` :class:`PushNotification`, ``_`` None, ``#`` bool,
      ``,`` float. An attribute (``|``) is parsed and dropped: the value that
      follows it is returned in its place.
    * With ``encoding`` set, simple strings, bulk and verbatim strings are
      decoded (``gets(False)`` skips that) with the ``errors`` handler (None:
      ``"strict"``, as hiredis). A ``UnicodeDecodeError`` leaves the stream in
      sync: the whole reply is consumed, then the error is raised in its
      place - unless ``raw_fallback=True``, which returns the string that does
      not decode as bytes instead (pyredis 1.0's own reader did that, and
      pyredis' connections ask for it). Unknown codec names raise
      ``LookupError`` at construction / ``set_encoding``.
    * A map key that cannot be hashed (an aggregate): the whole reply is
      consumed, then the key's ``TypeError`` is raised in its place (hiredis
      raises the same, but then fails on every later call).
    * ``setmaxbuf(None)`` restores the default, ``DEFAULT_MAXBUF`` (64 KiB;
      hiredis' is 16 KiB).
    * Lines end at the first ``\\r``, which must be followed by ``\\n``. Bulk
      lengths above ``MAX_BULK_LEN`` are protocol errors; nothing is allocated
      for a payload before its bytes arrive.
    * Limits (keyword-only; exceeding one is a protocol error): ``max_depth``
      aggregates nested in one another, empty, null and attribute ones
      included (1024 is hiredis' limit too; the parser itself keeps an
      explicit stack, no recursion). ``max_line_length``: bytes between the
      type byte and the ``\\r\\n`` of a one-line reply (``+ - : _ # , (``),
      however the line arrives; an unterminated one fails as soon as it is
      longer, and each fed byte is searched for a line end once.
    * Python code that runs inside ``gets()`` (the factories, a codec error
      handler, a finalizer) may call ``feed()``; those bytes are parsed after
      the ones fed before, by that same ``gets()`` if the reply needs them.
    """

    cdef char* _buf
    cdef Py_ssize_t _cap, _rpos, _wpos
    cdef Py_ssize_t _maxbuf
    cdef Py_ssize_t _max_depth, _max_line
    cdef Py_ssize_t _scan_at          # an unterminated line holds no '\r' before this
    cdef readonly Py_ssize_t _scanned  # bytes searched again for a line end (tests: linearity)
    cdef Frame* _stack
    cdef Py_ssize_t _depth, _stack_cap
    cdef Py_ssize_t _reserved        # unfilled slots of preallocated lists
    cdef bint _parsing
    cdef bytearray _held             # fed while parsing; see the module docstring
    cdef object _failure             # protocol error message once failed, else None
    cdef object _deferred            # exception to raise in place of this reply, once consumed
    cdef object _protocol_error, _reply_error, _not_enough
    cdef object _encoding, _errors
    cdef bytes _encoding_c, _errors_c
    cdef bint _decoding, _utf8, _raw_fallback

    # inspect.signature(Reader): a compiled __init__ shows only (*args, **kwargs).
    __signature__ = _init_signature()

    def __cinit__(self, *args, **kwargs):
        # Usable defaults even if a subclass skips Reader.__init__.
        self._maxbuf = _types.DEFAULT_MAXBUF
        self._max_depth = _types.DEFAULT_MAX_DEPTH
        self._max_line = _types.DEFAULT_MAX_LINE_LENGTH
        self._protocol_error = ProtocolError
        self._reply_error = ReplyError
        self._not_enough = False

    def __init__(self, encoding=None, protocolError=ProtocolError, replyError=ReplyError,
                 errors=None, notEnoughData=False, *, max_depth=_types.DEFAULT_MAX_DEPTH,
                 max_line_length=_types.DEFAULT_MAX_LINE_LENGTH, raw_fallback=False):
        self._raw_fallback = raw_fallback
        self._max_depth = min(_types.check_limit("max_depth", max_depth), PY_SSIZE_T_MAX)
        self._max_line = min(_types.check_limit("max_line_length", max_line_length), PY_SSIZE_T_MAX)
        self._protocol_error = _check_factory("protocolError", protocolError)
        self._reply_error = _check_factory("replyError", replyError)
        self._not_enough = notEnoughData
        self.set_encoding(encoding, errors)

    def __dealloc__(self):
        cdef Py_ssize_t i
        for i in range(self._depth):
            Py_XDECREF(self._stack[i].container)
            Py_XDECREF(self._stack[i].key)
            Py_XDECREF(self._stack[i].key_error)
        PyMem_Free(self._stack)
        PyMem_Free(self._buf)

    # -- configuration -------------------------------------------------------

    def set_encoding(self, encoding=None, errors=None):
        """Decode strings with ``encoding`` (None: return bytes) and ``errors``."""
        _check_codec(encoding, errors)
        utf8 = encoding is not None and codecs.lookup(encoding).name == "utf-8"
        encoding_c = encoding.encode("ascii", "replace") if encoding is not None else None
        errors_c = errors.encode("ascii", "replace") if errors is not None else None
        with cython.critical_section(self):
            self._encoding = encoding
            self._errors = errors
            self._decoding = encoding is not None
            self._encoding_c = encoding_c
            self._errors_c = errors_c
            self._utf8 = utf8

    def setmaxbuf(self, maxbuf):
        """An idle buffer larger than ``maxbuf`` bytes is released (0: never;
        None: the default, ``DEFAULT_MAXBUF``)."""
        if maxbuf is None:
            maxbuf = _types.DEFAULT_MAXBUF
        maxbuf = PyNumber_Index(maxbuf)
        if maxbuf < 0:
            raise ValueError(_types.MSG_MAXBUF % maxbuf)
        self._maxbuf = min(maxbuf, PY_SSIZE_T_MAX)

    def getmaxbuf(self):
        return self._maxbuf

    @cython.critical_section
    def len(self):
        """Bytes fed and not yet consumed by a returned reply."""
        return self._wpos - self._rpos + (len(self._held) if self._held is not None else 0)

    @cython.critical_section
    def has_data(self):
        return self._wpos > self._rpos or self._held is not None

    # -- input -----------------------------------------------------------------

    def feed(self, data, offset=None, length=None):
        """Append ``data[offset:offset + length]`` (``offset`` None: 0; ``length``
        None or -1: to the end)."""
        cdef Py_buffer view
        cdef Py_ssize_t start = 0, count = 0
        if PyBytes_CheckExact(data):
            if offset is None and length is None:
                self._append(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
            else:
                _slice(PyBytes_GET_SIZE(data), offset, length, &start, &count)
                self._append(PyBytes_AS_STRING(data) + start, count)
            return
        if not PyObject_CheckBuffer(data):
            raise TypeError(_types.MSG_NOT_BUFFER % type(data).__name__)
        try:
            PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        except BufferError:
            raise TypeError(_types.MSG_NOT_CONTIGUOUS) from None
        try:
            _slice(view.len, offset, length, &start, &count)
            self._append(<char*>view.buf + start, count)
        finally:
            PyBuffer_Release(&view)

    @cython.critical_section
    cdef int _append(self, const char* src, Py_ssize_t n) except -1:
        if n == 0:
            return 0
        if self._parsing:  # the buffer must not move under the parser
            if self._held is None:
                self._held = bytearray(src[:n])
            else:
                self._held += src[:n]
            return 0
        return self._store(src, n)

    cdef int _release_held(self) except -1:
        """Move bytes fed during the parse into the buffer (no pointer into it is live)."""
        cdef bytearray held = self._held
        self._held = None
        self._store(held, len(held))
        return 0

    cdef int _store(self, const char* src, Py_ssize_t n) except -1:
        cdef Py_ssize_t live = self._wpos - self._rpos
        cdef Py_ssize_t capacity
        cdef char* grown
        if self._wpos + n > self._cap:
            # Compact only when it moves no more bytes than were consumed (amortized
            # linear), and never under a running _parse() (it holds positions).
            if self._rpos and self._rpos >= live and not self._parsing:
                memmove(self._buf, self._buf + self._rpos, live)
                self._scan_at = self._scan_at - self._rpos if self._scan_at > self._rpos else 0
                self._wpos = live
                self._rpos = 0
            if self._wpos + n > self._cap:
                capacity = max(self._cap * 2, self._wpos + n, MIN_CAPACITY)
                grown = <char*>PyMem_Realloc(self._buf, capacity)
                if grown == NULL:
                    raise MemoryError()
                self._buf = grown
                self._cap = capacity
        memcpy(self._buf + self._wpos, src, n)
        self._wpos += n
        return 0

    cdef inline void _idle(self) noexcept:
        """Everything consumed: rewind for free; release a big buffer."""
        self._rpos = 0
        self._wpos = 0
        self._scan_at = 0
        if self._maxbuf and self._cap > self._maxbuf and not self._parsing:
            PyMem_Free(self._buf)
            self._buf = NULL
            self._cap = 0

    # -- errors ----------------------------------------------------------------

    cdef object _fail(self, str message):
        """Enter the failed state; return the exception to raise."""
        self._failure = message
        return self._protocol_error(message)

    cdef object _length_error(self, char t, const char* line, Py_ssize_t n):
        """The error for a length line that is neither ``-1`` nor <= 18 digits."""
        name = _LENGTH_NAMES[<unsigned char>t]
        if _all_digits(line, n):
            return self._fail(_types.MSG_LENGTH_RANGE % (name, _excerpt(line, n)))
        return self._fail(_types.MSG_BAD_LENGTH % (name, _excerpt(line, n)))

    cdef object _line_too_long(self, char t):
        return self._fail(_types.MSG_LINE_TOO_LONG % (_LINE_NAMES[<unsigned char>t], self._max_line))

    # -- values ----------------------------------------------------------------

    cdef object _text(self, const char* p, Py_ssize_t n):
        """Decode (encoding set); on a UnicodeDecodeError see the class doc."""
        # Local references: the codec may run code that calls set_encoding().
        cdef bytes errors_c = self._errors_c
        cdef bytes encoding_c = self._encoding_c
        cdef const char* errors = NULL
        if encoding_c is None:  # set_encoding(None) ran during this parse
            return PyBytes_FromStringAndSize(p, n)
        if errors_c is not None:
            errors = PyBytes_AS_STRING(errors_c)
        try:
            if self._utf8:
                return PyUnicode_DecodeUTF8(p, n, errors)
            return PyUnicode_Decode(p, n, PyBytes_AS_STRING(encoding_c), errors)
        except UnicodeDecodeError as exc:
            if not self._raw_fallback and self._deferred is None:
                self._deferred = exc  # raised once the whole reply is consumed
            return PyBytes_FromStringAndSize(p, n)

    cdef object _reply_error_from(self, const char* p, Py_ssize_t n):
        return self._reply_error(PyUnicode_DecodeUTF8(p, n, "replace"))

    cdef object _integer(self, char* p, Py_ssize_t n, str name):
        """``-?[0-9]+`` of any length -> int (the slow path beyond 18 digits)."""
        cdef long long v = 0
        cdef char saved
        if _parse_small_int(p, n, &v) == 0:
            return PyLong_FromLongLong(v)
        if n > 0 and _all_digits(p + 1 if p[0] == b'-' else p, n - 1 if p[0] == b'-' else n):
            saved = p[n]
            p[n] = 0  # our buffer: a NUL-terminated view for PyLong_FromString
            try:
                return PyLong_FromString(p, NULL, 10)
            except ValueError:  # beyond sys.get_int_max_str_digits()
                pass
            finally:
                p[n] = saved
        raise self._fail(_types.MSG_BAD_VALUE % (name, _excerpt(p, n)))

    cdef object _scalar(self, char t, char* p, Py_ssize_t n):
        """Value of a one-line RESP3 type other than ``+ - :``."""
        cdef double d
        cdef char* stop = NULL
        cdef char saved
        if t == b'_':
            if n:
                raise self._fail(_types.MSG_BAD_VALUE % ("null", _excerpt(p, n)))
            return None
        if t == b'#':
            if n == 1 and p[0] == b't':
                return True
            if n == 1 and p[0] == b'f':
                return False
            raise self._fail(_types.MSG_BAD_VALUE % ("boolean", _excerpt(p, n)))
        if t == b',':
            if _double_chars(p, n):
                saved = p[n]
                p[n] = 0
                try:
                    d = PyOS_string_to_double(p, &stop, NULL)
                    if stop == p + n:
                        return PyFloat_FromDouble(d)
                except ValueError:
                    pass
                finally:
                    p[n] = saved
            raise self._fail(_types.MSG_BAD_VALUE % ("double", _excerpt(p, n)))
        return self._integer(p, n, "big number")  # (

    # -- aggregates ------------------------------------------------------------

    cdef int _push(self, Kind kind, Py_ssize_t size, object container, bint prealloc) except -1:
        cdef Frame* grown
        cdef Py_ssize_t capacity
        cdef Frame* f
        if self._depth == self._stack_cap:
            capacity = max(self._stack_cap * 2, 8)
            grown = <Frame*>PyMem_Realloc(self._stack, capacity * sizeof(Frame))
            if grown == NULL:
                raise MemoryError()
            self._stack = grown
            self._stack_cap = capacity
        f = &self._stack[self._depth]
        f.container = NULL
        if container is not None:
            Py_INCREF(container)
            f.container = <PyObject*>container
        f.key = NULL
        f.key_error = NULL
        f.size = size
        f.filled = 0
        f.kind = kind
        f.prealloc = prealloc
        self._depth += 1
        return 0

    cdef object _pop(self):
        """Close the finished top frame: its value, or _SKIP for an attribute."""
        cdef Frame* f = &self._stack[self._depth - 1]
        cdef object value
        self._depth -= 1
        if f.kind == K_ATTR:
            return _SKIP
        value = <object>f.container
        Py_XDECREF(f.container)
        f.container = NULL
        if f.key_error != NULL:
            # Raised in place of the reply, once it is consumed (like the twin,
            # which builds its dicts when they are complete).
            if self._deferred is None:
                self._deferred = <object>f.key_error
            Py_XDECREF(f.key_error)
            f.key_error = NULL
        return value

    cdef int _map_store(self, Frame* f, object value) except -1:
        cdef object key
        if not (f.filled & 1):
            Py_INCREF(value)
            f.key = <PyObject*>value
            return 0
        key = <object>f.key
        Py_XDECREF(f.key)
        f.key = NULL
        try:
            _dict_store(f.container, <PyObject*>key, <PyObject*>value)
        except Exception as exc:  # an unhashable key: see _pop
            if f.key_error == NULL:
                Py_INCREF(exc)
                f.key_error = <PyObject*>exc
        return 0

    cdef object _open(self, char t, Py_ssize_t n, Py_ssize_t avail):
        """After an aggregate header: push a frame (-> _SKIP) or return its value."""
        cdef object container
        cdef bint prealloc
        if n > 0:
            if t == b'*' or t == b'~':
                # Full size only if the elements (>= 3 bytes each) may already be here.
                prealloc = self._reserved + n <= avail // 3
                if prealloc:
                    self._reserved += n
                    container = PyList_New(n)
                else:
                    container = []
                self._push(K_ARRAY if t == b'*' else K_SET, n, container, prealloc)
            elif t == b'%':
                self._push(K_MAP, 2 * n, {}, False)
            elif t == b'>':
                self._push(K_PUSH, n, PushNotification(), False)
            else:
                self._push(K_ATTR, 2 * n, None, False)
            return _SKIP
        if n < 0:
            return None
        if t == b'*' or t == b'~':
            return []
        if t == b'%':
            return {}
        if t == b'>':
            return PushNotification()
        return _SKIP  # empty attribute

    # -- parsing ---------------------------------------------------------------

    @cython.critical_section
    def gets(self, shouldDecode=True):
        """Return the next complete reply, or ``notEnoughData`` if there is none."""
        cdef object reply
        cdef bint decode
        if self._failure is not None:
            raise self._protocol_error(self._failure)
        if self._parsing:
            raise RuntimeError("Reader.gets() called again from inside gets()")
        decode = self._decoding and shouldDecode
        self._parsing = True
        try:
            reply = self._parse(decode)
        finally:
            self._parsing = False
            if self._held is not None:
                self._release_held()
        if self._rpos == self._wpos:
            self._idle()
        if reply is _INCOMPLETE:
            return self._not_enough
        if self._deferred is not None:
            exc = self._deferred
            self._deferred = None
            raise exc
        return reply

    cdef object _parse(self, bint decode):
        """Parse from _rpos: a whole reply, or _INCOMPLETE. _rpos and the stack
        always agree when this returns or raises, so a retry is safe."""
        cdef char* buf
        cdef Py_ssize_t end
        cdef Py_ssize_t pos = self._rpos
        cdef Py_ssize_t n = 0, start, line_len
        cdef long long v = 0
        cdef char* line
        cdef char* scan
        cdef char* cr
        cdef char t
        cdef Frame* f
        cdef object value
        while True:
            # Out of input: take what Python code fed meanwhile (then reload buf).
            buf = self._buf
            end = self._wpos
            if pos >= end:
                if self._held is not None:
                    self._release_held()
                    continue
                return _INCOMPLETE
            t = buf[pos]
            line = buf + pos + 1
            # An unterminated line is searched once: from where the last search stopped.
            scan = buf + self._scan_at if self._scan_at > pos + 1 else line
            cr = <char*>memchr(scan, b'\r', buf + end - scan)
            if cr == NULL or cr + 1 >= buf + end:
                self._scanned += buf + end - scan
                self._scan_at = (cr if cr != NULL else buf + end) - buf
                if self._held is not None:
                    self._release_held()
                    continue
                if not _is_known_type(t):
                    raise self._fail(_types.MSG_UNKNOWN_TYPE % PyBytes_FromStringAndSize(&t, 1))
                if cr == NULL and _is_length_type(t) and end - pos - 1 > MAX_LENGTH_LINE:
                    raise self._length_error(t, line, end - pos - 1)
                if _is_line_type(t) and self._scan_at - pos - 1 > self._max_line:
                    raise self._line_too_long(t)
                return _INCOMPLETE
            if cr[1] != b'\n':
                raise self._fail(_types.MSG_NO_LF % PyBytes_FromStringAndSize(&t, 1))
            line_len = cr - line

            if t == b'$' or t == b'=' or t == b'!':
                if _parse_length(line, line_len, &n) < 0:
                    raise self._length_error(t, line, line_len)
                if n < 0:
                    value = None
                    pos = cr + 2 - buf
                else:
                    if n > MAX_BULK_LEN:
                        raise self._fail(_types.MSG_LENGTH_RANGE % (
                            _LENGTH_NAMES[<unsigned char>t], _excerpt(line, line_len)))
                    start = cr + 2 - buf
                    if start + n + 2 > end:
                        if self._held is not None:
                            self._release_held()
                            continue
                        return _INCOMPLETE
                    if buf[start + n] != b'\r' or buf[start + n + 1] != b'\n':
                        raise self._fail(_types.MSG_NO_CRLF_AFTER_BULK % (
                            _LENGTH_NAMES[<unsigned char>t], n))
                    if t == b'$':
                        if decode:
                            value = self._text(buf + start, n)
                        else:
                            value = PyBytes_FromStringAndSize(buf + start, n)
                    elif t == b'=':
                        if n < 4 or buf[start + 3] != b':':
                            raise self._fail(_types.MSG_VERBATIM_PREFIX % _excerpt(buf + start, n))
                        if decode:
                            value = self._text(buf + start + 4, n - 4)
                        else:
                            value = PyBytes_FromStringAndSize(buf + start + 4, n - 4)
                    else:
                        value = self._reply_error_from(buf + start, n)
                    pos = start + n + 2

            elif t == b'*' or t == b'%' or t == b'~' or t == b'>' or t == b'|':
                if _parse_length(line, line_len, &n) < 0 or (n < 0 and t == b'|'):
                    raise self._length_error(t, line, line_len)
                if self._depth >= self._max_depth:
                    raise self._fail(_types.MSG_DEPTH % self._max_depth)
                pos = cr + 2 - buf
                value = self._open(t, n, end - pos)
                if value is _SKIP:
                    self._rpos = pos
                    continue

            elif line_len > self._max_line and _is_line_type(t):
                raise self._line_too_long(t)
            elif t == b':':
                if _parse_small_int(line, line_len, &v) == 0:
                    value = PyLong_FromLongLong(v)
                else:
                    value = self._integer(line, line_len, "integer")
                pos = cr + 2 - buf
            elif t == b'+':
                if decode:
                    value = self._text(line, line_len)
                else:
                    value = PyBytes_FromStringAndSize(line, line_len)
                pos = cr + 2 - buf
            elif t == b'-':
                value = self._reply_error_from(line, line_len)
                pos = cr + 2 - buf
            elif _is_known_type(t):
                value = self._scalar(t, line, line_len)
                pos = cr + 2 - buf
            else:
                raise self._fail(_types.MSG_UNKNOWN_TYPE % PyBytes_FromStringAndSize(&t, 1))

            self._rpos = pos

            # Deliver `value` to the pending aggregates, closing finished ones.
            while self._depth:
                f = &self._stack[self._depth - 1]
                if f.kind <= K_PUSH:
                    if f.prealloc:
                        Py_INCREF(value)
                        _list_set_item(f.container, f.filled, <PyObject*>value)
                        self._reserved -= 1
                    else:
                        _list_append(f.container, <PyObject*>value)
                elif f.kind == K_MAP:
                    self._map_store(f, value)
                    f = &self._stack[self._depth - 1]  # hashing ran Python code
                f.filled += 1
                if f.filled < f.size:
                    break
                value = self._pop()
                if value is _SKIP:
                    break
            else:
                return value  # a whole reply (a finished attribute `break`s above)


cdef int _slice(Py_ssize_t size, object offset, object length,
                Py_ssize_t* start, Py_ssize_t* count) except -1:
    """Check feed()'s offset/length against ``size`` bytes of data (C arithmetic:
    this runs once per feed() with offsets, i.e. once per socket read)."""
    # NULL: values beyond Py_ssize_t clamp (and then fail the range checks).
    cdef Py_ssize_t off = 0 if offset is None else PyNumber_AsSsize_t(offset, NULL)
    cdef Py_ssize_t n = -1 if length is None else PyNumber_AsSsize_t(length, NULL)
    if off < 0 or off > size:
        raise ValueError(_types.MSG_OFFSET_RANGE % (PyNumber_Index(offset), size))
    if n == -1:
        n = size - off
    elif n < 0 or n > size - off:
        raise ValueError(_types.MSG_LENGTH_ARG_RANGE % (PyNumber_Index(length), size, off))
    start[0] = off
    count[0] = n
    return 0
