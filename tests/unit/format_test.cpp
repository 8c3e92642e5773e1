// emit/: RFC 5424 formatter, escaping, sinks, batch writer; and the rfc5424_check validator.
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <cctype>
#include <memory>
#include <set>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/app_proto.h"
#include "emit/escape.h"
#include "emit/format.h"
#include "emit/record.h"
#include "emit/schema.h"
#include "emit/sink.h"
#include "tests/tools/rfc5424_validate.h"

using namespace flowscribe;
using namespace flowscribe::emit;

namespace {

constexpr Nanos kT0 = 1795881600ULL * kNsPerSec;  // 2026-11-28T16:00:00Z

FormatConfig test_config() {
  FormatConfig c;
  c.hostname = "sensor1";
  c.procid = "4242";
  c.run_id = 0x01020304;
  return c;
}

IpAddr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  IpAddr ip{};
  ip.b[0] = a, ip.b[1] = b, ip.b[2] = c, ip.b[3] = d;
  return ip;
}

IpAddr v6(const char* text) {
  IpAddr ip{};
  REQUIRE(inet_pton(AF_INET6, text, ip.b) == 1);
  return ip;
}

Record v4_tcp_session() {
  Record r{};
  r.type = RecordType::kSession;
  r.transport = kIpProtoTcp;
  r.ip_version = 4;
  r.end_reason = 1;  // fin
  r.worker = 3;
  r.direction_basis = 0;  // syn
  r.app_proto = static_cast<uint16_t>(AppProto::kHttp);
  r.tcp_flags[0] = kTcpSyn | kTcpAck | kTcpFin | kTcpPsh;
  r.tcp_flags[1] = kTcpSyn | kTcpAck | kTcpFin;
  r.client_port = 51234;
  r.server_port = 80;
  r.sid = (3ULL << 56) | 0x1234;
  r.start_ns = kT0 + 123456789;
  r.end_ns = r.start_ns + 1234567891;
  r.ts_ns = r.end_ns;
  r.pkts[0] = 12, r.pkts[1] = 10;
  r.bytes[0] = 3456, r.bytes[1] = 20345;
  r.client = v4(10, 0, 0, 1);
  r.server = v4(10, 0, 0, 2);
  return r;
}

std::string format_one(const Record& r, const FormatConfig& cfg = test_config()) {
  Rfc5424Formatter f(cfg);
  std::string out;
  f.format(r, out);
  return out;
}

std::string escaped(std::string_view in) {
  std::string out;
  append_param_value(in, out);
  return out;
}

std::string ts(Nanos ns) {
  char buf[kTimestampLen];
  REQUIRE(write_timestamp(buf, ns) == buf + kTimestampLen);
  return std::string(buf, kTimestampLen);
}

bool valid(std::string_view line, std::string* why = nullptr) {
  return rfc5424::validate_line(line, why);
}

// "" for a valid line, else the validator's reason: CHECK(invalid_reason(l) == "") prints it.
std::string invalid_reason(std::string_view line) {
  std::string why;
  return valid(line, &why) ? std::string() : why;
}

// A formatted line without its '\n'.
std::string_view body(const std::string& line) {
  REQUIRE(line.ends_with('\n'));
  return std::string_view(line).substr(0, line.size() - 1);
}

// Inverse of the escaping, for round-trip checks: \\ \" \] and \xHH.
std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    REQUIRE(i + 1 < s.size());
    const char e = s[++i];
    if (e == 'x') {
      REQUIRE(i + 2 < s.size());
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      REQUIRE((e == '\\' || e == '"' || e == ']'));
      out += e;
    }
  }
  return out;
}

void add(Record& r, Field f, std::string_view v) {
  REQUIRE(r.add_field(field_id(f), v.data(), v.size()));
}

// The SD element text between "] [" boundaries, for ext checks.
std::string sd_after_flow(const std::string& line) {
  const size_t a = line.find("\"][");
  if (a == std::string::npos) return {};
  const size_t b = line.find("] ", a + 3);
  return line.substr(a + 2, b - a - 1);
}

}  // namespace

TEST_CASE("golden: IPv4 TCP session", "[format]") {
  const std::string line = format_one(v4_tcp_session());
  CHECK(line ==
        "<134>1 2026-11-28T16:00:01.358024Z sensor1 flowscribe 4242 session [flow@32473 "
        "sid=\"01020304030000001234\" proto=\"http\" transport=\"tcp\" src=\"10.0.0.1\" "
        "sport=\"51234\" dst=\"10.0.0.2\" dport=\"80\" start=\"2026-11-28T16:00:00.123456Z\" "
        "end=\"2026-11-28T16:00:01.358024Z\" duration=\"1.234567\" pkts_c2s=\"12\" "
        "bytes_c2s=\"3456\" pkts_s2c=\"10\" bytes_s2c=\"20345\" end_reason=\"fin\" "
        "client_basis=\"syn\" tcp_flags_c2s=\"SAFP\" tcp_flags_s2c=\"SAF\"] tcp "
        "10.0.0.1:51234 -> 10.0.0.2:80 http 12/3456 B c2s 10/20345 B s2c fin 1.234 s\n");
  CHECK(invalid_reason(body(line)) == "");
}

TEST_CASE("golden: IPv6 UDP session", "[format]") {
  Record r{};
  r.type = RecordType::kSession;
  r.transport = kIpProtoUdp;
  r.ip_version = 6;
  r.end_reason = 3;        // idle
  r.direction_basis = 2;   // port
  r.app_proto = static_cast<uint16_t>(AppProto::kDns);
  r.client_port = 5353;
  r.server_port = 53;
  r.sid = 0x00ab'ffff'ffff'ffffULL;  // bits 40..55 are not part of sid=
  r.start_ns = kT0;
  r.end_ns = kT0 + 250'000;
  r.ts_ns = r.end_ns + 30 * kNsPerSec;
  r.pkts[0] = 1, r.pkts[1] = 1;
  r.bytes[0] = 80, r.bytes[1] = 120;
  r.client = v6("2001:db8::1");
  r.server = v6("2001:db8:0:1:0:0:0:35");
  const std::string line = format_one(r);
  CHECK(line ==
        "<134>1 2026-11-28T16:00:30.000250Z sensor1 flowscribe 4242 session [flow@32473 "
        "sid=\"0102030400ffffffffff\" proto=\"dns\" transport=\"udp\" src=\"2001:db8::1\" "
        "sport=\"5353\" dst=\"2001:db8:0:1::35\" dport=\"53\" "
        "start=\"2026-11-28T16:00:00.000000Z\" end=\"2026-11-28T16:00:00.000250Z\" "
        "duration=\"0.000250\" pkts_c2s=\"1\" bytes_c2s=\"80\" pkts_s2c=\"1\" "
        "bytes_s2c=\"120\" end_reason=\"idle\" client_basis=\"port\"] udp "
        "[2001:db8::1]:5353 -> [2001:db8:0:1::35]:53 dns 1/80 B c2s 1/120 B s2c idle 0.000 s\n");
  CHECK(invalid_reason(body(line)) == "");
}

TEST_CASE("golden: session-update and vlan", "[format]") {
  Record r = v4_tcp_session();
  r.type = RecordType::kSessionUpdate;
  r.end_reason = 0;
  r.vlan = 100;
  const std::string line = format_one(r);
  CHECK(line ==
        "<134>1 2026-11-28T16:00:01.358024Z sensor1 flowscribe 4242 session-update "
        "[flow@32473 sid=\"01020304030000001234\" proto=\"http\" transport=\"tcp\" "
        "src=\"10.0.0.1\" sport=\"51234\" dst=\"10.0.0.2\" dport=\"80\" vlan=\"100\" "
        "start=\"2026-11-28T16:00:00.123456Z\" end=\"2026-11-28T16:00:01.358024Z\" "
        "duration=\"1.234567\" pkts_c2s=\"12\" bytes_c2s=\"3456\" pkts_s2c=\"10\" "
        "bytes_s2c=\"20345\" client_basis=\"syn\" tcp_flags_c2s=\"SAFP\" "
        "tcp_flags_s2c=\"SAF\"] tcp 10.0.0.1:51234 -> 10.0.0.2:80 http 12/3456 B c2s "
        "10/20345 B s2c interim 1.234 s\n");
  CHECK(invalid_reason(body(line)) == "");
}

TEST_CASE("header: PRI, PEN, names of odd values", "[format]") {
  FormatConfig cfg = test_config();
  cfg.facility = 23;
  cfg.severity = 7;
  cfg.pen = 4294967295u;
  Record r = v4_tcp_session();
  r.transport = 99;
  r.end_reason = 9;
  r.direction_basis = 7;
  r.app_proto = 60000;
  r.tcp_flags[0] = 0xff;
  const std::string line = format_one(r, cfg);
  CHECK(line.starts_with("<191>1 "));
  CHECK(line.find("[flow@4294967295 ") != std::string::npos);
  CHECK(line.find(" transport=\"99\" ") != std::string::npos);
  CHECK(line.find(" proto=\"unknown\" ") != std::string::npos);
  CHECK(line.find(" end_reason=\"unknown\" ") != std::string::npos);
  CHECK(line.find(" client_basis=\"unknown\"]") != std::string::npos);  // not TCP: no flags
  CHECK(line.find(" 99 10.0.0.1:51234 -> ") != std::string::npos);
  r.transport = kIpProtoTcp;
  CHECK(format_one(r, cfg).find(" tcp_flags_c2s=\"SAFPRUEC\" ") != std::string::npos);
  for (auto [num, name] : {std::pair<int, const char*>{1, "icmp"}, {47, "gre"}, {50, "esp"},
                           {58, "ipv6-icmp"}, {132, "sctp"}}) {
    r.transport = static_cast<uint8_t>(num);
    CHECK(format_one(r, cfg).find(std::string(" transport=\"") + name + "\" ") !=
          std::string::npos);
  }
  // An end before the start (clock step in a replay) is a zero duration, not a wrap.
  r.end_ns = r.start_ns - 1;
  CHECK(format_one(r, cfg).find(" duration=\"0.000000\" ") != std::string::npos);
}

