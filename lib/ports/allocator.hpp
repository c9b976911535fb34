// lib/ports/allocator.hpp: the ephemeral (source) port allocator for active opens, a model of
// Linux's __inet_hash_connect() (../shared/SPEC.md 4.3).
//
// The allocator does not know about connections. For each candidate 4-tuple it asks a
// caller-supplied probe, `TupleState probe(const flow::FlowKeyV4& key, bool explicit_port)`,
// and the caller (the TCP stack, which owns the flow table and the tcp_tw_reuse policy) answers
// Free, TimeWaitReusable (a TIME_WAIT entry holds the tuple and may be taken over) or Busy.
// Picking a port does not reserve it: the caller inserts the new flow right after a successful
// pick (that insert is the commit, as the ehash insert is in Linux). Not thread-safe: one
// allocator per Stack, used from one lcore at a time, like the rest of the per-stack state.
//
// Search geometry, with N = high - low + 1 ports in the range and N' = N rounded down to even:
//
//   Alg3, no parity (3.x-4.5):   step 1, one pass over N;   start low + (F + hint + 1) % N;
//                                on success hint += i + 1
//   Alg3 + parity (4.6-5.17):    step 2, two passes of N'/2 (parity of low, then the other);
//                                start low + ((F + hint) % N' & ~1); on success hint += i + 2
//   Alg4 + parity (>= 5.18):     as above, start low + ((T[F & 0xffff] + (F >> 32)) % N' & ~1);
//                                on success T[F & 0xffff] += max(i, r * 2) + 2
//   per-call range (>= 6.3):     step 1, one pass over N, no parity; start and update as the mode
//
// where F is SipHash-2-4(saddr, daddr, dport) with a per-allocator key, i is the 0-based offset
// within the pass at which the port was found, and r is uniform in 0..7. Each call therefore
// probes every candidate at most once and at most N tuples in total: no retries, no allocation.
//
// A Linux quirk kept on purpose: with the parity split and an odd-sized range, N' = N - 1, so
// one port of the low parity is reachable only when the start offset is 0; a single call can
// return EADDRNOTAVAIL while that port is free (visible in reference/linux-experiments:
// port_parity_results.txt, range 40000-40008, where 40000 comes sixth).
//
// Memory: Alg4's perturbation table is 2^16 uint16_t = 128 KiB (INET_TABLE_PERTURB_SIZE; Linux
// stores u32, 256 KiB: ours wraps at 2^16, which only shifts a bucket's start sequence by
// 65536 mod N once every >= 8192 picks through that bucket, invisible to callers), and the
// bind-owned refcounts are another 2^16 uint16_t = 128 KiB, both heap-allocated once in the
// constructor; the reserved set is an 8 KiB bitmap held inline. About 264 KiB per allocator.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <type_traits>

#include "flow/key.hpp"
#include "ports/port_set.hpp"
#include "ports/siphash.hpp"
#include "twtcp/config.hpp"

