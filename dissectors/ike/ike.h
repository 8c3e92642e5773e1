#pragma once
// IKE (ISAKMP, UDP 500 and 4500; docs/protocols.md, "IKE"): walks the unencrypted payload
// chain of IKEv1 (RFC 2408 §3, RFC 2409) and IKEv2 (RFC 7296 §3) messages and writes one x509
// record (source="ike", sender="initiator"/"responder") per CERT payload of encoding 4,
// "X.509 Certificate - Signature" (RFC 2408 §3.9, RFC 7296 §3.6). Payloads behind IKEv1's
// encryption flag or IKEv2's Encrypted (SK/SKF) payload are not read: IKEv1 Main Mode and
// IKEv2 IKE_AUTH carry their certificates there; IKEv1 Aggressive Mode, and implementations
// that send CERT in the clear, show them. On UDP 4500 the non-ESP marker is skipped and ESP
// packets (and NAT-keepalives) are passed over. A retransmitted message (byte for byte the
// same) writes nothing again.
//
// Per flow: the hashes of the last 4 messages that carried certificates and two counts (48
// bytes). The flow is left after kQuietLimit datagrams in a row with nothing clear to read.
#include <memory>

#include "common/counters.h"
#include "dissectors/dissector.h"

namespace flowscribe::dissect {

#define FS_IKE_COUNTERS(X)                                                                      \
  X(ike_flows, "IKE flows dissected")                                                           \
  X(ike_messages, "IKE messages read (header valid)")                                           \
  X(ike_v1, "... of which IKEv1")                                                               \
  X(ike_v2, "... of which IKEv2")                                                               \
  X(ike_esp, "UDP 4500 datagrams that were ESP or NAT-keepalives: skipped")                     \
  X(ike_bad_header, "datagrams with no valid IKE header (short, version, length below 28)")     \
  X(ike_cut, "messages longer than the datagram's captured bytes: payloads read up to the cut") \
  X(ike_encrypted, "messages whose payloads (or the rest of them) are encrypted: not read")     \
  X(ike_bad_payload, "payloads with a length below 4 or past the message's end: walk stopped")  \
  X(ike_payload_cap, "messages with more than 64 payloads: the rest not read")                   \
  X(ike_retransmits, "messages with certificates seen before byte for byte: not written again")  \
  X(ike_cert_payloads, "CERT payloads")                                                          \
  X(ike_cert_other, "CERT payloads of another encoding than X.509 signature (4): not recorded")  \
  X(ike_cert_cap, "X.509 CERT payloads past 10 in one message: not recorded")                    \
  X(ike_certs, "X.509 certificates of CERT payloads (one x509 record each)")                     \
  X(ike_cert_cache_hits, "... of which the record came from the certificate cache")              \
  X(ike_cert_errors, "certificates whose DER was not read whole (record has error)")             \
  X(ike_cert_ext_cap, "certificates with more than 64 extensions: the rest not read")            \
  X(ike_field_truncated, "x509 record fields cut to fit their cap or the record")                \
  X(ike_san_truncated, "x509 records whose SAN lists were cut to fit")                           \
  X(ike_no_record_buffer, "x509 records lost: no record buffer free")                            \
  X(ike_quiet, "flows left after 64 datagrams in a row with nothing clear to read")              \
  X(ike_tcp, "IKE over TCP (RFC 8229) flows: not read")

FS_DEFINE_COUNTERS(IkeCounters, FS_IKE_COUNTERS);

std::unique_ptr<Dissector> make_ike_dissector();

}  // namespace flowscribe::dissect
