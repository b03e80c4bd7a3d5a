"""Names imported on first use (PEP 562 module ``__getattr__``).

The asyncio classes and modules live behind these, so that ``import pyredis``
in a program that never uses them does not import asyncio (a large part of
the package's import time).  Upstream imported every module eagerly, so its
packages had every class and submodule as an attribute after
``import pyredis``; these lookups keep that true.
"""
import importlib


def lazy_getattr(namespace, names, submodules=()):
    """A module ``__getattr__`` for ``namespace`` (a package's globals).

    The first lookup of a key of ``names`` imports the module ``names[key]``
    and takes its attribute of that name; of a name in ``submodules``, imports
    that submodule of the package.  The value then stays a plain global.
    """
    package = namespace["__name__"]

    def __getattr__(name):
        module = names.get(name)
        if module is not None:
            value = getattr(importlib.import_module(module), name)
        elif name in submodules:
            value = importlib.import_module("%s.%s" % (package, name))
        else:
            raise AttributeError("module %r has no attribute %r" % (package, name))
        namespace[name] = value
        return value

    return __getattr__
