#include "dissectors/tls/x509_record.h"

#include <algorithm>
#include <cstring>

#include "dissectors/tls/digest.h"
#include "dissectors/tls/text.h"
#include "dissectors/tls/x509.h"
#include "emit/escape.h"

namespace flowscribe::dissect::tls {
namespace {

using F = emit::Field;

size_t room(const emit::Record* r) noexcept { return sizeof(r->ext) - r->ext_len; }

// SAN text one x509 record carries at most (all four lists): with the record's other fields
// at their caps and a long header, the line stays under kMaxLineBytes (emit/format.h).
constexpr size_t kSanBudget = 5120;
// A list longer than one value may be (kMaxValueBytes escaped) is written as several params
// of the same name, split between names (docs/records.md, x509 `san_dns`).
constexpr size_t kSanValueCap = emit::kMaxValueBytes - 4;

// Bytes `c` takes once escaped, at most (emit/escape.h: non-ASCII counted as \xHH).
constexpr size_t escaped_bytes(uint8_t c) noexcept {
  return c == '"' || c == '\\' || c == ']' ? 2 : (c < 0x20 || c >= 0x7f) ? 4 : 1;
}

// Length of the longest prefix of whole items of the comma-separated `list` whose escaped
// text fits `cap`; 0 when not even the first item does.
size_t whole_items(std::string_view list, size_t cap) noexcept {
  size_t esc = 0, end = 0;
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i] == ',') end = i;
    esc += escaped_bytes(static_cast<uint8_t>(list[i]));
    if (esc > cap) return end;
  }
  return list.size();
}

struct Adder {
  RecordChain& r;
  Counter& truncated;
  void str(F f, std::string_view v) noexcept {
    if (!v.empty() && !r.add_field(emit::field_id(f), v.data(), v.size())) truncated.inc();
  }
  // A comma-separated list as one param or, past kSanValueCap, several (each filling what is
  // left of the slot it goes to first). False when some items did not fit.
  bool list(F f, std::string_view v) noexcept {
    while (!v.empty()) {
      const size_t here = std::min(kSanValueCap, room(r.last) > 4 ? room(r.last) - 4 : 0);
      size_t n = whole_items(v, here);
      if (n == 0) n = whole_items(v, kSanValueCap);  // a fresh slot
      if (n == 0) n = std::min(v.find(','), v.size());  // one long item: the formatter cuts it
      if (!r.add_field(emit::field_id(f), v.data(), n)) return false;
      v.remove_prefix(std::min(n + 1, v.size()));
    }
    return true;
  }
  void text(F f, const Text& t) noexcept {
    if (t.cut()) truncated.inc();
    str(f, t.view());
  }
  void uint(F f, uint64_t v) noexcept {
    if (v <= 0xffffffffu) {
      const uint32_t u = static_cast<uint32_t>(v);
      if (!r.add_field(emit::field_id(f), &u, 4)) truncated.inc();
    } else if (!r.add_field(emit::field_id(f), &v, 8)) {
      truncated.inc();
    }
  }
  void boolean(F f, bool v) noexcept {
    const uint8_t b = v ? 1 : 0;
    if (!r.add_field(emit::field_id(f), &b, 1)) truncated.inc();
  }
  // The fields every x509 record begins with: pos, then where the certificate came from.
  void head(uint32_t pos, CertOrigin o) noexcept {
    uint(F::kX509Pos, pos);
    str(F::kX509Source, o.source);
    str(F::kX509Sender, o.sender);
  }
};

// The leaf summary of a parsed certificate (subject, issuer, SAN DNS names).
bool summarize(const CertInfo& ci, char* subject, char* issuer, char* san_dns, uint16_t& subject_len,
               uint16_t& issuer_len, uint16_t& san_len) noexcept {
  Text subj(subject, kLeafDnCap), iss(issuer, kLeafDnCap), san(san_dns, kLeafSanCap);
  dn_text(ci.subject, subj);
  dn_text(ci.issuer, iss);
  char ipb[8], emb[8], urb[8];
  Text ip(ipb, 0), em(emb, 0), ur(urb, 0);
  SanLists l{&san, &ip, &em, &ur};
  if (ci.has_san) san_lists(ci.san, l);
  subject_len = static_cast<uint16_t>(subj.size());
  issuer_len = static_cast<uint16_t>(iss.size());
  san_len = static_cast<uint16_t>(san.size());
  return subj.cut() || iss.cut() || san.cut();
}

