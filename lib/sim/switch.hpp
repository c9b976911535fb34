// lib/sim/switch.hpp: forwards frames between ports by destination IPv4 address, so several
// hosts can share one side of a NAT or a server (two clients behind one NAT, SPEC §5.3).
// A layer-3 idealisation of a LAN: no MAC learning and no ARP (sim nodes do not ARP).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>

#include "sim/simulator.hpp"

namespace twtcp::sim {

struct SwitchCounters {
  std::uint64_t forwarded = 0;
  std::uint64_t dropped_no_route = 0;  // no route and no default, or not IPv4
  std::uint64_t dropped_hairpin = 0;   // route points back out of the arrival port
};

class Switch : public Node {
 public:
  // Frames for `addr` (host order) leave on `port`.
  void route(std::uint32_t addr, int port) { routes_[addr] = port; }
  // Where frames for unrouted addresses go (e.g. the uplink to the NAT); none by default.
  void set_default(int port) noexcept { default_ = port; }

  void receive(int port, std::span<const std::uint8_t> frame, std::uint64_t now_us) override;

  [[nodiscard]] const SwitchCounters& counters() const noexcept { return counters_; }

 private:
  std::map<std::uint32_t, int> routes_;
  std::optional<int> default_;
  SwitchCounters counters_;
};

}  // namespace twtcp::sim
