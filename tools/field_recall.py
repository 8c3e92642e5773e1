#!/usr/bin/env python3
"""Field recall: how many of the values other sensors extract flowscribe extracts too.

usage: field_recall.py --bin FLOWSCRIBE --proto NAME [--zeek DIR] [--arkime DIR]
                       [--jobs N] [--show-misses N] [--json FILE] [--spec FILE]

Runs `FLOWSCRIBE --pcap F` once per capture that the ground truth names, keeps every record
(all MSGIDs), and compares the fields of protocol NAME with:
  --zeek DIR     Zeek's test suite: a test's Baseline/<test>/<log>.log (e.g. http.log, or a
                 copy the test renamed: http.log.cut, http.log.standard) and the
                 captures its `@TEST-EXEC ... -r $TRACES/...` lines read (the same mapping as
                 tools/proto_eval.py). When several tests read the same capture, the first
                 baseline of each log kind is used, so nothing is counted twice.
  --arkime DIR   Arkime's test suite: <name>.pcap with <name>.test (sessions3[].body).

What is compared is defined by a spec module, tools/recall/<NAME>.py:
  MSGIDS      record types of ours to collect, e.g. ["http"]
  ZEEK_LOGS   Zeek log kinds that carry truth, e.g. ["http"] (file http.log)
  zeek_items(log_kind, row)  -> [(key, {field: value})]   row: dict of Zeek columns
  arkime_items(body)         -> [(key, {field: value})]   body: one Arkime session
  our_items(rec)             -> [(key, {field: value})]   rec: tests/integration/records.py
                                                          parse() of one of our records
  same(field, truth, ours)   -> bool   (optional; default below)
  ZEEK_LABELS {log kind: kind reported}  (optional: e.g. a test's ssl1_2.log reported as ssl)
A key matches truth items to ours (for example the flow's addresses and ports plus the
transaction's position in it); items with the same key pair in order. Values: a string, or a
list of strings (a set-valued field: ours must contain every truth element). Truth values
that are empty, "-" or "(empty)" are not counted. `flow4(ip, port, ip, port)` below gives a
normalised flow key: spec modules get it as a global (injected when loaded).

Reported per field (truth source): recall = truth values ours equals / truth values counted;
truth items with no matching item of ours count as misses for every field they carry
("unmatched").

Disputes. A spec may list truth values it disputes, each with the evidence from the capture:
  DISPUTES = [dict(capture="x.pcap", source="zeek-http", field="resp_body_len",
                   truth="19", ours="39", why="...")]
A miss is disputed only when capture, source, field, the truth value and our value (None: we
wrote none) are all exactly those listed, so a change on either side brings the miss back.
Disputed misses stay in `recall`; the `adjudicated` column leaves them out of the truth:
hits / (truth values counted - disputed). A dispute that matched nothing is reported (stale).
Exit status 0 unless the arguments are bad.
"""
import argparse
import collections
import concurrent.futures
import importlib.util
import ipaddress
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import records  # noqa: E402  (tests/integration/records.py: the strict record parser)


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


proto_eval = _load(os.path.join(HERE, "proto_eval.py"), "proto_eval")

EMPTY = ("", "-", "(empty)", None)


def norm_ip(s):
    try:
        return str(ipaddress.ip_address(s))
    except ValueError:
        return s


def flow4(ip1, port1, ip2, port2):
    """Client and server as (ip, port) pairs, normalised text; orientation as given."""
    return (norm_ip(ip1), int(port1), norm_ip(ip2), int(port2))


def default_same(field, truth, ours):
    if isinstance(truth, (list, tuple, set)):
        have = set(ours) if isinstance(ours, (list, tuple, set)) else {ours}
        return all(t in have for t in truth)
    if isinstance(ours, (list, tuple, set)):
        return truth in ours
    return truth == ours


def _text(v):
    """A value as a dispute names it: text, a set-valued field joined with commas, or None."""
    if v is None:
        return None
    if isinstance(v, (list, tuple, set)):
        return ",".join(str(x) for x in v)
    return str(v)


def clean(fields):
    out = {}
    for k, v in fields.items():
        if isinstance(v, (list, tuple, set)):
            v = [x for x in v if x not in EMPTY]
            if v:
                out[k] = v
        elif v not in EMPTY:
            out[k] = v
    return out


# ---------------------------------------------------------------- ground truth

skipped = collections.Counter()   # truth rows a spec could not read (missing columns)


