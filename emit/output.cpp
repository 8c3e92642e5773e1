#include "emit/output.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "common/strings.h"

namespace flowscribe::emit {
namespace {

constexpr size_t kSendLines = 1024;         // lines offered to a transport per call
constexpr size_t kSendBytes = 1 << 20;
constexpr int kSendCallsPerPoll = 64;       // then the emitter goes back to its rings
constexpr size_t kRefillBytes = 4 << 20;    // spool read per poll
constexpr Nanos kSpoolSyncEvery = 100'000'000;

Nanos wall_now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<Nanos>(ts.tv_sec) * kNsPerSec + static_cast<Nanos>(ts.tv_nsec);
}

// The output's spool directory under --spool-dir: its name made safe for a file name
// ("tcp://collector:601" -> "tcp___collector_601"), so reordering --out keeps each spool.
std::string spool_subdir(std::string_view spec) {
  std::string s;
  for (char c : spec) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-';
    s.push_back(ok ? c : '_');
  }
  return s;
}

}  // namespace

// --------------------------------------------------------------------------- LineQueue

void LineQueue::push(std::string_view line) {
  if (chunks_.empty() || chunks_.back().end + line.size() > kChunkBytes) {
    Chunk c;
    if (!spare_.empty()) {
      c.data = std::move(spare_.back());
      spare_.pop_back();
    } else {
      c.data.reset(new char[kChunkBytes]);
    }
    chunks_.push_back(std::move(c));
  }
  Chunk& c = chunks_.back();
  std::memcpy(c.data.get() + c.end, line.data(), line.size());
  c.end += line.size();
  lens_.push_back(static_cast<uint32_t>(line.size()));
  bytes_ += line.size();
}

void LineQueue::peek_unsent(std::vector<std::string_view>& out, size_t max_lines,
                            size_t max_bytes) const {
  size_t ci = cur_chunk_;
  size_t off = cur_off_;
  size_t bytes = 0;
  for (size_t i = sent_; i < lens_.size() && out.size() < max_lines && bytes < max_bytes; ++i) {
    if (off == chunks_[ci].end) {
      ++ci;
      off = chunks_[ci].begin;
    }
    const uint32_t len = lens_[i];
    out.emplace_back(chunks_[ci].data.get() + off, len);
    off += len;
    bytes += len;
  }
}

void LineQueue::mark_sent(size_t n) {
  for (size_t k = 0; k < n; ++k) {
    if (cur_off_ == chunks_[cur_chunk_].end) {
      ++cur_chunk_;
      cur_off_ = chunks_[cur_chunk_].begin;
    }
    const uint32_t len = lens_[sent_];
    cur_off_ += len;
    ++sent_;
    sent_bytes_ += len;
  }
}

void LineQueue::rewind() noexcept {
  sent_ = 0;
  sent_bytes_ = 0;
  cur_chunk_ = 0;
  cur_off_ = chunks_.empty() ? 0 : chunks_.front().begin;
}

void LineQueue::copy_all(std::string& out) const {
  for (const Chunk& c : chunks_) out.append(c.data.get() + c.begin, c.end - c.begin);
}

// --------------------------------------------------------------------------- Output

absl::StatusOr<std::unique_ptr<Output>> Output::open(std::string_view text, const NetConfig& net,
                                                     const OutputConfig& cfg) {
  absl::StatusOr<OutputSpec> spec = parse_output_spec(text);
  if (!spec.ok()) return spec.status();
  std::unique_ptr<Output> o(new Output(*spec, cfg));
  absl::StatusOr<std::unique_ptr<Transport>> t = make_transport(*spec, net, o->counters_);
  if (!t.ok()) return t.status();
  o->transport_ = *std::move(t);
  o->reliable_ = o->transport_->reliable();
  if (o->reliable_ && !cfg.spool_dir.empty()) {
    if (::mkdir(cfg.spool_dir.c_str(), 0750) != 0 && errno != EEXIST) {
      return absl::FailedPreconditionError(
          cat("--spool-dir ", cfg.spool_dir, ": ", std::strerror(errno)));
    }
    absl::StatusOr<std::unique_ptr<Spool>> sp =
        Spool::open(cat(cfg.spool_dir, "/", spool_subdir(spec->text)), cfg.spool_max_bytes);
    if (!sp.ok()) return sp.status();
    o->spool_ = *std::move(sp);
    if (o->spool_->has_unread()) {
      std::fprintf(stderr, "flowscribe: output %s: %lu records from an earlier run wait in %s; "
                   "they go first\n",
                   spec->text.c_str(), static_cast<unsigned long>(o->spool_->unread_records()),
                   o->spool_->dir().c_str());
    }
  }
  o->update_gauges();
  return o;
}

