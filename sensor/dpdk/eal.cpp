#include "sensor/dpdk/eal.h"

#include <dirent.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_log.h>
#include <sched.h>
#include <signal.h>
#include <cerrno>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>


#include "common/strings.h"

namespace flowscribe::sensor::dpdk {
namespace {

char* g_log_buf = nullptr;
size_t g_log_len = 0;
FILE* g_log_stream = nullptr;
std::string g_runtime_dir;

// The runtime directory EAL made (/var/run/dpdk/<prefix>): with --no-shconf only the
// telemetry socket lives there, and EAL unlinks it at exit; rmdir() removes the directory only
// when it is empty, so a directory another process still uses is never touched.
void remove_runtime_dir() {
  if (g_runtime_dir.empty()) return;
  rmdir(g_runtime_dir.c_str());
  g_runtime_dir.clear();
}

}  // namespace

bool LcorePlan::shares_cpus() const {
  std::set<uint32_t> busy;
  size_t n = 1;  // emitter
  busy.insert(emitter_cpu);
  for (uint32_t c : worker_cpus) busy.insert(c), ++n;
  if (dispatcher) busy.insert(dispatcher_cpu), ++n;
  for (uint32_t c : format_cpus) busy.insert(c), ++n;
  // The main core sleeps between stats lines, so it may share a CPU freely.
  return busy.size() < n;
}

std::vector<uint32_t> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<uint32_t> out;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (uint32_t c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &set)) out.push_back(c);
    }
  }
  if (out.empty()) out.push_back(0);
  return out;
}

uint64_t free_hugepage_bytes() {
  uint64_t total = 0;
  DIR* d = opendir("/sys/kernel/mm/hugepages");
  if (d == nullptr) return 0;
  while (dirent* e = readdir(d)) {
    // hugepages-2048kB
    uint64_t kb = 0;
    if (std::sscanf(e->d_name, "hugepages-%lukB", &kb) != 1) continue;
    std::ifstream f(cat("/sys/kernel/mm/hugepages/", e->d_name, "/free_hugepages"));
    uint64_t n = 0;
    if (f >> n) total += n * kb * 1024;
  }
  closedir(d);
  return total;
}

// With --no-shconf EAL takes no lock on the prefix, so a second instance with the same
// --file-prefix would start and then share (and at exit remove) the first one's telemetry
// socket. The socket tells whether the prefix is in use: it accepts connections while its
// process lives. The directory is computed as EAL does (eal_create_runtime_dir).
std::string runtime_base() {
  if (getuid() == 0) return "/var/run";
  const char* xdg = getenv("XDG_RUNTIME_DIR");
  return xdg != nullptr ? xdg : "/tmp";
}

