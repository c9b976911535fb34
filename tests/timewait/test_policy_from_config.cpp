// tests/timewait/test_policy_from_config.cpp: policy_from_config() is policy_for_model() plus
// exactly what a Config sets, for every model and for every preset in configs/.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "fixture.hpp"
#include "twtcp/config.hpp"

#ifndef TWTCP_CONFIGS_DIR
#error "TWTCP_CONFIGS_DIR must name the configs/ directory"
#endif

namespace twtcp::timewait::test {
namespace {

const std::filesystem::path kConfigs = TWTCP_CONFIGS_DIR;

// A Config for `m` whose sysctls are that release's Linux defaults (Config's own defaults
// are 6.18's; tcp_tw_reuse was 0 before 4.19).
Config config_at_linux_defaults(KernelModel m) {
  Config c;
  c.kernel_model = m;
  if (m < KernelModel::V4_19) c.tcp_tw_reuse = 0;
  return c;
}

class PolicyFromConfigModel : public ModelTest {};
INSTANTIATE_TEST_SUITE_P(AllModels, PolicyFromConfigModel, ::testing::ValuesIn(kAllKernelModels),
                         model_param_name);

TEST_P(PolicyFromConfigModel, ConfigAtLinuxDefaultsGivesTheModelsPolicy) {
  const Config c = config_at_linux_defaults(model());
  ASSERT_TRUE(validate(c).ok()) << validate(c).message();
  EXPECT_EQ(policy_from_config(c), policy());
}

// What each preset changes relative to policy_for_model(its model), written out by hand from
// the preset files, so a change in either the preset or the mapping shows up here.
struct PresetExpectation {
  KernelModel model;
  std::function<void(TimeWaitPolicy&)> adjust;
};

const std::map<std::string, PresetExpectation>& preset_expectations() {
  static const std::map<std::string, PresetExpectation> m = {
      {"linux-3.10.conf", {KernelModel::V3_10, [](TimeWaitPolicy&) {}}},
      {"linux-3.10-reuse.conf", {KernelModel::V3_10, [](TimeWaitPolicy& p) { p.tw_reuse = 1; }}},
      {"linux-3.10-recycle.conf",
       {KernelModel::V3_10, [](TimeWaitPolicy& p) { p.recycle = true; }}},
      {"linux-6.conf", {KernelModel::V6_18, [](TimeWaitPolicy&) {}}},
      {"no-timewait.conf", {KernelModel::V6_18, [](TimeWaitPolicy& p) { p.max_tw_buckets = 0; }}},
      {"loadgen.conf",
       {KernelModel::V6_18,
        [](TimeWaitPolicy& p) {
          p.tw_reuse = 1;
          p.tw_reuse_delay_ms = 1;
        }}},
  };
  return m;
}

TEST(PolicyFromConfig, EveryPresetIsItsModelAdjustedByItsExplicitSysctls) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(kConfigs)) {
    if (e.path().extension() == ".conf") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), preset_expectations().size());
  for (const auto& path : files) {
    SCOPED_TRACE(path.filename().string());
    const auto it = preset_expectations().find(path.filename().string());
    ASSERT_NE(it, preset_expectations().end()) << "new preset: add its expected policy here";
    ConfigLoader l;
    ASSERT_TRUE(l.load_file(path.string()).ok());
    ASSERT_TRUE(l.finish().ok()) << l.finish().message();
    ASSERT_EQ(l.config().kernel_model, it->second.model);

    TimeWaitPolicy want = policy_for_model(it->second.model);
    it->second.adjust(want);
    EXPECT_EQ(policy_from_config(l.config()), want);
  }
}

TEST(PolicyFromConfig, Recycle310PresetRunsThe310Rules) {
  Config c;
  ASSERT_TRUE(load_file(c, (kConfigs / "linux-3.10-recycle.conf").string()).ok());
  const TimeWaitPolicy p = policy_from_config(c);
  EXPECT_TRUE(p.recycle);
  EXPECT_TRUE(p.recycle_syn_requires_ts);
  EXPECT_TRUE(p.tw_counted_at_expiry);
  EXPECT_EQ(p.reuse_time_rule, ReuseTimeRule::kSecGt1);
  EXPECT_EQ(p.oow_ack_ratelimit_us, 0u);
  EXPECT_EQ(p.twkilled_threshold_us, 3'968'000u);
}

TEST(PolicyFromConfig, LoadgenReusesEverywhereAfterOneMs) {
  Config c;
  ASSERT_TRUE(load_file(c, (kConfigs / "loadgen.conf").string()).ok());
  const TimeWaitPolicy p = policy_from_config(c);
  EXPECT_EQ(p.tw_reuse, 1);
  EXPECT_EQ(p.tw_reuse_delay_ms, 1u);
  EXPECT_EQ(p.reuse_time_rule, ReuseTimeRule::kMsDelay);
  EXPECT_FALSE(p.recycle);
}

TEST(PolicyFromConfig, ExplicitKnobsAndConstantsWinOverTheModel) {
  Config c;
  for (const char* set :
       {"twtcp.reuse_time_rule = sec_gt1", "twtcp.paws_counter = PAWSEstab",
        "twtcp.rst_rearms_when_rfc1337 = 1", "twtcp.reuse_skip_fin_wait2 = 0",
        "twtcp.recycle_syn_requires_ts = 1", "twtcp.paws_wrap_s = 100",
        "net.ipv4.tcp_invalid_ratelimit = 250", "net.ipv4.tcp_rfc1337 = 1",
        "twtcp.timewait_len_ms = 30000", "twtcp.paws_msl_s = 10", "twtcp.paws_window = 3",
        "net.ipv4.tcp_max_tw_buckets = 7", "net.ipv4.tcp_tw_reuse_delay = 20"}) {
    ASSERT_TRUE(apply_set(c, set).ok()) << set;
  }
  const TimeWaitPolicy p = policy_from_config(c);
  EXPECT_EQ(p.reuse_time_rule, ReuseTimeRule::kSecGt1);
  EXPECT_EQ(p.paws_counter, PawsCounter::kPawsEstab);
  EXPECT_TRUE(p.rst_rearms_when_rfc1337);
  EXPECT_FALSE(p.reuse_skip_fin_wait2);
  EXPECT_TRUE(p.recycle_syn_requires_ts);
  EXPECT_EQ(p.paws_wrap_s, 100u);
  EXPECT_EQ(p.oow_ack_ratelimit_us, 250'000u);
  EXPECT_TRUE(p.rfc1337);
  EXPECT_EQ(p.timewait_len_us, 30 * kSec);
  EXPECT_EQ(p.paws_msl_s, 10u);
  EXPECT_EQ(p.paws_window, 3u);
  EXPECT_EQ(p.max_tw_buckets, 7u);
  EXPECT_EQ(p.tw_reuse_delay_ms, 20u);
  // What no key controls stays 6.18's.
  EXPECT_TRUE(p.fin_wait2_refreshes_entry_stamp);
  EXPECT_TRUE(p.oow_ack_clears_ecn);
  EXPECT_TRUE(p.reuse2_loopback_only);

  ASSERT_TRUE(apply_set(c, "twtcp.oow_ack_ratelimit = 0").ok());
  EXPECT_EQ(policy_from_config(c).oow_ack_ratelimit_us, 0u);
}

}  // namespace
}  // namespace twtcp::timewait::test
