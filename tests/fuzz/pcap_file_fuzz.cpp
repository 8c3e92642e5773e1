// Differential fuzzing of the offline pcap and pcapng reader (sensor/pcap_file.h) against
// libpcap: any file the reader accepts must give libpcap's records (bytes, lengths, the
// timestamp: for classic pcap its 32-bit fields, for pcapng libpcap's nanoseconds), stop at
// the same place with the same damage message and offset, and never read out of bounds. A
// pcapng file libpcap opens must open here too (classic files libpcap opens but this reader
// leaves to it are Unimplemented, which the sensor handles by using net_pcap).
// The input is the whole file; it is written to a memfd and read through /proc/self/fd.
#include <pcap/pcap.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "sensor/pcap_file.h"

namespace {

[[noreturn]] void mismatch(const char* what) {
  std::fprintf(stderr, "pcap_file_fuzz: reader and libpcap differ: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int fd = memfd_create("pcap_file_fuzz", MFD_CLOEXEC);
  if (fd < 0) return 0;
  if (size != 0 && write(fd, data, size) != static_cast<ssize_t>(size)) {
    close(fd);
    return 0;
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  // The smallest buffer, so inputs of a few hundred KiB cross refills.
  auto ours = flowscribe::sensor::PcapFile::open(path, 0);
  const bool ng = size >= 4 && std::memcmp(data, "\x0a\x0d\x0d\x0a", 4) == 0;
  if (!ours.ok() && ng && !absl::IsUnimplemented(ours.status())) {
    char err[PCAP_ERRBUF_SIZE] = {0};
    pcap_t* p = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO,
                                                        err);
    if (p != nullptr) mismatch("the reader refuses a pcapng file libpcap opens");
  }
  if (ours.ok()) {
    char err[PCAP_ERRBUF_SIZE] = {0};
    pcap_t* p = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO,
                                                        err);
    if (p == nullptr) mismatch("libpcap refuses a file the reader opened");
    flowscribe::sensor::PcapFile& f = **ours;
    flowscribe::sensor::PcapRecord r;
    pcap_pkthdr* h;
    const u_char* d;
    int rc;
    while (true) {
      const bool got = f.next(r);
      rc = pcap_next_ex(p, &h, &d);
      if (got != (rc == 1)) mismatch("record count");
      if (!got) break;
      if (r.caplen != h->caplen || r.wire_len != h->len) mismatch("lengths");
      // libpcap reads the file's 32-bit seconds and fraction as signed (a file after 2038
      // goes back to 1901); the reader reads them unsigned, as the pcap specification says.
      // Compare the 32-bit fields themselves.
      if (f.pcapng()) {
        // libpcap's 64-bit seconds and its fraction (an int), in nanoseconds.
        const uint64_t want = static_cast<uint64_t>(h->ts.tv_sec) * 1'000'000'000u +
                              static_cast<uint32_t>(h->ts.tv_usec);
        if (r.ts_ns != want) mismatch("timestamp");
      } else {
        const uint64_t sec = static_cast<uint32_t>(h->ts.tv_sec);
        const uint64_t frac = f.nanosecond() ? static_cast<uint32_t>(h->ts.tv_usec)
                                             : static_cast<uint32_t>(h->ts.tv_usec / 1000);
        if (r.ts_ns != sec * 1'000'000'000u + (f.nanosecond() ? frac : frac * 1000u)) {
          mismatch("timestamp");
        }
      }
      if (r.caplen != 0 && std::memcmp(r.data, d, r.caplen) != 0) mismatch("bytes");
    }
    // The one limit libpcap does not have (pcap_file.h): more interfaces than the reader keeps.
    if (f.pcapng() && f.damage().starts_with("more than ")) {
      pcap_close(p);
      close(fd);
      return 0;
    }
    if (f.damaged() != (rc == PCAP_ERROR)) mismatch("damage");
    if (f.damaged()) {
      if (f.damage() != std::string_view(pcap_geterr(p))) mismatch("damage message");
      if (f.damage_offset() != std::ftell(pcap_file(p))) mismatch("damage offset");
    }
    pcap_close(p);
  }
  close(fd);
  return 0;
}
