#pragma once
// IPv4 / IPv6 fragment reassembly (RFC 791 section 3.2, RFC 815, RFC 8200 section 4.5) into
// preallocated per-worker memory. Pure C++ over bytes: no DPDK, no allocation after the
// constructor, every fragment that cannot be used is counted (FS_REASM_COUNTERS).
//
// Why not DPDK's librte_ip_frag (docs/flows.md, "IP fragments"): its table keeps the mbufs
// themselves (RX-pool buffers pinned for up to the timeout, outside the burst loop's free),
// Debian's build caps a datagram at RTE_LIBRTE_IP_FRAG_MAX_FRAG = 8 fragments (8-byte
// fragments, a 64 KiB NFS read in 45 fragments: refused), a duplicate or overlapping fragment
// silently invalidates the whole datagram, and its statistics are compile-time only.
//
// Layout: `slots` datagram slots in buckets of kWays (set-associative by the datagram key),
// all slots on one list in creation order (timeouts and evictions pop its head), a bitmap per
// slot of the 8-byte units held (fragment offsets count in 8-byte units, and only the last
// fragment may end inside one), and a pool of kChunkBytes chunks that hold the bytes, so
// memory follows the bytes held, not the cap. Fragments may come in any order and any size.
// Overlap policy: first data wins. A byte received once is never replaced; a later fragment
// that brings other values for bytes already held is counted (frag_overlap_conflict) and
// only its new bytes are used.
#include <cstdint>
#include <memory>

#include "common/counters.h"
#include "common/net.h"

namespace flowscribe::decode {

#define FS_REASM_COUNTERS(X)                                                                   \
  X(frag_reassembled, "IP datagrams put back together from their fragments (delivered once, whole)") \
  X(frag_held, "fragments whose bytes were taken into a reassembly slot")                      \
  X(frag_duplicate, "fragments whose every byte was already held, same values: dropped")        \
  X(frag_overlap, "fragments overlapping bytes already held with the same values (new bytes used)") \
  X(frag_overlap_conflict, "fragments overlapping held bytes with other values: first data kept, new bytes used (evasion signal)") \
  X(frag_too_big, "fragments ending past the datagram cap (65535 bytes): datagram abandoned")  \
  X(frag_too_many, "fragments past the cap per datagram (256, repeats included): datagram abandoned") \
  X(frag_bad_length, "fragments with an impossible length or offset (empty, non-last not a multiple of 8, past or disagreeing with the end set by a last fragment): dropped") \
  X(frag_cut, "fragments cut by the capture (snaplen): datagram abandoned")                   \
  X(frag_abandoned, "fragments of a datagram already abandoned, within its timeout: dropped")  \
  X(frag_timeout, "datagrams not complete 30 s (packet time) after their first fragment, or at shutdown") \
  X(frag_evicted, "incomplete datagrams dropped to make room (their slot bucket or the byte pool was full)") \
  X(frag_lost, "fragments held and then dropped with an incomplete datagram (timeout, eviction, abandon)") \
  X(frag_no_output, "complete datagrams not delivered: the burst's output arena was full")      \
  X(frag_active, "datagrams being reassembled now (gauge)")

FS_DEFINE_COUNTERS(ReasmCounters, FS_REASM_COUNTERS);

struct ReasmConfig {
  uint32_t slots = 1024;            // datagrams in reassembly at once (multiple of kWays)
  uint32_t chunks = 8192;           // kChunkBytes each: 8 MiB of fragment bytes
  uint32_t max_datagram = 65535;    // bytes after the IP header (IPv6: after the fragment header)
  uint32_t max_fragments = 256;     // per datagram (8-byte fragments of a 2 KiB segment)
  Nanos timeout = 30 * kNsPerSec;   // from the first fragment, packet time (Linux ipfrag_time)
};

// The datagram a fragment belongs to (RFC 791: src, dst, protocol, id; RFC 8200: src, dst,
// id), plus the outer VLAN that scopes the flow key.
struct FragKey {
  IpAddr src;
  IpAddr dst;
  uint32_t id = 0;
  uint16_t vlan = 0;
  uint8_t version = 0;
  uint8_t proto = 0;  // IPv4 protocol; 0 for IPv6 (the first fragment's next header is used)
};

struct Fragment {
  uint32_t offset = 0;         // bytes
  bool more = false;           // MF / M flag
  uint8_t next = 0;            // IPv4 protocol / IPv6 fragment header next header
  const uint8_t* data = nullptr;
  uint32_t len = 0;            // captured fragment bytes at data
  uint32_t wire_len = 0;       // fragment bytes on the wire
};

enum class ReasmStatus : uint8_t {
  kHeld,      // bytes kept; the datagram is not complete yet
  kComplete,  // this fragment completed the datagram: `len` bytes written to the output
  kRefused,   // not usable (counted); nothing held for it
};

struct ReasmResult {
  ReasmStatus status = ReasmStatus::kRefused;
  uint8_t proto = 0;          // kComplete: the transport (IPv6: first fragment's next header)
  uint32_t len = 0;           // kComplete: datagram bytes written
  // Fragments of this datagram that arrived with no flow to account them to (the caller
  // said `attributed = false`), handed back once the caller can attribute: on a fragment it
  // attributes, or on completion. The caller accounts them and they are forgotten here.
  uint32_t late_pkts = 0;
  uint64_t late_bytes = 0;
};

class IpReassembler {
 public:
  static constexpr uint32_t kWays = 8;
  static constexpr uint32_t kChunkBytes = 1024;

