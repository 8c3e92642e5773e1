#include "sensor/worker.h"

#include <immintrin.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf_dyn.h>
#include <rte_pause.h>
#include <rte_prefetch.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#ifdef FS_ALLOC_GUARD
#include "sensor/alloc_guard.h"
#endif
#include "sensor/pcap_source.h"

namespace flowscribe::sensor {
namespace {

constexpr uint32_t kMaxBurst = 512;
constexpr uint32_t kScratchBytes = 64 * 1024;  // longest frame decoded (longer: cut, counted)
// Multi-segment frames (jumbo, TSO/GRO captures) are linearised into a per-burst arena, so
// every such frame of a burst keeps its payload until the burst is processed.
constexpr uint32_t kScratchArenaBytes = 2 * 1024 * 1024;
constexpr uint32_t kFragSlots = 4096;         // per worker; power of two
constexpr Nanos kFragTtl = 30 * kNsPerSec;    // RFC 791 reassembly timeout order of magnitude
constexpr uint64_t kOfflineEofQuietUs = 2'000'000;  // pcap PMD gave nothing for this long

// Spin politely: on a CPU shared with another polling lcore, give it the CPU.
inline void idle_pause(bool shared_cpu, unsigned& turns) {
  if (shared_cpu) {
    usleep(turns++ > 16 ? 100 : 0);
  } else if (turns++ > 1024) {
    usleep(20);
  } else {
    rte_pause();
  }
}

uint16_t burst_size(const Shared& s) {
  return static_cast<uint16_t>(std::min<uint32_t>(s.burst, kMaxBurst));
}

// Offline end of input for a core that polls a net_pcap port: it returns nothing once the
// file is read, so the input is done when the probe's packet count is in, or (a PMD that
// dropped a record) when the port has been quiet for a long while.
class EofWatch {
 public:
  EofWatch() : last_(rte_rdtsc()), quiet_(rte_get_tsc_hz() / 1'000'000 * kOfflineEofQuietUs) {}
  void saw_packets() { last_ = rte_rdtsc(); }
  bool done(const Shared& s, uint64_t received) const {
    return received >= s.expected_packets || rte_rdtsc() - last_ > quiet_;
  }