TEST_CASE("unknown record type is skipped and counted", "[format]") {
  Rfc5424Formatter f(test_config());
  Record r = v4_tcp_session();
  r.type = static_cast<RecordType>(7);
  std::string out;
  f.format(r, out);
  CHECK(out.empty());
  CHECK(f.counters().emit_record_bad_type.get() == 1);
  CHECK(std::string(record_msgid(RecordType::kSession)) == "session");
  CHECK(std::string(record_msgid(RecordType::kSessionUpdate)) == "session-update");
  CHECK(std::string(record_msgid(RecordType::kSocks)) == "socks");
}

TEST_CASE("escaping: RFC 5424 escapes and controls", "[escape]") {
  CHECK(escaped("plain text, [ok] = fine") == "plain text, [ok\\] = fine");
  CHECK(escaped("a\"b") == "a\\\"b");
  CHECK(escaped("a\\b") == "a\\\\b");
  CHECK(escaped("a]b") == "a\\]b");
  CHECK(escaped("\\x41") == "\\\\x41");  // a literal \x41 from the wire stays distinguishable
  CHECK(escaped("a\rb") == "a\\x0db");
  CHECK(escaped("a\nb") == "a\\x0ab");
  CHECK(escaped("GET / HTTP/1.1\r\n") == "GET / HTTP/1.1\\x0d\\x0a");
  CHECK(escaped(std::string_view("a\0b", 3)) == "a\\x00b");
  CHECK(escaped("\x7f") == "\\x7f");
  CHECK(escaped("\x1b[31m") == "\\x1b[31m");
  CHECK(escaped("\t") == "\\x09");
  CHECK(escaped("") == "");
}

TEST_CASE("escaping: UTF-8", "[escape]") {
  CHECK(escaped("caf\xc3\xa9") == "caf\xc3\xa9");                  // U+00E9 kept
  CHECK(escaped("\xc2\xa0") == "\xc2\xa0");                        // U+00A0: first non-C1
  CHECK(escaped("\xc2\x85") == "\\xc2\\x85");                      // NEL (C1)
  CHECK(escaped("\xc2\x80\xc2\x9f") == "\\xc2\\x80\\xc2\\x9f");    // C1 range ends
  CHECK(escaped("\xe2\x82\xac") == "\xe2\x82\xac");                // euro kept
  CHECK(escaped("\xe2\x80\xa8|\xe2\x80\xa9") == "\\xe2\\x80\\xa8|\\xe2\\x80\\xa9");
  CHECK(escaped("\xf0\x9f\x98\x80") == "\xf0\x9f\x98\x80");        // 4-byte emoji kept
  CHECK(escaped("\xf4\x8f\xbf\xbf") == "\xf4\x8f\xbf\xbf");        // U+10FFFF kept
  CHECK(escaped("\xef\xbf\xbf") == "\xef\xbf\xbf");                // noncharacter: valid
  CHECK(escaped("\xff") == "\\xff");
  CHECK(escaped("\x80") == "\\x80");                               // lone continuation
  CHECK(escaped("\xc0\xaf") == "\\xc0\\xaf");                      // overlong '/'
  CHECK(escaped("\xc1\xbf") == "\\xc1\\xbf");                      // overlong
  CHECK(escaped("\xe0\x80\xaf") == "\\xe0\\x80\\xaf");             // overlong 3-byte
  CHECK(escaped("\xf0\x80\x80\xaf") == "\\xf0\\x80\\x80\\xaf");    // overlong 4-byte
  CHECK(escaped("\xed\xa0\x80") == "\\xed\\xa0\\x80");             // surrogate U+D800
  CHECK(escaped("\xed\xbf\xbf") == "\\xed\\xbf\\xbf");             // surrogate U+DFFF
  CHECK(escaped("\xed\x9f\xbf") == "\xed\x9f\xbf");                // U+D7FF kept
  CHECK(escaped("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");    // > U+10FFFF
  CHECK(escaped("\xf5\x80\x80\x80") == "\\xf5\\x80\\x80\\x80");
  CHECK(escaped("ab\xe2\x82") == "ab\\xe2\\x82");                  // cut multibyte at end
  CHECK(escaped("ab\xf0\x9f\x98") == "ab\\xf0\\x9f\\x98");
  CHECK(escaped("\xe2\x82z") == "\\xe2\\x82z");                    // cut before ASCII
  CHECK(escaped("\xc3\xc3\xa9") == "\\xc3\xc3\xa9");               // resync on next byte
}

TEST_CASE("escaping: the 16-byte fast path finds specials at every position", "[escape]") {
  for (size_t len : {15u, 16u, 17u, 31u, 32u, 33u, 100u}) {
    for (size_t pos = 0; pos < len; ++pos) {
      for (char special : {'"', '\\', ']', '\n', '\x7f', '\x80'}) {
        std::string in(len, 'a');
        in[pos] = special;
        const std::string out = escaped(in);
        CHECK(unescape(out) == in);
        CHECK(out.size() == len + (special == '\n' || special == '\x7f' || special == '\x80'
                                       ? 3
                                       : 1));
      }
    }
  }
}

TEST_CASE("escaping: length cap", "[escape]") {
  static_assert(kMaxValueBytes == 1024);
  std::string out;
  CHECK_FALSE(append_param_value(std::string(1024, 'a'), out));
  CHECK(out == std::string(1024, 'a'));

  out.clear();
  CHECK(append_param_value(std::string(1025, 'a'), out));
  CHECK(out == std::string(1021, 'a') + "...");

  // Cut on an escape boundary: never half of \" or \xHH.
  out.clear();
  CHECK(append_param_value(std::string(600, '"'), out));
  CHECK(out.size() == 1023);
  CHECK(out.ends_with("\\\"..."));
  CHECK(unescape(out.substr(0, out.size() - 3)) == std::string(510, '"'));

  out.clear();
  CHECK(append_param_value(std::string(300, '\x01'), out));
  CHECK(out.size() == 1023);
  CHECK(out.ends_with("\\x01..."));

  // Cut on a character boundary: never half of a UTF-8 sequence.
  std::string emoji;
  for (int i = 0; i < 300; ++i) emoji += "\xf0\x9f\x98\x80";
  out.clear();
  CHECK(append_param_value(emoji, out));
  CHECK(out.size() == 1020 + 3);
  CHECK(out.substr(0, 1020) == emoji.substr(0, 1020));

  // Exactly at the cap with a multibyte char at the end: fits, no marker.
  out.clear();
  CHECK_FALSE(append_param_value(std::string(1021, 'a') + "\xe2\x82\xac", out));
  CHECK(out.size() == 1024);
  out.clear();
  CHECK(append_param_value(std::string(1022, 'a') + "\xe2\x82\xac", out));
  CHECK(out == std::string(1021, 'a') + "...");
  out.clear();  // 1025 bytes: the euro sign would end past 1021, so it goes whole
  CHECK(append_param_value(std::string(1020, 'a') + "\xe2\x82\xac" + "bb", out));
  CHECK(out == std::string(1020, 'a') + "...");
}

TEST_CASE("escaping: random bytes round-trip and stay valid", "[escape]") {
  std::mt19937_64 rng(42);
  const char alphabet[] = {'a', '"', '\\', ']', '\n', '\r', '\0', '\x7f', '\xc2', '\x85',
                           '\xe2', '\x80', '\xa8', '\xf0', '\x9f', '\x98', '\xed', '\xa0',
                           '\xff', '\xc0', ' ', '=', 'x'};
  for (int iter = 0; iter < 20000; ++iter) {
    std::string in(rng() % 1500, '\0');
    for (char& c : in) c = rng() % 3 ? alphabet[rng() % sizeof alphabet] : char(rng());
    std::string out;
    const bool cut = append_param_value(in, out);
    REQUIRE(out.size() <= kMaxValueBytes);
    REQUIRE(out.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos);
    if (cut) {
      REQUIRE(out.ends_with("..."));
      const std::string prefix = unescape(out.substr(0, out.size() - 3));
      REQUIRE(in.starts_with(prefix));
    } else {
      REQUIRE(unescape(out) == in);
    }
    REQUIRE(invalid_reason("<134>1 - - - - - [x@1 v=\"" + out + "\"]") == "");
  }
}

TEST_CASE("timestamp: RFC 3339 UTC, microseconds truncated", "[timestamp]") {
  CHECK(ts(0) == "1970-01-01T00:00:00.000000Z");
  CHECK(ts(999) == "1970-01-01T00:00:00.000000Z");
  CHECK(ts(1000) == "1970-01-01T00:00:00.000001Z");
  CHECK(ts(999'999'999) == "1970-01-01T00:00:00.999999Z");
  CHECK(ts(kT0 + 123'456'789) == "2026-11-28T16:00:00.123456Z");
  CHECK(ts(946684799ULL * kNsPerSec + 999'999'999) == "1999-12-31T23:59:59.999999Z");
  CHECK(ts(946684800ULL * kNsPerSec) == "2000-01-01T00:00:00.000000Z");
  CHECK(ts(951782400ULL * kNsPerSec) == "2000-02-29T00:00:00.000000Z");  // 400-year leap
  CHECK(ts(4107456000ULL * kNsPerSec) == "2100-02-28T00:00:00.000000Z");
  CHECK(ts(4107542400ULL * kNsPerSec) == "2100-03-01T00:00:00.000000Z");  // 2100: no leap
  CHECK(ts(1798761599ULL * kNsPerSec + 999'999'000) == "2026-12-31T23:59:59.999999Z");
  CHECK(ts(1798761600ULL * kNsPerSec) == "2027-01-01T00:00:00.000000Z");
  CHECK(ts(~0ULL) == "2554-07-21T23:34:33.709551Z");

  std::mt19937_64 rng(7);
  for (int i = 0; i < 100000; ++i) {
    const Nanos ns = rng();
    const time_t secs = static_cast<time_t>(ns / kNsPerSec);
    tm t{};
    REQUIRE(gmtime_r(&secs, &t) != nullptr);
    char want[96];
    std::snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", t.tm_year + 1900,
                  t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                  static_cast<unsigned>(ns % kNsPerSec / 1000));
    REQUIRE(ts(ns) == want);
  }
}

