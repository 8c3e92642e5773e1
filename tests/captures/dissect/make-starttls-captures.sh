#!/usr/bin/env bash
# Make the capture of STARTTLS upgrades (tests/captures/dissect/starttls/starttls.pcap) and its
# golden file (starttls/golden.tsv). Not run by CI: both are committed, and
# tests/integration/test_dissect_starttls.py compares flowscribe's records on the capture with
# the golden file. Regenerate both together:
#
#   sudo bash tests/captures/dissect/make-starttls-captures.sh
#   STARTTLS_CAPTURES_OUT=/tmp/starttls sudo -E bash ...   # writes there instead, the committed ones stay
#
# Real servers and clients from Debian packages (installed when missing), in two network
# namespaces, client sttlsc (10.68.0.1) and server sttlss (10.68.0.2), joined by a veth pair
# with offloads off; nothing is sent anywhere else. tcpdump records on the client's side.
# The servers run in the foreground, their files in $WORK. In capture order:
#   25    Postfix (smtpd_tls_security_level=may): `openssl s_client -starttls smtp`, QUIT in TLS
#   2525  the same Postfix, TLS off on this port: s_client -starttls smtp finds no STARTTLS
#         in the EHLO reply, sends it anyway and gets "502 5.5.1" (refused); its ClientHello
#         then goes to smtpd in clear (answered "500 5.5.2 Error: bad syntax") and fails
#   143   Dovecot imap: `s_client -starttls imap` (". STARTTLS"), LOGOUT in TLS
#   110   Dovecot pop3: `s_client -starttls pop3` (STLS), QUIT in TLS; then curl pop3://
#         (CAPA, AUTH PLAIN, LIST, QUIT): a plain session, never upgraded
#   21    vsftpd ssl_enable=YES: `s_client -starttls ftp` (AUTH TLS, 234), QUIT in TLS
#   5222  Prosody: `s_client -starttls xmpp` (<starttls/>, <proceed/>), </stream:stream> in TLS
# All TLS 1.2 (`-tls1_2`), so that the certificate chains are on the wire: a throw-away CA
# (CN=flowscribe STARTTLS test CA) and RSA-2048 server certificates it signed, sent with
# the CA: CN=mail.starttls.test (Postfix, Dovecot), CN=ftp.starttls.test (vsftpd),
# CN=starttls.test (Prosody's VirtualHost). s_client checks the chain against the CA and
# sends SNI.
#
# The golden values come from the tools, not from flowscribe: certificate fields from
# `openssl x509` on the certificate files; version and cipher from s_client's SSL-Session
# lines (OpenSSL cipher names turned into IANA names by `openssl ciphers -stdname`); SNI from
# the client's command line. Everything started is stopped by PID and both namespaces are
# deleted on exit (netns.sh).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${STARTTLS_CAPTURES_OUT:-$HERE/starttls}   # another folder: try the script without touching these
NSC=sttlsc NSS=sttlss CIP=10.68.0.1 SIP=10.68.0.2 DEVC=st-c DEVS=st-s
# shellcheck source=netns.sh
source "$HERE/netns.sh"
ns_need tcpdump:tcpdump openssl:openssl ethtool:ethtool curl:curl postfix:postfix \
  dovecot:dovecot-core vsftpd:vsftpd prosody:prosody
# dovecot-core alone has no imap/pop3: both protocol packages are checked by their binaries.
[[ -x /usr/lib/dovecot/imap-login && -x /usr/lib/dovecot/pop3-login ]] ||
  { apt-get update -q; DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends dovecot-imapd dovecot-pop3d; }
ns_pair

# ---- certificates --------------------------------------------------------------------------
cd "$WORK"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
  -subj "/O=flowscribe test/CN=flowscribe STARTTLS test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
