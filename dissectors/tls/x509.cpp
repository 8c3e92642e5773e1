#include "dissectors/tls/x509.h"

#include <cstring>

namespace flowscribe::dissect::tls {
namespace {

using namespace std::string_view_literals;

bool is(Bytes b, std::string_view oid) noexcept { return b.str() == oid; }

struct OidName {
  std::string_view oid;
  const char* name;
  uint16_t bits;
};

// Signature algorithms (RFC 3279, 4055, 5758, 8410; FIPS 204 for ML-DSA), OpenSSL names.
constexpr OidName kSigAlgs[] = {
    {"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x02"sv, "md2WithRSAEncryption", 0},
    {"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x04"sv, "md5WithRSAEncryption", 0},
    {"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x05"sv, "sha1WithRSAEncryption", 0},
    {"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0a"sv, "rsassaPss", 0},
    {"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b"sv, "sha256WithRSAEncryption", 0},
    {"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0c"sv, "sha384WithRSAEncryption", 0},
    {"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0d"sv, "sha512WithRSAEncryption", 0},
    {"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0e"sv, "sha224WithRSAEncryption", 0},
    {"\x2b\x0e\x03\x02\x1d"sv, "sha1WithRSA", 0},
    {"\x2a\x86\x48\xce\x3d\x04\x01"sv, "ecdsa-with-SHA1", 0},
    {"\x2a\x86\x48\xce\x3d\x04\x03\x01"sv, "ecdsa-with-SHA224", 0},
    {"\x2a\x86\x48\xce\x3d\x04\x03\x02"sv, "ecdsa-with-SHA256", 0},
    {"\x2a\x86\x48\xce\x3d\x04\x03\x03"sv, "ecdsa-with-SHA384", 0},
    {"\x2a\x86\x48\xce\x3d\x04\x03\x04"sv, "ecdsa-with-SHA512", 0},
    {"\x2a\x86\x48\xce\x38\x04\x03"sv, "dsaWithSHA1", 0},
    {"\x60\x86\x48\x01\x65\x03\x04\x03\x01"sv, "dsa_with_SHA224", 0},
    {"\x60\x86\x48\x01\x65\x03\x04\x03\x02"sv, "dsa_with_SHA256", 0},
    {"\x60\x86\x48\x01\x65\x03\x04\x03\x11"sv, "ML-DSA-44", 0},
    {"\x60\x86\x48\x01\x65\x03\x04\x03\x12"sv, "ML-DSA-65", 0},
    {"\x60\x86\x48\x01\x65\x03\x04\x03\x13"sv, "ML-DSA-87", 0},
    {"\x2b\x65\x70"sv, "ED25519", 0},
    {"\x2b\x65\x71"sv, "ED448", 0},
};

constexpr std::string_view kRsa = "\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01"sv;
constexpr std::string_view kRsaPss = "\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0a"sv;
constexpr std::string_view kEcPublicKey = "\x2a\x86\x48\xce\x3d\x02\x01"sv;
constexpr std::string_view kDsa = "\x2a\x86\x48\xce\x38\x04\x01"sv;
constexpr std::string_view kEd25519 = "\x2b\x65\x70"sv;
constexpr std::string_view kEd448 = "\x2b\x65\x71"sv;
constexpr std::string_view kX25519 = "\x2b\x65\x6e"sv;
constexpr std::string_view kX448 = "\x2b\x65\x6f"sv;

// A PKCS #1 signature OID (1.2.840.113549.1.1.2-5, 11-14) as the key's algorithm: Windows'
// Terminal Services and licensing certificates (RDP standard security) label their RSA key
// md5WithRSAEncryption or sha1WithRSAEncryption; the key is an RSAPublicKey all the same
// (OpenSSL, and so Zeek, read it as RSA).
bool pkcs1_sig_oid(std::string_view o) noexcept {
  if (o.size() != kRsa.size() || o.substr(0, 8) != kRsa.substr(0, 8)) return false;
  const uint8_t v = static_cast<uint8_t>(o[8]);
  return (v >= 2 && v <= 5) || (v >= 11 && v <= 14);
}

constexpr OidName kKeyAlgs[] = {
    {kRsa, "rsaEncryption", 0},
    {kRsaPss, "rsassaPss", 0},
    {kEcPublicKey, "id-ecPublicKey", 0},
    {kDsa, "dsaEncryption", 0},
    {kEd25519, "ED25519", 256},
    {kEd448, "ED448", 456},
    {kX25519, "X25519", 256},
    {kX448, "X448", 448},
    // FIPS 204 parameter sets; bits: the public key's size (1312, 1952, 2592 bytes), as
    // OpenSSL 3.5 and Zeek report them.
    {"\x60\x86\x48\x01\x65\x03\x04\x03\x11"sv, "ML-DSA-44", 10496},
    {"\x60\x86\x48\x01\x65\x03\x04\x03\x12"sv, "ML-DSA-65", 15616},
    {"\x60\x86\x48\x01\x65\x03\x04\x03\x13"sv, "ML-DSA-87", 20736},
};

// Named curves (RFC 5480 section 2.1.1.1, RFC 5639), OpenSSL names, field size in bits.
constexpr OidName kCurves[] = {
    {"\x2a\x86\x48\xce\x3d\x03\x01\x07"sv, "prime256v1", 256},
    {"\x2b\x81\x04\x00\x22"sv, "secp384r1", 384},
    {"\x2b\x81\x04\x00\x23"sv, "secp521r1", 521},
    {"\x2b\x81\x04\x00\x0a"sv, "secp256k1", 256},
    {"\x2b\x81\x04\x00\x21"sv, "secp224r1", 224},
    {"\x2a\x86\x48\xce\x3d\x03\x01\x01"sv, "prime192v1", 192},
    {"\x2b\x24\x03\x03\x02\x08\x01\x01\x07"sv, "brainpoolP256r1", 256},
    {"\x2b\x24\x03\x03\x02\x08\x01\x01\x0b"sv, "brainpoolP384r1", 384},
    {"\x2b\x24\x03\x03\x02\x08\x01\x01\x0d"sv, "brainpoolP512r1", 512},
    {"\x2a\x81\x1c\xcf\x55\x01\x82\x2d"sv, "SM2", 256},
};

// Attribute types of a Name: OpenSSL short names (XN_FLAG_FN_SN, as Zeek prints them).
constexpr OidName kAttrs[] = {
    {"\x55\x04\x03"sv, "CN", 0},
    {"\x55\x04\x0a"sv, "O", 0},
    {"\x55\x04\x0b"sv, "OU", 0},
    {"\x55\x04\x06"sv, "C", 0},
    {"\x55\x04\x08"sv, "ST", 0},
    {"\x55\x04\x07"sv, "L", 0},
    {"\x55\x04\x09"sv, "street", 0},
    {"\x55\x04\x05"sv, "serialNumber", 0},
    {"\x55\x04\x04"sv, "SN", 0},
    {"\x55\x04\x2a"sv, "GN", 0},
    {"\x55\x04\x0c"sv, "title", 0},
    {"\x55\x04\x0d"sv, "description", 0},
    {"\x55\x04\x0f"sv, "businessCategory", 0},
    {"\x55\x04\x11"sv, "postalCode", 0},
    {"\x55\x04\x29"sv, "name", 0},
    {"\x55\x04\x2b"sv, "initials", 0},
    {"\x55\x04\x2c"sv, "generationQualifier", 0},
    {"\x55\x04\x2e"sv, "dnQualifier", 0},
    {"\x55\x04\x41"sv, "pseudonym", 0},
    {"\x55\x04\x61"sv, "organizationIdentifier", 0},
    {"\x2a\x86\x48\x86\xf7\x0d\x01\x09\x01"sv, "emailAddress", 0},
    {"\x09\x92\x26\x89\x93\xf2\x2c\x64\x01\x19"sv, "DC", 0},
    {"\x09\x92\x26\x89\x93\xf2\x2c\x64\x01\x01"sv, "UID", 0},
    {"\x2b\x06\x01\x04\x01\x82\x37\x3c\x02\x01\x01"sv, "jurisdictionL", 0},
    {"\x2b\x06\x01\x04\x01\x82\x37\x3c\x02\x01\x02"sv, "jurisdictionST", 0},
    {"\x2b\x06\x01\x04\x01\x82\x37\x3c\x02\x01\x03"sv, "jurisdictionC", 0},
};

template <size_t N>
const OidName* find(const OidName (&t)[N], Bytes oid) noexcept {
  for (const OidName& e : t) {
    if (is(oid, e.oid)) return &e;
  }
  return nullptr;
}

// Bits of an unsigned INTEGER's magnitude.
uint32_t int_bits(Bytes v) noexcept {
  uint32_t i = 0;
  while (i < v.n && v.p[i] == 0) ++i;
  if (i == v.n) return 0;
  uint32_t bits = (v.n - i) * 8;
  for (uint8_t b = v.p[i]; (b & 0x80) == 0; b = static_cast<uint8_t>(b << 1)) --bits;
  return bits;
}

bool next_tag(Reader& r, Tlv& t, uint8_t tag) noexcept { return der_next(r, t) && t.tag == tag; }

void read_key(const Tlv& alg, const Tlv& bits, CertInfo& ci) noexcept {
  Reader a(alg.val);
  Tlv oid, param;
  if (!next_tag(a, oid, 0x06)) return;
  ci.key_oid = oid.val;
  const bool has_param = der_next(a, param);
  if (has_param && param.tag == 0x06) ci.key_param_oid = param.val;
  const std::string_view o = oid.val.str();
  if (o == kRsa || o == kRsaPss || pkcs1_sig_oid(o)) {
    ci.key_type = o == kRsaPss ? KeyType::kRsaPss : KeyType::kRsa;
    // BIT STRING: unused-bits byte, then RSAPublicKey ::= SEQUENCE { modulus, exponent }
    Reader k(bits.val.from(1));
    Tlv seq, n;
    if (next_tag(k, seq, 0x30)) {
      Reader s(seq.val);
      if (next_tag(s, n, 0x02)) ci.key_bits = int_bits(n.val);
    }
  } else if (o == kEcPublicKey) {
    ci.key_type = KeyType::kEcdsa;
    if (const OidName* c = find(kCurves, ci.key_param_oid)) ci.key_bits = c->bits;
  } else if (o == kDsa) {
    ci.key_type = KeyType::kDsa;
    if (has_param && param.tag == 0x30) {  // Dss-Parms ::= SEQUENCE { p, q, g }
      Reader s(param.val);
      Tlv p;
      if (next_tag(s, p, 0x02)) ci.key_bits = int_bits(p.val);
    }
  } else if (const OidName* e = find(kKeyAlgs, oid.val)) {
    if (o == kEd25519) ci.key_type = KeyType::kEd25519;
    else if (o == kEd448) ci.key_type = KeyType::kEd448;
    else if (o == kX25519) ci.key_type = KeyType::kX25519;
    else if (o == kX448) ci.key_type = KeyType::kX448;
    else if (e->bits == 10496) ci.key_type = KeyType::kMlDsa44;
    else if (e->bits == 15616) ci.key_type = KeyType::kMlDsa65;
    else ci.key_type = KeyType::kMlDsa87;
    ci.key_bits = e->bits;
  }
}

void read_extension(Bytes ext, CertInfo& ci) noexcept {
  Reader x(ext);
  Tlv id, v;
  if (!next_tag(x, id, 0x06) || !der_next(x, v)) return;
  if (v.tag == 0x01 && !der_next(x, v)) return;  // critical BOOLEAN
  if (v.tag != 0x04) return;
  Reader o(v.val);
  Tlv t;
  if (is(id.val, "\x55\x1d\x11"sv)) {  // subjectAltName (RFC 5280 section 4.2.1.6)
    if (next_tag(o, t, 0x30)) {
      ci.san = t.val;
      ci.has_san = true;
    }
  } else if (is(id.val, "\x55\x1d\x13"sv)) {  // basicConstraints (4.2.1.9)
    if (next_tag(o, t, 0x30)) {
      ci.has_bc = true;
      Reader s(t.val);
      Tlv b;
      if (next_tag(s, b, 0x01) && b.val.n == 1) ci.ca = b.val.p[0] != 0;
    }
  } else if (is(id.val, "\x55\x1d\x0e"sv)) {  // subjectKeyIdentifier (4.2.1.2)
    if (next_tag(o, t, 0x04)) ci.ski = t.val;
  } else if (is(id.val, "\x55\x1d\x23"sv)) {  // authorityKeyIdentifier (4.2.1.1)
    if (next_tag(o, t, 0x30)) {
      Reader s(t.val);
      Tlv k;
      if (next_tag(s, k, 0x80)) ci.aki = k.val;
    }
  }
}

bool is_string_tag(uint8_t tag) noexcept {
  switch (tag) {
    case 0x0c:  // UTF8String
    case 0x12:  // NumericString
    case 0x13:  // PrintableString
    case 0x14:  // T61String
    case 0x16:  // IA5String
    case 0x1a:  // VisibleString
    case 0x1c:  // UniversalString
    case 0x1e:  // BMPString
      return true;
    default:
      return false;
  }
}

// Calls f(code point or byte, is_byte) for each character of a string value.
template <typename F>
void for_each_char(const Tlv& v, F&& f) noexcept {
  const Bytes b = v.val;
  if (v.tag == 0x1e) {  // BMPString: UTF-16BE (surrogate pairs joined)
    for (uint32_t i = 0; i + 1 < b.n; i += 2) {
      uint32_t cp = uint32_t{b.p[i]} << 8 | b.p[i + 1];
      if (cp >= 0xd800 && cp < 0xdc00 && i + 3 < b.n) {
        const uint32_t lo = uint32_t{b.p[i + 2]} << 8 | b.p[i + 3];
        if (lo >= 0xdc00 && lo < 0xe000) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          i += 2;
        }
      }
      f(cp, false, i + 2 >= b.n);
    }
  } else if (v.tag == 0x1c) {  // UniversalString: UCS-4BE
    for (uint32_t i = 0; i + 3 < b.n; i += 4) {
      f(uint32_t{b.p[i]} << 24 | uint32_t{b.p[i + 1]} << 16 | uint32_t{b.p[i + 2]} << 8 | b.p[i + 3],
        false, i + 4 >= b.n);
    }
  } else if (v.tag == 0x14) {  // T61String: read as Latin-1, as OpenSSL does
    for (uint32_t i = 0; i < b.n; ++i) f(b.p[i], b.p[i] < 0x80, i + 1 == b.n);
  } else {  // UTF-8 and the ASCII subsets: bytes as they are
    for (uint32_t i = 0; i < b.n; ++i) f(b.p[i], true, i + 1 == b.n);
  }
}

void value_text(const Tlv& v, Text& out, bool escape) noexcept {
  bool first = true;
  for_each_char(v, [&](uint32_t c, bool is_byte, bool last) {
    if (escape) {
      if (c < 0x20 || c == 0x7f) {
        out.put('\\');
        out.hex2(static_cast<uint8_t>(c), true);
        first = false;
        return;
      }
      // RFC 4514 section 2.4
      if (c == '"' || c == '+' || c == ',' || c == ';' || c == '<' || c == '>' || c == '\\' ||
          (first && (c == ' ' || c == '#')) || (last && c == ' ')) {
        out.put('\\');
      }
    }
    first = false;
    if (is_byte) {
      out.put(static_cast<char>(c));
    } else {
      out.utf8(c);
    }
  });
}

bool digits(const uint8_t* p, int n, int& v) noexcept {
  v = 0;
  for (int i = 0; i < n; ++i) {
    if (p[i] < '0' || p[i] > '9') return false;
    v = v * 10 + (p[i] - '0');
  }
  return true;
}

void two(Text& out, int v) noexcept {
  out.put(static_cast<char>('0' + v / 10));
  out.put(static_cast<char>('0' + v % 10));
}

}  // namespace

