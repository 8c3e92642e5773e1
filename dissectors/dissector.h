#pragma once
// Dissectors (docs/architecture.md, "Dissectors"): once the classifier has named a flow's
// protocol, that protocol's dissector reads the flow's ordered bytes (TCP, from the stream
// engine) or its datagrams (UDP) and writes transaction records (MSGID http, tls, x509, dns).
//
// One Dissector object per protocol family per worker: it owns its counters and
// configuration, never per-flow data. Per-flow state is a fixed-size slot of state_bytes()
// from a per-worker pool (sensor/app_layer.cpp), taken when the protocol is named and given
// back as soon as the dissector is done: a flow whose dissector has finished costs only the
// flow-table update per packet. Rules for every dissector:
//  - never allocate, never throw, never block; every byte is hostile;
//  - bounded work and memory per byte; anything cut short is counted;
//  - a record is begun (RecordOut::begin), filled with add_field() (or a RecordChain, which
//    may grow continuation slots), and committed once.
#include <cstdint>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "common/app_proto.h"
#include "common/counters.h"
#include "common/net.h"
#include "emit/record.h"
#include "emit/schema.h"
#include "flowtable/flow_table.h"

namespace flowscribe::dissect {

// What a dissector tells the app layer after each call.
enum class Progress : uint8_t {
  kMore,       // keep feeding this flow
  kDone,       // nothing more to learn: free the state, bypass the flow's later packets (or,
               //   after Ctx::hand_over(), go on with the next protocol's dissector)
  kIdle,       // UDP only: nothing pending; free the state, the next datagram gets a fresh one
               //   (a DNS flow between queries holds no state). TCP treats it as kMore.
  kViolation,  // the bytes break the protocol's grammar: the flow drops back to proto unknown
               //   (counted: app_violation), nothing pending is written, the flow is bypassed
};

// Where records go. The worker implements it (sensor/worker.cpp); tests collect records.
class RecordOut {
 public:
  // A record of `type` for flow `f` with its header filled in (flow identity, sid, app_proto,
  // locality, ts_ns = `ts`) and no extension fields; nullptr when no record buffer is free
  // (the implementation counts that). Every non-null record must be passed to commit().
  virtual emit::Record* begin(const flow::Flow& f, emit::RecordType type, Nanos ts) noexcept = 0;
  // Hands the record on (the implementation adds the flow's `app` fields first), with the
  // continuation slots extend() gave it.
  virtual void commit(const flow::Flow& f, emit::Record* r) noexcept = 0;
  // Room for more fields of the record `head` (begun, not yet committed): a continuation slot
  // (emit/record.h, kMaxContinuations) with an empty ext area, or nullptr when there is none
  // (no free buffer, counted, or `head` already has kMaxContinuations): the field is then cut
  // as it would be without continuations. One record at a time may grow continuations.
  // Use RecordChain rather than calling this directly. Outputs that cannot hold chains keep
  // this default.
  virtual emit::Record* extend(emit::Record* head) noexcept {
    (void)head;
    return nullptr;
  }

 protected:
  ~RecordOut() = default;
};

// A record being written and the continuation slots it has grown: fields go to the last
// slot; a field that does not fit there gets a fresh continuation slot (RecordOut::extend).
// For records that may outgrow one slot (x509 with long SAN lists); others use add_field().
struct RecordChain {
  RecordOut& out;
  emit::Record* head;
  emit::Record* last;
  RecordChain(RecordOut& o, emit::Record* h) noexcept : out(o), head(h), last(h) {}

  // Appends one field whole; false (nothing appended) when even a fresh slot is not to be had.
  bool add_field(uint16_t field, const void* data, size_t len) noexcept {
    if (last->add_field(field, data, len)) return true;
    if (sizeof(emit::ExtHeader) + len > sizeof(last->ext) || last->ext_len == 0) return false;
    emit::Record* next = out.extend(head);
    if (next == nullptr) return false;
    last = next;
    return last->add_field(field, data, len);
  }
  // Bytes left in the last slot.
  size_t room() const noexcept { return sizeof(last->ext) - last->ext_len; }
  // Moves on to a fresh continuation slot (to keep room free in this one); false when none.
  bool next_slot() noexcept {
    if (last->ext_len == 0) return true;
    emit::Record* next = out.extend(head);
    if (next == nullptr) return false;
    last = next;
    return true;
  }
};

// Names internet applications (dissectors/apps): implemented by the app layer.
class AppNamer {
 public:
  // Looks `host` (an SNI, HTTP Host or DNS name) up; returns the application id, 0 if none.
  virtual uint16_t lookup(std::string_view host) const noexcept = 0;

