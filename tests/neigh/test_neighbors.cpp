// tests/neigh/test_neighbors.cpp: lib/neigh as a DPDK program uses it: ARP answered and
// resolved, frames held and released, retries and give-up on a virtual clock, bounds, ping.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "neigh/neighbors.hpp"
#include "wire/arp.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"

namespace twtcp::neigh {
namespace {

constexpr std::uint32_t kUs = 0xC6120001;       // 198.18.0.1/24
constexpr std::uint32_t kPeer = 0xC6120002;     // 198.18.0.2, on-link
constexpr std::uint32_t kGateway = 0xC61200FE;  // 198.18.0.254
constexpr std::uint32_t kFar = 0xC6130005;      // 198.19.0.5, off-link
constexpr wire::MacAddr kOurMac{2, 0, 0, 0, 0, 1};
constexpr wire::MacAddr kPeerMac{2, 0, 0, 0, 0, 2};
constexpr wire::MacAddr kGwMac{2, 0, 0, 0, 0, 0xfe};
constexpr std::uint64_t kSec = 1'000'000;

struct Capture : TxSink {
  std::vector<std::vector<std::uint8_t>> frames;
  void transmit(std::span<const std::uint8_t> f) override {
    frames.emplace_back(f.begin(), f.end());
  }
};

NeighborConfig config() {
  NeighborConfig c;
  c.addr = kUs;
  c.prefix_len = 24;
  c.gateway = kGateway;
  c.mac = kOurMac;
  return c;
}

// An Ethernet+IPv4 frame to `dst` with a 4-byte marker payload (protocol 6, not a valid TCP
// segment: this layer does not look past the IP destination).
std::vector<std::uint8_t> ip_frame(std::uint32_t dst, std::uint32_t marker) {
  std::vector<std::uint8_t> f(14 + 20 + 4);
  wire::write_ethernet(f, wire::MacAddr{}, kOurMac, wire::kEtherTypeIpv4);
  wire::Ipv4Fields ip;
  ip.src = kUs;
  ip.dst = dst;
  wire::write_ipv4(std::span(f).subspan(14), ip, 24);
  wire::store_be32(f.data() + 34, marker);
  return f;
}

std::vector<std::uint8_t> arp(wire::ArpOp op, const wire::MacAddr& smac, std::uint32_t sip,
                              std::uint32_t tip) {
  std::vector<std::uint8_t> f(60);
  f.resize(wire::build_arp_frame(
      f, {op, smac, sip, op == wire::ArpOp::kReply ? kOurMac : wire::MacAddr{}, tip}));
  return f;
}

bool is_arp_request_for(const std::vector<std::uint8_t>& f, std::uint32_t ip) {
  const auto a = wire::parse_arp_frame(f);
  return a && a->op() == wire::ArpOp::kRequest && a->target_ip() == ip && a->sender_ip() == kUs &&
         a->sender_mac() == kOurMac && wire::load_mac(f.data()) == wire::kBroadcastMac;
}

TEST(Neighbors, AnswersArpForOurAddressOnlyAndLearnsTheAsker) {
  Capture out;
  Neighbors n(config(), out);
  EXPECT_TRUE(n.input(arp(wire::ArpOp::kRequest, kPeerMac, kPeer, kUs), 0));
  ASSERT_EQ(out.frames.size(), 1u);
  const auto reply = wire::parse_arp_frame(out.frames[0]);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->op(), wire::ArpOp::kReply);
  EXPECT_EQ(reply->sender_mac(), kOurMac);
  EXPECT_EQ(reply->sender_ip(), kUs);
  EXPECT_EQ(reply->target_mac(), kPeerMac);
  EXPECT_EQ(wire::load_mac(out.frames[0].data()), kPeerMac);
  EXPECT_EQ(n.lookup(kPeer), kPeerMac);
  // Someone asking for another address: consumed (ARP never reaches the Stack), unanswered.
  EXPECT_TRUE(n.input(arp(wire::ArpOp::kRequest, kGwMac, kGateway, kPeer), 0));
  EXPECT_EQ(out.frames.size(), 1u);
  EXPECT_FALSE(n.lookup(kGateway).has_value());
  EXPECT_EQ(n.counters().arp_requests_in, 1u);
  EXPECT_EQ(n.counters().arp_replies_out, 1u);
}

TEST(Neighbors, HoldsFramesWhileResolvingThenSendsThemInOrderToTheResolvedMac) {
  Capture out;
  Neighbors n(config(), out);
  n.transmit(ip_frame(kPeer, 1), 0);
  n.transmit(ip_frame(kPeer, 2), 10);
  ASSERT_EQ(out.frames.size(), 1u);  // one probe, frames held
  EXPECT_TRUE(is_arp_request_for(out.frames[0], kPeer));
  EXPECT_EQ(n.counters().tx_held, 2u);
  EXPECT_TRUE(n.input(arp(wire::ArpOp::kReply, kPeerMac, kPeer, kUs), 500));
  ASSERT_EQ(out.frames.size(), 3u);
  for (int i : {1, 2}) {
    EXPECT_EQ(wire::load_mac(out.frames[i].data()), kPeerMac);
    EXPECT_EQ(wire::load_mac(out.frames[i].data() + 6), kOurMac);
    EXPECT_EQ(wire::load_be32(out.frames[i].data() + 34), static_cast<std::uint32_t>(i));
  }
  n.transmit(ip_frame(kPeer, 3), 600);  // resolved: straight out
  ASSERT_EQ(out.frames.size(), 4u);
  EXPECT_EQ(wire::load_mac(out.frames[3].data()), kPeerMac);
  EXPECT_EQ(n.next_wakeup(), UINT64_MAX);
}

TEST(Neighbors, OffLinkGoesToTheGatewayAndWithoutGatewayIsDropped) {
  Capture out;
  Neighbors n(config(), out);
  n.transmit(ip_frame(kFar, 7), 0);
  ASSERT_EQ(out.frames.size(), 1u);
  EXPECT_TRUE(is_arp_request_for(out.frames[0], kGateway));
  n.input(arp(wire::ArpOp::kReply, kGwMac, kGateway, kUs), 1);
  ASSERT_EQ(out.frames.size(), 2u);
  EXPECT_EQ(wire::load_mac(out.frames[1].data()), kGwMac);

  NeighborConfig c = config();
  c.gateway = 0;
  Capture out2;
  Neighbors lonely(c, out2);
  lonely.transmit(ip_frame(kFar, 7), 0);
  EXPECT_TRUE(out2.frames.empty());
  EXPECT_EQ(lonely.counters().tx_dropped_no_route, 1u);
}

TEST(Neighbors, RetriesEverySecondThenGivesUpAndDropsHeldFrames) {
  Capture out;
  Neighbors n(config(), out);
  n.transmit(ip_frame(kPeer, 1), 0);
  EXPECT_EQ(n.next_wakeup(), 1 * kSec);
  n.advance(kSec - 1);
  EXPECT_EQ(out.frames.size(), 1u);
  n.advance(1 * kSec);
  n.advance(2 * kSec);
  EXPECT_EQ(out.frames.size(), 3u);  // mcast_solicit = 3 probes
  for (const auto& f : out.frames) EXPECT_TRUE(is_arp_request_for(f, kPeer));
  n.advance(3 * kSec);
  EXPECT_EQ(out.frames.size(), 3u);
  EXPECT_EQ(n.counters().tx_dropped_unresolved, 1u);
  EXPECT_EQ(n.size(), 0u);
  EXPECT_EQ(n.next_wakeup(), UINT64_MAX);
  // A late reply does not create an entry (it was not asked for any more).
  n.input(arp(wire::ArpOp::kReply, kPeerMac, kPeer, kUs), 4 * kSec);
  EXPECT_FALSE(n.lookup(kPeer).has_value());
}

TEST(Neighbors, HeldFramesAreBoundedPerNextHopAndInAll) {
  NeighborConfig c = config();
  c.max_pending = 5;
  c.max_pending_per_entry = 3;
  Capture out;
  Neighbors n(c, out);
  for (std::uint32_t i = 0; i < 4; ++i) n.transmit(ip_frame(kPeer, i), 0);
  for (std::uint32_t i = 0; i < 4; ++i) n.transmit(ip_frame(kPeer + 1, i), 0);
  EXPECT_EQ(n.counters().tx_held, 5u);
  EXPECT_EQ(n.counters().tx_dropped_hold_full, 3u);
}

TEST(Neighbors, FullTableEvictsTheLeastRecentlyUsedResolvedEntry) {
  NeighborConfig c = config();
  c.max_entries = 4;
  Capture out;
  Neighbors n(c, out);
  for (std::uint32_t h = 1; h <= 4; ++h) {
    n.transmit(ip_frame(kUs + h, h), h);
    n.input(arp(wire::ArpOp::kReply, wire::MacAddr{2, 0, 0, 0, 1, static_cast<std::uint8_t>(h)},
                kUs + h, kUs),
            h);
  }
  n.transmit(ip_frame(kUs + 1, 9), 100);  // host 1 used recently; host 2 is now the oldest
  n.transmit(ip_frame(kUs + 5, 5), 200);
  n.input(arp(wire::ArpOp::kReply, kPeerMac, kUs + 5, kUs), 201);
  EXPECT_EQ(n.counters().evictions, 1u);
  EXPECT_FALSE(n.lookup(kUs + 2).has_value());
  EXPECT_TRUE(n.lookup(kUs + 1).has_value());
  EXPECT_TRUE(n.lookup(kUs + 3).has_value());
  EXPECT_EQ(n.size(), 4u);
  // Many inserts and evictions keep every remaining entry findable (probe-run deletion).
  for (std::uint32_t h = 6; h < 250; ++h) {  // all inside 198.18.0.0/24
    n.transmit(ip_frame(kUs + h, h), 1000 + h);
    n.input(arp(wire::ArpOp::kReply, kPeerMac, kUs + h, kUs), 1000 + h);
    ASSERT_TRUE(n.lookup(kUs + h).has_value()) << h;
    ASSERT_TRUE(n.lookup(kUs + h - 1).has_value()) << h;
  }
}

TEST(Neighbors, ReconfirmsAStaleEntryWhileStillSending) {
  NeighborConfig c = config();
  c.reconfirm_us = 10 * kSec;
  Capture out;
  Neighbors n(c, out);
  n.input(arp(wire::ArpOp::kRequest, kPeerMac, kPeer, kUs), 0);
  out.frames.clear();
  n.transmit(ip_frame(kPeer, 1), 11 * kSec);
  ASSERT_EQ(out.frames.size(), 2u);  // a probe, and the frame to the known MAC
  EXPECT_TRUE(is_arp_request_for(out.frames[0], kPeer));
  EXPECT_EQ(wire::load_mac(out.frames[1].data()), kPeerMac);
  n.advance(12 * kSec);
  n.advance(13 * kSec);
  n.advance(14 * kSec);  // nobody answered three probes: the entry goes
  EXPECT_FALSE(n.lookup(kPeer).has_value());
}

std::vector<std::uint8_t> echo_request(std::uint16_t id, std::uint16_t seq, std::size_t data) {
  std::vector<std::uint8_t> f(14 + 20 + 8 + data);
  wire::write_ethernet(f, kOurMac, kPeerMac, wire::kEtherTypeIpv4);
  wire::Ipv4Fields ip;
  ip.src = kPeer;
  ip.dst = kUs;
  ip.protocol = 1;
  wire::write_ipv4(std::span(f).subspan(14), ip, static_cast<std::uint16_t>(28 + data));
  std::uint8_t* icmp = f.data() + 34;
  icmp[0] = 8;
  wire::store_be16(icmp + 4, id);
  wire::store_be16(icmp + 6, seq);
  for (std::size_t i = 0; i < data; ++i) icmp[8 + i] = static_cast<std::uint8_t>(i * 7);
  wire::store_be16(icmp + 2, wire::internet_checksum({icmp, 8 + data}));
  return f;
}

TEST(Neighbors, AnswersPingWithValidChecksumsAndTheSameData) {
  Capture out;
  Neighbors n(config(), out);
  const auto req = echo_request(0x1234, 7, 56);
  EXPECT_TRUE(n.input(req, 0));
  ASSERT_EQ(out.frames.size(), 1u);
  const auto& r = out.frames[0];
  EXPECT_EQ(wire::load_mac(r.data()), kPeerMac);
  const auto ip = wire::parse_ipv4(std::span(r).subspan(14));  // verifies the header checksum
  ASSERT_TRUE(ip) << ip.why();
  EXPECT_EQ(ip->src(), kUs);
  EXPECT_EQ(ip->dst(), kPeer);
  const auto icmp = ip->payload();
  ASSERT_EQ(icmp.size(), 64u);
  EXPECT_EQ(icmp[0], 0);  // echo reply
  EXPECT_EQ(wire::internet_checksum(icmp), 0);
  EXPECT_EQ(0, std::memcmp(icmp.data() + 4, req.data() + 38, 60));  // id, seq, data
  // Broken checksum: consumed, not answered. Echo for another address: not ours.
  auto bad = req;
  bad[40] ^= 1;
  EXPECT_TRUE(n.input(bad, 0));
  auto other = echo_request(1, 1, 8);
  wire::store_be32(other.data() + 30, kPeer);
  EXPECT_FALSE(n.input(other, 0));  // (bad IP checksum now, too: not ours either way)
  EXPECT_EQ(out.frames.size(), 1u);
  EXPECT_EQ(n.counters().icmp_echo_replies, 1u);
}

TEST(Neighbors, TcpAndGarbageAreNotConsumed) {
  Capture out;
  Neighbors n(config(), out);
  EXPECT_FALSE(n.input(ip_frame(kUs, 1), 0));
  EXPECT_FALSE(n.input(std::vector<std::uint8_t>(5, 0xff), 0));
  std::vector<std::uint8_t> short_arp(20, 0);
  wire::store_be16(short_arp.data() + 12, wire::kEtherTypeArp);
  EXPECT_TRUE(n.input(short_arp, 0));  // truncated ARP: ours, counted, ignored
  EXPECT_EQ(n.counters().arp_ignored, 1u);
  n.transmit(std::vector<std::uint8_t>(10, 0), 0);
  EXPECT_EQ(n.counters().tx_dropped_malformed, 1u);
  EXPECT_TRUE(out.frames.empty());
}

TEST(Neighbors, StackSinkSendsAtTheLastTime) {
  Capture out;
  Neighbors n(config(), out);
  n.advance(5 * kSec);
  n.stack_sink().transmit(ip_frame(kPeer, 1));
  EXPECT_EQ(n.next_wakeup(), 6 * kSec);  // the probe was sent at 5 s
}

}  // namespace
}  // namespace twtcp::neigh
