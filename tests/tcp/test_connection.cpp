// State-machine tests for lib/tcp: one fixture builds a connection in a named state, and each
// case varies the template segment from the peer.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "fixture.hpp"
#include "timewait/enter.hpp"
#include "timewait/types.hpp"

namespace twtcp::tcp::testing {
namespace {

using timewait::TwSubstate;

bool has(const OutSegment& s, std::uint8_t f) {
  return (s.flags & f) == f;
}

// ---------------------------------------------------------------------------------- opening

TEST_F(TcpTest, ActiveOpenSendsSynWithAllOptions) {
  connection_in(State::kSynSent);
  ASSERT_EQ(out.size, 1u);
  const OutSegment& syn = out.segs[0];
  EXPECT_EQ(syn.flags, flags::kSyn);
  EXPECT_EQ(syn.seq, kIss);
  EXPECT_EQ(syn.opts.mss, 1460);
  EXPECT_EQ(syn.opts.wscale, 2);  // 131072-byte buffer: 131072 >> 2 fits 16 bits
  EXPECT_TRUE(syn.opts.sack_ok);
  EXPECT_TRUE(syn.opts.has_ts);
  EXPECT_EQ(syn.opts.tsval, timewait::ts_clock_ms(now));
  EXPECT_EQ(syn.opts.tsecr, 0u);
  EXPECT_EQ(syn.window, 65535);
  EXPECT_EQ(ctr.ActiveOpens, 1u);
  EXPECT_EQ(c().next_deadline(), now + 1'000'000);  // rto_initial
}

TEST_F(TcpTest, ActiveOpenNegotiatesOptionsFromSynAck) {
  connection_in(State::kSynSent);
  auto r = send(peer_syn(true));
  EXPECT_EQ(c().state(), State::kEstablished);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].flags, flags::kAck);
  EXPECT_EQ(r[0].seq, kIss + 1);
  EXPECT_EQ(r[0].ack, kPeerIss + 1);
  EXPECT_TRUE(r[0].opts.has_ts);
  EXPECT_EQ(r[0].opts.tsecr, kPeerTs);
  EXPECT_EQ(r[0].window, 131072 >> 2);
  const Tcb& t = c().tcb();
  EXPECT_TRUE(t.wscale_ok);
  EXPECT_EQ(t.snd_wscale, kPeerWscale);
  EXPECT_EQ(t.rcv_wscale, 2);
  EXPECT_TRUE(t.sack_ok);
  EXPECT_TRUE(t.ts_ok);
  EXPECT_EQ(t.ts_recent, kPeerTs);
  EXPECT_EQ(c().effective_mss(), 1460 - 12);
  EXPECT_EQ(t.snd_wnd, 65535u);  // a SYN-ACK's window is not scaled
  EXPECT_TRUE(c().take_events() & event::kConnected);
  EXPECT_EQ(c().next_deadline(), UINT64_MAX);
}

TEST_F(TcpTest, ActiveOpenFallsBackWhenPeerOffersNoOptions) {
  connection_in(State::kSynSent);
  Segment sa = peer_syn(true);
  sa.opts = {};
  auto r = send(sa);
  EXPECT_EQ(c().state(), State::kEstablished);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_FALSE(r[0].opts.has_ts);
  EXPECT_FALSE(c().tcb().wscale_ok);
  EXPECT_EQ(c().tcb().rcv_wscale, 0);
  EXPECT_FALSE(c().tcb().sack_ok);
  EXPECT_EQ(c().effective_mss(), 536);  // RFC 9293 default send MSS
  EXPECT_EQ(r[0].window, 65535);        // unscaled: capped at 16 bits
}

TEST_F(TcpTest, TimestampsOffMeansNoTsOptionAnywhere) {
  params.timestamps = 0;
  connection_in(State::kSynSent);
  EXPECT_FALSE(out.segs[0].opts.has_ts);
  auto r = send(peer_syn(true));
  EXPECT_FALSE(c().tcb().ts_ok);
  EXPECT_FALSE(r[0].opts.has_ts);
  EXPECT_EQ(c().effective_mss(), 1460);
}

TEST_F(TcpTest, TsvalIsClockMsPlusOffset) {
  make();
  app([&] { c().connect(kIss, 0x12345678, now); });
  EXPECT_EQ(out.segs[0].opts.tsval, timewait::ts_clock_ms(now) + 0x12345678u);
}

TEST_F(TcpTest, PassiveOpenAnswersSynAckMirroringOptions) {
  connection_in(State::kSynReceived);
  ASSERT_EQ(out.size, 1u);
  const OutSegment& sa = out.segs[0];
  EXPECT_EQ(sa.flags, flags::kSyn | flags::kAck);
  EXPECT_EQ(sa.seq, kIss);
  EXPECT_EQ(sa.ack, kPeerIss + 1);
  EXPECT_EQ(sa.opts.wscale, 2);
  EXPECT_TRUE(sa.opts.sack_ok);
  EXPECT_EQ(sa.opts.tsecr, kPeerTs);
  EXPECT_EQ(ctr.PassiveOpens, 0u);  // counted when the handshake completes, as Linux does
}

TEST_F(TcpTest, PassiveOpenWithoutPeerWscaleSendsNone) {
  make();
  Segment syn = peer_syn(false);
  syn.opts.wscale.reset();
  syn.opts.has_ts = false;
  app([&] { EXPECT_TRUE(c().accept_syn(syn, kIss, 0, now)); });
  EXPECT_FALSE(out.segs[0].opts.wscale.has_value());
  EXPECT_FALSE(out.segs[0].opts.has_ts);
}

TEST_F(TcpTest, AcceptSynRejectsNonSyn) {
  make();
  Segment s = peer_syn(true);
  EXPECT_FALSE(c().accept_syn(s, kIss, 0, now));
  EXPECT_EQ(c().state(), State::kClosed);
}

TEST_F(TcpTest, PassiveOpenCompletesOnAck) {
  connection_in(State::kSynReceived);
  Segment a = tmpl();
  a.ack = kIss + 1;
  auto r = send(a);
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(c().state(), State::kEstablished);
  EXPECT_EQ(ctr.PassiveOpens, 1u);
  EXPECT_EQ(c().tcb().snd_wnd, 65535u << kPeerWscale);
  EXPECT_TRUE(c().take_events() & event::kConnected);
}

TEST_F(TcpTest, SynReceivedRetransmittedSynGetsSynAckAgain) {
  connection_in(State::kSynReceived);
  auto r = send(peer_syn(false));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].flags, flags::kSyn | flags::kAck);
  EXPECT_EQ(c().state(), State::kSynReceived);
}

TEST_F(TcpTest, SynReceivedUnacceptableAckGetsRst) {
  connection_in(State::kSynReceived);
  Segment a = tmpl();
  a.ack = kIss + 50;
  auto r = send(a);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].flags, flags::kRst);
  EXPECT_EQ(r[0].seq, kIss + 50);
  EXPECT_EQ(c().state(), State::kSynReceived);
}

TEST_F(TcpTest, SimultaneousOpenViaCrossingSyns) {
  connection_in(State::kSynSent);
  auto r = send(peer_syn(false));
  EXPECT_EQ(c().state(), State::kSynReceived);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].flags, flags::kSyn | flags::kAck);
  EXPECT_EQ(r[0].seq, kIss);  // the same ISN again
  EXPECT_EQ(r[0].ack, kPeerIss + 1);
  EXPECT_TRUE(r[0].opts.has_ts);
  // The peer's SYN-ACK (its own SYN again, now ACKing ours) completes it.
  r = send(peer_syn(true));
  EXPECT_EQ(c().state(), State::kEstablished);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].flags, flags::kAck);
  EXPECT_EQ(r[0].ack, kPeerIss + 1);
  EXPECT_EQ(ctr.PassiveOpens, 0u);
  EXPECT_EQ(ctr.ActiveOpens, 1u);
}

TEST_F(TcpTest, SimultaneousOpenCompletesOnPlainAck) {
  connection_in(State::kSynSent);
  send(peer_syn(false));
  Segment a = tmpl();
  a.ack = kIss + 1;
  send(a);
  EXPECT_EQ(c().state(), State::kEstablished);
}

TEST_F(TcpTest, SynSentRstWithAcceptableAckIsRefused) {
  connection_in(State::kSynSent);
  Segment rst;
  rst.flags = flags::kRst | flags::kAck;
  rst.ack = kIss + 1;
  auto r = send(rst);
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(c().state(), State::kClosed);
  EXPECT_EQ(c().close_reason(), CloseReason::kRefused);
  EXPECT_EQ(ctr.AttemptFails, 1u);
  EXPECT_EQ(ctr.EstabResets, 0u);
}

TEST_F(TcpTest, SynSentIgnoresRstWithoutAck) {
  connection_in(State::kSynSent);
  Segment rst;
  rst.flags = flags::kRst;
  EXPECT_TRUE(send(rst).empty());
  EXPECT_EQ(c().state(), State::kSynSent);
}

TEST_F(TcpTest, SynSentBadAckGetsRstAndIsDropped) {
  connection_in(State::kSynSent);
  Segment sa = peer_syn(true);
  sa.ack = kIss + 7;
  auto r = send(sa);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].flags, flags::kRst);
  EXPECT_EQ(r[0].seq, kIss + 7);
  EXPECT_EQ(c().state(), State::kSynSent);
}

