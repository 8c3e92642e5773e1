#include "sensor/dpdk/port.h"

#include <rte_ethdev.h>
#include <rte_mbuf_dyn.h>

#include <cstring>


#include "common/strings.h"

namespace flowscribe::sensor::dpdk {

const uint8_t kSymmetricRssKey[52] = {
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d,
    0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d,
    0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
};

absl::StatusOr<uint16_t> find_port(const std::string& spec) {
  std::string name = spec.substr(0, spec.find(','));
  uint16_t id = 0;
  if (rte_eth_dev_get_port_by_name(name.c_str(), &id) != 0) {
    return absl::NotFoundError(cat(
        "port '", name, "' not found (is the PCI device bound to vfio-pci, "
        "see dpdk-devbind.py --status; or are the vdev arguments right?)"));
  }
  return id;
}

absl::StatusOr<PortInfo> setup_port(const PortRequest& req) {
  absl::StatusOr<uint16_t> id = find_port(req.name);
  if (!id.ok()) return id.status();
  PortInfo info;
  info.port_id = *id;
  info.name = req.name.substr(0, req.name.find(','));

  rte_eth_dev_info dev{};
  if (int rc = rte_eth_dev_info_get(info.port_id, &dev); rc != 0) {
    return absl::InternalError(cat("port ", info.name, ": cannot read device info: ",
                                            std::strerror(-rc)));
  }
  info.driver = dev.driver_name ? dev.driver_name : "?";

  rte_eth_conf conf{};
  uint16_t nq = req.rxq;
  if (nq > dev.max_rx_queues) nq = dev.max_rx_queues;
  if (nq == 0) nq = 1;
  std::string rss_note;
  if (nq > 1) {
    uint64_t want = RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP;
    uint64_t hf = want & dev.flow_type_rss_offloads;
    if (hf == 0 || dev.hash_key_size == 0 || dev.hash_key_size > sizeof kSymmetricRssKey) {
      rss_note = cat("no usable RSS (asked for ", req.rxq,
                              " queues): one queue, software dispatcher");
      nq = 1;
    } else {
      conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
      static uint8_t key[sizeof kSymmetricRssKey];
      std::memcpy(key, kSymmetricRssKey, sizeof key);
      conf.rx_adv_conf.rss_conf.rss_key = key;
      conf.rx_adv_conf.rss_conf.rss_key_len = dev.hash_key_size;
      conf.rx_adv_conf.rss_conf.rss_hf = hf;
      info.rss = true;
      info.rss_hf = hf;
      if (hf != want) rss_note = "RSS covers only part of IP/TCP/UDP";
    }
  } else if (req.rxq > 1) {
    rss_note = "one RX queue only: software dispatcher";
  }
  if (req.want_timestamps && (dev.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP)) {
    conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TIMESTAMP;
    info.timestamps = true;
  }
  if (dev.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER) {
    conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_SCATTER;  // jumbo frames as mbuf chains
  }
  // One TX queue: some PMDs refuse to start without one; nothing is ever sent.
  if (int rc = rte_eth_dev_configure(info.port_id, nq, 1, &conf); rc != 0) {
    return absl::FailedPreconditionError(cat(
        "port ", info.name, ": configure with ", nq, " RX queues failed: ", std::strerror(-rc)));
  }
  uint16_t rxd = req.rx_desc, txd = 64;
  rte_eth_dev_adjust_nb_rx_tx_desc(info.port_id, &rxd, &txd);
  int socket = rte_eth_dev_socket_id(info.port_id);
  if (socket < 0) socket = 0;
  for (uint16_t q = 0; q < nq; ++q) {
    rte_eth_rxconf rxc = dev.default_rxconf;
    rxc.offloads = conf.rxmode.offloads;
    if (int rc = rte_eth_rx_queue_setup(info.port_id, q, rxd, static_cast<unsigned>(socket),
                                        &rxc, req.pool);
        rc != 0) {
      return absl::FailedPreconditionError(cat("port ", info.name, ": RX queue ", q,
                                                        " setup failed: ", std::strerror(-rc)));
    }
  }
  if (int rc = rte_eth_tx_queue_setup(info.port_id, 0, txd, static_cast<unsigned>(socket),
                                      nullptr);
      rc != 0) {
    return absl::FailedPreconditionError(
        cat("port ", info.name, ": TX queue setup failed: ", std::strerror(-rc)));
  }
  if (int rc = rte_eth_dev_start(info.port_id); rc != 0) {
    return absl::FailedPreconditionError(
        cat("port ", info.name, ": start failed: ", std::strerror(-rc)));
  }
  rte_eth_promiscuous_enable(info.port_id);  // a tap/SPAN port sees other hosts' frames
  info.rxq = nq;
  info.summary = cat("port ", info.port_id, " ", info.name, " (", info.driver, "): ", nq,
                              " RX queue", nq > 1 ? "s" : "", info.rss ? ", symmetric RSS" : "",
                              info.timestamps ? ", capture timestamps" : "",
                              rss_note.empty() ? "" : cat(", ", rss_note));
  return info;
}

void stop_port(uint16_t port_id) {
  rte_eth_dev_stop(port_id);
  rte_eth_dev_close(port_id);
}

}  // namespace flowscribe::sensor::dpdk
