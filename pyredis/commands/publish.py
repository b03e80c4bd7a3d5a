"""PUBLISH (standalone and Sentinel only: a channel is not a key)."""
from pyredis.commands._methods import standalone_only
from pyredis.commands.base import BaseCommand

__all__ = ["Publish"]


class Publish(BaseCommand):
    publish = standalone_only("publish", b"PUBLISH", "channel message")
