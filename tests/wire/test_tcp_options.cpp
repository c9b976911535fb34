#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "wire/tcp.hpp"

namespace twtcp::wire {
namespace {

using Bytes = std::vector<std::uint8_t>;

Parsed<TcpOptions> parse(const Bytes& b) {
  return parse_tcp_options(b);
}

TEST(TcpOptions, EmptyListHasNoOptions) {
  auto r = parse({});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, TcpOptions{});
}

TEST(TcpOptions, LinuxSynLayoutParsesAllFour) {
  const Bytes b = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 9, 0, 0, 0, 0, 1, 3, 3, 7};
  auto r = parse(b);
  ASSERT_TRUE(r.ok()) << r.why();
  EXPECT_EQ(r->mss, 1460);
  EXPECT_EQ(r->wscale, 7);
  EXPECT_TRUE(r->sack_permitted);
  ASSERT_TRUE(r->ts.has_value());
  EXPECT_EQ(r->ts->tsval, 9u);
  EXPECT_EQ(r->ts->tsecr, 0u);
}

TEST(TcpOptions, NopsAreSkipped) {
  auto r = parse({1, 1, 1, 8, 10, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1});
  ASSERT_TRUE(r.ok()) << r.why();
  EXPECT_EQ(r->ts, (TcpTimestamps{0xffffffffu, 1}));
}

TEST(TcpOptions, EolEndsTheListAndTrailingGarbageIsIgnored) {
  // After EOL even a would-be malformed option is padding and must not be read.
  auto r = parse({2, 4, 0x02, 0x18, 0, 0, 0xff, 0});
  ASSERT_TRUE(r.ok()) << r.why();
  EXPECT_EQ(r->mss, 536);
}

TEST(TcpOptions, UnknownOptionsAreSkippedByLength) {
  const Bytes b = {1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2, 254, 4, 0xab, 0xcd, 3, 3, 14, 0};
  auto r = parse(b);
  ASSERT_TRUE(r.ok()) << r.why();
  EXPECT_EQ(r->wscale, 14);
  EXPECT_FALSE(r->mss);
  EXPECT_EQ(r->sack_count, 1u);  // kind 5 is known now (tests/wire/test_tcp_sack.cpp)
}

TEST(TcpOptions, WindowScaleAbove14IsReportedRaw) {
  auto r = parse({3, 3, 200, 0});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->wscale, 200);
}

TEST(TcpOptions, LengthZeroIsRejected) {
  auto r = parse({1, 254, 0, 0});
  EXPECT_EQ(r.error, ParseError::kTcpOptionLengthTooSmall);
  EXPECT_STREQ(r.why(), "tcp option: length 0 or 1");
}

TEST(TcpOptions, LengthOneIsRejected) {
  EXPECT_EQ(parse({254, 1, 0, 0}).error, ParseError::kTcpOptionLengthTooSmall);
  EXPECT_EQ(parse({2, 1, 0, 0}).error, ParseError::kTcpOptionLengthTooSmall);
}

TEST(TcpOptions, MissingLengthByteIsRejected) {
  EXPECT_EQ(parse({1, 1, 1, 2}).error, ParseError::kTcpOptionPastHeader);
  EXPECT_EQ(parse({8}).error, ParseError::kTcpOptionPastHeader);
}

TEST(TcpOptions, OptionRunningPastHeaderIsRejected) {
  EXPECT_EQ(parse({8, 10, 0, 0, 0, 0, 0, 0}).error, ParseError::kTcpOptionPastHeader);
  EXPECT_EQ(parse({1, 254, 40, 0}).error, ParseError::kTcpOptionPastHeader);
  EXPECT_EQ(parse({2, 4, 5}).error, ParseError::kTcpOptionPastHeader);
}

TEST(TcpOptions, OptionEndingExactlyAtHeaderEndIsAccepted) {
  EXPECT_TRUE(parse({1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}).ok());
  EXPECT_TRUE(parse({254, 2}).ok());
}

TEST(TcpOptions, DuplicateTimestampsAreRejected) {
  const Bytes b = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 8, 10, 0, 0, 0, 2, 0, 0, 0, 0};
  auto r = parse(b);
  EXPECT_EQ(r.error, ParseError::kTcpOptionDuplicate);
  EXPECT_NE(std::strstr(r.why(), "duplicate"), nullptr);
}

