#include "dissectors/http/http.h"

#include <cstddef>
#include <cstring>
#include <new>
#include <string_view>

#include "dissectors/classify/probe_util.h"
#include "dissectors/http/http_fields.h"

// How it reads a flow (docs/protocols.md, "HTTP dissector"):
//  - each direction is a small state machine over lines (start line, headers, chunk sizes,
//    trailers) and counted byte runs (bodies): a line is copied into a fixed buffer, a body
//    is never copied, only its length is counted (RFC 9112 section 6.3 decides the length);
//  - requests open transactions in a ring of kDepth (pipelining); a response pairs with the
//    oldest transaction that has none yet (RFC 9112 section 9.3.2: responses come in order);
//    a transaction is written once both its request and its response are complete;
//  - the strings of a transaction (URI, headers, reason, ...) go into its own arena, each cut
//    to its cap, so a record never exceeds the extension area.
// Cost: one memchr per line plus a copy of header bytes (~0.5 KiB per request); body bytes
// cost a subtraction per delivered segment.

namespace flowscribe::dissect {
namespace {

using emit::Field;
using emit::field_id;
using probe_util::iequals;
using http_fields::disposition_filename;
using http_fields::hex_value;
using http_fields::host_name;
using http_fields::is_ows;
using http_fields::trim;
using http_fields::uri_filename;

constexpr uint32_t kDepth = 4;          // transactions held per flow (pipelined requests)
constexpr uint32_t kArena = 1400;       // string bytes per transaction, request and response
constexpr uint32_t kLineCap[2] = {1024, 512};  // line buffer: client (request line), server
constexpr uint32_t kResyncBudget = 256 * 1024;  // bytes searched for a message start
constexpr uint64_t kMaxLength = uint64_t{1} << 60;  // larger lengths are refused

// String fields of a transaction, in their arena.
enum S : uint8_t {
  kMethod, kHost, kUri, kVersion, kUa, kReferer, kReqCtype, kXff, kOrigin, kUpgrade, kReqTe,
  kReqCe, kReason, kCtype, kTe, kCe, kFilename, kLocation, kStrCount
};
// Caps (raw bytes kept) per string field: the worst case of a full transaction fits the
// record's 1920-byte extension area with every other field (static_assert below).
constexpr uint16_t kCap[kStrCount] = {24, 128, 760, 8, 256, 256, 96, 96, 128, 48, 48,
                                      48, 48, 96, 48, 48, 160, 256};

// Anomalies of one transaction, written as `tags` (docs/records.md).
enum Tag : uint32_t {
  kTagNoResponse = 1u << 0,
  kTagNoRequest = 1u << 1,
  kTagReqIncomplete = 1u << 2,
  kTagRespIncomplete = 1u << 3,
  kTagUriTruncated = 1u << 4,
  kTagLongHeader = 1u << 5,
  kTagFieldTruncated = 1u << 6,
  kTagBadHeader = 1u << 7,
  kTagBadLength = 1u << 8,
  kTagTeAndCl = 1u << 9,
  kTagBadChunk = 1u << 10,
  kTagReqGap = 1u << 11,
  kTagRespGap = 1u << 12,
  kTagPipelineOverflow = 1u << 13,
  kTagHttp09 = 1u << 14,
  kTagBadResponse = 1u << 15,
  kTagBadRequestLine = 1u << 16,
  kTagLowercaseVersion = 1u << 17,
};
constexpr std::string_view kTagNames[] = {
    "no_response", "no_request",  "req_incomplete",    "resp_incomplete", "uri_truncated",
    "long_header", "field_truncated", "bad_header",    "bad_length",      "te_and_cl",
    "bad_chunk",   "req_gap",     "resp_gap",          "pipeline_overflow", "http09",
    "bad_response", "bad_request_line", "lowercase_version"};
constexpr size_t kTagCount = sizeof(kTagNames) / sizeof(kTagNames[0]);

enum TxnFlag : uint16_t {
  kReqDone = 1,       // the request (headers and body) is complete, or given up
  kRespStarted = 2,   // a status line (interim or final) was paired with this transaction
  kRespDone = 4,      // the final response is complete, or given up
  kHasStatus = 8,     // a final status line was parsed
  kHead = 16,         // HEAD: the response has no body (RFC 9110 section 9.3.2)
  kConnect = 32,      // CONNECT: a 2xx response turns the flow into a tunnel
  kTunnel = 64,       // CONNECT 2xx or 101: the flow moved on
  kNoRequest = 128,   // a response with no request to pair with
  kHasRequest = 256,  // a request line was parsed
  kUpgradeReq = 512,  // the request asked for Upgrade
  kReqBody = 1024,    // the request's body is being counted (req_incomplete at flow end)
};

struct Str {
  uint16_t off;
  uint16_t len;
};

struct Txn {
  uint64_t body[2];  // [0] request body, [1] response body (after chunked framing)
  Str str[kStrCount];
  uint32_t have;     // bit per S: the field was set (first header wins)
  uint32_t tags;
  uint16_t used;     // arena bytes used
  uint16_t flags;
  uint16_t headers[2];
  uint16_t status;
  uint16_t info_status;
  uint8_t version[2];  // major*10+minor of request and response, 0xff unknown
};

// Parsing state of one direction.
enum Phase : uint8_t {
  kStart,       // a request/status line must come (blank lines skipped)
  kHeaders,
  kBody,        // `remaining` bytes of Content-Length
  kChunkSize,
  kChunkData,   // `remaining` bytes of the current chunk
  kChunkEnd,    // the CRLF after chunk data
  kTrailers,
  kUntilClose,  // body delimited by the end of the connection
  kResync,      // looking for the next message start
};

// Framing headers of the message being read.
enum HdrFlag : uint8_t {
  kHdrChunked = 1,
  kHdrTe = 2,       // Transfer-Encoding present
  kHdrCl = 4,       // Content-Length present
  kHdrBadCl = 8,
};

struct Side {
  uint64_t remaining;
  uint64_t cl;
  uint32_t seq;          // transaction this side reads (absolute sequence number)
  uint32_t resync_scanned;
  uint16_t line_len;
  uint8_t phase;
  uint8_t line_skip;     // the current line overflowed the buffer: skipping to its LF
  uint8_t line_frag;     // the current line began inside a gap: not a message start
  uint8_t hdr;           // HdrFlag
  uint8_t scratch;       // reading into this side's scratch transaction (never written)
  uint8_t quiet;         // resync after CONNECT/Upgrade: waiting, not an anomaly
};

struct alignas(64) State {
  Side side[2];  // [0] client, [1] server
  uint32_t head;  // oldest transaction held
  uint32_t tail;  // next transaction number
  uint32_t skip_responses;  // responses whose transaction was written early (pipeline overflow)
  uint8_t done;
  uint8_t seen_message;     // a request or status line was parsed: later junk is not a violation
  Txn txn[kDepth + 2];      // ring, then one scratch transaction per side
  // Not cleared by begin_flow: written before read.
  uint8_t arena[kDepth][kArena];
  uint8_t line_client[kLineCap[0]];  // the line being read, per direction
  uint8_t line_server[kLineCap[1]];
  uint8_t* line(int d) noexcept { return d == 0 ? line_client : line_server; }
};
static_assert(sizeof(State) <= 8192, "8192 flows per worker must stay under 64 MiB");

constexpr uint32_t kStrTotalMax = [] {
  uint32_t n = 0;
  for (uint16_t c : kCap) n += c + 4;
  return n;
}();
// Worst case record: every string at its cap or the arena, numbers, tags (< 256 bytes).
static_assert(kArena + kStrCount * 4 + 8 * 16 + 256 <= sizeof(emit::Record::ext));
static_assert(kStrTotalMax > kArena, "the arena, not the caps, bounds a transaction");

constexpr bool is_tchar(char c) noexcept {
  return probe_util::is_alpha(c) || probe_util::is_digit(c) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}
// "1.1" -> 11; anything else 0xff.
uint8_t version_code(std::string_view v) noexcept {
  if (v.size() == 3 && probe_util::is_digit(v[0]) && v[1] == '.' && probe_util::is_digit(v[2])) {
    return static_cast<uint8_t>((v[0] - '0') * 10 + (v[2] - '0'));
  }
  return 0xff;
}
bool no_controls(std::string_view s) noexcept {
  for (char c : s) {
    const auto u = static_cast<uint8_t>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
  }
  return true;
}

struct RequestLine {
  std::string_view method, target, version;  // version: after "HTTP/", empty for HTTP/0.9
  bool http09 = false;
};
// RFC 9112 section 3: method SP request-target SP HTTP-version. Lenient where real clients
// are (extra spaces, raw UTF-8 in the target); `strict` (resynchronising) wants HTTP/1.x.
bool parse_request_line(std::string_view s, bool truncated, bool strict, RequestLine& r) noexcept {
  const size_t sp = s.find(' ');
  if (sp == std::string_view::npos || sp == 0 || sp > 24) return false;
  r.method = s.substr(0, sp);
  if (!probe_util::is_alpha(r.method[0])) return false;
  for (char c : r.method) {
    if (!is_tchar(c)) return false;
  }
  std::string_view rest = trim(s.substr(sp + 1));
  if (rest.empty() || !no_controls(rest)) return false;
  if (truncated) {  // the version is beyond the buffer
    if (strict) return false;
    r.target = rest.substr(0, rest.find(' '));
    return true;
  }
  const size_t last = rest.rfind(' ');
  if (last == std::string_view::npos && !strict && rest.size() >= 6 && rest.size() <= 13 &&
      rest.substr(0, 5) == "HTTP/") {
    r.version = rest.substr(5);  // "GET HTTP/1.1": no target (servers answer 400)
    return true;
  }
  if (last == std::string_view::npos) {
    // HTTP/0.9 simple request (RFC 1945 section 4.1): a method and a path, nothing else
    // (GET in the RFC; servers and Zeek take any method).
    if (strict || rest[0] != '/') return false;
    // "GET /HTTP/1.1": a 1.x request with its space missing, not a 0.9 one (headers follow).
    if (rest.find("HTTP/1.") != std::string_view::npos) return false;
    r.target = rest;
    r.http09 = true;
    return true;
  }
  const std::string_view v = rest.substr(last + 1);
  if (v.size() < 6 || v.size() > 13 || v.substr(0, 5) != "HTTP/") return false;
  r.version = v.substr(5);
  if (strict && r.version != "1.1" && r.version != "1.0") return false;
  r.target = trim(rest.substr(0, last));
  return !r.target.empty();
}

// A request line that breaks the grammar but is plainly one (servers answer these with 400,
// and scanners send them): printable text with an "HTTP/1." version somewhere, e.g.
// "OPTIONSHTTP/1.1" or "GET/HTTP/1.1". The method is the leading letters, the target what
// lies between them and the version. Only where a request must start, never to resync.
bool parse_malformed_request_line(std::string_view s, RequestLine& r) noexcept {
  const size_t v = s.rfind("HTTP/1.");
  if (v == std::string_view::npos || s.size() > 8192) return false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 && c != '\t') return false;
    if (u == 0x7f) return false;
  }
  // The method: the leading token characters, not into the version ("OPTIONSHTTP/1.1").
  size_t m = 0;
  while (m < v && m < 24 && is_tchar(s[m])) ++m;
  r.method = s.substr(0, m);
  r.version = trim(s.substr(v + 5));
  if (m < s.size() && s[m] == ' ') {
    // "GET /HTTP/1.1": the target is what was written, version glued to it or not.
    std::string_view rest = trim(s.substr(m + 1));
    if (rest.size() >= 9 && rest.substr(rest.size() - 9, 1) == " " &&
        rest.substr(rest.size() - 8, 7) == "HTTP/1.") {
      rest = trim(rest.substr(0, rest.size() - 9));
    }
    r.target = rest;
  } else {
    r.target = trim(s.substr(m, v - m));  // "GET/HTTP/1.1": "/"
  }
  r.http09 = false;
  return true;
}

