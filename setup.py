"""Build script: cythonizes every pyredis/**/*.pyx.

Environment switches (build time):
  PYREDIS_NO_EXTENSIONS=1       build a pure-Python package (no compiler needed)
  PYREDIS_REQUIRE_EXTENSIONS=1  a failing compile is an error, not a fallback
  PYREDIS_CYTHON_ANNOTATE=1     write Cython's HTML annotation next to each .pyx
  PYREDIS_CYTHON_DEBUG=1        bounds/wraparound checks on, assertions kept
"""
import glob
import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext


def _flag(name):
    return os.environ.get(name, "") not in ("", "0")


NO_EXTENSIONS = _flag("PYREDIS_NO_EXTENSIONS")
REQUIRE_EXTENSIONS = _flag("PYREDIS_REQUIRE_EXTENSIONS")
CPYTHON = sys.implementation.name == "cpython"


def _extensions():
    if NO_EXTENSIONS or not CPYTHON:
        return []
    from Cython.Build import cythonize

    debug = _flag("PYREDIS_CYTHON_DEBUG")
    directives = {
        "language_level": 3,
        "boundscheck": debug,
        "wraparound": debug,
        "cdivision": True,
        "embedsignature": True,
    }
    sources = sorted(glob.glob("pyredis/**/*.pyx", recursive=True))
    return cythonize(
        sources,
        compiler_directives=directives,
        annotate=_flag("PYREDIS_CYTHON_ANNOTATE"),
        quiet=True,
    )


class OptionalBuildExt(build_ext):
    """Fall back to the pure-Python twins when the compiler fails."""

    def run(self):
        try:
            super().run()
        except Exception as exc:  # no compiler at all
            self._fallback(exc)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:  # this module did not compile
            self._fallback(exc)

    def _fallback(self, exc):
        if REQUIRE_EXTENSIONS:
            raise
        sys.stderr.write(
            "WARNING: pyredis compiled extensions could not be built (%s); "
            "installing the pure-Python implementation.\n" % (exc,)
        )


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
