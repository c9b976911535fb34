// lib/timewait/policy.cpp: per-release defaults (SPEC.md §1, §3.3 deltas, §4.1, §10).
#include "timewait/policy.hpp"

namespace twtcp::timewait {

std::string_view model_name(KernelModel model) noexcept {
  switch (model) {
    case KernelModel::kLinux3_10:
      return "3.10";
    case KernelModel::kLinux4_4:
      return "4.4";
    case KernelModel::kLinux4_19:
      return "4.19";
    case KernelModel::kLinux6_6:
      return "6.6";
    case KernelModel::kLinux6_18:
      return "6.18";
  }
  return "?";
}

TimeWaitPolicy policy_for_model(KernelModel model) noexcept {
  TimeWaitPolicy p;  // field initializers are the 6.18-independent constants
  switch (model) {
    case KernelModel::kLinux3_10:
      p.twkilled_threshold_us = 3'968'000;  // recycle calendar: 31 slots of 128 ms
      p.tw_counted_at_expiry = true;
      p.rst_rearms_when_rfc1337 = true;  // D3
      p.oow_ack_ratelimit_us = 0;        // D1
      p.paws_wrap_s = 24 * 24 * 3600;
      p.paws_counter = PawsCounter::kPAWSEstab;
      p.tw_reuse = 0;
      p.reuse2_loopback_only = false;
      p.reuse_time_rule = ReuseTimeRule::kSecGt1;
      p.recycle_syn_requires_ts = true;
      return p;
    case KernelModel::kLinux4_4:
      p.rst_rearms_when_rfc1337 = true;
      p.paws_wrap_s = 24 * 24 * 3600;
      p.tw_reuse = 0;
      p.reuse2_loopback_only = false;
      p.reuse_time_rule = ReuseTimeRule::kSecGt1;
      p.recycle_syn_requires_ts = false;
      return p;
    case KernelModel::kLinux4_19:
    case KernelModel::kLinux6_6:
      p.paws_wrap_s = 24 * 24 * 3600;
      p.tw_reuse = 2;
      p.reuse2_loopback_only = true;
      p.reuse_time_rule = ReuseTimeRule::kSecGt0;
      return p;
    case KernelModel::kLinux6_18:
      break;
  }
  p.oow_ack_clears_ecn = true;
  p.paws_wrap_s = 2147;
  p.paws_counter = PawsCounter::kPAWSTimewait;
  p.tw_reuse = 2;
  p.reuse2_loopback_only = true;
  p.tw_reuse_delay_ms = 1000;
  p.reuse_time_rule = ReuseTimeRule::kMsDelay;
  p.reuse_skip_fin_wait2 = true;
  p.fin_wait2_refreshes_entry_stamp = true;
  return p;
}

}  // namespace twtcp::timewait
