#!/usr/bin/env python3
"""Integration test: protocol names on real traffic served on non-standard ports.

usage: test_protocols.py --bin FLOWSCRIBE --captures tests/captures/proto

Runs flowscribe on every capture listed in DIR/expected.tsv (made by
tests/captures/make-proto-captures.sh: SSH on 443, HTTP on 22, MariaDB on 5432, ...) and
checks that every labelled flow has a session record whose proto="..." is exactly its
label (`unknown` included: random bytes on ports 80/443/53 must not get a name). Flows
not listed in expected.tsv (ARP, NDP, FTP/TFTP data channels) are not checked.
All mismatches are reported together.
"""
import argparse
import collections
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import records  # noqa: E402

TRANSPORT = {"icmp6": "ipv6-icmp"}


def load_expected(path):
    by_capture = collections.OrderedDict()
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.rstrip("\n").split("\t")
            assert len(parts) == 7, f"{path}:{n}: expected 7 tab-separated fields"
            cap, t, cip, cp, sip, sp, proto = parts
            by_capture.setdefault(cap, []).append(
                (TRANSPORT.get(t, t), cip, int(cp), sip, int(sp), proto))
    return by_capture


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--captures", required=True, help="folder with expected.tsv and the captures")
    args = ap.parse_args()
    expected = load_expected(os.path.join(args.captures, "expected.tsv"))
    assert expected, "expected.tsv lists no flows"

    failures, checked = [], 0
    per_proto = collections.Counter()
    for cap, flows in expected.items():
        path = os.path.join(args.captures, cap)
        p = subprocess.run([args.bin, "--pcap", path, "--sensor-name", "test-sensor"],
                           capture_output=True, text=True, timeout=120, errors="surrogateescape")
        if p.returncode != 0:
            failures.append(f"{cap}: flowscribe exit {p.returncode}: {p.stderr.strip()[-300:]}")
            continue
        got = collections.defaultdict(list)
        for line in p.stdout.splitlines():
            r = records.parse(line)
            if r["msgid"] != "session":
                continue
            f = records.flow(r)
            key = (f["transport"], f["src"], int(f["sport"]), f["dst"], int(f["dport"]))
            got[key].append(f.get("proto", "<none>"))
        for t, cip, cp, sip, sp, proto in flows:
            checked += 1
            names = got.get((t, cip, cp, sip, sp)) or got.get((t, sip, sp, cip, cp))
            where = f"{cap}: {t} {cip}:{cp} -> {sip}:{sp}"
            if not names:
                failures.append(f"{where}: no session record (expected proto={proto})")
            elif any(n != proto for n in names):
                failures.append(f"{where}: proto={','.join(names)}, expected {proto}")
            else:
                per_proto[proto] += 1

    summary = ", ".join(f"{k} {v}" for k, v in sorted(per_proto.items()))
    if failures:
        print(f"{len(failures)} of {checked} labelled flows wrong:")
        for f in failures:
            print("  " + f)
        print(f"right: {summary or 'none'}")
        sys.exit(1)
    print(f"protocols: all {checked} labelled flows named right ({summary})")


if __name__ == "__main__":
    main()
