// Tests for lib/config: the sysctl.conf parser and printer, per-key and cross-key
// validation, model-derived knobs, and the presets in configs/.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include "config/presets.hpp"
#include "twtcp/config.hpp"

#ifndef TWTCP_CONFIGS_DIR
#error "TWTCP_CONFIGS_DIR must name the configs/ directory"
#endif

namespace twtcp {
namespace {

const std::filesystem::path kConfigs = TWTCP_CONFIGS_DIR;

// Loads text into a default Config and expects success.
Config loaded(std::string_view text) {
  Config c;
  auto r = load_string(c, text, "t.conf");
  EXPECT_TRUE(r.ok()) << r.message();
  return c;
}

std::string load_error(std::string_view text) {
  Config c;
  auto r = load_string(c, text, "t.conf");
  EXPECT_FALSE(r.ok());
  return r.message();
}

// ---------------------------------------------------------------- defaults

TEST(ConfigDefaults, MatchLinux618MeasuredSysctls) {
  const Config c;
  EXPECT_EQ(c.tcp_tw_reuse, 2);
  EXPECT_EQ(c.tcp_tw_reuse_delay, 1000);
  EXPECT_FALSE(c.tcp_tw_recycle);
  EXPECT_EQ(c.tcp_timestamps, 1);
  EXPECT_EQ(c.tcp_max_tw_buckets, 131072);
  EXPECT_FALSE(c.tcp_rfc1337);
  EXPECT_EQ(c.tcp_fin_timeout, 60);
  EXPECT_EQ(c.ip_local_port_range, (PortRange{32768, 60999}));
  EXPECT_TRUE(c.ip_local_reserved_ports.empty());
  EXPECT_EQ(c.tcp_orphan_retries, 0);
  EXPECT_EQ(c.tcp_max_orphans, 131072);
  EXPECT_EQ(c.tcp_challenge_ack_limit, 2147483647);
  EXPECT_EQ(c.tcp_invalid_ratelimit, 500);
  EXPECT_EQ(c.tcp_syncookies, 1);
  EXPECT_EQ(c.kernel_model, KernelModel::V6_18);
}

TEST(ConfigDefaults, CompiledInConstantsMatchSpecSection0) {
  const Config c;
  EXPECT_EQ(c.timewait_len_ms, 60000);
  EXPECT_EQ(c.paws_msl_s, 60);
  EXPECT_EQ(c.paws_window, 1);
  EXPECT_EQ(c.rto_min_ms, 200);
  EXPECT_EQ(c.rto_max_ms, 120000);
  EXPECT_EQ(c.rto_initial_ms, 1000);
  EXPECT_FALSE(c.paws_wrap_s.has_value());
  EXPECT_FALSE(c.ts_offset.has_value());
}

TEST(ConfigDefaults, DefaultConfigValidates) {
  EXPECT_TRUE(validate(Config{}).ok());
}

TEST(ConfigDefaults, EveryKeyHasDocAndIsFoundByName) {
  std::set<std::string_view> names;
  for (const auto& k : list_keys()) {
    EXPECT_FALSE(k.doc.empty()) << k.name;
    EXPECT_TRUE(names.insert(k.name).second) << "duplicate " << k.name;
    EXPECT_EQ(find_key(k.name), &k);
    EXPECT_TRUE(k.name.starts_with("net.ipv4.") || k.name.starts_with("twtcp.")) << k.name;
  }
  for (auto required : {"net.ipv4.tcp_tw_reuse",
                        "net.ipv4.tcp_tw_recycle",
                        "net.ipv4.tcp_timestamps",
                        "net.ipv4.tcp_max_tw_buckets",
                        "net.ipv4.tcp_rfc1337",
                        "net.ipv4.tcp_fin_timeout",
                        "net.ipv4.ip_local_port_range",
                        "net.ipv4.ip_local_reserved_ports",
                        "net.ipv4.tcp_syn_retries",
                        "net.ipv4.tcp_synack_retries",
                        "net.ipv4.tcp_syncookies",
                        "net.ipv4.tcp_tw_reuse_delay",
                        "net.ipv4.tcp_invalid_ratelimit",
                        "net.ipv4.tcp_challenge_ack_limit",
                        "twtcp.timewait_len_ms",
                        "twtcp.paws_msl_s",
                        "twtcp.paws_window",
                        "twtcp.kernel_model",
                        "twtcp.timer_tick_us",
                        "twtcp.timer_slots",
                        "twtcp.timer_levels",
                        "twtcp.flow_table_capacity",
                        "twtcp.peer_table_size"}) {
    EXPECT_NE(find_key(required), nullptr) << required;
  }
}

// ---------------------------------------------------------------- parse rules

TEST(ConfigParse, AcceptsSpacedAndUnspacedAssignments) {
  Config c = loaded("net.ipv4.tcp_tw_reuse=1\n  net.ipv4.tcp_fin_timeout   =  30  \n");
  EXPECT_EQ(c.tcp_tw_reuse, 1);
  EXPECT_EQ(c.tcp_fin_timeout, 30);
}

TEST(ConfigParse, SkipsCommentsAndBlankLines) {
  Config c = loaded(
      "# hash comment\n"
      "; semicolon comment\n"
      "\n"
      "   \t \n"
      "   # indented comment = 5\n"
      "net.ipv4.tcp_rfc1337 = 1\n");
  EXPECT_TRUE(c.tcp_rfc1337);
}

TEST(ConfigParse, AcceptsCrlfLineEndings) {
  Config c = loaded("net.ipv4.tcp_tw_reuse = 0\r\nnet.ipv4.tcp_timestamps = 2\r\n");
  EXPECT_EQ(c.tcp_tw_reuse, 0);
  EXPECT_EQ(c.tcp_timestamps, 2);
}

TEST(ConfigParse, SlashSeparatedKeysNameTheSameKey) {
  Config c = loaded("net/ipv4/tcp_tw_reuse = 1\ntwtcp/kernel_model = 4.19\n");
  EXPECT_EQ(c.tcp_tw_reuse, 1);
  EXPECT_EQ(c.kernel_model, KernelModel::V4_19);
}

TEST(ConfigParse, LaterAssignmentWins) {
  Config c = loaded("net.ipv4.tcp_fin_timeout = 10\nnet.ipv4.tcp_fin_timeout = 20\n");
  EXPECT_EQ(c.tcp_fin_timeout, 20);
}

TEST(ConfigParse, DashPrefixSkipsUnknownKeyButNotBadValue) {
  Config c = loaded("-net.ipv4.tcp_not_a_thing = 1\n-net.ipv4.tcp_tw_reuse = 1\n");
  EXPECT_EQ(c.tcp_tw_reuse, 1);
  EXPECT_EQ(load_error("-net.ipv4.tcp_tw_reuse = 7\n"),
            "t.conf:1: net.ipv4.tcp_tw_reuse = 7: out of range (allowed 0..2)");
}

TEST(ConfigParse, PortRangeTakesTabsOrSpaces) {
  EXPECT_EQ(loaded("net.ipv4.ip_local_port_range = 1024\t65535").ip_local_port_range,
            (PortRange{1024, 65535}));
  EXPECT_EQ(loaded("net.ipv4.ip_local_port_range =   40000   40000").ip_local_port_range,
            (PortRange{40000, 40000}));
}

TEST(ConfigParse, ReservedPortsAreSortedAndMerged) {
  Config c = loaded("net.ipv4.ip_local_reserved_ports = 9000-9010, 8080,9011,100-200,150");
  ASSERT_EQ(c.ip_local_reserved_ports.size(), 3u);
  EXPECT_EQ(c.ip_local_reserved_ports[0], (PortRange{100, 200}));
  EXPECT_EQ(c.ip_local_reserved_ports[1], (PortRange{8080, 8080}));
  EXPECT_EQ(c.ip_local_reserved_ports[2], (PortRange{9000, 9011}));
  EXPECT_TRUE(c.is_reserved_port(9011));
  EXPECT_TRUE(c.is_reserved_port(100));
  EXPECT_FALSE(c.is_reserved_port(99));
  EXPECT_FALSE(c.is_reserved_port(8081));
  EXPECT_EQ(find_key("net.ipv4.ip_local_reserved_ports")->format(c), "100-200,8080,9000-9011");
}

TEST(ConfigParse, EmptyReservedPortsClearsTheList) {
  Config c = loaded("net.ipv4.ip_local_reserved_ports = 80\nnet.ipv4.ip_local_reserved_ports =\n");
  EXPECT_TRUE(c.ip_local_reserved_ports.empty());
}

TEST(ConfigParse, EnumsAndAutoKnobs) {
  Config c = loaded(
      "twtcp.kernel_model = 4.4\n"
      "twtcp.ts_offset = per_host\n"
      "twtcp.paws_counter = pawstimewait\n"
      "twtcp.parity_split = 0\n"
      "twtcp.paws_wrap_s = 100\n");
  EXPECT_EQ(c.kernel_model, KernelModel::V4_4);
  EXPECT_EQ(c.ts_offset, TsOffset::kPerHost);
  EXPECT_EQ(c.paws_counter, PawsCounter::kPawsTimewait);
  EXPECT_EQ(c.parity_split, false);
  EXPECT_EQ(c.paws_wrap_s, 100u);
  Config back = c;
  ASSERT_TRUE(load_string(back, "twtcp.ts_offset = auto\ntwtcp.paws_wrap_s = auto\n", "x").ok());
  EXPECT_FALSE(back.ts_offset.has_value());
  EXPECT_FALSE(back.paws_wrap_s.has_value());
}

TEST(ConfigParse, SeedTakesFullUint64) {
  EXPECT_EQ(loaded("twtcp.random_seed = 18446744073709551615").random_seed, UINT64_MAX);
  EXPECT_EQ(load_error("twtcp.random_seed = 18446744073709551616"),
            "t.conf:1: twtcp.random_seed = 18446744073709551616: out of range (allowed "
            "0..18446744073709551615)");
  EXPECT_EQ(load_error("twtcp.random_seed = -1"),
            "t.conf:1: twtcp.random_seed = -1: not an integer (allowed 0..18446744073709551615)");
}

// ---------------------------------------------------------------- per-key errors

TEST(ConfigErrors, OutOfRangeNamesFileLineKeyAndRange) {
  auto msg = load_error("# header\n\nnet.ipv4.tcp_tw_reuse = 3\n");
  EXPECT_EQ(msg, "t.conf:3: net.ipv4.tcp_tw_reuse = 3: out of range (allowed 0..2)");
}

TEST(ConfigErrors, ErrorCarriesCanonicalKey) {
  Config c;
  auto r = load_string(c, "net/ipv4/tcp_tw_reuse = 9", "t.conf");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.key(), "net.ipv4.tcp_tw_reuse");
}

TEST(ConfigErrors, UnknownKeySuggestsNearestKey) {
  EXPECT_EQ(load_error("net.ipv4.tcp_tw_reuze = 1"),
            "t.conf:1: unknown key 'net.ipv4.tcp_tw_reuze' (did you mean "
            "'net.ipv4.tcp_tw_reuse'?)");
  EXPECT_EQ(load_error("tcp_tw_recycle = 1"),
            "t.conf:1: unknown key 'tcp_tw_recycle' (did you mean 'net.ipv4.tcp_tw_recycle'?)");
  EXPECT_EQ(load_error("vm.swappiness = 10"), "t.conf:1: unknown key 'vm.swappiness'");
}

TEST(ConfigErrors, MissingEqualsAndMissingKey) {
  EXPECT_EQ(load_error("net.ipv4.tcp_tw_reuse 1"),
            "t.conf:1: missing '=' in 'net.ipv4.tcp_tw_reuse 1'");
  EXPECT_EQ(load_error(" = 1"), "t.conf:1: missing key before '='");
}

TEST(ConfigErrors, NumbersMustBeFullyConsumed) {
  EXPECT_EQ(load_error("net.ipv4.tcp_fin_timeout = 12abc"),
            "t.conf:1: net.ipv4.tcp_fin_timeout = 12abc: not an integer (allowed 0..2147483647)");
  EXPECT_EQ(load_error("net.ipv4.tcp_fin_timeout = 1 # trailing comments are not sysctl syntax"),
            "t.conf:1: net.ipv4.tcp_fin_timeout = 1 # trailing comments are not sysctl syntax: "
            "not an integer (allowed 0..2147483647)");
  EXPECT_EQ(load_error("net.ipv4.tcp_fin_timeout = 0x10"),
            "t.conf:1: net.ipv4.tcp_fin_timeout = 0x10: not an integer (allowed 0..2147483647)");
  EXPECT_EQ(load_error("net.ipv4.tcp_fin_timeout ="),
            "t.conf:1: net.ipv4.tcp_fin_timeout = : empty value (allowed 0..2147483647)");
}

TEST(ConfigErrors, OverflowAndNegativeAreOutOfRange) {
  EXPECT_EQ(load_error("net.ipv4.tcp_max_tw_buckets = 2147483648"),
            "t.conf:1: net.ipv4.tcp_max_tw_buckets = 2147483648: out of range (allowed "
            "0..2147483647)");
  EXPECT_EQ(load_error("net.ipv4.tcp_max_tw_buckets = 99999999999999999999999"),
            "t.conf:1: net.ipv4.tcp_max_tw_buckets = 99999999999999999999999: out of range "
            "(allowed 0..2147483647)");
  EXPECT_EQ(load_error("net.ipv4.tcp_fin_timeout = -1"),
            "t.conf:1: net.ipv4.tcp_fin_timeout = -1: out of range (allowed 0..2147483647)");
}

TEST(ConfigErrors, ReuseDelayRangeIsLinuxs) {
  EXPECT_EQ(load_error("net.ipv4.tcp_tw_reuse_delay = 0"),
            "t.conf:1: net.ipv4.tcp_tw_reuse_delay = 0: out of range (allowed 1..60000)");
  EXPECT_FALSE(load_error("net.ipv4.tcp_tw_reuse_delay = 60001").empty());
  EXPECT_EQ(loaded("net.ipv4.tcp_tw_reuse_delay = 60000").tcp_tw_reuse_delay, 60000);
}

TEST(ConfigErrors, BoolKeysAcceptOnlyZeroOrOne) {
  EXPECT_EQ(load_error("net.ipv4.tcp_rfc1337 = 2"),
            "t.conf:1: net.ipv4.tcp_rfc1337 = 2: out of range (allowed 0..1)");
  EXPECT_EQ(load_error("twtcp.parity_split = yes"),
            "t.conf:1: twtcp.parity_split = yes: invalid value (allowed auto|0|1)");
}

TEST(ConfigErrors, PortRangeErrors) {
  EXPECT_EQ(load_error("net.ipv4.ip_local_port_range = 40000 39999"),
            "t.conf:1: net.ipv4.ip_local_port_range = 40000 39999: low port above high port "
            "(allowed two ports 1..65535, low <= high)");
  EXPECT_EQ(load_error("net.ipv4.ip_local_port_range = 40000"),
            "t.conf:1: net.ipv4.ip_local_port_range = 40000: expected two ports 'low high' "
            "(allowed two ports 1..65535, low <= high)");
  EXPECT_EQ(load_error("net.ipv4.ip_local_port_range = 0 100"),
            "t.conf:1: net.ipv4.ip_local_port_range = 0 100: out of range (allowed two ports "
            "1..65535, low <= high)");
  EXPECT_FALSE(load_error("net.ipv4.ip_local_port_range = 1 65536").empty());
  EXPECT_FALSE(load_error("net.ipv4.ip_local_port_range = 1 2 3").empty());
}

TEST(ConfigErrors, ReservedPortListErrors) {
  for (auto bad :
       {"8080,", ",8080", "8080,,9000", "9010-9000", "70000", "a-b", "-5", "1-2-3", "80 90"}) {
    Config c;
    auto r = apply_set(c, std::string("net.ipv4.ip_local_reserved_ports=") + bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_TRUE(r.message().starts_with("--set: net.ipv4.ip_local_reserved_ports = ")) << bad;
  }
}

TEST(ConfigErrors, BufferTriplesMustBeOrdered) {
  EXPECT_EQ(loaded("net.ipv4.tcp_rmem = 4096 87380 6291456").tcp_rmem,
            (BufSizes{4096, 87380, 6291456}));
  EXPECT_EQ(load_error("net.ipv4.tcp_wmem = 4096 1 4194304"),
            "t.conf:1: net.ipv4.tcp_wmem = 4096 1 4194304: not ordered (allowed three integers "
            "1..2147483647, min <= default <= max)");
}

TEST(ConfigErrors, EnumErrorsListChoices) {
  EXPECT_EQ(load_error("twtcp.kernel_model = 5.4"),
            "t.conf:1: twtcp.kernel_model = 5.4: invalid value (allowed 3.10|4.4|4.19|6.6|6.18)");
  EXPECT_EQ(load_error("twtcp.kernel_model = auto"),
            "t.conf:1: twtcp.kernel_model = auto: invalid value (allowed 3.10|4.4|4.19|6.6|6.18)");
}

TEST(ConfigErrors, TimerSlotsMustBePowersOfTwoFlowTableTakesAnySize) {
  EXPECT_EQ(load_error("twtcp.timer_slots = 1000"),
            "t.conf:1: twtcp.timer_slots = 1000: not a power of two (allowed "
            "64..1048576, a power of two)");
  EXPECT_EQ(loaded("twtcp.timer_slots = 256").timer_slots, 256);
  // The flow table sizes its bucket array by multiply-shift, so a capacity fitted to the
  // workload (11M slots for 10M TIME_WAIT + 1M connections) costs no rounding.
  EXPECT_EQ(loaded("twtcp.flow_table_capacity = 1000").flow_table_capacity, 1000);
  EXPECT_EQ(load_error("twtcp.flow_table_capacity = 15"),
            "t.conf:1: twtcp.flow_table_capacity = 15: out of range (allowed 16..67108864)");
}

TEST(ConfigTimer, LevelsDefaultToTwoAndTakeOneToFour) {
  EXPECT_EQ(Config{}.timer_levels, 2);
  EXPECT_EQ(loaded("twtcp.timer_levels = 1").timer_levels, 1);
  EXPECT_EQ(loaded("twtcp.timer_levels = 4\ntwtcp.timer_slots = 4096").timer_levels, 4);
  EXPECT_EQ(load_error("twtcp.timer_levels = 5"),
            "t.conf:1: twtcp.timer_levels = 5: out of range (allowed 1..4)");
  EXPECT_EQ(load_error("twtcp.timer_levels = 0"),
            "t.conf:1: twtcp.timer_levels = 0: out of range (allowed 1..4)");
}

TEST(ConfigTimer, SlotsTakeThePowersOfTwoTheWheelTakes) {
  EXPECT_EQ(loaded("twtcp.timer_slots = 64").timer_slots, 64);
  EXPECT_EQ(loaded("twtcp.timer_slots = 1048576").timer_slots, 1 << 20);
  EXPECT_EQ(load_error("twtcp.timer_slots = 32"),
            "t.conf:1: twtcp.timer_slots = 32: out of range (allowed 64..1048576, a power of two)");
  EXPECT_FALSE(load_error("twtcp.timer_slots = 2097152").empty());
}

TEST(ConfigTimer, WheelSpanAbove2To48TicksIsACrossKeyError) {
  Config c = loaded("twtcp.timer_slots = 65536\ntwtcp.timer_levels = 3\n");  // 2^48: fine
  EXPECT_TRUE(validate(c).ok()) << validate(c).message();
  ConfigLoader l;
  ASSERT_TRUE(
      l.load_string("twtcp.timer_slots = 1048576\ntwtcp.timer_levels = 3\n", "w.conf").ok());
  auto r = l.finish();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.key(), "twtcp.timer_levels");
  EXPECT_EQ(r.message(),
            "w.conf:2: twtcp.timer_levels = 3: twtcp.timer_slots^timer_levels is 2^60 ticks, "
            "above 2^48 (timer_slots is 1048576)");
  Config base;
  base.timer_levels = 4;  // not set by any source: the message names where the slots came from
  ConfigLoader only_slots(base);
  ASSERT_TRUE(only_slots.load_string("\ntwtcp.timer_slots = 8192\n", "s.conf").ok());
  EXPECT_TRUE(only_slots.finish().message().starts_with("s.conf:2: twtcp.timer_levels = 4: "))
      << only_slots.finish().message();
}

TEST(ConfigErrors, NonPrintableInputIsEscapedInMessages) {
  std::string text = "net.ipv4.tcp_fin_timeout = 1\x01\n";
  EXPECT_EQ(load_error(text),
            "t.conf:1: net.ipv4.tcp_fin_timeout = 1\\x01: not an integer (allowed 0..2147483647)");
}

TEST(ConfigErrors, FailedLineLeavesEarlierLinesApplied) {
  Config c;
  auto r = load_string(c, "net.ipv4.tcp_tw_reuse = 0\nnet.ipv4.tcp_fin_timeout = x\n", "t");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(c.tcp_tw_reuse, 0);
  EXPECT_EQ(c.tcp_fin_timeout, 60);
}

TEST(ConfigErrors, BadValueLeavesTheFieldAsItWas) {
  Config c = loaded("net.ipv4.ip_local_reserved_ports = 80\nnet.ipv4.ip_local_port_range = 5 6\n");
  EXPECT_FALSE(apply_set(c, "net.ipv4.ip_local_reserved_ports = 90,100,x").ok());
  EXPECT_FALSE(apply_set(c, "net.ipv4.ip_local_port_range = 7 x").ok());
  EXPECT_FALSE(apply_set(c, "net.ipv4.tcp_rmem = 1 2 0").ok());
  EXPECT_EQ(c.ip_local_reserved_ports, (std::vector<PortRange>{{80, 80}}));
  EXPECT_EQ(c.ip_local_port_range, (PortRange{5, 6}));
  EXPECT_EQ(c.tcp_rmem, Config{}.tcp_rmem);
}

TEST(ConfigErrors, MissingFileNamesThePath) {
  Config c;
  auto r = load_file(c, "/nonexistent/twtcp.conf");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(), "/nonexistent/twtcp.conf: cannot open: No such file or directory");
}

