#pragma once
// RFC 5424 formatter: turns one Record into one syslog line (docs/records.md). Runs on the
// emitter core only; no allocation per record after construction.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/counters.h"
#include "common/net.h"
#include "emit/escape.h"
#include "emit/record.h"
#include "emit/schema.h"

namespace flowscribe::emit {

// --format: the text a record becomes (docs/records.md). One per process: the emitter
// formats each record once and hands the same line to every output.
enum class LineFormat : uint8_t { kRfc5424, kJson, kCef, kLeef };
absl::StatusOr<LineFormat> parse_line_format(std::string_view name);
std::string_view line_format_name(LineFormat f) noexcept;

struct FormatConfig {
  std::string hostname;               // --sensor-name; validate() fills in gethostname()
  std::string app_name = "flowscribe";
  std::string procid;                 // validate() fills in the pid
  uint32_t pen = 32473;               // --pen: SD-IDs are `flow@<pen>`, `http@<pen>`, ...
  int facility = 16;                  // --facility: local0
  int severity = 6;                   // --severity: informational
  uint32_t run_id = 0;                // random per run (random_run_id()), first 8 hex of sid
  LineFormat line_format = LineFormat::kRfc5424;  // --format
};

// Fills defaults and checks the header fields against RFC 5424 section 6.2 (PRINTUSASCII,
// HOSTNAME <= 255, APP-NAME <= 48, PROCID <= 128) and PRI's ranges (6.2.1). The error names
// the flag to fix.
absl::Status validate(FormatConfig& cfg);

// A fresh random value for FormatConfig::run_id (getrandom(2), so unique across restarts).
uint32_t random_run_id();

#define FS_FORMAT_COUNTERS(X)                                                              \
  X(emit_ext_unknown_field, "extension fields skipped: id not in this build's schema")     \
  X(emit_ext_bad_length, "extension fields skipped: length does not fit the field kind")   \
  X(emit_ext_malformed, "records whose extension area overran (rest of it skipped)")       \
  X(emit_ext_line_cap, "extension fields dropped to keep the line under kMaxLineBytes")    \
  X(emit_value_truncated, "SD-PARAM values cut at kMaxValueBytes (marked '...')")          \
  X(emit_value_hex_escaped, "SD-PARAM values with bytes shown as \\xHH")                    \
  X(emit_record_bad_type, "records skipped: unknown record type")

FS_DEFINE_COUNTERS(FormatCounters, FS_FORMAT_COUNTERS);

// Longest line format() writes, '\n' included. RFC 5425 section 4.3.1: receivers SHOULD
// accept 8192 octets; extension fields that would not fit are dropped and counted.
inline constexpr size_t kMaxLineBytes = 8192;

// Length of an RFC 3339 timestamp as written here: 2026-11-28T16:00:00.123456Z.
inline constexpr size_t kTimestampLen = 27;

// Writes `ns` (Unix epoch, UTC) as RFC 3339 with microseconds, truncated (not rounded), and
// 'Z' (RFC 5424 section 6.2.3). Returns dst + kTimestampLen.
char* write_timestamp(char* dst, Nanos ns) noexcept;

// Writes an address as text: IPv4 dotted quad, IPv6 as RFC 5952 (same text as glibc's
// inet_ntop, which the tests check). `version` 4 reads b[0..3]; anything else is IPv6.
// Needs 46 bytes of room; returns the end.
char* write_ip(char* dst, const IpAddr& a, uint8_t version) noexcept;

// Writes one extension value of `kind` (emit/schema.h) as PARAM-VALUE text: strings escaped
// and capped (escape.h), numbers in decimal, addresses as write_ip(), bools as true/false.
// `len` must suit the kind (the formatter checks); dst needs kMaxValueBytes of room.
struct FieldValueResult {
  char* end;
  bool truncated;
  bool hex_escaped;
};
FieldValueResult write_field_value(FieldKind kind, const uint8_t* val, size_t len,
                                   char* dst) noexcept;

// Room format_to() needs: a line is at most kMaxLineBytes, and an extension field that
// would cross that limit is written (then rolled back) before the check, hence the slack.
inline constexpr size_t kFormatBufferBytes = kMaxLineBytes + 2048;

// The `drops` record (MSGID "drops", docs/records.md): output `output` lost `dropped` records
// between `first_ns` and `last_ns`; written when the output takes records again. Times are
// wall-clock (these are the sensor's own events, not packets). One line ending in '\n'.
std::string format_drops_record(const FormatConfig& cfg, std::string_view output,
                                uint64_t dropped, Nanos first_ns, Nanos last_ns, Nanos now_ns);

// One record -> one line. A closed set of four formats behind one virtual call per record
// (~1 ns, against ~100 ns of formatting); make_formatter() picks by FormatConfig::line_format.
class Formatter {
 public:
  Formatter() : scratch_(new char[kFormatBufferBytes]) {}
  virtual ~Formatter() = default;
  Formatter(Formatter&&) = default;
  Formatter& operator=(Formatter&&) = default;

  // Writes one line ending in '\n' to dst, which has kFormatBufferBytes of room; returns its
  // length (0 for a record of unknown type). The zero-copy path for BatchWriter.
  virtual size_t format_to(const Record& r, char* dst) = 0;

  // Appends one line ending in '\n' (nothing for a record of unknown type, counted).
  void format(const Record& r, std::string& out) {
    out.append(scratch_.get(), format_to(r, scratch_.get()));
  }

  const FormatCounters& counters() const noexcept { return counters_; }

 protected:
  FormatCounters counters_;

 private:
  std::unique_ptr<char[]> scratch_;  // format()'s buffer
};

// `cfg` must have passed validate().
std::unique_ptr<Formatter> make_formatter(const FormatConfig& cfg);

// The `drops` record in cfg.line_format (RFC 5424: format_drops_record()).
std::string format_drops_line(const FormatConfig& cfg, std::string_view output, uint64_t dropped,
                              Nanos first_ns, Nanos last_ns, Nanos now_ns);

class Rfc5424Formatter final : public Formatter {
 public:
  // `cfg` must have passed validate().
  explicit Rfc5424Formatter(const FormatConfig& cfg);

  size_t format_to(const Record& r, char* dst) override;

 private:
  // Header text copied in 16-byte chunks (inlined moves instead of a memcpy call); the
  // buffer is padded so the last chunk never reads past it.
  class PaddedText {
   public:
    PaddedText() = default;
    explicit PaddedText(std::string_view s);
    char* put(char* p) const noexcept;

   private:
    std::string buf_;
    size_t len_ = 0;
  };

  char* write_ext(const Record& r, char* p, char* limit);
  char* write_ts(char* p, Nanos ns);

  PaddedText pri_version_;    // "<134>1 "
  PaddedText after_ts_[kRecordTypeCount];    // " HOST APP PROCID session [flow@32473 sid=\"", by type
  std::string pen_suffix_;    // "@32473"
  uint32_t run_id_;
  // The date part "YYYY-MM-DDT" of the last day written: TIMESTAMP, start= and end= share it
  // almost always, so the calendar arithmetic runs once a day.
  uint64_t ts_cache_day_ = ~0ULL;
  char ts_cache_date_[11];
};

}  // namespace flowscribe::emit
