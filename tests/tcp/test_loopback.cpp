// Two Connections wired back to back on a virtual clock: each one's output, payload copied
// out of its send buffer, is delivered to the other after a fixed delay (optionally dropping
// every Nth segment). Proves a byte-exact transfer both ways and a clean close.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "tcp/connection.hpp"

namespace twtcp::tcp {
namespace {

struct InFlight {
  std::uint64_t at = 0;
  int to = 0;  // 0 = client, 1 = server
  Segment seg;
  std::vector<std::uint8_t> payload;
};

std::uint8_t pattern(std::size_t i, std::uint8_t salt) {
  return static_cast<std::uint8_t>((i * 131 + (i >> 9) + salt) & 0xff);
}

struct Side {
  OutQueue out;
  std::unique_ptr<Connection> conn;
  std::size_t sent = 0;
  std::vector<std::uint8_t> got;
  bool shut = false;
  std::uint8_t seen = 0;
};

class Loopback : public ::testing::TestWithParam<int> {
 protected:
  Params params;
  Counters ctr;
  Side side[2];
  std::vector<InFlight> wire;
  std::uint64_t now = 5'000'000;
  std::uint64_t delay_us = 500;
  std::uint64_t sent_segments = 0;
  int drop_every = 0;

  void drain(int from) {
    Side& s = side[from];
    for (const OutSegment& o : s.out.view()) {
      ++sent_segments;
      if (drop_every && sent_segments % drop_every == 0) continue;
      InFlight f;
      f.at = now + delay_us;
      f.to = 1 - from;
      f.seg.seq = o.seq;
      f.seg.ack = o.ack;
      f.seg.flags = o.flags;
      f.seg.window = o.window;
      f.seg.opts = o.opts;
      f.payload.resize(o.payload_len);
      ASSERT_EQ(s.conn->copy_payload(o, f.payload), o.payload_len);
      wire.push_back(std::move(f));
    }
    s.out.clear();
  }
};

TEST_P(Loopback, OneMegabyteEachWayArrivesByteExactAndClosesCleanly) {
  drop_every = GetParam();
  constexpr std::size_t kBytes = 1 << 20;
  for (auto& s : side) s.conn = std::make_unique<Connection>(params, ctr, s.out, 65536, 65536);
  side[0].conn->connect(11111, 0, now);
  drain(0);
  bool accepted = false;
  std::vector<std::uint8_t> chunk(20000);

  for (int step = 0; step < 2'000'000; ++step) {
    // Next event: the earliest delivery or timer.
    std::uint64_t next = UINT64_MAX;
    for (const auto& f : wire) next = std::min(next, f.at);
    for (auto& s : side) {
      if (s.conn->state() != State::kClosed && s.conn->state() != State::kTimeWait) {
        next = std::min(next, s.conn->next_deadline());
      }
    }
    if (next == UINT64_MAX) break;
    now = std::max(now, next);

    // Deliver in send order everything due.
    std::vector<InFlight> due;
    std::vector<InFlight> later;
    for (auto& f : wire) (f.at <= now ? due : later).push_back(std::move(f));
    wire = std::move(later);
    for (auto& f : due) {
      f.seg.payload = f.payload;
      Connection& dst = *side[f.to].conn;
      if (f.to == 1 && !accepted) {
        ASSERT_TRUE(dst.accept_syn(f.seg, 22222, 0, now));
        accepted = true;
      } else {
        dst.on_segment(f.seg, now);
      }
      drain(f.to);
    }
    for (int i = 0; i < 2; ++i) {
      Side& s = side[i];
      if (s.conn->next_deadline() <= now) s.conn->on_timer(now);
      s.seen |= s.conn->take_events();
      // Application: write the pattern, read everything, shut down when done.
      const State st = s.conn->state();
      if (st == State::kEstablished || st == State::kCloseWait) {
        while (s.sent < kBytes) {
          const std::size_t n = std::min(chunk.size(), kBytes - s.sent);
          for (std::size_t k = 0; k < n; ++k) chunk[k] = pattern(s.sent + k, std::uint8_t(i));
          const std::size_t took = s.conn->send({chunk.data(), n}, now);
          s.sent += took;
          if (took < n) break;
        }
        if (s.sent == kBytes && !s.shut && s.got.size() == kBytes) {
          s.conn->shutdown_write(now);
          s.shut = true;
        }
      }
      std::uint8_t buf[8192];
      for (;;) {
        const std::size_t n = s.conn->recv(buf, now);
        if (!n) break;
        s.got.insert(s.got.end(), buf, buf + n);
      }
      drain(i);
      s.conn->flush(now);
      drain(i);
    }
    if (side[0].conn->state() == State::kTimeWait && side[1].conn->state() == State::kClosed &&
        wire.empty()) {
      break;
    }
  }

  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(side[i].got.size(), kBytes) << "side " << i;
    bool exact = true;
    for (std::size_t k = 0; k < kBytes && exact; ++k) {
      exact = side[i].got[k] == pattern(k, std::uint8_t(1 - i));
    }
    EXPECT_TRUE(exact) << "side " << i;
    EXPECT_TRUE(side[i].seen & event::kConnected);
    EXPECT_TRUE(side[i].seen & event::kPeerFin);
  }
  // Whoever shut down first ends in TIME_WAIT; here both finish reading at nearly the same
  // time, so accept either order, but one side must hand off and the other be CLOSED.
  const State a = side[0].conn->state();
  const State b = side[1].conn->state();
  EXPECT_TRUE((a == State::kTimeWait && (b == State::kClosed || b == State::kTimeWait)) ||
              (b == State::kTimeWait && a == State::kClosed))
      << to_string(a) << " / " << to_string(b);
  RecordProperty("virtual_ms", std::to_string((now - 5'000'000) / 1000));
  RecordProperty("segments", std::to_string(sent_segments));
  RecordProperty("retrans", std::to_string(ctr.RetransSegs));
  EXPECT_EQ(ctr.ActiveOpens, 1u);
  EXPECT_EQ(ctr.PassiveOpens, 1u);
  EXPECT_EQ(ctr.EstabResets, 0u);
  EXPECT_EQ(ctr.OutRsts, 0u);
  if (drop_every) {
    EXPECT_GT(ctr.RetransSegs, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Loss, Loopback, ::testing::Values(0, 97), [](const auto& info) {
  return info.param ? "DropEvery" + std::to_string(info.param) : std::string("Lossless");
});

}  // namespace
}  // namespace twtcp::tcp

namespace twtcp::tcp {
namespace {

// Two connections whose segments always cross: every round, both outputs are collected first
// and then delivered, so SYNs and FINs pass each other on the wire.
class Crossing : public ::testing::Test {
 protected:
  Params params;
  Counters ctr;
  OutQueue out[2];
  std::unique_ptr<Connection> c[2];
  std::uint64_t now = 3'000'000;

