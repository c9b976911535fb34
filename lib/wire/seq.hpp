// lib/wire/seq.hpp: sequence-number and timestamp comparison modulo 2^32 (RFC 9293 §3.4,
// RFC 7323 §5.2), the way Linux's before()/after() do it.
//
// `a` is before `b` when the signed 32-bit distance (a - b) is negative. Two values exactly
// 2^31 apart are therefore each before (and each after) the other: seq_before(0, 0x80000000)
// and seq_before(0x80000000, 0) are both true, and before_eq/after_eq are both false. That
// quirk is Linux's, and the TIME_WAIT rules in SPEC.md are written against it, so it is kept
// on purpose.
#pragma once

#include <cstdint>

namespace twtcp::wire {

[[nodiscard]] constexpr bool seq_before(std::uint32_t a, std::uint32_t b) noexcept {
  return static_cast<std::int32_t>(a - b) < 0;
}
[[nodiscard]] constexpr bool seq_after(std::uint32_t a, std::uint32_t b) noexcept {
  return seq_before(b, a);
}
[[nodiscard]] constexpr bool seq_before_eq(std::uint32_t a, std::uint32_t b) noexcept {
  return !seq_after(a, b);
}
[[nodiscard]] constexpr bool seq_after_eq(std::uint32_t a, std::uint32_t b) noexcept {
  return !seq_before(a, b);
}
// The signed distance a - b; meaningful while |a - b| < 2^31.
[[nodiscard]] constexpr std::int32_t seq_diff(std::uint32_t a, std::uint32_t b) noexcept {
  return static_cast<std::int32_t>(a - b);
}
// lo <= x <= hi on the circle, inclusive at both ends (Linux's between(x, lo, hi)). An empty
// range is impossible: lo == hi means exactly {lo}; hi "before" lo wraps the whole way round.
[[nodiscard]] constexpr bool seq_between(std::uint32_t x, std::uint32_t lo,
                                         std::uint32_t hi) noexcept {
  return hi - lo >= x - lo;
}
[[nodiscard]] constexpr std::uint32_t seq_max(std::uint32_t a, std::uint32_t b) noexcept {
  return seq_after(a, b) ? a : b;
}
[[nodiscard]] constexpr std::uint32_t seq_min(std::uint32_t a, std::uint32_t b) noexcept {
  return seq_before(a, b) ? a : b;
}

// Timestamps (TSval/TSecr) use the same arithmetic; separate names keep call sites honest
// about which number space they compare, since mixing them is a classic PAWS bug.
[[nodiscard]] constexpr bool ts_before(std::uint32_t a, std::uint32_t b) noexcept {
  return static_cast<std::int32_t>(a - b) < 0;
}
[[nodiscard]] constexpr bool ts_after(std::uint32_t a, std::uint32_t b) noexcept {
  return ts_before(b, a);
}
[[nodiscard]] constexpr bool ts_before_eq(std::uint32_t a, std::uint32_t b) noexcept {
  return !ts_after(a, b);
}
[[nodiscard]] constexpr bool ts_after_eq(std::uint32_t a, std::uint32_t b) noexcept {
  return !ts_before(a, b);
}
// The signed distance a - b, as the PAWS checks in SPEC.md write it: (s32)(a - b).
[[nodiscard]] constexpr std::int32_t ts_diff(std::uint32_t a, std::uint32_t b) noexcept {
  return static_cast<std::int32_t>(a - b);
}

}  // namespace twtcp::wire