namespace twtcp::ports {

// Port ranges (net.ipv4.ip_local_port_range, IP_LOCAL_PORT_RANGE) are twtcp::PortRange:
// inclusive bounds, host byte order. Note that a value-initialised PortRange is {0, 0} ("unset"
// for a per-socket range); the system default is twtcp::kDefaultLocalPortRange.

enum class RangeError : std::uint8_t {
  kOk = 0,
  kLowIsZero,     // port 0 means "any port" and can never be handed out
  kLowAboveHigh,  // Linux: EINVAL for "40000 39999"; a one-port range (low == high) is fine
};

// A static one-line description; never null.
[[nodiscard]] const char* reason(RangeError e) noexcept;

// Validation of net.ipv4.ip_local_port_range. (Linux >= 4.11 also rejects low below
// net.ipv4.ip_unprivileged_port_start; that sysctl belongs to the config layer.)
[[nodiscard]] RangeError validate_range(PortRange r) noexcept;

// Validation of a per-socket IP_LOCAL_PORT_RANGE (Linux >= 6.3): 0 in either bound means
// "that bound is unset"; both set with low > high is EINVAL.
[[nodiscard]] RangeError validate_socket_range(PortRange r) noexcept;

struct AllocatorOptions {
  // twtcp::PortSelect: RFC 6056 section 3.3.3 (kAlg3, "simple hash-based") or 3.3.4
  // (kAlg4Perturb, "double-hash"). See the table above for what each one does in Linux.
  PortSelect algorithm = PortSelect::kAlg4Perturb;
  // Linux >= 4.6: connect() first tries ports with the parity of `low`, leaving the other parity
  // to bind(0). Presets: 3.10 = {kAlg3, false}, 4.19 = {kAlg3, true},
  // 6.x = {kAlg4Perturb, true}.
  bool parity_split = true;
  // Expanded (SplitMix64) into the SipHash key, the perturbation table and the increments.
  // A fixed seed makes the allocator deterministic; production should pass real entropy.
  std::uint64_t seed = 0;
};

// What a candidate 4-tuple looks like to the flow table, as judged by the caller.
enum class TupleState : std::uint8_t {
  kFree,              // no connection or TIME_WAIT entry holds the tuple
  kTimeWaitReusable,  // a TIME_WAIT entry holds it and the policy lets this connect take it over
  kBusy,              // anything else: a live connection, or a TIME_WAIT entry that must stay
};

// The probe a caller passes: `explicit_port` is false during the autobind search (Linux calls
// check_established with &tw: tcp_tw_reuse and its delay apply) and true for a socket that was
// bound to its port before connect() (twp == NULL: any TIME_WAIT entry with timestamps may be
// taken over regardless of tcp_tw_reuse, SPEC 4.1 / R15).
template <class P>
concept TupleProbe = std::is_invocable_r_v<TupleState, P&, const flow::FlowKeyV4&, bool>;

// Linux's EADDRNOTAVAIL, fixed so that reports match Linux whatever the host libc says.
inline constexpr int kErrnoAddrNotAvail = 99;

enum class PortStatus : std::uint8_t {
  kOk = 0,
  kAddrNotAvail,  // no usable port: connect() fails with EADDRNOTAVAIL (not EAGAIN), SPEC R20
};

struct PortPick {
  std::uint16_t port = 0;
  // The tuple was held by a TIME_WAIT entry that the caller must now kill and replace
  // (TWRecycled += 1; the new connection inherits write_seq / ts_recent, SPEC 4.1).
  bool took_over_timewait = false;
};

struct [[nodiscard]] PortResult {
  PortStatus status = PortStatus::kAddrNotAvail;
  PortPick pick{};
  std::uint32_t probes = 0;  // how many times the probe was called (cost of this call)

  [[nodiscard]] bool ok() const noexcept { return status == PortStatus::kOk; }
  constexpr explicit operator bool() const noexcept { return status == PortStatus::kOk; }
  // 0 on success, otherwise the Linux errno the connect() would return.
  [[nodiscard]] int error_number() const noexcept { return ok() ? 0 : kErrnoAddrNotAvail; }
};

class PortAllocator {
 public:
  // Allocates the tables (see Memory above). Range defaults to 32768-60999, nothing reserved.
  explicit PortAllocator(const AllocatorOptions& options = {});
  // A moved-from allocator may only be destroyed or assigned to.
  PortAllocator(PortAllocator&&) noexcept = default;
  PortAllocator& operator=(PortAllocator&&) noexcept = default;

  // net.ipv4.ip_local_port_range. On error the current range is kept.
  [[nodiscard]] RangeError set_range(PortRange r) noexcept;
  [[nodiscard]] PortRange range() const noexcept { return range_; }

  // net.ipv4.ip_local_reserved_ports: never chosen by the autobind search, still usable by an
  // explicit bind (SPEC R17).
  void set_reserved(const PortSet& reserved) noexcept { reserved_ = reserved; }
  void set_reserved(std::span<const PortRange> reserved) noexcept {
    reserved_ = PortSet::from_ranges(reserved);
  }
  [[nodiscard]] const PortSet& reserved() const noexcept { return reserved_; }

  // Ports owned by bind() (explicit binds and listeners: their Linux bind bucket has
  // fastreuse >= 0), which connect() autobind never shares (SPEC R18). Reference-counted so
  // that several SO_REUSEADDR binds of one port release it only when the last one goes.
  // mark_bound fails (false) only if the count would overflow 65535; unmark_bound fails if the
  // port is not marked.
  bool mark_bound(std::uint16_t port) noexcept;
  bool unmark_bound(std::uint16_t port) noexcept;
  [[nodiscard]] bool is_bound(std::uint16_t port) const noexcept { return bound_[port] != 0; }

  // connect() on an unbound socket: searches the range for a local port such that
  // (local_addr, remote_addr, port, remote_port) is free or a reusable TIME_WAIT tuple.
  // `socket_range` is the per-socket IP_LOCAL_PORT_RANGE (Linux >= 6.3; {0, 0} = unset): each
  // set bound narrows the system range if it lies inside it, and the search uses step 1 with no
  // parity preference.
  template <TupleProbe P>
  PortResult pick_ephemeral(std::uint32_t local_addr, std::uint32_t remote_addr,
                            std::uint16_t remote_port, P&& probe, PortRange socket_range = {0, 0});

