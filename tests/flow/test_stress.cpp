// Concurrency stress for FlowTable + QSBR: reader threads look up random keys without locks
// while writer threads insert, erase, replace and reclaim. Every entry a reader finds must carry
// the key it looked up and an intact canary and payload; freed entries are poisoned (and some are
// reused from a pool at once, some deleted for ASan), so a reader that could reach reclaimed
// memory sees a wrong key or canary, and ThreadSanitizer sees the unsynchronised write.
//
// Duration: TWTCP_STRESS_SECONDS per test (default 2; the whole binary stays under 10 s, also
// under ThreadSanitizer, which does fewer operations in that time but still hundreds of
// thousands of lookups).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

#include "flow/epoch.hpp"
#include "flow/key.hpp"
#include "flow/table.hpp"

namespace twtcp::flow {
namespace {

constexpr std::uint64_t kAlive = 0xA11FE5A11FE5A11FULL;
constexpr std::uint64_t kDead = 0xDEADDEADDEADDEADULL;

struct StressEntry : FlowEntryHeader<FlowKeyV4> {
  std::uint64_t canary = kAlive;
  std::uint64_t payload = 0;
  std::uint64_t generation = 0;
  StressEntry* pool_next = nullptr;
};

std::uint64_t payload_of(const FlowKeyV4& k) {
  return k.hash(0xfeed) | 1;
}

FlowKeyV4 key_of(std::uint32_t i) {
  return FlowKeyV4{0x0a000001, 0xc6120000u + (i >> 12), 80,
                   static_cast<std::uint16_t>(10000 + (i & 0xfff))};
}

double stress_seconds() {
  if (const char* s = std::getenv("TWTCP_STRESS_SECONDS")) return std::atof(s);
  return 2.0;
}

// Sends keys to only 64 neighbouring home buckets (of kNarrowBuckets) so chains, displacement
// and probe resets happen all the time (inserts may fail with kNoFreeSlot; writers tolerate it).
constexpr std::size_t kNarrowCapacity = 5017;  // 5017 * 10 / 49 = 1023 buckets
struct NarrowHash {
  std::uint64_t operator()(const FlowKeyV4& k, std::uint64_t seed) const noexcept {
    const std::uint64_t h = k.hash(seed);
    return (h & 0xffff000000000000ULL) | ((h & 63) << 22);
  }
};

// A writer's allocator: poisons on free, then either reuses the memory (pool) or deletes it.
struct Pool {
  StressEntry* head = nullptr;
  std::uint64_t frees = 0;
  ~Pool() {
    while (head) delete std::exchange(head, head->pool_next);
  }
  StressEntry* get() {
    if (head) return std::exchange(head, head->pool_next);
    return new StressEntry;
  }
  static void free(void* obj, void* ctx) noexcept {
    auto* e = static_cast<StressEntry*>(obj);
    auto* pool = static_cast<Pool*>(ctx);
    e->canary = kDead;
    e->payload = 0;
    e->key = FlowKeyV4{0xdeaddead, 0xdeaddead, 0xdead, 0xdead};
    if (++pool->frees % 2 == 0) {
      e->pool_next = pool->head;
      pool->head = e;
    } else {
      delete e;
    }
  }
};

struct Totals {
  std::atomic<std::uint64_t> lookups{0}, hits{0}, bad{0}, inserts{0}, erases{0}, replaces{0},
      freed{0};
};

template <class Table>
void reader_loop(Domain& d, const Table& t, std::uint32_t universe, std::atomic<bool>& stop,
                 Totals& tot, unsigned seed) {
  Reader r = d.register_reader();
  ASSERT_TRUE(r.valid());
  std::mt19937 rng(seed);
  std::uint64_t lookups = 0, hits = 0, bad = 0;
  auto check = [&](const FlowKeyV4& k, const FlowEntryHeader<FlowKeyV4>* h) {
    ++lookups;
    if (h == nullptr) return;
    const auto* e = static_cast<const StressEntry*>(h);
    ++hits;
    auto intact = [&] {
      return e->key == k && e->canary == kAlive && e->payload == payload_of(k) &&
             e->kind == ((e->generation & 1) ? EntryKind::kTimeWait : EntryKind::kConnection);
    };
    if (!intact()) ++bad;
    if ((hits & 7) == 0) {  // hold some pointers a while: a premature free shows up here
      for (int spin = 0; spin < 64; ++spin) cpu_relax();
      if (!intact()) ++bad;
    }
  };
  FlowKeyV4 keys[32];
  FlowEntryHeader<FlowKeyV4>* found[32];
  for (std::uint64_t batch = 0; !stop.load(std::memory_order_relaxed); ++batch) {
    for (auto& k : keys) k = key_of(rng() % universe);
    if (batch % 2 == 0) {
      for (const auto& k : keys) check(k, t.find(k));
    } else {
      t.find_batch(keys, 32, found);
      for (int i = 0; i < 32; ++i) check(keys[i], found[i]);
    }
    r.quiescent();
    if (batch % 512 == 511) {  // exercise the offline -> online path
      r.offline();
      std::this_thread::yield();
      r.online();
    }
  }
  tot.lookups += lookups;
  tot.hits += hits;
  tot.bad += bad;
}

// Owns the keys i with i % nwriters == id: inserts absent ones, erases or replaces present ones.
template <class Table>
void writer_loop(Domain& d, Table& t, std::uint32_t universe, unsigned id, unsigned nwriters,
                 std::atomic<bool>& stop, Totals& tot) {
  // A writer dereferences entries of other writers while it scans a chain, so it is a reader
  // too, quiescent between operations (as an lcore is at the top of its poll loop).
  Reader self = d.register_reader();
  ASSERT_TRUE(self.valid());
  Pool pool;
  Limbo limbo(d, 1024);
  std::mt19937 rng(1000 + id);
  std::vector<StressEntry*> mine(universe, nullptr);
  std::uint64_t gen = 0, ins = 0, era = 0, rep = 0;
  auto make = [&](const FlowKeyV4& k) {
    StressEntry* e = pool.get();
    e->key = k;
    e->generation = ++gen;
    e->kind = (gen & 1) ? EntryKind::kTimeWait : EntryKind::kConnection;
    e->payload = payload_of(k);
    e->canary = kAlive;
    return e;
  };
  auto retire = [&](StressEntry* e) {
    while (limbo.retire(e, &Pool::free, &pool) != Limbo::RetireResult::kRetired) {
      self.quiescent();           // holds only owned entries here
      std::this_thread::yield();  // readers are behind; they quiesce every 32 lookups
    }
  };
  for (std::uint64_t op = 0; !stop.load(std::memory_order_acquire); ++op) {
    self.quiescent();
    std::uint32_t i = rng() % universe;
    i -= i % nwriters;
    i += id;
    if (i >= universe) continue;
    const FlowKeyV4 k = key_of(i);
    if (mine[i] == nullptr) {
      StressEntry* e = make(k);
      const InsertResult r = t.insert(e);
      if (r == InsertResult::kInserted) {
        mine[i] = e;
        ++ins;
      } else {
        ASSERT_TRUE(r == InsertResult::kNoFreeSlot || r == InsertResult::kTableFull) << reason(r);
        Pool::free(e, &pool);  // never published: no reader can hold it
      }
    } else if (rng() % 4 == 0) {
      StressEntry* e = make(k);
      ASSERT_TRUE(t.replace(mine[i], e));
      retire(std::exchange(mine[i], e));
      ++rep;
    } else {
      ASSERT_EQ(t.erase(k), mine[i]);
      retire(std::exchange(mine[i], nullptr));
      ++era;
    }
    if (op % 64 == 0) tot.freed += limbo.reclaim();
  }
  // Readers have stopped (the caller joins them first): everything can go.
  for (StressEntry*& e : mine) {
    if (e) {
      ASSERT_TRUE(t.erase(e));
      Pool::free(e, &pool);
    }
  }
  limbo.drain();
  tot.inserts += ins;
  tot.erases += era;
  tot.replaces += rep;
}

template <class Table>
void run_stress(Table& t, std::uint32_t universe, unsigned readers, unsigned writers) {
  Domain domain(readers + writers);
  std::atomic<bool> stop_readers{false}, stop_writers{false};
  Totals tot;
  std::vector<std::thread> rs, ws;
  for (unsigned i = 0; i < readers; ++i) {
    rs.emplace_back([&, i] { reader_loop(domain, t, universe, stop_readers, tot, 7 + i); });
  }
  for (unsigned i = 0; i < writers; ++i) {
    ws.emplace_back([&, i] { writer_loop(domain, t, universe, i, writers, stop_writers, tot); });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(stress_seconds()));
  // Readers stop first so that the writers' final cleanup frees nothing under a live reader.
  // The writers keep running meanwhile, so a reader blocked on nothing cannot deadlock them.
  stop_readers = true;
  for (auto& th : rs) th.join();
  stop_writers = true;
  for (auto& th : ws) th.join();

  std::printf("lookups %llu hits %llu inserts %llu erases %llu replaces %llu freed %llu\n",
              static_cast<unsigned long long>(tot.lookups.load()),
              static_cast<unsigned long long>(tot.hits.load()),
              static_cast<unsigned long long>(tot.inserts.load()),
              static_cast<unsigned long long>(tot.erases.load()),
              static_cast<unsigned long long>(tot.replaces.load()),
              static_cast<unsigned long long>(tot.freed.load()));
  EXPECT_EQ(tot.bad.load(), 0u);
  EXPECT_GT(tot.hits.load(), 0u);
  EXPECT_GT(tot.erases.load(), 0u);
  EXPECT_GT(tot.replaces.load(), 0u);
  EXPECT_GT(tot.freed.load(), 0u);
  EXPECT_EQ(t.size(), 0u);
}

TEST(FlowStress, ReadersNeverSeeTornOrFreedEntriesWhileOneWriterChurns) {
  FlowTable<FlowKeyV4> t({.capacity = 4096, .seed = 0xabcdef});
  run_stress(t, 4096, 3, 1);
}

TEST(FlowStress, ReadersNeverSeeTornOrFreedEntriesWhileTwoWritersChurnLongChains) {
  FlowTable<FlowKeyV4, NarrowHash> t({.capacity = kNarrowCapacity, .seed = 0x5eed});
  ASSERT_EQ(t.bucket_count(), 1023u);
  run_stress(t, 2048, 2, 2);
}

}  // namespace
}  // namespace twtcp::flow
