// lib/wire/ipv4.hpp: the IPv4 header. Options are skipped (their length is honoured, their
// contents ignored); fragments are rejected because twtcp does not reassemble.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/bytes.hpp"
#include "wire/error.hpp"

namespace twtcp::wire {

inline constexpr std::size_t kIpv4MinHeaderLen = 20;
inline constexpr std::uint8_t kIpProtoTcp = 6;

// A view over a validated IPv4 packet: header length and total length are within the
// buffer, so every accessor is in bounds.
class Ipv4View {
 public:
  Ipv4View() = default;

  [[nodiscard]] std::uint8_t ihl() const noexcept { return bytes_[0] & 0x0f; }
  [[nodiscard]] std::size_t header_length() const noexcept { return std::size_t{ihl()} * 4; }
  [[nodiscard]] std::uint8_t tos() const noexcept { return bytes_[1]; }
  [[nodiscard]] std::uint16_t total_length() const noexcept { return load_be16(&bytes_[2]); }
  [[nodiscard]] std::uint16_t id() const noexcept { return load_be16(&bytes_[4]); }
  [[nodiscard]] bool dont_fragment() const noexcept { return (bytes_[6] & 0x40) != 0; }
  [[nodiscard]] std::uint8_t ttl() const noexcept { return bytes_[8]; }
  [[nodiscard]] std::uint8_t protocol() const noexcept { return bytes_[9]; }
  [[nodiscard]] std::uint16_t checksum() const noexcept { return load_be16(&bytes_[10]); }
  // Host byte order.
  [[nodiscard]] std::uint32_t src() const noexcept { return load_be32(&bytes_[12]); }
  [[nodiscard]] std::uint32_t dst() const noexcept { return load_be32(&bytes_[16]); }
  // IP options (possibly empty), unparsed.
  [[nodiscard]] std::span<const std::uint8_t> options() const noexcept {
    return bytes_.subspan(kIpv4MinHeaderLen, header_length() - kIpv4MinHeaderLen);
  }
  // Bytes from the end of the header to total_length (link-layer padding excluded).
  [[nodiscard]] std::span<const std::uint8_t> payload() const noexcept {
    return bytes_.subspan(header_length());
  }
  // The packet, trimmed to total_length.
  [[nodiscard]] std::span<const std::uint8_t> bytes() const noexcept { return bytes_; }

 private:
  friend Parsed<Ipv4View> parse_ipv4(std::span<const std::uint8_t>, bool) noexcept;
  explicit Ipv4View(std::span<const std::uint8_t> b) : bytes_(b) {}
  std::span<const std::uint8_t> bytes_;
};

// Validates version, IHL, total length against the buffer, the header checksum (unless
// verify_checksum is false: an RX offload already checked it) and rejects fragments. Any
// protocol is accepted here; parse_segment() insists on TCP.
[[nodiscard]] Parsed<Ipv4View> parse_ipv4(std::span<const std::uint8_t> packet,
                                          bool verify_checksum = true) noexcept;

struct Ipv4Fields {
  std::uint32_t src = 0;  // host order
  std::uint32_t dst = 0;  // host order
  std::uint8_t protocol = kIpProtoTcp;
  std::uint8_t ttl = 64;
  std::uint8_t tos = 0;
  std::uint16_t id = 0;
  bool dont_fragment = true;
};

// Writes a 20-byte header (no options) for a packet of `total_length` bytes and, if
// `compute_checksum`, its header checksum (else the field is zero, for TX offload). Returns
// 20, or 0 (nothing written) if `out` is too small or total_length < 20.
std::size_t write_ipv4(std::span<std::uint8_t> out, const Ipv4Fields& f, std::uint16_t total_length,
                       bool compute_checksum = true) noexcept;

}  // namespace twtcp::wire
