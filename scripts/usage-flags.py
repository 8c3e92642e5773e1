#!/usr/bin/env python3
"""Rewrites the flags tables in docs/usage.md from `flowscribe --help`, so the two agree
(tests/integration/test_offline.py 'help' checks both ways).
usage: scripts/usage-flags.py BUILD/sensor/flowscribe"""
import re
import subprocess
import sys

text = subprocess.run([sys.argv[1], "--help"], capture_output=True, text=True, check=True).stdout
group, rows, cur = None, [], None
for line in text.split("\n"):
    if re.match(r"^[A-Z][a-zA-Z]+:$", line):
        group = line[:-1]
        continue
    if line.startswith("  --"):
        cur = [group, line.strip(), ""]
        rows.append(cur)
        continue
    if line.startswith("      ") and cur:
        cur[2] += (" " if cur[2] else "") + line.strip()
out, g = [], None
for grp, flag, helptext in rows:
    if grp != g:
        out += ["", f"### {grp}", "", "| flag | what it does |", "|---|---|"]
        g = grp
    out.append(f"| `{flag.replace('|', chr(92) + '|')}` | {helptext.replace('|', chr(92) + '|')} |")
doc = open("docs/usage.md").read()
start = doc.index("and exit status 2.\n") + len("and exit status 2.\n")
end = doc.index("\n## Cores")
open("docs/usage.md", "w").write(doc[:start] + "\n".join(out) + "\n" + doc[end:])
