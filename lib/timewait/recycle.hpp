// lib/timewait/recycle.hpp: tcp_tw_recycle's per-host timestamp rules (SPEC.md §5; Linux
// 3.x-4.11 tcp_remember_stamp(), tcp_peer_is_proven(paws_check=true),
// tcp_fetch_timewait_stamp()). Pure functions over one store entry: the store itself (keyed
// by daddr, or (saddr, daddr) from 3.15; 1 h aging, C9; LRU reclaim) belongs to lib/flow.
#pragma once

#include <cstdint>

#include "timewait/policy.hpp"
#include "timewait/types.hpp"

namespace twtcp::timewait {

// The last timestamp seen from one peer (tcpm_ts / tcpm_ts_stamp). ts_stamp_s == 0 means
// "nothing recorded" (a fresh or aged-out entry), and such an entry never rejects a SYN.
struct PeerStamp {
  std::uint32_t ts = 0;
  std::uint32_t ts_stamp_s = 0;
};

// Write rule, run when a connection to this peer enters TW with tw_recycle on (C8): store the
// closing connection's (ts_recent, ts_recent_stamp_s) if it is not older than the cached
// value, or if the cache is stale (older than paws_msl_s) and not newer than the connection's
// stamp. Returns true when the entry was written. Either way, an existing entry makes the
// TW short (recycle_ok = true in TwEnterRequest).
bool recycle_remember(PeerStamp& entry, std::uint32_t ts_recent, std::uint32_t ts_recent_stamp_s,
                      std::uint64_t now_us, const TimeWaitPolicy& policy) noexcept;

enum class RecycleSynVerdict : std::uint8_t {
  kAccept,
  kDrop,  // silently: no SYN-ACK, no RST; bump PAWSPassive
};

// Passive-open check (§5.2; C1-C4, C6, C10). `entry` is the store's entry for the SYN's
// source, or nullptr. via_timewait: the SYN came through W4 (Linux: isn != 0), which skips
// the check. The caller also skips it when the route back is not "strict" (route daddr !=
// SYN saddr, IPv4). Accepts everything unless policy.recycle.
[[nodiscard]] RecycleSynVerdict recycle_syn_acceptable(const PeerStamp* entry, bool syn_has_ts,
                                                       std::uint32_t syn_tsval, bool via_timewait,
                                                       std::uint64_t now_us,
                                                       const TimeWaitPolicy& policy) noexcept;

// Active-open fetch (§5.1, tcp_fetch_timewait_stamp): with tw_recycle on and nothing
// inherited from a TW, a connect() seeds ts_recent from the entry while it is at most
// paws_msl_s old; the SYN-ACK is then PAWS-checked against it. False: seed nothing.
[[nodiscard]] bool recycle_fetch(const PeerStamp& entry, std::uint64_t now_us,
                                 const TimeWaitPolicy& policy, std::uint32_t& ts_recent,
                                 std::uint32_t& ts_recent_stamp_s) noexcept;

}  // namespace twtcp::timewait
