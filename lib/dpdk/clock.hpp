// lib/dpdk/clock.hpp: the time every twtcp Stack is fed in a DPDK program, in microseconds,
// from the TSC (rte_get_tsc_cycles: no system call in the poll loop).
#pragma once

#include <rte_cycles.h>

#include <cstdint>

namespace twtcp::dpdk {

class TscClock {
 public:
  // Starts at `start_us` rather than 0: the TIME_WAIT rules read a timestamp stamp of second
  // 0 as "no timestamp seen", so a clock starting at 0 would disable tw_reuse for the first
  // second's connections.
  explicit TscClock(std::uint64_t start_us = 10'000'000)
      : hz_(rte_get_tsc_hz()), tsc0_(rte_get_tsc_cycles()), start_us_(start_us), last_(start_us) {}

  // Monotonic even if the TSCs of two cores disagree slightly (the value never goes back).
  [[nodiscard]] std::uint64_t now_us() noexcept {
    const std::uint64_t d = rte_get_tsc_cycles() - tsc0_;
    // Split so that d * 1e6 cannot overflow (d reaches 2^64 / 1e6 after ~1.6 h at 3 GHz).
    const std::uint64_t us = start_us_ + (d / hz_) * 1'000'000 + (d % hz_) * 1'000'000 / hz_;
    if (us > last_) last_ = us;
    return last_;
  }
  [[nodiscard]] std::uint64_t tsc_hz() const noexcept { return hz_; }

 private:
  std::uint64_t hz_;
  std::uint64_t tsc0_;
  std::uint64_t start_us_;
  std::uint64_t last_;
};

}  // namespace twtcp::dpdk
