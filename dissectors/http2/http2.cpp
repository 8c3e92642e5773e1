#include "dissectors/http2/http2.h"

#include <cstddef>
#include <cstring>
#include <string_view>

#include "dissectors/classify/probe_util.h"
#include "dissectors/http/http_fields.h"
#include "dissectors/http2/hpack.h"

// How it reads a connection (docs/protocols.md, "HTTP/2 dissector"):
//  - each direction is a frame reader (RFC 9113 section 4.1) fed any segmentation: the 9-byte
//    header is gathered, then the payload is streamed: DATA is only counted, control frames
//    keep their first 8 bytes, HEADERS/PUSH_PROMISE/CONTINUATION payloads are gathered into
//    that direction's header block buffer and decoded with HPACK when END_HEADERS comes;
//  - each direction has its own HPACK dynamic table (the encoder of that direction's peer
//    keeps its twin); a block that cannot be decoded loses the table, so that direction's
//    later headers are not decoded (counted, records tagged hpack_lost) rather than wrong;
//  - streams live in kStreams slots; a stream is written once both sides ended it
//    (END_STREAM), on RST_STREAM, on GOAWAY for streams it refused, at a gap or flow end.
// Cost: a memcpy per byte of header blocks and ~10 ns per Huffman byte; DATA costs a
// subtraction per segment.

