#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "helpers.hpp"
#include "sim/simulator.hpp"

namespace twtcp::sim {
namespace {

using testing::Recorder;

TEST(Simulator, EventsRunInTimeOrderAndTiesInInsertionOrder) {
  Simulator sim;
  std::vector<int> order;
  sim.schedule(30, [&](std::uint64_t) { order.push_back(3); });
  sim.schedule(10, [&](std::uint64_t) { order.push_back(1); });
  sim.schedule(20, [&](std::uint64_t) { order.push_back(20); });
  sim.schedule(20, [&](std::uint64_t) { order.push_back(21); });
  sim.schedule(20, [&](std::uint64_t) { order.push_back(22); });
  EXPECT_EQ(sim.run(), 5u);
  EXPECT_EQ(order, (std::vector<int>{1, 20, 21, 22, 3}));
  EXPECT_EQ(sim.now(), 30u);
}

TEST(Simulator, ActionSeesItsScheduledTimeAndPastTimesClampToNow) {
  Simulator sim;
  std::vector<std::uint64_t> seen;
  sim.schedule(100, [&](std::uint64_t now) {
    seen.push_back(now);
    sim.schedule(5, [&](std::uint64_t n2) { seen.push_back(n2); });  // in the past
  });
  sim.run();
  EXPECT_EQ(seen, (std::vector<std::uint64_t>{100, 100}));
}

TEST(Simulator, RunUntilStopsAtTheHorizonAndAdvancesTheClock) {
  Simulator sim;
  int ran = 0;
  sim.schedule(50, [&](std::uint64_t) { ++ran; });
  sim.schedule(150, [&](std::uint64_t) { ++ran; });
  sim.run_until(100);
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(sim.now(), 100u);
  EXPECT_EQ(sim.pending_events(), 1u);
  sim.run_until(150);
  EXPECT_EQ(ran, 2);
}

class Ticker : public Node {
 public:
  explicit Ticker(std::uint64_t period) : period_(period) {}
  void receive(int, std::span<const std::uint8_t>, std::uint64_t) override {}
  void poll(std::uint64_t now) override {
    polls.push_back(now);
    next_ = now + period_;
  }
  std::optional<std::uint64_t> next_wakeup() const override { return next_; }
  std::vector<std::uint64_t> polls;

 private:
  std::uint64_t period_;
  std::uint64_t next_ = 0;
};

TEST(Simulator, NodesArePolledAtTheirWakeups) {
  Simulator sim;
  Ticker t(250);
  sim.add_node(t);
  sim.run_until(1000);
  EXPECT_EQ(t.polls, (std::vector<std::uint64_t>{0, 250, 500, 750, 1000}));
}

class Stuck : public Node {
 public:
  void receive(int, std::span<const std::uint8_t>, std::uint64_t) override {}
  void poll(std::uint64_t) override { ++polls; }
  std::optional<std::uint64_t> next_wakeup() const override { return 0; }  // always "now"
  int polls = 0;
};

TEST(Simulator, ANodeThatAlwaysWantsNowCannotStallTheClock) {
  Simulator sim;
  Stuck s;
  sim.add_node(s);
  sim.run_until(9);
  EXPECT_EQ(s.polls, 10);  // once per microsecond 0..9
}

TEST(ScriptedHost, SendsAtScriptedTimesInInsertionOrderAndRecordsWhatArrives) {
  Simulator sim;
  ScriptedHost h("h");
  Recorder r;
  h.attach(ScriptedHost::kPort, r);
  sim.add_node(h);
  h.send_raw_at(200, testing::numbered(3));
  h.send_raw_at(100, testing::numbered(1));
  h.send_raw_at(100, testing::numbered(2));
  sim.run();
  ASSERT_EQ(r.hits.size(), 3u);
  EXPECT_EQ(r.hits[0].seq, 1u);
  EXPECT_EQ(r.hits[0].at, 100u);
  EXPECT_EQ(r.hits[1].seq, 2u);
  EXPECT_EQ(r.hits[2].seq, 3u);
  EXPECT_EQ(r.hits[2].at, 200u);
  EXPECT_EQ(h.sent(), 3u);

  h.receive(0, testing::numbered(9), 300);
  ASSERT_EQ(h.received().size(), 1u);
  EXPECT_EQ(h.received()[0].at_us, 300u);
  EXPECT_EQ(testing::seq_of(h.received()[0].frame), 9u);
}

TEST(ScriptedHost, ResponderCanAnswerAFrame) {
  Simulator sim;
  ScriptedHost h;
  Recorder r;
  h.attach(ScriptedHost::kPort, r);
  h.set_responder([](ScriptedHost& self, const ScriptedHost::Received& got) {
    auto s = wire::parse_segment(got.frame);
    ASSERT_TRUE(s.ok());
    self.send_now(got.at_us, testing::spec(s->dst_addr, s->dst_port, s->src_addr, s->src_port,
                                           wire::tcp_flags::kRst, s->ack));
  });
  h.receive(0, testing::numbered(5), 42);
  ASSERT_EQ(r.hits.size(), 1u);
  EXPECT_EQ(r.hits[0].at, 42u);
}

TEST(ScriptedHost, RejectsASpecThatDoesNotMakeAFrame) {
  ScriptedHost h;
  std::vector<std::uint8_t> huge(70000);
  EXPECT_FALSE(h.send_at(0, testing::spec(1, 2, 3, 4, 0), huge));
  EXPECT_EQ(h.scripted_pending(), 0u);
}

}  // namespace
}  // namespace twtcp::sim
