#pragma once
// How formatted lines leave the process. An Output (emit/output.h) owns one Transport and
// drives it from the emitter core: non-blocking, no exceptions, every failure a counter.
//
//   stdout, file:PATH       SinkTransport over emit/sink.h (blocking writes, as before)
//   udp://HOST:PORT         UdpTransport, RFC 5426, sendmmsg (emit/net_sink.h)
//   tcp://HOST:PORT         StreamTransport, RFC 6587 framing, writev
//   tls://HOST:PORT         StreamTransport with OpenSSL, RFC 5425
//
// docs/siem.md says what each transport promises (UDP: nothing; TCP/TLS: see there).
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/counters.h"
#include "common/net.h"
#include "emit/sink.h"

namespace flowscribe::emit {

class Sink;

enum class Scheme : uint8_t { kStdout, kFile, kUdp, kTcp, kTls, kFailover };

// One --out value, parsed; nothing resolved or opened yet.
struct OutputSpec {
  Scheme scheme = Scheme::kStdout;
  std::string text;  // as given, e.g. "tcp://collector:601": the output's name everywhere
  std::string path;  // file:
  std::string host;  // udp/tcp/tls: a DNS name or an address (IPv6 without its brackets)
  uint16_t port = 0;
  // failover:MEMBER,MEMBER...: tcp:// and tls:// members, in order of preference.
  std::vector<OutputSpec> members;
};

// IANA ports: syslog 514/udp (RFC 5426), syslog-conn 601/tcp (RFC 3195, used by RFC 6587
// receivers), syslog-tls 6514/tcp (RFC 5425).
inline constexpr uint16_t kDefaultUdpPort = 514;
inline constexpr uint16_t kDefaultTcpPort = 601;
inline constexpr uint16_t kDefaultTlsPort = 6514;

// "stdout", "file:PATH", "udp://HOST[:PORT]", "tcp://HOST[:PORT]", "tls://HOST[:PORT]";
// IPv6 addresses in brackets ("tcp://[2001:db8::1]:601"); a fail-over group is
// "failover:tcp://a:601,tls://b:6514,..." (two or more tcp:// or tls:// members, the first
// preferred; docs/siem.md "Fail-over"). The error says what is wrong.
absl::StatusOr<OutputSpec> parse_output_spec(std::string_view text);

// RFC 6587 section 3.4: octet counting ("LEN SP MSG", 3.4.1) or non-transparent framing with
// LF as the trailer (3.4.2; for old collectors: a record can never contain LF, so it is safe).
enum class TcpFraming : uint8_t { kOctetCounting, kLf };

// RFC 5426 section 3.2: IPv4 receivers MUST take 480 octets, IPv6 ones 1180, and all SHOULD
// take 2048: the default.
inline constexpr size_t kDefaultUdpMax = 2048;
inline constexpr size_t kMinUdpMax = 480;
inline constexpr size_t kMaxUdpMax = 65507;  // IPv4 UDP payload limit

struct NetConfig {
  size_t udp_max = kDefaultUdpMax;      // --udp-max
  TcpFraming framing = TcpFraming::kOctetCounting;  // --tcp-framing
  std::string tls_ca;                   // --tls-ca: CA file; empty = the system store
  std::string tls_cert;                 // --tls-cert: client certificate chain (PEM)
  std::string tls_key;                  // --tls-key: its private key (PEM)
  uint32_t pen = 32473;                 // SD-ID of UDP's truncation marker (trunc@PEN)
  FileConfig file;                      // file: outputs: rotation and fsync (emit/sink.h)
};

// Per-output counters (summed over outputs in the stats line; one summary line per output).
#define FS_OUTPUT_COUNTERS(X)                                                                \
  X(output_records, "records handed to an output")                                         \
  X(output_sent, "records delivered (TCP/TLS: acknowledged by the collector's TCP)")        \
  X(output_bytes, "bytes handed to the kernel by outputs, framing included")               \
  X(output_batches, "writev/sendmmsg/write calls that moved data")                         \
  X(output_dropped, "records lost: queue and spool full, write failure, or unsent at exit") \
  X(output_spooled, "records written to an output's on-disk spool")                        \
  X(output_replayed, "records read back from the spool")                                   \
  X(output_resent, "records sent again after a connection was lost before their ACK")      \
  X(output_grace_cut, "TCP/TLS records confirmed by the collector's ACK alone, before their one-second grace ended, because the queue needed the room") \
  X(output_truncated, "UDP records cut to --udp-max at a field boundary")                  \
  X(output_connects, "TCP/TLS connections established")                                   \
  X(output_connect_failures, "TCP/TLS connection attempts that failed (TLS checks too)")   \
  X(output_disconnects, "TCP/TLS connections lost (collector closed or reset them)")       \
  X(output_write_errors, "failed writes or sends (file, stdout, UDP)")                     \
  X(output_drop_reports, "'drops' records written to tell a collector what it missed")     \
  X(output_queue_bytes, "bytes waiting in outputs' memory queues (gauge)")                 \
  X(output_queued, "records waiting in outputs' memory queues (gauge)")                    \
  X(output_spool_records, "records waiting in outputs' spools, not yet read back (gauge)")  \
  X(output_failovers, "fail-over groups: switches from one member to another")            \
  X(output_spool_bytes, "bytes waiting in outputs' spools (gauge)")                       \
  X(output_file_rotations, "file: outputs rotated (--file-max-mb, --file-rotate)")         \
  X(output_file_rotate_errors, "file: rotations that failed (the current file is kept)")   \
  X(output_file_fsyncs, "fdatasync calls made by file: outputs (--file-fsync)")

FS_DEFINE_COUNTERS(OutputCounters, FS_OUTPUT_COUNTERS);

// What take_acked() reports: the oldest `records` taken by send() are done with, and
// `lost` of them were not delivered (already counted by the transport).
struct Acked {
  size_t records = 0;
  size_t lost = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;

