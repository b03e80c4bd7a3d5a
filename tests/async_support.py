"""Helpers for the asyncio tests (no pytest-asyncio here).

``async_test`` turns an ``async def test_...`` into a plain test that runs it
with ``asyncio.run`` (a fresh event loop per test; fixtures still work, the
signature is kept).  ``Blocking`` drives an async client or pool from
synchronous test code, insisting that every method returns an awaitable.
"""
import asyncio
import functools
import inspect


def async_test(test):
    @functools.wraps(test)
    def run(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))

    return run


class Blocking:
    """``Blocking(AsyncClient(...), loop).get("k")`` == ``await client.get("k")``.

    Each method call must return an awaitable (the async classes reuse the sync
    mixins, whose methods return ``execute``'s coroutine); it is run to
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
