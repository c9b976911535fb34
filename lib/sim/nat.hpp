// lib/sim/nat.hpp: a source NAT that behaves like iptables -j MASQUERADE for TCP/IPv4.
//
// Frames from the inside port get their source address replaced by the public address and
// their source port mapped per flow; replies arriving on the outside port are translated
// back. Like Linux (nf_nat_l4proto_unique_tuple), the original source port is kept unless
// the resulting outside 4-tuple is already in use, in which case another port is searched
// from a seeded random offset in [port_min, port_max]. Timestamps and sequence numbers pass
// untouched: that is exactly why two clients behind one NAT look like one host with a
// jumping TS clock to a tw_recycle server (SPEC §5.3).
//
// Simplifications, on purpose: one timeout for every mapping (conntrack's per-state TCP
// timeouts are not modelled; FIN/RST do not shorten it), refreshed by traffic in either
// direction and enforced lazily; non-TCP and unparseable frames are dropped and counted; MAC
// addresses are left as they are (sim nodes do not ARP).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <tuple>

#include "sim/rng.hpp"
#include "sim/simulator.hpp"

namespace twtcp::sim {

class Timeline;

struct NatParams {
  std::uint32_t public_addr = 0;  // host order
  std::uint16_t port_min = 1024;  // range for replacement ports (Linux: 1024-65535)
  std::uint16_t port_max = 65535;
  std::size_t max_mappings = 65536;        // new flows beyond this are dropped
  std::uint64_t timeout_us = 120'000'000;  // idle time after which a mapping is forgotten
  bool verify_checksums = true;            // drop frames whose checksums are wrong
};

struct NatCounters {
  std::uint64_t translated_out = 0;  // inside -> outside frames forwarded
  std::uint64_t translated_in = 0;   // outside -> inside frames forwarded
  std::uint64_t mappings_created = 0;
  std::uint64_t mappings_expired = 0;
  std::uint64_t port_remapped = 0;        // new mappings that could not keep their port
  std::uint64_t dropped_unparseable = 0;  // not TCP/IPv4, malformed or bad checksum
  std::uint64_t dropped_no_mapping = 0;   // outside frame matching no mapping
  std::uint64_t dropped_table_full = 0;
  std::uint64_t dropped_no_port = 0;  // every port in range taken for that destination
};

class Nat : public Node {
 public:
  static constexpr int kInside = 0;
  static constexpr int kOutside = 1;

  struct Mapping {
    std::uint32_t inner_addr;
    std::uint16_t inner_port;
    std::uint32_t remote_addr;
    std::uint16_t remote_port;
    std::uint16_t outer_port;
    std::uint64_t last_used_us;
  };

  Nat(const NatParams& params, std::uint64_t seed);

  // Drops (with a reason) are annotated there.
  void set_timeline(Timeline* timeline) noexcept { timeline_ = timeline; }

  void receive(int port, std::span<const std::uint8_t> frame, std::uint64_t now_us) override;

  // The live mapping of an inside flow, if any (expired ones are not returned).
  [[nodiscard]] std::optional<Mapping> lookup(std::uint32_t inner_addr, std::uint16_t inner_port,
                                              std::uint32_t remote_addr, std::uint16_t remote_port,
                                              std::uint64_t now_us) const;
  // Mappings held, expired-but-not-yet-collected ones included.
  [[nodiscard]] std::size_t size() const noexcept { return by_inner_.size(); }
  // Removes every mapping idle for timeout_us or more; returns how many.
  std::size_t expire(std::uint64_t now_us);

  [[nodiscard]] const NatCounters& counters() const noexcept { return counters_; }
  [[nodiscard]] const NatParams& params() const noexcept { return params_; }

 private:
  using InnerKey = std::tuple<std::uint32_t, std::uint16_t, std::uint32_t, std::uint16_t>;
  using OuterKey = std::tuple<std::uint16_t, std::uint32_t, std::uint16_t>;  // port, remote

  void outbound(std::span<const std::uint8_t> frame, std::uint64_t now_us);
  void inbound(std::span<const std::uint8_t> frame, std::uint64_t now_us);
  [[nodiscard]] bool expired(const Mapping& m, std::uint64_t now_us) const noexcept {
    return now_us - m.last_used_us >= params_.timeout_us;
  }
  void erase(std::map<InnerKey, Mapping>::iterator it);
  std::optional<std::uint16_t> pick_port(std::uint16_t wanted, std::uint32_t remote_addr,
                                         std::uint16_t remote_port, std::uint64_t now_us);
  void drop(std::uint64_t now_us, std::span<const std::uint8_t> frame, const char* why);

  NatParams params_;
  Rng rng_;
  Timeline* timeline_ = nullptr;
  NatCounters counters_;
  // Ordered maps: iteration order (expiry sweeps) must not depend on hashing.
  std::map<InnerKey, Mapping> by_inner_;
  std::map<OuterKey, InnerKey> by_outer_;
};

}  // namespace twtcp::sim
