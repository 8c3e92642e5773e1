#pragma once
// Worker and dispatcher lcores. A worker owns everything it touches: its RX queues (or its
// ring from the dispatcher), flow table, counters, record pool and record ring. Nothing is
// shared with another worker; the main core only reads counters.
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <atomic>
#include <memory>
#include <vector>

#include "common/counters.h"
#include "emit/record.h"
#include "flowtable/flow_table.h"
#include "sensor/app_layer.h"
#include "sensor/decode/decode.h"
#include "sensor/options.h"

namespace flowscribe::sensor {

#define FS_WORKER_COUNTERS(X)                                                               \
  X(worker_packets, "packets processed")                                                     \
  X(worker_bytes, "captured bytes processed")                                                \
  X(worker_records, "records handed to the emitter")                                         \
  X(worker_transaction_records, "of those, transaction records (http, tls, x509, dns, socks)")      \
  X(worker_record_pool_empty, "records dropped: no free record buffer (emitter too slow)")   \
  X(worker_record_ring_full, "records dropped: ring to the emitter full (emitter too slow)") \
  X(worker_record_waits, "times a worker waited for the emitter (offline, or flushing at shutdown)")             \
  X(worker_record_continuations, "continuation slots handed to the emitter with their record (records longer than one slot)") \
  X(worker_record_no_continuation, "fields cut: no free record buffer for a continuation slot (the record itself is written)") \
  X(worker_record_chain_abandoned, "continuation slots given back: their record was begun but never committed") \
  X(worker_frag_attributed, "fragments without ports of their own accounted to their flow (first fragment's ports, or the reassembled datagram's)") \
  X(worker_frag_unattributed, "fragments without ports that arrived before the ports of their datagram were known") \
  X(worker_frag_late, "of those, accounted to their flow later, when the first fragment or the reassembled datagram gave the ports") \
  X(worker_frag_undecodable, "reassembled datagrams the decoder rejected (its decode_* counter says why): fragments accounted as before") \
  X(worker_flows_active, "flows in the table now (gauge)")                                  \
  X(worker_oversize, "frames longer than the 64 KiB decode buffer (decoded up to it)")       \
  X(worker_scratch_full, "multi-segment frames read only in their first segment: the burst's 2 MiB arena was full")

FS_DEFINE_COUNTERS(WorkerCounters, FS_WORKER_COUNTERS);

#define FS_RX_COUNTERS(X)                                                                \
  X(rx_packets, "packets received from the ports (offline: the capture file) by this poller") \
  X(dispatch_packets, "packets the software dispatcher handed to a worker")              \
  X(dispatch_ring_full, "packets dropped: a worker's input ring was full (worker slow)") \
  X(dispatch_waits, "offline mode: times the dispatcher waited for a worker")             \
  X(rx_file_waits, "offline: polls that found the capture's next bytes not read yet (the disk or pipe was slower than this core)") \
  X(dispatch_frag_routed, "non-first fragments sent to the worker of their first fragment's flow") \
  X(dispatch_frag_unrouted, "fragments sent by addresses alone: their first fragment (ports) not seen yet")

FS_DEFINE_COUNTERS(RxCounters, FS_RX_COUNTERS);

class PcapSource;

// Where a core's packets come from: a DPDK port's rx queue, or (offline, a classic pcap file)
// the file itself.
struct RxQueue {
  uint16_t port = 0;
  uint16_t queue = 0;
  PcapSource* file = nullptr;  // not null: read this instead of the port
};

// Process-wide state the lcores read (written before launch, or atomics).
struct Shared {
  std::atomic<bool> stop{false};          // SIGINT/SIGTERM
  std::atomic<bool> input_done{false};    // offline: every packet of the capture was received
  std::atomic<uint32_t> workers_done{0};
  std::atomic<bool> all_workers_done{false};
  bool offline = false;                   // pcap: packet time, back-pressure instead of drops
  bool shared_cpu = false;                // lcores share CPUs: yield when idle
  uint64_t expected_packets = 0;          // offline: from the pcap probe
  decode::LinkType link = decode::LinkType::kEthernet;
  int ts_offset = -1;                     // mbuf timestamp dynfield, -1 if none
  uint64_t ts_flag = 0;
  uint64_t ts_scale = 1;                  // timestamp units -> ns
  uint32_t burst = 32;
  std::vector<sensor::Cidr> home_net;
  uint32_t worker_count = 1;
};

class Worker final : public dissect::RecordOut {
 public:
  Worker(uint32_t id, Shared& shared, std::unique_ptr<flow::FlowTable> table,
         std::unique_ptr<AppLayer> app, rte_ring* rec_ring, rte_mempool* rec_pool);
  ~Worker();

