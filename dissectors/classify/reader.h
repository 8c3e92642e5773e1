#pragma once
// Bounds-checked reader over hostile bytes. Failure is sticky: a read past the end returns 0
// and marks the reader bad, so a probe reads a whole header and checks ok() once. Nothing
// here trusts a length field: skip() and sub() check against what is really there.
#include <cstdint>
#include <string_view>

namespace flowscribe::dissect {

struct Bytes {
  const uint8_t* p = nullptr;
  uint32_t n = 0;

  bool empty() const noexcept { return n == 0; }
  uint8_t operator[](uint32_t i) const noexcept { return i < n ? p[i] : 0; }
  std::string_view str() const noexcept {
    return {reinterpret_cast<const char*>(p), n};
  }
  Bytes from(uint32_t off) const noexcept {
    return off >= n ? Bytes{p + n, 0} : Bytes{p + off, n - off};
  }
  Bytes first(uint32_t len) const noexcept { return len >= n ? *this : Bytes{p, len}; }
};

class Reader {
 public:
  Reader() = default;
  explicit Reader(Bytes b) noexcept : p_(b.p), n_(b.n) {}

  bool ok() const noexcept { return ok_; }
  uint32_t pos() const noexcept { return pos_; }
  uint32_t left() const noexcept { return ok_ ? n_ - pos_ : 0; }
  bool at_end() const noexcept { return ok_ && pos_ == n_; }
  Bytes rest() const noexcept { return ok_ ? Bytes{p_ + pos_, n_ - pos_} : Bytes{}; }
  const uint8_t* base() const noexcept { return p_; }

  bool has(uint32_t k) const noexcept { return ok_ && n_ - pos_ >= k; }
  bool skip(uint32_t k) noexcept {
    if (!has(k)) return fail();
    pos_ += k;
    return true;
  }
  // Moves to an absolute offset (backward or forward) within the buffer.
  bool seek(uint32_t off) noexcept {
    if (!ok_ || off > n_) return fail();
    pos_ = off;
    return true;
  }
  uint8_t u8() noexcept { return has(1) ? p_[pos_++] : (fail(), 0); }
  uint8_t peek8() const noexcept { return has(1) ? p_[pos_] : 0; }
  uint16_t be16() noexcept {
    if (!has(2)) return fail(), 0;
    uint16_t v = static_cast<uint16_t>(p_[pos_] << 8 | p_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  uint16_t le16() noexcept {
    if (!has(2)) return fail(), 0;
    uint16_t v = static_cast<uint16_t>(p_[pos_ + 1] << 8 | p_[pos_]);
    pos_ += 2;
    return v;
  }
  uint32_t be24() noexcept {
    if (!has(3)) return fail(), 0;
    uint32_t v = uint32_t{p_[pos_]} << 16 | uint32_t{p_[pos_ + 1]} << 8 | p_[pos_ + 2];
    pos_ += 3;
    return v;
  }
  uint32_t le24() noexcept {
    if (!has(3)) return fail(), 0;
    uint32_t v = uint32_t{p_[pos_ + 2]} << 16 | uint32_t{p_[pos_ + 1]} << 8 | p_[pos_];
    pos_ += 3;
    return v;
  }
  uint32_t be32() noexcept {
    if (!has(4)) return fail(), 0;
    uint32_t v = uint32_t{p_[pos_]} << 24 | uint32_t{p_[pos_ + 1]} << 16 |
                 uint32_t{p_[pos_ + 2]} << 8 | p_[pos_ + 3];
    pos_ += 4;
    return v;
  }
  uint32_t le32() noexcept {
    if (!has(4)) return fail(), 0;
    uint32_t v = uint32_t{p_[pos_ + 3]} << 24 | uint32_t{p_[pos_ + 2]} << 16 |
                 uint32_t{p_[pos_ + 1]} << 8 | p_[pos_];
    pos_ += 4;
    return v;
  }
  // `k` bytes as a view (empty and bad if fewer remain).
  Bytes bytes(uint32_t k) noexcept {
    if (!has(k)) return fail(), Bytes{};
    Bytes b{p_ + pos_, k};
    pos_ += k;
    return b;
  }
  // Reads up to and excluding a NUL, at most `max` bytes before it; consumes the NUL.
  // Fails if no NUL is found within max+1 bytes (or before the end).
  bool cstring(uint32_t max, std::string_view& out) noexcept {
    if (!ok_) return false;
    for (uint32_t i = 0; i <= max && pos_ + i < n_; ++i) {
      if (p_[pos_ + i] == 0) {
        out = {reinterpret_cast<const char*>(p_ + pos_), i};
        pos_ += i + 1;
        return true;
      }
    }
    return fail();
  }
  bool expect(std::string_view lit) noexcept {
    if (!has(static_cast<uint32_t>(lit.size()))) return fail();
    for (size_t i = 0; i < lit.size(); ++i) {
      if (p_[pos_ + i] != static_cast<uint8_t>(lit[i])) return fail();
    }
    pos_ += static_cast<uint32_t>(lit.size());
    return true;
  }
  bool fail() noexcept {
    ok_ = false;
    return false;
  }

 private:
  const uint8_t* p_ = nullptr;
  uint32_t n_ = 0;
  uint32_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace flowscribe::dissect
