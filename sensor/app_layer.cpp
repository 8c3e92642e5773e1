#include "sensor/app_layer.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <new>

#include "common/strings.h"

namespace flowscribe::sensor {

namespace {
constexpr uint8_t kNoDissector = 0xff;
constexpr uint32_t kNoSlot = 0xffffffffu;
}  // namespace

struct alignas(64) AppLayer::State {
  flow::TcpStreamState stream;
  dissect::ClassifyState cls;
  uint32_t next_free;
  uint32_t slot;          // dissector state slot, kNoSlot while classifying
  uint8_t dissector;      // index into dissectors_.list, kNoDissector while classifying
  uint8_t handed_over;    // the active dissector took the stream over from another one
  uint8_t dir_swap;       // 1 when the classifier flipped the roles: reassembler dir 0 is now
                          //   the server side
  uint8_t role_swap;      // 1 when the dissectors' client is reassembler dir 1: set with
                          //   dir_swap, or alone when a handshake-proven client speaks as the
                          //   application's server (the flow's client_side is kept)
  uint8_t sctp_started;   // SCTP: bit d set once side d (0 = client as first seen) sent DATA
  uint32_t sctp_next_tsn[2];  // SCTP: the TSN expected next from each side
};

// Receives a flow's ordered bytes from the reassembler: to the classifier until it decides,
// then to the protocol's dissector.
struct AppLayer::Consumer {
  AppLayer& app;
  flow::Flow& f;
  State& st;
  Nanos now;

