#pragma once
// The emitter core: drains every worker's record ring, formats RFC 5424 text, batches it and
// writes it to each output. The only place in the process that formats or does output I/O.
#include <rte_mempool.h>
#include <rte_ring.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/counters.h"
#include "emit/format.h"
#include "emit/sink.h"

namespace flowscribe::emit {

#define FS_EMITTER_COUNTERS(X)                                                          \
  X(emitter_records, "records formatted")                                                \
  X(emitter_bytes, "bytes of formatted records")                                         \
  X(emitter_batches, "batches written to the outputs")                                   \
  X(emitter_write_errors, "failed writes to an output (each reported once on stderr)")   \
  X(emitter_records_lost_output, "records that could not be written to an output")      \
  X(emitter_reopens, "outputs reopened on SIGHUP")

FS_DEFINE_COUNTERS(EmitterCounters, FS_EMITTER_COUNTERS);

struct EmitterInput {
  rte_ring* ring = nullptr;      // Record* from one worker (single producer, single consumer)
  rte_mempool* pool = nullptr;   // where those records go back
};

class Emitter {
 public:
  Emitter(const FormatConfig& format, std::vector<std::unique_ptr<Sink>> sinks,
          std::vector<EmitterInput> inputs, bool shared_cpu);

  // Runs on the emitter lcore until `producers_done` is set and every ring is empty.
  void run(const std::atomic<bool>& producers_done);

  void request_reopen() noexcept { reopen_.store(true, std::memory_order_relaxed); }
  const EmitterCounters& counters() const noexcept { return counters_; }
  const FormatCounters& format_counters() const noexcept { return formatter_.counters(); }
  // Non-zero when an output failed (the process then exits non-zero).
  bool output_failed() const noexcept { return output_failed_.load(std::memory_order_relaxed); }

 private:
  void write_batch(uint64_t records);

  Rfc5424Formatter formatter_;
  std::vector<std::unique_ptr<Sink>> sinks_;
  std::vector<bool> sink_broken_;
  std::vector<EmitterInput> inputs_;
  bool shared_cpu_;
  std::string buf_;
  uint64_t buf_records_ = 0;
  std::atomic<bool> reopen_{false};
  std::atomic<bool> output_failed_{false};
  EmitterCounters counters_;
};

}  // namespace flowscribe::emit