TEST_CASE("IP text matches inet_ntop (RFC 5952)", "[ip]") {
  auto check = [](const IpAddr& a, uint8_t version) {
    char got[64], want[INET6_ADDRSTRLEN];
    char* end = write_ip(got, a, version);
    REQUIRE(inet_ntop(version == 4 ? AF_INET : AF_INET6, a.b, want, sizeof want) != nullptr);
    REQUIRE(std::string(got, static_cast<size_t>(end - got)) == want);
  };
  for (const char* s : {"::", "::1", "1::", "2001:db8::1", "2001:db8:0:1:0:0:0:35",
                        "2001:0:0:1:0:0:0:1", "1:0:1:0:1:0:1:0", "::ffff:10.0.0.1",
                        "::10.0.0.1", "::ffff:0:10.0.0.1", "fe80::1:0:0:0", "64:ff9b::1.2.3.4",
                        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "0:0:1::", "::0:1:0:0:0"}) {
    check(v6(s), 6);
  }
  std::mt19937_64 rng(3);
  for (int i = 0; i < 200000; ++i) {
    IpAddr a{};
    for (int w = 0; w < 8; ++w) {
      const uint64_t pick = rng() % 4;
      const unsigned word = pick == 0 ? static_cast<unsigned>(rng() & 0xffff)
                            : pick == 1 ? 0xffffu
                            : pick == 2 ? static_cast<unsigned>(rng() & 0xf)
                                        : 0u;
      a.b[2 * w] = static_cast<uint8_t>(word >> 8);
      a.b[2 * w + 1] = static_cast<uint8_t>(word);
    }
    check(a, 6);
    IpAddr b{};
    for (int k = 0; k < 4; ++k) b.b[k] = static_cast<uint8_t>(rng());
    check(b, 4);
  }
}

TEST_CASE("config validation", "[config]") {
  SECTION("defaults are filled in") {
    FormatConfig c;
    REQUIRE(validate(c).ok());
    CHECK_FALSE(c.hostname.empty());
    CHECK(c.procid == std::to_string(getpid()));
  }
  auto error_of = [](FormatConfig c) {
    absl::Status s = validate(c);
    REQUIRE_FALSE(s.ok());
    return std::string(s.message());
  };
  FormatConfig c = test_config();
  REQUIRE(validate(c).ok());
  c.hostname = "my sensor";
  CHECK_THAT(error_of(c), Catch::Contains("--sensor-name") && Catch::Contains("HOSTNAME"));
  c.hostname = std::string(256, 'h');
  CHECK_THAT(error_of(c), Catch::Contains("--sensor-name") && Catch::Contains("1-255"));
  c.hostname = std::string(255, 'h');
  CHECK(validate(c).ok());
  c.hostname = "s\xc3\xa9nsor";
  CHECK_THAT(error_of(c), Catch::Contains("--sensor-name"));
  c = test_config();
  c.app_name = std::string(49, 'a');
  CHECK_THAT(error_of(c), Catch::Contains("APP-NAME"));
  c.app_name = "";
  CHECK_THAT(error_of(c), Catch::Contains("APP-NAME"));
  c = test_config();
  c.procid = std::string(129, '1');
  CHECK_THAT(error_of(c), Catch::Contains("PROCID"));
  c = test_config();
  c.facility = 24;
  CHECK_THAT(error_of(c), Catch::Contains("--facility"));
  c.facility = -1;
  CHECK_THAT(error_of(c), Catch::Contains("--facility"));
  c = test_config();
  c.severity = 8;
  CHECK_THAT(error_of(c), Catch::Contains("--severity"));
  c = test_config();
  c.pen = 0;
  CHECK_THAT(error_of(c), Catch::Contains("--pen"));
  CHECK(random_run_id() != random_run_id());  // 1 in 2^32 to fail
}

TEST_CASE("schema: names, lookup and grouping", "[schema]") {
  STATIC_REQUIRE(schema_is_valid());
  STATIC_REQUIRE(find_field(0) == nullptr);
  STATIC_REQUIRE(find_field(field_id(Field::kHttpHost))->param == "host");
  STATIC_REQUIRE(find_field(field_id(Field::kHttpStatus))->kind == FieldKind::kUint);
  STATIC_REQUIRE(find_field(60000) == nullptr);
  STATIC_REQUIRE(kElementCount >= 2);  // http, app, ...
  STATIC_REQUIRE(!schema_detail::is_valid_name("Has Space", 32));
  STATIC_REQUIRE(!schema_detail::is_valid_name("a=b", 32));
  STATIC_REQUIRE(!schema_detail::is_valid_name("", 32));
  STATIC_REQUIRE(!schema_detail::is_valid_name(std::string_view("abcdefghijklmnopqrstuvwxyz"), 21));

  Rfc5424Formatter f(test_config());
  Record r = v4_tcp_session();
  add(r, Field::kHttpUri, "/a?q=\"x\"");
  REQUIRE(r.add_field(999, "zz", 2));                            // unknown id
  add(r, Field::kHttpHost, "example.com");
  const uint32_t status = 404;
  REQUIRE(r.add_field(field_id(Field::kHttpStatus), &status, 4));
  REQUIRE(r.add_field(field_id(Field::kHttpStatus), "abc", 3));  // bad length for kUint
  add(r, Field::kHttpUri, "/b");
  const uint16_t status16 = 200;
  REQUIRE(r.add_field(field_id(Field::kHttpStatus), &status16, 2));
  std::string line;
  f.format(r, line);
  CHECK(sd_after_flow(line) ==
        "[http@32473 uri=\"/a?q=\\\"x\\\"\" host=\"example.com\" status=\"404\" uri=\"/b\" "
        "status=\"200\"]");
  CHECK(f.counters().emit_ext_unknown_field.get() == 1);
  CHECK(f.counters().emit_ext_bad_length.get() == 1);
  CHECK(invalid_reason(body(line)) == "");
}

TEST_CASE("ext: malformed areas are cut, never overread", "[schema]") {
  Rfc5424Formatter f(test_config());
  Record r = v4_tcp_session();
  add(r, Field::kHttpHost, "h");
  ExtHeader h{field_id(Field::kHttpUri), 500};  // claims more than there is
  std::memcpy(r.ext + r.ext_len, &h, sizeof h);
  r.ext_len = static_cast<uint16_t>(r.ext_len + sizeof h + 10);
  std::string line;
  f.format(r, line);
  CHECK(sd_after_flow(line) == "[http@32473 host=\"h\"]");
  CHECK(f.counters().emit_ext_malformed.get() == 1);

  r.ext_len = 0xffff;  // beyond the ext array
  line.clear();
  f.format(r, line);
  CHECK(f.counters().emit_ext_malformed.get() >= 2);
  CHECK(invalid_reason(body(line)) == "");

  // Only unknown fields: no empty element.
  Record u = v4_tcp_session();
  REQUIRE(u.add_field(999, "x", 1));
  line.clear();
  f.format(u, line);
  CHECK(line.find("[http@") == std::string::npos);
  CHECK(line.find("\"] tcp ") != std::string::npos);
}

TEST_CASE("ext: every value kind renders", "[schema]") {
  auto render = [](FieldKind k, const void* data, size_t len) {
    char buf[kMaxValueBytes];
    const FieldValueResult v = write_field_value(k, static_cast<const uint8_t*>(data), len, buf);
    return std::string(buf, static_cast<size_t>(v.end - buf));
  };
  const uint64_t big = ~0ULL;
  const uint16_t port = 8080;
  const uint8_t one = 7;
  CHECK(render(FieldKind::kUint, &big, 8) == "18446744073709551615");
  CHECK(render(FieldKind::kUint, &port, 2) == "8080");
  CHECK(render(FieldKind::kUint, &one, 1) == "7");
  const uint8_t ip4[] = {192, 0, 2, 1};
  CHECK(render(FieldKind::kIp, ip4, 4) == "192.0.2.1");
  const IpAddr ip6 = v6("2001:db8::ff");
  CHECK(render(FieldKind::kIp, ip6.b, 16) == "2001:db8::ff");
  const uint8_t no = 0, yes = 2;
  CHECK(render(FieldKind::kBool, &no, 1) == "false");
  CHECK(render(FieldKind::kBool, &yes, 1) == "true");
  CHECK(render(FieldKind::kString, "a\"b", 3) == "a\\\"b");

  // Through the formatter: an 8-byte and a 1-byte kUint in one element.
  Rfc5424Formatter f(test_config());
  Record r = v4_tcp_session();
  REQUIRE(r.add_field(field_id(Field::kHttpStatus), &big, 8));
  REQUIRE(r.add_field(field_id(Field::kHttpStatus), &one, 1));
  std::string line;
  f.format(r, line);
  CHECK(sd_after_flow(line) == "[http@32473 status=\"18446744073709551615\" status=\"7\"]");
}

TEST_CASE("line cap: hostile fields cannot push a line past kMaxLineBytes", "[format]") {
  FormatConfig cfg = test_config();
  cfg.hostname = std::string(255, 'h');
  cfg.app_name = std::string(48, 'a');
  cfg.procid = std::string(128, 'p');
  REQUIRE(validate(cfg).ok());
  Rfc5424Formatter f(cfg);
  Record r = v4_tcp_session();
  r.ip_version = 6;
  r.client = v6("1111:2222:3333:4444:5555:6666:7777:8888");
  r.server = r.client;
  const std::string hostile(255, '\x01');  // 255 * 4 = 1020 escaped bytes: just under the cap
  while (r.add_field(field_id(Field::kHttpUri), hostile.data(), hostile.size())) {
  }
  std::string line;
  f.format(r, line);
  CHECK(line.size() <= kMaxLineBytes);
  CHECK(f.counters().emit_ext_line_cap.get() > 0);
  CHECK(line.ends_with(" s\n"));
  CHECK(invalid_reason(body(line)) == "");
}

