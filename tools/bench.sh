#!/usr/bin/env bash
# The main job: the end-to-end comparison (pyredis compiled / pure vs redis-py
# vs redis-benchmark) against a redis-server that bench/run.py starts itself.
# Prepares the checkout first (redis-server, .venv, in-place extensions; see
# tools/bootstrap.sh, PYTHON=... picks the interpreter), then prints what it
# will compare, progress per scenario, and the report.
# Arguments go to bench/run.py: --quick, --json PATH, --plot PNG, --scenarios get,bulk, ...
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash tools/bootstrap.sh
exec .venv/bin/python bench/run.py "$@"
