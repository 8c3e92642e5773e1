// The worker's fast path (decode::decode_fast + flow::make_flow_key_v4 for IPv4) against the general
// decoder (decode_packet + make_flow_key + flow_hash): on every Ethernet frame of every test
// capture, then on those frames cut at every length and with header bytes changed, a frame
// the fast path takes must give exactly the fields, key and hash the general path gives, and
// must be one the general path decodes without moving any counter but decode_ok. Frames are
// copied into exactly-sized heap buffers, so an over-read shows in ASan builds.
#include <pcap/pcap.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "flowtable/flow_table.h"
#include "sensor/decode/decode.h"

namespace flowscribe::decode {
namespace {

using Bytes = std::vector<uint8_t>;

struct Tally {
  uint64_t frames = 0;  // Ethernet frames compared
  uint64_t fast = 0;    // taken by the fast path
};

// Compares the two paths on one frame; returns whether the fast path took it.
bool compare(const Bytes& frame, Tally& tally) {
  // Exactly sized, so reading one byte past the end is an ASan error.
  std::unique_ptr<uint8_t[]> buf(new uint8_t[frame.size() ? frame.size() : 1]);
  if (!frame.empty()) std::memcpy(buf.get(), frame.data(), frame.size());
  const auto caplen = static_cast<uint32_t>(frame.size());
  ++tally.frames;
  FastMeta fm;
  if (!decode_fast(buf.get(), caplen, fm)) return false;
  ++tally.fast;
  DecodeCounters counters;
  PacketMeta pm;
  const DecodeStatus st = decode_packet(LinkType::kEthernet, buf.get(), caplen, pm, counters);
  INFO("frame of " << caplen << " bytes");
  REQUIRE(st == DecodeStatus::kOk);
  // Nothing the fast path skips may be a counted case of the general path.
  counters.for_each([](const CounterInfo& info, uint64_t v) {
    INFO(info.name);
    CHECK(v == (std::string(info.name) == "decode_ok" ? 1u : 0u));
  });
  CHECK(pm.frag == Frag::kNone);
  CHECK(pm.ip_version == fm.ip_version);
  CHECK(pm.l3 == fm.l3);
  CHECK(pm.vlan_count <= 1);
  CHECK(pm.tunneled == false);
  CHECK(pm.l4_proto == fm.l4_proto);
  CHECK(pm.has_ports);
  CHECK(pm.sport == fm.sport);
  CHECK(pm.dport == fm.dport);
  CHECK(pm.vlan_outer == fm.vlan);
  CHECK(pm.ip_len == fm.ip_len);
  if (fm.ip_version == 4) {
    CHECK(std::memcmp(pm.src.b, &fm.src, 4) == 0);
    CHECK(std::memcmp(pm.dst.b, &fm.dst, 4) == 0);
  } else {
    REQUIRE(fm.ip_version == 6);
    CHECK(std::memcmp(pm.src.b, fm.l3 + 8, 16) == 0);
    CHECK(std::memcmp(pm.dst.b, fm.l3 + 24, 16) == 0);
  }
  CHECK(pm.payload == fm.payload);
  CHECK(pm.payload_len == fm.payload_len);
  CHECK(pm.payload_wire_len == fm.payload_wire_len);
  CHECK(pm.tcp_seq == fm.tcp_seq);
  CHECK(pm.tcp_ack == fm.tcp_ack);
  CHECK(pm.tcp_flags == fm.tcp_flags);
  flow::FlowKey slow_key, fast_key;
  const bool slow_side0 = flow::make_flow_key(pm.ip_version, pm.l4_proto, pm.src, pm.dst,
                                              pm.sport, pm.dport, pm.vlan_outer, slow_key);
  uint32_t fast_hash = 0;
  bool fast_side0;
  if (fm.ip_version == 4) {
    fast_side0 = flow::make_flow_key_v4(fm.l4_proto, fm.src, fm.dst, fm.sport, fm.dport, fm.vlan,
                                        fast_key, fast_hash);
  } else {  // what the worker's fast_key does for IPv6
    IpAddr s6, d6;
    std::memcpy(s6.b, fm.l3 + 8, 16);
    std::memcpy(d6.b, fm.l3 + 24, 16);
    fast_side0 = flow::make_flow_key(6, fm.l4_proto, s6, d6, fm.sport, fm.dport, fm.vlan,
                                     fast_key);
    fast_hash = flow::flow_hash(fast_key);
  }
  CHECK(slow_side0 == fast_side0);
  CHECK(slow_key == fast_key);
  CHECK(flow::flow_hash(slow_key) == fast_hash);
  return true;
}

std::vector<Bytes> ethernet_frames_of_test_captures() {
  std::vector<Bytes> frames;
  for (const auto& e : std::filesystem::recursive_directory_iterator(FS_CAPTURES_DIR)) {
    const std::string ext = e.path().extension().string();
    if (!e.is_regular_file() || (ext != ".pcap" && ext != ".pcapng")) continue;
    char err[PCAP_ERRBUF_SIZE];
    pcap_t* p = pcap_open_offline(e.path().c_str(), err);
    if (p == nullptr) continue;  // the deliberately broken captures
    if (pcap_datalink(p) == DLT_EN10MB) {
      pcap_pkthdr* h;
      const u_char* d;
      while (pcap_next_ex(p, &h, &d) == 1) frames.emplace_back(d, d + h->caplen);
    }
    pcap_close(p);
  }
  return frames;
}

TEST_CASE("The fast path agrees with decode_packet on every test capture", "[decode_fast]") {
  const std::vector<Bytes> frames = ethernet_frames_of_test_captures();
  REQUIRE(frames.size() > 2000);
  Tally t;
  uint64_t v6 = 0;
  for (const Bytes& f : frames) {
    FastMeta fm;
    if (compare(f, t) && decode_fast(f.data(), static_cast<uint32_t>(f.size()), fm) &&
        fm.ip_version == 6) {
      ++v6;
    }
  }
  INFO(v6 << " IPv6 frames took the fast path");
  CHECK(v6 > 0);
  INFO(t.fast << " of " << t.frames << " frames took the fast path");
  // Most test traffic is Ethernet, IPv4, TCP or UDP: a fast path that stopped taking it
  // (a wrong constant, a bound off by one) fails here rather than only in the benchmark.
  CHECK(t.fast * 2 > t.frames);
}

TEST_CASE("The fast path agrees with decode_packet on cut and altered frames",
          "[decode_fast]") {
  const std::vector<Bytes> all = ethernet_frames_of_test_captures();
  std::vector<Bytes> base;  // a spread of frames the fast path takes, and its IPv6 ones
  {
    Tally t;
    size_t v4 = 0, v6 = 0;
    for (size_t i = 0; i < all.size(); ++i) {
      FastMeta fm;
      if (!decode_fast(all[i].data(), static_cast<uint32_t>(all[i].size()), fm)) continue;
      if (fm.ip_version == 6 ? v6 < 100 : (i % 7 == 0 && v4 < 400)) {
        compare(all[i], t);
        base.push_back(all[i]);
        ++(fm.ip_version == 6 ? v6 : v4);
      }
    }
    REQUIRE(v4 >= 100);
    REQUIRE(v6 >= 10);
  }
  std::mt19937 rng(20261129);
  Tally t;
  // Header bytes whose values decide: ethertype, VLAN, version/IHL, total length, flags and
  // fragment offset, protocol (IPv6: version, payload length, next header), TCP data offset
  // and flags, UDP ports and length.
  const auto edge_values = [](Bytes f, size_t at, std::vector<Bytes>& out,
                              std::initializer_list<uint16_t> values) {
    if (at + 2 > f.size()) return;
    for (uint16_t v : values) {
      f[at] = static_cast<uint8_t>(v >> 8);
      f[at + 1] = static_cast<uint8_t>(v);
      out.push_back(f);
    }
  };
  for (const Bytes& f : base) {
    for (size_t len = 0; len <= f.size(); ++len) compare(Bytes(f.begin(), f.begin() + len), t);
    const size_t ip = (f[12] == 0x81 && f[13] == 0x00) ? 18 : 14;
    const bool v6 = (f[ip] >> 4) == 6;
    const size_t l4 = ip + (v6 ? 40 : 20);
    std::vector<Bytes> v;
    edge_values(f, 12, v, {0x0800, 0x8100, 0x88a8, 0x86dd, 0x0806});
    if (v6) {
      // Version/class, payload length, next header (TCP, UDP, hop-by-hop, fragment, ICMPv6,
      // none) with the hop limit.
      edge_values(f, ip, v, {0x6000, 0x4500, 0x0000, 0x7000});
      edge_values(f, ip + 4, v, {0, 1, 7, 8, 19, 20, 21, static_cast<uint16_t>(f.size() - l4),
                                 static_cast<uint16_t>(f.size() - l4 - 1),
                                 static_cast<uint16_t>(f.size() - l4 + 1), 1500, 65535});
      edge_values(f, ip + 6, v, {0x0640, 0x1140, 0x0040, 0x2c40, 0x3a40, 0x3b40});
    } else {
      edge_values(f, ip, v, {0x4500, 0x4600, 0x4f00, 0x4400, 0x5500, 0x0045, 0x6000});
      edge_values(f, ip + 2, v, {0, 1, 19, 20, 27, 28, 39, 40, 41, 60,
                                 static_cast<uint16_t>(f.size() - ip),
                                 static_cast<uint16_t>(f.size() - ip - 1),
                                 static_cast<uint16_t>(f.size() - ip + 1), 1500, 65535});
      edge_values(f, ip + 6, v, {0, 0x4000, 0x2000, 0x0001, 0x1fff, 0x8000});
      edge_values(f, ip + 8, v, {0x4001, 0x4006, 0x4011, 0x4084, 0x402f, 0x4004, 0x4032});
    }
    edge_values(f, l4, v, {4789, 2152, 6081, 80, 0});
    edge_values(f, l4 + 2, v, {4789, 4790, 6081, 2152, 6082, 53, 0});
    edge_values(f, l4 + 4, v, {0, 7, 8, 9, static_cast<uint16_t>(f.size() - l4),
                               static_cast<uint16_t>(f.size() - l4 + 1), 65535});
    edge_values(f, l4 + 12, v, {0x0010, 0x4010, 0x5010, 0x5002, 0x6012, 0xf010, 0x8011});
    for (int k = 0; k < 24; ++k) {  // random bytes in the headers
      Bytes m = f;
      const size_t at = rng() % std::min<size_t>(m.size(), l4 + 20);
      m[at] = static_cast<uint8_t>(rng());
      v.push_back(std::move(m));
    }
    for (const Bytes& m : v) compare(m, t);
  }
  INFO(t.fast << " of " << t.frames << " altered frames took the fast path");
  CHECK(t.fast > 0);
  CHECK(t.fast < t.frames);
}

}  // namespace
}  // namespace flowscribe::decode
