// dissectors/ike: CERT payloads of IKEv1 and IKEv2 messages in the clear give x509 records
// (source="ike", sender), encrypted payloads and ESP are passed over and counted. Fixtures are
// datagrams of Arkime's ike-cert_synthetic.pcap, IKEv1.pcap and IKEv2.pcap, byte for byte.
// IKE runs over UDP: a message is one datagram, so "every split" is every truncation (the
// capture cut a datagram: wire length kept).
#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "dissect_harness.h"
#include "dissectors/ike/ike.h"

using flowscribe::AppProto;
using flowscribe::dissect::Progress;
using flowscribe::test::FlowUnderTest;
using flowscribe::test::RecordCollector;

namespace {

using flowscribe::test::unhex;

// ike-cert_synthetic.pcap frame 1: IKEv1 Main Mode, SA + CERT (X.509, "ikev1.example.com").
const std::string kV1Cert = unhex(
    "1122334455667788aabbccddeeff001101100200000000000000015a0600000c00000001000000010000013204308201"
    "293081d4020900e7fe6cc44427d5fe300d06092a864886f70d01010b0500301c311a301806035504030c11696b657631"
    "2e6578616d706c652e636f6d301e170d3236303230323137343034385a170d3236303230333137343034385a301c311a"
    "301806035504030c11696b6576312e6578616d706c652e636f6d305c300d06092a864886f70d0101010500034b003048"
    "024100aab2bd800893c5adbec9c8e1f513b6e5e3fa38e222b559e8cff26b36c535bfba5e485b6e9168b9fdc07d23610b"
    "c6a16628708eef5b688d00bc040407a1d091d10203010001300d06092a864886f70d01010b0500034100798665899a95"
    "6bb1a25c3783f7f48bd6f0ac171b101f6b8276403918dfbf732e19825f2a9643b07a19e498b23fe482375cc8ffa68469"
    "96a8bdc4f78c0bd4e23a");

// ike-cert_synthetic.pcap frame 2: IKEv2 IKE_SA_INIT (responder flags), SA + CERT ("ikev2.example.com").
const std::string kV2Cert = unhex(
    "9988776655443322123456789abcdef021202200000000010000015a2500000c00000008010100000000013204308201"
    "293081d4020900cba85d9a334981b1300d06092a864886f70d01010b0500301c311a301806035504030c11696b657632"
    "2e6578616d706c652e636f6d301e170d3236303230323137343034385a170d3236303230333137343034385a301c311a"
    "301806035504030c11696b6576322e6578616d706c652e636f6d305c300d06092a864886f70d0101010500034b003048"
    "024100c35a840561edcf6bbec0a090847508ca57def76463adf53f7578f1798bd4d34e4fdb120dd5f976bb4ed392ce96"
    "a8721ece47e69ee0fe21d5ab9315ffb9c9e38f0203010001300d06092a864886f70d01010b050003410069a95c7ef00d"
    "2907db773dc48cd3a4a19c5e36649e8101e2b6f3b3bad52c389fea8eae0714171b463c28b511816abf75a09878fd3a05"
    "2ad22769b31c58b1b5dc");

// ike-cert_synthetic.pcap frame 5: ESP on UDP 4500.
const std::string kNatTEsp = unhex(
    "deadbeef00000001aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");

// ike-cert_synthetic.pcap frame 6: the non-ESP marker, then an IKEv1 header alone.
const std::string kNatTIke = unhex(
    "000000001111111111111111222222222222222200100200000000000000001c");

// IKEv1.pcap frame 1: Main Mode SA + vendor IDs (strongSwan, PSK).
const std::string kV1Real = unhex(
    "e8836b356b7c1bae000000000000000001100200000000000000007c0d00003800000001000000010000002c01010001"
    "0000002401010000800b0001800c708080010007800e01008003000180020006800400140d000014afcad71368a1f1c9"
    "6b8696fc7757010000000014a9b9b1034f7e50a2513b47b100bb85a9");

// IKEv1.pcap frame 6: Main Mode message 5 (ID, HASH), encryption flag set.
const std::string kV1Encrypted = unhex(
    "63c268011254b771850b3a1845f947cc05100201000000000000009cb7005a788ab92c30cbe7aa6b627264305c34211d"
    "5d92876a24e5e451521c7c1dd86e95dcb51b76a3d6ffa34ff4acf5687a99117e3835c4c9f1aefaa35413f0eec4f505fe"
    "6155736cee16a8eb21f6d87bc30a8385bda2b3330d1fcd7ed70b9b8b994841397709846b2a596de443dac5729e993abb"
    "19efe9f96c8a3ef97160e7e7");

// IKEv2.pcap frame 1: IKE_SA_INIT request (SA, KE, Nonce, notifies).
const std::string kV2Init = unhex(
    "e5bc67550fd4d3ea00000000000000002120220800000000000000d8220000300000002c010100040300000c0100000c"
    "800e01000300000802000007030000080300000e000000080400001428000068001400008d2dff99f22fc7bfafae7963"
    "431c9a57893240fd1a3514a930329381ae2d65b4233192edfc9cfbc550fa0f7f8ac44ee9649c594dfe182ff4da48d8bc"
    "03cec4ab917d7cd88d3b695d5e81a084e275cb45c787cceab708b91791912741dfbc7e370000002415761d155d4a061d"
    "9537f5864aa36649f9514792fb7449cf51b9b8f562cff656");

// IKEv2.pcap frame 4: IKE_AUTH request: one Encrypted (SK) payload.
const std::string kV2Auth = unhex(
    "8e7779464044673e7b452c842bc4e8912e202308000000010000012023000104b4908df9fa84297ec40edee620b8a211"
    "f1b7707b279848ba94bafb16fc38d625d09d7df2d515e7d52d1ebf0700652ec8e65fd4772661b16a410f62a486067e50"
    "051b50381d95296349b869991771c416267cdb720334f8df6390d9b40690aae65e0bb08b18aec416ec3f26edbbf210ff"
    "1f2b5485a2198b42c3f371ac3af73825da0d393c42e494fa168098f284f0dfcff055cf9587ccbe0cfb6941205a0bf661"
    "1e8b9515d922654201323ac855ba07f6c3b2719427082573e4430e0dac8af99b262daa05c989a6d031c6870047480d8f"
    "908fde630f72cc07e37980e1c4194ff852cf8d76a84d9ecb21ebaca94ac6035c7774b959f25a3d47c97601e02a69e418");

using Fields = std::vector<std::pair<std::string, std::string>>;

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

// Feeds datagrams (the first `cut` bytes of each, the wire length whole) on a fresh flow;
// returns the records' fields.
std::vector<Fields> run(flowscribe::dissect::Dissector& d, const std::vector<std::pair<bool, std::string>>& dgrams,
                        uint16_t port = 500, size_t cut = SIZE_MAX, Progress* last = nullptr) {
  FlowUnderTest t(d, 17, port, port, static_cast<uint16_t>(AppProto::kIke));
  Progress p = Progress::kMore;
  for (const auto& [client, b] : dgrams) {
    const size_t n = std::min(cut, b.size());
    std::vector<uint8_t> buf(b.begin(), b.begin() + static_cast<long>(n));  // exact size: ASan
    p = t.data(client, buf.data(), static_cast<uint32_t>(n), static_cast<uint32_t>(b.size()));
    if (p != Progress::kMore) break;
  }
  if (last != nullptr) *last = p;
  t.end();
  CHECK(t.out.bad_commits == 0);
  std::vector<Fields> out;
  for (const auto& r : t.out.records) {
    CHECK(r->type == flowscribe::emit::RecordType::kX509);
    out.push_back(RecordCollector::fields(*r));
  }
  return out;
}

}  // namespace

