// bench/micro_timer.cpp: twtcp's timing wheel beside DPDK's rte_timer (a skiplist), at
// 1k .. 10M armed timers. The EAL and rte_timer_subsystem_init() are started by
// micro_main.cpp.
//
//   BM_{Wheel,Rte}_ScheduleCancel/N  N timers armed over the next 60 s; time of arming
//                                    one more at a random deadline in that range and
//                                    cancelling it (one iteration = schedule + cancel).
//   BM_{Wheel,Rte}_Expiry/N          N timers armed (untimed), all due; time of firing
//                                    them all in one advance()/rte_timer_manage() call,
//                                    reported per fired timer (items_per_second).
//
// Deadlines: the wheel's are spread uniformly over 60 s of its virtual clock (1 ms ticks,
// so most sit in level 1 and are cascaded once before firing: the TIME_WAIT case).
// rte_timer runs on the real TSC, so its N deadlines are spread over 60 s (ScheduleCancel)
// or 10 us (Expiry, then we spin until all are due); a skiplist's cost does not depend on
// the span. In both, which timer object gets which deadline is a random permutation, so
// expiry walks memory in random order as a real table of connections would.
//
// Set-up of 10M timers takes seconds, so it is done once per (benchmark, N) and reused
// by the repetitions; only one fixture is alive at a time (10M rte_timers are 1.2 GB).
#include <benchmark/benchmark.h>
#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_timer.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <numeric>
#include <random>
#include <vector>

#include "timer/wheel.hpp"

