#pragma once
// The worker's application layer: per flow, ordered bytes (flowtable/tcp_stream) into the
// protocol classifier (dissectors/classify) until the protocol is named or the budget is
// spent; then the flow is bypassed and its later packets cost only the flow-table update.
// State lives in a fixed per-worker pool, taken at a flow's first payload packet (a SYN scan
// takes none) and given back as soon as the decision is made -- or, when the protocol has a
// dissector (dissectors/registry.h), as soon as that dissector is done: the bytes the
// classifier buffered are replayed to it, then the stream goes on feeding it. A protocol
// without a dissector that was named on one side's bytes alone keeps the state until the other
// side's first message is checked (Classifier::begin_verify; docs/protocols.md, "Violations").
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "common/counters.h"
#include "common/prefetch.h"
#include "dissectors/apps/apps.h"
#include "dissectors/classify/classifier.h"
#include "dissectors/dissector.h"
#include "dissectors/registry.h"
#include "flowtable/flow_table.h"
#include "flowtable/tcp_stream.h"

namespace flowscribe::sensor {

#define FS_APP_COUNTERS(X)                                                                  \
  X(app_states_in_use, "flows holding application-layer state now (gauge)")                 \
  X(app_state_exhausted, "flows left unknown: the per-worker app-state pool was full")      \
  X(app_classified, "flows whose protocol was named")                                       \
  X(app_unknown, "flows whose payload matched no protocol (proto=unknown)")                 \
  X(app_no_payload, "flows that ended without payload (never classified)")                  \
  X(app_other_transport, "flows neither TCP, UDP nor SCTP: not classified")                 \
  X(app_sctp_bad_chunk, "SCTP packets whose chunk list broke off (a length too short or past the packet): the rest not read") \
  X(app_sctp_tsn_old, "SCTP DATA chunks with a TSN already taken (retransmissions): skipped") \
  X(app_sctp_tsn_gap, "SCTP DATA chunks after a TSN never seen (lost or out of order): a hole in the stream") \
  X(app_sctp_idata, "SCTP I-DATA chunks (interleaved messages, RFC 8260): not read, a hole in the stream") \
  X(app_reversed, "flows whose guessed client was the server (payload proved it): flipped")  \
  X(app_roles_reversed, "handshake-proven flows whose client speaks as the application's server (Certain, reversed): client kept, a dissector reads them in the application's roles") \
  X(app_decided_prefix_full, "flows decided on an unconfirmed candidate: a first message outgrew the classifier's prefix") \
  X(app_dissected, "flows handed to their protocol's dissector")                            \
  X(app_dissect_exhausted, "classified flows not dissected: the dissector's state pool was full") \
  X(app_dissect_done, "flows whose dissector finished before the flow ended (bypassed after)") \
  X(app_violation, "flows whose named protocol broke its grammar: dropped back to unknown") \
  X(app_handovers, "streams handed from one dissector to another (STARTTLS, CONNECT tunnels)") \
  X(app_handover_rejected, "handed-over streams that were not the expected protocol: bypassed, protocol kept") \
  X(app_isn_start, "TCP directions whose first data segment came out of order: started at the handshake's sequence number") \
  X(app_start_gap, "TCP directions whose first bytes never came (lost before the first data seen): classified from the bytes after the hole")

FS_DEFINE_COUNTERS(AppCounters, FS_APP_COUNTERS);

struct AppConfig {
  uint32_t states = 32768;         // --app-states: flows being classified at once per worker
  flow::TcpStreamConfig stream;    // --stream-chunks sets stream.pool_chunks
  uint32_t dissect_states = 0;     // --dissect-states N: flows per dissector at once, 0 = its default
  // --dissect-states NAME=N: for one dissector, over the above (create() rejects unknown names)
  std::vector<std::pair<std::string, uint32_t>> dissect_states_named;
};

// One dissector's state pool: its size and how it was used (for sizing --dissect-states).
struct DissectPool {
  std::string_view name;
  uint32_t slots;      // flows it may read at once
  uint64_t peak;       // most slots in use at once
  uint64_t exhausted;  // flows named its protocol but not dissected: every slot was taken
};

// What the worker knows of a packet once its flow is found.
struct AppPacket {
  const uint8_t* payload;
  uint32_t payload_len;       // captured
  uint32_t payload_wire_len;  // on the wire (>= payload_len when the capture cut it)
  uint32_t seq;
  uint32_t ack;
  uint8_t tcp_flags;
  Nanos t;                    // packet time
};

class AppLayer {
 public:
  // `apps` may be null (no application names).
  static absl::StatusOr<std::unique_ptr<AppLayer>> create(
      const AppConfig& config, std::shared_ptr<const dissect::ClassifierDb> db,
      std::shared_ptr<const dissect::AppDb> apps = nullptr);
  ~AppLayer();

