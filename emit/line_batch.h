#pragma once
// A batch of formatted lines, handed from a format core to the emitter (emit/format_core.h).
// Plain memory, no DPDK, so that tools/bench_emitter can time the emitter's side alone.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "emit/format.h"

namespace flowscribe::emit {

// Formatted lines, back to back: each is a header {length, body offset} and the line's bytes,
// padded to 8. Filled by one format core, read by the emitter, then reused.
struct LineBatch {
  static constexpr size_t kBytes = 128 << 10;
  struct LineHeader {
    uint32_t len;       // the whole line, '\n' included
    uint32_t body_off;  // Formatter::body_offset() of this line
  };
  uint32_t used = 0;
  uint32_t lines = 0;
  alignas(64) char data[kBytes];

  // Room for one more line of up to kFormatBufferBytes, formatted in place.
  bool has_room() const noexcept { return used + sizeof(LineHeader) + kFormatBufferBytes <= kBytes; }
  char* next_line() noexcept { return data + used + sizeof(LineHeader); }
  void commit(uint32_t len, uint32_t body_off) noexcept {
    const LineHeader h{len, body_off};
    std::memcpy(data + used, &h, sizeof h);
    used += static_cast<uint32_t>((sizeof h + len + 7) & ~size_t{7});
    ++lines;
  }
  void clear() noexcept { used = lines = 0; }
  // f(line, body_offset) for every line, in order.
  template <typename F>
  void for_each(F&& f) const {
    uint32_t at = 0;
    for (uint32_t i = 0; i < lines; ++i) {
      LineHeader h;
      std::memcpy(&h, data + at, sizeof h);
      f(std::string_view(data + at + sizeof h, h.len), h.body_off);
      at += static_cast<uint32_t>((sizeof h + h.len + 7) & ~size_t{7});
    }
  }
};

}  // namespace flowscribe::emit
