"""Field-recall spec for the TLS dissector (tools/field_recall.py --proto tls).

Zeek ssl.log: one row per connection, key = the connection; fields version, cipher,
server_name, resumed, next_protocol (ALPN), ja3 (where the baseline has it), subject/issuer
(older baselines) and the leaf's fingerprint (first of cert_chain_fps).
Zeek x509.log: one row per certificate, key = its fingerprint (SHA-256, or SHA-1 in older
baselines): ours offers every x509 record under both of its fingerprints.
Arkime: sets per session (tls.version/cipher/ja3/ja3s/ja4, cert[] with subjectCN, issuerCN,
serial, notBefore/notAfter, alt, hash): each value is its own item keyed (flow, field, value)
for the tls fields and (flow, sha1) for a certificate.
Names (DNs, CNs) compare after undoing RFC 4514 hex-pair escapes (\\XX) on both sides: Zeek's
OpenSSL escapes every non-ASCII byte that way, we write UTF-8.
"""
import datetime
import re

import records  # tests/integration/records.py (on the path field_recall.py sets)

MSGIDS = ["tls", "x509"]
# ssl1_2.log / x5091_2.log: the dtls test's logs of its second capture (dtls1_2.pcap).
# ssl-all.log: several captures' ssl.log in one; only its DTLS 1.3 rows are taken (the
# dtls-13 test's; keyexchange's other rows are counted through their captures' own tests).
ZEEK_LOGS = ["ssl", "x509", "ssl1_2", "x5091_2", "ssl-all"]
ZEEK_LABELS = {"ssl1_2": "ssl", "ssl-all": "ssl", "x5091_2": "x509"}

ZEEK_VERSIONS = {"SSLv2": "SSLv2", "SSLv3": "SSLv3", "TLSv10": "TLSv1.0", "TLSv11": "TLSv1.1",
                 "TLSv12": "TLSv1.2", "TLSv13": "TLSv1.3", "DTLSv10": "DTLSv1.0", "DTLSv12": "DTLSv1.2",
                 "DTLSv13": "DTLSv1.3"}
ZEEK_SSL = {"cipher": "cipher", "server_name": "sni", "next_protocol": "alpn", "ja3": "ja3",
            "subject": "cert_subject", "issuer": "cert_issuer"}
ZEEK_X509 = {"certificate.version": "version", "certificate.serial": "serial",
             "certificate.subject": "subject", "certificate.issuer": "issuer",
             "certificate.key_alg": "key_alg", "certificate.sig_alg": "sig_alg",
             "certificate.key_type": "key_type", "certificate.key_length": "key_bits",
             "certificate.curve": "curve"}
ZEEK_X509_SETS = {"san.dns": "san_dns", "san.uri": "san_uri", "san.email": "san_email", "san.ip": "san_ip"}
NAME_FIELDS = {"subject", "issuer", "cert_subject", "cert_issuer", "subject_cn", "issuer_cn"}
CASELESS = {"serial", "ja3", "ja3s", "ja4", "sha1", "sha256", "cert_sha256", "key_type"}


