// tests/dpdk/test_soft_rss.cpp: SoftRss, the software RSS that spreads one RX queue over
// several workers. Each IPv4 TCP frame reaches the worker whose RssSteering claims its tuple
// (so a connect() steered to a worker gets its answers there), both directions of a flow map
// to one worker, ARP replies reach every worker with the mbuf shared, other frames stay on
// worker 0, and a full ring drops and counts instead of blocking.
#include <gtest/gtest.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "dpdk/eal.hpp"
#include "dpdk/soft_rss.hpp"

namespace twtcp::dpdk {
namespace {

Eal& eal() {
  static Eal e({"test_soft_rss", "-l", "0", "--no-huge", "--no-pci", "--no-shconf", "-m", "64",
                "--log-level", "error"});
  return e;
}

rte_mempool* pool() {
  static rte_mempool* p = rte_pktmbuf_pool_create("soft_rss_test", 8191, 0, 0,
                                                  RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  return p;
}

std::vector<std::uint8_t> tcp_frame(std::uint32_t src, std::uint32_t dst, std::uint16_t sport,
                                    std::uint16_t dport) {
  std::vector<std::uint8_t> f(14 + 20 + 20, 0);
  f[12] = 0x08;  // IPv4
  std::uint8_t* ip = f.data() + 14;
  ip[0] = 0x45;
  ip[9] = 6;
  for (int i = 0; i < 4; ++i) {
    ip[12 + i] = static_cast<std::uint8_t>(src >> (24 - 8 * i));
    ip[16 + i] = static_cast<std::uint8_t>(dst >> (24 - 8 * i));
  }
  std::uint8_t* tcp = ip + 20;
  tcp[0] = static_cast<std::uint8_t>(sport >> 8);
  tcp[1] = static_cast<std::uint8_t>(sport);
  tcp[2] = static_cast<std::uint8_t>(dport >> 8);
  tcp[3] = static_cast<std::uint8_t>(dport);
  return f;
}

std::vector<std::uint8_t> arp_frame(std::uint16_t opcode) {
  std::vector<std::uint8_t> f(42, 0);
  f[12] = 0x08;
  f[13] = 0x06;
  f[14 + 6] = static_cast<std::uint8_t>(opcode >> 8);
  f[14 + 7] = static_cast<std::uint8_t>(opcode);
  return f;
}

rte_mbuf* mbuf_of(const std::vector<std::uint8_t>& f) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool());
  EXPECT_NE(m, nullptr);
  std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(f.size())), f.data(), f.size());
  return m;
}

class SoftRssTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(eal().ok()) << eal().error();
    ASSERT_NE(pool(), nullptr);
  }
  static std::string unique_name() {
    static int n = 0;
    return "srss" + std::to_string(n++);
  }
};

TEST_F(SoftRssTest, EachTcpFrameReachesTheWorkerWhoseSteeringClaimsIt) {
  std::string err;
  auto rss = SoftRss::create(unique_name(), 3, 1024, &err);
  ASSERT_TRUE(rss) << err;
  std::mt19937 rng(5);
  std::map<std::uint16_t, int> per_worker;
  for (int i = 0; i < 600; ++i) {
    const std::uint32_t peer = 0xc6120002u + (rng() % 4), us = 0xc6120001u;
    const auto peer_port = static_cast<std::uint16_t>(1024 + rng() % 60000);
    const auto our_port = static_cast<std::uint16_t>(rng() % 2 ? 80 : 32768 + rng() % 20000);
    // The segment travels peer -> us; the worker that connect()ed with our_port is the one
    // whose steering says ours() for the key seen from our side.
    rte_mbuf* m = mbuf_of(tcp_frame(peer, us, peer_port, our_port));
    rte_mbuf* mine[1];
    const unsigned kept = rss->dispatch(&m, 1, 0, mine);
    std::uint16_t got = 0;
    if (kept == 0) {
      for (std::uint16_t w = 1; w < 3; ++w) {
        rte_mbuf* out = nullptr;
        if (rss->receive(w, &out, 1) == 1) {
          ASSERT_EQ(out, m);
          got = w;
        }
      }
      ASSERT_NE(got, 0) << "frame neither kept nor in a ring";
    } else {
      ASSERT_EQ(mine[0], m);
    }
    rte_pktmbuf_free(m);
    const flow::FlowKeyV4 key{us, peer, our_port, peer_port};
    for (std::uint16_t w = 0; w < 3; ++w) EXPECT_EQ(rss->steering(w).ours(key), w == got);
    // And the opposite direction of the same flow maps to the same worker (symmetric key).
    EXPECT_EQ(rss->classify(tcp_frame(us, peer, our_port, peer_port).data(), 54).worker, got);
    ++per_worker[got];
  }
  ASSERT_EQ(per_worker.size(), 3u);
  for (const auto& [w, n] : per_worker) EXPECT_GT(n, 120) << "worker " << w;  // ~200 each
  EXPECT_EQ(rss->stats().dropped_full, 0u);
}