  // connect() on a socket already bound to key.local_port (bind() then connect()): no search,
  // no reserved/bound checks; the probe is asked once with explicit_port = true. A key with
  // local_port 0 is not bound: kAddrNotAvail without probing (use pick_ephemeral).
  template <TupleProbe P>
  PortResult pick_explicit(const flow::FlowKeyV4& key, P&& probe);

  // RFC 6056 F(): the keyed 64-bit hash of (saddr, daddr, dport). Exposed for tests and for
  // callers that want the same secret elsewhere.
  [[nodiscard]] std::uint64_t port_offset(std::uint32_t local_addr, std::uint32_t remote_addr,
                                          std::uint16_t remote_port) const noexcept {
    return siphash24_3u32(key_, local_addr, remote_addr, remote_port);
  }

  [[nodiscard]] const AllocatorOptions& options() const noexcept { return options_; }

 private:
  // Where one call's search starts and how it walks; see the table at the top of the file.
  struct ScanPlan {
    std::uint32_t low;
    std::uint32_t end;        // high + 1, exclusive; ports at or above it wrap by `remaining`
    std::uint32_t remaining;  // ports per pass (rounded down to even with the parity split)
    std::uint32_t step;
    std::uint32_t offset;
    std::uint32_t perturb_index;
    bool other_parity_pass;
  };

  [[nodiscard]] ScanPlan plan(std::uint64_t f, PortRange socket_range) const noexcept;
  void on_success(const ScanPlan& p, std::uint32_t i) noexcept;

  AllocatorOptions options_;
  PortRange range_ = kDefaultLocalPortRange;
  SipKey key_{};
  SplitMix64 rng_{};
  std::uint32_t hint_ = 0;                    // Alg3's global counter
  std::unique_ptr<std::uint16_t[]> perturb_;  // Alg4 only: 2^16 entries, 128 KiB
  std::unique_ptr<std::uint16_t[]> bound_;    // 2^16 refcounts, 128 KiB
  PortSet reserved_{};
};

template <TupleProbe P>
PortResult PortAllocator::pick_ephemeral(std::uint32_t local_addr, std::uint32_t remote_addr,
                                         std::uint16_t remote_port, P&& probe,
                                         PortRange socket_range) {
  const ScanPlan p = plan(port_offset(local_addr, remote_addr, remote_port), socket_range);
  PortResult res;
  std::uint32_t offset = p.offset;
  for (int pass = 0; pass < 2; ++pass) {
    std::uint32_t port = p.low + offset;
    for (std::uint32_t i = 0; i < p.remaining; i += p.step, port += p.step) {
      if (port >= p.end) port -= p.remaining;
      const auto candidate = static_cast<std::uint16_t>(port);
      if (reserved_.contains(candidate) || bound_[candidate] != 0) continue;
      ++res.probes;
      const TupleState st =
          probe(flow::FlowKeyV4{local_addr, remote_addr, candidate, remote_port}, false);
      if (st == TupleState::kBusy) continue;
      on_success(p, i);
      res.status = PortStatus::kOk;
      res.pick = PortPick{candidate, st == TupleState::kTimeWaitReusable};
      return res;
    }
    if (!p.other_parity_pass) break;
    ++offset;
  }
  return res;
}

template <TupleProbe P>
PortResult PortAllocator::pick_explicit(const flow::FlowKeyV4& key, P&& probe) {
  PortResult res;
  if (key.local_port == 0) return res;
  res.probes = 1;
  const TupleState st = probe(key, true);
  if (st == TupleState::kBusy) return res;
  res.status = PortStatus::kOk;
  res.pick = PortPick{key.local_port, st == TupleState::kTimeWaitReusable};
  return res;
}

// --- building an allocator from a twtcp::Config (setup code, not the fast path) -----------

// The allocator a stack built from `cfg` uses: port_select and parity_split as
// cfg.effective() resolves them against the kernel model, seeded with twtcp.random_seed.
[[nodiscard]] AllocatorOptions allocator_options_from_config(const Config& cfg) noexcept;

// Applies net.ipv4.ip_local_port_range and net.ipv4.ip_local_reserved_ports to `alloc`.
// On a range error (not possible for a Config that loaded) the old range is kept and the
// reserved ports are still applied.
[[nodiscard]] RangeError apply_config(PortAllocator& alloc, const Config& cfg) noexcept;

}  // namespace twtcp::ports
