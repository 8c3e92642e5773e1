#!/usr/bin/env python3
"""Integration tests: flowscribe delivering records to real syslog collectors from Debian
(rsyslog with imudp/imtcp/imptcp and the ossl/gtls TLS drivers, syslog-ng), started here on
loopback with private configs and stopped by PID. Nothing is installed here
(scripts/install-deps.sh --test does that); a collector that is missing makes its case skip
(exit 77) with a line saying so.

usage: test_collectors.py --bin FLOWSCRIBE --check RFC5424_CHECK --captures DIR CASE

Each collector writes `%msgid% %structured-data%` (so a record only counts when the collector
itself parsed it as RFC 5424) and, for rsyslog, `%rawmsg%` (so the bytes can be compared with
the sensor's own stdout). Live cases feed the sensor through a FIFO read by DPDK's net_pcap
(`--port net_pcap0,rx_pcap=FIFO`): the test writes one TCP session (SYN, RST) per record at a
rate it chooses, so it knows exactly which records must arrive (every session has its own
client port).
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import records  # noqa: E402

ARGS = None
SKIP = 77
SYSLOG_NG_PATHS = ["/opt/flowscribe-test/syslog-ng/usr/sbin/syslog-ng", "/usr/sbin/syslog-ng"]


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(SKIP)


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


def wait_for(pred, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def check_grammar(text):
    with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
        f.write(text)
        name = f.name
    try:
        p = subprocess.run([ARGS.check, name], capture_output=True, text=True)
        assert p.returncode == 0, f"records break RFC 5424:\n{p.stdout}{p.stderr}"
    finally:
        os.unlink(name)


def summary_line(stderr, out):
    """(records, delivered, dropped, waiting) from the sensor's per-output summary line."""
    for line in stderr.splitlines():
        if line.startswith(f"flowscribe: output {out}: ") and " records, " in line:
            parts = line.split(": ", 2)[2].replace(",", "").split()
            return int(parts[0]), int(parts[2]), int(parts[4]), int(parts[6])
    raise AssertionError(f"no summary line for {out}:\n{stderr}")


# ------------------------------------------------------------------ collectors

