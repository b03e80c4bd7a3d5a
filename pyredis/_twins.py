"""The one place that chooses between a compiled module and its pure-Python twin.

Each compiled module ``pkg/_name.pyx`` has a twin ``pkg/_name_py.py`` with the
same names and behaviour.  ``PYREDIS_NO_EXTENSIONS=1`` (read once, at import)
forces the twins; interpreters other than CPython always use them.
"""
import importlib
import os
import sys

NO_EXTENSIONS = (
    os.environ.get("PYREDIS_NO_EXTENSIONS", "") not in ("", "0")
    or sys.implementation.name != "cpython"
)

# "package._name" -> True when the compiled module is the one in use.
ACTIVE = {}


def import_twin(package, name):
    """Return the compiled ``package.name`` if allowed and built, else ``package.name_py``."""
    key = "%s.%s" % (package, name)
    if not NO_EXTENSIONS:
        try:
            module = importlib.import_module(key)
        except ImportError:
            pass
        else:
            ACTIVE[key] = True
            return module
    ACTIVE[key] = False
    return importlib.import_module(key + "_py")


def all_compiled():
    return bool(ACTIVE) and all(ACTIVE.values())
