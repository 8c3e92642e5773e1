#pragma once
// The fixed-size record a worker hands to the emitter core. Plain data: no pointers, no
// strings to format; the emitter turns it into text. The layout is the contract between the
// data plane and emit/: see docs/records.md for what each record type means on the wire.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common/net.h"

namespace flowscribe::emit {

// MSGID of each record type (RFC 5424 section 6.2.7), documented in docs/records.md.
enum class RecordType : uint8_t {
  kSession = 0,        // MSGID "session": a session ended (the one record per session)
  kSessionUpdate = 1,  // MSGID "session-update": interim record of a long-lived session
  // Transaction records: one per application-level exchange inside a session (the session's
  // `sid` ties them to it). They carry the flow's identity (addresses, ports, proto) but not
  // its counters, and their details in extension fields.
  kHttp = 2,           // MSGID "http": one request/response pair
  kTls = 3,            // MSGID "tls": one handshake (client hello, server hello, certificate summary)
  kX509 = 4,           // MSGID "x509": one certificate of a chain the server showed
  kDns = 5,            // MSGID "dns": one query and its response (or the lack of one)
  kSocks = 6,          // MSGID "socks": one SOCKS request and its reply (or the lack of one)
};
constexpr uint8_t kRecordTypeCount = 7;
constexpr bool is_transaction(RecordType t) noexcept {
  return t != RecordType::kSession && t != RecordType::kSessionUpdate;
}
const char* record_msgid(RecordType t) noexcept;

// Where a session runs relative to --home-net (PVS-style direction).
enum class Locality : uint8_t {
  kNone = 0,      // --home-net not given: field omitted
  kInternal = 1,  // client and server both inside
  kInbound = 2,   // client outside, server inside
  kOutbound = 3,  // client inside, server outside
  kExternal = 4,  // neither inside (transit, or a mis-set --home-net)
};

// Extension fields appended by dissectors: a list of (field id, length, bytes) entries in
// `ext`. The emitter looks the id up in its schema (emit/schema.h) for the SD element and
// parameter name. Bytes are raw from the wire: the formatter escapes them.
struct ExtHeader {
  uint16_t field;
  uint16_t len;
};

constexpr size_t kRecordSize = 2048;

// A record whose fields do not fit one slot's ext area (an x509 record with a long SAN list)
// is followed by up to kMaxContinuations continuation slots from the same pool
// (docs/architecture.md, "Records"): `more` in the first slot says how many. A continuation
// slot's header is ignored except its own `ext_len`; its `ext` holds more whole entries. The
// worker enqueues a record and its continuations with one bulk enqueue, so the emitter always
// finds the whole chain in the ring, and formats it as one line.
constexpr uint8_t kMaxContinuations = 3;

struct alignas(64) Record {
  RecordType type;
  uint8_t transport;     // IpProto
  uint8_t ip_version;    // 4 / 6
  uint8_t end_reason;    // flow::EndReason value (0 for interim records)
  uint8_t worker;        // worker index
  uint8_t direction_basis;  // flow::DirectionBasis: how the client was decided
  uint16_t app_proto;    // application protocol id, 0 = unknown
  uint16_t vlan;         // outer VLAN, 0 = none
  uint16_t ext_len;      // bytes used in ext
  uint8_t tcp_flags[2];  // OR of TCP flags, [0] client->server, [1] server->client
  uint16_t client_port;
  uint16_t server_port;
  uint64_t sid;          // session id: worker in bits 56..63, per-worker sequence below
  Nanos ts_ns;           // when the record's event happened (packet time): RFC 5424 TIMESTAMP
  Nanos start_ns;        // session start (first packet)
  Nanos end_ns;          // last packet seen (session end for kSession)
  uint64_t pkts[2];      // [0] client->server, [1] server->client, since session start
  uint64_t bytes[2];     // IP bytes, same convention
  IpAddr client;
  IpAddr server;
  uint8_t locality;      // Locality of client -> server against --home-net (0 = not configured)
  uint8_t more;          // continuation slots after this one (0..kMaxContinuations), set by
                         // the worker at commit; meaningless in a continuation slot
  uint8_t reserved_[6];
  uint8_t ext[kRecordSize - 128];

  // Appends one extension field; returns false (and appends nothing) if it does not fit.
  bool add_field(uint16_t field, const void* data, size_t len) noexcept {
    if (len > 0xffff || sizeof(ExtHeader) + len > sizeof(ext) - ext_len) return false;
    ExtHeader h{field, static_cast<uint16_t>(len)};
    std::memcpy(ext + ext_len, &h, sizeof h);
    if (len) std::memcpy(ext + ext_len + sizeof h, data, len);
    ext_len = static_cast<uint16_t>(ext_len + sizeof h + len);
    return true;
  }
};
static_assert(sizeof(Record) == kRecordSize, "records are fixed-size slots");
static_assert(offsetof(Record, ext) == 128);

}  // namespace flowscribe::emit
