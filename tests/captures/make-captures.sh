#!/usr/bin/env bash
# Make the small real-traffic captures in tests/captures/ and their expected flows.
#
#   sudo bash tests/captures/make-captures.sh
#
# Builds two network namespaces (client fsc, server fss) joined by a veth pair,
# runs real servers (nginx, dnsmasq) in fss and real clients (curl, dig, ping,
# nc) in fsc, and captures with tcpdump. No packet leaves the two namespaces.
# Idempotent: it removes what an earlier run left, and everything it starts is
# stopped by PID and both namespaces are deleted on exit. See README.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$HERE
EXP=$HERE/expected
STATE=/run/flowscribe-captures   # PID files, so a later run can clean up after a killed one
NSC=fsc
NSS=fss
PY=/usr/bin/python3
C_MAC=02:77:00:00:00:01
S_MAC=02:77:00:00:00:02

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'make-captures: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root: sudo bash $0"

install_deps() {
  local need=()
  command -v tcpdump >/dev/null || need+=(tcpdump)
  command -v nginx >/dev/null || need+=(nginx-light)
  command -v dnsmasq >/dev/null || need+=(dnsmasq-base)   # binary only: no service starts on the host
  command -v curl >/dev/null || need+=(curl)
  command -v dig >/dev/null || need+=(dnsutils)
  command -v ip >/dev/null || need+=(iproute2)
  command -v ethtool >/dev/null || need+=(ethtool)
  command -v ping >/dev/null || need+=(iputils-ping)
  [[ -x /bin/nc.openbsd || -x /usr/bin/nc.openbsd ]] || need+=(netcat-openbsd)
  [[ -x $PY ]] || need+=(python3)
  if ((${#need[@]})); then
    log "installing ${need[*]}"
    local policy_made=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then   # keep package scripts from starting daemons on the host
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
      chmod 755 /usr/sbin/policy-rc.d
      policy_made=1
    fi
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
    ((policy_made)) && rm -f /usr/sbin/policy-rc.d
  fi
}

# Stop every process an earlier or this run recorded (by PID, and its process
# group: each was started under setsid, so the group is the daemon and its
# workers), then delete the namespaces.
cleanup() {
  local f pid
  if [[ -d $STATE ]]; then
    for f in "$STATE"/*.pid; do
      [[ -e $f ]] || continue
      pid=$(<"$f")
      if [[ $pid =~ ^[0-9]+$ ]] && [[ -e /proc/$pid ]]; then
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do [[ -e /proc/$pid ]] || break; sleep 0.1; done
        [[ -e /proc/$pid ]] && kill -KILL -- "-$pid" 2>/dev/null || true
      fi
      rm -f "$f"
    done
  fi
  ip netns del "$NSC" 2>/dev/null || true
  ip netns del "$NSS" 2>/dev/null || true
  [[ -n ${WORK:-} && -d ${WORK:-} && -z ${KEEP_WORK:-} ]] && rm -rf "$WORK"
  return 0
}

# start NAME CMD...: run CMD in its own session, remember its PID.
start() {
  local name=$1; shift
  setsid "$@" >"$WORK/$name.log" 2>&1 &
  echo $! >"$STATE/$name.pid"
}

# stop NAME: TERM the process group started by `start NAME`, wait for it.
stop() {
  local f=$STATE/$1.pid pid
  [[ -e $f ]] || return 0
  pid=$(<"$f")
  kill -"${2:-TERM}" -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$f"
}

wait_for() {  # wait_for SECONDS CMD...: poll until CMD succeeds
  local n=$(($1 * 10)); shift
  until "$@" >/dev/null 2>&1; do
    ((n-- > 0)) || die "timed out waiting for: $*"
    sleep 0.1
  done
}

C() { ip netns exec "$NSC" "$@"; }
S() { ip netns exec "$NSS" "$@"; }

install_deps
mkdir -p "$STATE" "$EXP"
cleanup
WORK=$(mktemp -d /tmp/fs-captures.XXXXXX)
chmod 755 "$WORK"
NEW=$WORK/new   # outputs land here and replace tests/captures/ only after a complete run
mkdir -p "$NEW/expected"
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- topology
log "namespaces $NSC (client) and $NSS (server)"
ip netns add "$NSC"
ip netns add "$NSS"
for ns in "$NSC" "$NSS"; do
  ip -n "$ns" link set lo up
  # Quiet links: no router solicitations, no DAD probes before the captures.
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.router_solicitations=0 \
    net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
done
ip link add fsc-eth0 netns "$NSC" address "$C_MAC" type veth peer name fss-eth0 netns "$NSS" address "$S_MAC"
for pair in "$NSC fsc-eth0" "$NSS fss-eth0"; do
  set -- $pair
  ip netns exec "$1" ethtool -K "$2" tx off rx off tso off gso off gro off >/dev/null
  # Keep VLAN tags in the frame data too (not every kernel offers these).
  ip netns exec "$1" ethtool -K "$2" txvlan off rxvlan off 2>/dev/null || true
  ip netns exec "$1" ethtool -K "$2" tx-vlan-stag-hw-insert off rx-vlan-stag-hw-parse off 2>/dev/null || true
  ip -n "$1" link set "$2" up
done
ip -n "$NSC" addr add 10.77.0.1/24 dev fsc-eth0
ip -n "$NSC" addr add fd77::1/64 dev fsc-eth0 nodad
ip -n "$NSS" addr add 10.77.0.2/24 dev fss-eth0
ip -n "$NSS" addr add fd77::2/64 dev fss-eth0 nodad

# VLANs. `ip link add ... type vlan` needs the kernel's 8021q module; where it
# exists use it, else relay.py pushes/pops the tags between a TAP and the veth.
if ip -n "$NSC" link add link fsc-eth0 name fsc-v100 type vlan id 100 2>/dev/null; then
  log "VLANs: kernel 8021q"
  ip -n "$NSS" link add link fss-eth0 name fss-v100 type vlan id 100
  ip -n "$NSC" link add link fsc-eth0 name fsc-s200 type vlan proto 802.1ad id 200
  ip -n "$NSS" link add link fss-eth0 name fss-s200 type vlan proto 802.1ad id 200
  ip -n "$NSC" link add link fsc-s200 name fsc-q300 type vlan id 300
  ip -n "$NSS" link add link fss-s200 name fss-q300 type vlan id 300
  for ns in "$NSC" "$NSS"; do ip -n "$ns" link set "${ns}-s200" up; done
  VLAN_MODE=kernel
else
  log "VLANs: no 8021q in this kernel, using relay.py TAP relays"
  start relay-vlan-c ip netns exec "$NSC" "$PY" -u "$HERE/relay.py" vlan --dev fsc-eth0 \
    --tap fsc-v100=8100:100 --tap fsc-q300=88a8:200/8100:300
  start relay-vlan-s ip netns exec "$NSS" "$PY" -u "$HERE/relay.py" vlan --dev fss-eth0 \
    --tap fss-v100=8100:100 --tap fss-q300=88a8:200/8100:300
  wait_for 10 grep -q ready "$WORK/relay-vlan-c.log"
  wait_for 10 grep -q ready "$WORK/relay-vlan-s.log"
  # A VLAN subinterface shares its parent's MAC address.
  for d in fsc-v100 fsc-q300; do ip -n "$NSC" link set "$d" address "$C_MAC"; done
  for d in fss-v100 fss-q300; do ip -n "$NSS" link set "$d" address "$S_MAC"; done
  VLAN_MODE=relay
fi
# Two tags must fit in the veth's 1500-byte MTU.
for ns in "$NSC" "$NSS"; do
  ip -n "$ns" link set "${ns}-v100" up
  ip -n "$ns" link set "${ns}-q300" mtu 1492 up
done
ip -n "$NSC" addr add 10.77.100.1/24 dev fsc-v100
ip -n "$NSC" addr add fd77:100::1/64 dev fsc-v100 nodad
ip -n "$NSS" addr add 10.77.100.2/24 dev fss-v100
ip -n "$NSS" addr add fd77:100::2/64 dev fss-v100 nodad
ip -n "$NSC" addr add 10.77.200.1/24 dev fsc-q300
ip -n "$NSC" addr add fd77:200::1/64 dev fsc-q300 nodad
ip -n "$NSS" addr add 10.77.200.2/24 dev fss-q300
ip -n "$NSS" addr add fd77:200::2/64 dev fss-q300 nodad

# A point-to-point IP link between two TUN devices: tcpdump sees LINKTYPE_RAW.
start relay-tun "$PY" -u "$HERE/relay.py" tunpair --ns-a "$NSC" --tun-a fsc-tun --ns-b "$NSS" --tun-b fss-tun
wait_for 10 grep -q ready "$WORK/relay-tun.log"
ip -n "$NSC" addr add 10.77.50.1 peer 10.77.50.2 dev fsc-tun
ip -n "$NSC" addr add fd77:50::1/64 dev fsc-tun nodad
ip -n "$NSS" addr add 10.77.50.2 peer 10.77.50.1 dev fss-tun
ip -n "$NSS" addr add fd77:50::2/64 dev fss-tun nodad
ip -n "$NSC" link set fsc-tun up
ip -n "$NSS" link set fss-tun up

# ---------------------------------------------------------------- servers
log "servers in $NSS: nginx on 80 and 8081, dnsmasq on 53"
mkdir -p "$WORK/www" "$WORK/nginx-tmp"
printf '<!doctype html>\n<html><head><title>flowscribe test</title></head>\n<body><p>Hello from the flowscribe capture server.</p></body></html>\n' >"$WORK/www/index.html"
for i in $(seq 1 30); do printf 'a.txt line %02d: the quick brown fox jumps over the lazy dog\n' "$i"; done >"$WORK/www/a.txt"
for i in $(seq 1 50); do printf 'b.txt line %02d: pack my box with five dozen liquor jugs, twice\n' "$i"; done >"$WORK/www/b.txt"
chmod -R a+rX "$WORK/www"
cat >"$WORK/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 64; }
http {
  access_log $WORK/nginx-access.log;
  client_body_temp_path $WORK/nginx-tmp/body;
  proxy_temp_path $WORK/nginx-tmp/proxy;
  fastcgi_temp_path $WORK/nginx-tmp/fastcgi;
  uwsgi_temp_path $WORK/nginx-tmp/uwsgi;
  scgi_temp_path $WORK/nginx-tmp/scgi;
  types { text/html html; text/plain txt; }
  default_type application/octet-stream;
  server_tokens off;
  keepalive_timeout 10;
  server {
    listen 80; listen [::]:80;
    listen 8081; listen [::]:8081;
    root $WORK/www;
  }
}
EOF
start nginx ip netns exec "$NSS" nginx -p "$WORK" -e "$WORK/nginx-error.log" -c "$WORK/nginx.conf"

chunk() { local s; s=$(printf 'big.fs.test chunk %02d ' "$1"); while ((${#s} < 240)); do s+="flowscribe-"; done; printf '%s' "${s:0:240}"; }
BIG_TXT="--txt-record=big.fs.test"
for i in $(seq 1 13); do BIG_TXT+=",\"$(chunk "$i")\""; done
start dnsmasq ip netns exec "$NSS" dnsmasq --keep-in-foreground --conf-file=/dev/null \
  --no-resolv --no-hosts --no-poll --log-facility=- --log-queries --pid-file= \
  --bind-interfaces --user=root --group=root \
  --listen-address=10.77.0.2,fd77::2,10.77.100.2,fd77:100::2,10.77.200.2,fd77:200::2,10.77.50.2,fd77:50::2 \
  --local=/fs.test/ --edns-packet-max=4096 \
  --host-record=www.fs.test,10.77.0.2,fd77::2 \
  --host-record=mail.fs.test,10.77.0.25 \
  --mx-host=fs.test,mail.fs.test,10 \
  --txt-record=fs.test,"v=flowscribe-test" \
  "$BIG_TXT"

wait_for 10 S bash -c 'exec 3<>/dev/tcp/10.77.0.2/80'
wait_for 10 S bash -c 'exec 3<>/dev/tcp/10.77.0.2/8081'
wait_for 10 S bash -c 'exec 3<>/dev/tcp/10.77.0.2/53'
# Let link-up chatter (MLD reports) die down before the first capture.
sleep 3

# ---------------------------------------------------------------- captures
# capture NAME NS IFACE [tcpdump options]: start tcpdump, wait until it listens.
CAP_NAME=
capture() {
  CAP_NAME=$1
  local ns=$2 ifc=$3; shift 3
  # Empty neighbour caches, so each capture holds its own ARP / NDP exchange.
  for n in "$NSC" "$NSS"; do ip -n "$n" neigh flush all 2>/dev/null || true; ip -n "$n" -6 neigh flush all 2>/dev/null || true; done
  start "tcpdump-$CAP_NAME" ip netns exec "$ns" tcpdump -Z root -U -n -s 262144 -i "$ifc" "$@" -w "$WORK/$CAP_NAME.pcap"
  wait_for 10 grep -q 'listening on' "$WORK/tcpdump-$CAP_NAME.log"
  sleep 0.5
  log "capture $CAP_NAME on $ns/$ifc"
}
end_capture() {
  sleep 1
  stop "tcpdump-$CAP_NAME" INT
  grep -v -e '^listening on' -e 'packets captured' -e 'packets received by filter' -e 'packets dropped by kernel' \
    "$WORK/tcpdump-$CAP_NAME.log" >&2 || true
  cp "$WORK/$CAP_NAME.pcap" "$NEW/$CAP_NAME.pcap"
}
gap() { sleep 0.3; }
CURL=(curl -sS --max-time 5 -o /dev/null)
DIG=(dig +tries=1 +time=2)

capture basic "$NSC" fsc-eth0
C "${CURL[@]}" -o /dev/null http://10.77.0.2/index.html http://10.77.0.2/a.txt; gap   # keep-alive, 2 requests
C "${CURL[@]}" http://10.77.0.2:8081/b.txt; gap
C "${CURL[@]}" http://10.77.0.2:81/ 2>/dev/null || true; gap                            # closed port: RST
C "${DIG[@]}" @10.77.0.2 www.fs.test A >/dev/null; gap
C "${DIG[@]}" @10.77.0.2 fs.test MX >/dev/null; gap
C "${DIG[@]}" @10.77.0.2 nope.fs.test A >/dev/null; gap                                # NXDOMAIN
C "${DIG[@]}" +tcp @10.77.0.2 fs.test TXT >/dev/null; gap
C "${DIG[@]}" @fd77::2 www.fs.test AAAA >/dev/null; gap
C ping -n -q -c 2 -i 0.2 10.77.0.2 >/dev/null; gap
C ping -6 -n -q -c 2 -i 0.2 fd77::2 >/dev/null; gap
C "${CURL[@]}" -6 'http://[fd77::2]/index.html'; gap
printf 'hello, nobody\n' | C nc -u -w 1 10.77.0.2 9999 || true                          # ICMP port unreachable
end_capture

capture vlan "$NSC" fsc-eth0
C "${CURL[@]}" -o /dev/null http://10.77.100.2/index.html http://10.77.100.2/a.txt; gap
C "${DIG[@]}" @10.77.100.2 www.fs.test A >/dev/null; gap
C ping -n -q -c 1 10.77.100.2 >/dev/null; gap
C "${CURL[@]}" -6 'http://[fd77:100::2]:8081/index.html'
end_capture

capture qinq "$NSC" fsc-eth0
C "${CURL[@]}" http://10.77.200.2/index.html; gap
C "${DIG[@]}" @10.77.200.2 fs.test MX >/dev/null; gap
C "${CURL[@]}" -6 'http://[fd77:200::2]/index.html'
end_capture

for lt in LINUX_SLL LINUX_SLL2; do
  name=sll; [[ $lt == LINUX_SLL2 ]] && name=sll2
  capture "$name" "$NSC" any -y "$lt"
  C "${CURL[@]}" http://10.77.0.2/index.html; gap
  C "${CURL[@]}" -6 'http://[fd77::2]:8081/index.html'
  end_capture
done

capture raw "$NSC" fsc-tun
C "${CURL[@]}" http://10.77.50.2/a.txt; gap
C "${DIG[@]}" @10.77.50.2 www.fs.test A >/dev/null; gap
C ping -n -q -c 2 -i 0.2 10.77.50.2 >/dev/null; gap
C "${CURL[@]}" -6 'http://[fd77:50::2]/index.html'; gap
C ping -6 -n -q -c 1 fd77:50::2 >/dev/null
end_capture

capture fragments "$NSC" fsc-eth0
C ping -n -q -c 1 -s 3000 10.77.0.2 >/dev/null; gap
C ping -6 -n -q -c 1 -s 3000 fd77::2 >/dev/null; gap
C "${DIG[@]}" +bufsize=4096 +ignore @10.77.0.2 big.fs.test TXT >/dev/null; gap    # ~3.2 KB answer
# One 4000-byte datagram to a closed port: 3 IPv6 fragments, then ICMPv6 unreachable.
"$PY" -c 'import sys; sys.stdout.buffer.write(b"F" * 4000)' | C nc -u -w 1 fd77::2 9999 || true
end_capture

log "stopping servers and relays"
stop nginx
stop dnsmasq
stop relay-tun
stop relay-vlan-c
stop relay-vlan-s

# ---------------------------------------------------------------- derived files
log "derived captures"
cd "$NEW"
"$PY" "$HERE/convert.py" relink --to raw basic.pcap basic-raw.pcap
"$PY" "$HERE/convert.py" relink --to null basic.pcap null.pcap
"$PY" "$HERE/convert.py" relink --to loop basic.pcap loop.pcap
"$PY" "$HERE/convert.py" pcapng basic.pcap basic.pcapng
"$PY" "$HERE/convert.py" nanosec basic.pcap basic-ns.pcap
"$PY" "$HERE/convert.py" truncate --records 20 basic.pcap truncated.pcap
"$PY" "$HERE/convert.py" corrupt basic.pcap corrupt.pcap
printf 'this is not a capture file\n' >notapcap.pcap

log "expected flows"
for f in *.pcap *.pcapng; do
  rc=0
  "$PY" "$HERE/flows.py" --summary "$f" >"expected/$f.flows" || rc=$?   # e.g. expected/basic.pcap.flows
  case $f in
    truncated.pcap | corrupt.pcap) [[ $rc -eq 2 ]] || die "$f: flows.py exit $rc, wanted 2" ;;
    notapcap.pcap) [[ $rc -eq 1 ]] || die "$f: flows.py exit $rc, wanted 1" ;;
    *) [[ $rc -eq 0 ]] || die "$f: flows.py exit $rc" ;;
  esac
done

log "checking that the good captures read cleanly"
for f in *.pcap *.pcapng; do
  case $f in truncated.pcap | corrupt.pcap | notapcap.pcap) continue ;; esac
  tcpdump -nr "$f" >/dev/null 2>"$WORK/check.err" || { cat "$WORK/check.err" >&2; die "tcpdump cannot read $f"; }
  printf '%-16s %7d bytes  %s\n' "$f" "$(stat -c %s "$f")" "$(grep -o 'link-type [^ ]* ([^)]*)' "$WORK/check.err")" >&2
done
rm -f "$EXP"/*.flows
cp -- *.pcap *.pcapng "$OUT/"
cp -- expected/*.flows "$EXP/"
log "done (VLANs: $VLAN_MODE); captures in $OUT, expected flows in $EXP"
