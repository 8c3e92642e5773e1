// libFuzzer target for the internet-application table (dissectors/apps): its matcher takes
// names straight from the wire (TLS SNI, HTTP Host, DNS query names), its parser the user's
// --apps files. Input layout: one mode byte, then
//   even: names separated by '\n', looked up in the built-in table;
//   odd:  table text (docs/apps.md format) added to an empty table, then every line's first
//         token looked up in it.
// Beyond "no crash" (ASan) it checks the matcher's promises: case does not matter, a trailing
// root dot does not matter, an id it returns has a name and a category, a name under a
// matched name's suffix ("x." + name) matches too, and a parse error names the origin and
// its line.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "dissectors/apps/apps.h"

using flowscribe::dissect::AppDb;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void check_name(const AppDb& db, std::string_view name) {
  const uint16_t id = db.lookup(name);
  if (id != 0) {
    check(!db.name(id).empty());
    check(!db.category(id).empty());
  }
  std::string upper(name);
  for (char& c : upper) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  check(db.lookup(upper) == id);
  if (!name.empty() && name.back() != '.' && name.size() <= 253) {
    check(db.lookup(std::string(name) + ".") == id);
  }
  // A subdomain of a matched name matches the same application (the longest suffix wins, and
  // a longer one than `name` may exist only if it ends with a label of the subdomain's own).
  if (id != 0 && name.size() <= 250 && name.front() != '.' && name.back() != '.') {
    check(db.lookup("zq." + std::string(name)) != 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::shared_ptr<const AppDb> builtin = [] {
    auto db = AppDb::load({});
    if (!db.ok()) std::abort();
    return *db;
  }();
  if (size < 1) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto lines = [&](auto fn) {
    size_t at = 0;
    while (at <= rest.size()) {
      size_t nl = rest.find('\n', at);
      if (nl == std::string_view::npos) nl = rest.size();
      fn(rest.substr(at, nl - at));
      at = nl + 1;
    }
  };
  if ((data[0] & 1) == 0) {
    lines([&](std::string_view name) { check_name(*builtin, name); });
    return 0;
  }
  AppDb db;
  const absl::Status st = db.add_text(rest, "fuzz");
  if (!st.ok()) {
    check(st.message().substr(0, 5) == "fuzz:");
    return 0;
  }
  lines([&](std::string_view line) {
    const size_t end = line.find_first_of(" \t\r#");
    const std::string_view first = line.substr(0, end);
    check_name(db, first);
    // A suffix the table holds matches itself.
    if (!first.empty() && end != std::string_view::npos && line[end] != '#') check(db.lookup(first) != 0);
  });
  return 0;
}
