// The low-level digest API is deprecated in OpenSSL 3 in favour of EVP, whose calls allocate
// a context per digest (docs/protocols.md "TLS"): we keep the low-level one on purpose.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "dissectors/tls/digest.h"

#include <openssl/md5.h>
#include <openssl/sha.h>


namespace flowscribe::dissect::tls {

static_assert(sizeof(MD5_CTX) <= 128 && sizeof(SHA_CTX) <= 128 && sizeof(SHA256_CTX) <= 128);

Digest::Digest(DigestKind k) noexcept : kind_(k) {
  switch (kind_) {
    case DigestKind::kMd5: MD5_Init(reinterpret_cast<MD5_CTX*>(ctx_)); break;
    case DigestKind::kSha1: SHA1_Init(reinterpret_cast<SHA_CTX*>(ctx_)); break;
    case DigestKind::kSha256: SHA256_Init(reinterpret_cast<SHA256_CTX*>(ctx_)); break;
  }
}

void Digest::update(const void* p, size_t n) noexcept {
  switch (kind_) {
    case DigestKind::kMd5: MD5_Update(reinterpret_cast<MD5_CTX*>(ctx_), p, n); break;
    case DigestKind::kSha1: SHA1_Update(reinterpret_cast<SHA_CTX*>(ctx_), p, n); break;
    case DigestKind::kSha256: SHA256_Update(reinterpret_cast<SHA256_CTX*>(ctx_), p, n); break;
  }
}

void Digest::final(uint8_t* out) noexcept {
  switch (kind_) {
    case DigestKind::kMd5: MD5_Final(out, reinterpret_cast<MD5_CTX*>(ctx_)); break;
    case DigestKind::kSha1: SHA1_Final(out, reinterpret_cast<SHA_CTX*>(ctx_)); break;
    case DigestKind::kSha256: SHA256_Final(out, reinterpret_cast<SHA256_CTX*>(ctx_)); break;
  }
}

void sha1(const uint8_t* p, size_t n, uint8_t out[20]) noexcept {
  Digest d(DigestKind::kSha1);
  d.update(p, n);
  d.final(out);
}

void sha256(const uint8_t* p, size_t n, uint8_t out[32]) noexcept {
  Digest d(DigestKind::kSha256);
  d.update(p, n);
  d.final(out);
}

}  // namespace flowscribe::dissect::tls
