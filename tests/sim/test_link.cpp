#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "sim/link.hpp"
#include "sim/rng.hpp"
#include "sim/timeline.hpp"

namespace twtcp::sim {
namespace {

using testing::numbered;
using testing::Recorder;

// Offers `n` numbered frames, one every `gap_us`, and runs the simulation to the end.
void pump(Simulator& sim, Link& link, std::uint32_t n, std::uint64_t gap_us) {
  for (std::uint32_t i = 0; i < n; ++i) {
    sim.schedule(i * gap_us,
                 [&link, f = numbered(i)](std::uint64_t now) { link.receive(0, f, now); });
  }
  sim.run();
}

TEST(Rng, SameSeedSameSequenceDifferentStreamDifferentSequence) {
  Rng a(7), b(7), c(7, 1), d(8);
  bool differs_c = false, differs_d = false;
  for (int i = 0; i < 16; ++i) {
    const auto x = a.next();
    EXPECT_EQ(x, b.next());
    differs_c |= (x != c.next());
    differs_d |= (x != d.next());
  }
  EXPECT_TRUE(differs_c);
  EXPECT_TRUE(differs_d);
}

TEST(Rng, UniformStaysInRange) {
  Rng r(1);
  for (int i = 0; i < 10000; ++i) {
    const double u = r.uniform01();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    ASSERT_LE(r.upto(5), 5u);
  }
  EXPECT_EQ(r.upto(0), 0u);
}

TEST(Link, DeliversAfterTheDelayInOrder) {
  Simulator sim;
  LinkParams p;
  p.delay_us = 1000;
  Link link(sim, p, 1);
  Recorder r;
  link.connect(r);
  pump(sim, link, 5, 10);
  ASSERT_EQ(r.hits.size(), 5u);
  for (std::uint32_t i = 0; i < 5; ++i) {
    EXPECT_EQ(r.hits[i].seq, i);
    EXPECT_EQ(r.hits[i].at, 1000 + i * 10);
  }
  EXPECT_EQ(link.counters().sent, 5u);
  EXPECT_EQ(link.counters().delivered, 5u);
  EXPECT_EQ(link.in_flight(), 0u);
}

TEST(Link, JitterStaysWithinItsBound) {
  Simulator sim;
  LinkParams p;
  p.delay_us = 100;
  p.jitter_us = 50;
  Link link(sim, p, 3);
  Recorder r;
  link.connect(r);
  pump(sim, link, 1000, 0);
  ASSERT_EQ(r.hits.size(), 1000u);
  std::uint64_t lo = UINT64_MAX, hi = 0;
  for (const auto& h : r.hits) {
    lo = std::min(lo, h.at);
    hi = std::max(hi, h.at);
  }
  EXPECT_GE(lo, 100u);
  EXPECT_LE(hi, 150u);
  EXPECT_LT(lo, 110u);  // the range is actually used
  EXPECT_GT(hi, 140u);
}

TEST(Link, BandwidthSerializesFrames) {
  Simulator sim;
  LinkParams p;
  p.delay_us = 10;
  p.bandwidth_bps = 8'000'000;  // one byte per microsecond
  Link link(sim, p, 1);
  Recorder r;
  link.connect(r);
  const std::size_t len = numbered(0).size();
  pump(sim, link, 3, 0);
  ASSERT_EQ(r.hits.size(), 3u);
  EXPECT_EQ(r.hits[0].at, len + 10);
  EXPECT_EQ(r.hits[1].at, 2 * len + 10);
  EXPECT_EQ(r.hits[2].at, 3 * len + 10);
}

std::vector<std::uint32_t> lost_pattern(std::uint64_t seed) {
  Simulator sim(seed);
  LinkParams p;
  p.delay_us = 10;
  p.loss = 0.2;
  Link link(sim, p, sim.seed());
  Recorder r;
  link.connect(r);
  pump(sim, link, 200, 1);
  std::vector<bool> got(200, false);
  for (const auto& h : r.hits) got[h.seq] = true;
  std::vector<std::uint32_t> lost;
  for (std::uint32_t i = 0; i < 200; ++i) {
    if (!got[i]) lost.push_back(i);
  }
  return lost;
}

TEST(Link, SameSeedSameLossPatternDifferentSeedDifferentPattern) {
  EXPECT_EQ(lost_pattern(11), lost_pattern(11));
  EXPECT_NE(lost_pattern(11), lost_pattern(12));
  EXPECT_FALSE(lost_pattern(11).empty());
}

TEST(Link, LossRateIsWithinStatisticalBoundOver10kFrames) {
  Simulator sim;
  LinkParams p;
  p.loss = 0.1;
  p.queue_limit = 0;
  Link link(sim, p, 2024);
  Recorder r;
  link.connect(r);
  constexpr std::uint32_t kN = 10000;
  pump(sim, link, kN, 1);
  const double lost = static_cast<double>(link.counters().dropped_loss);
  // Binomial(10000, 0.1): sigma = 30; 5 sigma is a bound no seed should cross by chance.
  EXPECT_NEAR(lost, 1000.0, 150.0);
  EXPECT_EQ(link.counters().delivered + link.counters().dropped_loss, kN);
  EXPECT_EQ(r.hits.size(), link.counters().delivered);
}

TEST(Link, DuplicationHappensAndIsCounted) {
  Simulator sim;
  LinkParams p;
  p.delay_us = 5;
  p.duplicate = 0.25;
  Link link(sim, p, 5);
  Recorder r;
  link.connect(r);
  pump(sim, link, 1000, 1);
  const auto& c = link.counters();
  EXPECT_GT(c.duplicated, 180u);
  EXPECT_LT(c.duplicated, 320u);
  EXPECT_EQ(c.delivered, 1000u + c.duplicated);
  EXPECT_EQ(r.hits.size(), c.delivered);
}

TEST(Link, ReorderingHappensAndIsCounted) {
  Simulator sim;
  LinkParams p;
  p.delay_us = 100;
  p.reorder = 0.1;
  p.reorder_extra_us = 1000;
  Link link(sim, p, 6);
  Recorder r;
  link.connect(r);
  pump(sim, link, 1000, 10);
  const auto& c = link.counters();
  EXPECT_GT(c.reordered, 50u);
  EXPECT_LT(c.reordered, 150u);
  ASSERT_EQ(r.hits.size(), 1000u);
  std::size_t out_of_order = 0;
  for (std::size_t i = 1; i < r.hits.size(); ++i) {
    if (r.hits[i].seq < r.hits[i - 1].seq) ++out_of_order;
  }
  EXPECT_GT(out_of_order, 0u);
  EXPECT_LE(out_of_order, c.reordered);
}

TEST(Link, FullQueueDropsAndCounts) {
  Simulator sim;
  LinkParams p;
  p.delay_us = 1000;
  p.queue_limit = 4;
  Link link(sim, p, 1);
  Recorder r;
  link.connect(r);
  pump(sim, link, 10, 0);  // all offered at t=0, none delivered yet
  EXPECT_EQ(link.counters().dropped_queue, 6u);
  EXPECT_EQ(link.counters().delivered, 4u);
  ASSERT_EQ(r.hits.size(), 4u);
  EXPECT_EQ(r.hits[3].seq, 3u);
  // Once the queue drains, frames get through again.
  sim.schedule(5000, [&](std::uint64_t now) { link.receive(0, numbered(99), now); });
  sim.run();
  EXPECT_EQ(r.hits.back().seq, 99u);
}

TEST(Link, DropsAndDuplicatesAreAnnotatedInTheTimeline) {
  Simulator sim;
  Timeline tl;
  LinkParams p;
  p.loss = 1.0;
  Link link(sim, p, 1, "c1>nat");
  link.set_timeline(&tl);
  link.receive(0, numbered(1), 0);
  ASSERT_EQ(tl.lines().size(), 1u);
  EXPECT_NE(tl.lines()[0].find("[drop: loss c1>nat]"), std::string::npos) << tl.lines()[0];
  p.loss = 0;
  p.duplicate = 1.0;
  link.set_params(p);
  link.receive(0, numbered(2), 0);
  ASSERT_EQ(tl.lines().size(), 2u);
  EXPECT_NE(tl.lines()[1].find("[dup c1>nat]"), std::string::npos) << tl.lines()[1];
}

// A full little network: client -> link -> tap -> server, with loss, jitter, duplication
// and reordering, printed to a timeline. The same seed must give the same text.
std::string run_scenario(std::uint64_t seed) {
  Simulator sim(seed);
  Timeline tl;
  LinkParams p;
  p.delay_us = 500;
  p.jitter_us = 200;
  p.loss = 0.1;
  p.duplicate = 0.05;
  p.reorder = 0.1;
  p.reorder_extra_us = 700;
  DuplexLink wire(sim, p, seed, "c>s");
  wire.set_timeline(&tl);
  ScriptedHost client("c"), server("s");
  wire.connect(client, ScriptedHost::kPort, server, ScriptedHost::kPort);
  Tap tap(tl);
  tap.connect(server);
  wire.ab.connect(tap);
  sim.add_node(client);
  sim.add_node(server);
  for (std::uint32_t i = 0; i < 100; ++i) {
    client.send_at(i * 100, testing::spec(testing::kClient1, 40000, testing::kServer, 80,
                                          wire::tcp_flags::kAck, 1000 + i));
  }
  sim.run();
  return tl.str();
}

TEST(Link, SameSeedGivesIdenticalTimelineDifferentSeedDoesNot) {
  const std::string a = run_scenario(1), b = run_scenario(1), c = run_scenario(2);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a.find("drop: loss"), std::string::npos);
}

}  // namespace
}  // namespace twtcp::sim
