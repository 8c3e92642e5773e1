#!/usr/bin/env bash
# Make the DTLS capture of real traffic (tests/captures/dissect/dtls/dtls.pcap) and its golden
# file (dtls/golden.tsv) for the TLS dissector's DTLS path. Not run by CI: both are committed,
# and tests/integration/test_dissect_tls.py --dtls compares flowscribe's tls and x509 records
# on the capture with the golden file. Regenerate both together:
#
#   sudo bash tests/captures/dissect/make-dtls-captures.sh
#
# The golden values come from the tools on both ends, not from flowscribe: certificate fields
# from `openssl x509` on the certificates the servers used, version and cipher from what
# openssl s_client reports. Two network namespaces, client dtlsc (10.66.0.1) and server dtlss
# (10.66.0.2), joined by a veth pair with offloads off; nothing is sent anywhere else.
# Servers (openssl s_server, UDP):
#   4433 DTLS 1.2, -listen (HelloVerifyRequest and cookie), RSA-4096 leaf signed by an RSA
#        intermediate, chain of 2: the Certificate message spans several datagrams;
#   4434 DTLS 1.0 (SECLEVEL 0), ECDSA P-256 leaf and its P-384 CA, -mtu 400 on both ends:
#        every flight cut into small fragments;
#   4435 DTLS 1.2 without cookie exchange, RSA-2048 self-signed, no SNI.
# Everything started is stopped by PID and both namespaces are deleted on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$HERE/dtls
NSC=dtlsc
NSS=dtlss
CIP=10.66.0.1
SIP=10.66.0.2

DEVC=dt-c DEVS=dt-s
# shellcheck source=netns.sh
source "$HERE/netns.sh"
ns_need tcpdump:tcpdump openssl:openssl ethtool:ethtool
ns_pair

# ---------------------------------------------------------------- certificates
cd "$WORK"
# 4433: RSA root -> RSA intermediate -> RSA-4096 leaf; the server sends leaf and intermediate.
openssl req -x509 -newkey rsa:2048 -nodes -keyout root.key -out root.crt -days 3650 -sha256 \
  -subj '/C=US/O=flowscribe/CN=flowscribe DTLS Root CA' \
  -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout int.key -out int.csr \
  -subj '/C=US/O=flowscribe/CN=flowscribe DTLS Intermediate CA' 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' >int.ext
openssl x509 -req -in int.csr -CA root.crt -CAkey root.key -CAcreateserial -out int.crt -days 1825 \
  -sha256 -extfile int.ext 2>/dev/null
openssl req -newkey rsa:4096 -nodes -keyout rsa.key -out rsa.csr \
  -subj '/C=DE/O=flowscribe/OU=dtls/CN=rsa.dtls.test' 2>/dev/null
printf 'subjectAltName=DNS:rsa.dtls.test,DNS:www.rsa.dtls.test,IP:10.66.0.2\nbasicConstraints=CA:FALSE\n' >rsa.ext
openssl x509 -req -in rsa.csr -CA int.crt -CAkey int.key -CAcreateserial -out rsa.crt -days 397 \
  -sha256 -extfile rsa.ext 2>/dev/null
# 4434: P-384 CA -> P-256 leaf.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:secp384r1 -nodes -keyout ca.key -out ca.crt \
  -days 3650 -sha384 -subj '/C=US/O=flowscribe/CN=flowscribe DTLS EC Root' \
  -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ec.key -out ec.csr \
  -subj '/C=US/O=flowscribe/CN=ecdsa.dtls.test' 2>/dev/null
printf 'subjectAltName=DNS:ecdsa.dtls.test,IP:10.66.0.2\nbasicConstraints=CA:FALSE\n' >ec.ext
openssl x509 -req -in ec.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out ec.crt -days 397 \
  -sha256 -extfile ec.ext 2>/dev/null
# 4435: RSA-2048 self-signed.
openssl req -x509 -newkey rsa:2048 -nodes -keyout self.key -out self.crt -days 825 -sha256 \
  -subj '/O=flowscribe/CN=self.dtls.test' -addext 'subjectAltName=DNS:self.dtls.test' 2>/dev/null
