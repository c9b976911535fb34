#include "ports/allocator.hpp"

#include <algorithm>

namespace twtcp::ports {

namespace {
constexpr std::uint32_t kPerturbSize = 1U << 16;  // INET_TABLE_PERTURB_SIZE
}

const char* reason(RangeError e) noexcept {
  switch (e) {
    case RangeError::kOk:
      return "ok";
    case RangeError::kLowIsZero:
      return "port range must start at 1 or above";
    case RangeError::kLowAboveHigh:
      return "port range low is above high";
  }
  return "unknown port range error";
}

RangeError validate_range(PortRange r) noexcept {
  if (r.low == 0) return RangeError::kLowIsZero;
  if (r.low > r.high) return RangeError::kLowAboveHigh;
  return RangeError::kOk;
}

RangeError validate_socket_range(PortRange r) noexcept {
  if (r.low != 0 && r.high != 0 && r.low > r.high) return RangeError::kLowAboveHigh;
  return RangeError::kOk;
}

PortAllocator::PortAllocator(const AllocatorOptions& options)
    : options_(options), rng_{options.seed}, bound_(std::make_unique<std::uint16_t[]>(65536)) {
  key_.k0 = rng_.next();
  key_.k1 = rng_.next();
  if (options_.algorithm == PortSelect::kAlg4Perturb) {
    // Linux fills table_perturb with random bytes once (get_random_sleepable_once).
    perturb_ = std::make_unique<std::uint16_t[]>(kPerturbSize);
    for (std::uint32_t i = 0; i < kPerturbSize; i += 4) {
      const std::uint64_t r = rng_.next();
      for (std::uint32_t j = 0; j < 4; ++j)
        perturb_[i + j] = static_cast<std::uint16_t>(r >> (16 * j));
    }
  }
}

RangeError PortAllocator::set_range(PortRange r) noexcept {
  const RangeError e = validate_range(r);
  if (e == RangeError::kOk) range_ = r;
  return e;
}

bool PortAllocator::mark_bound(std::uint16_t port) noexcept {
  if (bound_[port] == 0xffff) return false;
  ++bound_[port];
  return true;
}

bool PortAllocator::unmark_bound(std::uint16_t port) noexcept {
  if (bound_[port] == 0) return false;
  --bound_[port];
  return true;
}

PortAllocator::ScanPlan PortAllocator::plan(std::uint64_t f,
                                            PortRange socket_range) const noexcept {
  // inet_sk_get_local_port_range(): each per-socket bound applies only if it lies inside the
  // system range (the high check sees the already narrowed low), so low <= high always holds.
  std::uint32_t low = range_.low;
  std::uint32_t high = range_.high;
  const bool local_range = socket_range.low != 0 || socket_range.high != 0;
  if (local_range) {
    if (low <= socket_range.low && socket_range.low <= high) low = socket_range.low;
    if (low <= socket_range.high && socket_range.high <= high) high = socket_range.high;
  }
  const bool parity = options_.parity_split && !local_range;

  ScanPlan p{};
  p.low = low;
  p.end = high + 1;
  p.remaining = p.end - low;
  p.step = parity ? 2 : 1;
  if (parity && p.remaining > 1) p.remaining &= ~1U;
  p.other_parity_pass = parity && p.remaining > 1;

  std::uint32_t offset;
  if (options_.algorithm == PortSelect::kAlg4Perturb) {
    p.perturb_index = static_cast<std::uint32_t>(f & (kPerturbSize - 1));
    offset = perturb_[p.perturb_index] + static_cast<std::uint32_t>(f >> 32);
  } else {
    offset = hint_ + static_cast<std::uint32_t>(f);  // Linux <= 5.16 used a 32-bit F
  }
  offset %= p.remaining;
  if (parity) {
    offset &= ~1U;
  } else if (options_.algorithm == PortSelect::kAlg3 && !local_range) {
    // Linux <= 4.5 tried low + (i + offset) % N for i = 1..N: the scan starts one past offset.
    offset = (offset + 1) % p.remaining;
  }
  p.offset = offset;
  return p;
}

void PortAllocator::on_success(const ScanPlan& p, std::uint32_t i) noexcept {
  if (options_.algorithm == PortSelect::kAlg4Perturb) {
    // "max() with a random so that on low contention the randomness is maximal and on high
    // contention it may be inexistent" (Linux). The top 3 bits of a SplitMix64 draw are uniform.
    const auto r = static_cast<std::uint32_t>(rng_.next() >> 61);
    const std::uint32_t inc = std::max(i, r * p.step) + p.step;
    perturb_[p.perturb_index] = static_cast<std::uint16_t>(perturb_[p.perturb_index] + inc);
  } else {
    hint_ += i + p.step;
  }
}

AllocatorOptions allocator_options_from_config(const Config& cfg) noexcept {
  const EffectivePolicy eff = cfg.effective();
  AllocatorOptions o;
  o.algorithm = eff.port_select;
  o.parity_split = eff.parity_split;
  o.seed = cfg.random_seed;
  return o;
}

RangeError apply_config(PortAllocator& alloc, const Config& cfg) noexcept {
  alloc.set_reserved(cfg.ip_local_reserved_ports);
  return alloc.set_range(cfg.ip_local_port_range);
}

}  // namespace twtcp::ports
