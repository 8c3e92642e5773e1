#!/usr/bin/env python3
"""Reverse SOCKS5 end to end: a handshake-proven client that speaks as the application's
server (docs/streams.md "Reversed roles", docs/protocols.md "SOCKS dissector").

The capture is built here with the shape of Arkime's socks5-reverse.pcap (not in the
repository): a proxy bot 10.77.0.1 dials its controller 10.77.0.2:8855 (SYN from the bot),
says 6 bytes of its own (4e 5a 8d 08 87 4e), the controller sends a SOCKS5 greeting and at
once a CONNECT to 74.125.131.103:80, the bot answers 05 00 and the success reply, then the
controller's HTTP requests go through the tunnel and the bot returns the responses (the first
longer than the classifier's prefix: the bytes past it reach HTTP as a gap, as in Arkime's).

Checked: the session is proto=socks with src = the bot (the SYN's sender, client_basis=syn);
the socks record names the target; the two http records carry the controller's requests
(method, host, uri, user agent, referer) and the bot's statuses (200, 302); the counters say
the roles were reversed with the client kept (app_roles_reversed) and the lead was skipped
(socks_server_lead). A lead of 17 bytes (past the bound) is not named socks."""
import os
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import records  # noqa: E402

BOT, CTL = bytes([10, 77, 0, 1]), bytes([10, 77, 0, 2])
BOT_PORT, CTL_PORT = 54263, 8855
UA = b"Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)"
URI1 = b"/search?client=firefox&q=sheepskin%20boots&start=0"
URI2 = b"/search?client=firefox&q=sheepskin%20boots&start=10"
GET1 = b"GET " + URI1 + b" HTTP/1.1\r\nHost: www.google.com\r\nUser-Agent: " + UA + b"\r\n\r\n"
GET2 = (b"GET " + URI2 + b" HTTP/1.1\r\nHost: www.google.com\r\nUser-Agent: " + UA +
        b"\r\nReferer: http://www.google.com" + URI1 + b"\r\n\r\n")
BODY1 = b"<html>" + b"x" * 3000 + b"</html>"
RESP1 = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: " +
         str(len(BODY1)).encode() + b"\r\n\r\n" + BODY1)
RESP2 = b"HTTP/1.1 302 Found\r\nLocation: http://www.google.com/sorry\r\nContent-Length: 0\r\n\r\n"


frame = records.tcp_frame


def capture(lead):
    """The packets of one reverse SOCKS flow whose bot says `lead` first."""
    seq = {BOT: 1000, CTL: 7000}
    pkts = []

    def send(src, payload=b"", flags=0x18):
        dst = CTL if src == BOT else BOT
        sp, dp = (BOT_PORT, CTL_PORT) if src == BOT else (CTL_PORT, BOT_PORT)
        pkts.append(frame(src, dst, sp, dp, seq[src], seq[dst], flags, payload))
        seq[src] += len(payload) + (1 if flags & 0x03 else 0)

    send(BOT, flags=0x02)
    send(CTL, flags=0x12)
    send(BOT, flags=0x10)
    send(BOT, lead)
    send(CTL, bytes.fromhex("050100"))
    send(CTL, bytes.fromhex("050100014a7d83670050"))
    send(BOT, bytes.fromhex("0500"))
    send(BOT, bytes.fromhex("050000014a7d83670050"))
    send(CTL, GET1)
    for o in range(0, len(RESP1), 1360):
        send(BOT, RESP1[o:o + 1360])
    send(CTL, GET2)
    send(BOT, RESP2)
    send(BOT, flags=0x11)
    send(CTL, flags=0x11)
    send(BOT, flags=0x10)
    return [[1_800_000_000, 1000 * k, p] for k, p in enumerate(pkts)]


def run(args, d, name, lead):
    path = os.path.join(d, name)
    records.write_pcap(path, struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1),
                       capture(lead))
    p = records.run_capture(args.bin, args.check, path, "--no-huge", "--out", "stdout")
    recs = [records.parse(ln) for ln in p.stdout.splitlines() if ln]
    return recs, records.counters(p.stderr)


def main():
    args = records.built_capture_args()
    chk = records.Checks()
    want = chk.want
    with tempfile.TemporaryDirectory() as d:
        recs, c = run(args, d, "reverse-socks.pcap", bytes.fromhex("4e5a8d08874e"))
        over, c_over = run(args, d, "reverse-socks-long-lead.pcap", b"\x4e" * 17)

    sessions = [r for r in recs if r["msgid"] == "session"]
    want("sessions", len(sessions), 1)
    if sessions:
        fl = records.flow(sessions[0])
        want("session proto", fl.get("proto"), "socks")
        want("session client", (fl.get("src"), fl.get("sport")), ("10.77.0.1", str(BOT_PORT)))
        want("session client_basis", fl.get("client_basis"), "syn")
    for r in recs:
        fl = records.flow(r)
        want(f"{r['msgid']} record's client", (fl.get("src"), fl.get("dst")), ("10.77.0.1", "10.77.0.2"))
    socks = [records.element(r, "socks") for r in recs if r["msgid"] == "socks"]
    want("socks records", len(socks), 1)
    if socks:
        s = socks[0]
        want("socks", {k: s.get(k) for k in ("version", "command", "addr", "port", "status", "auth", "tunnel")},
             {"version": "5", "command": "connect", "addr": "74.125.131.103", "port": "80",
              "status": "succeeded", "auth": "none", "tunnel": "http"})
    http = [records.element(r, "http") for r in recs if r["msgid"] == "http"]
    want("http records", len(http), 2)
    if len(http) == 2:
        for h, uri, status in ((http[0], URI1, "200"), (http[1], URI2, "302")):
            want("http", {k: h.get(k) for k in ("method", "host", "uri", "user_agent", "status")},
                 {"method": "GET", "host": "www.google.com", "uri": uri.decode(),
                  "user_agent": UA.decode(), "status": status})
        want("referer", http[1].get("referer"), "http://www.google.com" + URI1.decode())
    for k, v in (("app_roles_reversed", 1), ("app_reversed", None), ("socks_server_lead", 1),
                 ("socks_handover_http", 1), ("app_violation", None)):
        want(f"counter {k}", c.get(k), v)

    # Past the bound: not SOCKS, nothing dissected.
    over_sessions = [records.flow(r) for r in over if r["msgid"] == "session"]
    want("long lead: session protos", [f.get("proto") for f in over_sessions], ["unknown"])
    want("long lead: transaction records", [r["msgid"] for r in over if r["msgid"] != "session"], [])
    want("long lead: app_roles_reversed", c_over.get("app_roles_reversed"), None)

    return chk.finish(f"reverse SOCKS: 1 socks and {len(http)} http records in the application's "
                      "roles, client kept; a 17-byte lead is not named")


if __name__ == "__main__":
    sys.exit(main())
