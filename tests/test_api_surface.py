"""The public names of pyredis 1.0, module by module (upstream's layout; docs/design/contract.md,
"Package layout and public names")."""
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

# module -> names it must offer
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


# Each package's __all__, exactly as upstream's (the pool re-exports all the
# clients but the PubSub ones).
PACKAGE_ALL = {
    "pyredis.pool": ["BasePool", "AsyncBasePool"] + POOLS + ["shuffle"]
    + [name for name in CLIENTS if "PubSub" not in name] + ["ClusterMap", "AsyncClusterMap"],
    "pyredis.client": CLIENTS + ["Connection", "AsyncConnection", "dict_from_list", "ClusterMap",
                                 "AsyncClusterMap"],
    "pyredis.connection": ["Connection", "AsyncConnection", "socket", "writer", "Reader"],
    "pyredis.commands": SURFACE["pyredis.commands"],
    "pyredis.protocol": ["to_bytes", "Reader", "writer"],
}


@pytest.mark.parametrize("module", sorted(PACKAGE_ALL))
def test_package_all_is_upstreams(module):
    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == sorted(PACKAGE_ALL[module])
    assert len(mod.__all__) == len(set(mod.__all__))


def test_pool_star_import_gives_upstreams_names():
    namespace = {}
    exec("from pyredis.pool import *", namespace)
    assert sorted(n for n in namespace if n != "__builtins__") == sorted(PACKAGE_ALL["pyredis.pool"])
    assert namespace["ClusterMap"] is pyredis.helper.ClusterMap
    assert namespace["AsyncPool"] is pyredis.AsyncPool


# Upstream imported every module at ``import pyredis``; ours imports the
# asyncio ones on first use, and each still resolves as an attribute.
ASYNC_MODULES = ["pyredis.async_helper", "pyredis.connection.async_connection",
                 "pyredis.client.async_client", "pyredis.client.async_cluster",
                 "pyredis.client.async_hash", "pyredis.client.async_pubsub",
                 "pyredis.client.async_sentinel", "pyredis.pool.async_base",
                 "pyredis.pool.async_pool", "pyredis.pool.async_cluster", "pyredis.pool.async_hash",
                 "pyredis.pool.async_sentinel", "pyredis.pool.async_sentinel_hash"]


def test_async_submodules_resolve_as_attributes_after_import_pyredis():
    import subprocess
    import sys

    code = "\n".join([
        "import sys, pyredis",
        "assert 'asyncio' not in sys.modules",
        "for path in %r:" % (ASYNC_MODULES,),
        "    found = pyredis",
        "    for part in path.split('.')[1:]:",
        "        found = getattr(found, part)",
        "    assert found is sys.modules[path], path",
        "assert pyredis.pool.async_pool.AsyncPool is pyredis.pool.AsyncPool is pyredis.AsyncPool",
        "assert not hasattr(pyredis.pool, 'async_nothing')",
        "print('ok')",
    ])
    out = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, check=True,
                         universal_newlines=True, cwd=os.path.dirname(os.path.dirname(
                             os.path.abspath(pyredis.__file__)))).stdout
    assert out.split() == ["ok"]


def test_bulk_error_is_importable_but_not_in_all():
    from pyredis.exceptions import PyRedisBulkError, PyRedisError

    assert pyredis.PyRedisBulkError is PyRedisBulkError and issubclass(PyRedisBulkError, PyRedisError)
    assert "PyRedisBulkError" not in pyredis.__all__
    assert "PyRedisBulkError" not in pyredis.exceptions.__all__
