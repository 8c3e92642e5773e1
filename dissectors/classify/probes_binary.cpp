// Probes for binary protocols. Every length field is checked against what is really there
// before it is used; a message cut by the prefix is at most Unsure, and a short fixed header
// is NotMine (the classifier keeps waiting for more bytes either way).
#include <cstring>
#include <string_view>

#include "dissectors/classify/probe_util.h"
#include "dissectors/classify/probes.h"

namespace flowscribe::dissect::probes {
namespace {

using namespace probe_util;
constexpr Verdict kNo = Verdict::kNotMine;
constexpr Verdict kMaybe = Verdict::kUnsure;
constexpr Verdict kYes = Verdict::kCertain;

bool same_bytes(Bytes a, uint32_t ao, Bytes b, uint32_t bo, uint32_t n) {
  return ao + n <= a.n && bo + n <= b.n && std::memcmp(a.p + ao, b.p + bo, n) == 0;
}

// ---- TLS / DTLS ----------------------------------------------------------------------------

// RFC 8446 §5.1 record header, §4.1.2 ClientHello (type 1) / §4.1.3 ServerHello (type 2);
// TLS 1.0-1.2 share the shape (legacy_version 3.x).
Verdict tls_hello(Bytes b, uint8_t want) {
  if (b.n < 6) return kNo;
  Reader r(b);
  const uint8_t type = r.u8(), major = r.u8(), minor = r.u8();
  const uint16_t rec_len = r.be16();
  const uint8_t hs_type = r.u8();
  if (type != 0x16 || major != 3 || minor > 4 || hs_type != want) return kNo;
  if (rec_len < 4 || rec_len > 16384 + 2048) return kNo;
  const uint32_t hs_len = r.be24();
  const uint8_t vmajor = r.u8(), vminor = r.u8();
  if (!r.ok()) return kMaybe;
  if (hs_len < 38 || hs_len > (1u << 18) || vmajor != 3 || vminor > 4) return kNo;
  r.skip(32);  // random
  const uint8_t sid_len = r.u8();
  if (r.ok() && sid_len > 32) return kNo;
  r.skip(sid_len);
  if (want == 1) {
    const uint16_t suites = r.be16();
    if (r.ok() && (suites < 2 || suites % 2 != 0 || suites > hs_len)) return kNo;
    r.skip(suites);
    const uint8_t comp = r.u8();
    if (!r.ok()) return kMaybe;
    if (comp < 1 || r.pos() - 9 > hs_len) return kNo;
    return kYes;
  }
  r.skip(2);  // cipher suite
  const uint8_t comp = r.u8();
  if (!r.ok()) return kMaybe;
  return comp == 0 && r.pos() - 9 <= hs_len ? kYes : kNo;
}

// RFC 6347 §4.1 record (13 bytes) and §4.2.2 handshake header (12 bytes); RFC 9147 keeps the
// plaintext record for the first flight.
Verdict dtls_record(Bytes b, bool client) {
  if (b.n < 25) return kNo;
  Reader r(b);
  const uint8_t type = r.u8();
  const uint16_t version = r.be16(), epoch = r.be16();
  r.skip(6);
  const uint16_t len = r.be16();
  const uint8_t hs_type = r.u8();
  const uint32_t hs_len = r.be24();
  r.be16();  // message_seq
  const uint32_t frag_off = r.be24(), frag_len = r.be24();
  // DTLS 1.0 (0xfeff), 1.2 (0xfefd), and OpenSSL's pre-RFC 4347 DTLS1_BAD_VER (0x0100), still
  // spoken by Cisco AnyConnect.
  const auto dtls_version = [](uint16_t v) { return v == 0xfeff || v == 0xfefd || v == 0x0100; };
  if (type != 22 || !dtls_version(version) || epoch != 0) return kNo;
  if (len < 12 || len > 16384 + 2048) return kNo;
  if (client ? hs_type != 1 : (hs_type != 2 && hs_type != 3)) return kNo;
  if (frag_len > hs_len || frag_off + frag_len > hs_len || frag_len + 12 > len) return kNo;
  const uint16_t body_version = r.be16();
  if (!r.ok()) return kMaybe;
  return dtls_version(body_version) ? kYes : kNo;
}

}  // namespace

// SSL 2.0-compatible ClientHello (RFC 5246 Appendix E.2, RFC 6101 Appendix E.1), still sent by
// old clients that offer SSL 3.0/TLS: a 2-byte header with the high bit set, msg_type 1,
// version, three lengths (cipher specs of 3 bytes each, session id 0 or 16, challenge 16-32)
// that add up to the message length exactly.
Verdict sslv2_client_hello(Bytes b) {
  if (b.n < 5 || (b[0] & 0x80) == 0 || b[2] != 1) return kNo;
  const uint32_t len = (b[0] & 0x7fu) << 8 | b[1];
  const uint16_t version = be16_at(b, 3);
  if (version != 0x0002 && (version < 0x0300 || version > 0x0304)) return kNo;
  if (b.n < 11) return kMaybe;
  const uint32_t specs = be16_at(b, 5), sid = be16_at(b, 7), challenge = be16_at(b, 9);
  if (specs == 0 || specs % 3 != 0 || (sid != 0 && sid != 16) || challenge < 16 || challenge > 32) return kNo;
  return len == 9 + specs + sid + challenge ? kYes : kNo;
}

Verdict tls(const ProbeInput& in, AppProto) noexcept {
  const Verdict c = best(tls_hello(in.cli, 1), sslv2_client_hello(in.cli));
  if (c == kNo) return kNo;
  return best(c, tls_hello(in.srv, 2));
}

Verdict dtls(const ProbeInput& in, AppProto) noexcept {
  const Verdict c = dtls_record(in.cli, true);
  if (c == kNo) return kNo;
  return best(c, dtls_record(in.srv, false));
}

// ---- RDP: TPKT (RFC 1006 §6) + X.224 CR/CC (X.224 §13.3/13.4) + MS-RDPBCGR 2.2.1.1/2.2.1.2 --

namespace {
Verdict rdp_side(Bytes b, bool client) {
  if (b.n < 11) return kNo;
  const uint16_t len = be16_at(b, 2);
  const uint8_t li = b[4], code = b[5];
  if (b[0] != 3 || b[1] != 0 || len < 11 || len > 4096 || li != len - 5) return kNo;
  if ((code & 0xf0) != (client ? 0xe0 : 0xd0) || (client && be16_at(b, 6) != 0)) return kNo;
  if ((b[10] & 0xf0) != 0) return kNo;  // class 0
  if (len == 11) return kMaybe;         // no cookie, no negotiation: legacy but possible
  Bytes var = b.from(11);
  if (client) {
    std::string_view s = var.str();
    if (compatible(s, "Cookie: ")) return s.size() >= 8 ? kYes : kMaybe;
  }
  // RDP_NEG_REQ (type 1) / RDP_NEG_RSP (2) / RDP_NEG_FAILURE (3): the last 8 bytes, LE length 8.
  const uint32_t neg = len - 8u;
  if (len >= 19 && b.n >= len) {
    const uint8_t t = b[neg];
    const bool type_ok = client ? t == 1 : (t == 2 || t == 3);
    return type_ok && b[neg + 2] == 8 && b[neg + 3] == 0 ? kYes : kNo;
  }
  return b.n < len ? kMaybe : kNo;
}
}  // namespace

// RDP over UDP (MS-RDPEUDP 2.2.2.1, 2.2.2.5, 3.1.5.1.1): the SYN datagram's RDPUDP_FEC_HEADER
// has snSourceAck -1 and RDPUDP_FLAG_SYN (0x0001) without ACK (0x0004), then
// RDPUDP_SYNDATA_PAYLOAD: initial sequence number and two MTUs in 1132-1232. The server's
// SYN+ACK acknowledges that sequence number (3.1.5.1.3). RDP-UDP2 starts the same way.
Verdict rdp_udp(const ProbeInput& in) {
  const Bytes c = in.cli, s = in.srv;
  const auto mtu = [](uint16_t m) { return m >= 1132 && m <= 1232; };
  if (c.n < 16 || be32_at(c, 0) != 0xffffffffu) return kNo;
  const uint16_t flags = be16_at(c, 6);
  if ((flags & 0x0005) != 0x0001 || !mtu(be16_at(c, 12)) || !mtu(be16_at(c, 14))) return kNo;
  if (s.n >= 16 && be32_at(s, 0) == be32_at(c, 8) && (be16_at(s, 6) & 0x0005) == 0x0005 && mtu(be16_at(s, 12)) &&
      mtu(be16_at(s, 14))) {
    return kYes;
  }
  return kMaybe;
}

Verdict rdp(const ProbeInput& in, AppProto) noexcept {
  if (in.udp()) return rdp_udp(in);
  const Verdict c = rdp_side(in.cli, true);
  if (c == kNo) return kNo;
  return best(c, rdp_side(in.srv, false));
}

// ---- SMB over NetBIOS session service (RFC 1002 §4.3) or direct TCP (MS-SMB2 2.1) --------

namespace {
// RFC 1001 §14.1 first-level encoding: 32 letters 'A'..'P'.
bool netbios_encoded(Bytes b, uint32_t off) {
  if (off + 33 > b.n || b[off] != 0x20) return false;
  for (uint32_t i = 1; i <= 32; ++i) {
    if (b[off + i] < 'A' || b[off + i] > 'P') return false;
  }
  return true;
}

Verdict smb_side(Bytes b, bool client) {
  if (b.n < 4) return kNo;
  const uint8_t type = b[0], flags = b[1];
  const uint32_t len = uint32_t{flags & 1u} << 16 | be16_at(b, 2);
  if ((flags & 0xfe) != 0) return kNo;
  if (type == 0x00) {
    if (len < 32 || b.n < 8) return kNo;
    if (b[5] != 'S' || b[6] != 'M' || b[7] != 'B') return kNo;
    switch (b[4]) {
      case 0xff:  // SMB1 header, 32 bytes (MS-CIFS 2.2.3.1)
        return kYes;
      case 0xfe:  // SMB2 header: StructureSize 64 (MS-SMB2 2.2.1)
        if (len < 64) return kNo;
        if (b.n < 10) return kMaybe;
        return b[8] == 64 && b[9] == 0 ? kYes : kNo;
      case 0xfd:  // SMB3 transform header (MS-SMB2 2.2.41), 52 bytes
        return len >= 52 ? kYes : kNo;
      case 0xfc:  // compression transform header (MS-SMB2 2.2.42)
        return len >= 16 ? kYes : kNo;
      default:
        return kNo;
    }
  }
  if (client && type == 0x81) {  // SESSION REQUEST: called and calling names
    if (len < 68 || len > 600) return kNo;
    if (b.n < 4 + 34 + 34) return b.n >= 5 && b[4] == 0x20 ? kMaybe : kNo;
    if (!netbios_encoded(b, 4)) return kNo;
    // Skip the scope labels of the called name (usually none).
    uint32_t off = 4 + 33;
    for (int i = 0; i < 8 && off < b.n && b[off] != 0; ++i) off += 1u + b[off];
    return off < b.n && netbios_encoded(b, off + 1) ? kYes : kNo;
  }
  if (!client && type == 0x82) return len == 0 ? kMaybe : kNo;  // POSITIVE SESSION RESPONSE
  if (!client && type == 0x83) return len == 1 && b.n >= 5 && b[4] >= 0x80 && b[4] <= 0x8f ? kMaybe : kNo;
  return kNo;
}
}  // namespace

namespace {
// NetBIOS datagram service (RFC 1002 §4.4.1): DIRECT_UNIQUE / DIRECT_GROUP / BROADCAST with a
// 10-byte header, DGM_LENGTH = the bytes after the 14-byte header, two encoded names, then
// the user data: an SMB1 header (the browser and NETLOGON mailslots ride SMB transactions).
Verdict smb_datagram(Bytes b, uint32_t wire) {
  if (b.n < 14 || b[0] < 0x10 || b[0] > 0x12 || (b[1] & 0xf0) != 0) return kNo;
  if (be16_at(b, 10) + 14u != wire) return kNo;
  uint32_t off = 14;
  for (int name = 0; name < 2; ++name) {
    if (!netbios_encoded(b, off)) return kNo;
    off += 33;
    for (int i = 0; i < 8 && off < b.n && b[off] != 0; ++i) off += 1u + b[off];  // scope labels
    if (off >= b.n) return kNo;
    ++off;
  }
  if (off + 4 > b.n) return kNo;
  return b[off] == 0xff && b[off + 1] == 'S' && b[off + 2] == 'M' && b[off + 3] == 'B' ? kYes : kNo;
}
}  // namespace

Verdict smb(const ProbeInput& in, AppProto) noexcept {
  if (in.udp()) return smb_datagram(in.cli, in.cli_wire);
  const Verdict c = smb_side(in.cli, true);
  if (c == kNo) return kNo;
  const Verdict s = smb_side(in.srv, false);
  return best(c, s);
}

// ---- ONC RPC (RFC 5531 §9), TCP record marking (§11) -------------------------------------

namespace {
struct RpcCall {
  uint32_t xid = 0, prog = 0;
};

Verdict rpc_call(Bytes b, bool tcp, RpcCall& call) {
  Reader r(b);
  uint32_t frag_len = 0;
  if (tcp) {
    frag_len = r.be32() & 0x7fffffffu;
    if (!r.ok() || frag_len < 40 || frag_len > (1u << 24)) return kNo;
  }
  call.xid = r.be32();
  const uint32_t mtype = r.be32(), rpcvers = r.be32();
  call.prog = r.be32();
  const uint32_t vers = r.be32(), proc = r.be32();
  if (!r.ok() || mtype != 0 || rpcvers != 2 || call.prog == 0 || vers > 16 || proc > 1024) return kNo;
  for (int i = 0; i < 2; ++i) {  // credential, verifier: flavor + opaque<400>
    const uint32_t flavor = r.be32(), len = r.be32();
    if (!r.ok()) return kMaybe;
    if (flavor > 7 || len > 400) return kNo;
    if (!r.skip((len + 3) & ~3u)) return kMaybe;
  }
  if (tcp && r.pos() - 4 > frag_len) return kNo;
  return kYes;
}

bool rpc_reply(Bytes b, bool tcp, uint32_t xid) {
  Reader r(b);
  if (tcp) r.be32();
  const uint32_t rxid = r.be32(), mtype = r.be32(), stat = r.be32();
  return r.ok() && rxid == xid && mtype == 1 && stat <= 1;
}
}  // namespace

Verdict rpc(const ProbeInput& in, AppProto self) noexcept {
  RpcCall call;
  const Verdict v = rpc_call(in.cli, in.tcp(), call);
  if (v == kNo) return kNo;
  const bool nfs = call.prog == 100003;  // RFC 7530 / 1813 program number
  if ((self == AppProto::kNfs) != nfs) return kNo;
  if (rpc_reply(in.srv, in.tcp(), call.xid)) return kYes;
  // Over UDP a call alone is 40 bytes of mostly small numbers, which other datagrams match too
  // (an NTP client packet: xid = flags, then zeros, rpcvers = root dispersion 2): the reply
  // with its xid is what proves it. TCP has the record mark as well.
  return in.udp() ? kMaybe : v;
}

// ---- DNS (RFC 1035 §4.1) and its relatives: mDNS (RFC 6762), LLMNR (RFC 4795), NetBIOS-NS
// (RFC 1002 §4.2). One parser; markers in the bytes tell the members apart. ----------------

namespace {
enum class Parse : uint8_t { kBad, kCut, kWhole };

struct DnsMsg {
  Parse parse = Parse::kBad;
  uint16_t id = 0, flags = 0, qd = 0, an = 0, ns = 0, ar = 0, qtype = 0;
  uint32_t parsed = 0;          // bytes parsed before the cut or the end
  bool single_label = true;     // every question name has one label
  bool local = false;           // some name ends in "local" (RFC 6762 §3)
  bool class_top = false;       // QU / cache-flush bit in some class (RFC 6762 §5.4, §10.2)
  bool nb_name = false;         // first name (question, else answer) is a NetBIOS encoding
  uint8_t first_labels = 0;     // labels in the first question name
  bool qr() const { return flags & 0x8000; }
};

// 0 bad, 1 cut, 2 ok. Compression pointers must point backward (no loops), 16 jumps at most.
int dns_name(Bytes m, uint32_t& pos, DnsMsg& d, bool question, bool first) {
  uint32_t p = pos, total = 0, labels = 0, jumps = 0;
  bool jumped = false;
  std::string_view last;
  for (;;) {
    if (p >= m.n) return 1;
    const uint8_t l = m[p];
    if (l == 0) {
      if (!jumped) pos = p + 1;
      break;
    }
    if ((l & 0xc0) == 0xc0) {
      if (p + 1 >= m.n) return 1;
      const uint32_t target = (l & 0x3fu) << 8 | m[p + 1];
      if (target < 12 || target >= p || ++jumps > 16) return 0;
      if (!jumped) pos = p + 2;
      jumped = true;
      p = target;
      continue;
    }
    if (l & 0xc0) return 0;
    if (p + 1 + l > m.n) return 1;
    total += l + 1u;
    if (total > 255) return 0;
    last = {reinterpret_cast<const char*>(m.p + p + 1), l};
    if (first && labels == 0 && l == 32) {
      bool nb = true;
      for (uint32_t i = 0; i < 32; ++i) nb = nb && m[p + 1 + i] >= 'A' && m[p + 1 + i] <= 'P';
      d.nb_name = nb;
    }
    ++labels;
    p += 1u + l;
  }
  if (iequals(last, "local")) d.local = true;
  if (question && labels > 1) d.single_label = false;
  if (question && first) d.first_labels = static_cast<uint8_t>(labels);
  return 2;
}

bool class_ok(uint16_t c) {
  c &= 0x7fff;
  return c == 1 || c == 3 || c == 4 || c == 254 || c == 255;
}

// `complete`: the buffer holds the whole message (a whole UDP datagram, or a TCP message whose
// length prefix is satisfied). Then every byte must be accounted for.
DnsMsg parse_dns(Bytes m, bool complete) {
  DnsMsg d;
  if (m.n < 12) {
    d.parse = complete ? Parse::kBad : Parse::kCut;
    return d;
  }
  d.id = be16_at(m, 0);
  d.flags = be16_at(m, 2);
  d.qd = be16_at(m, 4);
  d.an = be16_at(m, 6);
  d.ns = be16_at(m, 8);
  d.ar = be16_at(m, 10);
  const uint8_t opcode = (d.flags >> 11) & 0xf;
  if (opcode == 3 || opcode > 8 || (d.flags & 0x0040) != 0) return d;
  if (d.qd > 32 || d.an > 512 || d.ns > 512 || d.ar > 512) return d;
  if (!d.qr() && d.qd == 0) return d;
  if (d.qd + d.an + d.ns + d.ar == 0) return d;
  uint32_t pos = 12;
  // Marks d cut; callers then return d itself: every return names d, so it is built in the
  // caller's slot (a lambda returning a copy of d made the compiler build d on the stack and
  // copy it out with loads the CPU could not forward from the stores just made: sampled,
  // ~40 % of this function's time).
  auto cut = [&]() {
    d.parsed = pos;
    d.parse = complete ? Parse::kBad : Parse::kCut;
  };
  for (uint32_t i = 0; i < d.qd; ++i) {
    int r = dns_name(m, pos, d, true, i == 0);
    if (r == 0) return d;
    if (r == 1 || pos + 4 > m.n) {
      cut();
      return d;
    }
    const uint16_t type = be16_at(m, pos), cls = be16_at(m, pos + 2);
    if (type == 0 || !class_ok(cls)) return d;
    if (cls & 0x8000) d.class_top = true;
    if (i == 0) d.qtype = type;
    pos += 4;
  }
  const uint32_t rrs = uint32_t{d.an} + d.ns + d.ar;
  for (uint32_t i = 0; i < rrs; ++i) {
    // An answer without its question (NetBIOS-NS answers carry none): the first RR names it.
    const bool first = d.qd == 0 && i == 0;
    int r = dns_name(m, pos, d, false, first);
    if (r == 0) return d;
    if (r == 1 || pos + 10 > m.n) {
      cut();
      return d;
    }
    const uint16_t type = be16_at(m, pos), cls = be16_at(m, pos + 2);
    const uint16_t rdlen = be16_at(m, pos + 8);
    if (type == 0) return d;
    if (first) d.qtype = type;
    if (type != 41) {  // OPT (RFC 6891) carries the UDP size in its class
      if (!class_ok(cls)) return d;
      if (cls & 0x8000) d.class_top = true;
    }
    pos += 10;
    if (pos + rdlen > m.n) {
      cut();
      return d;
    }
    pos += rdlen;
  }
  d.parsed = pos;
  d.parse = pos == m.n || !complete ? Parse::kWhole : Parse::kBad;
  return d;
}

// One direction's message: UDP datagram, or TCP with the 2-byte length prefix (RFC 1035 §4.2.2).
DnsMsg dns_side(Bytes b, uint32_t wire, bool tcp) {
  if (!tcp) return parse_dns(b, b.n == wire);
  if (b.n < 2) return DnsMsg{Parse::kCut};
  const uint16_t len = be16_at(b, 0);
  if (len < 12) return DnsMsg{};
  Bytes m = b.from(2);
  const bool complete = m.n >= len;
  return parse_dns(m.first(len), complete);
}
}  // namespace

namespace {
// Both sides parsed, once per input for the four protocols of the family.
constexpr char kDnsMemo = 0;  // the memo's owner tag
struct DnsSides {
  DnsMsg c, s;
};
const DnsSides& dns_sides(const ProbeInput& in) {
  if (const DnsSides* m = in.memo<DnsSides>(&kDnsMemo)) return *m;
  DnsSides d;
  d.c = dns_side(in.cli, in.cli_wire, in.tcp());
  const bool usable = !(d.c.parse == Parse::kBad || (d.c.parse == Parse::kCut && d.c.parsed < 12));
  if (usable && !in.srv.empty()) d.s = dns_side(in.srv, in.srv_wire, in.tcp());
  return in.memo_store(&kDnsMemo, d);
}
}  // namespace

Verdict dns_family(const ProbeInput& in, AppProto self) noexcept {
  const bool tcp = in.tcp();
  const DnsSides& both = dns_sides(in);
  const DnsMsg& c = both.c;
  if (c.parse == Parse::kBad || (c.parse == Parse::kCut && c.parsed < 12)) return kNo;
  // Strong: the whole message parsed, or a long prefix of one (a big answer cut by the prefix).
  const bool strong = c.parse == Parse::kWhole || c.parsed >= 256;
  const DnsMsg& s = both.s;
  const bool answered = s.parse != Parse::kBad && in.srv.n >= 12 && s.id == c.id && s.qr() &&
                        !c.qr() && s.qd == c.qd;

  const bool nb = c.nb_name && (c.qtype == 0x20 || c.qtype == 0x21);
  const bool mdns = !tcp && c.id == 0 &&
                    (c.local || c.class_top || (c.qr() && (c.flags & 0x0400) && c.qd == 0 && c.an > 0));
  // RFC 4795 §2.1.1: a query has every flag bit clear; an answer (seen without its query) has
  // opcode 0 and the Z bits clear, where a recursive DNS answer has RA (one of LLMNR's Z bits)
  // set. One single-label name either way.
  const bool llmnr_name = c.qd == 1 && c.first_labels == 1 && !c.local && !nb;
  const bool llmnr_query = !c.qr() && (c.flags & 0x7fff) == 0 && c.an == 0 && c.ns == 0;
  const bool llmnr_reply = c.qr() && (c.flags & 0x78f0) == 0 && c.an >= 1;
  const bool llmnr = !tcp && llmnr_name && (llmnr_query || llmnr_reply);
  const bool llmnr_answer = llmnr && llmnr_query && answered && (s.flags & 0x7cf0) == 0 && s.an >= 1;
  const bool id0 = !tcp && c.id == 0 && !mdns && !nb;  // mDNS without its other markers?
  switch (self) {
    case AppProto::kNbns:
      return nb ? (strong || answered ? kYes : kMaybe) : kNo;
    case AppProto::kMdns:
      if (mdns) return strong ? kYes : kMaybe;
      return id0 ? kMaybe : kNo;
    case AppProto::kLlmnr:
      return llmnr_answer ? kYes : llmnr ? kMaybe : kNo;
    case AppProto::kDns:
      if (nb || mdns) return kNo;
      if (llmnr || id0) return kMaybe;
      return strong || answered ? kYes : kMaybe;
    default:
      return kNo;
  }
}

// ---- Databases -------------------------------------------------------------------------------

// MySQL Protocol::HandshakeV10 (server greeting): 3-byte length, sequence 0, protocol 10,
// NUL-terminated server version, thread id, 8 bytes of salt, a zero filler byte.
Verdict mysql(const ProbeInput& in, AppProto) noexcept {
  if (!in.server_spoke_first) return kNo;
  Bytes b = in.srv;
  if (b.n < 6) return kNo;
  const uint32_t len = b[0] | uint32_t{b[1]} << 8 | uint32_t{b[2]} << 16;
  if (b[3] != 0 || len < 8 || len > 1024) return kNo;
  Reader r(b.from(4).first(len));
  const uint8_t proto = r.u8();
  if (proto == 0xff) {  // ERR packet instead of a greeting ("Host ... is not allowed")
    const uint16_t code = r.le16();
    std::string_view msg = r.rest().str();
    return r.ok() && code >= 1000 && code < 5000 && !msg.empty() && all_print(msg.substr(0, 32)) ? kMaybe : kNo;
  }
  if (proto != 10) return kNo;
  const bool cut = b.n < 4 + len;
  std::string_view version;
  if (!r.cstring(64, version)) {
    std::string_view have = r.rest().str();
    return cut && have.size() < 64 && !have.empty() && is_digit(have[0]) && all_print(have) ? kMaybe : kNo;
  }
  if (version.size() < 3 || !is_digit(version[0]) || !all_print(version)) return kNo;
  r.skip(4 + 8);
  const uint8_t filler = r.u8();
  if (!r.ok()) return cut ? kMaybe : kNo;
  return filler == 0 ? kYes : kNo;
}

// PostgreSQL protocol 3.0 (§55.7): StartupMessage (3.0 / 3.2), SSLRequest, GSSENCRequest and
// CancelRequest all open with Int32 length + Int32 code.
Verdict postgresql(const ProbeInput& in, AppProto) noexcept {
  Bytes b = in.cli;
  if (b.n < 8) return kNo;
  const uint32_t len = be32_at(b, 0), code = be32_at(b, 4);
  if (code == 80877103 || code == 80877104) {  // SSLRequest, GSSENCRequest
    if (len != 8) return kNo;
    if (in.srv.empty() || in.srv[0] == 'S' || in.srv[0] == 'N' || in.srv[0] == 'G') return kYes;
    return kNo;
  }
  if (code == 80877102) return len == 16 ? kYes : kNo;  // CancelRequest
  if (code != 0x00030000 && code != 0x00030002) return kNo;
  if (len < 9 || len > 10000) return kNo;
  // The server's first answer to a StartupMessage (§55.2.2): AuthenticationXXX ('R', length
  // 8-2048, auth code 0-12) or ErrorResponse ('E', its length, then a field type letter).
  const Bytes s = in.srv;
  const bool answered =
      s.n >= 9 && ((s[0] == 'R' && be32_at(s, 1) >= 8 && be32_at(s, 1) <= 2048 && be32_at(s, 5) <= 12) ||
                   (s[0] == 'E' && be32_at(s, 1) >= 8 && be32_at(s, 1) <= 4096 && is_upper(static_cast<char>(s[5]))));
  Reader r(b.first(len).from(8));
  bool user = false;
  for (int i = 0; i < 64; ++i) {
    std::string_view key, value;
    if (!r.cstring(64, key)) break;
    if (key.empty()) {
      // The terminating NUL must be the last byte of the message.
      if (r.pos() + 8 == len && user) return kYes;
      break;
    }
    if (!all_print(key)) return kNo;
    if (key == "user") user = true;
    if (!r.cstring(1024, value)) break;
  }
  if (b.n < len) return kMaybe;
  // The parameters disagree with the length field; a server that answered it as a startup
  // message says what it was.
  Reader p(b.from(8));
  std::string_view key;
  return answered && p.cstring(64, key) && !key.empty() && all_print(key) ? kYes : kNo;
}

// MS-TDS 2.2.3.1 packet header (type, status, length, SPID, packet id, window 0) with a
// PRELOGIN (2.2.6.5: option tokens, VERSION first, 0xFF terminator) or LOGIN7 (2.2.6.4) body.
namespace {
// Pre-TDS7 login (MS-TDS 2.2.3.1.1 type 0x02; Sybase TDS 4.2/5.0 login record): a 512-byte
// packet whose record opens with host name, user name, password and host process, each a
// 30-byte field and a length byte <= 30, the text within the length and zeros after it. Alone
// Unsure; Certain when the server answers with a tabular-result packet (type 0x04, its own
// length) opening with a login token: LOGINACK, ENVCHANGE, EED, ERROR or INFO.
Verdict tds_prelogin7(const ProbeInput& in) {
  const Bytes b = in.cli;
  if (be16_at(b, 2) != 512 || (b[1] & ~1u) != 0) return kNo;
  if (b.n < 8 + 4 * 31) return b.n >= 8 ? kMaybe : kNo;
  for (uint32_t f = 0; f < 4; ++f) {
    const uint32_t off = 8 + f * 31, n = b[off + 30];
    if (n > 30) return kNo;
    for (uint32_t i = 0; i < 30; ++i) {
      const uint8_t ch = b[off + i];
      if (i < n ? !is_print(ch) : ch != 0) return kNo;
    }
  }
  const Bytes s = in.srv;
  if (s.n >= 9 && s[0] == 0x04 && (s[1] & ~1u) == 0 && be16_at(s, 2) >= 9 &&
      (s[8] == 0xad || s[8] == 0xe3 || s[8] == 0xe5 || s[8] == 0xaa || s[8] == 0xab)) {
    return kYes;
  }
  return kMaybe;
}
}  // namespace

Verdict tds(const ProbeInput& in, AppProto) noexcept {
  Bytes b = in.cli;
  if (b.n < 8) return kNo;
  const uint8_t type = b[0], status = b[1], window = b[7];
  const uint16_t len = be16_at(b, 2);
  if ((status & ~0x19u) != 0 || window != 0 || len < 8 || len > 32768) return kNo;
  if (type == 0x02) return tds_prelogin7(in);
  if (type == 0x12) {
    Reader r(b.first(len).from(8));
    const uint32_t body = len - 8u;
    int count = 0, last = -1;
    for (int i = 0; i < 16; ++i) {
      const uint8_t token = r.u8();
      if (!r.ok()) return b.n < len ? kMaybe : kNo;
      if (token == 0xff) return count >= 1 ? kYes : kNo;
      const uint16_t off = r.be16(), olen = r.be16();
      if (!r.ok()) return b.n < len ? kMaybe : kNo;
      if (static_cast<int>(token) <= last || token > 0x10) return kNo;
      if (count == 0 && (token != 0 || olen != 6)) return kNo;
      if (uint32_t{off} + olen > body) return kNo;
      last = token;
      ++count;
    }
    return kNo;
  }
  if (type == 0x10) {  // LOGIN7: its own length field equals the body length
    if (len < 8 + 94 || b.n < 12) return kNo;
    return le32_at(b, 8) == len - 8u && (status & 1) ? kYes : kNo;
  }
  return kNo;
}

// MongoDB wire protocol: MsgHeader (messageLength, requestID, responseTo, opCode, all LE
// int32) then OP_MSG (2013), OP_QUERY (2004) or OP_COMPRESSED (2012).
namespace {
bool bson_start(Reader& r, uint32_t max) {
  const uint32_t len = r.le32();
  const uint8_t type = r.u8();
  if (!r.ok() || len < 5 || len > max) return r.fail();
  if (type == 0) return len == 5 ? true : r.fail();
  if (!((type >= 1 && type <= 19) || type == 0x7f || type == 0xff)) return r.fail();
  std::string_view key;
  if (!r.cstring(128, key) || key.empty() || !all_print(key)) return r.fail();
  return true;
}
}  // namespace

Verdict mongodb(const ProbeInput& in, AppProto) noexcept {
  Bytes b = in.cli;
  if (b.n < 16) return kNo;
  Reader r(b);
  const uint32_t len = r.le32(), req_id = r.le32(), resp_to = r.le32(), op = r.le32();
  // Requests carry responseTo 0; some drivers send -1.
  if (len < 21 || len > 48u * 1024 * 1024 || (resp_to != 0 && resp_to != 0xffffffffu)) return kNo;
  const uint32_t max_doc = len - 16;
  if (op == 2013) {
    const uint32_t flags = r.le32();
    const uint8_t kind = r.u8();
    if (r.ok() && ((flags & ~0x00010003u) != 0 || kind > 1)) return kNo;
    if (kind == 0) {
      bson_start(r, max_doc);
    } else {
      const uint32_t size = r.le32();
      std::string_view ident;
      if (r.ok() && (size < 5 || size > max_doc)) return kNo;
      if (r.ok() && r.cstring(64, ident) && !all_print(ident)) return kNo;
    }
  } else if (op == 2004) {
    const uint32_t flags = r.le32();
    std::string_view name;
    if (r.ok() && (flags & ~0xfeu) != 0) return kNo;
    if (r.cstring(128, name) && (!contains(name, ".") || !all_print(name))) return kNo;
    r.skip(8);
    bson_start(r, max_doc);
  } else if (op == 2012) {
    const uint32_t orig = r.le32(), size = r.le32();
    const uint8_t compressor = r.u8();
    if (r.ok() && ((orig != 2013 && orig != 2004) || size > 48u * 1024 * 1024 || compressor > 3)) return kNo;
  } else {
    return kNo;
  }
  if (!r.ok()) return b.n < len ? kMaybe : kNo;
  Reader s(in.srv);
  s.le32();
  s.le32();
  const uint32_t s_resp = s.le32(), s_op = s.le32();
  if (s.ok() && s_resp == req_id && (s_op == 1 || s_op == 2013 || s_op == 2012)) return kYes;
  return op == 2012 ? kMaybe : kYes;
}

// ---- BER/ASN.1 protocols ---------------------------------------------------------------------

// RFC 4511 §4.1.1 LDAPMessage ::= SEQUENCE { messageID INTEGER, protocolOp CHOICE [APPLICATION n] }.
namespace {
Verdict ldap_side(Bytes b, bool client) {
  if (b.n < 7) return kNo;
  Reader r(b);
  Tlv seq, op;
  uint32_t id = 0;
  if (!ber_header(r, seq) || seq.tag != 0x30 || seq.len < 5) return kNo;
  if (!ber_int(r, id) || !ber_header(r, op)) return kNo;
  const bool cut = seq.value_off + seq.len > b.n;
  if (op.value_off + op.len > seq.value_off + seq.len) return kNo;
  if ((op.tag & 0xc0) != 0x40) return kNo;
  const uint8_t num = op.tag & 0x1f;
  const bool constructed = op.tag & 0x20;
  static constexpr uint32_t kClientOps = 1u << 0 | 1u << 3 | 1u << 6 | 1u << 8 | 1u << 12 | 1u << 14 | 1u << 23;
  static constexpr uint32_t kClientPrimitive = 1u << 2 | 1u << 10 | 1u << 16;  // unbind, del, abandon
  static constexpr uint32_t kServerOps = 1u << 1 | 1u << 4 | 1u << 5 | 1u << 7 | 1u << 9 | 1u << 11 |
                                         1u << 13 | 1u << 15 | 1u << 19 | 1u << 24 | 1u << 25;
  const uint32_t bit = 1u << num;
  if (client ? !((constructed && (kClientOps & bit)) || (!constructed && (kClientPrimitive & bit)))
             : !(constructed && (kServerOps & bit))) {
    return kNo;
  }
  auto done = [&](bool ok) { return ok ? kYes : (cut && !r.ok() ? kMaybe : kNo); };
  if (!constructed) return num == 2 ? (op.len == 0 ? kMaybe : kNo) : kMaybe;
  Tlv t;
  uint32_t v = 0;
  switch (num) {
    case 0: {  // BindRequest: version INTEGER (1..127), name LDAPDN, authentication CHOICE
      const bool ok = ber_int(r, v) && v >= 1 && v <= 3 && ber_header(r, t) && t.tag == 0x04 &&
                      r.skip(t.len) && ber_header(r, t) && (t.tag == 0x80 || t.tag == 0xa3);
      return done(ok);
    }
    case 3: {  // SearchRequest: baseObject, scope ENUMERATED, derefAliases ENUMERATED
      const bool ok = ber_header(r, t) && t.tag == 0x04 && r.skip(t.len) && ber_int(r, v, 0x0a) &&
                      v <= 3 && ber_int(r, v, 0x0a) && v <= 3;
      return done(ok);
    }
    case 23:  // ExtendedRequest: requestName [0] LDAPOID
      return done(ber_header(r, t) && t.tag == 0x80 && t.len > 0 && t.len < 128);
    case 4:  // SearchResultEntry: objectName LDAPDN
      return done(ber_header(r, t) && t.tag == 0x04);
    case 19:
      return kMaybe;
    case 1: case 5: case 7: case 9: case 11: case 13: case 15: case 24: case 25: {
      // LDAPResult: resultCode ENUMERATED, matchedDN, diagnosticMessage
      const bool ok = ber_int(r, v, 0x0a) && ber_header(r, t) && t.tag == 0x04 && r.skip(t.len) &&
                      ber_header(r, t) && t.tag == 0x04;
      return done(ok);
    }
    default:  // modify, add, modDN, compare: the entry name comes first
      return ber_header(r, t) && t.tag == 0x04 ? kMaybe : kNo;
  }
}
}  // namespace

Verdict ldap(const ProbeInput& in, AppProto) noexcept {
  const Verdict c = ldap_side(in.cli, true);
  if (c == kNo) return kNo;
  return best(c, ldap_side(in.srv, false));
}

// RFC 4120 §5: [APPLICATION n] SEQUENCE with pvno 5 and msg-type n; over TCP a 4-byte length
// comes first (§7.2.2).
namespace {
Verdict krb_side(Bytes b, bool tcp) {
  if (tcp) {
    if (b.n < 4) return kNo;
    const uint32_t len = be32_at(b, 0);
    if (len < 16 || len > (1u << 20)) return kNo;
    b = b.from(4);
  }
  if (b.n < 16) return kNo;
  Reader r(b);
  Tlv app, seq, f;
  uint32_t pvno = 0, type = 0;
  if (!ber_header(r, app) || (app.tag & 0xe0) != 0x60) return kNo;
  const uint8_t num = app.tag & 0x1f;
  if (!((num >= 10 && num <= 15) || (num >= 20 && num <= 22) || num == 30)) return kNo;
  const bool req = num == 10 || num == 12;  // KDC-REQ numbers its fields from [1]
  if (!ber_header(r, seq) || seq.tag != 0x30) return kNo;
  if (!ber_header(r, f) || f.tag != (req ? 0xa1 : 0xa0) || !ber_int(r, pvno) || pvno != 5) return kNo;
  if (!ber_header(r, f) || f.tag != (req ? 0xa2 : 0xa1) || !ber_int(r, type) || type != num) return kNo;
  return kYes;
}
}  // namespace

Verdict kerberos(const ProbeInput& in, AppProto) noexcept {
  const Verdict c = krb_side(in.cli, in.tcp());
  if (c == kNo) return kNo;
  return c;
}

// RFC 3416 / RFC 1157 Message ::= SEQUENCE { version, community, PDU } and RFC 3412 §6 for
// v3 (msgGlobalData: msgID, msgMaxSize >= 484, msgFlags OCTET STRING (1), msgSecurityModel).
Verdict snmp(const ProbeInput& in, AppProto) noexcept {
  Bytes b = in.cli;
  if (b.n < 12) return kNo;
  Reader r(b);
  Tlv seq, t;
  uint32_t version = 0, v = 0;
  if (!ber_header(r, seq) || seq.tag != 0x30 || seq.len < 10) return kNo;
  const bool cut = seq.value_off + seq.len > b.n;
  if (!ber_int(r, version)) return kNo;
  bool ok = false;
  if (version == 0 || version == 1) {
    if (!ber_header(r, t) || t.tag != 0x04 || t.len > 255) return kNo;
    Bytes community = r.bytes(t.len);
    if (r.ok() && !all_print(community.str())) return kNo;
    if (!ber_header(r, t) || t.tag < 0xa0 || t.tag > 0xa8) return cut && !r.ok() ? kMaybe : kNo;
    if (t.tag == 0xa4) {  // v1 Trap-PDU: enterprise OBJECT IDENTIFIER first
      ok = ber_header(r, t) && t.tag == 0x06;
    } else {
      // request-id, error-status (<= 18; GetBulk: non-repeaters), error-index, varbinds
      const bool bulk = t.tag == 0xa5;
      ok = ber_int(r, v) && ber_int(r, v) && (bulk || v <= 18) && ber_int(r, v) &&
           ber_header(r, t) && t.tag == 0x30;
    }
  } else if (version == 3) {
    ok = ber_header(r, t) && t.tag == 0x30 && ber_int(r, v) && ber_int(r, v) && v >= 484 &&
         ber_header(r, t) && t.tag == 0x04 && t.len == 1 && r.skip(1) && ber_int(r, v) && v >= 1 && v <= 3;
  } else {
    return kNo;
  }
  if (ok) return kYes;
  return cut && !r.ok() ? kMaybe : kNo;
}

// ---- DHCP --------------------------------------------------------------------------------------

// RFC 2131 §2: 236-byte fixed part, magic cookie 99.130.83.99 (RFC 2132 §2), then options
// with DHCP Message Type (53) present.
Verdict dhcp(const ProbeInput& in, AppProto) noexcept {
  Bytes b = in.cli;
  if (b.n < 240) return kNo;
  const uint8_t op = b[0], htype = b[1], hlen = b[2], hops = b[3];
  if ((op != 1 && op != 2) || htype == 0 || htype > 40 || hlen > 16 || hops > 16) return kNo;
  if (be32_at(b, 236) != 0x63825363) return kNo;
  uint32_t off = 240;
  for (int i = 0; i < 96; ++i) {
    if (off >= b.n) break;
    const uint8_t code = b[off];
    if (code == 0) {
      ++off;
      continue;
    }
    if (code == 255) return kNo;  // ended without a message type
    if (off + 1 >= b.n) break;
    const uint8_t len = b[off + 1];
    if (code == 53) return len == 1 && off + 2 < b.n && b[off + 2] >= 1 && b[off + 2] <= 18 ? kYes : kNo;
    off += 2u + len;
  }
  return in.cli_whole() ? kNo : kMaybe;
}

// RFC 8415 §8 (client/server: msg-type, 3-byte transaction id), §9 (relay: hop-count,
// link-address, peer-address), §21 options (code, length) filling the datagram exactly.
Verdict dhcpv6(const ProbeInput& in, AppProto) noexcept {
  Bytes b = in.cli;
  if (b.n < 8) return kNo;
  const uint8_t type = b[0];
  uint32_t off = 4;
  const bool relay = type == 12 || type == 13;
  if (relay) {
    if (b.n < 38 || b[1] > 32) return kNo;
    off = 34;
  } else if (!((type >= 1 && type <= 11) || (type >= 14 && type <= 17) || type == 20 || type == 21)) {
    // 1-11: RFC 8415 §7.3; 14-17: LEASEQUERY (RFC 5007, 5460); 20-21: DHCPv4 over DHCPv6 (RFC 7341)
    return kNo;
  }
  bool client_id = false, relay_msg = false;
  int count = 0;
  for (int i = 0; i < 64 && off < b.n; ++i) {
    if (off + 4 > b.n) return in.cli_whole() ? kNo : kMaybe;
    const uint16_t code = be16_at(b, off), len = be16_at(b, off + 2);
    if (code == 0 || code > 200) return kNo;
    if (off + 4 + len > b.n) return in.cli_whole() ? kNo : (count >= 1 ? kMaybe : kNo);
    if (code == 1 && len >= 4) {  // CLIENTID: a DUID of type 1-4 (RFC 8415 §11)
      const uint16_t duid = be16_at(b, off + 4);
      client_id = duid >= 1 && duid <= 4;
    }
    if (code == 9) relay_msg = true;
    off += 4u + len;
    ++count;
  }
  if (off != b.n || count == 0) return kNo;
  if (relay) return relay_msg ? kYes : kNo;
  return client_id ? kYes : kMaybe;
}

// ---- Time, VPN, NAT traversal ------------------------------------------------------------------

// RFC 5905 §7.3: 48-byte header (LI, VN, Mode; stratum; poll; ...), optionally followed by
// extension fields or a MAC; a server answer echoes the client's transmit timestamp as its
// origin timestamp.
namespace {
// 48 bytes, then for NTPv4 extension fields (RFC 7822: 16+ bytes each) and/or a MAC (key id +
// 16 or 20 bytes of digest); NTPv1-v3 (RFC 1059, 1119, 1305) have no extension fields, only
// the optional authenticator (key id + 8-byte DES or 16/20-byte digest).
bool ntp_length(uint32_t n, uint8_t vn) {
  if (n == 48 || n == 60 || n == 68 || n == 72) return true;
  return vn == 4 && n >= 64 && n <= 1024 && n % 4 == 0;
}
}  // namespace

Verdict ntp(const ProbeInput& in, AppProto) noexcept {
  Bytes c = in.cli, s = in.srv;
  const uint8_t vn = (c[0] >> 3) & 7, mode = c[0] & 7;
  if (c.n < 48 || !ntp_length(in.cli_wire, vn)) return kNo;
  const auto poll = static_cast<int8_t>(c[2]);
  if (vn < 1 || vn > 4 || (mode != 3 && mode != 1) || c[1] > 16 || poll < -8 || poll > 17) return kNo;
  // Root delay and root dispersion (NTP short format, 16.16 s) are at most a few seconds.
  if ((be32_at(c, 4) >> 16) > 16 || (be32_at(c, 8) >> 16) > 16) return kNo;
  if (s.n >= 48 && ntp_length(in.srv_wire, (s[0] >> 3) & 7)) {
    const uint8_t smode = s[0] & 7;
    const bool xmit_set = be32_at(c, 40) != 0 || be32_at(c, 44) != 0;
    if ((smode == 4 || smode == 2) && xmit_set && same_bytes(s, 24, c, 40, 8)) return kYes;
  }
  return kMaybe;
}

// RFC 9000 §17.2 long header (RFC 9369 for v2); §7.2: a client's first Destination
// Connection ID is at least 8 bytes; §14.1: its Initial datagram is at least 1200 bytes.
namespace {
bool quic_version(uint32_t v) {
  return v == 1 || v == 0x6b3343cf || (v >= 0xff00001d && v <= 0xff000022) ||
         (v & 0xffffff00u) == 0x51303400u || v == 0x51303530u || v == 0x54303530u ||
         v == 0x54303531u || (v & 0xfffffff0u) == 0xfaceb000u;
}

struct QuicLong {
  uint32_t version = 0;
  uint32_t dcid_off = 0, scid_off = 0;
  uint8_t dcid_len = 0, scid_len = 0;
};

bool quic_long(Bytes b, QuicLong& q) {
  if (b.n < 7 || (b[0] & 0x80) == 0) return false;
  q.version = be32_at(b, 1);
  q.dcid_len = b[5];
  q.dcid_off = 6;
  if (q.dcid_len > 20 || q.dcid_off + q.dcid_len + 1 > b.n) return false;
  q.scid_off = q.dcid_off + q.dcid_len + 1;
  q.scid_len = b[q.scid_off - 1];
  return q.scid_len <= 20 && q.scid_off + q.scid_len <= b.n;
}
}  // namespace

namespace {
// Google QUIC before Q046 (the "public header" of the gQUIC wire layout): public flags with
// VERSION (0x01) and an 8-byte connection id (0x08; versions before Q033 encode that length
// as 0x0c), no RESET (0x02) and no reserved bits (0xc0); the connection id; the version
// "Q0dd"; a packet number; then the client's handshake message, whose tag "CHLO" shows within
// its first bytes. The server answers on the same connection id.
Verdict gquic_public(const ProbeInput& in) {
  const Bytes b = in.cli;
  if (b.n < 13 || (b[0] & 0xcb) != 0x09) return kNo;
  if (b[9] != 'Q' || !is_digit(static_cast<char>(b[10])) || !is_digit(static_cast<char>(b[11])) ||
      !is_digit(static_cast<char>(b[12]))) {
    return kNo;
  }
  std::string_view head = b.first(96).str().substr(13);
  if (contains(head, "CHLO")) return kYes;
  const Bytes s = in.srv;
  if (s.n >= 9 && (s[0] & 0x08) && (s[0] & 0xc2) == 0 && same_bytes(s, 1, b, 1, 8)) return kYes;
  return kMaybe;
}
}  // namespace

Verdict quic(const ProbeInput& in, AppProto) noexcept {
  if (!in.cli.empty() && (in.cli[0] & 0x80) == 0) return gquic_public(in);
  QuicLong c;
  if (!quic_long(in.cli, c) || !quic_version(c.version) || (in.cli[0] & 0x40) == 0) return kNo;
  const uint8_t type = (in.cli[0] >> 4) & 3;
  if ((c.version == 1 || c.version >= 0xff000000u) && type != 0) return kNo;  // Initial
  if (c.version == 0x6b3343cf && type != 1) return kNo;                        // v2 Initial
  if (c.dcid_len < 8) return kNo;
  QuicLong s;
  if (quic_long(in.srv, s) && (s.version == c.version || s.version == 0) && s.dcid_len == c.scid_len &&
      same_bytes(in.srv, s.dcid_off, in.cli, c.scid_off, c.scid_len)) {
    return kYes;
  }
  return in.cli_wire >= 1200 ? kYes : kMaybe;
}

// RFC 8489 §5/§6: type with the top two bits zero, length a multiple of 4, magic cookie
// 0x2112A442, 96-bit transaction id, then TLV attributes padded to 4 bytes.
namespace {
Verdict stun_side(Bytes b, uint32_t wire, bool udp) {
  if (b.n < 20) return kNo;
  const uint16_t type = be16_at(b, 0), len = be16_at(b, 2);
  // MS-TURN ([MS-TURN] 2.2.2, after draft-rosenberg-midcom-turn-08): the old 128-bit
  // transaction id, unpadded attributes, and the Magic Cookie attribute (0x000F, 0x72C64BC6)
  // first in every message.
  if ((type & 0xc000) == 0 && (!udp || wire == 20u + len) && b.n >= 28 && be16_at(b, 20) == 0x000f &&
      be16_at(b, 22) == 4 && be32_at(b, 24) == 0x72c64bc6u) {
    return kYes;
  }
  if ((type & 0xc000) != 0 || len % 4 != 0 || be32_at(b, 4) != 0x2112a442) return kNo;
  if (udp && wire != 20u + len) return kNo;
  const uint32_t end = 20u + len;
  uint32_t off = 20;
  while (off + 4 <= end && off + 4 <= b.n) {
    const uint16_t alen = be16_at(b, off + 2);
    off += 4u + ((alen + 3u) & ~3u);
  }
  return off <= end ? kYes : kNo;  // an attribute may not overrun the message
}
}  // namespace

namespace {
// Classic STUN (RFC 3489 §11.1), still sent by old NAT-type probes: no magic cookie, a
// 128-bit transaction id, message types Binding / Shared Secret request, response or error,
// attributes filling the datagram exactly. Without the cookie a request is only Unsure; a
// response carrying its transaction id makes it Certain.
bool stun_classic_type(uint16_t t) {
  return t == 0x0001 || t == 0x0101 || t == 0x0111 || t == 0x0002 || t == 0x0102 || t == 0x0112;
}
Verdict stun_classic(const ProbeInput& in) {
  const Bytes b = in.cli;
  if (!in.udp() || b.n < 20 || !in.cli_whole()) return kNo;
  const uint16_t type = be16_at(b, 0), len = be16_at(b, 2);
  if ((type != 0x0001 && type != 0x0002) || len % 4 != 0 || len > 492 || in.cli_wire != 20u + len) return kNo;
  uint32_t off = 20;
  for (int i = 0; i < 32 && off + 4 <= b.n; ++i) off += 4u + ((be16_at(b, off + 2) + 3u) & ~3u);
  if (off != b.n) return kNo;
  const Bytes s = in.srv;
  if (s.n >= 20 && stun_classic_type(be16_at(s, 0)) && (be16_at(s, 0) & 0x0100) && same_bytes(s, 4, b, 4, 16)) {
    return kYes;
  }
  return kMaybe;
}
}  // namespace

Verdict stun(const ProbeInput& in, AppProto) noexcept {
  const Verdict c = stun_side(in.cli, in.cli_wire, in.udp());
  if (c == kNo) return stun_classic(in);
  return c;
}

// OpenVPN control channel: opcode<<3|key_id, session id (8), optional tls-auth HMAC (16, 20,
// 32 or 64 bytes) + packet id + time, ack array length 0, message packet id 0. The server's
// HARD_RESET_SERVER_V2 (opcode 8) acknowledges the client's session id. TCP adds a 2-byte
// length.
Verdict openvpn(const ProbeInput& in, AppProto) noexcept {
  Bytes c = in.cli, s = in.srv;
  if (in.tcp()) {
    if (c.n < 2) return kNo;
    const uint16_t plen = be16_at(c, 0);
    if (plen < 14 || plen > 2048) return kNo;
    c = c.from(2);
    s = s.from(2);
  }
  if (c.n < 14 || (c[0] != 0x38 && c[0] != 0x50)) return kNo;  // HARD_RESET_CLIENT_V2 / V3
  bool shape = c[9] == 0 && be32_at(c, 10) == 0;
  for (uint32_t h : {16u, 20u, 32u, 64u}) {
    const uint32_t k = 9 + h + 8;
    if (c.n >= k + 5 && c[k] == 0 && be32_at(c, k + 1) == 0) shape = true;
  }
  if (!shape) return kNo;
  if (s.n >= 9 && s[0] == 0x40) {
    const uint32_t end = s.n < 120 ? s.n : 120;
    for (uint32_t off = 9; off + 8 <= end; ++off) {
      if (same_bytes(s, off, c, 1, 8)) return kYes;
    }
  }
  return kMaybe;
}

// IKE (ISAKMP header, RFC 2408 §3.1; IKEv2 RFC 7296 §3.1): initiator SPI (8, non-zero),
// responder SPI (8), next payload, version (major.minor: 0x10 or 0x20), exchange type, flags,
// message id, length (28 or more, the whole message: equal to the datagram). UDP 4500 puts
// the 4-byte non-ESP marker (zero) first (RFC 3948 §2.2). Certain when the other side's
// message has the same initiator SPI.
namespace {
bool ike_header(Bytes b, uint32_t wire) noexcept {
  if (b.n >= 4 && be32_at(b, 0) == 0) {  // non-ESP marker
    b = b.from(4);
    wire = wire >= 4 ? wire - 4 : 0;
  }
  if (b.n < 28 || (be32_at(b, 0) == 0 && be32_at(b, 4) == 0)) return false;
  const uint8_t np = b[16], ver = b[17], ex = b[18];
  bool ok = false;
  if (ver == 0x10) {  // IKEv1: payloads 1-13, NAT-D/NAT-OA 20/21 (RFC 3947); exchanges 1-5, 32, 33
    ok = (np <= 13 || np == 20 || np == 21) && ((ex >= 1 && ex <= 5) || ex == 32 || ex == 33);
  } else if (ver == 0x20) {  // IKEv2: payloads 33-54 or none; exchanges 34-37, 43, 44
    ok = (np == 0 || (np >= 33 && np <= 54)) && ((ex >= 34 && ex <= 37) || ex == 43 || ex == 44);
  }
  return ok && be32_at(b, 24) >= 28 && be32_at(b, 24) == wire;
}
}  // namespace

Verdict ike(const ProbeInput& in, AppProto) noexcept {
  if (!in.udp() || !ike_header(in.cli, in.cli_wire)) return kNo;
  if (in.srv.n >= 8 && ike_header(in.srv, in.srv_wire)) {
    const Bytes c = in.cli.n >= 4 && be32_at(in.cli, 0) == 0 ? in.cli.from(4) : in.cli;
    const Bytes s = in.srv.n >= 4 && be32_at(in.srv, 0) == 0 ? in.srv.from(4) : in.srv;
    if (same_bytes(s, 0, c, 0, 8)) return kYes;
  }
  return kMaybe;
}

// OPC UA Binary over TCP (OPC 10000-6 §7.1.2): every message starts with a 3-byte type
// (HEL, ACK, ERR, RHE, OPN, MSG, CLO), a chunk type ('F'; MSG, OPN and CLO also 'C' or 'A')
// and a little-endian uint32 size of the whole message, header included. A client starts with
// HEL (ReverseHello: the server sends RHE first, so the flow's client does) and the server
// answers ACK (or ERR): Certain; one side alone is Unsure.
namespace {
// 0: not an OPC UA message header; else the 3-byte type as 'H' (HEL), 'A' (ACK), 'E' (ERR),
// 'R' (RHE), 'O' (OPN), 'M' (MSG), 'C' (CLO).
char opcua_header(Bytes b) noexcept {
  if (b.n < 8) return 0;
  const uint32_t size = le32_at(b, 4);
  char t = 0;
  if (b[0] == 'H' && b[1] == 'E' && b[2] == 'L') t = 'H';
  else if (b[0] == 'A' && b[1] == 'C' && b[2] == 'K') t = 'A';
  else if (b[0] == 'E' && b[1] == 'R' && b[2] == 'R') t = 'E';
  else if (b[0] == 'R' && b[1] == 'H' && b[2] == 'E') t = 'R';
  else if (b[0] == 'O' && b[1] == 'P' && b[2] == 'N') t = 'O';
  else if (b[0] == 'M' && b[1] == 'S' && b[2] == 'G') t = 'M';
  else if (b[0] == 'C' && b[1] == 'L' && b[2] == 'O') t = 'C';
  if (t == 0) return 0;
  const bool chunked = t == 'O' || t == 'M' || t == 'C';
  if (b[3] != 'F' && !(chunked && (b[3] == 'C' || b[3] == 'A'))) return 0;
  // HEL: 8 + 20 + the EndpointUrl's length (at most 4096 bytes, §7.1.2.3); ACK: 8 + 20;
  // ERR: 8 + 8 + a reason; others: a secure channel id and a security header at least.
  switch (t) {
    case 'H': return size >= 32 && size <= 8 + 20 + 4 + 4096 ? t : 0;
    case 'A': return size == 28 ? t : 0;
    case 'E': return size >= 16 && size <= 8 + 8 + 4 + 4096 ? t : 0;
    case 'R': return size >= 16 && size <= 8 + 8 + 2 * 4096 ? t : 0;
    default: return size >= 12 && size <= (16u << 20) ? t : 0;
  }
}
}  // namespace

Verdict opcua(const ProbeInput& in, AppProto) noexcept {
  if (!in.tcp()) return kNo;
  const char ct = opcua_header(in.cli);
  if (ct == 0) return kNo;
  const char st = in.srv.n >= 8 ? opcua_header(in.srv) : 0;
  if (ct == 'H' && (st == 'A' || st == 'E')) return kYes;
  if (ct == 'R' && st == 'H') return kYes;  // ReverseHello from the connecting server
  return ct == 'H' || ct == 'R' || ct == 'O' ? kMaybe : kNo;
}

// Android Debug Bridge (AOSP packages/modules/adb/protocol.txt): every message starts with a
// 24-byte header of little-endian uint32s: command (four ASCII letters), arg0, arg1, the data
// length, a data checksum and magic = command ^ 0xffffffff. The host opens with CNXN (or STLS /
// AUTH), the device answers CNXN, AUTH or STLS: both sides framed is Certain; the host's
// message alone (its 32-bit magic checked) is Unsure. A client of the ADB server (adb's
// SERVICES.TXT, port 5037) sends a request of 4 hex digits (the length) and the service name
// (the signature lists them); the server answers OKAY or FAIL: Certain, else Unsure.
namespace {
constexpr uint32_t kAdbCnxn = 0x4e584e43, kAdbAuth = 0x48545541, kAdbStls = 0x534c5453;

uint32_t adb_command(Bytes b) noexcept {  // the command of an ADB header at b, else 0
  if (b.n < 24) return 0;
  const uint32_t cmd = le32_at(b, 0);
  if (le32_at(b, 20) != (cmd ^ 0xffffffffu) || le32_at(b, 12) > (1u << 20)) return 0;
  return cmd == kAdbCnxn || cmd == kAdbAuth || cmd == kAdbStls ? cmd : 0;
}
}  // namespace

Verdict adb(const ProbeInput& in, AppProto) noexcept {
  if (!in.tcp()) return kNo;
  if (adb_command(in.cli) != 0) return adb_command(in.srv) != 0 ? kYes : kMaybe;
  Bytes c = in.cli, s = in.srv;
  uint32_t len = 0;
  for (uint32_t i = 0; i < 4; ++i) {
    if (i >= c.n) return kNo;
    const uint8_t x = c[i];
    const int v = x >= '0' && x <= '9' ? x - '0' : (x | 0x20) >= 'a' && (x | 0x20) <= 'f' ? (x | 0x20) - 'a' + 10 : -1;
    if (v < 0) return kNo;
    len = len << 4 | static_cast<uint32_t>(v);
  }
  // The request's length counts the service text after the 4 digits (at least "sync:").
  if (len < 5 || (in.cli_wire >= 4 && in.cli_wire - 4 < len && in.cli_wire == c.n)) return kNo;
  if (s.n >= 4 && ((s[0] == 'O' && s[1] == 'K' && s[2] == 'A' && s[3] == 'Y') ||
                   (s[0] == 'F' && s[1] == 'A' && s[2] == 'I' && s[3] == 'L'))) {
    return kYes;
  }
  return kMaybe;
}

// WireGuard (whitepaper §5.4): message type, three zero bytes; initiation is exactly 148 bytes,
// the response 92 bytes with its receiver index equal to the initiator's sender index.
Verdict wireguard(const ProbeInput& in, AppProto) noexcept {
  Bytes c = in.cli, s = in.srv;
  if (c.n < 4 || c[1] != 0 || c[2] != 0 || c[3] != 0) return kNo;
  if (c[0] == 1 && in.cli_wire == 148) return kYes;
  if (c[0] == 4 && in.cli_wire >= 32 && (in.cli_wire - 16) % 16 == 0) {
    return s.n >= 4 && s[0] == 4 && s[1] == 0 && s[2] == 0 && s[3] == 0 ? kMaybe : kNo;
  }
  return kNo;
}

// ---- Industrial, routing, misc -----------------------------------------------------------------

// Modbus/TCP MBAP header (Modbus Messaging on TCP/IP §3.1.3): transaction id, protocol id 0,
// length (unit id + PDU), unit id; then the function code. Confirmed by an answer with the
// same transaction id and function code (or its exception, code | 0x80).
namespace {
bool modbus_adu(Bytes b, uint16_t& tid, uint8_t& fc) {
  if (b.n < 8 || be16_at(b, 2) != 0) return false;
  const uint16_t len = be16_at(b, 4);
  if (len < 2 || len > 254) return false;
  tid = be16_at(b, 0);
  fc = b[7];
  return true;
}
bool modbus_function(uint8_t fc) {
  switch (fc) {
    case 1: case 2: case 3: case 4: case 5: case 6: case 7: case 8: case 11: case 12: case 15:
    case 16: case 17: case 20: case 21: case 22: case 23: case 24: case 43:
      return true;
    default:
      return false;
  }
}
}  // namespace

Verdict modbus(const ProbeInput& in, AppProto) noexcept {
  uint16_t tid = 0, stid = 0;
  uint8_t fc = 0, sfc = 0;
  if (!modbus_adu(in.cli, tid, fc) || fc >= 0x80) return kNo;
  // The answer with the same transaction id and the function code, or its exception (code |
  // 0x80, exception code 1-11; §7), confirms any code; alone only public codes are plausible.
  if (modbus_adu(in.srv, stid, sfc) && stid == tid &&
      (sfc == fc || (sfc == (fc | 0x80) && in.srv.n >= 9 && in.srv[8] >= 1 && in.srv[8] <= 11))) {
    return kYes;
  }
  return modbus_function(fc) ? kMaybe : kNo;
}

uint16_t dnp3_crc(const uint8_t* p, uint32_t n) noexcept {
  uint16_t crc = 0;
  for (uint32_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int b = 0; b < 8; ++b) crc = (crc & 1) ? static_cast<uint16_t>((crc >> 1) ^ 0xa6bc) : static_cast<uint16_t>(crc >> 1);
  }
  return static_cast<uint16_t>(~crc);
}

