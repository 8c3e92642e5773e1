// Bounded TCP stream reassembly. Rules and their reasons: docs/streams.md. Everything here is
// the slow path (SYN, FIN, RST, loss, reordering, overlaps); the in-order fast path is inline
// in the header. The loops below are bounded by the chunks of one direction (<= 255).
#include "flowtable/tcp_stream.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_format.h"

namespace flowscribe::flow {

const char* stream_end_name(StreamEnd e) noexcept {
  switch (e) {
    case StreamEnd::kFin:
      return "fin";
    case StreamEnd::kRst:
      return "rst";
    case StreamEnd::kFlush:
      return "flush";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// SegmentPool

SegmentPool::~SegmentPool() {
  if (map_ != nullptr) munmap(map_, map_bytes_);
}

absl::Status SegmentPool::init(uint32_t chunks) {
  if (map_ != nullptr) return absl::FailedPreconditionError("segment pool initialised twice");
  if (chunks > kMaxChunks) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "stream pool of %u chunks is above the maximum of %u", chunks, kMaxChunks));
  }
  capacity_ = chunks;
  if (chunks == 0) return absl::OkStatus();
  const size_t data_bytes = size_t{chunks} * kChunkBytes;
  const size_t total = data_bytes + size_t{chunks} * sizeof(Meta);
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page_size > 0 && total > size_t(pages) * size_t(page_size)) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "stream pool of %u chunks needs %u MiB, more than the memory of this machine", chunks,
        total >> 20));
  }
  void* map = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "stream pool of %u chunks: cannot map %u MiB: %s", chunks, total >> 20,
        std::strerror(errno)));
  }
  (void)madvise(map, total, MADV_HUGEPAGE);  // failure only costs TLB misses
  // Touch every page now: a first-touch page fault on a worker would cost microseconds.
  std::memset(map, 0, total);
  map_ = map;
  map_bytes_ = total;
  data_ = static_cast<uint8_t*>(map);
  meta_ = reinterpret_cast<Meta*>(data_ + data_bytes);
  // Free list in index order, so a fresh pool hands out neighbouring chunks.
  for (uint32_t c = 0; c < chunks; ++c) meta_[c].next = c + 1 < chunks ? c + 1 : kNoChunk;
  free_head_ = 0;
  free_count_ = chunks;
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// TcpReassembler: set-up

absl::StatusOr<std::unique_ptr<TcpReassembler>> TcpReassembler::create(
    const TcpStreamConfig& c) {
  if (c.max_ooo_chunks > 255) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "stream max_ooo_chunks is %u; it must be at most 255", c.max_ooo_chunks));
  }
  if (c.max_ooo_bytes > 64u << 20) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "stream max_ooo_bytes is %u; it must be at most 64 MiB", c.max_ooo_bytes));
  }
  if (c.max_seq_ahead == 0 || c.max_seq_ahead > (1u << 30)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "stream max_seq_ahead is %u; it must be between 1 and 2^30 (RFC 7323 window limit)",
        c.max_seq_ahead));
  }
  std::unique_ptr<TcpReassembler> r(new TcpReassembler(c));
  if (absl::Status s = r->pool_.init(c.pool_chunks); !s.ok()) return s;
  return r;
}

void TcpReassembler::init(TcpStreamState& st) noexcept {
  std::memset(&st, 0, sizeof(st));
  st.dir[0].ooo_head = kNoChunk;
  st.dir[1].ooo_head = kNoChunk;
}

// ---------------------------------------------------------------------------------------------
// Small steps

void TcpReassembler::refresh_hold(TcpStreamDir& d) noexcept {
  const bool hold = (d.flags & kStreamClosed) == 0 &&
                    (d.ooo_head != kNoChunk || (d.flags & kStreamFinSeen) != 0);
  d.flags = static_cast<uint8_t>(hold ? d.flags | kStreamHold : d.flags & ~kStreamHold);
}

void TcpReassembler::emit_data(TcpStreamDir& d, uint32_t dir, const uint8_t* p, uint32_t n,
                               const StreamSink& sink) noexcept {
  if (n == 0) return;
  d.next_seq += n;
  d.delivered += n;
  counters_.stream_bytes_delivered.inc(n);
  sink.data(dir, p, n);
}

void TcpReassembler::emit_gap(TcpStreamDir& d, uint32_t dir, uint32_t n,
                              const StreamSink& sink) noexcept {
  if (n == 0) return;
  d.next_seq += n;
  d.gap_bytes = d.gap_bytes > ~n ? ~0u : d.gap_bytes + n;
  d.info |= kStreamGapSeen;
  counters_.stream_gap.inc();
  counters_.stream_gap_bytes.inc(n);
  sink.gap(dir, n);
}

