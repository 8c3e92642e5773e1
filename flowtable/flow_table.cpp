// Per-worker flow table. Layout, timers and eviction are described in docs/flows.md; the
// comments here say why a step is there and what it costs.
#include "flowtable/flow_table.h"

#include <nmmintrin.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <vector>

#include "absl/strings/str_format.h"

namespace flowscribe::flow {
namespace {

// Ports that mark the server side even though they are >= 1024 (databases, remote desktop,
// alternative HTTP). Ten compares, run once per new flow.
constexpr uint16_t kServerPorts[] = {1433, 1521, 3306, 3389, 5432, 5900, 6379, 8080, 8443, 27017};

constexpr bool is_server_port(uint16_t port) noexcept {
  if (port < 1024) return port != 0;  // port 0 is malformed traffic, not a service
  for (uint16_t p : kServerPorts) {
    if (port == p) return true;
  }
  return false;
}

constexpr bool has_ports(uint8_t proto) noexcept {
  return proto == kIpProtoTcp || proto == kIpProtoUdp || proto == kIpProtoSctp;
}

inline uint64_t load_be64(const uint8_t* p) noexcept {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return __builtin_bswap64(v);
}

inline void store_be64(uint8_t* p, uint64_t v) noexcept {
  v = __builtin_bswap64(v);
  std::memcpy(p, &v, sizeof(v));
}

// Ticks are whole seconds of packet time; a deadline is filed under the tick that ends at or
// after it, so a slot never fires before the deadlines it holds.
constexpr uint64_t ceil_tick(Nanos t) noexcept { return (t + kNsPerSec - 1) / kNsPerSec; }

// Timer ticks are stored in 16 bits in the flow; a flow is always filed within the wheel's
// 1024 ticks of next_tick_, so comparing modulo 2^16 is exact.
constexpr bool tick_before(uint16_t a, uint16_t b) noexcept {
  return static_cast<int16_t>(static_cast<uint16_t>(a - b)) < 0;
}
constexpr uint16_t tick16(uint64_t tick) noexcept { return static_cast<uint16_t>(tick); }

constexpr uint32_t kMaxTimeoutS = 365u * 24 * 3600;

}  // namespace

bool make_flow_key(uint8_t ip_version, uint8_t proto, const IpAddr& src, const IpAddr& dst,
                   uint16_t sport, uint16_t dport, uint16_t vlan, FlowKey& out) noexcept {
  uint64_t s_hi = load_be64(src.b), s_lo = load_be64(src.b + 8);
  uint64_t d_hi = load_be64(dst.b), d_lo = load_be64(dst.b + 8);
  if (ip_version != 6) {
    s_hi &= 0xFFFFFFFF00000000ull;
    d_hi &= 0xFFFFFFFF00000000ull;
    s_lo = 0;
    d_lo = 0;
  }
  // Branch-free: the two directions of a flow alternate, so a branch here would mispredict
  // about every other packet (~15 cycles each).
  const bool src_first = (s_hi < d_hi) | ((s_hi == d_hi) & ((s_lo < d_lo) |
                                                            ((s_lo == d_lo) & (sport <= dport))));
  store_be64(out.addr[0], src_first ? s_hi : d_hi);
  store_be64(out.addr[0] + 8, src_first ? s_lo : d_lo);
  store_be64(out.addr[1], src_first ? d_hi : s_hi);
  store_be64(out.addr[1] + 8, src_first ? d_lo : s_lo);
  out.port[0] = src_first ? sport : dport;
  out.port[1] = src_first ? dport : sport;
  out.vlan = vlan;
  out.proto = proto;
  out.ip_version = ip_version;
  return src_first;
}

const char* end_reason_name(EndReason r) noexcept {
  switch (r) {
    case EndReason::kNone: return "none";
    case EndReason::kFin: return "fin";
    case EndReason::kRst: return "rst";
    case EndReason::kIdle: return "idle";
    case EndReason::kEvicted: return "evicted";
    case EndReason::kShutdown: return "shutdown";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------------------
// Creation

FlowTable::FlowTable(const FlowTableConfig& c) : capacity_(c.capacity), worker_id_(c.worker_id) {
  const Nanos syn = Nanos{c.tcp_syn_timeout_s} * kNsPerSec;
  const Nanos idle = Nanos{c.tcp_idle_timeout_s} * kNsPerSec;
  const Nanos closed = Nanos{c.tcp_closed_timeout_s} * kNsPerSec;
  idle_by_tcp_state_ = {syn, syn, syn, idle, idle, closed};  // order of TcpState
  udp_idle_ns_ = Nanos{c.udp_idle_timeout_s} * kNsPerSec;
  other_idle_ns_ = Nanos{c.other_idle_timeout_s} * kNsPerSec;
  active_ns_ = Nanos{c.active_timeout_s} * kNsPerSec;
  for (uint32_t s = 0; s < kWheelSlots; ++s) wheel_[s] = {capacity_ + s, capacity_ + s};
}

FlowTable::~FlowTable() {
  if (map_ != nullptr) munmap(map_, map_bytes_);
}

absl::StatusOr<std::unique_ptr<FlowTable>> FlowTable::create(const FlowTableConfig& c) {
  if (c.capacity == 0) {
    return absl::InvalidArgumentError("flow table capacity must be at least 1");
  }
  if (c.capacity > kMaxCapacity) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "flow table capacity %u is above the maximum of %u flows per worker", c.capacity,
        kMaxCapacity));
  }
  if (c.worker_id > 0xFF) {
    return absl::InvalidArgumentError(
        absl::StrFormat("worker id %u does not fit the 8 sid bits (max 255)", c.worker_id));
  }
  const struct {
    const char* name;
    uint32_t value;
    bool zero_ok;
  } timeouts[] = {
      {"tcp handshake timeout (--tcp-handshake)", c.tcp_syn_timeout_s, false},
      {"tcp idle timeout (--tcp-idle)", c.tcp_idle_timeout_s, false},
      {"tcp linger (--tcp-linger)", c.tcp_closed_timeout_s, true},  // 0: end at the next tick
      {"udp idle timeout (--udp-idle)", c.udp_idle_timeout_s, false},
      {"other idle timeout (--other-idle)", c.other_idle_timeout_s, false},
      {"active timeout (--active-timeout)", c.active_timeout_s, true},
  };
  for (const auto& t : timeouts) {
    if ((t.value == 0 && !t.zero_ok) || t.value > kMaxTimeoutS) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s is %u s; it must be between %u and %u s", t.name, t.value, t.zero_ok ? 0 : 1,
          kMaxTimeoutS));
    }
  }

  // Index: load <= 3/4 at full capacity (10.7 bytes per flow), where 8-way two-choice cuckoo
  // inserts rarely need more than a short displacement path. Any bucket count works
  // (FlowTable::scale), so the index follows the capacity instead of a power of two.
  const uint64_t buckets = std::max<uint64_t>(2, (uint64_t{c.capacity} + 5) / 6);
  // The index follows the records on a cache-line boundary: 112-byte records end on one only
  // when the capacity is a multiple of 4, and a bucket that straddled two lines would cost
  // two misses a lookup (and break its type's 64-byte alignment).
  const uint64_t flow_bytes = uint64_t{c.capacity} * sizeof(Flow);
  const uint64_t index_offset = (flow_bytes + alignof(Bucket) - 1) / alignof(Bucket) * alignof(Bucket);
  const uint64_t index_bytes = buckets * sizeof(Bucket);
  const uint64_t total = index_offset + index_bytes;
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page_size > 0 && total > uint64_t(pages) * uint64_t(page_size)) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "flow table capacity %u needs %u MiB (%u bytes per flow), more than the %u MiB of "
        "memory on this machine; lower the capacity",
        c.capacity, total >> 20, total / c.capacity,
        (uint64_t(pages) * uint64_t(page_size)) >> 20));
  }
  void* map = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "flow table capacity %u: cannot map %u MiB: %s", c.capacity, total >> 20,
        std::strerror(errno)));
  }
  // Transparent huge pages when the kernel allows them (mode "madvise" on Debian): at 1M flows
  // the 144 MiB would otherwise cost a TLB miss per lookup. Failure only costs speed.
  (void)madvise(map, total, MADV_HUGEPAGE);

  std::unique_ptr<FlowTable> t(new FlowTable(c));
  t->map_ = map;
  t->map_bytes_ = total;
  t->flows_ = static_cast<Flow*>(map);
  t->buckets_ = reinterpret_cast<Bucket*>(static_cast<char*>(map) + index_offset);
  t->bucket_count_ = static_cast<uint32_t>(buckets);
  // Writing every page now faults the whole table in at start-up, not on the data path.
  std::memset(static_cast<void*>(t->buckets_), 0, index_bytes);
  for (uint32_t i = 0; i < c.capacity; ++i) {
    t->flows_[i].timer_next = i + 1 < c.capacity ? i + 1 : kNil;
  }
  t->free_head_ = 0;
  return t;
}