// The first line of a connection: a few bytes of anything, then a well-formed HTTP/1.x
// request line ("\xdd\0\0\0 GET /txt HTTP/1.1": a client's framing or a tunnel's leftovers;
// servers answer it, Zeek logs it as bad_HTTP_request_with_version). The request is what
// follows the junk, at most 64 bytes in.
bool request_after_junk(std::string_view s, RequestLine& r) noexcept {
  const size_t v = s.rfind(" HTTP/1.");
  if (v == std::string_view::npos) return false;
  for (size_t i = 1; i < 64 && i < v; ++i) {
    if (is_tchar(s[i - 1]) || !probe_util::is_alpha(s[i])) continue;
    if (parse_request_line(s.substr(i), false, true, r)) return true;
  }
  return false;
}

// The first line of a connection is a bare method and nothing else ("OPTIONS"), and headers
// follow: a request line missing its target and version. Servers answer it (400); Zeek logs it
// as bad_HTTP_request. Reached only on a flow already named HTTP (by the server's status line).
bool bare_method_line(std::string_view s, RequestLine& r) noexcept {
  if (s.empty() || s.size() > 24 || s[0] < 'A' || s[0] > 'Z') return false;
  for (char c : s) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  r.method = s;
  r.target = {};
  r.version = {};
  r.http09 = false;
  return true;
}

