#include "sensor/options.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <string_view>


#include "common/strings.h"
#include "emit/format.h"
#include "emit/sink.h"
#include "emit/transport.h"

namespace flowscribe::sensor {
namespace {

using Setter = std::function<absl::Status(Options&, std::string_view)>;

struct Flag {
  const char* name;   // without the leading "--"
  const char* arg;    // nullptr for a switch
  const char* group;
  const char* help;
  Setter set;
};

absl::Status bad(std::string_view flag, std::string_view what, std::string_view got) {
  return absl::InvalidArgumentError(cat("--", flag, ": ", what, ", got '", got, "'"));
}

template <typename T>
Setter uint_flag(T Options::*field, uint64_t lo, uint64_t hi, const char* name) {
  return [=](Options& o, std::string_view v) -> absl::Status {
    uint64_t x = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
    if (v.empty() || ec != std::errc() || p != v.data() + v.size() || x < lo || x > hi) {
      return bad(name, cat("expected a whole number from ", lo, " to ", hi), v);
    }
    o.*field = static_cast<T>(x);
    return absl::OkStatus();
  };
}

Setter int_flag(int Options::*field, int lo, int hi, const char* name) {
  return [=](Options& o, std::string_view v) -> absl::Status {
    int x = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
    if (v.empty() || ec != std::errc() || p != v.data() + v.size() || x < lo || x > hi) {
      return bad(name, cat("expected a whole number from ", lo, " to ", hi), v);
    }
    o.*field = x;
    return absl::OkStatus();
  };
}

// A flag with two values: OFF sets FIELD false, ON sets it true.
Setter two_way_flag(bool Options::*field, const char* name, const char* off, const char* on) {
  return [=](Options& o, std::string_view v) -> absl::Status {
    if (v != off && v != on) return bad(name, cat("expected ", off, " or ", on), v);
    o.*field = v == on;
    return absl::OkStatus();
  };
}

Setter string_flag(std::string Options::*field, const char* name) {
  return [=](Options& o, std::string_view v) -> absl::Status {
    if (v.empty()) return bad(name, "expected a value", v);
    o.*field = std::string(v);
    return absl::OkStatus();
  };
}

const std::vector<Flag>& flags() {
  static const std::vector<Flag> kFlags = {
      // Input
      {"pcap", "FILE", "Input",
       "Offline mode: read a pcap or pcapng capture (Ethernet, Linux cooked v1/v2, raw IP, "
       "null/loopback, NFLOG, 802.11 and 802.11 radiotap link types), flush every flow at the "
       "end and exit. FILE may be - (standard input), a pipe or a FIFO carrying pcap or pcapng, "
       "read as it comes (zcat x.pcap.gz | flowscribe --pcap -). Repeatable, and FILE may be a "
       "directory (its files): several pcap or pcapng files (a tcpdump -C/-G series) are read in "
       "the order of their first packets as one capture, so sessions carry on across files. "
       "Implies --no-huge unless --hugepages is given.",
       [](Options& o, std::string_view v) -> absl::Status {
         if (v.empty()) return bad("pcap", "expected a file name", v);
         if (o.pcap.empty()) o.pcap = std::string(v);
         o.pcaps.emplace_back(v);
         return absl::OkStatus();
       }},
      {"pcap-reader", "file|net_pcap", "Input",
       "How --pcap reads the capture. 'file' (default): a thread on the main core's CPUs reads "
       "the pcap or pcapng file ahead, in 1 MiB blocks, into a 32 MiB ring, and the core that "
       "polls it copies each record into a packet buffer; the rare pre-2.4 and "
       "'modified' pcap formats still go through net_pcap. 'net_pcap': always through DPDK's "
       "net_pcap device (libpcap), as a live port would read it.",
       two_way_flag(&Options::pcap_net_pcap, "pcap-reader", "file", "net_pcap")},
      {"port", "PCI_ADDR|VDEV", "Input",
       "Live mode: capture from a DPDK port, either a PCI address bound to vfio-pci/igb_uio "
       "(0000:3b:00.0) or virtual-device arguments (net_memif0,role=client,socket=/run/x.sock; "
       "net_pcap0,rx_iface=eth1; net_af_packet0,iface=eth1). Repeatable.",
       [](Options& o, std::string_view v) -> absl::Status {
         if (v.empty()) return bad("port", "expected a PCI address or vdev arguments", v);
         o.ports.emplace_back(v);
         return absl::OkStatus();
       }},
      {"rxq", "N", "Input",
       "RX queues per port, spread over the workers by symmetric RSS (default: one per worker; "
       "capped by what the port supports; ports without RSS use the software dispatcher).",
       uint_flag(&Options::rxq, 1, 128, "rxq")},
      {"rx-desc", "N", "Input", "RX descriptors per queue (default 1024).",
       uint_flag(&Options::rx_desc, 64, 16384, "rx-desc")},
      {"burst", "N", "Input", "Packets per rx burst (default 32).",
       uint_flag(&Options::burst, 1, 512, "burst")},
      // Cores
      {"workers", "N", "Cores",
       "Worker cores (default: one per CPU left after the main, emitter and format cores, at "
       "least 1; "
       "1 in offline mode).",
       uint_flag(&Options::workers, 1, 128, "workers")},
      {"lcores", "LIST", "Cores",
       "CPUs for the workers, e.g. 2-9,12 (sets --workers to the count).",
       [](Options& o, std::string_view v) { return parse_cpu_list(v, o.lcores, "lcores"); }},
      {"emitter-core", "N", "Cores",
       "CPU of the emitter core that formats and sends records (default: the first CPU not "
       "used by the main core).",
       int_flag(&Options::emitter_core, 0, 4095, "emitter-core")},
      {"format-cores", "N", "Cores",
       "Extra cores that format records for the emitter (default 0: the emitter formats and "
       "sends). One core formats 2-3 million records/s; add format cores when the stats "
       "line's records/s nears that, or worker_record_ring_full grows while the workers are "
       "not busy (docs/architecture.md, \"Format cores\"). They take CPUs no other core uses, "
       "else the emitter's.",
       uint_flag(&Options::format_cores, 0, 64, "format-cores")},
      {"format-lcores", "LIST", "Cores",
       "CPUs for the format cores, e.g. 18-19 (sets --format-cores to the count).",
       [](Options& o, std::string_view v) { return parse_cpu_list(v, o.format_lcores, "format-lcores"); }},
      {"main-core", "N", "Cores",
       "CPU of the main core (stats, signals; mostly asleep). Default: the first allowed CPU.",
       int_flag(&Options::main_core, 0, 4095, "main-core")},
      {"dispatcher", nullptr, "Cores",
       "Force the software dispatcher (one extra core reads the ports and spreads packets to "
       "workers by a symmetric flow hash) even when the ports have enough RSS queues; with one "
       "worker it takes the port reads (or the pcap file's reads) off the worker's core.",
       [](Options& o, std::string_view) {
         o.dispatcher = true;
         return absl::OkStatus();
       }},
      // Memory
      {"hugepages", nullptr, "Memory",
       "Require hugepages (default for live mode); fail with a clear message if none are free.",
       [](Options& o, std::string_view) {
         o.huge = HugeMode::kHuge;
         return absl::OkStatus();
       }},
      {"no-huge", nullptr, "Memory",
       "Run DPDK on ordinary pages (default for --pcap; fine for offline use and tests, slow "
       "for line rate).",
       [](Options& o, std::string_view) {
         o.huge = HugeMode::kNoHuge;
         return absl::OkStatus();
       }},
      {"mem", "MB", "Memory",
       "DPDK memory in MB (default 512 offline, 2048 live).",
       uint_flag(&Options::mem_mb, 64, 1024 * 1024, "mem")},
      {"flows-per-worker", "N", "Memory",
       "Flow table capacity per worker (default 1048576 live, 262144 offline); when full, "
       "the oldest idle flow is recycled and counted.",
       uint_flag(&Options::flows_per_worker, 1024, 1u << 26, "flows-per-worker")},
      {"record-ring", "N", "Memory",
       "Records in flight from each worker to the emitter (default 16384, a power of two is "
       "used).",
       uint_flag(&Options::record_ring, 64, 1u << 22, "record-ring")},
      {"app-states", "N", "Memory",
       "Flows being classified at once per worker (default 32768 live, 8192 offline; ~1.3 KiB "
       "each); a flow arriving when all are taken stays proto=unknown and is counted.",
       uint_flag(&Options::app_states, 64, 1u << 24, "app-states")},
      {"stream-chunks", "N", "Memory",
       "2 KiB buffers per worker for out-of-order TCP data (default 16384 live, 4096 offline).",
       uint_flag(&Options::stream_chunks, 16, 1u << 24, "stream-chunks")},
      // Protocols
      {"signatures", "FILE", "Protocols",
       "Add your own protocol signatures from FILE (format: docs/signatures.md); a bad line is "
       "reported with its line number.",
       string_flag(&Options::signatures, "signatures")},
      {"hs-cache", "DIR|off", "Protocols",
       "Keep the compiled Hyperscan signature databases in DIR and load them from there on the "
       "next start when nothing they were compiled from has changed (signatures, Hyperscan, "
       "CPU): a third of an offline run's start-up. Default: $XDG_CACHE_HOME/flowscribe or "
       "~/.cache/flowscribe; 'off': compile every time.",
       string_flag(&Options::hs_cache, "hs-cache")},
      {"apps", "FILE", "Protocols",
       "Add internet applications (domain suffix, application, category per line; format: "
       "docs/apps.md) to the built-in table that names the `app` of sessions from TLS SNI, "
       "HTTP Host and DNS names. Repeatable; later lines override earlier ones.",
       [](Options& o, std::string_view v) {
         o.apps.emplace_back(v);
         return absl::OkStatus();
       }},
      {"dissect-states", "N|NAME=N,...", "Memory",
       "Flows each dissector may read at once per worker: N for every dissector, NAME=N for "
       "one (tls=65536,http2=2048), or both (4096,tls=65536). Defaults: dns, http, starttls "
       "8192; ike, tlsup 4096; tls, socks 2048; http2 1024; opcua 512; openvpn 256. A "
       "classified flow arriving when all are taken is named but not dissected, and counted "
       "(app_dissect_exhausted); the summary says which dissector ran out and its peak.",
       [](Options& o, std::string_view v) {
         return parse_dissect_states(v, o.dissect_states, o.dissect_states_named);
       }},
      // Flows
      {"tcp-idle", "S", "Flows", "Idle timeout of established TCP (and SCTP) sessions (default 300 s).",
       uint_flag(&Options::tcp_idle_s, 1, 86400, "tcp-idle")},
      {"tcp-handshake", "S", "Flows",
       "Idle timeout of TCP (and SCTP) sessions whose handshake did not complete (default 30 s).",
       uint_flag(&Options::tcp_syn_s, 1, 86400, "tcp-handshake")},
      {"tcp-linger", "S", "Flows",
       "How long a TCP session closed by FIN or RST (an SCTP one by SHUTDOWN or ABORT) waits for stragglers (default 5 s).",
       uint_flag(&Options::tcp_closed_s, 0, 3600, "tcp-linger")},
      {"udp-idle", "S", "Flows", "Idle timeout of UDP sessions (default 60 s).",
       uint_flag(&Options::udp_idle_s, 1, 86400, "udp-idle")},
      {"other-idle", "S", "Flows", "Idle timeout of ICMP, GRE and other sessions (default 60 s).",
       uint_flag(&Options::other_idle_s, 1, 86400, "other-idle")},
      {"active-timeout", "S", "Flows",
       "Emit a session-update record for sessions open longer than this, and again every S "
       "seconds (default 1800; 0 = never).",
       uint_flag(&Options::active_timeout_s, 0, 7 * 86400, "active-timeout")},
      {"home-net", "CIDR,...", "Flows",
       "Your networks (e.g. 10.0.0.0/8,192.168.0.0/16,fd00::/8); sessions get "
       "locality=internal|inbound|outbound|external.",
       [](Options& o, std::string_view v) { return parse_cidr_list(v, o.home_net); }},
      // Output
      {"out", "DEST", "Output",
       "Where records go (repeatable, each output gets every record; default stdout): stdout, "
       "file:PATH, udp://HOST[:514], tcp://HOST[:601], tls://HOST[:6514], or a fail-over group "
       "failover:tcp://PRIMARY:601,tcp://BACKUP:601 (tcp/tls members, the first one up gets "
       "the records). Host names are resolved at start; see docs/siem.md.",
       [](Options& o, std::string_view v) -> absl::Status {
         if (v.empty()) return bad("out", "expected stdout, file:PATH or udp|tcp|tls://HOST:PORT", v);
         o.outs.emplace_back(v);
         return absl::OkStatus();
       }},
      {"udp-max", "BYTES", "Output",
       "Largest UDP datagram (default 2048, RFC 5426; 480 to 65507). Longer records are cut at "
       "a field boundary and marked [trunc@PEN len=\"N\"].",
       uint_flag(&Options::udp_max, 480, 65507, "udp-max")},
      {"tcp-framing", "MODE", "Output",
       "TCP/TLS framing (RFC 6587): octet-counting (default) or lf for old collectors.",
       two_way_flag(&Options::tcp_framing_lf, "tcp-framing", "octet-counting", "lf")},
      {"tls-ca", "FILE", "Output",
       "CA certificates (PEM) that tls:// collectors' certificates must chain to (default: the "
       "system store). The certificate must also name the host given in --out.",
       string_flag(&Options::tls_ca, "tls-ca")},
      {"tls-cert", "FILE", "Output",
       "Client certificate chain (PEM) for tls:// collectors that ask for one (with --tls-key).",
       string_flag(&Options::tls_cert, "tls-cert")},
      {"tls-key", "FILE", "Output", "Private key (PEM) of --tls-cert.",
       string_flag(&Options::tls_key, "tls-key")},
      {"out-queue-mb", "MB", "Output",
       "Memory queue of each output (default 64): records wait here while a collector is slow "
       "or away, then go to the spool.",
       uint_flag(&Options::out_queue_mb, 1, 65536, "out-queue-mb")},
      {"spool-dir", "DIR", "Output",
       "Spool tcp:// and tls:// records to disk here when their queue is full; kept across "
       "restarts and sent in order when the collector is back (default: no spool, such "
       "records are dropped and counted).",
       string_flag(&Options::spool_dir, "spool-dir")},
      {"spool-max-mb", "MB", "Output",
       "Disk cap of each output's spool (default 1024); past it records are dropped, counted, "
       "and reported in a 'drops' record.",
       uint_flag(&Options::spool_max_mb, 1, 1u << 24, "spool-max-mb")},
      {"format", "FMT", "Output",
       "Record format of every output: rfc5424 (default), json (JSON lines), cef (ArcSight) or "
       "leef (QRadar LEEF 2.0). Network outputs send json/cef/leef behind an RFC 5424 header, "
       "file: and stdout write the bare lines; see docs/records.md.",
       [](Options& o, std::string_view v) -> absl::Status {
         if (!emit::parse_line_format(v).ok()) {
           return bad("format", "expected rfc5424, json, cef or leef", v);
         }
         o.format = std::string(v);
         return absl::OkStatus();
       }},
      {"file-max-mb", "MB", "Output",
       "Rotate file: outputs before they pass MB (PATH -> PATH.1 -> PATH.2 ...; default 0 = "
       "never, e.g. for logrotate with SIGHUP).",
       uint_flag(&Options::file_max_mb, 0, 1u << 20, "file-max-mb")},
      {"file-rotate", "S", "Output",
       "Rotate a non-empty file: output every S seconds (checked when records arrive; default "
       "0 = never).",
       uint_flag(&Options::file_rotate_s, 0, 366 * 86400, "file-rotate")},
      {"file-keep", "N", "Output",
       "Rotated files kept per file: output, PATH.1 (newest) to PATH.N (default 10; 0 deletes "
       "the old file at rotation).",
       uint_flag(&Options::file_keep, 0, 100000, "file-keep")},
      {"file-fsync", "POLICY", "Output",
       "When file: outputs are fdatasync'ed: never (default: the kernel writes back within "
       "~30 s), batch (after every batch write) or a number of seconds.",
       [](Options& o, std::string_view v) -> absl::Status {
         if (!emit::parse_fsync_policy(v, emit::FileConfig{}).ok()) {
           return bad("file-fsync", "expected never, batch or seconds from 1 to 86400", v);
         }
         o.file_fsync = std::string(v);
         return absl::OkStatus();
       }},
      {"sensor-name", "NAME", "Output",
       "HOSTNAME field of every record (default: this machine's host name).",
       string_flag(&Options::sensor_name, "sensor-name")},
      {"pen", "N", "Output",
       "IANA Private Enterprise Number in the structured-data ids, as in flow@32473 (default "
       "32473, the documentation example number).",
       uint_flag(&Options::pen, 1, 4294967295u, "pen")},
      {"facility", "N", "Output", "Syslog facility 0..23 (default 16, local0).",
       int_flag(&Options::facility, 0, 23, "facility")},
      {"severity", "N", "Output", "Syslog severity 0..7 of every record (default 6, informational).",
       int_flag(&Options::severity, 0, 7, "severity")},
      {"stats-interval", "S", "Output",
       "Print a stats line on stderr every S seconds (default 10 live, 0 = off; off offline "
       "unless given).",
       [](Options& o, std::string_view v) -> absl::Status {
         double x = 0;
         if (!parse_double(v, x) || x < 0 || x > 86400) {
           return bad("stats-interval", "expected seconds from 0 to 86400", v);
         }
         o.stats_interval_s = x;
         return absl::OkStatus();
       }},
      // DPDK
      {"eal", "\"ARGS\"", "DPDK",
       "Extra DPDK EAL arguments, passed through as-is (e.g. \"--log-level=pmd.net.ice:debug\").",
       [](Options& o, std::string_view v) -> absl::Status {
         if (!o.eal_extra.empty()) o.eal_extra += ' ';
         o.eal_extra += std::string(v);
         return absl::OkStatus();
       }},
      {"file-prefix", "NAME", "DPDK",
       "Name of this instance's DPDK runtime directory (/var/run/dpdk/NAME: only the "
       "telemetry socket, removed at exit; no shared config or hugepage files are kept). "
       "Each concurrent instance needs its own: a name in use is refused (default "
       "flowscribe-<pid>).",
       string_flag(&Options::file_prefix, "file-prefix")},
      {"verbose", nullptr, "DPDK", "Show DPDK's own log lines on stderr.",
       [](Options& o, std::string_view) {
         o.verbose = true;
         return absl::OkStatus();
       }},
      {"version", nullptr, "Other", "Print the version and exit.",
       [](Options& o, std::string_view) {
         o.version = true;
         return absl::OkStatus();
       }},
      {"help", nullptr, "Other", "Print this help and exit.",
       [](Options& o, std::string_view) {
         o.help = true;
         return absl::OkStatus();
       }},
  };
  return kFlags;
}

const Flag* find_flag(std::string_view name) {
  for (const Flag& f : flags()) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

bool parse_ip(std::string_view text, uint8_t& version, IpAddr& out) {
  std::string s(text);
  out = IpAddr{};
  if (inet_pton(AF_INET, s.c_str(), out.b) == 1) {
    version = 4;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), out.b) == 1) {
    version = 6;
    return true;
  }
  return false;
}

}  // namespace

