#include "dissectors/dns/dns.h"

#include <cstring>

#include "common/app_proto.h"

namespace flowscribe::dissect {
namespace {

// ---- limits (docs/protocols.md, "DNS") ----
constexpr uint32_t kMaxPending = 8;     // queries awaiting their response, per flow
constexpr uint32_t kMaxAnswers = 32;    // answers written per record (continuation slots
                                        //   hold what one record slot cannot)
constexpr uint32_t kTcpBuf = 1024;      // bytes kept of each TCP message, per direction
constexpr uint32_t kTxtCap = 128;       // bytes of TXT/SPF text per answer
constexpr uint32_t kMaxJumps = 32;      // compression pointers followed per name
constexpr uint32_t kAnswerText = 560;   // one answer's text: SOA is 2 names + a number
constexpr uint32_t kMaxAdditional = 8;  // additional-section addresses (glue) written per record
constexpr uint32_t kAdditionalText = 320;  // "<owner> AAAA <ttl> <address>": 255 + 6 + 10 + 1 + 39
constexpr uint32_t kMaxUpdates = 4;     // update-section records (dynamic UPDATE) written per record
constexpr uint32_t kUpdateText = 320;   // "<op> <owner> <TYPE> <TTL> <RDATA>", RDATA cut to fit
constexpr uint32_t kExtReserve = 96;    // ext bytes left for the worker's app@ fields
constexpr Nanos kQueryTimeoutNs = 15 * kNsPerSec;  // a pending query older than this is
                                                   //   written as no-response

// Anomalies (bits), named in the record's `anomaly` field in this order.
enum : uint16_t {
  kAnLoop = 1u << 0,
  kAnForward = 1u << 1,
  kAnOob = 1u << 2,
  kAnChain = 1u << 3,
  kAnNameLong = 1u << 4,
  kAnLabelLong = 1u << 5,
  kAnRrOverrun = 1u << 6,
  kAnTrailing = 1u << 7,
  kAnBadRdata = 1u << 8,
};
constexpr std::string_view kAnomalyNames[] = {
    "compression-loop", "pointer-forward", "pointer-out-of-bounds", "pointer-chain",
    "name-too-long",    "label-too-long",  "rr-overrun",            "trailing-bytes",
    "bad-rdata"};

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

// ---- names (RFC 1035 section 3.1, 4.1.4) ----

struct Name {
  char text[256];  // labels joined by '.', raw bytes, no trailing dot; "." for the root
  uint16_t len = 0;
  std::string_view view() const { return {text, len}; }
};

enum class NameResult : uint8_t { kOk, kCut, kBad };

// Reads the name at `pos` of a message of which `n` bytes are here out of `wire`; moves `pos`
// past it. Pointers must go backward and before the labels already read (so a name always
// ends); anything else is an anomaly and the name is bad. kCut: the bytes stop inside it.
NameResult read_name(const uint8_t* m, uint32_t n, uint32_t wire, uint32_t& pos, Name* out,
                     uint16_t& anomalies) {
  uint32_t p = pos;
  uint32_t seg = pos;      // start of the run of labels being read
  uint32_t octets = 1;     // uncompressed length so far, the root's zero included
  uint32_t jumps = 0;
  bool jumped = false;
  uint16_t tl = 0;
  for (;;) {
    if (p >= n) return NameResult::kCut;
    const uint8_t l = m[p];
    if (l == 0) {
      if (!jumped) pos = p + 1;
      break;
    }
    if ((l & 0xc0) == 0xc0) {
      if (p + 1 >= n) return NameResult::kCut;
      const uint32_t target = (l & 0x3fu) << 8 | m[p + 1];
      if (!jumped) pos = p + 2;
      if (target >= wire) {
        anomalies |= kAnOob;
        return NameResult::kBad;
      }
      if (target > p) {
        anomalies |= kAnForward;
        return NameResult::kBad;
      }
      if (target >= seg) {  // into the labels just read, or to itself
        anomalies |= kAnLoop;
        return NameResult::kBad;
      }
      if (++jumps > kMaxJumps) {
        anomalies |= kAnChain;
        return NameResult::kBad;
      }
      jumped = true;
      p = seg = target;
      continue;
    }
    if (l & 0xc0) {  // types 01 and 10: a length over 63 (RFC 6891 section 5 retired 01)
      anomalies |= kAnLabelLong;
      return NameResult::kBad;
    }
    if (p + 1 + l > n) return NameResult::kCut;
    octets += l + 1u;
    if (octets > 255) {
      anomalies |= kAnNameLong;
      return NameResult::kBad;
    }
    if (out != nullptr) {
      if (tl != 0) out->text[tl++] = '.';
      std::memcpy(out->text + tl, m + p + 1, l);
      tl = static_cast<uint16_t>(tl + l);
    }
    p += 1u + l;
  }
  if (out != nullptr) {
    if (tl == 0) out->text[tl++] = '.';
    out->len = tl;
  }
  return NameResult::kOk;
}

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

// ---- text (made here because an answer's text depends on its type; bounded, no allocation) ----

struct Text {
  char* p;
  char* end;
  void put(std::string_view s) {
    const size_t k = s.size() < static_cast<size_t>(end - p) ? s.size() : static_cast<size_t>(end - p);
    std::memcpy(p, s.data(), k);
    p += k;
  }
  void ch(char c) {
    if (p < end) *p++ = c;
  }
  void num(uint32_t v) {
    char tmp[10];
    int k = 0;
    do {
      tmp[k++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (k > 0) ch(tmp[--k]);
  }
  void hex16(uint16_t v) {
    static constexpr char kHex[] = "0123456789abcdef";
    bool any = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
      const unsigned d = (v >> shift) & 0xf;
      if (d != 0 || any || shift == 0) {
        ch(kHex[d]);
        any = true;
      }
    }
  }
  void ipv4(const uint8_t* a) {
    for (int i = 0; i < 4; ++i) {
      if (i) ch('.');
      num(a[i]);
    }
  }
  // RFC 5952 section 4: lowercase, no leading zeros, the longest run (first of equals) of two
  // or more zero groups as "::".
  void ipv6(const uint8_t* a) {
    uint16_t g[8];
    for (int i = 0; i < 8; ++i) g[i] = be16(a + 2 * i);
    int best = -1, best_len = 0;
    for (int i = 0; i < 8;) {
      if (g[i] != 0) {
        ++i;
        continue;
      }
      int j = i;
      while (j < 8 && g[j] == 0) ++j;
      if (j - i > best_len && j - i >= 2) {
        best = i;
        best_len = j - i;
      }
      i = j;
    }
    for (int i = 0; i < 8; ++i) {
      if (i == best) {
        put("::");
        i += best_len - 1;
        continue;
      }
      if (i != 0 && i != best + best_len) ch(':');
      hex16(g[i]);
    }
  }
};

const char* type_name(uint16_t t) {
  switch (t) {
    case 1: return "A";
    case 2: return "NS";
    case 3: return "MD";
    case 4: return "MF";
    case 5: return "CNAME";
    case 6: return "SOA";
    case 7: return "MB";
    case 8: return "MG";
    case 9: return "MR";
    case 10: return "NULL";
    case 11: return "WKS";
    case 12: return "PTR";
    case 13: return "HINFO";
    case 14: return "MINFO";
    case 15: return "MX";
    case 16: return "TXT";
    case 17: return "RP";
    case 18: return "AFSDB";
    case 19: return "X25";
    case 20: return "ISDN";
    case 21: return "RT";
    case 22: return "NSAP";
    case 23: return "NSAP-PTR";
    case 24: return "SIG";
    case 25: return "KEY";
    case 26: return "PX";
    case 27: return "GPOS";
    case 28: return "AAAA";
    case 29: return "LOC";
    case 30: return "NXT";
    case 31: return "EID";
    case 32: return "NIMLOC";
    case 33: return "SRV";
    case 34: return "ATMA";
    case 35: return "NAPTR";
    case 36: return "KX";
    case 37: return "CERT";
    case 38: return "A6";
    case 39: return "DNAME";
    case 40: return "SINK";
    case 41: return "OPT";
    case 42: return "APL";
    case 43: return "DS";
    case 44: return "SSHFP";
    case 45: return "IPSECKEY";
    case 46: return "RRSIG";
    case 47: return "NSEC";
    case 48: return "DNSKEY";
    case 49: return "DHCID";
    case 50: return "NSEC3";
    case 51: return "NSEC3PARAM";
    case 52: return "TLSA";
    case 53: return "SMIMEA";
    case 55: return "HIP";
    case 56: return "NINFO";
    case 57: return "RKEY";
    case 58: return "TALINK";
    case 59: return "CDS";
    case 60: return "CDNSKEY";
    case 61: return "OPENPGPKEY";
    case 62: return "CSYNC";
    case 63: return "ZONEMD";
    case 64: return "SVCB";
    case 65: return "HTTPS";
    case 99: return "SPF";
    case 100: return "UINFO";
    case 101: return "UID";
    case 102: return "GID";
    case 103: return "UNSPEC";
    case 104: return "NID";
    case 105: return "L32";
    case 106: return "L64";
    case 107: return "LP";
    case 108: return "EUI48";
    case 109: return "EUI64";
    case 249: return "TKEY";
    case 250: return "TSIG";
    case 251: return "IXFR";
    case 252: return "AXFR";
    case 253: return "MAILB";
    case 254: return "MAILA";
    case 255: return "ANY";
    case 256: return "URI";
    case 257: return "CAA";
    case 258: return "AVC";
    case 259: return "DOA";
    case 260: return "AMTRELAY";
    case 32768: return "TA";
    case 32769: return "DLV";
    default: return nullptr;
  }
}

const char* class_name(uint16_t c) {
  switch (c) {
    case 1: return "IN";
    case 3: return "CH";
    case 4: return "HS";
    case 254: return "NONE";
    case 255: return "ANY";
    default: return nullptr;
  }
}

const char* rcode_name(uint16_t r) {
  switch (r) {
    case 0: return "NOERROR";
    case 1: return "FORMERR";
    case 2: return "SERVFAIL";
    case 3: return "NXDOMAIN";
    case 4: return "NOTIMP";
    case 5: return "REFUSED";
    case 6: return "YXDOMAIN";
    case 7: return "YXRRSET";
    case 8: return "NXRRSET";
    case 9: return "NOTAUTH";
    case 10: return "NOTZONE";
    case 11: return "DSOTYPENI";
    case 16: return "BADVERS";
    case 17: return "BADKEY";
    case 18: return "BADTIME";
    case 19: return "BADMODE";
    case 20: return "BADNAME";
    case 21: return "BADALG";
    case 22: return "BADTRUNC";
    case 23: return "BADCOOKIE";
    default: return nullptr;
  }
}

const char* opcode_name(uint16_t o) {
  switch (o) {
    case 0: return "QUERY";
    case 1: return "IQUERY";
    case 2: return "STATUS";
    case 4: return "NOTIFY";
    case 5: return "UPDATE";
    case 6: return "DSO";
    default: return nullptr;
  }
}

// "NAME" or PREFIX + number (RFC 3597 section 5 style: TYPE65534, CLASS7).
void name_or_num(Text& t, const char* name, std::string_view prefix, uint32_t v) {
  if (name != nullptr) {
    t.put(name);
  } else {
    t.put(prefix);
    t.num(v);
  }
}

// ---- messages (RFC 1035 section 4.1) ----

struct Answer {
  uint16_t len;
  char text[kAnswerText];
};

struct Msg {
  uint16_t id = 0, flags = 0, qd = 0, an = 0, ns = 0, ar = 0;
  bool has_question = false;   // the first question was read whole
  bool owner_as_query = false; // no question: `qname` is the first answer's owner (mDNS)
  Name qname;
  uint16_t qtype = 0, qclass = 0;
  bool cut = false;            // the bytes stop before the message does
  uint16_t anomalies = 0;
  uint8_t ext_rcode = 0;       // OPT TTL bits 24-31 (RFC 6891 section 6.1.3)
  uint16_t nanswers = 0;
  uint16_t answers_cut = 0;    // answers in the answer section not rendered (over kMaxAnswers)
  uint16_t txt_cut = 0;
  Answer answers[kMaxAnswers];
  // Additional-section A/AAAA records (glue of a referral, an SRV target's address), as
  // "<owner> <TYPE> <TTL> <address>".
  uint16_t nadditional = 0;
  uint16_t additional_cut = 0;
  struct {
    uint16_t len;
    char text[kAdditionalText];
  } additional[kMaxAdditional];
  // A dynamic UPDATE request's update section (RFC 2136 section 2.5), as
  // "<op> <owner> <TYPE> <TTL>[ <RDATA>]", op add, delete, delete_rrset or delete_name.
  uint16_t nupdates = 0;
  uint16_t updates_cut = 0;
  struct Update {
    uint16_t len;
    char text[kUpdateText];
  } updates[kMaxUpdates];

