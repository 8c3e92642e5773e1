// emit/ outputs: --out parsing, UDP truncation, the per-output line queue, the on-disk spool,
// and an Output end to end over a local TCP listener (no collector needed).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "emit/format.h"
#include "emit/line_batch.h"
#include "emit/net_sink.h"
#include "emit/output.h"
#include "emit/spool.h"
#include "emit/transport.h"
#include "tests/tools/rfc5424_validate.h"

using namespace flowscribe;
using namespace flowscribe::emit;

namespace {

std::string line_n(int i, size_t pad = 0) {
  return "<134>1 2026-01-01T00:00:00.000000Z h flowscribe 1 session [flow@32473 sid=\"" +
         std::to_string(i) + "\" pad=\"" + std::string(pad, 'x') + "\"] msg " +
         std::to_string(i) + "\n";
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/fs-output-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    out.push_back(s.substr(start, nl + 1 - start));
    start = nl + 1;
  }
  return out;
}

}  // namespace

TEST_CASE("parse_output_spec", "[output]") {
  auto u = parse_output_spec("udp://collector");
  REQUIRE(u.ok());
  CHECK(u->scheme == Scheme::kUdp);
  CHECK(u->host == "collector");
  CHECK(u->port == 514);
  auto t = parse_output_spec("tcp://[2001:db8::1]:1601");
  REQUIRE(t.ok());
  CHECK(t->host == "2001:db8::1");
  CHECK(t->port == 1601);
  CHECK(parse_output_spec("tls://c.example")->port == 6514);
  CHECK(parse_output_spec("tcp://c")->port == 601);
  CHECK(parse_output_spec("file:/x")->path == "/x");
  CHECK(parse_output_spec("stdout")->scheme == Scheme::kStdout);
  for (const char* bad : {"", "udp://", "tcp://:601", "tcp://h:", "tcp://h:65536", "tcp://h:x",
                          "tcp://::1", "tcp://[::1", "tcp://[::1]x", "http://h", "file:",
                          "tcp://u@h:1", "tcp://h/path"}) {
    INFO(bad);
    CHECK_FALSE(parse_output_spec(bad).ok());
  }
}

TEST_CASE("truncate_record keeps whole fields and stays valid RFC 5424", "[output][udp]") {
  FormatConfig cfg;
  cfg.hostname = "sensor";
  cfg.procid = "1";
  std::string rec =
      "<134>1 2026-01-01T00:00:00.000000Z sensor flowscribe 1 session [flow@32473 sid=\"ab\" "
      "a=\"1\" b=\"has \\\" and \\] inside\"][http@32473 uri=\"" +
      std::string(600, 'u') + "\" status=\"200\"] tcp a -> b";
  char out[70000];
  for (size_t max = 480; max <= rec.size() + 10; max += 7) {
    const size_t n = truncate_record(rec, max, 32473, out);
    REQUIRE(n > 0);
    REQUIRE(n <= max);
    std::string t(out, n);
    std::string why;
    INFO(max << ": " << t);
    CHECK(rfc5424::validate_line(t, &why));
    CHECK(why == "");
    CHECK(t.find("[trunc@32473 len=\"" + std::to_string(rec.size()) + "\"]") != std::string::npos);
    CHECK(t.rfind(rec.substr(0, 60), 0) == 0);
  }
  // Exactly the flow element and the marker when the http element does not fit.
  const size_t n = truncate_record(rec, 480, 32473, out);
  CHECK(std::string(out, n).find("[flow@32473 sid=\"ab\" a=\"1\" b=\"has \\\" and \\] inside\"]") !=
        std::string::npos);
  // Not even a header: nothing.
  CHECK(truncate_record(rec, 20, 32473, out) == 0);
}