bool prefix_in_use(const std::string& prefix) {
  std::string path = cat(runtime_base(), "/dpdk/", prefix, "/dpdk_telemetry.v2");
  sockaddr_un sun{};
  if (path.size() >= sizeof sun.sun_path) return false;
  sun.sun_family = AF_UNIX;
  std::memcpy(sun.sun_path, path.data(), path.size());
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool live = connect(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0;
  close(fd);
  return live;
}

// A flowscribe killed with SIGKILL leaves its (empty but for a dead socket) runtime directory;
// with the default per-pid prefix nothing would ever reuse it. Remove those of dead processes.
void sweep_dead_default_dirs(const std::string& base) {
  DIR* d = opendir(base.c_str());
  if (d == nullptr) return;
  while (dirent* e = readdir(d)) {
    long pid = 0;
    char tail = 0;
    if (std::sscanf(e->d_name, "flowscribe-%ld%c", &pid, &tail) != 1 || pid <= 0) continue;
    if (kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    std::string dir = cat(base, "/", e->d_name);
    unlink(cat(dir, "/dpdk_telemetry.v2").c_str());
    rmdir(dir.c_str());  // only if that left it empty
  }
  closedir(d);
}

absl::Status eal_init(const EalConfig& c) {
  sweep_dead_default_dirs(cat(runtime_base(), "/dpdk"));
  if (prefix_in_use(c.file_prefix)) {
    return absl::FailedPreconditionError(
        cat("DPDK could not start: another DPDK process uses --file-prefix ", c.file_prefix,
            " (give each instance its own)"));
  }
  if (!c.verbose) {
    g_log_stream = open_memstream(&g_log_buf, &g_log_len);
    if (g_log_stream != nullptr) rte_openlog_stream(g_log_stream);
  }
  std::vector<std::string> args = {"flowscribe"};
  std::vector<std::string> lc = {cat("0@", c.lcores.main_cpu),
                                 cat("1@", c.lcores.emitter_cpu)};
  for (size_t i = 0; i < c.lcores.worker_cpus.size(); ++i) {
    lc.push_back(cat(c.lcores.worker_lcore(i), "@", c.lcores.worker_cpus[i]));
  }
  if (c.lcores.dispatcher) {
    lc.push_back(cat(c.lcores.dispatcher_lcore(), "@", c.lcores.dispatcher_cpu));
  }
  for (size_t i = 0; i < c.lcores.format_cpus.size(); ++i) {
    lc.push_back(cat(c.lcores.format_lcore(i), "@", c.lcores.format_cpus[i]));
  }
  args.push_back("--lcores");
  args.push_back(join(lc, ","));
  args.push_back("--main-lcore");
  args.push_back("0");
  args.push_back("-m");
  args.push_back(cat(c.mem_mb));
  if (!c.huge) args.push_back("--no-huge");
  // No shared runtime files: DPDK would otherwise leave ~6 MB of config and fbarray files in
  // /var/run/dpdk/<prefix> after every run (tens of GB after a few thousand runs with the
  // per-pid default prefix), and hugepage files that outlive a crash. flowscribe runs no
  // secondary processes; telemetry still works (its socket lives in the runtime directory).
  args.push_back("--no-shconf");
  if (c.huge) args.push_back("--huge-unlink");
  args.push_back("--file-prefix");
  args.push_back(c.file_prefix);
  if (c.pci_allow.empty()) args.push_back("--no-pci");
  for (const std::string& a : c.pci_allow) {
    args.push_back("-a");
    args.push_back(a);
  }
  for (const std::string& v : c.vdevs) {
    args.push_back("--vdev");
    args.push_back(v);
  }
  // Quieter by default; the user's --eal may override.
  args.push_back(c.verbose ? "--log-level=*:info" : "--log-level=*:notice");
  for (std::string_view x : split(c.extra, ' ')) {
    args.emplace_back(x);
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int rc = rte_eal_init(static_cast<int>(args.size()), argv.data());
  g_runtime_dir = rte_eal_get_runtime_dir();
  if (rc < 0) {
    int err = rte_errno;
    remove_runtime_dir();
    std::string tail = eal_log_tail(3);
    std::string hint;
    if (c.huge && (err == ENOMEM || tail.find("huge") != std::string::npos)) {
      hint = " (no usable hugepages: reserve some, e.g. 'dpdk-hugepages.py --setup 2G', or run with --no-huge)";
    } else if (err == EALREADY) {
      hint = " (EAL already initialised)";
    } else if (tail.find("lock") != std::string::npos || tail.find("prefix") != std::string::npos) {
      hint = " (another DPDK process uses this --file-prefix?)";
    }
    return absl::FailedPreconditionError(cat(
        "DPDK could not start: ", std::strerror(err), hint,
        tail.empty() ? "" : cat(" [EAL: ", tail, "]")));
  }
  return absl::OkStatus();
}

std::string eal_log_tail(size_t max_lines) {
  if (g_log_stream == nullptr) return "";
  std::fflush(g_log_stream);
  std::vector<std::string_view> lines =
      split(std::string_view(g_log_buf, g_log_len), '\n');
  size_t from = lines.size() > max_lines ? lines.size() - max_lines : 0;
  std::vector<std::string> out;
  for (size_t i = from; i < lines.size(); ++i) {
    std::string_view l = lines[i];
    if (l.rfind("EAL: ", 0) == 0) l.remove_prefix(5);
    out.emplace_back(l);
  }
  return join(out, "; ");
}

void eal_cleanup() {
  rte_eal_cleanup();
  eal_remove_runtime_files();
}

void eal_remove_runtime_files() {
  // Tools and tests that call rte_eal_init() themselves: the directory EAL made for them.
  if (g_runtime_dir.empty()) g_runtime_dir = rte_eal_get_runtime_dir();
  if (g_runtime_dir.empty()) return;
  // The telemetry socket is unlinked by an atexit handler, after this and never on _Exit;
  // remove it now so the directory can go.
  unlink(cat(g_runtime_dir, "/dpdk_telemetry.v2").c_str());
  remove_runtime_dir();
}

}  // namespace flowscribe::sensor::dpdk
