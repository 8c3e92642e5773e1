// libFuzzer target for the TLS-upgrade watcher (dissectors/tlsup). Input layout: one byte
// naming the protocol (its value mod 5: 0 MySQL, 1 PostgreSQL, 2 LDAP, 3 RDP, 4 ADB), then a list of
// events, each a 2-byte big-endian header then its payload:
//   bit 15 = from the server, bit 14 = a gap (no payload; bits 0-13 are its length, 0 =
//   unknown), else bits 0-13 = payload length (a length past the end takes what is left).
// Each payload is fed from an exactly-sized heap copy, so ASan sees any over-read. Beyond
// "no crash" it checks the watcher's promises: nothing is fed after kDone/kViolation (as in
// sensor/app_layer.cpp), its only records are x509 (RDP standard security; valid fields, at
// most 10, none for other protocols), a hand-over names TLS, comes only with kDone and leaves
// at most the bytes of the call it was made in.
#include "dissectors/tlsup/tlsup.h"
#include "tests/fuzz/dissect_fuzz.h"

using flowscribe::AppProto;
using flowscribe::dissect::Ctx;
using namespace flowscribe::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto dissector = flowscribe::dissect::make_tlsup_dissector();
  if (size < 1) return 0;
  static constexpr AppProto kProtos[5] = {AppProto::kMysql, AppProto::kPostgresql, AppProto::kLdap,
                                          AppProto::kRdp, AppProto::kAdb};
  auto& d = *dissector;
  Slot st(d);
  flowscribe::flow::Flow flow = make_flow(6, static_cast<uint16_t>(kProtos[data[0] % 5]));
  CheckedOut out({{flowscribe::emit::RecordType::kX509, "x509"}}, 1u << 4 | 1u << 8);
  Ctx c{flow, 1, out, nullptr};
  d.begin_flow(st.get(), c, 6);
  feed_until_tls_handover(d, st.get(), c, data, size, 1);
  check(out.open() == 0);
  check(out.records() <= 10);
  if (data[0] % 5 != 3) check(out.records() == 0);  // only RDP writes records
  return 0;
}
