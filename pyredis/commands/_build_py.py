"""Builders for command methods: every mixin method is made here, so routing
rules live in one place.

Each builder returns a function (a closure over the wire name) to be put in
a mixin class body.  ``_build.pyx`` and ``_build_py.py`` are the same source:
compiled (``binding=True``: the closures behave as methods), a command method
costs no Python frame.  Keep the two files identical below the first line.

Routing (API.md section 7): classes with ``_cluster = False`` call
``self.execute(wire, *args)``.  Cluster-mode classes (cluster and hash-ring
clients and pools) also pass the key that picks the node: ``shard_key=`` for
key commands, or ``shard_key=``/``sock=`` as the caller gave them for commands
without a key (``ping``, ``keys``, ``eval``...).
"""

__all__ = ["keyed", "explicit", "standalone_only", "subscriber"]


def _named(function, name, doc):
    function.__name__ = function.__qualname__ = name
    function.__doc__ = doc
    return function


def _missing_key(wire, position):
    name = wire.decode()
    if position:
        return IndexError("%s in cluster mode needs at least %d arguments: its key, args[%d], "
                          "picks the node" % (name, position + 1, position))
    return IndexError("%s in cluster mode needs a key as its first argument" % name)


def keyed(name, wire, key_position=0, doc=None):
    """A command whose ``args[key_position]`` picks the node in cluster mode."""
    wire = bytes(wire)

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

    return _named(command, name, doc or "Redis %s; in cluster mode routed by argument %d."
                  % (wire.decode(), key_position))


def explicit(name, *wire, doc=None):
    """A command with no key: in cluster mode the caller says where it goes
    (``shard_key=`` a key of that node, or ``sock=`` a ``"host_port"`` node name).

    ``wire`` may be several words (``b"SCRIPT", b"LOAD"``)."""
    wire = tuple(bytes(word) for word in wire)

    def command(self, *args, shard_key=None, sock=None):
        if self._cluster:
            return self.execute(*wire, *args, shard_key=shard_key, sock=sock)
        return self.execute(*wire, *args)

    return _named(command, name, doc or "Redis %s; in cluster mode sent where shard_key/sock say."
                  % b" ".join(wire).decode())


def standalone_only(name, wire, doc=None):
    """A command that cannot be routed by one key (PUBLISH, MIGRATE):
    ``NotImplementedError`` in cluster mode, as upstream."""
    wire = bytes(wire)

    def command(self, *args):
        if self._cluster:
            raise NotImplementedError("%s is not supported in cluster mode" % wire.decode())
        return self.execute(wire, *args)

    return _named(command, name, doc or "Redis %s (not in cluster mode)." % wire.decode())


def subscriber(name, wire, doc=None):
    """A subscriber-mode command: written only; confirmations arrive through ``get()``."""
    wire = bytes(wire)

    def command(self, *args):
        return self.write(wire, *args)

    return _named(command, name, doc or "Send %s; read the confirmations with get()."
                  % wire.decode())
