// lib/timewait/process.cpp: SPEC.md §3 as one function. The row labels in the comments
// ([F1] .. [W7]) are the SPEC's; README.md maps them to lines here.
#include "timewait/process.hpp"

#include <algorithm>

#include "timewait/paws.hpp"

namespace twtcp::timewait {
namespace {

// tcp_in_window(): the segment overlaps [s_win, e_win], or is empty and sits on an edge.
constexpr bool in_window(std::uint32_t seq, std::uint32_t end_seq, std::uint32_t s_win,
                         std::uint32_t e_win) noexcept {
  if (seq == s_win) return true;
  if (detail::after(end_seq, s_win) && detail::before(seq, e_win)) return true;
  return seq == e_win && seq == end_seq;
}

// tcp_oow_rate_limited(): true = suppress this ACK. Only pure ACKs and SYNs are limited;
// a segment that occupies sequence space (data, FIN) is always answered, since it cannot be
// one half of an ACK loop.
bool oow_rate_limited(TwEntryState& tw, const TwSegment& seg, const TimeWaitPolicy& policy,
                      std::uint64_t now_us) noexcept {
  if (seg.end_seq() != seg.seq && !seg.syn) return false;
  const std::uint32_t now_ms = ms32(now_us);
  if (tw.last_oow_ack_ms != 0) {
    const std::int32_t elapsed = static_cast<std::int32_t>(now_ms - tw.last_oow_ack_ms);
    if (elapsed >= 0 && static_cast<std::uint64_t>(elapsed) * 1000u < policy.oow_ack_ratelimit_us) {
      return true;
    }
  }
  tw.last_oow_ack_ms = now_ms;
  return false;
}

// tcp_timewait_check_oow_rate_limit(): ACK, or drop and count the skipped ACK.
void ack_or_skip(TwVerdict& v, TwEntryState& tw, const TwSegment& seg, const TimeWaitPolicy& policy,
                 std::uint64_t now_us, TwCounter skipped) noexcept {
  if (oow_rate_limited(tw, seg, policy, now_us)) {
    v.action = TwAction::kDrop;
    v.counters.add(skipped);
    return;
  }
  v.action = TwAction::kSendAck;
  v.ack_clears_ecn = policy.oow_ack_clears_ecn;
}

void rearm_full(TwVerdict& v, const TimeWaitPolicy& policy) noexcept {
  v.rearm = true;
  v.rearm_us = policy.timewait_len_us;
}

}  // namespace

TwVerdict timewait_process(TwEntryState& tw, const TwSegment& seg, const TimeWaitPolicy& policy,
                           std::uint64_t now_us) noexcept {
  TwVerdict v;
  const std::uint32_t seq = seg.seq;
  const std::uint32_t end_seq = seg.end_seq();

  // §3.1: timestamps count only if this connection negotiated them (ts_recent_stamp != 0).
  // The TSecr correction by ts_offset decides nothing in TW, so it is not computed.
  const bool saw_ts = seg.has_ts && tw.ts_recent_stamp_s != 0;
  const bool paws_rejected =
      saw_ts && paws_reject(tw.ts_recent, tw.ts_recent_stamp_s, seg.tsval, seg.rst, now_us, policy);

  if (tw.substate == TwSubstate::kFinWait2) {
    // Repeat tcp_rcv_state_process()'s FIN_WAIT2 checks for the freed socket.
    if (paws_rejected || !in_window(seq, end_seq, tw.rcv_nxt, tw.rcv_nxt + tw.rcv_wnd)) {
      v.rule = TwRule::kF1;  // [F1] out of window or PAWS: ACK, timer unchanged
      ack_or_skip(v, tw, seg, policy, now_us, TwCounter::kTCPACKSkippedFinWait2);
      return v;
    }
    if (seg.rst) {
      v.rule = TwRule::kF2;  // [F2] any in-window RST kills (no RFC 5961 exact match)
      v.action = TwAction::kKill;
      return v;
    }
    if (seg.syn && !detail::before(seq, tw.rcv_nxt)) {
      v.rule = TwRule::kF3;  // [F3] SYN at or after rcv_nxt: RST, kill (D2: who deschedules)
      v.action = TwAction::kKillAndRst;
      return v;
    }
    if (!seg.ack_flag || !detail::after(end_seq, tw.rcv_nxt) || end_seq == seq) {
      v.rule = TwRule::kF4;  // [F4] duplicate ACK or nothing new: drop
      v.action = TwAction::kDrop;
      return v;
    }
    if (!seg.fin || end_seq != tw.rcv_nxt + 1) {
      v.rule = TwRule::kF5;  // [F5] new data after our half-close: RST, kill
      v.action = TwAction::kKillAndRst;
      return v;
    }
    // [F6] the peer's FIN, exactly at rcv_nxt: become a real TIME_WAIT and ACK it.
    v.rule = TwRule::kF6;
    tw.substate = TwSubstate::kTimeWait;
    tw.rcv_nxt = end_seq;
    if (saw_ts) {
      tw.ts_recent = seg.tsval;
      tw.ts_recent_stamp_s = stamp_s(now_us);
      if (policy.fin_wait2_refreshes_entry_stamp) tw.entry_stamp_ms = ms32(now_us);  // [D5]
    }
    rearm_full(v, policy);
    if (policy.recycle && tw.ts_recent_stamp_s != 0) {  // 3.x tcp_tw_remember_stamp()
      v.recycle_remember_peer = true;
      v.recycled_rearm_us = tw.recycle_timeout_ms != 0
                                ? std::uint64_t{tw.recycle_timeout_ms} * 1000u
                                : policy.timewait_len_us;
    }
    v.action = TwAction::kSendAck;  // TCP_TW_ACK: keeps the ECN bits
    return v;
  }

  // Real TIME_WAIT. An exact segment may only be an RST or a bare ACK.
  const bool exact = seq == tw.rcv_nxt;
  if (!paws_rejected && exact && (end_seq == seq || seg.rst)) {
    if (seg.rst && !policy.rfc1337) {
      v.rule = TwRule::kW1;  // [W1] TIME-WAIT assassination (RFC 1337 hazard), allowed
      v.action = TwAction::kKill;
      return v;
    }
    if (seg.rst) {
      v.rule = TwRule::kW2;  // [W2] rfc1337: ignore; re-arm only on old kernels [D3]
      if (policy.rst_rearms_when_rfc1337) rearm_full(v, policy);
    } else {
      v.rule = TwRule::kW3;  // [W3] bare ACK at rcv_nxt: absorb, re-arm
      rearm_full(v, policy);
    }
    if (saw_ts) {
      tw.ts_recent = seg.tsval;
      tw.ts_recent_stamp_s = stamp_s(now_us);
    }
    v.action = TwAction::kDrop;
    return v;
  }

  // [W4] A new SYN (RFC 1122 4.2.2.13 + RFC 6191): newer sequence number, or newer TS.
  if (seg.syn && !seg.rst && !seg.ack_flag && !paws_rejected &&
      (detail::after(seq, tw.rcv_nxt) ||
       (saw_ts && static_cast<std::int32_t>(tw.ts_recent - seg.tsval) < 0))) {
    v.rule = TwRule::kW4;
    v.action = TwAction::kSynReopen;
    v.isn = tw_successor_isn(tw.snd_nxt);
    return v;
  }

  if (paws_rejected) {  // counted for W5 and for a PAWS-failed RST (W7) alike [D4]
    v.counters.add(policy.paws_counter == PawsCounter::kPawsTimewait ? TwCounter::kPAWSTimewait
                                                                     : TwCounter::kPAWSEstab);
  }

  if (!seg.rst) {
    // [W5] PAWS reject / [W6] anything else: ACK it. Re-arm unless it is an ACK-less SYN,
    // which may be a legitimate new SYN with a random ISN below rcv_nxt.
    v.rule = paws_rejected ? TwRule::kW5 : TwRule::kW6;
    if (paws_rejected || seg.ack_flag) rearm_full(v, policy);
    ack_or_skip(v, tw, seg, policy, now_us, TwCounter::kTCPACKSkippedTimeWait);  // [D1]
    return v;
  }

  v.rule = TwRule::kW7;  // [W7] inexact or PAWS-failed RST: drop, no challenge ACK
  v.action = TwAction::kDrop;
  return v;
}

TwVerdict timewait_syn_without_listener(const TwVerdict& syn_verdict) noexcept {
  TwVerdict v = syn_verdict;
  if (v.action != TwAction::kSynReopen) return v;
  v.action = TwAction::kSendAck;
  v.rearm = false;
  v.rearm_us = 0;
  v.ack_clears_ecn = false;  // the status is TCP_TW_SYN, not TCP_TW_ACK_OOW
  v.isn = 0;
  return v;
}

TwAck ack_reply(const TwEntryState& tw, std::uint64_t now_us) noexcept {
  TwAck a;
  a.seq = tw.snd_nxt;
  a.ack = tw.rcv_nxt;
  // RFC 7323 caps the shift at 14; a corrupt entry must not make this UB.
  const unsigned shift = std::min<unsigned>(tw.rcv_wscale, 14u);
  a.win = static_cast<std::uint16_t>(std::min<std::uint32_t>(tw.rcv_wnd >> shift, 0xffffu));
  a.has_ts = tw.ts_recent != 0;
  if (a.has_ts) {
    a.tsval = ts_clock_ms(now_us) + tw.ts_offset;
    a.tsecr = tw.ts_recent;
  }
  return a;
}

TwRst rst_reply(const TwSegment& seg) noexcept {
  TwRst r;
  if (seg.ack_flag) {
    r.seq = seg.ack;
  } else {
    r.ack_flag = true;
    r.ack = seg.end_seq();
  }
  return r;
}

}  // namespace twtcp::timewait
