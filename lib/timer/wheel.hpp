// lib/timer/wheel.hpp: a hierarchical hashed timing wheel for the sans-IO core.
//
// Timed objects (TIME_WAIT entries, connections for RTO/keepalive) embed a
// twtcp::timer::Timer; the wheel links that Timer into its slot lists through a
// Boost.Intrusive hook, so schedule/cancel/reschedule are O(1) and never allocate.
// Time is a virtual clock in microseconds handed in by the caller; the wheel never
// reads a clock.
//
// Geometry (defaults: tick_us = 1000, slots = 4096, levels = 2):
//
//   level  slot width             slots  span of the level          holds deadlines
//   -----  ---------------------  -----  -------------------------  ----------------------
//     0    1 tick    =   1 ms     4096   4096 ticks   =   4.096 s   < 4.096 s ahead
//     1    4096 ticks = 4.096 s   4096   4096^2 ticks ~  4.66 h     < 4.66 h ahead
//   beyond the top level: parked in the farthest top-level slot and re-placed when that
//   slot cascades (once per 4.66 h: the "rounds" fallback, see below)
//
//   Memory: levels * slots * 16 B of list heads (128 KiB) + 1 bit per slot (1 KiB).
//   RTO (200 ms .. 120 s) and TIME_WAIT (60 s, or minutes if configured) fit in the two
//   levels: a 60 s TIME_WAIT timer is moved once (level 1 -> level 0) before it fires.
//
// Why levels rather than a single wheel with a rounds counter (Netty/ns-3 style): with
// rounds, every slot visit walks all the timers hashed there, including the ones that
// are whole rotations away, so a 60 s TIME_WAIT timer on a 4 s wheel is touched 15 times
// and the cost of expiring one timer grows with the population of long timers. With
// levels (Varghese & Lauck scheme 7; Kafka's TimingWheel) each timer is relinked at most
// levels-1 times and (levels >= 2) a level-0 slot only ever holds timers due at exactly
// that tick, so its whole list is spliced out in O(1). Unlike Linux's non-cascading wheel
// (kernel 4.8+) we cascade, so a timer fires at its own tick, not up to 12.5% late. levels = 1
// gives the plain rounds wheel (a deadline further than one rotation is re-placed each lap).
//
// Firing rule: a timer scheduled for time T (us) fires during the first advance(now)
// with now >= ceil(T / tick_us) * tick_us: never before T, at most one tick after it.
// Order: by tick; within one tick, in the order the timers reached the level-0 slot,
// which is schedule order for timers scheduled less than one level-0 rotation ahead
// (a timer cascaded from level 1 joins the slot's list at cascade time).
//
// A time jump costs O(slots visited + timers moved or fired), not O(ticks): advance()
// finds the next non-empty slot of every level with per-level occupancy bitmaps and
// jumps straight to it; only timers parked beyond the top level are touched once per
// top-level rotation crossed.
//
// Not thread-safe: one wheel per lcore (run to completion). Times must stay below 2^63 us.
#pragma once

#include <bit>
#include <boost/intrusive/list.hpp>
#include <boost/intrusive/parent_from_member.hpp>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

namespace twtcp {
struct Config;
}  // namespace twtcp

namespace twtcp::timer {

class TimerWheel;

// Wheel configuration (config time; validate() before constructing a TimerWheel).
// The defaults are twtcp::Config's (twtcp.timer_tick_us, timer_slots, timer_levels).
struct WheelGeometry {
  uint64_t tick_us = 1000;  // granularity: 1 ms is RTO-grade (RFC 6298 min RTO is 1 s)
  uint32_t slots = 4096;    // per level, power of two in [64, 2^20]
  uint32_t levels = 2;      // 1 = single wheel with rounds, up to 4

  // nullptr if usable, else a static string saying what is wrong.
  [[nodiscard]] const char* validate() const noexcept;

