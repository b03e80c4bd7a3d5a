"""The request path (connection/_io): both twins, on the descriptor and on the
socket object, over a socketpair so every outcome can be produced.  A stand-in
owner records what the Requester hands back to its Connection."""
import socket
import struct
import threading

import pytest

from pyredis.connection.connection import _probe_for
from pyredis.connection.settings import NOT_ENOUGH
from pyredis.exceptions import PyRedisConnClosed, ReplyError
from pyredis.protocol import PushNotification, Reader, pack_command


class Owner:
    """Stands for the Connection: records the calls the requester makes on it."""

    def __init__(self):
        self.calls = []

    def _connect(self):
        raise AssertionError("the requester is attached already")

    def _write_failed(self, exc):
        self.calls.append(("write_failed", type(exc)))

    def _read_failed(self, exc, close):
        self.calls.append(("read_failed", type(exc), close))

    def _unsolicited(self):
        self.calls.append(("unsolicited",))

    def _leftover(self):
        self.calls.append(("leftover",))


@pytest.fixture
def io(twin):
    return twin.load("pyredis.connection._io")


@pytest.fixture(params=["fd", "socket"])
def pair(request):
    ours, peer = socket.socketpair()
    fd = ours.fileno() if request.param == "fd" else -1
    yield ours, fd, peer
    ours.close()
    peer.close()


class Rig:
    def __init__(self, io, pair, bufsize=64, handler=None):
        self.sock, self.fd, self.peer = pair
        self.owner = Owner()
        self.reader = Reader(notEnoughData=NOT_ENOUGH)
        self.pushes = []
        self.req = io.Requester(self.owner, pack_command, ReplyError, PushNotification,
                                NOT_ENOUGH)
        self.req.attach(self.sock, self.fd, self.reader, bytearray(bufsize),
                        _probe_for(self.sock), self.pushes.append if handler is None else handler)

    def sent(self, size=4096):
        return self.peer.recv(size)


@pytest.fixture
def rig(io, pair):
    return Rig(io, pair)


# -- send_all ---------------------------------------------------------------------
def test_send_all_sends_everything(io, pair):
    ours, fd, peer = pair
    data = b"x" * 300000  # more than one send() on a socketpair
    received = bytearray()

    def drain():
        while len(received) < len(data):
            received.extend(peer.recv(65536))

    reader_thread = threading.Thread(target=drain)
    reader_thread.start()
    io.send_all(ours, fd, data)
    reader_thread.join(10)
    assert bytes(received) == data


def test_reset_peer_is_an_os_error(io):
    ours, peer = socket.socketpair()
    peer.close()
    with pytest.raises(OSError) as info:  # EPIPE on a socketpair
        io.send_all(ours, ours.fileno(), b"x" * 1000)
    assert isinstance(info.value, (BrokenPipeError, ConnectionResetError))
    ours.close()


def test_other_data_types_use_the_socket(io, pair):
    ours, fd, peer = pair
    io.send_all(ours, fd, bytearray(b"ba"))
    io.send_all(ours, fd, memoryview(b"mv"))
    assert peer.recv(16) == b"bamv"


# -- execute ------------------------------------------------------------------------
def test_execute_sends_and_returns_the_reply(rig):
    rig.peer.sendall(b"$3\r\nbar\r\n")
    assert rig.req("GET", "foo") == b"bar"
    assert rig.sent() == pack_command(("GET", "foo"))
    assert rig.owner.calls == []
    assert rig.req.idle == 1


def test_execute_raises_error_replies(rig):
    rig.peer.sendall(b"-ERR nope\r\n")
    with pytest.raises(ReplyError, match="ERR nope"):
        rig.req("GET", "foo")
    assert rig.req.idle == 1


def test_reply_across_several_reads(io, pair):
    rig = Rig(io, pair, bufsize=4)  # tiny: the reply needs several receives
    rig.peer.sendall(b"$10\r\n0123456789\r\n")
    assert rig.req("GET", "k") == b"0123456789"


def test_false_is_a_reply(rig):
    rig.peer.sendall(b"#f\r\n")
    assert rig.req("EVAL", "return false", 0) is False
    rig.peer.sendall(b"#t\r\n")
    assert rig.req("EVAL", "return true", 0) is True


def test_push_frames_go_to_the_handler_not_the_caller(rig):
    rig.peer.sendall(b">2\r\n$10\r\ninvalidate\r\n*1\r\n$2\r\nka\r\n$2\r\nkb\r\n")
    assert rig.req("GET", "kb") == b"kb"
    assert rig.pushes == [[b"invalidate", [b"ka"]]]
    assert type(rig.pushes[0]) is PushNotification
    assert rig.owner.calls == []


def test_a_push_split_before_the_reply(io, pair):
    rig = Rig(io, pair, bufsize=5)
    rig.peer.sendall(b">1\r\n$3\r\nabc\r\n:7\r\n")
    assert rig.req("INCR", "n") == 7
    assert rig.pushes == [[b"abc"]]


def test_leftover_after_the_reply_goes_to_the_owner(rig):
    rig.peer.sendall(b"+OK\r\n+EXTRA\r\n")
    assert rig.req("SET", "k", "v") == b"OK"
    assert rig.owner.calls == [("leftover",)]