TEST_F(TcpTest, SynRetriesDoubleAndExhaustionCountsAttemptFails) {
  params.syn_retries = 6;
  connection_in(State::kSynSent);
  const std::uint64_t t0 = now;
  std::uint64_t expect_at = t0;
  for (int i = 0; i < 6; ++i) {
    expect_at += (1'000'000ull << i);
    ASSERT_EQ(c().next_deadline(), expect_at) << i;
    auto r = fire(expect_at);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].flags, flags::kSyn);
    EXPECT_EQ(r[0].seq, kIss);
  }
  EXPECT_EQ(ctr.RetransSegs, 6u);
  EXPECT_EQ(ctr.TCPTimeouts, 6u);
  expect_at += 64'000'000;  // 1+2+...+64 = 127 s after the first SYN
  EXPECT_EQ(c().next_deadline(), expect_at);
  EXPECT_TRUE(fire(expect_at).empty());
  EXPECT_EQ(c().state(), State::kClosed);
  EXPECT_EQ(c().close_reason(), CloseReason::kTimeout);
  EXPECT_EQ(ctr.AttemptFails, 1u);
  EXPECT_EQ(ctr.TCPAbortOnTimeout, 1u);
  EXPECT_EQ(expect_at - t0, 127'000'000u);
}

TEST_F(TcpTest, SynAckRetriesExhaustion) {
  params.synack_retries = 2;
  connection_in(State::kSynReceived);
  EXPECT_EQ(fire(now + 1'000'000).size(), 1u);
  EXPECT_EQ(fire(now + 2'000'000).size(), 1u);
  EXPECT_EQ(out.segs[0].flags, flags::kSyn | flags::kAck);
  EXPECT_TRUE(fire(now + 4'000'000).empty());
  EXPECT_EQ(c().state(), State::kClosed);
  EXPECT_EQ(ctr.AttemptFails, 1u);
}

// ------------------------------------------------------------------------------- data flow

TEST_F(TcpTest, InOrderDataIsReadableAndAckIsDelayed) {
  connection_in(State::kEstablished);
  auto r = send(data(100));
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(c().readable(), 100u);
  EXPECT_TRUE(c().take_events() & event::kReadable);
  EXPECT_EQ(c().next_deadline(), now + 40'000);
  r = fire(now + 40'000);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].ack, peer_nxt + 100);
  std::uint8_t buf[200];
  EXPECT_EQ(c().recv(buf, now), 100u);
  EXPECT_EQ(buf[0], 'x');
}

TEST_F(TcpTest, SecondFullSegmentIsAckedAtOnce) {
  connection_in(State::kEstablished);
  const std::size_t mss = c().effective_mss();
  EXPECT_TRUE(send(data(mss)).empty());
  peer_nxt += static_cast<std::uint32_t>(mss);
  auto r = send(data(mss));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].ack, peer_nxt + mss);
}

TEST_F(TcpTest, ZeroDelayedAckAcksEverySegment) {
  params.delayed_ack_us = 0;
  connection_in(State::kEstablished);
  auto r = send(data(10));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].ack, peer_nxt + 10);
}

TEST_F(TcpTest, DuplicateDataIsTrimmedAndAcked) {
  connection_in(State::kEstablished);
  send(data(100));
  Segment s = data(150, 'y');  // 100 old bytes, 50 new
  auto r = send(s);
  EXPECT_EQ(c().readable(), 150u);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].ack, peer_nxt + 150);
}

TEST_F(TcpTest, ReceiveWindowLimitsDataAndReopensAfterRead) {
  rcvbuf = 4096;
  connection_in(State::kEstablished);
  EXPECT_EQ(c().tcb().rcv_wscale, 0);
  Segment s = data(5000);
  auto r = send(s);
  EXPECT_EQ(c().readable(), 4096u);  // trimmed to the advertised window
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].ack, peer_nxt + 4096);
  EXPECT_EQ(r[0].window, 0);
  peer_nxt += 4096;
  // Window closed: more data is not acceptable.
  r = send(data(10));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].ack, peer_nxt);
  EXPECT_EQ(c().readable(), 4096u);
  // Reading reopens the window with an update.
  std::uint8_t buf[4096];
  auto u = app([&] { EXPECT_EQ(c().recv(buf, now), 4096u); });
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(u[0].window, 4096);
}

TEST_F(TcpTest, SendSegmentsByMssAndPeerWindow) {
  connection_in(State::kEstablished);
  Segment w = tmpl();
  w.window = 24;  // 24 << 7 = 3072 bytes
  send(w);
  EXPECT_EQ(c().tcb().snd_wnd, 3072u);
  std::vector<std::uint8_t> buf(10000, 'a');
  auto r = app([&] { EXPECT_EQ(c().send(buf, now), 10000u); });
  // Two full segments fit; the 176-byte remainder waits (no small segment while data is in
  // flight).
  const std::uint32_t mss = c().effective_mss();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].payload_len, mss);
  EXPECT_EQ(r[0].seq, kIss + 1);
  EXPECT_EQ(r[1].payload_len, mss);
  EXPECT_EQ(r[1].seq, kIss + 1 + mss);
  std::vector<std::uint8_t> copy(3000);
  EXPECT_EQ(c().copy_payload(r[1], copy), r[1].payload_len);
  EXPECT_EQ(copy[0], 'a');
  // The peer ACKs everything and opens its window: the rest goes.
  Segment a = tmpl();
  a.ack = kIss + 1 + 2 * mss;
  a.window = 512;
  r = send(a);
  EXPECT_GE(r.size(), 5u);
  EXPECT_TRUE(c().take_events() & event::kWritable);
}

TEST_F(TcpTest, SendBufferLimitsAcceptedBytes) {
  sndbuf = 1000;
  connection_in(State::kEstablished);
  std::vector<std::uint8_t> buf(5000, 'a');
  app([&] { EXPECT_EQ(c().send(buf, now), 1000u); });
  EXPECT_EQ(c().send_space(), 0u);
}

TEST_F(TcpTest, ZeroWindowIsProbedByPersistTimer) {
  connection_in(State::kEstablished);
  Segment w = tmpl();
  w.window = 0;
  send(w);
  std::vector<std::uint8_t> buf(100, 'a');
  auto r = app([&] { c().send(buf, now); });
  EXPECT_TRUE(r.empty());
  const std::uint64_t d = c().next_deadline();
  ASSERT_NE(d, UINT64_MAX);
  r = fire(d);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].seq, kIss);  // snd_una - 1: elicits an ACK with the window
  EXPECT_EQ(r[0].payload_len, 0u);
  Segment open = tmpl();
  r = send(open);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].payload_len, 100u);
}

TEST_F(TcpTest, OutputStopsAtFullQueueAndFlushResumes) {
  connection_in(State::kEstablished);
  send(tmpl());  // the peer's scaled window: 65535 << 7
  out.clear();
  while (out.size < OutQueue::kCapacity - 4) out.push(OutSegment{});  // the caller is behind
  std::vector<std::uint8_t> buf(10'000, 'q');
  EXPECT_EQ(c().send(buf, now), buf.size());
  EXPECT_EQ(out.size, OutQueue::kCapacity);
  EXPECT_EQ(out.dropped, 0u);
  EXPECT_EQ(c().tcb().snd_nxt, kIss + 1 + 4 * c().effective_mss());
  auto r = app([&] { c().flush(now); });
  EXPECT_EQ(r.size(), 3u);  // 10000 bytes = 6 full segments + 1 partial
  EXPECT_EQ(c().tcb().snd_nxt, kIss + 1 + 10'000);
}

TEST_F(TcpTest, DelayedAckRidesOnOutgoingData) {
  connection_in(State::kEstablished);
  send(data(100));
  EXPECT_NE(c().next_deadline(), UINT64_MAX);
  std::vector<std::uint8_t> buf(10, 'a');
  auto r = app([&] { c().send(buf, now); });
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].ack, peer_nxt + 100);
  EXPECT_EQ(c().next_deadline(), now + 200'000);  // only the RTO is left
}

TEST_F(TcpTest, FinWithDataDeliversDataThenCloseWait) {
  connection_in(State::kEstablished);
  Segment s = data(30);
  s.flags |= flags::kFin;
  auto r = send(s);
  EXPECT_EQ(c().readable(), 30u);
  EXPECT_EQ(c().state(), State::kCloseWait);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].ack, peer_nxt + 31);
  const auto ev = c().take_events();
  EXPECT_TRUE(ev & event::kReadable);
  EXPECT_TRUE(ev & event::kPeerFin);
}

TEST_F(TcpTest, OldWindowUpdateIsIgnored) {
  connection_in(State::kEstablished);
  Segment a = data(10);
  a.window = 100;
  send(a);
  peer_nxt += 10;
  EXPECT_EQ(c().tcb().snd_wnd, 100u << kPeerWscale);
  Segment old = tmpl();
  old.seq = peer_nxt - 10;  // older than SND.WL1: its window is stale
  old.window = 5;
  send(old);
  EXPECT_EQ(c().tcb().snd_wnd, 100u << kPeerWscale);
}

TEST_F(TcpTest, ChallengeAckInSynReceivedUsesScaledWindow) {
  connection_in(State::kSynReceived);
  Segment rst = tmpl();
  rst.flags = flags::kRst;
  rst.seq += 10;
  auto r = send(rst);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].window, 131072 >> 2);
}

// ----------------------------------------------------------------------- out-of-order receive

TEST_F(TcpTest, OutOfOrderDataIsQueuedAndAnsweredWithDupAckAtOnce) {
  connection_in(State::kEstablished);
  auto r = send(data_at(1000, 100, 'b'));
  ASSERT_EQ(r.size(), 1u);  // immediate, not delayed
  EXPECT_EQ(r[0].ack, peer_nxt);
  EXPECT_EQ(r[0].payload_len, 0u);
  EXPECT_EQ(c().readable(), 0u);
  EXPECT_FALSE(c().take_events() & event::kReadable);
  EXPECT_EQ(c().ofo_ranges(), 1u);
  EXPECT_EQ(ctr.TCPOFOQueue, 1u);
  EXPECT_EQ(ctr.TCPOFODrop, 0u);
}

