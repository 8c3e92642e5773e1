#!/usr/bin/env python3
"""Measure flowscribe's application-protocol labels against ground truth.

usage: proto_eval.py --bin FLOWSCRIBE [--expected TSV] [--zeek DIR] [--arkime DIR] [options]
       proto_eval.py [--expected TSV] [--zeek DIR] [--arkime DIR] --truth-only

Runs `FLOWSCRIBE --pcap F --sensor-name eval` on every capture that has labelled flows,
reads the `session` records from stdout, finds each labelled flow's record by its 5-tuple
(either orientation) and compares the record's proto="..." with the label.

Ground truth (any mix of the three):
  --expected TSV   our own format (tests/captures/proto/expected.tsv): one line per flow,
                   capture<TAB>transport<TAB>client_ip<TAB>client_port<TAB>server_ip<TAB>
                   server_port<TAB>proto; capture paths are relative to the TSV's folder.
  --zeek DIR       Zeek's test suite: each test (scripts/**/*.zeek|*.test) names its
                   captures in `@TEST-EXEC: zeek ... -r $TRACES/<path>`; the test's
                   Baseline/<test.dotted.name>/conn.log gives `service` per connection
                   (empty service = not analysed: not counted). With --zeek-logs (default)
                   the protocol logs of the same baseline (http.log, ssl.log, dns.log, ...)
                   label connections that conn.log does not list; --zeek-conn-only turns
                   that off. See ZEEK_SERVICE / ZEEK_LOGS below for the name mapping.
  --arkime DIR     Arkime's test suite: <name>.pcap with <name>.test (JSON, sessions3[].body
                   with source/destination ip+port and protocol[]). See ARKIME_* below.

Counting: for each labelled flow found in flowscribe's output, flowscribe's name is
`correct` (equal to the label), `unknown` (proto="unknown": not wrong, just not correct) or
`wrong` (any other name). A labelled flow with no record is `missing` and is left out of the
percentages (that is a flow-tracking problem, not a naming one). Per protocol P:
  recall    = correct(P) / (flows labelled P that were found)
  precision = correct(P) / (found flows flowscribe named P, whatever their label)
Overall, over found flows whose label is a covered protocol (--covered): % named correctly,
% named wrongly. Flows labelled `unknown` (traffic of no known protocol) count separately:
how many of them flowscribe gave a protocol name.

A capture flowscribe refuses (non-zero exit with no records, or a timeout) is skipped and
listed with the reason; it never stops the run. Exit status 0 unless the arguments are bad.
"""
import argparse
import collections
import concurrent.futures
import gzip
import importlib.util
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

# The names the classifier is expected to use (docs: the brief's wire names).
def _claimed_protocols():
    """Every protocol flowscribe claims to name: the wire names in common/app_proto.h."""
    import os
    import re
    header = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common", "app_proto.h")
    try:
        with open(header, encoding="utf-8") as f:
            names = re.findall(r'X\(k\w+, \d+, "([a-z0-9.-]+)"\)', f.read())
    except OSError:
        names = []
    return [n for n in names if n != "unknown"] or ["http", "tls", "ssh", "dns"]


# The covered protocols are all the protocols flowscribe claims, so the overall figure counts
# every labelled flow it should have named (not only the ones it names well).
COVERED_DEFAULT = _claimed_protocols()

TRANSPORTS = {"6": "tcp", "17": "udp", "tcp": "tcp", "udp": "udp"}

