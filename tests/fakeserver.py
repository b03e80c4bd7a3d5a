"""A tiny loopback server that plays one script per accepted connection.

For faults a real redis-server cannot produce on demand: a reply cut in the
middle, a reset socket, garbage on the wire.  Scripts are functions taking a
``Peer``; connection number i runs ``scripts[i]`` (the last script repeats).
"""
import socket
import struct
import threading


class Peer:
    """The server side of one accepted connection."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_command(self):
        """Read one RESP array of bulk strings (what a client sends): list of bytes."""
        header = self._line()
        assert header[:1] == b"*", header
        args = []
        for _ in range(int(header[1:])):
            size = int(self._line()[1:])
            while len(self.buf) < size + 2:
                self._fill()
            args.append(self.buf[:size])
            self.buf = self.buf[size + 2:]
        return args

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        self.sock.close()

    def reset(self):
        """Close with SO_LINGER 0: the client sees a TCP RST."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def answer(args):
    """A correct reply to the few commands the fault tests send."""
    name = args[0].upper()
    if name == b"PING":
        return b"+PONG\r\n"
    if name == b"ECHO":
        return b"$%d\r\n%s\r\n" % (len(args[1]), args[1])
    return b"+OK\r\n"


def serve(peer):
    """Answer commands correctly until the client goes away."""
    try:
        while True:
            peer.send(answer(peer.read_command()))
    except (EOFError, OSError):
        pass


class FakeRedis:
    def __init__(self, *scripts):
        self.scripts = list(scripts) or [serve]
        self.accepted = 0
        self.errors = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.host, self.port = self._listener.getsockname()
        self._peers = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._listener.close()
        for peer in self._peers:
            try:
                peer.sock.close()
            except OSError:
                pass
        self._thread.join(5)

    def _accept_loop(self):
        self._listener.settimeout(0.05)
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            sock.settimeout(10)
            peer = Peer(sock)
            self._peers.append(peer)
            script = self.scripts[min(self.accepted, len(self.scripts) - 1)]
            self.accepted += 1
            threading.Thread(target=self._run, args=(script, peer), daemon=True).start()

    def _run(self, script, peer):
        try:
            script(peer)
        except (EOFError, OSError):
            pass
        except Exception as exc:  # surfaced by tests that check .errors
            self.errors.append(exc)


class StrayAfterReply:
    """Script: answer the first command; once ``go`` is set (the client has its
    reply), send ``stray``, bytes nobody asked for; then record in ``seen``
    any command that still comes (the tests expect none)."""

    def __init__(self, stray):
        self.stray = stray
        self.go = threading.Event()
        self.seen = []

    def __call__(self, peer):
        peer.send(answer(peer.read_command()))
        self.go.wait(5)
        peer.send(self.stray)
        try:
            self.seen.append(peer.read_command())
        except EOFError:
            pass
