#!/usr/bin/env bash
# Replays a capture into flowscribe the way an appliance is benchmarked: dpdk-testpmd reads
# the capture in a loop (net_pcap, infinite_rx=1) and forwards it into flowscribe over a
# shared-memory net_memif link, both on one machine, both without hugepages. After SECONDS
# of forwarding it stops testpmd, lets flowscribe drain, stops flowscribe, and reports what
# was sent, received, dropped and how many records were written.
#
#   tools/replay-testpmd.sh [options] CAPTURE
#     -s SECONDS          forwarding time (default 10)
#     --fs-main N         CPU of flowscribe's main and emitter lcores (default 0)
#     --fs-workers LIST   CPUs of flowscribe's workers, one per worker, repeats allowed
#                         (default: the --fs-main CPU, one worker)
#     --tp-cpu N          CPU of testpmd's two lcores (default: the last CPU)
#     --fs-args "ARGS"    more flowscribe flags (e.g. "--flows-per-worker 2097152")
#     -b BUILDDIR         where flowscribe is built (default: build-perf, then build)
#     -k                  keep the work folder (logs, and the records in records.log instead of
#                         /dev/null) and print its path
#
# Nothing leaves the machine: memif is a UNIX socket plus shared memory in a temporary
# folder. The figures are per run; docs/performance.md has the method and the figures.
set -euo pipefail

die() { echo "replay-testpmd: $*" >&2; exit 2; }

seconds=10 fs_main=0 fs_workers="" tp_cpu="" fs_args="" builddir="" keep=0 capture=""
while [ $# -gt 0 ]; do
  case "$1" in
    -s) seconds="${2:?}"; shift 2 ;;
    --fs-main) fs_main="${2:?}"; shift 2 ;;
    --fs-workers) fs_workers="${2:?}"; shift 2 ;;
    --tp-cpu) tp_cpu="${2:?}"; shift 2 ;;
    --fs-args) fs_args="${2:?}"; shift 2 ;;
    -b) builddir="${2:?}"; shift 2 ;;
    -k) keep=1; shift ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [ -z "$capture" ] || die "one capture only"; capture="$1"; shift ;;
  esac
done
[ -n "$capture" ] || die "usage: tools/replay-testpmd.sh [options] CAPTURE (see --help)"
[ -r "$capture" ] || die "cannot read capture $capture"
[[ "$seconds" =~ ^[0-9]+$ ]] && [ "$seconds" -ge 1 ] || die "-s wants whole seconds >= 1, got '$seconds'"
command -v dpdk-testpmd >/dev/null ||
  die "dpdk-testpmd not found: install Debian's dpdk-dev (scripts/install-deps.sh --test)"
command -v tcpdump >/dev/null ||
  die "tcpdump not found: install Debian's tcpdump (scripts/install-deps.sh --test)"

root="$(cd "$(dirname "$0")/.." && pwd)"
if [ -z "$builddir" ]; then
  for d in build-perf build; do
    [ -x "$root/$d/sensor/flowscribe" ] && { builddir="$root/$d"; break; }
  done
fi
fs="${builddir:-$root/build}/sensor/flowscribe"
[ -x "$fs" ] || die "flowscribe not built at $fs: run meson setup build && ninja -C build"
ncpu="$(nproc)"
[ -n "$tp_cpu" ] || tp_cpu=$((ncpu - 1))
[ -n "$fs_workers" ] || fs_workers="$fs_main"
capture="$(cd "$(dirname "$capture")" && pwd)/$(basename "$capture")"

# net_pcap with infinite_rx copies the whole capture into mbufs at start: size the pool
# (and DPDK's memory: 2.3 KiB per mbuf plus caches and rings, 4 KiB is safe) to the capture.
cap_pkts="$(tcpdump -r "$capture" -nn 2>/dev/null | wc -l)"
[ "$cap_pkts" -gt 0 ] || die "$capture holds no packets tcpdump can read"
mbufs=$((cap_pkts + 32768))
tp_mem=$((512 + mbufs * 4 / 1024))

