#include "sensor/match/hs_match.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/status/status.h"
#include "common/fd_io.h"

namespace flowscribe::match {
namespace {

std::string g_cache_dir;
CacheStats g_stats;

// File: magic, key length, key, FNV-1a of the database bytes, the database bytes.
constexpr char kCacheMagic[8] = {'F', 'S', 'H', 'S', 'D', 'B', '2', '\n'};

void put_u64(std::string& out, uint64_t v) { out.append(reinterpret_cast<const char*>(&v), 8); }

// The exact compile inputs, as bytes: the cache key, stored whole in the file.
std::string cache_key(const std::vector<Pattern>& patterns, Mode mode) {
  std::string k = hs_version();
  k.push_back('\0');
  hs_platform_info_t plat{};
  if (hs_populate_platform(&plat) == HS_SUCCESS) {
    put_u64(k, plat.tune);
    put_u64(k, plat.cpu_features);
  }
  put_u64(k, static_cast<uint64_t>(mode));
  for (const Pattern& p : patterns) {
    put_u64(k, p.expression.size());
    k += p.expression;
    put_u64(k, p.id);
    put_u64(k, p.flags);
    put_u64(k, p.max_offset);
  }
  return k;
}

uint64_t fnv1a(const char* p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<unsigned char>(p[i])) * 1099511628211ull;
  return h;
}

std::string cache_path(const std::string& key) {
  const uint64_t h = fnv1a(key.data(), key.size());  // a file name; the key itself is compared
  char name[32];
  std::snprintf(name, sizeof name, "%016llx.hsdb", static_cast<unsigned long long>(h));
  return g_cache_dir + "/" + name;
}

bool read_all(const std::string& path, std::string& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (512 << 20)) {
    ::close(fd);
    return false;
  }
  out.resize(static_cast<size_t>(st.st_size));
  const ssize_t got = read_full(fd, out.data(), out.size());
  ::close(fd);
  return got == static_cast<ssize_t>(out.size());
}

hs_database_t* cache_load(const std::string& key) {
  std::string file;
  if (!read_all(cache_path(key), file)) return nullptr;
  const size_t head = sizeof kCacheMagic + 8;
  if (file.size() < head || std::memcmp(file.data(), kCacheMagic, sizeof kCacheMagic) != 0) {
    return nullptr;
  }
  uint64_t klen;
  std::memcpy(&klen, file.data() + sizeof kCacheMagic, 8);
  if (klen != key.size() || file.size() - head < klen ||
      std::memcmp(file.data() + head, key.data(), klen) != 0) {
    return nullptr;  // another database under the same name, or a cut file
  }
  // Hyperscan does not check the database's bytes on load (a flipped byte deep in it loads),
  // so the file carries a checksum of them.
  const size_t at = head + klen;
  if (file.size() - at < 8) return nullptr;
  uint64_t sum;
  std::memcpy(&sum, file.data() + at, 8);
  const char* bytes = file.data() + at + 8;
  const size_t len = file.size() - at - 8;
  if (fnv1a(bytes, len) != sum) return nullptr;
  hs_database_t* db = nullptr;
  if (hs_deserialize_database(bytes, len, &db) != HS_SUCCESS) return nullptr;
  return db;
}

void cache_store(const std::string& key, const hs_database_t* db) {
  char* bytes = nullptr;
  size_t len = 0;
  if (hs_serialize_database(db, &bytes, &len) != HS_SUCCESS) return;
  std::string file(kCacheMagic, sizeof kCacheMagic);
  put_u64(file, key.size());
  file += key;
  put_u64(file, fnv1a(bytes, len));
  file.append(bytes, len);
  std::free(bytes);
  ::mkdir(g_cache_dir.c_str(), 0700);  // EEXIST is fine
  // Written whole to a private name, then renamed: readers see the old file or the new one.
  const std::string path = cache_path(key);
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  const bool wrote = write_all(fd, file.data(), file.size()) == 0;
  const bool ok = ::close(fd) == 0 && wrote;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return;
  }
  ++g_stats.stored;
}

}  // namespace

void set_cache_dir(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  g_cache_dir = std::move(dir);
}

CacheStats cache_stats() { return g_stats; }

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
  std::string key;
  if (!g_cache_dir.empty()) {
    key = cache_key(patterns, mode);
    if (hs_database_t* cached = cache_load(key)) {
      ++g_stats.loaded;
      Database db;
      DatabaseAccess::set(db, cached, mode);
      return db;
    }
  }
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
  if (!key.empty()) cache_store(key, raw);
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
