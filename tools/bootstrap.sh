#!/usr/bin/env bash
# Prepares a fresh checkout: redis-server, a .venv with the build/test/bench
# dependencies, and the compiled extensions built in place (a failed compile is
# an error here, unlike a user's pip install which falls back to pure Python).
# Usable as `bash tools/bootstrap.sh` or `source tools/bootstrap.sh`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash tools/install-redis.sh

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
VPY=.venv/bin/python

# Reinstall dependencies only when this list changes.
DEPS="pip setuptools>=77 wheel Cython>=3.0 pytest>=7 pytest-benchmark>=4 pytest-timeout hypothesis>=6 trustme>=1.0 hiredis>=2.0 redis>=5 uvloop>=0.17"
STAMP=.venv/.pyredis-deps
if [ "$(cat "$STAMP" 2>/dev/null)" != "$DEPS" ]; then
    $VPY -m pip install -q --upgrade $DEPS
    echo "$DEPS" > "$STAMP"
fi

PYREDIS_REQUIRE_EXTENSIONS=1 $VPY setup.py -q build_ext --inplace
