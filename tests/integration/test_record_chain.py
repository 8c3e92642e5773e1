#!/usr/bin/env python3
"""Records longer than one slot (emit/record.h, continuation slots), end to end through the
worker's record ring and the emitter: TLS handshakes whose certificate lists 150 DNS names in
its subjectAltName. Each x509 record must be one line with every name, none flagged
san_truncated, and the summary's accounting must hold: worker_records = emitter_records =
the output's records = lines, and every continuation slot the workers handed on read back
by the emitter (worker_record_continuations = emitter_continuations).

The capture is built here (Ethernet/IPv4/TCP, handshake, ClientHello, ServerHello +
Certificate + ServerHelloDone, FIN): enough flows, and a record ring of 64, that chains
cross the emitter's dequeue bursts and the workers wait on a full ring."""
import argparse
import os
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import records  # noqa: E402

FLOWS = 120
NAMES = [f"host{i}.wac.edgecastcdn.example" for i in range(150)]


def der(tag, v):
    n = len(v)
    if n < 128:
        ln = bytes([n])
    elif n < 256:
        ln = bytes([0x81, n])
    else:
        ln = bytes([0x82]) + struct.pack(">H", n)
    return bytes([tag]) + ln + v


def certificate(names):
    sha256_rsa = der(0x30, der(0x06, bytes.fromhex("2a864886f70d01010b")) + b"\x05\x00")
    rsa = der(0x30, der(0x06, bytes.fromhex("2a864886f70d010101")) + b"\x05\x00")
    name = der(0x30, der(0x31, der(0x30, der(0x06, b"\x55\x04\x03") + der(0x0C, b"many.test"))))
    validity = der(0x30, der(0x17, b"260101000000Z") + der(0x17, b"360101000000Z"))
    key = der(0x30, der(0x02, b"\x00" + b"\xc5" * 64) + der(0x02, b"\x01\x00\x01"))
    spki = der(0x30, rsa + der(0x03, b"\x00" + key))
    gn = b"".join(der(0x82, n.encode()) for n in names)
    san = der(0x30, der(0x06, b"\x55\x1d\x11") + der(0x04, der(0x30, gn)))
    tbs = der(0x30, der(0xA0, der(0x02, b"\x02")) + der(0x02, b"\x01\x23") + sha256_rsa + name +
              validity + name + spki + der(0xA3, der(0x30, san)))
    return der(0x30, tbs + sha256_rsa + der(0x03, b"\x00" + b"\x5a" * 64))


def u24(n):
    return struct.pack(">I", n)[1:]


def handshake(t, body):
    return bytes([t]) + u24(len(body)) + body


def tls_record(body):
    return b"\x16\x03\x01" + struct.pack(">H", len(body)) + body


def client_hello():
    body = b"\x03\x03" + bytes(range(32)) + b"\x00" + b"\x00\x02\x00\x2f" + b"\x01\x00"
    return tls_record(handshake(1, body))


def server_flight(cert):
    hello = handshake(2, b"\x03\x03" + bytes(range(32, 64)) + b"\x00" + b"\x00\x2f" + b"\x00")
    certs = u24(len(cert) + 3) + u24(len(cert)) + cert
    return tls_record(hello + handshake(11, certs) + handshake(14, b""))


frame = records.tcp_frame


def flow_packets(i, t0, hello, flight):
    c = bytes([10, 90, i // 250, 1 + i % 250])
    s = bytes([10, 91, 0, 1])
    cp, sp = 40000 + i, 443
    cs, ss = 1000, 5000
    pkts = [frame(c, s, cp, sp, cs, 0, 0x02), frame(s, c, sp, cp, ss, cs + 1, 0x12),
            frame(c, s, cp, sp, cs + 1, ss + 1, 0x10),
            frame(c, s, cp, sp, cs + 1, ss + 1, 0x18, hello)]
    cs += 1 + len(hello)
    seq = ss + 1
    for o in range(0, len(flight), 1400):
        part = flight[o:o + 1400]
        pkts.append(frame(s, c, sp, cp, seq, cs, 0x18, part))
        seq += len(part)
    pkts += [frame(c, s, cp, sp, cs, seq, 0x11), frame(s, c, sp, cp, seq, cs + 1, 0x11),
             frame(c, s, cp, sp, cs + 1, seq + 1, 0x10)]
    return [[t0 + i, 1000 * k, p] for k, p in enumerate(pkts)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--check", required=True)
    args = ap.parse_args()
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    hello, flight = client_hello(), server_flight(certificate(NAMES))
    pkts = []
    for i in range(FLOWS):
        pkts += flow_packets(i, 1_800_000_000, hello, flight)
    failures = []
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "many-san.pcap")
        records.write_pcap(path, header, pkts)
        p = records.run_capture(args.bin, args.check, path, "--no-huge", "--out", "stdout",
                                "--record-ring", "64")
    lines = [ln for ln in p.stdout.split("\n") if ln]
    c = records.counters(p.stderr)
    x509 = [records.parse(ln) for ln in lines if " x509 [" in ln]
    if len(x509) != FLOWS:
        failures.append(f"{len(x509)} x509 records, want {FLOWS}")
    for rec in x509:
        x = next(v for k, v in rec["sd"].items() if k.startswith("x509@"))
        got = ",".join(x.all.get("san_dns", [])).split(",")
        if got != NAMES or "san_truncated" in x or x.get("san_count") != "150":
            failures.append(f"x509 record: {len(got)} names (last {got[-1]!r}), san_count "
                            f"{x.get('san_count')}, san_truncated {x.get('san_truncated')}")
            break
    tls = [ln for ln in lines if " tls [" in ln]
    if len(tls) != FLOWS:
        failures.append(f"{len(tls)} tls records, want {FLOWS}")
    out_records = None
    for ln in p.stderr.splitlines():
        if ln.startswith("flowscribe: output ") and " records, " in ln:
            out_records = int(ln.split(": ", 2)[2].split()[0])
    if not (c.get("worker_records") == c.get("emitter_records") == out_records == len(lines)):
        failures.append(f"accounting: worker_records {c.get('worker_records')}, emitter_records "
                        f"{c.get('emitter_records')}, output records {out_records}, "
                        f"lines {len(lines)}")
    conts = c.get("worker_record_continuations", 0)
    if conts < FLOWS or conts != c.get("emitter_continuations"):
        failures.append(f"continuations: worker {conts}, emitter "
                        f"{c.get('emitter_continuations')} (want >= {FLOWS}, equal)")
    for name in ("worker_record_no_continuation", "worker_record_chain_abandoned",
                 "emit_ext_malformed", "emit_ext_line_cap", "tls_san_truncated"):
        if c.get(name, 0):
            failures.append(f"{name} = {c[name]}, want 0")
    print(f"{len(lines)} lines, {len(x509)} x509 records with {len(NAMES)} names each, "
          f"{conts} continuation slots, worker_record_waits {c.get('worker_record_waits', 0)}")
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
