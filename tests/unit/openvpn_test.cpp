// OpenVPN control channel dissector (dissectors/openvpn): the TLS handshake inside OpenVPN's
// control packets gives the same tls/x509 records as a plain TLS session. Fixtures are the
// payloads of real openvpn 2.6 sessions (tests/unit/openvpn_fixtures.h).
#include "dissectors/openvpn/openvpn.h"
#include "dissectors/tls/tls.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "dissect_harness.h"
#include "openvpn_fixtures.h"

namespace {

using flowscribe::dissect::Dissector;
using flowscribe::dissect::Progress;
using flowscribe::test::FlowUnderTest;
using flowscribe::test::RecordCollector;
namespace ov = flowscribe::test::openvpn;
using Pkts = std::vector<ov::Pkt>;
using Fields = std::vector<std::pair<std::string, std::string>>;

struct Run {
  std::vector<Fields> fields;
  std::vector<std::string> lines;
  Progress last = Progress::kMore;
  std::map<std::string, uint64_t> counters;
};

Run collect(FlowUnderTest& f, Dissector& d, Progress last) {
  Run r;
  r.last = last;
  f.end();
  for (auto& rec : f.out.records) {
    r.fields.push_back(RecordCollector::fields(*rec));
    r.lines.push_back(RecordCollector::line(*rec));
  }
  CHECK(f.out.open_count() == 0);
  CHECK(f.out.bad_commits == 0);
  d.for_each_counter([&](const flowscribe::CounterInfo& ci, uint64_t v) { r.counters[std::string(ci.name)] = v; });
  return r;
}

// Feeds datagrams (UDP) in the given order.
Run run_udp(const Pkts& pkts) {
  auto d = flowscribe::dissect::make_openvpn_dissector();
  FlowUnderTest f(*d, 17, 40000, 1194, static_cast<uint16_t>(flowscribe::AppProto::kOpenvpn));
  Progress last = Progress::kMore;
  for (const ov::Pkt& p : pkts) {
    std::vector<uint8_t> copy(p.bytes.begin(), p.bytes.end());  // exact size: ASan sees over-reads
    last = f.data(p.from_client, copy.data(), static_cast<uint32_t>(copy.size()));
    if (last == Progress::kDone || last == Progress::kViolation) break;
  }
  return collect(f, *d, last);
}

// TCP: each side's stream, delivered in capture order cut every `cut` bytes (0: as captured).
Run run_tcp(const Pkts& pkts, uint32_t cut = 0, uint32_t limit = UINT32_MAX) {
  auto d = flowscribe::dissect::make_openvpn_dissector();
  FlowUnderTest f(*d, 6, 40000, 1194, static_cast<uint16_t>(flowscribe::AppProto::kOpenvpn));
  Progress last = Progress::kMore;
  uint32_t fed = 0;
  for (const ov::Pkt& p : pkts) {
    std::string_view b = p.bytes;
    while (!b.empty() && fed < limit) {
      uint32_t n = cut ? std::min<uint32_t>(cut, static_cast<uint32_t>(b.size())) : static_cast<uint32_t>(b.size());
      n = std::min(n, limit - fed);
      std::vector<uint8_t> copy(b.begin(), b.begin() + n);
      last = f.data(p.from_client, copy.data(), n);
      fed += n;
      b.remove_prefix(n);
      if (last == Progress::kDone || last == Progress::kViolation) return collect(f, *d, last);
    }
  }
  return collect(f, *d, last);
}

Pkts all(std::span<const ov::Pkt> s) { return Pkts(s.begin(), s.end()); }

std::string get(const Fields& fs, std::string_view k) {
  for (auto& [n, v] : fs) {
    if (n == k) return v;
  }
  return "<absent>";
}

// The records every fixture's handshake gives: the server's certificate and its CA (openvpn
// sends the chain), then the tls record.
void check_handshake(const Run& r) {
  REQUIRE(r.fields.size() == 3);
  const Fields& x = r.fields[0];
  CHECK(get(x, "x509.pos") == "0");
  CHECK(get(x, "x509.subject_cn") == "openvpn-server.test");
  CHECK(get(x, "x509.issuer") == "CN=flowscribe openvpn CA,O=flowscribe test");
  CHECK(get(x, "x509.key_type") == "rsa");
  CHECK(get(x, "x509.key_bits") == "2048");
  CHECK(get(x, "x509.error") == "<absent>");
  const Fields& ca = r.fields[1];
  CHECK(get(ca, "x509.pos") == "1");
  CHECK(get(ca, "x509.subject") == "CN=flowscribe openvpn CA,O=flowscribe test");
  CHECK(get(ca, "x509.self_signed") == "true");
  const Fields& t = r.fields[2];
  CHECK(get(t, "tls.version") == "TLSv1.2");
  CHECK(get(t, "tls.cert_count") == "2");
  CHECK(get(t, "tls.cert_sha256") == get(x, "x509.sha256"));
  CHECK(get(t, "tls.partial") == "<absent>");
  CHECK(get(t, "tls.ja3").size() == 32);
  CHECK(get(t, "tls.ja3s").size() == 32);
  CHECK(get(t, "tls.cipher").substr(0, 4) == "TLS_");
}

}  // namespace

