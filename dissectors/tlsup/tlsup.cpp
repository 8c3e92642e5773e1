#include "dissectors/tlsup/tlsup.h"

#include <algorithm>
#include <cstring>

namespace flowscribe::dissect {
namespace {

constexpr uint32_t kHead = 64;           // first bytes of each message kept
constexpr uint32_t kBudget = 32 * 1024;  // bytes per side watched before giving up

enum Dialect : uint8_t { kMysql, kPgsql, kLdap, kRdp };

// PostgreSQL request codes (protocol §55.7, "Message Formats").
constexpr uint32_t kPgCancel = 80877102, kPgSsl = 80877103, kPgGss = 80877104;
// RFC 4511 §4.14.1: the StartTLS extended operation.
constexpr char kStartTlsOid[] = "1.3.6.1.4.1.1466.20037";
constexpr uint32_t kStartTlsOidLen = sizeof kStartTlsOid - 1;

struct Side {
  uint8_t head[kHead];  // first bytes of the current message
  uint32_t have;        // bytes of the current message seen so far
  uint32_t total;       // its length once the header told it; 0 before
  uint32_t seen;        // bytes of this side so far
  uint32_t msgs;        // complete messages of this side
};

struct State {
  Side side[2];  // [0] client, [1] server
  uint8_t dialect;
  uint8_t udp;
  uint8_t pending;  // PostgreSQL: what awaits the server's byte (1 SSLRequest, 2 GSSENCRequest,
                    //   3 StartupMessage); LDAP: StartTLS sent
  uint32_t ldap_id;  // the StartTLS request's messageID
};

uint32_t le24(const uint8_t* p) { return p[0] | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16; }
uint32_t le32(const uint8_t* p) { return le24(p) | uint32_t{p[3]} << 24; }
uint32_t be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

// BER identifier-and-length at h[pos] (a low tag number, definite length of up to 4 bytes);
// advances pos past the header. False when it does not fit in n or is malformed.
bool ber_header(const uint8_t* h, uint32_t n, uint32_t& pos, uint8_t& tag, uint32_t& len) {
  if (pos + 2 > n) return false;
  tag = h[pos];
  if ((tag & 0x1f) == 0x1f) return false;
  const uint8_t l0 = h[pos + 1];
  pos += 2;
  if (l0 < 0x80) {
    len = l0;
    return true;
  }
  const uint32_t k = l0 & 0x7f;
  if (k == 0 || k > 4 || pos + k > n) return false;
  len = 0;
  for (uint32_t i = 0; i < k; ++i) len = len << 8 | h[pos + i];
  pos += k;
  return true;
}

// An INTEGER's value (up to 4 bytes) at h[pos].
bool ber_int(const uint8_t* h, uint32_t n, uint32_t& pos, uint8_t want_tag, uint32_t& v) {
  uint8_t tag = 0;
  uint32_t len = 0;
  if (!ber_header(h, n, pos, tag, len) || tag != want_tag || len == 0 || len > 4 || pos + len > n) {
    return false;
  }
  v = 0;
  for (uint32_t i = 0; i < len; ++i) v = v << 8 | h[pos + i];
  pos += len;
  return true;
}

class TlsupDissector final : public Dissector {
 public:
  std::string_view name() const noexcept override { return "tlsup"; }
  uint32_t state_bytes() const noexcept override { return sizeof(State); }
  uint32_t default_states() const noexcept override { return 8192; }

  void begin_flow(void* st, Ctx& c, uint8_t transport) noexcept override {
    auto& s = *static_cast<State*>(st);
    std::memset(&s, 0, sizeof s);
    switch (static_cast<AppProto>(c.flow.app_proto)) {
      case AppProto::kPostgresql:
        s.dialect = kPgsql;
        break;
      case AppProto::kLdap:
        s.dialect = kLdap;
        break;
      case AppProto::kRdp:
        s.dialect = kRdp;
        break;
      default:
        s.dialect = kMysql;
    }
    s.udp = transport == 17;
    counters_.tlsup_flows.inc();
  }

