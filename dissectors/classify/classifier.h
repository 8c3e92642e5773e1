#pragma once
// Port-independent protocol identification (docs/protocols.md).
//
// Start-up:  auto db = compile_classifier(signature_file);   // once, shared read-only
//            Classifier cls(*db);                               // one per worker (owns scratch)
// Per flow:  cls.init(state, transport, client_port, server_port);
//            d = cls.feed(state, from_client, payload, len);   // in-order bytes / one datagram
//            ... until d.kind != kPending; at flow end or budget: d = cls.finish(state).
// Decided on one side's bytes alone (no dissector to follow): if cls.begin_verify(state),
//            v = cls.verify(state, from_client, payload, len)  // the other side's first bytes
//            ... until v != kPending; at a gap or flow end: cls.verify_stop(state).
// feed() and finish() never allocate, never throw, and read every byte as hostile.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/app_proto.h"
#include "common/counters.h"
#include "dissectors/classify/probe.h"
#include "sensor/match/hs_match.h"

namespace flowscribe::dissect {

// Bytes kept per direction, payload packets per direction that may add to them, and payload
// packets per flow after which the classifier decides with what it has.
constexpr uint32_t kClassifyPrefixBytes = 512;
constexpr uint8_t kClassifyMaxPackets = 4;
constexpr uint8_t kClassifyMaxTotalPackets = 8;
// Verification (docs/protocols.md, "Violations"): payload packets, both directions, after which
// a flow still waiting for the other side's first message keeps its protocol unverified.
constexpr uint8_t kClassifyVerifyMaxPackets = 16;

// What checking the other side's first message found.
enum class Verified : uint8_t {
  kPending,    // fewer bytes than a header (or a line) so far: keep feeding verify()
  kOk,         // a valid first message of that side: the protocol stands
  kViolation,  // no message of that side starts like this: the flow is not that protocol
  kGaveUp,     // budget spent, a gap, or the flow ended first: the protocol stands, unverified
};

struct Decision {
  enum Kind : uint8_t { kPending, kDecided, kGaveUp };
  Kind kind = kPending;
  uint16_t app_proto = 0;  // AppProto id or a user protocol id (app_proto_name() knows both)
  bool certain = false;    // a probe (or a user signature) was Certain; false = Unsure won
  // The bytes fit only with the roles swapped: the side init() called the client speaks as
  // the server. With a guessed orientation the guess was wrong; after a handshake the
  // application's roles are reversed (the TCP client is the application's server).
  bool reversed = false;
};

// Per-flow state: plain bytes for a pool slot. init() readies it; it needs no destructor.
struct ClassifyState {
  uint8_t prefix[2][kClassifyPrefixBytes];  // [0] client→server, [1] server→client
  uint64_t hs_hits[2][2];  // per direction, rule bits: [0] built-in ids, [1] user slots
  uint64_t swap_hits[2];   // orientation guessed: built-in bits of prefix[d] scanned as the
                           //   other direction (client bytes as server bytes and vice versa)
  uint32_t wire[2];        // UDP: buffered datagram's length; TCP: bytes seen (saturating)
  uint16_t len[2];         // bytes in prefix[d]
  uint16_t swap_len[2];    // bytes of prefix[d] covered by swap_hits[d]
  uint16_t client_port;
  uint16_t server_port;
  uint8_t pkts[2];         // payload packets seen per direction (saturating)
  uint8_t transport;       // IP protocol number
  uint8_t flags;           // kStateFlag* (classifier.cpp)
  uint8_t verify_pkts;     // payload packets fed to verify() (saturating)
  Decision decision;

  // The side init() called the server sent the first payload bytes.
  bool server_spoke_first() const noexcept { return flags & 0x01; }  // kStateServerFirst
  // begin_verify() armed a check that verify() has not settled yet.
  bool verifying() const noexcept { return flags & 0x18; }  // kStateVerify0 | kStateVerify1
  bool had_candidate() const noexcept { return flags & 0x02; }  // kStateHadCandidate
};
static_assert(sizeof(ClassifyState) <= 1152, "ClassifyState must fit a 1.2 KiB pool slot");

#define FS_CLASSIFY_COUNTERS(X)                                                                 \
  X(classify_flows, "flows handed to the classifier (init)")                                    \
  X(classify_decided, "flows given a protocol (certain or not)")                                \
  X(classify_decided_unsure, "of those, decided on an Unsure probe result")                     \
  X(classify_gave_up, "flows left unknown: budget spent or flow ended without a candidate")     \
  X(classify_ambiguous, "of those, Unsure candidates tied and the server port did not break it") \
  X(classify_hs_scans, "Hyperscan block scans of a direction's prefix")                          \
  X(classify_hs_matches, "new signature matches (rule bits set by a scan)")                      \
  X(classify_hs_scan_errors, "Hyperscan scan errors or no scratch: probes ran without signatures") \
  X(classify_probe_certain, "probe runs that returned Certain")                                  \
  X(classify_probe_unsure, "probe runs that returned Unsure")                                    \
  X(classify_tie_broken_by_port, "Unsure ties broken by the server port")                        \
  X(classify_conflicts, "more than one probe said Certain (port, then table order, decided)")    \
  X(classify_reversed, "flows decided with the client and server bytes swapped (Decision::reversed)") \
  X(classify_user_signature_matches, "flows decided by a user signature")                        \
  X(classify_prefix_full, "TCP payload packets whose bytes did not fit the prefix (cut or dropped)") \
  X(classify_udp_prefix_replaced, "UDP datagrams that replaced a prefix with no candidate")       \
  X(classify_feed_after_decision, "feed() calls after the decision (the worker may skip them)")  \
  X(classify_bad_transport, "flows neither TCP nor UDP: given up at init")                      \
  X(classify_verify_waits, "flows decided on one side's bytes: the other side's first message is checked") \
  X(classify_verified, "of those, the other side's first message fit the protocol")              \
  X(classify_violations, "of those, it did not: the flow dropped back to unknown")               \
  X(classify_verify_gave_up, "of those, budget spent, a gap or the flow's end came first: kept unverified")

FS_DEFINE_COUNTERS(ClassifyCounters, FS_CLASSIFY_COUNTERS);

// Compiled signature databases, one per (transport, direction), plus the user protocols'
// rule slots. Immutable once built; shared by all workers.
class ClassifierDb {
 public:
  static constexpr size_t kMaxUserRules = 64;