def _rfc3339(epoch):
    return datetime.datetime.fromtimestamp(float(epoch), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _unhex(s):
    """RFC 4514 hex pairs (\\XX) to the bytes, read as UTF-8."""
    b = re.sub(rb"\\([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), s.encode("utf-8", "surrogateescape"))
    return b.decode("utf-8", "replace")


def same(field, truth, ours):
    if isinstance(truth, (list, tuple, set)):
        have = set(ours) if isinstance(ours, (list, tuple, set)) else {ours}
        if field in ("subject_cn", "issuer_cn"):  # Arkime lists every CN, lowercased; we write the last
            return any(_unhex(t).lower() in {_unhex(h).lower() for h in have} for t in truth)
        if field in ("san", "san_dns"):  # Arkime lowercases DNS names (RFC 4343: caseless)
            low = {h.lower() for h in have}
            return all(t.lower() in low for t in truth)
        return all(t in have for t in truth)
    if isinstance(ours, (list, tuple, set)):
        return truth in ours
    if field in NAME_FIELDS:
        # Zeek's log writes a backslash of OpenSSL's DN escapes (\0D) doubled.
        return _unhex(truth.replace("\\\\", "\\")) == _unhex(ours)
    if field == "serial":
        # Arkime writes the DER INTEGER's content bytes, with the 00 sign byte before a first
        # byte >= 0x80 (00b27e45...); OpenSSL, Zeek and we write the number (B27E45...).
        t = truth.lower()
        if len(t) > 2 and t.startswith("00") and t[2] in "89abcdef":
            t = t[2:]
        return t == ours.lower()
    if field in CASELESS:
        return truth.lower() == ours.lower()
    return truth == ours


def zeek_items(log_name, row):
    if log_name == "ssl-all" and row.get("version") != "DTLSv13":
        return []
    log_name = ZEEK_LABELS.get(log_name, log_name)
    if log_name == "ssl":
        try:
            key = ("zeek",) + flow4(row["id.orig_h"], row["id.orig_p"], row["id.resp_h"], row["id.resp_p"])
        except (KeyError, ValueError):
            return []
        fields = {}
        v = row.get("version")
        if v and v in ZEEK_VERSIONS:
            fields["version"] = ZEEK_VERSIONS[v]
        for col, ours in ZEEK_SSL.items():
            if row.get(col) not in (None, "", "-", "(empty)"):
                fields[ours] = row[col]
        if row.get("resumed") == "T":
            fields["resumed"] = "true"
        fps = row.get("cert_chain_fps")
        if fps and fps not in ("-", "(empty)"):
            fields["cert_sha256"] = fps.split(",")[0]
        return [(key, fields)]
    if log_name == "x509":
        fp = row.get("fingerprint")
        if not fp or fp == "-":
            return []
        fields = {}
        for col, ours in ZEEK_X509.items():
            if row.get(col) not in (None, "", "-", "(empty)"):
                fields[ours] = row[col]
        for col, ours in ZEEK_X509_SETS.items():
            v = row.get(col)
            if v not in (None, "", "-", "(empty)"):
                fields[ours] = v.split(",")
        for col, ours in (("certificate.not_valid_before", "not_before"),
                          ("certificate.not_valid_after", "not_after")):
            v = row.get(col)
            if v not in (None, "", "-") and "X" not in v:
                fields[ours] = _rfc3339(v)
        ca = row.get("basic_constraints.ca")
        if ca in ("T", "F"):
            fields["ca"] = "true" if ca == "T" else "false"
        return [(("x509", fp.lower()), fields)]
    return []


def arkime_items(body):
    src, dst = body.get("source", {}), body.get("destination", {})
    try:
        flow = flow4(src["ip"], src["port"], dst["ip"], dst["port"])
    except (KeyError, ValueError):
        return []
    out = []
    t = body.get("tls") or {}
    for col, ours in (("version", "version"), ("cipher", "cipher"), ("ja3", "ja3"), ("ja3s", "ja3s"),
                      ("ja4", "ja4")):
        for v in t.get(col, []) or []:
            v = {"TLSv1": "TLSv1.0"}.get(str(v), str(v)) if col == "version" else str(v)
            if col == "version":
                v = v.replace("-draft-", "-draft")  # Arkime's TLSv1.3-draft-18 is our TLSv1.3-draft18
            out.append(((flow, ours, v.lower()), {ours: v}))
    for c in body.get("cert", []) or []:
        h = (c.get("hash") or "").replace(":", "").lower()
        if not h:
            continue
        fields = {}
        if c.get("subjectCN"):
            fields["subject_cn"] = list(c["subjectCN"])
        if c.get("issuerCN"):
            fields["issuer_cn"] = list(c["issuerCN"])
        if c.get("serial"):
            fields["serial"] = str(c["serial"])
        for col, ours in (("notBefore", "not_before"), ("notAfter", "not_after")):
            if c.get(col) is not None:
                fields[ours] = _rfc3339(c[col] / 1000)
        if c.get("alt"):
            fields["san"] = [str(a) for a in c["alt"]]
        out.append(((flow, "cert", h), fields))
    return out


def our_items(rec):
    fl = records.flow(rec)
    flow = flow4(fl["src"], fl["sport"], fl["dst"], fl["dport"])
    out = []
    if rec["msgid"] == "tls":
        t = next((v for k, v in rec["sd"].items() if k.startswith("tls@")), {})
        out.append((("zeek",) + flow, dict(t)))
        for f in ("version", "cipher", "ja3", "ja3s", "ja4"):
            if f in t:
                out.append(((flow, f, t[f].lower()), {f: t[f]}))
        return out
    x = next((v for k, v in rec["sd"].items() if k.startswith("x509@")), {})
    fields = dict(x)
    for f in ("san_dns", "san_uri", "san_email", "san_ip"):
        if f in fields:
            # A long list is several params of the same name (docs/records.md, x509).
            fields[f] = ",".join(x.all[f]).split(",")
    fields["san"] = fields.get("san_dns", []) + fields.get("san_ip", [])
    for fp in (x.get("sha256"), x.get("sha1")):
        if fp:
            out.append((("x509", fp), fields))
    if x.get("sha1"):
        out.append(((flow, "cert", x["sha1"]), fields))
    return out


# Truth values we dispute, each checked against the capture's bytes (docs/protocols.md,
# "Disputed values"); see tools/field_recall.py for how a dispute is matched.
DISPUTES = [
    dict(capture="openvpn_synthetic.pcap", source="arkime", field="ja4",
         truth="q12d030200_f81807f6db74_b9a491fefe05", ours=None,
         why="TLS inside OpenVPN's control channel over UDP: JA4's first letter is q for QUIC, d "
             "for DTLS, t for TLS; this handshake is a TLS stream, neither QUIC nor DTLS, and ours "
             "is t12d030200_f81807f6db74_b9a491fefe05 (the rest equal); Arkime writes q for any "
             "UDP session"),
    dict(capture="arkime_synthetic.pcap", source="arkime", field="ja3s",
         truth="e8c07683aecf9b16e8e33f10a5161e4e", ours=None,
         why="the ServerHello's extension block is 1 byte long (`00 01 00`), too short for one "
             "extension: a malformed hello; a JA3S of it (`771,4865,`) would equal that of a "
             "well-formed hello without extensions, so we write none (counted "
             "in tls_hello_malformed)"),
]
