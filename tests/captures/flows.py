#!/usr/bin/env python3
"""Ground truth for the capture tests: list the bidirectional flows in a capture
(python3 stdlib only; it shares no code with the sensor).

usage: flows.py [--summary] FILE

Reads classic pcap (µs or ns, either byte order) and pcapng (SHB/IDB/EPB/SPB/OPB,
either byte order, several interfaces). Link types: Ethernet (1, with any stack
of 802.1Q / 802.1ad tags), NULL (0), RAW (101, 12, 14), LOOP (108), LINUX_SLL
(113), LINUX_SLL2 (276), IPV4 (228), IPV6 (229).

One output line per flow, in order of the flow's first packet:

  transport client_ip client_port server_ip server_port pkts_c2s bytes_c2s pkts_s2c bytes_s2c vlan

transport  tcp, udp, icmp, icmp6, or ipN for other IP protocol numbers N.
bytes      IP-layer bytes: IPv4 total length, IPv6 40 + payload length, taken
           from the IP header (so a frame cut by the snap length still counts whole).
key        (transport, the two endpoints, vlan) for the whole capture, no timeouts.
client     TCP: the sender of the first SYN without ACK; else the receiver of the
           first SYN+ACK; else the sender of the first packet. Others: the
           sender of the first packet.
ICMP echo  (ICMP 8/0, ICMPv6 128/129) both ports = echo identifier; request and
           reply are one flow.
other ICMP (unreachable, NDP, MLD, ...) a one-way flow of its own from the sender:
           client_port = type, server_port = code; never merged with the reverse.
fragments  every fragment is one packet with its own IP length; a non-first
           fragment (offset > 0) joins the flow of the first fragment with the
           same (src, dst, protocol, IP id) — IPv6: fragment header id. A
           non-first fragment whose first fragment is not in the file makes a
           flow with ports 0 0.
vlan       the VLAN ids outer to inner joined by '.', or '-' when untagged.
not IP     ARP and other non-IP frames are not flows (--summary counts them).

Exit status: 0 read to the end; 2 the file ends inside a record or holds an
impossible record (the flows before it are printed); 1 not a capture file.
"""
import ipaddress
import struct
import sys

VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)
MAX_CAPLEN = 262144
HEADER = "# transport client_ip client_port server_ip server_port pkts_c2s bytes_c2s pkts_s2c bytes_s2c vlan"


class CaptureError(Exception):
    pass


class Truncated(Exception):
    pass


def read_pcap(buf):
    magic = struct.unpack_from("<I", buf)[0]
    e = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    _, _, _, _, _, snaplen, linktype = struct.unpack_from(e + "IHHiIII", buf)
    linktype &= 0x0FFFFFFF  # upper bits: FCS length flags
    off = 24
    while off < len(buf):
        if off + 16 > len(buf):
            raise Truncated("record header at offset %d cut short" % off)
        _, _, caplen, _ = struct.unpack_from(e + "IIII", buf, off)
        if caplen > max(snaplen, MAX_CAPLEN):
            raise CaptureError("record at offset %d has caplen %#x" % (off, caplen))
        if off + 16 + caplen > len(buf):
            raise Truncated("record at offset %d: %d of %d bytes" % (off, len(buf) - off - 16, caplen))
        yield linktype, buf[off + 16:off + 16 + caplen]
        off += 16 + caplen


def read_pcapng(buf):
    off = 0
    e = "<"
    ifaces = []
    while off < len(buf):
        if off + 12 > len(buf):
            raise Truncated("block header at offset %d cut short" % off)
        btype = struct.unpack_from(e + "I", buf, off)[0]
        if btype == 0x0A0D0D0A:
            bom = struct.unpack_from("<I", buf, off + 8)[0]
            if bom == 0x1A2B3C4D:
                e = "<"
            elif bom == 0x4D3C2B1A:
                e = ">"
            else:
                raise CaptureError("bad byte-order magic at offset %d" % off)
            ifaces = []
        blen = struct.unpack_from(e + "I", buf, off + 4)[0]
        if blen < 12 or blen % 4:
            raise CaptureError("block at offset %d has length %d" % (off, blen))
        if off + blen > len(buf):
            raise Truncated("block at offset %d: %d of %d bytes" % (off, len(buf) - off, blen))
        body = buf[off + 8:off + blen - 4]
        if btype == 1:  # IDB
            lt, _, snap = struct.unpack_from(e + "HHI", body)
            ifaces.append((lt, snap))
        elif btype == 6 or btype == 2:  # EPB, OPB
            if btype == 6:
                ifid, _, _, caplen, _ = struct.unpack_from(e + "IIIII", body)
            else:
                ifid, _, _, _, caplen, _ = struct.unpack_from(e + "HHIIII", body)
            if ifid >= len(ifaces) or 20 + caplen > len(body):
                raise CaptureError("packet block at offset %d is inconsistent" % off)
            yield ifaces[ifid][0], body[20:20 + caplen]
        elif btype == 3:  # SPB
            if not ifaces:
                raise CaptureError("simple packet block before any interface")
            orig = struct.unpack_from(e + "I", body)[0]
            lt, snap = ifaces[0]
            caplen = min(orig, len(body) - 4, snap or orig)
            yield lt, body[4:4 + caplen]
        off += blen


