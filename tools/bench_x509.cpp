// X.509 parsing and certificate digests, measured both ways the TLS dissector could do them
// (docs/protocols.md "TLS", "Parsing certificates: measured"):
//   own     dissectors/tls/x509.cpp: bounded DER walk + every field the x509 record carries
//   openssl d2i_X509 + the same fields through OpenSSL's API (names RFC 2253, serial, times,
//           SANs, key size), then X509_free; and d2i_X509 + X509_free alone
//   digests SHA-256 + SHA-1 of the DER: OpenSSL's low-level *_Init/Update/Final (what the
//           dissector uses) and OpenSSL 3's one-shot SHA256()/SHA1()
// For each: ns per certificate and heap allocations per certificate (malloc is interposed).
// The certificates are the ones in the real handshakes of tests/unit/tls_fixtures.h (cut
// from tests/captures/dissect/tls/tls.pcap).
//   usage: bench_x509 [ITERATIONS]   (default 20000 per certificate)
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "dissectors/tls/digest.h"
#include "dissectors/tls/x509.h"
#include "tests/unit/tls_fixtures.h"

extern "C" void* __libc_malloc(size_t);
extern "C" void* __libc_calloc(size_t, size_t);
extern "C" void* __libc_realloc(void*, size_t);
static long g_allocs = 0;
extern "C" void* malloc(size_t n) {
  ++g_allocs;
  return __libc_malloc(n);
}
extern "C" void* calloc(size_t a, size_t b) {
  ++g_allocs;
  return __libc_calloc(a, b);
}
extern "C" void* realloc(void* p, size_t n) {
  ++g_allocs;
  return __libc_realloc(p, n);
}

namespace {

using namespace flowscribe::dissect;

// Certificates of the Certificate messages in a server's first flight.
void certs_of(std::string_view flight, std::vector<std::string_view>& out) {
  std::string hs;
  for (size_t o = 0; o + 5 <= flight.size();) {
    const size_t n = static_cast<uint8_t>(flight[o + 3]) << 8 | static_cast<uint8_t>(flight[o + 4]);
    if (flight[o] == 22) hs.append(flight.substr(o + 5, n));
    o += 5 + n;
  }
  static std::vector<std::string> keep;
  keep.push_back(hs);
  const std::string& h = keep.back();
  auto u24 = [&](size_t o) {
    return size_t{static_cast<uint8_t>(h[o])} << 16 | size_t{static_cast<uint8_t>(h[o + 1])} << 8 |
           static_cast<uint8_t>(h[o + 2]);
  };
  for (size_t o = 0; o + 4 <= h.size();) {
    const size_t n = u24(o + 1);
    if (h[o] == 11) {
      for (size_t c = o + 7; c + 3 <= o + 4 + n;) {
        const size_t l = u24(c);
        out.push_back(std::string_view(h).substr(c + 3, l));
        c += 3 + l;
      }
    }
    o += 4 + n;
  }
}

volatile size_t g_sink = 0;

size_t own(std::string_view der) {
  const Bytes b{reinterpret_cast<const uint8_t*>(der.data()), static_cast<uint32_t>(der.size())};
  tls::CertInfo ci;
  tls::parse_cert(b, ci);
  char buf[2048], d[512], i[64], e[64], u[64];
  tls::Text t(buf, sizeof buf);
  tls::dn_text(ci.subject, t);
  tls::dn_text(ci.issuer, t);
  tls::serial_text(ci.serial, t);
  tls::time_text(ci.not_before, t);
  tls::time_text(ci.not_after, t);
  tls::dn_attr(ci.subject, 3, t);
  tls::Text dt(d, sizeof d), it(i, sizeof i), et(e, sizeof e), ut(u, sizeof u);
  tls::SanLists l{&dt, &it, &et, &ut};
  if (ci.has_san) tls::san_lists(ci.san, l);
  return t.size() + dt.size() + ci.key_bits + tls::self_issued(ci);
}

size_t ossl(std::string_view der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  X509* x = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (x == nullptr) return 0;
  size_t n = 0;
  BIO* bio = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(bio, X509_get_subject_name(x), 0, XN_FLAG_RFC2253);
  X509_NAME_print_ex(bio, X509_get_issuer_name(x), 0, XN_FLAG_RFC2253);
  i2a_ASN1_INTEGER(bio, X509_get_serialNumber(x));
  ASN1_TIME_print(bio, X509_get0_notBefore(x));
  ASN1_TIME_print(bio, X509_get0_notAfter(x));
  char cn[256];
  X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
  n += BIO_pending(bio);
  BIO_free(bio);
  GENERAL_NAMES* gens = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr));
  if (gens) {
    n += static_cast<size_t>(sk_GENERAL_NAME_num(gens));
    GENERAL_NAMES_free(gens);
  }
  EVP_PKEY* k = X509_get0_pubkey(x);
  if (k) n += static_cast<size_t>(EVP_PKEY_bits(k));
  n += X509_check_issued(x, x) == X509_V_OK;
  X509_free(x);
  return n;
}

size_t ossl_parse_only(std::string_view der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  X509* x = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (x == nullptr) return 0;
  X509_free(x);
  return 1;
}

size_t dig_low(std::string_view der) {
  uint8_t a[32], b[20];
  tls::sha256(reinterpret_cast<const uint8_t*>(der.data()), der.size(), a);
  tls::sha1(reinterpret_cast<const uint8_t*>(der.data()), der.size(), b);
  return a[0] + b[0];
}

size_t dig_oneshot(std::string_view der) {
  uint8_t a[32], b[20];
  SHA256(reinterpret_cast<const uint8_t*>(der.data()), der.size(), a);
  SHA1(reinterpret_cast<const uint8_t*>(der.data()), der.size(), b);
  return a[0] + b[0];
}

template <typename Fn>
void measure(const char* name, const std::vector<std::string_view>& certs, int iters, Fn fn) {
  for (auto c : certs) g_sink = g_sink + fn(c);  // warm up (OpenSSL loads its providers here)
  const long a0 = g_allocs;
  for (auto c : certs) g_sink = g_sink + fn(c);
  const double allocs = static_cast<double>(g_allocs - a0) / static_cast<double>(certs.size());
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i) {
    for (auto c : certs) g_sink = g_sink + fn(c);
  }
  const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%-26s %9.0f ns/cert %7.1f allocations/cert\n", name, ns / (static_cast<double>(iters) * certs.size()), allocs);
}

}  // namespace

int main(int argc, char** argv) {
  const int iters = argc > 1 ? std::atoi(argv[1]) : 20000;
  std::vector<std::string_view> certs;
  certs_of(tls_fixtures::k443_1_server, certs);
  certs_of(tls_fixtures::k8443_1_server, certs);
  certs_of(tls_fixtures::k9443_1_server, certs);
  size_t bytes = 0;
  for (auto c : certs) bytes += c.size();
  std::printf("%zu certificates (RSA-2048, ECDSA P-256 leaf + P-384 CA, Ed25519), %zu bytes of DER\n",
              certs.size(), bytes);
  measure("own DER reader + fields", certs, iters, own);
  measure("OpenSSL d2i_X509 + fields", certs, iters, ossl);
  measure("OpenSSL d2i_X509 only", certs, iters, ossl_parse_only);
  measure("SHA-256+SHA-1 low-level", certs, iters, dig_low);
  measure("SHA-256+SHA-1 one-shot", certs, iters, dig_oneshot);
  return 0;
}
