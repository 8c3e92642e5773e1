// Decoder tests: every frame is built byte by byte below, decoded whole (exact fields and the
// exact set of counters it moves), then decoded again cut at every length 0..size from an
// exactly-sized heap buffer, so an over-read is caught by ASan builds and a wrong result by
// the consistency checks.
#include "sensor/decode/decode.h"

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>

#include "tests/unit/doc_table.h"
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace flowscribe::decode {
namespace {

using Bytes = std::vector<uint8_t>;
using Names = std::set<std::string>;

constexpr std::array<uint8_t, 4> kSrc4 = {192, 0, 2, 1};       // RFC 5737 documentation
constexpr std::array<uint8_t, 4> kDst4 = {198, 51, 100, 2};
constexpr std::array<uint8_t, 4> kInnerSrc4 = {10, 1, 0, 1};
constexpr std::array<uint8_t, 4> kInnerDst4 = {10, 1, 0, 2};
constexpr std::array<uint8_t, 16> kSrc6 = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                           0,    0,    0,    0,    0, 0, 0, 1};  // RFC 3849
constexpr std::array<uint8_t, 16> kDst6 = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                           0,    0,    0,    0,    0, 0, 0, 2};

constexpr uint16_t kEthIpv4 = 0x0800;
constexpr uint16_t kEthIpv6 = 0x86DD;
constexpr uint16_t kEthArp = 0x0806;
constexpr uint16_t kEthVlan = 0x8100;
constexpr uint16_t kEthQinQ = 0x88A8;
constexpr uint16_t kEthQinQOld = 0x9100;
constexpr uint32_t kPayloadLen = 10;

// Counters that move on frames that are not malformed. Every other counter is an error: a
// kMalformed frame must move exactly one of those, and a good frame none.
const Names kInfoCounters = {
    "decode_ok",           "decode_not_ip",          "decode_vlan_too_deep",
    "decode_ipv4_options", "decode_ipv4_frag_first", "decode_ipv4_frag_later",
    "decode_ipv6_frag_first", "decode_ipv6_frag_later", "decode_udp_bad_len",
    "decode_other_l4",     "decode_gre_decapsulated", "decode_gre_unsupported",
    "decode_ipip_decapsulated", "decode_tunnel_too_deep", "decode_tcp_options_truncated",
    "decode_pppoe",        "decode_mpls",            "decode_udp_decapsulated",
    "decode_frag_tiny_first", "decode_gre_pptp", "decode_gre_pptp_not_ip",
    "decode_nflog_not_ip", "decode_wlan_not_data", "decode_wlan_protected",
    "decode_wlan_unsupported",
};

// ---- frame builder -------------------------------------------------------------------------

struct Builder {
  Bytes b;
  size_t mark_ = SIZE_MAX;  // end of the last header the decoder needs

  Builder& u8(uint8_t v) {
    b.push_back(v);
    return *this;
  }
  Builder& u16(uint16_t v) { return u8(static_cast<uint8_t>(v >> 8)).u8(static_cast<uint8_t>(v)); }
  Builder& u32(uint32_t v) {
    return u16(static_cast<uint16_t>(v >> 16)).u16(static_cast<uint16_t>(v));
  }
  Builder& raw(std::initializer_list<uint8_t> v) {
    b.insert(b.end(), v.begin(), v.end());
    return *this;
  }
  template <size_t N>
  Builder& raw(const std::array<uint8_t, N>& v) {
    b.insert(b.end(), v.begin(), v.end());
    return *this;
  }
  Builder& fill(size_t n, uint8_t v) {
    b.insert(b.end(), n, v);
    return *this;
  }
  // Recognisable payload bytes 'a', 'b', ...
  Builder& payload(size_t n) {
    for (size_t i = 0; i < n; ++i) u8(static_cast<uint8_t>('a' + i % 26));
    return *this;
  }
  Builder& mark() {
    mark_ = b.size();
    return *this;
  }
  size_t size() const { return b.size(); }
};

void eth(Builder& b, uint16_t type) {
  b.raw({0x02, 0, 0, 0, 0, 0x02}).raw({0x02, 0, 0, 0, 0, 0x01}).u16(type);
}
// One 802.1Q tag: TCI (PCP 3 bits, DEI, VID 12 bits), then the next ethertype.
void tag(Builder& b, uint16_t vid, uint16_t next) {
  b.u16(static_cast<uint16_t>(0xA000 | vid)).u16(next);
}

struct V4 {
  uint8_t proto = 6;
  uint32_t l4_len = 0;  // bytes after the header (sets total length)
  Bytes opts = {};
  uint16_t frag = 0;    // flags(3) + offset(13)
  uint16_t id = 0x1234;
  uint8_t ttl = 64;
  std::array<uint8_t, 4> src = kSrc4;
  std::array<uint8_t, 4> dst = kDst4;
  int total = -1;       // override of the total length field
  int ihl = -1;         // override of the IHL nibble
  uint8_t version = 4;
};
void ipv4(Builder& b, const V4& h) {
  const uint32_t hlen = 20 + static_cast<uint32_t>(h.opts.size());
  const uint8_t ihl = h.ihl >= 0 ? static_cast<uint8_t>(h.ihl) : static_cast<uint8_t>(hlen / 4);
  const uint16_t total = h.total >= 0 ? static_cast<uint16_t>(h.total)
                                      : static_cast<uint16_t>(hlen + h.l4_len);
  b.u8(static_cast<uint8_t>(h.version << 4 | ihl)).u8(0).u16(total).u16(h.id).u16(h.frag);
  b.u8(h.ttl).u8(h.proto).u16(0 /* checksum: not verified */).raw(h.src).raw(h.dst);
  b.b.insert(b.b.end(), h.opts.begin(), h.opts.end());
}

void ipv6(Builder& b, uint8_t next, uint16_t plen, uint8_t hop = 64,
          const std::array<uint8_t, 16>& src = kSrc6, const std::array<uint8_t, 16>& dst = kDst6) {
  b.u32(0x60000000).u16(plen).u8(next).u8(hop).raw(src).raw(dst);
}
// RFC 8200 section 4.3 layout: next, length in 8-byte units minus 1, PadN to the length.
void ext6(Builder& b, uint8_t next, uint8_t len_units) {
  const size_t len = (len_units + 1u) * 8u;
  b.u8(next).u8(len_units).u8(1).u8(static_cast<uint8_t>(len - 4)).fill(len - 4, 0);
}
void frag6(Builder& b, uint8_t next, uint16_t offset_units, bool more, uint32_t id) {
  b.u8(next).u8(0).u16(static_cast<uint16_t>(offset_units << 3 | (more ? 1 : 0))).u32(id);
}

struct Tcp {
  uint16_t sport = 40000;
  uint16_t dport = 443;
  uint32_t seq = 0x11223344;
  uint32_t ack = 0x55667788;
  uint8_t flags = kTcpAck | kTcpPsh;
  uint16_t win = 0xFFF0;
  uint8_t doff = 5;      // header length in 32-bit words, as written on the wire
  int opt_bytes = -1;    // option bytes actually written (default: doff * 4 - 20)
};
void tcp(Builder& b, const Tcp& t) {
  b.u16(t.sport).u16(t.dport).u32(t.seq).u32(t.ack);
  b.u8(static_cast<uint8_t>(t.doff << 4)).u8(t.flags).u16(t.win).u16(0).u16(0);
  const int opts = t.opt_bytes >= 0 ? t.opt_bytes : (t.doff > 5 ? (t.doff - 5) * 4 : 0);
  b.fill(static_cast<size_t>(opts), 1 /* NOP */);
}
void udp(Builder& b, uint16_t sport, uint16_t dport, uint16_t len) {
  b.u16(sport).u16(dport).u16(len).u16(0);
}
void icmp(Builder& b, uint8_t type, uint8_t code, uint16_t id, uint16_t seq) {
  b.u8(type).u8(code).u16(0).u16(id).u16(seq);
}
struct Gre {
  uint16_t ptype = kEthIpv4;
  bool csum = false;
  bool key = false;
  bool seq = false;
  uint16_t version = 0;
};
void gre(Builder& b, const Gre& g) {
  uint16_t flags = g.version;
  if (g.csum) flags |= 0x8000;
  if (g.key) flags |= 0x2000;
  if (g.seq) flags |= 0x1000;
  b.u16(flags).u16(g.ptype);
  if (g.csum) b.u16(0).u16(0);
  if (g.key) b.u32(0xABCD0001);
  if (g.seq) b.u32(7);
}
// The inner packet most tunnel fixtures carry: IPv4 10.1.0.1:1234 -> 10.1.0.2:80 TCP + data.
constexpr uint32_t kInnerTcpLen = 20 + 20 + kPayloadLen;
void inner_tcp4(Builder& b) {
  ipv4(b, {.proto = 6, .l4_len = 20 + kPayloadLen, .src = kInnerSrc4, .dst = kInnerDst4});
  tcp(b, {.sport = 1234, .dport = 80});
  b.mark().payload(kPayloadLen);
}

// ---- fixtures ------------------------------------------------------------------------------

struct Fixture {
  std::string name;
  LinkType link = LinkType::kEthernet;
  Bytes bytes;
  DecodeStatus status = DecodeStatus::kOk;
  Names counters;   // exactly what decoding the whole frame moves
  size_t min_len;   // shortest cut that still decodes like the whole frame; SIZE_MAX: never
};

Fixture make(std::string name, LinkType link, const Builder& b, DecodeStatus status,
             Names counters) {
  Fixture f{std::move(name), link, b.b, status, std::move(counters), b.mark_};
  if (status == DecodeStatus::kMalformed) f.min_len = SIZE_MAX;
  return f;
}

// Real frames: bytes of a captured frame in hex, `mark` = end of the last header needed.
Builder from_hex(const char* hex, size_t mark) {
  Builder b;
  const auto nib = [](char ch) {
    return static_cast<uint8_t>(ch <= '9' ? ch - '0' : (ch | 0x20) - 'a' + 10);
  };
  for (const char* p = hex; p[0] != 0 && p[1] != 0; p += 2) {
    b.u8(static_cast<uint8_t>(nib(p[0]) << 4 | nib(p[1])));
  }
  b.mark_ = mark;
  return b;
}

// PPTP (RFC 2637) frame 1 of Arkime's tests/pcap/6-4-gre-ppp-udp-4-dns.pcap: Ethernet, VLAN
// 100, IPv6 carrying IPv4 (protocol 4), GRE version 1 with key, sequence and acknowledgement
// (flags 0x3081, call id 6016), PPP FF 03 0021, IPv4 172.16.44.3:40768 -> 8.8.8.8:53 UDP (a
// DNS AAAA query, 71 bytes).
constexpr const char* kPptpDnsFrame =
    "c500000082c400121ef2613d8100006486dd60000000008b04f62402f00000018e0100000000000055552607"
    "fcd00100230000000000b1082a6b4500008b8caf0000402f75fe100000c8c034a69a3081880b006717800006"
    "8fb100083a76ff03002145000063000040003c115667ac102c03080808089f400035004f2d23a62c01000001"
    "000000000000357871742d6465746563742d6d6f6465322d39373731326538382d313637612d343562392d39"
    "3365652d39313331343065373636373800001c0001";
constexpr size_t kPptpDnsUdp = 14 + 4 + 40 + 20 + 16 + 4 + 20;  // offset of the inner UDP header

// Enhanced GRE header: flags (K, S when seq, A when ack; version 1), 0x880B, payload length,
// call id, then sequence / acknowledgement numbers.
void pptp(Builder& b, uint16_t payload_len, bool seq, bool ack) {
  b.u16(static_cast<uint16_t>(0x2001 | (seq ? 0x1000 : 0) | (ack ? 0x0080 : 0))).u16(0x880B);
  b.u16(payload_len).u16(0x1780);
  if (seq) b.u32(430001);
  if (ack) b.u32(539254);
}