work="$(mktemp -d /tmp/fs-replay.XXXXXX)"
sock="$work/memif.sock"
out=/dev/null
[ "$keep" = 1 ] && out="$work/records.log"
tp_pid="" fs_pid=""
cleanup() {
  # Only the two processes this script started, by PID.
  [ -n "$tp_pid" ] && kill -INT "$tp_pid" 2>/dev/null && wait "$tp_pid" 2>/dev/null
  [ -n "$fs_pid" ] && kill -INT "$fs_pid" 2>/dev/null && wait "$fs_pid" 2>/dev/null
  # testpmd leaves its (empty with --no-shconf) runtime directory; flowscribe removes its own.
  rmdir "${XDG_RUNTIME_DIR:-/tmp}/dpdk/fsreplay-tp-$$" "/var/run/dpdk/fsreplay-tp-$$" 2>/dev/null || true
  if [ "$keep" = 1 ]; then echo "replay-testpmd: logs and records kept in $work" >&2
  else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# flowscribe is the memif server (the appliance side, up first); testpmd connects as the
# client (testpmd's own tx counters of a memif *server* port stay 0 in DPDK 22.11) and,
# because it waits for link-up before forwarding, sends nothing into a dead link.
# shellcheck disable=SC2086
"$fs" --port "net_memif0,role=server,socket=$sock,socket-abstract=no" --no-huge \
  --lcores "$fs_workers" --main-core "$fs_main" --emitter-core "$fs_main" \
  --file-prefix "fsreplay-fs-$$" --stats-interval 1 --out "file:$out" $fs_args \
  >"$work/flowscribe.out" 2>"$work/flowscribe.log" &
fs_pid=$!
for _ in $(seq 100); do
  [ -S "$sock" ] && break
  kill -0 "$fs_pid" 2>/dev/null ||
    die "flowscribe exited at start: $(grep -m1 -v '^$' "$work/flowscribe.log" || true)"
  sleep 0.1
done
[ -S "$sock" ] || die "flowscribe did not open the memif socket within 10 s"

# Two testpmd lcores on one CPU: the main one sleeps in the --stats-period loop, the other
# forwards (io mode: port 0 = the capture -> port 1 = memif).
dpdk-testpmd --lcores "0@$tp_cpu,1@$tp_cpu" --no-huge -m "$tp_mem" --no-pci \
  --file-prefix "fsreplay-tp-$$" --no-shconf \
  --vdev "net_pcap0,rx_pcap=$capture,infinite_rx=1" \
  --vdev "net_memif0,role=client,socket=$sock,socket-abstract=no" \
  -- --forward-mode=io --stats-period 1 --total-num-mbufs="$mbufs" \
  </dev/null >"$work/testpmd.log" 2>&1 &
tp_pid=$!
for _ in $(seq 300); do
  grep -q "start packet forwarding" "$work/testpmd.log" 2>/dev/null && break
  kill -0 "$tp_pid" 2>/dev/null || die "dpdk-testpmd exited at start: $(grep -m1 -E 'Cause:|[Ee]rror|[Ff]ail' "$work/testpmd.log" | sed 's/^ *//' || tail -n1 "$work/testpmd.log")"
  sleep 0.1
done
grep -q "start packet forwarding" "$work/testpmd.log" || die "dpdk-testpmd did not start forwarding within 30 s"
sleep "$seconds"
kill -INT "$tp_pid"
wait "$tp_pid" 2>/dev/null || true
tp_pid=""
sleep 2  # flowscribe drains what is still in the memif ring
kill -INT "$fs_pid"
fs_status=0
wait "$fs_pid" || fs_status=$?
fs_pid=""
[ "$fs_status" -le 1 ] || die "flowscribe failed (exit $fs_status): $(grep -m1 -v '^$' "$work/flowscribe.log")"

# testpmd's final "Forward statistics for port N" blocks: N=0 read the capture, N=1 is memif.
fwd() {  # fwd PORT FIELD -> the number after "FIELD:" in that port's block
  awk -v port="$1" -v field="$2" '
    /Forward statistics for port/ { inblk = ($NF == port || $(NF-1) == port) }
    /Accumulated forward statistics/ { inblk = 0 }
    inblk { for (i = 1; i < NF; ++i) if ($i == field ":") { print $(i+1); exit } }' "$work/testpmd.log"
}
read_pkts="$(fwd 0 RX-packets)"
tx_dropped="$(fwd 1 TX-dropped)"
[ -n "$read_pkts" ] && [ -n "$tx_dropped" ] || die "no forward statistics in testpmd's log ($work/testpmd.log)"
sent="$(fwd 1 TX-packets)"
[ $((sent + tx_dropped)) -eq "$read_pkts" ] ||
  echo "replay-testpmd: warning: testpmd's counts disagree: read $read_pkts, sent $sent + dropped $tx_dropped" >&2
ctr() {  # a counter from flowscribe's summary (0 when the summary omits it, i.e. zero)
  awk -v n="$1" '$1 == "flowscribe:" && $2 == n { print $3; f = 1; exit } END { if (!f) print 0 }' \
    "$work/flowscribe.log"
}
received="$(ctr rx_packets)"
imissed="$(ctr port_imissed)"
nombuf="$(ctr port_rx_nombuf)"
records="$(ctr emitter_records)"
txn="$(ctr worker_transaction_records)"
delivered="$(ctr output_sent)"
fs_drops="$(sed -n 's/^flowscribe: drops: \([0-9]*\) .*/\1/p' "$work/flowscribe.log")"
flows="$(ctr flow_created)"

rate() { awk -v n="$1" -v s="$seconds" 'BEGIN { printf "%.2f M/s", n / s / 1e6 }'; }
echo "replay-testpmd: $(basename "$capture") for ${seconds} s, testpmd on CPU $tp_cpu, flowscribe main+emitter on CPU $fs_main, workers on CPUs $fs_workers"
printf '  %-34s %14s  %s\n' \
  "testpmd read from the capture" "$read_pkts" "$(rate "$read_pkts")" \
  "sent into memif (testpmd tx)" "$sent" "$(rate "$sent")" \
  "dropped: memif ring full" "$tx_dropped" "flowscribe was behind (memif's imissed)" \
  "received by flowscribe" "$received" "$(rate "$received")" \
  "dropped: port imissed" "$imissed" "" \
  "dropped: port rx_nombuf" "$nombuf" "" \
  "lost inside flowscribe" "${fs_drops:-?}" "records/packets (summary 'drops')" \
  "flows created" "$flows" "" \
  "records emitted" "$records" "$delivered written to $out; $txn of them transaction records"
if [ "$received" -ne "$sent" ]; then
  echo "  note: $((sent - received)) packets sent but not received (left in the memif ring at stop, or lost)"
fi
