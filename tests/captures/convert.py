#!/usr/bin/env python3
"""Rewrite a classic pcap into the other container formats and link types the
sensor must read, or break it on purpose (python3 stdlib only).

  convert.py relink --to raw|null|loop IN OUT
        Ethernet (with any 802.1Q/802.1ad tags) -> LINKTYPE_RAW (101),
        LINKTYPE_NULL (0, 4-byte address family in host byte order) or
        LINKTYPE_LOOP (108, same in network byte order). Frames that carry
        neither IPv4 nor IPv6 (ARP, ...) cannot be represented and are dropped.
        IPv6 uses family 24 (the BSD value every reader accepts), not Linux's 10.
  convert.py pcapng IN OUT     classic pcap -> pcapng (SHB + IDB + EPBs, little endian)
  convert.py nanosec IN OUT    classic pcap -> nanosecond pcap (magic 0xa1b23c4d)
  convert.py truncate --records N IN OUT
        keep the global header and the first N records, then the 16-byte header
        and half of the data of record N+1: the file ends inside a record.
  convert.py corrupt IN OUT    IN's global header, then one record whose caplen
        is 0x7fffffff, followed by 64 bytes of IN's first frame.
"""
import argparse
import struct
import sys

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)
AF_INET = 2
AF_INET6_BSD = 24


class Pcap:
    """A classic pcap file: header fields and a list of (sec, frac, orig_len, data)."""

    def __init__(self, path):
        with open(path, "rb") as f:
            buf = f.read()
        if len(buf) < 24:
            raise SystemExit("%s: too short for a pcap header" % path)
        magic_le = struct.unpack_from("<I", buf)[0]
        if magic_le in (0xA1B2C3D4, 0xA1B23C4D):
            self.endian = "<"
        elif magic_le in (0xD4C3B2A1, 0x4D3CB2A1):
            self.endian = ">"
        else:
            raise SystemExit("%s: not a classic pcap file" % path)
        e = self.endian
        magic, self.vmaj, self.vmin, _, _, self.snaplen, self.linktype = struct.unpack_from(e + "IHHiIII", buf)
        self.nanosec = magic == 0xA1B23C4D
        self.header = buf[:24]
        self.records = []
        off = 24
        while off + 16 <= len(buf):
            sec, frac, caplen, orig = struct.unpack_from(e + "IIII", buf, off)
            if off + 16 + caplen > len(buf):
                raise SystemExit("%s: record at offset %d runs past the end" % (path, off))
            self.records.append((sec, frac, orig, buf[off + 16:off + 16 + caplen], buf[off:off + 16]))
            off += 16 + caplen
        if off != len(buf):
            raise SystemExit("%s: %d stray bytes at the end" % (path, len(buf) - off))


def write_pcap(path, linktype, snaplen, records, nanosec=False):
    out = [struct.pack("<IHHiIII", 0xA1B23C4D if nanosec else 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype)]
    for sec, frac, orig, data in records:
        out.append(struct.pack("<IIII", sec, frac, len(data), orig))
        out.append(data)
    with open(path, "wb") as f:
        f.write(b"".join(out))


def strip_ethernet(frame):
    """Return (ip_version, ip_bytes_from_frame) or None when the frame is not IP."""
    if len(frame) < 14:
        return None
    off = 12
    etype = struct.unpack_from("!H", frame, off)[0]
    while etype in VLAN_TPIDS and off + 6 <= len(frame):
        off += 4
        etype = struct.unpack_from("!H", frame, off)[0]
    off += 2
    if etype == 0x0800:
        return 4, frame[off:]
    if etype == 0x86DD:
        return 6, frame[off:]
    return None


def cmd_relink(args):
    src = Pcap(args.input)
    if src.linktype != LINKTYPE_ETHERNET:
        raise SystemExit("relink wants an Ethernet capture, got link type %d" % src.linktype)
    out = []
    for sec, frac, orig, data, _ in src.records:
        r = strip_ethernet(data)
        if r is None:
            continue
        version, ip = r
        l2_gone = len(data) - len(ip)
        if args.to == "raw":
            prefix, lt = b"", LINKTYPE_RAW
        else:
            fam = AF_INET if version == 4 else AF_INET6_BSD
            if args.to == "null":
                prefix, lt = struct.pack("=I", fam), LINKTYPE_NULL
            else:
                prefix, lt = struct.pack("!I", fam), LINKTYPE_LOOP
        out.append((sec, frac, orig - l2_gone + len(prefix), prefix + ip))
    write_pcap(args.output, lt, src.snaplen, out, src.nanosec)


def pcapng_block(btype, body):
    pad = (-len(body)) % 4
    total = 12 + len(body) + pad
    return struct.pack("<II", btype, total) + body + b"\0" * pad + struct.pack("<I", total)


def pcapng_option(code, value):
    return struct.pack("<HH", code, len(value)) + value + b"\0" * ((-len(value)) % 4)


def cmd_pcapng(args):
    src = Pcap(args.input)
    blocks = []
    shb_opts = pcapng_option(4, b"flowscribe tests/captures/convert.py") + pcapng_option(0, b"")
    blocks.append(pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + shb_opts))
    tsresol = 9 if src.nanosec else 6
    idb_opts = pcapng_option(2, b"fsc-eth0") + pcapng_option(9, bytes([tsresol])) + pcapng_option(0, b"")
    blocks.append(pcapng_block(1, struct.pack("<HHI", src.linktype, 0, src.snaplen) + idb_opts))
    unit = 10 ** tsresol
    for sec, frac, orig, data, _ in src.records:
        ts = sec * unit + frac
        body = struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(data), orig) + data
        body += b"\0" * ((-len(data)) % 4)
        blocks.append(pcapng_block(6, body))
    with open(args.output, "wb") as f:
        f.write(b"".join(blocks))


def cmd_nanosec(args):
    src = Pcap(args.input)
    if src.nanosec:
        raise SystemExit("already nanosecond")
    recs = [(sec, frac * 1000, orig, data) for sec, frac, orig, data, _ in src.records]
    write_pcap(args.output, src.linktype, src.snaplen, recs, nanosec=True)


def cmd_truncate(args):
    src = Pcap(args.input)
    if args.records >= len(src.records):
        raise SystemExit("only %d records" % len(src.records))
    out = [src.header]
    for _, _, _, data, hdr in src.records[:args.records]:
        out += [hdr, data]
    _, _, _, data, hdr = src.records[args.records]
    out += [hdr, data[:len(data) // 2]]
    with open(args.output, "wb") as f:
        f.write(b"".join(out))


def cmd_corrupt(args):
    src = Pcap(args.input)
    sec, frac, _, data, _ = src.records[0]
    e = src.endian
    bad = struct.pack(e + "IIII", sec, frac, 0x7FFFFFFF, len(data)) + data[:64]
    with open(args.output, "wb") as f:
        f.write(src.header + bad)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("relink")
    p.add_argument("--to", choices=("raw", "null", "loop"), required=True)
    p.set_defaults(fn=cmd_relink)
    for name, fn in (("pcapng", cmd_pcapng), ("nanosec", cmd_nanosec), ("corrupt", cmd_corrupt)):
        sub.add_parser(name).set_defaults(fn=fn)
    p = sub.add_parser("truncate")
    p.add_argument("--records", type=int, required=True)
    p.set_defaults(fn=cmd_truncate)
    for p in sub.choices.values():
        p.add_argument("input")
        p.add_argument("output")
    args = ap.parse_args()
    args.fn(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
