#pragma once
// SOCKS 4, 4a and 5 (docs/protocols.md, "SOCKS dissector"; RFC 1928, RFC 1929, the SOCKS4
// and SOCKS4a memos): one `socks` record per request and its reply - version, command, target
// (domain name or address, port), the v5 methods offered and the one chosen, the RFC 1929 user
// name (the password is never written: `password_seen` says one went by), the reply's status
// and bound address. A v5 negotiation that ends before a request (no acceptable method, failed
// authentication) is recorded too, and a request the proxy never answered says `no reply`.
//
// After a successful CONNECT (or a BIND's second reply) the tunnel's first bytes decide: a
// client's TLS record (16 03 ..) or HTTP request line (METHOD SP) hands the stream to the TLS or
// HTTP dissector (Ctx::hand_over; the flow keeps proto=socks), anything else - or a server that
// speaks first (SSH, SMTP banners) - ends the dissection. Tunnel bytes a client sends before
// the proxy's reply (SOCKS4 "optimistic data", pipelined v5 clients) are kept (up to ~2 KiB)
// and given to the next dissector first (Ctx::replay).
//
// Per flow: the messages not yet read of each side (bounded by the protocol's own limits:
// 255-byte names) and the record's values: under 4 KiB.
#include <memory>

#include "common/counters.h"
#include "dissectors/dissector.h"

namespace flowscribe::dissect {

#define FS_SOCKS_COUNTERS(X)                                                                      \
  X(socks_flows, "SOCKS flows read by the SOCKS dissector")                                        \
  X(socks_records, "socks records written (one per request, or per negotiation that ended before one)") \
  X(socks_v4_requests, "SOCKS4/4a requests read")                                                 \
  X(socks_v5_requests, "SOCKS5 requests read")                                                    \
  X(socks_userpass, "RFC 1929 username/password sub-negotiations read (the password is not written)") \
  X(socks_auth_not_read, "v5 flows whose chosen method (GSSAPI, private) wraps what follows: not read further") \
  X(socks_failed, "requests or negotiations the proxy refused (reply status not success, no method, auth failed)") \
  X(socks_no_reply, "requests written without a reply (flow ended or a gap first)")              \
  X(socks_handover_tls, "tunnels handed to the TLS dissector")                                   \
  X(socks_handover_tls_server_first, "... of which the server spoke first with a TLS handshake (the capture lost the client's hello)") \
  X(socks_handover_http, "tunnels handed to the HTTP dissector")                                 \
  X(socks_tunnel_unknown, "tunnels whose client's first bytes are neither TLS nor HTTP: not read") \
  X(socks_tunnel_server_first, "tunnels whose server spoke first (SSH, SMTP, ... banners): not read") \
  X(socks_optimistic, "tunnels whose client sent data before the proxy's reply (kept and replayed)") \
  X(socks_optimistic_overflow, "tunnels whose early client data overflowed the kept bytes: not handed over") \
  X(socks_server_lead, "v5 flows whose server sent bytes of its own (at most 16) before its method selection: skipped") \
  X(socks_gaps, "flows with missing bytes (capture loss) before the tunnel was decided")         \
  X(socks_bad_version, "violations: a message whose version byte is not the flow's SOCKS version") \
  X(socks_bad_message, "violations: a bad command, address type, method count or a length past its bound")

FS_DEFINE_COUNTERS(SocksCounters, FS_SOCKS_COUNTERS);

std::unique_ptr<Dissector> make_socks_dissector();

}  // namespace flowscribe::dissect
