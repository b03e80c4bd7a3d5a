"""pyredis.helper: dict_from_list, hash tags and slots (Redis Cluster spec)."""
from hypothesis import given
from hypothesis import strategies as st

from pyredis.helper import dict_from_list, slot_from_key, tag_from_key


def test_dict_from_list():
    assert dict_from_list([b"a", 1, b"b", 2]) == {b"a": 1, b"b": 2}
    assert dict_from_list([]) == {}


def test_dict_from_list_is_reexported_where_upstream_has_it():
    import pyredis.client
    assert pyredis.client.dict_from_list is dict_from_list


def test_tags_from_the_spec_and_upstream():
    assert tag_from_key("blarg{testtag}x") == b"testtag"
    assert tag_from_key("blarg{{testtag}sd}f") == b"{testtag"
    assert tag_from_key("{user1000}.following") == b"user1000"
    assert tag_from_key("foo{}{bar}") == b"foo{}{bar}"       # empty first tag: whole key
    assert tag_from_key("foo{{bar}}zap") == b"{bar"
    assert tag_from_key("foo{bar}{zap}") == b"bar"


def test_tags_fixed_from_upstream():
    assert tag_from_key("{}abc") == b"{}abc"
    assert tag_from_key("}{x}") == b"x"     # the first { has a } after it
    assert tag_from_key("}{") == b"}{"
    assert tag_from_key("{abc") == b"{abc" and tag_from_key("ab}c") == b"ab}c"


def test_slots():
    assert slot_from_key("blarg") == 5534
    assert slot_from_key("123456789") == 0x31C3 % 16384     # the CRC16 check value
    assert slot_from_key("{user1000}.following") == slot_from_key("{user1000}.followers")
    assert slot_from_key(b"\xff\x00") == slot_from_key(bytes([255, 0]))
    assert 0 <= slot_from_key(12345) < 16384


def reference_tag(key):
    """The spec's rule, read literally, one byte at a time."""
    for i, byte in enumerate(key):
        if byte == ord("{"):
            for j in range(i + 1, len(key)):
                if key[j] == ord("}"):
                    return key[i + 1:j] if j > i + 1 else key
            return key
    return key


@given(st.binary(max_size=30) | st.text(alphabet="ab{}", max_size=12).map(str.encode))
def test_tag_matches_the_spec(key):
    assert tag_from_key(key) == reference_tag(key)