TEST_CASE("LineQueue: cursor, rewind, pop across chunks", "[output][queue]") {
  LineQueue q;
  std::vector<std::string> lines;
  for (int i = 0; i < 5000; ++i) {
    lines.push_back(line_n(i, static_cast<size_t>(i % 700)));
    q.push(lines.back());
  }
  REQUIRE(q.records() == 5000);
  std::vector<std::string_view> v;
  size_t seen = 0;
  while (q.unsent() != 0) {
    v.clear();
    q.peek_unsent(v, 333, 1 << 20);
    for (size_t k = 0; k < v.size(); ++k) REQUIRE(v[k] == lines[seen + k]);
    q.mark_sent(v.size() / 2 + 1 > v.size() ? v.size() : v.size() / 2 + 1);
    seen = q.sent();
  }
  q.pop(1000, [](uint32_t) {});
  q.rewind();
  CHECK(q.sent() == 0);
  v.clear();
  q.peek_unsent(v, 10, 1 << 20);
  CHECK(v[0] == lines[1000]);
  q.mark_sent(4000);
  size_t bytes = 0;
  q.pop(4000, [&](uint32_t len) { bytes += len; });
  CHECK(q.records() == 0);
  CHECK(q.bytes() == 0);
  q.push(lines[7]);
  v.clear();
  q.peek_unsent(v, 10, 1 << 20);
  REQUIRE(v.size() == 1);
  CHECK(v[0] == lines[7]);
  std::string all;
  q.copy_all(all);
  CHECK(all == lines[7]);
}

TEST_CASE("Spool: a write cut short by a full disk is not written twice", "[output][spool]") {
  TempDir dir;
  auto s = Spool::open((dir.path / "s").string(), 1 << 20);
  REQUIRE(s.ok());
  std::vector<std::string> lines;
  std::string all;
  for (int i = 0; i < 10; ++i) {
    lines.push_back(line_n(i, 100));
    all += lines.back();
    REQUIRE((*s)->append(lines.back()));  // buffered, not yet written
  }
  // A file-size limit stands in for a full disk: the first write stops part-way, the next
  // one fails (EFBIG instead of SIGXFSZ, which is ignored here).
  struct rlimit old{};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
  auto* old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit low = old;
  low.rlim_cur = all.size() / 2 + 7;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &low) == 0);
  (*s)->sync(0, true);
  const std::string error = (*s)->last_error();
  REQUIRE(setrlimit(RLIMIT_FSIZE, &old) == 0);
  std::signal(SIGXFSZ, old_handler);
  CHECK(error.find("cannot write spool") != std::string::npos);
  (*s)->sync(0, true);  // the disk has room again: the rest goes
  std::string got;
  CHECK((*s)->read(got, 1 << 20) == 10);
  CHECK(got == all);
}

