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
        # Zeek's body lengths start at 0 (base/protocols/http/main.zeek: request_body_len and
        # response_body_len are `&default=0`), so a side of the transaction Zeek never parsed
        # (no request line: a response without a request, a request line Zeek refused; no
        # reply at all) shows 0 whatever the wire carried: Zeek's default, not a wire value,
        # and not counted whether ours agrees or not. (status_code 0 is different: Zeek read
        # the reply as HTTP/0.9, and its length is compared.)
        if col == "request_body_len" and row.get("method", "-") in ("-", ""):
            continue
        if col == "response_body_len" and row.get("status_code", "-") in ("-", ""):
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


# Truth values we dispute, each checked against the capture's bytes (docs/protocols.md,
# "Disputed values"). A dispute applies only to exactly this truth value and this value of
# ours (tools/field_recall.py), so a change on either side brings the miss back.
_Z = "zeek-http"
_ZEEK_09 = ("Zeek read `<method> /HTTP/1.1` (%s) as an HTTP/0.9 request and the reply as a bare body; the "
            "server answered with a status line and `Content-Length: %s`%s, and we size that body")
_GZIP = ("`Content-Encoding: %s`, `Content-Length: %s`: Zeek's length is the decompressed size; "
         "ours is the body on the wire (the issue: compressed bodies are sized, not parsed)")
_MIME2 = ("`Content-Length: %s` and %s body bytes on the wire; Zeek's MIME reader adds 2 (a CRLF "
          "it supplies after the last line)")
DISPUTES = [
    dict(capture="methods.pcap", source=_Z, field="resp_body_len", truth="1349", ours="1207",
         why=_ZEEK_09 % ("GET", "1207", " (403)")),
    dict(capture="methods.pcap", source=_Z, field="resp_body_len", truth="1068", ours="925",
         why=_ZEEK_09 % ("CCM_POST, CONNECT, TRACE, DELETE", "925", " (400)")),
    dict(capture="methods.pcap", source=_Z, field="resp_body_len", truth="1081", ours="934",
         why=_ZEEK_09 % ("PUT, POST", "934", " (411)")),
    dict(capture="methods.pcap", source=_Z, field="resp_body_len", truth="143", ours="0",
         why="`HEAD /HTTP/1.1`: Zeek counts the 143-byte header block of the 400 reply as an "
             "HTTP/0.9 body; a reply to HEAD has no body (RFC 9110 section 9.3.2)"),
    dict(capture="pipelined-requests.pcap", source=_Z, field="resp_body_len", truth="2675", ours="946",
         why=_GZIP % ("gzip", "946")),
    dict(capture="pipelined-requests.pcap", source=_Z, field="resp_body_len", truth="21421", ours="6716",
         why=_GZIP % ("gzip", "6716")),
    dict(capture="missing-zlib-header.pcap", source=_Z, field="resp_body_len", truth="13249", ours="5139",
         why=_GZIP % ("deflate", "5139")),
    dict(capture="x-gzip.pcap", source=_Z, field="resp_body_len", truth="19", ours="39",
         why=_GZIP % ("x-gzip", "39")),
    dict(capture="http-single-conn-22.pcap", source=_Z, field="resp_body_len", truth="12632", ours="12630",
         why="a body read until close: of the server's 12649 bytes, 19 are the status line and "
             "blank line, 12630 the body; Zeek adds 2 (a CRLF it supplies after the last line)"),
    dict(capture="http-09-content-length-confusion.pcap", source=_Z, field="resp_body_len",
         truth="0", ours="4",
         why="the server sent `HTTP/1.1 200 OK` and `Content-Length: 4` before any request; by "
             "that framing the next 4 bytes it sent are that body; Zeek gives them, and the rest, "
             "to the answer of the HTTP/0.9 request that came in between"),
    dict(capture="http-09-content-length-confusion.pcap", source=_Z, field="resp_body_len",
         truth="19", ours="15",
         why="the HTTP/0.9 request's answer is what follows those 4 bytes until close: 15 of "
             "the 19; Zeek counts all 19"),
] + [
    dict(capture="no_crlf.pcap", source=_Z, field="req_body_len", truth=str(n + 2), ours=str(n),
         why=_MIME2 % (n, n)) for n in (6084, 7556, 8212, 6276, 6228)
] + [
    dict(capture=cap, source=_Z, field="req_body_len", truth=z, ours=o, why=_GZIP % ("gzip", o))
    for cap, z, o in (("smuggle-http-request.pcap", "57", "80"),
                      ("http-inner-transfer-encoding-reproducer.pcap", "63", "87"))
] + [
    dict(capture="http-inner-transfer-encoding-reproducer.pcap", source=_Z, field="resp_body_len",
         truth="37", ours="35",
         why="an HTTP/1.0 body read until close: the 35 bytes `POST request received "
             "successfully!`; Zeek adds 2 (a CRLF it supplies after the last line)"),
] + [
    dict(capture="http-inner-transfer-encoding-ossfuzz.pcap", source=_Z, field=f, truth=v, ours=None,
         why="an OSS-Fuzz input: after `ETA unknown_HTTP_metm/suppozt/\\xd9ccIOST / HTTP/1.1` the "
             "client's header lines are binary, and the server's first line is `HTTP/!.4 206 t`; "
             "Zeek reads port 80 as HTTP whatever comes, we name a protocol from the payload, and "
             "neither side's bytes are HTTP: no http record")
    for f, v in (("method", "ETA"), ("uri", "unknown_HTTP_metm/suppozt/\\xd9ccIOST /"),
                 ("status", "206"), ("reason", "t"), ("req_body_len", "2"), ("resp_body_len", "0"))
] + [
    # Arkime
    dict(capture=cap, source="arkime", field=f, truth=v, ours=None,
         why="the HTTP/2 connection preface `PRI * HTTP/2.0` (RFC 9113 section 3.4) is no "
             "request and gets no answer; Arkime files it as one, we write no record for it")
    for cap in ("arkime_synthetic.pcap", "http2-nghttp2.pcap") for f, v in (("host_uri", "*"), ("method", "PRI"))
] + [
    dict(capture="gre-erspan-vxlan.pcap", source="arkime", field="host_uri", truth="/Hello", ours=None,
         why="`GET /Hello Arkime HTTP/1.0`: a target with a space; Zeek and nginx read the target "
             "up to the version (`/Hello Arkime`, ours), Arkime up to the first space"),
] + [
    # (`uule=xxxx...`: the capture and Arkime's .test were anonymised that way; it is the value.)
    dict(capture="socks5-reverse.pcap", source="arkime", field="host_uri",
         truth="www.google.com/search?client=firefox&rls=en&q=Sheepskin%%20Boots&start=%d&num=10"
               "&hl=en&gl=us&uule=xxxxxxxxxxxxxxxxxxxxxxxxxxxx" % n, ours=None,
         why="the capture's request lines say `q=sheepskin%20boots` (as Arkime's own referer and "
             "location values do); `Sheepskin` occurs nowhere in the capture")
    for n in (0, 10)
]