  void data(uint32_t dir, const uint8_t* p, uint32_t n) noexcept {
    if (f.app_flags & flow::kAppBypass) return;
    if (st.dissector != kNoDissector) {
      app.dissect_data(f, st, dir, p, n, n, now);
      return;
    }
    if (st.cls.verifying()) {
      app.verify_data(f, st, dir, p, n, n);
      return;
    }
    const Chunk cur{dir, p, n, n, st.cls.len[dir], st.cls.wire[dir]};
    const dissect::Decision d = app.classifier_.feed(st.cls, dir == 0, p, n);
    if (d.kind != dissect::Decision::kPending) {
      app.conclude(f, d, cur, now);
      return;
    }
    // This chunk outgrew the direction's prefix while a candidate waits for the other side
    // (an HTTP request line longer than the prefix, a long first message): decide now on the
    // candidate, so its dissector gets this chunk whole instead of a gap where the bytes the
    // prefix could not hold were.
    if (cur.prefix_before == cur.wire_before && st.cls.wire[dir] > st.cls.len[dir] &&
        st.cls.had_candidate()) {
      app.counters_.app_decided_prefix_full.inc();
      app.conclude(f, app.classifier_.finish(st.cls), cur, now);
    }
  }
  // A hole: the bytes after it cannot be read as the start of a message. The classifier
  // decides with what was seen before it; a dissector resynchronises or gives up.
  void gap(uint32_t dir, uint32_t len) noexcept {
    if (f.app_flags & flow::kAppBypass) return;
    if (st.dissector == kNoDissector && st.cls.verifying()) {
      // The bytes after a hole are no first message: the protocol stays, unverified.
      app.classifier_.verify_stop(st.cls);
      f.app_flags |= flow::kAppBypass;
      return;
    }
    if (st.dissector == kNoDissector && st.cls.wire[dir] == 0) {
      // The hole is this side's first bytes (a first segment the capture lost): read what
      // follows it as this side's start, as a mid-stream pickup would.
      app.counters_.app_start_gap.inc();
      return;
    }
    if (st.dissector == kNoDissector) {
      const dissect::Decision d = app.classifier_.finish(st.cls);
      app.conclude(f, d, Chunk{dir, nullptr, 0, 0, 0, 0}, now);
    }
    if (st.dissector != kNoDissector && !(f.app_flags & flow::kAppBypass)) {
      app.dissect_gap(f, st, dir, len, now);
    }
  }
  void end(uint32_t, flow::StreamEnd) noexcept {}
};

absl::StatusOr<std::unique_ptr<AppLayer>> AppLayer::create(
    const AppConfig& config, std::shared_ptr<const dissect::ClassifierDb> db,
    std::shared_ptr<const dissect::AppDb> apps) {
  if (config.states == 0 || config.states > (1u << 24)) {
    return absl::InvalidArgumentError("--app-states: expected 1 to 16777216");
  }
  if (config.dissect_states > (1u << 24)) {
    return absl::InvalidArgumentError("--dissect-states: expected 0 to 16777216");
  }
  auto reasm = flow::TcpReassembler::create(config.stream);
  if (!reasm.ok()) return reasm.status();
  std::unique_ptr<AppLayer> app(new AppLayer(config, std::move(db)));
  app->reasm_ = *std::move(reasm);
  app->apps_ = std::move(apps);
  app->dissectors_ = dissect::make_dissectors();
  for (const auto& [name, n] : config.dissect_states_named) {
    bool known = false;
    std::string names;
    for (const auto& d : app->dissectors_.list) {
      known = known || d->name() == name;
      names += cat(names.empty() ? "" : ", ", d->name());
    }
    if (!known) {
      return absl::InvalidArgumentError(
          cat("--dissect-states: no dissector is called '", name, "' (dissectors: ", names, ")"));
    }
  }
  app->slab_stats_.reset(new SlabStats[app->dissectors_.list.size()]);
  for (const auto& d : app->dissectors_.list) {
    Slab sl;
    sl.slot_bytes = (d->state_bytes() + 63) & ~63u;
    sl.slots = config.dissect_states ? config.dissect_states : d->default_states();
    for (const auto& [name, n] : config.dissect_states_named) {
      if (d->name() == name) sl.slots = n;
    }
    if (sl.slots == 0) sl.slots = 1;
    const size_t bytes = size_t{sl.slot_bytes} * sl.slots + 64;
    sl.mem.reset(new (std::nothrow) uint8_t[bytes]);
    sl.free_list.reset(new (std::nothrow) uint32_t[sl.slots]);
    if (!sl.mem || !sl.free_list) {
      return absl::ResourceExhaustedError(
          cat("--dissect-states: cannot allocate ", bytes >> 20, " MiB for the ", d->name(),
              " dissector's state pool"));
    }
    // Touch every page now: a slot's first use must not take a page fault on the data path.
    std::memset(sl.mem.get(), 0, bytes);
    sl.base = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(sl.mem.get()) + 63) & ~uintptr_t{63});
    for (uint32_t i = 0; i < sl.slots; ++i) sl.free_list[i] = sl.slots - 1 - i;
    sl.free_count = sl.slots;
    app->slabs_.push_back(std::move(sl));
  }
  return app;
}

AppLayer::AppLayer(const AppConfig& config, std::shared_ptr<const dissect::ClassifierDb> db)
    : config_(config),
      states_(new State[config.states]),
      isn_(new IsnEntry[kIsnSlots]()),
      classifier_(std::move(db)) {
  for (uint32_t i = 0; i < config_.states; ++i) states_[i].next_free = i + 1;
  states_[config_.states - 1].next_free = flow::kNoAppState;
  free_head_ = 0;
  state_base_ = reinterpret_cast<const uint8_t*>(states_.get());
  state_bytes_ = sizeof(State);
  slot_off_ = offsetof(State, slot);
  dissector_off_ = offsetof(State, dissector);
}

AppLayer::~AppLayer() = default;

size_t AppLayer::memory_bytes() const noexcept {
  size_t n = sizeof(State) * config_.states + reasm_->pool().memory_bytes() +
             sizeof(IsnEntry) * kIsnSlots;
  for (const Slab& sl : slabs_) n += size_t{sl.slot_bytes} * sl.slots;
  return n;
}

void AppLayer::for_each_dissector_counter(dissect::CounterFn f) const {
  for (const auto& d : dissectors_.list) d->for_each_counter(f);
}

