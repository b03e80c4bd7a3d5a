"""Helpers for the asyncio tests (no pytest-asyncio here).

``async_test`` turns an ``async def test_...`` into a plain test that runs it
on a fresh event loop, once on asyncio's own loop and once on uvloop's
(parameter ``loop_kind``; fixtures still work, the signature is kept).
Without uvloop installed the uvloop runs are skipped with a reason - and fail
under CI (``CI`` set), which installs it: never a silent pass.
``async_test_asyncio_only`` runs on asyncio's loop alone (the slow topology
tests).  ``Blocking`` drives an async client or pool from synchronous test
code, insisting that every method returns an awaitable.
"""
import asyncio
import functools
import inspect
import os
import sys

import pytest

try:
    import uvloop
except ImportError:  # pragma: no cover - CI installs it
    uvloop = None

LOOP_KINDS = ("asyncio", "uvloop")


def run_on(kind, coro):
    """Run ``coro`` to completion on a new event loop of ``kind``."""
    if kind == "asyncio":
        return asyncio.run(coro)
    if uvloop is None:
        coro.close()
        if os.environ.get("CI") and sys.platform != "win32":
            pytest.fail("uvloop is not installed (tools/bootstrap.sh installs it)")
        pytest.skip("uvloop is not installed")
    loop = uvloop.new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(coro)
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def _make(test, kinds):
    @functools.wraps(test)
    def run(*args, loop_kind, **kwargs):
        return run_on(loop_kind, test(*args, **kwargs))

    signature = inspect.signature(test)
    run.__signature__ = signature.replace(parameters=list(signature.parameters.values()) + [
        inspect.Parameter("loop_kind", inspect.Parameter.KEYWORD_ONLY)])
    del run.__wrapped__  # pytest must see loop_kind
    return pytest.mark.parametrize("loop_kind", kinds)(run)


def async_test(test):
    return _make(test, LOOP_KINDS)


def async_test_asyncio_only(test):
    return _make(test, ("asyncio",))


class Blocking:
    """``Blocking(AsyncClient(...), loop).get("k")`` == ``await client.get("k")``.

    Each method call must return an awaitable (the async classes reuse the sync
    mixins, whose methods return ``execute``'s awaitable); it is run to
    completion on ``loop``.  Errors raised at call time (before any await)
    propagate as they are.  Names called are recorded in ``called``.
    """

    def __init__(self, target, loop):
        self._target = target
        self._loop = loop
        self.called = set()

    def __getattr__(self, name):
        value = getattr(self._target, name)
        if not callable(value):
            return value

        def call(*args, **kwargs):
            result = value(*args, **kwargs)
            assert inspect.isawaitable(result), "%s() returned %r, not an awaitable" % (
                name, result)
            self.called.add(name)
            return self._loop.run_until_complete(result)

        return call
