#pragma once
// A strict RFC 5424 line validator, independent of emit/ (it shares no code with the
// formatter it checks). Header-only so that rfc5424_check and the unit tests both compile it.
// Checks the ABNF of RFC 5424 section 6 plus, for flowscribe's records, that PARAM-VALUEs and
// MSG are valid UTF-8 (RFC 3629) without control characters.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace flowscribe::rfc5424 {

namespace detail {

// The SD-IDs without '@' that IANA has registered (RFC 5424 section 7, section 9.2).
inline bool is_registered_sd_id(std::string_view id) {
  return id == "timeQuality" || id == "origin" || id == "meta";
}

class LineValidator {
 public:
  explicit LineValidator(std::string_view s) : s_(s) {}

  // Returns true if valid; otherwise fills reason_.
  bool run() {
    return pri() && version() && sp("VERSION") && timestamp() && sp("TIMESTAMP") &&
           header_field("HOSTNAME", 255) && sp("HOSTNAME") && header_field("APP-NAME", 48) &&
           sp("APP-NAME") && header_field("PROCID", 128) && sp("PROCID") &&
           header_field("MSGID", 32) && sp("MSGID") && structured_data() && msg();
  }
  const std::string& reason() const { return reason_; }

 private:
  bool at_end() const { return i_ >= s_.size(); }
  unsigned char peek(size_t k = 0) const {
    return i_ + k < s_.size() ? static_cast<unsigned char>(s_[i_ + k]) : 0;
  }
  bool fail(std::string why) {
    reason_ = "col " + std::to_string(i_ + 1) + ": " + why;
    return false;
  }
  static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

  bool sp(const char* after) {
    if (peek() != ' ' || at_end()) return fail(std::string("expected SP after ") + after);
    ++i_;
    return true;
  }

  // Reads exactly n digits as a number.
  bool digits(size_t n, unsigned& v, const char* what) {
    v = 0;
    for (size_t k = 0; k < n; ++k) {
      if (at_end() || !is_digit(peek())) return fail(std::string("expected digit in ") + what);
      v = v * 10 + (peek() - '0');
      ++i_;
    }
    return true;
  }
  bool literal(char c, const char* what) {
    if (at_end() || peek() != static_cast<unsigned char>(c)) {
      return fail(std::string("expected '") + c + "' in " + what);
    }
    ++i_;
    return true;
  }

  // PRI = "<" PRIVAL ">", PRIVAL = 1*3DIGIT, 0..191 (section 6.2.1).
  bool pri() {
    if (!literal('<', "PRI")) return false;
    unsigned v = 0;
    size_t n = 0;
    while (!at_end() && is_digit(peek())) {
      if (++n > 3) return fail("PRIVAL longer than 3 digits");
      v = v * 10 + (peek() - '0');
      ++i_;
    }
    if (n == 0) return fail("PRIVAL missing");
    if (v > 191) return fail("PRIVAL " + std::to_string(v) + " out of range 0..191");
    return literal('>', "PRI");
  }

  // VERSION = NONZERO-DIGIT 0*2DIGIT; this document defines 1 (section 6.2.2).
  bool version() {
    size_t start = i_;
    while (!at_end() && is_digit(peek())) ++i_;
    std::string_view v = s_.substr(start, i_ - start);
    if (v.empty()) return fail("VERSION missing");
    if (v != "1") return fail("VERSION '" + std::string(v) + "' is not 1");
    return true;
  }

