#!/usr/bin/env python3
"""Integration test: the HTTP/2 dissector's records on a capture of real h2c traffic.

usage: test_dissect_http2.py --bin FLOWSCRIBE --check RFC5424_CHECK --captures DIR [--update]

Runs flowscribe on DIR/http2.pcap (made by tests/captures/dissect/make-http2-captures.sh:
nghttpd and nghttpx answering nghttp and curl, prior knowledge and Upgrade: h2c) and compares
every `http` record - its time, client, server and every param of its http@PEN element - with
DIR/golden.jsonl, one JSON object per record in output order sorted by (time, client, stream).
Every line flowscribe writes is checked against the RFC 5424 grammar. A prior-knowledge
connection's session is proto="http2"; an upgraded one keeps proto="http" and has both the
HTTP/1.1 record of the upgrade request and version="2" records of its streams. --update
rewrites the golden file (read its diff).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import records  # noqa: E402


def main():
    args = records.capture_args().parse_args()

    p = records.run_capture(args.bin, args.check, os.path.join(args.captures, "http2.pcap"))
    got, sessions, _ = records.collect(p.stdout, {"http"}, tag=False)
    got.sort(key=lambda g: (g["ts"], g["client"], int(g["http"].get("stream_id", "0"))))
    versions = {}
    for g in got:
        versions.setdefault(g["client"], set()).add(g["http"].get("version"))
    for client, vs in versions.items():
        proto = sessions.get(client)
        if "1.1" in vs:
            assert proto == "http" and "2" in vs, f"{client}: upgrade without HTTP/2 records ({proto}, {vs})"
        else:
            assert proto == "http2" and vs == {"2"}, f"{client}: {proto} {vs}"
    assert any(g["http"].get("tags") == "h2c_upgrade" for g in got), "no upgraded stream 1"
    assert any(g["http"].get("method") == "POST" and g["http"].get("req_body_len") == "3000" for g in got)

    return records.check_golden(got, os.path.join(args.captures, "golden.jsonl"), args.update,
                                "http2 records")


if __name__ == "__main__":
    sys.exit(main())
