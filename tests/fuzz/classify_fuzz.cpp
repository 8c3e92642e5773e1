// libFuzzer target for the protocol classifier (dissectors/classify). Input layout:
//   byte 0     bit 0: UDP (else TCP); bit 1: orientation guessed (init's last argument)
//   bytes 1-4  client port, server port (big-endian)
//   then messages, each a 2-byte header + payload: bit 15 of the header = from the server,
//   bits 0-14 = length. A length past the end of the input takes what is left; for UDP the
//   declared length is then the wire length (a datagram the capture cut).
// Each message is fed from an exactly-sized heap copy, so ASan sees any over-read of a feed;
// every probe also runs directly on exactly-sized copies of both directions (inside the
// classifier the prefix is a fixed 512-byte array, where an over-read would go unnoticed).
// Beyond "no crash" it checks the classifier's promises: a decision never changes, finish()
// never leaves a flow pending, certain/reversed only with a name (reversed with a known
// orientation only once the budget is spent), built-in ids only.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "common/app_proto.h"
#include "dissectors/classify/classifier.h"
#include "dissectors/classify/probe.h"

namespace {

using flowscribe::dissect::Classifier;
using flowscribe::dissect::ClassifyState;
using flowscribe::dissect::Decision;

void check(bool ok) {
  if (!ok) std::abort();
}

Classifier& classifier() {
  static Classifier* cls = [] {
    auto db = flowscribe::dissect::compile_classifier("");
    check(db.ok());
    return new Classifier(*db);
  }();
  return *cls;
}

// `final`: the decision came from finish(). With a known orientation the swapped view is only
// the last try, so a feed() decides "reversed" only when it spent the flow's budget.
void check_decision(const Decision& d, bool guessed, bool final, const ClassifyState& st) {
  check(d.kind == Decision::kPending || d.kind == Decision::kDecided || d.kind == Decision::kGaveUp);
  if (d.kind != Decision::kDecided) {
    check(d.app_proto == 0 && !d.certain && !d.reversed);
    return;
  }
  check(d.app_proto != 0 && d.app_proto < flowscribe::kAppProtoBuiltinEnd);
  if (d.reversed && !guessed && !final) {
    check(st.pkts[0] + st.pkts[1] >= flowscribe::dissect::kClassifyMaxTotalPackets ||
          ((st.pkts[0] >= flowscribe::dissect::kClassifyMaxPackets || st.len[0] >= flowscribe::dissect::kClassifyPrefixBytes) &&
           (st.pkts[1] >= flowscribe::dissect::kClassifyMaxPackets || st.len[1] >= flowscribe::dissect::kClassifyPrefixBytes)));
  }
}

struct Message {
  bool from_client;
  std::vector<uint8_t> bytes;
  uint32_t wire;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) return 0;
  const bool udp = data[0] & 1;
  const bool guessed = data[0] & 2;
  const uint8_t transport = udp ? flowscribe::dissect::kTransportUdp : flowscribe::dissect::kTransportTcp;
  const auto client_port = static_cast<uint16_t>(data[1] << 8 | data[2]);
  const auto server_port = static_cast<uint16_t>(data[3] << 8 | data[4]);

  std::vector<Message> msgs;
  size_t off = 5;
  while (off + 2 <= size && msgs.size() < 32) {
    const uint16_t hdr = static_cast<uint16_t>(data[off] << 8 | data[off + 1]);
    off += 2;
    const size_t want = hdr & 0x7fff;
    const size_t n = want < size - off ? want : size - off;
    Message m{(hdr & 0x8000) == 0, std::vector<uint8_t>(data + off, data + off + n), static_cast<uint32_t>(n)};
    if (udp && want > n) m.wire = static_cast<uint32_t>(want);
    msgs.push_back(std::move(m));
    off += n;
  }

