#!/usr/bin/env python3
"""Integration tests: the real flowscribe binary on captures of real traffic.

usage: test_offline.py --bin FLOWSCRIBE --check RFC5424_CHECK --captures DIR CASE
Each CASE is one meson test. Every record any case produces is checked against the RFC 5424
grammar with rfc5424_check.
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import records  # noqa: E402

ARGS = None
TRANSPORT = {"icmp6": "ipv6-icmp"}


def run(args, timeout=120, check_rc=None):
    p = subprocess.run([ARGS.bin] + args, capture_output=True, text=True, timeout=timeout,
                       errors="surrogateescape")
    if check_rc is not None and p.returncode != check_rc:
        raise AssertionError(f"flowscribe {' '.join(args)}: exit {p.returncode}, expected "
                             f"{check_rc}\nstderr:\n{p.stderr}")
    return p


def check_grammar(text):
    with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False, errors="surrogateescape") as f:
        f.write(text)
        name = f.name
    try:
        p = subprocess.run([ARGS.check, name], capture_output=True, text=True)
        assert p.returncode == 0, f"records break RFC 5424:\n{p.stdout}{p.stderr}"
    finally:
        os.unlink(name)


def sessions(stdout):
    out = []
    for line in stdout.splitlines():
        r = records.parse(line)
        if r["msgid"] == "session":
            out.append(r)
    return out


def expected_flows(name):
    rows = []
    with open(os.path.join(ARGS.captures, "expected", name + ".flows")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            t, cip, cp, sip, sp, pc, bc, ps, bs, vlan = line.split()
            rows.append((TRANSPORT.get(t, t), cip, int(cp), sip, int(sp), int(pc), int(bc),
                         int(ps), int(bs), vlan))
    return rows


def got_flows(recs):
    rows = []
    for r in recs:
        f = records.flow(r)
        vlan = f.get("vlan", "-")
        rows.append((f["transport"], f["src"], int(f["sport"]), f["dst"], int(f["dport"]),
                     int(f["pkts_c2s"]), int(f["bytes_c2s"]), int(f["pkts_s2c"]),
                     int(f["bytes_s2c"]), vlan))
    return rows


def assert_same_flows(name, got, vlan_outer_only=True):
    exp = expected_flows(name)
    if vlan_outer_only:
        exp = [e[:9] + (e[9].split(".")[0],) for e in exp]
    missing = sorted(set(exp) - set(got))
    extra = sorted(set(got) - set(exp))
    assert not missing and not extra and len(got) == len(exp), (
        f"{name}: flows differ from the ground truth\n missing: {missing}\n unexpected: {extra}")


def offline(capture, *extra, rc=0):
    p = run(["--pcap", os.path.join(ARGS.captures, capture), "--sensor-name", "test-sensor",
             *extra], check_rc=rc)
    check_grammar(p.stdout)
    return p


# ---------------------------------------------------------------- cases

def case_basic():
    p = offline("basic.pcap")
    recs = sessions(p.stdout)
    assert_same_flows("basic.pcap", got_flows(recs))
    sids = [records.flow(r)["sid"] for r in recs]
    assert len(set(sids)) == len(sids), "sids are not unique"
    for r in recs:
        f = records.flow(r)
        assert r["hostname"] == "test-sensor"
        assert r["app"] == "flowscribe"
        assert r["pri"] == 16 * 8 + 6
        want = {"80": "http", "8081": "http", "53": "dns"}.get(f["dport"], "unknown")
        if f["transport"] not in ("tcp", "udp"):
            want = "unknown"
        assert f["proto"] == want, (f["proto"], want, f)
        assert f["end_reason"] == "shutdown" or f["transport"] == "tcp"
        assert r["timestamp"].endswith("Z") and len(r["timestamp"]) == 27, r["timestamp"]
    reasons = {records.flow(r)["end_reason"] for r in recs if records.flow(r)["transport"] == "tcp"}
    assert "fin" in reasons and "rst" in reasons, reasons
    assert "summary:" in p.stderr and "drops: 0" in p.stderr, p.stderr
    # The memory line sizes an appliance: the flow table costs at most 128 bytes a flow
    # (issue 6) and follows --flows-per-worker; the total counts every worker.
    def memory(err):
        m = re.search(r"memory per worker: flow table ([0-9.]+) MiB \(([0-9]+) flows, ([0-9.]+) B "
                      r"each\), app and dissector state ([0-9.]+) MiB, record pool ([0-9.]+) MiB, "
                      r"IP reassembly ([0-9.]+) MiB; ([0-9.]+) MiB for ([0-9]+) workers?\n", err)
        assert m, err
        return [float(x) for x in m.groups()]
    table, flows, each, app, recs, reasm, total, n = memory(p.stderr)
    assert flows == 262144 and each <= 128 and n == 1, p.stderr
    assert abs(total - (table + app + recs + reasm)) < 0.2, p.stderr
    big = memory(offline("basic.pcap", "--flows-per-worker", "1000000", "--workers", "2").stderr)
    assert big[1] == 1000000 and big[2] <= 128 and big[7] == 2, big
    assert abs(big[6] - 2 * sum(big[0:1] + big[3:6])) < 0.2, big


def _same_as_basic(capture, expect_name):
    p = offline(capture)
    assert_same_flows(expect_name, got_flows(sessions(p.stdout)))


def case_pcapng():
    _same_as_basic("basic.pcapng", "basic.pcapng")


def case_nanosecond():
    _same_as_basic("basic-ns.pcap", "basic-ns.pcap")


def case_null():
    _same_as_basic("null.pcap", "null.pcap")


def case_loop():
    _same_as_basic("loop.pcap", "loop.pcap")


def case_raw():
    _same_as_basic("raw.pcap", "raw.pcap")
    _same_as_basic("basic-raw.pcap", "basic-raw.pcap")


def case_sll():
    _same_as_basic("sll.pcap", "sll.pcap")
    _same_as_basic("sll2.pcap", "sll2.pcap")


def case_vlan():
    p = offline("vlan.pcap")
    got = got_flows(sessions(p.stdout))
    assert_same_flows("vlan.pcap", got)
    assert all(g[9] != "-" for g in got if g[0] in ("tcp", "udp")), got


def case_qinq():
    p = offline("qinq.pcap")
    assert_same_flows("qinq.pcap", got_flows(sessions(p.stdout)))


def case_fragments():
    p = offline("fragments.pcap")
    assert_same_flows("fragments.pcap", got_flows(sessions(p.stdout)))
    assert "decode_ipv4_frag_later" in p.stderr, p.stderr


def _pcap_times(path):
    """First and last packet times of a classic little-endian µs pcap, as RFC 3339 strings."""
    import struct
    with open(path, "rb") as f:
        buf = f.read()
    assert struct.unpack_from("<I", buf)[0] == 0xA1B2C3D4
    off, times = 24, []
    while off + 16 <= len(buf):
        sec, usec, caplen, _ = struct.unpack_from("<IIII", buf, off)
        times.append(time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{usec:06d}Z")
        off += 16 + caplen
    return times


def case_timestamps():
    """Record times are the capture's packet times (to the microsecond), not the wall clock."""
    p = offline("basic.pcap")
    times = set(_pcap_times(os.path.join(ARGS.captures, "basic.pcap")))
    for r in sessions(p.stdout):
        f = records.flow(r)
        assert f["start"] <= f["end"], f
        assert r["timestamp"] == f["end"], (r["timestamp"], f["end"])
        assert f["start"] in times and f["end"] in times, (f["start"], f["end"])


