#!/bin/bash
# Regenerates the OpenVPN captures under tests/captures/dissect/openvpn/ (not run by CI: needs
# root, the openvpn, openssl and tcpdump Debian packages). Two network namespaces joined by a
# veth pair (10.67.0.1 server, 10.67.0.2 client); openvpn in point-to-point TLS mode with
# `--dev null` (no tun device), a throw-away self-signed CA made by openssl. Each capture is one
# handshake: TLS 1.2 (so the certificates are in clear) and, for one, tls-auth.
#   udp-plain.pcap     UDP, no tls-auth
#   tcp-tlsauth.pcap   TCP, tls-auth with auth SHA1 (20-byte HMAC)
#   udp-tlsauth.pcap   UDP, tls-auth with auth SHA512 (64-byte HMAC)
set -euo pipefail
OUT=$(cd "$(dirname "$0")" && pwd)/openvpn
W=$(mktemp -d)
S=openvpn-srv C=openvpn-cli
cleanup() {
  ip netns pids $S 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip netns pids $C 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip netns del $S 2>/dev/null || true
  ip netns del $C 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
cleanup; W=$(mktemp -d)
ip netns add $S; ip netns add $C
ip link add ovpn-s type veth peer name ovpn-c
ip link set ovpn-s netns $S; ip link set ovpn-c netns $C
ip -n $S addr add 10.67.0.1/24 dev ovpn-s; ip -n $C addr add 10.67.0.2/24 dev ovpn-c
for n in $S $C; do ip -n $n link set lo up; done
ip -n $S link set ovpn-s up; ip -n $C link set ovpn-c up

cd "$W"
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

# capture NAME PROTO EXTRA-ARGS...
capture() {
  local name=$1 proto=$2; shift 2
  local sproto=$proto cproto=$proto
  if [ $proto = tcp ]; then sproto=tcp-server; cproto=tcp-client; fi
  ip netns exec $S tcpdump -i ovpn-s -U -w "$W/$name.pcap" -s 0 "host 10.67.0.2" 2>/dev/null &
  local td=$!
  sleep 1
  ip netns exec $S openvpn --dev null --tls-server --ca ca.crt --cert server.crt --key server.key \
    --dh none --proto $sproto --local 10.67.0.1 --lport 1194 --tls-version-max 1.2 \
    --verb 1 "$@" > "$W/$name-srv.log" 2>&1 &
  local sp=$!
  sleep 1
  ip netns exec $C timeout 10 openvpn --dev null --tls-client --ca ca.crt --cert client.crt \
    --key client.key --proto $cproto --remote 10.67.0.1 1194 --nobind --verb 1 \
    --remote-cert-tls server --tls-version-max 1.2 "$@" > "$W/$name-cli.log" 2>&1 &
  local cp=$!
  for _ in $(seq 1 40); do grep -q "Initialization Sequence Completed" "$W/$name-cli.log" && break; sleep 0.25; done
  sleep 1
  kill $cp $sp 2>/dev/null || true
  wait $cp $sp 2>/dev/null || true
  sleep 0.5
  kill $td; wait $td 2>/dev/null || true
  cp "$W/$name.pcap" "$OUT/$name.pcap"
  grep -q "Initialization Sequence Completed" "$W/$name-cli.log" || { echo "$name: no handshake"; cat "$W/$name-cli.log"; exit 1; }
}
capture udp-plain udp
capture tcp-tlsauth tcp --tls-auth ta.key --auth SHA1
capture udp-tlsauth udp --tls-auth ta.key --auth SHA512
ls -l "$OUT"
