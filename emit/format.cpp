#include "emit/format.h"

#include <sys/random.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <string_view>

#include <fmt/format.h>
#include "common/app_proto.h"
#include "emit/schema.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace flowscribe::emit {

const char* record_msgid(RecordType t) noexcept {
  switch (t) {
    case RecordType::kSession:
      return "session";
    case RecordType::kSessionUpdate:
      return "session-update";
    case RecordType::kHttp:
      return "http";
    case RecordType::kTls:
      return "tls";
    case RecordType::kX509:
      return "x509";
    case RecordType::kDns:
      return "dns";
    case RecordType::kSocks:
      return "socks";
  }
  return "unknown";
}

namespace {

// proto= values come from common/app_proto.h; they go out unescaped, so check them here.
constexpr bool app_proto_names_are_safe() {
  return true
#define FS_APP_PROTO_CHECK_(e, id, name) &&schema_detail::is_valid_name(name, 32)
      FS_APP_PROTOS(FS_APP_PROTO_CHECK_)
#undef FS_APP_PROTO_CHECK_
      ;
}
static_assert(app_proto_names_are_safe(), "app proto names must be 1-32 chars [a-z0-9._-]");

// Names of flow::EndReason and flow::DirectionBasis (flowtable/flow_table.h); re-declared
// here because emit/ does not link the flow table. Append in step with that header.
constexpr std::string_view kEndReasonNames[] = {"", "fin", "rst", "idle", "evicted", "shutdown"};
constexpr std::string_view kBasisNames[] = {"syn", "synack", "port", "first-packet"};
// emit::Locality values (record.h); 0 = --home-net not given, field omitted.
constexpr std::string_view kLocalityNames[] = {"", "internal", "inbound", "outbound", "external"};

std::string_view end_reason_name(uint8_t v) {
  // 0 means "still open": a session record should never carry it.
  if (v == 0 || v >= std::size(kEndReasonNames)) return "unknown";
  return kEndReasonNames[v];
}

std::string_view basis_name(uint8_t v) {
  return v < std::size(kBasisNames) ? kBasisNames[v] : std::string_view("unknown");
}

std::string_view transport_name(uint8_t p) {
  switch (p) {
    case kIpProtoIcmp:
      return "icmp";
    case kIpProtoTcp:
      return "tcp";
    case kIpProtoUdp:
      return "udp";
    case kIpProtoGre:
      return "gre";
    case 50:
      return "esp";
    case kIpProtoIcmpv6:
      return "ipv6-icmp";
    case kIpProtoSctp:
      return "sctp";
    default:
      return {};
  }
}

// ---- small writers: no bounds checks, callers size their buffers (kFormatBufferBytes) ----

inline char* put(char* p, std::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

// For the short texts of a line (names, addresses): a byte loop beats a memcpy call there.
inline char* put_short(char* p, std::string_view s) {
  for (char c : s) *p++ = c;
  return p;
}

template <size_t N>
inline char* put(char* p, const char (&s)[N]) {
  std::memcpy(p, s, N - 1);
  return p + N - 1;
}

constexpr std::array<char, 200> kDigitPairs = [] {
  std::array<char, 200> t{};
  for (int i = 0; i < 100; ++i) {
    t[2 * i] = static_cast<char>('0' + i / 10);
    t[2 * i + 1] = static_cast<char>('0' + i % 10);
  }
  return t;
}();

inline char* put2(char* p, unsigned v) {  // v < 100, zero-padded
  std::memcpy(p, &kDigitPairs[2 * v], 2);
  return p + 2;
}

inline unsigned decimal_digits(uint64_t v) {
  unsigned n = 1;
  for (;;) {
    if (v < 10) return n;
    if (v < 100) return n + 1;
    if (v < 1000) return n + 2;
    if (v < 10000) return n + 3;
    v /= 10000;
    n += 4;
  }
}

// Digits written in place from the right, two at a time (no temporary, no memcpy call).
inline char* put_u64(char* p, uint64_t v) {
  char* const end = p + decimal_digits(v);
  char* b = end;
  while (v >= 100) {
    b -= 2;
    std::memcpy(b, &kDigitPairs[2 * (v % 100)], 2);
    v /= 100;
  }
  if (v >= 10) {
    std::memcpy(b - 2, &kDigitPairs[2 * v], 2);
  } else {
    b[-1] = static_cast<char>('0' + v);
  }
  return end;
}

inline char* put_frac6(char* p, uint32_t us) {  // us < 1'000'000, 6 digits
  p = put2(p, us / 10000);
  p = put2(p, us / 100 % 100);
  return put2(p, us % 100);
}

constexpr char kHex[] = "0123456789abcdef";

inline char* put_hex(char* p, uint64_t v, int width) {  // zero-padded, lowercase
  for (int i = width - 1; i >= 0; --i) {
    p[i] = kHex[v & 0xf];
    v >>= 4;
  }
  return p + width;
}

inline char* put_hex16(char* p, unsigned w) {  // no leading zeros, as inet_ntop
  int digits = w >= 0x1000 ? 4 : w >= 0x100 ? 3 : w >= 0x10 ? 2 : 1;
  return put_hex(p, w, digits);
}

// "0".."255" with its length, so a dotted quad is four table copies.
struct Octet {
  char text[3];
  uint8_t len;
};
constexpr std::array<Octet, 256> kOctets = [] {
  std::array<Octet, 256> t{};
  for (int i = 0; i < 256; ++i) {
    Octet& o = t[i];
    if (i >= 100) {
      o = {{static_cast<char>('0' + i / 100), static_cast<char>('0' + i / 10 % 10),
            static_cast<char>('0' + i % 10)},
           3};
    } else if (i >= 10) {
      o = {{static_cast<char>('0' + i / 10), static_cast<char>('0' + i % 10), 0}, 2};
    } else {
      o = {{static_cast<char>('0' + i), 0, 0}, 1};
    }
  }
  return t;
}();

inline char* put_ipv4(char* p, const uint8_t* b) {
  for (int i = 0; i < 4; ++i) {
    if (i) *p++ = '.';
    const Octet& o = kOctets[b[i]];
    std::memcpy(p, o.text, 3);  // the table entry is 3 bytes; only len of them count
    p += o.len;
  }
  return p;
}

// RFC 5952 section 4: lowercase, no leading zeros, the longest run (first if tied) of two or
// more zero words becomes "::". Mirrors glibc's inet_ntop, including the mixed notation for
// IPv4-mapped/compatible addresses (section 5); format_test checks it against inet_ntop.
char* put_ipv6(char* p, const uint8_t* b) {
  unsigned w[8];
  for (int i = 0; i < 8; ++i) w[i] = static_cast<unsigned>(b[2 * i] << 8 | b[2 * i + 1]);
  int best = -1, best_len = 0, cur = -1, cur_len = 0;
  for (int i = 0; i < 8; ++i) {
    if (w[i] == 0) {
      if (cur < 0) cur = i, cur_len = 0;
      ++cur_len;
      if (cur_len > best_len) best = cur, best_len = cur_len;
    } else {
      cur = -1;
    }
  }
  if (best_len < 2) best = -1;
  for (int i = 0; i < 8; ++i) {
    if (best >= 0 && i >= best && i < best + best_len) {
      if (i == best) *p++ = ':';
      continue;
    }
    if (i) *p++ = ':';
    if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff))) {
      return put_ipv4(p, b + 12);
    }
    p = put_hex16(p, w[i]);
  }
  if (best >= 0 && best + best_len == 8) *p++ = ':';
  return p;
}

// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's civil_from_days).
struct Ymd {
  unsigned y, m, d;
};
inline Ymd civil_from_days(uint64_t days) {
  const uint64_t z = days + 719468;
  const uint64_t era = z / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const unsigned y = static_cast<unsigned>(yoe + era * 400) + (m <= 2);
  return {y, m, d};
}

inline char* put_duration(char* p, Nanos start, Nanos end, int decimals) {
  const uint64_t us = end > start ? (end - start) / 1000 : 0;  // truncated, never negative
  p = put_u64(p, us / 1'000'000);
  *p++ = '.';
  const uint32_t frac = static_cast<uint32_t>(us % 1'000'000);
  if (decimals == 6) return put_frac6(p, frac);
  p = put2(p, frac / 10000);  // 3 decimals
  *p++ = static_cast<char>('0' + frac / 1000 % 10);
  return p;
}

// Flags as letters in a fixed order (not the order seen): S A F P R U, then E C (ECN).
inline char* put_tcp_flags(char* p, uint8_t f) {
  static constexpr struct {
    uint8_t bit;
    char letter;
  } kLetters[] = {{kTcpSyn, 'S'}, {kTcpAck, 'A'}, {kTcpFin, 'F'}, {kTcpPsh, 'P'},
                  {kTcpRst, 'R'}, {kTcpUrg, 'U'}, {kTcpEce, 'E'}, {kTcpCwr, 'C'}};
  for (const auto& l : kLetters) {
    if (f & l.bit) *p++ = l.letter;
  }
  return p;
}

inline char* put_transport(char* p, uint8_t t) {
  std::string_view n = transport_name(t);
  return n.empty() ? put_u64(p, t) : put_short(p, n);
}

// ---- PARAM-VALUE escaping ----

// Bytes copied as they are: printable ASCII except the three RFC 5424 escapes.
constexpr std::array<bool, 256> kPlain = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x7f; ++c) t[c] = c != '"' && c != '\\' && c != ']';
  return t;
}();

inline size_t plain_run(const uint8_t* s, size_t n) {
  size_t i = 0;
#ifdef __SSE2__
  // 16 bytes per step: signed compare flags < 0x20 and every byte >= 0x80 at once.
  const __m128i space = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f);
  const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
                bracket = _mm_set1_epi8(']');
  for (; i + 16 <= n; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
    __m128i bad = _mm_or_si128(_mm_cmplt_epi8(v, space), _mm_cmpeq_epi8(v, del));
    bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, quote));
    bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, bslash));
    bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, bracket));
    if (const int m = _mm_movemask_epi8(bad)) return i + static_cast<size_t>(__builtin_ctz(m));
  }
#endif
  while (i < n && kPlain[s[i]]) ++i;
  return i;
}

// Length of the well-formed UTF-8 sequence at s (RFC 3629 section 4), 0 if there is none.
inline size_t utf8_sequence(const uint8_t* s, size_t n) {
  const uint8_t c = s[0];
  auto cont = [&](size_t k, uint8_t lo = 0x80, uint8_t hi = 0xbf) {
    return k < n && s[k] >= lo && s[k] <= hi;
  };
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    const uint8_t lo = c == 0xe0 ? 0xa0 : 0x80;  // no overlongs
    const uint8_t hi = c == 0xed ? 0x9f : 0xbf;  // no surrogates U+D800..U+DFFF
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const uint8_t lo = c == 0xf0 ? 0x90 : 0x80;  // no overlongs
    const uint8_t hi = c == 0xf4 ? 0x8f : 0xbf;  // nothing above U+10FFFF
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;  // ASCII is handled by the caller; 0x80-0xc1 and 0xf5-0xff never start one
}

// Valid UTF-8 that still must not reach a line: C1 controls (U+0080-U+009F, NEL among them)
// and U+2028/U+2029, which some readers treat as line breaks.
inline bool hex_escape_anyway(const uint8_t* s, size_t k) {
  if (k == 2) return s[0] == 0xc2 && s[1] < 0xa0;
  if (k == 3) return s[0] == 0xe2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9);
  return false;
}

inline char* put_hex_bytes(char* p, const uint8_t* s, size_t k) {
  for (size_t i = 0; i < k; ++i) {
    p[0] = '\\';
    p[1] = 'x';
    p[2] = kHex[s[i] >> 4];
    p[3] = kHex[s[i] & 0xf];
    p += 4;
  }
  return p;
}

}  // namespace

EscapeResult escape_param_value(const uint8_t* s, size_t n, char* dst) noexcept {
  char* const hard = dst + kMaxValueBytes;
  char* const soft = hard - kTruncationMarker.size();
  char* p = dst;
  char* cut = dst;  // the last output position on a unit boundary that is <= soft
  bool hex = false;
  auto truncate = [&]() {
    return EscapeResult{put(cut, kTruncationMarker), true, hex};
  };
  size_t i = 0;
  while (i < n) {
    const size_t run = plain_run(s + i, n - i);
    if (run) {
      // Every byte of a plain run is a boundary of its own.
      if (p + run > hard) {
        if (p <= soft) {
          std::memcpy(p, s + i, static_cast<size_t>(soft - p));  // the run up to the cut
          cut = soft;
        }
        return truncate();
      }
      std::memcpy(p, s + i, run);
      if (p <= soft) cut = p + run < soft ? p + run : soft;
      p += run;
      i += run;
      if (i == n) break;
    }
    // One unit that is not plain ASCII: an escape, a hex escape or a UTF-8 character.
    char unit[16];
    char* u = unit;
    size_t used = 1;
    const uint8_t c = s[i];
    if (c == '"' || c == '\\' || c == ']') {
      *u++ = '\\';
      *u++ = static_cast<char>(c);
    } else if (c < 0x80) {
      u = put_hex_bytes(u, s + i, 1);  // C0 control or DEL
      hex = true;
    } else {
      const size_t k = utf8_sequence(s + i, n - i);
      if (k == 0) {
        u = put_hex_bytes(u, s + i, 1);  // resync on the next byte
        hex = true;
      } else if (hex_escape_anyway(s + i, k)) {
        u = put_hex_bytes(u, s + i, k);
        used = k;
        hex = true;
      } else {
        std::memcpy(u, s + i, k);
        u += k;
        used = k;
      }
    }
    if (p <= soft) cut = p;
    const size_t ulen = static_cast<size_t>(u - unit);
    if (p + ulen > hard) return truncate();
    std::memcpy(p, unit, ulen);
    p += ulen;
    i += used;
  }
  return {p, false, hex};
}

bool append_param_value(std::string_view in, std::string& out) {
  char buf[kMaxValueBytes];
  const EscapeResult r =
      escape_param_value(reinterpret_cast<const uint8_t*>(in.data()), in.size(), buf);
  out.append(buf, static_cast<size_t>(r.end - buf));
  return r.truncated;
}

char* write_timestamp(char* p, Nanos ns) noexcept {
  const uint64_t secs = ns / kNsPerSec;
  const uint32_t us = static_cast<uint32_t>(ns % kNsPerSec / 1000);  // truncate
  const uint32_t sod = static_cast<uint32_t>(secs % 86400);
  const Ymd ymd = civil_from_days(secs / 86400);  // uint64 ns ends in 2554: 4-digit years
  p = put2(p, ymd.y / 100);
  p = put2(p, ymd.y % 100);
  *p++ = '-';
  p = put2(p, ymd.m);
  *p++ = '-';
  p = put2(p, ymd.d);
  *p++ = 'T';
  p = put2(p, sod / 3600);
  *p++ = ':';
  p = put2(p, sod / 60 % 60);
  *p++ = ':';
  p = put2(p, sod % 60);
  *p++ = '.';
  p = put_frac6(p, us);
  *p++ = 'Z';
  return p;
}

