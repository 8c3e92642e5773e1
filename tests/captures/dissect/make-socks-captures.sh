#!/usr/bin/env bash
# Make the SOCKS dissector's capture of real traffic (tests/captures/dissect/socks/socks.pcap).
# Not run by CI: the capture is committed, and tests/integration/test_dissect_socks.py compares
# flowscribe's socks, http, tls and x509 records on it with socks/golden.jsonl. Regenerate both
# after a change:
#
#   sudo bash tests/captures/dissect/make-socks-captures.sh
#   python3 tests/integration/test_dissect_socks.py --bin build/sensor/flowscribe \
#       --check build/tests/tools/rfc5424_check --captures tests/captures/dissect/socks --update
#   (then read the golden diff: every line must be what the traffic really was)
#
# Two network namespaces, client fssocksc (10.64.0.1) and server fssockss (10.64.0.2), joined
# by a veth pair with offloads off; nothing is sent anywhere else. In fssockss: Dante (danted,
# port 1080 without authentication, port 1081 with RFC 1929 username/password checked against
# a temporary system user `fssocks`, removed on exit), nginx (port 80 HTTP, port 443 HTTPS with
# a self-signed certificate, TLS 1.2 so the certificate is visible) and sshd (port 22: a
# server that speaks first inside the tunnel; and OpenSSH's `ssh -D` on port 1085, a second
# proxy, for SOCKS4a, which Dante does not serve). Clients in fssocksc: curl with --socks5,
# --socks5-hostname (with and without user/password, a wrong password), --socks4, --socks4a
# over HTTP and HTTPS, a refused target and an unknown host; nc.openbsd -X 5 to sshd and with
# bytes that are neither HTTP nor TLS; Python sending a SOCKS4 request and its HTTP request in
# one segment (optimistic data). tcpdump captures in fssocksc (only client <-> proxy
# traffic). Everything started is stopped by PID, the namespaces and the user are removed on
# exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$HERE/socks
NSC=fssocksc
NSS=fssockss
CIP=10.64.0.1
SIP=10.64.0.2
NAME=web.socks.test
PY=/usr/bin/python3
PUSER=fssocks
PPASS=s3cret-Pass

DEVC=fk-c DEVS=fk-s
# shellcheck source=netns.sh
source "$HERE/netns.sh"
ns_need tcpdump:tcpdump nginx:nginx-light curl:curl nc.openbsd:netcat-openbsd ethtool:ethtool \
  danted:dante-server sshd:openssh-server
MADE_USER=0
ns_extra_cleanup() {  # called by netns.sh on exit
  rm -rf "/etc/netns/$NSC" "/etc/netns/$NSS"
  if ((MADE_USER)); then userdel "$PUSER" 2>/dev/null || true; fi
}
ns_pair
# The proxy resolves the test name (ip netns exec bind-mounts /etc/netns/NS/hosts).
mkdir -p "/etc/netns/$NSS"
printf '127.0.0.1 localhost\n%s %s\n' $SIP $NAME >"/etc/netns/$NSS/hosts"

# ---------------------------------------------------------------- servers
if ! id "$PUSER" >/dev/null 2>&1; then
  useradd -M -s /usr/sbin/nologin "$PUSER"
  MADE_USER=1
fi
echo "$PUSER:$PPASS" | chpasswd

mkdir -p "$WORK/www" "$WORK/tmp"
printf '<!doctype html>\n<html><body><p>Hello through SOCKS.</p></body></html>\n' >"$WORK/www/index.html"
chmod -R a+rX "$WORK/www"
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$NAME/O=flowscribe socks test" \
  -addext "subjectAltName=DNS:$NAME" -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

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
  types { text/html html; }
  server_tokens off;
  keepalive_timeout 5;
  server {
    listen $SIP:80;
    listen $SIP:443 ssl;
    ssl_certificate $WORK/cert.pem;
    ssl_certificate_key $WORK/key.pem;
    ssl_protocols TLSv1.2;
    root $WORK/www;
  }
}
EOF

# Two Dante instances: one asks for no authentication, one for username/password.
for port in 1080 1081; do
  method=none
  [[ $port == 1081 ]] && method=username
  cat >"$WORK/danted-$port.conf" <<EOF
logoutput: $WORK/danted-$port-log.txt
internal: $SIP port = $port
external: $SIP
user.privileged: root
user.unprivileged: nobody
clientmethod: none
socksmethod: $method
client pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }
socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }
EOF
done

ssh-keygen -q -t ed25519 -N '' -f "$WORK/ssh_host_ed25519_key"
ssh-keygen -q -t ed25519 -N '' -f "$WORK/id_ed25519"
cp "$WORK/id_ed25519.pub" "$WORK/authorized_keys"
mkdir -p /run/sshd

