// lib/timewait/policy.hpp: the TIME_WAIT policy as plain data (SPEC.md §10), and the Linux
// release it mimics by default.
//
// Every knob here is something Linux either exposes as a sysctl or hard-codes differently
// from one release to the next. The engine (process.hpp, enter.hpp, reuse.hpp, recycle.hpp)
// reads only this struct, never a KernelModel, so a configuration may mix rules from several
// releases; policy_for_model() just gives the combination a given release shipped with, and
// policy_from_config() the one a twtcp::Config asks for.
#pragma once

#include <cstdint>

#include "twtcp/config.hpp"

namespace twtcp::timewait {

// KernelModel, kAllKernelModels, PawsCounter (D4) and ReuseTimeRule (§4.1 ok_time) are the
// twtcp:: enums of twtcp/config.hpp, so a Config's knobs map onto this struct one to one.

struct TimeWaitPolicy {
  // --- lifetime (§2.3) -------------------------------------------------------------------
  // TCP_TIMEWAIT_LEN: the TIME_WAIT lifetime and every re-arm. Linux hard-codes 60 s.
  std::uint64_t timewait_len_us = 60'000'000;
  // A TW scheduled for at most this long is counted as TWKilled instead of TW. >= 4.1:
  // timeo <= 4 s. 3.x: the entry landed in the 32 x 128-jiffy recycle calendar, i.e.
  // timeo <= 31 * 128 ms at HZ=1000 (inet_twsk_schedule), so 3.968 s.
  std::uint64_t twkilled_threshold_us = 4'000'000;
  // 3.x counts TW/TWKilled when the entry expires (death-row reaper), >= 4.1 when it is
  // first scheduled. Re-arms never count.
  bool tw_counted_at_expiry = false;

  // --- segment processing (§3) -----------------------------------------------------------
  // net.ipv4.tcp_rfc1337: an exact RST does not kill the TW (W2 instead of W1).
  bool rfc1337 = false;
  // D3: with rfc1337, does an exact RST re-arm the 60 s timer? 3.x .. 4.18 yes, later no.
  bool rst_rearms_when_rfc1337 = false;
  // net.ipv4.tcp_invalid_ratelimit for TW ACKs to pure ACKs/SYNs (tcp_oow_rate_limited).
  // 0 = no limit; 3.x (D1) has no limit at all.
  std::uint64_t oow_ack_ratelimit_us = 500'000;
  // >= 6.14: ACKs sent for out-of-window/PAWS segments clear the ECN bits of the TOS (L4S).
  bool oow_ack_clears_ecn = false;

  // --- PAWS (§6.1) -----------------------------------------------------------------------
  // TCP_PAWS_24DAYS (<= 6.6) or TCP_PAWS_WRAP = 2147 s (>= 6.7): ts_recent older than this
  // is not trusted and PAWS passes.
  std::uint32_t paws_wrap_s = 24 * 24 * 3600;
  // TCP_PAWS_MSL: RST exemption age, per-host cache freshness (§5).
  std::uint32_t paws_msl_s = 60;
  // TCP_PAWS_WINDOW: replay tolerance of the per-host passive check (§5.2). TIME_WAIT itself
  // uses tcp_paws_reject(), which always checks with a window of 0.
  std::uint32_t paws_window = 1;
  PawsCounter paws_counter = PawsCounter::kPawsEstab;

  // --- tcp_tw_reuse (§4.1) ---------------------------------------------------------------
  // net.ipv4.tcp_tw_reuse: 0 off, 1 on, 2 loopback only (when reuse2_loopback_only).
  std::uint8_t tw_reuse = 0;
  // >= ~4.19: the value 2 means "loopback only". Before, the sysctl was a boolean and any
  // nonzero value meant "on".
  bool reuse2_loopback_only = false;
  // net.ipv4.tcp_tw_reuse_delay (>= 6.14), used by ReuseTimeRule::kMsDelay.
  std::uint32_t tw_reuse_delay_ms = 1000;
  ReuseTimeRule reuse_time_rule = ReuseTimeRule::kSecGt1;
  // >= 6.12: a TW in the FIN_WAIT2 substate is never taken over by tcp_tw_reuse.
  bool reuse_skip_fin_wait2 = false;

  // --- tcp_tw_recycle and the per-host store (§2.3, §5) -----------------------------------
  // net.ipv4.tcp_tw_recycle (3.x .. 4.11 only; default 0 even there).
  bool recycle = false;
  // 3.x: the passive per-host check only looks at SYNs that carry a timestamp; 4.x also
  // drops a SYN without one while the cached stamp is fresh (C4).
  bool recycle_syn_requires_ts = false;

  // --- entry stamp (§3.3 D5) -------------------------------------------------------------
  // >= 6.14: the FIN_WAIT2 -> TIME_WAIT transition (F6) restarts the reuse-delay clock when
  // the FIN carries a timestamp.
  bool fin_wait2_refreshes_entry_stamp = false;

  // --- capacity (§2.4) -------------------------------------------------------------------
  // net.ipv4.tcp_max_tw_buckets. Linux derives it from the ehash size (ehash_entries / 2,
  // 131072 on the reference machine); tcp_init() overwrote the NR_FILE*2 initializer in 3.x.
  std::uint32_t max_tw_buckets = 131072;

  friend bool operator==(const TimeWaitPolicy&, const TimeWaitPolicy&) = default;
};

// The defaults of a given release (SPEC.md §1, §10); the knobs lib/config derives from the
// model come from twtcp::model_defaults(), so the two never disagree. Sysctls keep their Linux
// defaults (tcp_tw_reuse: 0 before 4.19, 2 after; tcp_tw_recycle: 0; tcp_rfc1337: 0). An
// out-of-range model yields the newest defaults.
[[nodiscard]] TimeWaitPolicy policy_for_model(KernelModel model) noexcept;

// The policy a stack built from `cfg` runs: policy_for_model(cfg.kernel_model) with every knob
// the Config has taken from it (sysctls as set, model-derived knobs via cfg.effective(), so an
// explicit knob wins over the model). What no key controls (TWKilled threshold, when TW is
// counted, ECN clearing, the F6 entry-stamp refresh, whether tw_reuse=2 means loopback) stays
// the model's. Meant for a Config that passed validate() (e.g. no tw_reuse=2 on a 3.10 model).
[[nodiscard]] TimeWaitPolicy policy_from_config(const Config& cfg);

}  // namespace twtcp::timewait
