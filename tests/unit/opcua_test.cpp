// dissectors/opcua: OPN messages' SenderCertificate chains give x509 records (source="opcua",
// sender="client"/"server"); HEL's EndpointUrl host names the application. Fixtures are the
// TCP payloads of Arkime's opcua_synthetic.pcap (tests/unit/opcua_fixtures.h), byte for byte.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "dissect_harness.h"
#include "dissectors/opcua/opcua.h"
#include "opcua_fixtures.h"

using flowscribe::AppProto;
using flowscribe::dissect::Progress;
using flowscribe::test::FlowUnderTest;
using flowscribe::test::RecordCollector;

namespace {

using flowscribe::test::unhex;

const std::string kHelNone = unhex(opcua_fixtures::kHelNoneHex);
const std::string kAck = unhex(opcua_fixtures::kAckHex);
const std::string kOpnNone = unhex(opcua_fixtures::kOpnNoneHex);
const std::string kHelV6 = unhex(opcua_fixtures::kHelV6Hex);
const std::string kOpnClientCert = unhex(opcua_fixtures::kOpnClientCertHex);
const std::string kHelA = unhex(opcua_fixtures::kHelAHex);
const std::string kOpnCertA = unhex(opcua_fixtures::kOpnCertAHex);

using Fields = std::vector<std::pair<std::string, std::string>>;
using Msgs = std::vector<std::pair<bool, std::string>>;

std::string field(const Fields& f, std::string_view name) {
  for (const auto& [k, v] : f) {
    if (k == name) return v;
  }
  return "<absent>";
}

uint64_t counter(const flowscribe::dissect::Dissector& d, std::string_view name) {
  uint64_t v = ~uint64_t{0};
  d.for_each_counter([&](const flowscribe::CounterInfo& ci, uint64_t x) {
    if (ci.name == name) v = x;
  });
  return v;
}

uint32_t le32(const std::string& s, size_t at) {
  return uint32_t{uint8_t(s[at])} | uint32_t{uint8_t(s[at + 1])} << 8 | uint32_t{uint8_t(s[at + 2])} << 16 |
         uint32_t{uint8_t(s[at + 3])} << 24;
}
std::string le32s(uint32_t v) {
  return std::string{char(v), char(v >> 8), char(v >> 16), char(v >> 24)};
}

// Feeds each side's messages, each message in pieces of at most `piece` bytes (the first `cut`
// bytes of the whole conversation only), from exactly-sized heap copies; returns the records.
std::vector<Fields> run(flowscribe::dissect::Dissector& d, const Msgs& msgs, size_t piece = SIZE_MAX,
                        size_t cut = SIZE_MAX, Progress* last = nullptr) {
  FlowUnderTest t(d, 6, 40002, 4840, static_cast<uint16_t>(AppProto::kOpcua));
  Progress p = Progress::kMore;
  size_t fed = 0;
  for (const auto& [client, m] : msgs) {
    for (size_t at = 0; at < m.size() && fed < cut && p == Progress::kMore;) {
      size_t n = std::min({piece, m.size() - at, cut - fed});
      std::vector<uint8_t> buf(m.begin() + static_cast<long>(at), m.begin() + static_cast<long>(at + n));
      p = t.data(client, buf.data(), static_cast<uint32_t>(n));
      at += n;
      fed += n;
    }
  }
  if (last != nullptr) *last = p;
  if (p != Progress::kViolation) t.end();
  CHECK(t.out.bad_commits == 0);
  CHECK(t.out.open_count() == 0);
  std::vector<Fields> out;
  for (const auto& r : t.out.records) {
    CHECK(r->type == flowscribe::emit::RecordType::kX509);
    CHECK(RecordCollector::line(*r).size() > 0);
    out.push_back(RecordCollector::fields(*r));
  }
  return out;
}

}  // namespace

