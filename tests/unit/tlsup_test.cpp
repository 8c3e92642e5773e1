// dissectors/tlsup: MySQL, PostgreSQL, LDAP, RDP and ADB sessions that turn to TLS are handed to the
// TLS dissector at the right byte; refusals and clear sessions stop watching; bytes that are
// not the protocol are violations. Fixtures are messages of the captures named beside them
// (/work/shared/corpora: Zeek's Traces/ and Arkime's tests), byte for byte.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "dissect_harness.h"
#include "dissectors/tlsup/tlsup.h"

using flowscribe::AppProto;
using flowscribe::dissect::Ctx;
using flowscribe::dissect::Progress;

namespace {

using flowscribe::test::unhex;

// The first bytes of a TLS ClientHello (Zeek mysql/encrypted.pcap): what follows an upgrade.
const std::string kClientHello = unhex("160302005901000055030223e615b686053bde4a8bbffc78dee3b7929c3abe34");

// MySQL (Zeek mysql/encrypted.pcap, MariaDB 10.0): the server's handshake, the client's
// SSLRequest.
const std::string kMyGreeting = unhex(
    "6a0000000a352e352e352d31302e302e33362d4d6172696144422d307562756e7475302e31362e30342e3100"
    "21000000746e4e762c74276000ffff2d02003fe0150000000000000000000031726b4144702b23696a5a65006d"
    "7973716c5f6e61746976655f70617373776f726400");
const std::string kMySslRequest =
    unhex("2000000185ae3f20000000012d0000000000000000000000000000000000000000000000");
// MySQL in clear (Arkime mysql-allow.pcap): greeting, full handshake response.
const std::string kMyClearGreeting = unhex(
    "5b0000000a352e352e33352d307562756e7475302e31322e30342e3200980000005d4521723c75583800fff708"
    "02000f8015000000000000000000004f6632632174494d29226e27006d7973716c5f6e61746976655f7061737377"
    "6f726400");
const std::string kMyClearLogin = unhex(
    "5200000105a60f0000000001210000000000000000000000000000000000000000000000757365723130001455"
    "ee72f0c6694cbb3a104eb97f8ee32a6a91f8b16d7973716c5f6e61746976655f70617373776f726400");

// PostgreSQL (Zeek postgresql/psql-aws-ssl-require.pcap, psql-login.pcap).
const std::string kPgSslRequest = unhex("0000000804d2162f");
const std::string kPgGssRequest = unhex("0000000804d21630");
const std::string kPgStartup = unhex(
    "0000004c0003000075736572007a65656b006461746162617365007a65656b006170706c69636174696f6e5f6e"
    "616d65007073716c00636c69656e745f656e636f64696e6700555446380000");
const std::string kPgAuthRequest = unhex("52000000170000000a534352414d2d5348412d3235360000");

// LDAP StartTLS (Arkime ldap-ssl.pcap); a bind (Arkime ldap-simpleauth.pcap, its response with
// 4-byte BER lengths).
const std::string kLdapStartTls = unhex("301d02010177188016312e332e362e312e342e312e313436362e3230303337");
const std::string kLdapStartTlsOk = unhex("300c02010178070a010004000400");
const std::string kLdapStartTlsNo = unhex("300c02010178070a013404000400");  // rc 52 unavailable
const std::string kLdapBind = unhex(
    "3032020101602d020103041c78787878787878787878784078782e7878782e78787878782e6e6574800a7061"
    "7373776f72386431");
const std::string kLdapBindOk = unhex("3084000000100201016184000000070a010004000400");

// RDP (Zeek rdp/rdp-to-ssl.pcap: PROTOCOL_SSL; rdp-no-cookie-mstshash.pcap: HYBRID_EX;
// rdp-x509.pcap: standard RDP security).
const std::string kRdpRequest =
    unhex("0300002f2ae00000000000436f6f6b69653a206d737473686173683d4157414b45434f44490d0a0100080003000000");
const std::string kRdpConfirmSsl = unhex("030000130ed000001234000201080002000000");
const std::string kRdpRequestNoCookie = unhex("030000130ee00000000000010008000b000000");
const std::string kRdpConfirmHybridEx = unhex("030000130ed00000123400021f080008000000");
const std::string kRdpRequestX509 =
    unhex("0300002f2ae00000000000436f6f6b69653a206d737473686173683d4a4f484e2d504320200d0a0100080000000000");
const std::string kRdpConfirmStandard = unhex("030000130ed000001234000200080000000000");
const std::string kRdpNegFailure = unhex("030000130ed000001234000300080002000000");
// Its MCS Connect Response (1405 bytes in two segments): Standard RDP Security, 128-bit RC4,
// a CERT_CHAIN_VERSION_2 (temporary) chain of two certificates, root first (Zeek's x509.log of
// the capture: e3859c4a... the self-signed "SERVR", then bd976713... "ncalrpc:SERVR").
const std::string kRdpConnectResponseX509 = unhex(
    "0300057d02f0807f668205710a0100020100301a020122020103020100020101020100020101020300fff80201020482"
    "054b000500147c00012a14760a01010001c0004d63446e8534010c0c000400080000000000030c1000eb030400ec03ed"
    "03ee03ef03020c1805020000000200000020000000e40400009fda0605a0e36f690bff0ca0b121db62dae41b97123537"
    "5c712b642d8ae3cfa702000080020000005f0100003082015b30820109a003020102020859eb28cb02b1a0d430090605"
    "2b0e03021d0500302c312a301106035504031e0a00530045005200560052301506035504071e0e005400550052004e00"
    "42004b004c301e170d3135303231313134313530365a170d3135303531323030303030305a302c312a30110603550403"
    "1e0a00530045005200560052301506035504071e0e005400550052004e0042004b004c305c300d06092a864886f70d01"
    "01010500034b003048024100d31474f69f983d557757f6680d765c1965f19f8b7d31a605a2aa3b47e14ba9d01a3fce17"
    "80402e77838f7bb5e47be12c18eefcc3e277ffd9d6936ad6ce9809fd0203010001a3133011300f0603551d1304083006"
    "0101ff020100300906052b0e03021d05000341008a9264745d17d5003e74c9039a10e0c1f3ae56d8ef0f5523cda88209"
    "f56bdad26a18caa9b2a1d12a7aee6b57858a3a07aafb116c5fb9feff7592abaa02feac9c65030000308203613082030f"
    "a00302010202050100000001300906052b0e03021d0500302c312a301106035504031e0a005300450052005600523015"
    "06035504071e0e005400550052004e0042004b004c301e170d3133303430353135313535355a170d3136313233313233"
    "353935395a30818e31818b302106035504031e1a006e00630061006c007200700063003a005300450052005600523021"
    "06035504071e1a006e00630061006c007200700063003a00530045005200560052304306035504051e3c003100420063"
    "004b006500660059005300460039003700450076006b0061006900430071006100680050005900380075005000640030"
    "003d000d000a305c300d06092a864886f70d0101040500034b003048024100f22d4e9a36ed8f684449ede380f86db3fc"
    "0360ad644dc4e3a5d200e9247b92efa8657610e7fbe2256f46837c33d8620ccbb366963b13c6772b60428cb221acc702"
    "03010001a38201b7308201b3301406092b06010401823712040101ff040401000500303c06092b060104018237120201"
    "01ff042c4d006900630072006f0073006f0066007400200043006f00720070006f0072006100740069006f006e000000"
    "3081cd06092b06010401823712050101ff0481bc003000000100000002000000090400001c004a0066004a00b0000100"
    "330064003200360037003900350034002d0065006500630037002d0031003100640031002d0062003900340065002d00"
    "3000300064003000340066006100330030003800300064000000330064003200360037003900350034002d0064006500"
    "610037002d0031003200640031002d0062003900340065002d0030003000630030003400660061003300300038003000"
    "64000000000000100080d40000000000306806092b06010401823712060101ff04580030000000000c003c0053004500"
    "5200560052000000360039003700310033002d003000310032002d0034003700300031003700360033002d0034003400"
    "37003500310000005400550052004e0042004b004c000000000030230603551d230101ff04193017a10ea40c53004500"
    "520056005200000082050100000001300906052b0e03021d0500034100aad15319b38adaf8857735cc8a23af10d4c0c2"
    "407ca60092163e4e65e38331c22395ecbe98581f61d9924279fa483f72aa4064c01d34016491ee237ce26bcce3000000"
    "00000000000000000000000000");

// ADB: the host's CNXN as Debian's adb sent it (tests/captures/dissect/adb/adb-connect.pcap);
// the device's CNXN, STLS and OPEN built by the protocol (AOSP adb protocol.txt: magic =
// command ^ 0xffffffff); a client's request to the adb server (adb-server.pcap).
const std::string kAdbHostCnxn = unhex(
    "434e584e010000010000100077000000402e0000bcb1a7b1") +
    "host::features=remount_shell,abb_exec,abb,apex,fixed_push_mkdir,ls_v2,stat_v2,"
    "fixed_push_symlink_timestamp,cmd,shell_v2";
const std::string kAdbDeviceCnxn = unhex(
    "434e584e01000001000010004a000000ad1c0000bcb1a7b1") +
    "device::ro.product.name=flowscribe;ro.product.model=test;features=shell_v2";
const std::string kAdbStls = unhex("53544c5300000001000000000000000000000000acabb3ac");
const std::string kAdbOpen = unhex("4f50454e01000000000000000900000031030000b0afbab17368656c6c3a6c7300");
const std::string kAdbServerRequest = "000chost:version";

struct Msg {
  bool client;
  std::string bytes;
};

struct Scenario {
  const char* name;
  AppProto proto;
  std::vector<Msg> msgs;
  Progress end;      // what the dissector says at the decision
  bool tls;          // handed over to TLS
  size_t at_msg;     // the message whose bytes decide
  uint32_t at_byte;  // the decision falls after this many bytes of that message
};

std::vector<Scenario> scenarios() {
  return {
      {"mysql ssl", AppProto::kMysql, {{false, kMyGreeting}, {true, kMySslRequest + kClientHello}},
       Progress::kDone, true, 1, static_cast<uint32_t>(kMySslRequest.size())},
      {"mysql clear", AppProto::kMysql, {{false, kMyClearGreeting}, {true, kMyClearLogin}},
       Progress::kDone, false, 1, static_cast<uint32_t>(kMyClearLogin.size())},
      {"pgsql ssl", AppProto::kPostgresql, {{true, kPgSslRequest}, {false, "S"}, {true, kClientHello}},
       Progress::kDone, true, 1, 1},
      {"pgsql refused", AppProto::kPostgresql, {{true, kPgSslRequest}, {false, "N"}, {true, kPgStartup}},
       Progress::kDone, false, 1, 1},
      {"pgsql gss then ssl", AppProto::kPostgresql,
       {{true, kPgGssRequest}, {false, "N"}, {true, kPgSslRequest}, {false, "S"}}, Progress::kDone, true, 3, 1},
      {"pgsql gss accepted", AppProto::kPostgresql, {{true, kPgGssRequest}, {false, "G"}},
       Progress::kDone, false, 1, 1},
      {"pgsql no request", AppProto::kPostgresql, {{true, kPgStartup}, {false, kPgAuthRequest}},
       Progress::kDone, false, 1, 1},
      {"ldap starttls", AppProto::kLdap,
       {{true, kLdapBind}, {false, kLdapBindOk}, {true, kLdapStartTls}, {false, kLdapStartTlsOk},
        {true, kClientHello}},
       Progress::kDone, true, 3, static_cast<uint32_t>(kLdapStartTlsOk.size())},
      {"ldap refused then accepted", AppProto::kLdap,
       {{true, kLdapStartTls}, {false, kLdapStartTlsNo}, {true, kLdapBind}, {false, kLdapBindOk},
        {true, kLdapStartTls}, {false, kLdapStartTlsOk}},
       Progress::kDone, true, 5, static_cast<uint32_t>(kLdapStartTlsOk.size())},
      {"rdp ssl", AppProto::kRdp, {{true, kRdpRequest}, {false, kRdpConfirmSsl}, {true, kClientHello}},
       Progress::kDone, true, 1, static_cast<uint32_t>(kRdpConfirmSsl.size())},
      {"rdp hybrid_ex", AppProto::kRdp, {{true, kRdpRequestNoCookie}, {false, kRdpConfirmHybridEx}},
       Progress::kDone, true, 1, static_cast<uint32_t>(kRdpConfirmHybridEx.size())},
      {"adb stls", AppProto::kAdb,
       {{true, kAdbHostCnxn}, {false, kAdbDeviceCnxn}, {true, kAdbStls}, {false, kAdbStls},
        {true, kClientHello}},
       Progress::kDone, true, 3, static_cast<uint32_t>(kAdbStls.size())},
      {"adb stls from the device first", AppProto::kAdb,
       {{true, kAdbHostCnxn}, {false, kAdbStls}, {true, kAdbStls}, {true, kClientHello}},
       Progress::kDone, true, 2, static_cast<uint32_t>(kAdbStls.size())},
      {"adb clear", AppProto::kAdb, {{true, kAdbHostCnxn}, {false, kAdbDeviceCnxn}, {true, kAdbOpen}},
       Progress::kDone, false, 2, static_cast<uint32_t>(kAdbOpen.size())},
      {"adb server client", AppProto::kAdb, {{true, kAdbServerRequest}, {false, "OKAY"}},
       Progress::kDone, false, 0, static_cast<uint32_t>(kAdbServerRequest.size())},
      {"rdp standard security", AppProto::kRdp,
       {{true, kRdpRequestX509}, {false, kRdpConfirmStandard}, {false, kRdpConnectResponseX509}},
       Progress::kDone, false, 2, static_cast<uint32_t>(kRdpConnectResponseX509.size())},
  };
}

struct Outcome {
  Progress last = Progress::kMore;
  bool tls = false;
  size_t at_msg = 0;
  uint32_t at_byte = 0;  // offset in that message of the first byte the dissector left
  std::vector<std::vector<std::pair<std::string, std::string>>> records;  // fields of each
};

// x509 records a scenario writes once decided: only RDP's standard security has any.
size_t want_records(const Scenario& sc) { return std::string_view(sc.name) == "rdp standard security" ? 2 : 0; }

// Feeds the scenario's first `limit` bytes, each message cut into pieces of `chunk` bytes
// (the first piece `first_cut` bytes when non-zero), until the dissector decides.
Outcome run(const Scenario& sc, size_t limit, size_t chunk, size_t first_cut, int* bad_commits,
            size_t* records) {
  auto d = flowscribe::dissect::make_tlsup_dissector();
  flowscribe::test::FlowUnderTest t(*d, 6, 40000, 3306, static_cast<uint16_t>(sc.proto));
  Outcome o;
  size_t fed = 0;
  for (size_t m = 0; m < sc.msgs.size() && fed < limit; ++m) {
    const std::string& b = sc.msgs[m].bytes;
    const size_t n = std::min(b.size(), limit - fed);
    size_t at = 0;
    while (at < n) {
      size_t piece = at == 0 && first_cut ? std::min(first_cut, n) : std::min(chunk, n - at);
      // Exact-size copies: reads past a piece are caught by the sanitizer.
      std::vector<uint8_t> buf(b.begin() + static_cast<long>(at), b.begin() + static_cast<long>(at + piece));
      Ctx c = t.ctx();
      o.last = d->data(t.slot, c, sc.msgs[m].client, buf.data(), static_cast<uint32_t>(piece),
                       static_cast<uint32_t>(piece));
      if (o.last != Progress::kMore) {
        o.tls = c.next_proto == static_cast<uint16_t>(AppProto::kTls);
        o.at_msg = m;
        o.at_byte = static_cast<uint32_t>(at + (c.used == Ctx::kAllUsed ? piece : c.used));
        REQUIRE((c.used == Ctx::kAllUsed || c.used <= piece));
        t.end();
        *bad_commits += t.out.bad_commits;
        *records += t.out.records.size();
        for (const auto& r : t.out.records) o.records.push_back(flowscribe::test::RecordCollector::fields(*r));
        return o;
      }
      at += piece;
    }
    fed += n;
  }
  t.end();
  *bad_commits += t.out.bad_commits;
  *records += t.out.records.size();
  for (const auto& r : t.out.records) o.records.push_back(flowscribe::test::RecordCollector::fields(*r));
  return o;
}

size_t total_bytes(const Scenario& sc) {
  size_t n = 0;
  for (const Msg& m : sc.msgs) n += m.bytes.size();
  return n;
}

size_t decision_offset(const Scenario& sc) {
  size_t n = 0;
  for (size_t m = 0; m < sc.at_msg; ++m) n += sc.msgs[m].bytes.size();
  return n + sc.at_byte;
}

uint64_t counter(const flowscribe::dissect::Dissector& d, std::string_view name) {
  uint64_t v = ~uint64_t{0};
  d.for_each_counter([&](const flowscribe::CounterInfo& ci, uint64_t x) {
    if (ci.name == name) v = x;
  });
  return v;
}

Progress feed(flowscribe::test::FlowUnderTest& t, bool client, const std::string& b) {
  return t.data(client, b);
}

}  // namespace

