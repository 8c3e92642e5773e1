#!/usr/bin/env bash
# Packs what a many-core machine WITHOUT DPDK, Hyperscan or even Debian 12 needs to measure
# how flowscribe's workers scale (issue 6: N workers >= 0.9 N times one worker's rate), and
# the script that measures it there. The bundle runs its binaries through the dynamic loader
# and C library it carries, so the other machine's own libraries do not matter.
#
#   tools/device-bundle.sh [-b BUILDDIR] [-o DIR]      (here: DIR defaults to .device-bundle)
#   DIR/run.sh [-s SECONDS] [-c CONCURRENT] [N ...]   (there: default N = 1 2 4 8 12 14)
#
# DIR must be inside the repository and ignored by git to travel with the device tool's
# `carry`; this script adds it to .git/info/exclude. What it holds (~30 MB):
#   bin/      bench_pipeline, flowscribe, multiply_pcap from BUILDDIR (a release build)
#   lib/      every shared library they and the DPDK drivers below load, the loader included
#   lib/librte_{mempool_ring,bus_vdev,net_null,net_ring,net_pcap}.so.23: the DPDK drivers
#             EAL loads from its plugin folder; run.sh links them there (same files, so a
#             driver loaded as a dependency and by the folder is loaded once)
#   captures/ the benchmark mix ($MIXW in docs/performance.md)
# run.sh prints, for each N, bench_pipeline --mix --workers N (shared-nothing workers, the
# RSS deployment without a NIC): the workers' total packets/s and its ratio to N times the
# 1-worker rate of the same run, then the whole sensor reading a multiplied capture with
# --workers N behind the software dispatcher. docs/performance.md "Scaling over N workers".
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
builddir="$root/build"
out="$root/.device-bundle"
while [ $# -gt 0 ]; do
  case "$1" in
    -b) builddir=$(cd "${2:?}" && pwd); shift 2 ;;
    -o) out="${2:?}"; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "device-bundle: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac

bins=(tools/bench_pipeline sensor/flowscribe tools/multiply_pcap)
for b in "${bins[@]}"; do
  [ -x "$builddir/$b" ] || { echo "device-bundle: $builddir/$b not built (ninja -C $builddir)" >&2; exit 1; }