TEST_CASE("opcua: an x509 record per SenderCertificate of an OPN", "[opcua]") {
  auto d = flowscribe::dissect::make_opcua_dissector();
  Progress last{};
  auto r = run(*d, {{true, kHelV6}, {false, kAck}, {true, kOpnClientCert}}, SIZE_MAX, SIZE_MAX, &last);
  CHECK(last == Progress::kMore);  // the server's OPN is still to come
  REQUIRE(r.size() == 1);
  // Arkime's opcua_synthetic.test: the same SHA-1, CN, serial.
  CHECK(field(r[0], "x509.pos") == "0");
  CHECK(field(r[0], "x509.source") == "opcua");
  CHECK(field(r[0], "x509.sender") == "client");
  CHECK(field(r[0], "x509.sha1") == "9f21b754078afd1456559614d5d78168066343cf");
  CHECK(field(r[0], "x509.subject_cn") == "opcua-synthetic-client");
  CHECK(field(r[0], "x509.serial") == "11223344");
  CHECK(field(r[0], "x509.error") == "<absent>");
  r = run(*d, {{true, kHelA}, {false, kAck}, {true, kOpnCertA}});
  REQUIRE(r.size() == 1);
  CHECK(field(r[0], "x509.sha1") == "f7ce38acb0bbf1b4b14a58e55c9c16a5be4cb5ea");
  CHECK(field(r[0], "x509.subject_cn") == "opcua-synthetic-A");  // Arkime lowercases it
  // SecurityPolicy None: no certificate.
  CHECK(run(*d, {{true, kHelNone}, {false, kAck}, {true, kOpnNone}}).empty());
  CHECK(counter(*d, "opcua_no_cert") == 1);
  CHECK(counter(*d, "opcua_opn") == 3);
  CHECK(counter(*d, "opcua_hello") == 3);
  CHECK(counter(*d, "opcua_certs") == 2);
  CHECK(counter(*d, "opcua_cert_errors") == 0);
}

TEST_CASE("opcua: a chain, the server's OPN, kDone once both OPNs are read", "[opcua]") {
  auto d = flowscribe::dissect::make_opcua_dissector();
  // The client's OPN with the A certificate appended to its own (a chain of two), and the same
  // message sent back as the server's OPN.
  const uint32_t cert_at = 8 + 4 + 4 + le32(kOpnClientCert, 12);
  const uint32_t own = le32(kOpnClientCert, cert_at);
  const uint32_t a_at = 8 + 4 + 4 + le32(kOpnCertA, 12);
  const uint32_t a_len = le32(kOpnCertA, a_at);
  const std::string cert_a = kOpnCertA.substr(a_at + 4, a_len);
  std::string chain = kOpnClientCert.substr(0, cert_at) + le32s(own + a_len) +
                      kOpnClientCert.substr(cert_at + 4, own) + cert_a + kOpnClientCert.substr(cert_at + 4 + own);
  chain.replace(4, 4, le32s(static_cast<uint32_t>(chain.size())));
  Progress last{};
  auto r = run(*d, {{true, kHelV6}, {false, kAck}, {true, chain}, {false, chain}}, SIZE_MAX, SIZE_MAX, &last);
  CHECK(last == Progress::kDone);
  REQUIRE(r.size() == 4);
  CHECK(field(r[0], "x509.pos") == "0");
  CHECK(field(r[1], "x509.pos") == "1");
  CHECK(field(r[1], "x509.subject_cn") == "opcua-synthetic-A");  // Arkime lowercases it
  CHECK(field(r[1], "x509.sender") == "client");
  CHECK(field(r[2], "x509.sender") == "server");
  CHECK(field(r[3], "x509.sha1") == "f7ce38acb0bbf1b4b14a58e55c9c16a5be4cb5ea");
  // Every split offset: the same records.
  for (size_t piece : {1, 2, 3, 7, 8, 9, 100, 511}) {
    INFO("piece " << piece);
    CHECK(run(*d, {{true, kHelV6}, {false, kAck}, {true, chain}, {false, chain}}, piece) == r);
  }
}

TEST_CASE("opcua: every truncation and every split of the fixtures", "[opcua]") {
  auto d = flowscribe::dissect::make_opcua_dissector();
  const Msgs conv{{true, kHelA}, {false, kAck}, {true, kOpnCertA}};
  size_t total = 0;
  for (const auto& m : conv) total += m.second.size();
  const auto whole = run(*d, conv);
  REQUIRE(whole.size() == 1);
  for (size_t cut = 0; cut <= total; ++cut) {
    INFO("cut " << cut);
    const auto r = run(*d, conv, SIZE_MAX, cut);
    CHECK(r.size() == (cut == total ? 1u : 0u));
  }
  for (size_t piece = 1; piece <= kOpnCertA.size(); piece += (piece < 40 ? 1 : 37)) {
    INFO("piece " << piece);
    CHECK(run(*d, conv, piece) == whole);
  }
  // Split at every offset of the OPN (two pieces).
  for (size_t k = 0; k <= kOpnCertA.size(); ++k) {
    FlowUnderTest t(*d, 6, 40004, 4840, static_cast<uint16_t>(AppProto::kOpcua));
    t.data(true, kHelA);
    t.data(false, kAck);
    t.data(true, std::string_view(kOpnCertA).substr(0, k));
    t.data(true, std::string_view(kOpnCertA).substr(k));
    t.end();
    REQUIRE(t.out.records.size() == 1);
    CHECK(RecordCollector::fields(*t.out.records[0]) == whole[0]);
  }
}