void TcpReassembler::free_chunks(TcpStreamDir& d) noexcept {
  uint32_t c = d.ooo_head;
  uint32_t guard = 256;  // ooo_chunks <= 255: a longer list is corruption, not a reason to spin
  while (c != kNoChunk && guard-- != 0) {
    const uint32_t next = pool_.meta(c).next;
    pool_.free(c);
    c = next;
  }
  d.ooo_head = kNoChunk;
  d.ooo_bytes = 0;
  d.ooo_chunks = 0;
}

// Delivers buffered chunks that start at or before next_seq (trimming what was delivered
// already). When the bytes come from a chunk but a packet [pseq, pseq + plen) also covers
// them, the two copies are compared: the chunk (first arrival) wins.
void TcpReassembler::drain(TcpStreamDir& d, uint32_t dir, const uint8_t* p, uint32_t pseq,
                           uint32_t plen, SegmentNote& note, const StreamSink& sink) noexcept {
  while (d.ooo_head != kNoChunk) {
    const uint32_t c = d.ooo_head;
    const SegmentPool::Meta m = pool_.meta(c);
    if (seq_gt(m.seq, d.next_seq)) break;
    // Unlink before the callback: the consumer sees a consistent state.
    d.ooo_head = m.next;
    d.ooo_bytes -= m.len;
    --d.ooo_chunks;
    const uint32_t end = m.seq + m.len;
    if (seq_gt(end, d.next_seq)) {
      const uint32_t from = d.next_seq;
      const uint8_t* q = pool_.data(c) + m.off + (from - m.seq);
      if (p != nullptr) {
        const uint32_t pend = pseq + plen;
        const uint32_t lo = seq_gt(pseq, from) ? pseq : from;
        const uint32_t hi = seq_lt(pend, end) ? pend : end;
        if (seq_lt(lo, hi)) {
          note.overlap = true;
          if (std::memcmp(q + (lo - from), p + (lo - pseq), hi - lo) != 0) note.conflict = true;
        }
      }
      emit_data(d, dir, q, end - from, sink);
    }
    pool_.free(c);
  }
}

// Advances next_seq to `target`, delivering buffered bytes where there are some and reporting
// the holes as gaps; then delivers whatever buffered run continues at target.
void TcpReassembler::skip_to(TcpStreamDir& d, uint32_t dir, uint32_t target,
                             const StreamSink& sink) noexcept {
  SegmentNote unused;
  for (;;) {
    drain(d, dir, nullptr, 0, 0, unused, sink);
    if (!seq_lt(d.next_seq, target)) break;
    uint32_t stop = target;
    if (d.ooo_head != kNoChunk && seq_lt(pool_.meta(d.ooo_head).seq, stop)) {
      stop = pool_.meta(d.ooo_head).seq;
    }
    emit_gap(d, dir, stop - d.next_seq, sink);
  }
}

// The segment starts at next_seq: deliver its captured bytes from the packet, except ranges a
// buffered chunk already holds (first wins); the uncaptured tail (snaplen) is a gap.
void TcpReassembler::deliver_from(TcpStreamDir& d, uint32_t dir, uint32_t seq, const uint8_t* p,
                                  uint32_t len, uint32_t wire, SegmentNote& note,
                                  const StreamSink& sink) noexcept {
  const uint32_t cap_end = seq + len;
  const uint32_t end = seq + wire;
  for (;;) {
    drain(d, dir, p, seq, len, note, sink);
    if (!seq_lt(d.next_seq, end)) break;
    uint32_t stop = end;
    if (d.ooo_head != kNoChunk && seq_lt(pool_.meta(d.ooo_head).seq, stop)) {
      stop = pool_.meta(d.ooo_head).seq;
    }
    if (seq_lt(d.next_seq, cap_end)) {
      const uint32_t to = seq_lt(stop, cap_end) ? stop : cap_end;
      emit_data(d, dir, p + (d.next_seq - seq), to - d.next_seq, sink);
      note.delivered = true;
    }
    if (seq_lt(d.next_seq, stop)) emit_gap(d, dir, stop - d.next_seq, sink);  // snaplen cut
  }
}

