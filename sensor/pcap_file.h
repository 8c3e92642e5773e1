#pragma once
// A classic pcap or pcapng file read record by record through one large buffer: the offline
// sensor's input (see docs/architecture.md, "Offline input"). DPDK's net_pcap reads a file through
// libpcap, two stdio freads per packet and a read(2) every 4 KiB; that was a third of a lone
// worker's instructions offline. This reader does one read(2) per 4 MiB and hands out views
// of the records in place; with start_readahead(), a thread does the reads, 1 MiB at a time,
// into a ring (pcap_readahead.h), and the views are into the ring.
//
// It follows libpcap's own reading rules (sf-pcap.c) so that it accepts the same records and
// stops at the same damage: a snapshot length of 0 (or above INT_MAX) means 262,144; a record
// longer than the snapshot length is cut to it; a record longer than 262,144 bytes, or one cut
// short by the end of the file, is damage. The modified ("Kuznetzov") format, versions before
// 2.4, byte-swapped NFLOG, Linux USB, and the link types libpcap allows records above 262,144
// bytes for (D-Bus, USBPcap, EBHSCR) are not read here: open() says so (Unimplemented) and the
// sensor reads such a file through net_pcap.
//
// pcapng follows libpcap's sf-pcapng.c the same way: blocks up to 16 MiB, the first
// section's byte order for the whole file, every interface of the file with the first one's
// link type and snapshot length, a section header that forgets the interfaces before it,
// enhanced, simple and obsolete packet blocks, if_tsresol and if_tsoffset, every other block
// skipped; the same damage messages at the same offsets. Timestamps are nanoseconds (libpcap
// opened with nanosecond precision). Two differences: at most kPcapngMaxInterfaces
// interfaces per section (libpcap has no limit; more is damage here, said in those words),
// and the buffer is kPcapngBuffer so that any block fits.
// One deliberate difference: a record's 32-bit seconds are unsigned, as the pcap format's
// specification (draft-ietf-opsawg-pcap) says; libpcap reads them signed, which sends a
// file written after January 2038 back to 1901.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "sensor/pcap_readahead.h"

namespace flowscribe::sensor {

struct PcapRecord {
  const uint8_t* data = nullptr;  // valid until the next call to next()/peek() after consume()
  uint32_t caplen = 0;            // bytes in data (already cut to the snapshot length)
  uint32_t wire_len = 0;          // the frame's length on the wire, as the file says
  uint64_t ts_ns = 0;             // capture time, nanoseconds since the epoch
};

class PcapFile {
 public:
  static constexpr uint32_t kMaxSnaplen = 262144;  // libpcap's MAXIMUM_SNAPLEN
  // libpcap's INITIAL_MAX_BLOCKSIZE: the largest pcapng block it reads.
  static constexpr uint32_t kPcapngMaxBlock = 16u << 20;
  // The buffer a pcapng file needs (open() raises a smaller one; reopen() cannot).
  static constexpr size_t kPcapngBuffer = size_t{kPcapngMaxBlock} + (size_t{1} << 20);
  static constexpr uint32_t kPcapngMaxInterfaces = 1024;

  // Opens PATH ("-": standard input; pipes and FIFOs are read as they come). Unimplemented:
  // a format this reader leaves to libpcap (the list above), with its name as the message;
  // InvalidArgument / NotFound: not readable as a classic pcap.
  // BUFFER_BYTES is allocated here, once; it is raised to hold the largest record.
  static absl::StatusOr<std::unique_ptr<PcapFile>> open(const std::string& path,
                                                        size_t buffer_bytes = size_t{4} << 20);
  ~PcapFile();
  // The next file of a series, read through the same buffer: no allocation, so a worker can
  // call it. False if PATH cannot be read as a classic pcap: then done() and damage() says
  // why.
  bool reopen(const char* path);
  PcapFile(const PcapFile&) = delete;
  PcapFile& operator=(const PcapFile&) = delete;

