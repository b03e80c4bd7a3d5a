"""Which twin is active, and the switch that chooses it."""
import importlib
import os
import subprocess
import sys

import pyredis
from pyredis import _twins

FORCED_PURE = os.environ.get("PYREDIS_NO_EXTENSIONS", "") not in ("", "0")
TWIN_MODULES = ("pyredis.protocol._reader", "pyredis.protocol._writer", "pyredis.pool._core",
                "pyredis.connection._io", "pyredis.commands._build",
                "pyredis.connection._protocol")


def _active_in_subprocess(env_value):
    env = dict(os.environ)
    env.pop("PYREDIS_NO_EXTENSIONS", None)
    if env_value is not None:
        env["PYREDIS_NO_EXTENSIONS"] = env_value
    code = "import pyredis; print(pyredis.COMPILED, pyredis.IMPLEMENTATION)"
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                         capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    return out.stdout.split()


def test_every_twin_is_registered():
    import pyredis.pool.base  # noqa: F401  (the pool core is chosen when base is imported)
    importlib.import_module("pyredis.connection.async_connection")  # asyncio: chosen on first use

    assert set(TWIN_MODULES) <= set(_twins.ACTIVE)


def test_active_implementation_matches_the_environment(request):
    if request.config.getoption("--no-c-extensions"):
        # A pure-only install (no compiler): whatever is active, the two names agree.
        assert pyredis.IMPLEMENTATION == ("compiled" if pyredis.COMPILED else "pure")
    elif FORCED_PURE:
        assert pyredis.COMPILED is False
        assert pyredis.IMPLEMENTATION == "pure"
        assert not any(_twins.ACTIVE.values())
        assert pyredis.protocol.Reader.__module__ == "pyredis.protocol._reader_py"
    else:
        # The suite is run against a compiled build: a missing one is a failure.
        assert pyredis.COMPILED is True, _twins.ACTIVE
        assert pyredis.IMPLEMENTATION == "compiled"
        importlib.import_module("pyredis.connection.async_connection")  # asyncio's, chosen late
        assert _twins.all_compiled(), _twins.ACTIVE
        assert pyredis.protocol.Reader.__module__ == "pyredis.protocol._reader"


def test_env_var_forces_pure_twins():
    assert _active_in_subprocess("1") == ["False", "pure"]


def test_env_var_zero_or_empty_does_not_force_pure():
    expected = _active_in_subprocess(None)
    assert _active_in_subprocess("0") == expected
    assert _active_in_subprocess("") == expected
