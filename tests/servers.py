"""Real redis-server processes for the test suite.

Each server listens on a free loopback port (never 6379) and, optionally, a
unix socket in its own temporary directory; it is stopped by whoever started
it.  ``PYREDIS_TEST_REDIS_SERVER`` names another binary (a Valkey build, say).
The helpers here speak raw RESP so that the fixtures do not depend on the code
under test.
"""
import os
import shutil
import socket
import subprocess
import tempfile
import time


def server_binary():
    path = os.environ.get("PYREDIS_TEST_REDIS_SERVER") or shutil.which("redis-server")
    if not path:
        raise RuntimeError(
            "redis-server not found: install it (apt-get install redis-server) "
            "or set PYREDIS_TEST_REDIS_SERVER"
        )
    return path


def free_port():
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port != 6379:
            return port


def pack(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class RedisServer:
    """One redis-server process.

    ``password`` sets requirepass; ``users`` maps ACL user name -> password
    (full access); ``extra`` are further ``--option value`` arguments;
    ``tls`` is a dict with ``cert``, ``key``, ``ca`` file paths (the server
    then listens for TLS on ``tls_port`` and plain TCP on ``port``).
    """

    host = "127.0.0.1"

    def __init__(self, password=None, users=None, extra=(), tls=None, unix=True):
        self.password = password
        self.users = dict(users or {})
        self.extra = list(extra)
        self.tls = tls
        self.dir = tempfile.mkdtemp(prefix="pyredis-test-")
        self.unix_sock = os.path.join(self.dir, "redis.sock") if unix else None
        self.port = None
        self.tls_port = None
        self.proc = None

    # -- lifecycle -------------------------------------------------------
    def start(self, attempts=5):
        last = None
        for _ in range(attempts):
            self.port = free_port()
            if self.tls:
                self.tls_port = free_port()
            self.proc = subprocess.Popen(
                self._argv(),
                stdout=open(os.path.join(self.dir, "stdout.log"), "ab"),
                stderr=subprocess.STDOUT,
                cwd=self.dir,
            )
            try:
                self._wait_ready()
                return self
            except Exception as exc:  # port taken between probe and bind: retry
                last = exc
                self.stop(cleanup=False)
        raise RuntimeError("redis-server did not start: %s\n%s" % (last, self.log()))

    def _argv(self):
        argv = [
            server_binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", self.dir,
            "--daemonize", "no",
            "--logfile", os.path.join(self.dir, "redis.log"),
        ]
        if self.unix_sock:
            argv += ["--unixsocket", self.unix_sock, "--unixsocketperm", "700"]
        if self.password:
            argv += ["--requirepass", self.password]
        for user, pw in self.users.items():
            argv += ["--user", user, "on", ">" + pw, "~*", "&*", "+@all"]
        if self.tls:
            argv += [
                "--tls-port", str(self.tls_port),
                "--tls-cert-file", self.tls["cert"],
                "--tls-key-file", self.tls["key"],
                "--tls-ca-cert-file", self.tls["ca"],
                "--tls-auth-clients", self.tls.get("auth_clients", "no"),
            ]
        return argv + self.extra

    def _wait_ready(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("exited with %s" % self.proc.returncode)
            try:
                reply = self.command("PING")
            except OSError:
                time.sleep(0.02)
                continue
            if reply in (b"+PONG", ) or reply.startswith(b"-NOAUTH"):
                return
            time.sleep(0.02)
        raise RuntimeError("not answering PING after %.0fs" % timeout)

    def stop(self, cleanup=True):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        if cleanup:
            shutil.rmtree(self.dir, ignore_errors=True)

    def kill(self):
        """SIGKILL, for fault tests: the server vanishes mid-conversation."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(5)

    def log(self):
        try:
            with open(os.path.join(self.dir, "redis.log"), "rb") as f:
                return f.read()[-4000:].decode("utf-8", "replace")
        except OSError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- raw access, independent of pyredis -------------------------------
    def command(self, *args, auth=True):
        """Send one command on a fresh socket; return the first reply line."""
        with socket.create_connection((self.host, self.port), timeout=2) as s:
            payload = b""
            if auth and self.password:
                payload += pack("AUTH", self.password)
            payload += pack(*args)
            s.sendall(payload)
            replies = 2 if (auth and self.password) else 1
            buf = b""
            while buf.count(b"\r\n") < replies:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
            return buf.split(b"\r\n")[replies - 1]

    def flushall(self):
        self.command("FLUSHALL")
