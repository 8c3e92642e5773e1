// Benchmark: the real worker code (decode + flow tracking + record hand-off) fed from mbufs
// preloaded in memory, one worker on the calling core. Reports packets/s and cycles/packet
// for decode alone and for the whole worker step, at a chosen number of concurrent flows.
//
//   bench_pipeline [--flows N] [--packets-per-flow P] [--seconds S] [--frame-size B]
//   bench_pipeline --pcap FILE [--seconds S]      (a capture's packets, replayed in a loop)
//
// Packets are 64-byte (default) Ethernet/IPv4/TCP frames of N flows, both directions, in a
// random order so that flow lookups miss the cache as they would on a busy link.
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <pcap/pcap.h>
#include <rte_ring.h>
#include <unistd.h>

#include <algorithm>
#include <numeric>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/strings.h"
#include "emit/record.h"
#include "flowtable/flow_table.h"
#include "sensor/decode/decode.h"
#include "dissectors/classify/classifier.h"
#include "sensor/app_layer.h"
#include "sensor/worker.h"

using namespace flowscribe;

namespace {

// 64-byte frames carry no payload (Ethernet pads them): pure flow tracking. With --payload N,
// N bytes of payload follow the TCP header, and every packet goes through the app layer.
// With --http the first client packet of each flow carries an HTTP request (the classifier
// decides on it and bypasses the flow), so later packets measure the bypassed path.
constexpr char kHttpRequest[] = "GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n";
bool g_http = false;

void build_frame(uint8_t* f, uint32_t size, uint32_t payload, uint32_t flow, bool reverse,
                 bool first) {
  std::memset(f, 0, size);
  static const uint8_t mac_a[6] = {0x02, 0, 0, 0, 0, 1}, mac_b[6] = {0x02, 0, 0, 0, 0, 2};
  std::memcpy(f, reverse ? mac_a : mac_b, 6);
  std::memcpy(f + 6, reverse ? mac_b : mac_a, 6);
  f[12] = 0x08;
  f[13] = 0x00;
  uint8_t* ip = f + 14;
  uint16_t ip_len = static_cast<uint16_t>(40 + payload);
  ip[0] = 0x45;
  ip[2] = static_cast<uint8_t>(ip_len >> 8);
  ip[3] = static_cast<uint8_t>(ip_len);
  ip[8] = 64;
  ip[9] = 6;
  uint8_t client[4] = {10, static_cast<uint8_t>(flow >> 16), static_cast<uint8_t>(flow >> 8),
                       static_cast<uint8_t>(flow)};
  uint8_t server[4] = {192, 168, static_cast<uint8_t>(flow % 7), 1};
  std::memcpy(ip + 12, reverse ? server : client, 4);
  std::memcpy(ip + 16, reverse ? client : server, 4);
  uint8_t* tcp = ip + 20;
  uint16_t cport = static_cast<uint16_t>(1024 + flow % 60000), sport = 443;
  uint16_t a = reverse ? sport : cport, b = reverse ? cport : sport;
  tcp[0] = static_cast<uint8_t>(a >> 8);
  tcp[1] = static_cast<uint8_t>(a);
  tcp[2] = static_cast<uint8_t>(b >> 8);
  tcp[3] = static_cast<uint8_t>(b);
  tcp[12] = 0x50;
  tcp[13] = kTcpAck | kTcpPsh;
  if (g_http && first && !reverse) {
    const uint32_t n = sizeof kHttpRequest - 1;
    std::memcpy(tcp + 20, kHttpRequest, n);
    ip[2] = static_cast<uint8_t>((40 + n) >> 8);
    ip[3] = static_cast<uint8_t>(40 + n);
  }
}

struct Args {
  std::string pcap;
  uint32_t payload = 0;
  uint32_t flows = 1000;
  uint32_t ppf = 4;
  double seconds = 3;
  uint32_t frame = 64;
};

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view k = argv[i];
    std::string_view v = argv[i + 1];
    bool ok = (k == "--flows" && parse_uint(v, a.flows)) ||
              (k == "--packets-per-flow" && parse_uint(v, a.ppf)) ||
              (k == "--seconds" && parse_double(v, a.seconds)) ||
              (k == "--frame-size" && parse_uint(v, a.frame)) ||
              (k == "--payload" && parse_uint(v, a.payload)) ||
              (k == "--http" && (g_http = v == "1", true)) ||
              (k == "--pcap" && !(a.pcap = std::string(v)).empty());
    if (!ok) {
      std::fprintf(stderr, "usage: bench_pipeline [--flows N] [--packets-per-flow P] "
                           "[--seconds S] [--frame-size 60..1514] [--payload N] [--http 1] | --pcap FILE "
                           "[--seconds S]\n");
      return 2;
    }
  }
  a.payload = std::min<uint32_t>(a.payload, 1460);
  a.frame = std::clamp<uint32_t>(std::max(a.frame, 54 + a.payload), 60, 1514);
  if (g_http) a.frame = std::max<uint32_t>(a.frame, 54 + sizeof kHttpRequest);
  // A capture: its frames are loaded once, then replayed from memory.
  std::vector<std::vector<uint8_t>> frames;
  decode::LinkType link = decode::LinkType::kEthernet;
  if (!a.pcap.empty()) {
    char err[PCAP_ERRBUF_SIZE];
    pcap_t* p = pcap_open_offline(a.pcap.c_str(), err);
    if (p == nullptr || !decode::link_type_supported(static_cast<uint32_t>(pcap_datalink(p)))) {
      std::fprintf(stderr, "bench_pipeline: cannot use %s: %s\n", a.pcap.c_str(),
                   p ? "unsupported link type" : err);
      return 2;
    }
    link = static_cast<decode::LinkType>(pcap_datalink(p));
    pcap_pkthdr* h;
    const u_char* d;
    while (pcap_next_ex(p, &h, &d) == 1) frames.emplace_back(d, d + std::min<uint32_t>(h->caplen, 2048));
    pcap_close(p);
    if (frames.empty()) {
      std::fprintf(stderr, "bench_pipeline: %s holds no packets\n", a.pcap.c_str());
      return 2;
    }
    a.flows = 0;
    a.ppf = 0;
  }
  std::string prefix = cat("fsbench-", getpid());
  uint64_t npkts = frames.empty() ? static_cast<uint64_t>(a.flows) * a.ppf : frames.size();
  const uint32_t room = frames.empty() ? a.frame : 2048;
  uint64_t mem_mb = 512 + npkts * (room + 640) / (1 << 20);
  std::string mem = cat(mem_mb);
  const char* eal_argv[] = {"bench", "--no-huge", "-m", mem.c_str(), "--no-pci", "--lcores", "0",
                            "--file-prefix", prefix.c_str(), "--log-level=*:error", nullptr};
  if (rte_eal_init(10, const_cast<char**>(eal_argv)) < 0) {
    std::fprintf(stderr, "bench_pipeline: EAL init failed\n");
    return 1;
  }
  rte_mempool* pool = rte_pktmbuf_pool_create("bench", static_cast<unsigned>(npkts + 1024), 256, 0,
                                              static_cast<uint16_t>(RTE_PKTMBUF_HEADROOM + room),
                                              static_cast<int>(rte_socket_id()));
  if (pool == nullptr) {
    std::fprintf(stderr, "bench_pipeline: cannot allocate %lu mbufs\n", npkts);
    return 1;
  }
  // Flow f's packets alternate direction; the whole list is shuffled.
  std::vector<rte_mbuf*> pkts(npkts);
  std::vector<uint32_t> order(npkts);
  for (uint64_t i = 0; i < npkts; ++i) order[i] = static_cast<uint32_t>(i);
  std::mt19937_64 rng(42);
  std::shuffle(order.begin(), order.end(), rng);
  if (g_http) {
    // Shuffle flows, not packets: each flow's packets keep their order (request first).
    std::vector<uint32_t> flows(a.flows);
    std::iota(flows.begin(), flows.end(), 0);
    std::shuffle(flows.begin(), flows.end(), rng);
    for (uint32_t k = 0; k < a.ppf; ++k) {
      for (uint32_t f = 0; f < a.flows; ++f) order[uint64_t{k} * a.flows + f] = flows[f] * a.ppf + k;
    }
  }
  if (!frames.empty()) std::iota(order.begin(), order.end(), 0);  // a capture keeps its order
  uint64_t wire_bytes = 0;
  for (uint64_t i = 0; i < npkts; ++i) {
    uint32_t id = order[i];
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (frames.empty()) {
      auto* d = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(a.frame)));
      build_frame(d, a.frame, a.payload, id / a.ppf, (id % a.ppf) & 1, id % a.ppf == 0);
    } else {
      const auto& f = frames[id];
      auto* d = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(f.size())));
      std::memcpy(d, f.data(), f.size());
    }
    wire_bytes += m->pkt_len + 20;  // preamble + inter-frame gap: Gbit/s as on the wire
    pkts[i] = m;
  }

  sensor::Shared shared;
  shared.link = link;
  shared.offline = false;  // drops counted rather than waited on: no emitter runs here
  shared.worker_count = 1;
  flow::FlowTableConfig cfg;
  cfg.capacity = std::max<uint32_t>(1024, a.flows + a.flows / 4);
  auto table = flow::FlowTable::create(cfg);
  if (!table.ok()) {
    std::fprintf(stderr, "bench_pipeline: %s\n", std::string(table.status().message()).c_str());
    return 1;
  }
  size_t table_bytes = (*table)->memory_bytes();
  rte_ring* ring = rte_ring_create("bench_rec", 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
  rte_mempool* recs = rte_mempool_create("bench_recs", 2047, sizeof(emit::Record), 0, 0, nullptr,
                                         nullptr, nullptr, nullptr, 0, 0);
  auto db = dissect::compile_classifier("");
  if (!db.ok()) {
    std::fprintf(stderr, "bench_pipeline: %s\n", std::string(db.status().message()).c_str());
    return 1;
  }
  sensor::AppConfig acfg;
  auto app = sensor::AppLayer::create(acfg, *db);
  if (!app.ok()) return 1;
  sensor::Worker worker(0, shared, *std::move(table), *std::move(app), ring, recs);

  // Decode alone.
  decode::DecodeCounters dc;
  uint64_t t0 = rte_rdtsc();
  for (int pass = 0; pass < 5; ++pass) {
    for (rte_mbuf* m : pkts) {
      decode::PacketMeta pm;
      decode::decode_packet(link, rte_pktmbuf_mtod(m, const uint8_t*),
                            m->pkt_len, pm, dc);
    }
  }
  double decode_cpp = static_cast<double>(rte_rdtsc() - t0) / (5.0 * npkts);

  // Whole worker step. Each pass takes a reference on every mbuf so the worker's free
  // only drops it (the cost of freeing stays in the figure).
  const uint64_t hz = rte_get_tsc_hz();
  uint64_t processed = 0, cycles = 0, warm_cycles = 0;
  int passes = 0;
  // Warm-up pass creates the flows; measured passes then run at N concurrent flows.
  for (bool warm = true;; warm = false) {
    for (rte_mbuf* m : pkts) rte_mbuf_refcnt_update(m, 1);
    uint64_t s = rte_rdtsc();
    for (uint64_t i = 0; i < npkts; i += 32) {
      uint16_t n = static_cast<uint16_t>(std::min<uint64_t>(32, npkts - i));
      worker.process_burst(&pkts[i], n);
    }
    uint64_t e = rte_rdtsc();
    // Drain records (a flow that ended would leave one here); none expected at steady state.
    void* r = nullptr;
    while (rte_ring_sc_dequeue(ring, &r) == 0) rte_mempool_put(recs, r);
    if (warm) warm_cycles = e - s;
    if (!warm) {
      cycles += e - s;
      processed += npkts;
      ++passes;
      if (static_cast<double>(cycles) / hz >= a.seconds) break;
    }
  }
  double cpp = static_cast<double>(cycles) / processed;
  double pps = static_cast<double>(hz) / cpp;
  const double avg_wire = static_cast<double>(wire_bytes) / npkts;
  if (frames.empty()) {
    std::printf("bench_pipeline: flows=%u packets/flow=%u frame=%uB payload=%uB passes=%d "
                "tsc=%.2fGHz\n", a.flows, a.ppf, a.frame, a.payload, passes, hz / 1e9);
  } else {
    std::printf("bench_pipeline: %s: %lu packets, %.0f B average on the wire, passes=%d "
                "tsc=%.2fGHz\n", a.pcap.c_str(), npkts, avg_wire, passes, hz / 1e9);
  }
  std::printf("  decode only        : %7.1f cycles/packet\n", decode_cpp);
  std::printf("  first pass (creates every flow, classifies): %.1f cycles/packet, %.0f cycles/flow\n",
              static_cast<double>(warm_cycles) / npkts,
              frames.empty() ? static_cast<double>(warm_cycles) / a.flows : 0.0);
  std::printf("  decode+flow+handoff: %7.1f cycles/packet  %.2f Mpps/core  %.2f Gbit/s\n", cpp,
              pps / 1e6, pps * avg_wire * 8 / 1e9);
  const auto& wc = worker.counters();
  const auto& ac = worker.app().counters();
  std::printf("  app layer: classified %lu, unknown %lu, bypassed packets are the rest\n",
              ac.app_classified.get(), ac.app_unknown.get());
  std::printf("  records %lu, dropped for want of an emitter %lu (the benchmark has none)\n",
              wc.worker_records.get(),
              wc.worker_record_ring_full.get() + wc.worker_record_pool_empty.get());
  std::printf("  flows active=%u table memory=%.1f MB (%.0f B/flow of capacity)\n",
              worker.table().size(), table_bytes / 1048576.0,
              static_cast<double>(table_bytes) / worker.table().capacity());
  for (rte_mbuf* m : pkts) rte_pktmbuf_free(m);
  rte_eal_cleanup();
  return 0;
}
