#!/usr/bin/env bash
# Installs what is missing, builds flowscribe with warnings as errors, runs every test, and
# ends with one line "N passed, N failed". Exit status 0 only when nothing failed.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --test || { echo "0 passed, 1 failed"; exit 1; }
builddir="${BUILD_DIR:-build-test}"
if [ ! -f "$builddir/build.ninja" ]; then
  meson setup "$builddir" -Dwerror=true -Dbuildtype=release >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
fi
if ! meson compile -C "$builddir"; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi
meson test -C "$builddir" --print-errorlogs --num-processes "${TEST_JOBS:-2}" "$@"
python3 scripts/test-summary.py "$builddir/meson-logs/testlog.json"