TEST(TcpOptions, DuplicateMssWindowScaleOrSackPermittedAreRejected) {
  EXPECT_EQ(parse({2, 4, 1, 0, 2, 4, 2, 0}).error, ParseError::kTcpOptionDuplicate);
  EXPECT_EQ(parse({3, 3, 1, 3, 3, 2, 0, 0}).error, ParseError::kTcpOptionDuplicate);
  EXPECT_EQ(parse({4, 2, 4, 2}).error, ParseError::kTcpOptionDuplicate);
}

TEST(TcpOptions, WrongFixedLengthsAreRejected) {
  EXPECT_EQ(parse({2, 3, 5, 0}).error, ParseError::kTcpOptionBadLength);              // MSS 3
  EXPECT_EQ(parse({2, 6, 0, 0, 0, 0, 0, 0}).error, ParseError::kTcpOptionBadLength);  // MSS 6
  EXPECT_EQ(parse({3, 2, 0, 0}).error, ParseError::kTcpOptionBadLength);              // WS 2
  EXPECT_EQ(parse({3, 4, 7, 0}).error, ParseError::kTcpOptionBadLength);              // WS 4
  EXPECT_EQ(parse({4, 3, 0, 0}).error, ParseError::kTcpOptionBadLength);              // SACKOK 3
  EXPECT_EQ(parse({8, 8, 0, 0, 0, 0, 0, 0}).error, ParseError::kTcpOptionBadLength);  // TS 8
  EXPECT_EQ(parse({8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}).error,
            ParseError::kTcpOptionBadLength);  // TS 12
}

TEST(TcpOptions, EveryErrorHasAReason) {
  for (int e = 0; e <= static_cast<int>(ParseError::kTcpOptionDuplicate); ++e) {
    const char* r = reason(static_cast<ParseError>(e));
    ASSERT_NE(r, nullptr);
    EXPECT_GT(std::strlen(r), 1u);
  }
}

TEST(TcpOptions, EveryPrefixOfAValidListIsHandledWithoutOverread) {
  // Each prefix lives in its own exact-size heap buffer so ASan flags any over-read.
  const Bytes full = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 9, 0, 0, 0, 0, 1, 3, 3, 7};
  for (std::size_t n = 0; n <= full.size(); ++n) {
    const Bytes prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    auto r = parse(prefix);
    const bool ends_on_boundary = n == 0 || n == 4 || n == 6 || n == 16 || n == 17 || n == 20;
    EXPECT_EQ(r.ok(), ends_on_boundary) << "prefix " << n << ": " << r.why();
  }
}

TEST(TcpOptions, WriteThenParseRoundTripsEveryCombination) {
  for (int mask = 0; mask < 16; ++mask) {
    TcpOptions o;
    if (mask & 1) o.mss = 1460;
    if (mask & 2) o.wscale = 9;
    if (mask & 4) o.sack_permitted = true;
    if (mask & 8) o.ts = TcpTimestamps{0x80000001u, 0xfffffffeu};
    std::uint8_t buf[kTcpMaxOptionsLen];
    const std::size_t n = write_tcp_options(buf, o);
    EXPECT_EQ(n, tcp_options_length(o));
    EXPECT_EQ(n % 4, 0u);
    EXPECT_LE(n, 20u);
    auto r = parse_tcp_options(std::span<const std::uint8_t>(buf, n));
    ASSERT_TRUE(r.ok()) << "mask " << mask << ": " << r.why();
    EXPECT_EQ(*r, o) << "mask " << mask;
  }
}

TEST(TcpOptions, WriterUsesLinuxSynLayout) {
  TcpOptions o;
  o.mss = 1460;
  o.sack_permitted = true;
  o.ts = TcpTimestamps{9, 0};
  o.wscale = 7;
  std::uint8_t buf[20];
  ASSERT_EQ(write_tcp_options(buf, o), 20u);
  const Bytes expect = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 9, 0, 0, 0, 0, 1, 3, 3, 7};
  EXPECT_EQ(Bytes(buf, buf + 20), expect);
}

TEST(TcpOptions, WriterRefusesTooSmallBuffer) {
  TcpOptions o;
  o.ts = TcpTimestamps{1, 2};
  std::uint8_t buf[12] = {};
  EXPECT_EQ(write_tcp_options(std::span<std::uint8_t>(buf, 11), o), 0u);
  EXPECT_EQ(buf[0], 0);  // nothing written
}

}  // namespace
}  // namespace twtcp::wire
