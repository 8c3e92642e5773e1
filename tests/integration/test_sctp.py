#!/usr/bin/env python3
"""Integration test: HTTP over SCTP, read from the DATA chunks of each side in TSN order.

usage: test_sctp.py --bin FLOWSCRIBE --check RFC5424_CHECK --captures DIR [--update]

DIR/http-sctp.pcap (tests/captures/dissect/make-sctp-captures.sh: nginx behind an SCTP relay,
usrsctp's HTTP client and curl through a relay, SCTP from usrsctp) must give the http records
of DIR/golden.jsonl, each in a session with transport="sctp", its ports and proto="http"; every
session's client is the INIT's sender (client_basis="syn") and it ends by SHUTDOWN
(end_reason="fin").
Three captures are derived from it, as a lossy path or a lossy capture delivers them:

- "retransmitted": every DATA packet is sent twice. The copies carry TSNs already taken:
  skipped (app_sctp_tsn_old, one per copy), the records are exactly the original's.
- "lost": the third DATA packet of the longest response (a 10,800-byte body in 7 chunks)
  never arrives. The hole is counted (app_sctp_tsn_gap), the other flows' records are the
  original's, and that flow still has its request's record.
- "cut": the capture keeps 96 bytes of each frame (a small snap length). Nothing breaks: the
  records' lines pass RFC 5424, every flow is still a session, and every packet is decoded.
"""
import os
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import records  # noqa: E402


def sctp_chunks(frame):
    """(sport, dport, [chunk types]) of an Ethernet/IPv4/SCTP frame, else None."""
    if len(frame) < 14 + 20 + 12 or frame[12:14] != b"\x08\x00" or frame[14 + 9] != 132:
        return None
    off = 14 + (frame[14] & 0xF) * 4
    sport, dport = struct.unpack("!HH", frame[off:off + 4])
    types, c = [], off + 12
    while c + 4 <= len(frame):
        types.append(frame[c])
        n = struct.unpack("!H", frame[c + 2:c + 4])[0]
        if n < 4:
            break
        c += (n + 3) & ~3
    return sport, dport, types


def main():
    args = records.capture_args().parse_args()
    pcap = os.path.join(args.captures, "http-sctp.pcap")
    failures = []

    base = records.run_capture(args.bin, args.check, pcap)
    got, sessions, _ = records.collect(base.stdout, {"http"}, tag=False)
    got.sort(key=lambda g: (g["ts"], g["client"]))
    for line in base.stdout.splitlines():
        r = records.parse(line)
        fl = records.flow(r)
        if fl.get("transport") != "sctp" or fl.get("dport") != "80" or fl.get("sport") in (None, "0"):
            failures.append(f"not an SCTP flow with ports: {line[:200]}")
        # INIT names the client; SHUTDOWN and SHUTDOWN ACK end the association as FINs do.
        if r["msgid"] == "session" and (fl.get("client_basis") != "syn" or fl.get("end_reason") != "fin"):
            failures.append(f"SCTP session not started by INIT or ended by SHUTDOWN: {line[:300]}")
    for g in got:
        if sessions.get(g["client"]) != "http":
            failures.append(f"{g['client']}: no proto=http session")
    if records.check_golden(got, os.path.join(args.captures, "golden.jsonl"), args.update,
                            "http records over sctp") != 0:
        failures.append("golden records differ")
    if args.update:
        return 0

    header, pkts = records.read_pcap(pcap)
    data_pkts = [i for i, (_, _, f) in enumerate(pkts) if (c := sctp_chunks(f)) and 0 in c[2]]
    by_flow = {}
    for i in data_pkts:
        sport, dport, _ = sctp_chunks(pkts[i][2])
        if sport == 80:
            by_flow.setdefault(dport, []).append(i)
    with tempfile.TemporaryDirectory() as tmp:
        # Every DATA packet twice.
        doubled = []
        for i, p in enumerate(pkts):
            doubled.append(p)
            if i in data_pkts:
                doubled.append(p)
        path = os.path.join(tmp, "retransmitted.pcap")
        records.write_pcap(path, header, doubled)
        p = records.run_capture(args.bin, args.check, path)
        again, _, _ = records.collect(p.stdout, {"http"}, tag=False)
        again.sort(key=lambda g: (g["ts"], g["client"]))
        old = records.counters(p.stderr).get("app_sctp_tsn_old", 0)
        if again != got:
            failures.append(f"retransmitted: {len(again)} records differ from the original's {len(got)}")
        if old != len(data_pkts):
            failures.append(f"retransmitted: app_sctp_tsn_old {old}, want {len(data_pkts)}")
        print(f"retransmitted: {len(data_pkts)} DATA packets doubled, {len(again)} http records, "
              f"app_sctp_tsn_old {old}")

        # The third DATA packet of the longest response lost.
        port = max(by_flow, key=lambda k: len(by_flow[k]))
        drop = by_flow[port][2]
        path = os.path.join(tmp, "lost.pcap")
        records.write_pcap(path, header, [p for i, p in enumerate(pkts) if i != drop])
        p = records.run_capture(args.bin, args.check, path)
        lost, lost_sessions, _ = records.collect(p.stdout, {"http"}, tag=False)
        lost.sort(key=lambda g: (g["ts"], g["client"]))
        gap = records.counters(p.stderr).get("app_sctp_tsn_gap", 0)
        client = next(g["client"] for g in got if g["client"].endswith(f":{port}"))
        others = [g for g in got if g["client"] != client]
        if [g for g in lost if g["client"] != client] != others:
            failures.append("lost: the other flows' records changed")
        mine = [g for g in lost if g["client"] == client]
        if len(mine) != 1 or mine[0]["http"].get("uri") != "/big.txt":
            failures.append(f"lost: {client} has {mine}, want its /big.txt request")
        if gap < 1:
            failures.append("lost: app_sctp_tsn_gap not counted")
        if lost_sessions.get(client) != "http":
            failures.append(f"lost: {client} session proto {lost_sessions.get(client)}")
        print(f"lost: DATA packet {drop} of {client} dropped, app_sctp_tsn_gap {gap}, "
              f"{len(lost)} http records")

        # A 96-byte snap length.
        path = os.path.join(tmp, "cut.pcap")
        records.write_pcap(path, header, [[s, u, f[:96]] for s, u, f in pkts],
                           wire_lens=[len(f) for _, _, f in pkts])
        p = records.run_capture(args.bin, args.check, path)
        c = records.counters(p.stderr)
        _, cut_sessions, _ = records.collect(p.stdout, set(), tag=False)
        if set(cut_sessions) != set(sessions):
            failures.append(f"cut: sessions {sorted(cut_sessions)}, want {sorted(sessions)}")
        if c.get("decode_ok", 0) != len(pkts):
            failures.append(f"cut: decode_ok {c.get('decode_ok', 0)}, want {len(pkts)}")
        print(f"cut: {len(cut_sessions)} sessions, decode_ok {c.get('decode_ok', 0)}")

    for f in failures:
        print("FAIL:", f)
    print(f"sctp: {len(got)} http records, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
