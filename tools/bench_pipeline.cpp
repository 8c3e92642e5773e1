// Benchmark: the real worker code (decode + flow tracking + record hand-off) fed from mbufs
// preloaded in memory, one worker on the calling core. Reports packets/s and cycles/packet
// for decode alone and for the whole worker step, at a chosen number of concurrent flows.
//
//   bench_pipeline [--flows N] [--packets-per-flow P] [--seconds S] [--frame-size B] [--ipv6 1]
//   bench_pipeline --pcap FILE [--seconds S]      (a capture's packets, replayed in a loop)
//   bench_pipeline --mix FILE[*W],FILE,... [--concurrent N] [--seconds S] [--stages 1] [--workers W]
//                                                 (real captures multiplied into N flows,
//                                                 default 1000; --stages 1 also times each
//                                                 stage of the worker, ~50 cycles/packet extra,
//                                                 and does so for --flows and --pcap runs too;
//                                                 --workers W runs W workers on CPUs 0..W-1,
//                                                 each with its own flows, as RSS queues would)
//
// Packets are 64-byte (default) Ethernet/IPv4/TCP frames of N flows, both directions, in a
// random order so that flow lookups miss the cache as they would on a busy link. They reach
// the worker through a window of 4,096 recycled mbufs, as from an RX ring (--cold 1: each
// packet from its own mbuf, a DRAM miss per packet).
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <pcap/pcap.h>
#include <rte_ring.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <barrier>
#include <map>
#include <memory>
#include <thread>
#include <numeric>
#include <cstdio>
#include <cstdlib>
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
#include "sensor/dpdk/eal.h"
#include "sensor/options.h"
#include "sensor/stats.h"
#include "sensor/worker.h"
#ifdef FS_ALLOC_GUARD
#include "sensor/alloc_guard.h"
#endif
#include "tools/pcap_mix.h"

using namespace flowscribe;

