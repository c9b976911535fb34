// tests/dpdk/test_clock.cpp: TscClock, the time every DPDK program feeds its Stacks. It never
// goes backwards (a lagging TSC on another core, a TSC below the one read at start), does
// not overflow over years of uptime, and, on the real TSC with EAL running, agrees with
// CLOCK_MONOTONIC and stays monotonic on both lcores at once.
#include <gtest/gtest.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "dpdk/clock.hpp"
#include "dpdk/eal.hpp"

namespace twtcp::dpdk {
namespace {

constexpr std::uint64_t kHz = 2'900'000'000;  // an odd TSC rate: rounding shows
constexpr std::uint64_t kTsc0 = 123'456'789'000;
constexpr std::uint64_t kStart = 10'000'000;

TEST(TscClock, CountsMicrosecondsFromItsStart) {
  TscClock c(kHz, kTsc0, kStart);
  EXPECT_EQ(c.at_tsc(kTsc0), kStart);
  EXPECT_EQ(c.at_tsc(kTsc0 + kHz), kStart + 1'000'000);
  EXPECT_EQ(c.at_tsc(kTsc0 + kHz + kHz / 2), kStart + 1'500'000);
  EXPECT_EQ(c.at_tsc(kTsc0 + kHz * 60 + 2900), kStart + 60'000'001);
}

TEST(TscClock, ATscBehindTheStartIsNoTimePassedNotAJumpToTheFarFuture) {
  TscClock c(kHz, kTsc0, kStart);
  EXPECT_EQ(c.at_tsc(kTsc0 - 1), kStart);  // unsigned d would have wrapped to 2^64 - 1
  EXPECT_EQ(c.at_tsc(kTsc0 - 1'000'000), kStart);
  EXPECT_EQ(c.at_tsc(kTsc0 + kHz), kStart + 1'000'000);  // and time still moves on
}

TEST(TscClock, NeverGoesBackwards) {
  TscClock c(kHz, kTsc0, kStart);
  const std::uint64_t t1 = c.at_tsc(kTsc0 + 10 * kHz);
  EXPECT_EQ(c.at_tsc(kTsc0 + 9 * kHz), t1);  // a lagging core's reading: held, not earlier
  EXPECT_EQ(c.at_tsc(kTsc0), t1);
  EXPECT_EQ(c.at_tsc(kTsc0 + 10 * kHz + kHz / 1'000'000 * 3), t1 + 3);
  std::uint64_t last = 0;
  std::uint64_t tsc = kTsc0;
  for (int i = 0; i < 1'000'000; ++i) {  // sub-microsecond steps across many seconds
    tsc += 1 + static_cast<std::uint64_t>(i % 7) * 997;
    if (i % 5 == 0) tsc -= 500;  // jitter backwards
    const std::uint64_t t = c.at_tsc(tsc);
    ASSERT_GE(t, last) << i;
    last = t;
  }
}

TEST(TscClock, YearsOfUptimeNeitherOverflowNorLosePrecision) {
  TscClock c(kHz, kTsc0, kStart);
  constexpr std::uint64_t kYearS = 365ULL * 24 * 3600;
  for (std::uint64_t years : {1ULL, 10ULL, 100ULL}) {
    const std::uint64_t s = years * kYearS;
    EXPECT_EQ(c.at_tsc(kTsc0 + s * kHz + kHz / 4), kStart + s * 1'000'000 + 250'000) << years;
  }
  // The naive d * 1e6 / hz overflows after 2^64 / 1e6 cycles (~1.8 h at 2.9 GHz).
  const std::uint64_t d = UINT64_MAX / 1'000'000 * 3;
  const std::uint64_t expect = kStart + d / kHz * 1'000'000 + d % kHz * 1'000'000 / kHz;
  TscClock fresh(kHz, kTsc0, kStart);
  EXPECT_EQ(fresh.at_tsc(kTsc0 + d), expect);
  EXPECT_GT(expect, kStart + 5'000ULL * 1'000'000);  // hours, not wrapped to minutes
}

// The real TSC under EAL, read on both lcores at once (each with its own copy, as the
// programs do): monotonic everywhere, and in step with CLOCK_MONOTONIC.
struct LcoreRun {
  TscClock clock;
  std::chrono::steady_clock::time_point until;
  std::uint64_t reads = 0, backwards = 0, first = 0, last = 0;
};

int read_until(void* arg) {
  auto* r = static_cast<LcoreRun*>(arg);
  r->first = r->last = r->clock.now_us();
  while (std::chrono::steady_clock::now() < r->until) {
    const std::uint64_t t = r->clock.now_us();
    if (t < r->last) ++r->backwards;
    r->last = t;
    ++r->reads;
  }
  return 0;
}

TEST(TscClockOnEal, MonotonicOnTwoLcoresAndInStepWithClockMonotonic) {
  if (geteuid() != 0) GTEST_SKIP() << "EAL needs root";
  Eal eal({"test_clock", "-l", "0,1", "--no-huge", "--no-pci", "-m", "64", "--log-level", "error",
           "--file-prefix", "twtcp_clock_" + std::to_string(getpid())});
  ASSERT_TRUE(eal.ok()) << eal.error();
  ASSERT_GE(rte_lcore_count(), 2u);
  TscClock clock;
  ASSERT_GT(clock.tsc_hz(), 0u);
  const auto t0 = std::chrono::steady_clock::now();
  const std::uint64_t c0 = clock.now_us();
  LcoreRun main_run{clock, t0 + std::chrono::milliseconds(300)};
  LcoreRun worker_run{clock, main_run.until};
  const unsigned worker = rte_get_next_lcore(-1, 1, 0);
  ASSERT_EQ(rte_eal_remote_launch(read_until, &worker_run, worker), 0);
  read_until(&main_run);
  ASSERT_EQ(rte_eal_wait_lcore(worker), 0);
  const auto wall_us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  const std::uint64_t tsc_us = clock.now_us() - c0;
  for (const LcoreRun* r : {&main_run, &worker_run}) {
    EXPECT_GT(r->reads, 1000u);
    EXPECT_EQ(r->backwards, 0u);
    EXPECT_GE(r->last - r->first, 250'000u);
  }
  // 300 ms on both clocks, within 2 % (the TSC rate EAL measured at start).
  EXPECT_NEAR(static_cast<double>(tsc_us), static_cast<double>(wall_us), 0.02 * wall_us + 2000);
  std::printf("TSC %llu Hz: %llu us by the TSC, %lld us by CLOCK_MONOTONIC; reads %llu + %llu\n",
              static_cast<unsigned long long>(clock.tsc_hz()),
              static_cast<unsigned long long>(tsc_us), static_cast<long long>(wall_us),
              static_cast<unsigned long long>(main_run.reads),
              static_cast<unsigned long long>(worker_run.reads));
}

}  // namespace
}  // namespace twtcp::dpdk