def case_workers_dispatcher():
    """Two workers behind the software dispatcher see the same sessions as one."""
    p = offline("basic.pcap", "--workers", "2")
    assert "dispatcher" in p.stderr, p.stderr
    assert_same_flows("basic.pcap", got_flows(sessions(p.stdout)))


def case_one_worker_dispatcher():
    """--dispatcher is honoured with one worker (the port reads move to the dispatcher core);
    the records are the same as without it."""
    plain = offline("basic.pcap")
    p = offline("basic.pcap", "--dispatcher")
    assert "1 worker behind a software dispatcher" in p.stderr, p.stderr
    assert_same_flows("basic.pcap", got_flows(sessions(p.stdout)))
    # The pid and the sid's per-run prefix differ between runs; nothing else may.
    strip = lambda out: [re.sub(r'sid="[0-9a-f]{8}', 'sid="', re.sub(r' flowscribe \d+ ', ' flowscribe - ', line))
                         for line in out.splitlines()]
    assert strip(p.stdout) == strip(plain.stdout), "records differ with --dispatcher"


def case_file_output():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "records.log")
        p = offline("basic.pcap", "--out", f"file:{path}", "--out", "stdout")
        with open(path) as f:
            text = f.read()
        assert text == p.stdout and text, "file and stdout outputs differ"


def case_truncated():
    p = offline("truncated.pcap", rc=1)
    assert "damaged" in p.stderr and "offset" in p.stderr, p.stderr
    assert_same_flows("truncated.pcap", got_flows(sessions(p.stdout)))


def case_corrupt():
    p = offline("corrupt.pcap", rc=1)
    assert "damaged" in p.stderr, p.stderr


def _one_line_error(p, *words):
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{p.stderr}"
    assert lines[0].startswith("flowscribe: "), lines
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert p.stdout == "", p.stdout
    assert "EAL" not in p.stderr, p.stderr


def case_bad_inputs():
    _one_line_error(run(["--pcap", os.path.join(ARGS.captures, "notapcap.pcap")], check_rc=2),
                    "not a pcap")
    _one_line_error(run(["--pcap", "/nonexistent/x.pcap"], check_rc=2), "cannot open")
    _one_line_error(run(["--pcap", "/"], check_rc=2))
    _one_line_error(run(["--workers", "abc", "--pcap", "x"], check_rc=2), "--workers")
    _one_line_error(run(["--bogus"], check_rc=2), "unknown flag --bogus")
    _one_line_error(run([], check_rc=2), "nothing to capture")
    _one_line_error(run(["--pcap"], check_rc=2), "needs a value")
    _one_line_error(run(["--tcp-idle", "-5", "--pcap", "x"], check_rc=2), "--tcp-idle")
    _one_line_error(run(["--home-net", "10.0.0.0/33", "--pcap", "x"], check_rc=2), "--home-net")
    _one_line_error(run(["--pcap", os.path.join(ARGS.captures, "basic.pcap"), "--out",
                         "file:/nonexistent/dir/x.log"], check_rc=2), "--out")
    _one_line_error(run(["--pcap", os.path.join(ARGS.captures, "basic.pcap"), "--out",
                         "udp://127.0.0.1:99999"], check_rc=2), "--out")
    _one_line_error(run(["--port", "0000:99:00.0", "--no-huge", "--mem", "256"], check_rc=2),
                    "not found")


