#pragma once
// Format cores (--format-cores N): formatting taken off the emitter core when one core cannot
// format every worker's records (docs/architecture.md, "Format cores").
//
// A format core drains the record rings of its share of the workers (worker i goes to core
// i mod N), formats each record once into a LineBatch, and hands full batches to the emitter
// over a single-producer, single-consumer ring. The emitter copies the lines into its outputs
// and gives each batch back on a second ring. Outputs, their queues, spools, connections and
// drop records stay on the one emitter core, so nothing about delivery changes; the emitter's
// per-record work drops from formatting (~700 cycles) to copying a line (~50).
//
// Order: a flow's records come from one worker, through one format core and one FIFO ring, so
// they reach the outputs in the order the worker wrote them. Records of different workers
// interleave as they do with a single emitter.
//
// Nothing is dropped here. When every batch is in flight (the emitter is behind), the format
// core stops reading its rings: the workers then wait (offline) or count a full ring
// (`worker_record_ring_full`, live), exactly as when the emitter itself falls behind.
#include <rte_mempool.h>
#include <rte_ring.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "emit/emitter_counters.h"
#include "emit/format.h"
#include "emit/line_batch.h"

namespace flowscribe::emit {

class FormatCore {
 public:
  // Batches per core: 32 × 128 KiB = 4 MiB, allocated at start.
  static constexpr unsigned kBatches = 32;

  // `index` names the core's rings ("fs_fmt<index>..."); `socket` is where they live.
  static absl::StatusOr<std::unique_ptr<FormatCore>> create(unsigned index, int socket,
                                                            const FormatConfig& format,
                                                            std::vector<EmitterInput> inputs,
                                                            bool shared_cpu);
  ~FormatCore();
  FormatCore(const FormatCore&) = delete;
  FormatCore& operator=(const FormatCore&) = delete;

  // Runs on its lcore until `producers_done` is set and its rings are empty, then hands over
  // its last batch and sets finished().
  void run(const std::atomic<bool>& producers_done);

  // --- Emitter side
  // Full batches, oldest first (up to `n`).
  unsigned take_full(LineBatch** out, unsigned n) noexcept {
    return rte_ring_sc_dequeue_burst(full_, reinterpret_cast<void**>(out), n, nullptr);
  }
  // Gives read batches back (never fails: the free ring holds every batch).
  void give_back(LineBatch* const* b, unsigned n) noexcept {
    rte_ring_sp_enqueue_bulk(free_, reinterpret_cast<void* const*>(b), n, nullptr);
  }
  // Set (release) after the last batch was handed over.
  bool finished() const noexcept { return finished_.load(std::memory_order_acquire); }

  const EmitterCounters& counters() const noexcept { return counters_; }
  const FormatCounters& format_counters() const noexcept { return formatter_->counters(); }

 private:
  FormatCore() = default;
  // Hands the current batch (if it holds a line) to the emitter.
  void hand_over() noexcept;
  // A batch to format into; waits for the emitter when all are in flight.
  void take_batch() noexcept;

  std::unique_ptr<Formatter> formatter_;
  std::vector<EmitterInput> inputs_;
  std::unique_ptr<LineBatch[]> batches_;
  rte_ring* full_ = nullptr;  // format core -> emitter
  rte_ring* free_ = nullptr;  // emitter -> format core
  LineBatch* cur_ = nullptr;
  bool shared_cpu_ = false;
  std::atomic<bool> finished_{false};
  EmitterCounters counters_;
};

}  // namespace flowscribe::emit
