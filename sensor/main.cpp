// flowscribe: passive network sensor. main() owns the process: flags, EAL, ports, lcores,
// signals, the stats line and the summary. The data path lives in worker.cpp and emit/.
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_ring.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <thread>

#include <fmt/format.h>

#include "common/strings.h"
#include "dissectors/classify/classifier.h"
#include "emit/emitter.h"
#include "emit/format.h"
#include "emit/output.h"
#include "sensor/dpdk/eal.h"
#include "sensor/dpdk/port.h"
#include "sensor/options.h"
#include "sensor/match/hs_match.h"
#include "sensor/pcap_file.h"
#include "sensor/pcap_probe.h"
#include "sensor/pcap_source.h"
#include "sensor/stats.h"
#include "sensor/worker.h"

namespace fs = flowscribe;
using fs::cat;
using fs::sensor::Options;

namespace {

constexpr const char* kVersion = "0.1.0";
constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

std::atomic<bool>* g_stop = nullptr;
std::atomic<int> g_signals{0};
std::atomic<bool> g_hup{false};

void on_signal(int sig) {
  if (sig == SIGHUP) {
    g_hup.store(true);
    return;
  }
  g_signals.fetch_add(1);
  if (g_stop != nullptr) g_stop->store(true);
}

int fail(int code, std::string_view msg) {
  std::fprintf(stderr, "flowscribe: %.*s\n", static_cast<int>(msg.size()), msg.data());
  return code;
}
int fail(int code, const absl::Status& s) { return fail(code, std::string(s.message())); }

// --hs-cache: DIR, "off", or (empty) $XDG_CACHE_HOME/flowscribe, ~/.cache/flowscribe, none.
std::string hs_cache_dir(const std::string& flag) {
  if (flag == "off") return "";
  if (!flag.empty()) return flag;
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && xdg[0] == '/') return cat(xdg, "/flowscribe");
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] == '/') return cat(home, "/.cache/flowscribe");
  return "";
}

// Standard input, a pipe, a FIFO or a character device: read once, as it comes.
bool is_stream(const std::string& path) {
  if (path == "-") return true;
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return false;  // the probe says what is wrong
  return S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISSOCK(st.st_mode);
}

// --pcap DIR: the regular files in DIR (not hidden ones), by name; the series is put in time
// order later. Anything else is passed on as it is.
absl::Status expand_capture_dir(const std::string& path, std::vector<std::string>& out) {
  std::error_code ec;
  if (path == "-" || !std::filesystem::is_directory(path, ec)) {
    out.push_back(path);
    return absl::OkStatus();
  }
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(path, ec)) {
    if (e.path().filename().string().rfind('.', 0) == 0) continue;
    if (e.is_regular_file(ec)) files.push_back(e.path().string());
  }
  if (ec) return absl::InvalidArgumentError(cat("--pcap ", path, ": ", ec.message()));
  if (files.empty()) return absl::InvalidArgumentError(cat("--pcap ", path, ": no files in it"));
  std::sort(files.begin(), files.end());
  out.insert(out.end(), files.begin(), files.end());
  return absl::OkStatus();
}

// Several --pcap files: each must be a classic pcap file flowscribe's reader takes, of one link
// type. Returns them in the order of their first packets (stable: files with the same first
// time, or none, keep the command line's order), since shell globs put capture.pcap10 before
// capture.pcap2. Sets PROBE's link type from the first and BYTES to their total size.
absl::StatusOr<std::vector<std::string>> order_series(const Options& o,
                                                      const std::vector<std::string>& paths,
                                                      fs::sensor::PcapProbe& probe,
                                                      uint64_t& bytes, bool& any_pcapng) {
  if (o.pcap_net_pcap) {
    return absl::InvalidArgumentError("--pcap-reader net_pcap reads one capture: give one --pcap");
  }
  struct Item {
    std::string path;
    uint64_t first_ts;
    uint32_t linktype;
  };
  std::vector<Item> items;
  for (const std::string& path : paths) {
    if (is_stream(path)) {
      return absl::InvalidArgumentError(
          cat("--pcap ", path, ": standard input, a pipe or a FIFO can only be read alone, "
                               "not as part of several captures"));
    }
    absl::StatusOr<fs::sensor::PcapProbe> p = fs::sensor::probe_pcap(path, /*count=*/false);
    if (!p.ok()) return p.status();
    absl::StatusOr<fs::sensor::PcapFile::Summary> sum = fs::sensor::PcapFile::inspect(path);
    if (absl::IsUnimplemented(sum.status())) {
      return absl::InvalidArgumentError(
          cat("'", path, "' is ", std::string(sum.status().message()),
              ": several captures are read only as pcap or pcapng; convert it (editcap -F pcap) "
              "or read it alone"));
    }
    if (!sum.ok()) return sum.status();
    any_pcapng = any_pcapng || sum->pcapng;
    if (!items.empty() && sum->linktype != items[0].linktype) {
      return absl::InvalidArgumentError(
          cat("'", path, "' has link type ", fs::decode::link_type_name(sum->linktype), " and '",
              items[0].path, "' ", fs::decode::link_type_name(items[0].linktype),
              ": captures read together must share one link type"));
    }
    if (items.empty()) probe = *p;
    std::error_code ec;
    bytes += std::filesystem::file_size(path, ec);
    items.push_back({path, sum->first_ts_ns, sum->linktype});
  }
  std::stable_sort(items.begin(), items.end(),
                   [](const Item& a, const Item& b) { return a.first_ts < b.first_ts; });
  std::vector<std::string> out;
  for (Item& i : items) out.push_back(std::move(i.path));
  return out;
}

