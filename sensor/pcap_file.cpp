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
  int fd = path == "-" ? ::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0)
                       : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    std::string msg = cat("cannot open capture '", path, "': ", std::strerror(e));
    return e == ENOENT ? absl::NotFoundError(msg) : absl::InvalidArgumentError(msg);
  }
  const std::string name = path == "-" ? std::string("standard input") : cat("'", path, "'");
  (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);  // ESPIPE on a pipe: fine
  std::unique_ptr<PcapFile> f(new PcapFile());
  f->fd_ = fd;
  // Room for the largest record libpcap accepts, twice, so a refill always makes progress.
  f->cap_ = std::max(buffer_bytes, 2 * (kRecordHeader + kMaxSnaplen));
  f->buf_.reset(new uint8_t[f->cap_]);  // not zeroed: only bytes read(2) wrote are read
  if (!f->fill(kFileHeader)) {
    if (f->damaged()) return absl::InvalidArgumentError(cat(name, ": ", f->damage()));
    return absl::InvalidArgumentError(cat(name, " is too short to be a capture"));
  }
  const uint8_t* h = f->buf_.get();
  uint32_t magic;
  std::memcpy(&magic, h, 4);
  const uint32_t swapped_magic = __builtin_bswap32(magic);
  if (magic == kMagicUs || magic == kMagicNs) {
    f->swapped_ = false;
  } else if (swapped_magic == kMagicUs || swapped_magic == kMagicNs) {
    f->swapped_ = true;
  } else if (magic == kMagicPcapng) {
    return absl::UnimplementedError("pcapng");
  } else if (magic == kMagicModified || swapped_magic == kMagicModified) {
    return absl::UnimplementedError("modified pcap format");
  } else {
    return absl::InvalidArgumentError(cat(name, " is not a classic pcap file"));
  }
  f->nano_ = (f->swapped_ ? swapped_magic : magic) == kMagicNs;
  uint16_t major, minor;
  std::memcpy(&major, h + 4, 2);
  std::memcpy(&minor, h + 6, 2);
  if (f->swapped_) {
    major = __builtin_bswap16(major);
    minor = __builtin_bswap16(minor);
  }
  // libpcap reads 2.0-2.3 (caplen and len swapped, or maybe) and 543.0 too; leave those to it.
  if (major != 2 || minor != 4) {
    return absl::UnimplementedError(cat("pcap version ", major, ".", minor));
  }
  uint32_t snaplen = f->u32(h + 16);
  f->linktype_ = f->u32(h + 20) & 0xffff;  // the upper bits carry the FCS length
  // libpcap rewrites some link types' pseudo-headers as it reads (pcap_post_process): NFLOG's
  // host-order TLV headers in a byte-swapped file, Linux USB headers always. Leave those to it.
  if (f->swapped_ && f->linktype_ == kLinktypeNflog) {
    return absl::UnimplementedError("byte-swapped NFLOG capture");
  }
  if (f->linktype_ == kLinktypeUsbLinux || f->linktype_ == kLinktypeUsbLinuxMmapped) {
    return absl::UnimplementedError("Linux USB capture");
  }
  // And a few allow records above 262,144 bytes (max_snaplen_for_dlt): not ours to decode.
  if (f->linktype_ == kLinktypeDbus || f->linktype_ == kLinktypeUsbpcap ||
      f->linktype_ == kLinktypeEbhscr) {
    return absl::UnimplementedError(cat("link type ", f->linktype_));
  }
  // pcap_adjust_snapshot(): only 0 and lengths above INT_MAX are replaced; a file may claim
  // a snapshot above the largest record libpcap accepts.
  f->snaplen_ = (snaplen == 0 || snaplen > 0x7fffffffu) ? kMaxSnaplen : snaplen;
  f->pos_ = kFileHeader;
  return f;
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