TEST_CASE("Spool: order, cap, consume, restart, torn line, rewrite_front", "[output][spool]") {
  TempDir dir;
  const std::string sp = (dir.path / "s").string();
  std::vector<std::string> lines;
  for (int i = 0; i < 100; ++i) lines.push_back(line_n(i, 100));
  {
    auto s = Spool::open(sp, 1 << 20);
    REQUIRE(s.ok());
    CHECK_FALSE(Spool::open(sp, 1 << 20).ok());  // locked
    for (auto& l : lines) REQUIRE((*s)->append(l));
    CHECK((*s)->unread_records() == 100);
    std::string got;
    CHECK((*s)->read(got, 10 * lines[0].size()) == 10);
    CHECK(got == lines[0] + lines[1] + lines[2] + lines[3] + lines[4] + lines[5] + lines[6] +
                     lines[7] + lines[8] + lines[9]);
    (*s)->consume(5 * lines[0].size());  // 0-4 delivered; 5-9 read, not delivered
    (*s)->sync(0, true);
  }
  {
    // A restart replays from the first record not delivered.
    auto s = Spool::open(sp, 1 << 20);
    REQUIRE(s.ok());
    CHECK((*s)->unread_records() == 95);
    std::string got;
    CHECK((*s)->read(got, 1 << 20) == 95);
    CHECK(split_lines(got).front() == lines[5]);
    CHECK(split_lines(got).back() == lines[99]);
    // Exit with records 5..19 still queued (read, not delivered), collector away.
    std::string queued;
    for (int i = 5; i < 20; ++i) queued += lines[i];
    REQUIRE((*s)->rewrite_front(queued).ok());
  }
  {
    auto s = Spool::open(sp, 1 << 20);
    REQUIRE(s.ok());
    std::string got;
    (*s)->read(got, 1 << 20);
    auto v = split_lines(got);
    REQUIRE(v.size() == 15);  // 20..99 were read before the rewrite: not in the queue given
    CHECK(v.front() == lines[5]);
    // Cap: a 1 KiB spool takes a few lines, then refuses.
  }
  {
    TempDir d2;
    auto s = Spool::open((d2.path / "c").string(), 1024);
    REQUIRE(s.ok());
    int taken = 0;
    for (auto& l : lines) taken += (*s)->append(l) ? 1 : 0;
    CHECK(taken == static_cast<int>(1024 / lines[0].size()));
  }
  {
    // A torn last line (crash mid-write) is cut at start-up.
    TempDir d3;
    const std::string p = (d3.path / "t").string();
    {
      auto s = Spool::open(p, 1 << 20);
      REQUIRE(s.ok());
      (*s)->append(lines[0]);
      (*s)->append(lines[1]);
    }
    for (auto& e : std::filesystem::directory_iterator(p)) {
      if (e.path().extension() == ".log") {
        FILE* f = std::fopen(e.path().c_str(), "a");
        std::fputs("<134>1 torn", f);
        std::fclose(f);
      }
    }
    auto s = Spool::open(p, 1 << 20);
    REQUIRE(s.ok());
    std::string got;
    CHECK((*s)->read(got, 1 << 20) == 2);
    CHECK(got == lines[0] + lines[1]);
    (*s)->consume(got.size());
    std::string more;
    CHECK((*s)->read(more, 1 << 20) == 0);
  }
}

TEST_CASE("Output over TCP: framing, delivery confirmed by the peer's close", "[output][tcp]") {
  const int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len);
  REQUIRE(listen(ls, 4) == 0);
  const std::string spec = "tcp://127.0.0.1:" + std::to_string(ntohs(a.sin_port));

  NetConfig net;
  OutputConfig cfg;
  auto o = Output::open(spec, net, cfg);
  REQUIRE(o.ok());
  FormatConfig f;
  f.hostname = "h";
  f.procid = "1";
  (*o)->set_format(f);
  std::string expect;
  for (int i = 0; i < 50; ++i) {
    std::string l = line_n(i);
    (*o)->push(l, 1);
    expect += std::to_string(l.size() - 1) + " " + l.substr(0, l.size() - 1);
  }
  // The collector: read everything until our FIN, then close (as rsyslog does).
  std::string got;
  int c = -1;
  Nanos now = 1;
  (*o)->start_drain();
  bool done = false;
  for (int i = 0; i < 20000 && !done; ++i) {
    now += 1'000'000;
    done = (*o)->drained(now);
    if (c == -1) c = accept4(ls, nullptr, nullptr, SOCK_NONBLOCK);
    if (c >= 0) {
      char buf[65536];
      const ssize_t n = recv(c, buf, sizeof buf, 0);
      if (n > 0) got.append(buf, static_cast<size_t>(n));
      if (n == 0) {
        close(c);
        c = -2;  // closed; accept nothing more
      }
    }
    usleep(100);
  }
  (*o)->finish(now);
  CHECK(done);
  CHECK(got == expect);
  CHECK((*o)->counters().output_sent.get() == 50);
  CHECK((*o)->counters().output_dropped.get() == 0);
  close(ls);
}

