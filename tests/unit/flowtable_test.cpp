// Flow table: canonical keys, index at capacity, timers per state, lazy rescheduling, interim
// records, time jumps, eviction order, direction rules, flush. No DPDK, no hugepages.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstring>
#include <array>
#include <map>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "flowtable/flow_table.h"

namespace flowscribe::flow {
namespace {

constexpr Nanos kT0 = 1'700'000'000ULL * kNsPerSec;  // a realistic epoch time

Nanos at(double seconds) { return kT0 + static_cast<Nanos>(seconds * 1e9); }

IpAddr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  IpAddr ip{};
  ip.b[0] = a;
  ip.b[1] = b;
  ip.b[2] = c;
  ip.b[3] = d;
  return ip;
}

IpAddr v6(uint16_t first, uint16_t last) {
  IpAddr ip{};
  ip.b[0] = static_cast<uint8_t>(first >> 8);
  ip.b[1] = static_cast<uint8_t>(first);
  ip.b[14] = static_cast<uint8_t>(last >> 8);
  ip.b[15] = static_cast<uint8_t>(last);
  return ip;
}

struct Ended {
  uint64_t sid;
  EndReason reason;
  Nanos clock;  // table clock when reported (advance time or packet time)
  Flow copy;
};

// One side of a conversation; send() builds the key like the worker does.
struct Endpoint {
  IpAddr ip;
  uint16_t port;
};

// Default timeouts, but a small table: each SECTION re-runs its test case from the top.
FlowTableConfig small_config() {
  FlowTableConfig c;
  c.capacity = 4096;
  return c;
}

struct Harness {
  std::unique_ptr<FlowTable> table;
  std::vector<Ended> ended;
  Nanos clock = 0;

  explicit Harness(FlowTableConfig cfg = small_config()) {
    auto t = FlowTable::create(cfg);
    REQUIRE(t.ok());
    table = std::move(*t);
  }

  void record(Flow& f, EndReason r) { ended.push_back({f.sid, r, clock, f}); }

  Flow* send(const Endpoint& src, const Endpoint& dst, Nanos now, uint8_t proto = kIpProtoTcp,
             uint8_t flags = 0, uint32_t payload = 0, uint32_t ip_len = 60, uint8_t ver = 4) {
    FlowKey key;
    const bool s0 = make_flow_key(ver, proto, src.ip, dst.ip, src.port, dst.port, 0, key);
    clock = now;
    auto cb = [this](Flow& f, EndReason r) { record(f, r); };
    return table->on_packet(key, flow_hash(key), s0, now, ip_len, flags, payload, cb);
  }

  void advance(Nanos now) {
    clock = now;
    auto cb = [this](Flow& f, EndReason r) { record(f, r); };
    table->advance(now, cb);
  }

  // Advances second by second (what a busy worker effectively does).
  void run_until(Nanos from, Nanos to) {
    for (Nanos t = from; t <= to; t += kNsPerSec) advance(t);
  }

  void flush() {
    auto cb = [this](Flow& f, EndReason r) { record(f, r); };
    table->flush_all(cb);
  }

  void check() {
    const absl::Status s = table->check_consistency();
    INFO(s.ToString());
    REQUIRE(s.ok());
  }
};

const Endpoint kClient{v4(10, 0, 0, 2), 50000};
const Endpoint kServer{v4(10, 0, 0, 1), 443};

// Full handshake at time t: SYN, SYN+ACK, ACK.
Flow* handshake(Harness& h, double t) {
  h.send(kClient, kServer, at(t), kIpProtoTcp, kTcpSyn);
  h.send(kServer, kClient, at(t), kIpProtoTcp, kTcpSyn | kTcpAck);
  return h.send(kClient, kServer, at(t), kIpProtoTcp, kTcpAck);
}

}  // namespace

