#pragma once
// Internet applications (docs/apps.md): domain suffix -> application and category, matched
// against TLS SNI, HTTP Host and DNS query names to give sessions an `app` field.
//
// The table is built once at start-up (built-in list, then the user's --apps files, whose
// lines override built-in ones for the same suffix) and shared read-only by every worker.
// A lookup walks the name's label boundaries from the longest suffix to the shortest and
// probes a hash table: at most one probe per label, no allocation.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "dissectors/dissector.h"

namespace flowscribe::dissect {

class AppDb final : public AppNamer {
 public:
  // Built-in table plus each file in `user_files` (format in docs/apps.md). Errors name the
  // file and line.
  static absl::StatusOr<std::shared_ptr<const AppDb>> load(const std::vector<std::string>& user_files);
  // Parses table text (same format as a file); `origin` names it in errors.
  absl::Status add_text(std::string_view text, std::string_view origin);

  uint16_t lookup(std::string_view host) const noexcept override;
  // Name and category of an application id (empty for 0 or an unknown id).
  std::string_view name(uint16_t id) const noexcept;
  std::string_view category(uint16_t id) const noexcept;
  size_t application_count() const noexcept { return apps_.size() - 1; }
  size_t suffix_count() const noexcept { return suffixes_.size(); }

  // The built-in table's text (dissectors/apps/builtin.cpp).
  static std::string_view builtin_text() noexcept;

 private:
  struct App {
    std::string name;
    std::string category;
  };
  std::vector<App> apps_{App{}};  // index = id; id 0 = none
  absl::flat_hash_map<std::string, uint16_t> by_name_;
  absl::flat_hash_map<std::string, uint16_t> suffixes_;  // lowercase, no trailing dot
};

}  // namespace flowscribe::dissect