// IEEE 1815 §9.2: link header 0x05 0x64, length >= 5, control, destination, source, then a
// CRC over those 8 bytes (LSB first).
Verdict dnp3(const ProbeInput& in, AppProto) noexcept {
  auto side = [](Bytes b) {
    if (b.n < 2 || b[0] != 0x05 || b[1] != 0x64) return kNo;
    if (b.n < 10) return kMaybe;
    if (b[2] < 5) return kNo;
    const uint16_t crc = static_cast<uint16_t>(b[8] | b[9] << 8);
    return crc == dnp3_crc(b.p, 8) ? kYes : kNo;
  };
  return best(side(in.cli), side(in.srv));
}

// RFC 4271 §4.1: 16-byte all-ones marker, length 19..4096, type 1..5 (RFC 2918 adds 5);
// an OPEN carries version 4.
Verdict bgp(const ProbeInput& in, AppProto) noexcept {
  auto side = [](Bytes b) {
    if (b.n < 16) return kNo;
    for (uint32_t i = 0; i < 16; ++i) {
      if (b[i] != 0xff) return kNo;
    }
    if (b.n < 19) return kMaybe;
    const uint16_t len = be16_at(b, 16);
    const uint8_t type = b[18];
    if (len < 19 || len > 4096 || type < 1 || type > 5) return kNo;
    if (type == 1) return b.n < 20 ? kMaybe : (b[19] == 4 && len >= 29 ? kYes : kNo);
    if (type == 4) return len == 19 ? kYes : kNo;
    return kMaybe;
  };
  return best(side(in.cli), side(in.srv));
}

