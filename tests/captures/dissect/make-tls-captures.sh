#!/usr/bin/env bash
# Make the TLS dissector's capture of real traffic (tests/captures/dissect/tls/tls.pcap) and
# its golden file (tls/golden.tsv). Not run by CI: both are committed, and
# tests/integration/test_dissect_tls.py compares flowscribe's tls and x509 records on the
# capture with the golden file. Regenerate both together:
#
#   sudo bash tests/captures/dissect/make-tls-captures.sh
#
# The golden values come from the tools on both ends, not from flowscribe: certificate fields
# from `openssl x509` on the certificates the servers used, version/cipher/ALPN from what
# curl and openssl s_client report. Two network namespaces, client fstc (10.62.0.1) and
# server fsts (10.62.0.2), joined by a veth pair with offloads off; nothing is sent anywhere
# else. Servers (openssl s_server -www): 443 RSA-2048 self-signed, 8443 ECDSA P-256 leaf
# with a P-384 CA (chain of 2), 9443 Ed25519 self-signed. Clients: curl TLS 1.2 and 1.3 with
# SNI and ALPN, openssl s_client TLS 1.2/1.3 with and without SNI, a resumed TLS 1.2 session.
# Everything started is stopped by PID and both namespaces are deleted on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$HERE/tls
NSC=fstc
NSS=fsts
CIP=10.62.0.1
SIP=10.62.0.2

DEVC=ft-c DEVS=ft-s
# shellcheck source=netns.sh
source "$HERE/netns.sh"
ns_need tcpdump:tcpdump curl:curl openssl:openssl ethtool:ethtool
ns_pair

# ---------------------------------------------------------------- certificates
cd "$WORK"
# 443: RSA 2048, self-signed; an O with a comma and a quote exercises RFC 4514 escaping.
openssl req -x509 -newkey rsa:2048 -nodes -keyout rsa.key -out rsa.crt -days 825 -sha256 \
  -subj '/C=DE/ST=Berlin/O=Example, "Test" GmbH/OU=tls/CN=selfsigned.tls.test' \
  -addext 'subjectAltName=DNS:selfsigned.tls.test,DNS:www.selfsigned.tls.test,IP:10.62.0.2' 2>/dev/null
# 8443: P-384 CA -> P-256 leaf; the server sends leaf and CA.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:secp384r1 -nodes -keyout ca.key -out ca.crt \
  -days 3650 -sha384 -subj '/C=US/O=flowscribe/CN=flowscribe Test Root CA' \
  -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ec.key -out ec.csr \
  -subj '/C=US/O=flowscribe/CN=ecdsa.tls.test' 2>/dev/null
printf 'subjectAltName=DNS:ecdsa.tls.test,DNS:*.ecdsa.tls.test,IP:10.62.0.2,IP:fd62::2,email:admin@tls.test,URI:https://ecdsa.tls.test/\nbasicConstraints=CA:FALSE\n' >ec.ext
openssl x509 -req -in ec.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out ec.crt -days 397 \
  -sha256 -extfile ec.ext 2>/dev/null
# 9443: Ed25519, self-signed.
openssl req -x509 -newkey ed25519 -nodes -keyout ed.key -out ed.crt -days 365 \
  -subj '/O=flowscribe/CN=ed25519.tls.test' -addext 'subjectAltName=DNS:ed25519.tls.test' 2>/dev/null