// Three segments A, B, C (different fill bytes) arrive in every order; the reader always gets
// A then B then C, and whichever segment completes the stream is ACKed at once.
TEST_F(TcpTest, ThreeSegmentsInEveryOrderAreReadInSequenceOrder) {
  std::array<int, 3> order{0, 1, 2};
  constexpr std::uint32_t kLen[3] = {700, 1000, 300};
  constexpr std::uint32_t kOff[3] = {0, 700, 1700};
  do {
    SCOPED_TRACE(::testing::Message() << order[0] << order[1] << order[2]);
    ctr = {};
    connection_in(State::kEstablished);
    for (std::size_t k = 0; k < 3; ++k) {
      const int i = order[k];
      const bool holes = c().ofo_ranges() > 0;
      const bool in_order = kOff[i] == c().tcb().rcv_nxt - peer_nxt;
      auto r = send(data_at(kOff[i], kLen[i], std::uint8_t('A' + i)));
      if (!in_order || holes) {
        // A dup ACK for a segment beyond a hole; an ACK at once for one that fills it.
        ASSERT_EQ(r.size(), 1u);
        EXPECT_EQ(r[0].ack, c().tcb().rcv_nxt);
      }
    }
    EXPECT_EQ(c().tcb().rcv_nxt, peer_nxt + 2000);
    EXPECT_EQ(c().ofo_ranges(), 0u);
    std::vector<std::uint8_t> want;
    for (int i = 0; i < 3; ++i) want.insert(want.end(), kLen[i], std::uint8_t('A' + i));
    EXPECT_EQ(read_all(), want);
    EXPECT_EQ(ctr.TCPOFODrop, 0u);
    EXPECT_EQ(ctr.TCPOFOMerge, 0u);
  } while (std::next_permutation(order.begin(), order.end()));
}

TEST_F(TcpTest, FillingTheHoleIsAckedAtOnceAndTakesInTheQueuedData) {
  connection_in(State::kEstablished);
  send(data_at(100, 50, 'b'));
  send(data_at(200, 50, 'd'));  // two holes: [0,100) and [150,200)
  (void)c().take_events();
  auto r = send(data_at(0, 100, 'a'));
  ASSERT_EQ(r.size(), 1u);  // no delayed ACK: part of the gap is filled
  EXPECT_EQ(r[0].ack, peer_nxt + 150);
  EXPECT_EQ(c().readable(), 150u);
  EXPECT_TRUE(c().take_events() & event::kReadable);
  EXPECT_EQ(c().next_deadline(), UINT64_MAX);
  r = send(data_at(150, 50, 'c'));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].ack, peer_nxt + 250);
  EXPECT_EQ(c().ofo_ranges(), 0u);
  const auto got = read_all();
  ASSERT_EQ(got.size(), 250u);
  EXPECT_EQ(got[99], 'a');
  EXPECT_EQ(got[100], 'b');
  EXPECT_EQ(got[150], 'c');
  EXPECT_EQ(got[249], 'd');
}

TEST_F(TcpTest, OverlappingOutOfOrderSegmentsMergeAndCount) {
  connection_in(State::kEstablished);
  send(data_at(100, 100, 'b'));
  send(data_at(200, 100, 'b'));  // touches: coalesced, not an overlap
  EXPECT_EQ(c().ofo_ranges(), 1u);
  EXPECT_EQ(ctr.TCPOFOMerge, 0u);
  send(data_at(150, 200, 'b'));  // overlaps and extends
  EXPECT_EQ(c().ofo_ranges(), 1u);
  EXPECT_EQ(ctr.TCPOFOMerge, 1u);
  EXPECT_EQ(ctr.TCPOFOQueue, 3u);
  send(data_at(0, 100, 'a'));
  EXPECT_EQ(c().readable(), 350u);
}

TEST_F(TcpTest, IntervalCapacityExhaustedDropsAndCounts) {
  connection_in(State::kEstablished);
  const std::uint32_t n = Connection::kOfoRanges;
  for (std::uint32_t i = 0; i < n; ++i) send(data_at(100 + 200 * i, 100, 'x'));  // 16 islands
  EXPECT_EQ(c().ofo_ranges(), n);
  EXPECT_EQ(ctr.TCPOFODrop, 0u);
  auto r = send(data_at(100 + 200 * n, 100, 'y'));  // a 17th island: no room
  ASSERT_EQ(r.size(), 1u);                          // still answered with a dup ACK
  EXPECT_EQ(r[0].ack, peer_nxt);
  EXPECT_EQ(ctr.TCPOFODrop, 1u);
  EXPECT_EQ(ctr.TCPOFOQueue, n);
  send(data_at(200, 50, 'x'));  // extending an island needs no new interval
  EXPECT_EQ(ctr.TCPOFODrop, 1u);
  // Fill every hole: the stream ends where the dropped island was.
  for (std::uint32_t i = 0; i < n; ++i) send(data_at(200 * i, 100, 'x'));
  EXPECT_EQ(c().tcb().rcv_nxt, peer_nxt + 200 * n);
  EXPECT_EQ(c().ofo_ranges(), 0u);
}

TEST_F(TcpTest, OutOfOrderDataBeyondTheWindowIsTrimmedAndCounted) {
  rcvbuf = 4096;
  connection_in(State::kEstablished);
  ASSERT_EQ(c().tcb().rcv_adv - c().tcb().rcv_nxt, 4096u);
  auto r = send(data_at(3000, 2000, 'z'));  // 1096 bytes fit, 904 lie beyond the window
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(ctr.TCPOFODrop, 1u);
  EXPECT_EQ(ctr.TCPOFOQueue, 1u);
  r = send(data_at(5000, 100, 'z'));  // wholly beyond: not acceptable at all
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(ctr.TCPOFODrop, 1u);
  r = send(data_at(0, 3000, 'a'));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].ack, peer_nxt + 4096);
  EXPECT_EQ(r[0].window, 0);
  const auto got = read_all();
  ASSERT_EQ(got.size(), 4096u);
  EXPECT_EQ(got[2999], 'a');
  EXPECT_EQ(got[3000], 'z');
  EXPECT_EQ(got[4095], 'z');
}

TEST_F(TcpTest, OutOfOrderDataWrapsTheRingAfterReads) {
  rcvbuf = 4096;
  connection_in(State::kEstablished);
  send(data_at(0, 3000, 'a'));
  EXPECT_EQ(read_all().size(), 3000u);
  peer_nxt += 3000;
  send(data_at(1000, 2000, 'c'));  // straddles the ring's end
  send(data_at(0, 1000, 'b'));
  const auto got = read_all();
  ASSERT_EQ(got.size(), 3000u);
  EXPECT_EQ(std::count(got.begin(), got.begin() + 1000, 'b'), 1000);
  EXPECT_EQ(std::count(got.begin() + 1000, got.end(), 'c'), 2000);
}

// An out-of-order FIN is remembered and takes effect when the data before it is in.
TEST_F(TcpTest, OutOfOrderFinIsProcessedOnceTheHoleFills) {
  connection_in(State::kEstablished);
  Segment tail = data_at(100, 100, 'b');
  tail.flags |= flags::kFin;
  auto r = send(tail);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].ack, peer_nxt);
  EXPECT_EQ(c().state(), State::kEstablished);
  EXPECT_FALSE(c().take_events() & event::kPeerFin);
  r = send(data_at(0, 100, 'a'));
  EXPECT_EQ(c().state(), State::kCloseWait);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].ack, peer_nxt + 201);  // the data and the FIN
  EXPECT_TRUE(c().take_events() & event::kPeerFin);
  EXPECT_EQ(read_all().size(), 200u);
}

TEST_F(TcpTest, BareOutOfOrderFinWaitsForTheDataBeforeIt) {
  connection_in(State::kFinWait2);
  Segment fin = tmpl();
  fin.seq += 50;
  fin.flags |= flags::kFin;
  send(fin);
  EXPECT_EQ(c().state(), State::kFinWait2);
  auto r = send(data_at(0, 50, 'a'));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].ack, peer_nxt + 51);
  EXPECT_EQ(c().state(), State::kTimeWait);
  EXPECT_EQ(c().timewait_request().conn.rcv_nxt, peer_nxt + 51);
}

TEST_F(TcpTest, DupAckCarriesSackBlocksMostRecentFirst) {
  connection_in(State::kEstablished);
  send(data_at(100, 100, 'x'));
  send(data_at(300, 100, 'x'));
  send(data_at(500, 100, 'x'));
  auto r = send(data_at(700, 100, 'x'));
  ASSERT_EQ(r.size(), 1u);
  const SegOptions& o = r[0].opts;
  ASSERT_EQ(o.sack_count, 3u);  // timestamps leave room for three
  EXPECT_EQ(o.sack[0].left, peer_nxt + 700);
  EXPECT_EQ(o.sack[0].right, peer_nxt + 800);
  EXPECT_EQ(o.sack[1].left, peer_nxt + 500);
  EXPECT_EQ(o.sack[2].left, peer_nxt + 300);
  r = send(data_at(200, 50, 'x'));  // extends the first island: it becomes the newest
  ASSERT_EQ(r[0].opts.sack_count, 3u);
  EXPECT_EQ(r[0].opts.sack[0].left, peer_nxt + 100);
  EXPECT_EQ(r[0].opts.sack[0].right, peer_nxt + 250);
  EXPECT_EQ(r[0].opts.sack[1].left, peer_nxt + 700);
  // Once the holes are gone, so are the blocks.
  for (std::uint32_t off : {0u, 250u, 400u, 600u}) send(data_at(off, 100, 'x'));
  r = send(data_at(800, 10, 'x'));
  EXPECT_EQ(c().ofo_ranges(), 0u);
  EXPECT_EQ(c().tcb().rcv_nxt, peer_nxt + 810);
  r = fire(c().next_deadline());
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].opts.sack_count, 0u);
}