  explicit IpReassembler(const ReasmConfig& config = ReasmConfig{});
  ~IpReassembler();
  IpReassembler(const IpReassembler&) = delete;
  IpReassembler& operator=(const IpReassembler&) = delete;

  // Adds one fragment at packet time `now`. On kComplete the datagram (from its transport
  // header, or IPv6: from the first header after the fragment header) is copied to `out`
  // when it fits `out_cap`, else it is dropped (frag_no_output) and kRefused is returned.
  // `attributed`: the caller accounted this fragment to a flow; when not, the slot keeps
  // its packet and `ip_len` for ReasmResult::late_*.
  ReasmResult add(const FragKey& key, const Fragment& frag, bool attributed, uint32_t ip_len,
                  Nanos now, uint8_t* out, uint32_t out_cap) noexcept;

  // Drops datagrams older than the timeout (counted). Cheap when nothing is held.
  void expire(Nanos now) noexcept;
  // Drops every datagram still held (end of input), counted as timeouts.
  void expire_all() noexcept;

  uint32_t active() const noexcept { return active_; }
  uint32_t free_chunks() const noexcept { return free_top_; }
  size_t memory_bytes() const noexcept;
  const ReasmCounters& counters() const noexcept { return counters_; }

 private:
  struct Slot;

  uint32_t lookup(const FragKey& key, uint32_t hash) const noexcept;
  uint32_t take_slot(const FragKey& key, uint32_t hash, Nanos now) noexcept;
  void release(uint32_t idx) noexcept;
  void drop(uint32_t idx, Counter& why) noexcept;  // incomplete datagram: counted, freed
  void abandon(uint32_t idx) noexcept;             // keeps the key until timeout, no bytes
  bool ensure_chunks(uint32_t idx, uint32_t begin, uint32_t end) noexcept;
  bool same_bytes(uint32_t idx, uint32_t off, const uint8_t* p, uint32_t n) const noexcept;
  void put_bytes(uint32_t idx, uint32_t off, const uint8_t* p, uint32_t n) noexcept;
  void get_bytes(uint32_t idx, uint32_t off, uint8_t* p, uint32_t n) const noexcept;
  uint64_t* bits(uint32_t idx) noexcept { return slot_bits_.get() + size_t{idx} * words_per_slot_; }
  void list_unlink(uint32_t idx) noexcept;
  void list_push_tail(uint32_t idx) noexcept;

  ReasmConfig cfg_;
  uint32_t bucket_mask_ = 0;
  uint32_t chunks_per_datagram_ = 0;
  std::unique_ptr<Slot[]> slots_;
  uint32_t words_per_slot_ = 0;
  std::unique_ptr<uint16_t[]> slot_chunks_;  // slots × chunks_per_datagram_ chunk indices
  std::unique_ptr<uint64_t[]> slot_bits_;    // slots × words_per_slot_: 8-byte units held
  std::unique_ptr<uint8_t[]> chunk_mem_;
  std::unique_ptr<uint16_t[]> free_chunks_;  // stack of free chunk indices
  uint32_t free_top_ = 0;
  uint32_t head_ = 0;  // oldest live slot (creation order), kNone when empty
  uint32_t tail_ = 0;
  uint32_t active_ = 0;
  ReasmCounters counters_;
};

}  // namespace flowscribe::decode