TEST_CASE("tlsup: each exchange decides at the right byte, whatever the segmentation", "[tlsup]") {
  int bad = 0;
  size_t recs = 0;
  for (const Scenario& sc : scenarios()) {
    INFO(sc.name);
    for (size_t chunk : {size_t{1}, size_t{2}, size_t{5}, size_t{4096}}) {
      INFO("chunk " << chunk);
      const Outcome o = run(sc, SIZE_MAX, chunk, 0, &bad, &recs);
      CHECK(o.last == sc.end);
      CHECK(o.tls == sc.tls);
      CHECK(o.at_msg == sc.at_msg);
      if (sc.tls) CHECK(o.at_byte == sc.at_byte);  // where the TLS bytes begin
      CHECK(o.records.size() == want_records(sc));
      if (o.records.size() == want_records(sc) && !o.records.empty()) CHECK(o.records == run(sc, SIZE_MAX, 4096, 0, &bad, &recs).records);
    }
    // Every two-piece split of every message.
    size_t longest = 0;
    for (const Msg& m : sc.msgs) longest = std::max(longest, m.bytes.size());
    for (size_t cut = 1; cut < longest; ++cut) {
      const Outcome o = run(sc, SIZE_MAX, 4096, cut, &bad, &recs);
      INFO("cut " << cut);
      CHECK(o.last == sc.end);
      CHECK(o.tls == sc.tls);
      CHECK(o.at_msg == sc.at_msg);
      if (sc.tls) CHECK(o.at_byte == sc.at_byte);  // where the TLS bytes begin
      CHECK(o.records.size() == want_records(sc));  // the same records whatever the split
      if (!o.records.empty()) CHECK(o.records == run(sc, SIZE_MAX, 4096, 0, &bad, &recs).records);
    }
  }
  CHECK(bad == 0);
}

