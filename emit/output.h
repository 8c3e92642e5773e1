#pragma once
// One --out destination on the emitter core: its own bounded memory queue, its own batching
// (by size and by deadline), its transport, and for TCP/TLS an optional on-disk spool. The
// emitter formats a record once and hands the line to every output (docs/siem.md).
//
// Order is kept end to end. While the spool holds records that were not read back yet, new
// records go behind them into the spool; the queue refills from the spool as it drains. So a
// collector that returns gets the backlog first, oldest first, then the live stream.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/net.h"
#include "emit/format.h"
#include "emit/spool.h"
#include "emit/transport.h"

namespace flowscribe::emit {

struct OutputConfig {
  size_t queue_bytes = 64 << 20;       // --out-queue-mb
  std::string spool_dir;               // --spool-dir; empty: no spool (drop when full)
  uint64_t spool_max_bytes = 1ULL << 30;  // --spool-max-mb
  size_t batch_bytes = 256 * 1024;     // a flush once this much is waiting
  Nanos batch_delay_ns = 100'000'000;  // ... or the oldest waiting line is this old
};

// FIFO of '\n'-terminated lines in 1 MiB chunks (no allocation per line; spare chunks are
// kept). Lines before the cursor are "sent": handed to the transport, not yet acknowledged.
class LineQueue {
 public:
  static constexpr size_t kChunkBytes = 1 << 20;

  void push(std::string_view line);
  size_t records() const noexcept { return lens_.size(); }
  size_t bytes() const noexcept { return bytes_; }
  size_t sent() const noexcept { return sent_; }
  size_t unsent() const noexcept { return lens_.size() - sent_; }
  size_t unsent_bytes() const noexcept { return bytes_ - sent_bytes_; }

  // Views of up to `max_lines` unsent lines (about `max_bytes`), oldest first.
  void peek_unsent(std::vector<std::string_view>& out, size_t max_lines, size_t max_bytes) const;
  void mark_sent(size_t n);
  // Everything sent but unacknowledged becomes unsent again (a lost connection).
  void rewind() noexcept;
  // Drops the `n` oldest (sent) lines; `on_line(len)` sees each one's length.
  template <typename F>
  void pop(size_t n, F&& on_line);
  // Appends every line (sent or not) to `out`, oldest first.
  void copy_all(std::string& out) const;

 private:
  struct Chunk {
    std::unique_ptr<char[]> data;
    size_t begin = 0;
    size_t end = 0;
  };
  std::deque<Chunk> chunks_;
  std::deque<uint32_t> lens_;
  std::vector<std::unique_ptr<char[]>> spare_;
  size_t bytes_ = 0;
  size_t sent_ = 0;
  size_t sent_bytes_ = 0;
  size_t cur_chunk_ = 0;  // the cursor: first unsent line
  size_t cur_off_ = 0;
};

class Output {
 public:
  static absl::StatusOr<std::unique_ptr<Output>> open(std::string_view spec, const NetConfig& net,
                                                      const OutputConfig& cfg);
  ~Output();

  // The header of this output's `drops` records (docs/records.md).
  void set_format(const FormatConfig& f) { format_ = f; }

  // One formatted line ('\n'-terminated), `now` monotonic.
  void push(std::string_view line, Nanos now);
  // Connects, flushes due batches, collects acknowledgements, refills from the spool.
  void poll(Nanos now);
  // The memory queue cannot take another burst and there is no spool to take it: offline,
  // the emitter then stops reading records (the workers wait) instead of dropping them.
  bool saturated(size_t burst_bytes) const noexcept {
    return !spool_ && !transport_->broken() && queue_.records() != 0 &&
           queue_.bytes() + burst_bytes > cfg_.queue_bytes;
  }
  // At exit: one more connection attempt now, whatever the backoff says.
  void start_drain();
  // At exit: true once everything was delivered (or nothing more can be done for now).
  bool drained(Nanos now);
  // At exit, after drained() or its time ran out: what is left goes to the spool (TCP/TLS
  // with --spool-dir) or is counted as dropped; closes the connection.
  void finish(Nanos now);
  void reopen();

  const std::string& name() const noexcept { return spec_.text; }
  // Network outputs (udp, tcp, tls, failover) send JSON/CEF/LEEF lines with their RFC 5424
  // header; file: and stdout write the bare text (Formatter::body_offset()).
  bool syslog_framed() const noexcept {
    return spec_.scheme != Scheme::kStdout && spec_.scheme != Scheme::kFile;
  }
  // Connection state for the stats line (any core): "up 3.2s", per member for a group.
  std::string health_text() const { return transport_->health_text(); }
  const Transport& transport() const noexcept { return *transport_; }
  const OutputSpec& spec() const noexcept { return spec_; }
  const OutputCounters& counters() const noexcept { return counters_; }
  // Records still in the spool (for the summary after finish()).
  uint64_t spooled_waiting() const noexcept { return spool_ ? spool_->unread_records() : 0; }
  const Spool* spool() const noexcept { return spool_.get(); }
  // Records were lost, or a stdout/file write failed (exit status 1).
  bool failed() const noexcept;

 private:
  Output(OutputSpec spec, const OutputConfig& cfg);
  bool accept(std::string_view line, Nanos now);
  void note_drop(uint64_t n);
  void report_drops(Nanos now, bool at_exit);
  void flush(Nanos now, bool force);
  void collect_acks(Nanos now);
  void apply_acked(const Acked& a);
  void refill();
  void update_gauges();

  OutputSpec spec_;
  OutputConfig cfg_;
  FormatConfig format_;
  OutputCounters counters_;
  std::unique_ptr<Transport> transport_;
  std::unique_ptr<Spool> spool_;
  LineQueue queue_;
  // Which queued lines came from the spool (their bytes are consumed there once delivered):
  // runs of {lines, from_spool}, oldest first.
  struct Run {
    size_t lines;
    bool from_spool;
  };
  std::deque<Run> runs_;
  std::vector<std::string_view> batch_;
  std::string refill_buf_;
  Nanos oldest_unsent_ = 0;     // when the oldest unsent line was queued
  bool reliable_ = false;
  uint64_t unreported_drops_ = 0;
  Nanos drops_first_ = 0;       // wall clock of the first and last unreported drop
  Nanos drops_last_ = 0;
  bool drop_logged_ = false;
  bool delivered_since_drop_ = false;
  Nanos spool_synced_ = 0;
};

template <typename F>
void LineQueue::pop(size_t n, F&& on_line) {
  for (size_t i = 0; i < n; ++i) {
    const uint32_t len = lens_.front();
    lens_.pop_front();
    on_line(len);
    Chunk& c = chunks_.front();
    c.begin += len;
    bytes_ -= len;
    if (sent_ > 0) {
      --sent_;
      sent_bytes_ -= len;
    }
    if (c.begin == c.end && (chunks_.size() > 1 || lens_.empty())) {
      if (spare_.size() < 2) spare_.push_back(std::move(c.data));
      chunks_.pop_front();
      if (cur_chunk_ > 0) {
        --cur_chunk_;
      } else {
        cur_off_ = 0;
      }
    }
  }
}

}  // namespace flowscribe::emit
