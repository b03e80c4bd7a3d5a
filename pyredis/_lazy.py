"""Names imported on first use (PEP 562 module ``__getattr__``).

The asyncio classes live behind these, so that ``import pyredis`` in a
program that never uses them does not import asyncio (a large part of the
package's import time).
"""
import importlib


def lazy_getattr(namespace, modules):
    """A module ``__getattr__`` for ``namespace`` (a module's globals) that
    imports ``modules[name]`` on the first lookup of ``name`` and keeps the
    value as a plain global from then on."""

    def __getattr__(name):
        module = modules.get(name)
        if module is None:
            raise AttributeError("module %r has no attribute %r" % (namespace["__name__"], name))
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
