#include "emit/net_sink.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "common/strings.h"
#include "emit/sink.h"

namespace flowscribe::emit {
namespace {

constexpr size_t kUdpBatch = 64;            // datagrams per sendmmsg(2)
constexpr size_t kMaxIov = 1024;            // IOV_MAX on Linux
constexpr size_t kTlsChunk = 64 * 1024;     // plaintext per SSL_write (four TLS records)
constexpr Nanos kAckCheckEvery = 1'000'000;  // SIOCOUTQ at most once a millisecond

std::string addr_text(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    return cat(buf, ":", ntohs(in->sin_port));
  }
  auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
  inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
  return cat("[", buf, "]:", ntohs(in6->sin6_port));
}

bool is_ip_literal(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// OpenSSL's queued errors as one line (and the queue emptied).
std::string ssl_errors() {
  std::string s;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!s.empty()) s += "; ";
    s += buf;
  }
  return s.empty() ? "unknown TLS error" : s;
}

// Writes the decimal length and a space (RFC 6587 section 3.4.1 MSG-LEN SP); returns the end.
char* put_len(char* p, size_t n) {
  p = std::to_chars(p, p + 20, n).ptr;
  *p++ = ' ';
  return p;
}

size_t digits(size_t n) {
  size_t d = 1;
  while (n >= 10) {
    n /= 10;
    ++d;
  }
  return d;
}

}  // namespace

absl::StatusOr<std::vector<SockAddr>> resolve(const std::string& host, uint16_t port,
                                              int socktype) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = socktype;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0) {
    return absl::InvalidArgumentError(
        cat("cannot resolve host '", host, "': ", gai_strerror(rc)));
  }
  std::vector<SockAddr> out;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    SockAddr a;
    std::memcpy(&a.addr, ai->ai_addr, ai->ai_addrlen);
    a.len = static_cast<socklen_t>(ai->ai_addrlen);
    a.text = addr_text(ai->ai_addr);
    if (std::none_of(out.begin(), out.end(), [&](const SockAddr& o) { return o.text == a.text; })) {
      out.push_back(std::move(a));
    }
  }
  freeaddrinfo(res);
  if (out.empty()) {
    return absl::InvalidArgumentError(cat("host '", host, "' has no IPv4 or IPv6 address"));
  }
  return out;
}

// --------------------------------------------------------------------------- truncation

size_t truncate_record(std::string_view rec, size_t max, uint32_t pen, char* out) {
  char marker[64];
  const int mlen = std::snprintf(marker, sizeof marker, "[trunc@%u len=\"%zu\"]", pen, rec.size());
  // The header is six fields (RFC 5424 section 6): PRI+VERSION TIMESTAMP HOSTNAME APP-NAME
  // PROCID MSGID, each followed by one space; STRUCTURED-DATA starts after them.
  size_t i = 0;
  for (int spaces = 0; spaces < 6; ++i) {
    if (i >= rec.size()) return 0;
    if (rec[i] == ' ') ++spaces;
  }
  const size_t sd_start = i;
  if (i + 1 < rec.size() && rec[i] == '-' && rec[i + 1] == ' ') {
    // No structured data (JSON, CEF, LEEF): the marker replaces the "-" and MSG is cut to fit,
    // at a UTF-8 character boundary and not after a lone escaping backslash.
    const size_t msg = i + 2;
    if (msg + static_cast<size_t>(mlen) + 1 > max) {
      if (sd_start + static_cast<size_t>(mlen) > max) return 0;
      std::memcpy(out, rec.data(), sd_start);
      std::memcpy(out + sd_start, marker, static_cast<size_t>(mlen));
      return sd_start + static_cast<size_t>(mlen);
    }
    size_t cut = max - static_cast<size_t>(mlen) - 1;  // bytes of the record kept, from 0
    while (cut > msg && (static_cast<unsigned char>(rec[cut]) & 0xc0) == 0x80) --cut;
    size_t bs = 0;
    while (cut - bs > msg && rec[cut - bs - 1] == '\\') ++bs;
    if (bs % 2 == 1) --cut;
    std::memcpy(out, rec.data(), sd_start);
    size_t n = sd_start;
    std::memcpy(out + n, marker, static_cast<size_t>(mlen));
    n += static_cast<size_t>(mlen);
    out[n++] = ' ';
    std::memcpy(out + n, rec.data() + msg, cut - msg);
    return n + cut - msg;
  }
  // Longest cut that keeps the text valid: after a whole element, or inside an element after
  // its SD-ID or a whole param (then the element is closed with ']').
  size_t best = 0;
  bool best_closes = false;
  auto consider = [&](size_t cut, bool closes) {
    if (cut + (closes ? 1 : 0) + static_cast<size_t>(mlen) <= max) {
      best = cut;
      best_closes = closes;
    }
  };
  while (i < rec.size() && rec[i] == '[') {
    ++i;
    while (i < rec.size() && rec[i] != ' ' && rec[i] != ']') ++i;  // SD-ID
    consider(i, true);
    while (i < rec.size() && rec[i] == ' ') {
      const size_t q = rec.find('"', i);
      if (q == std::string_view::npos) return 0;
      i = q + 1;
      while (i < rec.size() && rec[i] != '"') i += rec[i] == '\\' ? 2 : 1;  // escaped value
      if (i >= rec.size()) return 0;
      ++i;  // closing quote
      consider(i, true);
    }
    if (i >= rec.size() || rec[i] != ']') return 0;
    ++i;
    consider(i, false);
  }
  if (best == 0) {
    // Not even one SD-ID fits: the header alone, with the marker as its only element.
    if (sd_start + static_cast<size_t>(mlen) > max) return 0;
    best = sd_start;
    best_closes = false;
  }
  std::memcpy(out, rec.data(), best);
  size_t n = best;
  if (best_closes) out[n++] = ']';
  std::memcpy(out + n, marker, static_cast<size_t>(mlen));
  return n + static_cast<size_t>(mlen);
}

