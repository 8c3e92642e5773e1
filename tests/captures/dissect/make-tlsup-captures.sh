#!/usr/bin/env bash
# Make the capture of TLS inside binary protocols (tests/captures/dissect/tlsup/tlsup.pcap) and
# its golden file (tlsup/golden.tsv). Not run by CI: both are committed, and
# tests/integration/test_dissect_tlsup.py compares flowscribe's records on the capture with
# the golden file. Regenerate both together:
#
#   sudo bash tests/captures/dissect/make-tlsup-captures.sh
#   TLSUP_CAPTURES_OUT=/tmp/tlsup sudo -E bash ...   # writes there instead, the committed ones stay
#
# Real servers and clients from Debian packages (installed when missing), in two network
# namespaces, client tlsupc (10.65.0.1) and server tlsups (10.65.0.2), joined by a veth pair
# with offloads off; nothing is sent anywhere else. In capture order:
#   3306  MariaDB (self-signed RSA certificate): `mariadb --ssl` (TLS 1.2), then `--skip-ssl`
#   5432  PostgreSQL ssl=on (TLS at most 1.2): psql sslmode=require, then sslmode=disable;
#         restarted with ssl=off: psql sslmode=prefer (SSLRequest answered 'N')
#   389   slapd with a certificate: ldapsearch -ZZ (StartTLS, TLS 1.2); restarted without
#         one: ldapsearch -Z (StartTLS refused, the search goes on in clear)
#   3389  xrdp with security_layer=tls: xfreerdp /sec:tls +auth-only (PROTOCOL_SSL, under
#         xvfb-run), then /sec:rdp (no negotiation request: standard RDP security)
# TLS 1.2 so that the servers' certificates are on the wire. xrdp has no CredSSP (HYBRID):
# the unit tests use RDP messages of public captures for it.
#
# The golden values come from the tools, not from flowscribe: certificate fields from
# `openssl x509` on the servers' certificates; version and cipher from what the servers
# report for the client's own session (MariaDB's Ssl_version/Ssl_cipher, PostgreSQL's
# pg_stat_ssl, xrdp's log line; OpenSSL cipher names turned into IANA names by
# `openssl ciphers -stdname`); slapd's TLS version from its configuration (TLS 1.3 off).
# Everything started is stopped by PID and both namespaces are deleted on exit (netns.sh).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${TLSUP_CAPTURES_OUT:-$HERE/tlsup}   # another folder: try the script without touching these
NSC=tlsupc NSS=tlsups CIP=10.65.0.1 SIP=10.65.0.2 DEVC=tu-c DEVS=tu-s
# shellcheck source=netns.sh
source "$HERE/netns.sh"
ns_need tcpdump:tcpdump openssl:openssl ethtool:ethtool mariadbd:mariadb-server mariadb:mariadb-client \
  psql:postgresql-client slapd:slapd ldapsearch:ldap-utils xrdp:xrdp xfreerdp:freerdp2-x11 \
  xvfb-run:xvfb xauth:xauth
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [[ -z $PGBIN ]]; then
  ns_need initdb:postgresql  # initdb is not on PATH: postgresql is installed
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
stop_last() {  # stops the last server started, waits for it to go
  local pid=${PIDS[-1]}
  kill -TERM -- "-$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do [[ -e /proc/$pid ]] || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  unset 'PIDS[-1]'
}
ns_pair

# One self-signed RSA-2048 certificate per server.
cd "$WORK"
for s in mysql pgsql ldap rdp; do
  openssl req -x509 -newkey rsa:2048 -nodes -keyout $s.key -out $s.crt -days 825 \
    -subj "/O=flowscribe/CN=$s.tlsup.test" -addext "subjectAltName=DNS:$s.tlsup.test,IP:$SIP" 2>/dev/null
done

gold_start tests/captures/dissect/tlsup/tlsup.pcap make-tlsup-captures.sh
cert_gold() {  # cert_gold KEY CERTFILE
  gold "$1" tls cert_subject "$(openssl x509 -in "$2" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')"
  gold "$1" tls cert_sha256 "$(openssl x509 -in "$2" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f)"
  gold "$1/0" x509 subject "$(openssl x509 -in "$2" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')"
  gold "$1/0" x509 serial "$(openssl x509 -in "$2" -noout -serial | sed 's/^serial=//')"
  gold "$1/0" x509 sha256 "$(openssl x509 -in "$2" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f)"
  gold "$1/0" x509 san_dns "$(openssl x509 -in "$2" -noout -ext subjectAltName | tail -n +2 | tr -d ' ' | tr ',' '\n' | sed -n 's/^DNS://p' | paste -sd,)"
}

