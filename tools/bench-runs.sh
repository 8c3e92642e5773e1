#!/usr/bin/env bash
# Runs one bench_pipeline measurement several times and prints the minimum, median and
# maximum cycles/packet; with several binaries, their runs are interleaved (A B A B ...) so
# that a noisy machine weighs on each the same (docs/performance.md).
#
#   tools/bench-runs.sh [-r RUNS] [-m decode+flow|on-CPU] BIN [BIN...] -- BENCH_ARGS...
#
# -m picks the line read: "decode+flow" (synthetic --flows runs, the default) or "on-CPU"
# (--mix runs). Example, two builds at 100K flows:
#   tools/bench-runs.sh -r 7 old/tools/bench_pipeline build/tools/bench_pipeline -- \
#       --flows 100000 --packets-per-flow 2 --seconds 1.5
set -euo pipefail

runs=5
metric="decode+flow"
usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
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
  *) echo "bench-runs.sh: -m is decode+flow or on-CPU" >&2; exit 2 ;;
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
    awk -v n="$runs" '{a[NR] = $1} END {
      printf "cycles/packet min %s median %s max %s (%d runs)\n", a[1], a[int((NR + 1) / 2)], a[NR], n }'
done
