// lib/wire/segment.hpp: the one-call path between frames and the TCP layer. RX:
// parse_segment() walks Ethernet -> IPv4 -> TCP (+ options) and yields a SegmentView of plain
// fields over the caller's bytes. TX: build_segment() writes the three headers, options and
// checksums into a caller-provided buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/bytes.hpp"
#include "wire/error.hpp"
#include "wire/tcp.hpp"

namespace twtcp::wire {

// Which checksums to verify (RX) or compute (TX). Turn one off when the NIC offloads it.
struct Checksums {
  bool ipv4 = true;
  bool tcp = true;
};
inline constexpr Checksums kAllChecksums{true, true};
inline constexpr Checksums kNoChecksums{false, false};

// A parsed TCP/IPv4 segment. Addresses and ports are host order; `payload` points into the
// frame it was parsed from and lives as long as that buffer.
struct SegmentView {
  MacAddr eth_src{};
  MacAddr eth_dst{};
  std::uint32_t src_addr = 0;
  std::uint32_t dst_addr = 0;
  std::uint8_t ttl = 0;
  std::uint8_t tos = 0;
  std::uint16_t ip_id = 0;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;  // raw, unscaled
  std::uint16_t urgent = 0;
  TcpOptions options;
  std::span<const std::uint8_t> payload;

  [[nodiscard]] bool has(std::uint8_t flag_bits) const noexcept {
    return (flags & flag_bits) == flag_bits;
  }
  // Sequence space consumed: payload plus one each for SYN and FIN (RFC 9293 SEG.LEN).
  [[nodiscard]] std::uint32_t seg_len() const noexcept {
    return static_cast<std::uint32_t>(payload.size()) + ((flags & tcp_flags::kSyn) ? 1u : 0u) +
           ((flags & tcp_flags::kFin) ? 1u : 0u);
  }
  [[nodiscard]] std::uint32_t end_seq() const noexcept { return seq + seg_len(); }
};

// Ethernet frame -> segment. Errors: anything from the Ethernet, IPv4, TCP and option
// parsers, kNotIpv4 / kNotTcp for other traffic, and bad checksums when verified.
[[nodiscard]] Parsed<SegmentView> parse_segment(std::span<const std::uint8_t> frame,
                                                Checksums verify = kAllChecksums) noexcept;

// The same from an IPv4 packet with no link layer (eth_src/eth_dst are left zero).
[[nodiscard]] Parsed<SegmentView> parse_ip_segment(std::span<const std::uint8_t> packet,
                                                   Checksums verify = kAllChecksums) noexcept;

// Everything needed to emit one segment (addresses/ports host order).
struct SegmentSpec {
  MacAddr eth_src{};
  MacAddr eth_dst{};
  std::uint32_t src_addr = 0;
  std::uint32_t dst_addr = 0;
  std::uint8_t ttl = 64;
  std::uint8_t tos = 0;
  std::uint16_t ip_id = 0;
  bool dont_fragment = true;
  TcpFields tcp;
};

// Header bytes build_ip_segment() writes before the payload: 20 + 20 + options.
[[nodiscard]] inline std::size_t ip_segment_header_length(const SegmentSpec& s) noexcept {
  return 40 + tcp_options_length(s.tcp.options);
}
[[nodiscard]] inline std::size_t segment_header_length(const SegmentSpec& s) noexcept {
  return 14 + ip_segment_header_length(s);
}

// Writes Ethernet + IPv4 + TCP (+ options) + payload into `out` and returns the frame length,
// or 0 (contents unspecified) if it does not fit in `out` or in an IPv4 packet. The payload
// is moved into place; if the caller already put it at out[segment_header_length(spec)] it
// is not copied at all. With compute.tcp false the TCP checksum field holds the pseudo-header
// sum and with compute.ipv4 false the IPv4 checksum is zero: what NIC TX offload expects.
// No Ethernet minimum-size padding is added (NICs pad).
std::size_t build_segment(std::span<std::uint8_t> out, const SegmentSpec& spec,
                          std::span<const std::uint8_t> payload = {},
                          Checksums compute = kAllChecksums) noexcept;

// The same without the Ethernet header.
std::size_t build_ip_segment(std::span<std::uint8_t> out, const SegmentSpec& spec,
                             std::span<const std::uint8_t> payload = {},
                             Checksums compute = kAllChecksums) noexcept;

}  // namespace twtcp::wire
