#include "dissectors/apps/apps.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include "common/strings.h"

namespace flowscribe::dissect {
namespace {

bool valid_token(std::string_view s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) return false;
  }
  return true;
}

bool valid_suffix(std::string_view s) {
  if (s.empty() || s.size() > 253 || s.front() == '.' || s.back() == '.') return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) return false;
  }
  return s.find("..") == std::string_view::npos;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

absl::Status AppDb::add_text(std::string_view text, std::string_view origin) {
  size_t line_no = 0;
  for (std::string_view line : split(text, '\n', false)) {
    ++line_no;
    const size_t hash = line.find('#');
    if (hash != std::string_view::npos) line = line.substr(0, hash);
    std::vector<std::string_view> tok;
    size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
      const size_t b = i;
      while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
      if (i > b) tok.push_back(line.substr(b, i - b));
    }
    if (tok.empty()) continue;
    auto bad = [&](std::string_view why) {
      return absl::InvalidArgumentError(cat(origin, ":", line_no, ": ", why));
    };
    if (tok.size() != 3) return bad("expected three fields: <domain suffix> <application> <category>");
    const std::string suffix = lower(tok[0]);
    if (!valid_suffix(suffix)) return bad(cat("'", tok[0], "' is not a domain suffix (letters, digits, '-', '_', '.')"));
    if (!valid_token(tok[1], 32)) return bad(cat("application '", tok[1], "': 1-32 chars of [a-z0-9._-]"));
    if (!valid_token(tok[2], 32)) return bad(cat("category '", tok[2], "': 1-32 chars of [a-z0-9._-]"));
    uint16_t id;
    auto it = by_name_.find(std::string(tok[1]));
    if (it != by_name_.end()) {
      id = it->second;
      apps_[id].category = std::string(tok[2]);  // the last line naming an application sets its category
    } else {
      if (apps_.size() >= 0xffff) return bad("too many applications (65534 at most)");
      id = static_cast<uint16_t>(apps_.size());
      apps_.push_back(App{std::string(tok[1]), std::string(tok[2])});
      by_name_.emplace(std::string(tok[1]), id);
    }
    suffixes_[suffix] = id;  // a later line (a user file) overrides an earlier one
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const AppDb>> AppDb::load(const std::vector<std::string>& user_files) {
  auto db = std::make_shared<AppDb>();
  if (auto st = db->add_text(builtin_text(), "built-in application table"); !st.ok()) return st;
  for (const std::string& path : user_files) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::NotFoundError(cat("--apps ", path, ": cannot open"));
    std::stringstream ss;
    ss << in.rdbuf();
    if (auto st = db->add_text(ss.str(), path); !st.ok()) return st;
  }
  return std::shared_ptr<const AppDb>(std::move(db));
}

uint16_t AppDb::lookup(std::string_view host) const noexcept {
  if (host.empty() || host.size() > 253 + 1) return 0;
  char buf[256];
  size_t n = host.size();
  if (host[n - 1] == '.') --n;  // a fully qualified name's root
  for (size_t i = 0; i < n; ++i) {
    const char c = host[i];
    buf[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  // Longest suffix first: the whole name, then after each dot.
  size_t at = 0;
  while (at < n) {
    auto it = suffixes_.find(absl::string_view(buf + at, n - at));
    if (it != suffixes_.end()) return it->second;
    const void* dot = std::memchr(buf + at, '.', n - at);
    if (dot == nullptr) break;
    at = static_cast<size_t>(static_cast<const char*>(dot) - buf) + 1;
  }
  return 0;
}

std::string_view AppDb::name(uint16_t id) const noexcept {
  return id < apps_.size() ? std::string_view(apps_[id].name) : std::string_view();
}

std::string_view AppDb::category(uint16_t id) const noexcept {
  return id < apps_.size() ? std::string_view(apps_[id].category) : std::string_view();
}

}  // namespace flowscribe::dissect
