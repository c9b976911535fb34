#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "ports/port_set.hpp"
#include "twtcp/config.hpp"

namespace twtcp::ports {
namespace {

TEST(PortSet, FromRangesHoldsEveryPortOfEveryRange) {
  const std::vector<PortRange> ranges{{9000, 9010}, {8080, 8080}, {9005, 9011}, {65535, 65535}};
  const PortSet s = PortSet::from_ranges(ranges);
  EXPECT_EQ(s.size(), 14U);
  EXPECT_TRUE(s.contains(8080));
  EXPECT_TRUE(s.contains(9000));
  EXPECT_TRUE(s.contains(9011));
  EXPECT_TRUE(s.contains(65535));
  EXPECT_FALSE(s.contains(8081));
  EXPECT_FALSE(s.contains(9012));
  EXPECT_TRUE(PortSet::from_ranges({}).empty());
}

TEST(PortSet, FromParsedReservedListMatchesConfigLookup) {
  Config c;
  ASSERT_TRUE(apply_set(c, "net.ipv4.ip_local_reserved_ports = 0,8080,9000-9010,65535").ok());
  const PortSet s = PortSet::from_ranges(c.ip_local_reserved_ports);
  for (std::uint32_t p = 0; p <= 65535; ++p) {
    ASSERT_EQ(s.contains(static_cast<std::uint16_t>(p)),
              c.is_reserved_port(static_cast<std::uint16_t>(p)))
        << p;
  }
}

TEST(PortSet, WholePortSpaceIsRepresentable) {
  const PortSet s = PortSet::from_ranges(parse_port_list("0-65535").ranges);
  EXPECT_EQ(s.size(), 65536U);
}

TEST(PortSet, InsertEraseAndReversedRangeInsertsNothing) {
  PortSet s;
  s.insert_range(10, 5);
  EXPECT_TRUE(s.empty());
  s.insert(65535);
  EXPECT_TRUE(s.contains(65535));
  s.erase(65535);
  EXPECT_TRUE(s.empty());
}

}  // namespace
}  // namespace twtcp::ports
