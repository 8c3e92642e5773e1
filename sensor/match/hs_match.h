#pragma once
// A small wrapper over Hyperscan (pcapscan style): databases compile once at start-up and are
// shared read-only by every worker; each worker owns one Scratch; the match callback only
// records. Nothing here allocates after start-up except Scratch::reserve (start-up too).
#include <hs/hs.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace flowscribe::match {

enum class Mode : uint8_t { kBlock, kStream };

struct Pattern {
  std::string expression;        // Hyperscan regex syntax
  unsigned id = 0;               // reported to the callback; may repeat (SINGLEMATCH is per id)
  unsigned flags = 0;            // HS_FLAG_*
  unsigned long long max_offset = 0;  // 0 = unbounded; else the match must end by this offset
};

// An immutable compiled database.
class Database {
 public:
  Database() = default;
  const hs_database_t* get() const noexcept { return db_.get(); }
  explicit operator bool() const noexcept { return db_ != nullptr; }
  Mode mode() const noexcept { return mode_; }
  size_t size_bytes() const noexcept;

 private:
  friend struct DatabaseAccess;
  struct Free {
    void operator()(hs_database_t* d) const noexcept { hs_free_database(d); }
  };
  std::unique_ptr<hs_database_t, Free> db_;
  Mode mode_ = Mode::kBlock;
};

struct CompileError {
  int index = -1;        // position in the pattern list, -1 if not about one pattern
  std::string message;   // Hyperscan's text
};

// Compiles patterns for the host CPU. On failure returns InvalidArgument with Hyperscan's
// message; `error` (optional) receives the failing pattern's index and the raw message.
// With a cache directory set, a database compiled before from the same patterns, by the same
// Hyperscan for the same CPU, is loaded from it instead (see set_cache_dir).
absl::StatusOr<Database> compile(const std::vector<Pattern>& patterns, Mode mode,
                                 CompileError* error = nullptr);

// Compiled databases are kept in DIR (created 0700 if missing; "" = no cache, the default).
// Each file holds the exact compile inputs it was made from (Hyperscan's version, the target
// CPU's features, mode, and every pattern with its flags, id and offset) and is used only
// when they match byte for byte; an unreadable, foreign or damaged file means a compile, and
// a failure to write one is not an error. Call before compiling (start-up, one thread).
void set_cache_dir(std::string dir);

// What the cache did since start-up: databases loaded from it, and compiled and stored.
struct CacheStats {
  unsigned loaded = 0;
  unsigned stored = 0;
};
CacheStats cache_stats();

// Per-worker scratch space, sized for every database it will scan.
class Scratch {
 public:
  Scratch() = default;
  Scratch(Scratch&&) noexcept = default;
  Scratch& operator=(Scratch&&) noexcept = default;
  bool reserve(const Database& db) noexcept;  // false on allocation failure
  hs_scratch_t* get() const noexcept { return s_.get(); }

 private:
  struct Free {
    void operator()(hs_scratch_t* s) const noexcept { hs_free_scratch(s); }
  };
  std::unique_ptr<hs_scratch_t, Free> s_;
};

// Block-mode scan. `on_match(id)` must only record (it runs inside Hyperscan); returning true
// from it stops the scan. Returns HS_SUCCESS, HS_SCAN_TERMINATED or an error code.
template <typename OnMatch>
hs_error_t scan_block(const Database& db, Scratch& scratch, const uint8_t* data, uint32_t len,
                      OnMatch& on_match) noexcept {
  auto cb = [](unsigned id, unsigned long long, unsigned long long, unsigned, void* ctx) -> int {
    return (*static_cast<OnMatch*>(ctx))(id) ? 1 : 0;
  };
  return hs_scan(db.get(), reinterpret_cast<const char*>(data), len, 0, scratch.get(), cb,
                 &on_match);
}

}  // namespace flowscribe::match
