"""pyredis.helper: dict_from_list, hash tags and slots (Redis Cluster spec).

Slots are checked three ways: known values (the spec's CRC16 check value,
upstream's documented example), a literal reading of the spec written here,
and the server itself (``CLUSTER KEYSLOT`` on a cluster-enabled redis-server,
which answers it without any slot assigned).
"""
import binascii

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyredis import Client
from pyredis.helper import dict_from_list, ring_slot_from_key, slot_from_key, tag_from_key
from servers import RedisServer

# Keys around the tag rule's edges, with the tag the spec gives each.
SPEC_TAGS = [
    ("blarg{testtag}x", b"testtag"),
    ("blarg{{testtag}sd}f", b"{testtag"),
    ("{user1000}.following", b"user1000"),
    ("foo{{bar}}zap", b"{bar"),
    ("foo{bar}{zap}", b"bar"),
    ("foo{}{bar}", b"foo{}{bar}"),  # first { meets } at once: whole key
    # fixed from upstream (which returned b"" for these two and used slot 0):
    ("{}abc", b"{}abc"),
    ("}{x}", b"x"),                  # the first { has a } after it
    # no tag
    ("}{", b"}{"),
    ("{abc", b"{abc"),
    ("ab}c", b"ab}c"),
    ("", b""),
    ("plain", b"plain"),
]
KEY_BYTES = st.binary(max_size=30) | st.text(alphabet="ab{}", max_size=12).map(str.encode)


def test_dict_from_list():
    assert dict_from_list([b"a", 1, b"b", 2]) == {b"a": 1, b"b": 2}
    assert dict_from_list([]) == {}
    assert dict_from_list(iter(["k", "v"])) == {"k": "v"}
    assert dict_from_list(["k", 1, "k", 2, "odd"]) == {"k": 2}


def test_dict_from_list_is_reexported_where_upstream_has_it():
    import pyredis.client
    import pyredis.helper
    assert pyredis.client.dict_from_list is dict_from_list
    assert pyredis.helper.__all__ == ["dict_from_list", "tag_from_key", "slot_from_key", "ClusterMap"]


@pytest.mark.parametrize("key, tag", SPEC_TAGS)
def test_tags(key, tag):
    assert tag_from_key(key) == tag
    assert tag_from_key(key.encode()) == tag


def test_tag_of_non_text_keys():
    assert tag_from_key(12345) == b"12345"
    assert tag_from_key(bytearray(b"a{b}c")) == b"b"  # bytes-like, as the writer takes
    assert tag_from_key(memoryview(b"{m}x")) == b"m"
    assert slot_from_key(bytearray(b"blarg")) == 5534
    with pytest.raises(ValueError):
        tag_from_key(None)
    assert tag_from_key("{é}x") == "é".encode()


def test_slots_known_values():
    assert slot_from_key("blarg") == 5534                     # upstream's documented example
    assert slot_from_key("123456789") == 0x31C3 % 16384      # the CRC16/XMODEM check value
    assert slot_from_key("") == 0
    assert slot_from_key("}{x}") == slot_from_key("x")
    assert slot_from_key("{}abc") != 0                        # upstream: slot 0
    assert slot_from_key("{user1000}.following") == slot_from_key("{user1000}.followers")


def reference_tag(key):
    """The spec's rule, read literally, one byte at a time: find the first {;
    then the first } to its right; a tag needs one or more bytes between."""
    for i, byte in enumerate(key):
        if byte == ord("{"):
            for j in range(i + 1, len(key)):
                if key[j] == ord("}"):
                    return key[i + 1:j] if j > i + 1 else key
            return key
    return key


def reference_crc16(data):
    """CRC-16/XMODEM bit by bit (polynomial 0x1021, initial 0), as in the spec's appendix."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


@given(KEY_BYTES)
def test_tag_and_slot_match_the_spec(key):
    assert tag_from_key(key) == reference_tag(key)
    assert slot_from_key(key) == reference_crc16(reference_tag(key)) % 16384


@pytest.fixture(scope="module")
def cluster_node():
    """A cluster-enabled redis-server (no slots assigned: CLUSTER KEYSLOT still answers)."""
    with RedisServer(unix=False, extra=["--cluster-enabled", "yes"]) as server:
        with Client(host=server.host, port=server.port) as client:
            yield client


def server_slot(node, key):
    return node.execute(b"CLUSTER", b"KEYSLOT", key)


@pytest.mark.parametrize("key, tag", SPEC_TAGS)
def test_slots_agree_with_the_server(cluster_node, key, tag):
    assert slot_from_key(key) == server_slot(cluster_node, key)


@settings(max_examples=200, deadline=None)
@given(key=KEY_BYTES)
def test_slots_agree_with_the_server_property(cluster_node, key):
    assert slot_from_key(key) == server_slot(cluster_node, key)


# -- the hash ring keeps pyredis 1.0's rule (its data must stay where 1.0 put it) --------
@pytest.mark.parametrize("key, tag", [
    # upstream's examples of tag_from_key (docs/design/contract.md, "Cluster helpers")
    ("blarg{testtag}x", b"testtag"),
    ("blarg{{testtag}sd}f", b"{testtag"),
    ("{abc", b"{abc"),
    ("ab}c", b"ab}c"),
    ("{}abc", b""),
    ("}{x}", b""),
    ("blarg", b"blarg"),
    (b"by{tes}", b"tes"),
])
def test_ring_slot_uses_upstreams_tag_rule(key, tag):
    assert ring_slot_from_key(key) == binascii.crc_hqx(tag, 0) % 16384


def test_ring_and_cluster_slots_differ_only_for_empty_or_reversed_tags():
    assert ring_slot_from_key("blarg") == slot_from_key("blarg") == 5534
    assert ring_slot_from_key("a{b}c") == slot_from_key("a{b}c")
    assert ring_slot_from_key("{}abc") == 0 != slot_from_key("{}abc")