Output::Output(OutputSpec spec, const OutputConfig& cfg) : spec_(std::move(spec)), cfg_(cfg) {
  batch_.reserve(kSendLines);
}

Output::~Output() = default;

bool Output::failed() const noexcept {
  return counters_.output_dropped.get() != 0 || transport_->broken();
}

bool Output::accept(std::string_view line, Nanos now) {
  if (spool_ && spool_->has_unread()) {
    // Behind older spooled records: keep the order.
    if (!spool_->append(line)) return false;
    counters_.output_spooled.inc();
    return true;
  }
  if (queue_.bytes() + line.size() <= cfg_.queue_bytes || queue_.records() == 0) {
    if (queue_.unsent() == 0) oldest_unsent_ = now;
    queue_.push(line);
    if (!runs_.empty() && !runs_.back().from_spool) {
      ++runs_.back().lines;
    } else {
      runs_.push_back({1, false});
    }
    return true;
  }
  if (queue_.sent() != 0) {
    // Full: first what the collector has ACKed and only waits out its grace.
    apply_acked(transport_->release_grace());
    if (queue_.bytes() + line.size() <= cfg_.queue_bytes) return accept(line, now);
  }
  if (spool_ && spool_->append(line)) {
    counters_.output_spooled.inc();
    return true;
  }
  return false;
}

void Output::note_drop(uint64_t n) {
  counters_.output_dropped.inc(n);
  if (transport_->broken()) return;  // said once by the transport; no drops record either
  const Nanos t = wall_now();
  if (unreported_drops_ == 0) drops_first_ = t;
  drops_last_ = t;
  unreported_drops_ += n;
  delivered_since_drop_ = false;
  if (!drop_logged_) {
    std::fprintf(stderr, "flowscribe: output %s: dropping records: %s (counted in "
                 "output_dropped; a 'drops' record follows when it is back)\n",
                 spec_.text.c_str(),
                 spool_ ? "queue and spool are full"
                        : (reliable_ ? "the queue is full and there is no --spool-dir"
                                     : "the queue is full or sending failed"));
    drop_logged_ = true;
  }
}

void Output::report_drops(Nanos now, bool at_exit) {
  if (unreported_drops_ == 0 || transport_->broken()) return;
  // Only once records reach the collector again, so a drops record is not itself lost (and
  // reported, and lost...) while the collector is away.
  if (!at_exit && !delivered_since_drop_) return;
  const std::string line = format_drops_line(format_, spec_.text, unreported_drops_,
                                             drops_first_, drops_last_, wall_now(),
                                             syslog_framed());
  if (!accept(line, now)) {
    if (!at_exit) return;
    queue_.push(line);  // at exit the queue is spooled whole: go past the cap by one line
    runs_.push_back({1, false});
  }
  counters_.output_records.inc();
  counters_.output_drop_reports.inc();
  unreported_drops_ = 0;
  drop_logged_ = false;
}

void Output::push(std::string_view line, Nanos now) {
  counters_.output_records.inc();
  if (unreported_drops_ != 0) report_drops(now, false);
  if (!accept(line, now)) note_drop(1);
}

void Output::collect_acks(Nanos now) {
  if (transport_->take_reset()) {
    // The connection died: what it had not acknowledged goes again, oldest first.
    counters_.output_resent.inc(queue_.sent());
    queue_.rewind();
    oldest_unsent_ = 0;
  }
  apply_acked(transport_->take_acked(now));
  // Past half the queue, the grace gives way: records TCP has ACKed leave it now, so that a
  // collector keeping up is never held back by the queue (nor records dropped for it) at
  // rates above --out-queue-mb / (1 s x line size).
  if (queue_.sent() != 0 && queue_.bytes() > cfg_.queue_bytes / 2) {
    apply_acked(transport_->release_grace());
  }
}

void Output::apply_acked(const Acked& a) {
  if (a.records == 0) return;
  uint64_t spool_bytes = 0;
  queue_.pop(a.records, [&](uint32_t len) {
    if (runs_.front().from_spool) spool_bytes += len;
    if (--runs_.front().lines == 0) runs_.pop_front();
  });
  if (spool_bytes != 0) spool_->consume(spool_bytes);
  counters_.output_sent.inc(a.records - a.lost);
  if (a.records > a.lost) delivered_since_drop_ = true;
  if (a.lost != 0) note_drop(a.lost);
}