  size_t builtin_signature_count() const noexcept { return builtin_count_; }
  size_t user_signature_count() const noexcept { return user_count_; }
  size_t database_bytes() const noexcept;
  // User rule slot -> app proto id (a user id, or a built-in id the user file named).
  uint16_t user_rule_proto(size_t slot) const noexcept { return slot < user_rules_ ? user_proto_[slot] : 0; }

 private:
  friend class Classifier;
  friend absl::StatusOr<std::shared_ptr<const ClassifierDb>> compile_classifier(const std::string&);
  match::Database db_[2][2];  // [0 tcp, 1 udp][0 from client, 1 from server]
  uint16_t user_proto_[kMaxUserRules] = {};
  size_t user_rules_ = 0;
  size_t builtin_count_ = 0;
  size_t user_count_ = 0;
  uint64_t structural_[2] = {};  // built-in ids probed without a signature, per transport
  uint16_t scan_len_[2][2] = {};  // deepest match end of each database: bytes worth scanning
};

// Compiles the built-in signatures and, when `user_signature_file` is not empty, the user's
// (docs/signatures.md), registering user protocol names for app_proto_name(). Call before
// workers start. Errors: InvalidArgument naming the file, line and Hyperscan's message;
// NotFound when the file cannot be opened.
absl::StatusOr<std::shared_ptr<const ClassifierDb>> compile_classifier(const std::string& user_signature_file);

class Classifier {
 public:
  explicit Classifier(std::shared_ptr<const ClassifierDb> db);
  Classifier(const Classifier&) = delete;
  Classifier& operator=(const Classifier&) = delete;

  // False if Hyperscan scratch could not be allocated (probes still run, signatures do not).
  bool ready() const noexcept { return ready_; }

  // `orientation_guessed`: no handshake told who the client is (UDP, or TCP picked up
  // midstream): when the bytes fit no protocol as given, the probes also try them with the
  // roles swapped (Decision::reversed) as soon as both sides spoke; with a known orientation
  // only as the last try before giving up.
  void init(ClassifyState& st, uint8_t transport, uint16_t client_port, uint16_t server_port,
            bool orientation_guessed = false) noexcept;
  // The next in-order payload bytes of one direction (TCP: from the stream engine; UDP: one
  // datagram). Returns the decision so far; once it is not kPending it never changes.
  Decision feed(ClassifyState& st, bool from_client, const uint8_t* data, uint32_t len) noexcept {
    return feed(st, from_client, data, len, len);
  }
  // Same, for a UDP datagram the capture cut: `wire_len` is its length on the wire (several
  // probes check exact message lengths). Ignored for TCP.
  Decision feed(ClassifyState& st, bool from_client, const uint8_t* data, uint32_t len,
                uint32_t wire_len) noexcept;
  // No more data will come (flow ended, or the worker's budget is spent): decide now.
  Decision finish(ClassifyState& st) noexcept;

  // After feed() decided: when the decision rested on one side's bytes alone (the other side
  // had sent nothing, or less than a header) and the protocol has a check for the other side's
  // first message (ProtoInfo::verify), arms that check and returns true; the caller then feeds
  // verify() instead of dropping the state. Never for a TCP flow picked up midstream (its
  // first bytes need not start a message), a user protocol, or a decision made by finish().
  bool begin_verify(ClassifyState& st) noexcept;
  // The next payload bytes of either direction while verifying (the same bytes feed() would
  // get). kPending until the other side's first bytes settle it, or until
  // kClassifyVerifyMaxPackets payload packets went by (kGaveUp).
  Verified verify(ClassifyState& st, bool from_client, const uint8_t* data, uint32_t len,
                  uint32_t wire_len) noexcept;
  Verified verify(ClassifyState& st, bool from_client, const uint8_t* data, uint32_t len) noexcept {
    return verify(st, from_client, data, len, len);
  }
  // A gap, or the flow's end, while verifying: the protocol is kept unverified (kGaveUp).
  Verified verify_stop(ClassifyState& st) noexcept;

  const ClassifyCounters& counters() const noexcept { return counters_; }

 private:
  void scan(ClassifyState& st, int dir) noexcept;
  void scan_swapped(ClassifyState& st) noexcept;
  Decision evaluate(ClassifyState& st, bool final) noexcept;
  Decision decide(ClassifyState& st, Decision::Kind kind, uint16_t proto, bool certain) noexcept;
  Check check_side(const ClassifyState& st, int dir) const noexcept;

  std::shared_ptr<const ClassifierDb> db_;
  match::Scratch scratch_;
  bool ready_ = false;
  ClassifyCounters counters_;
};

}  // namespace flowscribe::dissect