 private:
  uint64_t last_;
  uint64_t quiet_;
};

// One burst from a core's input: a pcap file read in place, or a DPDK port's rx queue.
inline uint16_t receive(const RxQueue& q, rte_mbuf** pkts, uint16_t burst, bool offline,
                        RxCounters& rx) {
  if (q.file != nullptr) {
    const uint16_t n = q.file->rx_burst(pkts, burst);
    if (n == 0 && q.file->waiting()) rx.rx_file_waits.inc();
    return n;
  }
#ifdef FS_ALLOC_GUARD
  // Offline, net_pcap's receive is libpcap reading the file, which grows its read buffer
  // (realloc) the first time a frame exceeds it: input plumbing, not the worker's code.
  if (offline) alloc_guard::disarm();
#endif
  uint16_t n = rte_eth_rx_burst(q.port, q.queue, pkts, burst);
#ifdef FS_ALLOC_GUARD
  if (offline) alloc_guard::arm();
#else
  (void)offline;
#endif
  return n;
}

// Offline, the end of a poller's input: a pcap file our reader takes says itself when it is
// done (the end, or damage); a net_pcap port is done when the probe's count is in, or after
// a long quiet (EofWatch).
bool input_ended(const std::vector<RxQueue>& qs, const EofWatch& eof, const Shared& s,
                 uint64_t received) {
  bool files = false;
  for (const RxQueue& q : qs) {
    if (q.file == nullptr) continue;
    if (!q.file->done()) return false;
    files = true;
  }
  return files || eof.done(s, received);
}

Nanos wall_clock_ns() {
  return static_cast<Nanos>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
}

bool in_home(const std::vector<Cidr>& nets, uint8_t version, const uint8_t* addr) {
  IpAddr a;
  std::memcpy(a.b, addr, 16);
  for (const Cidr& c : nets) {
    if (c.contains(version, a)) return true;
  }
  return false;
}

}  // namespace

struct Worker::FragEntry {
  uint8_t src[16];
  uint8_t dst[16];
  uint32_t id;
  uint8_t proto;
  uint8_t version;
  uint16_t sport;
  uint16_t dport;
  Nanos seen;
};

uint32_t dispatch_hash(const decode::PacketMeta& pm) noexcept {
  flow::FlowKey key;
  bool frag = pm.frag != decode::Frag::kNone;
  flow::make_flow_key(pm.ip_version, pm.l4_proto, pm.src, pm.dst, frag ? 0 : pm.sport,
                      frag ? 0 : pm.dport, pm.vlan_outer, key);
  return flow::flow_hash(key);
}

Worker::Worker(uint32_t id, Shared& shared, std::unique_ptr<flow::FlowTable> table,
               std::unique_ptr<AppLayer> app, rte_ring* rec_ring, rte_mempool* rec_pool)
    : id_(id),
      shared_(shared),
      table_(std::move(table)),
      app_(std::move(app)),
      rec_ring_(rec_ring),
      rec_pool_(rec_pool),
      pending_(new Pending[kMaxBurst]),
      app_idx_(new uint16_t[kMaxBurst]),
      frags_(new FragEntry[kFragSlots]()),
      scratch_(new uint8_t[kScratchArenaBytes]) {
  app_->set_output(this);
  tsc_base_ = rte_rdtsc();
  wall_base_ = wall_clock_ns();
  ns_per_tsc_ = 1e9 / static_cast<double>(rte_get_tsc_hz());
}

Worker::~Worker() { return_slots(); }

Nanos Worker::clock_now() {
  return wall_base_ + static_cast<Nanos>(static_cast<double>(rte_rdtsc() - tsc_base_) * ns_per_tsc_);
}

inline Nanos Worker::packet_time(const rte_mbuf* m) const {
  if (shared_.ts_offset >= 0 && (m->ol_flags & shared_.ts_flag)) {
    return *RTE_MBUF_DYNFIELD(m, shared_.ts_offset, const uint64_t*) * shared_.ts_scale;
  }
  return now_;
}

uint8_t Worker::locality(const flow::Flow& f) const {
  if (shared_.home_net.empty()) return static_cast<uint8_t>(emit::Locality::kNone);
  bool c = in_home(shared_.home_net, f.key.ip_version, f.key.addr[f.client_side]);
  bool s = in_home(shared_.home_net, f.key.ip_version, f.key.addr[1 - f.client_side]);
  emit::Locality l = c && s   ? emit::Locality::kInternal
                     : s      ? emit::Locality::kInbound
                     : c      ? emit::Locality::kOutbound
                              : emit::Locality::kExternal;
  return static_cast<uint8_t>(l);
}

void Worker::on_flow_end(flow::Flow& f, flow::EndReason reason) {
  const uint64_t t0 = stages_ ? rte_rdtsc() : 0;
  emit_session(f, reason);
  if (stages_) stages_->ended += rte_rdtsc() - t0;
}

void Worker::emit_session(flow::Flow& f, flow::EndReason reason) {
  // A session that ends is named with whatever its payload showed (interim reports keep going).
  if (reason != flow::EndReason::kNone) app_->on_flow_end(f);
  const bool interim = reason == flow::EndReason::kNone;
  emit::Record* rec = begin(f, interim ? emit::RecordType::kSessionUpdate : emit::RecordType::kSession,
                            interim ? now_ : f.last_ns);
  if (rec == nullptr) return;
  const uint8_t c = f.client_side & 1;
  const uint8_t s = 1 - c;
  rec->end_reason = static_cast<uint8_t>(reason);
  rec->tcp_flags[0] = f.tcp_flags_seen[c];
  rec->tcp_flags[1] = f.tcp_flags_seen[s];
  rec->start_ns = f.first_ns;
  rec->end_ns = f.last_ns;
  rec->pkts[0] = f.pkts[c];
  rec->pkts[1] = f.pkts[s];
  rec->bytes[0] = f.bytes[c];
  rec->bytes[1] = f.bytes[s];
  commit(f, rec);
}

void Worker::refill_slots() noexcept {
  void* got[kSlotLead];
  // All or nothing: with fewer left in the pool, take_slot takes them one at a time.
  if (rte_mempool_get_bulk(rec_pool_, got, kSlotLead) != 0) return;
  for (unsigned i = 0; i < kSlotLead; ++i) {
    prefetch_write(got[i]);
    prefetch_write(static_cast<const char*>(got[i]) + 64);
    slot_stash_[(slot_head_ + slot_n_++) % kSlotStash] = got[i];
  }
}

void Worker::return_slots() noexcept {
  while (slot_n_ != 0) {
    rte_mempool_put(rec_pool_, slot_stash_[slot_head_]);
    slot_head_ = (slot_head_ + 1) % kSlotStash;
    --slot_n_;
  }
}

emit::Record* Worker::take_slot(Counter& none_free) noexcept {
  void* obj = nullptr;
  if (slot_n_ <= kSlotLead) refill_slots();
  if (slot_n_ != 0) {
    obj = slot_stash_[slot_head_];
    slot_head_ = (slot_head_ + 1) % kSlotStash;
    --slot_n_;
  } else {
    unsigned turns = 0;
    // Offline there is no wire to fall behind, and at shutdown no more traffic is coming: in
    // both cases wait for the emitter rather than lose a record. Live, a full ring is a drop.
    const bool wait = shared_.offline || draining_;
    while (rte_mempool_get(rec_pool_, &obj) != 0) {
      if (!wait) {
        none_free.inc();
        return nullptr;
      }
      counters_.worker_record_waits.inc();
      idle_pause(shared_.shared_cpu, turns);
    }
  }
  auto* rec = static_cast<emit::Record*>(obj);
  // Two lines of 16-byte stores (a 128-byte memset compiles to REP STOS, whose start-up
  // alone costs more than the stores).
  static_assert(offsetof(emit::Record, ext) == 128 && alignof(emit::Record) >= 16);
  auto* q = reinterpret_cast<__m128i*>(rec);
  const __m128i z = _mm_setzero_si128();
  _mm_store_si128(q + 0, z);
  _mm_store_si128(q + 1, z);
  _mm_store_si128(q + 2, z);
  _mm_store_si128(q + 3, z);
  _mm_store_si128(q + 4, z);
  _mm_store_si128(q + 5, z);
  _mm_store_si128(q + 6, z);
  _mm_store_si128(q + 7, z);
  return rec;
}

emit::Record* Worker::begin(const flow::Flow& f, emit::RecordType type, Nanos ts) noexcept {
  // Continuations still held here belong to a record that was never committed.
  if (chain_n_ != 0) drop_chain();
  emit::Record* rec = take_slot(counters_.worker_record_pool_empty);
  if (rec == nullptr) return nullptr;
  const uint8_t c = f.client_side & 1;
  const uint8_t s = 1 - c;
  rec->type = type;
  rec->transport = f.key.proto;
  rec->ip_version = f.key.ip_version;
  rec->worker = static_cast<uint8_t>(id_);
  rec->direction_basis = f.direction_basis;
  rec->app_proto = f.app_proto;
  rec->vlan = f.key.vlan;
  rec->client_port = f.key.port[c];
  rec->server_port = f.key.port[s];
  rec->sid = f.sid;
  rec->ts_ns = ts;
  std::memcpy(rec->client.b, f.key.addr[c], 16);
  std::memcpy(rec->server.b, f.key.addr[s], 16);
  rec->locality = locality(f);
  return rec;
}

void Worker::drop_chain() noexcept {
  rte_mempool_put_bulk(rec_pool_, reinterpret_cast<void**>(chain_), chain_n_);
  counters_.worker_record_chain_abandoned.inc(chain_n_);
  if (chain_head_ != nullptr) chain_head_->more = 0;
  chain_head_ = nullptr;
  chain_n_ = 0;
}

emit::Record* Worker::extend(emit::Record* head) noexcept {
  if (head == nullptr) return nullptr;
  // One record grows continuations at a time (dissectors begin, fill and commit a record in
  // one go): another head's slots are those of a record that was never committed.
  if (chain_n_ != 0 && chain_head_ != head) drop_chain();
  if (chain_n_ >= emit::kMaxContinuations) return nullptr;
  emit::Record* rec = take_slot(counters_.worker_record_no_continuation);
  if (rec == nullptr) return nullptr;
  rec->type = head->type;
  chain_head_ = head;
  chain_[chain_n_++] = rec;
  head->more = chain_n_;
  return rec;
}

void Worker::commit(const flow::Flow& f, emit::Record* rec) noexcept {
  // The record and its continuations (extend()) go to the ring together, or not at all.
  void* slots[1 + emit::kMaxContinuations];
  unsigned n = 1;
  slots[0] = rec;
  if (chain_n_ != 0 && chain_head_ != rec) drop_chain();
  if (f.app_id != 0 && app_->apps() != nullptr) {
    const std::string_view name = app_->apps()->name(f.app_id);
    const std::string_view cat = app_->apps()->category(f.app_id);
    dissect::RecordChain c(*this, rec);
    if (chain_n_ != 0) c.last = chain_[chain_n_ - 1];
    c.add_field(emit::field_id(emit::Field::kAppName), name.data(), name.size());
    c.add_field(emit::field_id(emit::Field::kAppCategory), cat.data(), cat.size());
  }
  rec->more = chain_n_;
  for (unsigned i = 0; i < chain_n_; ++i) slots[n++] = chain_[i];
  chain_head_ = nullptr;
  chain_n_ = 0;
  const bool wait = shared_.offline || draining_;
  unsigned turns = 0;
  while (rte_ring_sp_enqueue_bulk(rec_ring_, slots, n, nullptr) == 0) {
    if (!wait) {
      counters_.worker_record_ring_full.inc();
      rte_mempool_put_bulk(rec_pool_, slots, n);
      return;
    }
    counters_.worker_record_waits.inc();
    idle_pause(shared_.shared_cpu, turns);
  }
  counters_.worker_records.inc();
  if (n > 1) counters_.worker_record_continuations.inc(n - 1);
  if (emit::is_transaction(rec->type)) counters_.worker_transaction_records.inc();
}

namespace {

// The key and hash of a frame decode_fast took: IPv4 in registers (make_flow_key_v4), IPv6
// through make_flow_key. Returns true when the packet's source is key side 0.
inline bool fast_key(const decode::FastMeta& fm, flow::FlowKey& key, uint32_t& hash) noexcept {
  if (fm.ip_version == 4) [[likely]] {
    return flow::make_flow_key_v4(fm.l4_proto, fm.src, fm.dst, fm.sport, fm.dport, fm.vlan, key,
                                  hash);
  }
  IpAddr src, dst;
  std::memcpy(src.b, fm.l3 + 8, 16);
  std::memcpy(dst.b, fm.l3 + 24, 16);
  const bool side0 =
      flow::make_flow_key(6, fm.l4_proto, src, dst, fm.sport, fm.dport, fm.vlan, key);
  hash = flow::flow_hash(key);
  return side0;
}

}  // namespace

// The frames decode_fast takes (Ethernet, IPv4 without options or IPv6 without extension
// headers, TCP or UDP, one segment): decoded, keyed and hashed inline, with no PacketMeta.
inline bool Worker::prepare_fast(rte_mbuf* m, uint32_t len, uint32_t i) {
  decode::FastMeta fm;
  if (m->nb_segs != 1 || len > kScratchBytes ||
      !decode::decode_fast(rte_pktmbuf_mtod(m, const uint8_t*), len, fm)) {
    return false;
  }
  const Nanos t = packet_time(m);
  if (t > now_) now_ = t;
  Pending& p = pending_[i];
  p.side0 = fast_key(fm, p.key, p.hash);
  fill_common(i, fm, fm.ip_len, t);
  p.valid = true;
  return true;
}

template <typename Meta>
inline void Worker::fill_common(uint32_t i, const Meta& m, uint32_t ip_len, Nanos t) {
  Pending& p = pending_[i];
  p.ip_len = ip_len;
  p.t = t;
  // General path: a chained frame was linearised into the burst's arena (or, arena full, read
  // in its first segment only: the decoder then saw a cut frame and payload_len says so). The
  // fast path takes single-segment frames only.
  p.payload = m.payload;
  p.payload_len = m.payload_len;
  p.payload_wire_len = m.payload_wire_len;
  p.seq = m.tcp_seq;
  p.ack = m.tcp_ack;
  p.tcp_flags = m.tcp_flags;
  p.frag = false;
  table_->prefetch(p.hash);
}

[[gnu::noinline]] bool Worker::prepare_packet(rte_mbuf* m, uint32_t i) {
  const uint32_t len = rte_pktmbuf_pkt_len(m);
  uint32_t caplen = len;
  if (caplen > kScratchBytes) {
    caplen = kScratchBytes;
    counters_.worker_oversize.inc();
  }
  // Single-segment frames (nearly all) are read in place; chains are copied into the burst's
  // arena. When the arena is full (more than 2 MiB of chained frames in one burst) only the
  // first segment is read: the stream engine sees the rest of the payload as missing.
  const uint8_t* data;
  if (m->nb_segs == 1) {
    data = rte_pktmbuf_mtod(m, const uint8_t*);
  } else {
    if (scratch_used_ + caplen > kScratchArenaBytes) {
      counters_.worker_scratch_full.inc();
      caplen = std::min<uint32_t>(caplen, rte_pktmbuf_data_len(m));
      data = rte_pktmbuf_mtod(m, const uint8_t*);
    } else {
      data = static_cast<const uint8_t*>(rte_pktmbuf_read(m, 0, caplen, scratch_.get() + scratch_used_));
      scratch_used_ += (caplen + 63) & ~63u;
    }
  }
  if (data == nullptr) return false;
  const Nanos t = packet_time(m);
  if (t > now_) now_ = t;

  decode::PacketMeta pm;
  if (decode::decode_packet(shared_.link, data, caplen, pm, decode_) != decode::DecodeStatus::kOk) {
    return false;
  }
  // Fragments leave here with one branch; the rest of the burst never pays for them.
  if (pm.frag != decode::Frag::kNone) [[unlikely]] return prepare_fragment(pm, data + caplen, t, i);
  fill_pending(i, pm, pm.sport, pm.dport, pm.ip_len, t);
  return true;
}

inline void Worker::fill_pending(uint32_t i, const decode::PacketMeta& pm, uint16_t sport,
                                 uint16_t dport, uint32_t ip_len, Nanos t) {
  Pending& p = pending_[i];
  p.side0 = flow::make_flow_key(pm.ip_version, pm.l4_proto, pm.src, pm.dst, sport, dport,
                                pm.vlan_outer, p.key);
  p.hash = flow::flow_hash(p.key);
  fill_common(i, pm, ip_len, t);
}

// Every fragment is one packet (and its IP length) of its flow, as before reassembly: the
// flow comes from the first fragment's ports (a small direct-mapped cache, for the fragments
// after it) or, when the first fragment came late or carried no ports, from the reassembled
// datagram, with the fragments that waited for it (ReasmResult::late_*). The datagram goes to
// the app layer once, whole, with the fragment that completes it; a fragment the reassembler
// cannot use is handled as before reassembly existed (a first fragment's own bytes go up).
[[gnu::noinline]] bool Worker::prepare_fragment(const decode::PacketMeta& pm,
                                                const uint8_t* frame_end, Nanos t, uint32_t i) {
  uint16_t sport = pm.sport, dport = pm.dport;
  bool attributed = false;
  const uint32_t h = dispatch_hash(pm) ^ (pm.frag_id * 0x9e3779b1u);
  FragEntry& e = frags_[h & (kFragSlots - 1)];
  const auto remember = [&](const decode::PacketMeta& m) {
    std::memcpy(e.src, m.src.b, 16);
    std::memcpy(e.dst, m.dst.b, 16);
    e.id = pm.frag_id;
    e.proto = m.l4_proto;
    e.version = m.ip_version;
    e.sport = m.sport;
    e.dport = m.dport;
    e.seen = t;
  };
  if (pm.frag == decode::Frag::kFirst && pm.has_ports) {
    remember(pm);
    attributed = true;
  } else if (e.id == pm.frag_id && e.proto == pm.l4_proto && e.version == pm.ip_version &&
             std::memcmp(e.src, pm.src.b, 16) == 0 && std::memcmp(e.dst, pm.dst.b, 16) == 0 &&
             t - e.seen < kFragTtl) {
    sport = e.sport;
    dport = e.dport;
    attributed = true;
  }

  decode::FragKey key;
  decode::Fragment frag;
  decode::fragment_of(pm, frame_end, key, frag);
  uint8_t* const out = scratch_.get() + scratch_used_;
  const decode::ReasmResult r = reasm_.add(key, frag, attributed, pm.ip_len, t, out,
                                           kScratchArenaBytes - scratch_used_);
  Pending& p = pending_[i];
  if (r.late_pkts != 0) {
    counters_.worker_frag_late.inc(r.late_pkts);
    counters_.worker_frag_attributed.inc(r.late_pkts);
  }
  if (r.status == decode::ReasmStatus::kComplete) {
    scratch_used_ += (r.len + 63) & ~63u;
    decode::PacketMeta dm;
    if (decode::decode_reassembled(pm, r.proto, out, r.len, dm, decode_) ==
            decode::DecodeStatus::kOk &&
        dm.frag == decode::Frag::kNone) {
      if (!attributed) counters_.worker_frag_attributed.inc();
      fill_pending(i, dm, dm.sport, dm.dport, pm.ip_len, t);
      p.frag = true;
      p.deliver = true;
      p.late_pkts = r.late_pkts;
      p.late_bytes = r.late_bytes;
      // Copies of these fragments that come later (retransmissions) find the ports too.
      if (dm.has_ports && dm.l4_proto == pm.l4_proto &&
          std::memcmp(dm.src.b, pm.src.b, 16) == 0 && std::memcmp(dm.dst.b, pm.dst.b, 16) == 0) {
        remember(dm);
      }
      return true;
    }
    counters_.worker_frag_undecodable.inc();
  }
  if (!attributed) {
    counters_.worker_frag_unattributed.inc();
    return false;
  }
  if (!(pm.frag == decode::Frag::kFirst && pm.has_ports)) counters_.worker_frag_attributed.inc();
  fill_pending(i, pm, sport, dport, pm.ip_len, t);
  p.frag = true;
  p.deliver = r.status == decode::ReasmStatus::kRefused && pm.frag == decode::Frag::kFirst;
  p.late_pkts = r.late_pkts;
  p.late_bytes = r.late_bytes;
  if (!p.deliver) {
    // Held: its bytes, and its TCP flags, come with the datagram.
    p.payload = nullptr;
    p.payload_len = p.payload_wire_len = 0;
    p.tcp_flags = 0;
  }
  return true;
}

bool Worker::account_fragment(flow::Flow& f, uint32_t i) {
  const Pending& p = pending_[i];
  if (p.late_pkts != 0) {
    const uint32_t side = p.side0 ? 0 : 1;
    f.pkts[side] += p.late_pkts;
    f.bytes[side] += p.late_bytes;
  }
  return p.deliver;
}

void Worker::process_burst(rte_mbuf** pkts, uint16_t n) {
  StageCycles* const sc = stages_;
  const uint64_t t0 = sc ? rte_rdtsc() : 0;
  const uint64_t ended0 = sc ? sc->ended : 0;
  if (shared_.ts_offset < 0) now_ = clock_now();  // live: one clock read per burst
  scratch_used_ = 0;
  constexpr uint16_t kAhead = 3;
  // Offline, the packet's timestamp is in the mbuf's second cache line (dynfield): fetch it
  // with the data, or its miss lands in packet_time().
  const bool ts = shared_.ts_offset >= 0;
  for (uint16_t i = 0; i < n && i < kAhead; ++i) {
    rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));
    if (ts) rte_prefetch0(RTE_MBUF_DYNFIELD(pkts[i], shared_.ts_offset, void*));
  }
  // Stage 1: decode, key, hash; prefetch each flow's index bucket. Counted per burst.
  const bool fast = shared_.link == decode::LinkType::kEthernet;
  uint64_t bytes = 0;
  uint32_t fast_ok = 0;
  for (uint16_t i = 0; i < n; ++i) {
    if (i + kAhead < n) {
      rte_prefetch0(rte_pktmbuf_mtod(pkts[i + kAhead], void*));
      if (ts) rte_prefetch0(RTE_MBUF_DYNFIELD(pkts[i + kAhead], shared_.ts_offset, void*));
    }
    const uint32_t len = rte_pktmbuf_pkt_len(pkts[i]);
    bytes += len;
    if (fast && prepare_fast(pkts[i], len, i)) [[likely]] {
      ++fast_ok;
      continue;
    }
    pending_[i].valid = prepare_packet(pkts[i], i);
  }
  counters_.worker_packets.inc(n);
  counters_.worker_bytes.inc(bytes);
  decode_.decode_ok.inc(fast_ok);
  const uint64_t t1 = sc ? rte_rdtsc() : 0;
  uint64_t app_cycles = 0;
  // Stage 2: with the buckets in cache, prefetch flow records a few packets ahead and account.
  for (uint16_t i = 0; i < n; ++i) {
    if (pending_[i].valid) table_->prefetch_flow(pending_[i].hash);
  }
  // The flow table first, for the whole burst, so that the app state of each packet that
  // needs it is prefetched while the table works on the next ones; then, with those lines on
  // their way, the first lines of each one's dissector slot; then the app layer, in order.
  auto on_end = [this](flow::Flow& f, flow::EndReason r) {
    run_app();  // the burst's packets before the one whose lookup ends `f` go first
    on_flow_end(f, r);
  };
  app_next_ = app_count_ = 0;
  for (uint16_t i = 0; i < n; ++i) {
    Pending& p = pending_[i];
    if (!p.valid) continue;
    flow::Flow* f =
        table_->on_packet(p.key, p.hash, p.side0, p.t, p.ip_len, p.tcp_flags, p.payload_len, on_end);
    if (f == nullptr) continue;
    if (p.frag) [[unlikely]] {
      if (!account_fragment(*f, i)) continue;
    }
    // Bypassed flows (protocol decided) stop here: a lookup and a few adds per packet.
    if (f->app_flags & flow::kAppBypass) continue;
    p.flow = f;
    app_idx_[app_count_++] = i;
    app_->prefetch(*f);
  }
  for (uint16_t k = app_next_; k < app_count_; ++k) {
    app_->prefetch_dissector(*pending_[app_idx_[k]].flow);
  }
  const uint64_t ta = sc ? rte_rdtsc() : 0;
  const uint64_t ended_a = sc ? sc->ended : 0;
  run_app();
  if (sc) app_cycles += rte_rdtsc() - ta - (sc->ended - ended_a);
  const uint64_t t2 = sc ? rte_rdtsc() : 0;
  const uint64_t ended1 = sc ? sc->ended : 0;
  rte_pktmbuf_free_bulk(pkts, n);  // reassembly copied what it keeps: no mbuf outlives the burst
  table_->advance(now_, on_end);
  if (reasm_.active() != 0) [[unlikely]] reasm_.expire(now_);
  counters_.worker_flows_active.set(table_->size());
  if (sc) {
    const uint64_t t3 = rte_rdtsc();
    sc->decode += t1 - t0;
    sc->app += app_cycles;
    sc->flow += (t2 - t1) - app_cycles - (ended1 - ended0);
    sc->tail += (t3 - t2) - (sc->ended - ended1);
  }
}

