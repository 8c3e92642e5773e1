#include "sensor/match/hs_match.h"

#include "absl/status/status.h"

namespace flowscribe::match {

struct DatabaseAccess {
  static void set(Database& d, hs_database_t* raw, Mode mode) {
    d.db_.reset(raw);
    d.mode_ = mode;
  }
};

size_t Database::size_bytes() const noexcept {
  size_t n = 0;
  if (db_ && hs_database_size(db_.get(), &n) != HS_SUCCESS) n = 0;
  return n;
}

absl::StatusOr<Database> compile(const std::vector<Pattern>& patterns, Mode mode,
                                 CompileError* error) {
  if (patterns.empty()) return absl::InvalidArgumentError("no patterns to compile");
  std::vector<const char*> exprs;
  std::vector<unsigned> flags, ids;
  std::vector<hs_expr_ext_t> exts(patterns.size());
  std::vector<const hs_expr_ext_t*> ext_ptrs;
  for (size_t i = 0; i < patterns.size(); ++i) {
    const Pattern& p = patterns[i];
    exprs.push_back(p.expression.c_str());
    flags.push_back(p.flags);
    ids.push_back(p.id);
    exts[i] = hs_expr_ext_t{};
    if (p.max_offset != 0) {
      exts[i].flags = HS_EXT_FLAG_MAX_OFFSET;
      exts[i].max_offset = p.max_offset;
    }
    ext_ptrs.push_back(&exts[i]);
  }
  hs_database_t* raw = nullptr;
  hs_compile_error_t* err = nullptr;
  const unsigned hs_mode = mode == Mode::kBlock ? HS_MODE_BLOCK : HS_MODE_STREAM;
  if (hs_compile_ext_multi(exprs.data(), flags.data(), ids.data(), ext_ptrs.data(),
                           static_cast<unsigned>(patterns.size()), hs_mode, nullptr, &raw,
                           &err) != HS_SUCCESS) {
    CompileError ce;
    ce.index = err ? err->expression : -1;
    ce.message = err && err->message ? err->message : "unknown Hyperscan error";
    hs_free_compile_error(err);
    std::string msg = ce.message;
    if (error) *error = std::move(ce);
    return absl::InvalidArgumentError(msg);
  }
  Database db;
  DatabaseAccess::set(db, raw, mode);
  return db;
}

bool Scratch::reserve(const Database& db) noexcept {
  if (!db) return true;
  hs_scratch_t* raw = s_.release();
  if (hs_alloc_scratch(db.get(), &raw) != HS_SUCCESS) {
    s_.reset(raw);
    return false;
  }
  s_.reset(raw);
  return true;
}

}  // namespace flowscribe::match
