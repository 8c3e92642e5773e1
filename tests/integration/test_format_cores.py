#!/usr/bin/env python3
"""--format-cores N: format cores take the formatting off the emitter (emit/format_core.h).
They must change nothing about what is written.

The capture: the protocol captures of tests/captures/proto and basic.pcap, multiplied 40
times with distinct addresses (tools/multiply_pcap): 3,440 records.

Checked:
- With 1, 2 and 3 workers and 0-3 format cores (JSON: 2 workers), to a file: the same lines
  (apart from PROCID and the run's session-id prefix, which differ per run), and every line
  passes the RFC 5424 checker. With one worker, in the same order too; with several, each
  session's records in the same order.
- Counters: emitter_records = worker_records; emitter_bytes = the bytes written (RFC 5424).
- JSON to a UDP collector and to a file at once: the datagrams carry the syslog header, the
  file the bare JSON (the header's length travels with each line).
- A collector that reads slowly, offline, with a 1 MiB output queue: the emitter stops taking
  batches, the format cores stop formatting, the worker waits; every record arrives, none is
  dropped.
- Bad values of the flags, and CPUs this process may not use: one line each, exit status 2."""
import argparse
import glob
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import records  # noqa: E402


def normalise(line):
    """A line without what differs between two runs: PROCID and the session ids' run prefix."""
    line = re.sub(r"^(<\d+>1 \S+ \S+ \S+) \d+ ", r"\1 P ", line)
    line = re.sub(r'"procid":"\d+"', '"procid":"P"', line)
    return re.sub(r'(sid"?[=:]")[0-9a-f]{8}', r"\1", line)


def sid_of(line):
    """The session id of a normalised line (worker and counter: the run prefix is gone)."""
    m = re.search(r'sid"?[=:]"([0-9a-f]+)"', line)
    return m.group(1) if m else None


def run(binary, pcap, out_path, *extra):
    if os.path.exists(out_path):
        os.unlink(out_path)  # file: outputs append
    p = subprocess.run([binary, "--pcap", pcap, "--sensor-name", "test-sensor", "--no-huge",
                        "--out", "file:" + out_path, *extra],
                       capture_output=True, text=True, timeout=300, errors="surrogateescape")
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(extra)}: flowscribe exit {p.returncode}: {p.stderr[-500:]}")
    with open(out_path, encoding="utf-8", errors="surrogateescape") as f:
        lines = f.read().splitlines()
    return lines, records.counters(p.stderr), p.stderr


def udp_collector():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 20)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.5)
    got = []

    def loop():
        idle = 0
        while idle < 20:
            try:
                got.append(s.recv(65536).decode("utf-8", "surrogateescape"))
                idle = 0
            except socket.timeout:
                idle += 1

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    return s.getsockname()[1], t, got