namespace {

using twtcp::timer::Timer;
using twtcp::timer::TimerWheel;
using twtcp::timer::WheelGeometry;

constexpr uint64_t kSpanUs = 60'000'000;  // 60 s
constexpr size_t kExtra = 4096;           // random deadlines for the timed schedule

struct Fixture {
  explicit Fixture(size_t count) : n(count) {}
  virtual ~Fixture() = default;
  int kind = 0;
  size_t n;
};

// The one live fixture. Never destroyed at exit: by then main() has cleaned up the EAL,
// and stopping rte_timers after that is not allowed.
Fixture* g_fixture = nullptr;

template <class T>
T& fixture(int kind, size_t n) {
  if (g_fixture == nullptr || g_fixture->kind != kind || g_fixture->n != n) {
    delete g_fixture;
    g_fixture = nullptr;
    auto* f = new T(n);
    f->kind = kind;
    g_fixture = f;
  }
  return static_cast<T&>(*g_fixture);
}

// Deadline offsets in [1, span]: sorted (so a skiplist is built by cheap appends; its
// shape does not depend on insertion order) and a permutation of the timer objects.
struct Plan {
  std::vector<uint64_t> offset;  // ascending
  std::vector<uint32_t> who;     // offset[k] belongs to timer who[k]
  std::vector<uint64_t> extra;   // random, for the timed schedule
  Plan(size_t n, uint64_t span) : offset(n), who(n), extra(kExtra) {
    std::mt19937_64 rng(n);
    for (auto& o : offset) o = 1 + rng() % span;
    std::sort(offset.begin(), offset.end());
    std::iota(who.begin(), who.end(), 0u);
    std::shuffle(who.begin(), who.end(), rng);
    for (auto& e : extra) e = 1 + rng() % span;
  }
};

// ---------------------------------------------------------------------------------------
// Timing wheel

struct WheelScheduleCancel : Fixture {
  std::unique_ptr<Timer[]> timers;
  TimerWheel wheel{WheelGeometry{}, 0};
  Plan plan;
  explicit WheelScheduleCancel(size_t n) : Fixture(n), timers(new Timer[n]), plan(n, kSpanUs) {
    for (size_t k = 0; k < n; ++k) wheel.schedule(timers[plan.who[k]], plan.offset[k]);
  }
};

void BM_Wheel_ScheduleCancel(benchmark::State& state) {
  auto& f = fixture<WheelScheduleCancel>(1, static_cast<size_t>(state.range(0)));
  Timer extra;
  size_t i = 0;
  for (auto _ : state) {
    f.wheel.schedule(extra, f.plan.extra[i++ & (kExtra - 1)]);
    f.wheel.cancel(extra);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["armed"] = static_cast<double>(f.wheel.size());
}

struct WheelExpiry : Fixture {
  std::unique_ptr<Timer[]> timers;
  TimerWheel wheel{WheelGeometry{}, 0};
  Plan plan;
  explicit WheelExpiry(size_t n) : Fixture(n), timers(new Timer[n]), plan(n, kSpanUs) {}
};

void BM_Wheel_Expiry(benchmark::State& state) {
  auto& f = fixture<WheelExpiry>(2, static_cast<size_t>(state.range(0)));
  uint64_t fired = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const uint64_t base = f.wheel.now_tick() * f.wheel.geometry().tick_us;
    for (size_t k = 0; k < f.n; ++k)
      f.wheel.schedule(f.timers[f.plan.who[k]], base + f.plan.offset[k]);
    state.ResumeTiming();
    fired += f.wheel.advance(base + kSpanUs, [](Timer& t) { benchmark::DoNotOptimize(&t); });
  }
  if (fired != state.iterations() * f.n) state.SkipWithError("not every timer fired");
  state.SetItemsProcessed(static_cast<int64_t>(fired));
}

// ---------------------------------------------------------------------------------------
// rte_timer

uint64_t g_rte_fired = 0;
// 10 us: long enough to spread the deadlines, short enough that waiting for all of them
// (untimed, every iteration) does not dominate the wall time at 1k timers.
uint64_t kRteExpirySpan() {
  return rte_get_timer_hz() / 100000 + 1;
}
void rte_cb(rte_timer*, void*) {
  ++g_rte_fired;
}

struct RteTimers : Fixture {
  std::unique_ptr<rte_timer[]> timers;
  Plan plan;
  unsigned lcore = rte_lcore_id();
  RteTimers(size_t n, uint64_t span_ticks)
      : Fixture(n), timers(new rte_timer[n]), plan(n, span_ticks) {
    for (size_t i = 0; i < n; ++i) rte_timer_init(&timers[i]);
  }
  void arm_all() {
    for (size_t k = 0; k < n; ++k) {
      rte_timer_reset_sync(&timers[plan.who[k]], plan.offset[k], SINGLE, lcore, rte_cb, nullptr);
    }
  }
  ~RteTimers() override {
    for (size_t i = 0; i < n; ++i) rte_timer_stop_sync(&timers[i]);
  }
};

struct RteScheduleCancel : RteTimers {
  explicit RteScheduleCancel(size_t n) : RteTimers(n, 60 * rte_get_timer_hz()) { arm_all(); }
};

void BM_Rte_ScheduleCancel(benchmark::State& state) {
  auto& f = fixture<RteScheduleCancel>(3, static_cast<size_t>(state.range(0)));
  rte_timer extra;
  rte_timer_init(&extra);
  size_t i = 0;
  for (auto _ : state) {
    rte_timer_reset_sync(&extra, f.plan.extra[i++ & (kExtra - 1)], SINGLE, f.lcore, rte_cb,
                         nullptr);
    rte_timer_stop_sync(&extra);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

struct RteExpiry : RteTimers {
  explicit RteExpiry(size_t n) : RteTimers(n, kRteExpirySpan()) {}
};

void BM_Rte_Expiry(benchmark::State& state) {
  auto& f = fixture<RteExpiry>(4, static_cast<size_t>(state.range(0)));
  g_rte_fired = 0;
  for (auto _ : state) {
    state.PauseTiming();
    f.arm_all();
    // Deadlines are on the real TSC: wait (untimed) until the last one has passed.
    const uint64_t all_due = rte_get_timer_cycles() + kRteExpirySpan() + 1;
    while (rte_get_timer_cycles() < all_due) {
    }
    state.ResumeTiming();
    rte_timer_manage();
  }
  if (g_rte_fired != state.iterations() * f.n) state.SkipWithError("not every timer fired");
  state.SetItemsProcessed(static_cast<int64_t>(g_rte_fired));
}

#define TWTCP_TIMER_SIZES ->Arg(1000)->Arg(100000)->Arg(1000000)->Arg(10000000)

BENCHMARK(BM_Wheel_ScheduleCancel) TWTCP_TIMER_SIZES;
BENCHMARK(BM_Rte_ScheduleCancel) TWTCP_TIMER_SIZES;
BENCHMARK(BM_Wheel_Expiry) TWTCP_TIMER_SIZES->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Rte_Expiry) TWTCP_TIMER_SIZES->Unit(benchmark::kMillisecond);

}  // namespace
