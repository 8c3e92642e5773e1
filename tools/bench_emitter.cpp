// Emitter micro-benchmark: pre-built session records (IPv4/IPv6, TCP/UDP, some with a VLAN,
// a third with http@PEN fields) through the emitter core's real path: the formatter
// (format_to), then Output::push (the per-output memory queue) and Output::poll once per
// 64-record burst (batching by size/deadline, the transport's write/writev), as
// Emitter::run does. No DPDK rings: the records are already in memory. One core.
//
//   bench_emitter [--records N] [--runs R] [--sinks format,null,file,tcp,lines]
//                 [--format FMT] [--file PATH] [--queue-mb MB]
//
// Sinks: "format" formats only (the baseline); "null" is a file: output on /dev/null (the
// whole path, write(2) included, with nothing behind it); "file" a real file (page cache,
// no fsync); "tcp" a tcp:// output to a reader thread on 127.0.0.1 that reads and discards
// (RFC 6587 octet counting), timed until the last record is acknowledged by its TCP. When an
// output's queue passes half of --queue-mb the loop waits for it (polls) instead of dropping:
// TCP keeps records kAckGrace (1 s) after their ACK, so its rate is capped near
// queue / (1 s x line size) (~117K records/s at the default 64 MB).
// "lines" is the emitter core's share with --format-cores: the records are formatted into
// line batches first (a format core's work, not timed), then the timed loop copies every
// line of every batch into a file:/dev/null output and polls it once per batch, as
// Emitter::run does with batches.
// Prints records/s and TSC cycles/record, median of R runs. docs/performance.md "Emitter".
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <x86intrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/app_proto.h"
#include "emit/format.h"
#include "emit/line_batch.h"
#include "emit/output.h"
#include "emit/record.h"
#include "emit/schema.h"

namespace {

using namespace flowscribe;
using namespace flowscribe::emit;

constexpr size_t kPool = 4096;   // distinct records, cycled
constexpr size_t kBurst = 64;    // records per emitter loop turn (Emitter's kDequeueBurst)

uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

Nanos mono_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<Nanos>(ts.tv_sec) * kNsPerSec + static_cast<Nanos>(ts.tv_nsec);
}

// A realistic mix: 70% IPv4, 75% TCP, 10% with a VLAN, a third HTTP with host/uri/status,
// the rest TLS, DNS or unknown; 5% interim (session-update) records.
std::vector<Record> make_records() {
  std::vector<Record> recs(kPool);
  uint64_t s = 42;
  const Nanos base = 1'795'000'000ULL * kNsPerSec;  // 2026-11-18
  static const char* kHosts[] = {"www.example.com", "api.internal.example.org",
                                 "cdn.example.net", "login.example.com"};
  static const char* kUris[] = {"/", "/index.html", "/api/v2/items?id=12345&sort=desc",
                                "/static/js/app.3f2a9c.js", "/login?next=%2Fhome"};
  for (size_t i = 0; i < kPool; ++i) {
    Record& r = recs[i];
    std::memset(&r, 0, sizeof r);
    const uint64_t x = splitmix(s);
    r.type = x % 20 == 0 ? RecordType::kSessionUpdate : RecordType::kSession;
    r.ip_version = (x >> 8) % 10 < 7 ? 4 : 6;
    const bool tcp = (x >> 16) % 4 != 0;
    r.transport = tcp ? kIpProtoTcp : kIpProtoUdp;
    r.end_reason = r.type == RecordType::kSession ? static_cast<uint8_t>(1 + (x >> 20) % 4) : 0;
    r.worker = static_cast<uint8_t>(i % 4);
    r.direction_basis = tcp ? 0 : 2;
    r.vlan = (x >> 24) % 10 == 0 ? static_cast<uint16_t>(100 + (x >> 32) % 3900) : 0;
    r.client_port = static_cast<uint16_t>(32768 + (x >> 40) % 28000);
    const uint64_t y = splitmix(s);
    const bool http = tcp && y % 3 == 0;
    r.server_port = http ? 80 : tcp ? 443 : 53;
    r.app_proto = http ? 1 : tcp ? (y % 5 == 0 ? 0 : 2) : 3;
    if (tcp) {
      r.tcp_flags[0] = kTcpSyn | kTcpAck | kTcpPsh | kTcpFin;
      r.tcp_flags[1] = kTcpSyn | kTcpAck | kTcpPsh | kTcpFin;
    }
    r.sid = (uint64_t{r.worker} << 56) | i;
    r.start_ns = base + i * 1'000'000 + y % 1000;
    r.end_ns = r.start_ns + (y >> 10) % (30 * kNsPerSec);
    r.ts_ns = r.end_ns;
    r.pkts[0] = 3 + (y >> 20) % 500;
    r.pkts[1] = 2 + (y >> 30) % 800;
    r.bytes[0] = r.pkts[0] * (60 + (y >> 40) % 900);
    r.bytes[1] = r.pkts[1] * (60 + (y >> 50) % 1400);
    const uint64_t a = splitmix(s), b = splitmix(s);
    if (r.ip_version == 4) {
      r.client.b[0] = 10, r.client.b[1] = a & 0xff, r.client.b[2] = (a >> 8) & 0xff;
      r.client.b[3] = (a >> 16) & 0xff;
      r.server.b[0] = 192, r.server.b[1] = 0, r.server.b[2] = 2, r.server.b[3] = b & 0xff;
    } else {
      static const uint8_t kPrefix[] = {0x20, 0x01, 0x0d, 0xb8};
      std::memcpy(r.client.b, kPrefix, 4);
      std::memcpy(r.server.b, kPrefix, 4);
      std::memcpy(r.client.b + 8, &a, 8);
      r.server.b[15] = static_cast<uint8_t>(b);
    }
    r.locality = static_cast<uint8_t>(3);
    if (http) {
      const char* h = kHosts[a % 4];
      const char* u = kUris[b % 5];
      r.add_field(field_id(Field::kHttpHost), h, std::strlen(h));
      r.add_field(field_id(Field::kHttpUri), u, std::strlen(u));
      const uint16_t status = b % 7 == 0 ? 404 : 200;
      r.add_field(field_id(Field::kHttpStatus), &status, sizeof status);
    }
  }
  return recs;
}

