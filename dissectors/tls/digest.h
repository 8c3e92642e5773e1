#pragma once
// MD5 (JA3, JA3S), SHA-1 and SHA-256 (certificate fingerprints, JA4) over OpenSSL's
// low-level digest functions: they run on the caller's stack context, use the CPU's SHA
// instructions, and never allocate. OpenSSL 3's one-shot SHA1()/SHA256() and EVP_Digest()
// allocate three times per call (EVP_Q_digest), which a worker must not: measured in
// tools/bench_x509.cpp, see docs/protocols.md "TLS".
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace flowscribe::dissect::tls {

enum class DigestKind : uint8_t { kMd5, kSha1, kSha256 };

// An incremental digest; the context lives inline (no allocation).
class Digest {
 public:
  explicit Digest(DigestKind k) noexcept;
  void update(const void* p, size_t n) noexcept;
  void update(std::string_view s) noexcept { update(s.data(), s.size()); }
  // Writes 16, 20 or 32 bytes; the object is spent after it.
  void final(uint8_t* out) noexcept;

 private:
  DigestKind kind_;
  alignas(16) unsigned char ctx_[128];
};

void sha1(const uint8_t* p, size_t n, uint8_t out[20]) noexcept;
void sha256(const uint8_t* p, size_t n, uint8_t out[32]) noexcept;

}  // namespace flowscribe::dissect::tls
