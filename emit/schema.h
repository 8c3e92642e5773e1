#pragma once
// Extension-field schema: maps the field ids that dissectors put in Record::ext to the SD
// element and PARAM-NAME they become on the wire (docs/records.md). Ids are stable once
// released: append, never renumber or reuse. Id 0 is reserved (never valid).
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace flowscribe::emit {

// How the raw bytes of a field are rendered (docs/records.md, "Extension fields").
enum class FieldKind : uint8_t {
  kString,  // any bytes; escaped (RFC 5424 section 6.3.3) and capped
  kUint,    // 1, 2, 4 or 8 bytes little-endian, rendered in decimal
  kIp,      // 4 bytes (IPv4) or 16 bytes (IPv6), rendered as text (RFC 5952 for IPv6)
  kBool,    // 1 byte: 0 -> "false", anything else -> "true"
};

// X(enum_name, id, element, param, kind). `element` becomes the SD-ID `<element>@<PEN>`,
// `param` the PARAM-NAME; both are checked at compile time below.
// Id blocks, one per dissector, so they can grow apart: 1-99 http, 100-199 tls, 200-249
// x509, 250-299 dns, 300-319 app, 320-339 socks. Rows of each block stay together in record order.
#define FS_RECORD_FIELDS(X)                                \
  /* http: MSGID http (dissectors/http) */                 \
  X(kHttpHost, 1, "http", "host", kString)                 \
  X(kHttpUri, 2, "http", "uri", kString)                   \
  X(kHttpStatus, 3, "http", "status", kUint)               \
  X(kHttpMethod, 4, "http", "method", kString)             \
  X(kHttpVersion, 5, "http", "version", kString)           \
  X(kHttpReason, 6, "http", "reason", kString)             \
  X(kHttpUserAgent, 7, "http", "user_agent", kString)      \
  X(kHttpReferer, 8, "http", "referer", kString)           \
  X(kHttpReqContentType, 9, "http", "req_content_type", kString) \
  X(kHttpContentType, 10, "http", "content_type", kString) \
  X(kHttpReqBodyLen, 11, "http", "req_body_len", kUint)    \
  X(kHttpRespBodyLen, 12, "http", "resp_body_len", kUint)  \
  X(kHttpFilename, 13, "http", "filename", kString)        \
  X(kHttpXff, 14, "http", "x_forwarded_for", kString)      \
  X(kHttpTransferEncoding, 15, "http", "transfer_encoding", kString) \
  X(kHttpContentEncoding, 16, "http", "content_encoding", kString) \
  X(kHttpReqTransferEncoding, 17, "http", "req_transfer_encoding", kString) \
  X(kHttpUpgrade, 18, "http", "upgrade", kString)          \
  X(kHttpTunnel, 19, "http", "tunnel", kBool)              \
  X(kHttpInfoStatus, 20, "http", "info_status", kUint)     \
  X(kHttpOrigin, 21, "http", "origin", kString)            \
  X(kHttpLocation, 22, "http", "location", kString)        \
  X(kHttpReqHeaders, 23, "http", "req_headers", kUint)     \
  X(kHttpRespHeaders, 24, "http", "resp_headers", kUint)   \
  X(kHttpTags, 25, "http", "tags", kString)                \
  X(kHttpReqContentEncoding, 26, "http", "req_content_encoding", kString) \
  X(kHttpStreamId, 27, "http", "stream_id", kUint)         \
  /* tls: MSGID tls (dissectors/tls) */                    \
  X(kTlsVersion, 100, "tls", "version", kString)         \
  X(kTlsCipher, 101, "tls", "cipher", kString)           \
  X(kTlsSni, 102, "tls", "sni", kString)                 \
  X(kTlsAlpn, 103, "tls", "alpn", kString)               \
  X(kTlsClientVersion, 104, "tls", "client_version", kString)\
  X(kTlsClientVersions, 105, "tls", "client_versions", kString)\
  X(kTlsClientAlpn, 106, "tls", "client_alpn", kString)  \
  X(kTlsJa3, 107, "tls", "ja3", kString)                 \
  X(kTlsJa4, 108, "tls", "ja4", kString)                 \
  X(kTlsJa3s, 109, "tls", "ja3s", kString)               \
  X(kTlsCertHidden, 110, "tls", "cert_hidden", kBool)    \
  X(kTlsResumed, 111, "tls", "resumed", kBool)           \
  X(kTlsAlert, 112, "tls", "alert", kString)             \
  X(kTlsCertCount, 113, "tls", "cert_count", kUint)      \
  X(kTlsCertSubject, 114, "tls", "cert_subject", kString)\
  X(kTlsCertIssuer, 115, "tls", "cert_issuer", kString)  \
  X(kTlsCertSha256, 116, "tls", "cert_sha256", kString)  \
  X(kTlsCertSelfSigned, 117, "tls", "cert_self_signed", kBool)\
  X(kTlsCertSanDns, 118, "tls", "cert_san_dns", kString) \
  X(kTlsCipherCount, 119, "tls", "cipher_count", kUint)  \
  X(kTlsSslv2Hello, 120, "tls", "sslv2_hello", kBool)    \
  X(kTlsPartial, 121, "tls", "partial", kBool)           \
  /* x509: MSGID x509 (dissectors/tls/x509_record.cpp: tls, tlsup, ike, opcua) */ \
  X(kX509Pos, 200, "x509", "pos", kUint)                 \
  X(kX509Source, 228, "x509", "source", kString)         \
  X(kX509Sender, 229, "x509", "sender", kString)         \
  X(kX509Subject, 201, "x509", "subject", kString)       \
  X(kX509Issuer, 202, "x509", "issuer", kString)         \
  X(kX509Serial, 203, "x509", "serial", kString)         \
  X(kX509NotBefore, 204, "x509", "not_before", kString)  \
  X(kX509NotAfter, 205, "x509", "not_after", kString)    \
  X(kX509Sha256, 206, "x509", "sha256", kString)         \
  X(kX509Sha1, 207, "x509", "sha1", kString)             \
  X(kX509KeyAlg, 208, "x509", "key_alg", kString)        \
  X(kX509KeyType, 209, "x509", "key_type", kString)      \
  X(kX509KeyBits, 210, "x509", "key_bits", kUint)        \
  X(kX509Curve, 211, "x509", "curve", kString)           \
  X(kX509SigAlg, 212, "x509", "sig_alg", kString)        \
  X(kX509Version, 213, "x509", "version", kUint)         \
  X(kX509SelfSigned, 214, "x509", "self_signed", kBool)  \
  X(kX509Ca, 215, "x509", "ca", kBool)                   \
  X(kX509SubjectCn, 216, "x509", "subject_cn", kString)  \
  X(kX509SubjectO, 217, "x509", "subject_o", kString)    \
  X(kX509IssuerCn, 218, "x509", "issuer_cn", kString)    \
  X(kX509IssuerO, 219, "x509", "issuer_o", kString)      \
  X(kX509SanCount, 220, "x509", "san_count", kUint)      \
  X(kX509SanDns, 221, "x509", "san_dns", kString)        \
  X(kX509SanIp, 222, "x509", "san_ip", kString)          \
  X(kX509SanEmail, 223, "x509", "san_email", kString)    \
  X(kX509SanUri, 224, "x509", "san_uri", kString)        \
  X(kX509SanTruncated, 225, "x509", "san_truncated", kBool)\
  X(kX509DerLen, 226, "x509", "der_len", kUint)          \
  X(kX509Error, 227, "x509", "error", kString)           \
  /* dns: MSGID dns (dissectors/dns) */                    \
  X(kDnsQuery, 250, "dns", "query", kString)               \
  X(kDnsQtype, 251, "dns", "qtype", kString)               \
  X(kDnsQtypeNum, 252, "dns", "qtype_num", kUint)          \
  X(kDnsQclass, 253, "dns", "qclass", kString)             \
  X(kDnsQclassNum, 254, "dns", "qclass_num", kUint)        \
  X(kDnsTransId, 255, "dns", "trans_id", kUint)            \
  X(kDnsStatus, 256, "dns", "status", kString)             \
  X(kDnsRcode, 257, "dns", "rcode", kString)               \
  X(kDnsRcodeNum, 258, "dns", "rcode_num", kUint)          \
  X(kDnsOpcode, 259, "dns", "opcode", kString)             \
  X(kDnsAa, 260, "dns", "aa", kBool)                       \
  X(kDnsTc, 261, "dns", "tc", kBool)                       \
  X(kDnsRd, 262, "dns", "rd", kBool)                       \
  X(kDnsRa, 263, "dns", "ra", kBool)                       \
  X(kDnsAd, 273, "dns", "ad", kBool)                       \
  X(kDnsCd, 274, "dns", "cd", kBool)                       \
  X(kDnsRttUs, 264, "dns", "rtt_us", kUint)                \
  X(kDnsQdcount, 265, "dns", "qdcount", kUint)             \
  X(kDnsAncount, 266, "dns", "ancount", kUint)             \
  X(kDnsNscount, 267, "dns", "nscount", kUint)             \
  X(kDnsArcount, 268, "dns", "arcount", kUint)             \
  X(kDnsRetransmits, 269, "dns", "retransmits", kUint)     \
  X(kDnsCut, 270, "dns", "cut", kBool)                     \
  X(kDnsAnomaly, 271, "dns", "anomaly", kString)           \
  X(kDnsAnswer, 272, "dns", "answer", kString)             \
  X(kDnsAdditional, 275, "dns", "additional", kString)     \
  X(kDnsUpdate, 276, "dns", "update", kString)             \
  /* socks: MSGID socks (dissectors/socks) */              \
  X(kSocksVersion, 320, "socks", "version", kUint)         \
  X(kSocksCommand, 321, "socks", "command", kString)       \
  X(kSocksHost, 322, "socks", "host", kString)             \
  X(kSocksAddr, 323, "socks", "addr", kIp)                 \
  X(kSocksPort, 324, "socks", "port", kUint)               \
  X(kSocksStatus, 325, "socks", "status", kString)         \
  X(kSocksStatusCode, 326, "socks", "status_code", kUint)  \
  X(kSocksUser, 327, "socks", "user", kString)             \
  X(kSocksPasswordSeen, 328, "socks", "password_seen", kBool) \
  X(kSocksAuth, 329, "socks", "auth", kString)             \
  X(kSocksAuthOffered, 330, "socks", "auth_offered", kString) \
  X(kSocksBoundAddr, 331, "socks", "bound_addr", kIp)      \
  X(kSocksBoundPort, 332, "socks", "bound_port", kUint)    \
  X(kSocksTunnel, 333, "socks", "tunnel", kString)         \
  /* app: every record of a flow whose application is named (dissectors/apps) */ \
  X(kAppName, 300, "app", "name", kString)                 \
  X(kAppCategory, 301, "app", "category", kString)

enum class Field : uint16_t {
#define FS_RECORD_FIELD_ENUM_(e, id, element, param, kind) e = id,
  FS_RECORD_FIELDS(FS_RECORD_FIELD_ENUM_)
#undef FS_RECORD_FIELD_ENUM_
};

constexpr uint16_t field_id(Field f) noexcept { return static_cast<uint16_t>(f); }

struct FieldInfo {
  uint16_t id;
  std::string_view element;
  std::string_view param;
  FieldKind kind;
};

inline constexpr FieldInfo kFields[] = {
#define FS_RECORD_FIELD_INFO_(e, id, element, param, kind) {id, element, param, FieldKind::kind},
    FS_RECORD_FIELDS(FS_RECORD_FIELD_INFO_)
#undef FS_RECORD_FIELD_INFO_
};
inline constexpr size_t kFieldCount = sizeof(kFields) / sizeof(kFields[0]);

namespace schema_detail {

// SD-NAME = 1*32PRINTUSASCII except '=', SP, ']', '"' (RFC 5424 section 6.3.2/6.3.3). We are
// stricter: lowercase letters, digits, '-', '_' and '.', so names never need quoting anywhere.
constexpr bool is_valid_name(std::string_view s, size_t max_len) {
  if (s.empty() || s.size() > max_len) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.';
    if (!ok) return false;
  }
  return true;
}

constexpr uint16_t max_field_id() {
  uint16_t m = 0;
  for (const auto& f : kFields) m = f.id > m ? f.id : m;
  return m;
}

}  // namespace schema_detail

