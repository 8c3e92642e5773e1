#pragma once
// Formatters: turn one Record into one line, RFC 5424 (default), JSON, CEF or LEEF
// (docs/records.md). Run on the emitter core only; no allocation per record after
// construction.
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
  // The product version in CEF/LEEF headers (no '|', '\\' or spaces: checked by validate()).
  std::string product_version = "0.1.0";
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
  // Held through make_formatter()'s pointer; its counters are atomics, which do not move.
  Formatter(const Formatter&) = delete;
  Formatter& operator=(const Formatter&) = delete;

  // Writes one line ending in '\n' to dst, which has kFormatBufferBytes of room; returns its
  // length (0 for a record of unknown type). The zero-copy path for BatchWriter.
  //
  // JSON, CEF and LEEF lines start with an RFC 5424 header and no structured data
  // ("<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - "), which network outputs send and
  // file/stdout outputs skip: body_offset() is where the JSON/CEF/LEEF text of the last line
  // starts (0 for RFC 5424, whose line is the record itself). docs/records.md "Formats".
  size_t format_to(const Record& r, char* dst) {
    const Record* chain = &r;
    return format_chain(&chain, 1, dst);
  }
  // The same for a record that has continuation slots (emit/record.h, Record::more):
  // chain[0] is the record, chain[1..n) its continuations, whose extension fields follow
  // the record's own on the one line.
  virtual size_t format_chain(const Record* const* chain, size_t n, char* dst) = 0;
  size_t body_offset() const noexcept { return body_off_; }

  // Appends one line ending in '\n' (nothing for a record of unknown type, counted).
  void format(const Record& r, std::string& out) {
    out.append(scratch_.get(), format_to(r, scratch_.get()));
  }
  void format(const Record* const* chain, size_t n, std::string& out) {
    out.append(scratch_.get(), format_chain(chain, n, scratch_.get()));
  }
  // The same without the syslog header of JSON/CEF/LEEF: what file and stdout outputs get.
  void format_body(const Record& r, std::string& out) {
    const size_t n = format_to(r, scratch_.get());
    if (n != 0) out.append(scratch_.get() + body_off_, n - body_off_);
  }

  const FormatCounters& counters() const noexcept { return counters_; }

 protected:
  FormatCounters counters_;
  size_t body_off_ = 0;

 private:
  std::unique_ptr<char[]> scratch_;  // format()'s buffer
};

// `cfg` must have passed validate().
std::unique_ptr<Formatter> make_formatter(const FormatConfig& cfg);

// The `drops` record in cfg.line_format (RFC 5424: format_drops_record()). JSON, CEF and LEEF
// get an RFC 5424 header without structured data ("... drops - ") when `syslog_header` is
// true (network outputs), and are the bare text otherwise (file:, stdout).
std::string format_drops_line(const FormatConfig& cfg, std::string_view output, uint64_t dropped,
                              Nanos first_ns, Nanos last_ns, Nanos now_ns,
                              bool syslog_header = true);

class Rfc5424Formatter final : public Formatter {
 public:
  // `cfg` must have passed validate().
  explicit Rfc5424Formatter(const FormatConfig& cfg);

  size_t format_chain(const Record* const* chain, size_t n, char* dst) override;

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

  char* write_ext(const Record* const* chain, size_t n, char* p, char* limit);
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

// The text after "<PRI>1 TIMESTAMP" of JSON/CEF/LEEF lines, one per record type (and drops).
class SyslogPrefix {
 public:
  SyslogPrefix() = default;
  explicit SyslogPrefix(const FormatConfig& cfg);
  // Writes the header ending in "- " and returns the end.
  char* put(char* p, RecordType t, Nanos ts) const noexcept;

