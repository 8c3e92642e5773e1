// libFuzzer target for the SOCKS dissector (dissectors/socks). Input layout: a list of events,
// each a 2-byte big-endian header then its payload:
//   bit 15 = from the server, bit 14 = a gap (no payload; bits 0-13 are its length, 0 =
//   unknown), else bits 0-13 = payload length (a length past the end takes what is left).
// Each payload is fed from an exactly-sized heap copy, so ASan sees any over-read. Beyond
// "no crash" it checks the dissector's promises: nothing is fed after kDone/kViolation (as in
// sensor/app_layer.cpp), every begun record is committed once, every record's extension area
// parses with known socks field ids and kinds' lengths, at most one record per flow, a
// hand-over only to TLS or HTTP with `used` inside the call and readable replayed bytes (the
// server's only for TLS).
#include "dissectors/socks/socks.h"
#include "tests/fuzz/dissect_fuzz.h"

using flowscribe::dissect::Progress;
using flowscribe::emit::RecordType;
using namespace flowscribe::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto dissector = flowscribe::dissect::make_socks_dissector();
  auto& d = *dissector;
  Slot st(d);
  flowscribe::flow::Flow flow = make_flow(6);
  CheckedOut out({{RecordType::kSocks, "socks"}}, 1u << 1 | 1u << 2);
  flowscribe::dissect::Ctx c{flow, 1, out, nullptr};
  d.begin_flow(st.get(), c, 6);
  size_t bytes = 0;
  const Progress p = feed_events(d, st.get(), c, data, size, 0, true, bytes, [&](size_t n, Progress r) {
    if (r == Progress::kDone && c.next_proto != 0) {
      // A hand-over: to TLS or HTTP only, `used` within this call, replayed bytes readable
      // (ASan checks the read) and from the client, or from the server for TLS (a server that
      // speaks TLS first: the capture lost the client's hello).
      check(c.next_proto == static_cast<uint16_t>(flowscribe::AppProto::kTls) ||
            c.next_proto == static_cast<uint16_t>(flowscribe::AppProto::kHttp));
      check(c.used <= n);
      check(c.replay_len == 0 ||
            (c.replay != nullptr &&
             (c.replay_from_client || c.next_proto == static_cast<uint16_t>(flowscribe::AppProto::kTls))));
      volatile uint8_t sum = 0;
      for (uint32_t i = 0; i < c.replay_len; ++i) sum = static_cast<uint8_t>(sum + c.replay[i]);
      (void)sum;
    }
    c.next_proto = 0;
    c.used = flowscribe::dissect::Ctx::kAllUsed;
    c.replay = nullptr;
    c.replay_len = 0;
  });
  if (p != Progress::kViolation) d.end_flow(st.get(), c);
  check(out.open() == 0);
  // One record per flow at most (a request and its reply, or a negotiation that ended early).
  check(out.records() <= 1);
  if (p == Progress::kViolation) check(out.records() == 0);
  return 0;
}
