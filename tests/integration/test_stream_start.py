#!/usr/bin/env python3
"""Integration test: a TCP stream whose first data segment is out of order, or lost.

usage: test_stream_start.py --bin FLOWSCRIBE --check RFC5424_CHECK --pcap HTTP_PCAP

Takes a capture of real HTTP traffic (tests/captures/dissect/http/http.pcap: curl and nc
against nginx and Python's http.server, a SYN in every flow) and derives two captures from it,
the way a SPAN port or a lossy capture delivers them:

- "reordered": the first request of every flow is cut into two TCP segments and the second
  one is sent first. The app layer must start the client's stream at the handshake's sequence
  number, wait for the first part, and write exactly the records of the original capture
  (counted in app_isn_start, one per flow).
- "lost": in the flows whose first segment holds two pipelined requests, the segment is cut
  at the second request and the first part never arrives (the server still acknowledges it,
  as it does when only the capture lost it). The hole is the side's first bytes: the
  classifier must read what follows it (counted in app_start_gap, one per flow) rather than
  decide on nothing, so the flow is still named http and its second request has its record.

IP and TCP checksums of the derived segments are recomputed.
"""
import os
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import records  # noqa: E402


csum = records.inet_csum


def tcp_of(frame):
    """(ip header offset, tcp offset, payload offset, src, dst, sport, dport, seq, flags) of an
    Ethernet/IPv4/TCP frame, else None."""
    if len(frame) < 14 + 20 or frame[12:14] != b"\x08\x00":
        return None
    ip = 14
    ihl = (frame[ip] & 0xF) * 4
    if frame[ip + 9] != 6:
        return None
    tcp = ip + ihl
    doff = (frame[tcp + 12] >> 4) * 4
    sport, dport, seq = struct.unpack("!HHI", frame[tcp:tcp + 8])
    return ip, tcp, tcp + doff, frame[ip + 12:ip + 16], frame[ip + 16:ip + 20], sport, dport, seq, frame[tcp + 13]


def segment(frame, cut_from, cut_to):
    """The frame with only payload bytes [cut_from, cut_to) and seq moved to match."""
    ip, tcp, pay, src, dst, _, _, seq, _ = tcp_of(frame)
    payload = frame[pay:]
    tcph = bytearray(frame[tcp:pay])
    struct.pack_into("!I", tcph, 4, (seq + cut_from) & 0xFFFFFFFF)
    struct.pack_into("!H", tcph, 16, 0)
    body = payload[cut_from:cut_to]
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcph) + len(body))
    struct.pack_into("!H", tcph, 16, csum(pseudo + bytes(tcph) + body))
    iph = bytearray(frame[ip:tcp])
    struct.pack_into("!H", iph, 2, len(iph) + len(tcph) + len(body))
    struct.pack_into("!H", iph, 10, 0)
    struct.pack_into("!H", iph, 10, csum(bytes(iph)))
    return frame[:ip] + bytes(iph) + bytes(tcph) + body


def second_request(payload):
    """Offset of a second request in `payload` (pipelining), else None."""
    i = payload.find(b"\r\n\r\n")
    if i < 0 or not payload[i + 4:i + 8] in (b"GET ", b"POST", b"HEAD"):
        return None
    return i + 4


def derive(pkts, lose_first):
    """Cuts the first client data segment of every flow that had a SYN (lose_first: of the flows
    whose first segment holds two requests, at the second); returns the new packet list and
    how many flows were changed."""
    syn_clients, done, out, changed = set(), set(), [], 0
    for sec, usec, frame in pkts:
        t = tcp_of(frame)
        if t is None:
            out.append([sec, usec, frame])
            continue
        _, _, pay, src, dst, sport, dport, _, flags = t
        key = (src, sport, dst, dport)
        if flags & 0x02 and not flags & 0x10:
            syn_clients.add(key)
        n = len(frame) - pay
        if key in syn_clients and key not in done and n >= 40:
            done.add(key)
            k = second_request(frame[pay:]) if lose_first else n // 2
            if k is None:
                out.append([sec, usec, frame])
                continue
            changed += 1
            if not lose_first:
                out.append([sec, usec, segment(frame, k, n)])
                out.append([sec, usec + 1, segment(frame, 0, k)])
            else:
                out.append([sec, usec, segment(frame, k, n)])
            continue
        out.append([sec, usec, frame])
    return out, changed


def counter(stderr, name):
    return records.counters(stderr).get(name, 0)


def http_records(stdout, ordered=None):
    """The http records' (client, sorted params) pairs, sorted, and each client's session proto;
    `ordered` gets (client, uri) in output order."""
    recs, sessions, _ = records.collect(stdout, {"http"}, tag=False)
    if ordered is not None:
        ordered.extend((g["client"], g["http"].get("uri")) for g in recs)
    return sorted((g["client"], tuple(sorted(g["http"].items()))) for g in recs), sessions


def main():
    args = records.capture_args("--pcap").parse_args()

    header, pkts = records.read_pcap(args.pcap)
    base = records.run_capture(args.bin, args.check, args.pcap)
    order = []
    want, want_sessions = http_records(base.stdout, order)
    assert want, "the original capture gives http records"
    failures = []
    with tempfile.TemporaryDirectory() as d:
        reordered, n = derive(pkts, lose_first=False)
        path = os.path.join(d, "reordered.pcap")
        records.write_pcap(path, header, reordered)
        p = records.run_capture(args.bin, args.check, path)
        got, _ = http_records(p.stdout)
        if got != want:
            failures.append(f"reordered: http records differ from the original's\n want {want}\n got  {got}")
        if counter(p.stderr, "app_isn_start") != n:
            failures.append(f"reordered: app_isn_start {counter(p.stderr, 'app_isn_start')}, want {n}")
        print(f"reordered: {n} flows, {len(got)} http records, app_isn_start "
              f"{counter(p.stderr, 'app_isn_start')}")

        lost, n = derive(pkts, lose_first=True)
        path = os.path.join(d, "lost.pcap")
        records.write_pcap(path, header, lost)
        p = records.run_capture(args.bin, args.check, path)
        got_order = []
        got, sessions = http_records(p.stdout, got_order)
        gaps = counter(p.stderr, "app_start_gap")
        if n == 0:
            failures.append("lost: the capture has no flow with two requests in its first segment")
        if gaps != n:
            failures.append(f"lost: app_start_gap {gaps}, want {n}")
        cut = cut_clients(lost, pkts)
        for client in cut:
            if sessions.get(client) != "http":
                failures.append(f"lost: {client} named {sessions.get(client)}, want http")
            # The second request of the cut segment (the original's second record) is there.
            uris = [u for c, u in order if c == client]
            if len(uris) < 2 or (client, uris[1]) not in got_order:
                failures.append(f"lost: {client}: no record for its second request ({uris})")
        print(f"lost: {n} flows, {len(got)} http records, app_start_gap {gaps}")
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


def cut_clients(derived, original):
    """Clients ("ip:port") whose frames differ between the two captures."""
    def frames(pkts):
        return {f for _, _, f in pkts}
    changed = frames(derived) ^ frames(original)
    out = set()
    for f in changed:
        t = tcp_of(f)
        if t and t[7] is not None:
            src, sport = t[3], t[5]
            out.add(f"{'.'.join(str(b) for b in src)}:{sport}")
    return out


if __name__ == "__main__":
    sys.exit(main())