TEST_CASE("openvpn: UDP without tls-auth: the handshake's tls and x509 records") {
  const Run r = run_udp(all(ov::kUdpPlain));
  CHECK(r.last == Progress::kDone);
  check_handshake(r);
  CHECK(r.counters.at("openvpn_hmac_flows") == 0);
  CHECK(r.counters.at("openvpn_tls_done") == 1);
  CHECK(r.counters.at("openvpn_unframed") == 0);
}

TEST_CASE("openvpn: UDP with a 64-byte tls-auth HMAC") {
  const Run r = run_udp(all(ov::kUdpTlsAuth));
  CHECK(r.last == Progress::kDone);
  check_handshake(r);
  CHECK(r.counters.at("openvpn_hmac_flows") == 1);
  CHECK(r.counters.at("openvpn_unframed") == 0);
}

TEST_CASE("openvpn: TCP with a 20-byte tls-auth HMAC, the same records whatever the segmentation") {
  const Run whole = run_tcp(all(ov::kTcpTlsAuth));
  CHECK(whole.last == Progress::kDone);
  check_handshake(whole);
  CHECK(whole.counters.at("openvpn_hmac_flows") == 1);
  for (uint32_t cut = 1; cut <= 1500; cut += (cut < 40 ? 1 : 37)) {
    INFO("cut every " << cut);
    const Run r = run_tcp(all(ov::kTcpTlsAuth), cut);
    CHECK(r.fields == whole.fields);
  }
}

TEST_CASE("openvpn: UDP packets reordered and retransmitted give the same records") {
  const Run base = run_udp(all(ov::kUdpPlain));
  REQUIRE(base.fields.size() == 3);
  Pkts p = all(ov::kUdpPlain);
  // Every datagram sent twice.
  Pkts twice;
  for (const ov::Pkt& x : p) {
    twice.push_back(x);
    twice.push_back(x);
  }
  Run r = run_udp(twice);
  CHECK(r.fields == base.fields);
  CHECK(r.counters.at("openvpn_retransmits") > 0);
  // Each adjacent pair of datagrams of one direction swapped in turn (a reply cannot come
  // before its request), then each direction's datagrams reversed in windows of 3.
  int swaps = 0;
  for (size_t i = 0; i + 1 < p.size(); ++i) {
    if (p[i].from_client != p[i + 1].from_client) continue;
    ++swaps;
    Pkts q = p;
    std::swap(q[i], q[i + 1]);
    INFO("swapped " << i);
    r = run_udp(q);
    CHECK(r.fields == base.fields);
  }
  CHECK(swaps >= 2);
  // Each side's datagrams stay in that side's positions of the capture.
  Pkts w = p;
  for (bool side : {true, false}) {
    std::vector<size_t> at;
    for (size_t i = 0; i < p.size(); ++i) {
      if (p[i].from_client == side) at.push_back(i);
    }
    for (size_t i = 0; i + 3 <= at.size(); i += 3) {
      std::swap(w[at[i]], w[at[i + 2]]);
    }
  }
  r = run_udp(w);
  CHECK(r.counters.at("openvpn_reordered") > 0);
  CHECK(r.fields == base.fields);
}

TEST_CASE("openvpn: a lost server packet: the server side stops, the handshake is written as seen") {
  Pkts p = all(ov::kUdpPlain);
  // The first server P_CONTROL_V1 (ServerHello) dropped, later ones repeated past the window.
  Pkts q;
  bool dropped = false;
  for (const ov::Pkt& x : p) {
    if (!dropped && !x.from_client && (static_cast<uint8_t>(x.bytes[0]) >> 3) == 4) {
      dropped = true;
      continue;
    }
    q.push_back(x);
  }
  REQUIRE(dropped);
  // Fake later server packets with high packet-ids (copies of the last server control packet
  // with its message packet-id raised) to overflow the held slots.
  const ov::Pkt* last = nullptr;
  for (const ov::Pkt& x : p) {
    if (!x.from_client && (static_cast<uint8_t>(x.bytes[0]) >> 3) == 4) last = &x;
  }
  REQUIRE(last != nullptr);
  std::vector<std::string> store;
  store.reserve(8);
  for (uint8_t k = 0; k < 8; ++k) {
    std::string s(last->bytes);
    // Plain layout: opcode, session id, ack count, acks, remote session, then the packet-id.
    const uint8_t acks = static_cast<uint8_t>(s[9]);
    const size_t pid_off = 10 + acks * 4u + (acks ? 8u : 0u);
    s[pid_off + 3] = static_cast<char>(10 + k);
    store.push_back(s);
  }
  for (auto& s : store) q.push_back({false, s});
  const Run r = run_udp(q);
  CHECK(r.counters.at("openvpn_lost") >= 1);
  REQUIRE(r.fields.size() == 1);
  CHECK(get(r.fields[0], "tls.partial") == "true");
}