namespace {

Record random_record(std::mt19937_64& rng) {
  auto pick = [&](uint64_t n) { return rng() % n; };
  Record r{};
  r.type = pick(2) ? RecordType::kSession : RecordType::kSessionUpdate;
  static constexpr uint8_t kTransports[] = {1, 6, 17, 47, 50, 58, 132, 0, 255, 6, 6, 17};
  r.transport = kTransports[pick(sizeof kTransports)];
  r.ip_version = pick(2) ? 4 : 6;
  r.end_reason = static_cast<uint8_t>(pick(8));
  r.worker = static_cast<uint8_t>(rng());
  r.direction_basis = static_cast<uint8_t>(pick(6));
  r.app_proto = static_cast<uint16_t>(pick(5) ? pick(6) : rng());
  r.vlan = pick(3) ? 0 : static_cast<uint16_t>(rng());
  r.tcp_flags[0] = static_cast<uint8_t>(rng());
  r.tcp_flags[1] = static_cast<uint8_t>(rng());
  r.client_port = static_cast<uint16_t>(rng());
  r.server_port = static_cast<uint16_t>(rng());
  r.sid = rng();
  r.start_ns = pick(4) ? rng() : 0;
  r.end_ns = pick(4) ? r.start_ns + pick(1ULL << 40) : rng();
  r.ts_ns = pick(8) ? r.end_ns : rng();
  for (int d = 0; d < 2; ++d) {
    r.pkts[d] = pick(2) ? pick(1000) : rng();
    r.bytes[d] = pick(2) ? pick(1000000) : rng();
  }
  for (int k = 0; k < 16; ++k) {
    r.client.b[k] = pick(3) ? 0 : static_cast<uint8_t>(rng());
    r.server.b[k] = pick(3) ? 0 : static_cast<uint8_t>(rng());
  }
  // Extension fields: known and unknown ids, every length, hostile bytes.
  const int n = static_cast<int>(pick(12));
  for (int k = 0; k < n; ++k) {
    uint16_t id = static_cast<uint16_t>(pick(5) ? 1 + pick(3) : rng());
    size_t len = pick(4) == 0 ? pick(1200) : pick(40);
    if (id == field_id(Field::kHttpStatus) && pick(2)) len = size_t{1} << pick(4);
    std::string bytes(len, '\0');
    for (char& c : bytes) {
      static const char kNasty[] = "\"\\]\r\n\x7f\xc2\x85\xe2\x80\xa8\xf0\x9f\x98\x80\xed\xa0";
      c = pick(3) ? static_cast<char>(' ' + pick(95))
                  : pick(2) ? kNasty[pick(sizeof kNasty - 1)] : static_cast<char>(rng());
    }
    r.add_field(id, bytes.data(), bytes.size());  // may not fit: fine
  }
  if (pick(50) == 0) r.ext_len = static_cast<uint16_t>(rng());  // corrupt the area
  return r;
}

}  // namespace

TEST_CASE("random records: every line is valid RFC 5424", "[format][random]") {
  std::mt19937_64 rng(20261128);
  FormatConfig cfgs[2] = {test_config(), test_config()};
  cfgs[1].hostname = std::string(255, 'x');
  cfgs[1].app_name = std::string(48, '!');
  cfgs[1].procid = std::string(128, '~');
  cfgs[1].pen = 1;
  Rfc5424Formatter fmts[2] = {Rfc5424Formatter(cfgs[0]), Rfc5424Formatter(cfgs[1])};
  std::string out;
  for (int i = 0; i < 10000; ++i) {
    const Record r = random_record(rng);
    out.clear();
    fmts[i & 1].format(r, out);
    REQUIRE(!out.empty());
    REQUIRE(out.size() <= kMaxLineBytes);
    REQUIRE(out.back() == '\n');
    REQUIRE(out.find('\n') == out.size() - 1);
    REQUIRE(out.find('\r') == std::string::npos);
    INFO(out);
    REQUIRE(invalid_reason(body(out)) == "");
  }
}

TEST_CASE("validator: accepts RFC 5424 examples and rejects broken lines", "[validator]") {
  for (const char* ok : {
           "<0>1 - - - - - -",
           "<191>1 - - - - - - ",
           "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
           "\xef\xbb\xbf'su root' failed for lonvick on /dev/pts/8",
           "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time",
           "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
           "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] "
           "\xef\xbb\xbf" "An application event log entry...",
           "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
           "[exampleSDID@32473 iut=\"3\"][examplePriority@32473 class=\"high\"]",
           "<134>1 2024-02-29T23:59:59+05:30 h a p m [timeQuality tzKnown=\"1\"]",
           "<134>1 2024-02-29T23:59:59Z h a p m [x@1.2.3 v=\"\" w=\"a\\x01\\\\ \\] \\\"\"]",
           "<134>1 2024-02-29T23:59:59Z h a p m [x@1 v=\"caf\xc3\xa9 \xf0\x9f\x98\x80\"] m",
       }) {
    INFO(ok);
    CHECK(invalid_reason(ok) == "");
  }
  for (const char* bad : {
           "",
           "<192>1 - - - - - -",
           "<1234>1 - - - - - -",
           "<>1 - - - - - -",
           "134>1 - - - - - -",
           "<134>2 - - - - - -",
           "<134>01 - - - - - -",
           "<134>1  - - - - -",
           "<134>1 - - - - -",
           "<134>1 - - - - - x",
           "<134>1 2024-02-29T23:59:59.1234567Z h a p m -",
           "<134>1 2023-02-29T23:59:59Z h a p m -",
           "<134>1 2024-13-01T23:59:59Z h a p m -",
           "<134>1 2024-04-31T23:59:59Z h a p m -",
           "<134>1 2024-01-01T24:00:00Z h a p m -",
           "<134>1 2024-01-01T23:60:00Z h a p m -",
           "<134>1 2024-01-01T23:59:60Z h a p m -",
           "<134>1 2024-01-01t23:59:59Z h a p m -",
           "<134>1 2024-01-01T23:59:59z h a p m -",
           "<134>1 2024-01-01T23:59:59 h a p m -",
           "<134>1 2024-01-01T23:59:59. h a p m -",
           "<134>1 2024-01-01T23:59:59+2400 h a p m -",
           "<134>1 24-01-01T23:59:59Z h a p m -",
           "<134>1 - h\x01 a p m -",
           "<134>1 - h a\xc3\xa9 p m -",
           "<134>1 - - 0123456789012345678901234567890123456789012345678 - - -",
           "<134>1 - - - - 012345678901234567890123456789012 -",
           "<134>1 - - - - - [flow a=\"b\"]",
           "<134>1 - - - - - [@1 a=\"b\"]",
           "<134>1 - - - - - [a@ a=\"b\"]",
           "<134>1 - - - - - [a@1. a=\"b\"]",
           "<134>1 - - - - - [a@1..2 a=\"b\"]",
           "<134>1 - - - - - [a@x a=\"b\"]",
           "<134>1 - - - - - [a@1 a=\"b\"][a@1 c=\"d\"]",
           "<134>1 - - - - - [a@1 a=\"b]\"]",
           "<134>1 - - - - - [a@1 a=\"b]",
           "<134>1 - - - - - [a@1 a=\"b\"",
           "<134>1 - - - - - [a@1 a=b]",
           "<134>1 - - - - - [a@1 =\"b\"]",
           "<134>1 - - - - - [a@1 a=\"b\"  c=\"d\"]",
           "<134>1 - - - - - [a@1 012345678901234567890123456789012=\"b\"]",
           "<134>1 - - - - - [a@1 a=\"\x01\"]",
           "<134>1 - - - - - [a@1 a=\"\x7f\"]",
           "<134>1 - - - - - [a@1 a=\"\xc2\x85\"]",
           "<134>1 - - - - - [a@1 a=\"\xff\"]",
           "<134>1 - - - - - [a@1 a=\"\xc0\xaf\"]",
           "<134>1 - - - - - [a@1 a=\"\xed\xa0\x80\"]",
           "<134>1 - - - - - [a@1 a=\"\xe2\x82\"]",
           "<134>1 - - - - - [a@1 a=\"b\"]x",
           "<134>1 - - - - - - msg\r",
           "<134>1 - - - - - - msg\xff",
           "<134>1 - - - - - - msg\tx",
       }) {
    INFO(bad);
    CHECK_FALSE(valid(bad));
  }
  std::string why;
  CHECK_FALSE(valid("<134>1 - - - - - [a@1 a=\"\n\"]", &why));
  CHECK_THAT(why, Catch::Contains("control character"));
  CHECK_FALSE(valid(std::string_view("<134>1 - - - - - - a\0b", 22), &why));
}

// ---- sinks ----

namespace {

std::string read_fd(int fd) {
  std::string s;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(n));
  return s;
}

std::string read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  std::string s = read_fd(fd);
  ::close(fd);
  return s;
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/fs_format_test.XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

// Remembers each batch; fails on demand.
class CaptureSink : public Sink {
 public:
  absl::Status write(std::string_view batch) override {
    if (fail) return absl::UnavailableError("test failure");
    batches.emplace_back(batch);
    return absl::OkStatus();
  }
  absl::Status flush() override {
    ++flushes;
    return absl::OkStatus();
  }
  const char* name() const override { return "capture"; }
  std::vector<std::string> batches;
  int flushes = 0;
  bool fail = false;
};

}  // namespace