  bool qr() const { return flags & 0x8000; }
  uint16_t opcode() const { return (flags >> 11) & 0xf; }
  uint16_t rcode() const { return static_cast<uint16_t>(ext_rcode << 4 | (flags & 0xf)); }
};

enum class Parsed : uint8_t { kDns, kNoHeader, kNotDns };

// Renders one answer's RDATA (rd[0, rdlen) at offset `off` in the message, all of it here).
void render_rdata(Text& t, const uint8_t* m, uint32_t wire, uint32_t off, uint16_t type,
                  uint16_t rdlen, Msg& msg) {
  Name nm;
  uint16_t an = 0;
  auto name_at = [&](uint32_t& pos, uint32_t limit) -> bool {
    // A name inside RDATA: the pointers may go anywhere before it, its labels must stay in it.
    if (read_name(m, limit, wire, pos, &nm, an) != NameResult::kOk) return false;
    t.put(nm.view());
    return true;
  };
  const uint32_t end = off + rdlen;
  uint32_t pos = off;
  bool ok = true;
  switch (type) {
    case 1:
      if (rdlen == 4) t.ipv4(m + off); else ok = false;
      break;
    case 28:
      if (rdlen == 16) t.ipv6(m + off); else ok = false;
      break;
    case 2: case 3: case 4: case 5: case 7: case 8: case 9: case 12: case 39:
      ok = name_at(pos, end) && pos == end;
      break;
    case 15:  // MX: preference, exchange
    case 18:  // AFSDB: subtype, hostname
    case 21:  // RT
    case 36:  // KX
      if (rdlen < 3) { ok = false; break; }
      t.num(be16(m + off));
      t.ch(' ');
      pos += 2;
      ok = name_at(pos, end) && pos == end;
      break;
    case 6: {  // SOA: mname rname serial
      ok = name_at(pos, end);
      t.ch(' ');
      ok = ok && name_at(pos, end) && end - pos == 20;
      if (ok) {
        t.ch(' ');
        t.num(be32(m + pos));
      }
      break;
    }
    case 33:  // SRV: priority weight port target (RFC 2782)
      if (rdlen < 7) { ok = false; break; }
      t.num(be16(m + off));
      t.ch(' ');
      t.num(be16(m + off + 2));
      t.ch(' ');
      t.num(be16(m + off + 4));
      t.ch(' ');
      pos += 6;
      ok = name_at(pos, end) && pos == end;
      break;
    case 64: case 65:  // SVCB/HTTPS: priority target (RFC 9460), parameters not rendered
      if (rdlen < 3) { ok = false; break; }
      t.num(be16(m + off));
      t.ch(' ');
      pos += 2;
      ok = name_at(pos, end);
      break;
    case 13:   // HINFO: cpu os (two character-strings)
    case 16:   // TXT
    case 99: { // SPF
      uint32_t written = 0;
      bool first = true;
      while (pos < end) {
        const uint8_t k = m[pos];
        if (pos + 1 + k > end) { ok = false; break; }
        if (!first) {
          if (written < kTxtCap) t.ch(' ');
          ++written;
        }
        first = false;
        const uint32_t room = written < kTxtCap ? kTxtCap - written : 0;
        t.put({reinterpret_cast<const char*>(m + pos + 1), k < room ? k : room});
        written += k;
        pos += 1u + k;
      }
      if (written > kTxtCap) {
        t.put("...");
        ++msg.txt_cut;
      }
      break;
    }
    case 257:  // CAA: flags tag value (RFC 8659)
      if (rdlen < 2 || 2u + m[off + 1] > rdlen) { ok = false; break; }
      t.num(m[off]);
      t.ch(' ');
      t.put({reinterpret_cast<const char*>(m + off + 2), m[off + 1]});
      t.ch(' ');
      {
        const uint32_t vlen = rdlen - 2u - m[off + 1];
        t.put({reinterpret_cast<const char*>(m + off + 2 + m[off + 1]), vlen < kTxtCap ? vlen : kTxtCap});
      }
      break;
    default:
      break;  // type and TTL only
  }
  // A name that broke a rule is flagged for that rule; other misfits as bad RDATA.
  if (!ok && an == 0) msg.anomalies |= kAnBadRdata;
  msg.anomalies |= an;
}

// Parses a message of which `n` bytes are here out of `wire` (n < wire: cut by the capture,
// the classifier prefix or the TCP buffer). `mdns`: the top bit of a class is a flag
// (RFC 6762 section 5.4, 10.2). Work is bounded by the bytes: every question or RR read
// consumes at least 5 bytes, and a name at most kMaxJumps pointer hops.
Parsed parse_msg(const uint8_t* m, uint32_t n, uint32_t wire, bool mdns, Msg& msg) {
  if (wire < 12) return Parsed::kNotDns;
  if (n < 12) return Parsed::kNoHeader;
  msg.id = be16(m);
  msg.flags = be16(m + 2);
  msg.qd = be16(m + 4);
  msg.an = be16(m + 6);
  msg.ns = be16(m + 8);
  msg.ar = be16(m + 10);
  const uint16_t opcode = msg.opcode();
  // Opcode 3 and 7-15 are unassigned (IANA DNS parameters); a query always asks something
  // (DSO, opcode 6, may not: RFC 8490 section 5.4).
  if (opcode == 3 || opcode > 6) return Parsed::kNotDns;
  if (!msg.qr() && opcode != 6 && msg.qd == 0 && msg.an == 0 && msg.ns == 0 && msg.ar == 0) {
    return Parsed::kNotDns;
  }
  msg.cut = n < wire;
  const uint16_t class_mask = mdns ? 0x7fff : 0xffff;
  uint32_t pos = 12;
  // A cut: the bytes end (n < wire), or a complete message's counts overrun it.
  auto stop = [&]() {
    if (!msg.cut) msg.anomalies |= kAnRrOverrun;
  };
  for (uint32_t i = 0; i < msg.qd; ++i) {
    const NameResult r = read_name(m, n, wire, pos, i == 0 ? &msg.qname : nullptr, msg.anomalies);
    if (r == NameResult::kBad) return Parsed::kDns;
    if (r == NameResult::kCut || n - pos < 4) {
      stop();
      return Parsed::kDns;
    }
    if (i == 0) {
      msg.has_question = true;
      msg.qtype = be16(m + pos);
      msg.qclass = be16(m + pos + 2) & class_mask;
    }
    pos += 4;
  }
  const uint32_t rrs = uint32_t{msg.an} + msg.ns + msg.ar;
  // An UPDATE request's sections are zone, prerequisites, updates, additional data: its
  // "authority" section is the updates.
  // Its "answer" section is prerequisites (often with no RDATA: "name is in use"): counted
  // in ancount, not listed as answers.
  const bool update_request = opcode == 5 && !msg.qr();
  for (uint32_t i = 0; i < rrs; ++i) {
    const bool answer = i < msg.an && opcode != 5;
    const bool additional = i >= uint32_t{msg.an} + msg.ns;
    const bool update = update_request && i >= msg.an && !additional;
    Name owner;
    const bool want_owner = (answer && i == 0 && msg.qd == 0) || additional || update;
    const NameResult r = read_name(m, n, wire, pos, want_owner ? &owner : nullptr, msg.anomalies);
    if (r == NameResult::kBad) return Parsed::kDns;
    if (r == NameResult::kCut || n - pos < 10) {
      stop();
      return Parsed::kDns;
    }
    const uint16_t type = be16(m + pos);
    const uint32_t ttl = be32(m + pos + 4);
    const uint16_t rdlen = be16(m + pos + 8);
    pos += 10;
    if (rdlen > n - pos) {
      stop();
      // The record's start is here: list the answer without its data.
      if (answer && msg.nanswers < kMaxAnswers && msg.cut) {
        Answer& a = msg.answers[msg.nanswers++];
        Text t{a.text, a.text + sizeof a.text};
        name_or_num(t, type_name(type), "TYPE", type);
        t.ch(' ');
        t.num(ttl);
        a.len = static_cast<uint16_t>(t.p - a.text);
      }
      return Parsed::kDns;
    }
    if (want_owner && answer) {
      msg.qname = owner;
      msg.owner_as_query = true;
    }
    if (update) {
      if (msg.nupdates < kMaxUpdates) {
        // RFC 2136 section 2.5: the class says what is done (the zone's class adds; ANY
        // deletes an RRset, or every RRset of the name with type ANY; NONE deletes one RR).
        const uint16_t cls = be16(m + pos - 8);
        auto& u = msg.updates[msg.nupdates++];
        Text t{u.text, u.text + sizeof u.text};
        t.put(cls == 255 ? (type == 255 ? "delete_name " : "delete_rrset ")
                         : cls == 254 ? "delete " : "add ");
        t.put(owner.view());
        t.ch(' ');
        name_or_num(t, type_name(type), "TYPE", type);
        t.ch(' ');
        t.num(ttl);
        if (rdlen != 0) {
          t.ch(' ');
          render_rdata(t, m, wire, pos, type, rdlen, msg);
          if (t.p[-1] == ' ') --t.p;  // nothing rendered for this type
        }
        u.len = static_cast<uint16_t>(t.p - u.text);
      } else {
        ++msg.updates_cut;
      }
    }
    if (additional && ((type == 1 && rdlen == 4) || (type == 28 && rdlen == 16))) {
      if (msg.nadditional < kMaxAdditional) {
        auto& a = msg.additional[msg.nadditional++];
        Text t{a.text, a.text + sizeof a.text};
        t.put(owner.view());
        t.put(type == 1 ? " A " : " AAAA ");
        t.num(ttl);
        t.ch(' ');
        if (type == 1) t.ipv4(m + pos); else t.ipv6(m + pos);
        a.len = static_cast<uint16_t>(t.p - a.text);
      } else {
        ++msg.additional_cut;
      }
    }
    if (answer) {
      if (msg.nanswers < kMaxAnswers) {
        Answer& a = msg.answers[msg.nanswers++];
        Text t{a.text, a.text + sizeof a.text};
        name_or_num(t, type_name(type), "TYPE", type);
        t.ch(' ');
        t.num(ttl);
        char* const before_data = t.p;
        t.ch(' ');
        render_rdata(t, m, wire, pos, type, rdlen, msg);
        if (t.p == before_data + 1) t.p = before_data;  // nothing rendered: no trailing space
        a.len = static_cast<uint16_t>(t.p - a.text);
      } else {
        ++msg.answers_cut;
      }
    } else if (type == 41 && i >= uint32_t{msg.an} + msg.ns) {
      msg.ext_rcode = static_cast<uint8_t>(ttl >> 24);
    }
    pos += rdlen;
  }
  if (!msg.cut && pos < n) msg.anomalies |= kAnTrailing;
  return Parsed::kDns;
}

// ---- per-flow state ----

struct Pending {
  Nanos ts;
  uint16_t txid, qtype, qclass, flags, qd, anomalies;
  uint8_t retrans;
  uint8_t name_len;  // 0: no question name was read
  bool cut;
  char name[255];
  std::string_view name_view() const { return {name, name_len}; }
};

struct TcpDir {
  uint32_t need;       // length of the message being read; 0 while reading the prefix
  uint32_t got;        // bytes of it consumed
  uint16_t buffered;   // bytes of it in buf
  uint8_t prefix[2];
  uint8_t prefix_have;
  bool frozen;         // a gap inside the message: nothing more is buffered
  bool dead;           // a gap left no boundary: this direction is ignored
  uint8_t buf[kTcpBuf];
};

enum class Kind : uint8_t { kDns, kMdns, kLlmnr };

struct State {
  uint8_t transport;
  Kind kind;
  bool multicast;      // the server address is a multicast group (mDNS, LLMNR queries)
  uint8_t npend;
  Pending pend[kMaxPending];
  // The update section of the latest dynamic UPDATE request, until its transaction is
  // written (one at a time: a second UPDATE before the first's response replaces it, counted).
  struct {
    bool valid;
    uint8_t n;
    uint16_t txid;
    uint16_t cut;       // updates not kept (beyond kMaxUpdates)
    Msg::Update u[kMaxUpdates];
  } upd;
  TcpDir tcp[2];       // [0] client to server
};

enum class Status : uint8_t { kAnswered, kNoResponse, kUnsolicited, kMulticast };
constexpr std::string_view kStatusNames[] = {"answered", "no-response", "unsolicited", "multicast"};

bool is_multicast(const flow::Flow& f) {
  const uint8_t* a = f.key.addr[(f.client_side & 1) ^ 1];
  if (f.key.ip_version == 6) return a[0] == 0xff;
  return a[0] >= 224 && a[0] <= 239;
}

class DnsDissector final : public Dissector {
 public:
  std::string_view name() const noexcept override { return "dns"; }
  uint32_t state_bytes() const noexcept override { return sizeof(State); }
  // ~5.5 KiB a slot: 8192 flows with a query pending (or a TCP connection) cost ~45 MiB.
  uint32_t default_states() const noexcept override { return 8192; }