TEST_F(TcpTest, SackBlocksRideOnDataOnlyWhereTheMssLeavesRoom) {
  sndbuf = 65536;
  connection_in(State::kEstablished);
  send(data_at(100, 100, 'x'));
  const std::uint32_t mss = c().effective_mss();
  std::vector<std::uint8_t> buf(mss + 100, 'a');
  auto r = app([&] { c().send(buf, now); });
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].payload_len, mss);
  EXPECT_EQ(r[0].opts.sack_count, 0u);  // a full segment: no option space left
  EXPECT_EQ(r[1].payload_len, 100u);
  ASSERT_EQ(r[1].opts.sack_count, 1u);
  EXPECT_EQ(r[1].opts.sack[0].left, peer_nxt + 100);
}

TEST_F(TcpTest, WithoutTimestampsFourSackBlocksFit) {
  params.timestamps = 0;
  connection_in(State::kEstablished);
  for (std::uint32_t i = 0; i < 5; ++i) send(data_at(100 + 200 * i, 100, 'x'));
  ASSERT_EQ(out.size, 1u);
  EXPECT_EQ(out.segs[0].opts.sack_count, 4u);
  EXPECT_EQ(out.segs[0].opts.sack[0].left, peer_nxt + 900);
}

// RFC 5961 §3.2 as Linux applies it: besides rcv_nxt, an RST numbered at the right edge of
// the highest SACK block we hold resets; any other in-window number gets a challenge ACK.
TEST_F(TcpTest, RstAtTheRightEdgeOfTheHighestSackBlockResets) {
  connection_in(State::kEstablished);
  send(data_at(300, 100, 'x'));
  send(data_at(100, 100, 'x'));  // the newest block is not the highest
  Segment rst = tmpl();
  rst.flags = flags::kRst;
  rst.seq = peer_nxt + 200;  // the right edge of the lower block
  auto r = send(rst);
  ASSERT_EQ(r.size(), 1u);  // challenge ACK
  EXPECT_EQ(r[0].ack, peer_nxt);
  EXPECT_EQ(c().state(), State::kEstablished);
  rst.seq = peer_nxt + 400;
  r = send(rst);
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(c().state(), State::kClosed);
  EXPECT_EQ(c().close_reason(), CloseReason::kPeerReset);
}

TEST_F(TcpTest, RstAtTheSackEdgeIsOnlyExactWhenSackWasNegotiated) {
  params.sack = false;
  connection_in(State::kEstablished);
  send(data_at(300, 100, 'x'));
  Segment rst = tmpl();
  rst.flags = flags::kRst;
  rst.seq = peer_nxt + 400;
  auto r = send(rst);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(c().state(), State::kEstablished);
}

TEST_F(TcpTest, RstAtTheSackEdgeIsAChallengeUnderLinux3) {
  params.rst_at_sack_edge = false;  // kernel_model 3.10 / 4.4
  connection_in(State::kEstablished);
  send(data_at(300, 100, 'x'));
  Segment rst = tmpl();
  rst.flags = flags::kRst;
  rst.seq = peer_nxt + 400;
  ASSERT_EQ(send(rst).size(), 1u);
  EXPECT_EQ(c().state(), State::kEstablished);
}

TEST_F(TcpTest, NoSackBlocksUnlessNegotiated) {
  params.sack = false;
  connection_in(State::kEstablished);
  auto r = send(data_at(100, 100, 'x'));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].opts.sack_count, 0u);
  EXPECT_EQ(c().ofo_ranges(), 1u);  // still queued
}

TEST(TcpByteRing, WriteAtWrapsAndCommitMakesItReadable) {
  ByteRing ring(8);
  const std::uint8_t head[6] = {1, 2, 3, 4, 5, 6};
  EXPECT_EQ(ring.write(head), 6u);
  std::uint8_t buf[8];
  EXPECT_EQ(ring.read({buf, 5}), 5u);  // head at 5, one byte held
  const std::uint8_t later[4] = {9, 10, 11, 12};
  EXPECT_EQ(ring.write_at(2, later), 4u);  // positions 8..11 wrap to 0..3
  EXPECT_EQ(ring.size(), 1u);
  EXPECT_EQ(ring.write_at(6, later), 1u);  // only the free space is writable
  EXPECT_EQ(ring.write_at(7, later), 0u);
  const std::uint8_t gap[2] = {7, 8};
  EXPECT_EQ(ring.write(gap), 2u);
  EXPECT_EQ(ring.commit(4), 4u);
  EXPECT_EQ(ring.read(buf), 7u);
  const std::uint8_t want[7] = {6, 7, 8, 9, 10, 11, 12};
  EXPECT_EQ(std::memcmp(buf, want, 7), 0);
}

// ---------------------------------------------------------------------------- loss recovery

class Recovery : public TcpTest {
 protected:
  std::uint32_t mss = 0;
  // ESTABLISHED with `segments` full segments sent and unacknowledged (and `extra` more
  // waiting in the send buffer).
  void in_flight(std::uint32_t segments, std::uint32_t extra = 0) {
    sndbuf = 65536;
    connection_in(State::kEstablished);
    send(tmpl());  // the peer's scaled window, so dup ACKs carry the same one
    mss = c().effective_mss();
    std::vector<std::uint8_t> buf((segments + extra) * mss, 'd');
    auto r = app([&] { ASSERT_EQ(c().send(buf, now), buf.size()); });
    ASSERT_EQ(r.size(), std::min(segments + extra, 10u));  // RFC 6928 initial window
  }
  Segment ack_of(std::uint32_t seq) {
    Segment a = tmpl();
    a.ack = seq;
    return a;
  }
  std::uint32_t seg_seq(std::uint32_t i) const { return kIss + 1 + i * mss; }
};

TEST_F(Recovery, ThirdDupAckRetransmitsAtOnceWithoutWaitingForTheRto) {
  in_flight(10);
  const std::uint64_t rto_at = c().next_deadline();
  now += 5000;  // the dup ACKs arrive long before the RTO (200 ms)
  EXPECT_TRUE(send(ack_of(seg_seq(0))).empty());
  EXPECT_TRUE(send(ack_of(seg_seq(0))).empty());
  auto r = send(ack_of(seg_seq(0)));
  ASSERT_LT(now, rto_at);
  ASSERT_EQ(r.size(), 1u);  // exactly one retransmission, now
  EXPECT_EQ(r[0].seq, seg_seq(0));
  EXPECT_EQ(r[0].payload_len, mss);
  EXPECT_EQ(ctr.TCPFastRetrans, 1u);
  EXPECT_EQ(ctr.RetransSegs, 1u);
  EXPECT_EQ(ctr.TCPTimeouts, 0u);
  EXPECT_EQ(ctr.TCPSackRecovery, 1u);
  EXPECT_TRUE(c().in_fast_recovery());
  EXPECT_EQ(c().ssthresh(), 5 * mss);  // half of the 10 segments in flight
  EXPECT_EQ(c().cwnd(), 8 * mss);      // ssthresh + 3 (the segments that left)
  EXPECT_EQ(c().next_deadline(), now + 200'000);
  // Further dup ACKs inflate the window but retransmit nothing more.
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(send(ack_of(seg_seq(0))).empty());
  EXPECT_EQ(c().cwnd(), 13 * mss);
  EXPECT_EQ(ctr.RetransSegs, 1u);
}

TEST_F(Recovery, DupAcksInflateTheWindowForNewData) {
  in_flight(10, 5);  // 5 segments wait behind the initial window
  for (int i = 0; i < 3; ++i) send(ack_of(seg_seq(0)));
  // Limited transmit let the first two dup ACKs send one new segment each.
  EXPECT_EQ(c().tcb().snd_nxt, seg_seq(12));
  // cwnd = 5 + 3 = 8 < 12 in flight: every further dup ACK adds one; at 13 one new goes.
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(send(ack_of(seg_seq(0))).empty());
  auto r = send(ack_of(seg_seq(0)));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].seq, seg_seq(12));
}

TEST_F(Recovery, LimitedTransmitSendsOneNewSegmentPerEarlyDupAck) {
  in_flight(10, 3);
  auto r = send(ack_of(seg_seq(0)));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].seq, seg_seq(10));
  r = send(ack_of(seg_seq(0)));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].seq, seg_seq(11));
  r = send(ack_of(seg_seq(0)));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].seq, seg_seq(0));  // the fast retransmit; segment 12 waits
}

TEST_F(Recovery, PartialAckRetransmitsTheNextHoleAndStaysInRecovery) {
  in_flight(10);
  for (int i = 0; i < 3; ++i) send(ack_of(seg_seq(0)));
  const std::uint32_t cwnd = c().cwnd();
  // Segments 0-2 are in; 3 was lost as well.
  auto r = send(ack_of(seg_seq(3)));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].seq, seg_seq(3));
  EXPECT_EQ(r[0].payload_len, mss);
  EXPECT_TRUE(c().in_fast_recovery());
  EXPECT_EQ(ctr.TCPFastRetrans, 2u);
  EXPECT_EQ(ctr.RetransSegs, 2u);
  EXPECT_EQ(c().cwnd(), cwnd - 3 * mss + mss);  // deflated by what was ACKed, plus one
  EXPECT_EQ(c().next_deadline(), now + 200'000);
  // No third recovery episode is counted for the same loss window.
  EXPECT_EQ(ctr.TCPSackRecovery, 1u);
}

