// Writes a capture of real traffic multiplied into many flows: the input captures
// (Ethernet) are concatenated, then written COPIES times, each copy with its own IP addresses
// (tools/pcap_mix.h), so a tool that reads the result (ndpiReader, flowscribe --pcap,
// dpdk-testpmd's net_pcap) sees COPIES x the input's flows instead of the same few again.
//
//   multiply_pcap --copies K --out FILE IN.pcap[*W] [IN.pcap[*W] ...]   (*W: the capture W times)
//
// Copy k's packets keep their capture's relative times, shifted to start 1 ms after copy k-1
// ended, so copies follow one another and timeouts behave as in the original captures.
#include <pcap/pcap.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "common/strings.h"
#include "tools/pcap_mix.h"

using namespace flowscribe;

int main(int argc, char** argv) {
  uint32_t copies = 0;
  std::string out;
  std::vector<std::string> in;
  for (int i = 1; i < argc; ++i) {
    std::string_view k = argv[i];
    if (k == "--copies" && i + 1 < argc && parse_uint(argv[i + 1], copies) && copies > 0 &&
        copies <= (1u << 24)) {
      ++i;
    } else if (k == "--out" && i + 1 < argc) {
      out = argv[++i];
    } else if (!k.starts_with("--")) {
      in.emplace_back(k);
    } else {
      in.clear();
      break;
    }
  }
  if (copies == 0 || out.empty() || in.empty()) {
    std::fprintf(stderr, "usage: multiply_pcap --copies 1..16777216 --out FILE IN.pcap[*W] [IN.pcap[*W] ...]\n");
    return 2;
  }
  std::vector<tools::BasePacket> base;
  if (std::string err = tools::load_mix(in, base); !err.empty()) {
    std::fprintf(stderr, "multiply_pcap: %s\n", err.c_str());
    return 2;
  }
  // The concatenated sequence's own clock: each file follows the previous one by 1 ms.
  std::vector<uint64_t> t(base.size());
  uint64_t file_start = 0, prev = 0;
  for (size_t i = 0; i < base.size(); ++i) {
    if (i > 0 && base[i].file != base[i - 1].file) file_start = prev + 1000;
    t[i] = file_start + base[i].t_us;
    prev = std::max(prev, t[i]);
  }
  const uint64_t period = prev + 1000;
  pcap_t* dead = pcap_open_dead(DLT_EN10MB, 65535);
  pcap_dumper_t* dump = pcap_dump_open(dead, out.c_str());
  if (dump == nullptr) {
    std::fprintf(stderr, "multiply_pcap: cannot write %s: %s\n", out.c_str(), pcap_geterr(dead));
    return 2;
  }
  const uint64_t epoch_us = 1'700'000'000ULL * 1000000;
  std::vector<uint8_t> frame;
  uint64_t written = 0;
  for (uint32_t k = 0; k < copies; ++k) {
    for (size_t i = 0; i < base.size(); ++i) {
      const tools::BasePacket& b = base[i];
      frame = b.bytes;
      tools::rewrite_for_copy(frame.data(), b, k);
      const uint64_t us = epoch_us + k * period + t[i];
      pcap_pkthdr h{};
      h.ts.tv_sec = static_cast<time_t>(us / 1000000);
      h.ts.tv_usec = static_cast<suseconds_t>(us % 1000000);
      h.caplen = static_cast<uint32_t>(frame.size());
      h.len = b.wire_len;
      pcap_dump(reinterpret_cast<u_char*>(dump), &h, frame.data());
      ++written;
    }
  }
  if (pcap_dump_flush(dump) != 0) {
    std::fprintf(stderr, "multiply_pcap: write to %s failed\n", out.c_str());
    return 1;
  }
  pcap_dump_close(dump);
  pcap_close(dead);
  std::fprintf(stderr, "multiply_pcap: %s: %zu packets x %u copies = %lu packets\n", out.c_str(),
               base.size(), copies, written);
  return 0;
}
