#!/usr/bin/env bash
# Makes the DNS dissector's captures of real traffic (tests/captures/dissect/dns/*.pcap) and
# their golden records (dns/golden.tsv). Not run by CI: it needs root, network namespaces and
# the servers below; the captures and the golden file are committed.
#
#   sudo bash tests/captures/dissect/make-dns-captures.sh [build-dir-with-flowscribe]
#
# Two network namespaces joined by a veth pair (offloads off), 10.63.0.0/24:
#   fsdnsc  10.63.0.1              the client: dig (bind9-dnsutils), tcpdump
#   fsdnss  10.63.0.2  dnsmasq     authoritative for test.lan (A, AAAA, CNAME, MX, TXT, SRV,
#                                  PTR, NXDOMAIN), REFUSED for other names, fail.lan forwarded
#                                  to a dead upstream (so it never answers: no-response)
#           10.63.0.4  unbound     lame.lan stubbed to dnsmasq, which refuses it: SERVFAIL
#           10.63.0.2-4:5353 avahi-daemon (mDNS: probes, announcements, legacy unicast)
# No packet leaves the two namespaces. Everything started is stopped by PID and both
# namespaces are deleted on exit. The golden file is made by running flowscribe on the new
# captures: check the diff by eye before committing it.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
OUT=${DNS_CAPTURES_OUT:-$HERE/dns}   # another folder: try the script without touching these
BUILD=${1:-$ROOT/build-dns}
NSC=fsdnsc
NSS=fsdnss
TMP=$(mktemp -d /tmp/fs-dns-captures.XXXXXX)
PIDS=()

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'make-dns-captures: %s\n' "$*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "run as root"
for c in dnsmasq unbound avahi-daemon dig tcpdump; do
  command -v "$c" >/dev/null || [[ -x /usr/sbin/$c ]] ||
    die "$c missing: apt-get install dnsmasq-base unbound avahi-daemon bind9-dnsutils tcpdump"
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
# Fixed MACs: the link-local IPv6 address avahi announces (and so the golden file) stays the same.
ip link add fsdns0 address 02:63:00:00:00:01 type veth peer name fsdns1 address 02:63:00:00:00:02
ip link set fsdns0 netns $NSC
ip link set fsdns1 netns $NSS
ip -n $NSC addr add 10.63.0.1/24 dev fsdns0
for a in 10.63.0.2 10.63.0.3 10.63.0.4; do ip -n $NSS addr add $a/24 dev fsdns1; done
for ns in $NSC $NSS; do
  ip -n $ns link set lo up
  dev=$([[ $ns == "$NSC" ]] && echo fsdns0 || echo fsdns1)
  ip -n $ns link set $dev up
  ip netns exec $ns ethtool -K $dev tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
  ip -n $ns route add 224.0.0.0/4 dev $dev
done
C() { ip netns exec $NSC "$@"; }

BIG=$(printf 'x%.0s' $(seq 200))
cat > "$TMP/dnsmasq.conf" <<EOF
no-resolv
no-hosts
keep-in-foreground
listen-address=10.63.0.2
bind-interfaces
local=/test.lan/
host-record=www.test.lan,10.63.0.80,fd63::80
cname=web.test.lan,www.test.lan
mx-host=test.lan,mail.test.lan,10
host-record=mail.test.lan,10.63.0.25
txt-record=test.lan,"v=spf1 mx -all","hello, world"
srv-host=_ldap._tcp.test.lan,ldap.test.lan,389,0,100
host-record=ldap.test.lan,10.63.0.38
ptr-record=80.0.63.10.in-addr.arpa,www.test.lan
txt-record=big.test.lan,"$BIG","$BIG","$BIG"
server=/fail.lan/10.63.0.3#5300
pid-file=$TMP/dnsmasq.pid
log-facility=$TMP/dnsmasq.log
EOF
cat > "$TMP/unbound.conf" <<EOF
server:
  interface: 10.63.0.4
  do-daemonize: no
  chroot: ""
  username: ""
  directory: "$TMP"
  pidfile: "$TMP/unbound.pid"
  use-syslog: no
  logfile: "$TMP/unbound.log"
  access-control: 10.63.0.0/24 allow
  module-config: "iterator"
  do-ip6: no
  num-threads: 1
  outgoing-range: 32
