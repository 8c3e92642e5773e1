#include "emit/transport.h"

#include <cstdio>

#include "common/strings.h"
#include "emit/sink.h"

namespace flowscribe::emit {

absl::StatusOr<OutputSpec> parse_output_spec(std::string_view text) {
  OutputSpec s;
  s.text = std::string(text);
  if (text == "stdout") {
    s.scheme = Scheme::kStdout;
    return s;
  }
  if (text.starts_with("file:")) {
    s.scheme = Scheme::kFile;
    s.path = std::string(text.substr(5));
    if (s.path.empty()) {
      return absl::InvalidArgumentError("file: needs a path (file:/var/log/flowscribe.log)");
    }
    return s;
  }
  if (text.starts_with("failover:")) {
    s.scheme = Scheme::kFailover;
    std::string_view list = text.substr(9);
    while (!list.empty()) {
      const size_t comma = list.find(',');
      const std::string_view one = list.substr(0, comma);
      absl::StatusOr<OutputSpec> m = parse_output_spec(one);
      if (!m.ok()) return m.status();
      if (m->scheme != Scheme::kTcp && m->scheme != Scheme::kTls) {
        return absl::InvalidArgumentError(cat(
            "'", text, "': fail-over members must be tcp:// or tls:// collectors, got '", one,
            "'"));
      }
      for (const OutputSpec& o : s.members) {
        if (o.text == m->text) {
          return absl::InvalidArgumentError(cat("'", text, "': '", one, "' is there twice"));
        }
      }
      s.members.push_back(*std::move(m));
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
    if (s.members.size() < 2) {
      return absl::InvalidArgumentError(cat(
          "'", text, "': a fail-over group needs two or more members, e.g. "
          "failover:tcp://primary:601,tcp://backup:601"));
    }
    return s;
  }
  std::string_view rest = text;
  if (text.starts_with("udp://")) {
    s.scheme = Scheme::kUdp;
    s.port = kDefaultUdpPort;
  } else if (text.starts_with("tcp://")) {
    s.scheme = Scheme::kTcp;
    s.port = kDefaultTcpPort;
  } else if (text.starts_with("tls://")) {
    s.scheme = Scheme::kTls;
    s.port = kDefaultTlsPort;
  } else {
    return absl::InvalidArgumentError(cat(
        "'", text, "' is not an output: use stdout, file:PATH, udp://HOST:PORT, "
        "tcp://HOST:PORT, tls://HOST:PORT or failover:tcp://HOST:PORT,tcp://HOST:PORT"));
  }
  rest.remove_prefix(6);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  std::string_view host = rest;
  std::string_view port;
  if (rest.starts_with("[")) {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError(cat("'", text, "': missing ']' after the IPv6 address"));
    }
    host = rest.substr(1, close - 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        return absl::InvalidArgumentError(cat("'", text, "': expected ':PORT' after ']'"));
      }
      port = after.substr(1);
      if (port.empty()) return absl::InvalidArgumentError(cat("'", text, "': empty port"));
    }
  } else if (const size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    if (rest.find(':') != colon) {
      return absl::InvalidArgumentError(
          cat("'", text, "': put an IPv6 address in brackets, e.g. tcp://[2001:db8::1]:601"));
    }
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (port.empty()) return absl::InvalidArgumentError(cat("'", text, "': empty port"));
  }
  if (host.empty()) return absl::InvalidArgumentError(cat("'", text, "': no host"));
  if (host.find_first_of("/?#@ ") != std::string_view::npos) {
    return absl::InvalidArgumentError(cat("'", text, "': expected SCHEME://HOST[:PORT]"));
  }
  if (!port.empty()) {
    uint32_t p = 0;
    if (!parse_uint(port, p) || p == 0 || p > 65535) {
      return absl::InvalidArgumentError(cat("'", text, "': port must be 1-65535"));
    }
    s.port = static_cast<uint16_t>(p);
  }
  s.host = std::string(host);
  return s;
}

SinkTransport::SinkTransport(std::unique_ptr<Sink> sink, std::string name,
                             OutputCounters& counters, const FileSinkStats* file_stats)
    : sink_(std::move(sink)), name_(std::move(name)), counters_(counters),
      file_stats_(file_stats) {}

SinkTransport::~SinkTransport() = default;

void SinkTransport::copy_file_stats() {
  if (!file_stats_) return;
  counters_.output_file_rotations.set(file_stats_->rotations);
  counters_.output_file_rotate_errors.set(file_stats_->rotate_errors);
  counters_.output_file_fsyncs.set(file_stats_->fsyncs);
}

size_t SinkTransport::send(std::span<const std::string_view> lines) {
  if (broken_) {
    lost_ += lines.size();
    done_ += lines.size();
    return lines.size();
  }
  // Lines are contiguous in the queue's chunks: one write() per run of them.
  size_t i = 0;
  while (i < lines.size()) {
    const char* start = lines[i].data();
    size_t len = lines[i].size();
    size_t j = i + 1;
    while (j < lines.size() && lines[j].data() == start + len) len += lines[j++].size();
    absl::Status s = sink_->write(std::string_view(start, len));
    if (!s.ok()) {
      counters_.output_write_errors.inc();
      std::fprintf(stderr, "flowscribe: output %s failed, its records are counted as lost: %s\n",
                   name_.c_str(), std::string(s.message()).c_str());
      broken_.store(true, std::memory_order_relaxed);
      lost_ += lines.size() - i;
      done_ += lines.size() - i;
      return lines.size();
    }
    counters_.output_batches.inc();
    counters_.output_bytes.inc(len);
    done_ += j - i;
    i = j;
  }
  copy_file_stats();
  return lines.size();
}

Acked SinkTransport::take_acked(Nanos) {
  Acked a{done_, lost_};
  done_ = 0;
  lost_ = 0;
  return a;
}

void SinkTransport::reopen() {
  absl::Status s = sink_->reopen();
  copy_file_stats();
  if (!s.ok()) std::fprintf(stderr, "flowscribe: %s\n", std::string(s.message()).c_str());
}

}  // namespace flowscribe::emit
