#!/usr/bin/env bash
# flowscribe and nDPI's ndpiReader on the same traffic, in the same run, as packets/s and a
# ratio. The capture(s) are multiplied into one file of about PACKETS packets with distinct
# addresses per copy (build/tools/multiply_pcap), so both tools see many flows, not the same
# few again, and run long enough to time. Then, one after the other on that file:
#   ndpiReader -i FILE          its "Packet Processing Time" (libpcap read + nDPI), one thread
#   flowscribe --pcap FILE      the whole sensor offline: the file read in blocks (its own
#                               pcap reader), decode, flow table, classifier, records
#                               formatted by the emitter to /dev/null
#   ... --pcap-reader net_pcap  the same, the file read through DPDK's net_pcap (libpcap)
#   bench_pipeline --mix ...    the worker alone on the same mix, from memory
#
#   tools/compare-ndpi.sh [-n PACKETS] [-b BUILDDIR] CAPTURE [CAPTURE ...]
#
# Ethernet captures only (the multiplier rewrites IP addresses behind an Ethernet header).
set -euo pipefail

die() { echo "compare-ndpi: $*" >&2; exit 2; }

want=2000000 builddir="" caps=()
while [ $# -gt 0 ]; do
  case "$1" in
    -n) want="${2:?}"; shift 2 ;;
    -b) builddir="${2:?}"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [ -r "$1" ] || die "cannot read capture $1"; caps+=("$1"); shift ;;
  esac
done
[ ${#caps[@]} -gt 0 ] || die "usage: tools/compare-ndpi.sh [-n PACKETS] [-b BUILDDIR] CAPTURE [CAPTURE ...]"
[[ "$want" =~ ^[0-9]+$ ]] && [ "$want" -ge 1 ] || die "-n wants a packet count, got '$want'"
command -v ndpiReader >/dev/null ||
  die "ndpiReader not found: install Debian's libndpi-bin (scripts/install-deps.sh --test)"
command -v tcpdump >/dev/null || die "tcpdump not found: install Debian's tcpdump (scripts/install-deps.sh --test)"
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ -z "$builddir" ]; then
  for d in build-perf build; do
    [ -x "$root/$d/tools/multiply_pcap" ] && { builddir="$root/$d"; break; }
  done
fi
builddir="${builddir:-$root/build}"
for t in tools/multiply_pcap tools/bench_pipeline sensor/flowscribe; do
  [ -x "$builddir/$t" ] || die "$builddir/$t not built: run meson setup build && ninja -C build"
done

work="$(mktemp -d /tmp/fs-ndpi.XXXXXX)"
trap 'rm -rf "$work"' EXIT
base=0
for c in "${caps[@]}"; do
  n="$(tcpdump -r "$c" -nn 2>/dev/null | wc -l)"
  base=$((base + n))
done
[ "$base" -gt 0 ] || die "the captures hold no packets"
copies=$(((want + base - 1) / base))
big="$work/multiplied.pcap"
"$builddir/tools/multiply_pcap" --copies "$copies" --out "$big" "${caps[@]}" 2>"$work/mul.log" ||
  die "$(cat "$work/mul.log")"
total=$((base * copies))

# ndpiReader: packets over its own processing time (its set-up time excluded).
ndpiReader -i "$big" >"$work/ndpi.log" 2>&1 || die "ndpiReader failed: $(tail -n1 "$work/ndpi.log")"
ndpi_ms="$(sed -n 's/.*Packet Processing Time: *\([0-9.]*\) msec.*/\1/p' "$work/ndpi.log")"
ndpi_flows="$(sed -n 's/.*Unique flows: *\([0-9]*\).*/\1/p' "$work/ndpi.log")"
[ -n "$ndpi_ms" ] || die "no 'Packet Processing Time' in ndpiReader's output"

# flowscribe offline: the summary's rate (from the lcores' launch to the last record written),
# with its own pcap reader and with DPDK's net_pcap.
fs_run() {  # LOG [FLAGS...]: prints "packets seconds flows"
  local log="$1"; shift
  "$builddir/sensor/flowscribe" --pcap "$big" --out file:/dev/null --file-prefix "fsndpi-$$" "$@" \
    >/dev/null 2>"$log" || die "flowscribe failed: $(grep -m1 -v '^$' "$log")"
  local pk secs
  read -r pk secs < <(sed -n 's/^flowscribe: summary: \([0-9]*\) packets, [0-9]* bytes in \([0-9.]*\) s.*/\1 \2/p' "$log")
  [ -n "$pk" ] || die "no summary in flowscribe's output"
  echo "$pk $secs $(awk '$2 == "flow_created" { print $3 }' "$log")"
}
read -r fs_pkts fs_secs fs_flows < <(fs_run "$work/fs.log")
read -r np_pkts np_secs _ < <(fs_run "$work/fs-np.log" --pcap-reader net_pcap)

# The worker alone, from memory, on the same mix (about one copy's flows at a time, as in
# the file).
joined="$(IFS=,; echo "${caps[*]}")"
"$builddir/tools/bench_pipeline" --mix "$joined" --concurrent 1000 --seconds 3 >"$work/bench.log" 2>&1 ||
  die "bench_pipeline failed: $(tail -n1 "$work/bench.log")"
bench_cpp="$(sed -n 's/.*full pipeline: \([0-9.]*\) cycles\/packet.*/\1/p' "$work/bench.log")"
bench_mpps="$(sed -n 's/.*  \([0-9.]*\) Mpps\/core.*/\1/p' "$work/bench.log")"

awk -v total="$total" -v copies="$copies" -v base="$base" -v nms="$ndpi_ms" -v nfl="$ndpi_flows" \
    -v fp="$fs_pkts" -v fs="$fs_secs" -v ffl="$fs_flows" -v bc="$bench_cpp" -v bm="$bench_mpps" \
    -v np="$np_pkts" -v ns="$np_secs" \
    -v caps="${caps[*]}" 'BEGIN {
  npps = total / (nms / 1000); fpps = fp / fs; bpps = bm * 1e6
  printf "compare-ndpi: %s\n", caps
  printf "  multiplied: %d packets x %d copies = %d packets\n", base, copies, total
  printf "  %-44s %10.0f packets/s  (%d packets in %.3f s, %d flows)\n", "ndpiReader (1 thread, libpcap read + DPI)", npps, total, nms / 1000, nfl
  printf "  %-44s %10.0f packets/s  (%d packets in %.2f s, %d flows)  ratio %.1fx\n", "flowscribe --pcap (whole sensor, offline)", fpps, fp, fs, ffl, fpps / npps
  printf "  %-44s %10.0f packets/s  (%d packets in %.2f s)  ratio %.1fx\n", "flowscribe --pcap --pcap-reader net_pcap", np / ns, np, ns, (np / ns) / npps
  printf "  %-44s %10.0f packets/s  (%.1f cycles/packet)  ratio %.1fx\n", "bench_pipeline --mix (worker, from memory)", bpps, bc, bpps / npps
}'
