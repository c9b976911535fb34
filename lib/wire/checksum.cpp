#include "wire/checksum.hpp"

#include <cstring>

#include "wire/bytes.hpp"

namespace twtcp::wire {
namespace {

constexpr std::uint16_t fold(std::uint64_t sum) noexcept {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

}  // namespace

std::uint16_t ones_sum(std::span<const std::uint8_t> data, std::uint32_t initial) noexcept {
  // Summing native-order 32-bit words and byte-swapping the folded result is equivalent to
  // summing big-endian 16-bit words (RFC 1071 §2(B), byte-order independence), and lets the
  // compiler vectorise the loop. A 64-bit accumulator cannot overflow for any IPv4 packet.
  const std::uint8_t* p = data.data();
  std::size_t n = data.size();
  std::uint64_t acc = 0;
  while (n >= 4) {
    std::uint32_t w;
    std::memcpy(&w, p, 4);
    acc += w;
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    std::uint16_t w;
    std::memcpy(&w, p, 2);
    acc += w;
    p += 2;
    n -= 2;
  }
  if (n == 1) {
    const std::uint8_t pad[2] = {p[0], 0};
    std::uint16_t w;
    std::memcpy(&w, pad, 2);
    acc += w;
  }
  std::uint16_t native = fold(acc);
  // Convert the folded native-order sum to a big-endian-word sum.
  std::uint8_t bytes[2];
  std::memcpy(bytes, &native, 2);
  const std::uint16_t be = load_be16(bytes);
  return fold(std::uint64_t{be} + initial);
}

std::uint16_t tcp_pseudo_header_sum(std::uint32_t src_addr, std::uint32_t dst_addr,
                                    std::uint16_t tcp_length) noexcept {
  std::uint64_t sum = (src_addr >> 16) + (src_addr & 0xffff) + (dst_addr >> 16) +
                      (dst_addr & 0xffff) + 6u /* IPPROTO_TCP */ + tcp_length;
  return fold(sum);
}

std::uint16_t tcp_checksum(std::uint32_t src_addr, std::uint32_t dst_addr,
                           std::span<const std::uint8_t> segment) noexcept {
  const auto len = static_cast<std::uint16_t>(segment.size());
  return internet_checksum(segment, tcp_pseudo_header_sum(src_addr, dst_addr, len));
}

bool tcp_checksum_ok(std::uint32_t src_addr, std::uint32_t dst_addr,
                     std::span<const std::uint8_t> segment) noexcept {
  const auto len = static_cast<std::uint16_t>(segment.size());
  return ones_sum(segment, tcp_pseudo_header_sum(src_addr, dst_addr, len)) == 0xffff;
}

}  // namespace twtcp::wire