  // Where dissectors' records go (the worker). Without one, flows are classified only.
  void set_output(dissect::RecordOut* out) noexcept { out_ = out; }
  const dissect::AppDb* apps() const noexcept { return apps_.get(); }

  // A packet of a flow that is not bypassed (the caller checks Flow::app_flags & kAppBypass).
  void on_packet(flow::Flow& f, bool from_client, const AppPacket& p) noexcept;

  // True when on_packet would do nothing: a flow with no state yet, and a TCP, UDP or SCTP
  // packet that carries no payload and is not a SYN (whose sequence number it would note).
  // Inline, so that the worker skips the call for the ACKs of a flow not yet talking.
  static bool idle_packet(const flow::Flow& f, uint32_t payload_wire_len,
                          uint8_t tcp_flags) noexcept {
    return f.app_state == flow::kNoAppState && payload_wire_len == 0 &&
           (tcp_flags & kTcpSyn) == 0 &&
           (f.key.proto == kIpProtoTcp || f.key.proto == kIpProtoUdp ||
            f.key.proto == kIpProtoSctp);
  }

  // A hint, before on_packet: fetches the cache lines of the flow's state that on_packet reads
  // first (the stream and the dissector's slot index). Branch-free: a flow without state
  // fetches the first state's lines, which costs nothing and mispredicts nothing.
  void prefetch(const flow::Flow& f) const noexcept {
    const uint32_t idx = f.app_state == flow::kNoAppState ? 0 : f.app_state;
    const uint8_t* s = state_base_ + size_t{idx} * state_bytes_;
    prefetch_read(s);
    prefetch_read(s + slot_off_);
  }
  // A second hint, once prefetch()'s lines have had time to come: the first lines of the
  // dissector's slot of the flow, when it is being dissected.
  void prefetch_dissector(const flow::Flow& f) const noexcept {
    if (f.app_state == flow::kNoAppState) return;
    const uint8_t* s = state_base_ + size_t{f.app_state} * state_bytes_;
    const uint8_t d = s[dissector_off_];
    if (d >= slabs_.size()) return;  // classifying: no dissector yet
    uint32_t slot;
    std::memcpy(&slot, s + slot_off_, sizeof slot);
    const uint8_t* p = slabs_[d].base + size_t{slot} * slabs_[d].slot_bytes;
    prefetch_read(p);
    prefetch_read(p + 64);
  }

  // The flow ends (not for interim reports): decide with what there is, free the state.
  void on_flow_end(flow::Flow& f) noexcept;

  const AppCounters& counters() const noexcept { return counters_; }
  const flow::StreamCounters& stream_counters() const noexcept { return reasm_->counters(); }
  const dissect::ClassifyCounters& classify_counters() const noexcept {
    return classifier_.counters();
  }
  size_t memory_bytes() const noexcept;
  // The dissectors' counters, summed over dissectors in registry order.
  void for_each_dissector_counter(dissect::CounterFn f) const;
  // Each dissector's state pool, in registry order. Safe from another core (relaxed reads).
  void for_each_dissector_pool(absl::FunctionRef<void(const DissectPool&)> f) const;

  struct State;
  struct Consumer;

