#pragma once
// Helpers shared by the probes: text lines, tokens and BER/varint readers, all bounded.
#include <cstdint>
#include <initializer_list>
#include <string_view>

#include "dissectors/classify/probe.h"
#include "dissectors/classify/reader.h"

namespace flowscribe::dissect::probe_util {

constexpr bool is_print(uint8_t c) noexcept { return c >= 0x20 && c < 0x7f; }
constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool is_upper(char c) noexcept { return c >= 'A' && c <= 'Z'; }
constexpr bool is_alpha(char c) noexcept { return is_upper(c) || (c >= 'a' && c <= 'z'); }
constexpr char to_upper(char c) noexcept { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c; }

inline bool all_print(std::string_view s) noexcept {
  for (char c : s) {
    if (!is_print(static_cast<uint8_t>(c)) && c != '\t') return false;
  }
  return true;
}
inline bool all_digits(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_digit(c)) return false;
  }
  return true;
}
inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (to_upper(a[i]) != to_upper(b[i])) return false;
  }
  return true;
}
inline bool contains(std::string_view s, std::string_view lit) noexcept {
  return s.find(lit) != std::string_view::npos;
}
// `have` and `lit` agree on their common length (a truncated `lit` is still possible).
inline bool compatible(std::string_view have, std::string_view lit) noexcept {
  const size_t k = have.size() < lit.size() ? have.size() : lit.size();
  return have.substr(0, k) == lit.substr(0, k);
}
inline bool in_list(std::string_view word, std::initializer_list<std::string_view> list) noexcept {
  for (std::string_view w : list) {
    if (iequals(word, w)) return true;
  }
  return false;
}

// One text line starting at `off`: text without the CR LF; complete when a LF ended it.
struct Line {
  std::string_view text;
  bool complete = false;
  uint32_t next = 0;  // offset after the LF
};
inline Line line_at(Bytes b, uint32_t off) noexcept {
  Line l;
  if (off > b.n) off = b.n;
  const uint8_t* p = b.p + off;
  const uint32_t n = b.n - off;
  for (uint32_t i = 0; i < n; ++i) {
    if (p[i] == '\n') {
      uint32_t end = i > 0 && p[i - 1] == '\r' ? i - 1 : i;
      l.text = {reinterpret_cast<const char*>(p), end};
      l.complete = true;
      l.next = off + i + 1;
      return l;
    }
  }
  uint32_t end = n > 0 && p[n - 1] == '\r' ? n - 1 : n;
  l.text = {reinterpret_cast<const char*>(p), end};
  l.next = b.n;
  return l;
}

// Splits off the first space-separated word.
inline std::string_view take_word(std::string_view& s) noexcept {
  size_t sp = s.find(' ');
  std::string_view w = s.substr(0, sp);
  s = sp == std::string_view::npos ? std::string_view{} : s.substr(sp + 1);
  return w;
}

// METHOD SP TARGET SP VERSION (RFC 9112 §3 shape, shared by HTTP, RTSP, SIP, SSDP).
struct RequestLine {
  std::string_view method, target, version;
  bool complete = false;  // the whole line is here and has exactly three tokens
  bool plausible = false; // what is here is consistent with such a line (maybe truncated)
};
// RFC 9110 §9.1 allows any token; real methods are upper case letters, digits, '-' and '_'
// (WebDAV, CalDAV, CCM_POST, BASELINE-CONTROL, ...), starting with a letter.
inline bool method_token(std::string_view m) noexcept {
  if (m.empty() || m.size() > 24 || !is_upper(m[0])) return false;
  for (char c : m) {
    if (!is_upper(c) && !is_digit(c) && c != '-' && c != '_') return false;
  }
  return true;
}
inline RequestLine request_line(Bytes b) noexcept {
  RequestLine r;
  Line l = line_at(b, 0);
  if (!all_print(l.text)) return r;
  std::string_view s = l.text;
  size_t sp1 = s.find(' ');
  if (sp1 == std::string_view::npos) {
    r.plausible = !l.complete && !s.empty() && s.size() <= 24 && method_token(s);
    return r;
  }
  r.method = s.substr(0, sp1);
  if (!method_token(r.method)) return r;
  s = s.substr(sp1 + 1);
  size_t sp2 = s.find(' ');
  if (sp2 == std::string_view::npos) {
    r.target = s;
    r.plausible = !l.complete;
    return r;
  }
  r.target = s.substr(0, sp2);
  r.version = s.substr(sp2 + 1);
  if (r.target.empty() || r.version.find(' ') != std::string_view::npos) return r;
  r.complete = l.complete && !r.version.empty();
  r.plausible = true;
  return r;
}

