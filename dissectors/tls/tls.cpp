#include "dissectors/tls/tls.h"

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "dissectors/classify/reader.h"
#include "dissectors/tls/cert_cache.h"
#include "dissectors/tls/digest.h"
#include "dissectors/tls/names.h"
#include "dissectors/tls/text.h"
#include "dissectors/tls/x509.h"

namespace flowscribe::dissect {
namespace {

using tls::Text;
using F = emit::Field;

FS_DEFINE_COUNTERS(TlsCounters, FS_TLS_COUNTERS);

// One buffer per flow, shared by the two directions (a ClientHello is complete before the
// server answers it): a whole hello, or one certificate at a time. Certificate chains are
// streamed certificate by certificate, so only the largest single certificate must fit.
constexpr uint32_t kBufBytes = 16384;
constexpr uint32_t kMaxRecordLen = 16384 + 2048;  // TLSCiphertext (RFC 5246 6.2.3, RFC 8446 5.2)
constexpr uint32_t kMaxChain = 10;                // certificates parsed per chain
// Fingerprint inputs held while a ClientHello is parsed (stack arrays; more is counted).
constexpr uint32_t kMaxCiphers = 512, kMaxExts = 128, kMaxGroups = 128, kMaxSigAlgs = 128,
                   kMaxPointFormats = 32;
// Field caps kept in the flow state (the leaf summary) and in x509 records.
constexpr uint32_t kSniCap = 255, kAlpnCap = 64, kClientAlpnCap = 128, kVersionsCap = 64,
                   kLeafDnCap = 256, kLeafSanCap = 256, kDnCap = 384, kNameCap = 96, kSerialCap = 64;

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
  uint16_t rec_left;  // payload bytes of the current record still to come
  uint32_t hs_left;   // body bytes of the current handshake message still to come
  uint32_t cert_left;
  uint32_t cert_len;
};

struct State {
  Dir dir[2];  // [0] client, [1] server
  uint8_t buf_owner;  // 0 free, 1 client, 2 server
  bool buf_cut;       // the message did not fit: the buffer holds its start
  bool done;          // records due; the app layer bypasses the rest of the flow
  bool written;
  bool have_ch, have_sh, complete, cert_hidden, resumed, sslv2, fp_ok, fps_ok;
  bool has_alert, leaf_seen, leaf_self_signed, sv_present;
  uint8_t alert_desc;
  uint8_t sid_len;
  uint8_t cert_count;
  uint8_t ja4_len;
  uint16_t client_max_version;
  uint16_t cipher_count;
  uint16_t server_version;
  uint16_t cipher;
  uint16_t sni_len, alpn_len, client_alpn_len, versions_len, subject_len, issuer_len, san_len;
  uint32_t buf_len;
  uint8_t sid[32];
  uint8_t ja3[16], ja3s[16];
  uint8_t leaf_sha256[32];
  char ja4[40];
  char sni[kSniCap];
  char alpn[kAlpnCap];
  char client_alpn[kClientAlpnCap];
  char client_versions[kVersionsCap];
  char subject[kLeafDnCap];
  char issuer[kLeafDnCap];
  char san_dns[kLeafSanCap];
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

  void begin_flow(void* st, Ctx&, uint8_t) noexcept override {
    State& s = *static_cast<State*>(st);
    // Everything but the buffer starts zeroed (the buffer is written before it is read).
    std::memset(static_cast<void*>(&s), 0, offsetof(State, buf));
    cnt_.tls_flows.inc();
  }

