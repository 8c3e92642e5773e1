#include "dissectors/tlsup/tlsup.h"

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "dissectors/classify/reader.h"
#include "dissectors/tls/x509_record.h"

namespace flowscribe::dissect {
namespace {

constexpr uint32_t kHead = 64;           // first bytes of each message kept
constexpr uint32_t kBudget = 32 * 1024;  // bytes per side watched before giving up
// RDP standard security: the server's MCS Connect Response is kept whole up to this size
// (Zeek's rdp-x509.pcap: 1405 bytes with a two-certificate chain of 512-bit keys; 2048-bit
// chains are ~2.5 KB).
constexpr uint32_t kRdpBuf = 6144;
constexpr uint32_t kRdpMaxChain = 10;   // certificates recorded per chain
constexpr uint32_t kRdpMaxBlobs = 64;   // CERT_BLOBs walked
constexpr uint32_t kRdpMaxBlocks = 16;  // server data blocks walked

enum Dialect : uint8_t { kMysql, kPgsql, kLdap, kRdp, kAdb };

// Android Debug Bridge (AOSP packages/modules/adb/protocol.txt): a 24-byte header of
// little-endian uint32s (command, arg0, arg1, data length, data checksum, magic = command ^
// 0xffffffff), then the data. After CNXN (and AUTH), each side sends STLS and TLS follows.
constexpr uint32_t kAdbHeader = 24;
constexpr uint32_t kAdbMaxData = 1u << 20;  // MAX_PAYLOAD of protocol version 0x01000001
constexpr uint32_t kAdbCnxn = 0x4e584e43, kAdbAuth = 0x48545541, kAdbStls = 0x534c5453,
                   kAdbSync = 0x434e5953;  // SYNC: obsolete, still seen before STLS

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
  uint8_t rdp_std;    // RDP: standard security chosen; the server's next message is kept in rdp
  uint32_t ldap_id;  // the StartTLS request's messageID
  uint8_t rdp[kRdpBuf];  // RDP: the server's MCS Connect Response (its first kRdpBuf bytes)
};

int hex_digit(uint8_t x) {
  if (x >= '0' && x <= '9') return x - '0';
  x |= 0x20;
  return x >= 'a' && x <= 'f' ? x - 'a' + 10 : -1;
}
// The first 4 bytes of an ADB server request: its length in hex (no command has 4 hex letters).
bool adb_service_request(const uint8_t* h) {
  return hex_digit(h[0]) >= 0 && hex_digit(h[1]) >= 0 && hex_digit(h[2]) >= 0 && hex_digit(h[3]) >= 0;
}
uint32_t le24(const uint8_t* p) { return p[0] | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16; }
uint32_t le32(const uint8_t* p) { return le24(p) | uint32_t{p[3]} << 24; }
uint32_t be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

// A BER definite length (up to 4 bytes) at h[pos], the identifier already read; advances pos.
bool ber_len(const uint8_t* h, uint32_t n, uint32_t& pos, uint32_t& len) noexcept {
  if (pos >= n) return false;
  const uint8_t l0 = h[pos++];
  if (l0 < 0x80) {
    len = l0;
    return true;
  }
  const uint32_t k = l0 & 0x7f;
  if (k == 0 || k > 4 || pos + k > n) return false;
  len = 0;
  for (uint32_t j = 0; j < k; ++j) len = len << 8 | h[pos + j];
  pos += k;
  return true;
}

// BER identifier-and-length at h[pos] (a low tag number, definite length of up to 4 bytes);
// advances pos past the header. False when it does not fit in n or is malformed.
bool ber_header(const uint8_t* h, uint32_t n, uint32_t& pos, uint8_t& tag, uint32_t& len) {
  if (pos + 2 > n) return false;
  tag = h[pos];
  if ((tag & 0x1f) == 0x1f) return false;
  ++pos;
  return ber_len(h, n, pos, len);
}

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
  // 4096 x ~6.3 KiB = ~26 MiB per worker; flows stay only until their upgrade (a few RTTs).
  uint32_t default_states() const noexcept override { return 4096; }