  friend bool operator==(const WheelGeometry&, const WheelGeometry&) = default;
};

// twtcp.timer_tick_us, twtcp.timer_slots and twtcp.timer_levels. Config's per-key ranges and
// its cross-key check (slots^levels <= 2^48 ticks) match validate(), so a Config that passed
// twtcp::validate() gives a geometry that validates (tests/timer checks every combination);
// values set directly in code, bypassing the parser, are not clamped: validate() still decides.
[[nodiscard]] WheelGeometry geometry_from_config(const Config& cfg) noexcept;

// The hook an object embeds to be timed. 32 bytes: list links (16), the expiry tick and
// the owning wheel (so armed() is exact and destroying an armed Timer disarms it).
// Not copyable or movable: the wheel holds its address.
class Timer {
 public:
  Timer() noexcept = default;
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  // Destroying an armed Timer cancels it (size() stays exact), so an object may be
  // freed without remembering to cancel first.
  ~Timer();

  [[nodiscard]] bool armed() const noexcept { return wheel_ != nullptr; }
  // The tick it is (or was last) due at: ceil(expires_at_us / tick_us).
  [[nodiscard]] uint64_t expiry_tick() const noexcept { return tick_; }

 private:
  friend class TimerWheel;
  using Hook = boost::intrusive::list_member_hook<
      boost::intrusive::link_mode<boost::intrusive::auto_unlink>>;
  Hook hook_;
  uint64_t tick_ = 0;
  TimerWheel* wheel_ = nullptr;
};

// The object that embeds t as its member `member`: what an on_expire callback needs
// first, e.g. `TwEntry& e = owner_of(t, &TwEntry::timer);`.
template <class Owner>
Owner& owner_of(Timer& t, Timer Owner::*member) noexcept {
  return *boost::intrusive::get_parent_from_member<Owner, Timer>(&t, member);
}

static_assert(sizeof(Timer) == 32, "Timer is embedded in every connection and TIME_WAIT entry");

class TimerWheel {
 public:
  // Throws std::invalid_argument with WheelGeometry::validate()'s reason: geometry is
  // configuration, so this happens at start-up, never on the fast path. now_us is the
  // current virtual time; ticks up to floor(now_us / tick_us) count as already passed.
  TimerWheel(WheelGeometry geometry, uint64_t now_us);
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;
  // Disarms every timer still linked (their destructors then do nothing).
  ~TimerWheel();

  // Arms t for expires_at_us, or moves it there if already armed (reschedule), even
  // from inside an advance() callback. A deadline at or before the last tick already
  // processed fires at the next advance() call (not the running one, so a callback that
  // re-arms itself into the past cannot loop forever). O(1), allocates nothing.
  void schedule(Timer& t, uint64_t expires_at_us) noexcept {
    if (t.wheel_ != nullptr) t.wheel_->cancel(t);
    t.tick_ = expires_at_us / tick_us_ + (expires_at_us % tick_us_ != 0 ? 1 : 0);
    t.wheel_ = this;
    ++count_;
    if (t.tick_ <= now_tick_) {
      overdue_.push_back(t);
    } else {
      place(t, now_tick_ + 1);
    }
  }

  // Disarms t. A no-op if t is not armed (or armed on another wheel, which would be a
  // caller bug: that wheel's own cancel() is called instead). Safe from a callback,
  // including on a timer due in the same tick that has not fired yet. O(1).
  void cancel(Timer& t) noexcept {
    if (t.wheel_ == nullptr) return;
    if (t.wheel_ != this) {
      t.wheel_->cancel(t);
      return;
    }
    t.hook_.unlink();
    t.wheel_ = nullptr;
    --count_;
  }

  [[nodiscard]] bool armed(const Timer& t) const noexcept { return t.wheel_ == this; }

  // Moves time to now_us and calls on_expire(Timer&) for every timer now due, in tick
  // order, at most max_fire times; what is left fires first on the next call. A timer is
  // disarmed before its callback runs, so the callback may re-arm it, cancel or
  // schedule any timer, or destroy the object that embeds the fired timer. now_us
  // smaller than a previous call is treated as "no time passed". Returns timers fired.
  template <class F>
  size_t advance(uint64_t now_us, F&& on_expire, size_t max_fire = SIZE_MAX);

  // Lower bound of the next time (us) at which advance() may fire something: a poll
  // loop may sleep until then. now's tick if something is already due, UINT64_MAX if
  // nothing is armed. Conservative (it may be early, never late).
  [[nodiscard]] uint64_t next_expiry_hint() const noexcept;

  [[nodiscard]] size_t size() const noexcept { return count_; }
  [[nodiscard]] uint64_t now_tick() const noexcept { return now_tick_; }
  [[nodiscard]] const WheelGeometry& geometry() const noexcept { return geometry_; }