TEST_CASE("openvpn: every truncation of every fixture is safe") {
  // UDP: the first k datagrams, the last one cut at every length.
  for (auto fx : {std::span<const ov::Pkt>(ov::kUdpPlain), std::span<const ov::Pkt>(ov::kUdpTlsAuth)}) {
    for (size_t k = 0; k < fx.size(); ++k) {
      for (size_t n = 0; n <= fx[k].bytes.size(); n += (n < 80 ? 1 : 13)) {
        Pkts q(fx.begin(), fx.begin() + static_cast<long>(k));
        q.push_back({fx[k].from_client, fx[k].bytes.substr(0, n)});
        const Run r = run_udp(q);
        CHECK(r.fields.size() <= 3);
      }
    }
  }
  // TCP: every prefix of the byte sequence.
  uint32_t total = 0;
  for (const ov::Pkt& x : ov::kTcpTlsAuth) total += static_cast<uint32_t>(x.bytes.size());
  for (uint32_t n = 0; n <= total; ++n) {
    const Run r = run_tcp(all(ov::kTcpTlsAuth), 0, n);
    CHECK(r.fields.size() <= 3);
    if (n == total) check_handshake(r);
  }
}

TEST_CASE("openvpn: hostile values") {
  SECTION("TCP length too short or opcode unknown on the first packet: violation") {
    CHECK(run_tcp({{true, std::string_view("\x00\x01\x38", 3)}}).last == Progress::kViolation);
    CHECK(run_tcp({{true, std::string_view("\x00\x20\xf8", 3)}}).last == Progress::kViolation);
    CHECK(run_tcp({{true, std::string_view("\x00\x20\x00", 3)}}).last == Progress::kViolation);
  }
  SECTION("a 65535-byte TCP control packet is skipped, counted") {
    std::string big("\xff\xff\x20", 3);
    big.append(65534, '\x16');
    const Run r = run_tcp({{true, big}});
    CHECK(r.counters.at("openvpn_oversize") == 1);
    CHECK(r.fields.empty());
  }
  SECTION("P_DATA ends the dissection") {
    CHECK(run_udp({{true, std::string_view("\x48\x00\x00\x01\x02\x03", 6)}}).last == Progress::kDone);
    CHECK(run_tcp({{false, std::string_view("\x00\x05\x30\x01\x02\x03\x04", 7)}}).last == Progress::kDone);
  }
  SECTION("tls-crypt-v2 is not read") {
    std::string v3(60, '\x11');
    v3[0] = static_cast<char>(10 << 3);
    const Run r = run_udp({{true, v3}});
    CHECK(r.last == Progress::kDone);
    CHECK(r.counters.at("openvpn_tls_crypt_v2") == 1);
  }
  SECTION("ack counts past 8 and packet layouts that line up with nothing are skipped, then given up") {
    std::string junk(100, '\xee');
    junk[0] = 0x38;
    const Run r = run_udp({{true, junk}, {true, junk}, {true, junk}, {true, junk}, {true, junk}});
    CHECK(r.last == Progress::kDone);
    CHECK(r.counters.at("openvpn_unframed") == 4);
    CHECK(r.counters.at("openvpn_unreadable") == 1);
    CHECK(r.fields.empty());
  }
  SECTION("a control payload that is not TLS") {
    // Plain layout P_CONTROL_V1, no acks, packet-id 1: a session's first TLS bytes must open a
    // TLS record, so this does not line up.
    Run r = run_udp({{true, std::string_view("\x20" "ABCDEFGH" "\x00" "\x00\x00\x00\x01" "GET / HTTP/1.0\r\n", 30)}});
    CHECK(r.fields.empty());
    CHECK(r.counters.at("openvpn_unframed") == 1);
    // Packet-id 40 (a capture that starts mid-session): handed to TLS, which refuses it.
    r = run_udp({{true, std::string_view("\x20" "ABCDEFGH" "\x00" "\x00\x00\x00\x28" "GET / HTTP/1.0\r\n", 30)}});
    CHECK(r.fields.empty());
    CHECK(r.last == Progress::kDone);
    CHECK(r.counters.at("openvpn_tls_violation") == 1);
  }
  SECTION("single bytes and empty datagrams") {
    const Run r = run_udp({{true, std::string_view("", 0)}, {true, std::string_view("\x20", 1)}});
    CHECK(r.fields.empty());
  }
}

TEST_CASE("openvpn: per-flow state stays bounded") {
  auto d = flowscribe::dissect::make_openvpn_dissector();
  auto tls = flowscribe::dissect::make_tls_dissector();
  INFO("state_bytes " << d->state_bytes() << ", tls " << tls->state_bytes());
  CHECK(d->state_bytes() > tls->state_bytes());
  CHECK(d->state_bytes() < tls->state_bytes() + 20 * 1024);
  // The default pool: at most 16 MiB per worker.
  CHECK(uint64_t{d->state_bytes()} * d->default_states() <= 16u << 20);
}