  Progress data(void* st, Ctx& c, bool from_client, const uint8_t* p, uint32_t len,
                uint32_t) noexcept override {
    auto& s = *static_cast<State*>(st);
    if (s.udp) {
      counters_.tlsup_udp.inc();
      return Progress::kDone;
    }
    const int d = from_client ? 0 : 1;
    Side& sd = s.side[d];
    uint32_t i = 0;
    while (i < len) {
      // The header, a byte at a time, until it tells the message's length.
      while (sd.total == 0 && i < len) {
        if (sd.have < kHead) sd.head[sd.have] = p[i];
        ++sd.have;
        ++i;
        const int64_t t = frame_len(s, d, sd.head, std::min(sd.have, kHead));
        // (A length shorter than the header bytes already read is no message either.)
        if (t < 0 || (t == 0 && sd.have >= kHead) || (t > 0 && t < sd.have)) {
          if (sd.msgs == 0) {
            counters_.tlsup_not_protocol.inc();
            return Progress::kViolation;
          }
          counters_.tlsup_lost_framing.inc();
          return Progress::kDone;
        }
        sd.total = static_cast<uint32_t>(t);
      }
      if (sd.total == 0) break;
      const uint32_t take = std::min(sd.total - sd.have, len - i);
      if (sd.have < kHead) std::memcpy(sd.head + sd.have, p + i, std::min(take, kHead - sd.have));
      sd.have += take;
      i += take;
      if (sd.have < sd.total) break;
      const Progress pr = message(s, c, d, std::min(sd.total, kHead), i);
      ++sd.msgs;
      sd.have = sd.total = 0;
      if (pr != Progress::kMore) return pr;
    }
    // Every exchange above fits in a few hundred bytes; only LDAP may do other operations
    // first. Past the budget the watch ends, an answer pending or not (bounded state life).
    sd.seen += len;
    if (sd.seen > kBudget) {
      counters_.tlsup_not_seen.inc();
      return Progress::kDone;
    }
    return Progress::kMore;
  }

  Progress gap(void*, Ctx&, bool, uint32_t) noexcept override {
    counters_.tlsup_gaps.inc();
    return Progress::kDone;  // message boundaries are lost: stop watching
  }

  void end_flow(void*, Ctx&) noexcept override {}

  void for_each_counter(CounterFn f) const override { counters_.for_each(f); }

 private:
  // The length of the message whose first n bytes are h: > 0 once known, 0 when more header
  // bytes are needed, -1 when the bytes are no message of the protocol.
  static int64_t frame_len(const State& s, int d, const uint8_t* h, uint32_t n) noexcept {
    switch (s.dialect) {
      case kMysql:  // 3-byte little-endian payload length, sequence id
        if (d == 1 && s.side[1].msgs == 0) {
          // The server's first packet: its handshake (sequence 0, protocol 10 or 9) or an error
          // packet (too many connections, host not allowed), checked before it is skipped.
          if (n < 5) return 0;
          const uint32_t v = le24(h);
          if (h[3] != 0 || (h[4] != 10 && h[4] != 9 && h[4] != 0xff) || v == 0 || v > 0xffff) return -1;
        }
        return n < 4 ? 0 : 4 + int64_t{le24(h)};
      case kPgsql: {
        if (d == 1) return 1;  // the one-byte answer to SSLRequest / GSSENCRequest
        if (n < 4) return 0;
        const uint32_t v = be32(h);  // startup-phase messages: length (itself included), code
        return v < 8 || v > 10000 ? -1 : int64_t{v};
      }
      case kLdap: {  // LDAPMessage ::= SEQUENCE
        if (h[0] != 0x30) return -1;
        if (n < 2) return 0;
        if (h[1] < 0x80) return 2 + int64_t{h[1]};
        const uint32_t k = h[1] & 0x7f;
        if (k == 0 || k > 4) return -1;
        if (n < 2 + k) return 0;
        uint32_t v = 0;
        for (uint32_t j = 0; j < k; ++j) v = v << 8 | h[2 + j];
        return v > (1u << 24) ? -1 : 2 + int64_t{k} + v;
      }
      default: {  // RDP: TPKT (RFC 1006): version 3, reserved 0, 16-bit length
        if (h[0] != 3 || (n >= 2 && h[1] != 0)) return -1;
        if (n < 4) return 0;
        const uint32_t v = uint32_t{h[2]} << 8 | h[3];
        return v < 7 ? -1 : int64_t{v};
      }
    }
  }

  Progress upgrade(Ctx& c, uint32_t used) noexcept {
    c.hand_over(AppProto::kTls, used);
    return Progress::kDone;
  }

