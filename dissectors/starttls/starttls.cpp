#include "dissectors/starttls/starttls.h"

#include <algorithm>
#include <cstring>
#include <string_view>

namespace flowscribe::dissect {
namespace {

constexpr uint32_t kHeadBytes = 46;      // first bytes of a line or tag kept (command / reply code)
constexpr uint32_t kBudget = 32 * 1024;  // bytes per side watched before giving up

enum Dialect : uint8_t { kSmtp, kImap, kPop3, kFtp, kXmpp };

struct State {
  char head[2][kHeadBytes];  // [0] client, [1] server: start of the current line
  uint8_t head_len[2];
  uint32_t seen[2];          // bytes per side so far
  uint8_t dialect;
  uint8_t pending;           // the client asked; waiting for the server's answer
  char tag[16];              // IMAP: the tag of the STARTTLS command
  uint8_t tag_len;
  uint8_t server_lines;      // complete server lines seen (saturating)
  // XMPP: per side, inside a tag ('<' seen, '>' not yet; head[] holds its first bytes) and
  // the tag's last byte so far (a '/' before '>' closes the element).
  uint8_t in_tag[2];
  char tag_last[2];
};
// Two cache lines: the app layer's slots are whole lines, and the first two are prefetched.
static_assert(sizeof(State) <= 128);

char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

bool starts_with_ci(std::string_view s, std::string_view p) {
  if (s.size() < p.size()) return false;
  for (size_t i = 0; i < p.size(); ++i) {
    if (upper(s[i]) != p[i]) return false;
  }
  return true;
}

// The command is the whole line (trailing spaces allowed): "STARTTLS", not "STARTTLSX".
bool is_command(std::string_view line, std::string_view cmd) {
  if (!starts_with_ci(line, cmd)) return false;
  for (size_t i = cmd.size(); i < line.size(); ++i) {
    if (line[i] != ' ' && line[i] != '\t') return false;
  }
  return true;
}

// An XML tag from its first bytes: its name without a namespace prefix ("<tls:proceed" ->
// "proceed") and whether it is an end tag ("</proceed").
struct Tag {
  std::string_view name;
  bool end = false;
};
Tag parse_tag(std::string_view t) {
  Tag tag;
  if (t.empty() || t[0] != '<') return tag;
  t.remove_prefix(1);
  if (!t.empty() && t[0] == '/') {
    tag.end = true;
    t.remove_prefix(1);
  }
  size_t n = 0;
  while (n < t.size() && t[n] != ' ' && t[n] != '\t' && t[n] != '\r' && t[n] != '\n' &&
         t[n] != '/' && t[n] != '>') {
    ++n;
  }
  tag.name = t.substr(0, n);
  const size_t colon = tag.name.find(':');
  if (colon != std::string_view::npos) tag.name.remove_prefix(colon + 1);
  return tag;
}

class StarttlsDissector final : public Dissector {
 public:
  std::string_view name() const noexcept override { return "starttls"; }
  uint32_t state_bytes() const noexcept override { return sizeof(State); }
  uint32_t default_states() const noexcept override { return 8192; }

  void begin_flow(void* st, Ctx& c, uint8_t) noexcept override {
    auto& s = *static_cast<State*>(st);
    std::memset(&s, 0, sizeof s);
    switch (static_cast<AppProto>(c.flow.app_proto)) {
      case AppProto::kImap:
        s.dialect = kImap;
        break;
      case AppProto::kPop3:
        s.dialect = kPop3;
        break;
      case AppProto::kFtp:
        s.dialect = kFtp;
        break;
      case AppProto::kXmpp:
        s.dialect = kXmpp;
        break;
      default:
        s.dialect = kSmtp;
    }
    counters_.starttls_flows.inc();
  }

