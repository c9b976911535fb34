// lib/timewait/reuse.hpp: may an active open take over a TIME_WAIT 4-tuple? (SPEC.md §4.1;
// Linux tcp_twsk_unique()). The caller, on success, removes the TW (cancelling its timer,
// without decrementing TW), bumps TWRecycled, and seeds the new connection with
// reuse_inherit() (R14, R21).
#pragma once

#include <cstdint>

#include "timewait/policy.hpp"
#include "timewait/types.hpp"

namespace twtcp::timewait {

// 127.0.0.0/8, address in host byte order (ipv4_is_loopback). Feeds TwEntryState::is_loopback
// together with "bound to the loopback device".
[[nodiscard]] constexpr bool is_loopback_v4(std::uint32_t addr_host_order) noexcept {
  return (addr_host_order >> 24) == 127;
}

// tcp_twsk_unique(). explicit_port: the socket was bound to its port before connect()
// (Linux passes twp == NULL), so any TW that saw timestamps is taken over whatever
// tw_reuse, the delay or the substate say (R15). Otherwise (autobind) the TW must have seen
// timestamps (R7), tw_reuse must be on (2: only on loopback, R4/R6), the TW must not be a
// FIN_WAIT2 stand-in on >= 6.12 (R13), and ok_time must hold (R10-R12).
[[nodiscard]] bool tw_reuse_allowed(const TwEntryState& tw, const TimeWaitPolicy& policy,
                                    std::uint64_t now_us, bool explicit_port) noexcept;

// What the new connection inherits (R14): write_seq = tw_snd_nxt + 65537 (0 -> 1), and the
// TW's ts_recent/ts_recent_stamp so PAWS carries across incarnations. (The stack resets all
// three if connect() ends up targeting another destination, §4.1.)
struct TwReuseInherit {
  std::uint32_t write_seq = 0;
  std::uint32_t ts_recent = 0;
  std::uint32_t ts_recent_stamp_s = 0;
};
[[nodiscard]] TwReuseInherit reuse_inherit(const TwEntryState& tw) noexcept;

}  // namespace twtcp::timewait