// AMQP 0-9-1 §4.2.2 / AMQP 1.0 §2.2: the 8-byte protocol header "AMQP" id major minor rev.
Verdict amqp(const ProbeInput& in, AppProto) noexcept {
  std::string_view s = in.cli.str();
  if (!compatible(s, "AMQP") || s.size() < 4) return kNo;
  if (s.size() < 8) return kMaybe;
  static constexpr std::string_view kIds[] = {
      {"\x00\x00\x09\x01", 4}, {"\x00\x01\x00\x00", 4}, {"\x02\x01\x00\x00", 4},
      {"\x03\x01\x00\x00", 4}, {"\x01\x01\x00\x0a", 4}, {"\x01\x01\x00\x09", 4}};
  for (std::string_view id : kIds) {
    if (s.substr(4, 4) == id) return kYes;
  }
  return kNo;
}

// MQTT 3.1.1 §3.1 / 5.0 §3.1 CONNECT: 0x10, remaining length (1-4 byte varint), protocol
// name "MQTT" (level 4 or 5) or "MQIsdp" (level 3), connect flags with bit 0 reserved.
Verdict mqtt(const ProbeInput& in, AppProto) noexcept {
  Bytes b = in.cli;
  if (b.n < 2 || b[0] != 0x10) return kNo;
  Reader r(b);
  r.u8();
  uint32_t rem = 0;
  int i = 0;
  for (; i < 4; ++i) {
    const uint8_t d = r.u8();
    rem |= uint32_t{d & 0x7fu} << (7 * i);
    if (!(d & 0x80)) break;
  }
  if (i == 4 || !r.ok()) return kNo;
  if (rem < 10 || rem > (1u << 20)) return kNo;
  const uint16_t name_len = r.be16();
  Bytes name = r.bytes(name_len);
  const uint8_t level = r.u8(), flags = r.u8();
  if (!r.ok()) return b.n < 14 ? kMaybe : kNo;
  const bool v311 = name.str() == "MQTT" && (level == 4 || level == 5);
  const bool v31 = name.str() == "MQIsdp" && level == 3;
  if (!(v311 || v31) || (flags & 1) || ((flags >> 3) & 3) == 3) return kNo;
  return kYes;
}