  Progress data(void* st, Ctx& c, bool from_client, const uint8_t* p, uint32_t len,
                uint32_t) noexcept override {
    State& s = *static_cast<State*>(st);
    if (s.done) return Progress::kDone;
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
    if (s.have_ch || s.have_sh) {
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
      if (buffered) parse_client_hello(s, c);
      release(s, di);
      d.stopped = true;  // nothing after the ClientHello is logged
      return;
    }
    switch (d.hs_type) {
      case 2:
        if (buffered) parse_server_hello(s);
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
        if (s.cert_count >= kMaxChain) {
          cnt_.tls_chain_cap.inc();
        } else if (d.cert_len > kBufBytes) {
          cnt_.tls_cert_oversize.inc();
          cert_error(s, c, d.cert_len, "larger than the 16384-byte buffer");
        } else if (acquire(s, 1)) {
          d.cert_keep = true;
        }
        if (d.cert_left == 0) d.cert_step = kCertLen;
        continue;
      }
      const uint32_t t = std::min(m, d.cert_left);
      if (d.cert_keep) append(s, p, t);
      p += t;
      m -= t;
      d.cert_left -= t;
      if (d.cert_left == 0) {
        if (d.cert_keep) {
          certificate(s, c, s.buf, s.buf_len);
          release(s, 1);
        }
        d.cert_step = kCertLen;
      }
    }
  }

