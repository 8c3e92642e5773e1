// TCP stream reassembly: in order, retransmissions, overlaps (first wins), reordering in many
// permutations, sequence wrap, SYN-less pickup, FIN, RST, gaps at the caps and on ACKs, pool
// accounting. No DPDK, no hugepages.
#include <catch2/catch.hpp>

#include "tests/unit/doc_table.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "flowtable/tcp_stream.h"

namespace flowscribe::flow {
namespace {

// Records every event; gaps become '\0' runs in `view` so offsets line up with the original.
struct Recorder {
  std::string out[2];  // delivered bytes
  std::string view[2];
  uint64_t gap_bytes[2] = {0, 0};
  int gaps[2] = {0, 0};
  int ends[2] = {0, 0};
  StreamEnd why[2] = {StreamEnd::kFlush, StreamEnd::kFlush};
  std::vector<const uint8_t*> pointers;

  void data(uint32_t dir, const uint8_t* p, uint32_t n) {
    REQUIRE(dir < 2);
    REQUIRE(ends[dir] == 0);
    REQUIRE(n > 0);
    out[dir].append(reinterpret_cast<const char*>(p), n);
    view[dir].append(reinterpret_cast<const char*>(p), n);
    pointers.push_back(p);
  }
  void gap(uint32_t dir, uint32_t n) {
    REQUIRE(dir < 2);
    REQUIRE(ends[dir] == 0);
    REQUIRE(n > 0);
    gap_bytes[dir] += n;
    ++gaps[dir];
    view[dir].append(n, '\0');
  }
  void end(uint32_t dir, StreamEnd e) {
    REQUIRE(dir < 2);
    ++ends[dir];
    why[dir] = e;
  }
};

TcpStreamConfig roomy_config() {
  TcpStreamConfig c;
  c.pool_chunks = 1024;
  c.max_ooo_bytes = 1 << 20;
  c.max_ooo_chunks = 255;
  return c;
}

struct Rig {
  std::unique_ptr<TcpReassembler> r;
  TcpStreamState st;
  Recorder rec;

