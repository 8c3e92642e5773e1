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
logs=("$builddir/meson-logs/testlog.json")

# The allocation guard (no heap allocation on a worker after start-up) needs its own build of
# the sensor: built and run here too unless ALLOC_GUARD=0 or tests were named on the command
# line. Its two tests count in the summary like the others.
if [ "${ALLOC_GUARD:-1}" != 0 ] && [ $# -eq 0 ]; then
  guarddir="${GUARD_BUILD_DIR:-build-guard}"
  if [ ! -f "$guarddir/build.ninja" ]; then
    meson setup "$guarddir" -Dwerror=true -Dbuildtype=release -Dalloc_guard=true >/dev/null ||
      { echo "alloc-guard build: meson setup failed"; echo "0 passed, 1 failed"; exit 1; }
  fi
  if meson compile -C "$guarddir" flowscribe alloc_guard_test; then
    meson test -C "$guarddir" --no-rebuild --print-errorlogs alloc_guard alloc_guard_captures
    logs+=("$guarddir/meson-logs/testlog.json")
  else
    echo "alloc-guard build failed"
    echo "0 passed, 1 failed"
    exit 1
  fi
fi
python3 scripts/test-summary.py "${logs[@]}"
