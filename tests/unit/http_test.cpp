// HTTP dissector (dissectors/http): fixtures are the TCP payloads of real flows from
// tests/captures/dissect/http/http.pcap (nginx 1.22, Python http.server; curl 7.88, nc),
// made by tests/captures/dissect/make-http-captures.sh; each fixture is checked whole, cut at
// every length, and split at every offset. Hostile cases are written by hand below.
// GCC 12 warns about std::string concatenation inlined deep into the harness (a false
// positive, GCC bug 105651); nothing here copies overlapping memory.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wrestrict"
#endif
#include <catch2/catch.hpp>

#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "dissectors/apps/apps.h"
#include "dissectors/http/http.h"
#include "tests/unit/dissect_harness.h"

namespace {

using flowscribe::dissect::Dissector;
using flowscribe::dissect::Progress;
using flowscribe::test::FlowUnderTest;
using flowscribe::test::RecordCollector;
using Fields = std::vector<std::pair<std::string, std::string>>;

struct Msg {
  bool from_client;
  std::string_view bytes;
};
template <size_t N>
constexpr std::string_view B(const char (&s)[N]) {
  return {s, N - 1};
}

// kKeepAlive: 10.61.0.1:46518 -> 10.61.0.2:80
const Msg kKeepAlive[] = {
    {true, B("GET /index.html HTTP/1.1\r\nHost: 10.61.0.2\r\nUser-Agent: flowscribe-test/1.0 (curl)\r\nAccept:"
         " */*\r\nReferer: http://10.61.0.2/index.html\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n")},
    {false, B("HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Sat, 28 Nov 2026 19:03:33 GMT\r\nContent-Type: text/ht"
         "ml\r\nContent-Length: 105\r\nLast-Modified: Sat, 28 Nov 2026 19:03:32 GMT\r\nConnection: keep-al"
         "ive\r\nETag: \"6b0b2584-69\"\r\nAccept-Ranges: bytes\r\n\r\n<!doctype html>\n<html><head><title>"
         "flowscribe http test</title></head>\n<body><p>Hello.</p></body></html>\n")},
    {true, B("GET /style.css HTTP/1.1\r\nHost: 10.61.0.2\r\nUser-Agent: flowscribe-test/1.0 (curl)\r\nAccept: "
         "*/*\r\nReferer: http://10.61.0.2/index.html\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n")},
    {false, B("HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Sat, 28 Nov 2026 19:03:33 GMT\r\nContent-Type: text/cs"
         "s\r\nContent-Length: 22\r\nLast-Modified: Sat, 28 Nov 2026 19:03:32 GMT\r\nConnection: keep-aliv"
         "e\r\nETag: \"6b0b2584-16\"\r\nAccept-Ranges: bytes\r\n\r\nbody { color: #333; }\n")},
    {true, B("GET /app.js HTTP/1.1\r\nHost: 10.61.0.2\r\nUser-Agent: flowscribe-test/1.0 (curl)\r\nAccept: */*"
         "\r\nReferer: http://10.61.0.2/index.html\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n")},
    {false, B("HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Sat, 28 Nov 2026 19:03:33 GMT\r\nContent-Type: applica"
         "tion/javascript\r\nContent-Length: 27\r\nLast-Modified: Sat, 28 Nov 2026 19:03:32 GMT\r\nConnect"
         "ion: keep-alive\r\nETag: \"6b0b2584-1b\"\r\nAccept-Ranges: bytes\r\n\r\nconsole.log(\"flowscribe"
         "\");\n")},
};
// kNotFound: 10.61.0.1:46530 -> 10.61.0.2:80
const Msg kNotFound[] = {
    {true, B("GET /missing/page.html\077x=1 HTTP/1.1\r\nHost: 10.61.0.2\r\nUser-Agent: curl/7.88.1\r\nAccept: "
         "*/*\r\n\r\n")},
    {false, B("HTTP/1.1 404 Not Found\r\nServer: nginx\r\nDate: Sat, 28 Nov 2026 19:03:33 GMT\r\nContent-Type: "
         "text/html\r\nContent-Length: 146\r\nConnection: keep-alive\r\n\r\n<html>\r\n<head><title>404 Not"
         " Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx<"
         "/center>\r\n</body>\r\n</html>\r\n")},
};
// kHead: 10.61.0.1:46538 -> 10.61.0.2:80
const Msg kHead[] = {
    {true, B("HEAD /index.html HTTP/1.1\r\nHost: 10.61.0.2\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n")},
    {false, B("HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Sat, 28 Nov 2026 19:03:33 GMT\r\nContent-Type: text/ht"
         "ml\r\nContent-Length: 105\r\nLast-Modified: Sat, 28 Nov 2026 19:03:32 GMT\r\nConnection: keep-al"
         "ive\r\nETag: \"6b0b2584-69\"\r\nAccept-Ranges: bytes\r\n\r\n")},
};
// kConditional: 10.61.0.1:46544 -> 10.61.0.2:80
const Msg kConditional[] = {
    {true, B("GET /index.html HTTP/1.1\r\nHost: 10.61.0.2\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nIf-Modi"
         "fied-Since: Sat, 28 Nov 2026 19:03:32 GMT\r\n\r\n")},
    {false, B("HTTP/1.1 304 Not Modified\r\nServer: nginx\r\nDate: Sat, 28 Nov 2026 19:03:33 GMT\r\nLast-Modifi"
         "ed: Sat, 28 Nov 2026 19:03:32 GMT\r\nConnection: keep-alive\r\nETag: \"6b0b2584-69\"\r\n\r\n")},
};
// kGzipChunked: 10.61.0.1:46558 -> 10.61.0.2:80
const Msg kGzipChunked[] = {
    {true, B("GET /big.txt HTTP/1.1\r\nHost: 10.61.0.2\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nAccept-Enc"
         "oding: deflate, gzip, br, zstd\r\n\r\n")},
    {false, B("HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Sat, 28 Nov 2026 19:03:33 GMT\r\nContent-Type: text/pl"
         "ain\r\nLast-Modified: Sat, 28 Nov 2026 19:03:32 GMT\r\nTransfer-Encoding: chunked\r\nConnection:"
         " keep-alive\r\nETag: W/\"6b0b2584-1950\"\r\nContent-Encoding: gzip\r\n\r\n179\r\n\037\213\010"
         "\000\000\000\000\000\004\003\235\330\307QCA\020E\321=Q\374\020\246\307\017\331`\204\025\010'\\"
         "\364TA\004\234u\327\333\235\352\305\335\337>\356\266\224\342t{\273\331m\317\307\333\213\373\355"
         "\374\345\360\361\270]\035>\267\273\343\303\323\353vx\337\275\374\236\367g\337_\333\345\341\372d"
         "\377\267\312\264*\264\252\264j\264\352\264\032\264\232\264Z\262\212D+\262\021d#\310F\220\215 "
         "\033A6\202l\004\331\010\262\221\311F&\033\231ld\262\221\311F&\033\231ld\262\221\311F&\033\205l"
         "\024\262Q\310F!\033\205l\024\262Q\310F!\033\205l\024\262Q\311F%\033\225lT\262Q\311F%\033\225lT"
         "\262Q\311F%\033\215l4\262\321\310F#\033\215l4\262\321\310F#\033\215l4\262\321\311F'\033\235lt"
         "\262\321\311F'\033\235lt\262\321\311F'\033\203l\014\2621\310\306 \033\203l\014\2621\310\306 \033"
         "\203l\014\2621\311\306$\033\223lL\2621\311\306$\033\223lL\2621\311\306$\033\213l,\262\261\310"
         "\306\"\033\213l,\262\261\310\306\"\033\213l,\261\021Il\004u\321Hb#\222\330\210$6\"\211\215Hb#"
         "\222\330\210$6\"\221\r\352\242\021\3627\202\272hP\027\r\352\242A]4\250\213\006u\321\240.\032\324"
         "E\343\277]\364\007X\361\220JP\031\000\000\r\n0\r\n\r\n")},
};
// kPostForm: 10.61.0.1:46564 -> 10.61.0.2:80
const Msg kPostForm[] = {
    {true, B("POST /upload HTTP/1.1\r\nHost: 10.61.0.2\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nContent-Le"
         "ngth: 25\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\nname=flowscribe&kind=test")},
    {false, B("HTTP/1.1 201 Created\r\nServer: nginx\r\nDate: Sat, 28 Nov 2026 19:03:33 GMT\r\nContent-Type: ap"
         "plication/octet-stream\r\nContent-Length: 7\r\nConnection: keep-alive\r\n\r\nstored\n")},
};
// kPostMultipart: 10.61.0.1:46574 -> 10.61.0.2:80
const Msg kPostMultipart[] = {
    {true, B("POST /upload HTTP/1.1\r\nHost: 10.61.0.2\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nContent-Le"
         "ngth: 206\r\nContent-Type: multipart/form-data; boundary=------------------------6beece6553bec83"
         "4\r\n\r\n")},
    {true, B("--------------------------6beece6553bec834\r\nContent-Disposition: form-data; name=\"file\"; fil"
         "ename=\"report.txt\"\r\nContent-Type: text/plain\r\n\r\nquarterly numbers\n\r\n-----------------"
         "---------6beece6553bec834--\r\n")},
    {false, B("HTTP/1.1 201 Created\r\nServer: nginx\r\nDate: Sat, 28 Nov 2026 19:03:33 GMT\r\nContent-Type: ap"
         "plication/octet-stream\r\nContent-Length: 7\r\nConnection: keep-alive\r\n\r\nstored\n")},
};
// kPostChunked: 10.61.0.1:46580 -> 10.61.0.2:80
const Msg kPostChunked[] = {
    {true, B("POST /upload HTTP/1.1\r\nHost: 10.61.0.2\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nTransfer-E"
         "ncoding: chunked\r\nContent-Type: application/json\r\n\r\n1a\r\n{\"chunked\":true,\"n\":12345}\r"
         "\n0\r\n\r\n")},
    {false, B("HTTP/1.1 201 Created\r\nServer: nginx\r\nDate: Sat, 28 Nov 2026 19:03:33 GMT\r\nContent-Type: ap"
         "plication/octet-stream\r\nContent-Length: 7\r\nConnection: keep-alive\r\n\r\nstored\n")},
};
// kDisposition: 10.61.0.1:46592 -> 10.61.0.2:80
const Msg kDisposition[] = {
    {true, B("GET /download/report.txt HTTP/1.1\r\nHost: 10.61.0.2\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r"
         "\n\r\n")},
    {false, B("HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Sat, 28 Nov 2026 19:03:33 GMT\r\nContent-Type: text/pl"
         "ain\r\nContent-Length: 18\r\nLast-Modified: Sat, 28 Nov 2026 19:03:32 GMT\r\nConnection: keep-al"
         "ive\r\nETag: \"6b0b2584-12\"\r\nContent-Disposition: attachment; filename=\"Q3 report.txt\"\r\nA"
         "ccept-Ranges: bytes\r\n\r\nquarterly numbers\n")},
    {true, B("GET /download/cv.txt HTTP/1.1\r\nHost: 10.61.0.2\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r"
         "\n")},
    {false, B("HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Sat, 28 Nov 2026 19:03:33 GMT\r\nContent-Type: text/pl"
         "ain\r\nContent-Length: 9\r\nLast-Modified: Sat, 28 Nov 2026 19:03:32 GMT\r\nConnection: keep-ali"
         "ve\r\nETag: \"6b0b2584-9\"\r\nContent-Disposition: attachment; filename=\"cv.txt\"; filename*=UT"
         "F-8''r%C3%A9sum%C3%A9.txt\r\nAccept-Ranges: bytes\r\n\r\nr\303\251sum\303\251\n")},
};
// kHttp10: 10.61.0.1:46606 -> 10.61.0.2:80
const Msg kHttp10[] = {
    {true, B("GET /index.html HTTP/1.0\r\nHost: 10.61.0.2\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n")},
    {false, B("HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Sat, 28 Nov 2026 19:03:33 GMT\r\nContent-Type: text/ht"
         "ml\r\nContent-Length: 105\r\nLast-Modified: Sat, 28 Nov 2026 19:03:32 GMT\r\nConnection: close\r"
         "\nETag: \"6b0b2584-69\"\r\nAccept-Ranges: bytes\r\n\r\n<!doctype html>\n<html><head><title>flows"
         "cribe http test</title></head>\n<body><p>Hello.</p></body></html>\n")},
};
// kH2cOffer: 10.61.0.1:46610 -> 10.61.0.2:80
const Msg kH2cOffer[] = {
    {true, B("GET /app.js HTTP/1.1\r\nHost: 10.61.0.2\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nConnection:"
         " Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n")},
    {false, B("HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Sat, 28 Nov 2026 19:03:33 GMT\r\nContent-Type: applica"
         "tion/javascript\r\nContent-Length: 27\r\nLast-Modified: Sat, 28 Nov 2026 19:03:32 GMT\r\nConnect"
         "ion: keep-alive\r\nETag: \"6b0b2584-1b\"\r\nAccept-Ranges: bytes\r\n\r\nconsole.log(\"flowscribe"
         "\");\n")},
};
// kPipelined: 10.61.0.1:46626 -> 10.61.0.2:80
const Msg kPipelined[] = {
    {true, B("GET /style.css HTTP/1.1\r\nHost: 10.61.0.2\r\nUser-Agent: nc-pipeline\r\n\r\nGET /app.js HTTP/1."
         "1\r\nHost: 10.61.0.2\r\nUser-Agent: nc-pipeline\r\nConnection: close\r\n\r\n")},
    {false, B("HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Sat, 28 Nov 2026 19:03:33 GMT\r\nContent-Type: text/cs"
         "s\r\nContent-Length: 22\r\nLast-Modified: Sat, 28 Nov 2026 19:03:32 GMT\r\nConnection: keep-aliv"
         "e\r\nETag: \"6b0b2584-16\"\r\nAccept-Ranges: bytes\r\n\r\nbody { color: #333; }\n")},
    {false, B("HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Sat, 28 Nov 2026 19:03:33 GMT\r\nContent-Type: applica"
         "tion/javascript\r\nContent-Length: 27\r\nLast-Modified: Sat, 28 Nov 2026 19:03:32 GMT\r\nConnect"
         "ion: close\r\nETag: \"6b0b2584-1b\"\r\nAccept-Ranges: bytes\r\n\r\nconsole.log(\"flowscribe\");"
         "\n")},
};
// kHttp09: 10.61.0.1:50174 -> 10.61.0.2:80
const Msg kHttp09[] = {
    {true, B("GET /index.html\r\n")},
    {false, B("<!doctype html>\n<html><head><title>flowscribe http test</title></head>\n<body><p>Hello.</p></bo"
         "dy></html>\n")},
};
// kConnectRefused: 10.61.0.1:50186 -> 10.61.0.2:80
const Msg kConnectRefused[] = {
    {true, B("CONNECT 10.61.0.2:8080 HTTP/1.1\r\nHost: 10.61.0.2:8080\r\nUser-Agent: curl/7.88.1\r\nProxy-Conn"
         "ection: Keep-Alive\r\n\r\n")},
    {false, B("HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nDate: Sat, 28 Nov 2026 19:03:39 GMT\r\nContent-Type"
         ": text/html\r\nContent-Length: 150\r\nConnection: close\r\n\r\n<html>\r\n<head><title>400 Bad Re"
         "quest</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<hr><center>nginx"
         "</center>\r\n</body>\r\n</html>\r\n")},
};
// kConnect: 10.61.0.1:35230 -> 10.61.0.2:8080
const Msg kConnect[] = {
    {true, B("CONNECT 10.61.0.2:80 HTTP/1.1\r\nHost: 10.61.0.2:80\r\nUser-Agent: curl/7.88.1\r\nProxy-Connecti"
         "on: Keep-Alive\r\n\r\n")},
    {false, B("HTTP/1.1 200 Connection established\r\nServer: fs-aux/1.0 Python/3.11.2\r\nDate: Sat, 28 Nov 202"
         "6 19:03:39 GMT\r\n\r\n")},
    {true, B("GET /index.html HTTP/1.1\r\nHost: 10.61.0.2\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n")},
    {false, B("HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Sat, 28 Nov 2026 19:03:39 GMT\r\nContent-Type: text/ht"
         "ml\r\nContent-Length: 105\r\nLast-Modified: Sat, 28 Nov 2026 19:03:32 GMT\r\nConnection: keep-al"
         "ive\r\nETag: \"6b0b2584-69\"\r\nAccept-Ranges: bytes\r\n\r\n<!doctype html>\n<html><head><title>"
         "flowscribe http test</title></head>\n<body><p>Hello.</p></body></html>\n")},
};
// kWebSocket: 10.61.0.1:35234 -> 10.61.0.2:8080
const Msg kWebSocket[] = {
    {true, B("GET /chat HTTP/1.1\r\nHost: 10.61.0.2:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-W"
         "ebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://10.61.0.2"
         "\r\n\r\n")},
    {false, B("HTTP/1.1 101 Switching Protocols\r\nServer: fs-aux/1.0 Python/3.11.2\r\nDate: Sat, 28 Nov 2026 1"
         "9:03:39 GMT\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9k"
         "YGzzhZRbK+xOo=\r\n\r\n")},
};

struct Fixture {
  const char* name;
  std::vector<Msg> msgs;
  size_t records;  // records the whole flow gives
};
template <size_t N>
Fixture fx(const char* name, const Msg (&m)[N], size_t records) {
  return {name, std::vector<Msg>(m, m + N), records};
}
const std::vector<Fixture>& fixtures() {
  static const std::vector<Fixture> all = {
      fx("keep-alive", kKeepAlive, 3),       fx("404", kNotFound, 1),
      fx("HEAD", kHead, 1),                  fx("304", kConditional, 1),
      fx("gzip chunked", kGzipChunked, 1),   fx("POST form", kPostForm, 1),
      fx("POST multipart", kPostMultipart, 1), fx("POST chunked", kPostChunked, 1),
      fx("Content-Disposition", kDisposition, 2), fx("HTTP/1.0", kHttp10, 1),
      fx("h2c offer", kH2cOffer, 1),         fx("pipelined", kPipelined, 2),
      fx("HTTP/0.9", kHttp09, 1),            fx("CONNECT refused", kConnectRefused, 1),
      fx("CONNECT", kConnect, 1),            fx("WebSocket", kWebSocket, 1),
  };
  return all;
}

struct Run {
  std::vector<Fields> records;
  Progress last = Progress::kMore;
  int bad_commits = 0;
  size_t open = 0;
  uint16_t app_id = 0;
};

Dissector& http() {
  static auto d = flowscribe::dissect::make_http_dissector();
  return *d;
}

// Feeds `msgs` (at most `limit` bytes in all) and ends the flow. Each message goes whole, in
// `piece`-byte pieces, or (message `split_msg`) in two pieces cut at `split_at`. Every piece
// is an exactly-sized heap copy. Stops at the first result other than kMore, as the app
// layer does; end_flow is not called after kViolation.
Run run(const std::vector<Msg>& msgs, size_t limit = SIZE_MAX, size_t piece = 0,
        size_t split_msg = SIZE_MAX, size_t split_at = 0,
        const flowscribe::dissect::AppNamer* apps = nullptr) {
  FlowUnderTest f(http());
  f.apps = apps;
  Run r;
  for (size_t i = 0; i < msgs.size() && r.last == Progress::kMore && limit > 0; ++i) {
    std::string_view b = msgs[i].bytes.substr(0, limit);
    limit -= b.size();
    std::vector<size_t> cuts;
    if (piece) {
      for (size_t at = piece; at < b.size(); at += piece) cuts.push_back(at);
    } else if (i == split_msg && split_at > 0 && split_at < b.size()) {
      cuts.push_back(split_at);
    }
    cuts.push_back(b.size());
    size_t from = 0;
    for (size_t at : cuts) {
      std::unique_ptr<uint8_t[]> copy(new uint8_t[at - from + 1]);
      std::memcpy(copy.get(), b.data() + from, at - from);
      r.last = f.data(msgs[i].from_client, copy.get(), static_cast<uint32_t>(at - from));
      from = at;
      if (r.last != Progress::kMore) break;
    }
  }
  if (r.last != Progress::kViolation) f.end();
  for (auto& rec : f.out.records) {
    REQUIRE(rec->type == flowscribe::emit::RecordType::kHttp);
    REQUIRE(!RecordCollector::line(*rec).empty());
    r.records.push_back(RecordCollector::fields(*rec));
  }
  r.bad_commits = f.out.bad_commits;
  r.open = f.out.open_count();
  r.app_id = f.flow.app_id;
  return r;
}
Run run_text(std::initializer_list<Msg> msgs) { return run(std::vector<Msg>(msgs)); }

std::string get(const Fields& f, std::string_view name) {
  for (auto& [k, v] : f) {
    if (k == name) return v;
  }
  return "<absent>";
}

}  // namespace

