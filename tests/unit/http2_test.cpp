// HTTP/2 dissector (dissectors/http2) and its HPACK decoder: RFC 7541 Appendix C vectors byte
// for byte; fixtures from tests/captures/dissect/http2/http2.pcap (tests/unit/http2_fixtures.h)
// checked whole, cut at every length and split at every offset; hostile frames by hand.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wrestrict"
#endif
#include <catch2/catch.hpp>

#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dissectors/http/http.h"
#include "dissectors/http2/hpack.h"
#include "dissectors/http2/http2.h"
#include "tests/unit/dissect_harness.h"
#include "tests/unit/http2_fixtures.h"

namespace {

using flowscribe::AppProto;
using flowscribe::dissect::Dissector;
using flowscribe::dissect::Progress;
using flowscribe::test::FlowUnderTest;
using flowscribe::test::RecordCollector;
namespace hpack = flowscribe::dissect::hpack;
using http2_fixtures::Msg;
using Fields = std::vector<std::pair<std::string, std::string>>;

std::string unhex(std::string_view h) {
  std::string out;
  int hi = -1;
  for (char ch : h) {
    int v = -1;
    if (ch >= '0' && ch <= '9') v = ch - '0';
    if (ch >= 'a' && ch <= 'f') v = ch - 'a' + 10;
    if (v < 0) continue;
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<char>(hi << 4 | v));
      hi = -1;
    }
  }
  return out;
}

using HeaderList = std::vector<std::pair<std::string, std::string>>;
hpack::Status decode(hpack::DynTable& t, std::string_view hex, HeaderList& out, uint32_t limit = 4096) {
  const std::string b = unhex(hex);
  out.clear();
  return hpack::decode_block(t, limit, reinterpret_cast<const uint8_t*>(b.data()), b.size(),
                             [&](const hpack::Header& h) {
                               out.emplace_back(std::string(h.name), std::string(h.value));
                             });
}
std::string entry(const hpack::DynTable& t, uint32_t i) {
  std::string_view n, v;
  if (!t.get(i, n, v)) return "<none>";
  return std::string(n) + ": " + std::string(v);
}

uint64_t counter(const Dissector& d, std::string_view name) {
  uint64_t out = 0;
  d.for_each_counter([&](const flowscribe::CounterInfo& ci, uint64_t v) {
    if (name == ci.name) out = v;
  });
  return out;
}

}  // namespace

TEST_CASE("hpack: integers, RFC 7541 C.1") {
  const uint8_t c11[] = {0x0a};
  const uint8_t c12[] = {0x1f, 0x9a, 0x0a};
  const uint8_t c13[] = {0x2a};
  size_t i = 0;
  uint32_t v = 0;
  REQUIRE(hpack::decode_int(c11, 1, i, 5, v));
  CHECK(v == 10);
  i = 0;
  REQUIRE(hpack::decode_int(c12, 3, i, 5, v));
  CHECK(v == 1337);
  CHECK(i == 3);
  i = 0;
  REQUIRE(hpack::decode_int(c13, 1, i, 8, v));
  CHECK(v == 42);
  // Truncated, and beyond 2^28.
  i = 0;
  CHECK_FALSE(hpack::decode_int(c12, 2, i, 5, v));
  const uint8_t big[] = {0x1f, 0xff, 0xff, 0xff, 0xff, 0x0f};
  i = 0;
  CHECK_FALSE(hpack::decode_int(big, sizeof big, i, 5, v));
}

TEST_CASE("hpack: literal forms, RFC 7541 C.2") {
  hpack::DynTable t;
  t.reset(4096);
  HeaderList h;
  // C.2.1 literal with indexing
  REQUIRE(decode(t, "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572", h) == hpack::Status::kOk);
  CHECK(h == HeaderList{{"custom-key", "custom-header"}});
  CHECK(t.size() == 55);
  CHECK(entry(t, 0) == "custom-key: custom-header");
  // C.2.2 literal without indexing
  t.reset(4096);
  REQUIRE(decode(t, "040c 2f73 616d 706c 652f 7061 7468", h) == hpack::Status::kOk);
  CHECK(h == HeaderList{{":path", "/sample/path"}});
  CHECK(t.count() == 0);
  // C.2.3 never indexed
  REQUIRE(decode(t, "1008 7061 7373 776f 7264 0673 6563 7265 74", h) == hpack::Status::kOk);
  CHECK(h == HeaderList{{"password", "secret"}});
  CHECK(t.count() == 0);
  // C.2.4 indexed
  REQUIRE(decode(t, "82", h) == hpack::Status::kOk);
  CHECK(h == HeaderList{{":method", "GET"}});
  CHECK(t.size() == 0);
}

