// libFuzzer target for the IKE dissector (dissectors/ike). Input layout: one byte (bit 0 set:
// the flow is on UDP 4500, non-ESP marker and ESP; else UDP 500), then a list of events, each
// a 2-byte big-endian header then one datagram: bit 15 = from the server, bit 14 = a gap
// (skipped: UDP), else bits 0-13 = datagram length (a length past the end takes what is left).
// Each datagram is fed from an exactly-sized heap copy, so ASan sees any over-read. Beyond
// "no crash" it checks the dissector's promises: nothing is fed after kDone, every begun
// record is committed once, its only records are x509 with valid fields, at most 10 per
// datagram.
#include "dissectors/ike/ike.h"
#include "tests/fuzz/dissect_fuzz.h"

using flowscribe::dissect::Progress;
using flowscribe::emit::RecordType;
using namespace flowscribe::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto dissector = flowscribe::dissect::make_ike_dissector();
  auto& d = *dissector;
  Slot st(d);
  if (size == 0) return 0;
  flowscribe::flow::Flow flow = make_flow(17, static_cast<uint16_t>(flowscribe::AppProto::kIke));
  flow.key.port[0] = flow.key.port[1] = (data[0] & 1) ? 4500 : 500;
  CheckedOut out({{RecordType::kX509, "x509"}}, 1u << 4 | 1u << 8);
  flowscribe::dissect::Ctx c{flow, 1, out, nullptr};
  d.begin_flow(st.get(), c, 17);
  size_t bytes = 0, datagrams = 0;
  const Progress p = feed_events(d, st.get(), c, data, size, 1, false, bytes, [&](size_t, Progress r) {
    ++datagrams;
    check(r == Progress::kMore || r == Progress::kDone);
    check(out.records() <= 10 * datagrams);
  });
  if (p != Progress::kViolation) d.end_flow(st.get(), c);
  check(out.open() == 0);
  return 0;
}
