"""Pure-Python RESP2/RESP3 parser: the twin of the compiled ``_reader`` module.

Both twins share one contract, documented on :class:`Reader`, and their error
texts (``_types``); tests run every behaviour against both, and a differential
test feeds both (and hiredis) the same streams cut at random points.

How this twin stays fast without C - it works on *lines*, not bytes:

* Fed chunks are kept as ``bytes`` in a list (a ``bytes`` argument is not even
  copied). Only when the parser runs out of complete lines and enough new
  bytes have arrived (``_need_more``) are the unconsumed rest and the chunks
  joined and split once on ``\\r\\n`` into a *window* of lines. A huge bulk
  arriving in small pieces is therefore joined once, not once per piece.
* Every RESP token is then one list item: a header line, or a bulk payload
  (a payload holding ``\\r\\n`` spans several items; it is rejoined). Each
  line costs a list index instead of a ``find`` plus slices.
* An array of bulk strings is checked and sliced out of the window in a few
  C-level calls (``map``/list compare), not element by element. The leading
  simple elements of any other aggregate (and of arrays of simple elements
  inside it, one level down) are read by a tight loop before any frame exists.
* Aggregates are an explicit stack of ``[items, size, kind]`` frames (no
  recursion); the top frame lives in locals.

The compiled twin reads bytes, so every place where the two models could
disagree (a stray ``\\r``, a partial line, a payload not followed by
``\\r\\n``) is handled explicitly here to give the same result at the same time.

Free threading: as with the compiled twin, a Reader is per-thread (one
connection's); two threads feeding and parsing one Reader get mixed-up
replies or exceptions (the interpreter keeps memory safe here).
"""
import sys as _sys
from operator import index as _index

from pyredis.exceptions import ProtocolError, ReplyError
from pyredis.protocol import _types
from pyredis.protocol._types import (
    DEFAULT_MAX_DEPTH, DEFAULT_MAX_LINE_LENGTH, DEFAULT_MAXBUF, EXCERPT_LEN, LINE_NAMES, MAX_BULK_LEN,
    PushNotification, check_limit,
)

__all__ = ["Reader"]

# Aggregate kinds (frame[2]); the compiled twin uses the same numbers.
_ARRAY, _SET, _PUSH, _MAP, _ATTR = range(5)

# Type byte -> name used in error messages.
_LENGTH_NAMES = {
    ord("$"): "bulk string", ord("="): "verbatim string", ord("!"): "blob error",
    ord("*"): "array", ord("%"): "map", ord("~"): "set", ord(">"): "push", ord("|"): "attribute",
}
_AGGREGATE_KINDS = {ord("*"): _ARRAY, ord("~"): _SET, ord(">"): _PUSH, ord("%"): _MAP, ord("|"): _ATTR}
_PAYLOAD_TYPES = frozenset(b"$=!")
_KNOWN_TYPES = frozenset(b"+-:$*_#,(=%~>!|")
_DOUBLE_CHARS = frozenset(b"0123456789+-.eEinfatyINFATY")
_CR = 13

# Canonical length lines seen so far (b"$10" -> 10), to skip isdigit()+int().
_LENGTH_CACHE = {}
_LENGTH_CACHE_MAX = 4096
_CACHED_LENGTH_LIMIT = 1 << 16
# b"$0" .. b"$1023": the headers a bulk of each length must have (array fast path).
_BULK_HEADERS = [b"$%d" % n for n in range(1024)]
_BULK_ARRAY_MIN = 8  # shorter arrays go element by element

_SKIP = object()        # a completed attribute: nothing to deliver
_INCOMPLETE = object()  # a payload whose bytes have not all arrived
_BUSY = object()        # Reader._failure while gets() runs (re-entry guard)