done
pmd_dir=$(pkg-config --variable=pmdsdir libdpdk 2>/dev/null || true)
[ -n "$pmd_dir" ] || pmd_dir=$(ls -d /usr/lib/x86_64-linux-gnu/dpdk/pmds-* 2>/dev/null | head -1)
[ -d "$pmd_dir" ] || { echo "device-bundle: DPDK's driver folder not found (apt install dpdk)" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/bin" "$out/lib" "$out/captures"
for b in "${bins[@]}"; do cp "$builddir/$b" "$out/bin/"; done
drivers=()
for d in mempool_ring bus_vdev net_null net_ring net_pcap; do
  f=$(ls "$pmd_dir"/librte_"$d".so.[0-9]* | sort | head -1)
  so=$(objdump -p "$f" | awk '$1 == "SONAME" {print $2}')
  cp -L "$f" "$out/lib/$so"
  drivers+=("$so")
done
printf '%s\n' "${drivers[@]}" > "$out/lib/DRIVERS"
echo "$pmd_dir" > "$out/lib/DRIVER_FOLDER"
# Every library the binaries and the drivers load, by the name they ask for, and the loader.
{
  for f in "$out"/bin/*; do ldd "$f"; done
  for d in "${drivers[@]}"; do ldd "$out/lib/$d"; done
} | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3} $1 ~ /^\/.*ld-linux/ {print "LOADER", $1}' |
  sort -u | while read -r name path; do
    if [ "$name" = LOADER ]; then cp -L "$path" "$out/lib/ld-linux-x86-64.so.2"
    elif [ ! -e "$out/lib/$name" ]; then cp -L "$path" "$out/lib/$name"; fi
  done
caps=("$root"/tests/captures/proto/*.pcap "$root/tests/captures/basic.pcap"
      "$root/tests/captures/bench/web.pcap" "$root/tests/captures/dissect/dns/dns-udp.pcap")
cp "${caps[@]}" "$out/captures/"

cat > "$out/run.sh" <<'RUN'
#!/usr/bin/env bash
# Scaling over N workers, from the bundle made by tools/device-bundle.sh (see there).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
secs=3 conc=100000
while getopts "s:c:" o; do case $o in s) secs=$OPTARG ;; c) conc=$OPTARG ;; *) exit 2 ;; esac; done
shift $((OPTIND - 1))
ns=("$@"); [ ${#ns[@]} -gt 0 ] || ns=(1 2 4 8 12 14)
run() { "$here/lib/ld-linux-x86-64.so.2" --library-path "$here/lib" "$@"; }
# EAL loads every driver in the folder compiled into it. Where that folder is missing (no
# DPDK installed), it gets links to the bundle's drivers: the same files, so a driver that
# another one needs is not loaded twice. A machine with DPDK installed keeps its own.
pmds=$(cat "$here/lib/DRIVER_FOLDER")
if [ ! -d "$pmds" ]; then
  mkdir -p "$pmds" || { echo "run.sh: cannot create $pmds (run as root)" >&2; exit 1; }
  # Named *.so: EAL only loads files ending in .so or .so.<ABI version> (23.0).
  while read -r d; do ln -sf "$here/lib/$d" "$pmds/${d%.so.*}.so"; done < "$here/lib/DRIVERS"
elif ! ls "$pmds"/librte_mempool_ring.so* >/dev/null 2>&1; then
  echo "run.sh: $pmds exists without the mempool driver; remove it or install DPDK's drivers" >&2
  exit 1
fi
mix=$(ls "$here"/captures/*.pcap | paste -sd,)
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "bench_pipeline --mix (22+2 captures) --concurrent $conc per worker --seconds $secs --workers N"
one=""
printf '%8s %14s %14s %10s\n' workers "Mpps (TSC)" "Mpps/worker" "vs N x 1"
for n in "${ns[@]}"; do
  line=$(run "$here/bin/bench_pipeline" --mix "$mix" --concurrent "$conc" --seconds "$secs" \
           --workers "$n" 2>&1 | tee "/tmp/scaling-$n.log" |
         sed -n -e "$([ "$n" = 1 ] && echo 's/.*full pipeline:.* \([0-9.]*\) Mpps\/core.*/\1/p' ||
                        echo 's/.*workers together: \([0-9.]*\) Mpps (TSC).*/\1/p')" | head -1)
  if [ -z "$line" ]; then echo "  N=$n: no result, see /tmp/scaling-$n.log"; tail -3 "/tmp/scaling-$n.log"; continue; fi
  [ "$n" = 1 ] && one=$line
  ratio=$( [ -n "$one" ] && awk -v t="$line" -v o="$one" -v n="$n" 'BEGIN {printf "%.2f", t / (n * o)}' || echo "-")
  printf '%8s %14s %14s %10s\n' "$n" "$line" "$(awk -v t="$line" -v n="$n" 'BEGIN {printf "%.2f", t / n}')" "$ratio"
done
echo
echo "whole sensor: flowscribe --pcap (mix x 3008 copies) --workers N --out file:/dev/null"
big=/tmp/scaling-mix.pcap
run "$here/bin/multiply_pcap" --copies 3008 --out "$big" $(ls "$here"/captures/*.pcap | grep -v -e web.pcap -e dns-udp.pcap) >/dev/null
for n in "${ns[@]}"; do
  s=$(run "$here/bin/flowscribe" --pcap "$big" --workers "$n" --hs-cache off --out file:/dev/null 2>&1 |
      grep -m1 'summary:' | sed 's/.*bytes in //')
  printf '%8s workers: %s\n' "$n" "${s:-failed}"
done
RUN
chmod +x "$out/run.sh"

if git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
  rel=${out#"$root"/}
  if [ "$rel" != "$out" ]; then
    ex="$(git -C "$root" rev-parse --git-path info/exclude)"
    case "$ex" in /*) ;; *) ex="$root/$ex" ;; esac
    grep -qxF "/$rel/" "$ex" 2>/dev/null || echo "/$rel/" >> "$ex"
  fi
fi
echo "device-bundle: $(du -sh "$out" | cut -f1) in $out; there: ${out#"$root"/}/run.sh [-s SECONDS] [N ...]"
