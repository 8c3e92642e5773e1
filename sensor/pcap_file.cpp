#include "sensor/pcap_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <thread>

#include "common/strings.h"

namespace flowscribe::sensor {
namespace {

constexpr uint32_t kMagicUs = 0xa1b2c3d4;
constexpr uint32_t kMagicNs = 0xa1b23c4d;
constexpr uint32_t kMagicModified = 0xa1b2cd34;  // Alexey Kuznetzov's patched libpcap
constexpr uint32_t kMagicPcapng = 0x0a0d0d0a;    // a pcapng section header block
constexpr uint32_t kLinktypeNflog = 239;
constexpr uint32_t kLinktypeUsbLinux = 189;
constexpr uint32_t kLinktypeUsbLinuxMmapped = 220;
constexpr uint32_t kLinktypeDbus = 231;
constexpr uint32_t kLinktypeUsbpcap = 249;
constexpr uint32_t kLinktypeEbhscr = 279;
constexpr size_t kFileHeader = 24;

}  // namespace

absl::StatusOr<std::unique_ptr<PcapFile>> PcapFile::open(const std::string& path,
                                                         size_t buffer_bytes) {
  std::unique_ptr<PcapFile> f(new PcapFile());
  // Room for the largest record libpcap accepts, twice, so a refill always makes progress.
  f->cap_ = std::max(buffer_bytes, 2 * (kRecordHeader + kMaxSnaplen));
  f->buf_.reset(new uint8_t[f->cap_]);  // not zeroed: only bytes read(2) wrote are read
  f->data_ = f->buf_.get();
  f->may_grow_ = true;
  const std::string name = path == "-" ? std::string("standard input") : cat("'", path, "'");
  switch (f->start(path.c_str())) {
    case Start::kOk:
      return f;
    case Start::kCannotOpen:
      return f->open_errno_ == ENOENT
                 ? absl::NotFoundError(cat("cannot open capture '", path, "': ", f->damage()))
                 : absl::InvalidArgumentError(cat("cannot open capture '", path, "': ", f->damage()));
    case Start::kLeftToLibpcap:
      return absl::UnimplementedError(std::string(f->damage()));
    case Start::kNotPcap:
      return absl::InvalidArgumentError(cat(name, f->ng_ ? ": " : " ", f->damage()));
    case Start::kPcapng:
      break;
  }
  return absl::InternalError("unreachable");
}

bool PcapFile::reopen(const char* path) {
  if (ra_ != nullptr) ra_->attach(-1, 0);  // the thread lets go of the file before it closes
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  pos_ = end_ = 0;
  file_off_ = 0;
  ra_base_ = 0;
  eof_ = have_ = done_ = ng_ = false;
  may_grow_ = false;
  ifcount_ = 0;
  damage_[0] = '\0';
  damage_offset_ = -1;
  records_ = 0;
  wait_ = true;  // the header (and a pcapng file's first blocks) are read before returning
  const Start r = start(path);
  wait_ = false;
  if (r == Start::kOk) return true;
  // Not readable here: a file that is done, with what went wrong as its damage.
  char why[sizeof damage_];
  std::memcpy(why, damage_, sizeof why);
  damage_[0] = '\0';
  if (r == Start::kCannotOpen) {
    set_damage("cannot open the capture: %s", why);
  } else if (r == Start::kLeftToLibpcap) {
    set_damage("%s, which flowscribe reads only alone (through net_pcap)", why);
  } else {
    set_damage("%s", why);
  }
  done_ = true;
  return false;
}

// Opens PATH and reads its file header; on failure the reason is in damage_ (no allocation,
// so a worker can move on to the next file of a series).
PcapFile::Start PcapFile::start(const char* path) {
  int fd = std::strcmp(path, "-") == 0 ? ::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0)
                                       : ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    open_errno_ = errno;
    set_damage("%s", std::strerror(open_errno_));
    return Start::kCannotOpen;
  }
  (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);  // ESPIPE on a pipe: fine
  fd_ = fd;
  if (ra_ != nullptr) ra_->attach(fd_, 0);
  if (!fill(kFileHeader)) {
    if (!damaged()) set_damage("is too short to be a capture");
    return Start::kNotPcap;
  }
  const Start r = check_header(data_);
  if (r == Start::kOk) pos_ = kFileHeader;
  if (r == Start::kPcapng) return start_ng();
  return r;
}

