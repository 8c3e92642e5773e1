// The offline sensor's pcap and pcapng reader (sensor/pcap_file.h) against libpcap, the reader
// it replaces: on every test capture, and on files written here to hit each rule (byte order,
// nanoseconds, snapshot cuts, truncation at every byte, records across refills; for pcapng
// sections, interfaces, time resolutions and offsets, every packet block type, skipped
// blocks), both must give the same records, bytes and timestamps, and stop at the same place
// with the same message.
#include "sensor/pcap_file.h"

#include <fcntl.h>
#include <pcap/pcap.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace flowscribe::sensor {
namespace {

using Bytes = std::vector<uint8_t>;

struct Rec {
  uint64_t ts_ns;
  uint32_t wire_len;
  Bytes data;
  bool operator==(const Rec&) const = default;
};

struct Read {
  std::vector<Rec> recs;
  bool damaged = false;
  std::string damage;   // the message
  int64_t offset = -1;  // the file position after the damage
};

Read read_libpcap(const std::string& path) {
  Read out;
  char err[PCAP_ERRBUF_SIZE] = {0};
  pcap_t* p = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
  REQUIRE(p != nullptr);
  pcap_pkthdr* h;
  const u_char* d;
  int rc;
  while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
    out.recs.push_back({uint64_t(h->ts.tv_sec) * 1'000'000'000u + uint64_t(h->ts.tv_usec), h->len,
                        Bytes(d, d + h->caplen)});
  }
  out.damaged = rc == PCAP_ERROR;
  if (out.damaged) {
    out.damage = pcap_geterr(p);
    out.offset = std::ftell(pcap_file(p));
  }
  pcap_close(p);
  return out;
}

// Every record, as the offline sensor takes them: with read-ahead, peek() may come back
// before the bytes are read (not done: ask again), and the records taken are released.
Read read_ours(PcapFile& f, uint64_t* pending = nullptr) {
  Read out;
  PcapRecord r;
  for (;;) {
    if (f.next(r)) {
      out.recs.push_back({r.ts_ns, r.wire_len, Bytes(r.data, r.data + r.caplen)});
      if (out.recs.size() % 32 == 0) f.release();
      continue;
    }
    if (f.done()) break;
    if (!f.reading_ahead()) FAIL("peek() false and not done without read-ahead");
    if (pending != nullptr) ++*pending;
    std::this_thread::yield();
  }
  out.damaged = f.damaged();
  out.damage = std::string(f.damage());
  out.offset = f.damage_offset();
  CHECK(f.done());
  CHECK(f.records() == out.recs.size());
  return out;
}

enum class Mode { kPlain, kReadAhead };

// Both readers on PATH; ours with a buffer of BUFFER bytes (raised to its minimum), and
// with read-ahead started after open(), as the sensor starts it.
void compare(const std::string& path, size_t buffer = 0, Mode mode = Mode::kPlain) {
  INFO(path << (mode == Mode::kReadAhead ? " (read-ahead)" : ""));
  auto f = PcapFile::open(path, buffer);
  REQUIRE(f.ok());
  if (mode == Mode::kReadAhead) REQUIRE((*f)->start_readahead().ok());
  Read ours = read_ours(**f);
  Read lib = read_libpcap(path);
  CHECK(ours.damaged == lib.damaged);
  CHECK(ours.damage == lib.damage);
  CHECK(ours.offset == lib.offset);
  REQUIRE(ours.recs.size() == lib.recs.size());
  for (size_t i = 0; i < ours.recs.size(); ++i) {
    INFO("record " << i);
    REQUIRE(ours.recs[i] == lib.recs[i]);
  }
}

class TempFile {
 public:
  TempFile() {
    char name[] = "/tmp/fs-pcap-test-XXXXXX";
    int fd = mkstemp(name);
    REQUIRE(fd >= 0);
    close(fd);
    path_ = name;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }
  void write(const Bytes& b) const {
    FILE* f = std::fopen(path_.c_str(), "wb");
    REQUIRE(f != nullptr);
    if (!b.empty()) REQUIRE(std::fwrite(b.data(), 1, b.size(), f) == b.size());
    std::fclose(f);
  }

 private:
  std::string path_;
};

