#!/usr/bin/env bash
# Make captures of real application traffic on deliberately non-standard ports, and
# the per-flow protocol labels they should get (tests/captures/proto/expected.tsv).
#
#   sudo bash tests/captures/make-proto-captures.sh
#
# Same approach as make-captures.sh: two network namespaces (client fspc, server
# fsps) joined by a veth pair with offloads off; real servers from Debian run in
# fsps on swapped ports (SSH on 443, HTTP on 22, MariaDB on 5432, PostgreSQL on
# 3306, ...), real clients run in fspc, tcpdump captures in fspc. No packet
# leaves the two namespaces. Idempotent: it removes what an earlier run left;
# everything it starts is stopped by PID (process group) and both namespaces
# are deleted on exit. See proto/README.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$HERE/proto
STATE=/run/flowscribe-proto-captures   # PID files, so a later run can clean up after a killed one
NSC=fspc
NSS=fsps
PY=/usr/bin/python3
C_MAC=02:77:00:00:01:01
S_MAC=02:77:00:00:01:02
CIP=10.77.0.1
SIP=10.77.0.2     # the real servers
XIP=10.77.0.3     # the "unknown traffic" listeners (a second server address)
SIP6=fd77::2
PGBIN=/usr/lib/postgresql/15/bin

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'make-proto-captures: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root: sudo bash $0"