server_cert() {  # server_cert NAME CN DNS...: NAME.key, NAME.crt, NAME-chain.pem (leaf, CA)
  local name=$1 cn=$2 san="" d; shift 2
  for d in "$@"; do san+="DNS:$d,"; done
  openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" \
    -subj "/O=flowscribe test/CN=$cn" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=%sIP:%s\n' \
    "$san" "$SIP" >"$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 \
    -extfile "$name.ext" -out "$name.crt" 2>/dev/null
  cat "$name.crt" ca.crt >"$name-chain.pem"
  chmod 644 "$name.key"  # throw-away; read by servers that drop root (Prosody)
}
server_cert mail mail.starttls.test mail.starttls.test imap.starttls.test pop3.starttls.test
server_cert ftp ftp.starttls.test ftp.starttls.test
server_cert xmpp starttls.test starttls.test

gold_start tests/captures/dissect/starttls/starttls.pcap make-starttls-captures.sh
fp() { openssl x509 -in "$2" -noout -fingerprint "-$1" | sed 's/.*=//; s/://g' | tr A-F a-f; }
dn() { openssl x509 -in "$2" -noout "-$1" -nameopt RFC2253,-esc_msb | sed "s/^$1=//"; }
cert_gold() {  # cert_gold KEY POS CERTFILE: the x509 record's fields, from openssl x509
  local key=$1/$2 f=$3 v
  gold "$key" x509 subject "$(dn subject "$f")"
  gold "$key" x509 issuer "$(dn issuer "$f")"
  gold "$key" x509 serial "$(openssl x509 -in "$f" -noout -serial | sed 's/^serial=//')"
  v=$(openssl x509 -in "$f" -noout -startdate | sed 's/^notBefore=//')
  gold "$key" x509 not_before "$(date -u -d "$v" +%Y-%m-%dT%H:%M:%SZ)"
  v=$(openssl x509 -in "$f" -noout -enddate | sed 's/^notAfter=//')
  gold "$key" x509 not_after "$(date -u -d "$v" +%Y-%m-%dT%H:%M:%SZ)"
  gold "$key" x509 sha256 "$(fp sha256 "$f")"
  gold "$key" x509 sha1 "$(fp sha1 "$f")"
  gold "$key" x509 sig_alg "$(openssl x509 -in "$f" -noout -text | sed -nE 's/^ *Signature Algorithm: (.*)$/\1/p' | head -1)"
  gold "$key" x509 key_bits "$(openssl x509 -in "$f" -noout -text | sed -nE 's/^ *Public-Key: \(([0-9]+) bit\)$/\1/p' | head -1)"
  v=$(openssl x509 -in "$f" -noout -ext basicConstraints 2>/dev/null | grep -o 'CA:[A-Z]*')
  gold "$key" x509 ca "$([[ $v == CA:TRUE ]] && echo true || echo false)"
  v=$(openssl x509 -in "$f" -noout -ext subjectAltName 2>/dev/null | tail -n +2 | tr -d ' ' | tr ',' '\n' | sed -n 's/^DNS://p' | paste -sd,)
  [[ -z $v ]] || gold "$key" x509 san_dns "$v"
  v=$(openssl x509 -in "$f" -noout -ext subjectAltName 2>/dev/null | tail -n +2 | tr -d ' ' | tr ',' '\n' | sed -n 's/^IPAddress://p' | paste -sd,)
  [[ -z $v ]] || gold "$key" x509 san_ip "$v"
}

