#!/usr/bin/env python3
"""Integration test: IP fragment reassembly on real traffic, against a golden file.

usage: test_reassembly.py --bin FLOWSCRIBE --check RFC5424_CHECK --captures tests/captures/frag
       test_reassembly.py --bin FLOWSCRIBE --captures DIR --update   (make-frag-captures.sh)

dns-frag.pcap (tests/captures/frag/make-frag-captures.sh: dnsmasq answering dig
+bufsize=4096 across a link whose small MTU makes the Linux kernel fragment the answers, IPv4
and IPv6) holds DNS answers of ~3.1 KB: ten TXT records, of which only the first two or three
are in the first fragment. crafted-evasion.pcap (make-crafted-capture.py) holds what no kernel
sends: an HTTP request in 8-byte fragments, reversed, with a repeat and a conflicting overlap;
DNS answers with the first fragment last; a datagram that never completes. The test runs
flowscribe on each capture, checks every line with the strict RFC 5424 checker, and compares
the dns and http records and the sessions' packet and byte counts with DIR/golden.jsonl.
Whatever the golden file says, it also checks:
  - every answer of each fragmented response is in its dns record (they can only come from
    the reassembled datagram: the first fragment alone holds two or three of them);
  - the overlapped request is read with the first data (uri="/index.html");
  - every fragment is counted in its flow: each session's packets and bytes per direction
    equal tests/captures/flows.py's (an independent reading of the capture);
  - the reassembly counters each capture was made to move, and no others.
"""
import argparse
import glob
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import records  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FLOWS_PY = os.path.join(HERE, "..", "captures", "flows.py")


# Per capture: counters that must reach at least a value, and counters that must stay 0.
EXPECT = {
    "dns-frag.pcap": ({"frag_reassembled": 2},
                      ["frag_lost", "frag_timeout", "frag_evicted", "frag_overlap_conflict",
                       "frag_duplicate", "frag_bad_length", "frag_cut", "worker_frag_undecodable"]),
    "crafted-evasion.pcap": ({"frag_reassembled": 3, "frag_overlap_conflict": 1,
                              "frag_duplicate": 1, "frag_timeout": 1, "frag_lost": 2,
                              "decode_frag_tiny_first": 1, "worker_frag_late": 1},
                             ["frag_evicted", "frag_bad_length", "frag_cut",
                              "worker_frag_undecodable"]),
}


counters = records.counters


def truth(pcap):
    """flows.py's flows: (transport, client ip, port, server ip, port) -> pkts/bytes."""
    p = subprocess.run([sys.executable, FLOWS_PY, pcap], capture_output=True, text=True, check=True)
    out = {}
    for line in p.stdout.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        t, cip, cp, sip, sp, pc, bc, ps, bs, _ = line.split()
        out[(t, cip, int(cp), sip, int(sp))] = (int(pc), int(bc), int(ps), int(bs))
    return out


# Captures whose fragments come in order (first fragment first), so that two workers behind
# the software dispatcher must write what one worker writes.
SAME_WITH_2_WORKERS = {"dns-frag.pcap"}