install_deps() {
  local need=() p
  # command -> Debian package
  local -A pkg=(
    [tcpdump]=tcpdump [nginx]=nginx-light [openssl]=openssl [sshd]=openssh-server [ssh]=openssh-client
    [mariadbd]=mariadb-server [mariadb]=mariadb-client [psql]=postgresql-client [swaks]=swaks
    [postfix]=postfix [vsftpd]=vsftpd [lftp]=lftp [curl]=curl [redis-server]=redis-server
    [redis-cli]=redis-tools [dnsmasq]=dnsmasq-base [dig]=dnsutils [telnetd]=inetutils-telnetd
    [telnet]=inetutils-telnet [systemd-socket-activate]=systemd [dovecot]=dovecot-core
    [smbd]=samba [smbclient]=smbclient [Xvnc]=tigervnc-standalone-server [snmpd]=snmpd
    [snmpget]=snmp [in.tftpd]=tftpd-hpa [tftp]=tftp-hpa [chronyd]=chrony [socat]=socat
    [logger]=bsdutils [ip]=iproute2 [ss]=iproute2 [ethtool]=ethtool [nc.openbsd]=netcat-openbsd
    [runuser]=util-linux
  )
  for p in "${!pkg[@]}"; do
    command -v "$p" >/dev/null || [[ -x /usr/sbin/$p ]] || need+=("${pkg[$p]}")
  done
  [[ -x $PGBIN/postgres ]] || need+=(postgresql-15)
  [[ -x /usr/lib/dovecot/imap ]] || need+=(dovecot-imapd)
  [[ -x /usr/lib/dovecot/pop3 ]] || need+=(dovecot-pop3d)
  [[ -x $PY ]] || need+=(python3)
  if ((${#need[@]})); then
    mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
    log "installing ${need[*]}"
    local policy_made=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then   # keep package scripts from starting daemons on the host
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
      chmod 755 /usr/sbin/policy-rc.d
      policy_made=1
    fi
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
    ((policy_made)) && rm -f /usr/sbin/policy-rc.d
  fi
}

# Stop every process an earlier or this run recorded (by PID and its process
# group: each was started under setsid), then delete the namespaces.
cleanup() {
  local f pid
  if [[ -d $STATE ]]; then
    for f in "$STATE"/*.pid; do
      [[ -e $f ]] || continue
      pid=$(<"$f")
      if [[ $pid =~ ^[0-9]+$ ]] && [[ -e /proc/$pid ]]; then
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 30); do [[ -e /proc/$pid ]] || break; sleep 0.1; done
        [[ -e /proc/$pid ]] && kill -KILL -- "-$pid" 2>/dev/null || true
      fi
      rm -f "$f"
    done
  fi
  ip netns del "$NSC" 2>/dev/null || true
  ip netns del "$NSS" 2>/dev/null || true
  rm -f /tmp/.X77-lock /tmp/.X11-unix/X77
  [[ -n ${WORK:-} && -d ${WORK:-} && -z ${KEEP_WORK:-} ]] && rm -rf "$WORK"
  return 0
}

# start NAME CMD...: run CMD in its own session, remember its PID.
start() {
  local name=$1; shift
  setsid "$@" >"$WORK/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/$name.pid"
}

# stop NAME [SIG]: signal the process group started by `start NAME`, wait for it.
stop() {
  local f=$STATE/$1.pid pid
  [[ -e $f ]] || return 0
  pid=$(<"$f")
  kill -"${2:-TERM}" -- "-$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do [[ -e /proc/$pid ]] || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$f"
}

wait_for() {  # wait_for SECONDS CMD...: poll until CMD succeeds
  local n=$(($1 * 10)); shift
  until "$@" >/dev/null 2>&1; do
    ((n-- > 0)) || die "timed out waiting for: $*"
    sleep 0.1
  done
}

C() { ip netns exec "$NSC" "$@"; }
S() { ip netns exec "$NSS" "$@"; }
CX=(ip netns exec "$NSC")   # for `start`, which cannot run shell functions
SX=(ip netns exec "$NSS")
# listening tcp|udp PORT: a socket in the server namespace listens on PORT
listening() { [[ -n $(S ss -Hln --"$1" "sport = :$2") ]]; }
wait_listen() { wait_for "${3:-20}" listening "$1" "$2" || die "no $1 listener on $2"; }

install_deps
mkdir -p "$STATE"
cleanup
WORK=$(mktemp -d /tmp/fs-proto.XXXXXX)
chmod 755 "$WORK"
NEW=$WORK/new   # outputs land here and replace proto/ only after a complete run
mkdir -p "$NEW"
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- topology
log "namespaces $NSC (client) and $NSS (server)"
ip netns add "$NSC"
ip netns add "$NSS"
for ns in "$NSC" "$NSS"; do
  ip -n "$ns" link set lo up
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.router_solicitations=0 \
    net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
done
ip link add pc-eth0 netns "$NSC" address "$C_MAC" type veth peer name ps-eth0 netns "$NSS" address "$S_MAC"
for pair in "$NSC pc-eth0" "$NSS ps-eth0"; do
  set -- $pair
  ip netns exec "$1" ethtool -K "$2" tx off rx off tso off gso off gro off >/dev/null
  ip -n "$1" link set "$2" up
done
ip -n "$NSC" addr add $CIP/24 dev pc-eth0
ip -n "$NSC" addr add fd77::1/64 dev pc-eth0 nodad
ip -n "$NSS" addr add $SIP/24 dev ps-eth0
ip -n "$NSS" addr add $XIP/24 dev ps-eth0
ip -n "$NSS" addr add $SIP6/64 dev ps-eth0 nodad

# ---------------------------------------------------------------- content
mkdir -p "$WORK/www" "$WORK/nginx-tmp" "$WORK/ftp" "$WORK/tftp" "$WORK/share" "$WORK/redis" \
  "$WORK/snmp" "$WORK/vsftpd-empty"
printf '<!doctype html>\n<html><head><title>flowscribe test</title></head>\n<body><p>Hello from the flowscribe capture server.</p></body></html>\n' >"$WORK/www/index.html"
printf 'hello from the flowscribe test server\n' | tee "$WORK/ftp/hello.txt" "$WORK/tftp/hello.txt" >"$WORK/share/hello.txt"
chmod -R a+rX "$WORK/www" "$WORK/ftp" "$WORK/tftp" "$WORK/share"
chmod 755 "$WORK/vsftpd-empty"

# ---------------------------------------------------------------- servers
log "servers in $NSS"

# nginx: HTTP on 8081 and 22, TLS (self-signed) on 5222.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
  -subj /CN=tls.fs.test -addext subjectAltName=DNS:tls.fs.test \
  -keyout "$WORK/tls.key" -out "$WORK/tls.crt" 2>/dev/null
cat >"$WORK/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 64; }
http {
  access_log $WORK/nginx-access.log;
  client_body_temp_path $WORK/nginx-tmp/body;
  proxy_temp_path $WORK/nginx-tmp/proxy;
  fastcgi_temp_path $WORK/nginx-tmp/fastcgi;
  uwsgi_temp_path $WORK/nginx-tmp/uwsgi;
  scgi_temp_path $WORK/nginx-tmp/scgi;
  types { text/html html; text/plain txt; }
  default_type application/octet-stream;
  server_tokens off;
  keepalive_timeout 10;
  server {
    listen $SIP:8081; listen [$SIP6]:8081;
    listen $SIP:22; listen [$SIP6]:22;
    root $WORK/www;
  }
  server {
    listen $SIP:5222 ssl;
    server_name tls.fs.test;
    ssl_certificate $WORK/tls.crt;
    ssl_certificate_key $WORK/tls.key;
    root $WORK/www;
  }
}
EOF
start nginx "${SX[@]}" nginx -p "$WORK" -e "$WORK/nginx-error.log" -c "$WORK/nginx.conf"

# OpenSSH on 443, public-key login for root from a key made here.
mkdir -p /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$WORK/ssh_host_ed25519_key"
ssh-keygen -q -t ed25519 -N '' -f "$WORK/client_key"
cp "$WORK/client_key.pub" "$WORK/authorized_keys"
cat >"$WORK/sshd_config" <<EOF
Port 443
ListenAddress $SIP
HostKey $WORK/ssh_host_ed25519_key
AuthorizedKeysFile $WORK/authorized_keys
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PidFile $WORK/sshd.pid
EOF
start sshd "${SX[@]}" /usr/sbin/sshd -D -e -f "$WORK/sshd_config"

# MariaDB on 5432 (the PostgreSQL port).
mariadb-install-db --no-defaults --datadir="$WORK/mysql" --user=root --skip-test-db \
  --auth-root-authentication-method=socket >"$WORK/mariadb-install.log" 2>&1 || { cat "$WORK/mariadb-install.log" >&2; die "mariadb-install-db failed"; }
start mariadb "${SX[@]}" mariadbd --no-defaults --datadir="$WORK/mysql" --socket="$WORK/mysql.sock" \
  --port=5432 --bind-address=$SIP --user=root --skip-name-resolve --skip-log-bin \
  --pid-file="$WORK/mysqld.pid" --log-error="$WORK/mariadb-error.log" --innodb-buffer-pool-size=16M

# PostgreSQL on 3306 (the MySQL port), SCRAM password auth over TCP.
mkdir -p "$WORK/pg" "$WORK/pgsock"
chown postgres: "$WORK/pg" "$WORK/pgsock"
runuser -u postgres -- "$PGBIN/initdb" -D "$WORK/pg" -U postgres --auth-local=trust \
  --auth-host=scram-sha-256 --no-sync >"$WORK/initdb.log" 2>&1 || { cat "$WORK/initdb.log" >&2; die "initdb failed"; }
echo "host all all 10.77.0.0/24 scram-sha-256" >>"$WORK/pg/pg_hba.conf"
start postgres "${SX[@]}" runuser -u postgres -- "$PGBIN/postgres" -D "$WORK/pg" -p 3306 -k "$WORK/pgsock" \
  -c listen_addresses=$SIP -c ssl=off -c fsync=off -c logging_collector=off

# Postfix on 2525; every recipient in fs.test is accepted and discarded.
mkdir -p "$WORK/postfix"
cat >"$WORK/postfix/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $WORK/postfix-spool
data_directory = $WORK/postfix-data
mail_owner = postfix
setgid_group = postdrop
myhostname = mail.fs.test
mydomain = fs.test
myorigin = fs.test
mydestination = fs.test, mail.fs.test
inet_interfaces = $SIP
inet_protocols = ipv4
mynetworks = 10.77.0.0/24
local_recipient_maps =
local_transport = discard:dropped by the flowscribe capture server
default_transport = discard:dropped by the flowscribe capture server
alias_maps =
alias_database =
smtpd_banner = \$myhostname ESMTP Postfix
biff = no
maillog_file = /dev/stdout
EOF
cat >"$WORK/postfix/master.cf" <<'EOF'
2525      inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
mkdir -p "$WORK/postfix-spool" "$WORK/postfix-data"   # postfix start creates the queue's subdirectories
chown postfix: "$WORK/postfix-data"
start postfix "${SX[@]}" postfix -c "$WORK/postfix" start-fg
# master calls setsid() itself, so it is not in the group `start` recorded: record its PID too.
wait_for 30 test -s "$WORK/postfix-spool/pid/master.pid"
tr -dc '0-9' <"$WORK/postfix-spool/pid/master.pid" >"$STATE/postfix-master.pid"

# vsftpd on 2121, anonymous read-only, passive ports 40000-40010.
cat >"$WORK/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=$SIP
listen_port=2121
background=NO
anonymous_enable=YES
no_anon_password=YES
anon_root=$WORK/ftp
local_enable=NO
write_enable=NO
pasv_enable=YES
pasv_address=$SIP
pasv_min_port=40000
pasv_max_port=40010
connect_from_port_20=NO
secure_chroot_dir=$WORK/vsftpd-empty
seccomp_sandbox=NO
xferlog_enable=NO
ftpd_banner=flowscribe test FTP server
EOF
start vsftpd "${SX[@]}" vsftpd "$WORK/vsftpd.conf"

# Redis on 6380.
start redis "${SX[@]}" redis-server --bind $SIP --port 6380 --save '' --appendonly no --protected-mode no \
  --daemonize no --dir "$WORK/redis"

# dnsmasq twice: on 5353 (the mDNS port, but unicast DNS) and on 53.
for port in 5353 53; do
  start "dnsmasq-$port" "${SX[@]}" dnsmasq --keep-in-foreground --conf-file=/dev/null --port=$port \
    --no-resolv --no-hosts --no-poll --log-facility=- --log-queries --pid-file= \
    --bind-interfaces --user=root --group=root --listen-address=$SIP,$SIP6 \
    --local=/fs.test/ --host-record=www.fs.test,$SIP,$SIP6 --mx-host=fs.test,mail.fs.test,10 \
    --host-record=mail.fs.test,$SIP --txt-record=fs.test,"v=flowscribe-test"
done

# telnetd (inetutils) on 8023, started per connection by an inetd-style listener.
start telnetd "${SX[@]}" systemd-socket-activate --inetd -a -l $SIP:8023 /usr/sbin/telnetd

# Dovecot: IMAP on 1430, POP3 on 1100, plaintext login, any user with password "fs".
mkdir -p "$WORK/dovecot-run" "$WORK/dovecot-state" "$WORK/mail"
chmod 1777 "$WORK/mail"
cat >"$WORK/dovecot.conf" <<EOF
protocols = imap pop3
listen = $SIP
base_dir = $WORK/dovecot-run
state_dir = $WORK/dovecot-state
log_path = $WORK/dovecot-server.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {
  driver = static
  args = password=fs
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$WORK/mail/%u
}
mail_location = maildir:$WORK/mail/%u
service imap-login {
  inet_listener imap {
    port = 1430
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 1100
  }
  inet_listener pop3s {
    port = 0
  }
}
EOF
start dovecot "${SX[@]}" dovecot -F -c "$WORK/dovecot.conf"

# Samba smbd on 4445, a guest share.
SMB=$WORK/samba
mkdir -p "$SMB"/{lock,state,cache,private,pid,ncalrpc,bind-dns,log}
cat >"$WORK/smb.conf" <<EOF
[global]
  smb ports = 4445
  interfaces = $SIP
  bind interfaces only = yes
  disable netbios = yes
  server role = standalone server
  workgroup = FSTEST
  map to guest = Bad User
  guest account = nobody
  lock directory = $SMB/lock
  state directory = $SMB/state
  cache directory = $SMB/cache
  private dir = $SMB/private
  pid directory = $SMB/pid
  ncalrpc dir = $SMB/ncalrpc
  binddns dir = $SMB/bind-dns
  log file = $SMB/log/log.%m
  load printers = no
  printing = bsd
  printcap name = /dev/null
  disable spoolss = yes
[pub]
  path = $WORK/share
  read only = yes
  guest ok = yes
EOF
start smbd "${SX[@]}" smbd -F --no-process-group --debug-stdout -s "$WORK/smb.conf"

# TigerVNC's Xvnc on 5999, no authentication, a tiny screen.
start xvnc "${SX[@]}" Xvnc :77 -rfbport 5999 -interface $SIP -SecurityTypes None -geometry 32x24 -depth 24 \
  -desktop fs-test -nolisten tcp -AlwaysShared

# snmpd on 1161/udp.
cat >"$WORK/snmpd.conf" <<EOF
agentaddress udp:$SIP:1161
rocommunity public 10.77.0.0/24
sysdescr flowscribe test agent
syslocation fs-test-lab
syscontact nobody@fs.test
EOF
start snmpd "${SX[@]}" env SNMP_PERSISTENT_DIR="$WORK/snmp" snmpd -f -Lo -C -c "$WORK/snmpd.conf" -p "$WORK/snmpd.pid"

# tftpd-hpa on 6969/udp.
start tftpd "${SX[@]}" in.tftpd -L -a $SIP:6969 -s "$WORK/tftp" -u nobody

# chrony as an NTP server on 1123/udp (local clock, never touches the host clock).
cat >"$WORK/chrony-server.conf" <<EOF
port 1123
bindaddress $SIP
allow 10.77.0.0/24
local stratum 8
cmdport 0
pidfile $WORK/chronyd-server.pid
EOF
start chronyd "${SX[@]}" chronyd -d -x -u root -f "$WORK/chrony-server.conf"

# syslog receiver on 5514/udp (the messages come from logger(1)).
start syslog-rx "${SX[@]}" socat -u UDP4-RECV:5514,bind=$SIP OPEN:"$WORK/syslog-received.txt",creat,append

# "Unknown" traffic: echo listeners on the second address, ports 80 and 443 (tcp), 53 (udp).
for port in 80 443; do
  start "echo-$port" "${SX[@]}" socat TCP4-LISTEN:$port,bind=$XIP,reuseaddr,fork EXEC:cat
done
start echo-53u "${SX[@]}" socat -u UDP4-RECV:53,bind=$XIP OPEN:/dev/null

for p in 8081 22 5222 443 5432 3306 2525 2121 6380 5353 53 8023 1430 1100 4445 5999 80; do wait_listen tcp $p 60; done
for p in 5353 53 1161 6969 1123 5514; do wait_listen udp $p 30; done

# Accounts the clients use, made over local sockets (not captured).
S mariadb --no-defaults --socket="$WORK/mysql.sock" -u root \
  -e "CREATE USER 'fs'@'%' IDENTIFIED BY 'fs'; GRANT SELECT ON *.* TO 'fs'@'%';"
runuser -u postgres -- "$PGBIN/psql" -q -h "$WORK/pgsock" -p 3306 -U postgres -d postgres \
  -c "ALTER USER postgres PASSWORD 'fs'" >/dev/null
sleep 2

# ---------------------------------------------------------------- captures
# Ground truth: `expect PROTO TRANSPORT SERVER_IP SERVER_PORT COUNT` says that the
# capture being made holds COUNT flows (N+: at least N) to SERVER_IP:SERVER_PORT,
# all of them PROTO.
RULES=$WORK/rules.tsv
: >"$RULES"
CAP_NAME=
capture() {
  CAP_NAME=$1
  for n in "$NSC" "$NSS"; do ip -n "$n" neigh flush all 2>/dev/null || true; ip -n "$n" -6 neigh flush all 2>/dev/null || true; done
  start "tcpdump-$CAP_NAME" "${CX[@]}" tcpdump -Z root -U -n -s 262144 -i pc-eth0 -w "$WORK/$CAP_NAME.pcap"
  wait_for 10 grep -q 'listening on' "$WORK/tcpdump-$CAP_NAME.log"
  sleep 0.5
  log "capture $CAP_NAME"
}
expect() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$CAP_NAME" "$@" >>"$RULES"; }
end_capture() {
  sleep 1
  stop "tcpdump-$CAP_NAME" INT
  cp "$WORK/$CAP_NAME.pcap" "$NEW/$CAP_NAME.pcap"
}
gap() { sleep 0.3; }
CURL=(curl -sS --max-time 5 -o /dev/null)
DIG=(dig +tries=1 +time=2)

capture ssh-443
C ssh -F /dev/null -p 443 -i "$WORK/client_key" -o BatchMode=yes -o StrictHostKeyChecking=no \
  -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR root@$SIP 'echo hello from ssh' >/dev/null
expect ssh tcp $SIP 443 1
end_capture

capture http-8081
C "${CURL[@]}" http://$SIP:8081/index.html; gap
C "${CURL[@]}" -6 "http://[$SIP6]:8081/index.html"
expect http tcp $SIP 8081 1
expect http tcp $SIP6 8081 1
end_capture

capture http-22
C "${CURL[@]}" http://$SIP:22/index.html; gap
C "${CURL[@]}" -X POST --data 'q=flowscribe' http://$SIP:22/index.html; gap    # nginx: 405
C "${CURL[@]}" -6 "http://[$SIP6]:22/"
expect http tcp $SIP 22 2
expect http tcp $SIP6 22 1
end_capture

capture tls-5222
C "${CURL[@]}" -k --resolve tls.fs.test:5222:$SIP https://tls.fs.test:5222/index.html; gap   # TLS 1.3, SNI
C "${CURL[@]}" -k --tls-max 1.2 --resolve tls.fs.test:5222:$SIP https://tls.fs.test:5222/; gap
C "${CURL[@]}" -k https://$SIP:5222/                                                       # no SNI
expect tls tcp $SIP 5222 3
end_capture

capture mysql-5432
C mariadb --no-defaults --skip-ssl -h $SIP -P 5432 -u fs -pfs -e 'SELECT VERSION(); SELECT 1+1' >/dev/null; gap
C mariadb --no-defaults --skip-ssl -h $SIP -P 5432 -u fs -pwrong -e 'SELECT 1' >/dev/null 2>&1 || true   # access denied
expect mysql tcp $SIP 5432 2
end_capture

capture postgresql-3306
C env PGPASSWORD=fs PGCONNECT_TIMEOUT=5 "$PGBIN/psql" -X -q "host=$SIP port=3306 user=postgres dbname=postgres sslmode=prefer" \
  -c 'SELECT 1' >/dev/null; gap      # SSLRequest, 'N', then the startup message
C env PGPASSWORD=fs PGCONNECT_TIMEOUT=5 "$PGBIN/psql" -X -q "host=$SIP port=3306 user=postgres dbname=postgres sslmode=disable" \
  -c 'SELECT version()' >/dev/null   # startup message first
expect postgresql tcp $SIP 3306 2
end_capture

capture smtp-2525
C swaks --silent 2 --server $SIP --port 2525 --helo client.fs.test --from alice@fs.test --to bob@fs.test \
  --header 'Subject: flowscribe test' --body 'A short test message.' >/dev/null
expect smtp tcp $SIP 2525 1
end_capture

capture ftp-2121
C "${CURL[@]}" ftp://$SIP:2121/hello.txt; gap                 # anonymous, EPSV, RETR
C lftp -c "set net:max-retries 1; set net:timeout 5; open -p 2121 $SIP; ls" >/dev/null
expect ftp tcp $SIP 2121 2        # control connections only; the data connections are not labelled
end_capture

capture redis-6380
# One command per run: fed from a pipe, redis-cli first sends COMMAND DOCS (a 180 KB answer).
C redis-cli -h $SIP -p 6380 SET flowscribe hello >/dev/null; gap
C redis-cli -h $SIP -p 6380 GET flowscribe >/dev/null
expect redis tcp $SIP 6380 2
end_capture

capture dns-5353
C "${DIG[@]}" -p 5353 @$SIP www.fs.test A >/dev/null; gap
C "${DIG[@]}" -p 5353 @$SIP fs.test MX >/dev/null; gap
C "${DIG[@]}" -p 5353 +tcp @$SIP fs.test TXT >/dev/null; gap
C "${DIG[@]}" -p 5353 @$SIP6 www.fs.test AAAA >/dev/null
expect dns udp $SIP 5353 2
expect dns tcp $SIP 5353 1
expect dns udp $SIP6 5353 1
end_capture

capture dns-53
C "${DIG[@]}" @$SIP www.fs.test A >/dev/null; gap
C "${DIG[@]}" @$SIP nope.fs.test A >/dev/null; gap       # NXDOMAIN
C "${DIG[@]}" +tcp @$SIP fs.test TXT >/dev/null
expect dns udp $SIP 53 2
expect dns tcp $SIP 53 1
end_capture

capture telnet-8023
{ sleep 2; printf 'guest\r\n'; sleep 2; } | C timeout 10 telnet $SIP 8023 >/dev/null 2>&1 || true
expect telnet tcp $SIP 8023 1
end_capture

capture imap-1430
C "${CURL[@]}" -u fs:fs "imap://$SIP:1430/INBOX"; gap      # LOGIN, SELECT INBOX ...
C "${CURL[@]}" -u fs:fs -X 'LIST "" "*"' "imap://$SIP:1430/"
expect imap tcp $SIP 1430 2
end_capture

capture pop3-1100
C "${CURL[@]}" -u fs:fs "pop3://$SIP:1100/"                 # USER/PASS, LIST
expect pop3 tcp $SIP 1100 1
end_capture

capture smb-4445
C smbclient -s /dev/null -p 4445 -N "//$SIP/pub" -c 'ls; get hello.txt /dev/null' >/dev/null 2>&1
expect smb tcp $SIP 4445 1
end_capture

capture vnc-5999
# A minimal RFB 3.8 client: version, security type None, ClientInit, one full update.
C "$PY" - $SIP 5999 <<'EOF'
import socket, struct, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
def recv(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise SystemExit("rfb: connection closed")
        b += c
    return b
assert recv(12).startswith(b"RFB ")
s.sendall(b"RFB 003.008\n")
types = recv(recv(1)[0])
assert 1 in types, types
s.sendall(b"\x01")
assert struct.unpack("!I", recv(4))[0] == 0
s.sendall(b"\x01")                                   # ClientInit, shared
w, h = struct.unpack("!HH", recv(4)); recv(16)
recv(struct.unpack("!I", recv(4))[0])                # desktop name
s.sendall(struct.pack("!BBHi", 2, 0, 1, 0))          # SetEncodings: Raw
s.sendall(struct.pack("!BBHHHH", 3, 0, 0, 0, w, h))  # FramebufferUpdateRequest
_, _, n = struct.unpack("!BBH", recv(4))
for _ in range(n):
    _, _, rw, rh, enc = struct.unpack("!HHHHi", recv(12))
    recv(rw * rh * 4 if enc == 0 else 0)
s.close()
EOF
expect vnc tcp $SIP 5999 1
end_capture

capture snmp-1161
C env SNMP_PERSISTENT_DIR="$WORK/snmp-client" snmpget -v2c -c public -On -m '' $SIP:1161 1.3.6.1.2.1.1.1.0 1.3.6.1.2.1.1.6.0 >/dev/null; gap
C env SNMP_PERSISTENT_DIR="$WORK/snmp-client" snmpgetnext -v1 -c public -On -m '' $SIP:1161 1.3.6.1.2.1.1.4 >/dev/null
expect snmp udp $SIP 1161 2
end_capture

capture tftp-6969
C tftp -m octet $SIP 6969 -c get hello.txt "$WORK/tftp-got.txt"
[[ -s $WORK/tftp-got.txt ]] || die "tftp transfer failed"
expect tftp udp $SIP 6969 1      # the read request; the data flow from the server's new port is not labelled
end_capture

capture ntp-1123
C chronyd -Q -t 10 -u root "server $SIP port 1123 iburst maxsamples 3" 'cmdport 0' \
  "pidfile $WORK/chronyd-client.pid" >"$WORK/chrony-client.log" 2>&1 || true
expect ntp udp $SIP 1123 1+     # chronyd sends each request from a new random port
end_capture

capture syslog-5514
C logger --udp --server $SIP --port 5514 --rfc5424 --tag fs-test 'flowscribe proto capture test (RFC 5424)'; gap
C logger --udp --server $SIP --port 5514 --rfc3164 --tag fs-test 'flowscribe proto capture test (RFC 3164)'
expect syslog udp $SIP 5514 2
end_capture

capture unknown
# Random bytes (fixed seed) where a port-based guess would say http, tls and dns.
"$PY" - "$WORK" <<'EOF'
import random, sys
r = random.Random(5424)
for name, n in (("rand-80", 600), ("rand-443", 400), ("rand-53", 120)):
    b = bytearray(r.randbytes(n))
    b[0] = 0x9c   # not ASCII, not a TLS record type, a DNS header with odd flags
    open(f"{sys.argv[1]}/{name}.bin", "wb").write(b)
EOF
C nc -N -w 2 $XIP 80 <"$WORK/rand-80.bin" >/dev/null; gap
C nc -N -w 2 $XIP 443 <"$WORK/rand-443.bin" >/dev/null; gap
C nc -u -w 1 $XIP 53 <"$WORK/rand-53.bin" >/dev/null || true
expect unknown tcp $XIP 80 1
expect unknown tcp $XIP 443 1
expect unknown udp $XIP 53 1
end_capture

log "stopping servers"
for f in "$STATE"/*.pid; do stop "$(basename "$f" .pid)"; done

# ---------------------------------------------------------------- ground truth
log "expected.tsv"
"$PY" - "$RULES" "$NEW" "$HERE/flows.py" >"$NEW/expected.tsv" <<'EOF'
import collections, subprocess, sys
rules_file, new, flows_py = sys.argv[1:]
rules = collections.OrderedDict()
for line in open(rules_file):
    cap, proto, transport, sip, sport, count = line.rstrip("\n").split("\t")
    rules.setdefault(cap, []).append((proto, transport, sip, int(sport), count))
print("# capture\ttransport\tclient_ip\tclient_port\tserver_ip\tserver_port\tproto")
bad = []
for cap, rs in rules.items():
    out = subprocess.run([sys.executable, flows_py, f"{new}/{cap}.pcap"], check=True,
                         capture_output=True, text=True).stdout
    flows = [l.split() for l in out.splitlines() if l and not l.startswith("#")]
    for proto, transport, sip, sport, count in rs:
        hits = [f for f in flows if f[0] == transport and f[3] == sip and int(f[4]) == sport]
        n = int(count.rstrip("+"))
        if len(hits) != n and not (count.endswith("+") and len(hits) > n):
            bad.append(f"{cap}: {count} {transport} flow(s) to {sip}:{sport} expected, found {len(hits)}")
        for f in hits:
            print("\t".join([f"{cap}.pcap", f[0], f[1], f[2], f[3], f[4], proto]))
if bad:
    sys.exit("\n".join(bad))
EOF

log "checking the captures"
for f in "$NEW"/*.pcap; do
  tcpdump -nr "$f" >/dev/null 2>"$WORK/check.err" || { cat "$WORK/check.err" >&2; die "tcpdump cannot read $f"; }
  size=$(stat -c %s "$f")
  printf '%-22s %7d bytes\n' "$(basename "$f")" "$size" >&2
  ((size <= 64 * 1024)) || die "$f is larger than 64 KiB"
done

mkdir -p "$OUT"
rm -f "$OUT"/*.pcap "$OUT/expected.tsv"
cp -- "$NEW"/*.pcap "$NEW/expected.tsv" "$OUT/"
log "server versions"
dpkg-query -W -f '${Package} ${Version}\n' nginx-light openssh-server mariadb-server postgresql-15 postfix \
  vsftpd redis-server dnsmasq-base inetutils-telnetd dovecot-core samba tigervnc-standalone-server snmpd \
  tftpd-hpa chrony socat >&2 2>/dev/null || true
log "done: $(grep -vc '^#' "$OUT/expected.tsv") labelled flows in $OUT/expected.tsv"