bool Cidr::contains(uint8_t version, const IpAddr& a) const noexcept {
  if (version != ip_version) return false;
  uint32_t full = prefix / 8;
  for (uint32_t i = 0; i < full; ++i) {
    if (a.b[i] != addr.b[i]) return false;
  }
  uint32_t rest = prefix % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff00 >> rest);
  return (a.b[full] & mask) == addr.b[full];
}

absl::Status parse_cidr_list(std::string_view text, std::vector<Cidr>& out) {
  for (std::string_view item : split(text, ',')) {
    item = strip(item);
    Cidr c{};
    std::string_view ip = item;
    std::string_view len;
    if (size_t slash = item.find('/'); slash != std::string_view::npos) {
      ip = item.substr(0, slash);
      len = item.substr(slash + 1);
    }
    if (!parse_ip(ip, c.ip_version, c.addr)) {
      return bad("home-net", "expected CIDR blocks like 10.0.0.0/8,fd00::/8", item);
    }
    uint32_t max = c.ip_version == 4 ? 32 : 128;
    uint32_t p = max;
    if (!len.empty() && (!parse_uint(len, p) || p > max)) {
      return bad("home-net", cat("prefix length must be 0..", max), item);
    }
    c.prefix = static_cast<uint8_t>(p);
    // Mask host bits so contains() compares whole bytes.
    for (uint32_t bit = p; bit < 128; ++bit) c.addr.b[bit / 8] &= ~(0x80 >> (bit % 8));
    out.push_back(c);
  }
  if (out.empty()) return bad("home-net", "expected at least one CIDR block", text);
  return absl::OkStatus();
}

