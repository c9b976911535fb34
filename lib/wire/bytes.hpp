// lib/wire/bytes.hpp: big-endian loads and stores on raw bytes, and the MAC address type.
//
// Every wire view reads through these instead of casting to packed structs: that keeps the
// code free of alignment and strict-aliasing UB, and the compiler folds them into single
// byte-swapped loads anyway.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace twtcp::wire {

using MacAddr = std::array<std::uint8_t, 6>;

inline constexpr MacAddr kBroadcastMac{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

[[nodiscard]] constexpr std::uint16_t load_be16(const std::uint8_t* p) noexcept {
  return static_cast<std::uint16_t>((std::uint16_t{p[0]} << 8) | p[1]);
}

[[nodiscard]] constexpr std::uint32_t load_be32(const std::uint8_t* p) noexcept {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

constexpr void store_be16(std::uint8_t* p, std::uint16_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}

constexpr void store_be32(std::uint8_t* p, std::uint32_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

[[nodiscard]] constexpr MacAddr load_mac(const std::uint8_t* p) noexcept {
  return MacAddr{p[0], p[1], p[2], p[3], p[4], p[5]};
}

constexpr void store_mac(std::uint8_t* p, const MacAddr& m) noexcept {
  for (std::size_t i = 0; i < m.size(); ++i) p[i] = m[i];
}

// Builds a host-order IPv4 address from dotted-quad parts; for tests and configuration.
[[nodiscard]] constexpr std::uint32_t ipv4_addr(std::uint8_t a, std::uint8_t b, std::uint8_t c,
                                                std::uint8_t d) noexcept {
  return (std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) | d;
}

}  // namespace twtcp::wire