start tcpdump ip netns exec "$NSS" tcpdump -i $DEVS -s 0 -U -w "$WORK/tlsup.pcap" "tcp and host $CIP"
TCPDUMP=$LAST_PID
sleep 1.5

# ---- MariaDB -------------------------------------------------------------------------------
log mariadb
mkdir -p my && chown -R mysql:mysql my 2>/dev/null || true
chmod 644 mysql.key
mariadb-install-db --datadir="$WORK/my" --user=root --auth-root-authentication-method=socket \
  --skip-test-db >"$WORK/my-install.log" 2>&1
start mariadbd ip netns exec "$NSS" mariadbd --no-defaults --user=root --datadir="$WORK/my" --socket="$WORK/my.sock" \
  --pid-file="$WORK/my.pid" --bind-address=$SIP --port=3306 --skip-name-resolve \
  --ssl-cert="$WORK/mysql.crt" --ssl-key="$WORK/mysql.key" --tls-version=TLSv1.2
wait_listen 3306
mariadb --no-defaults -S "$WORK/my.sock" -u root \
  -e "CREATE USER 'fs'@'%' IDENTIFIED BY 'fspw'; GRANT USAGE ON *.* TO 'fs'@'%';"
MYQ="SHOW SESSION STATUS WHERE Variable_name IN ('Ssl_version','Ssl_cipher')"
out=$(C mariadb --no-defaults -h $SIP -u fs -pfspw --ssl --skip-ssl-verify-server-cert -N -B -e "$MYQ")
gold "3306#1" session proto mysql
gold "3306#1" tls version "$(awk '$1 == "Ssl_version" {print $2}' <<<"$out")"
gold "3306#1" tls cipher "$(iana "$(awk '$1 == "Ssl_cipher" {print $2}' <<<"$out")")"
cert_gold "3306#1" mysql.crt
C mariadb --no-defaults -h $SIP -u fs -pfspw --skip-ssl -N -B -e "SELECT 1" >/dev/null
gold "3306#2" session proto mysql
gold "3306#2" tls - absent
stop_last

# ---- PostgreSQL ----------------------------------------------------------------------------
log postgresql
mkdir -p pg && chown postgres:postgres pg
cp pgsql.crt pgsql.key pg/ && chown postgres:postgres pg/pgsql.* && chmod 600 pg/pgsql.key
runuser -u postgres -- "$PGBIN/initdb" -D "$WORK/pg/data" -U postgres --auth=trust >"$WORK/pg-init.log" 2>&1
printf 'host all all %s/32 trust\n' $CIP >>"$WORK/pg/data/pg_hba.conf"
pg_start() {
  start postgres ip netns exec "$NSS" runuser -u postgres -- "$PGBIN/postgres" -D "$WORK/pg/data" -k "$WORK/pg" \
    -c listen_addresses=$SIP -c port=5432 "$@"
  wait_listen 5432
}
pg_start -c ssl=on -c ssl_cert_file="$WORK/pg/pgsql.crt" -c ssl_key_file="$WORK/pg/pgsql.key" \
  -c ssl_max_protocol_version=TLSv1.2