TEST_CASE("opcua: hostile lengths and headers", "[opcua]") {
  auto d = flowscribe::dissect::make_opcua_dissector();
  Progress last{};
  // Not OPC UA from the first byte: a violation.
  run(*d, {{true, "GET / HTTP/1.1\r\n\r\n"}}, SIZE_MAX, SIZE_MAX, &last);
  CHECK(last == Progress::kViolation);
  // A bad header after a good message: counted, the flow left.
  run(*d, {{true, kHelA}, {false, "XYZF" + le32s(28) + std::string(20, '\0')}}, SIZE_MAX, SIZE_MAX, &last);
  CHECK(last == Progress::kDone);
  CHECK(counter(*d, "opcua_bad_header") == 1);
  // Message sizes below the minimum and absurdly large.
  run(*d, {{true, "HELF" + le32s(4)}}, SIZE_MAX, SIZE_MAX, &last);
  CHECK(last == Progress::kViolation);
  run(*d, {{true, "OPNF" + le32s(0xffffffff)}}, SIZE_MAX, SIZE_MAX, &last);
  CHECK(last == Progress::kViolation);
  const uint32_t pol = le32(kOpnCertA, 12), cert_at = 16 + pol;
  // Hostile String/ByteString lengths in the OPN: negative, past the message, 0x7fffffff.
  for (uint32_t bad : {0x80000000u, 0xfffffffeu, 0x7fffffffu, 100000u}) {
    for (uint32_t where : {12u, cert_at}) {
      std::string m = kOpnCertA;
      m.replace(where, 4, le32s(bad));
      CHECK(run(*d, {{true, m}}).empty());
    }
  }
  // A SenderCertificate that is not DER, or whose DER length runs past it.
  {
    std::string m = kOpnCertA;
    m[cert_at + 4] = 0x31;
    CHECK(run(*d, {{true, m}}).empty());
    CHECK(counter(*d, "opcua_cert_bad_der") == 1);
    m = kOpnCertA;
    m[cert_at + 4 + 2] = 0x7f;  // 30 82 7fxx: past the ByteString
    const auto r = run(*d, {{true, m}});
    REQUIRE(r.size() == 1);
    CHECK(field(r[0], "x509.error") != "<absent>");
  }
  // Nine certificates in one chain: eight records, the rest counted.
  {
    const uint32_t len = le32(kOpnCertA, cert_at);
    const std::string one = kOpnCertA.substr(cert_at + 4, len);
    std::string certs;
    for (int i = 0; i < 9; ++i) certs += one;
    std::string m = kOpnCertA.substr(0, cert_at) + le32s(static_cast<uint32_t>(certs.size())) + certs +
                    kOpnCertA.substr(cert_at + 4 + len);
    m.replace(4, 4, le32s(static_cast<uint32_t>(m.size())));
    CHECK(run(*d, {{true, m}}).size() == 8);
    CHECK(counter(*d, "opcua_cert_cap") == 1);
    // Over the 16 KiB cap: 40 certificates, those inside the cap recorded, the cut one an error.
    certs.clear();
    for (int i = 0; i < 40; ++i) certs += one;
    m = kOpnCertA.substr(0, cert_at) + le32s(static_cast<uint32_t>(certs.size())) + certs;
    m.replace(4, 4, le32s(static_cast<uint32_t>(m.size())));
    const auto r = run(*d, {{true, m}}, 1000);
    CHECK(r.size() == 8);
    CHECK(counter(*d, "opcua_msg_cap") == 1);
  }
  // MSG chunks are skipped; the flow is left after 16 messages.
  {
    Msgs msgs{{true, kHelA}, {false, kAck}};
    for (int i = 0; i < 20; ++i) msgs.push_back({i % 2 == 0, "MSGC" + le32s(40) + std::string(32, 'x')});
    run(*d, msgs, SIZE_MAX, SIZE_MAX, &last);
    CHECK(last == Progress::kDone);
    CHECK(counter(*d, "opcua_msg_limit") == 1);
  }
  // A gap: the flow is left.
  {
    FlowUnderTest t(*d, 6, 40004, 4840, static_cast<uint16_t>(AppProto::kOpcua));
    t.data(true, kHelA);
    CHECK(t.gap(true, 10) == Progress::kDone);
    t.end();
  }
}
