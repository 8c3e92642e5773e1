// L2-L4 decoder. Layout: a bounds-checked Cursor, one function per header, and a shared
// transport dispatch that GRE / IP-in-IP re-enter (depth-capped) for the inner packet.
//
// Policy decisions (also in docs/counters.md):
// - Ethernet keeps the first two VLAN tags (outer/inner); tags 3..8 are skipped and counted
//   (decode_vlan_too_deep) so the frame is still tracked; a 9th tag is malformed.
// - GRE (RFC 2784/2890) carrying IPv4/IPv6, TEB (0x6558) and ERSPAN I/II/III, and IP-in-IP
//   (protocols 4 and 41, RFC 2003 / RFC 4213), and PPTP's enhanced GRE (RFC 2637) carrying
//   PPP IPv4/IPv6, are decapsulated at most twice; the flow is the inner packet's. A third
//   tunnel, or a GRE payload we do not know, is tracked as an "other L4" flow of the packet
//   that carries it (proto 47 / 4 / 41).
// - A malformed inner packet makes the whole frame malformed (its inner counter says why).
// - A capture cut inside TCP options still yields the flow key (payload empty, counted).
// - IPv4 header checksums are not verified: NIC offloads leave them zero in many captures.
#include "sensor/decode/decode.h"

#include <algorithm>
#include <cstring>

namespace flowscribe::decode {
namespace {

// Ethertypes (IEEE registry) and IP protocol numbers (IANA) that steer the walk.
constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86DD;
constexpr uint16_t kEtherVlan = 0x8100;      // IEEE 802.1Q
constexpr uint16_t kEtherQinQ = 0x88A8;      // IEEE 802.1ad
constexpr uint16_t kEtherQinQOld = 0x9100;   // pre-802.1ad vendor QinQ
constexpr uint16_t kEtherTeb = 0x6558;       // transparent Ethernet bridging (RFC 1701)
constexpr uint16_t kEtherErspan2 = 0x88BE;   // ERSPAN type I / II
constexpr uint16_t kEtherErspan3 = 0x22EB;   // ERSPAN type III
constexpr uint16_t kEtherPppoeSession = 0x8864;  // RFC 2516 PPPoE session stage
constexpr uint16_t kEtherMplsUnicast = 0x8847;   // RFC 3032
constexpr uint16_t kEtherMplsMulticast = 0x8848;
constexpr uint16_t kPppIpv4 = 0x0021;
constexpr uint16_t kPppIpv6 = 0x0057;
constexpr uint16_t kGrePptp = 0x880B;        // RFC 2637 enhanced GRE: PPP inside
constexpr uint32_t kMaxMplsLabels = 8;

constexpr uint8_t kProtoIpip = 4;
constexpr uint8_t kProtoIpv6InIp = 41;
constexpr uint8_t kProtoAh = 51;
constexpr uint8_t kProtoIpv6Frag = 44;

constexpr uint32_t kEthHeaderLen = 14;
constexpr uint32_t kVlanTagLen = 4;
constexpr uint32_t kSllHeaderLen = 16;
constexpr uint32_t kSll2HeaderLen = 20;
constexpr uint32_t kLoopHeaderLen = 4;
constexpr uint32_t kIpv4MinHeaderLen = 20;
constexpr uint32_t kIpv6HeaderLen = 40;
constexpr uint32_t kTcpMinHeaderLen = 20;
constexpr uint32_t kUdpHeaderLen = 8;
constexpr uint32_t kIcmpHeaderLen = 8;
constexpr uint32_t kSctpCommonLen = 12;  // RFC 9260 3.1: ports, verification tag, checksum
constexpr uint32_t kGreBaseLen = 4;
constexpr uint32_t kErspan2HeaderLen = 8;
constexpr uint32_t kErspan3HeaderLen = 12;
constexpr uint32_t kErspan3SubHeaderLen = 8;

constexpr uint32_t kMaxVlanTags = 8;
constexpr uint32_t kMaxIpv6ExtHeaders = 8;
constexpr uint8_t kMaxTunnelDepth = 2;

// BSD AF_ values seen in DLT_NULL / DLT_LOOP headers (AF_INET6 differs per OS).
constexpr uint32_t kAfInet = 2;
constexpr uint32_t kAfInet6NetBsd = 24;
constexpr uint32_t kAfInet6FreeBsd = 28;
constexpr uint32_t kAfInet6Darwin = 30;

// A window onto captured bytes. Every read is checked against the window: a read past the
// end yields 0 (fails closed) rather than touching memory. Callers test has(n) once per
// header; the compiler then drops the per-field checks for offsets below n.
class Cursor {
 public:
  Cursor(const uint8_t* p, uint32_t n) noexcept : p_(p), n_(n) {}

  const uint8_t* ptr() const noexcept { return p_; }
  uint32_t size() const noexcept { return n_; }
  bool has(uint32_t k) const noexcept { return k <= n_; }

  uint8_t u8(uint32_t off) const noexcept { return off < n_ ? p_[off] : 0; }
  uint16_t u16be(uint32_t off) const noexcept {
    if (n_ < 2 || off > n_ - 2) return 0;
    uint16_t v;
    std::memcpy(&v, p_ + off, sizeof v);
    return __builtin_bswap16(v);
  }
  uint32_t u32be(uint32_t off) const noexcept {
    if (n_ < 4 || off > n_ - 4) return 0;
    uint32_t v;
    std::memcpy(&v, p_ + off, sizeof v);
    return __builtin_bswap32(v);
  }
  uint32_t u32le(uint32_t off) const noexcept {
    if (n_ < 4 || off > n_ - 4) return 0;
    uint32_t v;
    std::memcpy(&v, p_ + off, sizeof v);
    return v;  // x86-64 only (-march=corei7), like the rest of the sensor
  }
  // Copies len bytes at off into dst; false (dst untouched) when they are not all there.
  bool copy(uint32_t off, uint32_t len, uint8_t* dst) const noexcept {
    if (off > n_ || len > n_ - off) return false;
    std::memcpy(dst, p_ + off, len);
    return true;
  }
  bool skip(uint32_t k) noexcept {
    if (k > n_) return false;
    p_ += k;
    n_ -= k;
    return true;
  }
  // Shrinks the window to at most k bytes (a length field never grows what was captured).
  void limit(uint32_t k) noexcept {
    if (k < n_) n_ = k;
  }