  void begin_flow(void* st, Ctx& c, uint8_t transport) noexcept override {
    State& s = *static_cast<State*>(st);
    s.transport = transport;
    s.kind = c.flow.app_proto == static_cast<uint16_t>(AppProto::kMdns)    ? Kind::kMdns
             : c.flow.app_proto == static_cast<uint16_t>(AppProto::kLlmnr) ? Kind::kLlmnr
                                                                           : Kind::kDns;
    s.multicast = transport != 6 && is_multicast(c.flow);
    s.npend = 0;
    s.upd.valid = false;
    for (TcpDir& d : s.tcp) {
      d.need = d.got = 0;
      d.buffered = 0;
      d.prefix_have = 0;
      d.frozen = d.dead = false;
    }
  }

  Progress data(void* st, Ctx& c, bool from_client, const uint8_t* p, uint32_t len,
                uint32_t wire_len) noexcept override {
    State& s = *static_cast<State*>(st);
    if (s.transport != 6) {
      if (!on_message(s, c, p, len, wire_len < len ? len : wire_len)) return Progress::kViolation;
      return s.npend == 0 ? Progress::kIdle : Progress::kMore;
    }
    // TCP: a 2-byte length, then the message (RFC 1035 section 4.2.2, RFC 7766 section 8).
    TcpDir& d = s.tcp[from_client ? 0 : 1];
    if (d.dead) return Progress::kMore;
    while (len > 0) {
      if (d.need == 0) {
        d.prefix[d.prefix_have++] = *p++;
        --len;
        if (d.prefix_have < 2) continue;
        d.prefix_have = 0;
        const uint32_t mlen = be16(d.prefix);
        if (mlen < 12) {
          if (s.kind == Kind::kDns) {
            counters_.dns_not_dns.inc();
            return Progress::kViolation;
          }
          d.dead = true;
          counters_.dns_tcp_desync.inc();
          return Progress::kMore;
        }
        d.need = mlen;
        d.got = 0;
        d.buffered = 0;
        d.frozen = false;
        continue;
      }
      const uint32_t take = len < d.need - d.got ? len : d.need - d.got;
      if (!d.frozen && d.buffered < kTcpBuf) {
        const uint32_t room = kTcpBuf - d.buffered;
        const uint32_t k = take < room ? take : room;
        std::memcpy(d.buf + d.buffered, p, k);
        d.buffered = static_cast<uint16_t>(d.buffered + k);
      }
      d.got += take;
      p += take;
      len -= take;
      if (d.got == d.need && !finish_tcp_message(s, c, d)) return Progress::kViolation;
    }
    return Progress::kMore;
  }

