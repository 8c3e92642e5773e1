#pragma once
// OPC UA Binary over TCP (opc.tcp, port 4840; docs/protocols.md, "OPC UA"): reads the OPC UA
// Connection Protocol's message headers (OPC 10000-6 §7.1.2) on each side, names the
// application from the HEL message's EndpointUrl host, and for every OpenSecureChannel (OPN)
// message reads the asymmetric algorithm security header (§6.7.2.3) that precedes the
// (possibly encrypted) body: SecurityPolicyUri, SenderCertificate, ReceiverCertificateThumbprint.
// Each DER certificate of SenderCertificate (a chain: certificates back to back) gets one
// x509 record (source="opcua", sender="client"/"server"). MSG and CLO bodies are skipped
// unread.
//
// Per flow and side: the 8-byte header being gathered and up to 16 KiB of one HEL/OPN message
// (a longer one is read up to the cap). The flow is left once both sides' OPN were read, after
// 16 messages, or at the first malformed header.
#include <memory>

#include "common/counters.h"
#include "dissectors/dissector.h"

namespace flowscribe::dissect {

#define FS_OPCUA_COUNTERS(X)                                                                      \
  X(opcua_flows, "OPC UA flows dissected")                                                        \
  X(opcua_messages, "OPC UA messages whose header was read")                                      \
  X(opcua_hello, "... of which HEL (or RHE) messages")                                            \
  X(opcua_opn, "... of which OpenSecureChannel (OPN) messages")                                   \
  X(opcua_bad_header, "headers with an unknown message or chunk type or a size below 12: flow left") \
  X(opcua_msg_cap, "HEL/OPN messages over 16 KiB: read up to the cap")                            \
  X(opcua_bad_opn, "OPN messages whose security header runs past the message (or the cap)")      \
  X(opcua_no_cert, "OPN messages with a null or empty SenderCertificate")                         \
  X(opcua_cert_bad_der, "SenderCertificate bytes that are not a DER SEQUENCE: rest not read")     \
  X(opcua_cert_cap, "certificates past 8 in one SenderCertificate: not recorded")                 \
  X(opcua_certs, "certificates of SenderCertificate chains (one x509 record each)")               \
  X(opcua_cert_cache_hits, "... of which the record came from the certificate cache")             \
  X(opcua_cert_errors, "certificates whose DER was not read whole (record has error)")            \
  X(opcua_cert_ext_cap, "certificates with more than 64 extensions: the rest not read")           \
  X(opcua_field_truncated, "x509 record fields cut to fit their cap or the record")               \
  X(opcua_san_truncated, "x509 records whose SAN lists were cut to fit")                          \
  X(opcua_no_record_buffer, "x509 records lost: no record buffer free")                           \
  X(opcua_msg_limit, "flows left after 16 messages without both OPNs")                            \
  X(opcua_gap, "flows left at a gap in the stream")                                               \
  X(opcua_pending_at_end, "flows that ended inside a HEL/OPN message: not read")

FS_DEFINE_COUNTERS(OpcuaCounters, FS_OPCUA_COUNTERS);

std::unique_ptr<Dissector> make_opcua_dissector();

}  // namespace flowscribe::dissect
