// tests/dpdk/test_rss.cpp: lib/flow's table-driven Toeplitz hash against DPDK's own
// rte_softrss() (the reference a DPDK user would check a NIC's RSS hash with), for the
// default key NICs ship and for the symmetric key, over random IPv4 TCP tuples.
#include <gtest/gtest.h>
#include <rte_thash.h>

#include <array>
#include <cstdint>
#include <random>

#include "flow/rss.hpp"

namespace twtcp::flow {
namespace {

constexpr std::array<std::uint8_t, 40> kMicrosoftKey = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

void expect_same_as_rte_softrss(const std::array<std::uint8_t, 40>& key, unsigned seed) {
  const ToeplitzV4 ours(key);
  std::mt19937 rng(seed);
  for (int i = 0; i < 100'000; ++i) {
    rte_ipv4_tuple t{};
    t.src_addr = rng();
    t.dst_addr = rng();
    t.sport = static_cast<std::uint16_t>(rng());
    t.dport = static_cast<std::uint16_t>(rng());
    const std::uint32_t want =
        rte_softrss(reinterpret_cast<std::uint32_t*>(&t), RTE_THASH_V4_L4_LEN, key.data());
    ASSERT_EQ(ours.hash(t.src_addr, t.dst_addr, t.sport, t.dport), want) << "tuple " << i;
  }
}

TEST(ToeplitzV4, AgreesWithRteSoftrssOnTheDefaultKey) {
  expect_same_as_rte_softrss(kMicrosoftKey, 1);
}

TEST(ToeplitzV4, AgreesWithRteSoftrssOnTheSymmetricKey) {
  expect_same_as_rte_softrss(kSymmetricRssKey, 2);
}

}  // namespace
}  // namespace twtcp::flow
