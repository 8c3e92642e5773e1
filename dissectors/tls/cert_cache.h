#pragma once
// A per-worker cache of the certificates the TLS dissector has already turned into x509
// records (docs/performance.md, "Certificate cache"). Busy servers show the same chain to
// every client, and intermediates are shared by thousands of servers, so most certificates a
// sensor sees it has seen before; parsing the DER, hashing it twice (SHA-1, SHA-256) and
// writing its ~20 fields is ~30K instructions, copying the finished fields back is ~1K.
//
// An entry is found by a hash of the DER and then compared byte for byte, so a hit is the
// same certificate, never a lookalike: hostile traffic can only cause misses. Direct-mapped,
// fixed size, allocated and touched once at start; a certificate larger than kMaxDer is never
// cached, nor one whose record took continuation slots (more than kMaxBody of fields: a long
// SAN list; tls_cert_cache_skipped), so that a hit always gives the record a parse would.
#include <cstdint>
#include <cstring>
#include <memory>

namespace flowscribe::dissect::tls {

struct CertCacheEntry {
  static constexpr uint32_t kMaxDer = 2048, kMaxBody = 1920, kMaxText = 256;
  uint64_t hash;
  uint32_t der_len;     // 0: empty slot
  uint16_t body_len;    // x509 record fields after `pos`
  uint8_t self_signed;  // the leaf summary of the tls record
  uint8_t leaf_cut;     // a leaf summary text was cut (tls_field_truncated)
  uint16_t subject_len, issuer_len, san_len;
  // Counter increments the first parse made (replayed on every hit).
  uint8_t field_truncated, san_truncated, cert_error, ext_cap;
  uint8_t sha256[32];
  char subject[kMaxText], issuer[kMaxText], san[kMaxText];
  uint8_t body[kMaxBody];
  uint8_t der[kMaxDer];
};

class CertCache {
 public:
  static constexpr uint32_t kEntries = 512;  // ~2.6 MB per worker (the TLS dissector's)

  explicit CertCache(uint32_t entries = kEntries)
      : n_(entries == 0 ? 1 : entries), e_(new CertCacheEntry[n_]) {
    std::memset(static_cast<void*>(e_.get()), 0, sizeof(CertCacheEntry) * n_);
  }

  // Not absl::Hash: that is seeded per process, so which certificates shared a slot, and so
  // tls_cert_cache_hits, changed from one offline run of a capture to the next. A fixed mix
  // (8 bytes a step) gives the same slots every run; find() compares the bytes anyway, and a
  // 512-slot cache can be flushed by 512 certificates whatever the hash.
  static uint64_t hash_of(const uint8_t* der, uint32_t len) noexcept {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ len;
    uint32_t i = 0;
    for (; i + 8 <= len; i += 8) {
      uint64_t w;
      std::memcpy(&w, der + i, 8);
      h = (h ^ w) * 0xff51afd7ed558ccdull;
      h ^= h >> 32;
    }
    uint64_t tail = 0;
    std::memcpy(&tail, der + i, len - i);
    h = (h ^ tail) * 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 29);
  }

  // The entry holding exactly these DER bytes, or nullptr.
  const CertCacheEntry* find(const uint8_t* der, uint32_t len, uint64_t h) const noexcept {
    if (len == 0 || len > CertCacheEntry::kMaxDer) return nullptr;
    const CertCacheEntry& e = e_[h % n_];
    if (e.hash != h || e.der_len != len || std::memcmp(e.der, der, len) != 0) return nullptr;
    return &e;
  }

  // The slot for these bytes, to be filled by the caller (nullptr if they cannot be cached);
  // the previous occupant is gone.
  CertCacheEntry* slot(const uint8_t* der, uint32_t len, uint64_t h) noexcept {
    if (len == 0 || len > CertCacheEntry::kMaxDer) return nullptr;
    CertCacheEntry& e = e_[h % n_];
    e.hash = h;
    e.der_len = len;
    std::memcpy(e.der, der, len);
    return &e;
  }

 private:
  uint32_t n_;
  std::unique_ptr<CertCacheEntry[]> e_;
};

}  // namespace flowscribe::dissect::tls
