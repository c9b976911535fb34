// lib/flow/key.hpp: the flow key (the 4-tuple) that every table in lib/flow
// and the port allocator agree on.
//
// Addresses and ports are held in host byte order; lib/wire converts at the
// edge. The key type is a template parameter of the tables, so an IPv6 key
// (FlowKeyV6, 36 bytes) can be added beside this one without touching them:
// a key type needs operator==, a 64-bit hash() and is trivially copyable.
#pragma once

#include <cstdint>
#include <type_traits>

namespace twtcp::flow {

struct FlowKeyV4 {
  std::uint32_t local_addr = 0;
  std::uint32_t remote_addr = 0;
  std::uint16_t local_port = 0;
  std::uint16_t remote_port = 0;

  friend bool operator==(const FlowKeyV4&, const FlowKeyV4&) = default;

  // A multiply-xorshift mix of the 96 key bits. Not keyed: the flow table
  // is not exposed to hash flooding through this function alone because
  // Table mixes in a per-table random seed (see table.hpp).
  [[nodiscard]] std::uint64_t hash(std::uint64_t seed = 0) const noexcept {
    std::uint64_t a = (std::uint64_t{local_addr} << 32) | remote_addr;
    std::uint64_t b = (std::uint64_t{local_port} << 16) | remote_port;
    std::uint64_t h = seed ^ 0x9e3779b97f4a7c15ULL;
    h ^= a;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 31;
    h ^= b;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 29;
    return h;
  }
};
static_assert(sizeof(FlowKeyV4) == 12);
static_assert(std::is_trivially_copyable_v<FlowKeyV4>);

}  // namespace twtcp::flow
