#!/usr/bin/env python3
"""Integration test: the HTTP dissector's records on a capture of real traffic.

usage: test_dissect_http.py --bin FLOWSCRIBE --check RFC5424_CHECK --captures DIR [--update]

Runs flowscribe on DIR/http.pcap (made by tests/captures/dissect/make-http-captures.sh:
nginx and Python's http.server answering curl and nc) and compares every `http` record -
its time, client, server and every param of its http@PEN element - with DIR/golden.jsonl,
one JSON object per record in output order sorted by (time, client). Every line flowscribe
writes is checked against the RFC 5424 grammar, and every http record must belong to a
session record named proto="http". --update rewrites the golden file (read its diff).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import records  # noqa: E402


def main():
    args = records.capture_args().parse_args()

    p = records.run_capture(args.bin, args.check, os.path.join(args.captures, "http.pcap"))
    got, sessions, _ = records.collect(p.stdout, {"http"}, tag=False)
    got.sort(key=lambda g: (g["ts"], g["client"]))
    for g in got:
        assert sessions.get(g["client"]) == "http", f"{g['client']}: no proto=http session"

    return records.check_golden(got, os.path.join(args.captures, "golden.jsonl"), args.update,
                                "http records")


if __name__ == "__main__":
    sys.exit(main())