 private:
  AppLayer(const AppConfig& config, std::shared_ptr<const dissect::ClassifierDb> db);
  uint32_t alloc(flow::Flow& f, bool from_client, const AppPacket& p) noexcept;
  // Applies the classifier's decision; starts the protocol's dissector when it has one and
  // replays the buffered bytes to it (`cur`: the chunk that decided, not yet replayed).
  struct Chunk {
    uint32_t dir;           // reassembler / classifier direction (0 = client as first seen)
    const uint8_t* p;       // nullptr: no current chunk (decided at a gap, flow end, budget)
    uint32_t len;
    uint32_t wire_len;
    uint16_t prefix_before;  // classifier bytes of `dir` before this chunk
    uint32_t wire_before;    // bytes of `dir` seen before this chunk (saturating)
  };
  void conclude(flow::Flow& f, const dissect::Decision& d, const Chunk& cur, Nanos now) noexcept;
  // While the classifier checks the other side's first message (no dissector): feeds it and
  // applies the result (kAppViolation: proto back to unknown, counted in app_violation).
  void verify_data(flow::Flow& f, State& s, uint32_t dir, const uint8_t* p, uint32_t len,
                   uint32_t wire_len) noexcept;
  // Feeds the active dissector; handles kDone / kIdle / kViolation and hand-overs (with the
  // bytes a handing dissector kept: `depth` bounds that recursion).
  void dissect_data(flow::Flow& f, State& s, uint32_t dir, const uint8_t* p, uint32_t len,
                    uint32_t wire_len, Nanos now, int depth = 0) noexcept;
  void dissect_gap(flow::Flow& f, State& s, uint32_t dir, uint32_t len, Nanos now) noexcept;
  void after_progress(flow::Flow& f, State& s, dissect::Progress pr, Nanos now,
                      uint16_t next_proto = 0) noexcept;
  bool start_dissector(flow::Flow& f, State& s, uint16_t proto, Nanos now) noexcept;
  void stop_dissector(flow::Flow& f, State& s, bool write_pending, Nanos now) noexcept;
  void release(flow::Flow& f) noexcept;
  // SCTP: reads the packet's DATA chunks as the sending side's stream.
  void on_sctp(flow::Flow& f, State& s, bool from_client, const AppPacket& p) noexcept;
  dissect::Ctx ctx(flow::Flow& f, Nanos now) noexcept;
  void* dslot(const State& s) noexcept;
  // Sequence numbers of handshakes (SYN, SYN-ACK) of flows that hold no state yet, so that a
  // first data segment that arrives out of order does not hide the bytes before it.
  // Direct-mapped by session id, fixed size: a collision only loses that help.
  struct IsnEntry {
    uint64_t sid;
    uint32_t next[2];  // ISN + 1 per direction (0 = client)
    uint8_t have;      // bit per direction
  };
  static constexpr uint32_t kIsnSlots = 4096;  // power of two; handshakes in flight per worker
  void note_isn(const flow::Flow& f, uint32_t dir, uint32_t seq) noexcept;
  // ISN + 1 of `dir` when noted for this flow and `seq` (its first data) is within the
  // out-of-order cap after it; otherwise `seq`.
  uint32_t stream_start(const flow::Flow& f, uint32_t dir, uint32_t seq) noexcept;

  AppConfig config_;
  std::unique_ptr<State[]> states_;
  // For the inline prefetch hints (State is defined in app_layer.cpp).
  const uint8_t* state_base_ = nullptr;
  uint32_t state_bytes_ = 0;
  uint32_t slot_off_ = 0;      // offsetof(State, slot)
  uint32_t dissector_off_ = 0; // offsetof(State, dissector)
  uint32_t free_head_;
  std::unique_ptr<flow::TcpReassembler> reasm_;
  std::unique_ptr<IsnEntry[]> isn_;
  dissect::Classifier classifier_;
  std::shared_ptr<const dissect::AppDb> apps_;
  dissect::DissectorSet dissectors_;
  // One slab of fixed-size state slots per dissector, with a free list of slot indices.
  struct Slab {
    std::unique_ptr<uint8_t[]> mem;
    uint8_t* base = nullptr;     // 64-byte aligned
    uint32_t slot_bytes = 0;
    uint32_t slots = 0;
    std::unique_ptr<uint32_t[]> free_list;
    uint32_t free_count = 0;
  };
  struct SlabStats {
    Counter peak;       // most slots in use at once
    Counter exhausted;  // starts refused: no free slot (app_dissect_exhausted, per dissector)
  };
  std::vector<Slab> slabs_;
  std::unique_ptr<SlabStats[]> slab_stats_;  // one per slab; Counters, read by the stats core
  dissect::RecordOut* out_ = nullptr;
  AppCounters counters_;
};

}  // namespace flowscribe::sensor