// The 24-byte file header at H: byte order, precision, version, link type, snapshot length.
PcapFile::Start PcapFile::check_header(const uint8_t* h) {
  uint32_t magic;
  std::memcpy(&magic, h, 4);
  const uint32_t swapped_magic = __builtin_bswap32(magic);
  if (magic == kMagicUs || magic == kMagicNs) {
    swapped_ = false;
  } else if (swapped_magic == kMagicUs || swapped_magic == kMagicNs) {
    swapped_ = true;
  } else if (magic == kMagicPcapng) {
    return Start::kPcapng;
  } else if (magic == kMagicModified || swapped_magic == kMagicModified) {
    set_damage("modified pcap format");
    return Start::kLeftToLibpcap;
  } else {
    set_damage("is not a classic pcap file");
    return Start::kNotPcap;
  }
  nano_ = (swapped_ ? swapped_magic : magic) == kMagicNs;
  uint16_t major, minor;
  std::memcpy(&major, h + 4, 2);
  std::memcpy(&minor, h + 6, 2);
  if (swapped_) {
    major = __builtin_bswap16(major);
    minor = __builtin_bswap16(minor);
  }
  // libpcap reads 2.0-2.3 (caplen and len swapped, or maybe) and 543.0 too; leave those to it.
  if (major != 2 || minor != 4) {
    set_damage("pcap version %u.%u", major, minor);
    return Start::kLeftToLibpcap;
  }
  const uint32_t snaplen = u32(h + 16);
  linktype_ = u32(h + 20) & 0xffff;  // the upper bits carry the FCS length
  if (!linktype_ours()) return Start::kLeftToLibpcap;
  // pcap_adjust_snapshot(): only 0 and lengths above INT_MAX are replaced; a file may claim
  // a snapshot above the largest record libpcap accepts.
  snaplen_ = adjust_snapshot(snaplen);
  damage_[0] = '\0';
  return Start::kOk;
}

bool PcapFile::linktype_ours() {
  // libpcap rewrites some link types' pseudo-headers as it reads (pcap_post_process): NFLOG's
  // host-order TLV headers in a byte-swapped file, Linux USB headers always. Leave those to it.
  if (swapped_ && linktype_ == kLinktypeNflog) {
    set_damage("byte-swapped NFLOG capture");
    return false;
  }
  if (linktype_ == kLinktypeUsbLinux || linktype_ == kLinktypeUsbLinuxMmapped) {
    set_damage("Linux USB capture");
    return false;
  }
  // And a few allow records above 262,144 bytes (max_snaplen_for_dlt): not ours to decode.
  if (linktype_ == kLinktypeDbus || linktype_ == kLinktypeUsbpcap ||
      linktype_ == kLinktypeEbhscr) {
    set_damage("link type %u", linktype_);
    return false;
  }
  return true;
}

