// lib/timewait/enter.hpp: turning a closing connection into a TIME_WAIT entry (SPEC.md §2;
// Linux tcp_time_wait(), inet_twsk_alloc(), __inet_twsk_schedule()).
#pragma once

#include <cstdint>
#include <string_view>

#include "timewait/policy.hpp"
#include "timewait/types.hpp"

namespace twtcp::timewait {

// The fields of the closing connection a TW keeps (SPEC.md §2.2).
struct TwClosingConn {
  std::uint32_t rcv_nxt = 0;
  std::uint32_t snd_nxt = 0;
  std::uint32_t rcv_wnd = 0;  // tcp_receive_window(): what we last advertised, unscaled
  std::uint32_t ts_recent = 0;
  std::uint32_t ts_recent_stamp_s = 0;  // 0 = no timestamps on this connection
  std::uint32_t ts_offset = 0;
  std::uint8_t rcv_wscale = 0;
  bool is_loopback = false;  // see TwEntryState::is_loopback
};

struct TwEnterRequest {
  TwClosingConn conn;
  // kTimeWait: FIN received in FIN_WAIT2, or our FIN ACKed in CLOSING (T1, T2).
  // kFinWait2: an orphan reached FIN_WAIT2 (fin_wait2_orphan_plan() says when).
  TwSubstate state = TwSubstate::kTimeWait;
  // kFinWait2: the lifetime asked for (tcp_fin_time(), or its excess over 60 s). kTimeWait: 0.
  std::uint64_t timeo_us = 0;
  std::uint64_t rto_us = 0;  // the connection's current RTO
  // tw_recycle only: the caller looked the peer up in its per-host store, creating the entry
  // if missing, and applied recycle_remember() BEFORE calling this (3.x does it even when the
  // TW then overflows). True when an entry exists. Ignored unless policy.recycle and the
  // connection used timestamps (recycle_wanted()).
  bool recycle_ok = false;
  std::uint32_t live_tw_count = 0;  // TW entries already alive (per stack, like per-netns)
};

enum class TwEnterStatus : std::uint8_t {
  kCreated,
  kOverflow,        // tcp_max_tw_buckets reached: close at once, no TW, no RST (T8)
  kBadWindowScale,  // rcv_wscale > 14
  kBadSubstate,     // state is not a TwSubstate value
};
[[nodiscard]] std::string_view reason(TwEnterStatus s) noexcept;

struct TwEnterResult {
  TwEnterStatus status = TwEnterStatus::kCreated;
  TwEntryState entry;             // valid when kCreated
  std::uint64_t lifetime_us = 0;  // arm the TW timer for this long
  // To bump now: TW or TWKilled (>= 4.1, at schedule), or TCPTimeWaitOverflow.
  TwCounters counters;
  // For tw_counted_at_expiry (3.x): what this schedule will count when it expires; after a
  // re-arm use tw_expiry_counter() on the new duration instead.
  TwCounter expiry_counter = TwCounter::kTW;
};

// Does entering TW need the per-host store first (3.x tcp_remember_stamp)? Only with
// tw_recycle on and a peer that used timestamps.
[[nodiscard]] constexpr bool recycle_wanted(const TwClosingConn& conn,
                                            const TimeWaitPolicy& policy) noexcept {
  return policy.recycle && conn.ts_recent_stamp_s != 0;
}

// SPEC.md §2.3/§2.4: lifetime = max(timeo, 3.5*RTO), then 60 s for a real TIME_WAIT unless
// tw_recycle shortened it to 3.5*RTO; TW vs TWKilled by the final lifetime; overflow when
// live_tw_count >= max_tw_buckets. Validates the fields it copies.
[[nodiscard]] TwEnterResult timewait_enter(const TwEnterRequest& req, const TimeWaitPolicy& policy,
                                           std::uint64_t now_us) noexcept;

// TW or TWKilled for a TW (last) scheduled for `timeo_us`: at schedule time on >= 4.1, at
// expiry on 3.x (where a re-arm to 60 s moves it from the recycle calendar to the wheel).
[[nodiscard]] TwCounter tw_expiry_counter(std::uint64_t timeo_us,
                                          const TimeWaitPolicy& policy) noexcept;

// 3.5 * RTO as Linux computes it, (rto << 2) - (rto >> 1), saturating.
[[nodiscard]] std::uint64_t rto_3_5(std::uint64_t rto_us) noexcept;

// What an orphan that reaches FIN_WAIT2 does (tcp_close / tcp_rcv_state_process, §2.1, §7).
// fin_timeout_us is TCP_LINGER2 if set (> 0), else tcp_fin_timeout; it is floored at 3.5*RTO
// (tcp_fin_time). Up to timewait_len: become a FIN_WAIT2-substate TW now for that long.
// Longer: keep the full socket for the excess, then become a TW for the rest (floored
// again by timewait_enter). LINGER2 < 0 (abort with RST, TCPAbortOnLinger) is the stack's.
struct FinWait2Plan {
  bool keep_full_socket = false;
  std::uint64_t full_socket_us = 0;  // keepalive timer before the TW handover
  std::uint64_t tw_timeo_us = 0;     // TwEnterRequest::timeo_us for the FIN_WAIT2 TW
};
[[nodiscard]] FinWait2Plan fin_wait2_orphan_plan(std::uint64_t fin_timeout_us, std::uint64_t rto_us,
                                                 const TimeWaitPolicy& policy) noexcept;

}  // namespace twtcp::timewait
