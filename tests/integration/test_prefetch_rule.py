#!/usr/bin/env python3
"""Prefetches go through common/prefetch.h (asm volatile). GCC 12 deleted a
__builtin_prefetch whose address came from a load under a branch: the flow table's record
prefetch was never in the binary, which cost ~30 % at 100K flows (docs/performance.md,
"Stalls found by sampling"). This fails on any compiler-builtin prefetch elsewhere."""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1])
allowed = root / "common" / "prefetch.h"
pattern = re.compile(r"\b(__builtin_prefetch|_mm_prefetch)\s*\(")
found = []
for folder in ("common", "sensor", "flowtable", "emit", "dissectors", "tools"):
    for path in sorted((root / folder).rglob("*")):
        if path.suffix not in (".h", ".cpp", ".cc") or path == allowed:
            continue
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if pattern.search(line.split("//", 1)[0]):
                found.append(f"{path.relative_to(root)}:{n}: {line.strip()}")
if found:
    print("compiler-builtin prefetches (use prefetch_read/prefetch_write, common/prefetch.h):")
    print("\n".join(found))
    sys.exit(1)
print("every prefetch goes through common/prefetch.h")
