#!/usr/bin/env python3
"""Writes seeds for worker_fuzz (tests/fuzz/worker_fuzz.cpp) from Ethernet pcap files: each
frame as [u16 LE length][u8 time step in 1/8 s, at most 254][frame bytes], frames cut to
2,048 bytes (the fuzzer's mbufs). The packet gaps of the capture become the time steps, so
its flows end the way they did on the wire.

    tests/fuzz/make_worker_seeds.py OUT_DIR CAPTURE.pcap ...
"""
import os
import struct
import sys


def frames(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end, nano = "<", magic == b"\x4d\x3c\xb2\xa1"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end, nano = ">", magic == b"\xa1\xb2\x3c\x4d"
    else:
        raise SystemExit(f"{path}: not a classic pcap file")
    if struct.unpack(end + "I", data[20:24])[0] != 1:
        raise SystemExit(f"{path}: not Ethernet")
    pos = 24
    while pos + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(end + "IIII", data[pos:pos + 16])
        pos += 16
        yield sec + frac / (1e9 if nano else 1e6), data[pos:pos + incl]
        pos += incl


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for path in sys.argv[2:]:
        blob, last = bytearray(), None
        for t, frame in frames(path):
            step = 0 if last is None else min(254, max(0, round((t - last) * 8)))
            last = t
            frame = frame[:2048]
            blob += struct.pack("<HB", len(frame), step) + frame
        name = os.path.splitext(os.path.basename(path))[0] + ".bin"
        with open(os.path.join(out, name), "wb") as f:
            f.write(blob)


if __name__ == "__main__":
    main()
