// lib/sim/switch.cpp
#include "sim/switch.hpp"

#include "wire/bytes.hpp"
#include "wire/ethernet.hpp"

namespace twtcp::sim {

void Switch::receive(int port, std::span<const std::uint8_t> frame, std::uint64_t now_us) {
  // Only the EtherType, IPv4 version and destination are needed; the receiver validates the
  // rest, as a real switch would leave it to.
  constexpr std::size_t kDstOff = wire::kEthernetHeaderLen + 16;
  if (frame.size() < kDstOff + 4 || wire::load_be16(&frame[12]) != wire::kEtherTypeIpv4 ||
      (frame[wire::kEthernetHeaderLen] >> 4) != 4) {
    ++counters_.dropped_no_route;
    return;
  }
  const std::uint32_t dst = wire::load_be32(&frame[kDstOff]);
  std::optional<int> out = default_;
  if (auto it = routes_.find(dst); it != routes_.end()) out = it->second;
  if (!out) {
    ++counters_.dropped_no_route;
    return;
  }
  if (*out == port) {
    ++counters_.dropped_hairpin;
    return;
  }
  if (emit(*out, frame, now_us)) {
    ++counters_.forwarded;
  } else {
    ++counters_.dropped_no_route;
  }
}

}  // namespace twtcp::sim
