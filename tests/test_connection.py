"""Connection against a real redis-server (TCP and unix socket) and a few fakes."""
import os
import socket
import time

import pytest

from fakeserver import FakeRedis, serve
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
