#include "sensor/decode/ip_reasm.h"

#include <algorithm>
#include <cstring>

namespace flowscribe::decode {
namespace {

constexpr uint32_t kNone = 0xffffffffu;
constexpr uint16_t kNoChunk = 0xffff;

enum SlotState : uint8_t { kFree = 0, kActive = 1, kAbandoned = 2 };

uint32_t hash_key(const FragKey& k) noexcept {
  uint64_t h = (static_cast<uint64_t>(k.id) << 32 | static_cast<uint64_t>(k.vlan) << 16 |
                static_cast<uint64_t>(k.version) << 8 | k.proto) *
               0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 16; i += 8) {
    uint64_t a, b;
    std::memcpy(&a, k.src.b + i, 8);
    std::memcpy(&b, k.dst.b + i, 8);
    h = (h ^ a) * 0xff51afd7ed558ccdull;
    h = (h ^ (h >> 29) ^ b) * 0xc4ceb9fe1a85ec53ull;
  }
  h ^= h >> 32;
  return static_cast<uint32_t>(h);
}

bool same_key(const FragKey& a, const FragKey& b) noexcept {
  return a.id == b.id && a.vlan == b.vlan && a.version == b.version && a.proto == b.proto &&
         std::memcmp(a.src.b, b.src.b, 16) == 0 && std::memcmp(a.dst.b, b.dst.b, 16) == 0;
}

}  // namespace

struct IpReassembler::Slot {
  FragKey key;
  uint32_t hash;
  uint8_t state;
  uint8_t proto;      // transport of the datagram, from its offset-0 fragment
  bool has_first;
  bool has_last;
  uint32_t total;     // datagram length, once a last fragment set it
  uint32_t held_end;  // one past the highest byte held
  uint32_t units;     // 8-byte units held (bits set in the slot's bitmap)
  uint32_t frags;     // fragments that came for this datagram (the cap counts them all)
  uint32_t held;      // of those, fragments whose bytes are held (lost if it never completes)
  uint32_t late_pkts;
  uint64_t late_bytes;
  Nanos created;
  uint32_t prev;
  uint32_t next;
};

IpReassembler::IpReassembler(const ReasmConfig& config) : cfg_(config) {
  uint32_t buckets = std::max<uint32_t>(1, cfg_.slots / kWays);
  while (buckets & (buckets - 1)) buckets &= buckets - 1;  // power of two, rounded down
  cfg_.slots = buckets * kWays;
  bucket_mask_ = buckets - 1;
  cfg_.chunks = std::min<uint32_t>(std::max<uint32_t>(cfg_.chunks, 1), kNoChunk);
  cfg_.max_datagram = std::min<uint32_t>(std::max<uint32_t>(cfg_.max_datagram, 8), 65535);
  chunks_per_datagram_ = (cfg_.max_datagram + kChunkBytes - 1) / kChunkBytes;
  words_per_slot_ = ((cfg_.max_datagram + 7) / 8 + 63) / 64;
  slots_.reset(new Slot[cfg_.slots]());
  slot_bits_.reset(new uint64_t[size_t{cfg_.slots} * words_per_slot_]());
  slot_chunks_.reset(new uint16_t[size_t{cfg_.slots} * chunks_per_datagram_]);
  std::fill_n(slot_chunks_.get(), size_t{cfg_.slots} * chunks_per_datagram_, kNoChunk);
  chunk_mem_.reset(new uint8_t[size_t{cfg_.chunks} * kChunkBytes]);
  free_chunks_.reset(new uint16_t[cfg_.chunks]);
  for (uint32_t i = 0; i < cfg_.chunks; ++i) {
    free_chunks_[i] = static_cast<uint16_t>(cfg_.chunks - 1 - i);
  }
  free_top_ = cfg_.chunks;
  head_ = tail_ = kNone;
}

IpReassembler::~IpReassembler() = default;