TEST_CASE("flow key is canonical and the hash symmetric", "[flowtable][key]") {
  FlowKey a, b;
  SECTION("IPv4") {
    const IpAddr x = v4(192, 168, 1, 10), y = v4(10, 1, 2, 3);
    const bool sa = make_flow_key(4, kIpProtoTcp, x, y, 40000, 80, 7, a);
    const bool sb = make_flow_key(4, kIpProtoTcp, y, x, 80, 40000, 7, b);
    CHECK(a == b);
    CHECK(sa != sb);
    CHECK_FALSE(sa);  // 10.1.2.3 < 192.168.1.10: destination is side 0
    CHECK(std::memcmp(a.addr[0], y.b, 4) == 0);
    CHECK(a.port[0] == 80);
    CHECK(a.port[1] == 40000);
    CHECK(a.vlan == 7);
    CHECK(a.proto == kIpProtoTcp);
    CHECK(a.ip_version == 4);
    CHECK(flow_hash(a) == flow_hash(b));
  }
  SECTION("IPv4 ignores stray bytes after the 4 address bytes") {
    IpAddr x = v4(1, 2, 3, 4), y = v4(5, 6, 7, 8);
    make_flow_key(4, kIpProtoUdp, x, y, 1, 2, 0, a);
    x.b[9] = 0xAA;
    y.b[15] = 0x55;
    make_flow_key(4, kIpProtoUdp, y, x, 2, 1, 0, b);
    CHECK(a == b);
    for (int i = 4; i < 16; ++i) CHECK(b.addr[1][i] == 0);
  }
  SECTION("IPv6 compares all 16 bytes, lexicographically") {
    const IpAddr x = v6(0x2001, 0x0002), y = v6(0x2001, 0x0001);
    const bool sa = make_flow_key(6, kIpProtoUdp, x, y, 53, 53, 0, a);
    const bool sb = make_flow_key(6, kIpProtoUdp, y, x, 53, 53, 0, b);
    CHECK(a == b);
    CHECK_FALSE(sa);
    CHECK(sb);
    CHECK(flow_hash(a) == flow_hash(b));
    // A difference in the first byte outranks one in the last.
    const IpAddr hi_first = v6(0x3000, 0x0000), lo_first = v6(0x2000, 0xFFFF);
    CHECK_FALSE(make_flow_key(6, kIpProtoTcp, hi_first, lo_first, 1, 1, 0, a));
  }
  SECTION("same address, different ports: the lower port is side 0") {
    const IpAddr x = v4(127, 0, 0, 1);
    CHECK(make_flow_key(4, kIpProtoTcp, x, x, 1000, 2000, 0, a));
    CHECK_FALSE(make_flow_key(4, kIpProtoTcp, x, x, 2000, 1000, 0, b));
    CHECK(a == b);
    CHECK(a.port[0] == 1000);
    CHECK(flow_hash(a) == flow_hash(b));
  }
  SECTION("the address decides before the port") {
    CHECK(make_flow_key(4, kIpProtoTcp, v4(1, 1, 1, 1), v4(1, 1, 1, 2), 65535, 1, 0, a));
  }
  SECTION("identical endpoints: src is side 0 both ways") {
    const IpAddr x = v4(127, 0, 0, 1);
    CHECK(make_flow_key(4, kIpProtoUdp, x, x, 5, 5, 0, a));
  }
  SECTION("vlan, protocol and version are part of the key") {
    const IpAddr x = v4(1, 2, 3, 4), y = v4(5, 6, 7, 8);
    make_flow_key(4, kIpProtoTcp, x, y, 1, 2, 0, a);
    make_flow_key(4, kIpProtoTcp, x, y, 1, 2, 1, b);
    CHECK_FALSE(a == b);
    make_flow_key(4, kIpProtoUdp, x, y, 1, 2, 0, b);
    CHECK_FALSE(a == b);
    CHECK(flow_hash(a) != flow_hash(b));
  }
  SECTION("hash spreads random keys") {
    std::mt19937_64 rng(1);
    std::set<uint32_t> hashes;
    std::array<int, 16> low{}, high{};
    constexpr int kN = 100000;
    for (int i = 0; i < kN; ++i) {
      const uint64_t r = rng();
      make_flow_key(4, kIpProtoTcp, v4(10, 0, uint8_t(r >> 8), uint8_t(r)),
                    v4(10, 1, 0, uint8_t(r >> 16)), uint16_t(r >> 24), 80, 0, a);
      const uint32_t hv = flow_hash(a);
      hashes.insert(hv);
      ++low[hv & 15];
      ++high[hv >> 28];
    }
    CHECK(hashes.size() > kN - 20);  // birthday bound: ~1 collision expected
    for (int i = 0; i < 16; ++i) {
      CHECK(low[i] > kN / 16 * 9 / 10);
      CHECK(high[i] > kN / 16 * 9 / 10);
    }
  }
}

TEST_CASE("create() validates the configuration", "[flowtable]") {
  FlowTableConfig c;
  c.capacity = 0;
  auto r = FlowTable::create(c);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(r.status().message().find("capacity") != std::string_view::npos);

  c.capacity = FlowTable::kMaxCapacity + 1;
  CHECK(FlowTable::create(c).status().code() == absl::StatusCode::kInvalidArgument);

  c = {};
  c.capacity = 16;
  c.worker_id = 256;
  CHECK_FALSE(FlowTable::create(c).ok());

  c = {};
  c.capacity = 16;
  c.udp_idle_timeout_s = 0;
  r = FlowTable::create(c);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("--udp-idle") != std::string_view::npos);

  c = {};
  c.capacity = 16;
  c.active_timeout_s = 0;  // off is allowed
  CHECK(FlowTable::create(c).ok());

  const uint64_t phys = uint64_t(sysconf(_SC_PHYS_PAGES)) * uint64_t(sysconf(_SC_PAGESIZE));
  if (phys < uint64_t{FlowTable::kMaxCapacity} * sizeof(Flow)) {
    c = {};
    c.capacity = FlowTable::kMaxCapacity;
    r = FlowTable::create(c);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == absl::StatusCode::kResourceExhausted);
    CHECK(r.status().message().find("MiB") != std::string_view::npos);
  }
}

TEST_CASE("memory per flow", "[flowtable][memory]") {
  // Issue 6: at most 128 bytes per tracked flow in the table, its index share included, for
  // any capacity (the index follows the capacity, not a power of two).
  CHECK(sizeof(Flow) == 112);
  for (uint32_t cap : {1u, 7u, 1000u, 65536u, 100000u, 1u << 20, 1500000u}) {
    FlowTableConfig c;
    c.capacity = cap;
    Harness h(c);
    const size_t map_bytes = h.table->memory_bytes() - sizeof(FlowTable);
    const double per_flow = double(map_bytes) / cap;
    const double index_per_flow = double(h.table->index_bytes()) / cap;
    INFO("capacity " << cap << ": bytes per flow " << per_flow << ", index " << index_per_flow);
    if (cap >= 1000) {
      CHECK(index_per_flow <= 64.0 / 6 + 0.1);
      CHECK(per_flow <= 128.0);
    }
    CHECK(h.table->capacity() == cap);
    CHECK(h.table->size() == 0);
    // The whole table fits the mapping it reports: the records, at most 48 bytes of padding
    // (the index starts on a cache line), the index.
    const size_t records = size_t{cap} * sizeof(Flow);
    CHECK(map_bytes == (records + 63) / 64 * 64 + h.table->index_bytes());
    CHECK(h.table->check_consistency().ok());  // which checks the index's alignment
  }
}

