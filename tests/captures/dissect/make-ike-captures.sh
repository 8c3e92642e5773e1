#!/usr/bin/env bash
# Make the captures of IKE with certificate authentication (tests/captures/dissect/ike/*.pcap)
# and the certificates' own values (ike/certs.tsv, from openssl). Not run by CI: both are
# committed, with ike/golden.jsonl (the records, written by
# `tests/integration/test_dissect_ike.py --update` after checking them against certs.tsv).
# Regenerate all three together:
#
#   sudo bash tests/captures/dissect/make-ike-captures.sh
#   IKE_CAPTURES_OUT=/tmp/ike sudo -E bash ...   # writes there instead, the committed ones stay
#   python3 tests/integration/test_dissect_ike.py --bin build/sensor/flowscribe \
#       --check build/tests/tools/rfc5424_check --captures tests/captures/dissect/ike --update
#
# Two strongSwan 5.9 charon daemons (Debian packages strongswan-charon, -swanctl, -pki), one in
# each of two network namespaces, cert-a (10.78.0.1, initiator) and cert-b (10.78.0.2,
# responder), joined by a veth pair with offloads off; nothing is sent anywhere else. Each
# charon runs in its own mount namespace with a private /run (pid file, vici socket). A CA and
# one ECDSA P-256 certificate per gateway, made with `pki`. Captures:
#   ikev1-aggressive.pcap  IKEv1 Aggressive Mode, pubkey auth: the CERT payloads are in the clear
#   ikev1-main.pcap        IKEv1 Main Mode, pubkey auth: CERT in encrypted messages 5 and 6
#   ikev2.pcap             IKEv2: CERTREQ in IKE_SA_INIT (CERT would travel inside IKE_AUTH's
#                          SK payload; in this set-up charon's IKE_AUTH did not go out, not
#                          investigated: the capture holds the IKE_SA_INIT exchange only)
# The Quick Mode exchanges end in NO_PROPOSAL_CHOSEN (no ESP in these namespaces): phase 1,
# where the certificates are, completes. Everything started is stopped by PID and both
# namespaces are deleted on exit (netns.sh; KEEP_WORK=1 keeps the work folder with charon's
# logs).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${IKE_CAPTURES_OUT:-$HERE/ike}   # another folder: try the script without touching these
NSC=cert-a NSS=cert-b CIP=10.78.0.1 SIP=10.78.0.2 DEVC=cert-va DEVS=cert-vb
CHARON=/usr/lib/ipsec/charon
PLUGIN=/usr/lib/ipsec/plugins/libstrongswan-openssl.so
# shellcheck source=netns.sh
source "$HERE/netns.sh"
ns_need "$CHARON:strongswan-charon" swanctl:strongswan-swanctl pki:strongswan-pki tcpdump:tcpdump \
  ethtool:ethtool openssl:openssl
[[ -e $PLUGIN ]] || ns_need "$PLUGIN:libstrongswan-standard-plugins"

log "namespaces $NSC/$NSS"
ns_pair

log "certificates"
cd "$WORK"
pki --gen --type ecdsa --size 256 --outform pem > ca.key
pki --self --ca --lifetime 3650 --in ca.key --type ecdsa --dn "C=DE, O=flowscribe, CN=flowscribe IKE CA" \
  --outform pem > ca.pem
for side in a b; do
  pki --gen --type ecdsa --size 256 --outform pem > $side.key
  pki --req --type priv --in $side.key --dn "C=DE, O=flowscribe, CN=gw-$side.ike.test" --san gw-$side.ike.test \
    --outform pem > $side.req
  pki --issue --cacert ca.pem --cakey ca.key --type pkcs10 --in $side.req --lifetime 1825 \
    --san gw-$side.ike.test --flag serverAuth --outform pem > $side.pem
done