// --------------------------------------------------------------------------- UDP

absl::StatusOr<std::unique_ptr<UdpTransport>> UdpTransport::open(const OutputSpec& spec,
                                                                  const NetConfig& net,
                                                                  OutputCounters& counters) {
  absl::StatusOr<std::vector<SockAddr>> addrs = resolve(spec.host, spec.port, SOCK_DGRAM);
  if (!addrs.ok()) return addrs.status();
  const SockAddr& dst = addrs->front();
  const int fd = ::socket(dst.addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::FailedPreconditionError(cat("socket: ", std::strerror(errno)));
  // A larger send buffer rides out short bursts; the kernel caps it at wmem_max.
  int sndbuf = 4 << 20;
  (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  return std::unique_ptr<UdpTransport>(new UdpTransport(fd, dst, spec.text, net, counters));
}

UdpTransport::UdpTransport(int fd, SockAddr dst, std::string name, const NetConfig& net,
                           OutputCounters& counters)
    : fd_(fd),
      dst_(std::move(dst)),
      name_(std::move(name)),
      max_(net.udp_max),
      pen_(net.pen),
      counters_(counters),
      scratch_(new char[kUdpBatch * net.udp_max]) {}

UdpTransport::~UdpTransport() { ::close(fd_); }

size_t UdpTransport::send(std::span<const std::string_view> lines) {
  // Not connect()ed: an ICMP port-unreachable from a collector that is down must not turn
  // into errors on later sends (the datagrams are gone either way).
  mmsghdr msgs[kUdpBatch];
  iovec iov[kUdpBatch];
  size_t taken = 0;
  while (taken < lines.size()) {
    size_t n = 0;
    while (n < kUdpBatch && taken + n < lines.size()) {
      std::string_view rec = lines[taken + n];
      if (!rec.empty() && rec.back() == '\n') rec.remove_suffix(1);
      if (rec.size() > max_) {
        char* dst = scratch_.get() + n * max_;
        const size_t len = truncate_record(rec, max_, pen_, dst);
        if (len == 0) {
          if (n != 0) break;  // send what is batched first, keep the order
          // --udp-max is below this record's header: it cannot be sent at all.
          counters_.output_write_errors.inc();
          ++lost_;
          ++done_;
          ++taken;
          continue;
        }
        rec = std::string_view(dst, len);
      }
      iov[n].iov_base = const_cast<char*>(rec.data());
      iov[n].iov_len = rec.size();
      msgs[n] = mmsghdr{};
      msgs[n].msg_hdr.msg_name = &dst_.addr;
      msgs[n].msg_hdr.msg_namelen = dst_.len;
      msgs[n].msg_hdr.msg_iov = &iov[n];
      msgs[n].msg_hdr.msg_iovlen = 1;
      ++n;
    }
    if (n == 0) continue;
    const int r = sendmmsg(fd_, msgs, static_cast<unsigned>(n), 0);
    if (r < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ENOBUFS) {
        return taken;  // the socket buffer is full: the rest waits in the queue
      }
      // The first datagram cannot be sent (no route, too big for the path, ...): it is lost.
      if (!reported_) {
        std::fprintf(stderr, "flowscribe: output %s: send to %s failed: %s (counted in "
                     "output_dropped; reported once)\n",
                     name_.c_str(), dst_.text.c_str(), std::strerror(errno));
        reported_ = true;
      }
      counters_.output_write_errors.inc();
      ++lost_;
      ++done_;
      ++taken;
      continue;
    }
    const size_t sent = static_cast<size_t>(r);
    counters_.output_batches.inc();
    const char* cut_lo = scratch_.get();
    const char* cut_hi = cut_lo + kUdpBatch * max_;
    for (size_t k = 0; k < sent; ++k) {
      counters_.output_bytes.inc(iov[k].iov_len);
      const char* b = static_cast<const char*>(iov[k].iov_base);
      if (b >= cut_lo && b < cut_hi) counters_.output_truncated.inc();
    }
    done_ += sent;
    taken += sent;
    if (sent < n) return taken;
  }
  return taken;
}

Acked UdpTransport::take_acked(Nanos) {
  Acked a{done_, lost_};
  done_ = 0;
  lost_ = 0;
  return a;
}

// --------------------------------------------------------------------------- TLS context

absl::StatusOr<SSL_CTX*> make_tls_context(const NetConfig& net) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return absl::InternalError(cat("TLS: ", ssl_errors()));
  auto fail = [&](std::string msg) {
    SSL_CTX_free(ctx);
    return absl::InvalidArgumentError(msg);
  };
  // RFC 5425 section 4.2 needs TLS 1.2 as a minimum today (RFC 9662 updates it so).
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (!net.tls_ca.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, net.tls_ca.c_str(), nullptr) != 1) {
      return fail(cat("--tls-ca ", net.tls_ca, ": cannot load CA certificates: ", ssl_errors()));
    }
  } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
    return fail(cat("TLS: cannot load the system CA store: ", ssl_errors()));
  }
  if (!net.tls_cert.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, net.tls_cert.c_str()) != 1) {
      return fail(cat("--tls-cert ", net.tls_cert, ": ", ssl_errors()));
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, net.tls_key.c_str(), SSL_FILETYPE_PEM) != 1) {
      return fail(cat("--tls-key ", net.tls_key, ": ", ssl_errors()));
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
      return fail(cat("--tls-key ", net.tls_key, " does not match --tls-cert ", net.tls_cert));
    }
  }
  // SSL_write returns after each TLS record, and a retry after WANT_WRITE may pass the same
  // bytes from another address (the queue hands out views, not one fixed buffer).
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Collectors often close without close_notify; that is an EOF like any other to us.
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  return ctx;
}

