#pragma once
// Syslog over the network: UDP (RFC 5426), TCP (RFC 6587) and TLS (RFC 5425). Non-blocking
// sockets driven by emit/output.cpp on the emitter core; docs/siem.md for the user's view.
#include <sys/socket.h>

#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "emit/transport.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace flowscribe::emit {

struct SockAddr {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string text;  // "127.0.0.1:601", "[::1]:601"
};

// getaddrinfo(host, port) for `socktype`, at start-up. A name that does not resolve is an
// error that names it.
absl::StatusOr<std::vector<SockAddr>> resolve(const std::string& host, uint16_t port,
                                              int socktype);

// Cuts a record (without its '\n') that is longer than `max` bytes for one datagram: whole
// SD-PARAMs and SD-ELEMENTs are kept while they fit, MSG is dropped, and the element
// `[trunc@PEN len="ORIGINAL"]` marks the cut, so the datagram is still valid RFC 5424 and
// says that it was cut (docs/siem.md). A record without structured data ("-": the JSON, CEF
// and LEEF formats) gets the element in place of the "-" and its MSG is cut at a UTF-8
// character boundary (the JSON/CEF/LEEF text is then incomplete; the element says so).
// Writes to `out` (max bytes of room) and returns the length; 0 when not even the header
// fits.
size_t truncate_record(std::string_view rec, size_t max, uint32_t pen, char* out);

// UDP: one record per datagram (RFC 5426 section 3.1), without the '\n', batches of up to
// 64 datagrams per sendmmsg(2). Nothing acknowledges a datagram, so a record is done once
// the kernel took it; a send error loses that datagram (counted).
class UdpTransport : public Transport {
 public:
  static absl::StatusOr<std::unique_ptr<UdpTransport>> open(const OutputSpec& spec,
                                                             const NetConfig& net,
                                                             OutputCounters& counters);
  ~UdpTransport() override;

  bool up(Nanos) override { return true; }
  size_t send(std::span<const std::string_view> lines) override;
  Acked take_acked(Nanos) override;

 private:
  UdpTransport(int fd, SockAddr dst, std::string name, const NetConfig& net,
               OutputCounters& counters);
  int fd_;
  SockAddr dst_;
  std::string name_;
  size_t max_;
  uint32_t pen_;
  OutputCounters& counters_;
  std::unique_ptr<char[]> scratch_;  // truncated datagrams of one batch
  size_t done_ = 0;
  size_t lost_ = 0;
  bool reported_ = false;  // first send error written to stderr
};

// TCP, optionally with TLS. Connects without blocking and backs off 0.5 s doubling to 30 s
// between failed attempts. Plain syslog over TCP has no acknowledgement of its own, so:
//  - before each write the socket is read: a collector never sends, so EOF or an error
//    means it went away (caught before we write into the void, not after);
//  - a record counts as delivered only when the peer's TCP has ACKed all its bytes
//    (SIOCOUTQ) *and* the connection then stayed up for kAckGrace: a collector that stops
//    reads nothing more and closes soon after, and what its kernel had ACKed but it had not
//    read (lost with the RST) is within that window and is sent again. The price is that
//    records of the last kAckGrace before a disconnect may arrive twice (same `sid`).
//  - at exit the connection is half-closed and the collector's own close awaited: a
//    collector closes only after reading everything before our FIN, so a clean EOF confirms
//    every record exactly; a reset means some were not read (they are spooled or counted).
class StreamTransport : public Transport {
 public:
  static absl::StatusOr<std::unique_ptr<StreamTransport>> open(const OutputSpec& spec,
                                                                const NetConfig& net,
                                                                OutputCounters& counters);
  ~StreamTransport() override;

  bool up(Nanos now) override;
  size_t send(std::span<const std::string_view> lines) override;
  Acked take_acked(Nanos now) override;
  Acked release_grace() override;
  bool take_reset() override;
  bool reliable() const override { return true; }
  bool drain_close(Nanos now) override;
  void close() override;
  void retry_now() override {
    if (state_ == State::kIdle) next_attempt_ = 0;
  }
  bool connecting() const override {
    return state_ == State::kConnecting || state_ == State::kHandshake;
  }
  std::string health_text() const override;

  // For fail-over groups (FailoverTransport).
  enum class Health : uint8_t { kIdle, kConnecting, kUp, kDown };
  Health health() const noexcept { return static_cast<Health>(health_.load(std::memory_order_relaxed)); }
  // Nothing written and unconfirmed: handing over to another member loses and repeats nothing.
  bool quiet() const noexcept {
    return inflight_.empty() && pending_.empty() && partial_ == 0 && tls_pending_ == 0;
  }
  // Down and waiting out its backoff before the next attempt.
  bool backing_off(Nanos now) const noexcept {
    return state_ == State::kIdle && now < next_attempt_;
  }
  bool reset_pending() const noexcept { return reset_; }
  const std::string& name() const noexcept { return spec_.text; }
  void set_group_member() noexcept { group_member_ = true; }

