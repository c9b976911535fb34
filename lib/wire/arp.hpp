// lib/wire/arp.hpp: ARP for Ethernet/IPv4 (RFC 826), request and reply only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/bytes.hpp"
#include "wire/error.hpp"

namespace twtcp::wire {

inline constexpr std::size_t kArpLen = 28;

enum class ArpOp : std::uint16_t { kRequest = 1, kReply = 2 };

// A view over a validated 28-byte ARP body (the Ethernet payload; trailing padding ignored).
class ArpView {
 public:
  ArpView() = default;

  [[nodiscard]] ArpOp op() const noexcept { return static_cast<ArpOp>(load_be16(&bytes_[6])); }
  [[nodiscard]] MacAddr sender_mac() const noexcept { return load_mac(&bytes_[8]); }
  [[nodiscard]] std::uint32_t sender_ip() const noexcept { return load_be32(&bytes_[14]); }
  [[nodiscard]] MacAddr target_mac() const noexcept { return load_mac(&bytes_[18]); }
  [[nodiscard]] std::uint32_t target_ip() const noexcept { return load_be32(&bytes_[24]); }

 private:
  friend Parsed<ArpView> parse_arp(std::span<const std::uint8_t>) noexcept;
  explicit ArpView(std::span<const std::uint8_t> b) : bytes_(b) {}
  std::span<const std::uint8_t> bytes_;
};

// Parses the ARP body (EthernetView::payload() of an 0x0806 frame).
[[nodiscard]] Parsed<ArpView> parse_arp(std::span<const std::uint8_t> body) noexcept;

// Parses a whole Ethernet frame that must carry ARP.
[[nodiscard]] Parsed<ArpView> parse_arp_frame(std::span<const std::uint8_t> frame) noexcept;

struct ArpFields {
  ArpOp op = ArpOp::kRequest;
  MacAddr sender_mac{};
  std::uint32_t sender_ip = 0;  // host order
  MacAddr target_mac{};         // zero in a request
  std::uint32_t target_ip = 0;  // host order
};

// Writes Ethernet + ARP (42 bytes, unpadded; the NIC pads to 60). A request goes to the
// broadcast address, a reply to target_mac. Returns 42, or 0 if `out` is too small.
std::size_t build_arp_frame(std::span<std::uint8_t> out, const ArpFields& f) noexcept;

// Convenience: who-has target_ip? tell my_ip.
inline std::size_t build_arp_request(std::span<std::uint8_t> out, const MacAddr& my_mac,
                                     std::uint32_t my_ip, std::uint32_t target_ip) noexcept {
  return build_arp_frame(out, ArpFields{ArpOp::kRequest, my_mac, my_ip, MacAddr{}, target_ip});
}

// Convenience: answer `request` (which asked for my_ip) with my_mac.
inline std::size_t build_arp_reply(std::span<std::uint8_t> out, const MacAddr& my_mac,
                                   const ArpView& request) noexcept {
  return build_arp_frame(out, ArpFields{ArpOp::kReply, my_mac, request.target_ip(),
                                        request.sender_mac(), request.sender_ip()});
}

}  // namespace twtcp::wire