TEST(ConfigErrors, DirectoryIsNotAConfigFile) {
  Config c;
  auto r = load_file(c, kConfigs.string());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.message().starts_with(kConfigs.string() + ": cannot ")) << r.message();
}

// ---------------------------------------------------------------- --set

TEST(ConfigSet, OverridesAFileValue) {
  Config c = loaded("net.ipv4.tcp_tw_reuse = 0\n");
  ASSERT_TRUE(apply_set(c, "net.ipv4.tcp_tw_reuse=1").ok());
  EXPECT_EQ(c.tcp_tw_reuse, 1);
  ASSERT_TRUE(apply_set(c, " net.ipv4.ip_local_port_range = 1000 2000 ").ok());
  EXPECT_EQ(c.ip_local_port_range, (PortRange{1000, 2000}));
}

TEST(ConfigSet, ErrorsStartWithSetAndNameTheKey) {
  Config c;
  EXPECT_EQ(apply_set(c, "net.ipv4.tcp_tw_reuse").message(),
            "--set: missing '=' in 'net.ipv4.tcp_tw_reuse'");
  auto r = apply_set(c, "net.ipv4.tcp_tw_reuse=3");
  EXPECT_EQ(r.message(), "--set: net.ipv4.tcp_tw_reuse = 3: out of range (allowed 0..2)");
  EXPECT_EQ(r.key(), "net.ipv4.tcp_tw_reuse");
  EXPECT_EQ(apply_set(c, "twtcp.kernal_model=3.10").message(),
            "--set: unknown key 'twtcp.kernal_model' (did you mean 'twtcp.kernel_model'?)");
}

