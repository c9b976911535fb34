// app/common/telemetry.hpp: DPDK telemetry for a twtcp program, readable with the
// dpdk-telemetry.py client that ships with DPDK:
//   /twtcp/stats     counters by Linux MIB name: {"Tcp": {...}, "TcpExt": {...}, "twtcp": {...}}
//   /twtcp/config    every configuration key with its value
//   /twtcp/timewait  TIME_WAIT entries: 4-tuple, ms left, ts_recent (param: how many, <= 500)
// Telemetry callbacks run on DPDK's telemetry thread, so they never touch a Stack: each poll
// loop publishes a snapshot every 100 ms (a non-blocking try_lock: if a reader holds the
// snapshot, that round is skipped) and the callbacks read the last ones.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "twtcp/config.hpp"
#include "twtcp/stack.hpp"

namespace twtcp::app {

class Telemetry {
 public:
  static constexpr std::size_t kMaxTimewait = 500;  // rte_telemetry arrays hold 512

  // Registers the commands (once per process). The object must outlive EAL. With several
  // workers (one Stack per lcore) each publishes its own snapshot and the commands answer
  // with their sum: counters added by name, TIME_WAIT entries listed worker by worker.
  explicit Telemetry(const Config& cfg, std::size_t workers = 1);
  ~Telemetry();

  // From worker w's poll loop: due() every iteration, publish() when it says so (100 ms).
  [[nodiscard]] bool due(std::uint64_t now_us, std::size_t w = 0) const noexcept {
    return now_us >= slots_[w].next_us;
  }
  void publish(const Stack& stack, std::uint64_t now_us,
               const std::vector<std::pair<std::string, std::uint64_t>>& extra, std::size_t w = 0);

  struct Snapshot {
    std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::uint64_t>>>> groups;
    std::vector<TimeWaitInfo> timewait;
    std::uint64_t timewait_total = 0;
    std::uint64_t taken_at_us = 0;
  };
  // For the callbacks (telemetry thread): every worker's snapshot merged.
  [[nodiscard]] Snapshot merged() const;
  [[nodiscard]] const std::vector<std::pair<std::string, std::string>>& config() const noexcept {
    return config_;
  }

 private:
  struct Slot {
    mutable std::mutex mu;
    Snapshot snap;
    Snapshot scratch;  // the worker's own, built outside the lock
    std::uint64_t next_us = 0;
  };
  std::vector<std::pair<std::string, std::string>> config_;
  std::vector<Slot> slots_;
};

}  // namespace twtcp::app
