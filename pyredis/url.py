"""get_by_url(): build a pool or client from a URL.

    redis://[user[:password]@]host[:port][/db][?options]      Pool
    rediss://...                                              Pool over TLS
    unix://[user[:password]@]/path/to/redis.sock[?options]    Pool on a unix socket
    pubsub://host[:port][?options]                            PubSubClient
    cluster://host:port,host:port[?options]                   ClusterPool
    sentinel://host:port,host:port?name=mymaster[&...]        SentinelPool
    sentinel://host:port,...?buckets=m1,m2[&...]              SentinelHashPool

Options are ``key=value`` pairs joined by ``&``; values are percent-decoded.
Typed options: ``database`` (alias ``db``), ``pool_size``, ``retries`` (int);
``conn_timeout``, ``read_timeout``, ``pool_timeout``, ``max_idle_time``,
``refresh_timeout`` (float); ``slave_ok`` (true/false, 1/0, yes/no, on/off); ``buckets`` (comma
separated list).  ``rediss://`` also takes ``ssl_ca_certs`` (a CA bundle file).
Any other option is passed on as a string; the class decides whether it is
valid.  Every problem is reported as ``PyRedisURLError``.

Fixed relative to upstream: ``buckets`` becomes a list, ``slave_ok=1`` and
``yes`` count as true, messages are formatted, conversion errors are wrapped,
hosts without a port are rejected where a port is needed, and ``db=`` works.
"""
import importlib
from urllib.parse import unquote

from pyredis.exceptions import PyRedisError, PyRedisURLError

__all__ = ["get_by_url"]

DEFAULT_PORT = 6379

_INT_OPTIONS = frozenset(("database", "pool_size", "retries"))
_FLOAT_OPTIONS = frozenset(("conn_timeout", "read_timeout", "pool_timeout", "max_idle_time",
                            "refresh_timeout"))
_BOOL_OPTIONS = frozenset(("slave_ok",))
_LIST_OPTIONS = frozenset(("buckets",))
_ALIASES = {"db": "database"}
_TRUE = frozenset(("true", "1", "yes", "on"))
_FALSE = frozenset(("false", "0", "no", "off"))

# scheme -> (sync class, async class), each as "module:Class"; imported on
# demand so that a class from a later release (or an absent one) costs nothing.
_CLASSES = {
    "redis": ("pyredis.pool.pool:Pool", "pyredis.pool.async_pool:AsyncPool"),
    "unix": ("pyredis.pool.pool:Pool", "pyredis.pool.async_pool:AsyncPool"),
    "pubsub": ("pyredis.client.pubsub:PubSubClient",
               "pyredis.client.async_pubsub:AsyncPubSubClient"),
    "cluster": ("pyredis.pool.cluster:ClusterPool", "pyredis.pool.async_cluster:AsyncClusterPool"),
    "sentinel": ("pyredis.pool.sentinel:SentinelPool",
                 "pyredis.pool.async_sentinel:AsyncSentinelPool"),
    "sentinel+buckets": ("pyredis.pool.sentinel_hash:SentinelHashPool",
                         "pyredis.pool.async_sentinel_hash:AsyncSentinelHashPool"),
}
_CLASSES["rediss"] = _CLASSES["redis"]


def get_by_url(url, async_client=False):
    """Return the pool or client that ``url`` describes (see the module docstring)."""
    if not isinstance(url, str):
        raise PyRedisURLError("url must be a str, not %s" % type(url).__name__)
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise PyRedisURLError("invalid url %r: expected <scheme>://..." % url)
    scheme = scheme.lower()
    if scheme not in _CLASSES:
        raise PyRedisURLError("invalid schema: %s" % scheme)
    location, _, query = rest.partition("?")
    options = _parse_options(query)
    if scheme == "unix":
        return _unix(location, options, async_client)
    location, path = _split_path(location)
    _apply_userinfo(_take_userinfo(location), options)
    location = location.rpartition("@")[2]
    hosts = _parse_hosts(location)
    if path:
        if scheme not in ("redis", "rediss", "pubsub"):
            raise PyRedisURLError("%s:// urls take no path (got %r)" % (scheme, "/" + path))
        _set_option(options, "database", _convert("database", path))
    if scheme in ("redis", "rediss", "pubsub"):
        return _single(scheme, hosts, options, async_client)
    return _multi(scheme, hosts, options, async_client)


# -- per scheme -------------------------------------------------------------
def _single(scheme, hosts, options, async_client):
    if len(hosts) > 1:
        raise PyRedisURLError(
            "%s:// takes one host, got %d (use cluster:// or sentinel:// for several)"
            % (scheme, len(hosts)))
    kwargs = dict(options)
    if hosts:
        host, port = hosts[0]
        kwargs["host"] = host
        kwargs["port"] = DEFAULT_PORT if port is None else port
    elif "unix_sock" not in kwargs:
        raise PyRedisURLError("%s:// url needs a host (or the unix_sock option)" % scheme)
    _tls_options(scheme, kwargs)
    return _build(scheme, async_client, kwargs)


def _unix(location, options, async_client):
    userinfo = None
    if "@" in location and not location.startswith("/"):
        userinfo, _, location = location.partition("@")
    _apply_userinfo(userinfo, options)
    path = unquote(location)
    if not path:
        raise PyRedisURLError("unix:// url needs a socket path, e.g. unix:///run/redis.sock")
    if "unix_sock" in options:
        raise PyRedisURLError("unix:// url gives the socket path; do not repeat it as unix_sock")
    kwargs = dict(options)
    kwargs["unix_sock"] = path
    _tls_options("unix", kwargs)
    return _build("unix", async_client, kwargs)


