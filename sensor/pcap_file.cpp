#include "sensor/pcap_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

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
      return absl::InvalidArgumentError(cat(name, " ", f->damage()));
  }
  return absl::InternalError("unreachable");
}

bool PcapFile::reopen(const char* path) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  pos_ = end_ = 0;
  file_off_ = 0;
  eof_ = have_ = done_ = false;
  damage_[0] = '\0';
  damage_offset_ = -1;
  records_ = 0;
  const Start r = start(path);
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
  if (!fill(kFileHeader)) {
    if (!damaged()) set_damage("is too short to be a capture");
    return Start::kNotPcap;
  }
  const Start r = check_header(buf_.get());
  if (r == Start::kOk) pos_ = kFileHeader;
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
    set_damage("pcapng");
    return Start::kLeftToLibpcap;
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
  // libpcap rewrites some link types' pseudo-headers as it reads (pcap_post_process): NFLOG's
  // host-order TLV headers in a byte-swapped file, Linux USB headers always. Leave those to it.
  if (swapped_ && linktype_ == kLinktypeNflog) {
    set_damage("byte-swapped NFLOG capture");
    return Start::kLeftToLibpcap;
  }
  if (linktype_ == kLinktypeUsbLinux || linktype_ == kLinktypeUsbLinuxMmapped) {
    set_damage("Linux USB capture");
    return Start::kLeftToLibpcap;
  }
  // And a few allow records above 262,144 bytes (max_snaplen_for_dlt): not ours to decode.
  if (linktype_ == kLinktypeDbus || linktype_ == kLinktypeUsbpcap ||
      linktype_ == kLinktypeEbhscr) {
    set_damage("link type %u", linktype_);
    return Start::kLeftToLibpcap;
  }
  // pcap_adjust_snapshot(): only 0 and lengths above INT_MAX are replaced; a file may claim
  // a snapshot above the largest record libpcap accepts.
  snaplen_ = (snaplen == 0 || snaplen > 0x7fffffffu) ? kMaxSnaplen : snaplen;
  damage_[0] = '\0';
  return Start::kOk;
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
  if (fd_ >= 0) ::close(fd_);
}

bool PcapFile::fill(size_t n) {
  if (end_ - pos_ >= n) return true;
  if (eof_) return false;
  if (pos_ != 0) {
    std::memmove(buf_.get(), buf_.get() + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
  }
  while (end_ < n && !eof_) {
    ssize_t r = ::read(fd_, buf_.get() + end_, cap_ - end_);
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
    if (end_ != pos_ && !damaged()) {
      set_damage("truncated dump file; tried to read %zu header bytes, only got %zu",
                 kRecordHeader, end_ - pos_);
      damage_offset_ = file_off_;
    }
    done_ = true;
    return false;
  }
  const uint32_t caplen = u32(buf_.get() + pos_ + 8);
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
  take(buf_.get() + pos_, caplen);  // fill() may have moved the bytes
  r = cur_;
  return true;
}

}  // namespace flowscribe::sensor