TEST_CASE("index: 100K flows at capacity, expiry of half, refill, overflow", "[flowtable][index]") {
  constexpr uint32_t kN = 100000;
  FlowTableConfig c;
  c.capacity = kN;
  Harness h(c);
  std::mt19937_64 rng(42);
  std::vector<std::pair<Endpoint, Endpoint>> flows;
  std::set<uint64_t> unique;
  while (flows.size() < kN) {
    const uint64_t r = rng();
    Endpoint a{v4(10, uint8_t(r), uint8_t(r >> 8), uint8_t(r >> 16)), uint16_t(r >> 24)};
    Endpoint b{v4(172, 16, uint8_t(r >> 40), uint8_t(r >> 48)), uint16_t(r >> 56 | 1024)};
    if (unique.insert(r).second) flows.emplace_back(a, b);  // r holds every random bit used
  }
  std::vector<uint64_t> sids(kN);
  for (uint32_t i = 0; i < kN; ++i) {
    Flow* f = h.send(flows[i].first, flows[i].second, at(0), kIpProtoUdp);
    sids[i] = f->sid;
  }
  CHECK(h.table->size() == kN);
  CHECK(h.table->counters().flow_created.get() == kN);
  CHECK(h.table->counters().flow_evicted.get() == 0);
  CHECK(h.table->counters().flow_evict_index_full.get() == 0);
  h.check();

  auto find = [&](uint32_t i) {
    FlowKey k;
    make_flow_key(4, kIpProtoUdp, flows[i].second.ip, flows[i].first.ip, flows[i].second.port,
                  flows[i].first.port, 0, k);
    return h.table->find(k, flow_hash(k));
  };
  for (uint32_t i = 0; i < kN; ++i) {
    const Flow* f = find(i);
    REQUIRE(f != nullptr);
    REQUIRE(f->sid == sids[i]);
  }

  // Reverse-direction packets for the even flows at t=30: they stay, the odd ones expire.
  for (uint32_t i = 0; i < kN; i += 2) {
    REQUIRE(h.send(flows[i].second, flows[i].first, at(30), kIpProtoUdp)->sid == sids[i]);
  }
  h.run_until(at(1), at(62));
  CHECK(h.ended.size() == kN / 2);
  CHECK(h.table->size() == kN / 2);
  CHECK(h.table->counters().flow_expired_idle.get() == kN / 2);
  for (const Ended& e : h.ended) REQUIRE(e.reason == EndReason::kIdle);
  h.check();
  for (uint32_t i = 0; i < kN; ++i) {
    const Flow* f = find(i);
    if (i % 2 == 0) {
      REQUIRE(f != nullptr);
      REQUIRE(f->sid == sids[i]);
      REQUIRE(f->pkts[0] + f->pkts[1] == 2);
    } else {
      REQUIRE(f == nullptr);
    }
  }

  // Refill the freed half: deletions must not have broken any lookup path.
  for (uint32_t i = 1; i < kN; i += 2) {
    sids[i] = h.send(flows[i].first, flows[i].second, at(63), kIpProtoUdp)->sid;
  }
  CHECK(h.table->size() == kN);
  h.check();
  for (uint32_t i = 0; i < kN; ++i) REQUIRE(find(i)->sid == sids[i]);

  // Over capacity: every new flow recycles one, the table never refuses.
  h.ended.clear();
  for (uint32_t i = 0; i < 1000; ++i) {
    const Endpoint a{v4(192, 168, uint8_t(i >> 8), uint8_t(i)), 1234};
    REQUIRE(h.send(a, kServer, at(64), kIpProtoUdp) != nullptr);
  }
  CHECK(h.table->size() == kN);
  CHECK(h.table->counters().flow_evicted.get() == 1000);
  CHECK(h.ended.size() == 1000);
  // The even flows (last seen at t=30) are the oldest: they go first.
  for (const Ended& e : h.ended) {
    REQUIRE(e.reason == EndReason::kEvicted);
    REQUIRE(e.copy.last_ns == at(30));
  }
  h.check();
}

TEST_CASE("index: random churn agrees with a reference map", "[flowtable][index]") {
  FlowTableConfig c;
  c.capacity = 2000;
  c.udp_idle_timeout_s = 20;
  c.tcp_syn_timeout_s = 5;
  c.tcp_idle_timeout_s = 40;
  c.active_timeout_s = 30;
  Harness h(c);
  std::map<std::string, uint64_t> live;  // key bytes -> sid
  auto key_id = [](const Flow& f) {
    return std::string(reinterpret_cast<const char*>(&f.key), sizeof(FlowKey));
  };
  std::mt19937_64 rng(7);
  Nanos now = at(0);
  for (int step = 0; step < 300000; ++step) {
    now += rng() % 2000000;  // ~1 ms between packets: 300 s in all
    const uint64_t r = rng();
    // 3000 tuples over 2000 slots (constant eviction), then 1000 (the rest time out).
    const uint32_t n = uint32_t(r % (step < 150000 ? 3000 : 1000));
    const Endpoint a{v4(10, 0, uint8_t(n >> 8), uint8_t(n)), uint16_t(1024 + n)};
    const Endpoint b{v4(10, 9, 9, uint8_t(n % 7)), uint16_t(n % 2 ? 80 : 5353)};
    const uint8_t proto = n % 3 ? kIpProtoTcp : kIpProtoUdp;
    const uint8_t flags_pick[] = {kTcpSyn, kTcpSyn | kTcpAck, kTcpAck, kTcpAck, kTcpAck,
                                  kTcpAck | kTcpPsh, kTcpFin | kTcpAck, kTcpRst};
    const uint8_t flags = flags_pick[(r >> 32) % 8];
    const bool fwd = (r >> 40) & 1;
    const size_t before = h.ended.size();
    Flow* f = fwd ? h.send(a, b, now, proto, flags, 10) : h.send(b, a, now, proto, flags, 10);
    for (size_t i = before; i < h.ended.size(); ++i) {
      if (h.ended[i].reason != EndReason::kNone) REQUIRE(live.erase(key_id(h.ended[i].copy)) == 1);
    }
    auto [it, inserted] = live.emplace(key_id(*f), f->sid);
    REQUIRE(it->second == f->sid);
    if ((step & 255) == 0) {
      const size_t before_adv = h.ended.size();
      h.advance(now);
      for (size_t i = before_adv; i < h.ended.size(); ++i) {
        if (h.ended[i].reason != EndReason::kNone) {
          REQUIRE(live.erase(key_id(h.ended[i].copy)) == 1);
        }
      }
      REQUIRE(live.size() == h.table->size());
    }
    if ((step & 16383) == 0) h.check();
  }
  h.check();
  const FlowCounters& k = h.table->counters();
  // Every flow ends exactly once, with one of the five final reasons.
  CHECK(k.flow_created.get() == h.table->size() + k.flow_expired_idle.get() +
                                    k.flow_ended_fin.get() + k.flow_ended_rst.get() +
                                    k.flow_evicted.get() + k.flow_flushed.get());
  CHECK(k.flow_tcp_reused.get() > 0);
  CHECK(k.flow_interim.get() > 0);
  CHECK(h.table->counters().flow_evicted.get() > 0);
  CHECK(h.table->counters().flow_ended_rst.get() > 0);
  CHECK(h.table->counters().flow_expired_idle.get() > 0);
  h.flush();
  CHECK(h.table->size() == 0);
  h.check();
}

