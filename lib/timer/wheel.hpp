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
// top-level rotation crossed. Within one level-0 rotation it only scans level 0's bitmap.
//
// Direct firing: when advance() reaches a level-1 slot and the whole level-0 rotation it
// covers is due, level 0 is empty, and the slot's list is short and already in tick order
// (timers armed with a constant delay, e.g. TIME_WAIT, arrive that way), the list is not
// relinked into level-0 slots: it becomes run_ and is fired from its head, merged with
// level 0 (which only callbacks can refill by then). Sparse timers each had a level-0
// slot to themselves, so the relink and the per-slot visit were most of their cost.
// Firing order and ticks are exactly as with the relink (tests/timer compares stepped,
// jumped and max_fire-cut runs).
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
  // Branch-free: on a list of fewer than two nodes this prefetches the list head, which
  // is harmless.
  static void prefetch_second(const List& l) noexcept {
    auto it = l.begin();
    ++it;
    __builtin_prefetch(it.pointed_node(), 1);
  }

  // Clears level-0 slot idx's occupancy bit (and its summary bit if the word empties).
  void take_level0(uint32_t idx) noexcept {
    Level& l0 = levels_[0];
    uint64_t& w = l0.word[idx >> 6];
    w &= ~(uint64_t{1} << (idx & 63));
    if (w == 0) l0.summary[idx >> 12] &= ~(uint64_t{1} << ((idx >> 6) & 63));
  }

  void mark_level0(uint32_t idx) noexcept {
    Level& l0 = levels_[0];
    l0.word[idx >> 6] |= uint64_t{1} << (idx & 63);
    l0.summary[idx >> 12] |= uint64_t{1} << ((idx >> 6) & 63);
  }

  // max_fire stopped advance() before run_'s tick-t timers: they, then level-0 slot t's
  // (which come after them at that tick), go to firing_, which the next advance()
  // drains first. now_tick_ becomes t, so nothing due at t is left behind.
  void defer_run_front(uint64_t t) noexcept {
    while (!run_.empty() && run_.front().tick_ == t) {
      Timer& x = run_.front();
      run_.pop_front();
      firing_.push_back(x);
    }
    now_tick_ = t;
    const uint32_t idx = static_cast<uint32_t>(t) & mask_;
    const Level& l0 = levels_[0];
    if ((l0.word[idx >> 6] >> (idx & 63) & 1) == 0) return;
    take_level0(idx);
    List& sl = levels_[0].slot[idx];
    defer_due_front(sl, t);
    if (!sl.empty()) mark_level0(idx);
  }

  // max_fire stopped advance() inside level-0 slot s at tick t: its remaining tick-t
  // timers (a prefix of s) go to firing_, which the next advance() drains first.
  void defer_due_front(List& s, uint64_t t) noexcept {
    while (!s.empty() && s.front().tick_ == t) {
      Timer& x = s.front();
      s.pop_front();
      firing_.push_back(x);
    }
  }

  // First set bit at index >= from, or slots_ if none.
  uint32_t find_from(const Level& lv, uint32_t from) const noexcept;
  // The first tick > now_tick_ at which some level has a (possibly) non-empty slot to
  // process, or kNone.
  uint64_t next_event_tick() const noexcept;
  // Processes tick t (> now_tick_): cascades the higher levels whose boundary is t, then
  // moves level 0's slot for t onto firing_. Sets now_tick_ = t. target is the tick the
  // running advance() goes to: if the whole level-0 rotation starting at t is due by
  // then, a level-1 slot already in tick order may become run_ instead of being cascaded.
  void process_tick(uint64_t t, uint64_t target) noexcept;
  // Whether level-1 slot list l can be fired as it stands from tick t on: short, in
  // tick order, all within [t, t + mask_], and level 0 holds nothing that could tie.
  bool can_run(const List& l, uint64_t t) const noexcept;

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
  // Timers of one level-1 slot, in tick order, all due within the current level-0
  // rotation, which advance() fires merged with level 0 instead of relinking each into a
  // level-0 slot first (with sparse timers, nearly every one has a slot to itself and
  // that cascade was half the expiry cost). Empty outside such a rotation.
  List run_;
};

inline Timer::~Timer() {
  if (wheel_ != nullptr) wheel_->cancel(*this);
}