// "HTTP/" at the start of b[0, n) as far as n goes, in any letter case: the name is
// case-sensitive (RFC 9112 section 2.3), but curl and browsers take a server's "http/1.1".
bool http_name_prefix(const uint8_t* b, size_t n) noexcept {
  constexpr std::string_view kV{"HTTP/"};
  const size_t k = n < kV.size() ? n : kV.size();
  return iequals(std::string_view(reinterpret_cast<const char*>(b), k), kV.substr(0, k));
}

struct StatusLine {
  std::string_view version, reason;
  uint16_t code = 0;
  bool lowercase = false;  // "http/1.1": taken where a response must start, never to resync
};
// RFC 9112 section 4: HTTP-version SP 3DIGIT SP [reason-phrase].
bool parse_status_line(std::string_view s, bool strict, StatusLine& r) noexcept {
  if (s.size() < 12) return false;
  r.lowercase = s.substr(0, 5) != "HTTP/";
  if (r.lowercase && (strict || !http_name_prefix(reinterpret_cast<const uint8_t*>(s.data()), 5))) {
    return false;
  }
  const size_t sp = s.find(' ');
  if (sp == std::string_view::npos || sp < 6 || sp > 13) return false;
  r.version = s.substr(5, sp - 5);
  if (strict && r.version != "1.1" && r.version != "1.0") return false;
  std::string_view rest = s.substr(sp + 1);
  while (!rest.empty() && rest[0] == ' ') rest.remove_prefix(1);
  if (rest.size() < 3 || !probe_util::is_digit(rest[0]) || !probe_util::is_digit(rest[1]) ||
      !probe_util::is_digit(rest[2]) || rest[0] == '0') {
    return false;
  }
  if (rest.size() > 3 && !is_ows(rest[3])) return false;
  r.code = static_cast<uint16_t>((rest[0] - '0') * 100 + (rest[1] - '0') * 10 + (rest[2] - '0'));
  r.reason = rest.size() > 3 ? trim(rest.substr(4)) : std::string_view{};
  return true;
}

// 1*DIGIT (RFC 9110 section 8.6), leading zeros allowed; false when not a number or too big.
bool parse_length(std::string_view s, uint64_t& v) noexcept {
  s = trim(s);
  if (s.empty()) return false;
  v = 0;
  for (char c : s) {
    if (!probe_util::is_digit(c)) return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
    if (v > kMaxLength) return false;
  }
  return true;
}
// chunk-size [ chunk-ext ] (RFC 9112 section 7.1).
bool parse_chunk_size(std::string_view s, uint64_t& v) noexcept {
  s = trim(s);
  size_t i = 0;
  v = 0;
  for (; i < s.size() && hex_value(s[i]) >= 0; ++i) {
    if (v > (kMaxLength >> 4)) return false;
    v = v << 4 | static_cast<uint64_t>(hex_value(s[i]));
  }
  return i > 0 && (i == s.size() || s[i] == ';' || is_ows(s[i]));
}
// The request's Upgrade offered h2c (RFC 7540 section 3.2), any case, maybe in a list.
bool upgrade_h2c(std::string_view v) noexcept {
  for (size_t i = 0; i + 3 <= v.size(); ++i) {
    if (iequals(v.substr(i, 3), "h2c") && (i + 3 == v.size() || v[i + 3] == ',' || is_ows(v[i + 3]))) {
      return true;
    }
  }
  return false;
}
// The last transfer coding is chunked (RFC 9112 section 6.3 item 4).
bool last_coding_chunked(std::string_view v) noexcept {
  const size_t comma = v.rfind(',');
  return iequals(trim(comma == std::string_view::npos ? v : v.substr(comma + 1)), "chunked");
}

class HttpDissector final : public Dissector {
 public:
  std::string_view name() const noexcept override { return "http"; }
  uint32_t state_bytes() const noexcept override { return sizeof(State); }
  uint32_t default_states() const noexcept override { return 8192; }

  void begin_flow(void* st, Ctx&, uint8_t) noexcept override {
    auto* s = static_cast<State*>(st);
    std::memset(static_cast<void*>(s), 0, offsetof(State, arena));
  }

  Progress data(void* st, Ctx& c, bool from_client, const uint8_t* p, uint32_t len,
                uint32_t) noexcept override {
    State& s = *static_cast<State*>(st);
    if (s.done) return Progress::kDone;
    const Progress pr = feed(s, c, from_client ? 0 : 1, p, len);
    if (pr != Progress::kMore) s.done = 1;
    return pr;
  }