struct ByteWriter {
  bool swapped = false;
  Bytes out;
  void put(const void* p, size_t n) {
    const size_t at = out.size();
    out.resize(at + n);
    std::memcpy(out.data() + at, p, n);
  }
};

struct Writer : ByteWriter {
  void u16(uint16_t v) {
    if (swapped) v = __builtin_bswap16(v);
    put(&v, 2);
  }
  void u32(uint32_t v) {
    if (swapped) v = __builtin_bswap32(v);
    put(&v, 4);
  }
  void header(uint32_t magic, uint32_t snaplen, uint32_t linktype = 1, uint16_t major = 2,
              uint16_t minor = 4) {
    u32(magic);
    u16(major);
    u16(minor);
    u32(0);
    u32(0);
    u32(snaplen);
    u32(linktype);
  }
  void record(uint32_t sec, uint32_t frac, uint32_t caplen, uint32_t len, uint8_t fill) {
    u32(sec);
    u32(frac);
    u32(caplen);
    u32(len);
    out.insert(out.end(), caplen, fill);
  }
};

// pcapng blocks, in either byte order.
struct NgWriter : ByteWriter {
  void u16(Bytes& b, uint16_t v) const {
    if (swapped) v = __builtin_bswap16(v);
    b.insert(b.end(), reinterpret_cast<uint8_t*>(&v), reinterpret_cast<uint8_t*>(&v) + 2);
  }
  void u32(Bytes& b, uint32_t v) const {
    if (swapped) v = __builtin_bswap32(v);
    b.insert(b.end(), reinterpret_cast<uint8_t*>(&v), reinterpret_cast<uint8_t*>(&v) + 4);
  }
  void u64(Bytes& b, uint64_t v) const {
    if (swapped) v = __builtin_bswap64(v);
    b.insert(b.end(), reinterpret_cast<uint8_t*>(&v), reinterpret_cast<uint8_t*>(&v) + 8);
  }
  void opt(Bytes& b, uint16_t code, const Bytes& v) const {
    u16(b, code);
    u16(b, static_cast<uint16_t>(v.size()));
    b.insert(b.end(), v.begin(), v.end());
    b.resize(b.size() + (-v.size() & 3));
  }
  void block(uint32_t type, Bytes body) {
    body.resize(body.size() + (-body.size() & 3));
    Bytes b;
    u32(b, type);
    u32(b, static_cast<uint32_t>(body.size() + 12));
    b.insert(b.end(), body.begin(), body.end());
    u32(b, static_cast<uint32_t>(body.size() + 12));
    put(b.data(), b.size());
  }
  void shb() {
    Bytes b;
    u32(b, 0x1A2B3C4D);
    u16(b, 1);
    u16(b, 0);
    u64(b, ~uint64_t{0});
    opt(b, 4, Bytes{'t', 'e', 's', 't'});
    block(0x0A0D0D0A, b);
  }
  // tsresol: the option's byte, or -1 for none; tsoffset 0 for none.
  void idb(uint16_t linktype, uint32_t snaplen, int tsresol, int64_t tsoffset) {
    Bytes b;
    u16(b, linktype);
    u16(b, 0);
    u32(b, snaplen);
    opt(b, 2, Bytes{'e', 't', 'h', '0'});
    if (tsresol >= 0) opt(b, 9, Bytes{static_cast<uint8_t>(tsresol)});
    if (tsoffset != 0) {
      Bytes v;
      u64(v, static_cast<uint64_t>(tsoffset));
      opt(b, 14, v);
    }
    opt(b, 0, {});
    block(1, b);
  }
  static Bytes frame(uint32_t n, uint8_t fill) {
    Bytes d(n, fill);
    if (n >= 14) d[12] = 0x08, d[13] = 0x00;
    return d;
  }
  void epb(uint32_t ifid, uint64_t t, uint32_t caplen, uint32_t len, uint8_t fill) {
    Bytes b;
    u32(b, ifid);
    u32(b, static_cast<uint32_t>(t >> 32));
    u32(b, static_cast<uint32_t>(t));
    u32(b, caplen);
    u32(b, len);
    Bytes d = frame(caplen, fill);
    b.insert(b.end(), d.begin(), d.end());
    b.resize(b.size() + (-b.size() & 3));
    opt(b, 1, Bytes{'c'});
    block(6, b);
  }
  void spb(uint32_t len, uint32_t stored, uint8_t fill) {
    Bytes b;
    u32(b, len);
    Bytes d = frame(stored, fill);
    b.insert(b.end(), d.begin(), d.end());
    block(3, b);
  }
  void pb(uint16_t ifid, uint64_t t, uint32_t caplen, uint8_t fill) {
    Bytes b;
    u16(b, ifid);
    u16(b, 0);
    u32(b, static_cast<uint32_t>(t >> 32));
    u32(b, static_cast<uint32_t>(t));
    u32(b, caplen);
    u32(b, caplen);
    Bytes d = frame(caplen, fill);
    b.insert(b.end(), d.begin(), d.end());
    block(2, b);
  }
  // Two sections; interfaces at microseconds (default), nanoseconds, 2^-20 s with an offset,
  // milliseconds; every packet block type; blocks readers skip; a jumbo frame.
  static Bytes sample(bool swapped) {
    NgWriter w;
    w.swapped = swapped;
    w.shb();
    w.idb(1, 1500, -1, 0);
    w.idb(1, 1500, 9, 0);
    w.idb(1, 1500, 0x80 | 20, 1'000'000'000);
    w.block(4, Bytes(8, 0));                        // name resolution: skipped
    w.epb(0, 1'700'000'000'123'456ull, 60, 60, 1);
    w.epb(1, 1'700'000'001'987'654'321ull, 100, 1514, 2);
    w.epb(2, (uint64_t{700'000'002} << 20) | 777'777, 80, 80, 3);
    w.spb(1514, 1500, 4);                            // cut to the snapshot length
    w.pb(1, 1'700'000'003'000'000'001ull, 70, 5);
    w.block(0x40000BAD, Bytes{0, 0, 0x7f, 0x4b, 'x', 'y'});  // custom: skipped
    w.block(5, Bytes(24, 0));                        // statistics: skipped
    w.shb();                                         // a new section forgets the interfaces
    w.idb(1, 1500, 3, 0);
    w.epb(0, 1'700'000'004'005ull, 1400, 1400, 6);
    w.epb(0, 1'700'000'004'006ull, 0, 60, 7);
    return w.out;
  }
};

TEST_CASE("pcapng as libpcap reads it: both byte orders, cut at every byte", "[pcap_file]") {
  TempFile t;
  for (bool swapped : {false, true}) {
    const Bytes whole = NgWriter::sample(swapped);
    t.write(whole);
    INFO("swapped " << swapped);
    compare(t.path());
    auto f = PcapFile::open(t.path());
    REQUIRE(f.ok());
    CHECK((*f)->pcapng());
    CHECK((*f)->swapped() == swapped);
    CHECK((*f)->snaplen() == 1500);
    Read r = read_ours(**f);
    CHECK(r.recs.size() == 7);
    CHECK_FALSE(r.damaged);
    CHECK(r.recs[0].ts_ns == 1'700'000'000'123'456'000ull);
    CHECK(r.recs[1].ts_ns == 1'700'000'001'987'654'321ull);
    CHECK(r.recs[3].data.size() == 1500);  // the simple packet block, cut to the snapshot
    for (size_t cut = 1; cut < whole.size(); ++cut) {
      t.write(Bytes(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(cut)));
      char err[PCAP_ERRBUF_SIZE];
      pcap_t* p = pcap_open_offline_with_tstamp_precision(t.path().c_str(),
                                                          PCAP_TSTAMP_PRECISION_NANO, err);
      INFO("cut at " << cut);
      if (p == nullptr) {
        CHECK_FALSE(PcapFile::open(t.path()).ok());
        continue;
      }
      pcap_close(p);
      compare(t.path());
    }
  }
}

TEST_CASE("pcapng: what libpcap refuses, refused the same way", "[pcap_file]") {
  TempFile t;
  auto check = [&](const Bytes& b, const char* want) {
    t.write(b);
    INFO(want);
    compare(t.path());
    Read lib = read_libpcap(t.path());
    CHECK(lib.damage == want);
  };
  {
    NgWriter w;  // an interface of another link type
    w.shb();
    w.idb(1, 0, -1, 0);
    w.epb(0, 1, 60, 60, 1);
    w.idb(113, 0, -1, 0);
    check(w.out, "an interface has a type 113 different from the type of the first interface");
  }
  {
    NgWriter w;  // and of another snapshot length
    w.shb();
    w.idb(1, 0, -1, 0);
    w.idb(1, 9000, -1, 0);
    check(w.out, "an interface has a snapshot length 9000 different from the snapshot length "
                 "of the first interface");
  }
  {
    NgWriter w;  // a packet on an interface the section has not described
    w.shb();
    w.idb(1, 0, -1, 0);
    w.epb(1, 1, 60, 60, 1);
    check(w.out, "a packet arrived on interface 1, but there's no Interface Description Block "
                 "for that interface");
  }
  {
    NgWriter w;  // a captured length above the snapshot length
    w.shb();
    w.idb(1, 64, -1, 0);
    w.epb(0, 1, 100, 100, 1);
    check(w.out, "invalid packet capture length 100, bigger than snaplen of 64");
  }
  {
    NgWriter w;  // a section in the other byte order: its length reads as a huge block
    w.shb();
    w.idb(1, 0, -1, 0);
    NgWriter other;
    other.swapped = true;
    other.shb();
    w.put(other.out.data(), other.out.size());
    t.write(w.out);
    compare(t.path());
  }
  {
    NgWriter w;  // a block whose trailer disagrees with its header
    w.shb();
    w.idb(1, 0, -1, 0);
    w.epb(0, 1, 60, 60, 1);
    w.out[w.out.size() - 1] ^= 0x10;
    check(w.out, "block total length in header and trailer don't match");
  }
}

TEST_CASE("every test capture: the same records as libpcap, or left to it", "[pcap_file]") {
  int compared = 0, left = 0, ng = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(FS_CAPTURES_DIR)) {
    const std::string path = e.path().string();
    if (!e.is_regular_file() || (e.path().extension() != ".pcap" && e.path().extension() != ".pcapng")) {
      continue;
    }
    char err[PCAP_ERRBUF_SIZE];
    pcap_t* p = pcap_open_offline(path.c_str(), err);
    auto f = PcapFile::open(path);
    if (p == nullptr) {  // not a capture: we must not take it either
      INFO(path);
      CHECK(!f.ok());
      continue;
    }
    pcap_close(p);
    if (!f.ok()) {
      INFO(path << ": " << f.status().message());
      CHECK(absl::IsUnimplemented(f.status()));  // an old or modified format: net_pcap reads it
      ++left;
      continue;
    }
    ng += (*f)->pcapng() ? 1 : 0;
    compare(path);
    compare(path, 0, Mode::kReadAhead);
    ++compared;
  }
  CHECK(compared >= 40);
  CHECK(ng >= 1);  // basic.pcapng
  (void)left;
}

TEST_CASE("byte order, precision and snapshot length as libpcap reads them", "[pcap_file]") {
  TempFile t;
  for (bool swapped : {false, true}) {
    for (uint32_t magic : {0xa1b2c3d4u, 0xa1b23c4du}) {
      for (uint32_t snaplen : {0u, 64u, 1500u, 262144u, 300000u}) {
        Writer w;
        w.swapped = swapped;
        w.header(magic, snaplen);
        w.record(1700000000, 999999, 60, 60, 1);
        w.record(1700000001, 5, 100, 1514, 2);    // cut by the capturing tool
        w.record(1700000002, 7, 1514, 1514, 3);   // longer than a 64- or 1500-byte snapshot
        w.record(1700000003, 9, 9000, 9000, 4);   // jumbo
        w.record(1700000004, 11, 0, 0, 5);        // empty
        t.write(w.out);
        INFO("swapped " << swapped << " magic " << std::hex << magic << std::dec << " snaplen "
                        << snaplen);
        compare(t.path());
        auto f = PcapFile::open(t.path());
        REQUIRE(f.ok());
        CHECK((*f)->swapped() == swapped);
        CHECK((*f)->nanosecond() == (magic == 0xa1b23c4du));
      }
    }
  }
}

TEST_CASE("damage: cut at every byte, and lengths libpcap refuses", "[pcap_file]") {
  TempFile t;
  Writer w;
  w.header(0xa1b2c3d4, 65535);
  w.record(1, 2, 40, 40, 7);
  w.record(3, 4, 200, 300, 8);
  w.record(5, 6, 70, 70, 9);
  const Bytes whole = w.out;
  for (size_t cut = 24; cut <= whole.size(); ++cut) {
    INFO("cut at " << cut);
    t.write(Bytes(whole.begin(), whole.begin() + static_cast<long>(cut)));
    compare(t.path());
  }
  // Records longer than the snapshot length, cut inside the snapshot's part and after it.
  Writer cut;
  cut.header(0xa1b2c3d4, 100);
  cut.record(1, 2, 40, 40, 7);
  cut.record(3, 4, 300, 300, 8);
  for (size_t n = cut.out.size() - 300; n <= cut.out.size(); n += 1) {
    INFO("snapshot 100, cut at " << n);
    t.write(Bytes(cut.out.begin(), cut.out.begin() + static_cast<long>(n)));
    compare(t.path());
  }
  // A header too short to be a capture is refused, as libpcap refuses it.
  for (size_t cut = 0; cut < 24; ++cut) {
    t.write(Bytes(whole.begin(), whole.begin() + static_cast<long>(cut)));
    auto f = PcapFile::open(t.path());
    CHECK(absl::IsInvalidArgument(f.status()));
  }
  // caplen above libpcap's maximum: damage there, the records before it are read. The
  // message names the snapshot length, or the maximum when the file claims a larger snapshot
  // (libpcap keeps any snapshot length up to INT_MAX).
  for (uint32_t snaplen : {0u, 100u, 300000u, 33554432u}) {
    Writer big;
    big.header(0xa1b2c3d4, snaplen);
    big.record(1, 1, 60, 60, 1);
    big.u32(2);
    big.u32(2);
    big.u32(PcapFile::kMaxSnaplen + 1);
    big.u32(PcapFile::kMaxSnaplen + 1);
    big.out.insert(big.out.end(), PcapFile::kMaxSnaplen + 1, 0);
    t.write(big.out);
    INFO("snaplen " << snaplen);
    compare(t.path());
    auto f = PcapFile::open(t.path());
    REQUIRE(f.ok());
    PcapRecord r;
    CHECK((*f)->next(r));
    CHECK_FALSE((*f)->next(r));
    CHECK((*f)->damage().find(snaplen > PcapFile::kMaxSnaplen ? "bigger than maximum"
                                                              : "bigger than snaplen") !=
          std::string::npos);
  }
}

TEST_CASE("records across buffer refills, the largest record included", "[pcap_file]") {
  TempFile t;
  Writer w;
  w.header(0xa1b23c4d, 0);
  std::mt19937 rng(7);
  uint32_t sec = 1000;
  for (int i = 0; i < 3000; ++i) {
    uint32_t len = rng() % 100 == 0 ? PcapFile::kMaxSnaplen - (rng() % 3) : rng() % 1600;
    w.record(sec++, rng() % 1'000'000'000, len, len, static_cast<uint8_t>(i));
  }
  t.write(w.out);
  REQUIRE(w.out.size() > 4 * (PcapFile::kMaxSnaplen + 16));
  compare(t.path(), 0);         // the smallest buffer: a refill every few records
  compare(t.path(), 1 << 20);
  compare(t.path(), 0, Mode::kReadAhead);  // the thread reads all but the first buffer
  // peek() twice gives the same record; consume() moves on.
  auto f = PcapFile::open(t.path(), 0);
  REQUIRE(f.ok());
  PcapRecord a, b;
  REQUIRE((*f)->peek(a));
  REQUIRE((*f)->peek(b));
  CHECK(a.data == b.data);
  CHECK(a.ts_ns == b.ts_ns);
  (*f)->consume();
  REQUIRE((*f)->peek(b));
  CHECK(b.ts_ns != a.ts_ns);
}

TEST_CASE("formats left to libpcap, and files that are not captures", "[pcap_file]") {
  TempFile t;
  auto open_with = [&](const Bytes& b) {
    t.write(b);
    return PcapFile::open(t.path()).status();
  };
  Writer ng;  // a pcapng block type without a section header's byte-order magic
  ng.header(0x0a0d0d0a, 0);
  CHECK(absl::IsInvalidArgument(open_with(ng.out)));
  Writer mod;
  mod.header(0xa1b2cd34, 0);
  CHECK(absl::IsUnimplemented(open_with(mod.out)));
  Writer old;
  old.header(0xa1b2c3d4, 0, 1, 2, 3);
  CHECK(absl::IsUnimplemented(open_with(old.out)));
  Writer nflog;  // byte-swapped NFLOG: libpcap rewrites its TLV headers
  nflog.swapped = true;
  nflog.header(0xa1b2c3d4, 0, 239);
  CHECK(absl::IsUnimplemented(open_with(nflog.out)));
  Writer nflog_native;
  nflog_native.header(0xa1b2c3d4, 0, 239);
  CHECK(open_with(nflog_native.out).ok());
  for (uint32_t lt : {189u, 220u, 231u, 249u, 279u}) {  // libpcap rewrites or allows more
    Writer w;
    w.header(0xa1b2c3d4, 0, lt);
    CHECK(absl::IsUnimplemented(open_with(w.out)));
  }
  Writer junk;
  junk.header(0x12345678, 0);
  CHECK(absl::IsInvalidArgument(open_with(junk.out)));
  CHECK(absl::IsNotFound(PcapFile::open("/nonexistent/capture.pcap").status()));
}

// Three files of a series: A whole, B in the other byte order and precision (its header is
// read again) with its last record cut short, and NG a pcapng file.
struct Series {
  TempFile a, b, ng;
  explicit Series(bool ng_swapped) {
    Writer wa;
    wa.header(0xa1b2c3d4, 0);
    wa.record(1, 1, 60, 60, 1);
    wa.record(2, 2, 70, 70, 2);
    a.write(wa.out);
    Writer wb;
    wb.swapped = true;
    wb.header(0xa1b23c4d, 0);
    wb.record(3, 3, 80, 80, 3);
    wb.record(4, 4, 90, 90, 4);
    b.write(Bytes(wb.out.begin(), wb.out.end() - 5));
    ng.write(NgWriter::sample(ng_swapped));
  }
};

TEST_CASE("reopen: the next file of a series through the same buffer", "[pcap_file]") {
  Series files(false);
  const TempFile &a = files.a, &b = files.b, &ng = files.ng;

  auto f = PcapFile::open(a.path());
  REQUIRE(f.ok());
  Read first = read_ours(**f);
  CHECK(first.recs.size() == 2);
  CHECK_FALSE(first.damaged);
  REQUIRE((*f)->reopen(b.path().c_str()));
  CHECK((*f)->swapped());
  CHECK((*f)->nanosecond());
  Read second = read_ours(**f);
  REQUIRE(second.recs.size() == 1);
  CHECK(second.recs[0].ts_ns == 3'000'000'003u);
  CHECK(second.damaged);
  CHECK(second.damage == read_libpcap(b.path()).damage);
  // Files that cannot be read: done at once, the reason as their damage, no records.
  CHECK_FALSE((*f)->reopen("/nonexistent/capture.pcap"));
  CHECK((*f)->done());
  CHECK((*f)->damage() == "cannot open the capture: No such file or directory");
  PcapRecord r;
  CHECK_FALSE((*f)->next(r));
  // A pcapng file needs the larger buffer, which reopen() cannot allocate.
  CHECK_FALSE((*f)->reopen(ng.path().c_str()));
  CHECK((*f)->damage().find("pcapng") != std::string_view::npos);
  // Opened with it (as the sensor does when a series holds pcapng), the series takes it.
  auto big = PcapFile::open(a.path(), PcapFile::kPcapngBuffer);
  REQUIRE(big.ok());
  CHECK(read_ours(**big).recs == first.recs);
  REQUIRE((*big)->reopen(ng.path().c_str()));
  CHECK((*big)->pcapng());
  CHECK(read_ours(**big).recs == read_libpcap(ng.path()).recs);
  // And back to a good one: every state of the last file is gone.
  REQUIRE((*f)->reopen(a.path().c_str()));
  CHECK(read_ours(**f).recs == first.recs);
  // inspect(): the header and the first record's time, without reading the file.
  auto sa = PcapFile::inspect(a.path());
  REQUIRE(sa.ok());
  CHECK(sa->linktype == 1);
  CHECK(sa->first_ts_ns == 1'000'001'000u);
  auto sb = PcapFile::inspect(b.path());
  REQUIRE(sb.ok());
  CHECK(sb->first_ts_ns == 3'000'000'003u);
  auto sn = PcapFile::inspect(ng.path());
  REQUIRE(sn.ok());
  CHECK(sn->pcapng);
  CHECK(sn->linktype == 1);
  CHECK(sn->first_ts_ns == read_libpcap(ng.path()).recs.at(0).ts_ns);
  CHECK(absl::IsNotFound(PcapFile::inspect("/nonexistent/capture.pcap").status()));
}

// Read-ahead (sensor/pcap_readahead.h): the file read by a thread into a ring mapped twice.
TEST_CASE("read-ahead: across the ring's wrap, a record peeked before, the same damage",
          "[pcap_file]") {
  // Well over twice the ring, in records of every size up to the largest, so records start
  // and end everywhere, and some cross the ring's end.
  TempFile t;
  Writer w;
  w.header(0xa1b23c4d, 0);
  std::mt19937 rng(11);
  uint32_t sec = 1;
  while (w.out.size() < 2 * ReadAhead::kRingBytes + (ReadAhead::kRingBytes / 3)) {
    const uint32_t len = rng() % 50 == 0 ? PcapFile::kMaxSnaplen - (rng() % 5) : rng() % 2000;
    w.record(sec++, rng() % 1'000'000'000, len, len + 4, static_cast<uint8_t>(rng()));
  }
  const Bytes whole = w.out;
  t.write(whole);
  {
    auto f = PcapFile::open(t.path());
    REQUIRE(f.ok());
    // A record peeked before the switch is the same record after it.
    PcapRecord before;
    REQUIRE((*f)->peek(before));
    const Bytes first(before.data, before.data + before.caplen);
    REQUIRE((*f)->start_readahead().ok());
    CHECK((*f)->reading_ahead());
    PcapRecord after;
    REQUIRE((*f)->peek(after));
    CHECK(Bytes(after.data, after.data + after.caplen) == first);
    CHECK(after.ts_ns == before.ts_ns);
    Read ours = read_ours(**f);  // from that record on
    Read lib = read_libpcap(t.path());
    CHECK_FALSE(ours.damaged);
    REQUIRE(ours.recs.size() == lib.recs.size());
    for (size_t i = 0; i < ours.recs.size(); ++i) {
      INFO("record " << i);
      REQUIRE(ours.recs[i] == lib.recs[i]);
    }
    CHECK((*f)->offset() == whole.size());
    // The thread read all but what open() had read (its 4 MiB buffer), in large reads.
    REQUIRE((*f)->readahead() != nullptr);
    CHECK((*f)->readahead()->reads() >= (whole.size() - (size_t{4} << 20)) / ReadAhead::kReadBytes);
    CHECK((*f)->readahead()->reads() < whole.size() / 4096);
  }
  // Cut inside a record past the ring's end: the same message and offset as libpcap.
  for (size_t cut : {whole.size() - 3, size_t{ReadAhead::kRingBytes + 7}}) {
    INFO("cut at " << cut);
    t.write(Bytes(whole.begin(), whole.begin() + static_cast<long>(cut)));
    compare(t.path(), 0, Mode::kReadAhead);
  }
}

TEST_CASE("read-ahead: pcapng blocks near the largest, read through the ring", "[pcap_file]") {
  // Past the 17 MiB the header's buffer holds, so the big blocks come through the ring: a
  // skipped block of ~15 MiB across the ring's end (stream bytes 20-35 MiB), and a packet
  // block of ~15 MiB.
  NgWriter w;
  w.shb();
  w.idb(1, 0x7fffffff, 9, 0);  // nanoseconds; any caplen is within the snapshot length
  std::mt19937 rng(5);
  uint64_t t = 1'700'000'000'000'000'000u;
  while (w.out.size() < (size_t{20} << 20)) w.epb(0, t += 1000, rng() % 1600, 1600, 1);
  w.block(0x0BAD, Bytes((size_t{15} << 20) + 4, 7));
  while (w.out.size() < (size_t{40} << 20)) w.epb(0, t += 1000, rng() % 1600, 1600, 2);
  w.epb(0, t += 1000, (size_t{15} << 20) + 12, (size_t{15} << 20) + 12, 3);
  for (int i = 0; i < 1000; ++i) w.epb(0, t += 1000, rng() % 1600, 1600, 4);
  REQUIRE(w.out.size() > 2 * ReadAhead::kRingBytes - (size_t{16} << 20));
  TempFile f;
  f.write(w.out);
  compare(f.path(), PcapFile::kPcapngBuffer, Mode::kReadAhead);
}

TEST_CASE("read-ahead: a pipe written slowly, read as the bytes come", "[pcap_file]") {
  Writer w;
  w.header(0xa1b2c3d4, 0);
  for (uint32_t i = 0; i < 400; ++i) w.record(100 + i, i, 60 + (i % 7) * 100, 1514, static_cast<uint8_t>(i));
  TempFile t;
  t.write(w.out);
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  // The header first, so open() finds a capture, then the rest in pieces with pauses.
  REQUIRE(write(fds[1], w.out.data(), 24) == 24);
  bool written = true;  // Catch2's macros are not for other threads: checked after join()
  std::thread writer([&] {
    size_t at = 24;
    while (at < w.out.size()) {
      const size_t n = std::min<size_t>(997, w.out.size() - at);
      if (write(fds[1], w.out.data() + at, n) != static_cast<ssize_t>(n)) written = false;
      at += n;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    close(fds[1]);
  });
  const int saved = dup(STDIN_FILENO);
  REQUIRE(dup2(fds[0], STDIN_FILENO) >= 0);
  close(fds[0]);
  auto f = PcapFile::open("-");
  dup2(saved, STDIN_FILENO);
  close(saved);
  REQUIRE(f.ok());
  REQUIRE((*f)->start_readahead().ok());
  uint64_t pending = 0;
  Read ours = read_ours(**f, &pending);
  writer.join();
  CHECK(written);
  CHECK(pending > 0);  // the poller was told "not yet", never blocked, never told "done"
  CHECK_FALSE(ours.damaged);
  CHECK(ours.recs == read_libpcap(t.path()).recs);
}

TEST_CASE("read-ahead: a series, a read error, a file that is gone", "[pcap_file]") {
  Series files(true);
  const TempFile &a = files.a, &b = files.b, &ng = files.ng;

  auto f = PcapFile::open(a.path());
  REQUIRE(f.ok());
  REQUIRE((*f)->start_readahead().ok());
  CHECK(read_ours(**f).recs == read_libpcap(a.path()).recs);
  REQUIRE((*f)->reopen(b.path().c_str()));
  Read second = read_ours(**f);
  Read lib = read_libpcap(b.path());
  CHECK(second.recs == lib.recs);
  CHECK(second.damage == lib.damage);
  CHECK(second.offset == lib.offset);
  // The ring holds any pcapng block, so a pcapng file joins a series without the big buffer.
  REQUIRE((*f)->reopen(ng.path().c_str()));
  CHECK(read_ours(**f).recs == read_libpcap(ng.path()).recs);
  // A read that fails: the same damage as without read-ahead.
  auto plain = PcapFile::open(a.path());
  REQUIRE(plain.ok());
  CHECK_FALSE((*plain)->reopen("/"));
  CHECK_FALSE((*f)->reopen("/"));
  CHECK((*f)->damage() == (*plain)->damage());
  CHECK((*f)->damage().find("Is a directory") != std::string_view::npos);
  CHECK_FALSE((*f)->reopen("/nonexistent/capture.pcap"));
  CHECK((*f)->damage() == "cannot open the capture: No such file or directory");
  REQUIRE((*f)->reopen(a.path().c_str()));
  CHECK(read_ours(**f).recs == read_libpcap(a.path()).recs);
}

}  // namespace
}  // namespace flowscribe::sensor