  Progress gap(void* st, Ctx& c, bool from_client, uint32_t len) noexcept override {
    State& s = *static_cast<State*>(st);
    if (s.transport != 6) return Progress::kMore;
    TcpDir& d = s.tcp[from_client ? 0 : 1];
    if (d.dead) return Progress::kMore;
    counters_.dns_tcp_gap.inc();
    if (d.need != 0 && len != 0 && len <= d.need - d.got) {
      // Inside one message: keep what came before the hole, skip the rest of it.
      d.frozen = true;
      d.got += len;
      if (d.got == d.need && !finish_tcp_message(s, c, d)) return Progress::kViolation;
      return Progress::kMore;
    }
    d.dead = true;
    counters_.dns_tcp_desync.inc();
    return s.tcp[0].dead && s.tcp[1].dead ? Progress::kDone : Progress::kMore;
  }

  void end_flow(void* st, Ctx& c) noexcept override {
    State& s = *static_cast<State*>(st);
    if (s.transport == 6) {
      // A message the connection cut short: what is buffered may still answer a query.
      for (TcpDir& d : s.tcp) {
        if (!d.dead && d.need != 0 && d.buffered != 0) {
          const uint32_t n = d.buffered, wire = d.need;  // n < wire: parsed as cut
          d.need = 0;
          (void)on_message(s, c, d.buf, n, wire);
        }
      }
    }
    // Oldest first.
    while (s.npend != 0) {
      uint32_t oldest = 0;
      for (uint32_t i = 1; i < s.npend; ++i) {
        if (s.pend[i].ts < s.pend[oldest].ts) oldest = i;
      }
      counters_.dns_no_response.inc();
      write(c, &s.pend[oldest], nullptr, Status::kNoResponse, &s);
      remove(s, oldest);
    }
  }