 private:
  using List =
      boost::intrusive::list<Timer,
                             boost::intrusive::member_hook<Timer, Timer::Hook, &Timer::hook_>,
                             boost::intrusive::constant_time_size<false>>;

  // Which slots hold timers. Bits are set on insert and cleared when the slot is
  // processed, not on cancel (cancel does not know the slot), so a set bit may name an
  // empty slot: that costs one empty visit, never a missed timer.
  struct Level {
    std::unique_ptr<List[]> slot;
    std::vector<uint64_t> word;     // bit i: slot i may be non-empty
    std::vector<uint64_t> summary;  // bit j: word[j] != 0
  };

  static constexpr uint64_t kNone = std::numeric_limits<uint64_t>::max();

  // Links t (t.tick_ >= base) into the level whose span covers t.tick_ - base, where
  // base is the first tick whose level-0 slot has not been processed yet. A level-l slot
  // is cascaded at the first multiple of slots^l at or after base with that slot index,
  // which for delta < slots^(l+1) is exactly t.tick_ rounded down to slots^l: no alias.
  void place(Timer& t, uint64_t base) noexcept {
    const uint64_t delta = t.tick_ - base;
    uint32_t level = 0;
    uint64_t key = t.tick_;
    if (delta >= slots_) {
      level = level_of_width_[std::bit_width(delta)];
      if (level >= levels_.size()) {  // beyond the top level: park at its far end
        level = static_cast<uint32_t>(levels_.size()) - 1;
        key = base + top_span_ - 1;
      }
    }
    const uint32_t idx = static_cast<uint32_t>(key >> (level * bits_)) & mask_;
    Level& lv = levels_[level];
    lv.slot[idx].push_back(t);
    lv.word[idx >> 6] |= uint64_t{1} << (idx & 63);
    lv.summary[idx >> 12] |= uint64_t{1} << ((idx >> 6) & 63);
  }

  // A slot's timers sit wherever their objects live, so walking a big list is a chain
  // of cache misses. Unlinking the front already loads the second node; fetching the
  // third now overlaps its miss with the work on the current one.
  static void prefetch_second(const List& l) noexcept {
    auto it = l.begin();
    if (it == l.end() || ++it == l.end()) return;
    __builtin_prefetch(&*it, 1);
  }

  // First set bit at index >= from, or slots_ if none.
  uint32_t find_from(const Level& lv, uint32_t from) const noexcept;
  // The first tick > now_tick_ at which some level has a (possibly) non-empty slot to
  // process, or kNone.
  uint64_t next_event_tick() const noexcept;
  // Processes tick t (> now_tick_): cascades the higher levels whose boundary is t, then
  // moves level 0's slot for t onto firing_. Sets now_tick_ = t.
  void process_tick(uint64_t t) noexcept;

  WheelGeometry geometry_;
  uint64_t tick_us_;
  uint32_t slots_;
  uint32_t mask_;
  uint32_t bits_;
  uint64_t top_span_;  // slots^levels ticks
  // (bit_width(delta) - 1) / bits_ without a division on the schedule path.
  uint8_t level_of_width_[65];
  std::vector<Level> levels_;
  uint64_t now_tick_;  // last tick whose level-0 slot has been processed
  size_t count_ = 0;
  List firing_;   // due, not fired yet (max_fire stopped the previous advance)
  List overdue_;  // scheduled at or before now_tick_; joins firing_ at the next advance
};

inline Timer::~Timer() {
  if (wheel_ != nullptr) wheel_->cancel(*this);
}

template <class F>
size_t TimerWheel::advance(uint64_t now_us, F&& on_expire, size_t max_fire) {
  const uint64_t target = now_us / tick_us_;
  size_t fired = 0;
  firing_.splice(firing_.end(), overdue_);
  for (;;) {
    while (!firing_.empty()) {
      if (fired >= max_fire) return fired;
      Timer& t = firing_.front();
      firing_.pop_front();
      prefetch_second(firing_);
      t.wheel_ = nullptr;
      --count_;
      ++fired;
      on_expire(t);
    }
    if (now_tick_ >= target) return fired;
    const uint64_t next = count_ == 0 ? kNone : next_event_tick();
    if (next > target) {
      now_tick_ = target;
      return fired;
    }
    process_tick(next);
  }
}

}  // namespace twtcp::timer
