// tests/flow/test_rss.cpp: the software Toeplitz hash against the published verification
// vectors of Microsoft's RSS specification (IPv4 with TCP ports), the symmetric key's
// both-directions property, and RssSteering's queue choice through a RETA.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include "flow/rss.hpp"

namespace twtcp::flow {
namespace {

constexpr std::uint32_t ip(unsigned a, unsigned b, unsigned c, unsigned d) {
  return (a << 24) | (b << 16) | (c << 8) | d;
}

// The key of Microsoft's "Verifying the RSS Hash Calculation" page, the default of many NICs.
constexpr std::array<std::uint8_t, 40> kMicrosoftKey = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

struct Vector {
  std::uint32_t src, dst;
  std::uint16_t sport, dport;
  std::uint32_t hash;
};

TEST(ToeplitzV4, MatchesTheRssSpecificationVectors) {
  const Vector vectors[] = {
      {ip(66, 9, 149, 187), ip(161, 142, 100, 80), 2794, 1766, 0x51ccc178},
      {ip(199, 92, 111, 2), ip(65, 69, 140, 83), 14230, 4739, 0xc626b0ea},
      {ip(24, 19, 198, 95), ip(12, 22, 207, 184), 12898, 38024, 0x5c2b394a},
      {ip(38, 27, 205, 30), ip(209, 142, 163, 6), 48228, 2217, 0xafc7327f},
      {ip(153, 39, 163, 191), ip(202, 188, 127, 2), 44251, 1303, 0x10e828a2},
  };
  const ToeplitzV4 t(kMicrosoftKey);
  for (const Vector& v : vectors) {
    EXPECT_EQ(t.hash(v.src, v.dst, v.sport, v.dport), v.hash) << std::hex << v.hash;
  }
}

TEST(ToeplitzV4, SymmetricKeyHashesBothDirectionsAlikeAndTheDefaultKeyDoesNot) {
  const ToeplitzV4 sym(kSymmetricRssKey), ms(kMicrosoftKey);
  std::mt19937 rng(7);
  int ms_equal = 0;
  for (int i = 0; i < 10'000; ++i) {
    const std::uint32_t a = rng(), b = rng();
    const auto pa = static_cast<std::uint16_t>(rng()), pb = static_cast<std::uint16_t>(rng());
    ASSERT_EQ(sym.hash(a, b, pa, pb), sym.hash(b, a, pb, pa));
    ms_equal += ms.hash(a, b, pa, pb) == ms.hash(b, a, pb, pa);
  }
  EXPECT_LT(ms_equal, 10);  // a direction-dependent key really is one
}

TEST(ToeplitzV4, IsLinearInItsInputAsTheDefinitionSays) {
  // hash(x ^ y) == hash(x) ^ hash(y): each set input bit XORs in its own key window.
  const ToeplitzV4 t(kMicrosoftKey);
  std::mt19937 rng(11);
  for (int i = 0; i < 1000; ++i) {
    const std::uint32_t a = rng(), b = rng(), c = rng(), d = rng();
    const auto p = static_cast<std::uint16_t>(rng()), q = static_cast<std::uint16_t>(rng());
    const auto r = static_cast<std::uint16_t>(rng()), s = static_cast<std::uint16_t>(rng());
    ASSERT_EQ(
        t.hash(a ^ c, b ^ d, static_cast<std::uint16_t>(p ^ r), static_cast<std::uint16_t>(q ^ s)),
        t.hash(a, b, p, q) ^ t.hash(c, d, r, s));
  }
  EXPECT_EQ(t.hash(0, 0, 0, 0), 0u);
}

TEST(RssSteering, PicksTheRetaEntryOfTheHashsLowBits) {
  const ToeplitzV4 t(kMicrosoftKey);
  std::vector<std::uint16_t> reta(128);
  for (std::size_t i = 0; i < reta.size(); ++i) reta[i] = static_cast<std::uint16_t>(i % 3);
  const RssSteering s(kMicrosoftKey, reta, 1);
  // The peer's segments travel remote -> local: the hash is over (remote, local).
  const FlowKeyV4 k{ip(161, 142, 100, 80), ip(66, 9, 149, 187), 1766, 2794};
  EXPECT_EQ(s.queue_of(k), reta[0x51ccc178 & 127]);
  EXPECT_EQ(s.ours(k), reta[0x51ccc178 & 127] == 1);
  EXPECT_EQ(s.reta_size(), 128u);
}

TEST(RssSteering, SourcePortsSplitEvenlyAcrossQueuesAndEachQueueFindsItsOwn) {
  // What connect() relies on: for a fixed peer, about 1/n of the source ports map to each of
  // n queues, so a Stack that skips the others' ports still has ~range/n ports to pick from.
  constexpr std::uint16_t kQueues = 4;
  std::vector<std::uint16_t> reta(512);
  for (std::size_t i = 0; i < reta.size(); ++i) reta[i] = static_cast<std::uint16_t>(i % kQueues);
  std::map<std::uint16_t, int> per_queue;
  const RssSteering s(kSymmetricRssKey, reta, 0);
  for (std::uint32_t port = 32768; port <= 60999; ++port) {
    const FlowKeyV4 k{ip(198, 18, 0, 2), ip(198, 18, 0, 1), static_cast<std::uint16_t>(port), 80};
    ++per_queue[s.queue_of(k)];
  }
  ASSERT_EQ(per_queue.size(), kQueues);
  const int each = (60999 - 32768 + 1) / kQueues;
  for (const auto& [q, n] : per_queue) {
    EXPECT_NEAR(n, each, each / 10) << "queue " << q;
  }
}

}  // namespace
}  // namespace twtcp::flow