absl::StatusOr<PcapFile::Summary> PcapFile::inspect(const std::string& path) {
  const std::string name = cat("'", path, "'");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    std::string msg = cat("cannot open capture '", path, "': ", std::strerror(e));
    return e == ENOENT ? absl::NotFoundError(msg) : absl::InvalidArgumentError(msg);
  }
  uint8_t b[kFileHeader + kRecordHeader];
  const ssize_t n = ::pread(fd, b, sizeof b, 0);
  ::close(fd);
  if (n < static_cast<ssize_t>(kFileHeader)) {
    return absl::InvalidArgumentError(cat(name, " is too short to be a capture"));
  }
  PcapFile f;  // no buffer: only the header checks run
  switch (f.check_header(b)) {
    case Start::kOk:
      break;
    case Start::kPcapng: {
      // Blocks of any size before the first packet: read it through a whole reader.
      absl::StatusOr<std::unique_ptr<PcapFile>> ng = open(path, kPcapngBuffer);
      if (!ng.ok()) return ng.status();
      Summary s;
      s.pcapng = true;
      s.linktype = (*ng)->linktype();
      PcapRecord r;
      if ((*ng)->peek(r)) s.first_ts_ns = r.ts_ns;
      return s;
    }
    case Start::kLeftToLibpcap:
      return absl::UnimplementedError(std::string(f.damage()));
    default:
      return absl::InvalidArgumentError(cat(name, " ", f.damage()));
  }
  Summary s;
  s.linktype = f.linktype_;
  if (n == static_cast<ssize_t>(sizeof b)) {
    const uint32_t sec = f.u32(b + kFileHeader), frac = f.u32(b + kFileHeader + 4);
    s.first_ts_ns = uint64_t{sec} * 1'000'000'000u + (f.nano_ ? frac : uint64_t{frac} * 1000u);
  }
  return s;
}

void PcapFile::set_damage(const char* fmt, ...) {
  if (damaged()) return;
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(damage_, sizeof damage_, fmt, ap);
  va_end(ap);
}

PcapFile::~PcapFile() {
  ra_.reset();  // the thread stops before its file closes
  if (fd_ >= 0) ::close(fd_);
}

absl::Status PcapFile::start_readahead() {
  if (ra_ != nullptr) return absl::OkStatus();
  absl::StatusOr<std::unique_ptr<ReadAhead>> ra = ReadAhead::create();
  if (!ra.ok()) return ra.status();
  // What the buffer holds and was not taken yet goes to the ring's start (at most the
  // buffer, 4 or 17 MiB: less than the ring), and the thread reads on from there.
  uint8_t* ring = (*ra)->base();
  const size_t unread = end_ - pos_;
  std::memcpy(ring, data_ + pos_, unread);
  if (have_) cur_.data = ring + (cur_.data - (data_ + pos_));
  ra_base_ = offset();
  data_ = ring;
  pos_ = 0;
  end_ = unread;
  cap_ = ReadAhead::kRingBytes;
  (*ra)->attach(eof_ ? -1 : fd_, unread);
  ra_ = *std::move(ra);
  buf_.reset();
  return absl::OkStatus();
}

bool PcapFile::fill_ring(size_t n) {
  constexpr size_t kRing = ReadAhead::kRingBytes;
  if (pos_ >= kRing) {  // the same bytes, in the ring's first mapping
    pos_ -= kRing;
    end_ -= kRing;
  }
  const uint64_t at = offset() - ra_base_;  // stream position of pos_
  ra_->release(at);
  for (;;) {
    const ReadAhead::Avail a = ra_->poll();
    const uint64_t avail = a.head - at;  // <= kRing: the thread writes no further
    end_ = pos_ + avail;
    file_off_ = ra_base_ + a.head;
    if (avail >= n) return true;
    if (a.state != ReadAhead::State::kReading) {
      eof_ = true;
      if (a.state == ReadAhead::State::kError) {
        set_damage("error reading dump file: %s", std::strerror(a.error));
        damage_offset_ = static_cast<int64_t>(file_off_);
      }
      return false;
    }
    if (!wait_) {
      pending_ = true;
      return false;
    }
    std::this_thread::yield();
  }
}

