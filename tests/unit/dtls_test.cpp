// DTLS in the TLS dissector: handshakes from real traffic (tests/captures/dissect/dtls/dtls.pcap,
// fixtures in dtls_fixtures.h: DTLS 1.2 with HelloVerifyRequest and a Certificate in two
// datagrams, DTLS 1.0 with every flight in 400-byte fragments, DTLS 1.2 without SNI), every
// truncation of every datagram, the server's flight in every order, every datagram twice,
// the Certificate re-fragmented in every order, roles found from the ClientHello (WebRTC),
// hand-built DTLS 1.3 hellos, and hostile fragments.
// GCC 12 at -O3 warns falsely (-Wrestrict, GCC bug 105329) on std::string copies inlined from
// the harness (RecordCollector::line/fields), as in dns_test.cpp.
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wrestrict"
#endif
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "dissectors/tls/tls.h"
#include "tests/unit/dissect_harness.h"
#include "tests/unit/dtls_fixtures.h"

namespace {

using flowscribe::dissect::Progress;
using flowscribe::test::FlowUnderTest;
using flowscribe::test::RecordCollector;
namespace fx = dtls_fixtures;

struct Dg {
  bool from_client;
  std::string bytes;
  uint32_t wire = 0;  // 0: bytes.size()
};

template <size_t N>
std::vector<Dg> flow_of(const fx::Datagram (&d)[N]) {
  std::vector<Dg> out;
  for (const auto& x : d) out.push_back({x.from_client, std::string(x.bytes), 0});
  return out;
}

struct Run {
  std::vector<std::string> lines;
  std::vector<std::vector<std::pair<std::string, std::string>>> fields;
  std::map<std::string, uint64_t> counters;
  Progress last = Progress::kMore;
  size_t fed = 0;  // datagrams given before kDone
  int bad_commits = 0;
  size_t open = 0;
};

// Feeds the datagrams as the app layer does (nothing after kDone), then ends the flow.
// `app_proto` is the classifier's name for the flow (dtls 4, stun 42).
Run run(const std::vector<Dg>& dgs, uint16_t app_proto = 4) {
  auto d = flowscribe::dissect::make_tls_dissector();
  FlowUnderTest f(*d, 17, 40000, 4433, app_proto);
  Run out;
  for (const Dg& g : dgs) {
    // An exactly-sized heap copy: an over-read shows under ASan.
    std::unique_ptr<uint8_t[]> b(new uint8_t[g.bytes.size() + 1]);
    std::memcpy(b.get(), g.bytes.data(), g.bytes.size());
    const auto n = static_cast<uint32_t>(g.bytes.size());
    out.last = f.data(g.from_client, b.get(), n, g.wire ? g.wire : n);
    REQUIRE(out.last != Progress::kViolation);
    REQUIRE(out.last != Progress::kIdle);
    ++out.fed;
    if (out.last == Progress::kDone) break;
  }
  f.end();
  for (auto& r : f.out.records) {
    out.lines.push_back(RecordCollector::line(*r));
    out.fields.push_back(RecordCollector::fields(*r));
  }
  d->for_each_counter([&](const flowscribe::CounterInfo& ci, uint64_t v) { out.counters[std::string(ci.name)] = v; });
  out.bad_commits = f.out.bad_commits;
  out.open = f.out.open_count();
  return out;
}

std::string get(const std::vector<std::pair<std::string, std::string>>& fs, std::string_view k) {
  for (auto& [n, v] : fs) {
    if (n == k) return v;
  }
  return "<absent>";
}

void be16(std::string& s, unsigned v) {
  s += static_cast<char>(v >> 8);
  s += static_cast<char>(v & 0xff);
}
void be24(std::string& s, unsigned v) {
  s += static_cast<char>(v >> 16);
  be16(s, v & 0xffff);
}
// A DTLS record (RFC 6347 section 4.1).
std::string record(uint8_t type, const std::string& body, unsigned version = 0xfefd, unsigned epoch = 0) {
  std::string s(1, static_cast<char>(type));
  be16(s, version);
  be16(s, epoch);
  s += std::string(6, '\0');
  be16(s, static_cast<unsigned>(body.size()));
  return s + body;
}
// One handshake fragment (RFC 6347 section 4.2.2) of message `msg`.
std::string frag(uint8_t type, unsigned seq, const std::string& msg, size_t off, size_t len) {
  std::string s(1, static_cast<char>(type));
  be24(s, static_cast<unsigned>(msg.size()));
  be16(s, seq);
  be24(s, static_cast<unsigned>(off));
  be24(s, static_cast<unsigned>(len));
  return s + msg.substr(off, len);
}
std::string whole(uint8_t type, unsigned seq, const std::string& msg) { return frag(type, seq, msg, 0, msg.size()); }
std::string ext(unsigned type, const std::string& body) {
  std::string s;
  be16(s, type);
  be16(s, static_cast<unsigned>(body.size()));
  return s + body;
}

// A DTLS ClientHello body: legacy version, random, empty session id, cookie, 3 suites,
// SNI, and optionally supported_versions.
std::string client_hello(const std::string& sni, const std::string& cookie, const std::string& versions = "") {
  std::string b;
  be16(b, 0xfefd);
  b += std::string(32, '\x42');
  b += '\0';
  b += static_cast<char>(cookie.size());
  b += cookie;
  be16(b, 6);
  be16(b, 0x1301);
  be16(b, 0xc02b);
  be16(b, 0xc02f);
  b += std::string("\x01\x00", 2);
  std::string sn;
  sn += '\0';
  be16(sn, static_cast<unsigned>(sni.size()));
  sn += sni;
  std::string snl;
  be16(snl, static_cast<unsigned>(sn.size()));
  std::string exts = ext(0, snl + sn);
  if (!versions.empty()) exts += ext(43, std::string(1, static_cast<char>(versions.size())) + versions);
  be16(b, static_cast<unsigned>(exts.size()));
  return b + exts;
}
// A ServerHello body; `version` 0: no supported_versions extension.
std::string server_hello(unsigned cipher, unsigned version = 0, bool hrr = false) {
  static const uint8_t kHrr[32] = {0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c,
                                   0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb,
                                   0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};
  std::string b;
  be16(b, 0xfefd);
  b += hrr ? std::string(reinterpret_cast<const char*>(kHrr), 32) : std::string(32, '\x24');
  b += '\0';
  be16(b, cipher);
  b += '\0';
  if (version) {
    std::string v;
    be16(v, version);
    const std::string e = ext(43, v);
    be16(b, static_cast<unsigned>(e.size()));
    b += e;
  }
  return b;
}

// The reassembled Certificate message body of a fixture flow (message type 11).
std::string certificate_message(const std::vector<Dg>& dgs) {
  std::string msg;
  for (const Dg& g : dgs) {
    if (g.from_client) continue;
    const std::string& b = g.bytes;
    for (size_t o = 0; o + 13 <= b.size();) {
      const size_t len = static_cast<uint8_t>(b[o + 11]) << 8 | static_cast<uint8_t>(b[o + 12]);
      const std::string body = b.substr(o + 13, len);
      if (b[o] == 22 && b[o + 3] == 0 && b[o + 4] == 0 && body.size() >= 12 && body[0] == 11) {
        auto u24 = [&](size_t i) {
          return size_t{static_cast<uint8_t>(body[i])} << 16 | size_t{static_cast<uint8_t>(body[i + 1])} << 8 |
                 static_cast<uint8_t>(body[i + 2]);
        };
        const size_t mlen = u24(1), off = u24(6), fl = u24(9);
        if (msg.size() < mlen) msg.resize(mlen);
        msg.replace(off, fl, body.substr(12, fl));
      }
      o += 13 + len;
    }
  }
  return msg;
}

const std::vector<Dg>& f4433() {
  static const std::vector<Dg> v = flow_of(fx::k4433);
  return v;
}
const std::vector<Dg>& f4434() {
  static const std::vector<Dg> v = flow_of(fx::k4434);
  return v;
}
const std::vector<Dg>& f4435() {
  static const std::vector<Dg> v = flow_of(fx::k4435);
  return v;
}

}  // namespace

