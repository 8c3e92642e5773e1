#pragma once
// STARTTLS (docs/protocols.md, "STARTTLS"): for SMTP, IMAP, POP3, FTP and XMPP sessions,
// watches the clear-text start of the session for the client's upgrade command (STARTTLS,
// STLS, AUTH TLS/SSL, <starttls/>) and the server's yes (220, +OK, <tag> OK, 234, <proceed/>),
// then hands the rest of the stream to the TLS dissector (Ctx::hand_over), so the TLS
// handshake and the server's certificates are recorded as for any TLS session. The flow keeps
// its protocol (proto=smtp, ...). Writes no records of its own.
//
// It also checks the server's first line (a reply code for SMTP/FTP, +OK/-ERR for POP3, an
// untagged or tagged response for IMAP, '<' for XMPP): anything else is a protocol violation
// (the classifier may have named the flow from the client's bytes alone).
//
// Per flow: the first bytes of the current line of each side (enough for a command or reply
// code) and the upgrade state; it stops watching (kDone) after 32 KiB from either side with
// no upgrade, so a mail body or file listing is not read.
#include <memory>

#include "common/counters.h"
#include "dissectors/dissector.h"

namespace flowscribe::dissect {

#define FS_STARTTLS_COUNTERS(X)                                                                \
  X(starttls_flows, "SMTP/IMAP/POP3/FTP/XMPP flows watched for an upgrade to TLS")             \
  X(starttls_commands, "upgrade commands seen from the client (STARTTLS, STLS, AUTH TLS, ...)") \
  X(starttls_upgrades, "upgrades the server accepted: the stream went to the TLS dissector")   \
  X(starttls_refused, "upgrade commands the server refused")                                   \
  X(starttls_not_seen, "flows that passed 32 KiB from one side with no upgrade: stopped watching") \
  X(starttls_bad_greeting, "flows whose server's first line was no greeting of the protocol: violation")

FS_DEFINE_COUNTERS(StarttlsCounters, FS_STARTTLS_COUNTERS);

std::unique_ptr<Dissector> make_starttls_dissector();

}  // namespace flowscribe::dissect