TEST_CASE("http: real flows, one record per request/response pair") {
  for (const Fixture& fx : fixtures()) {
    INFO(fx.name);
    const Run r = run(fx.msgs);
    CHECK(r.records.size() == fx.records);
    CHECK(r.bad_commits == 0);
    CHECK(r.open == 0);
  }
  const Run ka = run(fixtures()[0].msgs);
  REQUIRE(ka.records.size() == 3);
  const Fields want = {
      {"http.method", "GET"},
      {"http.host", "10.61.0.2"},
      {"http.uri", "/index.html"},
      {"http.version", "1.1"},
      {"http.status", "200"},
      {"http.reason", "OK"},
      {"http.user_agent", "flowscribe-test/1.0 (curl)"},
      {"http.referer", "http://10.61.0.2/index.html"},
      {"http.content_type", "text/html"},
      {"http.req_body_len", "0"},
      {"http.resp_body_len", "105"},
      {"http.filename", "index.html"},
      {"http.x_forwarded_for", "203.0.113.7"},
      {"http.req_headers", "5"},
      {"http.resp_headers", "8"},
  };
  CHECK(ka.records[0] == want);
  CHECK(get(ka.records[1], "http.uri") == "/style.css");
  CHECK(get(ka.records[1], "http.resp_body_len") == "22");
  CHECK(get(ka.records[2], "http.content_type") == "application/javascript");
}