TEST_CASE("StdoutSink: whole batches through a pipe, partial writes retried", "[sink]") {
  int p[2];
  REQUIRE(pipe(p) == 0);
  StdoutSink sink(p[1]);
  CHECK(std::string(sink.name()) == "stdout");
  // Bigger than the pipe buffer: write() returns short counts while the reader drains.
  std::string big;
  for (int i = 0; i < 40000; ++i) big += "line " + std::to_string(i) + "\n";
  std::string got;
  std::thread reader([&] { got = read_fd(p[0]); });
  REQUIRE(sink.write(big).ok());
  ::close(p[1]);
  reader.join();
  ::close(p[0]);
  CHECK(got == big);
}

TEST_CASE("StdoutSink: EPIPE is an error status", "[sink]") {
  struct sigaction old {};
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  REQUIRE(sigaction(SIGPIPE, &ign, &old) == 0);
  int p[2];
  REQUIRE(pipe(p) == 0);
  ::close(p[0]);
  StdoutSink sink(p[1]);
  absl::Status s = sink.write("x\n");
  ::close(p[1]);
  sigaction(SIGPIPE, &old, nullptr);
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(std::string(s.message()), Catch::Contains("Broken pipe"));
}

TEST_CASE("StdoutSink: after a write cut mid-line, the next batch starts a new line", "[sink]") {
  int p[2];
  REQUIRE(pipe(p) == 0);
  REQUIRE(fcntl(p[1], F_SETFL, O_NONBLOCK) == 0);
  REQUIRE(fcntl(p[0], F_SETFL, O_NONBLOCK) == 0);
  StdoutSink sink(p[1]);
  const std::string line(1000, 'a');
  std::string batch;
  for (int i = 0; i < 1000; ++i) batch += line + "\n";  // ~1 MB: more than the pipe holds
  absl::Status s = sink.write(batch);
  REQUIRE_FALSE(s.ok());  // EAGAIN part-way through
  const std::string first = read_fd(p[0]);
  REQUIRE(!first.empty());
  REQUIRE(first.back() != '\n');  // 64 KiB pipe, 1001-byte lines: cut mid-line
  REQUIRE(sink.write("next\n").ok());
  CHECK(read_fd(p[0]) == "\nnext\n");
  ::close(p[0]);
  ::close(p[1]);
}

TEST_CASE("FileSink: append, reopen after logrotate, errors", "[sink]") {
  TempDir dir;
  const std::string path = dir.path + "/flows.log";
  auto made = make_sink("file:" + path);
  REQUIRE(made.ok());
  Sink& sink = **made;
  CHECK(std::string(sink.name()) == "file");
  REQUIRE(sink.write("one\n").ok());
  REQUIRE(sink.write("two\n").ok());
  struct stat st {};
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == (0640 & ~[] {
          const mode_t m = umask(0);
          umask(m);
          return m;
        }()));
  REQUIRE(std::rename(path.c_str(), (path + ".1").c_str()) == 0);
  REQUIRE(sink.write("three\n").ok());  // still the old file until reopen
  REQUIRE(sink.reopen().ok());
  REQUIRE(sink.write("four\n").ok());
  CHECK(read_file(path + ".1") == "one\ntwo\nthree\n");
  CHECK(read_file(path) == "four\n");

  // Appends to an existing file.
  auto again = FileSink::open(path);
  REQUIRE(again.ok());
  REQUIRE((*again)->write("five\n").ok());
  CHECK(read_file(path) == "four\nfive\n");

  // A reopen that fails keeps the old file.
  REQUIRE(std::system(("rm -rf '" + dir.path + "'/*").c_str()) == 0);
  REQUIRE(::rmdir(dir.path.c_str()) == 0);
  absl::Status r = sink.reopen();
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(std::string(r.message()), Catch::Contains(path));
  CHECK(sink.write("still\n").ok());
  REQUIRE(::mkdir(dir.path.c_str(), 0700) == 0);  // for TempDir's cleanup

  auto missing = make_sink("file:/nonexistent-dir/x.log");
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(std::string(missing.status().message()),
             Catch::Contains("/nonexistent-dir/x.log") && Catch::Contains("No such file"));
}

TEST_CASE("make_sink: specs", "[sink]") {
  auto out = make_sink("stdout");
  REQUIRE(out.ok());
  CHECK(std::string((*out)->name()) == "stdout");
  CHECK(make_sink("file:").status().code() == absl::StatusCode::kInvalidArgument);
  for (const char* net : {"udp:collector:514", "tcp://collector:601", "tls:c:6514"}) {
    auto s = make_sink(net);
    REQUIRE_FALSE(s.ok());
    CHECK(s.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(s.status().message()), Catch::Contains("make_transport"));
  }
  CHECK(make_sink("bogus").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(make_sink("").status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("BatchWriter: size threshold, deadline, counters, failures", "[sink]") {
  CaptureSink sink;
  BatchWriter w(sink, 100, 1000);
  const std::string line(30, 'x');
  REQUIRE(w.add_line(line + "\n", 10).ok());
  CHECK_FALSE(w.flush_due(10 + 999));
  CHECK(w.flush_due(10 + 1000));
  REQUIRE(w.add_line(line + "\n", 20).ok());
  REQUIRE(w.add_line(line + "\n", 30).ok());
  CHECK(sink.batches.empty());
  CHECK(w.buffered_records() == 3);
  REQUIRE(w.add_line(line + "\n", 40).ok());  // 124 bytes >= 100: written
  REQUIRE(sink.batches.size() == 1);
  CHECK(sink.batches[0].size() == 124);
  CHECK(w.buffered_bytes() == 0);
  CHECK_FALSE(w.flush_due(1'000'000));
  CHECK(w.counters().emit_records_written.get() == 4);
  CHECK(w.counters().emit_bytes_written.get() == 124);
  CHECK(w.counters().emit_batches_written.get() == 1);

  Rfc5424Formatter f(test_config());
  REQUIRE(w.add(f, v4_tcp_session(), 5000).ok());  // a full line is > 100 bytes
  CHECK(sink.batches.size() == 2);
  CHECK(sink.batches[1] == format_one(v4_tcp_session()));

  REQUIRE(w.add_line("y\n", 6000).ok());
  CHECK(w.flush_due(7000));
  REQUIRE(w.flush().ok());
  CHECK(sink.flushes == 1);
  CHECK(sink.batches.back() == "y\n");
  CHECK(w.counters().emit_records_written.get() == 6);

  sink.fail = true;
  REQUIRE(w.add_line("z\n", 8000).ok());
  REQUIRE(w.add_line("z\n", 8000).ok());
  CHECK_FALSE(w.flush().ok());
  CHECK(w.counters().emit_write_errors.get() == 1);
  CHECK(w.counters().emit_records_dropped.get() == 2);
  CHECK(w.buffered_bytes() == 0);

  size_t names = 0;
  w.counters().for_each([&](const CounterInfo& info, uint64_t) {
    CHECK(std::string(info.name).starts_with("emit_"));
    ++names;
  });
  CHECK(names == SinkCounters::kCount);
  FormatCounters fc;
  fc.for_each([&](const CounterInfo& info, uint64_t) {
    CHECK(std::string(info.name).starts_with("emit_"));
  });
}

// Not a test: `format_test "[bench]"` prints the cost of one formatted record. Thread CPU
// time, not wall time, so a busy machine inflates it less (caches still suffer).
namespace {
double cpu_ns() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e9 + static_cast<double>(t.tv_nsec);
}
}  // namespace

TEST_CASE("bench: ns per formatted session record", "[.bench]") {
  Rfc5424Formatter f(test_config());
  Record plain = v4_tcp_session();
  Record http = v4_tcp_session();
  add(http, Field::kHttpHost, "www.example.com");
  add(http, Field::kHttpUri, "/static/js/app.min.js?v=20261128&lang=en-US");
  const uint32_t status = 200;
  REQUIRE(http.add_field(field_id(Field::kHttpStatus), &status, 4));
  Record v6rec = plain;
  v6rec.ip_version = 6;
  v6rec.client = v6("2001:db8:85a3::8a2e:370:7334");
  v6rec.server = v6("2001:db8:85a3::1");

  std::string out;
  out.reserve(kDefaultBatchBytes + kMaxLineBytes);
  for (auto [name, rec] : {std::pair<const char*, const Record*>{"v4 tcp session", &plain},
                           {"v4 tcp session + 3 http fields", &http},
                           {"v6 tcp session", &v6rec}}) {
    constexpr int kN = 2'000'000;
    Record r = *rec;
    const double t0 = cpu_ns();
    size_t bytes = 0;
    for (int i = 0; i < kN; ++i) {
      r.sid = static_cast<uint64_t>(i);
      r.ts_ns += 1000;
      f.format(r, out);
      if (out.size() >= kDefaultBatchBytes) {
        bytes += out.size();
        out.clear();
      }
    }
    const double ns = (cpu_ns() - t0) / kN;
    bytes += out.size();
    out.clear();
    std::printf("%-34s %6.1f ns/record  %4zu B/line  %5.2f M records/s\n", name, ns,
                bytes / kN, 1e3 / ns);
  }

  // The emitter's path: formatted in place into the batch, handed to a sink that drops it.
  class NullSink : public Sink {
   public:
    absl::Status write(std::string_view) override { return absl::OkStatus(); }
    const char* name() const override { return "null"; }
  } null_sink;
  BatchWriter w(null_sink);
  constexpr int kN = 2'000'000;
  Record r = http;
  const double t0 = cpu_ns();
  for (int i = 0; i < kN; ++i) {
    r.sid = static_cast<uint64_t>(i);
    r.ts_ns += 1000;
    if (!w.add(f, r, 0).ok()) FAIL("write");
  }
  const double ns = (cpu_ns() - t0) / kN;
  std::printf("%-34s %6.1f ns/record  %5.2f M records/s\n", "BatchWriter::add, http session",
              ns, 1e3 / ns);
}

TEST_CASE("transaction records: flow identity, no counters, their own MSGID", "[format]") {
  Rfc5424Formatter f(test_config());
  for (RecordType t : {RecordType::kHttp, RecordType::kTls, RecordType::kX509, RecordType::kDns,
                       RecordType::kSocks}) {
    Record r = v4_tcp_session();
    r.type = t;
    add(r, Field::kHttpHost, "example.com");
    add(r, Field::kAppName, "github");
    std::string line;
    f.format(r, line);
    INFO(line);
    CHECK(invalid_reason(body(line)) == "");
    CHECK(line.find(std::string(" ") + record_msgid(t) + " [flow@32473 sid=\"") != std::string::npos);
    CHECK(line.find("pkts_c2s") == std::string::npos);
    CHECK(line.find("end_reason") == std::string::npos);
    CHECK(line.find("[http@32473 host=\"example.com\"][app@32473 name=\"github\"]") != std::string::npos);
    CHECK(line.back() == '\n');
  }
  Record bad = v4_tcp_session();
  bad.type = static_cast<RecordType>(kRecordTypeCount);
  std::string line;
  f.format(bad, line);
  CHECK(line.empty());
  CHECK(f.counters().emit_record_bad_type.get() == 1);
}

// ---- JSON, CEF, LEEF (--format) ----

namespace {

// A strict RFC 8259 checker: one value, nothing after it, strings valid UTF-8 with no raw
// control characters and only the escapes JSON defines. Returns "" or where it failed.
class JsonCheck {
 public:
  explicit JsonCheck(std::string_view s) : s_(s) {}
  std::string run() {
    ws();
    if (!value(0)) return fail_;
    ws();
    if (i_ != s_.size()) return at("trailing bytes");
    return "";
  }

 private:
  std::string at(const char* what) {
    if (fail_.empty()) fail_ = std::string(what) + " at byte " + std::to_string(i_);
    return fail_;
  }
  bool err(const char* what) {
    at(what);
    return false;
  }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool lit(std::string_view w) {
    if (s_.substr(i_, w.size()) != w) return err("bad literal");
    i_ += w.size();
    return true;
  }
  bool value(int depth) {
    if (depth > 64) return err("too deep");
    if (i_ >= s_.size()) return err("value expected");
    const char c = s_[i_];
    if (c == '{') return object(depth);
    if (c == '[') return array(depth);
    if (c == '"') return string();
    if (c == 't') return lit("true");
    if (c == 'f') return lit("false");
    if (c == 'n') return lit("null");
    return number();
  }
  bool object(int depth) {
    ++i_;
    ws();
    if (i_ < s_.size() && s_[i_] == '}') return ++i_, true;
    for (;;) {
      ws();
      if (i_ >= s_.size() || s_[i_] != '"') return err("key expected");
      const size_t k0 = i_;
      if (!string()) return false;
      std::string key(s_.substr(k0, i_ - k0));
      if (!keys_[depth].insert(key).second) return err("duplicate key");
      ws();
      if (i_ >= s_.size() || s_[i_] != ':') return err("':' expected");
      ++i_;
      ws();
      if (!value(depth + 1)) return false;
      ws();
      if (i_ < s_.size() && s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < s_.size() && s_[i_] == '}') {
        keys_[depth].clear();
        return ++i_, true;
      }
      return err("',' or '}' expected");
    }
  }
  bool array(int depth) {
    ++i_;
    ws();
    if (i_ < s_.size() && s_[i_] == ']') return ++i_, true;
    for (;;) {
      ws();
      if (!value(depth + 1)) return false;
      ws();
      if (i_ < s_.size() && s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < s_.size() && s_[i_] == ']') return ++i_, true;
      return err("',' or ']' expected");
    }
  }
  bool string() {
    ++i_;
    while (i_ < s_.size()) {
      const auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') return ++i_, true;
      if (c < 0x20) return err("raw control character in a string");
      if (c == '\\') {
        if (i_ + 1 >= s_.size()) return err("cut escape");
        const char e = s_[i_ + 1];
        if (e == 'u') {
          for (int k = 2; k < 6; ++k) {
            if (i_ + k >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[i_ + k]))) {
              return err("bad \\u escape");
            }
          }
          i_ += 6;
          continue;
        }
        if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
          return err("bad escape");
        }
        i_ += 2;
        continue;
      }
      if (c < 0x80) {
        ++i_;
        continue;
      }
      size_t k = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
      if (k == 0 || c > 0xf4 || i_ + k > s_.size()) return err("invalid UTF-8");
      for (size_t j = 1; j < k; ++j) {
        if ((static_cast<unsigned char>(s_[i_ + j]) & 0xc0) != 0x80) return err("invalid UTF-8");
      }
      i_ += k;
    }
    return err("unterminated string");
  }
  bool number() {
    const size_t start = i_;
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    if (i_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[i_]))) return err("number expected");
    if (s_[i_] == '0') {
      ++i_;
    } else {
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
    }
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (i_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[i_]))) return err("bad fraction");
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
    }
    return i_ > start;
  }

  std::string_view s_;
  size_t i_ = 0;
  std::string fail_;
  std::set<std::string> keys_[66];
};