def _simple_elements(lines, li, nl, count, append, longest):
    """Append up to ``count`` simple elements from ``lines[li:]``: ``$`` with a
    one-line payload, ``:`` and ``+`` (at most ``longest`` bytes). Returns the
    index after the last one. Anything else stops it; the caller then takes
    the general path."""
    while count and li < nl:
        line = lines[li]
        try:
            t = line[0]
        except IndexError:
            break
        if t == 36:
            n = _LENGTH_CACHE.get(line)
            if n is None or li + 1 >= nl:
                break
            line = lines[li + 1]
            if len(line) != n:
                break
            append(line)
            li += 2
        elif t == 58:
            if len(line) > longest:
                break
            line = line[1:]
            if not line.isdigit():
                break
            try:
                append(int(line))
            except ValueError:  # too long: the general path decides
                break
            li += 1
        elif t == 43 and _CR not in line and len(line) <= longest:
            append(line[1:])
            li += 1
        else:
            break
        count -= 1
    return li


def _excerpt(raw):
    return bytes(raw[:EXCERPT_LEN])


def _check_factory(name, value):
    if not callable(value):
        raise TypeError(_types.MSG_NOT_CALLABLE % (name, value))
    return value


def _check_codec(encoding, errors):
    """Validate now (LookupError / TypeError), so gets() never fails on a bad name."""
    import codecs

    if encoding is not None:
        if not isinstance(encoding, str):
            raise TypeError("encoding must be a str or None, not %r" % type(encoding).__name__)
        codecs.lookup(encoding)
    if errors is not None:
        if not isinstance(errors, str):
            raise TypeError("errors must be a str or None, not %r" % type(errors).__name__)
        codecs.lookup_error(errors)