TEST_F(Recovery, FullAckEndsRecoveryWithCwndAtSsthresh) {
  in_flight(10);
  for (int i = 0; i < 3; ++i) send(ack_of(seg_seq(0)));
  send(ack_of(seg_seq(4)));
  auto r = send(ack_of(seg_seq(10)));
  EXPECT_TRUE(r.empty());  // nothing left to send
  EXPECT_FALSE(c().in_fast_recovery());
  EXPECT_EQ(c().cwnd(), c().ssthresh());
  EXPECT_EQ(c().cwnd(), 5 * mss);
  EXPECT_EQ(c().next_deadline(), UINT64_MAX);
  EXPECT_EQ(ctr.TCPFastRetrans, 2u);
}

TEST_F(Recovery, RenoRecoveryCountedWithoutSack) {
  params.sack = false;
  in_flight(4);
  for (int i = 0; i < 3; ++i) send(ack_of(seg_seq(0)));
  EXPECT_EQ(ctr.TCPRenoRecovery, 1u);
  EXPECT_EQ(ctr.TCPSackRecovery, 0u);
  EXPECT_EQ(ctr.TCPFastRetrans, 1u);
}

TEST_F(Recovery, DupAcksThatChangeTheWindowOrCarryDataDoNotCount) {
  in_flight(10);
  Segment a = ack_of(seg_seq(0));
  a.window = 60000;  // a window update
  send(a);
  send(data(10));  // carries data
  peer_nxt += 10;
  send(ack_of(seg_seq(0)));
  EXPECT_EQ(ctr.TCPFastRetrans, 0u);
  EXPECT_FALSE(c().in_fast_recovery());
}

TEST_F(Recovery, DupAcksAfterAnRtoDoNotStartFastRecovery) {
  in_flight(10);
  auto r = fire(c().next_deadline());  // RTO: go back to segment 0, cwnd 1
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(ctr.RetransSegs, 1u);
  // Segments 1.. reach the peer late and provoke dup ACKs below `recover`.
  send(ack_of(seg_seq(1)));
  for (int i = 0; i < 3; ++i) send(ack_of(seg_seq(1)));
  EXPECT_EQ(ctr.TCPFastRetrans, 0u);
  EXPECT_FALSE(c().in_fast_recovery());
}

// Karn: the timed segment was retransmitted, so its ACK gives no RTT sample (timestamps off,
// where the timed segment is the only RTT source).
TEST_F(Recovery, KarnNoRttSampleFromAFastRetransmittedSegment) {
  params.timestamps = 0;
  params.rto_min_us = 1000;
  in_flight(4);
  const std::uint64_t rto = c().rto_us();
  EXPECT_LT(rto, 10'000u);
  now += 50'000;
  for (int i = 0; i < 3; ++i) send(ack_of(seg_seq(0)));
  now += 50'000;
  send(ack_of(seg_seq(4)));
  EXPECT_EQ(c().rto_us(), rto);  // a 100 ms "sample" would have raised it
}

TEST_F(Recovery, RtoGoBackNSkipsSackedData) {
  in_flight(10);
  // The peer holds segments 2-4 and 7: one dup ACK with SACK blocks, then silence.
  Segment a = ack_of(seg_seq(0));
  a.opts.sack_count = 2;
  a.opts.sack[0] = {seg_seq(7), seg_seq(8)};
  a.opts.sack[1] = {seg_seq(2), seg_seq(5)};
  send(a);
  auto r = fire(c().next_deadline());
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].seq, seg_seq(0));
  r = send(ack_of(seg_seq(1)));  // cwnd 2: segment 1, then 5 (2-4 skipped)
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].seq, seg_seq(1));
  EXPECT_EQ(r[1].seq, seg_seq(5));
  r = send(ack_of(seg_seq(5)));
  std::vector<std::uint32_t> seqs;
  for (const auto& o : r) seqs.push_back(o.seq);
  // cwnd 3, segment 5 still out, 7 SACKed: segments 6 and 8 go.
  EXPECT_EQ(seqs, (std::vector<std::uint32_t>{seg_seq(6), seg_seq(8)}));
}

TEST_F(Recovery, ReneggedSacksAreForgotten) {
  in_flight(10);
  Segment a = ack_of(seg_seq(0));
  a.opts.sack_count = 1;
  a.opts.sack[0] = {seg_seq(2), seg_seq(5)};
  send(a);
  send(ack_of(seg_seq(2)));  // ACKs up to the SACKed block but not over it: reneged
  auto r = fire(c().next_deadline());
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].seq, seg_seq(2));  // resent, not skipped
}

TEST_F(Recovery, BogusSackBlocksAreIgnored) {
  in_flight(10);
  Segment a = ack_of(seg_seq(0));
  a.opts.sack_count = 2;
  a.opts.sack[0] = {seg_seq(5), seg_seq(20)};  // beyond what was sent
  a.opts.sack[1] = {kIss - 100, seg_seq(1)};   // below snd_una
  send(a);
  fire(c().next_deadline());
  auto r = send(ack_of(seg_seq(1)));
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1].seq, seg_seq(2));
}

// ---------------------------------------------------------------------------- retransmission

