#!/usr/bin/env python3
"""Integration test: the DNS dissector's records on real traffic, against a golden file.

usage: test_dissect_dns.py --bin FLOWSCRIBE --check RFC5424_CHECK --captures tests/captures/dissect/dns
       test_dissect_dns.py --bin FLOWSCRIBE --captures DIR --write-golden   (make-dns-captures.sh)

Runs flowscribe on every *.pcap in DIR (made by tests/captures/dissect/make-dns-captures.sh:
dnsmasq, unbound and avahi-daemon answering dig), checks every line with the strict RFC 5424
checker, and compares each flow's `dns` records -- every dns@ param, in order, repeated
`answer` params included -- with DIR/golden.tsv: one line per record,
  capture <TAB> transport src:sport > dst:dport <TAB> proto <TAB> param=value <TAB> ...
Records of one flow must come in the golden order; flows may come in any order. The checks
also cover what the golden file cannot show by itself: the failures the captures were made
to show (NXDOMAIN, REFUSED, SERVFAIL, no-response, TC) are all there.
"""
import argparse
import collections
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import records  # noqa: E402


def dns_lines(binary, pcap, check):
    p = records.run_capture(binary, check, pcap, "--workers", "1")
    out = []
    cap = os.path.basename(pcap)
    for line in p.stdout.splitlines():
        r = records.parse(line)
        if r["msgid"] != "dns":
            continue
        fl = records.flow(r)
        where = f"{fl['transport']} {fl['src']}:{fl['sport']} > {fl['dst']}:{fl['dport']}"
        dns = next(v for k, v in r["sd"].items() if k.startswith("dns@"))
        # Params in line order, repeats included (records.Params keeps every value).
        params = _params_in_order(line[line.index("[dns@"):], dns.all)
        out.append("\t".join([cap, where, fl.get("proto", "")] + params))
    return out


def _params_in_order(sd, all_values):
    """The dns@ element's params as name=value in the order they appear in the line."""
    taken = collections.Counter()
    names = []
    i = sd.index(" ")
    while sd[i] == " ":
        eq = sd.index("=", i)
        name = sd[i + 1:eq]
        k = eq + 2
        while sd[k] != '"':
            k += 2 if sd[k] == "\\" else 1
        names.append(name)
        i = k + 1
        if sd[i] == "]":
            break
    out = []
    for n in names:
        out.append(f"{n}={all_values[n][taken[n]]}")
        taken[n] += 1
    return out


def by_flow(lines):
    flows = collections.OrderedDict()
    for ln in lines:
        cap, where = ln.split("\t")[:2]
        flows.setdefault((cap, where), []).append(ln)
    return flows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--check")
    ap.add_argument("--captures", required=True)
    ap.add_argument("--write-golden", action="store_true")
    args = ap.parse_args()
    pcaps = sorted(glob.glob(os.path.join(args.captures, "*.pcap")))
    assert pcaps, f"no captures in {args.captures}"
    got = []
    for pcap in pcaps:
        got += dns_lines(args.bin, pcap, args.check)
    golden_path = os.path.join(args.captures, "golden.tsv")
    if args.write_golden:
        with open(golden_path, "w") as f:
            f.write("# dns records of the captures here (tests/integration/test_dissect_dns.py)\n")
            for ln in got:
                f.write(ln + "\n")
        print(f"{len(got)} records written to {golden_path}")
        return 0

    with open(golden_path) as f:
        want = [ln.rstrip("\n") for ln in f if ln.strip() and not ln.startswith("#")]
    failures = []
    g, w = by_flow(got), by_flow(want)
    for key in w:
        if key not in g:
            failures.append(f"{key}: no dns records (expected {len(w[key])})")
        elif g[key] != w[key]:
            failures.append(f"{key}: records differ:\n  got:  " + "\n        ".join(g[key]) +
                            "\n  want: " + "\n        ".join(w[key]))
    for key in g:
        if key not in w:
            failures.append(f"{key}: unexpected dns records:\n  " + "\n  ".join(g[key]))

    # What the captures were made to show, whatever the golden file says.
    text = "\n".join(got)
    for must in ["rcode=NXDOMAIN", "rcode=REFUSED", "rcode=SERVFAIL", "status=no-response",
                 "tc=true", "status=multicast", "status=unsolicited", "answer=AAAA 0 fd63::80",
                 "answer=MX 0 10 mail.test.lan", "answer=SRV 0 0 100 389 ldap.test.lan",
                 "answer=CNAME 0 www.test.lan", "answer=PTR 0 www.test.lan",
                 "answer=TXT 0 v=spf1 mx -all hello, world"]:
        if must not in text:
            failures.append(f"no record has {must}")
    tcp = [ln for ln in got if "\ttcp " in ln]
    if len(tcp) < 4:
        failures.append(f"expected >= 4 dns records over TCP, got {len(tcp)}")

    if failures:
        print(f"{len(failures)} problems:")
        for f in failures:
            print("  " + f)
        return 1
    print(f"{len(got)} dns records in {len(g)} flows match {golden_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
