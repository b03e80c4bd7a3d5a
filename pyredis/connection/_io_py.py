"""Pure-Python socket I/O: the request path of ``Connection``.

Twin of the compiled ``_io`` (same names, same behaviour, same exceptions);
this one always uses the socket object's methods, so it ignores ``fd``.  The
rules both keep are in the ``Requester`` docstring.

Free threading: as with the compiled twin, a Requester (like its Connection)
is per-thread; two threads sharing one can get each other's replies or
exceptions, nothing worse.
"""
from pyredis.connection.settings import deliver_push
from pyredis.exceptions import PyRedisConnClosed

__all__ = ["send_all", "Requester"]

_CLOSED_MESSAGE = "Connection closed by the server"


def send_all(sock, fd, data):
    """Send all of ``data`` (bytes)."""
    sock.sendall(data)


class Requester:
    """One connection's request path, bound as its ``execute``.

    ``Requester(owner, pack, reply_error, push_type, not_enough)``: ``owner``
    is the Connection, ``pack`` packs a command, ``reply_error`` is the class
    of error replies (raised by ``execute``), ``push_type`` the class of push
    frames, ``not_enough`` the Reader's ``notEnoughData`` marker.  The
    Connection connects (``attach``), closes (``detach``), maps failures
    (``_write_failed`` / ``_read_failed``, which raise the error to report or
    return to let the original one propagate) and handles the rare cases
    (``_unsolicited``, ``_leftover``).

    The rules:

    * ``idle`` says whether a reply is outstanding: 0 (outstanding: right
      after ``attach``, the handshake's; after ``ready()``, called before
      every send), 1 (none: after ``finish()``, so after every ``execute``),
      2 (none, but the reader holds the start of a frame nobody asked for:
      the owner's ``_leftover`` sets it).  ``read`` and ``read_replies``
      leave it alone (PubSub and hand-made pipelines read more replies than
      they sent commands, or fewer).
    * ``ready()`` on an idle connection looks for data without waiting
      (the compiled twin polls the descriptor when it has one; otherwise the
      ``probe`` callable); data there, or ``idle`` 2, goes to
      ``owner._unsolicited()``
      (pushes go to the handler; anything else closes and raises
      ``CommandNotSent``) before anything is sent.
    * Command paths (``execute``, ``read_replies``) never return a push
      frame: each goes to ``deliver_push(handler, push)`` and reading goes
      on.  ``read`` returns every frame as it comes (PubSub's messages).
    * ``finish()`` (after the last reply asked for: ``execute`` calls it)
      hands anything still in the reader to ``owner._leftover()`` (pushes to
      the handler; another frame closes the connection, the reply is still
      returned).
    * ``reply is not_enough`` means "no complete reply yet": ``False`` is a
      value (RESP3 ``#f``).

    It holds its Connection strongly (``Connection(...).execute(...)`` must
    work): the pair is a reference cycle, so a connection dropped without
    ``close()`` is closed by the cycle collector rather than at once.
    """

    __slots__ = ("_owner", "_pack", "_reply_error", "_push_type", "_none", "_sock", "_feed",
                 "_gets", "_has_data", "_buf", "_probe", "_handler", "idle")

    def __init__(self, owner, pack, reply_error, push_type, not_enough):
        self._owner = owner
        self._pack = pack
        self._reply_error = reply_error
        self._push_type = push_type
        self._none = not_enough
        self.detach()

    def attach(self, sock, fd, reader, buf, probe, handler):
        """Use ``sock`` (``fd``: its descriptor for direct I/O, or -1) and
        ``reader``; ``probe()`` is true when data waits on ``sock`` (None:
        never checked)."""
        self._sock = sock
        self._feed = reader.feed
        self._gets = reader.gets
        self._has_data = reader.has_data
        self._buf = buf
        self._probe = probe
        self._handler = handler
        self.idle = 0

    def detach(self):
        self._sock = self._feed = self._gets = self._has_data = self._buf = None
        self._probe = self._handler = None
        self.idle = 0

    def __call__(self, *args):
        """Send one command, return its reply; an error reply is raised."""
        data = self._pack(args)  # bad arguments raise here, before any I/O
        self.ready()
        try:
            self._sock.sendall(data)
        except BaseException as exc:
            self._owner._write_failed(exc)
            raise
        try:
            reply = self._next(False)
        except BaseException as exc:
            self._owner._read_failed(exc, True)
            raise
        self.finish()
        if type(reply) is self._reply_error:
            raise reply
        return reply

    def ready(self):
        """Before a send: connect if need be, then the idle check."""
        if self._sock is None:
            self._owner._connect()  # attaches, or raises
        idle = self.idle
        if idle and (idle == 2 or self._probe is not None and self._probe()):
            self._owner._unsolicited()  # raises unless it was all pushes
        self.idle = 0

    def finish(self):
        """Every reply asked for is read: the connection is idle, and what
        the reader still holds is looked at."""
        self.idle = 1
        if self._has_data():
            self._owner._leftover()

    def read(self, polling=False):
        """The next frame, whatever it is (push frames included).

        ``polling``: a timeout with no byte of a frame held or received
        keeps the connection (PubSub polling); otherwise any failure closes it.
        """
        keep = polling and not self._has_data()
        none = self._none
        try:
            reply = self._gets()
            while reply is none:
                reply = self._receive()
                keep = False
        except BaseException as exc:
            self._owner._read_failed(exc, not keep)
            raise
        return reply

    def read_replies(self, count, append):
        """``count`` replies, each passed to ``append`` (push frames go to the handler)."""
        try:
            while count > 0:
                append(self._next(True))
                count -= 1
        except BaseException as exc:
            self._owner._read_failed(exc, True)
            raise

    def _next(self, buffered):
        """The next frame that is not a push; ``buffered=False``: the reader
        holds nothing complete (a command was just sent), so receive first."""
        none = self._none
        reply = self._gets() if buffered else none
        while True:
            while reply is none:
                reply = self._receive()
            if type(reply) is not self._push_type:
                return reply
            deliver_push(self._handler, reply)
            reply = self._gets()

    def _receive(self):
        """One receive, fed to the reader; then the reader's next frame."""
        buf = self._buf
        n = self._sock.recv_into(buf)
        if not n:
            raise PyRedisConnClosed(_CLOSED_MESSAGE)
        self._feed(buf, 0, n)
        return self._gets()