def zeek_truth(root, spec, tmpdir, notes):
    """{(capture, ...): [(key, fields, source)]}"""
    traces = os.path.join(root, "Traces")
    baseline = os.path.join(root, "Baseline")
    bl_dirs = set(os.listdir(baseline)) if os.path.isdir(baseline) else set()
    tests = {os.path.splitext(os.path.relpath(t, root))[0].replace(os.sep, "."): t
             for t in proto_eval.zeek_tests(root)}
    used = set()   # (capture, log kind) already taken from some baseline
    out = collections.defaultdict(list)
    for name, test in sorted(tests.items()):
        with open(test, errors="replace") as f:
            text = f.read()
        dirs = sorted(d for d in bl_dirs if d == name or (
            "@TEST-START-NEXT" in text and d not in tests and d.startswith(name + "-")))
        if not dirs:
            continue
        caps = []
        for line in text.splitlines():
            if "@TEST-EXEC" in line:
                for m in proto_eval.TRACE_RE.finditer(line):
                    p = os.path.join(traces, m.group(1))
                    if p not in caps and os.path.exists(p):
                        caps.append(p)
        if not caps:
            continue
        plain_caps = []
        for cap in caps:
            if cap.endswith(".gz"):
                plain = os.path.join(tmpdir, os.path.relpath(cap, traces).replace(os.sep, "_")[:-3])
                if not os.path.exists(plain):
                    import gzip
                    import shutil
                    with gzip.open(cap, "rb") as src, open(plain, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                cap = plain
            plain_caps.append(cap)
        # A test that reads several captures writes one log for all: its truth is matched
        # against the records of all of them together (flows rarely share a 4-tuple).
        cap = tuple(plain_caps)
        for d in dirs:
            for fn in sorted(os.listdir(os.path.join(baseline, d))):
                kind = fn.split(".")[0]
                # http.log, or a test's renamed copy of it (http.log.cut from zeek-cut,
                # http.log.standard): read_zeek_log takes both forms.
                if kind not in spec.ZEEK_LOGS or ".log" not in fn or (cap, kind) in used:
                    continue
                rows = proto_eval.read_zeek_log(os.path.join(baseline, d, fn))
                if not rows:
                    continue
                used.add((cap, kind))
                label = getattr(spec, "ZEEK_LABELS", {}).get(kind, kind)
                for r in rows:
                    try:
                        items = spec.zeek_items(kind, r)
                    except (KeyError, ValueError):
                        skipped["zeek-" + label] += 1   # a log cut to fewer columns
                        continue
                    for key, fields in items:
                        fields = clean(fields)
                        if fields:
                            out[cap].append((key, fields, "zeek-" + label))
    return out


def arkime_truth(root, spec, notes):
    out = collections.defaultdict(list)
    if not hasattr(spec, "arkime_items"):
        return out
    for fn in sorted(os.listdir(root)):
        if not fn.endswith(".test"):
            continue
        cap = os.path.join(root, fn[:-5] + ".pcap")
        if not os.path.exists(cap):
            continue
        cap = (cap,)
        try:
            with open(os.path.join(root, fn), errors="replace") as f:
                data = json.load(f)
        except ValueError as exc:
            notes.append("arkime %s: %s" % (fn, exc))
            continue
        for s in data.get("sessions3", []):
            try:
                items = spec.arkime_items(s.get("body", {}))
            except (KeyError, ValueError, TypeError):
                skipped["arkime"] += 1
                continue
            for key, fields in items:
                fields = clean(fields)
                if fields:
                    out[cap].append((key, fields, "arkime"))
    return out


# ---------------------------------------------------------------- ours

def run_capture(binary, pcap, job, msgids, timeout):
    cmd = [binary, "--pcap", pcap, "--sensor-name", "recall",
           "--file-prefix", "field-recall-%d-%d" % (os.getpid(), job)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired:
        return pcap, None, "timed out"
    recs = []
    for line in p.stdout.splitlines():
        try:
            r = records.parse(line)
        except (ValueError, AssertionError, IndexError):
            continue
        if r["msgid"] in msgids:
            recs.append(r)
    if p.returncode != 0 and not recs:
        return pcap, None, "exit %d: %s" % (p.returncode, (p.stderr.strip().splitlines() or [""])[-1][:160])
    return pcap, recs, None


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--proto", required=True)
    ap.add_argument("--zeek")
    ap.add_argument("--arkime")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--timeout", type=int, default=120)
    ap.add_argument("--show-misses", type=int, default=0, metavar="N",
                    help="print up to N mismatches per field")
    ap.add_argument("--json", help="write the figures as JSON")
    ap.add_argument("--spec", help="spec module to use instead of tools/recall/PROTO.py")
    args = ap.parse_args(argv)
    spec_path = args.spec or os.path.join(HERE, "recall", args.proto + ".py")
    if not os.path.exists(spec_path):
        ap.error("no spec module %s" % spec_path)
    spec = _load(spec_path, "recall_" + args.proto)
    spec.flow4 = getattr(spec, "flow4", flow4)
    same = getattr(spec, "same", default_same)
    notes = []
    with tempfile.TemporaryDirectory() as tmp:
        truth = collections.defaultdict(list)
        if args.zeek:
            for cap, items in zeek_truth(args.zeek, spec, tmp, notes).items():
                truth[cap] += items
        if args.arkime:
            for cap, items in arkime_truth(args.arkime, spec, notes).items():
                truth[cap] += items
        if not truth:
            print("no ground truth found")
            return 0
        per_cap = {}
        caps = sorted({c for group in truth for c in group})
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
            futs = [ex.submit(run_capture, args.bin, cap, i, set(spec.MSGIDS), args.timeout)
                    for i, cap in enumerate(caps)]
            for fut in futs:
                cap, recs, why = fut.result()
                if recs is None:
                    notes.append("%s: %s" % (os.path.basename(cap), why))
                    continue
                per_cap[cap] = recs
        ours = {}
        for group in truth:
            if not all(c in per_cap for c in group):
                continue
            idx = collections.defaultdict(list)
            for c in group:
                for r in per_cap[c]:
                    for key, fields in spec.our_items(r):
                        idx[key].append(fields)
            ours[group] = idx

    counted = collections.Counter()
    hit = collections.Counter()
    unmatched = collections.Counter()
    misses = collections.defaultdict(list)
    disputes = list(getattr(spec, "DISPUTES", []))
    dispute_used = collections.Counter()
    disputed = collections.Counter()
    disputed_shown = collections.defaultdict(list)

    def find_dispute(cap, source, field, tv, ov):
        names = {os.path.basename(c) for c in cap}
        for i, d in enumerate(disputes):
            if (d["capture"] in names and d["source"] == source and d["field"] == field and
                    d["truth"] == _text(tv) and d["ours"] == _text(ov)):
                return i
        return None
    for cap, items in truth.items():
        if cap not in ours:
            continue
        taken = collections.Counter()
        for key, fields, source in items:
            cands = ours[cap].get(key, [])
            n = taken[key]
            taken[key] += 1
            mine = cands[n] if n < len(cands) else None
            if mine is None:
                unmatched[source] += 1
            for field, tv in fields.items():
                k = (source, field)
                counted[k] += 1
                ov = None if mine is None else mine.get(field)
                if ov is not None and same(field, tv, ov):
                    hit[k] += 1
                    continue
                where = (",".join(os.path.basename(c) for c in cap), key, tv, ov)
                d = find_dispute(cap, source, field, tv, ov)
                if d is not None:
                    disputed[k] += 1
                    dispute_used[d] += 1
                    if len(disputed_shown[k]) < args.show_misses:
                        disputed_shown[k].append(where + (disputes[d]["why"],))
                elif len(misses[k]) < args.show_misses:
                    misses[k].append(where)

    print("field recall for %s (%d captures with truth, %d run)" % (args.proto, len(truth), len(ours)))
    print("%-14s %-28s %8s %8s %8s %8s %11s" % ("source", "field", "truth", "ours", "recall",
                                               "disputed", "adjudicated"))
    result = []
    for (source, field) in sorted(counted):
        k = (source, field)
        c, h, dn = counted[k], hit[k], disputed[k]
        adj = 100.0 * h / (c - dn) if c > dn else 100.0
        print("%-14s %-28s %8d %8d %7.1f%% %8d %10.1f%%" % (source, field, c, h, 100.0 * h / c, dn, adj))
        result.append(dict(source=source, field=field, truth=c, ours=h, recall=round(100.0 * h / c, 2),
                           disputed=dn, adjudicated=round(adj, 2)))
        for m in misses[k]:
            print("    miss %s %s truth=%r ours=%r" % m)
        for m in disputed_shown[k]:
            print("    disputed %s %s truth=%r ours=%r: %s" % m)
    for i, d in enumerate(disputes):
        if not dispute_used[i]:
            notes.append("stale dispute (matched no miss): %s %s %s truth=%r ours=%r" % (
                d["capture"], d["source"], d["field"], d["truth"], d["ours"]))
    for source, n in sorted(unmatched.items()):
        print("%s: %d truth items had no record of ours with the same key" % (source, n))
    for source, n in sorted(skipped.items()):
        print("%s: %d truth rows skipped (columns the spec needs are missing)" % (source, n))
    for n in notes:
        print("note:", n)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(proto=args.proto, fields=result, unmatched=dict(unmatched), notes=notes,
                           disputes=[dict(d, matched=dispute_used[i]) for i, d in enumerate(disputes)]),
                      f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