char* write_ip(char* dst, const IpAddr& a, uint8_t version) noexcept {
  return version == 4 ? put_ipv4(dst, a.b) : put_ipv6(dst, a.b);
}

FieldValueResult write_field_value(FieldKind kind, const uint8_t* val, size_t len,
                                   char* p) noexcept {
  switch (kind) {
    case FieldKind::kString: {
      const EscapeResult er = escape_param_value(val, len, p);
      return {er.end, er.truncated, er.hex_escaped};
    }
    case FieldKind::kUint: {
      uint64_t x = 0;
      for (size_t k = len < 8 ? len : 8; k-- > 0;) x = x << 8 | val[k];  // little-endian
      return {put_u64(p, x), false, false};
    }
    case FieldKind::kIp: {
      IpAddr a{};
      std::memcpy(a.b, val, len < 16 ? len : 16);
      return {write_ip(p, a, len == 4 ? 4 : 6), false, false};
    }
    case FieldKind::kBool:
      return {put(p, len && val[0] ? std::string_view("true") : std::string_view("false")),
              false, false};
  }
  return {p, false, false};
}

// ---- configuration ----

namespace {

bool is_printusascii(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 33 || c > 126) return false;
  }
  return true;
}

absl::Status check_header_field(std::string_view value, size_t max_len, std::string_view what,
                                std::string_view rfc_field) {
  if (value.empty() || value.size() > max_len || !is_printusascii(value)) {
    return absl::InvalidArgumentError(fmt::format(
        "{} '{}' is not a valid RFC 5424 {}: it must be 1-{} printable ASCII characters "
        "without spaces (RFC 5424 section 6.2)",
        what, value, rfc_field, max_len));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status validate(FormatConfig& cfg) {
  if (cfg.hostname.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') {
      return absl::FailedPreconditionError(
          fmt::format("cannot read the host name ({}): set --sensor-name", std::strerror(errno)));
    }
    cfg.hostname = host;
    if (auto s = check_header_field(cfg.hostname, 255, "the host name", "HOSTNAME"); !s.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("{}; set --sensor-name", std::string(s.message())));
    }
  }
  if (cfg.procid.empty()) cfg.procid = std::to_string(getpid());
  if (auto s = check_header_field(cfg.hostname, 255, "--sensor-name", "HOSTNAME"); !s.ok()) {
    return s;
  }
  if (auto s = check_header_field(cfg.app_name, 48, "app name", "APP-NAME"); !s.ok()) return s;
  if (auto s = check_header_field(cfg.procid, 128, "procid", "PROCID"); !s.ok()) return s;
  if (cfg.facility < 0 || cfg.facility > 23) {
    return absl::InvalidArgumentError(fmt::format(
        "--facility {} is out of range: RFC 5424 section 6.2.1 allows 0-23", cfg.facility));
  }
  if (cfg.severity < 0 || cfg.severity > 7) {
    return absl::InvalidArgumentError(fmt::format(
        "--severity {} is out of range: RFC 5424 section 6.2.1 allows 0-7", cfg.severity));
  }
  if (cfg.product_version.empty() || !is_printusascii(cfg.product_version) ||
      cfg.product_version.find_first_of("|\\=") != std::string::npos) {
    return absl::InvalidArgumentError(fmt::format(
        "product version '{}' must be printable ASCII without '|', '\\' or '='",
        cfg.product_version));
  }
  if (cfg.pen == 0) {
    return absl::InvalidArgumentError(
        "--pen 0 is reserved: give an IANA private enterprise number (RFC 5424 section 7.2.2)");
  }
  return absl::OkStatus();
}

uint32_t random_run_id() {
  uint32_t v = 0;
  if (getrandom(&v, sizeof v, 0) == static_cast<ssize_t>(sizeof v)) return v;
  // No entropy (very early boot): time and pid still differ between runs.
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t x = static_cast<uint64_t>(ts.tv_sec) * kNsPerSec + static_cast<uint64_t>(ts.tv_nsec);
  x ^= static_cast<uint64_t>(getpid()) << 32;
  x *= 0x9e3779b97f4a7c15ULL;
  return static_cast<uint32_t>(x >> 32);
}

// ---- the formatter ----

namespace {

// Largest entry write_ext() may put past its limit before rolling it back: an element header
// ('[' + 21 + '@' + 10 digits) plus one SD-PARAM (' ' + 32 + '="' + value + '"').
constexpr size_t kMaxEntryOvershoot = 1 + kMaxElementLen + 11 + 1 + kMaxParamLen + 2 +
                                      kMaxValueBytes + 1;
static_assert(kMaxLineBytes + kMaxEntryOvershoot <= kFormatBufferBytes);

// MSG is at most ~360 bytes: transport (9), two bracketed IPv6 endpoints (2 * 54), " -> ",
// proto (32), four 20-digit counters with their text (~100), reason (8), duration (~25).
constexpr size_t kMsgMax = 512;

// Header + flow element: PRI/VERSION 7, TIMESTAMP 28, HOSTNAME/APP-NAME/PROCID 255+48+128+4,
// MSGID 15, flow element well under 1100 (20 params of <= 46-byte values).
constexpr size_t kFixedMax = 7 + 28 + 255 + 48 + 128 + 4 + 15 + 1100;
static_assert(kFixedMax + kMsgMax + 2 < kMaxLineBytes);

inline bool length_fits(FieldKind kind, uint16_t len) {
  switch (kind) {
    case FieldKind::kString:
      return true;
    case FieldKind::kUint:
      return len == 1 || len == 2 || len == 4 || len == 8;
    case FieldKind::kIp:
      return len == 4 || len == 16;
    case FieldKind::kBool:
      return len == 1;
  }
  return false;
}

}  // namespace

Rfc5424Formatter::PaddedText::PaddedText(std::string_view s)
    : buf_((s.size() + 15) / 16 * 16, '\0'), len_(s.size()) {
  std::memcpy(buf_.data(), s.data(), s.size());
}

char* Rfc5424Formatter::PaddedText::put(char* p) const noexcept {
  // Writes up to 15 bytes past the end: the line buffers keep far more slack than that.
  for (size_t k = 0; k < len_; k += 16) std::memcpy(p + k, buf_.data() + k, 16);
  return p + len_;
}

Rfc5424Formatter::Rfc5424Formatter(const FormatConfig& cfg)
    : pri_version_(fmt::format("<{}>1 ", cfg.facility * 8 + cfg.severity)),
      pen_suffix_(fmt::format("@{}", cfg.pen)),
      run_id_(cfg.run_id) {
  for (uint8_t i = 0; i < kRecordTypeCount; ++i) {
    const auto t = static_cast<RecordType>(i);
    after_ts_[static_cast<int>(t)] =
        PaddedText(fmt::format(" {} {} {} {} [flow@{} sid=\"", cfg.hostname, cfg.app_name,
                               cfg.procid, record_msgid(t), cfg.pen));
  }
}

char* Rfc5424Formatter::write_ts(char* p, Nanos ns) {
  const uint64_t sec = ns / kNsPerSec;
  const uint64_t day = sec / 86400;
  if (day != ts_cache_day_) {
    char full[kTimestampLen];
    write_timestamp(full, day * 86400 * kNsPerSec);
    std::memcpy(ts_cache_date_, full, sizeof ts_cache_date_);
    ts_cache_day_ = day;
  }
  std::memcpy(p, ts_cache_date_, sizeof ts_cache_date_);
  p += sizeof ts_cache_date_;
  const uint32_t sod = static_cast<uint32_t>(sec - day * 86400);
  p = put2(p, sod / 3600);
  *p++ = ':';
  p = put2(p, sod / 60 % 60);
  *p++ = ':';
  p = put2(p, sod % 60);
  *p++ = '.';
  p = put_frac6(p, static_cast<uint32_t>(ns % kNsPerSec / 1000));
  *p++ = 'Z';
  return p;
}

