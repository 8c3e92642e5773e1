#pragma once
// Bounded TCP stream reassembly: per flow and direction, hands the application layer the
// payload in sequence order (Zeek's deliver / undelivered / eof). In-order data goes straight
// from the packet to the consumer (zero copy); only out-of-order data is copied, into a
// per-worker pool of fixed 2 KiB chunks, bounded per flow. Overlaps: first data wins.
// No allocation after create(), no locks, noexcept. Design and counters: docs/streams.md.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/counters.h"
#include "common/net.h"

namespace flowscribe::flow {

// Sequence-number order modulo 2^32 (RFC 9293 section 3.4): a precedes b when b is less than
// 2^31 ahead of it.
constexpr bool seq_lt(uint32_t a, uint32_t b) noexcept { return static_cast<int32_t>(a - b) < 0; }
constexpr bool seq_le(uint32_t a, uint32_t b) noexcept { return static_cast<int32_t>(a - b) <= 0; }
constexpr bool seq_gt(uint32_t a, uint32_t b) noexcept { return static_cast<int32_t>(a - b) > 0; }
constexpr bool seq_ge(uint32_t a, uint32_t b) noexcept { return static_cast<int32_t>(a - b) >= 0; }

constexpr uint32_t kNoChunk = 0xffffffffu;

// One direction of a stream. Plain data: the app layer may read it (delivered, gaps, flags).
struct TcpStreamDir {
  uint32_t next_seq;     // next byte to deliver (valid with kStreamIsnKnown)
  uint32_t fin_seq;      // sequence number the FIN occupies (valid with kStreamFinSeen)
  uint64_t delivered;    // bytes handed to data()
  uint32_t gap_bytes;    // bytes reported through gap() (saturates at 2^32 - 1)
  uint32_t ooo_head;     // first buffered chunk, sorted by seq, disjoint; kNoChunk when none
  uint32_t ooo_bytes;    // bytes buffered
  uint8_t ooo_chunks;    // chunks buffered
  uint8_t flags;         // TcpStreamFlag
  uint8_t info;          // TcpStreamInfo
  uint8_t pad_;
};
static_assert(sizeof(TcpStreamDir) == 32);

// Control bits: exactly kStreamIsnKnown is the state of the in-order fast path.
enum TcpStreamFlag : uint8_t {
  kStreamIsnKnown = 0x01,  // next_seq is set (SYN seen, or picked up from data)
  kStreamFinSeen = 0x02,   // fin_seq is set
  kStreamClosed = 0x04,    // end() was called; later segments are ignored
  kStreamHold = 0x08,      // chunks buffered or a FIN waiting for data: the peer's ACKs matter
};

// Facts for the consumer and the record; never read on the fast path.
enum TcpStreamInfo : uint8_t {
  kStreamMidstream = 0x01,  // picked up without a SYN: data starts mid-conversation
  kStreamGapSeen = 0x02,    // gap() was called at least once
};

// Per-flow state: one cache line, kept in a per-worker app-state pool slot (not in Flow).
// dir[0] is client -> server, dir[1] server -> client (the reassembler only needs 0/1).
struct alignas(64) TcpStreamState {
  TcpStreamDir dir[2];
};
static_assert(sizeof(TcpStreamState) == 64);

// One TCP segment as decoded (decode::PacketMeta: tcp_seq, tcp_ack, tcp_flags, payload,
// payload_len, payload_wire_len).
struct TcpSegment {
  uint32_t seq = 0;
  uint32_t ack = 0;                  // read only when flags has kTcpAck
  const uint8_t* payload = nullptr;  // captured payload; may be nullptr only when len == 0
  uint32_t len = 0;                  // captured payload bytes
  uint32_t wire_len = 0;             // payload bytes on the wire; <= len means not truncated
  uint8_t flags = 0;                 // TcpFlag bits
};

enum class StreamEnd : uint8_t {
  kFin = 0,    // FIN, after every byte before it was delivered or reported as a gap
  kRst = 1,    // RST seen (either side): both directions end
  kFlush = 2,  // flow ended without FIN/RST (timeout, eviction, shutdown): flush()
};
const char* stream_end_name(StreamEnd e) noexcept;  // "fin", "rst", "flush"

// Non-owning reference to the consumer's three hooks, like absl::FunctionRef: any object
// with these members binds, and each event is one indirect call.
//   void data(uint32_t dir, const uint8_t* p, uint32_t len);  // next in-order bytes
//   void gap(uint32_t dir, uint32_t len);     // bytes that will never come: resync or give up
//   void end(uint32_t dir, StreamEnd why);    // exactly once per direction
// `p` is valid only during the call (packet or pool chunk): copy what you keep. The hooks
// must not call back into the reassembler for the same state.
class StreamSink {
 public:
  template <typename T>
    requires(!std::is_same_v<std::remove_cvref_t<T>, StreamSink>)
  StreamSink(T& consumer) noexcept  // NOLINT(google-explicit-constructor): a reference type
      : obj_(&consumer),
        data_([](void* o, uint32_t dir, const uint8_t* p, uint32_t n) noexcept {
          static_cast<T*>(o)->data(dir, p, n);
        }),
        gap_([](void* o, uint32_t dir, uint32_t n) noexcept { static_cast<T*>(o)->gap(dir, n); }),
        end_([](void* o, uint32_t dir, StreamEnd e) noexcept { static_cast<T*>(o)->end(dir, e); }) {}

