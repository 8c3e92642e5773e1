#pragma once
// The one path from a certificate's DER to its `x509` record (docs/records.md, "x509@PEN"),
// shared by every dissector that sees certificates: the TLS dissector (TLS, DTLS, QUIC
// handshakes), tlsup (RDP Standard RDP Security, MS-RDPBCGR 2.2.1.4.3) and ike (IKE CERT
// payloads). Parses with the bounded DER reader (x509.h), keeps a per-worker cache of
// finished records (cert_cache.h), and counts in the calling dissector's counters.
#include <cstdint>
#include <string_view>

#include "common/counters.h"
#include "dissectors/dissector.h"
#include "dissectors/tls/cert_cache.h"

namespace flowscribe::dissect::tls {

// Field caps kept in the leaf summary and in x509 records.
inline constexpr uint32_t kLeafDnCap = 256, kLeafSanCap = 256, kDnCap = 384, kNameCap = 96,
                          kSerialCap = 64;

// What the tls record says about the server's own certificate (pos 0).
struct LeafSummary {
  bool seen, self_signed;
  uint16_t subject_len, issuer_len, san_len;
  uint8_t sha256[32];
  char subject[kLeafDnCap];
  char issuer[kLeafDnCap];
  char san_dns[kLeafSanCap];
};

// The calling dissector's counters (members of its X-macro list).
struct X509Counters {
  Counter& certs;             // certificates seen
  Counter& cache_hits;        // ... whose record came from the cache
  Counter& errors;            // DER not read whole
  Counter& ext_cap;           // more extensions than x509.h reads
  Counter& field_truncated;   // a field cut to fit its cap or the record
  Counter& san_truncated;     // SAN lists cut to fit
  Counter& no_record_buffer;  // no record buffer free
  Counter* cache_skipped = nullptr;  // records with continuation slots: not cached
};

// Where a certificate came from, written as the record's `source` (and `sender`) right after
// `pos`; both empty for TLS handshakes (the record's fields are then exactly as before).
struct CertOrigin {
  std::string_view source;  // "rdp", "ike"
  std::string_view sender;  // "initiator" / "responder" (IKE); empty: the server
};

class X509Writer {
 public:
  // `cache_entries`: size of the certificate cache (a power of two is not needed).
  X509Writer(X509Counters c, uint32_t cache_entries = CertCache::kEntries)
      : cnt_(c), cache_(cache_entries) {}

  // One x509 record for the certificate `der` at chain position `pos`; fills `leaf` (when
  // not null) with the summary the tls record takes.
  void write(Ctx& c, const uint8_t* der, uint32_t len, uint32_t pos, CertOrigin origin,
             LeafSummary* leaf) noexcept;
  // A certificate too large to keep whole: `der` holds its first `len` bytes, `der_len` is
  // its size, `sha1`/`sha256` its fingerprints hashed as it went by. The fields those bytes
  // hold whole (serial, issuer, validity, subject, ...) are written, with `error` saying the
  // rest was not read. Never cached.
  void write_prefix(Ctx& c, const uint8_t* der, uint32_t len, uint32_t der_len,
                    const uint8_t sha1[20], const uint8_t sha256[32], uint32_t pos,
                    CertOrigin origin, LeafSummary* leaf) noexcept;
  // A certificate that was not parsed still gets its record: position, size, why.
  void write_error(Ctx& c, uint32_t pos, uint32_t len, const char* why, CertOrigin origin) noexcept;

 private:
  struct Prefix {
    uint32_t der_len;
    const uint8_t* sha1;
    const uint8_t* sha256;
  };
  void write_impl(Ctx& c, const uint8_t* der, uint32_t len, uint32_t pos, CertOrigin origin,
                  LeafSummary* leaf, const Prefix* pre) noexcept;

  X509Counters cnt_;
  CertCache cache_;
};

}  // namespace flowscribe::dissect::tls
