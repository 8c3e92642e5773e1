#include "emit/format_core.h"

#include <rte_pause.h>

#include <string>
#include <unistd.h>

namespace flowscribe::emit {
namespace {

constexpr unsigned kDequeueBurst = 64;

}  // namespace

absl::StatusOr<std::unique_ptr<FormatCore>> FormatCore::create(unsigned index, int socket,
                                                               const FormatConfig& format,
                                                               std::vector<EmitterInput> inputs,
                                                               bool shared_cpu) {
  std::unique_ptr<FormatCore> c(new FormatCore());
  c->formatter_ = make_formatter(format);
  c->inputs_ = std::move(inputs);
  c->shared_cpu_ = shared_cpu;
  // Both rings hold every batch (a ring of size 2^k holds 2^k - 1).
  const std::string full = "fs_fmt" + std::to_string(index) + "_full";
  const std::string free = "fs_fmt" + std::to_string(index) + "_free";
  c->full_ = rte_ring_create(full.c_str(), kBatches * 2, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
  c->free_ = rte_ring_create(free.c_str(), kBatches * 2, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
  if (c->full_ == nullptr || c->free_ == nullptr) {
    return absl::ResourceExhaustedError("cannot allocate the rings of format core " +
                                        std::to_string(index) + ": raise --mem");
  }
  c->batches_.reset(new LineBatch[kBatches]);
  for (unsigned i = 0; i < kBatches; ++i) {
    LineBatch* b = &c->batches_[i];
    std::memset(b->data, 0, sizeof b->data);  // touched now, not on the first busy second
    rte_ring_sp_enqueue(c->free_, b);
  }
  return c;
}

FormatCore::~FormatCore() {
  rte_ring_free(full_);
  rte_ring_free(free_);
}

void FormatCore::hand_over() noexcept {
  if (cur_ == nullptr || cur_->lines == 0) return;
  // The full ring holds every batch, so this cannot fail.
  rte_ring_sp_enqueue(full_, cur_);
  cur_ = nullptr;
}

void FormatCore::take_batch() noexcept {
  void* b = nullptr;
  unsigned spins = 0;
  while (rte_ring_sc_dequeue(free_, &b) != 0) {
    // Every batch is with the emitter: it is behind (or its outputs are). Wait for one; the
    // records already taken off the worker rings are kept, and no more are read meanwhile.
    if (++spins > 64 || shared_cpu_) {
      usleep(shared_cpu_ ? 200 : 20);
    } else {
      rte_pause();
    }
  }
  cur_ = static_cast<LineBatch*>(b);
  cur_->clear();
}

void FormatCore::run(const std::atomic<bool>& producers_done) {
  Record* recs[kDequeueBurst + kMaxContinuations];
  unsigned idle_turns = 0;
  auto format_one = [&](const Record* const* chain, unsigned k) {
    if (cur_ == nullptr) take_batch();
    if (!cur_->has_room()) {
      hand_over();
      take_batch();
    }
    const size_t len = formatter_->format_chain(chain, k, cur_->next_line());
    if (len == 0) return;
    counters_.emitter_bytes.inc(len);
    cur_->commit(static_cast<uint32_t>(len), static_cast<uint32_t>(formatter_->body_offset()));
  };
  for (;;) {
    // Read the flag before draining: producers set it after their last enqueue, so a full
    // pass that finds every ring empty after seeing it means nothing is left.
    const bool done = producers_done.load(std::memory_order_acquire);
    unsigned got = 0;
    for (EmitterInput& in : inputs_) {
      got += drain_input(in, recs, kDequeueBurst, counters_, format_one);
    }
    if (got != 0) {
      idle_turns = 0;
      // A batch goes over when it is full, or when the rings run dry (below): latency stays
      // one loop turn, while a busy core hands over 128 KiB at a time.
      continue;
    }
    hand_over();
    if (done) break;
    if (++idle_turns > 64 || shared_cpu_) {
      usleep(shared_cpu_ ? 200 : 50);
    } else {
      rte_pause();
    }
  }
  hand_over();
  finished_.store(true, std::memory_order_release);
}

}  // namespace flowscribe::emit
