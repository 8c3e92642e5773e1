// TLS dissector tests: handshakes cut from real traffic (tests/captures/dissect/tls/tls.pcap,
// fixtures in tls_fixtures.h), every truncation and every split of each, a hand-built
// ClientHello that reproduces the JA4 specification's example, and hostile inputs.
// GCC 12 at -O3 warns falsely (-Wrestrict, GCC bug 105329) on std::string copies inlined from
// the harness (RecordCollector::line/fields), as in dns_test.cpp.
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wrestrict"
#endif
#include <catch2/catch.hpp>
#include <openssl/evp.h>
#include <cstring>
#include <string>
#include <vector>

#include "dissectors/tls/tls.h"
#include "dissectors/tls/x509.h"
#include "tests/unit/dissect_harness.h"
#include "tests/unit/tls_fixtures.h"

namespace {

using flowscribe::dissect::Progress;
using flowscribe::test::FlowUnderTest;
using flowscribe::test::RecordCollector;
namespace fx = tls_fixtures;

struct Run {
  std::vector<std::string> lines;
  std::vector<std::vector<std::pair<std::string, std::string>>> fields;
  Progress last = Progress::kMore;
  int bad_commits = 0;
  size_t open = 0;
};

// Feeds the client bytes split at `cs`, then the server bytes split at `ss` (npos: whole),
// stops at kDone/kViolation as the app layer does, and ends the flow unless it was violated.
Run run(std::string_view client, std::string_view server, size_t cs = std::string_view::npos,
        size_t ss = std::string_view::npos) {
  auto d = flowscribe::dissect::make_tls_dissector();
  FlowUnderTest f(*d, 6, 40000, 443);
  Run out;
  bool stop = false;
  auto feed = [&](bool from_client, std::string_view b, size_t at) {
    const std::string_view parts[2] = {b.substr(0, std::min(at, b.size())),
                                       at < b.size() ? b.substr(at) : std::string_view{}};
    for (std::string_view p : parts) {
      if (stop || p.empty()) continue;
      out.last = f.data(from_client, p);
      if (out.last == Progress::kDone || out.last == Progress::kViolation) stop = true;
    }
  };
  feed(true, client, cs);
  feed(false, server, ss);
  if (out.last != Progress::kViolation) f.end();
  for (auto& r : f.out.records) {
    out.lines.push_back(RecordCollector::line(*r));
    out.fields.push_back(RecordCollector::fields(*r));
  }
  out.bad_commits = f.out.bad_commits;
  out.open = f.out.open_count();
  return out;
}

// The value of field `k` with the RFC 5424 escapes (\\ \" \]) undone: the bytes we wrote.
std::string get(const std::vector<std::pair<std::string, std::string>>& fs, std::string_view k) {
  for (auto& [n, v] : fs) {
    if (n != k) continue;
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] == '\\' && i + 1 < v.size() && (v[i + 1] == '\\' || v[i + 1] == '"' || v[i + 1] == ']')) ++i;
      out += v[i];
    }
    return out;
  }
  return "<absent>";
}

// The tls record is the last one; x509 records come first, in chain order.
const std::vector<std::pair<std::string, std::string>>& tls_rec(const Run& r) {
  REQUIRE(!r.fields.empty());
  return r.fields.back();
}

void be16(std::string& s, unsigned v) {
  s += static_cast<char>(v >> 8);
  s += static_cast<char>(v & 0xff);
}
void be24(std::string& s, unsigned v) {
  s += static_cast<char>(v >> 16);
  be16(s, v & 0xffff);
}
std::string ext(unsigned type, const std::string& body) {
  std::string s;
  be16(s, type);
  be16(s, static_cast<unsigned>(body.size()));
  s.append(body);
  return s;
}
std::string u16s(std::initializer_list<unsigned> v) {
  std::string s;
  for (unsigned x : v) be16(s, x);
  return s;
}
std::string record(uint8_t type, const std::string& body) {
  std::string s(1, static_cast<char>(type));
  be16(s, 0x0301);
  be16(s, static_cast<unsigned>(body.size()));
  s.append(body);
  return s;
}
std::string handshake(uint8_t type, const std::string& body) {
  std::string s(1, static_cast<char>(type));
  be24(s, static_cast<unsigned>(body.size()));
  s.append(body);
  return s;
}