  void add_rx_queue(RxQueue q) { rxqs_.push_back(q); }
  void set_input_ring(rte_ring* r) { in_ring_ = r; }
  bool polls_ports() const { return !rxqs_.empty(); }

  int run();  // lcore entry

  // Decodes, tracks and frees one burst (the loop body of run()); public for tools/ benchmarks
  // that feed preloaded mbufs through the real worker code.
  void process_burst(rte_mbuf** pkts, uint16_t n);

  // TSC cycles per stage of process_burst, for benchmarks (tools/bench_pipeline --stages):
  // when set, each stage is timed (two TSC reads per packet for the app layer and per ended
  // flow, ~50 cycles/packet of overhead). Never set in the sensor.
  struct StageCycles {
    uint64_t decode = 0;   // stage 1: L2-L4 decode, flow key and hash, bucket prefetch
    uint64_t flow = 0;     // flow-table lookup/insert and TCP state (ended flows excluded)
    uint64_t app = 0;      // TCP reassembly, classifier, dissectors, transaction records
    uint64_t ended = 0;    // ended flows: the app layer's end, the session record hand-off
    uint64_t tail = 0;     // mbuf free, timer wheel (ended flows excluded)
  };
  void set_stage_cycles(StageCycles* sc) { stages_ = sc; }

  uint32_t id() const { return id_; }
  rte_ring* record_ring() const { return rec_ring_; }
  rte_mempool* record_pool() const { return rec_pool_; }
  const decode::DecodeCounters& decode_counters() const { return decode_; }
  const WorkerCounters& counters() const { return counters_; }
  const RxCounters& rx_counters() const { return rx_; }
  const flow::FlowTable& table() const { return *table_; }
  const AppLayer& app() const { return *app_; }
  const decode::ReasmCounters& reasm_counters() const { return reasm_.counters(); }
  size_t reasm_bytes() const noexcept { return reasm_.memory_bytes(); }

  // dissect::RecordOut: records for the flows this worker owns (dissectors' transactions and
  // the session records). Offline or draining, waits for the emitter; live, a full pool or
  // ring is a counted drop.
  emit::Record* begin(const flow::Flow& f, emit::RecordType type, Nanos ts) noexcept override;
  void commit(const flow::Flow& f, emit::Record* rec) noexcept override;
  emit::Record* extend(emit::Record* head) noexcept override;

 private:
  // Stage 1 of a burst: decode one frame into pending_[i]; false when there is nothing to track.
  bool prepare_packet(rte_mbuf* m, uint32_t i);
  // The common frame's shortcut (decode::decode_fast); false: prepare_packet decodes it.
  bool prepare_fast(rte_mbuf* m, uint32_t len, uint32_t i);
  // prepare_packet for IP fragments: attribution, reassembly, the completed datagram.
  bool prepare_fragment(const decode::PacketMeta& pm, const uint8_t* frame_end, Nanos t,
                        uint32_t i);
  void fill_pending(uint32_t i, const decode::PacketMeta& pm, uint16_t sport, uint16_t dport,
                    uint32_t ip_len, Nanos t);
  // What both ways of preparing a packet fill from their decode (PacketMeta or FastMeta);
  // the key, hash and side0 are set by the caller.
  template <typename Meta>
  void fill_common(uint32_t i, const Meta& m, uint32_t ip_len, Nanos t);
  // Stage 2 for a fragment: adds the fragments accounted late; false: nothing to deliver.
  bool account_fragment(flow::Flow& f, uint32_t i);
  void on_flow_end(flow::Flow& f, flow::EndReason reason);
  void emit_session(flow::Flow& f, flow::EndReason reason);
  Nanos packet_time(const rte_mbuf* m) const;
  Nanos clock_now();
  uint8_t locality(const flow::Flow& f) const;

  uint32_t id_;
  Shared& shared_;
  std::unique_ptr<flow::FlowTable> table_;
  std::unique_ptr<AppLayer> app_;
  rte_ring* rec_ring_;
  rte_mempool* rec_pool_;
  // The continuation slots of the record under construction (extend()), enqueued with it.
  emit::Record* chain_head_ = nullptr;
  emit::Record* chain_[emit::kMaxContinuations] = {};
  uint8_t chain_n_ = 0;
  void drop_chain() noexcept;
  // A record slot from the pool, its header zeroed; waits offline and at shutdown, else counts
  // `none_free` and returns nullptr.
  emit::Record* take_slot(Counter& none_free) noexcept;
  // Slots are taken from the pool kSlotLead at a time, ahead of use, and prefetched for
  // writing: a slot comes back from the emitter's core, so its first write would otherwise
  // wait for the line to leave that core's cache (sampled: take_slot was ~5 % of an offline
  // worker's time, all of it on zeroing the header). At most kSlotStash slots are held.
  static constexpr unsigned kSlotStash = 16, kSlotLead = 8;
  void* slot_stash_[kSlotStash] = {};
  unsigned slot_head_ = 0, slot_n_ = 0;
  void refill_slots() noexcept;
  void return_slots() noexcept;  // back to the pool: end of run(), destructor
  std::vector<RxQueue> rxqs_;
  rte_ring* in_ring_ = nullptr;
  Nanos now_ = 0;
  bool draining_ = false;  // flushing at shutdown: wait for the emitter instead of dropping
  // Live clock: TSC read once per burst, scaled to wall time at start.
  uint64_t tsc_base_ = 0;
  Nanos wall_base_ = 0;
  double ns_per_tsc_ = 0;

