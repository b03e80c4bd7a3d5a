"""What an installed package says about itself: ``__version__``, ``python -m pyredis``."""
import glob
import importlib.machinery
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

import pyredis
from pyredis import _twins

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.dirname(os.path.abspath(pyredis.__file__))
importlib.import_module("pyredis.connection.async_connection")  # asyncio's twin, chosen late
COMPILED_MODULES = sorted(_twins.ACTIVE)
FROM_TREE = PACKAGE == os.path.join(ROOT, "pyredis")
from_tree = pytest.mark.skipif(not FROM_TREE, reason="needs the source tree (runs on its build)")


def _env(no_extensions):
    env = dict(os.environ)
    env.pop("PYREDIS_NO_EXTENSIONS", None)
    if no_extensions:
        env["PYREDIS_NO_EXTENSIONS"] = "1"
    return env


def _report(env, cwd=None, pythonpath=None):
    if pythonpath:
        env = dict(env, PYTHONPATH=pythonpath)
    # -m imports from the working directory first: by default, the one that
    # holds the pyredis this test imported (the tree, or site-packages).
    proc = subprocess.run([sys.executable, "-m", "pyredis"], env=env,
                          cwd=cwd or os.path.dirname(PACKAGE),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _module_lines(out):
    return {line.split()[0]: line.split(None, 1)[1] for line in out.splitlines()
            if line.startswith("  pyredis.")}


# -- __version__ ---------------------------------------------------------------------------------
def test_version_is_a_release_string():
    parts = pyredis.__version__.split(".")
    assert len(parts) == 3 and all(part.isdigit() for part in parts), pyredis.__version__


@from_tree
def test_version_is_the_distribution_metadata_version():
    # What setuptools writes into the wheel's and sdist's metadata.
    proc = subprocess.run([sys.executable, "setup.py", "--version"], cwd=ROOT, env=_env(True),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == pyredis.__version__


# -- python -m pyredis ---------------------------------------------------------------------------
@pytest.mark.c_extension
def test_report_of_the_compiled_build():
    out = _report(_env(False))
    assert out.startswith("pyredis %s " % pyredis.__version__)
    assert PACKAGE in out.splitlines()[0]
    assert "implementation: compiled" in out
    assert _module_lines(out) == {name: "compiled" for name in COMPILED_MODULES}


def test_report_when_pure_twins_are_forced():
    out = _report(_env(True))
    assert "implementation: pure" in out
    assert _module_lines(out) == {
        name: "pure: forced by PYREDIS_NO_EXTENSIONS=1" for name in COMPILED_MODULES}


@pytest.fixture
def pure_copy(tmp_path):
    """The package's Python files only, as a build without a compiler installs them."""
    target = tmp_path / "pyredis"
    shutil.copytree(PACKAGE, str(target), ignore=shutil.ignore_patterns(
        "*.so", "*.pyd", "*.c", "*.html", "__pycache__"))
    return tmp_path


def test_report_when_the_extensions_were_not_built(pure_copy):
    out = _report(_env(False), cwd=str(pure_copy), pythonpath=str(pure_copy))
    assert str(pure_copy) in out.splitlines()[0]
    assert "implementation: pure" in out
    lines = _module_lines(out)
    assert set(lines) == set(COMPILED_MODULES)
    assert all(state.startswith("pure: not built (") for state in lines.values()), lines
    assert "PYREDIS_REQUIRE_EXTENSIONS=1" in out  # how to get them


def test_report_names_the_error_of_a_module_that_fails_to_load(pure_copy):
    broken = pure_copy / "pyredis" / "protocol" / (
        "_reader" + importlib.machinery.EXTENSION_SUFFIXES[0])
    broken.write_bytes(b"not a shared object")
    out = _report(_env(False), cwd=str(pure_copy), pythonpath=str(pure_copy))
    state = _module_lines(out)["pyredis.protocol._reader"]
    assert state.startswith("pure: built but fails to load: "), state
    assert _module_lines(out)["pyredis.protocol._writer"].startswith("pure: not built")


# -- a build without a compiler --------------------------------------------------------------
@from_tree
def test_a_build_without_compiler_makes_a_pure_wheel(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(ROOT, str(tree), ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.so", "*.pyd", "__pycache__", ".*cache*", "tests",
        "bench", "wheelhouse"))  # keeps the generated .c files: Cython has nothing to redo
    env = _env(False)
    env["CC"] = "false"  # every compile fails, as on a machine without a C compiler
    proc = subprocess.run([sys.executable, "setup.py", "-q", "bdist_wheel", "-d", "dist"],
                          cwd=str(tree), env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "the compiled extensions were not built" in proc.stderr
    wheels = glob.glob(str(tree / "dist" / "*.whl"))
    assert [os.path.basename(w) for w in wheels] == [
        "pyredis_cy-%s-py3-none-any.whl" % pyredis.__version__]
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = wheel.namelist()
        assert "Root-Is-Purelib: true" in wheel.read(
            "pyredis_cy-%s.dist-info/WHEEL" % pyredis.__version__).decode()
    assert not [n for n in names if n.endswith((".so", ".pyd", ".c"))]
    assert "pyredis/py.typed" in names
    assert "pyredis_cy-%s.dist-info/licenses/LICENSE" % pyredis.__version__ in names