  Progress gap(void* st, Ctx& c, bool from_client, uint32_t len) noexcept override {
    State& s = *static_cast<State*>(st);
    if (s.done) return Progress::kDone;
    const Progress pr = on_gap(s, c, from_client ? 0 : 1, len);
    if (pr != Progress::kMore) s.done = 1;
    return pr;
  }

  void end_flow(void* st, Ctx& c) noexcept override {
    State& s = *static_cast<State*>(st);
    for (int d = 0; d < 2; ++d) {
      Side& sd = s.side[d];
      if (sd.scratch) continue;
      Txn* t = live(s, sd.seq);
      if (t == nullptr) continue;
      if (d == 0 && !(t->flags & kReqDone) && (t->flags & kHasRequest)) t->tags |= kTagReqIncomplete;
      if (d == 1 && (t->flags & kHasStatus) && !(t->flags & kRespDone) && sd.phase != kUntilClose) {
        t->tags |= kTagRespIncomplete;
      }
    }
    while (s.head != s.tail) {
      Txn& t = s.txn[s.head % kDepth];
      if (!(t.flags & kHasStatus)) {
        t.tags |= kTagNoResponse;
        counters_.http_no_response.inc();
      }
      write(s, c, s.head % kDepth);
      ++s.head;
    }
    s.done = 1;
  }

  void for_each_counter(CounterFn f) const override { counters_.for_each(f); }

 private:
  static Txn* live(State& s, uint32_t seq) noexcept {
    return (seq - s.head) < (s.tail - s.head) ? &s.txn[seq % kDepth] : nullptr;
  }
  // The transaction side `d` reads into.
  static Txn& cur(State& s, int d) noexcept {
    if (s.side[d].scratch) return s.txn[kDepth + d];
    Txn* t = live(s, s.side[d].seq);
    return t ? *t : s.txn[kDepth + d];
  }
  static bool is_scratch(const State& s, const Txn& t) noexcept {
    return &t == &s.txn[kDepth] || &t == &s.txn[kDepth + 1];
  }

  void set_str(State& s, Txn& t, S which, std::string_view v) noexcept {
    if (is_scratch(s, t) || (t.have & (1u << which))) return;
    const size_t slot = static_cast<size_t>(&t - s.txn);
    size_t n = v.size();
    const size_t room = kArena - t.used;
    if (n > kCap[which] || n > room) {
      n = kCap[which] < room ? kCap[which] : room;
      t.tags |= kTagFieldTruncated;
      counters_.http_field_truncated.inc();
    }
    // An empty value may have no address (a bare `OPTIONS` line's target): memcpy's source must
    // not be null even for 0 bytes.
    if (n != 0) std::memcpy(s.arena[slot] + t.used, v.data(), n);
    t.str[which] = Str{t.used, static_cast<uint16_t>(n)};
    t.used = static_cast<uint16_t>(t.used + n);
    t.have |= 1u << which;
  }
  static std::string_view get_str(const State& s, const Txn& t, S which) noexcept {
    if (!(t.have & (1u << which))) return {};
    const size_t slot = static_cast<size_t>(&t - s.txn);
    return {reinterpret_cast<const char*>(s.arena[slot] + t.str[which].off), t.str[which].len};
  }

  // A new transaction at the tail; when the ring is full the oldest is written first
  // (without its response: the response that comes for it is skipped).
  Txn& push(State& s, Ctx& c) noexcept {
    if (s.tail - s.head == kDepth) {
      counters_.http_pipeline_overflow.inc();
      Txn& old = s.txn[s.head % kDepth];
      old.tags |= kTagPipelineOverflow;
      if (!(old.flags & kRespStarted)) {
        ++s.skip_responses;
      } else if (!(old.flags & kRespDone) && s.side[1].seq == s.head && !s.side[1].scratch) {
        s.txn[kDepth + 1] = old;  // the server goes on reading this response, unrecorded
        s.side[1].scratch = 1;
      }
      if (!(old.flags & kReqDone) && s.side[0].seq == s.head && !s.side[0].scratch) {
        s.txn[kDepth] = old;
        s.side[0].scratch = 1;
      }
      if (!(old.flags & kHasStatus)) {
        old.tags |= kTagNoResponse;
        counters_.http_no_response.inc();
      }
      write(s, c, s.head % kDepth);
      ++s.head;
    }
    Txn& t = s.txn[s.tail % kDepth];
    std::memset(static_cast<void*>(&t), 0, sizeof t);
    t.version[0] = t.version[1] = 0xff;
    ++s.tail;
    return t;
  }

  // Writes every transaction at the head whose request and response are both complete.
  void settle(State& s, Ctx& c) noexcept {
    while (s.head != s.tail) {
      Txn& t = s.txn[s.head % kDepth];
      if ((t.flags & (kReqDone | kRespDone)) != (kReqDone | kRespDone)) return;
      write(s, c, s.head % kDepth);
      ++s.head;
    }
  }

  void add(emit::Record* r, Field f, const void* p, size_t n) noexcept {
    if (!r->add_field(field_id(f), p, n)) counters_.http_record_full.inc();
  }
  void add(emit::Record* r, Field f, std::string_view v) noexcept { add(r, f, v.data(), v.size()); }

