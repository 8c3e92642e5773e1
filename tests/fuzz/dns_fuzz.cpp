// libFuzzer target for the DNS dissector (dissectors/dns). Input layout:
//   byte 0     bit 0: UDP (else TCP); bits 1-2: 0 dns, 1 mdns, 2 llmnr; bit 3: the server
//              address is a multicast group (224.0.0.251)
//   then events, each a 2-byte header + payload: bit 15 = from the server, bit 14 = a TCP gap
//   of `length` bytes (no payload), bits 0-13 = length. A length past the end of the input
//   takes what is left; for UDP the declared length is then the wire length (a cut datagram).
// Each payload is fed from an exactly-sized heap copy, so ASan sees any over-read. The flow
// is driven as sensor/app_layer.cpp drives it: after kIdle the state is ended and begun
// afresh, after kDone or kViolation nothing more is fed. Beyond "no crash" it checks that
// every record begun is committed, that every extension field is a known dns field (or
// app) whose length fits its kind, and that the records fit their extension area.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "common/app_proto.h"
#include "dissectors/dns/dns.h"
#include "emit/record.h"
#include "emit/schema.h"

namespace {

using namespace flowscribe;

void check(bool ok) {
  if (!ok) std::abort();
}

class Out final : public dissect::RecordOut {
 public:
  emit::Record* begin(const flow::Flow&, emit::RecordType type, Nanos ts) noexcept override {
    check(open_ == nullptr);
    open_ = new emit::Record;
    std::memset(static_cast<void*>(open_), 0, sizeof(emit::Record));
    open_->type = type;
    open_->ts_ns = ts;
    return open_;
  }
  void commit(const flow::Flow&, emit::Record* r) noexcept override {
    check(r == open_ && r->type == emit::RecordType::kDns && r->ext_len <= sizeof r->ext);
    for (size_t off = 0; off < r->ext_len;) {
      check(r->ext_len - off >= sizeof(emit::ExtHeader));
      emit::ExtHeader h;
      std::memcpy(&h, r->ext + off, sizeof h);
      off += sizeof h;
      check(h.len <= r->ext_len - off);
      const emit::FieldInfo* fi = emit::find_field(h.field);
      check(fi != nullptr && fi->element == "dns");
      switch (fi->kind) {
        case emit::FieldKind::kUint: check(h.len == 1 || h.len == 2 || h.len == 4 || h.len == 8); break;
        case emit::FieldKind::kBool: check(h.len == 1); break;
        case emit::FieldKind::kIp: check(h.len == 4 || h.len == 16); break;
        case emit::FieldKind::kString: break;
      }
      off += h.len;
    }
    delete open_;
    open_ = nullptr;
    ++records;
  }
  size_t records = 0;
  emit::Record* open_ = nullptr;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static std::unique_ptr<dissect::Dissector> d = dissect::make_dns_dissector();
  const bool udp = data[0] & 1;
  const unsigned kind = (data[0] >> 1) & 3;
  const bool multicast = data[0] & 8;

  flow::Flow f;
  std::memset(static_cast<void*>(&f), 0, sizeof f);
  f.key.proto = udp ? 17 : 6;
  f.key.ip_version = 4;
  f.key.addr[0][0] = 10;
  f.key.addr[0][3] = 1;
  f.key.addr[1][0] = multicast ? 224 : 10;
  f.key.addr[1][3] = multicast ? 251 : 2;
  f.app_proto = static_cast<uint16_t>(kind == 1 ? AppProto::kMdns : kind == 2 ? AppProto::kLlmnr : AppProto::kDns);
  Out out;
  std::unique_ptr<uint8_t[]> slot(new uint8_t[d->state_bytes()]);
  Nanos now = 1'700'000'000'000'000'000ULL;
  dissect::Ctx c{f, now, out, nullptr};
  d->begin_flow(slot.get(), c, f.key.proto);
  bool live = true;

  size_t off = 1;
  for (int events = 0; off + 2 <= size && events < 64 && live; ++events) {
    const uint16_t hdr = static_cast<uint16_t>(data[off] << 8 | data[off + 1]);
    off += 2;
    const bool from_server = hdr & 0x8000;
    const size_t want = hdr & 0x3fff;
    now += 3'000'000'000ULL;  // 3 s an event: the per-query timeout is reached now and then
    c.now = now;
    dissect::Progress pr;
    if ((hdr & 0x4000) && !udp) {
      pr = d->gap(slot.get(), c, !from_server, static_cast<uint32_t>(want));
    } else {
      const size_t n = want < size - off ? want : size - off;
      std::unique_ptr<uint8_t[]> buf(new uint8_t[n ? n : 1]);
      if (n) std::memcpy(buf.get(), data + off, n);
      const uint32_t wire = udp && want > n ? static_cast<uint32_t>(want) : static_cast<uint32_t>(n);
      pr = d->data(slot.get(), c, !from_server, buf.get(), static_cast<uint32_t>(n), wire);
      off += n;
    }
    check(out.open_ == nullptr);
    switch (pr) {
      case dissect::Progress::kMore:
        break;
      case dissect::Progress::kIdle:
        check(udp);
        d->end_flow(slot.get(), c);
        d->begin_flow(slot.get(), c, f.key.proto);
        break;
      case dissect::Progress::kDone:
        d->end_flow(slot.get(), c);
        live = false;
        break;
      case dissect::Progress::kViolation:
        live = false;
        break;
    }
  }
  if (live) d->end_flow(slot.get(), c);
  check(out.open_ == nullptr);
  return 0;
}
