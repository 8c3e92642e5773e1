#pragma once
// DPDK EAL start-up behind one call. EAL's own log lines go to a memory stream so that a
// failure becomes one clear line for the user (with a hint) instead of a wall of EAL text;
// --verbose sends them to stderr instead.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace flowscribe::sensor::dpdk {

struct LcorePlan {
  uint32_t main_cpu = 0;
  uint32_t emitter_cpu = 0;
  std::vector<uint32_t> worker_cpus;
  bool dispatcher = false;
  uint32_t dispatcher_cpu = 0;
  std::vector<uint32_t> format_cpus;  // --format-cores
  // EAL lcore ids that result: main = 0, emitter = 1, workers = 2.., the dispatcher, then
  // the format cores.
  unsigned emitter_lcore() const { return 1; }
  unsigned worker_lcore(size_t i) const { return static_cast<unsigned>(2 + i); }
  unsigned dispatcher_lcore() const { return static_cast<unsigned>(2 + worker_cpus.size()); }
  unsigned format_lcore(size_t i) const {
    return static_cast<unsigned>(2 + worker_cpus.size() + (dispatcher ? 1 : 0) + i);
  }
  bool shares_cpus() const;  // two polling lcores on one CPU: loops must yield when idle
};

struct EalConfig {
  LcorePlan lcores;
  bool huge = false;
  uint32_t mem_mb = 512;
  std::string file_prefix;
  std::vector<std::string> pci_allow;  // -a ADDR
  std::vector<std::string> vdevs;      // --vdev ARGS
  std::string extra;                   // --eal "..."
  bool verbose = false;
};

// CPUs this process may run on (sched_getaffinity), ascending.
std::vector<uint32_t> allowed_cpus();

// Free hugepages of any size, from /sys/kernel/mm/hugepages.
uint64_t free_hugepage_bytes();

// Initialises the EAL; the error names the likely cause.
absl::Status eal_init(const EalConfig& config);

// The last EAL log lines (for error messages).
std::string eal_log_tail(size_t max_lines);

// rte_eal_cleanup() and then eal_remove_runtime_files().
void eal_cleanup();

// Removes what EAL left in its runtime directory (/var/run/dpdk/<prefix>) and the directory:
// for a hurried exit that skips rte_eal_cleanup(), and (as an atexit handler) for tools and
// tests that call rte_eal_init() themselves.
void eal_remove_runtime_files();

}  // namespace flowscribe::sensor::dpdk