bool der_next(Reader& r, Tlv& t) noexcept {
  const uint32_t start = r.pos();
  const uint8_t tag = r.u8();
  const uint8_t l0 = r.u8();
  if (!r.ok() || (tag & 0x1f) == 0x1f) return r.fail();
  uint32_t len = l0;
  if (l0 & 0x80) {
    const uint32_t k = l0 & 0x7f;
    if (k == 0 || k > 4) return r.fail();  // indefinite length is not DER
    len = 0;
    for (uint32_t i = 0; i < k; ++i) len = len << 8 | r.u8();
    if (!r.ok()) return false;
  }
  const Bytes val = r.bytes(len);
  if (!r.ok()) return false;
  t.tag = tag;
  t.val = val;
  t.all = Bytes{r.base() + start, r.pos() - start};
  return true;
}

namespace {
// A SEQUENCE header whose contents may run past the bytes here (a certificate's first bytes
// only): the contents are what of them is here.
bool seq_head(Reader& r, Tlv& t) noexcept {
  const uint32_t start = r.pos();
  const uint8_t tag = r.u8();
  const uint8_t l0 = r.u8();
  if (!r.ok() || tag != 0x30) return false;
  uint32_t len = l0;
  if (l0 & 0x80) {
    const uint32_t k = l0 & 0x7f;
    if (k == 0 || k > 4) return false;
    len = 0;
    for (uint32_t i = 0; i < k; ++i) len = len << 8 | r.u8();
    if (!r.ok()) return false;
  }
  const uint32_t here = r.left();
  const Bytes val = r.bytes(len < here ? len : here);
  if (!r.ok()) return false;
  t.tag = tag;
  t.val = val;
  t.all = Bytes{r.base() + start, r.pos() - start};
  return true;
}
}  // namespace

