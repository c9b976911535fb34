// lib/timewait/types.hpp: the TIME_WAIT entry, the segment view the engine reads, the
// counters it asks the caller to bump, and the clock conversions every rule shares.
//
// These are deliberately this module's own minimal types: the stack adapts its parsed
// segment (lib/wire) and its connection (lib/tcp) to them, so the rules here can be tested
// without either.
#pragma once

#include <cstdint>
#include <string_view>

namespace twtcp::timewait {

// Linux keeps one TW object for two roles (SPEC.md §2.1): a real TIME_WAIT, and a stand-in
// for an orphaned FIN_WAIT2 whose full socket was freed early ("light FIN_WAIT2").
enum class TwSubstate : std::uint8_t { kTimeWait = 0, kFinWait2 = 1 };

// What a TIME_WAIT entry remembers of its connection (SPEC.md §2.2: tcp_timewait_sock).
//
// Layout, 40 bytes, no padding holes:
//   0  rcv_nxt            4  snd_nxt           8  rcv_wnd          12 ts_recent
//   16 ts_recent_stamp_s  20 ts_offset         24 entry_stamp_ms   28 last_oow_ack_ms
//   32 recycle_timeout_ms 36 rcv_wscale  37 substate  38 is_loopback  39 (spare)
// That leaves 24 bytes of a 64-byte line for the flow key (IPv4 4-tuple, 12 bytes) and the
// timer/table linkage. The 4-tuple, bound device and TOS are not here: the flow table owns
// them. Times are 32-bit like Linux's (seconds and ms wrap as Linux's do); the engine only
// compares them with wrap-safe arithmetic.
struct TwEntryState {
  std::uint32_t rcv_nxt = 0;  // tw_rcv_nxt: next byte expected from the peer
  std::uint32_t snd_nxt = 0;  // tw_snd_nxt: SEQ of our ACKs, ISN base for reopen/reuse
  std::uint32_t rcv_wnd = 0;  // tw_rcv_wnd: unscaled receive window at close
  std::uint32_t ts_recent = 0;
  // Seconds (stamp_s()) when ts_recent was recorded. 0 means the connection never used
  // timestamps: no PAWS, no TS clause in W4, no tcp_tw_reuse.
  std::uint32_t ts_recent_stamp_s = 0;
  std::uint32_t ts_offset = 0;        // tw_ts_offset: added to our TS clock in TW ACKs
  std::uint32_t entry_stamp_ms = 0;   // tw_entry_stamp (>= 6.14 reuse-delay base), ms32()
  std::uint32_t last_oow_ack_ms = 0;  // tw_last_oow_ack_time, ms32(); 0 = no ACK sent yet
  // 3.x tw_timeout when tw_recycle shortened this TW: 3.5*RTO in ms. 0 = timewait_len.
  std::uint32_t recycle_timeout_ms = 0;
  std::uint8_t rcv_wscale = 0;  // 0..14
  TwSubstate substate = TwSubstate::kTimeWait;
  // The TW is on loopback for tcp_tw_reuse=2: bound to lo, or either address is loopback
  // (127/8, ::1, ::ffff:127.x). Computed by whoever creates the entry (see is_loopback_v4).
  bool is_loopback = false;
};
static_assert(sizeof(TwEntryState) == 40, "keep the TIME_WAIT entry small; see layout above");

// The parts of an incoming TCP segment the TIME_WAIT rules look at.
struct TwSegment {
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint32_t payload_len = 0;
  bool syn = false;
  bool ack_flag = false;
  bool fin = false;
  bool rst = false;
  bool has_ts = false;  // a well-formed TS option was present
  std::uint32_t tsval = 0;
  std::uint32_t tsecr = 0;

