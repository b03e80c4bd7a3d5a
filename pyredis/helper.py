"""Cluster helpers: pairs to dict, hash tags, hash slots (API.md section 4).

``tag_from_key`` follows the Redis Cluster specification (and the server's
``keyHashSlot``), fixing upstream: the tag is what stands between the first
``{`` and the first ``}`` *after it*, when that is at least one byte; otherwise
the whole key is hashed.  Upstream paired the first ``{`` with the first ``}``
anywhere and returned ``b""`` for an empty or reversed pair, so ``{}abc``
(server: the whole key) and ``}{x}`` (server: ``x``) went to slot 0.
"""
from binascii import crc_hqx

from pyredis.protocol import to_bytes

__all__ = ["dict_from_list", "tag_from_key", "slot_from_key"]

SLOTS = 16384


def dict_from_list(items):
    """``[k1, v1, k2, v2, ...]`` (as HGETALL/CONFIG GET reply) -> ``{k1: v1, k2: v2}``.

    A trailing unpaired item is ignored; a repeated key keeps its last value."""
    it = iter(items)
    return dict(zip(it, it))


def tag_from_key(key):
    """The part of ``key`` that picks its slot (bytes).

    Takes every key type the command writer sends: str, bytes, int, float and
    also bytearray / memoryview (which ``to_bytes`` refuses, as upstream's)."""
    if not isinstance(key, bytes):
        key = bytes(key) if isinstance(key, (bytearray, memoryview)) else to_bytes(key)
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            return key[start + 1:end]
    return key


def slot_from_key(key):
    """The cluster hash slot of ``key``: CRC16 (XMODEM) of its tag, mod 16384."""
    return crc_hqx(tag_from_key(key), 0) % SLOTS
