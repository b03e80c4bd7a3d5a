"""Lua scripting commands; in cluster mode the caller picks the node."""
from pyredis.commands._methods import explicit
from pyredis.commands.base import BaseCommand

__all__ = ["Scripting"]


class Scripting(BaseCommand):
    eval = explicit("eval", b"EVAL", "script numkeys [key ...] [arg ...]")
    evalsha = explicit("evalsha", b"EVALSHA", "sha1 numkeys [key ...] [arg ...]")
    script_debug = explicit("script_debug", b"SCRIPT DEBUG", "YES|SYNC|NO")
    script_exists = explicit("script_exists", b"SCRIPT EXISTS", "sha1 [sha1 ...]")
    script_flush = explicit("script_flush", b"SCRIPT FLUSH", "[ASYNC|SYNC]")
    script_kill = explicit("script_kill", b"SCRIPT KILL")
    script_load = explicit("script_load", b"SCRIPT LOAD", "script")