  // A complete message of side d: its first n bytes in s.side[d].head, ending at `end` in the
  // current data() call.
  Progress message(State& s, Ctx& c, int d, uint32_t n, uint32_t end) noexcept {
    const uint8_t* h = s.side[d].head;
    const bool first = s.side[d].msgs == 0;
    switch (s.dialect) {
      case kMysql:
        return mysql(c, d, h, n, s.side[d].total - 4, first, end);
      case kPgsql:
        return pgsql(s, c, d, h, n, first, end);
      case kLdap:
        return ldap(s, c, d, h, n, first, end);
      default:
        return rdp(c, d, h, n, first, end);
    }
  }

  // MySQL client/server protocol, "Connection Phase".
  Progress mysql(Ctx& c, int d, const uint8_t* h, uint32_t n, uint32_t payload, bool first,
                 uint32_t end) noexcept {
    if (d == 1) {
      if (!first) return Progress::kMore;
      if (n >= 5 && h[4] == 10) return Progress::kMore;  // frame_len checked the rest
      counters_.tlsup_mysql_clear.inc();
      return Progress::kDone;
    }
    // The client's first packet, sequence 1: an SSLRequest is a handshake response cut after
    // the capability flags (4.1: flags, max packet, charset, 23 zero bytes = 32 bytes; the
    // pre-4.1 form: 2-byte flags and max packet = 5 bytes), CLIENT_SSL (0x0800) set.
    constexpr uint32_t kClientProtocol41 = 0x0200, kClientSsl = 0x0800;
    if (first && h[3] == 1 && n >= 6) {
      const uint32_t caps = payload >= 4 ? le32(h + 4) : uint32_t{h[4]} | uint32_t{h[5]} << 8;
      const bool ssl_request =
          (caps & kClientSsl) && ((payload == 32 && (caps & kClientProtocol41)) ||
                                  (payload == 5 && !(caps & kClientProtocol41)));
      if (ssl_request) {
        counters_.tlsup_mysql_upgrades.inc();
        return upgrade(c, end);
      }
    }
    counters_.tlsup_mysql_clear.inc();
    return Progress::kDone;
  }

  // PostgreSQL frontend/backend protocol, "SSL Session Encryption" and "GSSAPI Session
  // Encryption".
  Progress pgsql(State& s, Ctx& c, int d, const uint8_t* h, uint32_t n, bool first,
                 uint32_t end) noexcept {
    if (d == 0) {
      const uint32_t code = be32(h + 4);  // n >= 8: frame_len wants a length of at least 8
      if (s.side[0].total == 8 && (code == kPgSsl || code == kPgGss)) {
        s.pending = code == kPgSsl ? 1 : 2;
        return Progress::kMore;
      }
      if (code == kPgCancel) {  // the server answers nothing
        counters_.tlsup_pgsql_clear.inc();
        return Progress::kDone;
      }
      if ((code >> 16) == 3 || (code >> 16) == 2) {
        // A StartupMessage: a clear session. Its server's first byte is still checked (the
        // classifier named the flow from the client's message alone).
        s.pending = 3;
        return Progress::kMore;
      }
      if (first) {
        counters_.tlsup_not_protocol.inc();
        return Progress::kViolation;
      }
      counters_.tlsup_lost_framing.inc();
      return Progress::kDone;
    }
    (void)n;
    if (!s.pending) {
      // The server spoke with no request pending: nothing of the upgrade to follow.
      counters_.tlsup_lost_framing.inc();
      return Progress::kDone;
    }
    const char a = static_cast<char>(h[0]);
    const uint8_t req = s.pending;
    s.pending = 0;
    if (req == 1 && a == 'S') {
      counters_.tlsup_pgsql_upgrades.inc();
      return upgrade(c, end);
    }
    if (req == 2 && a == 'G') {
      counters_.tlsup_pgsql_gssenc.inc();
      return Progress::kDone;
    }
    if (req == 3) {
      // After a StartupMessage: an authentication request, NegotiateProtocolVersion, a notice
      // or an error.
      if (a == 'R' || a == 'v' || a == 'N' || a == 'E') {
        counters_.tlsup_pgsql_clear.inc();
        return Progress::kDone;
      }
      counters_.tlsup_not_protocol.inc();
      return Progress::kViolation;
    }
    if (a == 'N' && req == 2) return Progress::kMore;  // the client may ask for SSL next
    if (a == 'N' || a == 'E') {
      // Refused (or a server too old for the request answered an error): clear text.
      if (req == 1) {
        counters_.tlsup_pgsql_refused.inc();
      } else {
        counters_.tlsup_pgsql_clear.inc();
      }
      return Progress::kDone;
    }
    if (first) {
      counters_.tlsup_not_protocol.inc();
      return Progress::kViolation;
    }
    counters_.tlsup_lost_framing.inc();
    return Progress::kDone;
  }