static_assert(kLeafDnCap <= CertCacheEntry::kMaxText && kLeafSanCap <= CertCacheEntry::kMaxText &&
              sizeof(emit::Record::ext) <= CertCacheEntry::kMaxBody + 8);

}  // namespace

void X509Writer::write_error(Ctx& c, uint32_t pos, uint32_t len, const char* why,
                             CertOrigin origin) noexcept {
  emit::Record* r = c.begin(emit::RecordType::kX509);
  if (r == nullptr) {
    cnt_.no_record_buffer.inc();
    return;
  }
  RecordChain ch = c.chain(r);
  Adder a{ch, cnt_.field_truncated};
  a.head(pos, origin);
  a.uint(F::kX509DerLen, len);
  a.str(F::kX509Error, why);
  c.commit(r);
}

void X509Writer::write_prefix(Ctx& c, const uint8_t* der, uint32_t len, uint32_t der_len,
                              const uint8_t sha1_fp[20], const uint8_t sha256_fp[32], uint32_t pos,
                              CertOrigin origin, LeafSummary* leaf) noexcept {
  Prefix p{der_len, sha1_fp, sha256_fp};
  write_impl(c, der, len, pos, origin, leaf, &p);
}

void X509Writer::write(Ctx& c, const uint8_t* der, uint32_t len, uint32_t pos, CertOrigin origin,
                       LeafSummary* leaf) noexcept {
  write_impl(c, der, len, pos, origin, leaf, nullptr);
}