bool parse_cert(Bytes der, CertInfo& ci, bool prefix) noexcept {
  ci = CertInfo{};
  Reader r(der);
  Tlv cert, tbs, x;
  if (!(prefix ? seq_head(r, cert) : next_tag(r, cert, 0x30))) return ci.error = "not a DER SEQUENCE", false;
  Reader c(cert.val);
  if (!(prefix ? seq_head(c, tbs) : next_tag(c, tbs, 0x30))) return ci.error = "no tbsCertificate", false;
  Tlv alg;
  if (next_tag(c, alg, 0x30)) {
    Reader s(alg.val);
    Tlv oid;
    if (next_tag(s, oid, 0x06)) ci.sig_oid = oid.val;
  }
  Reader t(tbs.val);
  if (!der_next(t, x)) return ci.error = "empty tbsCertificate", false;
  if (x.tag == 0xa0) {  // version [0] EXPLICIT, DEFAULT v1
    Reader v(x.val);
    Tlv vi;
    if (next_tag(v, vi, 0x02) && vi.val.n == 1 && vi.val.p[0] < 3) ci.version = static_cast<uint8_t>(vi.val.p[0] + 1);
    if (!der_next(t, x)) return ci.error = "no serialNumber", false;
  }
  if (x.tag != 0x02) return ci.error = "no serialNumber", false;
  ci.serial = x.val;
  if (!next_tag(t, x, 0x30)) return ci.error = "no signature", false;
  if (!next_tag(t, x, 0x30)) return ci.error = "no issuer", false;
  ci.issuer = x.val;
  if (!next_tag(t, x, 0x30)) return ci.error = "no validity", false;
  {
    Reader v(x.val);
    if (!der_next(v, ci.not_before) || !der_next(v, ci.not_after)) return ci.error = "bad validity", false;
  }
  if (!next_tag(t, x, 0x30)) return ci.error = "no subject", false;
  ci.subject = x.val;
  if (!next_tag(t, x, 0x30)) return ci.error = "no subjectPublicKeyInfo", false;
  {
    Reader s(x.val);
    Tlv a, bits;
    if (!next_tag(s, a, 0x30) || !next_tag(s, bits, 0x03)) return ci.error = "bad subjectPublicKeyInfo", false;
    read_key(a, bits, ci);
  }
  while (!t.at_end()) {
    if (!der_next(t, x)) return ci.error = "bad tbsCertificate tail", false;
    if (x.tag != 0xa3) continue;  // issuerUniqueID [1], subjectUniqueID [2]
    Reader e(x.val);
    Tlv seq, ext;
    if (!next_tag(e, seq, 0x30)) return ci.error = "bad extensions", false;
    Reader l(seq.val);
    while (!l.at_end()) {
      if (ci.extensions == kMaxExtensions) {
        ci.ext_cap = true;
        break;
      }
      if (!next_tag(l, ext, 0x30)) return ci.error = "bad extension", false;
      ++ci.extensions;
      read_extension(ext.val, ci);
    }
  }
  return true;
}