namespace {

// 64-byte frames carry no payload (Ethernet pads them): pure flow tracking. With --payload N,
// N bytes of payload follow the TCP header, and every packet goes through the app layer.
// With --http the first client packet of each flow carries an HTTP request (the classifier
// decides on it and bypasses the flow), so later packets measure the bypassed path.
constexpr char kHttpRequest[] = "GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n";
bool g_http = false;
bool g_ipv6 = false;  // --ipv6 1: the same flows over IPv6 (2001:db8::/32, no extension header)

// The TCP header of flow `flow`'s packet: client port 1024 + flow % 60000, server 443, ACK+PSH.
void write_tcp(uint8_t* tcp, uint32_t flow, bool reverse) {
  const uint16_t cport = static_cast<uint16_t>(1024 + flow % 60000), sport = 443;
  const uint16_t a = reverse ? sport : cport, b = reverse ? cport : sport;
  tcp[0] = static_cast<uint8_t>(a >> 8);
  tcp[1] = static_cast<uint8_t>(a);
  tcp[2] = static_cast<uint8_t>(b >> 8);
  tcp[3] = static_cast<uint8_t>(b);
  tcp[12] = 0x50;
  tcp[13] = kTcpAck | kTcpPsh;
}

void build_frame(uint8_t* f, uint32_t size, uint32_t payload, uint32_t flow, bool reverse,
                 bool first) {
  std::memset(f, 0, size);
  static const uint8_t mac_a[6] = {0x02, 0, 0, 0, 0, 1}, mac_b[6] = {0x02, 0, 0, 0, 0, 2};
  std::memcpy(f, reverse ? mac_a : mac_b, 6);
  std::memcpy(f + 6, reverse ? mac_b : mac_a, 6);
  if (g_ipv6) {
    f[12] = 0x86;
    f[13] = 0xdd;
    uint8_t* ip6 = f + 14;
    const uint16_t plen = static_cast<uint16_t>(20 + payload);
    ip6[0] = 0x60;
    ip6[4] = static_cast<uint8_t>(plen >> 8);
    ip6[5] = static_cast<uint8_t>(plen);
    ip6[6] = 6;
    ip6[7] = 64;
    uint8_t client[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1};
    uint8_t server[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 2};
    client[13] = static_cast<uint8_t>(flow >> 16);
    client[14] = static_cast<uint8_t>(flow >> 8);
    client[15] = static_cast<uint8_t>(flow);
    server[14] = static_cast<uint8_t>(flow % 7);
    server[15] = 1;
    std::memcpy(ip6 + 8, reverse ? server : client, 16);
    std::memcpy(ip6 + 24, reverse ? client : server, 16);
    write_tcp(ip6 + 40, flow, reverse);
    return;
  }
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
  write_tcp(tcp, flow, reverse);
  if (g_http && first && !reverse) {
    const uint32_t n = sizeof kHttpRequest - 1;
    std::memcpy(tcp + 20, kHttpRequest, n);
    ip[2] = static_cast<uint8_t>((40 + n) >> 8);
    ip[3] = static_cast<uint8_t>(40 + n);
  }
}

// The RX window's "DMA": packets base..base+w-1 copied into the window's mbufs, each with a
// reference taken for the worker's (or the test's) free.
void fill_window(const std::vector<rte_mbuf*>& pkts, uint64_t base, uint32_t w,
                 const std::vector<rte_mbuf*>& hot) {
  for (uint32_t j = 0; j < w; ++j) {
    rte_mbuf* src = pkts[base + j];
    rte_mbuf* dst = hot[j];
    rte_pktmbuf_reset(dst);
    auto* d = rte_pktmbuf_append(dst, static_cast<uint16_t>(src->data_len));
    std::memcpy(d, rte_pktmbuf_mtod(src, const void*), src->data_len);
    rte_mbuf_refcnt_update(dst, 1);
  }
}

struct Args;
bool time_dispatcher(const Args& a, decode::LinkType link, const std::vector<rte_mbuf*>& pkts,
                     const std::vector<rte_mbuf*>& hot, uint64_t hz);

struct Args {
  std::string pcap;
  std::string mix;          // comma-separated captures: the traffic multiplier (run_mix)
  uint32_t concurrent = 0;  // --mix: target flows in progress at once
  uint32_t payload = 0;
  uint32_t flows = 1000;
  uint32_t ppf = 4;
  double seconds = 3;
  uint32_t frame = 64;
  bool stages = false;      // --mix: per-stage cycles (Worker::StageCycles)
  uint32_t workers = 1;     // --mix: workers, one thread each on CPUs 0..N-1 (shared nothing)
  uint32_t dispatch = 0;    // --flows/--pcap: also time the software dispatcher to N rings
  uint64_t warmup_max = 0;   // --mix: cap on the warm-up's packets per worker (0: none)
  uint32_t dissect_all = 0;  // --dissect-states as flowscribe's flag (sensor/options.h)
  std::vector<std::pair<std::string, uint32_t>> dissect_named;
  bool cold = false;        // --flows/--pcap: every packet from its own (cold) mbuf, not the
                            //   4,096-mbuf window an RX ring recycles (the default)
};

// The worker step. With -Dalloc_guard=true the guard is armed around it, so a heap allocation
// anywhere in the worker code aborts the benchmark (sensor/alloc_guard.h).
inline void guarded_burst(sensor::Worker& w, rte_mbuf** pkts, uint16_t n) {
#ifdef FS_ALLOC_GUARD
  alloc_guard::arm();
  w.process_burst(pkts, n);
  alloc_guard::disarm();
#else
  w.process_burst(pkts, n);
#endif
}

// What every --mix worker replays, and what it measured.
struct MixPlan {
  const std::vector<tools::BasePacket>& base;
  const Args& a;
  uint32_t slots;         // copies in flight per worker
  uint32_t idle_s, linger_s;
  int ts_offset;
  uint64_t ts_flag;
  std::shared_ptr<const dissect::ClassifierDb> db;
};

struct MixResult {
  std::string error;
  uint64_t warm_pkts = 0, cycles = 0, pkts = 0, bytes = 0, cpu_ns = 0, table_sum = 0, chunks = 0;
  uint32_t table_max = 0;
  double median_chunk = 0;
  std::string pools;  // the dissector pools' peak use: "tls 1234/2048, ..."
  uint64_t created = 0, midstream = 0, records = 0, lost = 0, exhausted = 0, dissect_exhausted = 0;
  sensor::Worker::StageCycles stage_cycles;
};

// One worker on the calling thread: its own mbufs, flow table, app layer, record ring and
// pool, as a sensor worker on its own RSS queue. Worker k replays copies k, k + N, k + 2N...
// of the base sequence, so no two workers see the same flow.
void run_mix_worker(const MixPlan& plan, uint32_t k, std::barrier<>& sync, MixResult& out) {
  constexpr uint32_t kChunk = 4096;
  const Args& a = plan.a;
  const uint32_t n = a.workers, slots = plan.slots;
  const uint32_t m = static_cast<uint32_t>(plan.base.size());
  auto fail = [&](std::string why) {
    out.error = std::move(why);
    sync.arrive_and_drop();
  };
  rte_mempool* pool = rte_pktmbuf_pool_create(cat("bench", k).c_str(), kChunk + 1024, 256, 0,
                                              RTE_PKTMBUF_HEADROOM + 2048,
                                              static_cast<int>(rte_socket_id()));
  if (pool == nullptr) return fail("cannot allocate the mbufs");
  sensor::Shared shared;
  shared.offline = false;  // a full ring is a counted drop, as live
  shared.worker_count = n;
  shared.ts_offset = plan.ts_offset;
  shared.ts_flag = plan.ts_flag;
  shared.ts_scale = 1;
  const uint64_t ns_per_packet = std::max<uint64_t>(1, 1'000'000'000ULL / slots);
  uint64_t stream_index = 0;
  flow::FlowTableConfig cfg;
  cfg.capacity = std::max<uint32_t>(4096, a.concurrent + a.concurrent / 2);
  cfg.worker_id = k;
  cfg.tcp_closed_timeout_s = plan.linger_s;
  cfg.udp_idle_timeout_s = plan.idle_s;
  cfg.other_idle_timeout_s = plan.idle_s;
  cfg.tcp_syn_timeout_s = plan.idle_s;
  cfg.tcp_idle_timeout_s = plan.idle_s;
  auto table = flow::FlowTable::create(cfg);
  if (!table.ok()) return fail(std::string(table.status().message()));
  // Timers fire once per (virtual) second, so a second's worth of ended flows (~16K at 1M
  // concurrent) arrive in one burst: the ring and pool hold that many.
  rte_ring* ring = rte_ring_create(cat("bench_rec", k).c_str(), 1 << 17, 0,
                                   RING_F_SP_ENQ | RING_F_SC_DEQ);
  rte_mempool* recs = rte_mempool_create(cat("bench_recs", k).c_str(), (1 << 17) - 1,
                                         sizeof(emit::Record), 0, 0, nullptr, nullptr, nullptr,
                                         nullptr, 0, 0);
  if (ring == nullptr || recs == nullptr) return fail("cannot set up the record ring");
  sensor::AppConfig acfg;
  acfg.states = std::clamp<uint32_t>(a.concurrent, 1024, 1u << 20);
  acfg.dissect_states = a.dissect_all;
  acfg.dissect_states_named = a.dissect_named;
  auto app = sensor::AppLayer::create(acfg, plan.db);
  if (!app.ok()) return fail(std::string(app.status().message()));
  sensor::Worker worker(k, shared, *std::move(table), *std::move(app), ring, recs);

  // Slot s starts at phase s*m/slots with copy id s*N + k; later copies take fresh ids.
  std::vector<uint32_t> cursor(slots), copy(slots);
  for (uint32_t s = 0; s < slots; ++s) {
    cursor[s] = static_cast<uint32_t>(uint64_t{s} * m / slots);
    copy[s] = s * n + k;
  }
  uint32_t next_copy = slots * n + k, rr = 0;
  std::vector<rte_mbuf*> chunk(kChunk);
  uint64_t chunk_bytes = 0;
  auto fill = [&]() {
    chunk_bytes = 0;
    for (uint32_t i = 0; i < kChunk; ++i) {
      const uint32_t s = rr;
      rr = rr + 1 == slots ? 0 : rr + 1;
      const tools::BasePacket& b = plan.base[cursor[s]];
      rte_mbuf* mb = rte_pktmbuf_alloc(pool);
      auto* d = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(mb, static_cast<uint16_t>(b.bytes.size())));
      std::memcpy(d, b.bytes.data(), b.bytes.size());
      tools::rewrite_for_copy(d, b, copy[s] & 0xffffff);
      *RTE_MBUF_DYNFIELD(mb, shared.ts_offset, uint64_t*) = ++stream_index * ns_per_packet;
      mb->ol_flags |= shared.ts_flag;
      chunk_bytes += b.wire_len + 24;  // + FCS, preamble and inter-frame gap on the wire
      chunk[i] = mb;
      if (++cursor[s] == m) {
        cursor[s] = 0;
        copy[s] = next_copy;
        next_copy += n;
      }
    }
  };
  auto drain = [&]() {
    void* r = nullptr;
    while (rte_ring_sc_dequeue(ring, &r) == 0) rte_mempool_put(recs, r);
  };
  auto run_chunk = [&]() {
    uint64_t c = 0;
    for (uint32_t i = 0; i < kChunk; i += 32) {
      const uint64_t s = rte_rdtsc();
      guarded_burst(worker, &chunk[i], 32);
      c += rte_rdtsc() - s;
      drain();
    }
    return c;
  };
  // Warm-up: every slot runs through the whole sequence once, so that the table holds the
  // steady state's flows (each begun with its first packet, at every phase of its life).
  // --warmup-max cuts it short for a quick look: the measured packets then over-represent
  // flows picked up in the middle during warm-up (cheaper: never classified), and say so.
  out.warm_pkts = uint64_t{m} * slots;
  if (a.warmup_max != 0) out.warm_pkts = std::min<uint64_t>(out.warm_pkts, a.warmup_max);
  for (uint64_t done = 0; done < out.warm_pkts; done += kChunk) {
    fill();
    run_chunk();
  }
  const auto& fc = worker.table().counters();
  const auto& wc = worker.counters();
  const uint64_t created0 = fc.flow_created.get(), mid0 = fc.flow_midstream.get();
  const uint64_t records0 = wc.worker_records.get();
  const uint64_t lost0 = wc.worker_record_ring_full.get() + wc.worker_record_pool_empty.get();
  const uint64_t exhausted0 = worker.app().counters().app_state_exhausted.get();
  const uint64_t dexhausted0 = worker.app().counters().app_dissect_exhausted.get();
  const uint64_t hz = rte_get_tsc_hz();
  // On-CPU time of this thread as well: on a shared VM other processes take the vCPU in the
  // middle of bursts, which the TSC counts and the thread's CPU clock does not.
  auto thread_cpu_ns = []() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
  };
  if (a.stages) worker.set_stage_cycles(&out.stage_cycles);
  std::vector<double> per_chunk;
  sync.arrive_and_wait();
  while (static_cast<double>(out.cycles) / hz < a.seconds) {
    fill();
    const uint64_t t0 = thread_cpu_ns();
    const uint64_t c = run_chunk();
    out.cpu_ns += thread_cpu_ns() - t0;
    out.cycles += c;
    out.pkts += kChunk;
    out.bytes += chunk_bytes;
    per_chunk.push_back(static_cast<double>(c) / kChunk);
    out.table_sum += worker.table().size();
    out.table_max = std::max(out.table_max, worker.table().size());
    ++out.chunks;
  }
  std::sort(per_chunk.begin(), per_chunk.end());
  out.median_chunk = per_chunk[per_chunk.size() / 2];
  out.created = fc.flow_created.get() - created0;
  out.midstream = fc.flow_midstream.get() - mid0;
  out.records = wc.worker_records.get() - records0;
  out.lost = wc.worker_record_ring_full.get() + wc.worker_record_pool_empty.get() - lost0;
  out.exhausted = worker.app().counters().app_state_exhausted.get() - exhausted0;
  out.dissect_exhausted = worker.app().counters().app_dissect_exhausted.get() - dexhausted0;
  out.pools = sensor::dissect_pool_peaks(sensor::sum_dissect_pools({&worker}));
  worker.set_stage_cycles(nullptr);
}