void AppLayer::for_each_dissector_pool(absl::FunctionRef<void(const DissectPool&)> f) const {
  for (size_t i = 0; i < slabs_.size(); ++i) {
    f(DissectPool{dissectors_.list[i]->name(), slabs_[i].slots, slab_stats_[i].peak.get(),
                  slab_stats_[i].exhausted.get()});
  }
}

dissect::Ctx AppLayer::ctx(flow::Flow& f, Nanos now) noexcept {
  return dissect::Ctx{f, now, *out_, apps_.get()};
}

void* AppLayer::dslot(const State& s) noexcept {
  const Slab& sl = slabs_[s.dissector];
  return sl.base + size_t{s.slot} * sl.slot_bytes;
}

uint32_t AppLayer::alloc(flow::Flow& f, bool from_client, const AppPacket& p) noexcept {
  const uint32_t idx = free_head_;
  if (idx == flow::kNoAppState) return idx;
  State& s = states_[idx];
  free_head_ = s.next_free;
  s.dissector = kNoDissector;
  s.slot = kNoSlot;
  s.dir_swap = 0;
  s.role_swap = 0;
  s.handed_over = 0;
  counters_.app_states_in_use.inc();
  const uint8_t c = f.client_side & 1;
  // Without a handshake (UDP, or TCP picked up midstream) the client is a guess from the
  // ports or the first packet: the classifier may then find the roles the other way round.
  const bool guessed = f.direction_basis != static_cast<uint8_t>(flow::DirectionBasis::kSyn) &&
                       f.direction_basis != static_cast<uint8_t>(flow::DirectionBasis::kSynAck);
  s.sctp_started = 0;
  // SCTP's DATA chunks are read as a byte stream (on_sctp): classified as TCP is.
  const uint8_t transport = f.key.proto == kIpProtoSctp ? uint8_t{kIpProtoTcp} : f.key.proto;
  classifier_.init(s.cls, transport, f.key.port[c], f.key.port[c ^ 1], guessed);
  if (f.key.proto == kIpProtoTcp) {
    flow::TcpReassembler::init(s.stream);
    // State is taken at the first payload packet, after the handshake went by (a SYN scan
    // costs no state): start each direction whose SYN was seen at the handshake's sequence
    // number (noted in isn_), or where this packet says it is, so that a normal session is
    // not counted as a mid-stream pickup and a first data segment that arrives out of order
    // waits for the bytes before it.
    const uint32_t dir = from_client ? 0 : 1;
    const uint8_t side = from_client ? c : c ^ 1;
    if (f.tcp_flags_seen[side] & kTcpSyn) {
      s.stream.dir[dir].next_seq = stream_start(f, dir, p.seq);
      s.stream.dir[dir].flags |= flow::kStreamIsnKnown;
    }
    if (f.tcp_flags_seen[side ^ 1] & kTcpSyn) {
      if (p.tcp_flags & kTcpAck) {
        s.stream.dir[dir ^ 1].next_seq = p.ack;
        s.stream.dir[dir ^ 1].flags |= flow::kStreamIsnKnown;
      } else {
        const IsnEntry& e = isn_[f.sid & (kIsnSlots - 1)];
        if (e.sid == f.sid && (e.have & (2u >> dir))) {
          s.stream.dir[dir ^ 1].next_seq = e.next[dir ^ 1];
          s.stream.dir[dir ^ 1].flags |= flow::kStreamIsnKnown;
        }
      }
    }
  }
  return idx;
}

void AppLayer::note_isn(const flow::Flow& f, uint32_t dir, uint32_t seq) noexcept {
  IsnEntry& e = isn_[f.sid & (kIsnSlots - 1)];
  if (e.sid != f.sid) {
    e.sid = f.sid;
    e.have = 0;
  }
  e.next[dir] = seq + 1;  // a SYN takes one sequence number
  e.have |= static_cast<uint8_t>(1u << dir);
}