const char* sig_alg_name(Bytes oid) noexcept {
  const OidName* e = find(kSigAlgs, oid);
  return e ? e->name : nullptr;
}
const char* key_alg_name(Bytes oid) noexcept {
  const OidName* e = find(kKeyAlgs, oid);
  if (e == nullptr && pkcs1_sig_oid(oid.str())) return sig_alg_name(oid);
  return e ? e->name : nullptr;
}
const char* curve_name(Bytes oid) noexcept {
  const OidName* e = find(kCurves, oid);
  return e ? e->name : nullptr;
}
const char* key_type_name(KeyType t) noexcept {
  switch (t) {
    case KeyType::kRsa: return "rsa";
    case KeyType::kRsaPss: return "rsa-pss";
    case KeyType::kEcdsa: return "ecdsa";
    case KeyType::kDsa: return "dsa";
    case KeyType::kEd25519: return "ed25519";
    case KeyType::kEd448: return "ed448";
    case KeyType::kX25519: return "x25519";
    case KeyType::kX448: return "x448";
    case KeyType::kMlDsa44: return "ml-dsa-44";
    case KeyType::kMlDsa65: return "ml-dsa-65";
    case KeyType::kMlDsa87: return "ml-dsa-87";
    case KeyType::kUnknown: break;
  }
  return nullptr;
}

