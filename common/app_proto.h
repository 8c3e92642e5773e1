#pragma once
// Application protocol ids: the contract between dissectors (who set them) and the emitter
// (who names them in `proto=`). Ids are stable once released: append, never renumber.
#include <cstdint>

namespace flowscribe {

// X(enum_name, id, "wire name as in proto=")
#define FS_APP_PROTOS(X) \
  X(kUnknown, 0, "unknown") \
  X(kHttp, 1, "http")       \
  X(kTls, 2, "tls")         \
  X(kDns, 3, "dns")

enum class AppProto : uint16_t {
#define FS_APP_PROTO_ENUM_(e, id, name) e = id,
  FS_APP_PROTOS(FS_APP_PROTO_ENUM_)
#undef FS_APP_PROTO_ENUM_
};

// Lowercase wire name; "unknown" for ids this build does not know.
constexpr const char* app_proto_name(uint16_t id) noexcept {
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

}  // namespace flowscribe