namespace {
// C.3 (plain) and C.4 (Huffman) carry the same three requests.
void check_requests(const char* const hex[3]) {
  hpack::DynTable t;
  t.reset(4096);
  HeaderList h;
  REQUIRE(decode(t, hex[0], h) == hpack::Status::kOk);
  CHECK(h == HeaderList{{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":authority", "www.example.com"}});
  CHECK(t.size() == 57);
  REQUIRE(decode(t, hex[1], h) == hpack::Status::kOk);
  CHECK(h == HeaderList{{":method", "GET"}, {":scheme", "http"}, {":path", "/"},
                        {":authority", "www.example.com"}, {"cache-control", "no-cache"}});
  CHECK(t.size() == 110);
  CHECK(entry(t, 0) == "cache-control: no-cache");
  REQUIRE(decode(t, hex[2], h) == hpack::Status::kOk);
  CHECK(h == HeaderList{{":method", "GET"}, {":scheme", "https"}, {":path", "/index.html"},
                        {":authority", "www.example.com"}, {"custom-key", "custom-value"}});
  CHECK(t.size() == 164);
  CHECK(t.count() == 3);
  CHECK(entry(t, 0) == "custom-key: custom-value");
  CHECK(entry(t, 1) == "cache-control: no-cache");
  CHECK(entry(t, 2) == ":authority: www.example.com");
}
// C.5 (plain) and C.6 (Huffman): three responses with a 256-byte table (evictions).
void check_responses(const char* const hex[3]) {
  hpack::DynTable t;
  t.reset(256);
  HeaderList h;
  REQUIRE(decode(t, hex[0], h, 256) == hpack::Status::kOk);
  CHECK(h == HeaderList{{":status", "302"}, {"cache-control", "private"},
                        {"date", "Mon, 21 Oct 2013 20:13:21 GMT"}, {"location", "https://www.example.com"}});
  CHECK(t.size() == 222);
  CHECK(t.count() == 4);
  REQUIRE(decode(t, hex[1], h, 256) == hpack::Status::kOk);
  CHECK(h == HeaderList{{":status", "307"}, {"cache-control", "private"},
                        {"date", "Mon, 21 Oct 2013 20:13:21 GMT"}, {"location", "https://www.example.com"}});
  CHECK(t.size() == 222);
  CHECK(entry(t, 0) == ":status: 307");
  CHECK(entry(t, 2) == "date: Mon, 21 Oct 2013 20:13:21 GMT");
  CHECK(entry(t, 3) == "cache-control: private");
  REQUIRE(decode(t, hex[2], h, 256) == hpack::Status::kOk);
  CHECK(h == HeaderList{{":status", "200"}, {"cache-control", "private"},
                        {"date", "Mon, 21 Oct 2013 20:13:22 GMT"}, {"location", "https://www.example.com"},
                        {"content-encoding", "gzip"},
                        {"set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"}});
  CHECK(t.size() == 215);
  CHECK(t.count() == 3);
  CHECK(entry(t, 0) == "set-cookie: foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1");
  CHECK(entry(t, 1) == "content-encoding: gzip");
  CHECK(entry(t, 2) == "date: Mon, 21 Oct 2013 20:13:22 GMT");
}
}  // namespace

TEST_CASE("hpack: requests, RFC 7541 C.3 and C.4 (Huffman)") {
  const char* const c3[3] = {
      "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
      "8286 84be 5808 6e6f 2d63 6163 6865",
      "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65"};
  check_requests(c3);
  const char* const c4[3] = {
      "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
      "8286 84be 5886 a8eb 1064 9cbf",
      "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"};
  check_requests(c4);
}

