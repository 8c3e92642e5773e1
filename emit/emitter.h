#pragma once
// The emitter core: drains every worker's record ring, formats each record once (--format:
// RFC 5424, JSON, CEF or LEEF), batches it and writes it to each output. The only place in the process that formats or does output I/O.
#include <rte_mempool.h>
#include <rte_ring.h>

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "emit/format.h"
#include "emit/format_core.h"
#include "emit/output.h"

namespace flowscribe::emit {

class Emitter {
 public:
  // `backpressure` (offline): when an output's queue is full and it has no spool, stop reading
  // records until it drains, so the workers wait; live, such records are counted drops.
  // With `cores` (--format-cores), the format cores drain `inputs` and format; the emitter
  // takes their line batches instead (emit/format_core.h). Without, it does both.
  Emitter(const FormatConfig& format, std::vector<std::unique_ptr<Output>> outputs,
          std::vector<EmitterInput> inputs, bool shared_cpu, bool backpressure = false,
          std::vector<FormatCore*> cores = {});

  // Runs on the emitter lcore until `producers_done` is set and every ring is empty; then
  // delivers what the outputs still hold (up to kDrainTimeout) and spools or counts the rest.
  void run(const std::atomic<bool>& producers_done);

  // How long the exit waits for collectors to take what is queued.
  static constexpr Nanos kDrainTimeout = 10 * kNsPerSec;

  void request_reopen() noexcept { reopen_.store(true, std::memory_order_relaxed); }
  // The emitter's counters and the formatter's, summed with the format cores' (if any):
  // f(info, value).
  template <typename F>
  void for_each_counter(F&& f) const {
    sum_over_cores<EmitterCounters>(
        counters_, [](const FormatCore& c) -> const EmitterCounters& { return c.counters(); }, f);
    sum_over_cores<FormatCounters>(
        formatter_->counters(),
        [](const FormatCore& c) -> const FormatCounters& { return c.format_counters(); }, f);
  }
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
  // One formatted line to every output (`body_off`: Formatter::body_offset()).
  void push_line(std::string_view line, size_t body_off, Nanos now);
  // Some output cannot take another turn's burst (backpressure: the emitter waits).
  bool saturated() const noexcept;
  template <typename C, typename G, typename F>
  void sum_over_cores(const C& own, G&& of_core, F&& f) const {
    uint64_t sum[C::kCount] = {};
    size_t i = 0;
    own.for_each([&](const CounterInfo&, uint64_t v) { sum[i++] += v; });
    for (const FormatCore* c : cores_) {
      i = 0;
      of_core(*c).for_each([&](const CounterInfo&, uint64_t v) { sum[i++] += v; });
    }
    for (size_t k = 0; k < C::kCount; ++k) f(C::kInfo[k], sum[k]);
  }

  std::unique_ptr<Formatter> formatter_;
  std::vector<std::unique_ptr<Output>> outputs_;
  std::vector<EmitterInput> inputs_;
  std::vector<FormatCore*> cores_;
  bool shared_cpu_;
  bool backpressure_;
  bool said_waiting_ = false;
  size_t first_source_ = 0;  // the input or format core served first in the next turn
  std::unique_ptr<char[]> line_;  // one formatted record, handed to every output
  std::atomic<bool> reopen_{false};
  EmitterCounters counters_;
};

}  // namespace flowscribe::emit
