#!/usr/bin/env python3
"""Writes tests/captures/frag/crafted-evasion.pcap: the fragment tricks an IDS must survive,
which no kernel sends by itself (the real-traffic capture is dns-frag.pcap). Deterministic
(fixed times, ids and ports); python3 stdlib only. Not run by CI: the pcap is committed.

  python3 tests/captures/frag/make-crafted-capture.py [OUT.pcap]

1. An HTTP/1.1 exchange over TCP 10.77.1.1:40000 -> 10.77.1.2:80 whose request segment is cut
   into 8-byte IP fragments (the first holds only 8 bytes of the TCP header: RFC 1858 "tiny
   fragment"), sent in reverse order, with one fragment repeated and one overlapping
   fragment that rewrites "/index.html" to "/evil0.html" after the real bytes arrived (and
   before the datagram is complete). First
   data wins: the http record must say uri="/index.html"; the overlap is counted
   (frag_overlap_conflict), the repeat too (frag_duplicate).
2. A DNS answer over UDP 10.77.1.1:41000 <-> 10.77.1.2:53 in three IPv4 fragments sent
   last-first, and the same over IPv6 (fd77:1::1 <-> fd77:1::2) in two fragments, first
   fragment last: the answers at the end of the message are only in the last fragments.
3. A datagram that never completes (its middle fragment is missing): counted when the
   capture ends (frag_timeout).
"""
import struct
import sys

MAC_C = bytes.fromhex("027700010001")
MAC_S = bytes.fromhex("027700010002")
T0 = 1_795_000_000  # seconds


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f">{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def eth(src_mac, dst_mac, etype, payload):
    return dst_mac + src_mac + struct.pack(">H", etype) + payload


def ipv4(src, dst, proto, ident, off_bytes, more, data):
    hdr = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(data), ident,
                      (0x2000 if more else 0) | (off_bytes // 8), 64, proto, 0,
                      bytes(src), bytes(dst))
    hdr = hdr[:10] + struct.pack(">H", csum(hdr)) + hdr[12:]
    return hdr + data


def ipv6_frag(src, dst, nxt, ident, off_bytes, more, data):
    fh = struct.pack(">BBHI", nxt, 0, off_bytes | (1 if more else 0), ident)
    return struct.pack(">IHBB16s16s", 0x60000000, len(fh) + len(data), 44, 64, src, dst) + fh + data


def ipv6(src, dst, nxt, data):
    return struct.pack(">IHBB16s16s", 0x60000000, len(data), nxt, 64, src, dst) + data


def tcp(sport, dport, seq, ack, flags, data=b""):
    return struct.pack(">HHIIBBHHH", sport, dport, seq, ack, 0x50, flags, 64240, 0, 0) + data


def udp(sport, dport, data):
    return struct.pack(">HHHH", sport, dport, 8 + len(data), 0) + data


def dns_name(n):
    return b"".join(bytes([len(p)]) + p.encode() for p in n.split(".")) + b"\0"


def dns_query(tid, name, qtype):
    return struct.pack(">HHHHHH", tid, 0x0100, 1, 0, 0, 0) + dns_name(name) + struct.pack(">HH", qtype, 1)


