#include "dissectors/openvpn/openvpn.h"

#include <cstddef>
#include <cstring>
#include <new>

#include "dissectors/tls/tls.h"

namespace flowscribe::dissect {
namespace {

FS_DEFINE_COUNTERS(OpenvpnCounters, FS_OPENVPN_COUNTERS);

// Opcodes (OpenVPN ssl_pkt.h).
constexpr uint8_t kHardResetClientV1 = 1, kHardResetServerV1 = 2,
                  kControlV1 = 4, kAckV1 = 5, kDataV1 = 6, kHardResetClientV2 = 7,
                  kHardResetServerV2 = 8, kDataV2 = 9, kHardResetClientV3 = 10, kControlWkcV1 = 11;

constexpr uint32_t kMaxPacket = 2048;   // TCP packet buffer (control packets are ~1300 bytes)
constexpr uint32_t kMaxHeld = 1600;     // payload of one held (out-of-order) packet
constexpr uint32_t kHeldSlots = 4;      // held packets per direction
constexpr uint32_t kWindow = 16;        // packet-ids ahead of the expected one that may be held
constexpr uint32_t kMaxAcks = 8;        // RELIABLE_ACK_SIZE
constexpr uint8_t kMaxUnframed = 4;     // unframeable packets before the flow is given up
constexpr uint8_t kHmacSizes[] = {0, 16, 20, 32, 64};

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

struct Held {
  uint32_t pid;
  uint16_t len;
  bool used;
  uint8_t data[kMaxHeld];
};

struct Dir {
  // TCP framing: the 2-byte length, then the packet.
  uint8_t len_bytes[2];
  uint8_t len_have;
  uint32_t pkt_len;   // length of the packet being collected (0: reading the length)
  uint32_t pkt_have;  // bytes of it seen (stored up to kMaxPacket)
  // Ordering of message packet-ids.
  bool synced;        // next_pid is known
  uint32_t next_pid;
  bool sid_known;
  uint8_t sid[8];     // this side's session id
  Held held[kHeldSlots];
  uint8_t pkt[kMaxPacket];
};

struct State {
  uint8_t hmac;        // tls-auth HMAC length once locked
  bool locked;         // hmac is known for the flow
  bool tls_live;       // the TLS state has begun and was not violated
  bool done;
  bool framed_any;
  uint8_t unframed;
  Dir dir[2];
};

constexpr uint32_t align64(uint32_t n) { return (n + 63u) & ~63u; }

// The parsed header of one control packet.
struct Parsed {
  uint32_t pid;          // message packet-id (not for P_ACK_V1)
  uint32_t payload_off;  // TLS payload start (P_CONTROL_V1)
};

class OpenvpnDissector final : public Dissector {
 public:
  OpenvpnDissector() : tls_(make_tls_dissector()) {}

  std::string_view name() const noexcept override { return "openvpn"; }
  uint32_t state_bytes() const noexcept override {
    return align64(sizeof(State)) + tls_->state_bytes();
  }
  // 256 handshakes at once per worker: 256 x ~35 KiB = ~9 MiB.
  uint32_t default_states() const noexcept override { return 256; }

  void begin_flow(void* st, Ctx& c, uint8_t) noexcept override {
    State& s = *static_cast<State*>(st);
    s.hmac = 0;
    s.locked = false;
    s.done = false;
    s.framed_any = false;
    s.unframed = 0;
    for (Dir& d : s.dir) {
      d.len_have = 0;
      d.pkt_len = 0;
      d.pkt_have = 0;
      d.synced = false;
      d.next_pid = 0;
      d.sid_known = false;
      for (Held& h : d.held) h.used = false;
    }
    cnt_.openvpn_flows.inc();
    // The TLS inside the control channel is a byte stream whatever OpenVPN runs over.
    tls_->begin_flow(tls_slot(st), c, 6);
    s.tls_live = true;
  }