void Worker::run_app() noexcept {
  for (; app_next_ < app_count_; ++app_next_) {
    const Pending& p = pending_[app_idx_[app_next_]];
    flow::Flow& f = *p.flow;
    // An earlier packet of the burst may have settled the flow, or taken its state.
    if (f.app_flags & flow::kAppBypass) continue;
    if (AppLayer::idle_packet(f, p.payload_wire_len, p.tcp_flags)) continue;
    app_->on_packet(f, flow::is_from_client(f, p.side0),
                    AppPacket{p.payload, p.payload_len, p.payload_wire_len, p.seq, p.ack, p.tcp_flags, p.t});
  }
}

int Worker::run() {
  rte_mbuf* pkts[kMaxBurst];
  const uint16_t burst = burst_size(shared_);
  unsigned idle = 0;
  EofWatch eof;
#ifdef FS_ALLOC_GUARD
  alloc_guard::arm();  // from here to the end of the flush, no heap allocation on this core
#endif
  while (!shared_.stop.load(std::memory_order_relaxed)) {
    uint32_t got = 0;
    for (const RxQueue& q : rxqs_) {
      uint16_t n = receive(q, pkts, burst, shared_.offline, rx_);
      if (n == 0) continue;
      rx_.rx_packets.inc(n);
      process_burst(pkts, n);
      got += n;
    }
    if (in_ring_ != nullptr) {
      unsigned n = rte_ring_sc_dequeue_burst(in_ring_, reinterpret_cast<void**>(pkts), burst,
                                             nullptr);
      if (n) process_burst(pkts, static_cast<uint16_t>(n));
      got += n;
    }
    if (got != 0) {
      idle = 0;
      if (shared_.offline) eof.saw_packets();
      continue;
    }
    if (shared_.offline) {
      if (polls_ports()) {
        if (input_ended(rxqs_, eof, shared_, rx_.rx_packets.get())) {
          shared_.input_done.store(true, std::memory_order_release);
          break;
        }
      } else if (shared_.input_done.load(std::memory_order_acquire) &&
                 rte_ring_empty(in_ring_)) {
        break;
      }
    } else {
      // Quiet link: keep timers moving on wall time.
      now_ = clock_now();
      table_->advance(now_, [this](flow::Flow& f, flow::EndReason r) { on_flow_end(f, r); });
      counters_.worker_flows_active.set(table_->size());
    }
    idle_pause(shared_.shared_cpu, idle);
  }
  draining_ = true;
  reasm_.expire_all();  // incomplete datagrams: counted (frag_timeout)
  table_->flush_all([this](flow::Flow& f, flow::EndReason r) { on_flow_end(f, r); });
  counters_.worker_flows_active.set(0);
  return_slots();
  if (shared_.workers_done.fetch_add(1, std::memory_order_acq_rel) + 1 == shared_.worker_count) {
    shared_.all_workers_done.store(true, std::memory_order_release);
  }
#ifdef FS_ALLOC_GUARD
  alloc_guard::disarm();
#endif
  return 0;
}

