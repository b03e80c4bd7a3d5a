"""Connection against a real redis-server (TCP and unix socket) and a few fakes."""
import os
import socket
import threading
import time

import pytest

from fakeserver import FakeRedis, StrayAfterReply, answer, serve
from pyredis.connection import Connection
from pyredis.exceptions import (
    ProtocolError,
    PyRedisConnClosed,
    PyRedisConnError,
    PyRedisConnReadTimeout,
    PyRedisError,
    ReplyError,
)


@pytest.fixture(params=["tcp", "unix"])
def where(request, redis):
    if request.param == "tcp":
        return {"host": redis.host, "port": redis.port}
    return {"unix_sock": redis.unix_sock}


def client_db(conn):
    """The database number the server says this connection is on."""
    info = conn.execute("CLIENT", "INFO")
    fields = dict(item.split(b"=", 1) for item in info.split() if b"=" in item)
    return int(fields[b"db"])


# -- construction -------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [{}, {"host": "h", "unix_sock": "/s"}, {"host": ""}])
def test_exactly_one_of_host_or_unix_sock(kwargs):
    with pytest.raises(PyRedisError):
        Connection(**kwargs)


def test_tls_needs_a_host():
    with pytest.raises(PyRedisError):
        Connection(unix_sock="/tmp/x.sock", ssl=True)


def test_constructor_does_no_io():
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    number = port.getsockname()[1]
    port.close()  # nothing listens there now
    conn = Connection(host="127.0.0.1", port=number)
    assert conn.closed is False
    with pytest.raises(PyRedisConnError):
        conn.execute("PING")
    assert conn.closed is True


def test_public_attributes():
    conn = Connection(host="h", port=1, database=3, password="p", username="u")
    assert (conn.host, conn.port, conn.unix_sock, conn.database, conn.password, conn.username) == (
        "h", 1, None, 3, "p", "u")


# -- commands ------------------------------------------------------------------
def test_execute_roundtrip(where):
    conn = Connection(**where)
    assert conn.execute("PING") == b"PONG"
    assert conn.execute("SET", "k", "v\r\n") == b"OK"
    assert conn.execute("GET", "k") == b"v\r\n"
    assert conn.execute("GET", "missing") is None
    assert conn.execute("RPUSH", "l", 1, 2.5, b"x") == 3
    assert conn.execute("LRANGE", "l", 0, -1) == [b"1", b"2.5", b"x"]
    conn.close()


def test_write_then_read(where):
    conn = Connection(**where)
    conn.write("SET", "a", "1")
    conn.write("INCR", "a")
    assert conn.read() == b"OK"
    assert conn.read() == 2


def test_encoding_decodes_bulk_strings(where):
    conn = Connection(encoding="utf-8", **where)
    conn.execute("SET", "k", "h\u00e9")
    assert conn.execute("GET", "k") == "h\u00e9"


def test_large_reply_spans_many_reads(where):
    conn = Connection(**where)
    value = os.urandom(3 * 1024 * 1024 + 7)
    conn.execute("SET", "big", value)
    assert conn.execute("GET", "big") == value
    assert conn.execute("PING") == b"PONG"


def test_reply_error_is_raised_and_connection_stays_usable(where):
    conn = Connection(**where)
    conn.execute("SET", "s", "text")
    with pytest.raises(ReplyError, match="WRONGTYPE"):
        conn.execute("LPUSH", "s", "x")
    assert not conn.closed
    assert conn.execute("GET", "s") == b"text"


def test_read_can_return_errors(where):
    conn = Connection(**where)
    conn.write("NOSUCHCOMMAND")
    reply = conn.read(raise_on_result_err=False)
    assert isinstance(reply, ReplyError)
    assert conn.execute("PING") == b"PONG"


def test_nested_errors_are_returned_not_raised(where):
    conn = Connection(**where)
    conn.execute("SET", "s", "text")
    conn.execute("MULTI")
    conn.execute("INCR", "n")
    conn.execute("LPUSH", "s", "x")  # fails inside EXEC
    result = conn.execute("EXEC")
    assert result[0] == 1
    assert isinstance(result[1], ReplyError)


def test_bad_argument_raises_before_sending(where):
    conn = Connection(**where)
    with pytest.raises((TypeError, ValueError)):
        conn.execute("SET", "k", None)
    with pytest.raises((TypeError, ValueError)):
        conn.write("SET", "k", object())
    assert not conn.closed
    assert conn.execute("PING") == b"PONG"


def test_execute_many_reads_all_replies_in_order(where):
    from pyredis.protocol import pack_command

    conn = Connection(**where)
    commands = [("SET", "k", "1"), ("INCR", "k"), ("NOPE",), ("GET", "k")]
    data = b"".join(pack_command(cmd) for cmd in commands)
    replies = conn.execute_many(data, len(commands))
    assert replies[:2] == [b"OK", 2]
    assert isinstance(replies[2], ReplyError)
    assert replies[3] == b"2"