uint32_t AppLayer::stream_start(const flow::Flow& f, uint32_t dir, uint32_t seq) noexcept {
  const IsnEntry& e = isn_[f.sid & (kIsnSlots - 1)];
  if (e.sid != f.sid || !(e.have & (1u << dir)) || e.next[dir] == seq) return seq;
  // Only a hole the reassembler may buffer across; anything else is another story (a SYN
  // of an earlier attempt, a capture that lost far more): start at the data, as before.
  if (!flow::seq_gt(seq, e.next[dir]) || seq - e.next[dir] > config_.stream.max_ooo_bytes) {
    return seq;
  }
  counters_.app_isn_start.inc();
  return e.next[dir];
}

void AppLayer::release(flow::Flow& f) noexcept {
  const uint32_t idx = f.app_state;
  if (idx == flow::kNoAppState) return;
  State& s = states_[idx];
  if (s.dissector != kNoDissector) stop_dissector(f, s, false, f.last_ns);
  if (f.key.proto == kIpProtoTcp) reasm_->release(s.stream);
  s.next_free = free_head_;
  free_head_ = idx;
  f.app_state = flow::kNoAppState;
  counters_.app_states_in_use.set(counters_.app_states_in_use.get() - 1);
}

void AppLayer::stop_dissector(flow::Flow& f, State& s, bool write_pending, Nanos now) noexcept {
  if (s.dissector == kNoDissector) return;
  Slab& sl = slabs_[s.dissector];
  if (write_pending) {
    dissect::Ctx c = ctx(f, now);
    dissectors_.list[s.dissector]->end_flow(dslot(s), c);
  }
  sl.free_list[sl.free_count++] = s.slot;
  s.dissector = kNoDissector;
  s.slot = kNoSlot;
}

bool AppLayer::start_dissector(flow::Flow& f, State& s, uint16_t proto, Nanos now) noexcept {
  const int di = dissectors_.index_of(proto);
  if (di < 0) return false;
  Slab& sl = slabs_[static_cast<size_t>(di)];
  SlabStats& st = slab_stats_[static_cast<size_t>(di)];
  if (sl.free_count == 0) {
    counters_.app_dissect_exhausted.inc();
    st.exhausted.inc();
    return false;
  }
  s.dissector = static_cast<uint8_t>(di);
  s.slot = sl.free_list[--sl.free_count];
  if (sl.slots - sl.free_count > st.peak.get()) st.peak.set(sl.slots - sl.free_count);
  dissect::Ctx c = ctx(f, now);
  // SCTP reaches dissectors as a stream, as TCP does (on_sctp).
  dissectors_.list[s.dissector]->begin_flow(dslot(s), c,
                                            f.key.proto == kIpProtoSctp ? uint8_t{kIpProtoTcp} : f.key.proto);
  return true;
}

void AppLayer::after_progress(flow::Flow& f, State& s, dissect::Progress pr, Nanos now,
                              uint16_t next_proto) noexcept {
  switch (pr) {
    case dissect::Progress::kMore:
      return;
    case dissect::Progress::kIdle:
      if (f.key.proto != kIpProtoUdp) return;
      // Nothing pending: the state goes back; the next datagram takes a fresh one (the flow
      // is not bypassed: its protocol is known, so it goes straight to the dissector).
      stop_dissector(f, s, true, now);
      f.app_flags |= flow::kAppIdle;
      return;
    case dissect::Progress::kDone:
      stop_dissector(f, s, true, now);
      if (next_proto != 0 && start_dissector(f, s, next_proto, now)) {
        counters_.app_handovers.inc();
        s.handed_over = 1;
        return;
      }
      counters_.app_dissect_done.inc();
      f.app_flags |= flow::kAppBypass;
      return;
    case dissect::Progress::kViolation:
      stop_dissector(f, s, false, now);
      if (s.handed_over) {
        // The stream after STARTTLS / CONNECT was not what was expected: the flow's own
        // protocol stands, the rest is not read.
        counters_.app_handover_rejected.inc();
        f.app_flags |= flow::kAppBypass;
        return;
      }
      counters_.app_violation.inc();
      f.app_proto = 0;
      f.app_flags |= flow::kAppBypass | flow::kAppViolation;
      return;
  }
}

