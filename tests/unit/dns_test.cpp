// DNS dissector (dissectors/dns): fixtures are messages from the real traffic of
// tests/captures/dissect/make-dns-captures.sh (dnsmasq, unbound, avahi-daemon, dig), plus
// hand-made hostile messages. Every fixture is also fed cut at every length, and TCP streams
// split at every offset.
#include <catch2/catch.hpp>

// GCC 12 at -O3 warns falsely (-Wrestrict, GCC bug 105329) on std::string copies inlined from
// RecordCollector::line() into check_lines() below.
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wrestrict"
#endif

#include <algorithm>
#include <string>
#include <vector>

#include "common/app_proto.h"
#include "dissectors/dns/dns.h"
#include "tests/unit/dissect_harness.h"

namespace {

using flowscribe::AppProto;
using flowscribe::dissect::Progress;
using flowscribe::test::FlowUnderTest;
using flowscribe::test::RecordCollector;
using Bytes = std::vector<uint8_t>;

Bytes hex(std::string_view h) {
  Bytes out;
  auto nib = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<uint8_t>(nib(h[i]) << 4 | nib(h[i + 1])));
  return out;
}

// dig @10.63.0.2 www.test.lan A (dnsmasq answers 10.63.0.80)
const Bytes kQueryA = hex("fb8d01200001000000000001037777770474657374036c616e000001000100002904d000000000000c000a000802430dc3d9f53fea");
const Bytes kRespA = hex("fb8d85800001000100000001037777770474657374036c616e0000010001c00c000100010000000000040a3f005000002904d0000000000000");
// AAAA fd63::80
const Bytes kQueryAaaa = hex("64d201200001000000000001037777770474657374036c616e00001c000100002904d000000000000c000a0008abfdb2fdc946fac4");
const Bytes kRespAaaa = hex("64d285800001000100000001037777770474657374036c616e00001c0001c00c001c0001000000000010fd63000000000000000000000000008000002904d0000000000000");
// web.test.lan: CNAME www.test.lan, A 10.63.0.80
const Bytes kQueryCname = hex("2d6d01200001000000000001037765620474657374036c616e000001000100002904d000000000000c000a0008fcc26b0ba81575df");
const Bytes kRespCname = hex("2d6d85800001000200000001037765620474657374036c616e0000010001c00c0005000100000000000e037777770474657374036c616e00c02a000100010000000000040a3f005000002904d0000000000000");
// test.lan MX 10 mail.test.lan
const Bytes kQueryMx = hex("2f11012000010000000000010474657374036c616e00000f000100002904d000000000000c000a00089467678eb3a294ff");
const Bytes kRespMx = hex("2f11858000010001000000020474657374036c616e00000f0001c00c000f0001000000000011000a046d61696c0474657374036c616e00c028000100010000000000040a3f001900002904d0000000000000");
// test.lan TXT "v=spf1 mx -all" "hello, world"
const Bytes kRespTxt = hex("599d858000010001000000010474657374036c616e0000100001c00c0010000100000000001c0e763d73706631206d78202d616c6c0c68656c6c6f2c20776f726c6400002904d0000000000000");
// _ldap._tcp.test.lan SRV 0 100 389 ldap.test.lan
const Bytes kRespSrv = hex("d4d385800001000100000002055f6c646170045f7463700474657374036c616e0000210001c00c00210001000000000015000000640185046c6461700474657374036c616e00c037000100010000000000040a3f002600002904d0000000000000");
// -x 10.63.0.80: PTR www.test.lan
const Bytes kRespPtr = hex("ca0b85800001000100000001023830013002363302313007696e2d61646472046172706100000c0001c00c000c000100000000000e037777770474657374036c616e0000002904d0000000000000");
// nope.test.lan: NXDOMAIN; example.com: REFUSED (dnsmasq); www.lame.lan: SERVFAIL (unbound)
const Bytes kQueryNx = hex("e19701200001000000000001046e6f70650474657374036c616e000001000100002904d000000000000c000a00080ad4b29872b829e0");
const Bytes kRespNx = hex("e19781830001000000000001046e6f70650474657374036c616e000001000100002904d0000000000000");
const Bytes kQueryRefused = hex("37e801200001000000000001076578616d706c6503636f6d000001000100002904d000000000000c000a000861f6b92273964f86");
const Bytes kRespRefused = hex("37e881850001000000000001076578616d706c6503636f6d000001000100002904d0000000000006000f0002000e");
const Bytes kQueryServfail = hex("6c820120000100000000000103777777046c616d65036c616e000001000100002904d000000000000c000a000882dd351445b10ff8");
const Bytes kRespServfail = hex("6c828182000100000000000103777777046c616d65036c616e000001000100002904d0000000000000");
// big.test.lan TXT without EDNS: TC set, no answers
const Bytes kQueryBig = hex("883901200001000000000000036269670474657374036c616e0000100001");
const Bytes kRespTc = hex("883987800001000000000000036269670474657374036c616e0000100001");
// mDNS legacy unicast: query srv63.local A to 224.0.0.251, avahi's unicast answer (3 A)
const Bytes kMdnsQuery = hex("ef9d01200001000000000001057372763633056c6f63616c000001000100002904d000000000000c000a00083fe31f46a5e7a957");
const Bytes kMdnsResp = hex("ef9d84000001000300000000057372763633056c6f63616c0000010001c00c000100010000000a00040a3f0004c00c000100010000000a00040a3f0003c00c000100010000000a00040a3f0002");
// avahi's announcement (no question, 8 answers, cache-flush classes)
const Bytes kMdnsAnnounce = hex(
    "0000840000000008000000000136013201300164013401310165016601660166013001610161013901300138013001300130013001300130"
    "013001300130013001300130013001380165016603697036046172706100000c800100000078000d057372763633056c6f63616c00c06000"
    "0180010000007800040a3f00020132013002363302313007696e2d61646472c050000c8001000000780002c060c060000180010000007800"
    "040a3f00030133c07f000c8001000000780002c060c060000180010000007800040a3f00040134c07f000c8001000000780002c060c06000"
    "1c8001000000780010fe80000000000000809aa0fffe14d026");
