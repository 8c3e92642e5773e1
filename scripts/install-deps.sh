#!/usr/bin/env bash
# Installs everything flowscribe needs on Debian 12, from Debian's packages only.
# Idempotent: installs only what is missing. Usage: scripts/install-deps.sh [--runtime|--test]
#   (default) build dependencies; --test adds what the test suite uses; --runtime only the
#   shared libraries and tools a deployed sensor needs (used by docker/Dockerfile).
set -euo pipefail

mode="${1:-build}"
runtime=(dpdk librte-ethdev23 librte-mempool-ring23 librte-net-pcap23 librte-net-memif23 librte-net-ring23
         librte-net-af-packet23 librte-net-ixgbe23 librte-net-i40e23 librte-net-ice23
         librte-net-mlx5-23 libhyperscan5 libabsl20220623 libfmt9 libpcap0.8 libssl3 procps)
build=(build-essential g++ meson ninja-build pkg-config libdpdk-dev dpdk libhyperscan-dev
       libabsl-dev libfmt-dev catch2 libpcap-dev libssl-dev python3)
test_extra=(tcpdump iproute2 ethtool procps psmisc)

case "$mode" in
  --runtime) want=("${runtime[@]}") ;;
  --test) want=("${build[@]}" "${test_extra[@]}") ;;
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
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