void AppLayer::dissect_data(flow::Flow& f, State& s, uint32_t dir, const uint8_t* p,
                            uint32_t len, uint32_t wire_len, Nanos now, int depth) noexcept {
  const bool from_client = (dir ^ s.role_swap) == 0;
  // A hand-over may leave bytes of this call to the next dissector, which may hand over in
  // turn (SOCKS -> HTTP CONNECT -> TLS): bounded, a loop of hand-overs is no protocol.
  for (int hops = 0;; ++hops) {
    dissect::Ctx c = ctx(f, now);
    const dissect::Progress pr =
        dissectors_.list[s.dissector]->data(dslot(s), c, from_client, p, len, wire_len);
    after_progress(f, s, pr, now, c.next_proto);
    if (pr == dissect::Progress::kDone && c.next_proto != 0 && c.replay_len != 0 &&
        s.dissector != kNoDissector) {
      // Bytes the handing dissector kept from earlier calls (a SOCKS client's data sent
      // before the proxy's reply) come before the rest of this call.
      if (depth == 2) {
        stop_dissector(f, s, true, now);
        counters_.app_handover_rejected.inc();
        f.app_flags |= flow::kAppBypass;
        return;
      }
      dissect_data(f, s, (c.replay_from_client ? 0u : 1u) ^ s.role_swap, c.replay, c.replay_len,
                   c.replay_len, now, depth + 1);
      if (s.dissector == kNoDissector || (f.app_flags & flow::kAppBypass)) return;
    }
    if (pr != dissect::Progress::kDone || c.next_proto == 0 || c.used >= len ||
        s.dissector == kNoDissector) {
      return;
    }
    if (hops == 3) {
      stop_dissector(f, s, true, now);
      counters_.app_handover_rejected.inc();
      f.app_flags |= flow::kAppBypass;
      return;
    }
    p += c.used;
    len -= c.used;
    wire_len = wire_len > c.used ? wire_len - c.used : len;
  }
}

void AppLayer::dissect_gap(flow::Flow& f, State& s, uint32_t dir, uint32_t len, Nanos now) noexcept {
  dissect::Ctx c = ctx(f, now);
  const bool from_client = (dir ^ s.role_swap) == 0;
  const dissect::Progress pr = dissectors_.list[s.dissector]->gap(dslot(s), c, from_client, len);
  after_progress(f, s, pr, now, c.next_proto);
}

void AppLayer::verify_data(flow::Flow& f, State& s, uint32_t dir, const uint8_t* p, uint32_t len,
                           uint32_t wire_len) noexcept {
  switch (classifier_.verify(s.cls, dir == 0, p, len, wire_len)) {
    case dissect::Verified::kPending:
      return;
    case dissect::Verified::kViolation:
      // The other side's first message is no message of the named protocol.
      counters_.app_violation.inc();
      f.app_proto = 0;
      f.app_flags |= flow::kAppBypass | flow::kAppViolation;
      return;
    case dissect::Verified::kOk:
    case dissect::Verified::kGaveUp:
      f.app_flags |= flow::kAppBypass;
      return;
  }
}

