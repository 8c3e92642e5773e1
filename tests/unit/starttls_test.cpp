// dissectors/starttls: the upgrade to TLS is seen and handed over; refusals and non-greetings.
#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "dissect_harness.h"
#include "dissectors/starttls/starttls.h"

using flowscribe::AppProto;
using flowscribe::dissect::Ctx;
using flowscribe::dissect::Progress;

namespace {

struct Result {
  Progress last = Progress::kMore;
  uint16_t next = 0;
  size_t consumed_lines = 0;  // lines fed before the dissector stopped
};

// Feeds (from_client, text) lines, each split into `chunk`-byte pieces, until one returns
// something other than kMore.
Result run(AppProto proto, const std::vector<std::pair<bool, std::string>>& lines, size_t chunk) {
  auto d = flowscribe::dissect::make_starttls_dissector();
  flowscribe::test::FlowUnderTest t(*d, 6, 40000, 25, static_cast<uint16_t>(proto));
  Result r;
  for (const auto& [client, text] : lines) {
    for (size_t at = 0; at < text.size(); at += chunk) {
      const std::string piece = text.substr(at, chunk);
      Ctx c = t.ctx();
      r.last = d->data(t.slot, c, client, reinterpret_cast<const uint8_t*>(piece.data()),
                       static_cast<uint32_t>(piece.size()), static_cast<uint32_t>(piece.size()));
      r.next = c.next_proto;
      if (r.last != Progress::kMore) return r;
    }
    ++r.consumed_lines;
  }
  return r;
}

}  // namespace

