// lib/wire/checksum.hpp: the Internet checksum (RFC 1071), the TCP pseudo-header, and
// incremental updates (RFC 1624).
//
// Values are host-order 16-bit numbers; write them with store_be16. A one's-complement sum
// is "folded" (end-around carries added back, fits 16 bits) but not complemented; a checksum
// is the complement of a folded sum.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace twtcp::wire {

// Folded one's-complement sum of `data` read as big-endian 16-bit words, plus `initial` (any
// 32-bit partial sum). An odd trailing byte is the high half of a word padded with zero, so
// chaining sums over several chunks is only exact if every chunk but the last is even-sized.
[[nodiscard]] std::uint16_t ones_sum(std::span<const std::uint8_t> data,
                                     std::uint32_t initial = 0) noexcept;

// The Internet checksum of `data`: ~ones_sum(data).
[[nodiscard]] inline std::uint16_t internet_checksum(std::span<const std::uint8_t> data,
                                                     std::uint32_t initial = 0) noexcept {
  return static_cast<std::uint16_t>(~ones_sum(data, initial));
}

// Folded sum of the IPv4 TCP pseudo-header (src, dst, zero, protocol 6, tcp_length). Not
// complemented: this is also what a NIC with TCP checksum offload expects in the checksum
// field (DPDK's rte_ipv4_phdr_cksum), which is why it is public.
[[nodiscard]] std::uint16_t tcp_pseudo_header_sum(std::uint32_t src_addr, std::uint32_t dst_addr,
                                                  std::uint16_t tcp_length) noexcept;

// Checksum of a whole TCP segment (header with checksum field zeroed, options, payload).
[[nodiscard]] std::uint16_t tcp_checksum(std::uint32_t src_addr, std::uint32_t dst_addr,
                                         std::span<const std::uint8_t> segment) noexcept;

// True when the segment's stored checksum is right (the full sum folds to 0xffff).
[[nodiscard]] bool tcp_checksum_ok(std::uint32_t src_addr, std::uint32_t dst_addr,
                                   std::span<const std::uint8_t> segment) noexcept;

// RFC 1624 eqn. 3: the new checksum after one 16-bit word of the covered data changed from
// old_word to new_word: HC' = ~(~HC + ~m + m'). Unlike RFC 1141's form it agrees bit for bit
// with recomputation, except when all covered data becomes zero (recomputation gives 0xffff,
// this gives 0, the other one's-complement zero); an IPv4 header or a TCP segment with its
// pseudo-header (protocol 6) is never all zero.
[[nodiscard]] constexpr std::uint16_t checksum_adjust16(std::uint16_t checksum,
                                                        std::uint16_t old_word,
                                                        std::uint16_t new_word) noexcept {
  std::uint32_t sum = std::uint32_t{static_cast<std::uint16_t>(~checksum)} +
                      std::uint32_t{static_cast<std::uint16_t>(~old_word)} + new_word;
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

// The same for an aligned 32-bit field (sequence number, address, timestamp): two words.
[[nodiscard]] constexpr std::uint16_t checksum_adjust32(std::uint16_t checksum,
                                                        std::uint32_t old_value,
                                                        std::uint32_t new_value) noexcept {
  checksum = checksum_adjust16(checksum, static_cast<std::uint16_t>(old_value >> 16),
                               static_cast<std::uint16_t>(new_value >> 16));
  return checksum_adjust16(checksum, static_cast<std::uint16_t>(old_value),
                           static_cast<std::uint16_t>(new_value));
}

}  // namespace twtcp::wire
