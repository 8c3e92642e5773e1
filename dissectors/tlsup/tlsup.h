#pragma once
// TLS inside binary protocols (docs/protocols.md, "TLS upgrades in binary protocols"): for
// MySQL/MariaDB, PostgreSQL, LDAP and RDP sessions, follows the protocol's own framing through
// its clear-text start until the session either turns to TLS, then hands the rest of the stream
// to the TLS dissector (Ctx::hand_over) so the handshake and the server's certificates are
// recorded as for any TLS session (the flow keeps its protocol: proto=mysql, ...), or goes on
// in clear text, then stops watching (kDone). Writes no records of its own.
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
//    standard RDP security or RDP_NEG_FAILURE: not TLS.
// Only the first message of a side that does not frame as the protocol is a violation (the
// classifier may have been wrong); a valid exchange that stays clear is kDone.
//
// Per flow: the first 64 bytes of the current message of each side, its length, and the
// protocol's phase (about 170 bytes).
#include <memory>

#include "common/counters.h"
#include "dissectors/dissector.h"

namespace flowscribe::dissect {

#define FS_TLSUP_COUNTERS(X)                                                                      \
  X(tlsup_flows, "MySQL/PostgreSQL/LDAP/RDP flows watched for an upgrade to TLS")                \
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
  X(tlsup_rdp_standard, "RDP connections with standard RDP security (no TLS): not read")         \
  X(tlsup_rdp_refused, "RDP negotiations the server failed (RDP_NEG_FAILURE)")                    \
  X(tlsup_not_protocol, "flows whose first message of a side did not frame as the protocol: violation") \
  X(tlsup_lost_framing, "later messages that did not frame as the protocol: stopped watching")   \
  X(tlsup_gaps, "flows with missing bytes before the upgrade: stopped watching")                 \
  X(tlsup_udp, "UDP flows of these protocols (CLDAP, RDP-UDP): not read")

FS_DEFINE_COUNTERS(TlsupCounters, FS_TLSUP_COUNTERS);

std::unique_ptr<Dissector> make_tlsup_dissector();

}  // namespace flowscribe::dissect