class Collector:
    """A collector process with its own directory; out.log holds `MSGID SD` per record."""

    def __init__(self, d):
        self.dir = d
        self.proc = None
        self.out = os.path.join(d, "out.log")

    def lines(self):
        try:
            with open(self.out, errors="surrogateescape") as f:
                return [l for l in f.read().splitlines() if l]
        except FileNotFoundError:
            return []

    def parsed(self):
        """[(msgid, {sd-id: params})]: what the collector parsed."""
        out = []
        for line in self.lines():
            msgid, _, sd = line.partition(" ")
            elements, _ = records._parse_sd(sd, 0) if sd.startswith("[") else ({}, 0)
            out.append((msgid, elements))
        return out

    def sids(self):
        return [sd[k]["sid"] for m, sd in self.parsed() if m == "session"
                for k in sd if k.startswith("flow@")]

    def wait_lines(self, n, timeout=15):
        wait_for(lambda: len(self.lines()) >= n, timeout,
                 f"{n} records at the collector (have {len(self.lines())})")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class Rsyslog(Collector):
    """rsyslogd -n with a private config: inputs on 127.0.0.1 only, its own work directory,
    records from APP-NAME flowscribe only (rsyslog's own messages go nowhere)."""

    def __init__(self, d, inputs, tls=None):
        super().__init__(d)
        if shutil.which("rsyslogd") is None:
            skip("rsyslogd is not installed (scripts/install-deps.sh --test)")
        self.raw = os.path.join(d, "raw.log")
        os.makedirs(os.path.join(d, "work"), exist_ok=True)
        g = [f'workDirectory="{d}/work"']
        if tls:
            g += [f'DefaultNetstreamDriver="{tls["driver"]}"',
                  f'DefaultNetstreamDriverCAFile="{tls["ca"]}"',
                  f'DefaultNetstreamDriverCertFile="{tls["cert"]}"',
                  f'DefaultNetstreamDriverKeyFile="{tls["key"]}"']
        conf = [f"global({' '.join(g)})"]
        mods = {kind for kind, _ in inputs}
        for m in sorted(mods):
            if m == "imtcp" and tls:
                conf.append(f'module(load="imtcp" StreamDriver.Name="{tls["driver"]}" '
                            f'StreamDriver.Mode="1" StreamDriver.AuthMode="{tls["auth"]}")')
            else:
                conf.append(f'module(load="{m}")')
        for kind, port in inputs:
            conf.append(f'input(type="{kind}" port="{port}" address="127.0.0.1")')
        conf += [
            'template(name="sd" type="string" string="%msgid% %structured-data%\\n")',
            'template(name="raw" type="string" string="%rawmsg%\\n")',
            'if $app-name == "flowscribe" then {',
            f'  action(type="omfile" file="{self.out}" template="sd")',
            f'  action(type="omfile" file="{self.raw}" template="raw")',
            '}',
        ]
        self.conf = os.path.join(d, "rsyslog.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(conf) + "\n")
        p = subprocess.run(["rsyslogd", "-N1", "-f", self.conf], capture_output=True, text=True)
        if p.returncode != 0:
            if tls and "could not load module" in (p.stdout + p.stderr):
                skip(f"rsyslog's {tls['driver']} driver is not installed")
            raise AssertionError(f"rsyslog rejects the test config:\n{p.stdout}{p.stderr}")
        self.tcp_ports = [port for kind, port in inputs if kind in ("imtcp", "imptcp")]

    def start(self):
        self.proc = subprocess.Popen(
            ["rsyslogd", "-n", "-f", self.conf, "-i", os.path.join(self.dir, "rsyslogd.pid")],
            stdout=open(os.path.join(self.dir, "rsyslogd.log"), "a"), stderr=subprocess.STDOUT,
            start_new_session=True)
        for port in self.tcp_ports:
            wait_port(port)
        time.sleep(0.3)  # UDP inputs cannot be probed; give them the same moment
        return self

    def raw_lines(self):
        try:
            with open(self.raw, errors="surrogateescape") as f:
                return [l for l in f.read().splitlines() if l]
        except FileNotFoundError:
            return []


class SyslogNg(Collector):
    def __init__(self, d, port):
        super().__init__(d)
        exe = os.environ.get("FLOWSCRIBE_SYSLOG_NG") or shutil.which("syslog-ng")
        for p in SYSLOG_NG_PATHS:
            if exe is None and os.access(p, os.X_OK):
                exe = p
        if exe is None:
            skip("syslog-ng is not installed (scripts/install-deps.sh --test)")
        self.exe = exe
        self.port = port
        # Debian's syslog-ng-core conflicts with rsyslog, so install-deps.sh unpacks it under
        # /opt: point it at its own modules and library.
        root = os.path.dirname(os.path.dirname(os.path.dirname(exe)))
        self.env = dict(os.environ)
        self.extra = []
        libdir = os.path.join(root, "usr", "lib", "syslog-ng")
        if root not in ("/", "") and os.path.isdir(libdir):
            self.env["LD_LIBRARY_PATH"] = libdir
            mods = [os.path.join(libdir, v) for v in os.listdir(libdir)
                    if os.path.isdir(os.path.join(libdir, v))]
            if mods:
                self.extra = [f"--module-path={mods[0]}"]
        self.conf = os.path.join(d, "syslog-ng.conf")
        with open(self.conf, "w") as f:
            f.write(f"""@version: 3.38
options {{ keep-hostname(yes); stats-freq(0); }};
source s_flowscribe {{
  syslog(ip("127.0.0.1") port({port}) transport("tcp") max-connections(10));
}};
destination d_records {{ file("{self.out}" template("$MSGID $SDATA\\n")); }};
log {{ source(s_flowscribe); filter {{ program("flowscribe"); }}; destination(d_records); }};
""")

    def start(self):
        d = self.dir
        self.proc = subprocess.Popen(
            [self.exe, "-F", "-f", self.conf, "-p", os.path.join(d, "syslog-ng.pid"),
             "-R", os.path.join(d, "syslog-ng.persist"), "-c", os.path.join(d, "syslog-ng.ctl"),
             *self.extra],
            stdout=open(os.path.join(d, "syslog-ng.log"), "a"), stderr=subprocess.STDOUT,
            env=self.env, start_new_session=True)
        wait_port(self.port)
        return self


# ------------------------------------------------------------------ the sensor

def run_offline(*extra, rc=0, capture="basic.pcap"):
    p = subprocess.run([ARGS.bin, "--pcap", os.path.join(ARGS.captures, capture),
                        "--sensor-name", "test-sensor", *extra],
                       capture_output=True, text=True, timeout=120, errors="surrogateescape")
    if rc is not None:
        assert p.returncode == rc, f"exit {p.returncode}, expected {rc}\n{p.stderr}"
    return p


def tcp_session_packets(i):
    """One TCP session (SYN, then RST+ACK) from client port 10000+i: one record."""
    def csum(b):
        s = sum(struct.unpack(f"!{len(b) // 2}H", b))
        s = (s >> 16) + (s & 0xFFFF)
        return (~(s + (s >> 16))) & 0xFFFF
    src, dst = "192.0.2.1", "192.0.2.2"
    sport = 10000 + i % 50000
    src = f"192.0.2.{1 + i // 50000}"
    out = []
    for (a, b, sp, dp, flags) in ((src, dst, sport, 80, 0x02), (dst, src, 80, sport, 0x14)):
        tcp = struct.pack("!HHIIBBHHH", sp, dp, 1, 0, 5 << 4, flags, 65535, 0, 0)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 1, 0, 64, 6, 0, socket.inet_aton(a),
                         socket.inet_aton(b))
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        out.append(b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + ip + tcp)
    return out