// --------------------------------------------------------------------------- TCP / TLS

absl::StatusOr<std::unique_ptr<StreamTransport>> StreamTransport::open(
    const OutputSpec& spec, const NetConfig& net, OutputCounters& counters) {
  absl::StatusOr<std::vector<SockAddr>> addrs = resolve(spec.host, spec.port, SOCK_STREAM);
  if (!addrs.ok()) return addrs.status();
  SSL_CTX* ctx = nullptr;
  if (spec.scheme == Scheme::kTls) {
    absl::StatusOr<SSL_CTX*> c = make_tls_context(net);
    if (!c.ok()) return c.status();
    ctx = *c;
  }
  return std::unique_ptr<StreamTransport>(
      new StreamTransport(*std::move(addrs), spec, net.framing, ctx, counters));
}

StreamTransport::StreamTransport(std::vector<SockAddr> addrs, OutputSpec spec,
                                 TcpFraming framing, SSL_CTX* tls, OutputCounters& counters)
    : addrs_(std::move(addrs)),
      spec_(std::move(spec)),
      framing_(framing),
      tls_ctx_(tls),
      counters_(counters) {
  tls_buf_.reserve(kTlsChunk + kMaxIov * 8);
}

StreamTransport::~StreamTransport() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (fd_ >= 0) ::close(fd_);
  if (tls_ctx_ != nullptr) SSL_CTX_free(tls_ctx_);
}