// Reads and discards until the peer closes; `bytes` counts what arrived.
struct Collector {
  int listen_fd = -1;
  uint16_t port = 0;
  std::atomic<uint64_t> bytes{0};
  std::thread th;

  bool start() {
    listen_fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return false;
    socklen_t len = sizeof a;
    ::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    if (::listen(listen_fd, 4) != 0) return false;
    th = std::thread([this] {
      const int fd = ::accept(listen_fd, nullptr, nullptr);
      if (fd < 0) return;
      std::vector<char> buf(1 << 20);
      for (;;) {
        const ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n <= 0) break;
        bytes.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
      }
      ::close(fd);
    });
    return true;
  }
  void stop() {
    if (th.joinable()) th.join();
    if (listen_fd >= 0) ::close(listen_fd);
  }
};

struct RunResult {
  double seconds;
  uint64_t cycles;
  uint64_t bytes;
  uint64_t delivered;
};

// The end of a timed run: the exit path (Emitter::drain_outputs), where everything delivered
// (TCP: ACKed) counts, then the clocks.
RunResult finish_run(Output* out, std::chrono::steady_clock::time_point t0, uint64_t c0,
                     uint64_t bytes, size_t n) {
  if (out) {
    out->start_drain();
    while (!out->drained(mono_now())) usleep(100);
    out->finish(mono_now());
  }
  const uint64_t c1 = __rdtsc();
  const auto t1 = std::chrono::steady_clock::now();
  return {std::chrono::duration<double>(t1 - t0).count(), c1 - c0, bytes,
          out ? out->counters().output_sent.get() : n};
}

RunResult run_once(Formatter& f, const std::vector<Record>& recs, size_t n, Output* out,
                   uint64_t high_water) {
  std::unique_ptr<char[]> line(new char[kFormatBufferBytes]);
  uint64_t bytes = 0;
  const auto t0 = std::chrono::steady_clock::now();
  const uint64_t c0 = __rdtsc();
  size_t k = 0;
  for (size_t done = 0; done < n;) {
    const Nanos now = mono_now();  // once per loop turn, as Emitter::run
    const size_t burst = std::min(kBurst, n - done);
    for (size_t j = 0; j < burst; ++j) {
      const size_t len = f.format_to(recs[k], line.get());
      if (++k == kPool) k = 0;
      bytes += len;
      if (out) out->push(std::string_view(line.get(), len), now);
    }
    if (out) {
      out->poll(now);
      // A sink slower than the formatter (TCP) would fill the queue and drop: wait for it
      // instead, so the figure is the rate the sink sustains without loss.
      while (out->counters().output_queue_bytes.get() > high_water) out->poll(mono_now());
    }
    done += burst;
  }
  return finish_run(out, t0, c0, bytes, n);
}

// The emitter's side with format cores: batches formatted beforehand (untimed), then every
// line pushed to `out` and the output polled once per batch.
RunResult run_lines(Formatter& f, const std::vector<Record>& recs, size_t n, Output* out) {
  // Enough batches for the pool of distinct records, cycled like the records are.
  std::vector<std::unique_ptr<LineBatch>> batches;
  std::vector<size_t> lines_in;
  size_t total_lines = 0;
  batches.push_back(std::make_unique<LineBatch>());
  for (size_t k = 0; k < kPool; ++k) {
    if (!batches.back()->has_room()) batches.push_back(std::make_unique<LineBatch>());
    LineBatch& b = *batches.back();
    const size_t len = f.format_to(recs[k], b.next_line());
    b.commit(static_cast<uint32_t>(len), static_cast<uint32_t>(f.body_offset()));
    ++total_lines;
  }
  (void)total_lines;
  uint64_t bytes = 0;
  const auto t0 = std::chrono::steady_clock::now();
  const uint64_t c0 = __rdtsc();
  size_t done = 0;
  for (size_t bi = 0; done < n; bi = (bi + 1) % batches.size()) {
    const Nanos now = mono_now();
    batches[bi]->for_each([&](std::string_view line, uint32_t body_off) {
      if (done >= n) return;
      out->push(line.substr(body_off), now);
      bytes += line.size();
      ++done;
    });
    out->poll(now);
  }
  return finish_run(out, t0, c0, bytes, n);
}

