"""Subscriber-mode commands (PubSubClient): written only, never read here."""
from pyredis._describe import connection_client_repr
from pyredis.commands._methods import subscriber

__all__ = ["Subscribe"]


class Subscribe:
    def write(self, *args):
        raise NotImplementedError("subscriber classes implement write()")

    __repr__ = connection_client_repr  # PubSubClient, AsyncPubSubClient

    psubscribe = subscriber("psubscribe", b"PSUBSCRIBE", "pattern [pattern ...]")
    punsubscribe = subscriber("punsubscribe", b"PUNSUBSCRIBE", "[pattern ...]")
    subscribe = subscriber("subscribe", b"SUBSCRIBE", "channel [channel ...]")
    unsubscribe = subscriber("unsubscribe", b"UNSUBSCRIBE", "[channel ...]")
