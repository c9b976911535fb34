// tests/timewait/test_enter.cpp: entering TIME_WAIT (SPEC.md §2.5 T1-T10): lifetime,
// FIN_WAIT2 orphans, overflow, tw_recycle, TW vs TWKilled.
//
// Left to the stack (they are about which close path calls timewait_enter at all): T3 (a
// passive close ends in CLOSED, never here) and T7 (TCP_LINGER2 < 0 aborts with an RST and
// TCPAbortOnLinger before a TW is considered).
#include <gtest/gtest.h>

#include "fixture.hpp"

namespace twtcp::timewait::test {
namespace {

class TimeWaitEnter : public ModelTest {
 protected:
  static TwEnterRequest request(TwSubstate state, std::uint64_t timeo_us, std::uint64_t rto_us) {
    TwEnterRequest r;
    r.conn.rcv_nxt = kRcvNxt;
    r.conn.snd_nxt = kSndNxt;
    r.conn.rcv_wnd = kRcvWnd;
    r.conn.rcv_wscale = kWscale;
    r.conn.ts_recent = kTsRecent;
    r.conn.ts_recent_stamp_s = secs32(kT0) - 1;
    r.conn.ts_offset = kTsOffset;
    r.state = state;
    r.timeo_us = timeo_us;
    r.rto_us = rto_us;
    return r;
  }

