// lib/timer/wheel.cpp: the cold and the bitmap-walking parts of TimerWheel.
#include "timer/wheel.hpp"

#include <stdexcept>

#include "twtcp/config.hpp"

namespace twtcp::timer {

WheelGeometry geometry_from_config(const Config& cfg) noexcept {
  // Negative values (possible only in a Config built in code) become 0, which validate() rejects.
  auto u = [](std::int32_t v) { return v < 0 ? 0u : static_cast<uint32_t>(v); };
  return WheelGeometry{u(cfg.timer_tick_us), u(cfg.timer_slots), u(cfg.timer_levels)};
}

const char* WheelGeometry::validate() const noexcept {
  if (tick_us == 0) return "timer wheel: tick_us must be at least 1";
  if (slots < 64 || slots > (uint32_t{1} << 20)) {
    return "timer wheel: slots must be in [64, 1048576]";
  }
  if (!std::has_single_bit(slots)) return "timer wheel: slots must be a power of two";
  if (levels < 1 || levels > 4) return "timer wheel: levels must be in [1, 4]";
  // The top level's span (slots^levels ticks) is added to tick numbers; keep it far from
  // 2^64 so that no tick arithmetic can wrap for any time below 2^63 us.
  if (static_cast<uint64_t>(std::countr_zero(slots)) * levels > 48) {
    return "timer wheel: slots^levels must not exceed 2^48 ticks";
  }
  return nullptr;
}

TimerWheel::TimerWheel(WheelGeometry geometry, uint64_t now_us) : geometry_(geometry) {
  if (const char* err = geometry.validate()) throw std::invalid_argument(err);
  tick_us_ = geometry.tick_us;
  slots_ = geometry.slots;
  mask_ = slots_ - 1;
  bits_ = static_cast<uint32_t>(std::countr_zero(slots_));
  top_span_ = uint64_t{1} << (bits_ * geometry.levels);
  level_of_width_[0] = 0;
  for (uint32_t w = 1; w <= 64; ++w) level_of_width_[w] = static_cast<uint8_t>((w - 1) / bits_);
  levels_.resize(geometry.levels);
  for (Level& lv : levels_) {
    lv.slot = std::make_unique<List[]>(slots_);
    lv.word.assign(slots_ / 64, 0);
    lv.summary.assign((lv.word.size() + 63) / 64, 0);
  }
  now_tick_ = now_us / tick_us_;
}

TimerWheel::~TimerWheel() {
  auto disarm = [](Timer* t) { t->wheel_ = nullptr; };
  firing_.clear_and_dispose(disarm);
  overdue_.clear_and_dispose(disarm);
  run_.clear_and_dispose(disarm);
  for (Level& lv : levels_) {
    for (uint32_t i = 0; i < slots_; ++i) lv.slot[i].clear_and_dispose(disarm);
  }
}

uint32_t TimerWheel::find_from(const Level& lv, uint32_t from) const noexcept {
  uint32_t w = from >> 6;
  uint64_t bits = lv.word[w] & (~uint64_t{0} << (from & 63));
  if (bits != 0) return (w << 6) + static_cast<uint32_t>(std::countr_zero(bits));
  ++w;
  if (w >= lv.word.size()) return slots_;
  uint32_t s = w >> 6;
  uint64_t sbits = lv.summary[s] & (~uint64_t{0} << (w & 63));
  for (;;) {
    if (sbits != 0) {
      const uint32_t wi = (s << 6) + static_cast<uint32_t>(std::countr_zero(sbits));
      return (wi << 6) + static_cast<uint32_t>(std::countr_zero(lv.word[wi]));
    }
    if (++s >= lv.summary.size()) return slots_;
    sbits = lv.summary[s];
  }
}

uint64_t TimerWheel::next_event_tick() const noexcept {
  uint64_t best = kNone;
  for (uint32_t l = 0; l < levels_.size(); ++l) {
    const uint32_t shift = l * bits_;
    // Level l processes one slot at each multiple of slots^l: slot index k & mask at
    // tick k << shift, for the blocks k after the one now_tick_ is in.
    const uint64_t first_block = (now_tick_ >> shift) + 1;
    if ((first_block << shift) >= best) break;  // higher levels only get later
    const Level& lv = levels_[l];
    const uint32_t start = static_cast<uint32_t>(first_block) & mask_;
    uint32_t i = find_from(lv, start);
    if (i == slots_) {
      i = find_from(lv, 0);
      if (i == slots_) continue;
    }
    const uint64_t k = first_block + ((i - start) & mask_);
    const uint64_t t = k << shift;
    if (t < best) best = t;
  }
  return best;
}

// Bounded so that the check stays cheap (and in cache) next to the relink it may save;
// a longer slot is cascaded as usual.
constexpr size_t kMaxRun = 256;

bool TimerWheel::can_run(const List& l, uint64_t t) const noexcept {
  for (uint64_t w : levels_[0].summary) {
    if (w != 0) return false;
  }
  uint64_t prev = t;
  size_t n = 0;
  for (const Timer& x : l) {
    if (x.tick_ < prev || x.tick_ - t >= slots_ || ++n > kMaxRun) return false;
    prev = x.tick_;
  }
  return true;
}

void TimerWheel::process_tick(uint64_t t, uint64_t target) noexcept {
  auto take = [](Level& lv, uint32_t idx) {
    const uint64_t bit = uint64_t{1} << (idx & 63);
    if ((lv.word[idx >> 6] & bit) == 0) return false;
    lv.word[idx >> 6] &= ~bit;
    if (lv.word[idx >> 6] == 0) lv.summary[idx >> 12] &= ~(uint64_t{1} << ((idx >> 6) & 63));
    return true;
  };
  // Top-down, so that what a higher level cascades into a lower one whose boundary is
  // also t is already in place when that lower level is processed.
  for (uint32_t l = static_cast<uint32_t>(levels_.size()) - 1; l >= 1; --l) {
    const uint32_t shift = l * bits_;
    if ((t & ((uint64_t{1} << shift) - 1)) != 0) continue;
    const uint32_t idx = static_cast<uint32_t>(t >> shift) & mask_;
    Level& lv = levels_[l];
    if (!take(lv, idx)) continue;
    if (l == 1 && target - t >= mask_ && run_.empty() && can_run(lv.slot[idx], t)) {
      run_.splice(run_.end(), lv.slot[idx]);
      continue;
    }
    // Detach first: a parked (beyond-the-top) timer may be re-placed into this slot.
    List moving;
    moving.splice(moving.end(), lv.slot[idx]);
    // Most cascaded timers land in level 0 (always, from level 1), where place()'s level
    // arithmetic is not needed; level 0's arrays are hoisted out of the loop.
    List* const slot0 = levels_[0].slot.get();
    uint64_t* const word0 = levels_[0].word.data();
    uint64_t* const summary0 = levels_[0].summary.data();
    while (!moving.empty()) {
      Timer& x = moving.front();
      moving.pop_front();
      prefetch_second(moving);
      if (x.tick_ - t < slots_) {
        const uint32_t i = static_cast<uint32_t>(x.tick_) & mask_;
        slot0[i].push_back(x);
        word0[i >> 6] |= uint64_t{1} << (i & 63);
        summary0[i >> 12] |= uint64_t{1} << ((i >> 6) & 63);
      } else {
        place(x, t);
      }
    }
  }
  now_tick_ = t;
  const uint32_t idx = static_cast<uint32_t>(t) & mask_;
  Level& l0 = levels_[0];
  if (!take(l0, idx)) return;
  if (levels_.size() > 1) {
    // Everything in a level-0 slot is due at exactly this tick (see place()).
    firing_.splice(firing_.end(), l0.slot[idx]);
    return;
  }
  // Single level: the slot also holds timers whole rotations away (rounds).
  List moving;
  moving.splice(moving.end(), l0.slot[idx]);
  while (!moving.empty()) {
    Timer& x = moving.front();
    moving.pop_front();
    if (x.tick_ <= t) {
      firing_.push_back(x);
    } else {
      place(x, t + 1);
    }
  }
}

uint64_t TimerWheel::next_expiry_hint() const noexcept {
  if (count_ == 0) return kNone;
  if (!firing_.empty() || !overdue_.empty()) return now_tick_ * tick_us_;
  uint64_t t = next_event_tick();
  if (!run_.empty() && run_.front().tick_ < t) t = run_.front().tick_;
  if (t == kNone || t > kNone / tick_us_) return kNone;
  return t * tick_us_;
}

}  // namespace twtcp::timer
