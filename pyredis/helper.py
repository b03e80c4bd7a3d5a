"""Cluster helpers: pairs to dict, hash tags, hash slots (API.md section 4).

``tag_from_key`` follows the Redis Cluster specification, fixing upstream:
only a ``{`` followed later by a ``}`` with at least one byte between them
makes a tag (the first ``{`` and the first ``}`` after it); ``{}abc`` and
``}{x}``-style keys without such a pair hash as a whole key, as the server
does (upstream returned ``b""`` for them and sent them to the wrong slot).
"""
from binascii import crc_hqx

from pyredis.protocol import to_bytes

__all__ = ["dict_from_list", "tag_from_key", "slot_from_key"]

SLOTS = 16384


def dict_from_list(items):
    """``[k1, v1, k2, v2, ...]`` (as HGETALL/CONFIG GET reply) -> ``{k1: v1, k2: v2}``."""
    it = iter(items)
    return dict(zip(it, it))


def tag_from_key(key):
    """The part of ``key`` that picks its slot (bytes)."""
    key = to_bytes(key)
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            return key[start + 1:end]
    return key


def slot_from_key(key):
    """The cluster hash slot of ``key``: CRC16 (XMODEM) of its tag, mod 16384."""
    return crc_hqx(tag_from_key(key), 0) % SLOTS
