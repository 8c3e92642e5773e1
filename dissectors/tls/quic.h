#pragma once
// QUIC Initial packets (RFC 9000 section 17.2.2, RFC 9001 section 5, RFC 9369 for v2): their
// keys derive from the client's Destination Connection ID alone, so a passive sensor can read
// the TLS ClientHello and ServerHello they carry in CRYPTO frames (SNI, ALPN, JA4, the chosen
// cipher). Low-level SHA-256 and AES only: no allocation, no OpenSSL context per packet. The
// AEAD tag is not checked (a passive reader has nothing to protect; a forged packet can only
// forge its own handshake fields, as a plaintext TLS hello can).
#include <cstdint>

namespace flowscribe::dissect::tls::quic {

struct Keys {
  uint8_t key[16], iv[12], hp[16];
};

constexpr uint32_t kV1 = 0x00000001, kV2 = 0x6b3343cf;
constexpr uint32_t kMaxCid = 20;

// The Initial keys of `version` for the client's (server = false) or the server's side, from
// the client's first Destination Connection ID; false for a version whose salt we do not know.
bool initial_keys(uint32_t version, const uint8_t* dcid, uint32_t dcid_len, bool server,
                  Keys& out) noexcept;

// One long-header packet at the start of p[0..n).
struct Packet {
  uint32_t version = 0;
  uint32_t length = 0;  // bytes of this packet in the datagram (to the next coalesced one)
  bool initial = false;
  const uint8_t* dcid = nullptr;
  uint8_t dcid_len = 0;
  uint32_t plain_len = 0;  // decrypted payload bytes written to `plain`
};

// Reads the long header at p; for an Initial of a known version, removes header protection
// and decrypts the payload with keys from `key_dcid` (the client's first DCID; nullptr: this
// packet's own DCID) into plain[0..cap). Returns false when p holds no long-header packet
// (a short header, a cut or malformed one); true with initial = false for other long packets
// (Handshake, 0-RTT, Retry, version negotiation), whose `length` still steps over them.
bool open_packet(const uint8_t* p, uint32_t n, const uint8_t* key_dcid, uint32_t key_dcid_len,
                 bool from_server, uint8_t* plain, uint32_t cap, Packet& out) noexcept;

// RFC 9000 section 16 variable-length integer at p[*off..n); false when cut.
bool varint(const uint8_t* p, uint32_t n, uint32_t* off, uint64_t* v) noexcept;

// Calls fn(offset, data, len) for each CRYPTO frame of a decrypted Initial payload (PADDING,
// PING, ACK and CONNECTION_CLOSE are stepped over); false at a frame an Initial may not carry
// or a cut one.
template <typename Fn>
bool crypto_frames(const uint8_t* p, uint32_t n, Fn fn) noexcept {
  uint32_t off = 0;
  while (off < n) {
    uint64_t type = 0;
    if (!varint(p, n, &off, &type)) return false;
    switch (type) {
      case 0x00:  // PADDING
      case 0x01:  // PING
        break;
      case 0x02:
      case 0x03: {  // ACK: largest, delay, range count, first range, ranges, [ECN counts]
        uint64_t v[4];
        for (uint64_t& x : v) {
          if (!varint(p, n, &off, &x)) return false;
        }
        for (uint64_t i = 0; i < v[2] * 2; ++i) {
          uint64_t x;
          if (i >= 512 || !varint(p, n, &off, &x)) return false;
        }
        if (type == 0x03) {
          for (int i = 0; i < 3; ++i) {
            uint64_t x;
            if (!varint(p, n, &off, &x)) return false;
          }
        }
        break;
      }
      case 0x06: {  // CRYPTO: offset, length, data
        uint64_t at = 0, len = 0;
        if (!varint(p, n, &off, &at) || !varint(p, n, &off, &len) || len > n - off) return false;
        fn(at, p + off, static_cast<uint32_t>(len));
        off += static_cast<uint32_t>(len);
        break;
      }
      case 0x1c: {  // CONNECTION_CLOSE: error, frame type, reason length, reason
        uint64_t e, f, len;
        if (!varint(p, n, &off, &e) || !varint(p, n, &off, &f) || !varint(p, n, &off, &len) ||
            len > n - off) {
          return false;
        }
        off += static_cast<uint32_t>(len);
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

}  // namespace flowscribe::dissect::tls::quic
