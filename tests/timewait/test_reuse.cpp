// tests/timewait/test_reuse.cpp: tcp_tw_reuse / tcp_twsk_unique (SPEC.md §4.4 R3-R7,
// R10-R15), each under the models whose ok_time rule it exercises.
#include <gtest/gtest.h>

#include "fixture.hpp"

namespace twtcp::timewait::test {
namespace {

class TwReuse : public ModelTest {
 protected:
  // tw_reuse=1 on top of the model's defaults.
  TimeWaitPolicy reuse_on() const {
    TimeWaitPolicy p = policy();
    p.tw_reuse = 1;
    return p;
  }
  // A TW whose last TS (and, >= 6.14, whose entry) was recorded at `at_us`.
  static TwEntryState tw_entered_at(std::uint64_t at_us) {
    TwEntryState tw = tw_time_wait();
    tw.ts_recent_stamp_s = stamp_s(at_us);
    tw.entry_stamp_ms = ms32(at_us);
    return tw;
  }
};
INSTANTIATE_TEST_SUITE_P(AllModels, TwReuse, ::testing::ValuesIn(kAllKernelModels),
                         model_param_name);

class TwReuseMsDelay : public TwReuse {};
INSTANTIATE_TEST_SUITE_P(MsDelayModels, TwReuseMsDelay, ::testing::Values(KernelModel::V6_18),
                         model_param_name);
class TwReuseSecGt0 : public TwReuse {};
INSTANTIATE_TEST_SUITE_P(SecGt0Models, TwReuseSecGt0,
                         ::testing::Values(KernelModel::V4_19, KernelModel::V6_6),
                         model_param_name);
class TwReuseSecGt1 : public TwReuse {};
INSTANTIATE_TEST_SUITE_P(SecGt1Models, TwReuseSecGt1,
                         ::testing::Values(KernelModel::V3_10, KernelModel::V4_4),
                         model_param_name);

TEST_P(TwReuseMsDelay, R10_ReusableStrictlyAfterEntryPlusDelay) {
  const std::uint64_t entry = 10 * kSec;
  const TwEntryState tw = tw_entered_at(entry);
  const TimeWaitPolicy p = reuse_on();
  ASSERT_EQ(p.tw_reuse_delay_ms, 1000u);
  EXPECT_FALSE(tw_reuse_allowed(tw, p, entry + 999 * kMs, false));
  EXPECT_FALSE(tw_reuse_allowed(tw, p, entry + 1000 * kMs, false));  // strict ">"
  EXPECT_TRUE(tw_reuse_allowed(tw, p, entry + 1002 * kMs, false));
}

TEST_P(TwReuseMsDelay, R10_DelayIsConfigurable) {
  TimeWaitPolicy p = reuse_on();
  p.tw_reuse_delay_ms = 100;  // R8: ~100 reuses/s per port
  const TwEntryState tw = tw_entered_at(10 * kSec);
  EXPECT_FALSE(tw_reuse_allowed(tw, p, 10 * kSec + 99 * kMs, false));
  EXPECT_TRUE(tw_reuse_allowed(tw, p, 10 * kSec + 101 * kMs, false));
}

TEST_P(TwReuseSecGt0, R11_ReusableOnceTheSecondTicks) {
  const TimeWaitPolicy p = reuse_on();
  const TwEntryState late = tw_entered_at(10'999 * kMs);
  EXPECT_FALSE(tw_reuse_allowed(late, p, 10'999 * kMs + 500, false));
  EXPECT_TRUE(tw_reuse_allowed(late, p, 11'000 * kMs, false));
  const TwEntryState early = tw_entered_at(10'000 * kMs);
  EXPECT_FALSE(tw_reuse_allowed(early, p, 10'999 * kMs, false));
  EXPECT_TRUE(tw_reuse_allowed(early, p, 11'000 * kMs, false));
}

TEST_P(TwReuseSecGt1, R12_ReusableTwoSecondTicksLater) {
  const TimeWaitPolicy p = reuse_on();
  const TwEntryState tw = tw_entered_at(10 * kSec);
  EXPECT_FALSE(tw_reuse_allowed(tw, p, 11'999 * kMs, false));
  EXPECT_TRUE(tw_reuse_allowed(tw, p, 12'000 * kMs, false));
}

// A clock that starts at 0 (the simulator, a fresh DPDK run) stamps second 0 as 1; a TW
// entered then must not look ancient (twtcp-sim's linux-3.10-reuse run found this).
TEST_P(TwReuseSecGt1, R12_EnteredInTheFirstSecondIsNotReusableAtOnce) {
  const TimeWaitPolicy p = reuse_on();
  const TwEntryState tw = tw_entered_at(2 * kMs);
  EXPECT_FALSE(tw_reuse_allowed(tw, p, 3 * kMs, false));
  EXPECT_FALSE(tw_reuse_allowed(tw, p, 2'999 * kMs, false));
  EXPECT_TRUE(tw_reuse_allowed(tw, p, 3'000 * kMs, false));
}

// E7a/E7b: a FIN_WAIT2 stand-in is never taken over by tcp_tw_reuse from 6.12 on; older
// kernels only look at the timestamps.
TEST_P(TwReuse, R13_FinWait2SubstateIsNotReusedFrom6_12) {
  TwEntryState tw = tw_fin_wait2();
  const bool want = model() < KernelModel::V6_18;
  EXPECT_EQ(tw_reuse_allowed(tw, reuse_on(), kT0 + 30 * kSec, false), want);
}

TEST_P(TwReuse, R14_NewConnectionInheritsIsnAndTimestamps) {
  TwEntryState tw = tw_time_wait();
  const TwReuseInherit in = reuse_inherit(tw);
  EXPECT_EQ(in.write_seq, kSndNxt + 65537);
  EXPECT_EQ(in.ts_recent, kTsRecent);
  EXPECT_EQ(in.ts_recent_stamp_s, secs32(kT0));
  tw.snd_nxt = 0xFFFEFFFFu;
  EXPECT_EQ(reuse_inherit(tw).write_seq, 1u);  // P17's wrap applies here too
}

// bind() + connect(): twp == NULL takes over any TW with timestamps, ignoring tw_reuse, the
// delay, loopback and the FIN_WAIT2 exclusion.
TEST_P(TwReuse, R15_ExplicitPortTakesOverTimestampedTwRegardlessOfReuse) {
  TimeWaitPolicy p = policy();
  p.tw_reuse = 0;
  EXPECT_TRUE(tw_reuse_allowed(tw_time_wait(), p, kT0, true));
  EXPECT_TRUE(tw_reuse_allowed(tw_fin_wait2(), p, kT0, true));
  EXPECT_FALSE(tw_reuse_allowed(tw_without_ts(tw_time_wait()), p, kT0 + kSec * 30, true));
}

TEST_P(TwReuse, R1_ReuseOffNeverTakesOverOnAutobind) {
  TimeWaitPolicy p = policy();
  p.tw_reuse = 0;
  EXPECT_FALSE(tw_reuse_allowed(tw_time_wait(), p, kT0 + 59 * kSec, false));
}

TEST_P(TwReuse, R7_NoTimestampsNoReuse) {
  EXPECT_FALSE(tw_reuse_allowed(tw_without_ts(tw_time_wait()), reuse_on(), kT0 + 30 * kSec, false));
}

// tw_reuse=2: loopback only from 4.19 (E1c/E2a); earlier the sysctl was a boolean.
TEST_P(TwReuse, R3_R4_R6_Reuse2IsLoopbackOnlyFrom4_19) {
  TimeWaitPolicy p = policy();
  p.tw_reuse = 2;
  TwEntryState lo = tw_time_wait();
  lo.is_loopback = true;                // 127.0.0.1 (R3), or bound to lo with other addresses (R6)
  TwEntryState other = tw_time_wait();  // 198.18.200.1 even if routed over lo (R4)
  const std::uint64_t later = kT0 + 30 * kSec;
  EXPECT_TRUE(tw_reuse_allowed(lo, p, later, false));
  EXPECT_EQ(tw_reuse_allowed(other, p, later, false), model() < KernelModel::V4_19);
  // R5: tw_reuse=1 does not care.
  EXPECT_TRUE(tw_reuse_allowed(other, reuse_on(), later, false));
}

TEST(TwReuseLoopback, Ipv4LoopbackIs127Slash8) {
  static_assert(is_loopback_v4(0x7f000001u));
  static_assert(is_loopback_v4(0x7fffffffu));
  static_assert(!is_loopback_v4(0xc612c801u));  // 198.18.200.1
  static_assert(!is_loopback_v4(0x80000001u));
}

TEST(TwReuseDefaults, DefaultReuseIs0Before4_19And2After) {
  EXPECT_EQ(policy_for_model(KernelModel::V3_10).tw_reuse, 0);
  EXPECT_EQ(policy_for_model(KernelModel::V4_4).tw_reuse, 0);
  EXPECT_EQ(policy_for_model(KernelModel::V4_19).tw_reuse, 2);
  EXPECT_EQ(policy_for_model(KernelModel::V6_18).tw_reuse, 2);
}

}  // namespace
}  // namespace twtcp::timewait::test
