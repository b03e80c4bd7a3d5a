"""Lua scripting commands; in cluster mode the caller picks the node."""
from pyredis.commands._methods import explicit

__all__ = ["Scripting"]


class Scripting:
    eval = explicit("eval", b"EVAL")
    evalsha = explicit("evalsha", b"EVALSHA")
    script_debug = explicit("script_debug", b"SCRIPT", b"DEBUG")
    script_exists = explicit("script_exists", b"SCRIPT", b"EXISTS")
    script_flush = explicit("script_flush", b"SCRIPT", b"FLUSH")
    script_kill = explicit("script_kill", b"SCRIPT", b"KILL")
    script_load = explicit("script_load", b"SCRIPT", b"LOAD")