TEST_CASE("tlsup: every truncation decides only once its bytes are there", "[tlsup]") {
  int bad = 0;
  size_t recs = 0;
  for (const Scenario& sc : scenarios()) {
    INFO(sc.name);
    const size_t n = total_bytes(sc), at = decision_offset(sc);
    for (size_t k = 0; k <= n; ++k) {
      INFO("prefix " << k);
      for (size_t chunk : {size_t{1}, size_t{4096}}) {
        const Outcome o = run(sc, k, chunk, 0, &bad, &recs);
        if (k < at) {
          CHECK(o.last == Progress::kMore);
        } else {
          CHECK(o.last == sc.end);
          CHECK(o.tls == sc.tls);
          if (sc.tls) CHECK(o.at_byte == sc.at_byte);  // where the TLS bytes begin
        }
        CHECK(o.records.size() == (k < at ? 0 : want_records(sc)));
      }
    }
  }
  CHECK(bad == 0);
}

TEST_CASE("tlsup: counters name the outcome", "[tlsup]") {
  auto d = flowscribe::dissect::make_tlsup_dissector();
  {
    flowscribe::test::FlowUnderTest t(*d, 6, 40000, 3306, static_cast<uint16_t>(AppProto::kMysql));
    CHECK(feed(t, false, kMyGreeting) == Progress::kMore);
    CHECK(feed(t, true, kMySslRequest) == Progress::kDone);
  }
  {
    flowscribe::test::FlowUnderTest t(*d, 6, 40000, 5432, static_cast<uint16_t>(AppProto::kPostgresql));
    CHECK(feed(t, true, kPgSslRequest) == Progress::kMore);
    CHECK(feed(t, false, "N") == Progress::kDone);
  }
  {
    flowscribe::test::FlowUnderTest t(*d, 6, 40000, 389, static_cast<uint16_t>(AppProto::kLdap));
    CHECK(feed(t, true, kLdapStartTls) == Progress::kMore);
    CHECK(feed(t, false, kLdapStartTlsNo) == Progress::kMore);
  }
  {
    flowscribe::test::FlowUnderTest t(*d, 6, 40000, 3389, static_cast<uint16_t>(AppProto::kRdp));
    CHECK(feed(t, true, kRdpRequest) == Progress::kMore);
    CHECK(feed(t, false, kRdpNegFailure) == Progress::kDone);
  }
  CHECK(counter(*d, "tlsup_flows") == 4);
  CHECK(counter(*d, "tlsup_mysql_upgrades") == 1);
  CHECK(counter(*d, "tlsup_pgsql_refused") == 1);
  CHECK(counter(*d, "tlsup_ldap_refused") == 1);
  CHECK(counter(*d, "tlsup_rdp_refused") == 1);
  CHECK(counter(*d, "tlsup_not_protocol") == 0);
}

