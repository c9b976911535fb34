// lib/timewait/process.hpp: what a TIME_WAIT entry does with an incoming segment
// (SPEC.md §3; Linux tcp_timewait_state_process() + tcp_v4_rcv's do_time_wait).
//
// timewait_process() is the whole decision table, F1-F6 and W1-W7, in one function that
// reads top to bottom. It mutates only the entry it is given, allocates nothing, reads no
// clock, and returns a TwVerdict telling the caller what to send, whether to re-arm or
// cancel the timer, and which counters to bump.
#pragma once

#include <cstdint>

#include "timewait/policy.hpp"
#include "timewait/types.hpp"

namespace twtcp::timewait {

enum class TwAction : std::uint8_t {
  kDrop,        // discard the segment; the TW stays
  kSendAck,     // reply with ack_reply(entry, now); the TW stays
  kKill,        // remove the TW (cancel its timer); send nothing
  kKillAndRst,  // reply with rst_reply(segment), then remove the TW
  // W4: the SYN may open a new connection. With a listener on the 4-tuple's local port:
  // remove the TW and run passive-open processing with ISN = verdict.isn, skipping the
  // tw_recycle per-host check (SPEC.md §5.2, C6). Without one: replace the verdict with
  // timewait_syn_without_listener() (an ACK, TW kept, timer untouched).
  kSynReopen,
};

// The SPEC.md §3 row that decided; for tests, traces and counters of our own.
enum class TwRule : std::uint8_t {
  kF1,
  kF2,
  kF3,
  kF4,
  kF5,
  kF6,  // FIN_WAIT2 substate
  kW1,
  kW2,
  kW3,
  kW4,
  kW5,
  kW6,
  kW7,  // TIME_WAIT substate
};

struct TwVerdict {
  TwAction action = TwAction::kDrop;
  TwRule rule = TwRule::kW7;
  // Restart the TW timer to fire rearm_us from now. False: leave it as it is (or, for the
  // kill actions, cancel it).
  bool rearm = false;
  std::uint64_t rearm_us = 0;
  // 3.x tw_recycle on F6 only (tcp_tw_remember_stamp): look the peer up in the per-host
  // store WITHOUT creating an entry; if there is one, apply recycle_remember() to it with the
  // entry's (updated) ts_recent/ts_recent_stamp_s and arm recycled_rearm_us instead.
  bool recycle_remember_peer = false;
  std::uint64_t recycled_rearm_us = 0;
  // kSendAck: clear the ECN bits of the TOS on this ACK (>= 6.14, out-of-window ACKs only).
  bool ack_clears_ecn = false;
  std::uint32_t isn = 0;  // kSynReopen: tw_snd_nxt + 65537, never 0
  TwCounters counters;
};

// Runs SPEC.md §3 for one segment that matched this TW's 4-tuple. Updates `tw` in place
// (substate, rcv_nxt, ts_recent, ts_recent_stamp_s, entry_stamp_ms, last_oow_ack_ms).
[[nodiscard]] TwVerdict timewait_process(TwEntryState& tw, const TwSegment& seg,
                                         const TimeWaitPolicy& policy,
                                         std::uint64_t now_us) noexcept;

// W4 when no listener owns the local port: Linux falls through to the TW ACK, which is not
// rate-limited, keeps the ECN bits, and does not re-arm the timer (P15).
[[nodiscard]] TwVerdict timewait_syn_without_listener(const TwVerdict& syn_verdict) noexcept;

// The ACK a TW sends (SPEC.md §3.3 notes, T11): SEQ=tw_snd_nxt, ACK=tw_rcv_nxt,
// WIN=tw_rcv_wnd >> rcv_wscale, TSval=ts_clock_ms(now)+ts_offset, TSecr=ts_recent. Like
// tcp_v4_send_ack() the TS option is present only when ts_recent != 0.
struct TwAck {
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint16_t win = 0;
  bool has_ts = false;
  std::uint32_t tsval = 0;
  std::uint32_t tsecr = 0;
};
[[nodiscard]] TwAck ack_reply(const TwEntryState& tw, std::uint64_t now_us) noexcept;

// The RST for kKillAndRst (tcp_v4_send_reset): SEQ = the segment's ACK if it had one,
// otherwise SEQ=0 with ACK = seg.seq + len + SYN + FIN. No options.
struct TwRst {
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  bool ack_flag = false;
};
[[nodiscard]] TwRst rst_reply(const TwSegment& seg) noexcept;

// ICMP errors for a TW 4-tuple are ignored (tcp_v4_err; P23).
enum class TwIcmpAction : std::uint8_t { kIgnore };
[[nodiscard]] constexpr TwIcmpAction timewait_icmp() noexcept {
  return TwIcmpAction::kIgnore;
}

}  // namespace twtcp::timewait
