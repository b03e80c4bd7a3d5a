"""get_by_url(): build a pool or client from a URL.

    redis://[user[:password]@]host[:port][/db][?options]      Pool
    rediss://...                                              Pool over TLS
    unix://[user[:password]@]/path/to/redis.sock[?options]    Pool on a unix socket
    pubsub://[user[:password]@]host[:port][?options]          PubSubClient
    cluster://host:port,host:port[?options]                   ClusterPool
    sentinel://host:port,host:port?name=mymaster[&...]        SentinelPool
    sentinel://host:port,...?buckets=m1,m2[&...]              SentinelHashPool

``redis://``, ``rediss://`` and ``pubsub://`` use the first host of a list
and ignore the others, as pyredis 1.0 does (cluster:// and sentinel:// are
the schemes for several hosts).

User name and password are percent-decoded; the user-info part ends at the
last ``@`` before the first ``/`` or ``?``, so ``@`` and ``:`` may appear raw
in a password but ``/`` and ``?`` must be percent-encoded (``%2F``, ``%3F``).
A user name without a password authenticates as that user
(``AUTH <user> ""``).  On a ``unix://`` url an ``@`` after the first ``/``
belongs to the socket path (``unix:///run/a@b.sock``); a relative path
cannot hold a raw ``@``.  Hosts and ports are never options.

Options are ``key=value`` pairs joined by ``&``; values are percent-decoded.
Typed options:

* integers - ``database`` (alias ``db``), ``pool_size``, ``retries``, and the
  port and the ``/db`` path: ASCII digits only (no sign, space, ``_`` or
  other scripts' digits);
* seconds - ``conn_timeout``, ``read_timeout``, ``pool_timeout``,
  ``max_idle_time``, ``refresh_timeout``: a decimal number in ASCII (``2``,
  ``0.5``, ``1e-3``);
* booleans - ``slave_ok``, ``ssl``, ``read_only``, ``sentinel``: ``true`` /
  ``false``, ``1`` / ``0``, ``yes`` / ``no``, ``on`` / ``off``, in any case;
  anything else is an error;
* lists - ``buckets``: comma separated.

``rediss://`` means ``ssl=true`` (``ssl=false`` there is an error) and also
takes ``ssl_ca_certs`` (a CA bundle file).  Any other option is passed on as
a string; the class decides whether it is valid, and checks every setting at
construction (see pyredis/connection/settings.py).  Every problem is
reported as ``PyRedisURLError``.

No error text shows the user name or password: where the url is malformed in
a way that may have moved part of them elsewhere (an ``@`` after the first
``/`` or ``?``), or the query holds a ``password`` / ``sentinel_password``
option (a raw ``&`` would split it), the message says what is wrong without
quoting the url, and it is not chained to the constructor's error.

Where this differs from pyredis 1.0: user info, ``rediss://``, ``unix://``
and ``ssl`` are new; values are percent-decoded; ``db=`` works; ``buckets``
becomes a list; booleans take the spellings above and reject others
(upstream: ``slave_ok`` was True for ``true`` / ``True`` only, anything else
False, and ``read_only`` / ``sentinel`` stayed strings, so ``false`` was
true); integers take ASCII digits only (upstream's ``int()`` also took
``81_54``, spaces and other scripts' digits); hosts without a port are
rejected where a port is needed; no error shows user info; conversion errors
are wrapped (upstream let ValueError through) and messages formatted.
"""
import importlib
import re
from urllib.parse import unquote

from pyredis.exceptions import PyRedisError, PyRedisURLError

__all__ = ["get_by_url"]

DEFAULT_PORT = 6379

_INT_OPTIONS = frozenset(("database", "pool_size", "retries"))
_FLOAT_OPTIONS = frozenset(("conn_timeout", "read_timeout", "pool_timeout", "max_idle_time",
                            "refresh_timeout"))
_BOOL_OPTIONS = frozenset(("slave_ok", "ssl", "read_only", "sentinel"))
_LIST_OPTIONS = frozenset(("buckets",))
_SECRET_OPTIONS = frozenset(("password", "sentinel_password"))
_ALIASES = {"db": "database"}
_TRUE = frozenset(("true", "1", "yes", "on"))
_FALSE = frozenset(("false", "0", "no", "off"))
_DIGITS = re.compile(r"[0-9]+\Z")
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*\Z")
_HIDDEN = "(not shown)"
_WHY_HIDDEN = (" [parts of the url are not shown: it may hold a password there; "
               "percent-encode '/', '?' and '&' in user names and passwords]")