void StreamTransport::set_health(Health h) {
  if (health_.load(std::memory_order_relaxed) == static_cast<uint8_t>(h)) return;
  health_since_.store(now_, std::memory_order_relaxed);
  health_.store(static_cast<uint8_t>(h), std::memory_order_relaxed);
}

namespace {

Nanos mono_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<Nanos>(ts.tv_sec) * kNsPerSec + static_cast<Nanos>(ts.tv_nsec);
}

const char* health_name(StreamTransport::Health h) {
  switch (h) {
    case StreamTransport::Health::kIdle:
      return "idle";
    case StreamTransport::Health::kConnecting:
      return "connecting";
    case StreamTransport::Health::kUp:
      return "up";
    case StreamTransport::Health::kDown:
      return "down";
  }
  return "?";
}

}  // namespace

std::string StreamTransport::health_text() const {
  const Health h = health();
  if (h == Health::kIdle) return "idle";
  const Nanos since = health_since_.load(std::memory_order_relaxed);
  const Nanos now = mono_now();
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s %.1fs", health_name(h),
                now > since ? static_cast<double>(now - since) / 1e9 : 0.0);
  return buf;
}

void StreamTransport::start_connect() {
  const SockAddr& a = addrs_[addr_i_];
  set_health(Health::kConnecting);
  fd_ = ::socket(a.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    fail(cat("socket: ", std::strerror(errno)), false);
    return;
  }
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&a.addr), a.len) == 0) {
    connected();
  } else if (errno == EINPROGRESS) {
    state_ = State::kConnecting;
    deadline_ = now_ + kConnectTimeout;
  } else {
    fail(cat("connect to ", a.text, ": ", std::strerror(errno)), false);
  }
}

void StreamTransport::connected() {
  int one = 1;
  // Batches are large already; a short last batch should not wait for Nagle.
  (void)setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  (void)setsockopt(fd_, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  if (tls_ctx_ == nullptr) {
    became_up();
  } else {
    ERR_clear_error();
    ssl_ = SSL_new(tls_ctx_);
    if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) {
      fail(cat("TLS: ", ssl_errors()), false);
      return;
    }
    // RFC 5425 section 5.2: the server is identified by its name (or address) in the
    // certificate; SNI (RFC 6066) carries names only, never an address.
    if (is_ip_literal(spec_.host)) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), spec_.host.c_str());
    } else {
      SSL_set1_host(ssl_, spec_.host.c_str());
      SSL_set_tlsext_host_name(ssl_, spec_.host.c_str());
    }
    SSL_set_connect_state(ssl_);
    state_ = State::kHandshake;
    deadline_ = now_ + kConnectTimeout;
  }
}

void StreamTransport::became_up() {
  state_ = State::kUp;
  set_health(Health::kUp);
  if (ever_up_ && !last_error_.empty()) {
    std::fprintf(stderr, "flowscribe: output %s: connected to %s again after %.1f s\n",
                 spec_.text.c_str(), addrs_[addr_i_].text.c_str(),
                 static_cast<double>(now_ - down_since_) / 1e9);
  }
  counters_.output_connects.inc();
  ever_up_ = true;
  last_error_.clear();
  backoff_ = kBackoffMin;
  partial_ = 0;
  inflight_.clear();
  pending_.clear();
  written_ = 0;
  acked_ = 0;
  tls_pending_ = 0;
  closing_ = false;
  peer_done_ = false;
}