void oid_text(Bytes oid, Text& out) noexcept {
  uint64_t v = 0;
  bool first = true;
  for (uint32_t i = 0; i < oid.n; ++i) {
    if (v > (uint64_t{1} << 56)) {  // an arc past 56 bits: not a real OID; stop
      out.put("...");
      return;
    }
    v = v << 7 | (oid.p[i] & 0x7f);
    if (oid.p[i] & 0x80) continue;
    if (first) {
      const uint64_t a = v < 40 ? 0 : v < 80 ? 1 : 2;
      out.dec(a);
      out.put('.');
      out.dec(v - a * 40);
      first = false;
    } else {
      out.put('.');
      out.dec(v);
    }
    v = 0;
  }
}

bool dn_text(Bytes name, Text& out) noexcept {
  // The RDNs' contents, written last to first (RFC 4514). Plain pointers and lengths, left
  // uninitialised: an array of Tlv (default member initialisers) cost a 2.5 KB memset per
  // name, a quarter of the certificate's cost.
  constexpr uint32_t kMaxRdns = 64;
  struct Span {
    const uint8_t* p;
    uint32_t n;
  };
  Span rdns[kMaxRdns];
  uint32_t n = 0;
  Reader r(name);
  bool ok = true;
  while (!r.at_end()) {
    if (n == kMaxRdns) {
      out.set_cut();
      break;
    }
    Tlv rdn;
    if (!next_tag(r, rdn, 0x31)) {
      ok = false;
      break;
    }
    rdns[n++] = Span{rdn.val.p, rdn.val.n};
  }
  for (uint32_t i = n; i-- > 0;) {
    if (i != n - 1) out.put(',');
    // A multi-valued RDN's attributes, also last to first: RFC 4514 section 2.2 allows any
    // order; this is OpenSSL's (and so Zeek's) order, "L=TURNBKL+CN=SERVR".
    constexpr uint32_t kMaxAvas = 16;
    Span avas[kMaxAvas];
    uint32_t m = 0;
    Reader s(Bytes{rdns[i].p, rdns[i].n});
    while (!s.at_end()) {
      Tlv atv;
      if (!next_tag(s, atv, 0x30)) return false;
      if (m == kMaxAvas) {
        out.set_cut();
        break;
      }
      avas[m++] = Span{atv.val.p, atv.val.n};
    }
    for (uint32_t j = m; j-- > 0;) {
      Tlv oid, val;
      Reader a(Bytes{avas[j].p, avas[j].n});
      if (!next_tag(a, oid, 0x06) || !der_next(a, val)) return false;
      if (j != m - 1) out.put('+');
      const OidName* e = find(kAttrs, oid.val);
      if (e) {
        out.put(e->name);
      } else {
        oid_text(oid.val, out);
      }
      out.put('=');
      if (e && is_string_tag(val.tag)) {
        value_text(val, out, true);
      } else {
        out.put('#');
        out.hex(val.all.p, val.all.n, true);
      }
    }
  }
  return ok;
}