# ---------------------------------------------------------------- name mappings
# Zeek `service` names -> ours. DROP: the connection is not a labelled flow at all
# (data channels, tunnels whose outer flow we do not name). AUX: names Zeek adds beside
# the main protocol (an auth mechanism, STARTTLS's TLS); dropped when another name is left.
ZEEK_SERVICE = {
    "http": "http", "ssl": "tls", "dtls": "dtls", "dns": "dns", "ssh": "ssh", "smtp": "smtp",
    "ftp": "ftp", "gridftp": "ftp", "mysql": "mysql", "postgresql": "postgresql", "rdp": "rdp",
    "rdpeudp": "rdp", "rfb": "vnc", "smb": "smb", "krb": "kerberos", "krb_tcp": "kerberos",
    "ntp": "ntp", "dhcp": "dhcp", "snmp": "snmp", "sip": "sip", "irc": "irc", "imap": "imap",
    "pop3": "pop3", "ldap": "ldap", "ldap_tcp": "ldap", "ldap_udp": "ldap", "socks": "socks",
    "syslog": "syslog", "radius": "radius", "dce_rpc": "dcerpc", "modbus": "modbus",
    "dnp3_tcp": "dnp3", "dnp3_udp": "dnp3", "mqtt": "mqtt", "xmpp": "xmpp", "quic": "quic",
    "websocket": "http", "nfs": "nfs", "portmapper": "rpcbind", "mount": "mount",
    "redis": "redis", "telnet": "telnet", "finger": "finger", "bittorrent": "bittorrent",
    "ntlm": "ntlm", "gssapi": "gssapi",
}
ZEEK_DROP = {"ftp-data", "gridftp-data", "irc-dcc-data", "ayiya", "teredo", "gtpv1", "vxlan",
             "geneve"}
ZEEK_AUX = {"tls", "ntlm", "gssapi", "kerberos"}
# A connection that only ssl.log lists, in a test of one of these protocols, is that
# protocol upgraded to TLS (STARTTLS, MySQL/PostgreSQL SSL request, RDP's TLS): the
# flow starts in the clear, so it is labelled with the test's protocol.
ZEEK_STARTTLS_TESTS = {"mysql", "postgresql", "imap", "pop3", "smtp", "ftp", "ldap", "rdp", "xmpp"}
MDNS_GROUPS = {"224.0.0.251", "ff02::fb"}
# Zeek protocol logs (by the name before .log/.cut) -> the label of every connection in it.
# A STARTTLS connection is in ssl.log and in its protocol's log: tls ranks last.
ZEEK_LOGS = {
    "http": "http", "dns": "dns", "ssh": "ssh", "smtp": "smtp", "ftp": "ftp", "mysql": "mysql",
    "postgresql": "postgresql", "rdp": "rdp", "rfb": "vnc", "smb_files": "smb",
    "smb_mapping": "smb", "smb_cmd": "smb", "sip": "sip", "snmp": "snmp", "ntp": "ntp",
    "radius": "radius", "irc": "irc", "socks": "socks", "syslog": "syslog", "dhcp": "dhcp",
    "kerberos": "kerberos", "modbus": "modbus", "dnp3": "dnp3", "mqtt": "mqtt", "ldap": "ldap",
    "ssl": "tls",
}

# Arkime protocol[] names -> ours. IGNORE: transports, encapsulations, rule tags, link layer.
ARKIME_IGNORE = {"tcp", "udp", "icmp", "sctp", "esp", "gre", "gtp", "geneve", "vxlan",
                 "vxlan-gpe", "mpls", "ppp", "pppoe", "arp", "igmp", "ospf", "pim", "isis",
                 "lldp", "xid", "corrupt-ether", "corrupt-ip", "unknown-ether", "unknown-ip",
                 "iprulztest", "tlsrulestest", "socksipset"}
ARKIME_NAME = {"krb5": "kerberos", "mongo": "mongodb", "isakmp": "ike"}
# DCE/RPC interfaces Arkime names beside dcerpc.
ARKIME_DCERPC = {"lsarpc", "samr", "netlogon", "svcctl", "srvsvc", "atsvc", "winreg", "efsrpc",
                 "efsr", "wkssvc", "dssetup", "epmapper", "itaskscheduler", "iremunknown",
                 "iremunknown2", "isystemactivator", "drsuapi"}
# Names carried inside another one of the same session: dropped when another name is left.
ARKIME_INNER = {"tls", "ntlm", "adcs-web", "adcs-ndes", "adcs-cep", "adcs-ces", "winrm",
                "rpc-over-http", "websocket", "http2", "s7comm-plus", "cip", "thrift", "fbzero",
                "camel", "sccp", "isup", "tup", "nbds"}


