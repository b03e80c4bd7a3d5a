"""The C code written inside the .pyx files (``cdef extern from *`` blocks)
compiles on every platform branch, not only on the one building here.

Each block is compiled on its own by the host's C compiler (syntax and types
only), once as is and once with ``_WIN32`` defined against a stub
``<windows.h>`` declaring the few Windows functions the blocks call - so a
slip in a Windows-only branch fails here, on Linux, instead of making
Windows installs fall back to the pure twins without a word.
"""
import os
import re
import shlex
import shutil
import subprocess
import sysconfig

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# What Python.h would give the blocks.
PRELUDE = "#include <stddef.h>\ntypedef ptrdiff_t Py_ssize_t;\n"

# The Windows API the blocks use, with the SDK's types.
WINDOWS_H = """
typedef unsigned char BOOLEAN;
typedef unsigned long long ULONGLONG;
typedef struct { void *Ptr; } SRWLOCK, *PSRWLOCK;
void InitializeSRWLock(PSRWLOCK SRWLock);
BOOLEAN TryAcquireSRWLockExclusive(PSRWLOCK SRWLock);
void AcquireSRWLockExclusive(PSRWLOCK SRWLock);
void ReleaseSRWLockExclusive(PSRWLOCK SRWLock);
ULONGLONG GetTickCount64(void);
"""

_BLOCK = re.compile(r'cdef extern from \*:\n\s*"""\n(.*?)\n\s*"""', re.S)


def c_blocks():
    blocks = []
    for folder, _, files in os.walk(os.path.join(ROOT, "pyredis")):
        for name in sorted(files):
            if name.endswith(".pyx"):
                path = os.path.join(folder, name)
                with open(path) as f:
                    for i, block in enumerate(_BLOCK.findall(f.read())):
                        blocks.append(pytest.param(block, id="%s-%d" % (name, i)))
    return blocks


def compiler():
    cc = sysconfig.get_config_var("CC") or ""
    argv = shlex.split(cc) or [shutil.which("cc") or shutil.which("gcc") or "cc"]
    if not shutil.which(argv[0]):
        pytest.skip("no C compiler (the compiled twins cannot be built here either)")
    return argv


def test_every_pyx_with_c_code_is_found():
    names = {p.id.split("-")[0] for p in c_blocks()}
    assert {"_io.pyx", "_core.pyx"} <= names


@pytest.mark.parametrize("windows", [False, True], ids=["native", "win32"])
@pytest.mark.parametrize("block", c_blocks())
def test_c_block_compiles(block, windows, tmp_path):
    (tmp_path / "windows.h").write_text(WINDOWS_H)
    argv = compiler() + ["-fsyntax-only", "-Wall", "-Wno-unused-function",
                         "-Werror=implicit-function-declaration", "-I", str(tmp_path),
                         "-x", "c", "-"]
    if windows:
        argv.insert(-3, "-D_WIN32")
    result = subprocess.run(argv, input=PRELUDE + block, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
