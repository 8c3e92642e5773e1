#!/usr/bin/env python3
"""Integration test: certificates in IKE CERT payloads, on captures of real traffic.

usage: test_dissect_ike.py --bin FLOWSCRIBE --check RFC5424_CHECK --captures DIR [--update]

Runs flowscribe on each DIR/*.pcap (made by tests/captures/dissect/make-ike-captures.sh:
strongSwan 5.9 gateways with ECDSA certificates; IKEv1 Aggressive Mode, whose responder sends
its CERT in the clear; IKEv1 Main Mode and IKEv2, whose CERT payloads are encrypted) and
checks that:
- every line passes the RFC 5424 checker and every x509 record belongs to a proto="ike"
  session, with source="ike" and a sender;
- every x509 record's sha256, serial and subject/issuer CN are those openssl gave for one of
  the gateways' certificates (DIR/certs.tsv), and the aggressive-mode capture has the
  responder's certificate;
- the encrypted exchanges give no x509 record;
and compares every x509 record (MSGID, time, client, server, every param) with
DIR/golden.jsonl. --update rewrites the golden file (after the checks above pass).
"""
import csv
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import records  # noqa: E402


def main():
    args = records.capture_args().parse_args()

    pcaps = sorted(glob.glob(os.path.join(args.captures, "*.pcap")))
    assert len(pcaps) >= 3, f"captures missing under {args.captures}"
    with open(os.path.join(args.captures, "certs.tsv"), newline="") as f:
        certs = {row["sha256"]: row for row in csv.DictReader(f, delimiter="\t")}
    got, failures = [], []
    for pcap in pcaps:
        cap = os.path.basename(pcap)
        p = records.run_capture(args.bin, args.check, pcap)
        mine, sessions, _ = records.collect(p.stdout, {"x509"})
        mine = [{"capture": cap, **g} for g in mine]
        mine.sort(key=lambda g: (g["ts"], g["x509"].get("pos", "")))
        for g in mine:
            x = g["x509"]
            if sessions.get(g["client"]) != "ike":
                failures.append(f"{cap} {g['client']}: x509 record without a proto=ike session")
            if x.get("source") != "ike" or x.get("sender") not in ("initiator", "responder"):
                failures.append(f"{cap}: source/sender {x.get('source')}/{x.get('sender')}")
            want = certs.get(x.get("sha256"))
            if want is None:
                failures.append(f"{cap}: sha256 {x.get('sha256')} is none of the gateways' certificates")
                continue
            for ours, col in (("serial", "serial"), ("subject_cn", "subject_cn"), ("issuer_cn", "issuer_cn")):
                if x.get(ours) != want[col]:
                    failures.append(f"{cap}: {ours} {x.get(ours)!r}, openssl says {want[col]!r}")
        if cap.startswith("ikev1-aggressive"):
            if not any(g["x509"].get("sender") == "responder" and
                       certs.get(g["x509"].get("sha256"), {}).get("file") == "b.pem" for g in mine):
                failures.append(f"{cap}: no x509 record of the responder's certificate")
        elif mine:
            failures.append(f"{cap}: {len(mine)} x509 records from encrypted CERT payloads")
        got.extend(mine)
    if failures:
        print("\n".join(failures))
        return 1
    return records.check_golden(got, os.path.join(args.captures, "golden.jsonl"), args.update,
                                f"x509 records of {len(pcaps)} captures")


if __name__ == "__main__":
    sys.exit(main())