// VERSION SP 3DIGIT [SP reason]; `version` must match exactly (or be truncated, `partial`).
inline Verdict status_line(Bytes b, std::string_view version) noexcept {
  Line l = line_at(b, 0);
  std::string_view s = l.text;
  if (!l.complete) {
    // Truncated: plausible if consistent with "VERSION SP ddd".
    if (!compatible(s, version)) return Verdict::kNotMine;
    return s.size() >= version.size() ? Verdict::kUnsure : Verdict::kNotMine;
  }
  if (s.size() < version.size() + 4 || s.substr(0, version.size()) != version) return Verdict::kNotMine;
  s = s.substr(version.size());
  if (s[0] != ' ' || !is_digit(s[1]) || !is_digit(s[2]) || !is_digit(s[3])) return Verdict::kNotMine;
  if (s[1] < '1' || s[1] > '6') return Verdict::kNotMine;
  if (s.size() > 4 && s[4] != ' ') return Verdict::kNotMine;
  return all_print(s) ? Verdict::kCertain : Verdict::kNotMine;
}

// BER tag + definite length (X.690 §8.1). Long form up to 4 length bytes; indefinite
// length (0x80) is refused (LDAP, SNMP and Kerberos use definite lengths).
struct Tlv {
  uint8_t tag = 0;
  uint32_t len = 0;
  uint32_t value_off = 0;  // offset of the value in the reader's buffer
};
inline bool ber_header(Reader& r, Tlv& t) noexcept {
  t.tag = r.u8();
  uint8_t l = r.u8();
  if (!r.ok()) return false;
  if ((t.tag & 0x1f) == 0x1f) return r.fail();  // multi-byte tags: not used at these places
  if (l < 0x80) {
    t.len = l;
  } else {
    uint8_t k = l & 0x7f;
    if (k == 0 || k > 4) return r.fail();
    uint32_t v = 0;
    for (uint8_t i = 0; i < k; ++i) v = v << 8 | r.u8();
    t.len = v;
  }
  t.value_off = r.pos();
  return r.ok();
}
// INTEGER (0x02) of 1..4 bytes; value as unsigned when non-negative.
inline bool ber_int(Reader& r, uint32_t& v, uint8_t tag = 0x02) noexcept {
  Tlv t;
  if (!ber_header(r, t) || t.tag != tag || t.len == 0 || t.len > 4) return r.fail();
  v = 0;
  for (uint32_t i = 0; i < t.len; ++i) v = v << 8 | r.u8();
  return r.ok();
}

inline uint16_t be16_at(Bytes b, uint32_t off) noexcept {
  return static_cast<uint16_t>(b[off] << 8 | b[off + 1]);
}
inline uint32_t be32_at(Bytes b, uint32_t off) noexcept {
  return uint32_t{b[off]} << 24 | uint32_t{b[off + 1]} << 16 | uint32_t{b[off + 2]} << 8 | b[off + 3];
}
inline uint32_t le32_at(Bytes b, uint32_t off) noexcept {
  return uint32_t{b[off + 3]} << 24 | uint32_t{b[off + 2]} << 16 | uint32_t{b[off + 1]} << 8 | b[off];
}

constexpr Verdict best(Verdict a, Verdict b) noexcept { return a > b ? a : b; }

}  // namespace flowscribe::dissect::probe_util