TEST_CASE("starttls: accepted upgrades hand the stream to TLS, at any segmentation", "[starttls]") {
  const std::pair<AppProto, std::vector<std::pair<bool, std::string>>> cases[] = {
      {AppProto::kSmtp, {{false, "220 mx.example ESMTP\r\n"}, {true, "EHLO c\r\n"},
                         {false, "250-mx\r\n250 STARTTLS\r\n"}, {true, "starttls\r\n"},
                         {false, "220 2.0.0 Ready to start TLS\r\n"}}},
      {AppProto::kImap, {{false, "* OK IMAP4rev1 ready\r\n"}, {true, "a1 CAPABILITY\r\n"},
                         {false, "* CAPABILITY IMAP4rev1 STARTTLS\r\na1 OK done\r\n"},
                         {true, "a2 STARTTLS\r\n"}, {false, "a2 OK Begin TLS negotiation now\r\n"}}},
      {AppProto::kPop3, {{false, "+OK POP3 ready\r\n"}, {true, "STLS\r\n"}, {false, "+OK Begin TLS\r\n"}}},
      {AppProto::kFtp, {{false, "220 (vsFTPd 3.0.3)\r\n"}, {true, "AUTH TLS\r\n"},
                        {false, "234 Proceed with negotiation.\r\n"}}},
      {AppProto::kXmpp, {{false, "<?xml version='1.0'?><stream:stream>"},
                         {true, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"},
                         {false, "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"}}},
  };
  for (const auto& [proto, lines] : cases) {
    for (size_t chunk : {size_t{1}, size_t{3}, size_t{1000}}) {
      INFO(static_cast<int>(proto) << " chunk " << chunk);
      const Result r = run(proto, lines, chunk);
      CHECK(r.last == Progress::kDone);
      CHECK(r.next == static_cast<uint16_t>(AppProto::kTls));
      CHECK(r.consumed_lines == lines.size() - 1);
    }
  }
}

TEST_CASE("starttls: every truncation of each upgrade stops short of the hand-over", "[starttls]") {
  // The conversation cut after k bytes (its last line incomplete): no hand-over, no crash,
  // whatever the cut, because the server's yes is a whole line (or a whole tag).
  const std::pair<AppProto, std::vector<std::pair<bool, std::string>>> cases[] = {
      {AppProto::kSmtp, {{false, "220 mx.example ESMTP\r\n"}, {true, "STARTTLS\r\n"},
                         {false, "220 2.0.0 Ready to start TLS\r\n"}}},
      {AppProto::kImap, {{false, "* OK ready\r\n"}, {true, "a2 STARTTLS\r\n"}, {false, "a2 OK Begin TLS\r\n"}}},
      {AppProto::kPop3, {{false, "+OK POP3 ready\r\n"}, {true, "STLS\r\n"}, {false, "+OK Begin TLS\r\n"}}},
      {AppProto::kFtp, {{false, "220 (vsFTPd 3.0.3)\r\n"}, {true, "AUTH TLS\r\n"}, {false, "234 Proceed.\r\n"}}},
      {AppProto::kXmpp, {{false, "<?xml version='1.0'?><stream:stream>"},
                         {true, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"},
                         {false, "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"}}},
  };
  for (const auto& [proto, lines] : cases) {
    size_t total = 0;
    for (const auto& l : lines) total += l.second.size();
    REQUIRE(run(proto, lines, 1000).next == static_cast<uint16_t>(AppProto::kTls));
    for (size_t cut = 0; cut < total; ++cut) {
      std::vector<std::pair<bool, std::string>> part;
      size_t left = cut;
      for (const auto& [client, text] : lines) {
        if (left == 0) break;
        part.emplace_back(client, text.substr(0, left));
        left -= part.back().second.size();
      }
      INFO(static_cast<int>(proto) << " cut at " << cut);
      const Result r = run(proto, part, 1000);
      CHECK(r.next == 0);
      CHECK(r.last == Progress::kMore);
    }
  }
}

TEST_CASE("starttls: refusals, look-alikes and a missing greeting", "[starttls]") {
  // Refused, then the session goes on in clear text: no hand-over.
  Result r = run(AppProto::kSmtp, {{false, "220 mx\r\n"}, {true, "STARTTLS\r\n"},
                                   {false, "454 TLS not available\r\n"}, {false, "220 later\r\n"}}, 1000);
  CHECK(r.last == Progress::kMore);
  CHECK(r.next == 0);
  // A command that only starts like it is not one.
  r = run(AppProto::kSmtp, {{false, "220 mx\r\n"}, {true, "STARTTLSX\r\n"}, {false, "220 ok\r\n"}}, 1000);
  CHECK(r.next == 0);
  // IMAP: another tag's OK is not the answer.
  r = run(AppProto::kImap, {{false, "* OK\r\n"}, {true, "x STARTTLS\r\n"}, {false, "y OK\r\n"}}, 1000);
  CHECK(r.next == 0);
  // XMPP: a tag that only starts like proceed, a failure, an element ended by its end tag,
  // and the server's own <starttls> feature advertisement (not a command).
  const char* kXmppOpen = "<?xml version='1.0'?><stream:stream>";
  const char* kStartTls = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
  r = run(AppProto::kXmpp, {{false, kXmppOpen}, {true, kStartTls}, {false, "<proceedings/>"}}, 1000);
  CHECK(r.next == 0);
  r = run(AppProto::kXmpp, {{false, kXmppOpen}, {true, kStartTls},
                            {false, "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"},
                            {false, "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"}}, 1000);
  CHECK(r.next == 0);
  r = run(AppProto::kXmpp, {{false, kXmppOpen}, {true, kStartTls},
                            {false, "<tls:proceed xmlns:tls='urn:ietf:params:xml:ns:xmpp-tls'>"}}, 1);
  CHECK(r.next == 0);  // not ended yet
  r = run(AppProto::kXmpp, {{false, kXmppOpen}, {true, kStartTls},
                            {false, "<tls:proceed xmlns:tls='urn:ietf:params:xml:ns:xmpp-tls'>"},
                            {false, "</tls:proceed>"}}, 2);
  CHECK(r.next == static_cast<uint16_t>(AppProto::kTls));
  r = run(AppProto::kXmpp, {{false, std::string(kXmppOpen) +
                                        "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"
                                        "<required/></starttls></stream:features>"},
                            {false, "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"}}, 5);
  CHECK(r.next == 0);  // the client never asked
  // The server's first line is no greeting of the protocol: a violation.
  r = run(AppProto::kSmtp, {{true, "EHLO c\r\n"}, {false, "SSH-2.0-OpenSSH_9.2\r\n"}}, 1000);
  CHECK(r.last == Progress::kViolation);
  r = run(AppProto::kPop3, {{false, std::string("\x16\x03\x01\x00\x10garbage\r\n", 14)}}, 1000);
  CHECK(r.last == Progress::kViolation);
  // Long clear-text sessions are not read past the budget.
  std::vector<std::pair<bool, std::string>> lots{{false, "220 mx\r\n"}};
  for (int i = 0; i < 2000; ++i) lots.emplace_back(true, std::string(30, 'x') + "\r\n");
  r = run(AppProto::kSmtp, lots, 1000);
  CHECK(r.last == Progress::kDone);
  CHECK(r.next == 0);
  // A line longer than the kept head, bytes of every value: no crash, nothing handed over.
  std::string junk;
  for (int i = 0; i < 4096; ++i) junk.push_back(static_cast<char>(i * 7));
  r = run(AppProto::kFtp, {{false, "220 x\r\n"}, {true, junk}, {false, junk}}, 97);
  CHECK(r.next == 0);
}