size_t IpReassembler::memory_bytes() const noexcept {
  return size_t{cfg_.slots} * (sizeof(Slot) + chunks_per_datagram_ * sizeof(uint16_t) +
                               words_per_slot_ * sizeof(uint64_t)) +
         size_t{cfg_.chunks} * (kChunkBytes + sizeof(uint16_t));
}

void IpReassembler::list_unlink(uint32_t idx) noexcept {
  Slot& s = slots_[idx];
  if (s.prev != kNone) slots_[s.prev].next = s.next; else head_ = s.next;
  if (s.next != kNone) slots_[s.next].prev = s.prev; else tail_ = s.prev;
  s.prev = s.next = kNone;
}

void IpReassembler::list_push_tail(uint32_t idx) noexcept {
  Slot& s = slots_[idx];
  s.prev = tail_;
  s.next = kNone;
  if (tail_ != kNone) slots_[tail_].next = idx; else head_ = idx;
  tail_ = idx;
}

uint32_t IpReassembler::lookup(const FragKey& key, uint32_t hash) const noexcept {
  const uint32_t base = (hash & bucket_mask_) * kWays;
  for (uint32_t w = 0; w < kWays; ++w) {
    const Slot& s = slots_[base + w];
    if (s.state != kFree && s.hash == hash && same_key(s.key, key)) return base + w;
  }
  return kNone;
}

void IpReassembler::release(uint32_t idx) noexcept {
  Slot& s = slots_[idx];
  uint16_t* ch = slot_chunks_.get() + size_t{idx} * chunks_per_datagram_;
  for (uint32_t c = 0; c < chunks_per_datagram_; ++c) {
    if (ch[c] != kNoChunk) {
      free_chunks_[free_top_++] = ch[c];
      ch[c] = kNoChunk;
    }
  }
  std::fill_n(bits(idx), words_per_slot_, 0);
  list_unlink(idx);
  s.state = kFree;
  --active_;
  counters_.frag_active.set(active_);
}

void IpReassembler::drop(uint32_t idx, Counter& why) noexcept {
  if (slots_[idx].state == kActive) {
    why.inc();
    counters_.frag_lost.inc(slots_[idx].held);
  }
  release(idx);
}

void IpReassembler::abandon(uint32_t idx) noexcept {
  Slot& s = slots_[idx];
  counters_.frag_lost.inc(s.held);
  uint16_t* ch = slot_chunks_.get() + size_t{idx} * chunks_per_datagram_;
  for (uint32_t c = 0; c < chunks_per_datagram_; ++c) {
    if (ch[c] != kNoChunk) {
      free_chunks_[free_top_++] = ch[c];
      ch[c] = kNoChunk;
    }
  }
  std::fill_n(bits(idx), words_per_slot_, 0);
  s.state = kAbandoned;
  s.held = 0;
  s.units = 0;
}

uint32_t IpReassembler::take_slot(const FragKey& key, uint32_t hash, Nanos now) noexcept {
  const uint32_t base = (hash & bucket_mask_) * kWays;
  uint32_t idx = kNone;
  for (uint32_t w = 0; w < kWays && idx == kNone; ++w) {
    if (slots_[base + w].state == kFree) idx = base + w;
  }
  if (idx == kNone) {
    // Bucket full: recycle its oldest datagram (VPP's habit) rather than refuse the new one,
    // so junk that never completes cannot hold a bucket for the whole timeout.
    idx = base;
    for (uint32_t w = 1; w < kWays; ++w) {
      if (slots_[base + w].created < slots_[idx].created) idx = base + w;
    }
    drop(idx, counters_.frag_evicted);
  }
  Slot& s = slots_[idx];
  s.key = key;
  s.hash = hash;
  s.state = kActive;
  s.proto = 0;
  s.has_first = s.has_last = false;
  s.total = s.held_end = s.units = s.frags = s.held = s.late_pkts = 0;
  s.late_bytes = 0;
  s.created = now;
  list_push_tail(idx);
  ++active_;
  counters_.frag_active.set(active_);
  return idx;
}