size_t FlowTable::memory_bytes() const noexcept { return map_bytes_ + sizeof(*this); }

// ---------------------------------------------------------------------------------------------
// Hash index: two-choice cuckoo over 8-slot buckets. A lookup reads at most two cache lines
// of index (almost always one: inserts prefer the primary bucket) and compares the key only
// on a 32-bit signature match (false match odds ~ 8 / 2^32 per bucket probe).

// Forced inline: GCC keeps it out of line (two callers), which costs ~10 cycles per packet.
[[gnu::always_inline]] inline uint32_t FlowTable::lookup(const FlowKey& key,
                                                         uint32_t sig) const noexcept {
  uint32_t b = primary_bucket(sig);
  for (int probe = 0; probe < 2; ++probe) {
    const Bucket& bk = buckets_[b];
    for (uint32_t m = match_mask(bk, sig); m != 0; m &= m - 1) {
      const uint32_t idx = bk.idx[__builtin_ctz(m)];
      if (flows_[idx].key == key) [[likely]] return idx;
    }
    b = alt_bucket(b, sig);
  }
  return kNil;
}

Flow* FlowTable::find(const FlowKey& key, uint32_t hash) noexcept {
  const uint32_t idx = lookup(key, sig_of(hash));
  return idx == kNil ? nullptr : &flows_[idx];
}

