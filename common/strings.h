#pragma once
// Small string helpers for start-up and control code (never the data path). Debian 12's
// abseil is built with its own absl::string_view (not std::string_view), so its StrCat and
// StrSplit do not accept std::string_view; these do, and nothing else needs them.
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace flowscribe {

namespace strings_internal {
inline void append_one(std::string& s, std::string_view v) { s.append(v); }
inline void append_one(std::string& s, const char* v) { s.append(v ? v : ""); }
inline void append_one(std::string& s, const std::string& v) { s.append(v); }
inline void append_one(std::string& s, char c) { s.push_back(c); }
template <typename T, typename = std::enable_if_t<std::is_arithmetic_v<T>>>
void append_one(std::string& s, T v) {
  if constexpr (std::is_floating_point_v<T>) {
    s.append(std::to_string(v));
  } else {
    char buf[24];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
    (void)ec;
    s.append(buf, p);
  }
}
}  // namespace strings_internal

template <typename... A>
std::string cat(const A&... a) {
  std::string s;
  (strings_internal::append_one(s, a), ...);
  return s;
}

template <typename... A>
void append(std::string& s, const A&... a) {
  (strings_internal::append_one(s, a), ...);
}

inline std::string_view strip(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits on `sep`; empty (after stripping) pieces are dropped when skip_empty.
inline std::vector<std::string_view> split(std::string_view s, char sep, bool skip_empty = true) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t end = s.find(sep, start);
    std::string_view piece = s.substr(start, end == std::string_view::npos ? s.npos : end - start);
    if (!skip_empty || !strip(piece).empty()) out.push_back(piece);
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

template <typename T>
bool parse_uint(std::string_view s, T& out) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return false;
  if (v > static_cast<uint64_t>(static_cast<T>(~T{0}) > 0 ? static_cast<T>(~T{0}) : 0)) return false;
  out = static_cast<T>(v);
  return true;
}

inline bool parse_double(std::string_view s, double& out) {
  if (s.empty()) return false;
  std::string tmp(s);
  char* end = nullptr;
  out = std::strtod(tmp.c_str(), &end);
  return end == tmp.c_str() + tmp.size();
}

inline bool consume_prefix(std::string_view& s, std::string_view prefix) {
  if (s.substr(0, prefix.size()) != prefix) return false;
  s.remove_prefix(prefix.size());
  return true;
}

inline std::string join(const std::vector<std::string>& v, std::string_view sep) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s.append(sep);
    s.append(v[i]);
  }
  return s;
}

}  // namespace flowscribe
