"""Pure-Python socket I/O: the send/receive loops of ``Connection``.

Twin of the compiled ``_io`` (same functions, same exceptions); this one
always uses the socket object's methods, so it ignores ``fd``.
"""
from pyredis.exceptions import PyRedisConnClosed

__all__ = ["send_all", "read_reply", "read_replies"]

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
