#include "sensor/pcap_probe.h"

#include <pcap/pcap.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "sensor/decode/decode.h"

#include "common/strings.h"

namespace flowscribe::sensor {

absl::StatusOr<PcapProbe> probe_pcap(const std::string& path, bool count) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    int e = errno;
    std::string msg = cat("cannot open capture '", path, "': ", std::strerror(e));
    return e == ENOENT ? absl::NotFoundError(msg) : absl::InvalidArgumentError(msg);
  }
  char err[PCAP_ERRBUF_SIZE] = {0};
  pcap_t* p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, err);
  if (p == nullptr) {
    std::fclose(f);
    return absl::InvalidArgumentError(
        cat("'", path, "' is not a pcap or pcapng capture (", err, ")"));
  }
  PcapProbe r;
  r.linktype = static_cast<uint32_t>(pcap_datalink(p));
  if (!decode::link_type_supported(r.linktype)) {
    std::string name = pcap_datalink_val_to_name(pcap_datalink(p)) ? pcap_datalink_val_to_name(pcap_datalink(p)) : "?";
    pcap_close(p);
    return absl::InvalidArgumentError(cat(
        "'", path, "' has link type ", r.linktype, " (", name,
        "), which flowscribe does not decode (supported: Ethernet, Linux cooked v1/v2, raw "
        "IP, null/loopback, NFLOG, 802.11, 802.11 radiotap)"));
  }
  if (!count) {
    pcap_close(p);
    return r;
  }
  pcap_pkthdr* h = nullptr;
  const u_char* data = nullptr;
  int rc;
  while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
    ++r.packets;
    r.bytes += h->caplen;
    if (h->caplen > r.max_caplen) r.max_caplen = h->caplen;
  }
  if (rc == PCAP_ERROR) {
    r.damaged = true;
    r.damage = pcap_geterr(p);
    r.damage_offset = static_cast<int64_t>(std::ftell(pcap_file(p)));
  }
  pcap_close(p);  // closes f
  return r;
}

}  // namespace flowscribe::sensor
