#include "sensor/stats.h"

#include <algorithm>

#include <rte_ethdev.h>
#include <rte_telemetry.h>

#include "common/strings.h"

namespace flowscribe::sensor {
namespace {

template <typename Counters>
void add_all(std::vector<CounterValue>& out, size_t& at, const Counters& c, bool first) {
  c.for_each([&](const CounterInfo& info, uint64_t v) {
    if (first) {
      out.push_back({info.name, info.help, v});
    } else {
      out[at].value += v;
    }
    ++at;
  });
}

const Sources* g_telemetry_src = nullptr;

int telemetry_stats(const char*, const char*, rte_tel_data* d) {
  rte_tel_data_start_dict(d);
  if (g_telemetry_src == nullptr) return 0;
  for (const CounterValue& c : collect_counters(*g_telemetry_src)) {
    rte_tel_data_add_dict_u64(d, c.name, c.value);
  }
  PortTotals p = port_totals(g_telemetry_src->ports);
  rte_tel_data_add_dict_u64(d, "port_imissed", p.imissed);
  rte_tel_data_add_dict_u64(d, "port_ierrors", p.ierrors);
  rte_tel_data_add_dict_u64(d, "port_rx_nombuf", p.rx_nombuf);
  return 0;
}

int telemetry_pools(const char*, const char*, rte_tel_data* d) {
  rte_tel_data_start_dict(d);
  if (g_telemetry_src == nullptr) return 0;
  for (const DissectPool& p : sum_dissect_pools(g_telemetry_src->workers)) {
    const std::string name(p.name);
    rte_tel_data_add_dict_u64(d, cat(name, "_states").c_str(), p.slots);
    rte_tel_data_add_dict_u64(d, cat(name, "_peak").c_str(), p.peak);
    rte_tel_data_add_dict_u64(d, cat(name, "_exhausted").c_str(), p.exhausted);
  }
  return 0;
}

}  // namespace

std::vector<CounterValue> collect_counters(const Sources& src) {
  std::vector<CounterValue> out;
  size_t base = 0;
  bool first = true;
  for (const Worker* w : src.workers) {
    size_t at = base;
    add_all(out, at, w->counters(), first);
    add_all(out, at, w->decode_counters(), first);
    add_all(out, at, w->reasm_counters(), first);
    add_all(out, at, w->table().counters(), first);
    add_all(out, at, w->rx_counters(), first);
    add_all(out, at, w->app().counters(), first);
    add_all(out, at, w->app().stream_counters(), first);
    add_all(out, at, w->app().classify_counters(), first);
    w->app().for_each_dissector_counter([&](const CounterInfo& info, uint64_t v) {
      if (first) {
        out.push_back({info.name, info.help, v});
      } else {
        out[at].value += v;
      }
      ++at;
    });
    first = false;
  }
  if (src.dispatcher != nullptr) {
    // The dispatcher's rx/dispatch counters add to the workers' (it polls, they do not).
    size_t at = 0;
    for (; at < out.size(); ++at) {
      if (std::string_view(out[at].name) == "rx_packets") break;
    }
    src.dispatcher->counters().for_each([&](const CounterInfo&, uint64_t v) {
      if (at < out.size()) out[at++].value += v;
    });
  }
  // Counters of one name from several sources (the TLS dissector's and the one embedded in
  // the OpenVPN dissector) are one counter: the first keeps the sum, in its place.
  for (size_t i = 0; i < out.size(); ++i) {
    for (size_t j = i + 1; j < out.size();) {
      if (std::string_view(out[j].name) == out[i].name) {
        out[i].value += out[j].value;
        out.erase(out.begin() + static_cast<std::ptrdiff_t>(j));
      } else {
        ++j;
      }
    }
  }
  if (src.emitter != nullptr) {
    auto push = [&](const CounterInfo& info, uint64_t v) { out.push_back({info.name, info.help, v}); };
    src.emitter->for_each_counter(push);
    src.emitter->for_each_output_total(push);
  }
  return out;
}

PortTotals port_totals(const std::vector<uint16_t>& ports) {
  PortTotals t;
  for (uint16_t p : ports) {
    rte_eth_stats s{};
    if (rte_eth_stats_get(p, &s) != 0) continue;
    t.ipackets += s.ipackets;
    t.ibytes += s.ibytes;
    t.imissed += s.imissed;
    t.ierrors += s.ierrors;
    t.rx_nombuf += s.rx_nombuf;
  }
  return t;
}

uint64_t find_counter(const std::vector<CounterValue>& all, std::string_view name) {
  for (const CounterValue& c : all) {
    if (name == c.name) return c.value;
  }
  return 0;
}

bool is_drop_counter(std::string_view name) {
  return name == "worker_record_pool_empty" || name == "worker_record_ring_full" ||
         name == "dispatch_ring_full" || name == "output_dropped";
}

std::vector<DissectPool> sum_dissect_pools(const std::vector<const Worker*>& workers) {
  std::vector<DissectPool> sums;
  for (const Worker* w : workers) {
    size_t i = 0;
    w->app().for_each_dissector_pool([&](const DissectPool& p) {
      if (i == sums.size()) sums.push_back({p.name, p.slots, 0, 0});
      sums[i].peak = std::max(sums[i].peak, p.peak);
      sums[i].exhausted += p.exhausted;
      ++i;
    });
  }
  return sums;
}

std::string dissect_pool_peaks(const std::vector<DissectPool>& pools) {
  std::string used;
  for (const DissectPool& s : pools) {
    if (s.peak > 0) used += cat(used.empty() ? "" : ", ", s.name, " ", s.peak, "/", s.slots);
  }
  return used;
}

void print_dissect_pools(std::FILE* to, const std::vector<const Worker*>& workers, bool peaks) {
  const std::vector<DissectPool> sums = sum_dissect_pools(workers);
  const std::string used = dissect_pool_peaks(sums);
  if (peaks && !used.empty()) {
    std::fprintf(to, "flowscribe: dissector states, most in use at once of each worker's pool: %s\n",
                 used.c_str());
  }
  for (const DissectPool& s : sums) {
    if (s.exhausted == 0) continue;
    const std::string name(s.name);
    std::fprintf(to, "flowscribe: the %s dissector ran out of states: %lu classified flows were not "
                 "dissected; raise --dissect-states %s=N (now %u per worker)\n",
                 name.c_str(), s.exhausted, name.c_str(), s.slots);
  }
}

void register_telemetry(const Sources* src) {
  g_telemetry_src = src;
  rte_telemetry_register_cmd("/flowscribe/stats", telemetry_stats,
                             "Returns every flowscribe counter, summed over workers.");
  // DPDK refuses a help text of 128 characters or more (the command is then unknown).
  rte_telemetry_register_cmd("/flowscribe/dissect_pools", telemetry_pools,
                             "Returns each dissector's pool per worker, its peak use and the "
                             "flows it refused: <name>_states, _peak, _exhausted.");
}

}  // namespace flowscribe::sensor