TEST_F(TcpTest, RtoHasTheLinuxFloorAndDoublesToTheCeiling) {
  params.retries2 = 15;
  connection_in(State::kEstablished);
  // The handshake's RTT sample was ~0: RFC 6298 gives a few ms, the floor makes it 200 ms.
  EXPECT_EQ(c().rto_us(), 200'000u);
  std::vector<std::uint8_t> buf(100, 'a');
  app([&] { c().send(buf, now); });
  std::uint64_t rto = 200'000;
  for (int i = 0; i < 15; ++i) {
    ASSERT_EQ(c().next_deadline(), now + rto) << i;
    auto r = fire(now + rto);
    ASSERT_EQ(r.size(), 1u) << i;
    EXPECT_EQ(r[0].seq, kIss + 1);
    EXPECT_EQ(r[0].payload_len, 100u);
    rto = std::min<std::uint64_t>(rto * 2, 120'000'000);
  }
  EXPECT_EQ(c().rto_us(), 120'000'000u);  // ceiling
  EXPECT_EQ(ctr.RetransSegs, 15u);
  EXPECT_TRUE(fire(now + rto).empty());
  EXPECT_EQ(c().state(), State::kClosed);
  EXPECT_EQ(c().close_reason(), CloseReason::kTimeout);
  EXPECT_EQ(ctr.TCPAbortOnTimeout, 1u);
  EXPECT_EQ(ctr.EstabResets, 1u);
}

TEST_F(TcpTest, AckOfNewDataClearsBackoff) {
  connection_in(State::kEstablished);
  std::vector<std::uint8_t> buf(100, 'a');
  app([&] { c().send(buf, now); });
  fire(now + 200'000);
  fire(now + 400'000);
  EXPECT_EQ(c().rto_us(), 800'000u);
  Segment a = tmpl();
  a.ack = kIss + 101;
  send(a);
  EXPECT_EQ(c().retransmits(), 0u);
  EXPECT_EQ(c().rto_us(), 200'000u);
  EXPECT_EQ(c().next_deadline(), UINT64_MAX);
}

TEST_F(TcpTest, RttSampleAboveFloorSetsRto) {
  connection_in(State::kSynSent);
  now += 300'000;  // 300 ms handshake RTT
  send(peer_syn(true));
  // RFC 6298 first sample: SRTT = R, RTTVAR = R/2, RTO = R + 4 RTTVAR = 900 ms.
  EXPECT_EQ(c().rto_us(), 900'000u);
}

TEST_F(TcpTest, TimeoutRetransmitsFromSndUnaWithOneSegment) {
  connection_in(State::kEstablished);
  std::vector<std::uint8_t> buf(5000, 'a');
  auto r = app([&] { c().send(buf, now); });
  EXPECT_EQ(r.size(), 4u);
  r = fire(now + 200'000);
  ASSERT_EQ(r.size(), 1u);  // cwnd = 1 segment after a timeout
  EXPECT_EQ(r[0].seq, kIss + 1);
  EXPECT_EQ(r[0].payload_len, c().effective_mss());
}

// ---------------------------------------------------------------------------- closing paths

TEST_F(TcpTest, ActiveCloseFinWait1ThenFinWait2ThenTimeWaitHandOff) {
  connection_in(State::kEstablished);
  auto r = app([&] { c().shutdown_write(now); });
  EXPECT_EQ(c().state(), State::kFinWait1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].flags, flags::kFin | flags::kAck);
  EXPECT_EQ(r[0].seq, kIss + 1);
  EXPECT_TRUE(send(tmpl()).empty());
  EXPECT_EQ(c().state(), State::kFinWait2);
  EXPECT_EQ(c().next_deadline(), UINT64_MAX);  // L3: not orphaned, no fin_timeout
  peer_ts += 5;
  Segment fin = tmpl();
  fin.flags |= flags::kFin;
  r = send(fin);
  ASSERT_EQ(r.size(), 1u);  // the FIN is ACKed before the hand-off
  EXPECT_EQ(r[0].flags, flags::kAck);
  EXPECT_EQ(r[0].ack, peer_nxt + 1);
  EXPECT_EQ(c().state(), State::kTimeWait);
  EXPECT_TRUE(c().take_events() & event::kTimeWait);
  const auto& req = c().timewait_request();
  EXPECT_EQ(req.state, TwSubstate::kTimeWait);
  EXPECT_EQ(req.conn.rcv_nxt, peer_nxt + 1);
  EXPECT_EQ(req.conn.snd_nxt, kIss + 2);
  EXPECT_EQ(req.conn.ts_recent, kPeerTs + 5);
  EXPECT_NE(req.conn.ts_recent_stamp_s, 0u);
  EXPECT_EQ(req.conn.rcv_wscale, 2);
  EXPECT_EQ(req.rto_us, 200'000u);
  // lib/timewait takes it as is.
  const auto res = timewait::timewait_enter(req, params.paws, now);
  EXPECT_EQ(res.status, timewait::TwEnterStatus::kCreated);
  EXPECT_EQ(res.lifetime_us, 60'000'000u);
  EXPECT_EQ(res.entry.rcv_nxt, peer_nxt + 1);
}

TEST_F(TcpTest, FinWait1FinThatAcksOurFinGoesStraightToTimeWait) {
  connection_in(State::kFinWait1);
  Segment fin = tmpl();
  fin.flags |= flags::kFin;
  auto r = send(fin);
  EXPECT_EQ(c().state(), State::kTimeWait);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].ack, peer_nxt + 1);
}

TEST_F(TcpTest, PassiveCloseCloseWaitThenLastAckThenClosed) {
  connection_in(State::kEstablished);
  Segment fin = tmpl();
  fin.flags |= flags::kFin;
  auto r = send(fin);
  ++peer_nxt;
  EXPECT_EQ(c().state(), State::kCloseWait);
  EXPECT_TRUE(c().take_events() & event::kPeerFin);
  ASSERT_EQ(r.size(), 1u);  // a FIN is ACKed at once
  EXPECT_EQ(r[0].ack, peer_nxt);
  // Data can still flow our way out.
  std::vector<std::uint8_t> buf(10, 'z');
  r = app([&] { EXPECT_EQ(c().send(buf, now), 10u); });
  EXPECT_EQ(r.size(), 1u);
  r = app([&] { c().shutdown_write(now); });
  EXPECT_EQ(c().state(), State::kLastAck);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(has(r[0], flags::kFin));
  EXPECT_EQ(r[0].seq, kIss + 11);
  send(tmpl());
  EXPECT_EQ(c().state(), State::kClosed);
  EXPECT_EQ(c().close_reason(), CloseReason::kNormal);
  EXPECT_TRUE(c().take_events() & event::kClosed);
  EXPECT_EQ(ctr.EstabResets, 0u);
}

TEST_F(TcpTest, SimultaneousCloseGoesThroughClosingToTimeWait) {
  connection_in(State::kClosing);
  EXPECT_EQ(out.size, 1u);  // the ACK of the peer's FIN
  Segment a = tmpl();
  auto r = send(a);
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(c().state(), State::kTimeWait);
  EXPECT_EQ(c().timewait_request().state, TwSubstate::kTimeWait);
  EXPECT_EQ(c().timewait_request().conn.rcv_nxt, peer_nxt);
}

TEST_F(TcpTest, OrphanReachingFinWait2HandsOffAsFinWait2Substate) {
  params.fin_timeout_us = 30'000'000;
  connection_in(State::kEstablished);
  app([&] { c().close(now); });
  EXPECT_EQ(c().state(), State::kFinWait1);
  EXPECT_TRUE(c().orphan());
  send(tmpl());
  EXPECT_EQ(c().state(), State::kTimeWait);
  EXPECT_EQ(c().timewait_request().state, TwSubstate::kFinWait2);
  EXPECT_EQ(c().timewait_request().timeo_us, 30'000'000u);
}

TEST_F(TcpTest, CloseInFinWait2AfterShutdownHandsOffAtOnce) {
  connection_in(State::kFinWait2);
  app([&] { c().close(now); });
  EXPECT_EQ(c().state(), State::kTimeWait);
  EXPECT_EQ(c().timewait_request().state, TwSubstate::kFinWait2);
}

TEST_F(TcpTest, L4OrphanFinWait1AbortsAfterOrphanRetries) {
  params.orphan_retries = 2;
  connection_in(State::kEstablished);
  app([&] { c().close(now); });
  fire(c().next_deadline());
  EXPECT_TRUE(has(out.segs[0], flags::kFin));
  fire(c().next_deadline());
  EXPECT_EQ(ctr.RetransSegs, 2u);
  fire(c().next_deadline());
  EXPECT_EQ(c().state(), State::kClosed);
  EXPECT_EQ(ctr.TCPAbortOnTimeout, 1u);
}

TEST_F(TcpTest, FinIsRetransmittedAfterTimeout) {
  connection_in(State::kFinWait1);
  auto r = fire(c().next_deadline());
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].flags, flags::kFin | flags::kAck);
  EXPECT_EQ(r[0].seq, kIss + 1);
}

TEST_F(TcpTest, L2CloseWithUnreadDataSendsRst) {
  connection_in(State::kEstablished);
  send(data(10));
  auto r = app([&] { c().close(now); });
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(has(r[0], flags::kRst));
  EXPECT_EQ(r[0].seq, kIss + 1);
  EXPECT_EQ(c().state(), State::kClosed);
  EXPECT_EQ(c().close_reason(), CloseReason::kLocalReset);
  EXPECT_EQ(ctr.TCPAbortOnClose, 1u);
  EXPECT_EQ(ctr.OutRsts, 1u);
  EXPECT_EQ(ctr.EstabResets, 1u);
  EXPECT_FALSE(c().take_events() & event::kTimeWait);
}

TEST_F(TcpTest, L1Linger0SendsRstAndSkipsTimeWait) {
  connection_in(State::kEstablished);
  auto r = app([&] { c().close_linger0(now); });
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(has(r[0], flags::kRst));
  EXPECT_EQ(c().state(), State::kClosed);
  EXPECT_EQ(ctr.TCPAbortOnData, 1u);
  EXPECT_EQ(ctr.EstabResets, 1u);
  EXPECT_EQ(ctr.OutRsts, 1u);
  const auto ev = c().take_events();
  EXPECT_TRUE(ev & event::kClosed);
  EXPECT_FALSE(ev & event::kTimeWait);
  EXPECT_EQ(c().next_deadline(), UINT64_MAX);
}

TEST_F(TcpTest, AbortSendsRst) {
  connection_in(State::kCloseWait);
  auto r = app([&] { c().abort(now); });
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(has(r[0], flags::kRst));
  EXPECT_EQ(ctr.EstabResets, 1u);
}

TEST_F(TcpTest, ShutdownInSynSentClosesWithoutRst) {
  connection_in(State::kSynSent);
  auto r = app([&] { c().close(now); });
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(c().state(), State::kClosed);
  EXPECT_EQ(ctr.AttemptFails, 0u);  // only tcp_done() counts it, not close()
}

TEST_F(TcpTest, ClosedConnectionAnswersWithRst) {
  connection_in(State::kEstablished);
  app([&] { c().abort(now); });
  Segment s = tmpl();
  s.ack = 777;
  auto r = send(s);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].flags, flags::kRst);
  EXPECT_EQ(r[0].seq, 777u);
  Segment rst = tmpl();
  rst.flags = flags::kRst;
  EXPECT_TRUE(send(rst).empty());
}

// ------------------------------------------------------------------------ RST (RFC 5961)

class RstPerState : public TcpTest, public ::testing::WithParamInterface<State> {};

TEST_P(RstPerState, ExactRstResets) {
  const State st = GetParam();
  connection_in(st);
  Segment rst = tmpl();
  rst.flags = flags::kRst;
  EXPECT_TRUE(send(rst).empty());
  EXPECT_EQ(c().state(), State::kClosed);
  EXPECT_EQ(c().close_reason(), CloseReason::kPeerReset);
  const bool estab_reset = st == State::kEstablished || st == State::kCloseWait;
  EXPECT_EQ(ctr.EstabResets, estab_reset ? 1u : 0u);
  EXPECT_EQ(ctr.AttemptFails, st == State::kSynReceived ? 1u : 0u);
}

TEST_P(RstPerState, InWindowRstGetsChallengeAck) {
  connection_in(GetParam());
  Segment rst = tmpl();
  rst.flags = flags::kRst;
  rst.seq += 100;
  auto r = send(rst);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].flags, flags::kAck);
  EXPECT_EQ(r[0].ack, peer_nxt);
  EXPECT_EQ(c().state(), GetParam());
  EXPECT_EQ(ctr.TCPChallengeACK, 1u);
}

TEST_P(RstPerState, OutOfWindowRstIsDropped) {
  connection_in(GetParam());
  Segment rst = tmpl();
  rst.flags = flags::kRst;
  rst.seq += 10'000'000;
  EXPECT_TRUE(send(rst).empty());
  EXPECT_EQ(c().state(), GetParam());
  EXPECT_EQ(ctr.TCPChallengeACK, 0u);
}

INSTANTIATE_TEST_SUITE_P(Synchronized, RstPerState,
                         ::testing::Values(State::kSynReceived, State::kEstablished,
                                           State::kFinWait1, State::kFinWait2, State::kCloseWait,
                                           State::kClosing, State::kLastAck),
                         [](const auto& info) {
                           std::string n(to_string(info.param));
                           std::erase(n, '-');
                           return n;
                         });