// --- The traffic multiplier (--mix): real captures, multiplied into many flows.
//
// The captures are concatenated into one base sequence (so a flow's packets stay close
// together). C "slots" replay that sequence at once, each at its own phase and each with
// its own copy id; packets are taken from the slots in turn. Every copy rewrites the IP
// addresses (IPv4: bytes 1-3 of both addresses XOR the copy id; IPv6: bytes 9-11), so each
// copy's flows are new flows (tools/pcap_mix.h; checksums are left stale, flowscribe checks
// none); when a slot reaches the end of the sequence it starts a new copy. C is chosen so
// that C x (flows one copy keeps in the table at a random point) = --concurrent.
//
// Packets are copied into mbufs in chunks of 64K (not timed; 64K packets of a few hundred
// bytes leave L1/L2, as NIC DMA into the last-level cache does), then the chunk goes through
// Worker::process_burst 32 at a time, timed per burst; records are taken off the ring
// between bursts (the emitter's job, not timed).
int run_mix(const Args& a) {
  std::vector<tools::BasePacket> base;
  std::vector<std::string> files;
  for (std::string_view f : split(a.mix, ',')) files.emplace_back(f);
  if (std::string err = tools::load_mix(files, base); !err.empty()) {
    std::fprintf(stderr, "bench_pipeline: %s\n", err.c_str());
    return 2;
  }
  // Each flow's first and last packet, longest gap, and end.
  struct Span {
    uint32_t first, last, max_gap;
    uint32_t end;  // first TCP FIN or RST, UINT32_MAX if none
  };
  std::map<std::string, Span> spans;
  decode::DecodeCounters dc;
  for (uint32_t i = 0; i < base.size(); ++i) {
    const tools::BasePacket& b = base[i];
    decode::PacketMeta pm;
    if (b.l3 < 0 || decode::decode_packet(decode::LinkType::kEthernet, b.bytes.data(),
                                          static_cast<uint32_t>(b.bytes.size()), pm, dc) !=
                        decode::DecodeStatus::kOk) {
      continue;
    }
    // A canonical (direction-free) key: the smaller endpoint first.
    std::string e1(reinterpret_cast<const char*>(&pm.src), sizeof pm.src);
    std::string e2(reinterpret_cast<const char*>(&pm.dst), sizeof pm.dst);
    e1 += cat(":", pm.sport);
    e2 += cat(":", pm.dport);
    std::string key = cat(pm.l4_proto, "|", std::min(e1, e2), "|", std::max(e1, e2));
    auto [it, fresh] = spans.try_emplace(key, Span{i, i, 0, UINT32_MAX});
    Span& sp = it->second;
    if (!fresh) {
      sp.max_gap = std::max(sp.max_gap, i - sp.last);
      sp.last = i;
    }
    if (pm.l4_proto == 6 && (pm.tcp_flags & (kTcpFin | kTcpRst))) sp.end = std::min(sp.end, i);
  }
  // Virtual time: every mbuf is stamped, C packets (one round of the slots) per second, so a
  // copy moves one packet of the sequence per second and a flow's gap in packets is its idle
  // time in seconds. Idle timeouts are set just above the longest gap and TCP linger just above
  // the longest tail after a FIN/RST, so no flow is split; a flow then stays in the table from
  // its first packet until that long after its end, as in a sensor with short timeouts.
  uint32_t longest_gap = 0, longest_tail = 0;
  for (const auto& [k, sp] : spans) {
    longest_gap = std::max(longest_gap, sp.max_gap);
    if (sp.end != UINT32_MAX) longest_tail = std::max(longest_tail, sp.last - sp.end);
  }
  const uint32_t idle_s = std::clamp<uint32_t>(longest_gap + 2, 2, 3600);
  const uint32_t linger_s = std::min<uint32_t>(longest_tail + 2, idle_s);
  double open_sum = 0, life_sum = 0;
  for (const auto& [k, sp] : spans) {
    open_sum += sp.last - sp.first + 1;
    const double gone = sp.end != UINT32_MAX ? std::max<double>(sp.last, sp.end + linger_s + 0.5)
                                             : sp.last + idle_s + 0.5;
    life_sum += gone - sp.first + 1;
  }
  const uint32_t m = static_cast<uint32_t>(base.size());
  const double avg_open = open_sum / m, per_slot = life_sum / m;
  const uint32_t slots =
      std::max<uint32_t>(1, static_cast<uint32_t>(a.concurrent / per_slot + 0.5));

  // EAL (one lcore; worker threads register their own), then one worker per thread.
  std::string prefix = cat("fsbench-", getpid());
  const std::string mem = cat(1024 + 1024 * a.workers);
  const char* eal_argv[] = {"bench", "--no-huge", "-m", mem.c_str(), "--no-pci", "--lcores", "0",
                            "--file-prefix", prefix.c_str(), "--log-level=*:error", "--no-shconf",
                            "--no-telemetry", nullptr};
  if (rte_eal_init(12, const_cast<char**>(eal_argv)) < 0) {
    std::fprintf(stderr, "bench_pipeline: EAL init failed\n");
    return 1;
  }
  std::atexit(sensor::dpdk::eal_remove_runtime_files);  // EAL leaves its folder in /run/dpdk
  int ts_offset = -1;
  uint64_t ts_flag = 0;
  if (rte_mbuf_dyn_rx_timestamp_register(&ts_offset, &ts_flag) != 0) {
    std::fprintf(stderr, "bench_pipeline: cannot register the mbuf timestamp field\n");
    return 1;
  }
  auto db = dissect::compile_classifier("");
  if (!db.ok()) {
    std::fprintf(stderr, "bench_pipeline: cannot compile the classifier\n");
    return 1;
  }
  MixPlan plan{base, a, slots, idle_s, linger_s, ts_offset, ts_flag, *db};
  std::vector<MixResult> results(a.workers);
  // Workers start measuring together (after every warm-up), as RSS queues would be busy at once.
  std::barrier sync(static_cast<std::ptrdiff_t>(a.workers));
  std::vector<std::thread> threads;
  const unsigned ncpu = std::max(1u, std::thread::hardware_concurrency());
  for (uint32_t k = 0; k < a.workers; ++k) {
    threads.emplace_back([&, k]() {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(k % ncpu, &set);
      pthread_setaffinity_np(pthread_self(), sizeof set, &set);
      // An lcore id of its own, so its mempool cache works as on an EAL worker lcore.
      if (rte_thread_register() != 0) results[k].error = "rte_thread_register failed";
      else run_mix_worker(plan, k, sync, results[k]);
      rte_thread_unregister();
    });
  }
  for (std::thread& t : threads) t.join();
  for (const MixResult& r : results) {
    if (!r.error.empty()) {
      std::fprintf(stderr, "bench_pipeline: %s\n", r.error.c_str());
      return 1;
    }
  }
  const uint64_t hz = rte_get_tsc_hz();
  std::printf("bench_pipeline: mix of %zu captures: %u packets, %zu flows, %.1f packets/flow, "
              "%.1f flows open at a random point, %.1f in the table\n", files.size(), m,
              spans.size(), static_cast<double>(m) / spans.size(), avg_open, per_slot);
  std::printf("  %u copies in flight for --concurrent %u per worker (virtual time: idle timeouts "
              "%u s, TCP linger %u s); warm-up %lu packets per worker%s, tsc=%.2fGHz\n", slots,
              a.concurrent, idle_s, linger_s, results[0].warm_pkts,
              results[0].warm_pkts < uint64_t{m} * slots
                  ? " (cut short by --warmup-max: not the steady state; flows picked up midstream "
                    "in the warm-up are over-represented)"
                  : "",
              hz / 1e9);
  double sum_mpps = 0, sum_cpu_mpps = 0;
  for (uint32_t k = 0; k < a.workers; ++k) {
    const MixResult& r = results[k];
    const double secs = static_cast<double>(r.cycles) / hz;
    const double cpp = static_cast<double>(r.cycles) / r.pkts;
    const double cpu_cpp = static_cast<double>(r.cpu_ns) * hz / 1e9 / r.pkts;
    sum_mpps += hz / cpp / 1e6;
    sum_cpu_mpps += hz / cpu_cpp / 1e6;
    const char* who = a.workers > 1 ? "worker " : "";
    std::printf("  %s%s%sconcurrent flows (table occupancy): %.0f average, %u peak; measured %lu packets\n",
                who, a.workers > 1 ? cat(k).c_str() : "", a.workers > 1 ? ": " : "",
                static_cast<double>(r.table_sum) / r.chunks, r.table_max, r.pkts);
    std::printf("  full pipeline: %.1f cycles/packet (median chunk %.1f)  %.2f Mpps/core  "
                "%.2f Gbit/s  %.0f B/packet on the wire\n", cpp, r.median_chunk,
                hz / cpp / 1e6, static_cast<double>(r.bytes) * 8 / secs / 1e9,
                static_cast<double>(r.bytes) / r.pkts);
    // Includes the record ring drain and the per-burst TSC reads (a few cycles/packet).
    std::printf("  on-CPU: %.1f cycles/packet (thread CPU time)  %.2f Mpps/core  %.0f new flows/s "
                "per core\n", cpu_cpp, hz / cpu_cpp / 1e6,
                static_cast<double>(r.created) / (static_cast<double>(r.cpu_ns) / 1e9));
    if (a.stages) {
      const double p = static_cast<double>(r.pkts);
      const auto& sc = r.stage_cycles;
      std::printf("  stages, cycles/packet (TSC, timing included): decode %.1f  flow table %.1f  "
                  "app layer %.1f  ended flows %.1f  free+timers %.1f;  per new flow: app %.0f, "
                  "ended %.0f\n",
                  sc.decode / p, sc.flow / p, sc.app / p, sc.ended / p, sc.tail / p,
                  static_cast<double>(sc.app) / std::max<uint64_t>(r.created, 1),
                  static_cast<double>(sc.ended) / std::max<uint64_t>(r.created, 1));
    }
    std::printf("  new flows: %lu (%.0f/s per core), %.1f packets/flow, %lu picked up midstream\n",
                r.created, r.created / secs,
                static_cast<double>(r.pkts) / std::max<uint64_t>(r.created, 1), r.midstream);
    std::printf("  records %lu; lost %lu; app-state pool exhausted %lu; flows not dissected "
                "(a dissector's pool full) %lu\n", r.records, r.lost, r.exhausted,
                r.dissect_exhausted);
    std::printf("  dissector states, most in use at once: %s\n", r.pools.c_str());
    if (r.dissect_exhausted) {
      std::printf("  WARNING: a dissector's state pool ran out, so some flows were not dissected and "
                  "the figures above flatter; raise --dissect-states (see docs/performance.md)\n");
    }
  }
  if (a.workers > 1) {
    std::printf("  %u workers together: %.2f Mpps (TSC), %.2f Mpps (on-CPU)\n", a.workers,
                sum_mpps, sum_cpu_mpps);
  }
  std::string rtdir = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  rmdir(rtdir.c_str());  // empty: no shared config, no telemetry socket
  return 0;
}

}  // namespace

