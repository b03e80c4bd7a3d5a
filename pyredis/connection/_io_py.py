"""Pure-Python socket I/O: the send/receive loops of ``Connection``.

Twin of the compiled ``_io`` (same functions, same exceptions); this one
always uses the socket object's methods, so it ignores ``fd``.
"""
from pyredis.exceptions import PyRedisConnClosed

__all__ = ["send_all", "read_reply", "read_replies", "Requester"]

_CLOSED_MESSAGE = "Connection closed by the server"


def send_all(sock, fd, data):
    """Send all of ``data`` (bytes)."""
    sock.sendall(data)


def read_reply(sock, fd, feed, gets, buf, buffered=True):
    """The next complete reply, parsed by a reader's bound ``feed``/``gets``.
    ``buffered=False``: the reader is known to hold nothing complete (a
    command was just sent), so receive first."""
    reply = gets() if buffered else False
    while reply is False:
        n = sock.recv_into(buf)
        if not n:
            raise PyRedisConnClosed(_CLOSED_MESSAGE)
        feed(buf, 0, n)
        reply = gets()
    return reply


def read_replies(sock, fd, feed, gets, buf, count, append):
    """``count`` complete replies, each passed to ``append``."""
    recv_into = sock.recv_into
    while count > 0:
        reply = gets()
        if reply is False:
            n = recv_into(buf)
            if not n:
                raise PyRedisConnClosed(_CLOSED_MESSAGE)
            feed(buf, 0, n)
        else:
            append(reply)
            count -= 1


class Requester:
    """One connection's request path, bound as its ``execute``: pack a
    command, send it, read its reply, raise an error reply.

    The Connection keeps everything else: it connects (``attach``), closes
    (``detach``) and maps failures (``_write_failed`` / ``_read_failed``).
    It holds its Connection strongly (``Connection(...).execute(...)`` must
    work): the pair is a reference cycle, so a connection dropped without
    ``close()`` is closed by the cycle collector rather than at once.
    """

    __slots__ = ("_owner", "_pack", "_reply_error", "_sock", "_fd", "_feed", "_gets", "_buf")

    def __init__(self, owner, pack, reply_error):
        self._owner = owner
        self._pack = pack
        self._reply_error = reply_error
        self.detach()

    def attach(self, sock, fd, feed, gets, buf):
        self._sock = sock
        self._fd = fd
        self._feed = feed
        self._gets = gets
        self._buf = buf

    def detach(self):
        self._fd = -1
        self._sock = self._feed = self._gets = self._buf = None

    def __call__(self, *args):
        data = self._pack(args)  # bad arguments raise here, before any I/O
        if self._sock is None:
            self._owner._connect()  # attaches, or raises
        sock = self._sock
        try:
            sock.sendall(data)
        except BaseException as exc:
            err = self._owner._write_failed(exc)
            if err is None:
                raise
            raise err from exc
        try:
            reply = read_reply(sock, -1, self._feed, self._gets, self._buf, False)
        except BaseException as exc:
            err = self._owner._read_failed(exc, True)
            if err is None:
                raise
            raise err from exc
        if type(reply) is self._reply_error:
            raise reply
        return reply
