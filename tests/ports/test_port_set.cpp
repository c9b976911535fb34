#include <gtest/gtest.h>

#include "ports/port_set.hpp"

namespace twtcp::ports {
namespace {

TEST(ParseReservedPorts, AcceptsLinuxListOfPortsAndRanges) {
  const PortListParse r = parse_reserved_ports("8080,9000-9010");
  ASSERT_TRUE(r.ok()) << r.why();
  EXPECT_EQ(r.ports.size(), 12U);
  EXPECT_TRUE(r.ports.contains(8080));
  EXPECT_TRUE(r.ports.contains(9000));
  EXPECT_TRUE(r.ports.contains(9010));
  EXPECT_FALSE(r.ports.contains(9011));
  EXPECT_FALSE(r.ports.contains(8081));
}

TEST(ParseReservedPorts, EmptyOrBlankInputClearsTheSet) {
  for (const char* text : {"", "\n", "  \t", " \n"}) {
    const PortListParse r = parse_reserved_ports(text);
    ASSERT_TRUE(r.ok()) << '"' << text << "\": " << r.why();
    EXPECT_TRUE(r.ports.empty());
  }
}

TEST(ParseReservedPorts, AcceptsBlanksAroundTokensAndTrailingNewline) {
  const PortListParse r = parse_reserved_ports(" 1 , 2 - 3,65535\n");
  ASSERT_TRUE(r.ok()) << r.why();
  EXPECT_EQ(r.ports.size(), 4U);
  EXPECT_TRUE(r.ports.contains(65535));
}

TEST(ParseReservedPorts, WholePortSpaceIsRepresentable) {
  const PortListParse r = parse_reserved_ports("0-65535");
  ASSERT_TRUE(r.ok()) << r.why();
  EXPECT_EQ(r.ports.size(), 65536U);
}

struct BadList {
  const char* text;
  PortListError error;
  std::size_t offset;
};

TEST(ParseReservedPorts, RejectsMalformedListsWithReasonAndOffset) {
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
  };
  for (const BadList& c : cases) {
    const PortListParse r = parse_reserved_ports(c.text);
    EXPECT_EQ(r.error, c.error) << '"' << c.text << '"';
    EXPECT_EQ(r.error_offset, c.offset) << '"' << c.text << '"';
    EXPECT_TRUE(r.ports.empty()) << '"' << c.text << '"';
    EXPECT_STRNE(r.why(), "");
  }
}

TEST(FormatPortList, CollapsesRangesInAscendingOrder) {
  const PortListParse r = parse_reserved_ports("9000-9010,8080,65535,65534,1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(format_port_list(r.ports), "1,8080,9000-9010,65534-65535");
  EXPECT_EQ(format_port_list(PortSet{}), "");
}

TEST(FormatPortList, RoundTripsThroughTheParser) {
  PortSet s;
  s.insert(0);
  s.insert_range(100, 200);
  s.insert(300);
  const PortListParse r = parse_reserved_ports(format_port_list(s));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.ports, s);
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
