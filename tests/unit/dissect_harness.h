#pragma once
// Drives one dissector the way sensor/app_layer.cpp does, without DPDK: a flow, a state slot,
// and a RecordOut that keeps the records (and can format them as the emitter would), so a
// test feeds bytes and checks the records and the lines.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dissectors/dissector.h"
#include "emit/format.h"

namespace flowscribe::test {

// Bytes from hex text ("16030100..."), for fixtures copied out of captures.
inline std::string unhex(std::string_view h) {
  std::string out;
  auto v = [](char ch) { return ch <= '9' ? ch - '0' : (ch | 0x20) - 'a' + 10; };
  for (size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<char>(v(h[i]) << 4 | v(h[i + 1])));
  return out;
}

// Records are allocated with room for their continuation slots right after them (as the
// worker's chain, RecordOut::extend): record `r`'s continuations are (&r)[1 .. r.more].
struct RecordSlab {
  emit::Record slot[1 + emit::kMaxContinuations];
};
struct RecordSlabDelete {
  void operator()(emit::Record* r) const noexcept { delete reinterpret_cast<RecordSlab*>(r); }
};
using RecordPtr = std::unique_ptr<emit::Record, RecordSlabDelete>;

class RecordCollector final : public dissect::RecordOut {
 public:
  emit::Record* begin(const flow::Flow& f, emit::RecordType type, Nanos ts) noexcept override {
    auto* slab = new RecordSlab;
    std::memset(static_cast<void*>(slab), 0, sizeof(RecordSlab));
    RecordPtr r(&slab->slot[0]);
    r->type = type;
    r->transport = f.key.proto;
    r->ip_version = f.key.ip_version;
    r->app_proto = f.app_proto;
    const uint8_t c = f.client_side & 1;
    r->client_port = f.key.port[c];
    r->server_port = f.key.port[c ^ 1];
    std::memcpy(r->client.b, f.key.addr[c], 16);
    std::memcpy(r->server.b, f.key.addr[c ^ 1], 16);
    r->sid = f.sid;
    r->ts_ns = ts;
    r->start_ns = r->end_ns = ts;
    open_.push_back(std::move(r));
    return open_.back().get();
  }
  emit::Record* extend(emit::Record* head) noexcept override {
    bool open = false;
    for (auto& o : open_) open |= o.get() == head;
    if (!open || head->more >= emit::kMaxContinuations) return nullptr;
    ++extended;
    return &head[++head->more];
  }
  void commit(const flow::Flow&, emit::Record* r) noexcept override {
    for (auto it = open_.begin(); it != open_.end(); ++it) {
      if (it->get() == r) {
        records.push_back(std::move(*it));
        open_.erase(it);
        return;
      }
    }
    ++bad_commits;
  }

  // Extension fields of a record as (param name with element, value text) pairs in order,
  // e.g. {"http.host", "example.com"}; values rendered as the formatter does.
  static std::vector<std::pair<std::string, std::string>> fields(const emit::Record& head) {
    std::vector<std::pair<std::string, std::string>> out;
    for (size_t s = 0; s <= std::min<size_t>(head.more, emit::kMaxContinuations); ++s) {
      const emit::Record& r = (&head)[s];
      for (size_t off = 0; off + sizeof(emit::ExtHeader) <= r.ext_len;) {
        emit::ExtHeader h;
        std::memcpy(&h, r.ext + off, sizeof h);
        off += sizeof h;
        const emit::FieldInfo* fi = emit::find_field(h.field);
        std::string name = fi ? std::string(fi->element) + "." + std::string(fi->param) : "?";
        char buf[emit::kMaxValueBytes * 4 + 64];
        std::string value;
        if (fi) {
          const emit::FieldValueResult v = emit::write_field_value(fi->kind, r.ext + off, h.len, buf);
          value.assign(buf, static_cast<size_t>(v.end - buf));
        }
        out.emplace_back(std::move(name), std::move(value));
        off += h.len;
      }
    }
    return out;
  }
  // The first value of `element.param` in a record, or "<absent>".
  static std::string field(const emit::Record& r, std::string_view name) {
    for (auto& [k, v] : fields(r)) {
      if (k == name) return v;
    }
    return "<absent>";
  }
  // Every value of `element.param` in a record, in order.
  static std::vector<std::string> all(const emit::Record& r, std::string_view name) {
    std::vector<std::string> out;
    for (auto& [k, v] : fields(r)) {
      if (k == name) out.push_back(v);
    }
    return out;
  }
  // The record and its continuations, as the emitter hands them to a formatter.
  static size_t chain(const emit::Record& r, const emit::Record** out) {
    const size_t n = 1 + std::min<size_t>(r.more, emit::kMaxContinuations);
    for (size_t i = 0; i < n; ++i) out[i] = &r + i;
    return n;
  }
  // The record as the emitter would write it (RFC 5424, default configuration).
  static std::string line(const emit::Record& r) {
    emit::FormatConfig cfg;
    cfg.hostname = "test";
    cfg.procid = "1";
    emit::Rfc5424Formatter f(cfg);
    std::string out;
    const emit::Record* c[1 + emit::kMaxContinuations];
    f.format(c, chain(r, c), out);
    return out;
  }

  std::vector<RecordPtr> records;
  int bad_commits = 0;
  int extended = 0;  // continuation slots handed out
  size_t open_count() const { return open_.size(); }

 private:
  std::vector<RecordPtr> open_;
};

// One flow under test: IPv4 10.0.0.1:client_port -> 10.0.0.2:server_port.
struct FlowUnderTest {
  explicit FlowUnderTest(dissect::Dissector& d, uint8_t transport = 6, uint16_t client_port = 40000,
                         uint16_t server_port = 80, uint16_t app_proto = 0)
      : dissector(d), state(new uint8_t[d.state_bytes() + 64]) {
    std::memset(static_cast<void*>(&flow), 0, sizeof flow);
    flow.key.proto = transport;
    flow.key.ip_version = 4;
    flow.key.addr[0][0] = 10;
    flow.key.addr[0][3] = 1;
    flow.key.addr[1][0] = 10;
    flow.key.addr[1][3] = 2;
    flow.key.port[0] = client_port;
    flow.key.port[1] = server_port;
    flow.client_side = 0;
    flow.sid = 42;
    flow.app_proto = app_proto;
    slot = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(state.get()) + 63) & ~uintptr_t{63});
    dissect::Ctx c = ctx();
    d.begin_flow(slot, c, transport);
  }
  dissect::Ctx ctx() { return dissect::Ctx{flow, now, out, apps}; }
  dissect::Progress data(bool from_client, std::string_view bytes) {
    return data(from_client, reinterpret_cast<const uint8_t*>(bytes.data()),
                static_cast<uint32_t>(bytes.size()));
  }
  dissect::Progress data(bool from_client, const uint8_t* p, uint32_t n, uint32_t wire = 0) {
    dissect::Ctx c = ctx();
    return dissector.data(slot, c, from_client, p, n, wire ? wire : n);
  }
  dissect::Progress gap(bool from_client, uint32_t len) {
    dissect::Ctx c = ctx();
    return dissector.gap(slot, c, from_client, len);
  }
  void end() {
    dissect::Ctx c = ctx();
    dissector.end_flow(slot, c);
  }

  dissect::Dissector& dissector;
  flow::Flow flow;
  Nanos now = 1'700'000'000'000'000'000ULL;
  RecordCollector out;
  const dissect::AppNamer* apps = nullptr;
  std::unique_ptr<uint8_t[]> state;
  void* slot;
};

}  // namespace flowscribe::test