void StreamTransport::fail(std::string_view why, bool was_up) {
  if (ssl_ != nullptr) {
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (was_up) {
    counters_.output_disconnects.inc();
    reset_ = true;
    down_since_ = now_;
    inflight_.clear();
    pending_.clear();
    partial_ = 0;
    closing_ = false;
  } else {
    counters_.output_connect_failures.inc();
    if (down_since_ == 0) down_since_ = now_;
  }
  state_ = State::kIdle;
  set_health(Health::kDown);
  const std::string msg(why);
  if (!was_up && addr_i_ + 1 < addrs_.size()) {
    // Other addresses of the name first (localhost: ::1, then 127.0.0.1), then back off.
    ++addr_i_;
    start_connect();
    return;
  }
  addr_i_ = 0;
  next_attempt_ = now_ + backoff_;
  if (msg != last_error_) {
    std::fprintf(stderr, "flowscribe: output %s: %s (retrying every %.1f-%.0f s; records %s)\n",
                 spec_.text.c_str(), msg.c_str(), static_cast<double>(backoff_) / 1e9,
                 static_cast<double>(kBackoffMax) / 1e9,
                 group_member_ ? "go to the next member of the fail-over group, or wait in the "
                                 "queue"
                               : "wait in the queue");
    last_error_ = msg;
  }
  backoff_ = std::min(backoff_ * 2, kBackoffMax);
}

bool StreamTransport::up(Nanos now) {
  now_ = now;
  if (state_ == State::kUp) return true;
  if (state_ == State::kIdle) {
    if (now < next_attempt_) return false;
    start_connect();
  }
  if (state_ == State::kConnecting) {
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, 0) > 0) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        fail(cat("connect to ", addrs_[addr_i_].text, ": ", std::strerror(err)), false);
      } else {
        connected();
      }
    } else if (now >= deadline_) {
      fail(cat("connect to ", addrs_[addr_i_].text, ": timed out"), false);
    }
  }
  if (state_ == State::kHandshake) {
    ERR_clear_error();
    const int r = SSL_do_handshake(ssl_);
    if (r == 1) {
      became_up();
    } else {
      const int err = SSL_get_error(ssl_, r);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        if (now >= deadline_) fail(cat("TLS handshake with ", addrs_[addr_i_].text, ": timed out"), false);
      } else {
        const long v = SSL_get_verify_result(ssl_);
        std::string why = v != X509_V_OK
                              ? cat("certificate of ", addrs_[addr_i_].text,
                                    " not accepted: ", X509_verify_cert_error_string(v))
                              : cat("TLS handshake with ", addrs_[addr_i_].text, " failed: ",
                                    err == SSL_ERROR_SYSCALL && errno != 0
                                        ? std::string(std::strerror(errno))
                                        : ssl_errors());
        fail(why, false);
      }
    }
  }
  return state_ == State::kUp;
}

StreamTransport::Peer StreamTransport::peer_state() {
  char buf[4096];
  if (ssl_ == nullptr) {
    for (int i = 0; i < 16; ++i) {
      const ssize_t r = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (r == 0) return Peer::kEof;
      if (r < 0) {
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? Peer::kOpen
                                                                          : Peer::kError;
      }
      // A collector has nothing to say; whatever it sent is read and ignored.
    }
    return Peer::kOpen;
  }
  for (int i = 0; i < 16; ++i) {
    ERR_clear_error();
    const int r = SSL_read(ssl_, buf, sizeof buf);
    if (r > 0) continue;  // TLS 1.3 session tickets and the like: nothing for us
    const int err = SSL_get_error(ssl_, r);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return Peer::kOpen;
    // close_notify, or a plain EOF (SSL_OP_IGNORE_UNEXPECTED_EOF); an alert (say, a client
    // certificate the collector refused after a TLS 1.3 handshake) is an error.
    return err == SSL_ERROR_ZERO_RETURN ? Peer::kEof : Peer::kError;
  }
  return Peer::kOpen;
}

size_t StreamTransport::frame_len(std::string_view line) const {
  if (framing_ == TcpFraming::kLf) return line.size();
  const size_t body = line.size() - 1;  // without the '\n'
  return digits(body) + 1 + body;
}

