#include "emit/spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "common/fd_io.h"
#include "common/strings.h"

namespace flowscribe::emit {
namespace {

constexpr size_t kWriteBuffer = 256 * 1024;
constexpr size_t kReadChunk = 256 * 1024;
constexpr Nanos kHeadSaveEvery = kNsPerSec;

bool parse_seq(const char* name, uint64_t& seq) {
  std::string_view n(name);
  if (n.size() != 24 || !n.ends_with(".log")) return false;
  return parse_uint(n.substr(0, 20), seq);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Spool>> Spool::open(std::string dir, uint64_t max_bytes) {
  if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(
        cat("cannot create spool directory ", dir, ": ", std::strerror(errno)));
  }
  const int lock = ::open((dir + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (lock < 0) {
    return absl::FailedPreconditionError(
        cat("cannot use spool directory ", dir, ": ", std::strerror(errno)));
  }
  if (::flock(lock, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock);
    return absl::FailedPreconditionError(
        cat("spool directory ", dir, " is in use by another flowscribe"));
  }
  std::unique_ptr<Spool> s(new Spool(std::move(dir), max_bytes, lock));
  if (absl::Status st = s->scan(); !st.ok()) return st;
  return s;
}

Spool::Spool(std::string dir, uint64_t max_bytes, int lock_fd)
    : dir_(std::move(dir)), max_bytes_(max_bytes), lock_fd_(lock_fd) {
  wbuf_.reserve(kWriteBuffer + 16384);
}

Spool::~Spool() {
  flush_writes();
  save_head();
  if (read_fd_ >= 0) ::close(read_fd_);
  if (write_fd_ >= 0) ::close(write_fd_);
  ::close(lock_fd_);
}

std::string Spool::seg_path(uint64_t seq) const {
  char name[32];
  std::snprintf(name, sizeof name, "%020lu.log", static_cast<unsigned long>(seq));
  return cat(dir_, "/", name);
}

absl::Status Spool::scan() {
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) {
    return absl::FailedPreconditionError(cat("cannot read spool directory ", dir_, ": ",
                                             std::strerror(errno)));
  }
  std::vector<uint64_t> seqs;
  while (dirent* e = ::readdir(d)) {
    uint64_t seq = 0;
    if (parse_seq(e->d_name, seq)) seqs.push_back(seq);
  }
  ::closedir(d);
  std::sort(seqs.begin(), seqs.end());

  uint64_t head_seq = 0;
  uint64_t head_off = 0;
  if (FILE* f = std::fopen((dir_ + "/head").c_str(), "r")) {
    unsigned long a = 0, b = 0;
    if (std::fscanf(f, "%lu %lu", &a, &b) == 2) {
      head_seq = a;
      head_off = b;
    }
    std::fclose(f);
  }
  for (uint64_t seq : seqs) {
    const std::string path = seg_path(seq);
    if (seq < head_seq) {
      ::unlink(path.c_str());  // delivered; the deletion did not happen before an exit
      continue;
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) continue;
    segs_.push_back({seq, static_cast<uint64_t>(st.st_size)});
  }
  if (!segs_.empty()) {
    // Cut a torn last line (the process died mid-write) so that every segment ends in '\n'.
    Segment& last = segs_.back();
    const int fd = ::open(seg_path(last.seq).c_str(), O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
      uint64_t end = last.size;
      char buf[4096];
      while (end > 0) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(end, sizeof buf));
        if (::pread(fd, buf, n, static_cast<off_t>(end - n)) != static_cast<ssize_t>(n)) break;
        const void* nl = ::memrchr(buf, '\n', n);
        if (nl != nullptr) {
          end = end - n + static_cast<uint64_t>(static_cast<const char*>(nl) - buf) + 1;
          break;
        }
        end -= n;
      }
      if (end != last.size && ::ftruncate(fd, static_cast<off_t>(end)) == 0) last.size = end;
      ::close(fd);
    }
    if (segs_.front().seq == head_seq && head_off <= segs_.front().size) head_off_ = head_off;
    read_off_ = head_off_;
    next_seq_ = segs_.back().seq + 1;
    for (const Segment& s : segs_) bytes_ += s.size;
    bytes_ -= head_off_;
    unread_bytes_ = bytes_;
    // Count the records waiting (one pass over the spool at start-up, for the summary).
    for (size_t i = 0; i < segs_.size(); ++i) {
      const int rfd = ::open(seg_path(segs_[i].seq).c_str(), O_RDONLY | O_CLOEXEC);
      if (rfd < 0) continue;
      std::vector<char> buf(kReadChunk);
      off_t off = i == 0 ? static_cast<off_t>(head_off_) : 0;
      ssize_t n;
      while ((n = ::pread(rfd, buf.data(), buf.size(), off)) > 0) {
        unread_records_ += static_cast<uint64_t>(std::count(buf.data(), buf.data() + n, '\n'));
        off += n;
      }
      ::close(rfd);
    }
  }
  return absl::OkStatus();
}

bool Spool::append(std::string_view line) {
  if (bytes_ + line.size() > max_bytes_) return false;
  if (segs_.empty() || (segs_.back().size + wbuf_.size() + line.size() > kSegmentBytes &&
                        segs_.back().size + wbuf_.size() > 0)) {
    if (!flush_writes()) return false;
    if (write_fd_ >= 0) ::close(write_fd_);
    write_fd_ = -1;
    segs_.push_back({next_seq_++, 0});
  }
  if (write_fd_ < 0) {
    write_fd_ = ::open(seg_path(segs_.back().seq).c_str(),
                       O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (write_fd_ < 0) {
      error_ = cat("cannot write spool ", seg_path(segs_.back().seq), ": ", std::strerror(errno));
      if (segs_.back().size == 0) segs_.pop_back();
      return false;
    }
  }
  wbuf_.append(line);
  bytes_ += line.size();
  unread_bytes_ += line.size();
  ++unread_records_;
  // Taken either way: a failed write keeps the lines buffered (within the cap) for a retry.
  if (wbuf_.size() >= kWriteBuffer) flush_writes();
  return true;
}

bool Spool::flush_writes() {
  if (wbuf_.empty()) return true;
  size_t written = 0;
  const int err =
      write_fd_ < 0 ? EBADF : write_all(write_fd_, wbuf_.data(), wbuf_.size(), &written);
  if (err != 0) {
    // A full disk: what did go is in the segment (so a later try does not write it twice);
    // the rest stays buffered and is written on a later try; nothing is lost while the
    // process lives. Logged once per distinct error.
    if (written != 0) {
      segs_.back().size += written;
      wbuf_.erase(0, written);
    }
    std::string e = cat("cannot write spool ", dir_, ": ", std::strerror(err));
    if (e != error_) std::fprintf(stderr, "flowscribe: %s\n", e.c_str());
    error_ = std::move(e);
    return false;
  }
  segs_.back().size += wbuf_.size();
  wbuf_.clear();
  return true;
}

size_t Spool::read(std::string& out, size_t max) {
  size_t lines = 0;
  size_t room = max;
  while (room > 0 && read_seg_ < segs_.size()) {
    Segment& seg = segs_[read_seg_];
    if (read_off_ >= seg.size) {
      if (read_seg_ + 1 == segs_.size()) {
        if (wbuf_.empty() || !flush_writes()) break;
        continue;  // the tail grew
      }
      ++read_seg_;
      read_off_ = 0;
      continue;
    }
    if (read_fd_ < 0 || read_fd_seq_ != seg.seq) {
      if (read_fd_ >= 0) ::close(read_fd_);
      read_fd_ = ::open(seg_path(seg.seq).c_str(), O_RDONLY | O_CLOEXEC);
      read_fd_seq_ = seg.seq;
      if (read_fd_ < 0) {
        error_ = cat("cannot read spool ", seg_path(seg.seq), ": ", std::strerror(errno));
        break;
      }
    }
    const size_t want = static_cast<size_t>(std::min<uint64_t>({room, kReadChunk, seg.size - read_off_}));
    const size_t at = out.size();
    out.resize(at + want);
    const ssize_t n = ::pread(read_fd_, out.data() + at, want, static_cast<off_t>(read_off_));
    if (n <= 0) {
      out.resize(at);
      break;
    }
    // Whole lines only: a line is never split across segments, so the rest comes next time.
    const void* nl = ::memrchr(out.data() + at, '\n', static_cast<size_t>(n));
    if (nl == nullptr) {
      out.resize(at);
      break;
    }
    const size_t got = static_cast<size_t>(static_cast<const char*>(nl) - (out.data() + at)) + 1;
    out.resize(at + got);
    const size_t k = static_cast<size_t>(std::count(out.data() + at, out.data() + at + got, '\n'));
    lines += k;
    unread_records_ -= std::min<uint64_t>(unread_records_, k);
    unread_bytes_ -= std::min<uint64_t>(unread_bytes_, got);
    read_off_ += got;
    room -= got;
  }
  return lines;
}

void Spool::drop_front_segment() {
  if (read_fd_ >= 0 && read_fd_seq_ == segs_.front().seq) {
    ::close(read_fd_);
    read_fd_ = -1;
  }
  if (segs_.size() == 1 && write_fd_ >= 0) {
    ::close(write_fd_);
    write_fd_ = -1;
  }
  ::unlink(seg_path(segs_.front().seq).c_str());
  segs_.pop_front();
  if (read_seg_ > 0) {
    --read_seg_;
  } else {
    read_off_ = 0;
  }
}

void Spool::consume(uint64_t bytes) {
  if (bytes == 0) return;
  bytes_ -= std::min(bytes_, bytes);
  head_off_ += bytes;
  head_dirty_ = true;
  while (!segs_.empty() && head_off_ >= segs_.front().size) {
    // A fully delivered segment goes, unless it is the tail still being written.
    const bool tail = segs_.size() == 1;
    if (tail && (!wbuf_.empty() || read_off_ < segs_.front().size)) break;
    head_off_ -= segs_.front().size;
    drop_front_segment();
  }
}

absl::Status Spool::rewrite_front(std::string_view lines) {
  flush_writes();
  if (read_fd_ >= 0) {
    ::close(read_fd_);
    read_fd_ = -1;
  }
  // The new first segment: `lines`, then what was unread in the read cursor's segment. It
  // gets a number below every segment, so until the old ones are deleted a crash repeats
  // records, never skips them.
  std::string tail;
  const bool have_cursor = read_seg_ < segs_.size();
  if (have_cursor) {
    const uint64_t seq = segs_[read_seg_].seq;
    const uint64_t len = segs_[read_seg_].size - read_off_;
    tail.resize(len);
    const int fd = ::open(seg_path(seq).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::pread(fd, tail.data(), len, static_cast<off_t>(read_off_)) !=
                      static_cast<ssize_t>(len)) {
      if (fd >= 0) ::close(fd);
      return absl::InternalError(cat("cannot read spool ", seg_path(seq), ": ",
                                     std::strerror(errno)));
    }
    ::close(fd);
  }
  const uint64_t seq = segs_.empty() ? next_seq_++ : segs_.front().seq - 1;
  const std::string tmp = dir_ + "/rewrite.tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0 || write_all(fd, lines.data(), lines.size()) != 0 ||
      write_all(fd, tail.data(), tail.size()) != 0 || ::fsync(fd) != 0) {
    const std::string why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    return absl::InternalError(cat("cannot write spool ", tmp, ": ", why));
  }
  ::close(fd);
  const uint64_t old_unread = unread_bytes_;
  const uint64_t old_head = head_off_;
  head_off_ = 0;
  head_dirty_ = true;
  segs_.push_front({seq, lines.size() + tail.size()});
  save_head();  // (seq, 0): valid before and after the rename below
  if (::rename(tmp.c_str(), seg_path(seq).c_str()) != 0) {
    const std::string why = std::strerror(errno);
    segs_.pop_front();
    head_off_ = old_head;
    head_dirty_ = true;
    save_head();
    return absl::InternalError(cat("cannot rename ", tmp, ": ", why));
  }
  // Every old segment up to and including the cursor's is now in the new one.
  if (have_cursor) {
    const size_t n = read_seg_ + 1;
    if (n == segs_.size() - 1 && write_fd_ >= 0) {
      ::close(write_fd_);  // the tail was copied whole: appends go to the new segment
      write_fd_ = -1;
    }
    for (size_t i = 0; i < n; ++i) {
      ::unlink(seg_path(segs_[1].seq).c_str());
      segs_.erase(segs_.begin() + 1);
    }
  }
  read_seg_ = 0;
  read_off_ = 0;
  bytes_ = lines.size() + old_unread;
  unread_bytes_ = bytes_;
  unread_records_ += static_cast<uint64_t>(std::count(lines.begin(), lines.end(), '\n'));
  if (const int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return absl::OkStatus();
}

void Spool::save_head() {
  if (!head_dirty_) return;
  const uint64_t seq = segs_.empty() ? next_seq_ : segs_.front().seq;
  const std::string tmp = dir_ + "/head.tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return;
  char buf[64];
  const int n = std::snprintf(buf, sizeof buf, "%lu %lu\n", static_cast<unsigned long>(seq),
                              static_cast<unsigned long>(head_off_));
  const bool ok = write_all(fd, buf, static_cast<size_t>(n)) == 0;
  ::close(fd);
  if (ok && ::rename(tmp.c_str(), (dir_ + "/head").c_str()) == 0) head_dirty_ = false;
}

void Spool::sync(Nanos now, bool force) {
  flush_writes();
  if (head_dirty_ && (force || now - head_saved_ >= kHeadSaveEvery)) {
    save_head();
    head_saved_ = now;
  }
}

}  // namespace flowscribe::emit