# -- connecting ---------------------------------------------------------------
def test_lazy_connect_and_tcp_nodelay(redis):
    conn = Connection(host=redis.host, port=redis.port)
    assert conn._sock is None
    conn.execute("PING")
    assert conn._sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_database_is_selected(where):
    conn = Connection(database=5, **where)
    assert client_db(conn) == 5
    conn.execute("SET", "in5", "yes")
    other = Connection(database=0, **where)
    assert other.execute("GET", "in5") is None
    assert client_db(other) == 0


def test_bad_database_closes_and_raises(where):
    conn = Connection(database=99999, **where)
    with pytest.raises(ReplyError):
        conn.execute("PING")
    assert conn.closed


def test_read_only_on_a_standalone_server_is_refused(where):
    # READONLY is a cluster command: a plain server answers with an error.
    conn = Connection(read_only=True, **where)
    with pytest.raises(ReplyError):
        conn.execute("PING")
    assert conn.closed


def test_sentinel_mode_skips_select_and_readonly(where):
    conn = Connection(database=4, read_only=True, sentinel=True, **where)
    assert client_db(conn) == 0


def test_auth_with_password(redis_auth_server):
    srv = redis_auth_server
    assert Connection(host=srv.host, port=srv.port, password="secret").execute("PING") == b"PONG"
    conn = Connection(unix_sock=srv.unix_sock, password="secret", database=2)
    assert client_db(conn) == 2


def test_auth_with_username(redis_auth_server):
    srv = redis_auth_server
    conn = Connection(host=srv.host, port=srv.port, username="alice", password="wonderland")
    assert conn.execute("ACL", "WHOAMI") == b"alice"


def test_wrong_password_closes_and_raises(redis_auth_server):
    srv = redis_auth_server
    conn = Connection(host=srv.host, port=srv.port, username="alice", password="nope")
    with pytest.raises(ReplyError):
        conn.execute("PING")
    assert conn.closed
    with pytest.raises(PyRedisConnError, match="Connection Gone"):
        conn.execute("PING")


def test_connection_refused():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    conn = Connection(host="127.0.0.1", port=port, conn_timeout=1)
    with pytest.raises(PyRedisConnError):
        conn.read()
    assert conn.closed


def test_missing_unix_socket(tmp_path):
    conn = Connection(unix_sock=str(tmp_path / "nothing.sock"))
    with pytest.raises(PyRedisConnError, match="nothing.sock"):
        conn.write("PING")
    assert conn.closed


# -- closing ------------------------------------------------------------------
def test_closing_is_permanent_and_idempotent(where):
    conn = Connection(**where)
    conn.execute("PING")
    conn.close()
    conn.close()
    assert conn.closed
    for call in (lambda: conn.execute("PING"), lambda: conn.write("PING"), conn.read):
        with pytest.raises(PyRedisConnError, match="Connection Gone"):
            call()


def test_close_before_connecting(where):
    conn = Connection(**where)
    conn.close()
    with pytest.raises(PyRedisConnError, match="Connection Gone"):
        conn.execute("PING")


def test_context_manager_closes(where):
    with Connection(**where) as conn:
        conn.execute("PING")
    assert conn.closed


# -- timeouts -----------------------------------------------------------------
def test_read_timeout_closes(where):
    conn = Connection(read_timeout=0.2, **where)
    with pytest.raises(PyRedisConnReadTimeout):
        conn.execute("BLPOP", "empty", 2)
    assert conn.closed


def test_timeout_with_nothing_buffered_can_keep_the_connection(where):
    conn = Connection(read_timeout=0.2, **where)
    conn.execute("PING")
    with pytest.raises(PyRedisConnReadTimeout):
        conn.read(close_on_timeout=False)  # nothing was asked: nothing comes
    assert not conn.closed
    assert conn.execute("ECHO", "still in sync") == b"still in sync"


def test_timeout_is_not_a_connection_error():
    assert not issubclass(PyRedisConnReadTimeout, PyRedisConnError)
    assert not issubclass(PyRedisConnClosed, PyRedisConnError)


# -- the stream as seen through fakes ------------------------------------------
def test_peer_closing_raises_conn_closed():
    def hang_up(peer):
        peer.read_command()
        peer.close()

    with FakeRedis(hang_up) as fake:
        conn = Connection(host=fake.host, port=fake.port)
        with pytest.raises(PyRedisConnClosed):
            conn.execute("PING")
        assert conn.closed


def test_protocol_error_closes():
    def garbage(peer):
        peer.read_command()
        peer.send(b"*2\r\n:1\r\n@nonsense\r\n")
        serve(peer)

    with FakeRedis(garbage) as fake:
        conn = Connection(host=fake.host, port=fake.port)
        with pytest.raises(ProtocolError):
            conn.execute("PING")
        assert conn.closed


def test_forked_child_never_uses_the_parents_socket(redis):
    conn = Connection(host=redis.host, port=redis.port)
    conn.execute("PING")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report what using the inherited connection did
        try:
            try:
                conn.execute("SET", "child", "wrote")
                outcome = b"used"
            except PyRedisConnError:
                outcome = b"refused"
            os.write(write_end, outcome)
        finally:
            os._exit(0)
    os.close(write_end)
    outcome = os.read(read_end, 16)
    os.close(read_end)
    os.waitpid(pid, 0)
    assert outcome == b"refused"
    assert conn.execute("ECHO", "parent") == b"parent"
    assert conn.execute("GET", "child") is None


