// tests/sim/helpers.hpp: small builders shared by the simulator tests.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "sim/scripted_host.hpp"
#include "sim/simulator.hpp"
#include "wire/bytes.hpp"
#include "wire/segment.hpp"

namespace twtcp::sim::testing {

inline constexpr std::uint32_t kClient1 = wire::ipv4_addr(198, 18, 1, 2);
inline constexpr std::uint32_t kClient2 = wire::ipv4_addr(198, 18, 2, 2);
inline constexpr std::uint32_t kServer = wire::ipv4_addr(198, 18, 0, 1);
inline constexpr std::uint32_t kPublic = wire::ipv4_addr(198, 19, 0, 1);

inline wire::SegmentSpec spec(std::uint32_t src, std::uint16_t sport, std::uint32_t dst,
                              std::uint16_t dport, std::uint8_t flags, std::uint32_t seq = 1000,
                              std::uint32_t ack = 0) {
  wire::SegmentSpec s;
  s.src_addr = src;
  s.dst_addr = dst;
  s.tcp.src_port = sport;
  s.tcp.dst_port = dport;
  s.tcp.flags = flags;
  s.tcp.seq = seq;
  s.tcp.ack = ack;
  s.tcp.window = 65535;
  return s;
}

// A frame whose sequence number identifies it, for order checks.
inline Frame numbered(std::uint32_t n) {
  return build_frame(spec(kClient1, 40000, kServer, 80, wire::tcp_flags::kAck, n));
}

inline std::uint32_t seq_of(std::span<const std::uint8_t> f) {
  auto s = wire::parse_segment(f);
  return s ? s->seq : 0xffffffffu;
}

// A sink that remembers (time, seq) of what arrives.
class Recorder : public FrameSink {
 public:
  struct Hit {
    std::uint64_t at;
    std::uint32_t seq;
  };
  void receive(int, std::span<const std::uint8_t> f, std::uint64_t now) override {
    hits.push_back(Hit{now, seq_of(f)});
  }
  std::vector<Hit> hits;
};

}  // namespace twtcp::sim::testing