def read_capture(path):
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) >= 24 and struct.unpack_from("<I", buf)[0] in (0xA1B2C3D4, 0xD4C3B2A1, 0xA1B23C4D, 0x4D3CB2A1):
        return read_pcap(buf)
    if len(buf) >= 12 and struct.unpack_from("<I", buf)[0] == 0x0A0D0D0A:
        return read_pcapng(buf)
    raise CaptureError("not a pcap or pcapng file")


def link_to_ip(linktype, d):
    """Return (vlan ids tuple, IP bytes) or None when the frame carries no IP."""
    vlans = ()
    if linktype == 1:
        off, etype = 14, (struct.unpack_from("!H", d, 12)[0] if len(d) >= 14 else None)
    elif linktype == 113:
        off, etype = 16, (struct.unpack_from("!H", d, 14)[0] if len(d) >= 16 else None)
    elif linktype == 276:
        off, etype = 20, (struct.unpack_from("!H", d, 0)[0] if len(d) >= 20 else None)
    elif linktype in (101, 12, 14, 228, 229):
        return vlans, d
    elif linktype in (0, 108):
        if len(d) < 4:
            return None
        fam = struct.unpack_from("!I" if linktype == 108 else "<I", d)[0]
        if linktype == 0 and fam > 0xFFFF:
            fam = struct.unpack_from(">I", d)[0]
        if fam in (2, 24, 28, 30):
            return vlans, d[4:]
        return None
    else:
        return None
    if etype is None:
        return None
    while etype in VLAN_TPIDS and off + 4 <= len(d):
        vlans += (struct.unpack_from("!H", d, off)[0] & 0x0FFF,)
        etype = struct.unpack_from("!H", d, off + 2)[0]
        off += 4
    if etype in (0x0800, 0x86DD):
        return vlans, d[off:]
    return None


class Pkt:
    __slots__ = ("vlans", "src", "dst", "proto", "iplen", "frag_key", "first_frag", "later_frag", "l4")


def decode_ip(vlans, ip):
    """Fill a Pkt from IP bytes; l4 = (sport, dport, tcp_flags, icmp_type) or None."""
    if not ip:
        return None
    p = Pkt()
    p.vlans = vlans
    p.frag_key = None
    p.first_frag = p.later_frag = False
    version = ip[0] >> 4
    if version == 4 and len(ip) >= 20:
        ihl = (ip[0] & 0x0F) * 4
        p.iplen, ident, fl = struct.unpack_from("!HHH", ip, 2)
        p.proto = ip[9]
        p.src = ipaddress.IPv4Address(ip[12:16])
        p.dst = ipaddress.IPv4Address(ip[16:20])
        more, offset = bool(fl & 0x2000), fl & 0x1FFF
        if more or offset:
            p.frag_key = (p.src, p.dst, p.proto, ident)
            p.first_frag, p.later_frag = offset == 0, offset != 0
        l4 = ip[ihl:]
    elif version == 6 and len(ip) >= 40:
        p.iplen = 40 + struct.unpack_from("!H", ip, 4)[0]
        nh = ip[6]
        p.src = ipaddress.IPv6Address(ip[8:24])
        p.dst = ipaddress.IPv6Address(ip[24:40])
        off = 40
        while True:
            if nh in (0, 43, 60) and off + 8 <= len(ip):
                nh, off = ip[off], off + (ip[off + 1] + 1) * 8
            elif nh == 51 and off + 8 <= len(ip):
                nh, off = ip[off], off + (ip[off + 1] + 2) * 4
            elif nh == 44 and off + 8 <= len(ip):
                fo, ident = struct.unpack_from("!HI", ip, off + 2)
                nh, off = ip[off], off + 8
                p.frag_key = (p.src, p.dst, nh, ident)
                p.first_frag, p.later_frag = (fo & 0xFFF8) == 0, (fo & 0xFFF8) != 0
            else:
                break
        p.proto = nh
        l4 = ip[off:]
    else:
        return None
    p.l4 = None
    if not p.later_frag:
        if p.proto in (6, 17) and len(l4) >= 4:
            sport, dport = struct.unpack_from("!HH", l4)
            flags = l4[13] if p.proto == 6 and len(l4) >= 14 else 0
            p.l4 = (sport, dport, flags, None)
        elif p.proto in (1, 58) and len(l4) >= 2:
            t, c = l4[0], l4[1]
            echo = (8, 0) if p.proto == 1 else (128, 129)
            if t in echo and len(l4) >= 6:
                ident = struct.unpack_from("!H", l4, 4)[0]
                p.l4 = (ident, ident, 0, "echo")
            else:
                p.l4 = (t, c, 0, "other")
    return p


