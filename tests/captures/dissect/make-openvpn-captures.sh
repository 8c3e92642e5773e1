#!/usr/bin/env bash
# Regenerates the OpenVPN captures under tests/captures/dissect/openvpn/ (not run by CI: needs
# root, the openvpn, openssl and tcpdump Debian packages, installed when missing). Two network
# namespaces joined by a veth pair with offloads off (openvpn-srv 10.67.0.1 server,
# openvpn-cli 10.67.0.2 client); openvpn in point-to-point TLS mode with `--dev null` (no tun
# device), a throw-away self-signed CA made by openssl. Each capture is one handshake: TLS 1.2
# (so the certificates are in clear) and, for one, tls-auth.
#   udp-plain.pcap     UDP, no tls-auth
#   tcp-tlsauth.pcap   TCP, tls-auth with auth SHA1 (20-byte HMAC)
#   udp-tlsauth.pcap   UDP, tls-auth with auth SHA512 (64-byte HMAC)
# Everything started is stopped by PID and both namespaces are deleted on exit (netns.sh).
#
#   sudo bash tests/captures/dissect/make-openvpn-captures.sh
#   OPENVPN_CAPTURES_OUT=/tmp/ovpn sudo -E bash ...   # writes there instead, the committed ones stay
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${OPENVPN_CAPTURES_OUT:-$HERE/openvpn}   # another folder: try the script without touching these
NSC=openvpn-cli NSS=openvpn-srv CIP=10.67.0.2 SIP=10.67.0.1 DEVC=ovpn-c DEVS=ovpn-s
# shellcheck source=netns.sh
source "$HERE/netns.sh"
ns_need tcpdump:tcpdump ethtool:ethtool openssl:openssl openvpn:openvpn
ns_pair

cd "$WORK"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
  -subj "/O=flowscribe test/CN=flowscribe openvpn CA" 2>/dev/null
for who in server client; do
  openssl req -newkey rsa:2048 -nodes -keyout $who.key -out $who.csr \
    -subj "/O=flowscribe test/CN=openvpn-$who.test" 2>/dev/null
  if [ $who = server ]; then ext="extendedKeyUsage=serverAuth"; else ext="extendedKeyUsage=clientAuth"; fi
  openssl x509 -req -in $who.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out $who.crt -days 3650 \
    -extfile <(printf "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n%s\n" "$ext") 2>/dev/null
done
openvpn --genkey secret ta.key

stop_both() {  # stop_both PID PID: SIGTERM to both process groups at once, wait for them
  local pid
  for pid in "$@"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for pid in "$@"; do
    for _ in $(seq 1 30); do [[ -e /proc/$pid ]] || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
}

# capture NAME PROTO EXTRA-ARGS...
capture() {
  local name=$1 proto=$2; shift 2
  local sproto=$proto cproto=$proto
  if [ "$proto" = tcp ]; then sproto=tcp-server; cproto=tcp-client; fi
  start "$name-tcpdump" ip netns exec $NSS tcpdump -i $DEVS -U -w "$WORK/$name.pcap" -s 0 "host $CIP"
  local td=$LAST_PID
  sleep 1
  start "$name-srv" ip netns exec $NSS openvpn --dev null --tls-server --ca ca.crt --cert server.crt \
    --key server.key --dh none --proto "$sproto" --local $SIP --lport 1194 --tls-version-max 1.2 \
    --verb 1 "$@"
  local sp=$LAST_PID
  sleep 1
  start "$name-cli" ip netns exec $NSC timeout 10 openvpn --dev null --tls-client --ca ca.crt \
    --cert client.crt --key client.key --proto "$cproto" --remote $SIP 1194 --nobind --verb 1 \
    --remote-cert-tls server --tls-version-max 1.2 "$@"
  local cp=$LAST_PID
  for _ in $(seq 1 40); do grep -q "Initialization Sequence Completed" "$WORK/$name-cli.log" && break; sleep 0.25; done
  sleep 1
  stop_both "$cp" "$sp"
  sleep 1.5  # tcpdump gets packets in blocks up to 1 s old: the closing ones need that to reach it
  stop_capture "$td"
  cp "$WORK/$name.pcap" "$OUT/$name.pcap"
  grep -q "Initialization Sequence Completed" "$WORK/$name-cli.log" || { echo "$name: no handshake"; cat "$WORK/$name-cli.log"; exit 1; }
}
mkdir -p "$OUT"
capture udp-plain udp
capture tcp-tlsauth tcp --tls-auth ta.key --auth SHA1
capture udp-tlsauth udp --tls-auth ta.key --auth SHA512
ls -l "$OUT"