// ---------------------------------------------------------------- cross-key rules

TEST(ConfigValidate, RecycleRejectedWithModernModel) {
  Config c = loaded("net.ipv4.tcp_tw_recycle = 1\n");  // model 6.18 by default
  auto r = validate(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.key(), "net.ipv4.tcp_tw_recycle");
  EXPECT_EQ(r.message(),
            "net.ipv4.tcp_tw_recycle = 1: needs twtcp.kernel_model 3.10 or 4.4 (Linux removed "
            "tcp_tw_recycle in 4.12; kernel_model is 6.18)");
  for (auto model : {"4.19", "6.6"}) {
    Config m = c;
    ASSERT_TRUE(apply_set(m, std::string("twtcp.kernel_model=") + model).ok());
    EXPECT_FALSE(validate(m).ok()) << model;
  }
}

TEST(ConfigValidate, RecycleAllowedWithModels310And44) {
  for (auto model : {"3.10", "4.4"}) {
    Config c = loaded(std::string("twtcp.kernel_model = ") + model +
                      "\nnet.ipv4.tcp_tw_recycle = 1\nnet.ipv4.tcp_tw_reuse = 0\n");
    EXPECT_TRUE(validate(c).ok()) << model << ": " << validate(c).message();
  }
}

TEST(ConfigValidate, LoopbackOnlyReuseNeedsModel419) {
  Config c = loaded("twtcp.kernel_model = 3.10\n");  // tw_reuse keeps its 6.18 default 2
  auto r = validate(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.key(), "net.ipv4.tcp_tw_reuse");
  EXPECT_EQ(r.message(),
            "net.ipv4.tcp_tw_reuse = 2: loopback-only reuse needs twtcp.kernel_model 4.19 or "
            "later (kernel_model is 3.10; use 0 or 1)");
}

