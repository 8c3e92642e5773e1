#pragma once
// L2-L4 decode of one captured frame into a PacketMeta. Pure function over bytes: no DPDK,
// no allocation, every read bounds-checked, every way a frame can be malformed is a named
// counter (see FS_DECODE_COUNTERS and docs/counters.md). Never crashes on any input.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "common/counters.h"
#include "common/net.h"
#include "sensor/decode/ip_reasm.h"

namespace flowscribe::decode {

// pcap LINKTYPE_* values (https://www.tcpdump.org/linktypes.html) we decode.
enum class LinkType : uint16_t {
  kNull = 0,         // BSD loopback: 4-byte host-order AF_ family
  kEthernet = 1,
  kDltRaw = 12,      // what pcap_datalink() returns for LINKTYPE_RAW files on Linux (DLT_RAW)
  kRaw = 101,        // raw IPv4/IPv6, version from the first nibble
  kLoop = 108,       // OpenBSD loopback: 4-byte network-order AF_ family
  kIeee80211 = 105,  // 802.11 frames, no radio header
  kLinuxSll = 113,   // Linux cooked v1, 16-byte header
  kIeee80211Radiotap = 127,  // radiotap header, then the 802.11 frame
  kIpv4 = 228,
  kIpv6 = 229,
  kNflog = 239,      // Linux netfilter log: 4-byte header, then TLVs (NFULA_PAYLOAD holds the IP)
  kLinuxSll2 = 276,  // Linux cooked v2, 20-byte header
};

// True when decode_packet() understands this pcap link type.
bool link_type_supported(uint32_t linktype) noexcept;
// Human name of a pcap link type, for messages ("EN10MB", "LINUX_SLL2", ... or "unknown").
const char* link_type_name(uint32_t linktype) noexcept;

// Fragment position of the packet's (innermost) IP datagram.
enum class Frag : uint8_t { kNone = 0, kFirst = 1, kLater = 2 };

struct PacketMeta {
  const uint8_t* l3 = nullptr;       // IP header we track on (the inner one after a tunnel)
  // L4 payload, nullptr when empty. TCP/UDP: the data after the header; ICMP/ICMPv6: the
  // bytes after the 8-byte header; SCTP: the chunks after the 12-byte common header; other
  // transports (ESP, unsupported GRE, ...): the whole L4 segment. Non-first fragments have no L4 header, so nullptr there.
  const uint8_t* payload = nullptr;
  uint32_t payload_len = 0;          // captured L4 payload bytes available at `payload`
  // L4 payload bytes on the wire (from the IP and UDP lengths): more than payload_len when
  // the capture cut the packet (snaplen), so reassembly can tell a gap from a short segment.
  // 0 for non-first fragments.
  uint32_t payload_wire_len = 0;
  uint32_t ip_len = 0;               // IP total length from the header (wire size of L3+)
  // Tags of the Ethernet header right above the tracked IP header: after GRE-TEB/ERSPAN the
  // inner frame's tags (the outer ones belong to the transport network); after GRE/IP-in-IP
  // with no inner Ethernet, the outer frame's tags. Tags past the second are skipped.
  uint16_t vlan_outer = 0;           // 0 when untagged
  uint16_t vlan_inner = 0;           // QinQ inner tag, 0 when none
  uint8_t vlan_count = 0;
  uint8_t ip_version = 0;            // 4 or 6
  uint8_t l4_proto = 0;              // IpProto value of the transport (last header)
  uint8_t ttl = 0;                   // TTL / hop limit
  IpAddr src{};
  IpAddr dst{};
  // Ports in host order. ICMP/ICMPv6: echo request/reply use sport = dport = identifier so a
  // ping and its reply form one flow; other ICMP messages use sport = type, dport = code.
  uint16_t sport = 0;
  uint16_t dport = 0;
  bool has_ports = false;            // false for non-first fragments and other protocols
  uint8_t tcp_flags = 0;             // TcpFlag bits
  // Fragments: offset from l3 of the fragment's data (IPv4: the header length; IPv6: the
  // byte after the fragment header). Set only when frag != kNone; fits a padding hole.
  uint16_t frag_data_off = 0;
  uint32_t tcp_seq = 0;
  uint32_t tcp_ack = 0;
  uint16_t tcp_window = 0;
  uint8_t icmp_type = 0;
  uint8_t icmp_code = 0;
  Frag frag = Frag::kNone;
  uint8_t frag_depth = 0;            // fragments: tunnels decapsulated above the fragment
  uint32_t frag_id = 0;              // IPv4 identification or IPv6 fragment header id
  bool tunneled = false;             // decoded through GRE (incl. PPTP) / ERSPAN / IP-in-IP / VXLAN / Geneve / GTP-U
};

// Every outcome that is not a clean decode has a counter here. kOk-path counters too.
// Each kMalformed frame moves exactly one counter of this list (docs/counters.md).
#define FS_DECODE_COUNTERS(X)                                                     \
  X(decode_ok, "frames decoded to an IP flow key")                                \
  X(decode_not_ip, "frames that are not IP (ARP, LLDP, STP, ...): counted, no flow") \
  X(decode_truncated_l2, "frames shorter than their link-layer header")          \
  X(decode_vlan_too_deep, "more than 2 VLAN tags: the extra tags are skipped (not in the key)") \
  X(decode_pppoe, "PPPoE session frames (the IP inside is decoded; PPP control frames are not IP)") \
  X(decode_mpls, "MPLS frames whose label stack was skipped to the IP packet below it") \
  X(decode_mpls_too_deep, "malformed: more than 8 MPLS labels without a bottom of stack") \
  X(decode_vlan_tag_cap, "more than 8 VLAN tags (the cap): malformed")           \
  X(decode_ip_bad_version, "raw IP (RAW link, ERSPAN III) with a version nibble neither 4 nor 6") \
  X(decode_ipv4_truncated, "IPv4 header cut short by the capture")               \
  X(decode_ipv4_bad_version, "IPv4 version nibble not 4")                         \
  X(decode_ipv4_bad_ihl, "IPv4 header length < 20 or beyond the frame")          \
  X(decode_ipv4_bad_total_len, "IPv4 total length smaller than its header")      \
  X(decode_ipv4_options, "IPv4 packets carrying options (decoded)")              \
  X(decode_ipv4_frag_first, "first IPv4 fragments (attributed by ports)")        \
  X(decode_frag_tiny_first, "first fragments too short for their transport header (RFC 1858 tiny fragments): no ports until reassembly") \
  X(decode_ipv4_frag_later, "non-first IPv4 fragments (no L4 header)")           \
  X(decode_ipv6_truncated, "IPv6 header cut short by the capture")               \
  X(decode_ipv6_bad_version, "IPv6 version nibble not 6")                        \
  X(decode_ipv6_jumbogram, "IPv6 jumbograms (RFC 2675, payload length 0 + hop-by-hop): malformed") \
  X(decode_ipv6_ext_truncated, "IPv6 extension header cut short (capture or payload length)") \
  X(decode_ipv6_ext_too_many, "more IPv6 extension headers than the cap (8)")    \
  X(decode_ipv6_frag_first, "first IPv6 fragments")                               \
  X(decode_ipv6_frag_later, "non-first IPv6 fragments")                           \
  X(decode_tcp_truncated, "TCP header cut short by the capture or the IP length") \
  X(decode_tcp_bad_offset, "TCP data offset < 5 or beyond the packet")           \
  X(decode_tcp_options_truncated, "TCP options cut by the capture: ports decoded, no payload") \
  X(decode_udp_truncated, "UDP header cut short by the capture or the IP length") \
  X(decode_udp_bad_len, "UDP length field inconsistent with the IP payload")     \
  X(decode_icmp_truncated, "ICMP/ICMPv6 header cut short")                       \
  X(decode_sctp_truncated, "SCTP common header (12 bytes) cut short by the capture or the IP length") \
  X(decode_other_l4, "IP packets of other transports (ESP, GRE we do not open, ...): tracked by addresses") \
  X(decode_gre_truncated, "GRE or ERSPAN header (or PPTP's PPP header) cut short") \
  X(decode_gre_decapsulated, "GRE/ERSPAN packets decoded through to the inner packet") \
  X(decode_gre_unsupported, "GRE with a payload or version we do not decode")     \
  X(decode_gre_pptp, "PPTP enhanced GRE packets (version 1, RFC 2637); the IPv4/IPv6 inside their PPP frame is decoded (also decode_gre_decapsulated)") \
  X(decode_gre_pptp_not_ip, "PPTP GRE packets with no IP inside (acknowledgement only, LCP, CCP, MPPE-encrypted 0x00FD, ...): tracked as a GRE flow of the carrier") \
  X(decode_ipip_decapsulated, "IP-in-IP packets (protocol 4 / 41) decoded through to the inner packet") \
  X(decode_udp_tunnel_truncated, "VXLAN/Geneve/GTP-U header cut short by the capture")      \
  X(decode_udp_decapsulated, "VXLAN (4789), VXLAN-GPE (4790), Geneve (6081) and GTP-U (2152) packets decoded to the inner packet") \
  X(decode_tunnel_too_deep, "nested tunnels beyond the cap (2)")                 \
  X(decode_nflog_truncated, "NFLOG header or TLV cut short, or a TLV length below 4: malformed") \
  X(decode_nflog_no_payload, "NFLOG messages that end without a payload TLV (logged without packet bytes, or cut before them): malformed") \
  X(decode_nflog_not_ip, "NFLOG messages of a family other than IPv4/IPv6 (bridge, ARP, ...): not IP") \
  X(decode_radiotap_bad, "radiotap header cut short, version not 0, or length below 8: malformed") \
  X(decode_wlan_truncated, "802.11 header or its LLC/SNAP header cut short: malformed") \
  X(decode_wlan_not_data, "802.11 management, control and null-data frames: not IP") \
  X(decode_wlan_protected, "802.11 data frames with the Protected bit (WEP/TKIP/CCMP, not decrypted): not IP") \
  X(decode_wlan_unsupported, "802.11 data frames not opened (fragments, A-MSDU, LLC other than SNAP, protocol version not 0): not IP") \
  X(decode_unsupported_link, "frames on a link type we do not decode")

FS_DEFINE_COUNTERS(DecodeCounters, FS_DECODE_COUNTERS);

enum class DecodeStatus : uint8_t {
  kOk,         // `out` holds a flow-worthy packet (addresses, maybe ports)
  kNotIp,      // valid frame, nothing to track (ARP, LLDP, ...)
  kMalformed,  // counted; `out` is unspecified (also: a link type we do not decode)
};

// Decodes `caplen` captured bytes of one frame of link type `link`.
DecodeStatus decode_packet(LinkType link, const uint8_t* data, uint32_t caplen,
                           PacketMeta& out, DecodeCounters& counters) noexcept;

// The frame most links carry, decoded in one pass with no call (the worker inlines it before
// decode_packet): Ethernet, untagged or with one 802.1Q tag, then IPv4 without options and
// not a fragment or IPv6 with no extension header, then TCP with its whole header captured
// or UDP with a consistent length and off the tunnel ports. For such a frame FastMeta holds what decode_packet() would put in the
// same PacketMeta fields (tests/unit/decode_fast_test compares the two on every test capture
// and on mutated frames). It counts nothing, so the caller adds decode_ok; any other frame,
// the malformed ones included, returns false for decode_packet() to decode and count.
struct FastMeta {
  const uint8_t* payload;      // as PacketMeta::payload (nullptr when empty)
  uint32_t payload_len;
  uint32_t payload_wire_len;
  uint32_t ip_len;
  const uint8_t* l3;           // the IP header (IPv6: its addresses at l3 + 8 and l3 + 24)
  uint32_t src;                // IPv4 addresses as on the wire (network byte order); IPv6: 0
  uint32_t dst;
  uint32_t tcp_seq;            // 0 for UDP
  uint32_t tcp_ack;
  uint16_t sport;              // host order
  uint16_t dport;
  uint16_t vlan;               // PacketMeta::vlan_outer
  uint8_t ip_version;          // 4 or 6
  uint8_t l4_proto;
  uint8_t tcp_flags;           // 0 for UDP
};

namespace fast_detail {
inline uint16_t be16(const uint8_t* p) noexcept {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return __builtin_bswap16(v);
}
inline uint32_t be32(const uint8_t* p) noexcept {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return __builtin_bswap32(v);
}
}  // namespace fast_detail

inline bool decode_fast(const uint8_t* d, uint32_t caplen, FastMeta& m) noexcept {
  using fast_detail::be16;
  using fast_detail::be32;
  constexpr uint32_t kEth = 14, kVlan = 4, kIp = 20, kTcp = 20, kUdp = 8;
  if (caplen < kEth + kIp) [[unlikely]] return false;
  uint32_t off = kEth;
  uint16_t type = be16(d + 12);
  m.vlan = 0;
  if (type == 0x8100) {  // one 802.1Q tag (QinQ and the rest: the general path)
    if (caplen < kEth + kVlan + kIp) return false;
    m.vlan = be16(d + 14) & 0x0FFF;
    type = be16(d + 16);
    off = kEth + kVlan;
  }
  const uint8_t* ip = d + off;
  m.l3 = ip;
  uint32_t l4_cap, l4_wire;
  const uint8_t* l4;
  if (type == 0x0800) [[likely]] {
    if (ip[0] != 0x45) return false;             // IPv4 without options
    const uint32_t total = be16(ip + 2);
    if (total < kIp || (be16(ip + 6) & 0x3FFF) != 0) return false;  // bad length; fragment
    // Ethernet pads short frames: the IP total length ends the packet, the capture may cut it.
    l4_cap = std::min(caplen - off, total) - kIp;
    l4_wire = total - kIp;
    l4 = ip + kIp;
    m.ip_len = total;
    m.ip_version = 4;
    std::memcpy(&m.src, ip + 12, 4);
    std::memcpy(&m.dst, ip + 16, 4);
    m.l4_proto = ip[9];
  } else if (type == 0x86DD) {
    constexpr uint32_t kIp6 = 40;
    if (caplen < off + kIp6 || (ip[0] >> 4) != 6) return false;
    // No extension header: the next header is the transport (the rest: the general walk).
    m.l4_proto = ip[6];
    if (m.l4_proto != kIpProtoTcp && m.l4_proto != kIpProtoUdp) return false;
    const uint32_t plen = be16(ip + 4);
    l4_cap = std::min(caplen - off - kIp6, plen);
    l4_wire = plen;
    l4 = ip + kIp6;
    m.ip_len = kIp6 + plen;
    m.ip_version = 6;
    m.src = m.dst = 0;
  } else {
    return false;
  }
  uint32_t hlen, end;
  if (m.l4_proto == kIpProtoTcp) [[likely]] {
    if (l4_cap < kTcp) return false;
    hlen = static_cast<uint32_t>(l4[12] >> 4) * 4;
    if (hlen < kTcp || hlen > l4_cap) return false;  // bad offset; options cut short
    m.tcp_seq = be32(l4 + 4);
    m.tcp_ack = be32(l4 + 8);
    m.tcp_flags = l4[13];
    end = l4_wire;
  } else if (m.l4_proto == kIpProtoUdp) {
    if (l4_cap < kUdp) return false;
    end = be16(l4 + 4);
    if (end > l4_wire || end < kUdp) return false;  // length inconsistent: counted there
    const uint16_t sp = be16(l4), dp = be16(l4 + 2);
    // VXLAN 4789, VXLAN-GPE 4790, Geneve 6081, GTP-U 2152: tunnels are opened there.
    if (std::min(sp, dp) <= 6081 &&
        (dp == 4789 || dp == 4790 || dp == 6081 || dp == 2152 || sp == 2152)) {
      return false;
    }
    hlen = kUdp;
    m.tcp_seq = 0;
    m.tcp_ack = 0;
    m.tcp_flags = 0;
  } else {
    return false;
  }
  m.sport = be16(l4);
  m.dport = be16(l4 + 2);
  const uint32_t cap_end = std::min(end, l4_cap);
  m.payload_len = cap_end - hlen;
  m.payload_wire_len = end - hlen;
  m.payload = m.payload_len != 0 ? l4 + hlen : nullptr;
  return true;
}

// For a packet decode_packet() found to be a fragment (pm.frag != kNone): the datagram it
// belongs to and its place in it, read again from the IP (and IPv6 fragment) header the
// decoder checked. `frame_end` is one past the frame's last captured byte.
void fragment_of(const PacketMeta& pm, const uint8_t* frame_end, FragKey& key,
                 Fragment& frag) noexcept;

// Decodes a reassembled datagram: `len` bytes from its transport header (IPv6: from the
// header after the fragment header, `proto` naming it) as if they had followed the
// fragment's IP header `frag_pm`. Tunnels inside are opened as in decode_packet(); counters
// of the transport (and of any tunnel) are counted, decode_ok is not (no frame).
DecodeStatus decode_reassembled(const PacketMeta& frag_pm, uint8_t proto, const uint8_t* data,
                                uint32_t len, PacketMeta& out, DecodeCounters& counters) noexcept;

}  // namespace flowscribe::decode