double tsc_hz() {
  const auto t0 = std::chrono::steady_clock::now();
  const uint64_t c0 = __rdtsc();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const uint64_t c1 = __rdtsc();
  const auto t1 = std::chrono::steady_clock::now();
  return static_cast<double>(c1 - c0) / std::chrono::duration<double>(t1 - t0).count();
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t c = s.find(',', start);
    if (c == std::string::npos) c = s.size();
    if (c > start) out.push_back(s.substr(start, c - start));
    start = c + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  size_t n = 2'000'000;
  int runs = 5;
  std::string sinks = "format,null,file,tcp";
  std::string path = "/tmp/bench_emitter.log";
  std::string format = "rfc5424";
  OutputConfig ocfg;  // --queue-mb: as --out-queue-mb (default 64)
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (a == "--records" && v) {
      n = std::strtoull(v, nullptr, 10), ++i;
    } else if (a == "--runs" && v) {
      runs = std::atoi(v), ++i;
    } else if (a == "--sinks" && v) {
      sinks = v, ++i;
    } else if (a == "--file" && v) {
      path = v, ++i;
    } else if (a == "--queue-mb" && v) {
      ocfg.queue_bytes = std::strtoull(v, nullptr, 10) << 20, ++i;
    } else if (a == "--format" && v) {
      format = v, ++i;
    } else {
      std::fprintf(stderr,
                   "usage: bench_emitter [--records N] [--runs R] [--sinks format,null,file,tcp,lines] "
                   "[--format FMT] [--file PATH] [--queue-mb MB]\n");
      return 2;
    }
  }
  if (runs < 1) runs = 1;
  FormatConfig fcfg;
  fcfg.hostname = "sensor-01";
  fcfg.run_id = 0x1234abcd;
  if (absl::Status s = validate(fcfg); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 1;
  }
  absl::StatusOr<LineFormat> lf = parse_line_format(format);
  if (!lf.ok()) {
    std::fprintf(stderr, "--format: %s\n", std::string(lf.status().message()).c_str());
    return 2;
  }
  fcfg.line_format = *lf;
  const std::vector<Record> recs = make_records();
  const double hz = tsc_hz();
  std::printf("bench_emitter: %zu records per run, %d runs (median), %zu distinct records, "
              "format %s, TSC %.2f GHz\n",
              n, runs, kPool, format.c_str(), hz / 1e9);
  std::printf("%-8s %14s %14s %12s %12s\n", "sink", "records/s", "cycles/record", "MB/s",
              "avg line B");
  for (const std::string& sink : split(sinks)) {
    std::vector<RunResult> rs;
    for (int r = 0; r < runs; ++r) {
      std::unique_ptr<Formatter> f = make_formatter(fcfg);
      std::unique_ptr<Output> out;
      Collector col;
      std::string spec;
      if (sink == "null" || sink == "lines") {
        spec = "file:/dev/null";
      } else if (sink == "file") {
        ::unlink(path.c_str());
        spec = "file:" + path;
      } else if (sink == "tcp") {
        if (!col.start()) {
          std::fprintf(stderr, "cannot listen on 127.0.0.1\n");
          return 1;
        }
        spec = "tcp://127.0.0.1:" + std::to_string(col.port);
      } else if (sink != "format") {
        std::fprintf(stderr, "unknown sink '%s'\n", sink.c_str());
        return 2;
      }
      if (!spec.empty()) {
        absl::StatusOr<std::unique_ptr<Output>> o = Output::open(spec, NetConfig{}, ocfg);
        if (!o.ok()) {
          std::fprintf(stderr, "%s: %s\n", spec.c_str(), std::string(o.status().message()).c_str());
          return 1;
        }
        out = *std::move(o);
        out->set_format(fcfg);
      }
      RunResult res = sink == "lines" ? run_lines(*f, recs, n, out.get())
                                      : run_once(*f, recs, n, out.get(), ocfg.queue_bytes / 2);
      out.reset();  // closes the connection: the collector thread ends
      col.stop();
      if (res.delivered != n) {
        std::fprintf(stderr, "%s: only %lu of %zu records delivered\n", sink.c_str(),
                     static_cast<unsigned long>(res.delivered), n);
        return 1;
      }
      rs.push_back(res);
    }
    std::sort(rs.begin(), rs.end(),
              [](const RunResult& a, const RunResult& b) { return a.seconds < b.seconds; });
    const RunResult& m = rs[rs.size() / 2];
    std::printf("%-8s %14.0f %14.0f %12.0f %12.0f\n", sink.c_str(), n / m.seconds,
                static_cast<double>(m.cycles) / n, m.bytes / m.seconds / 1e6,
                static_cast<double>(m.bytes) / n);
  }
  if (sinks.find("file") != std::string::npos) ::unlink(path.c_str());
  return 0;
}