TEST_CASE("http: bodies are sized, not parsed") {
  const auto& all = fixtures();
  auto one = [&](const char* name) {
    for (const Fixture& f : all) {
      if (std::string_view(f.name) == name) return run(f.msgs).records.at(0);
    }
    FAIL(name);
    return Fields{};
  };
  const Fields gz = one("gzip chunked");
  CHECK(get(gz, "http.transfer_encoding") == "chunked");
  CHECK(get(gz, "http.content_encoding") == "gzip");
  CHECK(get(gz, "http.resp_body_len") == "377");  // chunk data, still compressed
  const Fields ch = one("POST chunked");
  CHECK(get(ch, "http.req_transfer_encoding") == "chunked");
  CHECK(get(ch, "http.req_content_type") == "application/json");
  CHECK(get(ch, "http.req_body_len") == "26");
  CHECK(get(ch, "http.status") == "201");
  const Fields mp = one("POST multipart");
  CHECK(get(mp, "http.req_body_len") == "206");
  CHECK(get(mp, "http.req_content_type").rfind("multipart/form-data; boundary=", 0) == 0);
  const Fields head = one("HEAD");
  CHECK(get(head, "http.method") == "HEAD");
  CHECK(get(head, "http.resp_body_len") == "0");  // Content-Length: 105, but HEAD
  const Fields nm = one("304");
  CHECK(get(nm, "http.status") == "304");
  CHECK(get(nm, "http.resp_body_len") == "0");
  const Fields v09 = one("HTTP/0.9");
  CHECK(get(v09, "http.version") == "0.9");
  CHECK(get(v09, "http.status") == "<absent>");
  CHECK(get(v09, "http.resp_body_len") == "105");
  CHECK(get(v09, "http.tags") == "http09");
}