  void for_each_counter(CounterFn f) const override { counters_.for_each(f); }

 private:
  bool finish_tcp_message(State& s, Ctx& c, TcpDir& d) {
    if (d.need > kTcpBuf) counters_.dns_tcp_long.inc();
    const uint32_t n = d.buffered, wire = d.need;
    d.need = 0;
    d.got = 0;
    return on_message(s, c, d.buf, n, wire);
  }

  static void remove(State& s, uint32_t i) {
    if (i + 1 != s.npend) s.pend[i] = s.pend[s.npend - 1];
    --s.npend;
  }

  void expire(State& s, Ctx& c) {
    for (uint32_t i = 0; i < s.npend;) {
      if (c.now > s.pend[i].ts && c.now - s.pend[i].ts > kQueryTimeoutNs) {
        counters_.dns_timeouts.inc();
        counters_.dns_no_response.inc();
        write(c, &s.pend[i], nullptr, Status::kNoResponse, &s);
        remove(s, i);
      } else {
        ++i;
      }
    }
  }

  // One message; false: not DNS on a DNS flow (a protocol violation).
  bool on_message(State& s, Ctx& c, const uint8_t* p, uint32_t n, uint32_t wire) {
    Msg msg;
    const Parsed pr = parse_msg(p, n, wire, s.kind == Kind::kMdns, msg);
    if (pr == Parsed::kNoHeader) {
      counters_.dns_cut.inc();
      return true;
    }
    if (pr == Parsed::kNotDns) {
      if (s.kind != Kind::kDns) {
        counters_.dns_mdns_ignored.inc();
        return true;
      }
      counters_.dns_not_dns.inc();
      return false;
    }
    counters_.dns_messages.inc();
    if (msg.cut) counters_.dns_cut.inc();
    if (msg.txt_cut) counters_.dns_txt_cut.inc(msg.txt_cut);
    count_anomalies(msg.anomalies);
    if (msg.has_question || msg.owner_as_query) c.name_app(msg.qname.view());

    if (!msg.qr()) {
      counters_.dns_queries.inc();
      expire(s, c);
      if (s.multicast) {
        counters_.dns_multicast.inc();
        write(c, nullptr, &msg, Status::kMulticast);
        return true;
      }
      for (uint32_t i = 0; i < s.npend; ++i) {
        Pending& q = s.pend[i];
        if (q.txid == msg.id && q.qtype == msg.qtype && iequal(q.name_view(), msg.qname.view())) {
          if (q.retrans != 0xff) ++q.retrans;
          counters_.dns_retransmits.inc();
          return true;
        }
      }
      if (s.npend == kMaxPending) {
        uint32_t oldest = 0;
        for (uint32_t i = 1; i < s.npend; ++i) {
          if (s.pend[i].ts < s.pend[oldest].ts) oldest = i;
        }
        counters_.dns_pending_overflow.inc();
        counters_.dns_no_response.inc();
        write(c, &s.pend[oldest], nullptr, Status::kNoResponse, &s);
        remove(s, oldest);
      }
      Pending& q = s.pend[s.npend++];
      q.ts = c.now;
      q.txid = msg.id;
      q.qtype = msg.qtype;
      q.qclass = msg.qclass;
      q.flags = msg.flags;
      q.qd = msg.qd;
      q.anomalies = msg.anomalies;
      q.retrans = 0;
      q.cut = msg.cut;
      q.name_len = msg.has_question ? static_cast<uint8_t>(msg.qname.len) : 0;
      std::memcpy(q.name, msg.qname.text, q.name_len);
      if (msg.opcode() == 5 && (msg.nupdates != 0 || msg.updates_cut != 0)) {
        if (s.upd.valid) counters_.dns_updates_cut.inc(s.upd.n + s.upd.cut);
        s.upd.valid = true;
        s.upd.txid = msg.id;
        s.upd.n = static_cast<uint8_t>(msg.nupdates);
        s.upd.cut = msg.updates_cut;
        for (uint32_t i = 0; i < msg.nupdates; ++i) s.upd.u[i] = msg.updates[i];
      }
      return true;
    }

    counters_.dns_responses.inc();
    int match = -1;
    for (uint32_t i = 0; i < s.npend; ++i) {
      const Pending& q = s.pend[i];
      if (q.txid != msg.id) continue;
      if (msg.has_question &&
          (q.qtype != msg.qtype || !iequal(q.name_view(), msg.qname.view()))) {
        continue;
      }
      match = static_cast<int>(i);
      break;
    }
    if (match >= 0) {
      counters_.dns_answered.inc();
      write(c, &s.pend[match], &msg, Status::kAnswered, &s);
      remove(s, static_cast<uint32_t>(match));
    } else if (s.multicast) {
      counters_.dns_multicast.inc();
      write(c, nullptr, &msg, Status::kMulticast);
    } else {
      counters_.dns_unsolicited.inc();
      write(c, nullptr, &msg, Status::kUnsolicited);
    }
    expire(s, c);
    return true;
  }

