// Flag parsing: every bad value is refused with a message naming the flag; defaults hold.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "sensor/options.h"

using flowscribe::IpAddr;
using flowscribe::sensor::Cidr;
using flowscribe::sensor::HugeMode;
using flowscribe::sensor::Options;
using flowscribe::sensor::parse_cidr_list;
using flowscribe::sensor::parse_cpu_list;
using flowscribe::sensor::parse_options;

namespace {

absl::StatusOr<Options> parse(std::vector<std::string> args) {
  args.insert(args.begin(), "flowscribe");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return parse_options(static_cast<int>(argv.size()), argv.data());
}

std::string error_of(std::vector<std::string> args) {
  auto r = parse(std::move(args));
  REQUIRE_FALSE(r.ok());
  return std::string(r.status().message());
}

IpAddr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  IpAddr x{};
  x.b[0] = a, x.b[1] = b, x.b[2] = c, x.b[3] = d;
  return x;
}

}  // namespace

TEST_CASE("defaults", "[options]") {
  auto o = parse({"--pcap", "x.pcap"});
  REQUIRE(o.ok());
  CHECK(o->pcap == "x.pcap");
  CHECK(o->outs == std::vector<std::string>{"stdout"});
  CHECK(o->tcp_idle_s == 300);
  CHECK(o->udp_idle_s == 60);
  CHECK(o->active_timeout_s == 1800);
  CHECK(o->pen == 32473);
  CHECK(o->facility == 16);
  CHECK(o->severity == 6);
  CHECK(o->huge == HugeMode::kAuto);
  CHECK(o->workers == 0);
}

TEST_CASE("both --flag value and --flag=value", "[options]") {
  auto o = parse({"--pcap=a.pcap", "--workers", "3", "--tcp-idle=10", "--out", "file:/tmp/x",
                  "--out=stdout", "--no-huge", "--stats-interval", "0.5"});
  REQUIRE(o.ok());
  CHECK(o->workers == 3);
  CHECK(o->tcp_idle_s == 10);
  CHECK(o->outs == std::vector<std::string>{"file:/tmp/x", "stdout"});
  CHECK(o->huge == HugeMode::kNoHuge);
  CHECK(o->stats_interval_s == 0.5);
}

TEST_CASE("network outputs and their flags", "[options]") {
  auto o = parse({"--pcap", "a.pcap", "--out", "udp://127.0.0.1", "--out", "tcp://[::1]:1601",
                  "--out", "tls://collector.example:6514", "--udp-max", "1180", "--tcp-framing",
                  "lf", "--tls-ca", "ca.pem", "--tls-cert", "c.pem", "--tls-key", "k.pem",
                  "--out-queue-mb", "8", "--spool-dir", "/var/spool/fs", "--spool-max-mb", "10"});
  REQUIRE(o.ok());
  CHECK(o->outs.size() == 3);
  CHECK(o->udp_max == 1180);
  CHECK(o->tcp_framing_lf);
  CHECK(o->tls_ca == "ca.pem");
  CHECK(o->out_queue_mb == 8);
  CHECK(o->spool_dir == "/var/spool/fs");
  CHECK(o->spool_max_mb == 10);
}

TEST_CASE("bad flags name the flag", "[options]") {
  CHECK(error_of({"--pcap", "x", "--workers", "abc"}).find("--workers") != std::string::npos);
  CHECK(error_of({"--pcap", "x", "--workers", "0"}).find("--workers") != std::string::npos);
  CHECK(error_of({"--pcap", "x", "--workers", "999"}).find("1 to 128") != std::string::npos);
  CHECK(error_of({"--pcap", "x", "--tcp-idle", "-1"}).find("--tcp-idle") != std::string::npos);
  CHECK(error_of({"--pcap", "x", "--udp-idle", "12x"}).find("--udp-idle") != std::string::npos);
  CHECK(error_of({"--pcap", "x", "--facility", "24"}).find("--facility") != std::string::npos);
  CHECK(error_of({"--pcap", "x", "--severity", "8"}).find("--severity") != std::string::npos);
  CHECK(error_of({"--pcap", "x", "--stats-interval", "x"}).find("--stats-interval") !=
        std::string::npos);
  CHECK(error_of({"--bogus"}).find("unknown flag --bogus") != std::string::npos);
  CHECK(error_of({"--pcap"}).find("needs a value") != std::string::npos);
  CHECK(error_of({"--pcap", "x", "--no-huge=1"}).find("takes no value") != std::string::npos);
  CHECK(error_of({"x.pcap"}).find("unexpected argument") != std::string::npos);
  CHECK(error_of({}).find("nothing to capture") != std::string::npos);
  CHECK(error_of({"--pcap", "x", "--port", "0000:01:00.0"}).find("cannot be combined") !=
        std::string::npos);
  CHECK(error_of({"--pcap", "x", "--out", "udp://"}).find("no host") != std::string::npos);
  CHECK(error_of({"--pcap", "x", "--out", "ftp://h"}).find("--out") != std::string::npos);
  CHECK(error_of({"--pcap", "x", "--out", "tcp://h:0"}).find("port") != std::string::npos);
  CHECK(error_of({"--pcap", "x", "--out", "tcp://::1:601"}).find("brackets") != std::string::npos);
  CHECK(error_of({"--pcap", "x", "--tcp-framing", "crlf"}).find("--tcp-framing") !=
        std::string::npos);
  CHECK(error_of({"--pcap", "x", "--udp-max", "100"}).find("--udp-max") != std::string::npos);
  CHECK(error_of({"--pcap", "x", "--out", "tls://h", "--tls-cert", "c.pem"}).find("go together") !=
        std::string::npos);
  CHECK(error_of({"--pcap", "x", "--tls-ca", "ca.pem"}).find("tls://") != std::string::npos);
  CHECK(error_of({"--pcap", "x", "--out", "file:"}).find("needs a path") != std::string::npos);
  CHECK(error_of({"--pcap", "x", "--lcores", "4-2"}).find("--lcores") != std::string::npos);
  CHECK(error_of({"--pcap", "x", "--lcores", "1-3", "--workers", "2"}).find("disagrees") !=
        std::string::npos);
}