void add_pptp_fixtures(std::vector<Fixture>& v) {
  using S = DecodeStatus;
  const Names decap = {"decode_ok", "decode_gre_pptp", "decode_gre_decapsulated"};
  const Names tracked = {"decode_ok", "decode_gre_pptp", "decode_gre_pptp_not_ip",
                         "decode_other_l4"};
  v.push_back(make("pptp_dns_real", LinkType::kEthernet, from_hex(kPptpDnsFrame, kPptpDnsUdp + 8),
                   S::kOk,
                   {"decode_ok", "decode_ipip_decapsulated", "decode_gre_pptp",
                    "decode_gre_decapsulated"}));
  {  // Address/control and protocol fields compressed (ACFC + PFC): PPP is just 0x21.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 47, .l4_len = 12 + 1 + kInnerTcpLen});
    pptp(b, 1 + kInnerTcpLen, true, false);
    b.u8(0x21);
    inner_tcp4(b);
    v.push_back(make("pptp_compressed", LinkType::kEthernet, b, S::kOk, decap));
  }
  {  // IPv6 (PPP 0x0057) with the address/control field, ack only in the header.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 47, .l4_len = 12 + 4 + 40 + 8});
    pptp(b, 4 + 40 + 8, false, true);
    b.raw({0xFF, 0x03, 0x00, 0x57});
    ipv6(b, 58, 8);
    icmp(b, 128, 0, 0x0999, 1);
    b.mark();
    v.push_back(make("pptp_ipv6", LinkType::kEthernet, b, S::kOk, decap));
  }
  {  // Acknowledgement only: payload length 0, no PPP frame.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 47, .l4_len = 12});
    pptp(b, 0, false, true);
    b.mark();
    v.push_back(make("pptp_ack_only", LinkType::kEthernet, b, S::kOk, tracked));
  }
  {  // LCP echo request (0xC021).
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 47, .l4_len = 12 + 12});
    pptp(b, 12, true, false);
    b.raw({0xFF, 0x03, 0xC0, 0x21}).mark().raw({0x09, 0x01, 0x00, 0x08}).u32(0x12345678);
    v.push_back(make("pptp_lcp", LinkType::kEthernet, b, S::kOk, tracked));
  }
  {  // MPPE-encrypted data (compressed datagram 0x00FD), address/control compressed.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 47, .l4_len = 12 + 2 + 20});
    pptp(b, 2 + 20, true, false);
    b.raw({0x00, 0xFD}).mark().payload(20);
    v.push_back(make("pptp_mppe", LinkType::kEthernet, b, S::kOk, tracked));
  }
  {  // Payload length 6: the PPP frame ends inside the inner IPv4 header.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 47, .l4_len = 12 + 4 + kInnerTcpLen});
    pptp(b, 6, true, false);
    b.raw({0xFF, 0x03, 0x00, 0x21});
    inner_tcp4(b);
    v.push_back(make("pptp_len_short", LinkType::kEthernet, b, S::kMalformed,
                     {"decode_gre_pptp", "decode_gre_decapsulated", "decode_ipv4_truncated"}));
  }
  {  // Payload length 1: the frame ends inside the address/control field.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 47, .l4_len = 12 + 4 + kInnerTcpLen});
    pptp(b, 1, true, false);
    b.raw({0xFF, 0x03, 0x00, 0x21});
    inner_tcp4(b);
    v.push_back(make("pptp_ppp_cut", LinkType::kEthernet, b, S::kMalformed,
                     {"decode_gre_pptp", "decode_gre_truncated"}));
  }
}

// NFLOG (LINKTYPE 239) frames 1 and 2 of Arkime's tests/pcap/nflog.pcap: family AF_INET,
// resource id 40, TLVs (packet header, prefix, indev, uid, gid / hwaddr, timestamp, ...),
// then NFULA_PAYLOAD: a TCP SYN 10.10.10.10:54064 -> 52.43.228.156:80 and its SYN-ACK.
constexpr const char* kNflogSyn =
    "02000028080001000000031605000a0000000000080005000000000208000b000000064c08000e000000040240"
    "0009004500003cc8fe40004006b6aa0a0a0a0a342be49cd3300050f1ea5c7f00000000a0023908fc4d000002"
    "0405b40402080aa12a94810000000001030307";
constexpr const char* kNflogSynAck =
    "02000028080001000800012805000a000000000008000400000000021000080000063828cce17f8264c1e889"
    "06000f000001000006001100000e000012001000001372c4f1e1cce17f8264c108000000140003000000000058"
    "c98d1e000000000000b710400009004500003c00004000e206dda8342be49c0a0a0a0a0050d33030f94356f1ea"
    "5c80a01268dfc3940000020405b40402080a204a7436a12a948101030308";

// One NFLOG TLV: length (header included) and type, little endian, value, padding to 4.
void nflog_tlv(Builder& b, uint16_t type, const Bytes& value) {
  const uint16_t len = static_cast<uint16_t>(4 + value.size());
  b.u8(static_cast<uint8_t>(len)).u8(static_cast<uint8_t>(len >> 8));
  b.u8(static_cast<uint8_t>(type)).u8(static_cast<uint8_t>(type >> 8));
  b.b.insert(b.b.end(), value.begin(), value.end());
  b.fill((4 - value.size() % 4) % 4, 0);
}

void add_nflog_fixtures(std::vector<Fixture>& v) {
  using S = DecodeStatus;
  const Names ok = {"decode_ok"};
  v.push_back(make("nflog_syn_real", LinkType::kNflog, from_hex(kNflogSyn, 48 + 40), S::kOk, ok));
  v.push_back(
      make("nflog_synack_real", LinkType::kNflog, from_hex(kNflogSynAck, 104 + 40), S::kOk, ok));
  {  // AF_INET6 (10), a prefix TLV whose 3 bytes are padded, then IPv6 UDP.
    Builder b;
    b.u8(10).u8(0).u16(7);
    nflog_tlv(b, 10, {'a', 'b', 0});
    b.u8(4 + 40 + 8 + kPayloadLen).u8(0).u8(9).u8(0);
    ipv6(b, 17, 8 + kPayloadLen);
    udp(b, 5353, 53, 8 + kPayloadLen);
    b.mark().payload(kPayloadLen);
    v.push_back(make("nflog_ipv6", LinkType::kNflog, b, S::kOk, ok));
  }
  {  // AF_BRIDGE (7): not IP.
    Builder b;
    b.u8(7).u8(0).u16(0).mark();
    nflog_tlv(b, 1, {0x08, 0x06, 0x01, 0x00});
    v.push_back(make("nflog_bridge", LinkType::kNflog, b, S::kNotIp,
                     {"decode_not_ip", "decode_nflog_not_ip"}));
  }
  {  // No payload TLV (logged with a copy range of 0).
    Builder b;
    b.u8(2).u8(0).u16(0);
    nflog_tlv(b, 1, {0x08, 0x00, 0x01, 0x00});
    v.push_back(make("nflog_no_payload", LinkType::kNflog, b, S::kMalformed,
                     {"decode_nflog_no_payload"}));
  }
  {  // A TLV length of 2 (below its own header) would never move on.
    Builder b;
    b.u8(2).u8(0).u16(0).u8(2).u8(0).u8(1).u8(0).fill(8, 0);
    v.push_back(make("nflog_bad_tlv_len", LinkType::kNflog, b, S::kMalformed,
                     {"decode_nflog_truncated"}));
  }
  {  // A TLV that claims more bytes than the frame has.
    Builder b;
    b.u8(2).u8(0).u16(0).u8(200).u8(0).u8(1).u8(0).fill(8, 0);
    v.push_back(make("nflog_tlv_beyond", LinkType::kNflog, b, S::kMalformed,
                     {"decode_nflog_truncated"}));
  }
}

// 802.11 with radiotap (LINKTYPE 127) frames 1 and 2 of Arkime's tests/pcap/80211http.pcap:
// a 36-byte radiotap header (TSFT, Flags 0x10 = FCS at the end, rate, channel, signal,
// antenna), a data frame (ToDS; then FromDS), LLC/SNAP 0800, IPv4 TCP SYN 172.5.5.113:49417
// -> 14.17.32.211:80 and its SYN-ACK, then the 4-byte FCS.
constexpr const char* kWlanSyn =
    "000024002f4000a0200800000000000028eb68280000000010169e09a000ba000000ba000801020188259340"
    "6b6ff8a9d01e90a3882593406b6f20b7aaaa0300000008004500003cf931400040066130ac0505710e1120d3"
    "c109005096740dd600000000a002ffff0d1b0000020405b40402080afffff4e7000000000103030638ac82fa";
constexpr const char* kWlanSynAck =
    "000024002f4000a0200800000000000089ef68280000000010169e09a000e7000000e7000802d500f8a9d01e"
    "90a3882593406b6f882593406b6f003eaaaa0300000008004500003c000040004006"
    "5a620e1120d3ac0505710050c1095bc513de96740dd7a0127120b88b0000020405b40402080ab037c381ffff"
    "f4e701030307c6bffb04";

// 802.11 data frame header: frame control, duration, addresses (4 when ToDS and FromDS),
// sequence control (fragment number in the low nibble), QoS control, HT control.
struct Wlan {
  uint8_t fc0 = 0x08;  // version 0, type 2 (data), subtype 0
  uint8_t fc1 = 0x01;  // ToDS
  uint8_t frag = 0;
  uint8_t qos0 = 0x00;
};
void wlan(Builder& b, const Wlan& w) {
  b.u8(w.fc0).u8(w.fc1).u16(0x3a01);
  for (int i = 0; i < 3; ++i) b.raw({0x02, 0x11, 0x22, 0x33, 0x44, static_cast<uint8_t>(i)});
  b.u8(static_cast<uint8_t>(0x10 | w.frag)).u8(0x05);
  if ((w.fc1 & 0x03) == 0x03) b.raw({0x02, 0x11, 0x22, 0x33, 0x44, 0x03});
  if (w.fc0 & 0x80) {
    b.u8(w.qos0).u8(0);
    if (w.fc1 & 0x80) b.u32(0x0000C003);
  }
}
void snap(Builder& b, uint16_t type) { b.raw({0xAA, 0xAA, 0x03, 0, 0, 0}).u16(type); }
// The shortest radiotap header: version 0, length 8, no fields.
void radiotap(Builder& b) { b.raw({0, 0, 8, 0, 0, 0, 0, 0}); }

