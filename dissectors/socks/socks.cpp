#include "dissectors/socks/socks.h"

#include <cstring>
#include <string_view>

namespace flowscribe::dissect {
namespace {

// Longest messages: a v5 username/password request (1+1+255+1+255), a SOCKS4a request
// (8 + user id + NUL + domain + NUL, each name at most 255 here). The client's buffer also keeps
// tunnel bytes sent before the proxy's reply (optimistic data) for the next dissector.
constexpr uint32_t kMaxName = 255;
constexpr uint32_t kClientBuf = 2560;
constexpr uint32_t kServerBuf = 528;  // a BIND's two replies with names
constexpr uint32_t kMaxMethodToken = 24;  // HTTP method names (dissectors/http) are shorter
constexpr uint32_t kMaxServerLead = 16;  // a v5 server's own bytes before its selection

enum Phase : uint8_t {
  kStart,        // the client's first message says the version
  kV5Select,     // server: VER METHOD
  kV5Auth,       // client: RFC 1929 VER ULEN UNAME PLEN PASSWD
  kV5AuthReply,  // server: VER STATUS
  kV5Request,    // client: VER CMD RSV ATYP DST.ADDR DST.PORT
  kReply,        // server: the request's reply (v4 or v5)
  kReply2,       // server: a BIND's second reply (the peer connected)
  kTunnel,       // relaying: the tunnel's first bytes decide
  kFinished,     // record written, nothing more to read
};

// Status of a negotiation that has no reply code of its own.
enum Outcome : uint8_t {
  kPending,       // nothing decided yet
  kReplied,       // the reply's code says it
  kNoReply,       // the flow ended (or a gap came) before the reply
  kNoMethod,      // v5 server: no acceptable method (0xFF)
  kAuthFailed,    // RFC 1929 status not 0
  kAuthNotRead,   // GSSAPI or a private method: what follows is that method's
};

enum Tunnel : uint8_t { kTunnelNone, kTunnelTls, kTunnelHttp, kTunnelUnknown, kTunnelServerFirst };

struct Side {
  uint32_t len;   // bytes in buf
  uint32_t base;  // stream offset of buf[0]
  uint32_t seen;  // stream bytes of this side so far (saturating at UINT32_MAX)
  uint8_t lost;   // bytes past the buffer were dropped: what follows buf is gone
};

struct State {
  Side side[2];  // [0] client, [1] server
  Nanos ts;      // time of the request (or the greeting, until a request)
  uint8_t phase;
  uint8_t version;  // 4 or 5, 0 before the first message
  uint8_t command;  // 1 connect, 2 bind, 3 udp associate
  uint8_t addr_len; // 4 or 16: target given as an address
  uint8_t host_len;
  uint8_t user_len;
  uint8_t outcome;
  uint8_t reply_code;
  uint8_t method;      // chosen method (v5), 0xFF none acceptable
  uint8_t has_method;
  uint8_t password_seen;
  uint8_t have_request;
  uint8_t have_greeting;
  uint8_t bound_len;   // 4 or 16: the reply's bound address
  uint8_t tunnel;      // Tunnel
  uint8_t methods_len;
  uint8_t written;     // the record is out: nothing more to read
  uint8_t server_early;  // v5: the server had sent bytes before the greeting was whole
  uint16_t port;
  uint16_t bound_port;
  uint8_t addr[16];
  uint8_t bound[16];
  uint8_t methods[16];  // first methods offered (v5)
  char host[kMaxName];
  char user[kMaxName];
  alignas(8) uint8_t cbuf[kClientBuf];
  uint8_t sbuf[kServerBuf];
};
static_assert(sizeof(State) < 4096, "docs/protocols.md: under 4 KiB per flow");

std::string_view v5_status(uint8_t code) {
  switch (code) {
    case 0: return "succeeded";
    case 1: return "general failure";
    case 2: return "connection not allowed by ruleset";
    case 3: return "network unreachable";
    case 4: return "host unreachable";
    case 5: return "connection refused";
    case 6: return "ttl expired";
    case 7: return "command not supported";
    case 8: return "address type not supported";
    default: return "unassigned";
  }
}

std::string_view v4_status(uint8_t code) {
  switch (code) {
    case 90: return "succeeded";
    case 91: return "rejected or failed";
    case 92: return "rejected: identd unreachable";
    case 93: return "rejected: identd user mismatch";
    default: return "unassigned";
  }
}

std::string_view method_name(uint8_t m) {
  switch (m) {
    case 0x00: return "none";
    case 0x01: return "gssapi";
    case 0x02: return "userpass";
    case 0x03: return "chap";
    case 0x05: return "challenge-response";
    case 0x06: return "ssl";
    case 0x07: return "nds";
    case 0x08: return "multi-auth";
    case 0x09: return "json";
    case 0xff: return "no-acceptable";
    default: return m >= 0x80 ? "private" : "unassigned";
  }
}

std::string_view command_name(uint8_t c) {
  switch (c) {
    case 1: return "connect";
    case 2: return "bind";
    case 3: return "udp_associate";
    default: return "unknown";
  }
}

// Message parse results: bytes of a complete message, or one of these.
constexpr int kNeedMore = 0;
constexpr int kBadVersion = -1;
constexpr int kBadMessage = -2;

bool token_char(uint8_t c) {
  return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

class SocksDissector final : public Dissector {
 public:
  std::string_view name() const noexcept override { return "socks"; }
  uint32_t state_bytes() const noexcept override { return sizeof(State); }
  uint32_t default_states() const noexcept override { return 2048; }

  void begin_flow(void* st, Ctx&, uint8_t) noexcept override {
    auto& s = *static_cast<State*>(st);
    std::memset(static_cast<void*>(&s), 0, offsetof(State, cbuf));
    counters_.socks_flows.inc();
  }

  Progress data(void* st, Ctx& c, bool from_client, const uint8_t* p, uint32_t len,
                uint32_t) noexcept override {
    auto& s = *static_cast<State*>(st);
    if (s.written) return Progress::kDone;
    const int d = from_client ? 0 : 1;
    Side& sd = s.side[d];
    const uint32_t call_start = sd.seen;
    sd.seen = len > UINT32_MAX - sd.seen ? UINT32_MAX : sd.seen + len;
    if (!sd.lost) {
      const uint32_t cap = d == 0 ? kClientBuf : kServerBuf;
      const uint32_t take = len < cap - sd.len ? len : cap - sd.len;
      if (take) std::memcpy(buf(s, d) + sd.len, p, take);
      sd.len += take;
      if (take < len) sd.lost = 1;
    }
    if (s.ts == 0 && d == 0) s.ts = c.now;
    return advance(s, c, d, call_start, len);
  }

  Progress gap(void* st, Ctx& c, bool, uint32_t) noexcept override {
    auto& s = *static_cast<State*>(st);
    if (s.written) return Progress::kDone;
    counters_.socks_gaps.inc();
    if (s.phase < kTunnel && s.outcome == kPending) s.outcome = kNoReply;
    write_record(s, c);
    return Progress::kDone;
  }

  void end_flow(void* st, Ctx& c) noexcept override {
    auto& s = *static_cast<State*>(st);
    if (s.written) return;
    if (s.phase < kTunnel && s.outcome == kPending) s.outcome = kNoReply;
    write_record(s, c);
  }

  void for_each_counter(CounterFn f) const override { counters_.for_each(f); }

 private:
  static uint8_t* buf(State& s, int d) { return d == 0 ? s.cbuf : s.sbuf; }

  // Drops a parsed message of `n` bytes from the front of side `d`'s buffer.
  static void consume(State& s, int d, uint32_t n) {
    Side& sd = s.side[d];
    std::memmove(buf(s, d), buf(s, d) + n, sd.len - n);
    sd.len -= n;
    sd.base += n;
  }

  // Reads the messages that are complete, in the protocol's order (a pipelining client's next
  // message waits in its buffer for the server's answer to the previous one).
  Progress advance(State& s, Ctx& c, int cur, uint32_t call_start, uint32_t call_len) noexcept {
    for (int steps = 0; steps < 16; ++steps) {
      const int d = (s.phase == kStart || s.phase == kV5Auth || s.phase == kV5Request) ? 0 : 1;
      if (s.phase == kTunnel) return tunnel(s, c, cur, call_start, call_len);
      Side& sd = s.side[d];
      int n = kNeedMore;
      switch (s.phase) {
        case kStart: n = first(s, c); break;
        case kV5Select: n = select(s); break;
        case kV5Auth: n = auth(s); break;
        case kV5AuthReply: n = auth_reply(s); break;
        case kV5Request: n = request5(s, c); break;
        case kReply:
        case kReply2: n = reply(s); break;
        default: return Progress::kDone;
      }
      if (n == kBadVersion) {
        counters_.socks_bad_version.inc();
        return Progress::kViolation;
      }
      if (n == kBadMessage) {
        counters_.socks_bad_message.inc();
        return Progress::kViolation;
      }
      if (n == kNeedMore) {
        if (sd.lost) {
          // The message runs past what could be kept: only a hostile one does (every bound
          // of the protocol fits the buffers), or capture loss.
          counters_.socks_bad_message.inc();
          return Progress::kViolation;
        }
        return Progress::kMore;
      }
      consume(s, d, static_cast<uint32_t>(n));
      if (s.phase == kFinished) {
        write_record(s, c);
        return Progress::kDone;
      }
    }
    return Progress::kMore;
  }

  // The client's first message: a v5 greeting or a v4 request.
  int first(State& s, Ctx& c) noexcept {
    const Side& sd = s.side[0];
    if (sd.len < 1) return kNeedMore;
    const uint8_t* b = s.cbuf;
    if (b[0] == 5) {
      if (sd.len < 2) return kNeedMore;
      const uint32_t n = b[1];
      if (n == 0) return kBadMessage;
      if (sd.len < 2 + n) return kNeedMore;
      s.version = 5;
      s.have_greeting = 1;
      s.server_early = s.side[1].len != 0;
      s.methods_len = static_cast<uint8_t>(n < sizeof s.methods ? n : sizeof s.methods);
      std::memcpy(s.methods, b + 2, s.methods_len);
      s.phase = kV5Select;
      return static_cast<int>(2 + n);
    }
    if (b[0] == 4) return request4(s, c);
    return kBadVersion;
  }

  // VN CD DSTPORT DSTIP USERID NUL [DOMAIN NUL] (SOCKS4, SOCKS4a when DSTIP is 0.0.0.x, x != 0).
  int request4(State& s, Ctx& c) noexcept {
    const uint8_t* b = s.cbuf;
    const uint32_t len = s.side[0].len;
    if (len < 2) return kNeedMore;
    if (b[1] != 1 && b[1] != 2) return kBadMessage;
    if (len < 9) return kNeedMore;
    uint32_t i = 8;
    const uint32_t user_at = i;
    while (i < len && b[i] != 0 && i - user_at <= kMaxName) ++i;
    if (i - user_at > kMaxName) return kBadMessage;
    if (i == len) return kNeedMore;
    const uint32_t user_len = i - user_at;
    ++i;
    const bool v4a = b[4] == 0 && b[5] == 0 && b[6] == 0 && b[7] != 0;
    uint32_t host_at = i, host_len = 0;
    if (v4a) {
      while (i < len && b[i] != 0 && i - host_at <= kMaxName) ++i;
      if (i - host_at > kMaxName) return kBadMessage;
      if (i == len) return kNeedMore;
      host_len = i - host_at;
      ++i;
    }
    s.version = 4;
    s.command = b[1];
    s.port = static_cast<uint16_t>(b[2] << 8 | b[3]);
    if (v4a) {
      set_host(s, c, b + host_at, host_len);
    } else {
      s.addr_len = 4;
      std::memcpy(s.addr, b + 4, 4);
    }
    s.user_len = static_cast<uint8_t>(user_len);
    std::memcpy(s.user, b + user_at, user_len);
    s.have_request = 1;
    s.ts = c.now;
    counters_.socks_v4_requests.inc();
    s.phase = kReply;
    return static_cast<int>(i);
  }

  void set_host(State& s, Ctx& c, const uint8_t* p, uint32_t n) noexcept {
    s.host_len = static_cast<uint8_t>(n);
    std::memcpy(s.host, p, n);
    c.name_app(std::string_view(s.host, n));
  }

  // VER METHOD. A server that sent bytes of its own first (a proxy bot's hello to the
  // controller it dialled, whose greeting and request came straight after): up to
  // kMaxServerLead of them are skipped when the selection that follows is "no authentication",
  // offered, and the client's request comes ahead of it (the classifier's probe asks the
  // same). Only when the server spoke before the greeting was whole, or the request is already
  // here: otherwise the first server byte must be the version.
  int select(State& s) noexcept {
    const uint32_t len = s.side[1].len;
    if (len < 2) return kNeedMore;
    if (s.sbuf[0] != 5) {
      if (!s.server_early && (s.side[0].len == 0 || s.cbuf[0] != 5)) return kBadVersion;
      uint32_t k = 1;
      for (; k <= kMaxServerLead && k + 1 < len; ++k) {
        if (s.sbuf[k] == 5 && s.sbuf[k + 1] == 0) break;
      }
      if (k > kMaxServerLead) return kBadVersion;
      if (k + 1 >= len) return kNeedMore;  // the selection may still come
      bool none_offered = false;
      for (uint32_t i = 0; i < s.methods_len; ++i) none_offered |= s.methods[i] == 0;
      if (!none_offered) return kBadVersion;
      if (s.side[0].len == 0) return kNeedMore;  // the request it answers ahead of time
      if (s.cbuf[0] != 5) return kBadVersion;
      counters_.socks_server_lead.inc();
      s.method = 0;
      s.has_method = 1;
      s.phase = kV5Request;
      return static_cast<int>(k + 2);
    }
    s.method = s.sbuf[1];
    s.has_method = 1;
    switch (s.method) {
      case 0x00:
        s.phase = kV5Request;
        break;
      case 0x02:
        s.phase = kV5Auth;
        break;
      case 0xff:
        s.outcome = kNoMethod;
        counters_.socks_failed.inc();
        s.phase = kFinished;
        break;
      default:
        s.outcome = kAuthNotRead;
        counters_.socks_auth_not_read.inc();
        s.phase = kFinished;
    }
    return 2;
  }

  // RFC 1929: VER(1) ULEN UNAME PLEN PASSWD. The password is skipped, never kept.
  int auth(State& s) noexcept {
    const uint8_t* b = s.cbuf;
    const uint32_t len = s.side[0].len;
    if (len < 1) return kNeedMore;
    if (b[0] != 1) return kBadVersion;
    if (len < 2) return kNeedMore;
    const uint32_t ulen = b[1];
    if (len < 3 + ulen) return kNeedMore;
    const uint32_t plen = b[2 + ulen];
    if (len < 3 + ulen + plen) return kNeedMore;
    s.user_len = static_cast<uint8_t>(ulen);
    std::memcpy(s.user, b + 2, ulen);
    s.password_seen = 1;
    counters_.socks_userpass.inc();
    s.phase = kV5AuthReply;
    return static_cast<int>(3 + ulen + plen);
  }

  // VER STATUS (RFC 1929 says VER 1; some servers answer with 5).
  int auth_reply(State& s) noexcept {
    if (s.side[1].len < 2) return kNeedMore;
    if (s.sbuf[0] != 1 && s.sbuf[0] != 5) return kBadVersion;
    if (s.sbuf[1] != 0) {
      s.outcome = kAuthFailed;
      counters_.socks_failed.inc();
      s.phase = kFinished;
    } else {
      s.phase = kV5Request;
    }
    return 2;
  }

  // ATYP ADDR PORT at b[at]: the bytes it takes (0: more needed, -1: bad type).
  static int address(const uint8_t* b, uint32_t len, uint32_t at) {
    if (len < at + 1) return 0;
    switch (b[at]) {
      case 1: return len < at + 7 ? 0 : 7;
      case 4: return len < at + 19 ? 0 : 19;
      case 3:
        if (len < at + 2) return 0;
        return len < at + 4 + b[at + 1] ? 0 : 4 + b[at + 1];
      default: return -1;
    }
  }

  // VER CMD RSV ATYP DST.ADDR DST.PORT
  int request5(State& s, Ctx& c) noexcept {
    const uint8_t* b = s.cbuf;
    const uint32_t len = s.side[0].len;
    if (len < 1) return kNeedMore;
    if (b[0] != 5) return kBadVersion;
    if (len < 2) return kNeedMore;
    if (b[1] < 1 || b[1] > 3) return kBadMessage;
    const int a = address(b, len, 3);
    if (a < 0) return kBadMessage;
    if (a == 0) return kNeedMore;
    s.command = b[1];
    const uint32_t end = 3 + static_cast<uint32_t>(a);
    s.port = static_cast<uint16_t>(b[end - 2] << 8 | b[end - 1]);
    if (b[3] == 3) {
      set_host(s, c, b + 5, b[4]);
    } else {
      s.addr_len = b[3] == 1 ? 4 : 16;
      std::memcpy(s.addr, b + 4, s.addr_len);
    }
    s.have_request = 1;
    s.ts = c.now;
    counters_.socks_v5_requests.inc();
    s.phase = kReply;
    return static_cast<int>(end);
  }

  // v5: VER REP RSV ATYP BND.ADDR BND.PORT; v4: VN(0) CD DSTPORT DSTIP.
  int reply(State& s) noexcept {
    const uint8_t* b = s.sbuf;
    const uint32_t len = s.side[1].len;
    uint32_t n = 0;
    uint8_t code = 0;
    bool ok = false;
    if (s.version == 4) {
      if (len < 1) return kNeedMore;
      if (b[0] != 0) return kBadVersion;
      if (len < 8) return kNeedMore;
      n = 8;
      code = b[1];
      ok = code == 90;
      if (s.phase == kReply) {
        s.bound_len = 4;
        std::memcpy(s.bound, b + 4, 4);
        s.bound_port = static_cast<uint16_t>(b[2] << 8 | b[3]);
      }
    } else {
      if (len < 1) return kNeedMore;
      if (b[0] != 5) return kBadVersion;
      if (len < 2) return kNeedMore;
      const int a = address(b, len, 3);
      if (a < 0) return kBadMessage;
      if (a == 0) return kNeedMore;
      n = 3 + static_cast<uint32_t>(a);
      code = b[1];
      ok = code == 0;
      if (s.phase == kReply && b[3] != 3) {
        s.bound_len = b[3] == 1 ? 4 : 16;
        std::memcpy(s.bound, b + 4, s.bound_len);
        s.bound_port = static_cast<uint16_t>(b[n - 2] << 8 | b[n - 1]);
      }
    }
    if (s.phase == kReply || !ok) {
      // The first reply's code is the request's (a BIND's second reply only when it failed).
      s.reply_code = code;
      s.outcome = kReplied;
    }
    if (!ok) {
      counters_.socks_failed.inc();
      s.phase = kFinished;
    } else if (s.command == 1 || s.phase == kReply2) {
      s.phase = kTunnel;
    } else if (s.command == 2) {
      s.phase = kReply2;
    } else {
      s.phase = kFinished;  // UDP ASSOCIATE: the datagrams go elsewhere
    }
    return static_cast<int>(n);
  }

  // The tunnel is open: its first bytes say what it carries.
  Progress tunnel(State& s, Ctx& c, int cur, uint32_t call_start, uint32_t call_len) noexcept {
    const Side& cl = s.side[0];
    const Side& sv = s.side[1];
    if (cl.len == 0 && !cl.lost) {
      if (sv.len == 0 && !sv.lost) return Progress::kMore;
      // A TLS server never speaks first: a handshake record from it means the capture lost
      // the client's hello. Its ServerHello and certificates are still read.
      const uint8_t* sb = s.sbuf;
      if (sb[0] == 0x16 && sv.len < 3 && !sv.lost) return Progress::kMore;
      // Server bytes kept from earlier calls go first (all of them must be in the buffer).
      const uint32_t keep = sv.base < call_start ? call_start - sv.base : 0;
      if (cur == 1 && keep <= sv.len && sv.len >= 3 && sb[0] == 0x16 && sb[1] == 0x03 &&
          sb[2] <= 0x04) {
        s.tunnel = kTunnelTls;
        counters_.socks_handover_tls.inc();
        counters_.socks_handover_tls_server_first.inc();
        write_record(s, c);
        const uint32_t used = sv.base > call_start ? sv.base - call_start : 0;
        c.hand_over(AppProto::kTls, used < call_len ? used : call_len);
        if (keep != 0) c.hand_over_replay(s.sbuf, keep, false);
        return Progress::kDone;
      }
      s.tunnel = kTunnelServerFirst;
      counters_.socks_tunnel_server_first.inc();
      return finish(s, c);
    }
    // What the client's first bytes are.
    const uint8_t* b = s.cbuf;
    const uint32_t n = cl.len;
    AppProto next = AppProto::kUnknown;
    if (b[0] == 0x16) {
      if (n < 2) return cl.lost ? unknown(s, c) : Progress::kMore;
      if (b[1] == 0x03) next = AppProto::kTls;
    } else if ((b[0] & 0x80) && n >= 3 && b[2] == 0x01) {
      next = AppProto::kTls;  // SSLv2-format ClientHello
    } else if (b[0] >= 'A' && b[0] <= 'Z') {
      uint32_t i = 1;
      while (i < n && i <= kMaxMethodToken && token_char(b[i])) ++i;
      if (i == n && i <= kMaxMethodToken) return cl.lost ? unknown(s, c) : Progress::kMore;
      if (i < n && b[i] == ' ') next = AppProto::kHttp;
    } else if ((b[0] & 0x80) && n < 3) {
      return cl.lost ? unknown(s, c) : Progress::kMore;
    }
    if (next == AppProto::kUnknown) return unknown(s, c);
    s.tunnel = next == AppProto::kTls ? kTunnelTls : kTunnelHttp;
    // Hand over what is not yet the next dissector's: the client bytes before this call
    // (kept here), then this call's bytes after the last SOCKS message. Server bytes kept from
    // an earlier call, or client bytes that did not fit, cannot be given: no hand-over.
    const Side& cs = s.side[cur];
    const bool earlier_server = sv.len != 0 && (cur == 0 || sv.base < call_start);
    if (cl.lost || earlier_server) {
      counters_.socks_optimistic_overflow.inc();
      return finish(s, c);
    }
    const uint32_t used = cs.base > call_start ? cs.base - call_start : 0;
    uint32_t keep = 0;  // client bytes from earlier calls
    if (cur == 1) {
      keep = cl.len;
    } else if (call_start > cl.base) {
      keep = call_start - cl.base;
    }
    if (keep != 0) counters_.socks_optimistic.inc();
    if (next == AppProto::kTls) {
      counters_.socks_handover_tls.inc();
    } else {
      counters_.socks_handover_http.inc();
    }
    write_record(s, c);
    c.hand_over(next, used < call_len ? used : call_len);
    if (keep != 0) c.hand_over_replay(s.cbuf, keep, true);
    return Progress::kDone;
  }

  Progress unknown(State& s, Ctx& c) noexcept {
    s.tunnel = kTunnelUnknown;
    counters_.socks_tunnel_unknown.inc();
    return finish(s, c);
  }

  Progress finish(State& s, Ctx& c) noexcept {
    write_record(s, c);
    return Progress::kDone;
  }

  void write_record(State& s, Ctx& c) noexcept {
    if (s.written) return;
    s.written = 1;
    s.phase = kFinished;
    const bool anything = s.have_greeting || s.have_request;
    if (!anything) return;
    if (s.outcome == kNoReply) counters_.socks_no_reply.inc();
    emit::Record* r = c.begin(emit::RecordType::kSocks);
    if (r == nullptr) return;
    r->ts_ns = s.ts;
    counters_.socks_records.inc();
    auto str = [&](emit::Field f, std::string_view v) {
      r->add_field(emit::field_id(f), v.data(), v.size());
    };
    auto u8 = [&](emit::Field f, uint8_t v) { r->add_field(emit::field_id(f), &v, 1); };
    auto u16 = [&](emit::Field f, uint16_t v) { r->add_field(emit::field_id(f), &v, 2); };
    u8(emit::Field::kSocksVersion, s.version);
    if (s.have_request) {
      str(emit::Field::kSocksCommand, command_name(s.command));
      if (s.host_len) str(emit::Field::kSocksHost, std::string_view(s.host, s.host_len));
      if (s.addr_len) r->add_field(emit::field_id(emit::Field::kSocksAddr), s.addr, s.addr_len);
      u16(emit::Field::kSocksPort, s.port);
    }
    switch (s.outcome) {
      case kReplied:
        str(emit::Field::kSocksStatus, s.version == 4 ? v4_status(s.reply_code) : v5_status(s.reply_code));
        u8(emit::Field::kSocksStatusCode, s.reply_code);
        break;
      case kNoReply:
        str(emit::Field::kSocksStatus, "no reply");
        break;
      case kNoMethod:
        str(emit::Field::kSocksStatus, "no acceptable methods");
        break;
      case kAuthFailed:
        str(emit::Field::kSocksStatus, "auth failed");
        break;
      case kAuthNotRead:
        str(emit::Field::kSocksStatus, "auth method not read");
        break;
      default:
        break;
    }
    if (s.user_len) str(emit::Field::kSocksUser, std::string_view(s.user, s.user_len));
    if (s.password_seen) u8(emit::Field::kSocksPasswordSeen, 1);
    if (s.has_method) str(emit::Field::kSocksAuth, method_name(s.method));
    if (s.methods_len) {
      char list[sizeof s.methods * 20];
      size_t at = 0;
      for (uint32_t i = 0; i < s.methods_len; ++i) {
        const std::string_view m = method_name(s.methods[i]);
        if (i) list[at++] = ',';
        std::memcpy(list + at, m.data(), m.size());
        at += m.size();
      }
      str(emit::Field::kSocksAuthOffered, std::string_view(list, at));
    }
    // A zero address and port say nothing (SOCKS4 servers that ignore the fields send them).
    static constexpr uint8_t kZero[16] = {};
    if (s.bound_len && (s.bound_port != 0 || std::memcmp(s.bound, kZero, s.bound_len) != 0)) {
      r->add_field(emit::field_id(emit::Field::kSocksBoundAddr), s.bound, s.bound_len);
      u16(emit::Field::kSocksBoundPort, s.bound_port);
    }
    static constexpr std::string_view kTunnelNames[] = {"", "tls", "http", "unknown", "server_first"};
    if (s.tunnel != kTunnelNone) str(emit::Field::kSocksTunnel, kTunnelNames[s.tunnel]);
    c.commit(r);
  }

  SocksCounters counters_;
};

}  // namespace

std::unique_ptr<Dissector> make_socks_dissector() { return std::make_unique<SocksDissector>(); }

}  // namespace flowscribe::dissect