class LiveSensor:
    """flowscribe in live mode on a net_pcap port that reads a FIFO this test writes."""

    def __init__(self, d, *extra):
        self.fifo = os.path.join(d, "feed.pcap")
        os.mkfifo(self.fifo)
        self.stderr_path = os.path.join(d, f"sensor-{time.time_ns()}.err")
        self.proc = subprocess.Popen(
            [ARGS.bin, "--port", f"net_pcap0,rx_pcap={self.fifo}", "--no-huge", "--mem", "512",
             "--workers", "1", "--tcp-linger", "0", "--sensor-name", "test-sensor",
             "--stats-interval", "0.5", *extra],
            stdout=subprocess.DEVNULL, stderr=open(self.stderr_path, "w"))
        self.fd = None
        end = time.time() + 30
        while self.fd is None:
            try:
                self.fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                assert self.proc.poll() is None, f"sensor exited:\n{self.stderr()}"
                assert time.time() < end, "the sensor never opened the FIFO"
                time.sleep(0.05)
        os.set_blocking(self.fd, True)
        os.write(self.fd, struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        self.sent = 0

    def sessions(self, n, rate=None):
        """Writes n more sessions; `rate` sessions per second (None: as fast as it goes)."""
        for _ in range(n):
            t = time.time()
            buf = b""
            for pkt in tcp_session_packets(self.sent):
                buf += struct.pack("<IIII", int(t), int(t % 1 * 1e6), len(pkt), len(pkt)) + pkt
            os.write(self.fd, buf)
            self.sent += 1
            if rate:
                time.sleep(1.0 / rate)

    def trickle_until(self, pred, timeout, what, rate=50):
        """Keeps sessions coming (the worker runs its timers between packets, and a FIFO
        that goes quiet leaves it waiting in read()) until pred() holds."""
        end = time.time() + timeout
        while not pred():
            assert time.time() < end, f"timed out waiting for {what}\n{self.stderr()}"
            self.sessions(max(1, rate // 10), rate=rate)

    def stderr(self):
        with open(self.stderr_path) as f:
            return f.read()

    def stop(self, sig=signal.SIGINT, timeout=60):
        if self.fd is not None:
            os.close(self.fd)  # EOF: the worker's last burst is delivered
            self.fd = None
        time.sleep(0.5)
        self.proc.send_signal(sig)
        self.proc.wait(timeout=timeout)
        return self.proc.returncode

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def expected_ports(n):
    return {str(10000 + i % 50000) for i in range(n)}


def session_ports(col):
    return [sd[k]["sport"] for m, sd in col.parsed() if m == "session"
            for k in sd if k.startswith("flow@")]


# ------------------------------------------------------------------ cases

def case_rsyslog_udp_tcp():
    """One run, four outputs at once: rsyslog imudp, imtcp (octet counting), imptcp, and
    stdout. Every collector parses every record as RFC 5424, byte for byte what stdout got,
    and the counts match the sensor's own."""
    with tempfile.TemporaryDirectory() as d:
        udp, tcp, ptcp = free_port(socket.SOCK_DGRAM), free_port(), free_port()
        col = Rsyslog(d, [("imudp", udp), ("imtcp", tcp), ("imptcp", ptcp)]).start()
        try:
            outs = [f"udp://127.0.0.1:{udp}", f"tcp://127.0.0.1:{tcp}", f"tcp://localhost:{ptcp}"]
            p = run_offline(*sum((["--out", o] for o in outs), []), "--out", "stdout")
            mine = p.stdout.splitlines()
            assert len(mine) > 10, p.stderr
            check_grammar(p.stdout)
            for o in outs:
                assert summary_line(p.stderr, o) == (len(mine), len(mine), 0, 0), \
                    (o, summary_line(p.stderr, o))
            col.wait_lines(3 * len(mine))
            time.sleep(0.3)
            got = col.parsed()
            assert len(got) == 3 * len(mine), (len(got), len(mine))
            # session records and the dissectors' transaction records, as stdout has them
            want_ids = sorted([records.parse(l)["msgid"] for l in mine] * 3)
            assert sorted(m for m, _ in got) == want_ids, got[:3]
            for m, sd in got:
                assert any(k.startswith("flow@") for k in sd), sd
            raw = col.raw_lines()
            assert sorted(raw) == sorted(mine * 3), "collector bytes differ from stdout"
            assert "drops: 0" in p.stderr
        finally:
            col.stop()


def case_rsyslog_lf_framing():
    """--tcp-framing lf (RFC 6587 3.4.2) for collectors without octet counting."""
    with tempfile.TemporaryDirectory() as d:
        tcp = free_port()
        col = Rsyslog(d, [("imtcp", tcp)]).start()
        try:
            p = run_offline("--out", f"tcp://127.0.0.1:{tcp}", "--tcp-framing", "lf",
                            "--out", "stdout")
            n = len(p.stdout.splitlines())
            col.wait_lines(n)
            assert sorted(col.raw_lines()) == sorted(p.stdout.splitlines())
        finally:
            col.stop()


def case_udp_truncation():
    """--udp-max 480: long records are cut at a field boundary, marked, and still parse."""
    with tempfile.TemporaryDirectory() as d:
        udp = free_port(socket.SOCK_DGRAM)
        col = Rsyslog(d, [("imudp", udp)]).start()
        try:
            p = run_offline("--out", f"udp://127.0.0.1:{udp}", "--udp-max", "480",
                            "--out", "stdout")
            mine = p.stdout.splitlines()
            col.wait_lines(len(mine))
            time.sleep(0.3)
            raw = col.raw_lines()
            assert len(raw) == len(mine)
            cut = [r for r in raw if "[trunc@32473 len=" in r]
            assert cut, "no record was long enough to be cut at 480 bytes"
            assert "output_truncated" in p.stderr
            for r in raw:
                assert len(r.encode()) <= 480, len(r)
            check_grammar("\n".join(raw) + "\n")
            # A session and its transaction records share a sid: match cut records to the
            # lengths of the long records of their sid and MSGID.
            long_ones = {}
            for m in mine:
                if len(m.encode()) > 480:
                    key = (records.parse(m)["msgid"], m.split(' sid="')[1][:20])
                    long_ones.setdefault(key, []).append(len(m.encode()))
            ncut = 0
            for m, sd in col.parsed():
                flow = next(v for k, v in sd.items() if k.startswith("flow@"))
                if "trunc@32473" in sd:
                    ncut += 1
                    assert int(sd["trunc@32473"]["len"]) in long_ones[(m, flow["sid"])], sd
            assert ncut == sum(len(v) for v in long_ones.values()), (ncut, long_ones)
        finally:
            col.stop()


def make_certs(d, server_names="DNS:localhost,IP:127.0.0.1"):
    def ossl(*a):
        subprocess.run(["openssl", *a], check=True, capture_output=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    for ca in ("ca", "otherca"):
        ossl("req", "-x509", *ec, "-keyout", f"{d}/{ca}.key", "-out", f"{d}/{ca}.pem", "-days",
             "2", "-subj", f"/CN=flowscribe test {ca}")
    for name, subj, ext in (("srv", "/CN=collector", f"subjectAltName={server_names}\n"
                             "extendedKeyUsage=serverAuth\n"),
                            ("cli", "/CN=sensor", "extendedKeyUsage=clientAuth\n")):
        ossl("req", *ec, "-keyout", f"{d}/{name}.key", "-out", f"{d}/{name}.csr", "-subj", subj)
        with open(f"{d}/{name}.ext", "w") as f:
            f.write(ext)
        ossl("x509", "-req", "-in", f"{d}/{name}.csr", "-CA", f"{d}/ca.pem", "-CAkey",
             f"{d}/ca.key", "-CAcreateserial", "-out", f"{d}/{name}.pem", "-days", "2",
             "-extfile", f"{d}/{name}.ext")


def _tls_case(driver):
    with tempfile.TemporaryDirectory() as d:
        make_certs(d)
        tls = {"driver": driver, "ca": f"{d}/ca.pem", "cert": f"{d}/srv.pem",
               "key": f"{d}/srv.key", "auth": "x509/certvalid"}
        port = free_port()
        col = Rsyslog(d, [("imtcp", port)], tls=tls).start()
        try:
            # Verified by name (SNI + host check) and by address, with a client certificate.
            n = 0
            mine = []
            for host in ("localhost", "127.0.0.1"):
                out = f"tls://{host}:{port}"
                p = run_offline("--out", out, "--tls-ca", f"{d}/ca.pem", "--tls-cert",
                                f"{d}/cli.pem", "--tls-key", f"{d}/cli.key", "--out", "stdout")
                k = len(p.stdout.splitlines())
                assert summary_line(p.stderr, out) == (k, k, 0, 0), p.stderr
                n += k
                mine += p.stdout.splitlines()
                col.wait_lines(n)
            assert sorted(col.raw_lines()) == sorted(mine)
            # The collector wants a client certificate: none, no delivery.
            out = f"tls://localhost:{port}"
            p = run_offline("--out", out, "--tls-ca", f"{d}/ca.pem", rc=1)
            assert summary_line(p.stderr, out)[1] == 0, p.stderr
            # A CA that did not sign the server's certificate: refused before any record.
            p = run_offline("--out", out, "--tls-ca", f"{d}/otherca.pem", "--tls-cert",
                            f"{d}/cli.pem", "--tls-key", f"{d}/cli.key", rc=1)
            assert "not accepted" in p.stderr, p.stderr
            assert "output_connect_failures" in p.stderr
            # A name the certificate does not carry.
            p = run_offline("--out", f"tls://127.0.0.2:{port}", "--tls-ca", f"{d}/ca.pem",
                            "--tls-cert", f"{d}/cli.pem", "--tls-key", f"{d}/cli.key", rc=1)
            assert "not accepted" in p.stderr or "failed" in p.stderr, p.stderr
            time.sleep(0.5)
            assert len(col.lines()) == n, "a refused connection delivered records"
        finally:
            col.stop()


def case_rsyslog_tls_ossl():
    """TLS (RFC 5425) to rsyslog's OpenSSL driver: CA check, host check, client cert."""
    _tls_case("ossl")


def case_rsyslog_tls_gtls():
    """The same against rsyslog's GnuTLS driver."""
    _tls_case("gtls")


def case_tls_bad_files():
    """Certificate problems on our side are start-up errors: one line, exit 2."""
    with tempfile.TemporaryDirectory() as d:
        make_certs(d)
        for extra, word in ((["--tls-ca", f"{d}/missing.pem"], "--tls-ca"),
                            (["--tls-ca", f"{d}/ca.pem", "--tls-cert", f"{d}/cli.pem",
                              "--tls-key", f"{d}/srv.key"], "--tls-key")):
            p = run_offline("--out", "tls://localhost:6514", *extra, rc=2)
            assert word in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
        p = run_offline("--out", "tcp://no-such-host.invalid:601", rc=2)
        assert "cannot resolve" in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr


def case_syslog_ng_tcp():
    """syslog-ng's syslog() source (RFC 5424 over TCP with octet counting)."""
    with tempfile.TemporaryDirectory() as d:
        port = free_port()
        col = SyslogNg(d, port).start()
        try:
            out = f"tcp://127.0.0.1:{port}"
            p = run_offline("--out", out, "--out", "stdout")
            mine = p.stdout.splitlines()
            assert summary_line(p.stderr, out) == (len(mine), len(mine), 0, 0)
            col.wait_lines(len(mine))
            time.sleep(0.3)
            got = col.parsed()
            assert len(got) == len(mine), (len(got), len(mine))
            assert sorted(m for m, _ in got) == sorted(records.parse(l)["msgid"] for l in mine)
            want = sorted(records.flow(records.parse(l))["sid"] for l in mine
                          if records.parse(l)["msgid"] == "session")
            assert sorted(col.sids()) == want
        finally:
            col.stop()


def case_tcp_restart_midstream():
    """The TCP collector is stopped while records flow and started again: every record the
    sensor made reaches it (those in flight when it went are sent again), in order."""
    with tempfile.TemporaryDirectory() as d:
        port = free_port()
        col = Rsyslog(d, [("imtcp", port)]).start()
        out = f"tcp://127.0.0.1:{port}"
        s = LiveSensor(d, "--out", out, "--out", f"file:{d}/all.log")
        try:
            s.sessions(300, rate=200)
            s.trickle_until(lambda: len(col.lines()) >= 200, 30, "records at the collector",
                            rate=200)
            col.stop()                          # mid-stream
            s.sessions(300, rate=200)           # queued while it is away
            col.start()
            s.sessions(300, rate=200)           # after the reconnect
            rc = s.stop()
            err = s.stderr()
            assert rc == 0, err
            total = s.sent
            with open(f"{d}/all.log") as f:
                assert len(f.read().splitlines()) == total, err
            col.wait_lines(total, timeout=30)
            time.sleep(0.5)
            ports = session_ports(col)
            missing = expected_ports(total) - set(ports)
            assert not missing, f"{len(missing)} records never arrived\n{err}"
            recs, sent, dropped, waiting = summary_line(err, out)
            assert (recs, dropped, waiting) == (total, 0, 0), (recs, sent, dropped, waiting)
            assert "output_disconnects" in err or "output_connect_failures" in err, err
            dups = len(ports) - len(set(ports))
            assert sent == total and len(ports) == total + dups, (sent, len(ports))
            print(f"{total} records across a collector restart, {dups} sent twice")
        finally:
            if s.proc.poll() is None:
                s.kill()
            col.stop()


def _spool_files(spool):
    lines = []
    for root, _, files in os.walk(spool):
        for f in sorted(files):
            if f.endswith(".log"):
                with open(os.path.join(root, f)) as fh:
                    lines += fh.read().splitlines()
    return lines


def case_spool_restart():
    """Collector away: records go to the spool, the sensor exits; the next run sends the
    spooled records first, then its own, in order."""
    with tempfile.TemporaryDirectory() as d:
        port = free_port()
        spool = f"{d}/spool"
        out = f"tcp://127.0.0.1:{port}"
        p1 = run_offline("--out", out, "--spool-dir", spool, "--out", "stdout")
        n1 = len(p1.stdout.splitlines())
        assert summary_line(p1.stderr, out) == (n1, 0, 0, n1), p1.stderr
        assert sorted(_spool_files(spool)) == sorted(p1.stdout.splitlines())
        col = Rsyslog(d, [("imtcp", port)]).start()
        try:
            p2 = run_offline("--out", out, "--spool-dir", spool, "--out", "stdout")
            assert "from an earlier run" in p2.stderr, p2.stderr
            n2 = len(p2.stdout.splitlines())
            recs, sent, dropped, waiting = summary_line(p2.stderr, out)
            assert (recs, sent, dropped, waiting) == (n2, n1 + n2, 0, 0), p2.stderr
            col.wait_lines(n1 + n2)
            raw = col.raw_lines()
            assert raw == p1.stdout.splitlines() + p2.stdout.splitlines(), "order or content"
            assert _spool_files(spool) == []
        finally:
            col.stop()


def case_spool_kill():
    """kill -9 while the spool holds records: what reached the spool files is delivered by
    the next run."""
    with tempfile.TemporaryDirectory() as d:
        port = free_port()
        spool = f"{d}/spool"
        out = f"tcp://127.0.0.1:{port}"
        s = LiveSensor(d, "--out", out, "--spool-dir", spool, "--out-queue-mb", "1")
        try:
            s.sessions(4000)  # ~2 MB of records: past the 1 MB queue, into the spool
            s.trickle_until(lambda: len(_spool_files(spool)) >= 1000, 30, "records in the spool")
        finally:
            s.kill()
        on_disk = _spool_files(spool)
        assert len(on_disk) >= 1000
        col = Rsyslog(d, [("imtcp", port)]).start()
        try:
            p = run_offline("--out", out, "--spool-dir", spool, "--out", "stdout")
            n = len(p.stdout.splitlines())
            recs, sent, dropped, waiting = summary_line(p.stderr, out)
            assert (dropped, waiting) == (0, 0) and sent >= len(on_disk) + n, p.stderr
            col.wait_lines(len(on_disk) + n, timeout=30)
            raw = col.raw_lines()
            assert raw[:len(on_disk)] == on_disk, "spooled records not first or not in order"
            assert raw[-n:] == p.stdout.splitlines()
        finally:
            col.stop()


def case_spool_full_drops():
    """Spool cap reached while the collector is away: records are dropped and counted, and
    when it is back a 'drops' record says how many."""
    with tempfile.TemporaryDirectory() as d:
        port = free_port()
        spool = f"{d}/spool"
        out = f"tcp://127.0.0.1:{port}"
        col = Rsyslog(d, [("imtcp", port)])
        s = LiveSensor(d, "--out", out, "--spool-dir", spool, "--out-queue-mb", "1",
                       "--spool-max-mb", "1")
        try:
            s.sessions(6000)  # ~3 MB: 1 MB queue + 1 MB spool, the rest dropped
            s.trickle_until(lambda: "dropping records" in s.stderr(), 30, "drops")
            col.start()
            s.sessions(200, rate=100)  # the sensor reconnects (backoff) and catches up
            rc = s.stop()
            err = s.stderr()
            assert rc == 1, (rc, err)  # records were lost
            recs, sent, dropped, waiting = summary_line(err, out)
            assert dropped > 0 and recs == sent + dropped + waiting, (recs, sent, dropped, waiting)
            col.wait_lines(sent, timeout=30)
            time.sleep(0.5)
            got = col.parsed()
            # Usually one drops record; on a loaded machine the catch-up after the reconnect
            # can overflow again and report a second batch. Either way every dropped record
            # is reported exactly once, and every session or drops record is accounted for.
            drops = [sd["drops@32473"] for m, sd in got if m == "drops"]
            assert drops, err
            assert recs == s.sent + len(drops), (recs, s.sent, len(drops), err)
            assert all(rep["output"] == out for rep in drops), drops
            assert sum(int(rep["dropped"]) for rep in drops) == dropped, (drops, dropped)
            assert len(got) == sent, (len(got), sent)
        finally:
            if s.proc.poll() is None:
                s.kill()
            col.stop()


# ------------------------------------------------------------------ --format json|cef|leef

def _format_captures():
    """Every tests/captures/*.pcap plus one capture per transaction type."""
    caps = sorted(f for f in os.listdir(ARGS.captures) if f.endswith(".pcap"))
    return caps + [os.path.join("proto", p) for p in ("dns-53.pcap", "http-8081.pcap",
                                                        "tls-5222.pcap")]


def _leef_attrs(line):
    assert line.startswith("LEEF:2.0|flowscribe|flowscribe|"), line
    head = line.split("|", 6)
    assert len(head) == 7 and head[5] == "x09", line
    attrs = {}
    for a in head[6].split("\t"):
        k, eq, v = a.partition("=")
        assert eq and k, (a, line)
        attrs.setdefault(k, v)
    return head[4], attrs


def _cef_parts(line):
    """(signature id, {key: value}) of a CEF line, unescaping \\= and \\\\ in values."""
    assert line.startswith("CEF:0|"), line
    fields, cur, i = [], "", 0
    while len(fields) < 7:
        c = line[i]
        if c == "\\":
            cur += line[i + 1]
            i += 2
            continue
        if c == "|":
            fields.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    ext = line[i:]
    out = {}
    # key=value pairs: a key is [A-Za-z0-9]+ after a space (or at the start), before a raw '='.
    tokens = []
    k = 0
    while k < len(ext):
        if ext[k] == "\\":
            k += 2
            continue
        if ext[k] == "=":
            b = k
            while b > 0 and ext[b - 1].isalnum():
                b -= 1
            assert b == 0 or ext[b - 1] == " ", ("unescaped '=' in a value", line)
            tokens.append((b, k))
        k += 1
    for n, (b, e) in enumerate(tokens):
        end = tokens[n + 1][0] - 1 if n + 1 < len(tokens) else len(ext)
        raw = ext[e + 1:end]
        out[ext[b:e]] = raw.replace("\\=", "=").replace("\\\\", "\\")
    return fields[4], out


def _body_key(fmt, line):
    """(msgid, the worker+sequence part of sid) of a JSON/CEF/LEEF line, to compare with the
    RFC 5424 run (sid's first 8 hex digits are random per run)."""
    if fmt == "json":
        obj = json.loads(line)
        assert set(("timestamp", "host", "app_name", "procid", "msgid", "sid")) <= set(obj), obj
        if obj["msgid"] in ("session", "session-update"):
            assert isinstance(obj["pkts_c2s"], int) and isinstance(obj["duration"], float), obj
        return obj["msgid"], obj["sid"][8:]
    if fmt == "cef":
        sig, ext = _cef_parts(line)
        assert "rt" in ext and "dvchost" in ext, line
        return sig, ext["externalId"][8:]
    msgid, attrs = _leef_attrs(line)
    assert attrs["cat"] == msgid
    return msgid, attrs["sid"][8:]


def case_formats_offline():
    """Every capture in each --format: as many lines as the RFC 5424 run, one record per line,
    the same records in the same order (msgid and sid); every JSON line parses (Python's json),
    every CEF extension splits into key=value pairs, every LEEF line into TAB attributes."""
    totals = {}
    for cap in _format_captures():
        base = run_offline("--active-timeout", "1", capture=cap, rc=None)
        if base.returncode == 2:
            continue  # not a capture at all (notapcap.pcap): nothing to compare
        want = [(records.parse(l)["msgid"], records.flow(records.parse(l))["sid"][8:])
                for l in base.stdout.splitlines()]
        for fmt in ("json", "cef", "leef"):
            p = run_offline("--active-timeout", "1", "--format", fmt, capture=cap, rc=None)
            assert p.returncode == base.returncode, (cap, fmt, p.stderr)
            assert p.stdout.endswith("\n") or p.stdout == "", (cap, fmt)
            lines = p.stdout.split("\n")[:-1]
            assert len(lines) == len(want), (cap, fmt, len(lines), len(want))
            got = [_body_key(fmt, l) for l in lines]
            assert got == want, (cap, fmt, got[:3], want[:3])
            for m, _ in got:
                totals[(fmt, m)] = totals.get((fmt, m), 0) + 1
    for fmt in ("json", "cef", "leef"):
        for m in ("session", "session-update", "http", "tls", "x509", "dns"):
            assert totals.get((fmt, m), 0) > 0, (fmt, m, totals)
    print({k: v for k, v in sorted(totals.items())})


def case_formats_rsyslog():
    """JSON, CEF and LEEF to rsyslog over TCP and UDP: every record arrives as an RFC 5424
    message (rsyslog parses the header: MSGID, no structured data) whose MSG is exactly the
    line stdout got; UDP with --udp-max 480 cuts long ones with the trunc@ marker."""
    with tempfile.TemporaryDirectory() as d:
        udp, tcp = free_port(socket.SOCK_DGRAM), free_port()
        col = Rsyslog(d, [("imudp", udp), ("imtcp", tcp)]).start()
        try:
            seen = 0
            for fmt in ("json", "cef", "leef"):
                outs = [f"tcp://127.0.0.1:{tcp}", f"udp://127.0.0.1:{udp}"]
                p = run_offline("--format", fmt, "--out", outs[0], "--out", outs[1],
                                "--udp-max", "480", "--out", "stdout",
                                capture=os.path.join("proto", "tls-5222.pcap"))
                mine = p.stdout.splitlines()
                assert mine, p.stderr
                for o in outs:
                    assert summary_line(p.stderr, o) == (len(mine), len(mine), 0, 0), p.stderr
                seen += 2 * len(mine)
                col.wait_lines(seen)
                time.sleep(0.3)
                raw = col.raw_lines()[seen - 2 * len(mine):]
                parsed = col.parsed()[seen - 2 * len(mine):]
                for _, sd in parsed:
                    assert set(sd) <= {"trunc@32473"}, sd  # no SD but the UDP cut's marker
                msgids = sorted(m for m, _ in parsed)
                want_ids = sorted(_body_key(fmt, l)[0] for l in mine) * 2
                assert msgids == sorted(want_ids), (fmt, msgids, want_ids)
                whole, cut = [], 0
                for r in raw:
                    # rsyslog keeps the raw message; control characters (LEEF's TAB) may come
                    # escaped as #011 by its EscapeControlCharactersOnReceive default.
                    r = r.replace("#011", "\t")
                    head = r.split(" ", 7)
                    assert head[0].startswith("<134>1") and head[6] in ("-", "[trunc@32473"), r
                    if head[6] == "-":
                        whole.append(head[7])
                    else:
                        cut += 1
                        assert len(r.encode()) <= 480 and ' len="' in r, r
                # TCP: every record whole; UDP: whole unless longer than 480 bytes.
                assert len(whole) + cut == 2 * len(mine), (fmt, len(whole), cut, len(mine))
                assert set(whole) <= set(mine), fmt
                assert all(whole.count(l) >= 1 for l in mine), fmt
                assert cut >= 1, "no record was long enough to cut at 480 bytes"
                for line in whole:
                    _body_key(fmt, line)
        finally:
            col.stop()


# ------------------------------------------------------------------ fail-over groups

def _health(err, out):
    """The member states of the last stats line of a fail-over output."""
    last = None
    for line in err.splitlines():
        if line.startswith(f"flowscribe:   output {out}: "):
            last = line
    return last


def case_failover_rsyslog():
    """failover:tcp://primary,tcp://backup with two rsyslogs: the primary is stopped while
    records flow, records go on to the backup; the primary is started again and takes the
    records back. Counted at both collectors: no record missing."""
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(f"{d}/a")
        os.makedirs(f"{d}/b")
        pa, pb = free_port(), free_port()
        prim = Rsyslog(f"{d}/a", [("imtcp", pa)]).start()
        back = Rsyslog(f"{d}/b", [("imtcp", pb)]).start()
        out = f"failover:tcp://127.0.0.1:{pa},tcp://127.0.0.1:{pb}"
        s = LiveSensor(d, "--out", out)
        try:
            s.sessions(200, rate=200)
            s.trickle_until(lambda: len(prim.lines()) >= 150, 30, "records at the primary",
                            rate=200)
            assert back.lines() == [], "the backup got records while the primary was up"
            prim.stop()                                  # mid-stream
            at_primary = set(session_ports(prim))
            # New records (not the unconfirmed ones sent again) reach the backup.
            s.trickle_until(lambda: len(set(session_ports(back)) - at_primary) >= 100, 60,
                            "new records at the backup", rate=200)
            backup_active = re.compile(rf"tcp://127\.0\.0\.1:{pb} up [0-9.]+s \d+ delivered "
                                       r"\(active\)")
            s.trickle_until(lambda: backup_active.search(_health(s.stderr(), out) or ""), 30,
                            "the stats line showing the backup active", rate=100)
            seen = set(session_ports(prim)) | set(session_ports(back))
            prim.start()                                 # back: taken back on its backoff
            s.trickle_until(lambda: len(set(session_ports(prim)) - seen) >= 50, 90,
                            "new records at the primary again", rate=200)
            rc = s.stop()
            err = s.stderr()
            assert rc == 0, err
            total = s.sent
            wait_for(lambda: len(set(session_ports(prim)) | set(session_ports(back))) >= total,
                     30, "every record at one of the collectors")
            a, b = session_ports(prim), session_ports(back)
            missing = expected_ports(total) - set(a) - set(b)
            assert not missing, f"{len(missing)} records never arrived\n{err}"
            recs, sent, dropped, waiting = summary_line(err, out)
            assert (recs, dropped, waiting) == (total, 0, 0), (recs, sent, dropped, waiting)
            assert "output_failovers" in err and "records now go to" in err, err
            assert f"output {out}: members: tcp://127.0.0.1:{pa} " in err, err
            dups = len(a) + len(b) - total
            print(f"{total} records: {len(a)} at the primary, {len(b)} at the backup, "
                  f"{dups} sent twice")
        finally:
            if s.proc.poll() is None:
                s.kill()
            prim.stop()
            back.stop()


def case_failover_all_down_spool():
    """Every member of a fail-over group down: the group's spool keeps the records; the next
    run delivers them, first, to whichever member is up (here the backup)."""
    with tempfile.TemporaryDirectory() as d:
        pa, pb = free_port(), free_port()
        spool = f"{d}/spool"
        out = f"failover:tcp://127.0.0.1:{pa},tcp://127.0.0.1:{pb}"
        p1 = run_offline("--out", out, "--spool-dir", spool, "--out", "stdout")
        n1 = len(p1.stdout.splitlines())
        assert summary_line(p1.stderr, out) == (n1, 0, 0, n1), p1.stderr
        back = Rsyslog(d, [("imtcp", pb)]).start()
        try:
            p2 = run_offline("--out", out, "--spool-dir", spool, "--out", "stdout")
            n2 = len(p2.stdout.splitlines())
            assert "from an earlier run" in p2.stderr, p2.stderr
            assert summary_line(p2.stderr, out) == (n2, n1 + n2, 0, 0), p2.stderr
            back.wait_lines(n1 + n2)
            assert back.raw_lines() == p1.stdout.splitlines() + p2.stdout.splitlines()
        finally:
            back.stop()


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