  static constexpr Nanos kBackoffMin = 500'000'000;
  static constexpr Nanos kBackoffMax = 30 * kNsPerSec;
  static constexpr Nanos kConnectTimeout = 5 * kNsPerSec;
  static constexpr Nanos kAckGrace = kNsPerSec;
  static constexpr Nanos kCloseWait = 3 * kNsPerSec;

 private:
  enum class State : uint8_t { kIdle, kConnecting, kHandshake, kUp };

  StreamTransport(std::vector<SockAddr> addrs, OutputSpec spec, TcpFraming framing,
                  SSL_CTX* tls, OutputCounters& counters);
  void start_connect();
  void connected();
  void became_up();
  void fail(std::string_view why, bool was_up);
  void set_health(Health h);
  enum class Peer : uint8_t { kOpen, kEof, kError };
  Peer peer_state();
  // Bytes of a record on the wire, framing included.
  size_t frame_len(std::string_view line) const;

  std::vector<SockAddr> addrs_;
  OutputSpec spec_;
  TcpFraming framing_;
  SSL_CTX* tls_ctx_;  // owned; nullptr for plain TCP
  SSL* ssl_ = nullptr;
  OutputCounters& counters_;

  State state_ = State::kIdle;
  int fd_ = -1;
  size_t addr_i_ = 0;          // address being tried
  Nanos now_ = 0;
  Nanos next_attempt_ = 0;     // while kIdle
  Nanos deadline_ = 0;         // while kConnecting / kHandshake
  Nanos backoff_ = kBackoffMin;
  Nanos down_since_ = 0;       // when the last connection was lost (for the log line)
  bool ever_up_ = false;
  bool reset_ = false;
  bool group_member_ = false;  // of a fail-over group: its failure message says so
  std::string last_error_;     // to log a failure once, not every retry

  // Bytes of the first record of the next send() already written (a short write).
  size_t partial_ = 0;
  // Frames written whole and not yet ACKed, oldest first, and byte counts to tell.
  std::deque<uint32_t> inflight_;
  uint64_t written_ = 0;       // bytes written on this connection
  uint64_t acked_ = 0;         // bytes of frames that left inflight_ (ACKed by TCP)
  Nanos last_ack_check_ = 0;
  // Frames ACKed by TCP, waiting out kAckGrace: {frames, when the ACK was seen}.
  struct Pending {
    size_t frames;
    Nanos since;
  };
  std::deque<Pending> pending_;
  bool closing_ = false;       // our FIN (TLS: close_notify) is out, waiting for theirs
  Nanos closing_since_ = 0;
  bool peer_done_ = false;     // the collector closed cleanly after our FIN
  std::string tls_buf_;        // frames gathered for one SSL_write
  size_t tls_pending_ = 0;     // length of the last SSL_write that wanted to be repeated
  // For the stats line on the main core: Health and since when (CLOCK_MONOTONIC ns).
  std::atomic<uint8_t> health_{0};
  std::atomic<Nanos> health_since_{0};
};

// A fail-over group (`failover:tcp://a:601,tcp://b:601`, docs/siem.md "Fail-over"): records go
// to the first member that is up, in the order given. When the active member fails (connect
// refused or timed out, TLS refused, the connection lost), the next member that is not
// waiting out its backoff takes over and what the failed one had not confirmed is sent again
// there (Output rewinds its queue on take_reset()). Members ahead of the active one are
// retried on their own backoff (0.5 s doubling to 30 s); the first of them that connects takes
// the records back once the active member has confirmed everything it was given (no new
// records meanwhile, so a planned switch repeats nothing). One queue and one spool for the
// whole group: the spool takes over when every member is down.
class FailoverTransport : public Transport {
 public:
  FailoverTransport(std::vector<std::unique_ptr<StreamTransport>> members, std::string name,
                    OutputCounters& counters);
  ~FailoverTransport() override;

  bool up(Nanos now) override;
  size_t send(std::span<const std::string_view> lines) override;
  Acked take_acked(Nanos now) override;
  Acked release_grace() override;
  bool take_reset() override;
  bool reliable() const override { return true; }
  bool drain_close(Nanos now) override;
  void close() override;
  void retry_now() override;
  bool connecting() const override;
  std::string health_text() const override;

  size_t active() const noexcept { return active_.load(std::memory_order_relaxed); }
  size_t member_count() const noexcept { return members_.size(); }
  const StreamTransport& member(size_t i) const noexcept { return *members_[i]; }
  uint64_t delivered(size_t i) const noexcept {
    return delivered_[i].load(std::memory_order_relaxed);
  }

 private:
  void activate(size_t k, const char* why);
  bool reset_pending() const noexcept;

  std::vector<std::unique_ptr<StreamTransport>> members_;
  std::string name_;
  OutputCounters& counters_;
  std::atomic<size_t> active_{0};
  int switch_to_ = -1;  // a preferred member is up: hand over once the active one is quiet
  std::unique_ptr<std::atomic<uint64_t>[]> delivered_;  // records confirmed, per member
};

// Loads the OpenSSL client context (CA file or the system store, optional client
// certificate and key); errors name the file and OpenSSL's reason.
absl::StatusOr<SSL_CTX*> make_tls_context(const NetConfig& net);

}  // namespace flowscribe::emit