absl::Status parse_dissect_states(std::string_view text, uint32_t& all,
                                  std::vector<std::pair<std::string, uint32_t>>& named) {
  if (strip(text).empty()) return bad("dissect-states", "expected N or NAME=N,...", text);
  for (std::string_view item : split(text, ',')) {
    item = strip(item);
    const size_t eq = item.find('=');
    const std::string_view name = eq == std::string_view::npos ? "" : strip(item.substr(0, eq));
    const std::string_view num = eq == std::string_view::npos ? item : strip(item.substr(eq + 1));
    uint32_t n = 0;
    if (!parse_uint(num, n) || n < 16 || n > (1u << 24) ||
        (eq != std::string_view::npos && name.empty())) {
      return bad("dissect-states",
                 "expected N or NAME=N (N a whole number from 16 to 16777216), comma-separated",
                 item);
    }
    if (eq == std::string_view::npos) {
      all = n;
      continue;
    }
    auto same = std::find_if(named.begin(), named.end(),
                             [&](const auto& e) { return e.first == name; });
    if (same != named.end()) {
      same->second = n;  // the later setting of a name wins
    } else {
      named.emplace_back(std::string(name), n);
    }
  }
  return absl::OkStatus();
}

absl::Status parse_cpu_list(std::string_view text, std::vector<uint32_t>& out,
                            std::string_view flag) {
  for (std::string_view item : split(text, ',')) {
    uint32_t lo = 0, hi = 0;
    item = strip(item);
    std::vector<std::string_view> ends = split(item, '-', false);
    bool ok = ends.size() <= 2 && parse_uint(ends[0], lo);
    hi = lo;
    if (ok && ends.size() == 2) ok = parse_uint(ends[1], hi);
    if (!ok || hi < lo || hi > 4095) {
      return bad(flag, "expected a CPU list like 2-9,12", item);
    }
    for (uint32_t c = lo; c <= hi; ++c) out.push_back(c);
  }
  if (out.empty()) return bad(flag, "expected a CPU list like 2-9,12", text);
  return absl::OkStatus();
}

