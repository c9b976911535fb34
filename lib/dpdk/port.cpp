#include "dpdk/port.hpp"

#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <algorithm>
#include <array>
#include <vector>

#include "flow/rss.hpp"

namespace twtcp::dpdk {

std::uint32_t mbufs_needed(std::uint16_t rx_descriptors, std::uint16_t tx_descriptors,
                           std::uint16_t burst, std::uint16_t cache) {
  const std::uint64_t want = std::uint64_t{rx_descriptors} + tx_descriptors + 2u * burst +
                             std::uint64_t{cache} * rte_lcore_count();
  std::uint64_t pow2 = 1;
  while (pow2 - 1 < want) pow2 <<= 1;
  return static_cast<std::uint32_t>(pow2 - 1);
}

namespace {
std::string fail(std::string* error, const std::string& what, int rc) {
  std::string msg = what + ": " + rte_strerror(rc < 0 ? -rc : rc);
  if (error != nullptr) *error = msg;
  return msg;
}
}  // namespace

std::unique_ptr<Port> Port::open(std::uint16_t port_id, const PortOptions& options,
                                 std::string* error) {
  const std::string pname = "port " + std::to_string(port_id);
  if (!rte_eth_dev_is_valid_port(port_id)) {
    if (error != nullptr) *error = pname + ": no such ethdev";
    return nullptr;
  }
  if (options.burst == 0 || options.burst > kMaxBurst) {
    if (error != nullptr) *error = pname + ": burst must be 1.." + std::to_string(kMaxBurst);
    return nullptr;
  }
  std::unique_ptr<Port> p(new Port());
  p->id_ = port_id;
  p->burst_ = options.burst;

  rte_eth_dev_info info{};
  if (int rc = rte_eth_dev_info_get(port_id, &info); rc != 0) {
    fail(error, pname + ": rte_eth_dev_info_get", rc);
    return nullptr;
  }
  p->driver_ = info.driver_name != nullptr ? info.driver_name : "?";
  p->tx_offered_ = {(info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) != 0,
                    (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_CKSUM) != 0};
  p->rx_offered_ = {(info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) != 0,
                    (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TCP_CKSUM) != 0};
  if (options.checksum_offload) {
    p->tx_csum_ = p->tx_offered_;
    p->rx_csum_ = p->rx_offered_;
  }

  // Queues: a TX queue per worker; RX queues per worker only where the device can spread
  // flows over them in a way we can predict (RSS over IPv4/TCP with a RETA we can write),
  // since each worker's connect() must pick ports whose answers come back to it.
  const std::uint16_t queues = std::max<std::uint16_t>(options.queues, 1);
  if (queues > info.max_tx_queues) {
    if (error != nullptr) {
      *error = pname + " (" + p->driver_ + "): " + std::to_string(queues) +
               " lcores need as many TX queues, the device has " +
               std::to_string(info.max_tx_queues);
    }
    return nullptr;
  }
  const std::uint64_t rss_hf = info.flow_type_rss_offloads & RTE_ETH_RSS_NONFRAG_IPV4_TCP;
  const bool hw_rss =
      queues > 1 && rss_hf != 0 && info.reta_size > 0 && info.max_rx_queues >= queues &&
      (info.hash_key_size == 0 || info.hash_key_size == flow::kSymmetricRssKey.size());
  p->tx_queues_ = queues;
  // Without RSS there are still as many RX queues as TX queues where the device allows it
  // (net_tap insists on it, and the kernel then spreads flows over them by its own hash):
  // worker 0 reads them all and spreads frames in software.
  p->rx_queues_ = hw_rss || info.max_rx_queues >= queues ? queues : 1;
  p->rss_key_ = flow::kSymmetricRssKey;  // the ethdev keeps a pointer to it in its dev_conf

  rte_eth_conf conf{};
  if (hw_rss) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_key = p->rss_key_.data();
    conf.rx_adv_conf.rss_conf.rss_key_len = static_cast<std::uint8_t>(p->rss_key_.size());
    conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
  }
  if (p->tx_csum_.ipv4) conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
  if (p->tx_csum_.tcp) conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
  if (p->rx_csum_.ipv4) conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
  if (p->rx_csum_.tcp) conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
  if (int rc = rte_eth_dev_configure(port_id, p->rx_queues_, p->tx_queues_, &conf); rc != 0) {
    fail(error, pname + ": rte_eth_dev_configure", rc);
    return nullptr;
  }
  std::uint16_t rxd = options.rx_descriptors, txd = options.tx_descriptors;
  if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &rxd, &txd); rc != 0) {
    fail(error, pname + ": rte_eth_dev_adjust_nb_rx_tx_desc", rc);
    return nullptr;  // ~Port closes the device
  }
  p->rx_desc_ = rxd;
  p->tx_desc_ = txd;
  p->mbufs_ =
      options.mbufs != 0
          ? options.mbufs
          : mbufs_needed(
                static_cast<std::uint16_t>(std::min<unsigned>(rxd * p->rx_queues_, UINT16_MAX)),
                static_cast<std::uint16_t>(std::min<unsigned>(txd * p->tx_queues_, UINT16_MAX)),
                options.burst, options.mbuf_cache);

  const int socket = rte_eth_dev_socket_id(port_id);
  const unsigned pool_socket = socket < 0 ? SOCKET_ID_ANY : static_cast<unsigned>(socket);
  const std::string pool_name = "twtcp_p" + std::to_string(port_id);
  const unsigned cache = std::min<unsigned>(options.mbuf_cache, RTE_MEMPOOL_CACHE_MAX_SIZE);
  p->pool_ = rte_pktmbuf_pool_create(pool_name.c_str(), p->mbufs_, cache, 0,
                                     RTE_MBUF_DEFAULT_BUF_SIZE, static_cast<int>(pool_socket));
  if (p->pool_ == nullptr) {
    fail(error, pname + ": rte_pktmbuf_pool_create(" + std::to_string(p->mbufs_) + " mbufs)",
         rte_errno);
    return nullptr;
  }
  p->max_frame_ = static_cast<std::uint16_t>(RTE_MBUF_DEFAULT_BUF_SIZE - RTE_PKTMBUF_HEADROOM);

  for (std::uint16_t q = 0; q < p->rx_queues_; ++q) {
    if (int rc = rte_eth_rx_queue_setup(port_id, q, rxd, pool_socket, nullptr, p->pool_); rc != 0) {
      fail(error, pname + ": rte_eth_rx_queue_setup", rc);
      return nullptr;  // ~Port closes the device and frees the pool
    }
  }
  for (std::uint16_t q = 0; q < p->tx_queues_; ++q) {
    if (int rc = rte_eth_tx_queue_setup(port_id, q, txd, pool_socket, nullptr); rc != 0) {
      fail(error, pname + ": rte_eth_tx_queue_setup", rc);
      return nullptr;
    }
  }
  if (int rc = rte_eth_dev_start(port_id); rc != 0) {
    fail(error, pname + ": rte_eth_dev_start", rc);
    return nullptr;
  }
  p->started_ = true;
  if (hw_rss) {
    // Write the RETA ourselves (round robin over the workers) so that the table software
    // steering computes with is the device's.
    std::vector<rte_eth_rss_reta_entry64> reta((info.reta_size + RTE_ETH_RETA_GROUP_SIZE - 1) /
                                               RTE_ETH_RETA_GROUP_SIZE);
    p->reta_ = flow::round_robin_reta(info.reta_size, queues);
    for (std::uint16_t i = 0; i < info.reta_size; ++i) {
      auto& group = reta[i / RTE_ETH_RETA_GROUP_SIZE];
      group.mask |= 1ULL << (i % RTE_ETH_RETA_GROUP_SIZE);
      group.reta[i % RTE_ETH_RETA_GROUP_SIZE] = p->reta_[i];
    }
    if (int rc = rte_eth_dev_rss_reta_update(port_id, reta.data(), info.reta_size); rc != 0) {
      fail(error, pname + ": rte_eth_dev_rss_reta_update", rc);
      return nullptr;
    }
  }
  rte_ether_addr mac{};
  if (rte_eth_macaddr_get(port_id, &mac) == 0) {
    std::copy(std::begin(mac.addr_bytes), std::end(mac.addr_bytes), p->mac_.begin());
  }
  return p;
}