// The dispatcher's memory of where each fragmented datagram went: a first fragment (which has
// the ports) is sent by its flow's hash, like the flow's whole packets, and files that hash
// under (src, dst, protocol, id); its later fragments look it up and follow it, so the worker
// that reassembles the datagram is the one that holds the flow. Direct-mapped, overwritten by
// newer datagrams; a later fragment that finds nothing (it came before its first fragment)
// goes by addresses, as before, and is counted.
struct Dispatcher::FragRoute {
  uint8_t src[16];
  uint8_t dst[16];
  uint32_t id;
  uint32_t hash;
  uint8_t proto;
  uint8_t version;
  bool used;
};

namespace {

using FragRoute = Dispatcher::FragRoute;
constexpr uint32_t kFragRoutes = 4096;  // power of two

uint32_t route_fragment(const decode::PacketMeta& pm, FragRoute* routes, RxCounters& rx) noexcept {
  const uint32_t by_addr = dispatch_hash(pm);
  FragRoute& e = routes[(by_addr ^ (pm.frag_id * 0x9e3779b1u)) & (kFragRoutes - 1)];
  if (pm.frag == decode::Frag::kFirst && pm.has_ports) {
    flow::FlowKey key;
    flow::make_flow_key(pm.ip_version, pm.l4_proto, pm.src, pm.dst, pm.sport, pm.dport,
                        pm.vlan_outer, key);
    std::memcpy(e.src, pm.src.b, 16);
    std::memcpy(e.dst, pm.dst.b, 16);
    e.id = pm.frag_id;
    e.proto = pm.l4_proto;
    e.version = pm.ip_version;
    e.hash = flow::flow_hash(key);
    e.used = true;
    return e.hash;
  }
  if (e.used && e.id == pm.frag_id && e.proto == pm.l4_proto && e.version == pm.ip_version &&
      std::memcmp(e.src, pm.src.b, 16) == 0 && std::memcmp(e.dst, pm.dst.b, 16) == 0) {
    rx.dispatch_frag_routed.inc();
    return e.hash;
  }
  rx.dispatch_frag_unrouted.inc();
  return by_addr;
}

}  // namespace

