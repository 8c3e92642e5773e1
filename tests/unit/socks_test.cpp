// SOCKS dissector (dissectors/socks): fixtures are the TCP payloads of real flows from
// tests/captures/dissect/socks/socks.pcap (curl 7.88, nc.openbsd and Python through Dante
// 1.4.2 and OpenSSH 9.2's ssh -D), made by tests/captures/dissect/make-socks-captures.sh. Each
// fixture is checked whole, cut at every length and split at every offset; hostile and rare
// cases (BIND, UDP ASSOCIATE, IPv6, GSSAPI, overflows) are written by hand from RFC 1928/1929.
#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "dissectors/socks/socks.h"
#include "tests/unit/dissect_harness.h"

namespace {

using flowscribe::AppProto;
using flowscribe::dissect::Ctx;
using flowscribe::dissect::Progress;
using flowscribe::test::FlowUnderTest;
using flowscribe::test::RecordCollector;

struct Msg {
  bool from_client;
  std::string bytes;
};

std::string hex(std::string_view h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

const std::string kGet5h = hex(
    "474554202f696e6465782e68746d6c20485454502f312e310d0a486f73743a207765622e736f636b732e7465"
    "73740d0a557365722d4167656e743a206375726c2d736f636b7335680d0a4163636570743a202a2f2a0d0a0d0a");
const std::string kResponse = "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 2\r\n\r\nok";
// The first record of a TLS 1.2 ClientHello, cut short (what the dissector looks at is its start).
const std::string kHello = hex("1603010200010001fc0303") + std::string(32, 'r');

// curl --socks5-hostname through Dante: 10.64.0.1:56358 -> 10.64.0.2:1080
const std::vector<Msg> kV5Host = {
    {true, hex("05020001")},
    {false, hex("0500")},
    {true, hex("050100030e7765622e736f636b732e746573740050")},
    {false, hex("050000010a400002dc26")},
    {true, kGet5h},
};
// curl --socks4a through ssh -D: 10.64.0.1:48244 -> 10.64.0.2:1085, TLS inside
const std::vector<Msg> kV4aTls = {
    {true, hex("040101bb00000001007765622e736f636b732e7465737400")},
    {false, hex("005a000000000000")},
    {true, kHello},
};
// The same request whose client hello the capture lost (as in Arkime's socks4-https.pcap):
// after the reply the server's ServerHello comes first.
const std::vector<Msg> kV4aServerTls = {
    {true, hex("040101bb00000001007765622e736f636b732e7465737400")},
    {false, hex("005a000000000000")},
    {false, hex("160303004a0200004603035f") + std::string(28, 's')},
};
// curl --socks4 through Dante: 10.64.0.1:56368 -> 10.64.0.2:1080
const std::vector<Msg> kV4 = {
    {true, hex("040100500a40000200")},
    {false, hex("005adc300a400002")},
    {true, "GET /index.html HTTP/1.1\r\nHost: 10.64.0.2\r\n\r\n"},
};
// curl -U fssocks:s3cret-Pass --socks5-hostname through Dante: 10.64.0.1:60272 -> :1081
const std::vector<Msg> kAuth = {
    {true, hex("0503000102")},
    {false, hex("0502")},
    {true, hex("01076673736f636b730b7333637265742d50617373")},
    {false, hex("0100")},
    {true, hex("050100030e7765622e736f636b732e746573740050")},
    {false, hex("050000010a400002eb70")},
    {true, kGet5h},
};
// The same with a wrong password: 10.64.0.1:60284 -> :1081
const std::vector<Msg> kAuthFailed = {
    {true, hex("0503000102")},
    {false, hex("0502")},
    {true, hex("01076673736f636b730e77726f6e672d70617373776f7264")},
    {false, hex("0101")},
};
// Target refused: 10.64.0.1:56396 -> :1080
const std::vector<Msg> kRefused = {
    {true, hex("05020001")},
    {false, hex("0500")},
    {true, hex("050100030e7765622e736f636b732e746573740051")},
    {false, hex("050500010a400002dc4c")},
};
// nc -X 5 to sshd: the server speaks first in the tunnel. 10.64.0.1:56422 -> :1080
const std::vector<Msg> kServerFirst = {
    {true, hex("050100")},
    {false, hex("0500")},
    {true, hex("050100010a4000020016")},
    {false, hex("050000010a400002dc66")},
    {false, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10\r\n"},
};

// Arkime's socks5-reverse.pcap (10.0.0.1:54263 -> 10.0.0.2:8855) in the application's roles:
// the proxy is the side that connected (a bot dialling its controller) and says 6 bytes of its
// own first; the controller's greeting and CONNECT 74.125.131.103:80 come at once, then the
// selection and the reply, then HTTP through the tunnel.
const std::string kGetGoogle =
    "GET /search?hl=en&q=flowscribe HTTP/1.1\r\nHost: www.google.com\r\nUser-Agent: Mozilla/5.0\r\n"
    "Referer: http://www.google.com/\r\n\r\n";
const std::vector<Msg> kV5Reverse = {
    {false, hex("4e5a8d08874e")},
    {true, hex("050100")},
    {true, hex("050100014a7d83670050")},
    {false, hex("0500")},
    {false, hex("050000014a7d83670050")},
    {true, kGetGoogle},
};

struct Run {
  Progress last = Progress::kMore;
  uint16_t next = 0;
  uint32_t used = Ctx::kAllUsed;
  std::string replay;
  bool replay_from_client = true;
  size_t calls = 0;       // data() calls made
  size_t stop_msg = 0;    // index of the message whose piece stopped it
  std::vector<std::pair<std::string, std::string>> fields;  // of the one record (if any)
  size_t records = 0;
};

// Feeds `msgs`, each cut into `chunk`-byte pieces, until a call returns something other than
// kMore; then end_flow (as the app layer does after kDone; not after kViolation).
Run run(const std::vector<Msg>& msgs, size_t chunk = 1 << 20, size_t cut = SIZE_MAX) {
  auto d = flowscribe::dissect::make_socks_dissector();
  FlowUnderTest t(*d, 6, 40000, 1080, static_cast<uint16_t>(AppProto::kSocks));
  Run r;
  size_t fed = 0;
  for (size_t m = 0; m < msgs.size() && r.last == Progress::kMore; ++m) {
    const std::string& b = msgs[m].bytes;
    for (size_t at = 0; at < b.size() && r.last == Progress::kMore && fed < cut; at += chunk) {
      size_t n = std::min(chunk, b.size() - at);
      if (n > cut - fed) n = cut - fed;
      const std::string piece = b.substr(at, n);  // exactly sized: ASan sees over-reads
      Ctx c = t.ctx();
      r.last = d->data(t.slot, c, msgs[m].from_client, reinterpret_cast<const uint8_t*>(piece.data()),
                       static_cast<uint32_t>(n), static_cast<uint32_t>(n));
      fed += n;
      ++r.calls;
      r.stop_msg = m;
      if (r.last == Progress::kDone) {
        r.next = c.next_proto;
        r.used = c.used;
        if (c.replay_len) {
          r.replay.assign(reinterpret_cast<const char*>(c.replay), c.replay_len);
          r.replay_from_client = c.replay_from_client;
        }
        if (c.next_proto != 0) CHECK((c.used <= n || c.used == Ctx::kAllUsed));
      }
    }
  }
  if (r.last != Progress::kViolation) t.end();
  CHECK(t.out.bad_commits == 0);
  CHECK(t.out.open_count() == 0);
  r.records = t.out.records.size();
  CHECK(r.records <= 1);
  if (r.records == 1) {
    r.fields = RecordCollector::fields(*t.out.records[0]);
    CHECK(t.out.records[0]->type == flowscribe::emit::RecordType::kSocks);
    const std::string line = RecordCollector::line(*t.out.records[0]);
    CHECK(line.find(" socks [flow@") != std::string::npos);
  }
  return r;
}

std::string get(const Run& r, std::string_view name) {
  for (auto& [k, v] : r.fields) {
    if (k == name) return v;
  }
  return "<absent>";
}

size_t total(const std::vector<Msg>& msgs) {
  size_t n = 0;
  for (auto& m : msgs) n += m.bytes.size();
  return n;
}

}  // namespace

TEST_CASE("socks: v5 with a domain name hands the tunnel to HTTP", "[socks]") {
  const Run r = run(kV5Host);
  CHECK(r.last == Progress::kDone);
  CHECK(r.next == static_cast<uint16_t>(AppProto::kHttp));
  CHECK(r.used == 0);  // the whole GET goes to the HTTP dissector
  CHECK(r.replay.empty());
  CHECK(r.stop_msg == 4);
  REQUIRE(r.records == 1);
  CHECK(r.fields == std::vector<std::pair<std::string, std::string>>{
                        {"socks.version", "5"},
                        {"socks.command", "connect"},
                        {"socks.host", "web.socks.test"},
                        {"socks.port", "80"},
                        {"socks.status", "succeeded"},
                        {"socks.status_code", "0"},
                        {"socks.auth", "none"},
                        {"socks.auth_offered", "none,gssapi"},
                        {"socks.bound_addr", "10.64.0.2"},
                        {"socks.bound_port", "56358"},
                        {"socks.tunnel", "http"}});
}

TEST_CASE("socks: v4a and v4 requests, TLS and HTTP tunnels", "[socks]") {
  Run r = run(kV4aTls);
  CHECK(r.next == static_cast<uint16_t>(AppProto::kTls));
  CHECK(get(r, "socks.version") == "4");
  CHECK(get(r, "socks.host") == "web.socks.test");
  CHECK(get(r, "socks.addr") == "<absent>");
  CHECK(get(r, "socks.port") == "443");
  CHECK(get(r, "socks.status") == "succeeded");
  CHECK(get(r, "socks.status_code") == "90");
  CHECK(get(r, "socks.bound_addr") == "<absent>");  // ssh -D sends zeros
  CHECK(get(r, "socks.user") == "<absent>");
  CHECK(get(r, "socks.tunnel") == "tls");
  r = run(kV4);
  CHECK(r.next == static_cast<uint16_t>(AppProto::kHttp));
  CHECK(get(r, "socks.addr") == "10.64.0.2");
  CHECK(get(r, "socks.host") == "<absent>");
  CHECK(get(r, "socks.bound_addr") == "10.64.0.2");
  CHECK(get(r, "socks.bound_port") == "56368");
}

TEST_CASE("socks: username/password: the user is written, the password never", "[socks]") {
  Run r = run(kAuth);
  CHECK(r.next == static_cast<uint16_t>(AppProto::kHttp));
  CHECK(get(r, "socks.user") == "fssocks");
  CHECK(get(r, "socks.password_seen") == "true");
  CHECK(get(r, "socks.auth") == "userpass");
  CHECK(get(r, "socks.auth_offered") == "none,gssapi,userpass");
  for (auto& [k, v] : r.fields) CHECK(v.find("s3cret") == std::string::npos);
  r = run(kAuthFailed);
  CHECK(r.last == Progress::kDone);
  CHECK(r.next == 0);
  CHECK(get(r, "socks.status") == "auth failed");
  CHECK(get(r, "socks.user") == "fssocks");
  CHECK(get(r, "socks.command") == "<absent>");
  for (auto& [k, v] : r.fields) CHECK(v.find("wrong") == std::string::npos);
}

TEST_CASE("socks: refused, no acceptable method, server first, unknown tunnel", "[socks]") {
  Run r = run(kRefused);
  CHECK(r.last == Progress::kDone);
  CHECK(r.next == 0);
  CHECK(get(r, "socks.status") == "connection refused");
  CHECK(get(r, "socks.status_code") == "5");
  CHECK(get(r, "socks.tunnel") == "<absent>");
  r = run({{true, hex("05020001")}, {false, hex("05ff")}});
  CHECK(r.last == Progress::kDone);
  CHECK(get(r, "socks.status") == "no acceptable methods");
  CHECK(get(r, "socks.auth") == "no-acceptable");
  r = run(kServerFirst);
  CHECK(r.last == Progress::kDone);
  CHECK(r.next == 0);
  CHECK(get(r, "socks.tunnel") == "server_first");
  // A server that speaks TLS first: the client's hello was lost; the rest is TLS's.
  r = run(kV4aServerTls);
  CHECK(r.last == Progress::kDone);
  CHECK(r.next == static_cast<uint16_t>(AppProto::kTls));
  CHECK(r.used == 0);
  CHECK(r.replay.empty());
  CHECK(get(r, "socks.tunnel") == "tls");
  CHECK(get(r, "socks.host") == "web.socks.test");
  std::vector<Msg> unknown(kServerFirst.begin(), kServerFirst.end() - 1);
  unknown.push_back({true, hex("000102") + "binary-hello\n"});
  r = run(unknown);
  CHECK(r.next == 0);
  CHECK(get(r, "socks.tunnel") == "unknown");
  // A lower-case word or a token longer than any method is no HTTP request line.
  unknown.back().bytes = "get / HTTP/1.1\r\n";
  CHECK(get(run(unknown), "socks.tunnel") == "unknown");
  unknown.back().bytes = std::string(30, 'A') + " / HTTP/1.1\r\n";
  CHECK(get(run(unknown), "socks.tunnel") == "unknown");
  // GSSAPI chosen: what follows is GSSAPI's.
  r = run({{true, hex("0503000102")}, {false, hex("0501")}, {true, hex("0101000400000000")}});
  CHECK(r.last == Progress::kDone);
  CHECK(get(r, "socks.status") == "auth method not read");
}

TEST_CASE("socks: optimistic data and pipelining are replayed to the next dissector", "[socks]") {
  // SOCKS4 request and HTTP request in one segment (Python through Dante, 10.64.0.1:56434).
  const std::string req = hex("040100500a4000026f7074696d69737400");
  const std::string get_req = "GET /index.html HTTP/1.1\r\nHost: 10.64.0.2\r\n\r\n";
  Run r = run({{true, req + get_req}, {false, hex("005adc720a400002")}});
  CHECK(r.last == Progress::kDone);
  CHECK(r.next == static_cast<uint16_t>(AppProto::kHttp));
  CHECK(r.replay == get_req);
  CHECK(r.used == 8);  // the reply is SOCKS's; nothing of this call is left
  CHECK(get(r, "socks.user") == "optimist");
  // The reply and the server's first tunnel bytes in one segment: those go on at once.
  r = run({{true, req + get_req}, {false, hex("005adc720a400002") + kResponse}});
  CHECK(r.replay == get_req);
  CHECK(r.used == 8);
  // A v5 client that sends greeting, request and ClientHello at once.
  r = run({{true, hex("050100") + hex("050100030e7765622e736f636b732e7465737401bb") + kHello},
           {false, hex("0500") + hex("050000010a400002dc3a")}});
  CHECK(r.next == static_cast<uint16_t>(AppProto::kTls));
  CHECK(r.replay == kHello);
  CHECK(r.used == 12);
  CHECK(get(r, "socks.host") == "web.socks.test");
  // Early data in several pieces, the last one with the request's tail: all kept.
  r = run({{true, req}, {true, "GE"}, {true, "T / HTTP/1.0\r\n\r\n"}, {false, hex("005adc720a400002")}});
  CHECK(r.replay == "GET / HTTP/1.0\r\n\r\n");
  // The tunnel's first bytes come one at a time after the reply: the ones before the
  // deciding call are replayed, the deciding call goes on whole.
  r = run({{true, req}, {false, hex("005adc720a400002")}, {true, "G"}, {true, "ET"}, {true, " /"}});
  CHECK(r.next == static_cast<uint16_t>(AppProto::kHttp));
  CHECK(r.replay == "GET");
  CHECK(r.used == 0);
  // More early data than is kept: no hand-over.
  r = run({{true, req + "GET /" + std::string(4000, 'x')}, {false, hex("005adc720a400002")}});
  CHECK(r.last == Progress::kDone);
  CHECK(r.next == 0);
  CHECK(get(r, "socks.tunnel") == "http");
}

TEST_CASE("socks: BIND, UDP ASSOCIATE, IPv6, no reply, gap", "[socks]") {
  const std::string v6 = hex("20010db8000000000000000000000001");
  // BIND: the first reply has the listening address, the second says the peer connected.
  Run r = run({{true, hex("050100")}, {false, hex("0500")},
               {true, hex("05020004") + v6 + hex("1f90")},
               {false, hex("05000004") + v6 + hex("c350")},
               {false, hex("050000010a000005d431")},
               {true, "GET / HTTP/1.1\r\n"}});
  CHECK(r.next == static_cast<uint16_t>(AppProto::kHttp));
  CHECK(get(r, "socks.command") == "bind");
  CHECK(get(r, "socks.addr") == "2001:db8::1");
  CHECK(get(r, "socks.port") == "8080");
  CHECK(get(r, "socks.bound_addr") == "2001:db8::1");
  CHECK(get(r, "socks.bound_port") == "50000");
  // UDP ASSOCIATE: the reply ends it (the datagrams go elsewhere).
  r = run({{true, hex("050100")}, {false, hex("0500")}, {true, hex("05030001000000000000")},
           {false, hex("050000010a0000021389")}});
  CHECK(r.last == Progress::kDone);
  CHECK(r.calls == 4);
  CHECK(get(r, "socks.command") == "udp_associate");
  CHECK(get(r, "socks.bound_port") == "5001");
  // The flow ends before the reply; a gap before it.
  r = run({{true, hex("050100")}, {false, hex("0500")}, {true, hex("050100030e7765622e736f636b732e746573740050")}});
  CHECK(r.last == Progress::kMore);
  CHECK(get(r, "socks.status") == "no reply");
  CHECK(get(r, "socks.host") == "web.socks.test");
  {
    auto d = flowscribe::dissect::make_socks_dissector();
    FlowUnderTest t(*d, 6, 40000, 1080);
    CHECK(t.data(true, hex("040100500a40000200")) == Progress::kMore);
    CHECK(t.gap(false, 8) == Progress::kDone);
    t.end();  // after kDone the app layer calls end_flow: no second record
    REQUIRE(t.out.records.size() == 1);
    CHECK(RecordCollector::field(*t.out.records[0], "socks.status") == "no reply");
  }
  // A greeting alone is a record too; nothing at all is none.
  CHECK(get(run({{true, hex("050100")}}), "socks.status") == "no reply");
  CHECK(run({}).records == 0);
}

TEST_CASE("socks: violations", "[socks]") {
  const std::vector<std::vector<Msg>> bad = {
      {{true, hex("060100")}},                                       // version 6
      {{true, hex("0500")}},                                         // no methods
      {{true, hex("050100")}, {false, hex("0400")}},                 // server's version
      {{true, hex("050100")}, {false, hex("0500")}, {true, hex("04010001")}},  // request version
      {{true, hex("050100")}, {false, hex("0500")}, {true, hex("05040001")}},  // command 4
      {{true, hex("050100")}, {false, hex("0500")}, {true, hex("05010002")}},  // address type 2
      {{true, hex("050100")}, {false, hex("0500")}, {true, hex("05010001c0a800010050")},
       {false, hex("050000070000")}},                                // reply address type 7
      {{true, hex("050102")}, {false, hex("0502")}, {true, hex("020161")}},   // RFC 1929 version 2
      {{true, hex("040300500a40000200")}},                           // SOCKS4 command 3
      {{true, hex("040100500a40000200")}, {false, hex("045a00000a400002")}},  // reply VN 4
      {{true, hex("040100500a400002") + std::string(300, 'u') + std::string(1, '\0')}},  // long user id
      {{true, hex("0401005000000001") + std::string(1, '\0') + std::string(300, 'h')}},  // long domain
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    INFO("case " << i);
    const Run r = run(bad[i]);
    CHECK(r.last == Progress::kViolation);
    CHECK(r.records == 0);
  }
  // Past the buffer before its turn (a flood instead of waiting for the method selection):
  // no over-read, a violation once the message cannot be read.
  const Run r = run({{true, hex("050100") + hex("0501000300") + std::string(5000, 'z')},
                     {false, hex("0500")}, {false, hex("0500")}});
  CHECK(r.records <= 1);
}

TEST_CASE("socks: every truncation ends cleanly", "[socks]") {
  for (const auto* f : {&kV5Host, &kV4aTls, &kV4, &kAuth, &kAuthFailed, &kRefused, &kServerFirst,
                        &kV4aServerTls}) {
    const size_t n = total(*f);
    for (size_t cut = 0; cut <= n; ++cut) {
      INFO("cut " << cut << " of " << n);
      const Run r = run(*f, 1 << 20, cut);
      CHECK(r.last != Progress::kViolation);
      // A record once the client's first message is whole; nothing before.
      CHECK(r.records == (cut >= f->front().bytes.size() ? 1u : 0u));
      if (cut >= f->front().bytes.size()) {
        CHECK(get(r, "socks.version") != "<absent>");
      }
    }
  }
}

TEST_CASE("socks: the same records and hand-over at every segmentation", "[socks]") {
  for (const auto* f : {&kV5Host, &kV4aTls, &kV4, &kAuth, &kAuthFailed, &kRefused, &kServerFirst,
                        &kV4aServerTls}) {
    const Run whole = run(*f);
    for (size_t chunk : {size_t{1}, size_t{2}, size_t{3}, size_t{5}, size_t{7}}) {
      INFO("chunk " << chunk);
      const Run r = run(*f, chunk);
      CHECK(r.last == whole.last);
      CHECK(r.next == whole.next);
      CHECK(r.fields == whole.fields);
      // What reaches the next dissector is the same bytes: replay, then this call from `used`.
      if (r.next) {
        // Replayed bytes are the tunnel's first bytes, from the side that sent them.
        CHECK(r.replay.size() + 0 <= f->back().bytes.size());
        CHECK(f->back().bytes.substr(0, r.replay.size()) == r.replay);
        if (!r.replay.empty()) CHECK(r.replay_from_client == f->back().from_client);
      }
    }
    // Two pieces, split at every offset of every message.
    for (size_t m = 0; m < f->size(); ++m) {
      const std::string& b = (*f)[m].bytes;
      for (size_t k = 1; k < b.size(); ++k) {
        std::vector<Msg> split;
        for (size_t j = 0; j < f->size(); ++j) {
          if (j != m) {
            split.push_back((*f)[j]);
          } else {
            split.push_back({b.size() ? (*f)[j].from_client : true, b.substr(0, k)});
            split.push_back({(*f)[j].from_client, b.substr(k)});
          }
        }
        INFO("message " << m << " split at " << k);
        const Run r = run(split);
        CHECK(r.fields == whole.fields);
        CHECK(r.next == whole.next);
      }
    }
  }
}

TEST_CASE("socks: counters are listed", "[socks]") {
  auto d = flowscribe::dissect::make_socks_dissector();
  size_t n = 0;
  d->for_each_counter([&](const flowscribe::CounterInfo& ci, uint64_t) {
    CHECK(std::string_view(ci.name).starts_with("socks_"));
    ++n;
  });
  CHECK(n == flowscribe::dissect::SocksCounters::kCount);
  CHECK(d->state_bytes() * d->default_states() <= 64u << 20);
}

TEST_CASE("socks: a v5 proxy's own bytes before its selection (reverse SOCKS)", "[socks]") {
  const Run r = run(kV5Reverse);
  CHECK(r.last == Progress::kDone);
  CHECK(r.next == static_cast<uint16_t>(AppProto::kHttp));
  CHECK(r.replay.empty());  // the request line comes in the call that decides the tunnel
  CHECK(r.used == 0);
  CHECK(get(r, "socks.version") == "5");
  CHECK(get(r, "socks.command") == "connect");
  CHECK(get(r, "socks.addr") == "74.125.131.103");
  CHECK(get(r, "socks.port") == "80");
  CHECK(get(r, "socks.status") == "succeeded");
  CHECK(get(r, "socks.auth") == "none");
  CHECK(get(r, "socks.auth_offered") == "none");
  CHECK(get(r, "socks.tunnel") == "http");

  // Every truncation: no violation; a record once the greeting is whole (after the lead).
  const size_t n = total(kV5Reverse);
  const size_t greeting_end = kV5Reverse[0].bytes.size() + kV5Reverse[1].bytes.size();
  for (size_t cut = 0; cut <= n; ++cut) {
    INFO("cut " << cut << " of " << n);
    const Run t = run(kV5Reverse, 1 << 20, cut);
    CHECK(t.last != Progress::kViolation);
    CHECK(t.records == (cut >= greeting_end ? 1u : 0u));
    if (cut >= greeting_end + 10 + 2) CHECK(get(t, "socks.auth") == "none");
  }
  // Every segmentation, every two-piece split: the same record and hand-over.
  for (size_t chunk : {size_t{1}, size_t{2}, size_t{3}, size_t{5}, size_t{7}}) {
    INFO("chunk " << chunk);
    const Run t = run(kV5Reverse, chunk);
    CHECK(t.fields == r.fields);
    CHECK(t.next == r.next);
  }
  for (size_t m = 0; m < kV5Reverse.size(); ++m) {
    const std::string& b = kV5Reverse[m].bytes;
    for (size_t k = 1; k < b.size(); ++k) {
      std::vector<Msg> split;
      for (size_t j = 0; j < kV5Reverse.size(); ++j) {
        if (j != m) {
          split.push_back(kV5Reverse[j]);
        } else {
          split.push_back({kV5Reverse[j].from_client, b.substr(0, k)});
          split.push_back({kV5Reverse[j].from_client, b.substr(k)});
        }
      }
      INFO("message " << m << " split at " << k);
      const Run t = run(split);
      CHECK(t.fields == r.fields);
      CHECK(t.next == r.next);
    }
  }
  // The proxy's lead all delivered after the client's messages (as the app layer replays the
  // classifier's prefixes: the application's client first): the same.
  {
    std::vector<Msg> late = {kV5Reverse[1], kV5Reverse[2], kV5Reverse[5],
                             {false, kV5Reverse[0].bytes + kV5Reverse[3].bytes + kV5Reverse[4].bytes + kResponse}};
    const Run t = run(late);
    CHECK(t.fields == r.fields);
    CHECK(t.next == static_cast<uint16_t>(AppProto::kHttp));
    CHECK(t.replay == kGetGoogle);  // kept, given to HTTP before the server's response
    CHECK(t.replay_from_client);
    CHECK(t.used == 18);            // the response follows the selection and the reply
  }
  {
    // A server that answers the greeting with bytes of its own and no request waits for it:
    // a wrong version at once (the "violations" case), lead or not.
    const Run t = run({{true, hex("050100")}, {false, hex("4e5a8d08874e0500")}});
    CHECK(t.last == Progress::kViolation);
  }

  // Bounds: 16 bytes of lead pass, 17 do not; the selection after a lead must be "none",
  // offered by the client; a lead with no request behind the greeting waits for it.
  auto with_lead = [](std::string lead, std::string greeting = hex("050100"),
                      std::string select = hex("0500")) {
    std::vector<Msg> m = kV5Reverse;
    m[0].bytes = std::move(lead);
    m[1].bytes = std::move(greeting);
    m[3].bytes = std::move(select);
    return run(m);
  };
  CHECK(with_lead(std::string(16, 'j')).next == static_cast<uint16_t>(AppProto::kHttp));
  CHECK(with_lead(std::string(17, 'j')).last == Progress::kViolation);
  CHECK(with_lead(std::string(6, 'j'), hex("050102")).last == Progress::kViolation);
  CHECK(with_lead(std::string(6, 'j'), hex("050100"), hex("0502")).last != Progress::kDone);
  // A lead holding 0x05 bytes that are no selection ("05 ff", "05 05"), then the real one.
  CHECK(get(with_lead(hex("ee05ff05")), "socks.tunnel") == "http");
  {
    const Run t = run({{false, hex("4e5a8d08874e0500")}, {true, hex("050100")}});
    CHECK(t.last == Progress::kMore);
    CHECK(t.records == 1);  // end_flow: the greeting, no request
    CHECK(get(t, "socks.auth") == "<absent>");
  }
  uint64_t lead_after = 0;
  {
    // Counters are per dissector object: a fresh one sees only its own flows.
    auto d = flowscribe::dissect::make_socks_dissector();
    FlowUnderTest t(*d, 6, 40000, 1080, static_cast<uint16_t>(AppProto::kSocks));
    for (const Msg& m : kV5Reverse) {
      Ctx c = t.ctx();
      if (d->data(t.slot, c, m.from_client, reinterpret_cast<const uint8_t*>(m.bytes.data()),
                  static_cast<uint32_t>(m.bytes.size()), static_cast<uint32_t>(m.bytes.size())) !=
          Progress::kMore) {
        break;
      }
    }
    t.end();
    d->for_each_counter([&](const flowscribe::CounterInfo& ci, uint64_t v) {
      if (std::string_view(ci.name) == "socks_server_lead") lead_after = v;
    });
  }
  CHECK(lead_after == 1);
}