// Copies the parts of [seq, seq + len) that no buffered chunk holds yet into the pool, in seq
// order: appended to the chunk just before when it ends exactly there and has room (small
// segments share chunks), else into new chunks. Bytes that a chunk holds already are compared
// (first wins). Returns how many bytes from `seq` on are now held; less than len when the
// per-direction cap or the pool ran out (the caller makes room and retries the rest).
uint32_t TcpReassembler::buffer_ooo(TcpStreamDir& d, uint32_t seq, const uint8_t* p,
                                    uint32_t len, SegmentNote& note) noexcept {
  const uint32_t end = seq + len;
  uint32_t a = seq;
  uint32_t prev = kNoChunk;
  uint32_t cur = d.ooo_head;
  while (seq_lt(a, end)) {
    while (cur != kNoChunk && seq_le(pool_.meta(cur).seq + pool_.meta(cur).len, a)) {
      prev = cur;
      cur = pool_.meta(cur).next;
    }
    if (cur != kNoChunk && seq_le(pool_.meta(cur).seq, a)) {
      // `a` lies inside chunk `cur`: the buffered copy stays.
      const SegmentPool::Meta& m = pool_.meta(cur);
      const uint32_t cend = m.seq + m.len;
      const uint32_t to = seq_lt(cend, end) ? cend : end;
      if (std::memcmp(pool_.data(cur) + m.off + (a - m.seq), p + (a - seq), to - a) != 0) {
        note.conflict = true;
      }
      note.overlap = true;
      a = to;
      continue;
    }
    const uint32_t hole_end =
        cur != kNoChunk && seq_lt(pool_.meta(cur).seq, end) ? pool_.meta(cur).seq : end;
    while (seq_lt(a, hole_end)) {
      const uint32_t n = store(d, prev, cur, a, p + (a - seq), hole_end - a);
      if (n == 0) return a - seq;
      note.stored = true;
      a += n;
    }
  }
  return a - seq;
}

// Stores up to `n` bytes at sequence `a` between chunks `prev` and `next` (either kNoChunk):
// into prev's free tail when prev ends at `a`, else into a new chunk (which becomes prev).
// Returns the bytes stored, 0 when the cap or the pool is exhausted (counted).
uint32_t TcpReassembler::store(TcpStreamDir& d, uint32_t& prev, uint32_t next, uint32_t a,
                               const uint8_t* src, uint32_t n) noexcept {
  const uint32_t cap_room = config_.max_ooo_bytes - d.ooo_bytes;
  if (cap_room == 0) {
    counters_.stream_ooo_cap_hit.inc();
    return 0;
  }
  n = std::min(n, cap_room);
  if (prev != kNoChunk) {
    SegmentPool::Meta& pm = pool_.meta(prev);
    const uint32_t room = SegmentPool::kChunkBytes - pm.off - pm.len;
    if (pm.seq + pm.len == a && room != 0) {
      n = std::min(n, room);
      std::memcpy(pool_.data(prev) + pm.off + pm.len, src, n);
      pm.len = static_cast<uint16_t>(pm.len + n);
      d.ooo_bytes += n;
      counters_.stream_ooo_bytes.inc(n);
      return n;
    }
  }
  if (d.ooo_chunks >= config_.max_ooo_chunks) {
    counters_.stream_ooo_cap_hit.inc();
    return 0;
  }
  const uint32_t c = pool_.alloc();
  if (c == kNoChunk) {
    counters_.stream_pool_exhausted.inc();
    return 0;
  }
  n = std::min(n, SegmentPool::kChunkBytes);
  SegmentPool::Meta& cm = pool_.meta(c);
  cm.seq = a;
  cm.off = 0;
  cm.len = static_cast<uint16_t>(n);
  cm.next = next;
  std::memcpy(pool_.data(c), src, n);
  if (prev == kNoChunk) {
    d.ooo_head = c;
  } else {
    pool_.meta(prev).next = c;
  }
  prev = c;
  ++d.ooo_chunks;
  d.ooo_bytes += n;
  counters_.stream_ooo_bytes.inc(n);
  return n;
}

// Drops buffered bytes at or beyond `limit` (the FIN).
void TcpReassembler::trim_from(TcpStreamDir& d, uint32_t limit) noexcept {
  uint32_t prev = kNoChunk;
  uint32_t c = d.ooo_head;
  while (c != kNoChunk) {
    SegmentPool::Meta& m = pool_.meta(c);
    if (seq_ge(m.seq, limit)) break;
    if (seq_gt(m.seq + m.len, limit)) {
      const uint32_t keep = limit - m.seq;
      d.ooo_bytes -= m.len - keep;
      m.len = static_cast<uint16_t>(keep);
      counters_.stream_beyond_fin.inc();
    }
    prev = c;
    c = m.next;
  }
  if (c == kNoChunk) return;
  counters_.stream_beyond_fin.inc();
  if (prev == kNoChunk) {
    d.ooo_head = kNoChunk;
  } else {
    pool_.meta(prev).next = kNoChunk;
  }
  while (c != kNoChunk) {
    const uint32_t next = pool_.meta(c).next;
    d.ooo_bytes -= pool_.meta(c).len;
    --d.ooo_chunks;
    pool_.free(c);
    c = next;
  }
}