class Reader:
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

    __slots__ = (
        "_lines", "_li", "_nl", "_chunks", "_pending_len", "_need_more", "_left_li", "_left",
        "_stack", "_failure", "_deferred", "_protocol_error", "_reply_error", "_not_enough",
        "_encoding", "_errors", "_decoding", "_raw_fallback", "_maxbuf", "_max_depth", "_longest", "_tail_cr",
        "_searched", "_scanned",
    )

    def __new__(cls, *args, **kwargs):
        # Usable defaults even if a subclass skips Reader.__init__ (as compiled).
        self = super().__new__(cls)
        self._protocol_error = ProtocolError
        self._reply_error = ReplyError
        self._not_enough = False
        self._encoding = self._errors = None
        self._decoding = self._raw_fallback = False
        self._max_depth = DEFAULT_MAX_DEPTH
        self._longest = DEFAULT_MAX_LINE_LENGTH + 1  # max_line_length + its type byte
        self._reset()
        return self

    def __init__(self, encoding=None, protocolError=ProtocolError, replyError=ReplyError,
                 errors=None, notEnoughData=False, *, max_depth=DEFAULT_MAX_DEPTH,
                 max_line_length=DEFAULT_MAX_LINE_LENGTH, raw_fallback=False):
        self._raw_fallback = bool(raw_fallback)
        self._max_depth = min(check_limit("max_depth", max_depth), _sys.maxsize)
        self._longest = min(check_limit("max_line_length", max_line_length), _sys.maxsize) + 1
        self._protocol_error = _check_factory("protocolError", protocolError)
        self._reply_error = _check_factory("replyError", replyError)
        self._not_enough = notEnoughData
        self.set_encoding(encoding, errors)

    def _reset(self):
        # The window: _lines[:_nl] are complete lines, _lines[_nl] the partial
        # tail; _lines[_li] is the next line to parse.
        self._lines = [b""]
        self._li = 0
        self._nl = 0
        self._tail_cr = -1       # where the tail's first '\r' after its type byte is (-1: none)
        self._chunks = []        # fed, not yet in the window
        self._pending_len = 0
        self._searched = 0       # _chunks[:_searched] hold no '\r' (an unterminated line)
        self._scanned = 0        # bytes joined or searched for a line end (tests: linearity)
        self._need_more = 1      # pending bytes needed before parsing can progress
        self._left_li = 0        # len() bookkeeping: _left bytes unconsumed from line _left_li
        self._left = 0
        self._stack = []         # pending aggregates: [items, size, kind]
        self._failure = None     # None, _BUSY (in gets) or the protocol error message
        self._deferred = None    # exception to raise in place of this reply, once consumed
        self._maxbuf = DEFAULT_MAXBUF

    # -- configuration -------------------------------------------------------

    def set_encoding(self, encoding=None, errors=None):
        """Decode strings with ``encoding`` (None: return bytes) and ``errors``."""
        _check_codec(encoding, errors)
        self._encoding = encoding
        self._errors = errors
        self._decoding = encoding is not None

    def setmaxbuf(self, maxbuf):
        """An idle buffer larger than ``maxbuf`` bytes is released (0: never;
        None: the default, ``DEFAULT_MAXBUF``).

        This twin always releases its window once everything is consumed.
        """
        if maxbuf is None:
            maxbuf = DEFAULT_MAXBUF
        maxbuf = _index(maxbuf)
        if maxbuf < 0:
            raise ValueError(_types.MSG_MAXBUF % maxbuf)
        self._maxbuf = min(maxbuf, _sys.maxsize)

    def getmaxbuf(self):
        return self._maxbuf

    def len(self):
        """Bytes fed and not yet consumed by a returned reply."""
        li = self._li  # never below _left_li: a new window resets both to 0
        if li > self._left_li:  # amortized: each line is counted once
            done = self._lines[self._left_li:li]
            self._left -= sum(map(len, done)) + 2 * len(done)
            self._left_li = li
        return self._left + self._pending_len

    def has_data(self):
        return self._li < self._nl or bool(self._lines[self._nl]) or self._pending_len > 0

    # -- input -----------------------------------------------------------------

    def feed(self, data, offset=None, length=None):
        """Append ``data[offset:offset + length]`` (``offset`` None: 0; ``length``
        None or -1: to the end)."""
        if type(data) is bytes and offset is None and length is None:
            chunk = data  # immutable: kept without a copy
        else:
            try:
                view = memoryview(data)
            except TypeError:
                raise TypeError(_types.MSG_NOT_BUFFER % type(data).__name__) from None
            with view:
                if not view.c_contiguous:
                    raise TypeError(_types.MSG_NOT_CONTIGUOUS)
                size = view.nbytes
                offset = 0 if offset is None else _index(offset)
                length = -1 if length is None else _index(length)
                if offset < 0 or offset > size:
                    raise ValueError(_types.MSG_OFFSET_RANGE % (offset, size))
                if length == -1:
                    length = size - offset
                elif length < 0 or length > size - offset:
                    raise ValueError(_types.MSG_LENGTH_ARG_RANGE % (length, size, offset))
                with view.cast("B") as flat:
                    chunk = flat[offset:offset + length].tobytes()
        if chunk:
            self._chunks.append(chunk)
            self._pending_len += len(chunk)

    def _join(self, li):
        """New window: the unconsumed lines from ``li`` on plus every fed chunk."""
        lines = self._lines
        chunks = self._chunks
        rest = lines[-1] if li >= self._nl else b"\r\n".join(lines[li:])
        if rest:
            chunks.insert(0, rest)
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self._pending_len = 0
        self._searched = 0
        self._scanned += len(data)
        self._need_more = 0
        self._lines = lines = data.split(b"\r\n")
        self._li = 0
        self._nl = len(lines) - 1
        self._tail_cr = lines[-1].find(b"\r", 1)
        self._left_li = 0
        self._left = len(data)
        return lines

    # -- errors ----------------------------------------------------------------

    def _refusal(self):
        if self._failure is _BUSY:
            return RuntimeError("Reader.gets() called again from inside gets()")
        return self._protocol_error(self._failure)

    def _fail(self, message):
        """Enter the failed state; return the exception to raise."""
        self._failure = message
        return self._protocol_error(message)

    def _line_error(self, t, line, message):
        """A complete line failed its check. As the compiled twin reads it, a
        ``\\r`` inside the line ended it early without its ``\\n``."""
        if _CR in line[1:]:
            return self._fail(_types.MSG_NO_LF % bytes((t,)))
        return self._fail(message)

    def _unknown_type(self, t, line, following, complete):
        """An unknown type byte. An empty line is a ``\r`` type byte to the
        compiled twin, whose line then runs to the next ``\r``: in the line
        ``following`` (``complete``: ended by ``\r\n``)."""
        if not line:
            cr = following.find(b"\r")
            if cr >= 0 and (complete or cr < len(following) - 1):
                return self._fail(_types.MSG_NO_LF % b"\r")
        return self._line_error(t, line, _types.MSG_UNKNOWN_TYPE % bytes((t,)))

    def _length(self, t, line):
        """Value of a length line that is not in the cache (-1 allowed)."""
        digits = line[1:]
        if digits.isdigit() and len(digits) <= _types.MAX_LENGTH_DIGITS:
            n = int(digits)
            if n > MAX_BULK_LEN and t in _PAYLOAD_TYPES:
                raise self._fail(_types.MSG_LENGTH_RANGE % (_LENGTH_NAMES[t], _excerpt(digits)))
            if n < _CACHED_LENGTH_LIMIT and len(_LENGTH_CACHE) < _LENGTH_CACHE_MAX:
                _LENGTH_CACHE[line] = n
            return n
        if digits == b"-1" and t != 124:  # no null attribute
            return -1
        name = _LENGTH_NAMES[t]
        template = _types.MSG_LENGTH_RANGE if digits.isdigit() else _types.MSG_BAD_LENGTH
        raise self._line_error(t, line, template % (name, _excerpt(digits)))

    def _tail(self, tail):
        """The next line has not fully arrived: reject what cannot become valid."""
        if tail:
            cr = self._tail_cr
            if 0 <= cr < len(tail) - 1:  # a '\r' followed by something else than '\n'
                raise self._fail(_types.MSG_NO_LF % tail[:1])
            self._unterminated(tail[0], len(tail) - 1 if cr < 0 else cr - 1, cr < 0, tail, False)

    def _still_open(self, tail):
        """Bytes were fed after an unterminated ``tail``: True (after the checks)
        when they hold no line end either, so the window need not be rebuilt.
        Each fed chunk is searched once, however many feeds the line takes."""
        if self._tail_cr >= 0:  # a '\r' whose '\n' may have come, or an error
            return False
        chunks = self._chunks
        for i in range(self._searched, len(chunks)):
            self._scanned += len(chunks[i])
            if _CR in chunks[i]:
                return False
        self._searched = len(chunks)
        t = tail[0] if tail else chunks[0][0]
        self._unterminated(t, len(tail) + self._pending_len - 1, True, tail, True)
        return True

    def _unterminated(self, t, size, open_ended, tail, pending):
        """Checks for a line whose end has not arrived: type byte ``t`` and
        ``size`` bytes after it (``open_ended``: no '\r' among them yet); the
        line is ``tail`` plus, if ``pending``, every fed chunk."""
        if t not in _KNOWN_TYPES:
            raise self._fail(_types.MSG_UNKNOWN_TYPE % bytes((t,)))
        if open_ended and t in _LENGTH_NAMES and size > _types.MAX_LENGTH_LINE:
            digits = (tail + b"".join(self._chunks) if pending else tail)[1:]
            template = _types.MSG_LENGTH_RANGE if digits.isdigit() else _types.MSG_BAD_LENGTH
            raise self._fail(template % (_LENGTH_NAMES[t], _excerpt(digits)))
        if size >= self._longest and t in LINE_NAMES:
            raise self._line_too_long(t, b"")

    def _line_too_long(self, t, line):
        return self._line_error(t, line, _types.MSG_LINE_TOO_LONG % (LINE_NAMES[t], self._longest - 1))

    # -- values ----------------------------------------------------------------

    def _decode(self, raw):
        encoding = self._encoding
        if encoding is None:  # set_encoding(None) ran during this parse
            return raw
        try:
            return raw.decode(encoding, self._errors or "strict")
        except UnicodeDecodeError as exc:
            if not self._raw_fallback and self._deferred is None:
                self._deferred = exc  # raised once the whole reply is consumed
            return raw

    def _payload(self, lines, li, n, t):
        """The ``n``-byte payload after the header at ``lines[li]`` when it is not
        simply the next complete line: it holds ``\\r\\n`` or has not all arrived.

        Returns ``(payload, next line index)`` or ``(_INCOMPLETE, bytes still missing)``.
        """
        nl = self._nl
        last = li + 1
        size = len(lines[last])  # payload bytes through the end of line `last`
        while size < n and last < nl:  # a complete line: its \r\n is payload too
            last += 1
            size += 2 + len(lines[last])
        if last < nl:
            if size == n:  # ends exactly before a \r\n
                return b"\r\n".join(lines[li + 1:last + 1]), last + 1
        elif size < n + 2:  # reached the tail: wait for payload and \r\n
            return _INCOMPLETE, n + 2 - size
        raise self._fail(_types.MSG_NO_CRLF_AFTER_BULK % (_LENGTH_NAMES[t], n))

    def _special(self, t, line, payload):
        """Value of a verbatim string (``=``) or blob error (``!``)."""
        if t == 33:
            return self._reply_error(payload.decode("utf-8", "replace"))
        if len(payload) < 4 or payload[3] != 58:
            raise self._fail(_types.MSG_VERBATIM_PREFIX % _excerpt(payload))
        return payload[4:]

    def _scalar(self, t, line):
        """Value of a one-line RESP3 type other than ``+ - :``."""
        if t == 95:  # _
            if len(line) == 1:
                return None
            name = "null"
        elif t == 35:  # #
            if line == b"#t":
                return True
            if line == b"#f":
                return False
            name = "boolean"
        elif t == 44:  # ,
            digits = line[1:]
            if digits and _DOUBLE_CHARS.issuperset(digits):
                try:
                    return float(digits)
                except ValueError:
                    pass
            name = "double"
        else:  # ( big number
            return self._integer(t, line, "big number")
        raise self._line_error(t, line, _types.MSG_BAD_VALUE % (name, _excerpt(line[1:])))

    def _integer(self, t, line, name):
        digits = line[1:]
        if digits.isdigit() or (digits[:1] == b"-" and digits[1:].isdigit()):
            try:
                return int(digits)
            except ValueError:  # beyond sys.get_int_max_str_digits()
                pass
        raise self._line_error(t, line, _types.MSG_BAD_VALUE % (name, _excerpt(digits)))

    def _bulk_array(self, lines, li, n, decode):
        """Fast path: ``n`` bulk strings at ``lines[li:]``, each one header line
        plus one payload line, checked at C speed. Returns the list or None."""
        stop = li + 2 * n
        if stop > self._nl:
            return None
        payloads = lines[li + 1:stop:2]
        try:
            if lines[li:stop:2] != list(map(_BULK_HEADERS.__getitem__, map(len, payloads))):
                return None
        except IndexError:  # a payload of 1 KiB or more
            return None
        if decode:
            return list(map(self._decode, payloads))
        return payloads

    def _complete(self, items, kind):
        """The value of a finished map / push / attribute frame."""
        if kind == _MAP:
            it = iter(items)
            try:
                return dict(zip(it, it))
            except Exception as exc:  # an unhashable key: raised in place of the reply
                if self._deferred is None:
                    self._deferred = exc
                return {}
        if kind == _PUSH:
            return PushNotification(items)
        return _SKIP  # _ATTR

    # -- parsing ---------------------------------------------------------------

    def gets(self, shouldDecode=True):
        """Return the next complete reply, or ``notEnoughData`` if there is none."""
        if self._failure is not None:
            raise self._refusal()
        li = self._li
        nl = self._nl
        if li + 2 < nl and not self._stack and self._deferred is None and not (
                self._decoding and shouldDecode):
            # Fast path: a top-level bulk string, simple string or integer whose
            # lines are here, with more after it; anything else falls through.
            lines = self._lines
            line = lines[li]
            if line:
                t = line[0]
                if t == 36:
                    n = _LENGTH_CACHE.get(line)
                    if n is not None and len(lines[li + 1]) == n:
                        self._li = li + 2
                        return lines[li + 1]
                elif t == 43:
                    if _CR not in line and len(line) <= self._longest:
                        self._li = li + 1
                        return line[1:]
                elif t == 58:
                    digits = line[1:]
                    if digits.isdigit() and len(line) <= self._longest:
                        try:
                            value = int(digits)
                        except ValueError:  # beyond sys.get_int_max_str_digits()
                            pass
                        else:
                            self._li = li + 1
                            return value
        if self._pending_len < self._need_more:
            return self._not_enough  # still waiting: nothing new to look at
        lines = self._lines
        stack = self._stack
        if stack:
            items, size, kind = stack[-1]
        else:
            items = None
        decode = self._decoding and shouldDecode
        longest = self._longest
        self._failure = _BUSY
        try:
            while True:
                if li >= nl:  # only the partial tail is left
                    if not self._pending_len:
                        self._tail(lines[nl])
                    elif not self._still_open(lines[nl]):
                        lines = self._join(li)
                        li = 0
                        nl = self._nl
                        continue
                    need_more = 1
                    break
                line = lines[li]
                try:
                    t = line[0]
                except IndexError:  # an empty line: '\r' read as the type byte
                    t = _CR

                if t == 36 or t == 61 or t == 33:  # $ = !
                    n = _LENGTH_CACHE.get(line)
                    if n is None:
                        n = self._length(t, line)
                    if n < 0:
                        value = None
                        li += 1
                    else:
                        if li + 1 < nl and len(lines[li + 1]) == n:
                            value = lines[li + 1]
                            after = li + 2
                        else:
                            value, after = self._payload(lines, li, n, t)
                            if value is _INCOMPLETE:
                                if self._pending_len >= after:
                                    lines = self._join(li)
                                    li = 0
                                    nl = self._nl
                                    continue
                                need_more = after
                                break
                        if t != 36:
                            value = self._special(t, line, value)
                            if t == 61 and decode:
                                value = self._decode(value)
                        elif decode:
                            value = self._decode(value)
                        li = after

                elif t == 58:  # :
                    if len(line) > longest:
                        raise self._line_too_long(t, line)
                    digits = line[1:]
                    if digits.isdigit():
                        try:
                            value = int(digits)
                        except ValueError:  # beyond sys.get_int_max_str_digits()
                            value = self._integer(t, line, "integer")
                    else:
                        value = self._integer(t, line, "integer")
                    li += 1
                elif t == 42 or t in _AGGREGATE_KINDS:  # * % ~ > |
                    n = _LENGTH_CACHE.get(line)
                    if n is None:
                        n = self._length(t, line)
                    if len(stack) >= self._max_depth:
                        raise self._fail(_types.MSG_DEPTH % self._max_depth)
                    k = _AGGREGATE_KINDS[t]
                    li += 1
                    if n > 0:
                        if k >= _MAP:
                            n *= 2
                        elems = None
                        if n >= _BULK_ARRAY_MIN and k <= _SET:
                            elems = self._bulk_array(lines, li, n, decode)
                        if elems is not None:
                            li += 2 * n
                        else:
                            elems = []
                            if not decode:
                                # Leading simple elements ($ with a one-line payload, :, +)
                                # skip the frame machinery; the loop parses the rest.
                                append = elems.append
                                count = n
                                while count and li < nl:
                                    line = lines[li]
                                    try:
                                        t = line[0]
                                    except IndexError:
                                        break
                                    if t == 36:
                                        m = _LENGTH_CACHE.get(line)
                                        if m is None or li + 1 >= nl:
                                            break
                                        line = lines[li + 1]
                                        if len(line) != m:
                                            break
                                        append(line)
                                        li += 2
                                    elif t == 58:
                                        if len(line) > longest:
                                            break
                                        line = line[1:]
                                        if not line.isdigit():
                                            break
                                        try:
                                            append(int(line))
                                        except ValueError:  # too long: the loop decides
                                            break
                                        li += 1
                                    elif t == 43 and _CR not in line and len(line) <= longest:
                                        append(line[1:])
                                        li += 1
                                    elif t == 42:  # an array of simple elements, one level down
                                        m = _LENGTH_CACHE.get(line)
                                        if not m or len(stack) + 1 >= self._max_depth:
                                            break
                                        sub = []
                                        after = _simple_elements(lines, li + 1, nl, m, sub.append, longest)
                                        if len(sub) < m:
                                            break  # the loop parses it again, element by element
                                        append(sub)
                                        li = after
                                    else:
                                        break
                                    count -= 1
                            if len(elems) < n:
                                items = elems
                                size = n
                                kind = k
                                stack.append([elems, n, k])
                                continue
                        value = elems if k <= _SET else self._complete(elems, k)
                        if value is _SKIP:
                            continue  # an attribute, dropped
                    elif n < 0:
                        value = None
                    elif k <= _SET:
                        value = []
                    elif k == _MAP:
                        value = {}
                    elif k == _PUSH:
                        value = PushNotification()
                    else:
                        continue  # empty attribute

                elif t == 43:  # +
                    if _CR in line:
                        raise self._fail(_types.MSG_NO_LF % b"+")
                    if len(line) > longest:
                        raise self._line_too_long(t, line)
                    value = line[1:]
                    if decode:
                        value = self._decode(value)
                    li += 1
                elif t == 45:  # -
                    if _CR in line:
                        raise self._fail(_types.MSG_NO_LF % b"-")
                    if len(line) > longest:
                        raise self._line_too_long(t, line)
                    value = self._reply_error(line[1:].decode("utf-8", "replace"))
                    li += 1
                elif t in _KNOWN_TYPES:
                    if len(line) > longest:
                        raise self._line_too_long(t, line)
                    value = self._scalar(t, line)
                    li += 1
                else:
                    raise self._unknown_type(t, line, lines[li + 1], li + 1 < nl)

                # Deliver `value` to the pending aggregates, closing finished ones.
                while items is not None:
                    items.append(value)
                    if len(items) < size:
                        break
                    stack.pop()
                    value = items if kind <= _SET else self._complete(items, kind)
                    if stack:
                        items, size, kind = stack[-1]
                    else:
                        items = None
                    if value is _SKIP:
                        break
                else:
                    if value is not _SKIP:
                        need_more = 0  # a whole reply
                        break
                    # a top-level attribute: the reply follows it
        except BaseException:
            if self._failure is _BUSY:
                self._failure = None
                self._li = li  # consistent with the frames: retrying is safe
            raise
        self._failure = None
        if need_more:
            self._li = li
            self._need_more = need_more
            return self._not_enough
        if li >= nl and not lines[nl] and not self._pending_len:
            self._lines = [b""]  # idle: release the window
            self._li = self._nl = self._left_li = self._left = 0
            self._need_more = 1
        else:
            self._li = li
        if self._deferred is not None:
            exc, self._deferred = self._deferred, None
            raise exc
        return value