TEST(ConfigValidate, RtoBoundsMustNest) {
  Config c;
  c.rto_initial_ms = 100;
  EXPECT_EQ(validate(c).message(),
            "twtcp.rto_initial_ms = 100: outside twtcp.rto_min_ms..twtcp.rto_max_ms "
            "(200..120000)");
  c = Config{};
  c.rto_min_ms = 5000;
  c.rto_max_ms = 4000;
  EXPECT_EQ(validate(c).key(), "twtcp.rto_min_ms");
}

TEST(ConfigLoaderTest, CrossKeyErrorNamesFileAndLineOfOffendingKey) {
  ConfigLoader l;
  ASSERT_TRUE(l.load_string("# x\ntwtcp.kernel_model = 6.6\nnet.ipv4.tcp_tw_recycle = 1\n",
                            "configs/bad.conf")
                  .ok());
  auto r = l.finish();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(),
            "configs/bad.conf:3: net.ipv4.tcp_tw_recycle = 1: needs twtcp.kernel_model 3.10 or "
            "4.4 (Linux removed tcp_tw_recycle in 4.12; kernel_model is 6.6)");
  EXPECT_EQ(l.origin("net/ipv4/tcp_tw_recycle"), "configs/bad.conf:3");
  EXPECT_EQ(l.origin("net.ipv4.tcp_rfc1337"), "");
}

