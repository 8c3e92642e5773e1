#pragma once
// Named counters, declared once per layer in an X-macro list (VPP style) so that a new
// failure case is one line and the stats line, the summary, telemetry and docs all see it.
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace flowscribe {

// A counter owned by one core. The owner increments with a plain load+store (no lock
// prefix, ~1 cycle); any other core may read it at any time (relaxed, never torn on x86-64).
class Counter {
 public:
  void inc(uint64_t n = 1) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void set(uint64_t n) noexcept { v_.store(n, std::memory_order_relaxed); }
  uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

struct CounterInfo {
  const char* name;
  const char* help;
};

}  // namespace flowscribe

#define FS_COUNTER_MEMBER_(name, help) ::flowscribe::Counter name;
#define FS_COUNTER_INFO_(name, help) ::flowscribe::CounterInfo{#name, help},
#define FS_COUNTER_VISIT_(name, help) f(kInfo[i++], name.get());

// FS_DEFINE_COUNTERS(DecodeCounters, FS_DECODE_COUNTERS) declares
//   struct DecodeCounters { Counter <name>; ...; static kInfo[]; kCount; for_each(f) };
// where LIST(X) expands X(name, "help") once per counter.
#define FS_DEFINE_COUNTERS(Struct, LIST)                                         \
  struct Struct {                                                                \
    LIST(FS_COUNTER_MEMBER_)                                                     \
    static constexpr ::flowscribe::CounterInfo kInfo[] = {LIST(FS_COUNTER_INFO_)}; \
    [[maybe_unused]] static constexpr std::size_t kCount = sizeof(kInfo) / sizeof(kInfo[0]); \
    template <typename F>                                                        \
    void for_each(F&& f) const {                                                 \
      std::size_t i = 0;                                                         \
      LIST(FS_COUNTER_VISIT_)                                                    \
      (void)i;                                                                   \
    }                                                                            \
  }
