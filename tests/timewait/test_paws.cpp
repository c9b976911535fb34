// tests/timewait/test_paws.cpp: tcp_paws_check / tcp_paws_reject (SPEC.md §6.1; A5, A7, A8)
// and what they mean for a TW. A1-A4, A6, A9, A10 are about established sockets (lib/tcp).
#include <gtest/gtest.h>

#include "fixture.hpp"

namespace twtcp::timewait::test {
namespace {

class Paws : public ModelTest {};
INSTANTIATE_TEST_SUITE_P(AllModels, Paws, ::testing::ValuesIn(kAllKernelModels), model_param_name);

constexpr std::uint32_t kStamp = 10'000;  // seconds

TEST_P(Paws, WindowToleratesReplayOfWinTicks) {
  const std::uint64_t now = std::uint64_t{kStamp + 1} * kSec;
  EXPECT_TRUE(paws_check(1000, kStamp, 1000, 0, now, policy()));
  EXPECT_FALSE(paws_check(1000, kStamp, 999, 0, now, policy()));
  EXPECT_TRUE(paws_check(1000, kStamp, 999, 1, now, policy()));
  EXPECT_TRUE(paws_check(0xfffffff0u, kStamp, 5, 0, now, policy()));  // wrapped forward
}

// In TW (and request socks) an RST with an old TSval is rejected until ts_recent is 60 s old.
TEST_P(Paws, A5_OldTsRstRejectedUntilTsRecentIs60sOld) {
  const TimeWaitPolicy p = policy();
  EXPECT_TRUE(paws_reject(1000, kStamp, 900, true, std::uint64_t{kStamp + 59} * kSec, p));
  EXPECT_FALSE(paws_reject(1000, kStamp, 900, true, std::uint64_t{kStamp + 60} * kSec, p));
  EXPECT_TRUE(paws_reject(1000, kStamp, 900, false, std::uint64_t{kStamp + 60} * kSec, p));
}

TEST_P(Paws, A5_InTimeWaitAnOldTsExactRstKillsOnlyAfter60s) {
  TwEntryState tw = tw_time_wait();  // ts_recent stamped at kT0
  TwSegment s = rst_at(kRcvNxt);
  s.has_ts = true;
  s.tsval = kTsRecent - 100;
  EXPECT_EQ(timewait_process(tw, s, policy(), kT0 + 59 * kSec).rule, TwRule::kW7);
  EXPECT_EQ(timewait_process(tw, s, policy(), kT0 + 60 * kSec).rule, TwRule::kW1);
}

// The idle limit: 24 days up to 6.6, 2147 s from 6.7.
TEST_P(Paws, A7_TsRecentOlderThanWrapLimitIsNotTrusted) {
  const std::uint32_t wrap = model() >= KernelModel::V6_18 ? 2147u : 24u * 24 * 3600;
  EXPECT_EQ(policy().paws_wrap_s, wrap);
  EXPECT_FALSE(paws_check(1000, kStamp, 900, 0, std::uint64_t{kStamp + wrap - 1} * kSec, policy()));
  EXPECT_TRUE(paws_check(1000, kStamp, 900, 0, std::uint64_t{kStamp + wrap} * kSec, policy()));
}

TEST_P(Paws, A7_InTimeWaitLowerTsvalAfterWrapLimitReplacesTsRecent) {
  TwEntryState tw = tw_time_wait();
  TwSegment s = seg();
  s.tsval = kTsRecent - 100;
  const std::uint64_t later = kT0 + std::uint64_t{policy().paws_wrap_s} * kSec;
  const TwVerdict v = timewait_process(tw, s, policy(), later);
  EXPECT_EQ(v.rule, TwRule::kW3);
  EXPECT_EQ(tw.ts_recent, kTsRecent - 100);
  EXPECT_EQ(tw.ts_recent_stamp_s, secs32(later));
}

TEST_P(Paws, A8_TsRecentZeroAcceptsAnyTsval) {
  const std::uint64_t now = std::uint64_t{kStamp + 1} * kSec;
  EXPECT_TRUE(paws_check(0, kStamp, 0x90000000u, 0, now, policy()));
  EXPECT_FALSE(paws_reject(0, kStamp, 0x90000000u, false, now, policy()));
  TwEntryState tw = tw_time_wait();
  tw.ts_recent = 0;
  TwSegment s = seg();
  s.tsval = 0x90000000u;
  EXPECT_EQ(timewait_process(tw, s, policy(), kNow).rule, TwRule::kW3);
  EXPECT_EQ(tw.ts_recent, 0x90000000u);
}

TEST(PawsClock, StampOfTheFirstSecondIsNotZero) {
  static_assert(stamp_s(0) == 1);
  static_assert(stamp_s(999'999) == 1);
  static_assert(stamp_s(2'500'000) == 2);
  static_assert(secs32(2'500'000) == 2);
  static_assert(ms32(2'500'000) == 2500);
}

}  // namespace
}  // namespace twtcp::timewait::test