# scheme -> (sync class, async class), each as "module:Class"; imported on
# demand (a sync url never imports asyncio).
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
_ONE_HOST = frozenset(("redis", "rediss", "pubsub"))


class _Bad(Exception):
    """A problem with the url: ``template`` with one ``{}`` per piece of the
    url it quotes (``texts``, already rendered), which may be hidden."""

    def __init__(self, template, *texts, cause=None):
        self.template = template
        self.texts = texts
        self.cause = cause

    def shown(self):
        return self.template.format(*self.texts)

    def hidden(self):
        return self.template.format(*[_HIDDEN] * len(self.texts)) + _WHY_HIDDEN


def get_by_url(url, async_client=False):
    """Return the pool or client that ``url`` describes (see the module docstring:
    the schemes, the typed options and their accepted spellings, and the rules
    for user names and passwords)."""
    if not isinstance(url, str):
        raise PyRedisURLError("url must be a str, not %s" % type(url).__name__)
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise PyRedisURLError("invalid url: expected <scheme>://...")
    scheme = scheme.lower()
    if scheme not in _CLASSES:
        if _SCHEME.match(scheme):
            raise PyRedisURLError("invalid schema: %s" % scheme)
        raise PyRedisURLError("invalid url: %s is not a scheme name" % _HIDDEN)
    userinfo, rest = _take_userinfo(rest)
    location, _, query = rest.partition("?")
    # Any "@" left may be part of a password whose "/" or "?" was not encoded.
    hide = "@" in rest or _names_a_secret(query)
    try:
        return _parse(scheme, userinfo, location, query, async_client)
    except _Bad as bad:
        if hide:  # not chained either: the cause's text may quote the url
            raise PyRedisURLError(bad.hidden()) from None
        raise PyRedisURLError(bad.shown()) from bad.cause


def _parse(scheme, userinfo, location, query, async_client):
    options = _parse_options(query)
    for key in ("host", "port"):
        if key in options:
            raise _Bad("option %s: give the host and port before the path, not as options"
                       % key)
    _apply_userinfo(userinfo, options)
    if scheme == "unix":
        return _unix(location, options, async_client)
    location, path = _split_path(location)
    if "@" in path:
        raise _Bad("invalid url: '@' after the host")
    hosts = _parse_hosts(location)
    if path:
        if scheme not in _ONE_HOST:
            raise _Bad("%s:// urls take no path (got {})" % scheme, repr("/" + path))
        _set_option(options, "database", _convert("database", path))
    if scheme in _ONE_HOST:
        return _single(scheme, hosts, options, async_client)
    return _multi(scheme, hosts, options, async_client)


# -- per scheme -------------------------------------------------------------
def _single(scheme, hosts, options, async_client):
    kwargs = dict(options)
    if hosts:
        host, port = hosts[0]  # the others are ignored, as upstream
        kwargs["host"] = host
        kwargs["port"] = DEFAULT_PORT if port is None else port
    elif "unix_sock" not in kwargs:
        raise _Bad("%s:// url needs a host (or the unix_sock option)" % scheme)
    _tls_options(scheme, kwargs)
    return _build(scheme, async_client, kwargs)


def _unix(location, options, async_client):
    if not location:
        raise _Bad("unix:// url needs a socket path, e.g. unix:///run/redis.sock")
    if "@" in location and not location.startswith("/"):
        raise _Bad("invalid url: a relative socket path cannot hold '@' "
                   "(use unix:///absolute/path or percent-encode it as %40)")
    if "unix_sock" in options:
        raise _Bad("unix:// url gives the socket path; do not repeat it as unix_sock")
    kwargs = dict(options)
    kwargs["unix_sock"] = unquote(location)
    _tls_options("unix", kwargs)
    return _build("unix", async_client, kwargs)


def _multi(scheme, hosts, options, async_client):
    if not hosts:
        raise _Bad("%s:// url needs at least one host:port" % scheme)
    missing = [repr(host) for host, port in hosts if port is None]
    if missing:
        raise _Bad("%s:// needs a port for every host; missing for {}" % scheme,
                   ", ".join(missing))
    kwargs = dict(options)
    _tls_options(scheme, kwargs)
    if scheme == "cluster":
        kwargs["seeds"] = hosts
        return _build("cluster", async_client, kwargs)
    kwargs["sentinels"] = hosts
    return _build("sentinel+buckets" if "buckets" in kwargs else "sentinel", async_client, kwargs)


