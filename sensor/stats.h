#pragma once
// Counter aggregation for the stats line, the end-of-run summary and DPDK telemetry. Runs on
// the main core; it only reads the workers' single-writer counters.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "emit/emitter.h"
#include "sensor/worker.h"

namespace flowscribe::sensor {

struct CounterValue {
  const char* name;
  const char* help;
  uint64_t value;
};

struct Sources {
  std::vector<const Worker*> workers;
  const Dispatcher* dispatcher = nullptr;
  const emit::Emitter* emitter = nullptr;
  std::vector<uint16_t> ports;
};

// Every counter of every layer, summed over workers, in a stable order.
std::vector<CounterValue> collect_counters(const Sources& src);

struct PortTotals {
  uint64_t ipackets = 0;
  uint64_t ibytes = 0;
  uint64_t imissed = 0;  // dropped by the NIC: the workers were too slow
  uint64_t ierrors = 0;
  uint64_t rx_nombuf = 0;
};
PortTotals port_totals(const std::vector<uint16_t>& ports);

uint64_t find_counter(const std::vector<CounterValue>& all, std::string_view name);

// Names of counters that mean lost data (records or packets), for the "drops" figure.
bool is_drop_counter(std::string_view name);

// Each dissector's state pool over all workers (registry order): its per-worker size, the
// most in use at once on one worker (the largest peak), and the refused starts (summed).
std::vector<DissectPool> sum_dissect_pools(const std::vector<const Worker*>& workers);
// "dns 43150/65536, http 28093/49152": each pool that was used, its peak against its size.
std::string dissect_pool_peaks(const std::vector<DissectPool>& pools);

// Lines on the dissectors' state pools, over all workers: with `peaks`, one line with each
// used dissector's peak (the most flows one worker read at once) against its per-worker pool;
// then one line per dissector that ran out, naming the --dissect-states setting to raise.
// The summary prints both; the stats line, the second when a pool ran out since the last.
void print_dissect_pools(std::FILE* to, const std::vector<const Worker*>& workers,
                         bool peaks = true);

// Registers /flowscribe/stats with DPDK telemetry (dpdk-telemetry.py can read it live).
void register_telemetry(const Sources* src);

}  // namespace flowscribe::sensor
