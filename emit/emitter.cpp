#include "emit/emitter.h"

#include <rte_cycles.h>
#include <rte_pause.h>
#include <unistd.h>

#include <cstdio>

#include "emit/record.h"

namespace flowscribe::emit {
namespace {

constexpr size_t kBatchBytes = 256 * 1024;  // one write() per ~1000 session records
constexpr unsigned kDequeueBurst = 64;
constexpr uint64_t kFlushDeadlineUs = 100'000;  // a quiet network still sees records promptly

}  // namespace

Emitter::Emitter(const FormatConfig& format, std::vector<std::unique_ptr<Sink>> sinks,
                 std::vector<EmitterInput> inputs, bool shared_cpu)
    : formatter_(format),
      sinks_(std::move(sinks)),
      sink_broken_(sinks_.size(), false),
      inputs_(std::move(inputs)),
      shared_cpu_(shared_cpu) {
  buf_.reserve(kBatchBytes + 64 * 1024);
}

void Emitter::write_batch(uint64_t records) {
  if (buf_.empty()) return;
  for (size_t i = 0; i < sinks_.size(); ++i) {
    if (sink_broken_[i]) {
      counters_.emitter_records_lost_output.inc(records);
      continue;
    }
    absl::Status s = sinks_[i]->write(buf_);
    if (!s.ok()) {
      counters_.emitter_write_errors.inc();
      counters_.emitter_records_lost_output.inc(records);
      sink_broken_[i] = true;
      output_failed_.store(true, std::memory_order_relaxed);
      std::fprintf(stderr, "flowscribe: output %s failed, its records are counted as lost: %s\n",
                   sinks_[i]->name(), std::string(s.message()).c_str());
    }
  }
  counters_.emitter_batches.inc();
  buf_.clear();
  buf_records_ = 0;
}

void Emitter::run(const std::atomic<bool>& producers_done) {
  Record* recs[kDequeueBurst];
  const uint64_t hz = rte_get_tsc_hz();
  const uint64_t deadline_cycles = hz / 1'000'000 * kFlushDeadlineUs;
  uint64_t last_flush = rte_rdtsc();
  unsigned idle_turns = 0;
  for (;;) {
    // Read the flag before draining: producers set it after their last enqueue, so a full
    // pass that finds every ring empty after seeing it means nothing is left.
    bool done = producers_done.load(std::memory_order_acquire);
    unsigned got = 0;
    for (EmitterInput& in : inputs_) {
      unsigned n = rte_ring_sc_dequeue_burst(in.ring, reinterpret_cast<void**>(recs),
                                             kDequeueBurst, nullptr);
      for (unsigned i = 0; i < n; ++i) {
        size_t before = buf_.size();
        formatter_.format(*recs[i], buf_);
        counters_.emitter_bytes.inc(buf_.size() - before);
      }
      if (n) rte_mempool_put_bulk(in.pool, reinterpret_cast<void**>(recs), n);
      counters_.emitter_records.inc(n);
      buf_records_ += n;
      got += n;
    }
    if (buf_.size() >= kBatchBytes) {
      write_batch(buf_records_);
      last_flush = rte_rdtsc();
    }
    if (reopen_.exchange(false, std::memory_order_relaxed)) {
      write_batch(buf_records_);
      for (auto& s : sinks_) (void)s->reopen();
      counters_.emitter_reopens.inc();
    }
    if (got != 0) {
      idle_turns = 0;
      continue;
    }
    if (done) break;
    uint64_t now = rte_rdtsc();
    if (!buf_.empty() && now - last_flush > deadline_cycles) {
      write_batch(buf_records_);
      for (auto& s : sinks_) (void)s->flush();
      last_flush = now;
    }
    // Idle: back off so that a quiet sensor (or one sharing a CPU) does not burn a core.
    if (++idle_turns > 64 || shared_cpu_) {
      usleep(shared_cpu_ ? 200 : 50);
    } else {
      rte_pause();
    }
  }
  write_batch(buf_records_);
  for (auto& s : sinks_) (void)s->flush();
}

}  // namespace flowscribe::emit