// BEP 3 handshake "\x13BitTorrent protocol"; BEP 5 DHT over UDP: bencoded dictionaries whose
// "y" key is q, r or e.
Verdict bittorrent(const ProbeInput& in, AppProto) noexcept {
  if (in.tcp()) {
    constexpr std::string_view kHandshake{"\x13" "BitTorrent protocol", 20};
    auto side = [&](Bytes b) {
      if (b.empty() || !compatible(b.str(), kHandshake)) return kNo;
      return b.n >= 20 ? kYes : (b.n >= 4 ? kMaybe : kNo);
    };
    return best(side(in.cli), side(in.srv));
  }
  std::string_view s = in.cli.str();
  if (!s.starts_with("d1:") && !s.starts_with("d2:ip")) return kNo;
  const bool y = contains(s, "1:y1:q") || contains(s, "1:y1:r") || contains(s, "1:y1:e");
  if (y && (contains(s, "2:id20:") || contains(s, "1:y1:e"))) return kYes;
  return in.cli_whole() ? kNo : kMaybe;
}

// SOCKS 5 (RFC 1928 §3: VER 5, NMETHODS, METHODS; the server picks one) and SOCKS 4/4a
// (VN 4, CD 1|2, DSTPORT, DSTIP, USERID NUL [, host NUL]; reply VN 0, CD 90-93).
// A v5 greeting followed at once by a whole, well-formed request (§4: VER 5, CMD 1-3, RSV 0,
// ATYP 1/3/4 and its address) is evidence enough to let the server's method selection come
// after at most kSocksServerLead bytes of the server's own (a proxy bot that dials out to its
// controller and says hello first, then serves it: Arkime's socks5-reverse.pcap).
constexpr uint32_t kSocksServerLead = 16;  // dissectors/socks skips the same (socks_server_lead)
Verdict socks(const ProbeInput& in, AppProto) noexcept {
  Bytes c = in.cli, s = in.srv;
  if (c.n < 3) return kNo;
  if (c[0] == 5) {
    const uint8_t n = c[1];
    if (n == 0 || n > 16 || c.n < 2u + n) return kNo;
    for (uint32_t i = 0; i < n; ++i) {
      const uint8_t m = c[2 + i];
      if (!(m <= 0x09 || (m >= 0x80 && m <= 0xfe))) return kNo;
    }
    if (c.n > 2u + n && c[2 + n] != 5) return kNo;  // next comes a v5 request
    if (s.empty()) return kMaybe;
    auto offered = [&](uint8_t m) {
      if (m == 0xff) return true;
      for (uint32_t i = 0; i < n; ++i) {
        if (c[2 + i] == m) return true;
      }
      return false;
    };
    if (s.n >= 1 && s[0] == 5) return s.n >= 2 && offered(s[1]) ? kYes : kNo;
    // The server's own bytes first: only after a whole request right behind the greeting,
    // the method without authentication (what a request before the selection presumes).
    const uint32_t r = 2u + n;
    if (c.n < r + 5 || c[r + 1] < 1 || c[r + 1] > 3 || c[r + 2] != 0) return kNo;
    uint32_t alen = 0;
    switch (c[r + 3]) {
      case 1: alen = 4; break;
      case 4: alen = 16; break;
      case 3: alen = 1u + c[r + 4]; break;
      default: return kNo;
    }
    if ((c[r + 3] == 3 && c[r + 4] == 0) || c.n < r + 4 + alen + 2) return kNo;
    for (uint32_t k = 1; k <= kSocksServerLead && k + 1 < s.n; ++k) {
      if (s[k] == 5 && s[k + 1] == 0 && offered(0)) return kYes;
    }
    return kNo;
  }
  if (c[0] == 4 && (c[1] == 1 || c[1] == 2) && c.n >= 9) {
    Reader r(c.from(8));
    std::string_view user, host;
    if (!r.cstring(255, user) || !all_print(user)) return kNo;
    const bool v4a = c[4] == 0 && c[5] == 0 && c[6] == 0 && c[7] != 0;
    if (v4a && (!r.cstring(255, host) || host.empty() || !all_print(host))) return kNo;
    if (s.empty()) return r.at_end() ? kMaybe : kNo;
    return s.n >= 8 && s[0] == 0 && s[1] >= 90 && s[1] <= 93 ? kYes : kNo;
  }
  return kNo;
}