  // seq + len + SYN + FIN, modulo 2^32 (TCP_SKB_CB(skb)->end_seq).
  [[nodiscard]] constexpr std::uint32_t end_seq() const noexcept {
    return seq + payload_len + (syn ? 1u : 0u) + (fin ? 1u : 0u);
  }
};

// Linux SNMP/netstat counters this module can ask the caller to bump, by their nstat names.
enum class TwCounter : std::uint8_t {
  kTW,                     // TIME_WAIT lived its full (long) timer
  kTWKilled,               // TIME_WAIT scheduled for <= twkilled_threshold
  kTWRecycled,             // taken over by an active open (tcp_tw_reuse or explicit bind)
  kTCPTimeWaitOverflow,    // tcp_max_tw_buckets reached, no TW created
  kPAWSEstab,              // PAWS reject in TW (<= 6.14, D4)
  kPAWSTimewait,           // PAWS reject in TW (>= 6.15, D4)
  kPAWSPassive,            // tw_recycle per-host check dropped a SYN (§5.2)
  kTCPACKSkippedTimeWait,  // a TW ACK suppressed by the rate limit
  kTCPACKSkippedFinWait2,  // same, FIN_WAIT2 substate
  kCount_,
};

[[nodiscard]] std::string_view counter_name(TwCounter c) noexcept;

// A small set of counters; one decision bumps at most two.
struct TwCounters {
  std::uint16_t bits = 0;

  constexpr void add(TwCounter c) noexcept {
    bits |= static_cast<std::uint16_t>(1u << unsigned(c));
  }
  [[nodiscard]] constexpr bool has(TwCounter c) const noexcept {
    return (bits >> unsigned(c)) & 1u;
  }
  [[nodiscard]] constexpr bool empty() const noexcept { return bits == 0; }
  friend constexpr bool operator==(TwCounters, TwCounters) = default;
};
static_assert(static_cast<unsigned>(TwCounter::kCount_) <= 16);

// --- clocks: the engine takes now_us and derives Linux's coarser clocks from it ---------

// ktime_get_seconds(), truncated to 32 bits like tw_ts_recent_stamp.
[[nodiscard]] constexpr std::uint32_t secs32(std::uint64_t now_us) noexcept {
  return static_cast<std::uint32_t>(now_us / 1'000'000u);
}
// tcp_clock_ms() / jiffies at HZ=1000, truncated to 32 bits.
[[nodiscard]] constexpr std::uint32_t ms32(std::uint64_t now_us) noexcept {
  return static_cast<std::uint32_t>(now_us / 1'000u);
}
// A ts_recent_stamp for "now". Linux's seconds clock is never 0 in practice; a virtual
// clock starts there, and 0 means "no timestamps". So the first second maps to 1, which
// only makes ages measured during that second 1 s shorter.
[[nodiscard]] constexpr std::uint32_t stamp_s(std::uint64_t now_us) noexcept {
  const std::uint32_t s = secs32(now_us);
  return s == 0 ? 1u : s;
}
// The TS clock TW ACKs are stamped with (tcp_time_stamp_raw(): ms). The stack must use the
// same clock for its own TSvals, or TW ACKs would jump relative to the connection's.
[[nodiscard]] constexpr std::uint32_t ts_clock_ms(std::uint64_t now_us) noexcept {
  return ms32(now_us);
}

// --- mod-2^32 comparisons (Linux before()/after(); local so this module stands alone) ---
namespace detail {
[[nodiscard]] constexpr bool before(std::uint32_t a, std::uint32_t b) noexcept {
  return static_cast<std::int32_t>(a - b) < 0;
}
[[nodiscard]] constexpr bool after(std::uint32_t a, std::uint32_t b) noexcept {
  return before(b, a);
}
}  // namespace detail

// The ISN of a connection that replaces a TW: tw_snd_nxt + 65535 + 2, with 0 bumped to 1
// (W4 reopen and tcp_twsk_unique write_seq; SPEC.md §0, P17).
[[nodiscard]] constexpr std::uint32_t tw_successor_isn(std::uint32_t tw_snd_nxt) noexcept {
  const std::uint32_t isn = tw_snd_nxt + 65535u + 2u;
  return isn == 0 ? 1u : isn;
}

}  // namespace twtcp::timewait
