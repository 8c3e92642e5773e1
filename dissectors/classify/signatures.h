#pragma once
// Signatures: a Hyperscan pattern (anchored by the author, bounded by `depth`), the direction
// and transport it applies to, and the protocol it suggests. The built-in table is compiled
// with the user's file (docs/signatures.md) into the classifier's databases at start-up.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "dissectors/classify/probe.h"

namespace flowscribe::dissect {

enum SigDir : uint8_t { kFromClient = 1, kFromServer = 2, kFromEither = 3 };

struct BuiltinSignature {
  const char* pattern;  // Hyperscan syntax, compiled with DOTALL and SINGLEMATCH
  AppProto proto;
  uint8_t dirs;         // SigDir
  uint8_t transports;   // TransportMask
  uint16_t depth;       // the match must end within this many bytes of the prefix
};

std::span<const BuiltinSignature> builtin_signatures() noexcept;

struct UserSignature {
  std::string protocol;  // wire name (validated)
  std::string pattern;
  uint8_t dirs = kFromEither;
  uint8_t transports = kBoth;
  uint16_t depth = 512;
  bool caseless = false;
  uint32_t line = 0;
};

constexpr size_t kMaxUserSignatures = 1024;
constexpr size_t kMaxSignatureFileBytes = 1 << 20;

// Parses a signature file's text; `name` is used in error messages ("name:line: ...").
// Each pattern is compiled once by Hyperscan here so that a rejected pattern names its line.
absl::StatusOr<std::vector<UserSignature>> parse_signatures(std::string_view text, std::string_view name);
absl::StatusOr<std::vector<UserSignature>> load_signature_file(const std::string& path);

}  // namespace flowscribe::dissect
