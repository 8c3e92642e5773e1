#!/usr/bin/env bash
# Make tests/captures/bench/web.pcap: real HTTPS and HTTP page loads with their bulk data, for
# the benchmark's realistic mix (docs/performance.md, "A mix with downloads"). Not run by CI;
# the capture is committed.
#
#   sudo bash tests/captures/bench/make-web-capture.sh
#
# Namespaces fsbc (client, 10.78.0.1) and fsbs (server, 10.78.0.2), a veth pair with offloads
# off (so packets are MTU-sized, as on a wire); nothing is sent anywhere else. nginx serves
# pages and assets of 2 KB to 300 KB over TLS 1.2/1.3 (ECDSA and RSA certificates, one chain
# with an intermediate) and plain HTTP; curl loads them the way a browser does (a page, then
# its assets on keep-alive connections, several connections in parallel). The capture keeps
# the first 2,048 bytes of each frame; after a flow's 16th packet, frames are cut to 96 bytes
# (the pcap records their wire length): the sensor has stopped reading a flow by then (its
# dissector is done), and the file stays small.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NSC=fsbc NSS=fsbs CIP=10.78.0.1 SIP=10.78.0.2 DEVC=fb-c DEVS=fb-s
# shellcheck source=../dissect/netns.sh
source "$HERE/../dissect/netns.sh"
ns_need tcpdump:tcpdump nginx:nginx-light curl:curl openssl:openssl ethtool:ethtool
ns_pair

log "certificates"
cd "$WORK"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
  -subj "/CN=Bench Root CA/O=flowscribe bench" -keyout ca.key -out ca.crt 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=Bench Issuing CA" \
  -keyout int.key -out int.csr 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE\n' >int.ext
openssl x509 -req -in int.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
  -extfile int.ext -out int.crt 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=www.bench.test" \
  -keyout ec.key -out ec.csr 2>/dev/null
printf 'subjectAltName=DNS:www.bench.test,DNS:static.bench.test\n' >leaf.ext
openssl x509 -req -in ec.csr -CA int.crt -CAkey int.key -CAcreateserial -days 825 \
  -extfile leaf.ext -out ec.crt 2>/dev/null
cat ec.crt int.crt >ec-chain.crt
openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=api.bench.test" \
  -addext "subjectAltName=DNS:api.bench.test" -keyout rsa.key -out rsa.crt 2>/dev/null

mkdir -p www/assets tmp
head -c 2048 /dev/urandom | base64 -w 76 >www/index.html
for n in 1 2 3 4 5 6; do head -c $((n * 6000)) /dev/urandom | base64 -w 76 >www/assets/s$n.css; done
for n in 1 2 3; do head -c $((n * 40000)) /dev/urandom >www/assets/i$n.jpg; done
head -c 300000 /dev/urandom >www/assets/video.bin
chmod -R a+rX www
cat >nginx.conf <<NGINX
$(nginx_main)
http {
  access_log off;
$(nginx_temp_paths)
  types { text/html html; text/css css; image/jpeg jpg; }
  default_type application/octet-stream;
  keepalive_timeout 10;
  server { listen $SIP:443 ssl; server_name www.bench.test static.bench.test; root $WORK/www;
           ssl_certificate $WORK/ec-chain.crt; ssl_certificate_key $WORK/ec.key;
           ssl_protocols TLSv1.2 TLSv1.3; }
  server { listen $SIP:8443 ssl; server_name api.bench.test; root $WORK/www;
           ssl_certificate $WORK/rsa.crt; ssl_certificate_key $WORK/rsa.key;
           ssl_protocols TLSv1.2; }
  server { listen $SIP:80; root $WORK/www; }
}
NGINX
start nginx ip netns exec "$NSS" nginx -c "$WORK/nginx.conf"
wait_listen 443

PCAP=$WORK/raw.pcap
start tcpdump ip netns exec "$NSC" tcpdump -i "$DEVC" -U -s 2048 -w "$PCAP" tcp
TCPDUMP=$LAST_PID
sleep 1
R=(--resolve www.bench.test:443:$SIP --resolve static.bench.test:443:$SIP --resolve api.bench.test:8443:$SIP)
CURL=(C curl -sS -k --max-time 10 "${R[@]}")
A=https://static.bench.test/assets
# page loads: the page, then assets on two keep-alive connections at once
for v in --tlsv1.3 "--tls-max 1.2"; do
  "${CURL[@]}" $v -o /dev/null https://www.bench.test/index.html
  "${CURL[@]}" $v -o /dev/null -o /dev/null -o /dev/null "$A/s1.css" "$A/s2.css" "$A/i1.jpg" &
  second=$!
  "${CURL[@]}" $v -o /dev/null -o /dev/null -o /dev/null "$A/s3.css" "$A/i2.jpg" "$A/s4.css"
  wait "$second"
done
"${CURL[@]}" -o /dev/null "$A/video.bin"
"${CURL[@]}" -o /dev/null -o /dev/null https://api.bench.test:8443/assets/s5.css https://api.bench.test:8443/assets/i3.jpg
"${CURL[@]}" -o /dev/null -o /dev/null http://$SIP/index.html http://$SIP/assets/s6.css
sleep 1
stop_capture "$TCPDUMP"
[[ -s $PCAP ]] || die "empty capture"

python3 - "$PCAP" "$HERE/web.pcap" <<'PY'
import struct, sys
src, dst = sys.argv[1], sys.argv[2]
data = open(src, "rb").read()
out = bytearray(data[:24])
seen, off = {}, 24
while off + 16 <= len(data):
    sec, usec, cap, wire = struct.unpack("<IIII", data[off:off + 16])
    frame = data[off + 16:off + 16 + cap]
    off += 16 + cap
    ip = 14
    ihl = (frame[ip] & 0xF) * 4
    a, b = frame[ip + 12:ip + 16], frame[ip + 16:ip + 20]
    sp, dp = struct.unpack("!HH", frame[ip + ihl:ip + ihl + 4])
    key = tuple(sorted([(a, sp), (b, dp)]))
    n = seen[key] = seen.get(key, 0) + 1
    if n > 16:
        frame = frame[:96]
    out += struct.pack("<IIII", sec, usec, len(frame), wire) + frame
open(dst, "wb").write(out)
print(f"{len(seen)} flows, {sum(seen.values())} packets")
PY
log "wrote $HERE/web.pcap ($(stat -c %s "$HERE/web.pcap") bytes)"
