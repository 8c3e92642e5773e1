#pragma once
// Command-line flags. Every flag has a default that works; a bad value is one clear line on
// stderr and exit code 2 (EX_USAGE-like), never a crash. `--help` text lives next to the
// parser so the two cannot drift apart.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/net.h"

namespace flowscribe::sensor {

struct Cidr {
  uint8_t ip_version;  // 4 or 6
  IpAddr addr;         // masked network address
  uint8_t prefix;
  bool contains(uint8_t version, const IpAddr& a) const noexcept;
};

enum class HugeMode { kAuto, kHuge, kNoHuge };

struct Options {
  // Input
  std::string pcap;                 // --pcap FILE (offline mode): the first one
  std::vector<std::string> pcaps;   // every --pcap, in the order given
  bool pcap_net_pcap = false;       // --pcap-reader net_pcap: read --pcap through DPDK's net_pcap
  std::vector<std::string> ports;   // --port PCI_ADDR | VDEV_ARGS (repeatable)
  uint32_t rxq = 0;                 // --rxq N, 0 = one per worker
  uint32_t rx_desc = 1024;          // --rx-desc N
  uint32_t burst = 32;              // --burst N
  // Cores
  uint32_t workers = 0;             // --workers N, 0 = auto
  std::vector<uint32_t> lcores;     // --lcores LIST: CPUs for workers
  int emitter_core = -1;            // --emitter-core N
  uint32_t format_cores = 0;        // --format-cores N (0: the emitter formats)
  std::vector<uint32_t> format_lcores;  // --format-lcores LIST: CPUs for the format cores
  int main_core = -1;               // --main-core N
  bool dispatcher = false;          // --dispatcher: force the software dispatcher
  // Memory
  HugeMode huge = HugeMode::kAuto;  // --hugepages / --no-huge
  uint32_t mem_mb = 0;              // --mem MB, 0 = auto
  uint32_t flows_per_worker = 0;    // --flows-per-worker N, 0 = auto
  uint32_t record_ring = 16384;     // --record-ring N (records in flight per worker)
  uint32_t app_states = 0;          // --app-states N, 0 = auto
  uint32_t stream_chunks = 0;       // --stream-chunks N, 0 = auto
  // Protocols
  std::string signatures;           // --signatures FILE
  std::string hs_cache;             // --hs-cache DIR|off ("" = the user's cache directory)
  std::vector<std::string> apps;    // --apps FILE (repeatable)
  uint32_t dissect_states = 0;      // --dissect-states N, 0 = each dissector's default
  std::vector<std::pair<std::string, uint32_t>> dissect_states_named;  // --dissect-states NAME=N
  // Flow timeouts (seconds)
  uint32_t tcp_idle_s = 300;        // --tcp-idle
  uint32_t udp_idle_s = 60;         // --udp-idle
  uint32_t other_idle_s = 60;       // --other-idle
  uint32_t tcp_syn_s = 30;          // --tcp-handshake
  uint32_t tcp_closed_s = 5;        // --tcp-linger
  uint32_t active_timeout_s = 1800; // --active-timeout, 0 = off
  // Output
  std::vector<std::string> outs;    // --out stdout|file:PATH|udp://|tcp://|tls:// (repeatable)
  uint32_t udp_max = 2048;          // --udp-max BYTES (RFC 5426 section 3.2)
  bool tcp_framing_lf = false;      // --tcp-framing lf|octet-counting (RFC 6587 section 3.4)
  std::string tls_ca;               // --tls-ca FILE, default the system store
  std::string tls_cert;             // --tls-cert FILE
  std::string tls_key;              // --tls-key FILE
  uint32_t out_queue_mb = 64;       // --out-queue-mb MB, per output
  std::string spool_dir;            // --spool-dir DIR, empty = no spool
  uint32_t file_max_mb = 0;         // --file-max-mb MB, 0 = no size rotation
  uint32_t file_rotate_s = 0;       // --file-rotate S, 0 = no time rotation
  uint32_t file_keep = 10;          // --file-keep N
  std::string file_fsync = "never"; // --file-fsync never|batch|SECONDS
  std::string format = "rfc5424";   // --format rfc5424|json|cef|leef
  uint32_t spool_max_mb = 1024;     // --spool-max-mb MB, per output
  std::string sensor_name;          // --sensor-name, default the host name
  uint32_t pen = 32473;             // --pen
  int facility = 16;                // --facility 0..23 (local0)
  int severity = 6;                 // --severity 0..7 (informational)
  double stats_interval_s = -1;     // --stats-interval S, 0 = off; default 10 live, off offline
  std::vector<Cidr> home_net;       // --home-net CIDR,...
  // DPDK
  std::string eal_extra;            // --eal "..."
  std::string file_prefix;          // --file-prefix, default flowscribe-<pid>
  bool verbose = false;             // --verbose: show DPDK's own log lines
  bool help = false;
  bool version = false;
};

// Parses argv. Errors name the flag and what was wrong, e.g.
//   "--workers: expected a whole number from 1 to 128, got 'abc'".
absl::StatusOr<Options> parse_options(int argc, const char* const* argv);

// The --help text.
std::string usage_text();

// Parses "10.0.0.0/8,fd00::/8" into `out`.
absl::Status parse_cidr_list(std::string_view text, std::vector<Cidr>& out);

// Parses "2-5,8,10-11" into CPU ids.
// `flag` names the flag in the error ("lcores", "format-lcores").
absl::Status parse_cpu_list(std::string_view text, std::vector<uint32_t>& out,
                            std::string_view flag = "lcores");

// Parses --dissect-states: "N" (every dissector), "NAME=N,NAME=N" (those dissectors), or both
// ("4096,tls=65536": the plain number for the others). N is 16 to 16777216. Names are checked
// against the dissectors when the app layer is built (AppLayer::create).
absl::Status parse_dissect_states(std::string_view text, uint32_t& all,
                                  std::vector<std::pair<std::string, uint32_t>>& named);

}  // namespace flowscribe::sensor