TEST_CASE("http: file names, upgrades and tunnels") {
  const auto& all = fixtures();
  auto recs = [&](const char* name) {
    for (const Fixture& f : all) {
      if (std::string_view(f.name) == name) return run(f.msgs);
    }
    FAIL(name);
    return Run{};
  };
  const Run cd = recs("Content-Disposition");
  REQUIRE(cd.records.size() == 2);
  CHECK(get(cd.records[0], "http.filename") == "Q3 report.txt");
  CHECK(get(cd.records[1], "http.filename") == "r\xc3\xa9sum\xc3\xa9.txt");  // filename* wins
  const Run ws = recs("WebSocket");
  CHECK(ws.last == Progress::kDone);
  CHECK(get(ws.records[0], "http.status") == "101");
  CHECK(get(ws.records[0], "http.upgrade") == "websocket");
  CHECK(get(ws.records[0], "http.tunnel") == "true");
  CHECK(get(ws.records[0], "http.origin") == "http://10.61.0.2");
  const Run cn = recs("CONNECT");
  CHECK(cn.last == Progress::kDone);
  CHECK(get(cn.records[0], "http.method") == "CONNECT");
  CHECK(get(cn.records[0], "http.uri") == "10.61.0.2:80");
  CHECK(get(cn.records[0], "http.filename") == "<absent>");
  CHECK(get(cn.records[0], "http.tunnel") == "true");
  const Run no = recs("CONNECT refused");
  CHECK(get(no.records[0], "http.status") == "400");
  CHECK(get(no.records[0], "http.tunnel") == "<absent>");
  const Run h2 = recs("h2c offer");
  CHECK(h2.last == Progress::kMore);  // nginx declined: still HTTP/1.1
  CHECK(get(h2.records[0], "http.upgrade") == "h2c");
  CHECK(get(h2.records[0], "http.status") == "200");
  const Run pl = recs("pipelined");
  REQUIRE(pl.records.size() == 2);
  CHECK(get(pl.records[0], "http.uri") == "/style.css");
  CHECK(get(pl.records[0], "http.content_type") == "text/css");
  CHECK(get(pl.records[1], "http.uri") == "/app.js");
  CHECK(get(pl.records[1], "http.content_type") == "application/javascript");
}

