"""Command methods are named after the mixin that holds them, not after the
builder module that made them (help(), pickle and mkdocstrings rely on it)."""
import pickle

import pytest

from pyredis import commands

MIXINS = [getattr(commands, name) for name in commands.__all__ if name != "BaseCommand"]


@pytest.mark.parametrize("mixin", MIXINS, ids=lambda m: m.__name__)
def test_every_command_method_names_its_mixin(mixin):
    methods = {name: value for name, value in vars(mixin).items()
               if callable(value) and not name.startswith("_")}
    assert methods
    for name, method in methods.items():
        assert method.__module__ == mixin.__module__, name
        assert method.__qualname__.startswith(mixin.__qualname__ + "."), name


def test_alias_keeps_the_name_of_its_original():
    assert commands.Set.sunoinstore.__qualname__ == "Set.sunionstore"
    assert commands.SSet.zremrangebyscrore.__qualname__ == "SSet.zremrangebyscore"
    assert commands.Key.delete.__qualname__ == "Key.delete"


def test_command_method_pickles_by_reference():
    assert pickle.loads(pickle.dumps(commands.Key.delete)) is commands.Key.delete
    assert pickle.loads(pickle.dumps(commands.Subscribe.subscribe)) is commands.Subscribe.subscribe
