"""Parses flowscribe's RFC 5424 records (the subset of the grammar flowscribe writes, strictly)
for the integration tests. Validation of the full grammar is rfc5424_check's job."""
import argparse
import collections
import json
import os
import re
import socket
import struct
import subprocess
import tempfile

HEADER = re.compile(
    r"^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) ")


class Params(dict):
    """An SD element's params: name -> last value (a dict), and `.all`: name -> every value in
    order (a record may repeat a param, e.g. one per DNS answer or certificate SAN)."""

    def __init__(self):
        super().__init__()
        self.all = {}

    def add(self, name, value):
        self[name] = value
        self.all.setdefault(name, []).append(value)


def _parse_sd(s, i):
    """Parses SD-ELEMENTs starting at s[i]; returns (dict of element -> params, index)."""
    elements = {}
    while i < len(s) and s[i] == "[":
        j = i + 1
        while s[j] not in " ]":
            j += 1
        sd_id = s[i + 1:j]
        params = Params()
        i = j
        while s[i] == " ":
            i += 1
            eq = s.index("=", i)
            name = s[i:eq]
            assert s[eq + 1] == '"', f"no quote after {name}="
            k = eq + 2
            val = []
            while True:
                c = s[k]
                if c == "\\" and k + 1 < len(s) and s[k + 1] in '"\\]':
                    val.append(s[k + 1])
                    k += 2
                    continue
                if c == '"':
                    break
                val.append(c)
                k += 1
            params.add(name, "".join(val))
            i = k + 1
        assert s[i] == "]", f"element {sd_id} not closed at {i}"
        elements[sd_id] = params
        i += 1
    return elements, i


def parse(line):
    m = HEADER.match(line)
    if not m:
        raise ValueError(f"not an RFC 5424 record: {line!r}")
    rec = {
        "pri": int(m.group(1)), "timestamp": m.group(2), "hostname": m.group(3),
        "app": m.group(4), "procid": m.group(5), "msgid": m.group(6),
    }
    rest = line[m.end():]
    if rest.startswith("-"):
        rec["sd"], i = {}, 1
    else:
        rec["sd"], i = _parse_sd(rest, 0)
    rec["msg"] = rest[i + 1:] if i < len(rest) else ""
    return rec


def flow(rec):
    """The flow@PEN element of a record."""
    for k, v in rec["sd"].items():
        if k.startswith("flow@"):
            return v
    raise KeyError("no flow@ element")


def element(rec, name):
    """The params of a record's `name`@PEN element (element(r, "tls") -> the tls@PEN params),
    or {} when the record has none."""
    return next((v for k, v in rec["sd"].items() if k.startswith(name + "@")), {})


def by_connection(stdout):
    """A run's records grouped per connection: {"PORT#N": {msgid: [records, in output order]}}
    where a connection is a (server port, client port) pair and "PORT#N" is the N-th connection
    to server port PORT, the connections in order of their session records' start times, ties
    by client port (a connection without a session record sorts first). The dict keeps that
    order; each connection's is a defaultdict(list): a msgid it has no records of reads as []."""
    per_flow = collections.defaultdict(lambda: collections.defaultdict(list))
    started = {}
    for line in stdout.splitlines():
        r = parse(line)
        fl = flow(r)
        k = (int(fl["dport"]), int(fl["sport"]))
        per_flow[k][r["msgid"]].append(r)
        if r["msgid"] == "session":
            started[k] = fl.get("start", "")
    keyed = {}
    seen = collections.Counter()
    for dport, sport in sorted(per_flow, key=lambda k: (started.get(k, ""), k[1])):
        seen[dport] += 1
        keyed[f"{dport}#{seen[dport]}"] = per_flow[(dport, sport)]
    return keyed