TEST_CASE("http: every truncation of every fixture") {
  for (const Fixture& fx : fixtures()) {
    size_t total = 0;
    for (const Msg& m : fx.msgs) total += m.bytes.size();
    const Run whole = run(fx.msgs);
    for (size_t len = 0; len <= total; ++len) {
      INFO(fx.name << " cut at " << len << " of " << total);
      const Run r = run(fx.msgs, len);
      REQUIRE(r.bad_commits == 0);
      REQUIRE(r.open == 0);
      REQUIRE(r.last != Progress::kViolation);
      REQUIRE(r.records.size() <= whole.records.size() + 1);
      for (const Fields& f : r.records) {
        // A record says what it has: a request has its method; one without a status says
        // why (cut before the response, or HTTP/0.9).
        if (get(f, "http.status") == "<absent>") {
          const std::string tags = get(f, "http.tags");
          CHECK((tags.find("no_response") != std::string::npos || tags == "http09"));
        }
      }
      if (len == total) CHECK(r.records == whole.records);
    }
  }
}

TEST_CASE("http: the same records whatever the segmentation") {
  for (const Fixture& fx : fixtures()) {
    const Run whole = run(fx.msgs);
    INFO(fx.name);
    CHECK(run(fx.msgs, SIZE_MAX, 1).records == whole.records);
    CHECK(run(fx.msgs, SIZE_MAX, 7).records == whole.records);
    for (size_t i = 0; i < fx.msgs.size(); ++i) {
      for (size_t at = 1; at < fx.msgs[i].bytes.size(); ++at) {
        INFO("message " << i << " split at " << at);
        const Run r = run(fx.msgs, SIZE_MAX, 0, i, at);
        REQUIRE(r.records == whole.records);
        REQUIRE(r.last == whole.last);
      }
    }
  }
}

TEST_CASE("http: the Host header names the application") {
  auto db = flowscribe::dissect::AppDb::load({});
  REQUIRE(db.ok());
  const Run r = run({{true, "GET / HTTP/1.1\r\nHost: www.YouTube.com:8080\r\n\r\n"},
                     {false, "HTTP/1.1 204 No Content\r\n\r\n"}},
                    SIZE_MAX, 0, SIZE_MAX, 0, db->get());
  CHECK(r.app_id == (*db)->lookup("youtube.com"));
  CHECK(r.app_id != 0);
  CHECK(get(r.records.at(0), "http.host") == "www.YouTube.com:8080");
}

