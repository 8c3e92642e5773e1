// libFuzzer target for the OPC UA dissector (dissectors/opcua). Input layout: one byte
// (ignored, kept for the layout the other TCP targets share), then a list of events, each a
// 2-byte big-endian header then its payload: bit 15 = from the server, bit 14 = a gap (no
// payload; bits 0-13 are its length), else bits 0-13 = payload length (a length past the end
// takes what is left). Each payload is fed from an exactly-sized heap copy, so ASan sees any
// over-read. Beyond "no crash" it checks the dissector's promises: nothing is fed after
// kDone/kViolation, every begun record is committed once, its only records are x509 with
// valid fields, at most 8 per OPN message (and at most 16 messages are read: 2 OPNs counted
// generously, 8 x 16).
#include "dissectors/opcua/opcua.h"
#include "tests/fuzz/dissect_fuzz.h"

using flowscribe::dissect::Progress;
using flowscribe::emit::RecordType;
using namespace flowscribe::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto dissector = flowscribe::dissect::make_opcua_dissector();
  auto& d = *dissector;
  Slot st(d);
  if (size == 0) return 0;
  flowscribe::flow::Flow flow = make_flow(6, static_cast<uint16_t>(flowscribe::AppProto::kOpcua));
  CheckedOut out({{RecordType::kX509, "x509"}}, 1u << 4 | 1u << 8);
  flowscribe::dissect::Ctx c{flow, 1, out, nullptr};
  d.begin_flow(st.get(), c, 6);
  size_t bytes = 0;
  const Progress p = feed_events(d, st.get(), c, data, size, 1, true, bytes, [&](size_t, Progress r) {
    check(r == Progress::kMore || r == Progress::kDone || r == Progress::kViolation);
  });
  if (p != Progress::kViolation) d.end_flow(st.get(), c);
  check(out.open() == 0);
  check(out.records() <= 8 * 16);
  return 0;
}