// RFC 1350 §5 (RRQ/WRQ: filename NUL mode NUL) with RFC 2347 options; a transfer flow (the
// server's new port) opens with DATA block 1 answered by ACK 1, or ACK 0 for a write.
Verdict tftp(const ProbeInput& in, AppProto) noexcept {
  Bytes c = in.cli, s = in.srv;
  if (c.n < 4) return kNo;
  const uint16_t op = be16_at(c, 0);
  if (op == 1 || op == 2) {
    if (!in.cli_whole()) return kNo;
    Reader r(c.from(2));
    std::string_view file, mode;
    if (!r.cstring(255, file) || file.empty() || !all_print(file)) return kNo;
    if (!r.cstring(16, mode) || !in_list(mode, {"netascii", "octet", "mail"})) return kNo;
    for (int i = 0; i < 16 && !r.at_end(); ++i) {
      std::string_view k, v;
      if (!r.cstring(64, k) || !r.cstring(64, v) || k.empty() || !all_print(k) || !all_print(v)) return kNo;
    }
    return r.at_end() ? kYes : kNo;
  }
  auto s_is = [&](uint16_t sop, uint16_t block) {
    return s.n >= 4 && be16_at(s, 0) == sop && be16_at(s, 2) == block;
  };
  if (op == 3 && be16_at(c, 2) == 1 && in.cli_wire <= 4 + 65464) {
    if (s.empty()) return kMaybe;
    return s_is(4, 1) && s.n == 4 ? kYes : kNo;
  }
  if (op == 4 && be16_at(c, 2) == 0 && c.n == 4) return s_is(3, 1) ? kYes : kNo;
  return kNo;
}