  void count_anomalies(uint16_t a) {
    if (a & kAnLoop) counters_.dns_compression_loop.inc();
    if (a & kAnForward) counters_.dns_pointer_forward.inc();
    if (a & kAnOob) counters_.dns_pointer_oob.inc();
    if (a & kAnChain) counters_.dns_pointer_chain.inc();
    if (a & kAnNameLong) counters_.dns_name_too_long.inc();
    if (a & kAnLabelLong) counters_.dns_label_too_long.inc();
    if (a & kAnRrOverrun) counters_.dns_rr_overrun.inc();
    if (a & kAnTrailing) counters_.dns_trailing_bytes.inc();
    if (a & kAnBadRdata) counters_.dns_bad_rdata.inc();
  }

  bool add(emit::Record* r, emit::Field f, const void* p, size_t n) {
    if (r->add_field(emit::field_id(f), p, n)) return true;
    counters_.dns_field_cut.inc();
    return false;
  }
  void add_str(emit::Record* r, emit::Field f, std::string_view v) { add(r, f, v.data(), v.size()); }
  // kUint values are little-endian (emit/schema.h).
  void add_u16(emit::Record* r, emit::Field f, uint16_t v) {
    const uint8_t b[2] = {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8)};
    add(r, f, b, 2);
  }
  void add_u32(emit::Record* r, emit::Field f, uint32_t v) {
    const uint8_t b[4] = {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8),
                          static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 24)};
    add(r, f, b, 4);
  }
  void add_bool(emit::Record* r, emit::Field f, bool v) {
    const uint8_t b = v ? 1 : 0;
    add(r, f, &b, 1);
  }
  void add_named(emit::Record* r, emit::Field f, const char* name, std::string_view prefix,
                 uint32_t v) {
    char buf[24];
    Text t{buf, buf + sizeof buf};
    name_or_num(t, name, prefix, v);
    add_str(r, f, {buf, static_cast<size_t>(t.p - buf)});
  }