TRANSPORT = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmp6"}


class Flow:
    def __init__(self, order, transport, vlans):
        self.order = order
        self.transport = transport
        self.vlans = vlans
        self.first_sender = None  # (ip, port)
        self.syn_sender = None
        self.synack_receiver = None
        self.stats = {}  # sender endpoint -> [pkts, bytes]
        self.ends = None


def flows_of(path, summary):
    flows = {}
    frag_flow = {}  # frag_key -> (flow key, sender endpoint, receiver endpoint)
    pending = []  # later fragments that came before their first fragment
    counts = {"records": 0, "not_ip": 0, "ip": 0}
    status, why = 0, None

    def account(key, flow, a, b, pkt, flags):
        if flow.first_sender is None:
            flow.first_sender = a
            flow.ends = (a, b)
        if flow.transport == "tcp":
            if (flags & 0x12) == 0x02 and flow.syn_sender is None:
                flow.syn_sender = a
            if (flags & 0x12) == 0x12 and flow.synack_receiver is None:
                flow.synack_receiver = b
        st = flow.stats.setdefault(a, [0, 0])
        st[0] += 1
        st[1] += pkt.iplen

    def add(pkt):
        transport = TRANSPORT.get(pkt.proto, "ip%d" % pkt.proto)
        if pkt.later_frag:
            hit = frag_flow.get(pkt.frag_key)
            if hit is None:
                pending.append(pkt)
                return
            key, a, b = hit
            account(key, flows[key], a, b, pkt, 0)
            return
        if pkt.l4 is None:
            sport = dport = 0
            flags, kind = 0, None
        else:
            sport, dport, flags, kind = pkt.l4
        a, b = (pkt.src, sport), (pkt.dst, dport)
        if kind == "other":
            key = (transport, pkt.vlans, "oneway", a, b)
        else:
            key = (transport, pkt.vlans) + tuple(sorted((a, b), key=lambda x: (x[0].version, x[0], x[1])))
        flow = flows.get(key)
        if flow is None:
            flow = flows[key] = Flow(len(flows), transport, pkt.vlans)
        account(key, flow, a, b, pkt, flags)
        if pkt.first_frag:
            frag_flow[pkt.frag_key] = (key, a, b)

    records = read_capture(path)  # CaptureError here: not a capture file at all
    try:
        for linktype, data in records:
            counts["records"] += 1
            r = link_to_ip(linktype, data)
            pkt = decode_ip(*r) if r else None
            if pkt is None:
                counts["not_ip"] += 1
                continue
            counts["ip"] += 1
            add(pkt)
    except Truncated as exc:
        status, why = 2, "truncated: %s" % exc
    except CaptureError as exc:
        status, why = 2, str(exc)
    for pkt in pending:
        hit = frag_flow.get(pkt.frag_key)
        if hit is None:
            transport = TRANSPORT.get(pkt.proto, "ip%d" % pkt.proto)
            a, b = (pkt.src, 0), (pkt.dst, 0)
            key = (transport, pkt.vlans) + tuple(sorted((a, b), key=lambda x: (x[0].version, x[0], x[1])))
            if key not in flows:
                flows[key] = Flow(len(flows), transport, pkt.vlans)
            hit = (key, a, b)
        account(hit[0], flows[hit[0]], hit[1], hit[2], pkt, 0)

    lines = [HEADER]
    for flow in sorted(flows.values(), key=lambda f: f.order):
        a, b = flow.ends
        client = flow.first_sender
        if flow.transport == "tcp":
            client = flow.syn_sender or flow.synack_receiver or client
        server = b if client == a else a
        c = flow.stats.get(client, [0, 0])
        s = flow.stats.get(server, [0, 0])
        vlan = ".".join(str(v) for v in flow.vlans) or "-"
        lines.append("%s %s %d %s %d %d %d %d %d %s" % (
            flow.transport, client[0], client[1], server[0], server[1], c[0], c[1], s[0], s[1], vlan))
    if summary:
        counts["flows"] = len(flows)
        sys.stderr.write("%s: %s\n" % (path, " ".join("%s=%d" % kv for kv in counts.items())))
    if why:
        sys.stderr.write("%s: %s\n" % (path, why))
    return status, lines


def main(argv):
    args = [a for a in argv[1:] if a != "--summary"]
    if len(args) != 1:
        sys.stderr.write(__doc__)
        return 1
    try:
        status, lines = flows_of(args[0], "--summary" in argv)
    except CaptureError as exc:
        sys.stderr.write("%s: %s\n" % (args[0], exc))
        print(HEADER)
        return 1
    print("\n".join(lines))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