TEST_CASE("ike: an x509 record per X.509 CERT payload, IKEv1 and IKEv2", "[ike]") {
  auto d = flowscribe::dissect::make_ike_dissector();
  auto r = run(*d, {{true, kV1Cert}});
  REQUIRE(r.size() == 1);
  // Arkime's ike-cert_synthetic.test: the same SHA-1, CN and serial (Arkime keeps the sign byte).
  CHECK(field(r[0], "x509.pos") == "0");
  CHECK(field(r[0], "x509.source") == "ike");
  CHECK(field(r[0], "x509.sender") == "initiator");  // IKEv1: the side that sent first
  CHECK(field(r[0], "x509.sha1") == "8e84ad9c175e82cc93db92df7579245e25ab9a71");
  CHECK(field(r[0], "x509.subject_cn") == "ikev1.example.com");
  CHECK(field(r[0], "x509.serial") == "E7FE6CC44427D5FE");
  CHECK(field(r[0], "x509.error") == "<absent>");
  r = run(*d, {{true, kV2Cert}});
  REQUIRE(r.size() == 1);
  CHECK(field(r[0], "x509.sender") == "responder");  // IKEv2: the Initiator flag is clear
  CHECK(field(r[0], "x509.sha1") == "3a6f0c34be12319db76ff50b85e67f53a9294542");
  CHECK(field(r[0], "x509.subject_cn") == "ikev2.example.com");
  CHECK(counter(*d, "ike_v1") == 1);
  CHECK(counter(*d, "ike_v2") == 1);
  CHECK(counter(*d, "ike_cert_payloads") == 2);
  CHECK(counter(*d, "ike_certs") == 2);
  // A retransmission writes nothing again; the same certificate in another flow does, from
  // the cache (a fresh dissector: no other certificate can have taken its slot).
  auto e = flowscribe::dissect::make_ike_dissector();
  const auto first = run(*e, {{true, kV1Cert}});
  CHECK(run(*e, {{true, kV1Cert}, {true, kV1Cert}}) == first);
  CHECK(counter(*e, "ike_retransmits") == 1);
  CHECK(counter(*e, "ike_cert_cache_hits") == 1);
}

