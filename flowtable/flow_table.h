#pragma once
// Per-worker flow table: fixed capacity, preallocated at start, no locks, no allocation per
// packet. Idle and active timeouts run on a timer wheel driven by packet time. When full, the
// oldest idle flow is recycled (counted) instead of refusing the new one (VPP habit).
// Design, timeouts, memory and counters: docs/flows.md.
//
// INTERFACE CONTRACT (the worker in sensor/ codes against this; keep it stable):
#include <immintrin.h>

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/counters.h"
#include "common/net.h"
#include "common/prefetch.h"

namespace flowscribe::flow {

// Canonical bidirectional key: side 0 is the lower (address, port) pair, so both directions of
// a flow build the same key and the same hash (the software dispatcher relies on this too).
struct FlowKey {
  uint8_t addr[2][16];
  uint16_t port[2];
  uint16_t vlan;
  uint8_t proto;
  uint8_t ip_version;
  bool operator==(const FlowKey& o) const noexcept;
};
static_assert(sizeof(FlowKey) == 40);

// No padding in FlowKey, so byte equality is key equality (GCC inlines this to 5 compares).
inline bool FlowKey::operator==(const FlowKey& o) const noexcept {
  return std::memcmp(this, &o, sizeof(FlowKey)) == 0;
}

// Builds the canonical key; returns true when the packet's source is key side 0.
// Side 0 is the lower (address bytes, then port); ties (same address and port) go to src.
// IPv4 uses the first 4 address bytes; the other 12 are zeroed here whatever the input holds.
bool make_flow_key(uint8_t ip_version, uint8_t proto, const IpAddr& src, const IpAddr& dst,
                   uint16_t sport, uint16_t dport, uint16_t vlan, FlowKey& out) noexcept;

// Symmetric 32-bit hash of a canonical key (same value for both directions): SSE4.2 CRC32
// over the 40 key bytes, then the murmur3 finaliser. ~25 cycles latency, overlapped across
// packets by out-of-order execution.
inline uint32_t flow_hash_words(const uint64_t (&w)[5]) noexcept {
  uint64_t c = _mm_crc32_u64(0x243F6A88u, w[0]);
  c = _mm_crc32_u64(c, w[1]);
  c = _mm_crc32_u64(c, w[2]);
  c = _mm_crc32_u64(c, w[3]);
  c = _mm_crc32_u64(c, w[4]);
  // CRC is linear: the finaliser spreads every input bit over the whole word so that bucket
  // and dispatch bits taken from either end of the hash are uniform.
  uint32_t h = static_cast<uint32_t>(c);
  h ^= h >> 16;
  h *= 0x85EBCA6Bu;
  h ^= h >> 13;
  h *= 0xC2B2AE35u;
  h ^= h >> 16;
  return h;
}

inline uint32_t flow_hash(const FlowKey& key) noexcept {
  uint64_t w[5];
  std::memcpy(w, &key, sizeof(w));
  return flow_hash_words(w);
}

// make_flow_key + flow_hash for IPv4, addresses as on the wire (network byte order): the
// same key and hash, built in registers (one 4-byte compare instead of two 16-byte ones) for
// the worker's fast path. Returns true when the source is key side 0.
inline bool make_flow_key_v4(uint8_t proto, uint32_t src_be, uint32_t dst_be, uint16_t sport,
                             uint16_t dport, uint16_t vlan, FlowKey& out,
                             uint32_t& hash) noexcept {
  const uint32_t s = __builtin_bswap32(src_be), d = __builtin_bswap32(dst_be);
  // Branch-free, as make_flow_key: the two directions of a flow alternate.
  const bool src_first = (s < d) | ((s == d) & (sport <= dport));
  // Little-endian words of the key: addr[0] (4 bytes, 12 zero), addr[1], then ports, VLAN,
  // protocol and version.
  static_assert(std::endian::native == std::endian::little);
  const uint64_t a0 = src_first ? src_be : dst_be;
  const uint64_t a1 = src_first ? dst_be : src_be;
  const uint64_t p0 = src_first ? sport : dport;
  const uint64_t p1 = src_first ? dport : sport;
  const uint64_t w[5] = {a0, 0, a1, 0,
                         p0 | p1 << 16 | static_cast<uint64_t>(vlan) << 32 |
                             static_cast<uint64_t>(proto) << 48 | uint64_t{4} << 56};
  // Word by word from registers: one copy of the array would be a 16-byte load over the
  // 8-byte stores that just built it, a load the CPU cannot forward (sampled as the hottest
  // instruction of the worker's burst loop).
  auto* o = reinterpret_cast<unsigned char*>(&out);
  for (int i = 0; i < 5; ++i) std::memcpy(o + 8 * i, &w[i], 8);
  hash = flow_hash_words(w);
  return src_first;
}

enum class EndReason : uint8_t {
  kNone = 0,       // still open (interim records)
  kFin = 1,        // TCP closed by FIN in both directions (then a short linger)
  kRst = 2,        // TCP reset
  kIdle = 3,       // idle timeout
  kEvicted = 4,    // table full, recycled as the oldest idle flow
  kShutdown = 5,   // flushed at end of capture or on SIGINT/SIGTERM
};
const char* end_reason_name(EndReason r) noexcept;  // "fin", "rst", "idle", "evicted", "shutdown"

// TCP tracking state, drives which idle timeout applies.
enum class TcpState : uint8_t { kNone, kSynSent, kSynAckSeen, kEstablished, kClosing, kClosed };

// One tracked session in 112 bytes, so that a flow of capacity costs at most 112 + 10.7 bytes
// of index (docs/flows.md "Memory"). Records are packed back to back, so one may start at
// byte 0, 16, 32 or 48 of a cache line: everything a packet of an established flow touches
// (key, counters, TCP state, app flags and state) is in the first 80 bytes, which lie in at
// most two cache lines whatever the start. The rest is read when a flow starts, is filed on
// the wheel or ends. Dissector state lives elsewhere, referenced by `app_state`.
struct Flow {
  // --- hot: every packet
  FlowKey key;
  Nanos last_ns;
  uint32_t pkts[2];        // per key side, since flow start (interim records: cumulative)
  uint64_t bytes[2];       // per key side, IP bytes (ip_len) since flow start
  uint8_t tcp_flags_seen[2];  // OR of flags per key side
  uint8_t client_side : 1;      // key side (0/1) that is the client
  TcpState tcp_state : 3;
  uint8_t fin_seen : 2;         // bit per key side
  uint8_t direction_basis : 2;  // how client_side was decided (DirectionBasis)
  uint8_t app_flags;       // AppFlag bits, owned by the worker's app layer (0 when created)
  uint32_t app_state;      // index into a dissector pool, or kNoAppState
  // --- cold: start, timers, end
  Nanos first_ns;
  uint64_t sid;            // session id, unique per worker run (set by the table)
  uint32_t timer_prev;     // timer wheel links (indices), owned by the table
  uint32_t timer_next;
  uint16_t app_proto;      // application protocol id (0 = unknown), set by dissectors
  uint16_t app_id;         // internet application (dissectors/apps), 0 = none named
  uint16_t timer_tick;     // wheel tick (seconds, mod 2^16) the flow is filed under (table)
  uint16_t interim_seq;    // active-timeout interval the current report starts at, mod 2^16
                           //   (interval k starts at first_ns + k * active timeout; table)
};
static_assert(sizeof(Flow) == 112, "Flow grew: docs/flows.md \"Memory\" and the hot/cold split");
static_assert(offsetof(Flow, app_state) + sizeof(uint32_t) <= 80,
              "a packet's fields must fit in 80 bytes (two cache lines from any 16-byte start)");

constexpr uint32_t kNoAppState = 0xffffffffu;

// Worker-side application-layer state of a flow (Flow::app_flags).
enum AppFlag : uint8_t {
  kAppBypass = 0x01,      // classification and dissection finished: count packets only
  kAppViolation = 0x02,   // a confirmed protocol broke its grammar and was dropped to unknown
  kAppNoState = 0x04,     // no app state could be allocated (pool full): left unknown
  kAppIdle = 0x08,        // UDP: the dissector holds no state between messages; the next
                          //   datagram goes straight to it (the protocol is already named)
};

// How the client was decided; documented in docs/flows.md.
enum class DirectionBasis : uint8_t { kSyn = 0, kSynAck = 1, kPort = 2, kFirstPacket = 3 };

#define FS_FLOW_COUNTERS(X)                                                        \
  X(flow_created, "flows created")                                                 \
  X(flow_expired_idle, "flows ended by idle timeout")                              \
  X(flow_ended_fin, "TCP flows ended by FIN")                                      \
  X(flow_ended_rst, "TCP flows ended by RST")                                      \
  X(flow_evicted, "flows recycled because the table was full (oldest idle first)") \
  X(flow_interim, "interim records for long flows (active timeout)")              \
  X(flow_flushed, "flows flushed at shutdown / end of capture")                   \
  X(flow_midstream, "TCP flows picked up without a SYN")                          \
  X(flow_tcp_reused, "closed TCP flows ended early by a new SYN on the same tuple") \
  X(flow_evict_scan_cap, "evictions that hit the candidate scan cap (approximate)") \
  X(flow_evict_index_full, "evictions because both hash buckets of a key were full") \
  X(flow_time_went_backwards, "packets older than the table clock (time clamped)") \
  X(flow_time_jump, "clock jumps longer than the timer wheel (full sweep)")

FS_DEFINE_COUNTERS(FlowCounters, FS_FLOW_COUNTERS);

struct FlowTableConfig {
  uint32_t capacity = 1 << 20;   // max concurrent flows per worker
  uint32_t worker_id = 0;        // goes into the high bits of sid
  uint32_t tcp_syn_timeout_s = 30;     // handshake not complete (--tcp-handshake)
  uint32_t tcp_idle_timeout_s = 300;   // established (--tcp-idle)
  uint32_t tcp_closed_timeout_s = 5;   // after FIN both ways / RST: linger (--tcp-linger), 0 ok
  uint32_t udp_idle_timeout_s = 60;    // (--udp-idle)
  uint32_t other_idle_timeout_s = 60;  // ICMP and other transports (--other-idle)
  uint32_t active_timeout_s = 1800;    // interim record for long flows (--active-timeout), 0=off
};

// Called for each flow that ends or reports. For kNone (interim) the flow stays in the table
// and its next report is due one active timeout after the interval boundary just passed
// (first_ns + k * active timeout); for every other reason the flow is freed after the call
// returns. Never called re-entrantly.
using FlowCallback = absl::FunctionRef<void(Flow&, EndReason)>;

class FlowTable {
 public:
  // Largest capacity accepted (indices are uint32; 2^28 flows is 32 GiB of records).
  static constexpr uint32_t kMaxCapacity = 1u << 28;
  // Timer wheel: 1-second ticks, 1024 slots (17 minutes); longer deadlines are re-filed.
  static constexpr uint32_t kWheelSlots = 1024;
  // Eviction looks at most this many wheel entries for the earliest deadline.
  static constexpr uint32_t kEvictScan = 8;
  static constexpr uint32_t kBucketSlots = 8;