def _tls_options(scheme, kwargs):
    cafile = kwargs.pop("ssl_ca_certs", None)
    if scheme != "rediss":
        if cafile is not None:
            raise _Bad("ssl_ca_certs needs a rediss:// url")
        return
    if kwargs.get("ssl") is False:
        raise _Bad("rediss:// always uses TLS: ssl=false contradicts it")
    if cafile is None:
        kwargs["ssl"] = True
        return
    import ssl

    try:
        kwargs["ssl_context"] = ssl.create_default_context(cafile=cafile)
    except (OSError, ValueError) as exc:
        raise _Bad("cannot load ssl_ca_certs {}: {}", repr(cafile), str(exc), cause=exc) from None


def _build(kind, async_client, kwargs):
    module_name, _, class_name = _CLASSES[kind][1 if async_client else 0].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise _Bad("unexpected or missing options specified: {}", str(exc), cause=exc) from None
    except (ValueError, PyRedisError) as exc:
        raise _Bad("invalid options for %s: {}" % cls.__name__, str(exc), cause=exc) from None


# -- pieces of the url ---------------------------------------------------------
def _take_userinfo(rest):
    """``(userinfo or None, the rest)``: the user info ends at the last "@"
    before the first "/" or "?"."""
    cut = len(rest)
    for delimiter in "/?":
        found = rest.find(delimiter, 0, cut)
        if found >= 0:
            cut = found
    at = rest.rfind("@", 0, cut)
    if at < 0:
        return None, rest
    return rest[:at], rest[at + 1:]


def _names_a_secret(query):
    """True if the query has a password option (a raw "&" in it would split it,
    and the pieces would look like other options)."""
    return any(unquote(item.partition("=")[0]).strip() in _SECRET_OPTIONS
               for item in query.split("&"))


def _split_path(location):
    # The path starts at the first "/" after the host list ("[...]" may not hold one).
    host_list, _, path = location.partition("/")
    return host_list, path


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
            raise _Bad("empty host in host list {}", repr(text))
        hosts.append(_parse_host(entry))
    return hosts


def _parse_host(entry):
    if entry.startswith("["):  # [IPv6] or [IPv6]:port
        end = entry.find("]")
        if end < 0:
            raise _Bad("unclosed '[' in host {}", repr(entry))
        host, after = entry[1:end], entry[end + 1:]
        if not after:
            return host, None
        if not after.startswith(":"):
            raise _Bad("unexpected {} after ']' in host {}", repr(after), repr(entry))
        return host, _parse_port(after[1:], entry)
    if entry.count(":") > 1:
        raise _Bad("IPv6 address {} must be written in brackets: [addr]:port", repr(entry))
    host, colon, port = entry.partition(":")
    if not host:
        raise _Bad("missing host name in {}", repr(entry))
    if not colon:
        return unquote(host), None
    return unquote(host), _parse_port(port, entry)


def _parse_port(text, entry):
    if not _DIGITS.match(text):
        raise _Bad("invalid port {} in {} (ASCII digits only)", repr(text), repr(entry))
    port = int(text)
    if not 0 < port < 65536:
        raise _Bad("port %d out of range (1-65535) in {}" % port, repr(entry))
    return port


def _parse_options(query):
    options = {}
    for item in query.split("&"):
        if not item:
            continue  # tolerate "a=1&&b=2" and a trailing "&"
        key, eq, value = item.partition("=")
        if not eq:
            raise _Bad("option {} is not of the form key=value", repr(item))
        key = unquote(key).strip()
        if not key:
            raise _Bad("option {} has no name", repr(item))
        key = _ALIASES.get(key, key)
        _set_option(options, key, _convert(key, unquote(value)))
    return options


def _set_option(options, key, value):
    if key in options:
        raise _Bad("option {} given more than once", repr(key))
    options[key] = value


def _convert(key, value):
    if key in _INT_OPTIONS:
        if not _DIGITS.match(value):
            raise _Bad("option %s={} is not an integer (ASCII digits only)" % key, repr(value))
        return int(value)
    if key in _FLOAT_OPTIONS:
        if not _DECIMAL.match(value):
            raise _Bad("option %s={} is not a number (decimal, ASCII digits)" % key, repr(value))
        return float(value)
    if key in _BOOL_OPTIONS:
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise _Bad("option %s={} is not a boolean (true/false, 1/0, yes/no, on/off)" % key,
                   repr(value))
    if key in _LIST_OPTIONS:
        items = [item.strip() for item in value.split(",")]
        if not all(items):
            raise _Bad("option %s={} has an empty item" % key, repr(value))
        return items
    return value
