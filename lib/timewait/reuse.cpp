// lib/timewait/reuse.cpp: SPEC.md §4.1.
#include "timewait/reuse.hpp"

namespace twtcp::timewait {
namespace {

// ok_time by release (§4.1 table).
bool reuse_time_ok(const TwEntryState& tw, const TimeWaitPolicy& policy,
                   std::uint64_t now_us) noexcept {
  switch (policy.reuse_time_rule) {
    case ReuseTimeRule::kSecGt1:  // [R12] get_seconds() - tw_ts_recent_stamp > 1
      // Signed: during a virtual clock's second 0 the stamp reads 1 (stamp_s()), and an
      // unsigned difference would wrap to "4 billion seconds old".
      return static_cast<std::int32_t>(secs32(now_us) - tw.ts_recent_stamp_s) > 1;
    case ReuseTimeRule::kSecGt0:  // [R11] time_after32(now_s, tw_ts_recent_stamp)
      return detail::after(secs32(now_us), tw.ts_recent_stamp_s);
    case ReuseTimeRule::kMsDelay:  // [R10] time_after32(now_ms, entry_stamp + delay)
      return detail::after(ms32(now_us), tw.entry_stamp_ms + policy.tw_reuse_delay_ms);
  }
  return false;
}

}  // namespace

bool tw_reuse_allowed(const TwEntryState& tw, const TimeWaitPolicy& policy, std::uint64_t now_us,
                      bool explicit_port) noexcept {
  // [R7] Without timestamps there is no PAWS to protect the new incarnation: never.
  if (tw.ts_recent_stamp_s == 0) return false;
  // [R15] bind() then connect(): Linux's twp == NULL path ignores tw_reuse entirely.
  if (explicit_port) return true;

  unsigned reuse = policy.tw_reuse;
  if (policy.reuse_skip_fin_wait2 && tw.substate == TwSubstate::kFinWait2) reuse = 0;  // [R13]
  if (reuse == 2 && policy.reuse2_loopback_only && !tw.is_loopback) reuse = 0;         // [R4][R6]
  if (reuse == 0) return false;
  return reuse_time_ok(tw, policy, now_us);
}

TwReuseInherit reuse_inherit(const TwEntryState& tw) noexcept {
  TwReuseInherit r;
  r.write_seq = tw_successor_isn(tw.snd_nxt);  // [R14]
  r.ts_recent = tw.ts_recent;
  r.ts_recent_stamp_s = tw.ts_recent_stamp_s;
  return r;
}

}  // namespace twtcp::timewait