out=$(C psql "host=$SIP user=postgres dbname=postgres sslmode=require" -At -F ' ' \
  -c "SELECT version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
gold "5432#1" session proto postgresql
gold "5432#1" tls version "$(awk '{print $1}' <<<"$out")"
gold "5432#1" tls cipher "$(iana "$(awk '{print $2}' <<<"$out")")"
cert_gold "5432#1" pgsql.crt
C psql "host=$SIP user=postgres dbname=postgres sslmode=disable" -At -c "SELECT 1" >/dev/null
gold "5432#2" session proto postgresql
gold "5432#2" tls - absent
stop_last
pg_start -c ssl=off
C psql "host=$SIP user=postgres dbname=postgres sslmode=prefer gssencmode=disable" -At -c "SELECT 2" >/dev/null
gold "5432#3" session proto postgresql
gold "5432#3" tls - absent
stop_last

# ---- slapd ---------------------------------------------------------------------------------
log slapd
mkdir -p ldapdb
chmod 644 ldap.key
ldap_conf() {  # ldap_conf FILE [TLS lines...]
  local f=$1; shift
  {
    printf 'include /etc/ldap/schema/core.schema\nmodulepath /usr/lib/ldap\nmoduleload back_mdb\n'
    printf 'pidfile %s/slapd.pid\n' "$WORK"
    printf '%s\n' "$@"
    printf 'database mdb\nsuffix "dc=tlsup,dc=test"\nrootdn "cn=admin,dc=tlsup,dc=test"\n'
    printf 'rootpw secret\ndirectory %s/ldapdb\n' "$WORK"
  } >"$f"
}
ldap_conf slapd-tls.conf "TLSCertificateFile $WORK/ldap.crt" "TLSCertificateKeyFile $WORK/ldap.key" \
  "TLSCipherSuite NORMAL:-VERS-TLS1.3"
ldap_conf slapd-clear.conf
start slapd ip netns exec "$NSS" slapd -d 0 -h "ldap://$SIP/" -f "$WORK/slapd-tls.conf"
wait_listen 389
C env LDAPTLS_REQCERT=never ldapsearch -x -ZZ -H "ldap://$SIP" -b "" -s base namingContexts >/dev/null
gold "389#1" session proto ldap
gold "389#1" tls version "TLSv1.2"
cert_gold "389#1" ldap.crt
stop_last
start slapd ip netns exec "$NSS" slapd -d 0 -h "ldap://$SIP/" -f "$WORK/slapd-clear.conf"
wait_listen 389
C ldapsearch -x -Z -H "ldap://$SIP" -b "" -s base namingContexts >/dev/null 2>&1
gold "389#2" session proto ldap
gold "389#2" tls - absent
stop_last

# ---- xrdp ----------------------------------------------------------------------------------
log xrdp
sed -e 's|^security_layer=.*|security_layer=tls|' -e "s|^certificate=.*|certificate=$WORK/rdp.crt|" \
  -e "s|^key_file=.*|key_file=$WORK/rdp.key|" -e "0,/^port=3389/s|^port=3389|port=tcp://$SIP:3389|" \
  -e 's|^ssl_protocols=.*|ssl_protocols=TLSv1.2|' -e "s|^LogFile=.*|LogFile=$WORK/xrdp.log|" \
  /etc/xrdp/xrdp.ini >"$WORK/xrdp.ini"
start xrdp ip netns exec "$NSS" xrdp --nodaemon --config "$WORK/xrdp.ini"
wait_listen 3389
# FreeRDP wants an X display even to authenticate only; its settings go to $WORK.
C env HOME="$WORK" xvfb-run -a xfreerdp /v:$SIP /cert:ignore /sec:tls +auth-only /u:fs /p:fspw \
  >"$WORK/xfreerdp-tls.log" 2>&1 || true
# xrdp logs "TLS connection established from ...: TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384".
line=$(grep -h 'TLS connection established' "$WORK/xrdp.log" /var/log/xrdp.log 2>/dev/null | tail -1)
gold "3389#1" session proto rdp
gold "3389#1" tls version "$(sed -n 's/.*: \(TLSv[0-9.]*\) with cipher .*/\1/p' <<<"$line")"
gold "3389#1" tls cipher "$(iana "$(sed -n 's/.* with cipher \([A-Z0-9-]*\).*/\1/p' <<<"$line")")"
cert_gold "3389#1" rdp.crt
# Standard RDP security (no negotiation request): the server confirms without TLS.
C env HOME="$WORK" xvfb-run -a xfreerdp /v:$SIP /cert:ignore /sec:rdp +auth-only /u:fs /p:fspw \
  >"$WORK/xfreerdp-rdp.log" 2>&1 || true
gold "3389#2" session proto rdp
gold "3389#2" tls - absent
stop_last

sleep 1
stop_capture "$TCPDUMP"
mkdir -p "$OUT"
cp "$WORK/tlsup.pcap" "$OUT/tlsup.pcap"
cp "$GOLD" "$OUT/golden.tsv"
log "wrote $OUT/tlsup.pcap ($(stat -c %s "$OUT/tlsup.pcap") bytes) and $OUT/golden.tsv"
