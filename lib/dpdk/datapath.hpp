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
  std::uint64_t tx_built_in_mbuf = 0;     // built in place (tx_begin/tx_commit), not copied
  std::uint64_t tx_csum_offloaded = 0;    // TCP/IPv4 frames whose checksums the device fills
  std::uint64_t rx_csum_verified = 0;     // the device vouched for a checksum (not rechecked)
  std::uint64_t rx_csum_bad = 0;          // the device found a bad one (the Stack drops it)
};

// The TxSink a Stack is built with. Frames go into mbufs queued in a batch of up to the
// port's burst; a full batch goes out at once, the rest at flush(). tx_begin() lends an
// mbuf's data area so the Stack builds the frame there (no copy); transmit() copies. With
// the port's TX checksum offloads enabled, offloads() says so and every TCP/IPv4 frame gets
// the mbuf flags that make the device fill the checksums. Never calls back into the Stack.
// Allocates nothing on the heap.
class MbufTxSink final : public TxSink {
 public:
  // Sends on TX queue `queue` of the port (one per worker lcore).
  explicit MbufTxSink(Port& port, std::uint16_t queue = 0);
  ~MbufTxSink() override;  // frees what was never flushed
  MbufTxSink(const MbufTxSink&) = delete;
  MbufTxSink& operator=(const MbufTxSink&) = delete;
  void transmit(std::span<const std::uint8_t> frame) override;
  [[nodiscard]] ChecksumOffloads offloads() const noexcept override { return csum_; }
  // Empty if max_len exceeds one segment or the pool is empty (the caller falls back to
  // transmit(), which counts the drop).
  std::span<std::uint8_t> tx_begin(std::size_t max_len) override;
  void tx_commit(std::size_t len) override;
  // rte_eth_tx_burst of the batch; what the device refuses is freed and counted.
  void flush() noexcept;
  [[nodiscard]] const DatapathStats& stats() const noexcept { return stats_; }

 private:
  friend class Datapath;
  void enqueue(rte_mbuf* m, std::uint16_t len) noexcept;
  // A reset mbuf for the next frame (nullptr if the pool is empty); takes the one after it
  // from the pool and requests its lines.
  rte_mbuf* take_mbuf() noexcept;
  Port& port_;
  std::uint16_t queue_ = 0;
  const ChecksumOffloads csum_;
  // Lent by tx_begin(); kept after an abandoned frame so the next tx_begin() reuses it.
  rte_mbuf* open_ = nullptr;
  // The mbuf after open_, straight from the pool (not reset yet): its header and first data
  // lines are being fetched for writing while a frame is built in open_.
  rte_mbuf* ahead_ = nullptr;
  std::size_t data_offset_ = 0;  // from an mbuf's address to its data (pool layout)
  std::array<rte_mbuf*, kMaxBurst> batch_{};
  std::uint16_t queued_ = 0;
  DatapathStats stats_;
};

// The checksum verdicts of a received mbuf for Stack::input(), for the checksums the port
// has RX offload enabled for (others stay unchecked). GOOD and NONE ("the field is not
// valid but the data was verified") are kGood. Counts into stats.rx_csum_verified/_bad.
[[nodiscard]] RxChecksums rx_checksums(const rte_mbuf* m, ChecksumOffloads enabled,
                                       DatapathStats& stats) noexcept;

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
  DatapathStats rx_csum_;  // only rx_csum_verified / rx_csum_bad
};

}  // namespace twtcp::dpdk
