#!/usr/bin/env python3
"""Docs stay true: every counter declared in an X-macro list is documented in
docs/counters.md, and nothing documented there is gone from the code."""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1])
declared = set()
for header in list(root.glob("sensor/**/*.h")) + list(root.glob("flowtable/*.h")) + \
        list(root.glob("emit/*.h")) + list(root.glob("dissectors/**/*.h")):
    text = header.read_text()
    for m in re.finditer(r"#define (FS_\w+_COUNTERS)\(X\)(.*?)(?:\n\n|\n#|\Z)", text, re.S):
        for c in re.finditer(r"X\((\w+),", m.group(2)):
            declared.add(c.group(1))
doc = (root / "docs" / "counters.md").read_text()
documented = set(re.findall(r"^\| `(\w+)` \|", doc, re.M))
missing = sorted(declared - documented)
stale = sorted(documented - declared - {"port_imissed", "port_ierrors", "port_rx_nombuf"})
if missing or stale:
    print("undocumented counters:", missing)
    print("documented but not declared:", stale)
    sys.exit(1)
print(f"{len(declared)} counters, all documented")
