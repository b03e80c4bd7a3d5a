"""get_by_url(): parsing, the objects it builds, and its errors (no server needed)."""
import importlib.util
import ssl

import pytest

import pyredis
from pyredis import Pool, PubSubClient, get_by_url
from pyredis.exceptions import PyRedisURLError
from pyredis.url import _parse_options


def available(module):
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def test_url_error_is_importable_but_not_public():
    assert pyredis.PyRedisURLError is PyRedisURLError
    assert "PyRedisURLError" not in pyredis.__all__
    assert issubclass(PyRedisURLError, pyredis.PyRedisError)


# -- redis:// -------------------------------------------------------------------
def test_redis_host_and_port():
    p = get_by_url("redis://127.0.0.1:7000")
    assert isinstance(p, Pool)
    assert (p.host, p.port, p.unix_sock) == ("127.0.0.1", 7000, None)
    assert p.database == 0


def test_redis_default_port():
    assert get_by_url("redis://localhost").port == 6379


def test_redis_typed_options():
    p = get_by_url("redis://h:1?database=3&pool_size=5&conn_timeout=1.5&read_timeout=2"
                   "&password=pw&username=bob&encoding=utf-8")
    assert (p.database, p.pool_size, p.conn_timeout, p.read_timeout) == (3, 5, 1.5, 2.0)
    assert isinstance(p.database, int) and isinstance(p.read_timeout, float)
    assert (p.password, p.username, p.encoding) == ("pw", "bob", "utf-8")


def test_db_is_an_alias_of_database():
    assert get_by_url("redis://h:1?db=4").database == 4
    with pytest.raises(PyRedisURLError, match="more than once"):
        get_by_url("redis://h:1?db=4&database=5")


def test_userinfo_and_path():
    p = get_by_url("redis://alice:s%40cret@h:1/7")
    assert (p.username, p.password, p.database) == ("alice", "s@cret", 7)
    assert get_by_url("redis://:only@h").password == "only"
    assert get_by_url("redis://h:1/").database == 0
    with pytest.raises(PyRedisURLError, match="more than once"):
        get_by_url("redis://:a@h:1?password=b")


def test_values_are_percent_decoded():
    assert get_by_url("redis://h?password=a%26b%3Dc").password == "a&b=c"


def test_unix_sock_option_without_host():
    p = get_by_url("redis://?unix_sock=/tmp/r.sock&database=1")
    assert (p.host, p.unix_sock, p.database) == (None, "/tmp/r.sock", 1)


def test_ipv6_in_brackets():
    p = get_by_url("redis://[::1]:7001")
    assert (p.host, p.port) == ("::1", 7001)
    assert get_by_url("redis://[::1]").port == 6379


def test_rediss_means_tls():
    p = get_by_url("rediss://h:6380")
    assert p.ssl is True
    assert get_by_url("redis://h:6380").ssl is False


def test_rediss_with_a_ca_file(tmp_path):
    import trustme

    ca = trustme.CA()
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    p = get_by_url("rediss://h:6380?ssl_ca_certs=%s" % path)
    assert isinstance(p.ssl_context, ssl.SSLContext)
    with pytest.raises(PyRedisURLError, match="ssl_ca_certs"):
        get_by_url("rediss://h:6380?ssl_ca_certs=%s" % (tmp_path / "missing.pem"))
    with pytest.raises(PyRedisURLError, match="rediss"):
        get_by_url("redis://h:6380?ssl_ca_certs=%s" % path)


# -- unix:// and pubsub:// ------------------------------------------------------
def test_unix_scheme():
    p = get_by_url("unix:///run/redis/redis.sock?database=2&pool_size=3")
    assert (p.unix_sock, p.host, p.database, p.pool_size) == ("/run/redis/redis.sock", None, 2, 3)
    assert get_by_url("unix://:pw@/tmp/r.sock").password == "pw"
    with pytest.raises(PyRedisURLError, match="socket path"):
        get_by_url("unix://?database=1")


