// libFuzzer target for the TLS-upgrade watcher (dissectors/tlsup). Input layout: one byte
// naming the protocol (low 2 bits: 0 MySQL, 1 PostgreSQL, 2 LDAP, 3 RDP), then a list of
// events, each a 2-byte big-endian header then its payload:
//   bit 15 = from the server, bit 14 = a gap (no payload; bits 0-13 are its length, 0 =
//   unknown), else bits 0-13 = payload length (a length past the end takes what is left).
// Each payload is fed from an exactly-sized heap copy, so ASan sees any over-read. Beyond
// "no crash" it checks the watcher's promises: nothing is fed after kDone/kViolation (as in
// sensor/app_layer.cpp), it writes no records, a hand-over names TLS, comes only with kDone
// and leaves at most the bytes of the call it was made in.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "dissectors/tlsup/tlsup.h"
#include "emit/record.h"

namespace {

using flowscribe::AppProto;
using flowscribe::dissect::Ctx;
using flowscribe::dissect::Progress;
namespace emit = flowscribe::emit;

void check(bool ok) {
  if (!ok) std::abort();
}

class Out final : public flowscribe::dissect::RecordOut {
 public:
  emit::Record* begin(const flowscribe::flow::Flow&, emit::RecordType, flowscribe::Nanos) noexcept override {
    std::abort();  // the watcher writes no records of its own
  }
  void commit(const flowscribe::flow::Flow&, emit::Record*) noexcept override { std::abort(); }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto dissector = flowscribe::dissect::make_tlsup_dissector();
  if (size < 1) return 0;
  static constexpr AppProto kProtos[4] = {AppProto::kMysql, AppProto::kPostgresql, AppProto::kLdap,
                                          AppProto::kRdp};
  auto& d = *dissector;
  std::unique_ptr<uint8_t[]> mem(new uint8_t[d.state_bytes() + 64]);
  void* st = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(mem.get()) + 63) & ~uintptr_t{63});
  flowscribe::flow::Flow flow;
  std::memset(static_cast<void*>(&flow), 0, sizeof flow);
  flow.key.proto = 6;
  flow.app_proto = static_cast<uint16_t>(kProtos[data[0] & 3]);
  Out out;
  Ctx c0{flow, 1, out, nullptr};
  d.begin_flow(st, c0, 6);

  size_t off = 1;
  Progress p = Progress::kMore;
  while (off + 2 <= size && p == Progress::kMore) {
    const uint16_t hdr = static_cast<uint16_t>(data[off] << 8 | data[off + 1]);
    off += 2;
    const bool from_client = (hdr & 0x8000) == 0;
    Ctx c{flow, 1 + off, out, nullptr};
    if (hdr & 0x4000) {
      p = d.gap(st, c, from_client, hdr & 0x3fff);
      check(c.next_proto == 0);
      continue;
    }
    const size_t want = hdr & 0x3fff;
    const size_t n = want < size - off ? want : size - off;
    std::unique_ptr<uint8_t[]> buf(new uint8_t[n + 1]);
    if (n) std::memcpy(buf.get(), data + off, n);
    off += n;
    p = d.data(st, c, from_client, buf.get(), static_cast<uint32_t>(n), static_cast<uint32_t>(n));
    if (c.next_proto != 0) {
      check(p == Progress::kDone);
      check(c.next_proto == static_cast<uint16_t>(AppProto::kTls));
      check(c.used == Ctx::kAllUsed || c.used <= n);
    }
  }
  if (p != Progress::kViolation) d.end_flow(st, c0);
  return 0;
}