// The SD-ID is `<element>@<PEN>` and must fit 32 chars (RFC 5424 section 6.3.2); a PEN has at
// most 10 digits (uint32), so the element gets 32 - 1 - 10.
inline constexpr size_t kMaxElementLen = 21;
inline constexpr size_t kMaxParamLen = 32;

// Index into kFields by field id, -1 where the id is unknown to this build.
inline constexpr uint16_t kMaxFieldId = schema_detail::max_field_id();
struct FieldIndex {
  int16_t at[kMaxFieldId + 1];
};
inline constexpr FieldIndex kFieldIndex = [] {
  FieldIndex ix{};
  for (auto& v : ix.at) v = -1;
  for (size_t i = 0; i < kFieldCount; ++i) ix.at[kFields[i].id] = static_cast<int16_t>(i);
  return ix;
}();

constexpr const FieldInfo* find_field(uint16_t id) noexcept {
  if (id > kMaxFieldId || kFieldIndex.at[id] < 0) return nullptr;
  return &kFields[kFieldIndex.at[id]];
}

// Fields that share an element are written as one SD element; elements are numbered by
// first appearance in kFields so the formatter can group with a small bitmap.
struct ElementIndex {
  uint8_t of_field[kFieldCount];
  size_t count;
};
inline constexpr ElementIndex kElementIndex = [] {
  ElementIndex ix{};
  for (size_t i = 0; i < kFieldCount; ++i) {
    size_t first = i;
    for (size_t j = 0; j < i; ++j) {
      if (kFields[j].element == kFields[i].element) {
        first = j;
        break;
      }
    }
    ix.of_field[i] = first == i ? static_cast<uint8_t>(ix.count++) : ix.of_field[first];
  }
  return ix;
}();
inline constexpr size_t kElementCount = kElementIndex.count;

constexpr bool schema_is_valid() {
  for (size_t i = 0; i < kFieldCount; ++i) {
    const auto& f = kFields[i];
    if (f.id == 0) return false;
    if (!schema_detail::is_valid_name(f.element, kMaxElementLen)) return false;
    if (!schema_detail::is_valid_name(f.param, kMaxParamLen)) return false;
    if (f.element == "flow") return false;  // SD-IDs must be unique in a message (6.3.2)
    for (size_t j = 0; j < i; ++j) {
      if (kFields[j].id == f.id) return false;
    }
  }
  return true;
}
static_assert(schema_is_valid(),
              "FS_RECORD_FIELDS: ids must be unique and non-zero; element (<= 21 chars, not "
              "\"flow\") and param (<= 32 chars) must be [a-z0-9._-]");
static_assert(kElementCount <= 64, "the formatter groups elements with a 64-bit mask");

}  // namespace flowscribe::emit
