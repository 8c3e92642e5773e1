#!/usr/bin/env bash
# Make the capture of HTTP over SCTP (tests/captures/dissect/sctp/http-sctp.pcap). Not run by
# CI: the capture is committed, and tests/integration/test_sctp.py compares flowscribe's
# records on it with sctp/golden.jsonl. Regenerate both after a change:
#
#   sudo bash tests/captures/dissect/make-sctp-captures.sh
#   python3 tests/integration/test_sctp.py --bin build/sensor/flowscribe \
#       --check build/tests/tools/rfc5424_check --captures tests/captures/dissect/sctp --update
#   (then read the golden diff: every line must be what the traffic really was)
#
# Namespaces fssc (client, 10.77.0.1) and fsss (server, 10.77.0.2), a veth pair with offloads
# off; nothing is sent anywhere else. The kernel here has no SCTP module, so SCTP is
# usrsctp's (Debian's libusrsctp2, a userspace SCTP stack on raw IP sockets):
# - server: nginx on TCP 127.0.0.1:8080 in fsss, behind sctp/sctp-tcp-relay.c listening on
#   SCTP port 80 (one association per client association);
# - clients, one after the other (two usrsctp stacks in a namespace answer each other's
#   packets with ABORT): usrsctp's own example HTTP client (`http_client`, libusrsctp-examples:
#   HTTP/1.0, one request per association), then curl through the relay in TCP mode (keep-alive:
#   three requests on one association, a 404, a POST).
# tcpdump captures SCTP in fssc.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$HERE/sctp
NSC=fssc NSS=fsss CIP=10.77.0.1 SIP=10.77.0.2 DEVC=fs-c DEVS=fs-s
# shellcheck source=netns.sh
source "$HERE/netns.sh"
ns_need tcpdump:tcpdump nginx:nginx-light curl:curl ethtool:ethtool cc:gcc \
  /usr/lib/usrsctp/http_client:libusrsctp-examples
[[ -e /usr/include/usrsctp.h ]] || ns_need /usr/include/usrsctp.h:libusrsctp-dev

cc -O2 -o "$WORK/relay" "$OUT/sctp-tcp-relay.c" -lusrsctp -lpthread
ns_pair

mkdir -p "$WORK/www" "$WORK/tmp"
printf '<!doctype html>\n<html><head><title>flowscribe sctp test</title></head>\n<body><p>Hello over SCTP.</p></body></html>\n' >"$WORK/www/index.html"
for i in $(seq 1 200); do printf 'line %03d: the quick brown fox jumps over the lazy dog\n' "$i"; done >"$WORK/www/big.txt"
printf 'body { color: #333; }\n' >"$WORK/www/style.css"
chmod -R a+rX "$WORK/www"
cat >"$WORK/nginx.conf" <<NGINX
$(nginx_main)
http {
  access_log $WORK/nginx-access.log;
$(nginx_temp_paths)
  types { text/html html; text/plain txt; text/css css; }
  server_tokens off;
  keepalive_timeout 10;
  server {
    listen 127.0.0.1:8080;
    root $WORK/www;
    location = /upload {
      if (\$request_method = POST) { return 201 "stored\n"; }
      return 405;
    }
  }
}
NGINX

log "servers in $NSS"
start nginx ip netns exec "$NSS" nginx -c "$WORK/nginx.conf"
wait_listen 8080
start relay-s ip netns exec "$NSS" "$WORK/relay" sctp 80 127.0.0.1 8080
sleep 1

log "capture in $NSC"
PCAP=$WORK/http-sctp.pcap
start tcpdump ip netns exec "$NSC" tcpdump -i "$DEVC" -U -s 0 -w "$PCAP" sctp
TCPDUMP=$LAST_PID
sleep 1

# usrsctp's HTTP client: remote, port, local port 0, no UDP encapsulation (0 0), URI
C timeout 10 /usr/lib/usrsctp/http_client $SIP 80 0 0 0 /index.html >/dev/null
C timeout 10 /usr/lib/usrsctp/http_client $SIP 80 0 0 0 /big.txt >/dev/null

# curl, through the relay in TCP mode in the client's namespace
start relay-c ip netns exec "$NSC" "$WORK/relay" tcp 8080 $SIP 80
sleep 1
U=http://127.0.0.1:8080
C curl -sS --max-time 5 -A 'flowscribe-test/1.0 (curl over sctp)' -H "Host: $SIP" -e "http://$SIP/index.html" \
  -o /dev/null -o /dev/null -o /dev/null "$U/index.html" "$U/style.css" "$U/missing.html"
C curl -sS --max-time 5 -H "Host: $SIP" -d 'name=flowscribe&transport=sctp' -o /dev/null "$U/upload"
sleep 2

stop_capture "$TCPDUMP"
[[ -s $PCAP ]] || die "empty capture"
mkdir -p "$OUT"
cp "$PCAP" "$OUT/http-sctp.pcap"
log "wrote $OUT/http-sctp.pcap ($(stat -c %s "$OUT/http-sctp.pcap") bytes)"