bool dn_attr(Bytes name, uint8_t which, Text& out) noexcept {
  const char want[3] = {0x55, 0x04, static_cast<char>(which)};
  const size_t start = out.size();
  bool found = false;
  Reader r(name);
  Tlv rdn, atv, oid, val;
  while (!r.at_end() && next_tag(r, rdn, 0x31)) {
    Reader s(rdn.val);
    while (!s.at_end() && next_tag(s, atv, 0x30)) {
      Reader a(atv.val);
      if (!next_tag(a, oid, 0x06) || !der_next(a, val)) break;
      if (!is(oid.val, std::string_view(want, 3))) continue;
      out.resize(start);  // the last one wins: the most specific (RFC 6125 section 6.4.4)
      if (is_string_tag(val.tag)) {
        value_text(val, out, false);
      } else {
        out.put('#');
        out.hex(val.all.p, val.all.n, true);
      }
      found = true;
    }
  }
  return found;
}

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date, and back (H. Hinnant's algorithms).
int64_t days_from_civil(int64_t y, int m, int d) noexcept {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void civil_from_days(int64_t z, int& y, int& m, int& d) noexcept {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  y = static_cast<int>(yoe + era * 400 + (m <= 2));
}

}  // namespace

bool time_text(const Tlv& t, Text& out) noexcept {
  const uint8_t* p = t.val.p;
  uint32_t n = t.val.n;
  // The zone: 'Z' (RFC 5280), or a +hhmm/-hhmm offset, which DER forbids but certificates in
  // the wild carry (OpenSSL and Arkime read it): the time is converted to UTC.
  int off_min = 0;
  if (n >= 5 && (p[n - 5] == '+' || p[n - 5] == '-')) {
    int oh, om;
    if (!digits(p + n - 4, 2, oh) || !digits(p + n - 2, 2, om) || oh > 23 || om > 59) return false;
    off_min = (oh * 60 + om) * (p[n - 5] == '-' ? -1 : 1);
    n -= 4;  // the sign takes the place of the 'Z' below
  } else if (n == 0 || p[n - 1] != 'Z') {
    return false;
  }
  int year, mon, day, hour, min, sec = 0;
  if (t.tag == 0x17) {  // UTCTime: YYMMDDhhmm[ss]Z; YY < 50 is 20YY (RFC 5280 4.1.2.5.1)
    if (n != 13 && n != 11) return false;
    if (!digits(p, 2, year)) return false;
    year += year < 50 ? 2000 : 1900;
    p += 2;
    n -= 2;
  } else if (t.tag == 0x18) {  // GeneralizedTime: YYYYMMDDhhmmss[.f*]Z (4.1.2.5.2)
    if (n < 15 || !digits(p, 4, year)) return false;
    if (n > 15) {  // fractional seconds (DER forbids them; BER certificates have them): dropped
      if (p[14] != '.' || n == 16) return false;
      for (uint32_t i = 15; i + 1 < n; ++i) {
        if (p[i] < '0' || p[i] > '9') return false;
      }
    }
    p += 4;
    n = 11;  // MMDDhhmmssZ
  } else {
    return false;
  }
  if (!digits(p, 2, mon) || !digits(p + 2, 2, day) || !digits(p + 4, 2, hour) ||
      !digits(p + 6, 2, min) || (n == 11 && !digits(p + 8, 2, sec))) {
    return false;
  }
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) return false;
  if (off_min != 0) {
    const int64_t m = (days_from_civil(year, mon, day) * 24 + hour) * 60 + min - off_min;
    const int64_t days = m >= 0 ? m / 1440 : (m - 1439) / 1440;
    const int64_t in_day = m - days * 1440;
    civil_from_days(days, year, mon, day);
    hour = static_cast<int>(in_day / 60);
    min = static_cast<int>(in_day % 60);
    if (year < 0 || year > 9999) return false;
  }
  out.dec(static_cast<uint64_t>(year / 1000));
  out.dec(static_cast<uint64_t>(year / 100 % 10));
  two(out, year % 100);
  out.put('-');
  two(out, mon);
  out.put('-');
  two(out, day);
  out.put('T');
  two(out, hour);
  out.put(':');
  two(out, min);
  out.put(':');
  two(out, sec);
  out.put('Z');
  return true;
}

