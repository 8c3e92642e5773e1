#pragma once
// The offline sensor's input when the capture is a classic pcap file: records from PcapFile
// copied straight into mbufs, in bursts, on the core that polls it (the worker, or the
// dispatcher). It stands where a DPDK port's rx queue stands (RxQueue::file) and stamps each
// mbuf with the record's time in nanoseconds in DPDK's standard RX timestamp field.
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "sensor/pcap_file.h"

namespace flowscribe::sensor {

// How one file of the input ended.
struct PcapFileResult {
  uint64_t records = 0;
  int64_t damage_offset = -1;
  char damage[160] = {};  // empty: read to a clean end
  bool damaged() const { return damage[0] != '\0'; }
};

class PcapSource {
 public:
  // Registers DPDK's RX timestamp dynfield and flag (idempotent); call after rte_eal_init.
  static absl::Status register_timestamp(int& offset, uint64_t& flag);

  // FILE is PATHS[0], opened; the other paths (a series, e.g. tcpdump -C/-G rotations) are
  // read after it, in order, through the same buffer, as one capture.
  PcapSource(std::unique_ptr<PcapFile> file, std::vector<std::string> paths, rte_mempool* pool,
             int ts_offset, uint64_t ts_flag);

  // Up to N packets; 0 when every file is done or, for now, the pool has no free mbuf (the
  // worker returns them as it goes: offline input waits, it never drops).
  uint16_t rx_burst(rte_mbuf** pkts, uint16_t n);
  bool done() const { return file_->done() && next_ >= paths_.size(); }
  // The last rx_burst() stopped because the file's next bytes were not read yet (read-ahead:
  // the disk or the pipe is slower than the poller), not for the end or a full pool.
  bool waiting() const { return waiting_; }
  // Bytes of the input read so far (files finished, and the current one's offset), for the
  // stats line's progress; any thread may read it.
  uint64_t bytes_read() const { return bytes_read_.load(std::memory_order_relaxed); }

  // After the run (the pollers stopped): how each file ended, in the order read.
  const std::vector<std::string>& paths() const { return paths_; }
  const std::vector<PcapFileResult>& results();

 private:
  void record_current();  // the current file's result, once
  bool advance();         // the next file that opens; false when none is left
  // A record longer than one mbuf's data room goes into a chain; false if the pool ran dry.
  bool copy_chained(rte_mbuf* head, const PcapRecord& r);

  std::unique_ptr<PcapFile> file_;
  std::vector<std::string> paths_;
  std::vector<PcapFileResult> results_;  // sized at construction: filling it never allocates
  size_t cur_ = 0;
  size_t next_ = 1;
  bool recorded_ = false;
  rte_mempool* pool_;
  int ts_offset_;
  uint64_t ts_flag_;
  static constexpr size_t kPrefetchAhead = 2048;
  bool waiting_ = false;
  uintptr_t prefetched_ = 0;  // the file's bytes are prefetched up to this address
  uint64_t bytes_done_ = 0;  // sizes of the files finished (their offsets at the end)
  std::atomic<uint64_t> bytes_read_{0};
};

}  // namespace flowscribe::sensor
