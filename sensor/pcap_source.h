#pragma once
// The offline sensor's input when the capture is a classic pcap file: records from PcapFile
// copied straight into mbufs, in bursts, on the core that polls it (the worker, or the
// dispatcher). It stands where a DPDK port's rx queue stands (RxQueue::file) and stamps each
// mbuf with the record's time in nanoseconds in DPDK's standard RX timestamp field.
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "sensor/pcap_file.h"

namespace flowscribe::sensor {

class PcapSource {
 public:
  // Registers DPDK's RX timestamp dynfield and flag (idempotent); call after rte_eal_init.
  static absl::Status register_timestamp(int& offset, uint64_t& flag);

  PcapSource(std::unique_ptr<PcapFile> file, rte_mempool* pool, int ts_offset, uint64_t ts_flag);

  // Up to N packets; 0 when the file is done or, for now, the pool has no free mbuf (the
  // worker returns them as it goes: offline input waits, it never drops).
  uint16_t rx_burst(rte_mbuf** pkts, uint16_t n);
  bool done() const { return file_->done(); }
  uint64_t delivered() const { return delivered_; }
  const PcapFile& file() const { return *file_; }

 private:
  // A record longer than one mbuf's data room goes into a chain; false if the pool ran dry.
  bool copy_chained(rte_mbuf* head, const PcapRecord& r);

  std::unique_ptr<PcapFile> file_;
  rte_mempool* pool_;
  int ts_offset_;
  uint64_t ts_flag_;
  uint64_t delivered_ = 0;
};

}  // namespace flowscribe::sensor
