// app/common/netif.hpp: one DPDK port as a twtcp program's network interface: frames from
// the port go to lib/neigh first (ARP, ping) and then to the Stack; the Stack's frames get
// their next hop's MAC from lib/neigh and leave through lib/dpdk's MbufTxSink. Optionally
// every frame in and out is written to a pcapng file (rte_pcapng).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dpdk/clock.hpp"
#include "dpdk/datapath.hpp"
#include "dpdk/port.hpp"
#include "dpdk/soft_rss.hpp"
#include "neigh/neighbors.hpp"
#include "twtcp/config.hpp"
#include "twtcp/stack.hpp"

namespace twtcp::app {

class PcapWriter;

struct NetIfStats {
  std::uint64_t rx_frames = 0;
  std::uint64_t rx_to_stack = 0;
  std::uint64_t rx_multiseg_dropped = 0;
  std::uint64_t pcap_frames = 0;
  std::uint64_t pcap_dropped = 0;
};

class NetIf {
 public:
  // Worker `worker` of the port: its TX queue, and its RX queue where the port has hardware
  // RSS; otherwise worker 0 reads the one RX queue and `soft_rss` (needed with several
  // workers) hands the others their frames.
  NetIf(dpdk::Port& port, const neigh::NeighborConfig& ncfg, std::uint16_t worker = 0,
        dpdk::SoftRss* soft_rss = nullptr);
  ~NetIf();
  NetIf(const NetIf&) = delete;
  NetIf& operator=(const NetIf&) = delete;

  // Starts writing pcapng to `path`. false + error on failure.
  bool open_pcap(const std::string& path, std::string* error);

  // What the Stack must be built with.
  [[nodiscard]] TxSink& stack_sink() noexcept { return neigh_.stack_sink(); }

  // One loop iteration: RX burst → neighbours / Stack, Stack timers, neighbour retries, TX.
  unsigned poll(Stack& stack, std::uint64_t now_us);
  // Sends frames queued outside poll() (an application call from outside a callback).
  void flush() noexcept { sink_.flush(); }

  [[nodiscard]] const neigh::Neighbors& neighbors() const noexcept { return neigh_; }
  [[nodiscard]] NetIfStats stats() const noexcept { return stats_; }
  [[nodiscard]] dpdk::DatapathStats tx_stats() const noexcept { return sink_.stats(); }
  [[nodiscard]] dpdk::Port& port() noexcept { return port_; }
  // Every counter of the port, the ARP/ICMP layer and the capture by name (rx_frames,
  // tx_dropped, neigh_evictions, ...): the "twtcp" group of --stats-json and telemetry.
  [[nodiscard]] std::vector<std::pair<std::string, std::uint64_t>> counter_rows() const;

 private:
  // Between lib/neigh and the mbuf sink: records TX frames into the capture, and passes
  // the sink's offloads and lent buffers through.
  struct TxTap final : TxSink {
    NetIf* self = nullptr;
    std::span<std::uint8_t> lent;
    void transmit(std::span<const std::uint8_t> f) override;
    [[nodiscard]] ChecksumOffloads offloads() const noexcept override {
      return self->sink_.offloads();
    }
    std::span<std::uint8_t> tx_begin(std::size_t max_len) override;
    void tx_commit(std::size_t len) override;
  };
  void capture_tx(std::span<const std::uint8_t> f);

  dpdk::Port& port_;
  std::uint16_t worker_ = 0;
  dpdk::SoftRss* soft_rss_ = nullptr;
  std::uint16_t next_rx_queue_ = 0;  // software RSS: the device queue worker 0 reads next
  dpdk::MbufTxSink sink_;
  TxTap tap_;
  neigh::Neighbors neigh_;
  std::unique_ptr<PcapWriter> pcap_;
  NetIfStats stats_;
  dpdk::DatapathStats rx_csum_;  // rx_csum_verified / rx_csum_bad
};

// What twtcp-server and twtcp-client set up once EAL runs: the DPDK port (the first one, or
// `port_id`), its NetIf (ARP, ping, optional pcapng), the clock, and a Stack on them.
struct HostOptions {
  std::uint32_t addr = 0;  // host order
  std::uint8_t prefix_len = 24;
  std::uint32_t gateway = 0;
  std::uint16_t port_id = UINT16_MAX;  // UINT16_MAX: the first port
  std::string pcap;                    // empty: no capture
  std::uint16_t workers = 1;           // lcores, each with its own Stack (share nothing)
};

class Host {
 public:
  // nullptr and a one-line *error when the port cannot be found or opened.
  static std::unique_ptr<Host> open(const HostOptions& o, const Config& cfg, std::string* error);

  [[nodiscard]] dpdk::Port& port() noexcept { return *port_; }
  [[nodiscard]] std::uint16_t workers() const noexcept {
    return static_cast<std::uint16_t>(stacks_.size());
  }
  // Worker w's interface and Stack; w = 0 runs on the main lcore and owns ARP answers and
  // ping. A Stack is used from its worker's lcore only.
  [[nodiscard]] NetIf& netif(std::uint16_t w = 0) noexcept { return *netifs_[w]; }
  [[nodiscard]] Stack& stack(std::uint16_t w = 0) noexcept { return *stacks_[w]; }
  [[nodiscard]] dpdk::TscClock& clock() noexcept { return clock_; }
  // Runs run(w) for every worker: w >= 1 on the EAL worker lcores, 0 on this (main) lcore;
  // returns when all have returned.
  void run_workers(const std::function<void(std::uint16_t)>& run);
  // Every worker's counter_rows() summed, then the software RSS counters if it runs.
  [[nodiscard]] std::vector<std::pair<std::string, std::uint64_t>> counter_rows() const;

 private:
  Host() = default;
  // Destroyed in reverse: the Stack before the NetIf it sends through, before the port.
  std::unique_ptr<dpdk::Port> port_;
  std::unique_ptr<dpdk::SoftRss> soft_rss_;
  std::vector<std::unique_ptr<NetIf>> netifs_;
  dpdk::TscClock clock_;
  std::vector<std::unique_ptr<Stack>> stacks_;
};

}  // namespace twtcp::app