 private:
  std::string pri_;                                // "<134>1 "
  std::string after_ts_[kRecordTypeCount];         // " HOST APP PROCID MSGID - "
};

// Shared by the JSON, CEF and LEEF formatters: the record's extension fields, parsed, checked
// against the schema (counting what is skipped) and grouped: elements in order of first
// appearance, within an element one group per param name, its values in record order.
struct ExtEntry {
  const uint8_t* value;  // in the ext area of the record or of one of its continuations
  uint16_t field_index;  // into kFields
  uint16_t len;
};
// Most entries a record and its continuations can hold (each entry takes >= 4 bytes).
inline constexpr size_t kMaxExtEntries =
    (kMaxContinuations + 1) * (kRecordSize - 128) / sizeof(ExtHeader);
// Parses the extension fields of a record and its continuations into `out` (room for
// kMaxExtEntries), checked against the schema and counted as the formatters count (an
// ext_len or entry overrunning its slot: emit_ext_malformed, the rest of that slot
// skipped). Returns how many entries it wrote.
size_t parse_ext(const Record* const* chain, size_t n, ExtEntry* out,
                 FormatCounters& counters) noexcept;
// True when the record or a continuation has extension fields.
inline bool has_ext(const Record* const* chain, size_t n) noexcept {
  for (size_t i = 0; i < n; ++i) {
    if (chain[i]->ext_len != 0) return true;
  }
  return false;
}
struct ExtGroup {
  uint16_t first;       // into ExtList::order
  uint16_t count;       // values of this param (more than one: a repeated param)
  bool new_element;     // the first param group of its element
};
struct ExtList {
  static constexpr size_t kMax = kMaxExtEntries;
  ExtEntry entries[kMax];
  uint16_t order[kMax];
  ExtGroup groups[kMax];
  size_t n = 0;
  size_t ngroups = 0;
  const ExtEntry& at(const ExtGroup& g, size_t k) const noexcept {
    return entries[order[g.first + k]];
  }
};
void collect_ext(const Record* const* chain, size_t n, ExtList& out,
                 FormatCounters& counters) noexcept;

// JSON lines (docs/records.md "JSON"): one object per record, header fields, every flow@
// param at the top level, each extension element a nested object, repeated params arrays,
// kUint values numbers.
class JsonFormatter final : public Formatter {
 public:
  explicit JsonFormatter(const FormatConfig& cfg);
  size_t format_chain(const Record* const* chain, size_t n, char* dst) override;

 private:
  SyslogPrefix prefix_;
  std::string head_;        // ,"host":"..","app_name":"..","procid":".."
  uint32_t run_id_;
  ExtList ext_;
};

// ArcSight CEF (docs/records.md "CEF"): CEF:0|flowscribe|flowscribe|VERSION|MSGID|NAME|SEV|ext.
class CefFormatter final : public Formatter {
 public:
  explicit CefFormatter(const FormatConfig& cfg);
  size_t format_chain(const Record* const* chain, size_t n, char* dst) override;

 private:
  SyslogPrefix prefix_;
  std::string head_[kRecordTypeCount];  // "CEF:0|...|SEV|"
  std::string dev_;                      // " dvchost=.. dvcpid=.."
  std::string keys_[kFieldCount];        // extension key of each schema field
  uint32_t run_id_;
  ExtList ext_;
};

// IBM QRadar LEEF 2.0 with TAB between attributes (docs/records.md "LEEF").
class LeefFormatter final : public Formatter {
 public:
  explicit LeefFormatter(const FormatConfig& cfg);
  size_t format_chain(const Record* const* chain, size_t n, char* dst) override;

 private:
  SyslogPrefix prefix_;
  std::string head_[kRecordTypeCount];  // "LEEF:2.0|...|MSGID|x09|"
  std::string dev_;                      // "\tsensor=..\tsev=N"
  std::string keys_[kFieldCount];
  uint32_t run_id_;
  ExtList ext_;
};

// Key naming shared by CEF and LEEF: "http" + "user_agent" -> "httpUserAgent".
std::string camel_key(std::string_view prefix, std::string_view element, std::string_view param);

// Standard CEF/LEEF keys of schema fields, by (element, param) name: empty where there is
// none. Resolved at compile time over whatever rows FS_RECORD_FIELDS has.
std::string_view cef_standard_key(std::string_view element, std::string_view param) noexcept;
std::string_view leef_standard_key(std::string_view element, std::string_view param) noexcept;

}  // namespace flowscribe::emit