void add_wlan_fixtures(std::vector<Fixture>& v) {
  using S = DecodeStatus;
  using L = LinkType;
  const Names ok = {"decode_ok"};
  v.push_back(make("wlan_syn_real", L::kIeee80211Radiotap, from_hex(kWlanSyn, 36 + 24 + 8 + 40),
                   S::kOk, ok));
  v.push_back(make("wlan_synack_real", L::kIeee80211Radiotap,
                   from_hex(kWlanSynAck, 36 + 24 + 8 + 40), S::kOk, ok));
  {  // No radiotap (LINKTYPE 105): QoS data, 4 addresses, Order bit (HT control), IPv6 UDP.
    Builder b;
    wlan(b, {.fc0 = 0x88, .fc1 = 0x83});
    snap(b, kEthIpv6);
    ipv6(b, 17, 8 + kPayloadLen);
    udp(b, 5353, 53, 8 + kPayloadLen);
    b.mark().payload(kPayloadLen);
    v.push_back(make("wlan_qos_4addr_htc", L::kIeee80211, b, S::kOk, ok));
  }
  {  // Radiotap Flags 0x20: the 26-byte QoS header is padded to 28. SNAP OUI 0000F8, VLAN.
    Builder b;
    b.raw({0, 0, 12, 0, 0x02, 0, 0, 0, 0x20, 0, 0, 0});  // present: Flags; 3 bytes of padding
    wlan(b, {.fc0 = 0x88, .fc1 = 0x02});
    b.u16(0).raw({0xAA, 0xAA, 0x03, 0, 0, 0xF8}).u16(kEthVlan);
    tag(b, 12, kEthIpv4);
    ipv4(b, {.proto = 6, .l4_len = 20 + kPayloadLen});
    tcp(b, {});
    b.mark().payload(kPayloadLen);
    v.push_back(make("wlan_radiotap_datapad", L::kIeee80211Radiotap, b, S::kOk, ok));
  }
  {  // Protected (WEP/TKIP/CCMP): not decrypted.
    Builder b;
    radiotap(b);
    b.u8(0x88).u8(0x41).mark();
    b.fill(24, 0x5a);
    v.push_back(make("wlan_protected", L::kIeee80211Radiotap, b, S::kNotIp,
                     {"decode_not_ip", "decode_wlan_protected"}));
  }
  {  // Beacon (management type 0, subtype 8).
    Builder b;
    radiotap(b);
    b.u8(0x80).u8(0x00).mark();
    b.fill(22, 0xff).fill(12, 0);
    v.push_back(make("wlan_beacon", L::kIeee80211Radiotap, b, S::kNotIp,
                     {"decode_not_ip", "decode_wlan_not_data"}));
  }
  {  // ACK (control type 1, subtype 13): 10 bytes.
    Builder b;
    b.u8(0xD4).u8(0x00).mark().u16(0).raw({0x02, 0x11, 0x22, 0x33, 0x44, 0x55});
    v.push_back(make("wlan_ack", L::kIeee80211, b, S::kNotIp,
                     {"decode_not_ip", "decode_wlan_not_data"}));
  }
  {  // QoS Null (subtype 12): no data.
    Builder b;
    b.u8(0xC8).u8(0x01).mark();
    b.fill(24, 0);
    v.push_back(make("wlan_qos_null", L::kIeee80211, b, S::kNotIp,
                     {"decode_not_ip", "decode_wlan_not_data"}));
  }
  {  // A-MSDU (QoS control bit 7), a fragment (number 1), a non-SNAP LLC (STP), version 1.
    struct Case {
      const char* name;
      Wlan w;
      bool stp;
    };
    for (const Case& k : {Case{"wlan_amsdu", {.fc0 = 0x88, .fc1 = 0x02, .qos0 = 0x80}, false},
                          Case{"wlan_fragment", {.frag = 1}, false},
                          Case{"wlan_more_fragments", {.fc1 = 0x05}, false},
                          Case{"wlan_llc_stp", {}, true}}) {
      Builder b;
      wlan(b, k.w);
      if (k.stp) b.raw({0x42, 0x42, 0x03});
      b.mark();
      snap(b, kEthIpv4);
      ipv4(b, {.proto = 6, .l4_len = 20});
      tcp(b, {});
      v.push_back(make(k.name, L::kIeee80211, b, S::kNotIp,
                       {"decode_not_ip", "decode_wlan_unsupported"}));
    }
    Builder b;
    b.u8(0x09).u8(0x01).mark().fill(40, 0);
    v.push_back(make("wlan_version_1", L::kIeee80211, b, S::kNotIp,
                     {"decode_not_ip", "decode_wlan_unsupported"}));
  }
  {  // SNAP with ARP inside: a valid frame, not IP.
    Builder b;
    wlan(b, {});
    snap(b, kEthArp);
    b.mark().fill(28, 0);
    v.push_back(make("wlan_arp", L::kIeee80211, b, S::kNotIp, {"decode_not_ip"}));
  }
  {  // Radiotap version 1; and a radiotap length beyond the frame.
    Builder b;
    b.raw({1, 0, 8, 0, 0, 0, 0, 0});
    wlan(b, {});
    snap(b, kEthIpv4);
    v.push_back(make("radiotap_bad_version", L::kIeee80211Radiotap, b, S::kMalformed,
                     {"decode_radiotap_bad"}));
    Builder c;
    c.raw({0, 0, 0xff, 0, 0, 0, 0, 0});
    wlan(c, {});
    v.push_back(make("radiotap_too_long", L::kIeee80211Radiotap, c, S::kMalformed,
                     {"decode_radiotap_bad"}));
  }
}