TEST_CASE("format_drops_record is valid RFC 5424", "[output]") {
  FormatConfig f;
  f.hostname = "sensor-1";
  f.procid = "42";
  const std::string l =
      format_drops_record(f, "tcp://c\"x]:601", 17, 1'700'000'000'000'000'000ULL,
                          1'700'000'001'000'000'000ULL, 1'700'000'002'000'000'000ULL);
  std::string why;
  INFO(l);
  CHECK(rfc5424::validate_line(l.substr(0, l.size() - 1), &why));
  CHECK(why == "");
  CHECK(l.find(" drops [drops@32473 output=\"tcp://c\\\"x\\]:601\" dropped=\"17\"") !=
        std::string::npos);
  CHECK(l.rfind("<132>1 2023-11-14T22:13:22.000000Z sensor-1 flowscribe 42 drops ", 0) == 0);
}

// ---- file: outputs: rotation by size and time, --file-keep, --file-fsync ----

namespace {

std::string read_file(const std::filesystem::path& p) {
  std::string s;
  if (FILE* f = std::fopen(p.c_str(), "rb")) {
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
    std::fclose(f);
  }
  return s;
}

}  // namespace

TEST_CASE("FileSink rotates by size at line boundaries and keeps N files", "[output][file]") {
  TempDir d;
  const std::string path = (d.path / "records.log").string();
  FileConfig cfg;
  cfg.max_bytes = 1000;
  cfg.keep = 3;
  auto f = FileSink::open(path, cfg);
  REQUIRE(f.ok());
  std::string all;
  for (int i = 0; i < 200; ++i) {
    std::string batch;
    for (int k = 0; k < 3; ++k) batch += line_n(i * 3 + k, 10);
    all += batch;
    REQUIRE((*f)->write(batch).ok());
  }
  // 600 lines of ~100 bytes in 1000-byte files: many rotations, only .1 .. .3 kept.
  CHECK((*f)->stats().rotations > 50);
  CHECK(std::filesystem::exists(path + ".3"));
  CHECK_FALSE(std::filesystem::exists(path + ".4"));
  // Every file is whole lines and within the cap; together, newest last, they are the tail.
  std::string tail;
  for (const std::string& p : {path + ".3", path + ".2", path + ".1", path}) {
    const std::string s = read_file(p);
    CHECK(s.size() <= cfg.max_bytes);
    REQUIRE(!s.empty());
    CHECK(s.back() == '\n');
    tail += s;
  }
  CHECK(all.ends_with(tail));
}

TEST_CASE("FileSink: a line longer than --file-max-mb gets a file of its own", "[output][file]") {
  TempDir d;
  const std::string path = (d.path / "r.log").string();
  FileConfig cfg;
  cfg.max_bytes = 200;
  cfg.keep = 5;
  auto f = FileSink::open(path, cfg);
  REQUIRE(f.ok());
  const std::string small = line_n(1), big = line_n(2, 500), small2 = line_n(3);
  REQUIRE((*f)->write(small + big + small2).ok());
  CHECK(read_file(path + ".2") == small);
  CHECK(read_file(path + ".1") == big);
  CHECK(read_file(path) == small2);
}

TEST_CASE("FileSink rotates by time, keep 0 deletes, fsync policies", "[output][file]") {
  TempDir d;
  const std::string path = (d.path / "t.log").string();
  FileConfig cfg;
  cfg.rotate_s = 1;
  cfg.keep = 0;
  auto p = parse_fsync_policy("batch", cfg);
  REQUIRE(p.ok());
  auto f = FileSink::open(path, *p);
  REQUIRE(f.ok());
  REQUIRE((*f)->write(line_n(1)).ok());
  CHECK((*f)->stats().fsyncs == 1);
  usleep(1'100'000);
  REQUIRE((*f)->write(line_n(2)).ok());
  CHECK((*f)->stats().rotations == 1);
  CHECK(read_file(path) == line_n(2));
  CHECK_FALSE(std::filesystem::exists(path + ".1"));  // keep 0

  CHECK(parse_fsync_policy("never", {})->fsync == FsyncPolicy::kNever);
  auto sec = parse_fsync_policy("5", {});
  REQUIRE(sec.ok());
  CHECK(sec->fsync == FsyncPolicy::kInterval);
  CHECK(sec->fsync_s == 5);
  CHECK_FALSE(parse_fsync_policy("0", {}).ok());
  CHECK_FALSE(parse_fsync_policy("always", {}).ok());
}

