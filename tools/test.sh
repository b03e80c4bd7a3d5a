#!/usr/bin/env bash
# The whole test suite, twice: with the compiled twins, then with the pure
# twins (PYREDIS_NO_EXTENSIONS=1).  Prepares the checkout first (see
# tools/bootstrap.sh; PYTHON=... picks the interpreter of .venv).
#
# Extra arguments go to both suite runs (e.g. `-k url`, `-x`, a test file).
# Without arguments the benchmark suites also run once each, as a smoke test;
# with arguments (a selection) that run is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/bootstrap.sh
PY=.venv/bin/python
PYTEST=($PY -m pytest -p no:cacheprovider --timeout=300)

# A missing compiled build fails the run; it is never skipped.
$PY -c "import pyredis, sys; sys.exit(0 if pyredis.COMPILED else 'compiled extensions are not active')"
PYREDIS_NO_EXTENSIONS=1 $PY -c "import pyredis, sys; sys.exit(1 if pyredis.COMPILED else 0)"

if [ $# -eq 0 ]; then
    echo "== benchmarks, each run once (--benchmark-disable) =="
    "${PYTEST[@]}" bench -q --benchmark-disable
else
    echo "== benchmarks: skipped (arguments given: $*) =="
fi
echo "== test suite, compiled twins =="
"${PYTEST[@]}" tests -q "$@"
echo "== test suite, pure-Python twins (PYREDIS_NO_EXTENSIONS=1) =="
PYREDIS_NO_EXTENSIONS=1 "${PYTEST[@]}" tests -q "$@"