std::string json_problem(std::string_view s) { return JsonCheck(s).run(); }

// LEEF's TAB separators are the one control character a line may hold (rfc5424_check, stricter
// than RFC 5424's MSG-ANY, refuses every control character): check the rest.
std::string no_tabs(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c == '\t') c = ' ';
  }
  return out;
}

// CEF extension: every unescaped '=' ends a key ([A-Za-z0-9]+) that starts the extension or
// follows a space; no raw CR/LF. Returns "" or the problem.
std::string cef_problem(std::string_view line) {
  if (!line.starts_with("CEF:0|")) return "no CEF:0| prefix";
  size_t pipes = 0, i = 0;
  for (; i < line.size() && pipes < 7; ++i) {
    if (line[i] == '\\') {
      ++i;
      continue;
    }
    if (line[i] == '|') ++pipes;
  }
  if (pipes != 7) return "fewer than 7 header fields";
  const size_t ext = i;
  for (size_t k = ext; k < line.size(); ++k) {
    const char c = line[k];
    if (c == '\n' || c == '\r') return "raw line break";
    if (c == '\\') {
      if (k + 1 >= line.size()) return "lone backslash at the end";
      const char e = line[k + 1];
      if (e != '\\' && e != '=' && e != 'n' && e != 'r') return "unknown escape \\" + std::string(1, e);
      ++k;
      continue;
    }
    if (c != '=') continue;
    size_t b = k;
    while (b > ext && std::isalnum(static_cast<unsigned char>(line[b - 1]))) --b;
    if (b == k) return "empty key at byte " + std::to_string(k);
    if (b != ext && line[b - 1] != ' ') return "unescaped '=' in a value at byte " + std::to_string(k);
  }
  return "";
}

// LEEF 2.0 with TAB: the header's 6 fields, then TAB-separated key=value attributes.
std::vector<std::pair<std::string, std::string>> leef_attrs(std::string_view line) {
  REQUIRE(line.starts_with("LEEF:2.0|flowscribe|flowscribe|"));
  size_t pipes = 0, i = 0;
  for (; i < line.size() && pipes < 6; ++i) {
    if (line[i] == '|') ++pipes;
  }
  REQUIRE(pipes == 6);
  std::vector<std::pair<std::string, std::string>> out;
  std::string_view rest = line.substr(i);
  while (!rest.empty()) {
    const size_t tab = rest.find('\t');
    const std::string_view a = rest.substr(0, tab);
    const size_t eq = a.find('=');
    REQUIRE(eq != std::string_view::npos);
    REQUIRE(eq > 0);
    out.emplace_back(std::string(a.substr(0, eq)), std::string(a.substr(eq + 1)));
    if (tab == std::string_view::npos) break;
    rest.remove_prefix(tab + 1);
  }
  return out;
}

std::string find_attr(const std::vector<std::pair<std::string, std::string>>& a,
                      std::string_view key) {
  for (const auto& [k, v] : a) {
    if (k == key) return v;
  }
  return "<missing>";
}

// Every hostile byte a value can carry.
const std::string kHostile = std::string("/a\"b\\c]d=e|f\ng\rh") + std::string(1, '\0') +
                             "i\xff" "j\xe2\x80\xa8k\tl";

FormatConfig fmt_config(LineFormat f) {
  FormatConfig c = test_config();
  c.line_format = f;
  return c;
}

struct Formatted {
  std::string line;  // with the syslog header
  std::string body;  // without it (file/stdout)
};

Formatted format_as(LineFormat f, const Record& r, FormatConfig cfg = test_config()) {
  cfg.line_format = f;
  std::unique_ptr<Formatter> fm = make_formatter(cfg);
  Formatted out;
  fm->format(r, out.line);
  fm->format_body(r, out.body);
  REQUIRE(out.line.size() == fm->body_offset() + out.body.size());
  return out;
}

}  // namespace

TEST_CASE("--format names", "[format][siem]") {
  for (std::string_view n : {"rfc5424", "json", "cef", "leef"}) {
    auto f = parse_line_format(n);
    REQUIRE(f.ok());
    CHECK(line_format_name(*f) == n);
  }
  CHECK(!parse_line_format("xml").ok());
  CHECK(!parse_line_format("JSON").ok());
}

