#!/usr/bin/env bash
# Make the HTTP dissector's capture of real traffic (tests/captures/dissect/http/http.pcap).
# Not run by CI: the capture is committed, and tests/integration/test_dissect_http.py compares
# flowscribe's http records on it with http/golden.tsv. Regenerate both after a change:
#
#   sudo bash tests/captures/dissect/make-http-captures.sh
#   python3 tests/integration/test_dissect_http.py --bin build/sensor/flowscribe \
#       --check build/tests/tools/rfc5424_check --captures tests/captures/dissect/http --update
#   (then read the golden diff: every line must be what the traffic really was)
#
# Two network namespaces, client fshc (10.61.0.1) and server fshs (10.61.0.2), joined by a
# veth pair with offloads off; nothing is sent anywhere else. Servers in fshs: nginx (port
# 80: static files, gzip, Content-Disposition, 404, POST) and http-aux-server.py on Python's
# http.server (port 8080: CONNECT tunnel, WebSocket 101). Clients in fshc: curl (keep-alive
# to several URLs, POST form and multipart, chunked upload, gzip, HEAD, 304, HTTP/1.0, h2c
# upgrade offer, refused and accepted CONNECT, WebSocket upgrade) and nc (a pipelined pair,
# an HTTP/0.9 request). tcpdump captures in fshc. Everything started is stopped by PID and
# both namespaces are deleted on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$HERE/http
NSC=fshc
NSS=fshs
CIP=10.61.0.1
SIP=10.61.0.2
PY=/usr/bin/python3

DEVC=fh-c DEVS=fh-s
# shellcheck source=netns.sh
source "$HERE/netns.sh"
ns_need tcpdump:tcpdump nginx:nginx-light curl:curl nc.openbsd:netcat-openbsd ethtool:ethtool
ns_pair

# ---------------------------------------------------------------- content
mkdir -p "$WORK/www/download" "$WORK/tmp"
printf '<!doctype html>\n<html><head><title>flowscribe http test</title></head>\n<body><p>Hello.</p></body></html>\n' >"$WORK/www/index.html"
printf 'body { color: #333; }\n' >"$WORK/www/style.css"
printf 'console.log("flowscribe");\n' >"$WORK/www/app.js"
for i in $(seq 1 120); do printf 'line %03d: the quick brown fox jumps over the lazy dog\n' "$i"; done >"$WORK/www/big.txt"
printf 'quarterly numbers\n' >"$WORK/www/download/report.txt"
printf 'r\xc3\xa9sum\xc3\xa9\n' >"$WORK/www/download/cv.txt"
chmod -R a+rX "$WORK/www"

cat >"$WORK/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 64; }
http {
  access_log $WORK/nginx-access.log;
  client_body_temp_path $WORK/tmp/body;
  proxy_temp_path $WORK/tmp/proxy;
  fastcgi_temp_path $WORK/tmp/fastcgi;
  uwsgi_temp_path $WORK/tmp/uwsgi;
  scgi_temp_path $WORK/tmp/scgi;
  types { text/html html; text/plain txt; text/css css; application/javascript js; }
  default_type application/octet-stream;
  server_tokens off;
  keepalive_timeout 10;
  gzip on;
  gzip_types text/plain text/css;
  gzip_min_length 256;
  server {
    listen $SIP:80;
    root $WORK/www;
    location = /download/report.txt {
      add_header Content-Disposition 'attachment; filename="Q3 report.txt"';
    }
    location = /download/cv.txt {
      add_header Content-Disposition "attachment; filename=\"cv.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt";
    }
    location = /upload {
      client_max_body_size 1m;
      client_body_buffer_size 64k;
      if (\$request_method = POST) { return 201 "stored\n"; }
      return 405;
    }
  }
}
EOF

log "servers in $NSS"
start nginx ip netns exec "$NSS" nginx -c "$WORK/nginx.conf"
start aux ip netns exec "$NSS" "$PY" "$HERE/http-aux-server.py" $SIP 8080
wait_listen 80
wait_listen 8080

log "capture in $NSC"
PCAP=$WORK/http.pcap
start tcpdump ip netns exec "$NSC" tcpdump -i fh-c -U -s 0 -w "$PCAP" tcp
sleep 1

U=http://$SIP
CURL=(C curl -sS -o /dev/null -o /dev/null -o /dev/null --max-time 5)  # one -o per URL
# keep-alive: three URLs on one connection, with a Referer, an X-Forwarded-For and a UA
"${CURL[@]}" -A 'flowscribe-test/1.0 (curl)' -e "$U/index.html" -H 'X-Forwarded-For: 203.0.113.7' \
  "$U/index.html" "$U/style.css" "$U/app.js"
# 404, HEAD, conditional 304
"${CURL[@]}" "$U/missing/page.html?x=1" || true
C curl -sS -o /dev/null -I --max-time 5 "$U/index.html"
"${CURL[@]}" -z "$WORK/www/index.html" "$U/index.html"   # If-Modified-Since: the file's mtime
# gzip response (chunked: nginx does not know the compressed length)
"${CURL[@]}" --compressed "$U/big.txt"
# POST: urlencoded form, multipart upload, chunked upload
"${CURL[@]}" -d 'name=flowscribe&kind=test' "$U/upload"
"${CURL[@]}" -F "file=@$WORK/www/download/report.txt;type=text/plain" "$U/upload"
"${CURL[@]}" -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/json' \
  --data-binary '{"chunked":true,"n":12345}' "$U/upload"
# Content-Disposition filename and filename*
"${CURL[@]}" "$U/download/report.txt" "$U/download/cv.txt"
# HTTP/1.0, and an h2c upgrade offer nginx declines (it answers in HTTP/1.1)
"${CURL[@]}" --http1.0 "$U/index.html"
"${CURL[@]}" --http2 "$U/app.js"
# a pipelined pair, and an HTTP/0.9 request (nginx answers 400: 0.9 is not supported)
printf 'GET /style.css HTTP/1.1\r\nHost: %s\r\nUser-Agent: nc-pipeline\r\n\r\nGET /app.js HTTP/1.1\r\nHost: %s\r\nUser-Agent: nc-pipeline\r\nConnection: close\r\n\r\n' $SIP $SIP \
  | C nc.openbsd -q 3 $SIP 80 >/dev/null
printf 'GET /index.html\r\n' | C nc.openbsd -q 3 $SIP 80 >/dev/null
# CONNECT refused by nginx, CONNECT accepted by the aux proxy (a request inside the tunnel)
"${CURL[@]}" -p -x "$U:80" "http://$SIP:8080/" || true
"${CURL[@]}" -p -x "$U:8080" "$U/index.html"
# WebSocket upgrade: 101 then one frame each way
printf 'GET /chat HTTP/1.1\r\nHost: %s:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://%s\r\n\r\n' $SIP $SIP \
  | C nc.openbsd -q 2 $SIP 8080 >/dev/null || true

sleep 1
kill -INT -- "-${PIDS[2]}" 2>/dev/null || true
for _ in $(seq 1 50); do [[ -e /proc/${PIDS[2]} ]] || break; sleep 0.1; done
[[ -s $PCAP ]] || die "empty capture"
mkdir -p "$OUT"
cp "$PCAP" "$OUT/http.pcap"
log "wrote $OUT/http.pcap ($(stat -c %s "$OUT/http.pcap") bytes)"
