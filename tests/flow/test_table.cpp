// Single-threaded semantics of FlowTable: what insert/find/erase/replace promise.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <random>
#include <set>
#include <vector>

#include "flow/key.hpp"
#include "flow/table.hpp"

namespace twtcp::flow {
namespace {

struct TestEntry : FlowEntryHeader<FlowKeyV4> {
  std::uint64_t payload = 0;
};

FlowKeyV4 key_of(std::uint32_t i) {
  return FlowKeyV4{0x0a000001, 0xc6120000u + (i >> 16), 80, static_cast<std::uint16_t>(i)};
}

std::unique_ptr<TestEntry> make(const FlowKeyV4& k, EntryKind kind = EntryKind::kConnection) {
  auto e = std::make_unique<TestEntry>();
  e->key = k;
  e->kind = kind;
  return e;
}

// A hash the test controls: local_port is the 16-bit tag, remote_port the home bucket when the
// table has kCollidingBuckets buckets (home = low32 * buckets >> 32).
constexpr std::size_t kCollidingCapacity = 20071;  // 20071 * 10 / 49 = 4096 buckets
constexpr std::size_t kCollidingBuckets = 4096;
struct PortHash {
  std::uint64_t operator()(const FlowKeyV4& k, std::uint64_t) const noexcept {
    return (std::uint64_t{k.local_port} << 48) | (std::uint64_t{k.remote_port} << 20);
  }
};

using Table = FlowTable<FlowKeyV4>;
using CollidingTable = FlowTable<FlowKeyV4, PortHash>;

TEST(FlowTable, InsertedEntryIsFoundByItsKey) {
  Table t({.capacity = 64, .seed = 7});
  auto e = make(key_of(1), EntryKind::kTimeWait);
  ASSERT_EQ(t.insert(e.get()), InsertResult::kInserted);
  EXPECT_EQ(t.find(key_of(1)), e.get());
  EXPECT_EQ(t.find(key_of(1))->kind, EntryKind::kTimeWait);
  EXPECT_EQ(t.size(), 1u);
}

TEST(FlowTable, AbsentKeyIsNotFound) {
  Table t({.capacity = 64, .seed = 7});
  auto e = make(key_of(1));
  ASSERT_EQ(t.insert(e.get()), InsertResult::kInserted);
  EXPECT_EQ(t.find(key_of(2)), nullptr);
  FlowKeyV4 swapped = key_of(1);
  std::swap(swapped.local_port, swapped.remote_port);
  EXPECT_EQ(t.find(swapped), nullptr);
}

TEST(FlowTable, DuplicateKeyReportsAlreadyExistsAndKeepsTheFirstEntry) {
  Table t({.capacity = 64, .seed = 7});
  auto a = make(key_of(5));
  auto b = make(key_of(5));
  ASSERT_EQ(t.insert(a.get()), InsertResult::kInserted);
  EXPECT_EQ(t.insert(b.get()), InsertResult::kAlreadyExists);
  EXPECT_EQ(t.find(key_of(5)), a.get());
  EXPECT_EQ(t.size(), 1u);
}

TEST(FlowTable, EraseUnpublishesAndHandsBackTheEntry) {
  Table t({.capacity = 64, .seed = 7});
  auto e = make(key_of(3));
  ASSERT_EQ(t.insert(e.get()), InsertResult::kInserted);
  EXPECT_EQ(t.erase(key_of(3)), e.get());
  EXPECT_EQ(t.find(key_of(3)), nullptr);
  EXPECT_EQ(t.erase(key_of(3)), nullptr);
  EXPECT_EQ(t.size(), 0u);
}

TEST(FlowTable, KeyCanBeReinsertedAfterErase) {
  Table t({.capacity = 64, .seed = 7});
  auto a = make(key_of(3));
  auto b = make(key_of(3));
  ASSERT_EQ(t.insert(a.get()), InsertResult::kInserted);
  ASSERT_NE(t.erase(key_of(3)), nullptr);
  ASSERT_EQ(t.insert(b.get()), InsertResult::kInserted);
  EXPECT_EQ(t.find(key_of(3)), b.get());
}

TEST(FlowTable, EraseByPointerRemovesOnlyThatIncarnation) {
  Table t({.capacity = 64, .seed = 7});
  auto old_incarnation = make(key_of(9));
  auto current = make(key_of(9));
  ASSERT_EQ(t.insert(current.get()), InsertResult::kInserted);
  EXPECT_FALSE(t.erase(old_incarnation.get()));
  EXPECT_EQ(t.find(key_of(9)), current.get());
  EXPECT_TRUE(t.erase(current.get()));
  EXPECT_EQ(t.find(key_of(9)), nullptr);
  EXPECT_FALSE(t.erase(static_cast<FlowEntryHeader<FlowKeyV4>*>(nullptr)));
}

TEST(FlowTable, InsertBeyondCapacityReportsTableFull) {
  Table t({.capacity = 10, .seed = 1});
  std::vector<std::unique_ptr<TestEntry>> es;
  for (std::uint32_t i = 0; i < 10; ++i) {
    es.push_back(make(key_of(i)));
    ASSERT_EQ(t.insert(es.back().get()), InsertResult::kInserted);
  }
  auto extra = make(key_of(100));
  EXPECT_EQ(t.insert(extra.get()), InsertResult::kTableFull);
  EXPECT_EQ(t.find(key_of(100)), nullptr);
  EXPECT_EQ(t.size(), 10u);
  ASSERT_NE(t.erase(key_of(0)), nullptr);
  EXPECT_EQ(t.insert(extra.get()), InsertResult::kInserted);
}

TEST(FlowTable, NullOrNonCanonicalPointerIsRejectedWithAReason) {
  Table t({.capacity = 10, .seed = 1});
  EXPECT_EQ(t.insert(nullptr), InsertResult::kBadEntry);
  EXPECT_STREQ(reason(InsertResult::kBadEntry), "entry pointer is null or above 2^48");
  EXPECT_EQ(t.size(), 0u);
}

TEST(FlowTable, ZeroCapacityIsRejectedAtConstruction) {
  EXPECT_THROW(Table({.capacity = 0, .seed = 1}), std::invalid_argument);
}

TEST(FlowTable, BucketArrayIsSizedForSeventyPercentLoadAtCapacity) {
  Table t({.capacity = 10'000'000, .seed = 1});
  EXPECT_EQ(t.bucket_count(), 10'000'000u * 10 / 49);
  EXPECT_EQ(t.memory_bytes(), t.bucket_count() * 64);
  EXPECT_LT(static_cast<double>(t.memory_bytes()) / 10'000'000, 13.1);
  Table small({.capacity = 1, .seed = 1});
  EXPECT_EQ(small.bucket_count(), 1u);
}

TEST(FlowTable, TinyTableUsesEverySlotOfItsSingleBucket) {
  Table t({.capacity = 7, .seed = 1});
  ASSERT_EQ(t.bucket_count(), 1u);
  std::vector<std::unique_ptr<TestEntry>> es;
  for (std::uint32_t i = 0; i < 7; ++i) {
    es.push_back(make(key_of(i)));
    ASSERT_EQ(t.insert(es.back().get()), InsertResult::kInserted);
  }
  for (std::uint32_t i = 0; i < 7; ++i) EXPECT_EQ(t.find(key_of(i)), es[i].get());
}

TEST(FlowTable, CollidingKeysChainIntoFollowingBuckets) {
  CollidingTable t({.capacity = kCollidingCapacity, .seed = 0});
  ASSERT_EQ(t.bucket_count(), kCollidingBuckets);
  // Same home bucket (remote_port 0) and same tag (local_port 80): only the key tells them apart.
  std::vector<std::unique_ptr<TestEntry>> es;
  const std::size_t fit = CollidingTable::kSlotsPerBucket * (CollidingTable::kMaxProbe + 1);
  for (std::uint32_t i = 0; i < fit; ++i) {
    es.push_back(make(FlowKeyV4{i, 1, 80, 0}));
    ASSERT_EQ(t.insert(es.back().get()), InsertResult::kInserted) << i;
  }
  for (std::uint32_t i = 0; i < fit; ++i) EXPECT_EQ(t.find(FlowKeyV4{i, 1, 80, 0}), es[i].get());
  EXPECT_EQ(t.find(FlowKeyV4{9999, 1, 80, 0}), nullptr);
  auto one_more = make(FlowKeyV4{9999, 1, 80, 0});
  EXPECT_EQ(t.insert(one_more.get()), InsertResult::kNoFreeSlot);
  EXPECT_EQ(t.size(), fit);
  // Keys homed in bucket 1 still fit: their window reaches past the full ones.
  auto other = make(FlowKeyV4{1, 1, 80, 1});
  EXPECT_EQ(t.insert(other.get()), InsertResult::kInserted);
  EXPECT_EQ(t.find(FlowKeyV4{1, 1, 80, 1}), other.get());
}

TEST(FlowTable, EraseInTheMiddleOfAChainKeepsLaterEntriesFindable) {
  CollidingTable t({.capacity = kCollidingCapacity, .seed = 0});
  std::vector<std::unique_ptr<TestEntry>> es;
  for (std::uint32_t i = 0; i < 30; ++i) {  // 7 in the home bucket, 23 spread over 4 more
    es.push_back(make(FlowKeyV4{i, 1, 80, 3}));
    ASSERT_EQ(t.insert(es.back().get()), InsertResult::kInserted);
  }
  for (std::uint32_t i : {0u, 3u, 6u, 7u, 12u, 20u})
    ASSERT_EQ(t.erase(FlowKeyV4{i, 1, 80, 3}), es[i].get());
  const std::set<std::uint32_t> gone = {0, 3, 6, 7, 12, 20};
  for (std::uint32_t i = 0; i < 30; ++i) {
    EXPECT_EQ(t.find(FlowKeyV4{i, 1, 80, 3}), gone.count(i) ? nullptr : es[i].get()) << i;
  }
  // Holes are reused, and the reinserted keys are found wherever they land.
  for (std::uint32_t i : gone) ASSERT_EQ(t.insert(es[i].get()), InsertResult::kInserted);
  for (std::uint32_t i = 0; i < 30; ++i) EXPECT_EQ(t.find(FlowKeyV4{i, 1, 80, 3}), es[i].get());
}

TEST(FlowTable, ChainShrinksBackAfterItsDisplacedEntriesLeave) {
  CollidingTable t({.capacity = kCollidingCapacity, .seed = 0});
  std::vector<std::unique_ptr<TestEntry>> es;
  for (std::uint32_t i = 0; i < 20; ++i) {
    es.push_back(make(FlowKeyV4{i, 1, 80, 5}));
    ASSERT_EQ(t.insert(es.back().get()), InsertResult::kInserted);
  }
  for (std::uint32_t i = 0; i < 20; ++i) ASSERT_NE(t.erase(FlowKeyV4{i, 1, 80, 5}), nullptr);
  EXPECT_EQ(t.size(), 0u);
  // With the displaced count back at 0, a full window is available again from home.
  const std::size_t fit = CollidingTable::kSlotsPerBucket * (CollidingTable::kMaxProbe + 1);
  es.clear();
  for (std::uint32_t i = 0; i < fit; ++i) {
    es.push_back(make(FlowKeyV4{i, 2, 80, 5}));
    ASSERT_EQ(t.insert(es.back().get()), InsertResult::kInserted) << i;
  }
  for (std::uint32_t i = 0; i < fit; ++i) EXPECT_EQ(t.find(FlowKeyV4{i, 2, 80, 5}), es[i].get());
}

TEST(FlowTable, ReplaceSwapsTheEntryUnderTheSameKey) {
  Table t({.capacity = 64, .seed = 7});
  auto tw = make(key_of(4), EntryKind::kTimeWait);
  auto conn = make(key_of(4), EntryKind::kConnection);
  auto stranger = make(key_of(5));
  ASSERT_EQ(t.insert(tw.get()), InsertResult::kInserted);
  EXPECT_FALSE(t.replace(tw.get(), stranger.get()));  // different key
  EXPECT_FALSE(t.replace(conn.get(), tw.get()));      // conn is not published
  EXPECT_TRUE(t.replace(tw.get(), conn.get()));
  EXPECT_EQ(t.find(key_of(4)), conn.get());
  EXPECT_EQ(t.find(key_of(4))->kind, EntryKind::kConnection);
  EXPECT_EQ(t.size(), 1u);
}

TEST(FlowTable, ForEachVisitsEveryPublishedEntryOnce) {
  Table t({.capacity = 1000, .seed = 3});
  std::vector<std::unique_ptr<TestEntry>> es;
  for (std::uint32_t i = 0; i < 500; ++i) {
    es.push_back(make(key_of(i)));
    ASSERT_EQ(t.insert(es.back().get()), InsertResult::kInserted);
  }
  for (std::uint32_t i = 0; i < 500; i += 2) ASSERT_NE(t.erase(key_of(i)), nullptr);
  std::set<const FlowEntryHeader<FlowKeyV4>*> seen;
  std::size_t visits = 0;
  t.for_each([&](FlowEntryHeader<FlowKeyV4>* e) {
    seen.insert(e);
    ++visits;
  });
  EXPECT_EQ(visits, 250u);
  EXPECT_EQ(seen.size(), 250u);
  for (std::uint32_t i = 1; i < 500; i += 2) EXPECT_TRUE(seen.count(es[i].get()));
}

TEST(FlowTable, OneMillionRandomFlowsAtCapacityAreAllFound) {
  constexpr std::size_t kN = 1'000'000;
  Table t({.capacity = kN, .seed = 0x1234});
  std::mt19937_64 rng(42);
  std::vector<TestEntry> es(kN);
  std::set<std::uint64_t> used;
  for (std::size_t i = 0; i < kN; ++i) {
    FlowKeyV4 k;
    do {
      const std::uint64_t r = rng();
      k = FlowKeyV4{static_cast<std::uint32_t>(r), static_cast<std::uint32_t>(r >> 32),
                    static_cast<std::uint16_t>(rng()), 443};
    } while (!used.insert((std::uint64_t{k.local_addr} << 32 | k.remote_addr) ^
                          (std::uint64_t{k.local_port} << 7))
                  .second);
    es[i].key = k;
    es[i].payload = i;
    ASSERT_EQ(t.insert(&es[i]), InsertResult::kInserted) << i;
  }
  EXPECT_EQ(t.size(), kN);
  for (std::size_t i = 0; i < kN; ++i) ASSERT_EQ(t.find(es[i].key), &es[i]);
  for (std::size_t i = 0; i < kN; i += 2) ASSERT_EQ(t.erase(es[i].key), &es[i]);
  for (std::size_t i = 0; i < kN; ++i) {
    ASSERT_EQ(t.find(es[i].key), (i % 2) ? &es[i] : nullptr);
  }
  for (std::size_t i = 0; i < kN; i += 2) ASSERT_EQ(t.insert(&es[i]), InsertResult::kInserted);
  EXPECT_EQ(t.size(), kN);
}

TEST(FlowTable, BatchLookupAgreesWithSingleLookupsForHitsMissesAndChains) {
  // Colliding keys (same home and tag, several buckets deep) and a normal table, mixed with
  // absent keys; batch sizes that are not a multiple of the internal group.
  CollidingTable ct({.capacity = kCollidingCapacity, .seed = 0});
  Table t({.capacity = 1000, .seed = 11});
  std::vector<std::unique_ptr<TestEntry>> es;
  std::vector<FlowKeyV4> cq, q;
  for (std::uint32_t i = 0; i < 40; ++i) {
    es.push_back(make(FlowKeyV4{i, 1, 80, 7}));
    ASSERT_EQ(ct.insert(es.back().get()), InsertResult::kInserted);
    cq.push_back(FlowKeyV4{i, 1, 80, 7});
    cq.push_back(FlowKeyV4{i + 1000, 1, 80, 7});  // absent, same home and tag
    es.push_back(make(key_of(i)));
    ASSERT_EQ(t.insert(es.back().get()), InsertResult::kInserted);
    q.push_back(key_of(i));
    q.push_back(key_of(i + 5000));
  }
  for (std::size_t n :
       {std::size_t{1}, std::size_t{15}, std::size_t{16}, std::size_t{17}, std::size_t{80}}) {
    std::vector<FlowEntryHeader<FlowKeyV4>*> out(n, nullptr);
    ct.find_batch(cq.data(), n, out.data());
    for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(out[i], ct.find(cq[i])) << n << " " << i;
    t.find_batch(q.data(), n, out.data());
    for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(out[i], t.find(q[i])) << n << " " << i;
  }
  std::vector<FlowEntryHeader<FlowKeyV4>*> out(80, nullptr);
  ct.find_batch(cq.data(), 80, out.data());
  for (std::size_t i = 0; i < 80; ++i) EXPECT_EQ(out[i] != nullptr, i % 2 == 0) << i;
}

}  // namespace
}  // namespace twtcp::flow
