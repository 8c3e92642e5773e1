#!/usr/bin/env bash
# Installs what is missing, builds flowscribe, and runs it on a small bundled capture of real
# traffic (offline mode, no hugepages needed): the records go to stdout, the summary to stderr.
# Any extra arguments are passed to flowscribe, e.g. scripts/run-demo.sh --out file:/tmp/x.log
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
builddir="${BUILD_DIR:-build}"
[ -f "$builddir/build.ninja" ] || meson setup "$builddir" -Dbuildtype=release >/dev/null
meson compile -C "$builddir" >/dev/null
exec "$builddir/sensor/flowscribe" --pcap "${PCAP:-tests/captures/basic.pcap}" "$@"