  static bool leap(unsigned y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

  // TIMESTAMP = NILVALUE / FULL-DATE "T" FULL-TIME (section 6.2.3, RFC 3339).
  bool timestamp() {
    if (peek() == '-' && peek(1) == ' ') {
      ++i_;
      return true;
    }
    unsigned y, mo, d, h, mi, sec;
    if (!digits(4, y, "DATE-FULLYEAR") || !literal('-', "FULL-DATE") ||
        !digits(2, mo, "DATE-MONTH") || !literal('-', "FULL-DATE") ||
        !digits(2, d, "DATE-MDAY")) {
      return false;
    }
    if (mo < 1 || mo > 12) return fail("DATE-MONTH out of range");
    static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const unsigned mdays = kDays[mo - 1] + (mo == 2 && leap(y) ? 1 : 0);
    if (d < 1 || d > mdays) return fail("DATE-MDAY out of range for the month");
    if (!literal('T', "TIMESTAMP (upper-case T)") || !digits(2, h, "TIME-HOUR") ||
        !literal(':', "PARTIAL-TIME") || !digits(2, mi, "TIME-MINUTE") ||
        !literal(':', "PARTIAL-TIME") || !digits(2, sec, "TIME-SECOND")) {
      return false;
    }
    if (h > 23) return fail("TIME-HOUR out of range");
    if (mi > 59) return fail("TIME-MINUTE out of range");
    if (sec > 59) return fail("TIME-SECOND out of range (no leap seconds, 6.2.3.1)");
    if (peek() == '.') {
      ++i_;
      size_t n = 0;
      while (!at_end() && is_digit(peek())) ++i_, ++n;
      if (n == 0) return fail("TIME-SECFRAC without digits");
      if (n > 6) return fail("TIME-SECFRAC longer than 6 digits");
    }
    if (peek() == 'Z') {
      ++i_;
      return true;
    }
    if (peek() == '+' || peek() == '-') {
      ++i_;
      unsigned oh, om;
      if (!digits(2, oh, "TIME-NUMOFFSET") || !literal(':', "TIME-NUMOFFSET") ||
          !digits(2, om, "TIME-NUMOFFSET")) {
        return false;
      }
      if (oh > 23 || om > 59) return fail("TIME-NUMOFFSET out of range");
      return true;
    }
    return fail("TIME-OFFSET must be 'Z' or +hh:mm / -hh:mm");
  }

  // NILVALUE / 1*max PRINTUSASCII (section 6.2.4 - 6.2.7).
  bool header_field(const char* what, size_t max) {
    size_t start = i_;
    while (!at_end() && peek() != ' ') {
      if (peek() < 33 || peek() > 126) {
        return fail(std::string(what) + " has a non-PRINTUSASCII byte");
      }
      ++i_;
    }
    size_t n = i_ - start;
    if (n == 0) return fail(std::string(what) + " is empty");
    if (n > max) return fail(std::string(what) + " longer than " + std::to_string(max));
    return true;
  }

  // SD-NAME = 1*32PRINTUSASCII except '=', SP, ']', '"' (section 6.3.2, 6.3.3).
  bool sd_name(std::string_view& out, const char* what) {
    size_t start = i_;
    while (!at_end()) {
      unsigned char c = peek();
      if (c == '=' || c == ' ' || c == ']' || c == '"') break;
      if (c < 33 || c > 126) return fail(std::string(what) + " has a non-PRINTUSASCII byte");
      ++i_;
    }
    out = s_.substr(start, i_ - start);
    if (out.empty()) return fail(std::string(what) + " is empty");
    if (out.size() > 32) return fail(std::string(what) + " longer than 32");
    return true;
  }

  // SD-ID: "name@<private enterprise number>" (section 6.3.2, 7.2.2) or an IANA name.
  bool check_sd_id(std::string_view id) {
    size_t at = id.find('@');
    if (at == std::string_view::npos) {
      if (!is_registered_sd_id(id)) {
        return fail("SD-ID '" + std::string(id) + "' has no '@' and is not IANA-registered");
      }
    } else {
      if (at == 0) return fail("SD-ID has nothing before '@'");
      std::string_view pen = id.substr(at + 1);
      bool need_digit = true;
      for (char c : pen) {
        if (is_digit(static_cast<unsigned char>(c))) {
          need_digit = false;
        } else if (c == '.' && !need_digit) {
          need_digit = true;
        } else {
          return fail("SD-ID '" + std::string(id) +
                      "': after '@' must come an enterprise number (digits and dots)");
        }
      }
      if (need_digit) return fail("SD-ID '" + std::string(id) + "': bad enterprise number");
    }
    for (std::string_view seen : ids_) {
      if (seen == id) return fail("SD-ID '" + std::string(id) + "' appears twice (6.3.2)");
    }
    ids_.push_back(id);
    return true;
  }

  // One UTF-8 character (RFC 3629) at i_, not a control character; advances past it.
  bool utf8_char(const char* what) {
    const unsigned char c = peek();
    size_t n = s_.size() - i_;
    auto cont = [&](size_t k, unsigned char lo = 0x80, unsigned char hi = 0xbf) {
      return k < n && peek(k) >= lo && peek(k) <= hi;
    };
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return fail(std::string("control character in ") + what);
      ++i_;
      return true;
    }
    size_t k = 0;
    if (c >= 0xc2 && c <= 0xdf && cont(1)) {
      if (c == 0xc2 && peek(1) < 0xa0) return fail(std::string("C1 control character in ") + what);
      k = 2;
    } else if (c >= 0xe0 && c <= 0xef &&
               cont(1, c == 0xe0 ? 0xa0 : 0x80, c == 0xed ? 0x9f : 0xbf) && cont(2)) {
      k = 3;
    } else if (c >= 0xf0 && c <= 0xf4 &&
               cont(1, c == 0xf0 ? 0x90 : 0x80, c == 0xf4 ? 0x8f : 0xbf) && cont(2) &&
               cont(3)) {
      k = 4;
    } else {
      return fail(std::string("invalid UTF-8 in ") + what);
    }
    i_ += k;
    return true;
  }

