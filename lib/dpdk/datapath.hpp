// lib/dpdk/datapath.hpp: moves frames between one Port and one twtcp Stack. The poll loop of
// a twtcp program is: for each port, Datapath::poll(stack, clock.now_us()).
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "dpdk/port.hpp"
#include "twtcp/stack.hpp"

struct rte_mbuf;

namespace twtcp::dpdk {

struct DatapathStats {
  std::uint64_t polls = 0;
  std::uint64_t rx_frames = 0;            // handed to Stack::input
  std::uint64_t rx_multiseg_dropped = 0;  // chained mbufs: the Stack parses one contiguous frame
  std::uint64_t tx_frames = 0;            // accepted by rte_eth_tx_burst
  std::uint64_t tx_bursts = 0;
  std::uint64_t tx_dropped_full = 0;      // the TX queue refused them (ring/NIC full)
  std::uint64_t tx_dropped_no_mbuf = 0;   // the pool was empty
  std::uint64_t tx_dropped_oversize = 0;  // larger than one mbuf segment
};

// The TxSink a Stack is built with. transmit() copies the frame into a fresh mbuf and queues
// it in a batch of up to the port's burst; a full batch goes out at once, the rest at
// flush(). Never calls back into the Stack. Allocates nothing on the heap.
class MbufTxSink final : public TxSink {
 public:
  explicit MbufTxSink(Port& port) : port_(port) {}
  ~MbufTxSink() override;  // frees what was never flushed
  void transmit(std::span<const std::uint8_t> frame) override;
  // rte_eth_tx_burst of the batch; what the device refuses is freed and counted.
  void flush() noexcept;
  [[nodiscard]] const DatapathStats& stats() const noexcept { return stats_; }

 private:
  friend class Datapath;
  Port& port_;
  std::array<rte_mbuf*, kMaxBurst> batch_{};
  std::uint16_t queued_ = 0;
  DatapathStats stats_;
};

// One port's RX/TX for one Stack. Build the Datapath first, then the Stack with tx().
class Datapath {
 public:
  explicit Datapath(Port& port) : port_(port), tx_(port) {}
  Datapath(const Datapath&) = delete;
  Datapath& operator=(const Datapath&) = delete;

  [[nodiscard]] TxSink& tx() noexcept { return tx_; }
  [[nodiscard]] Port& port() noexcept { return port_; }

  // One loop iteration: rte_eth_rx_burst -> Stack::input for each frame -> Stack::advance(now)
  // -> flush TX. Returns the frames received (0 = idle).
  unsigned poll(Stack& stack, std::uint64_t now_us);
  // Sends what the Stack queued outside poll() (after connect/close called from outside a
  // callback, say).
  void flush() noexcept { tx_.flush(); }
  // Frees every frame waiting on RX without looking at it (between two Stacks' lifetimes).
  // Returns how many. Bounded by `max_frames`.
  unsigned discard_rx(unsigned max_frames = 1u << 20);

  // RX counters are the Datapath's, TX counters the sink's; merged here.
  [[nodiscard]] DatapathStats stats() const noexcept;

 private:
  Port& port_;
  MbufTxSink tx_;
  std::uint64_t polls_ = 0, rx_frames_ = 0, rx_multiseg_dropped_ = 0;
};

}  // namespace twtcp::dpdk