def test_unpackable_password_fails_before_connecting(redis_auth_server):
    srv = redis_auth_server
    conn = Connection(host=srv.host, port=srv.port, password="secret")
    conn.password = object()  # a public attribute: checked again when connecting
    with pytest.raises((TypeError, ValueError)):
        conn.execute("PING")
    assert conn._sock is None  # never an unauthenticated socket left behind
    conn.password = "secret"
    assert conn.execute("PING") == b"PONG"


def test_a_dropped_connection_is_collected_and_its_socket_closed(redis):
    import gc
    import weakref

    conn = Connection(host=redis.host, port=redis.port)
    conn.execute("CLIENT", "SETNAME", "dropped-conn")
    ref = weakref.ref(conn)
    del conn
    gc.collect()  # the connection and its requester form a cycle
    assert ref() is None
    deadline = time.monotonic() + 5
    while b"dropped-conn" in redis.command("CLIENT", "LIST") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert b"dropped-conn" not in redis.command("CLIENT", "LIST")


def test_execute_on_a_temporary_connection(redis):
    assert Connection(host=redis.host, port=redis.port).execute("PING") == b"PONG"


# -- bytes nobody asked for ------------------------------------------------------
def wait_readable(conn, timeout=5):
    """Bounded wait until data (or the end of the stream) waits on the connection."""
    import select

    assert select.select([conn._sock], [], [], timeout)[0], "nothing arrived"


def test_extra_reply_after_a_reply_closes_the_connection():
    def extra(peer):
        peer.read_command()
        peer.send(b"+PONG\r\n+EXTRA\r\n")  # one segment: a reply and one nobody asked for
        serve(peer)

    with FakeRedis(extra) as fake:
        conn = Connection(host=fake.host, port=fake.port)
        assert conn.execute("PING") == b"PONG"
        assert conn.closed  # its reply is returned; the stray one closes the connection


def test_extra_reply_while_idle_is_found_before_sending():
    from pyredis.connection.errors import CommandNotSent

    script = StrayAfterReply(b"+EXTRA\r\n")  # arrives while nothing is asked
    with FakeRedis(script) as fake:
        conn = Connection(host=fake.host, port=fake.port)
        assert conn.execute("ECHO", "a") == b"a"
        script.go.set()
        wait_readable(conn)
        with pytest.raises(CommandNotSent, match="EXTRA"):
            conn.execute("ECHO", "b")
        assert conn.closed
    assert script.seen == []  # the command was never sent


def test_server_closing_while_idle_is_found_before_sending():
    from pyredis.connection.errors import CommandNotSent

    def one_then_close(peer):
        peer.send(answer(peer.read_command()))
        peer.close()

    with FakeRedis(one_then_close) as fake:
        conn = Connection(host=fake.host, port=fake.port)
        assert conn.execute("PING") == b"PONG"
        wait_readable(conn)
        with pytest.raises(CommandNotSent) as info:
            conn.execute("PING")
        assert isinstance(info.value, PyRedisConnError)
        assert conn.closed


def test_stray_frame_begun_after_a_reply_is_judged_before_the_next_send():
    from pyredis.connection.errors import CommandNotSent

    got = []

    def half_extra(peer):
        peer.read_command()
        peer.send(b"+OK\r\n$5\r\nhal")  # a reply, and the start of another nobody asked for
        time.sleep(0.1)
        peer.send(b"lo\r\n")
        try:
            got.append(peer.read_command())
        except EOFError:
            pass

    with FakeRedis(half_extra) as fake:
        conn = Connection(host=fake.host, port=fake.port)
        assert conn.execute("SET", "k", "v") == b"OK"
        with pytest.raises(CommandNotSent, match="hallo"):
            conn.execute("GET", "k")
        assert conn.closed
    assert got == []


