// tests/timer/test_wheel.cpp: behaviour of the hashed timing wheel.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "timer/wheel.hpp"

namespace twtcp::timer {
namespace {

constexpr uint64_t kMs = 1000;

// A timed object as the stack will have them: the Timer is a member, the callback
// recovers the owner from it.
struct Item {
  int id = 0;
  Timer timer;
};

Item& owner(Timer& t) {
  return owner_of(t, &Item::timer);
}

uint64_t ceil_tick(uint64_t us, uint64_t tick_us) {
  return (us + tick_us - 1) / tick_us;
}

TEST(TimerWheel, DefaultGeometryIsValid) {
  EXPECT_EQ(WheelGeometry{}.validate(), nullptr);
}

TEST(TimerWheel, GeometryValidationRejectsBadConfigWithAReason) {
  WheelGeometry g;
  g.slots = 1000;
  ASSERT_NE(g.validate(), nullptr);
  EXPECT_NE(std::string(g.validate()).find("power of two"), std::string::npos);
  EXPECT_THROW(TimerWheel(g, 0), std::invalid_argument);

  g = {};
  g.tick_us = 0;
  EXPECT_NE(g.validate(), nullptr);
  g = {};
  g.slots = 32;
  EXPECT_NE(g.validate(), nullptr);
  g = {};
  g.levels = 0;
  EXPECT_NE(g.validate(), nullptr);
  g = {};
  g.levels = 5;
  EXPECT_NE(g.validate(), nullptr);
  g = {};
  g.slots = 1 << 20;
  g.levels = 3;  // 2^60 ticks
  EXPECT_NE(g.validate(), nullptr);
}

TEST(TimerWheel, FiresInTickOrderAcrossSlots) {
  TimerWheel w({}, 0);
  std::vector<Item> items(8);
  const uint64_t deadlines[] = {70 * kMs,   3 * kMs,    9000 * kMs,  1 * kMs,
                                4095 * kMs, 4097 * kMs, 60000 * kMs, 5 * kMs};
  for (int i = 0; i < 8; ++i) {
    items[i].id = i;
    w.schedule(items[i].timer, deadlines[i]);
  }
  EXPECT_EQ(w.size(), 8u);
  std::vector<uint64_t> fired;
  EXPECT_EQ(w.advance(100000 * kMs, [&](Timer& t) { fired.push_back(deadlines[owner(t).id]); }),
            8u);
  std::vector<uint64_t> sorted(std::begin(deadlines), std::end(deadlines));
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(fired, sorted);
  EXPECT_EQ(w.size(), 0u);
}

TEST(TimerWheel, SameTickFiresInScheduleOrder) {
  TimerWheel w({}, 0);
  std::vector<Item> items(5);
  for (int i = 0; i < 5; ++i) {
    items[i].id = i;
    w.schedule(items[i].timer, 42 * kMs + static_cast<uint64_t>(i) * 100);  // all round to 43
  }
  std::vector<int> order;
  w.advance(43 * kMs, [&](Timer& t) { order.push_back(owner(t).id); });
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(TimerWheel, NeverFiresBeforeDeadlineAndFiresAtItsRoundedTick) {
  TimerWheel w({}, 0);
  Item a, b;
  w.schedule(a.timer, 1500);  // between ticks: rounds up to tick 2
  w.schedule(b.timer, 3000);  // on a tick boundary
  int fired = 0;
  auto cb = [&](Timer&) { ++fired; };
  EXPECT_EQ(w.advance(1499, cb), 0u);
  EXPECT_EQ(w.advance(1999, cb), 0u);
  EXPECT_EQ(w.advance(2000, cb), 1u);
  EXPECT_FALSE(a.timer.armed());
  EXPECT_EQ(w.advance(2999, cb), 0u);
  EXPECT_EQ(w.advance(3000, cb), 1u);
  EXPECT_EQ(fired, 2);
}

TEST(TimerWheel, EveryTimerFiresAtExactlyItsTickWhenSteppedTickByTick) {
  WheelGeometry g;
  g.slots = 64;
  g.levels = 2;  // level 0 spans 64 ticks, level 1 4096: deadlines cross both and park
  TimerWheel w(g, 0);
  std::mt19937_64 rng(1);
  std::vector<Item> items(2000);
  std::vector<uint64_t> tick(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    items[i].id = static_cast<int>(i);
    const uint64_t us = 1 + rng() % (20000 * kMs);
    tick[i] = ceil_tick(us, kMs);
    w.schedule(items[i].timer, us);
  }
  for (uint64_t now = 0; now <= 20000; ++now) {
    w.advance(now * kMs, [&](Timer& t) { ASSERT_EQ(tick[owner(t).id], now); });
  }
  EXPECT_EQ(w.size(), 0u);
}

TEST(TimerWheel, CancelOfUnarmedTimerIsANoop) {
  TimerWheel w({}, 0);
  Item a, b;
  w.cancel(a.timer);
  EXPECT_EQ(w.size(), 0u);
  w.schedule(b.timer, 5 * kMs);
  w.cancel(a.timer);
  EXPECT_EQ(w.size(), 1u);
  w.cancel(b.timer);
  w.cancel(b.timer);
  EXPECT_EQ(w.size(), 0u);
  EXPECT_FALSE(b.timer.armed());
  EXPECT_EQ(w.advance(10 * kMs, [](Timer&) { FAIL(); }), 0u);
}

TEST(TimerWheel, RescheduleMovesAnArmedTimer) {
  TimerWheel w({}, 0);
  Item a;
  w.schedule(a.timer, 10 * kMs);
  w.schedule(a.timer, 5000 * kMs);  // into level 1
  w.schedule(a.timer, 7 * kMs);     // and back
  EXPECT_EQ(w.size(), 1u);
  std::vector<uint64_t> at;
  w.advance(6 * kMs, [&](Timer&) { at.push_back(6); });
  w.advance(7 * kMs, [&](Timer&) { at.push_back(7); });
  w.advance(20000 * kMs, [&](Timer&) { at.push_back(0); });
  EXPECT_EQ(at, (std::vector<uint64_t>{7}));
}

TEST(TimerWheel, CancelFromCallbackOfATimerDueInTheSameTick) {
  TimerWheel w({}, 0);
  Item a, b, c;
  a.id = 1;
  b.id = 2;
  c.id = 3;
  w.schedule(a.timer, 5 * kMs);
  w.schedule(b.timer, 5 * kMs);
  w.schedule(c.timer, 5 * kMs);
  std::vector<int> fired;
  w.advance(5 * kMs, [&](Timer& t) {
    fired.push_back(owner(t).id);
    if (owner(t).id == 1) w.cancel(b.timer);
  });
  EXPECT_EQ(fired, (std::vector<int>{1, 3}));
  EXPECT_EQ(w.size(), 0u);
  EXPECT_FALSE(b.timer.armed());
}

TEST(TimerWheel, CancelFromCallbackOfATimerInALaterSlot) {
  TimerWheel w({}, 0);
  Item a, b, c;
  a.id = 1;
  b.id = 2;
  c.id = 3;
  w.schedule(a.timer, 5 * kMs);
  w.schedule(b.timer, 6 * kMs);
  w.schedule(c.timer, 9000 * kMs);  // level 1
  std::vector<int> fired;
  w.advance(10000 * kMs, [&](Timer& t) {
    fired.push_back(owner(t).id);
    w.cancel(b.timer);
    w.cancel(c.timer);
  });
  EXPECT_EQ(fired, (std::vector<int>{1}));
  EXPECT_EQ(w.size(), 0u);
}

TEST(TimerWheel, CallbackReschedulesItselfAndFiresAgainInTheSameAdvance) {
  TimerWheel w({}, 0);
  Item a;
  w.schedule(a.timer, 10 * kMs);
  std::vector<uint64_t> ticks;
  w.advance(100 * kMs, [&](Timer& t) {
    ticks.push_back(w.now_tick());
    w.schedule(t, (w.now_tick() + 10) * kMs);
  });
  EXPECT_EQ(ticks, (std::vector<uint64_t>{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}));
  EXPECT_TRUE(a.timer.armed());
  EXPECT_EQ(a.timer.expiry_tick(), 110u);
  EXPECT_EQ(w.size(), 1u);
}

TEST(TimerWheel, CallbackReschedulingIntoThePastFiresOnTheNextAdvanceNotForever) {
  TimerWheel w({}, 0);
  Item a;
  w.schedule(a.timer, 1 * kMs);
  int fired = 0;
  auto cb = [&](Timer& t) {
    ++fired;
    w.schedule(t, 0);
  };
  EXPECT_EQ(w.advance(1 * kMs, cb), 1u);
  EXPECT_EQ(w.advance(1 * kMs, cb), 1u);  // no time passed: the overdue timer still fires
  EXPECT_EQ(fired, 2);
}

TEST(TimerWheel, CallbackSchedulesNewTimers) {
  TimerWheel w({}, 0);
  Item a, later, past;
  a.id = 1;
  later.id = 2;
  past.id = 3;
  w.schedule(a.timer, 10 * kMs);
  std::vector<std::pair<int, uint64_t>> fired;
  auto cb = [&](Timer& t) {
    fired.emplace_back(owner(t).id, w.now_tick());
    if (owner(t).id == 1) {
      w.schedule(later.timer, 5000 * kMs);  // inside this advance's range, level 1
      w.schedule(past.timer, 3 * kMs);      // already passed
    }
  };
  w.advance(6000 * kMs, cb);
  EXPECT_EQ(fired, (std::vector<std::pair<int, uint64_t>>{{1, 10}, {2, 5000}}));
  EXPECT_TRUE(past.timer.armed());
  w.advance(6000 * kMs, cb);
  EXPECT_EQ(fired.back().first, 3);
  EXPECT_EQ(w.size(), 0u);
}

TEST(TimerWheel, ScheduleInThePastFiresOnTheNextAdvance) {
  TimerWheel w({}, 50 * kMs);
  Item a;
  w.schedule(a.timer, 10 * kMs);
  int fired = 0;
  EXPECT_EQ(w.advance(50 * kMs, [&](Timer&) { ++fired; }), 1u);
  EXPECT_EQ(fired, 1);
}

TEST(TimerWheel, TimeGoingBackwardsIsNoTimePassing) {
  TimerWheel w({}, 100 * kMs);
  Item a;
  w.schedule(a.timer, 150 * kMs);
  EXPECT_EQ(w.advance(20 * kMs, [](Timer&) {}), 0u);
  EXPECT_EQ(w.now_tick(), 100u);
  EXPECT_EQ(w.advance(150 * kMs, [](Timer&) {}), 1u);
}

TEST(TimerWheel, MaxFireBoundsWorkPerCallAndTheRestFiresNextInOrder) {
  TimerWheel w({}, 0);
  std::vector<Item> items(10);
  for (int i = 0; i < 10; ++i) {
    items[i].id = i;
    w.schedule(items[i].timer, static_cast<uint64_t>(1 + i / 4) * kMs);  // ticks 1,1,1,1,2,...
  }
  std::vector<int> order;
  auto cb = [&](Timer& t) { order.push_back(owner(t).id); };
  EXPECT_EQ(w.advance(10 * kMs, cb, 3), 3u);
  EXPECT_EQ(w.size(), 7u);
  EXPECT_EQ(w.next_expiry_hint(), w.now_tick() * kMs);  // work is pending now
  EXPECT_EQ(w.advance(10 * kMs, cb, 3), 3u);
  EXPECT_EQ(w.advance(10 * kMs, cb, 3), 3u);
  EXPECT_EQ(w.advance(10 * kMs, cb, 3), 1u);
  EXPECT_EQ(w.advance(10 * kMs, cb, 3), 0u);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(w.advance(10 * kMs, cb, 0), 0u);
}

TEST(TimerWheel, MaxFireZeroStillMovesNothingAndLosesNothing) {
  TimerWheel w({}, 0);
  Item a;
  w.schedule(a.timer, 5 * kMs);
  EXPECT_EQ(w.advance(
                10 * kMs, [](Timer&) {}, 0),
            0u);
  EXPECT_TRUE(a.timer.armed());
  EXPECT_EQ(w.advance(10 * kMs, [](Timer&) {}), 1u);
}

TEST(TimerWheel, DestroyingAnArmedTimerCancelsIt) {
  TimerWheel w({}, 0);
  {
    Item a;
    w.schedule(a.timer, 5 * kMs);
    EXPECT_EQ(w.size(), 1u);
  }
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(w.advance(10 * kMs, [](Timer&) { FAIL(); }), 0u);
}

TEST(TimerWheel, CallbackMayDestroyTheFiredObjectAndOthers) {
  TimerWheel w({}, 0);
  auto a = std::make_unique<Item>();
  auto b = std::make_unique<Item>();
  a->id = 1;
  b->id = 2;
  w.schedule(a->timer, 5 * kMs);
  w.schedule(b->timer, 5 * kMs);
  int fired = 0;
  w.advance(5 * kMs, [&](Timer& t) {
    ++fired;
    EXPECT_EQ(owner(t).id, 1);
    a.reset();  // the fired object itself
    b.reset();  // an armed one due in the same tick
  });
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(w.size(), 0u);
}

TEST(TimerWheel, TimersOutlivingTheWheelAreDisarmed) {
  Item a;
  {
    TimerWheel w({}, 0);
    w.schedule(a.timer, 5 * kMs);
  }
  EXPECT_FALSE(a.timer.armed());
}

TEST(TimerWheel, NextExpiryHintIsALowerBoundThatReachesTheTimer) {
  TimerWheel w({}, 0);
  EXPECT_EQ(w.next_expiry_hint(), UINT64_MAX);
  Item a;
  w.schedule(a.timer, 60000 * kMs + 300);  // TIME_WAIT-like, level 1; due at tick 60001
  int fired = 0;
  int polls = 0;
  while (fired == 0) {
    const uint64_t hint = w.next_expiry_hint();
    ASSERT_LE(hint, 60001 * kMs);
    w.advance(hint, [&](Timer&) { ++fired; });
    ASSERT_LT(++polls, 10);
  }
  EXPECT_EQ(w.now_tick(), 60001u);
  EXPECT_EQ(w.next_expiry_hint(), UINT64_MAX);
}

// Deadlines from 0 to 1000 rotations of level 0 (and far beyond the top level, which
// parks and re-places them), fired by a few huge jumps: each fires once, in tick order,
// in the advance() that first passes its tick.
void JumpOverManyRotations(WheelGeometry g) {
  TimerWheel w(g, 0);
  const uint64_t rotation = g.slots;
  std::mt19937_64 rng(7);
  std::vector<Item> items(20000);
  std::vector<uint64_t> tick(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    items[i].id = static_cast<int>(i);
    const uint64_t rounds = rng() % 1001;
    tick[i] = rounds * rotation + rng() % rotation + 1;
    w.schedule(items[i].timer, tick[i] * g.tick_us);
  }
  std::vector<int> count(items.size());
  uint64_t last = 0;
  uint64_t prev_target = 0;
  const uint64_t targets[] = {3, 5 * rotation + 7, 400 * rotation, 400 * rotation + 1,
                              1002 * rotation};
  for (uint64_t target : targets) {
    w.advance(target * g.tick_us, [&](Timer& t) {
      const auto id = static_cast<size_t>(owner(t).id);
      ++count[id];
      EXPECT_GT(tick[id], prev_target);
      EXPECT_LE(tick[id], target);
      EXPECT_GE(tick[id], last);
      last = tick[id];
    });
    prev_target = target;
  }
  for (size_t i = 0; i < items.size(); ++i) ASSERT_EQ(count[i], 1) << i;
  EXPECT_EQ(w.size(), 0u);
}

TEST(TimerWheel, TimeJumpOverAThousandRotationsTwoLevels) {
  WheelGeometry g;
  g.slots = 64;
  g.levels = 2;
  g.tick_us = 10;
  JumpOverManyRotations(g);
}

TEST(TimerWheel, TimeJumpOverAThousandRotationsSingleLevelRounds) {
  WheelGeometry g;
  g.slots = 64;
  g.levels = 1;
  JumpOverManyRotations(g);
}

TEST(TimerWheel, TimeJumpOverAThousandRotationsDefaultGeometry) {
  JumpOverManyRotations(WheelGeometry{});
}

TEST(TimerWheel, OneMillionTimersFireExactlyOnceAtTheirTick) {
  TimerWheel w({}, 0);
  constexpr size_t kN = 1'000'000;
  auto items = std::make_unique<Item[]>(kN);
  std::vector<uint64_t> tick(kN);
  std::vector<uint8_t> count(kN);
  std::mt19937_64 rng(42);
  for (size_t i = 0; i < kN; ++i) {
    items[i].id = static_cast<int>(i);
    const uint64_t us = 1 + rng() % (7200ull * 1000 * kMs);  // up to 2 h: both levels
    tick[i] = ceil_tick(us, kMs);
    w.schedule(items[i].timer, us);
  }
  EXPECT_EQ(w.size(), kN);
  uint64_t now = 0;
  uint64_t last = 0;
  size_t total = 0;
  bool ok = true;
  while (w.size() > 0) {
    const uint64_t prev = now;
    now += 1 + rng() % 5000;  // irregular poll steps of up to 5 s
    total += w.advance(now * kMs, [&](Timer& t) {
      const auto id = static_cast<size_t>(owner(t).id);
      ok = ok && count[id] == 0 && tick[id] > prev && tick[id] <= now && tick[id] >= last;
      ++count[id];
      last = tick[id];
    });
  }
  EXPECT_TRUE(ok);
  EXPECT_EQ(total, kN);
  EXPECT_TRUE(std::all_of(count.begin(), count.end(), [](uint8_t c) { return c == 1; }));
}

// The order timers fire in, and the tick they fire at, must not depend on how time is
// advanced. Stepping one tick at a time never lets a whole level-0 rotation be due at a
// cascade, so it is the reference; one long jump lets advance() fire level-1 slots
// that are in tick order straight from the slot (run_); max_fire cuts that run at
// arbitrary points. Deadlines sit on a coarse grid so that ties between cascaded timers,
// timers scheduled straight into level 0 and timers added by callbacks are frequent.
struct Fired {
  int id;
  uint64_t tick;
  friend bool operator==(const Fired&, const Fired&) = default;
};

std::vector<Fired> RunScenario(WheelGeometry g, uint64_t seed, int mode) {
  TimerWheel w(g, 0);
  constexpr size_t kItems = 400;
  std::vector<Item> items(kItems);
  for (size_t i = 0; i < kItems; ++i) items[i].id = static_cast<int>(i);
  std::mt19937_64 rng(seed);
  const uint64_t span = 6ull * g.slots * g.slots / 5;  // ticks: several level-1 slots
  auto on_grid = [&](uint64_t t) { return t - t % 5 + 5; };
  // Sorted deadlines (slots in tick order: the direct-fire path), a few random ones
  // (slots out of order: the relink path) and some due within the first rotation.
  std::vector<uint64_t> sorted(300);
  for (auto& d : sorted) d = on_grid(rng() % span);
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < 300; ++i) w.schedule(items[i].timer, sorted[i] * g.tick_us);
  for (size_t i = 300; i < 350; ++i) w.schedule(items[i].timer, on_grid(rng() % span) * g.tick_us);
  for (size_t i = 350; i < 380; ++i) {
    w.schedule(items[i].timer, on_grid(rng() % g.slots) * g.tick_us);
  }
  std::vector<Fired> out;
  std::mt19937_64 cb_rng(seed + 1);  // consumed only in callbacks: same sequence if same order
  auto cb = [&](Timer& t) {
    out.push_back({owner(t).id, w.now_tick()});
    const uint64_t now = w.now_tick();
    switch (cb_rng() % 8) {
      case 0:  // re-arm itself, often onto a tick other timers are due at
        w.schedule(t, on_grid(now + cb_rng() % (2 * g.slots)) * g.tick_us);
        break;
      case 1:  // cancel another (maybe one waiting in the same cascaded slot)
        w.cancel(items[cb_rng() % kItems].timer);
        break;
      case 2:  // (re)schedule another, maybe at this very rotation
        w.schedule(items[380 + cb_rng() % 20].timer, on_grid(now + cb_rng() % g.slots) * g.tick_us);
        break;
      case 3:  // move a not yet fired timer
        w.schedule(items[cb_rng() % 350].timer, on_grid(now + cb_rng() % span) * g.tick_us);
        break;
      default:
        break;
    }
  };
  const uint64_t end = 3 * span;
  if (mode == 0) {
    for (uint64_t tk = 1; tk <= end; ++tk) w.advance(tk * g.tick_us, cb);
  } else if (mode == 1) {
    w.advance(end * g.tick_us, cb);
  } else {
    std::mt19937_64 cut(seed + 2);
    while (w.advance(end * g.tick_us, cb, 1 + cut() % 3) != 0) {
    }
  }
  EXPECT_EQ(w.size(), 0u);
  return out;
}

TEST(TimerWheel, FiringOrderIsTheSameWhetherSteppedJumpedOrCutByMaxFire) {
  for (uint32_t levels = 2; levels <= 3; ++levels) {
    for (uint64_t seed = 1; seed <= 6; ++seed) {
      WheelGeometry g;
      g.slots = 64;
      g.levels = levels;
      g.tick_us = 1 + seed % 2;
      const auto stepped = RunScenario(g, seed, 0);
      ASSERT_GE(stepped.size(), 380u);
      for (size_t k = 1; k < stepped.size(); ++k) ASSERT_LE(stepped[k - 1].tick, stepped[k].tick);
      EXPECT_EQ(RunScenario(g, seed, 1), stepped) << "levels " << levels << " seed " << seed;
      EXPECT_EQ(RunScenario(g, seed, 2), stepped) << "levels " << levels << " seed " << seed;
    }
  }
}

// Timers scheduled in deadline order (the TIME_WAIT pattern) and fired by one long jump:
// each level-1 slot is fired straight from its list; a callback adding a timer at a tick
// a cascaded timer is also due at must fire after it, and one cancelled from a callback
// while still waiting in that list must not fire.
TEST(TimerWheel, LongJumpOverSortedLevelOneSlotsKeepsTickAndCascadeOrder) {
  TimerWheel w({}, 0);
  std::vector<Item> items(6);
  for (size_t i = 0; i < items.size(); ++i) items[i].id = static_cast<int>(i);
  // All beyond level 0 (4096 ticks), in one level-1 slot [8192, 12288), in order.
  w.schedule(items[0].timer, 9000 * kMs);
  w.schedule(items[1].timer, 9000 * kMs);
  w.schedule(items[2].timer, 9500 * kMs);
  w.schedule(items[3].timer, 10000 * kMs);
  std::vector<std::pair<int, uint64_t>> order;
  w.advance(60'000 * kMs, [&](Timer& t) {
    const int id = owner(t).id;
    order.emplace_back(id, w.now_tick());
    if (id == 0) {
      w.schedule(items[4].timer, 9500 * kMs);  // ties with item 2: fires after it
      w.cancel(items[3].timer);                // still waiting in the cascaded slot
    }
    if (id == 4) w.schedule(items[5].timer, 9500 * kMs + 1);  // next tick
  });
  const std::vector<std::pair<int, uint64_t>> want = {
      {0, 9000}, {1, 9000}, {2, 9500}, {4, 9500}, {5, 9501}};
  EXPECT_EQ(order, want);
  EXPECT_EQ(w.size(), 0u);
  EXPECT_FALSE(items[3].timer.armed());
}

// max_fire stopping inside a directly fired level-1 slot leaves the rest, and a level-0
// timer at the same tick, to fire first and in order on the next call.
TEST(TimerWheel, MaxFireInsideADirectlyFiredSlotResumesInOrder) {
  TimerWheel w({}, 0);
  std::vector<Item> items(5);
  for (size_t i = 0; i < items.size(); ++i) items[i].id = static_cast<int>(i);
  w.schedule(items[0].timer, 9000 * kMs);
  w.schedule(items[1].timer, 9000 * kMs);
  w.schedule(items[2].timer, 9000 * kMs);
  w.schedule(items[3].timer, 9100 * kMs);
  std::vector<int> order;
  auto cb = [&](Timer& t) {
    const int id = owner(t).id;
    order.push_back(id);
    if (id == 0) w.schedule(items[4].timer, 9100 * kMs);  // level 0, ties with item 3
  };
  EXPECT_EQ(w.advance(60'000 * kMs, cb, 1), 1u);
  EXPECT_EQ(w.next_expiry_hint(), 9000 * kMs);
  EXPECT_EQ(w.advance(60'000 * kMs, cb, 1), 1u);
  EXPECT_EQ(w.advance(60'000 * kMs, cb), 3u);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(w.size(), 0u);
}

// Random operations, including from inside callbacks, against a model of which timers
// are armed and when they are due.
void RandomAgainstModel(WheelGeometry g, uint64_t seed) {
  TimerWheel w(g, 0);
  std::mt19937_64 rng(seed);
  constexpr size_t kItems = 300;
  std::vector<Item> items(kItems);
  std::vector<bool> armed(kItems);
  std::vector<uint64_t> due(kItems);  // tick
  std::vector<bool> overdue(kItems);  // scheduled at or before the processed tick
  const uint64_t top = uint64_t{1} << (std::countr_zero(g.slots) * g.levels);
  for (size_t i = 0; i < kItems; ++i) items[i].id = static_cast<int>(i);
  size_t model_size = 0;

  auto deadline = [&]() -> uint64_t {  // us, relative to now
    switch (rng() % 4) {
      case 0:
        return rng() % (g.slots * g.tick_us);
      case 1:
        return rng() % (4 * g.slots * g.tick_us);
      case 2:
        return rng() % (top * g.tick_us);
      default:
        return rng() % (3 * top * g.tick_us);
    }
  };
  auto sched = [&](size_t i) {
    const uint64_t now_us = w.now_tick() * g.tick_us;
    const uint64_t at =
        rng() % 5 == 0 ? now_us - std::min(now_us, rng() % (10 * g.tick_us)) : now_us + deadline();
    if (!armed[i]) ++model_size;
    armed[i] = true;
    due[i] = ceil_tick(at, g.tick_us);
    overdue[i] = due[i] <= w.now_tick();
    w.schedule(items[i].timer, at);
  };
  auto cancel = [&](size_t i) {
    if (armed[i]) --model_size;
    armed[i] = false;
    w.cancel(items[i].timer);
  };

  for (int step = 0; step < 3000; ++step) {
    const auto op = rng() % 10;
    const size_t i = rng() % kItems;
    if (op < 5) {
      sched(i);
    } else if (op < 7) {
      cancel(i);
    } else {
      const uint64_t prev = w.now_tick();
      const uint64_t step_ticks = rng() % 2 ? rng() % 8 : rng() % (2 * top);
      const uint64_t target = prev + step_ticks;
      w.advance(target * g.tick_us, [&](Timer& t) {
        const auto id = static_cast<size_t>(owner(t).id);
        ASSERT_TRUE(armed[id]);
        if (!overdue[id]) {
          ASSERT_GT(due[id], prev);
        }
        ASSERT_LE(due[id], target);
        ASSERT_LE(due[id], w.now_tick());
        armed[id] = false;
        --model_size;
        const auto r = rng() % 6;
        if (r == 0) sched(id);
        if (r == 1) cancel(rng() % kItems);
        if (r == 2) sched(rng() % kItems);
      });
      for (size_t k = 0; k < kItems; ++k) {
        // Everything due by now has fired, except what a callback scheduled overdue.
        if (armed[k] && !overdue[k]) {
          ASSERT_GT(due[k], target) << k;
        }
      }
    }
    ASSERT_EQ(w.size(), model_size);
    for (size_t k = 0; k < kItems; ++k) ASSERT_EQ(items[k].timer.armed(), armed[k]);
  }
}

TEST(TimerWheel, RandomOperationsMatchTheModel) {
  for (uint32_t levels = 1; levels <= 3; ++levels) {
    for (uint64_t seed = 1; seed <= 4; ++seed) {
      WheelGeometry g;
      g.slots = 64;
      g.levels = levels;
      g.tick_us = 1 + seed % 3;
      RandomAgainstModel(g, seed * 31 + levels);
      if (HasFatalFailure()) return;
    }
  }
}

}  // namespace
}  // namespace twtcp::timer
