#pragma once
// A bounded DER reader for X.509 certificates (RFC 5280 section 4.1): walks the structure
// once, keeps views into the caller's bytes, never allocates and never copies. The choice
// against OpenSSL's d2i_X509 was measured (tools/bench_x509.cpp, docs/protocols.md "TLS").
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dissectors/classify/reader.h"
#include "dissectors/tls/text.h"

namespace flowscribe::dissect::tls {

// One DER TLV: low-tag-number form only (every tag X.509 uses), definite length.
struct Tlv {
  uint8_t tag = 0;
  Bytes val;  // contents
  Bytes all;  // tag, length and contents
};
// Reads the next TLV from `r`; false (and `r` bad) on a malformed header or a length past
// the end of `r`'s bytes.
bool der_next(Reader& r, Tlv& t) noexcept;

enum class KeyType : uint8_t { kUnknown, kRsa, kEcdsa, kDsa, kEd25519, kEd448, kX25519, kX448, kRsaPss,
                              kMlDsa44, kMlDsa65, kMlDsa87 };

struct CertInfo {
  const char* error = nullptr;  // why parsing stopped (fields before it are valid)
  uint8_t version = 1;          // 1..3 (the DER value + 1)
  Bytes serial;                 // INTEGER contents
  Bytes sig_oid;                // outer signatureAlgorithm OID contents
  Bytes issuer, subject;        // Name: the RDNSequence contents
  Tlv not_before, not_after;
  Bytes key_oid, key_param_oid;  // SubjectPublicKeyInfo algorithm and (EC) curve
  KeyType key_type = KeyType::kUnknown;
  uint32_t key_bits = 0;
  Bytes san;                    // GeneralNames contents (absent: empty, has_san false)
  bool has_san = false;
  bool has_bc = false, ca = false;
  Bytes ski, aki;               // subjectKeyIdentifier, authorityKeyIdentifier.keyIdentifier
  uint32_t extensions = 0;
  bool ext_cap = false;         // more extensions than kMaxExtensions: the rest not read
};
inline constexpr uint32_t kMaxExtensions = 64;

// Parses `der` (one Certificate). Returns true when the whole TBSCertificate was read;
// false with ci.error set otherwise (whatever was read before the error stays set).
// `prefix`: `der` is only the certificate's first bytes (one too large to keep whole): the
// Certificate and TBSCertificate SEQUENCEs may claim more than is here, every field read
// must still be whole (the subject, issuer, serial and validity come first).
bool parse_cert(Bytes der, CertInfo& ci, bool prefix = false) noexcept;

// Names for OIDs (OpenSSL's names, as Zeek and `openssl x509 -text` print them); nullptr
// when this build does not know the OID.
const char* sig_alg_name(Bytes oid) noexcept;
const char* key_alg_name(Bytes oid) noexcept;
const char* curve_name(Bytes oid) noexcept;
const char* key_type_name(KeyType t) noexcept;
// Dotted-decimal text of OID contents ("1.2.840.113549.1.1.11").
void oid_text(Bytes oid, Text& out) noexcept;

// RFC 4514 string of a Name (RDNs last to first, ',' between them, '+' inside a
// multi-valued RDN, RFC 4514 section 2.4 escapes, control bytes as \XX). Attribute names
// are OpenSSL's short names (CN, O, OU, C, ST, L, emailAddress, ...); unknown types are
// dotted OIDs with the value as '#' and the hex of its DER (section 2.4). Values become
// UTF-8 (BMPString, UniversalString and T61String converted). Returns false when the Name
// is malformed (what was written so far stays).
bool dn_text(Bytes name, Text& out) noexcept;
// The value of the last attribute `which` (2.5.4.<which>: 3 CN, 10 O) as UTF-8 without
// escaping; false if there is none.
bool dn_attr(Bytes name, uint8_t which, Text& out) noexcept;
// UTCTime / GeneralizedTime as RFC 3339 UTC ("2024-01-31T12:00:00Z"); false if the value is
// not a valid time in the forms RFC 5280 section 4.1.2.5 allows (plus UTCTime without
// seconds, which old certificates carry).
bool time_text(const Tlv& t, Text& out) noexcept;
// Serial number as uppercase hex, without the sign byte DER adds before a high bit.
void serial_text(Bytes serial, Text& out) noexcept;

// SubjectAltName lists. `dns`, `ip`, `email`, `uri` get comma-separated entries (an entry
// that does not fit is left out whole and sets `cut`); returns the number of GeneralNames.
struct SanLists {
  Text* dns;
  Text* ip;
  Text* email;
  Text* uri;
};
uint32_t san_lists(Bytes san, SanLists& out) noexcept;

// Issuer and subject equal (byte for byte, RFC 5280 section 7.1 allows that shortcut for
// identical encodings) and, when both key identifiers are present, AKI == SKI.
bool self_issued(const CertInfo& ci) noexcept;

}  // namespace flowscribe::dissect::tls