  void begin_flow(void* st, Ctx& c, uint8_t transport) noexcept override {
    auto& s = *static_cast<State*>(st);
    std::memset(&s, 0, offsetof(State, rdp));
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
      case AppProto::kAdb:
        s.dialect = kAdb;
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
      // The server's MCS Connect Response of an RDP session with standard security is kept
      // whole (up to kRdpBuf), not only its head (it may share a call with the Confirm).
      const bool keep = s.rdp_std && d == 1;
      // The header, a byte at a time, until it tells the message's length.
      while (sd.total == 0 && i < len) {
        if (sd.have < kHead) sd.head[sd.have] = p[i];
        if (keep && sd.have < kRdpBuf) s.rdp[sd.have] = p[i];
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
      if (keep && sd.have < kRdpBuf) std::memcpy(s.rdp + sd.have, p + i, std::min(take, kRdpBuf - sd.have));
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
      case kAdb: {
        // A client of the ADB server (port 5037): 4 hex digits, the request's length.
        if (d == 0 && s.side[0].msgs == 0 && n >= 4 && adb_service_request(h)) {
          int64_t v = 0;
          for (uint32_t j = 0; j < 4; ++j) v = v << 4 | hex_digit(h[j]);
          return 4 + v;
        }
        if (n < kAdbHeader) return 0;
        const uint32_t cmd = le32(h), len = le32(h + 12);
        if (le32(h + 20) != (cmd ^ 0xffffffffu) || len > kAdbMaxData) return -1;
        return kAdbHeader + int64_t{len};
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
      case kAdb:
        return adb(s, c, d, h, end);
      default:
        if (s.rdp_std && d == 1) return rdp_connect_response(s, c);
        return rdp(s, c, d, h, n, first, end);
    }
  }

  // ADB: CNXN, AUTH and SYNC go by; STLS from both sides (in either order) hands the stream
  // to TLS. Any other message (OPEN, WRTE, ...) means the session runs in the clear.
  Progress adb(State& s, Ctx& c, int d, const uint8_t* h, uint32_t end) noexcept {
    if (d == 0 && s.side[0].msgs == 0 && adb_service_request(h)) {
      counters_.tlsup_adb_server_client.inc();  // host services, no TLS to come
      return Progress::kDone;
    }
    const uint32_t cmd = le32(h);
    if (cmd == kAdbCnxn || cmd == kAdbAuth || cmd == kAdbSync) return Progress::kMore;
    if (cmd == kAdbStls) {
      s.pending |= static_cast<uint8_t>(1u << d);
      if (s.pending != 3) return Progress::kMore;
      counters_.tlsup_adb_upgrades.inc();
      return upgrade(c, end);
    }
    counters_.tlsup_adb_clear.inc();
    return Progress::kDone;
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
  Progress rdp(State& s, Ctx& c, int d, const uint8_t* h, uint32_t n, bool first, uint32_t end) noexcept {
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
      if (selected != 0) {  // a protocol this build does not know: nothing to follow
        counters_.tlsup_rdp_standard.inc();
        return Progress::kDone;
      }
    } else if (n >= 19 && h[11] == kNegFailure) {
      counters_.tlsup_rdp_refused.inc();
      return Progress::kDone;
    }
    // PROTOCOL_RDP, or a server that did not negotiate: Standard RDP Security. Its
    // certificate comes in the server's next message, the MCS Connect Response.
    counters_.tlsup_rdp_standard.inc();
    s.rdp_std = 1;
    return Progress::kMore;
  }

  // MS-RDPBCGR 2.2.1.4: the server's MCS Connect Response, kept whole in s.rdp. Writes an
  // x509 record per certificate of an X.509 server certificate chain; done either way.
  Progress rdp_connect_response(State& s, Ctx& c) noexcept {
    const uint32_t total = s.side[1].total;
    if (total > kRdpBuf) {
      counters_.tlsup_rdp_response_oversize.inc();
      return Progress::kDone;
    }
    const uint8_t* m = s.rdp;
    // X.224 Data TPDU (LI 2, code 0xF0, EOT) and T.125 Connect-Response ([APPLICATION 102]:
    // 0x7F 0x66).
    if (total < 9 || m[4] != 2 || m[5] != 0xf0 || m[7] != 0x7f || m[8] != 0x66) {
      counters_.tlsup_rdp_no_response.inc();
      return Progress::kDone;
    }
    uint32_t pos = 9, len = 0;
    uint8_t tag = 0;
    Bytes user{};
    // Connect-Response ::= SEQUENCE { result ENUMERATED, calledConnectId INTEGER,
    //   domainParameters DomainParameters, userData OCTET STRING } (T.125 section 11.2).
    bool ok = ber_len(m, total, pos, len);
    for (int field = 0; ok && field < 4; ++field) {
      static constexpr uint8_t kTags[4] = {0x0a, 0x02, 0x30, 0x04};
      ok = ber_header(m, total, pos, tag, len) && tag == kTags[field] && len <= total - pos;
      if (ok && field == 3) user = Bytes{m + pos, len};
      pos += ok ? len : 0;
    }
    if (!ok || !server_data(c, user)) counters_.tlsup_rdp_bad_server_data.inc();
    return Progress::kDone;
  }


  // The userData: a T.124 ConnectData (PER) whose Conference Create Response carries the
  // server data blocks after the H.221 key "McDn" and a PER length (2.2.1.4). Its PER fields
  // before the key are skipped by finding the key in the first 64 bytes (their lengths are
  // not checked by Windows either: Zeek's capture has a connectPDU length of 42).
  bool server_data(Ctx& c, Bytes u) noexcept {
    uint32_t at = 0;
    const uint32_t scan = std::min<uint32_t>(u.n, 64);
    while (at + 4 <= scan && std::memcmp(u.p + at, "McDn", 4) != 0) ++at;
    if (at + 4 > scan) return false;
    at += 4;
    if (at >= u.n) return false;
    uint32_t blen = u.p[at++];
    if (blen & 0x80) {  // X.691 10.9.3.7: a two-byte length
      if (at >= u.n) return false;
      blen = (blen & 0x3f) << 8 | u.p[at++];
    }
    const uint32_t end = at + std::min(blen, u.n - at);
    bool whole = blen <= u.n - at;
    // TS_UD_HEADER: type (2), length (2, header included), little-endian (2.2.1.4.1).
    for (uint32_t k = 0; at + 4 <= end; ++k) {
      if (k == kRdpMaxBlocks) return false;
      const uint32_t type = u.p[at] | uint32_t{u.p[at + 1]} << 8;
      const uint32_t bl = u.p[at + 2] | uint32_t{u.p[at + 3]} << 8;
      if (bl < 4 || bl > end - at) return false;
      if (type == 0x0c02) return security_data(c, Bytes{u.p + at + 4, bl - 4}) && whole;  // SC_SECURITY
      at += bl;
    }
    // No security data block: nothing to record (the server sent no certificate).
    return whole;
  }

  // TS_UD_SC_SEC1 (2.2.1.4.3): encryptionMethod, encryptionLevel, then (when either is set)
  // serverRandomLen, serverCertLen, serverRandom, serverCertificate.
  bool security_data(Ctx& c, Bytes b) noexcept {
    if (b.n < 8) return false;
    if (le32(b.p) == 0 && le32(b.p + 4) == 0) {
      counters_.tlsup_rdp_no_encryption.inc();
      return true;
    }
    if (b.n < 16) return false;
    const uint32_t rlen = le32(b.p + 8), clen = le32(b.p + 12);
    if (rlen > b.n - 16 || clen > b.n - 16 - rlen || clen < 4) return false;
    const uint8_t* cert = b.p + 16 + rlen;
    // SERVER_CERTIFICATE (2.2.1.4.3.1): dwVersion's low 31 bits (the top bit: temporary).
    const uint32_t version = le32(cert) & 0x7fffffff;
    if (version == 1) {
      counters_.tlsup_rdp_proprietary_certs.inc();
      return true;
    }
    if (version != 2 || clen < 8) return false;
    // X.509 chain ([MS-RDPELE] 2.2.1.4.2): NumCertBlobs, then CERT_BLOB {cbCert, abCert}.
    const uint32_t blobs = le32(cert + 4);
    uint32_t at = 8, got = 0;
    uint32_t off[kRdpMaxChain], len[kRdpMaxChain];
    bool ok = blobs > 0;
    for (uint32_t k = 0; k < blobs && k < kRdpMaxBlobs; ++k) {
      if (at + 4 > clen || le32(cert + at) == 0 || le32(cert + at) > clen - at - 4) {
        ok = false;
        break;
      }
      const uint32_t n = le32(cert + at);
      if (got < kRdpMaxChain) {
        off[got] = at + 4;
        len[got++] = n;
      }
      at += 4 + n;
    }
    if (blobs > kRdpMaxChain) counters_.tlsup_rdp_chain_cap.inc();
    // Root first, the server's own last: records from the server's own, pos 0 (as TLS's).
    for (uint32_t k = got; k-- > 0;) {
      const uint32_t pos = std::min(blobs, kRdpMaxBlobs) - 1 - k;
      x509_.write(c, cert + off[k], len[k], pos, {"rdp", {}}, nullptr);
    }
    return ok;
  }

  TlsupCounters counters_;
  // A small certificate cache (64 entries, ~330 KB per worker): RDP servers with standard
  // security are few, but each shows its chain to every client.
  tls::X509Writer x509_{{counters_.tlsup_rdp_certs, counters_.tlsup_rdp_cert_cache_hits,
                         counters_.tlsup_rdp_cert_errors, counters_.tlsup_rdp_cert_ext_cap,
                         counters_.tlsup_field_truncated, counters_.tlsup_san_truncated,
                         counters_.tlsup_no_record_buffer},
                        64};
};

}  // namespace

std::unique_ptr<Dissector> make_tlsup_dissector() { return std::make_unique<TlsupDissector>(); }

}  // namespace flowscribe::dissect
