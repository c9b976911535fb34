// lib/ports/port_set.hpp: a set of TCP ports as a 65536-bit bitmap (8 KiB), for O(1) lookups
// on the autobind path. The list syntax of net.ipv4.ip_local_reserved_ports ("8080,9000-9010")
// is lib/config's: parse it with twtcp::parse_port_list() and build the set from the ranges.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "twtcp/config.hpp"

namespace twtcp::ports {

class PortSet {
 public:
  // Every port of every range (ranges may overlap or come in any order).
  [[nodiscard]] static PortSet from_ranges(std::span<const PortRange> ranges) noexcept;

  [[nodiscard]] bool contains(std::uint16_t port) const noexcept {
    return (words_[port >> 6] >> (port & 63)) & 1U;
  }
  void insert(std::uint16_t port) noexcept { words_[port >> 6] |= std::uint64_t{1} << (port & 63); }
  void erase(std::uint16_t port) noexcept {
    words_[port >> 6] &= ~(std::uint64_t{1} << (port & 63));
  }
  // Inserts every port in [first, last]; nothing when first > last.
  void insert_range(std::uint16_t first, std::uint16_t last) noexcept;
  void insert_ranges(std::span<const PortRange> ranges) noexcept;
  void clear() noexcept { words_.fill(0); }
  [[nodiscard]] std::size_t size() const noexcept;
  [[nodiscard]] bool empty() const noexcept { return size() == 0; }

  friend bool operator==(const PortSet&, const PortSet&) = default;

 private:
  std::array<std::uint64_t, 65536 / 64> words_{};
};

}  // namespace twtcp::ports
