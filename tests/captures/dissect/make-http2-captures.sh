#!/bin/sh
# Regenerates tests/captures/dissect/http2/http2.pcap: real h2c (cleartext HTTP/2) traffic
# between Debian's nghttp2 tools and curl, in two network namespaces joined by a veth pair
# (h2-a 10.79.0.1 client, h2-b 10.79.0.2 server). Nothing leaves the namespaces.
# Not run by CI (needs root, nghttp2-server, nghttp2-client, curl, tcpdump); after running it,
# update the golden file: test_dissect_http2.py --update, and read its diff.
#
#   nghttpd --no-tls on port 8080 (static files, and it answers POST too; it speaks first,
#   so it cannot answer an upgrade); nghttpx (nghttp2-proxy) on port 8081 in front of it,
#   cleartext, answers Upgrade: h2c with 101 (its backend link on loopback is not captured)
#   1. nghttp, prior knowledge: three GETs on one connection (one 404)
#   2. nghttp -u via nghttpx: Upgrade: h2c + 101, then a second request on stream 3
#   3. nghttp -d: POST with a 3000-byte body, prior knowledge
#   4. curl --http2-prior-knowledge: a GET (curl 7.88 keeps the connection for its second URL
#      but sends nothing on it: one record), then a POST with a 3000-byte body
#   5. curl --http2 via nghttpx: Upgrade: h2c on a GET, then a second GET on the same connection
set -eu
out=$(cd "$(dirname "$0")" && pwd)/http2
work=$(mktemp -d)
cleanup() {
  [ -n "${srv:-}" ] && kill "$srv" 2>/dev/null || true
  [ -n "${proxy:-}" ] && kill "$proxy" 2>/dev/null || true
  [ -n "${dump:-}" ] && kill "$dump" 2>/dev/null || true
  ip netns del h2-a 2>/dev/null || true
  ip netns del h2-b 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add h2-a
ip netns add h2-b
ip link add h2-veth-a type veth peer name h2-veth-b
ip link set h2-veth-a netns h2-a
ip link set h2-veth-b netns h2-b
ip -n h2-a addr add 10.79.0.1/24 dev h2-veth-a
ip -n h2-b addr add 10.79.0.2/24 dev h2-veth-b
ip -n h2-a link set h2-veth-a up
ip -n h2-b link set h2-veth-b up
ip -n h2-a link set lo up
ip -n h2-b link set lo up
# Segments as a NIC would deliver them (no 64 KiB GSO super-frames in the capture).
ip netns exec h2-a ethtool -K h2-veth-a tso off gso off gro off >/dev/null 2>&1 || true
ip netns exec h2-b ethtool -K h2-veth-b tso off gso off gro off >/dev/null 2>&1 || true

mkdir -p "$work/www/docs"
printf '<html><body>flowscribe h2c test</body></html>\n' > "$work/www/index.html"
head -c 5000 /dev/zero | tr '\0' 'a' > "$work/www/docs/report.txt"
printf '{"ok":true}\n' > "$work/www/api.json"
head -c 3000 /dev/zero | tr '\0' 'p' > "$work/post.bin"

ip netns exec h2-b nghttpd --no-tls -d "$work/www" 8080 >/dev/null 2>&1 &
srv=$!
ip netns exec h2-b nghttpx -f '10.79.0.2,8081;no-tls' -b '127.0.0.1,8080;;proto=h2' -n 1 \
  --no-ocsp --errorlog-file=/dev/null --accesslog-file=/dev/null >/dev/null 2>&1 &
proxy=$!
ip netns exec h2-a tcpdump -i h2-veth-a -s 0 -U -w "$work/h2.pcap" tcp port 8080 or tcp port 8081 >/dev/null 2>&1 &
dump=$!
sleep 2
ua=flowscribe-test
ip netns exec h2-a nghttp -n http://10.79.0.2:8080/index.html http://10.79.0.2:8080/docs/report.txt \
  http://10.79.0.2:8080/missing.txt -H "user-agent: $ua-nghttp" -H "referer: http://10.79.0.2:8080/" || true
sleep 0.5
ip netns exec h2-a nghttp -n -u -H "user-agent: $ua-nghttp-upgrade" http://10.79.0.2:8081/index.html \
  http://10.79.0.2:8081/api.json || true
sleep 0.5
ip netns exec h2-a nghttp -n -d "$work/post.bin" -H 'content-type: application/octet-stream' \
  -H 'x-forwarded-for: 192.0.2.7' http://10.79.0.2:8080/api.json || true
sleep 0.5
ip netns exec h2-a curl -s --http2-prior-knowledge -A "$ua-curl" \
  -o /dev/null http://10.79.0.2:8080/index.html -o /dev/null http://10.79.0.2:8080/docs/report.txt || true
sleep 0.5
ip netns exec h2-a curl -s -o /dev/null --http2-prior-knowledge -A "$ua-curl" \
  --data-binary @"$work/post.bin" -H 'content-type: text/plain' http://10.79.0.2:8080/api.json || true
sleep 0.5
ip netns exec h2-a curl -s --http2 -A "$ua-curl-upgrade" \
  -o /dev/null http://10.79.0.2:8081/index.html -o /dev/null http://10.79.0.2:8081/api.json || true
sleep 1
kill "$dump"
wait "$dump" 2>/dev/null || true
dump=
cp "$work/h2.pcap" "$out/http2.pcap"
ls -l "$out/http2.pcap"
