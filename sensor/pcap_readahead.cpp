#include "sensor/pcap_readahead.h"

#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>

#include "common/strings.h"

namespace flowscribe::sensor {
namespace {

void nap(int us) { std::this_thread::sleep_for(std::chrono::microseconds(us)); }

}  // namespace

absl::StatusOr<std::unique_ptr<ReadAhead>> ReadAhead::create() {
  static_assert(kRingBytes >= 2 * kReadBytes && kRingBytes % 4096 == 0);
  auto fail = [](const char* what) {
    return absl::UnavailableError(cat("no read-ahead ring (", what, ": ", std::strerror(errno), ")"));
  };
  const int fd = ::memfd_create("flowscribe-pcap-ring", MFD_CLOEXEC);
  if (fd < 0) return fail("memfd_create");
  if (::ftruncate(fd, static_cast<off_t>(kRingBytes)) != 0) {
    absl::Status s = fail("ftruncate");
    ::close(fd);
    return s;
  }
  // Reserve twice the ring, then map the same pages into both halves.
  void* area = ::mmap(nullptr, 2 * kRingBytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                      -1, 0);
  if (area == MAP_FAILED) {
    absl::Status s = fail("mmap");
    ::close(fd);
    return s;
  }
  auto* base = static_cast<uint8_t*>(area);
  for (int half = 0; half < 2; ++half) {
    void* p = ::mmap(base + half * kRingBytes, kRingBytes, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_FIXED | MAP_POPULATE, fd, 0);
    if (p == MAP_FAILED) {
      absl::Status s = fail("mmap");
      ::munmap(area, 2 * kRingBytes);
      ::close(fd);
      return s;
    }
  }
  ::close(fd);  // the mappings keep the pages
  std::unique_ptr<ReadAhead> ra(new ReadAhead());
  ra->base_ = base;
  try {
    ra->thread_ = std::thread([r = ra.get()] { r->run(); });
  } catch (const std::system_error& e) {
    return absl::UnavailableError(cat("no read-ahead thread (", e.what(), ")"));
  }
  pthread_setname_np(ra->thread_.native_handle(), "fs-pcap-read");
  return ra;
}

ReadAhead::~ReadAhead() {
  stop_.store(true, std::memory_order_release);
  if (thread_.joinable()) thread_.join();
  if (base_ != nullptr) ::munmap(base_, 2 * kRingBytes);
}

void ReadAhead::attach(int fd, size_t preloaded) {
  tail_.store(0, std::memory_order_relaxed);
  req_fd_.store(fd, std::memory_order_relaxed);
  req_preloaded_.store(preloaded, std::memory_order_relaxed);
  const uint64_t gen = req_gen_.load(std::memory_order_relaxed) + 1;
  req_gen_.store(gen, std::memory_order_release);
  while (ack_gen_.load(std::memory_order_acquire) != gen) std::this_thread::yield();
}

void ReadAhead::run() {
  uint64_t gen = 0;
  int fd = -1;
  bool stream = false;   // a pipe, FIFO or terminal: wait in poll(2), so stop_ is seen
  bool reading = false;
  uint64_t head = 0;
  while (!stop_.load(std::memory_order_acquire)) {
    const uint64_t g = req_gen_.load(std::memory_order_acquire);
    if (g != gen) {
      gen = g;
      fd = req_fd_.load(std::memory_order_relaxed);
      head = req_preloaded_.load(std::memory_order_relaxed);
      struct stat st;
      stream = fd >= 0 && ::fstat(fd, &st) == 0 && !S_ISREG(st.st_mode);
      reading = fd >= 0;
      error_.store(0, std::memory_order_relaxed);
      head_.store(head, std::memory_order_relaxed);
      state_.store(static_cast<uint8_t>(reading ? State::kReading : State::kEnd),
                   std::memory_order_relaxed);
      ack_gen_.store(g, std::memory_order_release);
      continue;
    }
    if (!reading) {
      nap(200);
      continue;
    }
    const uint64_t tail = tail_.load(std::memory_order_acquire);
    if (kRingBytes - (head - tail) < kReadBytes) {
      nap(50);
      continue;
    }
    if (stream) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;  // nothing yet (or EINTR): look at stop_ again
    }
    const ssize_t r = ::read(fd, base_ + head % kRingBytes, kReadBytes);
    reads_.fetch_add(1, std::memory_order_relaxed);
    if (r > 0) {
      head += static_cast<uint64_t>(r);
      head_.store(head, std::memory_order_release);
    } else if (r == 0) {
      reading = false;
      state_.store(static_cast<uint8_t>(State::kEnd), std::memory_order_release);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      nap(50);  // a descriptor left non-blocking by whoever opened it
    } else if (errno != EINTR) {
      error_.store(errno, std::memory_order_relaxed);
      reading = false;
      state_.store(static_cast<uint8_t>(State::kError), std::memory_order_release);
    }
  }
}

}  // namespace flowscribe::sensor
