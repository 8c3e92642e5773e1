#pragma once
// What the dissector fuzz targets share (http, tls, socks, tlsup, starttls, ...): the input
// format, a record sink that checks every record, and the dissector's state slot.
//
// Input: a list of events, each a 2-byte big-endian header then its payload:
//   bit 15 = from the server, bit 14 = a gap (no payload; bits 0-13 are its length, 0 =
//   unknown), else bits 0-13 = payload length (a length past the end takes what is left).
// Each payload is fed from an exactly-sized heap copy, so ASan sees any over-read. Nothing is
// fed after kDone/kViolation, as in sensor/app_layer.cpp.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string_view>

#include "dissectors/dissector.h"
#include "emit/record.h"
#include "emit/schema.h"

namespace flowscribe::fuzz {

inline void check(bool ok) {
  if (!ok) std::abort();
}

// Takes the records a dissector writes, one at a time, and checks each: a type the dissector
// may write, begun and committed once, an extension area that parses, every field id known
// and of the record's element, integer and boolean fields of their sizes.
class CheckedOut final : public dissect::RecordOut {
 public:
  struct Kind {
    emit::RecordType type;
    std::string_view element;
  };
  // `uint_sizes`: the byte sizes integer fields may have (bit n: n bytes).
  CheckedOut(std::initializer_list<Kind> kinds, uint32_t uint_sizes)
      : uint_sizes_(uint_sizes) {
    for (const Kind& k : kinds) {
      check(nkinds_ < 4);
      kinds_[nkinds_++] = k;
    }
  }
  emit::Record* begin(const flow::Flow&, emit::RecordType type, Nanos) noexcept override {
    check(open_ == 0);  // one record at a time
    check(element_of(type) != nullptr);
    std::memset(static_cast<void*>(&rec_), 0, sizeof rec_);
    rec_.type = type;
    ++open_;
    return &rec_;
  }
  void commit(const flow::Flow&, emit::Record* r) noexcept override {
    check(r == &rec_ && open_ == 1);
    --open_;
    ++count_[static_cast<size_t>(r->type) % 8];
    const std::string_view* element = element_of(r->type);
    size_t off = 0;
    while (off < r->ext_len) {
      check(off + sizeof(emit::ExtHeader) <= r->ext_len);
      emit::ExtHeader h;
      std::memcpy(&h, r->ext + off, sizeof h);
      off += sizeof h + h.len;
      check(off <= r->ext_len);
      const emit::FieldInfo* fi = emit::find_field(h.field);
      check(fi != nullptr && fi->element == *element);
      if (fi->kind == emit::FieldKind::kUint) check(h.len < 32 && (uint_sizes_ >> h.len & 1));
      if (fi->kind == emit::FieldKind::kBool) check(h.len == 1);
      if (fi->kind == emit::FieldKind::kIp) check(h.len == 4 || h.len == 16);
    }
  }
  size_t records(emit::RecordType t) const { return count_[static_cast<size_t>(t) % 8]; }
  size_t records() const {
    size_t n = 0;
    for (size_t c : count_) n += c;
    return n;
  }
  int open() const { return open_; }

 private:
  const std::string_view* element_of(emit::RecordType t) const {
    for (size_t i = 0; i < nkinds_; ++i) {
      if (kinds_[i].type == t) return &kinds_[i].element;
    }
    return nullptr;
  }
  Kind kinds_[4];
  size_t nkinds_ = 0;
  uint32_t uint_sizes_;
  size_t count_[8] = {};
  int open_ = 0;
  emit::Record rec_;
};

// A dissector's state slot, 64-byte aligned as the app layer's pools give it.
struct Slot {
  explicit Slot(const dissect::Dissector& d) : mem(new uint8_t[d.state_bytes() + 64]) {}
  void* get() const {
    return reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(mem.get()) + 63) & ~uintptr_t{63});
  }
  std::unique_ptr<uint8_t[]> mem;
};

// A zeroed flow of `transport` (6 or 17) named `app_proto`.
inline flow::Flow make_flow(uint8_t transport, uint16_t app_proto = 0) {
  flow::Flow f;
  std::memset(static_cast<void*>(&f), 0, sizeof f);
  f.key.proto = transport;
  f.app_proto = app_proto;
  return f;
}

// Feeds the events of data[off, size) to `d` until it says anything but kMore. `after(n, p)`
// runs after each data() call of n bytes (a target's own checks; Ctx fields set by the call
// are still there). Gaps go to gap() unless `gaps` is false (UDP). Returns the last Progress;
// `bytes` is the payload fed.
template <typename After>
dissect::Progress feed_events(dissect::Dissector& d, void* st, dissect::Ctx& c, const uint8_t* data,
                              size_t size, size_t off, bool gaps, size_t& bytes, After after) {
  dissect::Progress p = dissect::Progress::kMore;
  bytes = 0;
  while (off + 2 <= size && p == dissect::Progress::kMore) {
    const uint16_t hdr = static_cast<uint16_t>(data[off] << 8 | data[off + 1]);
    off += 2;
    const bool from_client = (hdr & 0x8000) == 0;
    ++c.now;
    if (hdr & 0x4000) {
      if (gaps) p = d.gap(st, c, from_client, hdr & 0x3fff);
      continue;
    }
    const size_t want = hdr & 0x3fff;
    const size_t n = want < size - off ? want : size - off;
    std::unique_ptr<uint8_t[]> buf(new uint8_t[n + 1]);
    if (n) std::memcpy(buf.get(), data + off, n);
    off += n;
    bytes += n;
    p = d.data(st, c, from_client, buf.get(), static_cast<uint32_t>(n), static_cast<uint32_t>(n));
    after(n, p);
  }
  return p;
}

// For a watcher whose only way on is handing the stream to TLS (starttls, tlsup): feeds the
// events of data[off, size) to a TCP flow, checks that a hand-over names TLS, comes only with
// kDone (never from a gap) and leaves at most the bytes of the call it was made in, and ends
// the flow unless it was a violation.
inline void feed_until_tls_handover(dissect::Dissector& d, void* st, dissect::Ctx& c,
                                    const uint8_t* data, size_t size, size_t off) {
  size_t bytes = 0;
  const dissect::Progress p =
      feed_events(d, st, c, data, size, off, true, bytes, [&](size_t n, dissect::Progress r) {
        if (c.next_proto != 0) {
          check(r == dissect::Progress::kDone);
          check(c.next_proto == static_cast<uint16_t>(AppProto::kTls));
          check(c.used == dissect::Ctx::kAllUsed || c.used <= n);
        }
      });
  if (c.next_proto != 0) check(p == dissect::Progress::kDone);
  if (p != dissect::Progress::kViolation) d.end_flow(st, c);
}

}  // namespace flowscribe::fuzz