TEST_CASE("index: small and odd capacities keep every flow findable", "[flowtable][index]") {
  // Bucket counts of 2, 3, 17, ...: the (g - b) mod n second bucket, keys whose two buckets
  // are one, and eviction when the table is full, checked after every packet.
  for (uint32_t cap : {1u, 2u, 3u, 5u, 13u, 97u, 1001u}) {
    INFO("capacity " << cap);
    FlowTableConfig c;
    c.capacity = cap;
    Harness h(c);
    std::mt19937_64 rng(cap);
    std::vector<FlowKey> live;
    for (uint32_t i = 0; i < 4 * cap + 8; ++i) {
      const uint64_t r = rng();
      const Endpoint e{v4(10, uint8_t(r), uint8_t(r >> 8), uint8_t(i)), uint16_t(1024 + i)};
      const size_t before = h.ended.size();
      const Flow* f = h.send(e, kServer, at(i * 0.01), kIpProtoUdp);  // 40 s: none expires
      for (size_t k = before; k < h.ended.size(); ++k) {
        REQUIRE(h.ended[k].reason == EndReason::kEvicted);
        const auto it = std::find(live.begin(), live.end(), h.ended[k].copy.key);
        REQUIRE(it != live.end());
        live.erase(it);
      }
      live.push_back(f->key);
      REQUIRE(h.table->size() == std::min<uint32_t>(i + 1, cap));
      REQUIRE(live.size() == h.table->size());
      if (cap < 1000 || i % 97 == 0) h.check();
    }
    for (const FlowKey& k : live) REQUIRE(h.table->find(k, flow_hash(k)) != nullptr);
    h.flush();
    CHECK(h.table->size() == 0);
    h.check();
  }
}

TEST_CASE("index: full at the maximum load factor (3/4) needs cuckoo moves", "[flowtable][index]") {
  FlowTableConfig c;
  c.capacity = 6 * 4096;  // exactly 4096 buckets of 8: 75% of the slots in use when full
  Harness h(c);
  std::mt19937_64 rng(99);
  std::vector<Endpoint> eps;
  std::set<uint64_t> unique;
  for (int round = 0; round < 4; ++round) {
    // Fill, check, then let everything expire and refill with other keys.
    eps.clear();
    while (eps.size() < c.capacity) {
      const uint64_t r = rng() & 0xFFFFFFFFFFFFull;
      if (!unique.insert(r).second) continue;
      eps.push_back(Endpoint{v4(uint8_t(r), uint8_t(r >> 8), uint8_t(r >> 16), uint8_t(r >> 24)),
                             uint16_t(r >> 32)});
    }
    const double t = 1000.0 * round;
    for (const Endpoint& e : eps) h.send(e, kServer, at(t), kIpProtoUdp);
    REQUIRE(h.table->size() == c.capacity);
    REQUIRE(h.table->counters().flow_evicted.get() == 0);
    h.check();
    for (const Endpoint& e : eps) {
      FlowKey k;
      make_flow_key(4, kIpProtoUdp, e.ip, kServer.ip, e.port, kServer.port, 0, k);
      REQUIRE(h.table->find(k, flow_hash(k)) != nullptr);
    }
    h.advance(at(t + 61));
    REQUIRE(h.table->size() == 0);
  }
}

TEST_CASE("index: both buckets full falls back to eviction", "[flowtable][index]") {
  // White box: mirrors primary_bucket/alt_bucket to build 17 keys that share one bucket
  // pair, so no displacement can help. 100 flows -> 17 buckets (load 3/4 at capacity).
  FlowTableConfig c;
  c.capacity = 100;
  Harness h(c);
  REQUIRE(h.table->index_bytes() == 17 * 64);
  constexpr uint64_t kBuckets = 17;
  auto pair_of = [&](uint32_t hash) {
    const uint32_t sig = hash != 0 ? hash : 1;
    const auto scale = [](uint32_t x) { return static_cast<uint32_t>((x * kBuckets) >> 32); };
    const uint32_t p = scale(sig * 0x9E3779B1u);
    const uint32_t g = scale((sig ^ (sig >> 15)) * 0x85EBCA6Bu);
    const uint32_t alt = g >= p ? g - p : g + kBuckets - p;
    return std::min(p, alt) << 8 | std::max(p, alt);
  };
  std::vector<Endpoint> same;
  uint32_t want = 0;
  for (uint32_t n = 0; same.size() < 17; ++n) {
    const Endpoint a{v4(10, 2, uint8_t(n >> 8), uint8_t(n)), 40000};
    FlowKey k;
    make_flow_key(4, kIpProtoUdp, a.ip, kServer.ip, a.port, kServer.port, 0, k);
    const uint32_t pr = pair_of(flow_hash(k));
    if (same.empty()) want = pr;
    if (pr == want) same.push_back(a);
  }
  for (int i = 0; i < 16; ++i) h.send(same[i], kServer, at(i), kIpProtoUdp);
  CHECK(h.table->counters().flow_evict_index_full.get() == 0);
  h.send(same[16], kServer, at(20), kIpProtoUdp);
  CHECK(h.table->counters().flow_evict_index_full.get() == 1);
  CHECK(h.table->counters().flow_evicted.get() == 1);
  REQUIRE(h.ended.size() == 1);
  CHECK(h.ended[0].copy.first_ns == at(0));  // earliest deadline of the 16
  CHECK(h.table->size() == 16);
  h.check();
}

