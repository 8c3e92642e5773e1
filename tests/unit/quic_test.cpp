// QUIC Initial packets read by the TLS dissector (dissectors/tls/quic.h): the key schedule
// against the RFC test vectors, and Initial packets built here with OpenSSL's own AES-GCM
// (EVP, an implementation independent of the dissector's counter mode) around the ClientHello
// and ServerHello of a real TLS exchange (tls_fixtures.h): records written, CRYPTO frames in
// any order and split over packets, every truncation of a datagram.
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wrestrict"
#endif
#include <openssl/evp.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "dissectors/tls/quic.h"
#include "dissectors/tls/tls.h"
#include "tests/unit/dissect_harness.h"
#include "tests/unit/tls_fixtures.h"

namespace {

namespace quic = flowscribe::dissect::tls::quic;
using flowscribe::dissect::Progress;
using flowscribe::test::FlowUnderTest;
using flowscribe::test::RecordCollector;
using Bytes = std::vector<uint8_t>;

Bytes hex(std::string_view h) {
  Bytes out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  return out;
}
Bytes span(const uint8_t* p, size_t n) { return Bytes(p, p + n); }

const Bytes kDcid = hex("8394c8f03e515708");  // RFC 9001 appendix A

TEST_CASE("quic: Initial keys of RFC 9001 appendix A.1 and RFC 9369 appendix A.1") {
  quic::Keys c, s;
  REQUIRE(quic::initial_keys(quic::kV1, kDcid.data(), 8, false, c));
  REQUIRE(quic::initial_keys(quic::kV1, kDcid.data(), 8, true, s));
  CHECK(span(c.key, 16) == hex("1f369613dd76d5467730efcbe3b1a22d"));
  CHECK(span(c.iv, 12) == hex("fa044b2f42a3fd3b46fb255c"));
  CHECK(span(c.hp, 16) == hex("9f50449e04a0e810283a1e9933adedd2"));
  CHECK(span(s.key, 16) == hex("cf3a5331653c364c88f0f379b6067e37"));
  CHECK(span(s.iv, 12) == hex("0ac1493ca1905853b0bba03e"));
  CHECK(span(s.hp, 16) == hex("c206b8d9b9f0f37644430b490eeaa314"));
  REQUIRE(quic::initial_keys(quic::kV2, kDcid.data(), 8, false, c));
  CHECK(span(c.key, 16) == hex("8b1a0bc121284290a29e0971b5cd045d"));
  CHECK(span(c.iv, 12) == hex("91f73e2351d8fa91660e909f"));
  CHECK(span(c.hp, 16) == hex("45b95e15235d6f45a6b19cbcb0294ba9"));
  CHECK_FALSE(quic::initial_keys(0xff00001d, kDcid.data(), 8, false, c));  // draft-29: no salt
}

void put_varint(Bytes& b, uint64_t v) {
  if (v < 64) {
    b.push_back(static_cast<uint8_t>(v));
  } else {
    b.push_back(static_cast<uint8_t>(0x40 | v >> 8));
    b.push_back(static_cast<uint8_t>(v));
  }
}

// One CRYPTO frame.
Bytes crypto(uint64_t offset, const Bytes& data) {
  Bytes f{0x06};
  put_varint(f, offset);
  put_varint(f, data.size());
  f.insert(f.end(), data.begin(), data.end());
  return f;
}

// A protected Initial packet (RFC 9001 section 5) of `version` carrying `frames`, padded,
// keyed by the client's DCID; `dcid` is the packet's own Destination Connection ID.
Bytes initial(uint32_t version, bool server, const Bytes& dcid, Bytes frames, uint32_t pn) {
  quic::Keys k;
  REQUIRE(quic::initial_keys(version, kDcid.data(), 8, server, k));
  while (frames.size() < 64) frames.push_back(0);  // PADDING: room for the header sample
  const bool v2 = version == quic::kV2;
  Bytes h{static_cast<uint8_t>(0xc0 | (v2 ? 0x10 : 0x00) | 0x01)};  // 2-byte packet number
  for (int i = 3; i >= 0; --i) h.push_back(static_cast<uint8_t>(version >> (8 * i)));
  h.push_back(static_cast<uint8_t>(dcid.size()));
  h.insert(h.end(), dcid.begin(), dcid.end());
  h.push_back(4);  // SCID
  for (uint8_t x : {0xaa, 0xbb, 0xcc, 0xdd}) h.push_back(x);
  h.push_back(0);  // token length
  put_varint(h, 2 + frames.size() + 16);
  const size_t pn_off = h.size();
  h.push_back(static_cast<uint8_t>(pn >> 8));
  h.push_back(static_cast<uint8_t>(pn));
  uint8_t nonce[12];
  std::memcpy(nonce, k.iv, 12);
  nonce[10] ^= static_cast<uint8_t>(pn >> 8);
  nonce[11] ^= static_cast<uint8_t>(pn);
  Bytes ct(frames.size() + 16);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int len = 0;
  REQUIRE(EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), nullptr, k.key, nonce) == 1);
  REQUIRE(EVP_EncryptUpdate(ctx, nullptr, &len, h.data(), static_cast<int>(h.size())) == 1);  // AAD
  REQUIRE(EVP_EncryptUpdate(ctx, ct.data(), &len, frames.data(), static_cast<int>(frames.size())) == 1);
  REQUIRE(EVP_EncryptFinal_ex(ctx, ct.data() + len, &len) == 1);
  REQUIRE(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, ct.data() + frames.size()) == 1);
  EVP_CIPHER_CTX_free(ctx);
  Bytes pkt = h;
  pkt.insert(pkt.end(), ct.begin(), ct.end());
  // Header protection with AES-ECB over the sample 4 bytes after the packet number.
  uint8_t mask[16];
  EVP_CIPHER_CTX* e = EVP_CIPHER_CTX_new();
  REQUIRE(EVP_EncryptInit_ex(e, EVP_aes_128_ecb(), nullptr, k.hp, nullptr) == 1);
  EVP_CIPHER_CTX_set_padding(e, 0);
  REQUIRE(EVP_EncryptUpdate(e, mask, &len, pkt.data() + pn_off + 4, 16) == 1);
  EVP_CIPHER_CTX_free(e);
  pkt[0] ^= mask[0] & 0x0f;
  pkt[pn_off] ^= mask[1];
  pkt[pn_off + 1] ^= mask[2];
  return pkt;
}

