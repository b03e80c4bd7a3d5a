"""PUBLISH (standalone and Sentinel only: a channel is not a key)."""
from pyredis.commands._methods import standalone_only

__all__ = ["Publish"]


class Publish:
    publish = standalone_only("publish", b"PUBLISH")
