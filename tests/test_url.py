"""get_by_url(): parsing, the objects it builds, and its errors (no server needed)."""
import ssl
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pyredis
from pyredis import Pool, PubSubClient, get_by_url
from pyredis.exceptions import PyRedisURLError


def test_the_module_exports_get_by_url_only():
    import pyredis.url

    assert pyredis.url.__all__ == ["get_by_url"]


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


def test_names_are_percent_decoded_and_stripped():
    p = get_by_url("redis://h?%64atabase=3& pool_size =2")
    assert (p.database, p.pool_size) == (3, 2)


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
    assert p.ssl_context is None  # the pool makes the default context on first use
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
    with pytest.raises(PyRedisURLError, match="do not repeat it as unix_sock"):
        get_by_url("unix:///tmp/r.sock?unix_sock=/tmp/other.sock")


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
    ("redis://fe80::1", "brackets"),
    ("redis://[::1:7000", "unclosed"),
    ("redis://[::1]x", "after ']'"),
    ("redis://:7000", "missing host"),
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
BOOLEANS = [
    ("true", True), ("True", True), ("TRUE", True), ("1", True), ("yes", True), ("YES", True),
    ("on", True), ("On", True),
    ("false", False), ("False", False), ("0", False), ("no", False), ("No", False),
    ("off", False), ("OFF", False),
]


@pytest.mark.parametrize("text, value", BOOLEANS)
def test_boolean_options(text, value):
    assert get_by_url("cluster://a:1?slave_ok=" + text).slave_ok is value
    assert get_by_url("redis://h?ssl=" + text).ssl is value
    conn = get_by_url("pubsub://h?read_only=%s&sentinel=%s" % (text, text))._conn
    assert (conn._read_only, conn._sentinel) == (value, value)


@pytest.mark.parametrize("text", ["maybe", "", "2", "-1", "tru", "y", "n", "truee", "none",
                                  " true", "t"])
def test_boolean_options_reject_other_values(text):
    for key in ("slave_ok", "ssl", "read_only", "sentinel"):
        with pytest.raises(PyRedisURLError, match="%s=.* is not a boolean .*on/off" % key):
            get_by_url("pubsub://h?%s=%s" % (key, text))


def test_ssl_false_means_no_tls():  # upstream's kwargs kept the string: TLS on
    assert get_by_url("redis://h?ssl=false").ssl is False
    assert get_by_url("redis://h?ssl=0").ssl_context is None
    assert get_by_url("rediss://h?ssl=true").ssl is True
    with pytest.raises(PyRedisURLError, match="rediss:// always uses TLS"):
        get_by_url("rediss://h?ssl=off")


def test_buckets_become_a_list():
    pool = get_by_url("sentinel://a:1?buckets=m1,m2, m3")
    assert pool.buckets == ["m1", "m2", "m3"]
    with pytest.raises(PyRedisURLError, match="empty item"):
        get_by_url("sentinel://a:1?buckets=m1,,m2")


def test_empty_option_pieces_are_ignored():
    p = get_by_url("redis://h?pool_size=2&&database=1&")
    assert (p.pool_size, p.database) == (2, 1)


@pytest.mark.parametrize("url", [
    "redis://h:81_54", "redis://h: 81", "redis://h:+81", "redis://h:-81",
    "redis://h:\u0668\u0661", "redis://h:\uff18\uff11", "redis://h:8\u00b9", "redis://h:0x50",
    "redis://h/1_0", "redis://h/ 1", "redis://h/+1", "redis://h/-1", "redis://h/\u0661",
    "redis://h?db=1_0", "redis://h?database=%201", "redis://h?pool_size=\u0662",
    "sentinel://a:1?name=m&retries=1_0", "cluster://a:1,b:2_0",
])
def test_integers_take_ascii_digits_only(url):
    with pytest.raises(PyRedisURLError, match="ASCII digits"):
        get_by_url(url.encode().decode("unicode_escape"))


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1_0", "\u0661.5", " 1", "1 ", "1e",
                                   "0x1", "", ".", "1.5.2", "infinity"])
def test_seconds_are_plain_decimal_numbers(value):
    with pytest.raises(PyRedisURLError, match="read_timeout=.* is not a number"):
        get_by_url("redis://h?read_timeout=" + value.encode().decode("unicode_escape"))