// The offline input, opened and checked before DPDK starts. A pcap or pcapng file is read by
// flowscribe itself (sensor/pcap_file.h), which finds the end and any damage on its own;
// anything else libpcap reads (old or modified pcap) goes through DPDK's net_pcap, and is
// read once first to count its packets (the probe). Standard input ("-"), a pipe or a FIFO
// can be read only once, as it comes: our reader takes it without a probe. Several files, or
// a directory's, are a series read as one capture in the order of their first packets.
struct OfflineInput {
  std::vector<std::string> paths;        // in reading order
  fs::sensor::PcapProbe probe;           // link type; packets and damage when net_pcap reads
  std::unique_ptr<fs::sensor::PcapFile> file;  // paths[0] opened, or null: net_pcap reads it
  std::string via;                       // why net_pcap reads it, for the banner
  bool stream = false;                   // a pipe: read once, size unknown
  uint64_t bytes = 0;                    // a series' size
};

absl::StatusOr<OfflineInput> open_offline_input(const Options& o) {
  OfflineInput in;
  for (const std::string& p : o.pcaps) {
    if (absl::Status st = expand_capture_dir(p, in.paths); !st.ok()) return st;
  }
  const std::string& pcap0 = in.paths[0];
  in.stream = in.paths.size() == 1 && is_stream(pcap0);
  if (in.paths.size() > 1) {
    bool any_pcapng = false;
    absl::StatusOr<std::vector<std::string>> series =
        order_series(o, in.paths, in.probe, in.bytes, any_pcapng);
    if (!series.ok()) return series.status();
    in.paths = *std::move(series);
    // A pcapng file later in the series is read through the first one's buffer: room for
    // its largest block from the start (the worker cannot allocate).
    absl::StatusOr<std::unique_ptr<fs::sensor::PcapFile>> f = fs::sensor::PcapFile::open(
        in.paths[0], any_pcapng ? fs::sensor::PcapFile::kPcapngBuffer : size_t{4} << 20);
    if (!f.ok()) return f.status();
    in.file = *std::move(f);
  } else if (in.stream) {
    const std::string name = pcap0 == "-" ? "standard input" : cat("'", pcap0, "'");
    if (o.pcap_net_pcap) {
      return absl::InvalidArgumentError(
          cat("--pcap-reader net_pcap needs a capture file, and ", name, " is a pipe"));
    }
    if (pcap0 == "-" && isatty(STDIN_FILENO)) {
      return absl::InvalidArgumentError(
          "--pcap -: standard input is a terminal; pipe a capture into it (zcat x.pcap.gz | "
          "flowscribe --pcap -)");
    }
    absl::StatusOr<std::unique_ptr<fs::sensor::PcapFile>> f = fs::sensor::PcapFile::open(pcap0);
    if (absl::IsUnimplemented(f.status())) {
      return absl::InvalidArgumentError(
          cat(name, " holds ", std::string(f.status().message()),
              ", which flowscribe reads only from a file: save it to one, or convert it to pcap "
              "(editcap -F pcap)"));
    }
    if (!f.ok()) return f.status();
    in.probe.linktype = (*f)->linktype();
    if (!fs::decode::link_type_supported(in.probe.linktype)) {
      return absl::InvalidArgumentError(
          cat(name, " has link type ", in.probe.linktype,
              ", which flowscribe does not decode (supported: Ethernet, Linux cooked v1/v2, raw "
              "IP, null/loopback, NFLOG, 802.11, 802.11 radiotap)"));
    }
    in.file = *std::move(f);
  } else {
    absl::StatusOr<fs::sensor::PcapProbe> p = fs::sensor::probe_pcap(pcap0, /*count=*/false);
    if (!p.ok()) return p.status();
    in.probe = *p;
    if (!o.pcap_net_pcap) {
      absl::StatusOr<std::unique_ptr<fs::sensor::PcapFile>> f = fs::sensor::PcapFile::open(pcap0);
      if (f.ok()) {
        in.file = *std::move(f);
      } else if (absl::IsUnimplemented(f.status())) {
        in.via = cat(std::string(f.status().message()), ": read through DPDK's net_pcap");
      } else {
        return f.status();
      }
    }
    if (in.file == nullptr) {
      p = fs::sensor::probe_pcap(pcap0);
      if (!p.ok()) return p.status();
      in.probe = *p;
    }
  }
  return in;
}

// "272.6 MiB" for the banner: the size of a capture whose packets are not counted up front.
std::string size_text(uintmax_t n) {
  char buf[32];
  if (n >= (uintmax_t{1} << 30)) {
    std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(n) / (1 << 30));
  } else if (n >= (uintmax_t{1} << 20)) {
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(n) / (1 << 20));
  } else {
    std::snprintf(buf, sizeof buf, "%ju bytes", n);
  }
  return buf;
}

std::string file_size_text(const std::string& path) {
  std::error_code ec;
  const uintmax_t n = std::filesystem::file_size(path, ec);
  return ec ? std::string("size unknown") : size_text(n);
}

std::string human(double v) {
  if (v >= 1e9) return fmt::format("{:.2f}G", v / 1e9);
  if (v >= 1e6) return fmt::format("{:.2f}M", v / 1e6);
  if (v >= 1e3) return fmt::format("{:.1f}k", v / 1e3);
  return fmt::format("{:.0f}", v);
}

bool is_pci_address(const std::string& s) {
  static const std::regex re("^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\\.[0-7]$");
  return std::regex_match(s, re);
}

int worker_main(void* arg) { return static_cast<fs::sensor::Worker*>(arg)->run(); }
int dispatcher_main(void* arg) { return static_cast<fs::sensor::Dispatcher*>(arg)->run(); }

struct EmitterArgs {
  fs::emit::Emitter* emitter;
  const std::atomic<bool>* done;
};
int emitter_main(void* arg) {
  auto* a = static_cast<EmitterArgs*>(arg);
  a->emitter->run(*a->done);
  return 0;
}