  void data(uint32_t dir, const uint8_t* p, uint32_t n) const noexcept { data_(obj_, dir, p, n); }
  void gap(uint32_t dir, uint32_t n) const noexcept { gap_(obj_, dir, n); }
  void end(uint32_t dir, StreamEnd e) const noexcept { end_(obj_, dir, e); }

 private:
  void* obj_;
  void (*data_)(void*, uint32_t, const uint8_t*, uint32_t) noexcept;
  void (*gap_)(void*, uint32_t, uint32_t) noexcept;
  void (*end_)(void*, uint32_t, StreamEnd) noexcept;
};

// Per-worker pool of fixed-size chunks for out-of-order data, mapped and touched once at
// start. A chunk holds one contiguous run of one direction: [seq, seq + len) at data + off.
class SegmentPool {
 public:
  static constexpr uint32_t kChunkBytes = 2048;
  static constexpr uint32_t kMaxChunks = 1u << 24;  // 32 GiB

  struct Meta {
    uint32_t next;  // next chunk of the same direction (by seq), or the free list
    uint32_t seq;   // sequence number of the first valid byte
    uint16_t off;   // first valid byte within the chunk
    uint16_t len;   // valid bytes
  };

  SegmentPool() = default;
  ~SegmentPool();
  SegmentPool(const SegmentPool&) = delete;
  SegmentPool& operator=(const SegmentPool&) = delete;

  absl::Status init(uint32_t chunks);  // once, at start; 0 chunks is allowed (no buffering)

  uint32_t alloc() noexcept {  // kNoChunk when empty
    const uint32_t c = free_head_;
    if (c != kNoChunk) {
      free_head_ = meta_[c].next;
      --free_count_;
    }
    return c;
  }
  void free(uint32_t c) noexcept {
    meta_[c].next = free_head_;
    free_head_ = c;
    ++free_count_;
  }
  Meta& meta(uint32_t c) noexcept { return meta_[c]; }
  const Meta& meta(uint32_t c) const noexcept { return meta_[c]; }
  uint8_t* data(uint32_t c) noexcept { return data_ + size_t{c} * kChunkBytes; }

  uint32_t capacity() const noexcept { return capacity_; }
  uint32_t free_count() const noexcept { return free_count_; }
  size_t memory_bytes() const noexcept { return map_bytes_; }

 private:
  uint8_t* data_ = nullptr;
  Meta* meta_ = nullptr;
  uint32_t free_head_ = kNoChunk;
  uint32_t free_count_ = 0;
  uint32_t capacity_ = 0;
  void* map_ = nullptr;
  size_t map_bytes_ = 0;
};

#define FS_STREAM_COUNTERS(X)                                                               \
  X(stream_segments, "TCP segments given to the reassembler (pure ACKs included)")         \
  X(stream_bytes_delivered, "payload bytes delivered in order to the application layer")   \
  X(stream_retransmissions, "segments whose bytes (or FIN) were all delivered already: dropped") \
  X(stream_overlap, "segments overlapping delivered or buffered data: only new bytes kept") \
  X(stream_overlap_conflict, "overlaps whose bytes differ from the buffered copy (first wins)") \
  X(stream_ooo_segments, "segments buffered out of order (copied into the pool)")          \
  X(stream_ooo_bytes, "bytes copied into the pool")                                         \
  X(stream_ooo_cap_hit, "out-of-order data over the per-direction byte or chunk cap")       \
  X(stream_pool_exhausted, "out-of-order data that found the worker's chunk pool empty")    \
  X(stream_gap, "holes reported to the application layer with gap()")                       \
  X(stream_gap_bytes, "bytes reported as gaps (never delivered)")                           \
  X(stream_gap_acked, "holes declared lost because the peer acknowledged past them")        \
  X(stream_truncated, "segments cut by the capture (snaplen): the missing tail is a gap")  \
  X(stream_midstream_pickup, "directions picked up from data without a SYN")                \
  X(stream_seq_out_of_window, "segments more than max_seq_ahead beyond the next byte: dropped") \
  X(stream_beyond_fin, "segments or buffered bytes past the FIN: trimmed")                  \
  X(stream_fin_invalid, "FINs before delivered data or unlike the first FIN: ignored")      \
  X(stream_after_close, "segments with new data for a direction already ended: dropped")   \
  X(stream_fin, "directions ended by FIN")                                                  \
  X(stream_rst, "streams ended by RST")

FS_DEFINE_COUNTERS(StreamCounters, FS_STREAM_COUNTERS);

struct TcpStreamConfig {
  uint32_t pool_chunks = 16384;         // per worker: 2 KiB each (32 MiB)
  uint32_t max_ooo_bytes = 32 * 1024;   // buffered bytes per flow and direction
  uint32_t max_ooo_chunks = 16;         // buffered chunks per flow and direction (<= 255)
  // Farthest a segment may end beyond the next expected byte: the largest window TCP can
  // advertise (RFC 7323 section 2.3: 2^30). Further is another stream or an attack.
  uint32_t max_seq_ahead = 1u << 30;
};

class TcpReassembler {
 public:
  static absl::StatusOr<std::unique_ptr<TcpReassembler>> create(const TcpStreamConfig& config);
  TcpReassembler(const TcpReassembler&) = delete;
  TcpReassembler& operator=(const TcpReassembler&) = delete;