TEST_CASE("tlsup: bytes that are not the protocol are violations; later junk only stops", "[tlsup]") {
  auto d = flowscribe::dissect::make_tlsup_dissector();
  auto first = [&](AppProto p, bool client, const std::string& b) {
    flowscribe::test::FlowUnderTest t(*d, 6, 40000, 1, static_cast<uint16_t>(p));
    return feed(t, client, b);
  };
  CHECK(first(AppProto::kMysql, false, "SSH-2.0-OpenSSH_9.2\r\n") == Progress::kViolation);
  CHECK(first(AppProto::kMysql, false, unhex("000000000a")) == Progress::kViolation);  // empty packet
  CHECK(first(AppProto::kPostgresql, true, "GET / HTTP/1.1\r\n\r\n") == Progress::kViolation);
  CHECK(first(AppProto::kPostgresql, true, unhex("0000000804d21699")) == Progress::kViolation);
  {
    // A StartupMessage answered with no backend message (Zeek bad-backend-message-1.pcap).
    flowscribe::test::FlowUnderTest t(*d, 6, 40000, 5432, static_cast<uint16_t>(AppProto::kPostgresql));
    CHECK(feed(t, true, unhex("000000130003000075736572007a65656b0000")) == Progress::kMore);
    CHECK(feed(t, false, unhex("5a000000010000")) == Progress::kViolation);
  }
  CHECK(first(AppProto::kLdap, true, "GET / HTTP/1.1\r\n\r\n") == Progress::kViolation);
  CHECK(first(AppProto::kLdap, true, unhex("3085ffffffffff")) == Progress::kViolation);
  CHECK(first(AppProto::kLdap, false, unhex("3003040100")) == Progress::kViolation);  // no messageID
  CHECK(first(AppProto::kRdp, true, "GET / HTTP/1.1\r\n\r\n") == Progress::kViolation);
  CHECK(first(AppProto::kRdp, true, unhex("03000005")) == Progress::kViolation);  // length < 7
  CHECK(counter(*d, "tlsup_not_protocol") == 10);

  // After a valid first message, junk stops the watch without a violation.
  flowscribe::test::FlowUnderTest t(*d, 6, 40000, 389, static_cast<uint16_t>(AppProto::kLdap));
  CHECK(feed(t, true, kLdapBind) == Progress::kMore);
  CHECK(feed(t, true, "\x16\x03\x01 junk") == Progress::kDone);
  CHECK(counter(*d, "tlsup_lost_framing") == 1);

  // A StartTLS answer for another message id is not the answer.
  flowscribe::test::FlowUnderTest u(*d, 6, 40000, 389, static_cast<uint16_t>(AppProto::kLdap));
  CHECK(feed(u, true, kLdapStartTls) == Progress::kMore);
  std::string other = kLdapStartTlsOk;
  other[4] = 9;
  CHECK(feed(u, false, other) == Progress::kMore);
  CHECK(feed(u, false, kLdapStartTlsOk) == Progress::kDone);
}

