"""Every command mixin method through AsyncClient and AsyncPool, against a real server.

The behaviour tests of ``test_commands`` are collected here again with their
command targets (``r``, ``client``) replaced by async ones driven through
``Blocking``: each method call must return an awaitable, which is awaited.
Their ``@uses`` declarations are checked at run time as there, so
``test_async_classes_expose_only_exercised_methods`` below means every mixin
method of the async classes is exercised through an awaitable.
"""
import asyncio

import pytest

import test_commands
from async_support import Blocking
from pyredis import AsyncClient, AsyncPool, AsyncPubSubClient, Client, commands
from test_commands import (  # noqa: F401  (collected here with the fixtures below)
    second_server,
    test_blocking_pops_are_woken_by_a_push,
    test_connection,
    test_geo,
    test_hashes,
    test_hyperloglog,
    test_keys,
    test_lists,
    test_migrate_to_a_second_server,
    test_move_between_databases,
    test_publish,
    test_scripting,
    test_sets,
    test_sorted_sets,
    test_strings,
    test_subscribe_family,
    test_transactions,
)


@pytest.fixture
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def _blocking(target, loop):
    facade = Blocking(target, loop)
    yield facade
    loop.run_until_complete(target.close())
    assert target.closed if isinstance(target, AsyncClient) else target._open == 0


@pytest.fixture(params=["async-client", "async-pool"])
def r(request, redis, loop):
    if request.param == "async-client":
        target = AsyncClient(host=redis.host, port=redis.port)
    else:
        target = AsyncPool(host=redis.host, port=redis.port, pool_size=2)
    yield from _blocking(target, loop)


@pytest.fixture
def client(redis, loop):
    yield from _blocking(AsyncClient(host=redis.host, port=redis.port), loop)


@pytest.fixture
def other_client(redis):
    """A synchronous second connection (to publish, to interfere from a thread)."""
    with Client(host=redis.host, port=redis.port) as c:
        yield c


def _mixin_methods(cls):
    mixins = [m for m in test_commands.MIXINS if issubclass(cls, m)]
    return set().union(*(test_commands.public_methods(m) for m in mixins))


@pytest.mark.parametrize("cls", [AsyncClient, AsyncPool, AsyncPubSubClient])
def test_async_classes_expose_only_exercised_methods(cls):
    methods = _mixin_methods(cls)
    assert methods  # the class really uses the mixins
    assert sorted(methods - test_commands.EXERCISED) == []


def test_mixin_matrix():
    assert _mixin_methods(AsyncClient) == _mixin_methods(Client)
    assert not issubclass(AsyncClient, commands.Subscribe)
    assert issubclass(AsyncPool, commands.Publish)
    assert not issubclass(AsyncPool, (commands.Transaction, commands.Subscribe))
    assert [m for m in test_commands.MIXINS if issubclass(AsyncPubSubClient, m)] == \
        [commands.Subscribe]


def test_async_subscribe_family_returns_awaitables(redis, loop):
    sub = Blocking(AsyncPubSubClient(host=redis.host, port=redis.port), loop)
    assert sub.subscribe("a") is None and sub.psubscribe("p*") is None
    assert [sub.get(), sub.get()] == [[b"subscribe", b"a", 1], [b"psubscribe", b"p*", 2]]
    assert sub.unsubscribe("a") is None and sub.punsubscribe("p*") is None
    assert [sub.get(), sub.get()] == [[b"unsubscribe", b"a", 1], [b"punsubscribe", b"p*", 0]]
    assert sub.called == {"subscribe", "psubscribe", "unsubscribe", "punsubscribe", "get"}
    sub.close()