TEST_CASE("help and version need nothing else", "[options]") {
  auto h = parse({"--help"});
  REQUIRE(h.ok());
  CHECK(h->help);
  auto v = parse({"--version"});
  REQUIRE(v.ok());
  CHECK(v->version);
  CHECK(flowscribe::sensor::usage_text().find("--pcap FILE") != std::string::npos);
}

TEST_CASE("cpu lists", "[options]") {
  std::vector<uint32_t> cpus;
  REQUIRE(parse_cpu_list("2-4,8, 10-11", cpus).ok());
  CHECK(cpus == std::vector<uint32_t>{2, 3, 4, 8, 10, 11});
  cpus.clear();
  CHECK_FALSE(parse_cpu_list("a-b", cpus).ok());
  CHECK_FALSE(parse_cpu_list("", cpus).ok());
  auto o = parse({"--pcap", "x", "--lcores", "4-7"});
  REQUIRE(o.ok());
  CHECK(o->workers == 4);
}

TEST_CASE("dissect-states: every dissector, some, or both", "[options]") {
  auto o = parse({"--pcap", "x", "--dissect-states", "4096"});
  REQUIRE(o.ok());
  CHECK(o->dissect_states == 4096);
  CHECK(o->dissect_states_named.empty());
  o = parse({"--pcap", "x", "--dissect-states=1024, tls=65536,http2=16", "--dissect-states",
             "tls=32"});
  REQUIRE(o.ok());
  CHECK(o->dissect_states == 1024);
  using Named = std::vector<std::pair<std::string, uint32_t>>;
  CHECK(o->dissect_states_named == Named{{"tls", 32}, {"http2", 16}});  // the later tls= wins
  for (const char* bad : {"", "15", "16777217", "tls=", "=64", "tls=abc", "4k"}) {
    CAPTURE(bad);
    CHECK(error_of({"--pcap", "x", "--dissect-states", bad}).find("--dissect-states") !=
          std::string::npos);
  }
}

TEST_CASE("home-net CIDR lists", "[options]") {
  std::vector<Cidr> nets;
  REQUIRE(parse_cidr_list("10.0.0.0/8, 192.168.1.77/24,fd00::/8,172.16.5.4", nets).ok());
  REQUIRE(nets.size() == 4);
  CHECK(nets[0].contains(4, v4(10, 200, 3, 4)));
  CHECK_FALSE(nets[0].contains(4, v4(11, 0, 0, 1)));
  CHECK(nets[1].contains(4, v4(192, 168, 1, 200)));  // host bits were masked
  CHECK_FALSE(nets[1].contains(4, v4(192, 168, 2, 1)));
  IpAddr v6{};
  v6.b[0] = 0xfd;
  v6.b[15] = 1;
  CHECK(nets[2].contains(6, v6));
  CHECK_FALSE(nets[2].contains(4, v4(253, 0, 0, 1)));  // versions never mix
  CHECK(nets[3].contains(4, v4(172, 16, 5, 4)));
  CHECK_FALSE(nets[3].contains(4, v4(172, 16, 5, 5)));
  nets.clear();
  CHECK_FALSE(parse_cidr_list("10.0.0.0/33", nets).ok());
  CHECK_FALSE(parse_cidr_list("fd00::/129", nets).ok());
  CHECK_FALSE(parse_cidr_list("example.com/8", nets).ok());
  CHECK_FALSE(parse_cidr_list(",", nets).ok());
}
