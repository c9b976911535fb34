// State-machine tests for lib/tcp: one fixture builds a connection in a named state, and each
// case varies the template segment from the peer.
#include <gtest/gtest.h>

#include <cstring>

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

TEST_F(TcpTest, OutOfOrderDataIsDroppedWithDupAck) {
  connection_in(State::kEstablished);
  Segment s = data(100);
  s.seq += 1000;
  auto r = send(s);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].ack, peer_nxt);
  EXPECT_EQ(c().readable(), 0u);
  EXPECT_EQ(ctr.TCPOFODrop, 1u);
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