  Progress data(void* st, Ctx& c, bool from_client, const uint8_t* p, uint32_t len,
                uint32_t wire_len) noexcept override {
    State& s = *static_cast<State*>(st);
    if (s.done) return Progress::kDone;
    const int di = from_client ? 0 : 1;
    if (c.flow.key.proto == 17) {
      if (wire_len > len) {
        cnt_.openvpn_cut.inc();
        return Progress::kMore;
      }
      return packet(s, st, c, di, p, len);
    }
    return stream(s, st, c, di, p, len);
  }

  Progress gap(void* st, Ctx&, bool, uint32_t) noexcept override {
    State& s = *static_cast<State*>(st);
    if (s.done) return Progress::kDone;
    cnt_.openvpn_gap.inc();
    s.done = true;
    return Progress::kDone;
  }

  void end_flow(void* st, Ctx& c) noexcept override {
    State& s = *static_cast<State*>(st);
    if (s.tls_live) {
      s.tls_live = false;
      tls_->end_flow(tls_slot(st), c);
    }
    s.done = true;
  }

  // Its own counters, then the embedded TLS dissector's under their tls_* names: the stats
  // add them to the TLS dissector's (sensor/stats.cpp merges counters of the same name), so
  // a certificate or an anomaly inside OpenVPN is counted like any other.
  void for_each_counter(CounterFn f) const override {
    cnt_.for_each(f);
    tls_->for_each_counter(f);
  }

 private:
  static void* tls_slot(void* st) {
    return static_cast<uint8_t*>(st) + align64(sizeof(State));
  }

  // TCP: collects length-prefixed packets.
  Progress stream(State& s, void* st, Ctx& c, int di, const uint8_t* p, uint32_t len) noexcept {
    Dir& d = s.dir[di];
    uint32_t i = 0;
    while (i < len) {
      if (d.pkt_len == 0) {
        d.len_bytes[d.len_have++] = p[i++];
        if (d.len_have < 2) continue;
        d.len_have = 0;
        d.pkt_len = (uint32_t{d.len_bytes[0]} << 8) | d.len_bytes[1];
        d.pkt_have = 0;
        if (d.pkt_len == 0) return bad(s);
        continue;
      }
      // The first byte decides early: data packets end the handshake.
      if (d.pkt_have == 0) {
        const uint8_t op = p[i] >> 3;
        if (op == kDataV1 || op == kDataV2) return data_start(s);
        if (!known_opcode(op) || d.pkt_len < 9) return bad(s);
      }
      const uint32_t want = d.pkt_len - d.pkt_have;
      const uint32_t take = len - i < want ? len - i : want;
      if (d.pkt_have < kMaxPacket) {
        const uint32_t room = kMaxPacket - d.pkt_have;
        std::memcpy(d.pkt + d.pkt_have, p + i, take < room ? take : room);
      }
      d.pkt_have += take;
      i += take;
      if (d.pkt_have < d.pkt_len) continue;
      const uint32_t n = d.pkt_len;
      d.pkt_len = 0;
      d.pkt_have = 0;
      Progress pr;
      if (n > kMaxPacket) {
        cnt_.openvpn_oversize.inc();
        pr = tls_gap(s, st, c, di);
      } else {
        pr = packet(s, st, c, di, d.pkt, n);
      }
      if (pr != Progress::kMore) return pr;
    }
    return Progress::kMore;
  }

  static bool known_opcode(uint8_t op) { return op >= kHardResetClientV1 && op <= kControlWkcV1; }

  Progress bad(State& s) noexcept {
    cnt_.openvpn_bad_opcode.inc();
    s.done = true;
    // The classifier may have been wrong about a flow whose first packet does not frame.
    return s.framed_any ? Progress::kDone : Progress::kViolation;
  }
  Progress data_start(State& s) noexcept {
    cnt_.openvpn_data_start.inc();
    s.done = true;
    return Progress::kDone;
  }
  Progress stop(State& s, Progress pr) noexcept {
    s.done = true;
    return pr;
  }