bool PcapFile::fill(size_t n) {
  pending_ = false;
  if (end_ - pos_ >= n) return true;
  if (eof_) return false;
  if (ra_ != nullptr) return fill_ring(n);
  if (pos_ != 0) {
    std::memmove(data_, data_ + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
  }
  while (end_ < n && !eof_) {
    ssize_t r = ::read(fd_, data_ + end_, cap_ - end_);
    if (r > 0) {
      end_ += static_cast<size_t>(r);
      file_off_ += static_cast<uint64_t>(r);
    } else if (r == 0) {
      eof_ = true;
    } else if (errno != EINTR) {
      set_damage("error reading dump file: %s", std::strerror(errno));
      damage_offset_ = file_off_;
      eof_ = true;
    }
  }
  return end_ - pos_ >= n;
}

// The damage messages and offsets are libpcap's (sf-pcap.c, pcap_next_packet), so that a
// damaged file reads the same whichever reader took it.
bool PcapFile::peek_slow(PcapRecord& r) {
  if (done_) return false;
  const uint64_t start = offset();
  if (!fill(kRecordHeader)) {
    if (pending_) return false;
    if (end_ != pos_ && !damaged()) {
      set_damage("truncated dump file; tried to read %zu header bytes, only got %zu",
                 kRecordHeader, end_ - pos_);
      damage_offset_ = file_off_;
    }
    done_ = true;
    return false;
  }
  const uint32_t caplen = u32(data_ + pos_ + 8);
  if (caplen > kMaxSnaplen) {
    if (caplen > snaplen_) {
      set_damage("invalid packet capture length %u, bigger than snaplen of %u", caplen, snaplen_);
    } else {
      set_damage("invalid packet capture length %u, bigger than maximum of %u", caplen,
                 kMaxSnaplen);
    }
    damage_offset_ = start + kRecordHeader;
    done_ = true;
    return false;
  }
  if (!fill(kRecordHeader + caplen)) {
    if (pending_) return false;
    if (!damaged()) {
      const size_t got = end_ - pos_ - kRecordHeader;
      // A record longer than the snapshot length: libpcap reads the snapshot's worth, then
      // discards the rest, and says which of the two ran short.
      const uint32_t want = caplen > snaplen_ && got < snaplen_ ? snaplen_ : caplen;
      set_damage("truncated dump file; tried to read %u captured bytes, only got %zu", want, got);
      damage_offset_ = file_off_;
    }
    done_ = true;
    return false;
  }
  take(data_ + pos_, caplen);  // fill() may have moved the bytes
  r = cur_;
  return true;
}


// --- pcapng: libpcap's sf-pcapng.c rules, messages and offsets (see pcap_file.h).
namespace {

constexpr uint32_t kBlockShb = 0x0A0D0D0A;
constexpr uint32_t kBlockIdb = 1;
constexpr uint32_t kBlockPb = 2;   // obsolete Packet Block
constexpr uint32_t kBlockSpb = 3;
constexpr uint32_t kBlockEpb = 6;
constexpr uint32_t kByteOrderMagic = 0x1A2B3C4D;
constexpr uint32_t kShbInsaneMax = 1024 * 1024;
constexpr uint32_t kShbMin = 28;  // block header, fixed part, trailer
constexpr uint64_t kUserTsresol = 1'000'000'000;  // nanoseconds

}  // namespace

uint32_t PcapFile::linktype_to_dlt(uint32_t linktype) {
  // pcap-common.c: the LINKTYPE_ values that differ from Linux's DLT_ values.
  switch (linktype) {
    case 100: return 11;  // ATM_RFC1483
    case 101: return 12;  // RAW
    case 102: return 15;  // SLIP_BSDOS
    case 103: return 16;  // PPP_BSDOS
    case 106: return 19;  // ATM_CLIP
    default: return linktype;
  }
}

PcapFile::Start PcapFile::start_ng() {
  ng_ = true;
  nano_ = true;
  if (cap_ < kPcapngBuffer) {
    if (!may_grow_) {
      set_damage("pcapng, which needs a larger buffer than this series was opened with");
      return Start::kLeftToLibpcap;
    }
    // open() only: any block must fit. The bytes read so far move to the new buffer.
    std::unique_ptr<uint8_t[]> bigger(new uint8_t[kPcapngBuffer]);
    std::memcpy(bigger.get(), data_, end_);
    buf_ = std::move(bigger);
    data_ = buf_.get();
    cap_ = kPcapngBuffer;
  }
  const uint8_t* h = data_;
  uint32_t total, bom;
  std::memcpy(&total, h + 4, 4);
  std::memcpy(&bom, h + 8, 4);
  if (bom == kByteOrderMagic) {
    swapped_ = false;
  } else if (__builtin_bswap32(bom) == kByteOrderMagic) {
    swapped_ = true;
    total = __builtin_bswap32(total);
  } else {
    set_damage("is not a pcap or pcapng file (a section header without its byte-order magic)");
    return Start::kNotPcap;
  }
  if (total < kShbMin || total > kShbInsaneMax) {
    set_damage("Section Header Block in pcapng dump file has invalid length %u < _%u_ < %u "
               "(BT_SHB_INSANE_MAX)", kShbMin, total, kShbInsaneMax);
    return Start::kNotPcap;
  }
  if (!fill(total)) {
    if (!damaged()) {
      set_damage("truncated pcapng dump file; tried to read %u bytes, only got %zu", total - 12,
                 end_ - 12);
    }
    return Start::kNotPcap;
  }
  const uint32_t major = u16ng(h + 12), minor = u16ng(h + 14);
  if (!(major == 1 && (minor == 0 || minor == 2))) {
    set_damage("unsupported pcapng savefile version %u.%u", major, minor);
    return Start::kNotPcap;
  }
  // The first section header's trailer and alignment are not checked (libpcap does not).
  pos_ = total;
  for (;;) {
    NgBlock b;
    const int st = read_block(b);
    if (st == 0) {
      set_damage("the capture file has no Interface Description Blocks");
      return Start::kNotPcap;
    }
    if (st < 0) return Start::kNotPcap;
    const uint8_t* body = data_ + pos_ + 8;
    const size_t body_len = b.len - 12;
    if (b.type == kBlockIdb) {
      if (body_len < 8) {
        set_damage("block of type %u in pcapng dump file is too short", b.type);
        return Start::kNotPcap;
      }
      linktype_ = u16ng(body);
      const uint32_t snaplen = u32(body + 4);
      if (!add_interface(body + 8, body_len - 8)) return Start::kNotPcap;
      dlt_ = linktype_to_dlt(linktype_);
      snaplen_ = adjust_snapshot(snaplen);
      pos_ += b.len;
      break;
    }
    if (b.type == kBlockEpb || b.type == kBlockSpb || b.type == kBlockPb) {
      set_damage("the capture file has a packet block before any Interface Description Blocks");
      return Start::kNotPcap;
    }
    pos_ += b.len;
  }
  if (!linktype_ours()) return Start::kLeftToLibpcap;
  damage_[0] = '\0';
  return Start::kOk;
}

int PcapFile::read_block(NgBlock& b) {
  b.start = offset();
  if (!fill(8)) {
    if (pending_) return 2;
    if (damaged()) return -1;  // a read error
    if (end_ == pos_) return 0;
    set_damage("truncated pcapng dump file; tried to read 8 bytes, only got %zu", end_ - pos_);
    damage_offset_ = static_cast<int64_t>(file_off_);
    return -1;
  }
  const uint8_t* h = data_ + pos_;
  b.type = u32(h);
  b.len = u32(h + 4);
  if (b.len < 12) {
    set_damage("block in pcapng dump file has a length of %u < 12", b.len);
    damage_offset_ = static_cast<int64_t>(b.start + 8);
    return -1;
  }
  if (b.len % 4 != 0) {
    set_damage("block in pcapng dump file has a length of %u that is not a multiple of 4", b.len);
    damage_offset_ = static_cast<int64_t>(b.start + 8);
    return -1;
  }
  if (b.len > kPcapngMaxBlock) {
    set_damage("pcapng block size %u > maximum %u", b.len, kPcapngMaxBlock);
    damage_offset_ = static_cast<int64_t>(b.start + 8);
    return -1;
  }
  if (!fill(b.len)) {
    if (pending_) return 2;
    if (!damaged()) {
      set_damage("truncated pcapng dump file; tried to read %u bytes, only got %zu", b.len - 8,
                 end_ - pos_ - 8);
      damage_offset_ = static_cast<int64_t>(file_off_);
    }
    return -1;
  }
  h = data_ + pos_;  // fill() may have moved the bytes
  if (u32(h + b.len - 4) != b.len) {
    set_damage("block total length in header and trailer don't match");
    damage_offset_ = static_cast<int64_t>(b.start + b.len);
    return -1;
  }
  return 1;
}

bool PcapFile::add_interface(const uint8_t* o, size_t len) {
  if (ifcount_ == kPcapngMaxInterfaces) {
    set_damage("more than %u interfaces in a pcapng section (flowscribe reads up to %u)",
               kPcapngMaxInterfaces, kPcapngMaxInterfaces);
    return false;
  }
  uint64_t tsresol = 1'000'000;  // microseconds unless if_tsresol says otherwise
  int64_t tsoffset = 0;
  bool binary = false, saw_tsresol = false, saw_tsoffset = false;
  while (len != 0) {
    if (len < 4) {
      set_damage("block of type %u in pcapng dump file is too short", kBlockIdb);
      return false;
    }
    const uint32_t code = u16ng(o), olen = u16ng(o + 2);
    const size_t padded = (size_t{olen} + 3) / 4 * 4;
    if (len - 4 < padded) {
      set_damage("block of type %u in pcapng dump file is too short", kBlockIdb);
      return false;
    }
    const uint8_t* v = o + 4;
    o += 4 + padded;
    len -= 4 + padded;
    if (code == 0) {  // opt_endofopt: what follows is not read
      if (olen != 0) {
        set_damage("Interface Description Block has opt_endofopt option with length %u != 0",
                   olen);
        return false;
      }
      break;
    }
    if (code == 9) {  // if_tsresol
      if (olen != 1) {
        set_damage("Interface Description Block has if_tsresol option with length %u != 1", olen);
        return false;
      }
      if (saw_tsresol) {
        set_damage("Interface Description Block has more than one if_tsresol option");
        return false;
      }
      saw_tsresol = true;
      const uint8_t r = v[0];
      if (r & 0x80) {
        const uint32_t shift = r & 0x7f;
        if (shift > 63) {
          set_damage("Interface Description Block if_tsresol option resolution 2^-%u is too high",
                     shift);
          return false;
        }
        binary = true;
        tsresol = uint64_t{1} << shift;
      } else {
        if (r > 19) {
          set_damage("Interface Description Block if_tsresol option resolution 10^-%u is too high",
                     r);
          return false;
        }
        binary = false;
        tsresol = 1;
        for (uint32_t i = 0; i < r; ++i) tsresol *= 10;
      }
    } else if (code == 14) {  // if_tsoffset
      if (olen != 8) {
        set_damage("Interface Description Block has if_tsoffset option with length %u != 8", olen);
        return false;
      }
      if (saw_tsoffset) {
        set_damage("Interface Description Block has more than one if_tsoffset option");
        return false;
      }
      saw_tsoffset = true;
      uint64_t off;
      std::memcpy(&off, v, 8);
      if (swapped_) off = __builtin_bswap64(off);
      tsoffset = static_cast<int64_t>(off);
    }
  }
  NgInterface& i = ifs_[ifcount_++];
  i.tsresol = tsresol;
  i.tsoffset = tsoffset;
  i.factor = 1;
  if (tsresol == kUserTsresol) {
    i.scale = Scale::kPass;
  } else if (binary) {
    i.scale = Scale::kBin;  // frac * 1e9 / tsresol either way, in 64 bits as libpcap does
  } else if (tsresol > kUserTsresol) {
    i.scale = Scale::kDownDec;
    i.factor = tsresol / kUserTsresol;
  } else {
    i.scale = Scale::kUpDec;
    i.factor = kUserTsresol / tsresol;
  }
  return true;
}

bool PcapFile::peek_ng(PcapRecord& r) {
  if (done_) return false;
  for (;;) {
    NgBlock b;
    const int st = read_block(b);
    if (st == 2) return false;  // not read yet
    if (st <= 0) {
      done_ = true;
      return false;
    }
    const uint8_t* body = data_ + pos_ + 8;
    size_t rem = b.len - 12;
    const int64_t block_end = static_cast<int64_t>(b.start + b.len);
    auto damage_here = [&]() {
      damage_offset_ = block_end;  // libpcap has read the whole block
      done_ = true;
      return false;
    };
    auto too_short = [&]() {
      set_damage("block of type %u in pcapng dump file is too short", b.type);
      return damage_here();
    };
    uint32_t ifid, caplen, wire_len;
    uint64_t t;
    const uint8_t* data;
    if (b.type == kBlockEpb) {
      if (rem < 20) return too_short();
      ifid = u32(body);
      t = uint64_t{u32(body + 4)} << 32 | u32(body + 8);
      caplen = u32(body + 12);
      wire_len = u32(body + 16);
      data = body + 20;
      rem -= 20;
    } else if (b.type == kBlockSpb) {
      if (rem < 4) return too_short();
      ifid = 0;  // a simple packet block's packets are the first interface's
      wire_len = u32(body);
      caplen = wire_len < snaplen_ ? wire_len : snaplen_;
      t = 0;     // and have no time
      data = body + 4;
      rem -= 4;
    } else if (b.type == kBlockPb) {
      if (rem < 20) return too_short();
      ifid = u16ng(body);
      t = uint64_t{u32(body + 4)} << 32 | u32(body + 8);
      caplen = u32(body + 12);
      wire_len = u32(body + 16);
      data = body + 20;
      rem -= 20;
    } else if (b.type == kBlockIdb) {
      if (rem < 8) return too_short();
      const uint32_t lt = u16ng(body), snaplen = u32(body + 4);
      // libpcap compares the first interface's type as a DLT_ value with this one's raw.
      if (lt != dlt_) {
        set_damage("an interface has a type %u different from the type of the first interface",
                   lt);
        return damage_here();
      }
      if (adjust_snapshot(snaplen) != snaplen_) {
        set_damage("an interface has a snapshot length %u different from the snapshot length "
                   "of the first interface", snaplen);
        return damage_here();
      }
      if (!add_interface(body + 8, rem - 8)) return damage_here();
      pos_ += b.len;
      continue;
    } else if (b.type == kBlockShb) {
      if (rem < 16) return too_short();
      // Read in the first section's byte order: a section in the other order is damage.
      const uint32_t bom = u32(body);
      if (bom != kByteOrderMagic) {
        set_damage(bom == __builtin_bswap32(kByteOrderMagic)
                       ? "the file has sections with different byte orders"
                       : "the file has a section with a bad byte order magic field");
        return damage_here();
      }
      const uint32_t major = u16ng(body + 4);
      if (major != 1) {
        set_damage("unknown pcapng savefile major version number %u", major);
        return damage_here();
      }
      ifcount_ = 0;  // a section has its own interfaces
      pos_ += b.len;
      continue;
    } else {
      pos_ += b.len;  // any other block: skipped
      continue;
    }
    if (ifid >= ifcount_) {
      set_damage("a packet arrived on interface %u, but there's no Interface Description Block "
                 "for that interface", ifid);
      return damage_here();
    }
    if (caplen > snaplen_) {
      set_damage("invalid packet capture length %u, bigger than snaplen of %d", caplen,
                 static_cast<int>(snaplen_));
      return damage_here();
    }
    const NgInterface& i = ifs_[ifid];
    const uint64_t sec = t / i.tsresol + static_cast<uint64_t>(i.tsoffset);
    uint64_t frac = t % i.tsresol;
    switch (i.scale) {
      case Scale::kPass: break;
      case Scale::kUpDec: frac *= i.factor; break;
      case Scale::kDownDec: frac /= i.factor; break;
      case Scale::kBin: frac = frac * kUserTsresol / i.tsresol; break;
    }
    if (rem < caplen) return too_short();
    PcapRecord rec;
    rec.data = data;
    rec.caplen = caplen;
    rec.wire_len = wire_len;
    // libpcap hands the fraction over as an int (struct timeval's tv_usec).
    rec.ts_ns = sec * 1'000'000'000u + static_cast<uint32_t>(frac);
    cur_ = rec;
    cur_skip_ = b.len;
    have_ = true;
    ++records_;
    r = rec;
    return true;
  }
}

}  // namespace flowscribe::sensor
