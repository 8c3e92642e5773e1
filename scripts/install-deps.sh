#!/usr/bin/env bash
# Installs everything flowscribe needs on Debian 12, from Debian's packages only.
# Idempotent: installs only what is missing. Usage: scripts/install-deps.sh [--runtime|--test]
#   (default) build dependencies; --test adds what the test suite and benchmarks use; --runtime
#   only the shared libraries and tools a deployed sensor needs (used by docker/Dockerfile).
set -euo pipefail

mode="${1:-build}"
runtime=(dpdk librte-ethdev23 librte-mempool-ring23 librte-net-pcap23 librte-net-memif23 librte-net-ring23
         librte-net-af-packet23 librte-net-ixgbe23 librte-net-i40e23 librte-net-ice23
         librte-net-mlx5-23 libhyperscan5 libabsl20220623 libfmt9 libpcap0.8 libssl3 procps)
build=(build-essential g++ meson ninja-build pkg-config libdpdk-dev dpdk libhyperscan-dev
       libabsl-dev libfmt-dev catch2 libpcap-dev libssl-dev python3)
test_extra=(tcpdump iproute2 ethtool procps psmisc openssl rsyslog rsyslog-openssl rsyslog-gnutls
            libivykis0 libjson-c5 libnet1 libpcre3 libwrap0 libglib2.0-0 libcap2)
# Benchmarks (docs/performance.md): dpdk-testpmd for tools/replay-testpmd.sh, ndpiReader for
# tools/compare-ndpi.sh, gdb for the allocation guard's backtraces.
bench_extra=(dpdk-dev libndpi-bin gdb)
# syslog-ng-core conflicts with rsyslog (both are "the" system log daemon), so the tests get
# it unpacked under /opt instead of installed; it is started only by the tests, on loopback.
syslog_ng_root=/opt/flowscribe-test/syslog-ng

case "$mode" in
  --runtime) want=("${runtime[@]}") ;;
  --test) want=("${build[@]}" "${test_extra[@]}" "${bench_extra[@]}") ;;
  build|--build) want=("${build[@]}") ;;
  *) echo "usage: $0 [--build|--test|--runtime]" >&2; exit 2 ;;
esac

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then exec sudo -E bash "$0" "$@"; fi
  echo "install-deps: run as root (apt-get needs it)" >&2
  exit 2
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
export DEBIAN_FRONTEND=noninteractive
updated=0
if [ ${#missing[@]} -ne 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  apt-get update -qq
  updated=1
  # Packages that ship a daemon (rsyslog) must not start it here: the tests start their own.
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && own_policy=1
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ "$own_policy" = 1 ] && rm -f "$policy"
fi
if [ "$mode" = "--test" ] && [ ! -x "$syslog_ng_root/usr/sbin/syslog-ng" ]; then
  echo "install-deps: unpacking syslog-ng-core into $syslog_ng_root" >&2
  [ "$updated" = 1 ] || apt-get update -qq
  tmp="$(mktemp -d)"
  chmod 755 "$tmp"
  (cd "$tmp" && apt-get download -qq syslog-ng-core >/dev/null 2>&1) &&
    mkdir -p "$syslog_ng_root" && dpkg -x "$tmp"/syslog-ng-core_*.deb "$syslog_ng_root" ||
    echo "install-deps: could not unpack syslog-ng-core: its test will skip" >&2
  rm -rf "$tmp"
fi
