#pragma once
// The traffic multiplier's common part (bench_pipeline --mix and multiply_pcap): real Ethernet
// captures concatenated into one base sequence, and the per-copy address rewrite that turns
// every copy of it into new flows.
//
// A copy id k (24 bits) is XORed into bytes 1-3 of both IPv4 addresses (bytes 9-11 of both
// IPv6 addresses), so within a copy distinct addresses stay distinct and every copy's flows
// are new flows. Checksums are left stale: flowscribe verifies none (sensor/decode: a passive
// sensor takes what the wire carried, and NIC offloads leave many captured checksums wrong).
#include <pcap/pcap.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "sensor/decode/decode.h"

namespace flowscribe::tools {

struct BasePacket {
  std::vector<uint8_t> bytes;  // the captured frame (at most 2048 bytes kept)
  uint32_t wire_len = 0;       // its length on the wire
  uint64_t t_us = 0;           // time since the start of its own capture
  uint32_t file = 0;           // index of its capture in the list
  int32_t l3 = -1;             // offset of the IP header to rewrite; -1: none (ARP, ...)
  uint8_t ip_version = 0;
};

// Splits "FILE*W" (W = 1..255 repetitions) into FILE and W; a plain FILE is W = 1. Returns
// false when the weight is not a number in range.
inline bool split_weight(const std::string& spec, std::string& file, uint32_t& weight) {
  const size_t star = spec.rfind('*');
  file = spec;
  weight = 1;
  if (star == std::string::npos) return true;
  file = spec.substr(0, star);
  const std::string w = spec.substr(star + 1);
  if (w.empty() || w.size() > 3 || w.find_first_not_of("0123456789") != std::string::npos) return false;
  weight = static_cast<uint32_t>(std::stoul(w));
  return weight >= 1 && weight <= 255;
}

// Repetition r (1..255) of a weighted capture: r is XORed into the first byte of both IPv4
// addresses (byte 8 of both IPv6 addresses), so each repetition's flows are flows of their
// own, distinct from the other repetitions' (the copy id takes bytes 1-3).
inline void rewrite_for_repetition(BasePacket& b, uint32_t r) {
  if (b.l3 < 0 || r == 0) return;
  uint8_t* ip = b.bytes.data() + b.l3;
  const int at[2] = {b.ip_version == 4 ? 12 : 8, b.ip_version == 4 ? 16 : 24};
  const int byte = b.ip_version == 4 ? 0 : 8;
  for (int a : at) ip[a + byte] ^= static_cast<uint8_t>(r);
}

// Appends every packet of `files` (Ethernet captures; "FILE*W" takes a capture W times, each
// repetition with addresses of its own) to `base`, in file order; finds each packet's IP
// header. Returns "" or a one-line error.
inline std::string load_mix(const std::vector<std::string>& specs, std::vector<BasePacket>& base) {
  uint32_t fi = 0;
  for (const std::string& spec : specs) {
    std::string file;
    uint32_t weight = 1;
    if (!split_weight(spec, file, weight)) {
      return "'" + spec + "': a weight is FILE*W with W from 1 to 255";
    }
    const size_t first = base.size();
    char err[PCAP_ERRBUF_SIZE];
    pcap_t* p = pcap_open_offline(file.c_str(), err);
    if (p == nullptr) return "cannot read " + file + ": " + err;
    if (pcap_datalink(p) != DLT_EN10MB) {
      pcap_close(p);
      return file + ": only Ethernet captures can be multiplied";
    }
    pcap_pkthdr* h;
    const u_char* d;
    uint64_t t0 = UINT64_MAX;
    decode::DecodeCounters dc;
    while (pcap_next_ex(p, &h, &d) == 1) {
      const uint64_t t = static_cast<uint64_t>(h->ts.tv_sec) * 1000000 +
                         static_cast<uint64_t>(h->ts.tv_usec);
      t0 = std::min(t0, t);
      BasePacket b;
      b.bytes.assign(d, d + std::min<uint32_t>(h->caplen, 2048));
      b.wire_len = h->len;
      b.t_us = t - t0;
      b.file = fi;
      decode::PacketMeta pm;
      if (decode::decode_packet(decode::LinkType::kEthernet, b.bytes.data(),
                                static_cast<uint32_t>(b.bytes.size()), pm, dc) ==
              decode::DecodeStatus::kOk &&
          !pm.tunneled) {
        b.l3 = static_cast<int32_t>(pm.l3 - b.bytes.data());
        b.ip_version = pm.ip_version;
      }
      base.push_back(std::move(b));
    }
    pcap_close(p);
    const size_t last = base.size();
    ++fi;
    for (uint32_t r = 1; r < weight; ++r, ++fi) {
      for (size_t i = first; i < last; ++i) {
        BasePacket b = base[i];
        b.file = fi;
        rewrite_for_repetition(b, r);
        base.push_back(std::move(b));
      }
    }
  }
  return base.empty() ? "the captures hold no packets" : "";
}

// Rewrites frame `f` (a copy of `b`'s bytes) for copy id `copy`.
inline void rewrite_for_copy(uint8_t* f, const BasePacket& b, uint32_t copy) {
  if (b.l3 < 0) return;
  const uint8_t k[3] = {static_cast<uint8_t>(copy >> 16), static_cast<uint8_t>(copy >> 8),
                        static_cast<uint8_t>(copy)};
  uint8_t* ip = f + b.l3;
  const int at[2] = {b.ip_version == 4 ? 12 : 8, b.ip_version == 4 ? 16 : 24};
  const int from = b.ip_version == 4 ? 1 : 9;
  for (int a : at) {
    for (int i = 0; i < 3; ++i) ip[a + from + i] ^= k[i];
  }
}

}  // namespace flowscribe::tools