def zeek_label(service):
    """Zeek's service field -> (label or None, why-not)."""
    names = [s for s in service.split(",") if s and s not in ("-", "(empty)")]
    if not names:
        return None, "not analysed"
    if any(n in ZEEK_DROP for n in names):
        return None, "data or tunnel connection"
    mapped = [ZEEK_SERVICE.get(n, n.lower()) for n in names]
    main = [m for m in mapped if m not in ZEEK_AUX] or mapped
    return main[0], None


def arkime_label(protocols, payload8=""):
    """Arkime's protocol[] (and the first 8 client bytes, hex) -> our label or None."""
    names = []
    for p in protocols:
        p = p.lower()
        if p in ARKIME_IGNORE:
            continue
        p = ARKIME_NAME.get(p, p)
        if p in ARKIME_DCERPC:
            p = "dcerpc"
        if p not in names:
            names.append(p)
    if not names:
        return None
    if "socks" in names:          # SOCKS wraps whatever Arkime saw inside it
        return "socks"
    if "sip" in names:            # Arkime's http parser also tags SIP (same text shape)
        return "sip"
    if "http2" in names and "tls" in names:   # h2 negotiated by ALPN: the flow is TLS
        return "tls"
    if "http2" in names and "http" in names:  # h2c: prior knowledge starts "PRI * HTTP/2.0"
        return "http2" if payload8.lower().startswith("505249202a20") else "http"
    main = [n for n in names if n not in ARKIME_INNER] or names
    return main[0]


# ---------------------------------------------------------------- small helpers

def norm_ip(s):
    try:
        return str(ipaddress.ip_address(s.strip().strip("[]")))
    except ValueError:
        return None


def flow_key(transport, ip1, port1, ip2, port2):
    """Orientation-free key; transport None matches tcp and udp (logs without a proto column)."""
    a, b = (norm_ip(ip1), int(port1)), (norm_ip(ip2), int(port2))
    if a[0] is None or b[0] is None:
        return None
    return (transport,) + tuple(sorted((a, b)))


class Entry:
    __slots__ = ("capture", "key", "label", "client", "server", "source", "origin")

    def __init__(self, capture, transport, cip, cport, sip, sport, label, source, origin):
        self.capture = capture
        self.key = flow_key(transport, cip, cport, sip, sport)
        self.client = (norm_ip(cip), int(cport))
        self.server = (norm_ip(sip), int(sport))
        self.label = label
        self.source = source
        self.origin = origin

    def where(self):
        t = self.key[0] or "tcp/udp"
        return "%s %s %s:%d -> %s:%d" % (os.path.basename(self.capture), t, self.client[0],
                                          self.client[1], self.server[0], self.server[1])


def load_flows_py():
    """tests/captures/flows.py (stdlib ground-truth flow lister), or None."""
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "tests", "captures", "flows.py")
    if not os.path.exists(path):
        return None
    spec = importlib.util.spec_from_file_location("fs_flows", path)
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
    except Exception:  # noqa: BLE001 - a broken helper only loses a heuristic
        return None
    return mod


_FLOWS_CACHE = {}


def capture_flow_keys(flows_mod, path):
    """{key: transport} of the tcp/udp flows flows.py finds in a capture (cached)."""
    if path in _FLOWS_CACHE:
        return _FLOWS_CACHE[path]
    keys = {}
    if flows_mod is not None:
        try:
            _, lines = flows_mod.flows_of(path, False)
        except Exception:  # noqa: BLE001
            lines = []
        for line in lines[1:]:
            f = line.split()
            if f[0] in ("tcp", "udp"):
                keys[flow_key(f[0], f[1], f[2], f[3], f[4])] = f[0]
    _FLOWS_CACHE[path] = keys
    return keys


# ---------------------------------------------------------------- ground truth: ours

def load_expected(path, notes):
    base = os.path.dirname(os.path.abspath(path))
    out = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 7:
                notes.append("%s:%d: expected 7 tab-separated fields" % (path, n))
                continue
            cap, t, cip, cp, sip, sp, label = parts
            e = Entry(os.path.join(base, cap), TRANSPORTS.get(t, t), cip, cp, sip, sp, label,
                      "expected", cap)
            if e.key is None:
                notes.append("%s:%d: bad address" % (path, n))
                continue
            out.append(e)
    return out


