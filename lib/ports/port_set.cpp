#include "ports/port_set.hpp"

#include <bit>

namespace twtcp::ports {

void PortSet::insert_range(std::uint16_t first, std::uint16_t last) noexcept {
  for (std::uint32_t p = first; p <= last; ++p) insert(static_cast<std::uint16_t>(p));
}

void PortSet::insert_ranges(std::span<const PortRange> ranges) noexcept {
  for (const PortRange& r : ranges) insert_range(r.low, r.high);
}

PortSet PortSet::from_ranges(std::span<const PortRange> ranges) noexcept {
  PortSet s;
  s.insert_ranges(ranges);
  return s;
}

std::size_t PortSet::size() const noexcept {
  std::size_t n = 0;
  for (std::uint64_t w : words_) n += static_cast<std::size_t>(std::popcount(w));
  return n;
}

}  // namespace twtcp::ports