 protected:
  ~AppNamer() = default;
};

// The context of one dissector call: the flow, the time of the event, where records go.
struct Ctx {
  flow::Flow& flow;
  Nanos now;  // packet time of the bytes being delivered (flow end: the flow's last packet)
  RecordOut& out;
  const AppNamer* apps = nullptr;
  // Set by hand_over(): the dissector that reads the rest of the stream, and how many bytes
  // of the current data() call the handing dissector used (kAllUsed: all of them).
  static constexpr uint32_t kAllUsed = UINT32_MAX;
  uint16_t next_proto = 0;
  uint32_t used = kAllUsed;

  // Before returning kDone: the rest of the stream belongs to another protocol's dissector
  // (STARTTLS, an HTTP CONNECT tunnel -> tls, a SOCKS tunnel -> http or tls). The flow keeps
  // its protocol; if the bytes turn out not to be that protocol, the flow is only bypassed
  // (app_handover_rejected). From data(), `used` < len passes the bytes of this call after
  // the first `used` ones to the next dissector at once (a tunnel's first bytes may share a
  // segment with the last message of the protocol that opened it).
  void hand_over(AppProto p, uint32_t used_bytes = kAllUsed) noexcept {
    next_proto = static_cast<uint16_t>(p);
    used = used_bytes;
  }
  // With hand_over(): bytes of one side that the handing dissector kept from earlier calls
  // (a SOCKS client's tunnel bytes sent before the proxy's reply) go to the next dissector
  // first, before the rest of the current call. They must stay valid until data() returns:
  // the handing dissector's own slot does (it goes back to its pool, which no flow can draw
  // from before then).
  const uint8_t* replay = nullptr;
  uint32_t replay_len = 0;
  bool replay_from_client = true;
  void hand_over_replay(const uint8_t* p, uint32_t n, bool from_client) noexcept {
    replay = p;
    replay_len = n;
    replay_from_client = from_client;
  }

  emit::Record* begin(emit::RecordType type) noexcept { return out.begin(flow, type, now); }
  void commit(emit::Record* r) noexcept { out.commit(flow, r); }
  RecordChain chain(emit::Record* head) noexcept { return RecordChain(out, head); }
  // Names the flow's application from a host name the first time one matches (later names
  // do not change it); returns the id the name matched (0: none).
  uint16_t name_app(std::string_view host) noexcept {
    if (apps == nullptr || host.empty()) return 0;
    const uint16_t id = apps->lookup(host);
    if (id != 0 && flow.app_id == 0) flow.app_id = id;
    return id;
  }
};

using CounterFn = absl::FunctionRef<void(const CounterInfo&, uint64_t)>;

class Dissector {
 public:
  virtual ~Dissector() = default;

  // Lowercase name (docs, --help): "http", "tls", "dns".
  virtual std::string_view name() const noexcept = 0;
  // Bytes of per-flow state (a pool slot, 64-byte aligned, not zeroed: begin_flow() readies it).
  virtual uint32_t state_bytes() const noexcept = 0;
  // Default number of flows this dissector may hold at once per worker (--dissect-states).
  virtual uint32_t default_states() const noexcept = 0;

  // A flow of this dissector's protocol starts being dissected. `transport` is 6 or 17.
  virtual void begin_flow(void* st, Ctx& c, uint8_t transport) noexcept = 0;
  // In-order bytes of one direction (TCP), or one datagram (UDP; `wire_len` is its length on
  // the wire, >= len when the capture cut it). `from_client` is after any role correction.
  virtual Progress data(void* st, Ctx& c, bool from_client, const uint8_t* p, uint32_t len,
                        uint32_t wire_len) noexcept = 0;
  // TCP: `len` bytes of one direction are missing (capture loss, buffer limits; len may be 0
  // when unknown). The dissector resynchronises or gives up (kDone).
  virtual Progress gap(void* st, Ctx& c, bool from_client, uint32_t len) noexcept = 0;
  // The flow ended, or the state is reclaimed after kDone/kIdle: write what is pending
  // (a request without its response, a query without an answer). Not called after kViolation.
  virtual void end_flow(void* st, Ctx& c) noexcept = 0;

  // The dissector's counters (X-macro list), for the stats line, summary and telemetry.
  virtual void for_each_counter(CounterFn f) const = 0;
};

}  // namespace flowscribe::dissect
