// tests/timewait/test_policy.cpp: policy_for_model() matches SPEC.md §1/§10 per release.
#include <gtest/gtest.h>

#include "fixture.hpp"

namespace twtcp::timewait::test {
namespace {

struct Row {
  KernelModel model;
  bool rst_rearms;             // D3
  std::uint64_t ratelimit_us;  // D1
  std::uint32_t wrap_s;
  PawsCounter paws;  // D4
  std::uint8_t reuse;
  ReuseTimeRule rule;
  bool skip_fw2;
  bool refresh_entry;  // D5
  bool recycle_ts;
  bool at_expiry;
};

constexpr std::uint32_t k24d = 24 * 24 * 3600;
constexpr Row kRows[] = {
    {KernelModel::V3_10, true, 0, k24d, PawsCounter::kPawsEstab, 0, ReuseTimeRule::kSecGt1, false,
     false, true, true},
    {KernelModel::V4_4, true, 500'000, k24d, PawsCounter::kPawsEstab, 0, ReuseTimeRule::kSecGt1,
     false, false, false, false},
    {KernelModel::V4_19, false, 500'000, k24d, PawsCounter::kPawsEstab, 2, ReuseTimeRule::kSecGt0,
     false, false, false, false},
    {KernelModel::V6_6, false, 500'000, k24d, PawsCounter::kPawsEstab, 2, ReuseTimeRule::kSecGt0,
     false, false, false, false},
    {KernelModel::V6_18, false, 500'000, 2147, PawsCounter::kPawsTimewait, 2,
     ReuseTimeRule::kMsDelay, true, true, false, false},
};

TEST(TimeWaitPolicy, DefaultsPerModelMatchSpecSection10) {
  for (const Row& r : kRows) {
    SCOPED_TRACE(to_string(r.model));
    const TimeWaitPolicy p = policy_for_model(r.model);
    EXPECT_EQ(p.timewait_len_us, 60 * kSec);
    EXPECT_FALSE(p.rfc1337);
    EXPECT_FALSE(p.recycle);
    EXPECT_EQ(p.paws_msl_s, 60u);
    EXPECT_EQ(p.paws_window, 1u);
    EXPECT_EQ(p.rst_rearms_when_rfc1337, r.rst_rearms);
    EXPECT_EQ(p.oow_ack_ratelimit_us, r.ratelimit_us);
    EXPECT_EQ(p.paws_wrap_s, r.wrap_s);
    EXPECT_EQ(p.paws_counter, r.paws);
    EXPECT_EQ(p.tw_reuse, r.reuse);
    EXPECT_EQ(p.reuse2_loopback_only, r.model >= KernelModel::V4_19);
    EXPECT_EQ(p.reuse_time_rule, r.rule);
    EXPECT_EQ(p.tw_reuse_delay_ms, 1000u);
    EXPECT_EQ(p.reuse_skip_fin_wait2, r.skip_fw2);
    EXPECT_EQ(p.fin_wait2_refreshes_entry_stamp, r.refresh_entry);
    EXPECT_EQ(p.oow_ack_clears_ecn, r.refresh_entry);  // both >= 6.14
    EXPECT_EQ(p.recycle_syn_requires_ts, r.recycle_ts);
    EXPECT_EQ(p.tw_counted_at_expiry, r.at_expiry);
  }
}

TEST(TimeWaitPolicy, OutOfRangeModelGetsNewestDefaults) {
  const TimeWaitPolicy p = policy_for_model(static_cast<KernelModel>(99));
  EXPECT_EQ(p.reuse_time_rule, ReuseTimeRule::kMsDelay);
  EXPECT_EQ(p.paws_wrap_s, 2147u);
}

}  // namespace
}  // namespace twtcp::timewait::test
