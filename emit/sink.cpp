#include "emit/sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>
#include "common/fd_io.h"
#include "common/strings.h"
#include "emit/format.h"
#include "emit/record.h"

namespace flowscribe::emit {

namespace {

int write_all(int fd, std::string_view data, size_t* written) {
  return flowscribe::write_all(fd, data.data(), data.size(), written);
}

// The shared write path of both sinks: repairs a line cut by the previous failed write.
absl::Status write_lines(int fd, std::string_view batch, bool& cut_line, const char* what) {
  size_t written = 0;
  if (cut_line) {
    if (int err = write_all(fd, "\n", &written)) {
      return absl::UnavailableError(
          fmt::format("write to {} failed: {}", what, std::strerror(err)));
    }
    cut_line = false;
  }
  if (int err = write_all(fd, batch, &written)) {
    cut_line = written != 0 && batch[written - 1] != '\n';
    return absl::UnavailableError(fmt::format("write to {} failed after {} of {} bytes: {}", what,
                                              written, batch.size(), std::strerror(err)));
  }
  return absl::OkStatus();
}

int open_append(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

absl::Status stdout_write(int fd, std::string_view batch, bool& cut_line) {
  return write_lines(fd, batch, cut_line, "stdout");
}

Nanos mono_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<Nanos>(ts.tv_sec) * kNsPerSec + static_cast<Nanos>(ts.tv_nsec);
}

}  // namespace

absl::Status StdoutSink::write(std::string_view batch) {
  return stdout_write(fd_, batch, cut_line_);
}

absl::StatusOr<FileConfig> parse_fsync_policy(std::string_view text, FileConfig cfg) {
  if (text == "never") {
    cfg.fsync = FsyncPolicy::kNever;
  } else if (text == "batch") {
    cfg.fsync = FsyncPolicy::kBatch;
  } else {
    uint32_t s = 0;
    if (!parse_uint(text, s) || s == 0 || s > 86400) {
      return absl::InvalidArgumentError(
          fmt::format("expected never, batch or seconds from 1 to 86400, got '{}'", text));
    }
    cfg.fsync = FsyncPolicy::kInterval;
    cfg.fsync_s = s;
  }
  return cfg;
}

FileSink::FileSink(std::string path, int fd, const FileConfig& cfg)
    : path_(std::move(path)), fd_(fd), cfg_(cfg) {
  reset_file_state();
  synced_ns_ = opened_ns_;
}

void FileSink::reset_file_state() {
  struct stat st{};
  size_ = ::fstat(fd_, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;  // appending to it
  opened_ns_ = mono_ns();
}

absl::StatusOr<std::unique_ptr<FileSink>> FileSink::open(std::string path, const FileConfig& cfg) {
  if (path.empty()) {
    return absl::InvalidArgumentError("output file:PATH needs a path after 'file:'");
  }
  const int fd = open_append(path);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        fmt::format("cannot open output file '{}': {}", path, std::strerror(errno)));
  }
  return std::unique_ptr<FileSink>(new FileSink(std::move(path), fd, cfg));
}

FileSink::~FileSink() {
  if (fd_ < 0) return;
  if (cfg_.fsync != FsyncPolicy::kNever) sync();
  ::close(fd_);
}

void FileSink::sync() {
  if (!dirty_) return;
  // An fdatasync error is not a lost record (the data is in the page cache); it is counted
  // with the rotation errors' stderr line left to the next write's own error, if any.
  if (::fdatasync(fd_) == 0) ++stats_.fsyncs;
  dirty_ = false;
  synced_ns_ = mono_ns();
}

absl::Status FileSink::rotate() {
  if (cfg_.fsync != FsyncPolicy::kNever) sync();
  auto numbered = [&](uint32_t i) { return fmt::format("{}.{}", path_, i); };
  int err = 0;
  if (cfg_.keep == 0) {
    if (::unlink(path_.c_str()) != 0 && errno != ENOENT) err = errno;
  } else {
    for (uint32_t i = cfg_.keep - 1; i >= 1 && err == 0; --i) {
      if (::rename(numbered(i).c_str(), numbered(i + 1).c_str()) != 0 && errno != ENOENT) {
        err = errno;
      }
    }
    if (err == 0 && ::rename(path_.c_str(), numbered(1).c_str()) != 0) err = errno;
  }
  int fd = -1;
  if (err == 0) {
    fd = open_append(path_);
    if (fd < 0) err = errno;
  }
  if (err != 0) {
    // Keep writing to the file we have; try again after another max_bytes or rotate_s.
    ++stats_.rotate_errors;
    size_ = 0;
    opened_ns_ = mono_ns();
    return absl::UnavailableError(fmt::format(
        "cannot rotate output file '{}' (still writing to the current file): {}", path_,
        std::strerror(err)));
  }
  ::close(fd_);
  fd_ = fd;
  size_ = 0;
  opened_ns_ = mono_ns();
  cut_line_ = false;
  ++stats_.rotations;
  return absl::OkStatus();
}

