#include "dissectors/classify/signatures.h"

#include <fstream>

#include "absl/status/status.h"
#include "common/strings.h"
#include "sensor/match/hs_match.h"

namespace flowscribe::dissect {
namespace {

using P = AppProto;
constexpr uint8_t C = kFromClient, S = kFromServer, E = kFromEither;

// Every pattern is anchored (^) and short: Hyperscan confirms the literal cheaply, the probe
// then checks the structure. Protocols without a good literal (DNS, RPC, BER, ...) are
// structural and have no row here (probe_table.cpp).
constexpr BuiltinSignature kSignatures[] = {
    // HTTP/1.x: known methods, any other method token (the probe wants "HTTP/1.x" then),
    // status line (RFC 9112). Patterns stay short: the probe parses the line.
    {"^(GET|POST|HEAD|PUT|DELETE|OPTIONS|PATCH|CONNECT|TRACE|PROPFIND|PROPPATCH|MKCOL|COPY|"
     "MOVE|LOCK|UNLOCK|REPORT|SEARCH|PURGE|MKCALENDAR) ", P::kHttp, C, kTcp, 16},
    {"^[A-Z][A-Z0-9_-]{1,23} [!-~]", P::kHttp, C, kTcp, 26},
    {"^HTTP/1\\.[01] [1-5][0-9][0-9]", P::kHttp, S, kTcp, 12},
    {"^PRI \\* HTTP/2\\.0", P::kHttp2, C, kTcp, 14},
    {"^(OPTIONS|DESCRIBE|SETUP|PLAY|PAUSE|TEARDOWN|ANNOUNCE|RECORD|GET_PARAMETER|"
     "SET_PARAMETER|REDIRECT|PLAY_NOTIFY) ", P::kRtsp, C, kTcp, 16},
    {"^RTSP/[12]\\.0 [0-9]{3}", P::kRtsp, S, kTcp, 12},
    {"^(INVITE|REGISTER|OPTIONS|ACK|BYE|CANCEL|SUBSCRIBE|NOTIFY|PUBLISH|INFO|PRACK|UPDATE|"
     "MESSAGE|REFER) (sips?|tel):", P::kSip, E, kBoth, 20},
    {"^SIP/2\\.0 [1-6][0-9][0-9]", P::kSip, E, kBoth, 12},
    {"^(M-SEARCH|NOTIFY) \\* HTTP/1\\.1", P::kSsdp, C, kUdp, 20},
    {"^HTTP/1\\.1 200", P::kSsdp, C, kUdp, 12},
    // Banners and greetings.
    {"^SSH-[12]\\.", P::kSsh, E, kTcp, 6},
    {"\\nSSH-[12]\\.", P::kSsh, S, kTcp, 512},
    {"^RFB [0-9]{3}\\.[0-9]{3}\\n", P::kVnc, E, kTcp, 12},
    {"^\\xff[\\xf1-\\xfe]", P::kTelnet, E, kTcp, 2},
    // FTP and SMTP: the greeting, any numbered reply (a flow picked up midstream), and the
    // client's commands, which are case-insensitive (RFC 959 §5.3, RFC 5321 §2.4).
    {"^[1-5][0-9][0-9][ -]", P::kFtp, S, kTcp, 4},
    {"^(?i)(USER|PASS|AUTH|FEAT|SYST|OPTS|PASV|EPSV|PORT|EPRT|TYPE|CWD|PWD|LIST|NLST|RETR|STOR|"
     "SIZE|MDTM|MLSD|MLST|REST|CDUP|MKD|PBSZ|PROT)[ \\r]", P::kFtp, C, kTcp, 5},
    {"^[1-5][0-9][0-9][ -]", P::kSmtp, S, kTcp, 4},
    {"^(?i)(EHLO|HELO|LHLO|MAIL FROM:|RCPT TO:)", P::kSmtp, C, kTcp, 10},
    {"^\\+OK", P::kPop3, S, kTcp, 3},
    {"^\\* (OK|PREAUTH|BYE)", P::kImap, S, kTcp, 9},
    {"^(NICK|USER|CAP|PASS) ", P::kIrc, C, kTcp, 5},
    {"^(:[!-~]|NOTICE )", P::kIrc, S, kTcp, 7},
    {"^(<\\?xml |<stream:stream)", P::kXmpp, E, kTcp, 14},
    {"^@RSYNCD: ", P::kRsync, E, kTcp, 9},
    // Android Debug Bridge: the host's first message (CNXN, or STLS/AUTH), its 24-byte header
    // checked by the probe (magic = command ^ 0xffffffff).
    {"^(CNXN|STLS|AUTH)", P::kAdb, C, kTcp, 4},
    // ... and a client of the ADB server (port 5037): a 4-hex-digit length, then the service.
    {"^[0-9a-fA-F]{4}(host|shell|sync|tcp|local|exec|reboot|root|unroot|jdwp|track-|reverse|"
     "framebuffer|remount|usb|abb|sideload|disable-verity|enable-verity)", P::kAdb, C, kTcp, 24},
    {"^[0-9a-f]{4}git-(upload-pack|receive-pack|upload-archive) ", P::kGit, C, kTcp, 28},
    // Databases and caches.
    {"^...\\x00\\x0a[0-9]", P::kMysql, S, kTcp, 6},
    {"^...\\x00\\xff[\\x00-\\xff][\\x03-\\x13]", P::kMysql, S, kTcp, 7},
    {"^....\\x00\\x03\\x00[\\x00\\x02]", P::kPostgresql, C, kTcp, 8},
    {"^\\x00\\x00\\x00\\x08\\x04\\xd2\\x16[\\x2f\\x30]", P::kPostgresql, C, kTcp, 8},
    {"^\\x00\\x00\\x00\\x10\\x04\\xd2\\x16\\x2e", P::kPostgresql, C, kTcp, 8},
    {"^\\*[1-9][0-9]{0,6}\\r\\n\\$[0-9]", P::kRedis, C, kTcp, 12},
    {"^PING\\r\\n", P::kRedis, C, kTcp, 6},
    {"^(get|gets|set|add|replace|append|prepend|cas|delete|incr|decr|touch|gat|gats|stats|"
     "version|flush_all|verbosity|mg|ms|md|ma|mn)[ \\r]", P::kMemcached, C, kTcp, 12},
    {"^\\x80[\\x00-\\x48]", P::kMemcached, C, kTcp, 2},
    {"^..\\x00\\x00..\\x00\\x00(get|gets|set|add|delete|stats|version)[ \\r]", P::kMemcached, C,
     kUdp, 16},
    // Binary protocols with a usable fixed header.
    {"^\\x16\\x03[\\x00-\\x04]..\\x01", P::kTls, C, kTcp, 6},
    {"^\\x16\\x03[\\x00-\\x04]..\\x02", P::kTls, S, kTcp, 6},
    {"^[\\x80-\\xff].\\x01(\\x00\\x02|\\x03[\\x00-\\x04])", P::kTls, C, kTcp, 5},
    {"^\\x16(\\xfe[\\xfd\\xff]|\\x01\\x00)\\x00\\x00", P::kDtls, E, kUdp, 5},
    {"^\\x03\\x00...\\xe0", P::kRdp, C, kTcp, 6},
    {"^\\x03\\x00...\\xd0", P::kRdp, S, kTcp, 6},
    {"^\\xff\\xff\\xff\\xff", P::kRdp, C, kUdp, 4},  // RDP-UDP SYN: snSourceAck -1
    {"^\\x00[\\x00\\x01]..[\\xfc-\\xff]SMB", P::kSmb, E, kTcp, 8},
    {"^\\x81\\x00..\\x20[A-P]", P::kSmb, C, kTcp, 6},
    {"^[\\x10-\\x12][\\x00-\\x0f].{12}\\x20[A-P]{32}", P::kSmb, C, kUdp, 47},
    {"^\\x13BitTorrent protocol", P::kBittorrent, E, kTcp, 20},
    {"^d(1:[aeqrtvy]|2:ip)", P::kBittorrent, C, kUdp, 5},
    {"^(<[0-9]{1,3}>|[1-9][0-9]{0,5} <[0-9]{1,3}>)", P::kSyslog, C, kBoth, 12},
    {"^\\x10[\\x00-\\xff]{1,4}\\x00(\\x04MQTT|\\x06MQIsdp)", P::kMqtt, C, kTcp, 13},
    {"^[\\x00\\x01].{3}\\x21\\x12\\xa4\\x42", P::kStun, E, kBoth, 8},
    {"^\\x00[\\x01\\x02]\\x00", P::kStun, C, kUdp, 3},  // classic STUN (RFC 3489): no cookie
    {"^[\\x00\\x01].{19}\\x00\\x0f\\x00\\x04\\x72\\xc6\\x4b\\xc6", P::kStun, E, kBoth, 28},  // MS-TURN
    {"^\\xff{16}", P::kBgp, E, kTcp, 16},
    {"^AMQP[\\x00-\\x03]", P::kAmqp, C, kTcp, 5},
    {"^[\\x01\\x02].{235}\\x63\\x82\\x53\\x63", P::kDhcp, C, kUdp, 240},
    {"^\\x05\\x64", P::kDnp3, E, kBoth, 2},
    {"^[\\x01\\x04]\\x00\\x00\\x00", P::kWireguard, C, kUdp, 4},
};

absl::Status line_error(std::string_view file, uint32_t line, std::string_view what) {
  return absl::InvalidArgumentError(cat(file, ":", line, ": ", what));
}

}  // namespace

std::span<const BuiltinSignature> builtin_signatures() noexcept { return kSignatures; }

absl::StatusOr<std::vector<UserSignature>> parse_signatures(std::string_view text, std::string_view name) {
  std::vector<UserSignature> out;
  uint32_t line_no = 0;
  for (std::string_view raw : split(text, '\n', false)) {
    ++line_no;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    std::string_view line = strip(raw);
    if (line.empty() || line[0] == '#') continue;
    if (out.size() >= kMaxUserSignatures) {
      return line_error(name, line_no, cat("too many signatures (at most ", kMaxUserSignatures, ")"));
    }
    UserSignature sig;
    sig.line = line_no;
    bool seen_protocol = false, seen_pattern = false, seen_transport = false, seen_direction = false,
         seen_depth = false, seen_nocase = false;
    while (!line.empty()) {
      const size_t eq = line.find('=');
      const size_t ws = line.find_first_of(" \t");
      if (eq == std::string_view::npos || (ws != std::string_view::npos && ws < eq)) {
        std::string_view word = line.substr(0, ws);
        return line_error(name, line_no, cat("expected key=value, got '", word, "'"));
      }
      std::string_view key = line.substr(0, eq);
      line.remove_prefix(eq + 1);
      if (key == "pattern") {
        // The pattern takes the rest of the line, spaces and '=' included.
        sig.pattern = std::string(strip(line));
        seen_pattern = true;
        if (sig.pattern.empty()) return line_error(name, line_no, "empty pattern");
        break;
      }
      const size_t end = line.find_first_of(" \t");
      std::string_view value = line.substr(0, end);
      line = end == std::string_view::npos ? std::string_view{} : strip(line.substr(end));
      auto dup = [&](bool& seen) {
        if (seen) return true;
        seen = true;
        return false;
      };
      if (key == "protocol") {
        if (dup(seen_protocol)) return line_error(name, line_no, "duplicate key 'protocol'");
        if (!is_valid_app_proto_name(value)) {
          return line_error(name, line_no,
                            cat("invalid protocol name '", value, "' (1-32 characters of a-z 0-9 . _ -)"));
        }
        if (value == "unknown") return line_error(name, line_no, "protocol name 'unknown' is reserved");
        sig.protocol = std::string(value);
      } else if (key == "transport") {
        if (dup(seen_transport)) return line_error(name, line_no, "duplicate key 'transport'");
        if (value == "tcp") {
          sig.transports = kTcp;
        } else if (value == "udp") {
          sig.transports = kUdp;
        } else if (value == "any") {
          sig.transports = kBoth;
        } else {
          return line_error(name, line_no, cat("bad transport '", value, "' (tcp, udp or any)"));
        }
      } else if (key == "direction") {
        if (dup(seen_direction)) return line_error(name, line_no, "duplicate key 'direction'");
        if (value == "client") {
          sig.dirs = kFromClient;
        } else if (value == "server") {
          sig.dirs = kFromServer;
        } else if (value == "any") {
          sig.dirs = kFromEither;
        } else {
          return line_error(name, line_no, cat("bad direction '", value, "' (client, server or any)"));
        }
      } else if (key == "depth") {
        if (dup(seen_depth)) return line_error(name, line_no, "duplicate key 'depth'");
        if (!parse_uint(value, sig.depth) || sig.depth == 0 || sig.depth > 512) {
          return line_error(name, line_no, cat("bad depth '", value, "' (1-512)"));
        }
      } else if (key == "nocase") {
        if (dup(seen_nocase)) return line_error(name, line_no, "duplicate key 'nocase'");
        if (value == "yes") {
          sig.caseless = true;
        } else if (value != "no") {
          return line_error(name, line_no, cat("bad nocase '", value, "' (yes or no)"));
        }
      } else {
        return line_error(name, line_no, cat("unknown key '", key, "'"));
      }
    }
    if (!seen_protocol) return line_error(name, line_no, "missing protocol=");
    if (!seen_pattern) return line_error(name, line_no, "missing pattern= (it must come last)");
    // Compile alone once, so a rejected pattern names its own line.
    match::Pattern p;
    p.expression = sig.pattern;
    p.flags = HS_FLAG_DOTALL | HS_FLAG_SINGLEMATCH | (sig.caseless ? HS_FLAG_CASELESS : 0u);
    p.max_offset = sig.depth;
    match::CompileError err;
    auto db = match::compile({p}, match::Mode::kBlock, &err);
    if (!db.ok()) return line_error(name, line_no, cat("pattern rejected by Hyperscan: ", err.message));
    out.push_back(std::move(sig));
  }
  return out;
}

absl::StatusOr<std::vector<UserSignature>> load_signature_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError(cat("cannot open signature file ", path));
  std::string text(kMaxSignatureFileBytes + 1, '\0');
  f.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (f.bad()) return absl::InvalidArgumentError(cat("cannot read signature file ", path));
  text.resize(static_cast<size_t>(f.gcount()));
  if (text.size() > kMaxSignatureFileBytes) {
    return absl::InvalidArgumentError(cat(path, ": larger than ", kMaxSignatureFileBytes, " bytes"));
  }
  return parse_signatures(text, path);
}

}  // namespace flowscribe::dissect