bool FlowTable::index_try_place(uint32_t bucket, uint32_t sig, uint32_t idx) noexcept {
  Bucket& b = buckets_[bucket];
  const uint32_t empty = match_mask(b, 0);
  if (empty == 0) return false;
  const int slot = __builtin_ctz(empty);
  b.sig[slot] = sig;
  b.idx[slot] = idx;
  return true;
}

bool FlowTable::index_insert(uint32_t sig, uint32_t idx) noexcept {
  const uint32_t p = primary_bucket(sig);
  if (index_try_place(p, sig, idx)) [[likely]] return true;
  if (index_try_place(alt_bucket(p, sig), sig, idx)) return true;
  return index_cuckoo(sig, idx);
}

// Breadth-first search for the shortest displacement path (as in DPDK rte_hash), then moves
// the entries along it from the free end. Bounded: at most kQueue buckets are examined; on
// failure the caller evicts one of the key's 16 candidates instead.
bool FlowTable::index_cuckoo(uint32_t sig, uint32_t idx) noexcept {
  struct Node {
    uint32_t bucket;
    uint16_t parent;  // queue position of the bucket the displaced entry comes from
    uint8_t slot;     // slot in the parent bucket whose entry moves into `bucket`
  };
  constexpr uint16_t kRoot = 0xFFFF;
  constexpr int kQueue = 128;
  Node q[kQueue];
  int tail = 0;
  const uint32_t p = primary_bucket(sig);
  q[tail++] = {p, kRoot, 0};
  q[tail++] = {alt_bucket(p, sig), kRoot, 0};
  for (int head = 0; head < tail; ++head) {
    const uint32_t nb = q[head].bucket;
    for (uint32_t slot = 0; slot < kBucketSlots; ++slot) {
      const uint32_t alt = alt_bucket(nb, buckets_[nb].sig[slot]);
      const uint32_t empty = match_mask(buckets_[alt], 0);
      if (empty != 0) {
        uint32_t to_b = alt, to_s = static_cast<uint32_t>(__builtin_ctz(empty));
        uint32_t from_b = nb, from_s = slot;
        int cur = head;
        for (;;) {
          buckets_[to_b].sig[to_s] = buckets_[from_b].sig[from_s];
          buckets_[to_b].idx[to_s] = buckets_[from_b].idx[from_s];
          if (q[cur].parent == kRoot) {
            buckets_[from_b].sig[from_s] = sig;
            buckets_[from_b].idx[from_s] = idx;
            return true;
          }
          to_b = from_b;
          to_s = from_s;
          from_s = q[cur].slot;
          cur = q[cur].parent;
          from_b = q[cur].bucket;
        }
      }
      if (tail == kQueue) continue;
      // A bucket visited twice could make a path move an entry out of its two buckets.
      bool seen = false;
      for (int i = 0; i < tail && !seen; ++i) seen = q[i].bucket == alt;
      if (!seen) q[tail++] = {alt, static_cast<uint16_t>(head), static_cast<uint8_t>(slot)};
    }
  }
  return false;
}