log "servers in $NSS"
start nginx ip netns exec "$NSS" nginx -c "$WORK/nginx.conf"
start danted ip netns exec "$NSS" danted -f "$WORK/danted-1080.conf" -N 1 -p "$WORK/danted-1080.pid"
start danted-auth ip netns exec "$NSS" danted -f "$WORK/danted-1081.conf" -N 1 -p "$WORK/danted-1081.pid"
start sshd ip netns exec "$NSS" /usr/sbin/sshd -D -e -p 22 -h "$WORK/ssh_host_ed25519_key" \
  -o ListenAddress=$SIP -o ListenAddress=127.0.0.1 -o PidFile="$WORK/sshd.pid" \
  -o AuthorizedKeysFile="$WORK/authorized_keys" -o StrictModes=no -o PermitRootLogin=prohibit-password
wait_listen 80
wait_listen 443
wait_listen 1080
wait_listen 1081
wait_listen 22
# Dante answers no SOCKS4a: OpenSSH's dynamic forwarding (ssh -D) serves v4, v4a and v5.
start ssh-d ip netns exec "$NSS" ssh -N -i "$WORK/id_ed25519" -o StrictHostKeyChecking=no \
  -o UserKnownHostsFile=/dev/null -o GatewayPorts=yes -D $SIP:1085 root@127.0.0.1
wait_listen 1085

log "capture in $NSC"
PCAP=$WORK/socks.pcap
start tcpdump ip netns exec "$NSC" tcpdump -i fk-c -U -s 0 -w "$PCAP" tcp
sleep 1

P=$SIP:1080
CURL=(C curl -sS -o /dev/null --max-time 5)
# HTTP through every client flavour: v5 with the proxy resolving, v5 with an address, v4a, v4
"${CURL[@]}" -A 'curl-socks5h' --socks5-hostname "$P" "http://$NAME/index.html"
"${CURL[@]}" -A 'curl-socks5' --socks5 "$P" "http://$SIP/index.html"
"${CURL[@]}" -A 'curl-socks4a' --socks4a "$SIP:1085" "http://$NAME/"
"${CURL[@]}" -A 'curl-socks4' --socks4 "$P" "http://$SIP/index.html"
# HTTPS (TLS 1.2: the certificate is in clear)
"${CURL[@]}" -k --tls-max 1.2 --socks5-hostname "$P" "https://$NAME/index.html"
"${CURL[@]}" -k --tls-max 1.2 --socks4 "$P" "https://$SIP/"
"${CURL[@]}" -k --tls-max 1.2 --socks4a "$SIP:1085" "https://$NAME/index.html"
# username/password (RFC 1929): accepted, then refused
"${CURL[@]}" -A 'curl-auth' --socks5-hostname "$SIP:1081" -U "$PUSER:$PPASS" "http://$NAME/index.html"
"${CURL[@]}" --socks5-hostname "$SIP:1081" -U "$PUSER:wrong-password" "http://$NAME/" || true
# refused by the target, and a name the proxy cannot resolve
"${CURL[@]}" --socks5-hostname "$P" "http://$NAME:81/" || true
"${CURL[@]}" --socks5-hostname "$P" "http://no-such-host.invalid/" || true
# the server speaks first inside the tunnel (SSH banner); a client's bytes that are no HTTP/TLS
(sleep 1; printf 'SSH-2.0-flowscribe-test\r\n') | C nc.openbsd -X 5 -x "$P" -w 2 -q 1 $SIP 22 >/dev/null || true
sleep 0.5
printf '\x00\x01\x02binary-hello\n' | C nc.openbsd -X 5 -x "$P" -w 2 -q 1 $SIP 80 >/dev/null || true
# SOCKS4 optimistic data: the request and the HTTP request in one segment
C "$PY" - "$SIP" <<'PYEOF'
import socket, struct, sys
ip = sys.argv[1]
s = socket.create_connection((ip, 1080), timeout=5)
req = struct.pack(">BBH", 4, 1, 80) + socket.inet_aton(ip) + b"optimist\x00"
http = ("GET /index.html HTTP/1.1\r\nHost: %s\r\nUser-Agent: py-optimistic\r\n"
        "Connection: close\r\n\r\n" % ip).encode()
s.sendall(req + http)
data = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    data += b
s.close()
assert data[:2] == b"\x00\x5a" and b" 200 " in data, data[:80]
PYEOF

sleep 1
kill -INT -- "-${PIDS[5]}" 2>/dev/null || true
for _ in $(seq 1 50); do [[ -e /proc/${PIDS[5]} ]] || break; sleep 0.1; done
[[ -s $PCAP ]] || die "empty capture"
mkdir -p "$OUT"
cp "$PCAP" "$OUT/socks.pcap"
log "wrote $OUT/socks.pcap ($(stat -c %s "$OUT/socks.pcap") bytes)"