  explicit Rig(const TcpStreamConfig& c = roomy_config()) {
    auto made = TcpReassembler::create(c);
    REQUIRE(made.ok());
    r = std::move(made).value();
    TcpReassembler::init(st);
  }
  void seg(uint32_t dir, uint32_t seq, std::string_view bytes, uint8_t flags = kTcpAck,
           uint32_t ack = 0, uint32_t wire_len = 0) {
    TcpSegment s;
    s.seq = seq;
    s.ack = ack;
    s.flags = flags;
    s.payload = bytes.empty() ? nullptr : reinterpret_cast<const uint8_t*>(bytes.data());
    s.len = static_cast<uint32_t>(bytes.size());
    s.wire_len = wire_len;
    r->on_segment(st, dir, s, rec);
  }
  void syn(uint32_t dir, uint32_t isn) { seg(dir, isn, "", dir == 0 ? kTcpSyn : kTcpSyn | kTcpAck); }
  const StreamCounters& c() const { return r->counters(); }
  bool pool_full() const { return r->pool().free_count() == r->pool().capacity(); }
};

std::string random_bytes(std::mt19937& rng, size_t n) {
  std::string s(n, '\0');
  for (char& ch : s) ch = static_cast<char>(rng() & 0xff);
  return s;
}

TEST_CASE("sequence arithmetic wraps modulo 2^32", "[stream]") {
  CHECK(seq_lt(0xfffffff0u, 0x10u));
  CHECK(seq_gt(0x10u, 0xfffffff0u));
  CHECK(seq_le(5, 5));
  CHECK(seq_ge(5, 5));
  CHECK_FALSE(seq_lt(5, 5));
  CHECK(seq_lt(0, 0x7fffffffu));
  CHECK(seq_gt(0, 0x80000001u));
}

TEST_CASE("in-order data is delivered straight from the packet", "[stream]") {
  Rig g;
  g.syn(0, 1000);
  const std::string a = "GET / HTTP/1.1\r\n", b = "Host: x\r\n\r\n";
  g.seg(0, 1001, a);
  g.seg(0, 1001 + a.size(), b);
  CHECK(g.rec.out[0] == a + b);
  REQUIRE(g.rec.pointers.size() == 2);
  CHECK(g.rec.pointers[0] == reinterpret_cast<const uint8_t*>(a.data()));  // zero copy
  CHECK(g.rec.pointers[1] == reinterpret_cast<const uint8_t*>(b.data()));
  CHECK(g.st.dir[0].delivered == a.size() + b.size());
  CHECK(g.c().stream_bytes_delivered.get() == a.size() + b.size());
  CHECK(g.c().stream_segments.get() == 3);
  CHECK(g.c().stream_ooo_bytes.get() == 0);
  CHECK(g.st.dir[0].flags == kStreamIsnKnown);
  CHECK((g.st.dir[0].info & kStreamMidstream) == 0);
  // Pure ACKs from the other side do not disturb anything.
  g.seg(1, 5000, "", kTcpAck, 1001 + static_cast<uint32_t>(a.size()));
  CHECK(g.rec.out[1].empty());
  CHECK(g.c().stream_midstream_pickup.get() == 0);
}

TEST_CASE("retransmissions are dropped and counted", "[stream]") {
  Rig g;
  g.syn(0, 0);
  g.seg(0, 1, "hello");
  g.seg(0, 1, "hello");
  g.seg(0, 3, "ll");      // inside delivered data
  g.syn(0, 0);            // SYN retransmitted after data: ignored
  g.seg(0, 6, " world");
  CHECK(g.rec.out[0] == "hello world");
  CHECK(g.c().stream_retransmissions.get() == 2);
  CHECK(g.c().stream_overlap_conflict.get() == 0);
}

TEST_CASE("partial overlap with delivered data delivers only the new tail", "[stream]") {
  Rig g;
  g.syn(0, 100);
  g.seg(0, 101, "abcdef");
  g.seg(0, 104, "defghi");
  CHECK(g.rec.out[0] == "abcdefghi");
  CHECK(g.c().stream_overlap.get() == 1);
  CHECK(g.c().stream_retransmissions.get() == 0);
  // Different bytes for delivered data cannot be compared (they are not kept): first wins.
  g.seg(0, 107, "XYZjkl");
  CHECK(g.rec.out[0] == "abcdefghijkl");
}

TEST_CASE("overlap with buffered data: first wins, differences are conflicts", "[stream]") {
  Rig g;
  g.syn(0, 0);
  g.seg(0, 6, "WORLD");  // out of order: buffered
  CHECK(g.rec.out[0].empty());
  CHECK(g.c().stream_ooo_segments.get() == 1);
  CHECK(g.r->pool().free_count() == g.r->pool().capacity() - 1);

  SECTION("same bytes: a retransmission, no conflict") {
    g.seg(0, 6, "WORLD");
    CHECK(g.c().stream_retransmissions.get() == 1);
    g.seg(0, 1, "HELLO");
    CHECK(g.rec.out[0] == "HELLOWORLD");
    CHECK(g.c().stream_overlap_conflict.get() == 0);
  }
  SECTION("different bytes on a buffered range keep the original") {
    g.seg(0, 7, "ABC");
    CHECK(g.c().stream_overlap_conflict.get() == 1);
    g.seg(0, 1, "HELLO");
    CHECK(g.rec.out[0] == "HELLOWORLD");
  }
  SECTION("an in-order segment covering buffered bytes: buffered bytes win") {
    g.seg(0, 1, "HELLOwor");  // overlaps WOR of the buffered chunk
    CHECK(g.rec.out[0] == "HELLOWORLD");
    CHECK(g.c().stream_overlap_conflict.get() == 1);
    CHECK(g.c().stream_overlap.get() == 1);
  }
  SECTION("a segment spanning holes and chunks fills only the holes") {
    g.seg(0, 14, "!!");           // chunks: [6,11) [14,16)
    g.seg(0, 3, "llOWORLDxyz!!?");  // 3..17: fills [3,6) [11,14) [16,17)
    CHECK(g.rec.out[0].empty());
    g.seg(0, 1, "HE");
    CHECK(g.rec.out[0] == "HEllOWORLDxyz!!?");
    CHECK(g.c().stream_overlap_conflict.get() == 0);
  }
  CHECK(g.pool_full());
}

TEST_CASE("out-of-order segments wait for the hole", "[stream]") {
  Rig g;
  g.syn(1, 7);
  g.seg(1, 8 + 6, "world");
  g.seg(1, 8 + 11, "!");
  g.seg(1, 8 + 5, " ");
  CHECK(g.rec.out[1].empty());
  g.seg(1, 8, "hello");
  CHECK(g.rec.out[1] == "hello world!");
  CHECK(g.st.dir[1].ooo_head == kNoChunk);
  CHECK(g.st.dir[1].ooo_bytes == 0);
  CHECK(g.pool_full());
  CHECK(g.c().stream_gap.get() == 0);
}

TEST_CASE("1-byte segments in any order share chunks", "[stream]") {
  std::mt19937 rng(7);
  const std::string text = random_bytes(rng, 200);  // scattered bytes take a chunk each
  std::vector<uint32_t> idx(text.size());
  for (uint32_t i = 0; i < idx.size(); ++i) idx[i] = i;
  // Reverse-ish: everything but the first byte arrives before it, ascending, so the pool
  // must merge adjacent 1-byte runs into shared chunks to stay under the chunk cap.
  TcpStreamConfig c = roomy_config();
  c.max_ooo_chunks = 4;
  Rig g(c);
  g.syn(0, 0xfffffff0u);
  for (size_t i = 1; i < text.size(); ++i) {
    g.seg(0, 0xfffffff1u + static_cast<uint32_t>(i), std::string_view(text).substr(i, 1));
  }
  CHECK(g.st.dir[0].ooo_chunks <= 2);
  CHECK(g.c().stream_ooo_cap_hit.get() == 0);
  g.seg(0, 0xfffffff1u, std::string_view(text).substr(0, 1));
  CHECK((g.rec.out[0] == text));
  CHECK(g.pool_full());

  // Shuffled 1-byte segments with a roomy cap.
  std::shuffle(idx.begin(), idx.end(), rng);
  Rig h;
  h.syn(0, 41);
  for (uint32_t i : idx) h.seg(0, 42 + i, std::string_view(text).substr(i, 1));
  CHECK((h.rec.out[0] == text));
  CHECK(h.c().stream_gap.get() == 0);
  CHECK(h.pool_full());
}

TEST_CASE("sequence numbers wrap at 2^32", "[stream]") {
  std::mt19937 rng(11);
  const std::string text = random_bytes(rng, 600);
  for (uint32_t isn : {0xffffffffu, 0xfffffffeu, 0xffffff00u, 0x7fffffffu}) {
    Rig g;
    g.syn(0, isn);
    const uint32_t base = isn + 1;
    g.seg(0, base + 400, std::string_view(text).substr(400));
    g.seg(0, base + 200, std::string_view(text).substr(200, 200));
    g.seg(0, base, std::string_view(text).substr(0, 250));
    CHECK((g.rec.out[0] == text));
    g.seg(0, base + 600, "", kTcpFin | kTcpAck);
    CHECK(g.rec.ends[0] == 1);
    CHECK(g.rec.why[0] == StreamEnd::kFin);
    CHECK(g.pool_full());
  }
}

TEST_CASE("SYN-less pickup starts at the first data segment", "[stream]") {
  Rig g;
  g.seg(0, 5000, "", kTcpAck, 9);  // pure ACK: not a reason to pick up
  CHECK((g.st.dir[0].flags & kStreamIsnKnown) == 0);
  g.seg(0, 5000, "tail of a request");
  g.seg(1, 9, "HTTP/1.1 200 OK");
  CHECK(g.rec.out[0] == "tail of a request");
  CHECK(g.rec.out[1] == "HTTP/1.1 200 OK");
  CHECK(g.c().stream_midstream_pickup.get() == 2);
  CHECK((g.st.dir[0].info & kStreamMidstream) != 0);
  // Earlier data (captured late) is behind the pickup point: dropped as a retransmission.
  g.seg(0, 4990, "0123456789");
  CHECK(g.c().stream_retransmissions.get() == 1);
  g.seg(0, 5017, "!");
  CHECK(g.rec.out[0] == "tail of a request!");
}

TEST_CASE("FIN ends a direction after all data before it", "[stream]") {
  Rig g;
  g.syn(0, 0);
  g.syn(1, 1000);
  SECTION("FIN on the last data segment") {
    g.seg(0, 1, "abc");
    g.seg(0, 4, "def", kTcpFin | kTcpAck);
    CHECK(g.rec.out[0] == "abcdef");
    CHECK(g.rec.ends[0] == 1);
    CHECK(g.rec.why[0] == StreamEnd::kFin);
    CHECK(g.rec.ends[1] == 0);
    CHECK(g.c().stream_fin.get() == 1);
    // FIN retransmitted, data after the FIN: ignored.
    g.seg(0, 4, "def", kTcpFin | kTcpAck);
    g.seg(0, 8, "zzz");
    CHECK(g.rec.ends[0] == 1);
    CHECK(g.c().stream_retransmissions.get() == 1);
    CHECK(g.c().stream_after_close.get() == 1);
  }
  SECTION("FIN before the last data segment") {
    g.seg(0, 1, "abc");
    g.seg(0, 7, "", kTcpFin | kTcpAck);
    CHECK(g.rec.ends[0] == 0);
    CHECK((g.st.dir[0].flags & kStreamHold) != 0);
    g.seg(0, 4, "defEXTRA");  // bytes past the FIN are trimmed
    CHECK(g.rec.out[0] == "abcdef");
    CHECK(g.rec.ends[0] == 1);
    CHECK(g.c().stream_beyond_fin.get() == 1);
  }
  SECTION("buffered data past a late FIN is dropped") {
    g.seg(0, 10, "xyz");
    g.seg(0, 4, "def", kTcpFin | kTcpAck);
    CHECK(g.c().stream_beyond_fin.get() == 1);
    g.seg(0, 1, "abc");
    CHECK(g.rec.out[0] == "abcdef");
    CHECK(g.rec.ends[0] == 1);
  }
  SECTION("a FIN below delivered data is ignored") {
    g.seg(0, 1, "abcdef");
    g.seg(0, 3, "", kTcpFin | kTcpAck);
    CHECK(g.rec.ends[0] == 0);
    CHECK(g.c().stream_fin_invalid.get() == 1);
    g.seg(0, 7, "", kTcpFin | kTcpAck);
    CHECK(g.rec.ends[0] == 1);
  }
  SECTION("FIN with data in the other order, then flush ends the other side") {
    g.seg(1, 1001, "reply", kTcpFin | kTcpAck);
    CHECK(g.rec.ends[1] == 1);
    g.r->flush(g.st, g.rec);
    CHECK(g.rec.ends[0] == 1);
    CHECK(g.rec.why[0] == StreamEnd::kFlush);
    CHECK(g.rec.ends[1] == 1);
  }
  CHECK(g.pool_full());
}

TEST_CASE("RST ends both directions once", "[stream]") {
  Rig g;
  g.syn(0, 0);
  g.syn(1, 500);
  g.seg(0, 1, "req");
  g.seg(1, 501, "par");
  g.seg(1, 510, "buffered");  // hole [504, 510)
  g.seg(1, 0, "", kTcpRst);  // RST seq is not checked
  CHECK(g.rec.ends[0] == 1);
  CHECK(g.rec.ends[1] == 1);
  CHECK(g.rec.why[0] == StreamEnd::kRst);
  CHECK(g.rec.why[1] == StreamEnd::kRst);
  CHECK(g.rec.out[1] == "parbuffered");  // the hole is reported, then the buffered run
  CHECK(g.rec.gap_bytes[1] == 6);
  CHECK(g.c().stream_rst.get() == 1);
  CHECK(g.pool_full());
  g.seg(1, 0, "", kTcpRst);
  g.seg(0, 4, "more");
  g.r->flush(g.st, g.rec);
  CHECK(g.rec.ends[0] == 1);
  CHECK(g.rec.ends[1] == 1);
  CHECK(g.c().stream_rst.get() == 1);
  CHECK(g.c().stream_after_close.get() == 1);
}

TEST_CASE("RST after one side's FIN: FIN side keeps kFin", "[stream]") {
  Rig g;
  g.syn(0, 0);
  g.seg(0, 1, "x", kTcpFin | kTcpAck);
  g.seg(1, 77, "", kTcpRst | kTcpAck);
  CHECK(g.rec.why[0] == StreamEnd::kFin);
  CHECK(g.rec.why[1] == StreamEnd::kRst);
  CHECK(g.rec.ends[0] == 1);
  CHECK(g.rec.ends[1] == 1);
}

TEST_CASE("cap hit: the hole becomes a gap and delivery continues", "[stream]") {
  TcpStreamConfig c = roomy_config();
  c.max_ooo_bytes = 4096;
  Rig g(c);
  std::mt19937 rng(3);
  const std::string text = random_bytes(rng, 20000);
  g.syn(0, 0);
  // Segment 0 (1000 bytes) is lost; the rest arrives in order.
  for (uint32_t off = 1000; off < text.size(); off += 1000) {
    g.seg(0, 1 + off, std::string_view(text).substr(off, 1000));
    CHECK(g.st.dir[0].ooo_bytes <= 4096);
  }
  CHECK(g.c().stream_ooo_cap_hit.get() == 1);
  CHECK(g.c().stream_gap.get() == 1);
  CHECK(g.rec.gap_bytes[0] == 1000);
  CHECK(g.rec.gaps[0] == 1);
  CHECK((g.rec.out[0] == text.substr(1000)));
  CHECK((g.st.dir[0].info & kStreamGapSeen) != 0);
  CHECK(g.st.dir[0].gap_bytes == 1000);
  // The lost segment finally arrives: too late.
  g.seg(0, 1, std::string_view(text).substr(0, 1000));
  CHECK(g.c().stream_retransmissions.get() == 1);
  CHECK(g.pool_full());
}

TEST_CASE("chunk cap hit behaves like the byte cap", "[stream]") {
  TcpStreamConfig c = roomy_config();
  c.max_ooo_chunks = 3;
  Rig g(c);
  g.syn(0, 0);
  g.seg(0, 11, "B");
  g.seg(0, 21, "C");
  g.seg(0, 31, "D");
  g.seg(0, 41, "E");  // fourth chunk: hole [1, 11) is given up, B delivered
  CHECK(g.c().stream_ooo_cap_hit.get() == 1);
  CHECK(g.rec.view[0] == std::string(10, '\0') + "B");
  g.r->flush(g.st, g.rec);
  CHECK(g.rec.view[0] == std::string(10, '\0') + "B" + std::string(9, '\0') + "C" +
                             std::string(9, '\0') + "D" + std::string(9, '\0') + "E");
  CHECK(g.rec.ends[0] == 1);
  CHECK(g.pool_full());
}

TEST_CASE("a segment larger than the cap is delivered after a gap", "[stream]") {
  TcpStreamConfig c = roomy_config();
  c.max_ooo_bytes = 1000;
  Rig g(c);
  std::mt19937 rng(5);
  const std::string big = random_bytes(rng, 5000);
  g.syn(0, 0);
  g.seg(0, 101, big);  // 100-byte hole, 5000 bytes: cannot be buffered
  CHECK(g.rec.gap_bytes[0] == 100);
  CHECK((g.rec.out[0] == big));
  CHECK(g.c().stream_ooo_cap_hit.get() == 1);
  CHECK(g.pool_full());
}

TEST_CASE("pool exhaustion: flows give up their own holes", "[stream]") {
  TcpStreamConfig c = roomy_config();
  c.pool_chunks = 2;
  auto made = TcpReassembler::create(c);
  REQUIRE(made.ok());
  auto& r = *made.value();
  TcpStreamState a, b;
  TcpReassembler::init(a);
  TcpReassembler::init(b);
  Recorder ra, rb;
  std::mt19937 rng(9);
  const std::string text = random_bytes(rng, 8000);
  auto send = [&](TcpStreamState& st, Recorder& rec, uint32_t off, uint32_t n) {
    TcpSegment s;
    s.seq = 1 + off;
    s.flags = kTcpAck;
    s.payload = reinterpret_cast<const uint8_t*>(text.data()) + off;
    s.len = n;
    r.on_segment(st, 0, s, rec);
  };
  TcpSegment syn;
  syn.flags = kTcpSyn;
  r.on_segment(a, 0, syn, ra);
  r.on_segment(b, 0, syn, rb);
  send(a, ra, 1000, 1000);  // a holds one chunk
  send(a, ra, 3000, 1000);  // a holds two: the pool is empty
  CHECK(r.pool().free_count() == 0);
  send(b, rb, 1000, 1000);  // b has nothing to give up: jumps its hole
  CHECK(r.counters().stream_pool_exhausted.get() == 1);
  CHECK(rb.gap_bytes[0] == 1000);
  CHECK((rb.out[0] == text.substr(1000, 1000)));
  send(a, ra, 5000, 1000);  // a gives up its first hole to make room
  CHECK(r.counters().stream_pool_exhausted.get() == 2);
  CHECK(ra.gap_bytes[0] == 1000);
  CHECK((ra.out[0] == text.substr(1000, 1000)));
  // Everything delivered + gaps == stream length at the end.
  send(a, ra, 2000, 1000);
  send(b, rb, 2000, 6000);
  r.flush(a, ra);
  r.flush(b, rb);
  CHECK(ra.view[0].size() == 6000);
  CHECK(rb.view[0].size() == 8000);
  CHECK(ra.out[0].size() + ra.gap_bytes[0] == 6000);
  CHECK(r.pool().free_count() == r.pool().capacity());
}

TEST_CASE("a pool of zero chunks reports every hole at once", "[stream]") {
  TcpStreamConfig c = roomy_config();
  c.pool_chunks = 0;
  Rig g(c);
  g.syn(0, 0);
  g.seg(0, 6, "world");
  g.seg(0, 1, "hello");
  CHECK(g.rec.view[0] == std::string(5, '\0') + "world");
  CHECK(g.c().stream_pool_exhausted.get() == 1);
}

TEST_CASE("an ACK past a hole declares it lost", "[stream]") {
  Rig g;
  g.syn(0, 0);
  g.syn(1, 100);
  g.seg(0, 1, "abc");
  g.seg(0, 10, "jkl");          // hole [4, 10)
  g.seg(1, 101, "", kTcpAck, 8);   // ACK inside the hole: may be capture skew, wait
  CHECK(g.rec.gaps[0] == 0);
  g.seg(1, 101, "", kTcpAck, 13);  // ACK past buffered data: the hole is lost
  CHECK(g.rec.view[0] == std::string("abc") + std::string(6, '\0') + "jkl");
  CHECK(g.c().stream_gap_acked.get() == 1);
  CHECK(g.pool_full());
  SECTION("and a FIN waiting behind a hole") {
    g.seg(0, 20, "", kTcpFin | kTcpAck);  // hole [13, 20)
    g.seg(1, 101, "", kTcpAck, 21);
    CHECK(g.rec.ends[0] == 1);
    CHECK(g.rec.gap_bytes[0] == 6 + 7);
  }
}

TEST_CASE("snaplen-truncated segments: the missing tail is a gap", "[stream]") {
  Rig g;
  g.syn(0, 0);
  g.seg(0, 1, "abcd", kTcpAck, 0, 10);  // 10 on the wire, 4 captured
  g.seg(0, 11, "klm");
  CHECK(g.rec.view[0] == std::string("abcd") + std::string(6, '\0') + "klm");
  CHECK(g.c().stream_truncated.get() == 0);  // in order: reported as a gap at once
  g.seg(0, 24, "xyz", kTcpAck, 0, 5);  // out of order and truncated
  CHECK(g.c().stream_truncated.get() == 1);
  g.seg(0, 14, "nopqrstuvw");
  g.r->flush(g.st, g.rec);
  CHECK(g.rec.view[0] == std::string("abcd") + std::string(6, '\0') + "klmnopqrstuvwxyz");
}

TEST_CASE("segments far beyond the window are dropped", "[stream]") {
  Rig g;
  g.syn(0, 0);
  g.seg(0, 1 + (1u << 30) + 10, "bogus");
  CHECK(g.c().stream_seq_out_of_window.get() == 1);
  CHECK(g.pool_full());
  g.seg(0, 1 + 0x90000000u, "behind");  // more than 2^31 ahead is behind: a retransmission
  CHECK(g.c().stream_retransmissions.get() == 1);
  g.seg(0, 1, "ok");
  CHECK(g.rec.out[0] == "ok");
}

TEST_CASE("TCP Fast Open data on the SYN", "[stream]") {
  Rig g;
  g.seg(0, 99, "early", kTcpSyn);
  g.seg(0, 105, "!");
  CHECK(g.rec.out[0] == "early!");
}

TEST_CASE("release returns every chunk and silences the flow", "[stream]") {
  Rig g;
  g.syn(0, 0);
  g.syn(1, 0);
  for (uint32_t i = 1; i < 40; ++i) {
    g.seg(0, 1 + i * 3000, std::string(1500, 'a'));
    g.seg(1, 1 + i * 3000, std::string(1500, 'b'));
  }
  CHECK(g.r->pool().free_count() < g.r->pool().capacity());
  g.r->release(g.st);
  CHECK(g.pool_full());
  g.seg(0, 1, "x");
  g.r->flush(g.st, g.rec);
  CHECK(g.rec.out[0].empty());
  CHECK(g.rec.ends[0] == 0);
  CHECK(g.rec.ends[1] == 0);
}

TEST_CASE("create rejects bad configurations", "[stream]") {
  TcpStreamConfig c;
  c.max_ooo_chunks = 256;
  CHECK(TcpReassembler::create(c).status().code() == absl::StatusCode::kInvalidArgument);
  c = {};
  c.max_seq_ahead = 0;
  CHECK_FALSE(TcpReassembler::create(c).ok());
  c = {};
  c.max_seq_ahead = (1u << 30) + 1;
  CHECK_FALSE(TcpReassembler::create(c).ok());
  c = {};
  c.pool_chunks = SegmentPool::kMaxChunks + 1;
  CHECK_FALSE(TcpReassembler::create(c).ok());
  CHECK(stream_end_name(StreamEnd::kRst) == std::string("rst"));
}

// The property test: a 10 KB stream cut into random segments, with duplicates and overlapping
// re-sends of random ranges, shuffled, and the FIN anywhere in the order, comes out exactly.
struct Piece {
  uint32_t off;
  uint32_t len;
  bool fin;
};

std::vector<Piece> random_pieces(std::mt19937& rng, uint32_t total, uint32_t max_seg) {
  std::vector<Piece> v;
  for (uint32_t off = 0; off < total;) {
    const uint32_t n = std::min(total - off, 1 + static_cast<uint32_t>(rng() % max_seg));
    v.push_back({off, n, off + n == total});
    off += n;
  }
  const size_t extra = rng() % (v.size() / 2 + 2);
  for (size_t i = 0; i < extra; ++i) {
    if (rng() % 2) {
      v.push_back(v[rng() % v.size()]);  // exact duplicate
    } else {
      const uint32_t a = rng() % total;
      const uint32_t n = 1 + rng() % std::min<uint32_t>(total - a, 4000);
      v.push_back({a, n, false});  // overlapping range
    }
  }
  if (rng() % 2) v.push_back({total, 0, true});  // separate FIN (maybe twice)
  std::shuffle(v.begin(), v.end(), rng);
  return v;
}

TEST_CASE("random segmentation, reordering, duplicates and overlaps: exact output",
          "[stream][property]") {
  auto made = TcpReassembler::create(roomy_config());
  REQUIRE(made.ok());
  TcpReassembler& r = *made.value();
  int seeds = 0;
  for (uint32_t seed = 1; seed <= 3000; ++seed) {
    std::mt19937 rng(seed);
    // Tiny segments in random order each take a chunk: keep those streams under the cap.
    const uint32_t max_seg = seed % 4 == 0 ? 1 + rng() % 16 : 1 + rng() % 3000;
    const uint32_t total = 1 + rng() % std::min<uint32_t>(10240, max_seg * 100);
    const std::string text = random_bytes(rng, total);
    const uint32_t isn = seed % 3 == 0 ? 0xffffffffu - rng() % 12000 : static_cast<uint32_t>(rng());
    const std::vector<Piece> pieces = random_pieces(rng, total, max_seg);
    TcpStreamState st;
    TcpReassembler::init(st);
    Recorder rec;
    TcpSegment syn;
    syn.seq = isn;
    syn.flags = kTcpSyn;
    r.on_segment(st, 0, syn, rec);
    for (const Piece& p : pieces) {
      TcpSegment s;
      s.seq = isn + 1 + p.off;
      s.flags = static_cast<uint8_t>(kTcpAck | (p.fin ? kTcpFin : 0));
      s.payload = p.len ? reinterpret_cast<const uint8_t*>(text.data()) + p.off : nullptr;
      s.len = p.len;
      r.on_segment(st, 0, s, rec);
    }
    INFO("seed " << seed << " total " << total << " pieces " << pieces.size());
    REQUIRE(rec.out[0].size() == text.size());
    REQUIRE((rec.out[0] == text));
    REQUIRE(rec.gaps[0] == 0);
    REQUIRE(rec.ends[0] == 1);
    REQUIRE(rec.why[0] == StreamEnd::kFin);
    REQUIRE(st.dir[0].ooo_head == kNoChunk);
    REQUIRE(r.pool().free_count() == r.pool().capacity());
    r.flush(st, rec);
    REQUIRE(rec.ends[0] == 1);
    REQUIRE(rec.ends[1] == 1);
    ++seeds;
  }
  CHECK(seeds == 3000);
  CHECK(r.counters().stream_overlap_conflict.get() == 0);
  CHECK(r.counters().stream_gap.get() == 0);
  CHECK(r.counters().stream_ooo_segments.get() > 0);
  CHECK(r.counters().stream_retransmissions.get() > 0);
  CHECK(r.counters().stream_overlap.get() > 0);
}

// Same, with tight caps and a small pool shared by several interleaved flows: whatever was
// delivered sits at its exact offset, and delivered + gap bytes == stream length.
TEST_CASE("random streams under tight limits: delivered + gaps == length", "[stream][property]") {
  TcpStreamConfig c;
  c.pool_chunks = 12;
  c.max_ooo_bytes = 6000;
  c.max_ooo_chunks = 5;
  auto made = TcpReassembler::create(c);
  REQUIRE(made.ok());
  TcpReassembler& r = *made.value();
  constexpr int kFlows = 4;
  for (uint32_t seed = 1; seed <= 600; ++seed) {
    std::mt19937 rng(seed * 7919);
    std::string text[kFlows];
    std::vector<Piece> pieces[kFlows];
    TcpStreamState st[kFlows];
    Recorder rec[kFlows];
    uint32_t isn[kFlows];
    for (int f = 0; f < kFlows; ++f) {
      text[f] = random_bytes(rng, 1 + rng() % 10240);
      const uint32_t max_seg = rng() % 4 == 0 ? 1 + rng() % 16 : 1 + rng() % 3000;
      pieces[f] = random_pieces(rng, static_cast<uint32_t>(text[f].size()), max_seg);
      isn[f] = static_cast<uint32_t>(rng());
      TcpReassembler::init(st[f]);
      TcpSegment syn;
      syn.seq = isn[f];
      syn.flags = kTcpSyn;
      r.on_segment(st[f], 0, syn, rec[f]);
    }
    size_t next[kFlows] = {};
    for (bool more = true; more;) {
      more = false;
      for (int f = 0; f < kFlows; ++f) {
        if (next[f] == pieces[f].size()) continue;
        more = true;
        const Piece& p = pieces[f][next[f]++];
        TcpSegment s;
        s.seq = isn[f] + 1 + p.off;
        s.flags = static_cast<uint8_t>(kTcpAck | (p.fin ? kTcpFin : 0));
        s.payload = p.len ? reinterpret_cast<const uint8_t*>(text[f].data()) + p.off : nullptr;
        s.len = p.len;
        r.on_segment(st[f], 0, s, rec[f]);
        REQUIRE(st[f].dir[0].ooo_bytes <= c.max_ooo_bytes);
        REQUIRE(st[f].dir[0].ooo_chunks <= c.max_ooo_chunks);
      }
    }
    for (int f = 0; f < kFlows; ++f) {
      r.flush(st[f], rec[f]);
      INFO("seed " << seed << " flow " << f);
      const std::string& v = rec[f].view[0];
      REQUIRE(v.size() == text[f].size());
      REQUIRE(rec[f].out[0].size() + rec[f].gap_bytes[0] == text[f].size());
      REQUIRE(st[f].dir[0].delivered == rec[f].out[0].size());
      for (size_t i = 0; i < v.size(); ++i) {
        if (v[i] != text[f][i]) REQUIRE(v[i] == '\0');  // only gap filler may differ
      }
      REQUIRE(rec[f].ends[0] == 1);
      REQUIRE(rec[f].why[0] == StreamEnd::kFin);  // the FIN was seen: kFin even after gaps
    }
    REQUIRE(r.pool().free_count() == r.pool().capacity());
  }
  CHECK(r.counters().stream_overlap_conflict.get() == 0);
  CHECK(r.counters().stream_gap.get() > 0);
  CHECK(r.counters().stream_pool_exhausted.get() > 0);
  CHECK(r.counters().stream_ooo_cap_hit.get() > 0);
}

// Hostile input: random sequence numbers, flags, lengths and ACKs on both directions of a
// few flows. Nothing may crash, limits hold, and every chunk comes back.
TEST_CASE("random hostile segments keep the invariants", "[stream][property]") {
  TcpStreamConfig c;
  c.pool_chunks = 16;
  c.max_ooo_bytes = 8000;
  c.max_ooo_chunks = 6;
  c.max_seq_ahead = 1 << 16;
  auto made = TcpReassembler::create(c);
  REQUIRE(made.ok());
  TcpReassembler& r = *made.value();
  std::mt19937 rng(12345);
  const std::string junk = random_bytes(rng, 70000);
  for (int round = 0; round < 300; ++round) {
    TcpStreamState st[3];
    Recorder rec[3];
    for (auto& s : st) TcpReassembler::init(s);
    const uint32_t base = static_cast<uint32_t>(rng());
    for (int i = 0; i < 400; ++i) {
      const int f = static_cast<int>(rng() % 3);
      // One draw per statement: the order of rng() calls must not depend on the compiler.
      TcpSegment s;
      s.seq = base + rng() % 40000;
      if (rng() % 8 == 0) s.seq += 0x80000000u;  // far behind / far ahead
      s.ack = base + rng() % 40000;
      const uint32_t flag_mask = rng() % 50 == 0 ? 0xff : 0xfb;  // rare RSTs
      s.flags = static_cast<uint8_t>(rng() & flag_mask);
      if (rng() % 3 != 0) {
        const uint32_t max_len = rng() % 4 == 0 ? 65000 : 1600;
        s.len = 1 + rng() % max_len;
        s.payload = reinterpret_cast<const uint8_t*>(junk.data()) + rng() % 5000;
      }
      if (rng() % 10 == 0) s.wire_len = s.len + rng() % 3000;
      const uint32_t dir = rng() % 2;
      r.on_segment(st[f], dir, s, rec[f]);
      for (const TcpStreamDir& d : st[f].dir) {
        REQUIRE(d.ooo_bytes <= c.max_ooo_bytes);
        REQUIRE(d.ooo_chunks <= c.max_ooo_chunks);
        uint32_t n = 0, bytes = 0;
        for (uint32_t ch = d.ooo_head; ch != kNoChunk; ch = r.pool().meta(ch).next) {
          const SegmentPool::Meta& m = r.pool().meta(ch);
          REQUIRE(m.len > 0);
          REQUIRE(m.off + m.len <= SegmentPool::kChunkBytes);
          REQUIRE(seq_gt(m.seq, d.next_seq));  // everything at next_seq was delivered
          if (m.next != kNoChunk) REQUIRE(seq_lt(m.seq + m.len, r.pool().meta(m.next).seq + 1));
          bytes += m.len;
          ++n;
        }
        REQUIRE(n == d.ooo_chunks);
        REQUIRE(bytes == d.ooo_bytes);
      }
    }
    for (int f = 0; f < 3; ++f) {
      if (round % 2) {
        r.flush(st[f], rec[f]);
        REQUIRE(rec[f].ends[0] == 1);
        REQUIRE(rec[f].ends[1] == 1);
      } else {
        r.release(st[f]);
      }
      for (int d = 0; d < 2; ++d) {
        REQUIRE(st[f].dir[d].delivered == rec[f].out[d].size());
        REQUIRE(rec[f].ends[d] <= 1);
      }
    }
    REQUIRE(r.pool().free_count() == r.pool().capacity());
  }
}

// Every counter in FS_STREAM_COUNTERS has a row in docs/streams.md ("## Counters") with the
// same text, and the section has no other rows.
TEST_CASE("docs/streams.md lists every stream counter", "[stream][docs]") {
  flowscribe::testing::check_doc_counters<StreamCounters>(__FILE__, "streams.md", "## Counters");
}

// Not run by default: `tcp_stream_test "[.bench]"`. Cost of the in-order fast path.
struct CountingSink {
  uint64_t bytes = 0;
  void data(uint32_t, const uint8_t* p, uint32_t n) { bytes += n + p[0]; }
  void gap(uint32_t, uint32_t) {}
  void end(uint32_t, StreamEnd) {}
};

TEST_CASE("in-order segment cost", "[.bench]") {
  auto made = TcpReassembler::create(roomy_config());
  REQUIRE(made.ok());
  TcpReassembler& r = *made.value();
  static uint8_t payload[1460] = {1};
  constexpr uint32_t kFlows = 1024;  // states spread over 64 KiB, like a busy worker's hot set
  std::vector<TcpStreamState> st(kFlows);
  CountingSink sink;
  for (auto& s : st) {
    TcpReassembler::init(s);
    TcpSegment syn;
    syn.flags = kTcpSyn;
    r.on_segment(s, 0, syn, sink);
  }
  std::vector<uint32_t> seq(kFlows, 1);
  constexpr uint32_t kRounds = 20'000'000;
  const auto t0 = std::chrono::steady_clock::now();
  for (uint32_t i = 0; i < kRounds; ++i) {
    const uint32_t f = (i * 2654435761u) >> 22;  // 0..1023, scrambled
    TcpSegment s;
    s.seq = seq[f];
    s.flags = kTcpAck | kTcpPsh;
    s.payload = payload;
    s.len = 1460;
    r.on_segment(st[f], 0, s, sink);
    seq[f] += 1460;
  }
  const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0)
                        .count() / kRounds;
  WARN("in-order 1460-byte segment: " << ns << " ns (" << sink.bytes / kRounds << " B each)");
  CHECK(r.counters().stream_ooo_segments.get() == 0);

  // Every pair swapped: the second segment is copied into a chunk, then drained after the first.
  constexpr uint32_t kPairs = 5'000'000;
  const auto t1 = std::chrono::steady_clock::now();
  for (uint32_t i = 0; i < kPairs; ++i) {
    const uint32_t f = (i * 2654435761u) >> 22;
    TcpSegment s;
    s.flags = kTcpAck;
    s.payload = payload;
    s.len = 1460;
    s.seq = seq[f] + 1460;
    r.on_segment(st[f], 0, s, sink);
    s.seq = seq[f];
    r.on_segment(st[f], 0, s, sink);
    seq[f] += 2 * 1460;
  }
  const double ns2 = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t1)
                         .count() / kPairs;
  WARN("swapped pair of 1460-byte segments: " << ns2 << " ns per pair");
  CHECK(r.counters().stream_ooo_segments.get() == kPairs);
  CHECK(r.pool().free_count() == r.pool().capacity());
}

}  // namespace
}  // namespace flowscribe::flow
