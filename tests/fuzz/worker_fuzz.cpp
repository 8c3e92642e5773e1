// The whole worker on hostile traffic: decode, IP reassembly, the flow table with its timers
// and evictions, TCP reassembly, the classifier, every dissector and the record hand-off, on
// a sequence of frames the fuzzer writes. Per input a fresh worker with a 48-flow table and
// short timeouts (so flows expire, are evicted and report interim records) reads them in
// bursts, then flushes; every record is formatted, as RFC 5424 and as JSON, and each line
// must be one line: no control byte but its final newline, no DEL, valid UTF-8 without C1
// controls or U+2028/2029 (docs/records.md: no byte from the wire can break a line). The
// flow table's structures must be consistent after every burst.
//
// Input: frames, each [u16 little-endian length][u8 time step in 1/8 s][length bytes of an
// Ethernet frame]; a length past the end takes what is left; a time step of 0xff also ends
// the burst. Seeds (corpus/worker) are test captures in that form, written by
// tests/fuzz/make_worker_seeds.py.
// GCC 12 at -O3 warns falsely (-Wrestrict, GCC bug 105329) on the std::string concatenations
// of the failure messages.
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wrestrict"
#endif

#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "dissectors/apps/apps.h"
#include "dissectors/classify/classifier.h"
#include "emit/emitter_counters.h"
#include "emit/format.h"
#include "flowtable/flow_table.h"
#include "sensor/app_layer.h"
#include "sensor/dpdk/eal.h"
#include "sensor/worker.h"

namespace fs = flowscribe;

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "worker_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

struct Env {
  rte_mempool* mbufs = nullptr;
  rte_ring* ring = nullptr;
  rte_mempool* recs = nullptr;
  int ts_offset = -1;
  uint64_t ts_flag = 0;
  std::shared_ptr<const fs::dissect::ClassifierDb> db;
  std::shared_ptr<const fs::dissect::AppDb> apps;
  std::unique_ptr<fs::emit::Formatter> rfc5424, json;
};