def dns_txt_answer(tid, name, parts):
    msg = struct.pack(">HHHHHH", tid, 0x8580, 1, len(parts), 0, 0) + dns_name(name) + struct.pack(">HH", 16, 1)
    for p in parts:
        rdata = bytes([len(p)]) + p
        msg += b"\xc0\x0c" + struct.pack(">HHIH", 16, 1, 60, len(rdata)) + rdata
    return msg


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else __file__.rsplit("/", 1)[0] + "/crafted-evasion.pcap"
    frames = []
    t = [0]

    def emit(frame, step_us=1000):
        t[0] += step_us
        frames.append((T0 + t[0] // 1_000_000, t[0] % 1_000_000, frame))

    c4, s4 = [10, 77, 1, 1], [10, 77, 1, 2]
    c6 = bytes.fromhex("fd770001000000000000000000000001")
    s6 = bytes.fromhex("fd770001000000000000000000000002")
    C = lambda p: eth(MAC_C, MAC_S, 0x0800, p)  # noqa: E731
    S = lambda p: eth(MAC_S, MAC_C, 0x0800, p)  # noqa: E731

    # 1. HTTP with a tiny, reversed, repeated and overlapped request.
    cseq, sseq = 1000, 5000
    emit(C(ipv4(c4, s4, 6, 1, 0, False, tcp(40000, 80, cseq, 0, 0x02))))
    emit(S(ipv4(s4, c4, 6, 2, 0, False, tcp(80, 40000, sseq, cseq + 1, 0x12))))
    emit(C(ipv4(c4, s4, 6, 3, 0, False, tcp(40000, 80, cseq + 1, sseq + 1, 0x10))))
    req = (b"GET /index.html HTTP/1.1\r\nHost: frag.test\r\nUser-Agent: crafted/1.0\r\n"
           b"Accept: */*\r\n\r\n")
    seg = tcp(40000, 80, cseq + 1, sseq + 1, 0x18, req)
    pieces = [(off, seg[off:off + 8]) for off in range(0, len(seg), 8)]
    order = list(reversed(pieces))
    order.insert(3, order[1])  # a repeat: same offset, same bytes
    frag_ip = lambda off, data: C(ipv4(c4, s4, 6, 0x4242, off, off + len(data) < len(seg), data))  # noqa: E731
    # "/index.h" is at segment offset 20 + 4 = 24: rewrite [24, 40) after the real bytes came
    # and before the first fragment (the last one sent) completes the datagram.
    evil = seg[24:40].replace(b"/index.html", b"/evil0.html")
    assert evil != seg[24:40] and len(evil) == 16
    order.insert(len(order) - 1, (24, evil))
    for off, data in order:
        emit(frag_ip(off, data))
    body = b"<html>frag</html>\n"
    resp = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
    emit(S(ipv4(s4, c4, 6, 4, 0, False, tcp(80, 40000, sseq + 1, cseq + 1 + len(req), 0x18, resp))))
    emit(C(ipv4(c4, s4, 6, 5, 0, False, tcp(40000, 80, cseq + 1 + len(req), sseq + 1 + len(resp), 0x11))))
    emit(S(ipv4(s4, c4, 6, 6, 0, False, tcp(80, 40000, sseq + 1 + len(resp), cseq + 2 + len(req), 0x11))))
    emit(C(ipv4(c4, s4, 6, 7, 0, False, tcp(40000, 80, cseq + 2 + len(req), sseq + 2 + len(resp), 0x10))))

    # 2. DNS answers fragmented, last fragment first.
    parts = [(b"answer-%02d " % i) + bytes([0x61 + i]) * 180 for i in range(1, 9)]
    q = dns_query(0x1111, "big.frag.test", 16)
    a = udp(53, 41000, dns_txt_answer(0x1111, "big.frag.test", parts))
    emit(C(ipv4(c4, s4, 17, 8, 0, False, udp(41000, 53, q))), 200_000)
    offs = list(range(0, len(a), 600))
    for off in reversed(offs):
        emit(S(ipv4(s4, c4, 17, 0x5151, off, off + 600 < len(a), a[off:off + 600])))
    q6 = dns_query(0x2222, "big.frag.test", 16)
    a6 = udp(53, 41001, dns_txt_answer(0x2222, "big.frag.test", parts))
    emit(eth(MAC_C, MAC_S, 0x86DD, ipv6(c6, s6, 17, udp(41001, 53, q6))), 200_000)
    offs6 = list(range(0, len(a6), 1232))
    for off in offs6[1:] + offs6[:1]:
        emit(eth(MAC_S, MAC_C, 0x86DD, ipv6_frag(s6, c6, 17, 0x61616161, off, off + 1232 < len(a6),
                                                  a6[off:off + 1232])))

    # 3. A datagram whose middle fragment never comes.
    lost = udp(41002, 9999, b"L" * 2000)
    for off in (0, 1200):
        emit(C(ipv4(c4, s4, 17, 0x7171, off, off + 600 < len(lost), lost[off:off + 600])), 200_000)

    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for sec, usec, fr in frames:
            f.write(struct.pack("<IIII", sec, usec, len(fr), len(fr)) + fr)
    print(f"{out}: {len(frames)} frames")


if __name__ == "__main__":
    main()
