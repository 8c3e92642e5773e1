#pragma once
// Protocol probes: plain functions over the first bytes of each direction. A probe confirms a
// Hyperscan candidate by checking structure (not just the literal), or recognises a binary
// protocol that has no good literal. The set is closed: one table row per built-in protocol,
// dispatched through a function pointer (no virtuals). Probes never use the ports to say
// Certain: the classifier uses ports only to break ties between Unsure results.
#include <cstdint>
#include <new>
#include <type_traits>

#include "common/app_proto.h"
#include "dissectors/classify/reader.h"

namespace flowscribe::dissect {

enum class Verdict : uint8_t { kNotMine, kUnsure, kCertain };

constexpr uint8_t kTransportTcp = 6;
constexpr uint8_t kTransportUdp = 17;

struct ProbeInput {
  Bytes cli;                 // client prefix (TCP: first bytes in order; UDP: one datagram)
  Bytes srv;                 // server prefix, same rules
  uint32_t cli_wire = 0;     // UDP: length of the buffered datagram on the wire (may exceed
  uint32_t srv_wire = 0;     //   the prefix); TCP: payload bytes seen so far (saturating)
  uint8_t transport = 0;     // kTransportTcp / kTransportUdp
  bool server_spoke_first = false;
  uint16_t client_port = 0;  // for information only (see above)
  uint16_t server_port = 0;

  bool tcp() const noexcept { return transport == kTransportTcp; }
  bool udp() const noexcept { return transport == kTransportUdp; }
  // UDP: the whole datagram is in the prefix.
  bool cli_whole() const noexcept { return cli.n == cli_wire; }
  bool srv_whole() const noexcept { return srv.n == srv_wire; }

  // One probe function serves several protocols (the DNS family: DNS, mDNS, LLMNR, NBNS; the
  // mail family: FTP, SMTP, POP3, IMAP), and the classifier asks it once per protocol over the
  // same bytes. What it parsed is kept here for the next ask, keyed by the function and by
  // the input it was parsed from, so a changed input (the other pass's roles, a test reusing
  // the object) is parsed afresh. Not zeroed: only `memo_.owner` is read before a store.
  template <class T>
  const T* memo(const void* owner) const noexcept {
    static_assert(sizeof(T) <= sizeof(Memo::bytes) && alignof(T) <= 8);
    const Memo& m = memo_;
    if (m.owner != owner || m.cli.p != cli.p || m.cli.n != cli.n || m.srv.p != srv.p || m.srv.n != srv.n ||
        m.cli_wire != cli_wire || m.srv_wire != srv_wire || m.transport != transport) {
      return nullptr;
    }
    return std::launder(reinterpret_cast<const T*>(m.bytes));
  }
  template <class T>
  const T& memo_store(const void* owner, const T& v) const noexcept {
    static_assert(sizeof(T) <= sizeof(Memo::bytes) && alignof(T) <= 8);
    static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);
    memo_.owner = owner;
    memo_.cli = cli;
    memo_.srv = srv;
    memo_.cli_wire = cli_wire;
    memo_.srv_wire = srv_wire;
    memo_.transport = transport;
    return *new (memo_.bytes) T(v);
  }

 private:
  struct alignas(8) Memo {
    const void* owner = nullptr;
    Bytes cli, srv;
    uint32_t cli_wire = 0, srv_wire = 0;
    uint8_t transport = 0;
    alignas(8) unsigned char bytes[64];
  };
  mutable Memo memo_;
};

using ProbeFn = Verdict (*)(const ProbeInput&, AppProto self);

// After a decision made on one side's bytes alone, the other side's first message is checked
// (docs/protocols.md, "Violations"): is it a valid first message from that side of `self`?
// `side_is_server` says which prefix of `in` (cli or srv, already in the application's roles)
// is judged; the other is there for context. A check says kViolation only when no valid
// message of that side could start with these bytes, and kNeedMore while fewer than a header
// (or a line) are there.
enum class Check : uint8_t { kNeedMore, kOk, kViolation };
using VerifyFn = Check (*)(const ProbeInput& in, bool side_is_server, AppProto self);

enum TransportMask : uint8_t { kTcp = 1, kUdp = 2, kBoth = 3 };

struct ProtoInfo {
  ProbeFn probe = nullptr;
  uint8_t transports = 0;   // TransportMask
  bool structural = false;  // probed even without a signature match
  uint16_t ports[4] = {};   // usual server ports: tie-breaker between Unsure results only
  VerifyFn verify = nullptr;    // the other side's first message, where a sound check exists
  uint8_t verify_transports = 0;  // TransportMask: where `verify` applies
};

// Indexed by AppProto id; row 0 (unknown) has no probe.
const ProtoInfo& proto_info(uint16_t id) noexcept;

}  // namespace flowscribe::dissect