absl::StatusOr<Options> parse_options(int argc, const char* const* argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "-h") a = "--help";
    if (!consume_prefix(a, "--")) {
      return absl::InvalidArgumentError(
          cat("unexpected argument '", argv[i], "' (flags start with --; see --help)"));
    }
    std::string_view name = a;
    std::string_view value;
    bool has_value = false;
    if (size_t eq = a.find('='); eq != std::string_view::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      has_value = true;
    }
    const Flag* f = find_flag(name);
    if (f == nullptr) {
      return absl::InvalidArgumentError(cat("unknown flag --", name, " (see --help)"));
    }
    if (f->arg != nullptr && !has_value) {
      if (i + 1 >= argc) {
        return absl::InvalidArgumentError(cat("--", name, " needs a value (", f->arg, ")"));
      }
      value = argv[++i];
    } else if (f->arg == nullptr && has_value) {
      return absl::InvalidArgumentError(cat("--", name, " takes no value"));
    }
    if (absl::Status s = f->set(o, value); !s.ok()) return s;
  }
  if (o.help || o.version) return o;

  if (o.pcap.empty() && o.ports.empty()) {
    return absl::InvalidArgumentError("nothing to capture: give --pcap FILE or --port PORT (see --help)");
  }
  if (!o.pcap.empty() && !o.ports.empty()) {
    return absl::InvalidArgumentError("--pcap and --port cannot be combined");
  }
  if (!o.format_lcores.empty()) {
    if (o.format_cores != 0 && o.format_cores != o.format_lcores.size()) {
      return absl::InvalidArgumentError(cat("--format-cores ", o.format_cores,
                                            " disagrees with --format-lcores (",
                                            o.format_lcores.size(), " CPUs)"));
    }
    if (o.format_lcores.size() > 64) {
      return absl::InvalidArgumentError("--format-lcores: at most 64 CPUs");
    }
    o.format_cores = static_cast<uint32_t>(o.format_lcores.size());
  }
  if (!o.lcores.empty()) {
    if (o.workers != 0 && o.workers != o.lcores.size()) {
      return absl::InvalidArgumentError(cat("--workers ", o.workers, " disagrees with --lcores (",
                                                     o.lcores.size(), " CPUs)"));
    }
    o.workers = static_cast<uint32_t>(o.lcores.size());
  }
  if (o.outs.empty()) o.outs.emplace_back("stdout");
  bool any_tls = false;
  for (const std::string& out : o.outs) {
    absl::StatusOr<emit::OutputSpec> spec = emit::parse_output_spec(out);
    if (!spec.ok()) return absl::InvalidArgumentError(cat("--out: ", std::string(spec.status().message())));
    any_tls = any_tls || spec->scheme == emit::Scheme::kTls;
  }
  if (o.tls_cert.empty() != o.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  if (!any_tls && (!o.tls_ca.empty() || !o.tls_cert.empty())) {
    return absl::InvalidArgumentError("--tls-ca/--tls-cert/--tls-key need a tls:// output");
  }
  return o;
}