def check_golden_tsv(path, keyed, failures):
    """Compares connections grouped by by_connection() with a golden TSV file of lines
    `key <TAB> msgid <TAB> field <TAB> value` (key "PORT#N", or "PORT#N/POS" for the x509
    record of the certificate at chain position POS; msgid "session" is the flow's session
    record; value "absent" says the connection must have no record of that msgid). Appends a
    line per difference to `failures`; returns the number of golden lines checked."""
    checked = 0
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if line.startswith("#") or not line.strip():
                continue
            key, msgid, field, value = line.rstrip("\n").split("\t")
            flow_key, _, pos = key.partition("/")
            if flow_key not in keyed:
                failures.append(f"golden:{n}: no records for {flow_key}")
                continue
            recs = keyed[flow_key]
            checked += 1
            if value == "absent":
                if recs[msgid]:
                    failures.append(f"golden:{n}: {key}: {len(recs[msgid])} {msgid} records, expected none")
                continue
            if msgid == "session":
                cand = [flow(r) for r in recs["session"]]
            elif msgid == "tls":
                cand = [element(r, "tls") for r in recs["tls"]]
            else:
                cand = [element(r, "x509") for r in recs["x509"] if element(r, "x509").get("pos") == pos]
            if not cand:
                failures.append(f"golden:{n}: {key}: no {msgid} record")
                continue
            got = cand[0].get(field)
            if got != value:
                failures.append(f"golden:{n}: {key} {msgid}.{field}: got {got!r}, want {value!r}")
    return checked

def capture_args(pcap_flag="--captures"):
    """The command line of a golden-file test: --bin FLOWSCRIBE --check RFC5424_CHECK, the
    capture directory (or file: pcap_flag="--pcap") and --update (rewrite the golden file)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--check", required=True)
    ap.add_argument(pcap_flag, required=True)
    ap.add_argument("--update", action="store_true")
    return ap


def dpdk_runtime_dir(prefix):
    """Where DPDK keeps the runtime files (and the telemetry socket) of --file-prefix PREFIX."""
    base = "/var/run" if os.getuid() == 0 else os.environ.get("XDG_RUNTIME_DIR", "/tmp")
    return os.path.join(base, "dpdk", prefix)


def telemetry(prefix, command):
    """Asks a running flowscribe's DPDK telemetry socket (--file-prefix PREFIX) for `command`
    (e.g. "/flowscribe/stats"); returns the reply's value (a dict for flowscribe's commands)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        s.settimeout(10)
        s.connect(os.path.join(dpdk_runtime_dir(prefix), "dpdk_telemetry.v2"))
        s.recv(1 << 16)  # the greeting: version, pid, max output length
        s.send(command.encode())
        return json.loads(s.recv(1 << 20))[command]
    finally:
        s.close()


def built_capture_args():
    """The command line of a test that builds its capture at run time: --bin FLOWSCRIBE
    --check RFC5424_CHECK."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--check", required=True)
    return ap.parse_args()


class Checks:
    """Collects a test's failed expectations: want() each, then exit(finish(message))."""

    def __init__(self):
        self.failures = []

    def want(self, what, got, expect):
        if got != expect:
            self.failures.append(f"{what}: {got!r}, want {expect!r}")

    def fail(self, what):
        self.failures.append(what)

    def finish(self, ok_message):
        """Prints the failures (exit status 1) or `ok_message` (0)."""
        if self.failures:
            print("\n".join(self.failures))
            return 1
        print(ok_message)
        return 0


def collect(stdout, kinds, tag=True):
    """The records of the msgids in `kinds` from a run's output, in output order: each a dict
    {"msgid" (when `tag`), "ts", "client" ("ip:port"), "server", <msgid>: the params of its
    <msgid>@PEN element}. Also returns each client's session proto and the sids seen per
    client: (records, {client: proto}, {client: {sid}})."""
    got, sessions, sids = [], {}, {}
    for line in stdout.splitlines():
        r = parse(line)
        fl = flow(r)
        client = f"{fl['src']}:{fl['sport']}"
        m = r["msgid"]
        if m == "session":
            sessions[client] = fl.get("proto")
        elif m in kinds:
            el = next(v for k, v in r["sd"].items() if k.startswith(m + "@"))
            g = {"msgid": m} if tag else {}
            g.update({"ts": r["timestamp"], "client": client,
                      "server": f"{fl['dst']}:{fl['dport']}", m: el})
            got.append(g)
            sids.setdefault(client, set()).add(fl.get("sid"))
    return got, sessions, sids