def slow_tcp_collector():
    """Reads 16 KiB then sleeps 10 ms for the first 3 seconds, then reads at full speed; LF
    framing. Returns (port, thread, lines)."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    got = []

    def loop():
        c, _ = srv.accept()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        start = time.monotonic()
        buf = b""
        while True:
            d = c.recv(16384)
            if not d:
                break
            buf += d
            *lines, buf = buf.split(b"\n")
            got.extend(lines)
            if time.monotonic() - start < 3:
                time.sleep(0.01)
        c.close()
        srv.close()

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    return srv.getsockname()[1], t, got


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--check", required=True)
    ap.add_argument("--multiply", required=True)
    ap.add_argument("--captures", required=True)
    args = ap.parse_args()
    chk = records.Checks()
    inputs = sorted(glob.glob(os.path.join(args.captures, "proto", "*.pcap")))
    inputs.append(os.path.join(args.captures, "basic.pcap"))
    with tempfile.TemporaryDirectory() as d:
        pcap = os.path.join(d, "mix.pcap")
        subprocess.run([args.multiply, "--copies", "40", "--out", pcap, *inputs], check=True,
                       capture_output=True)
        out = os.path.join(d, "out.log")
        n_lines = 0
        for fmt in ("rfc5424", "json"):
            for workers in ((1, 2, 3) if fmt == "rfc5424" else (2,)):
                base = None
                for fc in (0, 1, 2, 3):
                    if workers == 1 and fc == 3:
                        continue
                    what = f"{fmt}, {workers} worker(s), {fc} format core(s)"
                    lines, c, err = run(args.bin, pcap, out, "--format", fmt, "--workers",
                                        str(workers), "--format-cores", str(fc))
                    if fc and f"{fc} format core" not in err:
                        chk.fail(f"{what}: the banner does not name the format cores")
                    if fmt == "rfc5424":
                        cp = subprocess.run([args.check, out], capture_output=True, text=True)
                        if cp.returncode != 0:
                            chk.fail(f"{what}: records break RFC 5424: {cp.stdout[:300]}")
                    chk.want(f"{what}: emitter_records = worker_records",
                             c.get("emitter_records"), c.get("worker_records"))
                    # Counted where the formatting happens; JSON to a file drops the header.
                    if fmt == "rfc5424":
                        chk.want(f"{what}: emitter_bytes = bytes written",
                                 c.get("emitter_bytes"),
                                 sum(len(x.encode("utf-8", "surrogateescape")) + 1 for x in lines))
                    norm = [normalise(x) for x in lines]
                    if base is None:
                        base = (norm, c)
                        n_lines = max(n_lines, len(norm))
                        if len(norm) < 3000:
                            chk.fail(f"{what}: only {len(norm)} records")
                        continue
                    if sorted(norm) != sorted(base[0]):
                        chk.fail(f"{what}: the lines differ from those without format cores "
                                 f"({len(norm)} against {len(base[0])})")
                    elif workers == 1 and norm != base[0]:
                        chk.fail(f"{what}: one worker, yet the order changed")
                    elif workers > 1:
                        per_sid = {}
                        for x in base[0]:
                            per_sid.setdefault(sid_of(x), []).append(x)
                        mine = {}
                        for x in norm:
                            mine.setdefault(sid_of(x), []).append(x)
                        if mine != per_sid:
                            chk.fail(f"{what}: a session's records changed order")

        # JSON to a UDP collector and a file at once.
        port, t, got = udp_collector()
        lines, c, _ = run(args.bin, pcap, out, "--format", "json", "--workers", "2",
                          "--format-cores", "2", "--out", f"udp://127.0.0.1:{port}")
        t.join()
        chk.want("udp: datagrams", len(got), len(lines))
        if got and not all(g.startswith("<") and " - {" in g for g in got):
            chk.fail(f"udp: a datagram without its syslog header: {next(g for g in got if not g.startswith('<'))[:120]!r}")
        if lines and not all(x.startswith("{") for x in lines):
            chk.fail("file: a JSON line with a syslog header")
        if got and lines:
            bodies = sorted(normalise(g[g.index(" - {") + 3:].rstrip("\n")) for g in got)
            chk.want("udp and file: the same JSON", bodies == sorted(normalise(x) for x in lines),
                     True)

        # A slow collector: nothing lost offline.
        port, t, got = slow_tcp_collector()
        lines, c, err = run(args.bin, pcap, out, "--workers", "2", "--format-cores", "2",
                            "--out-queue-mb", "1", "--tcp-framing", "lf",
                            "--out", f"tcp://127.0.0.1:{port}")
        t.join(timeout=120)
        chk.want("slow collector: records received", len(got), c.get("worker_records"))
        chk.want("slow collector: output_dropped", c.get("output_dropped", 0), 0)
        if "waiting for it" not in err:
            chk.fail("slow collector: the output queue never filled (the test did not test)")

        # Bad values.
        # A CPU outside the process's affinity is our one line, not DPDK's usage text.
        for flag, bad in (("--format-cores", "65"), ("--format-cores", "-1"),
                          ("--format-cores", "two"), ("--format-lcores", "x"),
                          ("--format-lcores", "4000"), ("--lcores", "4000"),
                          ("--emitter-core", "4000"), ("--main-core", "4000")):
            p = subprocess.run([args.bin, "--pcap", pcap, "--no-huge", flag, bad],
                               capture_output=True, text=True, timeout=60)
            err = p.stderr.strip()
            if p.returncode != 2 or flag not in err or "\n" in err:
                chk.fail(f"{flag} {bad}: exit {p.returncode}, {err[:200]!r}")
        p = subprocess.run([args.bin, "--pcap", pcap, "--no-huge", "--format-cores", "2",
                            "--format-lcores", "0", "--out", "file:/dev/null"],
                           capture_output=True, text=True, timeout=60)
        if p.returncode != 2 or "disagrees" not in p.stderr:
            chk.fail(f"--format-cores 2 --format-lcores 0: exit {p.returncode}, {p.stderr[:200]!r}")
    return chk.finish(f"format cores: {n_lines} records the same with 0-3 format cores, 1-3 "
                      "workers, RFC 5424 and JSON; UDP + file; a slow collector lost nothing")


if __name__ == "__main__":
    sys.exit(main())
