#!/usr/bin/env bash
# Make the ADB captures (tests/captures/dissect/adb/*.pcap). Not run by CI: the captures are
# committed, and tests/integration/test_dissect_adb.py checks flowscribe's records on them.
#
#   sudo bash tests/captures/dissect/make-adb-captures.sh
#
# Debian's adb (the Android SDK platform tools' host side) in namespace fsac (10.79.0.1): the
# adb client asks the adb server on 127.0.0.1:5037 for its version, its devices and to connect
# to 10.79.0.2:5555 (adb-server.pcap, captured on lo: the server's smart-socket protocol);
# the server then opens the device connection and sends its CNXN (adb-connect.pcap, captured
# on the veth). Namespace fsas (10.79.0.2) has no Android device (Debian packages no adbd):
# nc accepts the connection and closes it, so the device side says nothing. Nothing is sent
# anywhere else.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$HERE/adb
NSC=fsac NSS=fsas CIP=10.79.0.1 SIP=10.79.0.2 DEVC=fa-c DEVS=fa-s
# shellcheck source=netns.sh
source "$HERE/netns.sh"
ns_need tcpdump:tcpdump adb:adb nc.openbsd:netcat-openbsd ethtool:ethtool
ns_pair

start device ip netns exec "$NSS" sh -c 'nc.openbsd -l 10.79.0.2 5555 >/dev/null; sleep 1'
wait_listen 5555
start cap-lo ip netns exec "$NSC" tcpdump -i lo -U -s 0 -w "$WORK/adb-server.pcap" tcp port 5037
CAP_LO=$LAST_PID
start cap-veth ip netns exec "$NSC" tcpdump -i "$DEVC" -U -s 0 -w "$WORK/adb-connect.pcap" tcp port 5555
CAP_VETH=$LAST_PID
sleep 1
export HOME=$WORK  # adb keeps its keys in ~/.android
C adb -P 5037 start-server >/dev/null 2>&1
C adb -P 5037 version >/dev/null
C adb -P 5037 devices >/dev/null
C timeout 10 adb -P 5037 connect $SIP:5555 >/dev/null 2>&1 || true
sleep 2
C adb -P 5037 kill-server >/dev/null 2>&1 || true
sleep 1
stop_capture "$CAP_LO"
stop_capture "$CAP_VETH"
mkdir -p "$OUT"
for f in adb-server adb-connect; do
  [[ -s $WORK/$f.pcap ]] || die "empty $f capture"
  cp "$WORK/$f.pcap" "$OUT/$f.pcap"
  log "wrote $OUT/$f.pcap ($(stat -c %s "$OUT/$f.pcap") bytes)"
done