  // A file's header and first record's time, read without a buffer (pread of 40 bytes): to
  // check and order the files of a series before the run. Same errors as open().
  struct Summary {
    uint32_t linktype = 0;
    uint64_t first_ts_ns = UINT64_MAX;  // UINT64_MAX: no record
    bool pcapng = false;
  };
  static absl::StatusOr<Summary> inspect(const std::string& path);

  uint32_t linktype() const { return linktype_; }
  uint32_t snaplen() const { return snaplen_; }
  // From here on the file is read by a thread of its own into a ring (pcap_readahead.h): call
  // before the pollers start, from the thread whose CPUs the reading thread should share.
  // Then peek() may return false while done() is not: the bytes are not read yet (poll
  // again), and the caller says with release() when it is done with the records it took.
  // Unavailable (the ring or the thread cannot be made): the file is read as before.
  absl::Status start_readahead();
  bool reading_ahead() const { return ra_ != nullptr; }
  // The records handed out so far may be overwritten (read-ahead only; no-op otherwise).
  void release() {
    if (ra_ != nullptr) ra_->release(offset() - ra_base_);
  }
  const ReadAhead* readahead() const { return ra_.get(); }

  bool nanosecond() const { return nano_; }  // pcapng: always (timestamps are converted)
  bool pcapng() const { return ng_; }
  bool swapped() const { return swapped_; }

  // The next record, left in place: false at the end of the file or at damage (then done()),
  // or with read-ahead when its bytes are not read yet (then not done()).
  // Calling peek() again without consume() returns the same record.
  bool peek(PcapRecord& r) {
    if (have_) {
      r = cur_;
      return true;
    }
    if (ng_) return peek_ng(r);
    // The common case inline: the whole record is in the buffer and needs no checks beyond
    // the length (caplen <= kMaxSnaplen, so it fits any buffer).
    if (end_ - pos_ >= kRecordHeader) {
      const uint8_t* h = data_ + pos_;
      const uint32_t caplen = u32(h + 8);
      if (caplen <= kMaxSnaplen && end_ - pos_ >= kRecordHeader + caplen) {
        r = take(h, caplen);
        return true;
      }
    }
    return peek_slow(r);
  }
  void consume() {
    if (!have_) return;
    pos_ += cur_skip_;
    have_ = false;
  }
  bool next(PcapRecord& r) {
    if (!peek(r)) return false;
    consume();
    return true;
  }

  bool done() const { return done_; }
  bool damaged() const { return damage_[0] != '\0'; }
  // libpcap's wording. Kept in a fixed buffer: damage is found on the worker, which must not
  // allocate after start-up (the allocation guard checks).
  std::string_view damage() const { return damage_; }
  // Where libpcap's file position would be after the damage (its ftell), -1 if undamaged.
  int64_t damage_offset() const { return damage_offset_; }
  uint64_t records() const { return records_; }          // records handed out by peek()
  uint64_t offset() const { return file_off_ - (end_ - pos_); }  // file offset of pos_

 private:
  enum class Start { kOk, kCannotOpen, kNotPcap, kLeftToLibpcap, kPcapng };
  PcapFile() = default;
  Start start(const char* path);
  Start check_header(const uint8_t* h);
  // False (with the reason as damage) for the link types this reader leaves to libpcap.
  bool linktype_ours();
  static constexpr size_t kRecordHeader = 16;
  // Makes at least N bytes available at pos_; false if the file ends first, or (read-ahead,
  // not waiting) if they are not read yet: then pending_.
  bool fill(size_t n);
  bool fill_ring(size_t n);
  bool peek_slow(PcapRecord& r);

