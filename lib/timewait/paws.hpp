// lib/timewait/paws.hpp: PAWS (RFC 7323 §5) as Linux's tcp_paws_check()/tcp_paws_reject()
// compute it (SPEC.md §6.1). Used by TIME_WAIT (§3.1) and meant for request sockets and the
// established path too, so there is one copy of the wrap/idle rules.
#pragma once

#include <cstdint>

#include "timewait/policy.hpp"
#include "timewait/types.hpp"

namespace twtcp::timewait {

// !time_before32(now, deadline): `now` has reached `deadline` on the 32-bit seconds circle.
[[nodiscard]] constexpr bool reached32(std::uint32_t now, std::uint32_t deadline) noexcept {
  return static_cast<std::int32_t>(now - deadline) >= 0;
}

// True when `tsval` is acceptable against (ts_recent, ts_recent_stamp_s), tolerating a
// replay of up to `win` ticks (SPEC.md §6.1 paws_check):
//   1. tsval is not older than ts_recent by more than win;
//   2. or ts_recent was recorded paws_wrap_s or longer ago (24 days <= 6.6, 2147 s >= 6.7):
//      the peer's clock may have wrapped, so it is not trusted any more (A7);
//   3. or ts_recent is 0: some stacks send TSval=0 in SYN/SYN-ACK (A8).
[[nodiscard]] constexpr bool paws_check(std::uint32_t ts_recent, std::uint32_t ts_recent_stamp_s,
                                        std::uint32_t tsval, std::int32_t win, std::uint64_t now_us,
                                        const TimeWaitPolicy& policy) noexcept {
  if (static_cast<std::int32_t>(ts_recent - tsval) <= win) return true;
  if (reached32(secs32(now_us), ts_recent_stamp_s + policy.paws_wrap_s)) return true;
  if (ts_recent == 0) return true;
  return false;
}

// True when the segment must be rejected by PAWS (tcp_paws_reject, window 0). An RST is
// exempt once ts_recent is paws_msl_s (60 s) old, so a peer that rebooted can still reset a
// half-open connection (A5); a fresher RST with an old TSval is rejected.
[[nodiscard]] constexpr bool paws_reject(std::uint32_t ts_recent, std::uint32_t ts_recent_stamp_s,
                                         std::uint32_t tsval, bool is_rst, std::uint64_t now_us,
                                         const TimeWaitPolicy& policy) noexcept {
  if (paws_check(ts_recent, ts_recent_stamp_s, tsval, 0, now_us, policy)) return false;
  if (is_rst && reached32(secs32(now_us), ts_recent_stamp_s + policy.paws_msl_s)) return false;
  return true;
}

}  // namespace twtcp::timewait
