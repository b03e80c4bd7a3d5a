"""The public names of API.md section 1, module by module (upstream's layout)."""
import importlib
import os
import inspect

import pytest

import pyredis

CLIENTS = ["Client", "AsyncClient", "ClusterClient", "AsyncClusterClient", "HashClient",
           "AsyncHashClient", "PubSubClient", "AsyncPubSubClient", "SentinelClient",
           "AsyncSentinelClient"]
POOLS = ["Pool", "AsyncPool", "ClusterPool", "AsyncClusterPool", "HashPool", "AsyncHashPool",
         "SentinelPool", "AsyncSentinelPool", "SentinelHashPool", "AsyncSentinelHashPool"]
EXCEPTIONS = ["PyRedisError", "PyRedisConnError", "PyRedisConnReadTimeout", "PyRedisConnClosed",
              "ProtocolError", "ReplyError"]

# module -> names it must offer (API.md section 1)
SURFACE = {
    "pyredis": ["get_by_url"] + CLIENTS + POOLS + EXCEPTIONS + ["PyRedisURLError"],
    "pyredis.exceptions": EXCEPTIONS + ["PyRedisURLError"],
    "pyredis.protocol": ["to_bytes", "Reader", "writer", "ProtocolError", "ReplyError"],
    "pyredis.connection": ["Connection", "AsyncConnection", "socket", "writer", "Reader"],
    "pyredis.client": CLIENTS + ["Connection", "AsyncConnection", "dict_from_list", "ClusterMap",
                                 "AsyncClusterMap"],
    "pyredis.pool": ["BasePool", "AsyncBasePool", "shuffle", "ClusterMap", "AsyncClusterMap"]
    + POOLS + CLIENTS,
    "pyredis.helper": ["dict_from_list", "tag_from_key", "slot_from_key", "ClusterMap",
                       "Connection"],
    "pyredis.async_helper": ["AsyncClusterMap"],
    "pyredis.commands": ["BaseCommand", "Connection", "Geo", "Hash", "HyperLogLog", "Key", "List",
                         "Publish", "Scripting", "Set", "SSet", "String", "Subscribe",
                         "Transaction"],
}


@pytest.mark.parametrize("module", sorted(SURFACE))
def test_module_offers_its_names(module):
    mod = importlib.import_module(module)
    missing = [name for name in SURFACE[module] if not hasattr(mod, name)]
    assert missing == []


def test_top_level_all_is_exactly_the_documented_list():
    # PyRedisURLError is importable but, as upstream, not in __all__.
    assert sorted(pyredis.__all__) == sorted(["get_by_url"] + CLIENTS + POOLS + EXCEPTIONS)


def test_exceptions_all():
    from pyredis import exceptions

    assert sorted(exceptions.__all__) == sorted(EXCEPTIONS + ["PyRedisURLError"])  # the 7 names


def test_argument_error_is_importable_but_in_no_all():
    """One class for a refused command argument: upstream's ValueError and hiredis'
    TypeError at once, and a programming error rather than a Redis failure."""
    from pyredis import exceptions

    error = exceptions.ArgumentError
    assert pyredis.ArgumentError is error
    assert issubclass(error, TypeError) and issubclass(error, ValueError)
    assert not issubclass(error, exceptions.PyRedisError)
    assert "ArgumentError" not in pyredis.__all__ and "ArgumentError" not in exceptions.__all__


@pytest.mark.parametrize("name", [n for n in CLIENTS + POOLS if n.startswith("Async")])
def test_async_classes_run_commands_as_coroutines(name):
    cls = getattr(pyredis, name)
    execute = getattr(cls, "execute", None) or getattr(cls, "write")
    assert inspect.iscoroutinefunction(execute), name


def test_version_attribute_is_new_and_outside_all():
    # Upstream had no __version__ (a listed difference); __all__ stays upstream's.
    assert isinstance(pyredis.__version__, str)
    assert "__version__" not in pyredis.__all__


def test_importing_pyredis_leaves_asyncio_alone_until_an_async_class_is_used():
    import subprocess
    import sys

    code = ("import sys, pyredis; before = 'asyncio' in sys.modules; "
            "pyredis.AsyncPool; print(before, 'asyncio' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, check=True,
                         universal_newlines=True, cwd=os.path.dirname(os.path.dirname(
                             os.path.abspath(pyredis.__file__)))).stdout
    assert out.split() == ["False", "True"]
