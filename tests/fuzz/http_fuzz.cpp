// libFuzzer target for the HTTP dissector (dissectors/http). Input: the event list of
// tests/fuzz/dissect_fuzz.h on a TCP flow. Beyond "no crash" it checks the dissector's
// promises: every begun record is committed once, every record's extension area parses with
// known http field ids and kinds' lengths, and the record count is bounded by the bytes fed.
#include "dissectors/http/http.h"
#include "tests/fuzz/dissect_fuzz.h"

using flowscribe::dissect::Progress;
using flowscribe::emit::RecordType;
using namespace flowscribe::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto dissector = flowscribe::dissect::make_http_dissector();
  auto& d = *dissector;
  Slot st(d);
  flowscribe::flow::Flow flow = make_flow(6);
  CheckedOut out({{RecordType::kHttp, "http"}}, 1u << 2 | 1u << 8);
  flowscribe::dissect::Ctx c{flow, 1, out, nullptr};
  d.begin_flow(st.get(), c, 6);
  size_t bytes = 0;
  const Progress p = feed_events(d, st.get(), c, data, size, 0, true, bytes, [](size_t, Progress) {});
  if (p != Progress::kViolation) d.end_flow(st.get(), c);
  check(out.open() == 0);
  // A record needs at least a start line: "GET / HTTP/1.1\n" or "HTTP/1.1 200\n" (12 bytes),
  // an HTTP/0.9 request 6 ("GET x\n").
  check(out.records() <= bytes / 6 + 1);
  if (p == Progress::kViolation) check(out.records() == 0);
  return 0;
}
