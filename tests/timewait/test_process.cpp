// tests/timewait/test_process.cpp: SPEC.md §3.4 P1-P23 and the rows F1-F6, W1-W7 under
// every kernel model; version deltas D1-D5 are asserted per model.
#include <gtest/gtest.h>

#include "fixture.hpp"

namespace twtcp::timewait::test {
namespace {

class TimeWaitProcess : public ModelTest {};
INSTANTIATE_TEST_SUITE_P(AllModels, TimeWaitProcess, ::testing::ValuesIn(kAllKernelModels),
                         model_param_name);

constexpr std::uint64_t k60s = 60 * kSec;

void expect_no_timer_change(const TwVerdict& v) {
  EXPECT_FALSE(v.rearm);
  EXPECT_FALSE(v.recycle_remember_peer);
}

void expect_rearm_60s(const TwVerdict& v) {
  EXPECT_TRUE(v.rearm);
  EXPECT_EQ(v.rearm_us, k60s);
}

TwCounter paws_counter_of(KernelModel m) {
  return m >= KernelModel::V6_18 ? TwCounter::kPAWSTimewait : TwCounter::kPAWSEstab;
}

// --- TIME_WAIT substate ------------------------------------------------------------------

TEST_P(TimeWaitProcess, P1_ExactRstKillsWithoutRfc1337) {
  TwEntryState tw = tw_without_ts(tw_time_wait());
  const TwVerdict v = timewait_process(tw, rst_at(kRcvNxt), policy(), kNow);
  EXPECT_EQ(v.action, TwAction::kKill);
  EXPECT_EQ(v.rule, TwRule::kW1);
  expect_no_timer_change(v);
  EXPECT_TRUE(v.counters.empty());
}

// D3: 3.x/4.x <= 4.18 re-arm 60 s; later kernels leave the timer running down (56 s -> 55 s
// in the probe), so repeated RSTs cannot keep a TW alive.
TEST_P(TimeWaitProcess, P2_ExactRstWithRfc1337KeepsTwAndRearmsOnlyBefore4_19) {
  TimeWaitPolicy p = policy();
  p.rfc1337 = true;
  TwEntryState tw = tw_without_ts(tw_time_wait());
  const TwVerdict v = timewait_process(tw, rst_at(kRcvNxt), p, kNow);
  EXPECT_EQ(v.action, TwAction::kDrop);
  EXPECT_EQ(v.rule, TwRule::kW2);
  const bool old_kernel = model() <= KernelModel::V4_4;
  EXPECT_EQ(v.rearm, old_kernel);
  if (old_kernel) {
    EXPECT_EQ(v.rearm_us, k60s);
  }
  EXPECT_TRUE(v.counters.empty());
}

TEST_P(TimeWaitProcess, W2_ExactRstWithRfc1337RecordsItsTimestamp) {
  TimeWaitPolicy p = policy();
  p.rfc1337 = true;
  TwEntryState tw = tw_time_wait();
  TwSegment s = rst_at(kRcvNxt);
  s.has_ts = true;
  s.tsval = kTsRecent + 50;
  const TwVerdict v = timewait_process(tw, s, p, kNow);
  EXPECT_EQ(v.rule, TwRule::kW2);
  EXPECT_EQ(tw.ts_recent, kTsRecent + 50);
  EXPECT_EQ(tw.ts_recent_stamp_s, secs32(kNow));
}

TEST_P(TimeWaitProcess, P3_InWindowInexactRstIsIgnoredWithoutChallengeAck) {
  TwEntryState tw = tw_without_ts(tw_time_wait());
  const TwVerdict v = timewait_process(tw, rst_at(kRcvNxt + 100), policy(), kNow);
  EXPECT_EQ(v.action, TwAction::kDrop);
  EXPECT_EQ(v.rule, TwRule::kW7);
  expect_no_timer_change(v);
  EXPECT_TRUE(v.counters.empty());
}

TEST_P(TimeWaitProcess, P4_OldDuplicateAckIsAnsweredWithTwAckAndRearms) {
  TwEntryState tw = tw_time_wait();
  TwSegment s = seg();
  s.seq = kRcvNxt - 1000;
  const TwVerdict v = timewait_process(tw, s, policy(), kNow);
  EXPECT_EQ(v.action, TwAction::kSendAck);
  EXPECT_EQ(v.rule, TwRule::kW6);
  expect_rearm_60s(v);
  EXPECT_EQ(v.ack_clears_ecn, model() >= KernelModel::V6_18);
  const TwAck a = ack_reply(tw, kNow);
  EXPECT_EQ(a.seq, kSndNxt);
  EXPECT_EQ(a.ack, kRcvNxt);
  EXPECT_EQ(a.tsecr, kTsRecent);
  EXPECT_EQ(tw.ts_recent, kTsRecent);  // an inexact segment never updates ts_recent
}

// The RFC 1337 hazard: our TW ACK reaches a peer that forgot the connection, its RST carries
// SEQ = our ACK number = rcv_nxt, which is exact, so the TW dies.
TEST_P(TimeWaitProcess, P5_PeerRstAnsweringOurTwAckKillsTwWithoutRfc1337) {
  TwEntryState tw = tw_time_wait();
  TwSegment old_ack = seg();
  old_ack.seq = kRcvNxt - 1000;
  ASSERT_EQ(timewait_process(tw, old_ack, policy(), kNow).action, TwAction::kSendAck);
  const TwAck ours = ack_reply(tw, kNow);
  const TwVerdict v = timewait_process(tw, rst_at(ours.ack), policy(), kNow + kMs);
  EXPECT_EQ(v.action, TwAction::kKill);
  EXPECT_EQ(v.rule, TwRule::kW1);
}

TEST_P(TimeWaitProcess, P6_RetransmittedFinIsAckedAndRearms) {
  TwEntryState tw = tw_time_wait();
  TwSegment s = seg();
  s.seq = kRcvNxt - 1;
  s.fin = true;
  const TwVerdict v = timewait_process(tw, s, policy(), kNow);
  EXPECT_EQ(v.action, TwAction::kSendAck);
  EXPECT_EQ(v.rule, TwRule::kW6);
  expect_rearm_60s(v);
}

TEST_P(TimeWaitProcess, P7_ExactPureAckWithNewerTsIsAbsorbedAndRearms) {
  TwEntryState tw = tw_time_wait();
  const TwVerdict v = timewait_process(tw, seg(), policy(), kNow);
  EXPECT_EQ(v.action, TwAction::kDrop);
  EXPECT_EQ(v.rule, TwRule::kW3);
  expect_rearm_60s(v);
  EXPECT_EQ(tw.ts_recent, kTsRecent + 10);
  EXPECT_EQ(tw.ts_recent_stamp_s, secs32(kNow));
  EXPECT_TRUE(v.counters.empty());
}

// D4: PAWSEstab until 6.14, PAWSTimewait from 6.15 (probe: TcpExtPAWSTimewait +1 on 6.18).
TEST_P(TimeWaitProcess, P8_OldTsvalIsAckedCountedAsPawsAndRearms) {
  TwEntryState tw = tw_time_wait();
  TwSegment s = seg();
  s.tsval = kTsRecent - 1;
  const TwVerdict v = timewait_process(tw, s, policy(), kNow);
  EXPECT_EQ(v.action, TwAction::kSendAck);
  EXPECT_EQ(v.rule, TwRule::kW5);
  expect_rearm_60s(v);
  TwCounters want;
  want.add(paws_counter_of(model()));
  EXPECT_EQ(v.counters, want);
  EXPECT_EQ(tw.ts_recent, kTsRecent);
}

// D1: 3.x answers every out-of-window ACK; from 4.0 one per tcp_invalid_ratelimit.
TEST_P(TimeWaitProcess, P9_SecondPureAckWithin500msIsSkippedFrom4_0) {
  TwEntryState tw = tw_time_wait();
  TwSegment s = seg();
  s.seq = kRcvNxt - 1000;
  EXPECT_EQ(timewait_process(tw, s, policy(), kNow).action, TwAction::kSendAck);
  const TwVerdict second = timewait_process(tw, s, policy(), kNow + 499 * kMs);
  if (model() == KernelModel::V3_10) {
    EXPECT_EQ(second.action, TwAction::kSendAck);
    EXPECT_TRUE(second.counters.empty());
  } else {
    EXPECT_EQ(second.action, TwAction::kDrop);
    EXPECT_TRUE(second.counters.has(TwCounter::kTCPACKSkippedTimeWait));
  }
  expect_rearm_60s(second);  // the re-arm happens whether or not the ACK is sent
  EXPECT_EQ(timewait_process(tw, s, policy(), kNow + 500 * kMs).action, TwAction::kSendAck);
}

TEST_P(TimeWaitProcess, P9_RateLimitZeroAnswersEveryAck) {
  TimeWaitPolicy p = policy();
  p.oow_ack_ratelimit_us = 0;
  TwEntryState tw = tw_time_wait();
  TwSegment s = seg();
  s.seq = kRcvNxt - 1000;
  EXPECT_EQ(timewait_process(tw, s, p, kNow).action, TwAction::kSendAck);
  EXPECT_EQ(timewait_process(tw, s, p, kNow + kMs).action, TwAction::kSendAck);
}

TEST_P(TimeWaitProcess, P9_PawsRejectedAckIsRateLimitedToo) {
  TwEntryState tw = tw_time_wait();
  TwSegment s = seg();
  s.tsval = kTsRecent - 1;
  ASSERT_EQ(timewait_process(tw, s, policy(), kNow).action, TwAction::kSendAck);
  const TwVerdict v = timewait_process(tw, s, policy(), kNow + 10 * kMs);
  EXPECT_TRUE(v.counters.has(paws_counter_of(model())));
  if (model() != KernelModel::V3_10) {
    EXPECT_EQ(v.action, TwAction::kDrop);
    EXPECT_TRUE(v.counters.has(TwCounter::kTCPACKSkippedTimeWait));
  }
}

TEST_P(TimeWaitProcess, P10_RetransmittedFinsAreNeverRateLimited) {
  TwEntryState tw = tw_time_wait();
  TwSegment s = seg();
  s.seq = kRcvNxt - 1;
  s.fin = true;
  EXPECT_EQ(timewait_process(tw, s, policy(), kNow).action, TwAction::kSendAck);
  const TwVerdict v = timewait_process(tw, s, policy(), kNow + 10 * kMs);
  EXPECT_EQ(v.action, TwAction::kSendAck);
  EXPECT_TRUE(v.counters.empty());
}

TEST_P(TimeWaitProcess, W6_DataSegmentIsAlwaysAnswered) {
  TwEntryState tw = tw_time_wait();
  TwSegment s = seg();
  s.seq = kRcvNxt + 10;
  s.payload_len = 100;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(timewait_process(tw, s, policy(), kNow + i * kMs).action, TwAction::kSendAck);
  }
}

// Numbers from the syn_reopen probe on 6.18.44.
TEST_P(TimeWaitProcess, P11_SynWithHigherSeqReopensWithIsnSndNxtPlus65537) {
  TwEntryState tw = tw_time_wait();
  tw.snd_nxt = 4097513291u;
  TwSegment s = syn_at(kRcvNxt + 1000);
  s.has_ts = true;
  s.tsval = kTsRecent + 5;
  const TwVerdict v = timewait_process(tw, s, policy(), kNow);
  EXPECT_EQ(v.action, TwAction::kSynReopen);
  EXPECT_EQ(v.rule, TwRule::kW4);
  EXPECT_EQ(v.isn, 4097578828u);
  expect_no_timer_change(v);
  EXPECT_TRUE(v.counters.empty());
}

TEST_P(TimeWaitProcess, P11_SynWithHigherSeqAndNoTsReopens) {
  TwEntryState tw = tw_without_ts(tw_time_wait());
  const TwVerdict v = timewait_process(tw, syn_at(kRcvNxt + 1), policy(), kNow);
  EXPECT_EQ(v.action, TwAction::kSynReopen);
  EXPECT_EQ(v.isn, kSndNxt + 65537);
}

TEST_P(TimeWaitProcess, P12_SynWithLowerSeqButNewerTsReopens) {
  TwEntryState tw = tw_time_wait();
  TwSegment s = syn_at(kRcvNxt - 5000);
  s.has_ts = true;
  s.tsval = kTsRecent + 1;
  const TwVerdict v = timewait_process(tw, s, policy(), kNow);
  EXPECT_EQ(v.action, TwAction::kSynReopen);
  EXPECT_EQ(v.isn, kSndNxt + 65537);
}

// A bare SYN below rcv_nxt may be a new SYN with a random ISN: ACK it, keep the timer.
// (An *older* TS is a PAWS reject, which re-arms: that is P14/W5, not this row.)
TEST_P(TimeWaitProcess, P13_SynWithLowerSeqAndNoNewerTsIsAckedWithoutRearm) {
  TwEntryState tw = tw_time_wait();
  TwSegment no_ts = syn_at(kRcvNxt - 5000);
  TwVerdict v = timewait_process(tw, no_ts, policy(), kNow);
  EXPECT_EQ(v.action, TwAction::kSendAck);
  EXPECT_EQ(v.rule, TwRule::kW6);
  expect_no_timer_change(v);

  TwSegment same_ts = syn_at(kRcvNxt - 5000);
  same_ts.has_ts = true;
  same_ts.tsval = kTsRecent;
  v = timewait_process(tw, same_ts, policy(), kNow + kSec);
  EXPECT_EQ(v.action, TwAction::kSendAck);
  EXPECT_EQ(v.rule, TwRule::kW6);
  expect_no_timer_change(v);
}

TEST_P(TimeWaitProcess, P14_SynWithHigherSeqButOldTsIsPawsRejected) {
  TwEntryState tw = tw_time_wait();
  TwSegment s = syn_at(kRcvNxt + 1000);
  s.has_ts = true;
  s.tsval = kTsRecent - 100;
  const TwVerdict v = timewait_process(tw, s, policy(), kNow);
  EXPECT_EQ(v.action, TwAction::kSendAck);
  EXPECT_EQ(v.rule, TwRule::kW5);
  expect_rearm_60s(v);
  EXPECT_TRUE(v.counters.has(paws_counter_of(model())));
}

// Numbers from the syn_no_listener probe: the ACK carries the TW's SEQ/ACK/TSecr, the timer
// keeps running down (56 s -> 55 s), and the fall-through ACK is not rate-limited.
TEST_P(TimeWaitProcess, P15_SynWithoutListenerIsAckedWithoutRearm) {
  TwEntryState tw = tw_time_wait();
  tw.rcv_nxt = 634715468u;
  tw.snd_nxt = 1979134496u;
  tw.ts_recent = 3588579891u;
  tw.last_oow_ack_ms = ms32(kNow) - 1;  // an ACK went out 1 ms ago
  TwSegment s = syn_at(tw.rcv_nxt + 12345);
  s.has_ts = true;
  s.tsval = tw.ts_recent + 1000;
  const TwVerdict syn = timewait_process(tw, s, policy(), kNow);
  ASSERT_EQ(syn.action, TwAction::kSynReopen);
  const TwVerdict v = timewait_syn_without_listener(syn);
  EXPECT_EQ(v.action, TwAction::kSendAck);
  EXPECT_EQ(v.rule, TwRule::kW4);
  expect_no_timer_change(v);
  EXPECT_FALSE(v.ack_clears_ecn);
  EXPECT_TRUE(v.counters.empty());
  const TwAck a = ack_reply(tw, kNow);
  EXPECT_EQ(a.seq, 1979134496u);
  EXPECT_EQ(a.ack, 634715468u);
  EXPECT_EQ(a.tsecr, 3588579891u);
}

TEST_P(TimeWaitProcess, P16_SynAckIsAnsweredAndRearmsNeverReopens) {
  TwEntryState tw = tw_time_wait();
  TwSegment s = syn_at(kRcvNxt + 1000);
  s.ack_flag = true;
  const TwVerdict v = timewait_process(tw, s, policy(), kNow);
  EXPECT_EQ(v.action, TwAction::kSendAck);
  EXPECT_EQ(v.rule, TwRule::kW6);
  expect_rearm_60s(v);
}

TEST_P(TimeWaitProcess, P16_SynRstIsTreatedAsRst) {
  TwEntryState tw = tw_without_ts(tw_time_wait());
  TwSegment exact = syn_at(kRcvNxt);
  exact.rst = true;
  EXPECT_EQ(timewait_process(tw, exact, policy(), kNow).rule, TwRule::kW1);
  TwSegment above = syn_at(kRcvNxt + 1000);
  above.rst = true;
  const TwVerdict v = timewait_process(tw, above, policy(), kNow);
  EXPECT_EQ(v.action, TwAction::kDrop);
  EXPECT_EQ(v.rule, TwRule::kW7);
}

TEST_P(TimeWaitProcess, P17_SuccessorIsnOfZeroBecomesOne) {
  TwEntryState tw = tw_without_ts(tw_time_wait());
  tw.snd_nxt = 0xFFFEFFFFu;
  const TwVerdict v = timewait_process(tw, syn_at(kRcvNxt + 1), policy(), kNow);
  ASSERT_EQ(v.action, TwAction::kSynReopen);
  EXPECT_EQ(v.isn, 1u);
  static_assert(tw_successor_isn(0xFFFEFFFEu) == 0xFFFFFFFFu);
  static_assert(tw_successor_isn(0xFFFF0000u) == 1u);  // wraps past 0 without hitting it
  static_assert(tw_successor_isn(0xFFFF0001u) == 2u);
}

TEST_P(TimeWaitProcess, W7_PawsFailedRstIsDroppedAndCounted) {
  TwEntryState tw = tw_time_wait();
  TwSegment s = rst_at(kRcvNxt);
  s.has_ts = true;
  s.tsval = kTsRecent - 5;
  const TwVerdict v = timewait_process(tw, s, policy(), kNow);
  EXPECT_EQ(v.action, TwAction::kDrop);
  EXPECT_EQ(v.rule, TwRule::kW7);
  expect_no_timer_change(v);
  TwCounters want;
  want.add(paws_counter_of(model()));
  EXPECT_EQ(v.counters, want);
}

TEST_P(TimeWaitProcess, TimestampsIgnoredWhenConnectionHadNone) {
  // No TS on the connection: options are not even parsed, so an "old" TSval is no PAWS
  // reject and a "newer" one cannot open W4's TS clause.
  TwEntryState tw = tw_without_ts(tw_time_wait());
  TwSegment s = seg();
  s.tsval = 1;
  EXPECT_EQ(timewait_process(tw, s, policy(), kNow).rule, TwRule::kW3);
  EXPECT_EQ(tw.ts_recent_stamp_s, 0u);
  TwSegment syn = syn_at(kRcvNxt - 10);
  syn.has_ts = true;
  syn.tsval = 0x7fffffff;
  EXPECT_EQ(timewait_process(tw, syn, policy(), kNow).rule, TwRule::kW6);
}

// --- FIN_WAIT2 substate --------------------------------------------------------------------

TEST_P(TimeWaitProcess, P18_FinWait2BareFinBecomesTimeWaitAckedAndRearmed) {
  TwEntryState tw = tw_fin_wait2();
  TwSegment s = seg();
  s.fin = true;
  s.tsval = kTsRecent + 20;
  const std::uint64_t now = kNow + 7 * kMs;
  const TwVerdict v = timewait_process(tw, s, policy(), now);
  EXPECT_EQ(v.action, TwAction::kSendAck);
  EXPECT_EQ(v.rule, TwRule::kF6);
  expect_rearm_60s(v);
  EXPECT_FALSE(v.ack_clears_ecn);  // TCP_TW_ACK keeps the ECN bits
  EXPECT_FALSE(v.recycle_remember_peer);
  EXPECT_EQ(tw.substate, TwSubstate::kTimeWait);
  EXPECT_EQ(tw.rcv_nxt, kRcvNxt + 1);
  EXPECT_EQ(tw.ts_recent, kTsRecent + 20);
  EXPECT_EQ(tw.ts_recent_stamp_s, secs32(now));
  // D5: >= 6.14 restarts the reuse-delay clock.
  EXPECT_EQ(tw.entry_stamp_ms, model() >= KernelModel::V6_18 ? ms32(now) : ms32(kT0));
  EXPECT_EQ(ack_reply(tw, now).ack, kRcvNxt + 1);
}

TEST_P(TimeWaitProcess, P18_FinWait2FinWithoutTsKeepsEntryStamp) {
  TwEntryState tw = tw_fin_wait2();
  TwSegment s = seg();
  s.fin = true;
  s.has_ts = false;
  const TwVerdict v = timewait_process(tw, s, policy(), kNow);
  EXPECT_EQ(v.rule, TwRule::kF6);
  EXPECT_EQ(tw.entry_stamp_ms, ms32(kT0));
  EXPECT_EQ(tw.ts_recent_stamp_s, secs32(kT0));
}

TEST_P(TimeWaitProcess, P19_FinWait2NewDataIsResetAndKilled) {
  TwEntryState tw = tw_fin_wait2();
  TwSegment s = seg();
  s.seq = kRcvNxt + 10;
  s.payload_len = 100;
  const TwVerdict v = timewait_process(tw, s, policy(), kNow);
  EXPECT_EQ(v.action, TwAction::kKillAndRst);
  EXPECT_EQ(v.rule, TwRule::kF5);
  const TwRst r = rst_reply(s);
  EXPECT_EQ(r.seq, kSndNxt);
  EXPECT_FALSE(r.ack_flag);
}

TEST_P(TimeWaitProcess, P19_FinWait2FinWithDataIsResetAndKilled) {
  TwEntryState tw = tw_fin_wait2();
  TwSegment s = seg();
  s.payload_len = 10;
  s.fin = true;
  EXPECT_EQ(timewait_process(tw, s, policy(), kNow).rule, TwRule::kF5);
}

TEST_P(TimeWaitProcess, P20_FinWait2AnyInWindowRstKills) {
  for (std::uint32_t off : {0u, 1u, 5000u, kRcvWnd - 1}) {
    TwEntryState tw = tw_without_ts(tw_fin_wait2());
    const TwVerdict v = timewait_process(tw, rst_at(kRcvNxt + off), policy(), kNow);
    EXPECT_EQ(v.action, TwAction::kKill) << "offset " << off;
    EXPECT_EQ(v.rule, TwRule::kF2) << "offset " << off;
  }
}

TEST_P(TimeWaitProcess, P21_FinWait2SynAtOrAfterRcvNxtIsResetAndKilled) {
  for (std::uint32_t off : {0u, 10u}) {
    TwEntryState tw = tw_fin_wait2();
    const TwSegment s = syn_at(kRcvNxt + off);
    const TwVerdict v = timewait_process(tw, s, policy(), kNow);
    EXPECT_EQ(v.action, TwAction::kKillAndRst);
    EXPECT_EQ(v.rule, TwRule::kF3);
    const TwRst r = rst_reply(s);
    EXPECT_TRUE(r.ack_flag);
    EXPECT_EQ(r.seq, 0u);
    EXPECT_EQ(r.ack, kRcvNxt + off + 1);
  }
}

TEST_P(TimeWaitProcess, P22_FinWait2OutOfWindowIsAckedAndRateLimited) {
  TwEntryState tw = tw_fin_wait2();
  TwSegment s = seg();
  s.seq = kRcvNxt - 5000;
  const TwVerdict first = timewait_process(tw, s, policy(), kNow);
  EXPECT_EQ(first.action, TwAction::kSendAck);
  EXPECT_EQ(first.rule, TwRule::kF1);
  expect_no_timer_change(first);
  const TwVerdict second = timewait_process(tw, s, policy(), kNow + 100 * kMs);
  EXPECT_EQ(second.rule, TwRule::kF1);
  if (model() == KernelModel::V3_10) {
    EXPECT_EQ(second.action, TwAction::kSendAck);
  } else {
    EXPECT_EQ(second.action, TwAction::kDrop);
    TwCounters want;
    want.add(TwCounter::kTCPACKSkippedFinWait2);
    EXPECT_EQ(second.counters, want);
  }
  EXPECT_EQ(tw.substate, TwSubstate::kFinWait2);
}

TEST_P(TimeWaitProcess, F1_FinWait2PawsRejectIsAckedWithoutPawsCounter) {
  TwEntryState tw = tw_fin_wait2();
  TwSegment s = seg();
  s.fin = true;
  s.tsval = kTsRecent - 1;
  const TwVerdict v = timewait_process(tw, s, policy(), kNow);
  EXPECT_EQ(v.action, TwAction::kSendAck);
  EXPECT_EQ(v.rule, TwRule::kF1);
  EXPECT_TRUE(v.counters.empty());
  EXPECT_EQ(tw.substate, TwSubstate::kFinWait2);
}

TEST_P(TimeWaitProcess, F1_FinWait2RstBeyondWindowIsAcked) {
  TwEntryState tw = tw_without_ts(tw_fin_wait2());
  const TwVerdict v = timewait_process(tw, rst_at(kRcvNxt + kRcvWnd + 1), policy(), kNow);
  EXPECT_EQ(v.rule, TwRule::kF1);
  EXPECT_EQ(v.action, TwAction::kSendAck);
}

TEST_P(TimeWaitProcess, F4_FinWait2DuplicateAckIsDropped) {
  TwEntryState tw = tw_fin_wait2();
  TwSegment pure = seg();  // zero-length at rcv_nxt
  EXPECT_EQ(timewait_process(tw, pure, policy(), kNow).rule, TwRule::kF4);
  TwSegment no_ack = seg();
  no_ack.ack_flag = false;
  no_ack.payload_len = 10;
  const TwVerdict v = timewait_process(tw, no_ack, policy(), kNow);
  EXPECT_EQ(v.rule, TwRule::kF4);
  EXPECT_EQ(v.action, TwAction::kDrop);
  expect_no_timer_change(v);
}

TEST_P(TimeWaitProcess, P23_IcmpErrorsAreIgnored) {
  EXPECT_EQ(timewait_icmp(), TwIcmpAction::kIgnore);
}

// --- 3.x tw_recycle on F6 --------------------------------------------------------------

class TimeWaitProcessRecycle : public ModelTest {};
INSTANTIATE_TEST_SUITE_P(RecycleModels, TimeWaitProcessRecycle,
                         ::testing::Values(KernelModel::V3_10, KernelModel::V4_4),
                         model_param_name);

TEST_P(TimeWaitProcessRecycle, F6_WithRecycleAsksCallerToRememberStampAndUseTwTimeout) {
  TimeWaitPolicy p = policy();
  p.recycle = true;
  TwEntryState tw = tw_fin_wait2();
  tw.recycle_timeout_ms = 700;
  TwSegment s = seg();
  s.fin = true;
  const TwVerdict v = timewait_process(tw, s, p, kNow);
  EXPECT_EQ(v.rule, TwRule::kF6);
  expect_rearm_60s(v);
  EXPECT_TRUE(v.recycle_remember_peer);
  EXPECT_EQ(v.recycled_rearm_us, 700 * kMs);
}

// --- T11 -----------------------------------------------------------------------------------

// Numbers from the ack_oow probe on 6.18.44: SEQ=tw_snd_nxt, ACK=tw_rcv_nxt, TSecr=ts_recent.
TEST(TimeWaitAck, T11_AckCarriesStoredSeqAckWindowAndTimestamps) {
  TwEntryState tw = tw_time_wait();
  tw.rcv_nxt = 3059127538u;
  tw.snd_nxt = 1026559348u;
  tw.ts_recent = 823914487u;
  const TwAck a = ack_reply(tw, kNow);
  EXPECT_EQ(a.seq, 1026559348u);
  EXPECT_EQ(a.ack, 3059127538u);
  EXPECT_EQ(a.win, kRcvWnd >> kWscale);
  EXPECT_TRUE(a.has_ts);
  EXPECT_EQ(a.tsval, ts_clock_ms(kNow) + kTsOffset);
  EXPECT_EQ(a.tsecr, 823914487u);
}

TEST(TimeWaitAck, T11_NoTimestampOptionWhenTsRecentIsZero) {
  TwEntryState tw = tw_time_wait();
  tw.ts_recent = 0;  // tcp_v4_send_ack() adds the option only when tsecr != 0
  EXPECT_FALSE(ack_reply(tw, kNow).has_ts);
}

TEST(TimeWaitAck, CorruptWindowScaleIsClampedNotUndefined) {
  TwEntryState tw = tw_time_wait();
  tw.rcv_wscale = 200;
  tw.rcv_wnd = 0xffffffffu;
  EXPECT_EQ(ack_reply(tw, kNow).win, 0xffff);  // 2^32-1 >> 14, saturated to 16 bits
}

TEST(TimeWaitSegment, EndSeqCountsSynFinAndWraps) {
  TwSegment s;
  s.seq = 0xfffffffeu;
  s.payload_len = 1;
  s.syn = true;
  s.fin = true;
  EXPECT_EQ(s.end_seq(), 1u);
}

TEST(TimeWaitCounters, NamesAreLinuxNstatNames) {
  EXPECT_EQ(counter_name(TwCounter::kPAWSTimewait), "PAWSTimewait");
  EXPECT_EQ(counter_name(TwCounter::kTCPACKSkippedFinWait2), "TCPACKSkippedFinWait2");
  EXPECT_EQ(counter_name(TwCounter::kTCPTimeWaitOverflow), "TCPTimeWaitOverflow");
  EXPECT_EQ(counter_name(TwCounter::kCount_), "?");
}

}  // namespace
}  // namespace twtcp::timewait::test
