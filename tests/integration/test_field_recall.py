#!/usr/bin/env python3
"""tools/field_recall.py counts what it says: hits, misses, and disputed truth values only where
capture, field, truth value and our value all match a dispute; a dispute that matches nothing
is reported stale. Ground truth here is a hand-written Arkime session over a committed capture
(tests/captures/dissect/http/http.pcap), read by the real sensor."""
import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

ap = argparse.ArgumentParser()
ap.add_argument("--bin", required=True)
ap.add_argument("--root", required=True)
args = ap.parse_args()
root = pathlib.Path(args.root)
tool = root / "tools" / "field_recall.py"

HOST = "10.61.0.2"
FLOW = dict(source=dict(ip="10.61.0.1", port=46518), destination=dict(ip=HOST, port=80))
truth_uris = ["/index.html", "/style.css", "/wrong-one", "/disputed-one"]
session = dict(body=dict(FLOW, http=dict(uri=[HOST + u for u in truth_uris], method=["GET"],
                                         statuscode=[200])))
DISPUTES = [
    # applies: this truth value, no value of ours (Arkime's values are keyed by value)
    dict(capture="cap.pcap", source="arkime", field="host_uri", truth=HOST + "/disputed-one",
         ours=None, why="test"),
    # does not apply: same truth value, another field
    dict(capture="cap.pcap", source="arkime", field="method", truth=HOST + "/wrong-one",
         ours=None, why="test"),
    # does not apply: a value of ours we do not have
    dict(capture="cap.pcap", source="arkime", field="host_uri", truth=HOST + "/wrong-one",
         ours="something", why="test"),
    # another capture
    dict(capture="other.pcap", source="arkime", field="host_uri", truth=HOST + "/wrong-one",
         ours=None, why="test"),
]

failures = []
with tempfile.TemporaryDirectory() as tmp:
    tmp = pathlib.Path(tmp)
    ark = tmp / "arkime"
    ark.mkdir()
    shutil.copy(root / "tests" / "captures" / "dissect" / "http" / "http.pcap", ark / "cap.pcap")
    (ark / "cap.test").write_text(json.dumps(dict(sessions3=[session])))
    spec = tmp / "spec.py"
    spec.write_text((root / "tools" / "recall" / "http.py").read_text() +
                    "\nDISPUTES = %r\n" % (DISPUTES,))
    out = tmp / "out.json"
    p = subprocess.run([sys.executable, str(tool), "--bin", args.bin, "--proto", "http",
                        "--spec", str(spec), "--arkime", str(ark), "--json", str(out),
                        "--show-misses", "10", "--jobs", "1"],
                       capture_output=True, text=True, timeout=240)
    print(p.stdout)
    if p.returncode != 0:
        print(p.stderr)
        sys.exit(1)
    res = json.loads(out.read_text())
    fields = {(f["source"], f["field"]): f for f in res["fields"]}

    def expect(what, got, want):
        if got != want:
            failures.append("%s: got %r, want %r" % (what, got, want))

    hu = fields.get(("arkime", "host_uri"))
    if hu is None:
        failures.append("no host_uri row")
    else:
        expect("host_uri truth", hu["truth"], 4)
        expect("host_uri ours", hu["ours"], 2)
        expect("host_uri disputed", hu["disputed"], 1)
        expect("host_uri recall", hu["recall"], 50.0)
        expect("host_uri adjudicated", hu["adjudicated"], round(100 * 2 / 3, 2))
    m = fields.get(("arkime", "method"), {})
    expect("method", (m.get("truth"), m.get("ours"), m.get("disputed")), (1, 1, 0))
    expect("dispute use", [d["matched"] for d in res["disputes"]], [1, 0, 0, 0])
    stale = [n for n in res["notes"] if n.startswith("stale dispute")]
    expect("stale notes", len(stale), 3)
    if "miss cap.pcap" not in p.stdout or HOST + "/wrong-one" not in p.stdout:
        failures.append("the undisputed miss is not listed")
    if "disputed cap.pcap" not in p.stdout:
        failures.append("the disputed miss is not listed")

for f in failures:
    print("FAIL:", f)
print("field_recall: %s" % ("ok" if not failures else "%d failures" % len(failures)))
sys.exit(1 if failures else 0)