// The handshake messages of the real TLS 1.2 exchange (record headers off).
Bytes client_hello() {
  const std::string_view r = tls_fixtures::k443_1_client;
  const size_t n = 4 + (static_cast<uint8_t>(r[7]) << 8 | static_cast<uint8_t>(r[8]));
  return Bytes(r.begin() + 5, r.begin() + 5 + static_cast<long>(n));
}
Bytes server_hello() {
  const std::string_view r = tls_fixtures::k443_1_server;
  const size_t n = 4 + (static_cast<uint8_t>(r[7]) << 8 | static_cast<uint8_t>(r[8]));
  return Bytes(r.begin() + 5, r.begin() + 5 + static_cast<long>(n));
}

struct Run {
  std::vector<std::vector<std::pair<std::string, std::string>>> fields;
  Progress last = Progress::kMore;
};

Run run(const std::vector<std::pair<bool, Bytes>>& datagrams, size_t cut = SIZE_MAX) {
  auto d = flowscribe::dissect::make_tls_dissector();
  FlowUnderTest f(*d, 17, 50000, 443, static_cast<uint16_t>(flowscribe::AppProto::kQuic));
  Run out;
  for (const auto& [from_client, b] : datagrams) {
    const size_t n = std::min(cut, b.size());
    std::unique_ptr<uint8_t[]> copy(new uint8_t[n + 1]);  // exactly sized: ASan sees over-reads
    std::memcpy(copy.get(), b.data(), n);
    out.last = f.data(from_client, copy.get(), static_cast<uint32_t>(n));
    if (out.last != Progress::kMore) break;
  }
  f.end();
  for (auto& r : f.out.records) out.fields.push_back(RecordCollector::fields(*r));
  return out;
}

