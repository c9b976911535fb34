// lib/timewait/recycle.cpp: SPEC.md §5.1 (write rule, fetch) and §5.2 (passive check).
// Ages are (u32)(now_s - stamp) as in tcp_metrics.c, so a stamp "in the future" is
// very old.
#include "timewait/recycle.hpp"

namespace twtcp::timewait {

bool recycle_remember(PeerStamp& entry, std::uint32_t ts_recent, std::uint32_t ts_recent_stamp_s,
                      std::uint64_t now_us, const TimeWaitPolicy& policy) noexcept {
  const bool ours_newer = static_cast<std::int32_t>(entry.ts - ts_recent) <= 0;
  const bool cache_stale = secs32(now_us) - entry.ts_stamp_s > policy.paws_msl_s &&
                           entry.ts_stamp_s <= ts_recent_stamp_s;
  // An empty entry (stamp 0) is written unconditionally: Linux's are "stale" by wall-clock
  // age, but a virtual clock can be younger than paws_msl_s.
  if (entry.ts_stamp_s != 0 && !ours_newer && !cache_stale) return false;  // [C8]
  entry.ts = ts_recent;
  entry.ts_stamp_s = ts_recent_stamp_s;
  return true;
}

RecycleSynVerdict recycle_syn_acceptable(const PeerStamp* entry, bool syn_has_ts,
                                         std::uint32_t syn_tsval, bool via_timewait,
                                         std::uint64_t now_us,
                                         const TimeWaitPolicy& policy) noexcept {
  if (!policy.recycle || via_timewait) return RecycleSynVerdict::kAccept;  // [C10][C6]
  if (policy.recycle_syn_requires_ts && !syn_has_ts) return RecycleSynVerdict::kAccept;  // [C4] 3.x
  if (entry == nullptr || entry->ts_stamp_s == 0) return RecycleSynVerdict::kAccept;
  const bool fresh = secs32(now_us) - entry->ts_stamp_s < policy.paws_msl_s;  // [C3]
  if (!fresh) return RecycleSynVerdict::kAccept;
  // [C1][C2] cached TS ahead of the SYN's by more than PAWS_WINDOW; [C4] 4.x: or no TS.
  const bool older = !syn_has_ts || static_cast<std::int32_t>(entry->ts - syn_tsval) >
                                        static_cast<std::int32_t>(policy.paws_window);
  return older ? RecycleSynVerdict::kDrop : RecycleSynVerdict::kAccept;
}

bool recycle_fetch(const PeerStamp& entry, std::uint64_t now_us, const TimeWaitPolicy& policy,
                   std::uint32_t& ts_recent, std::uint32_t& ts_recent_stamp_s) noexcept {
  if (!policy.recycle || entry.ts_stamp_s == 0) return false;
  if (secs32(now_us) - entry.ts_stamp_s > policy.paws_msl_s) return false;
  ts_recent = entry.ts;
  ts_recent_stamp_s = entry.ts_stamp_s;
  return true;
}

}  // namespace twtcp::timewait