  // One decoded packet waiting for its flow lookup. The burst is processed in stages (decode
  // all, prefetch index buckets, prefetch flow records, then account) so that the two cache
  // misses of a lookup overlap across packets instead of stalling one after another.
  struct Pending {
    flow::FlowKey key;
    uint32_t hash;
    uint32_t ip_len;
    Nanos t;
    const uint8_t* payload;
    uint32_t payload_len;
    uint32_t payload_wire_len;
    uint32_t seq;
    uint32_t ack;
    uint8_t tcp_flags;
    bool side0;
    bool valid;
    flow::Flow* flow;       // stage 2: the packet's flow, for the packets in app_idx_
    // Fragments only (stage 2 tests `frag` once; the rest is read when it is set).
    bool frag;
    bool deliver;           // hand the payload to the app layer
    uint32_t late_pkts;     // earlier fragments of the datagram accounted with this packet
    uint64_t late_bytes;
  };
  std::unique_ptr<Pending[]> pending_;
  // Stage 2 runs the flow table for the whole burst, then the app layer: the packets listed
  // in app_idx_ from app_next_ on have their flow (Pending::flow) and wait for the app layer.
  // A flow that ends while the table works (an eviction, a reused port) first lets them
  // through (on_flow_end), so the app layer still sees every packet of a flow before its end.
  std::unique_ptr<uint16_t[]> app_idx_;
  uint16_t app_count_ = 0;
  uint16_t app_next_ = 0;
  void run_app() noexcept;  // the app layer for app_idx_[app_next_ .. app_count_)

  struct FragEntry;
  std::unique_ptr<FragEntry[]> frags_;  // small direct-mapped cache, preallocated
  decode::IpReassembler reasm_;         // preallocated slots and fragment bytes (~9 MiB)
  std::unique_ptr<uint8_t[]> scratch_;  // per-burst arena for linearised multi-segment frames
  uint32_t scratch_used_ = 0;
  StageCycles* stages_ = nullptr;

  alignas(64) decode::DecodeCounters decode_;
  WorkerCounters counters_;
  RxCounters rx_;
};

// Software dispatcher: polls every port queue and spreads packets over the workers' input
// rings by the symmetric flow hash, for ports with no RSS or fewer queues than workers.
class Dispatcher {
 public:
  Dispatcher(Shared& shared, std::vector<RxQueue> rxqs, std::vector<rte_ring*> worker_rings);
  ~Dispatcher();
  int run();
  // One received burst: decode, hash, and enqueue each packet to its worker's ring (run()'s
  // loop body; public for tools/bench_pipeline --dispatch). Offline, a full ring is waited
  // on; live, what does not fit is freed and counted (dispatch_ring_full).
  void dispatch_burst(rte_mbuf** pkts, uint16_t n);
  const RxCounters& counters() const { return rx_; }
  const decode::DecodeCounters& decode_counters() const { return decode_; }

  struct FragRoute;  // where a fragmented datagram went (worker.cpp)

 private:
  Shared& shared_;
  std::vector<RxQueue> rxqs_;
  std::vector<rte_ring*> rings_;
  decode::DecodeCounters decode_;  // its own decode pass; not added to the workers' figures
  RxCounters rx_;
  // Preallocated at construction (the loop allocates nothing): per-worker staging of a
  // burst, the scratch copy of a chained frame, the fragment routes.
  std::vector<std::vector<rte_mbuf*>> per_;
  std::unique_ptr<uint8_t[]> scratch_;
  std::unique_ptr<FragRoute[]> routes_;
};

// Hash used to pick a worker: the flow hash, or for IP fragments an address-only hash so
// every fragment of a datagram (ports or not) reaches the same worker. The dispatcher does
// better for fragments (Dispatcher::run): a first fragment goes by its flow hash and the later
// fragments of its datagram follow it.
uint32_t dispatch_hash(const decode::PacketMeta& pm) noexcept;

}  // namespace flowscribe::sensor
