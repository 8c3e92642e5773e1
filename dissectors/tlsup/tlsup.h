#pragma once
// TLS inside binary protocols (docs/protocols.md, "TLS upgrades in binary protocols"): for
// MySQL/MariaDB, PostgreSQL, LDAP and RDP sessions, follows the protocol's own framing through
// its clear-text start until the session either turns to TLS, then hands the rest of the stream
// to the TLS dissector (Ctx::hand_over) so the handshake and the server's certificates are
// recorded as for any TLS session (the flow keeps its protocol: proto=mysql, ...), or goes on
// in clear text, then stops watching (kDone). Its own records: the x509 records of RDP's
// Standard RDP Security (below).
//  - MySQL: the server's handshake (protocol 10), then the client's SSLRequest (a handshake
//    response cut after the capability flags, CLIENT_SSL set, sequence 1): TLS from the next
//    client byte. A full handshake response is a clear session.
//  - PostgreSQL: SSLRequest (length 8, code 80877103) answered 'S': TLS; 'N' or an error: clear.
//    A StartupMessage first is a clear session, once the server's first byte is checked.
//    GSSENCRequest (80877104) answered 'N' is followed by the next request (libpq then asks
//    for SSL); answered 'G' the session is GSSAPI-encrypted (not read).
//  - LDAP: the StartTLS extendedRequest (OID 1.3.6.1.4.1.1466.20037) and the extendedResponse
//    of the same message id with resultCode success: TLS from the next byte. Other operations
//    are skipped by their BER length; stops after 32 KiB from either side with no upgrade.
//  - RDP: the X.224 Connection Confirm's RDP_NEG_RSP selecting a TLS-based security protocol
//    (SSL, HYBRID (CredSSP), RDSTLS, HYBRID_EX, RDSAAD): TLS from the client's next byte;
//    RDP_NEG_FAILURE: not TLS. Standard RDP Security (PROTOCOL_RDP, or no negotiation at all):
//    the server's MCS Connect Response (MS-RDPBCGR 2.2.1.4: TPKT, X.224 data, T.125
//    Connect-Response, GCC Conference Create Response, server data blocks) is read up to
//    kRdpBuf bytes; its security data (TS_UD_SC_SEC1, 2.2.1.4.3) carries the server
//    certificate: a CERT_CHAIN_VERSION_2 X.509 chain ([MS-RDPELE] 2.2.1.4.2, root first)
//    gives one x509 record per certificate (source="rdp", pos 0 = the last, the server's
//    own); a proprietary certificate (version 1, 2.2.1.4.3.1.1) is no X.509: only counted.
// Only the first message of a side that does not frame as the protocol is a violation (the
// classifier may have been wrong); a valid exchange that stays clear is kDone.
//
// Per flow: the first 64 bytes of the current message of each side, its length, the
// protocol's phase, and the server's MCS Connect Response of an RDP session with standard
// security (6 KiB; about 6.3 KiB in all, 4096 flows per worker = 26 MiB).
#include <memory>

#include "common/counters.h"
#include "dissectors/dissector.h"

namespace flowscribe::dissect {

#define FS_TLSUP_COUNTERS(X)                                                                      \
  X(tlsup_flows, "MySQL/PostgreSQL/LDAP/RDP/ADB flows watched for an upgrade to TLS")            \
  X(tlsup_adb_upgrades, "ADB connections where both sides sent STLS: handed to TLS")                \
  X(tlsup_adb_clear, "ADB connections that went on in the clear (OPEN, WRTE, ... before STLS)")     \
  X(tlsup_adb_server_client, "ADB server clients (port 5037 requests: host services, no TLS): not watched") \
  X(tlsup_mysql_upgrades, "MySQL SSLRequests: the stream went to the TLS dissector")              \
  X(tlsup_mysql_clear, "MySQL clients that answered the handshake without SSL (or server errors)") \
  X(tlsup_pgsql_upgrades, "PostgreSQL SSLRequests the server accepted ('S'): handed to TLS")      \
  X(tlsup_pgsql_refused, "PostgreSQL SSLRequests the server refused ('N' or an error)")           \
  X(tlsup_pgsql_gssenc, "PostgreSQL GSSENCRequests the server accepted ('G'): encrypted, not read") \
  X(tlsup_pgsql_clear, "PostgreSQL sessions that started with no SSLRequest")                     \
  X(tlsup_ldap_upgrades, "LDAP StartTLS requests the server accepted: handed to TLS")             \
  X(tlsup_ldap_refused, "LDAP StartTLS requests the server refused (resultCode not success)")     \
  X(tlsup_not_seen, "flows that passed 32 KiB from one side with no upgrade: stopped watching") \
  X(tlsup_rdp_upgrades, "RDP connections whose server selected TLS or CredSSP: handed to TLS")    \
  X(tlsup_rdp_standard, "RDP connections with standard RDP security (no TLS): the server's certificate is read") \
  X(tlsup_rdp_no_response, "standard-security RDP servers whose next message was no MCS Connect Response") \
  X(tlsup_rdp_response_oversize, "MCS Connect Responses larger than the 6144-byte buffer: certificates not read") \
  X(tlsup_rdp_bad_server_data, "MCS Connect Responses whose BER, GCC or server data blocks did not parse") \
  X(tlsup_rdp_no_encryption, "standard-security RDP servers that chose no encryption (no certificate sent)") \
  X(tlsup_rdp_proprietary_certs, "RDP proprietary server certificates (CERT_CHAIN_VERSION_1, not X.509): not recorded") \
  X(tlsup_rdp_chain_cap, "RDP X.509 chains of more than 10 certificates: the rest not recorded")  \
  X(tlsup_rdp_certs, "X.509 certificates of RDP server security data (one x509 record each)")     \
  X(tlsup_rdp_cert_cache_hits, "... of which the record came from the certificate cache")         \
  X(tlsup_rdp_cert_errors, "RDP certificates whose DER was not read whole (record has error)")    \
  X(tlsup_rdp_cert_ext_cap, "RDP certificates with more than 64 extensions: the rest not read")   \
  X(tlsup_field_truncated, "x509 record fields cut to fit their cap or the record")              \
  X(tlsup_san_truncated, "x509 records whose SAN lists were cut to fit")                         \
  X(tlsup_no_record_buffer, "x509 records lost: no record buffer free")                          \
  X(tlsup_rdp_refused, "RDP negotiations the server failed (RDP_NEG_FAILURE)")                    \
  X(tlsup_not_protocol, "flows whose first message of a side did not frame as the protocol: violation") \
  X(tlsup_lost_framing, "later messages that did not frame as the protocol: stopped watching")   \
  X(tlsup_gaps, "flows with missing bytes before the upgrade: stopped watching")                 \
  X(tlsup_udp, "UDP flows of these protocols (CLDAP, RDP-UDP): not read")

FS_DEFINE_COUNTERS(TlsupCounters, FS_TLSUP_COUNTERS);

std::unique_ptr<Dissector> make_tlsup_dissector();

}  // namespace flowscribe::dissect