chmod 644 ./*.key

# s_server ends at the end of its stdin: give it one that stays open.
serve() { sleep 600 | ip netns exec "$NSS" openssl s_server "$@"; }
export -f serve
export NSS
start srv4433 bash -c 'serve "$@"' _ -dtls1_2 -listen -accept $SIP:4433 -cert rsa.crt -key rsa.key -cert_chain int.crt
start srv4434 bash -c 'serve "$@"' _ -dtls1 -mtu 400 -accept $SIP:4434 -cert ec.crt -key ec.key -cert_chain ca.crt \
  -cipher 'DEFAULT:@SECLEVEL=0'
start srv4435 bash -c 'serve "$@"' _ -dtls1_2 -accept $SIP:4435 -cert self.crt -key self.key
wait_listen 4433 udp
wait_listen 4434 udp
wait_listen 4435 udp

ip netns exec "$NSC" tcpdump -i dt-c -U -s 0 -w "$WORK/dtls.pcap" 'udp' 2>"$WORK/tcpdump.log" &
TCPDUMP=$!
PIDS+=($TCPDUMP)
sleep 1

# ---------------------------------------------------------------- sessions
GOLD=$WORK/golden.tsv
: >"$GOLD"
gold() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$GOLD"; }
iana() {  # OpenSSL cipher name -> IANA name
  openssl ciphers -stdname 'ALL:@SECLEVEL=0' | awk -v n="$1" '$3 == n { print $1; exit }'
}
sclient_session() {  # KEY PORT SNI(or -) FLAGS...
  local key=$1 port=$2 sni=$3; shift 3
  local args=(-connect "$SIP:$port")
  [[ $sni == - ]] || args+=(-servername "$sni")
  (printf 'hello\n'; sleep 1) | C timeout 10 openssl s_client "${args[@]}" "$@" >"$WORK/s.log" 2>&1 || true
  local ver cipher
  ver=$(sed -nE 's/^ *Protocol *: *(DTLSv1(\.[0-9])?)$/\1/p' "$WORK/s.log" | head -1)
  [[ $ver == DTLSv1 ]] && ver=DTLSv1.0
  cipher=$(sed -nE 's/^ *Cipher *: *([A-Za-z0-9_-]+)$/\1/p' "$WORK/s.log" | head -1)
  [[ -n $ver && -n $cipher ]] || { cat "$WORK/s.log" >&2; die "s_client $key: no handshake"; }
  [[ $cipher == TLS_* ]] || cipher=$(iana "$cipher")
  gold "$key" tls version "$ver"
  gold "$key" tls cipher "$cipher"
  gold "$key" tls client_version "$ver"
  [[ $sni == - ]] || gold "$key" tls sni "$sni"
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
    local dns ip
    dns=$(tr ',' '\n' <<<"$v" | sed -n 's/^DNS://p' | paste -sd,)
    ip=$(tr ',' '\n' <<<"$v" | sed -n 's/^IPAddress://p' | paste -sd,)
    [[ -z $dns ]] || gold "$key/$pos" x509 san_dns "$dns"
    [[ -z $ip ]] || gold "$key/$pos" x509 san_ip "$ip"
  fi
}
leaf_gold() {  # KEY CERTFILE COUNT SELFSIGNED
  gold "$1" tls cert_subject "$(openssl x509 -in "$2" -noout -subject -nameopt RFC2253,-esc_msb | sed 's/^subject=//')"
  gold "$1" tls cert_sha256 "$(openssl x509 -in "$2" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f)"
  gold "$1" tls cert_count "$3"
  gold "$1" tls cert_self_signed "$4"
}

log "sessions"
sclient_session '4433#1' 4433 rsa.dtls.test -dtls1_2
cert_gold '4433#1' 0 rsa.crt
cert_gold '4433#1' 1 int.crt
gold '4433#1/1' x509 ca true
leaf_gold '4433#1' rsa.crt 2 false
sclient_session '4434#1' 4434 ecdsa.dtls.test -dtls1 -mtu 400 -cipher 'DEFAULT:@SECLEVEL=0'
cert_gold '4434#1' 0 ec.crt
cert_gold '4434#1' 1 ca.crt
gold '4434#1/1' x509 ca true
leaf_gold '4434#1' ec.crt 2 false
sclient_session '4435#1' 4435 - -dtls1_2
cert_gold '4435#1' 0 self.crt
leaf_gold '4435#1' self.crt 1 true
sleep 1
kill -INT "$TCPDUMP"
wait "$TCPDUMP" 2>/dev/null || true

mkdir -p "$OUT"
cp "$WORK/dtls.pcap" "$OUT/dtls.pcap"
{
  printf '# Golden fields of tests/captures/dissect/dtls/dtls.pcap, from openssl (make-dtls-captures.sh).\n'
  printf '# key (server port#n-th connection[/certificate position])\tmsgid\tfield\tvalue\n'
  cat "$GOLD"
} >"$OUT/golden.tsv"
log "wrote $OUT/dtls.pcap ($(stat -c %s "$OUT/dtls.pcap") bytes) and golden.tsv ($(wc -l <"$GOLD") fields)"
