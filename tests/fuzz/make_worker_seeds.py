#!/usr/bin/env python3
"""Writes seeds for worker_fuzz (tests/fuzz/worker_fuzz.cpp) from Ethernet pcap files (the
little-endian microsecond kind the test captures are, read by tests/integration/records.py):
each frame as [u16 LE length][u8 time step in 1/8 s, at most 254][frame bytes], frames cut
to 2,048 bytes (the fuzzer's mbufs). The packet gaps of the capture become the time steps,
so its flows end the way they did on the wire.

    tests/fuzz/make_worker_seeds.py OUT_DIR CAPTURE.pcap ...
"""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from records import read_pcap  # noqa: E402


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for path in sys.argv[2:]:
        blob, last = bytearray(), None
        for sec, usec, frame in read_pcap(path)[1]:
            t = sec + usec / 1e6
            step = 0 if last is None else min(254, max(0, round((t - last) * 8)))
            last = t
            frame = frame[:2048]
            blob += struct.pack("<HB", len(frame), step) + frame
        name = os.path.splitext(os.path.basename(path))[0] + ".bin"
        with open(os.path.join(out, name), "wb") as f:
            f.write(blob)


if __name__ == "__main__":
    main()