TEST_CASE("hpack: responses with evictions, RFC 7541 C.5 and C.6 (Huffman)") {
  const char* const c5[3] = {
      "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a"
      "3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
      "4803 3330 37c1 c0bf",
      "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04"
      "677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49"
      "553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31"};
  check_responses(c5);
  const char* const c6[3] = {
      "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e"
      "919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
      "4883 640e ffc1 c0bf",
      "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7"
      "821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed"
      "4ee5 b106 3d50 07"};
  check_responses(c6);
}

TEST_CASE("hpack: hostile blocks") {
  hpack::DynTable t;
  t.reset(4096);
  HeaderList h;
  CHECK(decode(t, "80", h) == hpack::Status::kError);      // index 0
  CHECK(decode(t, "be", h) == hpack::Status::kError);      // dynamic index 62, table empty
  CHECK(decode(t, "400a 6375", h) == hpack::Status::kError);  // string past the end
  CHECK(decode(t, "3fe2 1f", h) == hpack::Status::kTableTooBig);  // a size update to 4097
  t.reset(4096);
  CHECK(decode(t, "3fe1 0f", h) == hpack::Status::kOk);  // to 2048
  CHECK(t.max_size() == 2048);
  CHECK(decode(t, "823f e10f", h) == hpack::Status::kError);  // update after a header
  CHECK(decode(t, "2f 01", h, 100) == hpack::Status::kError);  // above the peer's setting
  // Huffman: padding longer than 7 bits, padding not all ones, EOS.
  uint8_t out[16];
  size_t full = 0;
  const uint8_t pad8[] = {0x1f, 0xff};  // 'a' (00011) then 11 one-bits
  CHECK_FALSE(hpack::huffman_decode(pad8, sizeof pad8, out, sizeof out, full));
  const uint8_t pad0[] = {0x18};  // 'a' then 000
  CHECK_FALSE(hpack::huffman_decode(pad0, sizeof pad0, out, sizeof out, full));
  const uint8_t eos[] = {0xff, 0xff, 0xff, 0xfc};  // 30 ones: EOS
  CHECK_FALSE(hpack::huffman_decode(eos, sizeof eos, out, sizeof out, full));
  const uint8_t ok[] = {0x1f};  // 'a' + 111
  REQUIRE(hpack::huffman_decode(ok, sizeof ok, out, sizeof out, full));
  CHECK(full == 1);
  CHECK(out[0] == 'a');
  // An entry larger than the table empties it (section 4.4), no error.
  t.reset(64);
  REQUIRE(decode(t, "4004 6e61 6d65 0576 616c 7565", h, 64) == hpack::Status::kOk);
  CHECK(t.count() == 1);
  REQUIRE(decode(t, "4004 6e61 6d65 20" + std::string(64, '6'), h, 64) ==
          hpack::Status::kOk);
  CHECK(t.count() == 0);
  CHECK(t.size() == 0);
}

namespace {

std::vector<Fields> records_of(const RecordCollector& out) {
  std::vector<Fields> v;
  for (const auto& r : out.records) v.push_back(RecordCollector::fields(*r));
  return v;
}

template <size_t N>
std::vector<Fields> run_fixture(Dissector& d, const Msg (&msgs)[N], uint16_t app = 50, size_t cut = SIZE_MAX,
                                size_t split = 0) {
  FlowUnderTest f(d, 6, 40000, 8080, app);
  size_t fed = 0;
  Progress p = Progress::kMore;
  for (const Msg& m : msgs) {
    if (fed >= cut || p != Progress::kMore) break;
    std::string_view b = m.bytes.substr(0, cut - fed);
    fed += b.size();
    if (split > 0 && split < b.size()) {
      p = f.data(m.from_client, b.substr(0, split));
      if (p == Progress::kMore) p = f.data(m.from_client, b.substr(split));
    } else {
      p = f.data(m.from_client, b);
    }
  }
  if (p != Progress::kViolation) f.end();
  REQUIRE(f.out.bad_commits == 0);
  REQUIRE(f.out.open_count() == 0);
  for (const auto& r : f.out.records) {
    // Every record is whole RFC 5424 text.
    REQUIRE(!RecordCollector::line(*r).empty());
  }
  return records_of(f.out);
}
template <size_t N>
size_t total(const Msg (&msgs)[N]) {
  size_t n = 0;
  for (const Msg& m : msgs) n += m.bytes.size();
  return n;
}
std::string get(const Fields& f, std::string_view k) {
  for (auto& [n, v] : f) {
    if (n == k) return v;
  }
  return "<absent>";
}

}  // namespace

