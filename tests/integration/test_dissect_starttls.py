#!/usr/bin/env python3
"""Integration test: SMTP, IMAP, POP3, FTP and XMPP sessions that upgrade with STARTTLS are
handed to the TLS dissector (dissectors/starttls), on real traffic, against a golden file whose
values come from the servers' certificates and openssl s_client, not from flowscribe.

usage: test_dissect_starttls.py --bin FLOWSCRIBE --check RFC5424_CHECK --captures tests/captures/dissect/starttls

Runs flowscribe on DIR/starttls.pcap (made by tests/captures/dissect/make-starttls-captures.sh:
`openssl s_client -starttls smtp|imap|pop3|ftp|xmpp -tls1_2` against Postfix, Dovecot, vsftpd
and Prosody; a STARTTLS that Postfix refuses with 502 on a port without TLS; a POP3 session
of curl that never upgrades), checks every line with the strict RFC 5424 checker, and
compares with DIR/golden.tsv:
  key <TAB> msgid <TAB> field <TAB> value
key "PORT#N" is the N-th connection to server port PORT in time order ("PORT#N/POS" the x509
record of the certificate at chain position POS); msgid "session" is the flow's session
record; `tls - absent` says the connection must have no tls record (it stayed clear). Beyond
the golden file: every connection of the capture is in it, at most one tls record per
connection, the tls and x509 records carry the session's protocol (proto="smtp", not "tls"),
and the summary's counters name each outcome once.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import records  # noqa: E402

# The capture's seven connections (make-starttls-captures.sh), in time order.
CONNECTIONS = ["25#1", "2525#1", "143#1", "110#1", "110#2", "21#1", "5222#1"]
# What they must count: seven watched; six upgrade commands (all but curl's POP3 session), five
# accepted and handed to TLS, one refused (Postfix's 502 on 2525).
COUNTERS = {
    "starttls_flows": 7, "starttls_commands": 6, "starttls_upgrades": 5, "starttls_refused": 1,
    "starttls_not_seen": 0, "starttls_bad_greeting": 0,
    "app_handovers": 5, "app_handover_rejected": 0, "app_violation": 0,
    "tls_flows": 5, "tls_handshakes": 5, "tls_certs": 10,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--check")
    ap.add_argument("--captures", required=True)
    args = ap.parse_args()
    pcap = os.path.join(args.captures, "starttls.pcap")
    p = records.run_capture(args.bin, args.check, pcap, "--workers", "1")

    # Every record per connection, keyed PORT#N in order of their session records' start
    # times (the clients ran one after another).
    keyed = records.by_connection(p.stdout)

    failures = []
    if list(keyed) != CONNECTIONS:
        failures.append(f"connections {list(keyed)}, expected {CONNECTIONS}")
    for key, recs in keyed.items():
        if len(recs["tls"]) > 1:
            failures.append(f"{key}: {len(recs['tls'])} tls records, expected at most 1")
        if len(recs["session"]) != 1:
            failures.append(f"{key}: {len(recs['session'])} session records")
            continue
        proto = records.flow(recs["session"][0]).get("proto")
        for msgid in ("tls", "x509"):
            for r in recs[msgid]:
                if records.flow(r).get("proto") != proto:
                    failures.append(f"{key}: {msgid} record with proto {records.flow(r).get('proto')!r}, "
                                    f"the session's is {proto!r}")
        if not recs["tls"] and recs["x509"]:
            failures.append(f"{key}: {len(recs['x509'])} x509 records without a tls record")

    checked = records.check_golden_tsv(os.path.join(args.captures, "golden.tsv"), keyed, failures)

    # The summary on stderr: "flowscribe:   NAME   VALUE  meaning".
    counters = records.counters(p.stderr)
    for name, want in COUNTERS.items():
        if counters.get(name, 0) != want:
            failures.append(f"counter {name}: got {counters.get(name)}, want {want}")

    if failures:
        print("\n".join(failures))
        sys.exit(1)
    print(f"{len(keyed)} connections, {checked} golden fields, {len(COUNTERS)} counters, all equal")


if __name__ == "__main__":
    main()
