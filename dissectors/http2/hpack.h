#pragma once
// HPACK (RFC 7541), bounded, for a passive reader: one decoder per direction of an HTTP/2
// connection, a dynamic table capped at kDynCap bytes (RFC 7541 section 4.1 sizes), strings
// decoded into caller-owned scratch buffers. No allocation; the Huffman decoder's tables are
// built at compile time from the code lengths of Appendix B (the code is canonical).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/functional/function_ref.h"

namespace flowscribe::dissect::hpack {

// The largest dynamic table we follow. RFC 9113's default SETTINGS_HEADER_TABLE_SIZE is 4096
// and nghttp2, curl, Go, grpc and Envoy keep it; a peer whose encoder uses more is not
// followed (Status::kTableTooBig) rather than decoded wrongly.
constexpr uint32_t kDynCap = 4096;
constexpr uint32_t kMaxEntries = kDynCap / 32;  // an entry costs at least 32 (section 4.1)
// Bytes of a decoded name or value kept; longer strings are cut (and their full length
// still counts for the table).
constexpr uint32_t kStrCap = kDynCap;

class DynTable {
 public:
  void reset(uint32_t max_size) noexcept;
  // Section 4.3/4.4: evict from the oldest, then append; an entry larger than the maximum
  // empties the table.
  void insert(std::string_view name, std::string_view value, size_t full_len) noexcept;
  void set_max(uint32_t max_size) noexcept;
  uint32_t size() const noexcept { return size_; }
  uint32_t max_size() const noexcept { return max_; }
  uint32_t count() const noexcept { return count_; }
  // 0 = newest (HPACK index 62).
  bool get(uint32_t i, std::string_view& name, std::string_view& value) const noexcept;

 private:
  void evict_oldest() noexcept;
  struct Entry {
    uint16_t off, name_len, value_len;
  };
  uint32_t size_;  // section 4.1: sum of name + value + 32
  uint32_t max_;
  uint16_t count_;
  uint16_t used_;  // bytes of data_
  Entry e_[kMaxEntries];  // oldest first
  uint8_t data_[kDynCap];
};

enum class Status : uint8_t {
  kOk,
  kError,        // malformed block (bad index, integer, string, Huffman, misplaced update)
  kTableTooBig,  // a size update beyond kDynCap: the table can no longer be followed
  kIncomplete,   // decode_some: the next representation is cut (more bytes to come)
  kLong,         // decode_some: the next value is longer than the caller's buffer (LongString)
};

// One decoded header: name and value, each cut to kStrCap (`cut` says so).
struct Header {
  std::string_view name, value;
  bool cut;
};
using HeaderFn = absl::FunctionRef<void(const Header&)>;

// Section 5.2 Huffman decoding, resumable: feeds `n` bytes, writing decoded bytes to `out`
// while `full` < `cap`; `full` counts every decoded byte. huffman_finish() checks the end.
struct HuffState {
  uint32_t code = 0;
  uint8_t len = 0;
  bool bad = false;  // an invalid code or EOS was seen
};
void huffman_feed(HuffState& h, const uint8_t* p, size_t n, uint8_t* out, size_t cap, size_t& full) noexcept;
bool huffman_finish(const HuffState& h) noexcept;
// The whole string at once: false on an invalid code, EOS, or bad padding.
bool huffman_decode(const uint8_t* p, size_t n, uint8_t* out, size_t cap, size_t& full) noexcept;

// Section 5.1: an integer with an N-bit prefix at p[i]; advances i. False when truncated or
// larger than 2^28.
bool decode_int(const uint8_t* p, size_t n, size_t& i, int prefix_bits, uint32_t& v) noexcept;

// A literal whose value is longer than the caller's buffer (a 20 KiB cookie): decode_some
// stops where the value's bytes begin and describes it; the caller streams the value through
// huffman_feed (or copies its start), then calls finish_long().
constexpr uint32_t kLongNameCap = 256;
struct LongString {
  uint8_t name[kLongNameCap];
  uint32_t name_len;   // bytes kept in name[]
  uint32_t name_full;  // the name's whole length
  uint32_t value_len;  // encoded bytes of the value
  bool huffman;
  bool incremental;    // to be inserted in the dynamic table
};
// The value of `ls` is done: `value` is its kept start, `value_full` its decoded length.
// Reports the header and inserts it when asked (with its full size: the table stays in
// step, the entry keeps only the start).
void finish_long(DynTable& t, const LongString& ls, std::string_view value, size_t value_full,
                 HeaderFn on_header) noexcept;

// Decodes the complete representations at the start of p[0, n), updating `t`; `used` is the
// bytes consumed. `seen_header` carries across calls of one block (size updates must come
// first, section 4.2). A representation cut at n gives kIncomplete (its bytes not consumed),
// unless its value is longer than `room` bytes from the representation's start: then kLong,
// `used` is where the value's bytes begin and `ls` describes it. `limit` is the maximum the
// peer's SETTINGS_HEADER_TABLE_SIZE allows (an update above it is an error, section 6.3).
Status decode_some(DynTable& t, uint32_t limit, const uint8_t* p, size_t n, size_t room,
                   bool& seen_header, HeaderFn on_header, size_t& used, LongString* ls) noexcept;

// Decodes one complete header block (section 3), updating `t`.
Status decode_block(DynTable& t, uint32_t limit, const uint8_t* p, size_t n, HeaderFn on_header) noexcept;

}  // namespace flowscribe::dissect::hpack