TEST_CASE("timers per state", "[flowtable][timers]") {
  Harness h;
  SECTION("SYN only: handshake timeout") {
    Flow* f = h.send(kClient, kServer, at(0), kIpProtoTcp, kTcpSyn);
    CHECK(f->tcp_state == TcpState::kSynSent);
    h.run_until(at(0), at(29.5));
    CHECK(h.ended.empty());
    h.run_until(at(30), at(31));
    REQUIRE(h.ended.size() == 1);
    CHECK(h.ended[0].reason == EndReason::kIdle);
    CHECK(h.ended[0].clock >= at(30));
    CHECK(h.ended[0].clock <= at(31));
  }
  SECTION("SYN+ACK seen: still handshake timeout") {
    h.send(kClient, kServer, at(0), kIpProtoTcp, kTcpSyn);
    Flow* f = h.send(kServer, kClient, at(0), kIpProtoTcp, kTcpSyn | kTcpAck);
    CHECK(f->tcp_state == TcpState::kSynAckSeen);
    h.run_until(at(0), at(31));
    CHECK(h.ended.size() == 1);
  }
  SECTION("established: idle timeout") {
    Flow* f = handshake(h, 0);
    CHECK(f->tcp_state == TcpState::kEstablished);
    h.run_until(at(0), at(299));
    CHECK(h.ended.empty());
    h.run_until(at(300), at(301));
    REQUIRE(h.ended.size() == 1);
    CHECK(h.ended[0].reason == EndReason::kIdle);
    CHECK(h.table->counters().flow_expired_idle.get() == 1);
  }
  SECTION("FIN both ways: linger then fin") {
    handshake(h, 0);
    h.send(kClient, kServer, at(10), kIpProtoTcp, kTcpFin | kTcpAck);
    Flow* f = h.send(kServer, kClient, at(10), kIpProtoTcp, kTcpFin | kTcpAck);
    CHECK(f->tcp_state == TcpState::kClosed);
    CHECK(f->fin_seen == 3);
    h.send(kClient, kServer, at(11), kIpProtoTcp, kTcpAck);  // last ACK extends the linger
    h.run_until(at(0), at(15.5));
    CHECK(h.ended.empty());
    h.run_until(at(16), at(17));
    REQUIRE(h.ended.size() == 1);
    CHECK(h.ended[0].reason == EndReason::kFin);
    CHECK(h.ended[0].clock <= at(17));
    CHECK(h.table->counters().flow_ended_fin.get() == 1);
    h.check();
  }
  SECTION("linger 0: ends at the next tick") {
    FlowTableConfig c = small_config();
    c.tcp_closed_timeout_s = 0;
    Harness g(c);
    handshake(g, 0);
    g.send(kServer, kClient, at(3.5), kIpProtoTcp, kTcpRst);
    g.advance(at(3.9));
    CHECK(g.ended.empty());
    g.advance(at(4));
    REQUIRE(g.ended.size() == 1);
    CHECK(g.ended[0].reason == EndReason::kRst);
  }
  SECTION("FIN one way: half-closed keeps the established timeout") {
    handshake(h, 0);
    Flow* f = h.send(kClient, kServer, at(1), kIpProtoTcp, kTcpFin | kTcpAck);
    CHECK(f->tcp_state == TcpState::kClosing);
    h.run_until(at(0), at(200));
    CHECK(h.ended.empty());
  }
  SECTION("RST: linger then rst") {
    handshake(h, 0);
    h.send(kServer, kClient, at(20), kIpProtoTcp, kTcpRst);
    h.run_until(at(0), at(24.5));
    CHECK(h.ended.empty());
    h.run_until(at(25), at(26));
    REQUIRE(h.ended.size() == 1);
    CHECK(h.ended[0].reason == EndReason::kRst);
    CHECK(h.table->counters().flow_ended_rst.get() == 1);
  }
  SECTION("FIN from one side then RST: rst") {
    handshake(h, 0);
    h.send(kClient, kServer, at(1), kIpProtoTcp, kTcpFin | kTcpAck);
    h.send(kServer, kClient, at(1), kIpProtoTcp, kTcpRst);
    h.run_until(at(0), at(7));
    REQUIRE(h.ended.size() == 1);
    CHECK(h.ended[0].reason == EndReason::kRst);
  }
  SECTION("UDP idle") {
    h.send(kClient, kServer, at(0), kIpProtoUdp);
    h.run_until(at(0), at(59));
    CHECK(h.ended.empty());
    h.run_until(at(60), at(61));
    REQUIRE(h.ended.size() == 1);
    CHECK(h.ended[0].reason == EndReason::kIdle);
  }
  SECTION("other transports") {
    h.send(Endpoint{kClient.ip, 7}, Endpoint{kServer.ip, 7}, at(0), kIpProtoIcmp);
    h.run_until(at(0), at(59));
    CHECK(h.ended.empty());
    h.run_until(at(60), at(61));
    CHECK(h.ended.size() == 1);
  }
  SECTION("advance is lazy within a second") {
    h.send(kClient, kServer, at(0), kIpProtoUdp);
    h.advance(at(61.2));
    CHECK(h.ended.size() == 1);
  }
}

TEST_CASE("lazy rescheduling: steady traffic never expires early", "[flowtable][timers]") {
  Harness h;
  handshake(h, 0);
  h.send(kClient, kServer, at(0), kIpProtoUdp);
  for (int s = 1; s <= 2000; ++s) {
    if (s % 50 == 0) {
      h.send(kClient, kServer, at(s), kIpProtoTcp, kTcpAck, 100);
      h.send(kServer, kClient, at(s), kIpProtoUdp);
    }
    h.advance(at(s));
  }
  // Active timeout (1800 s) produced one interim per flow; nothing ended.
  CHECK(h.table->size() == 2);
  for (const Ended& e : h.ended) CHECK(e.reason == EndReason::kNone);
  CHECK(h.ended.size() == 2);
  // Traffic stops at 2000: UDP ends at 2060, TCP at 2300.
  h.run_until(at(2001), at(2059));
  CHECK(h.table->size() == 2);
  h.run_until(at(2060), at(2061));
  CHECK(h.table->size() == 1);
  h.run_until(at(2062), at(2299));
  CHECK(h.table->size() == 1);
  h.run_until(at(2300), at(2301));
  CHECK(h.table->size() == 0);
  h.check();
}