size_t StreamTransport::send(std::span<const std::string_view> lines) {
  if (state_ != State::kUp || lines.empty()) return 0;
  if (closing_) return 0;
  if (tls_pending_ == 0 && peer_state() != Peer::kOpen) {
    fail(cat("the collector at ", addrs_[addr_i_].text, " closed the connection"), true);
    return 0;
  }
  ssize_t n = 0;
  size_t nframes = 0;
  if (ssl_ == nullptr) {
    iovec iov[kMaxIov];
    char prefix[kMaxIov / 2][24];
    size_t niov = 0;
    size_t skip = partial_;
    auto add = [&](const char* p, size_t len) {
      if (skip >= len) {
        skip -= len;
        return;
      }
      p += skip;
      len -= skip;
      skip = 0;
      if (niov > 0 && static_cast<char*>(iov[niov - 1].iov_base) + iov[niov - 1].iov_len == p) {
        iov[niov - 1].iov_len += len;  // contiguous records in the queue: one iovec
      } else {
        iov[niov].iov_base = const_cast<char*>(p);
        iov[niov].iov_len = len;
        ++niov;
      }
    };
    for (std::string_view line : lines) {
      if (niov + 2 > kMaxIov) break;
      if (framing_ == TcpFraming::kLf) {
        add(line.data(), line.size());
      } else {
        char* pre = prefix[nframes % (kMaxIov / 2)];
        const size_t plen = static_cast<size_t>(put_len(pre, line.size() - 1) - pre);
        add(pre, plen);
        add(line.data(), line.size() - 1);
      }
      if (++nframes == kMaxIov / 2) break;
    }
    n = ::writev(fd_, iov, static_cast<int>(niov));
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
      fail(cat("write to ", addrs_[addr_i_].text, ": ", std::strerror(errno)), true);
      return 0;
    }
  } else {
    tls_buf_.clear();
    for (std::string_view line : lines) {
      const size_t start = tls_buf_.size();
      if (framing_ == TcpFraming::kLf) {
        tls_buf_.append(line);
      } else {
        char pre[24];
        tls_buf_.append(pre, static_cast<size_t>(put_len(pre, line.size() - 1) - pre));
        tls_buf_.append(line.data(), line.size() - 1);
      }
      if (nframes == 0) tls_buf_.erase(start, partial_);
      ++nframes;
      if (tls_buf_.size() >= kTlsChunk) break;
    }
    ERR_clear_error();
    const int r = SSL_write(ssl_, tls_buf_.data(), static_cast<int>(tls_buf_.size()));
    if (r <= 0) {
      const int err = SSL_get_error(ssl_, r);
      if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
        tls_pending_ = tls_buf_.size();  // the retry must offer at least these bytes
        return 0;
      }
      fail(cat("TLS write to ", addrs_[addr_i_].text, ": ",
               err == SSL_ERROR_SYSCALL && errno != 0 ? std::string(std::strerror(errno))
                                                      : ssl_errors()),
           true);
      return 0;
    }
    tls_pending_ = 0;
    n = r;
  }
  counters_.output_bytes.inc(static_cast<uint64_t>(n));
  counters_.output_batches.inc();
  written_ += static_cast<uint64_t>(n);
  // Which frames are now written whole? The first one had partial_ bytes out already.
  size_t left = static_cast<size_t>(n) + partial_;
  size_t done = 0;
  for (; done < nframes; ++done) {
    const size_t fl = frame_len(lines[done]);
    if (left < fl) break;
    left -= fl;
    inflight_.push_back(static_cast<uint32_t>(fl));
  }
  partial_ = left;
  return done;
}

Acked StreamTransport::take_acked(Nanos now) {
  now_ = now;
  Acked a;
  if (state_ != State::kUp || (inflight_.empty() && pending_.empty())) return a;
  if (now - last_ack_check_ < kAckCheckEvery && !closing_) return a;
  last_ack_check_ = now;
  int outq = 0;
  if (!inflight_.empty() && ::ioctl(fd_, SIOCOUTQ, &outq) == 0 && outq >= 0) {
    // Bytes the peer's TCP has ACKed on this connection. With TLS, written_ counts plaintext
    // and SIOCOUTQ ciphertext (larger), so this errs on the side of "not yet".
    const uint64_t unacked = static_cast<uint64_t>(outq);
    const uint64_t acked_total = written_ > unacked ? written_ - unacked : 0;
    size_t k = 0;
    while (!inflight_.empty() && acked_ + inflight_.front() <= acked_total) {
      acked_ += inflight_.front();
      inflight_.pop_front();
      ++k;
    }
    if (k != 0) pending_.push_back({k, now});
  }
  const Peer peer = peer_state();
  if (closing_) {
    if (peer == Peer::kEof && inflight_.empty()) peer_done_ = true;
    if (peer == Peer::kError) {
      fail(cat("the collector at ", addrs_[addr_i_].text, " reset the connection at exit"), true);
      return Acked{};
    }
    if (peer_done_ || now - closing_since_ >= kCloseWait) {
      // Confirmed by its close (or it keeps the connection open: then TCP's ACK is the best
      // there is).
      for (const Pending& p : pending_) a.records += p.frames;
      pending_.clear();
    }
    return a;
  }
  if (peer != Peer::kOpen) {
    fail(cat("the collector at ", addrs_[addr_i_].text, " closed the connection"), true);
    return Acked{};
  }
  while (!pending_.empty() && now - pending_.front().since >= kAckGrace) {
    a.records += pending_.front().frames;
    pending_.pop_front();
  }
  return a;
}