TEST_CASE("tlsup: gaps, UDP, long clear sessions and hostile bytes", "[tlsup]") {
  auto d = flowscribe::dissect::make_tlsup_dissector();
  {
    flowscribe::test::FlowUnderTest t(*d, 6, 40000, 3306, static_cast<uint16_t>(AppProto::kMysql));
    CHECK(feed(t, false, kMyGreeting.substr(0, 10)) == Progress::kMore);
    CHECK(t.gap(false, 100) == Progress::kDone);
  }
  {
    flowscribe::test::FlowUnderTest t(*d, 17, 40000, 389, static_cast<uint16_t>(AppProto::kLdap));
    CHECK(feed(t, true, kLdapBind) == Progress::kDone);
  }
  {
    // LDAP searches with no StartTLS: watched for 32 KiB, then left.
    flowscribe::test::FlowUnderTest t(*d, 6, 40000, 389, static_cast<uint16_t>(AppProto::kLdap));
    Progress p = Progress::kMore;
    for (int i = 0; i < 2000 && p == Progress::kMore; ++i) p = feed(t, i % 2 == 0, i % 2 ? kLdapBindOk : kLdapBind);
    CHECK(p == Progress::kDone);
    CHECK(counter(*d, "tlsup_not_seen") == 1);
  }
  {
    // StartTLS asked, and the server streams other answers: the budget still ends the watch.
    flowscribe::test::FlowUnderTest t(*d, 6, 40000, 389, static_cast<uint16_t>(AppProto::kLdap));
    CHECK(feed(t, true, kLdapStartTls) == Progress::kMore);
    Progress p = Progress::kMore;
    for (int i = 0; i < 2000 && p == Progress::kMore; ++i) p = feed(t, false, kLdapBindOk);
    CHECK(p == Progress::kDone);
    CHECK(counter(*d, "tlsup_not_seen") == 2);
  }
  // A MySQL greeting that claims 16 MiB, an LDAP message with a 16 MiB length: skipped, bounded.
  {
    flowscribe::test::FlowUnderTest t(*d, 6, 40000, 3306, static_cast<uint16_t>(AppProto::kMysql));
    std::string big = unhex("ffff00000a");
    big.append(40000, 'x');
    CHECK(feed(t, false, big) == Progress::kDone);
  }
  // Bytes of every value in every dialect, in odd pieces: no crash, no over-read.
  std::string junk;
  for (int i = 0; i < 8192; ++i) junk.push_back(static_cast<char>((i * 7 + i / 13) & 0xff));
  for (AppProto p : {AppProto::kMysql, AppProto::kPostgresql, AppProto::kLdap, AppProto::kRdp}) {
    for (size_t start : {size_t{0}, size_t{3}, size_t{4}, size_t{11}}) {
      flowscribe::test::FlowUnderTest t(*d, 6, 40000, 1, static_cast<uint16_t>(p));
      Progress r = Progress::kMore;
      for (size_t at = start; at < junk.size() && r == Progress::kMore; at += 97) {
        std::vector<uint8_t> buf(junk.begin() + static_cast<long>(at),
                                 junk.begin() + static_cast<long>(std::min(junk.size(), at + 97)));
        r = t.data(((at / 97) & 1) != 0, buf.data(), static_cast<uint32_t>(buf.size()));
      }
      t.end();
      CHECK(t.out.records.empty());
    }
  }
}

