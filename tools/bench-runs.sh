#!/usr/bin/env bash
# Runs one bench_pipeline measurement several times and prints the minimum, median and
# maximum cycles/packet; with several binaries, their runs are interleaved (A B A B ...) so
# that a noisy machine weighs on each the same (docs/performance.md).
#
#   tools/bench-runs.sh [-r RUNS] [-m decode+flow|on-CPU|summary] BIN [BIN...] -- BENCH_ARGS...
#
# -m picks the line read: "decode+flow" (synthetic --flows runs, the default), "on-CPU"
# (--mix runs) or "summary" (the binaries are flowscribe: its summary's seconds, offline).
# Examples, two builds at 100K flows, and two sensors on a capture:
#   tools/bench-runs.sh -r 7 old/tools/bench_pipeline build/tools/bench_pipeline -- \
#       --flows 100000 --packets-per-flow 2 --seconds 1.5
#   tools/bench-runs.sh -r 20 -m summary /tmp/old-flowscribe build/sensor/flowscribe -- \
#       --pcap /tmp/mix2m.pcap --out file:/dev/null
set -euo pipefail

runs=5
metric="decode+flow"
usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
while getopts "r:m:h" o; do
  case "$o" in
    r) runs="$OPTARG" ;;
    m) metric="$OPTARG" ;;
    h) usage 0 ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
bins=()
while [[ $# -gt 0 && "$1" != "--" ]]; do bins+=("$1"); shift; done
[[ $# -gt 0 ]] || { echo "bench-runs.sh: '--' and the benchmark's arguments are missing" >&2; usage; }
shift
[[ ${#bins[@]} -gt 0 ]] || { echo "bench-runs.sh: no benchmark binary given" >&2; usage; }
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "bench-runs.sh: -r wants a positive number" >&2; exit 2; }
case "$metric" in
  decode+flow) pattern='/decode\+flow/{print $2}' ;;
  on-CPU) pattern='/on-CPU/{print $2}' ;;
  summary) pattern='/^flowscribe: summary:/{for (i = 1; i < NF; ++i) if ($i == "in") {print $(i + 1); exit}}' ;;
  *) echo "bench-runs.sh: -m is decode+flow, on-CPU or summary" >&2; exit 2 ;;
esac
for b in "${bins[@]}"; do
  [[ -x "$b" ]] || { echo "bench-runs.sh: $b: not an executable" >&2; exit 2; }
done

declare -A got
for ((i = 0; i < runs; ++i)); do
  for b in "${bins[@]}"; do
    v=$("$b" "$@" 2>&1 | awk "$pattern" | head -1)
    [[ -n "$v" ]] || { echo "bench-runs.sh: $b $*: no '$metric' line in its output" >&2; exit 1; }
    got[$b]+="$v "
  done
done
for b in "${bins[@]}"; do
  printf '%s: ' "$b"
  tr ' ' '\n' <<<"${got[$b]}" | sed '/^$/d' | sort -n |
    awk -v n="$runs" -v unit="$([[ $metric == summary ]] && echo seconds || echo cycles/packet)" '{a[NR] = $1} END {
      printf "%s min %s median %s max %s (%d runs)\n", unit, a[1], a[int((NR + 1) / 2)], a[NR], n }'
done