  // --- pcapng (pcap_file.cpp)
  struct NgBlock {
    uint32_t type = 0;
    uint32_t len = 0;      // total length, header and trailer included
    uint64_t start = 0;    // file offset of the block
  };
  enum class Scale : uint8_t { kPass, kUpDec, kDownDec, kBin };
  struct NgInterface {
    uint64_t tsresol;   // units per second
    uint64_t factor;    // kUpDec / kDownDec: the power of 10 between tsresol and 1e9
    int64_t tsoffset;   // seconds added
    Scale scale;
  };
  // The section header at pos_ and blocks up to the first interface (open).
  Start start_ng();
  // The block at pos_, whole in the buffer: 1, 0 at the end of the file, -1 damage, 2 not read
  // yet (read-ahead without wait_: never while start() runs).
  int read_block(NgBlock& b);
  // An interface description block's body (after its 8 fixed bytes): false = damage.
  bool add_interface(const uint8_t* opts, size_t len);
  bool peek_ng(PcapRecord& r);
  uint32_t u16ng(const uint8_t* p) const {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return swapped_ ? __builtin_bswap16(v) : v;
  }
  // libpcap's snapshot rule (pcap_adjust_snapshot, for pcap and pcapng alike) and its mapping
  // of LINKTYPE_ to DLT_ values, against which a later pcapng interface's type is compared.
  static uint32_t adjust_snapshot(uint32_t snaplen) {
    return (snaplen == 0 || snaplen > 0x7fffffffu) ? kMaxSnaplen : snaplen;
  }
  static uint32_t linktype_to_dlt(uint32_t linktype);
  uint32_t u32(const uint8_t* p) const {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return swapped_ ? __builtin_bswap32(v) : v;
  }
  // The record whose header is at H (in the buffer, with all CAPLEN bytes after it) is current.
  // Built in a local and returned from it: a caller that copied cur_ right after its fields
  // were stored one by one made a 16-byte load over three smaller stores, which the CPU cannot
  // forward (a stall of ~15 cycles a packet, the hottest instruction of rx_burst).
  PcapRecord take(const uint8_t* h, uint32_t caplen) {
    const uint32_t sec = u32(h), frac = u32(h + 4);
    PcapRecord rec;
    rec.data = h + kRecordHeader;
    rec.caplen = caplen < snaplen_ ? caplen : snaplen_;  // libpcap cuts to the snapshot length
    rec.wire_len = u32(h + 12);
    rec.ts_ns = uint64_t{sec} * 1'000'000'000u + (nano_ ? frac : uint64_t{frac} * 1000u);
    cur_ = rec;
    cur_skip_ = kRecordHeader + caplen;
    have_ = true;
    ++records_;
    return rec;
  }

  int fd_ = -1;
  int open_errno_ = 0;
  std::unique_ptr<uint8_t[]> buf_;  // the buffer read(2) fills (none with read-ahead)
  uint8_t* data_ = nullptr;         // the bytes pos_ and end_ count from: buf_ or the ring
  std::unique_ptr<ReadAhead> ra_;
  uint64_t ra_base_ = 0;  // file offset of the ring's stream position 0
  bool wait_ = false;     // read-ahead: fill() waits for the bytes (a file's header, at start)
  bool pending_ = false;  // the last fill() came back before the bytes did
  size_t cap_ = 0;
  size_t pos_ = 0;       // next unread byte in data_
  size_t end_ = 0;       // bytes valid in data_ (with read-ahead: as of the last fill)
  uint64_t file_off_ = 0;  // file offset of data_[end_]
  bool eof_ = false;     // read(2) returned 0
  bool swapped_ = false;
  bool nano_ = false;
  uint32_t linktype_ = 0;
  uint32_t snaplen_ = kMaxSnaplen;
  bool ng_ = false;          // pcapng
  bool may_grow_ = false;    // open(): the buffer may be raised to kPcapngBuffer
  uint32_t dlt_ = 0;         // pcapng: the first interface's type as libpcap maps it
  uint32_t ifcount_ = 0;     // pcapng: interfaces of the current section
  NgInterface ifs_[kPcapngMaxInterfaces] = {};
  bool have_ = false;    // a record was peeked and not consumed
  PcapRecord cur_;
  size_t cur_skip_ = 0;  // bytes of the current record past pos_ (header + stored bytes)
  bool done_ = false;
  char damage_[160] = {};
  // Records the first damage only (printf-style, cut to the buffer).
  [[gnu::format(printf, 2, 3)]] void set_damage(const char* fmt, ...);
  int64_t damage_offset_ = -1;
  uint64_t records_ = 0;
};

}  // namespace flowscribe::sensor