TEST_CASE("active timeout: interim callbacks with cumulative counters", "[flowtable][timers]") {
  FlowTableConfig c = small_config();
  c.active_timeout_s = 100;
  Harness h(c);
  uint64_t sid = 0;
  for (int s = 0; s <= 350; ++s) {
    if (s % 5 == 0) sid = h.send(kClient, kServer, at(s), kIpProtoUdp, 0, 0, 100)->sid;
    h.advance(at(s));
  }
  REQUIRE(h.ended.size() == 3);
  for (int i = 0; i < 3; ++i) {
    const Ended& e = h.ended[i];
    CHECK(e.reason == EndReason::kNone);
    CHECK(e.sid == sid);
    CHECK(e.clock == at(100 * (i + 1)));  // due exactly on a tick boundary
    CHECK(e.copy.interim_seq == i);  // interval i started at 100 * i
    CHECK(e.copy.first_ns == at(0));
    CHECK(e.copy.pkts[0] + e.copy.pkts[1] == uint32_t(100 * (i + 1) / 5 + 1));  // cumulative
  }
  CHECK(h.table->counters().flow_interim.get() == 3);
  CHECK(h.table->size() == 1);

  SECTION("intervals stay on first_ns + k * timeout, past 2^16 of them") {
    // Flow::interim_seq keeps the interval index mod 2^16: 70,000 two-second intervals of
    // one flow (a packet every 10 s) must give one interim report every other tick.
    FlowTableConfig one = small_config();
    one.active_timeout_s = 2;
    Harness g(one);
    const Nanos start = at(0) + kNsPerSec / 2;  // boundaries at .5 s: reported at the next tick
    g.send(kClient, kServer, start, kIpProtoUdp);
    uint64_t reports = 0;
    for (int s = 1; s <= 140000; ++s) {
      if (s % 10 == 0) g.send(kClient, kServer, at(s), kIpProtoUdp);
      g.advance(at(s));
      reports += g.ended.size();
      for (const Ended& e : g.ended) REQUIRE(e.reason == EndReason::kNone);
      g.ended.clear();
      if (s == 5 || s == 140000) g.check();
    }
    CHECK(reports == 69999);  // boundaries 2.5, 4.5 .. 139998.5 s
    CHECK(g.table->counters().flow_interim.get() == 69999);
  }

  SECTION("off when 0") {
    FlowTableConfig off = small_config();
    off.active_timeout_s = 0;
    Harness g(off);
    for (int s = 0; s <= 4000; ++s) {
      if (s % 5 == 0) g.send(kClient, kServer, at(s), kIpProtoUdp);
      g.advance(at(s));
    }
    CHECK(g.ended.empty());
  }
}

TEST_CASE("time jumps and long timeouts", "[flowtable][timers]") {
  SECTION("capture gap of hours: one sweep, everything due ends") {
    Harness h;
    for (uint16_t i = 0; i < 100; ++i) {
      h.send(Endpoint{kClient.ip, uint16_t(2000 + i)}, kServer, at(i), kIpProtoUdp);
    }
    h.advance(at(5 * 3600));
    CHECK(h.ended.size() == 100);
    CHECK(h.table->size() == 0);
    CHECK(h.table->counters().flow_time_jump.get() == 1);
    // The wheel is back in the present: a new flow expires on time.
    h.ended.clear();
    h.send(kClient, kServer, at(5 * 3600 + 1), kIpProtoUdp);
    h.run_until(at(5 * 3600 + 1), at(5 * 3600 + 60));
    CHECK(h.ended.empty());
    h.run_until(at(5 * 3600 + 61), at(5 * 3600 + 62));
    CHECK(h.ended.size() == 1);
    h.check();
  }
  SECTION("timeouts longer than the wheel span") {
    FlowTableConfig c = small_config();
    c.tcp_idle_timeout_s = 3600;  // > 1024 s wheel
    c.active_timeout_s = 0;
    Harness h(c);
    handshake(h, 0);
    for (int s = 0; s <= 3599; s += 7) h.advance(at(s));
    CHECK(h.ended.empty());
    h.check();
    h.run_until(at(3600), at(3601));
    REQUIRE(h.ended.size() == 1);
    CHECK(h.ended[0].reason == EndReason::kIdle);
  }
  SECTION("jump shorter than a long timeout keeps the flow") {
    FlowTableConfig c = small_config();
    c.udp_idle_timeout_s = 9000;
    c.active_timeout_s = 0;
    Harness h(c);
    h.send(kClient, kServer, at(0), kIpProtoUdp);
    h.advance(at(7200));
    CHECK(h.ended.empty());
    h.check();
    h.advance(at(8999));
    CHECK(h.ended.empty());
    h.advance(at(9000.5));
    CHECK(h.ended.size() == 1);
  }
  SECTION("time going backwards is clamped and counted") {
    Harness h;
    h.send(kClient, kServer, at(10), kIpProtoUdp);
    Flow* f = h.send(kServer, kClient, at(5), kIpProtoUdp);
    CHECK(f->last_ns == at(10));
    CHECK(h.table->counters().flow_time_went_backwards.get() == 1);
    h.advance(at(3));
    CHECK(h.ended.empty());
  }
}

