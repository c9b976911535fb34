// lib/dpdk/soft_rss.hpp: receive-side scaling in software, for ports that cannot spread flows
// over queues themselves (net_ring, net_memif, net_tap without its BPF RSS, and NICs whose
// RETA DPDK cannot read). One lcore reads the port's single RX queue and hands each frame to
// the worker a NIC would have chosen: the Toeplitz hash of the IPv4 TCP tuple with the
// symmetric key through a round-robin RETA (lib/flow/rss.hpp), so that the source port a
// worker picks for connect() (steered with the same RssSteering) brings the answers back to
// that worker. Frames that are not IPv4 TCP go to worker 0 (it owns ARP answers and ping),
// except ARP replies, which every worker gets (each resolves its own next hops).
//
// Between lcores: one single-producer single-consumer rte_ring per worker, so the hand-off
// takes no lock. A full ring drops the frame and counts it, as a NIC's full RX queue would.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "flow/rss.hpp"

struct rte_mbuf;
struct rte_ring;

namespace twtcp::dpdk {

// Where a frame goes, from its first bytes (Ethernet, then IPv4 and TCP headers).
struct SoftRssTarget {
  enum Kind : std::uint8_t { kWorker, kAllWorkers };
  Kind kind = kWorker;
  std::uint16_t worker = 0;
};

struct SoftRssStats {
  std::uint64_t dispatched = 0;    // frames handed to another worker's ring
  std::uint64_t kept = 0;          // frames for the dispatching worker itself
  std::uint64_t broadcast = 0;     // ARP replies copied to every worker
  std::uint64_t dropped_full = 0;  // a worker's ring was full
};

class SoftRss {
 public:
  static constexpr std::uint16_t kRetaSize = 128;

  // `workers` >= 1 rings of `ring_size` (a power of two) frames each; nullptr + *error if
  // DPDK cannot make them (EAL must be running). Ring names carry `name` (unique per process).
  static std::unique_ptr<SoftRss> create(const std::string& name, std::uint16_t workers,
                                         unsigned ring_size, std::string* error);
  ~SoftRss();  // frees frames still in the rings
  SoftRss(const SoftRss&) = delete;
  SoftRss& operator=(const SoftRss&) = delete;

  [[nodiscard]] std::uint16_t workers() const noexcept { return workers_; }
  // What worker `w` passes to its Stack so connect() picks ports whose answers land on `w`.
  [[nodiscard]] const flow::RssSteering& steering(std::uint16_t w) const { return steering_[w]; }

  // Pure classification of one frame (also what tests check).
  [[nodiscard]] SoftRssTarget classify(const std::uint8_t* frame, std::uint32_t len) const noexcept;

  // Called by the lcore that polls the port (worker `self`): frames for other workers go into
  // their rings (ARP replies into every ring, with the mbuf's reference count raised), frames
  // for `self` are written to `mine`, which must hold n entries. Returns how many are mine.
  unsigned dispatch(rte_mbuf** frames, unsigned n, std::uint16_t self, rte_mbuf** mine) noexcept;
  // Called by worker `w`: up to `max` frames from its ring.
  unsigned receive(std::uint16_t w, rte_mbuf** out, unsigned max) noexcept;

  // Written by the dispatching lcore only; read them after the workers have stopped.
  [[nodiscard]] const SoftRssStats& stats() const noexcept { return stats_; }

 private:
  SoftRss(std::uint16_t workers);
  bool hand_to(std::uint16_t w, rte_mbuf* m) noexcept;

  std::uint16_t workers_;
  std::vector<flow::RssSteering> steering_;
  std::vector<rte_ring*> rings_;
  SoftRssStats stats_;
};

}  // namespace twtcp::dpdk