// RFC 9293 section 3.10.7.4: the FIN occupies the sequence number after the segment's data.
void TcpReassembler::note_fin(TcpStreamDir& d, uint32_t fin_seq) noexcept {
  if (d.flags & kStreamFinSeen) {
    if (fin_seq != d.fin_seq) counters_.stream_fin_invalid.inc();  // first FIN wins
    return;
  }
  if (seq_lt(fin_seq, d.next_seq)) {
    counters_.stream_fin_invalid.inc();  // would un-deliver bytes: bogus
    return;
  }
  d.flags |= kStreamFinSeen;
  d.fin_seq = fin_seq;
  trim_from(d, fin_seq);
}

void TcpReassembler::check_fin(TcpStreamDir& d, uint32_t dir, const StreamSink& sink) noexcept {
  if ((d.flags & (kStreamFinSeen | kStreamClosed)) != kStreamFinSeen) return;
  if (!seq_ge(d.next_seq, d.fin_seq)) return;
  free_chunks(d);
  d.next_seq = d.fin_seq + 1;
  d.flags = static_cast<uint8_t>((d.flags | kStreamClosed) & ~kStreamHold);
  counters_.stream_fin.inc();
  sink.end(dir, StreamEnd::kFin);
}

// The peer acknowledged bytes past a hole of `d`: the receiver has them, the capture missed
// them, and waiting longer only holds pool chunks. Only when the ACK reaches data we hold (a
// buffered chunk or the FIN): an ACK that merely runs ahead of the next byte is normal when
// the two directions are captured with some skew.
void TcpReassembler::ack_past_hole(TcpStreamDir& d, uint32_t dir, uint32_t ack,
                                   const StreamSink& sink) noexcept {
  if ((d.flags & (kStreamIsnKnown | kStreamClosed)) != kStreamIsnKnown) return;
  uint32_t resume;
  if (d.ooo_head != kNoChunk) {
    resume = pool_.meta(d.ooo_head).seq;
  } else if (d.flags & kStreamFinSeen) {
    resume = d.fin_seq;
  } else {
    return;
  }
  if (!seq_lt(d.next_seq, resume) || seq_lt(ack, resume)) return;
  if (seq_gt(ack, d.next_seq + config_.max_seq_ahead)) return;  // not an ACK for this stream
  counters_.stream_gap_acked.inc();
  skip_to(d, dir, resume, sink);
  check_fin(d, dir, sink);
  refresh_hold(d);
}

void TcpReassembler::accept_data(TcpStreamDir& d, uint32_t dir, uint32_t seq, const uint8_t* p,
                                 uint32_t len, uint32_t wire, const StreamSink& sink) noexcept {
  if (seq_le(seq + wire, d.next_seq)) {
    counters_.stream_retransmissions.inc();
    return;
  }
  SegmentNote note;
  for (;;) {
    if (seq_lt(seq, d.next_seq)) {
      const uint32_t skip = d.next_seq - seq;
      note.overlap = true;
      if (skip >= len) {
        p = nullptr;
        len = 0;
      } else {
        p += skip;
        len -= skip;
      }
      seq += skip;
      wire -= skip;
    }
    if (seq == d.next_seq) {
      deliver_from(d, dir, seq, p, len, wire, note, sink);
      break;
    }
    const uint32_t held = len == 0 ? 0 : buffer_ooo(d, seq, p, len, note);
    if (held == len) {
      if (len < wire) counters_.stream_truncated.inc();  // the tail stays a hole
      break;
    }
    // Over the cap or out of chunks. Make room at this direction's own expense: the hole
    // before the first buffered byte is declared lost and the run after it delivered. With
    // nothing of ours buffered before the rest of this segment, jump to it (in order now).
    seq += held;
    p += held;
    len -= held;
    wire -= held;
    uint32_t target = seq;
    if (d.ooo_head != kNoChunk && seq_lt(pool_.meta(d.ooo_head).seq, seq)) {
      target = pool_.meta(d.ooo_head).seq;
    }
    skip_to(d, dir, target, sink);
    if (seq_le(seq + wire, d.next_seq)) break;  // the run covered the rest
  }
  if (note.stored) {
    counters_.stream_ooo_segments.inc();
  } else if (note.overlap && !note.delivered) {
    counters_.stream_retransmissions.inc();  // a copy of buffered data
    note.overlap = false;
  }
  if (note.overlap) counters_.stream_overlap.inc();
  if (note.conflict) counters_.stream_overlap_conflict.inc();
}

