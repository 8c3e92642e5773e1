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
class Formatter;

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

// --file-fsync: when file: outputs call fdatasync(2). kNever leaves it to the kernel's
// writeback (a crash of flowscribe loses nothing, a power loss up to ~30 s); kBatch syncs
// after every batch write (durable, costs a disk flush per batch); kInterval at the first
// batch write `fsync_s` or more after the last sync. Every policy but kNever also syncs
// before a rotation and at exit.
enum class FsyncPolicy : uint8_t { kNever, kBatch, kInterval };

// Rotation and durability of file: outputs (docs/siem.md "Files").
struct FileConfig {
  uint64_t max_bytes = 0;   // --file-max-mb: rotate before a file would pass this; 0 = never
  uint32_t rotate_s = 0;    // --file-rotate: rotate a non-empty file this old; 0 = never
  uint32_t keep = 10;       // --file-keep: PATH.1 (newest) .. PATH.keep; 0 = delete at rotation
  FsyncPolicy fsync = FsyncPolicy::kNever;  // --file-fsync
  uint32_t fsync_s = 0;     // kInterval's period
};

// Parses --file-fsync: "never", "batch" or a number of seconds (1-86400).
absl::StatusOr<FileConfig> parse_fsync_policy(std::string_view text, FileConfig cfg);

// Counts kept by a FileSink (summed into the output's counters by SinkTransport).
struct FileSinkStats {
  uint64_t rotations = 0;
  uint64_t rotate_errors = 0;
  uint64_t fsyncs = 0;
};

// Appends to a file (O_APPEND, created 0640). reopen() opens the path again, so logrotate's
// move-then-SIGHUP works; if the new open fails the old file stays in use. With max_bytes or
// rotate_s it rotates itself: PATH.(keep-1) -> PATH.keep, ..., PATH -> PATH.1, new PATH. A
// size rotation splits a batch at a line boundary, so no file passes max_bytes (a single line
// longer than it gets a file of its own). Time is checked at writes: an idle file is rotated
// by the first record after its time is up.
class FileSink : public Sink {
 public:
  static absl::StatusOr<std::unique_ptr<FileSink>> open(std::string path,
                                                        const FileConfig& cfg = {});
  ~FileSink() override;
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;

  absl::Status write(std::string_view batch) override;
  absl::Status reopen() override;
  const char* name() const override { return "file"; }
  const std::string& path() const { return path_; }
  const FileSinkStats& stats() const noexcept { return stats_; }
  uint64_t size() const noexcept { return size_; }

 private:
  FileSink(std::string path, int fd, const FileConfig& cfg);
  // Renames the chain and opens a fresh PATH; on failure keeps writing to the old file.
  absl::Status rotate();
  void sync();
  void reset_file_state();

  std::string path_;
  int fd_;
  FileConfig cfg_;
  uint64_t size_ = 0;       // bytes in the current file
  Nanos opened_ns_ = 0;     // CLOCK_MONOTONIC when the current file was opened
  Nanos synced_ns_ = 0;
  bool dirty_ = false;      // written since the last fdatasync
  bool rotate_failed_ = false;  // the error was printed; retried at the next rotation point
  bool cut_line_ = false;
  FileSinkStats stats_;
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
  absl::Status add(Formatter& f, const Record& r, Nanos now);
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
