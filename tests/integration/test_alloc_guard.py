#!/usr/bin/env python3
"""No heap allocation on a worker after start-up (CONVENTIONS.md habit 2), checked for real.

Runs only in a build with -Dalloc_guard=true, where a worker or dispatcher that allocates
aborts with "alloc_guard: heap allocation on a worker ..." and a backtrace
(sensor/alloc_guard.cpp). Every capture under tests/captures, tests/captures/proto and
tests/captures/dissect/* (each dissector's real traffic) and tests/captures/frag (IP
reassembly) goes through flowscribe offline with one worker and with two workers behind the
software dispatcher, with one worker reading through DPDK's net_pcap, with one worker reading
it from standard input, and twice over as a series of two files; any abort fails the test and
shows the backtrace. (The
damaged captures matter most: the reader finds their damage on the worker.)

usage: test_alloc_guard.py --bin FLOWSCRIBE --captures DIR
"""
import argparse
import glob
import os
import subprocess
import sys

# Captures that are broken on purpose (exit 1 or 2 by design) are still run: the guard must
# hold on the error paths too. Only the exit statuses that mean "killed" fail here.
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--captures", required=True)
    args = ap.parse_args()
    caps = sorted(glob.glob(os.path.join(args.captures, "*.pcap*")) +
                  glob.glob(os.path.join(args.captures, "proto", "*.pcap")) +
                  glob.glob(os.path.join(args.captures, "dissect", "*", "*.pcap")) +
                  glob.glob(os.path.join(args.captures, "frag", "*.pcap")))
    if not caps:
        print(f"no captures under {args.captures}")
        return 1
    failures = 0
    runs = 0
    for cap in caps:
        for workers, reader in (("1", "file"), ("2", "file"), ("1", "net_pcap"), ("1", "stdin"),
                                ("1", "series")):
            stdin = open(cap, "rb") if reader == "stdin" else subprocess.DEVNULL
            # "series": the capture twice as a series, so the worker moves to the next file
            # (after the damage, for a damaged one) through the same buffer.
            inputs = {"stdin": ["--pcap", "-"], "series": ["--pcap", cap, "--pcap", cap]}
            cmd = [args.bin, *inputs.get(reader, ["--pcap", cap]), "--workers", workers,
                   "--pcap-reader", reader if reader in ("file", "net_pcap") else "file",
                   "--out", "file:/dev/null", "--file-prefix", f"fs-allocguard-{os.getpid()}"]
            p = subprocess.run(cmd, stdin=stdin, capture_output=True, text=True, errors="replace",
                               timeout=120)
            if reader == "stdin":
                stdin.close()
            runs += 1
            if p.returncode < 0 or p.returncode > 2 or "alloc_guard:" in p.stderr:
                failures += 1
                print(f"FAIL {os.path.basename(cap)} --workers {workers} --pcap-reader {reader}: "
                      f"exit {p.returncode}")
                print(p.stderr[-4000:])
    # The guard must really be in this binary, or every run above proves nothing.
    nm = subprocess.run(["nm", "-C", args.bin], capture_output=True, text=True)
    if "flowscribe::alloc_guard::arm" not in nm.stdout:
        print(f"FAIL {args.bin} has no allocation guard linked in (not an alloc_guard build?)")
        failures += 1
    print(f"{runs} runs over {len(caps)} captures, {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
