#!/usr/bin/env python3
"""Integration test: the SOCKS dissector's records, and the HTTP and TLS records of the tunnels
it hands over, on a capture of real traffic.

usage: test_dissect_socks.py --bin FLOWSCRIBE --check RFC5424_CHECK --captures DIR [--update]

Runs flowscribe on DIR/socks.pcap (made by tests/captures/dissect/make-socks-captures.sh: curl,
nc and Python through Dante and OpenSSH's ssh -D to nginx and sshd) and compares every socks,
http, tls and x509 record - its MSGID, time, client, server and every param of its element -
with DIR/golden.jsonl, one JSON object per record sorted by (time, client, MSGID). Every line
is checked against the RFC 5424 grammar; every record must belong to a session record named
proto="socks" (the tunnel's records keep the flow's identity and protocol); each tunnel the
socks record says went to HTTP or TLS must have its http, or tls and x509, records.
--update rewrites the golden file (read its diff).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import records  # noqa: E402

KINDS = ("socks", "http", "tls", "x509")


def main():
    args = records.capture_args().parse_args()

    p = records.run_capture(args.bin, args.check, os.path.join(args.captures, "socks.pcap"))
    got, sessions, sids = records.collect(p.stdout, KINDS)
    got.sort(key=lambda g: (g["ts"], g["client"], g["msgid"]))

    failures = []
    for g in got:
        if sessions.get(g["client"]) != "socks":
            failures.append(f"{g['client']}: {g['msgid']} record without a proto=socks session")
    for client, s in sids.items():
        if len(s) != 1:
            failures.append(f"{client}: records of one flow carry different sids {sorted(s)}")
    by_client = {}
    for g in got:
        by_client.setdefault(g["client"], []).append(g["msgid"])
    tunnels = {"http": 0, "tls": 0}
    for g in got:
        if g["msgid"] != "socks":
            continue
        t = g["socks"].get("tunnel")
        kinds = by_client[g["client"]]
        if t == "http":
            tunnels["http"] += 1
            if "http" not in kinds:
                failures.append(f"{g['client']}: tunnel=http but no http record")
        elif t == "tls":
            tunnels["tls"] += 1
            if "tls" not in kinds or "x509" not in kinds:
                failures.append(f"{g['client']}: tunnel=tls but no tls and x509 records")
        elif set(kinds) != {"socks"}:
            failures.append(f"{g['client']}: tunnel={t} yet records {kinds}")
    if tunnels["http"] < 5 or tunnels["tls"] < 3:
        failures.append(f"too few handed-over tunnels: {tunnels}")
    if failures:
        print("\n".join(failures))
        return 1

    return records.check_golden(got, os.path.join(args.captures, "golden.jsonl"), args.update,
                                f"records ({tunnels['http']} http, {tunnels['tls']} tls tunnels)")


if __name__ == "__main__":
    sys.exit(main())