absl::Status FileSink::write(std::string_view batch) {
  if (cfg_.rotate_s != 0 && size_ != 0 &&
      mono_ns() - opened_ns_ >= Nanos{cfg_.rotate_s} * kNsPerSec) {
    if (absl::Status s = rotate(); !s.ok()) {
      std::fprintf(stderr, "flowscribe: %s\n", std::string(s.message()).c_str());
    }
  }
  std::string_view rest = batch;
  absl::Status status = absl::OkStatus();
  while (!rest.empty()) {
    std::string_view part = rest;
    if (cfg_.max_bytes != 0 && size_ + rest.size() > cfg_.max_bytes) {
      const uint64_t room = cfg_.max_bytes > size_ ? cfg_.max_bytes - size_ : 0;
      size_t cut = room != 0 ? rest.rfind('\n', static_cast<size_t>(room) - 1)
                             : std::string_view::npos;
      if (cut == std::string_view::npos) {
        if (size_ != 0) {
          if (absl::Status s = rotate(); !s.ok()) {
            std::fprintf(stderr, "flowscribe: %s\n", std::string(s.message()).c_str());
          }
          continue;  // size_ is 0 now, rotated or not: no loop
        }
        cut = rest.find('\n');  // one line longer than the limit: a file of its own
        if (cut == std::string_view::npos) cut = rest.size() - 1;
      }
      part = rest.substr(0, cut + 1);
    }
    status = write_lines(fd_, part, cut_line_, path_.c_str());
    if (!status.ok()) return status;
    size_ += part.size();
    dirty_ = true;
    rest.remove_prefix(part.size());
  }
  if (cfg_.fsync == FsyncPolicy::kBatch ||
      (cfg_.fsync == FsyncPolicy::kInterval &&
       mono_ns() - synced_ns_ >= Nanos{cfg_.fsync_s} * kNsPerSec)) {
    sync();
  }
  return status;
}

absl::Status FileSink::reopen() {
  const int fd = open_append(path_);
  if (fd < 0) {
    return absl::UnavailableError(
        fmt::format("cannot reopen output file '{}' (still writing to the old one): {}", path_,
                    std::strerror(errno)));
  }
  if (cfg_.fsync != FsyncPolicy::kNever) sync();
  ::close(fd_);
  fd_ = fd;
  cut_line_ = false;  // a fresh file starts on a line boundary
  reset_file_state();
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Sink>> make_sink(std::string_view spec) {
  if (spec == "stdout") return std::make_unique<StdoutSink>();
  if (spec.starts_with("file:")) {
    auto f = FileSink::open(std::string(spec.substr(5)));
    if (!f.ok()) return f.status();
    return std::unique_ptr<Sink>(std::move(*f));
  }
  if (const size_t colon = spec.find(':'); colon != std::string_view::npos && colon > 0) {
    return absl::InvalidArgumentError(fmt::format(
        "output '{}': scheme '{}' is not a byte sink: network outputs are made by "
        "make_transport() (emit/transport.h)",
        spec, spec.substr(0, colon)));
  }
  return absl::InvalidArgumentError(
      fmt::format("output '{}' is not valid: use 'stdout' or 'file:PATH'", spec));
}

BatchWriter::BatchWriter(Sink& sink, size_t max_bytes, Nanos max_delay_ns)
    : sink_(sink),
      max_bytes_(max_bytes),
      max_delay_ns_(max_delay_ns),
      cap_(max_bytes + kFormatBufferBytes),
      buf_(new char[cap_]) {}

absl::Status BatchWriter::add(Formatter& f, const Record& r, Nanos now) {
  // len_ < max_bytes_ here, so a whole formatted line always fits.
  const size_t n = f.format_to(r, buf_.get() + len_);
  if (n == 0) return absl::OkStatus();
  if (records_++ == 0) first_ns_ = now;
  len_ += n;
  return len_ >= max_bytes_ ? write_batch() : absl::OkStatus();
}

absl::Status BatchWriter::add_line(std::string_view line, Nanos now) {
  if (line.size() > cap_ - len_) {
    // Longer than the room left (only a caller's own oversized line): write what is
    // buffered, then the line straight through.
    absl::Status s = write_batch();
    if (line.size() > cap_) {
      absl::Status d = sink_.write(line);
      if (d.ok()) {
        counters_.emit_records_written.inc();
        counters_.emit_bytes_written.inc(line.size());
        counters_.emit_batches_written.inc();
      } else {
        counters_.emit_write_errors.inc();
        counters_.emit_records_dropped.inc();
      }
      return s.ok() ? d : s;
    }
    if (!s.ok()) return s;
  }
  std::memcpy(buf_.get() + len_, line.data(), line.size());
  if (records_++ == 0) first_ns_ = now;
  len_ += line.size();
  return len_ >= max_bytes_ ? write_batch() : absl::OkStatus();
}

absl::Status BatchWriter::write_batch() {
  if (len_ == 0) return absl::OkStatus();
  absl::Status s = sink_.write(std::string_view(buf_.get(), len_));
  if (s.ok()) {
    counters_.emit_records_written.inc(records_);
    counters_.emit_bytes_written.inc(len_);
    counters_.emit_batches_written.inc();
  } else {
    // Dropped, not retried: a sink that keeps failing must not grow the buffer without
    // bound. (The emitter core queues and spools per output instead: emit/output.h.)
    counters_.emit_write_errors.inc();
    counters_.emit_records_dropped.inc(records_);
  }
  len_ = 0;
  records_ = 0;
  return s;
}

absl::Status BatchWriter::flush() {
  absl::Status s = write_batch();
  absl::Status f = sink_.flush();
  return s.ok() ? f : s;
}

}  // namespace flowscribe::emit