TEST_CASE("http: a request without a response is still written") {
  const Run r = run_text({{true, "POST /api HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123"}});
  REQUIRE(r.records.size() == 1);
  CHECK(get(r.records[0], "http.status") == "<absent>");
  CHECK(get(r.records[0], "http.req_body_len") == "4");
  CHECK(get(r.records[0], "http.tags") == "no_response,req_incomplete");
  const Run lone = run_text({{false, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"}});
  REQUIRE(lone.records.size() == 1);
  CHECK(get(lone.records[0], "http.method") == "<absent>");
  CHECK(get(lone.records[0], "http.tags") == "no_request");
}

TEST_CASE("http: interim responses, 204, until-close bodies") {
  const Run r = run_text({
      {true, "PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"},
      {false, "HTTP/1.1 100 Continue\r\n\r\n"},
      {true, "abc"},
      {false, "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"},
      {true, "GET /x HTTP/1.0\r\n\r\n"},
      {false, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"},
  });
  REQUIRE(r.records.size() == 2);
  CHECK(get(r.records[0], "http.status") == "204");
  CHECK(get(r.records[0], "http.info_status") == "100");
  CHECK(get(r.records[0], "http.req_body_len") == "3");
  CHECK(get(r.records[1], "http.resp_body_len") == "13");
  CHECK(get(r.records[1], "http.tags") == "<absent>");
}

TEST_CASE("http: pipelining deeper than the ring keeps responses in order") {
  std::string reqs, resps;
  for (int i = 0; i < 10; ++i) {
    reqs += "GET /" + std::to_string(i) + " HTTP/1.1\r\nHost: a\r\n\r\n";
    resps += "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(i + 1) + "\r\n\r\n" +
             std::string(static_cast<size_t>(i + 1), 'x');
  }
  const Run r = run(std::vector<Msg>{{true, reqs}, {false, resps}});
  REQUIRE(r.records.size() == 10);
  for (int i = 0; i < 10; ++i) {
    INFO(i);
    const Fields& f = r.records[static_cast<size_t>(i)];
    const bool evicted = i < 6;  // 4 held: requests 0-5 were written early
    CHECK(get(f, "http.uri") == "/" + std::to_string(i));
    if (evicted) {
      CHECK(get(f, "http.tags") == "no_response,pipeline_overflow");
    } else {
      CHECK(get(f, "http.resp_body_len") == std::to_string(i + 1));
    }
  }
}

TEST_CASE("http: a status line's name in another letter case") {
  // curl and browsers take "http/1.1 200 OK"; so do we, tagged (RFC 9112: "HTTP" is
  // case-sensitive). Zeek's http-lower-case.pcap has nginx behind such a rewrite.
  for (const std::string name : {"http", "Http", "hTTP"}) {
    INFO(name);
    const Run r = run(std::vector<Msg>{
        {true, "GET /x HTTP/1.1\r\nHost: h\r\n\r\n"},
        {false, name + "/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"}});
    REQUIRE(r.records.size() == 1);
    CHECK(get(r.records[0], "http.status") == "200");
    CHECK(get(r.records[0], "http.reason") == "OK");
    CHECK(get(r.records[0], "http.resp_body_len") == "3");
    CHECK(get(r.records[0], "http.tags") == "lowercase_version");
  }
  SECTION("after an HTTP/0.9 request, still a status line, not a bare body") {
    const Run r = run(std::vector<Msg>{{true, "GET /x\r\n"},
                                       {false, "http/1.0 404 Not Found\r\n\r\n"}});
    REQUIRE(r.records.size() == 1);
    CHECK(get(r.records[0], "http.status") == "404");
  }
  SECTION("not HTTP/ at all: still a bad response") {
    const Run r = run(std::vector<Msg>{{true, "GET /x HTTP/1.1\r\nHost: h\r\n\r\n"},
                                       {false, "hxxp/1.1 200 OK\r\n\r\n"}});
    REQUIRE(r.records.size() == 1);
    CHECK(get(r.records[0], "http.tags") == "no_response,bad_response");
  }
}

TEST_CASE("http: hostile lengths and framing") {
  SECTION("over-long request line: the URI is cut, the transaction kept") {
    const std::string uri = "/" + std::string(3000, 'a');
    const Run r = run(std::vector<Msg>{
        {true, "GET " + uri + " HTTP/1.1\r\nHost: h\r\n\r\n"},
        {false, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"}});
    REQUIRE(r.records.size() == 1);
    CHECK(get(r.records[0], "http.uri").size() == 760);
    CHECK(get(r.records[0], "http.host") == "h");
    CHECK(get(r.records[0], "http.tags") == "uri_truncated,field_truncated");
  }
  SECTION("a URI up to the cap is whole, one byte more is cut") {
    for (const size_t n : {size_t{700}, size_t{760}, size_t{761}}) {
      INFO(n);
      const std::string uri = "/" + std::string(n - 1, 'q');
      const Run r = run(std::vector<Msg>{
          {true, "GET " + uri + " HTTP/1.1\r\nHost: h\r\nUser-Agent: " + std::string(256, 'a') +
                     "\r\nReferer: " + std::string(256, 'r') + "\r\n\r\n"},
          {false, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"}});
      REQUIRE(r.records.size() == 1);
      if (n <= 760) {
        CHECK(get(r.records[0], "http.uri") == uri);
        CHECK(get(r.records[0], "http.tags") == "<absent>");
      } else {
        CHECK(get(r.records[0], "http.uri") == uri.substr(0, 760));
        CHECK(get(r.records[0], "http.tags") == "uri_truncated,field_truncated");
      }
      // The longest URI leaves the headers their caps: the arena holds both.
      CHECK(get(r.records[0], "http.user_agent").size() == 256);
      CHECK(get(r.records[0], "http.referer").size() == 256);
    }
  }
  SECTION("over-long header line: skipped and counted") {
    const Run r = run(std::vector<Msg>{
        {true, "GET / HTTP/1.1\r\nCookie: " + std::string(5000, 'c') + "\r\nHost: h\r\n\r\n"},
        {false, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"}});
    REQUIRE(r.records.size() == 1);
    CHECK(get(r.records[0], "http.host") == "h");
    CHECK(get(r.records[0], "http.req_headers") == "2");
    CHECK(get(r.records[0], "http.tags") == "long_header");
  }
  SECTION("values at their caps stay in the record") {
    std::string req = "GET /" + std::string(1000, 'u') + " HTTP/1.1\r\n";
    for (const char* h : {"Host", "User-Agent", "Referer", "Origin", "X-Forwarded-For",
                          "Content-Type", "Upgrade", "Transfer-Encoding"}) {
      req += std::string(h) + ": " + std::string(900, 'v') + "\r\n";
    }
    const Run r = run(std::vector<Msg>{{true, req + "\r\n"}});
    REQUIRE(r.records.size() == 1);
    size_t bytes = 0;
    for (auto& [k, v] : r.records[0]) bytes += v.size();
    CHECK(bytes <= 1400 + 200);
    CHECK(get(r.records[0], "http.tags").find("field_truncated") != std::string::npos);
  }
  SECTION("content lengths that are not numbers, or too big") {
    for (const char* cl : {"-1", "1e3", "99999999999999999999999", "", "12, 13"}) {
      INFO(cl);
      const Run r = run(std::vector<Msg>{
          {true, std::string("POST / HTTP/1.1\r\nContent-Length: ") + cl + "\r\n\r\nbody"},
          {false, std::string("HTTP/1.1 200 OK\r\nContent-Length: ") + cl + "\r\n\r\nbody"}});
      REQUIRE(r.records.size() == 1);
      CHECK(get(r.records[0], "http.tags").find("bad_length") != std::string::npos);
      CHECK(get(r.records[0], "http.resp_body_len") == "4");  // read until close
    }
  }
  SECTION("chunk sizes that overflow") {
    const Run r = run_text({{true, "GET / HTTP/1.1\r\n\r\n"},
                            {false, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    "10000000000000000\r\nxx"}});
    REQUIRE(r.records.size() == 1);
    CHECK(get(r.records[0], "http.tags") == "bad_chunk");
  }
  SECTION("Transfer-Encoding and Content-Length: TE wins") {
    const Run r = run_text({{true, "POST / HTTP/1.1\r\nContent-Length: 100\r\n"
                                   "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
                                   "GET /next HTTP/1.1\r\n\r\n"}});
    REQUIRE(r.records.size() == 2);
    CHECK(get(r.records[0], "http.req_body_len") == "3");
    CHECK(get(r.records[0], "http.tags") == "no_response,te_and_cl");
    CHECK(get(r.records[1], "http.uri") == "/next");
  }
  SECTION("obs-fold, bare LF, headers without a colon") {
    const Run r = run_text({{true, "GET / HTTP/1.1\nHost: a\n X-Folded: b\nnocolon\n\n"},
                            {false, "HTTP/1.1 200 OK\nContent-Length: 2\n\nok"}});
    REQUIRE(r.records.size() == 1);
    CHECK(get(r.records[0], "http.host") == "a");
    CHECK(get(r.records[0], "http.resp_body_len") == "2");
    CHECK(get(r.records[0], "http.tags") == "bad_header");
  }
  SECTION("10000 headers: bounded, counted") {
    std::string req = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < 10000; ++i) req += "X: y\r\n";
    const Run r = run(std::vector<Msg>{{true, req + "\r\n"}});
    REQUIRE(r.records.size() == 1);
    CHECK(get(r.records[0], "http.req_headers") == "10000");
  }
}

TEST_CASE("http: request lines real clients send") {
  const Run r = run_text({{true, "GET HTTP/1.1\r\nHost: a\r\n\r\nPOST /x\r\n"},
                          {false, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"}});
  REQUIRE(r.records.size() == 2);
  CHECK(get(r.records[0], "http.uri") == "");
  CHECK(get(r.records[0], "http.status") == "400");
  CHECK(get(r.records[1], "http.method") == "POST");
  CHECK(get(r.records[1], "http.version") == "0.9");
}

TEST_CASE("http: malformed request lines as servers read them (Zeek's methods.pcap)") {
  // A bare method, then headers: a request without target or version, answered 400.
  const std::string kBody(925, 'b');
  const Run bare = run_text({{true, "OPTIONS\r\nHost: www.google.com\r\n\r\n"},
                             {false, "HTTP/1.0 400 Bad Request\r\nContent-Length: 925\r\n\r\n" + kBody}});
  REQUIRE(bare.records.size() == 1);
  CHECK(get(bare.records[0], "http.method") == "OPTIONS");
  CHECK(get(bare.records[0], "http.host") == "www.google.com");
  CHECK(get(bare.records[0], "http.status") == "400");
  CHECK(get(bare.records[0], "http.resp_body_len") == "925");
  CHECK(get(bare.records[0], "http.tags") == "bad_request_line");
  // Only as a connection's first line, and only a method-shaped token.
  CHECK(run_text({{true, "GET / HTTP/1.1\r\n\r\nOPTIONS\r\n\r\n"}}).records.size() == 1);
  CHECK(run_text({{true, "options\r\nHost: a\r\n\r\n"}}).last == Progress::kViolation);
  // "HEAD/ HTTP/1.1": the server does not see a HEAD, and its 400 has a body.
  const Run glued = run_text({{true, "HEAD/ HTTP/1.1\r\nHost: a\r\n\r\n"},
                              {false, "HTTP/1.0 400 Bad Request\r\nContent-Length: 925\r\n\r\n" + kBody}});
  REQUIRE(glued.records.size() == 1);
  CHECK(get(glued.records[0], "http.method") == "HEAD");
  CHECK(get(glued.records[0], "http.resp_body_len") == "925");
  CHECK(get(glued.records[0], "http.tags") == "bad_request_line");
  // "HEAD /HTTP/1.1": a HEAD to the server, whose 400 has no body despite Content-Length.
  const Run spaced = run_text({{true, "HEAD /HTTP/1.1\r\nHost: a\r\n\r\n"},
                               {false, "HTTP/1.0 400 Bad Request\r\nContent-Length: 925\r\n\r\n"},
                               {true, "GET / HTTP/1.1\r\n\r\n"},
                               {false, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"}});
  REQUIRE(spaced.records.size() == 2);
  CHECK(get(spaced.records[0], "http.resp_body_len") == "0");
  CHECK(get(spaced.records[0], "http.tags") == "bad_request_line");
  CHECK(get(spaced.records[1], "http.status") == "200");
}

TEST_CASE("http: junk before the first request line (Zeek: bad_HTTP_request_with_version)") {
  // From Zeek's http-bad-request-with-version.pcap: four bytes and a space before the request.
  const Run r = run_text({{true, B("\xdd\x00\x00\x00 GET /txt HTTP/1.1\r\nHost: www.msftncsi.com\r\n\r\n")},
                          {false, "HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\nMicrosoft NCSI"}});
  REQUIRE(r.records.size() == 1);
  CHECK(get(r.records[0], "http.method") == "GET");
  CHECK(get(r.records[0], "http.uri") == "/txt");
  CHECK(get(r.records[0], "http.host") == "www.msftncsi.com");
  CHECK(get(r.records[0], "http.resp_body_len") == "14");
  CHECK(get(r.records[0], "http.tags") == "bad_request_line");
  // Only at the start of a connection, and only before a well-formed request line.
  const Run late = run_text({{true, "GET / HTTP/1.1\r\n\r\n"}, {true, B("\xdd\x00 GET /x HTTP/1.1\r\n\r\n")}});
  CHECK(late.records.size() == 1);
  const Run no = run_text({{true, B("\xdd\x00\x00\x00 GET /txt HTTP/2.0\r\n\r\n")}});
  CHECK(no.last == Progress::kViolation);
  const Run far = run_text({{true, std::string(70, 'x') + std::string(B("\x00 GET /txt HTTP/1.1\r\n\r\n"))}});
  CHECK(far.last == Progress::kViolation);
}

TEST_CASE("http: not HTTP where a message must start") {
  const Run v = run_text({{true, B("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")}});
  CHECK(v.last == Progress::kViolation);
  CHECK(v.records.empty());
  const Run g = run_text({{true, "GET / HTTP/1.1\r\n\r\n"}, {true, "\x16\x03\x01 binary\r\n"}});
  CHECK(g.last == Progress::kDone);
  REQUIRE(g.records.size() == 1);  // the request before it is still written
  const Run s = run_text({{true, "GET / HTTP/1.1\r\n\r\n"}, {false, "SSH-2.0-OpenSSH_9.2\r\n"}});
  CHECK(s.last == Progress::kDone);
  REQUIRE(s.records.size() == 1);
  CHECK(get(s.records[0], "http.tags") == "no_response,bad_response");
}

TEST_CASE("http: gaps") {
  SECTION("inside a body of known length: counted, parsing goes on") {
    FlowUnderTest f(http());
    f.data(true, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
    f.data(false, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789");
    CHECK(f.gap(false, 900) == Progress::kMore);
    f.data(false, std::string(90, 'z') + "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    f.end();
    REQUIRE(f.out.records.size() == 2);
    CHECK(RecordCollector::field(*f.out.records[0], "http.resp_body_len") == "1000");
    CHECK(RecordCollector::field(*f.out.records[0], "http.tags") == "resp_gap");
    CHECK(RecordCollector::field(*f.out.records[1], "http.status") == "404");
  }
  SECTION("inside headers: resync at the next request line") {
    FlowUnderTest f(http());
    f.data(true, "GET /a HTTP/1.1\r\nHost: a\r\nUser-");
    CHECK(f.gap(true, 0) == Progress::kMore);
    f.data(true, "Agent: lost\r\nbody bytes\r\nGET /b HTTP/1.1\r\nHost: b\r\n\r\n");
    f.data(false, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
    f.end();
    REQUIRE(f.out.records.size() == 2);
    CHECK(RecordCollector::field(*f.out.records[0], "http.tags") == "req_gap");
    CHECK(RecordCollector::field(*f.out.records[0], "http.user_agent") == "<absent>");
    CHECK(RecordCollector::field(*f.out.records[1], "http.host") == "b");
    CHECK(RecordCollector::field(*f.out.records[1], "http.status") == "201");
  }
  SECTION("no message start after a gap: give up") {
    FlowUnderTest f(http());
    f.data(true, "GET /a HTTP/1.1\r\nHost: a\r\n");
    CHECK(f.gap(true, 10) == Progress::kMore);
    Progress p = Progress::kMore;
    const std::string junk(4096, 'j');
    for (int i = 0; i < 100 && p == Progress::kMore; ++i) p = f.data(true, junk);
    CHECK(p == Progress::kDone);
    f.end();
    REQUIRE(f.out.records.size() == 1);
    CHECK(RecordCollector::field(*f.out.records[0], "http.tags") == "no_response,req_gap");
  }
}
