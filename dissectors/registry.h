#pragma once
// The built-in dissectors and the protocols each one reads (docs/architecture.md). One set
// per worker: dissector objects hold per-worker counters.
#include <cstdint>
#include <memory>
#include <vector>

#include "common/app_proto.h"
#include "dissectors/dissector.h"

namespace flowscribe::dissect {

struct DissectorSet {
  std::vector<std::unique_ptr<Dissector>> list;
  // by_proto[app_proto]: 1 + index into list, 0 = no dissector for that protocol.
  uint8_t by_proto[kAppProtoBuiltinEnd] = {};

  Dissector* for_proto(uint16_t app_proto) const noexcept {
    if (app_proto >= kAppProtoBuiltinEnd || by_proto[app_proto] == 0) return nullptr;
    return list[by_proto[app_proto] - 1].get();
  }
  int index_of(uint16_t app_proto) const noexcept {
    return app_proto < kAppProtoBuiltinEnd ? by_proto[app_proto] - 1 : -1;
  }
};

// Every built-in dissector, registered for its protocols (registry.cpp).
DissectorSet make_dissectors();

}  // namespace flowscribe::dissect
