#pragma once
// Names of TLS protocol versions and cipher suites for the records.
#include <cstdint>

#include "dissectors/tls/text.h"

namespace flowscribe::dissect::tls {

// IANA name ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"), nullptr if this build does not know it.
const char* cipher_name(uint16_t code) noexcept;
// "SSLv3", "TLSv1.0" ... "TLSv1.3", "DTLSv1.2"; nullptr for anything else.
const char* version_name(uint16_t v) noexcept;
// version_name(), "TLSv1.3-draftNN" for 0x7fNN, else "0x" and four hex digits.
void version_text(uint16_t v, Text& out) noexcept;
// cipher_name(), else "0x" and four uppercase hex digits.
void cipher_text(uint16_t code, Text& out) noexcept;

}  // namespace flowscribe::dissect::tls
