#pragma once
// TLS dissector (docs/protocols.md "TLS"): one `tls` record per handshake (ClientHello and
// ServerHello summary, JA3/JA3S/JA4, the leaf certificate's summary) and one `x509` record
// per certificate the server shows (TLS <= 1.2; TLS 1.3 encrypts them: cert_hidden=true).
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
  X(tls_cert_errors, "certificates whose DER did not parse whole (x509 record with error)")      \
  X(tls_cert_oversize, "certificates larger than the buffer: not parsed (x509 record with error)") \
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
  X(tls_list_cap, "hellos with more ciphers or extensions than the fingerprint arrays hold")       \
  X(tls_ext_cap, "certificates with more than 64 extensions: the rest not read")                  \
  X(tls_partial, "handshakes written before the server's certificate or TLS 1.3 hello")

namespace flowscribe::dissect {

std::unique_ptr<Dissector> make_tls_dissector();

}  // namespace flowscribe::dissect
