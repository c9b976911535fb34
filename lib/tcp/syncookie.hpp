// lib/tcp/syncookie.hpp: SYN cookies (RFC 4987 §3.6), sans-IO, with Linux's layout
// (net/ipv4/syncookies.c): the listener answers a SYN without keeping state, encoding what it
// must remember in the SYN-ACK's ISN and, when timestamps are on, in its TSval; the returning
// ACK proves the 4-tuple and carries both back.
//
// ISN = H1(tuple) + peer ISN + (minute << 24) + ((H2(tuple, minute) + mss index) mod 2^24)
// with H1, H2 keyed SipHash-2-4 (two keys per Stack) and `minute` = now / 60 s. The check
// accepts the current minute and the previous one (a cookie lives 60 to 120 s).
//
// TSval = (our TS clock with its low 6 bits replaced by the options) + TS offset, 64 ms earlier
// when that would lie in the future: bits 0-3 the peer's window shift (15: none), bit 4
// SACK-permitted, bit 5 ECN. Without timestamps the cookie carries the MSS only, so the
// SYN-ACK offers no window scaling and no SACK.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "ports/siphash.hpp"

namespace twtcp::tcp::syncookie {

// Linux's msstab: the MSS values a cookie can carry (index in 2 bits).
inline constexpr std::array<std::uint16_t, 4> kMssTable = {536, 1300, 1440, 1460};
inline constexpr std::uint64_t kMinuteUs = 60'000'000;
inline constexpr std::uint32_t kMaxAgeMinutes = 2;  // current and previous minute
// A listener checks ACKs for cookies this long after it last sent one (TCP_SYNCOOKIE_VALID).
inline constexpr std::uint64_t kValidUs = kMaxAgeMinutes * kMinuteUs;

struct Secret {
  ports::SipKey h1;
  ports::SipKey h2;
};

// Our side first, as the flow table keys it.
struct Tuple {
  std::uint32_t local_addr = 0;
  std::uint32_t remote_addr = 0;
  std::uint16_t local_port = 0;
  std::uint16_t remote_port = 0;
};

[[nodiscard]] constexpr std::uint32_t minute_of(std::uint64_t now_us) noexcept {
  return static_cast<std::uint32_t>(now_us / kMinuteUs);
}

// The largest table entry not above the peer's MSS (index 0 for anything smaller, or absent:
// the RFC 9293 default 536 is entry 0).
[[nodiscard]] std::uint8_t mss_index(std::optional<std::uint16_t> peer_mss) noexcept;

// The SYN-ACK's ISN for a SYN from `t` with sequence number `peer_isn`.
[[nodiscard]] std::uint32_t make_isn(const Secret& s, const Tuple& t, std::uint32_t peer_isn,
                                     std::uint32_t minute, std::uint8_t mss_idx) noexcept;

// For an ACK from `t` (peer_isn = its seq - 1, isn = its ack - 1): the MSS the cookie carries,
// or nullopt if it is not one of ours from this minute or the previous one.
[[nodiscard]] std::optional<std::uint16_t> check_isn(const Secret& s, const Tuple& t,
                                                     std::uint32_t peer_isn, std::uint32_t isn,
                                                     std::uint32_t minute) noexcept;

// What the TSval carries.
struct TsOptions {
  std::optional<std::uint8_t> wscale;  // the peer's shift, 0..14; nullopt: no window scaling
  bool sack_ok = false;
  bool ecn_ok = false;
};

inline constexpr std::uint32_t kTsBits = 6;
inline constexpr std::uint32_t kTsMask = (1u << kTsBits) - 1;
inline constexpr std::uint32_t kTsNoWscale = 0x0f;
inline constexpr std::uint32_t kTsSack = 1u << 4;
inline constexpr std::uint32_t kTsEcn = 1u << 5;

// The SYN-ACK's TSval before the TS offset, from our TS clock (ms) now. Never after ts_now.
[[nodiscard]] std::uint32_t encode_ts(std::uint32_t ts_now, const TsOptions& o) noexcept;

// From the ACK's TSecr minus the TS offset. Fails (nullopt) as Linux's
// cookie_timestamp_decode() does: the cookie claims SACK or window scaling while the stack
// has it off.
[[nodiscard]] std::optional<TsOptions> decode_ts(std::uint32_t ts, bool sack_enabled,
                                                 bool window_scaling_enabled) noexcept;

}  // namespace twtcp::tcp::syncookie
