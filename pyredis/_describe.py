"""What ``repr()`` of a connection, client or pool shows: the class, where it
connects (``host:port``, ``unix:<path>``, buckets, seeds or sentinels) and
the database; never a password.  One place for every class, sync and asyncio.
"""

__all__ = ["describe", "endpoint", "endpoints", "database"]


def endpoint(host, port, unix_sock=None):
    """``host:port`` (``[host]:port`` for IPv6), or ``unix:<path>``."""
    if unix_sock:
        return "unix:%s" % (unix_sock,)
    if isinstance(host, bytes):
        host = host.decode("utf-8", "replace")
    if ":" in str(host):
        return "[%s]:%s" % (host, port)
    return "%s:%s" % (host, port)


def endpoints(targets):
    """Comma-joined endpoints of ``(host, port)`` pairs and unix socket paths."""
    return ",".join(endpoint(None, None, t) if isinstance(t, str) else endpoint(*t)
                    for t in targets)


def database(number):
    """``db=N`` (None is database 0, where a new connection starts)."""
    return "db=%s" % (number or 0,)


def describe(obj, *parts):
    """``<ClassName part part ...>``, empty parts left out."""
    return "<%s>" % " ".join([type(obj).__name__] + [str(part) for part in parts if part])


def connection_client_repr(client):
    """``repr()`` of a client over one connection (``_conn``): Client,
    PubSubClient and their asyncio twins."""
    conn = getattr(client, "_conn", None)
    if conn is None:  # not constructed (a failed __init__)
        return describe(client)
    return describe(client, conn._describe())