Port::~Port() {
  if (started_) (void)rte_eth_dev_stop(id_);
  (void)rte_eth_dev_close(id_);
  // Mbufs still sitting in a peer's RX ring belong to this pool; callers drain before this.
  if (pool_ != nullptr) rte_mempool_free(pool_);
}

std::optional<RingPair> create_ring_pair(const std::string& name, unsigned ring_size,
                                         std::string* error) {
  const std::string ab_name = name + "_ab", ba_name = name + "_ba";
  const unsigned flags = RING_F_SP_ENQ | RING_F_SC_DEQ;  // one lcore drives both ports
  rte_ring* ab = rte_ring_create(ab_name.c_str(), ring_size, SOCKET_ID_ANY, flags);
  rte_ring* ba = rte_ring_create(ba_name.c_str(), ring_size, SOCKET_ID_ANY, flags);
  if (ab == nullptr || ba == nullptr) {
    fail(error, "rte_ring_create(" + name + ", " + std::to_string(ring_size) + ")", rte_errno);
    rte_ring_free(ab);
    rte_ring_free(ba);
    return std::nullopt;
  }
  // a sends on ab and receives on ba; b the reverse.
  rte_ring* a_rx[] = {ba};
  rte_ring* a_tx[] = {ab};
  rte_ring* b_rx[] = {ab};
  rte_ring* b_tx[] = {ba};
  const int a = rte_eth_from_rings((name + "_a").c_str(), a_rx, 1, a_tx, 1, rte_socket_id());
  const int b = rte_eth_from_rings((name + "_b").c_str(), b_rx, 1, b_tx, 1, rte_socket_id());
  if (a < 0 || b < 0) {
    fail(error, "rte_eth_from_rings(" + name + ")", rte_errno);
    return std::nullopt;
  }
  return RingPair{static_cast<std::uint16_t>(a), static_cast<std::uint16_t>(b)};
}

}  // namespace twtcp::dpdk