std::string usage_text() {
  std::string s =
      "Usage: flowscribe --pcap FILE [flags]          (offline: read a capture, then exit)\n"
      "       flowscribe --port PORT [--port PORT...] [flags]   (live: DPDK ports)\n"
      "\n"
      "flowscribe watches network traffic and writes one RFC 5424 syslog record per session\n"
      "(see docs/records.md). Flags take a value as --flag VALUE or --flag=VALUE.\n";
  const char* group = "";
  for (const Flag& f : flags()) {
    if (std::string_view(group) != f.group) {
      group = f.group;
      append(s, "\n", group, ":\n");
    }
    std::string head = cat("  --", f.name, f.arg ? cat(" ", f.arg) : "");
    append(s, head, "\n");
    // Wrap help at ~76 columns, indented.
    std::string_view help = f.help;
    std::string line = "      ";
    for (std::string_view word : split(help, ' ')) {
      if (line.size() + word.size() + 1 > 80 && line.size() > 6) {
        append(s, line, "\n");
        line = "      ";
      }
      if (line.size() > 6) line += ' ';
      append(line, word);
    }
    append(s, line, "\n");
  }
  absl::StrAppend(&s,
                  "\nExit status: 0 on success; 1 when the capture was damaged or an output failed;\n"
                  "2 for bad flags, unreadable files or an environment DPDK cannot start in.\n");
  return s;
}

}  // namespace flowscribe::sensor
