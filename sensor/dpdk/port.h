#pragma once
// Port bring-up: queues, symmetric RSS, RX timestamps, promiscuous mode. What the port can
// really do is checked against what was asked and said in one line per port.
#include <rte_mempool.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace flowscribe::sensor::dpdk {

struct PortRequest {
  std::string name;     // ethdev name (PCI address or vdev name)
  uint16_t rxq = 1;     // queues wanted
  uint16_t rx_desc = 1024;
  rte_mempool* pool = nullptr;
  bool want_timestamps = false;  // pcap replay: packet times from the capture
};

struct PortInfo {
  uint16_t port_id = 0;
  std::string name;
  std::string driver;
  uint16_t rxq = 1;            // queues configured
  bool rss = false;            // symmetric RSS active over rxq > 1 queues
  bool timestamps = false;     // RX timestamp offload enabled
  uint64_t rss_hf = 0;
  std::string summary;         // one line for the start-up banner
};

// The symmetric Toeplitz key (0x6d5a repeated): hashing (a,b) and (b,a) gives the same queue.
// Woo & Park, "Scalable TCP Session Monitoring with Symmetric Receive-side Scaling", 2012.
extern const uint8_t kSymmetricRssKey[52];

absl::StatusOr<PortInfo> setup_port(const PortRequest& req);

// Finds an ethdev by the name given on the command line ("0000:3b:00.0", "net_memif0,...").
absl::StatusOr<uint16_t> find_port(const std::string& spec);

void stop_port(uint16_t port_id);

}  // namespace flowscribe::sensor::dpdk
