"""PubSubClient against a real redis-server."""
import time

import pytest

from fakeserver import FakeRedis
from pyredis import Client, PubSubClient
from pyredis.exceptions import PyRedisConnError, PyRedisConnReadTimeout


@pytest.fixture
def publisher(redis):
    c = Client(host=redis.host, port=redis.port)
    yield c
    c.close()


@pytest.fixture(params=["tcp", "unix"])
def sub(request, redis):
    where = ({"host": redis.host, "port": redis.port} if request.param == "tcp"
             else {"unix_sock": redis.unix_sock})
    s = PubSubClient(read_timeout=0.3, **where)
    yield s
    s.close()


def test_subscribe_publish_get(sub, publisher):
    assert sub.subscribe("/ch") is None  # writes only
    assert sub.get() == [b"subscribe", b"/ch", 1]
    assert publisher.publish("/ch", "hello") == 1
    assert sub.get() == [b"message", b"/ch", b"hello"]


def test_several_messages_arrive_in_order(sub, publisher):
    sub.subscribe("a", "b")
    assert [sub.get() for _ in range(2)] == [[b"subscribe", b"a", 1], [b"subscribe", b"b", 2]]
    for i in range(50):
        publisher.publish("a" if i % 2 else "b", str(i))
    got = [sub.get() for _ in range(50)]
    assert [m[2] for m in got] == [str(i).encode() for i in range(50)]


def test_psubscribe_and_unsubscribe(sub, publisher):
    sub.psubscribe("news.*")
    assert sub.get() == [b"psubscribe", b"news.*", 1]
    publisher.publish("news.today", "x")
    assert sub.get() == [b"pmessage", b"news.*", b"news.today", b"x"]
    sub.punsubscribe("news.*")
    assert sub.get() == [b"punsubscribe", b"news.*", 0]
    sub.subscribe("c")
    assert sub.get()[0] == b"subscribe"
    sub.unsubscribe("c")
    assert sub.get() == [b"unsubscribe", b"c", 0]


def test_polling_timeout_keeps_the_connection(sub, publisher):
    sub.subscribe("/poll")
    sub.get()
    with pytest.raises(PyRedisConnReadTimeout):
        sub.get()
    assert not sub.closed
    publisher.publish("/poll", "late")
    assert sub.get() == [b"message", b"/poll", b"late"]


def test_timeout_with_a_half_message_closes():
    def half_message(peer):
        peer.read_command()
        peer.send(b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n")
        peer.send(b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$10\r\nhal")
        peer.read_command()  # hold the socket open until the client gives up

    with FakeRedis(half_message) as fake:
        s = PubSubClient(host=fake.host, port=fake.port, read_timeout=0.3)
        s.subscribe("ch")
        assert s.get() == [b"subscribe", b"ch", 1]
        with pytest.raises(PyRedisConnReadTimeout):
            s.get()
        assert s.closed  # a partial message is buffered: the stream is not trusted


@pytest.mark.parametrize("together", [True, False], ids=["same-chunk", "later-chunk"])
def test_timeout_after_a_whole_message_header_closes(together):
    # The parser has consumed every byte that arrived (an array header and
    # its first element) into a half-built reply: nothing is left unparsed,
    # yet the message is incomplete.
    def header_only(peer):
        peer.read_command()
        confirmation = b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
        header = b"*3\r\n$7\r\nmessage\r\n"
        if together:  # one chunk: the next get() parses the header it already holds
            peer.send(confirmation + header)
        else:  # the header arrives during the next get()
            peer.send(confirmation)
            time.sleep(0.1)
            peer.send(header)
        peer.read_command()

    with FakeRedis(header_only) as fake:
        s = PubSubClient(host=fake.host, port=fake.port, read_timeout=0.3)
        s.subscribe("ch")
        assert s.get() == [b"subscribe", b"ch", 1]
        with pytest.raises(PyRedisConnReadTimeout):
            s.get()
        assert s.closed


def test_close_and_context_manager(redis):
    with PubSubClient(host=redis.host, port=redis.port) as s:
        s.subscribe("x")
        assert s.get()[0] == b"subscribe"
    assert s.closed
    with pytest.raises(PyRedisConnError):
        s.get()


def test_encoding(redis, publisher):
    s = PubSubClient(host=redis.host, port=redis.port, encoding="utf-8", read_timeout=1)
    s.subscribe("enc")
    assert s.get()[1:] == ["enc", 1]
    publisher.publish("enc", "caf\u00e9")
    assert s.get()[2] == "caf\u00e9"
    s.close()


def test_only_subscribe_commands():
    assert not hasattr(PubSubClient, "get_master")
    assert not hasattr(PubSubClient, "set")
    assert not hasattr(PubSubClient, "publish")
    assert hasattr(PubSubClient, "subscribe")


def test_resp3_messages_are_push_frames_returned_by_get(redis, publisher):
    from pyredis.protocol import PushNotification

    pushes = []
    s = PubSubClient(host=redis.host, port=redis.port, read_timeout=1, push_handler=pushes.append)
    s.write("HELLO", 3)
    assert s.get()[b"proto"] == 3
    s.subscribe("r3")
    confirmation = s.get()
    assert type(confirmation) is PushNotification and confirmation == [b"subscribe", b"r3", 1]
    publisher.publish("r3", "hi")
    assert s.get() == [b"message", b"r3", b"hi"]
    assert pushes == []
    s.close()


def test_resp3_false_is_a_message_not_a_wait(redis):
    s = PubSubClient(host=redis.host, port=redis.port, read_timeout=None)
    s.write("HELLO", 3)
    s.get()
    s.write("EVAL", "redis.setresp(3); return false", 0)
    assert s.get() is False  # returned at once: with no read timeout a wait would hang
    s.write("PING")
    assert s.get() == b"PONG"
    s.close()


def test_closed_is_read_only(redis):
    s = PubSubClient(host=redis.host, port=redis.port)
    with pytest.raises(AttributeError):
        s.closed = True
    s._conn.close()  # as a failure does
    assert s.closed is True
