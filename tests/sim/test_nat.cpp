#include <gtest/gtest.h>

#include <cstdint>
#include <set>

#include "helpers.hpp"
#include "sim/link.hpp"
#include "sim/nat.hpp"
#include "sim/switch.hpp"
#include "sim/timeline.hpp"

namespace twtcp::sim {
namespace {

using testing::kClient1;
using testing::kClient2;
using testing::kPublic;
using testing::kServer;
using testing::spec;
namespace tf = wire::tcp_flags;

// Most NAT tests feed the NAT directly and record both of its sides.
class Capture : public FrameSink {
 public:
  void receive(int, std::span<const std::uint8_t> f, std::uint64_t) override {
    frames.emplace_back(f.begin(), f.end());
  }
  wire::SegmentView last() const {
    auto s = wire::parse_segment(frames.back(), wire::kAllChecksums);
    EXPECT_TRUE(s.ok()) << s.why();
    return s.value;
  }
  std::vector<Frame> frames;
};

struct NatRig {
  explicit NatRig(NatParams p = defaults()) : nat(p, 99) {
    nat.attach(Nat::kInside, inside);
    nat.attach(Nat::kOutside, outside);
  }
  static NatParams defaults() {
    NatParams p;
    p.public_addr = kPublic;
    return p;
  }
  // Sends a SYN from inside with TS options (so the checksum covers options too).
  wire::SegmentView out(std::uint32_t src, std::uint16_t sport, std::uint16_t dport = 80,
                        std::uint64_t now = 0) {
    auto s = spec(src, sport, kServer, dport, tf::kSyn, 1000);
    s.tcp.options.mss = 1460;
    s.tcp.options.ts = wire::TcpTimestamps{src, 0};
    const std::size_t before = outside.frames.size();
    nat.receive(Nat::kInside, build_frame(s, payload), now);
    EXPECT_EQ(outside.frames.size(), before + 1);
    return outside.last();
  }
  // A reply from the server to the public side.
  void reply(std::uint16_t outer_port, std::uint16_t sport = 80, std::uint64_t now = 0) {
    nat.receive(Nat::kOutside,
                build_frame(spec(kServer, sport, kPublic, outer_port, tf::kSyn | tf::kAck, 7, 1001),
                            payload),
                now);
  }
  Nat nat;
  Capture inside, outside;
  std::vector<std::uint8_t> payload{1, 2, 3};  // odd length: checksum edge
};

TEST(Nat, KeepsTheSourcePortAndRewritesTheAddressWithValidChecksums) {
  NatRig rig;
  const auto s = rig.out(kClient1, 40000);  // parse_segment verified both checksums
  EXPECT_EQ(s.src_addr, kPublic);
  EXPECT_EQ(s.src_port, 40000);
  EXPECT_EQ(s.dst_addr, kServer);
  EXPECT_EQ(s.dst_port, 80);
  ASSERT_TRUE(s.options.ts.has_value());
  EXPECT_EQ(s.options.ts->tsval, kClient1);  // timestamps pass untouched
  EXPECT_EQ(s.payload.size(), 3u);
  EXPECT_EQ(rig.nat.counters().port_remapped, 0u);
}

TEST(Nat, IncrementalChecksumsMatchARebuiltFrameBitForBit) {
  NatRig rig;
  rig.out(kClient1, 40000);
  rig.out(kClient2, 40000);  // remapped port: both address and port words change
  const auto got = rig.outside.last();
  auto s = spec(kPublic, got.src_port, kServer, 80, tf::kSyn, 1000);
  s.tcp.options.mss = 1460;
  s.tcp.options.ts = wire::TcpTimestamps{kClient2, 0};
  EXPECT_EQ(rig.outside.frames.back(), build_frame(s, rig.payload));
  // And the way back.
  rig.reply(got.src_port);
  EXPECT_EQ(
      rig.inside.frames.back(),
      build_frame(spec(kServer, 80, kClient2, 40000, tf::kSyn | tf::kAck, 7, 1001), rig.payload));
}

TEST(Nat, TwoInnerHostsWithTheSameSourcePortGetDistinctOuterPorts) {
  NatRig rig;
  const auto a = rig.out(kClient1, 40000);
  const auto b = rig.out(kClient2, 40000);
  EXPECT_EQ(a.src_port, 40000);
  EXPECT_NE(b.src_port, 40000);
  EXPECT_EQ(b.src_addr, kPublic);
  EXPECT_GE(b.src_port, 1024);
  EXPECT_EQ(rig.nat.counters().port_remapped, 1u);
  EXPECT_EQ(rig.nat.size(), 2u);
  // A later segment of each flow reuses its mapping.
  EXPECT_EQ(rig.out(kClient1, 40000).src_port, a.src_port);
  EXPECT_EQ(rig.out(kClient2, 40000).src_port, b.src_port);
  EXPECT_EQ(rig.nat.counters().mappings_created, 2u);
}

TEST(Nat, SameSourcePortToDifferentDestinationsKeepsThePortLikeLinux) {
  NatRig rig;
  EXPECT_EQ(rig.out(kClient1, 40000, 80).src_port, 40000);
  EXPECT_EQ(rig.out(kClient2, 40000, 443).src_port, 40000);
}

TEST(Nat, RepliesReachTheRightInnerHostWithValidChecksums) {
  NatRig rig;
  const auto a = rig.out(kClient1, 40000);
  const auto b = rig.out(kClient2, 40000);
  rig.reply(b.src_port);
  auto got = rig.inside.last();
  EXPECT_EQ(got.dst_addr, kClient2);
  EXPECT_EQ(got.dst_port, 40000);
  EXPECT_EQ(got.src_addr, kServer);
  EXPECT_TRUE(got.has(tf::kSyn | tf::kAck));
  rig.reply(a.src_port);
  got = rig.inside.last();
  EXPECT_EQ(got.dst_addr, kClient1);
  EXPECT_EQ(got.dst_port, 40000);
  EXPECT_EQ(rig.nat.counters().translated_in, 2u);
}

TEST(Nat, UnsolicitedAndMalformedFramesAreDroppedAndCounted) {
  NatRig rig;
  Timeline tl;
  rig.nat.set_timeline(&tl);
  rig.reply(5555);
  EXPECT_EQ(rig.nat.counters().dropped_no_mapping, 1u);
  EXPECT_TRUE(rig.inside.frames.empty());
  Frame bad = build_frame(spec(kClient1, 40000, kServer, 80, tf::kSyn));
  bad[bad.size() - 1] ^= 1;  // TCP checksum no longer matches
  rig.nat.receive(Nat::kInside, bad, 0);
  rig.nat.receive(Nat::kInside, Frame(3, 0), 0);
  EXPECT_EQ(rig.nat.counters().dropped_unparseable, 2u);
  EXPECT_TRUE(rig.outside.frames.empty());
  ASSERT_EQ(tl.lines().size(), 3u);
  EXPECT_NE(tl.lines()[0].find("[nat drop: no mapping]"), std::string::npos) << tl.lines()[0];
}

TEST(Nat, MappingTableIsBounded) {
  NatParams p = NatRig::defaults();
  p.max_mappings = 3;
  NatRig rig(p);
  for (std::uint16_t port = 1; port <= 3; ++port) rig.out(kClient1, 40000 + port);
  rig.nat.receive(Nat::kInside, build_frame(spec(kClient1, 50000, kServer, 80, tf::kSyn)), 1);
  EXPECT_EQ(rig.nat.counters().dropped_table_full, 1u);
  EXPECT_EQ(rig.outside.frames.size(), 3u);
  EXPECT_EQ(rig.nat.size(), 3u);
}

TEST(Nat, IdleMappingsTimeOutAndFreeTheirSlot) {
  NatParams p = NatRig::defaults();
  p.max_mappings = 1;
  p.timeout_us = 1000;
  NatRig rig(p);
  const auto a = rig.out(kClient1, 40000, 80, 0);
  EXPECT_TRUE(rig.nat.lookup(kClient1, 40000, kServer, 80, 999).has_value());
  // Traffic in either direction refreshes the mapping.
  rig.reply(a.src_port, 80, 900);
  EXPECT_TRUE(rig.nat.lookup(kClient1, 40000, kServer, 80, 1899).has_value());
  EXPECT_FALSE(rig.nat.lookup(kClient1, 40000, kServer, 80, 1900).has_value());
  // An expired mapping no longer translates replies...
  rig.reply(a.src_port, 80, 1900);
  EXPECT_EQ(rig.nat.counters().dropped_no_mapping, 1u);
  // ...and a new flow can take its place in the full table.
  EXPECT_EQ(rig.out(kClient2, 40000, 80, 2000).src_port, 40000);
  EXPECT_EQ(rig.nat.size(), 1u);
  EXPECT_GE(rig.nat.counters().mappings_expired, 1u);
  EXPECT_EQ(rig.nat.expire(5000), 1u);
  EXPECT_EQ(rig.nat.size(), 0u);
}

TEST(Nat, ExhaustedPortRangeDropsNewFlows) {
  NatParams p = NatRig::defaults();
  p.port_min = 2000;
  p.port_max = 2001;
  NatRig rig(p);
  std::set<std::uint16_t> ports;
  ports.insert(rig.out(kClient1, 40000).src_port);
  ports.insert(rig.out(kClient2, 40000).src_port);
  ports.insert(rig.out(testing::kServer + 7, 40000).src_port);
  EXPECT_EQ(ports.size(), 3u);
  rig.nat.receive(Nat::kInside, build_frame(spec(kClient1 + 9, 40000, kServer, 80, tf::kSyn)), 0);
  EXPECT_EQ(rig.nat.counters().dropped_no_port, 1u);
}

TEST(Nat, WorksBetweenLinksInASimulation) {
  Simulator sim(3);
  NatParams p = NatRig::defaults();
  Nat nat(p, sim.seed());
  ScriptedHost c1("c1"), server("s");
  LinkParams lp;
  lp.delay_us = 100;
  DuplexLink inner(sim, lp, 1, "c1-nat"), outer(sim, lp, 2, "nat-s");
  inner.connect(c1, ScriptedHost::kPort, nat, Nat::kInside);
  outer.connect(nat, Nat::kOutside, server, ScriptedHost::kPort);
  sim.add_node(c1);
  sim.add_node(server);
  server.set_responder([](ScriptedHost& self, const ScriptedHost::Received& got) {
    auto s = wire::parse_segment(got.frame);
    ASSERT_TRUE(s.ok());
    self.send_now(got.at_us, spec(s->dst_addr, s->dst_port, s->src_addr, s->src_port,
                                  tf::kSyn | tf::kAck, 7, s->seq + 1));
  });
  c1.send_at(0, spec(kClient1, 40000, kServer, 80, tf::kSyn, 1000));
  sim.run();
  ASSERT_EQ(server.received().size(), 1u);
  EXPECT_EQ(server.received()[0].at_us, 200u);
  ASSERT_EQ(c1.received().size(), 1u);
  EXPECT_EQ(c1.received()[0].at_us, 400u);
  auto back = wire::parse_segment(c1.received()[0].frame);
  ASSERT_TRUE(back.ok()) << back.why();
  EXPECT_EQ(back->dst_addr, kClient1);
  EXPECT_EQ(back->ack, 1001u);
}

// The recycle-nat topology (SPEC §5.3) without a TCP stack: two clients with the same source
// port and unrelated timestamp clocks behind one NAT; the server sees one address, two ports,
// and the clients' own TS values; each SYN-ACK finds its way back to the right client.
TEST(Nat, TwoClientsBehindOneNatThroughASwitch) {
  Simulator sim(0);
  Timeline tl;
  ScriptedHost c1("c1"), c2("c2"), server("s");
  Switch lan;
  Nat nat(NatRig::defaults(), sim.seed());
  LinkParams lp;
  lp.delay_us = 50;
  DuplexLink l1(sim, lp, 1, "c1"), l2(sim, lp, 2, "c2"), up(sim, lp, 3, "lan-nat"),
      wan(sim, lp, 4, "nat-s");
  l1.connect(c1, ScriptedHost::kPort, lan, 1);
  l2.connect(c2, ScriptedHost::kPort, lan, 2);
  up.connect(lan, 0, nat, Nat::kInside);
  wan.connect(nat, Nat::kOutside, server, ScriptedHost::kPort);
  Tap tap(tl);
  tap.connect(server);
  wan.ab.connect(tap);
  lan.route(kClient1, 1);
  lan.route(kClient2, 2);
  lan.set_default(0);
  for (Node* n : {static_cast<Node*>(&c1), static_cast<Node*>(&c2), static_cast<Node*>(&server)}) {
    sim.add_node(*n);
  }
  server.set_responder([](ScriptedHost& self, const ScriptedHost::Received& got) {
    auto s = wire::parse_segment(got.frame);
    ASSERT_TRUE(s.ok());
    self.send_now(got.at_us, spec(s->dst_addr, s->dst_port, s->src_addr, s->src_port,
                                  tf::kSyn | tf::kAck, 7, s->seq + 1));
  });
  auto syn = [](std::uint32_t src, std::uint32_t isn, std::uint32_t tsval) {
    auto s = spec(src, 40000, kServer, 80, tf::kSyn, isn);
    s.tcp.options.ts = wire::TcpTimestamps{tsval, 0};
    return s;
  };
  c1.send_at(0, syn(kClient1, 100, 5'000'000));
  c2.send_at(1000, syn(kClient2, 200, 10));
  sim.run();

  ASSERT_EQ(server.received().size(), 2u);
  auto s1 = wire::parse_segment(server.received()[0].frame);
  auto s2 = wire::parse_segment(server.received()[1].frame);
  ASSERT_TRUE(s1.ok() && s2.ok());
  EXPECT_EQ(s1->src_addr, kPublic);
  EXPECT_EQ(s2->src_addr, kPublic);
  EXPECT_EQ(s1->src_port, 40000);
  EXPECT_NE(s2->src_port, 40000);
  EXPECT_EQ(s1->options.ts->tsval, 5'000'000u);
  EXPECT_EQ(s2->options.ts->tsval, 10u);  // "behind": what tw_recycle would reject
  ASSERT_EQ(c1.received().size(), 1u);
  ASSERT_EQ(c2.received().size(), 1u);
  EXPECT_EQ(wire::parse_segment(c1.received()[0].frame)->ack, 101u);
  EXPECT_EQ(wire::parse_segment(c2.received()[0].frame)->ack, 201u);
  EXPECT_EQ(wire::parse_segment(c2.received()[0].frame)->dst_port, 40000);
  EXPECT_EQ(lan.counters().forwarded, 4u);
  ASSERT_EQ(tl.lines().size(), 2u);
  EXPECT_EQ(tl.lines()[0],
            "0.000150 198.19.0.1.40000 > 198.18.0.1.80: Flags [S], seq 100, win 65535, "
            "options [nop,nop,TS val 5000000 ecr 0], length 0");
}

TEST(Switch, DropsUnroutableAndHairpinFrames) {
  Switch sw;
  testing::Recorder r;
  sw.attach(1, r);
  sw.route(kServer, 1);
  sw.receive(0, testing::numbered(1), 0);  // to kServer: forwarded
  sw.receive(1, testing::numbered(2), 0);  // would go back out of port 1
  sw.receive(0, Frame(10, 0), 0);          // runt
  sw.route(kServer, 5);                    // nothing attached there
  sw.receive(0, testing::numbered(3), 0);
  EXPECT_EQ(r.hits.size(), 1u);
  EXPECT_EQ(sw.counters().forwarded, 1u);
  EXPECT_EQ(sw.counters().dropped_hairpin, 1u);
  EXPECT_EQ(sw.counters().dropped_no_route, 2u);
}

}  // namespace
}  // namespace twtcp::sim
