"""``python -m pyredis``: which pyredis this is and which twins it runs.

Prints the version, where the package was imported from, the interpreter,
the active implementation and, for each compiled module, whether it is in
use and, if not, why (forced pure, not built, or failing to load).  A pip
install without a compiler falls back to pure Python quietly (pip shows the
build's warning only with ``-v``): this is where a user finds out.
"""
import importlib
import importlib.util
import os
import platform
import sys
import sysconfig

import pyredis
from pyredis import _twins


def why_pure(module):
    """Why ``module`` (e.g. ``"pyredis.protocol._reader"``) runs its pure twin."""
    if sys.implementation.name != "cpython":
        return "this interpreter (%s) always uses the pure twins" % sys.implementation.name
    if _twins.NO_EXTENSIONS:
        return "forced by PYREDIS_NO_EXTENSIONS=%s" % os.environ.get("PYREDIS_NO_EXTENSIONS")
    if importlib.util.find_spec(module) is None:
        return ("not built (installed without a working C compiler, or built with "
                "PYREDIS_NO_EXTENSIONS=1)")
    try:
        importlib.import_module(module)
    except ImportError as exc:
        return "built but fails to load: %s" % (exc,)
    return "built, but it could not be imported when pyredis was"


def report():
    """The report's lines."""
    # The asyncio protocol's twin is chosen when asyncio is first used: choose it now.
    importlib.import_module("pyredis.connection.async_connection")
    lines = [
        "pyredis %s (distribution pyredis-cy) from %s"
        % (pyredis.__version__, os.path.dirname(os.path.abspath(pyredis.__file__))),
        "Python %s (%s) on %s" % (platform.python_version(), _interpreter(), platform.platform()),
    ]
    if _twins.all_compiled():
        lines.append("implementation: compiled (every compiled module is active)")
    else:
        lines.append("implementation: pure (same API, slower): see below")
    width = max(len(name) for name in _twins.ACTIVE)
    reasons = set()
    for module, active in sorted(_twins.ACTIVE.items()):
        reason = None if active else why_pure(module)
        reasons.add(reason)
        lines.append("  %-*s  %s" % (width, module, "compiled" if active else "pure: " + reason))
    if any(reason and reason.startswith("not built") for reason in reasons):
        lines.append("To build them: install a C compiler and the Python headers, then"
                     " reinstall with PYREDIS_REQUIRE_EXTENSIONS=1 (a failed build is then an"
                     " error, not a quiet fallback), e.g. PYREDIS_REQUIRE_EXTENSIONS=1 pip install"
                     " --force-reinstall --no-cache-dir --no-binary pyredis-cy pyredis-cy")
    return lines


def _interpreter():
    name = sys.implementation.name
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        gil = getattr(sys, "_is_gil_enabled", lambda: True)()
        return "%s, free-threaded build, GIL %s" % (name, "enabled" if gil else "disabled")
    return name


def main():
    print("\n".join(report()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