void AppLayer::conclude(flow::Flow& f, const dissect::Decision& d, const Chunk& cur,
                        Nanos now) noexcept {
  State& s = states_[f.app_state];
  if (d.kind != dissect::Decision::kDecided || d.app_proto == 0) {
    counters_.app_unknown.inc();
    f.app_flags |= flow::kAppBypass;
    return;
  }
  f.app_proto = d.app_proto;
  counters_.app_classified.inc();
  // The payload proved the guessed roles wrong (docs/flows.md: dissectors may flip a
  // midstream flow's client); an Unsure verdict is not proof enough, and a handshake-proven
  // client stays the client even when it speaks as the application's server.
  const bool guessed = f.direction_basis != static_cast<uint8_t>(flow::DirectionBasis::kSyn) &&
                       f.direction_basis != static_cast<uint8_t>(flow::DirectionBasis::kSynAck);
  if (d.reversed && d.certain && guessed) {
    f.client_side ^= 1;
    s.dir_swap = 1;
    s.role_swap = 1;
    counters_.app_reversed.inc();
  } else if (d.reversed && d.certain) {
    // The records keep the handshake's client (src); the dissectors get the bytes in the
    // application's roles (docs/streams.md, "Reversed roles").
    s.role_swap = 1;
    counters_.app_roles_reversed.inc();
  }
  const int di = dissectors_.index_of(d.app_proto);
  if (di < 0 || out_ == nullptr) {
    // No dissector: a decision that rested on one side's bytes keeps the state until the other
    // side's first message is checked (verify_data); otherwise the flow is done.
    if (cur.p == nullptr || !classifier_.begin_verify(s.cls)) f.app_flags |= flow::kAppBypass;
    return;
  }
  if (!start_dissector(f, s, d.app_proto, now)) {  // its pool is full: counted
    f.app_flags |= flow::kAppBypass;
    return;
  }
  counters_.app_dissected.inc();

  // Replay what the classifier buffered, in the order it was most likely said: the side that
  // spoke first, then the other, then the chunk that decided. Bytes the prefix could not hold
  // reach the dissector as a gap.
  const dissect::ClassifyState& cs = s.cls;
  const bool tcp = f.key.proto == kIpProtoTcp || f.key.proto == kIpProtoSctp;  // a stream
  auto replay = [&](uint32_t dir, uint32_t n, uint32_t wire) {
    if (s.dissector == kNoDissector || (f.app_flags & flow::kAppBypass)) return;
    if (n) dissect_data(f, s, dir, cs.prefix[dir], n, tcp ? n : wire, now);
    if (tcp && wire > n && s.dissector != kNoDissector && !(f.app_flags & flow::kAppBypass)) {
      // wire saturates: a length past it is "unknown" to the dissector
      dissect_gap(f, s, dir, wire == UINT32_MAX ? 0 : wire - n, now);
    }
  };
  if (cur.p == nullptr) {
    // Decided without a current chunk: both prefixes are complete as buffered. Roles swapped
    // with the client kept: the application's client first (its request opens the exchange).
    const uint32_t a = (s.role_swap && !s.dir_swap) || cs.server_spoke_first() || cs.len[0] == 0 ? 1 : 0;
    replay(a, cs.len[a], cs.wire[a]);
    replay(a ^ 1, cs.len[a ^ 1], cs.wire[a ^ 1]);
  } else if (tcp) {
    const uint32_t o = cur.dir ^ 1;
    if (cur.prefix_before && s.role_swap && !s.dir_swap && cur.dir == 0) {
      // Roles swapped with the client kept, decided on the application server's chunk: the
      // application's client first, as above.
      replay(o, cs.len[o], cs.wire[o]);
      replay(cur.dir, cur.prefix_before, cur.wire_before);
    } else if (cur.prefix_before) {
      replay(cur.dir, cur.prefix_before, cur.wire_before);
      replay(o, cs.len[o], cs.wire[o]);
    } else {
      replay(o, cs.len[o], cs.wire[o]);
      if (cur.wire_before && s.dissector != kNoDissector && !(f.app_flags & flow::kAppBypass)) {
        dissect_gap(f, s, cur.dir, cur.wire_before, now);
      }
    }
    if (s.dissector != kNoDissector && !(f.app_flags & flow::kAppBypass)) {
      dissect_data(f, s, cur.dir, cur.p, cur.len, cur.len, now);
    }
  } else {
    // UDP: each prefix is the direction's latest datagram; the current one is in its prefix.
    const uint32_t o = cur.dir ^ 1;
    replay(o, cs.len[o], cs.wire[o]);
    if (s.dissector != kNoDissector && !(f.app_flags & flow::kAppBypass)) {
      dissect_data(f, s, cur.dir, cur.p, cur.len, cur.wire_len, now);
    }
  }
}

