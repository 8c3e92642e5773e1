#pragma once
// Application protocol ids: the contract between dissectors (who set them) and the emitter
// (who names them in `proto=`). Ids are stable once released: append, never renumber.
// How each one is recognised: docs/protocols.md.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace flowscribe {

// X(enum_name, id, "wire name as in proto=")
#define FS_APP_PROTOS(X)         \
  X(kUnknown, 0, "unknown")      \
  X(kHttp, 1, "http")            \
  X(kTls, 2, "tls")              \
  X(kDns, 3, "dns")              \
  X(kDtls, 4, "dtls")            \
  X(kSsh, 5, "ssh")              \
  X(kRdp, 6, "rdp")              \
  X(kVnc, 7, "vnc")              \
  X(kTelnet, 8, "telnet")        \
  X(kFtp, 9, "ftp")              \
  X(kSmb, 10, "smb")             \
  X(kNfs, 11, "nfs")             \
  X(kRpc, 12, "rpc")             \
  X(kMdns, 13, "mdns")           \
  X(kLlmnr, 14, "llmnr")         \
  X(kNbns, 15, "nbns")           \
  X(kSmtp, 16, "smtp")           \
  X(kPop3, 17, "pop3")           \
  X(kImap, 18, "imap")           \
  X(kMysql, 19, "mysql")         \
  X(kPostgresql, 20, "postgresql") \
  X(kTds, 21, "tds")             \
  X(kLdap, 22, "ldap")           \
  X(kKerberos, 23, "kerberos")   \
  X(kDhcp, 24, "dhcp")           \
  X(kDhcpv6, 25, "dhcpv6")       \
  X(kNtp, 26, "ntp")             \
  X(kSnmp, 27, "snmp")           \
  X(kSip, 28, "sip")             \
  X(kQuic, 29, "quic")           \
  X(kIrc, 30, "irc")             \
  X(kXmpp, 31, "xmpp")           \
  X(kBittorrent, 32, "bittorrent") \
  X(kSocks, 33, "socks")         \
  X(kRedis, 34, "redis")         \
  X(kMongodb, 35, "mongodb")     \
  X(kRtsp, 36, "rtsp")           \
  X(kSyslog, 37, "syslog")       \
  X(kTftp, 38, "tftp")           \
  X(kMqtt, 39, "mqtt")           \
  X(kMemcached, 40, "memcached") \
  X(kSsdp, 41, "ssdp")           \
  X(kStun, 42, "stun")           \
  X(kOpenvpn, 43, "openvpn")     \
  X(kWireguard, 44, "wireguard") \
  X(kModbus, 45, "modbus")       \
  X(kDnp3, 46, "dnp3")           \
  X(kBgp, 47, "bgp")             \
  X(kAmqp, 48, "amqp")           \
  X(kRsync, 49, "rsync")         \
  X(kHttp2, 50, "http2")         \
  X(kGit, 51, "git")             \
  X(kIke, 52, "ike")             \
  X(kOpcua, 53, "opcua")         \
  X(kAdb, 54, "adb")

enum class AppProto : uint16_t {
#define FS_APP_PROTO_ENUM_(e, id, name) e = id,
  FS_APP_PROTOS(FS_APP_PROTO_ENUM_)
#undef FS_APP_PROTO_ENUM_
};

// One past the largest built-in id (ids are dense from 0).
constexpr uint16_t kAppProtoBuiltinEnd = 0
#define FS_APP_PROTO_COUNT_(e, id, name) +1
    FS_APP_PROTOS(FS_APP_PROTO_COUNT_)
#undef FS_APP_PROTO_COUNT_
    ;

// User-defined protocols (--signatures) get ids from this dynamic range, in the order their
// names are first registered. The range is far from the built-ins so both can grow.
constexpr uint16_t kUserAppProtoBase = 1024;
constexpr uint16_t kMaxUserAppProtos = 64;
constexpr size_t kMaxAppProtoNameLen = 32;

// Lowercase wire name of a built-in id; "unknown" for ids this build does not know.
constexpr const char* builtin_app_proto_name(uint16_t id) noexcept {
  switch (id) {
#define FS_APP_PROTO_CASE_(e, id, name) \
  case id:                              \
    return name;
    FS_APP_PROTOS(FS_APP_PROTO_CASE_)
#undef FS_APP_PROTO_CASE_
    default:
      return "unknown";
  }
}

// Names the emitter may print unescaped: 1-32 chars of [a-z0-9._-].
constexpr bool is_valid_app_proto_name(std::string_view s) noexcept {
  if (s.empty() || s.size() > kMaxAppProtoNameLen) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

namespace app_proto_internal {
// Filled at start-up (compile_classifier) before workers start, read-only afterwards. The
// count is published with release/acquire so a reader never sees a half-written name.
struct UserNames {
  char name[kMaxUserAppProtos][kMaxAppProtoNameLen + 1];
  std::atomic<uint16_t> count;
};
inline UserNames g_user_names{};
}  // namespace app_proto_internal

// Wire name of any id, built-in or registered user protocol; "unknown" otherwise.
inline const char* app_proto_name(uint16_t id) noexcept {
  if (id >= kUserAppProtoBase) {
    auto& u = app_proto_internal::g_user_names;
    const uint32_t i = id - kUserAppProtoBase;
    return i < u.count.load(std::memory_order_acquire) ? u.name[i] : "unknown";
  }
  return builtin_app_proto_name(id);
}

// Id of a wire name (built-in or registered user protocol), or 0 if unknown. Start-up only.
inline uint16_t find_app_proto(std::string_view name) noexcept {
  for (uint16_t id = 1; id < kAppProtoBuiltinEnd; ++id) {
    if (name == builtin_app_proto_name(id)) return id;
  }
  auto& u = app_proto_internal::g_user_names;
  const uint16_t n = u.count.load(std::memory_order_acquire);
  for (uint16_t i = 0; i < n; ++i) {
    if (name == u.name[i]) return static_cast<uint16_t>(kUserAppProtoBase + i);
  }
  return 0;
}

// Registers a user protocol name (start-up only, single thread, before workers start) and
// returns its id: the existing id if the name is already known (built-in names included), 0
// if the name is invalid or the table is full.
inline uint16_t register_user_app_proto(std::string_view name) noexcept {
  if (!is_valid_app_proto_name(name) || name == "unknown") return 0;
  if (uint16_t id = find_app_proto(name)) return id;
  auto& u = app_proto_internal::g_user_names;
  const uint16_t n = u.count.load(std::memory_order_relaxed);
  if (n >= kMaxUserAppProtos) return 0;
  std::memcpy(u.name[n], name.data(), name.size());
  u.name[n][name.size()] = '\0';
  u.count.store(static_cast<uint16_t>(n + 1), std::memory_order_release);
  return static_cast<uint16_t>(kUserAppProtoBase + n);
}

}  // namespace flowscribe