# strongswan.conf and swanctl.conf of one side: $1 a|b, $2 its address, $3 the peer's.
config() {
  local side=$1 me=$2 peer=$3 dir=$WORK/$1
  mkdir -p "$dir"
  cat > "$dir/strongswan.conf" <<EOF
charon {
  load = random nonce openssl pem pkcs1 pkcs8 x509 pubkey revocation constraints kernel-netlink socket-default vici
  install_routes = no
  install_virtual_ip = no
  retransmit_tries = 2
  plugins {
    vici { socket = unix://$dir/charon.vici }
  }
  filelog { log { path = $dir/charon.log
    default = 1
    ike = 2 } }
}
swanctl { socket = unix://$dir/charon.vici }
EOF
  # swanctl loads credentials from the folders beside its swanctl.conf.
  mkdir -p "$dir"/{x509,x509ca,x509ocsp,x509aa,x509ac,x509crl,pubkey,private,rsa,ecdsa,bliss,pkcs8,pkcs12}
  cp "$WORK/ca.pem" "$dir/x509ca/"
  cp "$WORK/$side.pem" "$dir/x509/"
  cp "$WORK/$side.key" "$dir/ecdsa/"
  {
    printf 'authorities {\n  ca {\n    cacert = ca.pem\n  }\n}\n'
    printf 'connections {\n'
    local conn
    for conn in v1agg v1main v2; do
      printf '  %s {\n' $conn
      case $conn in
        v1agg) printf '    version = 1\n    aggressive = yes\n' ;;
        v1main) printf '    version = 1\n' ;;
        v2) printf '    version = 2\n' ;;
      esac
      printf '    local_addrs = %s\n    remote_addrs = %s\n' "$me" "$peer"
      printf '    proposals = aes256-sha256-ecp256\n    send_cert = always\n'
      printf '    local {\n      auth = pubkey\n      certs = %s.pem\n      id = gw-%s.ike.test\n    }\n' "$side" "$side"
      printf '    remote {\n      auth = pubkey\n      id = %%any\n    }\n'
      printf '    children {\n      c {\n        local_ts = %s/32\n        remote_ts = %s/32\n' "$me" "$peer"
      printf '        esp_proposals = aes256-sha256\n      }\n    }\n  }\n'
    done
    printf '}\n'
  } > "$dir/swanctl.conf"
}
config a $CIP $SIP
config b $SIP $CIP

start_charon() {  # $1 namespace, $2 side
  rm -f "$WORK/$2/charon.vici"
  start "charon-$2" ip netns exec "$1" unshare -m --propagation private sh -c \
    "mount -t tmpfs fs-ike /run && STRONGSWAN_CONF=$WORK/$2/strongswan.conf exec $CHARON"
  for _ in $(seq 50); do [[ -S $WORK/$2/charon.vici ]] && return 0; sleep 0.1; done
  die "charon $2 did not start: $(tail -5 "$WORK/charon-$2.log")"
}
stop_all() {  # stops everything started (both charons): the next exchange starts afresh
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 30); do [[ -e /proc/$pid ]] || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  PIDS=()
}
swan() {  # $1 namespace, $2 side, then swanctl arguments
  local ns=$1 side=$2
  shift 2
  ip netns exec "$ns" env STRONGSWAN_CONF="$WORK/$side/strongswan.conf" swanctl "$@"
}

mkdir -p "$OUT"
for conn in v1agg v1main v2; do
  case $conn in v1agg) pcap=ikev1-aggressive.pcap ;; v1main) pcap=ikev1-main.pcap ;; v2) pcap=ikev2.pcap ;; esac
  log "$conn -> $pcap"
  start_charon $NSC a
  start_charon $NSS b
  swan $NSC a --load-all --file "$WORK/a/swanctl.conf" >/dev/null
  swan $NSS b --load-all --file "$WORK/b/swanctl.conf" >/dev/null
  start tcpdump ip netns exec $NSS tcpdump -i $DEVS -U -s 0 -w "$WORK/$pcap" udp port 500 or udp port 4500
  TPID=$LAST_PID
  sleep 1
  swan $NSC a --initiate --ike $conn --child c --timeout 10 >/dev/null || log "initiate $conn: $?"
  swan $NSC a --list-sas | grep -q ESTABLISHED || { log "$conn: no established SA"; grep -E "NET|ENC|error|failed" "$WORK/a/charon.log" "$WORK/b/charon.log" | tail -n 20 >&2; }
  swan $NSC a --terminate --ike $conn --timeout 5 >/dev/null || true
  sleep 1
  stop_capture "$TPID"
  stop_all
  cp "$WORK/$pcap" "$OUT/$pcap"
done

# The certificates' values, from openssl: sha256, serial, subject CN, not before/after.
{
  printf 'file\tsha256\tserial\tsubject_cn\tissuer_cn\n'
  for c in a b ca; do
    fp=$(openssl x509 -in "$WORK/$c.pem" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f)
    serial=$(openssl x509 -in "$WORK/$c.pem" -noout -serial | sed 's/serial=//')
    cn=$(openssl x509 -in "$WORK/$c.pem" -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= //p')
    icn=$(openssl x509 -in "$WORK/$c.pem" -noout -issuer -nameopt multiline | sed -n 's/^ *commonName *= //p')
    printf '%s\t%s\t%s\t%s\t%s\n' "$c.pem" "$fp" "$serial" "$cn" "$icn"
  done
} > "$OUT/certs.tsv"
ls -l "$OUT"