TEST(ConfigLoaderTest, CrossKeyErrorFallsBackToRelatedKeyOrigin) {
  ConfigLoader l;
  ASSERT_TRUE(l.apply_set("twtcp.kernel_model=3.10").ok());
  auto r = l.finish();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.message().starts_with("--set: net.ipv4.tcp_tw_reuse = 2: ")) << r.message();
}

TEST(ConfigLoaderTest, OrderOfSourcesDoesNotTripIntermediateStates) {
  // Setting the model first would be invalid on its own (reuse=2 on 4.4): only the end
  // state is validated.
  ConfigLoader l;
  ASSERT_TRUE(l.load_file((kConfigs / "linux-6.conf").string()).ok());
  ASSERT_TRUE(l.apply_set("twtcp.kernel_model=4.4").ok());
  ASSERT_TRUE(l.apply_set("net.ipv4.tcp_tw_reuse=0").ok());
  ASSERT_TRUE(l.apply_set("net.ipv4.tcp_tw_recycle=1").ok());
  EXPECT_TRUE(l.finish().ok()) << l.finish().message();
  EXPECT_TRUE(l.config().tcp_tw_recycle);
  EXPECT_EQ(l.origin("net.ipv4.tcp_tw_reuse"), "--set");
}

// ---------------------------------------------------------------- model-derived knobs