stub-zone:
  name: "lame.lan."
  stub-addr: 10.63.0.2
remote-control:
  control-enable: no
EOF
cat > "$TMP/avahi-daemon.conf" <<EOF
[server]
host-name=srv63
domain-name=local
use-ipv4=yes
use-ipv6=no
allow-interfaces=fsdns1
enable-dbus=no
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
EOF

# Started with ip netns exec directly (not through S()), so that $! is the daemon itself
# (ip netns exec execs it) and cleanup() stops it.
ip netns exec $NSS dnsmasq -C "$TMP/dnsmasq.conf" >"$TMP/dnsmasq.out" 2>&1 &
PIDS+=($!)
ip netns exec $NSS unbound -d -c "$TMP/unbound.conf" >"$TMP/unbound.out" 2>&1 &
PIDS+=($!)
sleep 1

capture() {  # capture NAME: tcpdump on the client side until stop_capture
  # Not through C(): $! must be tcpdump itself (ip netns exec execs it), not a subshell.
  ip netns exec $NSC tcpdump -i fsdns0 -n -U -s 0 -w "$TMP/$1.pcap" 'udp or tcp' >/dev/null 2>&1 &
  CAP_PID=$!
  sleep 1
}
stop_capture() {  # stop_capture NAME
  sleep 1
  kill -TERM $CAP_PID
  wait $CAP_PID 2>/dev/null || true
  cp "$TMP/$1.pcap" "$OUT/$1.pcap"
  log "$1.pcap: $(stat -c %s "$OUT/$1.pcap") bytes"
}
D() { C dig +time=1 +tries=1 "$@" >/dev/null 2>&1 || true; }

mkdir -p "$OUT"
log "dns-udp: one query per flow, then several on one source port"
capture dns-udp
D @10.63.0.2 www.test.lan A
D @10.63.0.2 www.test.lan AAAA
D @10.63.0.2 web.test.lan A
D @10.63.0.2 test.lan MX
D @10.63.0.2 test.lan TXT
D @10.63.0.2 _ldap._tcp.test.lan SRV
D @10.63.0.2 -x 10.63.0.80
D @10.63.0.2 nope.test.lan A
D @10.63.0.2 example.com A
D @10.63.0.4 www.lame.lan A
C dig +time=1 +tries=2 @10.63.0.2 x.fail.lan A >/dev/null 2>&1 || true   # no response, sent twice
D @10.63.0.2 +noedns +ignore big.test.lan TXT                               # TC over UDP
D @10.63.0.2 -b 10.63.0.1#40053 www.test.lan A test.lan MX nope.test.lan A
stop_capture dns-udp

log "dns-tcp: +tcp, a truncated answer retried over TCP, three queries on one connection"
capture dns-tcp
D @10.63.0.2 +tcp www.test.lan A
D @10.63.0.2 +noedns big.test.lan TXT
D @10.63.0.2 +tcp +keepopen www.test.lan AAAA test.lan TXT nope.test.lan A
stop_capture dns-tcp

log "mdns: avahi-daemon starts (probes, announcements), legacy unicast queries"
capture mdns
ip netns exec $NSS avahi-daemon -f "$TMP/avahi-daemon.conf" --no-drop-root --no-chroot \
  --no-rlimits >"$TMP/avahi.out" 2>&1 &
PIDS+=($!)
sleep 4
D -p 5353 @224.0.0.251 srv63.local A
D -p 5353 @224.0.0.251 nothere.local A
sleep 1
stop_capture mdns

# Golden records: flowscribe on each capture, the dns records' flow identity and fields.
if [[ -x $BUILD/sensor/flowscribe ]]; then
  python3 "$ROOT/tests/integration/test_dissect_dns.py" --bin "$BUILD/sensor/flowscribe" \
    --captures "$OUT" --write-golden
  log "wrote $OUT/golden.tsv"
else
  log "no $BUILD/sensor/flowscribe: golden.tsv not remade"
fi
