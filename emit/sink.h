#pragma once
// Where formatted lines go. A Sink takes whole batches of complete lines; BatchWriter builds
// those batches (size or deadline, whichever comes first). Emitter core only.
//
// EPIPE: a write to a closed pipe raises SIGPIPE, which kills the process unless the sensor
// ignores it (signal(SIGPIPE, SIG_IGN) at start-up, sensor/ owns signals); with it ignored,
// StdoutSink returns the EPIPE as an error status.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/counters.h"
#include "common/net.h"

namespace flowscribe::emit {

struct Record;
class Rfc5424Formatter;

class Sink {
 public:
  virtual ~Sink() = default;
  // Writes all of `batch` (complete '\n'-terminated lines) or returns an error. After an
  // error mid-batch the next successful write starts with '\n', so only the one cut line is
  // lost, never the record after it.
  virtual absl::Status write(std::string_view batch) = 0;
  virtual absl::Status flush() { return absl::OkStatus(); }
  // SIGHUP: reopen the destination (a file moved away by logrotate).
  virtual absl::Status reopen() { return absl::OkStatus(); }
  virtual const char* name() const = 0;
};

// Writes to a file descriptor that it does not own: 1 (stdout) unless told otherwise.
class StdoutSink : public Sink {
 public:
  explicit StdoutSink(int fd = 1) : fd_(fd) {}
  absl::Status write(std::string_view batch) override;
  const char* name() const override { return "stdout"; }

 private:
  int fd_;
  bool cut_line_ = false;  // the last write stopped mid-line
};

// Appends to a file (O_APPEND, created 0640). reopen() opens the path again, so logrotate's
// move-then-SIGHUP works; if the new open fails the old file stays in use.
class FileSink : public Sink {
 public:
  static absl::StatusOr<std::unique_ptr<FileSink>> open(std::string path);
  ~FileSink() override;
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;

  absl::Status write(std::string_view batch) override;
  absl::Status reopen() override;
  const char* name() const override { return "file"; }
  const std::string& path() const { return path_; }

 private:
  FileSink(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_;
  bool cut_line_ = false;
};

// "stdout" or "file:PATH". Network outputs are transports (emit/transport.h, net_sink.h).
absl::StatusOr<std::unique_ptr<Sink>> make_sink(std::string_view spec);

#define FS_SINK_COUNTERS(X)                                                        \
  X(emit_records_written, "records written to the sink")                           \
  X(emit_bytes_written, "bytes written to the sink")                               \
  X(emit_batches_written, "batches written to the sink")                           \
  X(emit_write_errors, "batch writes that failed (the batch is dropped)")          \
  X(emit_records_dropped, "records lost because their batch write failed")

FS_DEFINE_COUNTERS(SinkCounters, FS_SINK_COUNTERS);

inline constexpr size_t kDefaultBatchBytes = 256 * 1024;
inline constexpr Nanos kDefaultBatchDelayNs = 100'000'000;  // 100 ms

// Accumulates lines and hands them to the sink in batches: when the buffer reaches
// `max_bytes`, or when the caller sees flush_due(now). `now` is any monotonic nanosecond
// clock the caller already reads (once per loop turn, not per record).
class BatchWriter {
 public:
  explicit BatchWriter(Sink& sink, size_t max_bytes = kDefaultBatchBytes,
                       Nanos max_delay_ns = kDefaultBatchDelayNs);

  // Formats `r` into the batch; writes the batch if it is full. An error is the sink's.
  absl::Status add(Rfc5424Formatter& f, const Record& r, Nanos now);
  // Adds one complete line (must end in '\n').
  absl::Status add_line(std::string_view line, Nanos now);

  // True when lines are waiting and the oldest has waited max_delay_ns or more.
  bool flush_due(Nanos now) const noexcept {
    return records_ != 0 && now - first_ns_ >= max_delay_ns_;
  }
  // Writes whatever is buffered, then flushes the sink.
  absl::Status flush();

  size_t buffered_bytes() const noexcept { return len_; }
  size_t buffered_records() const noexcept { return records_; }
  const SinkCounters& counters() const noexcept { return counters_; }

 private:
  absl::Status write_batch();

  Sink& sink_;
  size_t max_bytes_;
  Nanos max_delay_ns_;
  size_t cap_;                    // max_bytes_ + one formatted line
  std::unique_ptr<char[]> buf_;   // formatted in place: no copy between formatter and sink
  size_t len_ = 0;
  size_t records_ = 0;
  Nanos first_ns_ = 0;
  SinkCounters counters_;
};

}  // namespace flowscribe::emit
