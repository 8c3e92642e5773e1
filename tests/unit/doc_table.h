#pragma once
// Tests that a docs table matches a counter X-macro list, name for name and text for text.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "common/counters.h"

namespace flowscribe::testing {

// Reads the `| `name` | meaning |` rows of section `heading` ("## ...") in docs/<doc>, looking
// from the source tree (via `this_file`, a __FILE__ under tests/unit/) and upwards from the
// working directory. Returns false when the file is not found.
inline bool read_doc_counter_rows(const std::string& this_file, const std::string& doc,
                                  const std::string& heading,
                                  std::map<std::string, std::string>& rows) {
  std::vector<std::string> candidates = {
      this_file.substr(0, this_file.rfind("tests/unit/")) + "docs/" + doc};
  for (std::string up = ""; up.size() < 5 * 3; up += "../") candidates.push_back(up + "docs/" + doc);
  std::ifstream in;
  bool found = false;
  for (const std::string& c : candidates) {
    in.open(c);
    if ((found = in.is_open())) break;
    in.clear();
  }
  if (!found) return false;
  std::string line;
  bool in_section = false;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) in_section = line == heading;
    if (!in_section || line.rfind("| `", 0) != 0) continue;
    const size_t a = line.find('`') + 1;
    const size_t b = line.find('`', a);
    const size_t bar = line.find('|', b);
    std::string meaning = line.substr(bar + 1);
    meaning = meaning.substr(meaning.find_first_not_of(' '));
    meaning = meaning.substr(0, meaning.find_last_not_of(" |") + 1);
    rows[line.substr(a, b - a)] = meaning;
  }
  return true;
}

// CHECKs that the section lists exactly `Counters`' names with their help texts.
template <typename Counters>
void check_doc_counters(const std::string& this_file, const std::string& doc,
                        const std::string& heading) {
  std::map<std::string, std::string> rows;
  if (!read_doc_counter_rows(this_file, doc, heading, rows)) {
    WARN("docs/" + doc + " not found from the working directory, skipped");
    return;
  }
  std::map<std::string, std::string> want;
  for (const CounterInfo& info : Counters::kInfo) want[info.name] = info.help;
  CHECK(rows == want);
}

}  // namespace flowscribe::testing
