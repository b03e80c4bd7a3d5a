"""Which commands may share an asyncio connection with other tasks' commands.

An asyncio connection pipelines: the commands of many tasks go out together
and their replies come back in order.  That is sound for ordinary commands
(one request, one reply, no state left on the connection).  Two kinds are not:

* BLOCKING: the server holds the reply back (BLPOP, XREAD BLOCK, WAIT...), and
  every reply queued behind it waits as long.  An asyncio pool runs them on a
  connection of its own (a lease) and gives it back afterwards.  Cancelling one
  closes its connection: left open, the server would still pop the element (or
  the stream entry) for a caller who is gone.
* STATEFUL: the command changes what the connection is (MULTI/EXEC, WATCH,
  SUBSCRIBE, SELECT, AUTH, HELLO, CLIENT REPLY...).  A pool runs it on a
  connection of its own and then closes that connection, whose state no
  longer matches the pool's settings; keep such state with ``pool.lease()``.

A command not listed here (a module's command, say) is taken for an ordinary
one and shared.  A module command that blocks or changes the connection's
state belongs on a leased client (``async with pool.lease() as client``).
"""

__all__ = ["ORDINARY", "BLOCKING", "STATEFUL", "command_kind", "KIND_CACHE"]

ORDINARY, BLOCKING, STATEFUL = 0, 1, 2

_BLOCKING = {
    b"BLPOP", b"BRPOP", b"BRPOPLPUSH", b"BLMOVE", b"BLMPOP", b"BZPOPMIN", b"BZPOPMAX",
    b"BZMPOP", b"WAIT", b"WAITAOF",
}
_STATEFUL = {
    b"MULTI", b"EXEC", b"DISCARD", b"WATCH", b"UNWATCH",
    b"SUBSCRIBE", b"PSUBSCRIBE", b"SSUBSCRIBE", b"UNSUBSCRIBE", b"PUNSUBSCRIBE",
    b"SUNSUBSCRIBE", b"MONITOR", b"SYNC", b"PSYNC",
    b"SELECT", b"AUTH", b"HELLO", b"RESET", b"QUIT", b"READONLY", b"READWRITE",
}
# Blocking only with a BLOCK argument.
_BLOCK_OPTION = {b"XREAD", b"XREADGROUP"}
# CLIENT subcommands that change the connection (CLIENT LIST, ID... are ordinary).
_CLIENT_STATEFUL = {
    b"REPLY", b"SETNAME", b"SETINFO", b"TRACKING", b"CACHING", b"NO-EVICT", b"NO-TOUCH",
}

# A marker in the cache: the kind depends on the arguments.
_BY_ARGS = -1

# The command name exactly as callers pass it (b"GET" from the command
# methods, "get" from a user's execute) -> its kind, or _BY_ARGS.  The
# compiled protocol looks names up here first: one dict lookup per command.
KIND_CACHE = {}
_CACHE_LIMIT = 4096  # names are few; a caller inventing new ones is not cached


def _word(value):
    if isinstance(value, str):
        return value.upper().encode("utf-8", "replace")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).upper()
    return None


def _kind_of_name(name):
    if name in _BLOCKING:
        return BLOCKING
    if name in _STATEFUL:
        return STATEFUL
    if name in _BLOCK_OPTION or name == b"CLIENT":
        return _BY_ARGS
    return ORDINARY


def command_kind(args):
    """ORDINARY, BLOCKING or STATEFUL for the command ``args`` (name first)."""
    if not args:
        return ORDINARY
    first = args[0]
    try:
        kind = KIND_CACHE.get(first)
    except TypeError:  # unhashable (a bytearray): classified, not cached
        kind = None
    if kind is None:
        name = _word(first)
        kind = ORDINARY if name is None else _kind_of_name(name)
        if len(KIND_CACHE) < _CACHE_LIMIT and not isinstance(first, (bytearray, memoryview)):
            KIND_CACHE[first] = kind
    if kind != _BY_ARGS:
        return kind
    name = _word(first)
    if name == b"CLIENT":
        return STATEFUL if len(args) > 1 and _word(args[1]) in _CLIENT_STATEFUL else ORDINARY
    for arg in args[1:]:  # XREAD / XREADGROUP
        if _word(arg) == b"BLOCK":
            return BLOCKING
    return ORDINARY
