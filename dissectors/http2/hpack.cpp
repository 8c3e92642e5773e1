#include "dissectors/http2/hpack.h"

#include <cstdint>
#include <cstring>

// Cost: Huffman decoding walks bits (about 10 ns per decoded byte); a table insert may move
// up to 4 KiB (eviction compacts the table). Both bounded by the header block's size.

namespace flowscribe::dissect::hpack {
namespace {

// RFC 7541 Appendix A.
constexpr std::string_view kStatic[61][2] = {
    {":authority", ""}, {":method", "GET"}, {":method", "POST"}, {":path", "/"},
    {":path", "/index.html"}, {":scheme", "http"}, {":scheme", "https"}, {":status", "200"},
    {":status", "204"}, {":status", "206"}, {":status", "304"}, {":status", "400"},
    {":status", "404"}, {":status", "500"}, {"accept-charset", ""},
    {"accept-encoding", "gzip, deflate"}, {"accept-language", ""}, {"accept-ranges", ""},
    {"accept", ""}, {"access-control-allow-origin", ""}, {"age", ""}, {"allow", ""},
    {"authorization", ""}, {"cache-control", ""}, {"content-disposition", ""},
    {"content-encoding", ""}, {"content-language", ""}, {"content-length", ""},
    {"content-location", ""}, {"content-range", ""}, {"content-type", ""}, {"cookie", ""},
    {"date", ""}, {"etag", ""}, {"expect", ""}, {"expires", ""}, {"from", ""}, {"host", ""},
    {"if-match", ""}, {"if-modified-since", ""}, {"if-none-match", ""}, {"if-range", ""},
    {"if-unmodified-since", ""}, {"last-modified", ""}, {"link", ""}, {"location", ""},
    {"max-forwards", ""}, {"proxy-authenticate", ""}, {"proxy-authorization", ""},
    {"range", ""}, {"referer", ""}, {"refresh", ""}, {"retry-after", ""}, {"server", ""},
    {"set-cookie", ""}, {"strict-transport-security", ""}, {"transfer-encoding", ""},
    {"user-agent", ""}, {"vary", ""}, {"via", ""}, {"www-authenticate", ""}};

// RFC 7541 Appendix B: code length in bits of symbols 0..255 and EOS (256). The code is
// canonical (codes of one length are consecutive, in symbol order), so the lengths are the
// whole table; the RFC 7541 C.4 and C.6 vectors check it (tests/unit/http2_test.cpp).
constexpr uint8_t kLen[257] = {
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
    28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
    6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
    5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
    13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
    15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
    6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
    20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
    24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
    22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
    21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
    26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
    19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
    20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
    26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
    30};

constexpr int kMaxBits = 30;
struct Canonical {
  uint32_t first[kMaxBits + 1];   // first code of each length
  uint16_t count[kMaxBits + 1];   // codes of each length
  uint16_t base[kMaxBits + 1];    // index in sym[] of the first code of each length
  uint16_t sym[257];              // symbols ordered by (length, symbol)
};
constexpr Canonical build_canonical() {
  Canonical c{};
  for (int s = 0; s < 257; ++s) ++c.count[kLen[s]];
  uint32_t code = 0;
  uint16_t idx = 0;
  for (int l = 1; l <= kMaxBits; ++l) {
    code = (code + (l > 1 ? c.count[l - 1] : 0)) << 1;
    if (l == 1) code = 0;
    c.first[l] = code;
    c.base[l] = idx;
    for (int s = 0; s < 257; ++s) {
      if (kLen[s] == l) c.sym[idx++] = static_cast<uint16_t>(s);
    }
  }
  return c;
}
constexpr Canonical kHuff = build_canonical();
// Spot checks against Appendix B: '0' = 00000 (5 bits), 'a' = 00011, EOS = 30 ones.
static_assert(kHuff.first[5] == 0 && kHuff.count[5] == 10);
static_assert(kHuff.first[30] + kHuff.count[30] - 1 == 0x3fffffff);
static_assert(kHuff.first[13] == 0x1ff8);

}  // namespace

void huffman_feed(HuffState& h, const uint8_t* p, size_t n, uint8_t* out, size_t cap, size_t& full) noexcept {
  uint32_t code = h.code;
  int len = h.len;
  for (size_t i = 0; i < n && !h.bad; ++i) {
    for (int b = 7; b >= 0; --b) {
      code = code << 1 | ((p[i] >> b) & 1u);
      ++len;
      if (len > kMaxBits) {
        h.bad = true;
        break;
      }
      const uint32_t k = code - kHuff.first[len];
      if (code >= kHuff.first[len] && k < kHuff.count[len]) {
        const uint16_t s = kHuff.sym[kHuff.base[len] + k];
        if (s == 256) {  // section 5.2: EOS in a string is an error
          h.bad = true;
          break;
        }
        if (full < cap) out[full] = static_cast<uint8_t>(s);
        ++full;
        code = 0;
        len = 0;
      }
    }
  }
  h.code = code;
  h.len = static_cast<uint8_t>(len);
}

// Padding: fewer than 8 bits, all ones (the EOS prefix).
bool huffman_finish(const HuffState& h) noexcept {
  return !h.bad && h.len <= 7 && h.code == (1u << h.len) - 1;
}

bool huffman_decode(const uint8_t* p, size_t n, uint8_t* out, size_t cap, size_t& full) noexcept {
  HuffState h;
  full = 0;
  huffman_feed(h, p, n, out, cap, full);
  return huffman_finish(h);
}

bool decode_int(const uint8_t* p, size_t n, size_t& i, int prefix_bits, uint32_t& v) noexcept {
  if (i >= n) return false;
  const uint32_t mask = (1u << prefix_bits) - 1;
  v = p[i++] & mask;
  if (v < mask) return true;
  for (int shift = 0; shift <= 21; shift += 7) {
    if (i >= n) return false;
    const uint8_t b = p[i++];
    v += static_cast<uint32_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;  // more than 4 continuation bytes: beyond 2^28
}

void DynTable::reset(uint32_t max_size) noexcept {
  size_ = 0;
  max_ = max_size > kDynCap ? kDynCap : max_size;
  count_ = 0;
  used_ = 0;
}

void DynTable::evict_oldest() noexcept {
  const Entry& o = e_[0];
  const uint16_t bytes = static_cast<uint16_t>(o.name_len + o.value_len);
  size_ -= bytes + 32u;
  std::memmove(data_, data_ + bytes, used_ - bytes);
  used_ = static_cast<uint16_t>(used_ - bytes);
  std::memmove(e_, e_ + 1, (count_ - 1u) * sizeof(Entry));
  --count_;
  for (uint16_t i = 0; i < count_; ++i) e_[i].off = static_cast<uint16_t>(e_[i].off - bytes);
}

void DynTable::set_max(uint32_t max_size) noexcept {
  max_ = max_size > kDynCap ? kDynCap : max_size;
  while (count_ > 0 && size_ > max_) evict_oldest();
}

void DynTable::insert(std::string_view name, std::string_view value, size_t full_len) noexcept {
  const size_t need = full_len + 32;
  if (need > max_) {  // section 4.4: not an error, the table ends up empty
    while (count_ > 0) evict_oldest();
    return;
  }
  while (count_ > 0 && size_ + need > max_) evict_oldest();
  // need <= max_ <= kDynCap, and every entry costs 32 more than its bytes: both fit.
  std::memcpy(data_ + used_, name.data(), name.size());
  std::memcpy(data_ + used_ + name.size(), value.data(), value.size());
  e_[count_++] = Entry{used_, static_cast<uint16_t>(name.size()), static_cast<uint16_t>(value.size())};
  used_ = static_cast<uint16_t>(used_ + name.size() + value.size());
  size_ += static_cast<uint32_t>(need);
}

bool DynTable::get(uint32_t i, std::string_view& name, std::string_view& value) const noexcept {
  if (i >= count_) return false;
  const Entry& e = e_[count_ - 1 - i];
  name = {reinterpret_cast<const char*>(data_ + e.off), e.name_len};
  value = {reinterpret_cast<const char*>(data_ + e.off + e.name_len), e.value_len};
  return true;
}

namespace {

bool lookup(const DynTable& t, uint32_t index, std::string_view& name, std::string_view& value) noexcept {
  if (index == 0) return false;  // section 6.1
  if (index <= 61) {
    name = kStatic[index - 1][0];
    value = kStatic[index - 1][1];
    return true;
  }
  return t.get(index - 62, name, value);
}

enum class Str : uint8_t { kOk, kBad, kCut };
// Section 5.2: a string literal into `buf` (kStrCap bytes); `full` its decoded length. kCut:
// its bytes go past n (i is left at its length prefix; `len` is its length when known).
Str read_string(const uint8_t* p, size_t n, size_t& i, uint8_t* buf, std::string_view& out, size_t& full,
                uint32_t& len, bool& huff) noexcept {
  if (i >= n) return Str::kCut;
  huff = (p[i] & 0x80) != 0;
  len = 0;
  const size_t start = i;
  if (!decode_int(p, n, i, 7, len)) {
    i = start;
    // Truncated, or over 2^28: an integer needs at most 5 bytes.
    return n - start < 5 ? Str::kCut : Str::kBad;
  }
  if (len > n - i) {
    i = start;
    return Str::kCut;
  }
  if (huff) {
    if (!huffman_decode(p + i, len, buf, kStrCap, full)) return Str::kBad;
  } else {
    full = len;
    std::memcpy(buf, p + i, len < kStrCap ? len : kStrCap);
  }
  out = {reinterpret_cast<const char*>(buf), full < kStrCap ? full : kStrCap};
  i += len;
  return Str::kOk;
}

}  // namespace

void finish_long(DynTable& t, const LongString& ls, std::string_view value, size_t value_full,
                 HeaderFn on_header) noexcept {
  const std::string_view name(reinterpret_cast<const char*>(ls.name), ls.name_len);
  on_header(Header{name, value, true});
  if (ls.incremental) t.insert(name, value, ls.name_full + value_full);
}

Status decode_some(DynTable& t, uint32_t limit, const uint8_t* p, size_t n, size_t room,
                   bool& seen_header, HeaderFn on_header, size_t& used, LongString* ls) noexcept {
  uint8_t name_buf[kStrCap];
  uint8_t value_buf[kStrCap];
  size_t i = 0;
  used = 0;
  while (i < n) {
    const size_t start = i;
    const uint8_t b = p[i];
    uint32_t index = 0;
    const auto cut = [&]() {
      used = start;
      return Status::kIncomplete;
    };
    if (b & 0x80) {  // section 6.1: indexed header field
      std::string_view name, value;
      if (!decode_int(p, n, i, 7, index)) return n - start < 5 ? cut() : Status::kError;
      if (!lookup(t, index, name, value)) return Status::kError;
      on_header(Header{name, value, false});
      seen_header = true;
      used = i;
      continue;
    }
    if ((b & 0xe0) == 0x20) {  // section 6.3: dynamic table size update
      uint32_t size = 0;
      if (!decode_int(p, n, i, 5, size)) return n - start < 5 ? cut() : Status::kError;
      if (size > kDynCap) return Status::kTableTooBig;
      t.set_max(size);
      // Section 4.2: only at the start of a block, and within the peer's setting.
      if (seen_header || size > limit) return Status::kError;
      used = i;
      continue;
    }
    const bool incremental = (b & 0xc0) == 0x40;
    if (!decode_int(p, n, i, incremental ? 6 : 4, index)) return n - start < 5 ? cut() : Status::kError;
    std::string_view name, value, ignored;
    size_t name_full = 0, value_full = 0;
    uint32_t slen = 0;
    bool huff = false;
    if (index != 0) {
      if (!lookup(t, index, name, ignored)) return Status::kError;
      // The name may live in an entry the insert below evicts: copy it first.
      std::memcpy(name_buf, name.data(), name.size());
      name = {reinterpret_cast<const char*>(name_buf), name.size()};
      name_full = name.size();
    } else {
      const Str r = read_string(p, n, i, name_buf, name, name_full, slen, huff);
      if (r == Str::kBad) return Status::kError;
      // A name that cannot fit the caller's buffer is not followed (names are short).
      if (r == Str::kCut) return slen >= room / 2 ? Status::kError : cut();
    }
    const Str r = read_string(p, n, i, value_buf, value, value_full, slen, huff);
    if (r == Str::kBad) return Status::kError;
    if (r == Str::kCut) {
      // i is at the value's length prefix; its bytes follow the prefix.
      size_t at = i;
      uint32_t len = 0;
      if (ls == nullptr || !decode_int(p, n, at, 7, len) || at - start > room || len <= room - (at - start)) {
        return cut();
      }
      const size_t keep = name.size() < kLongNameCap ? name.size() : kLongNameCap;
      std::memcpy(ls->name, name.data(), keep);
      ls->name_len = static_cast<uint32_t>(keep);
      ls->name_full = static_cast<uint32_t>(name_full);
      ls->value_len = len;
      ls->huffman = huff;
      ls->incremental = incremental;
      seen_header = true;
      used = at;
      return Status::kLong;
    }
    on_header(Header{name, value, name_full > name.size() || value_full > value.size()});
    seen_header = true;
    if (incremental) {
      if (name_full + value_full <= kDynCap) {
        t.insert(name, value, name_full + value_full);
      } else {
        t.insert({}, {}, name_full + value_full);  // too big: empties the table
      }
    }
    used = i;
  }
  return Status::kOk;
}

Status decode_block(DynTable& t, uint32_t limit, const uint8_t* p, size_t n, HeaderFn on_header) noexcept {
  bool seen = false;
  size_t used = 0;
  const Status st = decode_some(t, limit, p, n, SIZE_MAX, seen, on_header, used, nullptr);
  return st == Status::kIncomplete || st == Status::kLong ? Status::kError : st;
}

}  // namespace flowscribe::dissect::hpack