  // RFC 4511 §4.14: StartTLS.
  Progress ldap(State& s, Ctx& c, int d, const uint8_t* h, uint32_t n, bool first,
                uint32_t end) noexcept {
    uint32_t pos = 0, len = 0, id = 0;
    uint8_t tag = 0, op = 0;
    const bool ok = ber_header(h, n, pos, tag, len) && ber_int(h, n, pos, 0x02, id) &&
                    ber_header(h, n, pos, op, len) && (op & 0xc0) == 0x40;
    if (!ok) {
      // The message is framed but its start is no LDAPMessage (or did not fit the kept head).
      if (first) {
        counters_.tlsup_not_protocol.inc();
        return Progress::kViolation;
      }
      return Progress::kMore;
    }
    if (d == 0) {
      // ExtendedRequest ::= [APPLICATION 23] SEQUENCE { requestName [0] LDAPOID, ... }
      uint8_t t = 0;
      if ((op & 0x1f) == 23 && ber_header(h, n, pos, t, len) && t == 0x80 &&
          len == kStartTlsOidLen && pos + len <= n &&
          std::memcmp(h + pos, kStartTlsOid, kStartTlsOidLen) == 0) {
        s.pending = 1;
        s.ldap_id = id;
      }
      return Progress::kMore;
    }
    // ExtendedResponse ::= [APPLICATION 24] SEQUENCE { COMPONENTS OF LDAPResult, ... }
    if (!s.pending || (op & 0x1f) != 24 || id != s.ldap_id) return Progress::kMore;
    uint32_t rc = 0;
    if (!ber_int(h, n, pos, 0x0a, rc)) return Progress::kMore;
    s.pending = 0;
    if (rc == 0) {
      counters_.tlsup_ldap_upgrades.inc();
      return upgrade(c, end);
    }
    counters_.tlsup_ldap_refused.inc();
    return Progress::kMore;  // the session goes on in clear text
  }

  // MS-RDPBCGR 2.2.1.2: the X.224 Connection Confirm and its RDP Negotiation Response.
  Progress rdp(Ctx& c, int d, const uint8_t* h, uint32_t n, bool first, uint32_t end) noexcept {
    if (d == 0) return Progress::kMore;  // the Connection Request: the server's answer decides
    // TPKT (4), X.224 length indicator, CC code 0xD0, dst-ref, src-ref, class (7 bytes).
    if (n < 11 || (h[5] & 0xf0) != 0xd0) {
      if (first) {
        counters_.tlsup_rdp_standard.inc();  // no Connection Confirm first: nothing to read
      }
      return Progress::kDone;
    }
    constexpr uint8_t kNegRsp = 2, kNegFailure = 3;
    if (n >= 19 && h[11] == kNegRsp) {
      const uint32_t selected = le32(h + 15);
      // PROTOCOL_SSL 1, PROTOCOL_HYBRID 2, PROTOCOL_RDSTLS 4, PROTOCOL_HYBRID_EX 8,
      // PROTOCOL_RDSAAD 0x10: each begins with a TLS handshake from the client.
      if (selected == 1 || selected == 2 || selected == 4 || selected == 8 || selected == 0x10) {
        counters_.tlsup_rdp_upgrades.inc();
        return upgrade(c, end);
      }
    } else if (n >= 19 && h[11] == kNegFailure) {
      counters_.tlsup_rdp_refused.inc();
      return Progress::kDone;
    }
    counters_.tlsup_rdp_standard.inc();
    return Progress::kDone;
  }

  TlsupCounters counters_;
};

}  // namespace

std::unique_ptr<Dissector> make_tlsup_dissector() { return std::make_unique<TlsupDissector>(); }

}  // namespace flowscribe::dissect