TEST_F(TcpTest, A9InWindowRstChallengedExactRstResets) {
  connection_in(State::kEstablished);
  Segment rst = tmpl();
  rst.flags = flags::kRst;
  rst.seq += 1;
  EXPECT_EQ(send(rst).size(), 1u);
  EXPECT_EQ(c().state(), State::kEstablished);
  rst.seq -= 1;
  send(rst);
  EXPECT_EQ(c().state(), State::kClosed);
}

TEST_F(TcpTest, A10RstAtRcvNxtMinusOneAcceptedInCloseWait) {
  connection_in(State::kCloseWait);
  Segment rst = tmpl();
  rst.flags = flags::kRst;
  rst.seq -= 1;
  send(rst);
  EXPECT_EQ(c().state(), State::kClosed);
}

TEST_F(TcpTest, RstAtRcvNxtMinusOneIgnoredInEstablished) {
  connection_in(State::kEstablished);
  Segment rst = tmpl();
  rst.flags = flags::kRst;
  rst.seq -= 1;
  EXPECT_TRUE(send(rst).empty());
  EXPECT_EQ(c().state(), State::kEstablished);
}

TEST_F(TcpTest, A6SynOnEstablishedGetsChallengeAck) {
  connection_in(State::kEstablished);
  Segment syn = tmpl();
  syn.flags = flags::kSyn;
  syn.seq += 12345;
  auto r = send(syn);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].flags, flags::kAck);
  EXPECT_EQ(r[0].seq, kIss + 1);
  EXPECT_EQ(r[0].ack, peer_nxt);
  EXPECT_EQ(ctr.TCPSYNChallenge, 1u);
  EXPECT_EQ(ctr.TCPChallengeACK, 1u);
  EXPECT_EQ(c().state(), State::kEstablished);
}

TEST_F(TcpTest, A6SynWithOldTimestampGetsChallengeAck) {
  connection_in(State::kEstablished);
  Segment syn = tmpl();
  syn.flags = flags::kSyn;
  syn.opts.tsval = kPeerTs - 100;
  EXPECT_EQ(send(syn).size(), 1u);
  EXPECT_EQ(ctr.TCPSYNChallenge, 1u);
  EXPECT_EQ(ctr.PAWSEstab, 0u);
}

TEST_F(TcpTest, ChallengeAcksAreRateLimited) {
  connection_in(State::kEstablished);
  Segment rst = tmpl();
  rst.flags = flags::kRst;
  rst.seq += 1;
  EXPECT_EQ(send(rst).size(), 1u);
  now += 100'000;
  EXPECT_TRUE(send(rst).empty());
  EXPECT_EQ(ctr.TCPACKSkippedChallenge, 1u);
  now += 500'000;
  EXPECT_EQ(send(rst).size(), 1u);
  EXPECT_EQ(ctr.TCPChallengeACK, 2u);
}

TEST_F(TcpTest, UnacceptableSegmentGetsDupAck) {
  connection_in(State::kEstablished);
  Segment s = data(10);
  s.seq -= 1000;  // entirely old
  auto r = send(s);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].ack, peer_nxt);
  EXPECT_EQ(c().readable(), 0u);
}

TEST_F(TcpTest, AckOlderThanMaxWindowGetsChallengeAck) {
  connection_in(State::kEstablished);
  send(tmpl());  // max window = 65535 << 7
  Segment s = tmpl();
  s.ack = kIss + 1 - 9'000'000;
  auto r = send(s);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(ctr.TCPChallengeACK, 1u);
}

TEST_F(TcpTest, DupAcksForDataAreNotRateLimitedButPureAcksAre) {
  connection_in(State::kEstablished);
  Segment d = data(10);
  d.seq -= 1000;
  EXPECT_EQ(send(d).size(), 1u);
  now += 1000;
  EXPECT_EQ(send(d).size(), 1u);
  Segment a = tmpl();
  a.seq += 10'000'000;  // out of window, no data
  EXPECT_EQ(send(a).size(), 1u);
  now += 1000;
  EXPECT_TRUE(send(a).empty());
  EXPECT_EQ(ctr.TCPACKSkippedSeq, 1u);
}

TEST_F(TcpTest, AckForUnsentDataIsAckedAndDropped) {
  connection_in(State::kEstablished);
  Segment s = data(10);
  s.ack += 1000;
  auto r = send(s);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(c().readable(), 0u);
  EXPECT_EQ(c().tcb().snd_una, kIss + 1);
}

// ------------------------------------------------------------------------------------ PAWS

// SPEC A1 says TSval 999 against ts_recent 1000, but SPEC §6.1 (and Linux) check with
// TCP_PAWS_WINDOW = 1, which tolerates exactly that one tick; the reject needs 2 ticks.
TEST_F(TcpTest, A1OlderTsvalDataIsDroppedWithDupAck) {
  connection_in(State::kEstablished);
  Segment s = data(100);
  s.opts.tsval = kPeerTs - 2;
  auto r = send(s);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].ack, peer_nxt);
  EXPECT_EQ(c().readable(), 0u);
  EXPECT_EQ(ctr.PAWSEstab, 1u);
}

TEST_F(TcpTest, A1OneTickOlderTsvalIsWithinPawsWindow) {
  connection_in(State::kEstablished);
  Segment s = data(100);
  s.opts.tsval = kPeerTs - 1;
  send(s);
  EXPECT_EQ(c().readable(), 100u);
  EXPECT_EQ(ctr.PAWSEstab, 0u);
  EXPECT_EQ(c().tcb().ts_recent, kPeerTs);  // tcp_replace_ts_recent checks with window 0
}

TEST_F(TcpTest, A2EqualTsvalIsAccepted) {
  connection_in(State::kEstablished);
  Segment s = data(100);
  s.opts.tsval = kPeerTs;
  send(s);
  EXPECT_EQ(c().readable(), 100u);
  EXPECT_EQ(ctr.PAWSEstab, 0u);
}

TEST_F(TcpTest, A3DisorderedPureAckWithOlderTsvalIsAccepted) {
  connection_in(State::kEstablished);
  send(tmpl());  // the peer's scaled window, so the next ACK changes nothing
  Segment s = tmpl();
  s.opts.tsval = kPeerTs - 5;
  EXPECT_TRUE(send(s).empty());
  EXPECT_EQ(ctr.PAWSEstab, 0u);
  EXPECT_EQ(c().tcb().ts_recent, kPeerTs);  // not pulled back
}

TEST_F(TcpTest, OldTsvalPureAckThatMovesTheWindowIsNotDisordered) {
  connection_in(State::kEstablished);
  Segment s = tmpl();  // changes snd_wnd from the SYN-ACK's unscaled 65535
  s.opts.tsval = kPeerTs - 5;
  EXPECT_EQ(send(s).size(), 1u);
  EXPECT_EQ(ctr.PAWSEstab, 1u);
}

TEST_F(TcpTest, A5RstWithOldTsvalStillResets) {
  connection_in(State::kEstablished);
  Segment rst = tmpl();
  rst.flags = flags::kRst;
  rst.opts.tsval = kPeerTs - 500;
  send(rst);
  EXPECT_EQ(c().state(), State::kClosed);
}

TEST_F(TcpTest, A7IdleBeyondWrapAcceptsLowerTsvalAndReplacesTsRecent) {
  params.paws.paws_wrap_s = 2147;
  connection_in(State::kEstablished);
  now += 2148ull * 1'000'000;
  Segment s = data(10);
  s.opts.tsval = 5;
  send(s);
  EXPECT_EQ(c().readable(), 10u);
  EXPECT_EQ(c().tcb().ts_recent, 5u);
}

TEST_F(TcpTest, A8ZeroTsRecentAcceptsAnyTsval) {
  peer_ts = 0;
  connection_in(State::kEstablished);
  EXPECT_EQ(c().tcb().ts_recent, 0u);
  Segment s = data(10);
  s.opts.tsval = 0x90000000u;  // "older" than 0 on the circle
  send(s);
  EXPECT_EQ(c().readable(), 10u);
  EXPECT_EQ(ctr.PAWSEstab, 0u);
  EXPECT_EQ(c().tcb().ts_recent, 0x90000000u);
}

TEST_F(TcpTest, TsRecentIsNotUpdatedByOutOfOrderSegment) {
  connection_in(State::kEstablished);
  Segment s = data(10);
  s.seq += 100;
  s.opts.tsval = kPeerTs + 50;
  send(s);
  EXPECT_EQ(c().tcb().ts_recent, kPeerTs);
}

// ---------------------------------------------------------------------------------- adapter

TEST(TcpAdapter, FromViewCopiesHeaderOptionsAndPayload) {
  wire::SegmentView v;
  v.seq = 1;
  v.ack = 2;
  v.flags = wire::tcp_flags::kAck | wire::tcp_flags::kPsh;
  v.window = 300;
  v.options.mss = 1400;
  v.options.wscale = 9;
  v.options.sack_permitted = true;
  v.options.ts = wire::TcpTimestamps{7, 8};
  const std::uint8_t bytes[3] = {1, 2, 3};
  v.payload = bytes;
  const Segment s = from_view(v);
  EXPECT_EQ(s.seq, 1u);
  EXPECT_EQ(s.ack, 2u);
  EXPECT_EQ(s.flags, flags::kAck | flags::kPsh);
  EXPECT_EQ(s.window, 300);
  EXPECT_EQ(s.opts.mss, 1400);
  EXPECT_EQ(s.opts.wscale, 9);
  EXPECT_TRUE(s.opts.sack_ok);
  EXPECT_TRUE(s.opts.has_ts);
  EXPECT_EQ(s.opts.tsval, 7u);
  EXPECT_EQ(s.opts.tsecr, 8u);
  EXPECT_EQ(s.payload.size(), 3u);
  EXPECT_EQ(s.seg_len(), 3u);
}

