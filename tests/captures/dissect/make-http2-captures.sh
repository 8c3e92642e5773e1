#!/usr/bin/env bash
# Regenerates tests/captures/dissect/http2/http2.pcap: real h2c (cleartext HTTP/2) traffic
# between Debian's nghttp2 tools and curl, in two network namespaces joined by a veth pair
# with offloads off (h2-a 10.79.0.1 client, h2-b 10.79.0.2 server). Nothing leaves the
# namespaces. Not run by CI (needs root, nghttp2-server, nghttp2-client, curl, tcpdump,
# installed when missing); after running it, update the golden file:
# test_dissect_http2.py --update, and read its diff.
#
#   sudo bash tests/captures/dissect/make-http2-captures.sh
#   HTTP2_CAPTURES_OUT=/tmp/h2 sudo -E bash ...   # writes there instead, the committed one stays
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
# Everything started is stopped by PID and both namespaces are deleted on exit (netns.sh).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${HTTP2_CAPTURES_OUT:-$HERE/http2}   # another folder: try the script without touching these
NSC=h2-a NSS=h2-b CIP=10.79.0.1 SIP=10.79.0.2 DEVC=h2-veth-a DEVS=h2-veth-b
# shellcheck source=netns.sh
source "$HERE/netns.sh"
ns_need tcpdump:tcpdump ethtool:ethtool curl:curl nghttpd:nghttp2-server nghttpx:nghttp2-proxy \
  nghttp:nghttp2-client
ns_pair

mkdir -p "$WORK/www/docs"
printf '<html><body>flowscribe h2c test</body></html>\n' > "$WORK/www/index.html"
head -c 5000 /dev/zero | tr '\0' 'a' > "$WORK/www/docs/report.txt"
printf '{"ok":true}\n' > "$WORK/www/api.json"
head -c 3000 /dev/zero | tr '\0' 'p' > "$WORK/post.bin"

start nghttpd ip netns exec $NSS nghttpd --no-tls -d "$WORK/www" 8080
start nghttpx ip netns exec $NSS nghttpx -f "$SIP,8081;no-tls" -b '127.0.0.1,8080;;proto=h2' -n 1 \
  --no-ocsp --errorlog-file=/dev/null --accesslog-file=/dev/null
start tcpdump ip netns exec $NSC tcpdump -i $DEVC -s 0 -U -w "$WORK/h2.pcap" tcp port 8080 or tcp port 8081
dump=$LAST_PID
wait_listen 8080
wait_listen 8081
sleep 1
ua=flowscribe-test
C nghttp -n http://10.79.0.2:8080/index.html http://10.79.0.2:8080/docs/report.txt \
  http://10.79.0.2:8080/missing.txt -H "user-agent: $ua-nghttp" -H "referer: http://10.79.0.2:8080/" || true
sleep 0.5
C nghttp -n -u -H "user-agent: $ua-nghttp-upgrade" http://10.79.0.2:8081/index.html \
  http://10.79.0.2:8081/api.json || true
sleep 0.5
C nghttp -n -d "$WORK/post.bin" -H 'content-type: application/octet-stream' \
  -H 'x-forwarded-for: 192.0.2.7' http://10.79.0.2:8080/api.json || true
sleep 0.5
C curl -s --http2-prior-knowledge -A "$ua-curl" \
  -o /dev/null http://10.79.0.2:8080/index.html -o /dev/null http://10.79.0.2:8080/docs/report.txt || true
sleep 0.5
C curl -s -o /dev/null --http2-prior-knowledge -A "$ua-curl" \
  --data-binary @"$WORK/post.bin" -H 'content-type: text/plain' http://10.79.0.2:8080/api.json || true
sleep 0.5
C curl -s --http2 -A "$ua-curl-upgrade" \
  -o /dev/null http://10.79.0.2:8081/index.html -o /dev/null http://10.79.0.2:8081/api.json || true
sleep 1
stop_capture "$dump"
[[ -s $WORK/h2.pcap ]] || die "empty capture"
mkdir -p "$OUT"
cp "$WORK/h2.pcap" "$OUT/http2.pcap"
ls -l "$OUT/http2.pcap"