namespace {

std::string field(const std::vector<std::pair<std::string, std::string>>& f, std::string_view name) {
  for (const auto& [k, v] : f) {
    if (k == name) return v;
  }
  return "<absent>";
}

// The Confirm's standard security, then `response` from the server; the records written.
std::vector<std::vector<std::pair<std::string, std::string>>> rdp_standard(flowscribe::dissect::Dissector& d,
                                                                           const std::string& response,
                                                                           Progress* last = nullptr) {
  flowscribe::test::FlowUnderTest t(d, 6, 54990, 3389, static_cast<uint16_t>(AppProto::kRdp));
  CHECK(feed(t, true, kRdpRequestX509) == Progress::kMore);
  CHECK(feed(t, false, kRdpConfirmStandard) == Progress::kMore);
  const Progress p = feed(t, false, response);
  if (last != nullptr) *last = p;
  t.end();
  CHECK(t.out.bad_commits == 0);
  std::vector<std::vector<std::pair<std::string, std::string>>> out;
  for (const auto& r : t.out.records) {
    CHECK(r->type == flowscribe::emit::RecordType::kX509);
    out.push_back(flowscribe::test::RecordCollector::fields(*r));
  }
  return out;
}

}  // namespace

TEST_CASE("tlsup: RDP standard security: an x509 record per certificate, the server's own first", "[tlsup]") {
  auto d = flowscribe::dissect::make_tlsup_dissector();
  Progress last = Progress::kMore;
  const auto recs = rdp_standard(*d, kRdpConnectResponseX509, &last);
  CHECK(last == Progress::kDone);
  REQUIRE(recs.size() == 2);
  // Zeek's x509.log of rdp-x509.pcap: the same fingerprints, serials, keys and validity.
  CHECK(field(recs[0], "x509.pos") == "0");
  CHECK(field(recs[0], "x509.source") == "rdp");
  CHECK(field(recs[0], "x509.sender") == "<absent>");
  CHECK(field(recs[0], "x509.sha256") == "bd97671306086c3393a1bd835340a68043557a7ae131b8ee72f4d015287024ba");
  CHECK(field(recs[0], "x509.serial") == "0100000001");
  CHECK(field(recs[0], "x509.subject_cn") == "ncalrpc:SERVR");
  CHECK(field(recs[0], "x509.issuer_cn") == "SERVR");
  CHECK(field(recs[0], "x509.issuer") == "L=TURNBKL+CN=SERVR");  // a multi-valued RDN, OpenSSL's order
  CHECK(field(recs[0], "x509.not_before") == "2013-04-05T15:15:55Z");
  CHECK(field(recs[0], "x509.key_bits") == "512");
  CHECK(field(recs[0], "x509.key_type") == "rsa");
  CHECK(field(recs[0], "x509.key_alg") == "md5WithRSAEncryption");  // Windows labels its key so
  CHECK(field(recs[0], "x509.self_signed") == "false");
  CHECK(field(recs[1], "x509.pos") == "1");
  CHECK(field(recs[1], "x509.source") == "rdp");
  CHECK(field(recs[1], "x509.sha256") == "e3859c4a77098a7b84589e0cb1171662d15699fc84c19d3421f7d52dc0dc59c9");
  CHECK(field(recs[1], "x509.serial") == "59EB28CB02B1A0D4");
  CHECK(field(recs[1], "x509.self_signed") == "true");
  CHECK(field(recs[1], "x509.ca") == "true");
  CHECK(field(recs[1], "x509.not_after") == "2015-05-12T00:00:00Z");
  CHECK(counter(*d, "tlsup_rdp_standard") == 1);
  CHECK(counter(*d, "tlsup_rdp_certs") == 2);
  CHECK(counter(*d, "tlsup_rdp_cert_errors") == 0);
  // The same server to a second client: the records come from the cache, identical.
  CHECK(rdp_standard(*d, kRdpConnectResponseX509) == recs);
  // (Both hit, unless the two certificates share one of the cache's 64 slots: the hash is
  // seeded per process, 1 run in 64; the records are the same either way.)
  CHECK((counter(*d, "tlsup_rdp_cert_cache_hits") == 2 || counter(*d, "tlsup_rdp_cert_cache_hits") == 0));
  CHECK(counter(*d, "tlsup_rdp_bad_server_data") == 0);
}

