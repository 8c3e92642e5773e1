// libFuzzer target for the HTTP/2 dissector (dissectors/http2) and its HPACK decoder. Input:
// one mode byte (bit 0: the flow was handed over after an h2c upgrade, so stream 1 is open;
// bit 1: the rest also goes whole to hpack::decode_block), then the event list of
// tests/fuzz/dissect_fuzz.h on a TCP flow. Beyond "no crash" it checks: every begun record is
// committed once with known http fields of the right sizes, and the record count is bounded
// (a record needs a 9-byte frame, or is the upgraded stream 1).
#include "dissectors/http2/hpack.h"
#include "dissectors/http2/http2.h"
#include "tests/fuzz/dissect_fuzz.h"

using flowscribe::dissect::Progress;
using flowscribe::emit::RecordType;
using namespace flowscribe::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto dissector = flowscribe::dissect::make_http2_dissector();
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  if (mode & 2) {
    static flowscribe::dissect::hpack::DynTable table;
    table.reset(mode & 4 ? 256 : 4096);
    size_t headers = 0;
    (void)flowscribe::dissect::hpack::decode_block(
        table, 4096, data + 1, size - 1, [&](const flowscribe::dissect::hpack::Header& h) {
          check(h.name.size() <= flowscribe::dissect::hpack::kStrCap);
          check(h.value.size() <= flowscribe::dissect::hpack::kStrCap);
          ++headers;
        });
    check(headers <= size);
    check(table.size() <= table.max_size());
  }
  auto& d = *dissector;
  Slot st(d);
  const uint16_t app = (mode & 1) ? static_cast<uint16_t>(flowscribe::AppProto::kHttp)
                                  : static_cast<uint16_t>(flowscribe::AppProto::kHttp2);
  flowscribe::flow::Flow flow = make_flow(6, app);
  CheckedOut out({{RecordType::kHttp, "http"}}, 1u << 2 | 1u << 4 | 1u << 8);
  flowscribe::dissect::Ctx c{flow, 1, out, nullptr};
  d.begin_flow(st.get(), c, 6);
  size_t bytes = 0;
  const Progress p = feed_events(d, st.get(), c, data, size, 1, true, bytes, [](size_t, Progress) {});
  if (p != Progress::kViolation) d.end_flow(st.get(), c);
  check(out.open() == 0);
  check(out.records() <= bytes / 9 + 1);
  if (p == Progress::kViolation) check(out.records() == 0);
  return 0;
}