@pytest.mark.parametrize("value, seconds", [
    ("2", 2.0), ("0.5", 0.5), (".5", 0.5), ("5.", 5.0), ("1e-3", 0.001), ("1E2", 100.0),
    ("+3", 3.0), ("2.5e+1", 25.0),
])
def test_seconds_spellings(value, seconds):
    assert get_by_url("redis://h?conn_timeout=" + value).conn_timeout == seconds


@pytest.mark.parametrize("option, text", [
    ("read_timeout=0", "read_timeout must be more than 0"),
    ("conn_timeout=-1", "conn_timeout must be more than 0"),
    ("read_timeout=1e10", "at most"),
    ("pool_size=0", "pool_size"),
    ("encoding=no-such-codec", "unknown encoding"),
])
def test_settings_are_checked_when_the_pool_is_built(option, text):
    with pytest.raises(PyRedisURLError, match="invalid options for Pool: .*" + text) as info:
        get_by_url("redis://h?" + option)
    assert isinstance(info.value.__cause__, ValueError)  # the class's own error, chained


# -- every scheme, sync and asyncio ------------------------------------------------------
@pytest.mark.parametrize("url, name, attributes", [
    ("redis://h:1/2", "Pool", lambda p: (p.host, p.port, p.database, p.ssl)),
    ("rediss://h:1", "Pool", lambda p: (p.host, p.port, p.ssl)),
    ("unix:///tmp/r.sock", "Pool", lambda p: (p.unix_sock, p.host)),
    ("pubsub://h:1/2", "PubSubClient", lambda p: (p._conn.host, p._conn.port, p._conn.database)),
    ("cluster://a:7000,b:7001?slave_ok=yes", "ClusterPool",
     lambda p: (p.cluster_map.seeds, p.slave_ok)),
    ("sentinel://a:26379,b:26380?name=mymaster&retries=2", "SentinelPool",
     lambda p: (list(p.sentinels), p.name, p.retries)),
    ("sentinel://a:26379?buckets=m1,m2", "SentinelHashPool",
     lambda p: (list(p.sentinels), p.buckets)),
])
@pytest.mark.parametrize("async_client", [False, True], ids=["sync", "async"])
def test_every_scheme_builds_its_class(url, name, attributes, async_client):
    expected = {
        "redis": ("h", 1, 2, False), "rediss": ("h", 1, True), "unix": ("/tmp/r.sock", None),
        "pubsub": ("h", 1, 2), "cluster": ([("a", 7000), ("b", 7001)], True),
        "sentinel": ([("a", 26379), ("b", 26380)], "mymaster", 2),
        "sentinel+buckets": ([("a", 26379)], ["m1", "m2"]),
    }["sentinel+buckets" if "buckets" in url else url.partition(":")[0]]
    made = get_by_url(url, async_client=async_client)
    assert type(made).__name__ == ("Async" if async_client else "") + name
    assert attributes(made) == expected


# -- one host, hosts and ports ----------------------------------------------------------
def test_one_host_schemes_use_the_first_host_of_a_list():  # as upstream
    p = get_by_url("redis://h1:7001,h2:7002/3")
    assert (type(p), p.host, p.port, p.database) == (Pool, "h1", 7001, 3)
    assert get_by_url("rediss://h1,h2:1").port == 6379
    assert get_by_url("pubsub://h1:7003,h2")._conn.port == 7003
    with pytest.raises(PyRedisURLError, match="invalid port"):
        get_by_url("redis://h1:1,h2:x")  # the others are still checked


def test_async_one_host_scheme_uses_the_first_host():
    p = get_by_url("redis://h1:7001,h2:7002", async_client=True)
    assert (type(p).__name__, p.host, p.port) == ("AsyncPool", "h1", 7001)


@pytest.mark.parametrize("url", [
    "redis://h?port=65536", "redis://h?port=7000", "redis://h:1?host=other",
    "redis://?unix_sock=/tmp/r.sock&port=1", "unix:///tmp/r.sock?port=1",
    "pubsub://h?port=1", "cluster://a:1?port=2", "sentinel://a:1?name=m&host=b",
])
def test_host_and_port_are_not_options(url):
    with pytest.raises(PyRedisURLError, match="host and port before the path"):
        get_by_url(url)


