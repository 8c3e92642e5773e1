// libFuzzer target for IP fragment reassembly (sensor/decode/ip_reasm.h) the way the worker
// drives it: the input is a run of fragments, each made into a real IPv4 or IPv6 frame and
// taken through decode_packet(), fragment_of(), IpReassembler::add() and, for a completed
// datagram, decode_reassembled(). The reassembler is small (16 slots, 32 chunks) so that
// eviction and the byte pool's limits are reached. Beyond "no crash": every byte is given
// back, a datagram is never longer than the cap or the output, the gauges stay in bounds.
//
// Record: flags(1: bit0 more, bit1 IPv6, bit2 time step 31 s) id(1) offset(2, 8-byte units)
// len(2, capped at 1400) then len data bytes (fewer at the end of the input: a cut fragment).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "sensor/decode/decode.h"
#include "sensor/decode/ip_reasm.h"

namespace {

using namespace flowscribe;
using namespace flowscribe::decode;

void check(bool ok) {
  if (!ok) std::abort();
}

void put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}

std::vector<uint8_t> frame(bool v6, bool more, uint8_t id, uint16_t units, const uint8_t* d,
                           uint32_t n) {
  std::vector<uint8_t> b = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};
  put16(b, v6 ? 0x86DD : 0x0800);
  if (!v6) {
    b.insert(b.end(), {0x45, 0});
    put16(b, static_cast<uint16_t>(20 + n));
    put16(b, id);
    put16(b, static_cast<uint16_t>((more ? 0x2000 : 0) | (units & 0x1FFF)));
    b.insert(b.end(), {64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2});
  } else {
    b.insert(b.end(), {0x60, 0, 0, 0});
    put16(b, static_cast<uint16_t>(8 + n));
    b.insert(b.end(), {44, 64});
    for (int i = 0; i < 2; ++i) {
      b.insert(b.end(), {0xfd, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
      b.push_back(static_cast<uint8_t>(i + 1));
    }
    b.insert(b.end(), {17, 0});
    put16(b, static_cast<uint16_t>((units << 3) | (more ? 1 : 0)));
    b.insert(b.end(), {0, 0, 0, id});
  }
  b.insert(b.end(), d, d + n);
  return b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr uint32_t kChunks = 32;
  constexpr uint32_t kOut = 70000;
  static IpReassembler* reasm = nullptr;
  static uint8_t* out = nullptr;
  if (reasm == nullptr) {
    reasm = new IpReassembler(ReasmConfig{.slots = 16, .chunks = kChunks, .max_fragments = 64});
    out = new uint8_t[kOut];
  }
  reasm->expire_all();  // each input starts from an empty table
  check(reasm->free_chunks() == kChunks && reasm->active() == 0);
  DecodeCounters dc;
  Nanos now = 1'700'000'000ull * kNsPerSec;
  size_t i = 0;
  while (i + 6 <= size) {
    const uint8_t flags = data[i];
    const uint8_t id = data[i + 1];
    const uint16_t units = static_cast<uint16_t>(data[i + 2] << 8 | data[i + 3]);
    uint32_t n = static_cast<uint32_t>(data[i + 4] << 8 | data[i + 5]) % 1401;
    i += 6;
    if (n > size - i) n = static_cast<uint32_t>(size - i);
    const std::vector<uint8_t> f = frame(flags & 2, flags & 1, id, units, data + i, n);
    i += n;
    if (flags & 4) now += 31 * kNsPerSec;
    // An exactly-sized copy so ASan sees an over-read of the frame.
    std::vector<uint8_t> exact(f);
    PacketMeta pm;
    if (decode_packet(LinkType::kEthernet, exact.data(), static_cast<uint32_t>(exact.size()), pm,
                      dc) != DecodeStatus::kOk ||
        pm.frag == Frag::kNone) {
      continue;
    }
    FragKey key;
    Fragment fr;
    fragment_of(pm, exact.data() + exact.size(), key, fr);
    check(fr.len <= fr.wire_len);
    check(fr.data >= exact.data() && fr.data + fr.len <= exact.data() + exact.size());
    const ReasmResult r = reasm->add(key, fr, pm.frag == Frag::kFirst && pm.has_ports, pm.ip_len,
                                     now, out, kOut);
    check(reasm->active() <= 16);
    check(reasm->free_chunks() <= kChunks);
    if (r.status == ReasmStatus::kComplete) {
      check(r.len <= 65535);
      PacketMeta dm;
      if (decode_reassembled(pm, r.proto, out, r.len, dm, dc) == DecodeStatus::kOk &&
          dm.payload != nullptr) {
        check(dm.payload >= out && dm.payload + dm.payload_len <= out + r.len);
      }
    }
  }
  reasm->expire_all();
  check(reasm->free_chunks() == kChunks && reasm->active() == 0);
  return 0;
}
