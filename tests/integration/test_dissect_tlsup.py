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
import collections
import os
import re
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


def element(rec, name):
    for k, v in rec["sd"].items():
        if k.startswith(name + "@"):
            return v
    return {}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--check")
    ap.add_argument("--captures", required=True)
    args = ap.parse_args()
    pcap = os.path.join(args.captures, "tlsup.pcap")
    p = records.run_capture(args.bin, args.check, pcap, "--workers", "1")

    # Every record per flow (client port), flows keyed PORT#N in order of their session
    # records' start times (the clients ran one after another).
    by_flow = collections.defaultdict(lambda: collections.defaultdict(list))
    started = {}
    for line in p.stdout.splitlines():
        r = records.parse(line)
        fl = records.flow(r)
        k = (int(fl["dport"]), int(fl["sport"]))
        by_flow[k][r["msgid"]].append(r)
        if r["msgid"] == "session":
            started[k] = fl.get("start", "")
    keyed = {}
    seen = collections.Counter()
    for dport, sport in sorted(by_flow, key=lambda k: (started.get(k, ""), k[1])):
        seen[dport] += 1
        keyed[f"{dport}#{seen[dport]}"] = by_flow[(dport, sport)]

    failures = []
    for key, recs in keyed.items():
        if len(recs["tls"]) > 1:
            failures.append(f"{key}: {len(recs['tls'])} tls records, expected at most 1")
        if len(recs["session"]) != 1:
            failures.append(f"{key}: {len(recs['session'])} session records")

    checked = 0
    with open(os.path.join(args.captures, "golden.tsv")) as f:
        for n, line in enumerate(f, 1):
            if line.startswith("#") or not line.strip():
                continue
            key, msgid, field, value = line.rstrip("\n").split("\t")
            flow_key, _, pos = key.partition("/")
            if flow_key not in keyed:
                failures.append(f"golden:{n}: no records for {flow_key}")
                continue
            recs = keyed[flow_key]
            checked += 1
            if value == "absent":
                if recs[msgid]:
                    failures.append(f"golden:{n}: {key}: {len(recs[msgid])} {msgid} records, expected none")
                continue
            if msgid == "session":
                cand = [records.flow(r) for r in recs["session"]]
            elif msgid == "tls":
                cand = [element(r, "tls") for r in recs["tls"]]
            else:
                cand = [element(r, "x509") for r in recs["x509"] if element(r, "x509").get("pos") == pos]
            if not cand:
                failures.append(f"golden:{n}: {key}: no {msgid} record")
                continue
            got = cand[0].get(field)
            if got != value:
                failures.append(f"golden:{n}: {key} {msgid}.{field}: got {got!r}, want {value!r}")

    # The summary on stderr: "flowscribe:   NAME   VALUE  meaning".
    counters = {}
    for line in p.stderr.splitlines():
        m = re.match(r"flowscribe:\s+(\w+)\s+(\d+)\s", line)
        if m:
            counters[m.group(1)] = int(m.group(2))
    for name, want in COUNTERS.items():
        if counters.get(name, 0) != want:
            failures.append(f"counter {name}: got {counters.get(name)}, want {want}")

    if failures:
        print("\n".join(failures))
        sys.exit(1)
    print(f"{len(keyed)} connections, {checked} golden fields, {len(COUNTERS)} counters, all equal")


if __name__ == "__main__":
    main()
