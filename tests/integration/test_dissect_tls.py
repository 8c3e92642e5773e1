#!/usr/bin/env python3
"""Integration test: the TLS dissector's tls and x509 records on real traffic, against a
golden file whose values come from openssl and curl, not from flowscribe.

usage: test_dissect_tls.py --bin FLOWSCRIBE --check RFC5424_CHECK --captures tests/captures/dissect/tls
       test_dissect_tls.py ... --captures tests/captures/dissect/dtls --dtls

Runs flowscribe on DIR/tls.pcap (made by tests/captures/dissect/make-tls-captures.sh:
openssl s_server with RSA, ECDSA-with-CA and Ed25519 certificates; curl and openssl s_client
with TLS 1.2 and 1.3, with and without SNI, one resumed session), checks every line with the
strict RFC 5424 checker, and compares with DIR/golden.tsv:
  key <TAB> msgid <TAB> field <TAB> value
where key is "PORT#N" (the N-th connection to server port PORT, in capture order) for the
tls record, and "PORT#N/POS" for the x509 record of the certificate at chain position POS.
Every golden field must be in the record with exactly that value. Beyond the golden file:
one tls record per connection, x509 records only for TLS <= 1.2 full handshakes, every
x509 record's sha256 present, and the session record of each flow says proto="tls".

--dtls: DIR/dtls.pcap instead (make-dtls-captures.sh: openssl s_server/s_client over UDP,
DTLS 1.2 with a HelloVerifyRequest and a 2-certificate chain of a 4096-bit RSA leaf that spans
two datagrams, DTLS 1.0 with -mtu 400 so that every flight is cut into fragments, DTLS 1.2
without SNI); the session records say proto="dtls" and every JA4 starts with "d" (DTLS).
"""
import argparse
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import records  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--check")
    ap.add_argument("--captures", required=True)
    ap.add_argument("--dtls", action="store_true")
    args = ap.parse_args()
    proto = "dtls" if args.dtls else "tls"
    pcap = os.path.join(args.captures, proto + ".pcap")
    p = records.run_capture(args.bin, args.check, pcap, "--workers", "1")

    # Records per flow (client port), flows keyed PORT#N in order of their first record's
    # client port (the clients ran one after another, so ports rise with time).
    by_flow = collections.defaultdict(list)
    sessions = {}
    for line in p.stdout.splitlines():
        r = records.parse(line)
        fl = records.flow(r)
        if r["msgid"] == "session":
            sessions[(fl["sport"], fl["dport"])] = fl.get("proto")
            continue
        if r["msgid"] in ("tls", "x509"):
            by_flow[(int(fl["dport"]), int(fl["sport"]))].append(r)
    keyed = {}
    seen = collections.Counter()
    for dport, sport in sorted(by_flow, key=lambda k: k[1]):
        seen[dport] += 1
        keyed[f"{dport}#{seen[dport]}"] = (by_flow[(dport, sport)], sport)

    failures = []
    for key, (recs, sport) in keyed.items():
        tls = [r for r in recs if r["msgid"] == "tls"]
        x509 = [r for r in recs if r["msgid"] == "x509"]
        if len(tls) != 1:
            failures.append(f"{key}: {len(tls)} tls records, expected 1")
        t = records.element(tls[0], "tls") if tls else {}
        if t.get("cert_hidden") == "true" and x509:
            failures.append(f"{key}: x509 records although the certificate was hidden")
        for r in x509:
            if len(records.element(r, "x509").get("sha256", "")) != 64:
                failures.append(f"{key}: x509 record without sha256")
        if args.dtls and not t.get("ja4", "").startswith("dd"):
            failures.append(f"{key}: ja4={t.get('ja4')!r}, expected a DTLS JA4 (dd...)")
        if sessions.get((str(sport), key.split("#")[0])) != proto:
            failures.append(f"{key}: session record proto={sessions.get((str(sport), key.split('#')[0]))}")

    # The golden file's keys over this test's connections, in records.check_golden_tsv's form.
    grouped = {}
    for key, (recs, _) in keyed.items():
        grouped[key] = collections.defaultdict(list)
        for r in recs:
            grouped[key][r["msgid"]].append(r)
    checked = records.check_golden_tsv(os.path.join(args.captures, "golden.tsv"), grouped, failures)
    if failures:
        print("\n".join(failures))
        sys.exit(1)
    print(f"{len(keyed)} {proto.upper()} connections, {checked} golden fields, all equal")


if __name__ == "__main__":
    main()