void X509Writer::write_impl(Ctx& c, const uint8_t* der, uint32_t len, uint32_t pos,
                            CertOrigin origin, LeafSummary* leaf, const Prefix* pre) noexcept {
  cnt_.certs.inc();
  const uint64_t hash = pre ? 0 : CertCache::hash_of(der, len);
  if (const CertCacheEntry* e = pre ? nullptr : cache_.find(der, len, hash)) {
    // A certificate seen before: the same record and leaf summary, without parsing.
    cnt_.cache_hits.inc();
    if (e->cert_error) cnt_.errors.inc();
    if (e->ext_cap) cnt_.ext_cap.inc();
    if (leaf != nullptr) {
      leaf->seen = true;
      leaf->self_signed = e->self_signed;
      std::memcpy(leaf->sha256, e->sha256, 32);
      std::memcpy(leaf->subject, e->subject, e->subject_len);
      std::memcpy(leaf->issuer, e->issuer, e->issuer_len);
      std::memcpy(leaf->san_dns, e->san, e->san_len);
      leaf->subject_len = e->subject_len;
      leaf->issuer_len = e->issuer_len;
      leaf->san_len = e->san_len;
      if (e->leaf_cut) cnt_.field_truncated.inc();
    }
    emit::Record* r = c.begin(emit::RecordType::kX509);
    if (r == nullptr) {
      cnt_.no_record_buffer.inc();
      return;
    }
    RecordChain ch = c.chain(r);
    Adder a{ch, cnt_.field_truncated};
    a.head(pos, origin);
    // The body fitted after a head of the same size when it was made (one writer, one source;
    // IKE's two senders have names of one length); anything else is cut whole and counted.
    if (e->body_len <= room(r)) {
      std::memcpy(r->ext + r->ext_len, e->body, e->body_len);
      r->ext_len = static_cast<uint16_t>(r->ext_len + e->body_len);
    } else {
      cnt_.field_truncated.inc();
    }
    if (e->field_truncated) cnt_.field_truncated.inc(e->field_truncated);
    if (e->san_truncated) cnt_.san_truncated.inc(e->san_truncated);
    c.commit(r);
    return;
  }
  CertInfo ci;
  const bool ok = parse_cert(Bytes{der, len}, ci, pre != nullptr) && pre == nullptr;
  if (!ok) cnt_.errors.inc();
  if (ci.ext_cap) cnt_.ext_cap.inc();
  uint8_t h256[32], h1[20];
  if (pre != nullptr) {
    std::memcpy(h256, pre->sha256, 32);
    std::memcpy(h1, pre->sha1, 20);
  } else {
    sha256(der, len, h256);
    sha1(der, len, h1);
  }
  // A prefix whose names were read is judged by its names (and key ids, when they were read).
  const bool judged = ok || (pre != nullptr && ci.subject.n != 0 && ci.issuer.n != 0);
  const bool self = judged && self_issued(ci);
  if (leaf != nullptr) {
    leaf->seen = true;
    leaf->self_signed = self;
    std::memcpy(leaf->sha256, h256, 32);
    if (summarize(ci, leaf->subject, leaf->issuer, leaf->san_dns, leaf->subject_len,
                  leaf->issuer_len, leaf->san_len)) {
      cnt_.field_truncated.inc();
    }
  }
  emit::Record* r = c.begin(emit::RecordType::kX509);
  if (r == nullptr) {
    cnt_.no_record_buffer.inc();
    return;
  }
  RecordChain ch = c.chain(r);
  Adder a{ch, cnt_.field_truncated};
  char buf[kDnCap];
  a.head(pos, origin);
  const uint16_t body_at = r->ext_len;
  const uint64_t trunc0 = cnt_.field_truncated.get(), san0 = cnt_.san_truncated.get();
  {
    Text t(buf, kDnCap);
    dn_text(ci.subject, t);
    a.text(F::kX509Subject, t);
  }
  {
    Text t(buf, kDnCap);
    dn_text(ci.issuer, t);
    a.text(F::kX509Issuer, t);
  }
  if (ci.serial.n) {
    Text t(buf, kSerialCap);
    serial_text(ci.serial, t);
    a.text(F::kX509Serial, t);
  }
  {
    Text t(buf, 32);
    if (ci.not_before.tag && time_text(ci.not_before, t)) a.text(F::kX509NotBefore, t);
  }
  {
    Text t(buf, 32);
    if (ci.not_after.tag && time_text(ci.not_after, t)) a.text(F::kX509NotAfter, t);
  }
  {
    Text t(buf, 64);
    t.hex(h256, 32);
    a.text(F::kX509Sha256, t);
    Text u(buf, 40);
    u.hex(h1, 20);
    a.text(F::kX509Sha1, u);
  }
  if (!ci.key_oid.empty()) {
    Text t(buf, kNameCap);
    if (const char* n = key_alg_name(ci.key_oid)) t.put(n);
    else oid_text(ci.key_oid, t);
    a.text(F::kX509KeyAlg, t);
  }
  if (const char* kt = key_type_name(ci.key_type)) a.str(F::kX509KeyType, kt);
  if (ci.key_bits) a.uint(F::kX509KeyBits, ci.key_bits);
  if (ci.key_type == KeyType::kEcdsa && !ci.key_param_oid.empty()) {
    Text t(buf, kNameCap);
    if (const char* n = curve_name(ci.key_param_oid)) t.put(n);
    else oid_text(ci.key_param_oid, t);
    a.text(F::kX509Curve, t);
  }
  if (!ci.sig_oid.empty()) {
    Text t(buf, kNameCap);
    if (const char* n = sig_alg_name(ci.sig_oid)) t.put(n);
    else oid_text(ci.sig_oid, t);
    a.text(F::kX509SigAlg, t);
  }
  if (ok || ci.serial.n) a.uint(F::kX509Version, ci.version);
  if (judged) a.boolean(F::kX509SelfSigned, self);
  if (ci.has_bc) a.boolean(F::kX509Ca, ci.ca);
  {
    Text t(buf, kNameCap);
    if (dn_attr(ci.subject, 3, t)) a.text(F::kX509SubjectCn, t);
  }
  {
    Text t(buf, kNameCap);
    if (dn_attr(ci.subject, 10, t)) a.text(F::kX509SubjectO, t);
  }
  {
    Text t(buf, kNameCap);
    if (dn_attr(ci.issuer, 3, t)) a.text(F::kX509IssuerCn, t);
  }
  {
    Text t(buf, kNameCap);
    if (dn_attr(ci.issuer, 10, t)) a.text(F::kX509IssuerO, t);
  }
  if (ci.has_san) {
    // The lists share kSanBudget, and what the record and its continuation slots
    // (kMaxContinuations, RecordOut::extend) can take, less room for the fields after them;
    // DNS names first. Each list is one pass over the SAN (bounded by the certificate size).
    constexpr size_t kTail = (4 + 1) + (4 + 4) + (4 + 64);  // san_truncated, der_len, error
    const size_t slots = emit::kMaxContinuations - std::min<size_t>(r->more, emit::kMaxContinuations);
    const size_t can = room(ch.last) + slots * sizeof(r->ext);
    size_t left = std::min(kSanBudget, can > kTail ? can - kTail : 0);
    char sb[kSanBudget];
    char none[1];
    Text nil(none, 0);
    uint32_t count = 0;
    bool cut = false;
    // Placeholder, patched below (fixed 4-byte value).
    uint8_t* count_at = nullptr;
    if (ch.add_field(emit::field_id(F::kX509SanCount), &count, 4)) {
      count_at = ch.last->ext + ch.last->ext_len - 4;
    } else {
      cnt_.field_truncated.inc();
    }
    for (int kind = 0; kind < 4; ++kind) {
      const size_t cap = left > 4 ? std::min(left - 4, sizeof sb) : 0;
      Text t(sb, cap);
      SanLists l{kind == 0 ? &t : &nil, kind == 1 ? &t : &nil, kind == 2 ? &t : &nil,
                 kind == 3 ? &t : &nil};
      count = san_lists(ci.san, l);
      cut = cut || t.cut();
      if (t.size() == 0) continue;
      static constexpr F kFields[4] = {F::kX509SanDns, F::kX509SanIp, F::kX509SanEmail, F::kX509SanUri};
      if (!a.list(kFields[kind], t.view())) cut = true;
      left -= std::min(left, t.size() + 4);
    }
    if (count_at != nullptr) std::memcpy(count_at, &count, 4);
    if (cut) {
      cnt_.san_truncated.inc();
      a.boolean(F::kX509SanTruncated, true);
    }
  }
  a.uint(F::kX509DerLen, pre ? pre->der_len : len);
  if (pre != nullptr) {
    a.str(F::kX509Error, "larger than the 16384-byte buffer: only the fields in its first 16384 bytes were read");
  } else if (!ok) {
    a.str(F::kX509Error, ci.error);
  }
  if (pre != nullptr) {
    // A prefix: a cache entry is found by the whole DER, which is not here.
  } else if (ch.last != r) {
    // Continuation slots: more than an entry holds. Not cached (parsed again next time), so
    // that a hit always gives the same record as a parse.
    if (cnt_.cache_skipped != nullptr) cnt_.cache_skipped->inc();
  } else if (CertCacheEntry* e = cache_.slot(der, len, hash)) {
    // Keeps what this certificate gave for the next time it is seen.
    e->body_len = static_cast<uint16_t>(r->ext_len - body_at);
    std::memcpy(e->body, r->ext + body_at, e->body_len);
    e->self_signed = self;
    e->cert_error = !ok;
    e->ext_cap = ci.ext_cap;
    e->field_truncated =
        static_cast<uint8_t>(std::min<uint64_t>(cnt_.field_truncated.get() - trunc0, 255));
    e->san_truncated = static_cast<uint8_t>(std::min<uint64_t>(cnt_.san_truncated.get() - san0, 255));
    std::memcpy(e->sha256, h256, 32);
    e->leaf_cut = summarize(ci, e->subject, e->issuer, e->san, e->subject_len, e->issuer_len, e->san_len);
  }
  c.commit(r);
}

}  // namespace flowscribe::dissect::tls