TEST_CASE("file: output counts rotations; SIGHUP reopen still works", "[output][file]") {
  TempDir d;
  const std::string path = (d.path / "o.log").string();
  NetConfig net;
  net.file.max_bytes = 500;
  net.file.keep = 2;
  auto o = Output::open("file:" + path, net, OutputConfig{});
  REQUIRE(o.ok());
  Nanos now = 1;
  for (int i = 0; i < 50; ++i) (*o)->push(line_n(i, 20), now);
  (*o)->poll(now + kNsPerSec);  // sends
  (*o)->poll(now + kNsPerSec);  // collects what was written
  CHECK((*o)->counters().output_sent.get() == 50);
  CHECK((*o)->counters().output_file_rotations.get() > 3);
  // logrotate: move the file away, reopen: the new file starts empty and below the cap.
  std::filesystem::rename(path, path + ".moved");
  (*o)->reopen();
  (*o)->push(line_n(99), now);
  (*o)->poll(now + 2 * kNsPerSec);
  CHECK(read_file(path) == line_n(99));
}

// ---- fail-over groups and records without structured data ----

TEST_CASE("parse_output_spec: fail-over groups", "[output][failover]") {
  auto g = parse_output_spec("failover:tcp://a:601,tls://[2001:db8::1]:6514,tcp://c");
  REQUIRE(g.ok());
  CHECK(g->scheme == Scheme::kFailover);
  REQUIRE(g->members.size() == 3);
  CHECK(g->members[0].text == "tcp://a:601");
  CHECK(g->members[1].scheme == Scheme::kTls);
  CHECK(g->members[1].host == "2001:db8::1");
  CHECK(g->members[2].port == 601);
  for (const char* bad : {"failover:", "failover:tcp://a:601", "failover:tcp://a,udp://b",
                          "failover:tcp://a,file:/x", "failover:tcp://a,tcp://a",
                          "failover:tcp://a,,tcp://b", "failover:tcp://a,failover:tcp://b"}) {
    INFO(bad);
    CHECK_FALSE(parse_output_spec(bad).ok());
  }
}

TEST_CASE("truncate_record: records without structured data (JSON, CEF, LEEF)", "[output][udp]") {
  const std::string hdr = "<134>1 2026-01-01T00:00:00.000000Z sensor flowscribe 1 session ";
  std::string msg = "{\"uri\":\"";
  for (int i = 0; i < 300; ++i) msg += "\xc3\xa9\\\\";  // é and an escaped backslash
  msg += "\"}";
  const std::string rec = hdr + "- " + msg;
  char out[4096];
  for (size_t max = 480; max < rec.size(); max += 3) {
    const size_t n = truncate_record(rec, max, 32473, out);
    REQUIRE(n > 0);
    REQUIRE(n <= max);
    const std::string t(out, n);
    INFO(max << ": " << t);
    const std::string marker = "[trunc@32473 len=\"" + std::to_string(rec.size()) + "\"] ";
    REQUIRE(t.rfind(hdr + marker, 0) == 0);
    const std::string kept = t.substr(hdr.size() + marker.size());
    CHECK(msg.rfind(kept, 0) == 0);                       // a prefix of MSG
    CHECK((static_cast<unsigned char>(kept.back()) & 0xc0) != 0xc0);  // not a cut character
    if ((static_cast<unsigned char>(kept.back()) & 0x80) == 0) {
      size_t bs = 0;
      while (bs < kept.size() && kept[kept.size() - 1 - bs] == '\\') ++bs;
      CHECK(bs % 2 == 0);  // no escape cut in half
    }
    std::string why;
    CHECK(rfc5424::validate_line(t, &why));
    CHECK(why == "");
  }
}