  // One record: the query `q` (pending; null when none was seen) and/or the message `m` (the
  // response; for a multicast query, the query itself). `s`: the flow's state, for a dynamic
  // UPDATE's update section kept from its request.
  void write(Ctx& c, const Pending* q, const Msg* m, Status status, State* s = nullptr) {
    emit::Record* r = c.begin(emit::RecordType::kDns);
    if (r == nullptr) {
      counters_.dns_record_unavailable.inc();
      return;
    }
    // A transaction starts with its query: the record's time is the query's.
    if (q != nullptr) r->ts_ns = q->ts;
    // A dynamic UPDATE's update section, kept from its request (State::upd).
    decltype(&s->upd) upd = nullptr;
    if (q != nullptr && s != nullptr && s->upd.valid && s->upd.txid == q->txid &&
        ((q->flags >> 11) & 0xf) == 5) {
      upd = &s->upd;
      s->upd.valid = false;
    }
    using F = emit::Field;
    const bool response = m != nullptr && m->qr();
    std::string_view qname;
    bool have_q = false;
    uint16_t qtype = 0, qclass = 0, qd = 1;
    if (q != nullptr) {
      qname = q->name_view();
      have_q = q->name_len != 0;
      qtype = q->qtype;
      qclass = q->qclass;
      qd = q->qd;
    } else if (m != nullptr) {
      qname = m->qname.view();
      have_q = m->has_question;
      qtype = m->qtype;
      qclass = m->qclass;
      qd = m->qd;
    }
    if (have_q || (m != nullptr && m->owner_as_query && q == nullptr)) add_str(r, F::kDnsQuery, qname);
    if (have_q) {
      add_named(r, F::kDnsQtype, type_name(qtype), "TYPE", qtype);
      add_u16(r, F::kDnsQtypeNum, qtype);
      add_named(r, F::kDnsQclass, class_name(qclass), "CLASS", qclass);
      add_u16(r, F::kDnsQclassNum, qclass);
    }
    add_u16(r, F::kDnsTransId, q != nullptr ? q->txid : m->id);
    add_str(r, F::kDnsStatus, kStatusNames[static_cast<int>(status)]);
    if (response) {
      const uint16_t rc = m->rcode();
      add_named(r, F::kDnsRcode, rcode_name(rc), "RCODE", rc);
      add_u16(r, F::kDnsRcodeNum, rc);
    }
    const uint16_t qflags = q != nullptr ? q->flags : m->flags;
    const uint16_t opcode = (qflags >> 11) & 0xf;
    if (opcode != 0) add_named(r, F::kDnsOpcode, opcode_name(opcode), "OPCODE", opcode);
    if (response) {
      add_bool(r, F::kDnsAa, m->flags & 0x0400);
      add_bool(r, F::kDnsTc, m->flags & 0x0200);
    }
    add_bool(r, F::kDnsRd, qflags & 0x0100);
    if (response) add_bool(r, F::kDnsRa, m->flags & 0x0080);
    // RFC 4035 section 3.2: AD from the response (or the query that asks for it), CD from the
    // query. Written only when set.
    if (((response ? m->flags : qflags) & 0x0020) != 0) add_bool(r, F::kDnsAd, true);
    if ((qflags & 0x0010) != 0) add_bool(r, F::kDnsCd, true);
    if (q != nullptr && response) {
      const Nanos rtt = c.now > q->ts ? c.now - q->ts : 0;
      const uint64_t us = rtt / 1000;
      add_u32(r, F::kDnsRttUs, us > 0xffffffffu ? 0xffffffffu : static_cast<uint32_t>(us));
    }
    if (qd != 1) add_u16(r, F::kDnsQdcount, qd);
    if (m != nullptr) {
      add_u16(r, F::kDnsAncount, m->an);
      add_u16(r, F::kDnsNscount, m->ns);
      add_u16(r, F::kDnsArcount, m->ar);
    }
    if (q != nullptr && q->retrans != 0) add_u16(r, F::kDnsRetransmits, q->retrans);
    if ((q != nullptr && q->cut) || (m != nullptr && m->cut)) add_bool(r, F::kDnsCut, true);
    const uint16_t anomalies = static_cast<uint16_t>((q != nullptr ? q->anomalies : 0) |
                                                     (m != nullptr ? m->anomalies : 0));
    if (anomalies != 0) {
      char buf[200];
      Text t{buf, buf + sizeof buf};
      for (size_t i = 0; i < sizeof kAnomalyNames / sizeof kAnomalyNames[0]; ++i) {
        if (!(anomalies & (1u << i))) continue;
        if (t.p != buf) t.ch(',');
        t.put(kAnomalyNames[i]);
      }
      add_str(r, F::kDnsAnomaly, {buf, static_cast<size_t>(t.p - buf)});
    }
    if (m != nullptr) {
      uint32_t cut = m->answers_cut;
      // The answers fill this slot, then continuation slots (docs/architecture.md, "Record
      // slots and continuations"); kExtReserve stays free in the last one for the worker's
      // app@ fields.
      dissect::RecordChain ch = c.chain(r);
      for (uint32_t i = 0; i < m->nanswers; ++i) {
        const Answer& a = m->answers[i];
        if (sizeof(emit::ExtHeader) + a.len + kExtReserve > ch.room() && !ch.next_slot()) {
          cut += m->nanswers - i;
          break;
        }
        if (!ch.add_field(emit::field_id(F::kDnsAnswer), a.text, a.len)) {
          cut += m->nanswers - i;
          break;
        }
      }
      uint32_t acut = m->additional_cut;
      for (uint32_t i = 0; i < m->nadditional; ++i) {
        const auto& a = m->additional[i];
        if ((sizeof(emit::ExtHeader) + a.len + kExtReserve > ch.room() && !ch.next_slot()) ||
            !ch.add_field(emit::field_id(F::kDnsAdditional), a.text, a.len)) {
          acut += m->nadditional - i;
          break;
        }
      }
      if (acut != 0) counters_.dns_additional_cut.inc(acut);
      if (upd != nullptr) add_updates(ch, *upd);
      upd = nullptr;
      if (cut != 0) counters_.dns_answers_cut.inc(cut);
    }
    if (upd != nullptr) {  // no response: the request's updates, in this slot and more
      dissect::RecordChain ch = c.chain(r);
      add_updates(ch, *upd);
    }
    c.commit(r);
    counters_.dns_records.inc();
  }

  template <typename Upd>
  void add_updates(dissect::RecordChain& ch, const Upd& upd) {
    uint32_t cut = upd.cut;
    for (uint32_t i = 0; i < upd.n; ++i) {
      const auto& u = upd.u[i];
      if ((sizeof(emit::ExtHeader) + u.len + kExtReserve > ch.room() && !ch.next_slot()) ||
          !ch.add_field(emit::field_id(emit::Field::kDnsUpdate), u.text, u.len)) {
        cut += upd.n - i;
        break;
      }
    }
    if (cut != 0) counters_.dns_updates_cut.inc(cut);
  }

  DnsCounters counters_;
};

}  // namespace

std::unique_ptr<Dissector> make_dns_dissector() { return std::make_unique<DnsDissector>(); }

}  // namespace flowscribe::dissect
