#!/usr/bin/env python3
"""Integration test: Android Debug Bridge sessions named adb, on captures of Debian's adb.

usage: test_dissect_adb.py --bin FLOWSCRIBE --check RFC5424_CHECK --captures DIR [--update]

DIR/adb-server.pcap (tests/captures/dissect/make-adb-captures.sh: the adb client asking the
adb server on port 5037 for its version, its devices and a connection) and DIR/adb-connect.pcap
(the server's CNXN to a device address where nothing answers) must give the sessions of
DIR/golden.jsonl: client, server, proto and end reason, sorted by (client, server). Every line
must pass the RFC 5424 checker; the TLS hand-over after STLS is covered by
tests/unit/tlsup_test.cpp (Debian packages no ADB device side that speaks TLS).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import records  # noqa: E402


def main():
    args = records.capture_args().parse_args()
    got = []
    for name in ("adb-server.pcap", "adb-connect.pcap"):
        p = records.run_capture(args.bin, args.check, os.path.join(args.captures, name))
        for line in p.stdout.splitlines():
            r = records.parse(line)
            if r["msgid"] != "session":
                continue
            fl = records.flow(r)
            got.append({"capture": name, "client": f"{fl['src']}:{fl['sport']}",
                        "server": f"{fl['dst']}:{fl['dport']}", "proto": fl.get("proto"),
                        "end_reason": fl.get("end_reason")})
    got.sort(key=lambda g: (g["capture"], g["client"], g["server"]))
    return records.check_golden(got, os.path.join(args.captures, "golden.jsonl"), args.update,
                                "adb sessions")


if __name__ == "__main__":
    sys.exit(main())