@pytest.mark.parametrize("port", ["65536", "65535", "1", "0", "99999"])
def test_port_bounds(port):
    for url in ("redis://h:%s", "redis://[::1]:%s", "cluster://a:1,b:%s"):
        if 0 < int(port) < 65536:
            get_by_url(url % port)
        else:
            with pytest.raises(PyRedisURLError, match="out of range"):
                get_by_url(url % port)


def test_unix_paths_may_hold_an_at_sign():
    assert get_by_url("unix:///tmp/a@b.sock").unix_sock == "/tmp/a@b.sock"
    assert get_by_url("unix:///tmp/u:p@b/c.sock?pool_size=2").unix_sock == "/tmp/u:p@b/c.sock"
    p = get_by_url("unix://us%40r:p@ss@/tmp/a@b.sock")
    assert (p.username, p.password, p.unix_sock) == ("us@r", "p@ss", "/tmp/a@b.sock")
    p = get_by_url("unix://user@relative.sock")
    assert (p.username, p.password, p.unix_sock) == ("user", None, "relative.sock")
    assert get_by_url("unix://tmp%2Fa%40b.sock").unix_sock == "tmp/a@b.sock"


@pytest.mark.parametrize("url", ["unix://tmp/a@b.sock", "unix://x/y:z@/run/r.sock"])
def test_a_relative_unix_path_cannot_hold_an_at_sign(url):
    with pytest.raises(PyRedisURLError, match="relative socket path cannot hold '@'") as info:
        get_by_url(url)
    assert "tmp" not in str(info.value) and "y:z" not in str(info.value)


# -- user names and passwords ---------------------------------------------------------
def test_user_without_password():
    p = get_by_url("redis://limited@h")
    assert (p.username, p.password) == ("limited", None)
    assert get_by_url("redis://limited:@h").password is None
    p = get_by_url("redis://:@h:1")
    assert (p.username, p.password, p.host) == (None, None, "h")
    p = get_by_url("redis://@h:1")  # empty user info
    assert (p.username, p.password, p.host, p.port) == (None, None, "h", 1)


def test_raw_at_and_colon_in_a_password():
    p = get_by_url("redis://u:p@ss:w0rd@h:1")
    assert (p.username, p.password, p.host, p.port) == ("u", "p@ss:w0rd", "h", 1)
    p = get_by_url("cluster://u:p@s,s@a:1,b:2")
    assert (p.username, p.password) == ("u", "p@s,s")
    p = get_by_url("sentinel://u:p@ss@a:1?name=m@x&pool_size=2")  # an "@" in an option value
    assert (p.password, p.name, p.pool_size) == ("p@ss", "m@x", 2)


@pytest.mark.parametrize("url, shown", [
    ("redis:/:S3cr3t@db:6379/0", "expected <scheme>://"),
    ("redis:S3cr3t@db", "expected <scheme>://"),
    ("u:S3cr3t@db://x", "is not a scheme name"),
    ("redis://u:S3c/r3t@db:6379/0", "'@' after the host"),
    ("redis://u:S3c?r3t@db:6379/0", "option (not shown) is not of the form key=value"),
    ("redis://u:S3c?r3t=1@db", "invalid port (not shown) in (not shown)"),
    ("redis://h:1?password=S3c&r3t=1@db", "unexpected or missing options specified: (not shown)"),
    ("redis://u:S3c?pool_size=r3t@db", "option pool_size=(not shown) is not an integer"),
    ("redis://u:S3c?a&r3t@db", "option (not shown) is not of the form"),
    ("cluster://u:S3c/r3t@a:1", "'@' after the host"),
    ("unix://u:S3c/r3t@/run/r.sock", "relative socket path"),
    ("unix://u:S3c?r3t@/run/r.sock", "option (not shown)"),
    ("redis://h?password=S3c&r3t", "option (not shown) is not of the form key=value"),
    ("redis://h?password=S3c&r3t=1", "unexpected or missing options specified: (not shown)"),
    ("redis://h?sentinel_password=S3c&r3t", "option (not shown)"),
])
def test_malformed_urls_never_show_the_password(url, shown):
    with pytest.raises(PyRedisURLError) as info:
        get_by_url(url)
    assert shown in str(info.value)
    for text in error_texts(info.value):
        assert "S3c" not in text and "r3t" not in text
    if "(not shown)" in shown:
        assert "percent-encode '/', '?' and '&'" in str(info.value)


