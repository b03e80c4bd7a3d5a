"""Socket I/O loops (connection/_io): both twins, on the descriptor and on the
socket object, over a socketpair so every outcome can be produced."""
import socket
import struct

import pytest

from pyredis.exceptions import PyRedisConnClosed
from pyredis.protocol import Reader


def bound(reader):
    return reader.feed, reader.gets


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


def test_send_all_sends_everything(io, pair):
    ours, fd, peer = pair
    data = b"x" * 300000  # more than one send() on a socketpair
    received = bytearray()

    import threading

    def drain():
        while len(received) < len(data):
            received.extend(peer.recv(65536))

    reader_thread = threading.Thread(target=drain)
    reader_thread.start()
    io.send_all(ours, fd, data)
    reader_thread.join(10)
    assert bytes(received) == data


def test_read_reply_across_several_reads(io, pair):
    ours, fd, peer = pair
    buf = bytearray(4)  # tiny: the reply needs several receives
    peer.sendall(b"$10\r\n0123456789\r\n+OK\r\n")
    reader = Reader()
    assert io.read_reply(ours, fd, *bound(reader), buf, False) == b"0123456789"
    assert io.read_reply(ours, fd, *bound(reader), buf) == b"OK"


def test_read_reply_returns_buffered_replies_without_reading(io, pair):
    ours, fd, peer = pair
    reader = Reader()
    reader.feed(b":1\r\n")
    assert io.read_reply(ours, fd, *bound(reader), bytearray(16)) == 1  # nothing was sent: no recv


def test_read_replies_in_order(io, pair):
    ours, fd, peer = pair
    peer.sendall(b"+a\r\n-ERR b\r\n:3\r\n")
    out = []
    io.read_replies(ours, fd, *bound(Reader()), bytearray(64), 3, out.append)
    assert out[0] == b"a" and str(out[1]) == "ERR b" and out[2] == 3


def test_eof_is_conn_closed(io, pair):
    ours, fd, peer = pair
    peer.sendall(b"$5\r\nab")
    peer.shutdown(socket.SHUT_WR)
    with pytest.raises(PyRedisConnClosed):
        io.read_reply(ours, fd, *bound(Reader()), bytearray(64), False)
    with pytest.raises(PyRedisConnClosed):
        io.read_replies(ours, fd, *bound(Reader()), bytearray(64), 1, [].append)


def test_kernel_timeout_is_blocking_io_error(io, pair):
    ours, fd, peer = pair
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 0, 100000))
    with pytest.raises(BlockingIOError):
        io.read_reply(ours, fd, *bound(Reader()), bytearray(64), False)


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
