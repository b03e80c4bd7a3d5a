# cython: language_level=3, binding=True
"""Builders for command methods: every mixin method is made here, so routing
rules and docstrings live in one place.

Each builder returns a function (a closure over the wire name) to be put in
a mixin class body; the class bodies are the table of commands (method name,
wire words, usual arguments, routing).  ``_build.pyx`` and ``_build_py.py``
are the same source: compiled (``binding=True``: the closures behave as
methods), a command method costs no Python frame.  Keep the two files
identical below the first line.

Routing: classes with ``_cluster = False`` call ``self.execute(wire, *args)``.
Cluster-mode classes (cluster and hash-ring clients and pools) also pass the
key that picks the node: ``shard_key=`` for key commands, or
``shard_key=``/``sock=`` as the caller gave them for commands without a key
(``ping``, ``keys``, ``eval``...).

``usage`` is the usual arguments in Redis' notation (``"key [key ...]"``); the
docstring's first line is the call it suggests (``mget(key, ...)``), then
what is sent and how it is routed in cluster mode.

Free threading: the builders run at import, while the mixin classes are
made; the methods they return only read what their closures captured
(bytes, tuples, ints), so they are safe to call from any number of threads.
Nothing here is mutable after import.
"""

__all__ = ["keyed", "keyed_or_explicit", "explicit", "standalone_only", "subscriber"]

_KEYWORDS = "shard_key=None, sock=None"
_EXPLICIT = ("In cluster mode: sent to the node serving ``shard_key`` (any key) or to node\n"
             "``sock`` (``\"host_port\"``); outside cluster mode both are ignored.")


def _words(usage):
    """The top-level words of ``usage``; a bracketed group (nested ones too) is one word."""
    words = []
    depth = 0
    current = ""
    for char in usage:
        if char == " " and depth == 0:
            if current:
                words.append(current)
            current = ""
            continue
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        current += char
    if current:
        words.append(current)
    return words


def _call(name, usage, keywords):
    """``mget(key, ...)``: the required words, each run of optional ones as ``...``."""
    params = []
    optional = False  # the previous word was optional: its run is one "..."
    for word in _words(usage):
        if not word.startswith("["):
            params.append(word)
            optional = False
        elif not optional:
            params.append("...")
            optional = True
    if keywords:
        params.append(_KEYWORDS)
    return "%s(%s)" % (name, ", ".join(params))


def _key_name(usage, position):
    words = _words(usage)
    if position >= len(words) or words[position].startswith("["):
        raise ValueError("usage %r has no key at argument %d" % (usage, position))
    return words[position]


def _named(function, name, wire, usage, keywords, routing):
    function.__name__ = function.__qualname__ = name
    sent = " ".join([word.decode() for word in wire] + ([usage] if usage else []))
    function.__doc__ = "%s\n\nSends ``%s``.\n\n%s" % (_call(name, usage, keywords), sent, routing)
    return function


def _missing_key(wire, position):
    name = wire.decode()
    if position:
        return IndexError("%s in cluster mode needs at least %d arguments: its key, args[%d], "
                          "picks the node" % (name, position + 1, position))
    return IndexError("%s in cluster mode needs a key as its first argument" % name)


def keyed(name, wire, usage, key_position=0):
    """A command whose ``args[key_position]`` picks the node in cluster mode."""
    wire = bytes(wire)
    routing = ("In cluster mode: routed by ``%s`` (argument %d); IndexError without it."
               % (_key_name(usage, key_position), key_position))

    if key_position == 0:
        def command(self, *args):
            if self._cluster:
                if not args:
                    raise _missing_key(wire, 0)
                return self.execute(wire, *args, shard_key=args[0])
            return self.execute(wire, *args)
    else:
        def command(self, *args):
            if self._cluster:
                if len(args) <= key_position:
                    raise _missing_key(wire, key_position)
                return self.execute(wire, *args, shard_key=args[key_position])
            return self.execute(wire, *args)

    return _named(command, name, (wire,), usage, False, routing)


def keyed_or_explicit(name, wire, usage, key_position):
    """A command routed by ``args[key_position]`` in cluster mode, unless the
    caller gives ``shard_key=`` or ``sock=`` (upstream's keywords for it)."""
    wire = bytes(wire)
    routing = ("In cluster mode: routed by ``%s`` (argument %d), or by ``shard_key``/``sock``\n"
               "when given; outside cluster mode both are ignored."
               % (_key_name(usage, key_position), key_position))

    def command(self, *args, shard_key=None, sock=None):
        if self._cluster:
            if shard_key is None and sock is None:
                if len(args) <= key_position:
                    raise _missing_key(wire, key_position)
                return self.execute(wire, *args, shard_key=args[key_position])
            return self.execute(wire, *args, shard_key=shard_key, sock=sock)
        return self.execute(wire, *args)

    return _named(command, name, (wire,), usage, True, routing)


def explicit(name, wire, usage="", arguments=True):
    """A command with no key: in cluster mode the caller says where it goes
    (``shard_key=`` a key of that node, or ``sock=`` a ``"host_port"`` node name).

    ``wire`` may be several words (``b"SCRIPT LOAD"``).  ``arguments=False``:
    the method takes only the routing keywords, which may then be given by
    position (``ping(shard_key=None, sock=None)``, as upstream)."""
    wire = tuple(bytes(wire).split())

    if arguments:
        def command(self, *args, shard_key=None, sock=None):
            if self._cluster:
                return self.execute(*wire, *args, shard_key=shard_key, sock=sock)
            return self.execute(*wire, *args)
    else:
        def command(self, shard_key=None, sock=None):
            if self._cluster:
                return self.execute(*wire, shard_key=shard_key, sock=sock)
            return self.execute(*wire)

    return _named(command, name, wire, usage, True, _EXPLICIT)


def standalone_only(name, wire, usage):
    """A command that cannot be routed by one key (PUBLISH, MIGRATE):
    ``NotImplementedError`` in cluster mode, as upstream."""
    wire = bytes(wire)

    def command(self, *args):
        if self._cluster:
            raise NotImplementedError("%s is not supported in cluster mode" % wire.decode())
        return self.execute(wire, *args)

    return _named(command, name, (wire,), usage, False,
                  "Not in cluster mode: raises NotImplementedError there.")


def subscriber(name, wire, usage):
    """A subscriber-mode command: written only; confirmations arrive through ``get()``."""
    wire = bytes(wire)

    def command(self, *args):
        return self.write(wire, *args)

    return _named(command, name, (wire,), usage, False,
                  "No reply is read here: the confirmations, then the messages, come from\n"
                  "``get()``.")
