// lib/timewait/policy.cpp: per-release defaults (SPEC.md §1, §3.3 deltas, §4.1, §10).
#include "timewait/policy.hpp"

namespace twtcp::timewait {

namespace {

// The knobs lib/config also derives from the kernel model (SPEC §10): one table,
// twtcp::model_defaults(), serves both, and an explicit Config setting arrives the same way.
void apply_effective(TimeWaitPolicy& p, const EffectivePolicy& e) noexcept {
  p.rst_rearms_when_rfc1337 = e.rst_rearms_when_rfc1337;                   // D3
  p.oow_ack_ratelimit_us = std::uint64_t(e.oow_ack_ratelimit_ms) * 1000u;  // D1
  p.paws_wrap_s = e.paws_wrap_s;
  p.paws_counter = e.paws_counter;  // D4
  p.reuse_time_rule = e.reuse_time_rule;
  p.reuse_skip_fin_wait2 = e.reuse_skip_fin_wait2;
  p.recycle_syn_requires_ts = e.recycle_syn_requires_ts;
}

}  // namespace

TimeWaitPolicy policy_for_model(KernelModel model) noexcept {
  if (model > KernelModel::V6_18) model = KernelModel::V6_18;  // out of range: newest
  TimeWaitPolicy p;  // field initializers are the model-independent constants
  apply_effective(p, model_defaults(model));
  // Sysctl defaults of that release (twtcp::Config's are 6.18's): tcp_tw_reuse was a boolean,
  // default 0, until 4.19 made it 0/1/2 with 2 (loopback only) the default.
  const bool reuse_tristate = model >= KernelModel::V4_19;
  p.tw_reuse = reuse_tristate ? 2 : 0;
  p.reuse2_loopback_only = reuse_tristate;
  // What no Config key controls.
  if (model == KernelModel::V3_10) {
    p.twkilled_threshold_us = 3'968'000;  // recycle calendar: 31 slots of 128 ms
    p.tw_counted_at_expiry = true;
  }
  if (model >= KernelModel::V6_18) {  // >= 6.14
    p.oow_ack_clears_ecn = true;
    p.fin_wait2_refreshes_entry_stamp = true;
  }
  return p;
}

TimeWaitPolicy policy_from_config(const Config& cfg) {
  TimeWaitPolicy p = policy_for_model(cfg.kernel_model);
  apply_effective(p, cfg.effective());
  p.timewait_len_us = std::uint64_t(cfg.timewait_len_ms) * 1000u;
  p.rfc1337 = cfg.tcp_rfc1337;
  p.paws_msl_s = static_cast<std::uint32_t>(cfg.paws_msl_s);
  p.paws_window = static_cast<std::uint32_t>(cfg.paws_window);
  p.tw_reuse = static_cast<std::uint8_t>(cfg.tcp_tw_reuse);
  p.tw_reuse_delay_ms = static_cast<std::uint32_t>(cfg.tcp_tw_reuse_delay);
  p.recycle = cfg.tcp_tw_recycle;
  p.max_tw_buckets = static_cast<std::uint32_t>(cfg.tcp_max_tw_buckets);
  return p;
}

}  // namespace twtcp::timewait