struct FormatCoreArgs {
  fs::emit::FormatCore* core;
  const std::atomic<bool>* done;
};
int format_core_main(void* arg) {
  auto* a = static_cast<FormatCoreArgs*>(arg);
  a->core->run(*a->done);
  return 0;
}

// Lays lcores on CPUs: main, emitter and workers on distinct CPUs when there are enough,
// otherwise sharing (and then every poll loop yields when idle).
fs::sensor::dpdk::LcorePlan plan_lcores(const Options& o, uint32_t workers, bool want_dispatcher) {
  std::vector<uint32_t> cpus = fs::sensor::dpdk::allowed_cpus();
  fs::sensor::dpdk::LcorePlan p;
  p.main_cpu = o.main_core >= 0 ? static_cast<uint32_t>(o.main_core) : cpus[0];
  std::vector<uint32_t> free;
  for (uint32_t c : cpus) {
    if (c != p.main_cpu) free.push_back(c);
  }
  if (free.empty()) free.push_back(p.main_cpu);
  size_t next = 0;
  auto take = [&]() { return free[next++ % free.size()]; };
  p.emitter_cpu = o.emitter_core >= 0 ? static_cast<uint32_t>(o.emitter_core) : take();
  if (o.emitter_core >= 0) {
    // Skip the user's emitter CPU for workers when we can.
    std::vector<uint32_t> rest;
    for (uint32_t c : free) {
      if (c != p.emitter_cpu) rest.push_back(c);
    }
    if (!rest.empty()) free = rest;
    next = 0;
  } else if (free.size() < 2 + (want_dispatcher ? 1 : 0)) {
    // Too few CPUs: the emitter shares with the main core (asleep most of the time) so the
    // workers keep a CPU of their own.
    p.emitter_cpu = p.main_cpu;
    next = 0;
  }
  if (want_dispatcher) {
    p.dispatcher = true;
    p.dispatcher_cpu = take();
  }
  for (uint32_t i = 0; i < workers; ++i) {
    p.worker_cpus.push_back(o.lcores.empty() ? take() : o.lcores[i]);
  }
  // Format cores: CPUs no other lcore has, if any are left; otherwise the emitter's, which
  // then has little left to do (the workers keep theirs).
  std::vector<uint32_t> unused;
  for (uint32_t c : cpus) {
    bool used = c == p.main_cpu || c == p.emitter_cpu || (p.dispatcher && c == p.dispatcher_cpu);
    for (uint32_t w : p.worker_cpus) used = used || c == w;
    if (!used) unused.push_back(c);
  }
  for (uint32_t i = 0; i < o.format_cores; ++i) {
    p.format_cpus.push_back(!o.format_lcores.empty() ? o.format_lcores[i]
                            : i < unused.size()      ? unused[i]
                                                     : p.emitter_cpu);
  }
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  absl::StatusOr<Options> parsed = fs::sensor::parse_options(argc, argv);
  if (!parsed.ok()) return fail(kExitUsage, parsed.status());
  Options o = *std::move(parsed);
  if (o.help) {
    std::fputs(fs::sensor::usage_text().c_str(), stdout);
    return kExitOk;
  }
  if (o.version) {
    std::printf("flowscribe %s\n", kVersion);
    return kExitOk;
  }
  const bool offline = !o.pcap.empty();

  // --- Everything that can be checked before DPDK starts is checked here, one line each.
  OfflineInput in;
  if (offline) {
    absl::StatusOr<OfflineInput> opened = open_offline_input(o);
    if (!opened.ok()) return fail(kExitUsage, opened.status());
    in = *std::move(opened);
  }
  fs::sensor::PcapProbe& probe = in.probe;
  std::unique_ptr<fs::sensor::PcapFile>& pcap_file = in.file;
  const std::vector<std::string>& pcap_paths = in.paths;
  const std::string pcap0 = pcap_paths.empty() ? std::string() : pcap_paths[0];
  const bool stream = in.stream;
  const std::string& pcap_via = in.via;
  const uint64_t pcap_bytes = in.bytes;
  bool huge = o.huge == fs::sensor::HugeMode::kHuge ||
              (o.huge == fs::sensor::HugeMode::kAuto && !offline);
  if (huge && fs::sensor::dpdk::free_hugepage_bytes() == 0) {
    return fail(kExitUsage,
                "no free hugepages: reserve some (e.g. 'dpdk-hugepages.py --setup 2G' and mount "
                "hugetlbfs) or run with --no-huge");
  }
  std::vector<uint32_t> cpus = fs::sensor::dpdk::allowed_cpus();
  uint32_t workers = o.workers;
  if (workers == 0) {
    workers = offline ? 1
                      : std::max<uint32_t>(1, static_cast<uint32_t>(cpus.size()) - 2 -
                                                  std::min<uint32_t>(o.format_cores,
                                                                     static_cast<uint32_t>(cpus.size())));
  }
  if (workers > 250) return fail(kExitUsage, "--workers: at most 250");
  bool want_dispatcher = o.dispatcher || (offline && workers > 1) || workers > 1;
  fs::sensor::dpdk::LcorePlan plan = plan_lcores(o, workers, want_dispatcher);
  // A CPU outside this process's affinity would make DPDK print its whole usage text.
  {
    auto allowed = [&](uint32_t c) { return std::find(cpus.begin(), cpus.end(), c) != cpus.end(); };
    std::vector<std::string> list;
    for (uint32_t c : cpus) list.push_back(cat(c));
    const std::string avail = cat(" is not available to this process (allowed CPUs: ",
                                  fs::join(list, ","), ")");
    auto check = [&](const char* flag, uint32_t c) -> std::string {
      return allowed(c) ? std::string() : cat(flag, ": CPU ", c, avail);
    };
    std::string err = check("--main-core", plan.main_cpu);
    if (err.empty()) err = check("--emitter-core", plan.emitter_cpu);
    for (uint32_t c : plan.worker_cpus) {
      if (err.empty()) err = check("--lcores", c);
    }
    for (uint32_t c : plan.format_cpus) {
      if (err.empty()) err = check("--format-lcores", c);
    }
    if (!err.empty()) return fail(kExitUsage, err);
  }

  // Outputs open before DPDK so a bad path, host name, certificate or spool is a clean error.
  fs::emit::NetConfig net;
  net.udp_max = o.udp_max;
  net.framing = o.tcp_framing_lf ? fs::emit::TcpFraming::kLf : fs::emit::TcpFraming::kOctetCounting;
  net.tls_ca = o.tls_ca;
  net.tls_cert = o.tls_cert;
  net.tls_key = o.tls_key;
  net.pen = o.pen;
  net.file.max_bytes = uint64_t{o.file_max_mb} << 20;
  net.file.rotate_s = o.file_rotate_s;
  net.file.keep = o.file_keep;
  if (auto f = fs::emit::parse_fsync_policy(o.file_fsync, net.file); f.ok()) {
    net.file = *f;
  } else {
    return fail(kExitUsage, cat("--file-fsync: ", std::string(f.status().message())));
  }
  fs::emit::OutputConfig ocfg;
  ocfg.queue_bytes = size_t{o.out_queue_mb} << 20;
  ocfg.spool_dir = o.spool_dir;
  ocfg.spool_max_bytes = uint64_t{o.spool_max_mb} << 20;
  std::vector<std::unique_ptr<fs::emit::Output>> outputs;
  for (const std::string& spec : o.outs) {
    absl::StatusOr<std::unique_ptr<fs::emit::Output>> out = fs::emit::Output::open(spec, net, ocfg);
    if (!out.ok()) return fail(kExitUsage, cat("--out ", spec, ": ", std::string(out.status().message())));
    outputs.push_back(*std::move(out));
  }
  fs::emit::FormatConfig fcfg;
  if (!o.sensor_name.empty()) {
    fcfg.hostname = o.sensor_name;
  } else {
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    fcfg.hostname = host;
  }
  fcfg.procid = std::to_string(getpid());
  fcfg.pen = o.pen;
  fcfg.facility = o.facility;
  fcfg.severity = o.severity;
  fcfg.run_id = fs::emit::random_run_id();
  fcfg.product_version = kVersion;
  if (auto f = fs::emit::parse_line_format(o.format); f.ok()) {
    fcfg.line_format = *f;
  } else {
    return fail(kExitUsage, cat("--format: ", std::string(f.status().message())));
  }
  if (absl::Status s = fs::emit::validate(fcfg); !s.ok()) return fail(kExitUsage, s);

  // Protocol signatures compile once, before DPDK, so a bad user pattern is a clean error;
  // unchanged databases come from the cache (--hs-cache).
  fs::match::set_cache_dir(hs_cache_dir(o.hs_cache));
  absl::StatusOr<std::shared_ptr<const fs::dissect::ClassifierDb>> classifier_db =
      fs::dissect::compile_classifier(o.signatures);
  if (!classifier_db.ok()) return fail(kExitUsage, classifier_db.status());
  absl::StatusOr<std::shared_ptr<const fs::dissect::AppDb>> app_db = fs::dissect::AppDb::load(o.apps);
  if (!app_db.ok()) return fail(kExitUsage, app_db.status());

  // --- DPDK
  fs::sensor::dpdk::EalConfig eal;
  eal.lcores = plan;
  eal.huge = huge;
  eal.mem_mb = o.mem_mb ? o.mem_mb : (offline ? 512 : 2048);
  eal.file_prefix = o.file_prefix.empty() ? cat("flowscribe-", getpid()) : o.file_prefix;
  eal.extra = o.eal_extra;
  eal.verbose = o.verbose;
  std::vector<std::string> port_specs;
  std::filesystem::path link_dir;
  if (offline && pcap_file == nullptr) {
    std::string path = pcap0;
    if (path.find_first_of(",=") != std::string::npos) {
      // vdev arguments are comma-separated key=value: reach odd file names through a link.
      link_dir = std::filesystem::temp_directory_path() / cat("flowscribe-", getpid());
      std::filesystem::create_directories(link_dir);
      std::filesystem::path link = link_dir / "capture";
      std::error_code ec;
      std::filesystem::create_symlink(std::filesystem::absolute(path), link, ec);
      if (ec) return fail(kExitUsage, cat("cannot link '", path, "': ", ec.message()));
      path = link.string();
    }
    port_specs.push_back(cat("net_pcap0,rx_pcap=", path));
    eal.vdevs.push_back(port_specs.back());
  } else {
    for (const std::string& p : o.ports) {
      if (is_pci_address(p)) {
        eal.pci_allow.push_back(p);
      } else if (p.rfind("net_", 0) == 0) {
        eal.vdevs.push_back(p);
      } else {
        return fail(kExitUsage, cat("--port: expected a PCI address (0000:3b:00.0) or "
                                             "vdev arguments starting with net_, got '", p, "'"));
      }
      port_specs.push_back(p);
    }
  }
  if (absl::Status s = fs::sensor::dpdk::eal_init(eal); !s.ok()) {
    if (!link_dir.empty()) std::filesystem::remove_all(link_dir);
    return fail(kExitUsage, s);
  }
  // After start-up DPDK may only warn us about real trouble.
  if (!o.verbose) {
    rte_openlog_stream(stderr);
    rte_log_set_global_level(RTE_LOG_WARNING);
  }
  int exit_code = kExitOk;
  // Format cores own DPDK rings: they go before the EAL does.
  std::vector<std::unique_ptr<fs::emit::FormatCore>> format_cores;
  auto cleanup = [&]() {
    format_cores.clear();
    fs::sensor::dpdk::eal_cleanup();
    if (!link_dir.empty()) std::filesystem::remove_all(link_dir);
  };

  fs::sensor::Shared shared;
  shared.offline = offline;
  shared.burst = o.burst;
  shared.home_net = o.home_net;
  shared.worker_count = workers;
  // Our reader says itself when the file is done; net_pcap's end is the probe's count.
  shared.expected_packets = pcap_file ? UINT64_MAX : probe.packets;
  shared.link = offline ? static_cast<fs::decode::LinkType>(probe.linktype)
                        : fs::decode::LinkType::kEthernet;
  g_stop = &shared.stop;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGHUP, on_signal);

  // mbufs: every RX descriptor, every burst in flight, the dispatcher rings, and slack.
  const uint32_t ports_n = static_cast<uint32_t>(port_specs.size()) + (pcap_file ? 1 : 0);
  const uint32_t rxq_want = offline ? 1 : (o.rxq ? o.rxq : workers);
  const uint32_t in_ring_size = 4096;
  uint32_t nb_mbufs = ports_n * rxq_want * o.rx_desc + workers * (512 + in_ring_size) + 4096;
  // Our reader copies a frame into a chain of mbufs at once: a pcapng block may hold a
  // 16 MiB frame (8,192 mbufs of 2 KiB), which must fit beside a burst and the slack.
  if (pcap_file) {
    nb_mbufs = std::max<uint32_t>(nb_mbufs, fs::sensor::PcapFile::kPcapngMaxBlock /
                                                    (RTE_MBUF_DEFAULT_BUF_SIZE - RTE_PKTMBUF_HEADROOM) +
                                                4096);
  }
  int socket = static_cast<int>(rte_socket_id());
  rte_mempool* mbufs = rte_pktmbuf_pool_create("fs_mbufs", nb_mbufs, 256, 0,
                                               RTE_MBUF_DEFAULT_BUF_SIZE, socket);
  if (mbufs == nullptr) {
    cleanup();
    return fail(kExitUsage, cat("cannot allocate ", nb_mbufs,
                                         " packet buffers: raise --mem (now ", eal.mem_mb, " MB)"));
  }

  std::vector<fs::sensor::dpdk::PortInfo> ports;
  for (const std::string& spec : port_specs) {
    fs::sensor::dpdk::PortRequest req;
    req.name = spec;
    req.rxq = static_cast<uint16_t>(rxq_want);
    req.rx_desc = static_cast<uint16_t>(o.rx_desc);
    req.pool = mbufs;
    req.want_timestamps = offline;
    absl::StatusOr<fs::sensor::dpdk::PortInfo> p = fs::sensor::dpdk::setup_port(req);
    if (!p.ok()) {
      for (auto& q : ports) fs::sensor::dpdk::stop_port(q.port_id);
      cleanup();
      return fail(kExitUsage, p.status());
    }
    ports.push_back(*p);
  }
  std::unique_ptr<fs::sensor::PcapSource> pcap_source;
  uint64_t pcap_total_bytes = 0;  // 0: unknown (a stream)
  if (pcap_file && !stream) {
    std::error_code ec;
    pcap_total_bytes = pcap_paths.size() > 1 ? pcap_bytes : std::filesystem::file_size(pcap0, ec);
    if (ec) pcap_total_bytes = 0;
  }
  if (pcap_file) {
    // Our reader stamps every mbuf with the record's time in nanoseconds.
    if (absl::Status s = fs::sensor::PcapSource::register_timestamp(shared.ts_offset, shared.ts_flag);
        !s.ok()) {
      cleanup();
      return fail(kExitRuntime, s);
    }
    shared.ts_scale = 1;
    // The file's read(2) calls move to a thread on the main lcore's CPUs, which sleeps while
    // the capture is read; without it the poller reads the file itself, as before.
    if (absl::Status s = pcap_file->start_readahead(); !s.ok()) {
      std::fprintf(stderr, "flowscribe: note: %s: the capture is read on the worker's core\n",
                   std::string(s.message()).c_str());
    }
    pcap_source = std::make_unique<fs::sensor::PcapSource>(std::move(pcap_file), pcap_paths,
                                                           mbufs, shared.ts_offset,
                                                           shared.ts_flag);
  } else if (offline) {
    // net_pcap stamps every mbuf with the record's time, in microseconds, in the standard
    // RX timestamp dynfield (it does not advertise the offload, so look the field up).
    shared.ts_offset = rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, nullptr);
    int bit = rte_mbuf_dynflag_lookup(RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME, nullptr);
    if (shared.ts_offset < 0 || bit < 0) {
      shared.ts_offset = -1;
      std::fprintf(stderr, "flowscribe: warning: the capture's timestamps are not available, "
                           "using the wall clock\n");
    } else {
      shared.ts_flag = 1ULL << bit;
      shared.ts_scale = 1000;
    }
  }

  // Queues to workers: straight from the port when every worker can own RSS queues,
  // otherwise through the software dispatcher.
  std::vector<fs::sensor::RxQueue> queues;
  bool all_rss = true;
  for (const auto& p : ports) {
    for (uint16_t q = 0; q < p.rxq; ++q) queues.push_back({p.port_id, q, nullptr});
    if (p.rxq > 1 && !p.rss) all_rss = false;
  }
  if (pcap_source) queues.push_back({0, 0, pcap_source.get()});
  // --dispatcher is honoured with one worker too: the dispatcher core then does the port reads
  // (offline, the pcap file's reads) and the worker only the packets.
  bool use_dispatcher = o.dispatcher || (workers > 1 && (!all_rss || queues.size() < workers));
  shared.shared_cpu = [&]() {
    fs::sensor::dpdk::LcorePlan used = plan;
    used.dispatcher = use_dispatcher;
    return used.shares_cpus();
  }();

  fs::flow::FlowTableConfig tcfg;
  tcfg.capacity = o.flows_per_worker ? o.flows_per_worker : (offline ? 262144 : 1u << 20);
  tcfg.tcp_syn_timeout_s = o.tcp_syn_s;
  tcfg.tcp_idle_timeout_s = o.tcp_idle_s;
  tcfg.tcp_closed_timeout_s = o.tcp_closed_s;
  tcfg.udp_idle_timeout_s = o.udp_idle_s;
  tcfg.other_idle_timeout_s = o.other_idle_s;
  tcfg.active_timeout_s = o.active_timeout_s;

  fs::sensor::AppConfig acfg;
  acfg.states = o.app_states ? o.app_states : (offline ? 8192 : 32768);
  acfg.stream.pool_chunks = o.stream_chunks ? o.stream_chunks : (offline ? 4096 : 16384);
  acfg.dissect_states = o.dissect_states;
  acfg.dissect_states_named = o.dissect_states_named;

  std::vector<std::unique_ptr<fs::sensor::Worker>> ws;
  std::vector<fs::emit::EmitterInput> inputs;
  std::vector<rte_ring*> in_rings;
  const uint32_t rec_ring_size = rte_align32pow2(o.record_ring);
  for (uint32_t i = 0; i < workers; ++i) {
    tcfg.worker_id = i;
    absl::StatusOr<std::unique_ptr<fs::flow::FlowTable>> table = fs::flow::FlowTable::create(tcfg);
    rte_ring* ring = rte_ring_create(cat("fs_rec", i).c_str(), rec_ring_size, socket,
                                     RING_F_SP_ENQ | RING_F_SC_DEQ);
    rte_mempool* pool = rte_mempool_create(cat("fs_recpool", i).c_str(),
                                           rec_ring_size + 1023, sizeof(fs::emit::Record), 128,
                                           0, nullptr, nullptr, nullptr, nullptr, socket, 0);
    if (!table.ok() || ring == nullptr || pool == nullptr) {
      cleanup();
      return fail(kExitUsage,
                  !table.ok() ? std::string(table.status().message())
                              : cat("cannot allocate the record ring of worker ", i,
                                             ": raise --mem or lower --record-ring"));
    }
    absl::StatusOr<std::unique_ptr<fs::sensor::AppLayer>> app =
        fs::sensor::AppLayer::create(acfg, *classifier_db, *app_db);
    if (!app.ok()) {
      cleanup();
      return fail(kExitUsage, app.status());
    }
    auto w = std::make_unique<fs::sensor::Worker>(i, shared, *std::move(table), *std::move(app),
                                                  ring, pool);
    if (use_dispatcher) {
      rte_ring* in = rte_ring_create(cat("fs_in", i).c_str(), in_ring_size, socket,
                                     RING_F_SP_ENQ | RING_F_SC_DEQ);
      if (in == nullptr) {
        cleanup();
        return fail(kExitUsage, "cannot allocate dispatcher rings: raise --mem");
      }
      w->set_input_ring(in);
      in_rings.push_back(in);
    }
    inputs.push_back({ring, pool});
    ws.push_back(std::move(w));
  }
  if (!use_dispatcher) {
    for (size_t q = 0; q < queues.size(); ++q) ws[q % workers]->add_rx_queue(queues[q]);
  }
  std::unique_ptr<fs::sensor::Dispatcher> dispatcher;
  if (use_dispatcher) {
    dispatcher = std::make_unique<fs::sensor::Dispatcher>(shared, queues, in_rings);
  }
  // Format cores: worker i's records go to format core i mod N.
  std::vector<fs::emit::FormatCore*> format_core_ptrs;
  for (uint32_t k = 0; k < o.format_cores; ++k) {
    std::vector<fs::emit::EmitterInput> share;
    for (size_t i = k; i < inputs.size(); i += o.format_cores) share.push_back(inputs[i]);
    absl::StatusOr<std::unique_ptr<fs::emit::FormatCore>> c =
        fs::emit::FormatCore::create(k, socket, fcfg, std::move(share), shared.shared_cpu);
    if (!c.ok()) {
      cleanup();
      return fail(kExitUsage, c.status());
    }
    format_core_ptrs.push_back(c->get());
    format_cores.push_back(*std::move(c));
  }
  fs::emit::Emitter emitter(fcfg, std::move(outputs), inputs, shared.shared_cpu, offline,
                            format_core_ptrs);

  fs::sensor::Sources sources;
  for (auto& w : ws) sources.workers.push_back(w.get());
  sources.dispatcher = dispatcher.get();
  sources.emitter = &emitter;
  for (const auto& p : ports) sources.ports.push_back(p.port_id);
  fs::sensor::register_telemetry(&sources);

  // --- Banner (stderr: stdout carries only records)
  std::string format_text;
  if (!plan.format_cpus.empty()) {
    std::vector<std::string> c;
    for (uint32_t cpu : plan.format_cpus) c.push_back(cat(cpu));
    format_text = cat(", ", plan.format_cpus.size(), " format core",
                      plan.format_cpus.size() == 1 ? "" : "s", " on CPU",
                      plan.format_cpus.size() == 1 ? " " : "s ", fs::join(c, ","));
  }
  std::fprintf(stderr, "flowscribe %s: %s, %u worker%s%s, emitter on CPU %u%s%s\n", kVersion,
               offline ? cat("reading ",
                             pcap_paths.size() > 1
                                 ? cat(pcap_paths.size(), " captures in the order of their first packets")
                                 : pcap0,
                             " (", fs::decode::link_type_name(probe.linktype), ", ",
                             stream                  ? std::string("a stream")
                             : pcap_paths.size() > 1 ? size_text(pcap_bytes) + " in all"
                             : pcap_source           ? file_size_text(pcap0)
                                                     : cat(probe.packets, " packets"),
                             pcap_via.empty() ? "" : "; ", pcap_via, ")").c_str()
                       : cat(ports.size(), " port(s)").c_str(),
               workers, workers == 1 ? "" : "s", use_dispatcher ? " behind a software dispatcher" : "",
               plan.emitter_cpu, format_text.c_str(),
               shared.shared_cpu ? " (CPUs shared: polling yields)" : "");
  if (!offline) {
    for (const auto& p : ports) std::fprintf(stderr, "flowscribe: %s\n", p.summary.c_str());
  }
  {
    // What each worker holds, all of it allocated and touched before the first packet: the
    // figure to size an appliance's RAM by (docs/performance.md "Memory").
    const fs::sensor::Worker& w = *ws[0];
    const double mib = 1 << 20;
    const double table = static_cast<double>(w.table().memory_bytes());
    const double app = static_cast<double>(w.app().memory_bytes());
    const double recs = static_cast<double>(w.record_pool()->size) * w.record_pool()->elt_size;
    const double reasm = static_cast<double>(w.reasm_bytes());
    const double each = table + app + recs + reasm;
    std::fprintf(stderr,
                 "flowscribe: memory per worker: flow table %.1f MiB (%u flows, %.1f B each), "
                 "app and dissector state %.1f MiB, record pool %.1f MiB, IP reassembly %.1f "
                 "MiB; %.1f MiB for %u worker%s\n",
                 table / mib, w.table().capacity(), table / w.table().capacity(), app / mib,
                 recs / mib, reasm / mib, each * workers / mib, workers, workers == 1 ? "" : "s");
  }

  // --- Launch
  auto t0 = std::chrono::steady_clock::now();
  EmitterArgs eargs{&emitter, &shared.all_workers_done};
  rte_eal_remote_launch(emitter_main, &eargs, plan.emitter_lcore());
  std::vector<FormatCoreArgs> fargs;
  fargs.reserve(format_cores.size());
  for (size_t k = 0; k < format_cores.size(); ++k) {
    fargs.push_back({format_cores[k].get(), &shared.all_workers_done});
    rte_eal_remote_launch(format_core_main, &fargs.back(), plan.format_lcore(k));
  }
  for (uint32_t i = 0; i < workers; ++i) {
    rte_eal_remote_launch(worker_main, ws[i].get(), plan.worker_lcore(i));
  }
  if (dispatcher) rte_eal_remote_launch(dispatcher_main, dispatcher.get(), plan.dispatcher_lcore());

  // --- Main core: stats line until the workers are done.
  double interval = o.stats_interval_s >= 0 ? o.stats_interval_s : (offline ? 0 : 10);
  auto next_stats = t0 + std::chrono::duration<double>(interval);
  std::vector<fs::sensor::CounterValue> prev = fs::sensor::collect_counters(sources);
  fs::sensor::PortTotals prev_port = fs::sensor::port_totals(sources.ports);
  auto prev_t = t0;
  while (!shared.all_workers_done.load(std::memory_order_acquire)) {
    // Offline runs are short: wake often so the summary's time is not rounded up by 50 ms.
    std::this_thread::sleep_for(std::chrono::milliseconds(offline ? 2 : 50));
    if (g_hup.exchange(false)) emitter.request_reopen();
    auto now = std::chrono::steady_clock::now();
    if (interval > 0 && now >= next_stats) {
      next_stats += std::chrono::duration<double>(interval);
      auto cur = fs::sensor::collect_counters(sources);
      fs::sensor::PortTotals port = fs::sensor::port_totals(sources.ports);
      double dt = std::chrono::duration<double>(now - prev_t).count();
      auto rate = [&](std::string_view n) {
        return (fs::sensor::find_counter(cur, n) - fs::sensor::find_counter(prev, n)) / dt;
      };
      uint64_t drops = 0;
      for (const auto& c : cur) {
        if (fs::sensor::is_drop_counter(c.name)) drops += c.value;
      }
      // Offline from files of known size: how far through them.
      std::string progress;
      if (pcap_source && pcap_total_bytes > 0) {
        progress = cat(" | read ",
                       std::min<uint64_t>(100, pcap_source->bytes_read() * 100 / pcap_total_bytes),
                       "%");
      }
      std::fprintf(stderr,
                   "flowscribe: %spps %sbit/s | flows %s active, %s/s new | records %s/s | "
                   "drops %s | imissed %s%s\n",
                   human(rate("worker_packets")).c_str(), human(rate("worker_bytes") * 8).c_str(),
                   human(static_cast<double>(fs::sensor::find_counter(cur, "worker_flows_active"))).c_str(),
                   human(rate("flow_created")).c_str(), human(rate("emitter_records")).c_str(),
                   human(static_cast<double>(drops)).c_str(),
                   human(static_cast<double>(port.imissed)).c_str(), progress.c_str());
      // One line per output: its connection state and records sent, queued, spooled, dropped.
      for (size_t i = 0; i < emitter.output_count(); ++i) {
        const fs::emit::Output& out = emitter.output(i);
        const fs::emit::OutputCounters& oc = out.counters();
        std::fprintf(stderr,
                     "flowscribe:   output %s: %s | sent %lu, queued %lu, spooled %lu, dropped "
                     "%lu\n",
                     out.name().c_str(), out.health_text().c_str(), oc.output_sent.get(),
                     oc.output_queued.get(), oc.output_spool_records.get(),
                     oc.output_dropped.get());
      }
      // Records lost because the emitter fell behind: say so, and what helps. Live outputs
      // never hold the emitter back (they queue, spool or drop on their own), so a full ring
      // means the formatting core is saturated.
      if (fs::sensor::find_counter(cur, "worker_record_ring_full") >
          fs::sensor::find_counter(prev, "worker_record_ring_full")) {
        std::fprintf(stderr,
                     "flowscribe:   the emitter is behind: %s records/s formatted, %s dropped "
                     "at full rings since the last line; %s\n",
                     human(rate("emitter_records")).c_str(),
                     human(rate("worker_record_ring_full") * dt).c_str(),
                     shared.shared_cpu
                         ? "it shares a CPU: give it one of its own (--emitter-core), and format "
                           "cores free CPUs (--format-lcores)"
                         : plan.format_cpus.empty()
                               ? "add format cores (--format-cores N, docs/architecture.md)"
                               : "add format cores, or raise --record-ring for bursts");
      }
      // A dissector pool that ran out since the last line: say which, and what to raise.
      if (fs::sensor::find_counter(cur, "app_dissect_exhausted") >
          fs::sensor::find_counter(prev, "app_dissect_exhausted")) {
        fs::sensor::print_dissect_pools(stderr, sources.workers, false);
      }
      prev = std::move(cur);
      prev_port = port;
      prev_t = now;
    }
    if (g_signals.load() >= 2) {
      // The user insists: leave now. Records still in rings are lost, and we say so.
      std::fprintf(stderr, "flowscribe: second signal: exiting without flushing; records in "
                           "flight are lost\n");
      std::fflush(stderr);
      fs::sensor::dpdk::eal_remove_runtime_files();
      if (!link_dir.empty()) {
        std::error_code ec;
        std::filesystem::remove_all(link_dir, ec);
      }
      std::_Exit(kExitRuntime);
    }
  }
  rte_eal_mp_wait_lcore();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // --- Summary
  auto all = fs::sensor::collect_counters(sources);
  fs::sensor::PortTotals port = fs::sensor::port_totals(sources.ports);
  uint64_t pkts = fs::sensor::find_counter(all, "worker_packets");
  uint64_t bytes = fs::sensor::find_counter(all, "worker_bytes");
  std::fprintf(stderr,
               "flowscribe: summary: %lu packets, %lu bytes in %.2f s (%spps); %lu flows, %lu "
               "records written%s\n",
               pkts, bytes, secs, human(pkts / std::max(secs, 1e-9)).c_str(),
               fs::sensor::find_counter(all, "flow_created"),
               fs::sensor::find_counter(all, "emitter_records"),
               g_signals.load() ? " (stopped by signal)" : "");
  uint64_t drops = 0;
  for (const auto& c : all) {
    if (c.value == 0) continue;
    if (fs::sensor::is_drop_counter(c.name)) drops += c.value;
    std::fprintf(stderr, "flowscribe:   %-28s %12lu  %s\n", c.name, c.value, c.help);
  }
  fs::sensor::print_dissect_pools(stderr, sources.workers);
  if (port.imissed) {
    std::fprintf(stderr, "flowscribe:   %-28s %12lu  %s\n", "port_imissed", port.imissed,
                 "packets the NIC dropped because the workers were behind");
  }
  if (port.rx_nombuf) {
    std::fprintf(stderr, "flowscribe:   %-28s %12lu  %s\n", "port_rx_nombuf", port.rx_nombuf,
                 "packets dropped for lack of mbufs");
  }
  for (size_t i = 0; i < emitter.output_count(); ++i) {
    const fs::emit::Output& out = emitter.output(i);
    const fs::emit::OutputCounters& oc = out.counters();
    std::fprintf(stderr, "flowscribe: output %s: %lu records, %lu delivered, %lu dropped, %lu "
                 "waiting in the spool%s%s\n",
                 out.name().c_str(), oc.output_records.get(), oc.output_sent.get(),
                 oc.output_dropped.get(), out.spooled_waiting(), out.spool() ? " " : "",
                 out.spool() ? out.spool()->dir().c_str() : "");
    if (out.spec().scheme == fs::emit::Scheme::kFailover) {
      std::fprintf(stderr, "flowscribe: output %s: members: %s\n", out.name().c_str(),
                   out.health_text().c_str());
    }
  }
  std::fprintf(stderr, "flowscribe: drops: %lu records/packets lost%s\n", drops + port.imissed,
               drops + port.imissed ? " (see the counters above)" : "");
  if (offline) {
    uint64_t rx = fs::sensor::find_counter(all, "rx_packets");
    // Damage: found by our reader as it went (each file of a series), or by the probe before
    // net_pcap read the file.
    auto damaged_line = [&](const std::string& path, uint64_t read, int64_t offset,
                            const char* why) {
      if (offset < 0) {
        std::fprintf(stderr, "flowscribe: capture %s could not be read: %s\n", path.c_str(), why);
      } else {
        std::fprintf(stderr,
                     "flowscribe: capture %s is damaged: read %lu packets, then stopped at byte "
                     "offset %ld: %s\n",
                     path == "-" ? "on standard input" : path.c_str(), read,
                     static_cast<long>(offset), why);
      }
      exit_code = kExitRuntime;
    };
    if (pcap_source) {
      const auto& results = pcap_source->results();
      for (size_t i = 0; i < results.size(); ++i) {
        if (results[i].damaged()) {
          damaged_line(pcap_source->paths()[i], results[i].records, results[i].damage_offset,
                       results[i].damage);
        }
      }
    } else if (probe.damaged) {
      damaged_line(pcap0, probe.packets, probe.damage_offset, probe.damage.c_str());
    }
    if (pcap_source == nullptr && rx < probe.packets && g_signals.load() == 0) {
      std::fprintf(stderr, "flowscribe: only %lu of the capture's %lu packets were delivered by "
                           "DPDK's net_pcap\n", rx, probe.packets);
      exit_code = kExitRuntime;
    }
  }
  if (emitter.output_failed()) exit_code = kExitRuntime;
  for (const auto& p : ports) fs::sensor::dpdk::stop_port(p.port_id);
  cleanup();
  return exit_code;
}
