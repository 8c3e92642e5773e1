"""Field-recall spec for the HTTP dissector (tools/field_recall.py --proto http).

Zeek: one http.log row per request/response pair; key = the connection plus the pair's
position in it (items with the same key pair in order), so the n-th row of a connection is
compared with our n-th http record of that flow.
Arkime: one session with sets of values (host, method, status, user agent, URI...); each
value is its own truth item keyed (flow, field, value), and ours offers every record's values
under the same keys, so a value counts when any record of the flow carries it.
"""

import records  # tests/integration/records.py (on the path field_recall.py sets)

# tls: Arkime's TLS parser files the ClientHello's SNI under host.http too
# (capture/parsers/tls.c: hostField = field_by_exp("host.http")).
MSGIDS = ["http", "tls"]
ZEEK_LOGS = ["http"]

# Zeek http.log column -> our http@PEN param
ZEEK_FIELDS = {
    "method": "method",
    "host": "host",
    "uri": "uri",
    "user_agent": "user_agent",
    "referrer": "referer",
    "status_code": "status",
    "status_msg": "reason",
    "request_body_len": "req_body_len",
    "response_body_len": "resp_body_len",
    "origin": "origin",
    "info_code": "info_status",
    "resp_filenames": "filename",
}
# Arkime http.* -> our param (each a set per session)
ARKIME_FIELDS = {
    "host": "host",
    "method": "method",
    "statuscode": "status",
    "useragent": "user_agent",
    "uri": "host_uri",
    "request-referer": "referer",
}


def zeek_items(log_name, row):
    if log_name != "http":
        return []
    try:
        key = ("zeek",) + flow4(row["id.orig_h"], row["id.orig_p"], row["id.resp_h"], row["id.resp_p"])
    except (KeyError, ValueError):
        return []
    if row.get("method", "-") == "-" and row.get("status_code", "-") == "-":
        # Neither a request nor a response: Zeek's empty entry for a transaction it opened
        # (a second trans_depth after HTTP/0.9, a desync); nothing on the wire to compare.
        return []
    fields = {}
    for col, ours in ZEEK_FIELDS.items():
        v = row.get(col)
        if v is None:
            continue
        # Zeek's placeholders when there was no status line (HTTP/0.9, no reply): not wire values.
        if (col == "status_code" and v == "0") or (col == "status_msg" and v == "<empty>"):
            continue
        if col == "resp_filenames":
            v = [x for x in v.split(",") if x not in ("", "-", "(empty)")]
            if not v:
                continue
        fields[ours] = v
    # Zeek counts a body Zeek could not see (a gap) or decoded (gzip, deflate) differently:
    # compared all the same, the misses are listed in docs/protocols.md.
    return [(key, fields)]


def arkime_items(body):
    http = body.get("http")
    if not http:
        return []
    src, dst = body.get("source", {}), body.get("destination", {})
    try:
        flow = flow4(src["ip"], src["port"], dst["ip"], dst["port"])
    except (KeyError, ValueError):
        return []
    out = []
    for col, ours in ARKIME_FIELDS.items():
        for v in http.get(col, []) or []:
            v = str(v)
            if ours == "host":
                v = v.lower()
            out.append((("arkime", flow, ours, v), {ours: v}))
    return out


def _without_port(host):
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    name, sep, port = host.rpartition(":")
    return name if sep and port.isdigit() and ":" not in name else host


def our_items(rec):
    fl = records.flow(rec)
    flow = flow4(fl["src"], fl["sport"], fl["dst"], fl["dport"])
    tls = next((v for k, v in rec["sd"].items() if k.startswith("tls@")), None)
    if tls is not None:
        # Arkime's host.http holds the SNI of a TLS (or QUIC, DTLS) session as well.
        sni = tls.get("sni")
        return [(("arkime", flow, "host", sni.lower()), {"host": sni.lower()})] if sni else []
    http = next((v for k, v in rec["sd"].items() if k.startswith("http@")), None)
    if http is None:
        return []
    z = dict(http)
    if z.get("status") == "101" and "info_status" not in z:
        z["info_status"] = "101"  # Zeek files 101 under info_code; ours is the final status
    out = [(("zeek",) + flow, z)]
    vals = dict(http)
    if "host" in vals:
        # Arkime's host is the Host header's name without its port (its host_uri keeps it);
        # ours is the header as sent.
        vals["host"] = _without_port(vals["host"]).lower()
    uri = http.get("uri")
    if uri is not None:
        # Arkime's uri is host + path for origin-form targets, the target itself otherwise.
        if uri.startswith("/"):
            vals["host_uri"] = http.get("host", "").lower() + uri
        else:
            vals["host_uri"] = uri.split("://", 1)[-1]
    for ours in set(ARKIME_FIELDS.values()):
        if ours in vals:
            out.append((("arkime", flow, ours, vals[ours]), {ours: vals[ours]}))
    if "info_status" in http:
        # Arkime's statuscode lists every status line of the session, interim ones (100) too.
        out.append((("arkime", flow, "status", http["info_status"]), {"status": http["info_status"]}))
    if "host" in http and vals["host"] != http["host"].lower():
        # Some Arkime versions keep the port in host.http (a Host header with a port).
        h = http["host"].lower()
        out.append((("arkime", flow, "host", h), {"host": h}))
    return out


def _unescape(s):
    """Our record value back to bytes (docs/records.md, Escaping), then %XX decoded, as text."""
    raw = bytearray()
    i = 0
    while i < len(s):
        if s.startswith("\\x", i) and i + 4 <= len(s):
            try:
                raw.append(int(s[i + 2:i + 4], 16))
                i += 4
                continue
            except ValueError:
                pass
        raw += s[i].encode("utf-8", "surrogateescape")
        i += 1
    return raw


def _pct(raw):
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == 0x25 and i + 2 < len(raw) + 0 and i + 3 <= len(raw):
            try:
                out.append(int(raw[i + 1:i + 3].decode("ascii"), 16))
                i += 3
                continue
            except ValueError:
                pass
        out.append(raw[i])
        i += 1
    return bytes(out)


def same(field, truth, ours):
    if isinstance(truth, list):
        have = ours if isinstance(ours, list) else [ours]
        return all(t in have for t in truth)
    if truth == ours:
        return True
    if field == "uri" and isinstance(ours, str):
        # Zeek logs the URI percent-decoded; we keep it as sent.
        dec = _pct(_unescape(ours))
        return dec.decode("utf-8", "backslashreplace") == truth or \
            dec.decode("latin-1") == truth
    if field == "host" and isinstance(ours, str):
        # Zeek's host drops the port, as Arkime's does.
        return truth.lower() in (ours.lower(), _without_port(ours).lower())
    return False