TEST_CASE("ike: real exchanges without certificates; encrypted payloads; NAT-T", "[ike]") {
  auto d = flowscribe::dissect::make_ike_dissector();
  CHECK(run(*d, {{true, kV1Real}, {true, kV1Encrypted}, {true, kV2Init}, {true, kV2Auth}}).empty());
  CHECK(counter(*d, "ike_messages") == 4);
  CHECK(counter(*d, "ike_encrypted") == 2);  // IKEv1's flag, IKEv2's SK payload
  CHECK(counter(*d, "ike_bad_payload") == 0);
  CHECK(counter(*d, "ike_bad_header") == 0);
  // UDP 4500: ESP skipped, the marked IKE message read; on 500 the ESP bytes are no header.
  CHECK(run(*d, {{true, kNatTEsp}, {true, kNatTIke}, {false, kNatTIke}}, 4500).empty());
  CHECK(counter(*d, "ike_esp") == 1);
  CHECK(counter(*d, "ike_messages") == 6);
  // A certificate behind the marker.
  CHECK(run(*d, {{true, std::string(4, '\0') + kV1Cert}}, 4500).size() == 1);
  // 64 datagrams in a row with nothing clear: the flow is left.
  std::vector<std::pair<bool, std::string>> esp(70, {true, kNatTEsp});
  Progress last = Progress::kMore;
  CHECK(run(*d, esp, 4500, SIZE_MAX, &last).empty());
  CHECK(last == Progress::kDone);
  CHECK(counter(*d, "ike_quiet") == 1);
}

TEST_CASE("ike: every truncation of every fixture", "[ike]") {
  auto d = flowscribe::dissect::make_ike_dissector();
  for (const std::string* f : {&kV1Cert, &kV2Cert, &kV1Real, &kV1Encrypted, &kV2Init, &kV2Auth, &kNatTIke}) {
    const bool cert = f == &kV1Cert || f == &kV2Cert;
    for (size_t k = 0; k <= f->size(); ++k) {
      INFO("prefix " << k);
      const auto r = run(*d, {{true, *f}}, f == &kNatTIke ? 4500 : 500, k);
      // The CERT payload is the message's last: recorded only when all of it is there.
      CHECK(r.size() == (cert && k == f->size() ? 1u : 0u));
    }
  }
  CHECK(counter(*d, "ike_cut") > 0);
}

TEST_CASE("ike: hostile bytes", "[ike]") {
  auto d = flowscribe::dissect::make_ike_dissector();
  // Every byte of the certificate fixtures set to 0x00, 0xff and flipped: no crash, no
  // over-read, at most the one record.
  for (const std::string* f : {&kV1Cert, &kV2Cert}) {
    for (size_t i = 0; i < f->size(); ++i) {
      for (int how = 0; how < 3; ++how) {
        std::string m = *f;
        m[i] = how == 0 ? '\0' : how == 1 ? '\xff' : static_cast<char>(m[i] ^ 0x80);
        CHECK(run(*d, {{true, m}}).size() <= 1);
      }
    }
  }
  // A chain of 100 empty payloads: walked up to the cap.
  std::string many = kV1Cert.substr(0, 28);
  many[16] = 13;  // Vendor ID
  for (int i = 0; i < 100; ++i) many += unhex("0d000004");
  many[many.size() - 4] = 0;
  const uint32_t n = static_cast<uint32_t>(many.size());
  for (int b = 0; b < 4; ++b) many[24 + b] = static_cast<char>(n >> (24 - 8 * b));
  CHECK(run(*d, {{true, many}}).empty());
  CHECK(counter(*d, "ike_payload_cap") == 1);
  // Twelve X.509 CERT payloads in one message: ten recorded.
  const size_t cert_at = 28 + 12;  // after the header and the 12-byte SA payload
  std::string cert_payload = kV1Cert.substr(cert_at);
  cert_payload[0] = 6;  // next: CERT again
  std::string twelve = kV1Cert.substr(0, cert_at);
  for (int i = 0; i < 12; ++i) twelve += cert_payload;
  twelve[twelve.size() - cert_payload.size()] = 0;
  const uint32_t tn = static_cast<uint32_t>(twelve.size());
  for (int b = 0; b < 4; ++b) twelve[24 + b] = static_cast<char>(tn >> (24 - 8 * b));
  const auto r = run(*d, {{false, twelve}});
  REQUIRE(r.size() == 10);
  CHECK(field(r[9], "x509.pos") == "9");
  CHECK(field(r[0], "x509.sender") == "responder");
  CHECK(counter(*d, "ike_cert_cap") == 2);  // the two past ten
  // Headers that are no IKE: zero SPI, version 3.0, length below 28.
  const uint64_t bad0 = counter(*d, "ike_bad_header");
  std::string h = kV1Real;
  for (int i = 0; i < 8; ++i) h[i] = 0;
  std::string v = kV1Real;
  v[17] = 0x30;
  std::string l = kV1Real;
  l[27] = 27;
  l[26] = l[25] = l[24] = 0;
  CHECK(run(*d, {{true, h}, {true, v}, {true, l}}).empty());
  CHECK(counter(*d, "ike_bad_header") == bad0 + 3);
}