namespace {

struct Listener {
  int fd = -1;
  uint16_t port = 0;
  int conn = -1;
  std::string got;
  explicit Listener(uint16_t want = 0) {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(want);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    REQUIRE(listen(fd, 4) == 0);
  }
  ~Listener() {
    if (conn >= 0) close(conn);
    close(fd);
  }
  void pump() {
    if (conn < 0) conn = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK);
    if (conn < 0) return;
    char buf[65536];
    for (;;) {
      const ssize_t n = recv(conn, buf, sizeof buf, 0);
      if (n > 0) {
        got.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) {  // our FIN: close as a collector does, ready for the next connection
        close(conn);
        conn = -1;
      }
      return;
    }
  }
  // Octet-counted frames received.
  std::vector<std::string> frames() const {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < got.size()) {
      const size_t sp = got.find(' ', i);
      const size_t len = std::stoul(got.substr(i, sp - i));
      out.push_back(got.substr(sp + 1, len));
      i = sp + 1 + len;
    }
    return out;
  }
};

}  // namespace

TEST_CASE("fail-over: backup while the primary is down, primary taken back when up",
          "[output][failover]") {
  uint16_t primary_port;
  {
    Listener probe;  // a free port, closed again: nothing listens there for now
    primary_port = probe.port;
  }
  Listener backup;
  const std::string spec = "failover:tcp://127.0.0.1:" + std::to_string(primary_port) +
                           ",tcp://127.0.0.1:" + std::to_string(backup.port);
  NetConfig net;
  OutputConfig cfg;
  auto o = Output::open(spec, net, cfg);
  REQUIRE(o.ok());
  Output& out = **o;
  CHECK(out.syslog_framed());
  const auto* group = dynamic_cast<const FailoverTransport*>(&out.transport());
  REQUIRE(group != nullptr);
  Nanos now = 1;
  auto run = [&](auto&& until, Listener* primary) {
    for (int i = 0; i < 20000 && !until(); ++i) {
      now += 10'000'000;  // 10 ms of emitter time per turn: backoff and ACK grace go by
      out.poll(now);
      backup.pump();
      if (primary) primary->pump();
      usleep(50);
    }
  };
  for (int i = 0; i < 20; ++i) out.push(line_n(i), now);
  run([&] { return out.counters().output_sent.get() == 20; }, nullptr);
  CHECK(out.counters().output_sent.get() == 20);
  CHECK(backup.frames().size() == 20);
  CHECK(group->active() == 1);
  CHECK(group->delivered(1) == 20);
  CHECK(out.health_text().find("(active)") != std::string::npos);
  CHECK(out.counters().output_connect_failures.get() >= 1);

  // The primary comes back: it is retried on its backoff and takes the records back once the
  // backup has confirmed what it was given.
  Listener primary(primary_port);
  for (int i = 20; i < 40; ++i) {
    out.push(line_n(i), now);
    run([&] { return false; }, &primary);  // one turn
  }
  run([&] { return group->active() == 0 && out.counters().output_sent.get() == 40; }, &primary);
  CHECK(group->active() == 0);
  CHECK(out.counters().output_sent.get() == 40);
  for (int i = 40; i < 50; ++i) out.push(line_n(i), now);
  run([&] { return out.counters().output_sent.get() == 50; }, &primary);
  out.start_drain();
  run([&] { return out.drained(now); }, &primary);
  out.finish(now);
  // Every record exactly once over both, in order on each, the last ones on the primary.
  std::vector<std::string> all = backup.frames();
  const std::vector<std::string> p = primary.frames();
  CHECK(!p.empty());
  CHECK(p.back() == line_n(49).substr(0, line_n(49).size() - 1));
  all.insert(all.end(), p.begin(), p.end());
  REQUIRE(all.size() == 50);
  for (int i = 0; i < 50; ++i) CHECK(all[i] == line_n(i).substr(0, line_n(i).size() - 1));
  CHECK(out.counters().output_failovers.get() >= 2);
  CHECK(group->delivered(0) + group->delivered(1) == 50);
  CHECK(out.counters().output_dropped.get() == 0);
}