  void write(State& s, Ctx& c, uint32_t slot) noexcept {
    const Txn& t = s.txn[slot];
    // TIMESTAMP: the packet that completed the transaction (docs/records.md).
    emit::Record* r = c.begin(emit::RecordType::kHttp);
    if (r == nullptr) {
      counters_.http_record_no_buffer.inc();
      return;
    }
    const uint32_t tags = t.tags;
    auto str = [&](Field f, S w) {
      if (t.have & (1u << w)) add(r, f, get_str(s, t, w));
    };
    str(Field::kHttpMethod, kMethod);
    str(Field::kHttpHost, kHost);
    str(Field::kHttpUri, kUri);
    str(Field::kHttpVersion, kVersion);
    if (t.status != 0) add(r, Field::kHttpStatus, &t.status, 2);
    str(Field::kHttpReason, kReason);
    str(Field::kHttpUserAgent, kUa);
    str(Field::kHttpReferer, kReferer);
    str(Field::kHttpReqContentType, kReqCtype);
    str(Field::kHttpContentType, kCtype);
    if (t.flags & kHasRequest) add(r, Field::kHttpReqBodyLen, &t.body[0], 8);
    if (t.flags & kHasStatus) add(r, Field::kHttpRespBodyLen, &t.body[1], 8);
    if (t.have & (1u << kFilename)) {
      str(Field::kHttpFilename, kFilename);
    } else {
      const std::string_view fn = uri_filename(get_str(s, t, kUri), (t.tags & kTagUriTruncated) != 0);
      if (!fn.empty()) add(r, Field::kHttpFilename, fn);
    }
    str(Field::kHttpXff, kXff);
    str(Field::kHttpTransferEncoding, kTe);
    str(Field::kHttpContentEncoding, kCe);
    str(Field::kHttpReqTransferEncoding, kReqTe);
    str(Field::kHttpReqContentEncoding, kReqCe);
    str(Field::kHttpUpgrade, kUpgrade);
    if (t.flags & kTunnel) {
      const uint8_t yes = 1;
      add(r, Field::kHttpTunnel, &yes, 1);
    }
    if (t.info_status) add(r, Field::kHttpInfoStatus, &t.info_status, 2);
    str(Field::kHttpOrigin, kOrigin);
    str(Field::kHttpLocation, kLocation);
    if (t.flags & kHasRequest) add(r, Field::kHttpReqHeaders, &t.headers[0], 2);
    if (t.status != 0) add(r, Field::kHttpRespHeaders, &t.headers[1], 2);
    if (tags) {
      char buf[256];
      size_t n = 0;
      for (size_t i = 0; i < kTagCount; ++i) {
        if (!(tags & (1u << i))) continue;
        if (n) buf[n++] = ',';
        std::memcpy(buf + n, kTagNames[i].data(), kTagNames[i].size());
        n += kTagNames[i].size();
      }
      add(r, Field::kHttpTags, buf, n);
    }
    c.commit(r);
    counters_.http_records.inc();
  }

  // ---- byte feeding ----

  Progress feed(State& s, Ctx& c, int d, const uint8_t* p, uint32_t n) noexcept {
    const uint8_t* const start = p;
    Side& sd = s.side[d];
    while (n > 0) {
      switch (sd.phase) {
        case kBody:
        case kChunkData: {
          const uint32_t take = sd.remaining < n ? static_cast<uint32_t>(sd.remaining) : n;
          cur(s, d).body[d] += take;
          sd.remaining -= take;
          p += take;
          n -= take;
          if (sd.remaining == 0) {
            if (sd.phase == kChunkData) {
              sd.phase = kChunkEnd;
            } else {
              message_done(s, c, d);
            }
          }
          break;
        }
        case kUntilClose:
          cur(s, d).body[d] += n;
          n = 0;
          break;
        default: {
          if (d == 1 && sd.phase == kStart && sd.line_len == 0 && !sd.line_skip &&
              http09_response(s, p, n)) {
            break;  // now kUntilClose
          }
          const auto* lf = static_cast<const uint8_t*>(std::memchr(p, '\n', n));
          const uint32_t take = lf ? static_cast<uint32_t>(lf - p) + 1 : n;
          const uint32_t text = lf ? take - 1 : take;
          const uint8_t* at = p;
          p += take;
          n -= take;
          if (sd.phase == kResync) {
            sd.resync_scanned += take;
            if (sd.resync_scanned > kResyncBudget) {
              counters_.http_resync_give_up.inc();
              return Progress::kDone;
            }
          }
          if (sd.line_skip) {
            if (lf) sd.line_skip = 0;
            break;
          }
          const uint32_t room = kLineCap[d] - sd.line_len;
          const uint32_t copy = text < room ? text : room;
          std::memcpy(s.line(d) + sd.line_len, at, copy);
          sd.line_len = static_cast<uint16_t>(sd.line_len + copy);
          if (copy < text) {
            // Longer than the buffer: the part that fits is the line (a URI cut, a header
            // skipped), the rest up to the LF is skipped. Same result whatever the segments.
            sd.line_skip = lf ? 0 : 1;
            const Progress pr = deliver(s, c, d, true);
            if (pr != Progress::kMore) return pr;
          } else if (lf) {
            const Progress pr = deliver(s, c, d, false);
            if (pr != Progress::kMore) {
              // A hand-over after this line: the bytes after it belong to the next protocol.
              if (c.next_proto != 0 && c.used == Ctx::kAllUsed) c.used = static_cast<uint32_t>(p - start);
              return pr;
            }
          } else if (sd.phase == kStart && !start_plausible(d, s.line(d), sd.line_len)) {
            return not_http(s, c, d);  // no need to wait for the end of a binary "line"
          }
          break;
        }
      }
    }
    return Progress::kMore;
  }

  // The start of a line that may still become a request line (method token, then SP) or a
  // status line ("HTTP/").
  static bool start_plausible(int d, const uint8_t* b, uint32_t n) noexcept {
    if (n == 1 && b[0] == '\r') return true;  // a blank line's CR
    if (d == 1) return http_name_prefix(b, n);
    for (uint32_t i = 0; i < n; ++i) {
      const char ch = static_cast<char>(b[i]);
      if (ch == ' ') return i > 0;
      if (i >= 24 || !is_tchar(ch) || (i == 0 && !probe_util::is_alpha(ch))) return false;
    }
    return true;
  }

  Progress deliver(State& s, Ctx& c, int d, bool over) noexcept {
    Side& sd = s.side[d];
    std::string_view line(reinterpret_cast<const char*>(s.line(d)), sd.line_len);
    if (!over && !line.empty() && line.back() == '\r') line.remove_suffix(1);
    const bool frag = sd.line_frag != 0;
    sd.line_len = 0;
    sd.line_frag = 0;
    return frag ? Progress::kMore : on_line(s, c, d, line, over);
  }