def run_capture(binary, check, pcap, *extra):
    """Runs flowscribe on `pcap` (records to stdout), fails the test unless it exits 0 and every
    line passes the RFC 5424 checker `check` (skipped when empty); returns the process."""
    p = subprocess.run([binary, "--pcap", pcap, "--sensor-name", "test-sensor", *extra],
                       capture_output=True, text=True, timeout=120, errors="surrogateescape")
    if p.returncode != 0:
        raise SystemExit(f"{pcap}: flowscribe exit {p.returncode}: {p.stderr.strip()[-500:]}")
    if check:
        with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False,
                                         errors="surrogateescape") as f:
            f.write(p.stdout)
        try:
            c = subprocess.run([check, f.name], capture_output=True, text=True)
            if c.returncode != 0:
                raise SystemExit(f"{pcap}: records break RFC 5424:\n{c.stdout}{c.stderr}")
        finally:
            os.unlink(f.name)
    return p


def check_golden(got, golden, update, what="records"):
    """Compares `got` (a list of JSON-able dicts, in order) with the JSON lines of `golden`, or
    rewrites the file when `update`; prints the result and returns the exit status."""
    if update:
        with open(golden, "w", encoding="utf-8") as f:
            for g in got:
                f.write(json.dumps(g, ensure_ascii=False, sort_keys=True) + "\n")
        print(f"wrote {len(got)} {what} to {golden}")
        return 0
    with open(golden, encoding="utf-8") as f:
        want = [json.loads(line) for line in f if line.strip()]
    failures = []
    for i in range(max(len(want), len(got))):
        w = want[i] if i < len(want) else None
        g = got[i] if i < len(got) else None
        if w != g:
            failures.append(f"record {i}:\n  expected {json.dumps(w, ensure_ascii=False)}\n"
                            f"  got      {json.dumps(g, ensure_ascii=False)}")
    if failures:
        print(f"{len(failures)} of {len(want)} {what} differ:")
        print("\n".join(failures))
        return 1
    print(f"{len(got)} {what} match {golden}")
    return 0


def counters(stderr):
    """The counters of flowscribe's end-of-run summary (stderr): {name: value}."""
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r"^flowscribe:\s+(\w+)\s+(\d+)\s", stderr, re.M)}


def read_pcap(path):
    """A little-endian microsecond Ethernet pcap: (its 24-byte header, [[sec, usec, frame]])."""
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    assert magic == 0xA1B2C3D4, "little-endian microsecond pcap expected"
    linktype = struct.unpack("<I", data[20:24])[0]
    assert linktype == 1, "Ethernet expected"
    out, off = [], 24
    while off + 16 <= len(data):
        sec, usec, caplen, _ = struct.unpack("<IIII", data[off:off + 16])
        out.append([sec, usec, data[off + 16:off + 16 + caplen]])
        off += 16 + caplen
    return data[:24], out


def write_pcap(path, header, pkts, wire_lens=None):
    """Writes [[sec, usec, frame]] after `header`; `wire_lens[i]`, when given, is packet i's
    length on the wire (a frame shorter than it was cut by the capture)."""
    with open(path, "wb") as f:
        f.write(header)
        for i, (sec, usec, frame) in enumerate(pkts):
            wire = wire_lens[i] if wire_lens else len(frame)
            f.write(struct.pack("<IIII", sec, usec, len(frame), wire) + frame)


def inet_csum(data):
    """The Internet checksum (RFC 1071) of `data` (IP headers, TCP with its pseudo-header)."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def tcp_frame(src, dst, sport, dport, seq, ack, flags, payload=b""):
    """An Ethernet/IPv4/TCP frame with valid checksums; `src`/`dst` are 4-byte addresses. The
    MACs are fixed (02:00:00:00:00:02 <- 02:00:00:00:00:01), the window 65535, DF set."""
    tcp = struct.pack(">HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    pseudo = src + dst + struct.pack(">BBH", 0, 6, len(tcp) + len(payload))
    tcp = tcp[:16] + struct.pack(">H", inet_csum(pseudo + tcp + payload)) + tcp[18:]
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 1, 0x4000, 64, 6, 0,
                     src, dst)
    ip = ip[:10] + struct.pack(">H", inet_csum(ip)) + ip[12:]
    return b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + ip + tcp + payload