TEST_CASE("tlsup: RDP server security data that is proprietary, absent, cut or hostile", "[tlsup]") {
  auto d = flowscribe::dissect::make_tlsup_dissector();
  const size_t sec = kRdpConnectResponseX509.find(unhex("020c1805"));  // TS_UD_SC_SEC1
  REQUIRE(sec != std::string::npos);
  const size_t version = sec + 4 + 16 + 32;  // header, method/level/lengths, serverRandom
  REQUIRE(kRdpConnectResponseX509.substr(version, 4) == unhex("02000080"));
  {
    // A proprietary certificate (CERT_CHAIN_VERSION_1) is no X.509: counted, not recorded.
    std::string m = kRdpConnectResponseX509;
    m[version] = 1;
    CHECK(rdp_standard(*d, m).empty());
    CHECK(counter(*d, "tlsup_rdp_proprietary_certs") == 1);
  }
  {
    // No encryption: no certificate.
    std::string m = kRdpConnectResponseX509;
    for (size_t i = sec + 4; i < sec + 12; ++i) m[i] = 0;
    CHECK(rdp_standard(*d, m).empty());
    CHECK(counter(*d, "tlsup_rdp_no_encryption") == 1);
  }
  {
    // The server's next message is no Connect Response; one larger than the buffer.
    CHECK(rdp_standard(*d, unhex("0300000c02f0807f650100ff")).empty());
    CHECK(counter(*d, "tlsup_rdp_no_response") == 1);
    std::string big = unhex("03001f4002f0807f66");
    big.resize(0x1f40, '\0');
    Progress last = Progress::kMore;
    CHECK(rdp_standard(*d, big, &last).empty());
    CHECK(last == Progress::kDone);
    CHECK(counter(*d, "tlsup_rdp_response_oversize") == 1);
  }
  {
    // A chain that claims a third certificate past its end: the two there are recorded (their
    // positions from the count declared), the fault counted.
    std::string m = kRdpConnectResponseX509;
    m[version + 4] = 3;
    const auto recs = rdp_standard(*d, m);
    REQUIRE(recs.size() == 2);
    CHECK(field(recs[0], "x509.pos") == "1");
    CHECK(field(recs[1], "x509.pos") == "2");
    CHECK(counter(*d, "tlsup_rdp_bad_server_data") == 1);
  }
  // Every byte of the Connect Response (TPKT length aside) set to 0x00, 0xff and flipped:
  // no crash, no over-read (the sanitizer build), never more records than certificates.
  for (size_t i = 4; i < kRdpConnectResponseX509.size(); ++i) {
    for (int how = 0; how < 3; ++how) {
      std::string m = kRdpConnectResponseX509;
      m[i] = how == 0 ? '\0' : how == 1 ? '\xff' : static_cast<char>(m[i] ^ 0x80);
      const auto recs = rdp_standard(*d, m);
      CHECK(recs.size() <= 10);
    }
  }
  CHECK(counter(*d, "tlsup_not_protocol") == 0);
}
