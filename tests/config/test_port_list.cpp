// Tests for the net.ipv4.ip_local_reserved_ports list syntax: parse_port_list() and
// format_port_list(), the one parser/printer lib/config and lib/ports share.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "twtcp/config.hpp"

namespace twtcp {
namespace {

std::size_t port_count(const std::vector<PortRange>& ranges) {
  std::size_t n = 0;
  for (const PortRange& r : ranges) n += std::size_t{r.high} - r.low + 1;
  return n;
}

bool contains(const std::vector<PortRange>& ranges, std::uint16_t port) {
  for (const PortRange& r : ranges) {
    if (r.low <= port && port <= r.high) return true;
  }
  return false;
}

TEST(ParsePortList, AcceptsLinuxListOfPortsAndRanges) {
  const PortListParse r = parse_port_list("8080,9000-9010");
  ASSERT_TRUE(r.ok()) << r.why();
  EXPECT_EQ(port_count(r.ranges), 12U);
  EXPECT_TRUE(contains(r.ranges, 8080));
  EXPECT_TRUE(contains(r.ranges, 9000));
  EXPECT_TRUE(contains(r.ranges, 9010));
  EXPECT_FALSE(contains(r.ranges, 9011));
  EXPECT_FALSE(contains(r.ranges, 8081));
}

TEST(ParsePortList, EmptyOrBlankInputClearsTheSet) {
  for (const char* text : {"", "\n", "  \t", " \n"}) {
    const PortListParse r = parse_port_list(text);
    ASSERT_TRUE(r.ok()) << '"' << text << "\": " << r.why();
    EXPECT_TRUE(r.ranges.empty());
  }
}

TEST(ParsePortList, AcceptsBlanksAroundTokensAndTrailingNewline) {
  const PortListParse r = parse_port_list(" 1 , 2 - 3,65535\n");
  ASSERT_TRUE(r.ok()) << r.why();
  EXPECT_EQ(port_count(r.ranges), 4U);
  EXPECT_TRUE(contains(r.ranges, 65535));
}

TEST(ParsePortList, WholePortSpaceIsRepresentable) {
  const PortListParse r = parse_port_list("0-65535");
  ASSERT_TRUE(r.ok()) << r.why();
  EXPECT_EQ(port_count(r.ranges), 65536U);
  EXPECT_EQ(r.ranges, (std::vector<PortRange>{{0, 65535}}));
}

TEST(ParsePortList, RangesComeOutSortedAndMerged) {
  const PortListParse r = parse_port_list("9000-9010, 8080,9011,100-200,150,201");
  ASSERT_TRUE(r.ok()) << r.why();
  EXPECT_EQ(r.ranges, (std::vector<PortRange>{{100, 201}, {8080, 8080}, {9000, 9011}}));
}

struct BadList {
  const char* text;
  PortListError error;
  std::size_t offset;
};

TEST(ParsePortList, RejectsMalformedListsWithReasonAndOffset) {
  const BadList cases[] = {
      {"a", PortListError::kExpectedNumber, 0},
      {"-5", PortListError::kExpectedNumber, 0},
      {"1,", PortListError::kExpectedNumber, 2},
      {",1", PortListError::kExpectedNumber, 0},
      {"1,,2", PortListError::kExpectedNumber, 2},
      {"1-", PortListError::kExpectedNumber, 2},
      {"65536", PortListError::kNumberTooLarge, 4},
      {"99999999999999999999", PortListError::kNumberTooLarge, 4},
      {"10-5", PortListError::kReversedRange, 3},
      {"1;2", PortListError::kUnexpectedChar, 1},
      {"1 2", PortListError::kUnexpectedChar, 2},
      {"1\n\n", PortListError::kUnexpectedChar, 1},
      {"1-2-3", PortListError::kUnexpectedChar, 3},
  };
  for (const BadList& c : cases) {
    const PortListParse r = parse_port_list(c.text);
    EXPECT_EQ(r.error, c.error) << '"' << c.text << '"';
    EXPECT_EQ(r.error_offset, c.offset) << '"' << c.text << '"';
    EXPECT_TRUE(r.ranges.empty()) << '"' << c.text << '"';
    EXPECT_FALSE(r.why().empty());
    EXPECT_NE(r.why(), "ok");
  }
}

TEST(ParsePortList, EveryErrorHasItsOwnReason) {
  const PortListError all[] = {PortListError::kExpectedNumber, PortListError::kNumberTooLarge,
                               PortListError::kReversedRange, PortListError::kUnexpectedChar};
  for (std::size_t i = 0; i < std::size(all); ++i) {
    for (std::size_t j = i + 1; j < std::size(all); ++j)
      EXPECT_NE(to_string(all[i]), to_string(all[j]));
  }
  EXPECT_EQ(to_string(PortListError::kOk), "ok");
}

TEST(FormatPortList, CollapsesRangesInAscendingOrder) {
  const PortListParse r = parse_port_list("9000-9010,8080,65535,65534,1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(format_port_list(r.ranges), "1,8080,9000-9010,65534-65535");
  EXPECT_EQ(format_port_list({}), "");
}

TEST(FormatPortList, RoundTripsThroughTheParser) {
  const std::vector<PortRange> ranges{{0, 0}, {100, 200}, {300, 300}};
  const PortListParse r = parse_port_list(format_port_list(ranges));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.ranges, ranges);
}

// The config key uses the same parser and reports its reason and offset.
TEST(ReservedPortsKey, ErrorsCarryTheParserReasonAndOffset) {
  Config c;
  auto r = apply_set(c, "net.ipv4.ip_local_reserved_ports = 80,70000");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(),
            "--set: net.ipv4.ip_local_reserved_ports = 80,70000: port number above 65535 at "
            "offset 7 (allowed comma-separated ports or low-high ranges in 0..65535)");
  EXPECT_EQ(r.key(), "net.ipv4.ip_local_reserved_ports");
}

TEST(ReservedPortsKey, PortZeroIsAcceptedAsLinuxBitmapDoes) {
  Config c;
  ASSERT_TRUE(apply_set(c, "net.ipv4.ip_local_reserved_ports = 0").ok());
  EXPECT_TRUE(c.is_reserved_port(0));
  EXPECT_FALSE(c.is_reserved_port(1));
}

}  // namespace
}  // namespace twtcp
