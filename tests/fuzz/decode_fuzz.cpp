// libFuzzer target for the L2-L4 decoder. The first byte picks the link type; the rest is the
// captured frame, passed in an exactly-sized buffer so ASan sees any over-read. Beyond "no
// crash", it checks the decoder's promises: pointers inside the frame, one outcome counter,
// and that the fast path (decode_fast) agrees with decode_packet wherever it decodes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "sensor/decode/decode.h"

namespace {

using flowscribe::decode::DecodeCounters;
using flowscribe::decode::DecodeStatus;
using flowscribe::decode::LinkType;
using flowscribe::decode::PacketMeta;

// Index = first input byte % size; the seed files in corpus/decode use the same order.
constexpr LinkType kLinks[] = {
    LinkType::kEthernet, LinkType::kLinuxSll, LinkType::kLinuxSll2, LinkType::kRaw,
    LinkType::kIpv4,     LinkType::kIpv6,     LinkType::kNull,      LinkType::kLoop,
    static_cast<LinkType>(147),  // LINKTYPE_USER0, unsupported: must be rejected cleanly
    LinkType::kNflog,    LinkType::kIeee80211, LinkType::kIeee80211Radiotap,
};

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const LinkType link = kLinks[data[0] % (sizeof kLinks / sizeof kLinks[0])];
  const size_t len = size - 1;
  std::unique_ptr<uint8_t[]> frame(new uint8_t[len]);
  if (len != 0) std::memcpy(frame.get(), data + 1, len);
  const uint8_t* lo = frame.get();
  const uint8_t* hi = lo + len;

  DecodeCounters counters;
  PacketMeta m;
  const DecodeStatus s = decode_packet(link, lo, static_cast<uint32_t>(len), m, counters);

  check(counters.decode_ok.get() == (s == DecodeStatus::kOk ? 1u : 0u));
  check(counters.decode_not_ip.get() == (s == DecodeStatus::kNotIp ? 1u : 0u));
  if (s == DecodeStatus::kOk) {
    check(m.l3 != nullptr && m.l3 >= lo && m.l3 < hi);
    check(m.ip_version == 4 || m.ip_version == 6);
    check((m.payload == nullptr) == (m.payload_len == 0));
    if (m.payload != nullptr) check(m.payload > m.l3 && m.payload + m.payload_len <= hi);
    if (m.frag == flowscribe::decode::Frag::kLater) check(!m.has_ports);
    check(m.vlan_count <= 8);
  }
  // The worker's shortcut (decode_fast) must take only frames the general decoder decodes
  // cleanly, and give the same fields (tests/unit/decode_fast_test.cpp does the same on the
  // test captures; here on whatever the fuzzer makes).
  flowscribe::decode::FastMeta fm;
  if (link == LinkType::kEthernet && flowscribe::decode::decode_fast(lo, static_cast<uint32_t>(len), fm)) {
    check(s == DecodeStatus::kOk);
    uint64_t moved = 0;
    counters.for_each([&](const flowscribe::CounterInfo&, uint64_t v) { moved += v; });
    check(moved == 1);  // decode_ok alone
    check(m.frag == flowscribe::decode::Frag::kNone && m.ip_version == fm.ip_version &&
          m.l3 == fm.l3 && !m.tunneled);
    check(m.l4_proto == fm.l4_proto && m.sport == fm.sport && m.dport == fm.dport);
    check(m.vlan_outer == fm.vlan && m.ip_len == fm.ip_len);
    if (fm.ip_version == 4) {
      check(std::memcmp(m.src.b, &fm.src, 4) == 0 && std::memcmp(m.dst.b, &fm.dst, 4) == 0);
    } else {
      check(std::memcmp(m.src.b, fm.l3 + 8, 16) == 0 && std::memcmp(m.dst.b, fm.l3 + 24, 16) == 0);
    }
    check(m.payload == fm.payload && m.payload_len == fm.payload_len &&
          m.payload_wire_len == fm.payload_wire_len);
    check(m.tcp_seq == fm.tcp_seq && m.tcp_ack == fm.tcp_ack && m.tcp_flags == fm.tcp_flags);
  }
  return 0;
}
