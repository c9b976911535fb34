// tests/timewait/test_recycle.cpp: tw_recycle's per-host PAWS store (SPEC.md §5.4 C1-C4,
// C6, C8, C10). C5 (NAT) and C7/C9 (store aging, full story) belong to the store and sim.
#include <gtest/gtest.h>

#include "fixture.hpp"

namespace twtcp::timewait::test {
namespace {

class Recycle : public ModelTest {
 protected:
  TimeWaitPolicy on() const {
    TimeWaitPolicy p = policy();
    p.recycle = true;
    return p;
  }
  // Host H closed with TS=1000 at kT0.
  static PeerStamp h() { return PeerStamp{1000, secs32(kT0)}; }

  RecycleSynVerdict syn(std::uint32_t tsval, std::uint64_t at, bool has_ts = true) const {
    const PeerStamp e = h();
    return recycle_syn_acceptable(&e, has_ts, tsval, false, at, on());
  }
};
INSTANTIATE_TEST_SUITE_P(RecycleModels, Recycle,
                         ::testing::Values(KernelModel::V3_10, KernelModel::V4_4),
                         model_param_name);

class RecycleAllModels : public Recycle {};
INSTANTIATE_TEST_SUITE_P(AllModels, RecycleAllModels, ::testing::ValuesIn(kAllKernelModels),
                         model_param_name);

TEST_P(Recycle, C1_OlderTimestampFromSameHostIsDropped) {
  EXPECT_EQ(syn(900, kT0 + 10 * kSec), RecycleSynVerdict::kDrop);
}

TEST_P(Recycle, C2_ToleranceIsPawsWindowOfOne) {
  EXPECT_EQ(syn(1001, kT0 + 10 * kSec), RecycleSynVerdict::kAccept);
  EXPECT_EQ(syn(1000, kT0 + 10 * kSec), RecycleSynVerdict::kAccept);
  EXPECT_EQ(syn(999, kT0 + 10 * kSec), RecycleSynVerdict::kAccept);
  EXPECT_EQ(syn(998, kT0 + 10 * kSec), RecycleSynVerdict::kDrop);
}

TEST_P(Recycle, C3_EntryOlderThanPawsMslIsIgnored) {
  EXPECT_EQ(syn(900, kT0 + 59 * kSec), RecycleSynVerdict::kDrop);
  EXPECT_EQ(syn(900, kT0 + 60 * kSec), RecycleSynVerdict::kAccept);
}

TEST_P(Recycle, C4_SynWithoutTimestampDroppedOn4xAcceptedOn3x) {
  const RecycleSynVerdict want =
      model() == KernelModel::V3_10 ? RecycleSynVerdict::kAccept : RecycleSynVerdict::kDrop;
  EXPECT_EQ(syn(0, kT0 + 10 * kSec, false), want);
}

TEST_P(Recycle, C6_SynThroughLiveTimeWaitSkipsTheCheck) {
  const PeerStamp e = h();
  EXPECT_EQ(recycle_syn_acceptable(&e, true, 900, true, kT0 + 10 * kSec, on()),
            RecycleSynVerdict::kAccept);
}

TEST_P(Recycle, NoEntryOrEmptyEntryAccepts) {
  EXPECT_EQ(recycle_syn_acceptable(nullptr, true, 1, false, kT0, on()), RecycleSynVerdict::kAccept);
  const PeerStamp empty;
  EXPECT_EQ(recycle_syn_acceptable(&empty, false, 0, false, 10 * kSec, on()),
            RecycleSynVerdict::kAccept);
}

TEST_P(Recycle, C8_EntryKeepsNewerCachedTsUntilStale) {
  const TimeWaitPolicy p = on();
  PeerStamp e = h();
  // Closing connection saw TS=900 (older), cache fresh: unchanged.
  EXPECT_FALSE(recycle_remember(e, 900, secs32(kT0 + 5 * kSec), kT0 + 5 * kSec, p));
  EXPECT_EQ(e.ts, 1000u);
  // 60 s is not yet stale (> TCP_PAWS_MSL is required).
  EXPECT_FALSE(recycle_remember(e, 900, secs32(kT0 + 60 * kSec), kT0 + 60 * kSec, p));
  // After 61 s, with a stamp at least as new as the cache's: overwritten.
  EXPECT_TRUE(recycle_remember(e, 900, secs32(kT0 + 61 * kSec), kT0 + 61 * kSec, p));
  EXPECT_EQ(e.ts, 900u);
  EXPECT_EQ(e.ts_stamp_s, secs32(kT0 + 61 * kSec));
}

TEST_P(Recycle, C8_NewerOrEqualTsAlwaysWritten) {
  PeerStamp e = h();
  EXPECT_TRUE(recycle_remember(e, 1000, secs32(kT0 + kSec), kT0 + kSec, on()));
  EXPECT_TRUE(recycle_remember(e, 1500, secs32(kT0 + 2 * kSec), kT0 + 2 * kSec, on()));
  EXPECT_EQ(e.ts, 1500u);
}

TEST_P(Recycle, C8_StaleCacheWithNewerStampThanConnectionIsKept) {
  PeerStamp e = h();
  // Stale by age, but the connection's own stamp predates the cached one.
  EXPECT_FALSE(recycle_remember(e, 900, secs32(kT0) - 1, kT0 + 100 * kSec, on()));
  EXPECT_EQ(e.ts, 1000u);
}

TEST_P(Recycle, ActiveOpenFetchSeedsTsRecentWhileFresh) {
  const PeerStamp e = h();
  std::uint32_t ts = 0, stamp = 0;
  EXPECT_TRUE(recycle_fetch(e, kT0 + 60 * kSec, on(), ts, stamp));  // <= TCP_PAWS_MSL
  EXPECT_EQ(ts, 1000u);
  EXPECT_EQ(stamp, secs32(kT0));
  ts = stamp = 0;
  EXPECT_FALSE(recycle_fetch(e, kT0 + 61 * kSec, on(), ts, stamp));
  EXPECT_EQ(ts, 0u);
}

TEST_P(RecycleAllModels, C10_RecycleOffAcceptsEverything) {
  const PeerStamp e = h();
  EXPECT_FALSE(policy().recycle);  // default 0 everywhere; the sysctl is gone from 4.12
  EXPECT_EQ(recycle_syn_acceptable(&e, true, 1, false, kT0 + kSec, policy()),
            RecycleSynVerdict::kAccept);
  std::uint32_t ts = 0, stamp = 0;
  EXPECT_FALSE(recycle_fetch(e, kT0 + kSec, policy(), ts, stamp));
}

}  // namespace
}  // namespace twtcp::timewait::test