void FlowTable::index_remove(uint32_t sig, uint32_t idx) noexcept {
  uint32_t b = primary_bucket(sig);
  for (int probe = 0; probe < 2; ++probe) {
    Bucket& bk = buckets_[b];
    for (uint32_t m = match_mask(bk, sig); m != 0; m &= m - 1) {
      const int slot = __builtin_ctz(m);
      if (bk.idx[slot] == idx) {
        bk.sig[slot] = 0;
        return;
      }
    }
    b = alt_bucket(b, sig);
  }
}

// ---------------------------------------------------------------------------------------------
// Timer wheel: one circular doubly linked list per 1-second slot, with the list heads as node
// ids capacity_ + slot so that unlink needs no slot number and no branch on "am I the head".

void FlowTable::timer_insert(uint32_t idx, uint64_t tick) noexcept {
  const uint32_t slot = static_cast<uint32_t>(tick) & (kWheelSlots - 1);
  const uint32_t head = capacity_ + slot;
  Flow& f = flows_[idx];
  const uint32_t first = wheel_[slot].next;
  f.timer_tick = tick16(tick);
  f.timer_prev = head;
  f.timer_next = first;
  prev_of(first) = idx;
  wheel_[slot].next = idx;
}

void FlowTable::timer_unlink(uint32_t idx) noexcept {
  const Flow& f = flows_[idx];
  next_of(f.timer_prev) = f.timer_next;
  prev_of(f.timer_next) = f.timer_prev;
}

Nanos FlowTable::idle_ns(const Flow& f) const noexcept {
  switch (f.key.proto) {
    case kIpProtoTcp:
    case kIpProtoSctp:  // SCTP chunks move the same states (sensor/decode: INIT, SHUTDOWN, ABORT)
      return idle_by_tcp_state_[static_cast<uint8_t>(f.tcp_state)];
    case kIpProtoUdp: return udp_idle_ns_;
    default: return other_idle_ns_;
  }
}

// Active-timeout interval k of a flow runs from first_ns + k * active_ns_; the flow keeps the
// index of the interval its current report started at, mod 2^16 (Flow::interim_seq). The full
// index is recovered from the interval the table clock is in: the table visits every flow at
// least once per wheel span (1024 s) and reports it when an interval has passed, so the
// distance is a few intervals, far below 2^16. (Only a capture gap of 2^16 intervals that
// the flow outlives could alias, and that would skip one interim record.)
uint64_t FlowTable::interim_index(const Flow& f) const noexcept {
  const Nanos age = now_ - f.first_ns;  // now_ >= first_ns: the clock never goes back
  if (age < active_ns_) return 0;       // the flow's first interval: no division
  const uint64_t k_now = age / active_ns_;
  return k_now - static_cast<uint16_t>(static_cast<uint16_t>(k_now) - f.interim_seq);
}

Nanos FlowTable::deadline(const Flow& f) const noexcept {
  const Nanos d = f.last_ns + idle_ns(f);
  if (active_ns_ == 0) return d;
  return std::min(d, f.first_ns + (interim_index(f) + 1) * active_ns_);
}

EndReason FlowTable::expiry_reason(const Flow& f) const noexcept {
  if ((f.key.proto == kIpProtoTcp || f.key.proto == kIpProtoSctp) && f.tcp_state == TcpState::kClosed) {
    return f.fin_seen == 3 ? EndReason::kFin : EndReason::kRst;
  }
  return EndReason::kIdle;
}

// Files a flow at the tick of its deadline, clamped into the wheel's window: earlier than
// next_tick_ is "due at the next advance", later than the span is re-filed when it fires.
void FlowTable::timer_schedule(uint32_t idx) noexcept {
  const uint64_t tick =
      std::clamp<uint64_t>(ceil_tick(deadline(flows_[idx])), next_tick_,
                           next_tick_ + kWheelSlots - 1);
  timer_insert(idx, tick);
}

// Lazy rescheduling only works when deadlines move later. A state change that shortens the
// timeout (FIN both ways, RST) moves the flow now: a few cycles, once or twice per flow.
void FlowTable::reschedule_if_earlier(uint32_t idx) noexcept {
  const uint64_t tick =
      std::clamp<uint64_t>(ceil_tick(deadline(flows_[idx])), next_tick_,
                           next_tick_ + kWheelSlots - 1);
  if (tick_before(tick16(tick), flows_[idx].timer_tick)) {
    timer_unlink(idx);
    timer_insert(idx, tick);
  }
}