  Classifier& cls = classifier();
  auto st = std::make_unique<ClassifyState>();
  cls.init(*st, transport, client_port, server_port, guessed);
  Decision last;
  // After a decision, like the worker: when begin_verify() arms the check of the other side's
  // first message, the rest goes to verify() until it settles (never reopened).
  bool verifying = false, settled = false;
  for (const Message& m : msgs) {
    // An exactly-sized buffer per feed (a zero-length one has no bytes to over-read).
    std::unique_ptr<uint8_t[]> buf(new uint8_t[m.bytes.size() + 1]);
    if (!m.bytes.empty()) std::memcpy(buf.get(), m.bytes.data(), m.bytes.size());
    if (verifying) {
      const auto v = cls.verify(*st, m.from_client, buf.get(), static_cast<uint32_t>(m.bytes.size()), m.wire);
      check(st->verifying() == (v == flowscribe::dissect::Verified::kPending));
      if (v != flowscribe::dissect::Verified::kPending) {
        verifying = false;
        settled = true;
      }
      continue;
    }
    if (settled) break;
    const Decision d = cls.feed(*st, m.from_client, buf.get(), static_cast<uint32_t>(m.bytes.size()), m.wire);
    check_decision(d, guessed, false, *st);
    if (last.kind != Decision::kPending) {
      check(d.kind == last.kind && d.app_proto == last.app_proto && d.certain == last.certain);
    }
    last = d;
    if (d.kind == Decision::kGaveUp) check(!cls.begin_verify(*st));
    if (d.kind == Decision::kDecided && cls.begin_verify(*st)) {
      check(st->verifying());
      verifying = true;
    }
  }
  if (verifying) check(cls.verify_stop(*st) == flowscribe::dissect::Verified::kGaveUp && !st->verifying());
  const Decision end = cls.finish(*st);
  check_decision(end, guessed, true, *st);
  check(end.kind != Decision::kPending);
  if (last.kind != Decision::kPending) check(end.kind == last.kind && end.app_proto == last.app_proto);

  // Every probe on exactly-sized copies of each direction's bytes (TCP: concatenated up to the
  // prefix size; UDP: the first datagram), both ways round.
  std::vector<uint8_t> side[2];
  uint32_t wire[2] = {0, 0};
  for (const Message& m : msgs) {
    const int d = m.from_client ? 0 : 1;
    if (udp) {
      if (side[d].empty() && !m.bytes.empty()) {
        side[d] = m.bytes;
        wire[d] = m.wire;
      }
    } else {
      side[d].insert(side[d].end(), m.bytes.begin(), m.bytes.end());
    }
  }
  for (int d = 0; d < 2; ++d) {
    if (side[d].size() > flowscribe::dissect::kClassifyPrefixBytes) side[d].resize(flowscribe::dissect::kClassifyPrefixBytes);
    if (!udp) wire[d] = static_cast<uint32_t>(side[d].size());
  }
  std::unique_ptr<uint8_t[]> copy[2];
  for (int d = 0; d < 2; ++d) {
    copy[d].reset(new uint8_t[side[d].size() + 1]);
    if (!side[d].empty()) std::memcpy(copy[d].get(), side[d].data(), side[d].size());
  }
  for (int c = 0; c < 2; ++c) {
    flowscribe::dissect::ProbeInput in;
    in.cli = {copy[c].get(), static_cast<uint32_t>(side[c].size())};
    in.srv = {copy[c ^ 1].get(), static_cast<uint32_t>(side[c ^ 1].size())};
    in.cli_wire = wire[c];
    in.srv_wire = wire[c ^ 1];
    in.transport = transport;
    in.server_spoke_first = (data[0] & 4) != 0;
    in.client_port = client_port;
    in.server_port = server_port;
    for (uint16_t id = 1; id < flowscribe::kAppProtoBuiltinEnd; ++id) {
      const flowscribe::dissect::ProtoInfo& info = flowscribe::dissect::proto_info(id);
      if (info.probe == nullptr || !(info.transports & (udp ? flowscribe::dissect::kUdp : flowscribe::dissect::kTcp))) continue;
      const auto v = info.probe(in, static_cast<flowscribe::AppProto>(id));
      check(v == flowscribe::dissect::Verdict::kNotMine || v == flowscribe::dissect::Verdict::kUnsure ||
            v == flowscribe::dissect::Verdict::kCertain);
      // The check of one side's first message, each side, on the same exact-size copies.
      if (info.verify == nullptr) continue;
      for (bool server : {false, true}) {
        const auto k = info.verify(in, server, static_cast<flowscribe::AppProto>(id));
        check(k == flowscribe::dissect::Check::kNeedMore || k == flowscribe::dissect::Check::kOk ||
              k == flowscribe::dissect::Check::kViolation);
      }
    }
  }
  return 0;
}