void serial_text(Bytes serial, Text& out) noexcept {
  uint32_t i = 0;
  if (serial.n > 1 && serial.p[0] == 0 && (serial.p[1] & 0x80)) i = 1;
  out.hex(serial.p + i, serial.n - i, true);
}

uint32_t san_lists(Bytes san, SanLists& out) noexcept {
  uint32_t count = 0;
  Reader r(san);
  Tlv gn;
  while (!r.at_end() && der_next(r, gn)) {
    ++count;
    switch (gn.tag) {
      case 0x82:  // dNSName [2] IA5String
        out.dns->put_item(gn.val.str());
        break;
      case 0x81:  // rfc822Name [1]
        out.email->put_item(gn.val.str());
        break;
      case 0x86:  // uniformResourceIdentifier [6]
        out.uri->put_item(gn.val.str());
        break;
      case 0x87: {  // iPAddress [7] OCTET STRING: 4 or 16 bytes
        char buf[64];
        Text ip(buf, sizeof buf);
        ip.ip(gn.val.p, gn.val.n > 24 ? 24 : gn.val.n);
        out.ip->put_item(ip.view());
        break;
      }
      default:
        break;
    }
  }
  return count;
}

bool self_issued(const CertInfo& ci) noexcept {
  if (ci.issuer.n != ci.subject.n || ci.issuer.n == 0) return false;
  if (std::memcmp(ci.issuer.p, ci.subject.p, ci.issuer.n) != 0) return false;
  if (!ci.ski.empty() && !ci.aki.empty()) {
    return ci.ski.n == ci.aki.n && std::memcmp(ci.ski.p, ci.aki.p, ci.ski.n) == 0;
  }
  return true;
}

}  // namespace flowscribe::dissect::tls
