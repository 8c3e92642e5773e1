#include "dissectors/tls/tls.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <new>

#include "dissectors/classify/reader.h"
#include "dissectors/tls/cert_cache.h"
#include "dissectors/tls/digest.h"
#include "dissectors/tls/names.h"
#include "dissectors/tls/quic.h"
#include "dissectors/tls/text.h"
#include "dissectors/tls/x509.h"
#include "dissectors/tls/x509_record.h"

namespace flowscribe::dissect {
namespace {

using tls::Text;
using F = emit::Field;

FS_DEFINE_COUNTERS(TlsCounters, FS_TLS_COUNTERS);

// One buffer per flow, shared by the two directions (a ClientHello is complete before the
// server answers it): a whole hello, or one certificate at a time. Certificate chains are
// streamed certificate by certificate, so only the largest single certificate must fit.
constexpr uint32_t kBufBytes = 16384;
constexpr uint32_t kQuicClientBytes = 12288;  // a ClientHello with post-quantum key shares fits
constexpr uint32_t kMaxRecordLen = 16384 + 2048;  // TLSCiphertext (RFC 5246 6.2.3, RFC 8446 5.2)
constexpr uint32_t kMaxChain = 10;                // certificates parsed per chain
// Fingerprint inputs held while a ClientHello is parsed (stack arrays; more is counted).
constexpr uint32_t kMaxCiphers = 512, kMaxExts = 128, kMaxGroups = 128, kMaxSigAlgs = 128,
                   kMaxPointFormats = 32;
// Field caps kept in the flow state (x509 records and the leaf summary: tls/x509_record.h).
constexpr uint32_t kSniCap = 255, kAlpnCap = 64, kClientAlpnCap = 128, kVersionsCap = 64;

// DTLS (RFC 6347 section 4.2.3, RFC 9147 section 5.5): a fragmented handshake message is
// reassembled in the flow's buffer from up to kMaxRanges disjoint pieces; a datagram with no
// DTLS record (STUN, TURN, RTP on a WebRTC flow, RFC 7983) is skipped, kMaxOtherDatagrams of
// them before any handshake record and the flow is given up.
constexpr uint32_t kMaxRanges = 32;
constexpr uint8_t kMaxOtherDatagrams = 32;

enum HsMode : uint8_t { kHsHeader, kHsBuffer, kHsSkip, kHsCert };
enum CertStep : uint8_t { kCertListLen, kCertLen, kCertBody };

struct Dir {
  uint8_t hdr[5];
  uint8_t hdr_have;   // record header bytes collected; 5 while inside a record
  uint8_t rec_type;
  uint8_t hs_hdr[4];
  uint8_t hs_hdr_have;
  uint8_t hs_type;
  uint8_t mode;       // HsMode
  uint8_t cert_step;  // CertStep
  uint8_t len3[3];
  uint8_t len3_have;
  uint8_t alert[2];
  uint8_t alert_have;
  bool stopped;       // this direction is of no more interest
  bool any_record;    // a valid record header was seen
  bool v2;            // SSLv2 record format (RFC 6101 appendix E.1)
  bool cert_keep;     // the current certificate is being buffered (else skipped)
  bool cert_big;      // ... only its first kBufBytes: it is larger; hashed whole as it goes
  uint16_t rec_left;  // payload bytes of the current record still to come
  uint32_t hs_left;   // body bytes of the current handshake message still to come
  uint32_t cert_left;
  uint32_t cert_len;
};

// One DTLS handshake message being put together from fragments (in State::buf).
struct Reasm {
  bool active;
  uint8_t di;       // 0 client, 1 server (after any role swap)
  uint8_t type;     // msg_type
  uint8_t nranges;  // disjoint byte ranges held, sorted
  uint16_t seq;     // message_seq
  uint32_t len;     // the message's length
  uint32_t want;    // bytes kept: min(len, kBufBytes)
  uint32_t lo[kMaxRanges], hi[kMaxRanges];
};

struct State {
  Dir dir[2];  // [0] client, [1] server
  uint8_t buf_owner;  // 0 free, 1 client, 2 server
  bool buf_cut;       // the message did not fit: the buffer holds its start
  bool done;          // records due; the app layer bypasses the rest of the flow
  bool written;
  bool have_ch, have_sh, complete, cert_hidden, resumed, sslv2, fp_ok, fps_ok;
  bool sslv2_sh;  // the ServerHello was SSLv2's: cipher specs, no one cipher
  bool has_alert, sv_present;
  // DTLS (UDP): datagrams, not a stream.
  bool dtls;
  bool roles_known;   // the first ClientHello (or server hello) said which side is which
  uint8_t swap;       // 1: the DTLS client is the flow's server side (WebRTC, STUN first)
  uint8_t other_dgrams;
  bool any_hs;        // a DTLS handshake record was seen
  bool ch_seen, sh_seen, cert_done, shd_seen, hrr;
  uint16_t ch_seq, sh_seq;  // message_seq of the ClientHello / ServerHello written
  uint16_t shd_seq;         // message_seq of the ServerHelloDone
  uint32_t srv_seen;        // bit q: a fragment of the server's message_seq q (< 32) was seen
  Reasm reasm;
  // QUIC (UDP, proto quic): the hellos travel in CRYPTO frames of Initial packets, decrypted
  // with keys from the client's Destination Connection ID (tls/quic.h). Each direction's
  // CRYPTO stream is put together in buf (client [0, kQuicClientBytes), server after it).
  bool quic;
  uint8_t quic_dcid_len;
  uint8_t quic_dgrams;
  uint8_t quic_spans[2];          // intervals held per direction
  uint8_t quic_stop;              // bit per direction: its CRYPTO stream is no readable hello
  uint8_t quic_dcid[20];
  uint16_t quic_span[2][8][2];    // [dir][i] = {start, end} of CRYPTO bytes held
  uint8_t alert_desc;
  uint8_t sid_len;
  uint8_t cert_count;
  uint8_t ja4_len;
  uint16_t client_max_version;
  uint16_t cipher_count;
  uint16_t server_version;
  uint16_t cipher;
  uint16_t sni_len, alpn_len, client_alpn_len, versions_len;
  uint32_t buf_len;
  uint8_t sid[32];
  uint8_t ja3[16], ja3s[16];
  char ja4[40];
  char sni[kSniCap];
  char alpn[kAlpnCap];
  char client_alpn[kClientAlpnCap];
  char client_versions[kVersionsCap];
  tls::LeafSummary leaf;  // the server's own certificate, for the tls record
  // A certificate larger than buf: its SHA-1 and SHA-256, hashed as its bytes go by
  // (tls::Digest objects, placed when such a certificate starts).
  alignas(16) unsigned char big_digest[2][sizeof(tls::Digest)];
  tls::Digest& big(int i) noexcept { return *std::launder(reinterpret_cast<tls::Digest*>(big_digest[i])); }
  alignas(64) uint8_t buf[kBufBytes];
};

constexpr bool is_grease(uint16_t v) noexcept {  // RFC 8701 section 2
  return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

// A list of big-endian 16-bit values (cipher suites, groups, signature algorithms) into
// out[0..max), GREASE values skipped; `capped` when some did not fit. Returns how many
// non-GREASE values the list held.
uint32_t read_u16_list(Bytes l, uint16_t* out, uint32_t& n, uint32_t max, bool& capped) noexcept {
  uint32_t total = 0;
  for (uint32_t i = 0; i + 1 < l.n; i += 2) {
    const uint16_t v = static_cast<uint16_t>(l.p[i] << 8 | l.p[i + 1]);
    if (is_grease(v)) continue;
    ++total;
    if (n < max) {
      out[n++] = v;
    } else {
      capped = true;
    }
  }
  return total;
}

// Versions in protocol order: DTLS counts down (RFC 6347 section 4.1: 1.0 is 0xfeff, 1.2
// 0xfefd, RFC 9147: 1.3 0xfefc), ranked here with the TLS version each derives from.
constexpr uint32_t version_rank(uint16_t v) noexcept {
  switch (v) {
    case 0xfeff: return 0x0302;
    case 0xfefd: return 0x0303;
    case 0xfefc: return 0x0304;
    default: return (v >> 8) == 0xfe ? 0 : v;
  }
}

constexpr bool is_alnum(uint8_t c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

const char* alert_name(uint8_t d) noexcept {  // RFC 8446 section 6, RFC 5246 section 7.2
  switch (d) {
    case 0: return "close_notify";
    case 10: return "unexpected_message";
    case 20: return "bad_record_mac";
    case 21: return "decryption_failed";
    case 22: return "record_overflow";
    case 30: return "decompression_failure";
    case 40: return "handshake_failure";
    case 41: return "no_certificate";
    case 42: return "bad_certificate";
    case 43: return "unsupported_certificate";
    case 44: return "certificate_revoked";
    case 45: return "certificate_expired";
    case 46: return "certificate_unknown";
    case 47: return "illegal_parameter";
    case 48: return "unknown_ca";
    case 49: return "access_denied";
    case 50: return "decode_error";
    case 51: return "decrypt_error";
    case 60: return "export_restriction";
    case 70: return "protocol_version";
    case 71: return "insufficient_security";
    case 80: return "internal_error";
    case 86: return "inappropriate_fallback";
    case 90: return "user_canceled";
    case 100: return "no_renegotiation";
    case 109: return "missing_extension";
    case 110: return "unsupported_extension";
    case 111: return "certificate_unobtainable";
    case 112: return "unrecognized_name";
    case 113: return "bad_certificate_status_response";
    case 114: return "bad_certificate_hash_value";
    case 115: return "unknown_psk_identity";
    case 116: return "certificate_required";
    case 120: return "no_application_protocol";
    case 121: return "ech_required";
    default: return nullptr;
  }
}

// Feeds decimal or hex list text to a digest through a small buffer: a fingerprint's text is
// made of hundreds of short pieces, and one digest update per piece cost ~25K instructions
// per ClientHello (callgrind, bench_pipeline --mix); one update per 256 bytes costs ~1/10.
class HashText {
 public:
  explicit HashText(tls::DigestKind k) noexcept : d_(k) {}
  void put(std::string_view s) noexcept {
    if (s.size() > sizeof buf_ - n_) {
      flush();
      if (s.size() > sizeof buf_) {
        d_.update(s);
        return;
      }
    }
    std::memcpy(buf_ + n_, s.data(), s.size());
    n_ += static_cast<uint32_t>(s.size());
  }
  void dec(uint32_t v) noexcept {
    char b[12];
    Text t(b, sizeof b);
    t.dec(v);
    put(t.view());
  }
  void hex4(uint16_t v) noexcept {
    static constexpr char kHex[] = "0123456789abcdef";
    const char b[4] = {kHex[v >> 12], kHex[(v >> 8) & 15], kHex[(v >> 4) & 15], kHex[v & 15]};
    put({b, 4});
  }
  template <typename T>
  void dec_list(const T* v, uint32_t n) noexcept {
    for (uint32_t i = 0; i < n; ++i) {
      if (i) put("-");
      dec(v[i]);
    }
  }
  void hex_list(const uint16_t* v, uint32_t n) noexcept {
    for (uint32_t i = 0; i < n; ++i) {
      if (i) put(",");
      hex4(v[i]);
    }
  }
  void final(uint8_t* out) noexcept {
    flush();
    d_.final(out);
  }

 private:
  void flush() noexcept {
    if (n_) d_.update(std::string_view(buf_, n_));
    n_ = 0;
  }
  tls::Digest d_;
  uint32_t n_ = 0;
  char buf_[256];
};

class TlsDissector final : public Dissector {
 public:
  std::string_view name() const noexcept override { return "tls"; }
  uint32_t state_bytes() const noexcept override { return sizeof(State); }
  // 2048 flows in their handshake per worker: 2048 x ~18 KiB = ~37 MiB.
  uint32_t default_states() const noexcept override { return 2048; }

  void begin_flow(void* st, Ctx& c, uint8_t transport) noexcept override {
    State& s = *static_cast<State*>(st);
    // Everything but the buffer starts zeroed (the buffer is written before it is read).
    std::memset(static_cast<void*>(&s), 0, offsetof(State, buf));
    cnt_.tls_flows.inc();
    if (transport == 17 && c.flow.app_proto == static_cast<uint16_t>(AppProto::kQuic)) {
      s.quic = true;
      cnt_.tls_quic_flows.inc();
    } else if (transport == 17) {
      s.dtls = true;
      cnt_.tls_dtls_flows.inc();
    } else if (c.flow.app_proto == static_cast<uint16_t>(AppProto::kStun)) {
      s.done = true;  // STUN over TCP carries no DTLS: nothing to read
    }
  }

  Progress data(void* st, Ctx& c, bool from_client, const uint8_t* p, uint32_t len,
                uint32_t) noexcept override {
    State& s = *static_cast<State*>(st);
    if (s.done) return Progress::kDone;
    if (s.quic) return quic_datagram(s, c, from_client ? 0 : 1, p, len);
    if (s.dtls) return datagram(s, c, from_client ? 0 : 1, p, len);
    return feed(s, c, from_client ? 0 : 1, p, len);
  }

  Progress gap(void* st, Ctx&, bool from_client, uint32_t) noexcept override {
    State& s = *static_cast<State*>(st);
    if (s.done) return Progress::kDone;
    Dir& d = s.dir[from_client ? 0 : 1];
    if (d.stopped) return Progress::kMore;
    cnt_.tls_gap.inc();
    d.stopped = true;
    release(s, from_client ? 0 : 1);
    // The server's side is what completes a handshake: without it there is nothing to wait for.
    if (!from_client || s.dir[1].stopped) {
      s.done = true;
      return Progress::kDone;
    }
    return Progress::kMore;
  }

  void end_flow(void* st, Ctx& c) noexcept override { write_tls(*static_cast<State*>(st), c); }

  void for_each_counter(CounterFn f) const override { cnt_.for_each(f); }

 private:
  // ---- DTLS record layer (RFC 6347 section 4.1, RFC 9147 section 4) ------------------------
  // One datagram: records one after another, each a 13-byte header (type, version, epoch,
  // 48-bit sequence number, length) and its payload. `side` is the flow's direction (0: the
  // flow's client); handshake messages are attributed to the DTLS roles (side ^ swap).
  // ---- QUIC Initial packets (RFC 9000 section 17.2.2, RFC 9001 section 5) -----------------
  Progress quic_datagram(State& s, Ctx& c, int side, const uint8_t* p, uint32_t n) noexcept {
    const bool from_server = side == 1;
    uint8_t plain[2048];
    uint32_t off = 0;
    while (off < n) {
      // The server's Initials use keys from the client's DCID: wait for a client Initial.
      if (from_server && s.quic_dcid_len == 0) break;
      tls::quic::Packet pk;
      if (!tls::quic::open_packet(p + off, n - off, from_server ? s.quic_dcid : nullptr,
                             s.quic_dcid_len, from_server, plain, sizeof plain, pk) ||
          pk.length == 0) {
        break;
      }
      if (pk.initial) {
        cnt_.tls_quic_initials.inc();
        if (!from_server) {  // the latest client DCID (a Retry changes it) keys the server
          s.quic_dcid_len = pk.dcid_len;
          std::memcpy(s.quic_dcid, pk.dcid, pk.dcid_len);
        }
        const bool ok = tls::quic::crypto_frames(plain, pk.plain_len,
                                            [&](uint64_t at, const uint8_t* d, uint32_t len) {
                                              quic_crypto(s, side, at, d, len);
                                            });
        if (!ok) cnt_.tls_quic_bad_frames.inc();
      }
      off += pk.length;
    }
    quic_hellos(s, c);
    if ((s.have_ch || (s.quic_stop & 1)) && (s.have_sh || (s.quic_stop & 2))) {
      s.done = true;  // the rest (Handshake keys) cannot be read
      return Progress::kDone;
    }
    if (++s.quic_dgrams >= 32) {
      cnt_.tls_quic_no_hello.inc();
      s.done = true;
      return Progress::kDone;
    }
    return Progress::kMore;
  }

  // CRYPTO bytes at stream offset `at` of one direction: copied to their place in buf, their
  // span merged with the ones held (frames come in any order, and again).
  void quic_crypto(State& s, int side, uint64_t at, const uint8_t* d, uint32_t len) noexcept {
    const uint32_t base = side == 0 ? 0 : kQuicClientBytes;
    const uint32_t cap = side == 0 ? kQuicClientBytes : kBufBytes - kQuicClientBytes;
    if (at >= cap || len == 0) {
      if (len) cnt_.tls_hello_oversize.inc();
      return;
    }
    uint32_t a = static_cast<uint32_t>(at);
    uint32_t b = len > cap - a ? cap : a + len;
    std::memcpy(s.buf + base + a, d, b - a);
    auto& sp = s.quic_span[side];
    uint8_t& k = s.quic_spans[side];
    // Merge with every overlapping or touching span; the result replaces them.
    for (uint32_t i = 0; i < k;) {
      if (sp[i][0] <= b && a <= sp[i][1]) {
        a = std::min<uint32_t>(a, sp[i][0]);
        b = std::max<uint32_t>(b, sp[i][1]);
        sp[i][0] = sp[k - 1][0];
        sp[i][1] = sp[k - 1][1];
        --k;
      } else {
        ++i;
      }
    }
    if (k == 8) {  // too scattered: keep the span from 0, drop the others
      cnt_.tls_quic_bad_frames.inc();
      uint32_t keep = 0;
      for (uint32_t i = 0; i < k; ++i) {
        if (sp[i][0] == 0) {
          sp[keep][0] = sp[i][0];
          sp[keep][1] = sp[i][1];
          ++keep;
        }
      }
      k = static_cast<uint8_t>(keep);
    }
    sp[k][0] = static_cast<uint16_t>(a);
    sp[k][1] = static_cast<uint16_t>(b);
    ++k;
  }

  // Bytes of one direction's CRYPTO stream held from offset 0 on.
  uint32_t quic_contiguous(const State& s, int side) const noexcept {
    for (uint32_t i = 0; i < s.quic_spans[side]; ++i) {
      if (s.quic_span[side][i][0] == 0) return s.quic_span[side][i][1];
    }
    return 0;
  }

  void quic_hellos(State& s, Ctx& c) noexcept {
    for (int side = 0; side < 2; ++side) {
      if ((side == 0 ? s.have_ch : s.have_sh) || (s.quic_stop >> side & 1)) continue;
      const uint8_t* m = s.buf + (side == 0 ? 0 : kQuicClientBytes);
      const uint32_t have = quic_contiguous(s, side);
      if (have < 4) continue;
      const uint8_t want_type = side == 0 ? 1 : 2;  // ClientHello, ServerHello
      if (m[0] != want_type) {  // not a hello first: nothing to read on this side
        cnt_.tls_quic_bad_frames.inc();
        s.quic_stop |= static_cast<uint8_t>(1 << side);
        continue;
      }
      const uint32_t len = uint32_t{m[1]} << 16 | uint32_t{m[2]} << 8 | m[3];
      const uint32_t cap = side == 0 ? kQuicClientBytes : kBufBytes - kQuicClientBytes;
      if (len + 4 > cap) {
        cnt_.tls_hello_oversize.inc();
        s.quic_stop |= static_cast<uint8_t>(1 << side);
        continue;
      }
      if (have < len + 4) continue;
      if (side == 0) parse_client_hello(s, c, Bytes{m + 4, len});
      else parse_server_hello(s, Bytes{m + 4, len});
    }
  }

  Progress datagram(State& s, Ctx& c, int side, const uint8_t* p, uint32_t n) noexcept {
    // RFC 7983 section 7: DTLS is 20-63 in the first byte; STUN, ZRTP, TURN channels and
    // RTP/RTCP share a WebRTC flow.
    if (n == 0 || p[0] < 20 || p[0] > 63) {
      cnt_.tls_dtls_other_datagrams.inc();
      return other_datagram(s);
    }
    uint32_t off = 0;
    bool any = false;
    while (n - off >= 1 && !s.done) {
      const uint8_t type = p[off];
      if ((type & 0xe0) == 0x20) {  // RFC 9147 section 4: unified header, encrypted record
        if ((side ^ s.swap) == 1) finish_encrypted(s);
        any = true;
        break;  // its length field is optional: nothing after it can be found
      }
      if (n - off < 13) {
        cnt_.tls_dtls_record_cut.inc();
        break;
      }
      const uint16_t version = static_cast<uint16_t>(p[off + 1] << 8 | p[off + 2]);
      const uint16_t epoch = static_cast<uint16_t>(p[off + 3] << 8 | p[off + 4]);
      uint32_t len = uint32_t{p[off + 11]} << 8 | p[off + 12];
      // DTLS 1.0 (0xfeff), 1.2 (0xfefd), 1.3 (0xfefc, RFC 9147 keeps 0xfefd on the wire) and
      // OpenSSL's pre-RFC DTLS1_BAD_VER (0x0100); types 20-25 (25: tls12_cid, RFC 9146).
      if (type > 25 || (version != 0xfeff && version != 0xfefd && version != 0xfefc && version != 0x0100)) {
        cnt_.tls_dtls_bad_record.inc();
        break;
      }
      any = true;
      off += 13;
      if (len > n - off) {  // cut by the capture's snap length, or lying
        cnt_.tls_dtls_record_cut.inc();
        len = n - off;
      }
      const uint8_t* body = p + off;
      off += len;
      const int di = side ^ s.swap;
      if (epoch != 0 || type == 25) {  // protected (RFC 6347 section 4.1: epoch 0 is plaintext)
        if (di == 1) finish_encrypted(s);
        else s.dir[0].stopped = true;
        continue;
      }
      switch (type) {
        case 22:
          s.any_hs = true;
          dtls_handshake(s, c, side, body, len);
          break;
        case 21:
          s.dir[di].alert_have = 0;
          alert(s, di, body, len);
          break;
        case 20:  // ChangeCipherSpec: what follows from this side is encrypted
        case 23:
          if (di == 1) finish_encrypted(s);
          else s.dir[0].stopped = true;
          break;
        default:  // heartbeat
          break;
      }
    }
    if (!any) return other_datagram(s);
    return s.done ? Progress::kDone : Progress::kMore;
  }

  // A datagram with nothing of DTLS: bounded patience before any handshake was seen.
  Progress other_datagram(State& s) noexcept {
    if (!s.any_hs && !s.have_ch && !s.have_sh && ++s.other_dgrams >= kMaxOtherDatagrams) {
      cnt_.tls_dtls_no_handshake.inc();
      s.done = true;
      return Progress::kDone;
    }
    return s.done ? Progress::kDone : Progress::kMore;
  }

  // The server's records are encrypted from here on (ChangeCipherSpec, epoch > 0, a DTLS 1.3
  // unified header): the handshake is over; complete unless the certificate is missing.
  void finish_encrypted(State& s) noexcept {
    s.complete = s.have_sh && !(s.reasm.active && s.reasm.di == 1 && s.reasm.type == 11);
    s.done = true;
  }

  // Handshake fragments of one record (RFC 6347 section 4.2.2): each a 12-byte header (type,
  // length, message_seq, fragment_offset, fragment_length) and fragment_length bytes.
  void dtls_handshake(State& s, Ctx& c, int side, const uint8_t* p, uint32_t n) noexcept {
    while (n >= 12 && !s.done) {
      const uint8_t type = p[0];
      const uint32_t mlen = uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
      const uint16_t seq = static_cast<uint16_t>(p[4] << 8 | p[5]);
      const uint32_t foff = uint32_t{p[6]} << 16 | uint32_t{p[7]} << 8 | p[8];
      const uint32_t flen = uint32_t{p[9]} << 16 | uint32_t{p[10]} << 8 | p[11];
      p += 12;
      n -= 12;
      if (foff > mlen || flen > mlen - foff) {
        cnt_.tls_dtls_bad_fragment.inc();
        return;
      }
      const uint32_t have = std::min(flen, n);  // a record cut short holds part of it
      if (!s.roles_known && (type == 1 || type == 2 || type == 3)) {
        s.roles_known = true;
        s.swap = static_cast<uint8_t>(type == 1 ? side : side ^ 1);
        if (s.swap) cnt_.tls_dtls_roles_swapped.inc();
      }
      if ((side ^ s.swap) == 1 && seq < 32) s.srv_seen |= 1u << seq;
      fragment(s, c, side ^ s.swap, type, seq, mlen, foff, p, have);
      if (flen > n) return;
      p += flen;
      n -= flen;
    }
  }

  // Is message (di, type, seq) one to read? Retransmissions of what was read are counted.
  bool wanted(State& s, int di, uint8_t type, uint16_t seq) noexcept {
    bool known = false;  // a message of a kind we read
    bool fresh = false;  // not read yet
    if (di == 0) {
      if (type == 1) known = true, fresh = !s.ch_seen || seq > s.ch_seq;
    } else if (type == 2) {
      known = true, fresh = !s.sh_seen || seq > s.sh_seq;
    } else if (type == 11) {
      known = true, fresh = !s.cert_done;
    } else if (type == 3 || type == 14) {
      known = fresh = true;
    }
    if (known && !fresh) cnt_.tls_dtls_retransmits.inc();
    return fresh;
  }

  void fragment(State& s, Ctx& c, int di, uint8_t type, uint16_t seq, uint32_t mlen, uint32_t foff,
                const uint8_t* p, uint32_t k) noexcept {
    if (!wanted(s, di, type, seq)) return;
    if (type == 3) {  // HelloVerifyRequest: a second ClientHello with the cookie follows
      if (foff == 0) cnt_.tls_dtls_hello_verify.inc();
      return;
    }
    if (type == 14) {  // ServerHelloDone (empty)
      s.shd_seen = true;
      s.shd_seq = seq;
      check_done(s);
      return;
    }
    if (foff == 0 && k == mlen) {  // whole in one fragment: read in place
      message(s, c, di, type, seq, Bytes{p, k}, false);
      return;
    }
    Reasm& r = s.reasm;
    if (r.active && !(r.di == di && r.type == type && r.seq == seq)) {
      // Another message holds the buffer: the later one in the handshake wins (the earlier
      // one lost a fragment, or its answer would not be here).
      const bool later = di > r.di || (di == r.di && seq > r.seq);
      if (!later) {
        cnt_.tls_dtls_reasm_busy.inc();
        return;
      }
      cnt_.tls_dtls_reasm_abandoned.inc();
      r.active = false;
    }
    if (r.active && r.len != mlen) {
      cnt_.tls_dtls_bad_fragment.inc();
      return;
    }
    if (!r.active) {
      r.active = true;
      r.di = static_cast<uint8_t>(di);
      r.type = type;
      r.seq = seq;
      r.len = mlen;
      r.want = std::min(mlen, kBufBytes);
      r.nranges = 0;
    }
    const uint32_t lo = foff;
    const uint32_t hi = std::min(foff + k, r.want);
    if (lo >= hi) return;  // past what the buffer keeps, or empty
    if (!add_range(r, lo, hi)) {
      cnt_.tls_dtls_reasm_ranges.inc();
      return;
    }
    std::memcpy(s.buf + lo, p, hi - lo);
    if (r.nranges == 1 && r.lo[0] == 0 && r.hi[0] == r.want) {
      r.active = false;
      cnt_.tls_dtls_reassembled.inc();
      if (r.want < r.len) cnt_.tls_dtls_msg_cut.inc();
      message(s, c, di, type, seq, Bytes{s.buf, r.want}, r.want < r.len);
    }
  }

  // Adds [lo, hi) to the sorted disjoint ranges, merging what touches; false when it would
  // take more than kMaxRanges ranges.
  static bool add_range(Reasm& r, uint32_t lo, uint32_t hi) noexcept {
    uint32_t i = 0;
    while (i < r.nranges && r.hi[i] < lo) ++i;  // ranges wholly before [lo, hi)
    uint32_t j = i;
    while (j < r.nranges && r.lo[j] <= hi) {  // ranges that overlap or touch it
      lo = std::min(lo, r.lo[j]);
      hi = std::max(hi, r.hi[j]);
      ++j;
    }
    const uint32_t merged = j - i;
    if (merged == 0 && r.nranges == kMaxRanges) return false;
    // Replace ranges [i, j) by the one range at i.
    const uint32_t tail = r.nranges - j;
    if (merged == 0) {
      std::memmove(r.lo + i + 1, r.lo + i, tail * sizeof r.lo[0]);
      std::memmove(r.hi + i + 1, r.hi + i, tail * sizeof r.hi[0]);
      ++r.nranges;
    } else if (merged > 1) {
      std::memmove(r.lo + i + 1, r.lo + j, tail * sizeof r.lo[0]);
      std::memmove(r.hi + i + 1, r.hi + j, tail * sizeof r.hi[0]);
      r.nranges = static_cast<uint8_t>(r.nranges - (merged - 1));
    }
    r.lo[i] = lo;
    r.hi[i] = hi;
    return true;
  }

  // A whole handshake message (or, `cut`, the start of one larger than the buffer).
  void message(State& s, Ctx& c, int di, uint8_t type, uint16_t seq, Bytes m, bool cut) noexcept {
    // An earlier copy of this kind of message still being put together is of no more use.
    if (s.reasm.active && s.reasm.di == di && s.reasm.type == type) s.reasm.active = false;
    s.buf_cut = cut;
    if (di == 0) {  // a ClientHello; a later one (after HelloVerifyRequest) replaces it
      reset_client(s);
      s.ch_seen = true;
      s.ch_seq = seq;
      parse_client_hello(s, c, m);
      return;
    }
    if (type == 2) {
      s.sh_seen = true;
      s.sh_seq = seq;
      s.hrr = false;
      parse_server_hello(s, m);
      // A HelloRetryRequest (DTLS 1.3) asks for a second ClientHello: wait for its answer.
      if (s.cert_hidden && !s.hrr) {
        s.complete = true;
        s.done = true;
      }
      check_done(s);
      return;
    }
    // Certificate (RFC 5246 section 7.4.2): a 3-byte list length, then 3-byte length and DER
    // per certificate.
    s.cert_done = true;
    Reader r(m);
    const uint32_t list = r.be24();
    Reader l(r.bytes(std::min(list, r.left())));
    while (l.ok() && !l.at_end()) {
      const uint32_t len = l.be24();
      if (!l.ok()) break;
      if (s.cert_count >= kMaxChain) {
        cnt_.tls_chain_cap.inc();
        break;
      }
      if (len > l.left()) {
        if (cut) {
          cnt_.tls_cert_oversize.inc();
          cert_error(s, c, len, "cut: the handshake message is larger than the 16384-byte buffer");
        } else {
          cnt_.tls_cert_errors.inc();
          cert_error(s, c, len, "longer than its Certificate message");
        }
        break;
      }
      certificate(s, c, l.bytes(len).p, len);
    }
    check_done(s);
  }

  // Done once the server's hello and its certificate are in, or its ServerHelloDone and every
  // message between the two (datagrams may come out of order: the Certificate may still be
  // on its way when ServerHelloDone arrives).
  static void check_done(State& s) noexcept {
    if (!s.have_sh || s.done || s.hrr) return;
    bool fin = s.cert_done;
    if (!fin && s.shd_seen && !(s.reasm.active && s.reasm.di == 1 && s.reasm.type == 11)) {
      fin = true;
      for (uint32_t q = uint32_t{s.sh_seq} + 1; q < s.shd_seq && fin; ++q) {
        fin = q < 32 && (s.srv_seen >> q & 1);
      }
    }
    if (fin) {
      s.complete = true;
      s.done = true;
    }
  }

  // Before a ClientHello is (re)read: what the previous one left.
  static void reset_client(State& s) noexcept {
    s.have_ch = false;
    s.fp_ok = false;
    s.sv_present = false;
    s.sni_len = 0;
    s.client_alpn_len = s.versions_len = 0;
    s.cipher_count = 0;
    s.client_max_version = 0;
    s.sid_len = 0;
    s.ja4_len = 0;
  }

  // ---- record layer (RFC 5246 section 6.2, RFC 8446 section 5) ----------------------------
  Progress feed(State& s, Ctx& c, int di, const uint8_t* p, uint32_t n) noexcept {
    Dir& d = s.dir[di];
    while (n > 0 && !d.stopped && !s.done) {
      if (d.v2 || (d.hdr_have == 0 && !d.any_record && (p[0] & 0x80))) {
        if (!feed_v2(s, c, di, p, n)) break;
        continue;
      }
      if (d.hdr_have < 5) {
        const uint32_t k = std::min<uint32_t>(5 - d.hdr_have, n);
        std::memcpy(d.hdr + d.hdr_have, p, k);
        d.hdr_have = static_cast<uint8_t>(d.hdr_have + k);
        p += k;
        n -= k;
        if (d.hdr_have < 5) break;
        const uint8_t type = d.hdr[0];
        const uint32_t len = uint32_t{d.hdr[3]} << 8 | d.hdr[4];
        if (type < 20 || type > 24 || d.hdr[1] != 3 || d.hdr[2] > 4 || len > kMaxRecordLen) {
          return bad_record(s);
        }
        d.any_record = true;
        d.rec_type = type;
        d.rec_left = static_cast<uint16_t>(len);
        d.alert_have = 0;
        if (type == 20 || type == 23) {
          // ChangeCipherSpec or application data: what follows is encrypted.
          if (di == 1) {
            s.complete = s.have_sh;  // an abbreviated (resumed) handshake ends here
            s.done = true;
            break;
          }
          d.stopped = true;
          break;
        }
        if (len == 0) d.hdr_have = 0;
        continue;
      }
      const uint32_t k = std::min<uint32_t>(n, d.rec_left);
      if (d.rec_type == 22) {
        handshake(s, c, di, p, k);
      } else if (d.rec_type == 21) {
        alert(s, di, p, k);
      }
      p += k;
      n -= k;
      d.rec_left = static_cast<uint16_t>(d.rec_left - k);
      if (d.rec_left == 0) d.hdr_have = 0;
    }
    return s.done ? Progress::kDone : Progress::kMore;
  }

  Progress bad_record(State& s) noexcept {
    // A flow that gave a hello or a certificate was TLS (its records are out): it stops here.
    if (s.have_ch || s.have_sh || s.cert_count != 0) {
      cnt_.tls_bad_record.inc();
      s.done = true;
      return Progress::kDone;
    }
    cnt_.tls_violation.inc();
    s.done = true;
    return Progress::kViolation;
  }

  void alert(State& s, int di, const uint8_t* p, uint32_t k) noexcept {
    Dir& d = s.dir[di];
    while (k > 0 && d.alert_have < 2) {
      d.alert[d.alert_have++] = *p++;
      --k;
    }
    if (d.alert_have != 2 || di != 1 || s.has_alert) return;
    d.alert_have = 3;  // once per record
    cnt_.tls_alerts.inc();
    s.has_alert = true;
    s.alert_desc = d.alert[1];
    if (d.alert[0] == 2) s.done = true;  // fatal: the handshake is over
  }

  // SSLv2 records: 2-byte header with the high bit set (RFC 6101 appendix E.1); the first
  // message of each side is all there is to read.
  bool feed_v2(State& s, Ctx& c, int di, const uint8_t*& p, uint32_t& n) noexcept {
    Dir& d = s.dir[di];
    if (!d.v2) {
      d.v2 = true;
      d.hdr_have = 0;
    }
    if (d.hdr_have < 2) {
      const uint32_t k = std::min<uint32_t>(2 - d.hdr_have, n);
      std::memcpy(d.hdr + d.hdr_have, p, k);
      d.hdr_have = static_cast<uint8_t>(d.hdr_have + k);
      p += k;
      n -= k;
      if (d.hdr_have < 2) return false;
      d.rec_left = static_cast<uint16_t>((d.hdr[0] & 0x7f) << 8 | d.hdr[1]);
      if (!acquire(s, di)) {
        d.stopped = true;
        return false;
      }
      if (d.rec_left == 0) {
        d.stopped = true;
        release(s, di);
        return false;
      }
      return true;
    }
    const uint32_t k = std::min<uint32_t>(n, d.rec_left);
    append(s, p, k);
    p += k;
    n -= k;
    d.rec_left = static_cast<uint16_t>(d.rec_left - k);
    if (d.rec_left != 0) return true;
    cnt_.tls_sslv2_hellos.inc();
    if (di == 0) {
      parse_v2_client_hello(s, c);
      d.stopped = true;
    } else {
      parse_v2_server_hello(s, c);
      s.done = true;
    }
    release(s, di);
    return false;
  }

  // ---- buffer -------------------------------------------------------------------------------
  bool acquire(State& s, int di) noexcept {
    if (s.buf_owner != 0 && s.buf_owner != di + 1) {
      cnt_.tls_buffer_busy.inc();
      return false;
    }
    s.buf_owner = static_cast<uint8_t>(di + 1);
    s.buf_len = 0;
    s.buf_cut = false;
    return true;
  }
  static void release(State& s, int di) noexcept {
    if (s.buf_owner == di + 1) s.buf_owner = 0;
  }
  static void append(State& s, const uint8_t* p, uint32_t k) noexcept {
    const uint32_t room = kBufBytes - s.buf_len;
    if (k > room) {
      s.buf_cut = true;
      k = room;
    }
    std::memcpy(s.buf + s.buf_len, p, k);
    s.buf_len += k;
  }

  // ---- handshake layer (RFC 8446 section 4, RFC 5246 section 7.4) ---------------------------
  void handshake(State& s, Ctx& c, int di, const uint8_t* p, uint32_t k) noexcept {
    Dir& d = s.dir[di];
    while (k > 0 && !s.done && !d.stopped) {
      if (d.mode == kHsHeader) {
        const uint32_t t = std::min<uint32_t>(4 - d.hs_hdr_have, k);
        std::memcpy(d.hs_hdr + d.hs_hdr_have, p, t);
        d.hs_hdr_have = static_cast<uint8_t>(d.hs_hdr_have + t);
        p += t;
        k -= t;
        if (d.hs_hdr_have < 4) return;
        d.hs_hdr_have = 0;
        d.hs_type = d.hs_hdr[0];
        d.hs_left = uint32_t{d.hs_hdr[1]} << 16 | uint32_t{d.hs_hdr[2]} << 8 | d.hs_hdr[3];
        start_message(s, di);
        if (d.hs_left == 0) end_message(s, c, di);
        continue;
      }
      const uint32_t m = std::min(k, d.hs_left);
      if (d.mode == kHsBuffer) {
        append(s, p, m);
      } else if (d.mode == kHsCert) {
        certificates(s, c, d, p, m);
      }
      p += m;
      k -= m;
      d.hs_left -= m;
      if (d.hs_left == 0) end_message(s, c, di);
    }
  }

  void start_message(State& s, int di) noexcept {
    Dir& d = s.dir[di];
    d.mode = kHsSkip;
    if ((di == 0 && d.hs_type == 1) || (di == 1 && d.hs_type == 2)) {
      if (acquire(s, di)) d.mode = kHsBuffer;
    } else if (di == 1 && d.hs_type == 11) {
      d.mode = kHsCert;
      d.cert_step = kCertListLen;
      d.len3_have = 0;
      d.cert_keep = false;
    }
  }

  void end_message(State& s, Ctx& c, int di) noexcept {
    Dir& d = s.dir[di];
    const bool buffered = d.mode == kHsBuffer;
    d.mode = kHsHeader;
    if (di == 0) {
      if (d.hs_type != 1) return;
      if (buffered) parse_client_hello(s, c, Bytes{s.buf, s.buf_len});
      release(s, di);
      d.stopped = true;  // nothing after the ClientHello is logged
      return;
    }
    switch (d.hs_type) {
      case 2:
        if (buffered) parse_server_hello(s, Bytes{s.buf, s.buf_len});
        release(s, di);
        if (s.cert_hidden) {
          s.complete = true;
          s.done = true;
        }
        return;
      case 11:  // Certificate: the chain is all we wait for
        release(s, di);
        s.complete = true;
        s.done = true;
        return;
      case 14:  // ServerHelloDone: no certificate is coming (anonymous or PSK suites)
        s.complete = true;
        s.done = true;
        return;
      default:
        return;
    }
  }

  // Certificate (RFC 5246 section 7.4.2): a 3-byte list length, then 3-byte length and DER
  // per certificate; each certificate is buffered alone and parsed when complete.
  void certificates(State& s, Ctx& c, Dir& d, const uint8_t* p, uint32_t m) noexcept {
    while (m > 0) {
      if (d.cert_step != kCertBody) {
        const uint32_t t = std::min<uint32_t>(3 - d.len3_have, m);
        std::memcpy(d.len3 + d.len3_have, p, t);
        d.len3_have = static_cast<uint8_t>(d.len3_have + t);
        p += t;
        m -= t;
        if (d.len3_have < 3) return;
        d.len3_have = 0;
        if (d.cert_step == kCertListLen) {
          d.cert_step = kCertLen;
          continue;
        }
        d.cert_len = d.cert_left = uint32_t{d.len3[0]} << 16 | uint32_t{d.len3[1]} << 8 | d.len3[2];
        d.cert_step = kCertBody;
        d.cert_keep = false;
        d.cert_big = false;
        if (s.cert_count >= kMaxChain) {
          cnt_.tls_chain_cap.inc();
        } else if (d.cert_len > kBufBytes) {
          // Its first kBufBytes are kept (the serial, names and validity come first) and the
          // whole is hashed for its fingerprints.
          cnt_.tls_cert_oversize.inc();
          if (acquire(s, 1)) {
            d.cert_keep = true;
            d.cert_big = true;
            new (s.big_digest[0]) tls::Digest(tls::DigestKind::kSha1);
            new (s.big_digest[1]) tls::Digest(tls::DigestKind::kSha256);
          } else {
            cert_error(s, c, d.cert_len, "larger than the 16384-byte buffer");
          }
        } else if (acquire(s, 1)) {
          d.cert_keep = true;
        }
        if (d.cert_left == 0) d.cert_step = kCertLen;
        continue;
      }
      const uint32_t t = std::min(m, d.cert_left);
      if (d.cert_keep && d.cert_big) {
        s.big(0).update(p, t);
        s.big(1).update(p, t);
        append(s, p, std::min(t, kBufBytes - s.buf_len));
      } else if (d.cert_keep) {
        append(s, p, t);
      }
      p += t;
      m -= t;
      d.cert_left -= t;
      if (d.cert_left == 0) {
        if (d.cert_keep && d.cert_big) {
          uint8_t h1[20], h256[32];
          s.big(0).final(h1);
          s.big(1).final(h256);
          const uint32_t pos = s.cert_count++;
          x509_.write_prefix(c, s.buf, s.buf_len, d.cert_len, h1, h256, pos, {},
                             pos == 0 ? &s.leaf : nullptr);
          release(s, 1);
        } else if (d.cert_keep) {
          certificate(s, c, s.buf, s.buf_len);
          release(s, 1);
        }
        d.cert_step = kCertLen;
      }
    }
  }

  // ---- ClientHello (RFC 8446 section 4.1.2) ----------------------------------------------
  // `m`: the message body (TLS: the buffer; DTLS: the buffer or the datagram).
  void parse_client_hello(State& s, Ctx& c, Bytes m) noexcept {
    cnt_.tls_client_hellos.inc();
    s.have_ch = true;
    if (s.buf_cut) cnt_.tls_hello_oversize.inc();
    uint16_t ciphers[kMaxCiphers], exts[kMaxExts], groups[kMaxGroups], sigalgs[kMaxSigAlgs];
    uint8_t pfs[kMaxPointFormats];
    uint32_t nc = 0, ne = 0, ng = 0, ns = 0, np = 0;
    bool capped = false, malformed = false, has_sni = false;
    Bytes first_alpn;
    bool has_alpn = false;

    Reader r(m);
    const uint16_t legacy = r.be16();
    r.skip(32);
    const Bytes sid = r.bytes(r.u8());
    if (s.dtls) r.skip(r.u8());  // cookie (RFC 6347 section 4.2.1)
    const uint16_t cl = r.be16();
    const Bytes cs = r.bytes(cl);
    r.skip(r.u8());  // compression methods
    if (!r.ok()) {
      cnt_.tls_hello_malformed.inc();
      if (m.n >= 2) s.client_max_version = static_cast<uint16_t>(m.p[0] << 8 | m.p[1]);
      return;
    }
    s.client_max_version = legacy;
    if (sid.n <= 32) {
      s.sid_len = static_cast<uint8_t>(sid.n);
      std::memcpy(s.sid, sid.p, sid.n);
    }
    const uint32_t total_ciphers = read_u16_list(cs, ciphers, nc, kMaxCiphers, capped);
    s.cipher_count = static_cast<uint16_t>(std::min<uint32_t>(total_ciphers, 0xffff));
    if (cs.n & 1) malformed = true;

    Text versions(s.client_versions, kVersionsCap);
    Text calpn(s.client_alpn, kClientAlpnCap);
    uint16_t sv_max = 0;
    if (!r.at_end()) {
      const uint16_t el = r.be16();
      Reader e(r.bytes(el));
      if (!r.ok()) malformed = true;
      if (!r.at_end()) malformed = true;
      while (e.ok() && !e.at_end()) {
        const uint16_t type = e.be16();
        const uint16_t len = e.be16();
        const Bytes v = e.bytes(len);
        if (!e.ok()) {
          malformed = true;
          break;
        }
        if (is_grease(type)) continue;
        if (ne < kMaxExts) exts[ne++] = type;
        else capped = true;
        Reader x(v);
        switch (type) {
          case 0: {  // server_name (RFC 6066 section 3)
            has_sni = true;
            Reader l(x.bytes(x.be16()));
            while (l.ok() && l.left() >= 3) {
              const uint8_t nt = l.u8();
              const Bytes host = l.bytes(l.be16());
              if (!l.ok()) break;
              if (nt == 0 && s.sni_len == 0 && host.n > 0) {
                const uint32_t k = std::min<uint32_t>(host.n, kSniCap);
                if (k < host.n) cnt_.tls_field_truncated.inc();
                std::memcpy(s.sni, host.p, k);
                s.sni_len = static_cast<uint16_t>(k);
                break;
              }
            }
            break;
          }
          case 16: {  // application_layer_protocol_negotiation (RFC 7301 section 3.1)
            Reader l(x.bytes(x.be16()));
            while (l.ok() && !l.at_end()) {
              const Bytes proto = l.bytes(l.u8());
              if (!l.ok()) break;
              if (!has_alpn) {
                has_alpn = true;
                first_alpn = proto;
              }
              if (!calpn.put_item(proto.str())) cnt_.tls_field_truncated.inc();
            }
            break;
          }
          case 43: {  // supported_versions (RFC 8446 section 4.2.1)
            const Bytes l = x.bytes(x.u8());
            for (uint32_t i = 0; i + 1 < l.n; i += 2) {
              const uint16_t ver = static_cast<uint16_t>(l.p[i] << 8 | l.p[i + 1]);
              if (is_grease(ver)) continue;
              s.sv_present = true;
              if (version_rank(ver) > version_rank(sv_max)) sv_max = ver;
              char b[24];
              Text t(b, sizeof b);
              tls::version_text(ver, t);
              if (!versions.put_item(t.view())) cnt_.tls_field_truncated.inc();
            }
            break;
          }
          case 10: {  // supported_groups (RFC 8422 section 5.1.1)
            read_u16_list(x.bytes(x.be16()), groups, ng, kMaxGroups, capped);
            break;
          }
          case 11: {  // ec_point_formats (RFC 8422 section 5.1.2)
            const Bytes l = x.bytes(x.u8());
            for (uint32_t i = 0; i < l.n; ++i) {
              if (np < kMaxPointFormats) pfs[np++] = l.p[i];
              else capped = true;
            }
            break;
          }
          case 13: {  // signature_algorithms (RFC 8446 section 4.2.3)
            read_u16_list(x.bytes(x.be16()), sigalgs, ns, kMaxSigAlgs, capped);
            break;
          }
          default:
            break;
        }
      }
    }
    s.versions_len = static_cast<uint16_t>(versions.size());
    s.client_alpn_len = static_cast<uint16_t>(calpn.size());
    if (s.sv_present) s.client_max_version = sv_max;
    if (s.sni_len) c.name_app(std::string_view(s.sni, s.sni_len));
    if (malformed) cnt_.tls_hello_malformed.inc();
    if (capped) cnt_.tls_list_cap.inc();
    if (malformed || capped || s.buf_cut) return;  // a fingerprint of part of a hello misleads

    // JA3 (github.com/salesforce/ja3): MD5 of
    // "version,ciphers,extensions,groups,point formats", decimal, '-' inside a list.
    HashText j3(tls::DigestKind::kMd5);
    j3.dec(legacy);
    j3.put(",");
    j3.dec_list(ciphers, nc);
    j3.put(",");
    j3.dec_list(exts, ne);
    j3.put(",");
    j3.dec_list(groups, ng);
    j3.put(",");
    j3.dec_list(pfs, np);
    j3.final(s.ja3);

    // JA4 (github.com/FoxIO-LLC/ja4, technical_details/JA4.md).
    Text a(s.ja4, sizeof s.ja4);
    a.put(s.quic ? 'q' : s.dtls ? 'd' : 't');
    const uint16_t v = s.sv_present ? sv_max : legacy;
    switch (v) {
      case 0x0304: a.put("13"); break;
      case 0x0303: a.put("12"); break;
      case 0x0302: a.put("11"); break;
      case 0x0301: a.put("10"); break;
      case 0x0300: a.put("s3"); break;
      case 0x0002: a.put("s2"); break;
      case 0xfeff: a.put("d1"); break;
      case 0xfefd: a.put("d2"); break;
      case 0xfefc: a.put("d3"); break;
      default: a.put("00"); break;
    }
    a.put(has_sni ? 'd' : 'i');
    const uint32_t c2 = std::min<uint32_t>(nc, 99), e2 = std::min<uint32_t>(ne, 99);
    a.put(static_cast<char>('0' + c2 / 10));
    a.put(static_cast<char>('0' + c2 % 10));
    a.put(static_cast<char>('0' + e2 / 10));
    a.put(static_cast<char>('0' + e2 % 10));
    if (!has_alpn || first_alpn.n == 0) {
      a.put("00");
    } else {
      const uint8_t f = first_alpn.p[0], l = first_alpn.p[first_alpn.n - 1];
      if (is_alnum(f) && is_alnum(l)) {
        a.put(static_cast<char>(f));
        a.put(static_cast<char>(l));
      } else {  // first and last characters of the value's hex
        const char* hx = "0123456789abcdef";
        a.put(hx[f >> 4]);
        a.put(hx[l & 15]);
      }
    }
    a.put('_');
    std::sort(ciphers, ciphers + nc);
    if (nc == 0) {
      a.put("000000000000");
    } else {
      HashText h(tls::DigestKind::kSha256);
      h.hex_list(ciphers, nc);
      uint8_t out[32];
      h.final(out);
      a.hex(out, 6);
    }
    a.put('_');
    uint32_t nx = 0;
    for (uint32_t i = 0; i < ne; ++i) {
      if (exts[i] != 0x0000 && exts[i] != 0x0010) exts[nx++] = exts[i];
    }
    std::sort(exts, exts + nx);
    if (nx == 0 && ns == 0) {
      a.put("000000000000");
    } else {
      HashText h(tls::DigestKind::kSha256);
      h.hex_list(exts, nx);
      if (ns) {
        h.put("_");
        h.hex_list(sigalgs, ns);
      }
      uint8_t out[32];
      h.final(out);
      a.hex(out, 6);
    }
    s.ja4_len = static_cast<uint8_t>(a.size());
    s.fp_ok = true;
  }

  // ---- ServerHello (RFC 8446 section 4.1.3) ----------------------------------------------
  void parse_server_hello(State& s, Bytes m) noexcept {
    cnt_.tls_server_hellos.inc();
    // SHA-256("HelloRetryRequest"): a ServerHello with this random is a HelloRetryRequest.
    static constexpr uint8_t kHrr[32] = {
        0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
        0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};
    Reader r(m);
    const uint16_t legacy = r.be16();
    const Bytes random = r.bytes(32);
    // TLS 1.3 drafts before 22 (0x7f00-0x7f15) sent a ServerHello with neither session id nor
    // compression method (draft-ietf-tls-tls13-21 section 4.1.3); draft 22 brought them back.
    const bool early_draft = (legacy >> 8) == 0x7f && (legacy & 0xff) < 22;
    const Bytes sid = early_draft ? Bytes{} : r.bytes(r.u8());
    const uint16_t cipher = r.be16();
    if (!early_draft) r.skip(1);  // compression method
    if (!r.ok()) {
      cnt_.tls_hello_malformed.inc();
      return;
    }
    s.have_sh = true;
    s.server_version = legacy;
    s.cipher = cipher;
    // JA3S: MD5 of "version,cipher,extensions" (legacy version, decimal), hashed as the
    // extensions are read, so any number of them is fingerprinted.
    HashText j(tls::DigestKind::kMd5);
    j.dec(legacy);
    j.put(",");
    j.dec(cipher);
    j.put(",");
    uint32_t ne = 0;
    bool malformed = false, psk = false;
    uint16_t selected = 0;
    Text alpn(s.alpn, kAlpnCap);
    if (!r.at_end()) {
      Reader e(r.bytes(r.be16()));
      if (!r.ok()) malformed = true;
      while (e.ok() && !e.at_end()) {
        const uint16_t type = e.be16();
        const Bytes v = e.bytes(e.be16());
        if (!e.ok()) {
          malformed = true;
          break;
        }
        if (is_grease(type)) continue;
        if (ne++) j.put("-");
        j.dec(type);
        Reader x(v);
        if (type == 43 && v.n == 2) {
          selected = x.be16();
        } else if (type == 41) {
          psk = true;
        } else if (type == 16) {  // the one protocol the server chose
          Reader l(x.bytes(x.be16()));
          const Bytes proto = l.bytes(l.u8());
          if (l.ok() && !alpn.put_whole(proto.str())) cnt_.tls_field_truncated.inc();
        }
      }
    }
    s.alpn_len = static_cast<uint16_t>(alpn.size());
    if (selected) s.server_version = selected;
    const bool hrr = std::memcmp(random.p, kHrr, 32) == 0;
    if (hrr) s.server_version = selected ? selected : (s.dtls ? 0xfefc : 0x0304);
    s.hrr = hrr;
    if (s.server_version == 0x0304 || s.server_version == 0xfefc || (s.server_version >> 8) == 0x7f) {
      s.cert_hidden = true;  // RFC 8446 section 4.4.2: the Certificate is encrypted
      s.resumed = psk;
      cnt_.tls_v13_hidden.inc();
    } else {
      s.resumed = s.have_ch && sid.n > 0 && sid.n == s.sid_len && std::memcmp(sid.p, s.sid, sid.n) == 0;
    }
    if (malformed) cnt_.tls_hello_malformed.inc();
    if (malformed || s.buf_cut) return;
    j.final(s.ja3s);
    s.fps_ok = true;
  }

  // ---- SSLv2 (RFC 6101 appendix E, draft-hickman-netscape-ssl-00) --------------------------
  void parse_v2_client_hello(State& s, Ctx&) noexcept {
    Reader r(Bytes{s.buf, s.buf_len});
    if (r.u8() != 1) return;  // CLIENT-HELLO
    const uint16_t version = r.be16();
    const uint16_t cs_len = r.be16();
    if (!r.ok()) return;
    s.have_ch = true;
    s.sslv2 = true;
    s.client_max_version = version;
    s.cipher_count = static_cast<uint16_t>(cs_len / 3);
  }

  void parse_v2_server_hello(State& s, Ctx& c) noexcept {
    Reader r(Bytes{s.buf, s.buf_len});
    if (r.u8() != 4) return;  // SERVER-HELLO
    r.skip(1);                // session id hit
    const uint8_t cert_type = r.u8();
    const uint16_t version = r.be16();
    const uint16_t cert_len = r.be16();
    r.skip(4);  // cipher specs length, connection id length
    const Bytes cert = r.bytes(cert_len);
    if (!r.ok()) return;
    s.have_sh = true;
    s.sslv2 = true;
    s.sslv2_sh = true;
    s.server_version = version;
    s.complete = true;
    if (cert_type == 1 && cert.n > 0) certificate(s, c, cert.p, cert.n);  // SSL_CT_X509_CERTIFICATE
  }

  // ---- certificates -----------------------------------------------------------------------
  void add_str(emit::Record* r, F f, std::string_view v) noexcept {
    if (!v.empty() && !r->add_field(emit::field_id(f), v.data(), v.size())) cnt_.tls_field_truncated.inc();
  }
  void add_text(emit::Record* r, F f, const Text& t) noexcept {
    if (t.cut()) cnt_.tls_field_truncated.inc();
    add_str(r, f, t.view());
  }
  void add_uint(emit::Record* r, F f, uint64_t v) noexcept {
    if (v <= 0xffffffffu) {
      const uint32_t u = static_cast<uint32_t>(v);
      if (!r->add_field(emit::field_id(f), &u, 4)) cnt_.tls_field_truncated.inc();
    } else if (!r->add_field(emit::field_id(f), &v, 8)) {
      cnt_.tls_field_truncated.inc();
    }
  }
  void add_bool(emit::Record* r, F f, bool v) noexcept {
    const uint8_t b = v ? 1 : 0;
    if (!r->add_field(emit::field_id(f), &b, 1)) cnt_.tls_field_truncated.inc();
  }

  // A certificate that was not parsed still gets its record: position, size, why.
  void cert_error(State& s, Ctx& c, uint32_t len, const char* why) noexcept {
    x509_.write_error(c, s.cert_count++, len, why, {});
  }

  // One x509 record per certificate (tls/x509_record.h); the first is the server's own.
  void certificate(State& s, Ctx& c, const uint8_t* der, uint32_t len) noexcept {
    const uint32_t pos = s.cert_count++;
    x509_.write(c, der, len, pos, {}, pos == 0 ? &s.leaf : nullptr);
  }

  // ---- the tls record ---------------------------------------------------------------------
  void write_tls(State& s, Ctx& c) noexcept {
    if (s.written || (!s.have_ch && !s.have_sh)) return;
    s.written = true;
    emit::Record* r = c.begin(emit::RecordType::kTls);
    if (r == nullptr) {
      cnt_.tls_no_record_buffer.inc();
      return;
    }
    char buf[64];
    if (s.have_sh) {
      Text v(buf, sizeof buf);
      tls::version_text(s.server_version, v);
      add_text(r, F::kTlsVersion, v);
      if (!s.sslv2_sh) {  // an SSLv2-format ClientHello may well get a TLS ServerHello
        Text ci(buf, sizeof buf);
        tls::cipher_text(s.cipher, ci);
        add_text(r, F::kTlsCipher, ci);
      }
    }
    add_str(r, F::kTlsSni, {s.sni, s.sni_len});
    add_str(r, F::kTlsAlpn, {s.alpn, s.alpn_len});
    if (s.have_ch) {
      Text v(buf, sizeof buf);
      tls::version_text(s.client_max_version, v);
      add_text(r, F::kTlsClientVersion, v);
    }
    add_str(r, F::kTlsClientVersions, {s.client_versions, s.versions_len});
    add_str(r, F::kTlsClientAlpn, {s.client_alpn, s.client_alpn_len});
    if (s.fp_ok) {
      Text j(buf, sizeof buf);
      j.hex(s.ja3, 16);
      add_text(r, F::kTlsJa3, j);
      add_str(r, F::kTlsJa4, {s.ja4, s.ja4_len});
    }
    if (s.fps_ok) {
      Text j(buf, sizeof buf);
      j.hex(s.ja3s, 16);
      add_text(r, F::kTlsJa3s, j);
    }
    if (s.cert_hidden) add_bool(r, F::kTlsCertHidden, true);
    if (s.resumed) add_bool(r, F::kTlsResumed, true);
    if (s.has_alert) {
      Text a(buf, sizeof buf);
      if (const char* n = alert_name(s.alert_desc)) a.put(n);
      else a.dec(s.alert_desc);
      add_text(r, F::kTlsAlert, a);
    }
    if (s.cert_count) add_uint(r, F::kTlsCertCount, s.cert_count);
    if (s.leaf.seen) {
      add_str(r, F::kTlsCertSubject, {s.leaf.subject, s.leaf.subject_len});
      add_str(r, F::kTlsCertIssuer, {s.leaf.issuer, s.leaf.issuer_len});
      Text h(buf, sizeof buf);
      h.hex(s.leaf.sha256, 32);
      add_text(r, F::kTlsCertSha256, h);
      add_bool(r, F::kTlsCertSelfSigned, s.leaf.self_signed);
      add_str(r, F::kTlsCertSanDns, {s.leaf.san_dns, s.leaf.san_len});
    }
    if (s.have_ch) add_uint(r, F::kTlsCipherCount, s.cipher_count);
    if (s.sslv2) add_bool(r, F::kTlsSslv2Hello, true);
    if (!s.complete) {
      cnt_.tls_partial.inc();
      add_bool(r, F::kTlsPartial, true);
    }
    cnt_.tls_handshakes.inc();
    c.commit(r);
  }

  TlsCounters cnt_;
  tls::X509Writer x509_{{cnt_.tls_certs, cnt_.tls_cert_cache_hits, cnt_.tls_cert_errors, cnt_.tls_ext_cap,
                         cnt_.tls_field_truncated, cnt_.tls_san_truncated, cnt_.tls_no_record_buffer,
                         &cnt_.tls_cert_cache_skipped}};
};

}  // namespace

std::unique_ptr<Dissector> make_tls_dissector() { return std::make_unique<TlsDissector>(); }

}  // namespace flowscribe::dissect