std::vector<Fixture> build_fixtures() {
  using S = DecodeStatus;
  using L = LinkType;
  std::vector<Fixture> v;
  const Names ok = {"decode_ok"};

  {  // Ethernet / IPv4 / TCP with 10 bytes of data.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 6, .l4_len = 20 + kPayloadLen});
    tcp(b, {});
    b.mark().payload(kPayloadLen);
    v.push_back(make("eth_ipv4_tcp", L::kEthernet, b, S::kOk, ok));
  }
  {  // TCP with 12 bytes of options (data offset 8).
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 6, .l4_len = 32 + kPayloadLen});
    tcp(b, {.flags = kTcpSyn, .doff = 8});
    b.payload(kPayloadLen);
    b.mark_ = 14 + 20 + 20;  // options cut by the capture still give the flow key
    v.push_back(make("eth_ipv4_tcp_options", L::kEthernet, b, S::kOk, ok));
  }
  {
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 17, .l4_len = 8 + kPayloadLen});
    udp(b, 5353, 53, 8 + kPayloadLen);
    b.mark().payload(kPayloadLen);
    v.push_back(make("eth_ipv4_udp", L::kEthernet, b, S::kOk, ok));
  }
  {  // ICMP echo request / reply (RFC 792), identifier 0x0BEE.
    for (uint8_t type : {8, 0}) {
      Builder b;
      eth(b, kEthIpv4);
      ipv4(b, {.proto = 1, .l4_len = 8 + kPayloadLen, .src = type == 8 ? kSrc4 : kDst4,
               .dst = type == 8 ? kDst4 : kSrc4});
      icmp(b, type, 0, 0x0BEE, 1);
      b.mark().payload(kPayloadLen);
      v.push_back(make(type == 8 ? "icmp_echo_request" : "icmp_echo_reply", L::kEthernet, b,
                       S::kOk, ok));
    }
  }
  {  // ICMP destination unreachable, port unreachable (type 3 code 3).
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 1, .l4_len = 8 + 28});
    icmp(b, 3, 3, 0, 0);
    b.mark().payload(28);
    v.push_back(make("icmp_unreachable", L::kEthernet, b, S::kOk, ok));
  }
  {  // 802.1Q, VID 100.
    Builder b;
    eth(b, kEthVlan);
    tag(b, 100, kEthIpv4);
    ipv4(b, {.proto = 6, .l4_len = 20 + kPayloadLen});
    tcp(b, {});
    b.mark().payload(kPayloadLen);
    v.push_back(make("vlan", L::kEthernet, b, S::kOk, ok));
  }
  {  // 802.1ad S-tag 100 + C-tag 200.
    Builder b;
    eth(b, kEthQinQ);
    tag(b, 100, kEthVlan);
    tag(b, 200, kEthIpv4);
    ipv4(b, {.proto = 6, .l4_len = 20 + kPayloadLen});
    tcp(b, {});
    b.mark().payload(kPayloadLen);
    v.push_back(make("qinq", L::kEthernet, b, S::kOk, ok));
  }
  {  // PPPoE session (RFC 2516), PPP protocol 0x0021: IPv4 inside.
    Builder b;
    eth(b, 0x8864);
    b.u8(0x11).u8(0x00).u16(0x1234).u16(2 + 20 + 20 + kPayloadLen).u16(0x0021);
    ipv4(b, {.proto = 6, .l4_len = 20 + kPayloadLen});
    tcp(b, {});
    b.mark().payload(kPayloadLen);
    v.push_back(make("pppoe_ipv4", L::kEthernet, b, S::kOk, {"decode_ok", "decode_pppoe"}));
  }
  {  // PPPoE session carrying LCP (0xc021): not IP.
    Builder b;
    eth(b, 0x8864);
    b.u8(0x11).u8(0x00).u16(0x1234).u16(6).u16(0xc021).mark().raw({9, 1, 0, 4});
    v.push_back(make("pppoe_lcp", L::kEthernet, b, S::kNotIp, {"decode_not_ip", "decode_pppoe"}));
  }
  {  // VLAN 7, then two MPLS labels (the second bottom of stack), then IPv6.
    Builder b;
    eth(b, kEthVlan);
    tag(b, 7, 0x8847);
    b.u32((1000u << 12) | 64).u32((2000u << 12) | 0x100 | 64);
    ipv6(b, 6, 20 + kPayloadLen);
    tcp(b, {});
    b.mark().payload(kPayloadLen);
    v.push_back(make("mpls_ipv6", L::kEthernet, b, S::kOk, {"decode_ok", "decode_mpls"}));
  }
  {  // Nine MPLS labels and no bottom of stack: malformed.
    Builder b;
    eth(b, 0x8847);
    for (int i = 0; i < 9; ++i) b.u32((100u << 12) | 64);
    b.mark();
    v.push_back(make("mpls_too_deep", L::kEthernet, b, S::kMalformed, {"decode_mpls_too_deep"}));
  }
  {  // Pre-standard 0x9100 QinQ, carrying IPv6.
    Builder b;
    eth(b, kEthQinQOld);
    tag(b, 300, kEthVlan);
    tag(b, 400, kEthIpv6);
    ipv6(b, 6, 20 + kPayloadLen);
    tcp(b, {});
    b.mark().payload(kPayloadLen);
    v.push_back(make("qinq_9100_ipv6", L::kEthernet, b, S::kOk, ok));
  }
  {  // Three tags: the third is skipped and counted.
    Builder b;
    eth(b, kEthQinQ);
    tag(b, 10, kEthVlan);
    tag(b, 20, kEthVlan);
    tag(b, 30, kEthIpv4);
    ipv4(b, {.proto = 6, .l4_len = 20 + kPayloadLen});
    tcp(b, {});
    b.mark().payload(kPayloadLen);
    v.push_back(make("vlan_three_tags", L::kEthernet, b, S::kOk,
                     {"decode_ok", "decode_vlan_too_deep"}));
  }
  {  // Nine tags: beyond the cap.
    Builder b;
    eth(b, kEthVlan);
    for (int i = 0; i < 9; ++i) tag(b, static_cast<uint16_t>(i + 1), i == 8 ? kEthIpv4 : kEthVlan);
    ipv4(b, {.proto = 6, .l4_len = 20});
    tcp(b, {});
    v.push_back(make("vlan_nine_tags", L::kEthernet, b, S::kMalformed, {"decode_vlan_tag_cap"}));
  }
  {  // IPv4 options: 8 bytes (NOP, NOP, router alert RFC 2113, EOL padding).
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 17, .l4_len = 8 + kPayloadLen, .opts = {1, 1, 0x94, 4, 0, 0, 0, 0}});
    udp(b, 1000, 2000, 8 + kPayloadLen);
    b.mark().payload(kPayloadLen);
    v.push_back(
        make("ipv4_options", L::kEthernet, b, S::kOk, {"decode_ok", "decode_ipv4_options"}));
  }
  {  // First fragment: MF, offset 0. The UDP length covers the whole datagram (1000 bytes).
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 17, .l4_len = 8 + 16, .frag = 0x2000, .id = 0xBEEF});
    udp(b, 7000, 8000, 1000);
    b.mark().payload(16);
    v.push_back(make("ipv4_frag_first", L::kEthernet, b, S::kOk,
                     {"decode_ok", "decode_ipv4_frag_first"}));
  }
  {  // Tiny first fragment (RFC 1858): 8 bytes of a TCP header. Ports come from reassembly.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 6, .l4_len = 8, .frag = 0x2000, .id = 0xBEF0});
    b.mark().payload(8);
    v.push_back(make("ipv4_frag_tiny_first", L::kEthernet, b, S::kOk,
                     {"decode_ok", "decode_ipv4_frag_first", "decode_frag_tiny_first"}));
  }
  {  // Later fragment: offset 3 (24 bytes), last (MF clear).
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 17, .l4_len = 16, .frag = 3, .id = 0xBEEF});
    b.mark().payload(16);
    v.push_back(make("ipv4_frag_later", L::kEthernet, b, S::kOk,
                     {"decode_ok", "decode_ipv4_frag_later"}));
  }
  {  // IPv6: Hop-by-Hop -> Destination Options -> Fragment (first) -> UDP.
    Builder b;
    eth(b, kEthIpv6);
    ipv6(b, 0, 8 + 16 + 8 + 8 + kPayloadLen);
    ext6(b, 60, 0);
    ext6(b, 44, 1);
    frag6(b, 17, 0, true, 0xCAFE0001);
    udp(b, 546, 547, 1400);
    b.mark().payload(kPayloadLen);
    v.push_back(make("ipv6_ext_frag_first", L::kEthernet, b, S::kOk,
                     {"decode_ok", "decode_ipv6_frag_first"}));
  }
  {  // IPv6 later fragment.
    Builder b;
    eth(b, kEthIpv6);
    ipv6(b, 44, 8 + 24);
    frag6(b, 6, 185, false, 0xCAFE0001);
    b.mark().payload(24);
    v.push_back(make("ipv6_frag_later", L::kEthernet, b, S::kOk,
                     {"decode_ok", "decode_ipv6_frag_later"}));
  }
  {  // IPv6 AH (RFC 4302, length 4 -> 24 bytes) then TCP.
    Builder b;
    eth(b, kEthIpv6);
    ipv6(b, 51, 24 + 20 + kPayloadLen);
    b.u8(6).u8(4).u16(0).u32(0x100).u32(1).fill(12, 0xAA);  // next, len, res, SPI, seq, ICV
    tcp(b, {});
    b.mark().payload(kPayloadLen);
    v.push_back(make("ipv6_ah_tcp", L::kEthernet, b, S::kOk, ok));
  }
  {  // ICMPv6 echo request (RFC 4443 type 128).
    Builder b;
    eth(b, kEthIpv6);
    ipv6(b, 58, 8 + kPayloadLen);
    icmp(b, 128, 0, 0x0777, 1);
    b.mark().payload(kPayloadLen);
    v.push_back(make("icmpv6_echo", L::kEthernet, b, S::kOk, ok));
  }
  {  // ICMPv6 neighbor solicitation (type 135).
    Builder b;
    eth(b, kEthIpv6);
    ipv6(b, 58, 8 + 16, 255);
    icmp(b, 135, 0, 0, 0);
    b.mark().payload(16);
    v.push_back(make("icmpv6_ns", L::kEthernet, b, S::kOk, ok));
  }
  {  // ESP over IPv4: tracked by addresses, payload = the ESP bytes.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 50, .l4_len = 8 + kPayloadLen});
    b.mark().u32(0x1001).u32(1).payload(kPayloadLen);
    v.push_back(make("ipv4_esp", L::kEthernet, b, S::kOk, {"decode_ok", "decode_other_l4"}));
  }
  {  // SCTP (RFC 9260): the common header's ports key the flow; the chunks are the payload.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 132, .l4_len = 12 + kPayloadLen});
    b.u16(36412).u16(80).u32(0x3b9aca07).u32(0);
    b.mark().payload(kPayloadLen);
    v.push_back(make("ipv4_sctp", L::kEthernet, b, S::kOk, {"decode_ok"}));
  }
  {  // SCTP common header cut by the IP length: no ports to key on.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 132, .l4_len = 8});
    b.u16(36412).u16(80).u32(0x3b9aca07);
    v.push_back(make("ipv4_sctp_short", L::kEthernet, b, S::kMalformed, {"decode_sctp_truncated"}));
  }
  {  // IPv6 No Next Header: nothing after the header.
    Builder b;
    eth(b, kEthIpv6);
    ipv6(b, 59, 0);
    b.mark();
    v.push_back(make("ipv6_no_next", L::kEthernet, b, S::kOk, {"decode_ok", "decode_other_l4"}));
  }
  {  // Linux cooked v1: packet type, ARPHRD_ETHER, address length 6, address, protocol.
    Builder b;
    b.u16(0).u16(1).u16(6).raw({2, 0, 0, 0, 0, 1, 0, 0}).u16(kEthIpv4);
    ipv4(b, {.proto = 6, .l4_len = 20 + kPayloadLen});
    tcp(b, {});
    b.mark().payload(kPayloadLen);
    v.push_back(make("sll", L::kLinuxSll, b, S::kOk, ok));
  }
  {  // Linux cooked v2: protocol, reserved, ifindex, ARPHRD, packet type, addr len, address.
    Builder b;
    b.u16(kEthIpv6).u16(0).u32(3).u16(1).u8(0).u8(6).raw({2, 0, 0, 0, 0, 1, 0, 0});
    ipv6(b, 17, 8 + kPayloadLen);
    udp(b, 123, 123, 8 + kPayloadLen);
    b.mark().payload(kPayloadLen);
    v.push_back(make("sll2", L::kLinuxSll2, b, S::kOk, ok));
  }
  {  // Linux cooked v1 carrying ARP.
    Builder b;
    b.u16(0).u16(1).u16(6).raw({2, 0, 0, 0, 0, 1, 0, 0}).u16(kEthArp).mark().fill(28, 0);
    v.push_back(make("sll_arp", L::kLinuxSll, b, S::kNotIp, {"decode_not_ip"}));
  }
  for (L link : {L::kRaw, L::kDltRaw, L::kIpv4}) {
    Builder b;
    ipv4(b, {.proto = 17, .l4_len = 8 + kPayloadLen});
    udp(b, 4000, 53, 8 + kPayloadLen);
    b.mark().payload(kPayloadLen);
    v.push_back(make(std::string("raw_v4_") + link_type_name(static_cast<uint32_t>(link)) +
                         std::to_string(static_cast<int>(link)),
                     link, b, S::kOk, ok));
  }
  for (L link : {L::kRaw, L::kIpv6}) {
    Builder b;
    ipv6(b, 6, 20 + kPayloadLen);
    tcp(b, {});
    b.mark().payload(kPayloadLen);
    v.push_back(make(std::string("raw_v6_") + link_type_name(static_cast<uint32_t>(link)),
                     link, b, S::kOk, ok));
  }
  {
    Builder b;
    b.u8(0x50).fill(39, 0);
    v.push_back(make("raw_bad_version", L::kRaw, b, S::kMalformed, {"decode_ip_bad_version"}));
  }
  {  // BSD loopback, AF_INET written little-endian (host order of an x86 capture host).
    Builder b;
    b.raw({2, 0, 0, 0});
    ipv4(b, {.proto = 6, .l4_len = 20 + kPayloadLen});
    tcp(b, {});
    b.mark().payload(kPayloadLen);
    v.push_back(make("null_v4", L::kNull, b, S::kOk, ok));
  }
  {  // BSD loopback written on a big-endian host, AF_INET6 = 30 (Darwin).
    Builder b;
    b.raw({0, 0, 0, 30});
    ipv6(b, 6, 20 + kPayloadLen);
    tcp(b, {});
    b.mark().payload(kPayloadLen);
    v.push_back(make("null_v6_swapped", L::kNull, b, S::kOk, ok));
  }
  {  // BSD loopback, unknown family (AF_APPLETALK 16).
    Builder b;
    b.raw({16, 0, 0, 0}).mark().fill(20, 0);
    v.push_back(make("null_other_family", L::kNull, b, S::kNotIp, {"decode_not_ip"}));
  }
  {  // OpenBSD loopback: network order, AF_INET6 = 24.
    Builder b;
    b.raw({0, 0, 0, 24});
    ipv6(b, 17, 8 + kPayloadLen);
    udp(b, 5000, 6000, 8 + kPayloadLen);
    b.mark().payload(kPayloadLen);
    v.push_back(make("loop_v6", L::kLoop, b, S::kOk, ok));
  }
  {
    Builder b;
    b.raw({0, 0, 0, 2});
    ipv4(b, {.proto = 1, .l4_len = 8});
    icmp(b, 8, 0, 9, 1);
    b.mark();
    v.push_back(make("loop_v4", L::kLoop, b, S::kOk, ok));
  }
  {  // GRE with checksum, key and sequence number, carrying IPv4/TCP.
    Builder b;
    eth(b, kEthVlan);
    tag(b, 55, kEthIpv4);
    ipv4(b, {.proto = 47, .l4_len = 16 + kInnerTcpLen});
    gre(b, {.ptype = kEthIpv4, .csum = true, .key = true, .seq = true});
    inner_tcp4(b);
    v.push_back(make("gre_ip", L::kEthernet, b, S::kOk, {"decode_ok", "decode_gre_decapsulated"}));
  }
  {  // GRE over IPv6 carrying IPv6/UDP.
    Builder b;
    eth(b, kEthIpv6);
    ipv6(b, 47, 4 + 40 + 8 + kPayloadLen);
    gre(b, {.ptype = kEthIpv6});
    ipv6(b, 17, 8 + kPayloadLen, 63, kDst6, kSrc6);
    udp(b, 9, 10, 8 + kPayloadLen);
    b.mark().payload(kPayloadLen);
    v.push_back(make("gre6_ip6", L::kEthernet, b, S::kOk,
                     {"decode_ok", "decode_gre_decapsulated"}));
  }
  {  // GRE transparent Ethernet bridging (0x6558) with a tagged inner frame.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 47, .l4_len = 8 + 18 + kInnerTcpLen});
    gre(b, {.ptype = 0x6558, .key = true});
    eth(b, kEthVlan);
    tag(b, 77, kEthIpv4);
    inner_tcp4(b);
    v.push_back(make("gre_teb", L::kEthernet, b, S::kOk, {"decode_ok", "decode_gre_decapsulated"}));
  }
  {  // VXLAN (RFC 7348) on 4789 carrying an Ethernet frame: AWS/Azure traffic mirroring.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 17, .l4_len = 8 + 8 + 14 + kInnerTcpLen});
    udp(b, 51234, 4789, 8 + 8 + 14 + kInnerTcpLen);
    b.u8(0x08).u8(0).u16(0).u32(0x00123400);  // I flag, VNI 0x1234
    eth(b, kEthIpv4);
    inner_tcp4(b);
    v.push_back(make("vxlan", L::kEthernet, b, S::kOk, {"decode_ok", "decode_udp_decapsulated"}));
  }
  {  // VXLAN-GPE on 4790, next protocol IPv4.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 17, .l4_len = 8 + 8 + kInnerTcpLen});
    udp(b, 51234, 4790, 8 + 8 + kInnerTcpLen);
    b.u8(0x0c).u8(0).u8(0).u8(1).u32(0x00000700);
    inner_tcp4(b);
    v.push_back(make("vxlan_gpe", L::kEthernet, b, S::kOk, {"decode_ok", "decode_udp_decapsulated"}));
  }
  {  // Geneve (RFC 8926) on 4789's sibling 6081 with 8 bytes of options, protocol IPv4.
    Builder b;
    eth(b, kEthIpv6);
    ipv6(b, 17, 8 + 16 + kInnerTcpLen);
    udp(b, 40000, 6081, 8 + 16 + kInnerTcpLen);
    b.u8(0x02).u8(0).u16(kEthIpv4).u32(0x00abcd00).u32(0x01020304).u32(0x05060708);
    inner_tcp4(b);
    v.push_back(make("geneve", L::kEthernet, b, S::kOk, {"decode_ok", "decode_udp_decapsulated"}));
  }
  {  // GTP-U G-PDU with the E flag and one extension header (PDU session container).
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 17, .l4_len = 8 + 16 + kInnerTcpLen});
    udp(b, 2152, 2152, 8 + 16 + kInnerTcpLen);
    b.u8(0x34).u8(0xff).u16(8 + kInnerTcpLen).u32(0xdeadbeef);  // flags E, G-PDU, TEID
    b.u16(0).u8(0).u8(0x85);                                   // seq, N-PDU, next: 0x85
    b.u8(1).u8(0x10).u8(0x01).u8(0);                           // 4 bytes, next: none
    inner_tcp4(b);
    v.push_back(make("gtpu", L::kEthernet, b, S::kOk, {"decode_ok", "decode_udp_decapsulated"}));
  }
  {  // On the VXLAN port but without the I flag: plain UDP, tracked as the outer datagram.
    // (Cut inside the 8 bytes a tunnel header would take, it is a truncated tunnel header.)
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 17, .l4_len = 8 + 16});
    udp(b, 51234, 4789, 8 + 16);
    b.u8(0x00).u8(0).u16(0).u32(0);
    b.mark();
    b.fill(8, 0x41);
    v.push_back(make("vxlan_not", L::kEthernet, b, S::kOk, {"decode_ok"}));
  }
  {  // ERSPAN type II: GRE with sequence number, 8-byte header (version 1), Ethernet.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 47, .l4_len = 8 + 8 + 14 + kInnerTcpLen});
    gre(b, {.ptype = 0x88BE, .seq = true});
    b.raw({0x10, 0x17, 0x08, 0x01, 0, 0, 0, 0});
    eth(b, kEthIpv4);
    inner_tcp4(b);
    v.push_back(make("erspan2", L::kEthernet, b, S::kOk, {"decode_ok", "decode_gre_decapsulated"}));
  }
  {  // ERSPAN type I: no sequence number, no ERSPAN header.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 47, .l4_len = 4 + 14 + kInnerTcpLen});
    gre(b, {.ptype = 0x88BE});
    eth(b, kEthIpv4);
    inner_tcp4(b);
    v.push_back(make("erspan1", L::kEthernet, b, S::kOk, {"decode_ok", "decode_gre_decapsulated"}));
  }
  {  // ERSPAN type III, no optional sub-header.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 47, .l4_len = 8 + 12 + 14 + kInnerTcpLen});
    gre(b, {.ptype = 0x22EB, .seq = true});
    b.raw({0x20, 0x00, 0x00, 0x05, 1, 2, 3, 4, 0, 0, 0x00, 0x00});
    eth(b, kEthIpv4);
    inner_tcp4(b);
    v.push_back(make("erspan3", L::kEthernet, b, S::kOk, {"decode_ok", "decode_gre_decapsulated"}));
  }
  {  // ERSPAN type III with the O bit: 8 more bytes of platform sub-header.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 47, .l4_len = 8 + 20 + 14 + kInnerTcpLen});
    gre(b, {.ptype = 0x22EB, .seq = true});
    b.raw({0x20, 0x00, 0x00, 0x05, 1, 2, 3, 4, 0, 0, 0x00, 0x01}).fill(8, 0xEE);
    eth(b, kEthIpv4);
    inner_tcp4(b);
    v.push_back(make("erspan3_subheader", L::kEthernet, b, S::kOk,
                     {"decode_ok", "decode_gre_decapsulated"}));
  }
  {  // ERSPAN type III, frame type 2: the mirrored frame is bare IP.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 47, .l4_len = 8 + 12 + kInnerTcpLen});
    gre(b, {.ptype = 0x22EB, .seq = true});
    b.raw({0x20, 0x00, 0x00, 0x05, 1, 2, 3, 4, 0, 0, 0x08, 0x00});
    inner_tcp4(b);
    v.push_back(make("erspan3_ip", L::kEthernet, b, S::kOk,
                     {"decode_ok", "decode_gre_decapsulated"}));
  }
  {  // GRE version 1 with a payload other than PPP (0x880B): tracked as GRE.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 47, .l4_len = 8 + 4});
    gre(b, {.ptype = kEthIpv4, .key = true, .version = 1});
    b.raw({0x45, 0x00, 0x00, 0x14});
    b.mark_ = 14 + 20 + 4;  // the version is in the first 4 bytes
    v.push_back(make("gre_v1_not_ppp", L::kEthernet, b, S::kOk,
                     {"decode_ok", "decode_gre_unsupported", "decode_other_l4"}));
  }
  {  // GRE version 0 with an unknown payload type: tracked as GRE once the header is seen.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 47, .l4_len = 4 + 4});
    gre(b, {.ptype = 0x8847 /* MPLS */});
    b.mark().u32(0x00001140);
    v.push_back(make("gre_mpls", L::kEthernet, b, S::kOk,
                     {"decode_ok", "decode_gre_unsupported", "decode_other_l4"}));
  }
  {  // GRE in GRE in GRE: the third tunnel is past the cap, tracked as GRE of the 2nd inner IP.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 47, .l4_len = 4 + 20 + 4 + 20 + 4 + kInnerTcpLen});
    gre(b, {});
    ipv4(b, {.proto = 47, .l4_len = 4 + 20 + 4 + kInnerTcpLen, .src = {10, 9, 0, 1},
             .dst = {10, 9, 0, 2}});
    gre(b, {});
    ipv4(b, {.proto = 47, .l4_len = 4 + kInnerTcpLen, .src = {10, 8, 0, 1}, .dst = {10, 8, 0, 2}});
    b.mark();
    gre(b, {});
    inner_tcp4(b);
    b.mark_ = 14 + 20 + 4 + 20 + 4 + 20;
    v.push_back(make("gre_too_deep", L::kEthernet, b, S::kOk,
                     {"decode_ok", "decode_gre_decapsulated", "decode_tunnel_too_deep",
                      "decode_other_l4"}));
  }
  {  // IPv4-in-IPv4 (RFC 2003).
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 4, .l4_len = kInnerTcpLen});
    inner_tcp4(b);
    v.push_back(make("ipip", L::kEthernet, b, S::kOk, {"decode_ok", "decode_ipip_decapsulated"}));
  }
  {  // IPv4 in IPv6 in IPv4 in IPv4: the third tunnel is tracked as protocol 4 of the 2nd inner.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 41, .l4_len = 40 + 20 + kInnerTcpLen});
    ipv6(b, 4, 20 + kInnerTcpLen);
    ipv4(b, {.proto = 4, .l4_len = kInnerTcpLen, .src = {10, 7, 0, 1}, .dst = {10, 7, 0, 2}});
    b.mark();
    inner_tcp4(b);
    b.mark_ = 14 + 20 + 40 + 20;
    v.push_back(make("ipip_too_deep", L::kEthernet, b, S::kOk,
                     {"decode_ok", "decode_ipip_decapsulated", "decode_tunnel_too_deep",
                      "decode_other_l4"}));
  }
  {  // 6in4 (RFC 4213): IPv6 ICMPv6 echo inside IPv4 protocol 41.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 41, .l4_len = 40 + 8});
    ipv6(b, 58, 8);
    icmp(b, 129, 0, 0x0777, 1);
    b.mark();
    v.push_back(make("6in4", L::kEthernet, b, S::kOk, {"decode_ok", "decode_ipip_decapsulated"}));
  }
  {  // ARP request (RFC 826).
    Builder b;
    eth(b, kEthArp);
    b.mark().u16(1).u16(0x0800).u8(6).u8(4).u16(1).fill(20, 0).fill(18, 0);
    v.push_back(make("arp", L::kEthernet, b, S::kNotIp, {"decode_not_ip"}));
  }
  {  // 802.3 frame with a length field and LLC (STP).
    Builder b;
    eth(b, 38);
    b.mark().raw({0x42, 0x42, 0x03}).fill(35, 0);
    v.push_back(make("llc_stp", L::kEthernet, b, S::kNotIp, {"decode_not_ip"}));
  }
  {  // A bare TCP ACK in a 60-byte minimum frame: 6 bytes of Ethernet padding.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 6, .l4_len = 20});
    tcp(b, {.flags = kTcpAck});
    b.mark().fill(6, 0);
    v.push_back(make("eth_padding", L::kEthernet, b, S::kOk, ok));
  }
  {  // UDP in a padded frame, to check the padding is not taken as datagram payload.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 17, .l4_len = 8 + 2});
    udp(b, 1, 2, 10);
    b.mark().payload(2).fill(14, 0);
    v.push_back(make("eth_padding_udp", L::kEthernet, b, S::kOk, ok));
  }
  // ---- malformed ----
  {
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 6, .l4_len = 20, .ihl = 4});
    tcp(b, {});
    v.push_back(make("ipv4_bad_ihl", L::kEthernet, b, S::kMalformed, {"decode_ipv4_bad_ihl"}));
  }
  {  // IHL 15 (60 bytes) in a packet that has only 20 + 20.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 6, .l4_len = 20, .total = 80, .ihl = 15});
    tcp(b, {});
    v.push_back(make("ipv4_ihl_beyond_frame", L::kEthernet, b, S::kMalformed,
                     {"decode_ipv4_bad_ihl"}));
  }
  {
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 6, .l4_len = 20, .total = 19});
    tcp(b, {});
    v.push_back(make("ipv4_bad_total_len", L::kEthernet, b, S::kMalformed,
                     {"decode_ipv4_bad_total_len"}));
  }
  {  // Ethertype IPv4, version nibble 6.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 6, .l4_len = 20, .version = 6});
    tcp(b, {});
    v.push_back(make("ipv4_bad_version", L::kEthernet, b, S::kMalformed,
                     {"decode_ipv4_bad_version"}));
  }
  {
    Builder b;
    eth(b, kEthIpv6);
    b.u32(0x40000000).u16(20).u8(6).u8(64).raw(kSrc6).raw(kDst6);
    tcp(b, {});
    v.push_back(make("ipv6_bad_version", L::kEthernet, b, S::kMalformed,
                     {"decode_ipv6_bad_version"}));
  }
  {  // Data offset 4 (< 5 words).
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 6, .l4_len = 20 + kPayloadLen});
    tcp(b, {.doff = 4});
    b.payload(kPayloadLen);
    v.push_back(make("tcp_bad_offset_small", L::kEthernet, b, S::kMalformed,
                     {"decode_tcp_bad_offset"}));
  }
  {  // Data offset 15 (60 bytes) in a 30-byte segment.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 6, .l4_len = 20 + kPayloadLen});
    tcp(b, {.doff = 15, .opt_bytes = 0});
    b.payload(kPayloadLen);
    v.push_back(make("tcp_bad_offset_large", L::kEthernet, b, S::kMalformed,
                     {"decode_tcp_bad_offset"}));
  }
  {  // IP says 10 bytes of TCP: the header cannot fit.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 6, .l4_len = 10});
    b.payload(30);
    v.push_back(make("tcp_short_ip", L::kEthernet, b, S::kMalformed, {"decode_tcp_truncated"}));
  }
  {  // UDP length 4 (< 8): payload bounded by the IP length instead.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 17, .l4_len = 8 + kPayloadLen});
    udp(b, 1111, 2222, 4);
    b.mark().payload(kPayloadLen);
    v.push_back(
        make("udp_len_small", L::kEthernet, b, S::kOk, {"decode_ok", "decode_udp_bad_len"}));
  }
  {  // UDP length 500 in an 18-byte IP payload (not a fragment).
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 17, .l4_len = 8 + kPayloadLen});
    udp(b, 1111, 2222, 500);
    b.mark().payload(kPayloadLen);
    v.push_back(
        make("udp_len_large", L::kEthernet, b, S::kOk, {"decode_ok", "decode_udp_bad_len"}));
  }
  {  // UDP length 12 in an 18-byte IP payload: the UDP length ends the payload.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 17, .l4_len = 8 + kPayloadLen});
    udp(b, 1111, 2222, 12);
    b.mark().payload(kPayloadLen);
    v.push_back(make("udp_len_shorter", L::kEthernet, b, S::kOk, ok));
  }
  {  // IP says 6 bytes of ICMP.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 1, .l4_len = 6});
    b.u8(8).u8(0).u16(0).u16(1);
    v.push_back(make("icmp_short", L::kEthernet, b, S::kMalformed, {"decode_icmp_truncated"}));
  }
  {  // Nine Destination Options headers: one more than the cap.
    Builder b;
    eth(b, kEthIpv6);
    ipv6(b, 60, 9 * 8 + 20);
    for (int i = 0; i < 9; ++i) ext6(b, i == 8 ? 6 : 60, 0);
    tcp(b, {});
    v.push_back(make("ipv6_ext_too_many", L::kEthernet, b, S::kMalformed,
                     {"decode_ipv6_ext_too_many"}));
  }
  {  // Exactly eight extension headers are fine.
    Builder b;
    eth(b, kEthIpv6);
    ipv6(b, 60, 8 * 8 + 20);
    for (int i = 0; i < 8; ++i) ext6(b, i == 7 ? 6 : 60, 0);
    tcp(b, {});
    b.mark();
    v.push_back(make("ipv6_ext_eight", L::kEthernet, b, S::kOk, ok));
  }
  {  // Hop-by-Hop header claiming 256 bytes in a 28-byte payload.
    Builder b;
    eth(b, kEthIpv6);
    ipv6(b, 0, 8 + 20);
    b.u8(6).u8(31).u8(1).u8(4).fill(4, 0);
    tcp(b, {});
    v.push_back(make("ipv6_ext_beyond_payload", L::kEthernet, b, S::kMalformed,
                     {"decode_ipv6_ext_truncated"}));
  }
  {  // RFC 2675 jumbogram: payload length 0 and a Jumbo Payload option.
    Builder b;
    eth(b, kEthIpv6);
    ipv6(b, 0, 0);
    b.u8(6).u8(0).u8(0xC2).u8(4).u32(70000);
    tcp(b, {});
    v.push_back(make("ipv6_jumbogram", L::kEthernet, b, S::kMalformed, {"decode_ipv6_jumbogram"}));
  }
  {  // GRE over IPv4 whose inner IPv4 header is broken: the frame is malformed.
    Builder b;
    eth(b, kEthIpv4);
    ipv4(b, {.proto = 47, .l4_len = 4 + 40});
    gre(b, {});
    ipv4(b, {.proto = 6, .l4_len = 20, .ihl = 3});
    tcp(b, {});
    v.push_back(make("gre_inner_bad_ihl", L::kEthernet, b, S::kMalformed,
                     {"decode_gre_decapsulated", "decode_ipv4_bad_ihl"}));
  }
  {  // A link type we do not decode (LINKTYPE_USER0 = 147).
    Builder b;
    b.fill(40, 0);
    v.push_back(make("unsupported_link", static_cast<LinkType>(147), b, S::kMalformed,
                     {"decode_unsupported_link"}));
  }
  add_pptp_fixtures(v);
  add_nflog_fixtures(v);
  add_wlan_fixtures(v);
  return v;
}

