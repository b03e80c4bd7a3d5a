#!/usr/bin/env bash
# Prepares a fresh checkout: redis-server, a .venv with the build/test/bench
# dependencies, and the compiled extensions built in place (a failed compile is
# an error here, unlike a user's pip install which falls back to pure Python).
# Usable as `bash tools/bootstrap.sh` or `source tools/bootstrap.sh`.
#
# PYTHON=/path/to/python (default: python3) is the interpreter .venv is made
# from.  When .venv exists and was made from another interpreter (another
# version, another installation, a free-threaded build), it is rebuilt; without
# PYTHON an existing .venv is kept as it is.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { echo "bootstrap: $*" >&2; }

bash tools/install-redis.sh
say "$(redis-server --version | cut -d' ' -f1-3)"

# What identifies an interpreter for a venv: its installation and its build.
IDENTIFY='import sys; print(sys.base_prefix, sys.version.replace("\n", " "))'
if [ -n "${PYTHON:-}" ] && [ -x .venv/bin/python ]; then
    want="$("$PYTHON" -c "$IDENTIFY")" || { say "error: PYTHON=$PYTHON does not run"; exit 1; }
    have="$(.venv/bin/python -c "$IDENTIFY" 2>/dev/null || echo "(broken)")"
    if [ "$want" != "$have" ]; then
        say ".venv was made from $have"
        say "PYTHON=$PYTHON is $want: rebuilding .venv"
        rm -rf .venv
    fi
fi
if [ ! -x .venv/bin/python ]; then
    say "creating .venv with ${PYTHON:-python3}"
    "${PYTHON:-python3}" -m venv .venv
fi
VPY=.venv/bin/python
say "Python $($VPY -c 'import platform; print(platform.python_version())') in .venv"

# Reinstall dependencies only when this list changes.
DEPS="pip setuptools>=77 wheel Cython>=3.0 pytest>=7 pytest-benchmark>=4 pytest-timeout hypothesis>=6 trustme>=1.0 hiredis>=2.0 redis>=5 matplotlib>=3.5 uvloop>=0.17"
STAMP=.venv/.pyredis-deps
if [ "$(cat "$STAMP" 2>/dev/null)" != "$DEPS" ]; then
    say "installing the build, test and benchmark dependencies into .venv (once)"
    $VPY -m pip install -q --upgrade $DEPS
    echo "$DEPS" > "$STAMP"
fi

say "building the compiled extensions in place"
PYREDIS_REQUIRE_EXTENSIONS=1 $VPY setup.py -q build_ext --inplace