// The JA4 specification's example ClientHello (technical_details/JA4.md: 15 ciphers, 16
// extensions, ALPN h2, its signature algorithms), with GREASE values added to the cipher,
// extension, group and version lists, which JA3 and JA4 must skip.
std::string ja4_example_hello(const std::string& sni = "example.com") {
  std::string body;
  be16(body, 0x0303);
  body += std::string(32, '\x11');
  body += '\0';  // session id
  const std::string cs = u16s({0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9,
                               0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035});
  be16(body, static_cast<unsigned>(cs.size()));
  body += cs;
  body += std::string("\x01\x00", 2);
  std::string sn;
  sn += '\0';
  be16(sn, static_cast<unsigned>(sni.size()));
  sn += sni;
  std::string snl;
  be16(snl, static_cast<unsigned>(sn.size()));
  snl += sn;
  const std::string sig = u16s({0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601});
  std::string sigl;
  be16(sigl, static_cast<unsigned>(sig.size()));
  sigl += sig;
  const std::string groups = u16s({0x0a0a, 0x001d, 0x0017, 0x0018});
  std::string gl;
  be16(gl, static_cast<unsigned>(groups.size()));
  gl += groups;
  std::string exts;
  for (const std::string& e :
       {ext(0x1a1a, ""), ext(0x001b, ""), ext(0x0000, snl), ext(0x0033, ""),
        ext(0x0010, std::string("\x00\x03\x02h2", 5)), ext(0x4469, ""), ext(0x0017, ""), ext(0x002d, ""),
        ext(0x000d, sigl), ext(0x0005, ""), ext(0x0023, ""), ext(0x0012, ""),
        ext(0x002b, std::string("\x04\x2a\x2a\x03\x04", 5)), ext(0xff01, ""),
        ext(0x000b, std::string("\x01\x00", 2)), ext(0x000a, gl), ext(0x0015, "")}) {
    exts.append(e);
  }
  be16(body, static_cast<unsigned>(exts.size()));
  body += exts;
  return record(22, handshake(1, body));
}

}  // namespace

TEST_CASE("tls: JA3 and JA4 of the JA4 specification's example hello") {
  const std::string hello = ja4_example_hello();
  const Run r = run(hello, "");
  REQUIRE(r.fields.size() == 1);
  const auto& t = r.fields[0];
  CHECK(get(t, "tls.ja4") == "t13d1516h2_8daaf6152771_e5627efa2ab1");
  // md5("771,4865-...-53,27-0-51-16-17513-23-45-13-5-35-18-43-65281-11-10-21,29-23-24,0")
  CHECK(get(t, "tls.ja3") == "c000e2caf3a25423f9de6c8a4b12a975");
  CHECK(get(t, "tls.sni") == "example.com");
  CHECK(get(t, "tls.client_alpn") == "h2");
  CHECK(get(t, "tls.client_version") == "TLSv1.3");
  CHECK(get(t, "tls.client_versions") == "TLSv1.3");
  CHECK(get(t, "tls.cipher_count") == "15");
  CHECK(get(t, "tls.partial") == "true");
  CHECK(get(t, "tls.version") == "<absent>");
}

