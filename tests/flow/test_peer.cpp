// PeerTable: bounded per-host timestamp store with LRU eviction.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

#include "flow/peer.hpp"

namespace twtcp::flow {
namespace {

using Table = PeerTable<>;

std::vector<std::uint32_t> mru_order(const Table& t) {
  std::vector<std::uint32_t> v;
  t.for_each_mru([&](const Table::Peer& p) { v.push_back(p.addr.addr); });
  return v;
}

TEST(PeerTable, NewEntryStartsWithNoTimestamp) {
  Table t(4);
  auto u = t.get_or_create({10}, 5'000'000);
  ASSERT_NE(u.peer, nullptr);
  EXPECT_TRUE(u.created);
  EXPECT_FALSE(u.evicted);
  EXPECT_EQ(u.peer->ts.ts_recent, 0u);
  EXPECT_EQ(u.peer->ts.ts_stamp_s, 0u);
  EXPECT_EQ(u.peer->ts.updated_us, 5'000'000u);
  u.peer->ts = {1000, 5, 5'000'000};
  auto again = t.get_or_create({10}, 6'000'000);
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.peer->ts.ts_recent, 1000u);
  EXPECT_EQ(again.peer->last_used_us, 6'000'000u);
}

TEST(PeerTable, FindMarksMostRecentlyUsedButPeekDoesNot) {
  Table t(4);
  for (std::uint32_t a : {1u, 2u, 3u}) t.get_or_create({a}, a);
  EXPECT_EQ(mru_order(t), (std::vector<std::uint32_t>{3, 2, 1}));
  ASSERT_NE(t.find({1}, 10), nullptr);
  EXPECT_EQ(mru_order(t), (std::vector<std::uint32_t>{1, 3, 2}));
  ASSERT_NE(t.peek({2}), nullptr);
  EXPECT_EQ(mru_order(t), (std::vector<std::uint32_t>{1, 3, 2}));
  EXPECT_EQ(t.oldest()->addr.addr, 2u);
  EXPECT_EQ(t.find({99}, 11), nullptr);
}

TEST(PeerTable, FullTableEvictsTheLeastRecentlyUsedHost) {
  Table t(3);
  for (std::uint32_t a : {1u, 2u, 3u}) t.get_or_create({a}, a);
  t.find({1}, 4);  // 2 is now the oldest
  auto u = t.get_or_create({4}, 5);
  EXPECT_TRUE(u.created);
  EXPECT_TRUE(u.evicted);
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.peek({2}), nullptr);
  EXPECT_NE(t.peek({1}), nullptr);
  EXPECT_NE(t.peek({3}), nullptr);
  EXPECT_EQ(mru_order(t), (std::vector<std::uint32_t>{4, 1, 3}));
  EXPECT_EQ(t.evictions(), 1u);
}

TEST(PeerTable, EraseFreesASlotWithoutEviction) {
  Table t(2);
  t.get_or_create({1}, 1);
  t.get_or_create({2}, 2);
  EXPECT_TRUE(t.erase({1}));
  EXPECT_FALSE(t.erase({1}));
  auto u = t.get_or_create({3}, 3);
  EXPECT_FALSE(u.evicted);
  EXPECT_NE(t.peek({2}), nullptr);
  EXPECT_EQ(t.evictions(), 0u);
}

TEST(PeerTable, InvalidCapacityIsRejectedAtConstruction) {
  EXPECT_THROW(Table(0), std::invalid_argument);
}

// Random operations against a reference model: the index and the LRU list stay consistent
// through evictions and backward-shift deletions.
TEST(PeerTable, RandomOperationsMatchAReferenceLruModel) {
  constexpr std::size_t kCap = 64;
  Table t(kCap, 99);
  std::map<std::uint32_t, std::uint64_t> model;  // addr -> last use time
  std::mt19937 rng(7);
  for (std::uint64_t now = 1; now < 200'000; ++now) {
    const std::uint32_t a = rng() % 200;
    switch (rng() % 3) {
      case 0: {
        auto u = t.get_or_create({a}, now);
        ASSERT_EQ(u.created, model.count(a) == 0);
        if (u.created && model.size() == kCap) {
          auto victim = model.begin();
          for (auto i = model.begin(); i != model.end(); ++i) {
            if (i->second < victim->second) victim = i;
          }
          ASSERT_TRUE(u.evicted);
          ASSERT_EQ(t.peek({victim->first}), nullptr);
          model.erase(victim);
        }
        model[a] = now;
        break;
      }
      case 1: {
        const bool found = t.find({a}, now) != nullptr;
        ASSERT_EQ(found, model.count(a) == 1);
        if (found) model[a] = now;
        break;
      }
      default:
        ASSERT_EQ(t.erase({a}), model.erase(a) == 1);
    }
    ASSERT_EQ(t.size(), model.size());
  }
  for (const auto& [a, used] : model) {
    const auto* p = t.peek({a});
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->last_used_us, used);
  }
}

}  // namespace
}  // namespace twtcp::flow