TEST_CASE("JSON: fields, numbers, nesting, hostile bytes, one line", "[format][siem][json]") {
  Record r = v4_tcp_session();
  add(r, Field::kHttpHost, "www.example.com");
  add(r, Field::kHttpUri, kHostile);
  const uint16_t status = 200;
  REQUIRE(r.add_field(field_id(Field::kHttpStatus), &status, 2));
  add(r, Field::kAppName, "example");
  add(r, Field::kHttpHost, "second.example");  // a repeated param: an array
  const Formatted f = format_as(LineFormat::kJson, r);
  INFO(f.line);
  // The syslog header for network outputs: RFC 5424, no structured data.
  CHECK(f.line.starts_with("<134>1 2026-11-28T16:00:01.358024Z sensor1 flowscribe 4242 session - {"));
  CHECK(f.line.substr(f.line.size() - f.body.size()) == f.body);
  CHECK(valid(body(f.line)));
  REQUIRE(f.body.back() == '\n');
  CHECK(f.body.find('\n') == f.body.size() - 1);
  CHECK(json_problem(body(f.body)) == "");
  CHECK(f.body.starts_with(
      "{\"timestamp\":\"2026-11-28T16:00:01.358024Z\",\"host\":\"sensor1\",\"app_name\":"
      "\"flowscribe\",\"procid\":\"4242\",\"msgid\":\"session\",\"sid\":\"01020304030000001234\","
      "\"proto\":\"http\",\"transport\":\"tcp\",\"src\":\"10.0.0.1\",\"sport\":51234,"
      "\"dst\":\"10.0.0.2\",\"dport\":80,\"start\":\"2026-11-28T16:00:00.123456Z\","
      "\"end\":\"2026-11-28T16:00:01.358024Z\",\"duration\":1.234567,\"pkts_c2s\":12,"
      "\"bytes_c2s\":3456,\"pkts_s2c\":10,\"bytes_s2c\":20345,\"end_reason\":\"fin\","
      "\"client_basis\":\"syn\",\"tcp_flags_c2s\":\"SAFP\",\"tcp_flags_s2c\":\"SAF\""));
  // Decoded, the value is what an RFC 5424 parser shows: \xHH for what cannot be shown.
  CHECK(f.body.find(",\"http\":{\"host\":[\"www.example.com\",\"second.example\"],\"uri\":"
                    "\"/a\\\"b\\\\c]d=e|f\\\\x0ag\\\\x0dh\\\\x00i\\\\xffj\\\\xe2\\\\x80\\\\xa8k"
                    "\\\\x09l\",\"status\":200},\"app\":{\"name\":\"example\"}}\n") !=
        std::string::npos);
}

TEST_CASE("JSON: IPv6, session-update, transactions, header escaping", "[format][siem][json]") {
  FormatConfig cfg = test_config();
  cfg.hostname = "se\"ns\\or";
  Record r = v4_tcp_session();
  r.type = RecordType::kSessionUpdate;
  r.ip_version = 6;
  r.client = v6("2001:db8::1");
  r.server = v6("2001:db8::2");
  r.vlan = 120;
  r.locality = static_cast<uint8_t>(Locality::kOutbound);
  Formatted f = format_as(LineFormat::kJson, r, cfg);
  INFO(f.body);
  CHECK(json_problem(body(f.body)) == "");
  CHECK(f.body.find("\"host\":\"se\\\"ns\\\\or\"") != std::string::npos);
  CHECK(f.body.find("\"msgid\":\"session-update\"") != std::string::npos);
  CHECK(f.body.find("\"src\":\"2001:db8::1\",\"sport\":51234,\"dst\":\"2001:db8::2\","
                    "\"dport\":80,\"vlan\":120,\"locality\":\"outbound\"") != std::string::npos);
  CHECK(f.body.find("end_reason") == std::string::npos);
  for (RecordType t : {RecordType::kHttp, RecordType::kTls, RecordType::kX509, RecordType::kDns,
                       RecordType::kSocks}) {
    Record x = v4_tcp_session();
    x.type = t;
    add(x, Field::kHttpHost, "h");
    f = format_as(LineFormat::kJson, x);
    INFO(f.body);
    CHECK(json_problem(body(f.body)) == "");
    CHECK(f.body.find(std::string("\"msgid\":\"") + record_msgid(t) + "\"") != std::string::npos);
    CHECK(f.body.find("pkts_c2s") == std::string::npos);  // counters belong to the session
    CHECK(f.line.find(std::string(" ") + record_msgid(t) + " - {") != std::string::npos);
  }
}

TEST_CASE("CEF: header, standard keys, escaping, one line", "[format][siem][cef]") {
  Record r = v4_tcp_session();
  add(r, Field::kHttpHost, "www.example.com");
  add(r, Field::kHttpUri, kHostile);
  const uint16_t status = 404;
  REQUIRE(r.add_field(field_id(Field::kHttpStatus), &status, 2));
  add(r, Field::kAppCategory, "a=b");
  add(r, Field::kAppCategory, "c");
  FormatConfig cfg = test_config();
  cfg.product_version = "1.2.3";
  const Formatted f = format_as(LineFormat::kCef, r, cfg);
  INFO(f.body);
  CHECK(f.line.starts_with("<134>1 2026-11-28T16:00:01.358024Z sensor1 flowscribe 4242 session - CEF:0|"));
  CHECK(valid(body(f.line)));
  CHECK(f.body.find('\n') == f.body.size() - 1);
  CHECK(cef_problem(body(f.body)) == "");
  CHECK(f.body.starts_with("CEF:0|flowscribe|flowscribe|1.2.3|session|Session ended|3|rt=1795881601358 "
                           "dvchost=sensor1 dvcpid=4242 externalId=01020304030000001234 app=http "
                           "proto=tcp src=10.0.0.1 spt=51234 dst=10.0.0.2 dpt=80 start=1795881600123 "
                           "end=1795881601358 flowscribeDuration=1.234567 flowscribePktsC2s=12 "
                           "in=3456 flowscribePktsS2c=10 out=20345 reason=fin "
                           "flowscribeClientBasis=syn flowscribeTcpFlagsC2s=SAFP "
                           "flowscribeTcpFlagsS2c=SAF "));
  CHECK(f.body.find(" dhost=www.example.com request=/a\"b\\\\c]d\\=e|f\\\\x0ag\\\\x0dh\\\\x00i"
                    "\\\\xffj\\\\xe2\\\\x80\\\\xa8k\\\\x09l flowscribeHttpStatus=404 "
                    "flowscribeAppCategory=a\\=b,c\n") != std::string::npos);
  // IPv6 goes to c6a2/c6a3.
  Record r6 = v4_tcp_session();
  r6.ip_version = 6;
  r6.client = v6("2001:db8::1");
  r6.server = v6("2001:db8::2");
  const Formatted g = format_as(LineFormat::kCef, r6);
  CHECK(g.body.find(" c6a2=2001:db8::1 spt=51234 c6a3=2001:db8::2 dpt=80 ") != std::string::npos);
  CHECK(cef_problem(body(g.body)) == "");
}

TEST_CASE("LEEF: header, TAB attributes, hostile bytes", "[format][siem][leef]") {
  Record r = v4_tcp_session();
  add(r, Field::kHttpHost, "www.example.com");
  add(r, Field::kHttpUri, kHostile);
  r.vlan = 7;
  const Formatted f = format_as(LineFormat::kLeef, r);
  INFO(f.body);
  CHECK(f.line.starts_with("<134>1 2026-11-28T16:00:01.358024Z sensor1 flowscribe 4242 session - LEEF:2.0|"));
  CHECK(f.body.starts_with("LEEF:2.0|flowscribe|flowscribe|0.1.0|session|x09|cat=session\t"));
  CHECK(f.body.find('\n') == f.body.size() - 1);
  const auto a = leef_attrs(body(f.body));
  CHECK(find_attr(a, "devTime") == "1795881601358");
  CHECK(find_attr(a, "sev") == "3");
  CHECK(find_attr(a, "sensor") == "sensor1");
  CHECK(find_attr(a, "src") == "10.0.0.1");
  CHECK(find_attr(a, "srcPort") == "51234");
  CHECK(find_attr(a, "dst") == "10.0.0.2");
  CHECK(find_attr(a, "dstPort") == "80");
  CHECK(find_attr(a, "proto") == "tcp");
  CHECK(find_attr(a, "appProto") == "http");
  CHECK(find_attr(a, "srcBytes") == "3456");
  CHECK(find_attr(a, "dstBytes") == "20345");
  CHECK(find_attr(a, "srcPackets") == "12");
  CHECK(find_attr(a, "vlan") == "7");
  CHECK(find_attr(a, "startTime") == "2026-11-28T16:00:00.123456Z");
  CHECK(find_attr(a, "httpHost") == "www.example.com");
  CHECK(find_attr(a, "url") == "/a\"b\\c]d=e|f\\x0ag\\x0dh\\x00i\\xffj\\xe2\\x80\\xa8k\\x09l");
}

TEST_CASE("JSON/CEF/LEEF: random records stay one valid line", "[format][siem][random]") {
  std::mt19937_64 rng(7);
  FormatConfig cfg = test_config();
  std::unique_ptr<Formatter> fm[3] = {make_formatter(fmt_config(LineFormat::kJson)),
                                      make_formatter(fmt_config(LineFormat::kCef)),
                                      make_formatter(fmt_config(LineFormat::kLeef))};
  std::string line, b;
  for (int i = 0; i < 6000; ++i) {
    const Record r = random_record(rng);
    Formatter& f = *fm[i % 3];
    line.clear();
    b.clear();
    f.format(r, line);
    f.format_body(r, b);
    REQUIRE(!line.empty());
    REQUIRE(line.size() <= kMaxLineBytes);
    REQUIRE(line.find('\n') == line.size() - 1);
    REQUIRE(line.find('\r') == std::string::npos);
    INFO(line);
    REQUIRE(invalid_reason(no_tabs(body(line))) == "");
    if (i % 3 == 0) REQUIRE(json_problem(body(b)) == "");
    if (i % 3 == 1) REQUIRE(cef_problem(body(b)) == "");
    if (i % 3 == 2) (void)leef_attrs(body(b));
  }
}

