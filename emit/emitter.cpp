#include "emit/emitter.h"

#include <rte_pause.h>

#include <algorithm>
#include <cstdio>
#include <time.h>
#include <unistd.h>

#include "emit/record.h"

namespace flowscribe::emit {
namespace {

constexpr unsigned kDequeueBurst = 64;
// Line batches taken from one format core per loop turn.
constexpr unsigned kBatchBurst = 4;

// CLOCK_MONOTONIC through the vDSO (~20 ns), read once per loop turn for every output's
// deadlines, backoff and acknowledgements.
Nanos mono_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<Nanos>(ts.tv_sec) * kNsPerSec + static_cast<Nanos>(ts.tv_nsec);
}

}  // namespace

Emitter::Emitter(const FormatConfig& format, std::vector<std::unique_ptr<Output>> outputs,
                 std::vector<EmitterInput> inputs, bool shared_cpu, bool backpressure,
                 std::vector<FormatCore*> cores)
    : formatter_(make_formatter(format)),
      outputs_(std::move(outputs)),
      inputs_(std::move(inputs)),
      cores_(std::move(cores)),
      shared_cpu_(shared_cpu),
      backpressure_(backpressure),
      line_(new char[kFormatBufferBytes]) {
  for (auto& o : outputs_) o->set_format(format);
}

bool Emitter::output_failed() const noexcept {
  for (const auto& o : outputs_) {
    if (o->failed()) return true;
  }
  return false;
}

void Emitter::run(const std::atomic<bool>& producers_done) {
  // A burst, plus the continuation slots of a record that ends it (dequeued after it).
  Record* recs[kDequeueBurst + kMaxContinuations];
  unsigned idle_turns = 0;
  for (;;) {
    // Read the flag before draining: producers set it after their last enqueue, so a full
    // pass that finds every ring empty after seeing it means nothing is left.
    bool done = producers_done.load(std::memory_order_acquire);
    for (const FormatCore* c : cores_) done = done && c->finished();
    const Nanos now = mono_now();
    if (backpressure_) {
      if (saturated()) {
        if (!said_waiting_) {
          std::fprintf(stderr, "flowscribe: an output's queue is full: waiting for it (offline "
                               "mode loses nothing; --spool-dir would let reading go on)\n");
          said_waiting_ = true;
        }
        for (auto& o : outputs_) o->poll(now);
        usleep(200);
        continue;
      }
    }
    unsigned got = 0;
    // The room is checked again before each input or format core after the first: one pass
    // over N of them brings up to N bursts, into a queue that had room for one (offline with
    // a slow collector and a small --out-queue-mb, that was a drop). The first one served
    // turns round, so that none waits behind the others.
    bool held = false;
    const size_t sources = cores_.empty() ? inputs_.size() : cores_.size();
    const size_t first = sources != 0 ? first_source_++ % sources : 0;
    for (size_t turn = 0; turn < sources; ++turn) {
      if (turn != 0 && backpressure_ && saturated()) {
        held = true;
        break;
      }
      const size_t i = (first + turn) % sources;
      if (cores_.empty()) {
        got += drain_input(inputs_[i], recs, kDequeueBurst, counters_,
                           [&](const Record* const* chain, unsigned k) {
          // Formatted once; each output copies the line into its own queue.
          const size_t len = formatter_->format_chain(chain, k, line_.get());
          if (len == 0) return;
          counters_.emitter_bytes.inc(len);
          push_line(std::string_view(line_.get(), len), formatter_->body_offset(), now);
        });
      } else {
        // Lines a format core made: copied into the outputs, then the batch goes back.
        FormatCore* c = cores_[i];
        LineBatch* batches[kBatchBurst];
        const unsigned n = c->take_full(batches, kBatchBurst);
        for (unsigned b = 0; b < n; ++b) {
          batches[b]->for_each([&](std::string_view line, uint32_t body_off) {
            push_line(line, body_off, now);
          });
        }
        if (n) c->give_back(batches, n);
        got += n;
      }
    }
    for (auto& o : outputs_) o->poll(now);
    if (reopen_.exchange(false, std::memory_order_relaxed)) {
      for (auto& o : outputs_) o->reopen();
      counters_.emitter_reopens.inc();
    }
    if (got != 0 || held) {  // held: not a full pass, so not a sign that all is drained
      idle_turns = 0;
      continue;
    }
    if (done) break;
    // Idle: back off so that a quiet sensor (or one sharing a CPU) does not burn a core.
    if (++idle_turns > 64 || shared_cpu_) {
      usleep(shared_cpu_ ? 200 : 50);
    } else {
      rte_pause();
    }
  }
  drain_outputs();
}

bool Emitter::saturated() const noexcept {
  // What one input or format core can bring in a turn.
  const size_t burst = cores_.empty() ? kDequeueBurst * kFormatBufferBytes
                                      : kBatchBurst * LineBatch::kBytes;
  for (const auto& o : outputs_) {
    if (o->saturated(burst)) return true;
  }
  return false;
}

void Emitter::push_line(std::string_view line, size_t body_off, Nanos now) {
  // JSON/CEF/LEEF: network outputs take the line with its syslog header, file: and stdout
  // the bare text after it (body_off is 0 for RFC 5424).
  const std::string_view body = line.substr(body_off);
  for (auto& o : outputs_) o->push(o->syslog_framed() ? line : body, now);
}

void Emitter::drain_outputs() {
  const Nanos start = mono_now();
  for (auto& o : outputs_) o->start_drain();
  std::vector<bool> finished(outputs_.size(), false);
  size_t left = outputs_.size();
  while (left != 0) {
    const Nanos now = mono_now();
    for (size_t i = 0; i < outputs_.size(); ++i) {
      if (finished[i]) continue;
      if (outputs_[i]->drained(now) || now - start >= kDrainTimeout) {
        outputs_[i]->finish(now);
        finished[i] = true;
        --left;
      }
    }
    if (left != 0) usleep(1000);
  }
}

}  // namespace flowscribe::emit