  // Tries the layout with an HMAC of `h` bytes; true when it lines up.
  bool try_layout(const State& s, int di, uint8_t op, const uint8_t* p, uint32_t n, uint32_t h,
                  Parsed& out) const noexcept {
    uint32_t off = 9 + h;
    if (h != 0) {
      off += 8;  // replay packet-id and time
      if (n < off) return false;
      if (be32(p + 9 + h) == 0) return false;  // tls-auth packet-ids start at 1
    }
    if (off >= n) return false;
    const uint32_t acks = p[off++];
    if (acks > kMaxAcks) return false;
    if (off + acks * 4 > n) return false;
    off += acks * 4;
    if (acks > 0) {
      if (off + 8 > n) return false;
      const Dir& peer = s.dir[di ^ 1];
      if (peer.sid_known && std::memcmp(p + off, peer.sid, 8) != 0) return false;
      off += 8;
    }
    if (op == kAckV1) {
      if (acks == 0 || off != n) return false;
      out.pid = 0;
      out.payload_off = n;
      return true;
    }
    if (off + 4 > n) return false;
    const uint32_t pid = be32(p + off);
    off += 4;
    out.pid = pid;
    out.payload_off = off;
    const Dir& d = s.dir[di];
    if (op == kHardResetClientV1 || op == kHardResetServerV1 || op == kHardResetClientV2 ||
        op == kHardResetServerV2) {
      return pid == 0;
    }
    if (op == kControlV1) {
      if (off >= n) return false;  // a control packet without payload is not sent
      if (d.synced) {
        if (pid + 64 < d.next_pid || pid > d.next_pid + kWindow) return false;
        // The first TLS bytes of a direction open a record.
        if (pid == d.next_pid && pid <= 1) return tls_record_start(p + off, n - off);
        return true;
      }
      if (pid > 1024) return false;
      return pid <= 1 ? tls_record_start(p + off, n - off) : true;
    }
    return true;  // soft reset: no payload read
  }

  static bool tls_record_start(const uint8_t* p, uint32_t n) {
    if (n < 1 || p[0] < 20 || p[0] > 23) return false;
    return n < 2 || p[1] == 3 || p[1] == 2;  // SSLv3/TLS record version 3.x
  }

  // One OpenVPN packet of direction di.
  Progress packet(State& s, void* st, Ctx& c, int di, const uint8_t* p, uint32_t n) noexcept {
    if (n < 1) return Progress::kMore;
    const uint8_t op = p[0] >> 3;
    if (op == kDataV1 || op == kDataV2) return data_start(s);
    if (!known_opcode(op) || n < 9) return bad(s);
    if (op == kHardResetClientV3 || op == kControlWkcV1) {
      cnt_.openvpn_tls_crypt_v2.inc();
      return stop(s, Progress::kDone);
    }
    s.framed_any = true;
    Dir& d = s.dir[di];
    Parsed pk{};
    bool ok = false;
    if (s.locked) {
      ok = try_layout(s, di, op, p, n, s.hmac, pk);
    } else {
      for (uint8_t h : kHmacSizes) {
        if (try_layout(s, di, op, p, n, h, pk)) {
          ok = true;
          s.locked = true;
          s.hmac = h;
          if (h != 0) cnt_.openvpn_hmac_flows.inc();
          break;
        }
      }
    }
    if (!ok) {
      cnt_.openvpn_unframed.inc();
      if (++s.unframed >= kMaxUnframed) {
        cnt_.openvpn_unreadable.inc();
        return stop(s, Progress::kDone);
      }
      return Progress::kMore;
    }
    cnt_.openvpn_control_packets.inc();
    if (!d.sid_known) {
      std::memcpy(d.sid, p + 1, 8);
      d.sid_known = true;
    }
    if (op == kAckV1) return Progress::kMore;
    if (op != kControlV1) {
      // Resets take their packet-id (0 for a hard reset) in the same sequence.
      if (!d.synced || pk.pid == d.next_pid) {
        d.synced = true;
        d.next_pid = pk.pid + 1;
      }
      return Progress::kMore;
    }
    return order(s, st, c, di, pk.pid, p + pk.payload_off, n - pk.payload_off);
  }