// TCP (dig +tcp +keepopen): three length-prefixed queries and their responses, one connection
const Bytes kTcpClient = hex(
    "0035044001200001000000000001037777770474657374036c616e00001c000100002904d000000000000c000a000892dbe8554acc36bd"
    "00314cd1012000010000000000010474657374036c616e000010000100002904d000000000000c000a000892dbe8554acc36bd"
    "0036c79101200001000000000001046e6f70650474657374036c616e000001000100002904d000000000000c000a000892dbe8554acc36bd");
const Bytes kTcpServer = hex(
    "0045044085800001000100000001037777770474657374036c616e00001c0001c00c001c0001000000000010fd63000000000000000000000000008000002904d0000000000000"
    "004d4cd1858000010001000000010474657374036c616e0000100001c00c0010000100000000001c0e763d73706631206d78202d616c6c0c68656c6c6f2c20776f726c6400002904d0000000000000"
    "002ac79181830001000000000001046e6f70650474657374036c616e000001000100002904d0000000000000");

std::unique_ptr<flowscribe::dissect::Dissector> dns() { return flowscribe::dissect::make_dns_dissector(); }

std::string f(const flowscribe::emit::Record& r, std::string_view name) { return RecordCollector::field(r, name); }

std::vector<std::string> all(const flowscribe::emit::Record& r, std::string_view name) {
  std::vector<std::string> out;
  for (auto& [k, v] : RecordCollector::fields(r)) {
    if (k == name) out.push_back(v);
  }
  return out;
}

uint64_t counter(const flowscribe::dissect::Dissector& d, std::string_view name) {
  uint64_t v = ~0ULL;
  d.for_each_counter([&](const flowscribe::CounterInfo& i, uint64_t x) {
    if (name == i.name) v = x;
  });
  return v;
}

// PREFIX, then 128 'x' and the cut marker (built by append: GCC 12 warns falsely on a + chain).
std::string txt_cut(const char* prefix) {
  std::string s(prefix);
  s.append(128, 'x');
  s.append("...");
  return s;
}

Progress feed(FlowUnderTest& t, bool from_client, const Bytes& b) {
  return t.data(from_client, b.data(), static_cast<uint32_t>(b.size()));
}

// Every record's formatted line is one RFC 5424 line with a dns@ element.
void check_lines(const RecordCollector& out) {
  for (const auto& r : out.records) {
    const std::string line = RecordCollector::line(*r);
    REQUIRE(line.find("[dns@32473 ") != std::string::npos);
    REQUIRE(line.find('\n') == line.size() - 1);
  }
}

}  // namespace

