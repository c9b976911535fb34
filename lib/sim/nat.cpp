// lib/sim/nat.cpp
#include "sim/nat.hpp"

#include <string>

#include "sim/timeline.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/segment.hpp"

namespace twtcp::sim {
namespace {

// Offsets into a frame that parse_segment() accepted: Ethernet header, then IPv4 with IHL.
struct Offsets {
  std::size_t ip;
  std::size_t tcp;
};
Offsets offsets_of(std::span<const std::uint8_t> frame) {
  const std::size_t ip = wire::kEthernetHeaderLen;
  return Offsets{ip, ip + std::size_t{static_cast<std::uint8_t>(frame[ip] & 0x0f)} * 4};
}

// Replaces a 32-bit address at `addr_off` and a port at `port_off` (both in the frame),
// patching the IPv4 header checksum and the TCP checksum (which covers the address through
// the pseudo-header) incrementally, as a NAT on a fast path does.
void rewrite(std::span<std::uint8_t> f, const Offsets& o, std::size_t addr_off,
             std::size_t port_off, std::uint32_t new_addr, std::uint16_t new_port) {
  const std::uint32_t old_addr = wire::load_be32(&f[addr_off]);
  const std::uint16_t old_port = wire::load_be16(&f[port_off]);
  std::uint8_t* ip_ck = &f[o.ip + 10];
  std::uint8_t* tcp_ck = &f[o.tcp + 16];
  wire::store_be16(ip_ck, wire::checksum_adjust32(wire::load_be16(ip_ck), old_addr, new_addr));
  std::uint16_t c = wire::load_be16(tcp_ck);
  c = wire::checksum_adjust32(c, old_addr, new_addr);
  c = wire::checksum_adjust16(c, old_port, new_port);
  wire::store_be16(tcp_ck, c);
  wire::store_be32(&f[addr_off], new_addr);
  wire::store_be16(&f[port_off], new_port);
}

}  // namespace

Nat::Nat(const NatParams& params, std::uint64_t seed) : params_(params), rng_(seed, 0x4e4154) {
  if (params_.port_min == 0) params_.port_min = 1;
  if (params_.port_max < params_.port_min) params_.port_max = params_.port_min;
}

void Nat::drop(std::uint64_t now_us, std::span<const std::uint8_t> frame, const char* why) {
  if (timeline_ == nullptr) return;
  timeline_->record(now_us, frame, std::string("nat drop: ") + why);
}

void Nat::receive(int port, std::span<const std::uint8_t> frame, std::uint64_t now_us) {
  if (port == kInside) {
    outbound(frame, now_us);
  } else if (port == kOutside) {
    inbound(frame, now_us);
  }
}

void Nat::erase(std::map<InnerKey, Mapping>::iterator it) {
  by_outer_.erase(OuterKey{it->second.outer_port, it->second.remote_addr, it->second.remote_port});
  by_inner_.erase(it);
}

std::size_t Nat::expire(std::uint64_t now_us) {
  std::size_t n = 0;
  for (auto it = by_inner_.begin(); it != by_inner_.end();) {
    auto next = std::next(it);
    if (expired(it->second, now_us)) {
      erase(it);
      ++n;
    }
    it = next;
  }
  counters_.mappings_expired += n;
  return n;
}

std::optional<Nat::Mapping> Nat::lookup(std::uint32_t inner_addr, std::uint16_t inner_port,
                                        std::uint32_t remote_addr, std::uint16_t remote_port,
                                        std::uint64_t now_us) const {
  auto it = by_inner_.find(InnerKey{inner_addr, inner_port, remote_addr, remote_port});
  if (it == by_inner_.end() || expired(it->second, now_us)) return std::nullopt;
  return it->second;
}

std::optional<std::uint16_t> Nat::pick_port(std::uint16_t wanted, std::uint32_t remote_addr,
                                            std::uint16_t remote_port, std::uint64_t now_us) {
  // A port is free for this destination if no live mapping holds the outside tuple; a stale
  // one found on the way is collected.
  auto free_port = [&](std::uint16_t p) {
    auto it = by_outer_.find(OuterKey{p, remote_addr, remote_port});
    if (it == by_outer_.end()) return true;
    auto in = by_inner_.find(it->second);
    if (in != by_inner_.end() && expired(in->second, now_us)) {
      erase(in);
      ++counters_.mappings_expired;
      return true;
    }
    return false;
  };
  if (wanted != 0 && free_port(wanted)) return wanted;
  const std::uint32_t span = std::uint32_t{params_.port_max} - params_.port_min + 1;
  const std::uint32_t start = static_cast<std::uint32_t>(rng_.upto(span - 1));
  for (std::uint32_t i = 0; i < span; ++i) {
    const auto p = static_cast<std::uint16_t>(params_.port_min + (start + i) % span);
    if (free_port(p)) return p;
  }
  return std::nullopt;
}

void Nat::outbound(std::span<const std::uint8_t> frame, std::uint64_t now_us) {
  const auto seg = wire::parse_segment(
      frame, params_.verify_checksums ? wire::kAllChecksums : wire::kNoChecksums);
  if (!seg) {
    ++counters_.dropped_unparseable;
    drop(now_us, frame, seg.why());
    return;
  }
  const InnerKey key{seg->src_addr, seg->src_port, seg->dst_addr, seg->dst_port};
  auto it = by_inner_.find(key);
  if (it != by_inner_.end() && expired(it->second, now_us)) {
    erase(it);
    ++counters_.mappings_expired;
    it = by_inner_.end();
  }
  if (it == by_inner_.end()) {
    if (by_inner_.size() >= params_.max_mappings) expire(now_us);
    if (by_inner_.size() >= params_.max_mappings) {
      ++counters_.dropped_table_full;
      drop(now_us, frame, "table full");
      return;
    }
    const auto port = pick_port(seg->src_port, seg->dst_addr, seg->dst_port, now_us);
    if (!port) {
      ++counters_.dropped_no_port;
      drop(now_us, frame, "no free port");
      return;
    }
    if (*port != seg->src_port) ++counters_.port_remapped;
    ++counters_.mappings_created;
    it = by_inner_
             .emplace(key, Mapping{seg->src_addr, seg->src_port, seg->dst_addr, seg->dst_port,
                                   *port, now_us})
             .first;
    by_outer_.emplace(OuterKey{*port, seg->dst_addr, seg->dst_port}, key);
  }
  it->second.last_used_us = now_us;
  Frame out(frame.begin(), frame.end());
  const Offsets o = offsets_of(out);
  rewrite(out, o, o.ip + 12, o.tcp + 0, params_.public_addr, it->second.outer_port);
  ++counters_.translated_out;
  emit(kOutside, out, now_us);
}

void Nat::inbound(std::span<const std::uint8_t> frame, std::uint64_t now_us) {
  const auto seg = wire::parse_segment(
      frame, params_.verify_checksums ? wire::kAllChecksums : wire::kNoChecksums);
  if (!seg) {
    ++counters_.dropped_unparseable;
    drop(now_us, frame, seg.why());
    return;
  }
  auto ot = seg->dst_addr == params_.public_addr
                ? by_outer_.find(OuterKey{seg->dst_port, seg->src_addr, seg->src_port})
                : by_outer_.end();
  auto it = ot != by_outer_.end() ? by_inner_.find(ot->second) : by_inner_.end();
  if (it != by_inner_.end() && expired(it->second, now_us)) {
    erase(it);
    ++counters_.mappings_expired;
    it = by_inner_.end();
  }
  if (it == by_inner_.end()) {
    ++counters_.dropped_no_mapping;
    drop(now_us, frame, "no mapping");
    return;
  }
  it->second.last_used_us = now_us;
  Frame out(frame.begin(), frame.end());
  const Offsets o = offsets_of(out);
  rewrite(out, o, o.ip + 16, o.tcp + 2, it->second.inner_addr, it->second.inner_port);
  ++counters_.translated_in;
  emit(kInside, out, now_us);
}

}  // namespace twtcp::sim