  // PARAM-VALUE up to the closing '"': '"', '\' and ']' MUST be escaped; a backslash before
  // any other character is a literal backslash (section 6.3.3).
  bool param_value() {
    while (true) {
      if (at_end()) return fail("PARAM-VALUE not closed by '\"'");
      unsigned char c = peek();
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c == ']') return fail("unescaped ']' in PARAM-VALUE");
      if (c == '\\') {
        unsigned char e = peek(1);
        i_ += (i_ + 1 < s_.size() && (e == '"' || e == '\\' || e == ']')) ? 2 : 1;
        continue;
      }
      if (!utf8_char("PARAM-VALUE")) return false;
    }
  }

  // STRUCTURED-DATA = NILVALUE / 1*SD-ELEMENT (section 6.3).
  bool structured_data() {
    if (peek() == '-' && (i_ + 1 == s_.size() || peek(1) == ' ')) {
      ++i_;
      return true;
    }
    if (peek() != '[') return fail("STRUCTURED-DATA must be '-' or start with '['");
    while (peek() == '[' && !at_end()) {
      ++i_;
      std::string_view id;
      if (!sd_name(id, "SD-ID") || !check_sd_id(id)) return false;
      while (peek() == ' ' && !at_end()) {
        ++i_;
        std::string_view name;
        if (!sd_name(name, "PARAM-NAME") || !literal('=', "SD-PARAM") ||
            !literal('"', "SD-PARAM")) {
          return false;
        }
        if (!param_value()) return false;
      }
      if (!literal(']', "SD-ELEMENT")) return false;
    }
    return true;
  }

  // [SP MSG]; MSG-UTF8 starts with a BOM. We require UTF-8 without controls either way.
  bool msg() {
    if (at_end()) return true;
    if (!sp("STRUCTURED-DATA")) return false;
    if (peek() == 0xef && peek(1) == 0xbb && peek(2) == 0xbf) i_ += 3;
    while (!at_end()) {
      if (!utf8_char("MSG")) return false;
    }
    return true;
  }

  std::string_view s_;
  size_t i_ = 0;
  std::string reason_;
  std::vector<std::string_view> ids_;
};

}  // namespace detail

// Validates one line, without its trailing '\n'. On failure, `reason` (if given) says why.
inline bool validate_line(std::string_view line, std::string* reason = nullptr) {
  detail::LineValidator v(line);
  if (v.run()) return true;
  if (reason) *reason = v.reason();
  return false;
}

}  // namespace flowscribe::rfc5424