void Output::refill() {
  if (!spool_ || !spool_->has_unread() || queue_.bytes() > cfg_.queue_bytes / 2) return;
  const size_t room = std::min(cfg_.queue_bytes - queue_.bytes(), kRefillBytes);
  refill_buf_.clear();
  const size_t n = spool_->read(refill_buf_, room);
  if (n == 0) return;
  size_t start = 0;
  while (start < refill_buf_.size()) {
    const size_t nl = refill_buf_.find('\n', start);
    queue_.push(std::string_view(refill_buf_).substr(start, nl + 1 - start));
    start = nl + 1;
  }
  if (!runs_.empty() && runs_.back().from_spool) {
    runs_.back().lines += n;
  } else {
    runs_.push_back({n, true});
  }
  counters_.output_replayed.inc(n);
  oldest_unsent_ = 0;  // old records: send at once
}

void Output::flush(Nanos now, bool force) {
  if (queue_.unsent() == 0) return;
  if (!force && queue_.unsent_bytes() < cfg_.batch_bytes &&
      now - oldest_unsent_ < cfg_.batch_delay_ns) {
    return;
  }
  if (!transport_->up(now)) return;
  for (int calls = 0; calls < kSendCallsPerPoll && queue_.unsent() != 0; ++calls) {
    batch_.clear();
    queue_.peek_unsent(batch_, kSendLines, kSendBytes);
    const size_t n = transport_->send(batch_);
    queue_.mark_sent(n);
    if (n < batch_.size()) break;  // the kernel is full, or the connection went: next turn
  }
}

void Output::update_gauges() {
  counters_.output_queue_bytes.set(queue_.bytes());
  counters_.output_queued.set(queue_.records());
  counters_.output_spool_bytes.set(spool_ ? spool_->bytes() : 0);
  counters_.output_spool_records.set(spool_ ? spool_->unread_records() : 0);
}

void Output::poll(Nanos now) {
  collect_acks(now);
  if (unreported_drops_ != 0) report_drops(now, false);
  if (spool_ && spool_->has_unread() && transport_->up(now)) refill();
  flush(now, false);
  if (spool_ && now - spool_synced_ >= kSpoolSyncEvery) {
    spool_->sync(now);
    spool_synced_ = now;
  }
  update_gauges();
}

void Output::start_drain() { transport_->retry_now(); }

bool Output::drained(Nanos now) {
  collect_acks(now);
  const bool up = transport_->up(now);
  // Connected at exit: good enough to tell the collector about drops now.
  if (unreported_drops_ != 0 && up) report_drops(now, true);
  if (up && spool_ && spool_->has_unread()) refill();
  flush(now, true);
  const bool all_sent =
      queue_.unsent() == 0 && unreported_drops_ == 0 && !(spool_ && spool_->has_unread());
  const bool confirmed = all_sent && transport_->drain_close(now);
  collect_acks(now);
  update_gauges();
  if (confirmed && queue_.records() == 0) return true;
  // Collector away (the attempt made for the exit failed): nothing more to do now.
  return !transport_->up(now) && !transport_->connecting();
}

void Output::finish(Nanos now) {
  collect_acks(now);
  if (unreported_drops_ != 0) report_drops(now, true);
  const size_t left = queue_.records();
  if (left != 0) {
    size_t direct = 0;
    for (const Run& r : runs_) direct += r.from_spool ? 0 : r.lines;
    if (spool_) {
      std::string all;
      queue_.copy_all(all);
      absl::Status s = spool_->rewrite_front(all);
      if (s.ok()) {
        counters_.output_spooled.inc(direct);
      } else {
        std::fprintf(stderr, "flowscribe: output %s: %s\n", spec_.text.c_str(),
                     std::string(s.message()).c_str());
        counters_.output_dropped.inc(direct);
      }
    } else {
      std::fprintf(stderr, "flowscribe: output %s: %zu records were not delivered before exit%s\n",
                   spec_.text.c_str(), left,
                   reliable_ ? " (give --spool-dir to keep them for the next run)" : "");
      counters_.output_dropped.inc(left);
    }
    queue_.pop(left, [](uint32_t) {});
    runs_.clear();
  }
  if (spool_) spool_->sync(now, true);
  transport_->close();
  update_gauges();
}

void Output::reopen() { transport_->reopen(); }

}  // namespace flowscribe::emit