def _multi(scheme, hosts, options, async_client):
    if not hosts:
        raise PyRedisURLError("%s:// url needs at least one host:port" % scheme)
    missing = [host for host, port in hosts if port is None]
    if missing:
        raise PyRedisURLError("%s:// needs a port for every host; missing for %s"
                              % (scheme, ", ".join(missing)))
    kwargs = dict(options)
    _tls_options(scheme, kwargs)
    addresses = [(host, port) for host, port in hosts]
    if scheme == "cluster":
        kwargs["seeds"] = addresses
        return _build("cluster", async_client, kwargs)
    kwargs["sentinels"] = addresses
    return _build("sentinel+buckets" if "buckets" in kwargs else "sentinel", async_client, kwargs)


def _tls_options(scheme, kwargs):
    cafile = kwargs.pop("ssl_ca_certs", None)
    if scheme != "rediss":
        if cafile is not None:
            raise PyRedisURLError("ssl_ca_certs needs a rediss:// url")
        return
    if cafile is None:
        kwargs["ssl"] = True
        return
    import ssl

    try:
        kwargs["ssl_context"] = ssl.create_default_context(cafile=cafile)
    except (OSError, ValueError) as exc:
        raise PyRedisURLError("cannot load ssl_ca_certs %r: %s" % (cafile, exc)) from exc


def _build(kind, async_client, kwargs):
    target = _CLASSES[kind][1 if async_client else 0]
    cls = _load(target, kind, async_client)
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise PyRedisURLError("unexpected or missing options specified: %s" % exc) from exc
    except (ValueError, PyRedisError) as exc:
        if isinstance(exc, PyRedisURLError):
            raise
        raise PyRedisURLError("invalid options for %s: %s" % (cls.__name__, exc)) from exc


def _load(target, kind, async_client):
    module_name, _, class_name = target.partition(":")
    what = "%s%s" % ("async " if async_client else "", kind.replace("+buckets", " with buckets"))
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise PyRedisURLError(
                "%s urls need %s.%s, which this version of pyredis does not provide"
                % (what, module_name, class_name)) from exc
        raise
    cls = getattr(module, class_name, None)
    if cls is None:
        raise PyRedisURLError("%s urls need %s.%s, which this version of pyredis does not provide"
                              % (what, module_name, class_name))
    return cls


# -- pieces of the url ---------------------------------------------------------
def _split_path(location):
    # The path starts at the first "/" after the host list ("[...]" may not hold one).
    slash = location.find("/")
    if slash < 0:
        return location, ""
    return location[:slash], location[slash + 1:]


def _take_userinfo(location):
    if "@" not in location:
        return None
    return location.rpartition("@")[0]


def _apply_userinfo(userinfo, options):
    if not userinfo:
        return
    user, colon, password = userinfo.partition(":")
    if user:
        _set_option(options, "username", unquote(user))
    if colon and password:
        _set_option(options, "password", unquote(password))


def _parse_hosts(text):
    if not text:
        return []
    hosts = []
    for entry in text.split(","):
        entry = entry.strip()
        if not entry:
            raise PyRedisURLError("empty host in host list %r" % text)
        hosts.append(_parse_host(entry))
    return hosts


def _parse_host(entry):
    if entry.startswith("["):  # [IPv6] or [IPv6]:port
        end = entry.find("]")
        if end < 0:
            raise PyRedisURLError("unclosed '[' in host %r" % entry)
        host, after = entry[1:end], entry[end + 1:]
        if not after:
            return host, None
        if not after.startswith(":"):
            raise PyRedisURLError("unexpected %r after ']' in host %r" % (after, entry))
        return host, _parse_port(after[1:], entry)
    if entry.count(":") > 1:
        raise PyRedisURLError("IPv6 address %r must be written in brackets: [addr]:port" % entry)
    host, colon, port = entry.partition(":")
    if not host:
        raise PyRedisURLError("missing host name in %r" % entry)
    if not colon:
        return unquote(host), None
    return unquote(host), _parse_port(port, entry)


def _parse_port(text, entry):
    try:
        port = int(text)
    except ValueError:
        raise PyRedisURLError("invalid port %r in %r" % (text, entry)) from None
    if not 0 < port < 65536:
        raise PyRedisURLError("port %d out of range in %r" % (port, entry))
    return port


def _parse_options(query):
    options = {}
    if not query:
        return options
    for item in query.split("&"):
        if not item:
            continue  # tolerate "a=1&&b=2" and a trailing "&"
        key, eq, value = item.partition("=")
        if not eq:
            raise PyRedisURLError("option %r is not of the form key=value" % item)
        key = unquote(key).strip()
        if not key:
            raise PyRedisURLError("option %r has no name" % item)
        key = _ALIASES.get(key, key)
        _set_option(options, key, _convert(key, unquote(value)))
    return options


def _set_option(options, key, value):
    if key in options:
        raise PyRedisURLError("option %r given more than once" % key)
    options[key] = value


def _convert(key, value):
    try:
        if key in _INT_OPTIONS:
            return int(value)
        if key in _FLOAT_OPTIONS:
            return float(value)
    except ValueError:
        kind = "an integer" if key in _INT_OPTIONS else "a number"
        raise PyRedisURLError("option %s=%r is not %s" % (key, value, kind)) from None
    if key in _BOOL_OPTIONS:
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise PyRedisURLError("option %s=%r is not a boolean (true/false, 1/0, yes/no)"
                              % (key, value))
    if key in _LIST_OPTIONS:
        items = [item.strip() for item in value.split(",")]
        if not all(items):
            raise PyRedisURLError("option %s=%r has an empty item" % (key, value))
        return items
    return value