 private:
  const uint8_t* p_;
  uint32_t n_;
};

// Copying this constant compiles to six SSE moves; `out = PacketMeta{}` became `rep stos`
// under GCC 12 -march=corei7, which alone cost ~50 cycles per frame.
constexpr PacketMeta kEmptyMeta{};
static_assert(sizeof(PacketMeta) == 104, "PacketMeta grew: every frame pays for its copy");

struct Ctx {
  PacketMeta& out;
  DecodeCounters& n;
  uint8_t depth = 0;  // tunnels decapsulated so far
};

inline DecodeStatus malformed(Counter& c) noexcept {
  c.inc();
  return DecodeStatus::kMalformed;
}

// `len` captured bytes at `p` of a payload that had `wire_len` bytes on the wire.
inline void set_payload(PacketMeta& out, const uint8_t* p, uint32_t len,
                        uint32_t wire_len) noexcept {
  out.payload = len != 0 ? p : nullptr;
  out.payload_len = len;
  out.payload_wire_len = wire_len;
}

DecodeStatus decode_ethernet(Ctx& ctx, Cursor c) noexcept;
DecodeStatus decode_ethertype(Ctx& ctx, uint16_t type, Cursor c) noexcept;
DecodeStatus decode_ipv4(Ctx& ctx, Cursor c) noexcept;
DecodeStatus decode_ipv6(Ctx& ctx, Cursor c) noexcept;
DecodeStatus decode_raw_ip(Ctx& ctx, Cursor c) noexcept;

// Tracks the packet by addresses only: `c` holds the captured part of the `l4_wire` L4 bytes.
DecodeStatus track_other(Ctx& ctx, uint8_t proto, Cursor c, uint32_t l4_wire) noexcept {
  PacketMeta& out = ctx.out;
  out.l4_proto = proto;
  out.has_ports = false;
  set_payload(out, c.ptr(), c.size(), l4_wire);
  ctx.n.decode_other_l4.inc();
  return DecodeStatus::kOk;
}

// Forgets the carrier's L3/L4 before the inner packet is decoded into the same PacketMeta.
// Not cold: behind an ERSPAN mirror session every packet comes this way.
void enter_tunnel(Ctx& ctx, bool inner_ethernet) noexcept {
  PacketMeta& out = ctx.out;
  const uint16_t vlan_outer = inner_ethernet ? 0 : out.vlan_outer;
  const uint16_t vlan_inner = inner_ethernet ? 0 : out.vlan_inner;
  const uint8_t vlan_count = inner_ethernet ? 0 : out.vlan_count;
  out = kEmptyMeta;
  out.vlan_outer = vlan_outer;
  out.vlan_inner = vlan_inner;
  out.vlan_count = vlan_count;
  out.tunneled = true;
  ++ctx.depth;
}

// RFC 9293 section 3.1. `l4_wire` is the L4 length the IP header claims; `c` is what of it
// was captured (never more than l4_wire).
inline DecodeStatus decode_tcp(Ctx& ctx, Cursor c, uint32_t l4_wire) noexcept {
  PacketMeta& out = ctx.out;
  if (!c.has(kTcpMinHeaderLen)) [[unlikely]] return malformed(ctx.n.decode_tcp_truncated);
  const uint32_t doff = static_cast<uint32_t>(c.u8(12) >> 4) * 4;
  if (doff < kTcpMinHeaderLen || doff > l4_wire) [[unlikely]]
    return malformed(ctx.n.decode_tcp_bad_offset);
  out.sport = c.u16be(0);
  out.dport = c.u16be(2);
  out.tcp_seq = c.u32be(4);
  out.tcp_ack = c.u32be(8);
  out.tcp_flags = c.u8(13);
  out.tcp_window = c.u16be(14);
  out.has_ports = true;
  if (!c.has(doff)) [[unlikely]] {
    // A small snaplen (64, 68) cuts into timestamp options; the flow key is all there.
    ctx.n.decode_tcp_options_truncated.inc();
    set_payload(out, nullptr, 0, l4_wire - doff);
    return DecodeStatus::kOk;
  }
  set_payload(out, c.ptr() + doff, c.size() - doff, l4_wire - doff);
  return DecodeStatus::kOk;
}

constexpr uint16_t kPortVxlan = 4789;   // RFC 7348 (IANA); cloud traffic mirroring uses it
constexpr uint16_t kPortVxlanGpe = 4790;  // VXLAN Generic Protocol Extension (IETF draft)
constexpr uint16_t kPortGeneve = 6081;  // RFC 8926
constexpr uint16_t kPortGtpU = 2152;    // 3GPP TS 29.281 (GTP-U: user plane of mobile cores)

// The inner packet of a UDP tunnel on its IANA port (VXLAN, VXLAN-GPE, Geneve, GTP-U G-PDU).
// A datagram whose header is not the tunnel's stays plain UDP (returns false); one whose
// header the capture cut (the datagram is long enough on the wire) is malformed, as a cut GRE
// header is. `c` is the captured UDP payload, `wire` its length on the wire.
[[gnu::noinline]] bool decode_udp_tunnel(Ctx& ctx, uint16_t sport, uint16_t dport, Cursor c,
                                         uint32_t wire, DecodeStatus& st) noexcept {
  if (ctx.out.frag != Frag::kNone) return false;  // the inner packet would be cut
  // -1: not captured though on the wire (truncated); 0: not in the datagram (not a tunnel).
  const auto have = [&](uint32_t k) { return c.has(k) ? 1 : (wire >= k ? -1 : 0); };
  const auto cut = [&] {
    st = malformed(ctx.n.decode_udp_tunnel_truncated);
    return true;
  };
  enum { kEthernet, kIp } inner = kIp;
  uint32_t hlen = 8;
  if (const int h = have(8); h <= 0) return h < 0 ? cut() : false;
  if (dport == kPortVxlan) {
    // Flags (I = 0x08 must be set: the VNI is valid), 24 reserved bits, VNI, 8 reserved.
    if ((c.u8(0) & 0x08) == 0) return false;
    inner = kEthernet;
  } else if (dport == kPortVxlanGpe) {
    // Flags R R Ver(2) I P B O, 16 reserved bits, Next Protocol (P set: 1 IPv4, 2 IPv6,
    // 3 Ethernet; P clear: Ethernet), VNI, 8 reserved.
    if ((c.u8(0) & 0x08) == 0 || (c.u8(0) & 0x30) != 0) return false;
    const uint8_t np = (c.u8(0) & 0x04) ? c.u8(3) : 3;
    if (np == 3) inner = kEthernet;
    else if (np != 1 && np != 2) return false;
  } else if (dport == kPortGeneve) {
    // Ver(2) OptLen(6) | O C Rsvd(6) | Protocol Type(16) | VNI(24) Rsvd(8) | options.
    if ((c.u8(0) >> 6) != 0) return false;
    hlen = 8 + 4u * (c.u8(0) & 0x3f);
    const uint16_t pt = c.u16be(2);
    if (pt == kEtherTeb) inner = kEthernet;
    else if (pt != kEtherIpv4 && pt != kEtherIpv6) return false;
  } else {
    // GTP-U: version 1, PT 1; message type 255 (G-PDU) carries a user packet. E/S/PN add
    // 4 bytes (sequence, N-PDU, next extension type); extensions chain, each length x 4.
    (void)sport;
    if ((c.u8(0) >> 4) != 0x3 || c.u8(1) != 0xff) return false;
    if (c.u8(0) & 0x07) {
      hlen = 12;
      if (const int h = have(hlen); h <= 0) return h < 0 ? cut() : false;
      uint8_t next = (c.u8(0) & 0x04) ? c.u8(11) : 0;
      for (int i = 0; next != 0; ++i) {
        if (i == 8) return false;
        if (const int h = have(hlen + 1); h <= 0) return h < 0 ? cut() : false;
        const uint32_t l = 4u * c.u8(hlen);
        if (l == 0) return false;
        if (const int h = have(hlen + l); h <= 0) return h < 0 ? cut() : false;
        next = c.u8(hlen + l - 1);
        hlen += l;
      }
    }
  }
  if (const int h = have(hlen + 1); h <= 0) return h < 0 ? cut() : false;
  if (ctx.depth >= kMaxTunnelDepth) {
    ctx.n.decode_tunnel_too_deep.inc();
    return false;
  }
  c.skip(hlen);
  ctx.n.decode_udp_decapsulated.inc();
  enter_tunnel(ctx, inner == kEthernet);
  st = inner == kEthernet ? decode_ethernet(ctx, c) : decode_raw_ip(ctx, c);
  return true;
}

// RFC 768. The UDP length bounds the payload when it is sane; otherwise the IP length does.
inline DecodeStatus decode_udp(Ctx& ctx, Cursor c, uint32_t l4_wire) noexcept {
  PacketMeta& out = ctx.out;
  if (!c.has(kUdpHeaderLen)) [[unlikely]] return malformed(ctx.n.decode_udp_truncated);
  const uint32_t udp_len = c.u16be(4);
  uint32_t end = l4_wire;
  if (udp_len <= l4_wire && udp_len >= kUdpHeaderLen) [[likely]] {
    end = udp_len;
  } else if (udp_len < kUdpHeaderLen || out.frag != Frag::kFirst) {
    // A first fragment carries only part of the datagram the UDP length describes.
    ctx.n.decode_udp_bad_len.inc();
  }
  const uint32_t captured_end = end < c.size() ? end : c.size();
  out.sport = c.u16be(0);
  out.dport = c.u16be(2);
  out.has_ports = true;
  set_payload(out, c.ptr() + kUdpHeaderLen, captured_end - kUdpHeaderLen, end - kUdpHeaderLen);
  const uint16_t lo = out.sport < out.dport ? out.sport : out.dport;
  if (lo <= kPortGeneve && (out.dport == kPortVxlan || out.dport == kPortVxlanGpe ||
                            out.dport == kPortGeneve || out.dport == kPortGtpU ||
                            out.sport == kPortGtpU)) [[unlikely]] {
    DecodeStatus st;
    if (decode_udp_tunnel(ctx, out.sport, out.dport,
                          Cursor(c.ptr() + kUdpHeaderLen, captured_end - kUdpHeaderLen),
                          end - kUdpHeaderLen, st)) {
      return st;
    }
  }
  return DecodeStatus::kOk;
}

// RFC 9260 3.1: the common header gives the ports; the chunks after it are the payload (the
// app layer reads their DATA chunks as a stream: docs/streams.md, "SCTP").
DecodeStatus decode_sctp(Ctx& ctx, Cursor c, uint32_t l4_wire) noexcept {
  PacketMeta& out = ctx.out;
  if (!c.has(kSctpCommonLen)) return malformed(ctx.n.decode_sctp_truncated);
  out.sport = c.u16be(0);
  out.dport = c.u16be(2);
  out.has_ports = true;
  set_payload(out, c.ptr() + kSctpCommonLen, c.size() - kSctpCommonLen, l4_wire - kSctpCommonLen);
  // The association's life, in the flow table's TCP terms (docs/flows.md, "SCTP"): INIT is
  // a SYN, INIT ACK a SYN+ACK, SHUTDOWN and SHUTDOWN ACK a FIN from each side, ABORT a RST.
  // The captured chunks are walked (each at least 4 bytes, at most 16 of them).
  uint8_t flags = 0;
  uint32_t off = kSctpCommonLen;
  for (int i = 0; i < 16 && c.has(off + 4); ++i) {
    switch (c.u8(off)) {
      case 1: flags |= kTcpSyn; break;
      case 2: flags |= kTcpSyn | kTcpAck; break;
      case 6: flags |= kTcpRst; break;
      case 7:
      case 8: flags |= kTcpFin; break;
      default: break;
    }
    const uint32_t len = c.u16be(off + 2);
    if (len < 4) break;
    off += (len + 3) & ~3u;
  }
  out.tcp_flags = flags;
  return DecodeStatus::kOk;
}

// RFC 792 / RFC 4443. Echo request and reply share (identifier, identifier) so both
// directions land in one flow; other messages are keyed by (type, code).
DecodeStatus decode_icmp(Ctx& ctx, Cursor c, uint32_t l4_wire, bool v6) noexcept {
  PacketMeta& out = ctx.out;
  if (!c.has(kIcmpHeaderLen)) return malformed(ctx.n.decode_icmp_truncated);
  const uint8_t type = c.u8(0);
  const uint8_t code = c.u8(1);
  out.icmp_type = type;
  out.icmp_code = code;
  const bool echo = v6 ? (type == 128 || type == 129) : (type == 8 || type == 0);
  if (echo) {
    out.sport = out.dport = c.u16be(4);
  } else {
    out.sport = type;
    out.dport = code;
  }
  out.has_ports = true;
  set_payload(out, c.ptr() + kIcmpHeaderLen, c.size() - kIcmpHeaderLen,
              l4_wire - kIcmpHeaderLen);
  return DecodeStatus::kOk;
}

// PPTP enhanced GRE (RFC 2637 section 4.1): flags and version 1 (C R K S s Recur A 0000
// 001), protocol 0x880B, key = payload length(16) + call id(16), then the sequence number
// when S is set and the acknowledgement number when A is set. The payload is a PPP frame
// (RFC 1661): address/control FF 03 unless compressed (RFC 1661 section 6.6), a 1- or 2-byte
// protocol (protocol-field compression: an odd first byte is the whole field). IPv4 / IPv6
// inside are decoded as the inner packet; anything else (LCP, CCP, MPPE-encrypted 0x00FD,
// acknowledgement-only packets) is tracked as a GRE flow of the carrier. `c` is at the GRE
// header, `whole` the carrier's L4 bytes.
[[gnu::noinline]] DecodeStatus decode_pptp(Ctx& ctx, Cursor c, Cursor whole,
                                           uint32_t l4_wire) noexcept {
  const uint16_t flags = c.u16be(0);
  const uint32_t hlen = kGreBaseLen + 4 + ((flags & 0x1000) ? 4u : 0u) +
                        ((flags & 0x0080) ? 4u : 0u);
  const uint32_t payload_len = c.u16be(4);
  if (!c.skip(hlen)) return malformed(ctx.n.decode_gre_truncated);
  ctx.n.decode_gre_pptp.inc();
  const auto not_ip = [&] {
    ctx.n.decode_gre_pptp_not_ip.inc();
    return track_other(ctx, kIpProtoGre, whole, l4_wire);
  };
  if (payload_len == 0) return not_ip();  // acknowledgement only
  c.limit(payload_len);
  uint32_t off = 0;
  if (!c.has(1)) return malformed(ctx.n.decode_gre_truncated);
  if (c.u8(0) == 0xFF) {
    if (!c.has(2)) return malformed(ctx.n.decode_gre_truncated);
    if (c.u8(1) != 0x03) return not_ip();
    off = 2;
  }
  if (!c.has(off + 1)) return malformed(ctx.n.decode_gre_truncated);
  uint16_t proto = c.u8(off);
  if (proto & 1) {
    off += 1;
  } else {
    if (!c.has(off + 2)) return malformed(ctx.n.decode_gre_truncated);
    proto = static_cast<uint16_t>(proto << 8 | c.u8(off + 1));
    off += 2;
  }
  if (proto != kPppIpv4 && proto != kPppIpv6) return not_ip();
  c.skip(off);
  ctx.n.decode_gre_decapsulated.inc();
  enter_tunnel(ctx, false);
  return proto == kPppIpv4 ? decode_ipv4(ctx, c) : decode_ipv6(ctx, c);
}

// GRE, RFC 2784 with the key and sequence extensions of RFC 2890. `c` starts at the GRE
// header and holds the captured bytes of the outer IP payload.
DecodeStatus decode_gre(Ctx& ctx, Cursor c, uint32_t l4_wire) noexcept {
  const Cursor whole = c;
  // A first fragment holds only part of the inner packet: it is opened after reassembly.
  if (ctx.out.frag != Frag::kNone) return track_other(ctx, kIpProtoGre, whole, l4_wire);
  if (ctx.depth >= kMaxTunnelDepth) {
    ctx.n.decode_tunnel_too_deep.inc();
    return track_other(ctx, kIpProtoGre, whole, l4_wire);
  }
  if (!c.has(kGreBaseLen)) return malformed(ctx.n.decode_gre_truncated);
  const uint16_t flags = c.u16be(0);
  const uint16_t ptype = c.u16be(2);
  const bool has_csum = flags & 0x8000;
  const bool has_routing = flags & 0x4000;  // RFC 1701 source routing, deprecated
  const bool has_key = flags & 0x2000;
  const bool has_seq = flags & 0x1000;
  const uint16_t version = flags & 0x0007;  // 1 = PPTP enhanced GRE (RFC 2637)
  if (version == 1 && ptype == kGrePptp && has_key && !has_csum && !has_routing) {
    return decode_pptp(ctx, c, whole, l4_wire);
  }
  if (version != 0 || has_routing) {
    ctx.n.decode_gre_unsupported.inc();
    return track_other(ctx, kIpProtoGre, whole, l4_wire);
  }
  const uint32_t hlen = kGreBaseLen + (has_csum ? 4u : 0u) + (has_key ? 4u : 0u) +
                        (has_seq ? 4u : 0u);
  if (!c.skip(hlen)) return malformed(ctx.n.decode_gre_truncated);

  switch (ptype) {
    case kEtherIpv4:
      ctx.n.decode_gre_decapsulated.inc();
      enter_tunnel(ctx, false);
      return decode_ipv4(ctx, c);
    case kEtherIpv6:
      ctx.n.decode_gre_decapsulated.inc();
      enter_tunnel(ctx, false);
      return decode_ipv6(ctx, c);
    case kEtherTeb:
      ctx.n.decode_gre_decapsulated.inc();
      enter_tunnel(ctx, true);
      return decode_ethernet(ctx, c);
    case kEtherErspan2:
      // Type I has no sequence number and no ERSPAN header; type II has both, and its
      // 8-byte header starts with version 1.
      if (has_seq) {
        if (!c.has(kErspan2HeaderLen)) return malformed(ctx.n.decode_gre_truncated);
        if ((c.u8(0) >> 4) != 1) break;
        c.skip(kErspan2HeaderLen);
      }
      ctx.n.decode_gre_decapsulated.inc();
      enter_tunnel(ctx, true);
      return decode_ethernet(ctx, c);
    case kEtherErspan3: {
      // Type III: version 2; the 16 bits at offset 10 hold P(1) FT(5) HW ID(6) D(1)
      // Gra(2) O(1). O announces an 8-byte platform sub-header; FT 0 is Ethernet, 2 is IP.
      if (!c.has(kErspan3HeaderLen)) return malformed(ctx.n.decode_gre_truncated);
      if ((c.u8(0) >> 4) != 2) break;
      const uint16_t word = c.u16be(10);
      const uint32_t frame_type = (word >> 10) & 0x1F;
      const uint32_t len = kErspan3HeaderLen + ((word & 1) ? kErspan3SubHeaderLen : 0u);
      if (frame_type != 0 && frame_type != 2) break;
      if (!c.skip(len)) return malformed(ctx.n.decode_gre_truncated);
      ctx.n.decode_gre_decapsulated.inc();
      enter_tunnel(ctx, frame_type == 0);
      return frame_type == 0 ? decode_ethernet(ctx, c) : decode_raw_ip(ctx, c);
    }
    default:
      break;
  }
  ctx.n.decode_gre_unsupported.inc();
  return track_other(ctx, kIpProtoGre, whole, l4_wire);
}

// IPv4-in-IP (RFC 2003) and IPv6-in-IP (RFC 4213 6in4, RFC 2473).
DecodeStatus decode_ipip(Ctx& ctx, uint8_t proto, Cursor c,
                                       uint32_t l4_wire) noexcept {
  if (ctx.out.frag != Frag::kNone) return track_other(ctx, proto, c, l4_wire);  // see GRE
  if (ctx.depth >= kMaxTunnelDepth) {
    ctx.n.decode_tunnel_too_deep.inc();
    return track_other(ctx, proto, c, l4_wire);
  }
  ctx.n.decode_ipip_decapsulated.inc();
  enter_tunnel(ctx, false);
  return proto == kProtoIpip ? decode_ipv4(ctx, c) : decode_ipv6(ctx, c);
}

inline DecodeStatus decode_transport(Ctx& ctx, uint8_t proto, Cursor c,
                                     uint32_t l4_wire) noexcept {
  ctx.out.l4_proto = proto;
  if (proto == kIpProtoTcp) [[likely]] return decode_tcp(ctx, c, l4_wire);
  switch (proto) {
    case kIpProtoUdp:
      return decode_udp(ctx, c, l4_wire);
    case kIpProtoIcmp:
      return decode_icmp(ctx, c, l4_wire, false);
    case kIpProtoIcmpv6:
      return decode_icmp(ctx, c, l4_wire, true);
    case kIpProtoGre:
      return decode_gre(ctx, c, l4_wire);
    case kIpProtoSctp:
      return decode_sctp(ctx, c, l4_wire);
    case kProtoIpip:
    case kProtoIpv6InIp:
      return decode_ipip(ctx, proto, c, l4_wire);
    default:
      return track_other(ctx, proto, c, l4_wire);
  }
}

// RFC 1858 section 3: a first fragment too short for the transport header (the TCP header,
// options included, UDP's 8 bytes, ICMP's 8) gets its ports only from reassembly.
[[gnu::noinline]] bool tiny_first_fragment(Ctx& ctx, uint8_t proto, Cursor c,
                                           uint32_t l4_wire) noexcept {
  uint32_t need = 0;
  if (proto == kIpProtoTcp) {
    need = kTcpMinHeaderLen;
    if (l4_wire >= kTcpMinHeaderLen && c.has(13)) {
      need = std::max<uint32_t>(need, static_cast<uint32_t>(c.u8(12) >> 4) * 4);
    }
  } else if (proto == kIpProtoUdp) {
    need = kUdpHeaderLen;
  } else if (proto == kIpProtoIcmp || proto == kIpProtoIcmpv6) {
    need = kIcmpHeaderLen;
  } else if (proto == kIpProtoSctp) {
    need = kSctpCommonLen;
  }
  if (l4_wire >= need) return false;
  ctx.out.l4_proto = proto;
  ctx.out.has_ports = false;
  ctx.n.decode_frag_tiny_first.inc();
  return true;
}

[[gnu::noinline]] DecodeStatus decode_ipv4_fragment(Ctx& ctx, uint8_t proto, Cursor c,
                                                   uint32_t l4_wire, uint16_t frag,
                                                   uint16_t ident, uint32_t hlen) noexcept {
  PacketMeta& out = ctx.out;
  out.frag_id = ident;
  out.frag_data_off = static_cast<uint16_t>(hlen);
  out.frag_depth = ctx.depth;
  if (frag & 0x1FFF) {
    out.frag = Frag::kLater;
    out.l4_proto = proto;
    ctx.n.decode_ipv4_frag_later.inc();
    return DecodeStatus::kOk;
  }
  out.frag = Frag::kFirst;
  ctx.n.decode_ipv4_frag_first.inc();
  if (tiny_first_fragment(ctx, proto, c, l4_wire)) return DecodeStatus::kOk;
  return decode_transport(ctx, proto, c, l4_wire);
}

// RFC 791 section 3.1; fragments per RFC 791 / RFC 815.
DecodeStatus decode_ipv4(Ctx& ctx, Cursor c) noexcept {
  PacketMeta& out = ctx.out;
  if (!c.has(kIpv4MinHeaderLen)) [[unlikely]] return malformed(ctx.n.decode_ipv4_truncated);
  const uint8_t ver_ihl = c.u8(0);
  if ((ver_ihl >> 4) != 4) [[unlikely]] return malformed(ctx.n.decode_ipv4_bad_version);
  const uint32_t hlen = (ver_ihl & 0x0Fu) * 4;
  const uint32_t total = c.u16be(2);
  if (hlen < kIpv4MinHeaderLen) [[unlikely]] return malformed(ctx.n.decode_ipv4_bad_ihl);
  if (total < hlen) [[unlikely]] return malformed(ctx.n.decode_ipv4_bad_total_len);
  if (!c.has(hlen)) [[unlikely]] return malformed(ctx.n.decode_ipv4_bad_ihl);
  if (hlen > kIpv4MinHeaderLen) [[unlikely]] ctx.n.decode_ipv4_options.inc();

  out.l3 = c.ptr();
  out.ip_version = 4;
  out.ip_len = total;
  out.ttl = c.u8(8);
  const uint8_t proto = c.u8(9);
  c.copy(12, 4, out.src.b);
  c.copy(16, 4, out.dst.b);
  const uint16_t frag = c.u16be(6);
  const uint16_t ident = c.u16be(4);

  // Ethernet pads short frames to 60 bytes: the IP total length, not the frame, ends it.
  c.limit(total);
  c.skip(hlen);
  const uint32_t l4_wire = total - hlen;

  // MF set or offset non-zero. A tail call: nothing of this frame stays live across it, so the
  // unfragmented path keeps its registers (callgrind: 5 instructions a frame otherwise).
  if (frag & 0x3FFF) [[unlikely]] return decode_ipv4_fragment(ctx, proto, c, l4_wire, frag, ident, hlen);
  return decode_transport(ctx, proto, c, l4_wire);
}

// RFC 8200 section 4. Extension headers are walked up to kMaxIpv6ExtHeaders; ESP (50), No
// Next Header (59) and anything unknown end the walk as the transport. `c` starts at the
// header `next` names; a reassembled datagram re-enters here after its fragment header.
// Two copies (kWhole: a reassembled datagram's), so each has one caller and the frame path
// inlines its own into decode_ipv6 (one call less per IPv6 frame).
template <bool kWhole>
DecodeStatus walk_ipv6(Ctx& ctx, uint8_t next, Cursor c, uint32_t l4_wire) noexcept {
  PacketMeta& out = ctx.out;
  for (uint32_t count = 0;; ++count) {
    uint32_t len;
    switch (next) {
      case 0:    // Hop-by-Hop Options
      case 43:   // Routing
      case 60:   // Destination Options
      case 135:  // Mobility (RFC 6275)
      case 139:  // HIP (RFC 7401)
      case 140:  // Shim6 (RFC 5533)
      case 253:  // experimentation (RFC 3692), RFC 6564 uniform format
      case 254:
        if (!c.has(2)) return malformed(ctx.n.decode_ipv6_ext_truncated);
        len = (static_cast<uint32_t>(c.u8(1)) + 1) * 8;
        break;
      case kProtoAh:  // RFC 4302 section 2.2: length in 4-byte units, minus 2
        if (!c.has(2)) return malformed(ctx.n.decode_ipv6_ext_truncated);
        len = (static_cast<uint32_t>(c.u8(1)) + 2) * 4;
        break;
      case kProtoIpv6Frag:  // RFC 8200 section 4.5: fixed 8 bytes
        len = 8;
        break;
      default:
        if (!kWhole && out.frag == Frag::kFirst && tiny_first_fragment(ctx, next, c, l4_wire)) {
          return DecodeStatus::kOk;
        }
        return decode_transport(ctx, next, c, l4_wire);
    }
    if (count == kMaxIpv6ExtHeaders) return malformed(ctx.n.decode_ipv6_ext_too_many);
    if (len > l4_wire || !c.has(len)) return malformed(ctx.n.decode_ipv6_ext_truncated);
    if (next == kProtoIpv6Frag) {
      const uint16_t off_m = c.u16be(2);  // offset(13) res(2) M(1)
      const uint8_t frag_next = c.u8(0);
      // Offset 0 without M is an atomic fragment (RFC 6946): a whole packet.
      if (off_m & 0xFFF9) {
        out.frag_id = c.u32be(4);
        out.frag_data_off = static_cast<uint16_t>(c.ptr() + len - out.l3);
        out.frag_depth = ctx.depth;
      }
      if (off_m & 0xFFF8) {
        out.frag = Frag::kLater;
        out.l4_proto = frag_next;
        ctx.n.decode_ipv6_frag_later.inc();
        return DecodeStatus::kOk;
      }
      if (off_m & 1) {
        out.frag = Frag::kFirst;
        ctx.n.decode_ipv6_frag_first.inc();
      }
    }
    next = c.u8(0);
    c.skip(len);
    l4_wire -= len;
  }
}

DecodeStatus decode_ipv6(Ctx& ctx, Cursor c) noexcept {
  PacketMeta& out = ctx.out;
  if (!c.has(kIpv6HeaderLen)) [[unlikely]] return malformed(ctx.n.decode_ipv6_truncated);
  if ((c.u8(0) >> 4) != 6) [[unlikely]] return malformed(ctx.n.decode_ipv6_bad_version);
  const uint32_t plen = c.u16be(4);
  const uint8_t next = c.u8(6);
  // RFC 2675: a jumbogram has payload length 0 and its real length in a hop-by-hop option.
  if (plen == 0 && next == 0) [[unlikely]] return malformed(ctx.n.decode_ipv6_jumbogram);

  out.l3 = c.ptr();
  out.ip_version = 6;
  out.ip_len = kIpv6HeaderLen + plen;
  out.ttl = c.u8(7);
  c.copy(8, 16, out.src.b);
  c.copy(24, 16, out.dst.b);
  c.skip(kIpv6HeaderLen);
  c.limit(plen);
  return walk_ipv6<false>(ctx, next, c, plen);
}

// IP with no link header: the version nibble says which (RAW, ERSPAN III IP frames).
DecodeStatus decode_raw_ip(Ctx& ctx, Cursor c) noexcept {
  if (!c.has(1)) return malformed(ctx.n.decode_truncated_l2);
  switch (c.u8(0) >> 4) {
    case 4:
      return decode_ipv4(ctx, c);
    case 6:
      return decode_ipv6(ctx, c);
    default:
      return malformed(ctx.n.decode_ip_bad_version);
  }
}

constexpr bool is_vlan_tpid(uint16_t type) noexcept {
  return type == kEtherVlan || type == kEtherQinQ || type == kEtherQinQOld;
}

// `c` starts right after the ethertype. IEEE 802.1Q tags: TCI (PCP 3, DEI 1, VID 12), then
// the next ethertype.
DecodeStatus decode_ethertype(Ctx& ctx, uint16_t type, Cursor c) noexcept {
  if (type == kEtherIpv4) [[likely]] return decode_ipv4(ctx, c);
  if (is_vlan_tpid(type)) {
    PacketMeta& out = ctx.out;
    uint32_t tags = 0;
    while (is_vlan_tpid(type)) {
      if (tags == kMaxVlanTags) return malformed(ctx.n.decode_vlan_tag_cap);
      if (!c.has(kVlanTagLen)) return malformed(ctx.n.decode_truncated_l2);
      const uint16_t vid = c.u16be(0) & 0x0FFF;
      if (tags == 0) {
        out.vlan_outer = vid;
      } else if (tags == 1) {
        out.vlan_inner = vid;
      }
      type = c.u16be(2);
      c.skip(kVlanTagLen);
      ++tags;
    }
    out.vlan_count = static_cast<uint8_t>(tags);
    if (tags > 2) ctx.n.decode_vlan_too_deep.inc();
    if (type == kEtherIpv4) return decode_ipv4(ctx, c);
  }
  if (type == kEtherIpv6) return decode_ipv6(ctx, c);
  if (type == kEtherPppoeSession) {
    // ver/type, code, session id, length, then the PPP protocol: IP inside, else not IP
    // (LCP, IPCP, ... keep-alives).
    if (!c.has(8)) return malformed(ctx.n.decode_truncated_l2);
    const uint16_t ppp = c.u16be(6);
    c.skip(8);
    ctx.n.decode_pppoe.inc();
    if (ppp == kPppIpv4) return decode_ipv4(ctx, c);
    if (ppp == kPppIpv6) return decode_ipv6(ctx, c);
    return DecodeStatus::kNotIp;
  }
  if (type == kEtherMplsUnicast || type == kEtherMplsMulticast) {
    // A label stack (label 20, TC 3, bottom-of-stack 1, TTL 8); below the last label the
    // first nibble tells IPv4 from IPv6 (RFC 4928). Pseudowires (a control word, Ethernet
    // inside) are not opened: not IP.
    for (uint32_t n = 0;; ++n) {
      if (n == kMaxMplsLabels) return malformed(ctx.n.decode_mpls_too_deep);
      if (!c.has(4)) return malformed(ctx.n.decode_truncated_l2);
      const bool bottom = c.u8(2) & 0x01;
      c.skip(4);
      if (bottom) break;
    }
    ctx.n.decode_mpls.inc();
    if (!c.has(1)) return malformed(ctx.n.decode_truncated_l2);
    switch (c.u8(0) >> 4) {
      case 4:
        return decode_ipv4(ctx, c);
      case 6:
        return decode_ipv6(ctx, c);
      default:
        return DecodeStatus::kNotIp;
    }
  }
  return DecodeStatus::kNotIp;  // ARP, LLDP, 802.3 length + LLC, PPPoE discovery, ...
}

DecodeStatus decode_ethernet(Ctx& ctx, Cursor c) noexcept {
  if (!c.has(kEthHeaderLen)) [[unlikely]] return malformed(ctx.n.decode_truncated_l2);
  const uint16_t type = c.u16be(12);
  c.skip(kEthHeaderLen);
  return decode_ethertype(ctx, type, c);
}

DecodeStatus decode_af_family(Ctx& ctx, uint32_t family, Cursor c) noexcept {
  switch (family) {
    case kAfInet:
      return decode_ipv4(ctx, c);
    case kAfInet6NetBsd:
    case kAfInet6FreeBsd:
    case kAfInet6Darwin:
      return decode_ipv6(ctx, c);
    default:
      return DecodeStatus::kNotIp;
  }
}

// LINKTYPE_NFLOG (Linux NETLINK_NETFILTER ULOG): family(1) version(1) resource id(2, big
// endian), then TLVs: length(2) and type(2) in host (little-endian) order, the length
// counting the 4-byte TLV header, each padded to 4 bytes. NFULA_PAYLOAD (type 9) holds the
// packet from its network header; the family says which IP it is. Type bits 15/14 are
// netlink's nested / byte-order flags. TLVs before the payload must be whole; the payload
// itself may be cut by the snaplen like any packet.
constexpr uint32_t kNflogHeaderLen = 4;
constexpr uint32_t kNflogTlvLen = 4;
constexpr uint16_t kNflogPayload = 9;
constexpr uint8_t kLinuxAfInet = 2;
constexpr uint8_t kLinuxAfInet6 = 10;

[[gnu::noinline]] DecodeStatus decode_nflog(Ctx& ctx, Cursor c) noexcept {
  if (!c.has(kNflogHeaderLen)) return malformed(ctx.n.decode_nflog_truncated);
  const uint8_t family = c.u8(0);
  if (family != kLinuxAfInet && family != kLinuxAfInet6) {
    ctx.n.decode_nflog_not_ip.inc();
    return DecodeStatus::kNotIp;
  }
  c.skip(kNflogHeaderLen);
  // Each TLV moves at least 4 bytes on: the walk is bounded by the frame.
  while (c.size() != 0) {
    if (!c.has(kNflogTlvLen)) return malformed(ctx.n.decode_nflog_truncated);
    const uint32_t len = c.u32le(0) & 0xFFFF;
    const uint16_t type = static_cast<uint16_t>((c.u32le(0) >> 16) & 0x3FFF);
    if (len < kNflogTlvLen) return malformed(ctx.n.decode_nflog_truncated);
    if (type == kNflogPayload) {
      c.skip(kNflogTlvLen);
      c.limit(len - kNflogTlvLen);
      return family == kLinuxAfInet ? decode_ipv4(ctx, c) : decode_ipv6(ctx, c);
    }
    const uint32_t padded = (len + 3) & ~3u;
    if (!c.has(len)) return malformed(ctx.n.decode_nflog_truncated);
    if (!c.skip(padded)) c.skip(c.size());  // the last TLV's padding may be left out
  }
  return malformed(ctx.n.decode_nflog_no_payload);
}

// Radiotap (https://www.radiotap.org): version(1) pad(1) length(2, little endian) present
// bitmaps (32 bits each, bit 31 = another follows), then the fields of the first bitmap in
// bit order, each aligned to its size. Only Flags (bit 1) is read: after TSFT (bit 0, 8
// bytes aligned to 8) when present. `hdr_pad` is set when the 802.11 header is padded to a
// 32-bit boundary (Flags 0x20). The FCS at the end of the frame that Flags 0x10 announces is
// left there: the IP length ends the packet before it, as it does Ethernet padding.
constexpr uint32_t kRadiotapMinLen = 8;
constexpr uint8_t kRadiotapFlagDataPad = 0x20;

[[gnu::noinline]] bool radiotap_header(Ctx& ctx, Cursor& c, bool& hdr_pad,
                                       DecodeStatus& st) noexcept {
  if (!c.has(kRadiotapMinLen)) {
    st = malformed(ctx.n.decode_radiotap_bad);
    return false;
  }
  const uint32_t len = c.u32le(0) >> 16;
  if (c.u8(0) != 0 || len < kRadiotapMinLen || !c.has(len)) {
    st = malformed(ctx.n.decode_radiotap_bad);
    return false;
  }
  const uint32_t present = c.u32le(4);
  uint32_t off = 8;
  for (uint32_t word = present; (word & 0x80000000u) != 0 && off + 4 <= len; off += 4) {
    word = c.u32le(off);
  }
  hdr_pad = false;
  if (present & 0x2) {
    if (present & 0x1) off = ((off + 7) & ~7u) + 8;
    if (off < len) hdr_pad = (c.u8(off) & kRadiotapFlagDataPad) != 0;
  }
  c.skip(len);
  return true;
}

// IEEE 802.11-2020 section 9.2: Frame Control (protocol version 2 bits, type 2, subtype 4;
// then ToDS FromDS MoreFrag Retry PwrMgt MoreData Protected Order), Duration, Address 1-3,
// Sequence Control, Address 4 when ToDS and FromDS are both set, QoS Control (2) in QoS
// subtypes, HT Control (4) when a QoS frame has the Order bit. The MSDU of a data frame
// starts with LLC/SNAP (RFC 1042 / 802.1H: AA AA 03, OUI 000000 or 0000F8, ethertype).
constexpr uint32_t kWlanHeaderLen = 24;
constexpr uint32_t kSnapLen = 8;

[[gnu::noinline]] DecodeStatus decode_ieee80211(Ctx& ctx, Cursor c, bool hdr_pad) noexcept {
  if (!c.has(2)) return malformed(ctx.n.decode_wlan_truncated);
  const uint8_t fc0 = c.u8(0);
  const uint8_t fc1 = c.u8(1);
  const auto not_ip = [](Counter& n) {
    n.inc();
    return DecodeStatus::kNotIp;
  };
  if ((fc0 & 0x03) != 0) return not_ip(ctx.n.decode_wlan_unsupported);  // version
  // Not a data frame, or a data subtype without data (Null, QoS Null, CF-Ack/-Poll only).
  if ((fc0 & 0x0C) != 0x08 || (fc0 & 0x40) != 0) return not_ip(ctx.n.decode_wlan_not_data);
  if (fc1 & 0x40) return not_ip(ctx.n.decode_wlan_protected);
  const bool qos = (fc0 & 0x80) != 0;
  uint32_t hlen = kWlanHeaderLen + ((fc1 & 0x03) == 0x03 ? 6u : 0u);
  const uint32_t qos_off = hlen;
  if (qos) hlen += 2 + ((fc1 & 0x80) ? 4u : 0u);
  if (hdr_pad) hlen = (hlen + 3) & ~3u;
  if (!c.has(hlen)) return malformed(ctx.n.decode_wlan_truncated);
  // More Fragments, or a fragment number: fragments are not reassembled.
  if ((fc1 & 0x04) != 0 || (c.u8(22) & 0x0F) != 0) return not_ip(ctx.n.decode_wlan_unsupported);
  if (qos && (c.u8(qos_off) & 0x80) != 0) return not_ip(ctx.n.decode_wlan_unsupported);  // A-MSDU
  c.skip(hlen);
  if (!c.has(3)) return malformed(ctx.n.decode_wlan_truncated);
  if (c.u8(0) != 0xAA || c.u8(1) != 0xAA || c.u8(2) != 0x03) {
    return not_ip(ctx.n.decode_wlan_unsupported);
  }
  if (!c.has(kSnapLen)) return malformed(ctx.n.decode_wlan_truncated);
  if (c.u8(3) != 0 || c.u8(4) != 0 || (c.u8(5) != 0 && c.u8(5) != 0xF8)) {
    return not_ip(ctx.n.decode_wlan_unsupported);
  }
  const uint16_t type = c.u16be(6);
  c.skip(kSnapLen);
  return decode_ethertype(ctx, type, c);
}

[[gnu::noinline]] DecodeStatus decode_other_link(Ctx& ctx, LinkType link, Cursor c) noexcept {
  switch (link) {
    case LinkType::kEthernet:
      return decode_ethernet(ctx, c);
    case LinkType::kLinuxSll: {
      // packet type(2) ARPHRD(2) address length(2) address(8) protocol(2)
      if (!c.has(kSllHeaderLen)) return malformed(ctx.n.decode_truncated_l2);
      const uint16_t type = c.u16be(14);
      c.skip(kSllHeaderLen);
      return decode_ethertype(ctx, type, c);
    }
    case LinkType::kLinuxSll2: {
      // protocol(2) reserved(2) ifindex(4) ARPHRD(2) packet type(1) addr len(1) addr(8)
      if (!c.has(kSll2HeaderLen)) return malformed(ctx.n.decode_truncated_l2);
      const uint16_t type = c.u16be(0);
      c.skip(kSll2HeaderLen);
      return decode_ethertype(ctx, type, c);
    }
    case LinkType::kRaw:
    case LinkType::kDltRaw:
      return decode_raw_ip(ctx, c);
    case LinkType::kIpv4:
      return decode_ipv4(ctx, c);
    case LinkType::kIpv6:
      return decode_ipv6(ctx, c);
    case LinkType::kNull: {
      // Host order of the machine that wrote the capture, which may not be ours: AF_ values
      // are small, so a non-zero upper half means the other byte order (as tcpdump does).
      if (!c.has(kLoopHeaderLen)) return malformed(ctx.n.decode_truncated_l2);
      uint32_t family = c.u32le(0);
      if (family & 0xFFFF0000u) family = __builtin_bswap32(family);
      c.skip(kLoopHeaderLen);
      return decode_af_family(ctx, family, c);
    }
    case LinkType::kLoop: {
      if (!c.has(kLoopHeaderLen)) return malformed(ctx.n.decode_truncated_l2);
      const uint32_t family = c.u32be(0);
      c.skip(kLoopHeaderLen);
      return decode_af_family(ctx, family, c);
    }
    case LinkType::kNflog:
      return decode_nflog(ctx, c);
    case LinkType::kIeee80211:
      return decode_ieee80211(ctx, c, false);
    case LinkType::kIeee80211Radiotap: {
      bool hdr_pad = false;
      DecodeStatus st;
      if (!radiotap_header(ctx, c, hdr_pad, st)) return st;
      return decode_ieee80211(ctx, c, hdr_pad);
    }
  }
  return malformed(ctx.n.decode_unsupported_link);
}

}  // namespace

bool link_type_supported(uint32_t linktype) noexcept {
  switch (linktype) {
    case static_cast<uint32_t>(LinkType::kNull):
    case static_cast<uint32_t>(LinkType::kEthernet):
    case static_cast<uint32_t>(LinkType::kRaw):
    case static_cast<uint32_t>(LinkType::kDltRaw):
    case static_cast<uint32_t>(LinkType::kLoop):
    case static_cast<uint32_t>(LinkType::kLinuxSll):
    case static_cast<uint32_t>(LinkType::kIpv4):
    case static_cast<uint32_t>(LinkType::kIpv6):
    case static_cast<uint32_t>(LinkType::kLinuxSll2):
    case static_cast<uint32_t>(LinkType::kNflog):
    case static_cast<uint32_t>(LinkType::kIeee80211):
    case static_cast<uint32_t>(LinkType::kIeee80211Radiotap):
      return true;
    default:
      return false;
  }
}

const char* link_type_name(uint32_t linktype) noexcept {
  // libpcap's pcap_datalink_val_to_name() spellings.
  switch (linktype) {
    case static_cast<uint32_t>(LinkType::kNull):
      return "NULL";
    case static_cast<uint32_t>(LinkType::kEthernet):
      return "EN10MB";
    case static_cast<uint32_t>(LinkType::kRaw):
    case static_cast<uint32_t>(LinkType::kDltRaw):
      return "RAW";
    case static_cast<uint32_t>(LinkType::kLoop):
      return "LOOP";
    case static_cast<uint32_t>(LinkType::kLinuxSll):
      return "LINUX_SLL";
    case static_cast<uint32_t>(LinkType::kIpv4):
      return "IPV4";
    case static_cast<uint32_t>(LinkType::kIpv6):
      return "IPV6";
    case static_cast<uint32_t>(LinkType::kLinuxSll2):
      return "LINUX_SLL2";
    case static_cast<uint32_t>(LinkType::kNflog):
      return "NFLOG";
    case static_cast<uint32_t>(LinkType::kIeee80211):
      return "IEEE802_11";
    case static_cast<uint32_t>(LinkType::kIeee80211Radiotap):
      return "IEEE802_11_RADIO";
    default:
      return "unknown";
  }
}

DecodeStatus decode_packet(LinkType link, const uint8_t* data, uint32_t caplen, PacketMeta& out,
                           DecodeCounters& counters) noexcept {
  out = kEmptyMeta;
  Ctx ctx{out, counters};
  const Cursor c(data, data != nullptr ? caplen : 0);
  const DecodeStatus s =
      link == LinkType::kEthernet ? decode_ethernet(ctx, c) : decode_other_link(ctx, link, c);
  if (s == DecodeStatus::kOk) [[likely]] {
    counters.decode_ok.inc();
  } else if (s == DecodeStatus::kNotIp) {
    counters.decode_not_ip.inc();
  }
  return s;
}

void fragment_of(const PacketMeta& pm, const uint8_t* frame_end, FragKey& key,
                 Fragment& frag) noexcept {
  key.src = pm.src;
  key.dst = pm.dst;
  key.id = pm.frag_id;
  key.vlan = pm.vlan_outer;
  key.version = pm.ip_version;
  const uint8_t* l3 = pm.l3;
  const uint8_t* data = l3 + pm.frag_data_off;
  uint32_t end;  // one past the datagram's last byte on the wire, from l3
  if (pm.ip_version == 4) {
    key.proto = l3[9];
    const uint16_t f = static_cast<uint16_t>(l3[6] << 8 | l3[7]);
    frag.offset = static_cast<uint32_t>(f & 0x1FFF) * 8;
    frag.more = (f & 0x2000) != 0;
    frag.next = l3[9];
    end = static_cast<uint32_t>(l3[2] << 8 | l3[3]);
  } else {
    key.proto = 0;
    const uint8_t* fh = data - 8;  // the fragment header
    const uint16_t om = static_cast<uint16_t>(fh[2] << 8 | fh[3]);
    frag.offset = om & 0xFFF8;
    frag.more = (om & 1) != 0;
    frag.next = fh[0];
    end = kIpv6HeaderLen + static_cast<uint32_t>(l3[4] << 8 | l3[5]);
  }
  frag.data = data;
  frag.wire_len = end > pm.frag_data_off ? end - pm.frag_data_off : 0;
  const uint32_t avail = frame_end > data ? static_cast<uint32_t>(frame_end - data) : 0;
  frag.len = std::min(avail, frag.wire_len);
}

DecodeStatus decode_reassembled(const PacketMeta& frag_pm, uint8_t proto, const uint8_t* data,
                                uint32_t len, PacketMeta& out, DecodeCounters& counters) noexcept {
  out = kEmptyMeta;
  out.l3 = frag_pm.l3;
  out.ip_version = frag_pm.ip_version;
  out.ip_len = frag_pm.frag_data_off + len;
  out.ttl = frag_pm.ttl;
  out.src = frag_pm.src;
  out.dst = frag_pm.dst;
  out.vlan_outer = frag_pm.vlan_outer;
  out.vlan_inner = frag_pm.vlan_inner;
  out.vlan_count = frag_pm.vlan_count;
  out.tunneled = frag_pm.tunneled;
  Ctx ctx{out, counters, frag_pm.frag_depth};
  const Cursor c(data, len);
  return frag_pm.ip_version == 4 ? decode_transport(ctx, proto, c, len)
                                 : walk_ipv6<true>(ctx, proto, c, len);
}

}  // namespace flowscribe::decode
