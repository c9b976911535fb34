// lib/dpdk/port.hpp: one ethdev configured for a twtcp Stack: one RX/TX queue pair and a
// private mbuf pool. Works with any PMD (a NIC, net_ring, net_tap, ...).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "twtcp/stack.hpp"

struct rte_mempool;

namespace twtcp::dpdk {

// The largest burst the datapath moves at once (RX and TX batches are arrays of this size).
inline constexpr std::uint16_t kMaxBurst = 64;

struct PortOptions {
  std::uint16_t rx_descriptors = 1024;  // adjusted to what the device accepts
  std::uint16_t tx_descriptors = 1024;
  std::uint16_t burst = 32;  // 1..kMaxBurst
  // Mbufs in the pool; 0 = mbufs_needed() for the descriptors actually configured.
  std::uint32_t mbufs = 0;
  std::uint16_t mbuf_cache = 256;
  // Use the IPv4/TCP checksum offloads the device offers (twtcp.checksum_offload = auto);
  // false: none, the Stack computes and verifies every checksum (= off).
  bool checksum_offload = true;
  // Workers (lcores) sharing the port, each with its own TX queue. Where the device has RSS
  // with a redirection table, each also gets an RX queue and the device spreads flows with
  // the symmetric key; otherwise one lcore reads every RX queue and lib/dpdk/soft_rss
  // spreads the frames in software.
  std::uint16_t queues = 1;
};

// Pool size for a port: a full RX ring (the NIC holds those mbufs), a full TX ring (sent but
// not yet completed, or waiting in the peer's ring for net_ring), one TX batch and one RX
// batch in our hands, and the per-lcore cache; rounded up to 2^k - 1 (the mempool's best
// size).
[[nodiscard]] std::uint32_t mbufs_needed(std::uint16_t rx_descriptors, std::uint16_t tx_descriptors,
                                         std::uint16_t burst, std::uint16_t cache);

class Port {
 public:
  // Configures and starts ethdev `port_id`, with each IPv4/TCP checksum offload the device
  // offers in either direction enabled (unless options.checksum_offload is false). No other
  // offload. nullptr + *error on failure.
  static std::unique_ptr<Port> open(std::uint16_t port_id, const PortOptions& options,
                                    std::string* error);
  ~Port();  // stops and closes the ethdev, frees the pool
  Port(const Port&) = delete;
  Port& operator=(const Port&) = delete;

  [[nodiscard]] std::uint16_t id() const noexcept { return id_; }
  [[nodiscard]] rte_mempool* pool() const noexcept { return pool_; }
  [[nodiscard]] std::uint16_t burst() const noexcept { return burst_; }
  [[nodiscard]] const std::array<std::uint8_t, 6>& mac() const noexcept { return mac_; }
  [[nodiscard]] const std::string& driver() const noexcept { return driver_; }
  [[nodiscard]] std::uint16_t rx_descriptors() const noexcept { return rx_desc_; }
  [[nodiscard]] std::uint16_t tx_descriptors() const noexcept { return tx_desc_; }
  [[nodiscard]] std::uint32_t mbufs() const noexcept { return mbufs_; }
  [[nodiscard]] std::uint16_t tx_queues() const noexcept { return tx_queues_; }
  [[nodiscard]] std::uint16_t rx_queues() const noexcept { return rx_queues_; }
  // True when the device spreads flows over rx_queues() itself (symmetric Toeplitz key, the
  // round-robin RETA in reta()); the steering of queue q is then RssSteering(key, reta, q).
  [[nodiscard]] bool hardware_rss() const noexcept { return !reta_.empty(); }
  [[nodiscard]] const std::vector<std::uint16_t>& reta() const noexcept { return reta_; }
  // Room for one frame in one mbuf segment (the TX sink drops larger frames).
  [[nodiscard]] std::uint16_t max_frame() const noexcept { return max_frame_; }
  // Checksums the device offers to compute on TX / verify on RX (rte_eth_dev_info), and
  // those enabled: what the TX sink leaves to it and the RX path trusts it with.
  [[nodiscard]] ChecksumOffloads tx_checksum_offered() const noexcept { return tx_offered_; }
  [[nodiscard]] ChecksumOffloads rx_checksum_offered() const noexcept { return rx_offered_; }
  [[nodiscard]] ChecksumOffloads tx_checksum_offloads() const noexcept { return tx_csum_; }
  [[nodiscard]] ChecksumOffloads rx_checksum_offloads() const noexcept { return rx_csum_; }

 private:
  Port() = default;
  std::uint16_t id_ = 0;
  rte_mempool* pool_ = nullptr;
  std::uint16_t burst_ = 32;
  std::array<std::uint8_t, 6> mac_{};
  std::string driver_;
  std::uint16_t rx_desc_ = 0, tx_desc_ = 0;
  std::uint16_t rx_queues_ = 1, tx_queues_ = 1;
  std::vector<std::uint16_t> reta_;
  std::array<std::uint8_t, 40> rss_key_{};
  std::uint32_t mbufs_ = 0;
  std::uint16_t max_frame_ = 0;
  ChecksumOffloads tx_offered_, rx_offered_, tx_csum_, rx_csum_;
  bool started_ = false;
};

// Two ethdevs joined back to back in memory: what `a` transmits `b` receives and the
// reverse. Built with rte_eth_from_rings over two rte_rings crossed between the ports (the
// net_ring vdev's own devargs give each port one ring for both directions, a loopback).
// The rings live until the process exits (DPDK has no call to detach them from the ports).
struct RingPair {
  std::uint16_t a = 0;
  std::uint16_t b = 0;
};
[[nodiscard]] std::optional<RingPair> create_ring_pair(const std::string& name, unsigned ring_size,
                                                       std::string* error);

}  // namespace twtcp::dpdk