const std::vector<Fixture>& fixtures() {
  static const std::vector<Fixture> all = build_fixtures();
  return all;
}

const Fixture& fixture(const std::string& name) {
  for (const Fixture& f : fixtures())
    if (f.name == name) return f;
  FAIL("no fixture " << name);
  std::abort();
}

// ---- decoding helpers ----------------------------------------------------------------------

std::map<std::string, uint64_t> snapshot(const DecodeCounters& c) {
  std::map<std::string, uint64_t> m;
  c.for_each([&](const CounterInfo& info, uint64_t v) { m[info.name] = v; });
  return m;
}

Names moved(const DecodeCounters& c) {
  Names n;
  for (const auto& [name, v] : snapshot(c))
    if (v != 0) n.insert(name);
  return n;
}

struct Decoded {
  DecodeStatus status;
  PacketMeta meta;
  Names counters;
};

// Decodes the fixture's own bytes (pointers in `meta` stay valid with the fixture).
Decoded decode(const Fixture& f) {
  DecodeCounters c;
  Decoded d{};
  d.status =
      decode_packet(f.link, f.bytes.data(), static_cast<uint32_t>(f.bytes.size()), d.meta, c);
  d.counters = moved(c);
  return d;
}

std::array<uint8_t, 16> v4(std::array<uint8_t, 4> a) {
  return {a[0], a[1], a[2], a[3], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
}
std::array<uint8_t, 16> addr(const IpAddr& a) {
  std::array<uint8_t, 16> r;
  std::memcpy(r.data(), a.b, 16);
  return r;
}
size_t offset_of(const Fixture& f, const uint8_t* p) {
  return static_cast<size_t>(p - f.bytes.data());
}

// Decodes the fixture and checks what every fixture must satisfy; returns the result.
Decoded expect_fixture(const std::string& name) {
  const Fixture& f = fixture(name);
  INFO("fixture " << name);
  Decoded d = decode(f);
  CHECK(d.status == f.status);
  CHECK(d.counters == f.counters);
  return d;
}

// ---- tests ---------------------------------------------------------------------------------

TEST_CASE("Ethernet IPv4 TCP: every field", "[decode]") {
  const Fixture& f = fixture("eth_ipv4_tcp");
  Decoded d = expect_fixture(f.name);
  const PacketMeta& m = d.meta;
  CHECK(offset_of(f, m.l3) == 14);
  CHECK(m.ip_version == 4);
  CHECK(m.ip_len == 20 + 20 + kPayloadLen);
  CHECK(m.ttl == 64);
  CHECK(m.l4_proto == kIpProtoTcp);
  CHECK(addr(m.src) == v4(kSrc4));
  CHECK(addr(m.dst) == v4(kDst4));
  CHECK(m.has_ports);
  CHECK(m.sport == 40000);
  CHECK(m.dport == 443);
  CHECK(m.tcp_seq == 0x11223344);
  CHECK(m.tcp_ack == 0x55667788);
  CHECK(m.tcp_flags == (kTcpAck | kTcpPsh));
  CHECK(m.tcp_window == 0xFFF0);
  CHECK(offset_of(f, m.payload) == 54);
  CHECK(m.payload_len == kPayloadLen);
  CHECK(m.payload_wire_len == kPayloadLen);
  CHECK(std::memcmp(m.payload, "abcdefghij", kPayloadLen) == 0);
  CHECK(m.vlan_count == 0);
  CHECK(m.frag == Frag::kNone);
  CHECK_FALSE(m.tunneled);
}

TEST_CASE("TCP options are skipped by the data offset", "[decode]") {
  const Fixture& f = fixture("eth_ipv4_tcp_options");
  Decoded d = expect_fixture(f.name);
  CHECK(d.meta.tcp_flags == kTcpSyn);
  CHECK(offset_of(f, d.meta.payload) == 14 + 20 + 32);
  CHECK(d.meta.payload_len == kPayloadLen);

  // A snaplen inside the options: the flow key is there, the payload is not.
  DecodeCounters c;
  PacketMeta m;
  REQUIRE(decode_packet(f.link, f.bytes.data(), 60, m, c) == DecodeStatus::kOk);
  CHECK(moved(c) == Names{"decode_ok", "decode_tcp_options_truncated"});
  CHECK(m.sport == 40000);
  CHECK(m.tcp_flags == kTcpSyn);
  CHECK(m.payload == nullptr);
  CHECK(m.payload_len == 0);
  CHECK(m.payload_wire_len == kPayloadLen);
}

TEST_CASE("UDP ports and payload", "[decode]") {
  const Fixture& f = fixture("eth_ipv4_udp");
  Decoded d = expect_fixture(f.name);
  CHECK(d.meta.l4_proto == kIpProtoUdp);
  CHECK(d.meta.sport == 5353);
  CHECK(d.meta.dport == 53);
  CHECK(d.meta.has_ports);
  CHECK(offset_of(f, d.meta.payload) == 14 + 20 + 8);
  CHECK(d.meta.payload_len == kPayloadLen);
}

TEST_CASE("ICMP echo request and reply share one port pair", "[decode]") {
  Decoded req = expect_fixture("icmp_echo_request");
  Decoded rep = expect_fixture("icmp_echo_reply");
  CHECK(req.meta.has_ports);
  CHECK(req.meta.sport == 0x0BEE);
  CHECK(req.meta.dport == 0x0BEE);
  CHECK(rep.meta.sport == req.meta.sport);
  CHECK(rep.meta.dport == req.meta.dport);
  CHECK(req.meta.icmp_type == 8);
  CHECK(rep.meta.icmp_type == 0);
  CHECK(addr(rep.meta.src) == addr(req.meta.dst));
  CHECK(req.meta.payload_len == kPayloadLen);

  Decoded unreach = expect_fixture("icmp_unreachable");
  CHECK(unreach.meta.has_ports);
  CHECK(unreach.meta.sport == 3);
  CHECK(unreach.meta.dport == 3);
  CHECK(unreach.meta.icmp_code == 3);

  Decoded echo6 = expect_fixture("icmpv6_echo");
  CHECK(echo6.meta.l4_proto == kIpProtoIcmpv6);
  CHECK(echo6.meta.sport == 0x0777);
  CHECK(echo6.meta.dport == 0x0777);
  Decoded ns = expect_fixture("icmpv6_ns");
  CHECK(ns.meta.sport == 135);
  CHECK(ns.meta.dport == 0);
  CHECK(ns.meta.ttl == 255);
}

TEST_CASE("VLAN tags", "[decode]") {
  Decoded one = expect_fixture("vlan");
  CHECK(one.meta.vlan_count == 1);
  CHECK(one.meta.vlan_outer == 100);
  CHECK(one.meta.vlan_inner == 0);
  CHECK(offset_of(fixture("vlan"), one.meta.l3) == 18);

  Decoded qinq = expect_fixture("qinq");
  CHECK(qinq.meta.vlan_count == 2);
  CHECK(qinq.meta.vlan_outer == 100);
  CHECK(qinq.meta.vlan_inner == 200);
  CHECK(qinq.meta.sport == 40000);

  Decoded old = expect_fixture("qinq_9100_ipv6");
  CHECK(old.meta.vlan_outer == 300);
  CHECK(old.meta.vlan_inner == 400);
  CHECK(old.meta.ip_version == 6);

  Decoded three = expect_fixture("vlan_three_tags");
  CHECK(three.meta.vlan_count == 3);
  CHECK(three.meta.vlan_outer == 10);
  CHECK(three.meta.vlan_inner == 20);
  CHECK(three.meta.dport == 443);

  expect_fixture("vlan_nine_tags");
}

TEST_CASE("PPPoE sessions and MPLS label stacks are decoded to the IP inside", "[decode]") {
  Decoded p = expect_fixture("pppoe_ipv4");
  CHECK(p.meta.ip_version == 4);
  CHECK(p.meta.sport == 40000);
  CHECK(offset_of(fixture("pppoe_ipv4"), p.meta.l3) == 14 + 8);
  expect_fixture("pppoe_lcp");
  Decoded m = expect_fixture("mpls_ipv6");
  CHECK(m.meta.ip_version == 6);
  CHECK(m.meta.vlan_outer == 7);
  CHECK(offset_of(fixture("mpls_ipv6"), m.meta.l3) == 18 + 8);
  expect_fixture("mpls_too_deep");
}

TEST_CASE("VXLAN, VXLAN-GPE, Geneve and GTP-U are decoded to the inner packet", "[decode]") {
  for (const char* name : {"vxlan", "vxlan_gpe", "geneve", "gtpu"}) {
    INFO(name);
    Decoded d = expect_fixture(name);
    CHECK(d.meta.tunneled);
    CHECK(d.meta.ip_version == 4);
    CHECK(d.meta.l4_proto == 6);
    CHECK(d.meta.src.b[0] == 10);  // the inner 10.1.0.1:1234 -> 10.1.0.2:80
    CHECK(d.meta.sport == 1234);
    CHECK(d.meta.dport == 80);
    CHECK(d.meta.payload_len == kPayloadLen);
  }
  Decoded n = expect_fixture("vxlan_not");
  CHECK_FALSE(n.meta.tunneled);
  CHECK(n.meta.l4_proto == 17);
  CHECK(n.meta.dport == 4789);
}

TEST_CASE("IPv4 options are counted and skipped", "[decode]") {
  const Fixture& f = fixture("ipv4_options");
  Decoded d = expect_fixture(f.name);
  CHECK(d.meta.ip_len == 28 + 8 + kPayloadLen);
  CHECK(d.meta.sport == 1000);
  CHECK(d.meta.dport == 2000);
  CHECK(offset_of(f, d.meta.payload) == 14 + 28 + 8);
}

TEST_CASE("IPv4 fragments", "[decode]") {
  Decoded first = expect_fixture("ipv4_frag_first");
  CHECK(first.meta.frag == Frag::kFirst);
  CHECK(first.meta.frag_id == 0xBEEF);
  CHECK(first.meta.has_ports);
  CHECK(first.meta.sport == 7000);
  CHECK(first.meta.payload_len == 16);  // the fragment's share, not the UDP length

  CHECK(first.meta.frag_data_off == 20);

  Decoded tiny = expect_fixture("ipv4_frag_tiny_first");
  CHECK(tiny.meta.frag == Frag::kFirst);
  CHECK(tiny.meta.l4_proto == kIpProtoTcp);
  CHECK_FALSE(tiny.meta.has_ports);
  CHECK(tiny.meta.payload == nullptr);

  Decoded later = expect_fixture("ipv4_frag_later");
  CHECK(later.meta.frag == Frag::kLater);
  CHECK(later.meta.frag_data_off == 20);
  CHECK(later.meta.frag_id == 0xBEEF);
  CHECK(later.meta.l4_proto == kIpProtoUdp);
  CHECK_FALSE(later.meta.has_ports);
  CHECK(later.meta.sport == 0);
  CHECK(later.meta.payload == nullptr);
  CHECK(later.meta.payload_len == 0);
  CHECK(later.meta.payload_wire_len == 0);
  CHECK(later.meta.ip_len == 36);
}

TEST_CASE("IPv6 extension headers and fragments", "[decode]") {
  const Fixture& f = fixture("ipv6_ext_frag_first");
  Decoded d = expect_fixture(f.name);
  CHECK(d.meta.ip_version == 6);
  CHECK(addr(d.meta.src) == kSrc6);
  CHECK(addr(d.meta.dst) == kDst6);
  CHECK(d.meta.ip_len == 40 + 40 + kPayloadLen);
  CHECK(d.meta.l4_proto == kIpProtoUdp);
  CHECK(d.meta.frag == Frag::kFirst);
  CHECK(d.meta.frag_id == 0xCAFE0001);
  CHECK(d.meta.sport == 546);
  CHECK(d.meta.dport == 547);
  CHECK(offset_of(f, d.meta.payload) == 14 + 40 + 8 + 16 + 8 + 8);
  CHECK(d.meta.payload_len == kPayloadLen);

  CHECK(d.meta.frag_data_off == 40 + 8 + 16 + 8);

  Decoded later = expect_fixture("ipv6_frag_later");
  CHECK(later.meta.frag == Frag::kLater);
  CHECK(later.meta.frag_data_off == 40 + 8);
  CHECK(later.meta.l4_proto == kIpProtoTcp);
  CHECK_FALSE(later.meta.has_ports);
  CHECK(later.meta.payload == nullptr);

  Decoded ah = expect_fixture("ipv6_ah_tcp");
  CHECK(ah.meta.l4_proto == kIpProtoTcp);
  CHECK(ah.meta.dport == 443);
  CHECK(offset_of(fixture("ipv6_ah_tcp"), ah.meta.payload) == 14 + 40 + 24 + 20);

  Decoded eight = expect_fixture("ipv6_ext_eight");
  CHECK(eight.meta.l4_proto == kIpProtoTcp);
  expect_fixture("ipv6_ext_too_many");
  expect_fixture("ipv6_ext_beyond_payload");
  expect_fixture("ipv6_jumbogram");
}

TEST_CASE("Other transports are tracked by addresses, SCTP by its ports", "[decode]") {
  const Fixture& f = fixture("ipv4_esp");
  Decoded esp = expect_fixture(f.name);
  CHECK(esp.meta.l4_proto == 50);
  CHECK_FALSE(esp.meta.has_ports);
  CHECK(esp.meta.sport == 0);
  CHECK(offset_of(f, esp.meta.payload) == 34);
  CHECK(esp.meta.payload_len == 8 + kPayloadLen);
  CHECK(esp.meta.payload_wire_len == 8 + kPayloadLen);

  const Fixture& sf = fixture("ipv4_sctp");
  Decoded sctp = expect_fixture(sf.name);
  CHECK(sctp.meta.l4_proto == kIpProtoSctp);
  CHECK(sctp.meta.has_ports);
  CHECK(sctp.meta.sport == 36412);
  CHECK(sctp.meta.dport == 80);
  CHECK(offset_of(sf, sctp.meta.payload) == 14 + 20 + 12);
  CHECK(sctp.meta.payload_len == kPayloadLen);
  CHECK(sctp.meta.payload_wire_len == kPayloadLen);

  Decoded none = expect_fixture("ipv6_no_next");
  CHECK(none.meta.l4_proto == 59);
  CHECK(none.meta.payload == nullptr);
}

TEST_CASE("SCTP chunks give the flow table its TCP-like flags", "[decode]") {
  // INIT = SYN, INIT ACK = SYN+ACK, SHUTDOWN and SHUTDOWN ACK = FIN, ABORT = RST; DATA, SACK,
  // COOKIE ECHO and the rest nothing. A packet may bundle chunks (SACK + SHUTDOWN).
  auto flags_of = [](std::initializer_list<std::pair<uint8_t, uint16_t>> chunks) {
    Builder b;
    eth(b, kEthIpv4);
    uint32_t l4 = 12;
    for (auto [type, len] : chunks) l4 += (len + 3u) & ~3u;
    ipv4(b, {.proto = 132, .l4_len = l4});
    b.u16(36412).u16(80).u32(0x3b9aca07).u32(0);
    for (auto [type, len] : chunks) {
      b.raw({type, 0}).u16(len);
      for (uint32_t i = 4; i < ((len + 3u) & ~3u); ++i) b.raw({0});
    }
    Fixture f = make("sctp", LinkType::kEthernet, b, DecodeStatus::kOk, {"decode_ok"});
    const Decoded d = decode(f);
    REQUIRE(d.status == DecodeStatus::kOk);
    return d.meta.tcp_flags;
  };
  CHECK(flags_of({{1, 20}}) == kTcpSyn);
  CHECK(flags_of({{2, 20}}) == (kTcpSyn | kTcpAck));
  CHECK(flags_of({{0, 17}}) == 0);
  CHECK(flags_of({{3, 16}, {7, 8}}) == kTcpFin);
  CHECK(flags_of({{8, 4}}) == kTcpFin);
  CHECK(flags_of({{6, 4}}) == kTcpRst);
  CHECK(flags_of({{10, 4}, {14, 4}}) == 0);  // COOKIE ECHO, SHUTDOWN COMPLETE
  CHECK(flags_of({{0, 2}, {6, 4}}) == 0);    // a chunk length under 4 ends the walk
}

TEST_CASE("Linux cooked, raw, null and loop link types", "[decode]") {
  Decoded sll = expect_fixture("sll");
  CHECK(offset_of(fixture("sll"), sll.meta.l3) == 16);
  CHECK(sll.meta.dport == 443);
  Decoded sll2 = expect_fixture("sll2");
  CHECK(offset_of(fixture("sll2"), sll2.meta.l3) == 20);
  CHECK(sll2.meta.ip_version == 6);
  CHECK(sll2.meta.sport == 123);
  expect_fixture("sll_arp");

  for (const char* name : {"raw_v4_RAW101", "raw_v4_RAW12", "raw_v4_IPV4228"}) {
    Decoded d = expect_fixture(name);
    CHECK(offset_of(fixture(name), d.meta.l3) == 0);
    CHECK(d.meta.dport == 53);
  }
  for (const char* name : {"raw_v6_RAW", "raw_v6_IPV6"}) {
    Decoded d = expect_fixture(name);
    CHECK(d.meta.ip_version == 6);
    CHECK(d.meta.dport == 443);
  }
  expect_fixture("raw_bad_version");

  Decoded null4 = expect_fixture("null_v4");
  CHECK(offset_of(fixture("null_v4"), null4.meta.l3) == 4);
  CHECK(null4.meta.ip_version == 4);
  Decoded null6 = expect_fixture("null_v6_swapped");
  CHECK(null6.meta.ip_version == 6);
  expect_fixture("null_other_family");
  Decoded loop6 = expect_fixture("loop_v6");
  CHECK(loop6.meta.ip_version == 6);
  CHECK(loop6.meta.sport == 5000);
  Decoded loop4 = expect_fixture("loop_v4");
  CHECK(loop4.meta.ip_version == 4);
  CHECK(loop4.meta.sport == 9);

  expect_fixture("unsupported_link");
}

TEST_CASE("Link type names and support", "[decode]") {
  const std::map<uint32_t, std::string> names = {
      {1, "EN10MB"}, {113, "LINUX_SLL"}, {276, "LINUX_SLL2"}, {101, "RAW"}, {12, "RAW"},
      {0, "NULL"},   {108, "LOOP"},      {228, "IPV4"},       {229, "IPV6"},
      {239, "NFLOG"}, {105, "IEEE802_11"}, {127, "IEEE802_11_RADIO"}};
  for (const auto& [lt, name] : names) {
    CHECK(link_type_supported(lt));
    CHECK(std::string(link_type_name(lt)) == name);
  }
  for (uint32_t lt : {119u, 147u, 163u, 65535u, 0xFFFFFFFFu}) {
    CHECK_FALSE(link_type_supported(lt));
    CHECK(std::string(link_type_name(lt)) == "unknown");
  }
}

TEST_CASE("GRE and ERSPAN are decoded to the inner flow", "[decode]") {
  for (const char* name : {"gre_ip", "gre_teb", "erspan1", "erspan2", "erspan3",
                           "erspan3_subheader", "erspan3_ip", "ipip"}) {
    INFO(name);
    const Fixture& f = fixture(name);
    Decoded d = expect_fixture(name);
    CHECK(d.meta.tunneled);
    CHECK(addr(d.meta.src) == v4(kInnerSrc4));
    CHECK(addr(d.meta.dst) == v4(kInnerDst4));
    CHECK(d.meta.l4_proto == kIpProtoTcp);
    CHECK(d.meta.sport == 1234);
    CHECK(d.meta.dport == 80);
    CHECK(d.meta.ip_len == kInnerTcpLen);
    CHECK(offset_of(f, d.meta.l3) == f.bytes.size() - kInnerTcpLen);
    CHECK(offset_of(f, d.meta.payload) == f.bytes.size() - kPayloadLen);
    CHECK(d.meta.payload_len == kPayloadLen);
  }
  // GRE over IP keeps the outer frame's tag; TEB uses the inner frame's tags.
  CHECK(decode(fixture("gre_ip")).meta.vlan_outer == 55);
  CHECK(decode(fixture("gre_teb")).meta.vlan_outer == 77);
  CHECK(decode(fixture("gre_teb")).meta.vlan_count == 1);
  CHECK(decode(fixture("erspan2")).meta.vlan_count == 0);

  Decoded v6 = expect_fixture("gre6_ip6");
  CHECK(v6.meta.tunneled);
  CHECK(addr(v6.meta.src) == kDst6);
  CHECK(v6.meta.ttl == 63);
  CHECK(v6.meta.sport == 9);

  Decoded six = expect_fixture("6in4");
  CHECK(six.meta.tunneled);
  CHECK(six.meta.ip_version == 6);
  CHECK(six.meta.sport == 0x0777);
}

TEST_CASE("Unsupported and too-deep tunnels are tracked on the carrier", "[decode]") {
  for (const char* name : {"gre_v1_not_ppp", "gre_mpls"}) {
    const Fixture& f = fixture(name);
    Decoded d = expect_fixture(name);
    CHECK(d.meta.l4_proto == kIpProtoGre);
    CHECK_FALSE(d.meta.tunneled);
    CHECK_FALSE(d.meta.has_ports);
    CHECK(addr(d.meta.src) == v4(kSrc4));
    CHECK(offset_of(f, d.meta.payload) == 34);
  }
  Decoded deep = expect_fixture("gre_too_deep");
  CHECK(deep.meta.tunneled);
  CHECK(deep.meta.l4_proto == kIpProtoGre);
  CHECK_FALSE(deep.meta.has_ports);
  CHECK(addr(deep.meta.src) == v4({10, 8, 0, 1}));
  Decoded deep_ipip = expect_fixture("ipip_too_deep");
  CHECK(deep_ipip.meta.tunneled);
  CHECK(deep_ipip.meta.l4_proto == 4);
  CHECK(deep_ipip.meta.ip_version == 4);
  CHECK(addr(deep_ipip.meta.src) == v4({10, 7, 0, 1}));
  CHECK(deep_ipip.meta.payload_len == kInnerTcpLen);
  expect_fixture("gre_inner_bad_ihl");
}

TEST_CASE("PPTP enhanced GRE is decoded through PPP to the inner IP", "[decode]") {
  {
    const Fixture& f = fixture("pptp_dns_real");
    Decoded d = expect_fixture(f.name);
    const PacketMeta& m = d.meta;
    CHECK(m.tunneled);
    CHECK(m.ip_version == 4);
    CHECK(addr(m.src) == v4({172, 16, 44, 3}));
    CHECK(addr(m.dst) == v4({8, 8, 8, 8}));
    CHECK(m.l4_proto == kIpProtoUdp);
    CHECK(m.sport == 40768);
    CHECK(m.dport == 53);
    CHECK(m.vlan_outer == 100);
    CHECK(offset_of(f, m.l3) == kPptpDnsUdp - 20);
    CHECK(offset_of(f, m.payload) == kPptpDnsUdp + 8);
    CHECK(m.payload_len == 71);
    CHECK(m.payload_wire_len == 71);
    CHECK(m.payload[0] == 0xa6);  // DNS id 0xa62c
  }
  {
    const Fixture& f = fixture("pptp_compressed");
    Decoded d = expect_fixture(f.name);
    CHECK(d.meta.tunneled);
    CHECK(addr(d.meta.src) == v4(kInnerSrc4));
    CHECK(d.meta.dport == 80);
    CHECK(offset_of(f, d.meta.l3) == 14 + 20 + 12 + 1);
    CHECK(d.meta.payload_len == kPayloadLen);
  }
  {
    Decoded d = expect_fixture("pptp_ipv6");
    CHECK(d.meta.tunneled);
    CHECK(d.meta.ip_version == 6);
    CHECK(d.meta.sport == 0x0999);
  }
  for (const char* name : {"pptp_ack_only", "pptp_lcp", "pptp_mppe"}) {
    INFO(name);
    const Fixture& f = fixture(name);
    Decoded d = expect_fixture(name);
    CHECK_FALSE(d.meta.tunneled);
    CHECK(d.meta.l4_proto == kIpProtoGre);
    CHECK_FALSE(d.meta.has_ports);
    CHECK(addr(d.meta.src) == v4(kSrc4));
    CHECK(offset_of(f, d.meta.l3) == 14);
    CHECK(offset_of(f, d.meta.payload) == 34);
  }
  expect_fixture("pptp_len_short");
  expect_fixture("pptp_ppp_cut");
  expect_fixture("gre_v1_not_ppp");
}

TEST_CASE("NFLOG: the payload TLV is the packet", "[decode]") {
  {
    const Fixture& f = fixture("nflog_syn_real");
    Decoded d = expect_fixture(f.name);
    CHECK(offset_of(f, d.meta.l3) == 48);
    CHECK(addr(d.meta.src) == v4({10, 10, 10, 10}));
    CHECK(addr(d.meta.dst) == v4({52, 43, 228, 156}));
    CHECK(d.meta.sport == 54064);
    CHECK(d.meta.dport == 80);
    CHECK(d.meta.tcp_flags == kTcpSyn);
    CHECK(d.meta.payload == nullptr);
  }
  {
    const Fixture& f = fixture("nflog_synack_real");
    Decoded d = expect_fixture(f.name);
    CHECK(offset_of(f, d.meta.l3) == 104);
    CHECK(d.meta.sport == 80);
    CHECK(d.meta.tcp_flags == (kTcpSyn | kTcpAck));
  }
  {
    const Fixture& f = fixture("nflog_ipv6");
    Decoded d = expect_fixture(f.name);
    CHECK(d.meta.ip_version == 6);
    CHECK(offset_of(f, d.meta.l3) == 4 + 8 + 4);
    CHECK(d.meta.dport == 53);
    CHECK(d.meta.payload_len == kPayloadLen);
  }
  for (const char* name : {"nflog_bridge", "nflog_no_payload", "nflog_bad_tlv_len",
                           "nflog_tlv_beyond"}) {
    expect_fixture(name);
  }
}

TEST_CASE("802.11 data frames are decoded through LLC/SNAP", "[decode]") {
  for (const char* name : {"wlan_syn_real", "wlan_synack_real"}) {
    INFO(name);
    const Fixture& f = fixture(name);
    Decoded d = expect_fixture(name);
    const bool syn = std::string(name) == "wlan_syn_real";
    CHECK(offset_of(f, d.meta.l3) == 36 + 24 + 8);
    CHECK(addr(d.meta.src) == v4(syn ? std::array<uint8_t, 4>{172, 5, 5, 113}
                                     : std::array<uint8_t, 4>{14, 17, 32, 211}));
    CHECK(d.meta.sport == (syn ? 49417 : 80));
    CHECK(d.meta.ip_len == 60);
    // The frame ends with the 4-byte FCS (radiotap Flags 0x10): not TCP payload.
    CHECK(d.meta.payload == nullptr);
    CHECK(d.meta.payload_wire_len == 0);
  }
  {
    const Fixture& f = fixture("wlan_qos_4addr_htc");
    Decoded d = expect_fixture(f.name);
    CHECK(offset_of(f, d.meta.l3) == 30 + 2 + 4 + 8);
    CHECK(d.meta.ip_version == 6);
    CHECK(d.meta.dport == 53);
  }
  {
    const Fixture& f = fixture("wlan_radiotap_datapad");
    Decoded d = expect_fixture(f.name);
    CHECK(offset_of(f, d.meta.l3) == 12 + 28 + 8 + 4);
    CHECK(d.meta.vlan_outer == 12);
    CHECK(d.meta.dport == 443);
    CHECK(d.meta.payload_len == kPayloadLen);
  }
  for (const char* name : {"wlan_protected", "wlan_beacon", "wlan_ack", "wlan_qos_null",
                           "wlan_amsdu", "wlan_fragment", "wlan_more_fragments", "wlan_llc_stp",
                           "wlan_version_1", "wlan_arp", "radiotap_bad_version",
                           "radiotap_too_long"}) {
    expect_fixture(name);
  }
}

TEST_CASE("Non-IP frames", "[decode]") {
  expect_fixture("arp");
  expect_fixture("llc_stp");
}

TEST_CASE("Ethernet padding is not payload", "[decode]") {
  const Fixture& f = fixture("eth_padding");
  REQUIRE(f.bytes.size() == 60);
  Decoded d = expect_fixture(f.name);
  CHECK(d.meta.ip_len == 40);
  CHECK(d.meta.payload == nullptr);
  CHECK(d.meta.payload_len == 0);

  Decoded u = expect_fixture("eth_padding_udp");
  CHECK(u.meta.payload_len == 2);
}

TEST_CASE("Malformed headers move their own counter", "[decode]") {
  for (const char* name : {"ipv4_bad_ihl", "ipv4_ihl_beyond_frame", "ipv4_bad_total_len",
                           "ipv4_bad_version", "ipv6_bad_version", "tcp_bad_offset_small",
                           "tcp_bad_offset_large", "tcp_short_ip", "icmp_short"}) {
    expect_fixture(name);
  }
}

TEST_CASE("UDP length field checks", "[decode]") {
  Decoded small = expect_fixture("udp_len_small");
  CHECK(small.meta.payload_len == kPayloadLen);
  CHECK(small.meta.payload_wire_len == kPayloadLen);
  CHECK(small.meta.sport == 1111);
  Decoded large = expect_fixture("udp_len_large");
  CHECK(large.meta.payload_len == kPayloadLen);
  CHECK(large.meta.payload_wire_len == kPayloadLen);
  Decoded shorter = expect_fixture("udp_len_shorter");
  CHECK(shorter.meta.payload_len == 4);
  CHECK(shorter.meta.payload_wire_len == 4);
  // A first fragment: the UDP length (1000) is the datagram's, the fragment holds 16 bytes.
  CHECK(decode(fixture("ipv4_frag_first")).meta.payload_wire_len == 16);
}

TEST_CASE("Snaplen shorter than the IP length still decodes", "[decode]") {
  // Cut the TCP fixture inside its payload: ip_len stays the wire size.
  const Fixture& f = fixture("eth_ipv4_tcp");
  DecodeCounters c;
  PacketMeta m;
  REQUIRE(decode_packet(f.link, f.bytes.data(), 58, m, c) == DecodeStatus::kOk);
  CHECK(m.ip_len == 50);
  CHECK(m.payload_len == 4);
  CHECK(m.payload_wire_len == kPayloadLen);
}

TEST_CASE("Null data pointer is an empty frame", "[decode]") {
  DecodeCounters c;
  PacketMeta m;
  CHECK(decode_packet(LinkType::kEthernet, nullptr, 100, m, c) == DecodeStatus::kMalformed);
  CHECK(moved(c) == Names{"decode_truncated_l2"});
}

TEST_CASE("Every truncation of every fixture", "[decode][truncation]") {
  size_t cuts = 0;
  for (const Fixture& f : fixtures()) {
    const Decoded whole = decode(f);
    REQUIRE(whole.status == f.status);
    for (size_t len = 0; len <= f.bytes.size(); ++len) {
      INFO("fixture " << f.name << " cut at " << len << " of " << f.bytes.size());
      // An exactly-sized heap copy, so an over-read is a heap overflow under ASan.
      std::unique_ptr<uint8_t[]> buf(new uint8_t[len]);
      if (len != 0) std::memcpy(buf.get(), f.bytes.data(), len);
      const uint8_t* lo = buf.get();
      const uint8_t* hi = lo + len;
      DecodeCounters c;
      PacketMeta m;
      const DecodeStatus s = decode_packet(f.link, lo, static_cast<uint32_t>(len), m, c);
      const auto counts = snapshot(c);
      ++cuts;

      // Exactly one outcome counter, and for a malformed frame exactly one error counter.
      size_t errors = 0;
      for (const auto& [name, v] : counts)
        if (v != 0 && kInfoCounters.count(name) == 0) errors += v;
      if (s == DecodeStatus::kMalformed) {
        REQUIRE(errors == 1);
        REQUIRE(counts.at("decode_ok") == 0);
        REQUIRE(counts.at("decode_not_ip") == 0);
      } else {
        REQUIRE(errors == 0);
        REQUIRE(counts.at("decode_ok") == (s == DecodeStatus::kOk ? 1u : 0u));
        REQUIRE(counts.at("decode_not_ip") == (s == DecodeStatus::kNotIp ? 1u : 0u));
      }

      // Consistent: from min_len on the frame decodes like the whole, below it it is malformed.
      if (len >= f.min_len) {
        REQUIRE(s == f.status);
      } else {
        REQUIRE(s == DecodeStatus::kMalformed);
      }

      if (s != DecodeStatus::kOk) continue;
      // Pointers stay inside the captured bytes.
      REQUIRE(m.l3 != nullptr);
      REQUIRE(m.l3 >= lo);
      REQUIRE(m.l3 < hi);
      if (m.payload != nullptr) {
        REQUIRE(m.payload_len > 0);
        REQUIRE(m.payload >= lo);
        REQUIRE(m.payload + m.payload_len <= hi);
      } else {
        REQUIRE(m.payload_len == 0);
      }
      // Same flow key as the whole frame.
      const PacketMeta& w = whole.meta;
      REQUIRE(m.l3 - lo == w.l3 - f.bytes.data());
      REQUIRE(addr(m.src) == addr(w.src));
      REQUIRE(addr(m.dst) == addr(w.dst));
      REQUIRE(m.l4_proto == w.l4_proto);
      REQUIRE(m.sport == w.sport);
      REQUIRE(m.dport == w.dport);
      REQUIRE(m.has_ports == w.has_ports);
      REQUIRE(m.ip_len == w.ip_len);
      REQUIRE(m.vlan_outer == w.vlan_outer);
      REQUIRE(m.vlan_inner == w.vlan_inner);
      REQUIRE(m.frag == w.frag);
      REQUIRE(m.tunneled == w.tunneled);
      REQUIRE(m.payload_len <= w.payload_len);
      REQUIRE(m.payload_wire_len == w.payload_wire_len);
      REQUIRE(m.payload_len <= m.payload_wire_len);
      if (m.payload != nullptr) REQUIRE(m.payload - lo == w.payload - f.bytes.data());
      if (w.payload != nullptr) {
        const size_t off = static_cast<size_t>(w.payload - f.bytes.data());
        const size_t avail = len > off ? len - off : 0;
        REQUIRE(m.payload_len == std::min<size_t>(w.payload_len, avail));
      }
    }
  }
  CHECK(cuts > 3000);
}

// Every counter in FS_DECODE_COUNTERS has a row in docs/counters.md with the same text, and
// the decode section has no other rows.
TEST_CASE("docs/counters.md lists every decode counter", "[decode][docs]") {
  flowscribe::testing::check_doc_counters<DecodeCounters>(__FILE__, "counters.md", "## Decode counters");
}

// Not run by default: `decode_test "[.bench]"`. Prints ns per frame for common frames.
TEST_CASE("decode speed", "[.bench]") {
  for (const char* name : {"eth_ipv4_tcp", "vlan", "qinq_9100_ipv6", "eth_ipv4_udp", "gre_ip"}) {
    const Fixture& f = fixture(name);
    DecodeCounters c;
    PacketMeta m;
    constexpr int kRounds = 20'000'000;
    uint64_t sink = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kRounds; ++i) {
      decode_packet(f.link, f.bytes.data(), static_cast<uint32_t>(f.bytes.size()), m, c);
      sink += m.sport;
      asm volatile("" ::: "memory");
    }
    const auto ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0);
    std::printf("%-16s %.2f ns/frame (sink %llu)\n", name, ns.count() / kRounds,
                static_cast<unsigned long long>(sink));
  }
}