template <class F>
size_t TimerWheel::advance(uint64_t now_us, F&& on_expire, size_t max_fire) {
  const uint64_t target = now_us / tick_us_;
  size_t fired = 0;
  firing_.splice(firing_.end(), overdue_);
  // Level 0's arrays are never reallocated after construction.
  List* const slot0 = levels_[0].slot.get();
  const uint64_t* const word0 = levels_[0].word.data();
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
    if (count_ == 0) {
      now_tick_ = target;
      return fired;
    }
    if (levels_.size() > 1) {
      // Fast path. Between two multiples of slots_ no higher level cascades, so the events
      // up to the end of the current level-0 rotation are the set bits of level 0's
      // bitmap, in index order, merged with run_ (a level-1 slot taken whole, in tick
      // order; see process_tick()): no per-level search, no cascade check.
      const uint64_t last = now_tick_ | mask_;  // last tick before the next cascade point
      const uint64_t limit = last < target ? last : target;
      uint64_t from = now_tick_ + 1;  // first tick whose level-0 slot is not processed
      for (;;) {
        // run_ lies within this rotation and only exists when all of it is due, so its
        // front is at or before limit. At equal ticks run_ goes first: its timers reached
        // tick t at the cascade, before any callback could add to level-0 slot t.
        const uint64_t rt = run_.empty() ? kNone : run_.front().tick_;
        const uint64_t stop = rt < limit ? rt : limit;
        uint64_t t = kNone;
        uint32_t i = 0;
        if (from <= stop) {
          // Callbacks may set bits ahead of us (never behind: see below), so re-read.
          // [from, stop] is inside one rotation: slot indices [lo, hi], no wrap.
          const uint32_t lo = static_cast<uint32_t>(from) & mask_;
          const uint32_t hi = static_cast<uint32_t>(stop) & mask_;
          uint64_t bits = word0[lo >> 6] & (~uint64_t{0} << (lo & 63));
          if (bits != 0) {
            i = (lo & ~63u) + static_cast<uint32_t>(std::countr_zero(bits));
          } else if ((lo >> 6) == (hi >> 6)) {
            i = slots_;
          } else if (const uint32_t nw = (lo >> 6) + 1; (bits = word0[nw]) != 0) {
            // Sparse timers (one per ~64 ticks) are usually in the next word, and run_'s
            // next timer usually bounds the search within it: no summary walk.
            i = (nw << 6) + static_cast<uint32_t>(std::countr_zero(bits));
          } else if (nw == (hi >> 6)) {
            i = slots_;
          } else {
            i = find_from(levels_[0], lo);  // slots_ if none: > any index
          }
          if (i <= hi) t = from + (i - lo);
        }
        if (rt <= stop && (t == kNone || rt <= t)) {
          // run_'s front is next (ties with level 0 included, as said above).
          if (fired >= max_fire) {
            defer_run_front(rt);
            return fired;
          }
          now_tick_ = rt;
          from = rt;  // level-0 slot rt (if any) is processed after run_'s tick-rt timers
          Timer& x = run_.front();
          run_.pop_front();
          prefetch_second(run_);
          x.wheel_ = nullptr;
          --count_;
          ++fired;
          on_expire(x);
          continue;
        }
        if (t == kNone) break;
        now_tick_ = t;
        take_level0(i);
        // Fire straight from the slot rather than splicing it onto firing_ first. A
        // callback cannot add to the front of this list: a deadline at tick <= t goes to
        // overdue_, and one that hashes here (t + slots_) is pushed at the back, so the
        // run of tick-t timers at the front is exactly what is due, in order.
        List& sl = slot0[i];
        while (!sl.empty()) {
          Timer& x = sl.front();
          if (x.tick_ != t) {
            // Pushed by a callback for t + slots_ (possibly while run_ fired at tick t,
            // before take_level0() above cleared the bit): keep the slot visible.
            mark_level0(i);
            break;
          }
          if (fired >= max_fire) {
            defer_due_front(sl, t);
            if (!sl.empty()) mark_level0(i);
            return fired;
          }
          sl.pop_front();
          prefetch_second(sl);
          x.wheel_ = nullptr;
          --count_;
          ++fired;
          on_expire(x);
        }
        from = t + 1;
      }
      now_tick_ = limit;  // nothing else due in this rotation up to limit
      if (limit == target) return fired;
    }
    const uint64_t next = next_event_tick();
    if (next > target) {
      now_tick_ = target;
      return fired;
    }
    process_tick(next, target);
  }
}

}  // namespace twtcp::timer