TEST_CASE("JSON/CEF/LEEF: hostile fields cannot push a line past kMaxLineBytes", "[format][siem]") {
  FormatConfig cfg = test_config();
  cfg.hostname = std::string(255, 'h');
  Record r = v4_tcp_session();
  const std::string big(900, '\x01');  // \x01 each: 4 or 5 times longer
  while (r.add_field(field_id(Field::kHttpUri), big.data(), 200)) {
  }
  for (LineFormat lf : {LineFormat::kJson, LineFormat::kCef, LineFormat::kLeef}) {
    cfg.line_format = lf;
    std::unique_ptr<Formatter> f = make_formatter(cfg);
    std::string line, b;
    f->format(r, line);
    f->format_body(r, b);
    INFO(line_format_name(lf));
    CHECK(line.size() <= kMaxLineBytes);
    CHECK(line.find('\n') == line.size() - 1);
    CHECK(f->counters().emit_ext_line_cap.get() > 0);
    if (lf == LineFormat::kJson) CHECK(json_problem(body(b)) == "");
    if (lf == LineFormat::kCef) CHECK(cef_problem(body(b)) == "");
  }
}

TEST_CASE("drops record in every format", "[format][siem]") {
  for (LineFormat lf : {LineFormat::kRfc5424, LineFormat::kJson, LineFormat::kCef, LineFormat::kLeef}) {
    FormatConfig cfg = fmt_config(lf);
    const std::string with = format_drops_line(cfg, "tcp://c\"x=|]:601", 17, kT0, kT0 + kNsPerSec,
                                               kT0 + 2 * kNsPerSec, true);
    const std::string without = format_drops_line(cfg, "tcp://c\"x=|]:601", 17, kT0,
                                                  kT0 + kNsPerSec, kT0 + 2 * kNsPerSec, false);
    INFO(with);
    CHECK(with.find('\n') == with.size() - 1);
    CHECK(invalid_reason(no_tabs(body(with))) == "");
    CHECK(with.starts_with("<132>1 2026-11-28T16:00:02.000000Z sensor1 flowscribe 4242 drops "));
    if (lf == LineFormat::kRfc5424) continue;
    CHECK(with.ends_with(without));
    CHECK(with.find(" drops - ") != std::string::npos);
    if (lf == LineFormat::kJson) {
      CHECK(json_problem(body(without)) == "");
      CHECK(without.find("\"output\":\"tcp://c\\\"x=|]:601\",\"dropped\":17,") != std::string::npos);
    }
    if (lf == LineFormat::kCef) {
      CHECK(cef_problem(body(without)) == "");
      CHECK(without.find(" cnt=17 ") != std::string::npos);
      CHECK(without.find("flowscribeOutput=tcp://c\"x\\=|]:601\n") != std::string::npos);
    }
    if (lf == LineFormat::kLeef) {
      const auto a = leef_attrs(body(without));
      CHECK(find_attr(a, "dropped") == "17");
      CHECK(find_attr(a, "output") == "tcp://c\"x=|]:601");
    }
  }
}

TEST_CASE("standard CEF/LEEF keys and custom key names", "[format][siem]") {
  CHECK(cef_standard_key("http", "uri") == "request");
  CHECK(cef_standard_key("http", "host") == "dhost");
  CHECK(cef_standard_key("http", "nope").empty());
  CHECK(leef_standard_key("http", "uri") == "url");
  CHECK(cef_standard_key("tls", "sni") == "dhost");
  CHECK(camel_key("flowscribe", "http", "user_agent") == "flowscribeHttpUserAgent");
  CHECK(camel_key("", "x509", "not.before") == "x509NotBefore");
  CHECK(camel_key("", "app-x", "name") == "appXName");
}

// ---- records with continuation slots (emit/record.h, kMaxContinuations) ----

namespace {

// A transaction record and `n` continuation slots: x509 fields in the record, more in each
// continuation (whose header is left as garbage: only ext_len counts), app in the last.
struct Chain {
  Record slot[1 + kMaxContinuations];
  const Record* ptr[1 + kMaxContinuations];
  size_t n = 0;
};
void make_chain(Chain& c, size_t conts) {
  c.slot[0] = v4_tcp_session();
  c.slot[0].type = RecordType::kX509;
  c.slot[0].more = static_cast<uint8_t>(conts);
  add(c.slot[0], Field::kX509Subject, "CN=chain.test");
  for (size_t i = 1; i <= conts; ++i) {
    std::memset(static_cast<void*>(&c.slot[i]), 0, sizeof(Record));
    std::memset(static_cast<void*>(&c.slot[i]), 0xa5, offsetof(Record, ext));
    c.slot[i].ext_len = 0;
    add(c.slot[i], Field::kX509SanDns, "name" + std::to_string(i) + ".test");
  }
  add(c.slot[conts], Field::kAppName, "example");
  c.n = conts + 1;
  for (size_t i = 0; i < c.n; ++i) c.ptr[i] = &c.slot[i];
}

}  // namespace

TEST_CASE("continuations: a record and its continuation slots are one line", "[format][chain]") {
  Rfc5424Formatter f(test_config());
  for (size_t conts = 0; conts <= kMaxContinuations; ++conts) {
    Chain c;
    make_chain(c, conts);
    std::string line;
    f.format(c.ptr, c.n, line);
    INFO(line);
    CHECK(invalid_reason(body(line)) == "");
    CHECK(std::count(line.begin(), line.end(), '\n') == 1);
    std::string want = "[x509@32473 subject=\"CN=chain.test\"";
    for (size_t i = 1; i <= conts; ++i) want += " san_dns=\"name" + std::to_string(i) + ".test\"";
    want += "][app@32473 name=\"example\"]";
    CHECK(line.find(want) != std::string::npos);
    CHECK(line.find(" x509 tcp 10.0.0.1:51234 -> 10.0.0.2:80 http\n") != std::string::npos);
  }
  // A slot full of fields in each of the four: all of it on the line, nothing counted.
  Chain c;
  make_chain(c, kMaxContinuations);
  const std::string v(300, 'a');
  size_t added = 0;
  for (size_t i = 1; i < c.n; ++i) {
    while (c.slot[i].add_field(field_id(Field::kX509SanUri), v.data(), 300)) ++added;
  }
  REQUIRE(added >= 3 * 5);
  std::string line;
  f.format(c.ptr, c.n, line);
  CHECK(line.size() <= kMaxLineBytes);
  CHECK(invalid_reason(body(line)) == "");
  // Whatever the line cap took is counted; the rest is there.
  size_t uris = 0;
  for (size_t p = line.find(" san_uri=\""); p != std::string::npos; p = line.find(" san_uri=\"", p + 1)) ++uris;
  CHECK(uris + f.counters().emit_ext_line_cap.get() == added);
  CHECK(f.counters().emit_ext_malformed.get() == 0);
  // The record alone (format_to) is the record without its continuations.
  std::string alone;
  f.format(c.slot[0], alone);
  CHECK(alone.find("san_dns") == std::string::npos);
  CHECK(alone.find("[x509@32473 subject=\"CN=chain.test\"]") != std::string::npos);
}

TEST_CASE("continuations: a malformed continuation is counted, never overread", "[format][chain]") {
  for (LineFormat lf : {LineFormat::kRfc5424, LineFormat::kJson, LineFormat::kCef, LineFormat::kLeef}) {
    FormatConfig cfg = test_config();
    cfg.line_format = lf;
    std::unique_ptr<Formatter> fm = make_formatter(cfg);
    Chain c;
    make_chain(c, 2);
    c.slot[1].ext_len = 0xffff;  // beyond its ext array: read up to the array's end
    ExtHeader h{field_id(Field::kX509SanEmail), 900};  // claims more than the slot holds
    std::memcpy(c.slot[2].ext + c.slot[2].ext_len, &h, sizeof h);
    c.slot[2].ext_len = static_cast<uint16_t>(c.slot[2].ext_len + sizeof h + 10);
    std::string line;
    fm->format(c.ptr, c.n, line);
    INFO(line);
    // Slot 1: its ext_len, then 2 bytes left after its entries (too few for a header);
    // slot 2: the entry that overruns.
    CHECK(fm->counters().emit_ext_malformed.get() == 3);
    CHECK(line.find("chain.test") != std::string::npos);
    CHECK(line.find("name2.test") != std::string::npos);
    CHECK(line.find("example") != std::string::npos);
    CHECK(std::count(line.begin(), line.end(), '\n') == 1);
    if (lf == LineFormat::kRfc5424) CHECK(invalid_reason(body(line)) == "");
  }
}

TEST_CASE("continuations: JSON, CEF and LEEF read the whole chain", "[format][chain][siem]") {
  Chain c;
  make_chain(c, kMaxContinuations);
  add(c.slot[0], Field::kX509SanDns, "name0.test");  // san_dns in all four slots
  for (LineFormat lf : {LineFormat::kJson, LineFormat::kCef, LineFormat::kLeef}) {
    FormatConfig cfg = test_config();
    cfg.line_format = lf;
    std::unique_ptr<Formatter> fm = make_formatter(cfg);
    std::string line;
    fm->format(c.ptr, c.n, line);
    INFO(line);
    CHECK(std::count(line.begin(), line.end(), '\n') == 1);
    const std::string text = line.substr(fm->body_offset());
    switch (lf) {
      case LineFormat::kJson:
        CHECK(json_problem(body(text)) == "");
        CHECK(text.find("\"x509\":{\"subject\":\"CN=chain.test\",\"san_dns\":[\"name0.test\","
                        "\"name1.test\",\"name2.test\",\"name3.test\"]},\"app\":{\"name\":"
                        "\"example\"}}\n") != std::string::npos);
        break;
      case LineFormat::kCef:
        CHECK(text.find("=name0.test,name1.test,name2.test,name3.test") != std::string::npos);
        CHECK(text.find("=CN\\=chain.test") != std::string::npos);
        CHECK(text.find("=example") != std::string::npos);
        break;
      default:
        CHECK(text.find("=name0.test,name1.test,name2.test,name3.test") != std::string::npos);
        CHECK(text.find("=CN=chain.test") != std::string::npos);
        CHECK(text.find("=example") != std::string::npos);
        break;
    }
    CHECK(fm->counters().emit_ext_malformed.get() == 0);
  }
}