Dispatcher::Dispatcher(Shared& shared, std::vector<RxQueue> rxqs, std::vector<rte_ring*> rings)
    : shared_(shared),
      rxqs_(std::move(rxqs)),
      rings_(std::move(rings)),
      per_(rings_.size()),
      scratch_(new uint8_t[kScratchBytes]),
      routes_(new FragRoute[kFragRoutes]()) {
  for (auto& v : per_) v.reserve(kMaxBurst);
}

Dispatcher::~Dispatcher() = default;

void Dispatcher::dispatch_burst(rte_mbuf** pkts, uint16_t n) {
  const uint32_t nw = static_cast<uint32_t>(rings_.size());
  const bool fast = shared_.link == decode::LinkType::kEthernet;
  for (uint16_t i = 0; i < n; ++i) {
    uint32_t caplen = std::min<uint32_t>(rte_pktmbuf_pkt_len(pkts[i]), kScratchBytes);
    uint32_t h = 0;  // undecodable frames all go to one worker, which counts them
    decode::FastMeta fm;
    if (fast && pkts[i]->nb_segs == 1 &&
        decode::decode_fast(rte_pktmbuf_mtod(pkts[i], const uint8_t*), caplen, fm)) {
      // The worker's own shortcut: the same key, so the same hash as dispatch_hash.
      flow::FlowKey key;
      fast_key(fm, key, h);
    } else {
      const auto* data =
          static_cast<const uint8_t*>(rte_pktmbuf_read(pkts[i], 0, caplen, scratch_.get()));
      decode::PacketMeta pm;
      if (data && decode::decode_packet(shared_.link, data, caplen, pm, decode_) ==
                      decode::DecodeStatus::kOk) {
        h = pm.frag == decode::Frag::kNone ? dispatch_hash(pm)
                                           : route_fragment(pm, routes_.get(), rx_);
      }
    }
    per_[(static_cast<uint64_t>(h) * nw) >> 32].push_back(pkts[i]);
  }
  for (uint32_t w = 0; w < nw; ++w) {
    auto& v = per_[w];
    size_t sent = 0;
    unsigned turns = 0;
    while (sent < v.size()) {
      sent += rte_ring_sp_enqueue_burst(rings_[w], reinterpret_cast<void**>(v.data() + sent),
                                        static_cast<unsigned>(v.size() - sent), nullptr);
      if (sent == v.size()) break;
      if (!shared_.offline) {
        rx_.dispatch_ring_full.inc(v.size() - sent);
        rte_pktmbuf_free_bulk(v.data() + sent, static_cast<unsigned>(v.size() - sent));
        break;
      }
      rx_.dispatch_waits.inc();
      idle_pause(shared_.shared_cpu, turns);
    }
    rx_.dispatch_packets.inc(std::min(sent, v.size()));
    v.clear();
  }
}

int Dispatcher::run() {
  rte_mbuf* pkts[kMaxBurst];
  const uint16_t burst = burst_size(shared_);
  unsigned idle = 0;
  EofWatch eof;
#ifdef FS_ALLOC_GUARD
  alloc_guard::arm();
#endif
  while (!shared_.stop.load(std::memory_order_relaxed)) {
    uint32_t got = 0;
    for (const RxQueue& q : rxqs_) {
      uint16_t n = receive(q, pkts, burst, shared_.offline, rx_);
      if (n == 0) continue;
      got += n;
      rx_.rx_packets.inc(n);
      dispatch_burst(pkts, n);
    }
    if (got != 0) {
      idle = 0;
      eof.saw_packets();
      continue;
    }
    if (shared_.offline && input_ended(rxqs_, eof, shared_, rx_.rx_packets.get())) break;
    idle_pause(shared_.shared_cpu, idle);
  }
  shared_.input_done.store(true, std::memory_order_release);
#ifdef FS_ALLOC_GUARD
  alloc_guard::disarm();
#endif
  return 0;
}

}  // namespace flowscribe::sensor
