#!/usr/bin/env bash
# Makes the IP reassembly capture of real traffic (tests/captures/frag/dns-frag.pcap) and the
# golden records of every capture in the folder (frag/golden.jsonl; crafted-evasion.pcap, the
# tricks no kernel sends, comes from make-crafted-capture.py). Not run by CI: it needs root,
# network namespaces, dnsmasq, dig and tcpdump; the captures and the golden file are
# committed, and tests/integration/test_reassembly.py checks them.
#
#   sudo bash tests/captures/frag/make-frag-captures.sh [build-dir-with-flowscribe]
#
# Two network namespaces joined by a veth pair (offloads off) with small MTUs, so the kernel
# itself fragments the big answers exactly as a real host does: IPv4 routes have a 600-byte
# MTU (IPv4 fragments), the link 1280 (IPv6's minimum: a smaller link MTU turns IPv6 off;
# IPv6 Fragment headers):
#   frag-a  10.77.0.1  fd77::1   the client: dig +bufsize=4096 (bind9-dnsutils), tcpdump
#   frag-b  10.77.0.2  fd77::2   dnsmasq, authoritative for frag.test: big.frag.test has ten
#                                TXT records of ~300 bytes (a ~3.1 KB answer: 6 IPv4
#                                fragments, 3 IPv6 ones), www.frag.test one A and one AAAA
#                                (not fragmented)
# No packet leaves the two namespaces. Everything started is stopped by PID and both
# namespaces are deleted on exit. The golden file is made by running flowscribe on the new
# capture: check the diff by eye before committing it.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
OUT=${FRAG_CAPTURES_OUT:-$HERE}   # another folder: try the script without touching these
BUILD=${1:-$ROOT/build-frag}
NSC=frag-a
NSS=frag-b
TMP=$(mktemp -d /tmp/fs-frag-captures.XXXXXX)
PIDS=()

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'make-frag-captures: %s\n' "$*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "run as root"
for c in dnsmasq dig tcpdump; do
  command -v "$c" >/dev/null || [[ -x /usr/sbin/$c ]] ||
    die "$c missing: apt-get install dnsmasq-base bind9-dnsutils tcpdump"
done

cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  ip netns del $NSC 2>/dev/null || true
  ip netns del $NSS 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
ip netns del $NSC 2>/dev/null || true
ip netns del $NSS 2>/dev/null || true

ip netns add $NSC
ip netns add $NSS
ip link add fragc0 address 02:77:00:00:00:01 type veth peer name fragc1 address 02:77:00:00:00:02
ip link set fragc0 netns $NSC
ip link set fragc1 netns $NSS
# IPv6 may be off by default on this host (net.ipv6.conf.default.disable_ipv6): on here.
for ns in $NSC $NSS; do
  dev=$([[ $ns == "$NSC" ]] && echo fragc0 || echo fragc1)
  ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=0 \
    net.ipv6.conf.default.disable_ipv6=0 "net.ipv6.conf.$dev.disable_ipv6=0"
done
ip -n $NSC addr add 10.77.0.1/24 dev fragc0
ip -n $NSS addr add 10.77.0.2/24 dev fragc1
ip -n $NSC addr add fd77::1/64 dev fragc0 nodad
ip -n $NSS addr add fd77::2/64 dev fragc1 nodad
for ns in $NSC $NSS; do
  dev=$([[ $ns == "$NSC" ]] && echo fragc0 || echo fragc1)
  ip -n $ns link set lo up
  ip -n $ns link set $dev mtu 1280 up
  ip -n $ns route replace 10.77.0.0/24 dev $dev mtu lock 600
  ip netns exec $ns ethtool -K $dev tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
done
# Neighbours known in advance: no ARP / neighbour discovery in the capture.
ip -n $NSC neigh add 10.77.0.2 lladdr 02:77:00:00:00:02 dev fragc0
ip -n $NSS neigh add 10.77.0.1 lladdr 02:77:00:00:00:01 dev fragc1
ip -n $NSC neigh add fd77::2 lladdr 02:77:00:00:00:02 dev fragc0
ip -n $NSS neigh add fd77::1 lladdr 02:77:00:00:00:01 dev fragc1
C() { ip netns exec $NSC "$@"; }

{
  echo "no-resolv"
  echo "no-hosts"
  echo "keep-in-foreground"
  echo "listen-address=10.77.0.2,fd77::2"
  echo "bind-interfaces"
  echo "local=/frag.test/"
  echo "edns-packet-max=4096"
  echo "host-record=www.frag.test,10.77.0.80,fd77::80"
  for i in 01 02 03 04 05 06 07 08 09 10; do
    # One string per record: "part-NN " then a filler that differs per record.
    printf 'txt-record=big.frag.test,"part-%s %s"\n' "$i" "$(printf "$i%.0s" $(seq 140))"
  done
  echo "pid-file=$TMP/dnsmasq.pid"
  echo "log-facility=$TMP/dnsmasq.log"
} > "$TMP/dnsmasq.conf"

# Started with ip netns exec directly, so that $! is the daemon itself and cleanup() stops it.
ip netns exec $NSS dnsmasq -C "$TMP/dnsmasq.conf" >"$TMP/dnsmasq.out" 2>&1 &
PIDS+=($!)
sleep 1

mkdir -p "$OUT"
ip netns exec $NSC tcpdump -i fragc0 -n -U -s 0 -w "$TMP/dns-frag.pcap" \
  'ip proto 17 or ip6 proto 17 or ip6 proto 44' >/dev/null 2>&1 &
CAP_PID=$!
sleep 1
D() { C dig +time=1 +tries=1 "$@" >>"$TMP/dig.out" 2>&1 || true; sleep 0.2; }
log "IPv4: a fragmented TXT answer, then a small A answer"
D +bufsize=4096 -b 10.77.0.1#41001 @10.77.0.2 big.frag.test TXT
D +bufsize=4096 -b 10.77.0.1#41002 @10.77.0.2 www.frag.test A
log "IPv6: a fragmented TXT answer, then a small AAAA answer"
D +bufsize=4096 -b fd77::1#41003 @fd77::2 big.frag.test TXT
D +bufsize=4096 -b fd77::1#41004 @fd77::2 www.frag.test AAAA
sleep 1
kill -TERM $CAP_PID
wait $CAP_PID 2>/dev/null || true
cp "$TMP/dns-frag.pcap" "$OUT/dns-frag.pcap"
log "dns-frag.pcap: $(stat -c %s "$OUT/dns-frag.pcap") bytes"
grep -c 'part-' "$TMP/dig.out" | xargs printf '== dig printed %s TXT answers (want 20)\n' >&2

if [[ -x $BUILD/sensor/flowscribe ]]; then
  python3 "$ROOT/tests/integration/test_reassembly.py" --bin "$BUILD/sensor/flowscribe" \
    --captures "$OUT" --update
else
  log "no $BUILD/sensor/flowscribe: golden.jsonl not remade"
fi