  // >= 4.1 counts now; 3.x counts the same counter when the timer fires.
  void expect_counted(const TwEnterResult& r, TwCounter c) const {
    EXPECT_EQ(r.expiry_counter, c);
    TwCounters want;
    if (model() != KernelModel::V3_10) want.add(c);
    EXPECT_EQ(r.counters, want);
  }
};
INSTANTIATE_TEST_SUITE_P(AllModels, TimeWaitEnter, ::testing::ValuesIn(kAllKernelModels),
                         model_param_name);

class TimeWaitEnterRecycle : public TimeWaitEnter {};
INSTANTIATE_TEST_SUITE_P(RecycleModels, TimeWaitEnterRecycle,
                         ::testing::Values(KernelModel::V3_10, KernelModel::V4_4),
                         model_param_name);

TEST_P(TimeWaitEnter, T1_ActiveCloseEntersTimeWaitFor60sAndCountsTW) {
  const TwEnterResult r =
      timewait_enter(request(TwSubstate::kTimeWait, 0, 200 * kMs), policy(), kT0);
  ASSERT_EQ(r.status, TwEnterStatus::kCreated);
  EXPECT_EQ(r.lifetime_us, 60 * kSec);
  expect_counted(r, TwCounter::kTW);
  const TwEntryState& e = r.entry;
  EXPECT_EQ(e.substate, TwSubstate::kTimeWait);
  EXPECT_EQ(e.rcv_nxt, kRcvNxt);
  EXPECT_EQ(e.snd_nxt, kSndNxt);
  EXPECT_EQ(e.rcv_wnd, kRcvWnd);
  EXPECT_EQ(e.rcv_wscale, kWscale);
  EXPECT_EQ(e.ts_recent, kTsRecent);
  EXPECT_EQ(e.ts_recent_stamp_s, secs32(kT0) - 1);
  EXPECT_EQ(e.ts_offset, kTsOffset);
  EXPECT_EQ(e.entry_stamp_ms, ms32(kT0));
  EXPECT_EQ(e.last_oow_ack_ms, 0u);
  EXPECT_EQ(e.recycle_timeout_ms, 0u);
}

// From CLOSING the stack makes the same call; a large RTO does not stretch a real TW.
TEST_P(TimeWaitEnter, T2_SimultaneousCloseEntersTimeWaitFor60s) {
  const TwEnterResult r =
      timewait_enter(request(TwSubstate::kTimeWait, 0, 30 * kSec), policy(), kT0);
  ASSERT_EQ(r.status, TwEnterStatus::kCreated);
  EXPECT_EQ(r.lifetime_us, 60 * kSec);
}

TEST_P(TimeWaitEnter, T4_OrphanFinWait2WithFinTimeout3sLasts3sAndCountsTWKilled) {
  const FinWait2Plan plan = fin_wait2_orphan_plan(3 * kSec, 200 * kMs, policy());
  ASSERT_FALSE(plan.keep_full_socket);
  EXPECT_EQ(plan.tw_timeo_us, 3 * kSec);
  const TwEnterResult r =
      timewait_enter(request(TwSubstate::kFinWait2, plan.tw_timeo_us, 200 * kMs), policy(), kT0);
  ASSERT_EQ(r.status, TwEnterStatus::kCreated);
  EXPECT_EQ(r.entry.substate, TwSubstate::kFinWait2);
  EXPECT_EQ(r.lifetime_us, 3 * kSec);
  expect_counted(r, TwCounter::kTWKilled);
}

TEST_P(TimeWaitEnter, T5_FinWait2LifetimeIsFlooredAt3_5Rto) {
  for (std::uint64_t fin_timeout : {std::uint64_t{0}, kSec}) {
    const FinWait2Plan plan = fin_wait2_orphan_plan(fin_timeout, kSec, policy());
    EXPECT_EQ(plan.tw_timeo_us, 3500 * kMs);
    // timewait_enter applies the same floor to whatever it is handed.
    const TwEnterResult r =
        timewait_enter(request(TwSubstate::kFinWait2, fin_timeout, kSec), policy(), kT0);
    EXPECT_EQ(r.lifetime_us, 3500 * kMs);
    expect_counted(r, TwCounter::kTWKilled);
  }
}

TEST_P(TimeWaitEnter, T6_FinTimeout120sKeepsFullSocket60sThenFinWait2Tw60s) {
  const FinWait2Plan plan = fin_wait2_orphan_plan(120 * kSec, 200 * kMs, policy());
  EXPECT_TRUE(plan.keep_full_socket);
  EXPECT_EQ(plan.full_socket_us, 60 * kSec);
  EXPECT_EQ(plan.tw_timeo_us, 60 * kSec);
  const TwEnterResult r =
      timewait_enter(request(TwSubstate::kFinWait2, plan.tw_timeo_us, 200 * kMs), policy(), kT0);
  EXPECT_EQ(r.lifetime_us, 60 * kSec);
  expect_counted(r, TwCounter::kTW);
}

TEST_P(TimeWaitEnter, TwKilledThresholdByModel) {
  // >= 4.1: timeo <= 4*HZ. 3.x: the 32 x 128 ms recycle calendar (HZ=1000) ends at 3.968 s.
  const std::uint64_t threshold = model() == KernelModel::V3_10 ? 3968 * kMs : 4 * kSec;
  EXPECT_EQ(tw_expiry_counter(threshold, policy()), TwCounter::kTWKilled);
  EXPECT_EQ(tw_expiry_counter(threshold + 1, policy()), TwCounter::kTW);
  // A 3.x FIN_WAIT2 TW re-armed to 60 s by F6 expires from the wheel: TW, not TWKilled.
  EXPECT_EQ(tw_expiry_counter(60 * kSec, policy()), TwCounter::kTW);
}

TEST_P(TimeWaitEnter, T8_OverflowClosesWithoutTimeWait) {
  TimeWaitPolicy p = policy();
  p.max_tw_buckets = 4;
  TwEnterRequest req = request(TwSubstate::kTimeWait, 0, 200 * kMs);
  req.live_tw_count = 3;
  EXPECT_EQ(timewait_enter(req, p, kT0).status, TwEnterStatus::kCreated);
  req.live_tw_count = 4;
  const TwEnterResult r = timewait_enter(req, p, kT0);
  EXPECT_EQ(r.status, TwEnterStatus::kOverflow);
  TwCounters want;
  want.add(TwCounter::kTCPTimeWaitOverflow);
  EXPECT_EQ(r.counters, want);  // and neither TW nor TWKilled
  EXPECT_FALSE(reason(r.status).empty());
}

TEST_P(TimeWaitEnter, T8_DefaultCapacityIsHalfTheEhash) {
  EXPECT_EQ(policy().max_tw_buckets, 131072u);
}

TEST_P(TimeWaitEnterRecycle, T9_RecycleShortensTimeWaitTo3_5Rto) {
  TimeWaitPolicy p = policy();
  p.recycle = true;
  TwEnterRequest req = request(TwSubstate::kTimeWait, 0, 200 * kMs);
  ASSERT_TRUE(recycle_wanted(req.conn, p));
  // The caller writes the per-host entry first; an existing entry makes recycle_ok.
  PeerStamp host;
  EXPECT_TRUE(recycle_remember(host, req.conn.ts_recent, req.conn.ts_recent_stamp_s, kT0, p));
  EXPECT_EQ(host.ts, kTsRecent);
  req.recycle_ok = true;
  const TwEnterResult r = timewait_enter(req, p, kT0);
  ASSERT_EQ(r.status, TwEnterStatus::kCreated);
  EXPECT_EQ(r.lifetime_us, 700 * kMs);
  EXPECT_EQ(r.entry.recycle_timeout_ms, 700u);
  expect_counted(r, TwCounter::kTWKilled);
}

TEST_P(TimeWaitEnterRecycle, T9_RecycleWithoutStoreEntryKeeps60s) {
  TimeWaitPolicy p = policy();
  p.recycle = true;
  TwEnterRequest req = request(TwSubstate::kTimeWait, 0, 200 * kMs);
  req.recycle_ok = false;  // no route / no metrics entry
  EXPECT_EQ(timewait_enter(req, p, kT0).lifetime_us, 60 * kSec);
}

TEST_P(TimeWaitEnterRecycle, T10_RecycleWithoutTimestampsKeeps60s) {
  TimeWaitPolicy p = policy();
  p.recycle = true;
  TwEnterRequest req = request(TwSubstate::kTimeWait, 0, 200 * kMs);
  req.conn.ts_recent = 0;
  req.conn.ts_recent_stamp_s = 0;
  EXPECT_FALSE(recycle_wanted(req.conn, p));
  req.recycle_ok = true;  // ignored: Linux never asks the store for a TS-less peer
  const TwEnterResult r = timewait_enter(req, p, kT0);
  EXPECT_EQ(r.lifetime_us, 60 * kSec);
  EXPECT_EQ(r.entry.recycle_timeout_ms, 0u);
  expect_counted(r, TwCounter::kTW);
}

TEST_P(TimeWaitEnter, RecycleOffIgnoresRecycleOk) {
  TwEnterRequest req = request(TwSubstate::kTimeWait, 0, 200 * kMs);
  req.recycle_ok = true;
  EXPECT_EQ(timewait_enter(req, policy(), kT0).lifetime_us, 60 * kSec);
}

TEST(TimeWaitEnterInput, BadWindowScaleIsAnErrorWithReason) {
  TwEnterRequest req;
  req.conn.rcv_wscale = 15;
  const TwEnterResult r = timewait_enter(req, TimeWaitPolicy{}, kT0);
  EXPECT_EQ(r.status, TwEnterStatus::kBadWindowScale);
  EXPECT_NE(reason(r.status).find("14"), std::string_view::npos);
  EXPECT_TRUE(r.counters.empty());
}

TEST(TimeWaitEnterInput, BadSubstateIsAnErrorWithReason) {
  TwEnterRequest req;
  req.state = static_cast<TwSubstate>(7);
  const TwEnterResult r = timewait_enter(req, TimeWaitPolicy{}, kT0);
  EXPECT_EQ(r.status, TwEnterStatus::kBadSubstate);
  EXPECT_FALSE(reason(r.status).empty());
}

TEST(TimeWaitEnterInput, HugeRtoSaturatesInsteadOfWrapping) {
  EXPECT_EQ(rto_3_5(200 * kMs), 700 * kMs);
  const std::uint64_t big = ~std::uint64_t{0} / 2;
  EXPECT_GE(rto_3_5(big), big);
  TwEnterRequest req;
  req.state = TwSubstate::kFinWait2;
  req.rto_us = ~std::uint64_t{0};
  EXPECT_EQ(timewait_enter(req, TimeWaitPolicy{}, kT0).status, TwEnterStatus::kCreated);
}

}  // namespace
}  // namespace twtcp::timewait::test