// ---- Checks of the other side's first message (ProtoInfo::verify) ---------------------------
// kViolation only when no valid first message of that side starts with these bytes; a peer's
// refusal or error message of the protocol passes. A UDP side is one whole datagram: too short
// is a violation there, where TCP waits for more.

namespace {
constexpr Check kNeed = Check::kNeedMore;
constexpr Check kOk = Check::kOk;
constexpr Check kBad = Check::kViolation;

Bytes side_of(const ProbeInput& in, bool server) { return server ? in.srv : in.cli; }
// Fewer than `n` bytes: wait (TCP) or judge the datagram too short (UDP).
Check short_side(const ProbeInput& in) { return in.udp() ? kBad : kNeed; }
}  // namespace

// RFC 6347 §4.1: a DTLS record (content type 20-25, version DTLS 1.0/1.2 or DTLS1_BAD_VER);
// RFC 9147 §4 unified header (001xxxxx); RFC 7983 §7: STUN (0-3), TURN channels (64-79) and
// RTP/RTCP (128-191) share a WebRTC flow and pass.
Check verify_dtls(const ProbeInput& in, bool server, AppProto) noexcept {
  const Bytes b = side_of(in, server);
  if (b.empty()) return kBad;
  const uint8_t t = b[0];
  if (t <= 3 || (t >= 32 && t <= 79) || (t >= 128 && t <= 191)) return kOk;
  if (t < 20 || t > 25 || b.n < 3) return kBad;
  const uint16_t v = be16_at(b, 1);
  return v == 0xfeff || v == 0xfefd || v == 0x0100 ? kOk : kBad;
}

