#pragma once
// Read-ahead for the offline reader (sensor/pcap_file.h): a thread of its own does the file's
// read(2) calls into a ring, so that the core that polls the capture only takes records out of
// memory another core has filled. The read(2) copy out of the page cache was ~9 % of the
// offline worker's time (docs/performance.md, "Read-ahead"), and with a capture on disk or
// in a pipe the worker no longer waits on the device or the writer.
//
// The ring is one memfd mapped twice, back to back, so that the bytes from any position up
// to the ring's size on are contiguous in memory: a record that crosses the ring's end is read
// in place like any other, never copied. One producer (the thread) and one consumer (the
// poller): the thread appends at `head`, the consumer releases up to `tail`, both as byte
// counts since the current file's start (a "generation": each file of a series is one).
//
// The thread is created once, before the pollers start, on the CPU set of the thread that
// creates it (the main lcore's, which sleeps while the capture is read); moving to the next
// file of a series is a request it acknowledges, so the worker allocates nothing.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>

#include "absl/status/statusor.h"

namespace flowscribe::sensor {

class ReadAhead {
 public:
  // The ring's size: at least 2 × the largest read, and more than the largest pcapng block
  // (16 MiB), which must be whole in it.
  static constexpr size_t kRingBytes = size_t{32} << 20;
  // One read(2) at most this much; the thread waits for this much room before reading, so a
  // consumer that releases a few KiB a burst does not cause a read per burst.
  static constexpr size_t kReadBytes = size_t{1} << 20;

  // Maps the ring (pages touched now, not while the capture is read) and starts the thread.
  static absl::StatusOr<std::unique_ptr<ReadAhead>> create();
  ~ReadAhead();  // stops and joins the thread; never closes a file descriptor
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;

  // The ring: bytes [p, p + kRingBytes) are readable (and hold the stream's bytes p.. modulo
  // the ring) for any p < kRingBytes.
  uint8_t* base() const { return base_; }

  // --- The consumer's side (one thread: the poller, or main before the pollers start).
  // A new generation: FD is read from its current offset on, after the first PRELOADED bytes
  // of the stream, which the caller has put at base()[0..). Returns when the thread has let
  // go of the previous descriptor (which the caller may then close). FD -1: read nothing.
  void attach(int fd, size_t preloaded);
  // Bytes before stream position POS may be overwritten.
  void release(uint64_t pos) { tail_.store(pos, std::memory_order_release); }
  enum class State : uint8_t { kReading, kEnd, kError };
  struct Avail {
    uint64_t head;  // bytes of the stream in the ring up to here
    State state;    // kEnd / kError: head is final
    int error;      // errno of the failed read (kError)
  };
  Avail poll() const {
    Avail a;
    a.state = static_cast<State>(state_.load(std::memory_order_acquire));
    a.head = head_.load(std::memory_order_acquire);
    a.error = error_.load(std::memory_order_relaxed);
    return a;
  }

  // read(2) calls made (the tests check that the thread, not the poller, read the file).
  uint64_t reads() const { return reads_.load(std::memory_order_relaxed); }

 private:
  ReadAhead() = default;
  void run();

  uint8_t* base_ = nullptr;
  std::thread thread_;
  // The consumer's requests (written by attach, read by the thread).
  std::atomic<uint64_t> req_gen_{0};
  std::atomic<int> req_fd_{-1};
  std::atomic<uint64_t> req_preloaded_{0};
  std::atomic<bool> stop_{false};
  // The thread's answers.
  alignas(64) std::atomic<uint64_t> ack_gen_{0};
  std::atomic<uint64_t> head_{0};
  std::atomic<uint8_t> state_{static_cast<uint8_t>(State::kEnd)};
  std::atomic<int> error_{0};
  std::atomic<uint64_t> reads_{0};
  // The consumer's progress, on a line of its own: it is stored every burst.
  alignas(64) std::atomic<uint64_t> tail_{0};
};

}  // namespace flowscribe::sensor