chmod 644 ./*.key

start srv443 ip netns exec "$NSS" openssl s_server -accept $SIP:443 -cert rsa.crt -key rsa.key -www -alpn http/1.1
start srv8443 ip netns exec "$NSS" openssl s_server -accept $SIP:8443 -cert ec.crt -key ec.key -cert_chain ca.crt -www -alpn http/1.1
start srv9443 ip netns exec "$NSS" openssl s_server -accept $SIP:9443 -cert ed.crt -key ed.key -www
wait_listen 443
wait_listen 8443
wait_listen 9443

ip netns exec "$NSC" tcpdump -i ft-c -U -s 0 -w "$WORK/tls.pcap" 'tcp' 2>"$WORK/tcpdump.log" &
TCPDUMP=$!
PIDS+=($TCPDUMP)
sleep 1

# ---------------------------------------------------------------- sessions
# Each session: KEY (server port # n-th connection to it) and what the client reported.
GOLD=$WORK/golden.tsv
: >"$GOLD"
gold() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$GOLD"; }
iana() {  # OpenSSL cipher name -> IANA name
  openssl ciphers -stdname 'ALL:@SECLEVEL=0' | awk -v n="$1" '$3 == n { print $1; exit }'
}
curl_session() {  # KEY PORT HOST TLSFLAGS...
  local key=$1 port=$2 host=$3; shift 3
  C curl -sk -v -m 5 --resolve "$host:$port:$SIP" "$@" "https://$host:$port/" -o /dev/null 2>"$WORK/c.log" || true
  local line ver cipher alpn
  line=$(grep -m1 'SSL connection using' "$WORK/c.log")
  ver=$(sed -E 's/.*using (TLSv1\.[0-9]) \/ .*/\1/' <<<"$line")
  cipher=$(sed -E 's/.* \/ ([A-Z0-9_-]+).*/\1/' <<<"$line")
  [[ $cipher == TLS_* ]] || cipher=$(iana "$cipher")
  alpn=$(grep -m1 'ALPN: server accepted' "$WORK/c.log" | sed -E 's/.*accepted ([^ ]+).*/\1/' || true)
  gold "$key" tls version "$ver"
  gold "$key" tls cipher "$cipher"
  gold "$key" tls sni "$host"
  if [[ $ver == TLSv1.2 && -n $alpn ]]; then gold "$key" tls alpn "$alpn"; fi
}
sclient_session() {  # KEY PORT SNI(or -) FLAGS...
  local key=$1 port=$2 sni=$3; shift 3
  local args=(-connect "$SIP:$port")
  [[ $sni == - ]] || args+=(-servername "$sni")
  printf 'GET / HTTP/1.0\r\n\r\n' | C timeout 10 openssl s_client "${args[@]}" "$@" >"$WORK/s.log" 2>&1 || true
  local ver cipher
  ver=$(grep -m1 -E '^(New|Reused), ' "$WORK/s.log" | sed -E 's/^(New|Reused), (TLSv1\.[0-9]), Cipher is ([^ ]+).*/\2/')
  cipher=$(grep -m1 -E '^(New|Reused), ' "$WORK/s.log" | sed -E 's/^(New|Reused), (TLSv1\.[0-9]), Cipher is ([^ ]+).*/\3/')
  [[ $cipher == TLS_* ]] || cipher=$(iana "$cipher")
  gold "$key" tls version "$ver"
  gold "$key" tls cipher "$cipher"
  [[ $sni == - ]] || gold "$key" tls sni "$sni"
  if grep -q '^Reused, ' "$WORK/s.log"; then gold "$key" tls resumed true; fi
  if [[ $ver == TLSv1.2 ]] && grep -q 'ALPN protocol: ' "$WORK/s.log"; then
    gold "$key" tls alpn "$(sed -nE 's/^ALPN protocol: (.*)$/\1/p' "$WORK/s.log" | head -1)"
  fi
}
cert_gold() {  # KEY POS CERTFILE: the x509 record's fields, from openssl x509
  local key=$1 pos=$2 f=$3 v
  gold "$key/$pos" x509 subject "$(openssl x509 -in "$f" -noout -subject -nameopt RFC2253,-esc_msb | sed 's/^subject=//')"
  gold "$key/$pos" x509 issuer "$(openssl x509 -in "$f" -noout -issuer -nameopt RFC2253,-esc_msb | sed 's/^issuer=//')"
  gold "$key/$pos" x509 serial "$(openssl x509 -in "$f" -noout -serial | sed 's/^serial=//')"
  v=$(openssl x509 -in "$f" -noout -startdate | sed 's/^notBefore=//')
  gold "$key/$pos" x509 not_before "$(date -u -d "$v" +%Y-%m-%dT%H:%M:%SZ)"
  v=$(openssl x509 -in "$f" -noout -enddate | sed 's/^notAfter=//')
  gold "$key/$pos" x509 not_after "$(date -u -d "$v" +%Y-%m-%dT%H:%M:%SZ)"
  gold "$key/$pos" x509 sha256 "$(openssl x509 -in "$f" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f)"
  gold "$key/$pos" x509 sha1 "$(openssl x509 -in "$f" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g' | tr A-F a-f)"
  gold "$key/$pos" x509 sig_alg "$(openssl x509 -in "$f" -noout -text | sed -nE 's/^ *Signature Algorithm: (.*)$/\1/p' | head -1)"
  v=$(openssl x509 -in "$f" -noout -text | sed -nE 's/^ *Public-Key: \(([0-9]+) bit\)$/\1/p' | head -1)
  [[ -z $v ]] || gold "$key/$pos" x509 key_bits "$v"
  v=$(openssl x509 -in "$f" -noout -text | sed -nE 's/^ *ASN1 OID: (.*)$/\1/p' | head -1)
  [[ -z $v ]] || gold "$key/$pos" x509 curve "$v"
  v=$(openssl x509 -in "$f" -noout -ext subjectAltName 2>/dev/null | tail -n +2 | tr -d ' ')
  if [[ -n $v ]]; then
    local dns ip email uri
    dns=$(tr ',' '\n' <<<"$v" | sed -n 's/^DNS://p' | paste -sd,)
    ip=$(tr ',' '\n' <<<"$v" | sed -n 's/^IPAddress://p' | tr A-F a-f | sed -E 's/(^|:)0+([0-9a-f])/\1\2/g; s/(:0)+:/::/; s/^0::/::/' | paste -sd,)
    email=$(tr ',' '\n' <<<"$v" | sed -n 's/^email://p' | paste -sd,)
    uri=$(tr ',' '\n' <<<"$v" | sed -n 's/^URI://p' | paste -sd,)
    [[ -z $dns ]] || gold "$key/$pos" x509 san_dns "$dns"
    [[ -z $ip ]] || gold "$key/$pos" x509 san_ip "$ip"
    [[ -z $email ]] || gold "$key/$pos" x509 san_email "$email"
    [[ -z $uri ]] || gold "$key/$pos" x509 san_uri "$uri"
  fi
}
leaf_gold() {  # KEY CERTFILE COUNT SELFSIGNED
  gold "$1" tls cert_subject "$(openssl x509 -in "$2" -noout -subject -nameopt RFC2253,-esc_msb | sed 's/^subject=//')"
  gold "$1" tls cert_sha256 "$(openssl x509 -in "$2" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f)"
  gold "$1" tls cert_count "$3"
  gold "$1" tls cert_self_signed "$4"
}

