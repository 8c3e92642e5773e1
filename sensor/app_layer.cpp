#include "sensor/app_layer.h"

#include <cstring>

namespace flowscribe::sensor {

struct alignas(64) AppLayer::State {
  flow::TcpStreamState stream;
  dissect::ClassifyState cls;
  uint32_t next_free;
};

// Receives a flow's ordered bytes from the reassembler and feeds the classifier.
struct AppLayer::Consumer {
  AppLayer& app;
  State& st;
  dissect::Decision decision{};

  void data(uint32_t dir, const uint8_t* p, uint32_t n) noexcept {
    if (decision.kind != dissect::Decision::kPending) return;
    decision = app.classifier_.feed(st.cls, dir == 0, p, n);
  }
  // A hole: the bytes after it cannot be read as the start of a message. Decide with what
  // was seen before it.
  void gap(uint32_t, uint32_t) noexcept {
    if (decision.kind == dissect::Decision::kPending) decision = app.classifier_.finish(st.cls);
  }
  void end(uint32_t, flow::StreamEnd) noexcept {}
};

absl::StatusOr<std::unique_ptr<AppLayer>> AppLayer::create(
    const AppConfig& config, std::shared_ptr<const dissect::ClassifierDb> db) {
  if (config.states == 0 || config.states > (1u << 24)) {
    return absl::InvalidArgumentError("--app-states: expected 1 to 16777216");
  }
  auto reasm = flow::TcpReassembler::create(config.stream);
  if (!reasm.ok()) return reasm.status();
  std::unique_ptr<AppLayer> app(new AppLayer(config, std::move(db)));
  app->reasm_ = *std::move(reasm);
  return app;
}

AppLayer::AppLayer(const AppConfig& config, std::shared_ptr<const dissect::ClassifierDb> db)
    : config_(config), states_(new State[config.states]), classifier_(std::move(db)) {
  for (uint32_t i = 0; i < config_.states; ++i) states_[i].next_free = i + 1;
  states_[config_.states - 1].next_free = flow::kNoAppState;
  free_head_ = 0;
}

AppLayer::~AppLayer() = default;

size_t AppLayer::memory_bytes() const noexcept {
  return sizeof(State) * config_.states + reasm_->pool().memory_bytes();
}

uint32_t AppLayer::alloc(flow::Flow& f, bool from_client, const AppPacket& p) noexcept {
  const uint32_t idx = free_head_;
  if (idx == flow::kNoAppState) return idx;
  State& s = states_[idx];
  free_head_ = s.next_free;
  counters_.app_states_in_use.inc();
  const uint8_t c = f.client_side & 1;
  // Without a handshake (UDP, or TCP picked up midstream) the client is a guess from the
  // ports or the first packet: the classifier may then find the roles the other way round.
  const bool guessed = f.direction_basis != static_cast<uint8_t>(flow::DirectionBasis::kSyn) &&
                       f.direction_basis != static_cast<uint8_t>(flow::DirectionBasis::kSynAck);
  classifier_.init(s.cls, f.key.proto, f.key.port[c], f.key.port[c ^ 1], guessed);
  if (f.key.proto == kIpProtoTcp) {
    flow::TcpReassembler::init(s.stream);
    // State is taken at the first payload packet, after the handshake went by: start each
    // direction whose SYN was seen where this packet says it is, so a normal session is not
    // counted as a mid-stream pickup. (A first data segment that arrives out of order loses
    // the bytes before it to this shortcut; a SYN scan costs no state.)
    const uint32_t dir = from_client ? 0 : 1;
    const uint8_t side = from_client ? c : c ^ 1;
    if (f.tcp_flags_seen[side] & kTcpSyn) {
      s.stream.dir[dir].next_seq = p.seq;
      s.stream.dir[dir].flags |= flow::kStreamIsnKnown;
    }
    if ((p.tcp_flags & kTcpAck) && (f.tcp_flags_seen[side ^ 1] & kTcpSyn)) {
      s.stream.dir[dir ^ 1].next_seq = p.ack;
      s.stream.dir[dir ^ 1].flags |= flow::kStreamIsnKnown;
    }
  }
  return idx;
}

void AppLayer::release(flow::Flow& f) noexcept {
  const uint32_t idx = f.app_state;
  if (idx == flow::kNoAppState) return;
  State& s = states_[idx];
  if (f.key.proto == kIpProtoTcp) reasm_->release(s.stream);
  s.next_free = free_head_;
  free_head_ = idx;
  f.app_state = flow::kNoAppState;
  counters_.app_states_in_use.set(counters_.app_states_in_use.get() - 1);
}

void AppLayer::conclude(flow::Flow& f, const dissect::Decision& d) noexcept {
  if (d.kind == dissect::Decision::kDecided && d.app_proto != 0) {
    f.app_proto = d.app_proto;
    // The payload proved the guessed roles wrong (docs/flows.md: dissectors may flip a
    // midstream flow's client); an Unsure verdict is not proof enough, and a handshake-proven
    // client stays the client even when it speaks as the application's server.
    const bool guessed = f.direction_basis != static_cast<uint8_t>(flow::DirectionBasis::kSyn) &&
                         f.direction_basis != static_cast<uint8_t>(flow::DirectionBasis::kSynAck);
    if (d.reversed && d.certain && guessed) {
      f.client_side ^= 1;
      counters_.app_reversed.inc();
    }
    counters_.app_classified.inc();
  } else {
    counters_.app_unknown.inc();
  }
  release(f);
  f.app_flags |= flow::kAppBypass;
}

void AppLayer::on_packet(flow::Flow& f, bool from_client, const AppPacket& p) noexcept {
  const bool tcp = f.key.proto == kIpProtoTcp;
  if (f.app_state == flow::kNoAppState) {
    if (!tcp && f.key.proto != kIpProtoUdp) {
      counters_.app_other_transport.inc();
      f.app_flags |= flow::kAppBypass;
      return;
    }
    if (p.payload_wire_len == 0) return;  // nothing to classify yet; take no state
    const uint32_t idx = alloc(f, from_client, p);
    if (idx == flow::kNoAppState) {
      counters_.app_state_exhausted.inc();
      f.app_flags |= flow::kAppBypass | flow::kAppNoState;
      return;
    }
    f.app_state = idx;
  }
  State& s = states_[f.app_state];
  if (tcp) {
    Consumer consumer{*this, s};
    flow::TcpSegment seg{p.seq, p.ack, p.payload, p.payload_len, p.payload_wire_len, p.tcp_flags};
    reasm_->on_segment(s.stream, from_client ? 0 : 1, seg, consumer);
    if (consumer.decision.kind != dissect::Decision::kPending) conclude(f, consumer.decision);
    return;
  }
  if (p.payload_len == 0) return;
  dissect::Decision d = classifier_.feed(s.cls, from_client, p.payload, p.payload_len, p.payload_wire_len);
  if (d.kind != dissect::Decision::kPending) conclude(f, d);
}

void AppLayer::on_flow_end(flow::Flow& f) noexcept {
  if (f.app_state == flow::kNoAppState) {
    if (!(f.app_flags & flow::kAppBypass)) counters_.app_no_payload.inc();
    return;
  }
  State& s = states_[f.app_state];
  dissect::Decision d{};
  if (f.key.proto == kIpProtoTcp) {
    Consumer consumer{*this, s};
    reasm_->flush(s.stream, consumer);  // buffered bytes still count
    d = consumer.decision;
  }
  if (d.kind == dissect::Decision::kPending) d = classifier_.finish(s.cls);
  conclude(f, d);
}

}  // namespace flowscribe::sensor