TEST_CASE("http2: prior knowledge, three requests on one connection") {
  auto d = flowscribe::dissect::make_http2_dissector();
  const auto recs = run_fixture(*d, http2_fixtures::kPriorKnowledge);
  REQUIRE(recs.size() == 3);
  CHECK(get(recs[0], "http.method") == "GET");
  CHECK(get(recs[0], "http.host") == "10.79.0.2:8080");
  CHECK(get(recs[0], "http.uri") == "/index.html");
  CHECK(get(recs[0], "http.version") == "2");
  CHECK(get(recs[0], "http.stream_id") == "13");
  CHECK(get(recs[0], "http.status") == "200");
  CHECK(get(recs[0], "http.user_agent") == "flowscribe-test-nghttp");
  CHECK(get(recs[0], "http.referer") == "http://10.79.0.2:8080/");
  CHECK(get(recs[0], "http.content_type") == "text/html");
  CHECK(get(recs[0], "http.resp_body_len") == "46");
  CHECK(get(recs[0], "http.filename") == "index.html");
  CHECK(get(recs[0], "http.tags") == "<absent>");
  CHECK(get(recs[1], "http.uri") == "/docs/report.txt");
  CHECK(get(recs[1], "http.resp_body_len") == "5000");
  CHECK(get(recs[2], "http.status") == "404");
  CHECK(counter(*d, "http2_hpack_error") == 0);
  CHECK(counter(*d, "http2_bad_frame_length") == 0);
  // docs/protocols.md: about 47 KiB per flow, 1024 flows per worker.
  CHECK(d->state_bytes() <= 48 * 1024);
  CHECK(uint64_t{d->state_bytes()} * d->default_states() <= 64ull << 20);
}

TEST_CASE("http2: POST body sizes and x-forwarded-for") {
  auto d = flowscribe::dissect::make_http2_dissector();
  const auto recs = run_fixture(*d, http2_fixtures::kCurlPost);
  REQUIRE(recs.size() == 1);
  CHECK(get(recs[0], "http.method") == "POST");
  CHECK(get(recs[0], "http.req_body_len") == "3000");
  CHECK(get(recs[0], "http.req_content_type") == "text/plain");
  CHECK(get(recs[0], "http.resp_body_len") == "12");
  CHECK(get(recs[0], "http.content_type") == "application/json");
}

TEST_CASE("http2: after an h2c upgrade, stream 1 is the upgraded request's response") {
  auto d = flowscribe::dissect::make_http2_dissector();
  const auto recs = run_fixture(*d, http2_fixtures::kUpgradeH2, static_cast<uint16_t>(AppProto::kHttp));
  REQUIRE(recs.size() == 2);
  CHECK(get(recs[0], "http.stream_id") == "1");
  CHECK(get(recs[0], "http.method") == "<absent>");
  CHECK(get(recs[0], "http.status") == "200");
  CHECK(get(recs[0], "http.resp_body_len") == "46");
  CHECK(get(recs[0], "http.tags") == "h2c_upgrade");
  CHECK(get(recs[1], "http.stream_id") == "3");
  CHECK(get(recs[1], "http.uri") == "/api.json");
  CHECK(get(recs[1], "http.user_agent") == "flowscribe-test-curl-upgrade");
}