TEST(TcpParams, FromConfigReadsKnobs) {
  Config cfg;
  cfg.rto_min_ms = 50;
  cfg.tcp_syn_retries = 3;
  cfg.tcp_timestamps = 0;
  cfg.tcp_rmem.def = 8192;
  const Params p = params_from_config(cfg);
  EXPECT_EQ(p.rto_min_us, 50'000u);
  EXPECT_EQ(p.rto_max_us, 120'000'000u);
  EXPECT_EQ(p.syn_retries, 3);
  EXPECT_EQ(p.timestamps, 0);
  EXPECT_EQ(p.rcvbuf, 8192u);
  EXPECT_EQ(p.delayed_ack_us, 40'000u);
}

}  // namespace
}  // namespace twtcp::tcp::testing

namespace twtcp::tcp::testing {
namespace {

// A TIME_WAIT's old ACK (or any unacceptable ACK) in SYN-SENT: we reset it and, on models
// with Linux's 2020 change, retransmit the SYN after TCP_TIMEOUT_MIN (2 ms), not after 1 s.
TEST_F(TcpTest, SynSentUnacceptableAckRetriesSynAfter2msOnModernModels) {
  params.quick_syn_retry = true;
  connection_in(State::kSynSent);
  Segment old = tmpl();
  old.seq = 5000;
  old.ack = kIss - 77;  // not ours
  old.opts = {};
  auto r = send(old);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].flags & flags::kRst);
  EXPECT_EQ(r[0].seq, kIss - 77);
  EXPECT_EQ(c().next_deadline(), now + 2'000);
  auto again = fire(now + 2'000);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].flags, flags::kSyn);
  // Only the first retransmission is hurried: the next one waits a backed-off RTO.
  EXPECT_GE(c().next_deadline(), now + 1'000'000);
  send(old);
  EXPECT_GE(c().next_deadline(), now + 1'000'000);
}

TEST_F(TcpTest, SynSentUnacceptableAckKeepsTheRtoOnOlderModels) {
  params.quick_syn_retry = false;
  connection_in(State::kSynSent);
  const std::uint64_t deadline = c().next_deadline();
  Segment old = tmpl();
  old.ack = kIss - 77;
  old.opts = {};
  send(old);
  EXPECT_EQ(c().next_deadline(), deadline);
}

// PAWSActive: a SYN-ACK that echoes a timestamp we never sent on this attempt (older than our
// first SYN) answers some other SYN: reset, count, stay in SYN-SENT.
TEST_F(TcpTest, SynSentSynAckWithForeignTsecrIsPawsActive) {
  connection_in(State::kSynSent);
  Segment sa = peer_syn(true);
  sa.opts.tsecr = last_tsval() - 5000;
  auto r = send(sa);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].flags & flags::kRst);
  EXPECT_EQ(ctr.PAWSActive, 1u);
  EXPECT_EQ(c().state(), State::kSynSent);
  send(peer_syn(true));  // the right echo completes the handshake
  EXPECT_EQ(c().state(), State::kEstablished);
  EXPECT_EQ(ctr.PAWSActive, 1u);
}

TEST(TcpParams, QuickSynRetryFollowsTheKernelModel) {
  for (KernelModel m : kAllKernelModels) {
    Config c;
    c.kernel_model = m;
    c.tcp_tw_reuse = m >= KernelModel::V4_19 ? 2 : 0;
    EXPECT_EQ(params_from_config(c).quick_syn_retry, m >= KernelModel::V6_6);
  }
}

}  // namespace
}  // namespace twtcp::tcp::testing

namespace twtcp::tcp::testing {
namespace {

// Zero-window probing is bounded (tcp_probe_timer): the fuzzer found a connection whose peer
// never opens its window probing every 120 s for ever.
struct PersistTest : TcpTest {
  // ESTABLISHED, the peer's window closed, 1000 bytes waiting: the persist timer runs.
  void start_probing() {
    connection_in(State::kEstablished);
    Segment zero = tmpl();
    zero.window = 0;
    send(zero);
    const std::vector<std::uint8_t> data(1000, 7);
    app([&] { c().send(data, now); });
    ASSERT_NE(c().next_deadline(), UINT64_MAX);
  }
  // Fires the timer until the connection closes or `max` firings; returns the probes sent.
  int fire_until_closed(int max, bool peer_answers) {
    int probes = 0;
    for (int i = 0; i < max && c().state() != State::kClosed; ++i) {
      const auto out = fire(c().next_deadline());
      for (const auto& o : out) {
        if (o.payload_len == 0 && o.seq == c().tcb().snd_una - 1) ++probes;
      }
      if (peer_answers && c().state() != State::kClosed) {
        Segment zero = tmpl();
        zero.window = 0;
        send(zero);
      }
    }
    return probes;
  }
};

TEST_F(PersistTest, UnansweredProbesAbortAfterRetries2) {
  params.retries2 = 5;
  start_probing();
  const int probes = fire_until_closed(100, false);
  EXPECT_EQ(probes, 5);
  EXPECT_EQ(c().state(), State::kClosed);
  EXPECT_EQ(c().close_reason(), CloseReason::kTimeout);
  EXPECT_EQ(ctr.TCPAbortOnTimeout, 1u);
}

TEST_F(PersistTest, AnsweredProbesKeepAnOpenConnection) {
  params.retries2 = 5;
  start_probing();
  fire_until_closed(50, true);
  EXPECT_EQ(c().state(), State::kEstablished);  // RFC 1122: a live peer may keep its window shut
}

TEST_F(PersistTest, AnOrphanGivesUpEvenWhenThePeerAnswers) {
  start_probing();
  app([&] { c().close(now); });  // orphan with data queued behind the closed window
  const int probes = fire_until_closed(100, true);
  EXPECT_EQ(c().state(), State::kClosed);
  EXPECT_EQ(c().close_reason(), CloseReason::kTimeout);
  EXPECT_LE(probes, 12);  // gives up once the backed-off RTO reaches rto_max
  EXPECT_GE(probes, 8);
}

}  // namespace
}  // namespace twtcp::tcp::testing

namespace twtcp::tcp::testing {
namespace {

// close() shut the read side: data arriving afterwards in FIN_WAIT1/2 is answered with an RST
// and counted TCPAbortOnData (Linux tcp_rcv_state_process); found by fuzz_stack, where the
// peer kept retransmitting into a buffer nobody would read.
TEST_F(TcpTest, OrphanInFinWait1ResetsOnNewData) {
  connection_in(State::kEstablished);
  app([&] { c().close(now); });
  ASSERT_EQ(c().state(), State::kFinWait1);
  Segment d = tmpl();
  d.ack = c().tcb().snd_una;  // our FIN not yet ACKed
  const std::vector<std::uint8_t> bytes(10, 1);
  d.payload = bytes;
  d.flags = flags::kAck | flags::kPsh;
  auto r = send(d);
  ASSERT_FALSE(r.empty());
  EXPECT_TRUE(r.back().flags & flags::kRst);
  EXPECT_EQ(c().state(), State::kClosed);
  EXPECT_EQ(ctr.TCPAbortOnData, 1u);
}

// The ACK of an orphan's FIN arrives with the peer's FIN beyond a hole (the data before it
// lost): the FIN cannot be taken, so the orphan would sit in FIN_WAIT2 with no timer and answer
// the peer's FIN retransmissions for ever (fuzz_stack, regressions/stack). Linux aborts:
// TCPAbortOnData and an RST.
TEST_F(TcpTest, OrphanResetsWhenItsFinIsAckedWithAFinBeyondAHole) {
  connection_in(State::kEstablished);
  app([&] { c().close(now); });
  ASSERT_EQ(c().state(), State::kFinWait1);
  Segment f = tmpl();
  f.seq = c().tcb().rcv_nxt + 1000;  // 1000 bytes the peer sent never arrived
  f.ack = c().tcb().snd_max;         // our FIN ACKed
  f.flags = flags::kAck | flags::kFin;
  auto r = send(f);
  ASSERT_FALSE(r.empty());
  EXPECT_TRUE(r.back().flags & flags::kRst);
  EXPECT_EQ(c().state(), State::kClosed);
  EXPECT_EQ(c().close_reason(), CloseReason::kLocalReset);
  EXPECT_EQ(ctr.TCPAbortOnData, 1u);
}

// With the FIN in order the same segment ends the orphan in TIME_WAIT, as before.
TEST_F(TcpTest, OrphanGoesToTimeWaitWhenItsFinIsAckedWithAnInOrderFin) {
  connection_in(State::kEstablished);
  app([&] { c().close(now); });
  Segment f = tmpl();
  f.ack = c().tcb().snd_max;
  f.flags = flags::kAck | flags::kFin;
  send(f);
  EXPECT_EQ(c().state(), State::kTimeWait);
  EXPECT_EQ(ctr.TCPAbortOnData, 0u);
}

TEST_F(TcpTest, ShutdownWriteStillReceivesDataInFinWait2) {
  connection_in(State::kFinWait2);  // shutdown(SHUT_WR), not close(): reading goes on
  Segment d = tmpl();
  const std::vector<std::uint8_t> bytes(10, 1);
  d.payload = bytes;
  d.flags = flags::kAck | flags::kPsh;
  send(d);
  EXPECT_EQ(c().state(), State::kFinWait2);
  EXPECT_EQ(c().readable(), 10u);
  EXPECT_EQ(ctr.TCPAbortOnData, 0u);
}

}  // namespace
}  // namespace twtcp::tcp::testing
