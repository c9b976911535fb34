// tests/tcp/test_timewait_memory.cpp: the compact TIME_WAIT entry and its expiry queues.
// TwPool against a reference model (every entry fires at the first advance at or after
// lib/timer's deadline, whatever is removed, re-armed and moved meanwhile), then a Stack with
// 20k real TIME_WAIT entries: lookups, kills and re-arms in the middle of the queues, expiry,
// and no allocation per segment. The 1M-entry measurement is tests/tcp/timewait_memory.cpp.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <new>
#include <random>
#include <unordered_map>
#include <vector>

#include "tcp/stack.hpp"
#include "timewait_fill.hpp"

// GCC flags malloc/free inside replaced global new/delete when it inlines std allocators.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace {
bool g_count = false;
std::uint64_t g_allocs = 0;
}  // namespace
void* operator new(std::size_t n) {
  if (g_count) ++g_allocs;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace twtcp {
namespace {

using tcp::TwEntry;
using tcp::TwPool;

constexpr std::uint64_t kMs = 1000;
constexpr std::uint64_t kSec = 1'000'000;

// ---- TwPool against a model ----

// Entries carry their id in snd_nxt and a key derived from it, so moves can be checked.
struct Model {
  struct Live {
    std::uint64_t deadline_us = 0;  // lib/timer's rule: ceil((armed + L) / tick) * tick
    std::uint64_t lifetime_us = 0;
  };
  std::uint64_t tick_us = 1000;
  std::uint64_t last_advance = 0;
  std::uint64_t now = 0;
  bool exact = true;  // false: more distinct lifetimes than queues, late is allowed
  std::unordered_map<std::uint32_t, TwEntry*> where;
  std::map<std::uint32_t, Live> live;
  std::uint64_t fired = 0, moves = 0;

  // Hooks
  void moved(TwEntry& from, TwEntry& to) {
    ASSERT_EQ(from.snd_nxt, to.snd_nxt);
    ASSERT_EQ(where.at(to.snd_nxt), &from);
    where[to.snd_nxt] = &to;
    ++moves;
  }
  void expired(TwEntry& e, std::uint64_t lifetime_us) {
    const std::uint32_t id = e.snd_nxt;
    ASSERT_EQ(where.at(id), &e);
    ASSERT_EQ(e.key.local_port, static_cast<std::uint16_t>(id));
    ASSERT_EQ(e.rcv_nxt, id * 7u);
    const Live l = live.at(id);
    EXPECT_GE(now, l.deadline_us) << "entry " << id << " fired early";
    if (exact) {
      EXPECT_LT(last_advance, l.deadline_us) << "entry " << id << " fired late";
      EXPECT_EQ(lifetime_us, l.lifetime_us);
    }
    where.erase(id);
    live.erase(id);
    ++fired;
  }

  static TwEntry proto(std::uint32_t id) {
    TwEntry e;
    e.key = flow::FlowKeyV4{1, 2, static_cast<std::uint16_t>(id), 80};
    e.kind = flow::EntryKind::kTimeWait;
    e.snd_nxt = id;
    e.rcv_nxt = id * 7u;
    return e;
  }
  void add(TwPool& p, std::uint32_t id, std::uint64_t lifetime_us) {
    TwEntry& e = p.add(proto(id), lifetime_us, 0, now, *this);
    where[id] = &e;
    live[id] = {(now + lifetime_us + tick_us - 1) / tick_us * tick_us, lifetime_us};
  }
  void remove(TwPool& p, std::uint32_t id) {
    p.remove(*where.at(id), now, *this);
    where.erase(id);
    live.erase(id);
  }
  void advance(TwPool& p, std::uint64_t t) {
    now = t;
    p.advance(now, *this);
    last_advance = now;
  }
  void check(const TwPool& p) const {
    ASSERT_EQ(p.size(), live.size());
    std::uint64_t next = UINT64_MAX;
    for (const auto& [id, l] : live) next = std::min(next, l.deadline_us);
    if (exact) {
      EXPECT_EQ(p.next_expiry_us(), next);
    }
    for (const auto& [id, e] : where) {
      ASSERT_EQ(e->snd_nxt, id);
      ASSERT_EQ(e->key.local_port, static_cast<std::uint16_t>(id));
    }
  }
};

TEST(TwPool, RandomAddRemoveRearmFiresEachEntryAtItsOwnTick) {
  for (const std::uint64_t tick : {std::uint64_t{1000}, std::uint64_t{1}, std::uint64_t{250}}) {
    SCOPED_TRACE(tick);
    TwPool pool(500, tick, 60 * kMs, 90 * kMs);
    Model m;
    m.tick_us = tick;
    std::mt19937_64 rng(tick);
    const std::uint64_t lifetimes[] = {60 * kMs, 3 * kMs + 1, 7 * kMs, 20 * kMs + 499, 90 * kMs};
    std::uint32_t next_id = 1;
    for (int step = 0; step < 40000; ++step) {
      const unsigned op = rng() % 10;
      if (op < 4 && !pool.full()) {
        m.add(pool, next_id++, lifetimes[rng() % 5]);
      } else if (op < 6 && !m.live.empty()) {
        auto it = m.live.begin();
        std::advance(it, static_cast<long>(rng() % m.live.size()));
        m.remove(pool, it->first);
      } else if (op < 8 && !m.live.empty()) {  // re-arm as the stack does: remove, add again
        auto it = m.live.begin();
        std::advance(it, static_cast<long>(rng() % m.live.size()));
        const std::uint32_t id = it->first;
        m.remove(pool, id);
        m.add(pool, id, lifetimes[rng() % 5]);
      } else {
        m.advance(pool, m.now + rng() % (3 * kMs));
      }
      if (HasFatalFailure()) return;
      if (step % 97 == 0) m.check(pool);
    }
    m.advance(pool, m.now + kSec);
    EXPECT_EQ(pool.size(), 0u);
    EXPECT_EQ(pool.next_expiry_us(), UINT64_MAX);
    EXPECT_GT(m.fired, 1000u);
    EXPECT_GT(m.moves, 1000u);  // removals from the middle did move successors
  }
}

TEST(TwPool, CapacityIsExactAndNodesAreReused) {
  TwPool pool(3, 1000, 60 * kSec, 60 * kSec);
  Model m;
  for (std::uint32_t id = 1; id <= 3; ++id) m.add(pool, id, 60 * kSec);
  EXPECT_TRUE(pool.full());
  m.remove(pool, 2);
  EXPECT_FALSE(pool.full());
  m.add(pool, 4, 60 * kSec);
  EXPECT_TRUE(pool.full());
  m.check(pool);
  EXPECT_EQ(pool.memory_bytes(), (3 + TwPool::kQueues) * sizeof(TwEntry));
  m.advance(pool, 60 * kSec);
  EXPECT_EQ(m.fired, 3u);
}

TEST(TwPool, MoreLifetimesThanQueuesExpireLateNeverEarly) {
  TwPool pool(200, 1000, 60 * kSec, 100 * kSec);
  Model m;
  m.exact = false;
  for (std::uint32_t id = 1; id <= 70; ++id) m.add(pool, id, id * kMs);  // 70 distinct
  m.check(pool);
  for (std::uint64_t t = kMs; t <= 61 * kSec; t += kMs) m.advance(pool, t);
  EXPECT_EQ(m.fired, 70u);  // ids 63..70 took the 60 s queue; none fired before its time
}

TEST(TwPool, DeltaOverflowBehindOverdueEntriesFiresThemFirst) {
  // 200 s lifetime, 1 ms tick: one tick per delta step, 18 bits = 262 s. Without advance(),
  // an entry armed long after an overdue one cannot be chained to it: the overdue entries are
  // fired first (at or after their deadline, as the model checks).
  TwPool pool(10, 1000, 200 * kSec, 200 * kSec);
  Model m;
  m.add(pool, 1, 200 * kSec);  // deadline 200 s
  m.add(pool, 2, 200 * kSec);
  m.now = 300 * kSec;
  m.add(pool, 3, 200 * kSec);  // 300 s after 2: fires 1 and 2
  EXPECT_EQ(m.fired, 2u);
  m.check(pool);
  // Through a removal: 3 (500 s), 4 (650 s), 5 (800 s), 6 (999 s) chain fine. Removing 4 at
  // 799 s would chain 5 to 3 with 300 s: 3 is overdue and fires first; 5 and 6 keep theirs.
  m.now = 450 * kSec;
  m.add(pool, 4, 200 * kSec);
  m.now = 600 * kSec;
  m.add(pool, 5, 200 * kSec);
  m.now = 799 * kSec;
  m.add(pool, 6, 200 * kSec);
  m.remove(pool, 4);
  EXPECT_EQ(m.fired, 3u);
  m.check(pool);
  m.add(pool, 4, 200 * kSec);  // re-armed behind 6: 999 s too
  m.remove(pool, 6);           // from the middle again: 4 moves into 6's node
  m.check(pool);
  m.advance(pool, 800 * kSec - 1);
  EXPECT_EQ(pool.size(), 2u);
  m.advance(pool, 800 * kSec);
  EXPECT_EQ(pool.size(), 1u);
  m.advance(pool, 999 * kSec);
  EXPECT_EQ(pool.size(), 0u);
  EXPECT_EQ(m.fired, 5u);
  EXPECT_GT(m.moves, 0u);
}

// ---- a Stack with 20k real TIME_WAIT entries ----

TEST(StackTimeWait, TwentyThousandEntriesAnswerExpireAndCostUnder64Bytes) {
  constexpr std::uint64_t kN = 20000;
  twfill::counting = &g_count;
  twfill::Pair p(kN, 1);
  for (std::uint64_t i : {0, 9998, 9999, 10000, 10001, 10002, 19999}) p.watch(i);
  ASSERT_TRUE(p.fill(kN));
  EXPECT_EQ(p.client.timewait_count(), kN);
  EXPECT_EQ(p.client.counters().TW, kN);
  EXPECT_EQ(p.client.connection_count(), 0u);
  EXPECT_EQ(p.server.timewait_count(), 0u);
  const std::uint64_t filled_at = p.now;
  ASSERT_LT(filled_at, kSec);

  const Config cfg = twfill::client_config(kN);
  EXPECT_EQ(sizeof(TwEntry), 48u);
  EXPECT_LE(Stack::timewait_entry_bytes(cfg), 64.0);

  // A retransmitted FIN into entry i: the TW ACK carries the entry's snd_nxt / rcv_nxt.
  auto probe = [&](std::uint64_t i) {
    const auto ports = twfill::ports_of(i);
    const std::uint32_t srv_nxt = p.server_nxt.at(ports);
    p.c2s.q.clear();
    const auto fin = twfill::to_client(i, srv_nxt - 1, p.client_nxt.at(ports),
                                       wire::tcp_flags::kFin | wire::tcp_flags::kAck);
    g_count = true;
    p.client.input(fin, p.now);
    g_count = false;
    if (p.c2s.q.size() != 1) return false;
    const auto a = wire::parse_segment(p.c2s.q.front());
    p.c2s.q.clear();
    return a.ok() && a->flags == wire::tcp_flags::kAck && a->seq == p.client_nxt.at(ports) &&
           a->ack == srv_nxt && a->dst_port == ports.second;
  };
  p.now = filled_at + kSec;
  g_allocs = 0;
  for (std::uint64_t i : {0, 9998, 10000, 19999}) EXPECT_TRUE(probe(i)) << i;  // re-arms them
  // An exact RST kills 9999 (W1): its successor in the queue moves into its node.
  {
    const auto rst =
        twfill::to_client(9999, p.server_nxt.at(twfill::ports_of(9999)), 0, wire::tcp_flags::kRst);
    g_count = true;
    p.client.input(rst, p.now);
    g_count = false;
  }
  EXPECT_EQ(p.client.timewait_count(), kN - 1);
  EXPECT_FALSE(probe(9999));  // now a stray: RST, not an ACK
  for (std::uint64_t i : {9998, 10000, 10001, 10002}) EXPECT_TRUE(probe(i)) << i;
  EXPECT_EQ(g_allocs, 0u);

  // 60 s after creation everything expires but the six re-armed entries.
  p.client.advance(filled_at + 60 * kSec + 2 * kMs);
  EXPECT_EQ(p.client.timewait_count(), 6u);
  const std::uint64_t rearmed_until = (p.now + 60 * kSec + kMs - 1) / kMs * kMs;  // 1 ms ticks
  EXPECT_EQ(p.client.next_wakeup(), rearmed_until);
  p.client.advance(rearmed_until - 1);
  EXPECT_EQ(p.client.timewait_count(), 6u);
  p.client.advance(rearmed_until);
  EXPECT_EQ(p.client.timewait_count(), 0u);
  EXPECT_EQ(p.client.counters().TW, kN);  // >= 4.1 counts at creation only
  twfill::counting = nullptr;
}

TEST(StackTimeWait, LinuxThreeCountsAtExpiryByTheLastArmedLifetime) {
  twfill::Pair p(0, 1);
  Config c3 = twfill::client_config(100);
  c3.kernel_model = KernelModel::V3_10;
  c3.tcp_fin_timeout = 3;  // a FIN_WAIT2 orphan lasts 3 s: TWKilled on 3.x
  Stack client(c3, twfill::identity(twfill::kClientAddr, 2, 1), p.c2s);
  p.c2s.watch = nullptr;
  // Connection 0 ends in TIME_WAIT (F6 re-arms it for 60 s); connection 1's FIN_WAIT2
  // stand-in never sees the server's FIN (nobody closes on port 1001) and expires after 3 s.
  ASSERT_TRUE(p.server.listen(1001, {}));
  for (std::uint16_t rport : {1000, 1001}) {
    ConnectOptions o;
    o.local_port = static_cast<std::uint16_t>(2000 + rport);
    o.callbacks.on_connected = [&client](ConnId id) { client.close(id); };
    ASSERT_TRUE(client.connect(twfill::kServerAddr, rport, std::move(o)).ok());
  }
  for (int r = 0; r < 20; ++r) {
    p.now += 1;
    auto a = std::move(p.c2s.q);
    auto b = std::move(p.s2c.q);
    p.c2s.q.clear();
    p.s2c.q.clear();
    for (const auto& f : a) p.server.input(f, p.now);
    for (const auto& f : b) client.input(f, p.now);
  }
  ASSERT_EQ(client.timewait_count(), 2u);
  EXPECT_EQ(client.counters().TW + client.counters().TWKilled, 0u);  // not at creation on 3.x
  client.advance(p.now + 3 * kSec + kMs);
  EXPECT_EQ(client.timewait_count(), 1u);
  EXPECT_EQ(client.counters().TWKilled, 1u);  // last armed for 3 s <= 3.968 s
  EXPECT_EQ(client.counters().TW, 0u);
  client.advance(p.now + 60 * kSec + kMs);
  EXPECT_EQ(client.timewait_count(), 0u);
  EXPECT_EQ(client.counters().TW, 1u);
  EXPECT_EQ(client.counters().TWKilled, 1u);
}

}  // namespace
}  // namespace twtcp