  static absl::StatusOr<std::unique_ptr<FlowTable>> create(const FlowTableConfig& config);
  ~FlowTable();
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  // Finds or creates the flow of a packet and accounts it. `src_is_side0` comes from
  // make_flow_key and `hash` is flow_hash(key) (the table recomputes it when a flow ends
  // instead of storing it). Creating may evict the oldest idle flow through `on_end` (kEvicted).
  // Updates counters, TCP state and (for new flows) the client side. `now` is packet time
  // and never goes backwards within the table (older times are clamped).
  // Inline for the packet most packets are: its flow is in its primary bucket and nothing
  // but the counts changes (UDP and other transports; TCP and SCTP established or closing,
  // no SYN, FIN or RST). Everything else (new flows, handshakes, endings, a clock that went
  // back) takes on_packet_slow, which does the whole job.
  Flow* on_packet(const FlowKey& key, uint32_t hash, bool src_is_side0, Nanos now,
                  uint32_t ip_len, uint8_t tcp_flags, uint32_t payload_len,
                  FlowCallback on_end) {
    if (now >= now_) [[likely]] {
      const uint32_t sig = sig_of(hash);
      const Bucket& bk = buckets_[primary_bucket(sig)];
      for (uint32_t m = match_mask(bk, sig); m != 0; m &= m - 1) {
        Flow& f = flows_[bk.idx[__builtin_ctz(m)]];
        if (!(f.key == key)) [[unlikely]] continue;
        const bool tcp = key.proto == kIpProtoTcp || key.proto == kIpProtoSctp;
        if (tcp && ((tcp_flags & (kTcpSyn | kTcpFin | kTcpRst)) != 0 ||
                    f.tcp_state < TcpState::kEstablished)) {
          break;
        }
        now_ = now;
        const uint32_t side = src_is_side0 ? 0 : 1;
        f.last_ns = now;  // lazy timers: no list move per packet
        f.pkts[side] += 1;
        f.bytes[side] += ip_len;
        f.tcp_flags_seen[side] |= tcp_flags;
        return &f;
      }
    }
    return on_packet_slow(key, hash, src_is_side0, now, ip_len, tcp_flags, payload_len, on_end);
  }
  Flow* on_packet_slow(const FlowKey& key, uint32_t hash, bool src_is_side0, Nanos now,
                       uint32_t ip_len, uint8_t tcp_flags, uint32_t payload_len,
                       FlowCallback on_end);

