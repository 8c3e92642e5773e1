#include "sensor/dpdk/eal.h"

#include <dirent.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_log.h>
#include <sched.h>

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

}  // namespace

bool LcorePlan::shares_cpus() const {
  std::set<uint32_t> busy;
  size_t n = 1;  // emitter
  busy.insert(emitter_cpu);
  for (uint32_t c : worker_cpus) busy.insert(c), ++n;
  if (dispatcher) busy.insert(dispatcher_cpu), ++n;
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

absl::Status eal_init(const EalConfig& c) {
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
  args.push_back("--lcores");
  args.push_back(join(lc, ","));
  args.push_back("--main-lcore");
  args.push_back("0");
  args.push_back("-m");
  args.push_back(cat(c.mem_mb));
  if (!c.huge) args.push_back("--no-huge");
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
  if (rc < 0) {
    int err = rte_errno;
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

void eal_cleanup() { rte_eal_cleanup(); }

}  // namespace flowscribe::sensor::dpdk