def case_hugepages():
    """Asking for hugepages on a machine without them is one clear line, not an EAL dump."""
    free = 0
    base = "/sys/kernel/mm/hugepages"
    if os.path.isdir(base):
        for d in os.listdir(base):
            try:
                with open(os.path.join(base, d, "free_hugepages")) as f:
                    free += int(f.read())
            except OSError:
                pass
    if free:
        print("SKIP: this machine has free hugepages")
        sys.exit(77)
    _one_line_error(run(["--pcap", os.path.join(ARGS.captures, "basic.pcap"), "--hugepages"],
                        check_rc=2), "hugepages")


def case_help():
    p = run(["--help"], check_rc=0)
    docs = os.path.join(os.path.dirname(ARGS.captures), "..", "docs", "usage.md")
    flags = []
    for line in open(docs):
        if line.startswith("| `--"):
            flags.append(line.split("`")[1].split()[0])
    assert len(flags) > 20, flags
    for fl in flags:
        assert fl in p.stdout, f"{fl} is documented in docs/usage.md but not in --help"
    for line in p.stdout.splitlines():
        if line.startswith("  --"):
            assert line.split()[0] in flags, f"{line.split()[0]} is in --help but not docs/usage.md"


def case_home_net():
    p = offline("basic.pcap", "--home-net", "10.77.0.2/32,fd77::2/128")
    seen = {records.flow(r).get("locality") for r in sessions(p.stdout)}
    assert "inbound" in seen, seen


