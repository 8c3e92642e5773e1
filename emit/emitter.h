#pragma once
// The emitter core: drains every worker's record ring, formats each record once (--format:
// RFC 5424, JSON, CEF or LEEF), batches it and writes it to each output. The only place in the process that formats or does output I/O.
#include <rte_mempool.h>
#include <rte_ring.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/counters.h"
#include "emit/format.h"
#include "emit/output.h"

namespace flowscribe::emit {

#define FS_EMITTER_COUNTERS(X)                                                          \
  X(emitter_records, "records formatted")                                                \
  X(emitter_continuations, "continuation slots read with their record (records longer than one slot)") \
  X(emitter_bytes, "bytes of formatted records")                                         \
  X(emitter_reopens, "outputs reopened on SIGHUP")

FS_DEFINE_COUNTERS(EmitterCounters, FS_EMITTER_COUNTERS);

struct EmitterInput {
  rte_ring* ring = nullptr;      // Record* from one worker (single producer, single consumer)
  rte_mempool* pool = nullptr;   // where those records go back
};

class Emitter {
 public:
  // `backpressure` (offline): when an output's queue is full and it has no spool, stop reading
  // records until it drains, so the workers wait; live, such records are counted drops.
  Emitter(const FormatConfig& format, std::vector<std::unique_ptr<Output>> outputs,
          std::vector<EmitterInput> inputs, bool shared_cpu, bool backpressure = false);

  // Runs on the emitter lcore until `producers_done` is set and every ring is empty; then
  // delivers what the outputs still hold (up to kDrainTimeout) and spools or counts the rest.
  void run(const std::atomic<bool>& producers_done);

  // How long the exit waits for collectors to take what is queued.
  static constexpr Nanos kDrainTimeout = 10 * kNsPerSec;

  void request_reopen() noexcept { reopen_.store(true, std::memory_order_relaxed); }
  const EmitterCounters& counters() const noexcept { return counters_; }
  const FormatCounters& format_counters() const noexcept { return formatter_->counters(); }
  size_t output_count() const noexcept { return outputs_.size(); }
  const Output& output(size_t i) const noexcept { return *outputs_[i]; }
  // Every FS_OUTPUT_COUNTERS counter summed over the outputs: f(info, value).
  template <typename F>
  void for_each_output_total(F&& f) const {
    uint64_t sum[OutputCounters::kCount] = {};
    for (const auto& o : outputs_) {
      size_t i = 0;
      o->counters().for_each([&](const CounterInfo&, uint64_t v) { sum[i++] += v; });
    }
    for (size_t i = 0; i < OutputCounters::kCount; ++i) f(OutputCounters::kInfo[i], sum[i]);
  }
  // True when an output lost records or failed (the process then exits non-zero).
  bool output_failed() const noexcept;

 private:
  void drain_outputs();

  std::unique_ptr<Formatter> formatter_;
  std::vector<std::unique_ptr<Output>> outputs_;
  std::vector<EmitterInput> inputs_;
  bool shared_cpu_;
  bool backpressure_;
  bool said_waiting_ = false;
  std::unique_ptr<char[]> line_;  // one formatted record, handed to every output
  std::atomic<bool> reopen_{false};
  EmitterCounters counters_;
};

}  // namespace flowscribe::emit