// ---------------------------------------------------------------------------------------------
// Segments

void TcpReassembler::on_segment_slow(TcpStreamState& st, uint32_t dir, const TcpSegment& seg,
                                     const StreamSink& sink) noexcept {
  TcpStreamDir& d = st.dir[dir];
  TcpStreamDir& other = st.dir[dir ^ 1];
  const uint8_t fl = seg.flags;
  if (fl & kTcpRst) {
    // Not checked against the window: that needs the receiver's ACK state (docs/streams.md).
    if ((d.flags & other.flags & kStreamClosed) == 0) {
      counters_.stream_rst.inc();
      finish(st, StreamEnd::kRst, sink);
    }
    return;
  }
  if ((fl & kTcpAck) && (other.flags & kStreamHold)) ack_past_hole(other, dir ^ 1, seg.ack, sink);

  const uint8_t* p = seg.payload;
  uint32_t len = p != nullptr ? seg.len : 0;
  uint32_t wire = std::max(seg.wire_len, len);
  uint32_t seq = seg.seq;
  if (d.flags & kStreamClosed) {
    if (wire != 0 || (fl & kTcpFin)) {
      if ((d.flags & kStreamIsnKnown) && seq_le(seq + wire, d.next_seq)) {
        counters_.stream_retransmissions.inc();
      } else if (wire != 0) {
        counters_.stream_after_close.inc();
      }
    }
    return;
  }
  if (fl & kTcpSyn) {
    // A SYN sets the ISN unless this direction already produced something (then it is an old
    // retransmission). It consumes one sequence number; data on a SYN (TCP Fast Open,
    // RFC 7413) starts after it.
    if (!(d.flags & kStreamIsnKnown) ||
        (d.delivered == 0 && d.gap_bytes == 0 && !(d.flags & kStreamHold))) {
      d.next_seq = seq + 1;
      d.flags |= kStreamIsnKnown;
      d.info &= static_cast<uint8_t>(~kStreamMidstream);
    }
    ++seq;
  }
  if (!(d.flags & kStreamIsnKnown)) {
    if (wire == 0 && !(fl & kTcpFin)) return;  // a pure ACK says nothing reliable yet
    d.next_seq = seq;
    d.flags |= kStreamIsnKnown;
    d.info |= kStreamMidstream;
    counters_.stream_midstream_pickup.inc();
  }
  if (static_cast<int32_t>(seq + wire - d.next_seq) > static_cast<int32_t>(config_.max_seq_ahead)) {
    counters_.stream_seq_out_of_window.inc();
    return;
  }
  if (fl & kTcpFin) note_fin(d, seq + wire);
  if (wire != 0 && (d.flags & kStreamFinSeen) && seq_gt(seq + wire, d.fin_seq)) {
    counters_.stream_beyond_fin.inc();
    wire = seq_lt(seq, d.fin_seq) ? d.fin_seq - seq : 0;
    len = std::min(len, wire);
  }
  if (wire != 0) accept_data(d, dir, seq, p, len, wire, sink);
  check_fin(d, dir, sink);
  refresh_hold(d);
}

void TcpReassembler::finish(TcpStreamState& st, StreamEnd why, const StreamSink& sink) noexcept {
  for (uint32_t dir = 0; dir < 2; ++dir) {
    TcpStreamDir& d = st.dir[dir];
    if (d.flags & kStreamClosed) continue;
    if (d.ooo_head != kNoChunk) {
      uint32_t last = d.ooo_head;
      while (pool_.meta(last).next != kNoChunk) last = pool_.meta(last).next;
      skip_to(d, dir, pool_.meta(last).seq + pool_.meta(last).len, sink);
    }
    if (d.flags & kStreamFinSeen) {
      skip_to(d, dir, d.fin_seq, sink);
      check_fin(d, dir, sink);
      continue;
    }
    free_chunks(d);
    d.flags = static_cast<uint8_t>((d.flags | kStreamClosed) & ~kStreamHold);
    sink.end(dir, why);
  }
}

void TcpReassembler::flush(TcpStreamState& st, const StreamSink& sink) noexcept {
  finish(st, StreamEnd::kFlush, sink);
}

void TcpReassembler::release(TcpStreamState& st) noexcept {
  for (TcpStreamDir& d : st.dir) {
    free_chunks(d);
    d.flags = static_cast<uint8_t>((d.flags | kStreamClosed) & ~kStreamHold);
  }
}

}  // namespace flowscribe::flow