  // The oldest transaction still waiting for its response (nullptr: none).
  static Txn* awaiting(State& s, uint32_t& seq) noexcept {
    for (uint32_t q = s.head; q != s.tail; ++q) {
      if (!(s.txn[q % kDepth].flags & kRespStarted)) {
        seq = q;
        return &s.txn[q % kDepth];
      }
    }
    return nullptr;
  }

  // An HTTP/0.9 request gets its body only, read until the connection closes (RFC 1945
  // section 4.1); a server that answers with a status line is read as HTTP/1.x.
  bool http09_response(State& s, const uint8_t* p, uint32_t n) noexcept {
    uint32_t seq = 0;
    Txn* t = awaiting(s, seq);
    if (t == nullptr || t->version[0] != 9 || s.skip_responses) return false;
    if (http_name_prefix(p, n)) return false;
    Side& sd = s.side[1];
    sd.seq = seq;
    sd.scratch = 0;
    sd.phase = kUntilClose;
    t->flags |= kRespStarted | kHasStatus;
    return true;
  }

  // The message side `d` was reading is complete.
  void message_done(State& s, Ctx& c, int d) noexcept {
    Side& sd = s.side[d];
    sd.phase = kStart;
    if (sd.scratch) {
      sd.scratch = 0;
      sd.seq = s.tail;  // past everything held
      return;
    }
    Txn& t = cur(s, d);
    if (d == 0) {
      t.flags = static_cast<uint16_t>((t.flags | kReqDone) & ~kReqBody);
      if (t.flags & (kConnect | kUpgradeReq)) {
        // The client waits for the answer; what it sends next is read as a new request only
        // if the server refused (RFC 9110 sections 9.3.6 and 7.8).
        enter_resync(s, d, true);
      }
    } else {
      t.flags |= kRespDone;
    }
    settle(s, c);
  }

  // Side `d` lost the message framing: finish its transaction, look for the next start line.
  void enter_resync(State& s, int d, bool quiet) noexcept {
    Side& sd = s.side[d];
    if (!quiet) {
      if (!sd.scratch) {
        Txn* t = live(s, sd.seq);
        if (t != nullptr) {
          if (d == 0 && (t->flags & kHasRequest) && !(t->flags & kReqDone)) {
            t->flags = static_cast<uint16_t>((t->flags | kReqDone) & ~kReqBody);
          }
          if (d == 1 && (t->flags & kRespStarted) && !(t->flags & kRespDone)) t->flags |= kRespDone;
        }
      }
      sd.scratch = 0;
    }
    sd.phase = kResync;
    sd.quiet = quiet ? 1 : 0;
    sd.resync_scanned = 0;
  }

  Progress on_gap(State& s, Ctx& c, int d, uint32_t len) noexcept {
    Side& sd = s.side[d];
    const uint32_t tag = d == 0 ? kTagReqGap : kTagRespGap;
    switch (sd.phase) {
      case kBody:
      case kChunkData:
        if (len != 0 && len <= sd.remaining) {
          counters_.http_gap_body.inc();
          Txn& t = cur(s, d);
          t.tags |= tag;
          t.body[d] += len;
          sd.remaining -= len;
          if (sd.remaining == 0) {
            if (sd.phase == kChunkData) {
              sd.phase = kChunkEnd;
            } else {
              message_done(s, c, d);
            }
          }
          return Progress::kMore;
        }
        break;
      case kUntilClose: {
        counters_.http_gap_body.inc();
        Txn& t = cur(s, d);
        t.tags |= tag;
        t.body[d] += len;
        return Progress::kMore;
      }
      case kResync:
        sd.resync_scanned += len;
        sd.line_len = 0;
        sd.line_skip = 0;
        sd.line_frag = 1;
        if (sd.resync_scanned > kResyncBudget) {
          counters_.http_resync_give_up.inc();
          return Progress::kDone;
        }
        return Progress::kMore;
      default:
        break;
    }
    counters_.http_gap_resync.inc();
    if (!sd.scratch) {
      Txn* t = live(s, sd.seq);
      if (t != nullptr && sd.phase != kStart) t->tags |= tag;
    }
    enter_resync(s, d, false);
    sd.line_len = 0;
    sd.line_skip = 0;
    sd.line_frag = 1;
    sd.resync_scanned = len;
    settle(s, c);
    return Progress::kMore;
  }

  Progress on_line(State& s, Ctx& c, int d, std::string_view line, bool over) noexcept {
    Side& sd = s.side[d];
    switch (sd.phase) {
      case kStart:
        if (line.empty() && !over) return Progress::kMore;  // RFC 9112 section 2.2
        return d == 0 ? request_line(s, c, line, over, false) : status_line(s, c, line, over, false);
      case kResync: {
        if (line.empty() || over) return Progress::kMore;
        RequestLine rq;
        StatusLine st;
        const bool ok = d == 0 ? parse_request_line(line, false, true, rq)
                               : parse_status_line(line, true, st);
        if (!ok) return Progress::kMore;
        if (!sd.quiet) counters_.http_resynced.inc();
        sd.quiet = 0;
        sd.phase = kStart;
        return d == 0 ? request_line(s, c, line, false, true) : status_line(s, c, line, false, true);
      }
      case kHeaders:
        return header_line(s, c, d, line, over);
      case kChunkSize: {
        uint64_t size = 0;
        if (over || !parse_chunk_size(line, size)) {
          counters_.http_bad_chunk.inc();
          cur(s, d).tags |= kTagBadChunk;
          enter_resync(s, d, false);
          settle(s, c);
          return Progress::kMore;
        }
        if (size == 0) {
          sd.phase = kTrailers;
        } else {
          sd.remaining = size;
          sd.phase = kChunkData;
        }
        return Progress::kMore;
      }
      case kChunkEnd:
        if (!line.empty() || over) {
          counters_.http_bad_chunk.inc();
          cur(s, d).tags |= kTagBadChunk;
          enter_resync(s, d, false);
          settle(s, c);
          return Progress::kMore;
        }
        sd.phase = kChunkSize;
        return Progress::kMore;
      case kTrailers:
        if (line.empty() && !over) message_done(s, c, d);
        return Progress::kMore;
      default:
        return Progress::kMore;
    }
  }