uint32_t FlowTable::detach_slot(uint32_t slot) noexcept {
  WheelHead& h = wheel_[slot];
  const uint32_t head = capacity_ + slot;
  if (h.next == head) return kNil;
  const uint32_t first = h.next;
  flows_[h.prev].timer_next = kNil;
  h.next = h.prev = head;
  return first;
}

// Called for a flow taken off a firing slot: end it if its real deadline passed, report an
// interim record if its active timeout passed, otherwise file it again where it belongs.
void FlowTable::fire(uint32_t idx, Nanos now, FlowCallback on_end) {
  Flow& f = flows_[idx];
  if (f.last_ns + idle_ns(f) <= now) {
    end_flow(idx, expiry_reason(f), on_end);
    return;
  }
  if (active_ns_ != 0) {
    const uint64_t k_now = (now - f.first_ns) / active_ns_;  // now == now_ (advance_slow)
    if (k_now > interim_index(f)) {
      counters_.flow_interim.inc();
      on_end(f, EndReason::kNone);
      f.interim_seq = static_cast<uint16_t>(k_now);  // intervals missed in a gap are skipped
    }
  }
  timer_schedule(idx);
}

// The slot's flows are a linked list through their records: walking it waits on each record
// in turn, a DRAM miss apiece in a large table. The next record is fetched while this flow
// fires (ending one writes its session record and frees its app state: hundreds of cycles),
// and so is the index bucket that ending this flow will update.
void FlowTable::fire_slot(uint32_t slot, Nanos now, FlowCallback on_end) {
  for (uint32_t i = detach_slot(slot); i != kNil;) {
    const uint32_t next = flows_[i].timer_next;
    if (next != kNil) {
      const char* p = reinterpret_cast<const char*>(&flows_[next]);
      prefetch_read(p);
      prefetch_read(p + 64);
      prefetch_read(p + sizeof(Flow) - 1);
    }
    prefetch_read(&buckets_[primary_bucket(sig_of(flow_hash(flows_[i].key)))]);
    fire(i, now, on_end);
    i = next;
  }
}

void FlowTable::advance_slow(Nanos now, FlowCallback on_end) {
  now = std::max(now, now_);
  now_ = now;
  const uint64_t target = now / kNsPerSec;
  if (target < next_tick_) return;
  if (target - next_tick_ >= kWheelSlots) {
    // A capture gap longer than the wheel: visit every slot once (each flow is ended or
    // re-filed) instead of stepping through millions of empty ticks.
    next_tick_ = target + 1;
    next_tick_ns_ = next_tick_ * kNsPerSec;
    if (size_ == 0) return;
    counters_.flow_time_jump.inc();
    for (uint32_t s = 0; s < kWheelSlots; ++s) fire_slot(s, now, on_end);
    return;
  }
  while (next_tick_ <= target) {
    const uint32_t slot = static_cast<uint32_t>(next_tick_) & (kWheelSlots - 1);
    ++next_tick_;  // before firing, so that re-filed flows land after this slot
    fire_slot(slot, now, on_end);
  }
  next_tick_ns_ = next_tick_ * kNsPerSec;
}

// ---------------------------------------------------------------------------------------------
// Flow life cycle

// The flow must already be off the wheel (fired, detached or unlinked by the caller).
void FlowTable::end_flow(uint32_t idx, EndReason reason, FlowCallback on_end) {
  Flow& f = flows_[idx];
  switch (reason) {
    case EndReason::kFin: counters_.flow_ended_fin.inc(); break;
    case EndReason::kRst: counters_.flow_ended_rst.inc(); break;
    case EndReason::kIdle: counters_.flow_expired_idle.inc(); break;
    case EndReason::kEvicted: counters_.flow_evicted.inc(); break;
    case EndReason::kShutdown: counters_.flow_flushed.inc(); break;
    case EndReason::kNone: break;
  }
  on_end(f, reason);
  index_remove(sig_of(flow_hash(f.key)), idx);  // ~25 cycles a flow, 4 bytes less per flow
  f.timer_next = free_head_;
  free_head_ = idx;
  --size_;
}