// Not run by default: `FS_CORPUS_DIR=dir decode_test "[.corpus]"` writes every fixture as a
// fuzz seed (first byte selects the link type as in tests/fuzz/decode_fuzz.cpp).
TEST_CASE("write fuzz seeds", "[.corpus]") {
  const char* dir = std::getenv("FS_CORPUS_DIR");
  REQUIRE(dir != nullptr);
  const LinkType order[] = {LinkType::kEthernet, LinkType::kLinuxSll, LinkType::kLinuxSll2,
                            LinkType::kRaw,      LinkType::kIpv4,     LinkType::kIpv6,
                            LinkType::kNull,     LinkType::kLoop,     static_cast<LinkType>(147),
                            LinkType::kNflog,    LinkType::kIeee80211,
                            LinkType::kIeee80211Radiotap};
  for (const Fixture& f : fixtures()) {
    int sel = -1;
    for (int i = 0; i < 12; ++i)
      if (order[i] == f.link) sel = i;
    if (sel < 0) continue;
    std::ofstream out(std::string(dir) + "/" + f.name, std::ios::binary);
    out.put(static_cast<char>(sel));
    out.write(reinterpret_cast<const char*>(f.bytes.data()),
              static_cast<std::streamsize>(f.bytes.size()));
  }
}

}  // namespace
}  // namespace flowscribe::decode