  // Runs the timer wheel up to `now`: idle timeouts, FIN/RST lingers, active timeouts.
  // Inline fast path: one compare when no 1-second tick boundary was crossed.
  void advance(Nanos now, FlowCallback on_end) {
    if (now < next_tick_ns_) [[likely]] return;
    advance_slow(now, on_end);
  }

  // Ends every flow (end of capture, SIGTERM): kShutdown for open sessions, kFin/kRst for
  // TCP sessions already closed and lingering.
  void flush_all(FlowCallback on_end);

  // Looks a key up without accounting anything; nullptr when absent.
  Flow* find(const FlowKey& key, uint32_t hash) noexcept;

  // Optional pipelining for a burst (DPDK l3fwd style): prefetch(hash) for packet i+2N,
  // prefetch_flow(hash) for packet i+N, on_packet for packet i. Hides the bucket and record
  // cache misses that dominate at 100K+ flows.
  void prefetch(uint32_t hash) const noexcept {
    const uint32_t sig = sig_of(hash);
    prefetch_read(&buckets_[primary_bucket(sig)]);
  }
  void prefetch_flow(uint32_t hash) const noexcept {
    const uint32_t sig = sig_of(hash);
    const Bucket& b = buckets_[primary_bucket(sig)];
    const uint32_t m = match_mask(b, sig);
    if (m != 0) {
      // The hot part of the record: at most two lines, whichever 16-byte offset it starts at.
      const char* p = reinterpret_cast<const char*>(&flows_[b.idx[__builtin_ctz(m)]]);
      prefetch_read(p);
      prefetch_read(p + kHotBytes - 1);
    } else {
      // No candidate in the primary bucket: most likely a new flow, whose lookup reads the
      // secondary bucket before the flow is created.
      prefetch_read(&buckets_[alt_bucket(primary_bucket(sig), sig)]);
    }
  }

