// The allocation guard's interposer (see alloc_guard.h). Built only with -Dalloc_guard=true.
// Defining malloc, calloc, realloc and the aligned allocators in the executable overrides
// glibc's for every library in the process (ELF symbol interposition); each forwards to
// glibc's own implementation (__libc_*), after one thread-local check. operator new is
// replaced too, so a C++ allocation is named as such. free() is left alone: releasing memory
// is not what the guard looks for.
#include "sensor/alloc_guard.h"

#include <execinfo.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>

extern "C" {
void* __libc_malloc(size_t size);
void* __libc_calloc(size_t n, size_t size);
void* __libc_realloc(void* p, size_t size);
void* __libc_memalign(size_t alignment, size_t size);
}

namespace flowscribe::alloc_guard {
namespace {

// initial-exec: a plain %fs-relative load, no call into the TLS resolver (which could itself
// allocate) from inside malloc.
__attribute__((tls_model("initial-exec"))) thread_local bool t_armed = false;

void put(const char* s) {
  size_t n = std::strlen(s);
  while (n > 0) {
    ssize_t w = ::write(2, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

// Says what allocated and where, then aborts (a core dump or gdb shows the rest).
[[noreturn]] void violation(const char* what, size_t size) {
  t_armed = false;  // backtrace() may allocate the first time it runs
  char num[24];
  char* p = num + sizeof num;
  *--p = '\0';
  do {
    *--p = static_cast<char>('0' + size % 10);
    size /= 10;
  } while (size != 0);
  put("flowscribe: alloc_guard: heap allocation on a worker after start-up: ");
  put(what);
  put("(");
  put(p);
  put(" bytes); backtrace:\n");
  void* frames[64];
  int n = backtrace(frames, 64);
  backtrace_symbols_fd(frames, n, 2);
  std::abort();
}

inline void check(const char* what, size_t size) {
  if (__builtin_expect(t_armed, 0)) violation(what, size);
}

}  // namespace

void arm() noexcept { t_armed = true; }
void disarm() noexcept { t_armed = false; }
bool armed() noexcept { return t_armed; }

}  // namespace flowscribe::alloc_guard

using flowscribe::alloc_guard::check;

extern "C" {

void* malloc(size_t size) {
  check("malloc", size);
  return __libc_malloc(size);
}

void* calloc(size_t n, size_t size) {
  check("calloc", n * size);
  return __libc_calloc(n, size);
}

void* realloc(void* p, size_t size) {
  check("realloc", size);
  return __libc_realloc(p, size);
}

void* memalign(size_t alignment, size_t size) {
  check("memalign", size);
  return __libc_memalign(alignment, size);
}

void* aligned_alloc(size_t alignment, size_t size) {
  check("aligned_alloc", size);
  return __libc_memalign(alignment, size);
}

int posix_memalign(void** out, size_t alignment, size_t size) {
  check("posix_memalign", size);
  if (alignment < sizeof(void*) || (alignment & (alignment - 1)) != 0) return EINVAL;
  void* p = __libc_memalign(alignment, size);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}

}  // extern "C"

namespace {

void* new_impl(size_t size, const char* what) {
  check(what, size);
  if (size == 0) size = 1;
  for (;;) {
    if (void* p = __libc_malloc(size)) return p;
    std::new_handler h = std::get_new_handler();
    if (h == nullptr) throw std::bad_alloc();
    h();
  }
}

}  // namespace

void* operator new(size_t size) { return new_impl(size, "operator new"); }
void* operator new[](size_t size) { return new_impl(size, "operator new[]"); }
void* operator new(size_t size, const std::nothrow_t&) noexcept {
  check("operator new", size);
  return __libc_malloc(size == 0 ? 1 : size);
}
void* operator new[](size_t size, const std::nothrow_t&) noexcept {
  check("operator new[]", size);
  return __libc_malloc(size == 0 ? 1 : size);
}