bool IpReassembler::ensure_chunks(uint32_t idx, uint32_t begin, uint32_t end) noexcept {
  uint16_t* ch = slot_chunks_.get() + size_t{idx} * chunks_per_datagram_;
  for (uint32_t c = begin / kChunkBytes; c <= (end - 1) / kChunkBytes; ++c) {
    if (ch[c] != kNoChunk) continue;
    // Pool empty: the oldest other datagrams make room.
    while (free_top_ == 0) {
      uint32_t victim = head_;
      if (victim == idx) victim = slots_[idx].next;
      if (victim == kNone) return false;
      drop(victim, counters_.frag_evicted);
    }
    ch[c] = free_chunks_[--free_top_];
  }
  return true;
}

bool IpReassembler::same_bytes(uint32_t idx, uint32_t off, const uint8_t* p,
                               uint32_t n) const noexcept {
  const uint16_t* ch = slot_chunks_.get() + size_t{idx} * chunks_per_datagram_;
  while (n != 0) {
    const uint32_t in = off % kChunkBytes;
    const uint32_t k = std::min(n, kChunkBytes - in);
    if (std::memcmp(chunk_mem_.get() + size_t{ch[off / kChunkBytes]} * kChunkBytes + in, p, k) != 0) {
      return false;
    }
    off += k;
    p += k;
    n -= k;
  }
  return true;
}

void IpReassembler::put_bytes(uint32_t idx, uint32_t off, const uint8_t* p, uint32_t n) noexcept {
  const uint16_t* ch = slot_chunks_.get() + size_t{idx} * chunks_per_datagram_;
  while (n != 0) {
    const uint32_t in = off % kChunkBytes;
    const uint32_t k = std::min(n, kChunkBytes - in);
    std::memcpy(chunk_mem_.get() + size_t{ch[off / kChunkBytes]} * kChunkBytes + in, p, k);
    off += k;
    p += k;
    n -= k;
  }
}

void IpReassembler::get_bytes(uint32_t idx, uint32_t off, uint8_t* p, uint32_t n) const noexcept {
  const uint16_t* ch = slot_chunks_.get() + size_t{idx} * chunks_per_datagram_;
  while (n != 0) {
    const uint32_t in = off % kChunkBytes;
    const uint32_t k = std::min(n, kChunkBytes - in);
    std::memcpy(p, chunk_mem_.get() + size_t{ch[off / kChunkBytes]} * kChunkBytes + in, k);
    off += k;
    p += k;
    n -= k;
  }
}