TEST_CASE("dns: UDP query and response make one answered record, then the flow idles") {
  auto d = dns();
  FlowUnderTest t(*d, 17, 55536, 53, static_cast<uint16_t>(AppProto::kDns));
  REQUIRE(feed(t, true, kQueryA) == Progress::kMore);
  t.now += 285'000;
  REQUIRE(feed(t, false, kRespA) == Progress::kIdle);
  t.end();
  REQUIRE(t.out.records.size() == 1);
  const auto& r = *t.out.records[0];
  CHECK(r.type == flowscribe::emit::RecordType::kDns);
  CHECK(r.ts_ns == t.now - 285'000);  // the query's time
  CHECK(f(r, "dns.query") == "www.test.lan");
  CHECK(f(r, "dns.qtype") == "A");
  CHECK(f(r, "dns.qtype_num") == "1");
  CHECK(f(r, "dns.qclass") == "IN");
  CHECK(f(r, "dns.trans_id") == "64397");
  CHECK(f(r, "dns.status") == "answered");
  CHECK(f(r, "dns.rcode") == "NOERROR");
  CHECK(f(r, "dns.rcode_num") == "0");
  CHECK(f(r, "dns.aa") == "true");
  CHECK(f(r, "dns.tc") == "false");
  CHECK(f(r, "dns.rd") == "true");
  CHECK(f(r, "dns.ra") == "true");
  CHECK(f(r, "dns.rtt_us") == "285");
  CHECK(f(r, "dns.ancount") == "1");
  CHECK(f(r, "dns.nscount") == "0");
  CHECK(f(r, "dns.arcount") == "1");
  CHECK(f(r, "dns.opcode") == "<absent>");
  CHECK(f(r, "dns.anomaly") == "<absent>");
  CHECK(all(r, "dns.answer") == std::vector<std::string>{"A 0 10.63.0.80"});
  check_lines(t.out);
  CHECK(counter(*d, "dns_answered") == 1);
}

TEST_CASE("dns: answers of each type are rendered") {
  struct Case {
    const Bytes* q;
    const Bytes* r;
    std::vector<std::string> answers;
  };
  const Bytes q_txt = hex("599d012000010000000000010474657374036c616e000010000100002904d000000000000c000a000893705fecae055594");
  const Bytes q_srv = hex("d4d301200001000000000001055f6c646170045f7463700474657374036c616e000021000100002904d000000000000c000a0008df77ca2a6692d582");
  const Bytes q_ptr = hex("ca0b01200001000000000001023830013002363302313007696e2d61646472046172706100000c000100002904d000000000000c000a0008dde97a0266d52a99");
  const std::vector<Case> cases = {
      {&kQueryAaaa, &kRespAaaa, {"AAAA 0 fd63::80"}},
      {&kQueryCname, &kRespCname, {"CNAME 0 www.test.lan", "A 0 10.63.0.80"}},
      {&kQueryMx, &kRespMx, {"MX 0 10 mail.test.lan"}},
      {&q_txt, &kRespTxt, {"TXT 0 v=spf1 mx -all hello, world"}},
      {&q_srv, &kRespSrv, {"SRV 0 0 100 389 ldap.test.lan"}},
      {&q_ptr, &kRespPtr, {"PTR 0 www.test.lan"}},
  };
  for (const Case& c : cases) {
    auto d = dns();
    FlowUnderTest t(*d, 17, 40000, 53, static_cast<uint16_t>(AppProto::kDns));
    feed(t, true, *c.q);
    feed(t, false, *c.r);
    t.end();
    REQUIRE(t.out.records.size() == 1);
    CHECK(f(*t.out.records[0], "dns.status") == "answered");
    CHECK(all(*t.out.records[0], "dns.answer") == c.answers);
  }
}

TEST_CASE("dns: failures are explicit: NXDOMAIN, REFUSED, SERVFAIL, no response") {
  struct Case {
    const Bytes* q;
    const Bytes* r;
    const char* rcode;
    const char* num;
  };
  for (const Case& c : {Case{&kQueryNx, &kRespNx, "NXDOMAIN", "3"}, Case{&kQueryRefused, &kRespRefused, "REFUSED", "5"},
                        Case{&kQueryServfail, &kRespServfail, "SERVFAIL", "2"}}) {
    auto d = dns();
    FlowUnderTest t(*d, 17, 40000, 53, static_cast<uint16_t>(AppProto::kDns));
    feed(t, true, *c.q);
    feed(t, false, *c.r);
    t.end();
    REQUIRE(t.out.records.size() == 1);
    CHECK(f(*t.out.records[0], "dns.rcode") == c.rcode);
    CHECK(f(*t.out.records[0], "dns.rcode_num") == c.num);
    CHECK(f(*t.out.records[0], "dns.status") == "answered");
    CHECK(all(*t.out.records[0], "dns.answer").empty());
  }
  auto d = dns();
  FlowUnderTest t(*d, 17, 58380, 53, static_cast<uint16_t>(AppProto::kDns));
  const flowscribe::Nanos asked = t.now;
  REQUIRE(feed(t, true, hex("6d78012000010000000000010178046661696c036c616e000001000100002904d000000000000c000a0008f2b07790539cc523")) ==
          Progress::kMore);
  t.now += 60 * flowscribe::kNsPerSec;
  t.end();
  REQUIRE(t.out.records.size() == 1);
  const auto& r = *t.out.records[0];
  CHECK(f(r, "dns.status") == "no-response");
  CHECK(f(r, "dns.query") == "x.fail.lan");
  CHECK(f(r, "dns.rcode") == "<absent>");
  CHECK(f(r, "dns.aa") == "<absent>");
  CHECK(f(r, "dns.ancount") == "<absent>");
  CHECK(r.ts_ns == asked);
  CHECK(counter(*d, "dns_no_response") == 1);
}

TEST_CASE("dns: TC bit, unsolicited response, retransmission, several queries on one flow") {
  SECTION("truncated over UDP") {
    auto d = dns();
    FlowUnderTest t(*d, 17, 36803, 53, static_cast<uint16_t>(AppProto::kDns));
    feed(t, true, kQueryBig);
    feed(t, false, kRespTc);
    REQUIRE(t.out.records.size() == 1);
    CHECK(f(*t.out.records[0], "dns.tc") == "true");
    CHECK(f(*t.out.records[0], "dns.arcount") == "0");
  }
  SECTION("a response without its query") {
    auto d = dns();
    FlowUnderTest t(*d, 17, 55536, 53, static_cast<uint16_t>(AppProto::kDns));
    REQUIRE(feed(t, false, kRespA) == Progress::kIdle);
    REQUIRE(t.out.records.size() == 1);
    CHECK(f(*t.out.records[0], "dns.status") == "unsolicited");
    CHECK(f(*t.out.records[0], "dns.query") == "www.test.lan");
    CHECK(f(*t.out.records[0], "dns.rd") == "true");
    CHECK(f(*t.out.records[0], "dns.rtt_us") == "<absent>");
    CHECK(all(*t.out.records[0], "dns.answer") == std::vector<std::string>{"A 0 10.63.0.80"});
    // A second copy of a response already matched is unsolicited too.
    FlowUnderTest u(*d, 17, 55536, 53, static_cast<uint16_t>(AppProto::kDns));
    feed(u, true, kQueryA);
    feed(u, false, kRespA);
    feed(u, false, kRespA);
    REQUIRE(u.out.records.size() == 2);
    CHECK(f(*u.out.records[1], "dns.status") == "unsolicited");
  }
  SECTION("the same query twice while pending") {
    auto d = dns();
    FlowUnderTest t(*d, 17, 55536, 53, static_cast<uint16_t>(AppProto::kDns));
    feed(t, true, kQueryA);
    t.now += flowscribe::kNsPerSec;
    REQUIRE(feed(t, true, kQueryA) == Progress::kMore);
    feed(t, false, kRespA);
    REQUIRE(t.out.records.size() == 1);
    CHECK(f(*t.out.records[0], "dns.retransmits") == "1");
    CHECK(counter(*d, "dns_retransmits") == 1);
  }
  SECTION("pipelined on one flow, answered out of order") {
    auto d = dns();
    FlowUnderTest t(*d, 17, 40053, 53, static_cast<uint16_t>(AppProto::kDns));
    feed(t, true, kQueryA);
    feed(t, true, kQueryMx);
    REQUIRE(feed(t, true, kQueryNx) == Progress::kMore);
    feed(t, false, kRespNx);
    feed(t, false, kRespA);
    REQUIRE(feed(t, false, kRespMx) == Progress::kIdle);
    REQUIRE(t.out.records.size() == 3);
    CHECK(f(*t.out.records[0], "dns.query") == "nope.test.lan");
    CHECK(f(*t.out.records[1], "dns.query") == "www.test.lan");
    CHECK(f(*t.out.records[2], "dns.query") == "test.lan");
    CHECK(f(*t.out.records[2], "dns.qtype") == "MX");
  }
  SECTION("a response matches by id and question, case-insensitively (0x20 encoding)") {
    auto d = dns();
    FlowUnderTest t(*d, 17, 40053, 53, static_cast<uint16_t>(AppProto::kDns));
    Bytes q = kQueryA;
    q[13] = 'W';  // wWw
    feed(t, true, q);
    feed(t, false, kRespA);
    REQUIRE(t.out.records.size() == 1);
    CHECK(f(*t.out.records[0], "dns.status") == "answered");
    CHECK(f(*t.out.records[0], "dns.query") == "Www.test.lan");
  }
}

TEST_CASE("dns: the pending table and the per-query timeout are bounded") {
  auto d = dns();
  FlowUnderTest t(*d, 17, 40053, 53, static_cast<uint16_t>(AppProto::kDns));
  for (uint16_t id = 1; id <= 9; ++id) {
    Bytes q = kQueryA;
    q[0] = 0;
    q[1] = static_cast<uint8_t>(id);
    t.now += 1000;
    feed(t, true, q);
  }
  REQUIRE(t.out.records.size() == 1);  // the oldest, pushed out by the ninth
  CHECK(f(*t.out.records[0], "dns.trans_id") == "1");
  CHECK(f(*t.out.records[0], "dns.status") == "no-response");
  CHECK(counter(*d, "dns_pending_overflow") == 1);
  // 15 s later the next message writes the rest as no-response (oldest first at flow end).
  t.now += 16 * flowscribe::kNsPerSec;
  feed(t, true, kQueryMx);
  CHECK(t.out.records.size() == 9);
  CHECK(counter(*d, "dns_timeouts") == 8);
  t.end();
  REQUIRE(t.out.records.size() == 10);
  CHECK(f(*t.out.records[9], "dns.query") == "test.lan");
}

TEST_CASE("dns: mDNS and LLMNR") {
  SECTION("a query to a multicast group is written at once") {
    auto d = dns();
    FlowUnderTest t(*d, 17, 58609, 5353, static_cast<uint16_t>(AppProto::kMdns));
    t.flow.key.addr[1][0] = 224;
    t.flow.key.addr[1][3] = 251;
    auto c = t.ctx();
    d->begin_flow(t.slot, c, 17);
    REQUIRE(feed(t, true, kMdnsQuery) == Progress::kIdle);
    REQUIRE(t.out.records.size() == 1);
    CHECK(f(*t.out.records[0], "dns.status") == "multicast");
    CHECK(f(*t.out.records[0], "dns.query") == "srv63.local");
    CHECK(f(*t.out.records[0], "dns.rcode") == "<absent>");
  }
  SECTION("the unicast answer from another flow is unsolicited; announcements name the owner") {
    auto d = dns();
    FlowUnderTest t(*d, 17, 58609, 5353, static_cast<uint16_t>(AppProto::kMdns));
    feed(t, false, kMdnsResp);
    REQUIRE(t.out.records.size() == 1);
    CHECK(all(*t.out.records[0], "dns.answer") ==
          std::vector<std::string>{"A 10 10.63.0.4", "A 10 10.63.0.3", "A 10 10.63.0.2"});
    FlowUnderTest a(*d, 17, 5353, 5353, static_cast<uint16_t>(AppProto::kMdns));
    a.flow.key.addr[1][0] = 224;
    auto c = a.ctx();
    d->begin_flow(a.slot, c, 17);
    REQUIRE(feed(a, true, kMdnsAnnounce) == Progress::kIdle);
    REQUIRE(a.out.records.size() == 1);
    const auto& r = *a.out.records[0];
    CHECK(f(r, "dns.status") == "multicast");
    CHECK(f(r, "dns.query") == "6.2.0.d.4.1.e.f.f.f.0.a.a.9.0.8.0.0.0.0.0.0.0.0.0.0.0.0.0.8.e.f.ip6.arpa");
    CHECK(f(r, "dns.qtype") == "<absent>");
    CHECK(f(r, "dns.ancount") == "8");
    const auto answers = all(r, "dns.answer");
    REQUIRE(answers.size() == 8);
    CHECK(answers[0] == "PTR 120 srv63.local");
    CHECK(answers[1] == "A 120 10.63.0.2");
    CHECK(answers[7] == "AAAA 120 fe80::809a:a0ff:fe14:d026");
  }
  SECTION("non-DNS bytes: a violation on DNS, ignored on mDNS") {
    auto d = dns();
    FlowUnderTest t(*d, 17, 40000, 53, static_cast<uint16_t>(AppProto::kDns));
    REQUIRE(t.data(true, "hello") == Progress::kViolation);
    CHECK(counter(*d, "dns_not_dns") == 1);
    FlowUnderTest m(*d, 17, 5353, 5353, static_cast<uint16_t>(AppProto::kMdns));
    REQUIRE(m.data(true, "hello") == Progress::kIdle);
    CHECK(counter(*d, "dns_mdns_ignored") == 1);
    // Opcode 15 (unassigned)
    Bytes q = kQueryA;
    q[2] = 0x78;
    FlowUnderTest u(*d, 17, 40000, 53, static_cast<uint16_t>(AppProto::kDns));
    REQUIRE(feed(u, true, q) == Progress::kViolation);
  }
  SECTION("LLMNR query and answer (RFC 4795 section 2.1.1 flags)") {
    // wpad? A, and the answer with C=0 T=0 from the responder
    const Bytes q = hex("a1b20000000100000000000004777061640000010001");
    const Bytes r = hex("a1b28000000100010000000004777061640000010001c00c000100010000001e0004c0a80105");
    auto d = dns();
    FlowUnderTest t(*d, 17, 50000, 5355, static_cast<uint16_t>(AppProto::kLlmnr));
    feed(t, true, q);
    feed(t, false, r);
    REQUIRE(t.out.records.size() == 1);
    CHECK(f(*t.out.records[0], "dns.query") == "wpad");
    CHECK(all(*t.out.records[0], "dns.answer") == std::vector<std::string>{"A 30 192.168.1.5"});
  }
}

TEST_CASE("dns: hostile names are counted anomalies, flagged in the record") {
  // Header: id 0x1234, response, 1 question, 1 answer; question name at 12.
  auto msg = [](const Bytes& qname, const Bytes& rest) {
    Bytes m = hex("123481800001000100000000");
    m.insert(m.end(), qname.begin(), qname.end());
    const Bytes tc = hex("00010001");
    m.insert(m.end(), tc.begin(), tc.end());
    m.insert(m.end(), rest.begin(), rest.end());
    return m;
  };
  struct Case {
    const char* what;
    Bytes m;
    const char* anomaly;
    const char* counter_name;
  };
  Bytes long_name;
  for (int i = 0; i < 5; ++i) {
    long_name.push_back(63);
    long_name.insert(long_name.end(), 63, 'a');
  }
  long_name.push_back(0);
  std::vector<Case> cases = {
      {"pointer to itself", msg(hex("c00c"), {}), "compression-loop", "dns_compression_loop"},
      {"pointer forward", msg(hex("c020"), hex("00000000000000000000000000000000")), "pointer-forward", "dns_pointer_forward"},
      {"pointer out of bounds", msg(hex("c3ff"), {}), "pointer-out-of-bounds", "dns_pointer_oob"},
      {"label type 01", msg(hex("4061"), {}), "label-too-long", "dns_label_too_long"},
      {"name of 320 octets", msg(long_name, {}), "name-too-long", "dns_name_too_long"},
      {"answer count past the end", msg(hex("016100"), {}), "rr-overrun", "dns_rr_overrun"},
      {"trailing bytes", msg(hex("016100"), hex("c00c000100010000003c00040a000001ffff")), "trailing-bytes", "dns_trailing_bytes"},
      {"an A record of 3 bytes", msg(hex("016100"), hex("c00c000100010000003c00030a0000")), "bad-rdata", "dns_bad_rdata"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    auto d = dns();
    FlowUnderTest t(*d, 17, 40000, 53, static_cast<uint16_t>(AppProto::kDns));
    REQUIRE(t.data(false, c.m.data(), static_cast<uint32_t>(c.m.size())) == Progress::kIdle);
    REQUIRE(t.out.records.size() == 1);
    CHECK(f(*t.out.records[0], "dns.anomaly") == c.anomaly);
    CHECK(f(*t.out.records[0], "dns.trans_id") == "4660");
    CHECK(counter(*d, c.counter_name) == 1);
    check_lines(t.out);
  }
}

TEST_CASE("dns: a pointer chain longer than 32 hops is an anomaly") {
  // 34 answers whose owners all point at the first one's "a": fine, 32 written.
  Bytes m = hex("123481800000002200000000" "016100" "00010001" "00000001" "0004" "01020304");
  for (int i = 1; i < 34; ++i) {
    const Bytes rr = hex("c00c" "00010001" "00000001" "0004" "01020304");
    m.insert(m.end(), rr.begin(), rr.end());
  }
  {
    auto d = dns();
    FlowUnderTest t(*d, 17, 40000, 53, static_cast<uint16_t>(AppProto::kDns));
    t.data(false, m.data(), static_cast<uint32_t>(m.size()));
    REQUIRE(t.out.records.size() == 1);
    CHECK(f(*t.out.records[0], "dns.anomaly") == "<absent>");
    CHECK(f(*t.out.records[0], "dns.query") == "a");
    CHECK(counter(*d, "dns_answers_cut") == 2);
    CHECK(all(*t.out.records[0], "dns.answer").size() == 32);
  }
  // Answer 1 (NULL) holds "a" and 33 pointers, each to the one before; answer 2 is a CNAME
  // whose target points at the last: 34 hops, each one backward and legal alone.
  Bytes h = hex("123481800000000200000000" "00" "000a0001" "00000001");
  const uint32_t base = 12 + 1 + 10;
  Bytes chain = {0x01, 'a', 0x00};
  uint32_t prev = base;
  for (int i = 0; i < 33; ++i) {
    const uint32_t here = base + static_cast<uint32_t>(chain.size());
    chain.push_back(static_cast<uint8_t>(0xc0 | prev >> 8));
    chain.push_back(static_cast<uint8_t>(prev));
    prev = here;
  }
  h.push_back(static_cast<uint8_t>(chain.size() >> 8));
  h.push_back(static_cast<uint8_t>(chain.size()));
  h.insert(h.end(), chain.begin(), chain.end());
  const Bytes rr = hex("00" "00050001" "00000001" "0002");
  h.insert(h.end(), rr.begin(), rr.end());
  h.push_back(static_cast<uint8_t>(0xc0 | prev >> 8));
  h.push_back(static_cast<uint8_t>(prev));
  auto d = dns();
  FlowUnderTest t(*d, 17, 40000, 53, static_cast<uint16_t>(AppProto::kDns));
  t.data(false, h.data(), static_cast<uint32_t>(h.size()));
  REQUIRE(t.out.records.size() == 1);
  CHECK(f(*t.out.records[0], "dns.anomaly") == "pointer-chain");
  CHECK(f(*t.out.records[0], "dns.query") == ".");
  CHECK(counter(*d, "dns_pointer_chain") == 1);
}

TEST_CASE("dns: additional-section addresses (glue) are listed, at most 8") {
  // A referral: no answer, one NS in authority (its name at offset 0x29), glue A and AAAA for
  // it in the additional section.
  Bytes m = hex("123481000001000000010002" "076578616d706c6503636f6d00" "00010001");
  const Bytes ns = hex("c00c" "00020001" "00000e10" "0006" "036e7331c00c");  // ns1.example.com
  m.insert(m.end(), ns.begin(), ns.end());
  const Bytes glue4 = hex("c029" "00010001" "00000e10" "0004" "c0000201");
  const Bytes glue6 = hex("c029" "001c0001" "00000e10" "0010" "20010db8000000000000000000000035");
  m.insert(m.end(), glue4.begin(), glue4.end());
  m.insert(m.end(), glue6.begin(), glue6.end());
  {
    auto d = dns();
    FlowUnderTest t(*d, 17, 40000, 53, static_cast<uint16_t>(AppProto::kDns));
    t.data(false, m.data(), static_cast<uint32_t>(m.size()));
    REQUIRE(t.out.records.size() == 1);
    const auto add = all(*t.out.records[0], "dns.additional");
    REQUIRE(add.size() == 2);
    CHECK(add[0] == "ns1.example.com A 3600 192.0.2.1");
    CHECK(add[1] == "ns1.example.com AAAA 3600 2001:db8::35");
    CHECK(all(*t.out.records[0], "dns.answer").empty());
    CHECK(counter(*d, "dns_additional_cut") == 0);
  }
  // Ten glue records: 8 written, 2 counted.
  Bytes many = m;
  many[11] = 10;  // arcount
  for (int i = 2; i < 10; ++i) many.insert(many.end(), glue4.begin(), glue4.end());
  auto d = dns();
  FlowUnderTest t(*d, 17, 40000, 53, static_cast<uint16_t>(AppProto::kDns));
  t.data(false, many.data(), static_cast<uint32_t>(many.size()));
  REQUIRE(t.out.records.size() == 1);
  CHECK(all(*t.out.records[0], "dns.additional").size() == 8);
  CHECK(counter(*d, "dns_additional_cut") == 2);
}

TEST_CASE("dns: answers beyond one record slot go to continuation slots") {
  // 30 TXT answers of 120 bytes each: ~3.9 KB of answer text, two slots' worth.
  Bytes m = hex("123481800001001e00000000");
  const Bytes q = hex("017400" "0010" "0001");
  m.insert(m.end(), q.begin(), q.end());
  for (int i = 0; i < 30; ++i) {
    const Bytes rr = hex("c00c" "00100001" "00000005" "0079");  // rdlength 121
    m.insert(m.end(), rr.begin(), rr.end());
    m.push_back(120);
    m.insert(m.end(), 119, static_cast<uint8_t>('a' + i % 26));
    m.push_back(static_cast<uint8_t>('0' + i % 10));
  }
  auto d = dns();
  FlowUnderTest t(*d, 17, 40000, 53, static_cast<uint16_t>(AppProto::kDns));
  t.data(false, m.data(), static_cast<uint32_t>(m.size()));
  REQUIRE(t.out.records.size() == 1);
  const auto answers = all(*t.out.records[0], "dns.answer");
  REQUIRE(answers.size() == 30);
  CHECK(answers[29] == "TXT 5 " + std::string(119, 'a' + 29 % 26) + "9");
  CHECK(t.out.records[0]->more >= 1);
  CHECK(counter(*d, "dns_answers_cut") == 0);
}

TEST_CASE("dns: long values are capped and counted") {
  // TXT of 300 bytes (two strings): cut at 128 with "..."; 40 answers: 32 written (the record
  // takes a continuation slot: the test's collector has them).
  Bytes m = hex("123481800001002800000000");
  const Bytes q = hex("017400" "0010" "0001");
  m.insert(m.end(), q.begin(), q.end());
  const Bytes txt_rr = hex("c00c" "00100001" "00000005" "012e");  // rdlength 302
  m.insert(m.end(), txt_rr.begin(), txt_rr.end());
  m.push_back(200);
  m.insert(m.end(), 200, 'x');
  m.push_back(100);
  m.insert(m.end(), 100, 'y');
  for (int i = 0; i < 39; ++i) {
    const Bytes a = hex("c00c000100010000000500040a000001");
    m.insert(m.end(), a.begin(), a.end());
  }
  auto d = dns();
  FlowUnderTest t(*d, 17, 40000, 53, static_cast<uint16_t>(AppProto::kDns));
  t.data(false, m.data(), static_cast<uint32_t>(m.size()));
  REQUIRE(t.out.records.size() == 1);
  const auto answers = all(*t.out.records[0], "dns.answer");
  REQUIRE(answers.size() == 32);
  CHECK(answers[0] == txt_cut("TXT 5 "));
  CHECK(answers[31] == "A 5 10.0.0.1");
  CHECK(f(*t.out.records[0], "dns.ancount") == "40");
  CHECK(counter(*d, "dns_txt_cut") == 1);
  CHECK(counter(*d, "dns_answers_cut") == 8);
  CHECK(f(*t.out.records[0], "dns.anomaly") == "<absent>");
}

TEST_CASE("dns: a dynamic UPDATE lists its update section") {
  // RFC 2136: zone example.com, three updates of host.example.com (name at offset 29): delete
  // the AAAA RRset, delete A 192.0.2.9, add A 192.0.2.10 with TTL 3600. The server answers
  // with the zone section only.
  Bytes req = hex("bb012800000100000003000007" "6578616d706c6503636f6d00" "00060001");
  const Bytes u1 = hex("04686f7374c00c" "001c00ff" "00000000" "0000");
  const Bytes u2 = hex("c01d" "000100fe" "00000000" "0004" "c0000209");
  const Bytes u3 = hex("c01d" "00010001" "00000e10" "0004" "c000020a");
  for (const Bytes* u : {&u1, &u2, &u3}) req.insert(req.end(), u->begin(), u->end());
  const Bytes resp = hex("bb01a800000100000000000007" "6578616d706c6503636f6d00" "00060001");
  const std::vector<std::string> want = {"delete_rrset host.example.com AAAA 0",
                                         "delete host.example.com A 0 192.0.2.9",
                                         "add host.example.com A 3600 192.0.2.10"};
  {
    auto d = dns();
    FlowUnderTest t(*d, 17, 40000, 53, static_cast<uint16_t>(AppProto::kDns));
    feed(t, true, req);
    feed(t, false, resp);
    REQUIRE(t.out.records.size() == 1);
    const auto& r = *t.out.records[0];
    CHECK(f(r, "dns.query") == "example.com");
    CHECK(f(r, "dns.opcode") == "UPDATE");
    CHECK(f(r, "dns.status") == "answered");
    CHECK(all(r, "dns.update") == want);
    CHECK(all(r, "dns.answer").empty());
    CHECK(f(r, "dns.anomaly") == "<absent>");
    CHECK(counter(*d, "dns_updates_cut") == 0);
    check_lines(t.out);
  }
  {  // No response: the request's record still lists them.
    auto d = dns();
    FlowUnderTest t(*d, 17, 40000, 53, static_cast<uint16_t>(AppProto::kDns));
    feed(t, true, req);
    t.end();
    REQUIRE(t.out.records.size() == 1);
    CHECK(f(*t.out.records[0], "dns.status") == "no-response");
    CHECK(all(*t.out.records[0], "dns.update") == want);
  }
  {  // Six updates: four written, two counted; a second UPDATE before the first's response
     // takes the kept list's place (the first's updates counted, its record without them).
    Bytes many = req;
    many[9] = 6;  // upcount
    for (int i = 0; i < 3; ++i) many.insert(many.end(), u3.begin(), u3.end());
    auto d = dns();
    FlowUnderTest t(*d, 17, 40000, 53, static_cast<uint16_t>(AppProto::kDns));
    feed(t, true, many);
    Bytes second = req;
    second[1] = 0x02;  // id bb02
    feed(t, true, second);
    Bytes resp2 = resp;
    resp2[1] = 0x02;
    feed(t, false, resp2);
    feed(t, false, resp);
    REQUIRE(t.out.records.size() == 2);
    CHECK(all(*t.out.records[0], "dns.update") == want);      // bb02, answered first
    CHECK(all(*t.out.records[1], "dns.update").empty());      // bb01: replaced
    CHECK(counter(*d, "dns_updates_cut") == 6);               // 2 beyond the cap + 4 replaced
  }
  // Every truncation of the request, answered: never a crash, a prefix of the updates.
  auto d = dns();
  for (uint32_t k = 0; k <= req.size(); ++k) {
    FlowUnderTest t(*d, 17, 40000, 53, static_cast<uint16_t>(AppProto::kDns));
    std::unique_ptr<uint8_t[]> cut(new uint8_t[k + 1]);
    std::memcpy(cut.get(), req.data(), k);
    t.data(true, cut.get(), k, static_cast<uint32_t>(req.size()));
    feed(t, false, resp);
    t.end();
    REQUIRE(t.out.open_count() == 0);
    REQUIRE(t.out.bad_commits == 0);
    for (const auto& rec : t.out.records) {
      const auto got = all(*rec, "dns.update");
      REQUIRE(got.size() <= want.size());
      for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == want[i]);
    }
    check_lines(t.out);
  }
}

TEST_CASE("dns: every truncation of every fixture") {
  const std::vector<std::pair<const Bytes*, const Bytes*>> pairs = {
      {&kQueryA, &kRespA},       {&kQueryAaaa, &kRespAaaa},     {&kQueryCname, &kRespCname},
      {&kQueryMx, &kRespMx},     {&kQueryNx, &kRespNx},         {&kQueryRefused, &kRespRefused},
      {&kQueryServfail, &kRespServfail}, {&kQueryBig, &kRespTc}, {&kMdnsQuery, &kMdnsResp},
      {&kMdnsAnnounce, &kMdnsAnnounce}, {&kQueryA, &kRespTxt}, {&kQueryA, &kRespSrv}, {&kQueryA, &kRespPtr}};
  auto d = dns();
  for (const auto& [q, r] : pairs) {
    for (uint32_t k = 0; k <= r->size(); ++k) {
      // The response cut by the capture (wire length known): the query still gets a record.
      FlowUnderTest t(*d, 17, 40000, 53, static_cast<uint16_t>(AppProto::kDns));
      feed(t, true, *q);
      std::unique_ptr<uint8_t[]> cut(new uint8_t[k + 1]);
      std::memcpy(cut.get(), r->data(), k);
      t.data(false, cut.get(), k, static_cast<uint32_t>(r->size()));
      t.end();
      REQUIRE(t.out.open_count() == 0);
      REQUIRE(t.out.bad_commits == 0);
      REQUIRE(t.out.records.size() >= 1);
      REQUIRE(t.out.records.size() <= 2);
      if (k >= 12 && k < r->size()) {
        // The cut response is in a record (answered or unsolicited), marked as cut.
        bool marked = false;
        for (const auto& rec : t.out.records) marked = marked || f(*rec, "dns.cut") == "true";
        CHECK(marked);
      }
      check_lines(t.out);
      // The same prefix as a whole datagram (a short message): never a crash.
      FlowUnderTest u(*d, 17, 40000, 53, static_cast<uint16_t>(AppProto::kMdns));
      u.data(true, cut.get(), k);
      u.data(false, cut.get(), k);
      u.end();
      REQUIRE(u.out.open_count() == 0);
      REQUIRE(u.out.records.size() <= 2);
      check_lines(u.out);
    }
  }
}

namespace {

// Feeds a TCP flow: the client stream in pieces cut at `cuts_c`, then the server's at `cuts_s`,
// interleaved message by message as real traffic is.
std::vector<std::vector<std::pair<std::string, std::string>>> run_tcp(
    const Bytes& client, const Bytes& server, const std::vector<uint32_t>& cut_c, const std::vector<uint32_t>& cut_s) {
  auto d = dns();
  FlowUnderTest t(*d, 6, 38235, 53, static_cast<uint16_t>(AppProto::kDns));
  auto pieces = [](const Bytes& b, const std::vector<uint32_t>& cuts) {
    std::vector<Bytes> out;
    uint32_t prev = 0;
    for (uint32_t c : cuts) {
      if (c <= prev || c >= b.size()) continue;
      out.emplace_back(b.begin() + prev, b.begin() + c);
      prev = c;
    }
    out.emplace_back(b.begin() + prev, b.end());
    return out;
  };
  for (const Bytes& p : pieces(client, cut_c)) {
    std::unique_ptr<uint8_t[]> buf(new uint8_t[p.size() + 1]);
    std::memcpy(buf.get(), p.data(), p.size());
    REQUIRE(t.data(true, buf.get(), static_cast<uint32_t>(p.size())) == Progress::kMore);
  }
  for (const Bytes& p : pieces(server, cut_s)) {
    std::unique_ptr<uint8_t[]> buf(new uint8_t[p.size() + 1]);
    std::memcpy(buf.get(), p.data(), p.size());
    REQUIRE(t.data(false, buf.get(), static_cast<uint32_t>(p.size())) == Progress::kMore);
  }
  t.end();
  std::vector<std::vector<std::pair<std::string, std::string>>> out;
  for (const auto& r : t.out.records) out.push_back(RecordCollector::fields(*r));
  return out;
}

}  // namespace

TEST_CASE("dns: TCP messages give the same records however the stream is cut") {
  const auto whole = run_tcp(kTcpClient, kTcpServer, {}, {});
  REQUIRE(whole.size() == 3);
  CHECK(whole[0][0] == std::make_pair(std::string("dns.query"), std::string("www.test.lan")));
  for (uint32_t i = 1; i < kTcpServer.size(); ++i) {
    INFO("server cut at " << i);
    REQUIRE(run_tcp(kTcpClient, kTcpServer, {i % static_cast<uint32_t>(kTcpClient.size())}, {i}) == whole);
  }
  std::vector<uint32_t> every_byte;
  for (uint32_t i = 1; i < kTcpServer.size(); ++i) every_byte.push_back(i);
  REQUIRE(run_tcp(kTcpClient, kTcpServer, every_byte, every_byte) == whole);

  auto d = dns();
  FlowUnderTest t(*d, 6, 38235, 53, static_cast<uint16_t>(AppProto::kDns));
  feed(t, true, kTcpClient);
  feed(t, false, kTcpServer);
  t.end();
  REQUIRE(t.out.records.size() == 3);
  CHECK(f(*t.out.records[0], "dns.qtype") == "AAAA");
  CHECK(all(*t.out.records[0], "dns.answer") == std::vector<std::string>{"AAAA 0 fd63::80"});
  CHECK(f(*t.out.records[1], "dns.qtype") == "TXT");
  CHECK(f(*t.out.records[2], "dns.rcode") == "NXDOMAIN");
}

TEST_CASE("dns: TCP limits: long messages, gaps, a connection cut mid-message, bad lengths") {
  SECTION("a 645-byte answer over TCP (the retry after TC)") {
    Bytes resp = hex("0285300985800001000100000000036269670474657374036c616e0000100001c00c0010000100000000025bc8");
    resp.insert(resp.end(), 200, 'x');
    resp.push_back(0xc8);
    resp.insert(resp.end(), 200, 'x');
    resp.push_back(0xc8);
    resp.insert(resp.end(), 200, 'x');
    REQUIRE(resp.size() == 647);
    auto d = dns();
    FlowUnderTest t(*d, 6, 35953, 53, static_cast<uint16_t>(AppProto::kDns));
    t.data(true, hex("001e300901200001000000000000036269670474657374036c616e0000100001").data(), 32);
    feed(t, false, resp);
    t.end();
    REQUIRE(t.out.records.size() == 1);
    CHECK(f(*t.out.records[0], "dns.status") == "answered");
    CHECK(all(*t.out.records[0], "dns.answer")[0] == txt_cut("TXT 0 "));
  }
  SECTION("a message longer than the buffer: its start is read, the rest skipped") {
    // One response of 12 + 5 + 200 * 16 bytes = 3217: 32 answers written, then the next
    // message on the stream is still found.
    Bytes m = hex("12348180000100c8000000000161000001" "0001");
    for (int i = 0; i < 200; ++i) {
      const Bytes a = hex("c00c000100010000000500040a000001");
      m.insert(m.end(), a.begin(), a.end());
    }
    Bytes stream;
    stream.push_back(static_cast<uint8_t>(m.size() >> 8));
    stream.push_back(static_cast<uint8_t>(m.size()));
    stream.insert(stream.end(), m.begin(), m.end());
    stream.insert(stream.end(), kTcpServer.begin(), kTcpServer.end());
    auto d = dns();
    FlowUnderTest t(*d, 6, 38235, 53, static_cast<uint16_t>(AppProto::kDns));
    feed(t, true, kTcpClient);
    feed(t, false, stream);
    t.end();
    REQUIRE(t.out.records.size() == 4);
    CHECK(f(*t.out.records[0], "dns.status") == "unsolicited");
    CHECK(f(*t.out.records[0], "dns.cut") == "true");
    // The 1024-byte buffer holds the header, the question and 62 answers: 32 written.
    CHECK(all(*t.out.records[0], "dns.answer").size() == 32);
    CHECK(f(*t.out.records[3], "dns.rcode") == "NXDOMAIN");
    CHECK(counter(*d, "dns_tcp_long") == 1);
  }
  SECTION("a gap inside a message is skipped; a gap of unknown length ends the direction") {
    auto d = dns();
    FlowUnderTest t(*d, 6, 38235, 53, static_cast<uint16_t>(AppProto::kDns));
    feed(t, true, kTcpClient);
    t.data(false, kTcpServer.data(), 40);
    REQUIRE(t.gap(false, 31) == Progress::kMore);  // the rest of message 1
    t.data(false, kTcpServer.data() + 71, static_cast<uint32_t>(kTcpServer.size()) - 71);
    REQUIRE(t.gap(false, 0) == Progress::kMore);
    REQUIRE(t.gap(true, 0) == Progress::kDone);
    t.end();
    REQUIRE(t.out.records.size() == 3);
    CHECK(f(*t.out.records[0], "dns.cut") == "true");
    CHECK(f(*t.out.records[0], "dns.status") == "answered");
    CHECK(f(*t.out.records[2], "dns.rcode") == "NXDOMAIN");
    CHECK(counter(*d, "dns_tcp_desync") == 2);
  }
  SECTION("the connection ends inside a response") {
    auto d = dns();
    FlowUnderTest t(*d, 6, 38235, 53, static_cast<uint16_t>(AppProto::kDns));
    feed(t, true, kTcpClient);
    t.data(false, kTcpServer.data(), 60);
    t.end();
    REQUIRE(t.out.records.size() == 3);
    CHECK(f(*t.out.records[0], "dns.status") == "answered");
    CHECK(f(*t.out.records[0], "dns.cut") == "true");
    CHECK(f(*t.out.records[1], "dns.status") == "no-response");
  }
  SECTION("a length under 12 is not DNS") {
    auto d = dns();
    FlowUnderTest t(*d, 6, 38235, 53, static_cast<uint16_t>(AppProto::kDns));
    REQUIRE(t.data(true, std::string_view("\x00\x05hello", 7)) == Progress::kViolation);
  }
  SECTION("every truncation of the stream, then the flow ends") {
    auto d = dns();
    for (uint32_t k = 0; k <= kTcpServer.size(); ++k) {
      FlowUnderTest t(*d, 6, 38235, 53, static_cast<uint16_t>(AppProto::kDns));
      feed(t, true, kTcpClient);
      std::unique_ptr<uint8_t[]> buf(new uint8_t[k + 1]);
      std::memcpy(buf.get(), kTcpServer.data(), k);
      t.data(false, buf.get(), k);
      t.end();
      REQUIRE(t.out.records.size() == 3);
      REQUIRE(t.out.open_count() == 0);
      check_lines(t.out);
    }
  }
}

TEST_CASE("dns: query names name the flow's application") {
  struct Names final : flowscribe::dissect::AppNamer {
    uint16_t lookup(std::string_view host) const noexcept override {
      seen.emplace_back(host);
      return host == "www.test.lan" ? 7 : 0;
    }
    mutable std::vector<std::string> seen;
  } names;
  auto d = dns();
  FlowUnderTest t(*d, 17, 40000, 53, static_cast<uint16_t>(AppProto::kDns));
  t.apps = &names;
  feed(t, true, kQueryA);
  feed(t, false, kRespA);
  CHECK(t.flow.app_id == 7);
  CHECK(names.seen == std::vector<std::string>{"www.test.lan", "www.test.lan"});
}