TEST_CASE("http1 hands an h2c upgrade over at the end of the 101's head") {
  auto h1 = flowscribe::dissect::make_http_dissector();
  FlowUnderTest f(*h1, 6, 40000, 8081, static_cast<uint16_t>(AppProto::kHttp));
  REQUIRE(f.data(true, "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                       "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n") == Progress::kMore);
  const std::string resp = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
  const std::string settings("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9);
  const std::string all = resp + settings;
  flowscribe::dissect::Ctx c = f.ctx();
  const Progress p = h1->data(f.slot, c, false, reinterpret_cast<const uint8_t*>(all.data()),
                              static_cast<uint32_t>(all.size()), static_cast<uint32_t>(all.size()));
  CHECK(p == Progress::kDone);
  CHECK(c.next_proto == static_cast<uint16_t>(AppProto::kHttp2));
  CHECK(c.used == resp.size());
  REQUIRE(f.out.records.size() == 1);
  CHECK(RecordCollector::field(*f.out.records[0], "http.status") == "101");
  // A WebSocket upgrade is not handed to HTTP/2.
  FlowUnderTest g(*h1, 6, 40001, 80, static_cast<uint16_t>(AppProto::kHttp));
  g.data(true, "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n");
  flowscribe::dissect::Ctx c2 = g.ctx();
  h1->data(g.slot, c2, false, reinterpret_cast<const uint8_t*>(all.data()), static_cast<uint32_t>(resp.size()),
           static_cast<uint32_t>(resp.size()));
  CHECK(c2.next_proto == 0);
}

TEST_CASE("http2: every truncation of every fixture, then flow end") {
  auto d = flowscribe::dissect::make_http2_dissector();
  const size_t n = total(http2_fixtures::kPriorKnowledge);
  const auto whole = run_fixture(*d, http2_fixtures::kPriorKnowledge);
  for (size_t cut = 0; cut <= n; ++cut) {
    const auto recs = run_fixture(*d, http2_fixtures::kPriorKnowledge, 50, cut);
    REQUIRE(recs.size() <= 3);
    for (const auto& r : recs) {
      REQUIRE(get(r, "http.version") == "2");
      // A truncated record never invents values: each present field is the whole run's.
      const std::string uri = get(r, "http.uri");
      if (uri != "<absent>") REQUIRE((uri == "/index.html" || uri == "/docs/report.txt" || uri == "/missing.txt"));
    }
  }
  const size_t m = total(http2_fixtures::kCurlPost);
  for (size_t cut = 0; cut <= m; ++cut) REQUIRE(run_fixture(*d, http2_fixtures::kCurlPost, 50, cut).size() <= 1);
  const size_t u = total(http2_fixtures::kUpgradeH2);
  for (size_t cut = 0; cut <= u; ++cut) {
    REQUIRE(run_fixture(*d, http2_fixtures::kUpgradeH2, 1, cut).size() <= 2);
  }
}

TEST_CASE("http2: the same records whatever the segmentation") {
  auto d = flowscribe::dissect::make_http2_dissector();
  const auto whole = run_fixture(*d, http2_fixtures::kPriorKnowledge);
  for (size_t split = 1; split < 1448; ++split) {
    REQUIRE(run_fixture(*d, http2_fixtures::kPriorKnowledge, 50, SIZE_MAX, split) == whole);
  }
  const auto up = run_fixture(*d, http2_fixtures::kUpgradeH2, 1);
  for (size_t split = 1; split < 200; ++split) {
    REQUIRE(run_fixture(*d, http2_fixtures::kUpgradeH2, 1, SIZE_MAX, split) == up);
  }
  // Byte by byte.
  FlowUnderTest f(*d, 6, 40000, 8080, 50);
  for (const Msg& m : http2_fixtures::kPriorKnowledge) {
    for (char ch : m.bytes) REQUIRE(f.data(m.from_client, std::string_view(&ch, 1)) == Progress::kMore);
  }
  f.end();
  CHECK(records_of(f.out) == whole);
}

namespace {
std::string frame(uint8_t type, uint8_t flags, uint32_t stream, std::string_view payload) {
  std::string s;
  const auto n = static_cast<uint32_t>(payload.size());
  s.push_back(static_cast<char>(n >> 16));
  s.push_back(static_cast<char>(n >> 8));
  s.push_back(static_cast<char>(n));
  s.push_back(static_cast<char>(type));
  s.push_back(static_cast<char>(flags));
  s.push_back(static_cast<char>(stream >> 24));
  s.push_back(static_cast<char>(stream >> 16));
  s.push_back(static_cast<char>(stream >> 8));
  s.push_back(static_cast<char>(stream));
  s.append(payload);
  return s;
}
const std::string kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const std::string kSettings = frame(4, 0, 0, "");
// GET / http, :authority a.example (literal, without indexing).
const std::string kGet = unhex("8286 8401 0961 2e65 7861 6d70 6c65");
const std::string k200 = unhex("88");
}  // namespace

TEST_CASE("http2: hostile and odd frames") {
  auto d = flowscribe::dissect::make_http2_dissector();
  SECTION("not a preface: violation") {
    FlowUnderTest f(*d, 6, 40000, 80, 50);
    CHECK(f.data(true, "GET / HTTP/1.1\r\n") == Progress::kViolation);
  }
  SECTION("server not starting with SETTINGS: violation") {
    FlowUnderTest f(*d, 6, 40000, 80, 50);
    CHECK(f.data(false, frame(1, 4, 1, k200)) == Progress::kViolation);
  }
  SECTION("padding, priority, CONTINUATION, padded DATA") {
    FlowUnderTest f(*d, 6, 40000, 80, 50);
    std::string prio("\x80\x00\x00\x03\x10", 5);
    std::string hp = std::string(1, '\x02') + prio + kGet.substr(0, 3) + std::string(2, '\0');
    f.data(true, kPreface + kSettings + frame(1, 0x08 | 0x20, 1, hp) + frame(9, 4, 1, kGet.substr(3)) +
                     frame(0, 0x08 | 1, 1, std::string(1, '\x03') + "body" + std::string(3, '\0')));
    f.data(false, kSettings + frame(1, 4, 1, k200) + frame(0, 1, 1, "hello"));
    f.end();
    REQUIRE(f.out.records.size() == 1);
    CHECK(RecordCollector::field(*f.out.records[0], "http.host") == "a.example");
    CHECK(RecordCollector::field(*f.out.records[0], "http.req_body_len") == "4");
    CHECK(RecordCollector::field(*f.out.records[0], "http.resp_body_len") == "5");
    CHECK(RecordCollector::field(*f.out.records[0], "http.tags") == "<absent>");
    // The same at every split of the client's bytes.
    const std::string cli = kPreface + kSettings + frame(1, 0x08 | 0x20, 1, hp) + frame(9, 4, 1, kGet.substr(3)) +
                            frame(0, 0x08 | 1, 1, std::string(1, '\x03') + "body" + std::string(3, '\0'));
    const auto want = records_of(f.out);
    for (size_t split = 1; split < cli.size(); ++split) {
      FlowUnderTest g(*d, 6, 40000, 80, 50);
      g.data(true, std::string_view(cli).substr(0, split));
      g.data(true, std::string_view(cli).substr(split));
      g.data(false, kSettings + frame(1, 4, 1, k200) + frame(0, 1, 1, "hello"));
      g.end();
      REQUIRE(records_of(g.out) == want);
    }
  }
  SECTION("bad padding, interleaved CONTINUATION: counted, that direction stops decoding") {
    FlowUnderTest f(*d, 6, 40000, 80, 50);
    f.data(true, kPreface + kSettings + frame(1, 0x08 | 4 | 1, 1, std::string(1, '\x7f') + kGet));
    f.data(true, frame(1, 0, 3, kGet) + frame(8, 0, 0, std::string(4, '\x01')));
    f.data(true, frame(1, 4 | 1, 5, kGet));
    f.end();
    CHECK(counter(*d, "http2_bad_padding") == 1);
    CHECK(counter(*d, "http2_continuation_expected") == 1);
    // Stream 1's frame was dropped whole; 3 (cut by WINDOW_UPDATE) and 5 are opened but
    // their headers are not decoded.
    REQUIRE(f.out.records.size() == 2);
    CHECK(RecordCollector::field(*f.out.records[0], "http.stream_id") == "3");
    CHECK(RecordCollector::field(*f.out.records[1], "http.stream_id") == "5");
    CHECK(RecordCollector::field(*f.out.records[1], "http.tags") == "no_response,hpack_lost");
    CHECK(RecordCollector::field(*f.out.records[1], "http.method") == "<absent>");
  }
  SECTION("a header value longer than the block buffer is streamed; the table stays in step") {
    FlowUnderTest f(*d, 6, 40000, 80, 50);
    // Stream 1: :method GET, :path /, custom, x-big (20000 raw bytes, over a HEADERS and two
    // CONTINUATIONs), then user-agent "ua1" incremental. Stream 3 refers to both dynamic
    // entries: user-agent (62) and custom (63).
    // custom: a (incremental), x-big (not indexed): 0x7f + 19873 = 20000 raw bytes.
    std::string block = unhex("8284 4006 6375 7374 6f6d 0161 0005 782d 6269 67 7f a1 9b 01");
    block += std::string(20000, 'v');
    block += unhex("7a 03 756131");  // user-agent (static 58), incremental, "ua1"
    std::string c = kPreface + kSettings;
    c += frame(1, 0, 1, block.substr(0, 9000));
    c += frame(9, 0, 1, block.substr(9000, 9000));
    c += frame(9, 4 | 1, 1, block.substr(18000));
    c += frame(1, 4 | 1, 3, unhex("8284 bebf"));
    f.data(true, c);
    f.end();
    REQUIRE(f.out.records.size() == 2);
    CHECK(RecordCollector::field(*f.out.records[0], "http.user_agent") == "ua1");
    CHECK(RecordCollector::field(*f.out.records[0], "http.req_headers") == "5");
    CHECK(RecordCollector::field(*f.out.records[1], "http.user_agent") == "ua1");
    CHECK(RecordCollector::field(*f.out.records[1], "http.req_headers") == "4");
    CHECK(RecordCollector::field(*f.out.records[1], "http.tags") == "no_response");
    CHECK(counter(*d, "http2_hpack_error") == 0);
  }
  SECTION("a table size update beyond the cap: later blocks are not decoded") {
    FlowUnderTest f(*d, 6, 40000, 80, 50);
    f.data(true, kPreface + kSettings + frame(1, 5, 1, unhex("3fe1 3f") + kGet) + frame(1, 5, 3, kGet));
    f.end();
    CHECK(counter(*d, "http2_table_too_big") == 1);
    REQUIRE(f.out.records.size() == 2);
    CHECK(RecordCollector::field(*f.out.records[1], "http.tags") == "no_response,hpack_lost");
    CHECK(RecordCollector::field(*f.out.records[1], "http.method") == "<absent>");
  }
  SECTION("more concurrent streams than followed: counted, not recorded") {
    FlowUnderTest f(*d, 6, 40000, 80, 50);
    std::string c = kPreface + kSettings;
    for (uint32_t i = 0; i < 20; ++i) c += frame(1, 5, 1 + 2 * i, kGet);
    f.data(true, c);
    f.end();
    CHECK(f.out.records.size() == 16);
    CHECK(counter(*d, "http2_streams_overflow") == 4);
  }
  SECTION("RST_STREAM and GOAWAY end streams; a gap writes the rest") {
    FlowUnderTest f(*d, 6, 40000, 80, 50);
    f.data(true, kPreface + kSettings + frame(1, 5, 1, kGet) + frame(1, 5, 3, kGet) + frame(1, 5, 5, kGet) +
                     frame(1, 5, 7, kGet));
    f.data(false, kSettings + frame(3, 0, 1, std::string(4, '\x08')) +
                      frame(7, 0, 0, std::string("\x00\x00\x00\x03\x00\x00\x00\x00", 8)));
    CHECK(f.out.records.size() == 3);  // 1 reset, 5 and 7 refused by GOAWAY
    CHECK(f.gap(false, 100) == Progress::kDone);
    REQUIRE(f.out.records.size() == 4);
    CHECK(RecordCollector::field(*f.out.records[0], "http.tags") == "no_response,reset");
    CHECK(RecordCollector::field(*f.out.records[1], "http.tags") == "no_response,goaway");
    CHECK(RecordCollector::field(*f.out.records[3], "http.tags") == "no_response,gap");
  }
  SECTION("frames longer than SETTINGS_MAX_FRAME_SIZE and bad lengths are counted") {
    FlowUnderTest f(*d, 6, 40000, 80, 50);
    f.data(true, kPreface + kSettings + frame(6, 0, 0, "1234") + frame(0, 0, 1, std::string(16385, 'x')));
    CHECK(counter(*d, "http2_bad_frame_length") >= 1);
    CHECK(counter(*d, "http2_frame_too_large") >= 1);
    CHECK(counter(*d, "http2_unknown_stream") >= 1);
    f.end();
  }
}