TEST(ConfigModel, ModelNamesAndOutOfRangeValue) {
  EXPECT_EQ(to_string(KernelModel::V3_10), "3.10");
  EXPECT_EQ(to_string(KernelModel::V6_18), "6.18");
  EXPECT_EQ(to_string(static_cast<KernelModel>(99)), "?");
}

TEST(ConfigModel, AllKernelModelsListsEveryModelOldestFirst) {
  ASSERT_EQ(std::size(kAllKernelModels), 5u);
  for (std::size_t i = 0; i < std::size(kAllKernelModels); ++i) {
    EXPECT_EQ(static_cast<std::size_t>(kAllKernelModels[i]), i);
    Config c;
    ASSERT_TRUE(
        apply_set(c, "twtcp.kernel_model = " + std::string(to_string(kAllKernelModels[i]))).ok());
    EXPECT_EQ(c.kernel_model, kAllKernelModels[i]);
  }
}

TEST(ConfigModel, Model310ResolvesToOldBehaviour) {
  Config c;
  c.kernel_model = KernelModel::V3_10;
  auto e = c.effective();
  EXPECT_EQ(e.reuse_time_rule, ReuseTimeRule::kSecGt1);
  EXPECT_EQ(e.oow_ack_ratelimit_ms, 0);
  EXPECT_EQ(e.paws_counter, PawsCounter::kPawsEstab);
  EXPECT_EQ(e.ts_offset, TsOffset::kNone);
  EXPECT_EQ(e.port_select, PortSelect::kAlg3);
  EXPECT_FALSE(e.parity_split);
  EXPECT_TRUE(e.rst_rearms_when_rfc1337);
  EXPECT_TRUE(e.recycle_syn_requires_ts);
  EXPECT_FALSE(e.reuse_skip_fin_wait2);
  EXPECT_EQ(e.paws_wrap_s, 24u * 24 * 3600);
}

TEST(ConfigModel, Model44DiffersFrom310InRatelimitAndRecycleSynCheck) {
  Config c;
  c.kernel_model = KernelModel::V4_4;
  auto e = c.effective();
  EXPECT_EQ(e.reuse_time_rule, ReuseTimeRule::kSecGt1);
  EXPECT_EQ(e.oow_ack_ratelimit_ms, 500);
  EXPECT_FALSE(e.recycle_syn_requires_ts);
  EXPECT_EQ(e.ts_offset, TsOffset::kNone);
}

TEST(ConfigModel, Model419UsesSecGt0PerHostOffsetsAndParity) {
  Config c;
  c.kernel_model = KernelModel::V4_19;
  auto e = c.effective();
  EXPECT_EQ(e.reuse_time_rule, ReuseTimeRule::kSecGt0);
  EXPECT_EQ(e.ts_offset, TsOffset::kPerHost);
  EXPECT_EQ(e.port_select, PortSelect::kAlg3);
  EXPECT_TRUE(e.parity_split);
  EXPECT_FALSE(e.rst_rearms_when_rfc1337);
}

TEST(ConfigModel, Model66HasAlg4And24DayPawsWrap) {
  Config c;
  c.kernel_model = KernelModel::V6_6;
  auto e = c.effective();
  EXPECT_EQ(e.paws_wrap_s, 2073600u);
  EXPECT_EQ(e.port_select, PortSelect::kAlg4Perturb);
  EXPECT_EQ(e.paws_counter, PawsCounter::kPawsEstab);
  EXPECT_EQ(e.reuse_time_rule, ReuseTimeRule::kSecGt0);
  EXPECT_FALSE(e.reuse_skip_fin_wait2);
}

