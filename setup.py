"""Build script: cythonizes every pyredis/**/*.pyx.

Environment switches (build time):
  PYREDIS_NO_EXTENSIONS=1       build a pure-Python package (no compiler needed)
  PYREDIS_REQUIRE_EXTENSIONS=1  a failing compile is an error, not a fallback
  PYREDIS_CYTHON_ANNOTATE=1     write Cython's HTML annotation next to each .pyx
  PYREDIS_CYTHON_DEBUG=1        bounds/wraparound checks on, assertions kept
  PYREDIS_ASAN=1                AddressSanitizer build (gcc/clang): run it with libasan
                                preloaded, as tools/asan.sh does
  PYREDIS_DEBUG=1               keep the C debug information and symbols (by default
                                they are left out: a 5x smaller wheel)
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
DEBUG = _flag("PYREDIS_DEBUG")
CPYTHON = sys.implementation.name == "cpython"


def _extensions():
    if NO_EXTENSIONS or not CPYTHON:
        return []
    try:
        from Cython.Build import cythonize
    except ImportError as exc:  # only without build isolation: pip always installs Cython
        if REQUIRE_EXTENSIONS:
            raise
        _warn_pure("Cython is not installed (%s)" % (exc,))
        return []

    debug = _flag("PYREDIS_CYTHON_DEBUG")
    directives = {
        "language_level": 3,
        "boundscheck": debug,
        "wraparound": debug,
        "cdivision": True,
        "embedsignature": True,
        # Reviewed module by module (each docstring's "Free threading" part):
        # importing them keeps a free-threaded interpreter's GIL off.
        "freethreading_compatible": True,
    }
    sources = sorted(glob.glob("pyredis/**/*.pyx", recursive=True))
    extensions = cythonize(
        sources,
        compiler_directives=directives,
        annotate=_flag("PYREDIS_CYTHON_ANNOTATE"),
        quiet=True,
    )
    if _flag("PYREDIS_ASAN"):
        for ext in extensions:
            ext.extra_compile_args += ["-fsanitize=address", "-fno-omit-frame-pointer", "-g", "-O1"]
            ext.extra_link_args += ["-fsanitize=address"]
    return extensions


def _warn_pure(reason):
    sys.stderr.write(
        "\nWARNING: pyredis: the compiled extensions were not built: %s.\n"
        "WARNING: pyredis: installing the pure-Python implementation (same API, slower;"
        " pyredis.COMPILED will be False).\n"
        "WARNING: pyredis: set PYREDIS_REQUIRE_EXTENSIONS=1 to make this an error.\n\n" % reason
    )


class OptionalBuildExt(build_ext):
    """Fall back to the pure-Python twins when the compiler fails.

    Failures are collected and reported in ONE warning at the end; the modules
    that failed are dropped from ``self.extensions`` so that in-place copies,
    editable installs and the wheel's file list only see modules that exist
    (the twin selector then imports their ``_py`` twins).
    """

    def run(self):
        self._failed = []
        try:
            super().run()
        except Exception as exc:  # no usable compiler at all: nothing was built
            if REQUIRE_EXTENSIONS:
                raise
            self._failed = [(ext.name, exc) for ext in self.extensions]
            self.extensions = []
        if self._failed:
            names = ", ".join(name for name, _ in self._failed)
            first = self._failed[0][1]
            detail = str(first)
            if len(detail) > 160:  # a failed compiler command line is long; its head says enough
                detail = detail[:157] + "..."
            _warn_pure("%s failed to compile (%s: %s)" % (names, type(first).__name__, detail))
            if not self.extensions:
                self._nothing_compiled()

    def _nothing_compiled(self):
        """No module compiled: the package is pure Python, and a wheel being
        built now is tagged ``py3-none-any`` (bdist_wheel chose a platform
        tag before the build, from the modules declared)."""
        self.distribution.ext_modules = []
        wheel = self.distribution.get_command_obj("bdist_wheel", create=False)
        if wheel is not None:
            wheel.root_is_pure = True

    def build_extensions(self):
        if not DEBUG and self.compiler.compiler_type == "unix":
            # Python's own CFLAGS carry -g; -g0 comes later on the command line
            # and wins.  GNU ld's -s also drops the symbol table (macOS keeps
            # debug information out of the binary anyway).
            for ext in self.extensions:
                ext.extra_compile_args.append("-g0")
                if sys.platform.startswith("linux"):
                    ext.extra_link_args.append("-s")
        super().build_extensions()
        failed = {name for name, _ in self._failed}
        self.extensions = [ext for ext in self.extensions if ext.name not in failed]

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:  # this module did not compile
            if REQUIRE_EXTENSIONS:
                raise
            self._failed.append((ext.name, exc))


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