  Progress data(void* st, Ctx& c, bool from_client, const uint8_t* p, uint32_t len,
                uint32_t) noexcept override {
    auto& s = *static_cast<State*>(st);
    const int d = from_client ? 0 : 1;
    if (s.dialect == kXmpp) {
      if (!from_client && s.server_lines == 0 && len > 0) {
        s.server_lines = 1;
        size_t i = 0;
        while (i < len && (p[i] == ' ' || p[i] == '\r' || p[i] == '\n' || p[i] == '\t')) ++i;
        if (i < len && p[i] != '<') return bad_greeting();
      }
      const Progress pr = xmpp(s, c, d, p, len);
      if (pr != Progress::kMore) return pr;
    } else {
      // Line by line with memchr; only the first kHeadBytes of each line are kept.
      uint32_t i = 0;
      while (i < len) {
        const void* nl = std::memchr(p + i, '\n', len - i);
        const uint32_t end = nl ? static_cast<uint32_t>(static_cast<const uint8_t*>(nl) - p) : len;
        const uint32_t room = kHeadBytes - s.head_len[d];
        const uint32_t take = std::min(room, end - i);
        std::memcpy(s.head[d] + s.head_len[d], p + i, take);
        s.head_len[d] = static_cast<uint8_t>(s.head_len[d] + take);
        if (nl == nullptr) break;
        uint32_t n = s.head_len[d];
        if (n > 0 && n <= kHeadBytes && s.head[d][n - 1] == '\r' && end - i <= room) --n;
        const Progress pr = line(s, c, d, std::string_view(s.head[d], n));
        s.head_len[d] = 0;
        if (pr != Progress::kMore) return pr;
        i = end + 1;
      }
    }
    s.seen[d] += len;
    if (s.seen[d] > kBudget && !s.pending) {
      counters_.starttls_not_seen.inc();
      return Progress::kDone;
    }
    return Progress::kMore;
  }

  Progress gap(void*, Ctx&, bool, uint32_t) noexcept override {
    return Progress::kDone;  // line boundaries are lost: stop watching
  }

  void end_flow(void*, Ctx&) noexcept override {}

  void for_each_counter(CounterFn f) const override { counters_.for_each(f); }

 private:
  Progress upgrade(Ctx& c) noexcept {
    counters_.starttls_upgrades.inc();
    c.hand_over(AppProto::kTls);
    return Progress::kDone;
  }

  Progress bad_greeting() noexcept {
    counters_.starttls_bad_greeting.inc();
    return Progress::kViolation;
  }

  // The server's first line must be its protocol's greeting (or a reply): the classifier may
  // have named the flow from the client's bytes alone.
  bool greeting_ok(const State& s, std::string_view l) const noexcept {
    auto digit = [](char ch) { return ch >= '0' && ch <= '9'; };
    switch (s.dialect) {
      case kSmtp:
      case kFtp:
        return l.size() >= 3 && digit(l[0]) && digit(l[1]) && digit(l[2]) &&
               (l.size() == 3 || l[3] == ' ' || l[3] == '-');
      case kPop3:
        return !l.empty() && (l[0] == '+' || l[0] == '-');
      case kImap:
        return !l.empty() && (l[0] == '*' || l[0] == '+' ||
                              (l[0] >= '!' && l[0] <= '~' && l.find(' ') != std::string_view::npos));
      default:
        return true;
    }
  }