TEST(ConfigModel, Model618ResolvesToTodaysBehaviour) {
  auto e = Config{}.effective();
  EXPECT_EQ(e.kernel_model, KernelModel::V6_18);
  EXPECT_EQ(e.reuse_time_rule, ReuseTimeRule::kMsDelay);
  EXPECT_EQ(e.paws_counter, PawsCounter::kPawsTimewait);
  EXPECT_EQ(e.ts_offset, TsOffset::kPerConn);
  EXPECT_EQ(e.paws_wrap_s, 2147u);
  EXPECT_EQ(e.oow_ack_ratelimit_ms, 500);
  EXPECT_TRUE(e.reuse_skip_fin_wait2);
  EXPECT_EQ(e.port_select, PortSelect::kAlg4Perturb);
  EXPECT_EQ(e, model_defaults(KernelModel::V6_18));
}

TEST(ConfigModel, ExplicitSettingOverridesModel) {
  Config c = loaded(
      "twtcp.kernel_model = 3.10\n"
      "twtcp.reuse_time_rule = ms_delay\n"
      "twtcp.ts_offset = per_conn\n"
      "twtcp.paws_wrap_s = 2147\n"
      "twtcp.oow_ack_ratelimit = 1\n"
      "twtcp.parity_split = 1\n"
      "twtcp.paws_counter = PAWSTimewait\n");
  auto e = c.effective();
  EXPECT_EQ(e.reuse_time_rule, ReuseTimeRule::kMsDelay);
  EXPECT_EQ(e.ts_offset, TsOffset::kPerConn);
  EXPECT_EQ(e.paws_wrap_s, 2147u);
  EXPECT_EQ(e.oow_ack_ratelimit_ms, 500);
  EXPECT_TRUE(e.parity_split);
  EXPECT_EQ(e.paws_counter, PawsCounter::kPawsTimewait);
  // Untouched knobs still follow the model.
  EXPECT_EQ(e.port_select, PortSelect::kAlg3);
  Config modern = loaded("twtcp.oow_ack_ratelimit = 0\n");
  EXPECT_EQ(modern.effective().oow_ack_ratelimit_ms, 0);
}

TEST(ConfigModel, TimestampsOtherThanOneMeanNoOffsets) {
  Config c = loaded("net.ipv4.tcp_timestamps = 2\ntwtcp.ts_offset = per_conn\n");
  EXPECT_EQ(c.effective().ts_offset, TsOffset::kNone);
  c.tcp_timestamps = 0;
  EXPECT_EQ(c.effective().ts_offset, TsOffset::kNone);
}

TEST(ConfigModel, RatelimitFollowsInvalidRatelimitSysctl) {
  Config c = loaded("net.ipv4.tcp_invalid_ratelimit = 250\n");
  EXPECT_EQ(c.effective().oow_ack_ratelimit_ms, 250);
}

// ---------------------------------------------------------------- printing

TEST(ConfigFormat, RoundTripOfDefaultsIsIdentical) {
  Config c;
  std::string text = format(c);
  Config back;
  back.tcp_fin_timeout = 1;  // proves format() prints every key
  back.ts_offset = TsOffset::kPerHost;
  auto r = load_string(back, text, "formatted");
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(back, c);
}

TEST(ConfigFormat, RoundTripOfChangedConfigIsIdentical) {
  Config c = loaded(
      "twtcp.kernel_model = 4.4\nnet.ipv4.tcp_tw_recycle = 1\nnet.ipv4.tcp_tw_reuse = 1\n"
      "net.ipv4.ip_local_reserved_ports = 1-5,8080,65535\nnet.ipv4.ip_local_port_range = 2 3\n"
      "twtcp.ts_offset = per_host\ntwtcp.parity_split = 1\ntwtcp.random_seed = 42\n"
      "net.ipv4.tcp_rmem = 1 2 3\ntwtcp.paws_wrap_s = 7\n");
  Config back;
  ASSERT_TRUE(load_string(back, format(c), "formatted").ok());
  EXPECT_EQ(back, c);
  EXPECT_EQ(format(back), format(c));
}

TEST(ConfigFormat, PrintsEveryKeyOnceWithDocAndAutoResolution) {
  std::string text = format(Config{});
  for (const auto& k : list_keys()) {
    std::string line = "\n" + std::string(k.name) + " = ";
    auto pos = text.find(line);
    EXPECT_NE(pos, std::string::npos) << k.name;
    EXPECT_EQ(text.find(line, pos + 1), std::string::npos) << k.name;
  }
  EXPECT_NE(text.find("\nnet.ipv4.tcp_tw_reuse = 2\n"), std::string::npos);
  EXPECT_NE(text.find("\nnet.ipv4.ip_local_port_range = 32768\t60999\n"), std::string::npos);
  EXPECT_NE(text.find("# auto = ms_delay for kernel_model 6.18\ntwtcp.reuse_time_rule = auto\n"),
            std::string::npos);
  EXPECT_NE(text.find("# auto = 1 (500 ms) for kernel_model 6.18\ntwtcp.oow_ack_ratelimit"),
            std::string::npos);
  EXPECT_NE(text.find("# allowed: 0..2; default: 2\nnet.ipv4.tcp_tw_reuse"), std::string::npos);
}

// ---------------------------------------------------------------- presets