TEST_CASE("tls: RSA self-signed TLS 1.2 handshake from real traffic") {
  const Run r = run(fx::k443_1_client, fx::k443_1_server);
  CHECK(r.last == Progress::kDone);
  REQUIRE(r.fields.size() == 2);
  const auto& x = r.fields[0];
  CHECK(get(x, "x509.pos") == "0");
  CHECK(get(x, "x509.subject") == "CN=selfsigned.tls.test,OU=tls,O=Example\\, \\\"Test\\\" GmbH,ST=Berlin,C=DE");
  CHECK(get(x, "x509.issuer") == get(x, "x509.subject"));
  CHECK(get(x, "x509.key_type") == "rsa");
  CHECK(get(x, "x509.key_bits") == "2048");
  CHECK(get(x, "x509.key_alg") == "rsaEncryption");
  CHECK(get(x, "x509.sig_alg") == "sha256WithRSAEncryption");
  CHECK(get(x, "x509.self_signed") == "true");
  CHECK(get(x, "x509.subject_cn") == "selfsigned.tls.test");
  CHECK(get(x, "x509.subject_o") == "Example, \"Test\" GmbH");
  CHECK(get(x, "x509.san_dns") == "selfsigned.tls.test,www.selfsigned.tls.test");
  CHECK(get(x, "x509.san_ip") == "10.62.0.2");
  CHECK(get(x, "x509.san_count") == "3");
  CHECK(get(x, "x509.version") == "3");
  CHECK(get(x, "x509.error") == "<absent>");
  const auto& t = r.fields[1];
  CHECK(get(t, "tls.version") == "TLSv1.2");
  CHECK(get(t, "tls.cipher") == "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
  CHECK(get(t, "tls.sni") == "selfsigned.tls.test");
  CHECK(get(t, "tls.alpn") == "http/1.1");
  CHECK(get(t, "tls.client_alpn") == "h2,http/1.1");
  CHECK(get(t, "tls.cert_count") == "1");
  CHECK(get(t, "tls.cert_sha256") == get(x, "x509.sha256"));
  CHECK(get(t, "tls.cert_self_signed") == "true");
  CHECK(get(t, "tls.partial") == "<absent>");
  CHECK(get(t, "tls.ja3").size() == 32);
  CHECK(get(t, "tls.ja3s").size() == 32);
  CHECK(get(t, "tls.ja4").substr(0, 10) == "t12d2807h2");  // curl --tls-max 1.2: no supported_versions
}

TEST_CASE("tls: ECDSA leaf and CA: two x509 records in chain order") {
  const Run r = run(fx::k8443_1_client, fx::k8443_1_server);
  REQUIRE(r.fields.size() == 3);
  CHECK(get(r.fields[0], "x509.pos") == "0");
  CHECK(get(r.fields[0], "x509.curve") == "prime256v1");
  CHECK(get(r.fields[0], "x509.key_bits") == "256");
  CHECK(get(r.fields[0], "x509.self_signed") == "false");
  CHECK(get(r.fields[0], "x509.ca") == "false");
  CHECK(get(r.fields[0], "x509.san_ip") == "10.62.0.2,fd62::2");
  CHECK(get(r.fields[0], "x509.san_email") == "admin@tls.test");
  CHECK(get(r.fields[0], "x509.san_uri") == "https://ecdsa.tls.test/");
  CHECK(get(r.fields[0], "x509.issuer_cn") == "flowscribe Test Root CA");
  CHECK(get(r.fields[1], "x509.pos") == "1");
  CHECK(get(r.fields[1], "x509.ca") == "true");
  CHECK(get(r.fields[1], "x509.self_signed") == "true");
  CHECK(get(r.fields[1], "x509.curve") == "secp384r1");
  CHECK(get(r.fields[1], "x509.sig_alg") == "ecdsa-with-SHA384");
  CHECK(get(tls_rec(r), "tls.cert_count") == "2");
  CHECK(get(tls_rec(r), "tls.cert_issuer") == "CN=flowscribe Test Root CA,O=flowscribe,C=US");
}

TEST_CASE("tls: TLS 1.3 hides the certificate; done at the ServerHello") {
  const Run r = run(fx::k443_2_client, fx::k443_2_server);
  CHECK(r.last == Progress::kDone);
  REQUIRE(r.fields.size() == 1);
  CHECK(get(r.fields[0], "tls.version") == "TLSv1.3");
  CHECK(get(r.fields[0], "tls.cert_hidden") == "true");
  CHECK(get(r.fields[0], "tls.cipher") == "TLS_AES_256_GCM_SHA384");
  CHECK(get(r.fields[0], "tls.partial") == "<absent>");
}

TEST_CASE("tls: a TLS 1.3 draft-18 ServerHello has no session id and no compression method") {
  // The layout of Cloudflare's draft-18 answer in Arkime's tls13.pcap: version 0x7f12, random,
  // cipher, extensions (key_share was extension 40 then); JA3S string "32530,4865,40".
  std::string body;
  be16(body, 0x7f12);
  body += std::string(32, '\x22');
  be16(body, 0x1301);
  std::string ks;
  be16(ks, 0x001d);
  be16(ks, 32);
  ks += std::string(32, '\x33');
  const std::string exts = ext(0x0028, ks);
  be16(body, static_cast<unsigned>(exts.size()));
  body += exts;
  const Run r = run(ja4_example_hello(), record(22, handshake(2, body)));
  CHECK(r.last == Progress::kDone);
  REQUIRE(r.fields.size() == 1);
  CHECK(get(r.fields[0], "tls.version") == "TLSv1.3-draft18");
  CHECK(get(r.fields[0], "tls.cipher") == "TLS_AES_128_GCM_SHA256");
  CHECK(get(r.fields[0], "tls.cert_hidden") == "true");
  CHECK(get(r.fields[0], "tls.ja3s") == "b8a8031b301aef7618403061e9f33065");  // MD5("32530,4865,40")
}

TEST_CASE("tls: JA3S covers every extension of a ServerHello, however many") {
  // Arkime's arkime_synthetic.pcap has a ServerHello with more extensions than a fixed list
  // would hold; the fingerprint text is hashed as the extensions are read.
  std::string body;
  be16(body, 0x0303);
  body += std::string(32, '\x44');
  body += '\0';  // no session id
  be16(body, 0xc02f);
  body += '\0';  // compression: null
  std::string exts, text = "771,49199,";
  for (unsigned t = 1000; t < 1200; ++t) {
    exts += ext(t, "");
    text += (t > 1000 ? "-" : "") + std::to_string(t);
  }
  be16(body, static_cast<unsigned>(exts.size()));
  body += exts;
  const Run r = run(ja4_example_hello(), record(22, handshake(2, body)));
  REQUIRE(r.fields.size() == 1);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  REQUIRE(EVP_Digest(text.data(), text.size(), md, &mdlen, EVP_md5(), nullptr) == 1);
  std::string want;
  for (unsigned i = 0; i < mdlen; ++i) {
    static constexpr char kHex[] = "0123456789abcdef";
    want += kHex[md[i] >> 4];
    want += kHex[md[i] & 15];
  }
  CHECK(get(r.fields[0], "tls.ja3s") == want);
  CHECK(get(r.fields[0], "tls.cipher") == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
}

TEST_CASE("tls: an SSLv2-format ClientHello answered by a TLS 1.0 ServerHello keeps the cipher") {
  // As GitHub's server answered an old client in Arkime's https2-301-get.pcap.
  std::string v2;
  v2 += '\x01';  // CLIENT-HELLO
  be16(v2, 0x0301);
  be16(v2, 6);    // cipher specs: two of 3 bytes
  be16(v2, 0);    // session id
  be16(v2, 16);   // challenge
  v2 += std::string("\x00\x00\x05\x00\x00\x04", 6);
  v2 += std::string(16, '\x44');
  std::string client(1, static_cast<char>(0x80));
  client += static_cast<char>(v2.size());
  client += v2;
  std::string body;
  be16(body, 0x0301);
  body += std::string(32, '\x22');
  body += '\0';  // session id
  be16(body, 0x0005);
  body += '\0';  // compression
  const Run r = run(client, record(22, handshake(2, body)));
  REQUIRE(r.fields.size() == 1);
  CHECK(get(r.fields[0], "tls.sslv2_hello") == "true");
  CHECK(get(r.fields[0], "tls.version") == "TLSv1.0");
  CHECK(get(r.fields[0], "tls.cipher") == "TLS_RSA_WITH_RC4_128_SHA");
}

TEST_CASE("tls: Ed25519 without SNI, then the resumed session") {
  const Run a = run(fx::k9443_1_client, fx::k9443_1_server);
  REQUIRE(a.fields.size() == 2);
  CHECK(get(a.fields[0], "x509.key_type") == "ed25519");
  CHECK(get(a.fields[0], "x509.sig_alg") == "ED25519");
  CHECK(get(a.fields[1], "tls.sni") == "<absent>");
  CHECK(get(a.fields[1], "tls.ja4").substr(0, 4) == "t12i");  // s_client -tls1_2, no SNI
  const Run b = run(fx::k9443_2_client, fx::k9443_2_server);
  REQUIRE(b.fields.size() == 1);
  CHECK(get(b.fields[0], "tls.resumed") == "true");
  CHECK(get(b.fields[0], "tls.cert_count") == "<absent>");
}

TEST_CASE("tls: every truncation of every fixture is safe") {
  const std::pair<std::string_view, std::string_view> all[] = {
      {fx::k443_1_client, fx::k443_1_server}, {fx::k443_2_client, fx::k443_2_server},
      {fx::k8443_1_client, fx::k8443_1_server}, {fx::k8443_2_client, fx::k8443_2_server},
      {fx::k9443_1_client, fx::k9443_1_server}, {fx::k9443_2_client, fx::k9443_2_server}};
  for (auto [c, s] : all) {
    for (size_t k = 0; k <= c.size(); ++k) {
      const Run r = run(c.substr(0, k), "");
      REQUIRE(r.bad_commits == 0);
      REQUIRE(r.open == 0);
      REQUIRE(r.fields.size() <= 1);
      if (k < c.size() && !r.fields.empty()) REQUIRE(get(r.fields[0], "tls.partial") == "true");
    }
    for (size_t k = 0; k <= s.size(); ++k) {
      const Run r = run(c, s.substr(0, k));
      REQUIRE(r.bad_commits == 0);
      REQUIRE(r.open == 0);
      REQUIRE(!r.fields.empty());
      REQUIRE(r.lines.back().find(" tls [") != std::string::npos);
      for (auto& l : r.lines) REQUIRE(l.size() < 8192);
    }
  }
}

TEST_CASE("tls: the same records whatever the segmentation") {
  const std::pair<std::string_view, std::string_view> all[] = {
      {fx::k443_1_client, fx::k443_1_server}, {fx::k8443_1_client, fx::k8443_1_server},
      {fx::k443_2_client, fx::k443_2_server}, {fx::k9443_2_client, fx::k9443_2_server}};
  for (auto [c, s] : all) {
    const Run ref = run(c, s);
    REQUIRE(!ref.lines.empty());
    for (size_t i = 0; i <= c.size(); ++i) REQUIRE(run(c, s, i).lines == ref.lines);
    for (size_t j = 0; j <= s.size(); ++j) REQUIRE(run(c, s, std::string_view::npos, j).lines == ref.lines);
  }
  // Byte by byte.
  auto d = flowscribe::dissect::make_tls_dissector();
  FlowUnderTest f(*d, 6, 40000, 443);
  for (char ch : fx::k8443_1_client) f.data(true, std::string_view(&ch, 1));
  Progress p = Progress::kMore;
  for (size_t i = 0; i < fx::k8443_1_server.size() && p == Progress::kMore; ++i) {
    p = f.data(false, fx::k8443_1_server.substr(i, 1));
  }
  f.end();
  std::vector<std::string> lines;
  for (auto& r : f.out.records) lines.push_back(RecordCollector::line(*r));
  CHECK(lines == run(fx::k8443_1_client, fx::k8443_1_server).lines);
}

TEST_CASE("tls: not TLS where a record header must be is a violation") {
  CHECK(run("GET / HTTP/1.1\r\nHost: x\r\n\r\n", "").last == Progress::kViolation);
  CHECK(run(std::string("\x16\x03\x01\xff\xff", 5), "").last == Progress::kViolation);  // too long
  CHECK(run(std::string("\x19\x03\x03\x00\x01\x00", 6), "").last == Progress::kViolation);
  // After a valid hello a bad record ends the handshake; the hello is still written.
  const Run r = run(fx::k443_1_client, "not a record at all");
  CHECK(r.last == Progress::kDone);
  REQUIRE(r.fields.size() == 1);
  CHECK(get(r.fields[0], "tls.sni") == "selfsigned.tls.test");
}

TEST_CASE("tls: hostile values") {
  SECTION("an SNI past 255 bytes is cut") {
    const Run r = run(ja4_example_hello(std::string(300, 'a') + ".com"), "");
    REQUIRE(r.fields.size() == 1);
    CHECK(get(r.fields[0], "tls.sni").size() == 255);
  }
  SECTION("a certificate past the buffer gets a record with its size and no fields") {
    std::string certs;
    be24(certs, 20003);
    be24(certs, 20000);
    certs += std::string(20000, '\x30');
    std::string msg = handshake(11, certs);
    std::string srv;
    for (size_t o = 0; o < msg.size(); o += 16000) srv += record(22, msg.substr(o, 16000));
    const Run r = run(fx::k443_1_client, srv);
    REQUIRE(r.fields.size() == 2);
    CHECK(get(r.fields[0], "x509.der_len") == "20000");
    CHECK(get(r.fields[0], "x509.error") != "<absent>");
  }
  SECTION("garbage DER: a record with the fingerprints and the error") {
    std::string certs;
    be24(certs, 3 + 40);
    be24(certs, 40);
    certs += std::string(40, '\xff');
    const Run r = run("", record(22, handshake(11, certs)));
    REQUIRE(r.fields.size() == 1);  // no hello seen: only the x509 record
    CHECK(get(r.fields[0], "x509.error") == "not a DER SEQUENCE");
    CHECK(get(r.fields[0], "x509.sha256").size() == 64);
  }
  SECTION("a fatal alert from the server ends the handshake") {
    const Run r = run(fx::k443_1_client, record(21, std::string("\x02\x28", 2)));
    REQUIRE(r.fields.size() == 1);
    CHECK(get(r.fields[0], "tls.alert") == "handshake_failure");
  }
  SECTION("a gap in the server direction writes what was seen") {
    auto d = flowscribe::dissect::make_tls_dissector();
    FlowUnderTest f(*d, 6, 40000, 443);
    f.data(true, fx::k443_1_client);
    f.data(false, fx::k443_1_server.substr(0, 100));
    CHECK(f.gap(false, 10) == Progress::kDone);
    f.end();
    REQUIRE(f.out.records.size() == 1);
    CHECK(RecordCollector::field(*f.out.records[0], "tls.partial") == "true");
  }
}

TEST_CASE("x509: DER reader helpers") {
  using namespace flowscribe::dissect;
  char b[128];
  SECTION("times") {
    const uint8_t utc[] = "491231235959Z";
    tls::Tlv t{0x17, Bytes{utc, 13}, {}};
    tls::Text o(b, sizeof b);
    REQUIRE(tls::time_text(t, o));
    CHECK(o.view() == "2049-12-31T23:59:59Z");
    const uint8_t gen[] = "20500101000000.123Z";
    tls::Tlv g{0x18, Bytes{gen, 19}, {}};
    tls::Text o2(b, sizeof b);
    REQUIRE(tls::time_text(g, o2));
    CHECK(o2.view() == "2050-01-01T00:00:00Z");
    const uint8_t bad[] = "20501301000000Z";
    tls::Tlv x{0x18, Bytes{bad, 15}, {}};
    tls::Text o3(b, sizeof b);
    CHECK(!tls::time_text(x, o3));
    // Zone offsets (not DER, but in certificates of the wild; Arkime's arkime_synthetic.pcap):
    // converted to UTC, across a day and a year boundary too.
    auto conv = [&](uint8_t tag, const char* v) {
      const auto* u = reinterpret_cast<const uint8_t*>(v);
      tls::Tlv z{tag, Bytes{u, static_cast<uint32_t>(std::strlen(v))}, {}};
      tls::Text oz(b, sizeof b);
      return tls::time_text(z, oz) ? std::string(oz.view()) : std::string("<bad>");
    };
    CHECK(conv(0x17, "250115120000+0530") == "2025-01-15T06:30:00Z");
    CHECK(conv(0x18, "20260115120000-0800") == "2026-01-15T20:00:00Z");
    CHECK(conv(0x17, "241231230000-0130") == "2025-01-01T00:30:00Z");
    CHECK(conv(0x18, "20240301003000+0100") == "2024-02-29T23:30:00Z");
    CHECK(conv(0x17, "2501151200+0000") == "2025-01-15T12:00:00Z");
    CHECK(conv(0x17, "250115120000+2400") == "<bad>");
    CHECK(conv(0x17, "250115120000+05") == "<bad>");
  }
  SECTION("serial without the sign byte") {
    const uint8_t s[] = {0x00, 0x80, 0x01};
    tls::Text o(b, sizeof b);
    tls::serial_text(Bytes{s, 3}, o);
    CHECK(o.view() == "8001");
  }
  SECTION("IPv6 text as inet_ntop") {
    const uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1};
    tls::Text o(b, sizeof b);
    o.ip(a, 16);
    CHECK(o.view() == "2001:db8::1:0:0:1");
  }
  SECTION("oid text") {
    const uint8_t oid[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b};
    tls::Text o(b, sizeof b);
    tls::oid_text(Bytes{oid, sizeof oid}, o);
    CHECK(o.view() == "1.2.840.113549.1.1.11");
  }
}

namespace {

uint64_t counter(const flowscribe::dissect::Dissector& d, std::string_view name) {
  uint64_t v = ~uint64_t{0};
  d.for_each_counter([&](const flowscribe::CounterInfo& ci, uint64_t x) {
    if (ci.name == name) v = x;
  });
  return v;
}

// Runs one handshake through dissector `d` (whose certificate cache persists between calls).
std::vector<std::string> run_on(flowscribe::dissect::Dissector& d, std::string_view client,
                                std::string_view server) {
  FlowUnderTest f(d, 6, 40000, 443);
  f.data(true, client);
  f.data(false, server);
  f.end();
  std::vector<std::string> lines;
  for (auto& r : f.out.records) lines.push_back(RecordCollector::line(*r));
  return lines;
}

}  // namespace

TEST_CASE("tls: a certificate seen before gives the same records from the cache") {
  auto d = flowscribe::dissect::make_tls_dissector();
  const auto rsa1 = run_on(*d, fx::k443_1_client, fx::k443_1_server);
  const auto ec1 = run_on(*d, fx::k8443_1_client, fx::k8443_1_server);
  CHECK(counter(*d, "tls_cert_cache_hits") == 0);
  const auto rsa2 = run_on(*d, fx::k443_1_client, fx::k443_1_server);
  const auto ec2 = run_on(*d, fx::k8443_1_client, fx::k8443_1_server);
  CHECK(counter(*d, "tls_cert_cache_hits") == 3);
  CHECK(counter(*d, "tls_certs") == 6);
  CHECK(rsa1 == rsa2);  // x509 records and the tls record's leaf summary alike
  CHECK(ec1 == ec2);
  // A fresh dissector (no cache) writes the same.
  auto fresh = flowscribe::dissect::make_tls_dissector();
  CHECK(run_on(*fresh, fx::k443_1_client, fx::k443_1_server) == rsa2);
}

TEST_CASE("tls: the cache never answers for a different certificate of the same size") {
  // The leaf's last signature byte flipped: same length, same structure, other bytes.
  const Run orig = run(fx::k443_1_client, fx::k443_1_server);
  const std::string der_len = get(orig.fields[0], "x509.der_len");
  const size_t n = std::stoul(der_len);
  std::string server(fx::k443_1_server);
  const std::string head{'\x30', '\x82', static_cast<char>((n - 4) >> 8), static_cast<char>((n - 4) & 0xff)};
  const size_t at = server.find(head);
  REQUIRE(at != std::string::npos);
  server[at + n - 1] = static_cast<char>(server[at + n - 1] ^ 0x5a);
  auto d = flowscribe::dissect::make_tls_dissector();
  const auto first = run_on(*d, fx::k443_1_client, fx::k443_1_server);
  const auto changed = run_on(*d, fx::k443_1_client, server);
  CHECK(counter(*d, "tls_cert_cache_hits") == 0);
  auto fresh = flowscribe::dissect::make_tls_dissector();
  CHECK(run_on(*fresh, fx::k443_1_client, server) == changed);
  CHECK(changed != first);
}

namespace {

// DER TLV with a definite length (short or long form).
std::string der(uint8_t tag, const std::string& v) {
  std::string s(1, static_cast<char>(tag));
  if (v.size() < 128) {
    s += static_cast<char>(v.size());
  } else if (v.size() < 256) {
    s += '\x81';
    s += static_cast<char>(v.size());
  } else {
    s += '\x82';
    be16(s, static_cast<unsigned>(v.size()));
  }
  return s + v;
}

// A certificate whose subjectAltName holds `names` dNSNames (CN=many.test, RSA key, v3).
std::string cert_with_dns_names(const std::vector<std::string>& names) {
  const std::string sha256_rsa = der(0x30, der(0x06, "\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b") + std::string("\x05\x00", 2));
  const std::string rsa = der(0x30, der(0x06, "\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01") + std::string("\x05\x00", 2));
  const std::string name = der(0x30, der(0x31, der(0x30, der(0x06, "\x55\x04\x03") + der(0x0c, "many.test"))));
  const std::string validity = der(0x30, der(0x17, "260101000000Z") + der(0x17, "360101000000Z"));
  const std::string key = der(0x30, der(0x02, "\x00" + std::string(64, '\xc5')) + der(0x02, "\x01\x00\x01"));
  const std::string spki = der(0x30, rsa + der(0x03, std::string(1, '\0') + key));
  std::string gn;
  for (const std::string& n : names) gn += der(0x82, n);
  const std::string san = der(0x30, der(0x06, "\x55\x1d\x11") + der(0x04, der(0x30, gn)));
  const std::string tbs = der(0x30, der(0xa0, der(0x02, "\x02")) + der(0x02, "\x01\x23") + sha256_rsa +
                                        name + validity + name + spki + der(0xa3, der(0x30, san)));
  return der(0x30, tbs + sha256_rsa + der(0x03, std::string(1, '\0') + std::string(64, '\x5a')));
}

// The server's Certificate message carrying `cert`, in one TLS record.
std::string certificate_message(const std::string& cert) {
  std::string certs;
  be24(certs, static_cast<unsigned>(cert.size() + 3));
  be24(certs, static_cast<unsigned>(cert.size()));
  certs += cert;
  return record(22, handshake(11, certs));
}

std::vector<std::string> dns_names(size_t n) {
  std::vector<std::string> v;
  for (size_t i = 0; i < n; ++i) v.push_back("host" + std::to_string(i) + ".wac.edgecastcdn.example");
  return v;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

}  // namespace

TEST_CASE("x509: 150 SAN DNS names all reach one record (continuation slots)") {
  const std::vector<std::string> names = dns_names(150);
  const std::string msg = certificate_message(cert_with_dns_names(names));
  auto d = flowscribe::dissect::make_tls_dissector();
  std::string first;
  for (int pass = 0; pass < 2; ++pass) {
    FlowUnderTest f(*d, 6, 40000, 443);
    f.data(false, msg);
    f.end();
    REQUIRE(f.out.records.size() == 1);
    const flowscribe::emit::Record& r = *f.out.records[0];
    CHECK(r.more >= 1);
    CHECK(r.more <= flowscribe::emit::kMaxContinuations);
    const auto values = RecordCollector::all(r, "x509.san_dns");
    CHECK(values.size() > 1);  // a list past one value's cap is several params
    CHECK(joined(values) == joined(names));
    CHECK(RecordCollector::field(r, "x509.san_count") == "150");
    CHECK(RecordCollector::field(r, "x509.san_truncated") == "<absent>");
    CHECK(RecordCollector::field(r, "x509.subject_cn") == "many.test");
    CHECK(RecordCollector::field(r, "x509.der_len") == std::to_string(msg.size() - 15));
    const std::string line = RecordCollector::line(r);
    INFO(line);
    CHECK(line.size() < flowscribe::emit::kMaxLineBytes);
    CHECK(line.find('\n') == line.size() - 1);
    CHECK(line.find("...") == std::string::npos);  // no value cut by the formatter
    for (const std::string& n : names) {
      const size_t at = line.find("=\"" + n) != std::string::npos ? line.find("=\"" + n) + 2 : line.find("," + n) + 1;
      REQUIRE(at != std::string::npos + 1);
      CHECK((line[at + n.size()] == ',' || line[at + n.size()] == '"'));
    }
    if (pass == 0) first = line;
    else CHECK(line == first);  // not served from the cache: parsed again, the same record
  }
  CHECK(counter(*d, "tls_san_truncated") == 0);
  // Only the leaf summary (the tls record's cert_san_dns, 256 bytes) is cut, once a pass.
  CHECK(counter(*d, "tls_field_truncated") == 2);
  CHECK(counter(*d, "tls_cert_cache_hits") == 0);
  CHECK(counter(*d, "tls_cert_cache_skipped") == 2);
}

TEST_CASE("x509: a certificate larger than the buffer: its first fields and whole-DER fingerprints") {
  // ~25 KB of DER (Zeek's tls-fragmented-handshake.pcap has a 340 KB one): the serial,
  // names, validity and key come before the SAN and are read from the first 16384 bytes; the
  // SHA-1 and SHA-256 are of the whole certificate, hashed as it went by.
  const std::string cert = cert_with_dns_names(dns_names(800));
  REQUIRE(cert.size() > 16384);
  std::string certs;
  be24(certs, static_cast<unsigned>(cert.size() + 3));
  be24(certs, static_cast<unsigned>(cert.size()));
  certs += cert;
  const std::string hs = handshake(11, certs);
  std::string wire;
  for (size_t at = 0; at < hs.size(); at += 16384) wire += record(22, hs.substr(at, 16384));
  auto d = flowscribe::dissect::make_tls_dissector();
  for (size_t piece : {wire.size(), size_t{1000}, size_t{1}}) {
    INFO("pieces of " << piece);
    FlowUnderTest f(*d, 6, 40000, 443);
    for (size_t at = 0; at < wire.size(); at += piece) f.data(false, wire.substr(at, piece));
    f.end();
    REQUIRE(f.out.records.size() == 1);
    const flowscribe::emit::Record& r = *f.out.records[0];
    CHECK(RecordCollector::field(r, "x509.subject") == "CN=many.test");
    CHECK(RecordCollector::field(r, "x509.issuer") == "CN=many.test");
    CHECK(RecordCollector::field(r, "x509.serial") == "0123");
    CHECK(RecordCollector::field(r, "x509.not_after") == "2036-01-01T00:00:00Z");
    CHECK(RecordCollector::field(r, "x509.key_type") == "rsa");
    CHECK(RecordCollector::field(r, "x509.self_signed") == "true");
    CHECK(RecordCollector::field(r, "x509.der_len") == std::to_string(cert.size()));
    CHECK(RecordCollector::field(r, "x509.error") != "<absent>");
    for (auto [kind, name] : {std::pair{EVP_sha256(), "x509.sha256"}, std::pair{EVP_sha1(), "x509.sha1"}}) {
      unsigned char md[EVP_MAX_MD_SIZE];
      unsigned int mdlen = 0;
      REQUIRE(EVP_Digest(cert.data(), cert.size(), md, &mdlen, kind, nullptr) == 1);
      std::string want;
      for (unsigned i = 0; i < mdlen; ++i) {
        static constexpr char kHex[] = "0123456789abcdef";
        want += kHex[md[i] >> 4];
        want += kHex[md[i] & 15];
      }
      CHECK(RecordCollector::field(r, name) == want);
    }
  }
  CHECK(counter(*d, "tls_cert_oversize") == 3);
}

TEST_CASE("x509: a SAN list past the line budget is cut at a name and flagged") {
  const std::vector<std::string> names = dns_names(400);
  auto d = flowscribe::dissect::make_tls_dissector();
  FlowUnderTest f(*d, 6, 40000, 443);
  f.data(false, certificate_message(cert_with_dns_names(names)));
  f.end();
  REQUIRE(f.out.records.size() == 1);
  const flowscribe::emit::Record& r = *f.out.records[0];
  const std::string got = joined(RecordCollector::all(r, "x509.san_dns"));
  CHECK(got.size() > 4000);
  CHECK(joined(names).starts_with(got + ","));  // whole names, in order
  CHECK(RecordCollector::field(r, "x509.san_truncated") == "true");
  CHECK(RecordCollector::field(r, "x509.san_count") == "400");
  CHECK(RecordCollector::field(r, "x509.der_len") != "<absent>");
  CHECK(counter(*d, "tls_san_truncated") == 1);
  const std::string line = RecordCollector::line(r);
  CHECK(line.size() < flowscribe::emit::kMaxLineBytes);
  CHECK(line.find("der_len=") != std::string::npos);
}

TEST_CASE("x509: without continuation slots the SAN lists are cut to the record, as before") {
  // An output that cannot hold chains (RecordOut::extend's default): the record's own slot.
  struct NoChains final : flowscribe::dissect::RecordOut {
    flowscribe::test::RecordCollector inner;
    flowscribe::emit::Record* begin(const flowscribe::flow::Flow& fl, flowscribe::emit::RecordType t,
                                    flowscribe::Nanos ts) noexcept override {
      return inner.begin(fl, t, ts);
    }
    void commit(const flowscribe::flow::Flow& fl, flowscribe::emit::Record* r) noexcept override {
      inner.commit(fl, r);
    }
  };
  const std::vector<std::string> names = dns_names(150);
  auto d = flowscribe::dissect::make_tls_dissector();
  FlowUnderTest f(*d, 6, 40000, 443);
  NoChains out;
  flowscribe::dissect::Ctx c{f.flow, f.now, out, nullptr};
  const std::string msg = certificate_message(cert_with_dns_names(names));
  d->data(f.slot, c, false, reinterpret_cast<const uint8_t*>(msg.data()),
          static_cast<uint32_t>(msg.size()), static_cast<uint32_t>(msg.size()));
  d->end_flow(f.slot, c);
  REQUIRE(out.inner.records.size() == 1);
  const flowscribe::emit::Record& r = *out.inner.records[0];
  CHECK(r.more == 0);
  const std::string got = joined(RecordCollector::all(r, "x509.san_dns"));
  CHECK(got.size() > 500);
  CHECK(joined(names).starts_with(got + ","));
  CHECK(RecordCollector::field(r, "x509.san_truncated") == "true");
  CHECK(RecordCollector::field(r, "x509.der_len") != "<absent>");
  CHECK(counter(*d, "tls_cert_cache_skipped") == 0);
}