  // ---- ClientHello (RFC 8446 section 4.1.2) ----------------------------------------------
  void parse_client_hello(State& s, Ctx& c) noexcept {
    cnt_.tls_client_hellos.inc();
    s.have_ch = true;
    if (s.buf_cut) cnt_.tls_hello_oversize.inc();
    uint16_t ciphers[kMaxCiphers], exts[kMaxExts], groups[kMaxGroups], sigalgs[kMaxSigAlgs];
    uint8_t pfs[kMaxPointFormats];
    uint32_t nc = 0, ne = 0, ng = 0, ns = 0, np = 0;
    bool capped = false, malformed = false, has_sni = false;
    Bytes first_alpn;
    bool has_alpn = false;

    Reader r(Bytes{s.buf, s.buf_len});
    const uint16_t legacy = r.be16();
    r.skip(32);
    const Bytes sid = r.bytes(r.u8());
    const uint16_t cl = r.be16();
    const Bytes cs = r.bytes(cl);
    r.skip(r.u8());  // compression methods
    if (!r.ok()) {
      cnt_.tls_hello_malformed.inc();
      if (s.buf_len >= 2) s.client_max_version = static_cast<uint16_t>(s.buf[0] << 8 | s.buf[1]);
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
              if (ver > sv_max) sv_max = ver;
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
    a.put('t');
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
  void parse_server_hello(State& s) noexcept {
    cnt_.tls_server_hellos.inc();
    // SHA-256("HelloRetryRequest"): a ServerHello with this random is a HelloRetryRequest.
    static constexpr uint8_t kHrr[32] = {
        0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
        0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};
    Reader r(Bytes{s.buf, s.buf_len});
    const uint16_t legacy = r.be16();
    const Bytes random = r.bytes(32);
    const Bytes sid = r.bytes(r.u8());
    const uint16_t cipher = r.be16();
    r.skip(1);  // compression method
    if (!r.ok()) {
      cnt_.tls_hello_malformed.inc();
      return;
    }
    s.have_sh = true;
    s.server_version = legacy;
    s.cipher = cipher;
    uint16_t exts[kMaxExts];
    uint32_t ne = 0;
    bool malformed = false, capped = false, psk = false;
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
        if (ne < kMaxExts) exts[ne++] = type;
        else capped = true;
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
    if (hrr) s.server_version = selected ? selected : 0x0304;
    if (s.server_version == 0x0304 || (s.server_version >> 8) == 0x7f) {
      s.cert_hidden = true;  // RFC 8446 section 4.4.2: the Certificate is encrypted
      s.resumed = psk;
      cnt_.tls_v13_hidden.inc();
    } else {
      s.resumed = s.have_ch && sid.n > 0 && sid.n == s.sid_len && std::memcmp(sid.p, s.sid, sid.n) == 0;
    }
    if (malformed) cnt_.tls_hello_malformed.inc();
    if (capped) cnt_.tls_list_cap.inc();
    if (malformed || capped || s.buf_cut) return;
    // JA3S: MD5 of "version,cipher,extensions" (legacy version, decimal).
    HashText j(tls::DigestKind::kMd5);
    j.dec(legacy);
    j.put(",");
    j.dec(cipher);
    j.put(",");
    j.dec_list(exts, ne);
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
  static size_t room(const emit::Record* r) noexcept { return sizeof(r->ext) - r->ext_len; }

  // A certificate that was not parsed still gets its record: position, size, why.
  void cert_error(State& s, Ctx& c, uint32_t len, const char* why) noexcept {
    const uint32_t pos = s.cert_count++;
    emit::Record* r = c.begin(emit::RecordType::kX509);
    if (r == nullptr) {
      cnt_.tls_no_record_buffer.inc();
      return;
    }
    add_uint(r, F::kX509Pos, pos);
    add_uint(r, F::kX509DerLen, len);
    add_str(r, F::kX509Error, why);
    c.commit(r);
  }

  void certificate(State& s, Ctx& c, const uint8_t* der, uint32_t len) noexcept {
    const uint32_t pos = s.cert_count++;
    cnt_.tls_certs.inc();
    const uint64_t hash = tls::CertCache::hash_of(der, len);
    if (const tls::CertCacheEntry* e = certs_.find(der, len, hash)) {
      cnt_.tls_cert_cache_hits.inc();
      replay_certificate(s, c, pos, *e);
      return;
    }
    tls::CertInfo ci;
    const bool ok = tls::parse_cert(Bytes{der, len}, ci);
    if (!ok) cnt_.tls_cert_errors.inc();
    if (ci.ext_cap) cnt_.tls_ext_cap.inc();
    uint8_t h256[32], h1[20];
    tls::sha256(der, len, h256);
    tls::sha1(der, len, h1);
    const bool self = ok && tls::self_issued(ci);
    if (pos == 0) {  // the leaf's summary for the tls record
      s.leaf_seen = true;
      s.leaf_self_signed = self;
      std::memcpy(s.leaf_sha256, h256, 32);
      Text subj(s.subject, kLeafDnCap), iss(s.issuer, kLeafDnCap), san(s.san_dns, kLeafSanCap);
      tls::dn_text(ci.subject, subj);
      tls::dn_text(ci.issuer, iss);
      char ipb[8], emb[8], urb[8];
      Text ip(ipb, 0), em(emb, 0), ur(urb, 0);
      tls::SanLists l{&san, &ip, &em, &ur};
      if (ci.has_san) tls::san_lists(ci.san, l);
      if (subj.cut() || iss.cut() || san.cut()) cnt_.tls_field_truncated.inc();
      s.subject_len = static_cast<uint16_t>(subj.size());
      s.issuer_len = static_cast<uint16_t>(iss.size());
      s.san_len = static_cast<uint16_t>(san.size());
    }
    emit::Record* r = c.begin(emit::RecordType::kX509);
    if (r == nullptr) {
      cnt_.tls_no_record_buffer.inc();
      return;
    }
    char buf[kDnCap];
    add_uint(r, F::kX509Pos, pos);
    const uint16_t body_at = r->ext_len;
    const uint64_t trunc0 = cnt_.tls_field_truncated.get(), san0 = cnt_.tls_san_truncated.get();
    {
      Text t(buf, kDnCap);
      tls::dn_text(ci.subject, t);
      add_text(r, F::kX509Subject, t);
    }
    {
      Text t(buf, kDnCap);
      tls::dn_text(ci.issuer, t);
      add_text(r, F::kX509Issuer, t);
    }
    if (ci.serial.n) {
      Text t(buf, kSerialCap);
      tls::serial_text(ci.serial, t);
      add_text(r, F::kX509Serial, t);
    }
    {
      Text t(buf, 32);
      if (ci.not_before.tag && tls::time_text(ci.not_before, t)) add_text(r, F::kX509NotBefore, t);
    }
    {
      Text t(buf, 32);
      if (ci.not_after.tag && tls::time_text(ci.not_after, t)) add_text(r, F::kX509NotAfter, t);
    }
    {
      Text t(buf, 64);
      t.hex(h256, 32);
      add_text(r, F::kX509Sha256, t);
      Text u(buf, 40);
      u.hex(h1, 20);
      add_text(r, F::kX509Sha1, u);
    }
    if (!ci.key_oid.empty()) {
      Text t(buf, kNameCap);
      if (const char* n = tls::key_alg_name(ci.key_oid)) t.put(n);
      else tls::oid_text(ci.key_oid, t);
      add_text(r, F::kX509KeyAlg, t);
    }
    if (const char* kt = tls::key_type_name(ci.key_type)) add_str(r, F::kX509KeyType, kt);
    if (ci.key_bits) add_uint(r, F::kX509KeyBits, ci.key_bits);
    if (ci.key_type == tls::KeyType::kEcdsa && !ci.key_param_oid.empty()) {
      Text t(buf, kNameCap);
      if (const char* n = tls::curve_name(ci.key_param_oid)) t.put(n);
      else tls::oid_text(ci.key_param_oid, t);
      add_text(r, F::kX509Curve, t);
    }
    if (!ci.sig_oid.empty()) {
      Text t(buf, kNameCap);
      if (const char* n = tls::sig_alg_name(ci.sig_oid)) t.put(n);
      else tls::oid_text(ci.sig_oid, t);
      add_text(r, F::kX509SigAlg, t);
    }
    if (ok || ci.serial.n) add_uint(r, F::kX509Version, ci.version);
    if (ok) add_bool(r, F::kX509SelfSigned, self);
    if (ci.has_bc) add_bool(r, F::kX509Ca, ci.ca);
    {
      Text t(buf, kNameCap);
      if (tls::dn_attr(ci.subject, 3, t)) add_text(r, F::kX509SubjectCn, t);
    }
    {
      Text t(buf, kNameCap);
      if (tls::dn_attr(ci.subject, 10, t)) add_text(r, F::kX509SubjectO, t);
    }
    {
      Text t(buf, kNameCap);
      if (tls::dn_attr(ci.issuer, 3, t)) add_text(r, F::kX509IssuerCn, t);
    }
    {
      Text t(buf, kNameCap);
      if (tls::dn_attr(ci.issuer, 10, t)) add_text(r, F::kX509IssuerO, t);
    }
    if (ci.has_san) {
      // The lists share what the record has left, less room for the fields after them; DNS
      // names first. Each list is one pass over the SAN (bounded by the certificate size).
      constexpr size_t kTail = (4 + 1) + (4 + 4) + (4 + 64) + (4 + 4);  // san_truncated, der_len, error, san_count
      size_t left = room(r) > kTail ? room(r) - kTail : 0;
      char sb[1536];
      char none[1];
      Text nil(none, 0);
      uint32_t count = 0;
      bool cut = false;
      add_uint(r, F::kX509SanCount, 0);  // placeholder, patched below (fixed 4-byte value)
      const size_t count_at = r->ext_len - 4;
      for (int kind = 0; kind < 4; ++kind) {
        const size_t cap = left > 4 ? std::min(left - 4, sizeof sb) : 0;
        Text t(sb, cap);
        tls::SanLists l{kind == 0 ? &t : &nil, kind == 1 ? &t : &nil, kind == 2 ? &t : &nil,
                        kind == 3 ? &t : &nil};
        count = tls::san_lists(ci.san, l);
        cut = cut || t.cut();
        if (t.size() == 0) continue;
        static constexpr F kFields[4] = {F::kX509SanDns, F::kX509SanIp, F::kX509SanEmail, F::kX509SanUri};
        add_str(r, kFields[kind], t.view());
        left -= t.size() + 4;
      }
      std::memcpy(r->ext + count_at, &count, 4);
      if (cut) {
        cnt_.tls_san_truncated.inc();
        add_bool(r, F::kX509SanTruncated, true);
      }
    }
    add_uint(r, F::kX509DerLen, len);
    if (!ok) add_str(r, F::kX509Error, ci.error);
    if (tls::CertCacheEntry* e = certs_.slot(der, len, hash)) {
      remember(*e, ci, ok, self, h256, *r, body_at,
               cnt_.tls_field_truncated.get() - trunc0, cnt_.tls_san_truncated.get() - san0);
    }
    c.commit(r);
  }

  static_assert(kLeafDnCap <= tls::CertCacheEntry::kMaxText &&
                kLeafSanCap <= tls::CertCacheEntry::kMaxText &&
                sizeof(emit::Record::ext) <= tls::CertCacheEntry::kMaxBody + 8);
  // Keeps what a certificate gave for the next time it is seen (tls/cert_cache.h).
  void remember(tls::CertCacheEntry& e, const tls::CertInfo& ci, bool ok, bool self,
                const uint8_t h256[32], const emit::Record& r, uint16_t body_at,
                uint64_t truncated, uint64_t san_truncated) noexcept {
    e.body_len = static_cast<uint16_t>(r.ext_len - body_at);
    std::memcpy(e.body, r.ext + body_at, e.body_len);
    e.self_signed = self;
    e.cert_error = !ok;
    e.ext_cap = ci.ext_cap;
    e.field_truncated = static_cast<uint8_t>(std::min<uint64_t>(truncated, 255));
    e.san_truncated = static_cast<uint8_t>(std::min<uint64_t>(san_truncated, 255));
    std::memcpy(e.sha256, h256, 32);
    // The leaf summary, as the tls record takes it when this certificate comes first.
    Text subj(e.subject, kLeafDnCap), iss(e.issuer, kLeafDnCap), san(e.san, kLeafSanCap);
    tls::dn_text(ci.subject, subj);
    tls::dn_text(ci.issuer, iss);
    char ipb[8], emb[8], urb[8];
    Text ip(ipb, 0), em(emb, 0), ur(urb, 0);
    tls::SanLists l{&san, &ip, &em, &ur};
    if (ci.has_san) tls::san_lists(ci.san, l);
    e.leaf_cut = subj.cut() || iss.cut() || san.cut();
    e.subject_len = static_cast<uint16_t>(subj.size());
    e.issuer_len = static_cast<uint16_t>(iss.size());
    e.san_len = static_cast<uint16_t>(san.size());
  }

  // A certificate seen before: the same x509 record and leaf summary, without parsing.
  void replay_certificate(State& s, Ctx& c, uint32_t pos, const tls::CertCacheEntry& e) noexcept {
    if (e.cert_error) cnt_.tls_cert_errors.inc();
    if (e.ext_cap) cnt_.tls_ext_cap.inc();
    if (pos == 0) {
      s.leaf_seen = true;
      s.leaf_self_signed = e.self_signed;
      std::memcpy(s.leaf_sha256, e.sha256, 32);
      std::memcpy(s.subject, e.subject, e.subject_len);
      std::memcpy(s.issuer, e.issuer, e.issuer_len);
      std::memcpy(s.san_dns, e.san, e.san_len);
      s.subject_len = e.subject_len;
      s.issuer_len = e.issuer_len;
      s.san_len = e.san_len;
      if (e.leaf_cut) cnt_.tls_field_truncated.inc();
    }
    emit::Record* r = c.begin(emit::RecordType::kX509);
    if (r == nullptr) {
      cnt_.tls_no_record_buffer.inc();
      return;
    }
    add_uint(r, F::kX509Pos, pos);
    // The fields after `pos` fitted after a `pos` of the same size when they were made.
    std::memcpy(r->ext + r->ext_len, e.body, e.body_len);
    r->ext_len = static_cast<uint16_t>(r->ext_len + e.body_len);
    if (e.field_truncated) cnt_.tls_field_truncated.inc(e.field_truncated);
    if (e.san_truncated) cnt_.tls_san_truncated.inc(e.san_truncated);
    c.commit(r);
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
      if (!s.sslv2) {
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
    if (s.leaf_seen) {
      add_str(r, F::kTlsCertSubject, {s.subject, s.subject_len});
      add_str(r, F::kTlsCertIssuer, {s.issuer, s.issuer_len});
      Text h(buf, sizeof buf);
      h.hex(s.leaf_sha256, 32);
      add_text(r, F::kTlsCertSha256, h);
      add_bool(r, F::kTlsCertSelfSigned, s.leaf_self_signed);
      add_str(r, F::kTlsCertSanDns, {s.san_dns, s.san_len});
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
  tls::CertCache certs_;
};

}  // namespace

std::unique_ptr<Dissector> make_tls_dissector() { return std::make_unique<TlsDissector>(); }

}  // namespace flowscribe::dissect
