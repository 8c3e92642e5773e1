// The allocation guard itself (built with -Dalloc_guard=true only): an armed thread that
// allocates must die with the guard's message, whichever allocator it calls; a disarmed
// thread, or another thread while one is armed, must not. Each case runs in a child process
// so that the abort can be observed. Plain main(): Catch2 allocates inside its own checks.
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "sensor/alloc_guard.h"

namespace {

namespace ag = flowscribe::alloc_guard;

struct Outcome {
  int status = 0;
  std::string err;
};

// Runs fn in a child process with stderr captured.
template <typename Fn>
Outcome in_child(Fn fn) {
  int pipefd[2];
  if (pipe(pipefd) != 0) std::abort();
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pipefd[1], 2);
    close(pipefd[0]);
    fn();
    _exit(0);
  }
  close(pipefd[1]);
  Outcome o;
  char buf[4096];
  ssize_t n;
  while ((n = read(pipefd[0], buf, sizeof buf)) > 0) o.err.append(buf, static_cast<size_t>(n));
  close(pipefd[0]);
  waitpid(pid, &o.status, 0);
  return o;
}

int failures = 0;

void expect_abort(const char* name, const char* call, void (*fn)()) {
  Outcome o = in_child(fn);
  bool ok = WIFSIGNALED(o.status) && WTERMSIG(o.status) == SIGABRT &&
            o.err.find("alloc_guard: heap allocation on a worker after start-up: ") !=
                std::string::npos &&
            o.err.find(call) != std::string::npos;
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", name);
  if (!ok) {
    std::printf("  status %d, stderr:\n%s\n", o.status, o.err.c_str());
    ++failures;
  }
}

void expect_clean(const char* name, void (*fn)()) {
  Outcome o = in_child(fn);
  bool ok = WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0 && o.err.empty();
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", name);
  if (!ok) {
    std::printf("  status %d, stderr:\n%s\n", o.status, o.err.c_str());
    ++failures;
  }
}

// Keeps the compiler from eliding an allocation whose result is unused.
void* volatile g_sink;

}  // namespace

int main() {
  expect_abort("operator new on an armed thread", "operator new(", [] {
    ag::arm();
    g_sink = new int(1);
  });
  expect_abort("std::vector growth on an armed thread", "operator new(", [] {
    std::vector<int> v;
    ag::arm();
    v.push_back(1);
    g_sink = v.data();
  });
  expect_abort("malloc on an armed thread", "malloc(", [] {
    ag::arm();
    g_sink = std::malloc(64);
  });
  expect_abort("calloc on an armed thread", "calloc(", [] {
    ag::arm();
    g_sink = std::calloc(4, 16);
  });
  expect_abort("realloc on an armed thread", "realloc(", [] {
    void* p = std::malloc(8);
    ag::arm();
    g_sink = std::realloc(p, 4096);
  });
  expect_abort("aligned operator new on an armed thread", "aligned_alloc(", [] {
    struct alignas(64) Line { char b[64]; };
    ag::arm();
    g_sink = new Line();
  });
  expect_clean("allocation after disarm", [] {
    ag::arm();
    ag::disarm();
    g_sink = new int(2);
    std::free(std::malloc(32));
    if (ag::armed()) std::abort();
  });
  expect_clean("free on an armed thread", [] {
    void* p = std::malloc(32);
    ag::arm();
    std::free(p);
    ag::disarm();
  });
  expect_clean("another thread allocates while this one is armed", [] {
    ag::arm();
    // std::thread allocates its state on the creating thread: create it disarmed.
    ag::disarm();
    std::thread t([] { g_sink = new std::vector<int>(1000); });
    ag::arm();
    t.join();
    ag::disarm();
  });
  std::printf("%d failure(s)\n", failures);
  return failures == 0 ? 0 : 1;
}
