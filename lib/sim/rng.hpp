// lib/sim/rng.hpp: the simulator's only source of randomness. xoshiro256** seeded through
// splitmix64, so a (seed, stream) pair reproduces a run bit for bit on every platform;
// std::random_device and the <random> distributions are avoided on purpose (their output
// differs between standard libraries).
#pragma once

#include <cstdint>

namespace twtcp::sim {

// One step of splitmix64: also a good 64-bit mixer for deriving per-element seeds.
[[nodiscard]] constexpr std::uint64_t splitmix64(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class Rng {
 public:
  // `stream` separates generators built from one scenario seed (one per link, NAT, ...), so
  // adding an element does not shift the random sequence every other element sees.
  explicit constexpr Rng(std::uint64_t seed = 0, std::uint64_t stream = 0) noexcept {
    std::uint64_t sm = seed ^ (stream * 0xd1b54a32d192ed03ULL);
    for (auto& w : s_) w = splitmix64(sm);
  }

  constexpr std::uint64_t next() noexcept {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 53 bits of precision.
  constexpr double uniform01() noexcept {
    return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0);
  }

  // True with probability p. p <= 0 and p >= 1 draw no number, so a link with an effect
  // switched off consumes no randomness for it.
  constexpr bool bernoulli(double p) noexcept {
    if (!(p > 0.0)) return false;
    if (p >= 1.0) return true;
    return uniform01() < p;
  }

  // Uniform in [0, n]; 0 when n is 0. Plain modulo: the bias (< 2^-40 for the ranges
  // the simulator uses) is irrelevant here and keeps results trivially reproducible.
  constexpr std::uint64_t upto(std::uint64_t n) noexcept {
    if (n == 0) return 0;
    if (n == UINT64_MAX) return next();
    return next() % (n + 1);
  }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept {
    return (x << k) | (x >> (64 - k));
  }
  std::uint64_t s_[4]{};
};

}  // namespace twtcp::sim
