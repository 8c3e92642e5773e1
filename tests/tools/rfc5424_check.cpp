// rfc5424_check [--count] [FILE...]: validates every line of the files (or stdin) strictly
// against RFC 5424 section 6 (see rfc5424_validate.h). Prints `file:line: reason` for the
// first 20 bad lines on stderr; exits 0 if every line is valid, 1 if not, 2 on usage or I/O
// errors. --count prints the number of valid lines on stdout.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "rfc5424_validate.h"

namespace {

constexpr int kMaxReported = 20;

struct Totals {
  unsigned long long valid = 0;
  unsigned long long bad = 0;
};

void report(const std::string& file, unsigned long long line_no, const std::string& why,
            Totals& t) {
  if (++t.bad <= kMaxReported) std::cerr << file << ':' << line_no << ": " << why << '\n';
}

void check_stream(std::istream& in, const std::string& file, Totals& t) {
  std::string line;
  unsigned long long line_no = 0;
  std::string why;
  while (std::getline(in, line)) {
    ++line_no;
    // getline stops at EOF without '\n' only for an unterminated last line: a cut record.
    if (in.eof()) {
      report(file, line_no, "no newline at the end (truncated line?)", t);
      continue;
    }
    if (flowscribe::rfc5424::validate_line(line, &why)) {
      ++t.valid;
    } else {
      report(file, line_no, why, t);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool count = false;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--count") == 0) {
      count = true;
    } else if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::cout << "usage: rfc5424_check [--count] [FILE...]   (no FILE or '-': stdin)\n";
      return 0;
    } else {
      files.emplace_back(argv[i]);
    }
  }
  if (files.empty()) files.emplace_back("-");

  Totals t;
  for (const std::string& f : files) {
    if (f == "-") {
      check_stream(std::cin, "<stdin>", t);
      continue;
    }
    std::ifstream in(f, std::ios::binary);
    if (!in) {
      std::cerr << f << ": cannot open: " << std::strerror(errno) << '\n';
      return 2;
    }
    check_stream(in, f, t);
    if (in.bad()) {
      std::cerr << f << ": read error\n";
      return 2;
    }
  }
  if (t.bad > kMaxReported) {
    std::cerr << "... " << (t.bad - kMaxReported) << " more bad lines not shown\n";
  }
  if (count) std::cout << t.valid << '\n';
  return t.bad ? 1 : 0;
}
