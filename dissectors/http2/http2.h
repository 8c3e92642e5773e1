#pragma once
// HTTP/2 over cleartext TCP (h2c; RFC 9113, HPACK RFC 7541): one `http` record per stream,
// the same fields as HTTP/1.x plus version="2" and stream_id (docs/records.md, MSGID http;
// docs/protocols.md, "HTTP/2 dissector").
#include <memory>

#include "common/counters.h"
#include "dissectors/dissector.h"

namespace flowscribe::dissect {

// Every way a connection, frame, header block or stream can be cut, skipped or refused
// (docs/counters.md, "http2 dissector").
#define FS_HTTP2_COUNTERS(X)                                                                  \
  X(http2_connections, "connections read (prior-knowledge preface or h2c upgrade)")           \
  X(http2_upgrades, "connections handed over by the HTTP/1.1 dissector after Upgrade: h2c + 101") \
  X(http2_frames, "frames read")                                                               \
  X(http2_records, "http records written for HTTP/2 streams")                                  \
  X(http2_record_no_buffer, "http records lost: no record buffer was free")                    \
  X(http2_record_full, "fields left out of a record: its extension area was full")             \
  X(http2_bad_preface, "client bytes that were not the connection preface: violation or done") \
  X(http2_bad_first_frame, "server bytes that did not begin with SETTINGS: violation or done") \
  X(http2_frame_too_large, "frames longer than the receiver's SETTINGS_MAX_FRAME_SIZE")        \
  X(http2_bad_frame_length, "frames whose length breaks their type (RST_STREAM, PING, SETTINGS...)") \
  X(http2_bad_stream_id, "frames on stream 0 that need a stream, or on a stream that need 0")  \
  X(http2_bad_padding, "padding longer than the frame: the frame is ignored")                   \
  X(http2_unknown_frame, "frames of unknown type (ignored, RFC 9113 section 4.1)")             \
  X(http2_continuation_expected, "frames inside a header block that were not its CONTINUATION") \
  X(http2_bad_setting, "SETTINGS values out of range (MAX_FRAME_SIZE, ENABLE_PUSH)")           \
  X(http2_table_size_over_cap, "SETTINGS_HEADER_TABLE_SIZE above the 4 KiB table followed")     \
  X(http2_table_too_big, "dynamic table size updates above 4 KiB: that direction's headers are no longer decoded") \
  X(http2_hpack_error, "header blocks HPACK could not decode: that direction's headers are no longer decoded") \
  X(http2_hpack_lost_blocks, "header blocks skipped because their direction's HPACK state was lost") \
  X(http2_field_truncated, "header values cut to their cap or to the stream's space")          \
  X(http2_streams_overflow, "streams beyond the concurrent streams followed per connection: not recorded") \
  X(http2_unknown_stream, "HEADERS or DATA for a stream not followed (closed, refused or never opened)") \
  X(http2_no_response, "streams written without a response (reset, GOAWAY or connection end)") \
  X(http2_rst_stream, "RST_STREAM frames")                                                     \
  X(http2_goaway, "GOAWAY frames")                                                             \
  X(http2_push_promise, "PUSH_PROMISE frames (pushed streams are recorded, tagged pushed)")     \
  X(http2_gap, "gaps in the stream: framing and HPACK state lost, the connection's streams written")

FS_DEFINE_COUNTERS(Http2Counters, FS_HTTP2_COUNTERS);

std::unique_ptr<Dissector> make_http2_dissector();

}  // namespace flowscribe::dissect
