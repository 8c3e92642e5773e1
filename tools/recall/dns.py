"""Field-recall spec for the DNS dissector (tools/field_recall.py --proto dns).

Zeek: one dns.log row per query/response; key = the connection (endpoints in either order:
Zeek and we may pick the client differently for port 53 <-> port 53) and the transaction id;
rows with the same key pair in order.
Arkime: one session holds a list of DNS messages (dns[]): each is a truth item keyed by the
connection and the query name (lowercase).

Compared: query, qtype (number; Zeek's own names differ from IANA's: `*`, `query-65534`),
qclass, rcode (name), trans_id, the AA/TC/RD/RA flags, answers and TTLs (for a dynamic UPDATE,
Zeek's query and TTLs are those of the update section: compared with our `update` params). Zeek writes AA, TC and
RA as F for a query that got no response: those are not wire values and are not counted. Zeek
sets AA and RA only while it reads an answer record (DNS::do_reply), so for a response without
answers they are its default F, not the header's bits: counted only where Zeek lists answers. Of
Zeek's answers, the ones that are a bare address or name (A, AAAA, CNAME, PTR, NS, MX and SRV
targets) are compared; its text for other types ("RRSIG 5 cmu.edu", "TXT 127 ...") is Zeek's
own rendering. We write at most 32 answers per record, so a longer answer list misses.
"""

import ipaddress

import records  # noqa: F401  tests/integration/records.py (on the path field_recall.py sets)

MSGIDS = ["dns"]
ZEEK_LOGS = ["dns"]

_NAME_TYPES = {"CNAME", "PTR", "NS", "DNAME", "MB", "MD", "MF", "MG", "MR"}


def _conn(h1, p1, h2, p2):
    a, b = flow4(h1, p1, h2, p2)[:2], flow4(h1, p1, h2, p2)[2:]
    return tuple(sorted([a, b]))


def _flag(v):
    return {"T": "true", "F": "false"}.get(v)


def zeek_items(log_name, row):
    if log_name != "dns":
        return []
    key = ("zeek", _conn(row["id.orig_h"], row["id.orig_p"], row["id.resp_h"], row["id.resp_p"]),
           row["trans_id"])
    fields = {
        "query": row.get("query"),
        "qtype": row.get("qtype"),
        "qclass": row.get("qclass"),
        "trans_id": row.get("trans_id"),
        "rcode": row.get("rcode_name"),
        "RD": _flag(row.get("RD")),
    }
    if row.get("rcode_name") not in (None, "-"):
        fields["TC"] = _flag(row.get("TC"))
        # Zeek copies AA and RA from a response only while it reads an answer record
        # (base/protocols/dns/main.zeek, DNS::do_reply: `if ( ans$answer_type == DNS_ANS )`);
        # a response with no answer leaves its default F, whatever the header's bits.
        if row.get("answers") not in (None, "", "-", "(empty)"):
            for f in ("AA", "RA"):
                fields[f] = _flag(row.get(f))
    answers = [a for a in (row.get("answers") or "-").split(",") if a not in ("", "-") and " " not in a]
    if answers:
        fields["answers"] = answers
    ttls = [str(int(float(t))) for t in (row.get("TTLs") or "-").split(",") if t not in ("", "-")]
    if ttls:
        fields["TTLs"] = sorted(set(ttls))
    return [(key, fields)]


def arkime_items(body):
    out = []
    src, dst = body["source"], body["destination"]
    conn = _conn(src["ip"], src["port"], dst["ip"], dst["port"])
    entries = body.get("dns") or []
    if isinstance(entries, dict):
        entries = [entries]
    for e in entries:
        q = e.get("queryHost")
        if not q:
            continue
        if q == "<root>":
            q = "."
        fields = {"query": q, "qtype": e.get("qt"), "qclass": e.get("qc"), "rcode": e.get("status")}
        ips = e.get("ip") or []
        if ips:
            fields["ip"] = list(ips)
        flags = e.get("headerFlags")
        if flags:
            fields["flags"] = sorted(flags)
        out.append((("arkime", conn, q.lower(), e.get("qt")), fields))
    return out