  // Delivers P_CONTROL_V1 payloads of one direction in packet-id order.
  Progress order(State& s, void* st, Ctx& c, int di, uint32_t pid, const uint8_t* p,
                 uint32_t n) noexcept {
    Dir& d = s.dir[di];
    if (!d.synced) {
      // A session's control packets are numbered from 1 (its hard reset took 0): early ones
      // wait for the first; a capture that starts later starts where it starts.
      d.synced = true;
      d.next_pid = pid <= kWindow ? 1 : pid;
    }
    if (pid < d.next_pid) {
      cnt_.openvpn_retransmits.inc();
      return Progress::kMore;
    }
    if (pid == d.next_pid) {
      Progress pr = deliver(s, st, c, di, p, n);
      d.next_pid = pid + 1;
      while (pr == Progress::kMore) {
        Held* h = find_held(d, d.next_pid);
        if (h == nullptr) break;
        h->used = false;
        pr = deliver(s, st, c, di, h->data, h->len);
        ++d.next_pid;
      }
      return pr;
    }
    // Ahead of the expected packet-id: hold it if there is room.
    if (find_held(d, pid) != nullptr) {
      cnt_.openvpn_retransmits.inc();
      return Progress::kMore;
    }
    if (pid - d.next_pid <= kWindow && n <= kMaxHeld) {
      for (Held& h : d.held) {
        if (h.used) continue;
        h.used = true;
        h.pid = pid;
        h.len = static_cast<uint16_t>(n);
        std::memcpy(h.data, p, n);
        cnt_.openvpn_reordered.inc();
        return Progress::kMore;
      }
    }
    // No room: the missing packet-ids are lost. The TLS side of this direction gets a gap (it
    // stops reading that direction), so what was held and this packet are dropped.
    cnt_.openvpn_lost.inc();
    Progress pr = tls_gap(s, st, c, di);
    if (pr != Progress::kMore) return pr;
    for (Held& h : d.held) h.used = false;
    d.next_pid = pid + 1;
    return Progress::kMore;
  }

  static Held* find_held(Dir& d, uint32_t pid) {
    for (Held& h : d.held) {
      if (h.used && h.pid == pid) return &h;
    }
    return nullptr;
  }

  Progress deliver(State& s, void* st, Ctx& c, int di, const uint8_t* p, uint32_t n) noexcept {
    if (!s.tls_live || n == 0) return Progress::kMore;
    cnt_.openvpn_tls_bytes.inc(n);
    return tls_result(s, tls_->data(tls_slot(st), c, di == 0, p, n, n));
  }

  Progress tls_gap(State& s, void* st, Ctx& c, int di) noexcept {
    if (!s.tls_live) return Progress::kMore;
    return tls_result(s, tls_->gap(tls_slot(st), c, di == 0, 0));
  }

  Progress tls_result(State& s, Progress pr) noexcept {
    switch (pr) {
      case Progress::kDone:
        cnt_.openvpn_tls_done.inc();
        return stop(s, Progress::kDone);
      case Progress::kViolation:
        // Not TLS: nothing of it is written (end_flow is not called after a violation); the
        // flow stays OpenVPN.
        cnt_.openvpn_tls_violation.inc();
        s.tls_live = false;
        return stop(s, Progress::kDone);
      default:
        return Progress::kMore;
    }
  }

  std::unique_ptr<Dissector> tls_;
  OpenvpnCounters cnt_{};
};

}  // namespace

std::unique_ptr<Dissector> make_openvpn_dissector() { return std::make_unique<OpenvpnDissector>(); }

}  // namespace flowscribe::dissect