namespace {
constexpr uint8_t kSctpData = 0;    // RFC 9260 3.3.1
constexpr uint8_t kSctpIData = 64;  // RFC 8260 2.1: interleaved fragments, not read
constexpr uint32_t kSctpDataHeader = 16;

uint32_t be16(const uint8_t* p) noexcept { return static_cast<uint32_t>(p[0]) << 8 | p[1]; }
uint32_t be32(const uint8_t* p) noexcept {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}

// True when the chunks of an SCTP packet hold user data (DATA with at least one byte, or
// I-DATA): only those take app state.
bool sctp_has_data(const uint8_t* c, uint32_t left) noexcept {
  while (c != nullptr && left >= 4) {
    const uint32_t len = be16(c + 2);
    if (len < 4) return false;
    if ((c[0] == kSctpData && len > kSctpDataHeader) || c[0] == kSctpIData) return true;
    const uint32_t padded = (len + 3) & ~3u;
    if (padded >= left) return false;
    c += padded;
    left -= padded;
  }
  return false;
}
}  // namespace

// SCTP (RFC 9260): the DATA chunks of each side, taken in TSN order, make that side's byte
// stream. Without I-DATA a message's fragments have consecutive TSNs, so the stream is the
// side's messages one after the other, whatever SCTP stream each was sent on. A TSN seen
// before is a retransmission (skipped); one past the next expected is a hole of unknown size.
void AppLayer::on_sctp(flow::Flow& f, State& s, bool from_client, const AppPacket& p) noexcept {
  Consumer consumer{*this, f, s, p.t};
  const uint32_t side = from_client ? 0u : 1u;
  const uint8_t* c = p.payload;
  uint32_t left = p.payload_len;
  uint32_t wire_left = p.payload_wire_len;
  while (c != nullptr && left >= 4 && !(f.app_flags & flow::kAppBypass)) {
    const uint8_t type = c[0];
    const uint32_t len = be16(c + 2);
    if (len < 4 || len > wire_left) {  // a chunk length the packet cannot hold
      counters_.app_sctp_bad_chunk.inc();
      return;
    }
    const uint32_t dir = side ^ s.dir_swap;
    if (type == kSctpIData) {
      counters_.app_sctp_idata.inc();
      consumer.gap(dir, 0);
    } else if (type == kSctpData) {
      if (len < kSctpDataHeader) {
        counters_.app_sctp_bad_chunk.inc();
        return;
      }
      if (left < kSctpDataHeader) return;  // the capture cut the chunk's header: nothing known
      const uint32_t tsn = be32(c + 4);
      if (!(s.sctp_started & (1u << side))) {
        s.sctp_started |= static_cast<uint8_t>(1u << side);
        s.sctp_next_tsn[side] = tsn;
      }
      const int32_t ahead = static_cast<int32_t>(tsn - s.sctp_next_tsn[side]);
      if (ahead < 0) {
        counters_.app_sctp_tsn_old.inc();
      } else {
        if (ahead > 0) {  // DATA the capture lost (or that comes later, out of order)
          counters_.app_sctp_tsn_gap.inc();
          consumer.gap(dir, 0);
        }
        s.sctp_next_tsn[side] = tsn + 1;
        const uint32_t n = len - kSctpDataHeader;
        const uint32_t have = std::min(n, left - kSctpDataHeader);
        if (have != 0) consumer.data(dir, c + kSctpDataHeader, have);
        if (have < n) consumer.gap(dir, n - have);  // cut by the capture's snap length
      }
    }
    const uint32_t padded = (len + 3) & ~3u;
    if (padded >= left) return;
    c += padded;
    left -= padded;
    wire_left -= padded;
  }
}