  // True when records can be handed over now. TCP/TLS connect (non-blocking) and back off
  // here; `now` is CLOCK_MONOTONIC in ns, read once per emitter loop turn.
  virtual bool up(Nanos now) = 0;

  // Hands over a prefix of `lines` (complete records, each ending in '\n'); returns how many
  // were taken whole. Fewer than all: the kernel buffer is full (call again later) or the
  // connection failed (up() says so). A record cut by a short write is finished by the next
  // call, which must start with that record.
  virtual size_t send(std::span<const std::string_view> lines) = 0;

  // The oldest records taken by send() that are done with since the last call: delivered
  // (TCP/TLS: every byte ACKed by the peer's TCP) or lost.
  virtual Acked take_acked(Nanos now) = 0;

  // Records the collector's TCP has ACKed that are still waiting out their grace (TCP/TLS,
  // emit/net_sink.h): confirmed now, without it, because the output's queue needs the room.
  // Counted in output_grace_cut.
  virtual Acked release_grace() { return Acked{}; }

  // True once after a connection was lost: records taken but not reported by take_acked()
  // were maybe not delivered and must be sent again, oldest first.
  virtual bool take_reset() { return false; }

  // Keep records while down, spool them, and wait for them at exit (TCP/TLS).
  virtual bool reliable() const { return false; }

  // file: outputs reopen on SIGHUP (logrotate).
  virtual void reopen() {}

  // A stdout/file output whose write failed: everything sent to it is lost from then on.
  virtual bool broken() const { return false; }

  // At exit: try to connect now instead of waiting out the backoff.
  virtual void retry_now() {}

  // A connection attempt (or TLS handshake) is in progress.
  virtual bool connecting() const { return false; }

  // At exit, once every record was sent: confirms delivery where the transport can (TCP:
  // half-close and wait for the collector's own close). True when done; called repeatedly.
  virtual bool drain_close(Nanos) { return true; }

  // Ends the connection politely (TLS close_notify) at exit.
  virtual void close() {}

  // The connection state for the stats line and the summary ("up 12.0s", "down 3.1s", one
  // entry per member for a fail-over group). Safe to call from another core: reads atomics.
  virtual std::string health_text() const { return broken() ? "failed" : "up"; }
};

// stdout and file: over a Sink (emit/sink.h). A failed write loses the records of that call
// and marks the output broken: later records are counted as lost and the exit status is 1.
class SinkTransport : public Transport {
 public:
  // `file_stats`: the FileSink's own counts (rotations, fsyncs), copied into `counters`.
  SinkTransport(std::unique_ptr<Sink> sink, std::string name, OutputCounters& counters,
                const FileSinkStats* file_stats = nullptr);
  ~SinkTransport() override;

  bool up(Nanos) override { return true; }
  size_t send(std::span<const std::string_view> lines) override;
  Acked take_acked(Nanos) override;
  void reopen() override;
  bool broken() const override { return broken_.load(std::memory_order_relaxed); }

 private:
  void copy_file_stats();

  std::unique_ptr<Sink> sink_;
  std::string name_;
  OutputCounters& counters_;
  const FileSinkStats* file_stats_;
  size_t done_ = 0;   // taken since the last take_acked()
  size_t lost_ = 0;
  std::atomic<bool> broken_{false};
};

// Builds the transport of a spec: opens files, resolves host names (a name that does not
// resolve is an error now, not a retry loop later), loads TLS certificates and keys.
absl::StatusOr<std::unique_ptr<Transport>> make_transport(const OutputSpec& spec,
                                                          const NetConfig& net,
                                                          OutputCounters& counters);

}  // namespace flowscribe::emit
