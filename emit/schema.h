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
// x509, 250-299 dns, 300-319 app. Rows of each block stay together in record order.
#define FS_RECORD_FIELDS(X)                                \
  /* http: MSGID http (dissectors/http) */                 \
  X(kHttpHost, 1, "http", "host", kString)                 \
  X(kHttpUri, 2, "http", "uri", kString)                   \
  X(kHttpStatus, 3, "http", "status", kUint)               \
  /* tls: MSGID tls (dissectors/tls) */                    \
  /* x509: MSGID x509 (dissectors/tls) */                  \
  /* dns: MSGID dns (dissectors/dns) */                    \
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