std::vector<std::filesystem::path> presets() {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(kConfigs)) {
    if (e.path().extension() == ".conf") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ConfigPresets, AllSixPresetsExist) {
  for (auto name : {"linux-3.10.conf", "linux-3.10-reuse.conf", "linux-3.10-recycle.conf",
                    "linux-6.conf", "no-timewait.conf", "loadgen.conf"}) {
    EXPECT_TRUE(std::filesystem::exists(kConfigs / name)) << name;
  }
}

TEST(ConfigPresets, EveryPresetLoadsValidatesAndRoundTrips) {
  auto files = presets();
  ASSERT_GE(files.size(), 6u);
  for (const auto& p : files) {
    ConfigLoader l;
    auto r = l.load_file(p.string());
    ASSERT_TRUE(r.ok()) << r.message();
    r = l.finish();
    EXPECT_TRUE(r.ok()) << p << ": " << r.message();
    Config back;
    ASSERT_TRUE(load_string(back, format(l.config()), "formatted").ok()) << p;
    EXPECT_EQ(back, l.config()) << p;
  }
}

TEST(ConfigPresets, EveryPresetStartsWithAHeaderNamingItsModel) {
  for (const auto& p : presets()) {
    std::ifstream in(p);
    std::string first, header, line;
    std::getline(in, first);
    EXPECT_TRUE(first.starts_with("# " + p.filename().string() + ": ")) << p;
    header = first + "\n";
    while (std::getline(in, line) && line.starts_with("#")) header += line + "\n";
    const bool says_what = header.find("# Reproduces") != std::string::npos ||
                           header.find("recommend") != std::string::npos;
    EXPECT_TRUE(says_what) << p;
    EXPECT_NE(header.find("kernel_model"), std::string::npos) << p;
  }
}

Config preset(const char* name) {
  Config c;
  auto r = load_file(c, (kConfigs / name).string());
  EXPECT_TRUE(r.ok()) << r.message();
  return c;
}

TEST(ConfigPresets, Linux310HasNoReuseNoRecycleAndNoTsOffsets) {
  Config c = preset("linux-3.10.conf");
  EXPECT_EQ(c.kernel_model, KernelModel::V3_10);
  EXPECT_EQ(c.tcp_tw_reuse, 0);
  EXPECT_FALSE(c.tcp_tw_recycle);
  EXPECT_EQ(c.tcp_timestamps, 1);
  EXPECT_EQ(c.effective().ts_offset, TsOffset::kNone);
  EXPECT_EQ(c.ip_local_port_range, (PortRange{32768, 61000}));
}

TEST(ConfigPresets, Linux310ReuseAndRecycleVariants) {
  Config reuse = preset("linux-3.10-reuse.conf");
  EXPECT_EQ(reuse.tcp_tw_reuse, 1);
  EXPECT_FALSE(reuse.tcp_tw_recycle);
  EXPECT_EQ(reuse.effective().reuse_time_rule, ReuseTimeRule::kSecGt1);
  Config recycle = preset("linux-3.10-recycle.conf");
  EXPECT_TRUE(recycle.tcp_tw_recycle);
  EXPECT_EQ(recycle.tcp_tw_reuse, 0);
  EXPECT_EQ(recycle.kernel_model, KernelModel::V3_10);
}

TEST(ConfigPresets, Linux6EqualsBuiltInDefaults) {
  Config c = preset("linux-6.conf");
  EXPECT_EQ(c, Config{});
}

TEST(ConfigPresets, NoTimewaitHasZeroBuckets) {
  EXPECT_EQ(preset("no-timewait.conf").tcp_max_tw_buckets, 0);
}

TEST(ConfigPresets, LoadgenReusesEverywhereWithWideRange) {
  Config c = preset("loadgen.conf");
  EXPECT_EQ(c.tcp_tw_reuse, 1);
  EXPECT_EQ(c.tcp_timestamps, 1);
  EXPECT_EQ(c.ip_local_port_range, (PortRange{1024, 65535}));
  EXPECT_EQ(c.kernel_model, KernelModel::V6_18);
}

}  // namespace
}  // namespace twtcp

// The presets compiled into the library are exactly the files in configs/, byte for byte, so
// a program that loads "linux-3.10-recycle" by name gets what the user reads in the file.
namespace twtcp {
namespace {
TEST(EmbeddedPresets, MatchConfigsDirectory) {
  std::set<std::string> on_disk;
  for (const auto& e : std::filesystem::directory_iterator(kConfigs)) {
    if (e.path().extension() == ".conf") on_disk.insert(e.path().stem().string());
  }
  std::set<std::string> embedded;
  for (const Preset& p : twtcp::presets()) {
    embedded.insert(std::string(p.name));
    std::ifstream in(kConfigs / (std::string(p.name) + ".conf"), std::ios::binary);
    const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(file, p.text) << p.name;
    Config c;
    EXPECT_TRUE(load_string(c, p.text, p.name).ok()) << p.name;
    EXPECT_TRUE(validate(c).ok()) << p.name;
  }
  EXPECT_EQ(on_disk, embedded) << "add new configs/*.conf files to lib/config/meson.build";
  ASSERT_NE(find_preset("linux-3.10-recycle"), nullptr);
  EXPECT_EQ(find_preset("linux-3.10-recycle")->name, "linux-3.10-recycle");
  EXPECT_EQ(find_preset("no-such-preset"), nullptr);
}
}  // namespace
}  // namespace twtcp
