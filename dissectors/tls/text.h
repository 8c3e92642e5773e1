#pragma once
// A bounded text builder over a caller's fixed buffer: appends never overflow; what did not
// fit sets `cut` (the caller counts it). No allocation.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace flowscribe::dissect::tls {

class Text {
 public:
  Text(char* buf, size_t cap) noexcept : p_(buf), cap_(cap) {}

  void put(char c) noexcept {
    if (n_ < cap_) {
      p_[n_++] = c;
    } else {
      cut_ = true;
    }
  }
  void put(std::string_view s) noexcept {
    for (char c : s) put(c);
  }
  // Appends `s` whole or not at all (a list item is never cut in half).
  bool put_whole(std::string_view s) noexcept {
    if (cap_ - n_ < s.size()) {
      cut_ = true;
      return false;
    }
    for (char c : s) p_[n_++] = c;
    return true;
  }
  void hex2(uint8_t b, bool upper = false) noexcept {
    const char* d = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    put(d[b >> 4]);
    put(d[b & 15]);
  }
  void hex(const uint8_t* b, size_t n, bool upper = false) noexcept {
    for (size_t i = 0; i < n; ++i) hex2(b[i], upper);
  }
  void dec(uint64_t v) noexcept {
    char t[20];
    int k = 0;
    do {
      t[k++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (k > 0) put(t[--k]);
  }
  // Unicode code point as UTF-8 (surrogates and values past U+10FFFF become U+FFFD).
  void utf8(uint32_t cp) noexcept {
    if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) cp = 0xfffd;
    if (cp < 0x80) {
      put(static_cast<char>(cp));
    } else if (cp < 0x800) {
      put(static_cast<char>(0xc0 | (cp >> 6)));
      put(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      put(static_cast<char>(0xe0 | (cp >> 12)));
      put(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      put(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      put(static_cast<char>(0xf0 | (cp >> 18)));
      put(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      put(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      put(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }
  // IPv4 (4 bytes) dotted quad or IPv6 (16 bytes) as RFC 5952 text; other lengths in hex.
  void ip(const uint8_t* b, size_t n) noexcept;

  size_t size() const noexcept { return n_; }
  size_t room() const noexcept { return cap_ - n_; }
  // Appends `item` after a comma (none before the first), whole or not at all.
  bool put_item(std::string_view item) noexcept {
    const size_t need = item.size() + (n_ ? 1 : 0);
    if (need > cap_ - n_) {
      cut_ = true;
      return false;
    }
    if (n_) p_[n_++] = ',';
    for (char c : item) p_[n_++] = c;
    return true;
  }
  bool cut() const noexcept { return cut_; }
  void set_cut() noexcept { cut_ = true; }
  void resize(size_t n) noexcept {
    if (n < n_) n_ = n;
  }
  std::string_view view() const noexcept { return {p_, n_}; }
  const char* data() const noexcept { return p_; }

 private:
  char* p_;
  size_t cap_;
  size_t n_ = 0;
  bool cut_ = false;
};

inline void Text::ip(const uint8_t* b, size_t n) noexcept {
  if (n == 4) {
    for (int i = 0; i < 4; ++i) {
      if (i) put('.');
      dec(b[i]);
    }
    return;
  }
  if (n != 16) {
    hex(b, n);
    return;
  }
  uint16_t w[8];
  for (int i = 0; i < 8; ++i) w[i] = static_cast<uint16_t>(b[2 * i] << 8 | b[2 * i + 1]);
  // RFC 5952 section 4.2: the longest run (first if tied) of two or more zero words is "::".
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (w[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && w[j] == 0) ++j;
    if (j - i > best_len && j - i >= 2) {
      best = i;
      best_len = j - i;
    }
    i = j;
  }
  // IPv4-mapped (::ffff:a.b.c.d), as inet_ntop writes it.
  if (best == 0 && best_len == 5 && w[5] == 0xffff) {
    put("::ffff:");
    for (int i = 12; i < 16; ++i) {
      if (i > 12) put('.');
      dec(b[i]);
    }
    return;
  }
  const char* d = "0123456789abcdef";
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      put("::");
      i += best_len - 1;
      continue;
    }
    if (i > 0 && i != best + best_len) put(':');
    bool lead = true;
    for (int s = 12; s >= 0; s -= 4) {
      const int nib = (w[i] >> s) & 15;
      if (nib == 0 && lead && s != 0) continue;
      lead = false;
      put(d[nib]);
    }
  }
}

}  // namespace flowscribe::dissect::tls