  void SetUp() override {
    for (int i = 0; i < 2; ++i) c[i] = std::make_unique<Connection>(params, ctr, out[i]);
  }
  // Exchanges segments in lockstep rounds until both queues stay empty.
  void pump() {
    for (int round = 0; round < 20; ++round) {
      struct Msg {
        int to;
        Segment seg;
        std::vector<std::uint8_t> payload;
      };
      std::vector<Msg> msgs;
      for (int i = 0; i < 2; ++i) {
        for (const OutSegment& o : out[i].view()) {
          Msg m{1 - i, {}, std::vector<std::uint8_t>(o.payload_len)};
          m.seg.seq = o.seq;
          m.seg.ack = o.ack;
          m.seg.flags = o.flags;
          m.seg.window = o.window;
          m.seg.opts = o.opts;
          EXPECT_EQ(c[i]->copy_payload(o, m.payload), o.payload_len);
          msgs.push_back(std::move(m));
        }
        out[i].clear();
      }
      if (msgs.empty()) return;
      now += 1000;
      for (auto& m : msgs) {
        m.seg.payload = m.payload;
        c[m.to]->on_segment(m.seg, now);
      }
    }
    ADD_FAILURE() << "no quiescence";
  }
};

TEST_F(Crossing, SimultaneousOpenThenSimultaneousCloseBothEndInTimeWait) {
  c[0]->connect(1000, 0, now);
  c[1]->connect(9000, 0, now);
  pump();
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(c[i]->state(), State::kEstablished) << i;
    EXPECT_TRUE(c[i]->take_events() & event::kConnected);
    EXPECT_TRUE(c[i]->tcb().ts_ok);
    EXPECT_TRUE(c[i]->tcb().wscale_ok);
  }
  const std::uint8_t hello[] = {'h', 'i'};
  for (int i = 0; i < 2; ++i) EXPECT_EQ(c[i]->send(hello, now), 2u);
  for (int i = 0; i < 2; ++i) c[i]->shutdown_write(now);  // both FINs leave before either arrives
  pump();
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(c[i]->state(), State::kTimeWait) << to_string(c[i]->state());
    std::uint8_t buf[8];
    EXPECT_EQ(c[i]->recv(buf, now), 2u);
    EXPECT_EQ(buf[1], 'i');
    const auto& req = c[i]->timewait_request();
    EXPECT_EQ(req.state, timewait::TwSubstate::kTimeWait);
    EXPECT_EQ(req.conn.snd_nxt, (i == 0 ? 1000u : 9000u) + 1 + 2 + 1);
  }
  EXPECT_EQ(ctr.ActiveOpens, 2u);
  EXPECT_EQ(ctr.PassiveOpens, 0u);
  EXPECT_EQ(ctr.OutRsts, 0u);
}

}  // namespace
}  // namespace twtcp::tcp