def test_greeting_before_auth_surfaces_wrongpass():
    def greeting(peer):
        peer.send(b"+Welcome\r\n")  # before any command: whenever it arrives
        assert peer.read_command()[0] == b"AUTH"
        peer.send(b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        serve(peer)

    with FakeRedis(greeting) as fake:
        for _ in range(3):  # the greeting and the reply race; the outcome must not
            conn = Connection(host=fake.host, port=fake.port, password="nope")
            with pytest.raises(ReplyError, match="WRONGPASS"):
                conn.execute("PING")
            assert conn.closed
        assert fake.errors == []


def test_greeting_without_a_handshake_is_not_a_reply():
    from pyredis.connection.errors import CommandNotSent

    def greeting(peer):
        peer.send(b"+Welcome\r\n")
        serve(peer)

    with FakeRedis(greeting) as fake:
        conn = Connection(host=fake.host, port=fake.port)
        conn._connect()
        wait_readable(conn)
        with pytest.raises(CommandNotSent, match="Welcome"):
            conn.execute("PING")


def test_greeting_with_a_good_handshake_fails_the_connect():
    from pyredis.connection.errors import CommandNotSent

    def greeting(peer):
        peer.send(b"+Welcome\r\n")
        serve(peer)

    with FakeRedis(greeting) as fake:
        conn = Connection(host=fake.host, port=fake.port, password="secret")
        with pytest.raises(CommandNotSent, match="Welcome"):
            conn.execute("PING")
        assert conn.closed


PUSH = b">2\r\n$10\r\ninvalidate\r\n*1\r\n$2\r\nka\r\n"


def test_push_in_the_same_segment_as_the_reply():
    def push_and_reply(peer):
        peer.read_command()
        peer.send(PUSH + b"$2\r\nvb\r\n" + PUSH)  # before and after the reply
        serve(peer)

    with FakeRedis(push_and_reply) as fake:
        pushes = []
        conn = Connection(host=fake.host, port=fake.port, push_handler=pushes.append)
        assert conn.execute("GET", "kb") == b"vb"
        assert pushes == [[b"invalidate", [b"ka"]]] * 2
        assert not conn.closed
        assert conn.execute("PING") == b"PONG"
        assert fake.accepted == 1


def test_pushes_are_dropped_without_a_handler():
    def push_and_reply(peer):
        peer.read_command()
        peer.send(PUSH + b"$2\r\nvb\r\n" + PUSH)
        serve(peer)

    with FakeRedis(push_and_reply) as fake:
        conn = Connection(host=fake.host, port=fake.port)
        assert conn.execute("GET", "kb") == b"vb"
        assert conn.execute("PING") == b"PONG"
        assert not conn.closed


@pytest.mark.parametrize("cut", [3, 12, len(PUSH) - 1])
def test_push_split_across_segments_after_a_reply(cut):
    def split_push(peer):
        peer.read_command()
        peer.send(b"$2\r\nvb\r\n" + PUSH[:cut])
        time.sleep(0.05)  # (if the client is slower, it gets the whole push at once: fine too)
        peer.send(PUSH[cut:])
        serve(peer)

    with FakeRedis(split_push) as fake:
        pushes = []
        conn = Connection(host=fake.host, port=fake.port, push_handler=pushes.append)
        assert conn.execute("GET", "kb") == b"vb"
        assert not conn.closed  # half a push frame is no stray reply
        assert conn.execute("PING") == b"PONG"
        assert pushes == [[b"invalidate", [b"ka"]]]
        assert fake.accepted == 1


def test_push_split_across_segments_before_a_reply():
    def split_push(peer):
        peer.read_command()
        peer.send(PUSH[:9])
        time.sleep(0.05)
        peer.send(PUSH[9:] + b"+OK\r\n")
        serve(peer)

    with FakeRedis(split_push) as fake:
        pushes = []
        conn = Connection(host=fake.host, port=fake.port, push_handler=pushes.append)
        assert conn.execute("SET", "k", "v") == b"OK"
        assert pushes == [[b"invalidate", [b"ka"]]]


@pytest.mark.parametrize("cut", [None, 9])
def test_pushes_while_idle_go_to_the_handler(cut):
    replied = threading.Event()

    def push_later(peer):
        peer.send(answer(peer.read_command()))
        replied.wait(5)
        if cut is None:
            peer.send(PUSH)
        else:  # half now: the client waits for the rest before it sends
            peer.send(PUSH[:cut])
            time.sleep(0.1)
            peer.send(PUSH[cut:])
        serve(peer)

    with FakeRedis(push_later) as fake:
        pushes = []
        conn = Connection(host=fake.host, port=fake.port, push_handler=pushes.append)
        assert conn.execute("PING") == b"PONG"
        replied.set()
        wait_readable(conn)
        assert conn.execute("ECHO", "x") == b"x"
        assert pushes == [[b"invalidate", [b"ka"]]]
        assert not conn.closed and fake.accepted == 1


def test_incomplete_stray_frame_while_idle_times_out_unsent():
    from pyredis.connection.errors import CommandNotSent

    script = StrayAfterReply(b">2\r\n$1\r\na")  # a push that never ends
    with FakeRedis(script) as fake:
        conn = Connection(host=fake.host, port=fake.port, read_timeout=0.3)
        assert conn.execute("PING") == b"PONG"
        script.go.set()
        wait_readable(conn)
        with pytest.raises(CommandNotSent, match="incomplete"):
            conn.execute("PING")
        assert conn.closed
    assert script.seen == []


def test_pushes_during_the_connect_handshake():
    def handshake(peer):
        assert peer.read_command()[0] == b"AUTH"
        assert peer.read_command()[0] == b"SELECT"
        peer.send(PUSH + b"+OK\r\n" + PUSH + b"+OK\r\n" + PUSH)
        serve(peer)

    with FakeRedis(handshake) as fake:
        pushes = []
        conn = Connection(host=fake.host, port=fake.port, password="pw", database=3,
                          push_handler=pushes.append)
        assert conn.execute("PING") == b"PONG"
        assert len(pushes) == 3
        assert fake.accepted == 1 and not conn.closed


def test_pushes_among_pipelined_replies():
    from pyredis.protocol import pack_command

    def pipelined(peer):
        peer.read_command()
        peer.read_command()
        peer.send(b"+OK\r\n" + PUSH + b":2\r\n" + PUSH)
        serve(peer)

    with FakeRedis(pipelined) as fake:
        pushes = []
        conn = Connection(host=fake.host, port=fake.port, push_handler=pushes.append)
        data = pack_command(("SET", "n", 1)) + pack_command(("INCR", "n"))
        assert conn.execute_many(data, 2) == [b"OK", 2]
        assert len(pushes) == 2 and not conn.closed


def test_push_handler_exception_is_logged_and_the_reply_returned(caplog):
    def push_and_reply(peer):
        peer.read_command()
        peer.send(PUSH + b"+OK\r\n")
        serve(peer)

    def handler(push):
        raise RuntimeError("cache bug")

    with FakeRedis(push_and_reply) as fake:
        conn = Connection(host=fake.host, port=fake.port, push_handler=handler)
        with caplog.at_level("ERROR", logger="pyredis"):
            assert conn.execute("SET", "k", "v") == b"OK"
        assert "cache bug" in caplog.text and "Traceback" in caplog.text
        assert conn.execute("PING") == b"PONG"


def test_read_returns_push_frames():
    def messages(peer):
        peer.read_command()
        peer.send(b">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n")
        peer.read_command()

    with FakeRedis(messages) as fake:
        pushes = []
        conn = Connection(host=fake.host, port=fake.port, push_handler=pushes.append)
        conn.write("SUBSCRIBE", "ch")
        assert conn.read() == [b"subscribe", b"ch", 1]
        assert pushes == []


@pytest.mark.parametrize("handler", [1, "print", object()])
def test_push_handler_must_be_callable(handler):
    with pytest.raises(TypeError, match="push_handler must be a callable or None"):
        Connection(host="h", push_handler=handler)


def test_push_handler_property():
    assert Connection(host="h").push_handler is None
    assert Connection(host="h", push_handler=print).push_handler is print


def test_client_tracking_invalidation_reaches_the_handler(redis):
    pushes = []
    conn = Connection(host=redis.host, port=redis.port, push_handler=pushes.append)
    conn.execute("HELLO", 3)
    conn.execute("CLIENT", "TRACKING", "ON")
    conn.execute("MSET", "ka", "1", "kb", "2")
    assert conn.execute("GET", "ka") == b"1"
    redis.command("SET", "ka", "changed")  # another client
    redis.command("SET", "kb", "changed")  # not read by us: no invalidation
    assert conn.execute("GET", "kb") == b"changed"
    assert conn.execute("GET", "ka") == b"changed"
    assert pushes == [[b"invalidate", [b"ka"]]]
    assert not conn.closed


# -- RESP3 false ------------------------------------------------------------------
FALSE_SCRIPT = "redis.setresp(3); return false"


def test_resp3_false_is_a_reply(where):
    conn = Connection(read_timeout=None, **where)
    conn.execute("HELLO", 3)
    assert conn.execute("EVAL", FALSE_SCRIPT, 0) is False
    assert conn.execute("PING") == b"PONG"
    conn.write("EVAL", FALSE_SCRIPT, 0)
    assert conn.read() is False


def test_resp3_false_in_pipelined_replies(where):
    from pyredis.protocol import pack_command

    conn = Connection(read_timeout=None, **where)
    conn.execute("HELLO", 3)
    data = pack_command(("EVAL", FALSE_SCRIPT, 0)) + pack_command(("PING",))
    assert conn.execute_many(data, 2) == [False, b"PONG"]


# -- failures on multi-reply reads -----------------------------------------------
def test_dropped_during_pipelined_replies():
    from pyredis.protocol import pack_command

    def two_of_three(peer):
        for _ in range(3):
            peer.read_command()
        peer.send(b"+OK\r\n:2\r\n")
        peer.close()

    with FakeRedis(two_of_three) as fake:
        conn = Connection(host=fake.host, port=fake.port)
        out = []
        data = b"".join(pack_command(c) for c in [("SET", "n", 1), ("INCR", "n"), ("GET", "n")])
        with pytest.raises(PyRedisConnClosed):
            conn.execute_many(data, 3, out)
        assert out == [b"OK", 2]
        assert conn.closed


@pytest.mark.parametrize("answered", [0, 1])
def test_dropped_during_the_login_handshake(answered):
    def hang_up(peer):
        peer.read_command()
        peer.read_command()
        peer.send(b"+OK\r\n" * answered)
        peer.close()

    with FakeRedis(hang_up) as fake:
        conn = Connection(host=fake.host, port=fake.port, password="pw", database=2)
        with pytest.raises(PyRedisConnClosed):
            conn.execute("PING")
        assert conn.closed and conn._sock is None


def test_reset_during_a_read_is_a_conn_error():
    def reset(peer):
        peer.read_command()
        peer.send(b"$10\r\nhal")
        time.sleep(0.05)
        peer.reset()

    with FakeRedis(reset) as fake:
        conn = Connection(host=fake.host, port=fake.port)
        with pytest.raises(PyRedisConnError, match="Connection lost while reading"):
            conn.execute("GET", "k")
        assert conn.closed


class FailingSocket:
    """A connected socket whose sends fail with ``error``."""

    def __init__(self, sock, error):
        self.sock = sock
        self.error = error

    def sendall(self, data):
        raise self.error

    def __getattr__(self, name):
        return getattr(self.sock, name)


def break_writes(conn, error):
    """Make every send of ``conn`` (connected) raise ``error``."""
    wrapped = FailingSocket(conn._sock, error)
    conn._sock = wrapped
    conn._fd = -1
    conn._requester.attach(wrapped, -1, conn._reader, conn._buf, None, None)
    conn._requester.finish()


@pytest.mark.parametrize("error", [ConnectionResetError(104, "reset"),
                                   BrokenPipeError(32, "pipe"), OSError(5, "io")])
@pytest.mark.parametrize("how", ["execute", "write", "execute_many"])
def test_write_failures_are_conn_errors(redis, error, how):
    conn = Connection(host=redis.host, port=redis.port)
    conn.execute("PING")
    break_writes(conn, error)
    call = {"execute": lambda: conn.execute("PING"), "write": lambda: conn.write("PING"),
            "execute_many": lambda: conn.execute_many(b"*1\r\n$4\r\nPING\r\n", 1)}[how]
    with pytest.raises(PyRedisConnError, match="Write failed") as info:
        call()
    assert info.value.__cause__ is error
    assert conn.closed


def test_interrupted_write_closes_and_propagates(redis):
    class Interrupt(BaseException):
        pass

    conn = Connection(host=redis.host, port=redis.port)
    conn.execute("PING")
    break_writes(conn, Interrupt())
    with pytest.raises(Interrupt):
        conn.execute("PING")
    assert conn.closed


def test_write_on_a_shut_socket_is_a_conn_error(where):
    conn = Connection(**where)
    conn.execute("PING")
    conn._sock.shutdown(socket.SHUT_WR)  # every send now fails with EPIPE
    conn._requester.idle = 0  # (as while replies are outstanding: no idle check first)
    with pytest.raises(PyRedisConnError, match="Write failed"):
        conn.write("PING")
    assert conn.closed


# -- timeouts -----------------------------------------------------------------------
@pytest.mark.parametrize("timeout", [0.25, 0.6])
def test_sub_second_read_timeout(where, timeout):
    conn = Connection(read_timeout=timeout, **where)
    conn.execute("PING")
    with pytest.raises(PyRedisConnReadTimeout):
        conn.execute("BLPOP", "empty", 3)  # a timeout rounded to 0 would block 3 s and pass
    assert conn.closed


def test_no_read_timeout_waits_for_the_reply(where):
    conn = Connection(read_timeout=None, **where)
    assert conn.execute("BLPOP", "empty", 1) is None  # a 1-second wait, no timeout error
    assert conn.execute("PING") == b"PONG"


def test_timeval():
    from pyredis.connection.connection import _timeval
    import struct

    assert struct.unpack("ll", _timeval(1.5)) == (1, 500000)
    assert struct.unpack("ll", _timeval(0.25)) == (0, 250000)
    assert struct.unpack("ll", _timeval(1e-9)) == (0, 1)  # never 0: that is "forever"
    assert struct.unpack("ll", _timeval(7)) == (7, 0)


# -- connect failures never leak a socket ----------------------------------------------
def no_unclosed_socket(call):
    """Run ``call`` (which must raise); return its exception; fail on a ResourceWarning
    (a socket left for the garbage collector instead of closed)."""
    import gc
    import warnings

    gc.collect()  # earlier tests' garbage (connections dropped unclosed) goes first
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        try:
            call()
        except BaseException as exc:
            error = exc
        else:
            raise AssertionError("did not raise")
        gc.collect()
    leaks = [str(w.message) for w in caught
             if issubclass(w.category, ResourceWarning) and "socket" in str(w.message)]
    assert not leaks, leaks
    return error


def test_tls_handshake_failure_closes_the_socket(redis):
    conn = Connection(host=redis.host, port=redis.port, ssl=True, conn_timeout=0.5)
    error = no_unclosed_socket(lambda: conn.execute("PING"))
    assert isinstance(error, PyRedisConnError)
    assert conn.closed


def test_bad_read_timeout_closes_the_socket(redis):
    # Refused at construction; set behind the check, it fails once the socket exists.
    conn = Connection(host=redis.host, port=redis.port)
    conn._read_timeout = -1
    error = no_unclosed_socket(lambda: conn.execute("PING"))
    assert isinstance(error, PyRedisConnError) and conn.closed


def test_bad_conn_timeout_on_a_unix_socket_closes_it(redis):
    conn = Connection(unix_sock=redis.unix_sock)
    conn._conn_timeout = -1  # (refused at construction: set behind the check)
    error = no_unclosed_socket(lambda: conn.execute("PING"))
    assert isinstance(error, PyRedisConnError) and conn.closed


def test_interrupt_while_connecting_closes_the_socket(redis, monkeypatch):
    import pyredis.connection

    class Interrupt(BaseException):
        pass

    class Touchy(socket.socket):
        def setsockopt(self, *args):
            raise Interrupt  # after the socket is connected

    made = []

    def create_connection(address, timeout):
        sock = Touchy(socket.AF_INET, socket.SOCK_STREAM)
        sock.connect(address)
        made.append(sock)
        return sock

    fake_module = type("fake_socket_module", (), {"create_connection": staticmethod(create_connection)})
    monkeypatch.setattr(pyredis.connection, "socket", fake_module)
    conn = Connection(host=redis.host, port=redis.port)
    with pytest.raises(Interrupt):
        conn.execute("PING")
    assert made and made[0].fileno() == -1  # closed
    assert conn.closed


# -- closed ---------------------------------------------------------------------------
def test_closed_is_read_only():
    conn = Connection(host="h")
    with pytest.raises(AttributeError):
        conn.closed = True
    assert conn.closed is False


# -- names looked up as upstream did (tests replace them) ---------------------------
def test_patched_socket_module():
    from unittest import mock

    with mock.patch("pyredis.connection.socket") as socket_module:
        sock = socket_module.create_connection.return_value
        sock.recv.side_effect = [b"+PO", b"NG\r\n"]
        conn = Connection(host="redis.example", port=6380, conn_timeout=3)
        assert conn.execute("PING") == b"PONG"
    socket_module.create_connection.assert_called_once_with(address=("redis.example", 6380),
                                                            timeout=3)
    sock.sendall.assert_called_once_with(b"*1\r\n$4\r\nPING\r\n")
    conn.close()
    sock.close.assert_called_once_with()


def test_patched_socket_module_unix():
    from unittest import mock

    with mock.patch("pyredis.connection.socket") as socket_module:
        sock = socket_module.socket.return_value
        sock.recv.return_value = b"+PONG\r\n"
        conn = Connection(unix_sock="/run/redis.sock")
        assert conn.execute("PING") == b"PONG"
    socket_module.socket.assert_called_once_with(family=socket_module.AF_UNIX,
                                                 type=socket_module.SOCK_STREAM)
    sock.connect.assert_called_once_with("/run/redis.sock")


@pytest.mark.parametrize("kind", ["hiredis", "subclass"])
def test_replaced_reader(redis, monkeypatch, kind):
    import pyredis.connection
    from pyredis.protocol import Reader

    if kind == "hiredis":
        hiredis = pytest.importorskip("hiredis")
        reader_class = hiredis.Reader
    else:
        class Counting(Reader):
            made = 0

            def __init__(self, **kwargs):
                type(self).made += 1
                super().__init__(**kwargs)

        reader_class = Counting
    monkeypatch.setattr(pyredis.connection, "Reader", reader_class)
    conn = Connection(host=redis.host, port=redis.port, encoding="utf-8")
    conn.execute("SET", "k", "v\u00e9")
    assert conn.execute("GET", "k") == "v\u00e9"
    assert type(conn._reader) is reader_class
    conn.execute("HELLO", 3)
    assert conn.execute("EVAL", FALSE_SCRIPT, 0) is False


# -- TLS: the idle check sees what the SSL object holds and what the socket does ------
@pytest.fixture
def tls_conn(redis_tls_server):
    import ssl

    context = ssl.create_default_context()
    redis_tls_server.ca.configure_trust(context)
    pushes = []
    conn = Connection(host=redis_tls_server.host, port=redis_tls_server.tls_port,
                      ssl_context=context, push_handler=pushes.append)
    conn.pushes = pushes
    yield conn
    conn.close()


def test_tls_connection_killed_while_idle_is_found_before_sending(tls_conn, redis_tls_server):
    from pyredis.connection.errors import CommandNotSent

    assert tls_conn.execute("PING") == b"PONG"  # (the server's session tickets, if any, read)
    redis_tls_server.command("CLIENT", "KILL", "ID", tls_conn.execute("CLIENT", "ID"))
    wait_readable(tls_conn)
    with pytest.raises(CommandNotSent):
        tls_conn.execute("PING")
    assert tls_conn.closed


def test_tls_push_while_idle_goes_to_the_handler(tls_conn, redis_tls_server):
    tls_conn.execute("HELLO", 3)
    tls_conn.execute("CLIENT", "TRACKING", "ON")
    tls_conn.execute("GET", "tracked")
    redis_tls_server.command("SET", "tracked", "changed")
    wait_readable(tls_conn)
    assert tls_conn.execute("GET", "tracked") == b"changed"
    assert tls_conn.pushes == [[b"invalidate", [b"tracked"]]]
    assert not tls_conn.closed


def test_subclass_override_of_execute_is_honoured(redis):
    seen = []

    class Logged(Connection):
        def execute(self, *args):
            seen.append(args[0])
            return super().execute(*args)

    conn = Logged(host=redis.host, port=redis.port)
    assert conn.execute("PING") == b"PONG"
    assert seen == ["PING"]


def test_patched_connection_execute_is_called(redis):
    from unittest import mock

    with mock.patch.object(Connection, "execute", return_value=b"mocked") as execute:
        conn = Connection(host=redis.host, port=redis.port)
        assert conn.execute("PING") == b"mocked"
    execute.assert_called_once_with("PING")
    assert Connection(host=redis.host, port=redis.port).execute("PING") == b"PONG"


def test_execute_is_the_requester_itself(redis):
    conn = Connection(host=redis.host, port=redis.port)
    assert conn.execute is conn._requester  # no Python frame of ours per command
    assert conn.execute("PING") == b"PONG"


def test_stray_frame_right_after_the_handshake_replies():
    from pyredis.connection.errors import CommandNotSent

    def handshake(peer):
        peer.read_command()
        peer.send(b"+OK\r\n+EXTRA\r\n")
        serve(peer)

    with FakeRedis(handshake) as fake:
        conn = Connection(host=fake.host, port=fake.port, password="pw")
        with pytest.raises(CommandNotSent, match="after the handshake"):
            conn.execute("PING")
        assert conn.closed


@pytest.mark.parametrize("encoding", [None, "utf-8"])
def test_replaced_reader_gets_encoding_only_when_set(redis, monkeypatch, encoding):
    import pyredis.connection
    from pyredis.connection.settings import NOT_ENOUGH
    from pyredis.protocol import Reader

    made = []

    class Recording(Reader):
        def __init__(self, **kwargs):
            made.append(kwargs)
            super().__init__(**kwargs)

    monkeypatch.setattr(pyredis.connection, "Reader", Recording)
    Connection(host=redis.host, port=redis.port, encoding=encoding).execute("PING")
    expected = {"notEnoughData": NOT_ENOUGH}
    if encoding:
        expected["encoding"] = encoding
    assert made == [expected]


@pytest.mark.parametrize("read_timeout, direct", [(2, True), (0.25, True), (None, True),
                                                 (0, False)])
def test_descriptor_used_directly_only_for_blocking_sockets(redis, read_timeout, direct):
    import struct

    conn = Connection(host=redis.host, port=redis.port)
    conn._read_timeout = read_timeout  # (0 is refused at construction: set behind the check)
    conn._connect()
    assert conn._fd == (conn._sock.fileno() if direct else -1)
    if read_timeout:  # the kernel enforces it; the socket itself blocks
        assert conn._sock.gettimeout() is None
        sec, usec = struct.unpack("ll", conn._sock.getsockopt(
            socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.calcsize("ll")))
        assert sec + usec / 1e6 == pytest.approx(read_timeout, abs=0.01)


def test_tls_socket_is_never_used_by_descriptor(tls_conn):
    tls_conn.execute("PING")
    assert tls_conn._fd == -1


def test_tls_with_a_bytes_host(redis_tls_server):
    import ssl

    context = ssl.create_default_context()
    redis_tls_server.ca.configure_trust(context)
    conn = Connection(host=redis_tls_server.host.encode(), port=redis_tls_server.tls_port,
                      ssl_context=context)
    assert conn.execute("PING") == b"PONG"
    conn.close()


def test_close_closes_the_socket(where):
    conn = Connection(**where)
    conn.execute("PING")
    sock = conn._sock
    conn.close()
    assert sock.fileno() == -1


def test_read_closes_on_timeout_by_default(where):
    conn = Connection(read_timeout=0.2, **where)
    conn.execute("PING")
    with pytest.raises(PyRedisConnReadTimeout):
        conn.read()  # nothing was asked: nothing comes
    assert conn.closed


def test_read_raises_error_replies_by_default(where):
    conn = Connection(**where)
    conn.write("NOSUCHCOMMAND")
    with pytest.raises(ReplyError):
        conn.read()
    assert conn.execute("PING") == b"PONG"


def test_read_replies_connects_first(where):
    conn = Connection(read_timeout=0.2, **where)
    with pytest.raises(PyRedisConnReadTimeout):
        conn.read_replies(1)  # nothing was asked: nothing comes
    assert conn.closed


def test_read_connects_first(where):
    conn = Connection(read_timeout=0.2, **where)
    with pytest.raises(PyRedisConnReadTimeout):
        conn.read(close_on_timeout=False)
    assert conn._sock is not None and not conn.closed


def test_stray_frame_after_a_reply_is_logged(caplog):
    def extra(peer):
        peer.read_command()
        peer.send(b"+PONG\r\n+EXTRA\r\n")
        serve(peer)

    with FakeRedis(extra) as fake:
        conn = Connection(host=fake.host, port=fake.port)
        with caplog.at_level("WARNING", logger="pyredis"):
            assert conn.execute("PING") == b"PONG"
        assert conn.closed
    assert "data nobody asked for" in caplog.text and "EXTRA" in caplog.text


def test_unparsable_stray_data(caplog):
    from pyredis.connection.errors import CommandNotSent

    def garbage_after(peer):
        peer.read_command()
        peer.send(b"+OK\r\n@garbage\r\n")
        serve(peer)

    script = StrayAfterReply(b"@garbage\r\n")
    with FakeRedis(garbage_after, script) as fake:
        conn = Connection(host=fake.host, port=fake.port)
        with caplog.at_level("WARNING", logger="pyredis"):
            assert conn.execute("SET", "k", "v") == b"OK"
        assert conn.closed and "unparsable" in caplog.text
        conn = Connection(host=fake.host, port=fake.port)
        assert conn.execute("PING") == b"PONG"
        script.go.set()
        wait_readable(conn)
        with pytest.raises(CommandNotSent, match="unparsable"):
            conn.execute("PING")


def test_repr_says_whether_connected(where):
    conn = Connection(**where)
    assert repr(conn).endswith(" idle>")
    conn.execute("PING")
    assert repr(conn).endswith(" connected>")
    conn.close()
    assert repr(conn).endswith(" closed>")