  uint32_t size() const noexcept { return size_; }
  uint32_t capacity() const noexcept { return capacity_; }
  const FlowCounters& counters() const noexcept { return counters_; }
  size_t memory_bytes() const noexcept;  // everything preallocated by create()
  size_t index_bytes() const noexcept { return size_t{bucket_count_} * sizeof(Bucket); }

  // Walks every structure (index, wheel, free list) and reports the first inconsistency.
  // O(capacity): for tests and debugging only.
  absl::Status check_consistency() const;

 private:
  // 8 slots in one cache line: signatures first so one SSE compare pair finds candidates.
  struct alignas(64) Bucket {
    uint32_t sig[kBucketSlots];  // 0 = empty
    uint32_t idx[kBucketSlots];
  };
  static_assert(sizeof(Bucket) == 64);
  struct WheelHead {
    uint32_t prev;
    uint32_t next;
  };
  static constexpr uint32_t kNil = 0xffffffffu;

  explicit FlowTable(const FlowTableConfig& config);

  static constexpr uint32_t kHotBytes = 80;  // Flow fields a packet touches (see Flow)
  static uint32_t sig_of(uint32_t hash) noexcept { return hash != 0 ? hash : 1; }
  // Scales a uniform 32-bit value to [0, bucket_count_) with a multiply (Lemire's "fast
  // range"): any bucket count works, so the index is sized to the capacity, not to a power
  // of two (which cost up to twice the memory).
  uint32_t scale(uint32_t x) const noexcept {
    return static_cast<uint32_t>((uint64_t{x} * bucket_count_) >> 32);
  }
  // Fibonacci hashing first: the dispatcher may pick workers with the low or the high hash
  // bits, so within one worker neither can be trusted to vary.
  uint32_t primary_bucket(uint32_t sig) const noexcept { return scale(sig * 0x9E3779B1u); }
  // The other bucket of an entry in bucket b: (g(sig) - b) mod n is an involution, so a
  // displaced entry finds its other bucket from (bucket, sig) alone. It equals b for about
  // one key in n (2b = g mod n): such a key simply has one bucket.
  uint32_t alt_bucket(uint32_t b, uint32_t sig) const noexcept {
    const uint32_t g = scale((sig ^ (sig >> 15)) * 0x85EBCA6Bu);
    return g >= b ? g - b : g + bucket_count_ - b;
  }
  static uint32_t match_mask(const Bucket& b, uint32_t sig) noexcept {
    const __m128i s = _mm_set1_epi32(static_cast<int>(sig));
    const __m128i lo = _mm_load_si128(reinterpret_cast<const __m128i*>(&b.sig[0]));
    const __m128i hi = _mm_load_si128(reinterpret_cast<const __m128i*>(&b.sig[4]));
    const int ml = _mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(lo, s)));
    const int mh = _mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(hi, s)));
    return static_cast<uint32_t>(ml | (mh << 4));
  }

  void advance_slow(Nanos now, FlowCallback on_end);
  void fire_slot(uint32_t slot, Nanos now, FlowCallback on_end);

  uint32_t lookup(const FlowKey& key, uint32_t sig) const noexcept;
  bool index_insert(uint32_t sig, uint32_t idx) noexcept;
  bool index_try_place(uint32_t bucket, uint32_t sig, uint32_t idx) noexcept;
  bool index_cuckoo(uint32_t sig, uint32_t idx) noexcept;
  void index_remove(uint32_t sig, uint32_t idx) noexcept;

  uint32_t create_flow(const FlowKey& key, uint32_t hash, bool src_is_side0, Nanos now,
                       uint8_t tcp_flags, FlowCallback on_end);
  bool tcp_update(Flow& f, uint32_t side, uint8_t flags, uint32_t payload_len) noexcept;
  void end_flow(uint32_t idx, EndReason reason, FlowCallback on_end);
  void evict_one(FlowCallback on_end);
  void evict_from_buckets(uint32_t sig, FlowCallback on_end);

  Nanos idle_ns(const Flow& f) const noexcept;
  uint64_t interim_index(const Flow& f) const noexcept;
  Nanos deadline(const Flow& f) const noexcept;
  EndReason expiry_reason(const Flow& f) const noexcept;
  void fire(uint32_t idx, Nanos now, FlowCallback on_end);
  uint32_t detach_slot(uint32_t slot) noexcept;

  uint32_t& next_of(uint32_t node) noexcept {
    return node < capacity_ ? flows_[node].timer_next : wheel_[node - capacity_].next;
  }
  uint32_t& prev_of(uint32_t node) noexcept {
    return node < capacity_ ? flows_[node].timer_prev : wheel_[node - capacity_].prev;
  }
  void timer_insert(uint32_t idx, uint64_t tick) noexcept;
  void timer_unlink(uint32_t idx) noexcept;
  void timer_schedule(uint32_t idx) noexcept;  // files idx at its deadline (not linked yet)
  void reschedule_if_earlier(uint32_t idx) noexcept;

  // Hot fields first: touched by every on_packet.
  Flow* flows_ = nullptr;
  Bucket* buckets_ = nullptr;
  uint32_t bucket_count_ = 0;
  uint32_t capacity_ = 0;
  uint32_t size_ = 0;
  uint32_t free_head_ = kNil;
  Nanos now_ = 0;               // table clock: latest packet time seen
  Nanos next_tick_ns_ = 0;      // next_tick_ * 1e9, the advance() fast-path bound
  uint64_t next_tick_ = 0;      // first wheel tick (seconds) not processed yet
  uint64_t next_sid_ = 1;
  uint32_t worker_id_ = 0;
  std::array<Nanos, 6> idle_by_tcp_state_{};  // indexed by TcpState
  Nanos udp_idle_ns_ = 0;
  Nanos other_idle_ns_ = 0;
  Nanos active_ns_ = 0;         // 0 = no interim records
  void* map_ = nullptr;         // one mmap holding flows_ then buckets_
  size_t map_bytes_ = 0;
  FlowCounters counters_;
  std::array<WheelHead, kWheelSlots> wheel_{};
};

// Side of the packet relative to the client: true when the packet goes client -> server.
inline bool is_from_client(const Flow& f, bool src_is_side0) noexcept {
  return (src_is_side0 ? 0 : 1) == f.client_side;
}

}  // namespace flowscribe::flow
