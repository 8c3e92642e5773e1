// libFuzzer target for the TLS dissector (dissectors/tls). Input layout: one mode byte (bit 0
// set: a UDP flow, DTLS datagrams; bit 1 set with it: the classifier named it stun), then a
// list of events, each a 2-byte big-endian header then its payload (UDP: one datagram):
//   bit 15 = from the server, bit 14 = a gap (no payload; bits 0-13 are its length, 0 =
//   unknown; UDP: skipped), else bits 0-13 = payload length (a length past the end takes what
//   is left).
// Each payload is fed from an exactly-sized heap copy, so ASan sees any over-read. Beyond
// "no crash" it checks the dissector's promises: nothing is fed after kDone/kViolation (as in
// sensor/app_layer.cpp), every begun record is committed once, every record's extension area
// parses with known field ids of its own element and kinds' lengths, at most one tls record
// and at most 10 x509 records per flow, none after a violation.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "dissectors/tls/tls.h"
#include "emit/record.h"
#include "emit/schema.h"

namespace {

using flowscribe::dissect::Progress;
namespace emit = flowscribe::emit;

void check(bool ok) {
  if (!ok) std::abort();
}

class Out final : public flowscribe::dissect::RecordOut {
 public:
  emit::Record* begin(const flowscribe::flow::Flow&, emit::RecordType type, flowscribe::Nanos) noexcept override {
    check(open_ == 0);
    check(type == emit::RecordType::kTls || type == emit::RecordType::kX509);
    std::memset(static_cast<void*>(&rec_), 0, sizeof rec_);
    rec_.type = type;
    ++open_;
    return &rec_;
  }
  void commit(const flowscribe::flow::Flow&, emit::Record* r) noexcept override {
    check(r == &rec_ && open_ == 1);
    --open_;
    if (r->type == emit::RecordType::kTls) ++tls;
    else ++x509;
    const char* element = r->type == emit::RecordType::kTls ? "tls" : "x509";
    size_t off = 0;
    while (off < r->ext_len) {
      check(off + sizeof(emit::ExtHeader) <= r->ext_len);
      emit::ExtHeader h;
      std::memcpy(&h, r->ext + off, sizeof h);
      off += sizeof h + h.len;
      check(off <= r->ext_len);
      const emit::FieldInfo* fi = emit::find_field(h.field);
      check(fi != nullptr && fi->element == element);
      if (fi->kind == emit::FieldKind::kUint) check(h.len == 4 || h.len == 8);
      if (fi->kind == emit::FieldKind::kBool) check(h.len == 1);
    }
  }
  size_t tls = 0, x509 = 0;
  int open_ = 0;

 private:
  emit::Record rec_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto dissector = flowscribe::dissect::make_tls_dissector();
  auto& d = *dissector;
  std::unique_ptr<uint8_t[]> mem(new uint8_t[d.state_bytes() + 64]);
  void* st = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(mem.get()) + 63) & ~uintptr_t{63});
  if (size == 0) return 0;
  const bool udp = data[0] & 1;
  const uint8_t transport = udp ? 17 : 6;
  flowscribe::flow::Flow flow;
  std::memset(static_cast<void*>(&flow), 0, sizeof flow);
  flow.key.proto = transport;
  flow.app_proto = udp ? ((data[0] & 2) ? 42 : 4) : 2;  // stun, dtls, tls
  Out out;
  flowscribe::dissect::Ctx c{flow, 1, out, nullptr};
  d.begin_flow(st, c, transport);

  size_t off = 1;
  Progress p = Progress::kMore;
  while (off + 2 <= size && p == Progress::kMore) {
    const uint16_t hdr = static_cast<uint16_t>(data[off] << 8 | data[off + 1]);
    off += 2;
    const bool from_client = (hdr & 0x8000) == 0;
    ++c.now;
    if (hdr & 0x4000) {
      if (!udp) p = d.gap(st, c, from_client, hdr & 0x3fff);
      continue;
    }
    const size_t want = hdr & 0x3fff;
    const size_t n = want < size - off ? want : size - off;
    std::unique_ptr<uint8_t[]> buf(new uint8_t[n + 1]);
    if (n) std::memcpy(buf.get(), data + off, n);
    off += n;
    p = d.data(st, c, from_client, buf.get(), static_cast<uint32_t>(n), static_cast<uint32_t>(n));
  }
  if (p != Progress::kViolation) d.end_flow(st, c);
  check(out.open_ == 0);
  check(out.tls <= 1);
  check(out.x509 <= 10);
  if (p == Progress::kViolation) check(out.tls == 0 && out.x509 == 0);
  return 0;
}