TEST_CASE("eviction: oldest idle first", "[flowtable][evict]") {
  FlowTableConfig c;
  c.capacity = 4;
  Harness h(c);
  std::vector<uint64_t> sid;
  for (uint16_t i = 0; i < 4; ++i) {
    const Endpoint cli{kClient.ip, uint16_t(3000 + i)};
    sid.push_back(h.send(cli, kServer, at(i), kIpProtoUdp)->sid);
  }
  h.send(Endpoint{kClient.ip, 4000}, kServer, at(5), kIpProtoUdp);
  REQUIRE(h.ended.size() == 1);
  CHECK(h.ended[0].sid == sid[0]);
  CHECK(h.ended[0].reason == EndReason::kEvicted);
  // Flow 1 is older by creation but busy now: lazily filed early, it must not be the victim.
  h.send(kServer, Endpoint{kClient.ip, 3001}, at(6), kIpProtoUdp);
  h.send(Endpoint{kClient.ip, 4001}, kServer, at(7), kIpProtoUdp);
  REQUIRE(h.ended.size() == 2);
  CHECK(h.ended[1].sid == sid[2]);
  CHECK(h.table->counters().flow_evicted.get() == 2);
  CHECK(h.table->size() == 4);
  h.check();

  SECTION("closest deadline wins: a SYN-only flow goes before an older established one") {
    FlowTableConfig c2;
    c2.capacity = 2;
    Harness g(c2);
    const uint64_t est = handshake(g, 0)->sid;
    const uint64_t syn =
        g.send(Endpoint{kClient.ip, 1}, kServer, at(10), kIpProtoTcp, kTcpSyn)->sid;
    g.send(Endpoint{kClient.ip, 2}, kServer, at(11), kIpProtoUdp);
    REQUIRE(g.ended.size() == 1);
    CHECK(g.ended[0].sid == syn);
    CHECK(g.ended[0].sid != est);
  }
}

TEST_CASE("direction decisions", "[flowtable][direction]") {
  Harness h;
  auto side_of = [](const Flow& f, const Endpoint& e) {
    return std::memcmp(f.key.addr[0], e.ip.b, 16) == 0 && f.key.port[0] == e.port ? 0 : 1;
  };
  SECTION("SYN: its sender is the client") {
    Flow* f = h.send(kClient, kServer, at(0), kIpProtoTcp, kTcpSyn);
    CHECK(f->direction_basis == uint8_t(DirectionBasis::kSyn));
    CHECK(f->client_side == side_of(*f, kClient));
    CHECK(h.table->counters().flow_midstream.get() == 0);
    Flow* g = h.send(kServer, kClient, at(0), kIpProtoTcp, kTcpSyn | kTcpAck);
    CHECK(g == f);
    CHECK(f->direction_basis == uint8_t(DirectionBasis::kSyn));
  }
  SECTION("SYN even from a low port to a high one") {
    const Endpoint a{v4(1, 1, 1, 1), 80}, b{v4(2, 2, 2, 2), 40000};
    Flow* f = h.send(a, b, at(0), kIpProtoTcp, kTcpSyn);
    CHECK(f->client_side == side_of(*f, a));
  }
  SECTION("SYN+ACK first: its receiver is the client") {
    Flow* f = h.send(kServer, kClient, at(0), kIpProtoTcp, kTcpSyn | kTcpAck);
    CHECK(f->direction_basis == uint8_t(DirectionBasis::kSynAck));
    CHECK(f->client_side == side_of(*f, kClient));
    CHECK(f->tcp_state == TcpState::kSynAckSeen);
  }
  SECTION("midstream: the well-known port is the server") {
    Flow* f = h.send(kServer, kClient, at(0), kIpProtoTcp, kTcpAck, 100);
    CHECK(f->direction_basis == uint8_t(DirectionBasis::kPort));
    CHECK(f->client_side == side_of(*f, kClient));
    CHECK(f->tcp_state == TcpState::kEstablished);
    CHECK(h.table->counters().flow_midstream.get() == 1);
    CHECK_FALSE(is_from_client(*f, f->client_side == 1));
  }
  SECTION("listed server ports above 1023") {
    for (uint16_t port : {1433, 1521, 3306, 3389, 5432, 5900, 6379, 8080, 8443, 27017}) {
      const Endpoint srv{v4(10, 9, 9, 9), port}, cli{v4(10, 9, 9, 8), 50123};
      Flow* f = h.send(srv, cli, at(0), kIpProtoUdp);
      CHECK(f->direction_basis == uint8_t(DirectionBasis::kPort));
      CHECK(f->client_side == side_of(*f, cli));
    }
  }
  SECTION("both ports low or both high: first packet") {
    const Endpoint a{v4(1, 1, 1, 1), 53}, b{v4(2, 2, 2, 2), 53};
    Flow* f = h.send(b, a, at(0), kIpProtoUdp);
    CHECK(f->direction_basis == uint8_t(DirectionBasis::kFirstPacket));
    CHECK(f->client_side == side_of(*f, b));
    const Endpoint c{v4(1, 1, 1, 1), 40000}, d{v4(2, 2, 2, 2), 50000};
    f = h.send(d, c, at(0), kIpProtoUdp);
    CHECK(f->direction_basis == uint8_t(DirectionBasis::kFirstPacket));
    CHECK(f->client_side == side_of(*f, d));
  }
  SECTION("ICMP: first packet, ports ignored") {
    const Endpoint a{v4(1, 1, 1, 1), 8}, b{v4(2, 2, 2, 2), 30000};
    Flow* f = h.send(b, a, at(0), kIpProtoIcmp);
    CHECK(f->direction_basis == uint8_t(DirectionBasis::kFirstPacket));
    CHECK(f->client_side == side_of(*f, b));
  }
  SECTION("a SYN seen later corrects a port guess") {
    const Endpoint a{v4(1, 1, 1, 1), 80}, b{v4(2, 2, 2, 2), 40000};
    Flow* f = h.send(b, a, at(0), kIpProtoTcp, kTcpAck);
    CHECK(f->client_side == side_of(*f, b));
    h.send(a, b, at(1), kIpProtoTcp, kTcpSyn);  // odd, but the handshake is authoritative
    CHECK(f->direction_basis == uint8_t(DirectionBasis::kSyn));
    CHECK(f->client_side == side_of(*f, a));
  }
}