TEST_F(SoftRssTest, ArpRepliesReachEveryWorkerOtherFramesStayOnWorkerZero) {
  std::string err;
  auto rss = SoftRss::create(unique_name(), 4, 64, &err);
  ASSERT_TRUE(rss) << err;
  rte_mbuf* reply = mbuf_of(arp_frame(2));
  rte_mbuf* request = mbuf_of(arp_frame(1));
  auto icmp = tcp_frame(0xc6120002u, 0xc6120001u, 0, 0);
  icmp[14 + 9] = 1;
  rte_mbuf* ping = mbuf_of(icmp);
  auto frag = tcp_frame(0xc6120002u, 0xc6120001u, 1234, 80);
  frag[14 + 6] = 0x20;  // more fragments
  rte_mbuf* fragment = mbuf_of(frag);
  rte_mbuf* runt = mbuf_of(std::vector<std::uint8_t>(10, 0xff));
  std::array<rte_mbuf*, 5> in{reply, request, ping, fragment, runt};
  std::array<rte_mbuf*, 5> mine{};
  ASSERT_EQ(rss->dispatch(in.data(), 5, 0, mine.data()), 5u);  // all of them on worker 0
  EXPECT_EQ(rte_mbuf_refcnt_read(reply), 4);                   // shared with workers 1-3
  for (std::uint16_t w = 1; w < 4; ++w) {
    rte_mbuf* out[4];
    ASSERT_EQ(rss->receive(w, out, 4), 1u) << "worker " << w;
    EXPECT_EQ(out[0], reply);
    rte_pktmbuf_free(out[0]);
  }
  EXPECT_EQ(rte_mbuf_refcnt_read(reply), 1);
  for (rte_mbuf* m : mine) rte_pktmbuf_free(m);
  EXPECT_EQ(rss->stats().broadcast, 1u);
}

TEST_F(SoftRssTest, AFullRingDropsAndCountsAndFreesTheFrame) {
  std::string err;
  auto rss = SoftRss::create(unique_name(), 2, 16, &err);  // rte_ring holds size - 1
  ASSERT_TRUE(rss) << err;
  const unsigned free_before = rte_mempool_avail_count(pool());
  // Frames for worker 1 only: vary the peer port until 40 of them map there.
  std::vector<rte_mbuf*> for_one;
  for (std::uint16_t p = 1024; for_one.size() < 40; ++p) {
    const auto f = tcp_frame(0xc6120002u, 0xc6120001u, p, 80);
    if (rss->classify(f.data(), static_cast<std::uint32_t>(f.size())).worker == 1) {
      for_one.push_back(mbuf_of(f));
    }
  }
  std::vector<rte_mbuf*> mine(for_one.size());
  EXPECT_EQ(rss->dispatch(for_one.data(), static_cast<unsigned>(for_one.size()), 0, mine.data()),
            0u);
  EXPECT_EQ(rss->stats().dispatched, 15u);
  EXPECT_EQ(rss->stats().dropped_full, 25u);
  rss.reset();  // frees what is still queued
  EXPECT_EQ(rte_mempool_avail_count(pool()), free_before);
}

}  // namespace
}  // namespace twtcp::dpdk
