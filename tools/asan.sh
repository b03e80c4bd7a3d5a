#!/usr/bin/env bash
# The compiled extensions under AddressSanitizer: the reader tests, then a
# short fuzz of Reader.feed/gets with hostile callbacks (tools/fuzz_reader.py).
#
#   bash tools/asan.sh [fuzz seconds, default 120]
#
# The ASan build (setup.py's PYREDIS_ASAN=1) is made in a scratch copy of the
# tree, so this checkout's normal build is never replaced and nothing needs
# restoring; the copy is removed on exit. Python itself is not instrumented:
# libasan is preloaded, and PYTHONMALLOC=malloc sends every allocation (the
# parser's buffers included) through it. Leak detection is off: CPython keeps
# memory alive until exit on purpose.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PY:-$ROOT/.venv/bin/python}
FUZZ_SECONDS=${1:-120}
LIBASAN=$(gcc -print-file-name=libasan.so)
[ -e "$LIBASAN" ] || { echo "asan.sh: gcc's libasan is missing (apt-get install libasan8)" >&2; exit 1; }

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/pyredis-asan.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT
git ls-files -z --cached --others --exclude-standard | grep -zv '\.c$' | xargs -0 cp --parents -t "$SCRATCH"
cd "$SCRATCH"

start=$SECONDS
echo "== building the extensions with -fsanitize=address =="
PYREDIS_ASAN=1 PYREDIS_REQUIRE_EXTENSIONS=1 "$PY" setup.py -q build_ext --inplace --force >/dev/null
echo "   built in $((SECONDS - start)) s"

export LD_PRELOAD=$LIBASAN PYTHONMALLOC=malloc
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1
"$PY" -c "import pyredis, sys; sys.exit(0 if pyredis.COMPILED else 'the ASan build is not active')"

step=$SECONDS
echo "== reader tests under ASan =="
"$PY" -m pytest -q -p no:cacheprovider --timeout=1200 tests/test_reader.py tests/test_reader_differential.py
echo "   tests took $((SECONDS - step)) s"

step=$SECONDS
# Seeded random RESP streams, not atheris: with gcc's libasan preloaded,
# libasan provides the coverage hooks and atheris runs blind.
echo "== fuzz, ${FUZZ_SECONDS} s =="
"$PY" tools/fuzz_reader.py --random --seconds "$FUZZ_SECONDS"
echo "   fuzz took $((SECONDS - step)) s"
echo "== asan.sh: no AddressSanitizer report in $((SECONDS - start)) s =="