TEST_CASE("accounting, sid, port reuse", "[flowtable]") {
  FlowTableConfig c = small_config();
  c.worker_id = 3;
  Harness h(c);
  Flow* f = h.send(kClient, kServer, at(0), kIpProtoTcp, kTcpSyn, 0, 60);
  CHECK(f->sid == ((uint64_t{3} << 56) | 1));
  h.send(kServer, kClient, at(0.1), kIpProtoTcp, kTcpSyn | kTcpAck, 0, 60);
  h.send(kClient, kServer, at(0.2), kIpProtoTcp, kTcpAck, 0, 52);
  h.send(kClient, kServer, at(0.3), kIpProtoTcp, kTcpAck | kTcpPsh, 100, 152);
  const int cs = f->client_side;
  CHECK(f->pkts[cs] == 3);
  CHECK(f->pkts[1 - cs] == 1);
  CHECK(f->bytes[cs] == 60 + 52 + 152);
  CHECK(f->bytes[1 - cs] == 60);
  CHECK(f->first_ns == at(0));
  CHECK(f->last_ns == at(0.3));
  CHECK(f->tcp_flags_seen[cs] == (kTcpSyn | kTcpAck | kTcpPsh));
  CHECK(f->tcp_flags_seen[1 - cs] == (kTcpSyn | kTcpAck));
  CHECK(f->app_state == kNoAppState);
  CHECK(f->app_proto == 0);

  // Close, then the client reuses the tuple within the linger.
  h.send(kClient, kServer, at(1), kIpProtoTcp, kTcpFin | kTcpAck);
  h.send(kServer, kClient, at(1), kIpProtoTcp, kTcpFin | kTcpAck);
  Flow* g = h.send(kClient, kServer, at(2), kIpProtoTcp, kTcpSyn);
  REQUIRE(h.ended.size() == 1);
  CHECK(h.ended[0].reason == EndReason::kFin);
  CHECK(h.ended[0].sid == ((uint64_t{3} << 56) | 1));
  CHECK(g->sid == ((uint64_t{3} << 56) | 2));
  CHECK(g->tcp_state == TcpState::kSynSent);
  CHECK(g->pkts[0] + g->pkts[1] == 1);
  CHECK(h.table->counters().flow_tcp_reused.get() == 1);
  CHECK(h.table->size() == 1);
  h.check();
}

TEST_CASE("flush_all ends every open flow with kShutdown", "[flowtable]") {
  FlowTableConfig c;
  c.capacity = 1000;
  Harness h(c);
  for (uint16_t i = 0; i < 700; ++i) {
    h.send(Endpoint{kClient.ip, uint16_t(1024 + i)}, kServer, at(i % 20),
           i % 2 ? kIpProtoUdp : kIpProtoTcp, kTcpSyn);
  }
  h.advance(at(25));
  CHECK(h.ended.empty());
  h.flush();
  CHECK(h.ended.size() == 700);
  for (const Ended& e : h.ended) REQUIRE(e.reason == EndReason::kShutdown);
  CHECK(h.table->size() == 0);
  CHECK(h.table->counters().flow_flushed.get() == 700);
  h.check();
  FlowKey k;
  make_flow_key(4, kIpProtoTcp, kClient.ip, kServer.ip, 1024, 443, 0, k);
  CHECK(h.table->find(k, flow_hash(k)) == nullptr);
  // Reusable afterwards.
  h.send(kClient, kServer, at(60), kIpProtoUdp);
  CHECK(h.table->size() == 1);
  h.check();
}

TEST_CASE("flush_all reports sessions already closed by FIN or RST as such", "[flowtable]") {
  Harness h;
  const Endpoint c2{kClient.ip, 50001};
  h.send(kClient, kServer, at(1), kIpProtoTcp, kTcpSyn);
  h.send(kServer, kClient, at(1), kIpProtoTcp, kTcpSyn | kTcpAck);
  h.send(kClient, kServer, at(1), kIpProtoTcp, kTcpAck);
  h.send(kClient, kServer, at(2), kIpProtoTcp, kTcpFin | kTcpAck);
  h.send(kServer, kClient, at(2), kIpProtoTcp, kTcpFin | kTcpAck);
  h.send(c2, kServer, at(2), kIpProtoTcp, kTcpSyn);
  h.send(kServer, c2, at(2), kIpProtoTcp, kTcpRst | kTcpAck);
  const Endpoint c3{kClient.ip, 50002};
  h.send(c3, kServer, at(2), kIpProtoTcp, kTcpSyn);
  h.flush();
  REQUIRE(h.ended.size() == 3);
  std::map<uint16_t, EndReason> by_port;
  for (const Ended& e : h.ended) {
    const Flow& f = e.copy;
    by_port[f.key.port[f.client_side]] = e.reason;
  }
  CHECK(by_port[50000] == EndReason::kFin);
  CHECK(by_port[50001] == EndReason::kRst);
  CHECK(by_port[50002] == EndReason::kShutdown);
  CHECK(h.table->size() == 0);
  h.check();
}

TEST_CASE("end_reason_name", "[flowtable]") {
  CHECK(std::string(end_reason_name(EndReason::kFin)) == "fin");
  CHECK(std::string(end_reason_name(EndReason::kRst)) == "rst");
  CHECK(std::string(end_reason_name(EndReason::kIdle)) == "idle");
  CHECK(std::string(end_reason_name(EndReason::kEvicted)) == "evicted");
  CHECK(std::string(end_reason_name(EndReason::kShutdown)) == "shutdown");
}

TEST_CASE("counters are listed once", "[flowtable]") {
  CHECK(FlowCounters::kCount == 13);
  std::set<std::string> names;
  for (const auto& i : FlowCounters::kInfo) names.insert(i.name);
  CHECK(names.size() == FlowCounters::kCount);
  for (const auto& n : names) CHECK(n.rfind("flow_", 0) == 0);
}

}  // namespace flowscribe::flow