// RFC 1006 §6: every RDP message before TLS is a TPKT: version 3, reserved 0, length >= 7
// (X.224 CR/CC/DR follow; MS-RDPBCGR 2.2.1.1/2.2.1.2).
Check verify_rdp(const ProbeInput& in, bool server, AppProto) noexcept {
  const Bytes b = side_of(in, server);
  if (!b.empty() && b[0] != 3) return kBad;
  if (b.n >= 2 && b[1] != 0) return kBad;
  if (b.n < 4) return kNeed;
  return be16_at(b, 2) >= 7 ? kOk : kBad;
}

// RFC 1002 §4.3.1: a session service packet (MESSAGE 0x00, REQUEST 0x81, POSITIVE 0x82,
// NEGATIVE 0x83, RETARGET 0x84, KEEP ALIVE 0x85; flags 0/1); a message carries an SMB1, SMB2,
// transform or compression header (MS-SMB2 2.1).
Check verify_smb(const ProbeInput& in, bool server, AppProto) noexcept {
  const Bytes b = side_of(in, server);
  if (b.empty()) return kNeed;
  const uint8_t t = b[0];
  if (t != 0x00 && !(t >= 0x81 && t <= 0x85)) return kBad;
  if (b.n >= 2 && (b[1] & 0xfe) != 0) return kBad;
  if (t != 0x00) return b.n >= 4 ? kOk : kNeed;
  if (b.n < 5) return kNeed;
  if (b[4] < 0xfc) return kBad;
  const uint32_t n = b.n < 8 ? b.n : 8;
  for (uint32_t i = 5; i < n; ++i) {
    if (b[i] != static_cast<uint8_t>("SMB"[i - 5])) return kBad;
  }
  return n == 8 ? kOk : kNeed;
}

// RFC 5531 §9: xid, msg_type CALL (0) or REPLY (1) (NFSv4.1 servers also call back on the
// client's connection); TCP has the record mark first (§11), a fragment of at least 8 bytes.
Check verify_rpc(const ProbeInput& in, bool server, AppProto) noexcept {
  Bytes b = side_of(in, server);
  if (in.tcp()) {
    if (b.n < 4) return kNeed;
    const uint32_t frag = be32_at(b, 0) & 0x7fffffffu;
    if (frag < 8 || frag > (1u << 24)) return kBad;
    b = b.from(4);
  }
  if (b.n < 8) return short_side(in);
  return be32_at(b, 4) <= 1 ? kOk : kBad;
}

// MySQL client/server protocol: a packet is a 3-byte length and a sequence id; the server's
// greeting is sequence 0, the client's answer (HandshakeResponse or SSLRequest) sequence 1.
Check verify_mysql(const ProbeInput& in, bool server, AppProto) noexcept {
  const Bytes b = side_of(in, server);
  if (b.n < 4) return kNeed;
  const uint32_t len = b[0] | uint32_t{b[1]} << 8 | uint32_t{b[2]} << 16;
  if (len == 0 || b[3] != (server ? 0 : 1)) return kBad;
  if (server) return b.n < 5 ? kNeed : (b[4] == 10 || b[4] == 0xff ? kOk : kBad);
  return len >= 4 ? kOk : kBad;
}

// PostgreSQL §55.2: the server answers SSLRequest with 'S' or 'N', GSSENCRequest with 'G' or
// 'N', a StartupMessage with Authentication 'R', NegotiateProtocolVersion 'v', a notice 'N'
// or ErrorResponse 'E' (also what servers too old for the requests send). The client opens
// with a length and a request code.
Check verify_postgresql(const ProbeInput& in, bool server, AppProto) noexcept {
  if (!server) {
    const Bytes b = in.cli;
    if (b.n < 8) return kNeed;
    const uint32_t len = be32_at(b, 0), code = be32_at(b, 4);
    const bool known = code == 80877102 || code == 80877103 || code == 80877104 ||
                       (code >> 16) == 3 || (code >> 16) == 2;
    return known && len >= 8 && len <= 10000 ? kOk : kBad;
  }
  const Bytes b = in.srv;
  if (b.empty()) return kNeed;
  const char t = static_cast<char>(b[0]);
  const uint32_t code = in.cli.n >= 8 ? be32_at(in.cli, 4) : 0;
  if (code == 80877102) return kOk;  // CancelRequest: the server answers nothing
  if (code == 80877103) return t == 'S' || t == 'N' || t == 'E' ? kOk : kBad;
  if (code == 80877104) return t == 'G' || t == 'N' || t == 'E' ? kOk : kBad;
  return t == 'R' || t == 'E' || t == 'v' || t == 'N' || t == 'S' || t == 'G' ? kOk : kBad;
}

