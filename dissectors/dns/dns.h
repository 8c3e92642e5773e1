#pragma once
// DNS (RFC 1035) over UDP and TCP, mDNS (RFC 6762) and LLMNR (RFC 4795): one `dns` record per
// query and its response, a query that got none, or a response whose query was not seen
// (docs/records.md, MSGID dns; docs/protocols.md, "DNS").
//
// Per flow: a bounded table of pending queries (txid + first question), matched by the
// responses; over TCP a bounded buffer per direction holds the start of each length-prefixed
// message (header, question, first answers) and the rest is skipped, counted. A UDP flow with
// nothing pending returns Progress::kIdle, so between queries it holds no state.
#include <memory>

#include "common/counters.h"
#include "dissectors/dissector.h"

namespace flowscribe::dissect {

#define FS_DNS_COUNTERS(X)                                                                       \
  X(dns_messages, "DNS/mDNS/LLMNR messages parsed (queries and responses)")                      \
  X(dns_queries, "DNS query messages (QR=0)")                                                     \
  X(dns_responses, "DNS response messages (QR=1)")                                                \
  X(dns_records, "dns records written")                                                           \
  X(dns_record_unavailable, "dns records lost: no record buffer was free")                        \
  X(dns_answered, "queries matched by their response (status=answered)")                         \
  X(dns_no_response, "queries written without a response (status=no-response)")                  \
  X(dns_timeouts, "queries given up as no-response by the per-query timeout (15 s)")              \
  X(dns_pending_overflow, "queries written as no-response early: the flow's pending table was full") \
  X(dns_unsolicited, "responses whose query this flow did not see (status=unsolicited)")           \
  X(dns_multicast, "queries to a multicast group written at once (status=multicast)")             \
  X(dns_retransmits, "queries repeated with the same id and question while pending")              \
  X(dns_not_dns, "messages that are not DNS: the flow stopped as a protocol violation")          \
  X(dns_mdns_ignored, "mDNS/LLMNR datagrams that are not DNS, ignored (no violation)")            \
  X(dns_cut, "messages not all there (capture snap length, classifier prefix, TCP buffer)")      \
  X(dns_tcp_long, "TCP messages longer than the per-direction buffer: the rest skipped")         \
  X(dns_tcp_gap, "TCP gaps inside or between messages")                                           \
  X(dns_tcp_desync, "TCP directions given up: a gap left no message boundary to resume at")      \
  X(dns_answers_cut, "answers not written: beyond the 32 per record, or the record (with its continuation slots) was full")    \
  X(dns_additional_cut, "additional-section addresses not written: beyond the 8 per record, or the record was full") \
  X(dns_updates_cut, "dynamic UPDATE update-section records not written: beyond the 4 per request, the record was full, or a second UPDATE came before the first's response") \
  X(dns_txt_cut, "TXT/SPF answers cut to 128 bytes")                                               \
  X(dns_field_cut, "fields dropped: the record's extension area was full")                        \
  X(dns_compression_loop, "names whose compression pointer points into the name itself (loop)")  \
  X(dns_pointer_forward, "names with a compression pointer forward in the message")               \
  X(dns_pointer_oob, "names with a compression pointer past the end of the message")              \
  X(dns_pointer_chain, "names with more than 32 compression pointers")                           \
  X(dns_name_too_long, "names longer than 255 octets (RFC 1035 section 2.3.4)")                   \
  X(dns_label_too_long, "labels longer than 63 octets (label type 01 or 10)")                     \
  X(dns_rr_overrun, "complete messages whose section counts or RDLENGTH overrun the message")    \
  X(dns_trailing_bytes, "complete messages with bytes after the last resource record")          \
  X(dns_bad_rdata, "answers whose RDATA does not fit their type (an A record not 4 bytes, ...)")

FS_DEFINE_COUNTERS(DnsCounters, FS_DNS_COUNTERS);

std::unique_ptr<Dissector> make_dns_dissector();

}  // namespace flowscribe::dissect
