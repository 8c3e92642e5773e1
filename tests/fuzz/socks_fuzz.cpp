// libFuzzer target for the SOCKS dissector (dissectors/socks). Input layout: a list of events,
// each a 2-byte big-endian header then its payload:
//   bit 15 = from the server, bit 14 = a gap (no payload; bits 0-13 are its length, 0 =
//   unknown), else bits 0-13 = payload length (a length past the end takes what is left).
// Each payload is fed from an exactly-sized heap copy, so ASan sees any over-read. Beyond
// "no crash" it checks the dissector's promises: nothing is fed after kDone/kViolation (as in
// sensor/app_layer.cpp), every begun record is committed once, every record's extension area
// parses with known socks field ids and kinds' lengths, at most one record per flow, a
// hand-over only to TLS or HTTP with `used` inside the call and readable replayed bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "dissectors/socks/socks.h"
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
    check(open_ == 0);  // one record at a time
    check(type == emit::RecordType::kSocks);
    std::memset(static_cast<void*>(&rec_), 0, sizeof rec_);
    rec_.type = type;
    ++open_;
    return &rec_;
  }
  void commit(const flowscribe::flow::Flow&, emit::Record* r) noexcept override {
    check(r == &rec_ && open_ == 1);
    --open_;
    ++records;
    size_t off = 0;
    while (off < r->ext_len) {
      check(off + sizeof(emit::ExtHeader) <= r->ext_len);
      emit::ExtHeader h;
      std::memcpy(&h, r->ext + off, sizeof h);
      off += sizeof h + h.len;
      check(off <= r->ext_len);
      const emit::FieldInfo* fi = emit::find_field(h.field);
      check(fi != nullptr && fi->element == "socks");
      if (fi->kind == emit::FieldKind::kUint) check(h.len == 1 || h.len == 2);
      if (fi->kind == emit::FieldKind::kIp) check(h.len == 4 || h.len == 16);
      if (fi->kind == emit::FieldKind::kBool) check(h.len == 1);
    }
  }
  size_t records = 0;
  int open_ = 0;

 private:
  emit::Record rec_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto dissector = flowscribe::dissect::make_socks_dissector();
  auto& d = *dissector;
  std::unique_ptr<uint8_t[]> mem(new uint8_t[d.state_bytes() + 64]);
  void* st = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(mem.get()) + 63) & ~uintptr_t{63});
  flowscribe::flow::Flow flow;
  std::memset(static_cast<void*>(&flow), 0, sizeof flow);
  flow.key.proto = 6;
  Out out;
  flowscribe::dissect::Ctx c{flow, 1, out, nullptr};
  d.begin_flow(st, c, 6);

  size_t off = 0;

  Progress p = Progress::kMore;
  while (off + 2 <= size && p == Progress::kMore) {
    const uint16_t hdr = static_cast<uint16_t>(data[off] << 8 | data[off + 1]);
    off += 2;
    const bool from_client = (hdr & 0x8000) == 0;
    ++c.now;
    if (hdr & 0x4000) {
      p = d.gap(st, c, from_client, hdr & 0x3fff);
      continue;
    }
    const size_t want = hdr & 0x3fff;
    const size_t n = want < size - off ? want : size - off;
    std::unique_ptr<uint8_t[]> buf(new uint8_t[n + 1]);
    if (n) std::memcpy(buf.get(), data + off, n);
    off += n;

    p = d.data(st, c, from_client, buf.get(), static_cast<uint32_t>(n), static_cast<uint32_t>(n));
    if (p == Progress::kDone && c.next_proto != 0) {
      // A hand-over: to TLS or HTTP only, `used` within this call, replayed bytes from the
      // client and readable (ASan checks the read).
      check(c.next_proto == static_cast<uint16_t>(flowscribe::AppProto::kTls) ||
            c.next_proto == static_cast<uint16_t>(flowscribe::AppProto::kHttp));
      check(c.used <= n);
      check(c.replay_len == 0 || (c.replay != nullptr && c.replay_from_client));
      volatile uint8_t sum = 0;
      for (uint32_t i = 0; i < c.replay_len; ++i) sum = static_cast<uint8_t>(sum + c.replay[i]);
      (void)sum;
    }
    c.next_proto = 0;
    c.used = flowscribe::dissect::Ctx::kAllUsed;
    c.replay = nullptr;
    c.replay_len = 0;
  }
  if (p != Progress::kViolation) d.end_flow(st, c);
  check(out.open_ == 0);
  // One record per flow at most (a request and its reply, or a negotiation that ended early).
  check(out.records <= 1);
  if (p == Progress::kViolation) check(out.records == 0);
  return 0;
}
