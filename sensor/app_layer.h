#pragma once
// The worker's application layer: per flow, ordered bytes (flowtable/tcp_stream) into the
// protocol classifier (dissectors/classify) until the protocol is named or the budget is
// spent; then the flow is bypassed and its later packets cost only the flow-table update.
// State lives in a fixed per-worker pool, taken at a flow's first payload packet (a SYN scan
// takes none) and given back as soon as the decision is made.
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "common/counters.h"
#include "dissectors/classify/classifier.h"
#include "flowtable/flow_table.h"
#include "flowtable/tcp_stream.h"

namespace flowscribe::sensor {

#define FS_APP_COUNTERS(X)                                                                  \
  X(app_states_in_use, "flows holding application-layer state now (gauge)")                 \
  X(app_state_exhausted, "flows left unknown: the per-worker app-state pool was full")      \
  X(app_classified, "flows whose protocol was named")                                       \
  X(app_unknown, "flows whose payload matched no protocol (proto=unknown)")                 \
  X(app_no_payload, "flows that ended without payload (never classified)")                  \
  X(app_other_transport, "flows neither TCP nor UDP: not classified")                       \
  X(app_reversed, "flows whose guessed client was the server (payload proved it): flipped")

FS_DEFINE_COUNTERS(AppCounters, FS_APP_COUNTERS);

struct AppConfig {
  uint32_t states = 32768;         // --app-states: flows being classified at once per worker
  flow::TcpStreamConfig stream;    // --stream-chunks sets stream.pool_chunks
};

// What the worker knows of a packet once its flow is found.
struct AppPacket {
  const uint8_t* payload;
  uint32_t payload_len;       // captured
  uint32_t payload_wire_len;  // on the wire (>= payload_len when the capture cut it)
  uint32_t seq;
  uint32_t ack;
  uint8_t tcp_flags;
};

class AppLayer {
 public:
  static absl::StatusOr<std::unique_ptr<AppLayer>> create(
      const AppConfig& config, std::shared_ptr<const dissect::ClassifierDb> db);
  ~AppLayer();

  // A packet of a flow that is not bypassed (the caller checks Flow::app_flags & kAppBypass).
  void on_packet(flow::Flow& f, bool from_client, const AppPacket& p) noexcept;

  // The flow ends (not for interim reports): decide with what there is, free the state.
  void on_flow_end(flow::Flow& f) noexcept;

  const AppCounters& counters() const noexcept { return counters_; }
  const flow::StreamCounters& stream_counters() const noexcept { return reasm_->counters(); }
  const dissect::ClassifyCounters& classify_counters() const noexcept {
    return classifier_.counters();
  }
  size_t memory_bytes() const noexcept;

  struct State;
  struct Consumer;

 private:
  AppLayer(const AppConfig& config, std::shared_ptr<const dissect::ClassifierDb> db);
  uint32_t alloc(flow::Flow& f, bool from_client, const AppPacket& p) noexcept;
  void conclude(flow::Flow& f, const dissect::Decision& d) noexcept;
  void release(flow::Flow& f) noexcept;

  AppConfig config_;
  std::unique_ptr<State[]> states_;
  uint32_t free_head_;
  std::unique_ptr<flow::TcpReassembler> reasm_;
  dissect::Classifier classifier_;
  AppCounters counters_;
};

}  // namespace flowscribe::sensor