size_t Rfc5424Formatter::format_chain(const Record* const* chain, size_t nslots,
                                      char* const dst) {
  const Record& r = *chain[0];
  if (static_cast<uint8_t>(r.type) >= kRecordTypeCount) {
    counters_.emit_record_bad_type.inc();
    return 0;
  }
  const bool session = r.type == RecordType::kSession;
  const bool transaction = is_transaction(r.type);
  const uint8_t v = r.ip_version;
  const std::string_view proto = app_proto_name(r.app_proto);

  // HEADER (RFC 5424 section 6.2), MSGID and the start of flow@PEN.
  char* p = pri_version_.put(dst);
  p = write_ts(p, r.ts_ns);
  p = after_ts_[static_cast<int>(r.type)].put(p);

  // flow@PEN: every value below is ours (digits, hex, names, addresses): nothing to escape.
  p = put_hex(p, run_id_, 8);
  p = put_hex(p, r.sid >> 56, 2);
  p = put_hex(p, r.sid & 0xff'ffff'ffffULL, 10);
  p = put(p, "\" proto=\"");
  p = put_short(p, proto);
  p = put(p, "\" transport=\"");
  p = put_transport(p, r.transport);
  p = put(p, "\" src=\"");
  const std::string_view src(p, static_cast<size_t>(write_ip(p, r.client, v) - p));
  p += src.size();
  p = put(p, "\" sport=\"");
  p = put_u64(p, r.client_port);
  p = put(p, "\" dst=\"");
  const std::string_view dst_ip(p, static_cast<size_t>(write_ip(p, r.server, v) - p));
  p += dst_ip.size();
  p = put(p, "\" dport=\"");
  p = put_u64(p, r.server_port);
  if (r.vlan) {
    p = put(p, "\" vlan=\"");
    p = put_u64(p, r.vlan);
  }
  if (r.locality != 0 && r.locality < std::size(kLocalityNames)) {
    p = put(p, "\" locality=\"");
    p = put_short(p, kLocalityNames[r.locality]);
  }
  if (transaction) {
    // A transaction names its session (sid) and the flow; counters belong to the session.
    p = put(p, "\"]");
    if (has_ext(chain, nslots)) p = write_ext(chain, nslots, p, dst + kMaxLineBytes - kMsgMax - 2);
    *p++ = ' ';
    p = put_short(p, std::string_view(record_msgid(r.type)));
    *p++ = ' ';
    p = put_transport(p, r.transport);
    *p++ = ' ';
    if (v != 4) *p++ = '[';
    p = put_short(p, src);
    if (v != 4) *p++ = ']';
    *p++ = ':';
    p = put_u64(p, r.client_port);
    p = put(p, " -> ");
    if (v != 4) *p++ = '[';
    p = put_short(p, dst_ip);
    if (v != 4) *p++ = ']';
    *p++ = ':';
    p = put_u64(p, r.server_port);
    *p++ = ' ';
    p = put_short(p, proto);
    *p++ = '\n';
    return static_cast<size_t>(p - dst);
  }
  p = put(p, "\" start=\"");
  p = write_ts(p, r.start_ns);
  p = put(p, "\" end=\"");
  p = write_ts(p, r.end_ns);
  p = put(p, "\" duration=\"");
  p = put_duration(p, r.start_ns, r.end_ns, 6);
  p = put(p, "\" pkts_c2s=\"");
  p = put_u64(p, r.pkts[0]);
  p = put(p, "\" bytes_c2s=\"");
  p = put_u64(p, r.bytes[0]);
  p = put(p, "\" pkts_s2c=\"");
  p = put_u64(p, r.pkts[1]);
  p = put(p, "\" bytes_s2c=\"");
  p = put_u64(p, r.bytes[1]);
  if (session) {
    p = put(p, "\" end_reason=\"");
    p = put_short(p, end_reason_name(r.end_reason));
  }
  p = put(p, "\" client_basis=\"");
  p = put_short(p, basis_name(r.direction_basis));
  if (r.transport == kIpProtoTcp) {
    p = put(p, "\" tcp_flags_c2s=\"");
    p = put_tcp_flags(p, r.tcp_flags[0]);
    p = put(p, "\" tcp_flags_s2c=\"");
    p = put_tcp_flags(p, r.tcp_flags[1]);
  }
  p = put(p, "\"]");

  // Extension fields get what is left of the line once the longest MSG fits.
  if (has_ext(chain, nslots)) p = write_ext(chain, nslots, p, dst + kMaxLineBytes - kMsgMax - 2);

  // MSG: a short ASCII summary (RFC 5424 section 6.4, MSG-ANY).
  *p++ = ' ';
  p = put_transport(p, r.transport);
  *p++ = ' ';
  if (v != 4) *p++ = '[';
  p = put_short(p, src);
  if (v != 4) *p++ = ']';
  *p++ = ':';
  p = put_u64(p, r.client_port);
  p = put(p, " -> ");
  if (v != 4) *p++ = '[';
  p = put_short(p, dst_ip);
  if (v != 4) *p++ = ']';
  *p++ = ':';
  p = put_u64(p, r.server_port);
  *p++ = ' ';
  p = put_short(p, proto);
  *p++ = ' ';
  p = put_u64(p, r.pkts[0]);
  *p++ = '/';
  p = put_u64(p, r.bytes[0]);
  p = put(p, " B c2s ");
  p = put_u64(p, r.pkts[1]);
  *p++ = '/';
  p = put_u64(p, r.bytes[1]);
  p = put(p, " B s2c ");
  p = put_short(p, session ? end_reason_name(r.end_reason) : std::string_view("interim"));
  *p++ = ' ';
  p = put_duration(p, r.start_ns, r.end_ns, 3);
  p = put(p, " s\n");
  return static_cast<size_t>(p - dst);
}

size_t parse_ext(const Record* const* chain, size_t nslots, ExtEntry* out,
                 FormatCounters& counters) noexcept {
  size_t n = 0;
  for (size_t s = 0; s < nslots && s <= kMaxContinuations; ++s) {
    const Record& r = *chain[s];
    size_t ext_len = r.ext_len;
    if (ext_len > sizeof r.ext) {
      counters.emit_ext_malformed.inc();
      ext_len = sizeof r.ext;
    }
    for (size_t off = 0; off < ext_len;) {
      ExtHeader h;
      if (ext_len - off < sizeof h) {
        counters.emit_ext_malformed.inc();
        break;
      }
      std::memcpy(&h, r.ext + off, sizeof h);
      off += sizeof h;
      if (h.len > ext_len - off) {
        counters.emit_ext_malformed.inc();
        break;
      }
      const FieldInfo* fi = find_field(h.field);
      if (!fi) {
        counters.emit_ext_unknown_field.inc();
      } else if (!length_fits(fi->kind, h.len)) {
        counters.emit_ext_bad_length.inc();
      } else {
        out[n++] = {r.ext + off, static_cast<uint16_t>(fi - kFields), h.len};
      }
      off += h.len;
    }
  }
  return n;
}