def test_well_formed_urls_with_a_password_show_the_rest():
    with pytest.raises(PyRedisURLError, match="invalid port 'x' in 'h:x'") as info:
        get_by_url("redis://u:S3cr3t@h:x")
    assert "S3cr3t" not in str(info.value)
    with pytest.raises(PyRedisURLError) as info:
        get_by_url("redis://u:S3cr3t@h?read_timeout=0")
    assert "S3cr3t" not in str(info.value) and "read_timeout" in str(info.value)
    assert isinstance(info.value.__cause__, ValueError)


def error_texts(error):
    """The text of ``error`` and of every exception a traceback would show with it."""
    texts = []
    while error is not None:
        texts.append(str(error))
        texts.extend(str(arg) for arg in error.args)
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    return texts


# Letters that appear nowhere else in the urls below nor in any message: any
# of them in an error means a piece of the user info leaked.
SECRET_LETTERS = "\u03a3\u03a8\u03a9\u0416"
RESERVED = "/?#@:[]%&=,;+ !$'()*~.-_"
secrets = st.text(alphabet=SECRET_LETTERS + RESERVED, min_size=1, max_size=10).filter(
    lambda text: any(letter in text for letter in SECRET_LETTERS))
userinfos = st.one_of(
    secrets,                                                   # user only
    secrets.map(lambda text: ":" + text),                      # password only
    st.tuples(secrets, secrets).map(":".join),                 # both
)
SHAPES = [
    "redis:/{}@db:6379/0", "redis:{}@db:6379/0", "redis//{}@db:6379/0", "{}@db:6379",
    "redis://{}@db:6379/0", "redis://{}@db:bad/0", "redis://{}@db:6379/x", "redis://{}@db:0",
    "redis://{}@db:65536", "redis://{}@db:6379?pool_size=x", "redis://{}@db?read_timeout=0",
    "redis://{}@db?bogus=1", "redis://{}@[::1", "redis://{}@", "redis://{}@db?password=x",
    "redis://{}@db?ssl=maybe", "redis://{}@a,,b", "redis://{}@db?port=1", "redis://{}@db/1/2",
    "rediss://{}@db?ssl=false", "rediss://{}@db?ssl_ca_certs=/nonexistent/ca.pem",
    "unix://{}@/tmp/r.sock?database=x", "unix://{}@relative", "unix://{}@",
    "unix://{}@/tmp/r.sock?unix_sock=x", "unix://{}@/tmp/r.sock?ssl=true",
    "pubsub://{}@db?pool_size=1", "cluster://{}@a:1,b", "cluster://{}@a:1/0", "cluster://{}@",
    "sentinel://{}@a:1", "sentinel://{}@a:1?buckets=,", "foo://{}@db",
    "redis://db?password={}&pool_size=x", "redis://db?sentinel_password={}",
]


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(userinfo=userinfos)
def test_no_error_shows_the_user_info(userinfo):
    for shape in SHAPES:
        url = shape.format(userinfo.lstrip(":") if "password=" in shape else userinfo)
        try:
            made = get_by_url(url)
        except PyRedisURLError as error:
            for text in error_texts(error):
                assert not set(text) & set(SECRET_LETTERS), (url, text)
        else:  # no user info ended up where a connection error would show it ...
            if shape.startswith("unix://") and "/" in userinfo:
                continue  # ... but unix://@/x@y is the absolute path /x@y
            conn = getattr(made, "_conn", made)
            where = [conn.host, conn.port, conn.unix_sock, conn.database]
            assert not set(repr(where)) & set(SECRET_LETTERS), (url, where)


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(user=st.text(min_size=1), password=st.text(min_size=1), database=st.integers(0, 99))
def test_percent_encoded_user_info_round_trips(user, password, database):
    url = "redis://%s:%s@h:1/%d" % (quote(user, safe=""), quote(password, safe=""), database)
    p = get_by_url(url)
    assert (p.username, p.password, p.host, p.port, p.database) == (
        user, password, "h", 1, database)
