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
# The unit tests and the fuzz targets' seed replays again, built with AddressSanitizer and
# UndefinedBehaviorSanitizer (undefined behaviour is fatal): wire bytes reach every parser in
# them, and an out-of-bounds read or a null memcpy that a release build survives fails here.
# Skipped with SANITIZE=0 or when tests were named on the command line. Warnings are not
# errors in this build: GCC 12 reports false array bounds inside DPDK's rte_memcpy under
# the sanitizers; the release build above keeps -Werror.
if [ "${SANITIZE:-1}" != 0 ] && [ $# -eq 0 ]; then
  sandir="${SAN_BUILD_DIR:-build-san}"
  if [ ! -f "$sandir/build.ninja" ]; then
    meson setup "$sandir" -Dbuildtype=debugoptimized -Db_sanitize=address,undefined \
      -Dcpp_args=-fno-sanitize-recover=undefined -Dc_args=-fno-sanitize-recover=undefined >/dev/null ||
      { echo "sanitizer build: meson setup failed"; echo "0 passed, 1 failed"; exit 1; }
  fi
  if meson compile -C "$sandir"; then
    # LeakSanitizer stops the process's threads with ptrace; where a sandbox forbids that, it
    # aborts every test at exit. Then leaks go unchecked (said so), and the rest is checked.
    asan="${ASAN_OPTIONS:-}"
    if [ -z "$asan" ]; then
      if ASAN_OPTIONS=detect_leaks=1 "$sandir/tests/format_test" --help >/dev/null 2>&1; then
        asan=detect_leaks=1
      else
        asan=detect_leaks=0
        echo "sanitizer build: LeakSanitizer cannot run here; leaks are not checked"
      fi
    fi
    ASAN_OPTIONS="$asan" UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}" \
      meson test -C "$sandir" --no-rebuild --print-errorlogs --num-processes "${TEST_JOBS:-2}" \
      --suite unit --suite fuzz --timeout-multiplier 4
    logs+=("$sandir/meson-logs/testlog.json")
  else
    echo "sanitizer build failed"
    echo "0 passed, 1 failed"
    exit 1
  fi
fi
python3 scripts/test-summary.py "${logs[@]}"
