// lib/timewait/enter.cpp: SPEC.md §2.3 (timeout), §2.4 (overflow), TW/TWKilled counting.
#include "timewait/enter.hpp"

#include <algorithm>
#include <limits>

namespace twtcp::timewait {

std::string_view reason(TwEnterStatus s) noexcept {
  switch (s) {
    case TwEnterStatus::kCreated:
      return "created";
    case TwEnterStatus::kOverflow:
      return "tcp_max_tw_buckets reached: connection closed without TIME_WAIT";
    case TwEnterStatus::kBadWindowScale:
      return "rcv_wscale above 14 (RFC 7323 §2.3)";
    case TwEnterStatus::kBadSubstate:
      return "state is neither TIME_WAIT nor FIN_WAIT2";
  }
  return "?";
}

std::uint64_t rto_3_5(std::uint64_t rto_us) noexcept {
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  if (rto_us > kMax / 4) return kMax - (rto_us >> 1);
  return (rto_us << 2) - (rto_us >> 1);
}

TwCounter tw_expiry_counter(std::uint64_t timeo_us, const TimeWaitPolicy& policy) noexcept {
  return timeo_us <= policy.twkilled_threshold_us ? TwCounter::kTWKilled : TwCounter::kTW;
}

TwEnterResult timewait_enter(const TwEnterRequest& req, const TimeWaitPolicy& policy,
                             std::uint64_t now_us) noexcept {
  TwEnterResult r;
  if (req.state != TwSubstate::kTimeWait && req.state != TwSubstate::kFinWait2) {
    r.status = TwEnterStatus::kBadSubstate;
    return r;
  }
  if (req.conn.rcv_wscale > 14) {
    r.status = TwEnterStatus::kBadWindowScale;
    return r;
  }
  if (req.live_tw_count >= policy.max_tw_buckets) {  // §2.4 (3.x: count < max to allocate)
    r.status = TwEnterStatus::kOverflow;
    r.counters.add(TwCounter::kTCPTimeWaitOverflow);
    return r;
  }

  TwEntryState& e = r.entry;
  e.rcv_nxt = req.conn.rcv_nxt;
  e.snd_nxt = req.conn.snd_nxt;
  e.rcv_wnd = req.conn.rcv_wnd;
  e.ts_recent = req.conn.ts_recent;
  e.ts_recent_stamp_s = req.conn.ts_recent_stamp_s;
  e.ts_offset = req.conn.ts_offset;
  e.entry_stamp_ms = ms32(now_us);
  e.last_oow_ack_ms = 0;
  e.rcv_wscale = req.conn.rcv_wscale;
  e.substate = req.state;
  e.is_loopback = req.conn.is_loopback;

  // §2.3. The 3.5*RTO floor only matters for FIN_WAIT2 -- unless tw_recycle accepted the
  // peer, in which case a real TIME_WAIT lasts just that (T9).
  const std::uint64_t rto35 = rto_3_5(req.rto_us);
  std::uint64_t timeo = std::max(req.timeo_us, rto35);
  if (recycle_wanted(req.conn, policy) && req.recycle_ok) {
    // tw_timeout, reused when F6 turns a FIN_WAIT2 TW into TIME_WAIT; never 0 (0 = 60 s).
    const std::uint64_t ms = std::max<std::uint64_t>(1, (rto35 + 999) / 1000);
    e.recycle_timeout_ms = static_cast<std::uint32_t>(
        std::min<std::uint64_t>(ms, std::numeric_limits<std::uint32_t>::max()));
  } else if (req.state == TwSubstate::kTimeWait) {
    timeo = policy.timewait_len_us;
  }
  r.lifetime_us = timeo;

  r.expiry_counter = tw_expiry_counter(timeo, policy);
  if (!policy.tw_counted_at_expiry) r.counters.add(r.expiry_counter);
  r.status = TwEnterStatus::kCreated;
  return r;
}

FinWait2Plan fin_wait2_orphan_plan(std::uint64_t fin_timeout_us, std::uint64_t rto_us,
                                   const TimeWaitPolicy& policy) noexcept {
  const std::uint64_t tmo = std::max(fin_timeout_us, rto_3_5(rto_us));
  FinWait2Plan p;
  if (tmo > policy.timewait_len_us) {
    p.keep_full_socket = true;
    p.full_socket_us = tmo - policy.timewait_len_us;
    p.tw_timeo_us = tmo - policy.timewait_len_us;  // tcp_keepalive_timer: tcp_fin_time() - 60 s
  } else {
    p.tw_timeo_us = tmo;
  }
  return p;
}

}  // namespace twtcp::timewait
