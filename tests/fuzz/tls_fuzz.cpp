// libFuzzer target for the TLS dissector (dissectors/tls). Input layout: one mode byte (bit 0
// set: a UDP flow, DTLS datagrams; bit 1 set with it: the classifier named it stun; bit 2 set
// with it: quic, Initial packets), then a
// list of events, each a 2-byte big-endian header then its payload (UDP: one datagram):
//   bit 15 = from the server, bit 14 = a gap (no payload; bits 0-13 are its length, 0 =
//   unknown; UDP: skipped), else bits 0-13 = payload length (a length past the end takes what
//   is left).
// Each payload is fed from an exactly-sized heap copy, so ASan sees any over-read. Beyond
// "no crash" it checks the dissector's promises: nothing is fed after kDone/kViolation (as in
// sensor/app_layer.cpp), every begun record is committed once, every record's extension area
// parses with known field ids of its own element and kinds' lengths, at most one tls record
// and at most 10 x509 records per flow, none after a violation.
#include "dissectors/tls/tls.h"
#include "tests/fuzz/dissect_fuzz.h"

using flowscribe::dissect::Progress;
using flowscribe::emit::RecordType;
using namespace flowscribe::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto dissector = flowscribe::dissect::make_tls_dissector();
  auto& d = *dissector;
  Slot st(d);
  if (size == 0) return 0;
  const bool udp = data[0] & 1;
  const uint8_t transport = udp ? 17 : 6;
  using flowscribe::AppProto;
  const AppProto proto = !udp ? AppProto::kTls
                         : (data[0] & 4) ? AppProto::kQuic
                         : (data[0] & 2) ? AppProto::kStun
                                         : AppProto::kDtls;
  flowscribe::flow::Flow flow = make_flow(transport, static_cast<uint16_t>(proto));
  CheckedOut out({{RecordType::kTls, "tls"}, {RecordType::kX509, "x509"}}, 1u << 4 | 1u << 8);
  flowscribe::dissect::Ctx c{flow, 1, out, nullptr};
  d.begin_flow(st.get(), c, transport);
  size_t bytes = 0;
  const Progress p = feed_events(d, st.get(), c, data, size, 1, !udp, bytes, [](size_t, Progress) {});
  if (p != Progress::kViolation) d.end_flow(st.get(), c);
  check(out.open() == 0);
  check(out.records(RecordType::kTls) <= 1);
  check(out.records(RecordType::kX509) <= 10);
  if (p == Progress::kViolation) check(out.records() == 0);
  return 0;
}
