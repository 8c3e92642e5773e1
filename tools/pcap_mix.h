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

// Appends every packet of `files` (Ethernet captures) to `base`, in file order; finds each
// packet's IP header. Returns "" or a one-line error.
inline std::string load_mix(const std::vector<std::string>& files, std::vector<BasePacket>& base) {
  for (uint32_t fi = 0; fi < files.size(); ++fi) {
    const std::string& file = files[fi];
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
