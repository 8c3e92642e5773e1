// IP fragment reassembly (sensor/decode/ip_reasm.h) driven the way the worker drives it:
// real frames through decode_packet(), fragment_of(), IpReassembler::add(), then
// decode_reassembled() on the datagram. Frames are built here, byte by byte, so every
// offset, length and overlap is exactly what the test says.
#include "sensor/decode/ip_reasm.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <random>
#include <vector>

#include "sensor/decode/decode.h"
#include "tests/unit/doc_table.h"

namespace flowscribe::decode {
namespace {

using Bytes = std::vector<uint8_t>;
constexpr Nanos kT0 = 1'700'000'000 * kNsPerSec;

void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void put32(Bytes& b, uint32_t v) {
  put16(b, static_cast<uint16_t>(v >> 16));
  put16(b, static_cast<uint16_t>(v));
}

Bytes pattern(uint32_t n, uint8_t seed) {
  Bytes p(n);
  for (uint32_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(i * 7 + seed + (i >> 8));
  return p;
}

Bytes udp(uint16_t sport, uint16_t dport, const Bytes& payload) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put16(b, static_cast<uint16_t>(8 + payload.size()));
  put16(b, 0);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

Bytes tcp(uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
          const Bytes& payload) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put32(b, seq);
  put32(b, ack);
  b.push_back(5 << 4);
  b.push_back(flags);
  put16(b, 65535);
  put32(b, 0);  // checksum, urgent pointer
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

Bytes eth(uint16_t type) {
  Bytes b = {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1};
  put16(b, type);
  return b;
}

struct V4 {
  uint8_t proto = kIpProtoUdp;
  uint16_t id = 0x1234;
  uint32_t src = 0x0a4d0001;  // 10.77.0.1
  uint32_t dst = 0x0a4d0002;
};

// One IPv4 packet (no link header) carrying `data` at fragment offset `off` (bytes).
Bytes ipv4(const V4& h, uint32_t off, bool more, const Bytes& data) {
  Bytes b;
  b.push_back(0x45);
  b.push_back(0);
  put16(b, static_cast<uint16_t>(20 + data.size()));
  put16(b, h.id);
  put16(b, static_cast<uint16_t>((more ? 0x2000 : 0) | (off / 8)));
  b.push_back(64);
  b.push_back(h.proto);
  put16(b, 0);
  put32(b, h.src);
  put32(b, h.dst);
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

Bytes framed(Bytes ip, uint16_t type = 0x0800) {
  Bytes f = eth(type);
  f.insert(f.end(), ip.begin(), ip.end());
  return f;
}

Bytes slice(const Bytes& d, uint32_t off, uint32_t n) {
  return Bytes(d.begin() + off, d.begin() + std::min<size_t>(d.size(), off + n));
}

// A datagram cut into frames of `size` bytes of data each (a multiple of 8).
std::vector<Bytes> fragments_v4(const V4& h, const Bytes& l4, uint32_t size) {
  std::vector<Bytes> out;
  for (uint32_t off = 0; off < l4.size(); off += size) {
    out.push_back(framed(ipv4(h, off, off + size < l4.size(), slice(l4, off, size))));
  }
  return out;
}

const uint8_t kSrc6[16] = {0xfd, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
const uint8_t kDst6[16] = {0xfd, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

std::vector<Bytes> fragments_v6(uint8_t next, uint32_t id, const Bytes& data, uint32_t size) {
  std::vector<Bytes> out;
  for (uint32_t off = 0; off < data.size(); off += size) {
    const Bytes part = slice(data, off, size);
    Bytes b = {0x60, 0, 0, 0};
    put16(b, static_cast<uint16_t>(8 + part.size()));
    b.push_back(44);  // fragment header
    b.push_back(64);
    b.insert(b.end(), kSrc6, kSrc6 + 16);
    b.insert(b.end(), kDst6, kDst6 + 16);
    b.push_back(next);
    b.push_back(0);
    put16(b, static_cast<uint16_t>(off | (off + size < data.size() ? 1 : 0)));
    put32(b, id);
    b.insert(b.end(), part.begin(), part.end());
    out.push_back(framed(b, 0x86DD));
  }
  return out;
}

// Ethernet / IPv4 / UDP 4789 / VXLAN (VNI 42) around an inner Ethernet frame.
Bytes vxlan(const Bytes& inner_frame) {
  Bytes v = {0x08, 0, 0, 0, 0, 0, 42, 0};
  v.insert(v.end(), inner_frame.begin(), inner_frame.end());
  V4 outer{.proto = kIpProtoUdp, .id = 0x7777, .src = 0xc0000201, .dst = 0xc0000202};
  return framed(ipv4(outer, 0, false, udp(40000, 4789, v)));
}

// The worker's use of the decoder and the reassembler, without DPDK.
struct Harness {
  explicit Harness(const ReasmConfig& cfg = ReasmConfig{}) : reasm(cfg), arena(70000) {}

  ReasmResult feed(const Bytes& frame, Nanos t = kT0, uint32_t captured = 0) {
    const uint32_t caplen = captured ? captured : static_cast<uint32_t>(frame.size());
    PacketMeta pm;
    REQUIRE(decode_packet(LinkType::kEthernet, frame.data(), caplen, pm, dc) == DecodeStatus::kOk);
    REQUIRE(pm.frag != Frag::kNone);
    FragKey key;
    Fragment frag;
    fragment_of(pm, frame.data() + caplen, key, frag);
    // The worker's port cache: fragments after a first fragment with ports are attributed.
    bool attributed = false;
    if (pm.frag == Frag::kFirst && pm.has_ports) {
      firsts.push_back(pm.frag_id);
      attributed = true;
    } else {
      attributed = std::find(firsts.begin(), firsts.end(), pm.frag_id) != firsts.end();
    }
    const ReasmResult r = reasm.add(key, frag, attributed, pm.ip_len, t, arena.data(), out_cap);
    if (r.status == ReasmStatus::kComplete) {
      ++completed;
      datagram.assign(arena.begin(), arena.begin() + r.len);
      status = decode_reassembled(pm, r.proto, arena.data(), r.len, dm, dc);
    }
    return r;
  }
  ReasmStatus feed_all(const std::vector<Bytes>& frames) {
    ReasmStatus last = ReasmStatus::kRefused;
    for (const Bytes& f : frames) last = feed(f).status;
    return last;
  }
  const ReasmCounters& n() const { return reasm.counters(); }

  DecodeCounters dc;
  IpReassembler reasm;
  Bytes arena;
  uint32_t out_cap = 70000;
  uint32_t completed = 0;
  std::vector<uint32_t> firsts;
  Bytes datagram;
  PacketMeta dm;
  DecodeStatus status = DecodeStatus::kMalformed;
};

Bytes payload_of(const PacketMeta& m) { return Bytes(m.payload, m.payload + m.payload_len); }

TEST_CASE("IPv4 UDP datagram in order: delivered once, whole", "[reasm]") {
  const Bytes dns = pattern(3000, 1);
  const auto frames = fragments_v4({}, udp(53, 40000, dns), 1480);
  REQUIRE(frames.size() == 3);
  Harness h;
  CHECK(h.feed(frames[0]).status == ReasmStatus::kHeld);
  CHECK(h.feed(frames[1]).status == ReasmStatus::kHeld);
  const ReasmResult r = h.feed(frames[2]);
  REQUIRE(r.status == ReasmStatus::kComplete);
  CHECK(r.proto == kIpProtoUdp);
  CHECK(r.len == 3008);
  REQUIRE(h.status == DecodeStatus::kOk);
  CHECK(h.dm.frag == Frag::kNone);
  CHECK(h.dm.has_ports);
  CHECK(h.dm.sport == 53);
  CHECK(h.dm.dport == 40000);
  CHECK(h.dm.payload_len == 3000);
  CHECK(h.dm.payload_wire_len == 3000);
  CHECK(payload_of(h.dm) == dns);
  CHECK(h.n().frag_reassembled.get() == 1);
  CHECK(h.n().frag_held.get() == 3);
  CHECK(h.reasm.active() == 0);
  CHECK(h.reasm.free_chunks() == ReasmConfig{}.chunks);  // every byte given back
  CHECK(r.late_pkts == 0);
}

TEST_CASE("reversed order: the first fragment completes it and brings the waiting ones", "[reasm]") {
  const Bytes data = pattern(4000, 2);
  auto frames = fragments_v4({}, udp(1000, 2000, data), 1000);
  std::reverse(frames.begin(), frames.end());
  Harness h;
  for (size_t i = 0; i + 1 < frames.size(); ++i) CHECK(h.feed(frames[i]).status == ReasmStatus::kHeld);
  const ReasmResult r = h.feed(frames.back());
  REQUIRE(r.status == ReasmStatus::kComplete);
  CHECK(payload_of(h.dm) == data);
  // The later fragments came with no flow to account them to: handed back now, with the sum
  // of their IP lengths.
  CHECK(r.late_pkts == frames.size() - 1);
  uint64_t bytes = 0;
  for (size_t i = 0; i + 1 < frames.size(); ++i) bytes += frames[i].size() - 14;
  CHECK(r.late_bytes == bytes);
}

TEST_CASE("interleaved datagrams of the same hosts are kept apart by id", "[reasm]") {
  const Bytes a = pattern(2500, 3), b = pattern(2600, 4);
  const auto fa = fragments_v4({.id = 1}, udp(1, 2, a), 800);
  const auto fb = fragments_v4({.id = 2}, udp(1, 2, b), 800);
  Harness h;
  std::vector<Bytes> got;
  for (size_t i = 0; i < std::max(fa.size(), fb.size()); ++i) {
    for (const auto* v : {&fb, &fa}) {
      if (i < v->size() && h.feed((*v)[v->size() - 1 - i]).status == ReasmStatus::kComplete) {
        got.push_back(payload_of(h.dm));
      }
    }
  }
  REQUIRE(got.size() == 2);
  CHECK(std::find(got.begin(), got.end(), a) != got.end());
  CHECK(std::find(got.begin(), got.end(), b) != got.end());
}

TEST_CASE("duplicates and identical overlaps are counted and change nothing", "[reasm]") {
  const Bytes data = pattern(64, 5);
  const Bytes l4 = udp(7, 9, data);  // 72 bytes
  Harness h;
  CHECK(h.feed(framed(ipv4({}, 0, true, slice(l4, 0, 24)))).status == ReasmStatus::kHeld);
  CHECK(h.feed(framed(ipv4({}, 0, true, slice(l4, 0, 24)))).status == ReasmStatus::kHeld);
  CHECK(h.n().frag_duplicate.get() == 1);
  // [16, 48) overlaps [16, 24) with the same bytes.
  CHECK(h.feed(framed(ipv4({}, 16, true, slice(l4, 16, 32)))).status == ReasmStatus::kHeld);
  CHECK(h.n().frag_overlap.get() == 1);
  CHECK(h.feed(framed(ipv4({}, 48, false, slice(l4, 48, 24)))).status == ReasmStatus::kComplete);
  CHECK(h.datagram == l4);
  CHECK(h.n().frag_overlap_conflict.get() == 0);
  // A retransmission after completion starts a datagram that never completes: timed out.
  CHECK(h.feed(framed(ipv4({}, 48, false, slice(l4, 48, 24)))).status == ReasmStatus::kHeld);
  h.reasm.expire(kT0 + 31 * kNsPerSec);
  CHECK(h.n().frag_timeout.get() == 1);
  CHECK(h.n().frag_lost.get() == 1);
}

TEST_CASE("conflicting overlaps: first data wins, counted", "[reasm]") {
  const Bytes l4 = udp(7, 9, pattern(40, 6));  // 48 bytes
  Bytes evil = slice(l4, 8, 24);
  for (uint8_t& c : evil) c ^= 0xFF;
  Harness h;
  h.feed(framed(ipv4({}, 0, true, slice(l4, 0, 16))));
  // [8, 32): [8, 16) conflicts with what is held, [16, 32) is new and taken.
  CHECK(h.feed(framed(ipv4({}, 8, true, evil))).status == ReasmStatus::kHeld);
  CHECK(h.n().frag_overlap_conflict.get() == 1);
  CHECK(h.n().frag_overlap.get() == 0);
  // A later fragment wholly inside held bytes, with other values (the original bytes, now
  // that [16, 32) came from `evil`): conflict, nothing taken.
  CHECK(h.feed(framed(ipv4({}, 16, true, slice(l4, 16, 8)))).status == ReasmStatus::kHeld);
  CHECK(h.n().frag_overlap_conflict.get() == 2);
  CHECK(h.n().frag_duplicate.get() == 0);
  REQUIRE(h.feed(framed(ipv4({}, 32, false, slice(l4, 32, 16)))).status == ReasmStatus::kComplete);
  Bytes want = l4;
  std::copy(evil.begin() + 8, evil.end(), want.begin() + 16);  // [16, 32) came from `evil`
  CHECK(h.datagram == want);
}

TEST_CASE("a missing fragment: held until the timeout, then counted", "[reasm]") {
  const auto frames = fragments_v4({}, udp(1, 2, pattern(3000, 7)), 1480);
  Harness h;
  h.feed(frames[0], kT0);
  h.feed(frames[2], kT0 + 1 * kNsPerSec);
  CHECK(h.reasm.active() == 1);
  h.reasm.expire(kT0 + 29 * kNsPerSec);
  CHECK(h.reasm.active() == 1);
  CHECK(h.n().frag_timeout.get() == 0);
  // The middle fragment after the timeout (packet time) starts over: it cannot complete.
  CHECK(h.feed(frames[1], kT0 + 30 * kNsPerSec).status == ReasmStatus::kHeld);
  CHECK(h.n().frag_timeout.get() == 1);
  CHECK(h.n().frag_lost.get() == 2);
  CHECK(h.completed == 0);
  h.reasm.expire_all();
  CHECK(h.n().frag_timeout.get() == 2);
  CHECK(h.reasm.active() == 0);
  CHECK(h.reasm.free_chunks() == ReasmConfig{}.chunks);
  CHECK(h.n().frag_active.get() == 0);
}

TEST_CASE("too big, too many, cut and bad lengths are refused and counted", "[reasm]") {
  SECTION("past 65535 bytes: the datagram is abandoned, its later fragments dropped") {
    Harness h;
    CHECK(h.feed(framed(ipv4({}, 0, true, pattern(1480, 1)))).status == ReasmStatus::kHeld);
    CHECK(h.feed(framed(ipv4({}, 65520, true, pattern(24, 1)))).status == ReasmStatus::kRefused);
    CHECK(h.n().frag_too_big.get() == 1);
    CHECK(h.n().frag_lost.get() == 1);
    CHECK(h.feed(framed(ipv4({}, 1480, false, pattern(100, 1)))).status == ReasmStatus::kRefused);
    CHECK(h.n().frag_abandoned.get() == 1);
    h.reasm.expire_all();
    CHECK(h.n().frag_timeout.get() == 0);  // abandoned, not timed out
    CHECK(h.reasm.free_chunks() == ReasmConfig{}.chunks);
  }
  SECTION("more fragments than the cap") {
    Harness h(ReasmConfig{.max_fragments = 4});
    const auto frames = fragments_v4({}, udp(1, 2, pattern(100, 2)), 16);
    REQUIRE(frames.size() == 7);
    for (int i = 0; i < 4; ++i) CHECK(h.feed(frames[i]).status == ReasmStatus::kHeld);
    CHECK(h.feed(frames[4]).status == ReasmStatus::kRefused);
    CHECK(h.n().frag_too_many.get() == 1);
    CHECK(h.n().frag_lost.get() == 4);
  }
  SECTION("8-byte fragments in any order: many pieces at once are fine") {
    Harness h;
    const Bytes data = pattern(1500, 3);
    auto frames = fragments_v4({}, udp(1, 2, data), 8);
    REQUIRE(frames.size() == 189);
    // Even units first, then odd: 95 disjoint pieces held at the worst moment.
    std::vector<Bytes> order;
    for (size_t i = 0; i < frames.size(); i += 2) order.push_back(frames[i]);
    for (size_t i = 1; i < frames.size(); i += 2) order.push_back(frames[i]);
    CHECK(h.feed_all(order) == ReasmStatus::kComplete);
    CHECK(payload_of(h.dm) == data);
  }
  SECTION("a fragment the capture cut") {
    Harness h;
    const Bytes f = framed(ipv4({}, 0, true, udp(1, 2, pattern(1000, 4))));
    CHECK(h.feed(f, kT0, 200).status == ReasmStatus::kRefused);
    CHECK(h.n().frag_cut.get() == 1);
  }
  SECTION("impossible lengths") {
    Harness h;
    CHECK(h.feed(framed(ipv4({}, 8, true, pattern(12, 5)))).status == ReasmStatus::kRefused);
    CHECK(h.feed(framed(ipv4({}, 8, true, {}))).status == ReasmStatus::kRefused);
    CHECK(h.n().frag_bad_length.get() == 2);
    CHECK(h.feed(framed(ipv4({}, 64, false, pattern(8, 5)))).status == ReasmStatus::kHeld);
    // A second last fragment that moves the end, a fragment past it.
    CHECK(h.feed(framed(ipv4({}, 80, false, pattern(8, 5)))).status == ReasmStatus::kRefused);
    CHECK(h.feed(framed(ipv4({}, 72, true, pattern(16, 5)))).status == ReasmStatus::kRefused);
    CHECK(h.n().frag_bad_length.get() == 4);
    CHECK(h.n().frag_held.get() == 1);
  }
}

TEST_CASE("IPv6 fragment header: UDP datagram reassembled", "[reasm]") {
  const Bytes data = pattern(3500, 8);
  auto frames = fragments_v6(kIpProtoUdp, 0xdeadbeef, udp(53, 5353, data), 1232);
  REQUIRE(frames.size() == 3);
  std::swap(frames[0], frames[1]);
  Harness h;
  CHECK(h.feed_all(frames) == ReasmStatus::kComplete);
  REQUIRE(h.status == DecodeStatus::kOk);
  CHECK(h.dm.ip_version == 6);
  CHECK(h.dm.l4_proto == kIpProtoUdp);
  CHECK(h.dm.sport == 53);
  CHECK(payload_of(h.dm) == data);
  CHECK(std::memcmp(h.dm.src.b, kSrc6, 16) == 0);
}

TEST_CASE("tiny first fragments (RFC 1858): the TCP header itself is split", "[reasm]") {
  const Bytes req = {'G', 'E', 'T', ' ', '/', ' ', 'H', 'T', 'T', 'P', '/', '1', '.', '0', '\r', '\n', '\r', '\n'};
  const Bytes seg = tcp(40000, 80, 1000, 2000, kTcpAck | kTcpPsh, req);
  const auto frames = fragments_v4({.proto = kIpProtoTcp}, seg, 8);
  REQUIRE(frames.size() == 5);
  Harness h;
  PacketMeta first;
  REQUIRE(decode_packet(LinkType::kEthernet, frames[0].data(), static_cast<uint32_t>(frames[0].size()), first, h.dc) == DecodeStatus::kOk);
  CHECK(first.frag == Frag::kFirst);
  CHECK_FALSE(first.has_ports);
  CHECK(h.dc.decode_frag_tiny_first.get() == 1);
  CHECK(h.feed_all(frames) == ReasmStatus::kComplete);
  REQUIRE(h.status == DecodeStatus::kOk);
  CHECK(h.dm.l4_proto == kIpProtoTcp);
  CHECK(h.dm.sport == 40000);
  CHECK(h.dm.dport == 80);
  CHECK(h.dm.tcp_seq == 1000);
  CHECK(h.dm.tcp_ack == 2000);
  CHECK(h.dm.tcp_flags == (kTcpAck | kTcpPsh));
  CHECK(payload_of(h.dm) == req);
}

TEST_CASE("fragments of the inner packet of a VXLAN tunnel", "[reasm]") {
  const Bytes data = pattern(2000, 9);
  const auto inner = fragments_v4({.id = 99}, udp(5000, 6000, data), 1000);
  Harness h;
  for (const Bytes& f : inner) h.feed(vxlan(f));
  REQUIRE(h.completed == 1);
  REQUIRE(h.status == DecodeStatus::kOk);
  CHECK(h.dm.tunneled);
  CHECK(h.dm.sport == 5000);
  CHECK(h.dm.src.b[0] == 10);  // the inner addresses
  CHECK(payload_of(h.dm) == data);
}

TEST_CASE("an outer fragmented VXLAN packet is opened after reassembly", "[reasm]") {
  const Bytes data = pattern(1800, 10);
  const Bytes inner_frame = framed(ipv4({.id = 5}, 0, false, udp(7000, 8000, data)));
  Bytes v = {0x08, 0, 0, 0, 0, 0, 42, 0};
  v.insert(v.end(), inner_frame.begin(), inner_frame.end());
  const auto frames = fragments_v4({.id = 6, .src = 0xc0000201, .dst = 0xc0000202},
                                   udp(40000, 4789, v), 1400);
  Harness h;
  CHECK(h.feed_all(frames) == ReasmStatus::kComplete);
  REQUIRE(h.status == DecodeStatus::kOk);
  CHECK(h.dm.tunneled);
  CHECK(h.dm.sport == 7000);
  CHECK(payload_of(h.dm) == data);
}

TEST_CASE("full tables recycle the oldest datagram", "[reasm]") {
  SECTION("slot bucket") {
    Harness h(ReasmConfig{.slots = 8});
    for (uint16_t id = 1; id <= 9; ++id) {
      h.feed(framed(ipv4({.id = id}, 0, true, udp(1, 2, pattern(8, 1)))), kT0 + id);
    }
    CHECK(h.n().frag_evicted.get() == 1);
    CHECK(h.reasm.active() == 8);
    // id 1 (the oldest) is gone: its last fragment starts a new datagram, no completion.
    CHECK(h.feed(framed(ipv4({.id = 1}, 16, false, pattern(8, 1))), kT0 + 10).status == ReasmStatus::kHeld);
    CHECK(h.completed == 0);
    CHECK(h.feed(framed(ipv4({.id = 9}, 16, false, pattern(8, 1))), kT0 + 11).status == ReasmStatus::kComplete);
  }
  SECTION("byte pool") {
    Harness h(ReasmConfig{.chunks = 4});
    h.feed(framed(ipv4({.id = 1}, 0, true, pattern(2048, 1))), kT0);
    h.feed(framed(ipv4({.id = 2}, 0, true, pattern(2048, 1))), kT0 + 1);
    CHECK(h.reasm.free_chunks() == 0);
    h.feed(framed(ipv4({.id = 3}, 0, true, pattern(1024, 1))), kT0 + 2);
    CHECK(h.n().frag_evicted.get() == 1);
    CHECK(h.reasm.active() == 2);
    // A datagram bigger than the whole pool cannot be held at all.
    Harness small(ReasmConfig{.chunks = 1});
    CHECK(small.feed(framed(ipv4({.id = 1}, 0, true, pattern(2048, 1)))).status == ReasmStatus::kRefused);
    CHECK(small.n().frag_evicted.get() == 1);
    CHECK(small.reasm.free_chunks() == 1);
  }
}

TEST_CASE("a complete datagram that does not fit the output is dropped, counted", "[reasm]") {
  Harness h;
  h.out_cap = 1000;
  CHECK(h.feed_all(fragments_v4({}, udp(1, 2, pattern(3000, 1)), 1480)) == ReasmStatus::kRefused);
  CHECK(h.n().frag_no_output.get() == 1);
  CHECK(h.reasm.active() == 0);
}

TEST_CASE("random orders, sizes and repeats always give back the datagram", "[reasm]") {
  std::mt19937 rng(20261128);
  Harness h(ReasmConfig{.slots = 64, .chunks = 512, .max_fragments = 4096});
  for (int round = 0; round < 300; ++round) {
    const uint32_t len = 1 + rng() % 9000;
    const uint32_t size = 8 * (1 + rng() % 200);
    const Bytes data = pattern(len, static_cast<uint8_t>(round));
    const uint16_t id = static_cast<uint16_t>(round);
    auto frames = fragments_v4({.id = id}, udp(10, 20, data), size);
    if (frames.size() < 2) continue;  // not fragmented at all
    // Repeat some fragments, then shuffle.
    const size_t n = frames.size();
    for (size_t i = 0; i < n; ++i) {
      if (rng() % 4 == 0) frames.push_back(frames[i]);
    }
    std::shuffle(frames.begin(), frames.end(), rng);
    const uint32_t before = h.completed;
    for (const Bytes& f : frames) {
      if (h.feed(f, kT0 + round).status == ReasmStatus::kComplete) {
        REQUIRE(h.status == DecodeStatus::kOk);
        REQUIRE(payload_of(h.dm) == data);
        break;  // later copies would start a datagram of their own
      }
    }
    INFO("round " << round << " len " << len << " size " << size << " frames " << frames.size()
                  << " held " << h.n().frag_held.get() << " dup " << h.n().frag_duplicate.get()
                  << " bad " << h.n().frag_bad_length.get() << " evicted " << h.n().frag_evicted.get());
    REQUIRE(h.completed == before + 1);
    h.firsts.clear();
  }
  CHECK(h.n().frag_overlap_conflict.get() == 0);
  h.reasm.expire_all();
  CHECK(h.reasm.free_chunks() == 512);
}

TEST_CASE("hostile fragments never break the table", "[reasm]") {
  std::mt19937 rng(7);
  Harness h(ReasmConfig{.slots = 16, .chunks = 64, .max_fragments = 64});
  for (int i = 0; i < 20000; ++i) {
    const uint32_t off = 8 * (rng() % 8200);
    const uint32_t len = rng() % 3 == 0 ? rng() % 1500 : 8 * (rng() % 180);
    const V4 hdr{.id = static_cast<uint16_t>(rng() % 40)};
    const Bytes f = framed(ipv4(hdr, off, rng() % 3 != 0, pattern(len, static_cast<uint8_t>(rng()))));
    PacketMeta pm;
    if (decode_packet(LinkType::kEthernet, f.data(), static_cast<uint32_t>(f.size()), pm, h.dc) != DecodeStatus::kOk ||
        pm.frag == Frag::kNone) {
      continue;
    }
    FragKey key;
    Fragment frag;
    fragment_of(pm, f.data() + f.size(), key, frag);
    const ReasmResult r = h.reasm.add(key, frag, false, pm.ip_len, kT0 + i * 10'000'000ull,
                                      h.arena.data(), h.out_cap);
    if (r.status == ReasmStatus::kComplete) {
      REQUIRE(r.len <= 65535);
      PacketMeta dm;
      (void)decode_reassembled(pm, r.proto, h.arena.data(), r.len, dm, h.dc);
    }
    REQUIRE(h.reasm.active() <= 16);
  }
  h.reasm.expire_all();
  CHECK(h.reasm.active() == 0);
  CHECK(h.reasm.free_chunks() == 64);
}

TEST_CASE("the reassembly counters are documented as declared", "[reasm][docs]") {
  flowscribe::testing::check_doc_counters<ReasmCounters>(__FILE__, "counters.md",
                                                         "## IP reassembly counters");
}

}  // namespace
}  // namespace flowscribe::decode