  Progress line(State& s, Ctx& c, int d, std::string_view l) noexcept {
    if (d == 1 && s.server_lines == 0) {
      s.server_lines = 1;
      if (!greeting_ok(s, l)) return bad_greeting();
    }
    if (d == 0) {
      bool cmd = false;
      switch (s.dialect) {
        case kSmtp:
          cmd = is_command(l, "STARTTLS");
          break;
        case kPop3:
          cmd = is_command(l, "STLS");
          break;
        case kFtp:
          cmd = is_command(l, "AUTH TLS") || is_command(l, "AUTH SSL") ||
                is_command(l, "AUTH TLS-C") || is_command(l, "AUTH TLS-P");
          break;
        case kImap: {
          const size_t sp = l.find(' ');
          if (sp != std::string_view::npos && sp > 0 && sp < sizeof s.tag &&
              is_command(l.substr(sp + 1), "STARTTLS")) {
            std::memcpy(s.tag, l.data(), sp);
            s.tag_len = static_cast<uint8_t>(sp);
            cmd = true;
          }
          break;
        }
        default:
          break;
      }
      if (cmd) {
        s.pending = 1;
        counters_.starttls_commands.inc();
      }
      return Progress::kMore;
    }
    if (!s.pending) return Progress::kMore;
    bool yes = false, no = false;
    switch (s.dialect) {
      case kSmtp:
        yes = starts_with_ci(l, "220");
        no = !yes && l.size() >= 3 && l[0] >= '4' && l[0] <= '5';
        break;
      case kPop3:
        yes = starts_with_ci(l, "+OK");
        no = starts_with_ci(l, "-ERR");
        break;
      case kFtp:
        yes = starts_with_ci(l, "234");
        no = !yes && l.size() >= 3 && l[0] >= '4' && l[0] <= '5';
        break;
      case kImap: {
        const std::string_view tag(s.tag, s.tag_len);
        if (l.size() > tag.size() + 1 && l.substr(0, tag.size()) == tag && l[tag.size()] == ' ') {
          const std::string_view rest = l.substr(tag.size() + 1);
          yes = starts_with_ci(rest, "OK");
          no = !yes;
        }
        break;
      }
      default:
        break;
    }
    if (yes) return upgrade(c);
    if (no) {
      s.pending = 0;
      counters_.starttls_refused.inc();
    }
    return Progress::kMore;
  }

  // XMPP (RFC 6120 §5.4.2): the client's <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>,
  // then the server's <proceed .../> (or <failure/>). Tags are read whole, across segments:
  // the stream is handed over only once the proceed element has ended, so that none of its
  // bytes reach the TLS dissector; the first bytes of each tag are kept in head[].
  Progress xmpp(State& s, Ctx& c, int d, const uint8_t* p, uint32_t len) noexcept {
    uint32_t i = 0;
    while (i < len) {
      if (!s.in_tag[d]) {
        const void* lt = std::memchr(p + i, '<', len - i);
        if (lt == nullptr) return Progress::kMore;
        i = static_cast<uint32_t>(static_cast<const uint8_t*>(lt) - p);
        s.in_tag[d] = 1;
        s.head_len[d] = 0;
      }
      const void* gt = std::memchr(p + i, '>', len - i);
      const uint32_t end = gt ? static_cast<uint32_t>(static_cast<const uint8_t*>(gt) - p) : len;
      const uint32_t take = std::min<uint32_t>(kHeadBytes - s.head_len[d], end - i);
      std::memcpy(s.head[d] + s.head_len[d], p + i, take);
      s.head_len[d] = static_cast<uint8_t>(s.head_len[d] + take);
      if (end > i) s.tag_last[d] = static_cast<char>(p[end - 1]);
      if (gt == nullptr) return Progress::kMore;
      i = end + 1;
      s.in_tag[d] = 0;
      const Tag tag = parse_tag(std::string_view(s.head[d], s.head_len[d]));
      const bool closed = s.tag_last[d] == '/';  // <name .../>: the element ends here
      if (d == 0) {
        if (!tag.end && tag.name == "starttls") {
          s.pending = 1;
          counters_.starttls_commands.inc();
        }
      } else if (s.pending == 1 && !tag.end && tag.name == "proceed") {
        if (closed) return upgrade(c);
        s.pending = 2;  // <proceed ...>: the element ends at </proceed>
      } else if (s.pending == 2 && tag.end && tag.name == "proceed") {
        return upgrade(c);
      } else if (s.pending != 0 && !tag.end && tag.name == "failure") {
        s.pending = 0;
        counters_.starttls_refused.inc();
      }
    }
    return Progress::kMore;
  }

  StarttlsCounters counters_;
};

}  // namespace

std::unique_ptr<Dissector> make_starttls_dissector() { return std::make_unique<StarttlsDissector>(); }

}  // namespace flowscribe::dissect
