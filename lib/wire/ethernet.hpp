// lib/wire/ethernet.hpp: the Ethernet II header (no 802.1Q tags).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/bytes.hpp"
#include "wire/error.hpp"

namespace twtcp::wire {

inline constexpr std::size_t kEthernetHeaderLen = 14;
inline constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr std::uint16_t kEtherTypeArp = 0x0806;

// A view over a frame whose first 14 bytes are known to exist.
class EthernetView {
 public:
  EthernetView() = default;

  [[nodiscard]] MacAddr dst() const noexcept { return load_mac(bytes_.data()); }
  [[nodiscard]] MacAddr src() const noexcept { return load_mac(bytes_.data() + 6); }
  [[nodiscard]] std::uint16_t ethertype() const noexcept { return load_be16(bytes_.data() + 12); }
  // Everything after the header, including any minimum-frame padding; the IPv4 parser trims
  // padding using its total length.
  [[nodiscard]] std::span<const std::uint8_t> payload() const noexcept {
    return bytes_.subspan(kEthernetHeaderLen);
  }
  [[nodiscard]] std::span<const std::uint8_t> bytes() const noexcept { return bytes_; }

 private:
  friend Parsed<EthernetView> parse_ethernet(std::span<const std::uint8_t>) noexcept;
  explicit EthernetView(std::span<const std::uint8_t> b) : bytes_(b) {}
  std::span<const std::uint8_t> bytes_;
};

[[nodiscard]] inline Parsed<EthernetView> parse_ethernet(
    std::span<const std::uint8_t> frame) noexcept {
  if (frame.size() < kEthernetHeaderLen) {
    return Parsed<EthernetView>::fail(ParseError::kEthernetTruncated);
  }
  return {EthernetView(frame), ParseError::kOk};
}

// Writes the 14-byte header; returns 14, or 0 (nothing written) if `out` is too small.
inline std::size_t write_ethernet(std::span<std::uint8_t> out, const MacAddr& dst,
                                  const MacAddr& src, std::uint16_t ethertype) noexcept {
  if (out.size() < kEthernetHeaderLen) return 0;
  store_mac(out.data(), dst);
  store_mac(out.data() + 6, src);
  store_be16(out.data() + 12, ethertype);
  return kEthernetHeaderLen;
}

}  // namespace twtcp::wire