def app_records(stdout):
    """The dns and http records of a run, without session ids or times, sorted."""
    out = []
    for line in stdout.splitlines():
        r = records.parse(line)
        if r["msgid"] not in ("dns", "http"):
            continue
        fl = records.flow(r)
        el = next(v for k, v in r["sd"].items() if k.startswith(r["msgid"] + "@"))
        out.append(repr((r["msgid"], fl["src"], fl["sport"], fl["dst"], fl["dport"],
                         sorted((k, tuple(v)) for k, v in el.all.items()))))
    return sorted(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--check")
    ap.add_argument("--captures", required=True)
    ap.add_argument("--update", action="store_true")
    args = ap.parse_args()
    pcaps = sorted(glob.glob(os.path.join(args.captures, "*.pcap")))
    assert pcaps, f"no captures in {args.captures}"
    got, failures = [], []
    for pcap in pcaps:
        cap = os.path.basename(pcap)
        p = records.run_capture(args.bin, args.check, pcap, "--workers", "1")
        sessions = {}
        for line in p.stdout.splitlines():
            r = records.parse(line)
            fl = records.flow(r)
            where = f"{fl['transport']} {fl['src']}:{fl['sport']} > {fl['dst']}:{fl['dport']}"
            if r["msgid"] == "dns":
                dns = next(v for k, v in r["sd"].items() if k.startswith("dns@"))
                rec = {"capture": cap, "flow": where, "msgid": "dns"}
                for k in ("query", "qtype", "trans_id", "status", "rcode", "tc", "ancount",
                          "arcount"):
                    rec[k] = dns.get(k)
                rec["answers"] = dns.all.get("answer", [])
                got.append(rec)
                if dns.get("query") == "big.frag.test":
                    # "TXT <ttl> part-NN ..." / "answer-NN ...": NN runs 01..ancount.
                    nums = sorted(int(a.split()[2].split("-")[1]) for a in rec["answers"])
                    n = int(dns.get("ancount", "0"))
                    if n < 8 or nums != list(range(1, n + 1)):
                        failures.append(f"{cap} {where}: answers {nums} of ancount {n}")
            elif r["msgid"] == "http":
                http = next(v for k, v in r["sd"].items() if k.startswith("http@"))
                rec = {"capture": cap, "flow": where, "msgid": "http"}
                for k in ("method", "host", "uri", "version", "status", "user_agent",
                          "resp_body_len"):
                    rec[k] = http.get(k)
                got.append(rec)
                if cap == "crafted-evasion.pcap" and http.get("uri") != "/index.html":
                    failures.append(f"{cap}: uri {http.get('uri')!r}: first data must win")
            elif r["msgid"] == "session":
                key = (fl["transport"].replace("ipv6-icmp", "icmp6"), fl["src"], int(fl["sport"]),
                       fl["dst"], int(fl["dport"]))
                counts = tuple(int(fl[k]) for k in ("pkts_c2s", "bytes_c2s", "pkts_s2c",
                                                    "bytes_s2c"))
                sessions[key] = counts
                got.append({"capture": cap, "flow": where, "msgid": "session",
                            "pkts_c2s": counts[0], "bytes_c2s": counts[1],
                            "pkts_s2c": counts[2], "bytes_s2c": counts[3]})
        want_flows = truth(pcap)
        if sessions != want_flows:
            failures.append(f"{cap}: sessions differ from flows.py:\n  got  {sorted(sessions.items())}"
                            f"\n  want {sorted(want_flows.items())}")
        c = counters(p.stderr)
        big = sum(1 for g in got if g["capture"] == cap and g.get("query") == "big.frag.test")
        if big < 2:
            failures.append(f"{cap}: {big} dns records for the fragmented answers, want 2")
        at_least, zero = EXPECT.get(cap, ({"frag_reassembled": 1}, []))
        for name, v in at_least.items():
            if c.get(name, 0) < v:
                failures.append(f"{cap}: {name} = {c.get(name, 0)}, want >= {v}")
        for name in zero:
            if c.get(name, 0):
                failures.append(f"{cap}: {name} = {c[name]}, want 0")
        if cap == "crafted-evasion.pcap" and not any(
                g["capture"] == cap and g["msgid"] == "http" for g in got):
            failures.append(f"{cap}: no http record")
        if cap in SAME_WITH_2_WORKERS:
            # The software dispatcher sends a datagram's later fragments after its first
            # fragment, to the worker of the flow: the same records as with one worker.
            p2 = records.run_capture(args.bin, args.check, pcap, "--workers", "2")
            one, two = app_records(p.stdout), app_records(p2.stdout)
            if one != two:
                failures.append(f"{cap}: --workers 2 gives other records:\n  1: {one}\n  2: {two}")
            if counters(p2.stderr).get("dispatch_frag_routed", 0) < 1:
                failures.append(f"{cap}: --workers 2: no fragment routed after its first")
    # Session records come in flow-table order: compare in a fixed order instead.
    got.sort(key=lambda g: (g["capture"], g["msgid"], g["flow"]))
    golden = os.path.join(args.captures, "golden.jsonl")
    if args.update:
        return records.check_golden(got, golden, True)
    rc = records.check_golden(got, golden, False)
    if failures:
        print(f"{len(failures)} problems:")
        for f in failures:
            print("  " + f)
        return 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
