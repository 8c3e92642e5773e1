// Probes for line-oriented (text) protocols. Each checks the grammar of the first line(s),
// not just the literal Hyperscan saw; a line cut by the prefix or a packet boundary is at most
// Unsure.
#include <string_view>

#include "dissectors/classify/probe_util.h"
#include "dissectors/classify/probes.h"

namespace flowscribe::dissect::probes {
namespace {

using namespace probe_util;
constexpr Verdict kNo = Verdict::kNotMine;
constexpr Verdict kMaybe = Verdict::kUnsure;
constexpr Verdict kYes = Verdict::kCertain;

// A request line of `version` family: Certain when complete with that version, Unsure when
// cut short but consistent, NotMine otherwise. `methods` empty = any method token.
Verdict request_with_version(Bytes b, std::initializer_list<std::string_view> versions,
                             std::initializer_list<std::string_view> methods) {
  RequestLine r = request_line(b);
  if (!r.plausible) return kNo;
  if (methods.size() != 0 && !r.method.empty() && !in_list(r.method, methods)) return kNo;
  if (r.method.empty()) {
    // Only a method prefix so far.
    std::string_view m = b.str();
    for (std::string_view want : methods) {
      if (compatible(m, want)) return kMaybe;
    }
    return methods.size() == 0 ? kMaybe : kNo;
  }
  for (std::string_view v : versions) {
    if (r.complete && r.version == v) return kYes;
    if (!r.complete && compatible(r.version, v)) return kMaybe;
  }
  return kNo;
}

Verdict status_any(Bytes b, std::initializer_list<std::string_view> versions) {
  Verdict best_v = kNo;
  for (std::string_view v : versions) best_v = best(best_v, status_line(b, v));
  return best_v;
}

// Client request, else server status line; a non-matching complete request is NotMine even
// if the server looks right (it answered some other protocol).
Verdict request_response(const ProbeInput& in, std::initializer_list<std::string_view> versions,
                         std::initializer_list<std::string_view> methods) {
  Verdict c = in.cli.empty() ? kMaybe : request_with_version(in.cli, versions, methods);
  if (c == kYes || c == kNo) return c;
  Verdict s = in.srv.empty() ? kNo : status_any(in.srv, versions);
  if (s == kYes) return kYes;
  return in.cli.empty() ? kNo : c;
}

}  // namespace

// RFC 9112 §3 request line / §4 status line, HTTP/1.0 and 1.1.
namespace {
bool common_method(std::string_view m) {
  return in_list(m, {"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE",
                     "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT",
                     "SEARCH", "PURGE"});
}

// The client's first line, as far as it goes, could be something a server answers with an
// HTTP status line: text (a malformed request, a request cut mid-stream) or at least a line
// ending in an HTTP version. Binary handshakes of other protocols are not.
bool http_client_compatible(Bytes cli) {
  if (cli.empty()) return true;
  Line l = line_at(cli, 0);
  if (contains(l.text, " HTTP/1.")) return true;
  for (char ch : l.text) {
    const auto u = static_cast<uint8_t>(ch);
    if (u < 0x20 && ch != '\t') return false;
  }
  return true;
}
}  // namespace

Verdict http(const ProbeInput& in, AppProto) noexcept {
  // The server's status line (RFC 9112 §4) names HTTP whatever the client sent: servers answer
  // malformed, version-less and unknown-method requests with "HTTP/1.x 400/405/501".
  const Verdict s = in.srv.empty() ? kNo : status_any(in.srv, {"HTTP/1.1", "HTTP/1.0"});
  if (s == kYes && http_client_compatible(in.cli)) return kYes;
  if (in.cli.empty()) return kNo;
  const Verdict c = request_with_version(in.cli, {"HTTP/1.1", "HTTP/1.0"}, {});
  if (c == kYes) return kYes;
  RequestLine r = request_line(in.cli);
  const bool common = common_method(r.method);
  if (c == kMaybe) {
    // A cut line with a method outside the common set is only HTTP once "HTTP/1" shows.
    return common || r.version.size() >= 2 ? kMaybe : kNo;
  }
  // HTTP/0.9 Simple-Request "GET SP Request-URI CRLF" (RFC 1945 §4.1), and the same shape with
  // another common method: a complete line of two tokens whose target is a path or an
  // absolute http URI. Unsure: no version says so.
  Line l = line_at(in.cli, 0);
  if (l.complete && all_print(l.text) && common) {
    std::string_view rest = l.text.substr(r.method.size());
    if (rest.size() >= 2 && rest[0] == ' ') {
      std::string_view target = rest.substr(1);
      const bool path = target[0] == '/' || target.starts_with("http://") || target.starts_with("https://");
      if (path && target.find(' ') == std::string_view::npos) return kMaybe;
    }
  }
  return kNo;
}

// RFC 9113 §3.4: the prior-knowledge connection preface.
Verdict http2(const ProbeInput& in, AppProto) noexcept {
  constexpr std::string_view kPreface{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"};
  std::string_view s = in.cli.str();
  if (!compatible(s, kPreface)) return kNo;
  if (s.size() >= kPreface.size()) return kYes;
  return s.size() >= 8 ? kMaybe : kNo;
}

// RFC 2326 §6 / RFC 7826 §8.
Verdict rtsp(const ProbeInput& in, AppProto) noexcept {
  return request_response(in, {"RTSP/1.0", "RTSP/2.0"},
                          {"OPTIONS", "DESCRIBE", "SETUP", "PLAY", "PAUSE", "TEARDOWN",
                           "ANNOUNCE", "RECORD", "GET_PARAMETER", "SET_PARAMETER", "REDIRECT",
                           "PLAY_NOTIFY"});
}

// RFC 3261 §7.1: Method SP Request-URI SP SIP-Version; the URI scheme is sip/sips/tel.
Verdict sip(const ProbeInput& in, AppProto) noexcept {
  if (!in.cli.empty()) {
    RequestLine r = request_line(in.cli);
    if (r.plausible && !r.target.empty() && !r.method.empty()) {
      std::string_view t = r.target;
      const bool scheme = compatible(t, "sip:") || compatible(t, "sips:") || compatible(t, "tel:");
      if (!scheme) return kNo;
    }
  }
  return request_response(in, {"SIP/2.0"},
                          {"INVITE", "REGISTER", "OPTIONS", "ACK", "BYE", "CANCEL", "SUBSCRIBE",
                           "NOTIFY", "PUBLISH", "INFO", "PRACK", "UPDATE", "MESSAGE", "REFER"});
}

// UPnP Device Architecture §1.3: HTTPU over UDP, "M-SEARCH * HTTP/1.1" and "NOTIFY *
// HTTP/1.1"; a search response is an HTTP status line with ST/USN headers.
Verdict ssdp(const ProbeInput& in, AppProto) noexcept {
  RequestLine r = request_line(in.cli);
  if (r.plausible && (r.method.empty() || r.method == "M-SEARCH" || r.method == "NOTIFY")) {
    if (!r.target.empty() && r.target != "*") return kNo;
    Verdict v = request_with_version(in.cli, {"HTTP/1.1"}, {"M-SEARCH", "NOTIFY"});
    if (v != kNo) return v;
  }
  // A unicast answer seen first (the search went out on another flow).
  if (status_line(in.cli, "HTTP/1.1") == kYes) {
    std::string_view s = in.cli.str();
    return contains(s, "\nUSN:") || contains(s, "\nST:") || contains(s, "\nusn:") ? kYes : kMaybe;
  }
  return kNo;
}

// RFC 4253 §4.2: "SSH-protoversion-softwareversion SP comments CR LF", at most 255 bytes;
// a server may send other lines first.
namespace {
Verdict ssh_side(Bytes b, bool server) {
  uint32_t off = 0;
  for (int i = 0; i < (server ? 8 : 1) && off < b.n; ++i) {
    Line l = line_at(b, off);
    if (compatible(l.text, "SSH-")) {
      if (l.text.size() < 4) return l.complete ? kNo : kMaybe;
      if (l.text.size() > 253 || !all_print(l.text)) return kNo;
      std::string_view s = l.text.substr(4);
      const size_t dash = s.find('-');
      if (dash == std::string_view::npos) {
        return !l.complete && (compatible(s, "2.0") || compatible(s, "1.99") || compatible(s, "1.5"))
                   ? kMaybe
                   : kNo;
      }
      std::string_view proto = s.substr(0, dash);
      if (proto != "2.0" && proto != "1.99" && proto != "1.5" && proto != "1.3") return kNo;
      std::string_view software = s.substr(dash + 1);
      software = software.substr(0, software.find(' '));
      if (software.empty()) return l.complete ? kNo : kMaybe;
      return l.complete ? kYes : kMaybe;
    }
    if (!server || !l.complete || !all_print(l.text)) return kNo;
    off = l.next;
  }
  return kNo;
}
}  // namespace

Verdict ssh(const ProbeInput& in, AppProto) noexcept {
  return best(ssh_side(in.cli, false), ssh_side(in.srv, true));
}

// RFC 6143 §7.1.1: "RFB xxx.yyy\n", 12 bytes, sent by the server and echoed by the client.
namespace {
Verdict rfb_side(Bytes b) {
  constexpr std::string_view kShape{"RFB 000.000\n"};
  std::string_view s = b.str().substr(0, 12);
  if (s.empty()) return kNo;
  for (size_t i = 0; i < s.size(); ++i) {
    if (kShape[i] == '0' ? !is_digit(s[i]) : s[i] != kShape[i]) return kNo;
  }
  return s.size() == 12 ? kYes : (s.size() >= 4 ? kMaybe : kNo);
}
}  // namespace

Verdict vnc(const ProbeInput& in, AppProto) noexcept {
  return best(rfb_side(in.srv), rfb_side(in.cli));
}

// RFC 854/855: a run of IAC (255) commands; option codes from the IANA registry (0-49,
// 138-140, 255). Two well-formed commands in one direction are Certain.
namespace {
Verdict telnet_side(Bytes b) {
  uint32_t i = 0, commands = 0;
  bool cut = false;
  while (i < b.n && b[i] == 0xff && commands < 16) {
    if (i + 1 >= b.n) {
      cut = true;
      break;
    }
    const uint8_t cmd = b[i + 1];
    if (cmd >= 0xfb && cmd <= 0xfe) {  // WILL WONT DO DONT <option>
      if (i + 2 >= b.n) {
        cut = true;
        break;
      }
      const uint8_t opt = b[i + 2];
      if (!(opt <= 49 || (opt >= 138 && opt <= 140) || opt == 255)) return kNo;
      i += 3;
    } else if (cmd == 0xfa) {  // SB <option> ... IAC SE
      if (i + 2 >= b.n) {
        cut = true;
        break;
      }
      const uint8_t opt = b[i + 2];
      if (!(opt <= 49 || (opt >= 138 && opt <= 140))) return kNo;
      uint32_t j = i + 3;
      while (j + 1 < b.n && j < i + 128 && !(b[j] == 0xff && b[j + 1] == 0xf0)) ++j;
      if (j + 1 >= b.n) {
        cut = true;
        break;
      }
      if (j >= i + 128) return kNo;
      i = j + 2;
    } else if (cmd >= 0xf1 && cmd <= 0xf9) {  // NOP DM BRK IP AO AYT EC EL GA
      i += 2;
    } else {
      return kNo;
    }
    ++commands;
  }
  if (commands >= 2) return kYes;
  if (commands == 0) return cut ? kMaybe : kNo;
  if (cut || i >= b.n) return kMaybe;
  // One command then data: only text (a prompt) keeps it plausible.
  for (uint32_t k = i; k < b.n && k < i + 8; ++k) {
    if (!is_print(b[k]) && b[k] != '\r' && b[k] != '\n') return kNo;
  }
  return kMaybe;
}
}  // namespace

Verdict telnet(const ProbeInput& in, AppProto) noexcept {
  Verdict s = telnet_side(in.srv), c = telnet_side(in.cli);
  if (s == kMaybe && c == kMaybe && !in.cli.empty() && !in.srv.empty()) return kYes;
  return best(s, c);
}

// The server-first text protocols that open with a greeting: FTP (RFC 959 §4.2), SMTP (RFC
// 5321 §4.2 / §3.1), POP3 (RFC 1939 §4) and IMAP (RFC 9051 §7.1). The greeting alone is
// Unsure (FTP and SMTP share "220"); the client's first command makes it Certain. The
// greeting is the server's first line even when the client spoke first (SMTP pipelining, a
// slow server); a flow picked up midstream has a command answered by a numbered reply; and a
// flow whose server side was not captured is named by a run of commands only one protocol has.
namespace {
enum class Cmd : uint8_t { kNone, kFtp, kSmtp, kPop3, kImap, kFtpOrPop3, kCommon, kOther };

// Commands are case-insensitive (RFC 959 §5.3, RFC 5321 §2.4, RFC 1939 §3).
Cmd command_of(std::string_view line) {
  if (!all_print(line)) return Cmd::kOther;
  std::string_view s = line;
  std::string_view verb = take_word(s);
  // USER, PASS, AUTH, LIST, RETR, STAT are FTP or POP3 (SMTP clients say EHLO before AUTH),
  // QUIT and NOOP anything: the greeting decides.
  if (in_list(verb, {"USER", "PASS", "AUTH", "LIST", "RETR", "STAT"})) return Cmd::kFtpOrPop3;
  if (in_list(verb, {"QUIT", "NOOP"})) return Cmd::kCommon;
  if (in_list(verb, {"FEAT", "SYST", "OPTS", "ACCT", "PWD", "XPWD", "TYPE", "PORT",
                     "PASV", "EPSV", "EPRT", "NLST", "STOR", "CWD", "CDUP", "SITE",
                     "HOST", "CLNT", "MODE", "STRU", "PBSZ", "PROT", "MLSD", "MLST", "SIZE",
                     "MDTM", "REST", "APPE", "MKD", "RMD", "RNFR", "RNTO", "ABOR"})) {
    return Cmd::kFtp;
  }
  if (in_list(verb, {"EHLO", "HELO", "LHLO", "MAIL", "RCPT", "DATA", "STARTTLS", "BDAT", "VRFY",
                     "EXPN", "XCLIENT"})) {
    return Cmd::kSmtp;
  }
  if (in_list(verb, {"CAPA", "STLS", "APOP", "UIDL", "TOP", "DELE", "RSET"})) return Cmd::kPop3;
  // IMAP: tag SP command.
  s = line;
  std::string_view tag = take_word(s);
  std::string_view cmd = take_word(s);
  bool tag_ok = !tag.empty() && tag.size() <= 20;
  for (char c : tag) tag_ok = tag_ok && (is_alpha(c) || is_digit(c) || c == '.');
  if (tag_ok && in_list(cmd, {"CAPABILITY", "LOGIN", "STARTTLS", "AUTHENTICATE", "ID", "NOOP",
                              "LOGOUT", "SELECT", "EXAMINE", "LIST", "LSUB", "STATUS", "ENABLE"})) {
    return Cmd::kImap;
  }
  return Cmd::kOther;
}

Cmd client_command(Bytes b) {
  Line l = line_at(b, 0);
  return l.complete ? command_of(l.text) : Cmd::kNone;
}

// The client's complete lines (at most 8): how many, how many only `want` has, and whether
// every one is a command `want` may send.
struct Run {
  int lines = 0, own = 0;
  bool all_fit = true;
};
Run command_run(Bytes b, Cmd want) {
  Run run;
  uint32_t off = 0;
  for (int i = 0; i < 8 && off < b.n; ++i) {
    Line l = line_at(b, off);
    if (!l.complete) break;
    const Cmd c = command_of(l.text);
    ++run.lines;
    if (c == want) {
      ++run.own;
    } else if (!(c == Cmd::kCommon || (want == Cmd::kFtp && c == Cmd::kFtpOrPop3))) {
      // SMTP: after DATA the message itself follows; stop at the first non-command.
      if (want == Cmd::kSmtp && run.own >= 2) break;
      run.all_fit = false;
      break;
    }
    off = l.next;
  }
  return run;
}

// The server's first line, by protocol.
struct Greeting {
  bool reply220 = false;  // "220 " / "220-" (FTP, SMTP)
  bool reply = false;     // any other numbered reply "[1-5]dd " / "[1-5]dd-" (FTP, SMTP)
  bool pop3 = false;      // "+OK"
  bool imap = false;      // "* OK" / "* PREAUTH" / "* BYE"
  bool says_smtp = false, says_ftp = false, says_imap4 = false;
};

Greeting greeting(const ProbeInput& in) {
  Greeting g;
  Line l = line_at(in.srv, 0);
  if (!l.complete || !all_print(l.text)) return g;
  std::string_view s = l.text;
  const bool numbered = s.size() >= 4 && s[0] >= '1' && s[0] <= '5' && is_digit(s[1]) && is_digit(s[2]) &&
                        (s[3] == ' ' || s[3] == '-');
  g.reply220 = numbered && s.substr(0, 3) == "220";
  g.reply = numbered && !g.reply220;
  g.pop3 = s.substr(0, 3) == "+OK" && (s.size() == 3 || s[3] == ' ');
  g.imap = s.starts_with("* OK") || s.starts_with("* PREAUTH") || s.starts_with("* BYE");
  if (g.imap && s.size() > 4 && s.starts_with("* OK") && s[4] != ' ') g.imap = false;
  g.says_smtp = contains(s, "SMTP");
  g.says_ftp = contains(s, "FTP");
  g.says_imap4 = contains(s, "IMAP4");
  return g;
}

// The server's greeting and the client's first command, once per input for the four
// protocols of the family.
constexpr char kMailMemo = 0;  // the memo's owner tag
struct MailView {
  Greeting g;
  Cmd c;
};
const MailView& mail_view(const ProbeInput& in) {
  if (const MailView* m = in.memo<MailView>(&kMailMemo)) return *m;
  return in.memo_store(&kMailMemo, MailView{greeting(in), client_command(in.cli)});
}
}  // namespace

Verdict mail(const ProbeInput& in, AppProto self) noexcept {
  const MailView& view = mail_view(in);
  const Greeting& g = view.g;
  const Cmd c = view.c;
  switch (self) {
    case AppProto::kFtp:
      if (g.reply220) {
        if (c == Cmd::kFtp || c == Cmd::kFtpOrPop3) return kYes;
        if (c == Cmd::kSmtp || c == Cmd::kPop3 || c == Cmd::kImap) return kNo;
        if (g.says_smtp && !g.says_ftp) return kNo;
        return kMaybe;
      }
      // Midstream: a command only FTP has, answered by a numbered reply (RFC 959 §4.2).
      if (g.reply && !in.server_spoke_first) return c == Cmd::kFtp ? kYes : c == Cmd::kFtpOrPop3 ? kMaybe : kNo;
      if (!in.srv.empty()) return kNo;
      if (c == Cmd::kFtp || c == Cmd::kFtpOrPop3) {
        // No server bytes: a run of FTP commands, one of them FTP's own (USER, PASS, SYST).
        const Run r = command_run(in.cli, Cmd::kFtp);
        if (r.all_fit && r.lines >= 2 && r.own >= 1) return kYes;
        return c == Cmd::kFtp ? kMaybe : kNo;
      }
      return kNo;
    case AppProto::kSmtp:
      if (g.reply220) {
        if (c == Cmd::kSmtp) return kYes;
        if (c == Cmd::kFtp || c == Cmd::kPop3 || c == Cmd::kImap || c == Cmd::kFtpOrPop3) return kNo;
        if (g.says_ftp && !g.says_smtp) return kNo;
        return kMaybe;
      }
      if (g.reply && !in.server_spoke_first) return c == Cmd::kSmtp ? kYes : kNo;
      if (!in.srv.empty() || c != Cmd::kSmtp) return kNo;
      {
        // No server bytes: EHLO then MAIL FROM (RFC 5321 §3.3), or more SMTP commands.
        const Run r = command_run(in.cli, Cmd::kSmtp);
        return r.own >= 2 && r.all_fit ? kYes : kMaybe;
      }
    case AppProto::kPop3:
      if (!g.pop3) return kNo;
      if (c == Cmd::kPop3 || c == Cmd::kFtpOrPop3 || c == Cmd::kCommon) return kYes;
      return c == Cmd::kNone ? kMaybe : kNo;
    case AppProto::kImap:
      if (!g.imap) return c == Cmd::kImap && in.srv.empty() ? kMaybe : kNo;
      if (c == Cmd::kImap || g.says_imap4) return kYes;
      return c == Cmd::kNone ? kMaybe : kNo;
    default:
      return kNo;
  }
}

// RFC 2812 §3.1 registration (NICK + USER, or IRCv3 CAP LS) and server lines
// ":prefix NOTICE|ddd ...".
Verdict irc(const ProbeInput& in, AppProto) noexcept {
  bool nick = false, user = false, cap = false, other = false;
  uint32_t off = 0;
  for (int i = 0; i < 4 && off < in.cli.n; ++i) {
    Line l = line_at(in.cli, off);
    if (!l.complete) break;
    if (!all_print(l.text)) return kNo;
    std::string_view s = l.text;
    std::string_view verb = take_word(s);
    if (verb == "NICK" && !s.empty()) {
      nick = true;
    } else if (verb == "USER" && contains(s, " :")) {
      user = true;
    } else if (verb == "CAP" && (s.starts_with("LS") || s.starts_with("REQ"))) {
      cap = true;
    } else if (verb != "PASS") {
      other = true;
      break;
    }
    off = l.next;
  }
  if (other && !(nick || user || cap)) return kNo;
  Verdict c = (nick && user) || cap ? kYes : (nick || user) ? kMaybe : kNo;
  Verdict s = kNo;
  Line sl = line_at(in.srv, 0);
  if (sl.complete && all_print(sl.text)) {
    std::string_view t = sl.text;
    if (t.starts_with("NOTICE ")) {
      s = kMaybe;
    } else if (t.starts_with(":")) {
      take_word(t);
      std::string_view w = take_word(t);
      if (w == "NOTICE" || w == "CAP" || (w.size() == 3 && all_digits(w))) s = kMaybe;
    }
  }
  if (c == kMaybe && s == kMaybe) return kYes;
  return best(c, s);
}

// RFC 6120 §4.2: an optional XML declaration, then <stream:stream ...> with the jabber
// namespaces.
namespace {
Verdict xmpp_side(Bytes b) {
  std::string_view s = b.str();
  if (s.starts_with("<?xml")) {
    size_t end = s.find("?>");
    if (end == std::string_view::npos) return s.size() < 200 ? kMaybe : kNo;
    s = s.substr(end + 2);
  } else if (compatible(s, "<?xml")) {
    return s.size() >= 2 ? kMaybe : kNo;
  }
  while (!s.empty() && (s[0] == ' ' || s[0] == '\n' || s[0] == '\r' || s[0] == '\t')) s.remove_prefix(1);
  if (!compatible(s, "<stream:stream")) return kNo;
  if (s.size() < 14) return kMaybe;
  if (contains(s, "jabber:client") || contains(s, "jabber:server") ||
      contains(s, "http://etherx.jabber.org/streams")) {
    return kYes;
  }
  return kMaybe;
}
}  // namespace

Verdict xmpp(const ProbeInput& in, AppProto) noexcept {
  return best(xmpp_side(in.cli), xmpp_side(in.srv));
}

// RFC 5424 §6 / RFC 3164 §4.1: "<PRI>" (0-191, no leading zeros), then "1 " + timestamp or a
// BSD "Mmm dd hh:mm:ss" timestamp. Over TCP, RFC 6587 octet counting may come first.
namespace {
Verdict syslog_message(std::string_view s) {
  if (s.empty() || s[0] != '<') return kNo;
  size_t i = 1;
  uint32_t pri = 0;
  while (i < s.size() && i < 5 && is_digit(s[i])) pri = pri * 10 + static_cast<uint32_t>(s[i++] - '0');
  const size_t digits = i - 1;
  if (digits > 3 || (digits > 1 && s[1] == '0')) return kNo;
  if (i == s.size()) return kMaybe;  // cut inside the PRI
  if (digits == 0 || s[i] != '>' || pri > 191) return kNo;
  std::string_view rest = s.substr(i + 1);
  if (rest.size() < 2) return kMaybe;
  if (rest.starts_with("1 ")) {
    std::string_view ts = rest.substr(2);
    if (ts.empty()) return kMaybe;
    if (ts[0] == '-' && (ts.size() == 1 || ts[1] == ' ')) return kYes;
    if (ts.size() < 11) return all_digits(ts.substr(0, ts.size() < 4 ? ts.size() : 4)) ? kMaybe : kNo;
    return all_digits(ts.substr(0, 4)) && ts[4] == '-' && ts[7] == '-' && ts[10] == 'T' ? kYes : kNo;
  }
  static constexpr std::string_view kMonths[] = {"Jan ", "Feb ", "Mar ", "Apr ", "May ", "Jun ",
                                                 "Jul ", "Aug ", "Sep ", "Oct ", "Nov ", "Dec "};
  for (std::string_view m : kMonths) {
    if (!compatible(rest, m)) continue;
    if (rest.size() < 15) return kMaybe;
    std::string_view t = rest.substr(4);  // "dd hh:mm:ss"
    const bool day = (t[0] == ' ' || is_digit(t[0])) && is_digit(t[1]) && t[2] == ' ';
    const bool time = is_digit(t[3]) && is_digit(t[4]) && t[5] == ':' && is_digit(t[6]) &&
                      is_digit(t[7]) && t[8] == ':' && is_digit(t[9]) && is_digit(t[10]);
    return day && time ? kYes : kNo;
  }
  std::string_view head = rest.substr(0, rest.size() < 48 ? rest.size() : 48);
  return all_print(head) ? kMaybe : kNo;
}
}  // namespace

Verdict syslog(const ProbeInput& in, AppProto) noexcept {
  std::string_view s = in.cli.str();
  if (in.tcp() && !s.empty() && is_digit(s[0])) {
    size_t i = 0;
    uint32_t count = 0;
    while (i < s.size() && i < 6 && is_digit(s[i])) count = count * 10 + static_cast<uint32_t>(s[i++] - '0');
    if (i >= s.size()) return kNo;  // digits only: too little to tell
    if (s[i] != ' ' || count == 0 || s[0] == '0') return kNo;
    s = s.substr(i + 1);
  }
  return syslog_message(s);
}

// RESP (redis.io/docs/reference/protocol-spec): a command is an array of bulk strings:
// "*<n>\r\n$<len>\r\n<name>\r\n".
Verdict redis(const ProbeInput& in, AppProto) noexcept {
  std::string_view s = in.cli.str();
  if (s == "PING\r\n" && in.srv.str().starts_with("+PONG\r\n")) return kYes;
  if (s.empty() || s[0] != '*') return kNo;
  Line l1 = line_at(in.cli, 0);
  if (!l1.complete) return l1.text.size() <= 8 && (l1.text.size() == 1 || all_digits(l1.text.substr(1))) ? kMaybe : kNo;
  std::string_view count = l1.text.substr(1);
  if (!all_digits(count) || count.size() > 7 || count[0] == '0') return kNo;
  Line l2 = line_at(in.cli, l1.next);
  if (l2.text.empty()) return l2.complete ? kNo : kMaybe;
  if (l2.text[0] != '$') return kNo;
  std::string_view len_s = l2.text.substr(1);
  if (!l2.complete) return len_s.empty() || (all_digits(len_s) && len_s.size() <= 5) ? kMaybe : kNo;
  if (!all_digits(len_s) || len_s.size() > 5) return kNo;
  uint32_t len = 0;
  for (char c : len_s) len = len * 10 + static_cast<uint32_t>(c - '0');
  if (len == 0 || len > 64) return kNo;
  std::string_view name = in.cli.str().substr(l2.next);
  if (name.size() < len + 2) {
    for (char c : name.substr(0, len)) {
      if (!is_alpha(c) && c != '_' && c != '-' && c != '.' && c != '|') return kNo;
    }
    return kMaybe;
  }
  for (char c : name.substr(0, len)) {
    if (!is_alpha(c) && c != '_' && c != '-' && c != '.' && c != '|') return kNo;
  }
  return name.substr(len, 2) == "\r\n" ? kYes : kNo;
}

// memcached protocol.txt (text) and the binary protocol (magic 0x80/0x81); over UDP an 8-byte
// frame header comes first (request id, sequence 0, datagram count, reserved 0).
namespace {
bool memcached_key(std::string_view k) {
  if (k.empty() || k.size() > 250) return false;
  for (char c : k) {
    if (static_cast<uint8_t>(c) <= 0x20 || static_cast<uint8_t>(c) == 0x7f) return false;
  }
  return true;
}

Verdict memcached_text_request(Bytes b) {
  Line l = line_at(b, 0);
  if (!all_print(l.text)) return kNo;
  std::string_view s = l.text;
  std::string_view verb = take_word(s);
  if (!l.complete && s.empty()) {
    // Only a verb prefix so far.
    for (std::string_view v : {"get", "gets", "set", "add", "stats", "version", "delete"}) {
      if (compatible(verb, v) && !verb.empty()) return kMaybe;
    }
    return kNo;
  }
  if (verb == "set" || verb == "add" || verb == "replace" || verb == "append" ||
      verb == "prepend" || verb == "cas") {
    std::string_view key = take_word(s), flags = take_word(s), exptime = take_word(s),
                     bytes = take_word(s);
    if (!memcached_key(key)) return kNo;
    if (!l.complete && bytes.empty()) return kMaybe;
    const bool exp_ok = all_digits(exptime) || (exptime.size() > 1 && exptime[0] == '-' && all_digits(exptime.substr(1)));
    if (!all_digits(flags) || !exp_ok || !all_digits(bytes) || bytes.size() > 7) return kNo;
    if (!l.complete) return kMaybe;
    uint32_t n = 0;
    for (char c : bytes) n = n * 10 + static_cast<uint32_t>(c - '0');
    std::string_view data = b.str().substr(l.next);
    if (data.size() < n + 2) return kMaybe;
    return data.substr(n, 2) == "\r\n" ? kYes : kNo;
  }
  if (verb == "get" || verb == "gets" || verb == "delete" || verb == "touch" || verb == "incr" ||
      verb == "decr" || verb == "mg" || verb == "ms" || verb == "md" || verb == "ma") {
    return memcached_key(take_word(s)) ? kMaybe : kNo;
  }
  if (verb == "gat" || verb == "gats") {
    return all_digits(take_word(s)) && memcached_key(take_word(s)) ? kMaybe : kNo;
  }
  if (l.complete && (verb == "stats" || verb == "version" || verb == "flush_all" ||
                     verb == "verbosity" || verb == "mn" || verb == "quit")) {
    return kMaybe;
  }
  return kNo;
}

bool memcached_text_reply(Bytes b) {
  Line l = line_at(b, 0);
  if (!l.complete || !all_print(l.text)) return false;
  std::string_view s = l.text;
  std::string_view w = take_word(s);
  if (w == "VALUE") {
    std::string_view key = take_word(s), flags = take_word(s), bytes = take_word(s);
    return memcached_key(key) && all_digits(flags) && all_digits(bytes);
  }
  if (w == "VERSION" || w == "STAT") return !s.empty();
  return l.text == "END" || l.text == "STORED" || l.text == "NOT_STORED" || l.text == "EXISTS" ||
         l.text == "NOT_FOUND" || l.text == "DELETED" || l.text == "TOUCHED" || w == "HD" ||
         w == "VA" || l.text == "EN" || l.text == "NF" || l.text == "NS" || l.text == "EX" ||
         l.text == "MN";
}

// Binary protocol header (24 bytes): magic, opcode, key length, extras length, data type
// (0), vbucket/status, total body, opaque, cas.
Verdict memcached_binary(Bytes c, Bytes s) {
  Reader r(c);
  const uint8_t magic = r.u8(), op = r.u8();
  const uint16_t key_len = r.be16();
  const uint8_t extras = r.u8(), type = r.u8();
  r.be16();
  const uint32_t body = r.be32(), opaque = r.be32();
  if (magic != 0x80) return kNo;
  if (!r.ok() || op > 0x48) return kNo;
  if (type != 0 || key_len > 250 || extras > 64 || body < uint32_t{key_len} + extras || body > (1u << 20)) {
    return kNo;
  }
  Reader q(s);
  const uint8_t smagic = q.u8(), sop = q.u8();
  q.skip(10);
  const uint32_t sopaque = q.be32();
  if (q.ok() && smagic == 0x81 && sop == op && sopaque == opaque) return kYes;
  return kMaybe;
}
}  // namespace

Verdict memcached(const ProbeInput& in, AppProto) noexcept {
  Bytes c = in.cli, s = in.srv;
  if (in.udp()) {
    // Frame header: request id, sequence number 0, total datagrams >= 1, reserved 0.
    if (c.n < 8 || be16_at(c, 2) != 0 || be16_at(c, 4) == 0 || be16_at(c, 6) != 0) return kNo;
    c = c.from(8);
    if (s.n >= 8) s = s.from(8);
  }
  if (c.empty()) return kNo;
  if (c[0] == 0x80) return memcached_binary(c, s);
  Verdict v = memcached_text_request(c);
  if (v == kMaybe && memcached_text_reply(s)) return kYes;
  return v;
}

// rsync daemon protocol (rsyncd.conf(5), clientserver.c): both sides open with
// "@RSYNCD: <major>[.<minor>]\n".
Verdict rsync(const ProbeInput& in, AppProto) noexcept {
  auto side = [](Bytes b) {
    Line l = line_at(b, 0);
    std::string_view s = l.text;
    if (!compatible(s, "@RSYNCD: ")) return kNo;
    if (s.size() < 9) return l.complete ? kNo : kMaybe;
    std::string_view v = s.substr(9);
    std::string_view major = v.substr(0, v.find('.'));
    if (!l.complete) return v.empty() || all_digits(major) ? kMaybe : kNo;
    return all_digits(major) && all_print(v) ? kYes : kNo;
  };
  return best(side(in.cli), side(in.srv));
}

// git protocol (gitprotocol-pack(5)): a pkt-line "<4 hex length>git-upload-pack <path>\0...".
Verdict git(const ProbeInput& in, AppProto) noexcept {
  std::string_view s = in.cli.str();
  if (s.size() < 4) return kNo;
  uint32_t len = 0;
  for (char c : s.substr(0, 4)) {
    int d = is_digit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (d < 0) return kNo;
    len = len * 16 + static_cast<uint32_t>(d);
  }
  std::string_view rest = s.substr(4);
  for (std::string_view cmd : {"git-upload-pack ", "git-receive-pack ", "git-upload-archive "}) {
    if (!compatible(rest, cmd)) continue;
    if (len < 4 + cmd.size() + 1) return kNo;
    return rest.size() >= cmd.size() ? kYes : kMaybe;
  }
  return kNo;
}


// ---- Checks of the other side's first message (ProtoInfo::verify) ---------------------------
// Each says kViolation only when no valid first message of that side starts with these bytes;
// anything a real peer may send first (a refusal, an error, a pre-banner text) passes.

namespace {
constexpr Check kNeed = Check::kNeedMore;
constexpr Check kOk = Check::kOk;
constexpr Check kBad = Check::kViolation;

Bytes side_of(const ProbeInput& in, bool server) { return server ? in.srv : in.cli; }

// Leading CR/LF (keepalives, a stray line end) skipped.
Bytes skip_crlf(Bytes b) {
  uint32_t i = 0;
  while (i < b.n && (b[i] == '\r' || b[i] == '\n')) ++i;
  return b.from(i);
}

// The bytes agree with `lit` as far as both go: kOk once all of `lit` is there.
Check literal(Bytes b, std::string_view lit) {
  if (!compatible(b.str(), lit)) return kBad;
  return b.n >= lit.size() ? kOk : kNeed;
}

// A text request line "METHOD SP target SP <version>..." (RTSP, SIP): kOk when the complete
// first line ends in one of `versions`.
Check request_line_with(Bytes b, std::initializer_list<std::string_view> versions) {
  if (b.empty()) return kNeed;
  if (!is_upper(static_cast<char>(b[0]))) return kBad;
  const Line l = line_at(b, 0);
  if (!l.complete) return kNeed;
  for (std::string_view v : versions) {
    if (l.text.size() > v.size() && l.text.ends_with(v) && l.text[l.text.size() - v.size() - 1] == ' ') return kOk;
  }
  return kBad;
}
}  // namespace

// RFC 4253 §4.2: the client's first line is its identification string; the server may send
// other lines of text (UTF-8, no control bytes) before its own.
Check verify_ssh(const ProbeInput& in, bool server, AppProto) noexcept {
  const Bytes b = side_of(in, server);
  uint32_t off = 0;
  for (int i = 0; i < 16 && off < b.n; ++i) {
    const Line l = line_at(b, off);
    if (l.text.size() >= 4 && l.text.starts_with("SSH-")) return kOk;
    if (!l.complete && compatible(l.text, "SSH-")) return kNeed;
    if (!server) return kBad;
    for (char ch : l.text) {
      const auto u = static_cast<uint8_t>(ch);
      if ((u < 0x20 && ch != '\t') || u == 0x7f) return kBad;
    }
    if (!l.complete) return kNeed;
    off = l.next;
  }
  return kNeed;
}

// RFC 6143 §7.1.1: each side's first message is the 12-byte "RFB xxx.yyy\n".
Check verify_vnc(const ProbeInput& in, bool server, AppProto) noexcept {
  constexpr std::string_view kShape{"RFB 000.000\n"};
  const Bytes b = side_of(in, server);
  const uint32_t n = b.n < 12 ? b.n : 12;
  for (uint32_t i = 0; i < n; ++i) {
    if (kShape[i] == '0' ? !is_digit(static_cast<char>(b[i])) : b[i] != static_cast<uint8_t>(kShape[i])) return kBad;
  }
  return n == 12 ? kOk : kNeed;
}

// FTP (RFC 959 §4.2) and SMTP (RFC 5321 §4.2): the server's first line is a numbered reply
// "ddd", "ddd SP text" or "ddd-text"; POP3 (RFC 1939 §3) "+OK"/"-ERR"; IMAP (RFC 9051 §7.1) an
// untagged "* " greeting. A client's first line is a command (a verb, or an IMAP tag).
Check verify_mail(const ProbeInput& in, bool server, AppProto self) noexcept {
  const Bytes b = side_of(in, server);
  if (!server) {
    const Bytes t = skip_crlf(b);
    if (t.empty()) return kNeed;
    const char ch = static_cast<char>(t[0]);
    if (self != AppProto::kImap) return is_alpha(ch) ? kOk : kBad;
    // RFC 9051 §9: tag = 1*<any ASTRING-CHAR except "+">: no CTL, SP, "(", ")", "{", "%", "*",
    // '"' or "\" (a tag of "." is fine).
    return t[0] > 0x20 && t[0] < 0x7f && std::string_view{"(){%*\"\\+"}.find(ch) == std::string_view::npos ? kOk : kBad;
  }
  switch (self) {
    case AppProto::kFtp:
    case AppProto::kSmtp: {
      const Line l = line_at(b, 0);
      const std::string_view s = l.text;
      const size_t k = s.size() < 3 ? s.size() : 3;
      for (size_t i = 0; i < k; ++i) {
        if (!is_digit(s[i]) || (i == 0 && (s[0] < '1' || s[0] > '5'))) return kBad;
      }
      if (s.size() > 3) return s[3] == ' ' || s[3] == '-' ? kOk : kBad;
      if (l.complete) return s.size() == 3 ? kOk : kBad;
      return kNeed;
    }
    case AppProto::kPop3: {
      const std::string_view s = b.str();
      if (compatible(s, "+OK")) return s.size() >= 3 ? kOk : kNeed;
      return literal(b, "-ERR");
    }
    case AppProto::kImap:
      return literal(b, "* ");
    default:
      return kOk;
  }
}

// RFC 2812 §2.3.1: a message is [":" prefix SP] command, the command letters or 3 digits.
Check verify_irc(const ProbeInput& in, bool server, AppProto) noexcept {
  const Bytes b = skip_crlf(side_of(in, server));
  if (b.empty()) return kNeed;
  const char ch = static_cast<char>(b[0]);
  return ch == ':' || is_alpha(ch) || is_digit(ch) ? kOk : kBad;
}

// RFC 6120 §4.2 / XML 1.0 §2.8: either side opens with an XML declaration or a stream header,
// after an optional byte-order mark and white space: the first character is '<'.
Check verify_xmpp(const ProbeInput& in, bool server, AppProto) noexcept {
  Bytes b = side_of(in, server);
  if (!b.empty() && b[0] == 0xef) {
    if (!compatible(b.str(), "\xef\xbb\xbf")) return kBad;
    if (b.n < 3) return kNeed;
    b = b.from(3);
  }
  uint32_t i = 0;
  while (i < b.n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n')) ++i;
  if (i == b.n) return kNeed;
  return b[i] == '<' ? kOk : kBad;
}

// RESP (redis.io/docs/reference/protocol-spec): every reply opens with its type byte (RESP2
// and RESP3); a client sends an array or an inline command.
Check verify_redis(const ProbeInput& in, bool server, AppProto) noexcept {
  const Bytes b = side_of(in, server);
  if (b.empty()) return kNeed;
  const char ch = static_cast<char>(b[0]);
  if (server) return std::string_view{"+-:$*_,#!=(%~>|"}.find(ch) != std::string_view::npos ? kOk : kBad;
  return ch == '*' || is_alpha(ch) ? kOk : kBad;
}

// memcached protocol.txt: replies are upper-case words (VALUE, END, STORED, ERROR, STAT, HD,
// ...), commands lower-case; the binary protocol's magic is 0x81 (response) / 0x80 (request).
// UDP frames carry an 8-byte header first.
Check verify_memcached(const ProbeInput& in, bool server, AppProto) noexcept {
  Bytes b = side_of(in, server);
  if (in.udp()) {
    if (b.n < 8) return kBad;
    b = b.from(8);
  }
  if (b.empty()) return in.udp() ? kBad : kNeed;
  const char ch = static_cast<char>(b[0]);
  if (server) return b[0] == 0x81 || is_upper(ch) ? kOk : kBad;
  return b[0] == 0x80 || (ch >= 'a' && ch <= 'z') ? kOk : kBad;
}

// rsync daemon protocol: both sides open with "@RSYNCD: ".
Check verify_rsync(const ProbeInput& in, bool server, AppProto) noexcept {
  return literal(side_of(in, server), "@RSYNCD: ");
}

// gitprotocol-common(5): everything is pkt-lines, each opening with 4 hex digits.
Check verify_git(const ProbeInput& in, bool server, AppProto) noexcept {
  const Bytes b = side_of(in, server);
  const uint32_t n = b.n < 4 ? b.n : 4;
  for (uint32_t i = 0; i < n; ++i) {
    const char ch = static_cast<char>(b[i]);
    if (!is_digit(ch) && !(ch >= 'a' && ch <= 'f') && !(ch >= 'A' && ch <= 'F')) return kBad;
  }
  return n == 4 ? kOk : kNeed;
}

// RFC 2326 §6-7 / RFC 7826: a status line "RTSP/x.y ..." or a request line ending in the RTSP
// version (either side may send requests).
Check verify_rtsp(const ProbeInput& in, bool server, AppProto) noexcept {
  const Bytes b = side_of(in, server);
  if (compatible(b.str(), "RTSP/")) return b.n >= 5 ? kOk : kNeed;
  return request_line_with(b, {"RTSP/1.0", "RTSP/2.0"});
}

// RFC 3261 §7 over TCP: CRLF keepalives (RFC 5626 §3.5.1) may come first, then a status line
// "SIP/2.0 ..." or a request line ending in SIP/2.0 (either side sends requests).
Check verify_sip(const ProbeInput& in, bool server, AppProto) noexcept {
  const Bytes b = skip_crlf(side_of(in, server));
  if (compatible(b.str(), "SIP/2.0 ")) return b.n >= 8 ? kOk : kNeed;
  return request_line_with(b, {"SIP/2.0"});
}

// UPnP DA §1.3: a search answer is an HTTP/1.1 status line; NOTIFY and M-SEARCH are requests.
Check verify_ssdp(const ProbeInput& in, bool server, AppProto) noexcept {
  const Bytes b = side_of(in, server);
  const std::string_view s = b.str();
  for (std::string_view lit : {"HTTP/1.", "NOTIFY ", "M-SEARCH "}) {
    if (compatible(s, lit)) return s.size() >= lit.size() ? kOk : (in.udp() ? kBad : kNeed);
  }
  return kBad;
}

}  // namespace flowscribe::dissect::probes