char* Rfc5424Formatter::write_ext(const Record* const* chain, size_t nslots, char* p,
                                  char* const limit) {
  ExtEntry entries[kMaxExtEntries];
  const size_t n = parse_ext(chain, nslots, entries, counters_);

  // One SD element per schema element, in order of first appearance; fields in record order.
  uint64_t done = 0;
  for (size_t i = 0; i < n; ++i) {
    const unsigned el = kElementIndex.of_field[entries[i].field_index];
    if (done & (1ULL << el)) continue;
    done |= 1ULL << el;
    char* const element_start = p;
    *p++ = '[';
    p = put_short(p, kFields[entries[i].field_index].element);
    p = put_short(p, pen_suffix_);
    char* const params_start = p;
    for (size_t j = i; j < n; ++j) {
      const ExtEntry& e = entries[j];
      if (kElementIndex.of_field[e.field_index] != el) continue;
      const FieldInfo& f = kFields[e.field_index];
      char* const before = p;
      *p++ = ' ';
      p = put_short(p, f.param);
      p = put(p, "=\"");
      const FieldValueResult v = write_field_value(f.kind, e.value, e.len, p);
      p = v.end;
      if (v.truncated) counters_.emit_value_truncated.inc();
      if (v.hex_escaped) counters_.emit_value_hex_escaped.inc();
      *p++ = '"';
      if (p + 1 > limit) {  // keep room for the closing ']'
        p = before;
        counters_.emit_ext_line_cap.inc();
      }
    }
    if (p == params_start) {
      p = element_start;  // nothing fitted: drop the empty element
    } else {
      *p++ = ']';
    }
  }
  return p;
}

std::string format_drops_record(const FormatConfig& cfg, std::string_view output,
                                uint64_t dropped, Nanos first_ns, Nanos last_ns, Nanos now_ns) {
  char now[kTimestampLen], first[kTimestampLen], last[kTimestampLen];
  write_timestamp(now, now_ns);
  write_timestamp(first, first_ns);
  write_timestamp(last, last_ns);
  std::string out_value;
  append_param_value(output, out_value);
  // A drop is a warning (severity 4) whatever --severity says for session records.
  return fmt::format(
      "<{}>1 {} {} {} {} drops [drops@{} output=\"{}\" dropped=\"{}\" first=\"{}\" "
      "last=\"{}\"] {} records for this output were dropped between {} and {}\n",
      cfg.facility * 8 + 4, std::string_view(now, kTimestampLen), cfg.hostname, cfg.app_name,
      cfg.procid, cfg.pen, out_value, dropped, std::string_view(first, kTimestampLen),
      std::string_view(last, kTimestampLen), dropped, std::string_view(first, kTimestampLen),
      std::string_view(last, kTimestampLen));
}


// ---- formats ----

absl::StatusOr<LineFormat> parse_line_format(std::string_view name) {
  if (name == "rfc5424") return LineFormat::kRfc5424;
  if (name == "json") return LineFormat::kJson;
  if (name == "cef") return LineFormat::kCef;
  if (name == "leef") return LineFormat::kLeef;
  return absl::InvalidArgumentError(
      fmt::format("expected rfc5424, json, cef or leef, got '{}'", name));
}

std::string_view line_format_name(LineFormat f) noexcept {
  switch (f) {
    case LineFormat::kRfc5424:
      return "rfc5424";
    case LineFormat::kJson:
      return "json";
    case LineFormat::kCef:
      return "cef";
    case LineFormat::kLeef:
      return "leef";
  }
  return "unknown";
}

std::unique_ptr<Formatter> make_formatter(const FormatConfig& cfg) {
  switch (cfg.line_format) {
    case LineFormat::kJson:
      return std::make_unique<JsonFormatter>(cfg);
    case LineFormat::kCef:
      return std::make_unique<CefFormatter>(cfg);
    case LineFormat::kLeef:
      return std::make_unique<LeefFormatter>(cfg);
    case LineFormat::kRfc5424:
      break;
  }
  return std::make_unique<Rfc5424Formatter>(cfg);
}

// ---- JSON, CEF, LEEF: shared parts ----

