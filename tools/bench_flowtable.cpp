// Flow-tracking micro-benchmark: N concurrent TCP flows, a trace of random 64-byte packets
// (both directions) replayed through make_flow_key + flow_hash + FlowTable::on_packet, with
// advance() once per 32-packet burst as the worker does. No DPDK, one core.
//
//   bench_flowtable [--flows 1000,100000,1000000] [--packets 4000000] [--reps 3]
//                   [--capacity 1048576]
//
// Modes: "key+hash" is the baseline (trace read, make_flow_key, flow_hash, no table);
// "simple" handles each packet start to finish; "burst" is the DPDK l3fwd pipeline
// over 32 packets (hash + prefetch bucket, then prefetch flow record, then on_packet).
// cycles are TSC cycles (rdtsc), calibrated against steady_clock; the core clock may differ
// from the TSC under turbo. Results and the exact command go in docs/performance.md.
#include <x86intrin.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "flowtable/flow_table.h"

namespace {

using flowscribe::IpAddr;
using flowscribe::Nanos;
using namespace flowscribe::flow;

struct Packet {
  IpAddr src;
  IpAddr dst;
  uint16_t sport;
  uint16_t dport;
  uint8_t flags;
  uint8_t pad[3];
};

struct Tuple {
  uint32_t a;
  uint32_t b;
  uint16_t pa;
  uint16_t pb;
};

uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

IpAddr ip4(uint32_t v) {
  IpAddr ip{};
  ip.b[0] = uint8_t(v >> 24);
  ip.b[1] = uint8_t(v >> 16);
  ip.b[2] = uint8_t(v >> 8);
  ip.b[3] = uint8_t(v);
  return ip;
}

double tsc_per_ns() {
  const auto t0 = std::chrono::steady_clock::now();
  const uint64_t c0 = __rdtsc();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto t1 = std::chrono::steady_clock::now();
  const uint64_t c1 = __rdtsc();
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
  return double(c1 - c0) / double(ns);
}

std::vector<uint64_t> parse_list(const char* s) {
  std::vector<uint64_t> v;
  for (const char* p = s; *p != 0;) {
    char* end = nullptr;
    v.push_back(std::strtoull(p, &end, 10));
    p = (*end == ',') ? end + 1 : end;
    if (end == p && *p != 0) break;
  }
  return v;
}

constexpr uint32_t kBurst = 32;
constexpr uint32_t kIpLen = 46;    // 64-byte frame: 14 Ethernet + 46 IP + 4 FCS
constexpr uint32_t kPayload = 6;   // 46 - 20 IPv4 - 20 TCP
constexpr Nanos kStart = 1'700'000'000ULL * flowscribe::kNsPerSec;
constexpr Nanos kGapNs = 100;      // 10 Mpps of packet time

struct Result {
  double ns_per_pkt;
  double cycles_per_pkt;
};

// Baseline: reading the trace and building key + hash, without the table.
Result run_key_hash(const std::vector<Packet>& trace, double tsc_ns, uint64_t& sink) {
  const uint64_t c0 = __rdtsc();
  for (const Packet& p : trace) {
    FlowKey key;
    const bool s0 =
        make_flow_key(4, flowscribe::kIpProtoTcp, p.src, p.dst, p.sport, p.dport, 0, key);
    sink += flow_hash(key) + s0;
  }
  const uint64_t cycles = __rdtsc() - c0;
  return {double(cycles) / tsc_ns / double(trace.size()), double(cycles) / double(trace.size())};
}

template <bool kPipelined>
Result run(FlowTable& t, const std::vector<Packet>& trace, Nanos& now, double tsc_ns,
           uint64_t& sink) {
  uint64_t ended = 0;
  auto cb = [&ended](Flow&, EndReason) { ++ended; };
  const uint64_t c0 = __rdtsc();
  const size_t n = trace.size() / kBurst * kBurst;
  for (size_t base = 0; base < n; base += kBurst) {
    const Packet* p = &trace[base];
    if constexpr (kPipelined) {
      FlowKey keys[kBurst];
      uint32_t hashes[kBurst];
      bool side0[kBurst];
      for (uint32_t i = 0; i < kBurst; ++i) {
        side0[i] = make_flow_key(4, flowscribe::kIpProtoTcp, p[i].src, p[i].dst, p[i].sport,
                                 p[i].dport, 0, keys[i]);
        hashes[i] = flow_hash(keys[i]);
        t.prefetch(hashes[i]);
      }
      for (uint32_t i = 0; i < kBurst; ++i) t.prefetch_flow(hashes[i]);
      for (uint32_t i = 0; i < kBurst; ++i) {
        now += kGapNs;
        sink += t.on_packet(keys[i], hashes[i], side0[i], now, kIpLen, p[i].flags, kPayload, cb)
                    ->pkts[0];
      }
    } else {
      for (uint32_t i = 0; i < kBurst; ++i) {
        FlowKey key;
        const bool s0 = make_flow_key(4, flowscribe::kIpProtoTcp, p[i].src, p[i].dst,
                                      p[i].sport, p[i].dport, 0, key);
        now += kGapNs;
        sink += t.on_packet(key, flow_hash(key), s0, now, kIpLen, p[i].flags, kPayload, cb)
                    ->pkts[0];
      }
    }
    t.advance(now, cb);
  }
  const uint64_t cycles = __rdtsc() - c0;
  sink += ended;
  return {double(cycles) / tsc_ns / double(n), double(cycles) / double(n)};
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<uint64_t> flow_counts = {1000, 100000, 1000000};
  uint64_t packets = 4'000'000;
  int reps = 3;
  uint64_t capacity = 1 << 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--flows") {
      flow_counts = parse_list(argv[i + 1]);
    } else if (a == "--packets") {
      packets = std::strtoull(argv[i + 1], nullptr, 10);
    } else if (a == "--reps") {
      reps = std::atoi(argv[i + 1]);
    } else if (a == "--capacity") {
      capacity = std::strtoull(argv[i + 1], nullptr, 10);
    } else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  const double tsc_ns = tsc_per_ns();
  std::printf("TSC %.3f GHz, %" PRIu64 " packets per run, best of %d, 64-byte TCP packets\n",
              tsc_ns, packets, reps);
  std::printf("%10s %8s %10s %12s %8s %10s\n", "flows", "mode", "ns/pkt", "cycles/pkt", "Mpps",
              "create ns");
  uint64_t sink = 0;
  for (const uint64_t nflows : flow_counts) {
    FlowTableConfig cfg;
    cfg.capacity = static_cast<uint32_t>(std::max(capacity, nflows));
    auto table = FlowTable::create(cfg);
    if (!table.ok()) {
      std::fprintf(stderr, "%s\n", table.status().ToString().c_str());
      return 1;
    }
    FlowTable& t = **table;

    uint64_t seed = 0x5EED + nflows;
    std::vector<Tuple> tuples(nflows);
    for (Tuple& tp : tuples) {
      const uint64_t r = splitmix(seed);
      tp = {0x0A000000u | uint32_t(r & 0xFFFFFF), 0xAC100000u | uint32_t((r >> 24) & 0xFFFFF),
            uint16_t(1024 + (r >> 44) % 64000), uint16_t((r >> 60) ? 443 : 80)};
    }
    std::vector<Packet> trace(packets);
    for (Packet& p : trace) {
      const uint64_t r = splitmix(seed);
      const Tuple& tp = tuples[r % nflows];
      const bool fwd = (r >> 63) != 0;
      p.src = ip4(fwd ? tp.a : tp.b);
      p.dst = ip4(fwd ? tp.b : tp.a);
      p.sport = fwd ? tp.pa : tp.pb;
      p.dport = fwd ? tp.pb : tp.pa;
      p.flags = flowscribe::kTcpAck;
    }

    // Create every flow first (midstream ACKs), timed separately.
    Nanos now = kStart;
    auto cb = [](Flow&, EndReason) {};
    const uint64_t c0 = __rdtsc();
    for (const Tuple& tp : tuples) {
      FlowKey key;
      const bool s0 = make_flow_key(4, flowscribe::kIpProtoTcp, ip4(tp.a), ip4(tp.b), tp.pa,
                                    tp.pb, 0, key);
      now += kGapNs;
      t.on_packet(key, flow_hash(key), s0, now, kIpLen, flowscribe::kTcpAck, kPayload, cb);
    }
    const double create_ns = double(__rdtsc() - c0) / tsc_ns / double(nflows);
    if (t.size() != nflows) {
      std::fprintf(stderr, "expected %" PRIu64 " flows, table holds %u\n", nflows, t.size());
      return 1;
    }

    static const char* const kModes[] = {"key+hash", "simple", "burst"};
    for (int mode = 0; mode < 3; ++mode) {
      Result best{1e99, 1e99};
      for (int r = 0; r < reps; ++r) {
        const Result res = mode == 0   ? run_key_hash(trace, tsc_ns, sink)
                           : mode == 1 ? run<false>(t, trace, now, tsc_ns, sink)
                                       : run<true>(t, trace, now, tsc_ns, sink);
        if (res.cycles_per_pkt < best.cycles_per_pkt) best = res;
      }
      std::printf("%10" PRIu64 " %8s %10.1f %12.1f %8.2f %10.1f\n", nflows, kModes[mode],
                  best.ns_per_pkt, best.cycles_per_pkt, 1e3 / best.ns_per_pkt, create_ns);
    }
    if (t.size() != nflows || t.counters().flow_evicted.get() != 0) {
      std::fprintf(stderr, "flows were lost during the run\n");
      return 1;
    }
    std::printf("%10s memory %.1f MiB (%.1f B/flow of capacity, index %.1f B/flow)\n", "",
                double(t.memory_bytes()) / (1 << 20), double(t.memory_bytes()) / t.capacity(),
                double(t.index_bytes()) / t.capacity());
  }
  return sink == 42 ? 1 : 0;  // keeps the work observable
}