ReasmResult IpReassembler::add(const FragKey& key, const Fragment& frag, bool attributed,
                               uint32_t ip_len, Nanos now, uint8_t* out,
                               uint32_t out_cap) noexcept {
  expire(now);
  ReasmResult r;
  const uint32_t hash = hash_key(key);
  uint32_t idx = lookup(key, hash);
  // Fragments of this datagram the caller could not attribute wait here for its ports.
  const auto settle_late = [&](uint32_t i) {
    Slot& s = slots_[i];
    if (attributed || r.status == ReasmStatus::kComplete) {
      r.late_pkts = s.late_pkts;
      r.late_bytes = s.late_bytes;
      s.late_pkts = 0;
      s.late_bytes = 0;
    } else {
      ++s.late_pkts;
      s.late_bytes += ip_len;
    }
  };
  const auto refuse = [&](Counter& why) {
    why.inc();
    if (idx != kNone) settle_late(idx);
    return r;
  };
  const uint32_t begin = frag.offset;
  const uint32_t end = frag.offset + frag.wire_len;
  // RFC 8200 section 4.5 (and RFC 791's 8-octet units): every fragment but the last carries
  // a multiple of 8 bytes; an empty fragment carries nothing to place.
  if (frag.wire_len == 0 || (frag.more && (frag.wire_len & 7) != 0)) {
    return refuse(counters_.frag_bad_length);
  }
  if (idx != kNone && slots_[idx].state == kAbandoned) return refuse(counters_.frag_abandoned);
  Counter* fatal = nullptr;
  if (end > cfg_.max_datagram) {
    fatal = &counters_.frag_too_big;
  } else if (frag.len < frag.wire_len) {
    fatal = &counters_.frag_cut;
  }
  if (idx == kNone) idx = take_slot(key, hash, now);
  Slot& s = slots_[idx];
  if (fatal == nullptr && ++s.frags > cfg_.max_fragments) fatal = &counters_.frag_too_many;
  if (fatal != nullptr) {
    abandon(idx);
    return refuse(*fatal);
  }
  // The end of the datagram: the first last fragment sets it; nothing may pass it.
  if (!frag.more) {
    if (s.has_last ? end != s.total : end < s.held_end) return refuse(counters_.frag_bad_length);
  } else if (s.has_last && end > s.total) {
    return refuse(counters_.frag_bad_length);
  }
  // Offsets count in 8-byte units and only the last fragment ends inside one, so a unit is
  // held whole or not at all. Runs of units held / not held, over [begin, end):
  uint64_t* const map = bits(idx);
  const auto held = [map](uint32_t u) { return (map[u >> 6] >> (u & 63)) & 1; };
  const uint32_t ub = begin / 8;
  const uint32_t ue = (end + 7) / 8;
  // Bytes already held stay (first data wins); compare them to tell a retransmission from
  // an attempt to make the sensor and the host see different bytes.
  uint32_t covered = 0;
  bool conflict = false;
  for (uint32_t u = ub; u < ue;) {
    const uint64_t h = held(u);
    uint32_t v = u + 1;
    while (v < ue && held(v) == h) ++v;
    if (h) {
      const uint32_t ob = u * 8, oe = std::min(v * 8, end);
      covered += oe - ob;
      if (!conflict && !same_bytes(idx, ob, frag.data + (ob - begin), oe - ob)) conflict = true;
    }
    u = v;
  }
  if (conflict) counters_.frag_overlap_conflict.inc();
  if (covered == frag.wire_len) {
    if (!conflict) counters_.frag_duplicate.inc();  // nothing new: a retransmission
  } else {
    if (covered != 0 && !conflict) counters_.frag_overlap.inc();
    if (!ensure_chunks(idx, begin, end)) {
      drop(idx, counters_.frag_evicted);  // nothing older left to evict: the pool is its own
      return r;
    }
    for (uint32_t u = ub; u < ue;) {
      const uint64_t h = held(u);
      uint32_t v = u + 1;
      while (v < ue && held(v) == h) ++v;
      if (!h) {
        const uint32_t ob = u * 8, oe = std::min(v * 8, end);
        put_bytes(idx, ob, frag.data + (ob - begin), oe - ob);
        for (uint32_t w = u; w < v; ++w) map[w >> 6] |= uint64_t{1} << (w & 63);
        s.units += v - u;
      }
      u = v;
    }
    s.held_end = std::max(s.held_end, end);
    ++s.held;
    counters_.frag_held.inc();
    if (begin == 0 && !s.has_first) {
      s.has_first = true;
      s.proto = key.version == 4 ? key.proto : frag.next;
    }
  }
  if (!frag.more) {
    s.has_last = true;
    s.total = end;
  }
  r.status = ReasmStatus::kHeld;
  if (s.has_first && s.has_last && s.units == (s.total + 7) / 8) {
    if (s.total > out_cap) {
      counters_.frag_no_output.inc();
      counters_.frag_lost.inc(s.held);
      r.status = ReasmStatus::kRefused;
      settle_late(idx);
      release(idx);
      return r;
    }
    get_bytes(idx, 0, out, s.total);
    r.status = ReasmStatus::kComplete;
    r.proto = s.proto;
    r.len = s.total;
    counters_.frag_reassembled.inc();
    settle_late(idx);
    release(idx);
    return r;
  }
  settle_late(idx);
  return r;
}

void IpReassembler::expire(Nanos now) noexcept {
  while (head_ != kNone && slots_[head_].created + cfg_.timeout <= now) {
    drop(head_, counters_.frag_timeout);
  }
}

void IpReassembler::expire_all() noexcept {
  while (head_ != kNone) drop(head_, counters_.frag_timeout);
}

}  // namespace flowscribe::decode