Acked StreamTransport::release_grace() {
  Acked a;
  for (const Pending& p : pending_) a.records += p.frames;
  pending_.clear();
  counters_.output_grace_cut.inc(a.records);
  return a;
}

bool StreamTransport::drain_close(Nanos now) {
  if (state_ != State::kUp) return true;
  if (!closing_) {
    if (pending_.empty() && inflight_.empty() && partial_ == 0) return true;  // all confirmed
    if (!inflight_.empty() || partial_ != 0 || tls_pending_ != 0) return false;
    if (ssl_ != nullptr) {
      ERR_clear_error();
      (void)SSL_shutdown(ssl_);  // close_notify (RFC 5425 section 4.4)
    }
    ::shutdown(fd_, SHUT_WR);
    closing_ = true;
    closing_since_ = now;
    last_ack_check_ = 0;
    return false;
  }
  return pending_.empty() && inflight_.empty();
}

bool StreamTransport::take_reset() {
  const bool r = reset_;
  reset_ = false;
  return r;
}

void StreamTransport::close() {
  if (ssl_ != nullptr && state_ == State::kUp && !closing_) {
    ERR_clear_error();
    (void)SSL_shutdown(ssl_);  // close_notify (RFC 5425 section 4.4); no wait for the reply
  }
  if (ssl_ != nullptr) {
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  state_ = State::kIdle;
  set_health(Health::kIdle);
}

// --------------------------------------------------------------------------- fail-over

FailoverTransport::FailoverTransport(std::vector<std::unique_ptr<StreamTransport>> members,
                                     std::string name, OutputCounters& counters)
    : members_(std::move(members)),
      name_(std::move(name)),
      counters_(counters),
      delivered_(new std::atomic<uint64_t>[members_.size()]) {
  for (size_t i = 0; i < members_.size(); ++i) {
    delivered_[i].store(0);
    members_[i]->set_group_member();
  }
}

FailoverTransport::~FailoverTransport() = default;

bool FailoverTransport::reset_pending() const noexcept {
  for (const auto& m : members_) {
    if (m->reset_pending()) return true;
  }
  return false;
}

void FailoverTransport::activate(size_t k, const char* why) {
  const size_t old = active();
  if (k == old) return;
  active_.store(k, std::memory_order_relaxed);
  counters_.output_failovers.inc();
  std::fprintf(stderr, "flowscribe: output %s: records now go to %s (%s %s)\n", name_.c_str(),
               members_[k]->name().c_str(), members_[old]->name().c_str(), why);
}

bool FailoverTransport::up(Nanos now) {
  // A member lost its connection: the output rewinds (take_reset) before anything is sent
  // anywhere, so the records it had not confirmed go first, to whichever member is next.
  if (reset_pending()) return false;
  size_t a = active();
  // Members ahead of the active one are retried on their own backoff; the first that is up
  // is switched to.
  if (switch_to_ < 0) {
    for (size_t j = 0; j < a; ++j) {
      if (members_[j]->up(now)) {
        switch_to_ = static_cast<int>(j);
        break;
      }
    }
  }
  if (switch_to_ >= 0) {
    StreamTransport& cur = *members_[a];
    const bool cur_up = cur.up(now);
    if (cur_up && !cur.quiet()) return true;  // send() holds records until it is quiet
    if (reset_pending()) return false;
    if (cur_up) cur.close();                  // quiet: nothing to lose or repeat
    activate(static_cast<size_t>(switch_to_),
             cur_up ? "was the fallback: this member is up again" : "is down");
    switch_to_ = -1;
    a = active();
  }
  StreamTransport& cur = *members_[a];
  if (cur.up(now)) return true;
  if (cur.connecting() || reset_pending()) return false;
  // The active member is down: the next one not waiting out a backoff takes over.
  for (size_t k = a + 1; k < members_.size(); ++k) {
    if (members_[k]->backing_off(now)) continue;
    activate(k, "is down");
    return members_[k]->up(now);
  }
  return false;
}

size_t FailoverTransport::send(std::span<const std::string_view> lines) {
  if (switch_to_ >= 0 || reset_pending()) return 0;
  return members_[active()]->send(lines);
}

Acked FailoverTransport::take_acked(Nanos now) {
  const size_t a = active();
  const Acked r = members_[a]->take_acked(now);
  if (r.records > r.lost) delivered_[a].fetch_add(r.records - r.lost, std::memory_order_relaxed);
  return r;
}

Acked FailoverTransport::release_grace() {
  const size_t a = active();
  const Acked r = members_[a]->release_grace();
  if (r.records > r.lost) delivered_[a].fetch_add(r.records - r.lost, std::memory_order_relaxed);
  return r;
}

bool FailoverTransport::take_reset() {
  bool r = false;
  for (auto& m : members_) r |= m->take_reset();
  return r;
}

bool FailoverTransport::drain_close(Nanos now) {
  if (switch_to_ >= 0) return false;
  return members_[active()]->drain_close(now);
}

void FailoverTransport::close() {
  for (auto& m : members_) m->close();
}

void FailoverTransport::retry_now() {
  for (auto& m : members_) m->retry_now();
}

bool FailoverTransport::connecting() const {
  if (members_[active()]->connecting()) return true;
  // At exit: a member ahead of the active one may still be trying.
  for (const auto& m : members_) {
    if (m->connecting()) return true;
  }
  return false;
}

std::string FailoverTransport::health_text() const {
  std::string s;
  const size_t a = active();
  for (size_t i = 0; i < members_.size(); ++i) {
    if (i) s += ", ";
    s += cat(members_[i]->name(), " ", members_[i]->health_text(), " ",
             delivered_[i].load(std::memory_order_relaxed), " delivered",
             i == a ? " (active)" : "");
  }
  return s;
}

// --------------------------------------------------------------------------- factory

absl::StatusOr<std::unique_ptr<Transport>> make_transport(const OutputSpec& spec,
                                                          const NetConfig& net,
                                                          OutputCounters& counters) {
  switch (spec.scheme) {
    case Scheme::kFile: {
      absl::StatusOr<std::unique_ptr<FileSink>> f = FileSink::open(spec.path, net.file);
      if (!f.ok()) return f.status();
      const FileSinkStats* stats = &(*f)->stats();
      return std::unique_ptr<Transport>(
          new SinkTransport(*std::move(f), spec.text, counters, stats));
    }
    case Scheme::kStdout: {
      absl::StatusOr<std::unique_ptr<Sink>> s = make_sink(spec.text);
      if (!s.ok()) return s.status();
      return std::unique_ptr<Transport>(new SinkTransport(*std::move(s), spec.text, counters));
    }
    case Scheme::kUdp: {
      auto t = UdpTransport::open(spec, net, counters);
      if (!t.ok()) return t.status();
      return std::unique_ptr<Transport>(*std::move(t));
    }
    case Scheme::kTcp:
    case Scheme::kTls: {
      auto t = StreamTransport::open(spec, net, counters);
      if (!t.ok()) return t.status();
      return std::unique_ptr<Transport>(*std::move(t));
    }
    case Scheme::kFailover: {
      std::vector<std::unique_ptr<StreamTransport>> members;
      for (const OutputSpec& m : spec.members) {
        auto t = StreamTransport::open(m, net, counters);
        if (!t.ok()) {
          return absl::Status(t.status().code(), cat(m.text, ": ", std::string(t.status().message())));
        }
        members.push_back(*std::move(t));
      }
      return std::unique_ptr<Transport>(
          new FailoverTransport(std::move(members), spec.text, counters));
    }
  }
  return absl::InternalError("unknown output scheme");
}

}  // namespace flowscribe::emit