  // A fresh state for a new flow (no allocation).
  static void init(TcpStreamState& st) noexcept;

  // One segment of direction `dir` (0/1). Fast path (in-order data or pure ACK, nothing
  // buffered in either direction, no SYN/FIN/RST): five compares, two counter updates and
  // the data() call. Everything else is on_segment_slow().
  void on_segment(TcpStreamState& st, uint32_t dir, const TcpSegment& seg,
                  const StreamSink& sink) noexcept {
    dir &= 1;
    TcpStreamDir& d = st.dir[dir];
    counters_.stream_segments.inc();
    if (d.flags == kStreamIsnKnown && (st.dir[dir ^ 1].flags & kStreamHold) == 0 &&
        (seg.flags & (kTcpSyn | kTcpFin | kTcpRst)) == 0 && seg.seq == d.next_seq &&
        seg.wire_len <= seg.len) [[likely]] {
      if (seg.len != 0) {
        d.next_seq += seg.len;
        d.delivered += seg.len;
        counters_.stream_bytes_delivered.inc(seg.len);
        sink.data(dir, seg.payload, seg.len);
      }
      return;
    }
    on_segment_slow(st, dir, seg, sink);
  }

  // Flow end without FIN/RST: each open direction gets its buffered data (holes reported as
  // gaps), its FIN if one is waiting (kFin) and otherwise end(kFlush). Frees the chunks.
  void flush(TcpStreamState& st, const StreamSink& sink) noexcept;

  // Frees the chunks and closes both directions without any event (bypass, flow recycled).
  void release(TcpStreamState& st) noexcept;

  const StreamCounters& counters() const noexcept { return counters_; }
  const SegmentPool& pool() const noexcept { return pool_; }
  const TcpStreamConfig& config() const noexcept { return config_; }

 private:
  explicit TcpReassembler(const TcpStreamConfig& config) : config_(config) {}

  void on_segment_slow(TcpStreamState& st, uint32_t dir, const TcpSegment& seg,
                       const StreamSink& sink) noexcept;
  // What happened to one segment, counted once when it is done.
  struct SegmentNote {
    bool overlap = false;    // met bytes delivered or buffered already
    bool conflict = false;   // ... and some of them differed
    bool stored = false;     // copied bytes into the pool
    bool delivered = false;  // delivered bytes from the packet
  };

  void accept_data(TcpStreamDir& d, uint32_t dir, uint32_t seq, const uint8_t* p, uint32_t len,
                   uint32_t wire, const StreamSink& sink) noexcept;
  void deliver_from(TcpStreamDir& d, uint32_t dir, uint32_t seq, const uint8_t* p, uint32_t len,
                    uint32_t wire, SegmentNote& note, const StreamSink& sink) noexcept;
  uint32_t buffer_ooo(TcpStreamDir& d, uint32_t seq, const uint8_t* p, uint32_t len,
                      SegmentNote& note) noexcept;
  uint32_t store(TcpStreamDir& d, uint32_t& prev, uint32_t next, uint32_t a, const uint8_t* src,
                 uint32_t n) noexcept;
  void drain(TcpStreamDir& d, uint32_t dir, const uint8_t* p, uint32_t pseq, uint32_t plen,
             SegmentNote& note, const StreamSink& sink) noexcept;
  void skip_to(TcpStreamDir& d, uint32_t dir, uint32_t target, const StreamSink& sink) noexcept;
  void ack_past_hole(TcpStreamDir& d, uint32_t dir, uint32_t ack, const StreamSink& sink) noexcept;
  void note_fin(TcpStreamDir& d, uint32_t fin_seq) noexcept;
  void trim_from(TcpStreamDir& d, uint32_t limit) noexcept;
  void check_fin(TcpStreamDir& d, uint32_t dir, const StreamSink& sink) noexcept;
  void finish(TcpStreamState& st, StreamEnd why, const StreamSink& sink) noexcept;
  void free_chunks(TcpStreamDir& d) noexcept;
  void emit_data(TcpStreamDir& d, uint32_t dir, const uint8_t* p, uint32_t n,
                 const StreamSink& sink) noexcept;
  void emit_gap(TcpStreamDir& d, uint32_t dir, uint32_t n, const StreamSink& sink) noexcept;
  static void refresh_hold(TcpStreamDir& d) noexcept;

  TcpStreamConfig config_;
  StreamCounters counters_;
  SegmentPool pool_;
};

}  // namespace flowscribe::flow
