#pragma once
// Reads an offline capture once with libpcap before DPDK starts, so that problems are
// reported in one clear line up front (missing file, not a capture, unsupported link type)
// and so that the end of the capture, and any damage in it, can be told exactly: net_pcap
// just stops delivering packets, it cannot say why.
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace flowscribe::sensor {

struct PcapProbe {
  uint32_t linktype = 0;
  uint64_t packets = 0;       // records readable before the end or the damage
  uint64_t bytes = 0;         // captured bytes of those records
  uint32_t max_caplen = 0;
  bool damaged = false;       // stopped before a clean end of file
  std::string damage;         // libpcap's reason, e.g. "truncated dump file; ..."
  int64_t damage_offset = -1; // file offset where reading stopped (-1 if unknown)
};

// Fails (InvalidArgument / NotFound) when the file cannot be opened as a capture or its link
// type is not one we decode; a damaged capture is *not* a failure here (it is processed up
// to the damage and reported at the end).
// COUNT false: only open the file and check its link type (packets, bytes and damage are
// left unset): for files flowscribe's own reader takes, which finds the end and any damage
// itself, so the capture is not read twice.
absl::StatusOr<PcapProbe> probe_pcap(const std::string& path, bool count = true);

}  // namespace flowscribe::sensor