// Table full: recycle the flow closest to its timeout. The earliest non-empty wheel slot holds
// the earliest *filed* deadlines; because filing is lazy, a candidate may really be due later.
// Such a candidate is re-filed on the spot (so the next eviction does not look at it again)
// and the scan goes on, at most kEvictScan candidates; if none is due in the slot it was
// filed in, the earliest real deadline seen wins (counted: flow_evict_scan_cap).
void FlowTable::evict_one(FlowCallback on_end) {
  uint32_t victim = kNil;
  uint32_t best = kNil;
  Nanos best_deadline = std::numeric_limits<Nanos>::max();
  uint32_t scanned = 0;
  for (uint32_t k = 0; k < kWheelSlots && scanned < kEvictScan && victim == kNil; ++k) {
    const uint64_t tick = next_tick_ + k;
    const uint32_t slot = static_cast<uint32_t>(tick) & (kWheelSlots - 1);
    const uint32_t head = capacity_ + slot;
    for (uint32_t i = wheel_[slot].next; i != head && scanned < kEvictScan;) {
      const uint32_t next = flows_[i].timer_next;
      const Nanos d = deadline(flows_[i]);
      ++scanned;
      const uint64_t due =
          std::clamp<uint64_t>(ceil_tick(d), next_tick_, next_tick_ + kWheelSlots - 1);
      if (due <= tick) {
        victim = i;
        break;
      }
      if (d < best_deadline) {
        best_deadline = d;
        best = i;
      }
      timer_unlink(i);
      timer_insert(i, due);  // due > tick: a later slot, never the one being walked
      i = next;
    }
  }
  if (victim == kNil) {
    if (best == kNil) return;  // unreachable while the table is full
    counters_.flow_evict_scan_cap.inc();
    victim = best;
  }
  timer_unlink(victim);
  end_flow(victim, EndReason::kEvicted, on_end);
}

// Both buckets of a new key are full and no displacement path was found (adversarial keys or
// extreme bad luck): recycle the resident with the earliest deadline among the 16.
void FlowTable::evict_from_buckets(uint32_t sig, FlowCallback on_end) {
  uint32_t victim = kNil;
  Nanos best = std::numeric_limits<Nanos>::max();
  uint32_t b = primary_bucket(sig);
  for (int probe = 0; probe < 2; ++probe) {
    for (uint32_t s = 0; s < kBucketSlots; ++s) {
      if (buckets_[b].sig[s] == 0) continue;
      const uint32_t i = buckets_[b].idx[s];
      const Nanos d = deadline(flows_[i]);
      if (d < best) {
        best = d;
        victim = i;
      }
    }
    b = alt_bucket(b, sig);
  }
  counters_.flow_evict_index_full.inc();
  timer_unlink(victim);
  end_flow(victim, EndReason::kEvicted, on_end);
}

// Allocates and initialises a flow and puts it in the index; the caller accounts the packet,
// applies TCP flags and then files it on the wheel.
uint32_t FlowTable::create_flow(const FlowKey& key, uint32_t hash, bool src_is_side0, Nanos now,
                                uint8_t tcp_flags, FlowCallback on_end) {
  if (size_ == 0 && now >= next_tick_ns_ + Nanos{kWheelSlots} * kNsPerSec) {
    // Empty table: move the wheel to the present for free (first packet of a capture).
    next_tick_ = now / kNsPerSec;
    next_tick_ns_ = next_tick_ * kNsPerSec;
  }
  if (free_head_ == kNil) evict_one(on_end);
  const uint32_t idx = free_head_;
  Flow& f = flows_[idx];
  free_head_ = f.timer_next;
  ++size_;

  f.key = key;
  f.first_ns = f.last_ns = now;
  f.interim_seq = 0;
  f.sid = (uint64_t{worker_id_} << 56) | next_sid_++;
  f.pkts[0] = f.pkts[1] = 0;
  f.bytes[0] = f.bytes[1] = 0;
  f.app_state = kNoAppState;
  f.app_proto = 0;
  f.tcp_state = TcpState::kNone;
  f.tcp_flags_seen[0] = f.tcp_flags_seen[1] = 0;
  f.fin_seen = 0;
  f.app_flags = 0;
  f.app_id = 0;

  // SYN / SYN+ACK are applied by tcp_update (the same code refines midstream flows later).
  const uint8_t src_side = src_is_side0 ? 0 : 1;
  const bool server0 = is_server_port(key.port[0]);
  const bool server1 = is_server_port(key.port[1]);
  if (has_ports(key.proto) && server0 != server1) {
    f.client_side = server0 ? 1 : 0;
    f.direction_basis = static_cast<uint8_t>(DirectionBasis::kPort);
  } else {
    f.client_side = src_side;
    f.direction_basis = static_cast<uint8_t>(DirectionBasis::kFirstPacket);
  }
  counters_.flow_created.inc();
  if (key.proto == kIpProtoTcp && (tcp_flags & kTcpSyn) == 0) counters_.flow_midstream.inc();

  const uint32_t sig = sig_of(hash);
  if (!index_insert(sig, idx)) [[unlikely]] {
    evict_from_buckets(sig, on_end);
    (void)index_insert(sig, idx);  // a slot in one of the two buckets was just freed
  }
  return idx;
}