namespace flowscribe::dissect {
namespace {

using emit::Field;
using emit::field_id;
using http_fields::host_name;
using http_fields::uri_filename;

constexpr std::string_view kPreface{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"};  // section 3.4
constexpr uint32_t kStreams = 16;      // concurrent streams followed per connection
constexpr uint32_t kBlockCap = 8192;   // header block bytes gathered per direction
constexpr uint32_t kArena = 1152;      // string bytes per stream
constexpr uint32_t kDefaultMaxFrame = 16384;  // section 6.5.2, SETTINGS_MAX_FRAME_SIZE

enum FrameType : uint8_t {
  kData = 0, kHeaders = 1, kPriority = 2, kRstStream = 3, kSettings = 4, kPushPromise = 5,
  kPing = 6, kGoaway = 7, kWindowUpdate = 8, kContinuation = 9,
};
enum FrameFlag : uint8_t {
  kEndStream = 0x1, kAck = 0x1, kEndHeaders = 0x4, kPadded = 0x8, kPriorityFlag = 0x20,
};

// String fields of a stream, in its arena.
enum S : uint8_t {
  kMethod, kHost, kUri, kUa, kReferer, kReqCtype, kCtype, kXff, kFilename, kOrigin, kLocation,
  kCe, kStrCount
};
constexpr uint16_t kCap[kStrCount] = {24, 128, 512, 256, 256, 96, 96, 96, 160, 128, 256, 48};

enum Tag : uint32_t {
  kTagNoResponse = 1u << 0,
  kTagReqIncomplete = 1u << 1,
  kTagRespIncomplete = 1u << 2,
  kTagReset = 1u << 3,
  kTagGoaway = 1u << 4,
  kTagPushed = 1u << 5,
  kTagUpgrade = 1u << 6,
  kTagHpackLost = 1u << 7,
  kTagFieldTruncated = 1u << 8,
  kTagUriTruncated = 1u << 9,
  kTagGap = 1u << 10,
};
constexpr std::string_view kTagNames[] = {
    "no_response", "req_incomplete", "resp_incomplete", "reset", "goaway", "pushed",
    "h2c_upgrade", "hpack_lost", "field_truncated", "uri_truncated", "gap"};
constexpr size_t kTagCount = sizeof(kTagNames) / sizeof(kTagNames[0]);

enum StreamFlag : uint16_t {
  kReqHeaders = 1,   // request headers seen (HEADERS from the client, or PUSH_PROMISE)
  kHasStatus = 2,    // a final :status
  kEndClient = 4,    // the client's side ended (END_STREAM)
  kEndServer = 8,
  kRespHeaders = 16, // a response HEADERS (interim or final) came
};

struct Str {
  uint16_t off;
  uint16_t len;
};

struct Stream {
  uint64_t body[2];  // DATA payload without padding: [0] request, [1] response
  uint32_t id;       // 0: slot free
  uint32_t have;
  uint32_t tags;
  Str str[kStrCount];
  uint16_t used;
  uint16_t flags;
  uint16_t status;
  uint16_t info_status;
  uint16_t headers[2];
  uint8_t arena[kArena];
};

struct Dir {
  uint32_t len;        // current frame's payload length
  uint32_t pos;        // payload bytes read
  uint32_t stream;     // current frame's stream id
  uint32_t max_frame;  // largest frame this direction may send (peer's SETTINGS)
  uint32_t table_limit;  // peer's SETTINGS_HEADER_TABLE_SIZE: the limit of this side's encoder
  uint32_t block_len;  // bytes in block[]
  uint32_t block_stream;  // the stream of the block's first frame
  uint32_t promised;   // PUSH_PROMISE: the promised stream
  uint32_t frag_lo, frag_hi;  // the current frame's header block fragment: payload [lo, hi)
  uint32_t long_left;  // encoded bytes of the long value still to come
  uint32_t long_full;  // its decoded bytes so far
  uint8_t hdr[9];
  uint8_t hdr_have;
  uint8_t type;
  uint8_t flags;
  uint8_t ctl[8];      // first payload bytes of the current frame
  uint8_t setting[6];  // the SETTINGS entry being read
  uint8_t preface;     // client: preface bytes matched (24: done)
  uint8_t in_block;    // a header block waits for CONTINUATION
  uint8_t block_end_stream;
  uint8_t block_push;
  uint8_t block_dead;  // the rest of this block is not decoded (HPACK lost)
  uint8_t block_seen;  // a header was decoded in this block (size updates come first)
  uint8_t target_set;  // the block's stream was looked up (block_target)
  uint8_t frag_set;    // frag_lo/frag_hi are known for the current frame
  uint8_t frag_bad;    // padding longer than the frame
  uint8_t long_mode;   // streaming a value longer than block[] (ls)
  uint32_t block_target;  // the stream the block's fields go to (0: none)
  hpack::HuffState long_huff;
  hpack::LongString ls;
  uint8_t long_keep[256];  // the long value's first decoded bytes
  uint8_t lost;        // HPACK state lost: later blocks are not decoded
  uint8_t seen_frame;
};

struct alignas(64) State {
  Dir dir[2];  // [0] client, [1] server
  uint32_t goaway_last[2];
  uint8_t done;
  uint8_t upgrade;     // handed over after Upgrade: h2c + 101: stream 1 is the upgraded request
  uint8_t seen_frame;  // a valid frame was read: later junk is not a violation
  Stream stream[kStreams];
  hpack::DynTable table[2];
  // Not cleared by begin_flow: written before read.
  uint8_t block[2][kBlockCap];
};
// 1024 flows per worker (default_states) stay under 64 MiB.
static_assert(sizeof(State) * 1024 <= 64u * 1024 * 1024);
static_assert(kArena + kStrCount * 4 + 8 * 16 + 160 <= sizeof(emit::Record::ext));

uint32_t be24(const uint8_t* p) noexcept { return uint32_t{p[0]} << 16 | uint32_t{p[1]} << 8 | p[2]; }
uint32_t be32(const uint8_t* p) noexcept {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

class Http2Dissector final : public Dissector {
 public:
  std::string_view name() const noexcept override { return "http2"; }
  uint32_t state_bytes() const noexcept override { return sizeof(State); }
  uint32_t default_states() const noexcept override { return 1024; }

  void begin_flow(void* st, Ctx& c, uint8_t) noexcept override {
    auto* s = static_cast<State*>(st);
    std::memset(static_cast<void*>(s), 0, offsetof(State, table));
    for (int d = 0; d < 2; ++d) {
      s->table[d].reset(hpack::kDynCap);  // RFC 9113 section 6.5.2: 4096 initially
      s->dir[d].max_frame = kDefaultMaxFrame;
      s->dir[d].table_limit = hpack::kDynCap;
      s->goaway_last[d] = UINT32_MAX;
    }
    counters_.http2_connections.inc();
    // A flow named http that is handed over is an h2c upgrade (dissectors/http): stream 1
    // is the upgraded request, already written by the HTTP/1.1 dissector.
    if (c.flow.app_proto == static_cast<uint16_t>(AppProto::kHttp)) {
      s->upgrade = 1;
      counters_.http2_upgrades.inc();
      Stream* t = open_stream(*s, 1);
      if (t != nullptr) {
        t->flags |= kReqHeaders | kEndClient;
        t->tags |= kTagUpgrade;
      }
    }
  }

  Progress data(void* st, Ctx& c, bool from_client, const uint8_t* p, uint32_t len,
                uint32_t) noexcept override {
    State& s = *static_cast<State*>(st);
    if (s.done) return Progress::kDone;
    const Progress pr = feed(s, c, from_client ? 0 : 1, p, len);
    if (pr != Progress::kMore) {
      if (pr == Progress::kDone) flush(s, c, 0);
      s.done = 1;
    }
    return pr;
  }

  Progress gap(void* st, Ctx& c, bool, uint32_t) noexcept override {
    State& s = *static_cast<State*>(st);
    if (s.done) return Progress::kDone;
    // Frames and HPACK state cannot be found again after a hole: what is known is written.
    counters_.http2_gap.inc();
    flush(s, c, kTagGap);
    s.done = 1;
    return Progress::kDone;
  }

  void end_flow(void* st, Ctx& c) noexcept override {
    State& s = *static_cast<State*>(st);
    if (!s.done) flush(s, c, 0);
    s.done = 1;
  }

  void for_each_counter(CounterFn f) const override { counters_.for_each(f); }

 private:
  // ---- streams ----
  static Stream* find(State& s, uint32_t id) noexcept {
    for (Stream& t : s.stream) {
      if (t.id == id) return &t;
    }
    return nullptr;
  }
  Stream* open_stream(State& s, uint32_t id) noexcept {
    for (Stream& t : s.stream) {
      if (t.id != 0) continue;
      std::memset(static_cast<void*>(&t), 0, offsetof(Stream, arena));
      t.id = id;
      return &t;
    }
    counters_.http2_streams_overflow.inc();
    return nullptr;
  }

  void set_str(Stream& t, S which, std::string_view v, bool cut) noexcept {
    if (t.have & (1u << which)) return;
    size_t n = v.size();
    const size_t room = kArena - t.used;
    if (n > kCap[which] || n > room || cut) {
      if (n > kCap[which] || n > room) n = kCap[which] < room ? kCap[which] : room;
      t.tags |= which == kUri ? kTagUriTruncated : kTagFieldTruncated;
      counters_.http2_field_truncated.inc();
    }
    if (n != 0) std::memcpy(t.arena + t.used, v.data(), n);  // an empty view may have no address
    t.str[which] = Str{t.used, static_cast<uint16_t>(n)};
    t.used = static_cast<uint16_t>(t.used + n);
    t.have |= 1u << which;
  }
  static std::string_view get_str(const Stream& t, S which) noexcept {
    if (!(t.have & (1u << which))) return {};
    return {reinterpret_cast<const char*>(t.arena + t.str[which].off), t.str[which].len};
  }

  void add(emit::Record* r, Field f, const void* p, size_t n) noexcept {
    if (!r->add_field(field_id(f), p, n)) counters_.http2_record_full.inc();
  }
  void add(emit::Record* r, Field f, std::string_view v) noexcept { add(r, f, v.data(), v.size()); }

  // Writes the stream's record and frees its slot.
  void write(State& s, Ctx& c, Stream& t) noexcept {
    (void)s;
    if (!(t.flags & kHasStatus)) {
      t.tags |= kTagNoResponse;
      counters_.http2_no_response.inc();
    }
    emit::Record* r = c.begin(emit::RecordType::kHttp);
    if (r == nullptr) {
      counters_.http2_record_no_buffer.inc();
      t.id = 0;
      return;
    }
    auto str = [&](Field f, S w) {
      if (t.have & (1u << w)) add(r, f, get_str(t, w));
    };
    str(Field::kHttpMethod, kMethod);
    str(Field::kHttpHost, kHost);
    str(Field::kHttpUri, kUri);
    add(r, Field::kHttpVersion, std::string_view("2"));
    add(r, Field::kHttpStreamId, &t.id, 4);
    if (t.flags & kHasStatus) add(r, Field::kHttpStatus, &t.status, 2);
    str(Field::kHttpUserAgent, kUa);
    str(Field::kHttpReferer, kReferer);
    str(Field::kHttpReqContentType, kReqCtype);
    str(Field::kHttpContentType, kCtype);
    // The upgraded request's body went in HTTP/1.1: its record has it.
    if ((t.flags & kReqHeaders) && !(t.tags & kTagUpgrade)) add(r, Field::kHttpReqBodyLen, &t.body[0], 8);
    if (t.flags & kHasStatus) add(r, Field::kHttpRespBodyLen, &t.body[1], 8);
    if (t.have & (1u << kFilename)) {
      str(Field::kHttpFilename, kFilename);
    } else {
      const std::string_view fn = uri_filename(get_str(t, kUri), (t.tags & kTagUriTruncated) != 0);
      if (!fn.empty()) add(r, Field::kHttpFilename, fn);
    }
    str(Field::kHttpXff, kXff);
    str(Field::kHttpContentEncoding, kCe);
    if (t.info_status) add(r, Field::kHttpInfoStatus, &t.info_status, 2);
    str(Field::kHttpOrigin, kOrigin);
    str(Field::kHttpLocation, kLocation);
    if ((t.flags & kReqHeaders) && !(t.tags & kTagUpgrade)) add(r, Field::kHttpReqHeaders, &t.headers[0], 2);
    if (t.flags & kRespHeaders) add(r, Field::kHttpRespHeaders, &t.headers[1], 2);
    if (t.tags) {
      char buf[160];
      size_t n = 0;
      for (size_t i = 0; i < kTagCount; ++i) {
        if (!(t.tags & (1u << i))) continue;
        if (n) buf[n++] = ',';
        std::memcpy(buf + n, kTagNames[i].data(), kTagNames[i].size());
        n += kTagNames[i].size();
      }
      add(r, Field::kHttpTags, buf, n);
    }
    c.commit(r);
    counters_.http2_records.inc();
    t.id = 0;
  }

  // Writes every open stream, oldest id first (flow end, gap, giving up).
  void flush(State& s, Ctx& c, uint32_t tag) noexcept {
    for (;;) {
      Stream* oldest = nullptr;
      for (Stream& t : s.stream) {
        if (t.id != 0 && (oldest == nullptr || t.id < oldest->id)) oldest = &t;
      }
      if (oldest == nullptr) return;
      Stream& t = *oldest;
      t.tags |= tag;
      if ((t.flags & kReqHeaders) && !(t.flags & kEndClient)) t.tags |= kTagReqIncomplete;
      if ((t.flags & kHasStatus) && !(t.flags & kEndServer)) t.tags |= kTagRespIncomplete;
      write(s, c, t);
    }
  }

  void maybe_close(State& s, Ctx& c, Stream& t) noexcept {
    if ((t.flags & (kEndClient | kEndServer)) == (kEndClient | kEndServer)) write(s, c, t);
  }

  // ---- bytes ----
  Progress feed(State& s, Ctx& c, int d, const uint8_t* p, uint32_t n) noexcept {
    Dir& dr = s.dir[d];
    if (d == 0 && dr.preface < kPreface.size()) {
      while (n > 0 && dr.preface < kPreface.size()) {
        if (*p != static_cast<uint8_t>(kPreface[dr.preface])) {
          counters_.http2_bad_preface.inc();
          return s.seen_frame ? Progress::kDone : Progress::kViolation;
        }
        ++dr.preface;
        ++p;
        --n;
      }
    }
    while (n > 0) {
      if (dr.hdr_have < 9) {
        const uint32_t take = 9u - dr.hdr_have < n ? 9u - dr.hdr_have : n;
        std::memcpy(dr.hdr + dr.hdr_have, p, take);
        dr.hdr_have = static_cast<uint8_t>(dr.hdr_have + take);
        p += take;
        n -= take;
        if (dr.hdr_have < 9) break;
        const Progress pr = start_frame(s, c, d);
        if (pr != Progress::kMore) return pr;
        if (dr.len == 0) end_frame(s, c, d);
        continue;
      }
      const uint32_t left = dr.len - dr.pos;
      const uint32_t take = left < n ? left : n;
      payload(s, c, d, p, take);
      dr.pos += take;
      p += take;
      n -= take;
      if (dr.pos == dr.len) end_frame(s, c, d);
    }
    return Progress::kMore;
  }

  Progress start_frame(State& s, Ctx& c, int d) noexcept {
    (void)c;
    Dir& dr = s.dir[d];
    dr.len = be24(dr.hdr);
    dr.type = dr.hdr[3];
    dr.flags = dr.hdr[4];
    dr.stream = be32(dr.hdr + 5) & 0x7fffffffu;
    dr.pos = 0;
    if (d == 1 && !dr.seen_frame && dr.type != kSettings) {
      // Section 3.4: the server's preface is a SETTINGS frame.
      counters_.http2_bad_first_frame.inc();
      return s.seen_frame ? Progress::kDone : Progress::kViolation;
    }
    dr.seen_frame = 1;
    s.seen_frame = 1;
    counters_.http2_frames.inc();
    if (dr.len > dr.max_frame) counters_.http2_frame_too_large.inc();  // read on all the same
    if (dr.in_block && (dr.type != kContinuation || dr.stream != dr.block_stream)) {
      // Section 6.10: nothing may come between a block's frames. The block is dropped and the
      // table with it.
      counters_.http2_continuation_expected.inc();
      dr.in_block = 0;
      dr.long_mode = 0;
      lose(s, d);
      tag_target(s, dr, kTagHpackLost);
    }
    dr.frag_set = 0;
    dr.frag_bad = 0;
    const bool needs_stream = dr.type == kData || dr.type == kHeaders || dr.type == kPriority ||
                              dr.type == kRstStream || dr.type == kPushPromise || dr.type == kContinuation;
    const bool needs_zero = dr.type == kSettings || dr.type == kPing || dr.type == kGoaway;
    if ((needs_stream && dr.stream == 0) || (needs_zero && dr.stream != 0)) {
      counters_.http2_bad_stream_id.inc();
    }
    switch (dr.type) {
      case kHeaders:
      case kPushPromise:
        begin_block(s, d);
        break;
      case kContinuation:
        if (!dr.in_block) {
          counters_.http2_continuation_expected.inc();
          begin_block(s, d);
          dr.block_dead = 1;  // a fragment without its start cannot be decoded
          dr.target_set = 1;  // and opens no stream
        }
        break;
      case kPriority:
        if (dr.len != 5) counters_.http2_bad_frame_length.inc();
        break;
      case kRstStream:
      case kWindowUpdate:
        if (dr.len != 4) counters_.http2_bad_frame_length.inc();
        break;
      case kPing:
        if (dr.len != 8) counters_.http2_bad_frame_length.inc();
        break;
      case kSettings:
        if (dr.len % 6 != 0 || ((dr.flags & kAck) && dr.len != 0)) counters_.http2_bad_frame_length.inc();
        break;
      case kGoaway:
        if (dr.len < 8) counters_.http2_bad_frame_length.inc();
        break;
      case kData:
        break;
      default:
        counters_.http2_unknown_frame.inc();
        break;
    }
    return Progress::kMore;
  }

  void payload(State& s, Ctx& c, int d, const uint8_t* p, uint32_t n) noexcept {
    Dir& dr = s.dir[d];
    for (uint32_t i = 0; i < n && dr.pos + i < sizeof dr.ctl; ++i) dr.ctl[dr.pos + i] = p[i];
    switch (dr.type) {
      case kData: {
        // Body bytes are payload offsets [padded, len - pad) (section 6.1).
        const uint32_t lo = (dr.flags & kPadded) ? 1 : 0;
        uint32_t pad = 0;
        if (lo == 1) {
          pad = dr.ctl[0];  // payload byte 0, copied above
          if (pad + 1 > dr.len) return;  // bad padding: end_frame counts it
        }
        const uint32_t end = dr.len - pad;
        uint32_t a = dr.pos < lo ? lo : dr.pos;
        uint32_t b = dr.pos + n < end ? dr.pos + n : end;
        if (b > a) {
          Stream* t = find(s, dr.stream);
          if (t != nullptr) t->body[d] += b - a;
        }
        return;
      }
      case kHeaders:
      case kPushPromise:
      case kContinuation: {
        // Only the fragment goes to HPACK: not the pad length, priority fields, promised
        // stream id or padding (sections 6.2, 6.6, 6.10). Known from the frame's first bytes.
        if (!dr.frag_set) set_fragment(dr);
        if (dr.frag_bad) return;
        const uint32_t lo = dr.pos < dr.frag_lo ? dr.frag_lo : dr.pos;
        const uint32_t hi = dr.pos + n < dr.frag_hi ? dr.pos + n : dr.frag_hi;
        if (hi > lo) block_bytes(s, c, d, p + (lo - dr.pos), hi - lo);
        return;
      }
      case kSettings:
        for (uint32_t i = 0; i < n; ++i) {
          const uint32_t at = (dr.pos + i) % 6;
          dr.setting[at] = p[i];
          if (at == 5 && !(dr.flags & kAck)) apply_setting(s, d);
        }
        return;
      default:
        return;
    }
  }

  // Section 6.5.2: a SETTINGS parameter from side `d` bounds what the other side sends.
  void apply_setting(State& s, int d) noexcept {
    const uint16_t id = static_cast<uint16_t>(s.dir[d].setting[0] << 8 | s.dir[d].setting[1]);
    const uint32_t v = be32(s.dir[d].setting + 2);
    Dir& other = s.dir[d ^ 1];
    switch (id) {
      case 1:  // SETTINGS_HEADER_TABLE_SIZE
        if (v > hpack::kDynCap) counters_.http2_table_size_over_cap.inc();
        other.table_limit = v;
        break;
      case 2:  // SETTINGS_ENABLE_PUSH
        if (v > 1) counters_.http2_bad_setting.inc();
        break;
      case 5:  // SETTINGS_MAX_FRAME_SIZE
        if (v < kDefaultMaxFrame || v > 0xffffff) {
          counters_.http2_bad_setting.inc();
        } else {
          other.max_frame = v;
        }
        break;
      default:
        break;
    }
  }

  void lose(State& s, int d) noexcept { s.dir[d].lost = 1; }

  void end_frame(State& s, Ctx& c, int d) noexcept {
    Dir& dr = s.dir[d];
    dr.hdr_have = 0;
    switch (dr.type) {
      case kData: {
        if ((dr.flags & kPadded) && (dr.len == 0 || dr.ctl[0] + 1u > dr.len)) {
          counters_.http2_bad_padding.inc();
        }
        if (dr.stream == 0) return;
        Stream* t = find(s, dr.stream);
        if (t == nullptr) {
          counters_.http2_unknown_stream.inc();
          return;
        }
        if (dr.flags & kEndStream) {
          t->flags |= d == 0 ? kEndClient : kEndServer;
          maybe_close(s, c, *t);
        }
        return;
      }
      case kHeaders:
      case kPushPromise:
      case kContinuation: {
        if (!dr.frag_set) set_fragment(dr);
        if (dr.frag_bad) {
          counters_.http2_bad_padding.inc();
          dr.in_block = 0;
          dr.long_mode = 0;
          lose(s, d);
          tag_target(s, dr, kTagHpackLost);
          return;
        }
        if (!(dr.flags & kEndHeaders)) {
          dr.in_block = 1;
          return;
        }
        dr.in_block = 0;
        end_block(s, c, d);
        return;
      }
      case kRstStream: {
        counters_.http2_rst_stream.inc();
        Stream* t = dr.stream != 0 && dr.len == 4 ? find(s, dr.stream) : nullptr;
        if (t != nullptr) {
          t->tags |= kTagReset;
          write(s, c, *t);
        }
        return;
      }
      case kGoaway: {
        counters_.http2_goaway.inc();
        if (dr.len < 8) return;
        // Section 6.8: streams the sender of GOAWAY never processed (initiated by its peer,
        // above the last stream id) will not complete.
        const uint32_t last = be32(dr.ctl) & 0x7fffffffu;
        for (Stream& t : s.stream) {
          if (t.id == 0 || t.id <= last) continue;
          const bool peer_initiated = d == 1 ? (t.id & 1u) != 0 : (t.id & 1u) == 0;
          if (!peer_initiated) continue;
          t.tags |= kTagGoaway;
          write(s, c, t);
        }
        return;
      }
      default:
        return;
    }
  }

  // A HEADERS or PUSH_PROMISE frame starts a header block.
  void begin_block(State& s, int d) noexcept {
    Dir& dr = s.dir[d];
    dr.block_len = 0;
    dr.block_stream = dr.stream;
    dr.block_end_stream = (dr.flags & kEndStream) && dr.type == kHeaders;
    dr.block_push = dr.type == kPushPromise;
    dr.block_dead = 0;
    dr.block_seen = 0;
    dr.target_set = 0;
    dr.block_target = 0;
    dr.long_mode = 0;
    dr.promised = 0;
  }

  // The fragment's bounds in the current frame's payload. Called once its first byte (the
  // pad length) is in ctl[], or at the end of an empty frame.
  static void set_fragment(Dir& dr) noexcept {
    uint32_t lead = 0, pad = 0;
    const bool padded = dr.type != kContinuation && (dr.flags & kPadded);
    if (padded) {
      if (dr.len < 1) {
        dr.frag_bad = 1;
        dr.frag_set = 1;
        return;
      }
      pad = dr.ctl[0];
      lead = 1;
    }
    if (dr.type == kHeaders && (dr.flags & kPriorityFlag)) lead += 5;
    if (dr.type == kPushPromise) lead += 4;
    dr.frag_set = 1;
    if (dr.len < lead + pad) {
      dr.frag_bad = 1;
      return;
    }
    dr.frag_lo = lead;
    dr.frag_hi = dr.len - pad;
  }

  void tag_target(State& s, const Dir& dr, uint32_t tag) noexcept {
    if (!dr.target_set || dr.block_target == 0) return;
    Stream* t = find(s, dr.block_target);
    if (t != nullptr) t->tags |= tag;
  }

  // The stream the block being read belongs to; opened for a request.
  void resolve_target(State& s, int d) noexcept {
    Dir& dr = s.dir[d];
    if (dr.target_set) return;
    dr.target_set = 1;
    if (dr.block_push) {
      // The promised stream id sits before the fragment (section 6.6).
      const uint32_t at = dr.frag_lo >= 4 ? dr.frag_lo - 4 : 0;
      dr.promised = at + 4 <= sizeof dr.ctl ? be32(dr.ctl + at) & 0x7fffffffu : 0;
      counters_.http2_push_promise.inc();
    }
    const uint32_t id = dr.block_push ? dr.promised : dr.block_stream;
    const bool request = d == 0 || dr.block_push;
    Stream* t = id != 0 ? find(s, id) : nullptr;
    if (t == nullptr && id != 0) {
      if (request) {
        t = open_stream(s, id);
        if (t != nullptr && dr.block_push) {
          t->tags |= kTagPushed;
          t->flags |= kEndClient;  // a promised request has no body (section 8.4)
        }
      } else {
        counters_.http2_unknown_stream.inc();
      }
    }
    dr.block_target = t != nullptr ? id : 0;
    // Trailers (section 8.1) are a second block: first values win (set_str), so the request's
    // and response's fields stay.
    if (t != nullptr) t->flags |= request ? kReqHeaders : kRespHeaders;
    if (dr.lost) {
      counters_.http2_hpack_lost_blocks.inc();
      dr.block_dead = 1;
      if (t != nullptr) t->tags |= kTagHpackLost;
    }
  }

  // HPACK gave up on side `d`: its later blocks are not decoded (never decoded wrongly).
  void hpack_failed(State& s, int d, hpack::Status st) noexcept {
    Dir& dr = s.dir[d];
    if (st == hpack::Status::kTableTooBig) {
      counters_.http2_table_too_big.inc();
    } else {
      counters_.http2_hpack_error.inc();
    }
    lose(s, d);
    dr.block_dead = 1;
    dr.long_mode = 0;
    dr.block_len = 0;
    tag_target(s, dr, kTagHpackLost);
  }

  // Decodes what block[] holds; `final` at END_HEADERS. A representation cut at the end waits
  // (moved to the front); a value longer than block[] is streamed (long_mode).
  void run_hpack(State& s, Ctx& c, int d, bool final) noexcept {
    Dir& dr = s.dir[d];
    Stream* t = dr.block_target != 0 ? find(s, dr.block_target) : nullptr;
    const int half = d == 0 || dr.block_push ? 0 : 1;
    bool seen = dr.block_seen != 0;
    size_t used = 0;
    const hpack::Status st = hpack::decode_some(
        s.table[d], dr.table_limit, s.block[d], dr.block_len, kBlockCap, seen,
        [&](const hpack::Header& h) {
          if (t == nullptr) return;
          if (t->headers[half] != 0xffff) ++t->headers[half];
          on_header(c, *t, half, h);
        },
        used, &dr.ls);
    dr.block_seen = seen ? 1 : 0;
    switch (st) {
      case hpack::Status::kOk:
        dr.block_len = 0;
        return;
      case hpack::Status::kIncomplete:
        if (final || (used == 0 && dr.block_len == kBlockCap)) {
          hpack_failed(s, d, hpack::Status::kError);
          return;
        }
        std::memmove(s.block[d], s.block[d] + used, dr.block_len - used);
        dr.block_len -= static_cast<uint32_t>(used);
        return;
      case hpack::Status::kLong: {
        if (final) {
          hpack_failed(s, d, hpack::Status::kError);
          return;
        }
        dr.long_mode = 1;
        dr.long_left = dr.ls.value_len;
        dr.long_full = 0;
        dr.long_huff = hpack::HuffState{};
        // The value's first bytes are in block[] already; what follows it (if the value ends
        // here) moves to the front, for the next representation.
        const uint32_t rest = dr.block_len - static_cast<uint32_t>(used);
        const uint32_t k = long_bytes(s, c, d, s.block[d] + used, rest);
        if (dr.block_dead) return;
        std::memmove(s.block[d], s.block[d] + used + k, rest - k);
        dr.block_len = rest - k;
        return;
      }
      default:
        hpack_failed(s, d, st);
        return;
    }
  }

  // Bytes of a long value (long_mode); returns how many were its own.
  uint32_t long_bytes(State& s, Ctx& c, int d, const uint8_t* p, uint32_t n) noexcept {
    Dir& dr = s.dir[d];
    const uint32_t take = n < dr.long_left ? n : dr.long_left;
    size_t full = dr.long_full;
    if (dr.ls.huffman) {
      hpack::huffman_feed(dr.long_huff, p, take, dr.long_keep, sizeof dr.long_keep, full);
    } else {
      for (uint32_t i = 0; i < take && full < sizeof dr.long_keep; ++i) dr.long_keep[full++] = p[i];
      full = dr.long_full + take;
    }
    dr.long_full = static_cast<uint32_t>(full);
    dr.long_left -= take;
    if (dr.long_left == 0) {
      dr.long_mode = 0;
      if (dr.ls.huffman && !hpack::huffman_finish(dr.long_huff)) {
        hpack_failed(s, d, hpack::Status::kError);
        return take;
      }
      Stream* t = dr.block_target != 0 ? find(s, dr.block_target) : nullptr;
      const int half = d == 0 || dr.block_push ? 0 : 1;
      const size_t kept = full < sizeof dr.long_keep ? full : sizeof dr.long_keep;
      hpack::finish_long(s.table[d], dr.ls, {reinterpret_cast<const char*>(dr.long_keep), kept}, full,
                         [&](const hpack::Header& h) {
                           if (t == nullptr) return;
                           if (t->headers[half] != 0xffff) ++t->headers[half];
                           on_header(c, *t, half, h);
                         });
    }
    return take;  // what follows the value is the caller's (the next representation)
  }

  // Fragment bytes of the block being read.
  void block_bytes(State& s, Ctx& c, int d, const uint8_t* p, uint32_t n) noexcept {
    Dir& dr = s.dir[d];
    resolve_target(s, d);
    while (n > 0 && !dr.block_dead) {
      if (dr.long_mode) {
        const uint32_t k = long_bytes(s, c, d, p, n);
        p += k;
        n -= k;
        continue;
      }
      const uint32_t room = kBlockCap - dr.block_len;
      const uint32_t take = n < room ? n : room;
      std::memcpy(s.block[d] + dr.block_len, p, take);
      dr.block_len += take;
      p += take;
      n -= take;
      if (dr.block_len == kBlockCap) run_hpack(s, c, d, false);
    }
  }

  // END_HEADERS: the rest of the block is decoded, the stream's state moves on.
  void end_block(State& s, Ctx& c, int d) noexcept {
    Dir& dr = s.dir[d];
    resolve_target(s, d);
    if (!dr.block_dead) {
      if (dr.long_mode) {
        hpack_failed(s, d, hpack::Status::kError);  // a value past the block's end
      } else {
        run_hpack(s, c, d, true);
      }
    }
    Stream* t = dr.block_target != 0 ? find(s, dr.block_target) : nullptr;
    if (t != nullptr && !dr.block_push && dr.block_end_stream) {
      t->flags |= d == 0 ? kEndClient : kEndServer;
      maybe_close(s, c, *t);
    }
  }

  void on_header(Ctx& c, Stream& t, int half, const hpack::Header& h) noexcept {
    const std::string_view n = h.name;
    const std::string_view v = h.value;
    if (half == 0) {
      if (n == ":method") {
        set_str(t, kMethod, v, h.cut);
      } else if (n == ":authority" || n == "host") {
        if (!(t.have & (1u << kHost))) {
          set_str(t, kHost, v, h.cut);
          c.name_app(host_name(get_str(t, kHost)));
        }
      } else if (n == ":path") {
        set_str(t, kUri, v, h.cut);
      } else if (n == "user-agent") {
        set_str(t, kUa, v, h.cut);
      } else if (n == "referer") {
        set_str(t, kReferer, v, h.cut);
      } else if (n == "content-type") {
        set_str(t, kReqCtype, v, h.cut);
      } else if (n == "x-forwarded-for") {
        set_str(t, kXff, v, h.cut);
      } else if (n == "origin") {
        set_str(t, kOrigin, v, h.cut);
      }
      return;
    }
    if (n == ":status") {
      if (v.size() == 3 && probe_util::is_digit(v[0]) && probe_util::is_digit(v[1]) &&
          probe_util::is_digit(v[2])) {
        const auto code = static_cast<uint16_t>((v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0'));
        if (code >= 100 && code < 200) {
          t.info_status = code;  // interim (section 8.1): the final response follows
        } else if (!(t.flags & kHasStatus)) {
          t.status = code;
          t.flags |= kHasStatus;
        }
      }
    } else if (n == "content-type") {
      set_str(t, kCtype, v, h.cut);
    } else if (n == "content-encoding") {
      set_str(t, kCe, v, h.cut);
    } else if (n == "location") {
      set_str(t, kLocation, v, h.cut);
    } else if (n == "content-disposition" && !(t.have & (1u << kFilename))) {
      char fn[kCap[kFilename]];
      const size_t k = http_fields::disposition_filename(v, fn, sizeof fn);
      if (k) set_str(t, kFilename, {fn, k}, false);
    }
  }

  mutable Http2Counters counters_;
};

}  // namespace

std::unique_ptr<Dissector> make_http2_dissector() { return std::make_unique<Http2Dissector>(); }

}  // namespace flowscribe::dissect