def test_pubsub_scheme():
    s = get_by_url("pubsub://127.0.0.1:7002?read_timeout=0.5&encoding=utf-8")
    assert isinstance(s, PubSubClient)
    conn = s._conn
    assert (conn.host, conn.port, conn._read_timeout, conn._encoding) == (
        "127.0.0.1", 7002, 0.5, "utf-8")
    assert get_by_url("pubsub://h")._conn.port == 6379


def test_pool_options_are_refused_by_pubsub():
    with pytest.raises(PyRedisURLError, match="unexpected or missing options"):
        get_by_url("pubsub://h:1?pool_size=3")


# -- errors -----------------------------------------------------------------------
@pytest.mark.parametrize("url, message", [
    ("foo://h:1", "invalid schema: foo"),
    ("h:1", "expected <scheme>://"),
    ("redis://h:1?nonsense", "key=value"),
    ("redis://h:1?=3", "no name"),
    ("redis://h:1?database=three", "not an integer"),
    ("redis://h:1?read_timeout=soon", "not a number"),
    ("redis://h:port", "invalid port"),
    ("redis://h:0", "out of range"),
    ("redis://h:70000", "out of range"),
    ("redis://::1:7000", "brackets"),
    ("redis://[::1:7000", "unclosed"),
    ("redis://[::1]x", "after ']'"),
    ("redis://:7000", "missing host"),
    ("redis://a:1,b:2", "one host"),
    ("redis://", "needs a host"),
    ("redis://h:1?bogus=1", "unexpected or missing options"),
    ("cluster://a:1,,b:2", "empty host"),
    ("cluster://a:1,b", "needs a port"),
    ("sentinel://a?name=m", "needs a port"),
    ("cluster://", "at least one host"),
    ("cluster://a:1/3", "no path"),
])
def test_malformed_urls(url, message):
    with pytest.raises(PyRedisURLError, match=message):
        get_by_url(url)


def test_not_a_string():
    with pytest.raises(PyRedisURLError):
        get_by_url(b"redis://h")


def test_scheme_is_case_insensitive():
    assert isinstance(get_by_url("REDIS://h:1"), Pool)


# -- option conversion -------------------------------------------------------------
@pytest.mark.parametrize("text, value", [
    ("true", True), ("True", True), ("TRUE", True), ("1", True), ("yes", True), ("on", True),
    ("false", False), ("False", False), ("0", False), ("no", False), ("off", False),
])
def test_slave_ok_values(text, value):
    assert _parse_options("slave_ok=" + text) == {"slave_ok": value}


def test_slave_ok_rejects_other_values():
    with pytest.raises(PyRedisURLError, match="boolean"):
        _parse_options("slave_ok=maybe")


def test_buckets_become_a_list():
    assert _parse_options("buckets=m1,m2, m3") == {"buckets": ["m1", "m2", "m3"]}
    with pytest.raises(PyRedisURLError, match="empty item"):
        _parse_options("buckets=m1,,m2")


def test_empty_option_pieces_are_ignored():
    assert _parse_options("a=1&&b=2&") == {"a": "1", "b": "2"}


# -- schemes served by later classes -------------------------------------------------
@pytest.mark.parametrize("url, module, name, attribute, expected", [
    ("cluster://a:7000,b:7001?slave_ok=yes", "pyredis.pool.cluster", "ClusterPool",
     "slave_ok", True),
    ("sentinel://a:26379,b:26380?name=mymaster&retries=2", "pyredis.pool.sentinel",
     "SentinelPool", "name", "mymaster"),
    ("sentinel://a:26379?buckets=m1,m2", "pyredis.pool.sentinel_hash", "SentinelHashPool",
     "buckets", ["m1", "m2"]),
])
def test_cluster_and_sentinel_schemes(url, module, name, attribute, expected):
    if available(module):
        obj = get_by_url(url)
        assert type(obj).__name__ == name
        value = getattr(obj, attribute)
        assert (list(value) if isinstance(expected, list) else value) == expected
    else:
        with pytest.raises(PyRedisURLError, match=name):
            get_by_url(url)


def test_async_variants():
    if available("pyredis.pool.async_pool"):
        assert type(get_by_url("redis://h:1", async_client=True)).__name__ == "AsyncPool"
    else:
        with pytest.raises(PyRedisURLError, match="AsyncPool"):
            get_by_url("redis://h:1", async_client=True)