// MS-TDS 2.2.3.1: a server answers with a tabular-result packet (type 0x04); SSPI (0x11, as
// some implementations send the NTLM challenge) and PRELOGIN (0x12, carrying TLS) pass too. A
// client sends SQL batch, pre-TDS7 login, RPC, attention, bulk load, federated auth, LOGIN7,
// SSPI or PRELOGIN packets.
Check verify_tds(const ProbeInput& in, bool server, AppProto) noexcept {
  const Bytes b = side_of(in, server);
  if (b.empty()) return kNeed;
  const uint8_t t = b[0];
  if (server) return t == 0x04 || t == 0x11 || t == 0x12 ? kOk : kBad;
  return t == 0x01 || t == 0x02 || t == 0x03 || t == 0x06 || t == 0x07 || t == 0x08 ||
                 t == 0x0e || t == 0x10 || t == 0x11 || t == 0x12
             ? kOk
             : kBad;
}

// MongoDB wire protocol: MsgHeader (messageLength, requestID, responseTo, opCode, LE int32);
// a server answers with OP_REPLY (1), OP_MSG (2013) or OP_COMPRESSED (2012); clients send
// OP_MSG, OP_COMPRESSED or the legacy opcodes 2001-2007.
Check verify_mongodb(const ProbeInput& in, bool server, AppProto) noexcept {
  const Bytes b = side_of(in, server);
  if (b.n < 4) return kNeed;
  const uint32_t len = le32_at(b, 0);
  if (len < 16 || len > 48u * 1024 * 1024) return kBad;
  if (b.n < 16) return kNeed;
  const uint32_t op = le32_at(b, 12);
  if (op == 2013 || op == 2012) return kOk;
  if (server) return op == 1 ? kOk : kBad;
  return op >= 2001 && op <= 2007 ? kOk : kBad;
}

// RFC 4511 §4.1.1: LDAPMessage ::= SEQUENCE { messageID INTEGER, protocolOp [APPLICATION n] }
// with an operation of that side (servers: results, search entries and references,
// extended and intermediate responses, the unsolicited notice of disconnection).
Check verify_ldap(const ProbeInput& in, bool server, AppProto) noexcept {
  const Bytes b = side_of(in, server);
  if (b.empty()) return kNeed;
  if (b[0] != 0x30) return kBad;
  Reader r(b);
  Tlv seq, op;
  uint32_t id = 0;
  const bool ok = ber_header(r, seq) && ber_int(r, id) && ber_header(r, op);
  if (!ok) return b.n < 24 && !in.udp() ? kNeed : kBad;
  if ((op.tag & 0xc0) != 0x40) return kBad;
  static constexpr uint32_t kServerOps = 1u << 1 | 1u << 4 | 1u << 5 | 1u << 7 | 1u << 9 | 1u << 11 |
                                         1u << 13 | 1u << 15 | 1u << 19 | 1u << 24 | 1u << 25;
  static constexpr uint32_t kClientOps = 1u << 0 | 1u << 2 | 1u << 3 | 1u << 6 | 1u << 8 | 1u << 10 |
                                         1u << 12 | 1u << 14 | 1u << 16 | 1u << 23;
  return ((server ? kServerOps : kClientOps) >> (op.tag & 0x1f)) & 1 ? kOk : kBad;
}

// RFC 4120 §5: a KDC answers with AS-REP, TGS-REP or KRB-ERROR ([APPLICATION 11/13/30], pvno
// 5, msg-type equal to the tag), over TCP after a 4-byte length (§7.2.2); a client sends
// requests (any message number krb_side knows).
Check verify_kerberos(const ProbeInput& in, bool server, AppProto) noexcept {
  const Bytes b = side_of(in, server);
  if (in.tcp() && b.n < 36) return kNeed;
  if (krb_side(b, in.tcp()) != kYes) return kBad;
  if (!server) return kOk;
  const uint8_t tag = b[in.tcp() ? 4 : 0] & 0x1f;
  return tag == 11 || tag == 13 || tag == 30 ? kOk : kBad;
}

// RFC 3416 / RFC 3412: Message ::= SEQUENCE { version INTEGER (0 | 1 | 3), ... }.
Check verify_snmp(const ProbeInput& in, bool server, AppProto) noexcept {
  const Bytes b = side_of(in, server);
  if (b.empty()) return kNeed;
  if (b[0] != 0x30) return kBad;
  Reader r(b);
  Tlv seq;
  uint32_t version = 0;
  if (!ber_header(r, seq) || !ber_int(r, version)) return b.n < 12 && in.tcp() ? kNeed : kBad;
  return version == 0 || version == 1 || version == 3 ? kOk : kBad;
}

// RFC 2131 §2: BOOTREQUEST (1) or BOOTREPLY (2), a hardware type and an address length <= 16,
// the 236-byte fixed part.
Check verify_dhcp(const ProbeInput& in, bool server, AppProto) noexcept {
  const Bytes b = side_of(in, server);
  if (b.n < 236) return kBad;
  return (b[0] == 1 || b[0] == 2) && b[1] != 0 && b[2] <= 16 ? kOk : kBad;
}

// RFC 8415 §7.3 and the IANA message-type registry (1-36): type, then a transaction id or the
// relay header.
Check verify_dhcpv6(const ProbeInput& in, bool server, AppProto) noexcept {
  const Bytes b = side_of(in, server);
  if (b.n < 4) return kBad;
  return b[0] >= 1 && b[0] <= 36 ? kOk : kBad;
}

// RFC 5905 §7.3: at least the 48-byte header, version 1-4, mode symmetric (1, 2), client (3;
// two servers polling each other share a flow) or server (4).
Check verify_ntp(const ProbeInput& in, bool server, AppProto) noexcept {
  const Bytes b = side_of(in, server);
  const uint32_t wire = server ? in.srv_wire : in.cli_wire;
  if (b.empty() || wire < 48) return kBad;
  const uint8_t vn = (b[0] >> 3) & 7, mode = b[0] & 7;
  return vn >= 1 && vn <= 4 && mode >= 1 && mode <= 4 ? kOk : kBad;
}

// RFC 8489 §5: STUN's first two bits are 0; RFC 7983 §7: on the same flow come DTLS (20-63),
// TURN ChannelData (64-79) and RTP/RTCP (128-191).
Check verify_stun(const ProbeInput& in, bool server, AppProto) noexcept {
  const Bytes b = side_of(in, server);
  if (b.empty()) return kNeed;
  const uint8_t t = b[0];
  return t <= 3 || (t >= 20 && t <= 79) || (t >= 128 && t <= 191) ? kOk : kBad;
}

// OpenVPN: opcode (high 5 bits) 1-11 (P_CONTROL_HARD_RESET_CLIENT_V1 .. P_CONTROL_WKC_V1);
// TCP has a 2-byte packet length first.
Check verify_openvpn(const ProbeInput& in, bool server, AppProto) noexcept {
  Bytes b = side_of(in, server);
  if (in.tcp()) {
    if (b.n < 3) return kNeed;
    const uint16_t len = be16_at(b, 0);
    if (len < 1 || len > 2048) return kBad;
    b = b.from(2);
  }
  if (b.empty()) return kBad;
  const uint8_t op = b[0] >> 3;
  return op >= 1 && op <= 11 ? kOk : kBad;
}

// WireGuard §5.4: type 1-4 and three reserved zero bytes.
Check verify_wireguard(const ProbeInput& in, bool server, AppProto) noexcept {
  const Bytes b = side_of(in, server);
  if (b.n < 4) return kBad;
  return b[0] >= 1 && b[0] <= 4 && b[1] == 0 && b[2] == 0 && b[3] == 0 ? kOk : kBad;
}

// Modbus/TCP §3.1.3: MBAP with protocol identifier 0 and a length of 2-254.
Check verify_modbus(const ProbeInput& in, bool server, AppProto) noexcept {
  const Bytes b = side_of(in, server);
  if (b.n >= 3 && b[2] != 0) return kBad;
  if (b.n >= 4 && b[3] != 0) return kBad;
  if (b.n < 6) return kNeed;
  const uint16_t len = be16_at(b, 4);
  return len >= 2 && len <= 254 ? kOk : kBad;
}

// IEEE 1815 §9.2: every link frame opens with 0x05 0x64.
Check verify_dnp3(const ProbeInput& in, bool server, AppProto) noexcept {
  const Bytes b = side_of(in, server);
  if (!b.empty() && b[0] != 0x05) return kBad;
  if (b.n >= 2 && b[1] != 0x64) return kBad;
  return b.n >= 2 ? kOk : short_side(in);
}

// RFC 4271 §4.1: every message opens with the 16-byte all-ones marker.
Check verify_bgp(const ProbeInput& in, bool server, AppProto) noexcept {
  const Bytes b = side_of(in, server);
  const uint32_t n = b.n < 16 ? b.n : 16;
  for (uint32_t i = 0; i < n; ++i) {
    if (b[i] != 0xff) return kBad;
  }
  return n == 16 ? kOk : kNeed;
}

// AMQP 0-9-1 §4.2.2 / 1.0 §2.2: the server answers with its own protocol header (a version
// it prefers, or AMQP 1.0's) or, in 0-9-1, a method frame on channel 0 (Connection.Start).
Check verify_amqp(const ProbeInput& in, bool server, AppProto) noexcept {
  const Bytes b = side_of(in, server);
  const std::string_view s = b.str();
  if (compatible(s, "AMQP")) return s.size() >= 4 ? kOk : kNeed;
  if (!server) return kBad;
  if (b[0] != 0x01 || (b.n >= 2 && b[1] != 0) || (b.n >= 3 && b[2] != 0)) return kBad;
  return b.n >= 3 ? kOk : kNeed;
}

// MQTT 3.1.1 §3.2 / 5.0 §3.2: the server's first packet is CONNACK (0x20), or in 5.0 an AUTH
// (0xF0) of an enhanced authentication; the client's is CONNECT (0x10).
Check verify_mqtt(const ProbeInput& in, bool server, AppProto) noexcept {
  const Bytes b = side_of(in, server);
  if (b.empty()) return kNeed;
  if (server) return b[0] == 0x20 || b[0] == 0xf0 ? kOk : kBad;
  return b[0] == 0x10 ? kOk : kBad;
}

// BEP 3: each peer's first message is the 20-byte "\x13BitTorrent protocol" handshake.
Check verify_bittorrent(const ProbeInput& in, bool server, AppProto) noexcept {
  constexpr std::string_view kHandshake{"\x13" "BitTorrent protocol", 20};
  const Bytes b = side_of(in, server);
  if (!compatible(b.str(), kHandshake)) return kBad;
  return b.n >= 20 ? kOk : kNeed;
}

// RFC 1350 §5 / RFC 2347: opcodes 1-6 (RRQ, WRQ, DATA, ACK, ERROR, OACK).
Check verify_tftp(const ProbeInput& in, bool server, AppProto) noexcept {
  const Bytes b = side_of(in, server);
  if (b.n < 4) return kBad;
  const uint16_t op = be16_at(b, 0);
  return op >= 1 && op <= 6 ? kOk : kBad;
}

// RFC 9113 §3.4: the server's preface is a SETTINGS frame (type 4) on stream 0; the client's
// is the 24-byte "PRI * HTTP/2.0..." preface.
Check verify_http2(const ProbeInput& in, bool server, AppProto) noexcept {
  const Bytes b = side_of(in, server);
  if (!server) {
    constexpr std::string_view kPreface{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"};
    if (!compatible(b.str(), kPreface)) return kBad;
    return b.n >= kPreface.size() ? kOk : kNeed;
  }
  if (b.n >= 4 && b[3] != 0x04) return kBad;
  if (b.n < 9) return kNeed;
  return (be32_at(b, 5) & 0x7fffffffu) == 0 ? kOk : kBad;
}

}  // namespace flowscribe::dissect::probes
