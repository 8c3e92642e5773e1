#pragma once
// Field helpers shared by the HTTP/1.x (dissectors/http) and HTTP/2 (dissectors/http2)
// dissectors, so both write the same `filename` and name applications from the same host.
#include <cstddef>
#include <cstring>
#include <string_view>

#include "dissectors/classify/probe_util.h"

namespace flowscribe::dissect::http_fields {

constexpr bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }
inline std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}
inline int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Content-Disposition filename (RFC 6266 section 4.3: filename* wins over filename). The
// filename* value (RFC 8187) is percent-decoded into `out`; returns the bytes written.
inline size_t disposition_filename(std::string_view v, char* out, size_t cap) noexcept {
  using probe_util::iequals;
  size_t plain_len = 0;
  bool got_plain = false;
  char plain[256];
  if (cap > sizeof plain) cap = sizeof plain;
  size_t i = v.find(';');
  while (i != std::string_view::npos && i < v.size()) {
    ++i;
    while (i < v.size() && is_ows(v[i])) ++i;
    const size_t eq = v.find('=', i);
    if (eq == std::string_view::npos) break;
    const std::string_view name = trim(v.substr(i, eq - i));
    size_t j = eq + 1;
    while (j < v.size() && is_ows(v[j])) ++j;
    char* dst = nullptr;
    size_t n = 0;
    if (iequals(name, "filename*")) {
      dst = out;
      // charset'[language]'value-chars
      const size_t q1 = v.find('\'', j);
      const size_t q2 = q1 == std::string_view::npos ? q1 : v.find('\'', q1 + 1);
      const size_t end = v.find(';', j);
      if (q2 != std::string_view::npos && q2 < end) {
        for (size_t k = q2 + 1; k < v.size() && v[k] != ';' && !is_ows(v[k]) && n < cap; ++k) {
          if (v[k] == '%' && k + 2 < v.size() && hex_value(v[k + 1]) >= 0 && hex_value(v[k + 2]) >= 0) {
            dst[n++] = static_cast<char>(hex_value(v[k + 1]) << 4 | hex_value(v[k + 2]));
            k += 2;
          } else {
            dst[n++] = v[k];
          }
        }
        if (n > 0) return n;
      }
      i = end;
      continue;
    }
    if (iequals(name, "filename") && !got_plain) {
      dst = plain;
      if (j < v.size() && v[j] == '"') {
        size_t k = j + 1;
        for (; k < v.size() && v[k] != '"'; ++k) {
          if (v[k] == '\\' && k + 1 < v.size()) ++k;
          if (n < cap) dst[n++] = v[k];
        }
        i = v.find(';', k);
      } else {
        const size_t end = v.find(';', j);
        const std::string_view tok = trim(v.substr(j, end == std::string_view::npos ? v.npos : end - j));
        for (char c : tok) {
          if (n < cap) dst[n++] = c;
        }
        i = end;
      }
      plain_len = n;
      got_plain = n > 0;
      continue;
    }
    i = v.find(';', eq);
  }
  if (got_plain) std::memcpy(out, plain, plain_len);
  return got_plain ? plain_len : 0;
}

// The last path segment of a request target when it names a file ("a/b/c.txt": "c.txt").
inline std::string_view uri_filename(std::string_view uri, bool truncated) noexcept {
  const size_t scheme = uri.find("://");
  if (scheme != std::string_view::npos && scheme < 16) {
    const size_t slash = uri.find('/', scheme + 3);
    uri = slash == std::string_view::npos ? std::string_view{} : uri.substr(slash);
  }
  if (uri.empty() || uri[0] != '/') return {};  // authority-form (CONNECT), asterisk-form
  const size_t q = uri.find_first_of("?#");
  if (q == std::string_view::npos && truncated) return {};  // the path may go on
  uri = uri.substr(0, q);
  const size_t slash = uri.rfind('/');
  const std::string_view seg = slash == std::string_view::npos ? uri : uri.substr(slash + 1);
  const size_t dot = seg.rfind('.');
  if (seg.empty() || dot == std::string_view::npos || dot == 0 || dot + 1 == seg.size()) return {};
  return seg;
}

// Host without port, for the application table ("[::1]:8080" -> "::1", "a.b:80" -> "a.b").
inline std::string_view host_name(std::string_view h) noexcept {
  if (!h.empty() && h[0] == '[') {
    const size_t e = h.find(']');
    return e == std::string_view::npos ? std::string_view{} : h.substr(1, e - 1);
  }
  const size_t colon = h.rfind(':');
  if (colon != std::string_view::npos && h.find(':') == colon) h = h.substr(0, colon);
  return h;
}

}  // namespace flowscribe::dissect::http_fields
