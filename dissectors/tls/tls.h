#pragma once
// TLS dissector (docs/protocols.md "TLS"): one `tls` record per handshake (ClientHello and
// ServerHello summary, JA3/JA3S/JA4, the leaf certificate's summary) and one `x509` record
// per certificate the server shows (TLS <= 1.2; TLS 1.3 encrypts them: cert_hidden=true).
// On UDP flows (dtls, and stun flows that carry DTLS-SRTP) it reads DTLS 1.0/1.2/1.3
// datagrams: record and handshake headers of RFC 6347 / RFC 9147, fragments reassembled.
#include <memory>

#include "dissectors/dissector.h"

// X(name, help): documented in docs/counters.md "tls dissector".
#define FS_TLS_COUNTERS(X)                                                                        \
  X(tls_flows, "flows handed to the TLS dissector")                                               \
  X(tls_handshakes, "tls records written (one per handshake)")                                    \
  X(tls_client_hellos, "ClientHellos parsed")                                                     \
  X(tls_server_hellos, "ServerHellos parsed")                                                     \
  X(tls_sslv2_hellos, "SSLv2-format hellos (client or server): no fingerprints")                  \
  X(tls_v13_hidden, "handshakes where the server chose TLS 1.3: certificates encrypted")          \
  X(tls_certs, "certificates parsed (x509 records)")                                              \
  X(tls_cert_cache_hits, "certificates seen before: x509 record from the worker's cache")        \
  X(tls_cert_cache_skipped, "certificates not cached: their x509 record took continuation slots") \
  X(tls_cert_errors, "certificates whose DER did not parse whole (x509 record with error)")      \
  X(tls_cert_oversize, "certificates larger than the 16 KiB buffer: read from their first 16 KiB, fingerprints of the whole (x509 record with error)") \
  X(tls_chain_cap, "certificates past the 10th of a chain: not parsed")                           \
  X(tls_hello_oversize, "hellos larger than the buffer: cut, fingerprints left out")              \
  X(tls_hello_malformed, "hellos whose fields overran the message: later fields left out")        \
  X(tls_buffer_busy, "handshake messages skipped: the other direction held the buffer")           \
  X(tls_gap, "gaps in a direction still being parsed: that direction stops")                      \
  X(tls_violation, "flows whose first bytes were not TLS records: dropped to unknown")            \
  X(tls_bad_record, "bad record headers after a hello: the handshake is written as seen")         \
  X(tls_alerts, "plaintext alerts from the server during the handshake")                          \
  X(tls_no_record_buffer, "records not written: no record buffer was free")                       \
  X(tls_field_truncated, "record fields cut to fit (SNI, names, lists)")                          \
  X(tls_san_truncated, "certificates whose SAN lists did not fit the record")                     \
  X(tls_list_cap, "ClientHellos with more ciphers or extensions than the fingerprint arrays hold (no JA3/JA4)") \
  X(tls_ext_cap, "certificates with more than 64 extensions: the rest not read")                  \
  X(tls_partial, "handshakes written before the server's certificate or TLS 1.3 hello")          \
  X(tls_dtls_flows, "UDP flows read as DTLS")                                                    \
  X(tls_quic_flows, "QUIC flows read for the hellos of their Initial packets")                   \
  X(tls_quic_initials, "QUIC Initial packets decrypted")                                          \
  X(tls_quic_bad_frames, "QUIC Initials whose frames or CRYPTO stream did not read as a hello")   \
  X(tls_quic_no_hello, "QUIC flows given up after 32 datagrams without both hellos")              \
  X(tls_dtls_other_datagrams, "datagrams that are no DTLS record (STUN, TURN, RTP: RFC 7983)")   \
  X(tls_dtls_no_handshake, "UDP flows given up after 32 datagrams without a DTLS handshake")     \
  X(tls_dtls_bad_record, "DTLS record headers that are not DTLS: the rest of the datagram skipped") \
  X(tls_dtls_record_cut, "DTLS records longer than their datagram: read as far as they go")     \
  X(tls_dtls_bad_fragment, "DTLS handshake fragments outside their message: skipped")           \
  X(tls_dtls_retransmits, "DTLS handshake fragments of messages already read: skipped")         \
  X(tls_dtls_reassembled, "DTLS handshake messages reassembled from several fragments")         \
  X(tls_dtls_reasm_busy, "DTLS fragments skipped: the buffer held a later message")            \
  X(tls_dtls_reasm_abandoned, "DTLS messages left incomplete for a later message")              \
  X(tls_dtls_reasm_ranges, "DTLS fragments skipped: more than 32 disjoint pieces of a message")  \
  X(tls_dtls_msg_cut, "DTLS handshake messages larger than the buffer: the first 16384 bytes read") \
  X(tls_dtls_hello_verify, "DTLS HelloVerifyRequests (the ClientHello after it is written)")    \
  X(tls_dtls_roles_swapped, "DTLS flows whose ClientHello came from the flow's server side")

namespace flowscribe::dissect {

std::unique_ptr<Dissector> make_tls_dissector();

}  // namespace flowscribe::dissect
