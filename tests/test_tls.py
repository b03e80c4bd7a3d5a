"""TLS against a real redis-server listening on --tls-port (certificates from trustme)."""
import ssl

import pytest

from servers import RedisServer
from pyredis import Client, Pool, PubSubClient, get_by_url
from pyredis.connection import Connection
from pyredis.exceptions import PyRedisConnError, PyRedisConnReadTimeout


@pytest.fixture
def tls(redis_tls_server):
    redis_tls_server.flushall()
    return redis_tls_server


@pytest.fixture
def trusting_context(tls):
    context = ssl.create_default_context()
    tls.ca.configure_trust(context)
    return context


def test_connection_over_tls(tls, trusting_context):
    conn = Connection(host=tls.host, port=tls.tls_port, ssl_context=trusting_context)
    assert conn.execute("PING") == b"PONG"
    assert isinstance(conn._sock, ssl.SSLSocket)
    assert conn._sock.version().startswith("TLS")
    conn.close()


def test_large_values_over_tls(tls, trusting_context):
    c = Client(host=tls.host, port=tls.tls_port, ssl_context=trusting_context)
    value = bytes(range(256)) * 8192  # 2 MiB
    c.set("big", value)
    assert c.get("big") == value
    c.bulk_start()
    for i in range(500):
        c.set("k%d" % i, i)
    assert c.bulk_stop() == [b"OK"] * 500
    assert tls.command("GET", "k499") == b"$3"  # visible over plain TCP too


def test_default_context_rejects_an_unknown_ca(tls):
    c = Client(host=tls.host, port=tls.tls_port, ssl=True)
    with pytest.raises(PyRedisConnError, match="certificate"):
        c.ping()
    assert c.closed


@pytest.fixture(scope="module")
def misnamed_tls_server(tmp_path_factory):
    """A TLS server whose certificate (from a trusted CA) names another host."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("db.example.invalid")
    folder = tmp_path_factory.mktemp("misnamed")
    paths = {name: str(folder / (name + ".pem")) for name in ("cert", "key", "ca")}
    cert.cert_chain_pems[0].write_to_path(paths["cert"])
    cert.private_key_pem.write_to_path(paths["key"])
    ca.cert_pem.write_to_path(paths["ca"])
    server = RedisServer(tls=paths, unix=False).start()
    server.ca = ca
    yield server
    server.stop()


def test_hostname_is_checked(misnamed_tls_server):
    srv = misnamed_tls_server
    context = ssl.create_default_context()
    srv.ca.configure_trust(context)
    c = Client(host=srv.host, port=srv.tls_port, ssl_context=context)
    with pytest.raises(PyRedisConnError, match="match|mismatch"):
        c.ping()
    assert c.closed
    relaxed = ssl.create_default_context()
    srv.ca.configure_trust(relaxed)
    relaxed.check_hostname = False
    assert Client(host=srv.host, port=srv.tls_port, ssl_context=relaxed).ping() == b"PONG"


def test_plain_client_on_the_tls_port_fails_cleanly(tls):
    c = Client(host=tls.host, port=tls.tls_port, read_timeout=1)
    with pytest.raises((PyRedisConnError, PyRedisConnReadTimeout)):
        c.ping()
    assert c.closed


def test_read_timeout_over_tls(tls, trusting_context):
    c = Client(host=tls.host, port=tls.tls_port, ssl_context=trusting_context, read_timeout=0.2)
    with pytest.raises(PyRedisConnReadTimeout):
        c.blpop("empty", 1)
    assert c.closed


def test_pool_over_tls(tls, trusting_context):
    p = Pool(host=tls.host, port=tls.tls_port, ssl_context=trusting_context, pool_size=2)
    assert p.set("k", "v") == b"OK"
    assert p.get("k") == b"v"
    assert p.ssl is True
    p.close()


def test_pool_ssl_true_shares_one_default_context(tls):
    p = Pool(host=tls.host, port=tls.tls_port, ssl=True)
    assert p.ssl_context is None  # nothing built before first use
    first, second = p._connect(), p._connect()
    assert p.ssl_context is not None
    assert first._conn._ssl_context is second._conn._ssl_context is p.ssl_context
    with pytest.raises(PyRedisConnError):
        p.ping()  # the default context does not trust the test CA


def test_rediss_url(tls):
    p = get_by_url("rediss://%s:%d?ssl_ca_certs=%s" % (tls.host, tls.tls_port, tls.ca_file))
    assert p.ping() == b"PONG"
    p.close()


def test_pubsub_over_tls(tls, trusting_context):
    s = PubSubClient(host=tls.host, port=tls.tls_port, ssl_context=trusting_context,
                     read_timeout=0.3)
    s.subscribe("tls")
    assert s.get() == [b"subscribe", b"tls", 1]
    with pytest.raises(PyRedisConnReadTimeout):
        s.get()
    assert not s.closed  # polling works over TLS too
    Client(host=tls.host, port=tls.port).publish("tls", "hi")
    assert s.get() == [b"message", b"tls", b"hi"]
    s.close()
