#pragma once
// HTTP/1.0 and 1.1 (RFC 9110, RFC 9112): one `http` record per request/response pair
// (docs/records.md, MSGID http; docs/protocols.md, "HTTP dissector").
#include <memory>

#include "common/counters.h"
#include "dissectors/dissector.h"

namespace flowscribe::dissect {

// Every way a message can be cut, skipped or refused (docs/counters.md, "http dissector").
#define FS_HTTP_COUNTERS(X)                                                                   \
  X(http_requests, "request lines parsed")                                                     \
  X(http_responses, "final status lines parsed (1xx interim responses not included)")          \
  X(http_interim, "1xx interim responses (100 Continue, 103 Early Hints) skipped")             \
  X(http_records, "http records written")                                                      \
  X(http_record_no_buffer, "http records lost: no record buffer was free")                     \
  X(http_record_full, "fields left out of a record: its extension area was full")              \
  X(http_no_response, "requests written without a response (flow ended or gave up first)")     \
  X(http_no_request, "responses with no request to pair with: written alone")                  \
  X(http_line_too_long, "header lines longer than the line buffer: skipped (request line: URI cut)") \
  X(http_field_truncated, "header values cut to their cap or to the transaction's space")      \
  X(http_bad_header, "header lines without a colon, or folded (obs-fold): ignored")            \
  X(http_bad_length, "invalid or conflicting Content-Length values")                           \
  X(http_te_and_cl, "messages with both Transfer-Encoding and Content-Length (TE wins)")       \
  X(http_bad_chunk, "invalid chunk-size lines: the direction resynchronises")                  \
  X(http_pipeline_overflow, "requests beyond the pipeline depth: oldest written without response") \
  X(http_gap_body, "gaps inside a body of known size: counted, parsing went on")               \
  X(http_gap_resync, "gaps that broke the framing: the direction looked for the next message") \
  X(http_resynced, "directions that found a message start again after losing sync")           \
  X(http_resync_give_up, "flows given up: no message start within the resync budget")          \
  X(http_garbage, "non-HTTP bytes where a message must start, after valid messages: done")    \
  X(http_violation, "flows whose first message was not HTTP: protocol violation")              \
  X(http_bad_request_line, "request lines that broke the grammar but were text with an HTTP/1.x version: written, tagged bad_request_line") \
  X(http_tunnel, "flows that moved on after CONNECT 2xx or 101 Switching Protocols")          \
  X(http_http09, "HTTP/0.9 simple requests (response read until close)")

FS_DEFINE_COUNTERS(HttpCounters, FS_HTTP_COUNTERS);

std::unique_ptr<Dissector> make_http_dissector();

}  // namespace flowscribe::dissect
