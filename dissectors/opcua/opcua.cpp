#include "dissectors/opcua/opcua.h"

#include <cstring>
#include <string_view>

#include "dissectors/tls/x509_record.h"

namespace flowscribe::dissect {
namespace {

constexpr uint32_t kHeader = 8;           // type (3), chunk type (1), size (4): OPC 10000-6 §7.1.2.2
constexpr uint32_t kCap = 16384;          // body bytes kept of one HEL/OPN message
constexpr uint32_t kMaxSize = 16u << 20;  // a larger message size is not OPC UA
constexpr uint8_t kMaxMessages = 16;      // messages read per flow before it is left
constexpr uint32_t kMaxCerts = 8;         // x509 records per SenderCertificate

enum Type : uint8_t { kNone, kHel, kAck, kErr, kRhe, kOpn, kMsg, kClo };

struct Side {
  uint8_t hdr[kHeader];
  uint8_t hdr_n;     // header bytes gathered (kHeader: reading the body)
  uint8_t type;      // Type of the message being read
  uint32_t left;     // body bytes still to come
  uint32_t size;     // the message's body size (header excluded)
  uint32_t kept;     // body bytes in buf
  uint8_t buf[kCap];
};

struct State {
  Side side[2];  // [0]: the flow's client, [1]: its server
  uint8_t messages;
  bool any;       // a valid header was read
  bool reverse;   // the flow's client sent ReverseHello: it is the OPC UA server
  bool opn[2];    // an OPN of that side was read
};

uint32_t le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

Type type_of(const uint8_t* h) {
  const std::string_view t(reinterpret_cast<const char*>(h), 3);
  Type ty = t == "HEL" ? kHel : t == "ACK" ? kAck : t == "ERR" ? kErr : t == "RHE" ? kRhe
          : t == "OPN" ? kOpn : t == "MSG" ? kMsg : t == "CLO" ? kClo : kNone;
  const bool chunked = ty == kOpn || ty == kMsg || ty == kClo;
  if (h[3] != 'F' && !(chunked && (h[3] == 'C' || h[3] == 'A'))) return kNone;
  return ty;
}

// An OPC UA String or ByteString (§5.2.2.4, §5.2.2.7): Int32 length (-1: null), then bytes.
// Reads it at `at` of [0, n); false when its length is negative other than -1 or runs past n
// (`len` then holds the claimed length, `past` is set).
bool read_bytes(const uint8_t* b, uint32_t n, uint32_t& at, const uint8_t*& v, uint32_t& len,
                bool& past) {
  past = false;
  if (n - at < 4) {
    past = true;
    return false;
  }
  const int32_t l = static_cast<int32_t>(le32(b + at));
  at += 4;
  v = b + at;
  if (l == -1 || l == 0) {
    len = 0;
    return true;
  }
  if (l < 0) return false;
  len = static_cast<uint32_t>(l);
  if (len > n - at) {
    past = true;
    return false;
  }
  at += len;
  return true;
}

class OpcuaDissector final : public Dissector {
 public:
  std::string_view name() const noexcept override { return "opcua"; }
  uint32_t state_bytes() const noexcept override { return sizeof(State); }
  // 512 x ~33 KiB = ~17 MiB per worker: a flow holds its slot only until both OPNs are read.
  uint32_t default_states() const noexcept override { return 512; }

  void begin_flow(void* st, Ctx&, uint8_t) noexcept override {
    auto& s = *static_cast<State*>(st);
    for (Side& d : s.side) {
      d.hdr_n = 0;
      d.type = kNone;
      d.left = d.size = d.kept = 0;
    }
    s.messages = 0;
    s.any = s.reverse = false;
    s.opn[0] = s.opn[1] = false;
    counters_.opcua_flows.inc();
  }

  Progress data(void* st, Ctx& c, bool from_client, const uint8_t* p, uint32_t len,
                uint32_t) noexcept override {
    auto& s = *static_cast<State*>(st);
    Side& d = s.side[from_client ? 0 : 1];
    while (len > 0) {
      if (d.hdr_n < kHeader) {
        const uint32_t take = len < kHeader - d.hdr_n ? len : kHeader - d.hdr_n;
        std::memcpy(d.hdr + d.hdr_n, p, take);
        d.hdr_n = static_cast<uint8_t>(d.hdr_n + take);
        p += take;
        len -= take;
        if (d.hdr_n < kHeader) return Progress::kMore;
        const Type t = type_of(d.hdr);
        const uint32_t size = le32(d.hdr + 4);
        if (t == kNone || size < 12 || size > kMaxSize) {
          if (!s.any) return Progress::kViolation;
          counters_.opcua_bad_header.inc();
          return Progress::kDone;
        }
        if (!s.any && from_client && t == kRhe) s.reverse = true;
        s.any = true;
        counters_.opcua_messages.inc();
        d.type = t;
        d.size = d.left = size - kHeader;
        d.kept = 0;
        if ((t == kHel || t == kOpn) && d.size > kCap) counters_.opcua_msg_cap.inc();
      }
      const uint32_t take = len < d.left ? len : d.left;
      if ((d.type == kHel || d.type == kOpn) && d.kept < kCap) {
        const uint32_t keep = take < kCap - d.kept ? take : kCap - d.kept;
        std::memcpy(d.buf + d.kept, p, keep);
        d.kept += keep;
      }
      p += take;
      len -= take;
      d.left -= take;
      if (d.left > 0) return Progress::kMore;
      // The message is whole.
      d.hdr_n = 0;
      const bool client_role = from_client != s.reverse;
      if (d.type == kHel || d.type == kRhe) counters_.opcua_hello.inc();
      if (d.type == kHel) hello(c, d);
      if (d.type == kOpn) {
        counters_.opcua_opn.inc();
        opn(c, d, client_role);
        s.opn[from_client ? 0 : 1] = true;
        if (s.opn[0] && s.opn[1]) return Progress::kDone;
      }
      if (++s.messages >= kMaxMessages) {
        counters_.opcua_msg_limit.inc();
        return Progress::kDone;
      }
    }
    return Progress::kMore;
  }