void AppLayer::on_packet(flow::Flow& f, bool from_client, const AppPacket& p) noexcept {
  const bool tcp = f.key.proto == kIpProtoTcp;
  const bool sctp = f.key.proto == kIpProtoSctp;
  if (f.app_state == flow::kNoAppState) {
    if (!tcp && !sctp && f.key.proto != kIpProtoUdp) {
      counters_.app_other_transport.inc();
      f.app_flags |= flow::kAppBypass;
      return;
    }
    if (sctp && !sctp_has_data(p.payload, p.payload_len)) return;  // INIT, SACK, ...: no state
    if (p.payload_wire_len == 0) {  // nothing to classify yet; take no state
      if (tcp && (p.tcp_flags & kTcpSyn)) note_isn(f, from_client ? 0 : 1, p.seq);
      return;
    }
    const uint32_t idx = alloc(f, from_client, p);
    if (idx == flow::kNoAppState) {
      counters_.app_state_exhausted.inc();
      f.app_flags |= flow::kAppBypass | flow::kAppNoState;
      return;
    }
    f.app_state = idx;
    if (f.app_flags & flow::kAppIdle) {
      // A UDP flow whose dissector went idle: its protocol is known, straight back to it.
      f.app_flags &= static_cast<uint8_t>(~flow::kAppIdle);
      if (!start_dissector(f, states_[idx], f.app_proto, p.t)) {  // pool full: counted
        f.app_flags |= flow::kAppBypass;
        release(f);
        return;
      }
    }
  }
  State& s = states_[f.app_state];
  if (tcp) {
    Consumer consumer{*this, f, s, p.t};
    flow::TcpSegment seg{p.seq, p.ack, p.payload, p.payload_len, p.payload_wire_len, p.tcp_flags};
    // The reassembler's directions stay as they were when the state was taken.
    reasm_->on_segment(s.stream, (from_client ? 0u : 1u) ^ s.dir_swap, seg, consumer);
  } else if (sctp) {
    on_sctp(f, s, from_client, p);
  } else if (p.payload_len != 0) {
    const uint32_t dir = (from_client ? 0u : 1u) ^ s.dir_swap;
    if (s.dissector != kNoDissector) {
      dissect_data(f, s, dir, p.payload, p.payload_len, p.payload_wire_len, p.t);
    } else if (s.cls.verifying()) {
      verify_data(f, s, dir, p.payload, p.payload_len, p.payload_wire_len);
    } else {
      const Chunk cur{dir, p.payload, p.payload_len, p.payload_wire_len, s.cls.len[dir], s.cls.wire[dir]};
      const dissect::Decision d =
          classifier_.feed(s.cls, dir == 0, p.payload, p.payload_len, p.payload_wire_len);
      if (d.kind != dissect::Decision::kPending) conclude(f, d, cur, p.t);
    }
  }
  // Decided without a dissector, dissector done, or went idle: the state goes back now.
  if ((f.app_flags & flow::kAppBypass) ||
      (s.dissector == kNoDissector && (f.app_flags & flow::kAppIdle))) {
    release(f);
  }
}

void AppLayer::on_flow_end(flow::Flow& f) noexcept {
  if (f.app_state == flow::kNoAppState) {
    if (!(f.app_flags & (flow::kAppBypass | flow::kAppIdle))) counters_.app_no_payload.inc();
    return;
  }
  State& s = states_[f.app_state];
  if (f.key.proto == kIpProtoTcp) {
    Consumer consumer{*this, f, s, f.last_ns};
    reasm_->flush(s.stream, consumer);  // buffered bytes still count
  }
  if (!(f.app_flags & flow::kAppBypass) && s.dissector == kNoDissector && s.cls.verifying()) {
    classifier_.verify_stop(s.cls);  // the other side never said enough: kept unverified
  } else if (!(f.app_flags & flow::kAppBypass) && s.dissector == kNoDissector) {
    const dissect::Decision d = classifier_.finish(s.cls);
    conclude(f, d, Chunk{0, nullptr, 0, 0, 0, 0}, f.last_ns);
  }
  if (s.dissector != kNoDissector) stop_dissector(f, s, true, f.last_ns);
  f.app_flags |= flow::kAppBypass;
  release(f);
}

}  // namespace flowscribe::sensor
