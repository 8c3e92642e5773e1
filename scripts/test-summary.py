#!/usr/bin/env python3
"""Reads meson's testlog.json files (one per build directory) and prints
'N passed, N failed[, N skipped]' over all of them; exit 1 on failure."""
import json
import sys

passed = failed = skipped = 0
names = []
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            t = json.loads(line)
            r = t.get("result")
            if r in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif r == "SKIP":
                skipped += 1
            else:
                failed += 1
                # The same test runs in more than one build: say which.
                names.append(f"{t.get('name')} ({path.split('/meson-logs/')[0]})")
if names:
    print("failed: " + ", ".join(names))
tail = f", {skipped} skipped" if skipped else ""
print(f"{passed} passed, {failed} failed{tail}")
sys.exit(1 if failed or passed == 0 else 0)
