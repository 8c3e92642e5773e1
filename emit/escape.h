#pragma once
// PARAM-VALUE escaping (RFC 5424 section 6.3.3): the one place where bytes from the wire turn
// into syslog text. Rules, in docs/records.md "Escaping":
//   - '"', '\' and ']' get a backslash (the only escapes RFC 5424 defines);
//   - valid UTF-8 (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF) is copied;
//   - every byte of an invalid sequence, every C0 control (0x00-0x1F), DEL (0x7F), every C1
//     control (U+0080-U+009F) and U+2028/U+2029 (line/paragraph separators) become the text
//     `\xHH`, one per byte, lowercase hex. So no CR/LF (or anything a reader may take for a
//     line break) can reach a line, and the original bytes can be recovered exactly;
//   - the escaped value is capped at kMaxValueBytes, cut on a character/escape boundary and
//     marked with a trailing "...".
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace flowscribe::emit {

inline constexpr size_t kMaxValueBytes = 1024;  // escaped bytes, marker included
inline constexpr std::string_view kTruncationMarker = "...";

struct EscapeResult {
  char* end;         // one past the last byte written
  bool truncated;    // the value was cut at kMaxValueBytes
  bool hex_escaped;  // at least one byte was written as \xHH
};

// Writes the escaped form of data[0, len) to dst, which must have room for kMaxValueBytes.
EscapeResult escape_param_value(const uint8_t* data, size_t len, char* dst) noexcept;

// Appends the escaped form of `in` to `out`; returns true if it was truncated.
bool append_param_value(std::string_view in, std::string& out);

}  // namespace flowscribe::emit
