#include "dissectors/ike/ike.h"

#include <cstring>

#include "dissectors/classify/reader.h"
#include "dissectors/tls/x509_record.h"

namespace flowscribe::dissect {
namespace {

constexpr uint32_t kHeader = 28;       // RFC 2408 §3.1, RFC 7296 §3.1
constexpr uint32_t kMaxPayloads = 64;  // payloads walked per message
constexpr uint32_t kMaxCerts = 10;     // x509 records per message
constexpr uint8_t kQuietLimit = 64;    // datagrams in a row with nothing clear: leave the flow
constexpr uint32_t kSeen = 4;          // certificate-carrying messages remembered

struct State {
  uint64_t seen[kSeen];  // hashes of the last messages with certificates (retransmissions)
  uint8_t next;          // the slot of seen[] to fill next
  uint8_t quiet;         // datagrams in a row with nothing clear
  uint8_t tcp;
};

uint32_t be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

class IkeDissector final : public Dissector {
 public:
  std::string_view name() const noexcept override { return "ike"; }
  uint32_t state_bytes() const noexcept override { return sizeof(State); }
  uint32_t default_states() const noexcept override { return 4096; }

  void begin_flow(void* st, Ctx&, uint8_t transport) noexcept override {
    auto& s = *static_cast<State*>(st);
    std::memset(&s, 0, sizeof s);
    s.tcp = transport == 6;
    counters_.ike_flows.inc();
  }

  Progress data(void* st, Ctx& c, bool from_client, const uint8_t* p, uint32_t len,
                uint32_t wire_len) noexcept override {
    auto& s = *static_cast<State*>(st);
    if (s.tcp) {
      counters_.ike_tcp.inc();
      return Progress::kDone;
    }
    const bool clear = message(s, c, from_client, p, len, wire_len);
    s.quiet = clear ? 0 : static_cast<uint8_t>(s.quiet + 1);
    if (s.quiet >= kQuietLimit) {
      counters_.ike_quiet.inc();
      return Progress::kDone;
    }
    return Progress::kMore;
  }

  Progress gap(void*, Ctx&, bool, uint32_t) noexcept override { return Progress::kDone; }
  void end_flow(void*, Ctx&) noexcept override {}
  void for_each_counter(CounterFn f) const override { counters_.for_each(f); }

 private:
  // One datagram; true when it held a message with payloads in the clear.
  bool message(State& s, Ctx& c, bool from_client, const uint8_t* p, uint32_t len,
               uint32_t wire_len) noexcept {
    // UDP 4500 (RFC 3948 §2): a NAT-keepalive is one 0xFF byte; ESP begins with its non-zero
    // SPI; IKE with the four zero bytes of the non-ESP marker.
    if (c.flow.key.port[0] == 4500 || c.flow.key.port[1] == 4500) {
      if (len >= 4 && be32(p) == 0) {
        p += 4;
        len -= 4;
        wire_len = wire_len >= 4 ? wire_len - 4 : 0;
      } else if (len == 1 || (len >= 4 && len < kHeader) || (len >= kHeader && p[17] != 0x10 && p[17] != 0x20)) {
        counters_.ike_esp.inc();
        return false;
      }
    }
    if (len < kHeader || (be32(p) == 0 && be32(p + 4) == 0) || (p[17] != 0x10 && p[17] != 0x20)) {
      counters_.ike_bad_header.inc();
      return false;
    }
    const uint32_t mlen = be32(p + 24);
    if (mlen < kHeader) {
      counters_.ike_bad_header.inc();
      return false;
    }
    counters_.ike_messages.inc();
    const bool v2 = p[17] == 0x20;
    (v2 ? counters_.ike_v2 : counters_.ike_v1).inc();
    uint32_t end = mlen;
    if (mlen > len) {
      // Cut by the capture (snap length) or a length past the datagram: read what is here.
      counters_.ike_cut.inc();
      end = len;
    }
    (void)wire_len;
    const uint8_t flags = p[19];
    // IKEv1: the encryption flag (RFC 2408 §3.1): every payload after the header is encrypted.
    if (!v2 && (flags & 0x01)) {
      counters_.ike_encrypted.inc();
      return false;
    }
    // IKEv2 names the original initiator in its flags (RFC 7296 §3.1); IKEv1 does not, the
    // flow's client (the side that sent first) is taken for it.
    const bool initiator = v2 ? (flags & 0x08) != 0 : from_client;
    const tls::CertOrigin origin{"ike", initiator ? "initiator" : "responder"};

    // First pass: the payload chain, and whether it has X.509 certificates.
    uint32_t certs = 0;
    const bool clear = walk(p, end, p[16], v2, nullptr, origin, certs);
    if (certs == 0) return clear;
    const uint64_t h = tls::CertCache::hash_of(p, end);
    for (uint64_t x : s.seen) {
      if (x == h) {
        counters_.ike_retransmits.inc();
        return clear;
      }
    }
    s.seen[s.next] = h;
    s.next = static_cast<uint8_t>((s.next + 1) % kSeen);
    walk(p, end, p[16], v2, &c, origin, certs);
    return clear;
  }

  // Walks the generic payload headers (next payload, flags, length: RFC 7296 §3.2) from the
  // header's end to `end`. With `c`, writes the certificates; without, counts them in
  // `certs` (and the anomalies). True when at least one payload was read in the clear.
  bool walk(const uint8_t* p, uint32_t end, uint8_t np, bool v2, Ctx* c, tls::CertOrigin origin,
            uint32_t& certs) noexcept {
    const bool count = c == nullptr;
    const uint8_t kCert = v2 ? 37 : 6, kEncrypted = 46, kEncryptedFrag = 53;
    uint32_t at = kHeader, n = 0, pos = 0;
    bool any = false;
    while (np != 0) {
      if (v2 && (np == kEncrypted || np == kEncryptedFrag)) {
        if (count) counters_.ike_encrypted.inc();
        break;
      }
      if (n++ == kMaxPayloads) {
        if (count) counters_.ike_payload_cap.inc();
        break;
      }
      if (end - at < 4) {
        if (count) counters_.ike_bad_payload.inc();
        break;
      }
      const uint32_t plen = uint32_t{p[at + 2]} << 8 | p[at + 3];
      if (plen < 4 || plen > end - at) {
        if (count) counters_.ike_bad_payload.inc();
        break;
      }
      any = true;
      // CERT payload: encoding (1 byte), then the certificate data (RFC 2408 §3.9, RFC 7296 §3.6).
      if (np == kCert && plen >= 5) {
        if (count) counters_.ike_cert_payloads.inc();
        if (p[at + 4] == 4) {
          if (count) {
            if (certs == kMaxCerts) counters_.ike_cert_cap.inc();
            else ++certs;
          } else if (pos < kMaxCerts) {
            x509_.write(*c, p + at + 5, plen - 5, pos++, origin, nullptr);
          }
        } else if (count) {
          counters_.ike_cert_other.inc();
        }
      }
      np = p[at];
      at += plen;
    }
    return any;
  }

  IkeCounters counters_;
  // A small certificate cache (64 entries, ~330 KB per worker): gateways show their
  // certificate to every peer.
  tls::X509Writer x509_{{counters_.ike_certs, counters_.ike_cert_cache_hits, counters_.ike_cert_errors,
                         counters_.ike_cert_ext_cap, counters_.ike_field_truncated,
                         counters_.ike_san_truncated, counters_.ike_no_record_buffer},
                        64};
};

}  // namespace

std::unique_ptr<Dissector> make_ike_dissector() { return std::make_unique<IkeDissector>(); }

}  // namespace flowscribe::dissect