def case_signal_live():
    """Live mode on a replaying vdev: SIGINT stops it cleanly with every flow flushed."""
    cap = os.path.join(ARGS.captures, "basic.pcap")
    proc = subprocess.Popen([ARGS.bin, "--port", f"net_pcap0,rx_pcap={cap},infinite_rx=1",
                             "--no-huge", "--mem", "512", "--workers", "1",
                             "--stats-interval", "0.5", "--flows-per-worker", "4096"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, (proc.returncode, err)
    assert "pps" in err and "imissed" in err, "no stats line:\n" + err
    assert "summary:" in err and "stopped by signal" in err, err
    recs = sessions(out)
    assert recs, "no records flushed at shutdown"
    assert any(records.flow(r)["end_reason"] == "shutdown" for r in recs)
    check_grammar(out)


def case_runtime_dir():
    """No run leaves DPDK runtime files behind (they were ~6 MB a run and filled a disk), and a
    second instance on a prefix in use is refused with one line."""
    prefix = f"fs-rtdir-{os.getpid()}"
    rtdir = records.dpdk_runtime_dir(prefix)
    # What a flowscribe killed by SIGKILL leaves (default prefix, dead pid): swept at start.
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = records.dpdk_runtime_dir(f"flowscribe-{dead.pid}")
    os.makedirs(stale, exist_ok=True)
    open(os.path.join(stale, "dpdk_telemetry.v2"), "w").close()
    offline("basic.pcap", "--file-prefix", prefix)
    assert not os.path.exists(rtdir), f"{rtdir} left after a normal run: {os.listdir(rtdir)}"
    assert not os.path.exists(stale), f"{stale} of a dead process not swept"
    # EAL itself fails (bad EAL argument): still nothing left.
    p = run(["--pcap", os.path.join(ARGS.captures, "basic.pcap"), "--file-prefix", prefix,
             "--eal", "--no-such-eal-flag"], check_rc=2)
    assert "DPDK could not start" in p.stderr, p.stderr
    assert not os.path.exists(rtdir), f"{rtdir} left after an EAL failure"
    # A live instance holds the prefix: a second one is refused; two signals end the first
    # without flushing, and that hurried exit removes the runtime directory too.
    cap = os.path.join(ARGS.captures, "basic.pcap")
    proc = subprocess.Popen([ARGS.bin, "--port", f"net_pcap0,rx_pcap={cap},infinite_rx=1",
                             "--no-huge", "--mem", "512", "--stats-interval", "0.2",
                             "--file-prefix", prefix, "--flows-per-worker", "4096"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 30
        while not os.path.exists(os.path.join(rtdir, "dpdk_telemetry.v2")):
            assert time.time() < deadline and proc.poll() is None, "first instance did not start"
            time.sleep(0.1)
        _one_line_error(run(["--port", "net_null0", "--no-huge", "--mem", "256",
                             "--file-prefix", prefix], check_rc=2), "--file-prefix", prefix)
        proc.send_signal(signal.SIGINT)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode in (0, 1), (proc.returncode, err)
    assert not os.path.exists(rtdir), f"{rtdir} left after a signalled exit: {os.listdir(rtdir)}"


def case_active_timeout():
    """Long sessions produce session-update records at the active timeout."""
    p = offline("basic.pcap", "--active-timeout", "1")
    updates = [records.parse(l) for l in p.stdout.splitlines()
               if records.parse(l)["msgid"] == "session-update"]
    first = sessions(p.stdout)
    span = {}
    for r in first:
        f = records.flow(r)
        span[f["sid"]] = float(f["duration"])
    long_sids = {s for s, d in span.items() if d > 1.0}
    got = {records.flow(u)["sid"] for u in updates}
    assert long_sids <= got, (long_sids, got)


# Frames of public captures (Arkime's test suite; only these few frames are kept here, as
# the unit fixtures of tests/unit/decode_test.cpp are): link type, then (seconds, hex) each.
LINK_FRAMES = {
    # 6-4-gre-ppp-udp-4-dns.pcap, Ethernet: VLAN 100, IPv6, IPv4, PPTP GRE, PPP, IPv4 UDP DNS.
    "pptp": (1, [
        (1417577703,
         "c500000082c400121ef2613d8100006486dd60000000008b04f62402f00000018e01000000000000555526"
         "07fcd00100230000000000b1082a6b4500008b8caf0000402f75fe100000c8c034a69a3081880b006717"
         "8000068fb100083a76ff03002145000063000040003c115667ac102c03080808089f400035004f2d23a6"
         "2c01000001000000000000357871742d6465746563742d6d6f6465322d39373731326538382d31363761"
         "2d343562392d393365652d39313331343065373636373800001c0001"),
        (1417577704,
         "0c010000613d001906e682c48100006486dd6000000000d204392607fcd00100230000000000b1082a6b24"
         "02f00000018e010000000000005555450000d286d74000402f3b8fc034a69a100000c83001880b00b200"
         "1100083ab8ff030021450000ae0306000032119d1608080808ac102c0300359f40009abbdaa62c818300"
         "01000000010000357871742d6465746563742d6d6f6465322d39373731326538382d313637612d343562"
         "392d393365652d39313331343065373636373800001c00010000060001000002f5004001610c726f6f74"
         "2d73657276657273036e657400056e73746c640c766572697369676e2d67727303636f6d00780d090900"
         "0007080000038400093a8000015180"),
    ]),
    # nflog.pcap, NFLOG: a TCP SYN and its SYN-ACK.
    "nflog": (239, [
        (1489603870,
         "02000028080001000000031605000a0000000000080005000000000208000b000000064c08000e000000"
         "0402400009004500003cc8fe40004006b6aa0a0a0a0a342be49cd3300050f1ea5c7f00000000a0023908"
         "fc4d0000020405b40402080aa12a94810000000001030307"),
        (1489603870,
         "02000028080001000800012805000a000000000008000400000000021000080000063828cce17f8264c1"
         "e88906000f000001000006001100000e000012001000001372c4f1e1cce17f8264c10800000014000300"
         "0000000058c98d1e000000000000b710400009004500003c00004000e206dda8342be49c0a0a0a0a0050"
         "d33030f94356f1ea5c80a01268dfc3940000020405b40402080a204a7436a12a948101030308"),
    ]),
    # 80211http.pcap, 802.11 + radiotap (FCS at the end): a TCP SYN and its SYN-ACK.
    "wlan": (127, [
        (1523241953,
         "000024002f4000a0200800000000000028eb68280000000010169e09a000ba000000ba00080102018825"
         "93406b6ff8a9d01e90a3882593406b6f20b7aaaa0300000008004500003cf931400040066130ac050571"
         "0e1120d3c109005096740dd600000000a002ffff0d1b0000020405b40402080afffff4e7000000000103"
         "030638ac82fa"),
        (1523241953,
         "000024002f4000a0200800000000000089ef68280000000010169e09a000e7000000e7000802d500f8a9"
         "d01e90a3882593406b6f882593406b6f003eaaaa0300000008004500003c0000400040065a620e1120d3"
         "ac0505710050c1095bc513de96740dd7a0127120b88b0000020405b40402080ab037c381fffff4e70103"
         "0307c6bffb04"),
    ]),
}


def _write_pcap(path, linktype, frames):
    import struct
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype))
        for i, (sec, hexbytes) in enumerate(frames):
            data = bytes.fromhex(hexbytes)
            f.write(struct.pack("<IIII", sec, 1000 * (i + 1), len(data), len(data)))
            f.write(data)


def case_links():
    """PPTP, NFLOG and 802.11 radiotap frames reach the decoder and make one flow each."""
    want = {
        "pptp": ("udp", "172.16.44.3", 40768, "8.8.8.8", 53, 1, 99, 1, 174, "100"),
        "nflog": ("tcp", "10.10.10.10", 54064, "52.43.228.156", 80, 1, 60, 1, 60, "-"),
        "wlan": ("tcp", "172.5.5.113", 49417, "14.17.32.211", 80, 1, 60, 1, 60, "-"),
    }
    with tempfile.TemporaryDirectory() as d:
        for name, (linktype, frames) in LINK_FRAMES.items():
            path = os.path.join(d, name + ".pcap")
            _write_pcap(path, linktype, frames)
            p = run(["--pcap", path], check_rc=0)
            check_grammar(p.stdout)
            got = got_flows(sessions(p.stdout))
            assert got == [want[name]], (name, got, p.stderr)
            if name == "pptp":
                dns = [records.parse(l) for l in p.stdout.splitlines()
                       if records.parse(l)["msgid"] == "dns"]
                assert len(dns) == 1, p.stdout
        # A link type that is still not decoded (LINKTYPE_USER0) is refused with one line.
        path = os.path.join(d, "user0.pcap")
        _write_pcap(path, 147, LINK_FRAMES["nflog"][1])
        _one_line_error(run(["--pcap", path], check_rc=2), "link type 147")


def _jumbo_http_pcap(path):
    """A big-endian nanosecond pcap (so our reader swaps and keeps nanoseconds) of one HTTP
    exchange in jumbo frames: an 8,000-byte POST body in one 8,1xx-byte frame and a
    20,000-byte response in two 10,000-byte segments, each longer than an mbuf."""
    import struct

    def frame(src, dst, sport, dport, seq, ack, flags, payload):
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 1, 0, 64, 6, 0,
                         bytes(map(int, src.split("."))), bytes(map(int, dst.split("."))))
        return b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + ip + tcp + payload

    c, sv = "10.9.0.1", "10.9.0.2"
    body = b"x" * 8000
    req = (b"POST /upload/big.bin HTTP/1.1\r\nHost: jumbo.example\r\nContent-Length: 8000\r\n\r\n"
           + body)
    resp_body = bytes(range(256)) * 78 + b"y" * 32  # 20,000 bytes
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 20000\r\nContent-Type: application/x-test\r\n\r\n"
    r1 = resp + resp_body[:10000 - len(resp)]
    r2 = resp_body[10000 - len(resp):]
    S, A, PA, FA = 0x02, 0x10, 0x18, 0x11
    cs, ss = 1000, 5000
    pkts = [
        (c, sv, 40000, 80, cs, 0, S, b""),
        (sv, c, 80, 40000, ss, cs + 1, S | A, b""),
        (c, sv, 40000, 80, cs + 1, ss + 1, A, b""),
        (c, sv, 40000, 80, cs + 1, ss + 1, PA, req),
        (sv, c, 80, 40000, ss + 1, cs + 1 + len(req), PA, r1),
        (sv, c, 80, 40000, ss + 1 + len(r1), cs + 1 + len(req), PA, r2),
        (c, sv, 40000, 80, cs + 1 + len(req), ss + 1 + len(r1) + len(r2), FA, b""),
        (sv, c, 80, 40000, ss + 1 + len(r1) + len(r2), cs + 2 + len(req), FA, b""),
        (c, sv, 40000, 80, cs + 2 + len(req), ss + 2 + len(r1) + len(r2), A, b""),
    ]
    with open(path, "wb") as f:
        f.write(struct.pack(">IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 0, 1))
        for i, pk in enumerate(pkts):
            data = frame(*pk)
            f.write(struct.pack(">IIII", 1760000000, 123456789 + 1001 * i, len(data), len(data)))
            f.write(data)


def _pcapng(recs, endian="<", sections=1):
    """Classic little-endian microsecond records (16-byte header + frame each) as a pcapng
    file in `endian` byte order: per section two interfaces (nanosecond and microsecond
    if_tsresol, the latter with an if_tsoffset of 1 s taken back from the times), a name
    resolution block and a comment block that readers skip, and enhanced packet blocks
    alternating between the interfaces. Sections split the records evenly."""
    import struct
    e = endian

    def blk(t, body):
        body += b"\0" * (-len(body) % 4)
        return struct.pack(e + "II", t, 12 + len(body)) + body + struct.pack(e + "I", 12 + len(body))

    def opt(code, val):
        return struct.pack(e + "HH", code, len(val)) + val + b"\0" * (-len(val) % 4)

    shb = blk(0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1) + opt(4, b"flowscribe test"))
    idbs = (blk(1, struct.pack(e + "HHI", 1, 0, 262144) + opt(9, b"\x09") + opt(0, b"")) +
            blk(1, struct.pack(e + "HHI", 1, 0, 262144) + opt(9, b"\x06") +
                opt(14, struct.pack(e + "q", 1)) + opt(0, b"")))
    extra = blk(4, struct.pack(e + "HH", 0, 0)) + blk(0x40000BAD, b"\x00\x00\x7f\x4b" + b"note")
    out, per = [], -(-len(recs) // sections)
    for k in range(sections):
        out += [shb, idbs, extra]
        for i, r in enumerate(recs[k * per:(k + 1) * per]):
            sec, usec, caplen, wire = struct.unpack_from("<IIII", r)
            data = r[16:16 + caplen]
            if i % 2 == 0:
                t = sec * 1_000_000_000 + usec * 1000
            else:
                t = (sec - 1) * 1_000_000 + usec
            out.append(blk(6, struct.pack(e + "IIIII", i % 2, t >> 32, t & 0xFFFFFFFF, caplen, wire) + data))
    return b"".join(out)


def _classic_records(path):
    """The records (16-byte header + frame) of a little-endian classic pcap, and its header."""
    import struct
    with open(path, "rb") as f:
        whole = f.read()
    off, recs = 24, []
    while off + 16 <= len(whole):
        caplen = struct.unpack_from("<I", whole, off + 8)[0]
        recs.append(whole[off:off + 16 + caplen])
        off += 16 + caplen
    return whole[:24], recs


def case_pcap_readers():
    """--pcap reads a classic pcap file itself; --pcap-reader net_pcap goes through DPDK's
    net_pcap. Both give the same records and counters, on captures that take each path of the
    reader (jumbo frames in mbuf chains, swapped byte order, nanoseconds, damage, pcapng). A
    pcapng file in both byte orders, with two sections, two interfaces of different time
    resolutions and offsets, and blocks to skip, gives basic.pcap's records."""
    def norm(p):
        out = [re.sub(r'sid="[0-9a-f]{8}', 'sid="', re.sub(r' flowscribe \d+ ', ' flowscribe - ', line))
               for line in p.stdout.splitlines()]
        # Each line carries the PID as its PROCID, so the byte counters move with the PID's
        # width (PIDs wrap at pid_max: one run may get 31990, the next 301): counted without it.
        pids = re.findall(r" flowscribe (\d+) ", p.stdout)
        pid_bytes = sum(len(x) for x in pids)

        def unpid(line):
            m = re.match(r"(flowscribe:\s+(?:emitter_bytes|output_bytes)\s+)(\d+)(\s.*)", line)
            return f"{m.group(1)}{int(m.group(2)) - pid_bytes}{m.group(3)}" if m else line
        err = [unpid(re.sub(r" in [0-9.]+ s \([^)]*\)", "", line)) for line in p.stderr.splitlines()
               if not line.startswith("flowscribe 0")]
        return out, err

    with tempfile.TemporaryDirectory() as d:
        jumbo = os.path.join(d, "jumbo.pcap")
        _jumbo_http_pcap(jumbo)
        cases = [(jumbo, 0)] + [(os.path.join(ARGS.captures, n), rc) for n, rc in
                                (("basic.pcap", 0), ("basic-ns.pcap", 0), ("fragments.pcap", 0),
                                 ("basic.pcapng", 0),
                                 ("vlan.pcap", 0), ("truncated.pcap", 1), ("corrupt.pcap", 1),
                                 # repeated certificates: the cache's counters must repeat too
                                 ("dissect/starttls/starttls.pcap", 0), ("bench/web.pcap", 0))]
        for cap, rc in cases:
            ours = run(["--pcap", cap, "--sensor-name", "t"], check_rc=rc)
            theirs = run(["--pcap", cap, "--sensor-name", "t", "--pcap-reader", "net_pcap"],
                         check_rc=rc)
            assert "net_pcap" not in ours.stderr.splitlines()[0], ours.stderr
            check_grammar(ours.stdout)
            a, b = norm(ours), norm(theirs)
            assert a[0] == b[0], f"{cap}: records differ between the readers"
            assert a[1] == b[1], f"{cap}: summaries differ:\n" + "\n".join(a[1]) + "\n--\n" + "\n".join(b[1])
            assert a[0] or cap.endswith("corrupt.pcap"), cap
        # The jumbo frames arrived whole: the HTTP sizes count every byte of each chain.
        ours = run(["--pcap", jumbo], check_rc=0)
        http = [records.parse(l) for l in ours.stdout.splitlines() if records.parse(l)["msgid"] == "http"]
        assert len(http) == 1, ours.stdout
        h = records.element(http[0], "http")
        assert (h["method"], h["host"], h["req_body_len"], h["status"], h["resp_body_len"]) == (
            "POST", "jumbo.example", "8000", "200", "20000"), h
        # 28,152 payload bytes in nine 54-byte headers.
        assert "summary: 9 packets, 28638 bytes" in ours.stderr, ours.stderr
        assert re.search(r"stream_bytes_delivered +28152 ", ours.stderr), ours.stderr
    ng = run(["--pcap", os.path.join(ARGS.captures, "basic.pcapng")], check_rc=0)
    assert "net_pcap" not in ng.stderr.splitlines()[0], ng.stderr
    assert_same_flows("basic.pcapng", got_flows(sessions(ng.stdout)))
    strip = lambda out: [re.sub(r'sid="[0-9a-f]{8}', 'sid="', re.sub(r' flowscribe \d+ ', ' flowscribe - ', line))
                         for line in out.splitlines()]
    want = strip(offline("basic.pcap").stdout)
    _, recs = _classic_records(os.path.join(ARGS.captures, "basic.pcap"))
    with tempfile.TemporaryDirectory() as d:
        for endian in ("<", ">"):
            path = os.path.join(d, "two-sections.pcapng")
            with open(path, "wb") as f:
                f.write(_pcapng(recs, endian, sections=2))
            p = run(["--pcap", path, "--sensor-name", "test-sensor"], check_rc=0)
            assert strip(p.stdout) == want, f"pcapng ({endian}): records differ from basic.pcap"
        # The largest frame a pcapng block can hold (16 MiB, under a snapshot length of
        # INT_MAX, which libpcap accepts) arrives as one mbuf chain, with the smallest rings.
        import struct
        def blk(t, body):
            return struct.pack("<II", t, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))
        frame = b"\x00" * 12 + b"\x08\x00" + b"\x45" + b"\x00" * ((16 << 20) - 64 - 15)
        huge = os.path.join(d, "huge.pcapng")
        with open(huge, "wb") as f:
            f.write(blk(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))
            f.write(blk(1, struct.pack("<HHI", 1, 0, 0x7FFFFFFF)))
            f.write(blk(6, struct.pack("<IIIII", 0, 0, 0, len(frame), len(frame)) + frame))
        p = run(["--pcap", huge, "--rx-desc", "64"], check_rc=0)
        assert f"summary: 1 packets, {len(frame)} bytes" in p.stderr, p.stderr
        assert re.search(r"worker_oversize +1 ", p.stderr), p.stderr
    bad = run(["--pcap", os.path.join(ARGS.captures, "basic.pcap"), "--pcap-reader", "mmap"],
              check_rc=2)
    _one_line_error(bad, "--pcap-reader", "mmap")


def case_stdin():
    """--pcap - reads classic pcap from standard input (and a FIFO as it comes): the same
    records as from the file; garbage, an empty stream and net_pcap on a pipe are one
    clear line each; a stream cut short is reported as damaged after its records. pcapng is
    read from a pipe as well."""
    def feed(capture_bytes, *extra, rc=0, target="-"):
        p = subprocess.run([ARGS.bin, "--pcap", target, "--sensor-name", "test-sensor", *extra],
                           input=capture_bytes, capture_output=True, timeout=120)
        out, err = p.stdout.decode(errors="surrogateescape"), p.stderr.decode(errors="replace")
        assert p.returncode == rc, f"exit {p.returncode}, expected {rc}\n{err}"
        return out, err

    strip = lambda out: [re.sub(r'sid="[0-9a-f]{8}', 'sid="', re.sub(r' flowscribe \d+ ', ' flowscribe - ', line))
                         for line in out.splitlines()]
    with open(os.path.join(ARGS.captures, "basic.pcap"), "rb") as f:
        basic = f.read()
    out, err = feed(basic)
    assert "reading - (EN10MB, a stream)" in err, err
    check_grammar(out)
    assert strip(out) == strip(offline("basic.pcap").stdout), "records from stdin differ"
    # A FIFO, written by another process while flowscribe reads it.
    with tempfile.TemporaryDirectory() as d:
        fifo = os.path.join(d, "cap.fifo")
        os.mkfifo(fifo)
        writer = subprocess.Popen(["sh", "-c", f"cat '{os.path.join(ARGS.captures, 'basic-ns.pcap')}' > '{fifo}'"])
        p = run(["--pcap", fifo, "--sensor-name", "test-sensor"], check_rc=0)
        writer.wait(timeout=30)
        assert strip(p.stdout) == strip(offline("basic-ns.pcap").stdout), "records from a FIFO differ"
    # Damage on a stream: the records before it, then the damage line, exit 1.
    with open(os.path.join(ARGS.captures, "truncated.pcap"), "rb") as f:
        out, err = feed(f.read(), rc=1)
    assert "capture on standard input is damaged: read 20 packets" in err, err
    assert_same_flows("truncated.pcap", got_flows(sessions(out)))

    def one_line(err, *words):
        lines = [l for l in err.splitlines() if l.strip()]
        assert len(lines) == 1 and lines[0].startswith("flowscribe: "), err
        for w in words:
            assert w in lines[0], (w, lines[0])
        assert "EAL" not in err, err

    # pcapng comes through a pipe too.
    with open(os.path.join(ARGS.captures, "basic.pcapng"), "rb") as f:
        out, err = feed(f.read())
    assert strip(out) == strip(offline("basic.pcapng").stdout), "pcapng from stdin differs"
    one_line(feed(b"garbage that is not a capture at all\n", rc=2)[1], "not a classic pcap")
    one_line(feed(b"", rc=2)[1], "standard input is too short")
    one_line(feed(basic, "--pcap-reader", "net_pcap", rc=2)[1], "needs a capture file")
    # A terminal on standard input is a mistake, not a capture to wait for.
    import pty
    master, slave = pty.openpty()
    try:
        p = subprocess.run([ARGS.bin, "--pcap", "-"], stdin=slave, capture_output=True,
                           timeout=60)
    finally:
        os.close(master)
        os.close(slave)
    assert p.returncode == 2, p
    one_line(p.stderr.decode(), "standard input is a terminal")
    # A stream of a link type flowscribe does not decode (USB, 189 -> left to libpcap; 147).
    import struct
    one_line(feed(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 147), rc=2)[1],
             "link type 147")
    # A pipe that goes quiet (tcpdump -w - on an idle link) and a SIGINT to flowscribe alone:
    # the worker is never blocked in read(2) (the read-ahead thread is), so it stops at once,
    # with every flow of what came written. Before the read-ahead it waited for the writer.
    import signal
    import time
    rd, wr = os.pipe()  # ours, so that communicate() does not close the writing end
    p = subprocess.Popen([ARGS.bin, "--pcap", "-", "--sensor-name", "test-sensor"],
                         stdin=rd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(rd)
    try:
        os.write(wr, basic)  # 12 KB: fits the pipe
        time.sleep(3)  # start-up, and the records of basic.pcap read; the pipe stays open
        p.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        try:
            out, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            raise AssertionError("SIGINT did not stop flowscribe in 30 s while its pipe stayed open")
        waited = time.monotonic() - t0
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
        os.close(wr)
    err = err.decode(errors="replace")
    assert p.returncode == 0, (p.returncode, err)
    assert waited < 10, f"SIGINT took {waited:.1f} s with the pipe open\n{err}"
    assert "summary: 72 packets" in err and "(stopped by signal)" in err, err
    # The polls that found nothing read yet are counted (the pipe was open and quiet for ~3 s).
    waits = re.search(r"rx_file_waits +(\d+) ", err)
    assert waits and int(waits.group(1)) > 0, err
    assert strip(out.decode(errors="surrogateescape")) == strip(offline("basic.pcap").stdout), \
        "records of an interrupted stream differ"


def case_hs_cache():
    """--hs-cache DIR keeps the compiled signature databases: the first run stores them, the
    next loads them, the records are the same as with --hs-cache off, and a damaged file is
    compiled again, not trusted."""
    strip = lambda out: [re.sub(r'sid="[0-9a-f]{8}', 'sid="', re.sub(r' flowscribe \d+ ', ' flowscribe - ', line))
                         for line in out.splitlines()]
    with tempfile.TemporaryDirectory() as d:
        cache = os.path.join(d, "hs")
        sig = os.path.join(d, "sigs.conf")
        with open(sig, "w") as f:
            f.write("protocol=acme transport=tcp direction=client depth=16 pattern=^ACME/1\\.0\n")
        want = offline("basic.pcap", "--hs-cache", "off", "--signatures", sig).stdout
        assert not os.path.exists(cache)
        first = offline("basic.pcap", "--hs-cache", cache, "--signatures", sig).stdout
        stored = sorted(os.listdir(cache))
        assert stored and all(n.endswith(".hsdb") for n in stored), stored
        assert oct(os.stat(cache).st_mode & 0o777) == "0o700", oct(os.stat(cache).st_mode)
        mtimes = {n: os.stat(os.path.join(cache, n)).st_mtime_ns for n in stored}
        second = offline("basic.pcap", "--hs-cache", cache, "--signatures", sig).stdout
        assert {n: os.stat(os.path.join(cache, n)).st_mtime_ns for n in stored} == mtimes, \
            "the second run rewrote the cache instead of loading it"
        assert strip(first) == strip(want) and strip(second) == strip(want), "records differ"
        # Without the user's signatures the built-in-only databases are others: more files.
        offline("basic.pcap", "--hs-cache", cache)
        assert len(os.listdir(cache)) > len(stored), os.listdir(cache)
        # A damaged file is not loaded: compiled again and replaced.
        victim = os.path.join(cache, stored[0])
        with open(victim, "r+b") as f:
            f.seek(-40, os.SEEK_END)
            f.write(b"\xff" * 8)
        third = offline("basic.pcap", "--hs-cache", cache, "--signatures", sig).stdout
        assert strip(third) == strip(want)
        assert os.stat(victim).st_mtime_ns != mtimes[stored[0]], "a damaged file was kept"


def case_series():
    """Several --pcap files are one capture, read in the order of their first packets: the
    parts of basic.pcap, named so that a shell glob would sort them wrong, give the records
    and counters of the whole file; a damaged file in the middle is reported and the next is
    read; mixing what cannot go together is one line."""
    import struct
    norm = lambda out: [re.sub(r'sid="[0-9a-f]{8}', 'sid="', re.sub(r' flowscribe \d+ ', ' flowscribe - ', line))
                        for line in out.splitlines()]
    counters = lambda err: [l for l in err.splitlines()
                            if not l.startswith("flowscribe 0") and "summary:" not in l]
    with open(os.path.join(ARGS.captures, "basic.pcap"), "rb") as f:
        whole = f.read()
    head, off, recs = whole[:24], 24, []
    while off + 16 <= len(whole):
        caplen = struct.unpack_from("<I", whole, off + 8)[0]
        recs.append(whole[off:off + 16 + caplen])
        off += 16 + caplen
    parts = [recs[:20], recs[20:50], recs[50:]]
    with tempfile.TemporaryDirectory() as d:
        names = [os.path.join(d, n) for n in ("cap.pcap10", "cap.pcap2", "cap.pcap")]
        for name, part in zip(names, parts):
            with open(name, "wb") as f:
                f.write(head + b"".join(part))
        one = offline("basic.pcap")
        glob_order = sorted(names)  # cap.pcap, cap.pcap10, cap.pcap2: not time order
        p = run(["--pcap", glob_order[0], "--pcap", glob_order[1], "--pcap", glob_order[2],
                 "--sensor-name", "test-sensor"], check_rc=0)
        check_grammar(p.stdout)
        assert "reading 3 captures in the order of their first packets" in p.stderr, p.stderr
        assert norm(p.stdout) == norm(one.stdout), "a series differs from the whole file"
        assert counters(p.stderr) == counters(one.stderr), (p.stderr, one.stderr)
        # The directory stands for its files (hidden ones left out).
        with open(os.path.join(d, ".notes"), "w") as f:
            f.write("not a capture\n")
        p = run(["--pcap", d, "--sensor-name", "test-sensor"], check_rc=0)
        assert norm(p.stdout) == norm(one.stdout), "--pcap DIR differs from the whole file"
        empty = os.path.join(d, "empty")
        os.mkdir(empty)
        _one_line_error(run(["--pcap", empty], check_rc=2), "no files in it")
        os.rmdir(empty)
        # The middle file cut inside its last record: its damage is reported, the rest read.
        with open(names[1], "wb") as f:
            f.write(head + b"".join(parts[1])[:-10])
        p = run(["--pcap", names[0], "--pcap", names[1], "--pcap", names[2]], check_rc=1)
        assert f"capture {names[1]} is damaged: read 29 packets" in p.stderr, p.stderr
        assert "summary: 71 packets" in p.stderr, p.stderr
        # What cannot be read together is refused before the run, in one line.
        # A pcapng file takes its place in a series like any other.
        ng = os.path.join(d, "cap.pcapng")
        with open(ng, "wb") as f:
            f.write(_pcapng(parts[1], ">"))
        os.rename(names[1], names[1] + ".saved")
        p = run(["--pcap", names[2], "--pcap", ng, "--pcap", names[0],
                 "--sensor-name", "test-sensor"], check_rc=0)
        os.rename(names[1] + ".saved", names[1])
        os.unlink(ng)
        assert norm(p.stdout) == norm(one.stdout), "a series with a pcapng part differs"
        bad = [(["--pcap", names[0], "--pcap", os.path.join(ARGS.captures, "sll.pcap")],
                "must share one link type"),
               (["--pcap", names[0], "--pcap", "-"], "can only be read alone"),
               (["--pcap", names[0], "--pcap", os.path.join(d, "missing.pcap")],
                "No such file"),
               (["--pcap", names[0], "--pcap", names[2], "--pcap-reader", "net_pcap"],
                "reads one capture")]
        for argv, words in bad:
            _one_line_error(run(argv, check_rc=2), words)


CASES = {k[5:]: v for k, v in globals().items() if k.startswith("case_")}


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--check", required=True)
    ap.add_argument("--captures", required=True)
    ap.add_argument("case", choices=sorted(CASES))
    ARGS = ap.parse_args()
    CASES[ARGS.case]()
    print(f"{ARGS.case}: ok")


if __name__ == "__main__":
    main()
