// tests/tcp/test_neigh_lending.cpp: a Stack on lib/neigh's stack_sink() on a sink that lends
// buffers and offloads checksums, as in twtcp-server/-client (Stack -> Neighbors -> mbufs).
// The offloads pass through; a frame to a resolved next hop is built in the lent buffer and
// committed with its MACs written in place (no transmit()); one that must wait for ARP is
// held as a copy, its buffer given back (tx_commit(0)) before the ARP probe goes out, and
// released through transmit() with the resolved MAC.
#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <vector>

#include "neigh/neighbors.hpp"
#include "twtcp/config.hpp"
#include "twtcp/stack.hpp"
#include "wire/arp.hpp"
#include "wire/bytes.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/segment.hpp"

namespace twtcp {
namespace {

constexpr std::uint32_t kUs = 0xC6120001;    // 198.18.0.1/24
constexpr std::uint32_t kPeer = 0xC6120002;  // 198.18.0.2
constexpr wire::MacAddr kOurMac{2, 0, 0, 0, 0, 1};
constexpr wire::MacAddr kPeerMac{2, 0, 0, 0, 0, 2};

struct Out {
  std::vector<std::uint8_t> bytes;
  bool committed = false;  // came through tx_commit (built in place), else transmit()
};

struct LendingSink : TxSink {
  std::vector<std::uint8_t> buf = std::vector<std::uint8_t>(4096);
  bool open = false;
  std::uint64_t aborts = 0;
  std::vector<Out> out;
  [[nodiscard]] ChecksumOffloads offloads() const noexcept override { return {true, true}; }
  void transmit(std::span<const std::uint8_t> f) override {
    EXPECT_FALSE(open) << "a frame sent while a buffer is lent";
    out.push_back({{f.begin(), f.end()}, false});
  }
  std::span<std::uint8_t> tx_begin(std::size_t max_len) override {
    EXPECT_FALSE(open);
    if (max_len > buf.size()) return {};
    open = true;
    return buf;
  }
  void tx_commit(std::size_t len) override {
    EXPECT_TRUE(open);
    open = false;
    if (len == 0) {
      ++aborts;
      return;
    }
    out.push_back({{buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(len)}, true});
  }
};

std::vector<std::uint8_t> arp_reply() {
  std::vector<std::uint8_t> f(60);
  f.resize(wire::build_arp_frame(f, {wire::ArpOp::kReply, kPeerMac, kPeer, kOurMac, kUs}));
  return f;
}

bool is_tcp(const Out& o) {
  return o.bytes.size() >= 54 && wire::load_be16(&o.bytes[12]) == wire::kEtherTypeIpv4;
}

TEST(NeighLending, StackFramesAreBuiltInTheLentBufferAndHeldOnesAreCopies) {
  LendingSink dev;
  neigh::NeighborConfig nc;
  nc.addr = kUs;
  nc.mac = kOurMac;
  neigh::Neighbors n(nc, dev);
  EXPECT_TRUE(n.stack_sink().offloads().ipv4 && n.stack_sink().offloads().tcp);

  Config cfg;
  cfg.max_connections = 16;
  cfg.flow_table_capacity = 256;
  cfg.peer_table_size = 16;
  cfg.random_seed = 7;
  Identity id;
  id.addr = kUs;
  id.mac = kOurMac;  // peer_mac stays zero: lib/neigh writes the next hop's
  Stack stack(cfg, id, n.stack_sink());

  // The SYN: 198.18.0.2 is unknown, so it is held and an ARP probe goes out.
  ASSERT_TRUE(stack.connect(kPeer, 80).ok());
  EXPECT_EQ(dev.aborts, 1u);
  ASSERT_EQ(dev.out.size(), 1u);
  EXPECT_FALSE(is_tcp(dev.out[0])) << "the ARP probe";
  EXPECT_EQ(n.counters().tx_held, 1u);

  // The reply releases the held SYN through transmit(), with the resolved MAC.
  EXPECT_TRUE(n.input(arp_reply(), 10));
  ASSERT_EQ(dev.out.size(), 2u);
  const Out& syn = dev.out[1];
  ASSERT_TRUE(is_tcp(syn));
  EXPECT_FALSE(syn.committed);
  EXPECT_EQ(wire::load_mac(syn.bytes.data()), kPeerMac);
  EXPECT_EQ(wire::load_mac(syn.bytes.data() + 6), kOurMac);

  // Now resolved: the next frame (a retransmitted SYN after the initial RTO) is built in
  // place and committed as it is, MACs written there, checksums left to the "device".
  stack.advance(1'100'000);
  n.advance(1'100'000);
  ASSERT_EQ(dev.out.size(), 3u);
  const Out& again = dev.out[2];
  ASSERT_TRUE(is_tcp(again));
  EXPECT_TRUE(again.committed);
  EXPECT_EQ(wire::load_mac(again.bytes.data()), kPeerMac);
  EXPECT_EQ(wire::load_mac(again.bytes.data() + 6), kOurMac);
  const auto tcp_len = static_cast<std::uint16_t>(again.bytes.size() - 34);
  EXPECT_EQ(wire::load_be16(&again.bytes[24]), 0) << "IPv4 checksum left to the device";
  EXPECT_EQ(wire::load_be16(&again.bytes[50]), wire::tcp_pseudo_header_sum(kUs, kPeer, tcp_len));
  EXPECT_EQ(n.counters().tx_sent, 2u);
  EXPECT_EQ(dev.aborts, 1u);
}

TEST(NeighLending, FramesThatCannotGoAreGivenBackAndCounted) {
  LendingSink dev;
  neigh::NeighborConfig nc;
  nc.addr = kUs;
  nc.mac = kOurMac;
  nc.gateway = 0;  // off-link destinations have no route
  neigh::Neighbors n(nc, dev);
  Config cfg;
  cfg.max_connections = 16;
  cfg.flow_table_capacity = 256;
  cfg.peer_table_size = 16;
  Identity id;
  id.addr = kUs;
  id.mac = kOurMac;
  Stack stack(cfg, id, n.stack_sink());
  ASSERT_TRUE(stack.connect(0x0A000001, 80).ok());  // 10.0.0.1: off-link
  EXPECT_EQ(dev.aborts, 1u);
  EXPECT_TRUE(dev.out.empty());
  EXPECT_EQ(n.counters().tx_dropped_no_route, 1u);
}

}  // namespace
}  // namespace twtcp