// RFC 9293 section 3.3.2 states, reduced to what decides timeouts: a passive observer sees
// both directions, so the handshake and the two FINs are tracked per key side.
// Returns true when the state changed.
[[gnu::always_inline]] inline bool FlowTable::tcp_update(Flow& f, uint32_t side, uint8_t flags,
                                                         uint32_t payload_len) noexcept {
  f.tcp_flags_seen[side] |= flags;
  if (flags & kTcpSyn) [[unlikely]] {
    // The handshake beats guesses made from ports or the first packet.
    if ((flags & kTcpAck) == 0) {
      if (f.direction_basis != static_cast<uint8_t>(DirectionBasis::kSyn)) {
        f.client_side = static_cast<uint8_t>(side);
        f.direction_basis = static_cast<uint8_t>(DirectionBasis::kSyn);
      }
    } else if (f.direction_basis != static_cast<uint8_t>(DirectionBasis::kSyn) &&
               f.direction_basis != static_cast<uint8_t>(DirectionBasis::kSynAck)) {
      f.client_side = static_cast<uint8_t>(side ^ 1);
      f.direction_basis = static_cast<uint8_t>(DirectionBasis::kSynAck);
    }
  }
  const TcpState s = f.tcp_state;
  if (s == TcpState::kClosed) return false;
  TcpState n = s;
  if (flags & kTcpRst) {
    n = TcpState::kClosed;
  } else if (flags & kTcpFin) {
    f.fin_seen |= static_cast<uint8_t>(1u << side);
    n = f.fin_seen == 3 ? TcpState::kClosed : TcpState::kClosing;
  } else if (s < TcpState::kEstablished) {
    if (flags & kTcpSyn) {
      if (flags & kTcpAck) {
        n = TcpState::kSynAckSeen;
      } else if (s == TcpState::kNone) {
        n = TcpState::kSynSent;
      }
    } else if ((flags & kTcpAck) || payload_len != 0) {
      n = TcpState::kEstablished;
    }
  }
  if (n == s) return false;
  f.tcp_state = n;
  return true;
}

Flow* FlowTable::on_packet_slow(const FlowKey& key, uint32_t hash, bool src_is_side0,
                                Nanos now, uint32_t ip_len, uint8_t tcp_flags,
                                uint32_t payload_len, FlowCallback on_end) {
  if (now < now_) [[unlikely]] {
    counters_.flow_time_went_backwards.inc();
    now = now_;
  } else {
    now_ = now;
  }
  const uint32_t side = src_is_side0 ? 0 : 1;
  // TCP, and SCTP whose chunks the decoder gives as TCP flags (INIT = SYN, INIT ACK = SYN+ACK,
  // SHUTDOWN / SHUTDOWN ACK = FIN, ABORT = RST): the handshake decides the client, the
  // shutdown ends the flow.
  const bool tcp = key.proto == kIpProtoTcp || key.proto == kIpProtoSctp;
  uint32_t idx = lookup(key, sig_of(hash));
  if (idx != kNil) [[likely]] {
    Flow& f = flows_[idx];
    // A new SYN on a closed connection's tuple is a new connection (port reuse inside the
    // linger): end the old one now instead of merging the two.
    if (tcp && (tcp_flags & (kTcpSyn | kTcpAck)) == kTcpSyn &&
        f.tcp_state == TcpState::kClosed) [[unlikely]] {
      counters_.flow_tcp_reused.inc();
      timer_unlink(idx);
      end_flow(idx, expiry_reason(f), on_end);
    } else {
      f.last_ns = now;  // lazy timers: no list move per packet
      f.pkts[side] += 1;
      f.bytes[side] += ip_len;
      if (tcp && tcp_update(f, side, tcp_flags, payload_len)) reschedule_if_earlier(idx);
      return &f;
    }
  }
  idx = create_flow(key, hash, src_is_side0, now, tcp_flags, on_end);
  Flow& f = flows_[idx];
  f.pkts[side] = 1;
  f.bytes[side] = ip_len;
  if (tcp) (void)tcp_update(f, side, tcp_flags, payload_len);
  timer_schedule(idx);
  return &f;
}