std::string get(const std::vector<std::pair<std::string, std::string>>& fs, std::string_view k) {
  for (auto& [n, v] : fs) {
    if (n == k) return v;
  }
  return "<absent>";
}

TEST_CASE("quic: the hellos of Initial packets make the tls record, JA4 with q") {
  for (uint32_t version : {quic::kV1, quic::kV2}) {
    INFO("version " << std::hex << version);
    const Bytes ch = client_hello(), sh = server_hello();
    const Run r = run({{true, initial(version, false, kDcid, crypto(0, ch), 0)},
                       {false, initial(version, true, hex("aabbccdd"), crypto(0, sh), 0)}});
    CHECK(r.last == Progress::kDone);
    REQUIRE(r.fields.size() == 1);
    const auto& t = r.fields[0];
    CHECK(get(t, "tls.sni") == "selfsigned.tls.test");
    CHECK(get(t, "tls.cipher") == "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
    CHECK(get(t, "tls.ja4").substr(0, 10) == "q12d2807h2");  // as t12d2807h2 over TCP
    CHECK(get(t, "tls.ja3").size() == 32);
  }
}

TEST_CASE("quic: CRYPTO frames out of order, split over packets, repeated") {
  const Bytes ch = client_hello();
  const size_t a = 70, b = 150;
  const Bytes p1(ch.begin(), ch.begin() + a), p2(ch.begin() + a, ch.begin() + b),
      p3(ch.begin() + b, ch.end());
  Bytes frames = crypto(b, p3);
  const Bytes f1 = crypto(0, p1);
  frames.insert(frames.end(), f1.begin(), f1.end());
  const Run r = run({{true, initial(quic::kV1, false, kDcid, frames, 0)},
                     {true, initial(quic::kV1, false, kDcid, crypto(b, p3), 1)},  // again
                     {true, initial(quic::kV1, false, kDcid, crypto(a, p2), 2)},
                     {false, initial(quic::kV1, true, hex("aabbccdd"), crypto(0, server_hello()), 0)}});
  REQUIRE(r.fields.size() == 1);
  CHECK(get(r.fields[0], "tls.sni") == "selfsigned.tls.test");
  CHECK(get(r.fields[0], "tls.cipher") == "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
}

TEST_CASE("quic: every truncation of the datagrams is safe") {
  const std::vector<std::pair<bool, Bytes>> d = {
      {true, initial(quic::kV1, false, kDcid, crypto(0, client_hello()), 0)},
      {false, initial(quic::kV1, true, hex("aabbccdd"), crypto(0, server_hello()), 0)}};
  for (size_t cut = 0; cut <= d[0].second.size(); ++cut) {
    INFO("cut " << cut);
    const Run r = run(d, cut);
    CHECK(r.fields.size() <= 1);
  }
}

TEST_CASE("quic: CRYPTO bytes that are no hello write no record") {
  const Bytes junk(80, 0x17);  // a CRYPTO stream not starting with a ClientHello
  const Run r = run({{true, initial(quic::kV1, false, kDcid, crypto(0, junk), 0)},
                     {false, initial(quic::kV1, true, hex("aabbccdd"), crypto(0, junk), 0)}});
  CHECK(r.last == Progress::kDone);
  CHECK(r.fields.empty());
}

TEST_CASE("quic: what is not an Initial of a known version is read as nothing") {
  Bytes short_hdr(64, 0x41);  // 1-RTT short header
  Bytes unknown = initial(quic::kV1, false, kDcid, crypto(0, client_hello()), 0);
  unknown[4] = 0x1d;  // version 0x0000001d: no salt
  const Run r = run({{true, short_hdr}, {true, unknown}});
  CHECK(r.fields.empty());
  CHECK(r.last == Progress::kMore);
}

}  // namespace