  // Bytes that are not a start line where one must be.
  Progress not_http(State& s, Ctx& c, int d) noexcept {
    if (!s.seen_message) {
      counters_.http_violation.inc();
      return Progress::kViolation;
    }
    counters_.http_garbage.inc();
    if (d == 1) {
      // The response to the oldest open request is not HTTP.
      for (uint32_t q = s.head; q != s.tail; ++q) {
        Txn& t = s.txn[q % kDepth];
        if (!(t.flags & kRespDone)) {
          t.tags |= kTagBadResponse;
          break;
        }
      }
    }
    (void)c;
    return Progress::kDone;
  }

  Progress request_line(State& s, Ctx& c, std::string_view line, bool over, bool strict) noexcept {
    RequestLine rq;
    bool malformed = false;
    if (!parse_request_line(line, over, strict, rq)) {
      if (strict || over ||
          (!parse_malformed_request_line(line, rq) &&
           (s.seen_message || (!request_after_junk(line, rq) && !bare_method_line(line, rq))))) {
        return not_http(s, c, 0);
      }
      malformed = true;
      counters_.http_bad_request_line.inc();
    }
    s.seen_message = 1;
    counters_.http_requests.inc();
    if (over) counters_.http_line_too_long.inc();
    Side& sd = s.side[0];
    Txn& t = push(s, c);
    sd.seq = s.tail - 1;
    sd.scratch = 0;
    sd.hdr = 0;
    sd.cl = 0;
    t.flags |= kHasRequest;
    set_str(s, t, kMethod, rq.method);
    set_str(s, t, kUri, rq.target);
    if (over || rq.target.size() > kCap[kUri]) t.tags |= kTagUriTruncated;
    if (malformed) t.tags |= kTagBadRequestLine;
    if (rq.http09) {
      counters_.http_http09.inc();
      set_str(s, t, kVersion, "0.9");
      t.version[0] = 9;
      t.tags |= kTagHttp09;
      t.flags |= kReqDone;
      sd.phase = kStart;
      return Progress::kMore;
    }
    if (!rq.version.empty()) {
      set_str(s, t, kVersion, rq.version);
      t.version[0] = version_code(rq.version);
    }
    // HEAD: the response has no body. In a malformed line, only when a space follows the
    // method, as servers read it: "HEAD /HTTP/1.1" is a HEAD to them (no body, whatever the
    // status), "HEAD/ HTTP/1.1" is not (answered 400 with a body).
    const char* after_method = rq.method.data() + rq.method.size();
    if (rq.method == "HEAD" &&
        (!malformed || (after_method < line.data() + line.size() && *after_method == ' '))) {
      t.flags |= kHead;
    }
    if (rq.method == "CONNECT") t.flags |= kConnect;
    sd.phase = kHeaders;
    return Progress::kMore;
  }

  Progress status_line(State& s, Ctx& c, std::string_view line, bool over, bool strict) noexcept {
    Side& sd = s.side[1];
    StatusLine st;
    if (!parse_status_line(line, strict, st)) return not_http(s, c, 1);
    s.seen_message = 1;
    sd.hdr = 0;
    sd.cl = 0;
    sd.phase = kHeaders;
    // Continue the transaction of an interim response; else the oldest without a response.
    Txn* t = nullptr;
    if (!sd.scratch) {
      Txn* prev = live(s, sd.seq);
      if (prev != nullptr && (prev->flags & kRespStarted) && !(prev->flags & kRespDone)) t = prev;
    } else if (s.txn[kDepth + 1].info_status != 0 && !(s.txn[kDepth + 1].flags & kHasStatus)) {
      t = &s.txn[kDepth + 1];
    }
    if (t == nullptr) {
      sd.scratch = 0;
      if (s.skip_responses > 0) {
        --s.skip_responses;
        sd.scratch = 1;
        t = &s.txn[kDepth + 1];
        std::memset(static_cast<void*>(t), 0, sizeof *t);
      } else {
        uint32_t seq = 0;
        t = awaiting(s, seq);
        if (t != nullptr) sd.seq = seq;
        if (t == nullptr) {
          counters_.http_no_request.inc();
          Txn& nt = push(s, c);
          nt.flags |= kNoRequest | kReqDone;
          nt.tags |= kTagNoRequest;
          sd.seq = s.tail - 1;
          t = &nt;
        }
      }
    }
    t->flags |= kRespStarted;
    if (over) counters_.http_line_too_long.inc();
    if (st.code >= 100 && st.code < 200 && st.code != 101) {
      counters_.http_interim.inc();
      t->info_status = st.code;
      return Progress::kMore;
    }
    counters_.http_responses.inc();
    t->flags |= kHasStatus;
    if (st.lowercase) t->tags |= kTagLowercaseVersion;
    t->status = st.code;
    t->version[1] = version_code(st.version);
    set_str(s, *t, kReason, st.reason);
    return Progress::kMore;
  }