log "sessions"
curl_session '443#1' 443 selfsigned.tls.test --tlsv1.2 --tls-max 1.2
cert_gold '443#1' 0 rsa.crt
leaf_gold '443#1' rsa.crt 1 true
curl_session '443#2' 443 selfsigned.tls.test --tlsv1.3
gold '443#2' tls cert_hidden true
sclient_session '8443#1' 8443 ecdsa.tls.test -tls1_2 -alpn h2,http/1.1
cert_gold '8443#1' 0 ec.crt
cert_gold '8443#1' 1 ca.crt
gold '8443#1/1' x509 ca true
leaf_gold '8443#1' ec.crt 2 false
sclient_session '8443#2' 8443 ecdsa.tls.test -tls1_3
gold '8443#2' tls cert_hidden true
sclient_session '9443#1' 9443 - -tls1_2 -sess_out "$WORK/sess.pem"
cert_gold '9443#1' 0 ed.crt
gold '9443#1/0' x509 key_type ed25519
leaf_gold '9443#1' ed.crt 1 true
sclient_session '9443#2' 9443 - -tls1_2 -sess_in "$WORK/sess.pem"
sleep 1
kill -INT "$TCPDUMP"
wait "$TCPDUMP" 2>/dev/null || true

mkdir -p "$OUT"
cp "$WORK/tls.pcap" "$OUT/tls.pcap"
{
  printf '# Golden fields of tests/captures/dissect/tls/tls.pcap, from openssl/curl (make-tls-captures.sh).\n'
  printf '# key (server port#n-th connection[/certificate position])\tmsgid\tfield\tvalue\n'
  cat "$GOLD"
} >"$OUT/golden.tsv"
log "wrote $OUT/tls.pcap ($(stat -c %s "$OUT/tls.pcap") bytes) and golden.tsv ($(wc -l <"$GOLD") fields)"
