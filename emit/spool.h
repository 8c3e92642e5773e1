#pragma once
// On-disk spool of one output (docs/siem.md "Spool"): records that a collector could not take
// yet, kept in order across collector outages and sensor restarts. Emitter core only.
//
// A directory of append-only segment files `<20-digit seq>.log`, each holding whole records as
// plain RFC 5424 lines (so an operator can read or grep them), at most kSegmentBytes each,
// plus `head` (the segment and byte offset up to which records were delivered) and `lock`
// (flock: one sensor per spool). Delivered segments are deleted. What a crash can cost: the
// records still in memory (the output's queue, this write buffer), never what reached the
// files; what a restart can repeat: the records after the last saved head (saved once a
// second and at exit).
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/net.h"

namespace flowscribe::emit {

class Spool {
 public:
  static constexpr uint64_t kSegmentBytes = 16 << 20;

  // Opens (creating) `dir`, takes its lock, and finds what an earlier run left: records from
  // `head` on are unread and will be read first. A torn last line (crash mid-write) is cut.
  static absl::StatusOr<std::unique_ptr<Spool>> open(std::string dir, uint64_t max_bytes);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Appends one line ('\n'-terminated). False (nothing written) when the spool would pass
  // its cap, or the disk refused.
  bool append(std::string_view line);

  // Appends whole lines from the read cursor to `out`, at most `max` bytes; returns the count
  // of lines. Lines read stay on disk until consume().
  size_t read(std::string& out, size_t max);

  // The oldest `bytes` of the lines read were delivered: drop them (whole segments deleted).
  void consume(uint64_t bytes);

  // At exit, with the collector still away: `lines` (the output's queue, oldest first; every
  // line read but not consumed is among them) go first, then the unread lines. Written to a
  // new file and renamed into place, then fsync'ed, so an interrupted exit repeats records
  // rather than losing them.
  absl::Status rewrite_front(std::string_view lines);

  // Writes buffered lines to the file and, at most once a second (or when forced), the head.
  void sync(Nanos now, bool force = false);

  uint64_t bytes() const noexcept { return bytes_; }                  // not yet consumed
  uint64_t unread_bytes() const noexcept { return unread_bytes_; }
  uint64_t unread_records() const noexcept { return unread_records_; }
  bool has_unread() const noexcept { return unread_bytes_ != 0; }
  const std::string& dir() const noexcept { return dir_; }
  const std::string& last_error() const noexcept { return error_; }

 private:
  struct Segment {
    uint64_t seq;
    uint64_t size;  // bytes in the file (the tail's write buffer not included)
  };
  Spool(std::string dir, uint64_t max_bytes, int lock_fd);
  std::string seg_path(uint64_t seq) const;
  absl::Status scan();
  bool flush_writes();
  void save_head();
  void drop_front_segment();

  std::string dir_;
  uint64_t max_bytes_;
  int lock_fd_;
  std::deque<Segment> segs_;
  uint64_t head_off_ = 0;       // consumed bytes of segs_.front()
  size_t read_seg_ = 0;         // index in segs_ of the read cursor
  uint64_t read_off_ = 0;
  int read_fd_ = -1;
  uint64_t read_fd_seq_ = 0;
  int write_fd_ = -1;           // segs_.back(), opened for appending
  std::string wbuf_;
  uint64_t next_seq_ = 1ULL << 40;  // room below for rewrite_front()
  uint64_t bytes_ = 0;
  uint64_t unread_bytes_ = 0;
  uint64_t unread_records_ = 0;
  bool head_dirty_ = false;
  Nanos head_saved_ = 0;
  std::string error_;
};

}  // namespace flowscribe::emit