def test_idle_check_before_sending(rig):
    rig.peer.sendall(b"+OK\r\n")
    rig.req("SET", "k", "v")
    rig.sent()
    rig.peer.sendall(b"+STRAY\r\n")  # arrives while nothing is asked
    rig.peer.sendall(b"+OK\r\n")
    rig.req("SET", "k", "v")
    assert rig.owner.calls[0] == ("unsolicited",)


def test_no_check_while_replies_are_outstanding(rig):
    rig.peer.sendall(b"+OK\r\n")
    rig.req.ready()  # attached: the handshake's replies are outstanding, not idle
    rig.req.ready()
    assert rig.owner.calls == []


def test_finish_hands_what_the_reader_holds_to_the_owner(rig):
    rig.reader.feed(b"+X\r\n")
    rig.req.finish()
    assert rig.req.idle == 1 and rig.owner.calls == [("leftover",)]


def test_a_frame_begun_is_looked_at_before_sending(rig):
    rig.req.finish()
    rig.req.idle = 2  # as the owner's _leftover leaves it
    rig.req.ready()
    assert rig.owner.calls == [("unsolicited",)] and rig.req.idle == 0


def test_no_check_when_nothing_waits(rig):
    rig.req.finish()
    rig.req.ready()
    assert rig.owner.calls == [] and rig.req.idle == 0


def test_idle_check_sees_the_end_of_the_stream(rig):
    rig.req.finish()
    rig.peer.shutdown(socket.SHUT_WR)
    rig.req.ready()
    assert rig.owner.calls == [("unsolicited",)]


# -- read / read_replies ------------------------------------------------------------
def test_read_returns_push_frames(rig):
    rig.peer.sendall(b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n")
    frame = rig.req.read()
    assert type(frame) is PushNotification and frame == [b"message", b"ch", b"hi"]
    assert rig.pushes == []


def test_read_returns_buffered_frames_without_receiving(rig):
    rig.reader.feed(b":1\r\n")
    assert rig.req.read() == 1


def test_read_replies_in_order_pushes_aside(rig):
    rig.peer.sendall(b"+a\r\n>1\r\n$1\r\np\r\n-ERR b\r\n#f\r\n:3\r\n")
    out = []
    rig.req.read_replies(4, out.append)
    assert out[0] == b"a" and str(out[1]) == "ERR b" and out[2] is False and out[3] == 3
    assert rig.pushes == [[b"p"]]
    assert rig.req.idle == 0  # read_replies leaves idle alone


def test_push_handler_errors_are_logged_and_dropped(io, pair, caplog):
    def broken(push):
        raise ValueError("handler bug")

    rig = Rig(io, pair, handler=broken)
    rig.peer.sendall(b">1\r\n$1\r\np\r\n+OK\r\n")
    with caplog.at_level("ERROR", logger="pyredis"):
        assert rig.req("PING") == b"OK"
    assert "handler bug" in caplog.text


# -- failures go to the owner ----------------------------------------------------------
def test_eof_mid_reply(rig):
    rig.peer.sendall(b"$5\r\nab")
    rig.peer.shutdown(socket.SHUT_WR)
    with pytest.raises(PyRedisConnClosed):
        rig.req("GET", "k")
    assert rig.owner.calls == [("read_failed", PyRedisConnClosed, True)]


def test_eof_in_read_replies(rig):
    rig.peer.sendall(b"+a\r\n")
    rig.peer.shutdown(socket.SHUT_WR)
    out = []
    with pytest.raises(PyRedisConnClosed):
        rig.req.read_replies(2, out.append)
    assert out == [b"a"]
    assert rig.owner.calls == [("read_failed", PyRedisConnClosed, True)]


def test_kernel_timeout_is_blocking_io_error(rig):
    rig.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 0, 100000))
    with pytest.raises(BlockingIOError):
        rig.req.read()
    assert rig.owner.calls == [("read_failed", BlockingIOError, True)]


@pytest.mark.parametrize("held, arriving, close", [
    (b"", b"", False),             # nothing at all: polling may go on
    (b"$5\r\nab", b"", True),      # part of a frame held when the read starts
    (b"", b"$5\r\nab", True),      # part of a frame received during the read
])
def test_polling_timeout_keeps_the_connection_only_with_nothing_received(rig, held, arriving,
                                                                         close):
    rig.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 0, 200000))
    rig.reader.feed(held)
    rig.peer.sendall(arriving)
    with pytest.raises(BlockingIOError):
        rig.req.read(True)
    assert rig.owner.calls == [("read_failed", BlockingIOError, close)]


def test_write_failure_goes_to_the_owner(rig):
    rig.peer.close()
    with pytest.raises(OSError):
        rig.req("SET", "k", b"x" * 100000)
    assert rig.owner.calls[0][0] == "write_failed"


def test_bad_arguments_raise_before_any_io(rig):
    with pytest.raises(TypeError):
        rig.req("SET", "k", None)
    assert rig.owner.calls == [] and rig.req.idle == 0


def test_detach_forgets_the_socket(rig):
    rig.req.finish()
    rig.req.detach()
    assert rig.req.idle == 0
    with pytest.raises(AssertionError, match="attached already"):
        rig.req("PING")  # no socket: the owner is asked to connect