# sclient KEY PROTO PROXY_PROTO PORT SNI CERT LINE [s_client options...]: one upgrade with
# `openssl s_client -starttls`, LINE sent in TLS; the golden fields of the session, its tls
# record (from s_client's SSL-Session lines) and both x509 records (leaf, CA).
sclient() {
  local key=$1 proto=$2 st=$3 port=$4 sni=$5 cert=$6 line=$7 log=$WORK/s_client-${1//#/-}.log
  shift 7
  { sleep 1; printf '%s\r\n' "$line"; sleep 1; } |
    C openssl s_client -starttls "$st" -tls1_2 -connect "$SIP:$port" -servername "$sni" \
      -CAfile "$WORK/ca.crt" -verify_return_error -nocommands "$@" >"$log" 2>&1 || true
  # vsftpd closes without close_notify (s_client: "unexpected eof", status 1): the log decides.
  grep -q 'Verify return code: 0 (ok)' "$log" || die "s_client $key failed: $(tail -3 "$log")"
  local ver cipher
  ver=$(sed -nE 's/^ *Protocol *: (.*)$/\1/p' "$log" | head -1)
  cipher=$(sed -nE 's/^ *Cipher *: (.*)$/\1/p' "$log" | head -1)
  [[ $ver == TLSv1.2 && -n $cipher ]] || die "s_client $key: version '$ver', cipher '$cipher'"
  gold "$key" session proto "$proto"
  gold "$key" tls version "$ver"
  gold "$key" tls cipher "$(iana "$cipher")"
  gold "$key" tls sni "$sni"
  gold "$key" tls cert_subject "$(dn subject "$cert")"
  gold "$key" tls cert_sha256 "$(fp sha256 "$cert")"
  gold "$key" tls cert_count 2
  gold "$key" tls cert_self_signed false
  cert_gold "$key" 0 "$cert"
  cert_gold "$key" 1 ca.crt
}

start tcpdump ip netns exec "$NSC" tcpdump -i $DEVC -s 0 -U -w "$WORK/starttls.pcap" "tcp and host $SIP"
TCPDUMP=$LAST_PID
sleep 1.5

# ---- Postfix -------------------------------------------------------------------------------
log postfix
mkdir -p pf pf-spool pf-data
chown postfix pf-data
cat >pf/main.cf <<EOF
compatibility_level = 3.6
queue_directory = $WORK/pf-spool
data_directory = $WORK/pf-data
mail_owner = postfix
setgid_group = postdrop
myhostname = mail.starttls.test
mydomain = starttls.test
mydestination =
inet_interfaces = $SIP
inet_protocols = ipv4
alias_maps =
alias_database =
smtpd_banner = \$myhostname ESMTP
smtpd_peername_lookup = no
maillog_file = /dev/stdout
smtpd_tls_chain_files = $WORK/mail.key, $WORK/mail-chain.pem
smtpd_tls_security_level = may
smtpd_tls_protocols = >=TLSv1.2
EOF
# Debian's master.cf, nothing chrooted; smtpd on 25, and on 2525 without TLS.
awk '/^[a-z0-9]/ && NF >= 8 { $5 = "n" } { print }' /etc/postfix/master.cf >pf/master.cf
printf '2525      inet  n       -       n       -       -       smtpd\n  -o smtpd_tls_security_level=none\n' >>pf/master.cf
start postfix ip netns exec "$NSS" postfix -c "$WORK/pf" start-fg
wait_listen 25
wait_listen 2525
# master calls setsid(): its own session and process group, which the clean-up stops too
# (`postfix -c DIR stop` does not find it running).
PIDS+=("$(tr -d ' ' <"$WORK/pf-spool/pid/master.pid")")
sclient "25#1" smtp smtp 25 mail.starttls.test mail.crt QUIT
# No STARTTLS in the EHLO reply: s_client says "trying anyway", smtpd answers 502, and
# then the ClientHello that follows in clear with "500 5.5.2 Error: bad syntax" lines.
sleep 2 | C openssl s_client -starttls smtp -tls1_2 -connect "$SIP:2525" \
  -servername mail.starttls.test -nocommands >"$WORK/s_client-2525-1.log" 2>&1 || true
grep -q 'trying anyway' "$WORK/s_client-2525-1.log" || die "2525: STARTTLS was offered"
gold "2525#1" session proto smtp
gold "2525#1" tls - absent

# ---- Dovecot -------------------------------------------------------------------------------
log dovecot
mkdir -p dc-run dc-state mail && chown nobody:nogroup mail
cat >dovecot.conf <<EOF
protocols = imap pop3
listen = $SIP
base_dir = $WORK/dc-run
state_dir = $WORK/dc-state
log_path = $WORK/dovecot-main.log
default_login_user = dovenull
default_internal_user = dovecot
ssl = yes
ssl_cert = <$WORK/mail-chain.pem
ssl_key = <$WORK/mail.key
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:$WORK/mail/%u
passdb {
  driver = static
  args = password=fspw
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$WORK/mail/%u
}
service imap-login {
  inet_listener imap {
    port = 143
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 110
  }
  inet_listener pop3s {
    port = 0
  }
}
EOF
start dovecot ip netns exec "$NSS" dovecot -F -c "$WORK/dovecot.conf"
wait_listen 143
wait_listen 110
sclient "143#1" imap imap 143 mail.starttls.test mail.crt "a1 LOGOUT"
sclient "110#1" pop3 pop3 110 mail.starttls.test mail.crt QUIT
# A mail client that does not upgrade: CAPA (STLS offered), AUTH PLAIN, LIST, QUIT.
C curl -sS --max-time 10 -u fs:fspw "pop3://$SIP/" >"$WORK/curl-pop3.log" 2>&1 || die "curl pop3 failed"
gold "110#2" session proto pop3
gold "110#2" tls - absent

# ---- vsftpd --------------------------------------------------------------------------------
log vsftpd
mkdir -p vsftpd-empty
cat >vsftpd.conf <<EOF
listen=YES
listen_ipv6=NO
listen_address=$SIP
listen_port=21
background=NO
anonymous_enable=NO
local_enable=YES
seccomp_sandbox=NO
secure_chroot_dir=$WORK/vsftpd-empty
xferlog_enable=NO
vsftpd_log_file=$WORK/vsftpd-xfer.log
ssl_enable=YES
rsa_cert_file=$WORK/ftp-chain.pem
rsa_private_key_file=$WORK/ftp.key
ssl_ciphers=HIGH
require_ssl_reuse=NO
force_local_logins_ssl=NO
force_local_data_ssl=NO
EOF
start vsftpd ip netns exec "$NSS" vsftpd "$WORK/vsftpd.conf"
wait_listen 21
sclient "21#1" ftp ftp 21 ftp.starttls.test ftp.crt QUIT

# ---- Prosody -------------------------------------------------------------------------------
log prosody
mkdir -p prosody-data && chown prosody prosody-data
cat >prosody.cfg.lua <<EOF
pidfile = "$WORK/prosody-data/prosody.pid"
certificates = "$WORK/prosody-data"
data_path = "$WORK/prosody-data"
log = { debug = "$WORK/prosody-debug.log"; info = "*console" }
interfaces = { "$SIP" }
c2s_ports = { 5222 }
c2s_direct_tls_ports = { }
modules_enabled = { "tls"; "saslauth"; "disco"; "roster"; "ping" }
modules_disabled = { "s2s" }
c2s_require_encryption = false
authentication = "internal_hashed"
ssl = { certificate = "$WORK/xmpp-chain.pem"; key = "$WORK/xmpp.key"; protocol = "tlsv1_2+" }
VirtualHost "starttls.test"
EOF
start prosody ip netns exec "$NSS" runuser -u prosody -- prosody --config "$WORK/prosody.cfg.lua" -F
wait_listen 5222
sclient "5222#1" xmpp xmpp 5222 starttls.test xmpp.crt "</stream:stream>" -xmpphost starttls.test

sleep 1
stop_capture "$TCPDUMP"
mkdir -p "$OUT"
cp "$WORK/starttls.pcap" "$OUT/starttls.pcap"
cp "$GOLD" "$OUT/golden.tsv"
log "wrote $OUT/starttls.pcap ($(stat -c %s "$OUT/starttls.pcap") bytes) and $OUT/golden.tsv"
