#!/usr/bin/env bash
# Makes the DNS dissector's captures of real traffic (tests/captures/dissect/dns/*.pcap) and
# their golden records (dns/golden.tsv). Not run by CI: it needs root, network namespaces and
# the servers below (installed when missing); the captures and the golden file are committed.
#
#   sudo bash tests/captures/dissect/make-dns-captures.sh [build-dir-with-flowscribe]
#   DNS_CAPTURES_OUT=/tmp/dns sudo -E bash ...   # writes there instead, the committed ones stay
#
# Two network namespaces joined by a veth pair (offloads off, fixed MACs), 10.63.0.0/24:
#   fsdnsc  10.63.0.1              the client: dig (bind9-dnsutils), tcpdump
#   fsdnss  10.63.0.2  dnsmasq     authoritative for test.lan (A, AAAA, CNAME, MX, TXT, SRV,
#                                  PTR, NXDOMAIN), REFUSED for other names, fail.lan forwarded
#                                  to a dead upstream (so it never answers: no-response)
#           10.63.0.4  unbound     lame.lan stubbed to dnsmasq, which refuses it: SERVFAIL
#           10.63.0.2-4:5353 avahi-daemon (mDNS: probes, announcements, legacy unicast)
# No packet leaves the two namespaces. Everything started is stopped by PID and both
# namespaces are deleted on exit (netns.sh). The golden file is made by running flowscribe on
# the new captures: check the diff by eye before committing it.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
OUT=${DNS_CAPTURES_OUT:-$HERE/dns}   # another folder: try the script without touching these
BUILD=${1:-$ROOT/build-dns}
NSC=fsdnsc NSS=fsdnss CIP=10.63.0.1 SIP=10.63.0.2 DEVC=fsdns0 DEVS=fsdns1
# shellcheck source=netns.sh
source "$HERE/netns.sh"
ns_need dnsmasq:dnsmasq-base unbound:unbound avahi-daemon:avahi-daemon dig:bind9-dnsutils \
  tcpdump:tcpdump ethtool:ethtool

ns_pair
# Fixed MACs: the link-local IPv6 address avahi announces (and so the golden file) stays the
# same. Set with the link down, so that the link-local address is made again from it.
ip -n $NSC link set $DEVC down
ip -n $NSS link set $DEVS down
ip -n $NSC link set $DEVC address 02:63:00:00:00:01
ip -n $NSS link set $DEVS address 02:63:00:00:00:02
ip -n $NSC link set $DEVC up
ip -n $NSS link set $DEVS up
for a in 10.63.0.3 10.63.0.4; do ip -n $NSS addr add $a/24 dev $DEVS; done
ip -n $NSC route add 224.0.0.0/4 dev $DEVC
ip -n $NSS route add 224.0.0.0/4 dev $DEVS

BIG=$(printf 'x%.0s' $(seq 200))
cat > "$WORK/dnsmasq.conf" <<EOF
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
pid-file=$WORK/dnsmasq.pid
log-facility=$WORK/dnsmasq.log
EOF
cat > "$WORK/unbound.conf" <<EOF
server:
  interface: 10.63.0.4
  do-daemonize: no
  chroot: ""
  username: ""
  directory: "$WORK"
  pidfile: "$WORK/unbound.pid"
  use-syslog: no
  logfile: "$WORK/unbound.log"
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
cat > "$WORK/avahi-daemon.conf" <<EOF
[server]
host-name=srv63
domain-name=local
use-ipv4=yes
use-ipv6=no
allow-interfaces=$DEVS
enable-dbus=no
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
EOF

start dnsmasq-out ip netns exec $NSS dnsmasq -C "$WORK/dnsmasq.conf"
start unbound-out ip netns exec $NSS unbound -d -c "$WORK/unbound.conf"
sleep 1

capture() {  # capture NAME: tcpdump on the client side until end_capture
  start "tcpdump-$1" ip netns exec $NSC tcpdump -i $DEVC -n -U -s 0 -w "$WORK/$1.pcap" 'udp or tcp'
  CAP_PID=$LAST_PID
  sleep 1
}
end_capture() {  # end_capture NAME
  sleep 1
  stop_capture "$CAP_PID"
  cp "$WORK/$1.pcap" "$OUT/$1.pcap"
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
end_capture dns-udp

log "dns-tcp: +tcp, a truncated answer retried over TCP, three queries on one connection"
capture dns-tcp
D @10.63.0.2 +tcp www.test.lan A
D @10.63.0.2 +noedns big.test.lan TXT
D @10.63.0.2 +tcp +keepopen www.test.lan AAAA test.lan TXT nope.test.lan A
end_capture dns-tcp

log "mdns: avahi-daemon starts (probes, announcements), legacy unicast queries"
capture mdns
start avahi ip netns exec $NSS avahi-daemon -f "$WORK/avahi-daemon.conf" --no-drop-root --no-chroot \
  --no-rlimits
sleep 4
D -p 5353 @224.0.0.251 srv63.local A
D -p 5353 @224.0.0.251 nothere.local A
sleep 1
end_capture mdns

# Golden records: flowscribe on each capture, the dns records' flow identity and fields.
if [[ -x $BUILD/sensor/flowscribe ]]; then
  python3 "$ROOT/tests/integration/test_dissect_dns.py" --bin "$BUILD/sensor/flowscribe" \
    --captures "$OUT" --write-golden
  log "wrote $OUT/golden.tsv"
else
  log "no $BUILD/sensor/flowscribe: golden.tsv not remade"
fi
