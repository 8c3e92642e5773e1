#!/usr/bin/env python3
"""Integration test: TLS inside MySQL, PostgreSQL, LDAP and RDP sessions is handed to the TLS
dissector (dissectors/tlsup), on real traffic, against a golden file whose values come from
the servers and openssl, not from flowscribe.

usage: test_dissect_tlsup.py --bin FLOWSCRIBE --check RFC5424_CHECK --captures tests/captures/dissect/tlsup

Runs flowscribe on DIR/tlsup.pcap (made by tests/captures/dissect/make-tlsup-captures.sh:
MariaDB with and without --ssl, psql sslmode=require / disable / prefer against a server
without SSL, ldapsearch -ZZ and a refused StartTLS, xfreerdp with TLS and with standard RDP
security against xrdp), checks every line with the strict RFC 5424
checker, and compares with DIR/golden.tsv:
  key <TAB> msgid <TAB> field <TAB> value
key "PORT#N" is the N-th connection to server port PORT in time order ("PORT#N/POS" the x509
record of the certificate at chain position POS); msgid "session" is the flow's session
record; `tls - absent` says the connection must have no tls record (it stayed clear). Beyond
the golden file: at most one tls record per connection, and the watcher's counters in the
summary name each outcome once.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import records  # noqa: E402

# What the capture's nine connections must count (make-tlsup-captures.sh).
COUNTERS = {
    "tlsup_flows": 9, "tlsup_mysql_upgrades": 1, "tlsup_mysql_clear": 1,
    "tlsup_pgsql_upgrades": 1, "tlsup_pgsql_refused": 1, "tlsup_pgsql_clear": 1,
    "tlsup_ldap_upgrades": 1, "tlsup_ldap_refused": 1, "tlsup_rdp_upgrades": 1,
    "tlsup_rdp_standard": 1, "tlsup_not_protocol": 0, "tlsup_lost_framing": 0, "tlsup_gaps": 0,
    "app_handovers": 4, "app_handover_rejected": 0, "app_violation": 0,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--check")
    ap.add_argument("--captures", required=True)
    args = ap.parse_args()
    pcap = os.path.join(args.captures, "tlsup.pcap")
    p = records.run_capture(args.bin, args.check, pcap, "--workers", "1")

    # Every record per connection, keyed PORT#N in order of their session records' start
    # times (the clients ran one after another).
    keyed = records.by_connection(p.stdout)

    failures = []
    for key, recs in keyed.items():
        if len(recs["tls"]) > 1:
            failures.append(f"{key}: {len(recs['tls'])} tls records, expected at most 1")
        if len(recs["session"]) != 1:
            failures.append(f"{key}: {len(recs['session'])} session records")

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
