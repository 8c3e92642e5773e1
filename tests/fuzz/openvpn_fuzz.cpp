// libFuzzer target for the OpenVPN control-channel dissector (dissectors/openvpn). Input layout:
// one byte, bit 0 set = the flow is UDP (else TCP); then a list of events, each a 2-byte
// big-endian header then its payload:
//   bit 15 = from the server, bit 14 = a gap (TCP only; no payload; bits 0-13 are its
//   length), else bits 0-13 = payload length (a length past the end takes what is left).
// UDP payloads are datagrams (bit 13 of a UDP header: the datagram was cut, wire length + 100).
// Each payload is fed from an exactly-sized heap copy, so ASan sees any over-read. Beyond
// "no crash": nothing is fed after kDone/kViolation (as in sensor/app_layer.cpp), every begun
// record (tls or x509, written by the embedded TLS dissector) is committed once and its
// extension area parses with known tls/x509 field ids.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "dissectors/openvpn/openvpn.h"
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
    check(type == emit::RecordType::kTls || type == emit::RecordType::kX509);
    auto r = std::make_unique<emit::Record>();
    std::memset(static_cast<void*>(r.get()), 0, sizeof(emit::Record));
    r->type = type;
    open_.push_back(std::move(r));
    return open_.back().get();
  }
  void commit(const flowscribe::flow::Flow&, emit::Record* r) noexcept override {
    bool found = false;
    for (auto it = open_.begin(); it != open_.end(); ++it) {
      if (it->get() != r) continue;
      found = true;
      size_t off = 0;
      while (off < r->ext_len) {
        check(off + sizeof(emit::ExtHeader) <= r->ext_len);
        emit::ExtHeader h;
        std::memcpy(&h, r->ext + off, sizeof h);
        off += sizeof h + h.len;
        check(off <= r->ext_len);
        const emit::FieldInfo* fi = emit::find_field(h.field);
        check(fi != nullptr && (fi->element == "tls" || fi->element == "x509"));
      }
      open_.erase(it);
      ++records;
      break;
    }
    check(found);
  }
  size_t records = 0;
  std::vector<std::unique_ptr<emit::Record>> open_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto dissector = flowscribe::dissect::make_openvpn_dissector();
  if (size < 1) return 0;
  auto& d = *dissector;
  const bool udp = data[0] & 1;
  const uint8_t transport = udp ? 17 : 6;
  std::unique_ptr<uint8_t[]> mem(new uint8_t[d.state_bytes() + 64]);
  void* st = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(mem.get()) + 63) & ~uintptr_t{63});
  flowscribe::flow::Flow flow;
  std::memset(static_cast<void*>(&flow), 0, sizeof flow);
  flow.key.proto = transport;
  flow.app_proto = static_cast<uint16_t>(flowscribe::AppProto::kOpenvpn);
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
    if (!udp && (hdr & 0x4000)) {
      p = d.gap(st, c, from_client, hdr & 0x3fff);
      continue;
    }
    const size_t want = udp ? (hdr & 0x1fff) : (hdr & 0x3fff);
    const size_t n = want < size - off ? want : size - off;
    std::unique_ptr<uint8_t[]> buf(new uint8_t[n ? n : 1]);
    if (n) std::memcpy(buf.get(), data + off, n);
    off += n;
    const uint32_t wire = static_cast<uint32_t>(n) + (udp && (hdr & 0x2000) ? 100u : 0u);
    p = d.data(st, c, from_client, buf.get(), static_cast<uint32_t>(n), wire);
    check(c.next_proto == 0);  // no hand-overs
  }
  if (p != Progress::kViolation) d.end_flow(st, c);
  check(out.open_.empty());
  if (p == Progress::kViolation) check(out.records == 0);
  return 0;
}