  Progress gap(void*, Ctx&, bool, uint32_t) noexcept override {
    counters_.opcua_gap.inc();
    return Progress::kDone;
  }

  void end_flow(void* st, Ctx&) noexcept override {
    auto& s = *static_cast<State*>(st);
    for (const Side& d : s.side) {
      if (d.hdr_n == kHeader && (d.type == kHel || d.type == kOpn)) counters_.opcua_pending_at_end.inc();
    }
  }

  void for_each_counter(CounterFn f) const override { counters_.for_each(f); }

 private:
  // HEL (§7.1.2.3): ProtocolVersion, ReceiveBufferSize, SendBufferSize, MaxMessageSize,
  // MaxChunkCount (5 x UInt32), EndpointUrl (String). The URL's host names the application.
  void hello(Ctx& c, const Side& d) noexcept {
    uint32_t at = 20, len = 0;
    const uint8_t* v = nullptr;
    bool past = false;
    if (d.kept < at || !read_bytes(d.buf, d.kept, at, v, len, past) || len == 0) return;
    std::string_view url(reinterpret_cast<const char*>(v), len);
    constexpr std::string_view kScheme = "opc.tcp://";
    if (url.size() <= kScheme.size() || url.substr(0, kScheme.size()) != kScheme) return;
    url.remove_prefix(kScheme.size());
    if (url.front() == '[') return;  // an IPv6 literal names no application
    const size_t end = url.find_first_of(":/");
    c.name_app(url.substr(0, end));
  }

  // OPN (§6.7.2): SecureChannelId (UInt32), then the asymmetric algorithm security header
  // (§6.7.2.3): SecurityPolicyUri (String), SenderCertificate (ByteString),
  // ReceiverCertificateThumbprint (ByteString); then the sequence header and body (maybe
  // encrypted: not read).
  void opn(Ctx& c, const Side& d, bool client_role) noexcept {
    const bool capped = d.size > d.kept;
    uint32_t at = 4, len = 0;
    const uint8_t* v = nullptr;
    bool past = false;
    if (d.kept < at || !read_bytes(d.buf, d.kept, at, v, len, past)) {
      counters_.opcua_bad_opn.inc();
      return;
    }
    const uint8_t* cert = nullptr;
    uint32_t cert_len = 0;
    if (!read_bytes(d.buf, d.kept, at, cert, cert_len, past)) {
      // A chain cut by the cap is read up to it; a length past the message is malformed.
      if (!(past && capped && at <= d.kept && cert_len > 0)) {
        counters_.opcua_bad_opn.inc();
        return;
      }
      cert_len = d.kept - at;
    }
    if (cert_len == 0) {
      counters_.opcua_no_cert.inc();
      return;
    }
    const tls::CertOrigin origin{"opcua", client_role ? "client" : "server"};
    uint32_t off = 0, pos = 0;
    while (off < cert_len) {
      // A DER SEQUENCE (X.690 §8.9): tag 0x30, definite length (short or long form, 1-4 bytes).
      const uint8_t* q = cert + off;
      const uint32_t avail = cert_len - off;
      uint32_t hl = 2, body = 0;
      if (avail < 2 || q[0] != 0x30) {
        counters_.opcua_cert_bad_der.inc();
        return;
      }
      if (q[1] < 0x80) {
        body = q[1];
      } else {
        const uint32_t k = q[1] & 0x7f;
        if (k == 0 || k > 4 || avail < 2 + k) {
          counters_.opcua_cert_bad_der.inc();
          return;
        }
        for (uint32_t i = 0; i < k; ++i) body = body << 8 | q[2 + i];
        hl = 2 + k;
      }
      if (pos == kMaxCerts) {
        counters_.opcua_cert_cap.inc();
        return;
      }
      if (body > avail - hl) {
        // Past the SenderCertificate: cut by the message cap, or malformed (the DER reader
        // then says what is wrong with the bytes there are).
        if (capped) {
          counters_.opcua_cert_errors.inc();
          x509_.write_error(c, pos, hl + body, "cut: the OPN message is larger than the 16384-byte buffer",
                            origin);
        } else {
          x509_.write(c, q, avail, pos, origin, nullptr);
        }
        return;
      }
      x509_.write(c, q, hl + body, pos++, origin, nullptr);
      off += hl + body;
    }
  }

  OpcuaCounters counters_;
  // A small certificate cache (64 entries): servers show the same certificate to every client.
  tls::X509Writer x509_{{counters_.opcua_certs, counters_.opcua_cert_cache_hits, counters_.opcua_cert_errors,
                         counters_.opcua_cert_ext_cap, counters_.opcua_field_truncated,
                         counters_.opcua_san_truncated, counters_.opcua_no_record_buffer},
                        64};
};

}  // namespace

std::unique_ptr<Dissector> make_opcua_dissector() { return std::make_unique<OpcuaDissector>(); }

}  // namespace flowscribe::dissect
