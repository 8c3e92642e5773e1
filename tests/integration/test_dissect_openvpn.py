#!/usr/bin/env python3
"""Integration test: the TLS handshake inside OpenVPN's control channel, on captures of real
traffic.

usage: test_dissect_openvpn.py --bin FLOWSCRIBE --check RFC5424_CHECK --captures DIR [--update]

Runs flowscribe on each DIR/*.pcap (made by tests/captures/dissect/make-openvpn-captures.sh:
openvpn 2.6 point-to-point sessions over UDP and TCP, with and without tls-auth, TLS 1.2) and
compares every tls and x509 record - its MSGID, time, client, server and every param of its
element - with DIR/golden.jsonl, one JSON object per record sorted by (capture, time, MSGID).
Every line is checked against the RFC 5424 grammar; every record must belong to a session
record named proto="openvpn"; each capture must give one tls record with the server's
certificate and the x509 records of its chain. --update rewrites the golden file.
"""
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import records  # noqa: E402

KINDS = ("tls", "x509")


def run(args, pcap):
    p = records.run_capture(args.bin, args.check, pcap)
    # The embedded TLS dissector's counters are the TLS dissector's, once in the summary:
    # tls_certs counts exactly the x509 records written.
    certs = [l.split()[2] for l in p.stderr.splitlines() if l.split()[1:2] == ["tls_certs"]]
    x509 = sum(1 for l in p.stdout.splitlines() if records.parse(l)["msgid"] == "x509")
    assert certs == [str(x509)], f"{pcap}: tls_certs in the summary {certs}, x509 records {x509}"
    return p.stdout


def main():
    args = records.capture_args().parse_args()

    pcaps = sorted(glob.glob(os.path.join(args.captures, "*.pcap")))
    assert len(pcaps) >= 3, f"captures missing under {args.captures}"
    got, failures = [], []
    for pcap in pcaps:
        cap = os.path.basename(pcap)
        mine, sessions, _ = records.collect(run(args, pcap), KINDS)
        mine = [{"capture": cap, **g} for g in mine]
        mine.sort(key=lambda g: (g["ts"], g["msgid"]))
        for g in mine:
            if sessions.get(g["client"]) != "openvpn":
                failures.append(f"{cap} {g['client']}: {g['msgid']} record without a proto=openvpn session")
        tls = [g for g in mine if g["msgid"] == "tls"]
        x509 = [g for g in mine if g["msgid"] == "x509"]
        if len(tls) != 1 or not x509:
            failures.append(f"{cap}: {len(tls)} tls and {len(x509)} x509 records (want 1 and >= 1)")
        elif tls[0]["tls"].get("cert_sha256") != x509[0]["x509"].get("sha256"):
            failures.append(f"{cap}: the tls record's cert_sha256 is not the first x509's sha256")
        elif "partial" in tls[0]["tls"]:
            failures.append(f"{cap}: handshake written as partial")
        got.extend(mine)
    if failures:
        print("\n".join(failures))
        return 1

    return records.check_golden(got, os.path.join(args.captures, "golden.jsonl"), args.update,
                                f"records of {len(pcaps)} captures")


if __name__ == "__main__":
    sys.exit(main())