namespace {

// --dispatch N: the software dispatcher's own cost (sensor::Dispatcher::dispatch_burst: decode,
// hash, per-worker staging, one SP enqueue burst per worker ring) on the same packets, through
// the same 4,096-mbuf window, and the workers' side of the rings (SC dequeue bursts of 32,
// once per window), timed apart. The model in docs/performance.md ("Scaling over N workers") needs both.
bool time_dispatcher(const Args& a, decode::LinkType link, const std::vector<rte_mbuf*>& pkts,
                     const std::vector<rte_mbuf*>& hot, uint64_t hz) {
  if (hot.empty()) {
    std::fprintf(stderr, "bench_pipeline: --dispatch needs the RX window (not --cold 1)\n");
    return false;
  }
  sensor::Shared shared;
  shared.link = link;
  shared.offline = false;  // a full ring drops (counted): the rings are drained every burst
  shared.worker_count = a.dispatch;
  std::vector<rte_ring*> rings;
  for (uint32_t w = 0; w < a.dispatch; ++w) {
    const std::string name = "bench_disp" + std::to_string(w);
    // Room for a whole window: the rings are drained once per window.
    rte_ring* r = rte_ring_create(name.c_str(), 8192, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (r == nullptr) {
      std::fprintf(stderr, "bench_pipeline: cannot create the dispatcher's rings\n");
      return false;
    }
    rings.push_back(r);
  }
  sensor::Dispatcher disp(shared, {}, rings);
  const uint64_t npkts = pkts.size();
  uint64_t done = 0, disp_cycles = 0, deq_cycles = 0;
  rte_mbuf* out[32];
  while (static_cast<double>(disp_cycles) / hz < a.seconds) {
    for (uint64_t base = 0; base < npkts; base += hot.size()) {
      const uint32_t w = static_cast<uint32_t>(std::min<uint64_t>(hot.size(), npkts - base));
      fill_window(pkts, base, w, hot);  // the "DMA": untimed
      const uint64_t t0 = rte_rdtsc();
      for (uint32_t i = 0; i < w; i += 32) {
        disp.dispatch_burst(const_cast<rte_mbuf**>(&hot[i]),
                            static_cast<uint16_t>(std::min<uint32_t>(32, w - i)));
      }
      disp_cycles += rte_rdtsc() - t0;
      // The workers' side: bursts of 32 off each ring (a busy worker's ring holds at least
      // that), timed apart; then the free, untimed.
      for (rte_ring* r : rings) {
        for (;;) {
          const uint64_t d0 = rte_rdtsc();
          const unsigned got = rte_ring_sc_dequeue_burst(r, reinterpret_cast<void**>(out), 32, nullptr);
          if (got == 0) break;
          deq_cycles += rte_rdtsc() - d0;
          rte_pktmbuf_free_bulk(out, got);
        }
      }
      done += w;
    }
  }
  const auto& rx = disp.counters();
  const double cpp = static_cast<double>(disp_cycles) / done;
  std::printf("  dispatcher to %u rings: %.1f cycles/packet (%.1f Mpps/core); workers' dequeue "
              "%.1f cycles/packet; dispatched %lu, ring full %lu\n",
              a.dispatch, cpp, static_cast<double>(hz) / cpp / 1e6,
              static_cast<double>(deq_cycles) / done, rx.dispatch_packets.get(),
              rx.dispatch_ring_full.get());
  for (rte_ring* r : rings) rte_ring_free(r);
  return true;
}

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
              (k == "--ipv6" && (g_ipv6 = v == "1", true)) ||
              (k == "--pcap" && !(a.pcap = std::string(v)).empty()) ||
              (k == "--mix" && !(a.mix = std::string(v)).empty()) ||
              (k == "--concurrent" && parse_uint(v, a.concurrent) && a.concurrent > 0) ||
              (k == "--stages" && (a.stages = v == "1", true)) ||
              (k == "--workers" && parse_uint(v, a.workers) && a.workers > 0 && a.workers <= 64) ||
              (k == "--dispatch" && parse_uint(v, a.dispatch) && a.dispatch > 0 && a.dispatch <= 64) ||
              (k == "--cold" && (a.cold = v == "1", true)) ||
              (k == "--warmup-max" && parse_uint(v, a.warmup_max)) ||
              (k == "--dissect-states" &&
               sensor::parse_dissect_states(v, a.dissect_all, a.dissect_named).ok());
    if (!ok) {
      std::fprintf(stderr, "usage: bench_pipeline [--flows N] [--packets-per-flow P] "
                           "[--seconds S] [--frame-size 60..1514] [--payload N] [--http 1] [--ipv6 1] [--cold 1] [--dispatch N] | --pcap FILE "
                           "[--seconds S] | --mix FILE[*W],FILE,... [--concurrent N] [--seconds S] [--stages 1] [--workers W] [--warmup-max PACKETS] [--dissect-states N|NAME=N,...]\n");
      return 2;
    }
  }
  if (!a.mix.empty()) {
    if (a.concurrent == 0) a.concurrent = 1000;
    if (a.concurrent > (1u << 24)) {
      std::fprintf(stderr, "bench_pipeline: --concurrent takes 1 to 16777216 flows\n");
      return 2;
    }
    return run_mix(a);
  }
  a.payload = std::min<uint32_t>(a.payload, 1460);
  a.frame = std::clamp<uint32_t>(std::max(a.frame, (g_ipv6 ? 74 : 54) + a.payload), 60, 1514);
  if (g_ipv6 && g_http) {
    std::fprintf(stderr, "bench_pipeline: --ipv6 takes no --http\n");
    return 2;
  }
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
                            "--file-prefix", prefix.c_str(), "--log-level=*:error", "--no-shconf",
                            "--no-telemetry", nullptr};
  if (rte_eal_init(12, const_cast<char**>(eal_argv)) < 0) {
    std::fprintf(stderr, "bench_pipeline: EAL init failed\n");
    return 1;
  }
  std::atexit(sensor::dpdk::eal_remove_runtime_files);  // EAL leaves its folder in /run/dpdk
  rte_mempool* pool = rte_pktmbuf_pool_create("bench", static_cast<unsigned>(npkts + 1024 + 4096), 256, 0,
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
  //
  // By default the packets reach the worker as they do from a NIC: through a window of
  // kHotMbufs mbufs (about what a 4,096-descriptor RX ring recycles, which DMA with DDIO
  // keeps in the last-level cache): each 4,096 packets are copied into it first, untimed.
  // --cold 1 hands over every packet's own mbuf instead, so each packet's first touch is a
  // DRAM miss (the figures before 2026-11-29).
  constexpr uint32_t kHotMbufs = 4096;
  std::vector<rte_mbuf*> hot;
  if (!a.cold) {
    for (uint32_t j = 0; j < std::min<uint64_t>(kHotMbufs, npkts); ++j) {
      rte_mbuf* m = rte_pktmbuf_alloc(pool);
      if (m == nullptr) {
        std::fprintf(stderr, "bench_pipeline: cannot allocate the RX window's mbufs\n");
        return 1;
      }
      hot.push_back(m);
    }
  }
  const uint64_t hz = rte_get_tsc_hz();
  uint64_t processed = 0, cycles = 0, warm_cycles = 0;
  int passes = 0;
  sensor::Worker::StageCycles stage_cycles;
  // Warm-up pass creates the flows; measured passes then run at N concurrent flows.
  for (bool warm = true;; warm = false) {
    uint64_t spent = 0;
    if (a.cold) {
      for (rte_mbuf* m : pkts) rte_mbuf_refcnt_update(m, 1);
      const uint64_t s0 = rte_rdtsc();
      for (uint64_t i = 0; i < npkts; i += 32) {
        uint16_t n = static_cast<uint16_t>(std::min<uint64_t>(32, npkts - i));
        guarded_burst(worker, &pkts[i], n);
      }
      spent = rte_rdtsc() - s0;
    } else {
      for (uint64_t base = 0; base < npkts; base += hot.size()) {
        const uint32_t w = static_cast<uint32_t>(std::min<uint64_t>(hot.size(), npkts - base));
        fill_window(pkts, base, w, hot);  // the "DMA": untimed
        const uint64_t s0 = rte_rdtsc();
        for (uint32_t i = 0; i < w; i += 32) {
          guarded_burst(worker, &hot[i], static_cast<uint16_t>(std::min<uint32_t>(32, w - i)));
        }
        spent += rte_rdtsc() - s0;
      }
    }
    const uint64_t s = 0, e = spent;
    // Drain records (a flow that ended would leave one here); none expected at steady state.
    void* r = nullptr;
    while (rte_ring_sc_dequeue(ring, &r) == 0) rte_mempool_put(recs, r);
    if (warm) {
      warm_cycles = e - s;
      if (a.stages) worker.set_stage_cycles(&stage_cycles);  // measured passes only
    }
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
  if (a.stages) {
    worker.set_stage_cycles(nullptr);
    const double p = static_cast<double>(processed);
    const auto& sc = stage_cycles;
    std::printf("  stages, cycles/packet (TSC, timing included): decode+key+bucket prefetch %.1f  "
                "flow table %.1f  app layer %.1f  ended flows %.1f  free+timers %.1f\n",
                sc.decode / p, sc.flow / p, sc.app / p, sc.ended / p, sc.tail / p);
  }
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
  if (a.dispatch != 0 && !time_dispatcher(a, link, pkts, hot, hz)) return 1;
  for (rte_mbuf* m : pkts) rte_pktmbuf_free(m);
  for (rte_mbuf* m : hot) rte_pktmbuf_free(m);
  std::string rtdir = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  rmdir(rtdir.c_str());  // empty: no shared config, no telemetry socket
  return 0;
}