  Progress header_line(State& s, Ctx& c, int d, std::string_view line, bool over) noexcept {
    Side& sd = s.side[d];
    Txn& t = cur(s, d);
    if (line.empty() && !over) return headers_done(s, c, d);
    if (t.headers[d] != 0xffff) ++t.headers[d];
    if (over) {
      // Longer than the line buffer: skipped whole (RFC 9112 section 2.3 lets a recipient
      // refuse it; we keep the transaction and say so).
      counters_.http_line_too_long.inc();
      t.tags |= kTagLongHeader;
      return Progress::kMore;
    }
    if (is_ows(line[0])) {  // obs-fold (RFC 9112 section 5.2): a continuation, ignored
      counters_.http_bad_header.inc();
      t.tags |= kTagBadHeader;
      return Progress::kMore;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      counters_.http_bad_header.inc();
      t.tags |= kTagBadHeader;
      return Progress::kMore;
    }
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    switch (name.size()) {
      case 4:
        if (d == 0 && iequals(name, "host")) {
          if (!(t.have & (1u << kHost))) {
            set_str(s, t, kHost, value);
            c.name_app(host_name(value));
          }
        }
        break;
      case 6:
        if (d == 0 && iequals(name, "origin")) set_str(s, t, kOrigin, value);
        break;
      case 7:
        if (d == 0 && iequals(name, "referer")) {
          set_str(s, t, kReferer, value);
        } else if (d == 0 && iequals(name, "upgrade")) {
          set_str(s, t, kUpgrade, value);
          t.flags |= kUpgradeReq;
        }
        break;
      case 8:
        if (d == 1 && iequals(name, "location")) set_str(s, t, kLocation, value);
        break;
      case 10:
        if (d == 0 && iequals(name, "user-agent")) set_str(s, t, kUa, value);
        break;
      case 12:
        if (iequals(name, "content-type")) set_str(s, t, d == 0 ? kReqCtype : kCtype, value);
        break;
      case 14:
        if (iequals(name, "content-length")) {
          uint64_t v = 0;
          if (!parse_length(value, v) || ((sd.hdr & kHdrCl) && v != sd.cl)) {
            sd.hdr |= kHdrBadCl;
          } else {
            sd.cl = v;
          }
          sd.hdr |= kHdrCl;
        }
        break;
      case 15:
        if (d == 0 && iequals(name, "x-forwarded-for")) set_str(s, t, kXff, value);
        break;
      case 16:
        if (iequals(name, "content-encoding")) set_str(s, t, d == 0 ? kReqCe : kCe, value);
        break;
      case 17:
        if (iequals(name, "transfer-encoding")) {
          set_str(s, t, d == 0 ? kReqTe : kTe, value);
          sd.hdr |= kHdrTe;
          if (last_coding_chunked(value)) {
            sd.hdr |= kHdrChunked;
          } else {
            sd.hdr = static_cast<uint8_t>(sd.hdr & ~kHdrChunked);
          }
        }
        break;
      case 19:
        if (d == 1 && iequals(name, "content-disposition") && !(t.have & (1u << kFilename))) {
          char fn[kCap[kFilename]];
          const size_t n = disposition_filename(value, fn, sizeof fn);
          if (n) set_str(s, t, kFilename, {fn, n});
        }
        break;
      default:
        break;
    }
    return Progress::kMore;
  }

  // RFC 9112 section 6.3: how long the body is.
  Progress headers_done(State& s, Ctx& c, int d) noexcept {
    Side& sd = s.side[d];
    Txn& t = cur(s, d);
    const uint8_t h = sd.hdr;
    if ((h & kHdrTe) && (h & kHdrCl)) {
      counters_.http_te_and_cl.inc();
      t.tags |= kTagTeAndCl;
    }
    if ((h & kHdrBadCl) && !(h & kHdrTe)) {
      counters_.http_bad_length.inc();
      t.tags |= kTagBadLength;
    }
    sd.remaining = 0;
    if (d == 0) {
      if (h & kHdrChunked) {
        t.flags |= kReqBody;
        sd.phase = kChunkSize;
      } else if ((h & kHdrTe) || (h & kHdrBadCl)) {
        // No way to find the body's end (a server answers 400): look for the next request.
        enter_resync(s, 0, false);
        settle(s, c);
      } else if ((h & kHdrCl) && sd.cl > 0) {
        t.flags |= kReqBody;
        sd.remaining = sd.cl;
        sd.phase = kBody;
      } else {
        message_done(s, c, 0);
      }
      return Progress::kMore;
    }
    if (!(t.flags & kHasStatus)) {
      // The end of an interim response: the final one follows (RFC 9110 section 15.2).
      sd.phase = kStart;
      return Progress::kMore;
    }
    const uint16_t code = t.status;
    if (code == 101 || ((t.flags & kConnect) && code >= 200 && code < 300)) {
      // Switching Protocols or a CONNECT tunnel: HTTP is over on this flow.
      counters_.http_tunnel.inc();
      t.flags |= kTunnel | kRespDone;
      if (!(t.flags & kReqDone)) t.flags = static_cast<uint16_t>((t.flags | kReqDone) & ~kReqBody);
      sd.phase = kStart;
      settle(s, c);
      // A CONNECT tunnel nearly always carries TLS (HTTPS through a proxy): let the TLS
      // dissector read it; if it is not TLS, the flow is simply bypassed.
      if (code != 101) c.hand_over(AppProto::kTls);
      // Upgrade: h2c answered 101 (RFC 7540 section 3.2): HTTP/2 frames follow, from the
      // server at once (in this segment, maybe), from the client after its preface. The
      // upgraded request is this record; its response comes as stream 1 (dissectors/http2).
      if (code == 101 && upgrade_h2c(get_str(s, t, kUpgrade))) c.hand_over(AppProto::kHttp2);
      return Progress::kDone;
    }
    if ((t.flags & kHead) || code == 204 || code == 304) {
      message_done(s, c, 1);
    } else if (h & kHdrChunked) {
      sd.phase = kChunkSize;
    } else if ((h & kHdrTe) || (h & kHdrBadCl) || !(h & kHdrCl)) {
      sd.phase = kUntilClose;
    } else if (sd.cl > 0) {
      sd.remaining = sd.cl;
      sd.phase = kBody;
    } else {
      message_done(s, c, 1);
    }
    return Progress::kMore;
  }

  mutable HttpCounters counters_;
};

}  // namespace

std::unique_ptr<Dissector> make_http_dissector() { return std::make_unique<HttpDissector>(); }

}  // namespace flowscribe::dissect
