// lib/flow/rss.hpp: receive-side scaling computed in software. Owns the Toeplitz hash a NIC
// computes over an IPv4 TCP 4-tuple (Microsoft's RSS definition, what DPDK's rte_softrss()
// computes), the redirection table (RETA) that turns the hash into an RX queue, and the
// question a Stack that owns one queue of a multi-queue port asks when connect() picks a
// source port: will the peer's answers to this 4-tuple arrive on my queue? A port whose
// answers would land on another lcore's queue is as good as busy to this Stack.
//
// Header-only and DPDK-free like the rest of lib/flow: lib/dpdk reads the device's key and
// RETA and hands them over; tests/dpdk checks the hash against rte_softrss.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "flow/key.hpp"

namespace twtcp::flow {

// 0x6d5a repeated: with this key the Toeplitz hash of an IPv4 TCP tuple is the same in both
// directions (Woo and Park, "Scalable TCP Session Monitoring with Symmetric Receive-side
// Scaling", 2012), so one flow's two directions land on one queue. 40 bytes, the common size.
inline constexpr std::array<std::uint8_t, 40> kSymmetricRssKey = [] {
  std::array<std::uint8_t, 40> k{};
  for (std::size_t i = 0; i < k.size(); i += 2) {
    k[i] = 0x6d;
    k[i + 1] = 0x5a;
  }
  return k;
}();

// The Toeplitz hash over the 12 bytes of an IPv4 TCP tuple, in wire order: source address,
// destination address, source port, destination port. Precomputed per input byte (12 x 256
// words, 12 KiB), so a hash is 12 table loads; the table is built once from the key.
class ToeplitzV4 {
 public:
  static constexpr std::size_t kInputBytes = 12;
  // The key must hold at least kInputBytes + 4 bytes (every window of 32 key bits that an
  // input bit selects); NICs use 40 (or 52). Shorter keys are zero-extended.
  explicit ToeplitzV4(std::span<const std::uint8_t> key) {
    auto key_bit = [&](std::size_t i) -> std::uint32_t {
      const std::size_t byte = i / 8;
      return byte < key.size() ? (key[byte] >> (7 - i % 8)) & 1u : 0u;
    };
    // window(i): the 32 key bits starting at bit i (bit 0 = the key's first MSB).
    auto window = [&](std::size_t i) {
      std::uint32_t w = 0;
      for (std::size_t b = 0; b < 32; ++b) w = (w << 1) | key_bit(i + b);
      return w;
    };
    for (std::size_t pos = 0; pos < kInputBytes; ++pos) {
      std::array<std::uint32_t, 8> bit_windows{};
      for (std::size_t j = 0; j < 8; ++j) bit_windows[j] = window(pos * 8 + j);
      for (std::uint32_t v = 0; v < 256; ++v) {
        std::uint32_t h = 0;
        for (std::size_t j = 0; j < 8; ++j) {
          if (v & (0x80u >> j)) h ^= bit_windows[j];
        }
        table_[pos][v] = h;
      }
    }
  }

  // Addresses and ports in host byte order (as FlowKeyV4 holds them).
  [[nodiscard]] std::uint32_t hash(std::uint32_t src_addr, std::uint32_t dst_addr,
                                   std::uint16_t src_port, std::uint16_t dst_port) const noexcept {
    return word(0, src_addr) ^ word(4, dst_addr) ^ half(8, src_port) ^ half(10, dst_port);
  }

 private:
  [[nodiscard]] std::uint32_t word(std::size_t pos, std::uint32_t v) const noexcept {
    return half(pos, static_cast<std::uint16_t>(v >> 16)) ^
           half(pos + 2, static_cast<std::uint16_t>(v));
  }
  [[nodiscard]] std::uint32_t half(std::size_t pos, std::uint16_t v) const noexcept {
    return table_[pos][v >> 8] ^ table_[pos + 1][v & 0xff];
  }
  std::array<std::array<std::uint32_t, 256>, kInputBytes> table_{};
};

// A redirection table of `size` entries spreading hashes over `queues` queues in turn: what
// lib/dpdk writes into a NIC and what its software RSS uses, so both steer alike.
[[nodiscard]] inline std::vector<std::uint16_t> round_robin_reta(std::size_t size,
                                                                 std::uint16_t queues) {
  std::vector<std::uint16_t> reta(size);
  for (std::size_t i = 0; i < size; ++i) reta[i] = static_cast<std::uint16_t>(i % queues);
  return reta;
}

// One queue's view of a port's RSS: the key, the RETA (index = hash modulo its size, which
// NICs make a power of two and read from the hash's low bits) and which queue is ours.
class RssSteering {
 public:
  // `reta` must not be empty; its entries are queue numbers.
  RssSteering(std::span<const std::uint8_t> key, std::span<const std::uint16_t> reta,
              std::uint16_t queue)
      : toeplitz_(key), reta_(reta.begin(), reta.end()), queue_(queue) {}

  // The queue a frame from src to dst lands on.
  [[nodiscard]] std::uint16_t queue_of(std::uint32_t src_addr, std::uint32_t dst_addr,
                                       std::uint16_t src_port,
                                       std::uint16_t dst_port) const noexcept {
    const std::uint32_t h = toeplitz_.hash(src_addr, dst_addr, src_port, dst_port);
    return reta_[h % reta_.size()];
  }
  // The queue the peer's segments of this connection arrive on (they travel remote -> local).
  [[nodiscard]] std::uint16_t queue_of(const FlowKeyV4& k) const noexcept {
    return queue_of(k.remote_addr, k.local_addr, k.remote_port, k.local_port);
  }
  [[nodiscard]] bool ours(const FlowKeyV4& k) const noexcept { return queue_of(k) == queue_; }
  [[nodiscard]] std::uint16_t queue() const noexcept { return queue_; }
  [[nodiscard]] std::size_t reta_size() const noexcept { return reta_.size(); }

 private:
  ToeplitzV4 toeplitz_;
  std::vector<std::uint16_t> reta_;
  std::uint16_t queue_;
};

}  // namespace twtcp::flow
