#!/usr/bin/env bash
# Makes the IP reassembly capture of real traffic (tests/captures/frag/dns-frag.pcap) and the
# golden records of every capture in the folder (frag/golden.jsonl; crafted-evasion.pcap, the
# tricks no kernel sends, comes from make-crafted-capture.py). Not run by CI: it needs root,
# network namespaces, dnsmasq, dig and tcpdump (installed when missing); the captures and the
# golden file are committed, and tests/integration/test_reassembly.py checks them.
#
#   sudo bash tests/captures/frag/make-frag-captures.sh [build-dir-with-flowscribe]
#   FRAG_CAPTURES_OUT=/tmp/frag sudo -E bash ...   # writes there instead, the committed ones stay
#
# Two network namespaces joined by a veth pair (offloads off, fixed MACs) with small MTUs, so
# the kernel itself fragments the big answers exactly as a real host does: IPv4 routes have a
# 600-byte MTU (IPv4 fragments), the link 1280 (IPv6's minimum: a smaller link MTU turns IPv6
# off; IPv6 Fragment headers):
#   frag-a  10.77.0.1  fd77::1   the client: dig +bufsize=4096 (bind9-dnsutils), tcpdump
#   frag-b  10.77.0.2  fd77::2   dnsmasq, authoritative for frag.test: big.frag.test has ten
#                                TXT records of ~300 bytes (a ~3.1 KB answer: 6 IPv4
#                                fragments, 3 IPv6 ones), www.frag.test one A and one AAAA
#                                (not fragmented)
# No packet leaves the two namespaces. Everything started is stopped by PID and both
# namespaces are deleted on exit (../dissect/netns.sh). The golden file is made by running
# flowscribe on the new capture: check the diff by eye before committing it.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
OUT=${FRAG_CAPTURES_OUT:-$HERE}   # another folder: try the script without touching these
BUILD=${1:-$ROOT/build-frag}
NSC=frag-a NSS=frag-b CIP=10.77.0.1 SIP=10.77.0.2 DEVC=fragc0 DEVS=fragc1
# shellcheck source=../dissect/netns.sh
source "$HERE/../dissect/netns.sh"
ns_need dnsmasq:dnsmasq-base dig:bind9-dnsutils tcpdump:tcpdump ethtool:ethtool

ns_pair
# Fixed MACs (the static neighbours below) and the 1280-byte link MTU, set with the links down.
ip -n $NSC link set $DEVC down
ip -n $NSS link set $DEVS down
ip -n $NSC link set $DEVC address 02:77:00:00:00:01 mtu 1280
ip -n $NSS link set $DEVS address 02:77:00:00:00:02 mtu 1280
# IPv6 may be off by default on this host (net.ipv6.conf.default.disable_ipv6): on here.
C sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0 \
  "net.ipv6.conf.$DEVC.disable_ipv6=0"
S sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0 \
  "net.ipv6.conf.$DEVS.disable_ipv6=0"
ip -n $NSC addr add fd77::1/64 dev $DEVC nodad
ip -n $NSS addr add fd77::2/64 dev $DEVS nodad
ip -n $NSC link set $DEVC up
ip -n $NSS link set $DEVS up
ip -n $NSC route replace 10.77.0.0/24 dev $DEVC mtu lock 600
ip -n $NSS route replace 10.77.0.0/24 dev $DEVS mtu lock 600
# Neighbours known in advance: no ARP / neighbour discovery in the capture.
ip -n $NSC neigh add 10.77.0.2 lladdr 02:77:00:00:00:02 dev $DEVC
ip -n $NSS neigh add 10.77.0.1 lladdr 02:77:00:00:00:01 dev $DEVS
ip -n $NSC neigh add fd77::2 lladdr 02:77:00:00:00:02 dev $DEVC
ip -n $NSS neigh add fd77::1 lladdr 02:77:00:00:00:01 dev $DEVS

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
  echo "pid-file=$WORK/dnsmasq.pid"
  echo "log-facility=$WORK/dnsmasq.log"
} > "$WORK/dnsmasq.conf"

start dnsmasq-out ip netns exec $NSS dnsmasq -C "$WORK/dnsmasq.conf"
sleep 1

mkdir -p "$OUT"
start tcpdump ip netns exec $NSC tcpdump -i $DEVC -n -U -s 0 -w "$WORK/dns-frag.pcap" \
  'ip proto 17 or ip6 proto 17 or ip6 proto 44'
CAP_PID=$LAST_PID
sleep 1
D() { C dig +time=1 +tries=1 "$@" >>"$WORK/dig.out" 2>&1 || true; sleep 0.2; }
log "IPv4: a fragmented TXT answer, then a small A answer"
D +bufsize=4096 -b 10.77.0.1#41001 @10.77.0.2 big.frag.test TXT
D +bufsize=4096 -b 10.77.0.1#41002 @10.77.0.2 www.frag.test A
log "IPv6: a fragmented TXT answer, then a small AAAA answer"
D +bufsize=4096 -b fd77::1#41003 @fd77::2 big.frag.test TXT
D +bufsize=4096 -b fd77::1#41004 @fd77::2 www.frag.test AAAA
sleep 1
stop_capture "$CAP_PID"
cp "$WORK/dns-frag.pcap" "$OUT/dns-frag.pcap"
log "dns-frag.pcap: $(stat -c %s "$OUT/dns-frag.pcap") bytes"
grep -c 'part-' "$WORK/dig.out" | xargs printf '== dig printed %s TXT answers (want 20)\n' >&2

if [[ -x $BUILD/sensor/flowscribe ]]; then
  python3 "$ROOT/tests/integration/test_reassembly.py" --bin "$BUILD/sensor/flowscribe" \
    --captures "$OUT" --update
else
  log "no $BUILD/sensor/flowscribe: golden.jsonl not remade"
fi
