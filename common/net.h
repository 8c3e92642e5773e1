#pragma once
// Plain network value types shared by every layer (no DPDK, no protocol knowledge).
#include <cstdint>
#include <cstring>

namespace flowscribe {

using Nanos = uint64_t;  // nanoseconds since the Unix epoch (packet time, not wall time)

constexpr Nanos kNsPerSec = 1'000'000'000ULL;

// IPv4 is stored in the first 4 bytes with the other 12 zero; the version says which.
struct IpAddr {
  uint8_t b[16];
};

enum IpProto : uint8_t {
  kIpProtoIcmp = 1,
  kIpProtoTcp = 6,
  kIpProtoUdp = 17,
  kIpProtoGre = 47,
  kIpProtoIcmpv6 = 58,
  kIpProtoSctp = 132,
};

// TCP flag bits as on the wire (RFC 9293 section 3.1).
enum TcpFlag : uint8_t {
  kTcpFin = 0x01,
  kTcpSyn = 0x02,
  kTcpRst = 0x04,
  kTcpPsh = 0x08,
  kTcpAck = 0x10,
  kTcpUrg = 0x20,
  kTcpEce = 0x40,
  kTcpCwr = 0x80,
};

}  // namespace flowscribe