def our_items(rec):
    fl = records.flow(rec)
    dns = next((v for k, v in rec["sd"].items() if k.startswith("dns@")), None)
    if dns is None:
        return []
    conn = _conn(fl["src"], fl["sport"], fl["dst"], fl["dport"])
    every = getattr(dns, "all", {})
    answers, ips, ttls = [], [], set()
    for a in every.get("answer", []):
        parts = a.split(" ", 2)
        if len(parts) < 2:
            continue
        typ, ttl = parts[0], parts[1]
        data = parts[2] if len(parts) > 2 else ""
        ttls.add(ttl)
        if typ in ("A", "AAAA"):
            answers.append(data)
            ips.append(data)
        elif typ in _NAME_TYPES:
            answers.append(data)
        elif typ in ("MX", "SRV") and data:
            answers.append(data.split(" ")[-1])
    # Arkime's `ip` holds the additional section's addresses too (glue); ours are `additional`
    # params, "<owner> <TYPE> <TTL> <address>".
    for a in every.get("additional", []):
        parts = a.split(" ")
        if len(parts) == 4 and parts[1] in ("A", "AAAA"):
            ips.append(parts[3])
    flags = sorted(f.upper() for f in ("aa", "tc", "rd", "ra", "ad", "cd") if dns.get(f) == "true")
    base = {
        "query": dns.get("query"),
        "qclass_name": dns.get("qclass"),
        "trans_id": dns.get("trans_id"),
        "rcode": dns.get("rcode"),
        "answers": answers,
        "TTLs": sorted(ttls),
    }
    zeek = dict(base, qtype=dns.get("qtype_num"), qclass=dns.get("qclass_num"),
                AA=dns.get("aa"), TC=dns.get("tc"), RD=dns.get("rd"), RA=dns.get("ra"))
    # A dynamic UPDATE: Zeek's dns.log shows the name being updated (the first update-section
    # record's owner) as `query` and the update records' TTLs; our `query` is the zone (the
    # question section on the wire) and the updates are `update` params,
    # "<op> <owner> <TYPE> <TTL>[ <RDATA>]".
    updates = [u.split(" ") for u in every.get("update", [])]
    if dns.get("opcode") == "UPDATE" and updates and len(updates[0]) >= 4:
        zeek["query"] = updates[0][1]
        zeek["TTLs"] = sorted({u[3] for u in updates if len(u) >= 4})
    arkime = dict(base, qtype=dns.get("qtype"), qclass=dns.get("qclass"), ip=ips, flags=flags)
    items = [(("zeek", conn, dns.get("trans_id")), zeek)]
    if dns.get("query"):
        # Arkime shows IDN names decoded (xn--... as Unicode).
        q = _idn(dns["query"])
        arkime["query"] = q
        items.append((("arkime", conn, q.lower(), dns.get("qtype")), arkime))
    return items


def _idn(name):
    if "xn--" not in name.lower():
        return name
    try:
        return name.encode("ascii").decode("idna")
    except (UnicodeError, ValueError):
        return name


def _ip(s):
    try:
        return str(ipaddress.ip_address(s))
    except ValueError:
        return s.lower()


def same(field, truth, ours):
    if isinstance(truth, list):
        have = set(ours) if isinstance(ours, (list, tuple, set)) else {ours}
        if field in ("answers", "ip"):
            have = {_ip(h) for h in have}
            return all(_ip(t) in have for t in truth)
        return all(t in have for t in truth)
    if field == "query":
        return truth == ours or truth.lower() == (ours or "").lower()
    if field == "rcode" and truth == "NOTIMPL":
        return ours == "NOTIMP"
    if field == "rcode" and truth == "BADSIG_VERS":  # Arkime's name for 16 (BADVERS/BADSIG)
        return ours in ("BADVERS", "BADSIG")
    return truth == ours


# Truth values we dispute (docs/protocols.md, "Disputed values"); see tools/field_recall.py.
DISPUTES = [
    dict(capture="v6-http.pcap", source="arkime", field=f, truth=v, ours=None,
         why="mDNS responses with no question section (qdcount 0): Arkime files the message "
             "under the root name; our record names it by its first answer's owner "
             "(`linux.local`, `...ip6.arpa`), with the same rcode and flags")
    for f, v in (("query", "."), ("rcode", "NOERROR"), ("flags", "AA"))
]