TEST_CASE("dtls: DTLS 1.2, HelloVerifyRequest, a 2-certificate chain in two datagrams") {
  const Run r = run(f4433());
  CHECK(r.last == Progress::kDone);
  REQUIRE(r.fields.size() == 3);
  CHECK(get(r.fields[0], "x509.pos") == "0");
  CHECK(get(r.fields[0], "x509.subject") == "CN=rsa.dtls.test,OU=dtls,O=flowscribe,C=DE");
  CHECK(get(r.fields[0], "x509.key_bits") == "4096");
  CHECK(get(r.fields[0], "x509.san_dns") == "rsa.dtls.test,www.rsa.dtls.test");
  CHECK(get(r.fields[1], "x509.pos") == "1");
  CHECK(get(r.fields[1], "x509.ca") == "true");
  CHECK(get(r.fields[1], "x509.subject_cn") == "flowscribe DTLS Intermediate CA");
  const auto& t = r.fields[2];
  CHECK(get(t, "tls.version") == "DTLSv1.2");
  CHECK(get(t, "tls.client_version") == "DTLSv1.2");
  CHECK(get(t, "tls.cipher") == "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
  CHECK(get(t, "tls.sni") == "rsa.dtls.test");
  CHECK(get(t, "tls.cert_count") == "2");
  CHECK(get(t, "tls.cert_sha256") == get(r.fields[0], "x509.sha256"));
  CHECK(get(t, "tls.ja4").substr(0, 10) == "dd2d280700");
  CHECK(get(t, "tls.ja3").size() == 32);
  CHECK(get(t, "tls.ja3s").size() == 32);
  CHECK(get(t, "tls.partial") == "<absent>");
  CHECK(r.counters.at("tls_dtls_hello_verify") == 1);
  CHECK(r.counters.at("tls_dtls_reassembled") == 1);
  // Done at the end of the server's first flight: the client's Finished is not needed.
  CHECK(r.fed == 5);
}

TEST_CASE("dtls: DTLS 1.0 in 400-byte fragments") {
  const Run r = run(f4434());
  CHECK(r.last == Progress::kDone);
  REQUIRE(r.fields.size() == 3);
  CHECK(get(r.fields[0], "x509.curve") == "prime256v1");
  CHECK(get(r.fields[1], "x509.curve") == "secp384r1");
  const auto& t = r.fields[2];
  CHECK(get(t, "tls.version") == "DTLSv1.0");
  CHECK(get(t, "tls.cipher") == "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA");
  CHECK(get(t, "tls.sni") == "ecdsa.dtls.test");
  CHECK(get(t, "tls.ja4").substr(0, 4) == "dd1d");
  CHECK(get(t, "tls.cert_count") == "2");
}

TEST_CASE("dtls: the ClientHello after HelloVerifyRequest is the one written") {
  // The first ClientHello has no cookie and another SNI; the retransmitted first one later
  // changes nothing.
  const std::string ch0 = client_hello("first.test", "");
  const std::string ch1 = client_hello("second.test", "COOKIE");
  std::string hvr;
  be16(hvr, 0xfeff);
  hvr += std::string("\x06", 1) + "COOKIE";
  const Run r = run({{true, record(22, whole(1, 0, ch0), 0xfeff)},
                     {false, record(22, whole(3, 0, hvr), 0xfeff)},
                     {true, record(22, whole(1, 1, ch1))},
                     {true, record(22, whole(1, 0, ch0), 0xfeff)},
                     {false, record(22, whole(2, 1, server_hello(0xc02f))) + record(22, whole(14, 2, ""))}});
  REQUIRE(r.fields.size() == 1);
  CHECK(get(r.fields[0], "tls.sni") == "second.test");
  CHECK(get(r.fields[0], "tls.version") == "DTLSv1.2");
  CHECK(get(r.fields[0], "tls.cipher") == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
  CHECK(get(r.fields[0], "tls.cipher_count") == "3");
  CHECK(get(r.fields[0], "tls.partial") == "<absent>");
  CHECK(r.last == Progress::kDone);
  CHECK(r.counters.at("tls_dtls_retransmits") == 1);
  CHECK(r.counters.at("tls_dtls_hello_verify") == 1);
}

TEST_CASE("dtls: DTLS 1.3 shows its hellos; HelloRetryRequest waits for the second ServerHello") {
  const std::string v13 = std::string("\xfe\xfc\xfe\xfd", 4);
  SECTION("plain") {
    const Run r = run({{true, record(22, whole(1, 0, client_hello("d13.test", "", v13)))},
                       {false, record(22, whole(2, 0, server_hello(0x1301, 0xfefc)))}});
    REQUIRE(r.fields.size() == 1);
    CHECK(get(r.fields[0], "tls.version") == "DTLSv1.3");
    CHECK(get(r.fields[0], "tls.client_version") == "DTLSv1.3");
    CHECK(get(r.fields[0], "tls.client_versions") == "DTLSv1.3,DTLSv1.2");
    CHECK(get(r.fields[0], "tls.cert_hidden") == "true");
    CHECK(get(r.fields[0], "tls.cipher") == "TLS_AES_128_GCM_SHA256");
    CHECK(get(r.fields[0], "tls.ja4").substr(0, 10) == "dd3d030200");
    CHECK(r.last == Progress::kDone);
  }
  SECTION("HelloRetryRequest") {
    const Run r = run({{true, record(22, whole(1, 0, client_hello("d13.test", "", v13)))},
                       {false, record(22, whole(2, 0, server_hello(0x1302, 0xfefc, true)))},
                       {true, record(22, whole(1, 1, client_hello("d13b.test", "", v13)))},
                       {false, record(22, whole(2, 1, server_hello(0x1301, 0xfefc)))},
                       {false, std::string(1, '\x2c') + std::string(30, '\x55')}});  // unified header
    REQUIRE(r.fields.size() == 1);
    CHECK(r.fed == 4);
    CHECK(get(r.fields[0], "tls.sni") == "d13b.test");
    CHECK(get(r.fields[0], "tls.cipher") == "TLS_AES_128_GCM_SHA256");
    CHECK(get(r.fields[0], "tls.cert_hidden") == "true");
  }
}

TEST_CASE("dtls: every truncation of every datagram is safe") {
  for (const auto* flow : {&f4433(), &f4434(), &f4435()}) {
    const Run ref = run(*flow);
    for (size_t i = 0; i < flow->size(); ++i) {
      for (size_t k = 0; k <= (*flow)[i].bytes.size(); ++k) {
        // Datagram i cut to k bytes by the capture (wire length kept), the others whole.
        std::vector<Dg> v = *flow;
        v[i].wire = static_cast<uint32_t>(v[i].bytes.size());
        v[i].bytes.resize(k);
        const Run r = run(v);
        REQUIRE(r.bad_commits == 0);
        REQUIRE(r.open == 0);
        REQUIRE(r.fields.size() <= ref.fields.size());
        for (auto& l : r.lines) REQUIRE(l.size() < 8192);
        // The flow ends right after the cut datagram.
        v.resize(i + 1);
        const Run e = run(v);
        REQUIRE(e.bad_commits == 0);
        REQUIRE(e.open == 0);
        REQUIRE(e.fields.size() <= ref.fields.size());
        if (!e.fields.empty() && e.lines.back().find(" tls [") != std::string::npos &&
            e.fields.size() < ref.fields.size()) {
          REQUIRE(get(e.fields.back(), "tls.partial") == "true");
        }
      }
    }
  }
}

TEST_CASE("dtls: the server's flight in every order gives the same records") {
  for (const auto* flow : {&f4433(), &f4434(), &f4435()}) {
    const Run ref = run(*flow);
    REQUIRE(ref.fields.size() >= 2);
    // The client's two hellos and the HelloVerifyRequest first, then the server's flight.
    std::vector<Dg> head(flow->begin(), flow->begin() + 3);
    std::vector<Dg> flight;
    for (size_t i = 3; i < flow->size() && !(*flow)[i].from_client; ++i) flight.push_back((*flow)[i]);
    REQUIRE(flight.size() >= 2);
    std::vector<size_t> order(flight.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    size_t n = 0;
    do {
      std::vector<Dg> v = head;
      for (size_t i : order) v.push_back(flight[i]);
      v.push_back((*flow)[3 + flight.size()]);  // the client's next flight
      const Run r = run(v);
      REQUIRE(r.lines == ref.lines);
      ++n;
    } while (std::next_permutation(order.begin(), order.end()));
    CHECK(n >= 2);
  }
}

TEST_CASE("dtls: every datagram twice (retransmissions) gives the same records") {
  for (const auto* flow : {&f4433(), &f4434(), &f4435()}) {
    const Run ref = run(*flow);
    std::vector<Dg> v;
    for (const Dg& g : *flow) {
      v.push_back(g);
      v.push_back(g);
    }
    const Run r = run(v);
    CHECK(r.lines == ref.lines);
    CHECK(r.counters.at("tls_dtls_retransmits") > 0);
  }
}

TEST_CASE("dtls: a Certificate cut into fragments, in every order, overlapping") {
  const std::vector<Dg>& flow = f4434();
  const Run ref = run(flow);
  const std::string cert = certificate_message(flow);
  REQUIRE(cert.size() == 1101);
  // The hellos (datagrams 0-2), the ServerHello alone, then 5 fragments of the Certificate in
  // every order (the 3rd repeated with overlap), then ServerHelloDone.
  std::vector<Dg> head(flow.begin(), flow.begin() + 3);
  const std::string& d3 = flow[3].bytes;  // ServerHello record first, then a Certificate fragment
  const size_t sh_len = 13 + (static_cast<uint8_t>(d3[11]) << 8 | static_cast<uint8_t>(d3[12]));
  head.push_back({false, d3.substr(0, sh_len)});
  const size_t cuts[] = {0, 200, 450, 700, 950, cert.size()};
  std::vector<std::string> frags;
  for (int i = 0; i < 5; ++i) frags.push_back(record(22, frag(11, 2, cert, cuts[i], cuts[i + 1] - cuts[i]), 0xfeff));
  const std::string overlap = record(22, frag(11, 2, cert, 300, 500), 0xfeff);
  std::vector<int> order = {0, 1, 2, 3, 4};
  do {
    std::vector<Dg> v = head;
    for (int i : order) {
      v.push_back({false, frags[static_cast<size_t>(i)]});
      if (i == 2) v.push_back({false, overlap});
    }
    v.push_back({false, record(22, whole(14, 4, ""), 0xfeff)});
    const Run r = run(v);
    REQUIRE(r.lines == ref.lines);
  } while (std::next_permutation(order.begin(), order.end()));
  // One byte per fragment, last byte first: the ranges merge as they come.
  std::vector<Dg> v = head;
  for (size_t i = cert.size(); i-- > 0;) v.push_back({false, record(22, frag(11, 2, cert, i, 1), 0xfeff)});
  CHECK(run(v).lines == ref.lines);
}

TEST_CASE("dtls: roles from the ClientHello: the flow's server side is the DTLS client (WebRTC)") {
  const Run ref = run(f4435());
  // STUN binding request and answer first (RFC 7983: first byte 0-3), then the DTLS flow with
  // the directions the other way round, on a flow the classifier named stun.
  std::vector<Dg> v = {{true, std::string("\x00\x01\x00\x00\x21\x12\xa4\x42", 8) + std::string(12, 'T')},
                       {false, std::string("\x01\x01\x00\x00\x21\x12\xa4\x42", 8) + std::string(12, 'T')}};
  for (Dg g : f4435()) {
    g.from_client = !g.from_client;
    v.push_back(g);
  }
  const Run r = run(v, 42);
  REQUIRE(r.fields.size() == ref.fields.size());
  for (size_t i = 0; i < r.fields.size(); ++i) CHECK(r.fields[i] == ref.fields[i]);
  CHECK(r.counters.at("tls_dtls_roles_swapped") == 1);
  CHECK(r.counters.at("tls_dtls_other_datagrams") == 2);
}

TEST_CASE("dtls: hostile datagrams") {
  SECTION("no handshake within 32 datagrams: given up, nothing written") {
    std::vector<Dg> v;
    for (int i = 0; i < 40; ++i) v.push_back({i % 2 == 0, std::string("\x80\x60\x00\x01", 4) + std::string(20, 'r')});
    const Run r = run(v);
    CHECK(r.last == Progress::kDone);
    CHECK(r.fed == 32);
    CHECK(r.fields.empty());
    CHECK(r.counters.at("tls_dtls_no_handshake") == 1);
  }
  SECTION("encrypted records from the server end a flow picked up midway, with nothing written") {
    const Run r = run({{true, record(23, std::string(40, 'x'), 0xfefd, 1)},
                       {false, record(23, std::string(40, 'y'), 0xfefd, 1)}});
    CHECK(r.last == Progress::kDone);
    CHECK(r.fields.empty());
  }
  SECTION("a fragment past its message and a record past its datagram") {
    const std::string ch = client_hello("x.test", "");
    std::string bad(1, '\x01');
    be24(bad, 10);
    be16(bad, 0);
    be24(bad, 8);
    be24(bad, 5);  // 8 + 5 > 10
    bad += "12345";
    std::string cut = record(22, whole(1, 0, ch));
    cut.resize(cut.size() - 10);
    const Run r = run({{true, record(22, bad)}, {true, cut}});
    CHECK(r.counters.at("tls_dtls_bad_fragment") == 1);
    CHECK(r.counters.at("tls_dtls_record_cut") == 1);
    CHECK(r.fields.empty());  // the cut hello waits for the rest that never comes
  }
  SECTION("more than 32 disjoint pieces: counted, the rest still fills in") {
    const std::string ch = client_hello("pieces.test", std::string(100, 'c'));
    std::vector<Dg> v;
    for (size_t o = 0; o < ch.size(); o += 4) v.push_back({true, record(22, frag(1, 0, ch, o, std::min<size_t>(1, ch.size() - o)))});
    for (size_t o = 0; o < ch.size(); o += 3) v.push_back({true, record(22, frag(1, 0, ch, o, std::min<size_t>(3, ch.size() - o)))});
    const Run r = run(v);
    CHECK(r.counters.at("tls_dtls_reasm_ranges") > 0);
    REQUIRE(r.fields.size() == 1);
    CHECK(get(r.fields[0], "tls.sni") == "pieces.test");
  }
  SECTION("a Certificate message past the buffer: the certificates inside it, then the cut one") {
    const std::string c1 = certificate_message(f4434());  // list length + 2 certificates
    std::string list = c1.substr(3);
    std::string big;
    be24(big, 20000);
    big += std::string(20000, '\x30');
    list += big;
    std::string msg;
    be24(msg, static_cast<unsigned>(list.size()));
    msg += list;
    std::vector<Dg> v(f4434().begin(), f4434().begin() + 3);
    v.push_back({false, record(22, whole(2, 1, server_hello(0xc00a)), 0xfeff)});
    for (size_t o = 0; o < msg.size(); o += 1000) {
      v.push_back({false, record(22, frag(11, 2, msg, o, std::min<size_t>(1000, msg.size() - o)), 0xfeff)});
    }
    const Run r = run(v);
    REQUIRE(r.fields.size() == 4);
    CHECK(get(r.fields[0], "x509.curve") == "prime256v1");
    CHECK(get(r.fields[2], "x509.der_len") == "20000");
    CHECK(get(r.fields[2], "x509.error") != "<absent>");
    CHECK(get(r.fields[3], "tls.cert_count") == "3");
    CHECK(r.counters.at("tls_dtls_msg_cut") == 1);
  }
  SECTION("a fragment with another length than the message's first") {
    const std::string ch = client_hello("len.test", "");
    std::string other = ch + "extra";
    const Run r = run({{true, record(22, frag(1, 0, ch, 0, 20))}, {true, record(22, frag(1, 0, other, 20, other.size() - 20))}});
    CHECK(r.counters.at("tls_dtls_bad_fragment") == 1);
    CHECK(r.fields.empty());
  }
  SECTION("a fatal alert from the server ends the handshake") {
    const Run r = run({{true, record(22, whole(1, 0, client_hello("a.test", "")))},
                       {false, record(21, std::string("\x02\x28", 2))}});
    CHECK(r.last == Progress::kDone);
    REQUIRE(r.fields.size() == 1);
    CHECK(get(r.fields[0], "tls.alert") == "handshake_failure");
  }
}
