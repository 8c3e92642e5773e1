#!/usr/bin/env python3
"""--dissect-states end to end: a dissector's state pool that runs out is counted, named in
the summary with the setting to raise, and a NAME=N setting sizes only that dissector
(docs/usage.md "Memory", docs/counters.md app_dissect_exhausted).

The capture is built here: 40 HTTP/1.1 clients (10.78.0.1-40) each open a connection to
10.78.1.1:8080 and send a GET, all before the first response, so 40 HTTP flows are read at
once; then every server answers and both sides close.

Checked, on one worker:
  --dissect-states http=16   16 http records, 24 flows not dissected (app_dissect_exhausted,
                             the summary's "http dissector ran out" line with 16 per worker,
                             peak http 16/16); all 40 sessions still proto=http.
  --dissect-states 16,http=64  every flow dissected (the named size wins over the plain one),
                             peak http 40/64, no "ran out" line.
  --dissect-states 64        the plain form: the same as above for http.
  --dissect-states htp=64    refused: one line naming the dissectors, exit 2.
  live, replaying the capture without end with http=16: the stats line names the pool that
                             ran out (before the summary does); DPDK telemetry serves
                             /flowscribe/dissect_pools (http 16 slots, peak 16, refusals) and
                             /flowscribe/stats."""
import os
import re
import signal
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import records  # noqa: E402

CLIENTS = 40
SERVER = bytes([10, 78, 1, 1])
RESP = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


def capture():
    pkts = []
    t = [0]

    def send(src, dst, sp, dp, seq, ack, flags, payload=b""):
        t[0] += 1
        pkts.append([1_800_000_000, t[0], records.tcp_frame(src, dst, sp, dp, seq, ack, flags, payload)])

    clients = []
    for i in range(CLIENTS):
        c = bytes([10, 78, 0, 1 + i])
        get = (b"GET /item/%d HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: curl/7.88.1\r\n\r\n"
               % i)
        clients.append((c, 40000 + i, get))
    cs, ss = 1000, 9000
    for c, port, get in clients:
        send(c, SERVER, port, 8080, cs, 0, 0x02)
        send(SERVER, c, 8080, port, ss, cs + 1, 0x12)
        send(c, SERVER, port, 8080, cs + 1, ss + 1, 0x10)
        send(c, SERVER, port, 8080, cs + 1, ss + 1, 0x18, get)
    for c, port, get in clients:
        cseq = cs + 1 + len(get)
        send(SERVER, c, 8080, port, ss + 1, cseq, 0x18, RESP)
        send(c, SERVER, port, 8080, cseq, ss + 1 + len(RESP), 0x11)
        send(SERVER, c, 8080, port, ss + 1 + len(RESP), cseq + 1, 0x11)
        send(c, SERVER, port, 8080, cseq + 1, ss + 2 + len(RESP), 0x10)
    return pkts


def run(args, pcap, setting):
    p = records.run_capture(args.bin, args.check, pcap, "--no-huge", "--workers", "1", "--out",
                            "stdout", "--dissect-states", setting)
    recs = [records.parse(ln) for ln in p.stdout.splitlines() if ln]
    return recs, records.counters(p.stderr), p.stderr


def live(args):
    """A live run replaying the capture over and over (net_pcap, infinite_rx) with http=16
    and a stats line every 0.3 s. Returns whether a stats-line block named the http pool, and
    what DPDK telemetry served while it ran: /flowscribe/dissect_pools and /flowscribe/stats."""
    prefix = f"fs-dstates-{os.getpid()}"
    with tempfile.TemporaryDirectory() as d:
        pcap = os.path.join(d, "http-40-at-once.pcap")
        records.write_pcap(pcap, struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1),
                           capture())
        proc = subprocess.Popen([args.bin, "--port", f"net_pcap0,rx_pcap={pcap},infinite_rx=1",
                                 "--no-huge", "--mem", "512", "--workers", "1",
                                 "--flows-per-worker", "4096", "--stats-interval", "0.3",
                                 "--dissect-states", "http=16", "--file-prefix", prefix,
                                 "--out", "file:/dev/null"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(3)
            pools = records.telemetry(prefix, "/flowscribe/dissect_pools") or {}
            stats = records.telemetry(prefix, "/flowscribe/stats") or {}
        finally:
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
    # Before the summary: lines the stats loop wrote.
    before_summary = err.split("flowscribe: summary:")[0]
    ran_out = re.search(r"^flowscribe: the http dissector ran out of states: \d+ classified flows "
                        r"were not dissected; raise --dissect-states http=N \(now 16 per worker\)$",
                        before_summary, re.M) is not None
    return ran_out, pools, stats


def main():
    args = records.built_capture_args()
    chk = records.Checks()
    want = chk.want
    with tempfile.TemporaryDirectory() as d:
        pcap = os.path.join(d, "http-40-at-once.pcap")
        records.write_pcap(pcap, struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1),
                           capture())
        runs = {s: run(args, pcap, s) for s in ("http=16", "16,http=64", "64")}
        bad = subprocess.run([args.bin, "--pcap", pcap, "--no-huge", "--dissect-states", "htp=64"],
                             capture_output=True, text=True, timeout=60)

    for setting, (recs, c, err) in runs.items():
        sessions = [records.flow(r) for r in recs if r["msgid"] == "session"]
        want(f"{setting}: session protos", sorted({s.get("proto") for s in sessions}), ["http"])
        want(f"{setting}: sessions", len(sessions), CLIENTS)
        cut = 24 if setting == "http=16" else 0
        want(f"{setting}: http records", sum(r["msgid"] == "http" for r in recs), CLIENTS - cut)
        want(f"{setting}: app_dissect_exhausted", c.get("app_dissect_exhausted"), cut or None)
        size = 16 if setting == "http=16" else 64
        peak = re.search(r"^flowscribe: dissector states, most in use at once of each worker's "
                         r"pool: .*\bhttp (\d+)/(\d+)", err, re.M)
        want(f"{setting}: http peak/pool", peak and (int(peak[1]), int(peak[2])),
             (min(CLIENTS, size), size))
        ran_out = re.findall(r"^flowscribe: the (\w+) dissector ran out of states: (\d+) classified "
                             r"flows were not dissected; raise --dissect-states \1=N \(now (\d+) "
                             r"per worker\)$", err, re.M)
        want(f"{setting}: ran-out lines", ran_out, [("http", "24", "16")] if cut else [])

    # Live, replaying the capture without end: the stats line names the pool that ran out,
    # and telemetry serves the pools and the counters.
    ran_out, pools, stats = live(args)
    want("live: ran-out line on the stats line", ran_out, True)
    want("live: telemetry http pool and peak", (pools.get("http_states"), pools.get("http_peak")),
         (16, 16))
    want("live: telemetry dns pool (default)", pools.get("dns_states"), 8192)
    want("live: telemetry exhaustion counted", pools.get("http_exhausted", 0) > 0 and
         stats.get("app_dissect_exhausted", 0) >= pools.get("http_exhausted", 0), True)

    want("unknown name: exit", bad.returncode, 2)
    want("unknown name: one line", bad.stderr.strip().count("\n"), 0)
    if "no dissector is called 'htp'" not in bad.stderr or "http" not in bad.stderr:
        chk.fail(f"unknown name: message {bad.stderr.strip()!r}")
    return chk.finish(f"--dissect-states: {CLIENTS} HTTP flows at once; http=16 dissects 16 and "
                      "names the pool that ran out; NAME=N wins over N; an unknown name is one line")


if __name__ == "__main__":
    sys.exit(main())