Env* setup() {
  static Env* env = [] {
    const std::string prefix = "fsfuzz-" + std::to_string(getpid());
    const char* argv[] = {"worker_fuzz", "--no-huge", "-m", "256", "--no-pci", "--lcores", "0",
                          "--file-prefix", prefix.c_str(), "--log-level=*:error",
                          "--no-shconf", "--no-telemetry", nullptr};
    if (rte_eal_init(12, const_cast<char**>(argv)) < 0) fail("EAL init failed", "");
    // EAL leaves its (empty) runtime folder in /run/dpdk behind; one per run adds up in CI.
    std::atexit(fs::sensor::dpdk::eal_remove_runtime_files);
    auto* e = new Env;
    e->mbufs = rte_pktmbuf_pool_create("fz_mbufs", 2047, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    e->ring = rte_ring_create("fz_rec", 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    e->recs = rte_mempool_create("fz_recs", 2047, sizeof(fs::emit::Record), 0, 0, nullptr,
                                 nullptr, nullptr, nullptr, 0, 0);
    if (e->mbufs == nullptr || e->ring == nullptr || e->recs == nullptr) fail("DPDK pools", "");
    if (rte_mbuf_dyn_rx_timestamp_register(&e->ts_offset, &e->ts_flag) != 0) {
      fail("timestamp field", "");
    }
    auto db = fs::dissect::compile_classifier("");
    auto apps = fs::dissect::AppDb::load({});
    if (!db.ok() || !apps.ok()) fail("databases", "");
    e->db = *std::move(db);
    e->apps = *std::move(apps);
    fs::emit::FormatConfig fc;
    fc.hostname = "fuzz";
    fc.procid = "1";
    e->rfc5424 = fs::emit::make_formatter(fc);
    fc.line_format = fs::emit::LineFormat::kJson;
    e->json = fs::emit::make_formatter(fc);
    return e;
  }();
  return env;
}

// One line: printable ASCII or valid UTF-8 (no C1 control, no U+2028/2029), then '\n'.
void check_line(const char* p, size_t n, const char* format) {
  const std::string line(p, n);
  if (n == 0 || p[n - 1] != '\n') fail("a line does not end in a newline", line);
  for (size_t i = 0; i + 1 < n;) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (c < 0x20 || c == 0x7f) fail(format, "control byte inside the line: " + line);
    if (c < 0x80) {
      ++i;
      continue;
    }
    const int len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (len == 0 || c > 0xf4 || i + len >= n) fail(format, "invalid UTF-8: " + line);
    uint32_t cp = c & (0x7f >> len);
    for (int k = 1; k < len; ++k) {
      const auto d = static_cast<unsigned char>(p[i + k]);
      if ((d & 0xc0) != 0x80) fail(format, "invalid UTF-8: " + line);
      cp = cp << 6 | (d & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      fail(format, "overlong or surrogate UTF-8: " + line);
    }
    if ((cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029) {
      fail(format, "C1 control or line separator in the line: " + line);
    }
    i += len;
  }
}

void drain(Env& e) {
  fs::emit::EmitterInput in{e.ring, e.recs};
  fs::emit::EmitterCounters c;
  fs::emit::Record* recs[64 + fs::emit::kMaxContinuations];
  static char buf[fs::emit::kFormatBufferBytes];
  while (fs::emit::drain_input(in, recs, 64, c, [&](const fs::emit::Record* const* chain,
                                                     unsigned k) {
    const size_t n = e.rfc5424->format_chain(chain, k, buf);
    if (n != 0) check_line(buf, n, "rfc5424");
    const size_t m = e.json->format_chain(chain, k, buf);
    if (m != 0) check_line(buf, m, "json");
  }) != 0) {
  }
}

void check_table(const fs::sensor::Worker& w) {
  const absl::Status s = w.table().check_consistency();
  if (!s.ok()) fail("flow table inconsistent", std::string(s.message()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Env& e = *setup();
  fs::sensor::Shared shared;
  shared.offline = false;  // a full pool or ring is a counted drop: nothing waits here
  shared.ts_offset = e.ts_offset;
  shared.ts_flag = e.ts_flag;
  fs::flow::FlowTableConfig tc;
  tc.capacity = 48;
  tc.tcp_syn_timeout_s = 3;
  tc.tcp_idle_timeout_s = 6;
  tc.tcp_closed_timeout_s = 1;
  tc.udp_idle_timeout_s = 4;
  tc.other_idle_timeout_s = 4;
  tc.active_timeout_s = 5;
  auto table = fs::flow::FlowTable::create(tc);
  fs::sensor::AppConfig ac;
  ac.states = 32;
  ac.stream.pool_chunks = 64;
  ac.dissect_states = 8;
  auto app = fs::sensor::AppLayer::create(ac, e.db, e.apps);
  if (!table.ok() || !app.ok()) fail("worker parts", "");
  fs::sensor::Worker w(0, shared, *std::move(table), *std::move(app), e.ring, e.recs);

  uint64_t t = uint64_t{1700000000} * 1000000000;
  rte_mbuf* burst[8];
  uint16_t n = 0;
  size_t pos = 0;
  while (pos + 3 <= size) {
    const size_t len = std::min(size_t{data[pos]} | size_t{data[pos + 1]} << 8, size - pos - 3);
    const uint8_t step = data[pos + 2];
    t += uint64_t{step} * 125000000;  // steps of 1/8 s: timers fire
    pos += 3;
    rte_mbuf* m = rte_pktmbuf_alloc(e.mbufs);
    if (m == nullptr) fail("out of mbufs", "");
    // A frame longer than an mbuf is cut (the seeds' frames fit); the next one follows it.
    const size_t take = std::min<size_t>(len, rte_pktmbuf_tailroom(m));
    std::memcpy(rte_pktmbuf_mtod(m, uint8_t*), data + pos, take);
    m->data_len = static_cast<uint16_t>(take);
    m->pkt_len = static_cast<uint32_t>(take);
    *RTE_MBUF_DYNFIELD(m, e.ts_offset, rte_mbuf_timestamp_t*) = t;
    m->ol_flags |= e.ts_flag;
    pos += len;
    burst[n++] = m;
    // A burst ends at 8 frames or where the fuzzer says (a time step of 0xff).
    if (n == 8 || step == 0xff) {
      w.process_burst(burst, n);
      n = 0;
      drain(e);
      check_table(w);
    }
  }
  if (n != 0) w.process_burst(burst, n);
  drain(e);
  shared.stop.store(true);
  w.run();  // stop already set: flushes every flow and returns
  drain(e);
  check_table(w);
  if (w.table().size() != 0) fail("flows left after the flush", "");
  return 0;
}
