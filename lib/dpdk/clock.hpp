// lib/dpdk/clock.hpp: the time every twtcp Stack is fed in a DPDK program, in microseconds,
// from the TSC (rte_get_tsc_cycles: no system call in the poll loop).
#pragma once

#include <rte_cycles.h>

#include <cstdint>

namespace twtcp::dpdk {

// One per lcore (copies are fine: each copy keeps its own high-water mark).
class TscClock {
 public:
  // Starts at `start_us` rather than 0: the TIME_WAIT rules read a timestamp stamp of second
  // 0 as "no timestamp seen", so a clock starting at 0 would disable tw_reuse for the first
  // second's connections. Needs EAL (rte_get_tsc_hz).
  explicit TscClock(std::uint64_t start_us = 10'000'000)
      : TscClock(rte_get_tsc_hz(), rte_get_tsc_cycles(), start_us) {}
  // A clock whose TSC runs at `hz` and read `tsc0` at `start_us` (tests feed at_tsc()).
  TscClock(std::uint64_t hz, std::uint64_t tsc0, std::uint64_t start_us) noexcept
      : hz_(hz != 0 ? hz : 1), tsc0_(tsc0), start_us_(start_us), last_(start_us) {}

  [[nodiscard]] std::uint64_t now_us() noexcept { return at_tsc(rte_get_tsc_cycles()); }

  // The time at TSC reading `tsc`, never earlier than any time this clock returned before:
  // another core's TSC may lag the one read at construction by a few cycles, and read
  // there it must mean "no time passed", not 2^64 cycles later.
  [[nodiscard]] std::uint64_t at_tsc(std::uint64_t tsc) noexcept {
    const std::uint64_t d = tsc >= tsc0_ ? tsc - tsc0_ : 0;
    // Split so that d * 1e6 cannot overflow (it would after ~1.6 h at 3 GHz).
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
