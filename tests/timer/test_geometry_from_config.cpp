// geometry_from_config(): the wheel a twtcp::Config describes, and the agreement between
// config's checks of twtcp.timer_* and WheelGeometry::validate().
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "timer/wheel.hpp"
#include "twtcp/config.hpp"

namespace twtcp::timer {
namespace {

// Whether lib/config accepts these values: each key on its own, then the cross-key rules.
bool config_accepts(Config& c, std::int64_t tick_us, std::int64_t slots, std::int64_t levels) {
  return apply_set(c, "twtcp.timer_tick_us=" + std::to_string(tick_us)).ok() &&
         apply_set(c, "twtcp.timer_slots=" + std::to_string(slots)).ok() &&
         apply_set(c, "twtcp.timer_levels=" + std::to_string(levels)).ok() && validate(c).ok();
}

TEST(GeometryFromConfig, DefaultsAreTheWheelDefaultsAndValidate) {
  const WheelGeometry g = geometry_from_config(Config{});
  EXPECT_EQ(g, WheelGeometry{});
  EXPECT_EQ(g.validate(), nullptr);
  TimerWheel w(g, 0);  // does not throw
  EXPECT_EQ(w.size(), 0u);
}

TEST(GeometryFromConfig, CopiesTheThreeKeys) {
  Config c;
  ASSERT_TRUE(config_accepts(c, 250, 256, 3));
  const WheelGeometry g = geometry_from_config(c);
  EXPECT_EQ(g.tick_us, 250u);
  EXPECT_EQ(g.slots, 256u);
  EXPECT_EQ(g.levels, 3u);
}

// Every (slots, levels) the wheel takes, config takes, and the other way round; so the
// config's range for timer_slots (64..2^20, powers of two) is exactly validate()'s.
TEST(GeometryFromConfig, ConfigAcceptsExactlyTheSlotsAndLevelsValidateAccepts) {
  std::vector<std::int64_t> slot_values{0, 1, 48, 100, 1000, 4095, 4097, (1 << 20) + 1};
  for (int b = 0; b <= 22; ++b) slot_values.push_back(std::int64_t{1} << b);
  int accepted = 0;
  for (std::int64_t slots : slot_values) {
    for (std::int64_t levels = 0; levels <= 5; ++levels) {
      Config c;
      const bool by_config = config_accepts(c, 1000, slots, levels);
      const WheelGeometry g{1000, static_cast<std::uint32_t>(slots),
                            static_cast<std::uint32_t>(levels)};
      const bool by_wheel = g.validate() == nullptr;
      EXPECT_EQ(by_config, by_wheel) << "slots " << slots << " levels " << levels << ": "
                                     << (by_wheel ? "config rejects" : g.validate());
      if (by_config) {
        EXPECT_EQ(geometry_from_config(c), g);
        ++accepted;
      }
    }
  }
  EXPECT_GT(accepted, 40);
}

// timer_tick_us: config's range (1..1000000 us) is a subset of what the wheel takes (>= 1).
TEST(GeometryFromConfig, EveryValidTickGivesAValidGeometry) {
  for (std::int64_t tick : {std::int64_t{0}, std::int64_t{1}, std::int64_t{7}, std::int64_t{1000},
                            std::int64_t{999999}, std::int64_t{1000000}, std::int64_t{1000001}}) {
    Config c;
    const bool by_config = config_accepts(c, tick, 4096, 2);
    EXPECT_EQ(by_config, tick >= 1 && tick <= 1000000) << tick;
    if (by_config) {
      EXPECT_EQ(geometry_from_config(c).validate(), nullptr) << tick;
    }
  }
}

TEST(GeometryFromConfig, NegativeValuesSetInCodeAreRejectedByValidate) {
  Config c;
  c.timer_levels = -1;
  EXPECT_NE(geometry_from_config(c).validate(), nullptr);
}

}  // namespace
}  // namespace twtcp::timer