void FlowTable::flush_all(FlowCallback on_end) {
  for (uint32_t s = 0; s < kWheelSlots; ++s) {
    for (uint32_t i = detach_slot(s); i != kNil;) {
      const uint32_t next = flows_[i].timer_next;
      // A session already closed by FIN or RST (lingering for stragglers) says so; only the
      // ones still open were cut by the shutdown.
      const EndReason r = expiry_reason(flows_[i]);
      end_flow(i, r == EndReason::kIdle ? EndReason::kShutdown : r, on_end);
      i = next;
    }
  }
}

// ---------------------------------------------------------------------------------------------

absl::Status FlowTable::check_consistency() const {
  if (reinterpret_cast<uintptr_t>(buckets_) % alignof(Bucket) != 0) {
    return absl::InternalError("index not aligned to a cache line");
  }
  std::vector<uint8_t> state(capacity_, 0);  // 1 = free, 2 = on the wheel
  uint32_t free_count = 0;
  for (uint32_t i = free_head_; i != kNil; i = flows_[i].timer_next) {
    if (i >= capacity_ || state[i] != 0 || ++free_count > capacity_) {
      return absl::InternalError(absl::StrFormat("free list broken at %u", i));
    }
    state[i] = 1;
  }
  if (free_count + size_ != capacity_) {
    return absl::InternalError(
        absl::StrFormat("free %u + size %u != capacity %u", free_count, size_, capacity_));
  }
  uint32_t on_wheel = 0;
  for (uint32_t s = 0; s < kWheelSlots; ++s) {
    const uint32_t head = capacity_ + s;
    uint32_t prev = head;
    for (uint32_t i = wheel_[s].next; i != head; prev = i, i = flows_[i].timer_next) {
      if (i >= capacity_ || state[i] != 0) {
        return absl::InternalError(absl::StrFormat("wheel slot %u: bad node %u", s, i));
      }
      state[i] = 2;
      const Flow& f = flows_[i];
      if (f.timer_prev != prev) {
        return absl::InternalError(absl::StrFormat("wheel slot %u: bad prev at %u", s, i));
      }
      if ((f.timer_tick & (kWheelSlots - 1)) != s || tick_before(f.timer_tick, tick16(next_tick_)) ||
          !tick_before(f.timer_tick, tick16(next_tick_ + kWheelSlots))) {
        return absl::InternalError(
            absl::StrFormat("flow %u filed at tick %u outside the wheel window", i, f.timer_tick));
      }
      // Never late: filed at or before the tick of its real deadline.
      const uint64_t due = std::max<uint64_t>(ceil_tick(deadline(f)), next_tick_);
      if (tick_before(tick16(due), f.timer_tick)) {
        return absl::InternalError(
            absl::StrFormat("flow %u filed at tick %u after its deadline tick %u", i,
                            f.timer_tick, due));
      }
      if (lookup(f.key, sig_of(flow_hash(f.key))) != i) {
        return absl::InternalError(absl::StrFormat("flow %u not found through the index", i));
      }
      if (++on_wheel > size_) return absl::InternalError("more flows on the wheel than size");
    }
    if (wheel_[s].prev != prev) {
      return absl::InternalError(absl::StrFormat("wheel slot %u: bad tail", s));
    }
  }
  if (on_wheel != size_) {
    return absl::InternalError(absl::StrFormat("%u flows on the wheel, size %u", on_wheel, size_));
  }
  uint32_t in_index = 0;
  for (uint32_t b = 0; b < bucket_count_; ++b) {
    for (uint32_t s = 0; s < kBucketSlots; ++s) {
      const uint32_t sig = buckets_[b].sig[s];
      if (sig == 0) continue;
      ++in_index;
      const uint32_t i = buckets_[b].idx[s];
      if (i >= capacity_ || state[i] != 2 || sig_of(flow_hash(flows_[i].key)) != sig) {
        return absl::InternalError(absl::StrFormat("bucket %u slot %u: bad entry", b, s));
      }
      const uint32_t p = primary_bucket(sig);
      if (b != p && b != alt_bucket(p, sig)) {
        return absl::InternalError(absl::StrFormat("bucket %u holds a foreign key", b));
      }
    }
  }
  if (in_index != size_) {
    return absl::InternalError(absl::StrFormat("%u index entries, size %u", in_index, size_));
  }
  return absl::OkStatus();
}

}  // namespace flowscribe::flow