# ---------------------------------------------------------------- ground truth: Zeek

TRACE_RE = re.compile(r"\$\{?TRACES\}?/([^\s'\"|;>)&]+)")


def read_zeek_log(path):
    """Rows of a Zeek log or a zeek-cut -m output, as dicts (None if no header)."""
    fields, rows = None, []
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#fields\t"):
                fields = line.split("\t")[1:]
                continue
            if line.startswith("#") or not line.strip():
                continue
            cols = line.split("\t")
            if fields is None:
                if any(c in ("uid", "id.orig_h", "service", "ts") for c in cols):
                    fields = cols          # zeek-cut -m: the first line names the columns
                    continue
                return None
            if len(cols) == len(fields):
                rows.append(dict(zip(fields, cols)))
    return rows if fields is not None else None


def log_kind(filename):
    for tok in filename.split("."):
        for cand in (tok, tok.split("-")[0]):
            if cand == "conn" or cand in ZEEK_LOGS:
                return cand
    return None


def zeek_tests(root):
    scripts = os.path.join(root, "scripts")
    for dirpath, _, files in os.walk(scripts):
        for fn in sorted(files):
            if fn.endswith((".zeek", ".test")):
                yield os.path.join(dirpath, fn)


def load_zeek(root, use_logs, flows_mod, tmpdir, notes, stats):
    traces = os.path.join(root, "Traces")
    baseline = os.path.join(root, "Baseline")
    bl_dirs = set(os.listdir(baseline)) if os.path.isdir(baseline) else set()
    truth = {}   # (capture, key) -> Entry
    tests = {os.path.splitext(os.path.relpath(t, root))[0].replace(os.sep, "."): t
             for t in zeek_tests(root)}
    for name, test in sorted(tests.items()):
        with open(test, errors="replace") as f:
            text = f.read()
        # btest's @TEST-START-NEXT repeats a test as <name>-2, <name>-3, ... (but
        # psql-aws-ssl-disable-15432 is a test of its own, not a repeat)
        dirs = [d for d in bl_dirs if d == name or (
            "@TEST-START-NEXT" in text and d not in tests and re.fullmatch(re.escape(name) + r"-\d+", d))]
        if not dirs:
            stats["tests without baseline"] += 1
            continue
        caps = []
        for line in text.splitlines():
            if "@TEST-EXEC" in line:
                for m in TRACE_RE.finditer(line):
                    p = os.path.join(traces, m.group(1))
                    if p not in caps:
                        caps.append(p)
        real = []
        for p in caps:
            if not os.path.exists(p):
                notes.append("zeek %s: trace %s not in the corpus" % (name, os.path.relpath(p, root)))
                continue
            if p.endswith(".gz"):
                out = os.path.join(tmpdir, os.path.relpath(p, traces).replace(os.sep, "_")[:-3])
                if not os.path.exists(out):
                    with gzip.open(p, "rb") as src, open(out, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                p = out
            real.append(p)
        if not real:
            stats["tests without traces"] += 1
            continue
        stats["tests used"] += 1
        # (key) -> (rank, label, source); lower rank wins: conn.log 0, protocol log 1, ssl.log 2
        found = {}
        uid_only = []
        for d in sorted(dirs):
            for fn in sorted(os.listdir(os.path.join(baseline, d))):
                kind = log_kind(fn)
                if kind is None or (kind != "conn" and not use_logs):
                    continue
                rows = read_zeek_log(os.path.join(baseline, d, fn))
                if not rows:
                    continue
                has_ids = all(c in rows[0] for c in ("id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p"))
                for r in rows:
                    if kind == "conn":
                        if "service" not in r:
                            break
                        label, _ = zeek_label(r["service"])
                        if not has_ids:
                            uid_only.append(label)
                            continue
                        if label is None:
                            continue
                        rank, source = 0, "zeek-conn"
                    else:
                        if not has_ids:
                            break
                        label, rank, source = ZEEK_LOGS[kind], (2 if kind == "ssl" else 1), "zeek-" + kind
                        if kind == "ssl" and r.get("version", "").startswith("DTLS"):
                            label = "dtls"
                    t = TRANSPORTS.get(r.get("proto", ""), None)
                    if t is None and kind == "conn" and r.get("proto") not in (None, "-"):
                        continue                      # icmp and others
                    key = flow_key(t, r["id.orig_h"], r["id.orig_p"], r["id.resp_h"], r["id.resp_p"])
                    if key is None:
                        continue
                    ends = (r["id.orig_h"], r["id.orig_p"], r["id.resp_h"], r["id.resp_p"])
                    old = found.get(key)
                    if old is None or rank < old[0]:
                        found[key] = (rank, label, source, ends)
                    elif rank == old[0] and label != old[1]:
                        found[key] = (rank, None, "conflict", ends)
        # A conn.log cut to `uid service history` has no addresses: label every tcp/udp flow
        # of the capture only when all rows agree and their count equals the flow count.
        if uid_only and not found and len(real) == 1:
            labels = set(uid_only)
            keys = capture_flow_keys(flows_mod, real[0])
            if len(labels) == 1 and None not in labels and len(keys) == len(uid_only):
                label = labels.pop()
                for key, t in keys.items():
                    (a, b) = key[1], key[2]
                    found[key] = (0, label, "zeek-conn-uid", (a[0], a[1], b[0], b[1]))
            else:
                stats["uid-only conn.logs not used"] += 1
        test_proto = name.split(".")[3] if name.startswith("scripts.base.protocols.") else ""
        for key, (rank, label, source, ends) in found.items():
            if label is None:
                stats["conflicting labels"] += 1
                continue
            cap, transport = real[0], key[0]
            for p in real:
                ks = capture_flow_keys(flows_mod, p)
                ts = [ks[k] for k in ks if k[1:] == key[1:] and (key[0] is None or k[0] == key[0])]
                if ts:
                    cap = p
                    if transport is None and len(set(ts)) == 1:
                        transport = ts[0]         # logs without a proto column
                    break
            if source == "zeek-ssl" and test_proto in ZEEK_STARTTLS_TESTS:
                label = ZEEK_SERVICE.get(test_proto, test_proto)
            elif label == "tls" and transport == "udp":
                label = "dtls"                    # ssl.log lists DTLS too
            elif label == "dns":
                ports = {int(ends[1]), int(ends[3])}
                if 5353 in ports and (norm_ip(ends[2]) in MDNS_GROUPS or ports == {5353}):
                    label = "mdns"
                elif 5355 in ports:
                    label = "llmnr"
            e = Entry(cap, transport, ends[0], ends[1], ends[2], ends[3], label, source, name)
            old = truth.get((cap, key))
            if old is not None and old.label != label:
                # Two tests read the same capture and disagree: conn.log beats a protocol
                # log; otherwise the flow is dropped (label None).
                old_conn, new_conn = old.source.startswith("zeek-conn"), source.startswith("zeek-conn")
                if old_conn == new_conn:
                    if old.label is not None:
                        stats["conflicting labels"] += 1
                    old.label = None
                if old_conn >= new_conn:
                    continue
            truth[(cap, key)] = e
    return [e for e in truth.values() if e.label is not None]


# ---------------------------------------------------------------- ground truth: Arkime

def load_arkime(root, notes, stats):
    out = []
    for fn in sorted(os.listdir(root)):
        if not fn.endswith(".test"):
            continue
        cap = os.path.join(root, fn[:-5] + ".pcap")
        if not os.path.exists(cap):
            notes.append("arkime %s: no capture" % fn)
            continue
        try:
            with open(os.path.join(root, fn)) as f:
                doc = json.load(f)
        except (OSError, ValueError) as exc:
            notes.append("arkime %s: %s" % (fn, exc))
            continue
        seen = {}
        for s in doc.get("sessions3", []) or []:
            b = s.get("body", {}) if isinstance(s, dict) else {}
            t = TRANSPORTS.get(str(b.get("ipProtocol", "")))
            src, dst = b.get("source", {}), b.get("destination", {})
            if t is None or "port" not in src or "port" not in dst:
                continue
            label = arkime_label(b.get("protocol", []) or [], str(b.get("srcPayload8", "")))
            if label is None:
                stats["sessions without a protocol"] += 1
                continue
            e = Entry(cap, t, src.get("ip", ""), src["port"], dst.get("ip", ""), dst["port"],
                      label, "arkime", fn[:-5])
            if e.key is None:
                continue
            if e.key in seen and seen[e.key].label != label:
                seen[e.key].label = None
                continue
            seen.setdefault(e.key, e)
        for e in seen.values():
            if e.label is None:
                stats["conflicting labels"] += 1
            else:
                out.append(e)
    return out


# ---------------------------------------------------------------- running flowscribe

def unescape(s):
    return re.sub(r'\\(["\\\]])', r"\1", s)


SD_PARAM = re.compile(r'([A-Za-z0-9_.-]+)="((?:[^"\\]|\\.)*)"')
HEADER = re.compile(r"^<\d{1,3}>1 \S+ \S+ \S+ \S+ (\S+) ")


def parse_sessions(stdout):
    """The flow@... parameters of every `session` record."""
    out = []
    for line in stdout.splitlines():
        m = HEADER.match(line)
        if not m or m.group(1) != "session":
            continue
        start = line.find("[flow@", m.end())
        if start < 0:
            continue
        params, i = {}, line.find(" ", start)
        while i >= 0:
            pm = SD_PARAM.match(line, i + 1)
            if not pm:
                break
            params[pm.group(1)] = unescape(pm.group(2))
            i = pm.end()
            if i >= len(line) or line[i] != " ":
                break
        out.append(params)
    return out


def run_one(args, pcap, job):
    cmd = [args.bin, "--pcap", pcap, "--sensor-name", "eval",
           "--file-prefix", "proto-eval-%d-%d" % (os.getpid(), job)] + args.extra
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, errors="replace",
                           timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return pcap, None, "timed out after %ds" % args.timeout
    except OSError as exc:
        return pcap, None, "cannot run: %s" % exc
    recs = parse_sessions(p.stdout)
    if p.returncode != 0 and not recs:
        err = [l for l in p.stderr.splitlines() if l.strip()]
        why = next((l for l in err if "error" in l.lower() or "fail" in l.lower()), err[-1] if err else "")
        return pcap, None, "exit %d: %s" % (p.returncode, why.strip()[:160])
    note = "exit %d with %d records" % (p.returncode, len(recs)) if p.returncode != 0 else None
    return pcap, recs, note


def index_records(recs):
    idx = collections.defaultdict(list)
    for r in recs:
        try:
            key = flow_key(r.get("transport"), r["src"], r["sport"], r["dst"], r["dport"])
        except (KeyError, ValueError):
            continue
        if key is None:
            continue
        idx[key].append(r.get("proto", "unknown"))
        idx[(None,) + key[1:]].append(r.get("proto", "unknown"))
    return idx


# ---------------------------------------------------------------- report

def flow_json(e, named):
    return dict(capture=e.capture, transport=e.key[0], client=list(e.client),
                server=list(e.server), label=e.label, named=named, source=e.source, origin=e.origin)


def pct(a, b):
    return "%.1f%%" % (100.0 * a / b) if b else "-"


def truth_counts(entries):
    by = collections.defaultdict(lambda: collections.Counter())
    caps = collections.defaultdict(set)
    for e in entries:
        by[e.label][e.source.split("-")[0]] += 1
        caps[e.label].add(e.capture)
    return by, caps


def print_truth(entries, notes, stats, out):
    by, caps = truth_counts(entries)
    sources = sorted({s for c in by.values() for s in c})
    out.write("Ground truth: %d labelled flows in %d captures\n" % (
        len(entries), len({e.capture for e in entries})))
    out.write("  %-12s %7s %8s  %s\n" % ("label", "flows", "captures", "  ".join("%8s" % s for s in sources)))
    for label in sorted(by, key=lambda l: (-sum(by[l].values()), l)):
        out.write("  %-12s %7d %8d  %s\n" % (label, sum(by[label].values()), len(caps[label]),
                                            "  ".join("%8d" % by[label][s] for s in sources)))
    for k, v in sorted(stats.items()):
        out.write("  (%s: %d)\n" % (k, v))


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", help="flowscribe binary")
    ap.add_argument("--expected", action="append", default=[], help="our expected.tsv (repeatable)")
    ap.add_argument("--zeek", help="Zeek corpus folder (Traces/, scripts/, Baseline/)")
    ap.add_argument("--zeek-conn-only", action="store_true",
                    help="Zeek: use only conn.log's service, not the protocol logs")
    ap.add_argument("--arkime", help="Arkime corpus folder (*.pcap + *.test)")
    ap.add_argument("--covered", default=",".join(COVERED_DEFAULT),
                    help="comma list of the protocols flowscribe is meant to name, or 'auto' "
                         "(every name it used); default: %(default)s")
    ap.add_argument("--timeout", type=int, default=60, help="seconds per flowscribe run (default 60)")
    ap.add_argument("-j", "--jobs", type=int, default=min(4, os.cpu_count() or 1),
                    help="flowscribe runs at once (default min(4, CPUs))")
    ap.add_argument("--extra", action="append", default=[], metavar="ARG",
                    help="extra argument for flowscribe (repeatable)")
    ap.add_argument("--list-wrong", action="store_true", help="print every misnamed flow")
    ap.add_argument("--list-unknown", action="store_true", help="print every labelled flow named unknown")
    ap.add_argument("--list-missing", action="store_true", help="print every labelled flow with no record")
    ap.add_argument("--truth-only", action="store_true", help="only count the ground truth")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = ap.parse_args(argv[1:])
    if not (args.expected or args.zeek or args.arkime):
        ap.error("give --expected, --zeek and/or --arkime")
    if not args.truth_only and not args.bin:
        ap.error("--bin is needed (or --truth-only)")
    if args.bin and not os.access(args.bin, os.X_OK):
        ap.error("%s is not an executable" % args.bin)

    notes, stats = [], collections.Counter()
    entries = []
    tmpdir = tempfile.mkdtemp(prefix="proto-eval-")
    try:
        for path in args.expected:
            entries += load_expected(path, notes)
        if args.zeek:
            entries += load_zeek(args.zeek, not args.zeek_conn_only, load_flows_py(), tmpdir, notes,
                                 stats)
        if args.arkime:
            entries += load_arkime(args.arkime, notes, stats)
        out = sys.stdout
        print_truth(entries, notes, stats, out)
        if args.truth_only:
            for n in notes:
                out.write("note: %s\n" % n)
            return 0

        captures = sorted({e.capture for e in entries})
        results, skipped, partial = {}, {}, {}
        with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
            futs = [pool.submit(run_one, args, c, i) for i, c in enumerate(captures)]
            for fut in concurrent.futures.as_completed(futs):
                pcap, recs, why = fut.result()
                if recs is None:
                    skipped[pcap] = why
                else:
                    results[pcap] = index_records(recs)
                    if why:
                        partial[pcap] = why

        rows = collections.defaultdict(collections.Counter)   # label -> counts
        named = collections.Counter()                          # name -> found flows named so
        used_names = set()
        wrong, unknown, missing = [], [], []
        n_skipped_flows = 0
        for e in entries:
            idx = results.get(e.capture)
            if idx is None:
                n_skipped_flows += 1
                continue
            got = idx.get(e.key)
            if not got:
                rows[e.label]["missing"] += 1
                missing.append(e)
                continue
            names = [g for g in got if g != "unknown"]
            if e.label in names:
                name = e.label
            elif names:
                name = collections.Counter(names).most_common(1)[0][0]
            else:
                name = "unknown"
            rows[e.label]["flows"] += 1
            if name != "unknown":
                named[name] += 1
                used_names.add(name)
            if name == e.label:
                rows[e.label]["correct"] += 1
            elif name == "unknown":
                rows[e.label]["unknown"] += 1
                unknown.append((e, name))
            else:
                rows[e.label]["wrong"] += 1
                wrong.append((e, name))

        covered = used_names if args.covered == "auto" else set(filter(None, args.covered.split(",")))
        out.write("\nflowscribe: %s\n" % args.bin)
        out.write("captures: %d run, %d skipped (%d labelled flows in them), %d with a non-zero exit\n" % (
            len(results), len(skipped), n_skipped_flows, len(partial)))
        hdr = "%-12s %6s %7s %6s %7s %7s %6s %9s %7s\n"
        out.write("\n" + hdr % ("proto", "flows", "correct", "wrong", "unknown", "missing", "fp",
                               "precision", "recall"))
        table = {}
        labels = sorted(set(rows) | set(named), key=lambda l: (l not in covered, -rows[l]["flows"], l))
        for label in labels:
            r = rows[label]
            if label == "unknown":     # not a name flowscribe can be right or wrong with
                fp, prec = "-", "-"
            else:
                fp, prec = named[label] - r["correct"], pct(r["correct"], named[label])
            rec = pct(r["correct"], r["flows"])
            mark = "" if label in covered or label == "unknown" else " *"
            out.write(hdr.rstrip("\n") % (label, r["flows"], r["correct"], r["wrong"], r["unknown"],
                                          r["missing"], fp, prec, rec) + mark + "\n")
            table[label] = dict(r, fp=fp, named=named[label])
        cov = [l for l in rows if l in covered]
        tot = sum(rows[l]["flows"] for l in cov)
        cor = sum(rows[l]["correct"] for l in cov)
        wr = sum(rows[l]["wrong"] for l in cov)
        unk_lab = rows.get("unknown", collections.Counter())
        out.write("\n(* = not a covered protocol; flows = labelled flows found in flowscribe's output)\n")
        out.write("Covered protocols (%s): %d flows\n" % (",".join(sorted(covered)) or "none", tot))
        out.write("  named correctly: %d (%s)\n" % (cor, pct(cor, tot)))
        out.write("  named wrongly:   %d (%s)\n" % (wr, pct(wr, tot)))
        out.write("  left unknown:    %d (%s)\n" % (tot - cor - wr, pct(tot - cor - wr, tot)))
        all_flows = sum(r["flows"] for l, r in rows.items() if l != "unknown")
        all_cor = sum(r["correct"] for l, r in rows.items() if l != "unknown")
        all_wr = sum(r["wrong"] for l, r in rows.items() if l != "unknown")
        out.write("All labelled protocols: %d flows, %s correct, %s wrong\n" % (
            all_flows, pct(all_cor, all_flows), pct(all_wr, all_flows)))
        out.write("Flows labelled unknown: %d, given a protocol name: %d\n" % (
            unk_lab["flows"], unk_lab["wrong"]))
        out.write("Labelled flows with no record: %d\n" % sum(r["missing"] for r in rows.values()))

        if skipped:
            out.write("\nSkipped captures:\n")
            for c in sorted(skipped):
                out.write("  %s: %s\n" % (c, skipped[c]))
        if partial:
            out.write("\nCaptures with a non-zero exit (records used):\n")
            for c in sorted(partial):
                out.write("  %s: %s\n" % (c, partial[c]))
        if args.list_wrong:
            out.write("\nMisnamed flows (label -> flowscribe):\n")
            for e, name in sorted(wrong, key=lambda x: (x[0].label, x[0].capture)):
                out.write("  %-10s -> %-10s %s  [%s %s]\n" % (e.label, name, e.where(), e.source, e.origin))
        if args.list_unknown:
            out.write("\nLabelled flows named unknown:\n")
            for e, _ in sorted(unknown, key=lambda x: (x[0].label, x[0].capture)):
                out.write("  %-10s %s  [%s %s]\n" % (e.label, e.where(), e.source, e.origin))
        if args.list_missing:
            out.write("\nLabelled flows with no record:\n")
            for e in sorted(missing, key=lambda x: (x.label, x.capture)):
                out.write("  %-10s %s  [%s %s]\n" % (e.label, e.where(), e.source, e.origin))
        if notes:
            out.write("\nNotes:\n")
            for n in notes:
                out.write("  %s\n" % n)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"per_protocol": table, "covered": sorted(covered),
                           "covered_flows": tot, "covered_correct": cor, "covered_wrong": wr,
                           "skipped": skipped, "partial": partial,
                           "wrong": [flow_json(e, n) for e, n in wrong],
                           "unknown": [flow_json(e, n) for e, n in unknown],
                           "missing": [flow_json(e, None) for e in missing]}, f, indent=1)
        return 0
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