namespace {

// The flow@ params of a record, in the RFC 5424 order, as values each format renders its own
// way (names, numbers, times). Which params a record has follows the RFC 5424 rules exactly.
enum FlowKey : uint8_t {
  kFkSid, kFkProto, kFkTransport, kFkSrc, kFkSport, kFkDst, kFkDport, kFkVlan, kFkLocality,
  kFkStart, kFkEnd, kFkDuration, kFkPktsC2s, kFkBytesC2s, kFkPktsS2c, kFkBytesS2c,
  kFkEndReason, kFkClientBasis, kFkTcpFlagsC2s, kFkTcpFlagsS2c, kFkCount
};
constexpr std::string_view kFlowNames[kFkCount] = {
    "sid", "proto", "transport", "src", "sport", "dst", "dport", "vlan", "locality",
    "start", "end", "duration", "pkts_c2s", "bytes_c2s", "pkts_s2c", "bytes_s2c",
    "end_reason", "client_basis", "tcp_flags_c2s", "tcp_flags_s2c"};
// CEF: the standard key where CEF has one (src/dst become c6a2/c6a3 for IPv6, below).
constexpr std::string_view kCefFlowKeys[kFkCount] = {
    "externalId", "app", "proto", "src", "spt", "dst", "dpt", "flowscribeVlan",
    "flowscribeLocality", "start", "end", "flowscribeDuration", "flowscribePktsC2s", "in",
    "flowscribePktsS2c", "out", "reason", "flowscribeClientBasis", "flowscribeTcpFlagsC2s",
    "flowscribeTcpFlagsS2c"};
constexpr std::string_view kLeefFlowKeys[kFkCount] = {
    "sid", "appProto", "proto", "src", "srcPort", "dst", "dstPort", "vlan", "locality",
    "startTime", "endTime", "duration", "srcPackets", "srcBytes", "dstPackets", "dstBytes",
    "endReason", "clientBasis", "tcpFlagsC2s", "tcpFlagsS2c"};

enum class FlowKind : uint8_t { kText, kNumber, kTime, kDuration };
struct FlowParam {
  FlowKey key;
  FlowKind kind;
  std::string_view text;  // kText: never needs escaping in any format (names, hex, addresses)
  uint64_t num;           // kNumber; kTime: ns since the epoch
};
struct FlowParams {
  FlowParam p[kFkCount];
  size_t n = 0;
  char text[160];  // sid, addresses, flag letters
};

void build_flow(const Record& r, uint32_t run_id, FlowParams& f) {
  char* t = f.text;
  auto text = [&](FlowKey k, char* begin, char* end) {
    f.p[f.n++] = {k, FlowKind::kText, std::string_view(begin, static_cast<size_t>(end - begin)), 0};
  };
  auto name = [&](FlowKey k, std::string_view v) { f.p[f.n++] = {k, FlowKind::kText, v, 0}; };
  auto num = [&](FlowKey k, uint64_t v) { f.p[f.n++] = {k, FlowKind::kNumber, {}, v}; };
  char* b = t;
  t = put_hex(t, run_id, 8);
  t = put_hex(t, r.sid >> 56, 2);
  t = put_hex(t, r.sid & 0xff'ffff'ffffULL, 10);
  text(kFkSid, b, t);
  name(kFkProto, app_proto_name(r.app_proto));
  b = t;
  t = put_transport(t, r.transport);
  text(kFkTransport, b, t);
  b = t;
  t = write_ip(t, r.client, r.ip_version);
  text(kFkSrc, b, t);
  num(kFkSport, r.client_port);
  b = t;
  t = write_ip(t, r.server, r.ip_version);
  text(kFkDst, b, t);
  num(kFkDport, r.server_port);
  if (r.vlan) num(kFkVlan, r.vlan);
  if (r.locality != 0 && r.locality < std::size(kLocalityNames)) {
    name(kFkLocality, kLocalityNames[r.locality]);
  }
  if (is_transaction(r.type)) return;
  f.p[f.n++] = {kFkStart, FlowKind::kTime, {}, r.start_ns};
  f.p[f.n++] = {kFkEnd, FlowKind::kTime, {}, r.end_ns};
  f.p[f.n++] = {kFkDuration, FlowKind::kDuration, {}, 0};
  num(kFkPktsC2s, r.pkts[0]);
  num(kFkBytesC2s, r.bytes[0]);
  num(kFkPktsS2c, r.pkts[1]);
  num(kFkBytesS2c, r.bytes[1]);
  if (r.type == RecordType::kSession) name(kFkEndReason, end_reason_name(r.end_reason));
  name(kFkClientBasis, basis_name(r.direction_basis));
  if (r.transport == kIpProtoTcp) {
    b = t;
    t = put_tcp_flags(t, r.tcp_flags[0]);
    text(kFkTcpFlagsC2s, b, t);
    b = t;
    t = put_tcp_flags(t, r.tcp_flags[1]);
    text(kFkTcpFlagsS2c, b, t);
  }
}

inline char* put_ms(char* p, Nanos ns) { return put_u64(p, ns / 1'000'000); }

// One flow value as the line formats write it: JSON quotes text and times; CEF writes times
// as epoch milliseconds (its rt/start/end), JSON and LEEF as RFC 3339.
enum class FlowTime : uint8_t { kRfc3339, kMillis };
char* put_flow_value(char* p, const FlowParam& f, const Record& r, FlowTime time, bool quote) {
  switch (f.kind) {
    case FlowKind::kText:
      if (quote) *p++ = '"';
      p = put_short(p, f.text);
      if (quote) *p++ = '"';
      return p;
    case FlowKind::kNumber:
      return put_u64(p, f.num);
    case FlowKind::kTime:
      if (quote) *p++ = '"';
      p = time == FlowTime::kMillis ? put_ms(p, f.num) : write_timestamp(p, f.num);
      if (quote) *p++ = '"';
      return p;
    case FlowKind::kDuration:
      return put_duration(p, r.start_ns, r.end_ns, 6);
  }
  return p;
}

// What kind of text a wire value becomes; all start from the RFC 5424 escaped form
// (escape_param_value: controls, DEL, C1, U+2028/9 and invalid UTF-8 as \xHH, capped), so the
// four formats show a value the same way once their own escapes are undone.
enum class Target : uint8_t { kJson, kCef, kLeef };

// RFC 5424 escaped text -> `t`. Decoded, the result is what an RFC 5424 parser shows: the
// value with `\xHH` for the bytes that cannot be shown. JSON escapes '"' and '\'; CEF '\' and
// '='; LEEF nothing (a value never holds TAB, CR or LF).
char* convert_escaped(char* p, const char* s, const char* e, Target t) {
  while (s < e) {
    const char c = *s;
    if (c == '\\' && s + 1 < e) {
      const char n = s[1];
      s += 2;
      if (n == 'x') {  // \xHH: a literal backslash in the decoded text
        if (t != Target::kLeef) *p++ = '\\';
        *p++ = '\\';
        *p++ = 'x';
      } else if (n == '"') {
        if (t == Target::kJson) *p++ = '\\';
        *p++ = '"';
      } else if (n == '\\') {
        if (t != Target::kLeef) *p++ = '\\';
        *p++ = '\\';
      } else {  // \]
        *p++ = n;
      }
      continue;
    }
    if (c == '=' && t == Target::kCef) *p++ = '\\';
    *p++ = c;
    ++s;
  }
  return p;
}

// One extension value in format `t`. JSON strings get their quotes here.
char* put_ext_value(char* p, const FieldInfo& f, const uint8_t* val, size_t len, Target t,
                    FormatCounters& counters) {
  if (f.kind == FieldKind::kString) {
    char tmp[kMaxValueBytes];
    const EscapeResult er = escape_param_value(val, len, tmp);
    if (er.truncated) counters.emit_value_truncated.inc();
    if (er.hex_escaped) counters.emit_value_hex_escaped.inc();
    if (t == Target::kJson) *p++ = '"';
    p = convert_escaped(p, tmp, er.end, t);
    if (t == Target::kJson) *p++ = '"';
    return p;
  }
  const bool quote = t == Target::kJson && f.kind == FieldKind::kIp;
  if (quote) *p++ = '"';
  p = write_field_value(f.kind, val, len, p).end;  // digits, an address, true/false
  if (quote) *p++ = '"';
  return p;
}

// Config text (host name, procid: printable ASCII) escaped for a format.
std::string escape_config(std::string_view s, Target t) {
  std::string out;
  for (char c : s) {
    if (t == Target::kJson && (c == '"' || c == '\\')) out.push_back('\\');
    if (t == Target::kCef && (c == '=' || c == '\\')) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

// CEF header fields escape '|' and '\' (the version; everything else there is ours).
std::string escape_cef_header(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '|' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

constexpr std::string_view kRecordNames[kRecordTypeCount] = {
    "Session ended", "Session update", "HTTP transaction", "TLS handshake",
    "X.509 certificate", "DNS transaction", "SOCKS request"};

// Syslog severity (0 emergency .. 7 debug) -> CEF/LEEF severity (0-10, 10 the worst).
constexpr int kSeverityScale[8] = {10, 9, 8, 7, 6, 4, 3, 1};

// Standard keys of schema fields, by name. A row that is not in FS_RECORD_FIELDS is simply
// never looked up; one that is gets its standard key (schema_keys_resolve checks at compile
// time that no standard key is claimed twice within a format).
struct StdKey {
  std::string_view element, param, key;
};
constexpr StdKey kCefStdKeys[] = {
    {"http", "method", "requestMethod"},
    {"http", "uri", "request"},
    {"http", "url", "request"},
    {"http", "user_agent", "requestClientApplication"},
    {"http", "host", "dhost"},
    {"http", "referer", "requestContext"},
    {"http", "cookie", "requestCookies"},
    {"http", "filename", "fname"},
    {"tls", "sni", "dhost"},
};
// LEEF 2.0 predefines few keys beyond the flow's (src, dst, srcPort, ..., srcBytes); url is one.
constexpr StdKey kLeefStdKeys[] = {
    {"http", "uri", "url"},
    {"http", "url", "url"},
};

template <size_t N>
constexpr std::string_view std_key(const StdKey (&table)[N], std::string_view element,
                                   std::string_view param) {
  for (const StdKey& k : table) {
    if (k.element == element && k.param == param) return k.key;
  }
  return {};
}

// Per schema row (kFields order) at compile time.
struct StdKeyTable {
  std::string_view cef[kFieldCount];
  std::string_view leef[kFieldCount];
};
constexpr StdKeyTable kStdKeys = [] {
  StdKeyTable t{};
  for (size_t i = 0; i < kFieldCount; ++i) {
    t.cef[i] = std_key(kCefStdKeys, kFields[i].element, kFields[i].param);
    t.leef[i] = std_key(kLeefStdKeys, kFields[i].element, kFields[i].param);
  }
  return t;
}();

// JSON puts flow@ params and the header at the top level and each element under its name:
// an element may not take a name that is already a top-level key.
constexpr std::string_view kJsonTopKeys[] = {"timestamp", "host", "app_name", "procid", "msgid"};
constexpr bool json_names_are_free() {
  for (size_t i = 0; i < kFieldCount; ++i) {
    for (std::string_view k : kJsonTopKeys) {
      if (kFields[i].element == k) return false;
    }
    for (std::string_view k : kFlowNames) {
      if (kFields[i].element == k) return false;
    }
  }
  return true;
}
static_assert(json_names_are_free(),
              "FS_RECORD_FIELDS: an element is named like a JSON top-level key (timestamp, host, "
              "app_name, procid, msgid or a flow@ param); pick another element name");

}  // namespace

std::string_view cef_standard_key(std::string_view element, std::string_view param) noexcept {
  return std_key(kCefStdKeys, element, param);
}
std::string_view leef_standard_key(std::string_view element, std::string_view param) noexcept {
  return std_key(kLeefStdKeys, element, param);
}

std::string camel_key(std::string_view prefix, std::string_view element, std::string_view param) {
  std::string out(prefix);
  auto add = [&](std::string_view part) {
    bool up = !out.empty();
    for (char c : part) {
      if (c == '.' || c == '-' || c == '_') {
        up = true;
        continue;
      }
      out.push_back(up && c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c);
      up = false;
    }
  };
  add(element);
  add(param);
  return out;
}

void collect_ext(const Record* const* chain, size_t nslots, ExtList& out,
                 FormatCounters& counters) noexcept {
  out.ngroups = 0;
  out.n = parse_ext(chain, nslots, out.entries, counters);
  // Group: elements by first appearance, params of an element by first appearance. Quadratic
  // in the worst case (a hostile record of hundreds of tiny fields), a handful in practice.
  bool used[ExtList::kMax];
  std::memset(used, 0, out.n);
  size_t no = 0;
  for (size_t i = 0; i < out.n; ++i) {
    if (used[i]) continue;
    const unsigned el = kElementIndex.of_field[out.entries[i].field_index];
    bool first_of_element = true;
    for (size_t j = i; j < out.n; ++j) {
      if (used[j] || kElementIndex.of_field[out.entries[j].field_index] != el) continue;
      const std::string_view param = kFields[out.entries[j].field_index].param;
      ExtGroup g{static_cast<uint16_t>(no), 0, first_of_element};
      first_of_element = false;
      for (size_t k = j; k < out.n; ++k) {
        if (used[k] || kElementIndex.of_field[out.entries[k].field_index] != el ||
            kFields[out.entries[k].field_index].param != param) {
          continue;
        }
        used[k] = true;
        out.order[no++] = static_cast<uint16_t>(k);
        ++g.count;
      }
      out.groups[out.ngroups++] = g;
    }
  }
}

// CEF and LEEF extensions: `<sep>key=value` per schema field of the record, a repeated param's
// values joined by ','; a value that would cross `limit` is dropped and counted, and a key
// left with no value is taken back.
static char* put_ext_pairs(char* p, char* const limit, const Record* const* chain, size_t nslots,
                           char sep, Target target, const std::string* keys, ExtList& ext,
                           FormatCounters& counters) noexcept {
  collect_ext(chain, nslots, ext, counters);
  for (size_t gi = 0; gi < ext.ngroups; ++gi) {
    const ExtGroup& g = ext.groups[gi];
    const uint16_t fidx = ext.at(g, 0).field_index;
    char* const param_start = p;
    *p++ = sep;
    p = put_short(p, keys[fidx]);
    *p++ = '=';
    size_t written = 0;
    for (size_t k = 0; k < g.count; ++k) {
      const ExtEntry& e = ext.at(g, k);
      char* const before = p;
      if (written) *p++ = ',';
      p = put_ext_value(p, kFields[fidx], e.value, e.len, target, counters);
      if (p > limit) {
        p = before;
        counters.emit_ext_line_cap.inc();
      } else {
        ++written;
      }
    }
    if (written == 0) p = param_start;
  }
  return p;
}

SyslogPrefix::SyslogPrefix(const FormatConfig& cfg)
    : pri_(fmt::format("<{}>1 ", cfg.facility * 8 + cfg.severity)) {
  for (uint8_t i = 0; i < kRecordTypeCount; ++i) {
    after_ts_[i] = fmt::format(" {} {} {} {} - ", cfg.hostname, cfg.app_name, cfg.procid,
                               record_msgid(static_cast<RecordType>(i)));
  }
}

char* SyslogPrefix::put(char* p, RecordType t, Nanos ts) const noexcept {
  p = flowscribe::emit::put(p, std::string_view(pri_));
  p = write_timestamp(p, ts);
  return flowscribe::emit::put(p, std::string_view(after_ts_[static_cast<int>(t)]));
}

// ---- JSON ----

JsonFormatter::JsonFormatter(const FormatConfig& cfg)
    : prefix_(cfg),
      head_(fmt::format(",\"host\":\"{}\",\"app_name\":\"{}\",\"procid\":\"{}\",\"msgid\":\"",
                        escape_config(cfg.hostname, Target::kJson),
                        escape_config(cfg.app_name, Target::kJson),
                        escape_config(cfg.procid, Target::kJson))),
      run_id_(cfg.run_id) {}

size_t JsonFormatter::format_chain(const Record* const* chain, size_t nslots, char* const dst) {
  const Record& r = *chain[0];
  if (static_cast<uint8_t>(r.type) >= kRecordTypeCount) {
    counters_.emit_record_bad_type.inc();
    return 0;
  }
  char* p = prefix_.put(dst, r.type, r.ts_ns);
  body_off_ = static_cast<size_t>(p - dst);
  p = put(p, "{\"timestamp\":\"");
  p = write_timestamp(p, r.ts_ns);
  *p++ = '"';
  p = put(p, std::string_view(head_));
  p = put_short(p, std::string_view(record_msgid(r.type)));
  *p++ = '"';
  FlowParams fp;
  build_flow(r, run_id_, fp);
  for (size_t i = 0; i < fp.n; ++i) {
    const FlowParam& f = fp.p[i];
    p = put(p, ",\"");
    p = put_short(p, kFlowNames[f.key]);
    p = put(p, "\":");
    p = put_flow_value(p, f, r, FlowTime::kRfc3339, true);
  }
  if (has_ext(chain, nslots)) {
    collect_ext(chain, nslots, ext_, counters_);
    // Room for "]}}\n" after any value.
    char* const limit = dst + kMaxLineBytes - 4;
    char* element_start = nullptr;
    bool element_open = false;
    bool element_has = false;
    auto close_element = [&]() {
      if (!element_open) return;
      if (element_has) {
        *p++ = '}';
      } else {
        p = element_start;  // nothing of it fitted
      }
      element_open = false;
    };
    for (size_t gi = 0; gi < ext_.ngroups; ++gi) {
      const ExtGroup& g = ext_.groups[gi];
      const FieldInfo& fi = kFields[ext_.at(g, 0).field_index];
      if (g.new_element) {
        close_element();
        element_start = p;
        element_open = true;
        element_has = false;
        p = put(p, ",\"");
        p = put_short(p, fi.element);
        p = put(p, "\":{");
      }
      char* const param_start = p;
      if (element_has) *p++ = ',';
      *p++ = '"';
      p = put_short(p, fi.param);
      p = put(p, "\":");
      const bool array = g.count > 1;
      if (array) *p++ = '[';
      size_t written = 0;
      for (size_t k = 0; k < g.count; ++k) {
        const ExtEntry& e = ext_.at(g, k);
        char* const before = p;
        if (written) *p++ = ',';
        p = put_ext_value(p, fi, e.value, e.len, Target::kJson, counters_);
        if (p > limit) {
          p = before;
          counters_.emit_ext_line_cap.inc();
        } else {
          ++written;
        }
      }
      if (written == 0) {
        p = param_start;
        continue;
      }
      if (array) *p++ = ']';
      element_has = true;
    }
    close_element();
  }
  *p++ = '}';
  *p++ = '\n';
  return static_cast<size_t>(p - dst);
}

// ---- CEF ----

CefFormatter::CefFormatter(const FormatConfig& cfg) : prefix_(cfg), run_id_(cfg.run_id) {
  const std::string version = escape_cef_header(cfg.product_version);
  for (uint8_t i = 0; i < kRecordTypeCount; ++i) {
    head_[i] = fmt::format("CEF:0|flowscribe|flowscribe|{}|{}|{}|{}|rt=", version,
                           record_msgid(static_cast<RecordType>(i)), kRecordNames[i],
                           kSeverityScale[cfg.severity & 7]);
  }
  dev_ = fmt::format(" dvchost={} dvcpid={}", escape_config(cfg.hostname, Target::kCef),
                     escape_config(cfg.procid, Target::kCef));
  for (size_t i = 0; i < kFieldCount; ++i) {
    keys_[i] = kStdKeys.cef[i].empty()
                   ? camel_key("flowscribe", kFields[i].element, kFields[i].param)
                   : std::string(kStdKeys.cef[i]);
  }
}

size_t CefFormatter::format_chain(const Record* const* chain, size_t nslots, char* const dst) {
  const Record& r = *chain[0];
  if (static_cast<uint8_t>(r.type) >= kRecordTypeCount) {
    counters_.emit_record_bad_type.inc();
    return 0;
  }
  char* p = prefix_.put(dst, r.type, r.ts_ns);
  body_off_ = static_cast<size_t>(p - dst);
  p = put(p, std::string_view(head_[static_cast<int>(r.type)]));
  p = put_ms(p, r.ts_ns);
  p = put(p, std::string_view(dev_));
  FlowParams fp;
  build_flow(r, run_id_, fp);
  for (size_t i = 0; i < fp.n; ++i) {
    const FlowParam& f = fp.p[i];
    *p++ = ' ';
    // CEF's src/dst are IPv4; IPv6 addresses go in its c6a2/c6a3 ("Source/Destination IPv6
    // Address" in the CEF dictionary).
    if (r.ip_version != 4 && f.key == kFkSrc) {
      p = put(p, "c6a2");
    } else if (r.ip_version != 4 && f.key == kFkDst) {
      p = put(p, "c6a3");
    } else {
      p = put_short(p, kCefFlowKeys[f.key]);
    }
    *p++ = '=';
    p = put_flow_value(p, f, r, FlowTime::kMillis, false);
  }
  if (has_ext(chain, nslots)) {
    p = put_ext_pairs(p, dst + kMaxLineBytes - 1, chain, nslots, ' ', Target::kCef, keys_, ext_,
                      counters_);
  }
  *p++ = '\n';
  return static_cast<size_t>(p - dst);
}

// ---- LEEF ----

LeefFormatter::LeefFormatter(const FormatConfig& cfg) : prefix_(cfg), run_id_(cfg.run_id) {
  const std::string version = escape_cef_header(cfg.product_version);
  for (uint8_t i = 0; i < kRecordTypeCount; ++i) {
    const char* msgid = record_msgid(static_cast<RecordType>(i));
    head_[i] = fmt::format("LEEF:2.0|flowscribe|flowscribe|{}|{}|x09|cat={}\tdevTime=", version,
                           msgid, msgid);
  }
  dev_ = fmt::format("\tsev={}\tsensor={}", std::max(1, kSeverityScale[cfg.severity & 7]),
                     cfg.hostname);
  for (size_t i = 0; i < kFieldCount; ++i) {
    keys_[i] = kStdKeys.leef[i].empty() ? camel_key("", kFields[i].element, kFields[i].param)
                                        : std::string(kStdKeys.leef[i]);
  }
}

size_t LeefFormatter::format_chain(const Record* const* chain, size_t nslots, char* const dst) {
  const Record& r = *chain[0];
  if (static_cast<uint8_t>(r.type) >= kRecordTypeCount) {
    counters_.emit_record_bad_type.inc();
    return 0;
  }
  char* p = prefix_.put(dst, r.type, r.ts_ns);
  body_off_ = static_cast<size_t>(p - dst);
  p = put(p, std::string_view(head_[static_cast<int>(r.type)]));
  p = put_ms(p, r.ts_ns);
  p = put(p, std::string_view(dev_));
  FlowParams fp;
  build_flow(r, run_id_, fp);
  for (size_t i = 0; i < fp.n; ++i) {
    const FlowParam& f = fp.p[i];
    *p++ = '\t';
    p = put_short(p, kLeefFlowKeys[f.key]);
    *p++ = '=';
    p = put_flow_value(p, f, r, FlowTime::kRfc3339, false);
  }
  if (has_ext(chain, nslots)) {
    p = put_ext_pairs(p, dst + kMaxLineBytes - 1, chain, nslots, '\t', Target::kLeef, keys_,
                      ext_, counters_);
  }
  *p++ = '\n';
  return static_cast<size_t>(p - dst);
}

// ---- drops in every format ----

std::string format_drops_line(const FormatConfig& cfg, std::string_view output, uint64_t dropped,
                              Nanos first_ns, Nanos last_ns, Nanos now_ns, bool syslog_header) {
  if (cfg.line_format == LineFormat::kRfc5424) {
    return format_drops_record(cfg, output, dropped, first_ns, last_ns, now_ns);
  }
  char now[kTimestampLen], first[kTimestampLen], last[kTimestampLen];
  write_timestamp(now, now_ns);
  write_timestamp(first, first_ns);
  write_timestamp(last, last_ns);
  const std::string_view now_s(now, kTimestampLen), first_s(first, kTimestampLen),
      last_s(last, kTimestampLen);
  std::string out;
  if (syslog_header) {
    out = fmt::format("<{}>1 {} {} {} {} drops - ", cfg.facility * 8 + 4, now_s, cfg.hostname,
                      cfg.app_name, cfg.procid);
  }
  // The output's name is ours (--out), but escape it like any value.
  char esc[kMaxValueBytes];
  const EscapeResult er =
      escape_param_value(reinterpret_cast<const uint8_t*>(output.data()), output.size(), esc);
  char conv[kMaxValueBytes * 2];
  auto value = [&](Target t) {
    return std::string(conv, static_cast<size_t>(convert_escaped(conv, esc, er.end, t) - conv));
  };
  const int sev = kSeverityScale[4];  // a warning, as the RFC 5424 drops record
  switch (cfg.line_format) {
    case LineFormat::kJson:
      out += fmt::format(
          "{{\"timestamp\":\"{}\",\"host\":\"{}\",\"app_name\":\"{}\",\"procid\":\"{}\","
          "\"msgid\":\"drops\",\"output\":\"{}\",\"dropped\":{},\"first\":\"{}\",\"last\":\"{}\"}}\n",
          now_s, escape_config(cfg.hostname, Target::kJson),
          escape_config(cfg.app_name, Target::kJson), escape_config(cfg.procid, Target::kJson),
          value(Target::kJson), dropped, first_s, last_s);
      break;
    case LineFormat::kCef:
      out += fmt::format(
          "CEF:0|flowscribe|flowscribe|{}|drops|Records dropped|{}|rt={} dvchost={} dvcpid={} "
          "cnt={} start={} end={} flowscribeOutput={}\n",
          escape_cef_header(cfg.product_version), sev, now_ns / 1'000'000,
          escape_config(cfg.hostname, Target::kCef), escape_config(cfg.procid, Target::kCef),
          dropped, first_ns / 1'000'000, last_ns / 1'000'000, value(Target::kCef));
      break;
    case LineFormat::kLeef:
      out += fmt::format(
          "LEEF:2.0|flowscribe|flowscribe|{}|drops|x09|cat=drops\tdevTime={}\tsev={}\t"
          "sensor={}\tdropped={}\tfirst={}\tlast={}\toutput={}\n",
          escape_cef_header(cfg.product_version), now_ns / 1'000'000, sev, cfg.hostname, dropped,
          first_s, last_s, value(Target::kLeef));
      break;
    case LineFormat::kRfc5424:
      break;
  }
  return out;
}

}  // namespace flowscribe::emit
