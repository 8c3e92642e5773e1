#include "dissectors/classify/classifier.h"

#include <bit>
#include <cstring>
#include <vector>

#include "absl/status/status.h"
#include "common/strings.h"
#include "dissectors/classify/probe.h"
#include "dissectors/classify/signatures.h"

namespace flowscribe::dissect {
namespace {

static_assert(kAppProtoBuiltinEnd <= 64, "built-in rule bits live in one uint64_t");

enum StateFlag : uint8_t {
  kStateServerFirst = 0x01,   // the server sent the first payload
  kStateHadCandidate = 0x02,  // some evaluation had an Unsure probe (UDP: keep the datagram)
  kStateGuessed = 0x04,       // init() was told the orientation is a guess: try it swapped too
  kStateVerify0 = 0x08,       // verifying: the first message of prefix[0]'s side is awaited
  kStateVerify1 = 0x10,       //   ... of prefix[1]'s side
};
constexpr uint8_t kStateVerify = kStateVerify0 | kStateVerify1;

constexpr unsigned kUserRuleBase = 64;  // Hyperscan ids 64.. are user rule slots
constexpr unsigned kHsFlags = HS_FLAG_DOTALL | HS_FLAG_SINGLEMATCH;

int transport_index(uint8_t transport) { return transport == kTransportUdp ? 1 : 0; }

}  // namespace

size_t ClassifierDb::database_bytes() const noexcept {
  size_t n = 0;
  for (const auto& t : db_) {
    for (const auto& d : t) n += d.size_bytes();
  }
  return n;
}

absl::StatusOr<std::shared_ptr<const ClassifierDb>> compile_classifier(const std::string& user_signature_file) {
  std::vector<UserSignature> user;
  if (!user_signature_file.empty()) {
    auto parsed = load_signature_file(user_signature_file);
    if (!parsed.ok()) return parsed.status();
    user = std::move(*parsed);
  }
  auto db = std::make_shared<ClassifierDb>();

  // User protocols: one rule slot per distinct name, in file order.
  std::vector<unsigned> user_rule(user.size());
  for (size_t i = 0; i < user.size(); ++i) {
    const uint16_t id = register_user_app_proto(user[i].protocol);  // built-in names map to theirs
    if (id == 0) {
      return absl::InvalidArgumentError(cat(user_signature_file, ":", user[i].line,
                                            ": too many user protocols (at most ", kMaxUserAppProtos, ")"));
    }
    size_t slot = 0;
    while (slot < db->user_rules_ && db->user_proto_[slot] != id) ++slot;
    if (slot == db->user_rules_) {
      if (slot == ClassifierDb::kMaxUserRules) {
        return absl::InvalidArgumentError(cat(user_signature_file, ":", user[i].line,
                                              ": too many user protocols (at most ",
                                              ClassifierDb::kMaxUserRules, ")"));
      }
      db->user_proto_[db->user_rules_++] = id;
    }
    user_rule[i] = kUserRuleBase + static_cast<unsigned>(slot);
  }

  // One pattern list per (transport, direction); remember which entries are the user's.
  std::vector<match::Pattern> lists[2][2];
  std::vector<uint32_t> lines[2][2];  // 0 = built-in, else the user file's line
  auto add = [&](uint8_t transports, uint8_t dirs, const match::Pattern& p, uint32_t line) {
    for (int t = 0; t < 2; ++t) {
      if (!(transports & (t == 0 ? kTcp : kUdp))) continue;
      for (int d = 0; d < 2; ++d) {
        if (!(dirs & (d == 0 ? kFromClient : kFromServer))) continue;
        lists[t][d].push_back(p);
        lines[t][d].push_back(line);
        if (p.max_offset > db->scan_len_[t][d]) db->scan_len_[t][d] = static_cast<uint16_t>(p.max_offset);
      }
    }
  };
  for (const BuiltinSignature& s : builtin_signatures()) {
    match::Pattern p;
    p.expression = s.pattern;
    p.id = static_cast<unsigned>(s.proto);
    p.flags = kHsFlags;
    p.max_offset = s.depth;
    add(s.transports, s.dirs, p, 0);
    ++db->builtin_count_;
  }
  for (size_t i = 0; i < user.size(); ++i) {
    match::Pattern p;
    p.expression = user[i].pattern;
    p.id = user_rule[i];
    p.flags = kHsFlags | (user[i].caseless ? HS_FLAG_CASELESS : 0u);
    p.max_offset = user[i].depth;
    add(user[i].transports, user[i].dirs, p, user[i].line);
    ++db->user_count_;
  }
  for (int t = 0; t < 2; ++t) {
    for (int d = 0; d < 2; ++d) {
      if (lists[t][d].empty()) continue;
      match::CompileError err;
      auto compiled = match::compile(lists[t][d], match::Mode::kBlock, &err);
      if (!compiled.ok()) {
        const uint32_t line = err.index >= 0 && static_cast<size_t>(err.index) < lines[t][d].size()
                                  ? lines[t][d][static_cast<size_t>(err.index)]
                                  : 0;
        if (line != 0) {
          return absl::InvalidArgumentError(cat(user_signature_file, ":", line,
                                                ": pattern rejected by Hyperscan: ", err.message));
        }
        return absl::InternalError(cat("built-in signatures do not compile: ", err.message));
      }
      db->db_[t][d] = std::move(*compiled);
    }
  }
  for (uint16_t id = 1; id < kAppProtoBuiltinEnd; ++id) {
    const ProtoInfo& info = proto_info(id);
    if (!info.structural) continue;
    if (info.transports & kTcp) db->structural_[0] |= uint64_t{1} << id;
    if (info.transports & kUdp) db->structural_[1] |= uint64_t{1} << id;
  }
  return std::shared_ptr<const ClassifierDb>(std::move(db));
}

Classifier::Classifier(std::shared_ptr<const ClassifierDb> db) : db_(std::move(db)) {
  ready_ = db_ != nullptr;
  if (ready_) {
    for (const auto& t : db_->db_) {
      for (const auto& d : t) ready_ = scratch_.reserve(d) && ready_;
    }
  }
}

void Classifier::init(ClassifyState& st, uint8_t transport, uint16_t client_port,
                      uint16_t server_port, bool orientation_guessed) noexcept {
  std::memset(st.hs_hits, 0, sizeof st.hs_hits);
  st.swap_hits[0] = st.swap_hits[1] = 0;
  st.wire[0] = st.wire[1] = 0;
  st.len[0] = st.len[1] = 0;
  st.swap_len[0] = st.swap_len[1] = 0;
  st.pkts[0] = st.pkts[1] = 0;
  st.client_port = client_port;
  st.server_port = server_port;
  st.transport = transport;
  st.flags = orientation_guessed ? kStateGuessed : 0;
  st.verify_pkts = 0;
  st.decision = Decision{};
  counters_.classify_flows.inc();
  if (transport != kTransportTcp && transport != kTransportUdp) {
    counters_.classify_bad_transport.inc();
    decide(st, Decision::kGaveUp, 0, false);
  } else if (db_ == nullptr) {
    decide(st, Decision::kGaveUp, 0, false);
  }
}

void Classifier::scan(ClassifyState& st, int dir) noexcept {
  if (!ready_) {
    counters_.classify_hs_scan_errors.inc();
    return;
  }
  const int t = transport_index(st.transport);
  const match::Database& db = db_->db_[t][dir];
  if (!db) return;
  // Every pattern carries a depth: bytes past the deepest one cannot change the result.
  const uint32_t len = st.len[dir] < db_->scan_len_[t][dir] ? st.len[dir] : db_->scan_len_[t][dir];
  uint64_t bits[2] = {0, 0};
  auto on_match = [&bits](unsigned id) {
    bits[(id >> 6) & 1] |= uint64_t{1} << (id & 63);
    return false;
  };
  counters_.classify_hs_scans.inc();
  const hs_error_t e = match::scan_block(db, scratch_, st.prefix[dir], len, on_match);
  if (e != HS_SUCCESS && e != HS_SCAN_TERMINATED) {
    counters_.classify_hs_scan_errors.inc();
    return;
  }
  const int fresh = std::popcount(bits[0] & ~st.hs_hits[dir][0]) + std::popcount(bits[1] & ~st.hs_hits[dir][1]);
  counters_.classify_hs_matches.inc(static_cast<uint64_t>(fresh));
  st.hs_hits[dir][0] = bits[0];
  st.hs_hits[dir][1] = bits[1];
}

// The swapped view: each prefix scanned with the other direction's database, lazily (only
// flows whose bytes fit nothing as given get here) and only while new bytes are within reach.
void Classifier::scan_swapped(ClassifyState& st) noexcept {
  if (!ready_) return;
  const int t = transport_index(st.transport);
  for (int d = 0; d < 2; ++d) {
    const match::Database& db = db_->db_[t][d ^ 1];
    const uint16_t reach = db_->scan_len_[t][d ^ 1];
    if (!db || st.len[d] == st.swap_len[d] || (st.transport != kTransportUdp && st.swap_len[d] >= reach)) continue;
    const uint32_t len = st.len[d] < reach ? st.len[d] : reach;
    uint64_t bits = 0;
    auto on_match = [&bits](unsigned id) {
      if (id < 64) bits |= uint64_t{1} << id;  // built-in rules only: user rules are directional
      return false;
    };
    counters_.classify_hs_scans.inc();
    const hs_error_t e = match::scan_block(db, scratch_, st.prefix[d], len, on_match);
    if (e != HS_SUCCESS && e != HS_SCAN_TERMINATED) {
      counters_.classify_hs_scan_errors.inc();
      continue;
    }
    st.swap_hits[d] = bits;
    st.swap_len[d] = st.len[d];
  }
}

Decision Classifier::feed(ClassifyState& st, bool from_client, const uint8_t* data, uint32_t len,
                          uint32_t wire_len) noexcept {
  if (st.decision.kind != Decision::kPending) {
    counters_.classify_feed_after_decision.inc();
    return st.decision;
  }
  if (data == nullptr || len == 0) return st.decision;
  const int d = from_client ? 0 : 1;
  if (st.pkts[0] == 0 && st.pkts[1] == 0 && !from_client) st.flags |= kStateServerFirst;
  if (st.pkts[d] < 255) ++st.pkts[d];
  bool grew = false;
  const uint16_t old_len = st.len[d];
  if (st.transport == kTransportUdp) {
    // A datagram is a message: keep the first one per direction, unless it gave nothing to
    // go on, in which case the next one replaces it.
    if (st.len[d] == 0 || !(st.flags & kStateHadCandidate)) {
      if (st.len[d] != 0) counters_.classify_udp_prefix_replaced.inc();
      const uint32_t n = len < kClassifyPrefixBytes ? len : kClassifyPrefixBytes;
      std::memcpy(st.prefix[d], data, n);
      st.len[d] = static_cast<uint16_t>(n);
      st.swap_len[d] = 0;
      st.wire[d] = wire_len > len ? wire_len : len;
      grew = true;
    }
  } else {
    const uint32_t room = kClassifyPrefixBytes - st.len[d];
    if (st.pkts[d] <= kClassifyMaxPackets && room > 0) {
      const uint32_t n = len < room ? len : room;
      std::memcpy(st.prefix[d] + st.len[d], data, n);
      st.len[d] = static_cast<uint16_t>(st.len[d] + n);
      grew = true;
    }
    if (!grew || len > room) counters_.classify_prefix_full.inc();
    st.wire[d] = st.wire[d] > UINT32_MAX - len ? UINT32_MAX : st.wire[d] + len;
  }
  // Rescan only when the new bytes fall within reach of some pattern (depths are <= 512 and
  // mostly < 32): a TCP direction is then scanned once or twice per flow, not per segment.
  const int t = transport_index(st.transport);
  if (grew && (st.transport == kTransportUdp || old_len < db_->scan_len_[t][d])) scan(st, d);
  return evaluate(st, false);
}

Decision Classifier::finish(ClassifyState& st) noexcept {
  if (st.decision.kind != Decision::kPending) return st.decision;
  return evaluate(st, true);
}

// The check of prefix[dir]'s side, in the application's roles (a reversed decision's client is
// prefix[1]).
Check Classifier::check_side(const ClassifyState& st, int dir) const noexcept {
  const ProtoInfo& info = proto_info(st.decision.app_proto);
  const int c = st.decision.reversed ? 1 : 0;
  ProbeInput in;
  in.transport = st.transport;
  in.cli = Bytes{st.prefix[c], st.len[c]};
  in.srv = Bytes{st.prefix[c ^ 1], st.len[c ^ 1]};
  in.cli_wire = st.wire[c];
  in.srv_wire = st.wire[c ^ 1];
  in.server_spoke_first = st.decision.reversed ? !st.server_spoke_first() : st.server_spoke_first();
  in.client_port = c == 0 ? st.client_port : st.server_port;
  in.server_port = c == 0 ? st.server_port : st.client_port;
  return info.verify(in, dir != c, static_cast<AppProto>(st.decision.app_proto));
}

bool Classifier::begin_verify(ClassifyState& st) noexcept {
  if (st.decision.kind != Decision::kDecided || (st.flags & kStateVerify)) return false;
  const ProtoInfo& info = proto_info(st.decision.app_proto);
  const uint8_t tmask = st.transport == kTransportUdp ? kUdp : kTcp;
  if (info.verify == nullptr || !(info.verify_transports & tmask)) return false;
  // A TCP flow picked up midstream: neither side's bytes need start a message.
  if (st.transport == kTransportTcp && (st.flags & kStateGuessed)) return false;
  // The side that had not spoken; over TCP also one that sent less than a header and may
  // still send more within the prefix.
  int dir = st.pkts[0] == 0 ? 0 : st.pkts[1] == 0 ? 1 : -1;
  for (int d = 0; d < 2 && dir < 0; ++d) {
    if (st.transport == kTransportTcp && st.pkts[d] < kClassifyMaxPackets &&
        st.len[d] < kClassifyPrefixBytes && check_side(st, d) == Check::kNeedMore) {
      dir = d;
    }
  }
  if (dir < 0) return false;
  st.flags |= dir == 0 ? kStateVerify0 : kStateVerify1;
  st.verify_pkts = 0;
  counters_.classify_verify_waits.inc();
  return true;
}

Verified Classifier::verify(ClassifyState& st, bool from_client, const uint8_t* data, uint32_t len,
                            uint32_t wire_len) noexcept {
  if (!(st.flags & kStateVerify)) return Verified::kOk;  // nothing armed: nothing to check
  if (st.verify_pkts < 255) ++st.verify_pkts;
  const int d = from_client ? 0 : 1;
  const uint8_t bit = d == 0 ? kStateVerify0 : kStateVerify1;
  if ((st.flags & bit) && data != nullptr && len != 0) {
    if (st.pkts[d] < 255) ++st.pkts[d];
    bool room = true;
    if (st.transport == kTransportUdp) {
      // The side's first datagram is its first message; one is all there is to judge.
      const uint32_t n = len < kClassifyPrefixBytes ? len : kClassifyPrefixBytes;
      std::memcpy(st.prefix[d], data, n);
      st.len[d] = static_cast<uint16_t>(n);
      st.wire[d] = wire_len > len ? wire_len : len;
      room = false;
    } else {
      const uint32_t free = kClassifyPrefixBytes - st.len[d];
      if (st.pkts[d] <= kClassifyMaxPackets && free > 0) {
        const uint32_t n = len < free ? len : free;
        std::memcpy(st.prefix[d] + st.len[d], data, n);
        st.len[d] = static_cast<uint16_t>(st.len[d] + n);
      }
      st.wire[d] = st.wire[d] > UINT32_MAX - len ? UINT32_MAX : st.wire[d] + len;
      room = st.pkts[d] < kClassifyMaxPackets && st.len[d] < kClassifyPrefixBytes;
    }
    switch (check_side(st, d)) {
      case Check::kOk:
        st.flags &= static_cast<uint8_t>(~kStateVerify);
        counters_.classify_verified.inc();
        return Verified::kOk;
      case Check::kViolation:
        st.flags &= static_cast<uint8_t>(~kStateVerify);
        counters_.classify_violations.inc();
        return Verified::kViolation;
      case Check::kNeedMore:
        if (!room) return verify_stop(st);
        break;
    }
  }
  if (st.verify_pkts >= kClassifyVerifyMaxPackets) return verify_stop(st);
  return Verified::kPending;
}

Verified Classifier::verify_stop(ClassifyState& st) noexcept {
  if (!(st.flags & kStateVerify)) return Verified::kOk;
  st.flags &= static_cast<uint8_t>(~kStateVerify);
  counters_.classify_verify_gave_up.inc();
  return Verified::kGaveUp;
}

Decision Classifier::decide(ClassifyState& st, Decision::Kind kind, uint16_t proto, bool certain) noexcept {
  st.decision.kind = kind;
  st.decision.app_proto = kind == Decision::kDecided ? proto : 0;
  st.decision.certain = kind == Decision::kDecided && certain;
  st.decision.reversed = false;
  if (kind == Decision::kDecided) {
    counters_.classify_decided.inc();
    if (!certain) counters_.classify_decided_unsure.inc();
  } else {
    counters_.classify_gave_up.inc();
  }
  return st.decision;
}

Decision Classifier::evaluate(ClassifyState& st, bool final) noexcept {
  // A user signature is the operator's word: it decides at once (docs/signatures.md).
  const uint64_t user = st.hs_hits[0][1] | st.hs_hits[1][1];
  if (user != 0) {
    counters_.classify_user_signature_matches.inc();
    return decide(st, Decision::kDecided, db_->user_rule_proto(static_cast<size_t>(std::countr_zero(user))), true);
  }

  const int t = transport_index(st.transport);
  const uint8_t tmask = t == 1 ? kUdp : kTcp;
  const bool server_first = st.flags & kStateServerFirst;

  ProbeInput in;
  in.transport = st.transport;
  uint64_t certain = 0, unsure = 0;
  auto run = [&](uint64_t ids) {
    for (; ids != 0; ids &= ids - 1) {
      const unsigned id = static_cast<unsigned>(std::countr_zero(ids));
      const ProtoInfo& info = proto_info(static_cast<uint16_t>(id));
      if (!(info.transports & tmask) || info.probe == nullptr) continue;
      const Verdict v = info.probe(in, static_cast<AppProto>(id));
      if (v == Verdict::kCertain) {
        certain |= uint64_t{1} << id;
        counters_.classify_probe_certain.inc();
      } else if (v == Verdict::kUnsure) {
        unsure |= uint64_t{1} << id;
        counters_.classify_probe_unsure.inc();
      }
    }
  };
  // One pass over the probes with side `c` as the client: candidates first, then the
  // structural probes unless a candidate was Certain.
  auto pass = [&](int c, uint64_t hits) {
    in.cli = Bytes{st.prefix[c], st.len[c]};
    in.srv = Bytes{st.prefix[c ^ 1], st.len[c ^ 1]};
    in.cli_wire = st.wire[c];
    in.srv_wire = st.wire[c ^ 1];
    in.server_spoke_first = c == 0 ? server_first : (!server_first && st.pkts[0] != 0);
    in.client_port = c == 0 ? st.client_port : st.server_port;
    in.server_port = c == 0 ? st.server_port : st.client_port;
    hits &= ~uint64_t{1};
    run(hits);
    if (certain == 0) run(db_->structural_[t] & ~hits);
  };

  const auto done = [&](int dir) {
    return st.pkts[dir] >= kClassifyMaxPackets || st.len[dir] >= kClassifyPrefixBytes;
  };
  const bool exhausted = (done(0) && done(1)) || st.pkts[0] + st.pkts[1] >= kClassifyMaxTotalPackets;
  const bool both_spoke = st.pkts[0] > 0 && st.pkts[1] > 0;
  const bool last_chance = final || exhausted;

  pass(0, st.hs_hits[0][0] | st.hs_hits[1][0]);
  bool reversed = false;
  // Nothing fits: the roles may be the other way round. With the orientation guessed (no
  // handshake) that is a midstream pickup, a port-based guess, an answer whose question was
  // not seen: tried once the other side had its say, or when only the "server" has spoken.
  // After a handshake the application's roles can still be reversed (a device that dials
  // out and then answers, a reverse proxy): tried once, at the end.
  const bool guessed = st.flags & kStateGuessed;
  if (certain == 0 && unsure == 0 && (last_chance || (guessed && (both_spoke || st.pkts[0] == 0)))) {
    scan_swapped(st);
    pass(1, st.swap_hits[0] | st.swap_hits[1]);
    reversed = certain != 0 || unsure != 0;
  }
  if (unsure != 0) st.flags |= kStateHadCandidate;
  const uint16_t server_port = reversed ? st.client_port : st.server_port;

  auto port_pick = [&](uint64_t set) -> int {
    int found = -1;
    for (uint64_t ids = set; ids != 0; ids &= ids - 1) {
      const int id = std::countr_zero(ids);
      for (uint16_t p : proto_info(static_cast<uint16_t>(id)).ports) {
        if (p != 0 && p == server_port) {
          if (found >= 0) return -1;  // two candidates on this port: no help
          found = id;
          break;
        }
      }
    }
    return found;
  };
  auto decided = [&](int id, bool is_certain) {
    decide(st, Decision::kDecided, static_cast<uint16_t>(id), is_certain);
    if (reversed) {
      st.decision.reversed = true;
      counters_.classify_reversed.inc();
    }
    return st.decision;
  };

  if (certain != 0) {
    int id = std::countr_zero(certain);
    if (std::popcount(certain) > 1) {
      counters_.classify_conflicts.inc();
      const int by_port = port_pick(certain);
      if (by_port >= 0) id = by_port;
    }
    return decided(id, true);
  }

  if (unsure != 0 && (last_chance || both_spoke)) {
    if (std::popcount(unsure) == 1) return decided(std::countr_zero(unsure), false);
    // The server port breaks a tie between Unsure candidates, and only that.
    const int by_port = port_pick(unsure);
    if (by_port >= 0) {
      counters_.classify_tie_broken_by_port.inc();
      return decided(by_port, false);
    }
    if (last_chance) {
      counters_.classify_ambiguous.inc();
      return decide(st, Decision::kGaveUp, 0, false);
    }
  }
  if (last_chance) return decide(st, Decision::kGaveUp, 0, false);
  return st.decision;
}

}  // namespace flowscribe::dissect
