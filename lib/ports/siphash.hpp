// lib/ports/siphash.hpp: SipHash-2-4 (Aumasson & Bernstein, 2012), the keyed 64-bit PRF that
// plays RFC 6056's F() for ephemeral port selection. Linux uses SipHash for
// secure_ipv4_port_ephemeral() too; a keyed hash matters here because an off-path attacker who
// can predict F(saddr, daddr, dport) can predict our source ports.
#pragma once

#include <cstddef>
#include <cstdint>

namespace twtcp::ports {

struct SipKey {
  std::uint64_t k0 = 0;
  std::uint64_t k1 = 0;
};

namespace detail {

constexpr std::uint64_t rotl(std::uint64_t x, int b) noexcept {
  return (x << b) | (x >> (64 - b));
}

struct SipState {
  std::uint64_t v0, v1, v2, v3;

  constexpr void round() noexcept {
    v0 += v1;
    v1 = rotl(v1, 13);
    v1 ^= v0;
    v0 = rotl(v0, 32);
    v2 += v3;
    v3 = rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = rotl(v1, 17);
    v1 ^= v2;
    v2 = rotl(v2, 32);
  }
  constexpr void absorb(std::uint64_t m) noexcept {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
};

}  // namespace detail

// SipHash-2-4 of `len` bytes at `data`. Reads exactly `len` bytes (byte-wise, so any alignment
// is fine); `data` may be null only when `len` is 0.
[[nodiscard]] inline std::uint64_t siphash24(const SipKey& key, const void* data,
                                             std::size_t len) noexcept {
  detail::SipState s{key.k0 ^ 0x736f6d6570736575ULL, key.k1 ^ 0x646f72616e646f6dULL,
                     key.k0 ^ 0x6c7967656e657261ULL, key.k1 ^ 0x7465646279746573ULL};
  const auto* p = static_cast<const unsigned char*>(data);
  const std::size_t whole = len & ~std::size_t{7};
  for (std::size_t i = 0; i < whole; i += 8) {
    std::uint64_t m = 0;
    for (int b = 7; b >= 0; --b) m = (m << 8) | p[i + static_cast<std::size_t>(b)];
    s.absorb(m);
  }
  std::uint64_t last = static_cast<std::uint64_t>(len & 0xff) << 56;
  for (std::size_t b = 0; b < (len & 7); ++b) last |= std::uint64_t{p[whole + b]} << (8 * b);
  s.absorb(last);
  s.v2 ^= 0xff;
  for (int r = 0; r < 4; ++r) s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

// SipHash-2-4 of three 32-bit words laid out little-endian (12 bytes), the shape of Linux's
// siphash_3u32(saddr, daddr, dport).
[[nodiscard]] inline std::uint64_t siphash24_3u32(const SipKey& key, std::uint32_t a,
                                                  std::uint32_t b, std::uint32_t c) noexcept {
  unsigned char buf[12];
  const std::uint32_t words[3] = {a, b, c};
  for (int w = 0; w < 3; ++w)
    for (int i = 0; i < 4; ++i) buf[4 * w + i] = static_cast<unsigned char>(words[w] >> (8 * i));
  return siphash24(key, buf, sizeof buf);
}

// SplitMix64 (Steele, Lea & Flood 2014): expands a caller-given 64-bit seed into the SipHash
// key, the perturbation table and the small random increments, so a fixed seed gives a fully
// reproducible allocator. Not cryptographic; seed it from a real entropy source in production.
struct SplitMix64 {
  std::uint64_t state = 0;
  constexpr std::uint64_t next() noexcept {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};

}  // namespace twtcp::ports
