// The low-level SHA-256 and AES calls are deprecated in OpenSSL 3 in favour of EVP, whose
// contexts are allocated (docs/protocols.md "TLS"): kept on purpose, as in digest.cpp.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "dissectors/tls/quic.h"

#include <openssl/aes.h>
#include <openssl/sha.h>

#include <cstring>

namespace flowscribe::dissect::tls::quic {
namespace {

// RFC 9001 section 5.2 and RFC 9369 section 3.3.1.
constexpr uint8_t kSaltV1[20] = {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
                                 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a};
constexpr uint8_t kSaltV2[20] = {0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
                                 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9};

void hmac_sha256(const uint8_t* key, uint32_t key_len, const uint8_t* a, uint32_t a_len,
                 const uint8_t* b, uint32_t b_len, uint8_t out[32]) noexcept {
  uint8_t k[64] = {};
  if (key_len > 64) {
    SHA256(key, key_len, k);
  } else {
    std::memcpy(k, key, key_len);
  }
  uint8_t pad[64];
  SHA256_CTX c;
  for (int i = 0; i < 64; ++i) pad[i] = static_cast<uint8_t>(k[i] ^ 0x36);
  SHA256_Init(&c);
  SHA256_Update(&c, pad, 64);
  SHA256_Update(&c, a, a_len);
  if (b_len) SHA256_Update(&c, b, b_len);
  uint8_t inner[32];
  SHA256_Final(inner, &c);
  for (int i = 0; i < 64; ++i) pad[i] = static_cast<uint8_t>(k[i] ^ 0x5c);
  SHA256_Init(&c);
  SHA256_Update(&c, pad, 64);
  SHA256_Update(&c, inner, 32);
  SHA256_Final(out, &c);
}

// HKDF-Expand-Label (RFC 8446 section 7.1) with an empty context, at most 32 bytes (one block).
void expand_label(const uint8_t secret[32], const char* label, uint8_t* out,
                  uint32_t len) noexcept {
  uint8_t info[64];
  const uint32_t ll = static_cast<uint32_t>(std::strlen(label));
  uint32_t n = 0;
  info[n++] = static_cast<uint8_t>(len >> 8);
  info[n++] = static_cast<uint8_t>(len);
  info[n++] = static_cast<uint8_t>(6 + ll);
  std::memcpy(info + n, "tls13 ", 6);
  n += 6;
  std::memcpy(info + n, label, ll);
  n += ll;
  info[n++] = 0;  // context
  info[n++] = 1;  // T(1)
  uint8_t t[32];
  hmac_sha256(secret, 32, info, n, nullptr, 0, t);
  std::memcpy(out, t, len);
}

}  // namespace

bool varint(const uint8_t* p, uint32_t n, uint32_t* off, uint64_t* v) noexcept {
  if (*off >= n) return false;
  const uint32_t len = 1u << (p[*off] >> 6);
  if (len > n - *off) return false;
  uint64_t x = p[*off] & 0x3f;
  for (uint32_t i = 1; i < len; ++i) x = x << 8 | p[*off + i];
  *off += len;
  *v = x;
  return true;
}

bool initial_keys(uint32_t version, const uint8_t* dcid, uint32_t dcid_len, bool server,
                  Keys& out) noexcept {
  const bool v2 = version == kV2;
  if (version != kV1 && !v2) return false;
  uint8_t initial[32], side[32];
  hmac_sha256(v2 ? kSaltV2 : kSaltV1, 20, dcid, dcid_len, nullptr, 0, initial);  // HKDF-Extract
  expand_label(initial, server ? "server in" : "client in", side, 32);
  expand_label(side, v2 ? "quicv2 key" : "quic key", out.key, 16);
  expand_label(side, v2 ? "quicv2 iv" : "quic iv", out.iv, 12);
  expand_label(side, v2 ? "quicv2 hp" : "quic hp", out.hp, 16);
  return true;
}

bool open_packet(const uint8_t* p, uint32_t n, const uint8_t* key_dcid, uint32_t key_dcid_len,
                 bool from_server, uint8_t* plain, uint32_t cap, Packet& out) noexcept {
  out = Packet{};
  if (n < 7 || !(p[0] & 0x80)) return false;  // a short header (1-RTT) or too short
  out.version = uint32_t{p[1]} << 24 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 8 | p[4];
  uint32_t off = 5;
  const uint8_t dl = p[off++];
  if (dl > kMaxCid || off + dl + 1 > n) return false;
  out.dcid = p + off;
  out.dcid_len = dl;
  off += dl;
  const uint8_t sl = p[off++];
  if (sl > kMaxCid || off + sl > n) return false;
  off += sl;
  if (out.version == 0) {  // version negotiation: the rest of the datagram
    out.length = n;
    return true;
  }
  const uint32_t type = (p[0] >> 4) & 3;
  const bool v2 = out.version == kV2;
  const bool initial = v2 ? type == 1 : type == 0;
  const bool retry = v2 ? type == 0 : type == 3;
  if (retry) {
    out.length = n;
    return true;
  }
  if (initial) {
    uint64_t token = 0;
    if (!varint(p, n, &off, &token) || token > n - off) return false;
    off += static_cast<uint32_t>(token);
  }
  uint64_t length = 0;
  if (!varint(p, n, &off, &length) || length > n - off) return false;
  out.length = off + static_cast<uint32_t>(length);
  if (!initial) return true;  // Handshake and 0-RTT keys are not derivable: stepped over
  Keys k;
  if (!initial_keys(out.version, key_dcid ? key_dcid : out.dcid,
                    key_dcid ? key_dcid_len : out.dcid_len, from_server, k)) {
    return true;  // a version we have no salt for: seen, not read
  }
  out.initial = true;
  // Header protection (RFC 9001 section 5.4): the sample starts 4 bytes after the packet
  // number's first byte; the packet number is 1-4 bytes.
  const uint32_t pn_off = off;
  if (length < 20 || pn_off + 4 + 16 > out.length) return true;
  AES_KEY hp;
  AES_set_encrypt_key(k.hp, 128, &hp);
  uint8_t mask[16];
  AES_encrypt(p + pn_off + 4, mask, &hp);
  const uint8_t first = static_cast<uint8_t>(p[0] ^ (mask[0] & 0x0f));
  const uint32_t pn_len = (first & 3) + 1u;
  uint8_t nonce[12];
  std::memcpy(nonce, k.iv, 12);
  for (uint32_t i = 0; i < pn_len; ++i) {
    nonce[12 - pn_len + i] ^= static_cast<uint8_t>(p[pn_off + i] ^ mask[1 + i]);
  }
  // AES-128-GCM without the tag: counter mode from inc32(J0), J0 = nonce || 1.
  const uint32_t start = pn_off + pn_len;
  const uint32_t end = out.length - 16;
  if (end <= start) return true;
  const uint32_t len = end - start < cap ? end - start : cap;
  AES_KEY ks;
  AES_set_encrypt_key(k.key, 128, &ks);
  uint8_t ctr[16], stream[16];
  std::memcpy(ctr, nonce, 12);
  uint32_t counter = 2;
  for (uint32_t i = 0; i < len; i += 16) {
    ctr[12] = static_cast<uint8_t>(counter >> 24);
    ctr[13] = static_cast<uint8_t>(counter >> 16);
    ctr[14] = static_cast<uint8_t>(counter >> 8);
    ctr[15] = static_cast<uint8_t>(counter);
    ++counter;
    AES_encrypt(ctr, stream, &ks);
    const uint32_t m = len - i < 16 ? len - i : 16;
    for (uint32_t j = 0; j < m; ++j) plain[i + j] = static_cast<uint8_t>(p[start + i + j] ^ stream[j]);
  }
  out.plain_len = len;
  return true;
}

}  // namespace flowscribe::dissect::tls::quic