TEST_CASE("TCP: past half the queue, ACKed records leave before their grace ends",
          "[output][tcp]") {
  // A collector that keeps up, records faster than queue / (grace x line): 4,000 lines of
  // ~1 KiB through a 1 MiB queue within 0.4 s of (simulated) time, so no record ever waits
  // out its one-second grace. Without the cut, the queue fills with ACKed records and the
  // rest are dropped; with it, every record arrives, none is dropped, and the cut is counted.
  Listener col;
  NetConfig net;
  OutputConfig cfg;
  cfg.queue_bytes = 1 << 20;
  auto o = Output::open("tcp://127.0.0.1:" + std::to_string(col.port), net, cfg);
  REQUIRE(o.ok());
  Output& out = **o;
  Nanos now = 1;
  constexpr int kLines = 4000;
  for (int i = 0; i < kLines; ++i) {
    out.push(line_n(i, 1000), now);
    if (i % 16 == 0) {
      out.poll(now);
      col.pump();
      now += 100'000;  // 0.1 ms a turn: 0.025 s for all of them
      // Let the loopback TCP ACK what was written before the next turn reads SIOCOUTQ.
      if (i % 256 == 0) usleep(1000);
    }
  }
  out.start_drain();
  bool done = false;
  for (int i = 0; i < 20000 && !done; ++i) {
    now += 1'000'000;
    done = out.drained(now);
    col.pump();
    usleep(100);
  }
  out.finish(now);
  CHECK(done);
  CHECK(out.counters().output_dropped.get() == 0);
  CHECK(out.counters().output_sent.get() == kLines);
  CHECK(out.counters().output_grace_cut.get() > 0);
  const std::vector<std::string> frames = col.frames();
  REQUIRE(frames.size() == kLines);
  for (int i = 0; i < kLines; i += 397) CHECK(frames[i] + "\n" == line_n(i, 1000));
}

TEST_CASE("LineBatch: lines of every size back to back, in order, with their body offsets",
          "[output][format_cores]") {
  // What a format core writes and the emitter reads (emit/line_batch.h): lines formatted in
  // place, each with its length and body offset, padded to 8; a batch takes lines while one
  // more of the largest size fits.
  auto batch = std::make_unique<LineBatch>();
  std::vector<std::pair<std::string, uint32_t>> want;
  std::mt19937 rng(7);
  size_t lines = 0;
  while (batch->has_room()) {
    const size_t len = lines % 50 == 0 ? kFormatBufferBytes : 1 + rng() % 700;
    std::string line(len - 1, static_cast<char>('a' + lines % 26));
    line.push_back('\n');
    const uint32_t body = static_cast<uint32_t>(rng() % len);
    std::memcpy(batch->next_line(), line.data(), len);
    batch->commit(static_cast<uint32_t>(len), body);
    want.emplace_back(std::move(line), body);
    ++lines;
    REQUIRE(batch->used <= LineBatch::kBytes);
    REQUIRE(batch->used % 8 == 0);
  }
  // Full: less than a largest line's room left, and more than that many bytes used.
  CHECK(LineBatch::kBytes - batch->used < kFormatBufferBytes + 8);
  size_t i = 0;
  batch->for_each([&](std::string_view line, uint32_t body_off) {
    REQUIRE(i < want.size());
    CHECK(line == want[i].first);
    CHECK(body_off == want[i].second);
    ++i;
  });
  CHECK(i == want.size());
  CHECK(batch->lines == want.size());
  batch->clear();
  CHECK(batch->has_room());
  size_t n = 0;
  batch->for_each([&](std::string_view, uint32_t) { ++n; });
  CHECK(n == 0);
}
